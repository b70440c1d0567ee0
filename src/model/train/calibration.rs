//! Calibration of a head's logits on the validation rows: a temperature for the softmax head,
//! Platt scaling for the binary one, and the log-losses both are fitted on and compared by.
//!
//! Plain numerics over `f64`, apart from linfa, so they are tested on known answers.

use ndarray::Array2;

pub(super) fn softmax_log_loss(logits: &Array2<f64>, y: &[usize], temperature: f64) -> f64 {
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
pub(super) fn fit_temperature(logits: &Array2<f64>, y: &[usize]) -> f64 {
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

pub(super) fn binary_log_loss(logits: &[f64], y: &[bool], (scale, shift): (f64, f64)) -> f64 {
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
pub(super) fn fit_platt(logits: &[f64], y: &[bool]) -> (f64, f64) {
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
}
