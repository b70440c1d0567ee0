//! `warden train`: trains the model on the shared datasets, measures it on the held-out split
//! and writes the model file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use indicatif::MultiProgress;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use warden::config::{self, DEFAULT_MODEL_PATH, DEFAULT_POLICY_PATH, DEFAULT_RULES_PATH};
use warden::dataset::{self, Domain, Example, Label, Part, Split};
use warden::model::train::{self, TrainConfig, TrainingInfo};
use warden::model::{Model, ModelFile};
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
    /// Rules file, for measuring the full path on the validation (and held-out) rows.
    #[arg(long, default_value = DEFAULT_RULES_PATH)]
    rules: PathBuf,
    /// Policy file, for measuring the full path on the validation (and held-out) rows.
    #[arg(long, default_value = DEFAULT_POLICY_PATH)]
    policy: PathBuf,
    /// Also measure the held-out test rows and record the figures in the model file. Do it
    /// once, for the model that ships: a variant or a cross-validation fold is judged on its
    /// validation rows, which are always measured, and never reads the test rows.
    #[arg(long)]
    heldout: bool,
    /// Training settings to change, as JSON (e.g. `{"aup_columns": 8000}`; the fields of
    /// `TrainConfig` in `src/model/train.rs`): how variants are compared on the validation rows.
    /// The settings used are recorded in the model file.
    #[arg(long)]
    config: Option<String>,
    /// Reviewers' labels (`warden labels export > FILE`), added to the SMS data; repeatable.
    #[arg(long)]
    reviewed: Vec<PathBuf>,
    /// Reads one source's label otherwise than the label policy does, for comparing label
    /// policies on the validation rows: `SOURCE:LABEL=ham|spam|fraud|aup|none` (e.g.
    /// `hatexplain:toxic=aup`; `none` leaves the rows out); repeatable, recorded in the model.
    #[arg(long, value_parser = parse_relabel)]
    relabel: Vec<(String, String, Option<Label>)>,
}

fn parse_relabel(raw: &str) -> Result<(String, String, Option<Label>), String> {
    let usage = || format!("{raw:?}: expected SOURCE:LABEL=ham|spam|fraud|aup|none");
    let (source, rest) = raw.split_once(':').ok_or_else(usage)?;
    let (label, warden) = rest.split_once('=').ok_or_else(usage)?;
    let warden = match warden {
        "none" => None,
        other => Some(Label::parse(other).ok_or_else(usage)?),
    };
    Ok((source.to_owned(), label.to_owned(), warden))
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
    sources.extend(dataset::written_sources(Path::new("")));
    for path in &args.reviewed {
        sources.push(dataset::Source::plain(
            &format!("reviewed:{}", path.display()),
            path.clone(),
            Domain::Sms,
            "Warden reviewers' decisions: evidence of overturned cases (redacted excerpts)",
        ));
    }
    for (name, label, warden) in &args.relabel {
        let source = sources
            .iter_mut()
            .find(|s| s.name == *name)
            .with_context(|| format!("--relabel: no source named {name:?}"))?;
        source.relabel.insert(label.clone(), *warden);
    }
    anyhow::ensure!(
        !(args.heldout && config.validation_fold.is_some()),
        "--heldout: a cross-validation fold is judged on its validation rows, never on the test rows"
    );
    let examples = dataset::load(&sources).context("cannot load the training data")?;
    let split = Split::new(
        &examples,
        config.seed,
        config.test_share,
        config.validation(),
    );
    eprintln!(
        "{} distinct texts after deduplication: {} fit, {} validation, {} held out for test",
        examples.len(),
        split.fit.len(),
        split.validation.len(),
        split.test.len()
    );

    let started = std::time::Instant::now();
    let progress = MultiProgress::new();
    let trained = train::train(&examples, &split, &config, &progress)?;
    eprintln!("trained in {:.0} s", started.elapsed().as_secs_f64());
    let created_at = OffsetDateTime::now_utc();
    let mut file = ModelFile {
        format: "warden-model".to_owned(),
        format_version: 1,
        version: String::new(),
        created_at: created_at.format(&Rfc3339)?,
        feature_spec: config.feature_spec(),
        training: TrainingInfo {
            config: config.clone(),
            rows: row_counts(&examples, &split, &sources),
            sources: sources.clone(),
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
    let policy = config::load_policy(&args.policy)?.message;
    let mut scorer = Scorer::new(rules, Some(model), policy);
    let mut metrics = serde_json::Map::new();
    let mut measured = vec![(Part::Validation, "validation")];
    if args.heldout {
        measured.push((Part::Test, "heldout"));
    }
    for (part, name) in measured {
        let (figures, returned) = measure(scorer, &examples, split.rows(part), &sources, name);
        metrics.insert(name.to_owned(), figures);
        scorer = returned;
    }
    file.metrics = serde_json::Value::Object(metrics);

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

/// Rows per part, source (the first to hold a text) and label.
fn row_counts(
    examples: &[Example],
    split: &Split,
    sources: &[dataset::Source],
) -> BTreeMap<String, BTreeMap<String, usize>> {
    let mut counts = BTreeMap::new();
    for (part, rows) in [
        ("fit", &split.fit),
        ("validation", &split.validation),
        ("test", &split.test),
    ] {
        let entry: &mut BTreeMap<String, usize> = counts.entry(part.to_owned()).or_default();
        for &i in rows {
            let e = &examples[i];
            let source = &sources[e.sources[0]].name;
            *entry.entry(format!("{source}/{}", e.label)).or_default() += 1;
        }
    }
    counts
}

/// Measures the full path and each scorer source alone on every data source's `rows` (one part
/// of the split, called `part` in what it prints), prints the full path's reports and returns
/// all of them for the model file, with the scorer.
fn measure(
    scorer: Scorer,
    examples: &[Example],
    rows: &[usize],
    sources: &[dataset::Source],
    part: &str,
) -> (serde_json::Value, Scorer) {
    let views: Vec<(String, Vec<(Label, String)>)> = dataset::by_source(examples, rows, sources)
        .into_iter()
        .map(|(source, held)| {
            let rows = held.iter().map(|e| (e.label, e.text.clone())).collect();
            (source.name.clone(), rows)
        })
        .collect();
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
        for (source, rows) in &views {
            let (_, report) = evaluate(&current, rows);
            if sources == Sources::RulesAndModel {
                eprintln!("\n{part}: {source} ({} rows), rules + model:", report.rows);
                print_report(&report);
            }
            metrics
                .entry(source.clone())
                .or_insert_with(|| serde_json::json!({}))[name] =
                serde_json::to_value(&report).expect("report serializes");
        }
        scorer = Some(current);
    }
    let scorer = scorer.expect("scorer").with_sources(Sources::RulesAndModel);
    (serde_json::Value::Object(metrics), scorer)
}
