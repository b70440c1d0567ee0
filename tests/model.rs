//! The model: the shipped file, training determinism, file integrity, and the held-out targets
//! of the full path (the last needs `../shared/data`).

mod common;

use indicatif::{MultiProgress, ProgressDrawTarget};
use warden::dataset::{self, Domain, Example, Label, Split};
use warden::eval::{self, Outcome};
use warden::model::train::{self, TrainConfig};
use warden::model::{Model, ModelError};
use warden::scoring::Scratch;

fn shipped_model_json() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/warden.json"))
        .expect("models/warden.json")
}

#[test]
fn shipped_model_loads_and_records_how_it_was_trained() {
    let model = Model::from_json(&shipped_model_json()).unwrap_or_else(|e| panic!("{e}"));
    let file = model.file();
    assert!(!model.version().is_empty());
    let names: Vec<&str> = file
        .training
        .sources
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "uci_sms_spam",
            "mishra_soni_smishing",
            "davidson_hate_offensive",
            "tweeteval_hate_train",
            "tweeteval_hate_validation",
            "ncsu_gateway_smishing",
            "india_a2p",
            "hatexplain",
            "warden_written_a2p"
        ],
        "every file of ../shared/data, and the team's written A2P messages"
    );
    assert!(file.training.sources.iter().all(|s| !s.citation.is_empty()));
    assert!(
        file.training.candidates["sms"].len() >= 2,
        "at least two linfa families compared"
    );
    assert!(
        file.metrics["heldout"]
            .get("ncsu_gateway_smishing")
            .is_some()
    );
}

#[test]
fn damaged_or_truncated_model_files_are_refused() {
    let json = shipped_model_json();
    let truncated = &json[..json.len() - 100];
    assert!(matches!(
        Model::from_json(truncated),
        Err(ModelError::Parse(_))
    ));
    // Change one weight: the bias of the SMS head.
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let bias = &mut value["heads"]["sms"]["bias"][1];
    *bias = serde_json::json!(bias.as_f64().unwrap() + 1.0);
    let err = Model::from_json(&value.to_string()).unwrap_err();
    assert!(matches!(err, ModelError::Corrupt(_)), "{err}");
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["feature_spec"]["version"] = serde_json::json!(999);
    let err = Model::from_json(&value.to_string()).unwrap_err();
    assert!(err.to_string().contains("retrain"), "{err}");
}

/// A small labelled corpus made here, so training tests run without the shared data.
fn synthetic_examples() -> Vec<Example> {
    let mut rows = Vec::new();
    let names = [
        "sam", "alex", "jo", "kim", "lee", "max", "pat", "ray", "ash", "ben",
    ];
    let places = ["the pub", "work", "home", "the gym", "town", "the park"];
    for i in 0..60 {
        let (n, p) = (names[i % names.len()], places[i % places.len()]);
        rows.push((
            Label::Ham,
            Domain::Sms,
            format!("hi {n} see you at {p} around {}pm", i % 12 + 1),
        ));
        rows.push((
            Label::Spam,
            Domain::Sms,
            format!("free ringtones every week for {n} txt TONE to 8{i:04} now 150p"),
        ));
        rows.push((
            Label::Fraud,
            Domain::Sms,
            format!(
                "urgent {n} you have won £{}000 cash prize call 0906{i:07} to claim",
                i % 9 + 1
            ),
        ));
        rows.push((
            Label::Aup,
            Domain::Tweets,
            format!("those vermin from {p} are subhuman and {n} should be gone #{i}"),
        ));
        rows.push((
            Label::Ham,
            Domain::Tweets,
            format!("watching the game at {p} with {n} tonight lol #{i}"),
        ));
    }
    rows.into_iter()
        .map(|(label, domain, text)| Example::new(&text, label, domain))
        .collect()
}

fn quiet() -> MultiProgress {
    MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
}

#[test]
fn training_is_deterministic_for_a_seed_and_the_saved_model_scores_identically() {
    let examples = synthetic_examples();
    let config = TrainConfig {
        l2_strengths: vec![1.0],
        ..TrainConfig::default()
    };
    let split = Split::new(
        &examples,
        config.seed,
        config.test_share,
        config.validation(),
    );
    let first = train::train(&examples, &split, &config, &quiet()).unwrap();
    let second = train::train(&examples, &split, &config, &quiet()).unwrap();
    assert_eq!(
        first.heads, second.heads,
        "same data and seed, same weights"
    );
    assert_eq!(first.candidates, second.candidates);
    assert!(first.candidates["sms"].contains_key("multinomial_nb"));

    let file = common::model_file(first.heads, &config);
    let in_memory = Model::from_file(file.clone()).unwrap();
    let loaded = Model::from_json(&serde_json::to_string(&file).unwrap()).unwrap();
    let scorer_a = common::scorer_with(in_memory);
    let scorer_b = common::scorer_with(loaded);
    let (mut a, mut b) = (Scratch::new(), Scratch::new());
    for example in &examples {
        assert_eq!(
            scorer_a.assess(&example.text, &mut a),
            scorer_b.assess(&example.text, &mut b)
        );
    }
    // The model learned its training data: fraud scores high on a fraud text, low on ham.
    let fraud = scorer_a.assess(
        "urgent kim you have won £5000 cash prize call 09060000001 to claim",
        &mut a,
    );
    let ham = scorer_a.assess("hi kim see you at the gym around 6pm", &mut a);
    assert!(
        fraud.scores.fraud > 0.5 && ham.scores.fraud < 0.5,
        "{fraud:?} {ham:?}"
    );
}

/// The held-out test rows of one data source, each text once, as the shipped model's split
/// decided them; `None` (skipped) without `../shared/data`.
fn heldout(source: &str, model: &Model) -> Option<Vec<(Label, String)>> {
    common::shared_data("README.md")?;
    let training = &model.file().training;
    let examples = dataset::load(&training.sources).unwrap();
    let split = Split::new(
        &examples,
        training.config.seed,
        training.config.test_share,
        training.config.validation(),
    );
    let (_, held) = dataset::by_source(&examples, &split.test, &training.sources)
        .into_iter()
        .find(|(s, _)| s.name == source)
        .unwrap_or_else(|| panic!("{source} has no held-out rows"));
    Some(held.iter().map(|e| (e.label, e.text.clone())).collect())
}

#[test]
fn eval_reports_every_source_and_its_languages_on_their_own() {
    let model = Model::from_json(&shipped_model_json()).unwrap();
    let Some(india) = heldout("india_a2p", &model) else {
        return;
    };
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["eval", "--heldout", "--json", "--by-lang"])
        .args(["--source", "ncsu_gateway_smishing", "--source", "india_a2p"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("WARDEN_LOG", "warn")
        .output()
        .expect("warden runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let reports: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(reports["india_a2p"]["rows"], india.len());
    let gateway = reports["ncsu_gateway_smishing"]["rows"].as_u64().unwrap();
    let languages: Vec<(&String, u64)> = reports
        .iter()
        .filter(|(name, _)| name.starts_with("ncsu_gateway_smishing/lang="))
        .map(|(name, report)| (name, report["rows"].as_u64().unwrap()))
        .collect();
    assert!(languages.len() >= 3, "{languages:?}");
    assert!(languages.iter().all(|&(_, rows)| rows >= 20));
    assert!(languages.iter().map(|&(_, rows)| rows).sum::<u64>() <= gateway);
    assert!(
        reports
            .keys()
            .all(|k| k.starts_with("ncsu_gateway_smishing") || k == "india_a2p"),
        "only the sources asked for: {:?}",
        reports.keys()
    );
}

fn report(rows: &[(Label, String)]) -> eval::Report {
    let scorer = common::shipped_scorer_with_model();
    let mut scratch = Scratch::new();
    let outcomes: Vec<Outcome> = rows
        .iter()
        .map(|(label, text)| {
            let a = scorer.assess(text, &mut scratch);
            Outcome::new(*label, a.action, a.scores, scorer.policy())
        })
        .collect();
    eval::report(&outcomes)
}

/// The issue-15 targets that the shipped model meets on this repository's own held-out rows
/// (models/README.md lists those it does not). Each source is judged on its own.
#[test]
fn full_path_meets_its_heldout_targets_per_source() {
    let model = Model::from_json(&shipped_model_json()).unwrap();
    let Some(uci) = heldout("uci_sms_spam", &model) else {
        return;
    };
    let report_of = |source: &str| {
        let report = report(&heldout(source, &model).expect("shared data is present"));
        println!(
            "{source} held-out, rules + model: {} rows, {}",
            report.rows,
            serde_json::to_string(&report.overall).unwrap()
        );
        report
    };
    let uci = report(&uci);
    assert!(
        uci.rows > 1000,
        "the deduplicated held-out split has {} rows",
        uci.rows
    );
    // 0.924 and 92.2 % as shipped (the target of 0.94 is not met, models/README.md): the 2011
    // texts paid a spam message of 128 and two ham for the written A2P messages that spare
    // today's legitimate notices (validation MCC 0.950 -> 0.945).
    assert!(uci.overall.mcc >= 0.91, "UCI MCC {}", uci.overall.mcc);

    let fraud = report_of("mishra_soni_smishing");
    assert!(fraud.overall.abuse_caught >= 0.91, "{:?}", fraud.overall);

    let gateway = report_of("ncsu_gateway_smishing");
    assert!(
        gateway.rows > 1000,
        "unseen campaigns: {} rows",
        gateway.rows
    );
    assert!(
        gateway.overall.abuse_caught >= 0.98,
        "{:?}",
        gateway.overall
    );
    let recall = gateway.categories["fraud"].recall;
    assert!(recall >= 0.90, "gateway fraud recall {recall}");

    let india = report_of("india_a2p");
    let commercial = india.categories["spam"].recall;
    assert!(
        commercial >= 0.95,
        "unseen A2P templates: commercial caught {commercial}"
    );

    let tweeteval = report_of("tweeteval_hate_validation");
    let macro_f1 = tweeteval.categories["aup"].macro_f1;
    assert!(macro_f1 >= 0.65, "TweetEval validation macro-F1 {macro_f1}");

    for report in [&uci, &fraud, &gateway, &india] {
        assert_eq!(
            report.overall.ham_blocked, 0.0,
            "no SMS ham blocked: {:?}",
            report.overall
        );
    }
    assert_eq!(tweeteval.overall.ham_blocked, 0.0);
}

#[test]
fn the_aup_head_does_not_block_ordinary_sms() {
    let Some(path) = common::shared_data("sms_spam_collection/SMSSpamCollection") else {
        return;
    };
    let ham: Vec<_> = dataset::read_labelled(&path)
        .unwrap()
        .into_iter()
        .filter(|(l, _)| *l == Label::Ham)
        .collect();
    let report = report(&ham);
    println!(
        "UCI ham, rules + model: flagged {}, blocked {}",
        report.overall.ham_flagged, report.overall.ham_blocked
    );
    assert_eq!(report.overall.ham_blocked, 0.0);
    // The AUP head trained on TweetEval as well flags a few more insults between friends
    // (6 of 4,827 against 2 with Davidson alone; models/README.md): at most 2 in 1,000.
    let aup_flags = report.confusion[0][3];
    assert!(
        aup_flags * 500 <= ham.len(),
        "{aup_flags} ham flagged as AUP"
    );
}
