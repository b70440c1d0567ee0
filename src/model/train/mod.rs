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
//!
//! `heads` fits and compares the families for each head; `calibration` fits the temperature and
//! the Platt scaling they are compared after. This module holds the settings, the feature rows
//! and the order of the work.

mod calibration;
mod heads;

use std::collections::{BTreeMap, HashMap};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::Heads;
use super::features::{self, FeatureScratch, FeatureSpec};
use crate::dataset::{Domain, Example, Label, Source, Split, Unit, Validation};
use crate::text::{Extracted, Normalized};
use heads::{train_aup, train_sms};

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
    /// Cross-validation: validate on this fold of the training rows instead of
    /// `validation_share` of them (`{"index": 0, "of": 5}`); test rows stay the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_fold: Option<Fold>,
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
            validation_fold: None,
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

/// One fold of a cross-validation (`index` counts from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fold {
    pub index: usize,
    pub of: usize,
}

impl TrainConfig {
    /// How the training rows divide into fit and validation.
    pub fn validation(&self) -> Validation {
        match self.validation_fold {
            Some(Fold { index, of }) => Validation::Fold { index, of },
            None => Validation::Share(self.validation_share),
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

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
