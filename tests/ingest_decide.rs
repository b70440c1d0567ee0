//! The Kafka-free step of the stream processor: records in, one decision each, in order.

mod common;

use warden::ingest::decide::{Decision, Record, decide_batch};
use warden::privacy::Secret;

fn record(partition: i32, offset: i64, payload: &[u8]) -> Record {
    Record {
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
            partition: 0,
            offset: 99,
            key: None,
            payload: None,
        }])
        .collect();
    let key = Secret::new("recipient-key-for-tests");
    let decisions = decide_batch(&pool, &scorer, &key, "messages", &records);
    assert_eq!(decisions.len(), records.len());
    for (i, decision) in decisions.iter().enumerate() {
        match decision {
            Decision::Verdict { verdict, facts } => {
                assert_eq!(verdict.message_id.as_str(), format!("SM{i:02}"));
                assert_eq!(verdict.action.as_str(), "allow");
                assert!(!facts.observation.abusive && !facts.evidence.has_url);
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
        }
    }
}
