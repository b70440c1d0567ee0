//! The hand-written labelled corpus (`tests/data/corpus.tsv`) through the shipped rules and policy:
//! each message gets exactly the action it is labelled with.

mod common;

use warden::message::Action;
use warden::scoring::Scratch;

#[test]
fn every_corpus_message_gets_its_expected_action() {
    let scorer = common::shipped_scorer();
    let mut scratch = Scratch::new();
    let mut failures = Vec::new();
    let mut rows = 0;
    for common::CorpusRow {
        line,
        label,
        action,
        text,
    } in common::corpus()
    {
        assert!(
            ["ham", "spam", "fraud", "aup"].contains(&label),
            "line {line}: label {label:?}"
        );
        let expected = match action {
            "allow" => Action::Allow,
            "flag" => Action::Flag,
            "block" => Action::Block,
            other => panic!("tests/data/corpus.tsv:{line}: unknown action {other:?}"),
        };
        rows += 1;
        let assessment = scorer.assess(text, &mut scratch);
        if assessment.action != expected {
            let hits: Vec<_> = scratch
                .matches
                .iter()
                .map(|i| scorer.rules().rule(i).id.as_str())
                .collect();
            failures.push(format!(
                "line {line}: {label}, expected {expected:?}, got {:?} (scores {:?}, hits {hits:?}): {text}",
                assessment.action,
                assessment.scores
            ));
        }
    }
    assert!(rows > 0, "the corpus is empty");
    assert!(
        failures.is_empty(),
        "{} of {rows} corpus messages misjudged:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The same corpus through rules and model together: the model may add flags (it is weak on
/// today's transactional messages, see models/README.md) but never a block, and it must not
/// lose anything the rules catch.
#[test]
fn with_the_model_no_legitimate_corpus_message_is_blocked_and_no_abuse_is_missed() {
    let scorer = common::shipped_scorer_with_model();
    let mut scratch = Scratch::new();
    let (mut ham, mut ham_flagged, mut failures) = (0, 0, Vec::new());
    for common::CorpusRow { label, text, .. } in common::corpus() {
        let action = scorer.assess(text, &mut scratch).action;
        if label == "ham" {
            ham += 1;
            ham_flagged += usize::from(action == Action::Flag);
            if action == Action::Block {
                failures.push(format!("blocked: {text}"));
            }
        } else if action == Action::Allow {
            failures.push(format!("missed {label}: {text}"));
        }
    }
    println!("corpus, rules + model: {ham_flagged} of {ham} legitimate messages flagged");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // 9 of 220 as shipped (models/README.md); issue 15's goal is at most 5 %.
    assert!(
        ham_flagged * 100 <= ham * 5,
        "{ham_flagged} of {ham} legitimate corpus messages flagged, more than 5 %"
    );
}

/// `genuine` is a brand's own notice that the model alone calls fraud (checked, or the test
/// would mean nothing), yet no rule hits it and it is allowed, because the brand registry vouches
/// for every link; `lure`, the same words linking elsewhere, is still caught.
fn assert_vouched_notice_allowed_and_lure_caught(genuine: &str, lure: &str) {
    let scorer = common::shipped_scorer_with_model();
    let mut scratch = Scratch::new();
    let verdict = scorer.assess(genuine, &mut scratch);
    let model = verdict.model.expect("the shipped scorer has a model");
    assert!(
        model.fraud >= 0.5,
        "the model alone must call {genuine:?} fraud for this test to mean anything: {model:?}"
    );
    assert!(scratch.matches.is_empty(), "no rule hits {genuine:?}");
    assert_eq!(verdict.action, Action::Allow, "{:?}", verdict.scores);
    let verdict = scorer.assess(lure, &mut scratch);
    assert_ne!(
        verdict.action,
        Action::Allow,
        "{lure:?}: {:?}",
        verdict.scores
    );
}

/// The model learned that a brand beside a link means fraud. When the brand registry vouches for
/// every link (the brand's own domain), only the rules may call the message fraud; the same
/// notice linking elsewhere is still caught.
#[test]
fn a_notice_linking_only_to_its_brands_own_domain_is_not_called_fraud_by_the_model_alone() {
    let notice = |link: &str| {
        format!("Netflix: we couldn't process your payment. Visit {link} to update your card.")
    };
    assert_vouched_notice_allowed_and_lure_caught(
        &notice("https://www.netflix.com/youraccount"),
        &notice("https://netflix-account-billing.top/login"),
    );
}

/// A platform that hosts anyone's pages (`user_content_domains`) still has hosts only it
/// publishes on (`brand_only_hosts`): its genuine sign-in alert linking there is not called
/// fraud by the model alone, while the same alert linking to a page anyone can make still is.
#[test]
fn a_sign_in_alert_linking_to_the_platforms_own_account_pages_is_not_called_fraud_by_the_model() {
    let alert = |link: &str| {
        format!(
            "Google: new sign-in on a Pixel 8. If this wasn't you, review your account at {link}"
        )
    };
    assert_vouched_notice_allowed_and_lure_caught(
        &alert("https://myaccount.google.com/notifications"),
        &alert("https://sites.google.com/view/myaccount-review"),
    );
}

/// A bank's own alert asks you to call its own published number (`phones` in the brand
/// registry): the callback rule that catches the same words with any other number does not hit
/// it, nor does the model alone call it fraud.
#[test]
fn an_alert_giving_only_its_banks_own_number_is_not_called_fraud() {
    let scorer = common::shipped_scorer_with_model();
    let mut scratch = Scratch::new();
    let alert = |number: &str| {
        format!(
            "Santander: You've set up a new payee, J SMITH. If you didn't do this, call us immediately on {number}."
        )
    };
    let lure = scorer.assess(&alert("0330 808 1294"), &mut scratch);
    assert_ne!(lure.action, Action::Allow, "{:?}", lure.scores);
    assert!(
        !scratch.matches.is_empty(),
        "the callback rule hits the lure"
    );
    let genuine = scorer.assess(&alert("0800 9 123 123"), &mut scratch);
    assert!(scratch.matches.is_empty(), "no rule hits the genuine alert");
    assert_eq!(genuine.action, Action::Allow, "{:?}", genuine.scores);
}

/// Bulk promotion must tell its recipients how to opt out: the shipped policy marks a spam-flagged
/// message that does not, and only such a message.
#[test]
fn spam_flagged_marketing_without_a_way_to_opt_out_is_marked_with_its_own_reason() {
    let scorer = common::shipped_scorer_with_model();
    let mut scratch = Scratch::new();
    let mut verdict = |body: &str| {
        let json = serde_json::json!({
            "message_id": "SM1", "account_id": "AC1", "sent_at": "2026-11-28T17:04:05Z",
            "channel": "sms", "to": "+14155550199", "body": body,
        });
        let event =
            warden::message::MessageEvent::decode(&serde_json::to_vec(&json).unwrap()).unwrap();
        scorer.verdict(&event, &mut scratch, time::OffsetDateTime::now_utc())
    };
    let promo = "SALE! 50% off all sofas this weekend only, free delivery. Shop now at www.sofa-world.co.uk";
    let bare = verdict(promo);
    assert_eq!(bare.action, Action::Flag, "{bare:?}");
    assert!(bare.marketing_without_opt_out, "{bare:?}");
    let with_stop = verdict(&format!("{promo}. Reply STOP to opt out"));
    assert_eq!(with_stop.action, Action::Flag, "{with_stop:?}");
    assert!(!with_stop.marketing_without_opt_out, "{with_stop:?}");
    let ham = verdict("Running 10 mins late, save me a seat");
    assert!(!ham.marketing_without_opt_out, "{ham:?}");
    let json = serde_json::to_value(&bare).unwrap();
    assert_eq!(json["marketing_without_opt_out"], true);
    assert!(
        serde_json::to_value(&ham)
            .unwrap()
            .get("marketing_without_opt_out")
            .is_none()
    );
}

/// A call for violence against a group blocks. A report, a quotation, a denouncement or a
/// negation names the same act and is never blocked: at most a reviewer sees it. The two probes
/// (`tests/data/probes/hate_violence_*.tsv`) hold 24 calls and 24 such contrasts.
#[test]
fn a_call_for_violence_blocks_but_a_report_or_quotation_of_one_never_does() {
    let scorer = common::shipped_scorer_with_model();
    let mut scratch = Scratch::new();
    for call in [
        "gas the jews",
        "Someone should shoot those refugees at the border",
        "Time to exterminate the muslims once and for all",
    ] {
        let verdict = scorer.assess(call, &mut scratch);
        assert_eq!(
            verdict.action,
            Action::Block,
            "{call:?}: {:?}",
            verdict.scores
        );
    }
    let probes = [
        (
            "tests/data/probes/hate_violence_a.tsv",
            include_str!("data/probes/hate_violence_a.tsv"),
        ),
        (
            "tests/data/probes/hate_violence_b.tsv",
            include_str!("data/probes/hate_violence_b.tsv"),
        ),
    ];
    let mut failures = Vec::new();
    let (mut contrasts, mut calls_caught, mut calls) = (0, 0, 0);
    for (path, contents) in probes {
        for row in common::labelled_rows(path, contents) {
            let action = scorer.assess(row.text, &mut scratch).action;
            if row.label == "ham" {
                contrasts += 1;
                if action == Action::Block {
                    failures.push(format!("{path}:{}: blocked: {}", row.line, row.text));
                }
            } else {
                calls += 1;
                calls_caught += usize::from(action != Action::Allow);
            }
        }
    }
    assert_eq!((contrasts, calls), (24, 24), "the probes' rows");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // 23 of 24 as shipped (models/README.md): probe B's miss is left to the model.
    assert!(calls_caught >= 23, "{calls_caught} of {calls} calls caught");
}
