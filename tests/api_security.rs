//! Hostile callers against the review API, over real HTTP to `api::serve` on a real database.
//!
//! Injection and path tricks: every parameter of every endpoint in `api::openapi::endpoints()`
//! (path and query parameters, JSON body fields, the Authorization header) gets SQL-injection
//! strings, NUL and control bytes, overlong values, odd Unicode, and path tricks (`../`, encoded
//! and double-encoded dots and slashes, `//`, absurd ids), one parameter at a time with every
//! other one valid. Each answer must be a 4xx with the JSON error body, or, where the value is a
//! legitimate one (free text, a well-formed account id), an answer about that literal value
//! only; never a 5xx, a secret or database error text. Afterwards a bystander case is unchanged.
//! Requests are written by hand on a TCP stream, so that no client library normalizes them.
//!
//! Floods: a burst of concurrent appeals from one address (behind spoofed forwarding headers) is
//! cut at the rate limit with JSON 429s; bodies over the limit get 413 however they are framed;
//! a request that stalls is cut by the timeout; the server then answers normally.
//!
//! The logs of every test here are captured and must never hold a token or the HMAC key.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use common::database::{Backend, account, fresh, new_case};
use warden::api::auth::{ReviewerDirectory, token_hash};
use warden::api::openapi::{Access, endpoints};
use warden::api::{self, AppState};
use warden::config::ApiConfig;
use warden::enforce::token::{AppealGrant, sign};
use warden::message::AccountId;
use warden::privacy::Secret;
use warden::store::{CaseStatus, NewCase, Store};

const SECRET: &str = "security-test-hmac-key-0123456789";
const ALICE: &str = "alice-security-reviewer-token-0123456789";
const ROOT: &str = "root-security-admin-token-0123456789abc";
/// The account whose case every request is aimed at, and one no request names.
const TARGET: &str = "ACtarget";
const BYSTANDER: &str = "ACbystander";

/// Where the logs of this test binary go, to be searched for secrets.
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logs);
        tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_ansi(false)
            .with_writer(move || LogWriter(Arc::clone(&sink)))
            .init();
        logs
    })
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `warden serve`'s API on a free port and a fresh database, with a reviewer and an admin.
struct Server {
    address: SocketAddr,
    store: Store,
    stop: watch::Sender<bool>,
    _dirs: (tempfile::TempDir, Option<tempfile::TempDir>),
}

impl Server {
    async fn start(settings: ApiConfig, backend: Backend) -> Option<Self> {
        logs();
        let (store, database_dir) = fresh(backend, "api_security").await?;
        let dir = tempfile::tempdir().unwrap();
        let reviewers_file = dir.path().join("reviewers.toml");
        let entries = [("alice", "reviewer", ALICE), ("root", "admin", ROOT)];
        let toml: String = entries
            .iter()
            .map(|(name, role, token)| {
                let hash = token_hash(token);
                format!("[[reviewer]]\nname = \"{name}\"\nrole = \"{role}\"\ntoken_sha256 = \"{hash}\"\n")
            })
            .collect();
        std::fs::write(&reviewers_file, toml).unwrap();
        // No broker: the outbox keeps the events.
        let producer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", "127.0.0.1:1")
            .create()
            .unwrap();
        let appeal = common::appeal_settings(SECRET);
        let state = AppState::new(
            store.clone(),
            appeal,
            ReviewerDirectory::open(reviewers_file).unwrap(),
            settings,
            producer,
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, shutdown) = watch::channel(false);
        tokio::spawn(api::serve(listener, state, shutdown));
        Some(Self {
            address,
            store,
            stop,
            _dirs: (dir, database_dir),
        })
    }

    /// Opens a suspension of `account` and returns its case id and appeal token.
    async fn case(&self, account: &str) -> (String, String) {
        let case = NewCase {
            status: CaseStatus::Suspended,
            ..new_case(account, &format!("SM-{account}"), 1_795_996_800_000)
        };
        let case_id = case.case_id();
        self.store.open_case(&case, &[]).await.unwrap();
        let grant = AppealGrant {
            case_id: case_id.clone(),
            account_id: self::account(account),
            expires_at: OffsetDateTime::now_utc() + time::Duration::days(30),
        };
        (case_id.to_string(), sign(&Secret::new(SECRET), &grant))
    }

    async fn send(&self, request: &[u8]) -> Reply {
        send(self.address, request).await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// An HTTP/1.1 request, byte for byte; `Connection: close`, so the answer ends at EOF.
fn request(method: &str, target: &str, headers: &[(&str, &[u8])], body: Option<&[u8]>) -> Vec<u8> {
    let mut bytes = format!(
        "{} {target} HTTP/1.1\r\nHost: warden.test\r\nConnection: close\r\n",
        method.to_uppercase()
    )
    .into_bytes();
    for (name, value) in headers {
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(value);
        bytes.extend_from_slice(b"\r\n");
    }
    let body = body.unwrap_or_default();
    if method != "get" && method != "delete" {
        bytes.extend_from_slice(b"Content-Type: application/json\r\n");
        bytes.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    bytes
}

#[derive(Debug)]
struct Reply {
    status: u16,
    content_type: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Sends `request` and reads the whole answer (within 10 s).
async fn send(address: SocketAddr, request: impl AsRef<[u8]>) -> Reply {
    let exchange = async {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(request.as_ref()).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        answer
    };
    let answer = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .expect("an answer within 10 s");
    parse(&answer)
}

fn parse(answer: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(answer);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap();
    let content_type = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map_or(String::new(), |(_, value)| value.trim().to_owned());
    Reply {
        status: status.parse().unwrap(),
        content_type,
        body: body.to_owned(),
    }
}

/// Every byte but RFC 3986's unreserved ones percent-encoded.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether `value` can stand in a request target as it is (else only encoded).
fn fits_a_url(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%/!$&'()*+,;=:@?".contains(&b))
}

/// The hostile values: SQL injection, NUL and control bytes, overlong, Unicode, path tricks.
fn payloads() -> Vec<String> {
    let mut payloads: Vec<String> = [
        "' OR 1=1 --",
        "' OR '1'='1",
        "'OR'1'='1'--",
        "1; DROP TABLE cases",
        "'; DROP TABLE cases; --",
        "\"; DROP TABLE appeals; --",
        "\" OR \"\"=\"",
        "ACtarget' --",
        "ACtarget'/*",
        "%' OR account_id LIKE '%",
        "1 UNION SELECT token_sha256, 1 FROM reviewers --",
        "'",
        "\"",
        "`",
        "\\",
        "\\'; --",
        "ACtarget\0",
        "\0",
        "\0' OR 1=1 --",
        "ACtarget\r\nX-Injected: 1",
        "\u{7}\u{1b}[31m",
        "ＡＣｔａｒｇｅｔ",
        "ACtarget\u{202e}",
        "\u{feff}ACtarget",
        "💥🔥",
        "Ω≈ç√∫",
        "a\u{301}\u{301}\u{301}\u{301}",
        "..",
        ".",
        "../",
        "../../v1/admin/audit",
        "..%2f..%2fv1%2fadmin%2faudit",
        "%2e%2e%2f",
        "%2e%2e/%2e%2e/v1/admin/audit",
        "%252e%252e%252f",
        "..%252f..%252f",
        "%2F",
        "a%2Fb",
        "//",
        "/v1/admin/audit",
        "..\\..\\",
        "%5c..%5c",
        "%00",
        "%ff%fe",
        "%",
        "ACtarget%00.json",
        "?account_id=ACtarget",
        "&limit=1000000",
        "0",
        "-1",
        "99999999999999999999999999",
        "CS000000000000000000000000",
        "AP000000000000000000000000",
        "null",
        "[]",
        "{}",
        "*",
        "",
        " ",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    payloads.push("A".repeat(200));
    payloads.push("'".repeat(10_000));
    payloads.push("é".repeat(5_000));
    payloads
}

/// Where a parameter travels.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Place {
    Path,
    Query,
    Body,
    Header,
}

/// What a hostile value in a parameter may get, besides a 4xx.
#[derive(Debug, PartialEq)]
enum Allowed {
    /// Only a 4xx: an id that must name something that exists, a credential, a closed set.
    Refusal,
    /// A well-formed account id may be acted on: the account of that literal id, and no other.
    LiteralAccount,
    /// Free text (1 to 1,000 characters, no control characters but tab and newline) is stored
    /// as it is.
    Text,
}

/// Every parameter of the endpoint table must be classified here: a new one fails the test
/// until someone decides what it may accept.
fn allowed(place: Place, name: &str) -> Allowed {
    match (place, name) {
        (Place::Path, "id" | "case_id") => Allowed::Refusal,
        (Place::Path | Place::Query, "account_id") => Allowed::LiteralAccount,
        (Place::Query | Place::Body, "token") => Allowed::Refusal,
        (Place::Query, "limit") | (Place::Body, "outcome" | "version") => Allowed::Refusal,
        (Place::Header, "Authorization") => Allowed::Refusal,
        (Place::Body, "statement" | "note" | "reason") => Allowed::Text,
        other => panic!("{other:?} is not classified: say what a hostile value in it may get"),
    }
}

fn acceptable_text(value: &str) -> bool {
    let value = value.trim();
    !value.is_empty()
        && value.chars().count() <= 1_000
        && !value
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// Text that must never appear in an answer: credentials, the key, database errors.
fn leaks(body: &str, hostile: &str, tokens: &[&str]) -> Vec<String> {
    let mut found: Vec<String> = [SECRET, ALICE, ROOT]
        .iter()
        .chain(tokens)
        .filter(|secret| body.contains(*secret))
        .map(|secret| format!("secret {secret}"))
        .collect();
    let lower = body.to_lowercase();
    for marker in [
        "sqlx",
        "sqlite",
        "postgres",
        "sqlstate",
        "syntax error",
        "error returned from database",
        "no such table",
        "token_sha256",
        "panicked",
    ] {
        if lower.contains(marker) && !hostile.to_lowercase().contains(marker) {
            found.push(format!("database or internal text `{marker}`"));
        }
    }
    found
}

/// The values a valid request carries.
struct Fixture {
    case_id: String,
    appeal_id: String,
    token: String,
}

impl Fixture {
    fn path_value(&self, name: &str) -> &str {
        match name {
            "id" => &self.appeal_id,
            "case_id" => &self.case_id,
            "account_id" => TARGET,
            other => panic!("no valid value for path parameter {other}"),
        }
    }

    fn query_value(&self, name: &str) -> &str {
        match name {
            "token" => &self.token,
            "limit" => "10",
            "account_id" => TARGET,
            other => panic!("no valid value for query parameter {other}"),
        }
    }

    fn body_value(&self, name: &str) -> &str {
        match name {
            "token" => &self.token,
            "statement" => "These were my customers' delivery notices",
            "outcome" => "uphold",
            "note" => "Checked by hand",
            "reason" => "Confirmed by the fraud team",
            // No set was ever taken here: a rollback to any version is a 404 at most.
            "version" => "0123456789ab",
            other => panic!("no valid value for body field {other}"),
        }
    }
}

/// One request to an endpoint with `hostile` standing in for one parameter, written as it
/// would travel there (`verbatim`: into the URL as it is, not percent-encoded).
fn hostile_request(
    endpoint: &warden::api::openapi::Endpoint,
    fixture: &Fixture,
    target: (Place, &str),
    hostile: &str,
    verbatim: bool,
) -> Vec<u8> {
    let in_url = |value: &str| {
        if verbatim {
            value.to_owned()
        } else {
            encode(value)
        }
    };
    let mut path = String::new();
    for segment in endpoint.path.split('/').skip(1) {
        path.push('/');
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) if target == (Place::Path, name) => path.push_str(&in_url(hostile)),
            Some(name) => path.push_str(&encode(fixture.path_value(name))),
            None => path.push_str(segment),
        }
    }
    let query: Vec<String> = endpoint
        .query
        .iter()
        .map(|(name, _, _)| {
            let value = if target == (Place::Query, *name) {
                in_url(hostile)
            } else {
                encode(fixture.query_value(name))
            };
            format!("{name}={value}")
        })
        .collect();
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    let body: serde_json::Map<String, Value> = endpoint
        .body
        .iter()
        .map(|(name, _, _)| {
            let value = if target == (Place::Body, *name) {
                hostile
            } else {
                fixture.body_value(name)
            };
            (name.to_string(), Value::String(value.to_owned()))
        })
        .collect();
    let body = (!body.is_empty()).then(|| serde_json::to_vec(&body).unwrap());
    let authorization = match target {
        (Place::Header, _) => format!("Bearer {hostile}").into_bytes(),
        _ if endpoint.access == Access::Admin || endpoint.access == Access::Reviewer => {
            format!("Bearer {ROOT}").into_bytes()
        }
        _ => Vec::new(),
    };
    let headers: Vec<(&str, &[u8])> = if authorization.is_empty() {
        Vec::new()
    } else {
        vec![("Authorization", &authorization)]
    };
    request(endpoint.method, &path, &headers, body.as_deref())
}

/// Every parameter of `endpoint`, where it travels and its name.
fn parameters(endpoint: &warden::api::openapi::Endpoint) -> Vec<(Place, &'static str)> {
    let mut parameters: Vec<(Place, &'static str)> = endpoint
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| (Place::Path, name))
        .collect();
    parameters.extend(
        endpoint
            .query
            .iter()
            .map(|(name, _, _)| (Place::Query, *name)),
    );
    parameters.extend(
        endpoint
            .body
            .iter()
            .map(|(name, _, _)| (Place::Body, *name)),
    );
    if matches!(endpoint.access, Access::Reviewer | Access::Admin) {
        parameters.push((Place::Header, "Authorization"));
    }
    parameters
}

/// What a reviewer sees of a case, and an admin of its account, minus the clock.
async fn snapshot(server: &Server, case_id: &str, account: &str) -> Value {
    let get = |path: String| {
        request(
            "get",
            &path,
            &[("Authorization", format!("Bearer {ROOT}").as_bytes())],
            None,
        )
    };
    let case = server
        .send(&get(format!("/v1/review/cases/{case_id}")))
        .await;
    let export = server
        .send(&get(format!("/v1/admin/accounts/{account}/export")))
        .await;
    assert_eq!(
        (case.status, export.status),
        (200, 200),
        "{case:?} {export:?}"
    );
    json!({"case": case.json(), "export": export.json()})
}

#[tokio::test]
async fn hostile_values_in_every_parameter_get_json_4xx_on_sqlite() {
    hostile_values_in_every_parameter(Backend::Sqlite).await;
}

#[tokio::test]
async fn hostile_values_in_every_parameter_get_json_4xx_on_postgres() {
    hostile_values_in_every_parameter(Backend::Postgres).await;
}

async fn hostile_values_in_every_parameter(backend: Backend) {
    let settings = ApiConfig {
        appeals_per_minute: 1_000_000,
        ..ApiConfig::default()
    };
    let Some(server) = Server::start(settings, backend).await else {
        return;
    };
    let (bystander_case, bystander_token) = server.case(BYSTANDER).await;
    let (case_id, token) = server.case(TARGET).await;
    let opened = server
        .send(&request(
            "post",
            "/v1/appeals",
            &[],
            Some(
                json!({"token": token, "statement": "mine"})
                    .to_string()
                    .as_bytes(),
            ),
        ))
        .await;
    assert_eq!(opened.status, 201, "{opened:?}");
    let fixture = Fixture {
        case_id,
        appeal_id: opened.json()["appeal_id"].as_str().unwrap().to_owned(),
        token,
    };
    let before = snapshot(&server, &bystander_case, BYSTANDER).await;
    let tokens = [fixture.token.as_str(), bystander_token.as_str()];

    let payloads = payloads();
    let mut failures = Vec::new();
    let (mut sent, mut exercised) = (0, 0);
    for endpoint in endpoints() {
        let parameters = parameters(&endpoint);
        if parameters.is_empty() {
            // Nothing to put a hostile value in: only public, read-only endpoints may be so.
            assert!(
                endpoint.access == Access::Public && endpoint.method == "get",
                "{} {} takes no parameter the test knows of",
                endpoint.method,
                endpoint.path
            );
            continue;
        }
        for &(place, name) in &parameters {
            exercised += 1;
            let allowed = allowed(place, name);
            for hostile in &payloads {
                let mut ways = vec![false];
                if matches!(place, Place::Path | Place::Query) && fits_a_url(hostile) {
                    ways.push(true);
                }
                if place == Place::Header && hostile.bytes().any(|b| b < 0x20 || b == 0x7f) {
                    // Not a header value at all: HTTP itself refuses it before the API.
                    continue;
                }
                for verbatim in ways {
                    let request =
                        hostile_request(&endpoint, &fixture, (place, name), hostile, verbatim);
                    let reply = server.send(&request).await;
                    sent += 1;
                    let what = format!(
                        "{} {} {place:?} {name} = {hostile:?}{}: {} {}",
                        endpoint.method,
                        endpoint.path,
                        if verbatim { " (verbatim)" } else { "" },
                        reply.status,
                        reply.body.chars().take(300).collect::<String>()
                    );
                    for leak in leaks(&reply.body, hostile, &tokens) {
                        failures.push(format!("{leak} in {what}"));
                    }
                    match reply.status {
                        400..=499 => {
                            let body = reply.json();
                            let shaped = reply.content_type.starts_with("application/json")
                                && body["error"]["code"].is_string()
                                && body["error"]["message"].is_string();
                            if !shaped {
                                failures.push(format!("not a JSON error: {what}"));
                            }
                        }
                        200..=299 => {
                            // Encoded values reach the handler exactly as written.
                            let refused = match allowed {
                                Allowed::Refusal => true,
                                Allowed::LiteralAccount => {
                                    !verbatim
                                        && AccountId::parse("account_id", hostile.clone()).is_err()
                                }
                                Allowed::Text => !acceptable_text(hostile),
                            };
                            let body = reply.json();
                            let other_account = [BYSTANDER, bystander_case.as_str()]
                                .iter()
                                .any(|other| reply.body.contains(other));
                            if refused || other_account || body.is_null() {
                                failures.push(format!("accepted: {what}"));
                            }
                        }
                        _ => failures.push(format!("server error: {what}")),
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {sent} requests:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(exercised >= 30, "only {exercised} parameters exercised");

    // The database is whole and the bystander's case untouched.
    let after = snapshot(&server, &bystander_case, BYSTANDER).await;
    assert_eq!(before, after);
    let active: Vec<String> = server
        .store
        .active_accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|(account, _)| account.to_string())
        .collect();
    assert!(active.contains(&BYSTANDER.to_owned()), "{active:?}");
    assert_no_secret_in_logs(&tokens);
}

fn assert_no_secret_in_logs(tokens: &[&str]) {
    let logs = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    assert!(
        logs.contains("route="),
        "the request logs were not captured"
    );
    for secret in [SECRET, ALICE, ROOT].iter().chain(tokens) {
        assert!(!logs.contains(secret), "a secret in the logs: {secret}");
    }
}

fn assert_json_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(
        (reply.status, reply.json()["error"]["code"].as_str()),
        (status, Some(code)),
        "{reply:?}"
    );
    assert!(
        reply.content_type.starts_with("application/json"),
        "{reply:?}"
    );
}

/// The server answers ordinary requests.
async fn assert_answers_normally(server: &Server) {
    let health = server.send(&request("get", "/healthz", &[], None)).await;
    assert_eq!(health.status, 200, "{health:?}");
    let auth = format!("Bearer {ALICE}");
    let queue = server
        .send(&request(
            "get",
            "/v1/review/queue",
            &[("Authorization", auth.as_bytes())],
            None,
        ))
        .await;
    assert_eq!(queue.status, 200, "{queue:?}");
}

#[tokio::test]
async fn a_burst_of_appeals_from_one_address_is_cut_at_the_rate_limit_whatever_its_headers_claim() {
    let settings = ApiConfig {
        appeals_per_minute: 5,
        ..ApiConfig::default()
    };
    let server = Server::start(settings, Backend::Sqlite).await.unwrap();
    let (_, token) = server.case(TARGET).await;
    let body = json!({"token": token, "statement": "please"}).to_string();
    let started = Instant::now();
    let replies = futures::future::join_all((0..60).map(|i| {
        // Forwarding headers name another client each time: the limit is on the peer address.
        let spoofed = format!("10.0.{}.{}", i / 200, i % 200 + 1);
        let forwarded = format!("for={spoofed}");
        let request = request(
            "post",
            "/v1/appeals",
            &[
                ("X-Forwarded-For", spoofed.as_bytes()),
                ("X-Real-IP", spoofed.as_bytes()),
                ("Forwarded", forwarded.as_bytes()),
            ],
            Some(body.as_bytes()),
        );
        send(server.address, request)
    }))
    .await;
    // The quota is 5 at once, then one more every 12 s.
    let quota = 5 + (started.elapsed().as_secs() / 12) as usize;
    let limited: Vec<&Reply> = replies.iter().filter(|r| r.status == 429).collect();
    let through = replies.len() - limited.len();
    assert!(
        (5..=quota).contains(&through),
        "{through} got through: {replies:?}"
    );
    for reply in &replies {
        match reply.status {
            429 => assert_json_error(reply, 429, "rate_limited"),
            status => assert!(status == 201 || status == 200, "{reply:?}"),
        }
    }
    assert_answers_normally(&server).await;
    assert_no_secret_in_logs(&[&token]);
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_however_they_are_framed() {
    let settings = ApiConfig {
        body_limit_bytes: 4_096,
        ..ApiConfig::default()
    };
    let server = Server::start(settings, Backend::Sqlite).await.unwrap();
    let (case_id, _) = server.case(TARGET).await;
    let with_body: Vec<_> = endpoints()
        .into_iter()
        .filter(|e| !e.body.is_empty())
        .collect();
    assert!(with_body.len() >= 5);
    for endpoint in with_body {
        let path = endpoint
            .path
            .replace("{case_id}", &case_id)
            .replace("{account_id}", TARGET);
        let head = |framing: &str| {
            format!(
                "{} {path} HTTP/1.1\r\nHost: warden.test\r\nConnection: close\r\n\
                 Authorization: Bearer {ROOT}\r\nContent-Type: application/json\r\n{framing}\r\n",
                endpoint.method.to_uppercase()
            )
            .into_bytes()
        };
        // Chunked, with no length announced: cut once the limit is passed.
        let mut chunked = head("Transfer-Encoding: chunked\r\n");
        let chunk = format!("{{\"x\": \"{}\"}}", "y".repeat(5_000));
        chunked.extend(format!("{:x}\r\n{chunk}\r\n0\r\n\r\n", chunk.len()).as_bytes());
        let reply = server.send(&chunked).await;
        assert_json_error(&reply, 413, "body_too_large");
        // A length far over the limit, announced and never sent: refused without waiting.
        let mut announced = head("Content-Length: 1000000000\r\n");
        announced.extend_from_slice(b"{\"x\": ");
        let started = Instant::now();
        let reply = server.send(&announced).await;
        assert_json_error(&reply, 413, "body_too_large");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
    }
    assert_answers_normally(&server).await;
}

/// Opens a connection, sends `bytes` and then nothing; returns the time until the server
/// answered or closed, and what it answered (within 20 s).
async fn stall(address: SocketAddr, bytes: &[u8]) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes a stalled request within 20 s")
        .unwrap_or_default();
    (started.elapsed(), answer)
}

#[tokio::test]
async fn stalled_requests_are_cut_by_the_timeout_and_do_not_hold_the_server() {
    let settings = ApiConfig {
        request_timeout_ms: 1_000,
        ..ApiConfig::default()
    };
    let server = Server::start(settings, Backend::Sqlite).await.unwrap();
    // A body that stops halfway: answered 503 at the timeout.
    let started_body = b"POST /v1/appeals HTTP/1.1\r\nHost: warden.test\r\nConnection: close\r\n\
        Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"token\": \"";
    let (took, answer) = stall(server.address, started_body).await;
    assert_json_error(&parse(&answer), 503, "timeout");
    assert!(took < Duration::from_secs(5), "{took:?}");

    // Headers that never end (slowloris), many at once: closed, and meanwhile others are served.
    let stalled = futures::future::join_all((0..50).map(|_| {
        stall(
            server.address,
            b"GET /v1/review/queue HTTP/1.1\r\nHost: warden.test\r\nX-Slow: 1",
        )
    }));
    let (stalled, ()) = tokio::join!(stalled, assert_answers_normally(&server));
    for (took, _) in stalled {
        assert!(
            took < Duration::from_secs(10),
            "a stalled request held for {took:?}"
        );
    }
    assert_answers_normally(&server).await;
}
