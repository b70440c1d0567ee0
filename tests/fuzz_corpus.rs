//! The fuzzers' corpora (`fuzz/corpus/<target>`, minimized) replayed as regression tests: every
//! input that once widened coverage, or crashed, must keep going through without a panic. The
//! fuzzers themselves run with `cargo fuzz` (see README); this runs on stable with the tests.

mod common;

use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use warden::message::{FeedbackEvent, MessageEvent};
use warden::rules::RuleSet;
use warden::scoring::Scratch;

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

#[test]
fn every_decoding_input_decodes_or_is_refused_and_scores() {
    let scorer = common::shipped_scorer_with_model();
    let mut scratch = Scratch::new();
    for (path, bytes) in inputs("decode_message") {
        let _ = FeedbackEvent::decode(&bytes);
        if let Ok(event) = MessageEvent::decode(&bytes) {
            let (verdict, _) =
                scorer.verdict_with_assessment(&event, &mut scratch, OffsetDateTime::UNIX_EPOCH);
            assert_eq!(verdict.message_id, event.message_id, "{}", path.display());
        }
    }
}

#[test]
fn every_text_input_scores() {
    let scorer = common::shipped_scorer_with_model();
    let mut scratch = Scratch::new();
    for (path, bytes) in inputs("score_text") {
        let body = String::from_utf8_lossy(&bytes);
        let record = serde_json::json!({
            "message_id": "SMfuzz", "account_id": "ACfuzz", "sent_at": "2026-11-30T00:00:00Z",
            "channel": "sms", "to": "+15550000000", "body": body,
        });
        if let Ok(event) = MessageEvent::decode(&serde_json::to_vec(&record).unwrap()) {
            let (verdict, _) =
                scorer.verdict_with_assessment(&event, &mut scratch, OffsetDateTime::UNIX_EPOCH);
            let scores = [
                verdict.scores.spam,
                verdict.scores.fraud,
                verdict.scores.aup,
            ];
            assert!(
                scores.iter().all(|s| (0.0..=1.0).contains(s)),
                "{}",
                path.display()
            );
        }
    }
}

#[test]
fn every_rules_input_is_accepted_or_refused() {
    for (_, bytes) in inputs("rules_file") {
        let _ = RuleSet::compile(&String::from_utf8_lossy(&bytes));
    }
}
