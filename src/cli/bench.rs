//! `warden bench`: labelled traffic through a real broker and a real `warden run`, measured end
//! to end (produce → verdict).
//!
//! Fresh topics and a fresh group per run, so runs never see each other's records. Two modes:
//! - backlog (`--rate 0`, the default): every message is produced first, then Warden starts and
//!   the sustained rate is the messages over the time from its first verdict to its last;
//! - paced (`--rate R`): Warden runs first, messages go out at R per second, and each one's
//!   latency is the time from its send to its verdict's arrival.
//!
//! Peak memory is the `warden run` process's high-water resident set (`VmHWM`). A backlog run
//! also scores the same records in this process, one thread, JSON in and out as `warden score`
//! does, and reports the end-to-end rate as a share of that one, so that the two are compared in
//! one run on one machine; and it reads, from `warden run`'s `/metrics`, how its batch loop's
//! time was split between the stages (`warden_batch_stage_seconds`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rdkafka::Message;
use rdkafka::consumer::BaseConsumer;
use rdkafka::producer::BaseProducer;

use warden::dataset::read_labelled;
use warden::harness::{
    Outgoing, SmsMessage, Topics, WardenRun, client, reader_from_beginning, send,
};
use warden::scoring::{Scorer, Scratch};

use super::{ScoringFiles, score_line};

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
    /// What `warden run` scores with, and the in-process comparison too.
    #[command(flatten)]
    scoring: ScoringFiles,
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
    let topics = Topics::prefixed(&format!("bench-{run_id}"));
    topics.create(&args.brokers, args.partitions)?;
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
    let mut verdicts = reader_from_beginning(&args.brokers, read_topic)?;
    let config_dir = tempfile::tempdir().context("cannot create a temp dir")?;
    let config = config_dir.path().join("warden.toml");
    // The review API only serves `/metrics` here: nobody reviews.
    let listen = free_address()?;
    let reviewers = config_dir.path().join("reviewers.toml");
    std::fs::write(&reviewers, "")?;
    let api = format!(
        "listen = \"{listen}\"\nreviewers_file = \"{}\"",
        reviewers.display()
    );
    let settings = topics.settings(&args.brokers, &format!("bench-{run_id}"));
    std::fs::write(&config, format!("{settings}\n[api]\n{api}\n"))?;

    let deadline = Duration::from_secs(args.timeout_s);
    let mut tally = Tally {
        print: args.print_verdicts,
        ..Tally::default()
    };
    let report = if args.rate == 0 {
        send(&producer, &records, 0)?;
        let mut warden = Warden::start(&config, &args.scoring.as_args())?;
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
        let stages = loop_stages(&format!("http://{listen}/metrics"))?;
        let peak = warden.stop()?;
        let end_to_end = (args.messages - 1) as f64 / seconds.max(f64::EPSILON);
        let alone = scoring_alone(&args.scoring.load()?, &records)?;
        format!(
            "backlog of {} messages: {end_to_end:.0} messages/s sustained (first to last verdict, {seconds:.2} s); warden peak memory {peak}\n\
             the same records scored in one process, one thread, JSON in and out: {alone:.0} messages/s; end to end is {:.0} % of that\n\
             {stages}",
            args.messages,
            100.0 * end_to_end / alone,
        )
    } else {
        let mut warden = match args.broker_only {
            true => Warden(None),
            false => Warden::start(&config, &args.scoring.as_args())?,
        };
        // One warm-up message proves the group has formed before the clock starts.
        let (key, payload) = message(run_id, usize::MAX, 0, &texts[0]);
        let warm_up = Outgoing {
            topic: &topics.messages,
            key,
            payload,
        };
        send(&producer, &[warm_up], 0)?;
        collect(
            &mut verdicts,
            1,
            deadline,
            &mut warden,
            &mut Tally::default(),
        )?;
        let (arrivals, sent_at) = std::thread::scope(|scope| {
            let sender = scope.spawn(|| send(&producer, &records, args.rate));
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
            .map(|(arrived, sent)| arrived.duration_since(*sent))
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

/// A loopback address with a port free now.
fn free_address() -> anyhow::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("no free port")?;
    Ok(listener.local_addr()?.to_string())
}

/// Stages of the batch loop, in its order (`warden_batch_stage_seconds{stage}`).
const STAGES: [&str; 6] = ["fetch", "decide", "lookup", "enforce", "record", "deliver"];

/// How `warden run`'s batch loop split its time between its stages, read from `metrics` (its
/// `/metrics` URL) once the last batch's delivery is counted (the verdicts can arrive just
/// before).
fn loop_stages(metrics: &str) -> anyhow::Result<String> {
    let series = |text: &str, stage: &str, suffix: &str| -> f64 {
        let name = format!("warden_batch_stage_seconds_{suffix}{{stage=\"{stage}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&name)?.parse().ok())
            .unwrap_or(0.0)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = ureq::get(metrics)
            .call()
            .context("cannot read warden run's metrics")?
            .body_mut()
            .read_to_string()?;
        let counted = series(&text, "deliver", "count");
        if (counted > 0.0 && counted == series(&text, "decide", "count"))
            || Instant::now() > deadline
        {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let seconds: Vec<f64> = STAGES.iter().map(|s| series(&text, s, "sum")).collect();
    let total: f64 = seconds.iter().sum();
    let shares: Vec<String> = STAGES
        .iter()
        .zip(&seconds)
        .map(|(stage, s)| format!("{stage} {:.0} %", 100.0 * s / total.max(f64::EPSILON)))
        .collect();
    Ok(format!(
        "warden run's batch loop, {total:.2} s over {:.0} batches: {}",
        series(&text, "decide", "count"),
        shares.join(", ")
    ))
}

/// Message `index` of a run; its id carries the index so its verdict can be matched.
fn message(run_id: i128, index: usize, account: usize, body: &str) -> (String, Vec<u8>) {
    let account_id = format!("ACbench{account:05}");
    let payload = SmsMessage {
        message_id: &format!("SMbench{run_id}-{index}"),
        account_id: &account_id,
        sent_at: "2026-11-29T12:00:00Z",
        to: "+14155550199",
        body,
    }
    .payload();
    (account_id, payload)
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

/// The two fields of a verdict the bench reads. Borrowed, and the rest skipped: the reader shares
/// the cores with what it measures, so it should cost as little as it can.
#[derive(serde::Deserialize)]
struct Seen<'a> {
    #[serde(borrow)]
    message_id: Cow<'a, str>,
    #[serde(borrow)]
    action: Cow<'a, str>,
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
    let mut arrived: Vec<Option<Instant>> = vec![None; count];
    let mut distinct = 0;
    let mut warm_up_seen = false;
    while distinct + usize::from(warm_up_seen) < count {
        if start.elapsed() > deadline {
            bail!("only {distinct} of {count} verdicts within {deadline:?}");
        }
        let Some(result) = reader.poll(Duration::from_millis(100)) else {
            // Nothing new: a `warden run` that died would explain it.
            warden.check_alive()?;
            continue;
        };
        let message = result.context("cannot read verdicts")?;
        let now = Instant::now();
        let payload = message.payload().unwrap_or_default();
        let verdict: Seen<'_> = serde_json::from_slice(payload)?;
        let id = &verdict.message_id;
        match id.rsplit('-').next().and_then(|i| i.parse::<usize>().ok()) {
            Some(usize::MAX) => warm_up_seen = true,
            Some(index) if index < count => {
                if arrived[index].replace(now).is_none() {
                    distinct += 1;
                    match tally.actions.get_mut(&*verdict.action) {
                        Some(n) => *n += 1,
                        None => _ = tally.actions.insert(verdict.action.into_owned(), 1),
                    }
                    if tally.print > 0 {
                        tally.print -= 1;
                        println!("{}", String::from_utf8_lossy(payload));
                    }
                }
            }
            _ => bail!("unexpected verdict {id}"),
        }
    }
    Ok(arrived.into_iter().flatten().collect())
}

/// Messages per second that `warden score` would reach on `records`: the same per-line work
/// (decode, score, encode), with no broker and no store, into a discarding writer.
fn scoring_alone(scorer: &Scorer, records: &[Outgoing<'_>]) -> anyhow::Result<f64> {
    let mut scratch = Scratch::new();
    let mut sink = std::io::sink();
    let start = Instant::now();
    for record in records {
        if let Err(error) = score_line(scorer, &mut scratch, &record.payload, &mut sink)? {
            bail!("a bench record does not decode: {error}");
        }
    }
    Ok(records.len() as f64 / start.elapsed().as_secs_f64().max(f64::EPSILON))
}

/// The `warden run` under test, a child of this process (none with `--broker-only`).
struct Warden(Option<WardenRun>);

impl Warden {
    fn start(config: &Path, extra: &[std::ffi::OsString]) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        Ok(Self(Some(WardenRun::throwaway(&exe, config, extra)?)))
    }

    fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(warden) = &mut self.0 {
            warden.check_alive()?;
        }
        Ok(())
    }

    /// Its peak resident memory, once stopped.
    fn stop(self) -> anyhow::Result<String> {
        match self.0 {
            Some(warden) => Ok(warden.stop_with_peak_memory()?),
            None => Ok("n/a (broker only)".into()),
        }
    }
}
