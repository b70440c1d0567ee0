//! Spelling variants of listed phrases: a slur or a group's name typed with one slip ("wmoen",
//! "imigrants", "parasties", "terrorrists") matches as the phrase does.
//!
//! Hate speech is misspelt on purpose to slip past filters, and by accident, and the functional
//! tests of hate-speech detectors check both. The variants are written out into the lists at
//! compile time, so matching stays one automaton pass and a regex per candidate, with no
//! per-message cost beyond a larger automaton. A slip that makes another word ("beasts" →
//! "beats", "blacks" → "backs") is named in the file's `not` and never generated.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

/// The rules file's `[spelling_variants]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SpellingVariants {
    /// Lists of `[lists]` whose phrases also match with one slip in one word.
    #[serde(default)]
    pub lists: Vec<String>,
    /// Slips that are words of their own, never generated.
    #[serde(default)]
    pub not: Vec<String>,
}

/// `lists`, with every list `variants` names extended by its phrases' variants (in a stable
/// order), less `variants.not` and less every phrase of any list. On failure, every reason: a
/// list it names that `[lists]` does not define, or a `not` that no phrase could slip into (a
/// stale exception, which would hide a change to the lists).
pub(super) fn with_spelling_variants(
    lists: &BTreeMap<String, Vec<String>>,
    variants: &SpellingVariants,
) -> Result<BTreeMap<String, Vec<String>>, Vec<String>> {
    let listed: BTreeSet<&str> = lists.values().flatten().map(String::as_str).collect();
    let excluded: BTreeSet<&str> = variants.not.iter().map(String::as_str).collect();
    let mut extended = lists.clone();
    let mut problems = Vec::new();
    let mut slips_seen = BTreeSet::new();
    for name in &variants.lists {
        let Some(phrases) = lists.get(name) else {
            problems.push(format!(
                "[spelling_variants] names the list `{name}`, which `[lists]` does not define"
            ));
            continue;
        };
        let slips: BTreeSet<String> = phrases.iter().flat_map(|p| slips_of(p)).collect();
        let list = extended.get_mut(name).expect("a list of `lists`");
        for slip in slips {
            if !listed.contains(slip.as_str()) && !excluded.contains(slip.as_str()) {
                list.push(slip.clone());
            }
            slips_seen.insert(slip);
        }
    }
    for word in &variants.not {
        if !slips_seen.contains(word) {
            problems.push(format!(
                "[spelling_variants] `not` holds {word:?}, which no listed phrase slips into"
            ));
        }
    }
    if problems.is_empty() {
        Ok(extended)
    } else {
        Err(problems)
    }
}

/// A one-word phrase with one slip: two neighbouring letters swapped (words of five letters or
/// more), or an inner letter dropped or a letter doubled (six or more). Shorter words have too
/// many real words one slip away ("jews" → "news"); dropping the first or last letter turns a
/// plural into a singular or another word ("blacks" → "black"). Phrases of several words ("gay
/// people") and words with anything but a-z are left alone: their slips would multiply the
/// automata past the size a rule may compile to (see `REGEX_SIZE_LIMIT`).
fn slips_of(word: &str) -> BTreeSet<String> {
    let letters = word.as_bytes();
    let n = letters.len();
    if n < 5 || !letters.iter().all(u8::is_ascii_lowercase) {
        return BTreeSet::new();
    }
    let mut slips: Vec<Vec<u8>> = (0..n - 1)
        .filter(|&i| letters[i] != letters[i + 1])
        .map(|i| {
            let mut swapped = letters.to_vec();
            swapped.swap(i, i + 1);
            swapped
        })
        .collect();
    if n >= 6 {
        slips.extend((1..n - 1).map(|i| [&letters[..i], &letters[i + 1..]].concat()));
        slips.extend((0..n).map(|i| [&letters[..=i], &letters[i..]].concat()));
    }
    slips
        .into_iter()
        .map(|slip| String::from_utf8(slip).expect("ASCII letters"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists(entries: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        entries
            .iter()
            .map(|(name, phrases)| {
                (
                    name.to_string(),
                    phrases.iter().map(|p| p.to_string()).collect(),
                )
            })
            .collect()
    }

    fn variants(lists: &[&str], not: &[&str]) -> SpellingVariants {
        SpellingVariants {
            lists: lists.iter().map(|s| s.to_string()).collect(),
            not: not.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_word_slips_by_a_swap_a_dropped_inner_letter_or_a_doubled_letter() {
        let slips = slips_of("vermin");
        for slip in ["evrmin", "vermni", "vermn", "vrmin", "vvermin", "verminn"] {
            assert!(slips.contains(slip), "{slip} missing from {slips:?}");
        }
        // The first and last letters are never dropped: "vermin" is no plural, but "blacks"
        // would become "black".
        assert!(!slips.contains("ermin") && !slips.contains("vermi"));
        assert!(!slips_of("blacks").contains("black"));
        // Five letters: swaps only; four or fewer: none.
        assert_eq!(slips_of("women").len(), 4);
        assert!(slips_of("jews").is_empty());
        // Phrases of several words and words with other characters are left alone.
        assert!(slips_of("disabled people").is_empty());
        assert!(slips_of("sub-human").is_empty());
    }

    #[test]
    fn named_lists_gain_their_slips_less_exceptions_and_listed_phrases() {
        let source = lists(&[
            ("animals", &["beasts", "beats"]),
            ("groups", &["women"]),
            ("other", &["wmoen"]),
        ]);
        let extended =
            with_spelling_variants(&source, &variants(&["animals", "groups"], &["bests"])).unwrap();
        let animals = &extended["animals"];
        assert!(animals.contains(&"baests".to_owned()));
        assert!(!animals.contains(&"bests".to_owned()), "an exception");
        // "beats" is one slip from "beasts" but is itself listed; "wmoen" is in another list.
        assert_eq!(animals.iter().filter(|p| *p == "beats").count(), 1);
        assert!(!extended["groups"].contains(&"wmoen".to_owned()));
        assert_eq!(extended["other"], ["wmoen"], "unnamed lists are left alone");
    }

    /// Every slip the shipped rules generate, checked against Debian's word lists (packages
    /// `wamerican` and `wbritish`, which `.ci/run` installs): a slip that is an English word
    /// ("beats") would match that word, so it must be in `not`. Skips without the lists, unless
    /// `WARDEN_REQUIRE_WORD_LISTS=1` (CI).
    #[test]
    fn no_slip_the_shipped_rules_generate_is_an_english_word() {
        let paths = [
            "/usr/share/dict/american-english",
            "/usr/share/dict/british-english",
        ];
        let Ok(word_lists) = paths
            .iter()
            .map(std::fs::read_to_string)
            .collect::<Result<Vec<_>, _>>()
        else {
            assert!(
                std::env::var_os("WARDEN_REQUIRE_WORD_LISTS").is_none_or(|v| v != "1"),
                "{paths:?} missing and WARDEN_REQUIRE_WORD_LISTS=1"
            );
            eprintln!("skipped: {paths:?} missing (Debian packages wamerican, wbritish)");
            return;
        };
        let english: BTreeSet<String> = word_lists
            .iter()
            .flat_map(|list| list.lines())
            .map(str::to_lowercase)
            .collect();
        let file: crate::rules::file::RulesFile =
            toml::from_str(include_str!("../../config/rules.toml")).expect("the shipped rules");
        let shipped = with_spelling_variants(&file.lists, &file.spelling_variants).unwrap();
        let words: Vec<&String> = file
            .spelling_variants
            .lists
            .iter()
            .flat_map(|name| &shipped[name][file.lists[name].len()..])
            .filter(|slip| english.contains(slip.as_str()))
            .collect();
        assert!(
            words.is_empty(),
            "slips that are English words, to add to `not` in config/rules.toml: {words:?}"
        );
    }

    #[test]
    fn unknown_lists_and_stale_exceptions_are_refused() {
        let source = lists(&[("groups", &["women"])]);
        let problems =
            with_spelling_variants(&source, &variants(&["groups", "pets"], &["wmoen", "cats"]))
                .unwrap_err();
        assert_eq!(
            problems,
            [
                "[spelling_variants] names the list `pets`, which `[lists]` does not define",
                "[spelling_variants] `not` holds \"cats\", which no listed phrase slips into",
            ]
        );
    }
}
