//! `warden bench`: labelled traffic through a real broker and a real `warden run`, measured end
//! to end (produce → verdict).
//!
//! Fresh topics and a fresh group per run, so runs never see each other's records. Two modes:
//! - backlog (`--rate 0`, the default): every message is produced first, then Warden starts and
//!   the sustained rate is the messages over the time from its first verdict to its last;
//! - paced (`--rate R`): Warden runs first, messages go out at R per second, and each one's
//!   latency is the time from its send to its verdict's arrival.
//!
//! Peak memory is the `warden run` process's high-water resident set (`VmHWM`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::{Message, Offset, TopicPartitionList};

use warden::dataset::read_labelled;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Broker to benchmark against (`host:port`).
    #[arg(long, env = "WARDEN_BROKERS", default_value = "127.0.0.1:9092")]
    brokers: String,
    /// Messages to send.
    #[arg(long, default_value_t = 200_000)]
    messages: usize,
    /// Messages per second; 0 sends the whole backlog first and measures throughput.
    #[arg(long, default_value_t = 0)]
    rate: u32,
    /// Partitions of the bench's input topic.
    #[arg(long, default_value_t = 4)]
    partitions: i32,
    /// Distinct sending accounts.
    #[arg(long, default_value_t = 1_000)]
    accounts: usize,
    /// Labelled message texts to cycle through (`label<TAB>text` or `label<TAB>action<TAB>text`).
    #[arg(long, default_value = "tests/data/corpus.tsv")]
    corpus: PathBuf,
    /// Measure the broker alone: read the input topic back, with no Warden in between. The
    /// latency floor of one hop, against which Warden's two hops (in and out) compare.
    #[arg(long, requires = "rate")]
    broker_only: bool,
    /// Print this many verdicts as they arrive, as well as the summary.
    #[arg(long, default_value_t = 0)]
    print_verdicts: usize,
    /// Longest wait for all verdicts, in seconds.
    #[arg(long, default_value_t = 300)]
    timeout_s: u64,
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let texts: Vec<String> = read_labelled(&args.corpus)?
        .into_iter()
        .map(|(_, text)| text)
        .collect();
    if texts.is_empty() || args.messages == 0 {
        bail!("nothing to send: the corpus and --messages must not be empty");
    }
    let run_id = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    let topics = BenchTopics::new(run_id);
    create_topics(&args.brokers, &topics, args.partitions)?;
    let records: Vec<Outgoing<'_>> = (0..args.messages)
        .map(|i| {
            let (key, payload) = message(run_id, i, i % args.accounts, &texts[i % texts.len()]);
            Outgoing {
                topic: &topics.messages,
                key,
                payload,
            }
        })
        .collect();
    let producer: BaseProducer = client(&args.brokers)
        .set("linger.ms", "1")
        .set("acks", "all")
        .create()
        .context("cannot create the bench producer")?;
    let read_topic = match args.broker_only {
        true => &topics.messages,
        false => &topics.verdicts,
    };
    let mut verdicts = open_reader(&args.brokers, read_topic, args.partitions)?;
    let config_dir = tempfile::tempdir().context("cannot create a temp dir")?;
    let config = config_dir.path().join("warden.toml");
    std::fs::write(&config, settings(&args.brokers, run_id, &topics))?;

    let deadline = Duration::from_secs(args.timeout_s);
    let mut tally = Tally {
        print: args.print_verdicts,
        ..Tally::default()
    };
    let report = if args.rate == 0 {
        send(&producer, &records, 0, &mut vec![None; records.len()])?;
        let mut warden = Warden::start(&config)?;
        let arrivals = collect(
            &mut verdicts,
            args.messages,
            deadline,
            &mut warden,
            &mut tally,
        )?;
        let first = arrivals
            .iter()
            .min()
            .copied()
            .expect("at least one verdict");
        let last = arrivals
            .iter()
            .max()
            .copied()
            .expect("at least one verdict");
        let seconds = last.duration_since(first).as_secs_f64();
        let peak = warden.stop()?;
        format!(
            "backlog of {} messages: {:.0} messages/s sustained (first to last verdict, {seconds:.2} s); warden peak memory {peak}",
            args.messages,
            (args.messages - 1) as f64 / seconds.max(f64::EPSILON),
        )
    } else {
        let mut warden = match args.broker_only {
            true => Warden::absent(),
            false => Warden::start(&config)?,
        };
        // One warm-up message proves the group has formed before the clock starts.
        let (key, payload) = message(run_id, usize::MAX, 0, &texts[0]);
        let warm_up = Outgoing {
            topic: &topics.messages,
            key,
            payload,
        };
        send(&producer, &[warm_up], 0, &mut [None])?;
        collect(
            &mut verdicts,
            1,
            deadline,
            &mut warden,
            &mut Tally::default(),
        )?;
        let (arrivals, sent_at) = std::thread::scope(|scope| {
            let sender = scope.spawn(|| {
                let mut sent_at = vec![None; records.len()];
                send(&producer, &records, args.rate, &mut sent_at).map(|()| sent_at)
            });
            let arrivals = collect(
                &mut verdicts,
                args.messages,
                deadline,
                &mut warden,
                &mut tally,
            );
            (arrivals, sender.join().expect("the sender does not panic"))
        });
        let (arrivals, sent_at) = (arrivals?, sent_at?);
        let mut latencies: Vec<Duration> = arrivals
            .iter()
            .zip(&sent_at)
            .map(|(arrived, sent)| arrived.duration_since(sent.expect("every message was sent")))
            .collect();
        latencies.sort();
        let quantile = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
        let peak = warden.stop()?;
        format!(
            "{} messages at {} messages/s: decision latency (produce to verdict) p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; warden peak memory {peak}",
            args.messages,
            args.rate,
            quantile(0.5).as_secs_f64() * 1e3,
            quantile(0.99).as_secs_f64() * 1e3,
            latencies.last().expect("latencies").as_secs_f64() * 1e3,
        )
    };
    println!("{report}");
    if !args.broker_only {
        println!("{tally}");
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) struct BenchTopics {
    pub(super) messages: String,
    pub(super) feedback: String,
    pub(super) verdicts: String,
    pub(super) dead_letters: String,
    pub(super) account_actions: String,
    pub(super) notices: String,
}

impl BenchTopics {
    /// Fresh topic names for one run.
    pub(super) fn new(run_id: i128) -> Self {
        Self::named("bench", run_id)
    }

    /// Fresh topic names for one run of `command`.
    pub(super) fn named(command: &str, run_id: i128) -> Self {
        let name = |topic: &str| format!("{command}-{run_id}-{topic}");
        Self {
            messages: name("messages"),
            feedback: name("feedback"),
            verdicts: name("verdicts"),
            dead_letters: name("dead-letters"),
            account_actions: name("account-actions"),
            notices: name("notices"),
        }
    }
}

impl BenchTopics {
    /// The `[kafka]` and `[topics]` sections of `warden run` settings for these topics.
    pub(super) fn settings(&self, brokers: &str, group: &str) -> String {
        format!(
            "[kafka]\nbrokers = \"{brokers}\"\ngroup = \"{group}\"\n\n[topics]\nmessages = \"{}\"\n\
             feedback = \"{}\"\nverdicts = \"{}\"\ndead_letters = \"{}\"\naccount_actions = \"{}\"\n\
             notices = \"{}\"\n",
            self.messages,
            self.feedback,
            self.verdicts,
            self.dead_letters,
            self.account_actions,
            self.notices
        )
    }
}

pub(super) fn client(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers);
    config
}

pub(super) fn create_topics(
    brokers: &str,
    topics: &BenchTopics,
    partitions: i32,
) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = client(brokers).create()?;
    let new = [
        NewTopic::new(&topics.messages, partitions, TopicReplication::Fixed(1)),
        NewTopic::new(&topics.feedback, partitions, TopicReplication::Fixed(1)),
        NewTopic::new(&topics.verdicts, partitions, TopicReplication::Fixed(1)),
        NewTopic::new(&topics.dead_letters, 1, TopicReplication::Fixed(1)),
        NewTopic::new(
            &topics.account_actions,
            partitions,
            TopicReplication::Fixed(1),
        ),
        NewTopic::new(&topics.notices, partitions, TopicReplication::Fixed(1)),
    ];
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for result in runtime.block_on(admin.create_topics(&new, &options))? {
        result.map_err(|(topic, code)| anyhow::anyhow!("cannot create topic {topic}: {code}"))?;
    }
    Ok(())
}

/// The `warden run` settings for one bench run: its own group and topics.
pub(super) fn settings(brokers: &str, run_id: i128, topics: &BenchTopics) -> String {
    topics.settings(brokers, &format!("bench-{run_id}")) + "\n[api]\nlisten = \"\"\n"
}

/// Message `index` of a run; its id carries the index so its verdict can be matched.
fn message(run_id: i128, index: usize, account: usize, body: &str) -> (String, Vec<u8>) {
    let account_id = format!("ACbench{account:05}");
    let record = serde_json::json!({
        "message_id": format!("SMbench{run_id}-{index}"),
        "account_id": account_id,
        "sent_at": "2026-11-29T12:00:00Z",
        "channel": "sms",
        "to": "+14155550199",
        "body": body,
    });
    (account_id, serde_json::to_vec(&record).expect("JSON"))
}

/// One record to produce.
pub(super) struct Outgoing<'a> {
    pub(super) topic: &'a str,
    pub(super) key: String,
    pub(super) payload: Vec<u8>,
}

/// Sends `records` in order, at `rate` per second (0: as fast as possible), noting each send
/// time, and waits for every acknowledgement.
pub(super) fn send<C: ProducerContext<DeliveryOpaque = ()>>(
    producer: &BaseProducer<C>,
    records: &[Outgoing<'_>],
    rate: u32,
    sent_at: &mut [Option<Instant>],
) -> anyhow::Result<()> {
    let start = Instant::now();
    for (
        index,
        Outgoing {
            topic,
            key,
            payload,
        },
    ) in records.iter().enumerate()
    {
        if rate > 0 {
            let due = start + Duration::from_secs_f64(index as f64 / f64::from(rate));
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let mut record = BaseRecord::to(topic)
            .key(key.as_str())
            .payload(payload.as_slice());
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, rejected)) => {
                    producer.poll(Duration::from_millis(1));
                    record = rejected;
                }
            }
        }
        sent_at[index] = Some(Instant::now());
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(Duration::from_secs(60))
        .context("the broker did not acknowledge the bench traffic")?;
    Ok(())
}

pub(super) fn open_reader(
    brokers: &str,
    topic: &str,
    partitions: i32,
) -> anyhow::Result<BaseConsumer> {
    let consumer: BaseConsumer = client(brokers)
        .set("group.id", format!("{topic}-reader"))
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "5")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        assignment.add_partition_offset(topic, partition, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    Ok(consumer)
}

/// Verdicts by action, and how many to print as they arrive.
#[derive(Default)]
struct Tally {
    actions: BTreeMap<String, usize>,
    print: usize,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counts: Vec<String> = self
            .actions
            .iter()
            .map(|(action, n)| format!("{action} {n}"))
            .collect();
        write!(f, "actions: {}", counts.join(", "))
    }
}

/// Reads verdicts until `count` distinct messages have one; returns when each arrived, by index.
fn collect(
    reader: &mut BaseConsumer,
    count: usize,
    deadline: Duration,
    warden: &mut Warden,
    tally: &mut Tally,
) -> anyhow::Result<Vec<Instant>> {
    let start = Instant::now();
    let mut arrived: BTreeMap<usize, Instant> = BTreeMap::new();
    let mut warm_up_seen = false;
    while arrived.len() + usize::from(warm_up_seen) < count {
        if start.elapsed() > deadline {
            bail!(
                "only {} of {count} verdicts within {deadline:?}",
                arrived.len()
            );
        }
        warden.check_alive()?;
        let Some(result) = reader.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = result.context("cannot read verdicts")?;
        let now = Instant::now();
        let verdict: serde_json::Value =
            serde_json::from_slice(message.payload().unwrap_or_default())?;
        let id = verdict["message_id"].as_str().unwrap_or_default();
        match id.rsplit('-').next().and_then(|i| i.parse::<usize>().ok()) {
            Some(usize::MAX) => warm_up_seen = true,
            Some(index) => {
                if arrived.insert(index, now).is_none() {
                    let action = verdict["action"].as_str().unwrap_or("none");
                    *tally.actions.entry(action.to_owned()).or_default() += 1;
                    if tally.print > 0 {
                        tally.print -= 1;
                        println!("{verdict}");
                    }
                }
            }
            None => bail!("unexpected verdict {id}"),
        }
    }
    Ok(arrived.into_values().collect())
}

/// The `warden run` under test, a child of this process (none with `--broker-only`).
pub(super) struct Warden {
    child: Option<Child>,
}

impl Warden {
    pub(super) fn start(config: &std::path::Path) -> anyhow::Result<Self> {
        Self::start_with(config, &[])
    }

    /// Starts `warden run` with extra arguments (e.g. `--policy FILE`).
    pub(super) fn start_with(
        config: &std::path::Path,
        extra: &[std::ffi::OsString],
    ) -> anyhow::Result<Self> {
        // A throwaway database and secrets beside the config: the bench measures, it keeps nothing.
        let database = config.with_file_name("warden.db");
        let child = Command::new(std::env::current_exe()?)
            .arg("run")
            .arg("--config")
            .arg(config)
            .args(extra)
            .env(
                "WARDEN_DATABASE_URL",
                format!("sqlite://{}", database.display()),
            )
            .env(
                "WARDEN_APPEAL_SECRET",
                "bench-appeal-secret-not-for-production",
            )
            .env(
                "WARDEN_RECIPIENT_KEY",
                "bench-recipient-key-not-for-production",
            )
            .stdout(Stdio::null())
            .spawn()
            .context("cannot start warden run")?;
        Ok(Self { child: Some(child) })
    }

    fn absent() -> Self {
        Self { child: None }
    }

    pub(super) fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self
            .child
            .as_mut()
            .map(Child::try_wait)
            .transpose()?
            .flatten()
        {
            bail!("warden run exited early: {status}");
        }
        Ok(())
    }

    /// Reads the peak resident memory, then stops the process with SIGTERM.
    pub(super) fn stop(mut self) -> anyhow::Result<String> {
        let Some(mut child) = self.child.take() else {
            return Ok("n/a (broker only)".into());
        };
        let pid = child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let peak = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .map(|kb| kb.trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()?;
        child.wait()?;
        Ok(peak)
    }
}

impl Drop for Warden {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
