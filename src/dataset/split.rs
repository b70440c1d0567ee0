//! The division of merged examples into fit, validation and test, and the per-source view of a
//! part.
//!
//! Each example carries its [`Unit`] (decided by its first source's [`super::SplitBy`] when the
//! sources are merged), and [`Split::new`] places whole units, so a campaign or a template never
//! sits on two sides. Seeded hashes order everything, so the same seed and files give the same
//! division.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::{Example, Label, Source};

/// The three parts of the data: fitted on, used to choose and calibrate, and held out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    Fit,
    Validation,
    Test,
}

/// What the split keeps together for one example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unit {
    /// The text alone, stratified within its first source and label.
    Text,
    /// A campaign or template: all its texts on one side.
    Group(String),
    /// Placed by its source: an official split, or a file that is all training or all test.
    Fixed(Part),
    /// On the training side; fit or validation text by text.
    TrainSide,
}

/// How the training side (everything but test) is divided into fit and validation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Validation {
    /// The first share of each stratum, and the groups whose hash falls under it.
    Share(f64),
    /// One of `of` equal folds (`index` counts from 0): cross-validation, where each fold's
    /// rows are judged by a model fitted on the others, so every training-side row is seen
    /// as unseen once. Test rows are the same as with [`Validation::Share`].
    Fold { index: usize, of: usize },
}

impl Validation {
    /// Whether the training-side item at `place` in [0, 1) is validation.
    fn holds(self, place: f64) -> bool {
        match self {
            Validation::Share(share) => place < share,
            Validation::Fold { index, of } => (place * of as f64) as usize == index,
        }
    }
}

/// The division of examples into fit, validation and test (indices, ascending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub fit: Vec<usize>,
    pub validation: Vec<usize>,
    pub test: Vec<usize>,
}

impl Split {
    /// Divides examples by their units: `test_share` of each stratum (or of the groups) is
    /// test, then `validation` takes its share or fold of the rest, each step ordered by a hash
    /// seeded with `seed` (then `seed + 1`).
    pub fn new(examples: &[Example], seed: u64, test_share: f64, validation: Validation) -> Self {
        let mut parts = vec![Part::Fit; examples.len()];
        // Texts: within each (first source, label), the first share in hash order.
        let mut strata: HashMap<(usize, Label), Vec<usize>> = HashMap::new();
        for (index, example) in examples.iter().enumerate() {
            match &example.unit {
                Unit::Text => strata
                    .entry((example.sources[0], example.label))
                    .or_default()
                    .push(index),
                Unit::Group(group) => {
                    parts[index] = if share_of(group, seed) < test_share {
                        Part::Test
                    } else if validation.holds(share_of(group, seed.wrapping_add(1))) {
                        Part::Validation
                    } else {
                        Part::Fit
                    }
                }
                Unit::Fixed(part) => parts[index] = *part,
                Unit::TrainSide => {}
            }
        }
        // Each stratum in the order of a seeded hash of its texts; `take` picks by place in it.
        let ordered = |stratum: &[usize], seed: u64| -> Vec<usize> {
            let mut hashed: Vec<(u64, usize)> = stratum
                .iter()
                .map(|&i| (xxh3_64_with_seed(examples[i].key.as_bytes(), seed), i))
                .collect();
            hashed.sort_unstable();
            hashed.into_iter().map(|(_, i)| i).collect()
        };
        for stratum in strata.values_mut() {
            let in_order = ordered(stratum, seed);
            let count = (in_order.len() as f64 * test_share).round() as usize;
            for &i in &in_order[..count] {
                parts[i] = Part::Test;
            }
            stratum.retain(|&i| parts[i] != Part::Test);
        }
        // The training side of texts (and of files that are all training) is divided again.
        for (index, example) in examples.iter().enumerate() {
            if example.unit == Unit::TrainSide {
                strata
                    .entry((example.sources[0], example.label))
                    .or_default()
                    .push(index);
            }
        }
        for stratum in strata.values() {
            let in_order = ordered(stratum, seed.wrapping_add(1));
            let validated: Vec<usize> = match validation {
                // Rounded like the test share, so that small strata keep their exact share.
                Validation::Share(share) => {
                    let count = (in_order.len() as f64 * share).round() as usize;
                    in_order[..count].to_vec()
                }
                Validation::Fold { .. } => (0..in_order.len())
                    .filter(|&p| validation.holds(p as f64 / in_order.len() as f64))
                    .map(|p| in_order[p])
                    .collect(),
            };
            for i in validated {
                parts[i] = Part::Validation;
            }
        }
        let of = |part: Part| -> Vec<usize> {
            (0..examples.len()).filter(|&i| parts[i] == part).collect()
        };
        Split {
            fit: of(Part::Fit),
            validation: of(Part::Validation),
            test: of(Part::Test),
        }
    }

    pub fn rows(&self, part: Part) -> &[usize] {
        match part {
            Part::Fit => &self.fit,
            Part::Validation => &self.validation,
            Part::Test => &self.test,
        }
    }
}

/// The examples among `rows` that each source holds, in the sources' order (sources holding
/// none are left out): per-source figures are measured on these, never on a pool.
pub fn by_source<'e, 's>(
    examples: &'e [Example],
    rows: &[usize],
    sources: &'s [Source],
) -> Vec<(&'s Source, Vec<&'e Example>)> {
    sources
        .iter()
        .enumerate()
        .map(|(s, source)| {
            let held: Vec<&Example> = rows
                .iter()
                .map(|&i| &examples[i])
                .filter(|e| e.sources.contains(&s))
                .collect();
            (source, held)
        })
        .filter(|(_, held)| !held.is_empty())
        .collect()
}

/// A group's place in [0, 1), by a seeded hash of its name.
fn share_of(group: &str, seed: u64) -> f64 {
    (xxh3_64_with_seed(group.as_bytes(), seed) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Domain;

    #[test]
    fn text_split_is_stratified_seeded_and_disjoint() {
        let examples: Vec<_> = (0..200)
            .map(|i| {
                let label = if i % 4 == 0 { Label::Spam } else { Label::Ham };
                Example::new(&format!("message {i}"), label, Domain::Sms)
            })
            .collect();
        let split = Split::new(&examples, 7, 0.2, Validation::Share(0.25));
        let Split {
            fit,
            validation,
            test,
        } = &split;
        assert_eq!(fit.len() + validation.len() + test.len(), 200);
        assert!(
            test.iter()
                .all(|i| !fit.contains(i) && !validation.contains(i))
        );
        let spam_in = |rows: &[usize]| {
            rows.iter()
                .filter(|&&i| examples[i].label == Label::Spam)
                .count()
        };
        assert_eq!(spam_in(test), 10, "exactly 20 % of the 50 spam");
        assert_eq!(spam_in(validation), 10, "a quarter of the other 40");
        assert_eq!(test.len(), 40);
        assert_eq!(
            Split::new(&examples, 7, 0.2, Validation::Share(0.25)),
            split,
            "same seed, same split"
        );
        assert_ne!(
            Split::new(&examples, 8, 0.2, Validation::Share(0.25)).test,
            *test,
            "another seed"
        );
    }

    #[test]
    fn groups_stay_on_one_side_and_fixed_parts_stay_put() {
        let mut examples = Vec::new();
        for campaign in 0..100 {
            for variant in 0..5 {
                let mut example = Example::new(
                    &format!("campaign {campaign} variant {variant}"),
                    Label::Fraud,
                    Domain::Sms,
                );
                example.unit = Unit::Group(format!("gateway/{campaign}"));
                examples.push(example);
            }
        }
        let mut official = Example::new("an official test post", Label::Ham, Domain::Tweets);
        official.unit = Unit::Fixed(Part::Test);
        examples.push(official);
        let split = Split::new(&examples, 1, 0.2, Validation::Share(0.2));
        for part in [Part::Fit, Part::Validation, Part::Test] {
            for &i in split.rows(part) {
                if let Unit::Group(group) = &examples[i].unit {
                    let same_group = examples
                        .iter()
                        .enumerate()
                        .filter(|(_, e)| e.unit == Unit::Group(group.clone()));
                    assert!(
                        same_group
                            .clone()
                            .all(|(j, _)| split.rows(part).contains(&j))
                    );
                }
            }
        }
        let test_groups = split.test.len() / 5;
        assert!(
            (10..=30).contains(&test_groups),
            "{test_groups} of 100 campaigns in test"
        );
        assert!(split.test.contains(&500), "the official test row is test");
    }

    #[test]
    fn folds_share_the_test_rows_and_divide_the_rest_between_them() {
        let mut examples: Vec<_> = (0..300)
            .map(|i| Example::new(&format!("message {i}"), Label::Ham, Domain::Sms))
            .collect();
        for template in 0..60 {
            let mut example =
                Example::new(&format!("template {template}"), Label::Spam, Domain::Sms);
            example.unit = Unit::Group(format!("india/{template}"));
            examples.push(example);
        }
        let folds: Vec<Split> = (0..5)
            .map(|index| Split::new(&examples, 3, 0.2, Validation::Fold { index, of: 5 }))
            .collect();
        let shared = Split::new(&examples, 3, 0.2, Validation::Share(0.2));
        let mut validated = vec![0; examples.len()];
        for fold in &folds {
            assert_eq!(
                fold.test, shared.test,
                "every fold holds out the same test rows"
            );
            for &i in &fold.validation {
                validated[i] += 1;
            }
        }
        for (i, times) in validated.iter().enumerate() {
            let expected = usize::from(!shared.test.contains(&i));
            assert_eq!(
                *times, expected,
                "row {i} is validation in exactly one fold"
            );
        }
        let sizes: Vec<usize> = folds.iter().map(|f| f.validation.len()).collect();
        assert!(
            sizes.iter().all(|&n| (40..=70).contains(&n)),
            "folds of about a fifth of 288 rows: {sizes:?}"
        );
    }
}
