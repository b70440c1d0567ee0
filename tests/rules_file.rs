//! The shipped rules file compiles and every rule's examples behave.

use warden::rules::RuleSet;

#[test]
fn shipped_rules_compile_and_pass_their_examples() {
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/rules.toml"))
        .expect("config/rules.toml is readable");
    let rules = RuleSet::compile(&source).unwrap_or_else(|e| panic!("{e}"));
    let unfiltered: Vec<_> = rules.unfiltered_rule_ids().collect();
    assert!(
        unfiltered.is_empty(),
        "rules without a prefilter literal run on every message: {unfiltered:?}"
    );
}
