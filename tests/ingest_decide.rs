//! The Kafka-free step of the stream processor: records in, one decision each, in order.

mod common;

use warden::config::Topics;
use warden::ingest::decide::{Decision, Input, Record, decide_batch, decide_batch_for};
use warden::message::FeedbackKind;
use warden::policy::PolicyFile;
use warden::privacy::{RecipientHasher, Secret};
use warden::rules::{RuleSet, RuleUnion};
use warden::scoring::Scorer;

fn record(partition: i32, offset: i64, payload: &[u8]) -> Record {
    Record {
        input: Input::Messages,
        partition,
        offset,
        key: Some(b"AC1".to_vec()),
        payload: Some(payload.to_vec()),
    }
}

fn message(id: &str, body: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "message_id": id, "account_id": "AC1", "sent_at": "2026-11-28T17:04:05Z",
        "channel": "sms", "to": "+14155550199", "body": body,
    }))
    .unwrap()
}

#[test]
fn a_batch_over_partitions_keeps_record_order_and_dead_letters_what_cannot_be_decoded() {
    let scorer = common::shipped_scorer();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let records: Vec<Record> = (0..30)
        .map(|i| {
            let partition = i % 3;
            if i == 7 {
                record(partition, i.into(), b"{broken")
            } else {
                record(
                    partition,
                    i.into(),
                    &message(&format!("SM{i:02}"), "see you at 6"),
                )
            }
        })
        .chain([Record {
            input: Input::Messages,
            partition: 0,
            offset: 99,
            key: None,
            payload: None,
        }])
        .collect();
    let key = RecipientHasher::new(&Secret::new("recipient-key-for-tests"));
    let decisions = decide_batch(&pool, &scorer, &key, &Topics::default(), &records);
    assert_eq!(decisions.len(), records.len());
    for (i, decision) in decisions.iter().enumerate() {
        match decision {
            Decision::Verdict { verdict, facts } => {
                assert_eq!(verdict.message_id.as_str(), format!("SM{i:02}"));
                assert_eq!(verdict.action.as_str(), "allow");
                assert!(!facts.observation.abusive && !facts.trigger.has_url);
            }
            Decision::DeadLetter { code, json } => {
                let letter: serde_json::Value = serde_json::from_slice(json).unwrap();
                match i {
                    7 => {
                        assert_eq!(*code, "invalid_json");
                        assert_eq!(letter["source"]["offset"], 7);
                        assert_eq!(letter["source"]["partition"], 1);
                        assert_eq!(letter["payload_base64"], "e2Jyb2tlbg==");
                    }
                    30 => {
                        assert_eq!(*code, "empty_record");
                        assert_eq!(letter["source"]["offset"], 99);
                    }
                    _ => panic!("record {i} dead-lettered: {letter}"),
                }
                assert_eq!(letter["source"]["topic"], "messages");
            }
            Decision::Feedback { .. } => panic!("record {i} taken for feedback"),
        }
    }
}

#[test]
fn feedback_records_are_decoded_for_signals_and_bad_ones_dead_lettered_from_their_topic() {
    let scorer = common::shipped_scorer();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let feedback = |offset: i64, payload: serde_json::Value| Record {
        input: Input::Feedback,
        partition: 2,
        offset,
        key: Some(b"AC1".to_vec()),
        payload: Some(serde_json::to_vec(&payload).unwrap()),
    };
    let records = [
        feedback(
            0,
            serde_json::json!({"message_id": "SM1", "account_id": "AC1",
                "kind": "opt_out", "to": "+1 415 555 0199", "at": "2026-11-28T17:05:00Z"}),
        ),
        feedback(
            1,
            serde_json::json!({"message_id": "SM2", "account_id": "AC1",
                "kind": "bounced", "at": "2026-11-28T17:05:00Z"}),
        ),
        feedback(
            2,
            serde_json::json!({"message_id": "SM3", "kind": "undelivered",
                "at": "2026-11-28T17:05:00Z"}),
        ),
        // An opt-in names no one without its recipient.
        feedback(
            3,
            serde_json::json!({"message_id": "SM4", "account_id": "AC1",
                "kind": "opt_in", "at": "2026-11-28T17:06:00Z"}),
        ),
    ];
    let key = RecipientHasher::new(&Secret::new("recipient-key-for-tests"));
    let decisions = decide_batch(&pool, &scorer, &key, &Topics::default(), &records);
    let Decision::Feedback {
        account_id,
        message_id,
        kind,
        at,
        recipient,
    } = &decisions[0]
    else {
        panic!("not feedback: {:?}", decisions[0]);
    };
    assert_eq!(
        (account_id.as_str(), message_id.as_str(), *kind, *at),
        ("AC1", "SM1", FeedbackKind::OptOut, 1_795_885_500)
    );
    // The recipient travels as its keyed hash, the same as the messages' `to`.
    assert_eq!(*recipient, Some(key.hash("+14155550199")));
    assert_eq!(decisions.len(), 4);
    for (decision, (code, reason)) in decisions[1..].iter().zip([
        ("invalid_field", "unknown feedback \"bounced\""),
        ("missing_field", "missing required field `account_id`"),
        ("missing_field", "missing required field `to`"),
    ]) {
        let Decision::DeadLetter { code: got, json } = decision else {
            panic!("not a dead letter: {decision:?}");
        };
        let letter: serde_json::Value = serde_json::from_slice(json).unwrap();
        assert_eq!(*got, code);
        assert!(
            letter["reason"].as_str().unwrap().contains(reason),
            "{letter}"
        );
        assert_eq!(letter["source"]["topic"], "message-feedback");
        assert_eq!(letter["source"]["partition"], 2);
    }
}

#[test]
fn scorers_deciding_together_decide_as_each_would_alone_with_or_without_a_rule_union() {
    // A backtest's sides: the shipped rules with the model, and a candidate without it whose
    // rules add a greeting rule and change another's weight; then the first again (whose
    // prediction the third reuses).
    let with_model = common::shipped_scorer_with_model();
    let shipped = common::repo_file("config/rules.toml");
    let candidate_rules = shipped.replacen("weight = 0.", "weight = 0.3", 1)
        + "\n[[rule]]\nid = \"fraud.greeting\"\ncategory = \"fraud\"\nseverity = \"high\"\n\
           weight = 0.9\ndescription = \"A greeting\"\nkeywords = [\"see you\"]\n\
           examples.match = [\"see you\"]\nexamples.no_match = [\"hello\"]\n";
    let policy = PolicyFile::from_toml(&common::repo_file("config/policy.toml"))
        .unwrap()
        .message;
    let candidate = Scorer::new(RuleSet::compile(&candidate_rules).unwrap(), None, policy);
    let scorers = [&with_model, &candidate, &with_model];
    let union = RuleUnion::new(
        &[&shipped, &candidate_rules, &shipped],
        &scorers.map(Scorer::rules),
    )
    .expect("the same brand registry");
    assert_eq!(
        union.len(),
        with_model.rules().rules().len() + 2,
        "two rules differ"
    );
    let bodies = [
        "see you at 6",
        "Royal Mail: your parcel is held, a fee of 1.99 is due: https://royalmail-fee.top/pay",
        "URGENT! You have won a 2000 prize. Call 09061701461 now",
        "kill all of them",
    ];
    let mut records: Vec<Record> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| record(0, i as i64, &message(&format!("SM{i}"), body)))
        .collect();
    records.push(record(0, 9, b"{broken"));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let key = RecipientHasher::new(&Secret::new("recipient-key-for-tests"));
    let topics = Topics::default();
    let alone = scorers.map(|scorer| decide_batch(&pool, scorer, &key, &topics, &records));
    let summary = |decision: &Decision| match decision {
        Decision::Verdict { verdict, facts } => format!(
            "{} {:?} {:?} {:?} {:?} {:?}",
            verdict.action.as_str(),
            verdict.scores,
            verdict.rule_hits,
            verdict.model_version,
            facts.observation,
            facts.trigger,
        ),
        Decision::DeadLetter { code, .. } => format!("dead letter {code}"),
        Decision::Feedback { .. } => "feedback".to_owned(),
    };
    for union in [None, Some(&union)] {
        let together = decide_batch_for(&pool, scorers, union, &key, &topics, &records);
        assert_eq!(together.len(), records.len());
        for (i, decisions) in together.iter().enumerate() {
            for (side, decision) in decisions.iter().enumerate() {
                assert_eq!(
                    summary(decision),
                    summary(&alone[side][i]),
                    "record {i}, scorer {side}, union {}",
                    union.is_some()
                );
            }
        }
    }
    let actions: Vec<Vec<String>> = alone
        .iter()
        .map(|side| side.iter().map(summary).collect())
        .collect();
    assert!(actions[0][0].starts_with("allow"), "{actions:?}");
    assert!(
        actions[1][0].contains("fraud.greeting"),
        "the candidate's new rule hits the greeting: {actions:?}"
    );
    assert!(!actions[1][0].starts_with("allow"), "{actions:?}");
    assert_eq!(actions[0][4], "dead letter invalid_json");
}
