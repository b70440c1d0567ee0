//! One compiled set holding the rules of several rules files, each distinct rule once: a
//! backtest matches a message against it once and reads each side's hits through that side's
//! map, instead of running every side's set over the message.
//!
//! Rules are the same when their `[[rule]]` tables are equal, so a candidate that adds, changes
//! or removes a few rules costs those rules and no more. A rule whose table differs between files
//! is held once per version, the later ones under a new id that only the union sees.

use std::collections::HashMap;

use toml::{Table, Value};

use super::compile::source_version;
use super::diff::rules_by_id;
use super::{Matches, RuleSet};
use crate::text::{Extracted, Normalized};

/// The union of several rules files, and each file's view of it.
#[derive(Debug)]
pub struct RuleUnion {
    set: RuleSet,
    /// Per side: for each rule of the union, its index in that side's own set, if it has it.
    maps: Vec<Vec<Option<u32>>>,
}

impl RuleUnion {
    /// The union of rules files, given each file's source and the set it compiled to. `None`
    /// when the sets were compiled against different brand registries (the union would have to
    /// choose one) or a source is not what its set was compiled from (the file changed since);
    /// then each side matches on its own.
    pub fn new(sources: &[&str], sides: &[&RuleSet]) -> Option<Self> {
        let brands = &sides.first()?.brands;
        let compiled_from = |(source, side): (&&str, &&RuleSet)| {
            side.brands.digest() == brands.digest()
                && source_version(source, brands) == side.version()
        };
        if sources.len() != sides.len() || !sources.iter().zip(sides).all(compiled_from) {
            return None;
        }
        // Each distinct table once, with the sides (and their ids) that hold it.
        let mut tables: Vec<Table> = Vec::new();
        let mut holders: Vec<Vec<(usize, String)>> = Vec::new();
        let mut ids: HashMap<String, usize> = HashMap::new();
        for (side, source) in sources.iter().enumerate() {
            for (id, table) in rules_by_id(source).ok()? {
                if let Some(known) = tables.iter().position(|t| *t == table) {
                    holders[known].push((side, id));
                    continue;
                }
                let mut held = table;
                // Another version of a rule already held: its own id in the union.
                let mut union_id = id.clone();
                while ids.contains_key(&union_id) {
                    union_id = format!("{union_id}_{side}");
                }
                held.insert("id".into(), Value::String(union_id.clone()));
                ids.insert(union_id, tables.len());
                tables.push(held);
                holders.push(vec![(side, id)]);
            }
        }
        let mut file = Table::new();
        file.insert(
            "rule".into(),
            Value::Array(tables.into_iter().map(Value::Table).collect()),
        );
        let set =
            RuleSet::compile_with_brands(&toml::to_string(&file).ok()?, brands.clone()).ok()?;
        let maps = sides
            .iter()
            .enumerate()
            .map(|(side, rules)| {
                let index: HashMap<&str, u32> = rules
                    .rules()
                    .iter()
                    .enumerate()
                    .map(|(i, rule)| (rule.id.as_str(), i as u32))
                    .collect();
                holders
                    .iter()
                    .map(|held| {
                        held.iter()
                            .find(|(s, _)| *s == side)
                            .and_then(|(_, id)| index.get(id.as_str()).copied())
                    })
                    .collect()
            })
            .collect();
        Some(Self { set, maps })
    }

    /// Finds every rule of the union that hits one message; the result is left in `matches`.
    pub fn find(&self, normalized: &Normalized, extracted: &Extracted, matches: &mut Matches) {
        self.set.find(normalized, extracted, matches);
    }

    /// The hits of side `side` among the union's `found`, as its own set's indices, into
    /// `matches`: what that side's [`RuleSet::find`] would have left there.
    pub fn hits_of(&self, side: usize, found: &Matches, matches: &mut Matches) {
        let map = &self.maps[side];
        matches.set_hits(
            map.len(),
            found
                .iter()
                .filter_map(|rule| map[rule].map(|i| i as usize)),
        );
    }

    /// Rules in the union: fewer than the sides' together by the rules they share.
    pub fn len(&self) -> usize {
        self.set.rules().len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.rules().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{hits, rule};
    use super::*;

    #[test]
    fn shared_rules_are_held_once_and_each_side_sees_its_own_hits() {
        let shared = rule(
            "spam.prize",
            "spam",
            "keywords = [\"free prize\"]",
            "free prize",
            "a cake",
        );
        let old_lure = rule(
            "fraud.lure",
            "fraud",
            "keywords = [\"locked\"]",
            "locked",
            "open",
        );
        let new_lure = rule(
            "fraud.lure",
            "fraud",
            "keywords = [\"suspended\"]",
            "suspended",
            "open",
        );
        let added = rule(
            "fraud.fee",
            "fraud",
            "keywords = [\"fee\"]",
            "a fee",
            "free",
        );
        let current_source = format!("{shared}{old_lure}");
        let candidate_source = format!("{added}{new_lure}{shared}");
        let current = RuleSet::compile(&current_source).unwrap();
        let candidate = RuleSet::compile(&candidate_source).unwrap();
        let union = RuleUnion::new(
            &[&current_source, &candidate_source],
            &[&current, &candidate],
        )
        .unwrap();
        assert_eq!(
            union.len(),
            4,
            "the shared rule once, both versions of the lure, the new rule"
        );
        assert!(
            RuleUnion::new(&[&current_source, &current_source], &[&current, &candidate]).is_none(),
            "a source that is not what its set was compiled from"
        );

        let mut normalized = Normalized::new();
        let mut extracted = Extracted::new();
        let (mut found, mut side) = (Matches::new(), Matches::new());
        for text in [
            "free prize: your account is locked, pay the fee",
            "your account is suspended",
            "hello",
        ] {
            normalized.set(text);
            extracted.set(normalized.folded());
            union.find(&normalized, &extracted, &mut found);
            for (index, set) in [&current, &candidate].into_iter().enumerate() {
                union.hits_of(index, &found, &mut side);
                let seen: Vec<String> = side.iter().map(|i| set.rule(i).id.to_string()).collect();
                assert_eq!(seen, hits(set, text), "side {index} on {text:?}");
            }
        }
    }

    #[test]
    fn sets_compiled_against_different_brand_registries_have_no_union() {
        let source = rule(
            "spam.prize",
            "spam",
            "keywords = [\"free prize\"]",
            "free prize",
            "a cake",
        );
        let shipped = RuleSet::compile(&source).unwrap();
        let bare =
            RuleSet::compile_with_brands(&source, super::super::BrandRegistry::empty()).unwrap();
        assert!(RuleUnion::new(&[&source, &source], &[&shipped, &bare]).is_none());
    }
}
