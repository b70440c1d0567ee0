//! `warden run` against a real broker (tansu): every message decided, malformed records
//! dead-lettered, order kept per account, and nothing lost to crashes, restarts or takeovers.
//! Skipped when tansu is not installed, unless `WARDEN_REQUIRE_BROKER=1` (as in CI).

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use common::kafka::{Broker, Received, Storage, TopicNames, Warden, message, settings};

const PATIENCE: Duration = Duration::from_secs(60);

/// Message ids of the verdicts read so far.
fn verdict_ids(records: &[Received]) -> HashSet<String> {
    records
        .iter()
        .map(|r| {
            r.payload["message_id"]
                .as_str()
                .expect("message_id")
                .to_owned()
        })
        .collect()
}

const BODIES: [&str; 4] = [
    "See you at 6, I'll bring the keys",
    "URGENT! You have won a £1000 prize. Call 09061701461 to claim now",
    "Your parcel is held: pay the £1.99 customs fee at royalmail-fees.top/pay",
    "Your verification code is 482913",
];

#[test]
fn every_message_gets_a_verdict_in_account_order_and_malformed_records_are_dead_lettered() {
    let Some(broker) = Broker::start(Storage::Memory) else {
        return;
    };
    let topics = TopicNames::new("basic");
    topics.create(&broker, 3);
    let (accounts, per_account) = (12, 25);
    let mut records = Vec::new();
    for seq in 0..per_account {
        for account in 0..accounts {
            records.push(message(
                account,
                seq,
                BODIES[(account + seq) % BODIES.len()],
            ));
        }
    }
    let malformed: Vec<(String, Vec<u8>)> = vec![
        ("AC9999".into(), b"{not json".to_vec()),
        (
            "AC9999".into(),
            br#"{"message_id":"SMx","account_id":"AC9999"}"#.to_vec(),
        ),
        ("AC9999".into(), vec![0xff, 0xfe, 0x00]),
    ];
    records.extend(malformed.iter().cloned());
    broker.produce(&topics.messages, &records);

    let mut warden = Warden::start(&settings(&broker, "basic", &topics));
    let total = accounts * per_account;
    let mut verdicts = broker.reader(&topics.verdicts);
    let verdicts = verdicts
        .read_until(PATIENCE, "a verdict per message", |r| r.len() >= total)
        .to_vec();
    let mut dead = broker.reader(&topics.dead_letters);
    let dead = dead
        .read_until(PATIENCE, "three dead letters", |r| r.len() >= 3)
        .to_vec();

    // Exactly one verdict per valid message (no replay happened), with matching ids.
    let expected: HashSet<String> = (0..accounts)
        .flat_map(|a| (0..per_account).map(move |s| format!("SM{a:04}-{s:06}")))
        .collect();
    assert_eq!(verdicts.len(), total);
    assert_eq!(verdict_ids(&verdicts), expected);
    for verdict in &verdicts {
        assert_eq!(
            verdict.key.as_deref(),
            verdict.payload["account_id"].as_str()
        );
    }
    // The fraud body is blocked, the personal one allowed: the verdicts carry real decisions.
    let action_of = |id: &str| {
        verdicts
            .iter()
            .find(|r| r.payload["message_id"] == id)
            .map(|r| r.payload["action"].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(action_of("SM0000-000000").as_deref(), Some("allow"));
    assert_eq!(action_of("SM0002-000000").as_deref(), Some("block"));

    // Per account, verdicts come out in the order the messages went in.
    let mut by_account: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for verdict in &verdicts {
        by_account
            .entry(verdict.payload["account_id"].as_str().unwrap().to_owned())
            .or_default()
            .push(verdict.payload["message_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(by_account.len(), accounts);
    for ids in by_account.values() {
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, &sorted, "verdicts out of order for one account");
    }

    // Dead letters say why, where the record was, and carry its bytes.
    let mut codes: Vec<&str> = dead
        .iter()
        .map(|r| r.payload["code"].as_str().unwrap())
        .collect();
    codes.sort();
    assert_eq!(codes, ["invalid_json", "invalid_utf8", "missing_field"]);
    for letter in &dead {
        assert_eq!(letter.payload["source"]["topic"], topics.messages.as_str());
        assert!(letter.payload["source"]["offset"].as_i64().unwrap() >= 0);
        assert!(!letter.payload["reason"].as_str().unwrap().is_empty());
        assert!(
            !letter.payload["payload_base64"]
                .as_str()
                .unwrap()
                .is_empty()
        );
    }
    let missing = dead
        .iter()
        .find(|r| r.payload["code"] == "missing_field")
        .unwrap();
    assert!(
        missing.payload["reason"]
            .as_str()
            .unwrap()
            .starts_with("missing required field")
    );

    // SIGTERM drains and commits: the group's committed offsets reach the end of every partition.
    assert_eq!(warden.terminate(), Some(0), "{}", warden.log());
    let committed = broker.committed("basic", &topics.messages, 3);
    let produced = records.len() as i64;
    assert_eq!(
        committed.iter().map(|c| c.unwrap_or(0)).sum::<i64>(),
        produced,
        "{committed:?}"
    );
}
