//! Hostile text stays cheap: bodies built to be slow to score (one repeated character, deep
//! Unicode combining sequences, thousands of URLs, emails or phone numbers, pathological input
//! for the rules' regexes) cost at most 10× what an ordinary message costs, byte for byte.
//!
//! Cost is work, not wall time: the instructions `Scorer::assess` executes for each message,
//! counted by callgrind (valgrind), which counts the same whatever else the machine does. A
//! 64 KiB body is 800 times an SMS, so the bound is per byte: the median over the hand-written
//! corpus of instructions per byte, times 10, times the body's length. Quadratic work anywhere
//! in normalization, extraction, the rules or the model breaks it long before 64 KiB.
//!
//! Needs `valgrind`; skips with a note when it is absent, unless `WARDEN_REQUIRE_VALGRIND=1`
//! (as in CI).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use warden::message::MAX_BODY_BYTES;

/// How much more per byte a hostile body may cost than the median ordinary message.
const BOUND: f64 = 10.0;

/// The function whose every call callgrind counts, and dumps after: one message's scoring.
const SCORING_FUNCTION: &str = "warden::scoring::Scorer::assess";

#[test]
fn hostile_bodies_cost_at_most_ten_times_an_ordinary_message_per_byte() {
    if !valgrind_available() {
        return;
    }
    let corpus = corpus_texts();
    let hostile = hostile_bodies(&corpus);
    let bodies: Vec<&str> = corpus
        .iter()
        .map(String::as_str)
        .chain(hostile.iter().map(|(_, body)| body.as_str()))
        .collect();
    let counts = instructions_per_message(&bodies, &[]);

    let mut per_byte: Vec<f64> = corpus
        .iter()
        .zip(&counts)
        .map(|(text, &count)| count as f64 / text.len() as f64)
        .collect();
    per_byte.sort_by(f64::total_cmp);
    let median = per_byte[per_byte.len() / 2];
    println!(
        "ordinary messages: {} of them, median {median:.0} instructions per byte",
        corpus.len()
    );

    let mut over = Vec::new();
    for ((name, body), &count) in hostile.iter().zip(&counts[corpus.len()..]) {
        let ratio = count as f64 / body.len() as f64 / median;
        println!(
            "{name:<28} {:>6} bytes {count:>12} instructions {ratio:>5.2}× the median per byte",
            body.len()
        );
        if ratio > BOUND {
            over.push(format!("{name}: {ratio:.1}×"));
        }
    }
    assert!(
        over.is_empty(),
        "over {BOUND}× the median cost per byte: {over:?}"
    );
}

/// A rule written carelessly, `.*` after a common word, would make each occurrence of the word
/// read to the end of the message: quadratic time on a body repeating the word. Matching tries a
/// rule anchored at only a few occurrences, then searches the rest once.
#[test]
fn a_careless_rule_cannot_make_scoring_quadratic() {
    if !valgrind_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        r#"
[[rule]]
id = "spam.careless"
category = "spam"
severity = "low"
weight = 0.5
description = "A winner who is then told to reply"
pattern = '\bwinner\b.*\breply\b'
examples.match = ["winner! to claim, reply yes"]
examples.no_match = ["the winner was announced"]
"#,
    )
    .unwrap();
    let corpus = corpus_texts();
    let ordinary = fill(|i| format!("{} ", corpus[i % corpus.len()]));
    let repeated = fill(|_| "winner ".into());
    let rules_arg = rules.to_str().unwrap();
    let counts = instructions_per_message(
        &[&ordinary, &repeated],
        &["--rules-only", "--rules", rules_arg],
    );
    let ratio = counts[1] as f64 / counts[0] as f64;
    println!(
        "64 KiB of ordinary messages: {} instructions; `winner ` repeated: {} ({ratio:.2}×)",
        counts[0], counts[1]
    );
    assert!(
        ratio <= BOUND,
        "the repeated literal costs {ratio:.1}× ordinary text"
    );
}

fn valgrind_available() -> bool {
    let found = Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("WARDEN_REQUIRE_VALGRIND").is_none_or(|v| v != "1"),
            "valgrind is not installed and WARDEN_REQUIRE_VALGRIND=1"
        );
        eprintln!("skipped: valgrind is not installed (Debian package `valgrind`)");
    }
    found
}

/// The hand-written corpus's texts: ordinary traffic, legitimate and abusive.
fn corpus_texts() -> Vec<String> {
    common::corpus()
        .into_iter()
        .map(|row| row.text.to_owned())
        .collect()
}

/// Bodies built to be slow, each as long as a body may be, with a name for the report.
fn hostile_bodies(corpus: &[String]) -> Vec<(&'static str, String)> {
    let abusive: Vec<&str> = common::corpus()
        .into_iter()
        .filter(|row| row.label != "ham")
        .map(|row| row.text)
        .collect();
    let words: Vec<&str> = abusive.iter().flat_map(|t| t.split(' ')).collect();
    // A fixed pseudo-random walk over the abusive messages' words (64-bit LCG).
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next_word = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        words[(state >> 33) as usize % words.len()]
    };
    vec![
        ("one repeated letter", fill(|_| "a".into())),
        ("one repeated digit", fill(|_| "9".into())),
        ("spaces", fill(|_| " ".into())),
        ("dots", fill(|_| ".".into())),
        ("at signs", fill(|_| "a@".into())),
        ("capitals and bangs", fill(|_| "FREE!!! ".into())),
        ("leetspeak", fill(|_| "fr33 c4$h pr1z3 ".into())),
        (
            "one deep combining sequence",
            fill(|i| if i == 0 { "a" } else { "\u{301}" }.into()),
        ),
        (
            "combining clusters",
            fill(|_| format!("e{}", "\u{301}".repeat(1000))),
        ),
        ("zero-width joiners", fill(|_| "a\u{200d}".into())),
        ("emoji", fill(|_| "\u{1f600}".into())),
        ("thousands of URLs", fill(|i| format!("http://x{i}.co/a "))),
        (
            "thousands of lookalike URLs",
            fill(|i| format!("https://paypa1-secure-{i}.com/login ")),
        ),
        ("one huge URL", {
            let mut url = fill(|i| if i == 0 { "http://" } else { "a" }.into());
            url.replace_range(url.len() - 4.., ".com");
            url
        }),
        (
            "thousands of emails",
            fill(|i| format!("user{i}@mail{i}.com ")),
        ),
        (
            "thousands of phone numbers",
            fill(|i| format!("+1 415 555 {:04} ", i % 10_000)),
        ),
        ("thousands of prices", fill(|i| format!("£{i},000 "))),
        (
            "abusive messages repeated",
            fill(|i| format!("{} ", abusive[i % abusive.len()])),
        ),
        (
            "halves of abusive messages",
            fill(|i| {
                let text = abusive[i % abusive.len()];
                let half = (0..=text.len() / 2)
                    .rev()
                    .find(|&at| text.is_char_boundary(at));
                format!("{} ", &text[..half.unwrap_or(0)])
            }),
        ),
        (
            "abusive words shuffled",
            fill(|_| format!("{} ", next_word())),
        ),
        (
            "ordinary messages repeated",
            fill(|i| format!("{} ", corpus[i % corpus.len()])),
        ),
    ]
}

/// `piece(0) + piece(1) + …` cut to the longest body allowed, on a character boundary.
fn fill(mut piece: impl FnMut(usize) -> String) -> String {
    let mut body = String::with_capacity(MAX_BODY_BYTES + 64);
    let mut i = 0;
    while body.len() < MAX_BODY_BYTES {
        body.push_str(&piece(i));
        i += 1;
    }
    let mut end = MAX_BODY_BYTES;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    body.truncate(end);
    body
}

/// Instructions `Scorer::assess` executed for each body, in order: `warden score` under
/// callgrind, collecting only inside that function and dumping a profile after each call.
fn instructions_per_message(bodies: &[&str], scoring_args: &[&str]) -> Vec<u64> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("messages.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    for (seq, body) in bodies.iter().enumerate() {
        file.write_all(&common::kafka::message(1, seq, body).1)
            .unwrap();
        file.write_all(b"\n").unwrap();
    }
    file.into_inner().unwrap().sync_all().unwrap();

    let profiles = dir.path().join("profile");
    let mut valgrind = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", profiles.display()))
        .arg(format!("--toggle-collect={SCORING_FUNCTION}"))
        .arg(format!("--dump-after={SCORING_FUNCTION}"))
        .arg(env!("CARGO_BIN_EXE_warden"))
        .args(["score", "--input"])
        .arg(&input)
        .args(scoring_args)
        // The shipped rules, policy and model are found relative to the repository.
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("valgrind starts");
    // Bounded: scoring under valgrind takes about a minute here in a debug build.
    let deadline = Instant::now() + Duration::from_secs(900);
    let status = loop {
        if let Some(status) = valgrind.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            valgrind.kill().unwrap();
            panic!("warden score under callgrind did not finish in 15 minutes");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut log = String::new();
    std::io::Read::read_to_string(&mut valgrind.stderr.take().unwrap(), &mut log).unwrap();
    assert!(
        status.success(),
        "warden score under callgrind failed: {log}"
    );

    (1..=bodies.len())
        .map(|call| profile_total(&dir.path().join(format!("profile.{call}"))))
        .collect()
}

/// The instruction count in one callgrind profile (its `totals:` line).
fn profile_total(path: &Path) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (one profile per scored message was expected: is `{SCORING_FUNCTION}` \
             still the scoring function?)",
            path.display()
        )
    });
    text.lines()
        .find_map(|line| line.strip_prefix("totals: "))
        .and_then(|total| total.trim().parse().ok())
        .unwrap_or_else(|| panic!("{}: no `totals:` line", path.display()))
}
