//! Any bytes on `messages` or `message-feedback`: decoding never panics, and whatever decodes
//! is scored (normalization, extraction, rules and model) without panicking.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;
use warden::message::{FeedbackEvent, MessageEvent};
use warden::scoring::{Scorer, Scratch};

static SCORER: LazyLock<Scorer> = LazyLock::new(|| {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    warden::config::load_scorer(
        &root.join("config/rules.toml"),
        &root.join("config/policy.toml"),
        Some(&root.join("models/warden.json")),
    )
    .expect("the shipped scorer loads")
});

fuzz_target!(|data: &[u8]| {
    let _ = FeedbackEvent::decode(data);
    if let Ok(event) = MessageEvent::decode(data) {
        let mut scratch = Scratch::new();
        let _ = SCORER.verdict_with_assessment(&event, &mut scratch, OffsetDateTime::UNIX_EPOCH);
    }
});
