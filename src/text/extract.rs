//! Extraction of the things abuse hides behind: URLs (with their host and registrable domain),
//! phone numbers and email addresses.
//!
//! Reads the folded form of a message (see `normalize`), so hosts are already lowercase and free
//! of lookalike characters. Defanged URLs (`hxxp://`, `example[.]com`) are re-armed first: a
//! phisher who defangs a link still wants it followed. Matches are kept as byte ranges into one
//! reused buffer, so a message with no URL, phone or email allocates nothing.
//!
//! A bare domain without a scheme (`paypa1-secure.com`) counts only when it has a path or port,
//! or when its top-level domain is one that ordinary texts do not produce by accident: chat
//! writing often drops the space after a full stop (`at home.how are you`), and `.how`, `.now`
//! and `.me` are real top-level domains.

use std::ops::Range;
use std::sync::LazyLock;

use memchr::{memchr, memchr_iter, memchr3, memmem};

/// URLs, phone numbers and emails found in one message. Reuse one per worker.
#[derive(Debug, Default, Clone)]
pub struct Extracted {
    /// The folded text with defanged URLs re-armed; every range below indexes into it.
    text: String,
    urls: Vec<UrlSpans>,
    phones: Vec<Range<usize>>,
    emails: Vec<Range<usize>>,
}

#[derive(Debug, Clone)]
struct UrlSpans {
    url: Range<usize>,
    host: Range<usize>,
    /// A suffix of `host`; absent for IP-address hosts.
    registrable_domain: Option<Range<usize>>,
    is_ip: bool,
}

/// One URL found in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Url<'a> {
    /// The URL as written (re-armed if it was defanged), without trailing punctuation.
    pub text: &'a str,
    pub host: &'a str,
    /// The domain a registrant controls (`example.co.uk` for `login.example.co.uk`), from the
    /// public suffix list; `None` for IP-address hosts.
    pub registrable_domain: Option<&'a str>,
    pub is_ip: bool,
}

/// Top-level domains accepted for any bare domain (no scheme, no `www.`, no path): common ones
/// and ones abused for smishing that are not also English words, so that a missing space after
/// a full stop (`home.how`, `ok.me`) is not read as a link. A bare domain under any other known
/// suffix counts when its registered name holds a hyphen (`irs-refund-gov.us`,
/// `ezpass-toll.live`): lookalike domains are built that way and chat is not.
const BARE_DOMAIN_TLDS: &[&str] = &[
    "app", "asia", "au", "autos", "biz", "buzz", "ca", "cc", "cf", "cfd", "click", "club", "cn",
    "co", "com", "cyou", "de", "es", "eu", "fr", "ga", "gl", "gq", "icu", "info", "io", "lat",
    "link", "ly", "ml", "mobi", "net", "nl", "online", "org", "pw", "ru", "sbs", "shop", "site",
    "store", "su", "tk", "top", "tv", "uk", "us", "vip", "ws", "xyz",
];

impl Extracted {
    pub fn new() -> Self {
        Self::default()
    }

    /// Extracts from the folded form of a message, replacing what this buffer held.
    pub fn set(&mut self, folded: &str) {
        self.urls.clear();
        self.phones.clear();
        self.emails.clear();
        rearm_into(folded, &mut self.text);
        let bytes = self.text.as_bytes();
        if memchr(b'.', bytes).is_some() {
            find_urls_and_emails(&self.text, &mut self.urls, &mut self.emails);
        }
        find_phones(bytes, &self.urls, &self.emails, &mut self.phones);
    }

    pub fn urls(&self) -> impl ExactSizeIterator<Item = Url<'_>> + '_ {
        self.urls.iter().map(|spans| Url {
            text: &self.text[spans.url.clone()],
            host: &self.text[spans.host.clone()],
            registrable_domain: spans.registrable_domain.clone().map(|r| &self.text[r]),
            is_ip: spans.is_ip,
        })
    }

    pub fn phones(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.phones.iter().map(|r| &self.text[r.clone()])
    }

    pub fn emails(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.emails.iter().map(|r| &self.text[r.clone()])
    }

    pub fn has_url(&self) -> bool {
        !self.urls.is_empty()
    }

    pub fn has_ip_url(&self) -> bool {
        self.urls.iter().any(|u| u.is_ip)
    }

    pub fn has_phone(&self) -> bool {
        !self.phones.is_empty()
    }

    pub fn has_email(&self) -> bool {
        !self.emails.is_empty()
    }
}

/// Copies `folded` into `out`, undoing the usual ways of defanging a URL.
fn rearm_into(folded: &str, out: &mut String) {
    static HXXP: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new("hxxp"));
    out.clear();
    let bytes = folded.as_bytes();
    let defanged = memchr3(b'[', b'(', b'{', bytes).is_some() || HXXP.find(bytes).is_some();
    if !defanged {
        out.push_str(folded);
        return;
    }
    const REARM: &[(&str, &str)] = &[
        ("hxxp", "http"),
        ("[.]", "."),
        ("(.)", "."),
        ("{.}", "."),
        ("[dot]", "."),
        ("(dot)", "."),
        ("[:]", ":"),
        ("[://]", "://"),
    ];
    let mut rest = folded;
    'outer: while !rest.is_empty() {
        for (from, to) in REARM {
            if let Some(after) = rest.strip_prefix(from) {
                out.push_str(to);
                rest = after;
                continue 'outer;
            }
        }
        let c = rest.chars().next().expect("non-empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
}

/// Every URL and email contains a dot: find the dots, then the tokens around them.
fn find_urls_and_emails(text: &str, urls: &mut Vec<UrlSpans>, emails: &mut Vec<Range<usize>>) {
    let bytes = text.as_bytes();
    let mut done_until = 0;
    for dot in memchr_iter(b'.', bytes) {
        // A dot inside a host or an address has a letter or digit on each side; the full stops,
        // ellipses and decimals of ordinary text mostly do not, and are skipped here cheaply.
        let joins_words = dot > 0
            && bytes[dot - 1].is_ascii_alphanumeric()
            && bytes.get(dot + 1).is_some_and(u8::is_ascii_alphanumeric);
        if dot < done_until || !joins_words {
            continue;
        }
        let start = bytes[..dot]
            .iter()
            .rposition(|&b| is_token_separator(b))
            .map_or(0, |p| p + 1);
        let end = bytes[dot..]
            .iter()
            .position(|&b| is_token_separator(b))
            .map_or(bytes.len(), |p| dot + p);
        done_until = end;
        let token = &text[start..end];
        let lead = token.len() - token.trim_start_matches(is_leading_punctuation).len();
        let token = &token[lead..];
        let start = start + lead;
        if memchr(b'@', token.as_bytes()).is_some() && !token.starts_with("http") {
            if let Some(len) = email_len(token) {
                emails.push(start..start + len);
            }
        } else if let Some(spans) = url_spans(token) {
            urls.push(spans.shifted(start));
        }
    }
}

/// Bytes that end a token. Non-ASCII bytes do too: hosts are ASCII after folding, and a token
/// boundary at any byte of a multi-byte character falls on a character boundary.
fn is_token_separator(b: u8) -> bool {
    matches!(b, b' ' | b'<' | b'>' | b'"' | b'\'' | b',' | b';' | b'|') || !b.is_ascii()
}

fn is_leading_punctuation(c: char) -> bool {
    matches!(c, '(' | '[' | '{' | ':' | '*' | '-' | '.' | '!' | '?')
}

fn is_host_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.' || b == b'_'
}

impl UrlSpans {
    fn shifted(self, by: usize) -> Self {
        UrlSpans {
            url: self.url.start + by..self.url.end + by,
            host: self.host.start + by..self.host.end + by,
            registrable_domain: self.registrable_domain.map(|r| r.start + by..r.end + by),
            is_ip: self.is_ip,
        }
    }
}

/// Parses a token that may be a URL; ranges are relative to the token.
fn url_spans(token: &str) -> Option<UrlSpans> {
    let (host_start, explicit) = if let Some(rest) = token.strip_prefix("https://") {
        (token.len() - rest.len(), true)
    } else if let Some(rest) = token.strip_prefix("http://") {
        (token.len() - rest.len(), true)
    } else {
        (0, token.starts_with("www."))
    };
    let bytes = token.as_bytes();
    let host_len = bytes[host_start..]
        .iter()
        .position(|&b| !is_host_byte(b))
        .unwrap_or(bytes.len() - host_start);
    let raw_host = &token[host_start..host_start + host_len];
    let host = raw_host.trim_end_matches(['.', '-']);
    let host_end = host_start + host.len();
    // A path or a port after the host: `bit.ly/x`, `1.2.3.4:8080`.
    let after = &bytes[host_start + host_len..];
    let has_path = host.len() == raw_host.len()
        && (after.first() == Some(&b'/')
            || (after.first() == Some(&b':') && after.get(1).is_some_and(u8::is_ascii_digit)));

    let labels = host.split('.');
    if host.len() > 253
        || labels.clone().count() < 2
        || labels.clone().any(|l| l.is_empty() || l.len() > 63)
    {
        return None;
    }
    let url_end = if has_path {
        let tail = token[host_end..].trim_end_matches(is_trailing_punctuation);
        host_end + tail.len()
    } else {
        host_end
    };
    let url = 0..url_end;
    if is_ipv4(host) {
        return (explicit || has_path).then_some(UrlSpans {
            url,
            host: host_start..host_end,
            registrable_domain: None,
            is_ip: true,
        });
    }
    let tld = host.rsplit('.').next()?;
    if tld.len() < 2 || !tld.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    let listed = explicit || has_path || BARE_DOMAIN_TLDS.contains(&tld);
    if !listed && memchr(b'-', host.as_bytes()).is_none() {
        return None;
    }
    if !psl::suffix(host.as_bytes())?.is_known() {
        return None;
    }
    let registrable = psl::domain_str(host)?;
    let hyphenated_name = || {
        registrable
            .split('.')
            .next()
            .is_some_and(|name| name.contains('-'))
    };
    if !listed && !hyphenated_name() {
        return None;
    }
    Some(UrlSpans {
        url,
        host: host_start..host_end,
        registrable_domain: Some(host_end - registrable.len()..host_end),
        is_ip: false,
    })
}

fn is_trailing_punctuation(c: char) -> bool {
    matches!(c, '.' | ',' | '!' | '?' | ')' | ']' | '}' | ':' | '*')
}

fn is_ipv4(host: &str) -> bool {
    let mut count = 0;
    for label in host.split('.') {
        count += 1;
        if label.is_empty() || label.len() > 3 || !label.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        if label.parse::<u16>().map_or(true, |n| n > 255) {
            return false;
        }
    }
    count == 4
}

/// Length of the email address at the start of `token`, if it is one.
fn email_len(token: &str) -> Option<usize> {
    let at = memchr(b'@', token.as_bytes())?;
    let local = &token[..at];
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._%+-".contains(&b));
    if !local_ok {
        return None;
    }
    let domain = &token[at + 1..];
    let domain_len = domain
        .bytes()
        .position(|b| !is_host_byte(b))
        .unwrap_or(domain.len());
    let domain = domain[..domain_len].trim_end_matches(['.', '-']);
    if domain.split('.').count() < 2 || domain.split('.').any(str::is_empty) {
        return None;
    }
    psl::suffix(domain.as_bytes())?.is_known().then_some(())?;
    psl::domain_str(domain)?;
    Some(at + 1 + domain.len())
}

/// Phone numbers: 7 to 15 digits in groups separated by single spaces, dashes, dots or
/// parentheses, starting with `+` or `0` or having at least 10 digits (so that dates, prices and
/// counts are not taken for numbers). Digits inside URLs and emails are not phone numbers.
fn find_phones(
    bytes: &[u8],
    urls: &[UrlSpans],
    emails: &[Range<usize>],
    phones: &mut Vec<Range<usize>>,
) {
    // Seven digits at the least make a phone number; most messages have fewer (counted without
    // early exit, so it vectorizes).
    let digits: usize = bytes
        .chunks(u8::MAX as usize)
        .map(|chunk| {
            // Byte-wide counters: sixteen or thirty-two bytes per instruction.
            chunk
                .iter()
                .fold(0u8, |n, b| n + u8::from(b.is_ascii_digit())) as usize
        })
        .sum();
    if digits < 7 {
        return;
    }
    let inside_link =
        |i: usize| urls.iter().any(|u| u.url.contains(&i)) || emails.iter().any(|e| e.contains(&i));
    let mut i = 0;
    while i < bytes.len() {
        let starts_number = bytes[i].is_ascii_digit()
            || (bytes[i] == b'+' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
            || (bytes[i] == b'(' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit));
        let after_word = i > 0 && bytes[i - 1].is_ascii_alphanumeric();
        if !starts_number || after_word || inside_link(i) {
            i += 1;
            continue;
        }
        let (end, digits) = scan_number(bytes, i);
        let followed_by_word = bytes.get(end).is_some_and(u8::is_ascii_alphanumeric);
        let first_digit = bytes[i..end].iter().find(|b| b.is_ascii_digit()).copied();
        let plausible = bytes[i] == b'+' || first_digit == Some(b'0') || digits >= 10;
        if (7..=15).contains(&digits) && plausible && !followed_by_word {
            phones.push(i..end);
        }
        i = end.max(i + 1);
    }
}

/// Scans a number starting at `start`; returns where it ends and how many digits it has.
fn scan_number(bytes: &[u8], start: usize) -> (usize, usize) {
    let mut i = start;
    if matches!(bytes[i], b'+' | b'(') {
        i += 1;
    }
    let mut digits = 0;
    let mut end = i;
    while i < bytes.len() {
        match bytes[i] {
            b'0'..=b'9' => {
                digits += 1;
                i += 1;
                end = i;
            }
            b' ' | b'-' | b'.' | b'(' | b')'
                if bytes
                    .get(i + 1)
                    .is_some_and(|b| b.is_ascii_digit() || *b == b'(') =>
            {
                i += 1;
            }
            b')' if bytes.get(i + 1) == Some(&b' ')
                && bytes.get(i + 2).is_some_and(u8::is_ascii_digit) =>
            {
                i += 2;
            }
            _ => break,
        }
    }
    (end, digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Normalized;

    fn extract(raw: &str) -> Extracted {
        let mut normalized = Normalized::new();
        normalized.set(raw);
        let mut extracted = Extracted::new();
        extracted.set(normalized.folded());
        extracted
    }

    fn hosts(raw: &str) -> Vec<(String, Option<String>)> {
        extract(raw)
            .urls()
            .map(|u| (u.host.to_owned(), u.registrable_domain.map(str::to_owned)))
            .collect()
    }

    #[test]
    fn urls_with_scheme_and_www() {
        let e = extract("Verify now: https://login.Example.co.uk/secure?id=1. Thanks");
        let url = e.urls().next().unwrap();
        assert_eq!(url.text, "https://login.example.co.uk/secure?id=1");
        assert_eq!(url.host, "login.example.co.uk");
        assert_eq!(url.registrable_domain, Some("example.co.uk"));
        assert!(!url.is_ip);
        assert_eq!(
            hosts("go to www.bank-help.net."),
            [("www.bank-help.net".into(), Some("bank-help.net".into()))]
        );
    }

    #[test]
    fn bare_lookalike_and_shortener_domains() {
        assert_eq!(
            hosts("Your acct is locked, visit paypa1-secure.com today"),
            [("paypa1-secure.com".into(), Some("paypa1-secure.com".into()))]
        );
        assert_eq!(
            hosts("IRS: claim your refund at irs-refund-gov.us today"),
            [("irs-refund-gov.us".into(), Some("irs-refund-gov.us".into()))]
        );
        assert_eq!(
            hosts("pay the toll at ezpass.toll-portal.live"),
            [(
                "ezpass.toll-portal.live".into(),
                Some("toll-portal.live".into())
            )]
        );
        assert_eq!(
            hosts("see bit.ly/3xYz"),
            [("bit.ly".into(), Some("bit.ly".into()))]
        );
        assert_eq!(
            extract("see bit.ly/3xYz").urls().next().unwrap().text,
            "bit.ly/3xyz"
        );
    }

    #[test]
    fn defanged_urls_are_rearmed() {
        assert_eq!(
            hosts("hxxps://evil-bank[.]com/login and evil(.)ru"),
            [
                ("evil-bank.com".into(), Some("evil-bank.com".into())),
                ("evil.ru".into(), Some("evil.ru".into()))
            ]
        );
    }

    #[test]
    fn ip_address_urls() {
        let e = extract("Log in at http://192.168.10.4:8080/bank now");
        let url = e.urls().next().unwrap();
        assert!(url.is_ip && e.has_ip_url());
        assert_eq!(url.host, "192.168.10.4");
        assert_eq!(url.registrable_domain, None);
        assert!(
            !extract("upgrade to version 1.2.3.4 today").has_url(),
            "bare IP-like version number"
        );
        assert!(extract("go to 45.33.2.1/login").has_ip_url());
    }

    #[test]
    fn chat_writing_is_not_mistaken_for_urls() {
        for text in [
            "I'm at home.how are you?",
            "ok.i will call u later",
            "wat r u doing now.me too",
            "Sorry, I'll call later in meeting.so tired",
            "£1.50 per msg. Price 2.5 each",
            "Version 3.0 is out",
            "ok.me too",
            "we checked in.so tired",
            "a well-known.fact",
        ] {
            assert!(!extract(text).has_url(), "{text}: {:?}", hosts(text));
        }
    }

    #[test]
    fn emails() {
        let e = extract("Send your details to Claims.Dept@secure-refund.co.uk now");
        assert_eq!(
            e.emails().collect::<Vec<_>>(),
            ["claims.dept@secure-refund.co.uk"]
        );
        assert!(!e.has_url(), "the email's domain is not a separate URL");
        assert!(!extract("meet @ the.park").has_email());
    }

    #[test]
    fn phone_numbers() {
        let phones = |t: &str| extract(t).phones().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(phones("Call 09061701461 to claim"), ["09061701461"]);
        assert_eq!(phones("ring +44 7700 900123 now"), ["+44 7700 900123"]);
        assert_eq!(phones("call (415) 555-0199."), ["(415) 555-0199"]);
        assert!(phones("see you 2026-11-28 at 10:30, it cost £1500").is_empty());
        assert!(
            phones("text WIN to 87121").is_empty(),
            "short codes are not phone numbers"
        );
        assert!(
            phones("order AC9312345678").is_empty(),
            "digits inside a word"
        );
        assert!(
            phones("https://x.com/12345678901").is_empty(),
            "digits inside a URL"
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_every_span_is_inside_the_text(raw in "\\PC{0,80}|[a-z0-9./:@+() \\[\\]-]{0,80}") {
            let e = extract(&raw);
            for url in e.urls() {
                proptest::prop_assert!(url.text.contains(url.host));
                if let Some(domain) = url.registrable_domain {
                    proptest::prop_assert!(url.host.ends_with(domain));
                }
            }
            for phone in e.phones() {
                let digits = phone.bytes().filter(u8::is_ascii_digit).count();
                proptest::prop_assert!((7..=15).contains(&digits), "{phone}");
            }
            for email in e.emails() {
                proptest::prop_assert!(email.contains('@'));
            }
        }
    }

    #[test]
    fn a_reused_buffer_forgets_the_previous_message() {
        let mut normalized = Normalized::new();
        let mut e = Extracted::new();
        normalized.set("call 09061701461 or see bit.ly/x or a@b.com");
        e.set(normalized.folded());
        assert!(e.has_url() && e.has_phone() && e.has_email());
        normalized.set("nothing here");
        e.set(normalized.folded());
        assert!(!e.has_url() && !e.has_phone() && !e.has_email());
    }
}
