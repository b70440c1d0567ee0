//! The review API over real HTTP, against a real database (a SQLite file; the whole journey on
//! PostgreSQL too, see `common::database`). Events it owes the pipeline are checked in the
//! outbox here; `tests/stream.rs` follows them through a real broker.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;

use common::database::{Backend, account, fresh, new_case};
use warden::api::auth::ReviewerDirectory;
use warden::api::{self, AppState};
use warden::config::ApiConfig;
use warden::enforce::token::{AppealGrant, sign};
use warden::privacy::Secret;
use warden::store::{CaseId, CaseStatus, NewCase, OutboxTopic, Store};

/// One test body against both backends, as `tests/store.rs` does: SQLite always, PostgreSQL
/// when `WARDEN_TEST_DATABASE_URL` is set (required in CI).
macro_rules! both_backends {
    ($name:ident) => {
        both_backends!($name, $name);
    };
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$body(super::Harness::default().await).await;
            }

            #[tokio::test]
            async fn postgres() {
                let backend = super::Backend::Postgres;
                if let Some(api) = super::Harness::start(Default::default(), backend).await {
                    super::$body(api).await;
                }
            }
        }
    };
}

const SECRET: &str = "api-test-appeal-secret-0123456789";
const ALICE: &str = "alice-reviewer-token-0123456789";
const BOB: &str = "bob-reviewer-token-0123456789abc";
const ROOT: &str = "root-admin-token-0123456789abcdef";

/// A running API on a fresh database, with three people in the reviewers file.
struct Harness {
    base: String,
    store: Store,
    http: reqwest::Client,
    reviewers_file: PathBuf,
    dirs: (tempfile::TempDir, Option<tempfile::TempDir>),
}

impl Harness {
    /// `None` when the backend is not available here (PostgreSQL without its URL).
    async fn start(settings: ApiConfig, backend: Backend) -> Option<Self> {
        let (store, database_dir) = fresh(backend, "api").await?;
        let dir = tempfile::tempdir().unwrap();
        let reviewers_file = dir.path().join("reviewers.toml");
        std::fs::write(
            &reviewers_file,
            common::reviewers_toml(&[
                ("alice", "reviewer", ALICE),
                ("bob", "reviewer", BOB),
                ("root", "admin", ROOT),
            ]),
        )
        .unwrap();
        // No broker here: events stay in the outbox, where the tests read them.
        let producer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", "127.0.0.1:1")
            .create()
            .unwrap();
        let state = AppState::new(
            store.clone(),
            common::appeal_settings(SECRET),
            ReviewerDirectory::open(reviewers_file.clone()).unwrap(),
            settings,
            producer,
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let app = api::router(state).into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Some(Self {
            base: format!("http://{address}"),
            store,
            http: reqwest::Client::new(),
            reviewers_file,
            dirs: (dir, database_dir),
        })
    }

    async fn default() -> Self {
        Self::start(ApiConfig::default(), Backend::Sqlite)
            .await
            .expect("SQLite is always available")
    }

    /// Opens a case for `account`, as the stream processor would; returns its id and the
    /// appeal token its notice would carry.
    async fn case(&self, account: &str, status: CaseStatus) -> (String, String) {
        let case = NewCase {
            status,
            ..new_case(account, &format!("SM-{account}"), 1_795_996_800_000)
        };
        let case_id = case.case_id().to_string();
        self.store.open_case(&case, &[]).await.unwrap();
        let token = token_for(
            &case_id,
            account,
            OffsetDateTime::now_utc() + time::Duration::days(30),
        );
        (case_id, token)
    }

    /// The holder's appeal with the notice's `token`: `POST /v1/appeals`.
    async fn appeal(&self, token: &str, statement: &str) -> (StatusCode, Value) {
        let body = json!({"token": token, "statement": statement});
        self.post("/v1/appeals", None, body).await
    }

    /// What `/metrics` answers, in Prometheus text format.
    async fn metrics(&self) -> String {
        let response = self.http.get(self.url("/metrics")).send().await.unwrap();
        response.text().await.unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn post(&self, path: &str, bearer: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut request = self.http.post(self.url(path)).json(&body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        answer(request.send().await.unwrap()).await
    }

    async fn get(&self, path: &str, bearer: Option<&str>) -> (StatusCode, Value) {
        let mut request = self.http.get(self.url(path));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        answer(request.send().await.unwrap()).await
    }
}

async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn token_for(case_id: &str, account: &str, expires_at: OffsetDateTime) -> String {
    sign(
        &Secret::new(SECRET),
        &AppealGrant {
            case_id: CaseId::parse(case_id.into()).unwrap(),
            account_id: self::account(account),
            expires_at,
        },
    )
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error code>")
}

both_backends!(whoever_took_the_decision_under_appeal_cannot_decide_it);

async fn whoever_took_the_decision_under_appeal_cannot_decide_it(api: Harness) {
    // A suspension by hand: the admin who made it may neither claim nor decide the appeal.
    let reason = json!({"reason": "Confirmed by the fraud team"});
    let (status, body) = api
        .post("/v1/admin/accounts/AC7/suspend", Some(ROOT), reason)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let case_id = body["case_id"].as_str().unwrap().to_owned();
    let expires = OffsetDateTime::now_utc() + time::Duration::days(1);
    let (status, appeal) = api
        .appeal(&token_for(&case_id, "AC7", expires), "We never sent those")
        .await;
    assert_eq!(status, StatusCode::CREATED, "{appeal}");
    let claim = format!("/v1/review/cases/{case_id}/claim");
    let decision = format!("/v1/review/cases/{case_id}/decision");
    let uphold = json!({"outcome": "uphold", "note": "Confirmed again"});
    for (path, body) in [(&claim, json!({})), (&decision, uphold.clone())] {
        let (status, refused) = api.post(path, Some(ROOT), body).await;
        assert_eq!(
            (status, error_code(&refused)),
            (StatusCode::CONFLICT, "recused"),
            "{path}"
        );
    }
    let (status, decided) = api.post(&decision, Some(ALICE), uphold).await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(decided["status"], "suspended");

    // A case upheld in review: its reviewer may not decide the appeal that follows; another may.
    let (case_id, token) = api.case("AC8", CaseStatus::InReview).await;
    let decision = format!("/v1/review/cases/{case_id}/decision");
    let upheld = json!({"outcome": "uphold", "note": "Phishing links"});
    let (status, body) = api.post(&decision, Some(ALICE), upheld).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, appeal) = api.appeal(&token, "Those were our own links").await;
    assert_eq!(status, StatusCode::CREATED, "{appeal}");
    let overturn = json!({"outcome": "overturn", "note": "The links are their own domain"});
    let (status, refused) = api.post(&decision, Some(ALICE), overturn.clone()).await;
    assert_eq!(
        (status, error_code(&refused)),
        (StatusCode::CONFLICT, "recused")
    );
    let (status, decided) = api.post(&decision, Some(BOB), overturn).await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(decided["status"], "overturned");
}

both_backends!(
    an_appeal_from_notice_to_overturn_reinstates,
    appeal_to_overturn
);

/// From the notice's token to an overturn: every answer, event and audit entry.
async fn appeal_to_overturn(api: Harness) {
    let (case_id, token) = api.case("AC1", CaseStatus::Suspended).await;

    let statement = json!({"token": token, "statement": "These were real delivery notices"});
    let (status, appeal) = api.post("/v1/appeals", None, statement.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{appeal}");
    assert_eq!(appeal["status"], "open");
    assert_eq!(appeal["case_id"], case_id.as_str());
    let appeal_id = appeal["appeal_id"].as_str().unwrap().to_owned();
    // A repeated appeal returns the same one and writes nothing more.
    let (status, again) = api.post("/v1/appeals", None, statement).await;
    assert_eq!(
        (status, &again["appeal_id"]),
        (StatusCode::OK, &appeal["appeal_id"])
    );

    let (status, queue) = api.get("/v1/review/queue", Some(ALICE)).await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    assert_eq!(queue["count"], 1);
    assert_eq!(queue["items"][0]["kind"], "appeal");
    assert_eq!(queue["items"][0]["case_id"], case_id.as_str());
    assert_eq!(queue["items"][0]["overdue"], false);

    let (status, case) = api
        .get(&format!("/v1/review/cases/{case_id}"), Some(ALICE))
        .await;
    assert_eq!(status, StatusCode::OK, "{case}");
    assert_eq!(
        case["appeal"]["statement"],
        "These were real delivery notices"
    );
    let excerpt = case["evidence"][0]["excerpt"].as_str().unwrap();
    assert!(!excerpt.contains("7911 123456"), "unredacted: {excerpt}");
    assert_eq!(
        case["evidence"][0]["rule_hits"][0],
        "fraud.delivery_failed_link"
    );

    let claim = format!("/v1/review/cases/{case_id}/claim");
    let decision = format!("/v1/review/cases/{case_id}/decision");
    let (status, claimed) = api.post(&claim, Some(ALICE), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    assert_eq!(claimed["claim"]["reviewer"], "reviewer:alice");
    // One reviewer at a time: Bob can neither claim nor decide Alice's case.
    let (status, refused) = api.post(&claim, Some(BOB), json!({})).await;
    assert_eq!(
        (status, error_code(&refused)),
        (StatusCode::CONFLICT, "claimed_by_another")
    );
    let overturn = json!({"outcome": "overturn", "note": "Legitimate courier notices"});
    let (status, refused) = api.post(&decision, Some(BOB), overturn.clone()).await;
    assert_eq!(
        (status, error_code(&refused)),
        (StatusCode::CONFLICT, "claimed_by_another")
    );
    // Only the holder of a claim releases it; released, the case can be claimed again.
    let release = format!("/v1/review/cases/{case_id}/release");
    let (status, refused) = api.post(&release, Some(BOB), json!({})).await;
    assert_eq!(
        (status, error_code(&refused)),
        (StatusCode::CONFLICT, "claimed_by_another")
    );
    let (status, released) = api.post(&release, Some(ALICE), json!({})).await;
    assert_eq!((status, &released["claim"]), (StatusCode::OK, &Value::Null));
    let held = api
        .store
        .case_detail(&CaseId::parse(case_id.clone()).unwrap(), 0)
        .await;
    assert_eq!(held.unwrap().unwrap().claim, None);
    let (status, claimed) = api.post(&claim, Some(ALICE), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{claimed}");

    let (status, decided) = api.post(&decision, Some(ALICE), overturn.clone()).await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(decided["status"], "overturned");
    // The same decision again is answered the same; a contrary one is refused.
    let (status, _) = api.post(&decision, Some(ALICE), overturn).await;
    assert_eq!(status, StatusCode::OK);
    let uphold = json!({"outcome": "uphold", "note": "On second thoughts"});
    let (status, refused) = api.post(&decision, Some(ALICE), uphold).await;
    assert_eq!(
        (status, error_code(&refused)),
        (StatusCode::CONFLICT, "already_decided")
    );

    let (status, seen) = api
        .get(&format!("/v1/appeals/{appeal_id}?token={token}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["status"], "decided");
    assert_eq!(seen["outcome"], "overturned");
    assert_eq!(seen["explanation"], "Legitimate courier notices");
    let (_, queue) = api.get("/v1/review/queue", Some(ALICE)).await;
    assert_eq!(queue["count"], 0);

    // What the pipeline and the holder are owed, once each.
    let events = api.store.unsent_events(100).await.unwrap();
    let kinds: Vec<(OutboxTopic, Value)> = events
        .iter()
        .map(|e| (e.topic, serde_json::from_str(&e.payload).unwrap()))
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert_eq!(kinds[0].0, OutboxTopic::Notices);
    assert_eq!(kinds[0].1["kind"], "appeal_received");
    let reinstate = kinds
        .iter()
        .find(|(t, _)| *t == OutboxTopic::AccountActions)
        .unwrap();
    assert_eq!(reinstate.1["action"], "reinstate");
    assert_eq!(reinstate.1["by"], "reviewer:alice");
    let decided_notice = kinds
        .iter()
        .find(|(_, p)| p["kind"] == "appeal_decided")
        .unwrap();
    assert_eq!(decided_notice.1["outcome"], "overturned");
    assert_eq!(
        decided_notice.1["explanation"],
        "Legitimate courier notices"
    );
    assert_eq!(decided_notice.1["automated"], false);
    assert_eq!(
        decided_notice.1["redress"],
        "Refer it to a dispute settlement body or the courts."
    );
    assert!(events.iter().all(|e| e.key == "AC1"));

    let actions: Vec<(String, String)> = api
        .store
        .audit_log(&account("AC1"))
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.actor.to_string(), e.action))
        .collect();
    for expected in [
        ("automated", "suspend"),
        ("holder", "appeal"),
        ("reviewer:alice", "claim"),
        ("reviewer:alice", "release"),
        ("reviewer:alice", "overturn_and_reinstate"),
    ] {
        assert!(
            actions.contains(&(expected.0.into(), expected.1.into())),
            "{expected:?} missing from {actions:?}"
        );
    }
    assert_eq!(api.store.active_case(&account("AC1")).await.unwrap(), None);

    // The overturn left its evidence as a legitimate example, redacted, for training.
    let labels = api.store.labels().await.unwrap();
    assert_eq!(labels.len(), 1);
    assert_eq!(labels[0].0, "ham");
    assert!(!labels[0].1.contains("7911 123456"), "{labels:?}");
    if let Some(dir) = &api.dirs.1 {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(["labels", "export", "--database-url"])
            .arg(format!(
                "sqlite://{}",
                dir.path().join("warden.db").display()
            ))
            .output()
            .unwrap();
        assert!(output.status.success());
        let text = String::from_utf8(output.stdout).unwrap();
        let rows: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(rows, [format!("ham\t{}", labels[0].1)]);
    }
}

both_backends!(
    a_case_in_review_upheld_by_a_reviewer_suspends_the_account,
    review_to_suspension
);

async fn review_to_suspension(api: Harness) {
    let (case_id, _) = api.case("AC7", CaseStatus::InReview).await;
    let (_, queue) = api.get("/v1/review/queue", Some(BOB)).await;
    assert_eq!(queue["items"][0]["kind"], "review");
    let (status, decided) = api
        .post(
            &format!("/v1/review/cases/{case_id}/decision"),
            Some(BOB),
            json!({"outcome": "uphold", "note": "Confirmed phishing"}),
        )
        .await;
    assert_eq!(
        (status, &decided["status"]),
        (StatusCode::OK, &json!("suspended"))
    );
    let events = api.store.unsent_events(100).await.unwrap();
    let payloads: Vec<Value> = events
        .iter()
        .map(|e| serde_json::from_str(&e.payload).unwrap())
        .collect();
    assert!(
        payloads
            .iter()
            .any(|p| p["action"] == "suspend" && p["by"] == "reviewer:bob")
    );
    let notice = payloads.iter().find(|p| p["kind"] == "suspended").unwrap();
    assert!(notice["appeal_url"].as_str().unwrap().contains("?token="));
}

both_backends!(every_caller_gets_exactly_what_their_credentials_allow);

async fn every_caller_gets_exactly_what_their_credentials_allow(api: Harness) {
    let (case_one, token_one) = api.case("AC1", CaseStatus::Suspended).await;
    let (_, token_two) = api.case("AC2", CaseStatus::Suspended).await;
    let (_, appeal) = api.appeal(&token_one, "mine").await;
    let appeal_one = appeal["appeal_id"].as_str().unwrap().to_owned();

    // Reviewers' endpoints: no token, a malformed header, an unknown token.
    let (status, body) = api.get("/v1/review/queue", None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    let response = api
        .http
        .get(api.url("/v1/review/queue"))
        .header("Authorization", format!("Basic {ALICE}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = api
        .get("/v1/review/queue", Some("not-a-reviewer-token-at-all"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A holder's appeal token is no reviewer token.
    let (status, _) = api.get("/v1/review/queue", Some(&token_one)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Holders: another account's token sees nothing of this appeal.
    let (status, body) = api
        .get(&format!("/v1/appeals/{appeal_one}?token={token_two}"), None)
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    // A token whose account was changed: the signature no longer verifies.
    let forged = token_for(
        &case_one,
        "AC2",
        OffsetDateTime::now_utc() + time::Duration::days(1),
    );
    let (payload, _) = forged.split_once('.').unwrap();
    let (_, signature) = token_one.split_once('.').unwrap();
    let tampered = format!("{payload}.{signature}");
    let (status, body) = api.appeal(&tampered, "x").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    let expired = token_for(
        &case_one,
        "AC1",
        OffsetDateTime::now_utc() - time::Duration::hours(1),
    );
    let (status, body) = api.appeal(&expired, "late").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "token_expired")
    );
    let (status, body) = api.get(&format!("/v1/appeals/{appeal_one}"), None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
}

both_backends!(bad_requests_get_clear_json_errors);

async fn bad_requests_get_clear_json_errors(api: Harness) {
    let (case_id, token) = api.case("AC1", CaseStatus::Suspended).await;
    let post_raw = |path: &str, body: Vec<u8>, content_type: &str| {
        api.http
            .post(api.url(path))
            .header("Content-Type", content_type)
            .bearer_auth(ALICE)
            .body(body)
            .send()
    };
    let response = post_raw("/v1/appeals", b"{\"token\": ".to_vec(), "application/json")
        .await
        .unwrap();
    let (status, body) = answer(response).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "malformed_json")
    );

    let response = post_raw(
        "/v1/appeals",
        b"{\"token\": 7}".to_vec(),
        "application/json",
    )
    .await
    .unwrap();
    let (status, body) = answer(response).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request")
    );

    let response = post_raw("/v1/appeals", b"{}".to_vec(), "text/plain")
        .await
        .unwrap();
    let (status, body) = answer(response).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );

    let huge =
        serde_json::to_vec(&json!({"token": token, "statement": "x".repeat(100_000)})).unwrap();
    let response = post_raw("/v1/appeals", huge, "application/json")
        .await
        .unwrap();
    let (status, body) = answer(response).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
    );

    let (status, body) = api.appeal(&token, "   ").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request")
    );
    let (status, body) = api
        .post(
            &format!("/v1/review/cases/{case_id}/decision"),
            Some(ALICE),
            json!({"outcome": "maybe", "note": "hmm"}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request")
    );
    let (status, body) = api.get("/v1/review/cases/CSnope", Some(ALICE)).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (status, body) = api.get("/v1/nowhere", None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    // A suspension nobody appealed has nothing for a reviewer to decide.
    let (status, body) = api
        .post(
            &format!("/v1/review/cases/{case_id}/decision"),
            Some(ALICE),
            json!({"outcome": "overturn", "note": "no appeal"}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "nothing_to_decide")
    );
}

#[tokio::test]
async fn appeals_are_rate_limited_per_client() {
    let settings = ApiConfig {
        appeals_per_minute: 3,
        ..ApiConfig::default()
    };
    let api = Harness::start(settings, Backend::Sqlite).await.unwrap();
    let (_, token) = api.case("AC1", CaseStatus::Suspended).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let (status, _) = api.appeal(&token, "please").await;
        statuses.push(status);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::CREATED,
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}

both_backends!(reviewer_tokens_rotate_without_a_restart);

async fn reviewer_tokens_rotate_without_a_restart(api: Harness) {
    let (status, _) = api.get("/v1/review/queue", Some(ALICE)).await;
    assert_eq!(status, StatusCode::OK);
    let rotated = "alice-rotated-token-0123456789xyz";
    std::fs::write(
        &api.reviewers_file,
        common::reviewers_toml(&[("alice", "reviewer", rotated)]),
    )
    .unwrap();
    // A new modification time is what triggers the re-read (set ahead: coarse clocks).
    let file = std::fs::File::options()
        .write(true)
        .open(&api.reviewers_file)
        .unwrap();
    file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    let (status, _) = api.get("/v1/review/queue", Some(ALICE)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = api.get("/v1/review/queue", Some(rotated)).await;
    assert_eq!(status, StatusCode::OK);
}

both_backends!(admins_suspend_reinstate_hold_erase_and_export_and_reviewers_cannot);

async fn admins_suspend_reinstate_hold_erase_and_export_and_reviewers_cannot(api: Harness) {
    let suspend = "/v1/admin/accounts/AC9/suspend";
    let reason = json!({"reason": "Confirmed by the fraud team"});
    let (status, body) = api.post(suspend, Some(ALICE), reason.clone()).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "forbidden")
    );

    let (status, body) = api.post(suspend, Some(ROOT), reason.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = api.post(suspend, Some(ROOT), reason).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "already_active")
    );
    let payloads: Vec<Value> = api
        .store
        .unsent_events(100)
        .await
        .unwrap()
        .iter()
        .map(|e| serde_json::from_str(&e.payload).unwrap())
        .collect();
    assert!(
        payloads
            .iter()
            .any(|p| p["action"] == "suspend" && p["by"] == "admin:root")
    );
    // A suspension by hand says so, with the policy and redress beyond the appeal.
    let notice = payloads.iter().find(|p| p["kind"] == "suspended").unwrap();
    assert_eq!(notice["automated"], false);
    assert_eq!(
        notice["policy_url"],
        "https://warden.example.com/acceptable-use"
    );
    assert!(notice["appeal_deadline"].is_string());
    // Its events are the outbox's to send, not the stream processor's at its next start.
    assert!(api.store.unnotified_cases().await.unwrap().is_empty());

    let reinstate = "/v1/admin/accounts/AC9/reinstate";
    let (status, body) = api
        .post(reinstate, Some(ROOT), json!({"reason": "Court order"}))
        .await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::OK, &json!("overturned"))
    );
    let (status, body) = api
        .post(reinstate, Some(ROOT), json!({"reason": "Again"}))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "no_active_case")
    );

    // Erasure waits for a legal hold to be lifted.
    api.case("AC3", CaseStatus::Suspended).await;
    let hold = api
        .http
        .put(api.url("/v1/admin/accounts/AC3/legal-hold"))
        .bearer_auth(ROOT)
        .json(&json!({"reason": "Litigation 2026-17"}))
        .send()
        .await
        .unwrap();
    assert_eq!(hold.status(), StatusCode::OK);
    let erase = || {
        api.http
            .delete(api.url("/v1/admin/accounts/AC3/evidence"))
            .bearer_auth(ROOT)
            .send()
    };
    let (status, body) = answer(erase().await.unwrap()).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "legal_hold")
    );
    let (_, export) = api.get("/v1/admin/accounts/AC3/export", Some(ROOT)).await;
    assert_eq!(export["legal_hold"], "Litigation 2026-17");
    assert_eq!(export["evidence"].as_array().unwrap().len(), 1);
    // An exported piece of evidence is the reviewers' view of it, with the case it belongs to.
    let evidence = &export["evidence"][0];
    assert_eq!(evidence["case_id"], export["cases"][0]["case_id"]);
    assert!(evidence["excerpt"].is_string() && evidence["sent_at"].is_string());
    let lifted = api
        .http
        .delete(api.url("/v1/admin/accounts/AC3/legal-hold"))
        .bearer_auth(ROOT)
        .send()
        .await
        .unwrap();
    assert_eq!(lifted.status(), StatusCode::OK);
    let (status, body) = answer(erase().await.unwrap()).await;
    assert_eq!(
        (status, &body["erased"]["evidence"]),
        (StatusCode::OK, &json!(1))
    );
    let (_, export) = api.get("/v1/admin/accounts/AC3/export", Some(ROOT)).await;
    assert_eq!(export["evidence"], json!([]));
    assert_eq!(export["cases"].as_array().unwrap().len(), 1);

    let (status, audit) = api.get("/v1/admin/audit?account_id=AC3", Some(ROOT)).await;
    assert_eq!(status, StatusCode::OK);
    // Entries within one millisecond have no order between them: compare as sets.
    let mut actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "erase_evidence",
            "legal_hold_lifted",
            "legal_hold_set",
            "suspend"
        ]
    );
    let (status, _) = api.get("/v1/admin/audit", Some(ROOT)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Without a stream processor there is nothing to reload.
    let (status, body) = api
        .post("/v1/admin/rules/reload", Some(ROOT), json!({}))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "no_stream_processor")
    );
}

both_backends!(metrics_and_health_answer_without_credentials);

async fn metrics_and_health_answer_without_credentials(api: Harness) {
    let (_, token) = api.case("AC1", CaseStatus::Suspended).await;
    api.appeal(&token, "please").await;
    let (status, _) = api.get("/v1/review/queue", Some(ALICE)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, health) = api.get("/healthz", None).await;
    assert_eq!((status, &health["status"]), (StatusCode::OK, &json!("ok")));
    // No broker behind this instance: not ready, and says why.
    let (status, ready) = api.get("/readyz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        (&ready["database"], &ready["broker"]),
        (&json!(true), &json!(false))
    );

    let text = api.metrics().await;
    // Routes are labelled by pattern, never by the ids in the path.
    assert!(
        text.contains(r#"warden_http_requests_total{route="/v1/review/queue",status="200"}"#),
        "{text}"
    );
    assert!(text.contains("warden_appeals_open 1"), "{text}");
    assert!(text.contains("warden_circuit_breaker_tripped 0"), "{text}");
    assert!(!text.contains("AC1"), "an account id in a label: {text}");
}

both_backends!(the_oldest_open_appeals_age_is_exported_and_grows_while_it_waits);

/// The "appeal queue past its SLA" alert reads this gauge: it must grow while an appeal waits.
/// (The gauges are the process's: every test that scrapes them has exactly one open appeal by
/// then, so tests running side by side agree on `warden_appeals_open`.)
async fn the_oldest_open_appeals_age_is_exported_and_grows_while_it_waits(api: Harness) {
    let scrape = || async {
        let text = api.metrics().await;
        let line = text
            .lines()
            .find(|l| l.starts_with("warden_appeal_age_seconds "))
            .unwrap_or_else(|| panic!("no appeal age gauge: {text}"))
            .to_owned();
        line["warden_appeal_age_seconds ".len()..]
            .parse::<i64>()
            .unwrap()
    };
    let (_, token) = api.case("AC1", CaseStatus::Suspended).await;
    let (status, _) = api.appeal(&token, "please").await;
    assert_eq!(status, StatusCode::CREATED);
    // Whole seconds: the gauge leaves 0 once the appeal has waited one.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut age = scrape().await;
    while age == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        age = scrape().await;
    }
    assert!(age >= 1, "the appeal has waited, the gauge says {age}");
}

both_backends!(the_openapi_document_lists_every_route_it_serves);

async fn the_openapi_document_lists_every_route_it_serves(api: Harness) {
    let (status, document) = api.get("/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    assert_eq!(
        paths.len(),
        warden::api::openapi::endpoints()
            .iter()
            .map(|e| e.path)
            .collect::<std::collections::HashSet<_>>()
            .len()
    );
    let hold = &paths["/v1/admin/accounts/{account_id}/legal-hold"];
    assert!(hold["put"].is_object() && hold["delete"].is_object());
    assert_eq!(hold["put"]["security"], json!([{"bearer": []}]));
    let appeal = &paths["/v1/appeals"]["post"];
    assert_eq!(
        appeal["requestBody"]["content"]["application/json"]["schema"]["required"],
        json!(["token", "statement"])
    );
    assert!(appeal.get("security").is_none());
}
