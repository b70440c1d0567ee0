//! `warden backtest` over recorded topics on a real broker (tansu): only the records between
//! `--from` and `--to` are read, delivery feedback is taken into the accounts' signals, and no
//! consumer group's offsets change. (`tests/cli.rs` backtests a file.)

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use common::kafka::{Broker, TopicNames};

const HOUR_MS: i64 = 3_600_000;

/// Produces `(key, JSON)` records to `topic` with the record time `at_ms`.
fn produce_at(broker: &Broker, topic: &str, at_ms: i64, records: &[(String, serde_json::Value)]) {
    let producer: BaseProducer = warden::harness::client(&broker.address())
        .set("acks", "all")
        .create()
        .expect("producer");
    for (key, json) in records {
        let payload = json.to_string();
        producer
            .send(
                BaseRecord::to(topic)
                    .key(key)
                    .payload(&payload)
                    .timestamp(at_ms),
            )
            .map_err(|(error, _)| error)
            .expect("queued");
    }
    producer
        .flush(Duration::from_secs(30))
        .expect("acknowledged");
}

fn messages(
    accounts: std::ops::Range<usize>,
    count: usize,
    body: &str,
) -> Vec<(String, serde_json::Value)> {
    let mut records = Vec::new();
    for account in accounts {
        for seq in 0..count {
            let account_id = format!("AC{account:04}");
            records.push((
                account_id.clone(),
                serde_json::json!({
                    "message_id": format!("SM{account:04}-{seq}"), "account_id": account_id,
                    "sent_at": format!("2026-11-28T17:{seq:02}:05Z"), "channel": "sms",
                    "to": format!("+1415555{seq:04}"), "body": body,
                }),
            ));
        }
    }
    records
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[test]
fn a_backtest_over_topics_reads_only_its_window_and_leaves_every_group_as_it_was() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let topics = TopicNames::prefixed("bt");
    topics.create(&broker.address(), 2).expect("topics");
    let now = warden::clock::now_ms();
    // Before the window, in it, and after it: greetings, from different accounts.
    produce_at(
        &broker,
        &topics.messages,
        now - 3 * HOUR_MS,
        &messages(0..10, 3, "hello there, how are you"),
    );
    produce_at(
        &broker,
        &topics.messages,
        now - 2 * HOUR_MS,
        &messages(10..40, 3, "hello there, how are you"),
    );
    produce_at(
        &broker,
        &topics.messages,
        now - HOUR_MS,
        &messages(40..50, 3, "hello there, how are you"),
    );
    let feedback: Vec<_> = (10..14)
        .map(|account| {
            let account_id = format!("AC{account:04}");
            (
                account_id.clone(),
                serde_json::json!({
                    "message_id": format!("SM{account:04}-0"), "account_id": account_id,
                    "kind": "carrier_filtered", "at": "2026-11-28T17:06:00Z",
                }),
            )
        })
        .collect();
    produce_at(&broker, &topics.feedback, now - 2 * HOUR_MS, &feedback);
    // A live group's committed offsets, which the backtest must not move.
    let group = "warden-live";
    broker.reset_offsets(group, &topics.messages, 2, 1);

    let dir = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let source = std::fs::read_to_string(shipped.join("rules.toml")).unwrap();
    let greeting = source
        + "\n[[rule]]\nid = \"fraud.greeting_oops\"\ncategory = \"fraud\"\nseverity = \"high\"\n\
           weight = 0.95\ndescription = \"A bad rule\"\nkeywords = [\"hello there\"]\n\
           examples.match = [\"hello there\"]\nexamples.no_match = [\"goodbye\"]\n";
    std::fs::write(dir.path().join("greeting.toml"), greeting).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["backtest", "--brokers", &broker.address()])
        .args(["--from", &rfc3339(now - 2 * HOUR_MS - 60_000)])
        .args(["--to", &rfc3339(now - HOUR_MS - 60_000)])
        .args([
            "--messages-topic",
            &topics.messages,
            "--feedback-topic",
            &topics.feedback,
        ])
        .args(["--rules", "greeting.toml", "--rules-only", "--json"])
        .arg("--current-rules")
        .arg(shipped.join("rules.toml"))
        .arg("--current-policy")
        .arg(shipped.join("policy.toml"))
        .arg("--policy")
        .arg(shipped.join("policy.toml"))
        .current_dir(dir.path())
        .env("WARDEN_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    // Only the window's 90 greetings and 4 feedback records were read.
    assert_eq!(
        (report["messages"].as_u64(), report["feedback"].as_u64()),
        (Some(90), Some(4)),
        "{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        report["changed"]["allow -> block"]["messages"], 90,
        "{report}"
    );
    assert_eq!(report["candidate"]["breaker_tripped"], true, "{report}");
    // Nothing was committed for the live group, and no group of the backtest's own either.
    assert_eq!(
        broker.committed(group, &topics.messages, 2),
        vec![Some(1), Some(1)]
    );
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1, "only the candidate file: {files:?}");
}
