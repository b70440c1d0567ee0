//! `warden train`: trains the model on the shared datasets, measures it on the held-out split
//! and writes the model file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use indicatif::MultiProgress;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use warden::config::{self, DEFAULT_MODEL_PATH, DEFAULT_POLICY_PATH, DEFAULT_RULES_PATH};
use warden::dataset::{self, Domain, Example};
use warden::model::train::{self, TrainConfig, TrainingInfo};
use warden::model::{FeatureSpec, Model, ModelFile};
use warden::scoring::{Scorer, Sources};

use super::eval::{evaluate, print_report};

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Folder holding the shared labelled datasets (see its README).
    #[arg(long, default_value = "../shared/data")]
    data_dir: PathBuf,
    /// Where to write the model.
    #[arg(long, default_value = DEFAULT_MODEL_PATH)]
    out: PathBuf,
    /// Seed of the train/test and fit/validation splits.
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    seed: u64,
    /// Rules file, for measuring the full path on the held-out split.
    #[arg(long, default_value = DEFAULT_RULES_PATH)]
    rules: PathBuf,
    /// Policy file, for measuring the full path on the held-out split.
    #[arg(long, default_value = DEFAULT_POLICY_PATH)]
    policy: PathBuf,
    /// Training settings to change, as JSON (e.g. `{"aup_columns": 8000}`; the fields of
    /// `TrainConfig` in `src/model/train.rs`): how variants are compared on the validation rows.
    /// The settings used are recorded in the model file.
    #[arg(long)]
    config: Option<String>,
    /// Reviewers' labels (`warden labels export > FILE`), added to the SMS data; repeatable.
    #[arg(long)]
    reviewed: Vec<PathBuf>,
}

pub fn run(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let mut config = TrainConfig {
        seed: args.seed,
        ..TrainConfig::default()
    };
    if let Some(json) = &args.config {
        let mut value = serde_json::to_value(&config)?;
        let changes: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(json).context("--config takes a JSON object")?;
        value
            .as_object_mut()
            .expect("TrainConfig is an object")
            .extend(changes);
        config = serde_json::from_value(value).context("--config")?;
    }
    let mut sources = dataset::shared_sources(&args.data_dir);
    for path in &args.reviewed {
        sources.push(dataset::Source {
            name: format!("reviewed:{}", path.display()),
            path: path.clone(),
            domain: Domain::Sms,
            citation:
                "Warden reviewers' decisions: evidence of overturned cases (redacted excerpts)"
                    .to_owned(),
        });
    }
    let examples = dataset::load(&sources).context("cannot load the training data")?;
    let (train_rows, test_rows) = dataset::split(&examples, config.seed, config.test_share);
    eprintln!(
        "{} distinct texts after deduplication: {} train, {} held out for test",
        examples.len(),
        train_rows.len(),
        test_rows.len()
    );

    let progress = MultiProgress::new();
    let trained = train::train(&examples, &train_rows, &config, &progress)?;
    let created_at = OffsetDateTime::now_utc();
    let mut file = ModelFile {
        format: "warden-model".to_owned(),
        format_version: 1,
        version: String::new(),
        created_at: created_at.format(&Rfc3339)?,
        feature_spec: FeatureSpec::current(),
        training: TrainingInfo {
            config: config.clone(),
            sources,
            rows: row_counts(&examples, &train_rows, &test_rows),
            candidates: trained.candidates,
        },
        metrics: serde_json::Value::Null,
        heads: trained.heads,
        weights_sha256: String::new(),
    };
    file.seal();
    file.version = format!(
        "{:04}{:02}{:02}-{}",
        created_at.year(),
        u8::from(created_at.month()),
        created_at.day(),
        &file.weights_sha256[..8]
    );

    let model = Model::from_file(file.clone()).context("the trained model does not load back")?;
    let rules = config::load_rules(&args.rules)?;
    let policy = config::load_policy(&args.policy)?;
    let scorer = Scorer::new(rules, Some(model), policy);
    file.metrics = heldout_metrics(scorer, &examples, &test_rows);

    let json = serde_json::to_string(&file)?;
    std::fs::write(&args.out, json)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!(
        "wrote {} (version {}; SMS head: {}, AUP head: {})",
        args.out.display(),
        file.version,
        file.heads.sms.family,
        file.heads.aup.family
    );
    Ok(ExitCode::SUCCESS)
}

fn row_counts(
    examples: &[Example],
    train_rows: &[usize],
    test_rows: &[usize],
) -> BTreeMap<String, BTreeMap<String, usize>> {
    let mut counts = BTreeMap::new();
    for (split, rows) in [("train", train_rows), ("test", test_rows)] {
        let entry: &mut BTreeMap<String, usize> = counts.entry(split.to_owned()).or_default();
        for &i in rows {
            let e = &examples[i];
            let domain = match e.domain {
                Domain::Sms => "sms",
                Domain::Tweets => "tweets",
            };
            *entry.entry(format!("{domain}/{}", e.label)).or_default() += 1;
        }
    }
    counts
}

/// Measures the full path and each source alone on the held-out SMS and tweet rows, prints the
/// full-path reports and returns all of them for the model file.
fn heldout_metrics(scorer: Scorer, examples: &[Example], test_rows: &[usize]) -> serde_json::Value {
    let view = |domain: Domain| -> Vec<(dataset::Label, String)> {
        test_rows
            .iter()
            .map(|&i| &examples[i])
            .filter(|e| e.domain == domain)
            .map(|e| (e.label, e.text.clone()))
            .collect()
    };
    let sms = view(Domain::Sms);
    let tweets = view(Domain::Tweets);
    let mut metrics = serde_json::Map::new();
    let mut scorer = Some(scorer);
    for sources in [
        Sources::RulesAndModel,
        Sources::ModelOnly,
        Sources::RulesOnly,
    ] {
        let current = scorer.take().expect("scorer").with_sources(sources);
        let name = match sources {
            Sources::RulesAndModel => "full",
            Sources::ModelOnly => "model_only",
            Sources::RulesOnly => "rules_only",
        };
        for (view_name, rows) in [("sms", &sms), ("tweets", &tweets)] {
            let (_, report) = evaluate(&current, rows);
            if sources == Sources::RulesAndModel {
                eprintln!(
                    "\nheld-out {view_name} ({} rows), rules + model:",
                    report.rows
                );
                print_report(&report);
            }
            metrics
                .entry(format!("heldout_{view_name}"))
                .or_insert_with(|| serde_json::json!({}))[name] =
                serde_json::to_value(&report).expect("report serializes");
        }
        scorer = Some(current);
    }
    serde_json::Value::Object(metrics)
}
