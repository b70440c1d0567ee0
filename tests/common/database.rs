//! A fresh database per test: a new SQLite file, or a new schema in the PostgreSQL server
//! named by `WARDEN_TEST_DATABASE_URL`. Without that variable PostgreSQL tests are skipped
//! with a note, unless `WARDEN_REQUIRE_POSTGRES=1` (as in CI).

use warden::message::{AccountId, Action, MessageId, RuleId, Scores};
use warden::privacy::excerpt;
use warden::store::{Actor, CaseStatus, Evidence, NewCase, Store, StoredReason};

/// A fresh store per test: a new SQLite file, or a new PostgreSQL schema.
pub enum Backend {
    Sqlite,
    Postgres,
}

pub async fn fresh(backend: Backend, test: &str) -> Option<(Store, Option<tempfile::TempDir>)> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("warden.db").display());
            Some((Store::connect(&url).await.unwrap(), Some(dir)))
        }
        Backend::Postgres => {
            let Ok(base) = std::env::var("WARDEN_TEST_DATABASE_URL") else {
                if std::env::var_os("WARDEN_REQUIRE_POSTGRES").is_some_and(|v| v == "1") {
                    panic!("WARDEN_TEST_DATABASE_URL is unset and WARDEN_REQUIRE_POSTGRES=1");
                }
                eprintln!("skipped: WARDEN_TEST_DATABASE_URL is unset (PostgreSQL store tests)");
                return None;
            };
            // PostgreSQL cuts names at 63 bytes: a short unique one, not the test's name.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            let unique = xxhash_rust::xxh3::xxh3_64(format!("{test}|{nanos}").as_bytes());
            let schema = format!("t_{unique:016x}");
            sqlx::any::install_default_drivers();
            let admin = sqlx::AnyPool::connect(&base).await.unwrap();
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&admin)
                .await
                .unwrap();
            let separator = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
            Some((Store::connect(&url).await.unwrap(), None))
        }
    }
}

/// The account id `raw`, which tests write well formed.
pub fn account(raw: &str) -> AccountId {
    AccountId::parse("account_id", raw.into()).unwrap()
}

/// An automated suspension of `account`, triggered by message `trigger` at `at` (Unix ms), with
/// one redacted excerpt as evidence.
pub fn new_case(account: &str, trigger: &str, at: i64) -> NewCase {
    NewCase {
        account_id: self::account(account),
        trigger_message_id: trigger.into(),
        status: CaseStatus::Suspended,
        reasons: vec![StoredReason {
            code: "repeated_blocked_messages".into(),
            description: "Several messages were blocked".into(),
        }],
        scores: Scores {
            spam: 0.1,
            fraud: 0.97,
            aup: 0.0,
        },
        model_version: Some("m1".into()),
        rules_version: "r1".into(),
        evidence: vec![Evidence {
            message_id: MessageId::parse("message_id", trigger.into()).unwrap(),
            excerpt: excerpt("Pay now at royalmail-fees.top, or call +44 7911 123456"),
            rule_hits: vec![RuleId::new("fraud.delivery_failed_link")],
            action: Action::Block,
            sent_at: at,
        }],
        actor: Actor::Automated,
        at,
        strikes: 3,
        ends_at: None,
        policy_url: None,
    }
}
