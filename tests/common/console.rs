//! The reviewers' console for tests: the API's router on a real port over a fresh SQLite store,
//! three people in the reviewers file, and, when a broker is given, the outbox delivered to it
//! as `warden serve` delivers it. Plus headless Chromium over WebDriver for the journeys.
#![allow(dead_code)] // each test binary uses its own subset

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use time::OffsetDateTime;
use tokio::sync::watch;
use warden::api::auth::ReviewerDirectory;
use warden::api::{self, AppState};
use warden::config::{ApiConfig, Topics};
use warden::enforce::token::{AppealGrant, sign};
use warden::message::{Action, MessageId, RuleId};
use warden::privacy::Secret;
use warden::store::{CaseId, CaseStatus, Evidence, NewCase, Store};

use crate::common::database::{account, new_case};
use crate::common::kafka::free_port;

pub const SECRET: &str = "console-test-appeal-secret-012345";
pub const ALICE: &str = "alice-reviewer-token-0123456789";
pub const BOB: &str = "bob-reviewer-token-0123456789abc";
pub const ROOT: &str = "root-admin-token-0123456789abcdef";

pub use crate::common::reviewers_toml;

/// A running API and console.
pub struct Console {
    pub base: String,
    pub store: Store,
    pub reviewers_file: PathBuf,
    stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

impl Console {
    /// Serves on a free loopback port; with `broker` (address and topics), the outbox is
    /// produced to it.
    pub async fn start(settings: ApiConfig, broker: Option<(String, Topics)>) -> Self {
        Self::start_with(settings, broker, None).await
    }

    /// As [`Console::start`], with the stream processor's rules reload as `warden run` gives it.
    pub async fn start_with(
        settings: ApiConfig,
        broker: Option<(String, Topics)>,
        reload: Option<api::Reload>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("warden.db").display());
        let store = Store::connect(&url).await.unwrap();
        let reviewers_file = dir.path().join("reviewers.toml");
        std::fs::write(
            &reviewers_file,
            reviewers_toml(&[
                ("alice", "reviewer", ALICE),
                ("bob", "reviewer", BOB),
                ("root", "admin", ROOT),
            ]),
        )
        .unwrap();
        let address = broker
            .as_ref()
            .map_or("127.0.0.1:1".to_owned(), |(address, _)| address.clone());
        let producer: rdkafka::producer::FutureProducer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &address)
            .set("message.timeout.ms", "10000")
            .create()
            .unwrap();
        let mut state = AppState::new(
            store.clone(),
            crate::common::appeal_settings(SECRET),
            ReviewerDirectory::open(reviewers_file.clone()).unwrap(),
            settings,
            producer.clone(),
        );
        if let Some(reload) = reload {
            state = state.with_reload(reload);
        }
        let (stop, shutdown) = watch::channel(false);
        if let Some((_, topics)) = broker {
            let wake = Arc::clone(&state.outbox);
            tokio::spawn(api::outbox::deliver(
                store.clone(),
                producer,
                topics,
                wake,
                shutdown.clone(),
            ));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let bound: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(api::serve(listener, state, shutdown));
        Self {
            base: format!("http://{bound}"),
            store,
            reviewers_file,
            stop,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Opens a case for `account` whose one piece of evidence is `excerpt` (stored as given);
    /// returns its id and the appeal token its notice would carry.
    pub async fn case(&self, account: &str, status: CaseStatus, excerpt: &str) -> (CaseId, String) {
        let mut case = NewCase {
            status,
            ..new_case(account, &format!("SM-{account}"), 1_795_996_800_000)
        };
        case.evidence = vec![Evidence {
            message_id: MessageId::parse("message_id", format!("SM-{account}")).unwrap(),
            excerpt: excerpt.to_owned(),
            rule_hits: vec![RuleId::new("fraud.delivery_failed_link")],
            action: Action::Block,
            sent_at: 1_795_996_800_000,
        }];
        let case_id = case.case_id();
        self.store.open_case(&case, &[]).await.unwrap();
        let token = sign(
            &Secret::new(SECRET),
            &AppealGrant {
                case_id: case_id.clone(),
                account_id: self::account(account),
                expires_at: OffsetDateTime::now_utc() + time::Duration::days(30),
            },
        );
        (case_id, token)
    }

    /// A suspension of `account` with the holder's appeal `statement`, sent over HTTP as the
    /// holder would.
    pub async fn appealed(&self, account: &str, excerpt: &str, statement: &str) -> CaseId {
        let (case_id, token) = self.case(account, CaseStatus::Suspended, excerpt).await;
        let response = reqwest::Client::new()
            .post(self.url("/v1/appeals"))
            .json(&serde_json::json!({"token": token, "statement": statement}))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{:?}",
            response.text().await
        );
        case_id
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Headless Chromium driven over WebDriver by its chromedriver, stopped when dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
}

/// chromedriver, or `None` (test skipped, with a note) when absent, unless
/// `WARDEN_REQUIRE_BROWSER=1`, which CI sets.
fn chromedriver() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromedriver"))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        if std::env::var_os("WARDEN_REQUIRE_BROWSER").is_some_and(|v| v == "1") {
            panic!("chromedriver is not installed and WARDEN_REQUIRE_BROWSER=1");
        }
        eprintln!(
            "skipped: chromedriver is not installed (apt-get install chromium chromium-driver)"
        );
    }
    found
}

impl Browser {
    /// Starts chromedriver on a free port and a 1280×800 headless Chromium session.
    pub async fn start() -> Option<Self> {
        Self::start_with(&["--window-size=1280,800"]).await
    }

    /// As [`Browser::start`], with Chromium's own `args` (window size, colour scheme).
    pub async fn start_with(args: &[&str]) -> Option<Self> {
        let binary = chromedriver()?;
        let port = free_port();
        let driver = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut chromium_args = vec![
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
        ];
        chromium_args.extend(args);
        let capabilities = serde_json::json!({"goog:chromeOptions": {"args": chromium_args}});
        let capabilities = capabilities.as_object().unwrap().clone();
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let started = Instant::now();
        loop {
            let attempt = ClientBuilder::new(connector.clone())
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await;
            match attempt {
                Ok(client) => return Some(Self { client, driver }),
                Err(error) if started.elapsed() > Duration::from_secs(30) => {
                    panic!("no WebDriver session within 30 s: {error}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Runs `journey`; if it fails, saves a screenshot of the page as it was to
    /// `target/console-screenshots/NAME.png` (CI keeps it), then fails.
    pub async fn journey<F>(&self, name: &str, journey: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if let Err(failure) = tokio::spawn(journey).await {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
            if let Ok(png) = self.client.screenshot().await {
                let _ = std::fs::create_dir_all(&dir);
                let path = dir.join(format!("{name}.png"));
                if std::fs::write(&path, png).is_ok() {
                    eprintln!("screenshot of the failed journey: {}", path.display());
                }
            }
            std::panic::resume_unwind(failure.into_panic());
        }
    }

    /// With `WARDEN_CONSOLE_SCREENSHOTS=DIR`, saves the page as `DIR/NAME.png` (how the
    /// README's screenshots are made).
    pub async fn keep_screenshot(client: &Client, name: &str) {
        let Some(dir) = std::env::var_os("WARDEN_CONSOLE_SCREENSHOTS") else {
            return;
        };
        let png = client.screenshot().await.expect("a screenshot");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(PathBuf::from(dir).join(format!("{name}.png")), png).unwrap();
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
