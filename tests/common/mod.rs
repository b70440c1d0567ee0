//! Helpers shared by integration tests.
#![allow(dead_code)] // each test binary uses its own subset

pub mod database;
pub mod kafka;

use std::path::PathBuf;

use warden::model::train::{TrainConfig, TrainingInfo};
use warden::model::{Heads, Model, ModelFile};
use warden::policy::PolicyFile;
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

/// A reviewers file (`[[reviewer]] name, role, token_sha256`) for `(name, role, token)`s.
pub fn reviewers_toml(entries: &[(&str, &str, &str)]) -> String {
    entries
        .iter()
        .map(|(name, role, token)| {
            format!(
                "[[reviewer]]\nname = \"{name}\"\nrole = \"{role}\"\ntoken_sha256 = \"{}\"\n",
                warden::api::auth::token_hash(token)
            )
        })
        .collect()
}

/// Appeal settings for a test API signing tokens with `secret`.
pub fn appeal_settings(secret: &str) -> warden::enforce::AppealSettings {
    warden::enforce::AppealSettings {
        secret: warden::privacy::Secret::new(secret),
        base_url: "https://warden.example.com/appeal".into(),
        days: 30,
        policy_url: "https://warden.example.com/acceptable-use".into(),
        redress: "Refer it to a dispute settlement body or the courts.".into(),
        warning_next_step: String::new(),
        clause_urls: Default::default(),
    }
}

/// A file of this repository, read whole (panics with its path when it cannot be read).
pub fn repo_file(relative: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One row of the hand-written corpus (`tests/data/corpus.tsv`) or of a probe in its form.
pub struct CorpusRow {
    /// 1-based line in the file.
    pub line: usize,
    pub label: &'static str,
    /// The action expected under the shipped rules and policy.
    pub action: &'static str,
    pub text: &'static str,
}

/// The hand-written corpus's rows, past its comments and header line.
pub fn corpus() -> Vec<CorpusRow> {
    labelled_rows("tests/data/corpus.tsv", include_str!("../data/corpus.tsv"))
}

/// The rows of a labelled file in the corpus's form (`label<TAB>action<TAB>text`, `#` comments
/// and a header line skipped), such as the probes in `tests/data/probes/`; `path` names it in
/// errors.
pub fn labelled_rows(path: &str, contents: &'static str) -> Vec<CorpusRow> {
    contents
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty() && !l.starts_with("label\t"))
        .map(|(index, line)| {
            let mut fields = line.splitn(3, '\t');
            let (Some(label), Some(action), Some(text)) =
                (fields.next(), fields.next(), fields.next())
            else {
                panic!("{path}:{}: expected label<TAB>action<TAB>text", index + 1);
            };
            CorpusRow {
                line: index + 1,
                label,
                action,
                text,
            }
        })
        .collect()
}

/// The rules-only scorer built from the shipped `config/rules.toml` and `config/policy.toml`.
pub fn shipped_scorer() -> Scorer {
    let rules = RuleSet::compile(&repo_file("config/rules.toml")).unwrap_or_else(|e| panic!("{e}"));
    let policy = PolicyFile::from_toml(&repo_file("config/policy.toml"))
        .unwrap_or_else(|e| panic!("{e}"))
        .message;
    Scorer::new(rules, None, policy)
}

/// The scorer built from the shipped rules, policy and `models/warden.json`.
pub fn shipped_scorer_with_model() -> Scorer {
    let model =
        Model::from_json(&repo_file("models/warden.json")).unwrap_or_else(|e| panic!("{e}"));
    scorer_with(model)
}

/// The shipped rules and policy with a given model.
pub fn scorer_with(model: Model) -> Scorer {
    let rules = RuleSet::compile(&repo_file("config/rules.toml")).unwrap_or_else(|e| panic!("{e}"));
    let policy = PolicyFile::from_toml(&repo_file("config/policy.toml"))
        .unwrap_or_else(|e| panic!("{e}"))
        .message;
    Scorer::new(rules, Some(model), policy)
}

/// Runs a `warden` command that prints one JSON object, fails the test with its stderr when it
/// does not succeed, and returns the object.
pub fn json_output(command: &mut std::process::Command) -> serde_json::Value {
    let output = command.output().expect("warden runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object on stdout")
}

/// A sealed model file around trained heads.
pub fn model_file(heads: Heads, config: &TrainConfig) -> ModelFile {
    let mut file = ModelFile {
        format: "warden-model".to_owned(),
        format_version: 1,
        version: "test".to_owned(),
        created_at: "2026-11-29T00:00:00Z".to_owned(),
        feature_spec: config.feature_spec(),
        training: TrainingInfo {
            config: config.clone(),
            sources: vec![],
            rows: Default::default(),
            candidates: Default::default(),
        },
        metrics: serde_json::Value::Null,
        heads,
        weights_sha256: String::new(),
    };
    file.seal();
    file
}
