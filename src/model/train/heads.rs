//! Fitting one head: the columns it keeps, the candidate families (logistic regression at each
//! L2 strength, multinomial naive Bayes) fitted with linfa, each calibrated on the validation
//! rows, and the one with the lowest calibrated log-loss exported to the sparse form served.
//!
//! Every family is brought to one [`Linear`] form first, so choosing and exporting are the same
//! for all of them; the SMS head (softmax over three classes) and the AUP head (binary) differ
//! only in their classes and their calibration.

use std::collections::{BTreeMap, HashMap};

use linfa::Dataset;
use linfa::traits::Fit;
use linfa_bayes::{MultinomialNb, NaiveBayes};
use linfa_logistic::{LogisticRegression, MultiLogisticRegression};
use ndarray::{Array1, Array2, Axis};

use super::calibration::{binary_log_loss, fit_platt, fit_temperature, softmax_log_loss};
use super::{SparseRow, TrainConfig, TrainError};
use crate::model::{BinaryHead, SoftmaxHead};

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

pub(super) fn train_sms(
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

pub(super) fn train_aup(
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
