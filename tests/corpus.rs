//! The hand-written labelled corpus (`tests/data/corpus.tsv`) through the shipped rules and policy:
//! each message gets exactly the action it is labelled with.

mod common;

use warden::message::Action;
use warden::scoring::Scratch;

#[test]
fn every_corpus_message_gets_its_expected_action() {
    let scorer = common::shipped_scorer();
    let mut scratch = Scratch::new();
    let corpus = include_str!("data/corpus.tsv");
    let mut failures = Vec::new();
    let mut rows = 0;
    for (number, line) in corpus.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields = line.splitn(3, '\t');
        let (Some(label), Some(expected), Some(text)) =
            (fields.next(), fields.next(), fields.next())
        else {
            panic!(
                "tests/data/corpus.tsv:{}: expected label<TAB>action<TAB>text",
                number + 1
            );
        };
        assert!(
            ["ham", "spam", "fraud", "aup"].contains(&label),
            "line {}: label {label:?}",
            number + 1
        );
        let expected = match expected {
            "allow" => Action::Allow,
            "flag" => Action::Flag,
            "block" => Action::Block,
            other => panic!(
                "tests/data/corpus.tsv:{}: unknown action {other:?}",
                number + 1
            ),
        };
        rows += 1;
        let assessment = scorer.assess(text, &mut scratch);
        if assessment.action != expected {
            let hits: Vec<_> = scratch
                .matches
                .iter()
                .map(|i| scorer.rules().rule(i).id.as_str())
                .collect();
            failures.push(format!(
                "line {}: {label}, expected {expected:?}, got {:?} (scores {:?}, hits {hits:?}): {text}",
                number + 1,
                assessment.action,
                assessment.scores
            ));
        }
    }
    assert!(rows > 0, "the corpus is empty");
    assert!(
        failures.is_empty(),
        "{} of {rows} corpus messages misjudged:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
