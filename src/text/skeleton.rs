//! Domain skeletons: a coarse spelling of a domain under which lookalikes collide, for catching
//! brand impersonation (`paypa1-secure.com`, `rnicrosoft.com`, `arnaz0n.co`).
//!
//! Coarser than message normalization on purpose: here `l`, `i` and `1` are one letter, `rn` is
//! `m` and `vv` is `w`, which would garble ordinary text but is exactly how a phisher picks a
//! domain that reads as the brand's.

use aho_corasick::{AhoCorasick, MatchKind};

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

/// Brands' skeletons, all looked for in one pass over a host's skeleton.
///
/// One automaton rather than a substring search per brand: a message may carry thousands of
/// URLs, and setting up a search for each brand on each of them cost more than scoring an
/// ordinary message.
#[derive(Debug, Clone)]
pub struct BrandSkeletons {
    automaton: AhoCorasick,
}

impl BrandSkeletons {
    /// An automaton over `skeletons`; a brand's index is its position among them.
    pub fn new<I, P>(skeletons: I) -> Result<Self, aho_corasick::BuildError>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(skeletons)?;
        Ok(BrandSkeletons { automaton })
    }

    /// Indices of the brands whose skeleton occurs in the skeleton `host` at the start of a
    /// word (after the start, a dot, a dash or a digit): `paypal-login` and `secure.paypal`
    /// imitate PayPal, `pineapple` does not imitate Apple. A brand may be named more than once.
    pub fn imitated<'h>(&'h self, host: &'h str) -> impl Iterator<Item = usize> + 'h {
        self.automaton
            .find_overlapping_iter(host)
            .filter(|found| {
                let at = found.start();
                at == 0 || !host.as_bytes()[at - 1].is_ascii_lowercase()
            })
            .map(|found| found.pattern().as_usize())
    }
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
        let brands = BrandSkeletons::new(["paypal", "apple", "pal"]).unwrap();
        let found = |host: &str| brands.imitated(host).collect::<Vec<_>>();
        assert_eq!(found("paypal-login"), [0]);
        assert_eq!(found("secure.paypal"), [0]);
        assert_eq!(found("2paypal"), [0]);
        assert_eq!(found("pineapple"), [] as [usize; 0]);
        // Overlapping names are all found: `pal` starts a word after the dash.
        assert_eq!(found("apple-pal"), [1, 2]);
    }
}
