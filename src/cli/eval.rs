//! `warden eval`: scores a labelled file through the full path (or one source alone) and
//! reports per-category and overall metrics, optionally with precision-recall curves.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use plotters::prelude::*;

use warden::config::{self, DEFAULT_MODEL_PATH, DEFAULT_POLICY_PATH, DEFAULT_RULES_PATH};
use warden::dataset::{self, Example, Label, Part, Split};
use warden::eval::{self, Outcome, Report};
use warden::message::Category;
use warden::scoring::{Scorer, Scratch, Sources};

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Labelled file: `label<TAB>text` (or with a header line naming its columns, the label
    /// first and the text last), labels ham|spam|fraud|aup (also the datasets' smishing, hate,
    /// offensive and neither). With --heldout or --validation: only the model's data sources
    /// read from this file (default: every source, each reported on its own).
    #[arg(long, required_unless_present_any = ["heldout", "validation"])]
    data: Option<PathBuf>,
    /// Only the rows the model never saw: those its training split held out for test
    /// (rebuilt from the seed and sources recorded in the model file), reported per source.
    #[arg(long, conflicts_with = "validation")]
    heldout: bool,
    /// Only the validation rows of the model's training split (used for choosing the model and
    /// calibrating it, never for fitting): where policy thresholds are tuned, so that test rows
    /// stay unseen.
    #[arg(long)]
    validation: bool,
    /// With --heldout or --validation: only this data source (its name in the model file, e.g.
    /// `ncsu_gateway_smishing`); repeatable.
    #[arg(long)]
    source: Vec<String>,
    /// Also report each language of a source that records one (its `lang` column).
    #[arg(long)]
    by_lang: bool,
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
    /// Draw precision-recall curves per category, one panel per source, to this file (.png or
    /// .svg).
    #[arg(long)]
    plot: Option<PathBuf>,
    #[arg(long, default_value = DEFAULT_MODEL_PATH, env = "WARDEN_MODEL")]
    model: PathBuf,
    #[arg(long, default_value = DEFAULT_RULES_PATH, env = "WARDEN_RULES")]
    rules: PathBuf,
    #[arg(long, default_value = DEFAULT_POLICY_PATH, env = "WARDEN_POLICY")]
    policy: PathBuf,
}

/// Labelled rows measured together, under a name (a source, or a source's language).
struct View {
    name: String,
    rows: Vec<(Label, String)>,
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
    let views = if args.heldout || args.validation {
        split_views(&scorer, &args)?
    } else {
        let path = args.data.as_ref().expect("clap requires --data here");
        vec![View {
            name: path.display().to_string(),
            rows: dataset::read_labelled(path)?,
        }]
    };
    if views.iter().all(|view| view.rows.is_empty()) {
        bail!("no rows to evaluate");
    }
    let mut reports = serde_json::Map::new();
    let mut curves = Vec::new();
    for view in &views {
        let (outcomes, report) = evaluate(&scorer, &view.rows);
        if args.errors {
            print_errors(&view.name, &outcomes, &view.rows);
        }
        if !args.json {
            println!("\n== {} ==", view.name);
            print_report(&report);
        }
        reports.insert(view.name.clone(), serde_json::to_value(&report)?);
        curves.push((view.name.clone(), outcomes));
    }
    if args.json {
        if views.len() == 1 && !(args.heldout || args.validation) {
            println!("{}", reports.values().next().expect("one report"));
        } else {
            println!("{}", serde_json::Value::Object(reports));
        }
    }
    if let Some(path) = &args.plot {
        plot_curves(&curves, path)?;
        eprintln!("precision-recall curves written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn print_errors(view: &str, outcomes: &[Outcome], rows: &[(Label, String)]) {
    for (outcome, (_, text)) in outcomes.iter().zip(rows) {
        let abusive = outcome.label != Label::Ham;
        if abusive != (outcome.action >= warden::message::Action::Flag) {
            let s = outcome.scores;
            eprintln!(
                "{view}\t{}\t{}\tspam {:.2} fraud {:.2} aup {:.2}\t{text}",
                outcome.label,
                outcome.action.as_str(),
                s.spam,
                s.fraud,
                s.aup
            );
        }
    }
}

/// The test (or validation) rows of the model's split, one view per data source (and per
/// language with `--by-lang`), each distinct text once.
fn split_views(scorer: &Scorer, args: &EvalArgs) -> anyhow::Result<Vec<View>> {
    let model = scorer
        .model()
        .context("--heldout and --validation need a model")?;
    let training = &model.file().training;
    let examples = dataset::load(&training.sources)
        .context("the split is rebuilt from the training data recorded in the model file")?;
    let split = Split::new(
        &examples,
        training.config.seed,
        training.config.test_share,
        training.config.validation(),
    );
    let part = if args.validation {
        Part::Validation
    } else {
        Part::Test
    };
    let wanted = |source: &dataset::Source| {
        args.source.contains(&source.name)
            || args
                .data
                .as_ref()
                .is_some_and(|data| same_file(data, &source.path))
            || (args.source.is_empty() && args.data.is_none())
    };
    let mut views = Vec::new();
    for (source, held) in dataset::by_source(&examples, split.rows(part), &training.sources) {
        if !wanted(source) {
            continue;
        }
        let rows_of = |of: &mut dyn Iterator<Item = &&Example>| -> Vec<(Label, String)> {
            of.map(|e| (e.label, e.text.clone())).collect()
        };
        views.push(View {
            name: source.name.clone(),
            rows: rows_of(&mut held.iter()),
        });
        if args.by_lang && held.iter().any(|e| e.lang.is_some()) {
            let mut langs: BTreeMap<&str, usize> = BTreeMap::new();
            for e in &held {
                *langs.entry(e.lang.as_deref().unwrap_or("?")).or_default() += 1;
            }
            for (lang, _) in langs.into_iter().filter(|&(_, n)| n >= MIN_LANGUAGE_ROWS) {
                views.push(View {
                    name: format!("{}/lang={lang}", source.name),
                    rows: rows_of(&mut held.iter().filter(|e| e.lang.as_deref() == Some(lang))),
                });
            }
        }
    }
    if views.is_empty() {
        bail!("none of the model's data sources matches --data or --source");
    }
    Ok(views)
}

/// A language is reported on its own from this many held-out rows.
const MIN_LANGUAGE_ROWS: usize = 20;

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
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
        "{:<10} {:>10} {:>10} {:>8} {:>9} {:>8}",
        "category", "precision", "recall", "f1", "macro-f1", "support"
    );
    for (name, m) in &report.categories {
        println!(
            "{:<10} {:>10} {:>10} {:>8.3} {:>9.3} {:>8}",
            name,
            pct(m.precision),
            pct(m.recall),
            m.f1,
            m.macro_f1,
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

fn plot_curves(curves: &[(String, Vec<Outcome>)], path: &Path) -> anyhow::Result<()> {
    // One 640 × 480 panel per view, three to a row.
    let columns = curves.len().clamp(1, 3);
    let rows = curves.len().div_ceil(3).max(1);
    let size = (640 * columns as u32, 480 * rows as u32);
    match path.extension().and_then(|e| e.to_str()) {
        Some("svg") => draw(
            SVGBackend::new(path, size).into_drawing_area(),
            curves,
            (rows, columns),
        ),
        Some("png") => draw(
            BitMapBackend::new(path, size).into_drawing_area(),
            curves,
            (rows, columns),
        ),
        _ => bail!("--plot takes a .png or .svg file"),
    }
}

fn draw<B: DrawingBackend>(
    area: DrawingArea<B, plotters::coord::Shift>,
    curves: &[(String, Vec<Outcome>)],
    grid: (usize, usize),
) -> anyhow::Result<()>
where
    B::ErrorType: 'static,
{
    area.fill(&WHITE)?;
    for (panel, (name, outcomes)) in area.split_evenly(grid).iter().zip(curves) {
        draw_panel(panel, name, outcomes)?;
    }
    area.present()?;
    Ok(())
}

fn draw_panel<B: DrawingBackend>(
    area: &DrawingArea<B, plotters::coord::Shift>,
    name: &str,
    outcomes: &[Outcome],
) -> anyhow::Result<()>
where
    B::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .caption(format!("Precision-recall: {name}"), ("sans-serif", 20))
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
    Ok(())
}
