//! Domain skeletons: a coarse spelling of a domain under which lookalikes collide, for catching
//! brand impersonation (`paypa1-secure.com`, `rnicrosoft.com`, `arnaz0n.co`).
//!
//! Coarser than message normalization on purpose: here `l`, `i` and `1` are one letter, `rn` is
//! `m` and `vv` is `w`, which would garble ordinary text but is exactly how a phisher picks a
//! domain that reads as the brand's.

/// Writes the skeleton of `domain` (already folded to lowercase ASCII) into `out`.
pub fn domain_skeleton(domain: &str, out: &mut String) {
    out.clear();
    let bytes = domain.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let pair = bytes.get(i..i + 2);
        if pair == Some(b"rn") {
            out.push('m');
            i += 2;
            continue;
        }
        if pair == Some(b"vv") {
            out.push('w');
            i += 2;
            continue;
        }
        out.push(match bytes[i] {
            b'0' => 'o',
            b'1' | b'i' | b'|' => 'l',
            b'3' => 'e',
            b'4' | b'@' => 'a',
            b'5' | b'$' => 's',
            b'7' => 't',
            b'8' => 'b',
            b'9' => 'g',
            b => b as char,
        });
        i += 1;
    }
}

/// Whether `needle` occurs in the skeleton `haystack` at the start of a word (after the start,
/// a dot, a dash or a digit): `paypal-login` and `secure.paypal` imitate PayPal, `pineapple` does
/// not imitate Apple.
///
/// Both are a few bytes long and this runs for every brand on every link, so it compares at each
/// word start directly: `match_indices` would build a two-way searcher for every call.
pub fn contains_at_word_start(haystack: &str, needle: &str) -> bool {
    let (haystack, needle) = (haystack.as_bytes(), needle.as_bytes());
    (0..haystack.len()).any(|at| {
        (at == 0 || !haystack[at - 1].is_ascii_lowercase()) && haystack[at..].starts_with(needle)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skeleton(domain: &str) -> String {
        let mut out = String::new();
        domain_skeleton(domain, &mut out);
        out
    }

    #[test]
    fn lookalikes_collide_with_the_brand() {
        assert_eq!(skeleton("paypa1"), skeleton("paypal"));
        assert_eq!(skeleton("rnicrosoft"), skeleton("microsoft"));
        assert_eq!(skeleton("arnaz0n"), skeleton("amazon"));
        assert_eq!(skeleton("vvellsfargo"), skeleton("wellsfargo"));
        assert_ne!(skeleton("paypal"), skeleton("payoal"));
    }

    #[test]
    fn brands_are_found_only_at_a_word_start() {
        assert!(contains_at_word_start("paypal-login", "paypal"));
        assert!(contains_at_word_start("secure.paypal", "paypal"));
        assert!(contains_at_word_start("2paypal", "paypal"));
        assert!(!contains_at_word_start("pineapple", "apple"));
    }
}
