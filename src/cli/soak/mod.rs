//! `warden soak`: a steady stream through a real broker and a real `warden run` for many
//! minutes while faults are injected on a schedule, then an account of what survived.
//!
//! Faults, at fixed fractions of the run: Warden killed (SIGKILL) and restarted at 15 % and
//! 75 %, the broker stopped and restarted at 35 %, the database unavailable for `--outage-s`
//! from 55 % (SQLite: another connection holds an exclusive lock; PostgreSQL: the
//! `--database-stop` and `--database-start` commands). The soak starts its own tansu broker
//! (SQLite storage in `--dir`) so that it can restart it.
//!
//! Records the broker refuses while it is down are sent again once the stream has gone out,
//! as the messaging pipeline would; the report counts them.
//!
//! Afterwards it checks, from the topics and the database:
//! - every message sent has a verdict, and every copy of a message's verdict (a replay after a
//!   crash sends it again) is the same decision;
//! - no account has two cases, every suspension event names a case in the database, and every
//!   suspended case has its suspension event and its notice;
//! - Warden's resident memory is flat over its longest life (at most 25 % above its level one
//!   minute in).
//!
//! It exits non-zero when a check fails.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rdkafka::ClientContext;
use rdkafka::Message;
use rdkafka::consumer::Consumer;
use rdkafka::producer::{BaseProducer, DeliveryResult, Producer, ProducerContext};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use warden::dataset::{Label, read_labelled};

use warden::harness::{
    Outgoing, Received, SmsMessage, Topics, WardenRun, client, reader_from_beginning, send,
};

use super::demo::{spawn_warden_run, start_tansu};

mod report;
use report::Report;

#[derive(Debug, clap::Args)]
pub struct SoakArgs {
    /// Where the soak starts its own tansu broker (`host:port`), which it restarts mid-run.
    #[arg(long, default_value = "127.0.0.1:19095")]
    brokers: String,
    /// Length of the steady stream, in minutes.
    #[arg(long, default_value_t = 12.0)]
    minutes: f64,
    /// Messages per second.
    #[arg(long, default_value_t = 300)]
    rate: u32,
    /// Sending accounts.
    #[arg(long, default_value_t = 2_000)]
    accounts: usize,
    /// How many of them send only abusive texts (and should be suspended). Below the circuit
    /// breaker's `min_suspensions` (20), so every case is an automated suspension.
    #[arg(long, default_value_t = 15)]
    abusive_accounts: usize,
    /// Partitions of the input topic.
    #[arg(long, default_value_t = 4)]
    partitions: i32,
    /// Labelled texts (`label<TAB>expected action<TAB>text`, the corpus format).
    #[arg(long, default_value = "tests/data/corpus.tsv")]
    corpus: PathBuf,
    /// Working directory: broker storage, database, settings and logs.
    #[arg(long, default_value = "data/soak")]
    dir: PathBuf,
    /// Database for `warden run` [default: a new SQLite file in `--dir`].
    #[arg(long)]
    database_url: Option<String>,
    /// Shell command that makes a PostgreSQL database unavailable (e.g.
    /// `pg_ctlcluster 15 main stop`); with `--database-start`.
    #[arg(long, requires = "database_start")]
    database_stop: Option<String>,
    /// Shell command that brings it back (e.g. `pg_ctlcluster 15 main start`).
    #[arg(long, requires = "database_stop")]
    database_start: Option<String>,
    /// How long the database stays unavailable, in seconds.
    #[arg(long, default_value_t = 60)]
    outage_s: u64,
    /// Longest wait after the last message for the remaining verdicts, in seconds.
    #[arg(long, default_value_t = 600)]
    timeout_s: u64,
}

/// A fault and when it comes, as a fraction of the stream's length.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    KillWarden { down_s: u64 },
    RestartBroker,
    DatabaseOutage,
}

const SCHEDULE: [(f64, Fault); 4] = [
    (0.15, Fault::KillWarden { down_s: 2 }),
    (0.35, Fault::RestartBroker),
    (0.55, Fault::DatabaseOutage),
    (0.75, Fault::KillWarden { down_s: 5 }),
];

pub fn run(args: SoakArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let dir = args.dir.canonicalize()?;
    // Found once: a rebuild during the run replaces the file, and a deleted one cannot start.
    let exe = std::env::current_exe()?;
    let run_id = OffsetDateTime::now_utc().unix_timestamp_nanos();
    let database_url = args.database_url.clone().unwrap_or_else(|| {
        format!(
            "sqlite://{}",
            dir.join(format!("warden-{run_id}.db")).display()
        )
    });
    if !database_url.starts_with("sqlite:") && args.database_stop.is_none() {
        bail!("a PostgreSQL soak needs --database-stop and --database-start for its outage");
    }

    let mut broker = Some(start_tansu(&args.brokers, &dir)?);
    let topics = Topics::prefixed(&format!("soak-{run_id}"));
    topics.create(&args.brokers, args.partitions)?;
    let config = dir.join("warden.toml");
    std::fs::write(
        &config,
        settings(&args.brokers, run_id, &topics, &database_url),
    )?;

    let (records, abusive) = traffic(&args, run_id, &topics.messages)?;
    let sent = records.len();
    println!(
        "soak: {sent} messages from {} accounts ({} abusive) at {}/s over {:.1} min, broker {}, database {}",
        args.accounts,
        abusive.len(),
        args.rate,
        args.minutes,
        args.brokers,
        redact_password(&database_url)
    );
    let producer: BaseProducer<DeliveryFailures> = client(&args.brokers)
        .set("acks", "all")
        // Not idempotent: tansu 0.6's SQLite storage panics on an idempotent producer's batch
        // after a broker restart (`idempotent_message_check`, "more or less than one row").
        // A retried send can duplicate an input record; the checks count distinct messages.
        .set("enable.idempotence", "false")
        .set("max.in.flight.requests.per.connection", "1")
        .set("linger.ms", "5")
        // Messages wait out the broker's restart rather than expire.
        .set("message.timeout.ms", "600000")
        .create_with_context(DeliveryFailures::default())
        .context("cannot create the soak producer")?;

    let mut warden = Warden::start(&exe, &config, &dir, run_id)?;
    let mut memory = Vec::new();
    let stream = Duration::from_secs_f64(args.minutes * 60.0);
    let outcome = std::thread::scope(|scope| -> anyhow::Result<()> {
        let sender = scope.spawn(|| send(&producer, &records, args.rate).map(drop));
        let start = Instant::now();
        let mut schedule = SCHEDULE.iter().peekable();
        let mut next_sample = start;
        while !sender.is_finished() {
            if let Some(&&(at, fault)) = schedule.peek()
                && start.elapsed() >= stream.mul_f64(at)
            {
                schedule.next();
                println!("soak: {:>5.0} s  {fault:?}", start.elapsed().as_secs_f64());
                match fault {
                    Fault::KillWarden { down_s } => {
                        warden.run.kill();
                        std::thread::sleep(Duration::from_secs(down_s));
                        warden = Warden::start(&exe, &config, &dir, run_id)?;
                    }
                    Fault::RestartBroker => {
                        drop(broker.take());
                        std::thread::sleep(Duration::from_secs(5));
                        broker = Some(start_tansu(&args.brokers, &dir)?);
                    }
                    Fault::DatabaseOutage => database_outage(&args, &database_url)?,
                }
                println!("soak: {:>5.0} s  recovered", start.elapsed().as_secs_f64());
            }
            warden.check_alive()?;
            if Instant::now() >= next_sample {
                let sample = (start.elapsed(), warden.life, warden.run.resident_kib());
                // Every minute in the output too, so growth shows its shape, not only its size.
                if memory.len() % 12 == 0 {
                    println!(
                        "soak: {:>5.0} s  warden (life {}) resident {} MiB",
                        sample.0.as_secs_f64(),
                        sample.1,
                        sample.2 / 1024
                    );
                }
                memory.push(sample);
                next_sample += Duration::from_secs(5);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(sender.join().expect("the sender does not panic")?)
    });
    outcome?;
    // Refused records go again until the broker takes them all (bounded: five rounds).
    for _ in 0..5 {
        let refused = producer.context().take_refused();
        if refused.is_empty() {
            break;
        }
        let again: Vec<Outgoing<'_>> = refused
            .into_iter()
            .map(|(key, payload)| Outgoing {
                topic: &topics.messages,
                key,
                payload,
            })
            .collect();
        send(&producer, &again, 0)?;
    }
    let failures = producer.context().failures();
    println!(
        "soak: {sent} messages sent ({failures} refused at first and sent again); waiting for verdicts"
    );

    // Warden answers for what the input topic holds.
    let deadline = Duration::from_secs(args.timeout_s);
    let mut read = |topic: &str, partitions: i32, expect: usize| {
        let read = read_topic(
            &args.brokers,
            topic,
            partitions,
            expect,
            deadline,
            &mut warden,
        );
        read.map_err(|e| match broker_panic(&dir) {
            Some(at) => e.context(format!(
                "the broker panicked ({at}); see {}",
                dir.join("tansu.log").display()
            )),
            None => e,
        })
    };
    let stored: BTreeSet<String> = read(&topics.messages, args.partitions, 0)?
        .iter()
        .filter_map(|m| m["message_id"].as_str().map(str::to_owned))
        .collect();
    let verdicts = read(&topics.verdicts, args.partitions, stored.len())?;
    let actions = read(&topics.account_actions, args.partitions, 0)?;
    let notices = read(&topics.notices, args.partitions, 0)?;
    let dead_letters = read(&topics.dead_letters, 1, 0)?;
    warden.run.terminate(Duration::from_secs(30))?;
    let cases = read_cases(&database_url)?;
    drop(broker);

    let report = Report::new(
        &stored, &abusive, &verdicts, &actions, &notices, &cases, &memory,
    );
    report.print(sent, failures, dead_letters.len());
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The `warden run` settings: the soak's topics and group, its database, no review API, and
/// two concessions to tansu 0.6:
/// - static group membership: a restarted Warden rejoins as the member it replaces and takes
///   its partitions back at once (tansu never evicts a killed member otherwise: its partitions
///   stay assigned to it until the broker restarts);
/// - a producer that is not idempotent, one request in flight: tansu's SQLite storage panics on
///   an idempotent producer's batch after a broker restart. A retried send may then repeat a
///   verdict, which is the recorded one, and the checks count distinct messages.
fn settings(brokers: &str, run_id: i128, topics: &Topics, database_url: &str) -> String {
    topics.settings(brokers, &format!("soak-{run_id}"))
        + &format!(
            "\n[kafka.options]\n\"group.instance.id\" = \"soak-{run_id}-1\"\n\
             \"enable.idempotence\" = \"false\"\n\
             \"max.in.flight.requests.per.connection\" = \"1\"\n\n\
             [database]\nurl = \"{database_url}\"\n\n[api]\nlisten = \"\"\n"
        )
}

/// The stream: message `i` comes from account `i % accounts` and is due at `i / rate` seconds;
/// the first `abusive_accounts` accounts send the corpus's abusive texts, the others its
/// legitimate ones. Also returns the abusive accounts' ids.
fn traffic<'a>(
    args: &SoakArgs,
    run_id: i128,
    topic: &'a str,
) -> anyhow::Result<(Vec<Outgoing<'a>>, BTreeSet<String>)> {
    let texts = read_labelled(&args.corpus)?;
    let (ham, abuse): (Vec<_>, Vec<_>) = texts.iter().partition(|(label, _)| *label == Label::Ham);
    if ham.is_empty() || abuse.is_empty() || args.accounts <= args.abusive_accounts {
        bail!("the soak needs legitimate and abusive texts, and more accounts than abusive ones");
    }
    let count = (args.minutes * 60.0 * f64::from(args.rate)) as usize;
    let start = OffsetDateTime::now_utc();
    let account_id = |account: usize| format!("ACsoak{account:05}");
    let records = (0..count)
        .map(|i| {
            let account = i % args.accounts;
            let (pool, n) = match account < args.abusive_accounts {
                true => (&abuse, i / args.accounts),
                false => (&ham, i),
            };
            let sent_at = start + Duration::from_secs_f64(i as f64 / f64::from(args.rate));
            let key = account_id(account);
            let payload = SmsMessage {
                message_id: &format!("SMsoak{run_id}-{i}"),
                account_id: &key,
                sent_at: &sent_at.format(&Rfc3339).expect("a formattable time"),
                to: &format!("+1415555{:04}", i % 10_000),
                body: &pool[n % pool.len()].1,
            }
            .payload();
            Outgoing {
                topic,
                key,
                payload,
            }
        })
        .collect();
    Ok((
        records,
        (0..args.abusive_accounts).map(account_id).collect(),
    ))
}

/// Makes the database unavailable for `--outage-s`, then brings it back.
fn database_outage(args: &SoakArgs, database_url: &str) -> anyhow::Result<()> {
    let outage = Duration::from_secs(args.outage_s);
    if let (Some(stop), Some(start)) = (&args.database_stop, &args.database_start) {
        shell(stop)?;
        std::thread::sleep(outage);
        return shell(start);
    }
    // SQLite: an exclusive transaction on another connection; every write Warden tries fails
    // with "database is locked" once its busy timeout passes.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        use sqlx::Connection;
        let mut connection = sqlx::SqliteConnection::connect(database_url).await?;
        sqlx::query("BEGIN EXCLUSIVE")
            .execute(&mut connection)
            .await?;
        tokio::time::sleep(outage).await;
        sqlx::query("ROLLBACK").execute(&mut connection).await?;
        anyhow::Ok(())
    })
}

fn shell(command: &str) -> anyhow::Result<()> {
    let status = Command::new("sh").args(["-c", command]).status()?;
    if !status.success() {
        bail!("`{command}` failed ({status})");
    }
    Ok(())
}

/// Reads a topic from the beginning to its end (the high watermarks when the read starts, and
/// at least `expect` distinct message ids for the verdicts topic). Keyed by nothing: every
/// record, in the order read.
fn read_topic(
    brokers: &str,
    topic: &str,
    partitions: i32,
    expect: usize,
    deadline: Duration,
    warden: &mut Warden,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let reader = reader_from_beginning(brokers, topic)?;
    let start = Instant::now();
    let mut records = Vec::new();
    let mut ids = BTreeSet::new();
    let mut ends: Option<Vec<i64>> = None;
    let mut positions = vec![-1i64; partitions as usize];
    loop {
        if ids.len() >= expect {
            let ends = match &ends {
                Some(ends) => ends,
                None => ends.insert(
                    (0..partitions)
                        .map(|p| {
                            reader
                                .fetch_watermarks(topic, p, Duration::from_secs(10))
                                .map(|(_, high)| high)
                        })
                        .collect::<Result<_, _>>()?,
                ),
            };
            if positions.iter().zip(ends).all(|(at, end)| at + 1 >= *end) {
                return Ok(records);
            }
        }
        if start.elapsed() > deadline {
            bail!(
                "{topic}: read {} records ({} distinct messages of {expect}) within {deadline:?}",
                records.len(),
                ids.len()
            );
        }
        warden.check_alive()?;
        let Some(result) = reader.poll(Duration::from_millis(200)) else {
            continue;
        };
        // Transport errors are transient here: librdkafka reconnects, and the deadline bounds it.
        let Ok(message) = result else {
            continue;
        };
        let record = Received::read(&message)?;
        positions[record.partition as usize] = record.offset;
        if let Some(id) = record.payload["message_id"].as_str() {
            ids.insert(id.to_owned());
        }
        records.push(record.payload);
    }
}

/// Where the running tansu panicked, if it did: a broker whose storage task died stops serving
/// groups, and a stalled soak is then the broker's failure, not Warden's. (A broker being
/// stopped for a restart may panic on its way out; only the last start's log counts.)
fn broker_panic(dir: &Path) -> Option<String> {
    let log = std::fs::read_to_string(dir.join("tansu.log")).ok()?;
    let last_start = log.rfind("ready in").unwrap_or(0);
    let mut lines = log[last_start..]
        .lines()
        .skip_while(|line| !line.contains("panicked at"));
    let place = lines
        .next()?
        .split("panicked at ")
        .nth(1)?
        .trim_end_matches(':');
    Some(format!("{place}: {}", lines.next().unwrap_or_default()))
}

/// Every case in the database: id, account and status.
fn read_cases(database_url: &str) -> anyhow::Result<Vec<(String, String, String)>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(database_url).await?;
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT case_id, account_id, status FROM cases ORDER BY case_id")
                .fetch_all(&pool)
                .await?;
        pool.close().await;
        anyhow::Ok(rows)
    })
}

/// The `warden run` under test; `life` counts its starts.
struct Warden {
    run: WardenRun,
    life: u32,
}

impl Warden {
    fn start(exe: &Path, config: &Path, dir: &Path, run_id: i128) -> anyhow::Result<Self> {
        static LIVES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let life = LIVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let log = std::fs::File::create(dir.join(format!("warden-{life}.log")))?;
        let run = spawn_warden_run(exe, config, run_id, log)?;
        Ok(Self { run, life })
    }

    fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.run.exited()? {
            bail!(
                "warden run (life {}) exited on its own: {status}",
                self.life
            );
        }
        Ok(())
    }
}

fn redact_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => match url[scheme + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

/// The soak's records the broker refused or never acknowledged (it is down for a while), kept
/// to be sent again, as the messaging pipeline would; and how many there were.
#[derive(Default)]
struct DeliveryFailures {
    refused: std::sync::Mutex<Vec<(String, Vec<u8>)>>,
    count: std::sync::atomic::AtomicUsize,
}

impl DeliveryFailures {
    fn failures(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn take_refused(&self) -> Vec<(String, Vec<u8>)> {
        std::mem::take(&mut self.refused.lock().expect("not poisoned"))
    }
}

impl ClientContext for DeliveryFailures {}

impl ProducerContext for DeliveryFailures {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((_, message)) = result {
            self.count
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let key = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
            let payload = message.payload().unwrap_or_default().to_vec();
            self.refused
                .lock()
                .expect("not poisoned")
                .push((key, payload));
        }
    }
}
