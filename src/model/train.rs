//! Training the model with linfa: features, two model families compared per head, calibration,
//! and export to the sparse form the scorer serves.
//!
//! For each head, rows of the training split are divided again into fit and validation rows
//! (stratified, seeded). Logistic regression (at a few regularization strengths) and multinomial
//! naive Bayes are fitted on the fit rows; each is calibrated on the validation rows (temperature
//! for the softmax, Platt scaling for the binary head) and the one with the lower calibrated
//! validation log-loss is kept. Test rows are never seen here.
//!
//! linfa's models are dense, so each head keeps a few thousand features (those in at least
//! `min_df` fit rows): the most frequent in each class, then the most frequent overall;
//! everything else has weight zero. The AUP head is also fitted on a sample of its negatives.

use std::collections::{BTreeMap, HashMap};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use linfa::Dataset;
use linfa::traits::Fit;
use linfa_bayes::{MultinomialNb, NaiveBayes};
use linfa_logistic::{LogisticRegression, MultiLogisticRegression};
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

use super::features::{self, FeatureScratch, FeatureSpec};
use super::{BinaryHead, Heads, SoftmaxHead};
use crate::dataset::{Domain, Example, Label, Source, Split, Unit};
use crate::text::{Extracted, Normalized};

/// Training settings; all of them are recorded in the model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Seeds every split.
    pub seed: u64,
    /// Share of each label held out for testing.
    pub test_share: f64,
    /// Share of each label of the training rows used for validation (model choice, calibration).
    pub validation_share: f64,
    /// Features kept for the SMS head.
    pub sms_columns: usize,
    /// Features kept for the AUP head.
    pub aup_columns: usize,
    /// Most non-AUP rows the AUP head is fitted on (a seeded sample; calibration on the full
    /// validation rows corrects for the sampling).
    pub aup_negatives: usize,
    /// A feature must occur in at least this many fit rows to be kept.
    pub min_df: usize,
    /// Texts from other domains added to the SMS head as ham, as a share of its SMS rows.
    pub other_text_share: f64,
    /// Most rows of one campaign or template fitted on (and validated on): a seeded sample, so
    /// that a few huge campaigns do not drown the rest of their source.
    #[serde(default = "default_max_group_rows")]
    pub max_group_rows: usize,
    /// Character n-grams inside ASCII words (the feature spec's `subword_ngrams`; 0: none).
    #[serde(default = "default_subword_ngrams")]
    pub subword_ngrams: u8,
    /// L2 strengths tried for logistic regression (by the AUP head too, unless `aup_l2_strengths`).
    pub l2_strengths: Vec<f64>,
    /// L2 strengths tried for the AUP head, when they differ from `l2_strengths`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aup_l2_strengths: Option<Vec<f64>>,
    pub max_iterations: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            seed: 20261129,
            test_share: 0.2,
            validation_share: 0.2,
            sms_columns: 12_000,
            aup_columns: 4_000,
            aup_negatives: 8_000,
            min_df: 2,
            other_text_share: 0.5,
            max_group_rows: default_max_group_rows(),
            subword_ngrams: default_subword_ngrams(),
            l2_strengths: vec![0.1],
            aup_l2_strengths: Some(vec![0.3]),
            max_iterations: 150,
        }
    }
}

fn default_max_group_rows() -> usize {
    10
}

fn default_subword_ngrams() -> u8 {
    features::DEFAULT_SUBWORD_NGRAMS
}

impl TrainConfig {
    /// The feature spec these settings train.
    pub fn feature_spec(&self) -> FeatureSpec {
        FeatureSpec::with_subwords(self.subword_ngrams)
    }
}

/// How a model was trained: stored in its file, and enough to rebuild its test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingInfo {
    pub config: TrainConfig,
    pub sources: Vec<Source>,
    /// Rows after merging and deduplication, per split and label.
    pub rows: BTreeMap<String, BTreeMap<String, usize>>,
    /// Validation log-loss of every candidate, per head.
    pub candidates: BTreeMap<String, BTreeMap<String, f64>>,
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("the {head} head has no training rows of class {class}")]
    MissingClass { head: &'static str, class: String },
    #[error("linfa failed to fit {family} for the {head} head: {message}")]
    Fit {
        head: &'static str,
        family: String,
        message: String,
    },
}

/// Sparse features of one message: (feature index, value), text values already scaled.
type SparseRow = Vec<(u32, f32)>;

/// Computes the sparse feature row of a text under a spec, exactly as serving does.
pub fn featurize(
    text: &str,
    spec: &FeatureSpec,
    scratch: &mut (Normalized, Extracted, FeatureScratch),
) -> SparseRow {
    let (normalized, extracted, features) = scratch;
    normalized.set(text);
    extracted.set(normalized.folded());
    let buckets = spec.buckets() as u32;
    let mut meta: SparseRow = Vec::new();
    let subwords = spec.subword_ngrams;
    let mut row: SparseRow = features::visit(
        text,
        normalized,
        extracted,
        features,
        subwords,
        |index, value| meta.push((buckets + index as u32, value)),
    )
    .iter()
    .map(|&bucket| (bucket, 1.0))
    .collect();
    let count = row.len();
    let scale = if count > 0 {
        1.0 / (count as f32).sqrt()
    } else {
        0.0
    };
    row.sort_unstable_by_key(|&(index, _)| index);
    let mut merged: SparseRow = Vec::with_capacity(row.len() + meta.len());
    for (index, _) in row {
        match merged.last_mut() {
            Some((last, value)) if *last == index => *value += scale,
            _ => merged.push((index, scale)),
        }
    }
    merged.extend(meta);
    merged
}

/// What training produced.
pub struct Trained {
    pub heads: Heads,
    pub candidates: BTreeMap<String, BTreeMap<String, f64>>,
}

/// The rows of one part that training uses: every row, except that a group (campaign or
/// template) keeps at most `max_group_rows`, the first in a seeded hash order.
fn capped(examples: &[Example], rows: &[usize], config: &TrainConfig) -> Vec<usize> {
    let mut groups: HashMap<&str, Vec<(u64, usize)>> = HashMap::new();
    let mut kept = Vec::new();
    for &i in rows {
        match &examples[i].unit {
            Unit::Group(group) => groups.entry(group).or_default().push((
                xxhash_rust::xxh3::xxh3_64_with_seed(examples[i].key.as_bytes(), config.seed),
                i,
            )),
            _ => kept.push(i),
        }
    }
    for mut members in groups.into_values() {
        members.sort_unstable();
        kept.extend(
            members
                .into_iter()
                .take(config.max_group_rows)
                .map(|(_, i)| i),
        );
    }
    kept.sort_unstable();
    kept
}

/// Trains both heads on the fit rows of `split`, choosing and calibrating on its validation
/// rows. Its test rows are never read.
pub fn train(
    examples: &[Example],
    split: &Split,
    config: &TrainConfig,
    progress: &MultiProgress,
) -> Result<Trained, TrainError> {
    let fit_rows = capped(examples, &split.fit, config);
    let validation_rows = capped(examples, &split.validation, config);
    // Positions into `used` (fit rows first) index the feature rows below.
    let used: Vec<usize> = fit_rows.iter().chain(&validation_rows).copied().collect();
    let fit: Vec<usize> = (0..fit_rows.len()).collect();
    let validation: Vec<usize> = (fit_rows.len()..used.len()).collect();
    let bar = progress.add(ProgressBar::new(used.len() as u64));
    bar.set_style(
        ProgressStyle::with_template("{msg:>24} [{bar:30}] {pos}/{len} ({elapsed})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message("computing features");
    let spec = config.feature_spec();
    let mut scratch = Default::default();
    let rows: Vec<SparseRow> = used
        .iter()
        .map(|&i| {
            bar.inc(1);
            featurize(&examples[i].text, &spec, &mut scratch)
        })
        .collect();
    bar.finish();
    let train_examples: Vec<&Example> = used.iter().map(|&i| &examples[i]).collect();

    let mut candidates = BTreeMap::new();
    let spinner = |message: &'static str| {
        let bar = progress.add(ProgressBar::new_spinner());
        bar.set_message(message);
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar
    };

    // The SMS head learns from SMS, plus a sample of other writing as ham (tweets, hateful or
    // not, are neither spam nor fraud) so that it does not call unfamiliar text fraud.
    let sms_of = |rows_: &[usize]| -> Vec<usize> {
        let mut other: Vec<(u64, usize)> = rows_
            .iter()
            .copied()
            .filter(|&i| train_examples[i].domain != Domain::Sms)
            .map(|i| {
                (
                    xxhash_rust::xxh3::xxh3_64_with_seed(
                        train_examples[i].key.as_bytes(),
                        config.seed,
                    ),
                    i,
                )
            })
            .collect();
        other.sort_unstable();
        let sms: Vec<usize> = rows_
            .iter()
            .copied()
            .filter(|&i| train_examples[i].domain == Domain::Sms)
            .collect();
        let take = (sms.len() as f64 * config.other_text_share) as usize;
        let mut chosen: Vec<usize> = sms
            .into_iter()
            .chain(other.into_iter().take(take).map(|(_, i)| i))
            .collect();
        chosen.sort_unstable();
        chosen
    };
    let sms_class = |i: usize| match (train_examples[i].domain, train_examples[i].label) {
        (Domain::Sms, Label::Spam) => 1,
        (Domain::Sms, Label::Fraud) => 2,
        _ => 0,
    };
    let is_aup = |i: usize| train_examples[i].label == Label::Aup;
    let (sms_fit, sms_validation) = (sms_of(&fit), sms_of(&validation));
    // The heads share nothing but the feature rows: one on each core.
    let (sms, aup) = std::thread::scope(|scope| {
        let sms = scope.spawn(|| {
            let bar = spinner("SMS head (ham/spam/fraud)");
            let head = train_sms(&rows, &sms_fit, &sms_validation, &sms_class, config);
            bar.finish_with_message("SMS head done");
            head
        });
        let bar = spinner("AUP head (hate vs rest)");
        let aup = train_aup(&rows, &fit, &validation, &is_aup, config);
        bar.finish_with_message("AUP head done");
        (
            sms.join().expect("the SMS head's thread does not panic"),
            aup,
        )
    });
    let (sms, sms_candidates) = sms?;
    let (aup, aup_candidates) = aup?;
    candidates.insert("sms".to_owned(), sms_candidates);
    candidates.insert("aup".to_owned(), aup_candidates);

    Ok(Trained {
        heads: Heads { sms, aup },
        candidates,
    })
}

/// The features to keep: the most frequent within each class first (so that a rare class keeps
/// its own vocabulary), then the most frequent overall, up to `max_columns`; sorted.
fn choose_columns(
    rows: &[SparseRow],
    of: &[usize],
    class_of: &dyn Fn(usize) -> usize,
    classes: usize,
    max_columns: usize,
    min_df: usize,
) -> Vec<u32> {
    let mut df: HashMap<u32, Vec<usize>> = HashMap::new();
    for &i in of {
        let class = class_of(i);
        for &(index, _) in &rows[i] {
            df.entry(index).or_insert_with(|| vec![0; classes])[class] += 1;
        }
    }
    let ranked = |count: &dyn Fn(&[usize]) -> usize| -> Vec<u32> {
        let mut frequent: Vec<(usize, u32)> = df
            .iter()
            .filter(|(_, counts)| counts.iter().sum::<usize>() >= min_df)
            .map(|(&index, counts)| (count(counts), index))
            .filter(|&(n, _)| n > 0)
            .collect();
        // Most frequent first; ties by index, so the choice is deterministic.
        frequent.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        frequent.into_iter().map(|(_, index)| index).collect()
    };
    let mut chosen = std::collections::BTreeSet::new();
    let per_class = max_columns / (2 * classes);
    for class in 0..classes {
        chosen.extend(ranked(&|counts| counts[class]).into_iter().take(per_class));
    }
    for index in ranked(&|counts| counts.iter().sum()) {
        if chosen.len() >= max_columns {
            break;
        }
        chosen.insert(index);
    }
    chosen.into_iter().collect()
}

fn dense(rows: &[SparseRow], of: &[usize], columns: &[u32]) -> Array2<f32> {
    let position: HashMap<u32, usize> = columns.iter().enumerate().map(|(c, &i)| (i, c)).collect();
    let mut matrix = Array2::zeros((of.len(), columns.len()));
    for (r, &i) in of.iter().enumerate() {
        for &(index, value) in &rows[i] {
            if let Some(&c) = position.get(&index) {
                matrix[[r, c]] += value;
            }
        }
    }
    matrix
}

/// A linear model over the chosen columns: `logits = x · weights + bias`.
struct Linear {
    family: String,
    /// columns × classes
    weights: Array2<f64>,
    bias: Array1<f64>,
}

impl Linear {
    fn logits(&self, x: &Array2<f32>) -> Array2<f64> {
        x.mapv(f64::from).dot(&self.weights) + &self.bias
    }
}

fn fit_error(head: &'static str, family: &str, error: impl std::fmt::Display) -> TrainError {
    TrainError::Fit {
        head,
        family: family.to_owned(),
        message: error.to_string(),
    }
}

fn train_sms(
    rows: &[SparseRow],
    fit: &[usize],
    validation: &[usize],
    class_of: &dyn Fn(usize) -> usize,
    config: &TrainConfig,
) -> Result<(SoftmaxHead, BTreeMap<String, f64>), TrainError> {
    for (class, name) in ["ham", "spam", "fraud"].iter().enumerate() {
        if !fit.iter().any(|&i| class_of(i) == class) {
            return Err(TrainError::MissingClass {
                head: "sms",
                class: (*name).to_owned(),
            });
        }
    }
    let columns = choose_columns(rows, fit, class_of, 3, config.sms_columns, config.min_df);
    let x = dense(rows, fit, &columns);
    let y: Array1<usize> = fit.iter().map(|&i| class_of(i)).collect();
    let xv = dense(rows, validation, &columns);
    let yv: Vec<usize> = validation.iter().map(|&i| class_of(i)).collect();
    let data = Dataset::new(x, y);

    let mut models = Vec::new();
    for &alpha in &config.l2_strengths {
        let family = format!("logistic_regression(l2={alpha})");
        let started = std::time::Instant::now();
        let fitted = MultiLogisticRegression::default()
            .alpha(alpha as f32)
            .max_iterations(config.max_iterations)
            .fit(&data)
            .map_err(|e| fit_error("sms", &family, e))?;
        // linfa orders classes by value; ours are 0, 1, 2 already, but map by value to be sure.
        let order: Vec<usize> = (0..3)
            .map(|class| {
                fitted
                    .classes()
                    .iter()
                    .position(|&c| c == class)
                    .expect("every class was fitted")
            })
            .collect();
        tracing::info!(head = "sms", %family, seconds = started.elapsed().as_secs_f32(), "fitted");
        let params = fitted.params().mapv(f64::from);
        let intercept = fitted.intercept().mapv(f64::from);
        models.push(Linear {
            family,
            weights: params.select(Axis(1), &order),
            bias: intercept.select(Axis(0), &order),
        });
    }
    let nb = quietly(|| MultinomialNb::params().alpha(1.0).fit(&data))
        .map_err(|e| fit_error("sms", "multinomial_nb", e))?;
    models.push(naive_bayes_as_linear(&nb, columns.len(), &[0, 1, 2]));

    let mut candidates = BTreeMap::new();
    let mut best: Option<(f64, f64, Linear)> = None;
    for model in models {
        let logits = model.logits(&xv);
        let temperature = fit_temperature(&logits, &yv);
        let loss = softmax_log_loss(&logits, &yv, temperature);
        candidates.insert(model.family.clone(), loss);
        if best.as_ref().is_none_or(|(l, _, _)| loss < *l) {
            best = Some((loss, temperature, model));
        }
    }
    let (_, temperature, model) = best.expect("at least one candidate");
    let weights = columns
        .iter()
        .enumerate()
        .filter_map(|(c, &index)| {
            let w: Vec<f32> = model.weights.row(c).iter().map(|&v| v as f32).collect();
            w.iter().any(|v| v.abs() > 1e-6).then_some((index, w))
        })
        .collect();
    Ok((
        SoftmaxHead {
            family: model.family,
            classes: vec!["ham".into(), "spam".into(), "fraud".into()],
            bias: model.bias.iter().map(|&b| b as f32).collect(),
            weights,
            temperature: temperature as f32,
        },
        candidates,
    ))
}

fn train_aup(
    rows: &[SparseRow],
    fit: &[usize],
    validation: &[usize],
    is_positive: &dyn Fn(usize) -> bool,
    config: &TrainConfig,
) -> Result<(BinaryHead, BTreeMap<String, f64>), TrainError> {
    if !fit.iter().any(|&i| is_positive(i)) {
        return Err(TrainError::MissingClass {
            head: "aup",
            class: "aup".to_owned(),
        });
    }
    // All positives, and a seeded sample of the negatives.
    let mut negatives: Vec<(u64, usize)> = fit
        .iter()
        .copied()
        .filter(|&i| !is_positive(i))
        .map(|i| {
            (
                xxhash_rust::xxh3::xxh3_64_with_seed(&i.to_le_bytes(), config.seed),
                i,
            )
        })
        .collect();
    negatives.sort_unstable();
    let mut fit: Vec<usize> = fit
        .iter()
        .copied()
        .filter(|&i| is_positive(i))
        .chain(
            negatives
                .into_iter()
                .take(config.aup_negatives)
                .map(|(_, i)| i),
        )
        .collect();
    fit.sort_unstable();
    let class_of = |i: usize| usize::from(is_positive(i));
    let columns = choose_columns(rows, &fit, &class_of, 2, config.aup_columns, config.min_df);
    let x = dense(rows, &fit, &columns);
    let xv = dense(rows, validation, &columns);
    let yv: Vec<bool> = validation.iter().map(|&i| is_positive(i)).collect();

    let mut models = Vec::new();
    let bool_data = Dataset::new(
        x,
        fit.iter()
            .map(|&i| is_positive(i))
            .collect::<Array1<bool>>(),
    );
    for &alpha in config
        .aup_l2_strengths
        .as_ref()
        .unwrap_or(&config.l2_strengths)
    {
        let family = format!("logistic_regression(l2={alpha})");
        let started = std::time::Instant::now();
        let fitted = LogisticRegression::default()
            .alpha(alpha as f32)
            .max_iterations(config.max_iterations)
            .fit(&bool_data)
            .map_err(|e| fit_error("aup", &family, e))?;
        tracing::info!(head = "aup", %family, seconds = started.elapsed().as_secs_f32(), "fitted");
        // linfa's parameters give the probability of its `pos` class; make it "is AUP".
        let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        models.push(Linear {
            family,
            weights: fitted
                .params()
                .mapv(|v| sign * f64::from(v))
                .insert_axis(Axis(1)),
            bias: Array1::from_elem(1, sign * f64::from(fitted.intercept())),
        });
    }
    let class_data = Dataset::new(
        bool_data.records().clone(),
        fit.iter()
            .map(|&i| usize::from(is_positive(i)))
            .collect::<Array1<usize>>(),
    );
    let nb = quietly(|| MultinomialNb::params().alpha(1.0).fit(&class_data))
        .map_err(|e| fit_error("aup", "multinomial_nb", e))?;
    let nb = naive_bayes_as_linear(&nb, columns.len(), &[0, 1]);
    // Binary log-odds: class 1 minus class 0.
    let weights = (&nb.weights.column(1) - &nb.weights.column(0)).insert_axis(Axis(1));
    models.push(Linear {
        family: nb.family,
        weights,
        bias: Array1::from_elem(1, nb.bias[1] - nb.bias[0]),
    });

    let mut candidates = BTreeMap::new();
    let mut best: Option<(f64, (f64, f64), Linear)> = None;
    for model in models {
        let logits: Vec<f64> = model.logits(&xv).column(0).to_vec();
        let platt = fit_platt(&logits, &yv);
        let loss = binary_log_loss(&logits, &yv, platt);
        candidates.insert(model.family.clone(), loss);
        if best.as_ref().is_none_or(|(l, _, _)| loss < *l) {
            best = Some((loss, platt, model));
        }
    }
    let (_, (scale, shift), model) = best.expect("at least one candidate");
    let weights = columns
        .iter()
        .enumerate()
        .map(|(c, &index)| (index, model.weights[[c, 0]] as f32))
        .filter(|(_, w)| w.abs() > 1e-6)
        .collect();
    Ok((
        BinaryHead {
            family: model.family,
            bias: model.bias[0] as f32,
            weights,
            platt_scale: scale as f32,
            platt_shift: shift as f32,
        },
        candidates,
    ))
}

/// Runs `f` with stderr silenced (see the `gag` entry in Cargo.toml for why).
fn quietly<T>(f: impl FnOnce() -> T) -> T {
    let _gag = gag::Gag::stderr().ok();
    f()
}

/// Naive Bayes is linear in log space: its joint log-likelihood is `log prior + x · log p`.
/// linfa exposes the joint log-likelihood, so the weights are read off by evaluating it on the
/// zero vector (the bias) and on each unit vector, a block of columns at a time.
fn naive_bayes_as_linear(
    nb: &MultinomialNb<f32, usize>,
    columns: usize,
    classes: &[usize],
) -> Linear {
    let zero = Array2::<f32>::zeros((1, columns));
    let base = nb.joint_log_likelihood(zero.view());
    let bias: Array1<f64> = classes.iter().map(|c| f64::from(base[c][0])).collect();
    let mut weights = Array2::zeros((columns, classes.len()));
    const BLOCK: usize = 512;
    for start in (0..columns).step_by(BLOCK) {
        let end = (start + BLOCK).min(columns);
        let mut probe = Array2::<f32>::zeros((end - start, columns));
        for r in 0..end - start {
            probe[[r, start + r]] = 1.0;
        }
        let jll = nb.joint_log_likelihood(probe.view());
        for (k, class) in classes.iter().enumerate() {
            for r in 0..end - start {
                weights[[start + r, k]] = f64::from(jll[class][r]) - bias[k];
            }
        }
    }
    Linear {
        family: "multinomial_nb".to_owned(),
        weights,
        bias,
    }
}

fn softmax_log_loss(logits: &Array2<f64>, y: &[usize], temperature: f64) -> f64 {
    let mut total = 0.0;
    for (row, &class) in logits.rows().into_iter().zip(y) {
        let scaled: Vec<f64> = row.iter().map(|z| z / temperature).collect();
        let top = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let log_sum = scaled.iter().map(|z| (z - top).exp()).sum::<f64>().ln() + top;
        total += log_sum - scaled[class];
    }
    total / y.len().max(1) as f64
}

/// The temperature that minimizes validation log-loss (golden-section search on its log).
fn fit_temperature(logits: &Array2<f64>, y: &[usize]) -> f64 {
    let loss = |log_t: f64| softmax_log_loss(logits, y, log_t.exp());
    let (mut low, mut high) = (-4.0f64, 4.0f64);
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..60 {
        let a = high - ratio * (high - low);
        let b = low + ratio * (high - low);
        if loss(a) < loss(b) {
            high = b;
        } else {
            low = a;
        }
    }
    ((low + high) / 2.0).exp()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn binary_log_loss(logits: &[f64], y: &[bool], (scale, shift): (f64, f64)) -> f64 {
    let eps = 1e-12;
    let total: f64 = logits
        .iter()
        .zip(y)
        .map(|(&z, &positive)| {
            let p = sigmoid(scale * z + shift).clamp(eps, 1.0 - eps);
            if positive { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    total / y.len().max(1) as f64
}

/// Platt scaling: the `(scale, shift)` of `σ(scale · z + shift)` with the least log-loss, by
/// Newton's method on the two parameters (Platt 1999, with his smoothed targets).
fn fit_platt(logits: &[f64], y: &[bool]) -> (f64, f64) {
    let positives = y.iter().filter(|&&p| p).count() as f64;
    let negatives = y.len() as f64 - positives;
    let high = (positives + 1.0) / (positives + 2.0);
    let low = 1.0 / (negatives + 2.0);
    let (mut a, mut b) = (1.0f64, 0.0f64);
    for _ in 0..50 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-9, 0.0, 1e-9);
        for (&z, &positive) in logits.iter().zip(y) {
            let target = if positive { high } else { low };
            let p = sigmoid(a * z + b);
            let d = p - target;
            let w = p * (1.0 - p);
            ga += d * z;
            gb += d;
            haa += w * z * z;
            hab += w * z;
            hbb += w;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-12 {
            break;
        }
        let (da, db) = ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det);
        a -= da;
        b -= db;
        if da.abs() + db.abs() < 1e-9 {
            break;
        }
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platt_scaling_recovers_a_known_calibration() {
        // Scores whose true probability is σ(2z - 1).
        let logits: Vec<f64> = (0..2000).map(|i| (i as f64 / 1000.0) - 1.0).collect();
        let y: Vec<bool> = logits
            .iter()
            .enumerate()
            .map(|(i, &z)| ((i * 7919) % 1000) as f64 / 1000.0 < sigmoid(2.0 * z - 1.0))
            .collect();
        let (a, b) = fit_platt(&logits, &y);
        assert!(
            (a - 2.0).abs() < 0.3 && (b + 1.0).abs() < 0.2,
            "a={a} b={b}"
        );
    }

    #[test]
    fn temperature_softens_overconfident_logits() {
        // Right 75 % of the time with logits that claim ~100 %: the fitted temperature must be > 1.
        let logits = Array2::from_shape_fn((400, 3), |(r, c)| if c == r % 3 { 10.0 } else { 0.0 });
        let y: Vec<usize> = (0..400)
            .map(|r| if r % 4 == 0 { (r + 1) % 3 } else { r % 3 })
            .collect();
        let t = fit_temperature(&logits, &y);
        assert!(t > 2.0, "{t}");
        assert!(softmax_log_loss(&logits, &y, t) < softmax_log_loss(&logits, &y, 1.0));
    }

    #[test]
    fn featurize_matches_serving_scale() {
        let row = featurize("win win", &FeatureSpec::current(), &mut Default::default());
        // Unigram "win" twice and the bigram "win win" once (too short for subwords): 3
        // occurrences, scaled by 1/sqrt(3).
        let text: Vec<f32> = row
            .iter()
            .filter(|(i, _)| (*i as usize) < FeatureSpec::current().buckets())
            .map(|(_, v)| *v)
            .collect();
        let scale = 1.0 / 3f32.sqrt();
        let mut sorted = text.clone();
        sorted.sort_by(f32::total_cmp);
        assert_eq!(sorted, vec![scale, 2.0 * scale]);
    }
}
