//! A real Kafka-API broker (tansu) and a real `warden run` process for pipeline tests.
//!
//! Each test starts its own broker on a free port, with SQLite storage, and stops it when
//! dropped. Waits poll a condition against a deadline; nothing sleeps and hopes.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};

/// The tansu binary: `$TANSU`, else `tansu` on the PATH or in `~/.cargo/bin`. `None` (test
/// skipped, with a note) when absent, unless `WARDEN_REQUIRE_BROKER=1`, which CI sets.
fn tansu() -> Option<PathBuf> {
    let candidates = std::env::var_os("TANSU")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::env::var_os("PATH").into_iter().flat_map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("tansu"))
                .collect::<Vec<_>>()
        }))
        .chain(std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo/bin/tansu")));
    for candidate in candidates {
        if candidate.is_file() {
            return Some(candidate);
        }
    }
    if std::env::var_os("WARDEN_REQUIRE_BROKER").is_some_and(|v| v == "1") {
        panic!("tansu is not installed and WARDEN_REQUIRE_BROKER=1");
    }
    eprintln!(
        "skipped: tansu is not installed (cargo install tansu --locked --features dynostore,libsql)"
    );
    None
}

pub struct Broker {
    binary: PathBuf,
    child: Option<Child>,
    port: u16,
    storage_url: String,
    dir: tempfile::TempDir,
}

impl Broker {
    /// Starts a broker, or returns `None` when tansu is absent (see [`tansu`]).
    ///
    /// Storage is SQLite, which survives a broker restart. tansu 0.6's in-memory engine is not
    /// used: a fetch from an offset inside a stored batch skips the rest of that batch, so a
    /// consumer resuming from a committed offset would silently miss records.
    pub fn start() -> Option<Self> {
        let binary = tansu()?;
        let dir = tempfile::tempdir().expect("temp dir");
        // tansu reads the path relative to its working directory, which is `dir`.
        let storage_url = "sqlite://tansu.db".to_owned();
        let port = free_port();
        let mut broker = Self {
            binary,
            child: None,
            port,
            storage_url,
            dir,
        };
        broker.launch();
        Some(broker)
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn launch(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::File::create(self.dir.path().join("tansu.log")).expect("log file");
        let child = Command::new(&self.binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", &self.storage_url])
            .current_dir(self.dir.path())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("tansu starts");
        self.child = Some(child);
        let addr: SocketAddr = self.address().parse().expect("address");
        wait_until(Duration::from_secs(30), "the broker listens", || {
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        });
    }

    /// Kills the broker (as a crash would).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the broker again on the same port and storage.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    pub fn create_topic(&self, name: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = client_config(&self.address())
            .create()
            .expect("admin client");
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let results = runtime
            .block_on(admin.create_topics([&topic], &options))
            .expect("create topics");
        for result in results {
            result.unwrap_or_else(|(topic, code)| panic!("create topic {topic}: {code}"));
        }
    }

    /// Produces `(key, payload)` records and waits for every acknowledgement.
    pub fn produce(&self, topic: &str, records: &[(String, Vec<u8>)]) {
        let producer: BaseProducer = client_config(&self.address())
            .set("acks", "all")
            .set("linger.ms", "5")
            .create()
            .expect("producer");
        for (key, payload) in records {
            let mut record = BaseRecord::to(topic)
                .key(key.as_str())
                .payload(payload.as_slice());
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((_, rejected)) => {
                        // Local queue full: serve delivery reports, then try again.
                        producer.poll(Duration::from_millis(10));
                        record = rejected;
                    }
                }
            }
        }
        producer
            .flush(Duration::from_secs(30))
            .expect("all records acknowledged");
    }

    /// A reader of `topic` from its beginning, on every partition.
    pub fn reader(&self, topic: &str) -> TopicReader {
        let consumer: BaseConsumer = client_config(&self.address())
            .set("group.id", format!("test-reader-{topic}"))
            .set("enable.auto.commit", "false")
            .create()
            .expect("reader");
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("metadata");
        let mut assignment = TopicPartitionList::new();
        for partition in metadata.topics()[0].partitions() {
            assignment
                .add_partition_offset(topic, partition.id(), Offset::Beginning)
                .expect("offset");
        }
        consumer.assign(&assignment).expect("assign");
        TopicReader {
            consumer,
            records: Vec::new(),
        }
    }

    /// A client that reads and commits `group`'s offsets without joining it.
    fn group_client(&self, group: &str) -> BaseConsumer {
        client_config(&self.address())
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
        let consumer: BaseConsumer = client_config(&self.address()).create().expect("consumer");
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
        std::fs::read_to_string(self.dir.path().join("tansu.log")).unwrap_or_default()
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

/// One record read back: where it was and what it held.
#[derive(Debug, Clone)]
pub struct Received {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub payload: serde_json::Value,
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
                let payload = message.payload().unwrap_or_default();
                self.records.push(Received {
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message
                        .key()
                        .map(|k| String::from_utf8_lossy(k).into_owned()),
                    payload: serde_json::from_slice(payload).expect("JSON record"),
                });
            }
        }
        &self.records
    }
}

/// A `warden run` process, killed when dropped.
pub struct Warden {
    child: Option<Child>,
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
        let child = Command::new(env!("CARGO_BIN_EXE_warden"))
            .arg("run")
            .arg("--config")
            .arg(&config)
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
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("warden starts");
        Self {
            child: Some(child),
            log,
            _dir: dir,
        }
    }

    /// SIGKILL: no drain, no commit, as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits (bounded) for a clean exit and returns its status code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let pid = child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status.code();
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                panic!(
                    "warden did not exit within 30 s of SIGTERM:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
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

/// Topic names unique to one test.
pub struct TopicNames {
    pub messages: String,
    pub feedback: String,
    pub verdicts: String,
    pub dead_letters: String,
    pub account_actions: String,
    pub notices: String,
}

impl TopicNames {
    pub fn new(test: &str) -> Self {
        Self {
            messages: format!("{test}-messages"),
            feedback: format!("{test}-feedback"),
            verdicts: format!("{test}-verdicts"),
            dead_letters: format!("{test}-dead-letters"),
            account_actions: format!("{test}-account-actions"),
            notices: format!("{test}-notices"),
        }
    }

    /// Creates the topics, the input with `partitions` partitions.
    pub fn create(&self, broker: &Broker, partitions: i32) {
        broker.create_topic(&self.messages, partitions);
        broker.create_topic(&self.feedback, partitions);
        broker.create_topic(&self.verdicts, partitions);
        broker.create_topic(&self.dead_letters, 1);
        broker.create_topic(&self.account_actions, partitions);
        broker.create_topic(&self.notices, partitions);
    }
}

/// A valid `messages` record for account `account`, number `seq`, keyed by account.
pub fn message(account: usize, seq: usize, body: &str) -> (String, Vec<u8>) {
    let account_id = format!("AC{account:04}");
    let record = serde_json::json!({
        "message_id": format!("SM{account:04}-{seq:06}"),
        "account_id": account_id,
        "sent_at": "2026-11-28T17:04:05Z",
        "channel": "sms",
        "to": "+14155550199",
        "body": body,
    });
    (account_id, serde_json::to_vec(&record).expect("json"))
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

fn client_config(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers);
    config
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}
