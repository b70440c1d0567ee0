//! Subcommands of the `warden` binary.

mod backtest;
mod backup;
mod bench;
mod breaker;
mod demo;
mod eval;
mod labels;
mod run;
mod simulate;
mod soak;
mod train;
mod transparency;

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use time::OffsetDateTime;
use tracing_subscriber::EnvFilter;

use warden::config::{self, DEFAULT_MODEL_PATH, DEFAULT_POLICY_PATH, DEFAULT_RULES_PATH};
use warden::message::{Category, DecodeError, MessageEvent};
use warden::rules::Mode;
use warden::scoring::{Scorer, Scratch};
use warden::suspension::SuspensionPolicy;

#[derive(Debug, Parser)]
#[command(
    name = "warden",
    version,
    about = "Spam, fraud and abuse protection for a messaging platform"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Bring everything up on this machine (broker, warden run, store, API, metrics), stream
    /// simulated accounts through it with appeals and reviews, and print what happens.
    Demo(demo::DemoArgs),
    /// Score messages: JSONL `MessageEvent`s in, JSONL `Verdict`s out.
    ///
    /// A line that cannot be decoded produces an error record on stderr
    /// (`{"line": N, "code": ..., "error": ...}`) and scoring goes on.
    Score {
        /// Input file of JSON lines (default: stdin).
        #[arg(long, short)]
        input: Option<PathBuf>,
        /// Output file for verdicts (default: stdout).
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        scoring: ScoringFiles,
    },
    /// Run the stream processor: consume `messages`, produce `verdicts` and `dead-letters`.
    ///
    /// Stops cleanly on SIGTERM or Ctrl-C: in-flight work is finished and committed first.
    Run(run::RunArgs),
    /// Serve the review API alone (appeals, reviewers' queue and decisions), with no stream
    /// processing: for a review-only deployment.
    Serve(run::ServeArgs),
    /// Apply the retention settings (`[retention]`) once: delete or empty what is past its
    /// period. `warden run` also does it on a schedule.
    Purge(run::PurgeArgs),
    /// Copy the SQLite store, consistently, while Warden runs (PostgreSQL: pg_dump).
    Backup(backup::BackupArgs),
    /// Print the SHA-256 hash of a reviewer token read from stdin, for the reviewers file.
    TokenHash,
    /// Measure `warden run` end to end through a broker: throughput, latency, peak memory.
    Bench(bench::BenchArgs),
    /// Run the current rules and policy and a candidate side by side over recorded messages,
    /// and report what the candidate would change (messages, rules, accounts, the breaker).
    Backtest(backtest::BacktestArgs),
    /// Simulate labelled traffic from many accounts through a broker and `warden run`, and
    /// report what automated suspension did (precision, recall, abuse delivered first).
    Simulate(simulate::SimulateArgs),
    /// A long steady stream through a broker and `warden run` while Warden is killed, the
    /// broker restarted and the database made unavailable; then checks that nothing was lost
    /// or decided twice, and that memory stayed flat.
    Soak(soak::SoakArgs),
    /// The circuit breaker on automated suspensions: its state, and an admin's reset.
    Breaker(breaker::BreakerArgs),
    /// Reviewers' labels from the database, for training.
    Labels(labels::LabelsArgs),
    /// Reports for regulators and the public: what was decided about accounts, and appeals.
    Transparency(transparency::TransparencyArgs),
    /// Train the model on labelled data and write it, with its card's metrics, to `--out`.
    Train(train::TrainArgs),
    /// Score a labelled file (`label<TAB>text`) and report precision, recall and more.
    Eval(eval::EvalArgs),
    /// Work with rules files.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Validate a rules file and run every rule's examples; exits non-zero on any problem.
    Check {
        /// Rules file to check.
        #[arg(default_value = DEFAULT_RULES_PATH)]
        file: PathBuf,
    },
    /// What a candidate rules file changes: rules added, removed and changed (with the settings
    /// that changed; a promotion from shadow is a change of `mode`). Both files are checked
    /// first; a broken one is refused with its line and reason.
    Diff {
        /// The rules in use.
        old: PathBuf,
        /// The candidate.
        new: PathBuf,
    },
}

/// Which database a maintenance command (`breaker`, `labels`, `backup`) works on.
#[derive(Debug, clap::Args)]
pub struct DatabaseArgs {
    /// Service settings, for the database URL [default: config/warden.toml, if present].
    #[arg(long, env = "WARDEN_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Database (`sqlite://FILE` or `postgres://…`), overriding the file.
    #[arg(long, env = "WARDEN_DATABASE_URL", global = true)]
    database_url: Option<String>,
}

impl DatabaseArgs {
    /// Runs `work` on the store, on a runtime of its own.
    pub fn with_store<T>(
        &self,
        work: impl AsyncFnOnce(warden::store::Store) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let url = match &self.database_url {
            Some(url) => url.clone(),
            None => {
                let service = match &self.config {
                    Some(path) => config::load_service(path, true)?,
                    None => config::load_service(config::DEFAULT_SERVICE_PATH.as_ref(), false)?,
                };
                service.database.url
            }
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        runtime.block_on(async {
            let store = warden::store::Store::connect(&url)
                .await
                .context("cannot open the database")?;
            work(store).await
        })
    }
}

/// The files a scorer is built from.
#[derive(Debug, clap::Args)]
pub struct ScoringFiles {
    /// Rules file.
    #[arg(long, default_value = DEFAULT_RULES_PATH, env = "WARDEN_RULES")]
    rules: PathBuf,
    /// Policy file.
    #[arg(long, default_value = DEFAULT_POLICY_PATH, env = "WARDEN_POLICY")]
    policy: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
}

impl ScoringFiles {
    fn load(&self) -> anyhow::Result<Scorer> {
        Ok(config::load_scorer(
            &self.rules,
            &self.policy,
            self.model.path(),
        )?)
    }

    /// The same files as `warden run`'s arguments, for a child process that must score alike.
    fn as_args(&self) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = vec![
            "--rules".into(),
            self.rules.clone().into(),
            "--policy".into(),
            self.policy.clone().into(),
            "--model".into(),
            self.model.model.clone().into(),
        ];
        if self.model.rules_only {
            args.push("--rules-only".into());
        }
        args
    }

    /// The rules and policy files' text, as the version history keeps it.
    fn read_set(&self) -> anyhow::Result<warden::api::RulesSet> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
        };
        Ok(warden::api::RulesSet {
            rules: read(&self.rules)?,
            policy: read(&self.policy)?,
        })
    }

    /// Writes an earlier set back over the rules and policy files, once both are valid (the
    /// rules checked beside the brand registry they use); a file is replaced whole (a rename),
    /// so a reader never sees half of one.
    fn restore(&self, set: &warden::api::RulesSet) -> anyhow::Result<()> {
        warden::policy::PolicyFile::from_toml(&set.policy)?;
        let staged = |path: &Path, text: &str| -> anyhow::Result<PathBuf> {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let staged = path.with_file_name(format!(".{name}.rollback"));
            std::fs::write(&staged, text)
                .with_context(|| format!("cannot write {}", staged.display()))?;
            Ok(staged)
        };
        let rules = staged(&self.rules, &set.rules)?;
        if let Err(error) = config::load_rules(&rules) {
            let _ = std::fs::remove_file(&rules);
            return Err(error.into());
        }
        let policy = staged(&self.policy, &set.policy)?;
        for (staged, path) in [(rules, &self.rules), (policy, &self.policy)] {
            std::fs::rename(&staged, path)
                .with_context(|| format!("cannot replace {}", path.display()))?;
        }
        Ok(())
    }

    /// The scorer, and the policy file's account policy for `warden run`'s enforcer.
    fn load_with_account_policy(&self) -> anyhow::Result<(Scorer, SuspensionPolicy)> {
        Ok(config::load_scoring(
            &self.rules,
            &self.policy,
            self.model.path(),
        )?)
    }
}

/// Which model, if any, scores alongside the rules.
#[derive(Debug, clap::Args)]
pub struct ModelArgs {
    /// Model file.
    #[arg(long, default_value = DEFAULT_MODEL_PATH, env = "WARDEN_MODEL")]
    model: PathBuf,
    /// Score with the rules alone.
    #[arg(long)]
    rules_only: bool,
}

impl ModelArgs {
    fn path(&self) -> Option<&Path> {
        (!self.rules_only).then_some(self.model.as_path())
    }
}

/// An error and its causes on one line, each cause once: the library's errors already name
/// their source, so printing the whole chain would repeat it.
pub fn describe(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !message.contains(&text) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&text);
        }
    }
    message
}

impl Cli {
    /// `info`, but `warn` for `warden backtest`, whose two enforcers would log every case they
    /// open over its report.
    pub fn default_log_level(&self) -> &'static str {
        match self.command {
            // The throwaway enforcers' own logs (a breaker tripping) would read as incidents.
            Command::Backtest(_) => "warn,warden::enforce=off",
            _ => "info",
        }
    }
}

/// Logs go to stderr, filtered by `WARDEN_LOG` (e.g. `debug`, `warden=trace`; default
/// `default`).
pub fn init_logging(default: &str) {
    let filter = EnvFilter::try_from_env("WARDEN_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .init();
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Score {
            input,
            output,
            scoring,
        } => score(&scoring.load()?, input.as_deref(), output.as_deref()),
        Command::Demo(args) => demo::run(args),
        Command::Run(args) => run::run(args),
        Command::Serve(args) => run::serve(args),
        Command::Purge(args) => run::purge(args),
        Command::Backup(args) => backup::run(args),
        Command::TokenHash => {
            let mut token = String::new();
            io::stdin()
                .read_line(&mut token)
                .context("cannot read a token from stdin")?;
            let token = token.trim();
            if token.len() < 24 {
                anyhow::bail!("a reviewer token must be at least 24 characters");
            }
            println!("{}", warden::api::auth::token_hash(token));
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(args) => bench::run(args),
        Command::Backtest(args) => backtest::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Soak(args) => soak::run(args),
        Command::Breaker(args) => breaker::run(args),
        Command::Transparency(args) => transparency::run(args),
        Command::Labels(args) => labels::run(args),
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Rules {
            command: RulesCommand::Check { file },
        } => Ok(check_rules(&file)),
        Command::Rules {
            command: RulesCommand::Diff { old, new },
        } => diff_rules(&old, &new),
    }
}

fn score(scorer: &Scorer, input: Option<&Path>, output: Option<&Path>) -> anyhow::Result<ExitCode> {
    let reader: Box<dyn BufRead> = match input {
        Some(path) => Box::new(BufReader::new(
            File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
        )),
        None => Box::new(io::stdin().lock()),
    };
    let mut writer: Box<dyn Write> = match output {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(io::stdout().lock())),
    };
    let mut stderr = io::stderr().lock();
    let mut scratch = Scratch::new();
    let (mut scored, mut rejected) = (0u64, 0u64);
    // Lines are read as bytes so that invalid UTF-8 is reported per line, not fatal to the run.
    for (index, line) in reader.split(b'\n').enumerate() {
        let line = line.context("cannot read input")?;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match score_line(scorer, &mut scratch, line, &mut writer)? {
            Ok(()) => scored += 1,
            Err(error) => {
                let record = serde_json::json!({
                    "line": index + 1, "code": error.code(), "error": error.to_string(),
                });
                writeln!(stderr, "{record}")?;
                rejected += 1;
            }
        }
    }
    writer.flush().context("cannot write verdicts")?;
    tracing::info!(
        scored,
        rejected,
        rules_version = scorer.rules().version(),
        "scoring done"
    );
    Ok(ExitCode::SUCCESS)
}

/// Scores one JSON line as `warden score` does, writing its verdict as a JSON line; a line that
/// does not decode is handed back. The outer error is the writer's.
fn score_line(
    scorer: &Scorer,
    scratch: &mut Scratch,
    line: &[u8],
    writer: &mut impl Write,
) -> io::Result<Result<(), DecodeError>> {
    let event = match MessageEvent::decode(line) {
        Ok(event) => event,
        Err(error) => return Ok(Err(error)),
    };
    let verdict = scorer.verdict(&event, scratch, OffsetDateTime::now_utc());
    serde_json::to_writer(&mut *writer, &verdict)?;
    writer.write_all(b"\n")?;
    Ok(Ok(()))
}

fn diff_rules(old: &Path, new: &Path) -> anyhow::Result<ExitCode> {
    let (old_set, new_set) = (config::load_rules(old)?, config::load_rules(new)?);
    let read = |path: &Path| {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let diff = warden::rules::RulesDiff::between(&read(old)?, &read(new)?)
        .map_err(|reason| anyhow::anyhow!("cannot compare the rules files: {reason}"))?;
    println!(
        "{} (version {}) -> {} (version {})",
        old.display(),
        old_set.version(),
        new.display(),
        new_set.version()
    );
    print!("{diff}");
    Ok(ExitCode::SUCCESS)
}

fn check_rules(path: &Path) -> ExitCode {
    match config::load_rules(path) {
        Ok(rules) => {
            let count = |category: Category| {
                rules
                    .rules()
                    .iter()
                    .filter(|r| r.category == category)
                    .count()
            };
            let shadow = rules
                .rules()
                .iter()
                .filter(|r| r.mode == Mode::Shadow)
                .count();
            println!(
                "{}: {} rules ({} fraud, {} spam, {} aup; {shadow} in shadow mode), every example behaves; version {}",
                path.display(),
                rules.rules().len(),
                count(Category::Fraud),
                count(Category::Spam),
                count(Category::Aup),
                rules.version(),
            );
            for id in rules.unfiltered_rule_ids() {
                println!(
                    "note: rule `{id}` has no literal to prefilter on and runs on every message"
                );
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
