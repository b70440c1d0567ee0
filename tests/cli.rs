//! The `warden` binary as a user runs it: `warden score`, `warden rules check`, `warden transparency report`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn warden(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("WARDEN_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("warden runs");
    let mut input = child.stdin.take().expect("stdin is piped");
    input
        .write_all(stdin.unwrap_or_default())
        .expect("stdin accepts the input");
    drop(input);
    child.wait_with_output().expect("warden exits")
}

fn json_lines(bytes: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

#[test]
fn score_writes_one_verdict_per_good_line_and_reports_bad_lines_by_number() {
    let output = warden(
        &["score", "--input", "tests/data/sample_messages.jsonl"],
        None,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let verdicts = json_lines(&output.stdout);
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/sample_messages.jsonl"
    ))
    .unwrap();
    let sample: Vec<serde_json::Value> = sample
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let good: Vec<_> = sample
        .iter()
        .filter(|m| m.get("account_id").is_some() && m["sent_at"] != "yesterday")
        .collect();
    assert_eq!(verdicts.len(), good.len());
    for (verdict, message) in verdicts.iter().zip(&good) {
        assert_eq!(verdict["message_id"], message["message_id"]);
        assert_eq!(verdict["account_id"], message["account_id"]);
        for key in [
            "action",
            "scores",
            "rule_hits",
            "rules_version",
            "decided_at",
        ] {
            assert!(verdict.get(key).is_some(), "verdict lacks {key}: {verdict}");
        }
    }
    let errors = json_lines(&output.stderr);
    let lines: Vec<_> = errors.iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [sample.len() as u64 - 1, sample.len() as u64]);
    assert_eq!(errors[0]["code"], "invalid_field");
    assert!(errors[1]["error"].as_str().unwrap().contains("account_id"));
}

#[test]
fn score_reads_stdin_and_survives_invalid_utf8_and_blank_lines() {
    let good = br#"{"message_id":"SM1","account_id":"AC1","sent_at":"2026-11-28T17:04:05Z","channel":"sms","to":"+1","body":"hi"}"#;
    let input = [&good[..], b"\n\n\xff\xfe not utf-8\n", good, b"\n"].concat();
    let output = warden(&["score"], Some(&input));
    assert!(output.status.success());
    assert_eq!(json_lines(&output.stdout).len(), 2);
    let errors = json_lines(&output.stderr);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["line"], 3);
    assert_eq!(errors[0]["code"], "invalid_utf8");
}

#[test]
fn rules_check_passes_on_the_shipped_file() {
    let output = warden(&["rules", "check", "config/rules.toml"], None);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("every example behaves"));
}

#[test]
fn rules_check_refuses_a_broken_file_with_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    std::fs::write(
        &path,
        "[[rule]]\nid = \"spam.broken\"\ncategory = \"spam\"\nseverity = \"low\"\nweight = 0.5\n\
         description = \"Broken\"\npattern = '(free'\nexamples.match = [\"free\"]\nexamples.no_match = [\"x\"]\n",
    )
    .unwrap();
    let output = warden(&["rules", "check", path.to_str().unwrap()], None);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 1: rule `spam.broken`: pattern does not compile"),
        "{stderr}"
    );

    let output = warden(&["rules", "check", "no/such/file.toml"], None);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read no/such/file.toml"));
}

#[test]
fn score_refuses_to_start_with_a_broken_rules_file() {
    let output = warden(&["score", "--rules", "no/such/rules.toml"], Some(b""));
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read no/such/rules.toml"));
}

#[test]
fn eval_reports_metrics_as_json_and_draws_curves() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("labelled.tsv");
    std::fs::write(
        &data,
        "ham\tsee you at the pub tonight\n\
         ham\tyour Acme code is 482913, do not share it\n\
         fraud\tURGENT! You have won a £2000 cash prize, call 09061701461 to claim now\n\
         spam\tGet ur FREE ringtone now! txt TONE to 87121, 150p/msg\n\
         smishing\tYour account is locked, verify at http://paypa1-secure.com/login\n",
    )
    .unwrap();
    let svg = dir.path().join("curves.svg");
    let png = dir.path().join("curves.png");
    let output = warden(
        &[
            "eval",
            "--data",
            data.to_str().unwrap(),
            "--json",
            "--plot",
            svg.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["rows"], 5);
    for key in [
        "accuracy",
        "mcc",
        "abuse_caught",
        "ham_flagged",
        "ham_blocked",
    ] {
        assert!(
            report["overall"][key].is_number(),
            "overall.{key}: {report}"
        );
    }
    for category in ["spam", "fraud", "aup"] {
        for key in ["precision", "recall", "f1", "support"] {
            assert!(
                report["categories"][category][key].is_number(),
                "{category}.{key}"
            );
        }
    }
    assert_eq!(
        report["categories"]["fraud"]["support"], 2,
        "smishing counts as fraud"
    );
    assert_eq!(
        report["overall"]["abuse_caught"], 1.0,
        "all three abusive messages are caught"
    );
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));

    let output = warden(
        &[
            "eval",
            "--data",
            data.to_str().unwrap(),
            "--rules-only",
            "--plot",
            png.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("overall (any abuse vs ham)"));
    assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");
}

#[test]
fn eval_refuses_bad_input_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bad.tsv");
    std::fs::write(&data, "ham\tok\nmaybe\tsomething\n").unwrap();
    let output = warden(&["eval", "--data", data.to_str().unwrap()], None);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("bad.tsv:2: unknown label \"maybe\""));
    let output = warden(
        &[
            "eval",
            "--data",
            data.to_str().unwrap(),
            "--model-only",
            "--rules-only",
        ],
        None,
    );
    assert!(
        !output.status.success(),
        "the two ablations exclude each other"
    );
}

#[test]
fn a_damaged_model_file_stops_scoring_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.json");
    std::fs::write(&model, "{\"format\": \"warden-model\"").unwrap();
    let output = warden(&["score", "--model", model.to_str().unwrap()], Some(b""));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("model.json") && stderr.contains("not valid JSON"),
        "{stderr}"
    );
}

#[test]
fn train_without_its_data_says_which_file_is_missing_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model.json");
    let output = warden(
        &[
            "train",
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read") && stderr.contains("SMSSpamCollection"),
        "{stderr}"
    );
    assert!(!out.exists(), "no model file on failure");
}

#[test]
fn transparency_report_reads_a_period_from_the_database_and_refuses_a_bad_date() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("warden.db").display());
    let report = |from: &str, to: &str, format: &[&str]| {
        let mut args = vec!["transparency", "report", "--database-url", &url];
        args.extend(["--from", from, "--to", to]);
        args.extend(format);
        warden(&args, None)
    };
    let (from, to) = ("2026-11-01", "2026-12-01T00:00:00Z");
    let text = report(from, to, &[]);
    assert!(
        text.status.success(),
        "{}",
        String::from_utf8_lossy(&text.stderr)
    );
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("2026-11-01 to 2026-12-01T00:00:00Z"),
        "{text}"
    );
    assert!(text.contains("appeals: 0 received, 0 decided"), "{text}");
    let json: serde_json::Value =
        serde_json::from_slice(&report(from, to, &["--json"]).stdout).unwrap();
    assert_eq!(json["appeals"]["received"], 0);
    assert_eq!(json["decisions"], serde_json::json!([]));
    let csv = String::from_utf8_lossy(&report(from, to, &["--csv"]).stdout).into_owned();
    assert!(csv.starts_with("section,key,value\n"), "{csv}");

    // A bad date, and a period that ends before it starts, are refused with the reason.
    for (from, to, reason) in [
        (
            "November",
            "2026-12-01",
            "--from \"November\" is neither a date",
        ),
        ("2026-12-01", "2026-11-01", "must be before --to"),
    ] {
        let refused = report(from, to, &[]);
        assert!(!refused.status.success());
        let error = String::from_utf8_lossy(&refused.stderr);
        assert!(error.contains(reason), "{error}");
    }
}

/// A case of `status` for account `AC<n>` opened at `at` (Unix ms), with one piece of evidence
/// that `rule` hit.
fn ladder_case(
    n: usize,
    status: warden::store::CaseStatus,
    ends_at: Option<i64>,
    rule: &str,
    at: i64,
) -> warden::store::NewCase {
    use warden::message::{AccountId, Action, MessageId, RuleId, Scores};
    let message = format!("SM{n:06}");
    warden::store::NewCase {
        account_id: AccountId::parse("account_id", format!("AC{n:06}")).unwrap(),
        trigger_message_id: message.clone(),
        status,
        reasons: vec![warden::store::StoredReason {
            code: "repeated_blocked_messages".into(),
            description: "Several of the account's messages within an hour were blocked".into(),
        }],
        scores: Scores {
            spam: 0.0,
            fraud: 0.97,
            aup: 0.0,
        },
        model_version: None,
        rules_version: "r1".into(),
        evidence: vec![warden::store::Evidence {
            message_id: MessageId::parse("message_id", message).unwrap(),
            excerpt: "Pay the fee at [link]".into(),
            rule_hits: vec![RuleId::new(rule)],
            action: Action::Block,
            sent_at: at - 1_000,
        }],
        actor: warden::store::Actor::Automated,
        at,
        strikes: 1,
        ends_at,
        policy_url: None,
    }
}

#[test]
fn transparency_export_writes_valid_batches_of_statements_for_restrictions_and_suspensions() {
    use warden::store::CaseStatus;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("warden.db").display());
    // 2026-11-30: 101 restrictions for phishing, one suspension for hate speech, one warning.
    let day = 1_796_000_000_000_i64;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let case_ids: Vec<String> = runtime.block_on(async {
        let store = warden::store::Store::connect(&url).await.unwrap();
        let mut cases: Vec<_> = (0..101)
            .map(|n| {
                ladder_case(
                    n,
                    CaseStatus::Suspended,
                    Some(day + 86_400_000),
                    "fraud.delivery_fee",
                    day + n as i64,
                )
            })
            .collect();
        cases.push(ladder_case(
            101,
            CaseStatus::Suspended,
            None,
            "aup.hate_threat",
            day + 200,
        ));
        cases.push(ladder_case(
            102,
            CaseStatus::Warned,
            None,
            "spam.replicas",
            day + 300,
        ));
        for case in &cases {
            store.open_case(case, &[]).await.unwrap();
        }
        // A message blocked for its content, recorded as the stream records verdicts.
        let verdict = r#"{"message_id":"SM900001","account_id":"AC900001","action":"block","scores":{"spam":0.0,"fraud":0.95,"aup":0.0},"rule_hits":["fraud.delivery_fee"],"model_version":null,"rules_version":"r1","decided_at":"2026-11-30T09:00:00Z"}"#;
        store
            .record_verdicts(&[("SM900001", verdict)], day + 500)
            .await
            .unwrap();
        cases[..102]
            .iter()
            .map(|c| c.case_id().to_string())
            .collect()
    });
    let export = |since: &str, until: &str| {
        warden(
            &[
                "transparency",
                "export",
                "--database-url",
                &url,
                "--since",
                since,
                "--until",
                until,
            ],
            None,
        )
    };
    let output = export("2026-11-30", "2026-12-01");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let sizes: Vec<usize> = lines
        .iter()
        .map(|l| l["statements"].as_array().unwrap().len())
        .collect();
    assert_eq!(
        sizes,
        [100, 2],
        "a batch holds at most 100; the warning is no statement"
    );
    let statements: Vec<&serde_json::Value> = lines
        .iter()
        .flat_map(|l| l["statements"].as_array().unwrap())
        .collect();
    for statement in &statements {
        assert_eq!(
            warden::statements::problems(statement),
            Vec::<String>::new(),
            "{statement}"
        );
        assert!(
            !statement.to_string().contains("AC0"),
            "no account id: {statement}"
        );
    }
    let puids: Vec<&str> = statements
        .iter()
        .map(|s| s["puid"].as_str().unwrap())
        .collect();
    assert_eq!(
        puids, case_ids,
        "one statement per case, named by it, oldest first"
    );
    let restriction = statements[0];
    assert_eq!(
        restriction["category"],
        "STATEMENT_CATEGORY_SCAMS_AND_FRAUD"
    );
    assert_eq!(
        restriction["category_specification"],
        serde_json::json!(["KEYWORD_PHISHING"])
    );
    assert_eq!(restriction["end_date_account_restriction"], "2026-12-01");
    assert_eq!(
        restriction["automated_decision"],
        "AUTOMATED_DECISION_FULLY"
    );
    let suspension = statements[101];
    assert_eq!(
        suspension["category"],
        "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH"
    );
    assert!(suspension.get("end_date_account_restriction").is_none());

    // With `block` reported, the blocked message has its statement too.
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/policy.toml"),
    )
    .unwrap();
    let policy = dir.path().join("policy.toml");
    let with_blocks = shipped.replace(
        r#"report = ["restrict", "suspend"]"#,
        r#"report = ["restrict", "suspend", "block"]"#,
    );
    assert_ne!(
        with_blocks, shipped,
        "config/policy.toml has no [statements] report"
    );
    std::fs::write(&policy, with_blocks).unwrap();
    let policy_arg = ["--policy", policy.to_str().unwrap()];
    let mut args = vec!["transparency", "export", "--database-url", &url];
    args.extend(["--since", "2026-11-30", "--until", "2026-12-01"]);
    args.extend(policy_arg);
    let output = warden(&args, None);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let last_line = String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let last: serde_json::Value = serde_json::from_str(&last_line).unwrap();
    let blocked = last["statements"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(blocked["puid"], "msg-SM900001");
    assert_eq!(
        blocked["decision_visibility"],
        serde_json::json!(["DECISION_VISIBILITY_CONTENT_REMOVED"])
    );
    assert_eq!(warden::statements::problems(&blocked), Vec::<String>::new());

    // A period with nothing in it writes nothing; a bad one is refused with the reason.
    let empty = export("2026-10-01", "2026-11-01");
    assert!(empty.status.success() && empty.stdout.is_empty());
    let refused = export("2026-12-01", "2026-11-01");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("must be before --until"));
}

#[test]
fn rules_diff_names_the_rules_a_candidate_adds_removes_and_changes() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    std::fs::copy(shipped.join("brands.toml"), dir.path().join("brands.toml")).unwrap();
    let source = std::fs::read_to_string(shipped.join("rules.toml")).unwrap();
    // Remove spam.replicas, raise fraud.delivery_fee's weight, add a shadow rule.
    let start = source.find("[[rule]]\nid = \"spam.replicas\"").unwrap();
    let end = start + 1 + source[start + 1..].find("[[rule]]").unwrap();
    let mut candidate = format!("{}{}", &source[..start], &source[end..]);
    let fee = candidate.find("id = \"fraud.delivery_fee\"").unwrap();
    let weight = fee + candidate[fee..].find("\nweight = ").unwrap() + 1;
    let line_end = weight + candidate[weight..].find('\n').unwrap();
    candidate.replace_range(weight..line_end, "weight = 0.99");
    candidate.push_str(
        "\n[[rule]]\nid = \"spam.keys_shadow\"\ncategory = \"spam\"\nseverity = \"low\"\n\
         weight = 0.9\nmode = \"shadow\"\ndescription = \"A candidate\"\n\
         keywords = [\"bring the keys\"]\nexamples.match = [\"bring the keys\"]\n\
         examples.no_match = [\"hello\"]\n",
    );
    let candidate_path = dir.path().join("candidate.toml");
    std::fs::write(&candidate_path, &candidate).unwrap();
    let shipped_rules = shipped.join("rules.toml");
    let output = warden(
        &[
            "rules",
            "diff",
            shipped_rules.to_str().unwrap(),
            candidate_path.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(
        lines,
        [
            "added (1): spam.keys_shadow",
            "removed (1): spam.replicas",
            "changed (1): fraud.delivery_fee (weight)",
        ],
        "{text}"
    );

    // A broken candidate is refused with its line and reason.
    std::fs::write(
        &candidate_path,
        candidate.replace("weight = 0.99", "weight = 7"),
    )
    .unwrap();
    let refused = warden(
        &[
            "rules",
            "diff",
            shipped_rules.to_str().unwrap(),
            candidate_path.to_str().unwrap(),
        ],
        None,
    );
    assert!(!refused.status.success());
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(
        error.contains("fraud.delivery_fee") && error.contains("line"),
        "{error}"
    );
}

/// `count` messages of `body` from each of `accounts`, a minute apart, each to its own
/// recipient, as JSON lines.
fn recorded_messages(accounts: std::ops::Range<usize>, count: usize, body: &str) -> String {
    let mut lines = String::new();
    for account in accounts {
        for seq in 0..count {
            let record = serde_json::json!({
                "message_id": format!("SM{account:04}-{seq}"), "account_id": format!("AC{account:04}"),
                "sent_at": format!("2026-11-28T17:{seq:02}:05Z"), "channel": "sms",
                "to": format!("+1415555{seq:04}"), "body": body,
            });
            lines += &format!("{record}\n");
        }
    }
    lines
}

#[test]
fn a_backtest_reports_what_a_candidate_changes_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let source = std::fs::read_to_string(shipped.join("rules.toml")).unwrap();
    let mut input = recorded_messages(0..30, 3, "hello there, how are you");
    input += &recorded_messages(
        30..35,
        6,
        "Replica Rolex, Omega and Cartier watches from £89, free UK delivery. Order at www.luxury-watches-uk.com",
    );
    input += "{not json\n";
    std::fs::write(dir.path().join("messages.jsonl"), input).unwrap();
    // One candidate adds a rule that matches a greeting; the other removes spam.replicas.
    let greeting = source.clone()
        + "\n[[rule]]\nid = \"fraud.greeting_oops\"\ncategory = \"fraud\"\nseverity = \"high\"\n\
           weight = 0.95\ndescription = \"A bad rule\"\nkeywords = [\"hello there\"]\n\
           examples.match = [\"hello there\"]\nexamples.no_match = [\"goodbye\"]\n";
    let start = source.find("[[rule]]\nid = \"spam.replicas\"").unwrap();
    let end = start + 1 + source[start + 1..].find("[[rule]]").unwrap();
    let without_replicas = format!("{}{}", &source[..start], &source[end..]);
    for (name, text) in [
        ("greeting.toml", &greeting),
        ("without.toml", &without_replicas),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let files_before: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let reports = tempfile::tempdir().unwrap();
    let html = |candidate: &str| reports.path().join(format!("{candidate}.html"));
    let labels = reports.path().join("labels.tsv");
    let backtest = |candidate: &str| -> serde_json::Value {
        let output = Command::new(env!("CARGO_BIN_EXE_warden"))
            .args([
                "backtest",
                "--input",
                "messages.jsonl",
                "--rules",
                candidate,
                "--rules-only",
                "--json",
            ])
            .args(labels.exists().then_some("--labels"))
            .args(labels.exists().then_some(&labels))
            .arg("--html")
            .arg(html(candidate))
            .arg("--current-rules")
            .arg(shipped.join("rules.toml"))
            .arg("--current-policy")
            .arg(shipped.join("policy.toml"))
            .arg("--policy")
            .arg(shipped.join("policy.toml"))
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    };

    // The greeting rule blocks every greeting, suspends their senders, and trips the breaker.
    let report = backtest("greeting.toml");
    assert_eq!(
        (report["messages"].as_u64(), report["undecodable"].as_u64()),
        (Some(120), Some(1))
    );
    assert_eq!(
        report["changed"]["allow -> block"]["messages"], 90,
        "{report}"
    );
    assert_eq!(report["changed"].as_object().unwrap().len(), 1, "{report}");
    assert_eq!(
        report["rule_hits"]["fraud.greeting_oops"],
        serde_json::json!([0, 90])
    );
    assert_eq!(report["current"]["breaker_tripped"], false);
    assert_eq!(report["candidate"]["breaker_tripped"], true, "{report}");
    assert_eq!(
        report["accounts"]["none -> suspend"]["accounts"], 20,
        "{report}"
    );
    assert_eq!(
        report["candidate"]["sent_to_review"], 10,
        "after the trip: {report}"
    );

    // Removing spam.replicas changes exactly the messages it flagged, and the warnings they
    // earned.
    let report = backtest("without.toml");
    assert_eq!(
        report["changed"]["flag -> allow"]["messages"], 30,
        "{report}"
    );
    assert_eq!(report["changed"].as_object().unwrap().len(), 1, "{report}");
    assert_eq!(
        report["rule_hits"],
        serde_json::json!({"spam.replicas": [30, 0]})
    );
    assert_eq!(
        report["accounts"]["warn -> none"]["accounts"], 5,
        "{report}"
    );
    let excerpt = report["changed"]["flag -> allow"]["excerpts"][0]
        .as_str()
        .unwrap();
    assert!(excerpt.starts_with("Replica Rolex"), "{excerpt}");
    // With reviewers' labels (the greeting legitimate, the replica watches spam), each side's
    // precision and recall on them: the greeting rule costs precision, not recall.
    std::fs::write(
        &labels,
        format!("# reviewers\nham\thello there, how are you\nspam\t{excerpt}\n"),
    )
    .unwrap();
    let report = backtest("greeting.toml");
    let scores = |side: usize| {
        let side = &report["labels"][side];
        (
            side["precision"].as_f64(),
            side["recall"].as_f64(),
            side["ham_flagged"].as_u64(),
        )
    };
    assert_eq!(scores(0), (Some(1.0), Some(1.0), Some(0)), "{report}");
    assert_eq!(scores(1), (Some(0.25), Some(1.0), Some(90)), "{report}");
    std::fs::remove_file(&labels).unwrap();

    // The HTML report says the same, with its chart, and shows excerpts as text.
    let page = std::fs::read_to_string(html("greeting.toml")).unwrap();
    assert!(page.contains("<svg") && page.contains("TRIPPED"), "{page}");
    assert!(page.contains("<th scope=\"row\">allow -&gt; block</th><td class=\"n\">90</td>"));

    // Nothing was written beside the inputs (no store, no data directory).
    let files_after: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files_after, files_before);
}

#[test]
fn a_backtest_takes_a_candidate_model_and_refuses_a_damaged_one() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::write(
        dir.path().join("messages.jsonl"),
        recorded_messages(
            0..5,
            3,
            "Your parcel is held: pay the £1.99 fee at royalmail-fees.top",
        ),
    )
    .unwrap();
    let shipped = std::fs::read_to_string(root.join("models/warden.json")).unwrap();
    std::fs::write(dir.path().join("same.json"), &shipped).unwrap();
    std::fs::write(
        dir.path().join("damaged.json"),
        &shipped[..shipped.len() / 2],
    )
    .unwrap();
    let backtest = |candidate_model: &str| {
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(["backtest", "--input", "messages.jsonl", "--json"])
            .args(["--candidate-model", candidate_model])
            .arg("--model")
            .arg(root.join("models/warden.json"))
            .arg("--current-rules")
            .arg(root.join("config/rules.toml"))
            .arg("--current-policy")
            .arg(root.join("config/policy.toml"))
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    // The same model as a candidate changes nothing.
    let same = backtest("same.json");
    assert!(
        same.status.success(),
        "{}",
        String::from_utf8_lossy(&same.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&same.stdout).unwrap();
    assert_eq!(report["messages"], 15, "{report}");
    assert_eq!(report["changed"], serde_json::json!({}), "{report}");
    assert_eq!(report["current"]["actions"], report["candidate"]["actions"]);
    // A damaged one is refused before anything runs, naming the file.
    let damaged = backtest("damaged.json");
    assert!(!damaged.status.success());
    let error = String::from_utf8_lossy(&damaged.stderr);
    assert!(error.contains("damaged.json"), "{error}");
}
