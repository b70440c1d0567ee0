//! Model features: hashed word unigrams and bigrams of the matching form, character bigrams of
//! words in scripts written without spaces (or with non-ASCII letters), optional character
//! n-grams inside longer ASCII words, plus metadata (links, shorteners, lookalike domains,
//! numbers, money, shouting).
//!
//! Character n-grams are what carry a model across spellings and scripts: `kyc upd8` and
//! `faggit` share n-grams with their usual spellings, and Japanese or Chinese text, which has no
//! spaces, is otherwise one "word" per sentence (spec v4; v3 had words only; v5 hashes each
//! n-gram of ASCII letters straight from its bytes).
//!
//! One function, [`visit`], defines the features for both training and serving, so the two
//! cannot drift apart; the [`FeatureSpec`] that names its settings is stored in every model file
//! and checked at load. Numbers become shapes (`£1000` is `£#4`, `08712460324` is `#11`) so the
//! model learns "an 11-digit number" rather than one phone number. Tokens are hashed straight
//! from the matching form, eight bytes at a time (spec v3; v2 called xxh3 per token, a call
//! and a dispatch on the length for every word). Text features are scaled by
//! `1/sqrt(n)` for a message of `n` of them, which keeps long and short messages comparable
//! without a second pass over the features.

use serde::{Deserialize, Serialize};

use std::sync::LazyLock;

use crate::text::{BrandSkeletons, Extracted, Normalized, domain_skeleton};

/// Version of the feature definitions in this file. Any change to what [`visit`] produces must
/// bump it, which makes every older model file refuse to load rather than score garbage.
pub const FEATURE_SPEC_VERSION: u32 = 5;

/// Bits of the hashed text-feature space: 2^18 buckets.
const HASH_BITS: u8 = 18;

/// Metadata features, in index order after the hashed buckets (the order of [`Meta`]).
pub const METADATA_FEATURES: &[&str] = &[
    "has_url",
    "url_shortener",
    "ip_url",
    "lookalike_domain",
    "has_phone",
    "premium_number",
    "has_email",
    "currency",
    "length_short",
    "length_long",
    "uppercase_heavy",
    "exclamations",
];

/// Indices of the metadata features.
#[derive(Clone, Copy)]
enum Meta {
    HasUrl,
    UrlShortener,
    IpUrl,
    LookalikeDomain,
    HasPhone,
    PremiumNumber,
    HasEmail,
    Currency,
    LengthShort,
    LengthLong,
    UppercaseHeavy,
    Exclamations,
}

/// The feature settings a model was trained with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    pub version: u32,
    /// Text n-grams are hashed into `2^hash_bits` buckets.
    pub hash_bits: u8,
    /// Longest word n-gram (2: unigrams and bigrams).
    pub word_ngrams: u8,
    /// Length of the character n-grams taken inside ASCII words longer than it (0: none). Words
    /// with non-ASCII letters always give their character bigrams.
    pub subword_ngrams: u8,
    /// Names of the metadata features, in index order after the buckets.
    pub metadata: Vec<String>,
}

impl std::fmt::Display for FeatureSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "v{} (2^{} buckets, word n-grams up to {}, character {}-grams in words, {} metadata \
             features)",
            self.version,
            self.hash_bits,
            self.word_ngrams,
            self.subword_ngrams,
            self.metadata.len()
        )
    }
}

impl FeatureSpec {
    /// The spec this build computes, with the default subword n-grams.
    pub fn current() -> Self {
        Self::with_subwords(DEFAULT_SUBWORD_NGRAMS)
    }

    /// The spec this build computes, with character `n`-grams inside ASCII words.
    pub fn with_subwords(n: u8) -> Self {
        FeatureSpec {
            version: FEATURE_SPEC_VERSION,
            hash_bits: HASH_BITS,
            word_ngrams: 2,
            subword_ngrams: n,
            metadata: METADATA_FEATURES.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Whether this build computes the spec (any supported subword length).
    pub fn is_computed_here(&self) -> bool {
        SUBWORD_NGRAMS.contains(&self.subword_ngrams)
            && *self == Self::with_subwords(self.subword_ngrams)
    }

    pub fn buckets(&self) -> usize {
        1 << self.hash_bits
    }

    /// Total feature count: buckets, then metadata.
    pub fn dimension(&self) -> usize {
        self.buckets() + self.metadata.len()
    }
}

/// Subword n-gram lengths this build can compute (0: none).
pub const SUBWORD_NGRAMS: [u8; 4] = [0, 3, 4, 5];

/// The subword n-gram length new models are trained with (chosen on validation: models/README.md).
pub const DEFAULT_SUBWORD_NGRAMS: u8 = 4;

/// Salts that keep character n-grams and words in different buckets.
const SUBWORD_SALT: u64 = 0x5851_F42D_4C95_7F2D;
const CHAR_BIGRAM_SALT: u64 = 0x1405_7B7E_F767_814F;

const SHORTENERS: &[&str] = &[
    "bit.ly",
    "bitly.com",
    "buff.ly",
    "cutt.ly",
    "goo.gl",
    "is.gd",
    "ow.ly",
    "rb.gy",
    "rebrand.ly",
    "s.id",
    "shorturl.at",
    "t.co",
    "t.ly",
    "tiny.cc",
    "tinyurl.com",
];

/// Brand names phishers imitate in domains (compared by skeleton).
const BRANDS: &[&str] = &[
    "amazon",
    "apple",
    "barclays",
    "chase",
    "citi",
    "dhl",
    "ebay",
    "evri",
    "facebook",
    "fedex",
    "google",
    "hmrc",
    "hsbc",
    "icloud",
    "instagram",
    "lloyds",
    "microsoft",
    "natwest",
    "netflix",
    "paypal",
    "royalmail",
    "santander",
    "usps",
    "wellsfargo",
    "whatsapp",
];

/// Reused buffers for feature extraction.
#[derive(Debug, Default)]
pub struct FeatureScratch {
    buckets: Vec<u32>,
    /// The matching form with [`LOAD`] zero bytes after it, so any token's bytes can be read
    /// eight at a time without a bounds-checked tail.
    padded: Vec<u8>,
    /// A token with digits, rewritten to its shape (then padded likewise).
    token: Vec<u8>,
    skeleton: String,
}

/// Bytes read at a time by [`token_hash`].
const LOAD: usize = 8;

/// Byte classes: what separates tokens, and what makes them (bits, or-ed over a token).
const SEPARATOR: u8 = 0;
const LETTER: u8 = 1;
const DIGIT: u8 = 2;
const NON_ASCII: u8 = 4;

/// The class of every byte: the bytes of non-ASCII characters (`£`, letters of other scripts)
/// are [`LETTER`] and [`NON_ASCII`], ASCII letters [`LETTER`], ASCII digits [`DIGIT`], the rest
/// separate tokens.
static CLASS: [u8; 256] = {
    let mut class = [LETTER | NON_ASCII; 256];
    let mut b = 0;
    while b < 128 {
        let byte = b as u8;
        class[b] = if byte.is_ascii_digit() {
            DIGIT
        } else if byte.is_ascii_alphabetic() {
            LETTER
        } else {
            SEPARATOR
        };
        b += 1;
    }
    class
};

/// Computes every feature of one message: calls `on_metadata(index, value)` per metadata feature
/// that is present, and returns the bucket of every text n-gram occurrence (their count is the
/// `n` of the `1/sqrt(n)` scaling). Buckets come back as a list, not one by one, so that the
/// caller's weight lookups are independent loads the processor can overlap. `subword_ngrams`
/// is the spec's ([`FeatureSpec::subword_ngrams`]).
pub fn visit<'s>(
    raw: &str,
    normalized: &Normalized,
    extracted: &Extracted,
    scratch: &'s mut FeatureScratch,
    subword_ngrams: u8,
    mut on_metadata: impl FnMut(usize, f32),
) -> &'s [u32] {
    let subword = usize::from(subword_ngrams);
    scratch.buckets.clear();
    let text = normalized.matching().as_bytes();
    scratch.padded.clear();
    scratch.padded.extend_from_slice(text);
    scratch.padded.extend_from_slice(&[0; LOAD]);
    let shift = 64 - u32::from(HASH_BITS);
    let mut previous: Option<u64> = None;
    let mut i = 0;
    while i < text.len() {
        if CLASS[usize::from(text[i])] == SEPARATOR {
            i += 1;
            continue;
        }
        let start = i;
        let mut classes = 0;
        while i < text.len() {
            let class = CLASS[usize::from(text[i])];
            if class == SEPARATOR {
                break;
            }
            classes |= class;
            i += 1;
        }
        let len = i - start;
        if classes & NON_ASCII != 0 {
            char_bigrams(&scratch.padded[start..], len, shift, &mut scratch.buckets);
        } else if subword > 0 && len > subword && classes == LETTER {
            // An n-gram of at most eight letters is its own bytes: one load, a mask and one
            // multiply each (spec v5; v4 hashed each as a token, three multiplies).
            let keep = u64::MAX >> (8 * (LOAD - subword));
            for at in start..=i - subword {
                let gram = load(&scratch.padded, at) & keep;
                scratch
                    .buckets
                    .push((folded_multiply(gram ^ SUBWORD_SALT, K) >> shift) as u32);
            }
        }
        let hash = if classes & DIGIT == 0 {
            token_hash(&scratch.padded[start..], len)
        } else {
            let len = shape(&text[start..i], &mut scratch.token);
            token_hash(&scratch.token, len)
        };
        scratch.buckets.push((hash >> shift) as u32);
        if let Some(previous) = previous {
            scratch
                .buckets
                .push((bigram_hash(previous, hash) >> shift) as u32);
        }
        previous = Some(hash);
    }
    metadata(raw, normalized, extracted, scratch, &mut on_metadata);
    &scratch.buckets
}

/// Pushes the bucket of every pair of adjacent characters in a token of `len` bytes at the
/// start of `bytes` (padded like [`token_hash`]'s input). A token of one character gives none.
fn char_bigrams(bytes: &[u8], len: usize, shift: u32, buckets: &mut Vec<u32>) {
    let width = |at: usize| match bytes[at] {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    };
    let mut first = 0;
    let mut second = width(0).min(len);
    while second < len {
        let end = (second + width(second)).min(len);
        let gram = token_hash(&bytes[first..], end - first) ^ CHAR_BIGRAM_SALT;
        buckets.push((folded_multiply(gram, K) >> shift) as u32);
        first = second;
        second = end;
    }
}

/// Writes a token's shape into `buffer`, each run of digits as `#` and its length, followed by
/// [`LOAD`] zero bytes; returns the shape's length.
fn shape(token: &[u8], buffer: &mut Vec<u8>) -> usize {
    buffer.clear();
    let mut i = 0;
    while i < token.len() {
        if token[i].is_ascii_digit() {
            let run = token[i..].iter().take_while(|b| b.is_ascii_digit()).count();
            buffer.push(b'#');
            buffer.push(b'0' + run.min(12) as u8);
            i += run;
        } else {
            buffer.push(token[i]);
            i += 1;
        }
    }
    let len = buffer.len();
    buffer.extend_from_slice(&[0; LOAD]);
    len
}

/// The multiplier of [`token_hash`] and of the salted n-gram hashes.
const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// Hash of the `len` bytes at the start of `bytes`, which holds at least [`LOAD`] more: eight
/// bytes at a time, the last load masked to the token, each folded in by a 64×64→128-bit
/// multiply whose halves are xored (as foldhash and wyhash do). Most words take one load and
/// two multiplies, with no call and no branch on the length.
fn token_hash(bytes: &[u8], len: usize) -> u64 {
    const SEED: u64 = 0x243F_6A88_85A3_08D3;
    let mut hash = SEED ^ len as u64;
    let mut at = 0;
    while len - at > LOAD {
        hash = folded_multiply(hash ^ load(bytes, at), K);
        at += LOAD;
    }
    let tail = load(bytes, at) & (u64::MAX >> (8 * (LOAD - (len - at))));
    folded_multiply(hash ^ tail, K ^ SEED.rotate_left(17))
}

/// The [`LOAD`] bytes of `bytes` at `at`, little-endian.
fn load(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + LOAD].try_into().expect("8 bytes"))
}

/// The two halves of a full 128-bit product, xored: every input bit reaches the high bits.
fn folded_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ (product >> 64) as u64
}

/// A bigram's hash from its tokens' hashes: a rotate, a xor and a multiply by an odd constant
/// (the 64-bit golden ratio), which keeps the high bits (the bucket) well mixed.
fn bigram_hash(first: u64, second: u64) -> u64 {
    (first.rotate_left(23) ^ second).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn metadata(
    raw: &str,
    normalized: &Normalized,
    extracted: &Extracted,
    scratch: &mut FeatureScratch,
    on_metadata: &mut impl FnMut(usize, f32),
) {
    let mut set = |meta: Meta, value: f32| on_metadata(meta as usize, value);
    if extracted.has_url() {
        set(Meta::HasUrl, 1.0);
        if extracted.has_ip_url() {
            set(Meta::IpUrl, 1.0);
        }
        let (shortener, lookalike) = suspicious_links(extracted, scratch);
        if shortener {
            set(Meta::UrlShortener, 1.0);
        }
        if lookalike {
            set(Meta::LookalikeDomain, 1.0);
        }
    }
    if extracted.has_phone() {
        set(Meta::HasPhone, 1.0);
        let premium = extracted.phones().any(|p| {
            let mut digits = p.bytes().filter(u8::is_ascii_digit);
            let mut prefix = [0u8; 5];
            for slot in &mut prefix {
                *slot = digits.next().unwrap_or(0);
            }
            [&b"09"[..], b"087", b"4409", b"44087"]
                .iter()
                .any(|p| prefix.starts_with(p))
        });
        if premium {
            set(Meta::PremiumNumber, 1.0);
        }
    }
    if extracted.has_email() {
        set(Meta::HasEmail, 1.0);
    }
    if has_currency(normalized.folded().as_bytes()) {
        set(Meta::Currency, 1.0);
    }
    // One pass over the raw bytes: characters (bytes that start one), ASCII letters and
    // capitals, exclamation marks; byte-wide counters per chunk, so the loop vectorizes.
    let (mut chars, mut letters, mut upper, mut exclamations) = (0usize, 0usize, 0usize, 0usize);
    for chunk in raw.as_bytes().chunks(u8::MAX as usize) {
        let (mut c, mut l, mut u, mut e) = (0u8, 0u8, 0u8, 0u8);
        for &b in chunk {
            c += u8::from((b & 0xC0) != 0x80);
            l += u8::from((b | 0x20).wrapping_sub(b'a') < 26);
            u += u8::from(b.wrapping_sub(b'A') < 26);
            e += u8::from(b == b'!');
        }
        chars += usize::from(c);
        letters += usize::from(l);
        upper += usize::from(u);
        exclamations += usize::from(e);
    }
    if chars < 40 {
        set(Meta::LengthShort, 1.0);
    }
    if chars > 120 {
        set(Meta::LengthLong, 1.0);
    }
    if letters >= 10 && upper * 3 > letters {
        set(Meta::UppercaseHeavy, 1.0);
    }
    if exclamations > 0 {
        set(Meta::Exclamations, (exclamations as f32).min(3.0) / 3.0);
    }
}

/// Whether the text holds `$`, `£` (UTF-8 C2 A3) or `€` (E2 82 AC), found by their last bytes.
fn has_currency(text: &[u8]) -> bool {
    memchr::memchr3_iter(b'$', 0xA3, 0xAC, text).any(|at| match text[at] {
        b'$' => true,
        0xA3 => at >= 1 && text[at - 1] == 0xC2,
        _ => at >= 2 && text[at - 2..at] == [0xE2, 0x82],
    })
}

/// The brands' skeletons in one automaton, built once; its indices are `BRANDS`'.
fn brand_skeletons() -> &'static BrandSkeletons {
    static SKELETONS: LazyLock<BrandSkeletons> = LazyLock::new(|| {
        let skeletons = BRANDS.iter().map(|brand| {
            let mut skeleton = String::new();
            domain_skeleton(brand, &mut skeleton);
            skeleton
        });
        BrandSkeletons::new(skeletons).expect("a few short brand names build an automaton")
    });
    &SKELETONS
}

/// Whether any URL uses a shortener, and whether any imitates a brand.
fn suspicious_links(extracted: &Extracted, scratch: &mut FeatureScratch) -> (bool, bool) {
    let (mut shortener, mut lookalike) = (false, false);
    for url in extracted.urls() {
        let Some(domain) = url.registrable_domain else {
            continue;
        };
        shortener |= SHORTENERS.contains(&domain);
        if lookalike {
            continue;
        }
        domain_skeleton(url.host, &mut scratch.skeleton);
        let registrant = domain.split('.').next().unwrap_or_default();
        lookalike = brand_skeletons()
            .imitated(&scratch.skeleton)
            .any(|brand| registrant != BRANDS[brand]);
    }
    (shortener, lookalike)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(raw: &str) -> (Vec<u32>, Vec<(String, f32)>) {
        let mut normalized = Normalized::new();
        let mut extracted = Extracted::new();
        normalized.set(raw);
        extracted.set(normalized.folded());
        let mut meta = Vec::new();
        let mut scratch = FeatureScratch::default();
        let text = visit(raw, &normalized, &extracted, &mut scratch, 0, |i, v| {
            meta.push((METADATA_FEATURES[i].to_owned(), v))
        })
        .to_vec();
        (text, meta)
    }

    fn buckets_with_subwords(raw: &str, n: u8) -> Vec<u32> {
        let mut normalized = Normalized::new();
        let mut extracted = Extracted::new();
        normalized.set(raw);
        extracted.set(normalized.folded());
        let mut scratch = FeatureScratch::default();
        visit(raw, &normalized, &extracted, &mut scratch, n, |_, _| {}).to_vec()
    }

    #[test]
    fn subword_ngrams_link_spelling_variants() {
        // "update" (6 letters) has three 4-grams; "call" (4) has none beyond the word itself.
        assert_eq!(buckets_with_subwords("update", 4).len(), 1 + 3);
        assert_eq!(buckets_with_subwords("call", 4).len(), 1);
        let shared = |a: &str, b: &str| {
            let b = buckets_with_subwords(b, 4);
            buckets_with_subwords(a, 4)
                .iter()
                .filter(|x| b.contains(x))
                .count()
        };
        assert_eq!(shared("faggot", "faggit"), 1, "the 4-gram `fagg`");
        assert_eq!(shared("verification", "verificaton"), 6);
        assert_eq!(
            buckets_with_subwords("kyc update", 0).len(),
            3,
            "none when the spec has none"
        );
    }

    #[test]
    fn text_without_spaces_gives_character_bigrams() {
        // Five characters: the token itself and four bigrams, whatever the subword setting.
        for n in [0, 4] {
            assert_eq!(buckets_with_subwords("残高を確認", n).len(), 1 + 4);
        }
        let a = buckets_with_subwords("残高を確認", 0);
        let b = buckets_with_subwords("口座の残高", 0);
        assert!(a.iter().any(|x| b.contains(x)), "both hold 残高");
        assert_eq!(
            buckets_with_subwords("日", 0).len(),
            1,
            "one character, no bigram"
        );
    }

    #[test]
    fn unigrams_and_bigrams_with_number_shapes() {
        let (a, _) = features("Call 08712460324 now");
        let (b, _) = features("call 09061701461 NOW");
        assert_eq!(a.len(), 5, "3 unigrams and 2 bigrams");
        assert_eq!(
            a, b,
            "numbers of one shape hash alike, case does not matter"
        );
        let (c, _) = features("call 0871246032 now");
        assert_ne!(a, c, "a different number length is a different shape");
        assert!(
            a.iter()
                .all(|&bucket| (bucket as usize) < FeatureSpec::current().buckets())
        );
    }

    #[test]
    fn disguises_do_not_change_features() {
        assert_eq!(features("FR33 PR1ZE").0, features("free prize").0);
    }

    #[test]
    fn metadata_features() {
        let (_, meta) = features(
            "URGENT!! Your PayPal is locked: paypa1-secure.com/login or bit.ly/x, call 09061701461, £100",
        );
        let names: Vec<_> = meta.iter().map(|(n, _)| n.as_str()).collect();
        for expected in [
            "has_url",
            "url_shortener",
            "lookalike_domain",
            "has_phone",
            "premium_number",
            "currency",
            "exclamations",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        let (_, meta) = features("see you at www.paypal.com later");
        assert!(
            !meta.iter().any(|(n, _)| n == "lookalike_domain"),
            "{meta:?}"
        );
        let (_, meta) = features("ok");
        assert_eq!(meta, [("length_short".to_owned(), 1.0)]);
    }

    #[test]
    fn currency_symbols_are_found_by_their_bytes() {
        assert!(
            has_currency("£5".as_bytes()) && has_currency("5€".as_bytes()) && has_currency(b"$5")
        );
        assert!(
            !has_currency("ß ¬ 5".as_bytes()),
            "other characters ending in A3 or AC"
        );
    }

    #[test]
    fn spec_round_trips_and_counts_dimensions() {
        let spec = FeatureSpec::current();
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(serde_json::from_str::<FeatureSpec>(&json).unwrap(), spec);
        assert_eq!(spec.dimension(), (1 << 18) + METADATA_FEATURES.len());
        assert!(spec.is_computed_here());
        assert!(!FeatureSpec::with_subwords(7).is_computed_here());
    }
}
