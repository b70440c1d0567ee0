//! The shipped rules alone on the UCI SMS Spam Collection (needs `../shared/data`).
//!
//! Rules must be safe to run without the model: they may block at most 0.5 % of ordinary (ham)
//! messages. Run with `--nocapture` to see the figures.

mod common;

use warden::dataset::{self, Label};
use warden::message::Action;
use warden::scoring::Scratch;

#[test]
fn rules_alone_block_at_most_half_a_percent_of_uci_ham() {
    let Some(path) = common::shared_data("sms_spam_collection/SMSSpamCollection") else {
        return;
    };
    let scorer = common::shipped_scorer();
    let mut scratch = Scratch::new();
    // [flagged, blocked, total] for ham and spam.
    let (mut ham, mut spam) = ([0usize; 3], [0usize; 3]);
    let mut blocked_ham = Vec::new();
    for (label, text) in dataset::read_labelled(&path).unwrap() {
        let action = scorer.assess(&text, &mut scratch).action;
        let counts = if label == Label::Ham {
            &mut ham
        } else {
            &mut spam
        };
        counts[2] += 1;
        if action >= Action::Flag {
            counts[0] += 1;
        }
        if action == Action::Block {
            counts[1] += 1;
            if label == Label::Ham {
                let hits: Vec<_> = scratch
                    .matches
                    .iter()
                    .map(|i| scorer.rules().rule(i).id.as_str())
                    .collect();
                blocked_ham.push(format!("{hits:?} {text}"));
            }
        }
    }
    let pct = |n: usize, total: usize| 100.0 * n as f64 / total as f64;
    println!(
        "UCI, rules only: ham {} rows: flagged {} ({:.2} %), blocked {} ({:.2} %); \
         spam {} rows: flagged {} ({:.2} %), blocked {} ({:.2} %)",
        ham[2],
        ham[0],
        pct(ham[0], ham[2]),
        ham[1],
        pct(ham[1], ham[2]),
        spam[2],
        spam[0],
        pct(spam[0], spam[2]),
        spam[1],
        pct(spam[1], spam[2]),
    );
    for line in &blocked_ham {
        println!("  blocked ham: {line}");
    }
    assert_eq!(ham[2] + spam[2], 5574, "the whole collection was read");
    assert!(
        pct(ham[1], ham[2]) <= 0.5,
        "rules alone block {} ham messages",
        ham[1]
    );
}
