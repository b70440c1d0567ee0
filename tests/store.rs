//! The store's behaviour, the same test bodies against SQLite and PostgreSQL.
//!
//! PostgreSQL tests need `WARDEN_TEST_DATABASE_URL` (e.g.
//! `postgres://warden:warden@127.0.0.1:5432/warden_test`); each test works in a fresh schema.
//! Without it they are skipped with a note, unless `WARDEN_REQUIRE_POSTGRES=1` (as in CI).

mod common;

use common::database::{Backend, account, fresh, new_case};
use warden::store::{
    Actor, BreakerEvent, CaseId, CaseStatus, Deciding, NewCase, NewDecision, Opening, OutboxEvent,
    OutboxTopic, Outcome, Purged, Retention, Store,
};
use warden::store::{ConsoleSession, QueueCounts, QueueFilter, Releasing};

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

store_test!(
    a_replayed_decision_opens_one_case_with_one_audit_entry,
    |store: Store| async move {
        let case = new_case("AC1", "SM1", 1_000);
        let Opening::Opened { case_id } = store.open_case(&case, &[]).await.unwrap() else {
            panic!("the first opening opens");
        };
        // The same decision replayed, and a later trigger while the case is active.
        assert_eq!(
            store.open_case(&case, &[]).await.unwrap(),
            Opening::AlreadyActive {
                case_id: case_id.clone()
            }
        );
        assert_eq!(
            store
                .open_case(&new_case("AC1", "SM2", 2_000), &[])
                .await
                .unwrap(),
            Opening::AlreadyActive {
                case_id: case_id.clone()
            }
        );
        let log = store.audit_log(&account("AC1")).await.unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].action, "suspend");
        assert_eq!(log[0].actor.to_string(), "automated");
        assert_eq!(log[0].detail, "repeated_blocked_messages");

        let stored = store.case(&case_id).await.unwrap().unwrap();
        assert_eq!(stored.status, CaseStatus::Suspended);
        assert_eq!(stored.reasons, case.reasons);
        assert_eq!(
            store
                .active_case(&account("AC1"))
                .await
                .unwrap()
                .unwrap()
                .case_id,
            case_id
        );
        assert!(store.active_case(&account("AC2")).await.unwrap().is_none());
    }
);

store_test!(
    evidence_is_stored_as_given_and_holds_no_raw_number,
    |store: Store| async move {
        let case = new_case("AC1", "SM1", 1_000);
        let Opening::Opened { case_id } = store.open_case(&case, &[]).await.unwrap() else {
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
                    .open_case(&new_case("AC9", &format!("SM{i}"), i), &[])
                    .await
            }
        }))
        .await;
        let opened = openings
            .iter()
            .filter(|o| matches!(o, Ok(Opening::Opened { .. })))
            .count();
        assert_eq!(opened, 1, "{openings:?}");
        assert_eq!(store.audit_log(&account("AC9")).await.unwrap().len(), 1);
    }
);

store_test!(
    a_verdict_is_recorded_once_and_found_by_its_message_id,
    |store: Store| async move {
        let first = r#"{"message_id":"SM1","action":"block"}"#;
        assert!(store.recorded_verdicts(&["SM1"]).await.unwrap().is_empty());
        let nothing_before = store
            .record_verdicts(&[("SM1", first), ("SM2", r#"{"message_id":"SM2"}"#)], 1)
            .await
            .unwrap();
        assert!(nothing_before.is_empty(), "{nothing_before:?}");

        // Recorded again (a redelivery decided differently), and twice in one batch: the first
        // verdict stays, and is what the caller must produce, for every row of that id.
        let kept = store
            .record_verdicts(
                &[
                    ("SM1", r#"{"message_id":"SM1","action":"allow"}"#),
                    ("SM3", r#"{"message_id":"SM3","n":1}"#),
                    ("SM3", r#"{"message_id":"SM3","n":2}"#),
                ],
                2,
            )
            .await
            .unwrap();
        assert_eq!(kept["SM1"], first);
        assert_eq!(kept["SM3"], r#"{"message_id":"SM3","n":1}"#);

        let found = store
            .recorded_verdicts(&["SM1", "SM3", "SM-unknown"])
            .await
            .unwrap();
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found["SM1"], first);
        assert_eq!(found["SM3"], r#"{"message_id":"SM3","n":1}"#);
    }
);

store_test!(
    a_large_batch_is_recorded_and_found_whole_with_its_ids_escaped,
    |store: Store| async move {
        // Ids and verdicts travel inside one JSON parameter: quotes and backslashes must
        // come back as they went in.
        let ids: Vec<String> = (0..12_000).map(|i| format!("SM\"{i:05}\\")).collect();
        let verdict = r#"{"note":"a \"quoted\" \\ text"}"#;
        let rows: Vec<(&str, &str)> = ids.iter().map(|id| (id.as_str(), verdict)).collect();
        assert!(store.record_verdicts(&rows, 1).await.unwrap().is_empty());
        let all: Vec<&str> = ids.iter().map(String::as_str).collect();
        assert_eq!(
            store.recorded_verdicts(&all).await.unwrap().len(),
            ids.len()
        );
        assert_eq!(
            store.recorded_verdicts(&all[..1]).await.unwrap()[all[0]],
            verdict
        );
        // A conflict on the last row only is still reported, with the first verdict.
        let mut last = rows[11_998..].to_vec();
        last[1].1 = "{}";
        let again = store.record_verdicts(&last, 2).await.unwrap();
        assert_eq!(again.len(), 2);
        assert_eq!(again[all[11_999]], verdict);
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
            actor: Actor::Automated,
            detail: "surge".into(),
        };
        store.record_breaker(&trip).await.unwrap();
        // Recorded twice (a retry) is recorded once.
        store.record_breaker(&trip).await.unwrap();
        assert_eq!(store.breaker_state().await.unwrap(), Some(trip.clone()));
        let reset = BreakerEvent {
            at: 2_000,
            tripped: false,
            actor: Actor::Admin("alice".into()),
            detail: "bad rule rolled back".into(),
        };
        store.record_breaker(&reset).await.unwrap();
        assert_eq!(store.breaker_state().await.unwrap(), Some(reset));
        let again = BreakerEvent { at: 3_000, ..trip };
        store.record_breaker(&again).await.unwrap();
        assert_eq!(store.breaker_state().await.unwrap(), Some(again));
    }
);

store_test!(
    restrictions_end_once_at_their_end_and_strikes_count_until_they_expire_or_are_overturned,
    |store: Store| async move {
        let warning = NewCase {
            status: CaseStatus::Warned,
            strikes: 1,
            ..new_case("AC1", "SM1", 1_000)
        };
        let restriction = NewCase {
            status: CaseStatus::Suspended,
            strikes: 1,
            ends_at: Some(10_000),
            policy_url: Some("https://example.com/terms#spam".into()),
            ..new_case("AC1", "SM2", 2_000)
        };
        for case in [&warning, &restriction] {
            assert!(matches!(
                store.open_case(case, &[]).await.unwrap(),
                Opening::Opened { .. }
            ));
        }
        // A replayed warning writes nothing: one `warn` and one `restrict` in the trail.
        assert!(matches!(
            store.open_case(&warning, &[]).await.unwrap(),
            Opening::AlreadyActive { .. }
        ));
        let actions = |log: &[warden::store::AuditEntry]| -> Vec<String> {
            log.iter().map(|entry| entry.action.clone()).collect()
        };
        let log = store.audit_log(&account("AC1")).await.unwrap();
        assert_eq!(actions(&log), ["warn", "restrict"]);

        // Strikes are read by time: a strike older than the window is not live.
        let strikes = store.strikes_since(0, Some(&account("AC1"))).await.unwrap();
        let strikes: Vec<(i64, u32)> = strikes.iter().map(|(_, at, n)| (*at, *n)).collect();
        assert_eq!(strikes, [(1_000, 1), (2_000, 1)]);
        assert_eq!(store.strikes_since(1_500, None).await.unwrap().len(), 1);

        // Not due a millisecond early; at its end it is lifted, once, with its events.
        assert!(store.due_restrictions(9_999).await.unwrap().is_empty());
        let due = store.due_restrictions(10_000).await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].case_id, restriction.case_id());
        assert_eq!(due[0].ends_at, Some(10_000));
        // The clause its notices link is kept with it, for every later notice.
        assert_eq!(
            due[0].policy_url.as_deref(),
            Some("https://example.com/terms#spam")
        );
        let event = OutboxEvent::new(
            OutboxTopic::AccountActions,
            &account("AC1"),
            r#"{"action":"reinstate"}"#.into(),
        );
        let case_id = restriction.case_id();
        let ended = store
            .end_restriction(&case_id, std::slice::from_ref(&event), 10_000)
            .await
            .unwrap();
        assert!(ended);
        assert!(
            !store
                .end_restriction(&case_id, std::slice::from_ref(&event), 10_001)
                .await
                .unwrap(),
            "a restriction is lifted once"
        );
        let case = store.case(&case_id).await.unwrap().unwrap();
        assert_eq!(case.status, CaseStatus::Ended);
        assert!(store.active_case(&account("AC1")).await.unwrap().is_none());
        let log = store.audit_log(&account("AC1")).await.unwrap();
        let last = log.last().unwrap();
        assert_eq!(
            (last.action.as_str(), last.actor.to_string()),
            ("restriction_ended", "automated:expiry".to_owned())
        );
        let events = store.unsent_events(10).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].payload, event.payload);
        // An ended restriction's strike still counts.
        assert_eq!(
            store
                .strikes_since(0, Some(&account("AC1")))
                .await
                .unwrap()
                .len(),
            2
        );

        // An overturned case's strikes do not.
        store
            .open_case(&new_case("AC2", "SM3", 3_000), &[])
            .await
            .unwrap();
        store
            .manual_reinstate(
                &account("AC2"),
                &Actor::Admin("root".into()),
                "wrong",
                4_000,
                |_| Vec::new(),
            )
            .await
            .unwrap()
            .unwrap();
        assert!(
            store
                .strikes_since(0, Some(&account("AC2")))
                .await
                .unwrap()
                .is_empty()
        );
    }
);

store_test!(
    opt_outs_are_kept_until_the_recipient_opts_back_in_and_go_with_erasure,
    |store: Store| async move {
        // A keyed hash with its top bit set survives the signed column.
        let (first, second) = (u64::MAX - 7, 42);
        for _ in 0..2 {
            store
                .set_opt_out(&account("AC1"), first, true, 1_000)
                .await
                .unwrap();
        }
        store
            .set_opt_out(&account("AC1"), second, true, 2_000)
            .await
            .unwrap();
        store
            .set_opt_out(&account("AC2"), first, true, 2_000)
            .await
            .unwrap();
        let mut all = store.opt_outs().await.unwrap();
        all.sort_by(|a, b| (a.0.as_str(), a.1).cmp(&(b.0.as_str(), b.1)));
        let all: Vec<(&str, u64)> = all.iter().map(|(a, r)| (a.as_str(), *r)).collect();
        assert_eq!(all, [("AC1", second), ("AC1", first), ("AC2", first)]);

        // Opting back in lifts it for that account and recipient only.
        store
            .set_opt_out(&account("AC1"), first, false, 3_000)
            .await
            .unwrap();
        assert_eq!(store.opt_outs().await.unwrap().len(), 2);

        let erased = store
            .erase_evidence(&account("AC1"), &Actor::Admin("root".into()), 4_000)
            .await
            .unwrap();
        assert!(
            matches!(erased, warden::store::Erasure::Erased { opt_outs: 1, .. }),
            "{erased:?}"
        );
        let left = store.opt_outs().await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].0.as_str(), "AC2");
    }
);

store_test!(
    the_transparency_report_counts_what_the_store_holds,
    |store: Store| async move {
        const HOUR: i64 = 3_600_000;
        let t0 = 1_796_000_000_000;
        // Two automated suspensions, a case the breaker sent to review that Alice upheld, and
        // a suspension by hand; then one of the automated ones is appealed and overturned.
        for account in ["AC1", "AC2"] {
            let case = new_case(account, &format!("SM-{account}"), t0);
            store.open_case(&case, &[]).await.unwrap();
        }
        let review = NewCase {
            status: CaseStatus::InReview,
            ..new_case("AC3", "SM-AC3", t0)
        };
        store.open_case(&review, &[]).await.unwrap();
        let manual = NewCase {
            scores: Default::default(),
            evidence: Vec::new(),
            actor: Actor::Admin("root".into()),
            ..new_case("AC4", "manual:AC4", t0)
        };
        store.open_case(&manual, &[]).await.unwrap();
        let decide = |case_id: CaseId, outcome, by: &str, at| NewDecision {
            case_id,
            actor: Actor::Reviewer(by.into()),
            outcome,
            note: "checked".into(),
            at,
        };
        let in_review = store.active_case(&account("AC3")).await.unwrap().unwrap();
        let upheld = decide(in_review.case_id, Outcome::Uphold, "alice", t0 + HOUR);
        store
            .record_decision(&upheld, |_| Vec::new())
            .await
            .unwrap();
        let appealed = store.active_case(&account("AC1")).await.unwrap().unwrap();
        store
            .open_appeal(&appealed, "our own customers", t0 + HOUR, &[])
            .await
            .unwrap();
        let overturn = decide(appealed.case_id, Outcome::Overturn, "bob", t0 + 4 * HOUR);
        store
            .record_decision(&overturn, |_| Vec::new())
            .await
            .unwrap();

        let facts = store.transparency_facts(t0, t0 + 24 * HOUR).await.unwrap();
        let report = warden::transparency::report(&facts, t0, t0 + 24 * HOUR, "from", "to");
        let decisions: Vec<(&str, String, u64)> = report
            .decisions
            .iter()
            .map(|d| (d.category, format!("{:?}", d.automation), d.count))
            .collect();
        assert_eq!(
            decisions,
            [
                ("fraud", "Fully".to_owned(), 2),
                ("fraud", "Partially".to_owned(), 1),
                ("unscored", "Not".to_owned(), 1),
            ]
        );
        assert_eq!(report.sent_to_review, 1);
        let appeals = &report.appeals;
        assert_eq!(
            (appeals.received, appeals.decided, appeals.overturned),
            (1, 1, 1)
        );
        assert_eq!(appeals.median_hours_to_decision, Some(3.0));
        assert_eq!(
            report.overturns_by_rule[0].rule,
            "fraud.delivery_failed_link"
        );
        assert_eq!(report.overturns_by_rule[0].overturn_rate, 1.0);
        // Nothing of the period before: an empty report.
        let before = store.transparency_facts(0, t0).await.unwrap();
        assert!(before.steps.is_empty() && before.appeals.is_empty());
        // No account id in any form of it.
        let json = serde_json::to_string(&report).unwrap();
        for text in [json, report.to_csv(), report.to_string()] {
            assert!(!text.contains("AC"), "{text}");
        }

        // The statements' facts: each suspension once, with who took it and its evidence.
        let facts = store.statement_facts(t0, t0 + 24 * HOUR).await.unwrap();
        let mut actors: Vec<String> = facts.iter().map(|f| f.actor.to_string()).collect();
        actors.sort();
        assert_eq!(
            actors,
            ["admin:root", "automated", "automated", "reviewer:alice"]
        );
        let automated = facts.iter().find(|f| f.actor == Actor::Automated).unwrap();
        assert_eq!(automated.rule_hits, ["fraud.delivery_failed_link"]);
        assert_eq!((automated.evidence_messages, automated.content_at), (1, t0));
        let by_hand = facts.iter().find(|f| f.actor.person() == Some("root"));
        assert_eq!(
            by_hand.unwrap().evidence_messages,
            0,
            "by hand: no evidence"
        );
        // A warning is a step of the report, never a statement; a restriction is both.
        store
            .open_case(
                &NewCase {
                    status: CaseStatus::Warned,
                    ..new_case("AC5", "SM-AC5", t0 + 5 * HOUR)
                },
                &[],
            )
            .await
            .unwrap();
        store
            .open_case(
                &NewCase {
                    ends_at: Some(t0 + 30 * HOUR),
                    ..new_case("AC6", "SM-AC6", t0 + 6 * HOUR)
                },
                &[],
            )
            .await
            .unwrap();
        let facts = store.statement_facts(t0, t0 + 24 * HOUR).await.unwrap();
        let last = facts.last().unwrap();
        assert_eq!(
            (facts.len(), last.step, last.ends_at),
            (5, warden::suspension::Step::Restrict, Some(t0 + 30 * HOUR))
        );
        let report = warden::transparency::report(
            &store.transparency_facts(t0, t0 + 24 * HOUR).await.unwrap(),
            t0,
            t0 + 24 * HOUR,
            "from",
            "to",
        );
        let steps: Vec<&str> = report.decisions.iter().map(|d| d.step).collect();
        assert!(
            steps.contains(&"warn") && steps.contains(&"restrict"),
            "{steps:?}"
        );
    }
);

store_test!(
    only_messages_blocked_for_their_content_are_facts_for_statements,
    |store: Store| async move {
        let verdict = |id: &str, action: &str, extra: &str| {
            format!(
                r#"{{"message_id":"{id}","account_id":"AC1","action":"{action}","scores":{{"spam":0.0,"fraud":0.9,"aup":0.0}},"rule_hits":["fraud.delivery_fee"],"model_version":null,"rules_version":"r1","decided_at":"2026-11-30T08:00:00Z"{extra}}}"#
            )
        };
        let rows = [
            ("SM1", verdict("SM1", "block", "")),
            (
                "SM2",
                verdict("SM2", "block", r#","account_suspended":true"#),
            ),
            (
                "SM3",
                verdict("SM3", "block", r#","recipient_opted_out":true"#),
            ),
            ("SM4", verdict("SM4", "flag", "")),
        ];
        let pairs: Vec<(&str, &str)> = rows.iter().map(|(id, v)| (*id, v.as_str())).collect();
        store.record_verdicts(&pairs, 5_000).await.unwrap();
        let facts = store.block_facts(0, 10_000).await.unwrap();
        assert_eq!(facts.len(), 1, "{facts:?}");
        assert_eq!(facts[0].message_id, "SM1");
        assert_eq!(facts[0].rule_hits, ["fraud.delivery_fee"]);
        assert_eq!(facts[0].decided_at, 1_796_025_600_000);
        assert!(store.block_facts(5_001, 10_000).await.unwrap().is_empty());
    }
);

store_test!(
    the_rules_version_history_keeps_every_set_newest_first_with_its_text,
    |store: Store| async move {
        let load = |at: i64, version: &str, action: &str, rules: &str| warden::store::RulesLoad {
            loaded_at: at,
            version: version.into(),
            loaded_by: if action == "start" {
                Actor::Automated
            } else {
                Actor::Admin("root".into())
            },
            action: action.into(),
            summary: format!("{action} summary"),
            rules: rules.into(),
            policy: "[message.spam]".into(),
        };
        for entry in [
            load(1_000, "v1", "start", "rules one"),
            load(2_000, "v2", "reload", "rules two"),
            load(3_000, "v1", "rollback", "rules one"),
        ] {
            store.record_rules_load(&entry).await.unwrap();
            // Recording the same set twice changes nothing.
            store.record_rules_load(&entry).await.unwrap();
        }
        let history = store.rules_loads(10).await.unwrap();
        let steps: Vec<(&str, &str, String)> = history
            .iter()
            .map(|l| {
                (
                    l.version.as_str(),
                    l.action.as_str(),
                    l.loaded_by.to_string(),
                )
            })
            .collect();
        assert_eq!(
            steps,
            [
                ("v1", "rollback", "admin:root".to_owned()),
                ("v2", "reload", "admin:root".to_owned()),
                ("v1", "start", "automated".to_owned()),
            ]
        );
        let v2 = store.rules_load("v2").await.unwrap().unwrap();
        assert_eq!((v2.rules.as_str(), v2.loaded_at), ("rules two", 2_000));
        assert_eq!(
            store.rules_load("v1").await.unwrap().unwrap().loaded_at,
            3_000
        );
        assert!(store.rules_load("v9").await.unwrap().is_none());
        assert_eq!(store.rules_loads(1).await.unwrap().len(), 1);
    }
);

store_test!(
    retention_purges_closed_cases_on_time_and_spares_legal_holds,
    |store: Store| async move {
        const DAY: i64 = 86_400_000;
        let t0 = 1_796_000_000_000;
        let retention = Retention::default();
        // AC1: appealed and overturned a day later. AC2: still suspended. AC3: overturned too,
        // but under a legal hold.
        for account in ["AC1", "AC2", "AC3"] {
            store
                .open_case(&new_case(account, &format!("SM-{account}"), t0), &[])
                .await
                .unwrap();
        }
        let overturned = store.active_case(&account("AC1")).await.unwrap().unwrap();
        store
            .open_appeal(&overturned, "my customers", t0 + 1_000, &[])
            .await
            .unwrap();
        let decided = store
            .record_decision(
                &NewDecision {
                    case_id: overturned.case_id.clone(),
                    actor: Actor::Reviewer("alice".into()),
                    outcome: Outcome::Overturn,
                    note: "legitimate".into(),
                    at: t0 + DAY,
                },
                |_| Vec::new(),
            )
            .await
            .unwrap();
        assert!(matches!(decided, Deciding::Decided(_)), "{decided:?}");
        store
            .manual_reinstate(
                &account("AC3"),
                &Actor::Admin("root".into()),
                "court order",
                t0 + DAY,
                |_| Vec::new(),
            )
            .await
            .unwrap();
        store
            .set_legal_hold(
                &account("AC3"),
                &Actor::Admin("root".into()),
                "litigation",
                t0 + DAY,
            )
            .await
            .unwrap();
        store
            .record_verdicts(&[("SM-old", r#"{"message_id":"SM-old"}"#)], t0)
            .await
            .unwrap();
        store
            .record_verdicts(&[("SM-new", r#"{"message_id":"SM-new"}"#)], t0 + 15 * DAY)
            .await
            .unwrap();
        let evidence = |case: CaseId| {
            let store = store.clone();
            async move { store.evidence(&case).await.unwrap().len() }
        };
        let case_of = |account: &'static str| {
            let store = store.clone();
            async move {
                store
                    .export_account(&self::account(account))
                    .await
                    .unwrap()
                    .cases
                    .remove(0)
                    .case_id
            }
        };

        // Within the evidence period only the old processed message's verdict goes.
        let early = store.purge(&retention, t0 + 20 * DAY).await.unwrap();
        assert_eq!(
            early,
            Purged {
                processed: 1,
                ..Purged::default()
            }
        );
        let left = store
            .recorded_verdicts(&["SM-old", "SM-new"])
            .await
            .unwrap();
        assert_eq!(left.keys().collect::<Vec<_>>(), ["SM-new"]);

        let due = store.purge(&retention, t0 + 32 * DAY).await.unwrap();
        assert_eq!((due.evidence, due.labels, due.statements), (1, 1, 1));
        assert_eq!(evidence(case_of("AC1").await).await, 0);
        assert_eq!(
            evidence(case_of("AC2").await).await,
            1,
            "an active case keeps its evidence"
        );
        assert_eq!(
            evidence(case_of("AC3").await).await,
            1,
            "a legal hold keeps it"
        );
        let appeal = store
            .appeal_of_case(&overturned.case_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(appeal.statement, "");
        assert!(store.labels().await.unwrap().is_empty());

        // A year on, audit entries stay but lose their free text, except under the hold.
        store.purge(&retention, t0 + 400 * DAY).await.unwrap();
        let entries = store.audit_log(&account("AC1")).await.unwrap();
        assert!(entries.len() >= 3);
        assert!(entries.iter().all(|e| e.detail.is_empty()), "{entries:?}");
        let held = store.audit_log(&account("AC3")).await.unwrap();
        assert!(held.iter().any(|e| !e.detail.is_empty()));
        // Nothing is left to purge a second time.
        assert_eq!(
            store.purge(&retention, t0 + 400 * DAY).await.unwrap(),
            Purged::default()
        );
    }
);

/// The stream processor retries only what can pass: a database that is busy or unreachable, not
/// a constraint or a row that cannot decode. Real SQLite errors of each kind, and sqlx's own.
#[tokio::test]
async fn store_errors_are_transient_only_when_trying_again_can_help() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use warden::store::StoreError;

    let dir = tempfile::tempdir().unwrap();
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("busy.db"))
        .create_if_missing(true)
        .busy_timeout(std::time::Duration::ZERO);
    let pool = SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO t VALUES (1)")
        .execute(&pool)
        .await
        .unwrap();
    let duplicate = sqlx::query("INSERT INTO t VALUES (1)")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(!StoreError::Database(duplicate).is_transient());
    // One connection holds the write lock; the other's write finds the database busy.
    let mut holder = pool.acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let busy = sqlx::query("INSERT INTO t VALUES (2)")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(StoreError::Database(busy).is_transient());
    sqlx::query("ROLLBACK").execute(&mut *holder).await.unwrap();

    assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_transient());
    assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_transient());
    let json = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
    assert!(!StoreError::Json(json).is_transient());
}

store_test!(
    console_sessions_are_shared_and_end_when_stale,
    |store: Store| async move {
        let session = ConsoleSession {
            reviewer: "alice".into(),
            role: "reviewer".into(),
            token_sha256: "ab".repeat(32),
            csrf: "cd".repeat(32),
            created_at: 1_000,
            last_seen_at: 1_000,
            expires_at: 100_000,
        };
        store.create_console_session("s1", &session).await.unwrap();
        store
            .create_console_session(
                "s2",
                &ConsoleSession {
                    expires_at: 5_000,
                    ..session.clone()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            store.console_session("s1").await.unwrap(),
            Some(session.clone())
        );
        store.touch_console_session("s1", 9_000).await.unwrap();
        let touched = store.console_session("s1").await.unwrap().unwrap();
        assert_eq!(touched.last_seen_at, 9_000);
        // At 6,000, idle since before 2,000: s2 has expired; s1 was used at 9,000.
        assert_eq!(
            store
                .end_stale_console_sessions(6_000, 2_000)
                .await
                .unwrap(),
            1
        );
        assert_eq!(store.console_session("s2").await.unwrap(), None);
        store.end_console_session("s1").await.unwrap();
        assert_eq!(store.console_session("s1").await.unwrap(), None);
    }
);

store_test!(
    the_console_queue_filters_counts_pages_and_releases,
    |store: Store| async move {
        // Three cases in review, waiting since 1,000, 2,000 and 3,000; one with an appeal.
        let mut ids = Vec::new();
        for (i, account) in ["AC1", "AC2", "AC3"].into_iter().enumerate() {
            let at = 1_000 * (i as i64 + 1);
            let case = NewCase {
                status: CaseStatus::InReview,
                ..new_case(account, &format!("SM{i}"), at)
            };
            ids.push(case.case_id());
            store.open_case(&case, &[]).await.unwrap();
        }
        let suspended = new_case("AC4", "SM9", 4_000);
        store.open_case(&suspended, &[]).await.unwrap();
        let stored = store.case(&suspended.case_id()).await.unwrap().unwrap();
        store
            .open_appeal(&stored, "mine", 5_000, &[])
            .await
            .unwrap();
        let alice = Actor::Reviewer("alice".into());
        let bob = Actor::Reviewer("bob".into());
        store.claim(&ids[1], &alice, 6_000, 60_000).await.unwrap();
        let now = 7_000;
        let page = |filter: QueueFilter, limit| {
            let store = store.clone();
            async move {
                let items = store.queue_page(now, &filter, limit).await.unwrap();
                items
                    .into_iter()
                    .map(|i| i.account_id.to_string())
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            page(QueueFilter::default(), 10).await,
            ["AC1", "AC2", "AC3", "AC4"]
        );
        // The next page starts after the last case shown, whatever its kind.
        let first = store
            .queue_page(now, &QueueFilter::default(), 2)
            .await
            .unwrap();
        let after = QueueFilter {
            after: Some((first[1].waiting_since, first[1].case_id.clone())),
            ..QueueFilter::default()
        };
        assert_eq!(page(after, 2).await, ["AC3", "AC4"]);
        let appeals = QueueFilter {
            appeals: Some(true),
            ..QueueFilter::default()
        };
        assert_eq!(page(appeals, 10).await, ["AC4"]);
        let overdue = QueueFilter {
            waiting_before: Some(2_500),
            ..QueueFilter::default()
        };
        assert_eq!(page(overdue, 10).await, ["AC1", "AC2"]);
        let mine = QueueFilter {
            claimed_by: Some(alice.clone()),
            ..QueueFilter::default()
        };
        assert_eq!(page(mine, 10).await, ["AC2"]);
        let unclaimed = QueueFilter {
            unclaimed: true,
            appeals: Some(false),
            ..QueueFilter::default()
        };
        assert_eq!(page(unclaimed, 10).await, ["AC1", "AC3"]);
        assert_eq!(
            store.queue_counts(now, 2_500, &alice).await.unwrap(),
            QueueCounts {
                all: 4,
                appeals: 1,
                in_review: 3,
                overdue: 2,
                unclaimed: 3,
                mine: 1,
            }
        );

        // Only the holder releases; then the case is nobody's.
        assert!(matches!(
            store.release_claim(&ids[1], &bob, now).await.unwrap(),
            Releasing::HeldByOther(_)
        ));
        assert_eq!(
            store.release_claim(&ids[1], &alice, now).await.unwrap(),
            Releasing::Released
        );
        assert_eq!(
            store.release_claim(&ids[1], &alice, now).await.unwrap(),
            Releasing::NotHeld
        );
        let counts = store.queue_counts(now, 2_500, &alice).await.unwrap();
        assert_eq!((counts.unclaimed, counts.mine), (4, 0));
        let log = store.audit_log(&account("AC2")).await.unwrap();
        assert!(
            log.iter()
                .any(|e| e.action == "release" && e.actor == alice)
        );
    }
);

store_test!(
    events_leave_in_the_order_they_were_written_even_when_their_times_tie,
    |store: Store| async move {
        // Six cases opened on messages sent in the same millisecond: their events' ids are
        // hashes, so any order but the order of writing would show here (1 chance in 720 of
        // passing by luck).
        let mut written = Vec::new();
        for n in 1..=6 {
            let account_id = format!("AC{n}");
            let event = OutboxEvent::new(
                OutboxTopic::Notices,
                &account(&account_id),
                format!(r#"{{"kind":"warning","n":{n}}}"#),
            );
            written.push(event.payload.clone());
            let case = new_case(&account_id, &format!("SM{n}"), 1_000);
            store.open_case(&case, &[event]).await.unwrap();
        }
        let sent: Vec<String> = store
            .unsent_events(10)
            .await
            .unwrap()
            .into_iter()
            .map(|event| event.payload)
            .collect();
        assert_eq!(sent, written);
    }
);
