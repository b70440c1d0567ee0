//! A real Kafka-API broker (tansu) and a real `warden run` process for pipeline tests.
//!
//! Each test starts its own broker on a free port, with SQLite storage, and stops it when
//! dropped. Waits poll a condition against a deadline; nothing sleeps and hopes.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::BaseProducer;
use rdkafka::{Offset, TopicPartitionList};
use warden::harness::{
    Outgoing, SmsMessage, Tansu, WardenRun, client, reader_from_beginning, send,
};

pub use warden::harness::{Received, Topics as TopicNames};

/// The tansu binary, or `None` (test skipped, with a note) when absent, unless
/// `WARDEN_REQUIRE_BROKER=1`, which CI sets.
fn tansu() -> Option<PathBuf> {
    let found = warden::harness::tansu_binary();
    if found.is_none() {
        if std::env::var_os("WARDEN_REQUIRE_BROKER").is_some_and(|v| v == "1") {
            panic!("tansu is not installed and WARDEN_REQUIRE_BROKER=1");
        }
        eprintln!(
            "skipped: tansu is not installed (cargo install tansu --locked --features dynostore,libsql)"
        );
    }
    found
}

/// A broker of this test's own, on a free port, its storage in a temp dir.
pub struct Broker {
    tansu: Tansu,
    _dir: tempfile::TempDir,
}

impl Broker {
    /// Starts a broker, or returns `None` when tansu is absent (see [`tansu`]).
    pub fn start() -> Option<Self> {
        let binary = tansu()?;
        let dir = tempfile::tempdir().expect("temp dir");
        let address = format!("127.0.0.1:{}", free_port());
        let tansu = Tansu::start(&binary, &address, dir.path()).expect("tansu starts");
        Some(Self { tansu, _dir: dir })
    }

    pub fn address(&self) -> String {
        self.tansu.address().to_owned()
    }

    /// Kills the broker (as a crash would).
    pub fn stop(&mut self) {
        self.tansu.kill();
    }

    /// Starts the broker again on the same port and storage.
    pub fn restart(&mut self) {
        self.tansu.restart().expect("tansu restarts");
    }

    /// Produces `(key, payload)` records and waits for every acknowledgement.
    pub fn produce(&self, topic: &str, records: &[(String, Vec<u8>)]) {
        let producer: BaseProducer = client(&self.address())
            .set("acks", "all")
            .set("linger.ms", "5")
            .create()
            .expect("producer");
        let outgoing: Vec<Outgoing<'_>> = records
            .iter()
            .map(|(key, payload)| Outgoing {
                topic,
                key: key.clone(),
                payload: payload.clone(),
            })
            .collect();
        send(&producer, &outgoing, 0).expect("all records acknowledged");
    }

    /// A reader of `topic` from its beginning, on every partition.
    pub fn reader(&self, topic: &str) -> TopicReader {
        TopicReader {
            consumer: reader_from_beginning(&self.address(), topic).expect("reader"),
            records: Vec::new(),
        }
    }

    /// A client that reads and commits `group`'s offsets without joining it.
    fn group_client(&self, group: &str) -> BaseConsumer {
        client(&self.address())
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer")
    }

    /// The offsets `group` has committed on `topic`, by partition.
    pub fn committed(&self, group: &str, topic: &str, partitions: i32) -> Vec<Option<i64>> {
        let consumer = self.group_client(group);
        let mut list = TopicPartitionList::new();
        for partition in 0..partitions {
            list.add_partition(topic, partition);
        }
        let committed = consumer
            .committed_offsets(list, Duration::from_secs(10))
            .expect("committed offsets");
        (0..partitions)
            .map(
                |p| match committed.find_partition(topic, p).map(|e| e.offset()) {
                    Some(Offset::Offset(offset)) => Some(offset),
                    _ => None,
                },
            )
            .collect()
    }

    /// Commits `offset` for `group` on every partition of `topic`, as an operator resetting a
    /// group would. The group must have no live member.
    pub fn reset_offsets(&self, group: &str, topic: &str, partitions: i32, offset: i64) {
        let consumer = self.group_client(group);
        let mut list = TopicPartitionList::new();
        for partition in 0..partitions {
            list.add_partition_offset(topic, partition, Offset::Offset(offset))
                .expect("offset");
        }
        consumer
            .commit(&list, CommitMode::Sync)
            .expect("offsets committed");
    }

    /// Records in `topic` now: the sum of its partitions' high watermarks.
    pub fn record_count(&self, topic: &str) -> i64 {
        let consumer: BaseConsumer = client(&self.address()).create().expect("consumer");
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("metadata");
        metadata.topics()[0]
            .partitions()
            .iter()
            .map(|p| {
                let (low, high) = consumer
                    .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
                    .expect("watermarks");
                high - low
            })
            .sum()
    }

    /// The broker's log, for failure messages.
    pub fn log(&self) -> String {
        self.tansu.log()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- broker log (last lines) ---");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

pub struct TopicReader {
    consumer: BaseConsumer,
    pub records: Vec<Received>,
}

impl TopicReader {
    /// Reads until `done(records)` holds. Panics, saying what was awaited, when no record has
    /// arrived for `patience` (a stalled stream), or after ten times `patience` in all (one that
    /// never gets there): the wait is bounded by progress, so a slow machine that keeps
    /// delivering is not failed at a fixed total.
    pub fn read_until(
        &mut self,
        patience: Duration,
        what: &str,
        mut done: impl FnMut(&[Received]) -> bool,
    ) -> &[Received] {
        let start = Instant::now();
        let mut last_progress = Instant::now();
        while !done(&self.records) {
            assert!(
                last_progress.elapsed() < patience && start.elapsed() < patience * 10,
                "timed out waiting for {what}: nothing new for {:?} ({:?} in all); have {} records",
                last_progress.elapsed(),
                start.elapsed(),
                self.records.len()
            );
            if let Some(result) = self.consumer.poll(Duration::from_millis(100)) {
                last_progress = Instant::now();
                let message = result.expect("read");
                self.records
                    .push(Received::read(&message).expect("JSON record"));
            }
        }
        &self.records
    }
}

/// A `warden run` process, killed when dropped.
pub struct Warden {
    run: Option<WardenRun>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Warden {
    /// Starts `warden run` with a config file of `settings` (TOML), from the repo root. The
    /// database is `database` (a SQLite file in this instance's temp dir when `None`).
    pub fn start(settings: &str) -> Self {
        Self::start_with_database(settings, None)
    }

    /// Starts `warden run` with extra command-line arguments.
    pub fn start_with_args(settings: &str, args: &[&str]) -> Self {
        Self::launch(settings, None, args)
    }

    pub fn start_with_database(settings: &str, database: Option<&Path>) -> Self {
        Self::launch(settings, database, &[])
    }

    /// Starts `warden run` on the database file `database` with extra arguments.
    pub fn start_with(settings: &str, database: &Path, args: &[&str]) -> Self {
        Self::launch(settings, Some(database), args)
    }

    fn launch(settings: &str, database: Option<&Path>, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("warden.toml");
        std::fs::write(&config, settings).expect("config");
        let database = database
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.path().join("warden.db"));
        let log = dir.path().join("warden.log");
        let mut command = WardenRun::command(Path::new(env!("CARGO_BIN_EXE_warden")), &config);
        command
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env(
                "WARDEN_DATABASE_URL",
                format!("sqlite://{}", database.display()),
            )
            .env("WARDEN_APPEAL_SECRET", APPEAL_SECRET)
            .env("WARDEN_RECIPIENT_KEY", "test-recipient-key-0123456789")
            .env(
                "WARDEN_LOG",
                std::env::var("WARDEN_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stderr(std::fs::File::create(&log).expect("log"));
        Self {
            run: Some(WardenRun::spawn(command).expect("warden starts")),
            log,
            _dir: dir,
        }
    }

    /// SIGKILL: no drain, no commit, as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut run) = self.run.take() {
            run.kill();
        }
    }

    /// SIGTERM, then waits (bounded) for a clean exit and returns its status code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut run = self.run.take()?;
        let status = run.terminate(Duration::from_secs(30)).expect("kill runs");
        let Some(status) = status else {
            panic!(
                "warden did not exit within 30 s of SIGTERM:\n{}",
                self.log()
            );
        };
        status.code()
    }

    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.log) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for Warden {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("--- warden log ---\n{}", self.log());
        }
    }
}

/// The appeal-token secret of test instances.
pub const APPEAL_SECRET: &str = "test-appeal-secret-0123456789";

/// The group session timeout of test instances: a killed member is declared dead after this.
pub const SESSION_TIMEOUT: Duration = Duration::from_millis(6_000);

/// Settings for a test instance: its broker, group and topic names; small batches and a short
/// session timeout so that a takeover happens within a test's patience.
pub fn settings(broker: &Broker, group: &str, topics: &TopicNames) -> String {
    format!(
        r#"
[kafka]
brokers = "{}"
group = "{group}"
session_timeout_ms = {}

[topics]
messages = "{}"
feedback = "{}"
verdicts = "{}"
dead_letters = "{}"
account_actions = "{}"
notices = "{}"

[stream]
batch_max_messages = 500
drain_timeout_ms = 3000
retry_backoff_max_ms = 1000

[api]
listen = ""
"#,
        broker.address(),
        SESSION_TIMEOUT.as_millis(),
        topics.messages,
        topics.feedback,
        topics.verdicts,
        topics.dead_letters,
        topics.account_actions,
        topics.notices,
    )
}

/// A valid `messages` record for account `account`, number `seq`, keyed by account.
pub fn message(account: usize, seq: usize, body: &str) -> (String, Vec<u8>) {
    let account_id = format!("AC{account:04}");
    let payload = SmsMessage {
        message_id: &format!("SM{account:04}-{seq:06}"),
        account_id: &account_id,
        sent_at: "2026-11-28T17:04:05Z",
        to: "+14155550199",
        body,
    }
    .payload();
    (account_id, payload)
}

/// Polls `condition` until it holds, or panics after `deadline` naming what was awaited.
pub fn wait_until(deadline: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}
