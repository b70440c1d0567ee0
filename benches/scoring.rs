//! Scoring throughput over the UCI SMS Spam Collection texts (`../shared/data`; the hand-written
//! corpus in `tests/data` stands in when it is absent, and the bench says so).
//!
//! Stages: normalization alone, normalization with extraction, the rules path (normalization,
//! extraction, every rule, scores and action), the full path (the rules path and the model),
//! the stream's decide step (a JSON record decoded, the full path, and the facts enforcement
//! needs), which `warden run` runs on its scoring pool, and a backtest's per-message work (the
//! decide step for the current side and a candidate, and each side's account policy over the
//! verdicts; the throwaway store's writes are left out).
//! Throughput is in messages; each benchmark checks its output against a count made before
//! timing, so it cannot time a no-op.
//!
//! Run: `cargo bench --bench scoring` (one core: criterion runs the loop on one thread).

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use warden::config::Topics;
use warden::ingest::decide::{Decision, Input, Record, decide_batch, decide_batch_for};
use warden::message::Action;
use warden::privacy::{RecipientHasher, Secret};
use warden::rules::RuleUnion;
use warden::scoring::{Scorer, Scratch};
use warden::text::{Extracted, Normalized};

fn texts() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let uci = root.join("../shared/data/sms_spam_collection/SMSSpamCollection");
    let (source, rows) = match std::fs::read_to_string(&uci) {
        Ok(data) => ("UCI SMS Spam Collection", data),
        Err(_) => (
            "tests/data/corpus.tsv (UCI data absent)",
            std::fs::read_to_string(root.join("tests/data/corpus.tsv")).expect("corpus"),
        ),
    };
    let texts: Vec<String> = rows
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("label\t"))
        .filter_map(|l| l.rsplit_once('\t').map(|(_, text)| text.to_owned()))
        .collect();
    eprintln!("scoring bench: {} messages from {source}", texts.len());
    texts
}

fn scorer(with_model: bool) -> Scorer {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = root.join("models/warden.json");
    warden::config::load_scorer(
        &root.join("config/rules.toml"),
        &root.join("config/policy.toml"),
        with_model.then_some(model.as_path()),
    )
    .expect("shipped config loads")
}

fn bench(c: &mut Criterion) {
    let texts = texts();
    let rules_only = scorer(false);
    let full = scorer(true);
    let mut group = c.benchmark_group("scoring");
    group.throughput(Throughput::Elements(texts.len() as u64));

    let mut normalized = Normalized::new();
    let total_len = |n: &mut Normalized| -> usize {
        texts
            .iter()
            .map(|t| {
                n.set(black_box(t));
                n.matching().len()
            })
            .sum()
    };
    let expected_len = total_len(&mut normalized);
    group.bench_function("normalize", |b| {
        b.iter(|| assert_eq!(total_len(&mut normalized), expected_len));
    });

    let mut extracted = Extracted::new();
    let mut count_urls = || -> usize {
        texts
            .iter()
            .map(|t| {
                normalized.set(black_box(t));
                extracted.set(normalized.folded());
                extracted.urls().len() + extracted.phones().len() + extracted.emails().len()
            })
            .sum()
    };
    let expected_found = count_urls();
    assert!(
        expected_found > 0,
        "extraction finds something in the bench texts"
    );
    group.bench_function("normalize+extract", |b| {
        b.iter(|| assert_eq!(count_urls(), expected_found));
    });

    for (name, scorer) in [
        ("normalize+extract+rules", &rules_only),
        ("normalize+extract+rules+model", &full),
    ] {
        let mut scratch = Scratch::new();
        let mut count_flagged = || -> usize {
            texts
                .iter()
                .filter(|t| scorer.assess(black_box(t), &mut scratch).action >= Action::Flag)
                .count()
        };
        let expected_flagged = count_flagged();
        assert!(
            expected_flagged > 0,
            "{name} flags something in the bench texts"
        );
        group.bench_function(name, |b| {
            b.iter(|| assert_eq!(count_flagged(), expected_flagged));
        });
    }

    // The stream processor's per-message work, to set beside the full path: each text as a
    // `messages` record, decoded, scored and given the facts enforcement needs (recipient
    // hash, SimHash, domains), in one batch on a one-thread pool.
    let records: Vec<Record> = texts
        .iter()
        .enumerate()
        .map(|(i, body)| Record {
            input: Input::Messages,
            partition: 0,
            offset: i as i64,
            key: None,
            payload: Some(
                serde_json::to_vec(&serde_json::json!({
                    "message_id": format!("SM{i}"), "account_id": format!("AC{}", i % 1000),
                    "sent_at": "2026-11-28T17:04:05Z", "channel": "sms",
                    "to": "+14155550199", "body": body,
                }))
                .expect("JSON"),
            ),
        })
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    let key = RecipientHasher::new(&Secret::new("bench-recipient-key-0123456789"));
    let topics = Topics::default();
    let count_verdicts = || {
        decide_batch(&pool, &full, &key, &topics, black_box(&records))
            .iter()
            .filter(|d| matches!(d, Decision::Verdict { .. }))
            .count()
    };
    assert_eq!(
        count_verdicts(),
        records.len(),
        "every bench record decodes"
    );
    group.bench_function("stream decide (decode, full path, facts)", |b| {
        b.iter(|| assert_eq!(count_verdicts(), records.len()));
    });

    // `warden backtest`: both sides decide each record (sharing decoding, normalizing, the
    // model's prediction and, through their union, the rules they share), then each side's
    // enforcer assesses its verdicts (signals, account policy). The candidate is the shipped set
    // with one rule added, as in the README's worked example.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temp dir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shipped_rules = std::fs::read_to_string(root.join("config/rules.toml")).expect("rules");
    let candidate_rules = shipped_rules.clone()
        + "\n[[rule]]\nid = \"fraud.parcel_fee\"\ncategory = \"fraud\"\nseverity = \"high\"\n\
           weight = 0.9\ndescription = \"A parcel and a fee\"\nkeywords = [\"parcel\"]\n\
           examples.match = [\"Your parcel is held\"]\n\
           examples.no_match = [\"Your order is on its way\"]\n";
    // Beside the same brand registry, as a candidate in the config folder would be.
    std::fs::copy(
        root.join("config/brands.toml"),
        dir.path().join("brands.toml"),
    )
    .expect("copy");
    std::fs::write(dir.path().join("candidate.toml"), &candidate_rules).expect("candidate");
    let rules_paths = [
        root.join("config/rules.toml"),
        dir.path().join("candidate.toml"),
    ];
    let mut sides = [0, 1].map(|side| {
        let (scorer, account_policy) = warden::config::load_scoring(
            &rules_paths[side],
            &root.join("config/policy.toml"),
            Some(&root.join("models/warden.json")),
        )
        .expect("shipped config loads");
        let url = format!(
            "sqlite://{}",
            dir.path().join(format!("side{side}.db")).display()
        );
        let enforcer = runtime.block_on(async {
            let store = warden::store::Store::connect(&url).await.expect("a store");
            warden::enforce::Enforcer::start(
                store,
                account_policy,
                bench_appeal(),
                std::sync::Arc::new(tokio::sync::Notify::new()),
            )
            .await
            .expect("an enforcer")
        });
        (scorer, enforcer)
    });
    let union = RuleUnion::new(
        &[&shipped_rules, &candidate_rules],
        &[sides[0].0.rules(), sides[1].0.rules()],
    )
    .expect("one brand registry");
    let mut backtest_round = || {
        let scorers = [&sides[0].0, &sides[1].0];
        let decided = decide_batch_for(
            &pool,
            scorers,
            Some(&union),
            &key,
            &topics,
            black_box(&records),
        );
        let mut assessed = 0;
        for decisions in decided {
            for (decision, (_, enforcer)) in decisions.into_iter().zip(&mut sides) {
                if let Decision::Verdict { mut verdict, facts } = decision {
                    black_box(enforcer.assess(&mut verdict, &facts));
                    assessed += 1;
                }
            }
        }
        assessed
    };
    group.bench_function("backtest per message (two sides: decide, assess)", |b| {
        b.iter(|| assert_eq!(backtest_round(), 2 * records.len()));
    });
    group.finish();
}

/// Appeal settings for the bench's enforcers (nothing is ever sent).
fn bench_appeal() -> warden::enforce::AppealSettings {
    warden::enforce::AppealSettings {
        secret: Secret::new("bench-appeal-secret-0123456789"),
        base_url: "https://bench.invalid/appeal".into(),
        days: warden::config::MIN_APPEAL_DAYS,
        policy_url: "https://bench.invalid/policy".into(),
        redress: String::new(),
        warning_next_step: String::new(),
        clause_urls: Default::default(),
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
