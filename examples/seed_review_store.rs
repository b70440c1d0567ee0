//! Seeds a store with suspended cases that each carry an open appeal, for measuring the review
//! API under a realistic backlog (`scripts/review-load.sh`).
//!
//!     cargo run --release --example seed_review_store -- sqlite:///tmp/review.db 10000

use warden::message::{AccountId, Action, MessageId, RuleId, Scores};
use warden::privacy::excerpt;
use warden::store::{Actor, CaseStatus, Evidence, NewCase, Store, StoredReason};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: seed_review_store DATABASE_URL CASES")?;
    let cases: usize = args
        .next()
        .ok_or("usage: seed_review_store DATABASE_URL CASES")?
        .parse()?;
    let store = Store::connect(&url).await?;
    let start = 1_795_996_800_000_i64;
    for i in 0..cases {
        let at = start + i as i64 * 1_000;
        let case = NewCase {
            account_id: AccountId::parse("account_id", format!("ACload{i:06}"))?,
            trigger_message_id: format!("SMload{i:06}"),
            status: CaseStatus::Suspended,
            reasons: vec![StoredReason {
                code: "repeated_blocked_messages".into(),
                description: "Several of the account's messages within an hour were blocked".into(),
            }],
            scores: Scores { spam: 0.2, fraud: 0.97, aup: 0.0 },
            model_version: Some("load".into()),
            rules_version: "load".into(),
            evidence: (0..3)
                .map(|m| Evidence {
                    message_id: MessageId::parse("message_id", format!("SMload{i:06}-{m}"))
                        .expect("a well-formed id"),
                    excerpt: excerpt("Your parcel is held: pay the fee at royalmail-fees.top/pay or call 07911 123456"),
                    rule_hits: vec![
                        RuleId::new("fraud.delivery_fee"),
                        RuleId::new("fraud.lookalike_delivery"),
                    ],
                    action: Action::Block,
                    sent_at: at - m * 10_000,
                })
                .collect(),
            actor: Actor::Automated,
            at,
            strikes: 3,
            ends_at: None,
            policy_url: None,
        };
        store.open_case(&case, &[]).await?;
        let stored = store
            .case(&case.case_id())
            .await?
            .ok_or("the case was just opened")?;
        store
            .open_appeal(
                &stored,
                "These were my own customers' delivery notices",
                at + 60_000,
                &[],
            )
            .await?;
    }
    println!("{cases} suspended cases with open appeals in {url}");
    Ok(())
}
