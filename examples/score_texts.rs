//! Scores every text of a file through the full path (rules and the shipped model), a number of
//! times, and prints how many were flagged: a fixed workload for instruction counts, which stay
//! repeatable on a loaded machine where wall time does not (`models/README.md`, Speed):
//!
//!     valgrind --tool=callgrind --toggle-collect='*Scorer*assess*' \
//!         target/release/examples/score_texts ../shared/data/sms_spam_collection/SMSSpamCollection 3

use std::path::Path;

use warden::message::Action;
use warden::scoring::Scratch;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: score_texts FILE [PASSES]";
    let file = args.next().ok_or(usage)?;
    let passes: usize = args.next().map_or(Ok(1), |p| p.parse())?;
    let texts: Vec<String> = std::fs::read_to_string(&file)?
        .lines()
        .filter_map(|l| l.rsplit_once('\t').map(|(_, text)| text.to_owned()))
        .collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = root.join("models/warden.json");
    let scorer = warden::config::load_scorer(
        &root.join("config/rules.toml"),
        &root.join("config/policy.toml"),
        Some(&model),
    )?;
    let mut scratch = Scratch::new();
    let mut flagged = 0;
    for _ in 0..passes {
        for text in &texts {
            flagged += usize::from(scorer.assess(text, &mut scratch).action >= Action::Flag);
        }
    }
    println!(
        "{} messages scored, {flagged} flagged",
        texts.len() * passes
    );
    Ok(())
}
