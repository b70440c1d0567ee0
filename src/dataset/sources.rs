//! The catalogue of labelled files: the shared datasets of `../shared/data` and the team's
//! written A2P messages, each with its citation, its label mapping and how it is split.
//!
//! This is where the label policy of models/README.md meets each source's own labels, so it is
//! kept on its own, as data, apart from the code that reads and divides the files.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Domain, Label, Source, SplitBy};

/// The shared datasets, as `../shared/data/README.md` describes them, with the label policy of
/// models/README.md applied to each.
pub fn shared_sources(data_dir: &Path) -> Vec<Source> {
    let relabel = |pairs: &[(&str, Option<Label>)]| -> BTreeMap<String, Option<Label>> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    };
    let tweeteval_citation = "Barbieri, Camacho-Collados, Espinosa-Anke & Neves, \"TweetEval: \
        Unified Benchmark and Comparative Evaluation for Tweet Classification\", Findings of \
        EMNLP 2020; Basile et al., \"SemEval-2019 Task 5: Multilingual Detection of Hate Speech \
        Against Immigrants and Women in Twitter\", SemEval 2019; released without restrictions";
    vec![
        Source::plain(
            "uci_sms_spam",
            data_dir.join("sms_spam_collection/SMSSpamCollection"),
            Domain::Sms,
            "Almeida, Gómez Hidalgo & Yamakami, \"Contributions to the Study of SMS Spam \
             Filtering: New Collection and Results\", DocEng 2011; UCI SMS Spam Collection v.1, \
             doi 10.24432/C5CC84, CC BY 4.0",
        ),
        Source::plain(
            "mishra_soni_smishing",
            data_dir.join("sms_phishing/sms_phishing_uci_overlap.tsv"),
            Domain::Sms,
            "Mishra & Soni, \"SMS Phishing Dataset for Machine Learning and Pattern \
             Recognition\", Mendeley Data 2022, doi 10.17632/f45bkkt8pr.1, CC BY 4.0 (rows whose \
             text is also in the UCI collection)",
        ),
        Source::plain(
            "davidson_hate_offensive",
            data_dir.join("hate_offensive/davidson2017.tsv"),
            Domain::Tweets,
            "Davidson, Warmsley, Macy & Weber, \"Automated Hate Speech Detection and the Problem \
             of Offensive Language\", ICWSM 2017, MIT licence",
        ),
        Source {
            split: SplitBy::Train,
            ..Source::plain(
                "tweeteval_hate_train",
                data_dir.join("tweeteval_hate/train.tsv"),
                Domain::Tweets,
                tweeteval_citation,
            )
        },
        // TweetEval's validation file is this repository's test for the benchmark (its own
        // test split is held out elsewhere), so nothing is chosen on it.
        Source {
            split: SplitBy::Test,
            ..Source::plain(
                "tweeteval_hate_validation",
                data_dir.join("tweeteval_hate/validation.tsv"),
                Domain::Tweets,
                tweeteval_citation,
            )
        },
        // The gateway set has no ham, and its labels are heuristic: gambling and brand
        // promotions are spam, the rest fraud, as given.
        Source {
            split: SplitBy::Column {
                column: "campaign".to_owned(),
            },
            ..Source::plain(
                "ncsu_gateway_smishing",
                data_dir.join("sms_gateway_smishing/ncsu_gateway_smishing.tsv"),
                Domain::Sms,
                "Nahapetyan, Prasad, Childs, Oest, Ladwig, Kapravelos & Reaves, \"On SMS \
                 Phishing Tactics and Infrastructure\", IEEE S&P 2024 (wspr-ncsu/sms-phishing), \
                 MIT licence",
            )
        },
        // The Indian set's own label calls every commercial message spam; its sublabels are
        // mapped to the label policy instead. The investment group's chat lines are the shills
        // of a stock-tip scam: fraud, as the data's README has them.
        Source {
            label_column: "sublabel".to_owned(),
            relabel: relabel(&[
                ("a2p_otp", Some(Label::Ham)),
                ("a2p_transactional", Some(Label::Ham)),
                ("a2p_notification", Some(Label::Ham)),
                ("ham_personal", Some(Label::Ham)),
                ("a2p_promo", Some(Label::Spam)),
                ("a2p_promo_credit", Some(Label::Spam)),
                ("a2p_promo_gambling", Some(Label::Spam)),
                ("suspected_scam", Some(Label::Fraud)),
                ("ham_chat_investment_group_suspected", Some(Label::Fraud)),
            ]),
            split: SplitBy::FirstWords { words: 3 },
            ..Source::plain(
                "india_a2p",
                data_dir.join("india_a2p/india_sms.tsv"),
                Domain::Sms,
                "JuniorAlive, \"India Spam SMS Classification\" (2024, \
                 junioralive/india-spam-sms-classification), MIT licence; sublabels by pattern",
            )
        },
        // HateXplain's `toxic` merges hate with offensive language; offensive language alone is
        // not an AUP violation here, so `toxic` is not read as hate (models/README.md).
        Source {
            relabel: relabel(&[("toxic", None)]),
            split: SplitBy::Official {
                column: "split".to_owned(),
            },
            ..Source::plain(
                "hatexplain",
                data_dir.join("hatexplain/hatexplain_binary.tsv"),
                Domain::Tweets,
                "Mathew, Saha, Yimam, Biemann, Goyal & Mukherjee, \"HateXplain: A Benchmark \
                 Dataset for Explainable Hate Speech Detection\", AAAI 2021, MIT licence",
            )
        },
    ]
}

/// Legitimate application-to-person messages written by the team from templates
/// (`scripts/written_a2p.py`), since no licensed corpus of today's A2P traffic exists: one-time
/// codes, delivery notices on the carriers' own domains, bank and service alerts, reminders.
/// Training rows only (fit or validation, never test), kept apart from every public figure.
pub fn written_sources(repo_dir: &Path) -> Vec<Source> {
    vec![Source {
        split: SplitBy::Train,
        ..Source::plain(
            "warden_written_a2p",
            repo_dir.join("models/written_a2p_ham.tsv"),
            Domain::Sms,
            "Written by the Warden team from templates (scripts/written_a2p.py); not real traffic",
        )
    }]
}
