//! Helpers shared by integration tests.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::PathBuf;

use warden::policy::Policy;
use warden::rules::RuleSet;
use warden::scoring::Scorer;

/// A file of the labelled datasets in `../shared/data`, or `None` (test skipped, with a note on
/// stderr) when they are absent. CI sets `WARDEN_REQUIRE_SHARED_DATA=1`, which turns a missing
/// file into a failure so that no data test is skipped silently there.
pub fn shared_data(relative: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(relative);
    if path.is_file() {
        return Some(path);
    }
    if std::env::var_os("WARDEN_REQUIRE_SHARED_DATA").is_some_and(|v| v == "1") {
        panic!(
            "{} is missing and WARDEN_REQUIRE_SHARED_DATA=1",
            path.display()
        );
    }
    eprintln!("skipped: {} is absent", path.display());
    None
}

/// `(label, text)` rows of a `label<TAB>text` file.
pub fn labelled_rows(path: &std::path::Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(label, text)| (label.to_owned(), text.to_owned()))
        .collect()
}

fn repo_file(relative: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The scorer built from the shipped `config/rules.toml` and `config/policy.toml`.
pub fn shipped_scorer() -> Scorer {
    let rules = RuleSet::compile(&repo_file("config/rules.toml")).unwrap_or_else(|e| panic!("{e}"));
    let policy =
        Policy::from_toml(&repo_file("config/policy.toml")).unwrap_or_else(|e| panic!("{e}"));
    Scorer::new(rules, policy)
}
