//! `warden eval`: scores a labelled file through the full path (or one source alone) and
//! reports per-category and overall metrics, optionally with precision-recall curves.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use plotters::prelude::*;

use warden::config::{self, DEFAULT_MODEL_PATH, DEFAULT_POLICY_PATH, DEFAULT_RULES_PATH};
use warden::dataset::{self, Label};
use warden::eval::{self, Outcome, Report};
use warden::message::Category;
use warden::scoring::{Scorer, Scratch, Sources};
use warden::text::normalize;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Labelled file: `label<TAB>text`, labels ham|spam|fraud|aup (also the datasets' smishing,
    /// hate, offensive and neither).
    #[arg(long)]
    data: PathBuf,
    /// Only the rows the model never saw: those its training split held out for test
    /// (rebuilt from the seed and sources recorded in the model file), each text once.
    #[arg(long, conflicts_with = "validation")]
    heldout: bool,
    /// Only the validation rows of the model's training split (used for choosing the model and
    /// calibrating it, never for fitting): where policy thresholds are tuned, so that test rows
    /// stay unseen.
    #[arg(long)]
    validation: bool,
    /// The model alone, without rules.
    #[arg(long, conflicts_with = "rules_only")]
    model_only: bool,
    /// The rules alone, without the model.
    #[arg(long)]
    rules_only: bool,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
    /// Also list the mistakes: abuse not caught and ham flagged, with scores (to stderr).
    #[arg(long)]
    errors: bool,
    /// Draw precision-recall curves per category to this file (.png or .svg).
    #[arg(long)]
    plot: Option<PathBuf>,
    #[arg(long, default_value = DEFAULT_MODEL_PATH, env = "WARDEN_MODEL")]
    model: PathBuf,
    #[arg(long, default_value = DEFAULT_RULES_PATH, env = "WARDEN_RULES")]
    rules: PathBuf,
    #[arg(long, default_value = DEFAULT_POLICY_PATH, env = "WARDEN_POLICY")]
    policy: PathBuf,
}

pub fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let sources = if args.model_only {
        Sources::ModelOnly
    } else if args.rules_only {
        Sources::RulesOnly
    } else {
        Sources::RulesAndModel
    };
    let needs_model = sources != Sources::RulesOnly || args.heldout || args.validation;
    let scorer = config::load_scorer(
        &args.rules,
        &args.policy,
        needs_model.then_some(args.model.as_path()),
    )?
    .with_sources(sources);
    let mut rows = dataset::read_labelled(&args.data)?;
    if args.heldout || args.validation {
        rows = split_rows(&scorer, rows, args.validation)?;
    }
    if rows.is_empty() {
        bail!("{} has no rows to evaluate", args.data.display());
    }
    let (outcomes, report) = evaluate(&scorer, &rows);
    if args.errors {
        for (outcome, (_, text)) in outcomes.iter().zip(&rows) {
            let abusive = outcome.label != Label::Ham;
            if abusive != (outcome.action >= warden::message::Action::Flag) {
                let s = outcome.scores;
                eprintln!(
                    "{}\t{}\tspam {:.2} fraud {:.2} aup {:.2}\t{text}",
                    outcome.label,
                    outcome.action.as_str(),
                    s.spam,
                    s.fraud,
                    s.aup
                );
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&report);
    }
    if let Some(path) = &args.plot {
        plot_curves(&outcomes, path)?;
        eprintln!("precision-recall curves written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Keeps the rows whose text the model's split put in test (or in validation), each distinct
/// text once.
fn split_rows(
    scorer: &Scorer,
    rows: Vec<(Label, String)>,
    validation: bool,
) -> anyhow::Result<Vec<(Label, String)>> {
    let model = scorer
        .model()
        .context("--heldout and --validation need a model")?;
    let training = &model.file().training;
    let examples = dataset::load(&training.sources)
        .context("the split is rebuilt from the training data recorded in the model file")?;
    let (train, test) = dataset::split(&examples, training.config.seed, training.config.test_share);
    let wanted: Vec<usize> = if validation {
        let train_examples: Vec<_> = train.iter().map(|&i| examples[i].clone()).collect();
        let (_, validation) = dataset::split(
            &train_examples,
            training.config.seed.wrapping_add(1),
            training.config.validation_share,
        );
        validation.into_iter().map(|i| train[i]).collect()
    } else {
        test
    };
    let test_keys: HashSet<&str> = wanted.iter().map(|&i| examples[i].key.as_str()).collect();
    let mut seen = HashSet::new();
    Ok(rows
        .into_iter()
        .filter(|(_, text)| {
            let key = normalize(text);
            test_keys.contains(key.as_str()) && seen.insert(key)
        })
        .collect())
}

/// Scores labelled rows and summarizes the outcomes.
pub fn evaluate(scorer: &Scorer, rows: &[(Label, String)]) -> (Vec<Outcome>, Report) {
    let mut scratch = Scratch::new();
    let outcomes: Vec<Outcome> = rows
        .iter()
        .map(|(label, text)| {
            let assessment = scorer.assess(text, &mut scratch);
            Outcome::new(
                *label,
                assessment.action,
                assessment.scores,
                scorer.policy(),
            )
        })
        .collect();
    let report = eval::report(&outcomes);
    (outcomes, report)
}

pub fn print_report(report: &Report) {
    let pct = |x: f64| format!("{:.2} %", 100.0 * x);
    println!("rows: {}", report.rows);
    println!(
        "{:<10} {:>10} {:>10} {:>8} {:>8}",
        "category", "precision", "recall", "f1", "support"
    );
    for (name, m) in &report.categories {
        println!(
            "{:<10} {:>10} {:>10} {:>8.3} {:>8}",
            name,
            pct(m.precision),
            pct(m.recall),
            m.f1,
            m.support
        );
    }
    let o = &report.overall;
    println!(
        "overall (any abuse vs ham): accuracy {}, MCC {:.3}, abuse caught {}, ham flagged {}, ham blocked {}",
        pct(o.accuracy),
        o.mcc,
        pct(o.abuse_caught),
        pct(o.ham_flagged),
        pct(o.ham_blocked)
    );
    println!("confusion (rows: label, columns: predicted)");
    println!(
        "{:<8} {:>7} {:>7} {:>7} {:>7}",
        "", "ham", "spam", "fraud", "aup"
    );
    for (label, row) in Label::ALL.iter().zip(&report.confusion) {
        println!(
            "{:<8} {:>7} {:>7} {:>7} {:>7}",
            label.as_str(),
            row[0],
            row[1],
            row[2],
            row[3]
        );
    }
}

fn plot_curves(outcomes: &[Outcome], path: &Path) -> anyhow::Result<()> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("svg") => draw(
            SVGBackend::new(path, (800, 600)).into_drawing_area(),
            outcomes,
        ),
        Some("png") => draw(
            BitMapBackend::new(path, (800, 600)).into_drawing_area(),
            outcomes,
        ),
        _ => bail!("--plot takes a .png or .svg file"),
    }
}

fn draw<B: DrawingBackend>(
    area: DrawingArea<B, plotters::coord::Shift>,
    outcomes: &[Outcome],
) -> anyhow::Result<()>
where
    B::ErrorType: 'static,
{
    area.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&area)
        .caption("Precision-recall per category", ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1f64, 0f64..1.02f64)?;
    chart
        .configure_mesh()
        .x_desc("recall")
        .y_desc("precision")
        .draw()?;
    for (category, color) in [
        (Category::Spam, BLUE),
        (Category::Fraud, RED),
        (Category::Aup, GREEN),
    ] {
        let curve = eval::precision_recall_curve(outcomes, category);
        if curve.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(curve, color.stroke_width(2)))?
            .label(category.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    area.present()?;
    Ok(())
}
