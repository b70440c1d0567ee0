//! Any rules file: it is accepted or refused with reasons, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = warden::rules::RuleSet::compile(text);
});
