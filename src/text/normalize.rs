//! Normalization for matching: one canonical spelling of what a message says, however it is
//! disguised.
//!
//! Two forms come out of one pass over the text, into reused buffers (no allocation once warm):
//! - **folded**: compatibility decomposition (the K of NFKC: fullwidth `ＦＲＥＥ` is `FREE`),
//!   combining marks dropped (`pàypal` is `paypal`), case folded, zero-width and other invisible
//!   format characters removed, Cyrillic and Greek lookalikes folded to Latin (`раураl` is
//!   `paypal`), runs of whitespace collapsed to one space and trimmed. Extraction (URLs, phone
//!   numbers, emails) reads this form, because it keeps digits as they are.
//! - **matching**: the folded form with leetspeak folded inside words (`fr33` is `free`, `ca$h` is
//!   `cash`). Rules read this form. Leetspeak folding is a one-byte-for-one-byte substitution, so
//!   both forms have the same length and offsets in one are offsets in the other.
//!
//! ASCII text (almost every message) takes a byte loop with no Unicode tables at all; only the
//! non-ASCII characters of a message pay for decomposition.

use std::sync::LazyLock;

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// The two normalized forms of one message (see the module docs). Reuse one per worker.
#[derive(Debug, Default, Clone)]
pub struct Normalized {
    folded: String,
    matching: String,
}

impl Normalized {
    pub fn new() -> Self {
        Self::default()
    }

    /// Normalizes `raw`, replacing what this buffer held.
    pub fn set(&mut self, raw: &str) {
        self.folded.clear();
        if is_plain_ascii(raw.as_bytes()) {
            // Printable ASCII with no runs of spaces: folding is a copy and a lowercase.
            self.folded.push_str(raw.trim_matches(' '));
            self.folded.make_ascii_lowercase();
        } else {
            self.fold_mixed(raw);
        }
        fold_leetspeak(&self.folded, &mut self.matching);
    }

    /// Folds text with non-ASCII characters, control characters or whitespace runs.
    fn fold_mixed(&mut self, raw: &str) {
        let mut writer = FoldWriter {
            out: &mut self.folded,
        };
        let bytes = raw.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            // Runs of printable ASCII (most of any text) are copied whole.
            let run = bytes[i..]
                .iter()
                .position(|b| !(0x20..0x7f).contains(b))
                .unwrap_or(bytes.len() - i);
            if run > 0 {
                writer.ascii_run(&raw[i..i + run]);
                i += run;
            } else if bytes[i].is_ascii() {
                writer.ascii(bytes[i]);
                i += 1;
            } else {
                // `i` is always on a char boundary: it only advances by whole chars.
                let c = raw[i..]
                    .chars()
                    .next()
                    .expect("char boundary inside the text");
                writer.unicode(c);
                i += c.len_utf8();
            }
        }
        collapse_spaces(&mut self.folded);
    }

    /// Case-folded, de-disguised text with digits intact (see the module docs).
    pub fn folded(&self) -> &str {
        &self.folded
    }

    /// The folded text with leetspeak folded: what rules match against.
    pub fn matching(&self) -> &str {
        &self.matching
    }
}

/// Returns the matching form of `raw` (allocates; the hot path reuses a [`Normalized`]).
pub fn normalize(raw: &str) -> String {
    let mut normalized = Normalized::new();
    normalized.set(raw);
    normalized.matching
}

/// Printable ASCII without two spaces in a row. Written without early exit so it vectorizes.
fn is_plain_ascii(bytes: &[u8]) -> bool {
    let unprintable = bytes
        .iter()
        .fold(false, |seen, b| seen | !(0x20..0x7f).contains(b));
    let double_space = bytes
        .iter()
        .zip(bytes.iter().skip(1))
        .fold(false, |seen, (&a, &b)| seen | ((a == b' ') & (b == b' ')));
    !unprintable && !double_space
}

/// Removes leading and trailing spaces and shortens runs of spaces to one.
fn collapse_spaces(text: &mut String) {
    let bytes = text.as_bytes();
    let untidy = bytes.first() == Some(&b' ')
        || bytes.last() == Some(&b' ')
        || bytes.windows(2).any(|pair| pair == b"  ");
    if untidy {
        let mut previous_space = true;
        text.retain(|c| {
            let keep = c != ' ' || !previous_space;
            previous_space = c == ' ';
            keep
        });
        if text.ends_with(' ') {
            text.pop();
        }
    }
}

/// Writes folded characters; every kind of whitespace becomes one space, collapsed afterwards.
struct FoldWriter<'a> {
    out: &'a mut String,
}

impl FoldWriter<'_> {
    fn ascii(&mut self, b: u8) {
        if b.is_ascii_whitespace() || b == 0x0b {
            self.out.push(' ');
        } else if !b.is_ascii_control() {
            self.out.push(b.to_ascii_lowercase() as char);
        }
    }

    /// Printable ASCII.
    fn ascii_run(&mut self, run: &str) {
        let start = self.out.len();
        self.out.push_str(run);
        self.out[start..].make_ascii_lowercase();
    }

    fn push(&mut self, c: char) {
        self.out.push(c);
    }

    fn unicode(&mut self, c: char) {
        match CommonFold::lookup(c) {
            Some(CommonFold::Space) => self.out.push(' '),
            Some(CommonFold::Text { len, bytes }) => {
                let text = std::str::from_utf8(&bytes[..usize::from(*len)])
                    .expect("the table holds whole characters");
                self.out.push_str(text);
            }
            None => self.fold_char(c),
        }
    }

    /// The full folding of one character: invisible ones vanish, the rest are decomposed and
    /// each part dropped, mapped to Latin or lowercased.
    fn fold_char(&mut self, c: char) {
        if is_invisible(c) {
            return;
        }
        decompose_compatible(c, |d| self.decomposed(d));
    }

    /// One character of a compatibility decomposition.
    fn decomposed(&mut self, d: char) {
        if d.is_ascii() {
            self.ascii(d as u8);
        } else if d.is_whitespace() {
            self.out.push(' ');
        } else if is_combining_mark(d) || is_invisible(d) || d.is_control() {
        } else if let Some(latin) = latin_lookalike(d) {
            self.push(latin);
        } else {
            for lower in d.to_lowercase() {
                self.lowercased(lower);
            }
        }
    }

    fn lowercased(&mut self, c: char) {
        if c.is_ascii() {
            self.push(c);
        } else if let Some(latin) = latin_lookalike(c) {
            self.push(latin);
        } else if c == 'ß' {
            // Full case folding: the German sharp s folds to "ss".
            self.push('s');
            self.push('s');
        } else if is_combining_mark(c) {
            // Lowercasing can produce a combining mark (İ → i + U+0307); drop it like the others.
        } else {
            self.push(c);
        }
    }
}

/// Precomputed foldings of the non-ASCII characters ordinary text uses most (Latin-1 and Latin
/// Extended letters, `£`, typographic quotes and dashes): a table lookup instead of decomposition
/// and case tables. Filled once from [`FoldWriter::fold_char`], so it cannot disagree with it.
#[derive(Debug, Clone, Copy)]
enum CommonFold {
    /// Whitespace: one pending space.
    Space,
    /// The folded text (possibly empty: invisible characters).
    Text { len: u8, bytes: [u8; 14] },
}

const COMMON_RANGES: [std::ops::Range<u32>; 2] = [0x80..0x250, 0x2000..0x2070];

impl CommonFold {
    fn lookup(c: char) -> Option<&'static CommonFold> {
        static TABLE: LazyLock<Vec<Option<CommonFold>>> = LazyLock::new(|| {
            COMMON_RANGES
                .iter()
                .flat_map(Clone::clone)
                .map(|code| char::from_u32(code).and_then(CommonFold::compute))
                .collect()
        });
        let code = c as u32;
        let mut offset = 0;
        for range in &COMMON_RANGES {
            if range.contains(&code) {
                return TABLE[offset + (code - range.start) as usize].as_ref();
            }
            offset += range.len();
        }
        None
    }

    fn compute(c: char) -> Option<CommonFold> {
        if c.is_whitespace() {
            return Some(CommonFold::Space);
        }
        let mut out = String::new();
        FoldWriter { out: &mut out }.fold_char(c);
        // Characters whose decomposition holds a space (spacing accents) keep the full path.
        if out.contains(' ') || out.len() > 14 {
            return None;
        }
        let mut bytes = [0; 14];
        bytes[..out.len()].copy_from_slice(out.as_bytes());
        Some(CommonFold::Text {
            len: out.len() as u8,
            bytes,
        })
    }
}

/// Characters that render as nothing: zero-width spaces and joiners, bidirectional controls,
/// soft hyphens, variation selectors, tag characters (Unicode's Default_Ignorable_Code_Point).
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}'..='\u{1160}' | '\u{17B4}'..='\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Cyrillic and Greek letters that look like a Latin letter, in both cases, folded to that
/// (lowercase) Latin letter. Uppercase forms are listed because their lowercase forms can look
/// like a different Latin letter (Greek capital eta `Η` looks like `H`, its lowercase `η` like `n`).
/// Chosen from Unicode's confusables list (UTS #39) restricted to single letters that pass for
/// Latin in ordinary fonts; the full list also maps `m` to `rn`, which would garble plain text.
fn latin_lookalike(c: char) -> Option<char> {
    Some(match c {
        // Cyrillic
        'А' | 'а' => 'a',
        'В' | 'в' | 'Ь' | 'ь' => 'b',
        'С' | 'с' => 'c',
        'Ԁ' | 'ԁ' => 'd',
        'Е' | 'е' | 'Ё' | 'ё' | 'Є' | 'є' => 'e',
        'Һ' | 'һ' | 'Н' | 'н' => 'h',
        'І' | 'і' | 'Ї' | 'ї' | 'Ӏ' | 'ӏ' => 'i',
        'Ј' | 'ј' => 'j',
        'К' | 'к' => 'k',
        'М' | 'м' => 'm',
        'О' | 'о' => 'o',
        'Р' | 'р' => 'p',
        'Ԛ' | 'ԛ' => 'q',
        'Ѕ' | 'ѕ' => 's',
        'Т' | 'т' => 't',
        'П' | 'п' => 'n',
        'Ԝ' | 'ԝ' => 'w',
        'Х' | 'х' => 'x',
        'У' | 'у' | 'Ү' | 'ү' => 'y',
        // Greek
        'Α' | 'α' => 'a',
        'Β' | 'β' => 'b',
        'Ε' | 'ε' => 'e',
        'Ζ' => 'z',
        'Η' => 'h',
        'Ι' | 'ι' => 'i',
        'Κ' | 'κ' => 'k',
        'Μ' => 'm',
        'Ν' | 'ν' => 'v',
        'η' => 'n',
        'Ο' | 'ο' => 'o',
        'Ρ' | 'ρ' => 'p',
        'Τ' | 'τ' => 't',
        'Υ' => 'y',
        'υ' => 'u',
        'Χ' | 'χ' => 'x',
        // Latin letters outside ASCII that pass for ASCII ones.
        'ı' => 'i',
        'ɑ' => 'a',
        'ɡ' => 'g',
        _ => return None,
    })
}

/// Writes `folded` into `matching` with leetspeak folded: inside a word (a run of ASCII letters,
/// digits and `$`) that has at least two letters and is not a number followed by a unit (`150p`,
/// `10am`, `2nd`), the digits 0, 1, 3, 4, 5, 7 and a `$` after a letter become the letters they
/// imitate. Numbers, prices and codes keep their digits.
fn fold_leetspeak(folded: &str, matching: &mut String) {
    matching.clear();
    matching.push_str(folded);
    let bytes = folded.as_bytes();
    // Leetspeak needs a digit or `$` touching a letter; most messages have none, and this check
    // (no early exit, so it vectorizes) spares them the word-by-word pass.
    let leet_touches_letter =
        bytes
            .iter()
            .zip(bytes.iter().skip(1))
            .fold(false, |seen, (&a, &b)| {
                seen | (is_leet_byte(a) & b.is_ascii_lowercase())
                    | (a.is_ascii_lowercase() & is_leet_byte(b))
            });
    if !leet_touches_letter {
        return;
    }
    let mut out = std::mem::take(matching).into_bytes();
    let mut start = 0;
    for i in 0..=bytes.len() {
        if i == bytes.len() || !is_word_byte(bytes[i]) {
            if i > start {
                fold_word(&mut out[start..i]);
            }
            start = i + 1;
        }
    }
    *matching = String::from_utf8(out).expect("leetspeak folding maps ASCII to ASCII");
}

fn is_leet_byte(b: u8) -> bool {
    b.is_ascii_digit() | (b == b'$')
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'$'
}

fn fold_word(word: &mut [u8]) {
    let letters = word.iter().filter(|b| b.is_ascii_lowercase()).count();
    let has_leet = word.iter().any(|&b| leet_letter(b).is_some());
    if letters < 2 || !has_leet {
        return;
    }
    let leading_digits = word.iter().take_while(|b| b.is_ascii_digit()).count();
    let number_with_unit =
        leading_digits > 0 && word[leading_digits..].iter().all(u8::is_ascii_lowercase);
    if number_with_unit {
        return;
    }
    let mut previous = 0u8;
    for b in word.iter_mut() {
        match leet_letter(*b) {
            Some(_) if *b == b'$' && !previous.is_ascii_lowercase() => {}
            Some(letter) => *b = letter,
            None => {}
        }
        previous = *b;
    }
}

fn leet_letter(b: u8) -> Option<u8> {
    Some(match b {
        b'0' => b'o',
        b'1' => b'i',
        b'3' => b'e',
        b'4' => b'a',
        b'5' => b's',
        b'7' => b't',
        b'$' => b's',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn disguised_words_normalize_to_their_plain_forms() {
        assert_eq!(normalize("ＦＲＥＥ"), "free");
        assert_eq!(normalize("fr33"), "free");
        assert_eq!(normalize("F\u{200B}R\u{200B}E\u{200B}E"), "free");
        assert_eq!(normalize("раураl"), "paypal"); // Cyrillic р, а, у
        assert_eq!(normalize("ΡΑΥΡΑL"), "paypal"); // Greek capitals
        assert_eq!(normalize("pàypál"), "paypal");
        assert_eq!(normalize("C\u{0327}A$H"), "cash");
        assert_eq!(normalize("Straße"), "strasse");
        assert_eq!(normalize("p\u{00AD}a\u{FE0F}y\u{202E}pal"), "paypal");
        assert_eq!(
            normalize("ｗｗｗ．ｅｘａｍｐｌｅ．ｃｏｍ"),
            "www.example.com"
        );
    }

    #[test]
    fn whitespace_collapses_and_trims() {
        assert_eq!(
            normalize("  Hi \t\n there\u{00A0}\u{3000}you  "),
            "hi there you"
        );
        assert_eq!(normalize("\u{200B} \u{200B}"), "");
        assert_eq!(normalize("a\u{0}b\u{7f}c"), "abc");
    }

    #[test]
    fn numbers_prices_and_units_keep_their_digits() {
        for text in [
            "call 08712460324 now",
            "£1000 prize",
            "150p per msg",
            "see you at 10am on the 2nd",
            "code 123456",
            "b4 l8r gr8",
            "$500",
        ] {
            assert_eq!(normalize(text), text.to_lowercase(), "{text}");
        }
        assert_eq!(
            normalize("W1N a PR1ZE, m0ney, ca$h"),
            "win a prize, money, cash"
        );
    }

    #[test]
    fn folded_form_keeps_digits_and_matching_form_has_the_same_length() {
        let mut n = Normalized::new();
        n.set("Visit PAYPA1-secure.com");
        assert_eq!(n.folded(), "visit paypa1-secure.com");
        assert_eq!(n.matching(), "visit paypai-secure.com");
        assert_eq!(n.folded().len(), n.matching().len());
    }

    #[test]
    fn buffers_are_reused_without_leaking_the_previous_message() {
        let mut n = Normalized::new();
        n.set("a much longer first message");
        n.set("Short");
        assert_eq!(n.matching(), "short");
    }

    proptest! {
        #[test]
        fn normalization_is_idempotent(text in "\\PC{0,40}") {
            let once = normalize(&text);
            prop_assert_eq!(normalize(&once), once.clone());
        }

        #[test]
        fn never_panics_and_keeps_forms_aligned(text in any::<String>()) {
            let mut n = Normalized::new();
            n.set(&text);
            prop_assert_eq!(n.folded().len(), n.matching().len());
            prop_assert!(!n.matching().starts_with(' ') && !n.matching().ends_with(' '));
            prop_assert!(!n.matching().contains("  "));
        }

        #[test]
        fn ascii_output_is_lowercase(text in "[ -~]{0,60}") {
            let out = normalize(&text);
            prop_assert!(!out.bytes().any(|b| b.is_ascii_uppercase()));
        }
    }
}
