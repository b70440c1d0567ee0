//! `warden run` against a real broker (tansu): every message decided, malformed records
//! dead-lettered, order kept per account, and nothing lost to crashes, restarts or takeovers.
//! Skipped when tansu is not installed, unless `WARDEN_REQUIRE_BROKER=1` (as in CI).

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use common::kafka::{Broker, Received, SESSION_TIMEOUT, TopicNames, Warden, message, settings};

const PATIENCE: Duration = Duration::from_secs(60);

/// One broker test at a time: each runs a broker and one or two Warden processes, and on two
/// cores they would starve each other into timeouts.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    // A failed test poisons the lock; the next test still runs on its own broker.
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes the shipped `config/policy.toml` to `path` with settings replaced; a replacement
/// that finds nothing fails the test, so a renamed setting cannot go unnoticed.
fn write_shipped_policy(path: &std::path::Path, replacements: &[(&str, &str)]) {
    let shipped_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/policy.toml");
    let mut policy = std::fs::read_to_string(shipped_path).unwrap();
    for (from, to) in replacements {
        assert!(policy.contains(from), "config/policy.toml has no `{from}`");
        policy = policy.replace(from, to);
    }
    std::fs::write(path, policy).unwrap();
}

/// A test's turn, its broker and its topics (the input with `partitions` partitions), or
/// `None` when tansu is absent.
fn setup(test: &str, partitions: i32) -> Option<(MutexGuard<'static, ()>, Broker, TopicNames)> {
    let serial = serial();
    let broker = Broker::start()?;
    let topics = TopicNames::prefixed(test);
    topics
        .create(&broker.address(), partitions)
        .expect("topics created");
    Some((serial, broker, topics))
}

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
    let Some((_serial, broker, topics)) = setup("basic", 3) else {
        return;
    };
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

/// `count` messages over `accounts` accounts, starting at sequence number `from`.
fn traffic(accounts: usize, from: usize, count: usize) -> Vec<(String, Vec<u8>)> {
    (from..from + count)
        .map(|i| message(i % accounts, i / accounts, BODIES[i % BODIES.len()]))
        .collect()
}

fn ids_of(records: &[(String, Vec<u8>)]) -> HashSet<String> {
    records
        .iter()
        .map(|(_, payload)| {
            let value: serde_json::Value = serde_json::from_slice(payload).unwrap();
            value["message_id"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn a_killed_instance_commits_only_decided_messages_and_a_restart_decides_the_rest() {
    let Some((_serial, broker, topics)) = setup("crash", 4) else {
        return;
    };
    let partitions = 4;
    let input = traffic(40, 0, 10_000);
    broker.produce(&topics.messages, &input);
    // Small batches make many commits, so the kill lands between some of them.
    let config = settings(&broker, "crash", &topics)
        .replace("batch_max_messages = 500", "batch_max_messages = 50");

    let mut first = Warden::start(&config);
    let mut verdicts = broker.reader(&topics.verdicts);
    verdicts.read_until(PATIENCE, "the first verdicts", |r| r.len() >= 2_000);
    first.kill();
    let killed_at = std::time::Instant::now();

    // Every message below a committed offset has its verdict already.
    let committed = broker.committed("crash", &topics.messages, partitions);
    let mut messages = broker.reader(&topics.messages);
    let messages = messages
        .read_until(PATIENCE, "the input read back", |r| r.len() >= input.len())
        .to_vec();
    let decided_by_commit: HashSet<String> = messages
        .iter()
        .filter(|m| committed[m.partition as usize].is_some_and(|c| m.offset < c))
        .map(|m| m.payload["message_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !decided_by_commit.is_empty() && decided_by_commit.len() < input.len(),
        "the kill should land mid-stream: {} of {} committed",
        decided_by_commit.len(),
        input.len()
    );
    verdicts.read_until(PATIENCE, "a verdict for every committed message", |r| {
        verdict_ids(r).is_superset(&decided_by_commit)
    });

    // A new instance in the group picks up at the committed offsets and decides the rest. It
    // joins once the dead member's session has expired: tansu 0.6 keeps a silent member in the
    // group until then, and a member that joins earlier is assigned nothing and stays idle.
    std::thread::sleep(
        SESSION_TIMEOUT.saturating_sub(killed_at.elapsed()) + Duration::from_secs(1),
    );
    let mut second = Warden::start(&config);
    let all = ids_of(&input);
    verdicts.read_until(PATIENCE, "a verdict for every message", |r| {
        verdict_ids(r).is_superset(&all)
    });
    assert_eq!(second.terminate(), Some(0), "{}", second.log());
}

#[test]
fn a_killed_instance_restarted_on_its_database_re_emits_the_verdicts_it_recorded() {
    let Some((_serial, broker, topics)) = setup("exactly-once", 4) else {
        return;
    };
    let partitions = 4;
    // A quarter of the 40 accounts send fraud only, and are suspended early in the stream.
    let input = traffic(40, 0, 10_000);
    broker.produce(&topics.messages, &input);
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("warden.db");
    let config = settings(&broker, "exactly-once", &topics)
        .replace("batch_max_messages = 500", "batch_max_messages = 50");

    let mut first = Warden::start_with_database(&config, Some(&database));
    let mut verdicts = broker.reader(&topics.verdicts);
    verdicts.read_until(PATIENCE, "the first verdicts", |r| r.len() >= 2_000);
    first.kill();
    let killed_at = std::time::Instant::now();
    let emitted_before_kill = verdict_ids(&verdicts.records);
    assert!(
        broker.record_count(&topics.verdicts) < input.len() as i64,
        "the kill should land mid-stream"
    );

    // A crash loses the commits of at most the batches in hand; rewinding the group to the
    // start stands for losing all of them, so that every message the first instance decided
    // is redelivered, wherever the kill landed. The group must be empty first: tansu 0.6
    // keeps a silent member until its session expires.
    std::thread::sleep(
        SESSION_TIMEOUT.saturating_sub(killed_at.elapsed()) + Duration::from_secs(1),
    );
    broker.reset_offsets("exactly-once", &topics.messages, partitions, 0);
    let mut second = Warden::start_with_database(&config, Some(&database));
    common::kafka::wait_until(PATIENCE, "every message is committed", || {
        let committed = broker.committed("exactly-once", &topics.messages, partitions);
        committed.iter().flatten().sum::<i64>() == input.len() as i64
    });
    assert_eq!(second.terminate(), Some(0), "{}", second.log());
    // Read back once nothing is produced any more: a reader racing the killed producer can
    // miss records on tansu 0.6.
    let total = broker.record_count(&topics.verdicts) as usize;
    let mut verdicts = broker.reader(&topics.verdicts);
    let records = verdicts.read_until(PATIENCE, "every verdict produced", |r| r.len() >= total);

    // One verdict per message: a redelivered message's verdict is the recorded one, byte for
    // byte (its `decided_at` alone would tell a second decision apart).
    let mut by_id: BTreeMap<String, Vec<&serde_json::Value>> = BTreeMap::new();
    for record in records {
        let id = record.payload["message_id"].as_str().unwrap().to_owned();
        by_id.entry(id).or_default().push(&record.payload);
    }
    assert_eq!(by_id.len(), input.len());
    for (id, payloads) in &by_id {
        assert!(
            payloads.iter().all(|p| *p == payloads[0]),
            "{id} has different verdicts: {payloads:#?}"
        );
    }
    let replayed = emitted_before_kill
        .iter()
        .filter(|id| by_id[*id].len() >= 2)
        .count();
    assert_eq!(
        replayed,
        emitted_before_kill.len(),
        "every verdict out before the kill is re-emitted by the restart"
    );

    // What is on the topic is what is recorded.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = runtime
        .block_on(warden::store::Store::connect(&format!(
            "sqlite://{}",
            database.display()
        )))
        .unwrap();
    let ids: Vec<&str> = by_id.keys().map(String::as_str).collect();
    let recorded = runtime.block_on(store.recorded_verdicts(&ids)).unwrap();
    assert_eq!(recorded.len(), input.len());
    for (id, json) in &recorded {
        let recorded: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(&recorded, by_id[id][0], "{id}");
    }

    // One case per account at most, across the crash and the redelivery; its events may be
    // sent again (the outbox), always for that case.
    let mut cases_by_account: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    let mut actions = broker.reader(&topics.account_actions);
    let count = broker.record_count(&topics.account_actions) as usize;
    for action in actions.read_until(PATIENCE, "the account actions", |r| r.len() >= count) {
        cases_by_account
            .entry(action.payload["account_id"].as_str().unwrap().to_owned())
            .or_default()
            .insert(action.payload["case_id"].as_str().unwrap().to_owned());
    }
    for account in (0..40).map(|a| format!("AC{a:04}")) {
        let account_id = warden::message::AccountId::parse("account_id", account.clone()).unwrap();
        let log = runtime.block_on(store.audit_log(&account_id)).unwrap();
        let opened = log
            .iter()
            .filter(|e| e.action == "suspend" || e.action == "open_for_review")
            .count();
        assert!(opened <= 1, "{account}: {log:?}");
        assert!(
            cases_by_account.get(&account).is_none_or(|c| c.len() == 1),
            "{account}: {cases_by_account:?}"
        );
    }
    assert!(
        !cases_by_account.is_empty(),
        "the fraud accounts are suspended"
    );
}

/// Partitions of `topic` an instance was last assigned, from its log.
fn assigned_partitions(log: &str, topic: &str) -> Vec<i32> {
    let line = log
        .lines()
        .rfind(|l| l.contains("partitions assigned"))
        .unwrap_or_default();
    let Some(list) = line.split("assigned=[").nth(1) else {
        return Vec::new();
    };
    let mut partitions: Vec<i32> = list
        .split(']')
        .next()
        .unwrap_or_default()
        .split(',')
        .filter_map(|entry| {
            let (name, partition) = entry.trim().trim_matches('"').rsplit_once('/')?;
            (name == topic).then(|| partition.parse().ok())?
        })
        .collect();
    partitions.sort();
    partitions
}

#[test]
fn two_instances_split_the_partitions_and_one_takes_over_when_the_other_dies() {
    let Some((_serial, broker, topics)) = setup("pair", 4) else {
        return;
    };
    let partitions = 4;
    let every_partition: Vec<i32> = (0..partitions).collect();
    let config = settings(&broker, "pair", &topics);
    let held = |warden: &Warden| assigned_partitions(&warden.log(), &topics.messages);
    // The first member of the group leads it, and the member that dies is the other one.
    // tansu 0.6.0 never replaces a dead leader whose expiry a follower's heartbeat detects:
    // the group stays formed around it and its partitions go unowned (CI saw that happen),
    // which no Kafka broker does. A dead follower is dropped and the leader takes its share.
    let mut survivor = Warden::start(&config);
    common::kafka::wait_until(PATIENCE, "the first instance holds every partition", || {
        held(&survivor) == every_partition
    });
    let mut doomed = Warden::start(&config);
    common::kafka::wait_until(PATIENCE, "both instances hold partitions", || {
        let (a, b) = (held(&survivor), held(&doomed));
        !a.is_empty() && !b.is_empty() && a.len() + b.len() == partitions as usize
    });
    let (a, b) = (held(&survivor), held(&doomed));
    let mut union: Vec<i32> = a.iter().chain(&b).copied().collect();
    union.sort();
    assert_eq!(union, every_partition, "{a:?} and {b:?}");
    // Co-partitioned: each instance reads the feedback of the accounts whose messages it reads.
    for warden in [&survivor, &doomed] {
        assert_eq!(
            assigned_partitions(&warden.log(), &topics.feedback),
            held(warden)
        );
    }

    let before = traffic(20, 0, 4_000);
    broker.produce(&topics.messages, &before);
    let mut verdicts = broker.reader(&topics.verdicts);
    let before_ids = ids_of(&before);
    verdicts.read_until(PATIENCE, "verdicts from both instances", |r| {
        verdict_ids(r).is_superset(&before_ids)
    });

    doomed.kill();
    let after = traffic(20, 4_000, 4_000);
    broker.produce(&topics.messages, &after);
    // The group rebalances once the dead member's session expires, perhaps more than once.
    let takeover = std::time::Instant::now() + 5 * SESSION_TIMEOUT;
    while held(&survivor) != every_partition && std::time::Instant::now() < takeover {
        std::thread::sleep(Duration::from_millis(100));
    }
    if held(&survivor) != every_partition {
        // tansu 0.6 sometimes makes the member that joined last the group's leader, and when
        // that leader dies, the survivor rejoins as a follower of no one and keeps its old share:
        // the dead member's partitions stay unowned, which no Kafka broker does. A member
        // joining anew takes the lead, so the survivor is restarted, as an operator would.
        eprintln!("tansu kept a dead leader's partitions unowned: restarting the survivor");
        assert_eq!(survivor.terminate(), Some(0), "{}", survivor.log());
        survivor = Warden::start(&config);
    }
    let after_ids = ids_of(&after);
    verdicts.read_until(
        PATIENCE,
        "the survivor to decide every later message",
        |r| verdict_ids(r).is_superset(&after_ids),
    );
    assert_eq!(held(&survivor), every_partition);
    assert_eq!(survivor.terminate(), Some(0), "{}", survivor.log());
}

#[test]
fn a_broker_restart_mid_stream_loses_nothing() {
    let Some((_serial, mut broker, topics)) = setup("restart", 3) else {
        return;
    };
    let before = traffic(30, 0, 8_000);
    broker.produce(&topics.messages, &before);
    let mut warden = Warden::start(&settings(&broker, "restart", &topics));
    {
        let mut verdicts = broker.reader(&topics.verdicts);
        verdicts.read_until(PATIENCE, "the first verdicts", |r| r.len() >= 1_000);
    }
    broker.restart();
    let after = traffic(30, 8_000, 2_000);
    broker.produce(&topics.messages, &after);

    let mut all = ids_of(&before);
    all.extend(ids_of(&after));
    let mut verdicts = broker.reader(&topics.verdicts);
    verdicts.read_until(PATIENCE, "a verdict for every message", |r| {
        verdict_ids(r).is_superset(&all)
    });
    assert_eq!(warden.terminate(), Some(0), "{}", warden.log());
}

#[test]
fn a_dead_letter_the_broker_refuses_is_sent_again_without_the_payload() {
    let Some((_serial, broker, topics)) = setup("refused", 1) else {
        return;
    };
    // A malformed record larger than Warden's producer may send: its dead letter, which
    // carries the record's bytes, is refused as too large.
    let huge = vec![b'x'; 40_000];
    let records = vec![("AC1".to_owned(), huge), message(1, 0, "see you at 6")];
    broker.produce(&topics.messages, &records);
    let config = settings(&broker, "refused", &topics)
        + "\n[kafka.options]\n\"message.max.bytes\" = \"20000\"\n";
    let mut warden = Warden::start(&config);

    let mut dead = broker.reader(&topics.dead_letters);
    let letter = dead.read_until(PATIENCE, "the dead letter", |r| !r.is_empty())[0]
        .payload
        .clone();
    assert_eq!(letter["code"], "invalid_json");
    assert_eq!(letter["payload_base64"], "");
    assert_eq!(letter["source"]["offset"], 0);
    assert!(
        letter["reason"]
            .as_str()
            .unwrap()
            .contains("payload left out"),
        "{letter}"
    );
    // The stream went on: the next record has its verdict.
    let mut verdicts = broker.reader(&topics.verdicts);
    verdicts.read_until(PATIENCE, "the verdict after it", |r| !r.is_empty());
    assert_eq!(warden.terminate(), Some(0), "{}", warden.log());
}

#[test]
fn sustained_fraud_suspends_once_with_a_notice_and_a_replay_suspends_nothing_more() {
    let Some((_serial, broker, topics)) = setup("enforce", 2) else {
        return;
    };
    let fraud = "Your parcel is held: pay the £1.99 customs fee at royalmail-fees.top/pay";
    let mut records = Vec::new();
    for seq in 0..6 {
        records.push(message(1, seq, fraud));
        records.push(message(2, seq, "See you at 6, I'll bring the keys"));
    }
    broker.produce(&topics.messages, &records);
    let database = tempfile::tempdir().unwrap();
    let database = database.path().join("warden.db");
    let mut warden =
        Warden::start_with_database(&settings(&broker, "enforce", &topics), Some(&database));

    let mut actions = broker.reader(&topics.account_actions);
    let action = actions.read_until(PATIENCE, "a suspension", |r| !r.is_empty())[0].clone();
    assert_eq!(action.key.as_deref(), Some("AC0001"));
    assert_eq!(action.payload["action"], "suspend");
    assert_eq!(action.payload["by"], "automated");
    let case_id = action.payload["case_id"].as_str().unwrap().to_owned();

    let mut notices = broker.reader(&topics.notices);
    let notice = notices.read_until(PATIENCE, "a notice", |r| !r.is_empty())[0]
        .payload
        .clone();
    assert_eq!(notice["kind"], "suspended");
    assert_eq!(notice["case_id"], case_id.as_str());
    // The grounds: decided by the account policy alone, the policy broken, redress beyond.
    assert_eq!(notice["automated"], true);
    assert!(
        notice["policy_url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    assert!(!notice["redress"].as_str().unwrap().is_empty());
    let reasons = notice["reasons"].as_array().unwrap();
    assert!(!reasons.is_empty());
    for reason in reasons {
        let description = reason["description"].as_str().unwrap();
        assert!(
            description.chars().all(|c| !"\\[]()|*+?".contains(c)),
            "{description}"
        );
    }
    // The appeal URL carries a token for this case and account, signed with the secret.
    let url = notice["appeal_url"].as_str().unwrap();
    let token = url.split("token=").nth(1).unwrap();
    let grant = warden::enforce::token::verify(
        &warden::privacy::Secret::new(common::kafka::APPEAL_SECRET),
        token,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    assert_eq!(
        (grant.case_id.as_str(), grant.account_id.as_str()),
        (case_id.as_str(), "AC0001")
    );

    // Every message has a verdict; the suspended account's later ones say so and are blocked.
    let mut verdicts = broker.reader(&topics.verdicts);
    verdicts.read_until(PATIENCE, "a verdict per message", |r| {
        r.len() >= records.len()
    });
    let suspended: Vec<&Received> = verdicts
        .records
        .iter()
        .filter(|v| v.payload["account_suspended"] == true)
        .collect();
    assert!(!suspended.is_empty());
    assert!(
        suspended
            .iter()
            .all(|v| v.payload["account_id"] == "AC0001" && v.payload["action"] == "block")
    );
    assert_eq!(warden.terminate(), Some(0), "{}", warden.log());

    // A replay of the whole topic (a new group from the start) on the same database.
    let replay_settings = settings(&broker, "enforce-replay", &topics);
    let mut replay = Warden::start_with_database(&replay_settings, Some(&database));
    verdicts.read_until(PATIENCE, "the replay's verdicts", |r| {
        r.len() >= 2 * records.len()
    });
    assert_eq!(replay.terminate(), Some(0), "{}", replay.log());
    assert_eq!(broker.record_count(&topics.account_actions), 1);
    assert_eq!(broker.record_count(&topics.notices), 1);
}

/// A test instance's settings with the review API on a free port and one person (`name`,
/// `role`, `token`) in its reviewers file, written into `dir`; and the API's base URL.
fn with_review_api(
    settings: String,
    dir: &std::path::Path,
    (name, role, token): (&str, &str, &str),
) -> (String, String) {
    let reviewers = dir.join("reviewers.toml");
    std::fs::write(
        &reviewers,
        format!(
            "[[reviewer]]\nname = \"{name}\"\nrole = \"{role}\"\ntoken_sha256 = \"{}\"\n",
            warden::api::auth::token_hash(token)
        ),
    )
    .unwrap();
    let api = format!("127.0.0.1:{}", common::kafka::free_port());
    let settings = settings.replace(
        "listen = \"\"",
        &format!(
            "listen = \"{api}\"\nreviewers_file = \"{}\"",
            reviewers.display()
        ),
    );
    (settings, format!("http://{api}"))
}

/// Waits until the review API at `base` answers.
fn wait_for_api(http: &reqwest::blocking::Client, base: &str) {
    common::kafka::wait_until(PATIENCE, "the review API to answer", || {
        http.get(format!("{base}/healthz"))
            .send()
            .is_ok_and(|r| r.status().is_success())
    });
}

#[test]
fn an_overturned_appeal_reinstates_the_account_through_the_broker() {
    let Some((_serial, broker, topics)) = setup("journey", 2) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let alice = "alice-reviewer-token-0123456789";
    let (config, base) = with_review_api(
        settings(&broker, "journey", &topics),
        dir.path(),
        ("alice", "reviewer", alice),
    );
    let fraud = "Your parcel is held: pay the £1.99 customs fee at royalmail-fees.top/pay";
    let records: Vec<_> = (0..4).map(|seq| message(1, seq, fraud)).collect();
    broker.produce(&topics.messages, &records);
    let mut warden = Warden::start(&config);

    let mut actions = broker.reader(&topics.account_actions);
    actions.read_until(PATIENCE, "the suspension", |r| !r.is_empty());
    assert_eq!(actions.records[0].payload["action"], "suspend");
    let case_id = actions.records[0].payload["case_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut notices = broker.reader(&topics.notices);
    notices.read_until(PATIENCE, "the notice", |r| !r.is_empty());
    let url = notices.records[0].payload["appeal_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = url.split("token=").nth(1).unwrap().to_owned();

    // The holder appeals and a reviewer overturns, over HTTP to the running instance.
    let http = reqwest::blocking::Client::new();
    wait_for_api(&http, &base);
    let appeal = http
        .post(format!("{base}/v1/appeals"))
        .json(&serde_json::json!({"token": token, "statement": "My courier notices"}))
        .send()
        .unwrap();
    assert_eq!(appeal.status(), 201);
    let claim = http
        .post(format!("{base}/v1/review/cases/{case_id}/claim"))
        .bearer_auth(alice)
        .send()
        .unwrap();
    assert_eq!(claim.status(), 200);
    let decision = http
        .post(format!("{base}/v1/review/cases/{case_id}/decision"))
        .bearer_auth(alice)
        .json(&serde_json::json!({"outcome": "overturn", "note": "A real courier"}))
        .send()
        .unwrap();
    assert_eq!(decision.status(), 200);

    actions.read_until(PATIENCE, "the reinstatement", |r| r.len() >= 2);
    let reinstate = &actions.records[1].payload;
    assert_eq!(reinstate["action"], "reinstate");
    assert_eq!(reinstate["by"], "reviewer:alice");
    assert_eq!(reinstate["case_id"], case_id.as_str());
    notices.read_until(PATIENCE, "the appeal's notices", |r| r.len() >= 3);
    let kinds: Vec<&str> = notices
        .records
        .iter()
        .map(|n| n.payload["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["suspended", "appeal_received", "appeal_decided"]);

    // The running instance follows the reinstatement: the account's messages flow again.
    common::kafka::wait_until(PATIENCE, "the instance to follow the reinstatement", || {
        warden.log().contains("account reinstated")
    });
    broker.produce(&topics.messages, &[message(1, 99, "See you at 6")]);
    let mut verdicts = broker.reader(&topics.verdicts);
    verdicts.read_until(PATIENCE, "the later message's verdict", |r| {
        r.iter().any(|v| v.payload["message_id"] == "SM0001-000099")
    });
    let later = verdicts
        .records
        .iter()
        .find(|v| v.payload["message_id"] == "SM0001-000099")
        .unwrap();
    assert_eq!(later.payload["action"], "allow", "{}", later.payload);
    assert!(later.payload.get("account_suspended").is_none());
    assert_eq!(warden.terminate(), Some(0), "{}", warden.log());
    assert_eq!(broker.record_count(&topics.account_actions), 2);
}

#[test]
fn an_admins_rules_reload_is_validated_and_taken_between_batches() {
    let Some((_serial, broker, topics)) = setup("reload", 1) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    let root = "root-admin-token-0123456789abcdef";
    let shipped = std::fs::read_to_string("config/rules.toml").unwrap();
    std::fs::write(&rules, &shipped).unwrap();
    let (config, base) = with_review_api(
        settings(&broker, "reload", &topics),
        dir.path(),
        ("root", "admin", root),
    );
    let mut warden = Warden::start_with_args(&config, &["--rules", rules.to_str().unwrap()]);
    let http = reqwest::blocking::Client::new();
    wait_for_api(&http, &base);
    let reload = || {
        let response = http
            .post(format!("{base}/v1/admin/rules/reload"))
            .bearer_auth(root)
            .send()
            .unwrap();
        let status = response.status();
        (status, response.json::<serde_json::Value>().unwrap())
    };

    // A broken file is refused with where and why, and the running rules stay.
    std::fs::write(
        &rules,
        format!("{shipped}\n[[rule]]\nid = \"spam.broken\"\n"),
    )
    .unwrap();
    let (status, refused) = reload();
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "invalid_rules");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line"),
        "{refused}"
    );

    let new_rule = r#"
[[rule]]
id = "spam.reload_test"
category = "spam"
severity = "low"
weight = 0.6
description = "A rule added by a reload"
keywords = ["zebracorn"]
examples.match = ["zebracorn deals"]
examples.no_match = ["see you at 6"]
"#;
    std::fs::write(&rules, format!("{shipped}\n{new_rule}")).unwrap();
    let (status, reloaded) = reload();
    assert_eq!(status, 200, "{reloaded}");
    let version = reloaded["rules_version"].as_str().unwrap().to_owned();
    broker.produce(&topics.messages, &[message(1, 0, "zebracorn deals today")]);
    let mut verdicts = broker.reader(&topics.verdicts);
    verdicts.read_until(PATIENCE, "the verdict", |r| !r.is_empty());
    let verdict = &verdicts.records[0].payload;
    assert_eq!(verdict["rules_version"], version.as_str());
    assert!(
        verdict["rule_hits"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("spam.reload_test")),
        "{verdict}"
    );

    // The version history: the set taken at start, then the reload, with what it changed.
    let versions = || {
        let response = http
            .get(format!("{base}/v1/admin/rules/versions"))
            .bearer_auth(root)
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json::<serde_json::Value>().unwrap()["versions"]
            .as_array()
            .unwrap()
            .clone()
    };
    let history = versions();
    let step = |v: &serde_json::Value| {
        (
            v["action"].as_str().unwrap().to_owned(),
            v["loaded_by"].as_str().unwrap().to_owned(),
            v["summary"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(
        step(&history[0]),
        (
            "reload".into(),
            "admin:root".into(),
            "added (1): spam.reload_test".into()
        )
    );
    assert_eq!(history[1]["action"], "start");
    let first = history[1]["version"].as_str().unwrap().to_owned();

    // A rollback puts the first set back: on disk, in the stream, in the history.
    let rollback = |version: &str| {
        let response = http
            .post(format!("{base}/v1/admin/rules/rollback"))
            .bearer_auth(root)
            .json(&serde_json::json!({ "version": version }))
            .send()
            .unwrap();
        let status = response.status();
        (status, response.json::<serde_json::Value>().unwrap())
    };
    let (status, rolled_back) = rollback(&first);
    assert_eq!(status, 200, "{rolled_back}");
    assert_eq!(rolled_back["rules_version"], first.as_str());
    assert_eq!(std::fs::read_to_string(&rules).unwrap(), shipped);
    broker.produce(&topics.messages, &[message(1, 1, "zebracorn deals today")]);
    verdicts.read_until(PATIENCE, "the second verdict", |r| r.len() >= 2);
    let verdict = &verdicts.records[1].payload;
    assert_eq!(verdict["rules_version"], first.as_str());
    assert!(
        !verdict["rule_hits"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("spam.reload_test")),
        "{verdict}"
    );
    assert_eq!(
        step(&versions()[0]),
        (
            "rollback".into(),
            "admin:root".into(),
            "removed (1): spam.reload_test".into()
        )
    );

    // An unknown version is not found; one that no longer validates (its rules ask a brand
    // registry that is now empty) is refused with the reason, and the files stay as they are.
    assert_eq!(rollback("0123456789ab").0, 404);
    std::fs::write(dir.path().join("brands.toml"), "").unwrap();
    let (status, refused) = rollback(&version);
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("brand registry"),
        "{refused}"
    );
    assert_eq!(std::fs::read_to_string(&rules).unwrap(), shipped);
    assert_eq!(versions().len(), 3);
    assert_eq!(warden.terminate(), Some(0), "{}", warden.log());
}

/// The sum of a metric's samples in Prometheus text (every label set of `name`).
fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn metrics_agree_with_what_was_sent_and_decided() {
    let Some((_serial, broker, topics)) = setup("metrics", 2) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (config, base) = with_review_api(
        settings(&broker, "metrics", &topics),
        dir.path(),
        ("ops", "reviewer", "ops-reviewer-token-0123456789"),
    );
    let fraud = "Your parcel is held: pay the £1.99 customs fee at royalmail-fees.top/pay";
    let mut records = Vec::new();
    for account in 0..3 {
        records.extend((0..4).map(|seq| message(account, seq, fraud)));
    }
    records.extend((0..20).map(|seq| message(9, seq, "See you at 6, I'll bring the keys")));
    records.push(("AC0009".to_owned(), b"{not json".to_vec()));
    broker.produce(&topics.messages, &records);
    // The shipped rules and brands, and a shadow rule that would block AC0009's messages.
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let rules = dir.path().join("rules.toml");
    std::fs::copy(shipped.join("brands.toml"), dir.path().join("brands.toml")).unwrap();
    let shadow = "\n[[rule]]\nid = \"spam.keys_shadow\"\ncategory = \"spam\"\n\
                  severity = \"low\"\nweight = 0.9\nmode = \"shadow\"\n\
                  description = \"A candidate rule under trial\"\nkeywords = [\"bring the keys\"]\n\
                  examples.match = [\"I'll bring the keys\"]\nexamples.no_match = [\"hello\"]\n";
    let candidate = std::fs::read_to_string(shipped.join("rules.toml")).unwrap() + shadow;
    std::fs::write(&rules, candidate).unwrap();
    let mut warden = Warden::start_with_args(&config, &["--rules", rules.to_str().unwrap()]);
    let mut verdicts = broker.reader(&topics.verdicts);
    verdicts.read_until(PATIENCE, "a verdict per message", |r| {
        r.len() >= records.len() - 1
    });
    let mut actions = broker.reader(&topics.account_actions);
    actions.read_until(PATIENCE, "three suspensions", |r| r.len() >= 3);

    let http = reqwest::blocking::Client::new();
    let mut text = String::new();
    // The counters move once a batch is delivered; the scrape waits for the last of them.
    common::kafka::wait_until(PATIENCE, "the metrics to count every record", || {
        text = http
            .get(format!("{base}/metrics"))
            .send()
            .and_then(|r| r.text())
            .unwrap_or_default();
        metric_sum(&text, "warden_messages_consumed_total") >= records.len() as f64
    });
    let sent = records.len() as f64;
    let scored = verdicts.records.len() as f64;
    assert_eq!(metric_sum(&text, "warden_messages_consumed_total"), sent);
    assert_eq!(metric_sum(&text, "warden_messages_scored_total"), scored);
    assert_eq!(metric_sum(&text, "warden_dead_letters_total"), 1.0);
    assert_eq!(scored + 1.0, sent);
    let blocked = verdicts
        .records
        .iter()
        .filter(|v| v.payload["action"] == "block")
        .count() as f64;
    assert_eq!(
        metric_sum(&text, r#"warden_messages_scored_total{action="block"}"#),
        blocked
    );
    assert_eq!(
        metric_sum(&text, "warden_suspensions_total"),
        actions.records.len() as f64
    );
    assert_eq!(
        metric_sum(&text, "warden_decision_latency_seconds_count"),
        scored
    );
    assert!(metric_sum(&text, "warden_rule_hits_total") > 0.0);
    assert!(
        text.contains(
            r#"warden_rule_hits_total{category="fraud",rule="fraud.lookalike_delivery"}"#
        ),
        "{text}"
    );
    assert_eq!(metric_sum(&text, "warden_model_score_count"), 3.0 * scored);
    // The shadow rule hit AC0009's twenty messages, changed none, and says it would have
    // blocked them all.
    assert!(
        verdicts
            .records
            .iter()
            .filter(|v| v.payload["account_id"] == "AC0009")
            .all(|v| v.payload["action"] != "block"
                && v.payload["shadow_rule_hits"] == serde_json::json!(["spam.keys_shadow"])),
        "{:?}",
        verdicts.records
    );
    assert_eq!(
        metric_sum(
            &text,
            r#"warden_shadow_rule_hits_total{rule="spam.keys_shadow"}"#
        ),
        20.0
    );
    assert_eq!(
        metric_sum(
            &text,
            r#"warden_shadow_would_change_total{rule="spam.keys_shadow",to="block"}"#
        ),
        20.0,
        "{text}"
    );
    // Every batch went through each stage of the loop once, and took some time in all.
    let stage = |stage: &str, series: &str| {
        metric_sum(
            &text,
            &format!("warden_batch_stage_seconds_{series}{{stage=\"{stage}\"}}"),
        )
    };
    let batches = stage("decide", "count");
    assert!(batches >= 1.0, "{text}");
    for name in ["fetch", "lookup", "enforce", "record", "deliver"] {
        assert_eq!(stage(name, "count"), batches, "{name}: {text}");
    }
    assert!(stage("decide", "sum") > 0.0, "{text}");
    assert!(text.contains("warden_build_info{model_version="), "{text}");
    assert_eq!(warden.terminate(), Some(0), "{}", warden.log());
}

#[test]
fn the_demo_ends_with_suspensions_and_appeals_flowing() {
    let Some((_serial, broker, _topics)) = setup("demo", 1) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", common::kafka::free_port());
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["demo", "--brokers", &broker.address(), "--listen", &listen])
        .args(["--accounts", "300", "--rate", "5000", "--no-wait", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{stdout}{stderr}");
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("decided "))
        .unwrap_or_else(|| panic!("no summary: {stdout}{stderr}"));
    let count = |label: &str| -> usize {
        summary
            .split(" · ")
            .find_map(|part| part.strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no `{label}` in {summary}"))
    };
    assert!(count("suspensions ") > 0, "{summary}");
    assert!(count("appeals ") > 0, "{summary}");
    assert!(stdout.contains("/v1/review/queue"), "{stdout}");
    // Everything the demo started has stopped.
    assert!(
        std::net::TcpStream::connect(&listen).is_err(),
        "the demo's API still answers"
    );
}

/// `warden bench`'s lines, with its exit status checked.
fn bench(broker: &Broker, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["bench", "--brokers", &broker.address(), "--accounts", "20"])
        .args(["--timeout-s", "120"])
        .args(args)
        .env("WARDEN_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The counts of the bench's `actions: allow N, flag N, ...` line, summed.
fn bench_verdicts(stdout: &str) -> usize {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("actions: "))
        .unwrap_or_else(|| panic!("no actions line: {stdout}"));
    line.split(", ")
        .map(|part| {
            let (action, n) = part.rsplit_once(' ').expect("`action count`");
            assert!(["allow", "flag", "block"].contains(&action), "{line}");
            n.parse::<usize>().expect("a count")
        })
        .sum()
}

#[test]
fn the_bench_counts_each_message_once_in_both_modes() {
    let Some((_serial, broker, _topics)) = setup("bench", 1) else {
        return;
    };
    let backlog = bench(&broker, &["--messages", "400"]);
    assert!(backlog.contains("backlog of 400 messages: "), "{backlog}");
    assert!(backlog.contains("end to end is "), "{backlog}");
    assert_eq!(bench_verdicts(&backlog), 400, "{backlog}");
    // The corpus is a mix, so a bench that read one field wrongly would show one action.
    assert!(
        backlog.contains("allow ") && backlog.contains("block "),
        "{backlog}"
    );

    let paced = bench(&broker, &["--messages", "200", "--rate", "2000"]);
    assert!(
        paced.contains("200 messages at 2000 messages/s: decision latency"),
        "{paced}"
    );
    assert_eq!(bench_verdicts(&paced), 200, "{paced}");
}
#[test]
fn a_restored_backup_plus_a_replay_reproduces_the_same_cases() {
    let Some((_serial, broker, topics)) = setup("backup", 2) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (live, backup) = (dir.path().join("live.db"), dir.path().join("backup.db"));
    let fraud = "Your parcel is held: pay the £1.99 customs fee at royalmail-fees.top/pay";
    let burst = |accounts: std::ops::Range<usize>| -> Vec<(String, Vec<u8>)> {
        accounts
            .flat_map(|a| (0..4).map(move |seq| message(a, seq, fraud)))
            .collect()
    };
    let config = settings(&broker, "backup", &topics);
    let mut warden = Warden::start_with_database(&config, Some(&live));
    broker.produce(&topics.messages, &burst(0..2));
    let mut actions = broker.reader(&topics.account_actions);
    actions.read_until(PATIENCE, "the first two suspensions", |r| r.len() >= 2);

    // A backup while Warden runs; then more cases, then the live database is lost.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["backup", "--to"])
        .arg(&backup)
        .args(["--database-url", &format!("sqlite://{}", live.display())])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    broker.produce(&topics.messages, &burst(2..4));
    actions.read_until(PATIENCE, "two more suspensions", |r| r.len() >= 4);
    assert_eq!(warden.terminate(), Some(0), "{}", warden.log());
    let original: BTreeMap<String, String> = actions
        .records
        .iter()
        .map(|r| {
            (
                r.payload["account_id"].as_str().unwrap().to_owned(),
                r.payload["case_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(original.len(), 4);
    // The whole store is lost: the file and its write-ahead log (a stale log beside a restored
    // file would be replayed into it).
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", live.display()));
    }

    // Restore, and replay the topic (a new group from the start) onto the restored store.
    std::fs::copy(&backup, &live).unwrap();
    let replay_config = settings(&broker, "backup-replay", &topics);
    let mut replay = Warden::start_with_database(&replay_config, Some(&live));
    actions.read_until(PATIENCE, "the lost cases to be reopened", |r| r.len() >= 6);
    assert_eq!(replay.terminate(), Some(0), "{}", replay.log());
    // Exactly the two cases the backup lacked were opened again, under the same ids.
    let reopened: BTreeMap<String, String> = actions.records[4..]
        .iter()
        .map(|r| {
            (
                r.payload["account_id"].as_str().unwrap().to_owned(),
                r.payload["case_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        reopened.keys().collect::<Vec<_>>(),
        ["AC0002", "AC0003"],
        "{reopened:?}"
    );
    for (account, case_id) in &reopened {
        assert_eq!(&original[account], case_id);
    }
    assert_eq!(broker.record_count(&topics.account_actions), 6);
}

#[test]
fn recipients_complaints_on_message_feedback_warn_a_spammer_after_its_last_message() {
    let Some((_serial, broker, topics)) = setup("feedback", 2) else {
        return;
    };
    // Flagged, never blocked, and too few for a violation by content alone.
    let spam = "Replica Rolex, Omega and Cartier watches from £89, free UK delivery. Order at www.luxury-watches-uk.com";
    let records: Vec<_> = (0..4).map(|seq| message(1, seq, spam)).collect();
    broker.produce(&topics.messages, &records);
    let mut warden = Warden::start(&settings(&broker, "feedback", &topics));
    let mut verdicts = broker.reader(&topics.verdicts);
    verdicts.read_until(PATIENCE, "a verdict per message", |r| {
        r.len() >= records.len()
    });
    assert!(
        verdicts
            .records
            .iter()
            .all(|v| v.payload["action"] == "flag"),
        "{:?}",
        verdicts.records
    );

    // Then the pipeline reports opt-outs and carrier filtering, and one record it garbled.
    let feedback = |seq: usize, kind: &str| {
        let json = serde_json::json!({
            "message_id": format!("SM0001-{seq:06}"), "account_id": "AC0001",
            "kind": kind, "at": "2026-11-28T17:06:00Z",
        });
        ("AC0001".to_owned(), serde_json::to_vec(&json).unwrap())
    };
    let mut reports = vec![
        feedback(0, "opt_out"),
        feedback(1, "carrier_filtered"),
        ("AC0001".to_owned(), b"{\"kind\": 7}".to_vec()),
    ];
    broker.produce(&topics.feedback, &reports);
    let mut dead = broker.reader(&topics.dead_letters);
    let letter = dead.read_until(PATIENCE, "the garbled feedback's dead letter", |r| {
        !r.is_empty()
    })[0]
        .payload
        .clone();
    assert_eq!(letter["source"]["topic"], topics.feedback.as_str());
    // Two complaints are not enough.
    assert_eq!(broker.record_count(&topics.notices), 0);

    // The third is a violation: a first one, so the account is warned, and keeps sending.
    reports = vec![feedback(2, "opt_out")];
    broker.produce(&topics.feedback, &reports);
    let mut notices = broker.reader(&topics.notices);
    let notice = notices.read_until(PATIENCE, "a warning", |r| !r.is_empty())[0].clone();
    assert_eq!(notice.payload["kind"], "warning");
    assert_eq!(
        notice.payload["reasons"][0]["code"],
        serde_json::json!("recipient_complaints")
    );
    assert_eq!(warden.terminate(), Some(0), "{}", warden.log());
    assert_eq!(broker.record_count(&topics.account_actions), 0);
    assert_eq!(broker.record_count(&topics.notices), 1);
}

#[test]
fn a_spammer_is_warned_then_restricted_until_its_end_then_suspended_for_going_on() {
    let Some((_serial, broker, topics)) = setup("ladder", 1) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    // A restriction of two seconds, so that its end comes within the test.
    write_shipped_policy(&policy, &[("restrict_s = 86400", "restrict_s = 2")]);
    let config = settings(&broker, "ladder", &topics);
    let database = dir.path().join("warden.db");
    let args = ["--policy", policy.to_str().unwrap()];
    let mut warden = Warden::start_with(&config, &database, &args);
    // Flagged by a rule, never blocked: spam, not fraud.
    let spam = "Replica Rolex, Omega and Cartier watches from £89, free UK delivery. Order at www.luxury-watches-uk.com";
    let mut verdicts = broker.reader(&topics.verdicts);
    let mut notices = broker.reader(&topics.notices);
    let mut actions = broker.reader(&topics.account_actions);

    // Five flagged messages are a first violation: a warning, and the account keeps sending.
    // Five more after it are a second: a restriction, with its end.
    let first: Vec<_> = (0..10).map(|seq| message(1, seq, spam)).collect();
    broker.produce(&topics.messages, &first);
    verdicts.read_until(PATIENCE, "ten verdicts", |r| r.len() >= 10);
    let sent: Vec<bool> = verdicts
        .records
        .iter()
        .map(|v| v.payload["account_suspended"] != true)
        .collect();
    assert_eq!(sent, [[true; 9].as_slice(), &[false]].concat());
    notices.read_until(PATIENCE, "a warning and a restriction", |r| r.len() >= 2);
    let kinds: Vec<&str> = notices
        .records
        .iter()
        .map(|n| n.payload["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["warning", "restricted"]);
    let warning = &notices.records[0].payload;
    assert_eq!(warning["automated"], true);
    assert!(
        warning["next_step"]
            .as_str()
            .unwrap()
            .contains("restricted"),
        "{warning}"
    );
    assert!(warning.get("appeal_url").is_none(), "nothing to appeal");
    let restricted = &notices.records[1].payload;
    assert!(restricted["appeal_url"].as_str().is_some());
    // Both link the clause the spam rules enforce ([statements.tags.spam]), not the policy
    // as a whole.
    for notice in [warning, restricted] {
        assert_eq!(
            notice["policy_url"],
            "https://warden.example.com/acceptable-use#spam"
        );
    }
    let until = restricted["until"].as_str().unwrap().to_owned();

    // At its end, `warden run` lifts it: reinstated by automated:expiry, and the holder told.
    actions.read_until(PATIENCE, "the restriction and its end", |r| r.len() >= 2);
    let restrict = &actions.records[0].payload;
    assert_eq!(
        (restrict["action"].as_str(), restrict["until"].as_str()),
        (Some("restrict"), Some(until.as_str()))
    );
    let reinstate = &actions.records[1].payload;
    assert_eq!(
        (reinstate["action"].as_str(), reinstate["by"].as_str()),
        (Some("reinstate"), Some("automated:expiry"))
    );
    assert_eq!(reinstate["case_id"], restrict["case_id"]);
    notices.read_until(PATIENCE, "the end's notice", |r| r.len() >= 3);
    assert_eq!(notices.records[2].payload["kind"], "restriction_ended");

    // Its messages flow again; going on with two strikes live, it is suspended.
    let again: Vec<_> = (10..15).map(|seq| message(1, seq, spam)).collect();
    broker.produce(&topics.messages, &again);
    verdicts.read_until(PATIENCE, "fifteen verdicts", |r| r.len() >= 15);
    assert_ne!(verdicts.records[10].payload["account_suspended"], true);
    actions.read_until(PATIENCE, "a suspension", |r| r.len() >= 3);
    let suspend = &actions.records[2].payload;
    assert_eq!(suspend["action"], "suspend");
    assert!(suspend.get("until").is_none(), "{suspend}");
    assert_eq!(warden.terminate(), Some(0), "{}", warden.log());
    assert_eq!(broker.record_count(&topics.account_actions), 3);
}

#[test]
fn an_opted_out_recipient_gets_no_more_messages_until_they_opt_back_in() {
    let Some((_serial, broker, topics)) = setup("opt-out", 1) else {
        return;
    };
    let (alice, bob) = ("+14155550199", "+14155550111");
    let sms = |seq: usize, to: &str| {
        let json = serde_json::json!({
            "message_id": format!("SM0001-{seq:06}"), "account_id": "AC0001",
            "sent_at": "2026-11-28T17:04:05Z", "channel": "sms", "to": to,
            "body": "Your table for two at Luigi's is booked for Friday at 8pm.",
        });
        ("AC0001".to_owned(), serde_json::to_vec(&json).unwrap())
    };
    // The recipient writes their number as they like; the hash is of its canonical form.
    let consent = |seq: usize, kind: &str, to: &str| {
        let json = serde_json::json!({
            "message_id": format!("SM0001-{seq:06}"), "account_id": "AC0001",
            "kind": kind, "to": to, "at": "2026-11-28T17:06:00Z",
        });
        ("AC0001".to_owned(), serde_json::to_vec(&json).unwrap())
    };
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("warden.db");
    let config = settings(&broker, "opt-out", &topics);
    let mut warden = Warden::start_with_database(&config, Some(&database));
    let mut verdicts = broker.reader(&topics.verdicts);
    let feedback_consumed = |records: i64| {
        common::kafka::wait_until(PATIENCE, "the feedback consumed", || {
            broker.committed("opt-out", &topics.feedback, 1)[0] == Some(records)
        });
    };
    let action_of = |verdicts: &[Received], seq: usize| {
        let id = format!("SM0001-{seq:06}");
        let verdict = verdicts
            .iter()
            .find(|v| v.payload["message_id"] == id.as_str())
            .unwrap_or_else(|| panic!("no verdict for {id}"));
        (
            verdict.payload["action"].as_str().unwrap().to_owned(),
            verdict.payload["recipient_opted_out"] == true,
        )
    };

    broker.produce(&topics.messages, &[sms(0, alice), sms(1, bob)]);
    verdicts.read_until(PATIENCE, "the first two verdicts", |r| r.len() >= 2);
    assert_eq!(action_of(&verdicts.records, 0), ("allow".into(), false));

    // Alice replies STOP: the account's next message to her is blocked, Bob's still goes.
    broker.produce(
        &topics.feedback,
        &[consent(0, "opt_out", "+1 (415) 555-0199")],
    );
    feedback_consumed(1);
    broker.produce(&topics.messages, &[sms(2, alice), sms(3, bob)]);
    verdicts.read_until(PATIENCE, "four verdicts", |r| r.len() >= 4);
    assert_eq!(action_of(&verdicts.records, 2), ("block".into(), true));
    assert_eq!(action_of(&verdicts.records, 3), ("allow".into(), false));

    // She opts back in (after a restart: the opt-out was kept in the database).
    assert_eq!(warden.terminate(), Some(0), "{}", warden.log());
    let mut warden = Warden::start_with_database(&config, Some(&database));
    broker.produce(&topics.messages, &[sms(4, alice)]);
    verdicts.read_until(PATIENCE, "five verdicts", |r| r.len() >= 5);
    assert_eq!(action_of(&verdicts.records, 4), ("block".into(), true));
    broker.produce(&topics.feedback, &[consent(4, "opt_in", alice)]);
    feedback_consumed(2);
    broker.produce(&topics.messages, &[sms(5, alice)]);
    verdicts.read_until(PATIENCE, "six verdicts", |r| r.len() >= 6);
    assert_eq!(action_of(&verdicts.records, 5), ("allow".into(), false));
    assert_eq!(warden.terminate(), Some(0), "{}", warden.log());
    // Blocking for an opt-out is no abuse: nothing happened to the account.
    assert_eq!(broker.record_count(&topics.account_actions), 0);
}

#[test]
fn redelivered_complaints_are_not_counted_again_so_a_replay_warns_no_one_new() {
    let Some((_serial, broker, topics)) = setup("feedback-once", 1) else {
        return;
    };
    // Two senders of flagged spam (too few for a violation by content: only complaints count
    // against them). AC0002 draws three opt-outs, the policy's `complaints`, and is warned;
    // AC0001 draws two.
    let spam = "Replica Rolex, Omega and Cartier watches from £89, free UK delivery. Order at www.luxury-watches-uk.com";
    let sent: Vec<_> = (1..=2)
        .flat_map(|account| (0..3).map(move |seq| message(account, seq, spam)))
        .collect();
    broker.produce(&topics.messages, &sent);
    let opt_out = |account: usize, seq: usize| {
        let json = serde_json::json!({
            "message_id": format!("SM{account:04}-{seq:06}"),
            "account_id": format!("AC{account:04}"),
            "kind": "opt_out", "at": "2026-11-28T17:06:00Z",
        });
        (
            format!("AC{account:04}"),
            serde_json::to_vec(&json).unwrap(),
        )
    };
    let complaints = [
        opt_out(1, 0),
        opt_out(1, 1),
        opt_out(2, 0),
        opt_out(2, 1),
        opt_out(2, 2),
    ];
    broker.produce(&topics.feedback, &complaints);
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("warden.db");
    let config = settings(&broker, "feedback-once", &topics);
    let all_committed = |messages: i64, feedback: i64| {
        common::kafka::wait_until(PATIENCE, "every record is committed", || {
            broker.committed("feedback-once", &topics.messages, 1) == [Some(messages)]
                && broker.committed("feedback-once", &topics.feedback, 1) == [Some(feedback)]
        })
    };

    let mut first = Warden::start_with_database(&config, Some(&database));
    all_committed(sent.len() as i64, complaints.len() as i64);
    assert_eq!(first.terminate(), Some(0), "{}", first.log());
    let mut notices = broker.reader(&topics.notices);
    let warned = notices.read_until(PATIENCE, "the control's warning", |r| !r.is_empty());
    assert_eq!(
        (
            warned[0].payload["account_id"].as_str(),
            warned[0].payload["kind"].as_str()
        ),
        (Some("AC0002"), Some("warning"))
    );

    // Rewinding the group stands for a crash that lost the commits: every record is
    // redelivered, onto signals checkpointed with the complaints already in them. The group
    // must be empty first: tansu 0.6 keeps a member until its session expires.
    std::thread::sleep(SESSION_TIMEOUT + Duration::from_secs(1));
    broker.reset_offsets("feedback-once", &topics.messages, 1, 0);
    broker.reset_offsets("feedback-once", &topics.feedback, 1, 0);
    // One more flagged message from AC0001, decided afresh (a case needs a message for its
    // evidence, and the replayed ones are not assessed): counting its two complaints again
    // would make four, and warn it.
    broker.produce(&topics.messages, &[message(1, 3, spam)]);
    let mut second = Warden::start_with_database(&config, Some(&database));
    all_committed(sent.len() as i64 + 1, complaints.len() as i64);
    assert_eq!(second.terminate(), Some(0), "{}", second.log());
    assert!(
        second.log().contains("account signals restored"),
        "{}",
        second.log()
    );
    assert_eq!(
        broker.record_count(&topics.notices),
        1,
        "only the control is warned: {}",
        second.log()
    );
    let mut verdicts = broker.reader(&topics.verdicts);
    let verdict = verdicts
        .read_until(PATIENCE, "the new message's verdict", |r| {
            r.iter().any(|v| v.payload["message_id"] == "SM0001-000003")
        })
        .iter()
        .find(|v| v.payload["message_id"] == "SM0001-000003")
        .unwrap();
    assert_eq!(verdict.payload["action"], "flag", "{:?}", verdict.payload);
}

#[test]
fn a_bad_rule_trips_the_breaker_which_holds_across_a_restart_until_an_admin_resets_it() {
    let Some((_serial, broker, topics)) = setup("breaker", 2) else {
        return;
    };
    // A bad release: a "fraud" rule that matches a greeting, and a policy whose breaker allows
    // three automated suspensions before it trips.
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        r#"[[rule]]
id = "fraud.bad_release"
category = "fraud"
severity = "high"
weight = 0.99
description = "A rule released by mistake"
keywords = ["hello"]
examples.match = ["hello there"]
examples.no_match = ["goodbye"]
"#,
    )
    .unwrap();
    let policy = dir.path().join("policy.toml");
    write_shipped_policy(
        &policy,
        &[
            ("blocked_messages = 3", "blocked_messages = 2"),
            ("min_suspensions = 20", "min_suspensions = 3"),
        ],
    );
    let accounts = 12;
    let records: Vec<_> = (0..3)
        .flat_map(|seq| (0..accounts).map(move |a| message(a, seq, "hello there, how are you")))
        .collect();
    broker.produce(&topics.messages, &records);
    let database = dir.path().join("warden.db");
    let args = [
        "--rules-only",
        "--rules",
        rules.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
    ];
    let config = settings(&broker, "breaker", &topics);
    let mut warden = Warden::start_with(&config, &database, &args);
    let mut verdicts = broker.reader(&topics.verdicts);
    verdicts.read_until(PATIENCE, "a verdict per message", |r| {
        r.len() >= records.len()
    });
    assert_eq!(warden.terminate(), Some(0), "{}", warden.log());
    // Every account met the policy, but only the first three were suspended.
    assert_eq!(broker.record_count(&topics.account_actions), 3);
    assert_eq!(broker.record_count(&topics.notices), 3);
    assert!(
        warden.log().contains("circuit breaker tripped"),
        "{}",
        warden.log()
    );

    let breaker = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
            .arg("breaker")
            .args(args)
            .args([
                "--database-url",
                &format!("sqlite://{}", database.display()),
            ])
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    let (code, status) = breaker(&["status"]);
    assert_eq!(code, Some(0));
    assert!(status.starts_with("tripped since"), "{status}");

    // A restart does not close it: a new account meeting the policy goes to review.
    let mut warden = Warden::start_with(&config, &database, &args);
    let more: Vec<_> = (0..3).map(|seq| message(20, seq, "hello again")).collect();
    broker.produce(&topics.messages, &more);
    verdicts.read_until(PATIENCE, "the new account's verdicts", |r| {
        r.len() >= records.len() + more.len()
    });
    assert_eq!(broker.record_count(&topics.account_actions), 3);

    // An admin's reset reaches the running instance, and automated suspensions resume.
    let (code, said) = breaker(&["reset", "--by", "alice", "--reason", "rule rolled back"]);
    assert_eq!(code, Some(0), "{said}");
    common::kafka::wait_until(PATIENCE, "the instance to follow the reset", || {
        warden.log().contains("circuit breaker reset")
    });
    let last: Vec<_> = (0..3)
        .map(|seq| message(21, seq, "hello once more"))
        .collect();
    broker.produce(&topics.messages, &last);
    let mut actions = broker.reader(&topics.account_actions);
    actions.read_until(PATIENCE, "a fourth suspension", |r| r.len() >= 4);
    // Read back from every partition, so in no particular order across accounts.
    let suspended: Vec<&str> = actions
        .records
        .iter()
        .filter_map(|r| r.key.as_deref())
        .collect();
    assert!(suspended.contains(&"AC0021"), "{suspended:?}");
    assert!(!suspended.contains(&"AC0020"), "{suspended:?}");
    assert_eq!(warden.terminate(), Some(0), "{}", warden.log());
    let (_, status) = breaker(&["status"]);
    assert!(status.contains("by admin:alice"), "{status}");
}

/// `warden simulate --json` of `accounts` accounts of seed 7 against `broker`, with `extra`
/// arguments; its report.
fn simulate(broker: &Broker, accounts: &str, extra: &[&std::ffi::OsStr]) -> serde_json::Value {
    common::json_output(
        std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(["simulate", "--accounts", accounts, "--seed", "7", "--json"])
            .args(["--timeout-s", "120", "--brokers", &broker.address()])
            .args(extra)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("WARDEN_LOG", "warn"),
    )
}

#[test]
fn a_simulation_acts_on_abusive_accounts_and_suspends_no_legitimate_one() {
    let _serial = serial();
    let Some(broker) = Broker::start() else {
        return;
    };
    // The simulated abusers all start within the first hour: a surge by design, which the
    // shipped breaker would (rightly) stop after 20 suspensions. Raise its floor for this run.
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    write_shipped_policy(
        &policy,
        &[("min_suspensions = 20", "min_suspensions = 100000")],
    );
    let report = simulate(&broker, "300", &["--policy".as_ref(), policy.as_ref()]);
    assert_eq!(report["accounts"], 300);
    assert_eq!(report["legitimate_suspended"], 0, "{report}");
    assert_eq!(report["stop_precision"], 1.0, "{report}");
    assert!(
        report["abusive_acted_on"].as_f64().unwrap() > 0.9,
        "{report}"
    );
    assert_eq!(report["opted_out_deliveries"], 0, "{report}");
}

#[test]
fn a_simulation_runs_the_candidate_model_and_rules_it_is_given() {
    let _serial = serial();
    let Some(broker) = Broker::start() else {
        return;
    };
    // A candidate that calls every message spam: the shipped model, its SMS head's spam bias
    // raised far above the rest, sealed again. Spam flags but never blocks on the model alone,
    // and a flag counts against an account only with a rule hit behind it, so a legitimate
    // sender is warned when its template has a weak rule hit that the candidate's score turns
    // into a flag. Enough senders must run for some to draw such a template: with 300 (the
    // test above, the same seed) the shipped model warns none of them.
    let dir = tempfile::tempdir().unwrap();
    let mut candidate: warden::model::ModelFile =
        serde_json::from_str(&common::repo_file("models/warden.json")).unwrap();
    candidate.heads.sms.bias = vec![0.0, 50.0, 0.0];
    candidate.seal();
    let model = dir.path().join("candidate.json");
    std::fs::write(&model, serde_json::to_string(&candidate).unwrap()).unwrap();
    let extra = [
        "--breaker-floor".as_ref(),
        "100000".as_ref(),
        "--model".as_ref(),
        model.as_ref(),
    ];
    let report = simulate(&broker, "300", &extra);
    assert!(
        report["legitimate_warned"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    assert_eq!(report["legitimate_suspended"], 0, "{report}");

    // Candidate rules reach `warden run` too: a broken file stops the simulation, named by
    // its line and reason.
    let rules = dir.path().join("candidate.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"x\"\ncategory = \"spam\"\nregex = \"(\"\n",
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["simulate", "--accounts", "10", "--timeout-s", "60"])
        .args(["--brokers", &broker.address()])
        .arg("--rules")
        .arg(&rules)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("WARDEN_LOG", "warn")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{said}");
    assert!(said.contains("line 4") && said.contains("regex"), "{said}");
}

#[test]
fn signals_survive_a_restart_so_evidence_split_across_it_still_suspends() {
    let Some((_serial, broker, topics)) = setup("checkpoint", 1) else {
        return;
    };
    // A blocking rule of medium severity: only repeated blocks (3 in an hour) can suspend.
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        r#"[[rule]]
id = "spam.prize_call"
category = "spam"
severity = "medium"
weight = 0.9
description = "Announces a prize to claim by calling a number"
keywords = ["claim your prize"]
examples.match = ["call now to claim your prize"]
examples.no_match = ["see you at six"]
"#,
    )
    .unwrap();
    let args = ["--rules-only", "--rules", rules.to_str().unwrap()];
    let database = dir.path().join("warden.db");
    let config = settings(&broker, "checkpoint", &topics);
    let body = "Call 09061701461 now to claim your prize";

    broker.produce(
        &topics.messages,
        &[message(1, 0, body), message(1, 1, body)],
    );
    let mut first = Warden::start_with(&config, &database, &args);
    let mut verdicts = broker.reader(&topics.verdicts);
    verdicts.read_until(PATIENCE, "two verdicts", |r| r.len() >= 2);
    assert!(
        verdicts
            .records
            .iter()
            .all(|v| v.payload["action"] == "block")
    );
    assert_eq!(first.terminate(), Some(0), "{}", first.log());
    assert_eq!(broker.record_count(&topics.account_actions), 0);

    // After the restart, a third block within the hour suspends: the first two were kept.
    let mut second = Warden::start_with(&config, &database, &args);
    broker.produce(&topics.messages, &[message(1, 2, body)]);
    let mut actions = broker.reader(&topics.account_actions);
    let action = actions.read_until(PATIENCE, "a suspension", |r| !r.is_empty())[0].clone();
    assert_eq!(
        action.payload["reason_codes"][0],
        "repeated_blocked_messages"
    );
    assert_eq!(second.terminate(), Some(0), "{}", second.log());
    assert!(
        second.log().contains("account signals restored"),
        "{}",
        second.log()
    );
}
