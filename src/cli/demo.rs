//! `warden demo`: everything on this machine in one command. A tansu broker (started, and
//! installed with cargo once, if nothing answers at `--brokers`), `warden run` with its SQLite
//! store, review API and metrics, and simulated accounts streaming through them. It plays the
//! account holders who appeal and a reviewer who decides some appeals, prints a live summary,
//! then where to look next, and stops everything on Ctrl-C.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rdkafka::Message;
use rdkafka::consumer::BaseConsumer;
use rdkafka::producer::BaseProducer;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use warden::harness::{
    Tansu, Topics, WardenRun, client, listening, reader_from_beginning, send, tansu_binary,
};

use super::simulate::{generate, read_texts, stream};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Broker; when nothing answers there, a local tansu is started on that port.
    #[arg(long, env = "WARDEN_BROKERS", default_value = "127.0.0.1:19092")]
    brokers: String,
    /// Where the review API and /metrics listen.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Simulated accounts.
    #[arg(long, default_value_t = 1_000)]
    accounts: usize,
    /// Records (messages and feedback) sent per second.
    #[arg(long, default_value_t = 2_000)]
    rate: u32,
    /// Folder for the demo's database, logs and broker data.
    #[arg(long, default_value = "data/demo")]
    dir: PathBuf,
    /// Exit after the summary instead of running until Ctrl-C.
    #[arg(long)]
    no_wait: bool,
}

/// Waits up to `limit` for `ready`.
fn wait_for(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) -> anyhow::Result<()> {
    let start = Instant::now();
    while !ready() {
        if start.elapsed() > limit {
            bail!("{what} did not come up within {} s", limit.as_secs());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Starts tansu at the broker address, installing it with cargo first if this machine has none.
pub(super) fn start_tansu(brokers: &str, dir: &Path) -> anyhow::Result<Tansu> {
    let binary = match tansu_binary() {
        Some(binary) => binary,
        None => {
            eprintln!(
                "demo: no broker at {brokers} and no tansu: installing it with cargo (once; about 15 minutes on 2 cores)"
            );
            let status = Command::new("cargo")
                .args(["install", "tansu", "--version", "0.6.0", "--locked"])
                .args(["--features", "dynostore,libsql"])
                .status()
                .context("cannot run cargo install tansu")?;
            if !status.success() {
                bail!("cargo install tansu failed ({status})");
            }
            tansu_binary().context("cargo installed tansu where it cannot be found")?
        }
    };
    Ok(Tansu::start(&binary, brokers, dir)?)
}

/// `warden run` with `config` and the run's local-only secrets, logging to `log`.
pub(super) fn spawn_warden_run(
    exe: &Path,
    config: &Path,
    run_id: i128,
    log: std::fs::File,
) -> anyhow::Result<WardenRun> {
    let mut command = WardenRun::command(exe, config);
    command
        .env("WARDEN_APPEAL_SECRET", demo_secret(run_id, "appeals"))
        .env("WARDEN_RECIPIENT_KEY", demo_secret(run_id, "recipients"))
        .stderr(log);
    Ok(WardenRun::spawn(command)?)
}

/// A demo-only secret: unguessable enough for a local demo, derived from the run.
fn demo_secret(run_id: i128, purpose: &str) -> String {
    let digest = Sha256::digest(format!("{run_id}|{}|{purpose}", std::process::id()));
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// What the demo has seen so far.
#[derive(Default)]
struct Tally {
    actions: BTreeMap<String, usize>,
    suspensions: usize,
    notices: usize,
    reinstatements: usize,
    appeals: usize,
    decided: usize,
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the signal");
            runtime.block_on(async {
                let _ = tokio::signal::ctrl_c().await;
            });
            stop.store(true, Ordering::SeqCst);
        });
    }
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let dir = args.dir.canonicalize()?;
    let _tansu = match listening(&args.brokers) {
        true => {
            eprintln!("demo: using the broker at {}", args.brokers);
            None
        }
        false => {
            eprintln!("demo: starting tansu at {}", args.brokers);
            Some(start_tansu(&args.brokers, &dir)?)
        }
    };
    let run_id = OffsetDateTime::now_utc().unix_timestamp_nanos();
    let topics = Topics::prefixed(&format!("demo-{run_id}"));
    topics.create(&args.brokers, 4)?;

    let reviewer = format!("demo-reviewer-{}", demo_secret(run_id, "reviewer"));
    let admin = format!("demo-admin-{}", demo_secret(run_id, "admin"));
    let hash = |token: &str| warden::api::auth::token_hash(token);
    std::fs::write(
        dir.join("reviewers.toml"),
        format!(
            "[[reviewer]]\nname = \"demo\"\nrole = \"reviewer\"\ntoken_sha256 = \"{}\"\n\n\
             [[reviewer]]\nname = \"admin\"\nrole = \"admin\"\ntoken_sha256 = \"{}\"\n",
            hash(&reviewer),
            hash(&admin)
        ),
    )?;
    let database = dir.join(format!("warden-{run_id}.db"));
    let config = dir.join("warden.toml");
    std::fs::write(
        &config,
        topics.settings(&args.brokers, &format!("demo-{run_id}"))
            + &format!(
                "\n[database]\nurl = \"sqlite://{}\"\n\n[api]\nlisten = \"{}\"\n\
             reviewers_file = \"{}\"\n# The demo plays every account holder from one address.\n\
             appeals_per_minute = 10000\n",
                database.display(),
                args.listen,
                dir.join("reviewers.toml").display(),
            ),
    )?;
    let log_path = dir.join("warden.log");
    let log = std::fs::File::create(&log_path)?;
    let mut warden = spawn_warden_run(&std::env::current_exe()?, &config, run_id, log)?;
    let base = format!("http://{}", args.listen);
    wait_for(Duration::from_secs(30), "warden run's API", || {
        ureq::get(&format!("{base}/healthz")).call().is_ok()
    })
    .with_context(|| format!("see {}", log_path.display()))?;

    let texts = read_texts(Path::new("tests/data/corpus.tsv"))?;
    let (_, messages) = generate(args.accounts, run_id as u64, &texts);
    let records = stream(run_id, &topics, &messages);
    eprintln!(
        "demo: {} accounts, {} messages and feedback records at {}/s; Ctrl-C stops everything",
        args.accounts,
        records.len(),
        args.rate
    );
    let producer: BaseProducer = client(&args.brokers)
        .set("linger.ms", "5")
        .create()
        .context("cannot create the producer")?;
    let verdicts = reader_from_beginning(&args.brokers, &topics.verdicts)?;
    let actions = reader_from_beginning(&args.brokers, &topics.account_actions)?;
    let notices = reader_from_beginning(&args.brokers, &topics.notices)?;
    let mut tally = Tally::default();
    let mut to_decide: Vec<(Instant, String)> = Vec::new();
    let outcome = std::thread::scope(|scope| -> anyhow::Result<()> {
        let sender = scope.spawn(|| send(&producer, &records, args.rate).map(drop));
        let mut last_print = Instant::now();
        let scored = |t: &Tally| t.actions.values().sum::<usize>();
        while scored(&tally) < messages.len() {
            if stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            if let Some(status) = warden.exited()? {
                bail!("warden run exited ({status}); see {}", log_path.display());
            }
            drain(&verdicts, |v| {
                let action = v["action"].as_str().unwrap_or("?").to_owned();
                *tally.actions.entry(action).or_default() += 1;
            });
            drain(&actions, |a| match a["action"].as_str() {
                Some("suspend") => tally.suspensions += 1,
                Some("reinstate") => tally.reinstatements += 1,
                _ => {}
            });
            // Every other suspended holder appeals; the reviewer decides half the appeals a
            // few seconds later and leaves the rest in the queue for you.
            drain(&notices, |n| {
                if n["kind"] != "suspended" {
                    return;
                }
                tally.notices += 1;
                if tally.notices % 2 == 1 {
                    let token = n["appeal_url"]
                        .as_str()
                        .and_then(|u| u.split("token=").nth(1))
                        .unwrap_or_default();
                    let appealed = ureq::post(&format!("{base}/v1/appeals")).send_json(
                        serde_json::json!({"token": token, "statement": "I think this is a mistake"}),
                    );
                    if appealed.is_ok() {
                        tally.appeals += 1;
                        if tally.appeals % 2 == 0
                            && let Some(case) = n["case_id"].as_str()
                        {
                            to_decide.push((Instant::now(), case.to_owned()));
                        }
                    }
                }
            });
            let due = Instant::now() - Duration::from_secs(3);
            for (_, case) in to_decide.iter().filter(|(at, _)| *at < due) {
                let auth = format!("Bearer {reviewer}");
                let path = format!("{base}/v1/review/cases/{case}");
                let _ = ureq::post(&format!("{path}/claim"))
                    .header("Authorization", &auth)
                    .send_empty();
                let decided = ureq::post(&format!("{path}/decision"))
                    .header("Authorization", &auth)
                    .send_json(serde_json::json!({
                        "outcome": "uphold",
                        "note": "The messages were phishing: the suspension stands.",
                    }));
                tally.decided += usize::from(decided.is_ok());
            }
            to_decide.retain(|(at, _)| *at >= due);
            if last_print.elapsed() >= Duration::from_secs(2) {
                last_print = Instant::now();
                eprintln!("{}", line(&tally, messages.len()));
            }
        }
        Ok(sender.join().expect("the sender does not panic")?)
    });
    outcome?;
    if stop.load(Ordering::SeqCst) {
        eprintln!("demo: stopping");
        return Ok(ExitCode::SUCCESS);
    }
    println!("\n{}", line(&tally, messages.len()));
    println!(
        "demo ready in {:.0} s. Warden keeps running; look around:\n\
         \n  console:       {base}/console (sign in with the reviewer token {reviewer}, or the admin's {admin})\
         \n  review queue:  curl -s -H 'Authorization: Bearer {reviewer}' {base}/v1/review/queue\
         \n  a case:        curl -s -H 'Authorization: Bearer {reviewer}' {base}/v1/review/cases/CASE_ID\
         \n  admin export:  curl -s -H 'Authorization: Bearer {admin}' {base}/v1/admin/accounts/ACsim000001/export\
         \n  metrics:       curl -s {base}/metrics | grep ^warden_\
         \n  API document:  {base}/openapi.json\
         \n  dashboard:     config/grafana/warden.json (Grafana), alerts: config/prometheus/alerts.yml\
         \n  warden's log:  {}\
         \n\nCtrl-C stops Warden{}.",
        started.elapsed().as_secs_f64(),
        log_path.display(),
        if _tansu.is_some() {
            " and the broker"
        } else {
            ""
        },
    );
    if !args.no_wait {
        while !stop.load(Ordering::SeqCst) {
            if let Some(status) = warden.exited()? {
                bail!("warden run exited ({status}); see {}", log_path.display());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        eprintln!("demo: stopping");
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads whatever records have arrived, without waiting.
fn drain(consumer: &BaseConsumer, mut each: impl FnMut(&serde_json::Value)) {
    while let Some(Ok(message)) = consumer.poll(Duration::from_millis(10)) {
        if let Ok(value) = serde_json::from_slice(message.payload().unwrap_or_default()) {
            each(&value);
        }
    }
}

fn line(tally: &Tally, total: usize) -> String {
    let scored: usize = tally.actions.values().sum();
    let mix: Vec<String> = tally
        .actions
        .iter()
        .map(|(action, n)| format!("{action} {n}"))
        .collect();
    format!(
        "decided {scored}/{total} ({}) · suspensions {} · appeals {} ({} decided) · reinstatements {}",
        mix.join(", "),
        tally.suspensions,
        tally.appeals,
        tally.decided,
        tally.reinstatements
    )
}
