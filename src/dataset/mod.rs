//! Labelled data for training and evaluation: reading the shared datasets, mapping their labels
//! to Warden's label policy, merging them, deduplicating on normalized text, and dividing them
//! into fit, validation and test rows.
//!
//! Every source says how its rows are divided ([`SplitBy`]), because a row-level split of
//! templated or campaign traffic measures memory, not generalization: the gateway smishing set
//! is split by campaign, the Indian A2P set by template (its first words), HateXplain by its
//! official split, TweetEval by its fixed files, and the older sets text by text, stratified by
//! source and label. The division is decided per normalized text, after merging, so one text
//! can never sit on two sides. The same seed and files always give the same division, which is
//! how `warden eval --heldout` finds the rows a model never saw.
//!
//! `sources` is the catalogue of files with the label policy applied to each; `split` divides
//! the merged examples. This module holds the vocabulary, reading and merging.

mod sources;
mod split;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use sources::{shared_sources, written_sources};
pub use split::{Part, Split, Unit, Validation, by_source};

use crate::text::normalize;

/// Warden's labels. The label policy (models/README.md) maps every source's labels to these.
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

    /// Reads a dataset label: Warden's own (`ham|spam|fraud|aup`) and the datasets' common names
    /// for them (`smishing` is fraud; `hate` is AUP; Davidson's `offensive` and `neither` are
    /// not, since offensive language alone breaks no acceptable-use rule).
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

/// Where a text comes from: the SMS head learns from SMS; posts teach the AUP head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    Sms,
    Tweets,
}

/// How a source's rows are divided between fit, validation and test.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by", deny_unknown_fields)]
pub enum SplitBy {
    /// Text by text, stratified by source and label (a seeded hash orders each stratum).
    #[default]
    Text,
    /// Whole groups, named by a column (a campaign), fall on one side.
    Column { column: String },
    /// Whole templates, named by their first `words` words (digits aside), fall on one side.
    FirstWords { words: usize },
    /// The source's own split, read from a column: `train`, `val` or `validation`, `test`.
    Official { column: String },
    /// Every row is on the training side (fit or validation, text by text).
    Train,
    /// Every row is held out for test.
    Test,
}

/// One labelled dataset file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub name: String,
    pub path: PathBuf,
    pub domain: Domain,
    pub citation: String,
    /// The column holding the label, in a file with a header line.
    #[serde(default = "default_label_column")]
    pub label_column: String,
    /// Source labels read otherwise than [`Label::parse`] would; a label mapped to `null`
    /// leaves its rows out. This is where a source's labels meet the label policy.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub relabel: BTreeMap<String, Option<Label>>,
    #[serde(default)]
    pub split: SplitBy,
}

fn default_label_column() -> String {
    "label".to_owned()
}

impl Source {
    /// A `label<TAB>text` file (or one with a `label` column), labels read by [`Label::parse`],
    /// split text by text.
    pub fn plain(name: &str, path: PathBuf, domain: Domain, citation: &str) -> Self {
        Source {
            name: name.to_owned(),
            path,
            domain,
            citation: citation.to_owned(),
            label_column: default_label_column(),
            relabel: BTreeMap::new(),
            split: SplitBy::Text,
        }
    }
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

/// One row of a source, its label mapped to Warden's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub label: Label,
    pub text: String,
    /// The value of the grouping column, when the source is split by one.
    pub group: Option<String>,
    /// The source's own split, when it has one.
    pub part: Option<Part>,
    /// The `lang` column, when the source has one.
    pub lang: Option<String>,
}

/// Reads a source: a `label<TAB>text` file, or one whose header line (after any comments) names
/// its columns (the label first, `text` last). Blank lines and lines starting with `#` are
/// skipped.
pub fn read_source(source: &Source) -> Result<Vec<Row>, DatasetError> {
    let path = &source.path;
    let data = std::fs::read_to_string(path).map_err(|source| DatasetError::Read {
        path: path.to_owned(),
        source,
    })?;
    // Comments may precede the header.
    let mut lines = data
        .lines()
        .enumerate()
        .skip_while(|(_, line)| line.starts_with('#') || line.trim().is_empty())
        .peekable();
    let header: Option<Vec<&str>> = lines
        .peek()
        .filter(|(_, line)| line.starts_with("label\t"))
        .map(|(_, line)| line.split('\t').collect());
    if header.is_some() {
        lines.next();
    }
    let column = |name: &str| -> Result<Option<usize>, DatasetError> {
        match &header {
            None => Ok(None),
            Some(columns) => Ok(columns.iter().position(|c| *c == name)),
        }
    };
    let missing = |name: &str| DatasetError::Row {
        path: path.to_owned(),
        line: 1,
        problem: format!("no column {name:?} in the header"),
    };
    let label_at = match column(&source.label_column)? {
        Some(at) => at,
        None if header.is_none() && source.label_column == "label" => 0,
        None => return Err(missing(&source.label_column)),
    };
    let group_at = match &source.split {
        SplitBy::Column { column: name } => Some(column(name)?.ok_or_else(|| missing(name))?),
        _ => None,
    };
    let part_at = match &source.split {
        SplitBy::Official { column: name } => Some(column(name)?.ok_or_else(|| missing(name))?),
        _ => None,
    };
    let lang_at = column("lang")?;
    let fields = header.as_ref().map_or(2, Vec::len);

    let mut rows = Vec::new();
    for (index, line) in lines {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let row_error = |problem: String| DatasetError::Row {
            path: path.to_owned(),
            line: index + 1,
            problem,
        };
        // The text is last and may itself hold tabs.
        let cells: Vec<&str> = line.splitn(fields, '\t').collect();
        if cells.len() < fields {
            return Err(row_error(format!(
                "expected {fields} tab-separated fields, the text last"
            )));
        }
        let raw_label = cells[label_at];
        let label = match source.relabel.get(raw_label) {
            Some(None) => continue,
            Some(Some(label)) => *label,
            None => Label::parse(raw_label)
                .ok_or_else(|| row_error(format!("unknown label {raw_label:?}")))?,
        };
        let part = match part_at.map(|at| cells[at]) {
            None => None,
            Some("train") => Some(Part::Fit),
            Some("val" | "validation") => Some(Part::Validation),
            Some("test") => Some(Part::Test),
            Some(other) => return Err(row_error(format!("unknown split {other:?}"))),
        };
        rows.push(Row {
            label,
            text: cells[fields - 1].to_owned(),
            group: group_at.map(|at| cells[at].to_owned()),
            part,
            lang: lang_at.map(|at| cells[at].to_owned()),
        });
    }
    Ok(rows)
}

/// Reads a labelled file (`label<TAB>text`, or with a header line) as (label, text) pairs.
pub fn read_labelled(path: &Path) -> Result<Vec<(Label, String)>, DatasetError> {
    let source = Source::plain("file", path.to_owned(), Domain::Sms, "");
    Ok(read_source(&source)?
        .into_iter()
        .map(|row| (row.label, row.text))
        .collect())
}

/// One deduplicated, labelled text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The text as first seen.
    pub text: String,
    /// Its matching form: the deduplication key.
    pub key: String,
    pub label: Label,
    pub domain: Domain,
    /// Indices (into the sources loaded) of every source holding this text; the first read it
    /// first and decides its unit.
    pub sources: Vec<usize>,
    pub unit: Unit,
    pub lang: Option<String>,
}

impl Example {
    /// An example of one source, split text by text.
    pub fn new(text: &str, label: Label, domain: Domain) -> Self {
        Example {
            text: text.to_owned(),
            key: normalize(text),
            label,
            domain,
            sources: vec![0],
            unit: Unit::Text,
            lang: None,
        }
    }
}

/// A template's name: its first `words` words of letters, from the matching form (numbers and
/// punctuation vary between messages of one template).
fn template(key: &str, words: usize) -> String {
    key.split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .take(words)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads, merges and deduplicates sources. Texts whose matching forms are equal are one example,
/// with the most serious of their labels. The result is ordered by key, so it does not depend on
/// the order of lines.
pub fn load(sources: &[Source]) -> Result<Vec<Example>, DatasetError> {
    let mut merged: HashMap<String, Example> = HashMap::new();
    for (index, source) in sources.iter().enumerate() {
        for row in read_source(source)? {
            let key = normalize(&row.text);
            if key.is_empty() {
                continue;
            }
            let unit = match (&source.split, row.group, row.part) {
                (SplitBy::Column { .. }, Some(group), _) => {
                    Unit::Group(format!("{}/{group}", source.name))
                }
                (SplitBy::FirstWords { words }, _, _) => {
                    Unit::Group(format!("{}/{}", source.name, template(&key, *words)))
                }
                (SplitBy::Official { .. }, _, Some(part)) => Unit::Fixed(part),
                (SplitBy::Train, _, _) => Unit::TrainSide,
                (SplitBy::Test, _, _) => Unit::Fixed(Part::Test),
                _ => Unit::Text,
            };
            let example = merged.entry(key.clone()).or_insert_with(|| Example {
                text: row.text,
                key,
                label: row.label,
                domain: source.domain,
                sources: Vec::new(),
                unit,
                lang: row.lang,
            });
            if !example.sources.contains(&index) {
                example.sources.push(index);
            }
            if row.label.severity() > example.label.severity() {
                example.label = row.label;
            }
        }
    }
    let mut examples: Vec<Example> = merged.into_values().collect();
    examples.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(examples)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, data: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, data).unwrap();
        path
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
        let uci = write(
            dir.path(),
            "uci.tsv",
            "ham\tSee you soon\nspam\tWIN a prize now\nham\tsee  you SOON\n",
        );
        let ms = write(dir.path(), "ms.tsv", "smishing\twin a prize now\n");
        let examples = load(&[
            Source::plain("uci", uci, Domain::Sms, ""),
            Source::plain("ms", ms, Domain::Sms, ""),
        ])
        .unwrap();
        assert_eq!(examples.len(), 2);
        assert_eq!(examples[0].key, "see you soon");
        assert_eq!(examples[0].sources, [0]);
        assert_eq!(examples[1].label, Label::Fraud);
        assert_eq!(
            examples[1].sources,
            [0, 1],
            "both sources hold the prize text"
        );
    }

    #[test]
    fn header_files_relabel_by_their_label_column_and_leave_out_what_maps_to_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "a2p.tsv",
            "label\tsublabel\ttext\nspam\ta2p_otp\tYour OTP is 1234\nspam\ta2p_promo\t50% off \
             today\tonly\nham\tunsure\tskip me\n",
        );
        let source = Source {
            label_column: "sublabel".to_owned(),
            relabel: [
                ("a2p_otp".to_owned(), Some(Label::Ham)),
                ("a2p_promo".to_owned(), Some(Label::Spam)),
                ("unsure".to_owned(), None),
            ]
            .into_iter()
            .collect(),
            ..Source::plain("a2p", path, Domain::Sms, "")
        };
        let rows = read_source(&source).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].label, Label::Ham);
        assert_eq!(
            (rows[1].label, rows[1].text.as_str()),
            (Label::Spam, "50% off today\tonly"),
            "the text is the last field, tabs and all"
        );
    }

    #[test]
    fn bad_rows_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "bad.tsv", "ham\tok\nmaybe\ttext\n");
        let err = read_labelled(&path).unwrap_err().to_string();
        assert!(err.ends_with("bad.tsv:2: unknown label \"maybe\""), "{err}");
        let path = write(dir.path(), "nocol.tsv", "label\ttext\nham\tok\n");
        let source = Source {
            split: SplitBy::Column {
                column: "campaign".to_owned(),
            },
            ..Source::plain("c", path, Domain::Sms, "")
        };
        let err = read_source(&source).unwrap_err().to_string();
        assert!(
            err.ends_with("nocol.tsv:1: no column \"campaign\" in the header"),
            "{err}"
        );
    }

    #[test]
    fn templates_are_named_by_their_first_words() {
        assert_eq!(
            template("dear customer, 5% off today", 3),
            "dear customer off"
        );
        assert_eq!(template("ok", 3), "ok");
    }
}
