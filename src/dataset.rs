//! Labelled data for training and evaluation: reading the shared datasets, mapping their labels
//! to Warden's, merging them, deduplicating on normalized text, and splitting train from test.
//!
//! The split is decided per normalized text, after merging, so one text can never sit on both
//! sides (the UCI collection and Mishra & Soni's smishing labels share texts, and UCI repeats
//! hundreds of messages). It is stratified: within each label, rows are ordered by a seeded hash
//! of their text and the first share goes to test. The same seed and files always give the same
//! split, which is how `warden eval --heldout` finds the rows a model never saw.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::text::normalize;

/// Warden's labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Ham,
    Spam,
    Fraud,
    Aup,
}

impl Label {
    pub const ALL: [Label; 4] = [Label::Ham, Label::Spam, Label::Fraud, Label::Aup];

    /// Reads a dataset label: Warden's own (`ham|spam|fraud|aup`) and the datasets' names for
    /// them (`smishing` is fraud; Davidson's `hate` is AUP, `offensive` and `neither` are not).
    pub fn parse(raw: &str) -> Option<Label> {
        Some(match raw.trim().to_ascii_lowercase().as_str() {
            "ham" | "neither" | "offensive" => Label::Ham,
            "spam" => Label::Spam,
            "fraud" | "smishing" => Label::Fraud,
            "aup" | "hate" => Label::Aup,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Label::Ham => "ham",
            Label::Spam => "spam",
            Label::Fraud => "fraud",
            Label::Aup => "aup",
        }
    }

    /// When the same text carries several labels, the most serious wins: a smishing reading by
    /// any annotator is kept (this decides the 35 spam/fraud conflicts in Mishra & Soni).
    fn severity(self) -> u8 {
        match self {
            Label::Ham => 0,
            Label::Spam => 1,
            Label::Aup => 2,
            Label::Fraud => 3,
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a text comes from: the SMS head learns from SMS only; tweets teach the AUP head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    Sms,
    Tweets,
}

/// One labelled dataset file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub name: String,
    pub path: PathBuf,
    pub domain: Domain,
    pub citation: String,
}

/// The shared datasets, as `../shared/data/README.md` describes them.
pub fn shared_sources(data_dir: &Path) -> Vec<Source> {
    vec![
        Source {
            name: "uci_sms_spam".to_owned(),
            path: data_dir.join("sms_spam_collection/SMSSpamCollection"),
            domain: Domain::Sms,
            citation: "Almeida, Gómez Hidalgo & Yamakami, \"Contributions to the Study of SMS Spam \
                       Filtering: New Collection and Results\", DocEng 2011; UCI SMS Spam Collection v.1, \
                       doi 10.24432/C5CC84, CC BY 4.0"
                .to_owned(),
        },
        Source {
            name: "mishra_soni_smishing".to_owned(),
            path: data_dir.join("sms_phishing/sms_phishing_uci_overlap.tsv"),
            domain: Domain::Sms,
            citation: "Mishra & Soni, \"SMS Phishing Dataset for Machine Learning and Pattern \
                       Recognition\", Mendeley Data 2022, doi 10.17632/f45bkkt8pr.1, CC BY 4.0 \
                       (rows whose text is also in the UCI collection)"
                .to_owned(),
        },
        Source {
            name: "davidson_hate_offensive".to_owned(),
            path: data_dir.join("hate_offensive/davidson2017.tsv"),
            domain: Domain::Tweets,
            citation: "Davidson, Warmsley, Macy & Weber, \"Automated Hate Speech Detection and the \
                       Problem of Offensive Language\", ICWSM 2017, MIT licence"
                .to_owned(),
        },
    ]
}

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {problem}", path.display())]
    Row {
        path: PathBuf,
        line: usize,
        problem: String,
    },
}

/// One deduplicated, labelled text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The text as first seen.
    pub text: String,
    /// Its matching form: the deduplication and split key.
    pub key: String,
    pub label: Label,
    pub domain: Domain,
}

/// Reads a `label<TAB>text` file. Blank lines and lines starting with `#` are skipped.
pub fn read_labelled(path: &Path) -> Result<Vec<(Label, String)>, DatasetError> {
    let data = std::fs::read_to_string(path).map_err(|source| DatasetError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut rows = Vec::new();
    for (index, line) in data.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let row_error = |problem: String| DatasetError::Row {
            path: path.to_owned(),
            line: index + 1,
            problem,
        };
        let (label, text) = line
            .split_once('\t')
            .ok_or_else(|| row_error("expected label<TAB>text".to_owned()))?;
        let label =
            Label::parse(label).ok_or_else(|| row_error(format!("unknown label {label:?}")))?;
        rows.push((label, text.to_owned()));
    }
    Ok(rows)
}

/// Reads, merges and deduplicates sources. Texts whose matching forms are equal are one example,
/// with the most serious of their labels. The result is ordered by key, so it does not depend on
/// the order of files or lines.
pub fn load(sources: &[Source]) -> Result<Vec<Example>, DatasetError> {
    let mut merged: HashMap<String, Example> = HashMap::new();
    for source in sources {
        for (label, text) in read_labelled(&source.path)? {
            let key = normalize(&text);
            if key.is_empty() {
                continue;
            }
            let example = merged.entry(key.clone()).or_insert_with(|| Example {
                text,
                key,
                label,
                domain: source.domain,
            });
            if label.severity() > example.label.severity() {
                example.label = label;
            }
        }
    }
    let mut examples: Vec<Example> = merged.into_values().collect();
    examples.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(examples)
}

/// Splits examples into (train, test) indices: within each (domain, label), ordered by a hash of
/// the text seeded with `seed`, the first `test_share` go to test.
pub fn split(examples: &[Example], seed: u64, test_share: f64) -> (Vec<usize>, Vec<usize>) {
    let mut groups: HashMap<(Domain, Label), Vec<(u64, usize)>> = HashMap::new();
    for (index, example) in examples.iter().enumerate() {
        let order = xxh3_64_with_seed(example.key.as_bytes(), seed);
        groups
            .entry((example.domain, example.label))
            .or_default()
            .push((order, index));
    }
    let mut keys: Vec<_> = groups.keys().copied().collect();
    keys.sort();
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for key in keys {
        let mut group = groups.remove(&key).unwrap_or_default();
        group.sort_unstable();
        let test_count = (group.len() as f64 * test_share).round() as usize;
        for (position, (_, index)) in group.into_iter().enumerate() {
            if position < test_count {
                test.push(index);
            } else {
                train.push(index);
            }
        }
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(text: &str, label: Label) -> Example {
        Example {
            text: text.to_owned(),
            key: normalize(text),
            label,
            domain: Domain::Sms,
        }
    }

    #[test]
    fn labels_from_every_dataset_map_to_wardens() {
        assert_eq!(Label::parse("smishing"), Some(Label::Fraud));
        assert_eq!(Label::parse("hate"), Some(Label::Aup));
        assert_eq!(Label::parse("offensive"), Some(Label::Ham));
        assert_eq!(Label::parse("Spam"), Some(Label::Spam));
        assert_eq!(Label::parse("weird"), None);
    }

    #[test]
    fn duplicates_merge_by_normalized_text_and_the_serious_label_wins() {
        let dir = tempfile::tempdir().unwrap();
        let uci = dir.path().join("uci.tsv");
        let ms = dir.path().join("ms.tsv");
        std::fs::write(
            &uci,
            "ham\tSee you soon\nspam\tWIN a prize now\nham\tsee  you SOON\n",
        )
        .unwrap();
        std::fs::write(&ms, "smishing\twin a prize now\n").unwrap();
        let source = |path: &Path| Source {
            name: "t".into(),
            path: path.to_owned(),
            domain: Domain::Sms,
            citation: String::new(),
        };
        let examples = load(&[source(&uci), source(&ms)]).unwrap();
        assert_eq!(examples.len(), 2);
        assert_eq!(examples[0].key, "see you soon");
        assert_eq!(examples[1].label, Label::Fraud);
    }

    #[test]
    fn bad_rows_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.tsv");
        std::fs::write(&path, "ham\tok\nmaybe\ttext\n").unwrap();
        let err = read_labelled(&path).unwrap_err().to_string();
        assert!(err.ends_with("bad.tsv:2: unknown label \"maybe\""), "{err}");
    }

    #[test]
    fn split_is_stratified_seeded_and_disjoint() {
        let examples: Vec<_> = (0..200)
            .map(|i| {
                example(
                    &format!("message {i}"),
                    if i % 4 == 0 { Label::Spam } else { Label::Ham },
                )
            })
            .collect();
        let (train, test) = split(&examples, 7, 0.2);
        assert_eq!(train.len() + test.len(), 200);
        assert!(train.iter().all(|i| !test.contains(i)));
        let spam_in_test = test
            .iter()
            .filter(|&&i| examples[i].label == Label::Spam)
            .count();
        assert_eq!(spam_in_test, 10, "exactly 20 % of the 50 spam");
        assert_eq!(test.len(), 40);
        assert_eq!(
            split(&examples, 7, 0.2),
            (train.clone(), test.clone()),
            "same seed, same split"
        );
        assert_ne!(
            split(&examples, 8, 0.2).1,
            test,
            "another seed, another split"
        );
    }
}
