//! The store's behaviour, the same test bodies against SQLite and PostgreSQL.
//!
//! PostgreSQL tests need `WARDEN_TEST_DATABASE_URL` (e.g.
//! `postgres://warden:warden@127.0.0.1:5432/warden_test`); each test works in a fresh schema.
//! Without it they are skipped with a note, unless `WARDEN_REQUIRE_POSTGRES=1` (as in CI).

mod common;

use common::database::{Backend, fresh};
use warden::message::Scores;
use warden::privacy::excerpt;
use warden::store::{BreakerEvent, CaseStatus, Evidence, NewCase, Opening, Store, StoredReason};

/// Runs one async test body against both backends.
macro_rules! store_test {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let (store, _dir) = fresh(Backend::Sqlite, stringify!($name)).await.unwrap();
                ($body)(store).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some((store, _)) = fresh(Backend::Postgres, stringify!($name)).await {
                    ($body)(store).await;
                }
            }
        }
    };
}

fn new_case(account: &str, trigger: &str, at: i64) -> NewCase {
    NewCase {
        account_id: account.into(),
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
            message_id: trigger.into(),
            excerpt: excerpt("Pay now at royalmail-fees.top, or call +44 7911 123456"),
            rule_hits: vec!["fraud.delivery_failed_link".into()],
            action: "block".into(),
            sent_at: at,
        }],
        actor: "automated".into(),
        at,
    }
}

store_test!(
    a_replayed_decision_opens_one_case_with_one_audit_entry,
    |store: Store| async move {
        let case = new_case("AC1", "SM1", 1_000);
        let Opening::Opened { case_id } = store.open_case(&case).await.unwrap() else {
            panic!("the first opening opens");
        };
        // The same decision replayed, and a later trigger while the case is active.
        assert_eq!(
            store.open_case(&case).await.unwrap(),
            Opening::AlreadyActive {
                case_id: case_id.clone()
            }
        );
        assert_eq!(
            store
                .open_case(&new_case("AC1", "SM2", 2_000))
                .await
                .unwrap(),
            Opening::AlreadyActive {
                case_id: case_id.clone()
            }
        );
        let log = store.audit_log("AC1").await.unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].action, "suspend");
        assert_eq!(log[0].actor, "automated");
        assert_eq!(log[0].detail, "repeated_blocked_messages");

        let stored = store.case(&case_id).await.unwrap().unwrap();
        assert_eq!(stored.status, CaseStatus::Suspended);
        assert_eq!(stored.reasons, case.reasons);
        assert_eq!(
            store.active_case("AC1").await.unwrap().unwrap().case_id,
            case_id
        );
        assert!(store.active_case("AC2").await.unwrap().is_none());
    }
);

store_test!(
    evidence_is_stored_as_given_and_holds_no_raw_number,
    |store: Store| async move {
        let case = new_case("AC1", "SM1", 1_000);
        let Opening::Opened { case_id } = store.open_case(&case).await.unwrap() else {
            panic!("opened");
        };
        let evidence = store.evidence(&case_id).await.unwrap();
        assert_eq!(evidence, case.evidence);
        assert!(
            evidence[0].excerpt.contains("+## #### ######"),
            "{:?}",
            evidence[0]
        );
    }
);

store_test!(
    concurrent_openings_for_one_account_open_one_case,
    |store: Store| async move {
        let openings = futures::future::join_all((0..8).map(|i| {
            let store = store.clone();
            async move {
                store
                    .open_case(&new_case("AC9", &format!("SM{i}"), i))
                    .await
            }
        }))
        .await;
        let opened = openings
            .iter()
            .filter(|o| matches!(o, Ok(Opening::Opened { .. })))
            .count();
        assert_eq!(opened, 1, "{openings:?}");
        assert_eq!(store.audit_log("AC9").await.unwrap().len(), 1);
    }
);

store_test!(
    a_processed_message_is_recorded_once,
    |store: Store| async move {
        assert!(store.mark_processed("SM1", 1).await.unwrap());
        assert!(!store.mark_processed("SM1", 2).await.unwrap());
        assert!(store.mark_processed("SM2", 3).await.unwrap());
    }
);

store_test!(
    signal_checkpoints_upsert_and_expire,
    |store: Store| async move {
        let high_bit_key = u64::MAX - 7;
        store
            .save_signals(&[(1, vec![1, 2, 3]), (high_bit_key, vec![4])], 1_000)
            .await
            .unwrap();
        store.save_signals(&[(1, vec![9])], 5_000).await.unwrap();
        let mut loaded = store.load_signals(0).await.unwrap();
        loaded.sort();
        assert_eq!(loaded, vec![(1, vec![9]), (high_bit_key, vec![4])]);
        // Checkpoints older than `since` are deleted, not loaded.
        assert_eq!(store.load_signals(2_000).await.unwrap(), vec![(1, vec![9])]);
        assert_eq!(store.load_signals(0).await.unwrap(), vec![(1, vec![9])]);
    }
);

store_test!(
    the_breaker_state_is_its_latest_event,
    |store: Store| async move {
        assert_eq!(store.breaker_state().await.unwrap(), None);
        let trip = BreakerEvent {
            at: 1_000,
            tripped: true,
            actor: "automated".into(),
            detail: "surge".into(),
        };
        store.record_breaker(&trip).await.unwrap();
        // Recorded twice (a retry) is recorded once.
        store.record_breaker(&trip).await.unwrap();
        assert_eq!(store.breaker_state().await.unwrap(), Some(trip.clone()));
        let reset = BreakerEvent {
            at: 2_000,
            tripped: false,
            actor: "admin:alice".into(),
            detail: "bad rule rolled back".into(),
        };
        store.record_breaker(&reset).await.unwrap();
        assert_eq!(store.breaker_state().await.unwrap(), Some(reset));
        let again = BreakerEvent { at: 3_000, ..trip };
        store.record_breaker(&again).await.unwrap();
        assert_eq!(store.breaker_state().await.unwrap(), Some(again));
    }
);
