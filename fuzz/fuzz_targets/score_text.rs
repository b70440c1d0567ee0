//! Any text as a message body: normalization stays idempotent and length-preserving, and
//! extraction, the rules and the model never panic on it.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;
use warden::message::MessageEvent;
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

fuzz_target!(|body: &str| {
    let record = serde_json::json!({
        "message_id": "SMfuzz", "account_id": "ACfuzz", "sent_at": "2026-11-30T00:00:00Z",
        "channel": "sms", "to": "+15550000000", "body": body,
    });
    let Ok(event) = MessageEvent::decode(&serde_json::to_vec(&record).unwrap()) else {
        return; // over the body limit
    };
    let mut scratch = Scratch::new();
    let _ = SCORER.verdict_with_assessment(&event, &mut scratch, OffsetDateTime::UNIX_EPOCH);
});
