//! The model: per-category probabilities from hashed text features, trained with linfa.
//!
//! Two heads share one feature space. The SMS head is a three-class softmax (ham, spam, fraud)
//! trained on the UCI collection with Mishra & Soni's smishing labels; the AUP head is a binary
//! hate-speech classifier trained on Davidson et al. with SMS ham as extra negatives. Both are
//! linear, so serving is a sparse dot product: each feature of a message adds one row of a
//! bucket table to four running logits (ham, spam, fraud, aup). Calibration (temperature for the
//! softmax, Platt for the binary head) is folded into the weights at load.
//!
//! The model file is JSON: version, feature spec, training sources with citations, held-out
//! metrics and the weights, with a SHA-256 over the weights so a damaged file is refused.

pub mod features;
pub mod train;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use features::{FeatureScratch, FeatureSpec};

use crate::text::{Extracted, Normalized};

/// Format marker and version of model files this build reads.
const FORMAT: &str = "warden-model";
const FORMAT_VERSION: u32 = 1;

/// Why a model file was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("model file is not valid JSON of the expected shape: {0}")]
    Parse(String),
    #[error(
        "not a Warden model file (format {found:?} version {version}; expected {FORMAT:?} version {FORMAT_VERSION})"
    )]
    Format { found: String, version: u32 },
    #[error(
        "model was trained with feature spec {model} but this build computes {code}: retrain with `warden train`"
    )]
    SpecMismatch { model: String, code: String },
    #[error("model weights are damaged: {0}")]
    Corrupt(String),
}

/// The model file, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    pub format: String,
    pub format_version: u32,
    /// Goes into every verdict's `model_version`.
    pub version: String,
    pub created_at: String,
    pub feature_spec: FeatureSpec,
    /// How the model was trained: data, citations, split, families compared.
    pub training: train::TrainingInfo,
    /// Held-out metrics measured at training time.
    pub metrics: serde_json::Value,
    pub heads: Heads,
    /// SHA-256 (hex) of the canonical JSON of `heads`.
    pub weights_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heads {
    /// Softmax over ham, spam, fraud.
    pub sms: SoftmaxHead,
    /// Logistic: hateful or abusive content (AUP) vs not.
    pub aup: BinaryHead,
}

/// A linear softmax head: one bias and one sparse weight list per class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftmaxHead {
    /// Which linfa family won on validation (`logistic_regression` or `multinomial_nb`).
    pub family: String,
    pub classes: Vec<String>,
    pub bias: Vec<f32>,
    /// Per feature index (buckets, then metadata): one weight per class.
    pub weights: Vec<(u32, Vec<f32>)>,
    /// Logits are divided by this before the softmax (calibration).
    pub temperature: f32,
}

/// A linear binary head with Platt calibration: `p = σ(scale · (bias + w·x) + shift)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinaryHead {
    pub family: String,
    pub bias: f32,
    pub weights: Vec<(u32, f32)>,
    pub platt_scale: f32,
    pub platt_shift: f32,
}

/// Logit slots of the serving table. The softmax depends only on differences between its
/// logits, so ham's is subtracted from spam's and fraud's at load and is zero at serving: three
/// weights per feature, not four.
const SPAM: usize = 0;
const FRAUD: usize = 1;
const AUP: usize = 2;

/// A loaded model, ready to score.
///
/// Only a few thousand of the 2^18 buckets have weights, so they live in a small open-addressing
/// table that stays in a core's L2 cache. Each 16-byte slot holds a bucket and its three weights,
/// so a lookup reads one cache line. A dense table of the weights of every bucket would be 3 MiB,
/// and every lookup a cache miss.
#[derive(Debug)]
pub struct Model {
    version: String,
    /// The spec's character n-grams inside words, passed to [`features::visit`].
    subword_ngrams: u8,
    file: ModelFile,
    weights: BucketTable,
    metadata: Vec<[f32; 3]>,
    bias: [f32; 3],
}

/// One slot: a bucket (plus one; 0 marks an empty slot) and its weights.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(16))]
struct Slot {
    key: u32,
    weights: [f32; 3],
}

/// Weighted buckets, found by linear probing from the bucket's low bits (buckets are hashes
/// already, so their low bits are well spread).
#[derive(Debug)]
struct BucketTable {
    slots: Vec<Slot>,
    mask: usize,
}

impl BucketTable {
    fn with_capacity(buckets: usize) -> Self {
        // At most half full, so a probe rarely passes two slots.
        let slots = (buckets * 2).next_power_of_two().max(16);
        BucketTable {
            slots: vec![Slot::default(); slots],
            mask: slots - 1,
        }
    }

    fn slot(&self, bucket: u32) -> usize {
        let key = bucket + 1;
        let mut slot = bucket as usize & self.mask;
        loop {
            let found = self.slots[slot].key;
            if found == key || found == 0 {
                return slot;
            }
            slot = (slot + 1) & self.mask;
        }
    }

    fn add(&mut self, bucket: u32, logit: usize, weight: f32) {
        let slot = self.slot(bucket);
        self.slots[slot].key = bucket + 1;
        self.slots[slot].weights[logit] += weight;
    }

    /// The weights of a bucket, all zero when it has none.
    #[inline]
    fn get(&self, bucket: u32) -> &[f32; 3] {
        &self.slots[self.slot(bucket)].weights
    }
}

/// Model probabilities for one message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelScores {
    pub spam: f64,
    pub fraud: f64,
    pub aup: f64,
}

impl ModelFile {
    fn heads_digest(heads: &Heads) -> String {
        let canonical = serde_json::to_vec(heads).expect("heads serialize");
        Sha256::digest(&canonical)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Seals the weights: sets `weights_sha256`.
    pub fn seal(&mut self) {
        self.weights_sha256 = Self::heads_digest(&self.heads);
    }
}

impl Model {
    /// Parses and validates a model file. Does no IO: the caller reads the file.
    pub fn from_json(source: &str) -> Result<Self, ModelError> {
        let file: ModelFile =
            serde_json::from_str(source).map_err(|e| ModelError::Parse(e.to_string()))?;
        Self::from_file(file)
    }

    pub fn from_file(file: ModelFile) -> Result<Self, ModelError> {
        if file.format != FORMAT || file.format_version != FORMAT_VERSION {
            return Err(ModelError::Format {
                found: file.format.clone(),
                version: file.format_version,
            });
        }
        if !file.feature_spec.is_computed_here() {
            return Err(ModelError::SpecMismatch {
                model: file.feature_spec.to_string(),
                code: FeatureSpec::current().to_string(),
            });
        }
        let code = file.feature_spec.clone();
        if ModelFile::heads_digest(&file.heads) != file.weights_sha256 {
            return Err(ModelError::Corrupt(
                "weights do not match their SHA-256".to_owned(),
            ));
        }
        let sms = &file.heads.sms;
        let aup = &file.heads.aup;
        if sms.classes != ["ham", "spam", "fraud"] || sms.bias.len() != 3 {
            return Err(ModelError::Corrupt(format!(
                "SMS head classes are {:?}, expected ham, spam, fraud",
                sms.classes
            )));
        }
        let finite = |v: f32| v.is_finite();
        let calibrated = sms.temperature > 0.0
            && finite(sms.temperature)
            && finite(aup.platt_scale)
            && finite(aup.platt_shift);
        if !calibrated {
            return Err(ModelError::Corrupt(
                "calibration is not a finite positive number".to_owned(),
            ));
        }
        let dimension = code.dimension();
        let buckets_len = code.buckets();
        let weighted: std::collections::HashSet<u32> = sms
            .weights
            .iter()
            .map(|(i, _)| *i)
            .chain(aup.weights.iter().map(|(i, _)| *i))
            .filter(|&i| (i as usize) < buckets_len)
            .collect();
        let mut weights = BucketTable::with_capacity(weighted.len());
        let mut metadata = vec![[0.0f32; 3]; code.metadata.len()];
        let checked = |index: u32| -> Result<usize, ModelError> {
            let index = index as usize;
            if index >= dimension {
                return Err(ModelError::Corrupt(format!(
                    "feature index {index} is outside the spec's {dimension} features"
                )));
            }
            Ok(index)
        };
        let mut add = |index: usize, slot: usize, weight: f32| {
            if index < buckets_len {
                weights.add(index as u32, slot, weight);
            } else {
                metadata[index - buckets_len][slot] += weight;
            }
        };
        let t = sms.temperature;
        for (index, weights) in &sms.weights {
            if weights.len() != 3 || !weights.iter().copied().all(finite) {
                return Err(ModelError::Corrupt(format!(
                    "SMS weights of feature {index}"
                )));
            }
            let index = checked(*index)?;
            add(index, SPAM, (weights[1] - weights[0]) / t);
            add(index, FRAUD, (weights[2] - weights[0]) / t);
        }
        for (index, weight) in &aup.weights {
            if !finite(*weight) {
                return Err(ModelError::Corrupt(format!(
                    "AUP weight of feature {index}"
                )));
            }
            add(checked(*index)?, AUP, weight * aup.platt_scale);
        }
        let bias = [
            (sms.bias[1] - sms.bias[0]) / t,
            (sms.bias[2] - sms.bias[0]) / t,
            aup.bias * aup.platt_scale + aup.platt_shift,
        ];
        Ok(Model {
            version: file.version.clone(),
            subword_ngrams: code.subword_ngrams,
            file,
            weights,
            metadata,
            bias,
        })
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn file(&self) -> &ModelFile {
        &self.file
    }

    /// Scores one message: a sparse dot product over its features.
    pub fn predict(
        &self,
        raw: &str,
        normalized: &Normalized,
        extracted: &Extracted,
        scratch: &mut FeatureScratch,
    ) -> ModelScores {
        let mut meta = [0.0f32; 3];
        let subwords = self.subword_ngrams;
        let buckets = features::visit(
            raw,
            normalized,
            extracted,
            scratch,
            subwords,
            |index, value| {
                let row = &self.metadata[index];
                for slot in 0..3 {
                    meta[slot] += row[slot] * value;
                }
            },
        );
        let mut text = [0.0f32; 3];
        for &bucket in buckets {
            let row = self.weights.get(bucket);
            for slot in 0..3 {
                text[slot] += row[slot];
            }
        }
        let scale = if buckets.is_empty() {
            0.0
        } else {
            1.0 / (buckets.len() as f32).sqrt()
        };
        let logit = |slot: usize| f64::from(self.bias[slot] + text[slot] * scale + meta[slot]);
        // Softmax over ham (logit 0), spam and fraud.
        let (spam, fraud) = (logit(SPAM), logit(FRAUD));
        let top = spam.max(fraud).max(0.0);
        let (eh, es, ef) = ((-top).exp(), (spam - top).exp(), (fraud - top).exp());
        let total = eh + es + ef;
        ModelScores {
            spam: es / total,
            fraud: ef / total,
            aup: 1.0 / (1.0 + (-logit(AUP)).exp()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_file() -> ModelFile {
        // Words alone, so that "prize" is one feature.
        let spec = FeatureSpec::with_subwords(0);
        let mut normalized = Normalized::new();
        let mut extracted = Extracted::new();
        normalized.set("prize");
        extracted.set(normalized.folded());
        let mut scratch = FeatureScratch::default();
        let subwords = spec.subword_ngrams;
        let prize = features::visit(
            "prize",
            &normalized,
            &extracted,
            &mut scratch,
            subwords,
            |_, _| {},
        )[0];
        let mut file = ModelFile {
            format: FORMAT.to_owned(),
            format_version: FORMAT_VERSION,
            version: "test-1".to_owned(),
            created_at: "2026-11-29T00:00:00Z".to_owned(),
            feature_spec: spec,
            training: train::TrainingInfo {
                config: train::TrainConfig::default(),
                sources: vec![],
                rows: Default::default(),
                candidates: Default::default(),
            },
            metrics: serde_json::json!({}),
            heads: Heads {
                sms: SoftmaxHead {
                    family: "logistic_regression".to_owned(),
                    classes: vec!["ham".into(), "spam".into(), "fraud".into()],
                    bias: vec![2.0, 0.0, 0.0],
                    weights: vec![(prize, vec![0.0, 6.0, 0.0])],
                    temperature: 1.0,
                },
                aup: BinaryHead {
                    family: "logistic_regression".to_owned(),
                    bias: -4.0,
                    weights: vec![],
                    platt_scale: 1.0,
                    platt_shift: 0.0,
                },
            },
            weights_sha256: String::new(),
        };
        file.seal();
        file
    }

    fn scores(model: &Model, raw: &str) -> ModelScores {
        let mut normalized = Normalized::new();
        let mut extracted = Extracted::new();
        normalized.set(raw);
        extracted.set(normalized.folded());
        model.predict(raw, &normalized, &extracted, &mut FeatureScratch::default())
    }

    #[test]
    fn sparse_dot_product_gives_calibrated_probabilities() {
        let model = Model::from_file(tiny_file()).unwrap();
        let prize = scores(&model, "prize");
        let other = scores(&model, "hello");
        assert!(prize.spam > 0.97, "{prize:?}");
        assert!(other.spam < 0.2, "{other:?}");
        assert!((other.aup - 1.0 / (1.0 + 4f64.exp())).abs() < 1e-6);
    }

    #[test]
    fn round_trips_through_json() {
        let json = serde_json::to_string(&tiny_file()).unwrap();
        let model = Model::from_json(&json).unwrap();
        assert_eq!(
            scores(&model, "prize"),
            scores(&Model::from_file(tiny_file()).unwrap(), "prize")
        );
    }

    #[test]
    fn damaged_and_mismatched_files_are_refused() {
        let mut tampered = tiny_file();
        tampered.heads.sms.bias[1] = 9.0;
        assert!(matches!(
            Model::from_file(tampered),
            Err(ModelError::Corrupt(_))
        ));

        let mut other_spec = tiny_file();
        other_spec.feature_spec.hash_bits = 20;
        let err = Model::from_file(other_spec).unwrap_err();
        assert!(matches!(err, ModelError::SpecMismatch { .. }));
        assert!(err.to_string().contains("retrain"));

        let mut out_of_range = tiny_file();
        out_of_range.heads.aup.weights.push((u32::MAX, 1.0));
        out_of_range.seal();
        assert!(matches!(
            Model::from_file(out_of_range),
            Err(ModelError::Corrupt(_))
        ));

        let json = serde_json::to_string(&tiny_file()).unwrap();
        assert!(matches!(
            Model::from_json(&json[..json.len() / 2]),
            Err(ModelError::Parse(_))
        ));
        let mut wrong_format = tiny_file();
        wrong_format.format = "something-else".into();
        assert!(matches!(
            Model::from_file(wrong_format),
            Err(ModelError::Format { .. })
        ));
    }
}
