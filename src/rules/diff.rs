//! What changed between two rules files, rule by rule: rules added, removed, and changed (with
//! the settings that changed), read from their sources. A promotion from shadow to enforce is a
//! change of `mode`. For `warden rules diff`; both files are validated before they are compared.

use std::collections::BTreeMap;
use std::fmt;

use toml::{Table, Value};

use super::compile::expand_lists;
use super::variants::{SpellingVariants, with_spelling_variants};

/// The rules added, removed and changed from one file to another, in the new file's order
/// (removed ones in the old file's).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RulesDiff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Each changed rule's id and the settings that differ.
    pub changed: Vec<(String, Vec<String>)>,
}

impl RulesDiff {
    /// Compares two rules files' sources. A source that is not TOML with `[[rule]]` tables of
    /// an `id` is refused (check the files first: `warden rules check`).
    pub fn between(old: &str, new: &str) -> Result<Self, String> {
        let (old, new) = (rules_by_id(old)?, rules_by_id(new)?);
        let find = |rules: &[(String, Table)], id: &str| {
            rules
                .iter()
                .find(|(other, _)| other == id)
                .map(|(_, table)| table.clone())
        };
        let mut diff = RulesDiff::default();
        for (id, rule) in &new {
            match find(&old, id) {
                None => diff.added.push(id.clone()),
                Some(before) => {
                    let fields = changed_fields(&before, rule);
                    if !fields.is_empty() {
                        diff.changed.push((id.clone(), fields));
                    }
                }
            }
        }
        diff.removed = old
            .iter()
            .filter(|(id, _)| find(&new, id).is_none())
            .map(|(id, _)| id.clone())
            .collect();
        Ok(diff)
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// One line per kind of change, or `no rule changed`.
impl fmt::Display for RulesDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return writeln!(f, "no rule changed");
        }
        if !self.added.is_empty() {
            writeln!(f, "added ({}): {}", self.added.len(), self.added.join(", "))?;
        }
        if !self.removed.is_empty() {
            writeln!(
                f,
                "removed ({}): {}",
                self.removed.len(),
                self.removed.join(", ")
            )?;
        }
        if !self.changed.is_empty() {
            let changed: Vec<String> = self
                .changed
                .iter()
                .map(|(id, fields)| format!("{id} ({})", fields.join(", ")))
                .collect();
            writeln!(
                f,
                "changed ({}): {}",
                self.changed.len(),
                changed.join(", ")
            )?;
        }
        Ok(())
    }
}

/// The `[[rule]]` tables of a source, by id, in file order, with the `[lists]` their patterns
/// name written out (spelling variants included): a rule whose list changed is a changed rule,
/// and a table stands alone.
pub(super) fn rules_by_id(source: &str) -> Result<Vec<(String, Table)>, String> {
    let file: Table = toml::from_str(source).map_err(|e| e.to_string())?;
    let Some(Value::Array(rules)) = file.get("rule") else {
        return Err("no [[rule]] tables".into());
    };
    let lists: BTreeMap<String, Vec<String>> = match file.get("lists") {
        Some(lists) => lists
            .clone()
            .try_into()
            .map_err(|e| format!("[lists]: {e}"))?,
        None => BTreeMap::new(),
    };
    let variants: SpellingVariants = match file.get("spelling_variants") {
        Some(table) => table
            .clone()
            .try_into()
            .map_err(|e| format!("[spelling_variants]: {e}"))?,
        None => SpellingVariants::default(),
    };
    let lists =
        with_spelling_variants(&lists, &variants).map_err(|problems| problems.join("; "))?;
    rules
        .iter()
        .map(|rule| {
            let mut table = rule
                .as_table()
                .ok_or("a [[rule]] that is not a table")?
                .clone();
            let id = table
                .get("id")
                .and_then(Value::as_str)
                .ok_or("a [[rule]] without an id")?
                .to_owned();
            for key in ["pattern", "unless"] {
                if let Some(Value::String(pattern)) = table.get(key) {
                    let expanded = expand_lists(pattern, &lists)?;
                    table.insert(key.into(), Value::String(expanded));
                }
            }
            Ok((id, table))
        })
        .collect()
}

/// The settings of a rule that differ (set in one and not the other, or set differently),
/// sorted. `examples.match` and `examples.no_match` count as `examples`.
fn changed_fields(old: &Table, new: &Table) -> Vec<String> {
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|key| old.get(*key) != new.get(*key))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, weight: f64, mode: &str) -> String {
        format!(
            "[[rule]]\nid = \"{id}\"\ncategory = \"spam\"\nweight = {weight}\nmode = \"{mode}\"\n\n"
        )
    }

    #[test]
    fn added_removed_and_changed_rules_are_named_with_what_changed() {
        let old = rule("spam.a", 0.5, "enforce")
            + &rule("spam.b", 0.5, "shadow")
            + &rule("spam.c", 0.5, "enforce");
        let new = rule("spam.b", 0.5, "enforce")
            + &rule("spam.c", 0.5, "enforce")
            + &rule("spam.d", 0.9, "shadow");
        let diff = RulesDiff::between(&old, &new).unwrap();
        assert_eq!(
            diff,
            RulesDiff {
                added: vec!["spam.d".into()],
                removed: vec!["spam.a".into()],
                changed: vec![("spam.b".into(), vec!["mode".into()])],
            }
        );
        assert_eq!(
            diff.to_string(),
            "added (1): spam.d\nremoved (1): spam.a\nchanged (1): spam.b (mode)\n"
        );
        assert!(RulesDiff::between(&old, &old).unwrap().is_empty());
        assert!(RulesDiff::between("x = ", &old).is_err());
    }

    #[test]
    fn a_rule_whose_list_changed_is_changed_and_an_undefined_list_is_refused() {
        let with = |pets: &str| {
            format!(
                "[lists]\npets = [{pets}]\n\n[[rule]]\nid = \"spam.p\"\npattern = '{{pets}} x'\n\n{}",
                rule("spam.q", 0.5, "enforce")
            )
        };
        let diff = RulesDiff::between(&with("\"cats\""), &with("\"cats\", \"dogs\"")).unwrap();
        assert_eq!(
            diff.changed,
            [("spam.p".to_owned(), vec!["pattern".to_owned()])]
        );
        // Spelling variants change what the list matches, so they change its rules too.
        let slipped = format!(
            "[spelling_variants]\nlists = [\"pets\"]\n\n{}",
            with("\"parrots\"")
        );
        let diff = RulesDiff::between(&with("\"parrots\""), &slipped).unwrap();
        assert_eq!(diff.changed.len(), 1, "{diff}");
        let undefined = "[[rule]]\nid = \"spam.p\"\npattern = '{pets} x'\n";
        assert!(
            RulesDiff::between(undefined, undefined)
                .unwrap_err()
                .contains("`{pets}`")
        );
    }
}
