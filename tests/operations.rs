//! Operators' files: the alert rules and the Grafana dashboard use only metrics Warden exports,
//! `promtool` accepts the rules, and a real Prometheus server scrapes a running Warden and
//! evaluates every rule without error.
//!
//! The Prometheus tests need `promtool` and `prometheus` (Debian package `prometheus`); they
//! skip with a note when those are absent, unless `WARDEN_REQUIRE_PROMETHEUS=1` (as in CI).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::database::new_case;
use common::kafka::{free_port, wait_until};
use warden::store::Store;

const ALERTS: &str = "config/prometheus/alerts.yml";
const DASHBOARD: &str = "config/grafana/warden.json";

/// Metric names (`warden_…`) in a file's expressions.
fn metric_names(path: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut names = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("warden_") {
        let name: String = rest[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[start + name.len()..];
        names.insert(name);
    }
    names
}

#[test]
fn the_dashboard_and_the_alerts_use_only_metrics_warden_exports() {
    let exported: BTreeSet<String> = warden::metrics::METRICS.names().iter().cloned().collect();
    for file in [ALERTS, DASHBOARD] {
        let used = metric_names(file);
        assert!(used.len() >= 7, "{file} uses {used:?}");
        let unknown: Vec<&String> = used.difference(&exported).collect();
        assert!(unknown.is_empty(), "{file} uses unexported {unknown:?}");
    }
    // The dashboard shows what an on-call engineer looks for first.
    let dashboard = metric_names(DASHBOARD);
    for needed in [
        "warden_messages_scored_total",
        "warden_decision_latency_seconds_bucket",
        "warden_consumer_lag",
        "warden_rule_hits_total",
        "warden_suspensions_total",
        "warden_reinstatements_total",
        "warden_appeal_age_seconds",
    ] {
        assert!(dashboard.contains(needed), "the dashboard lacks {needed}");
    }
}

/// A Prometheus tool, or `None` (skipped, with a note) when it is not installed.
fn prometheus_tool(name: &str) -> Option<String> {
    let found = Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return Some(name.to_owned());
    }
    if std::env::var_os("WARDEN_REQUIRE_PROMETHEUS").is_some_and(|v| v == "1") {
        panic!("{name} is not installed and WARDEN_REQUIRE_PROMETHEUS=1");
    }
    eprintln!("skipped: {name} is not installed (Debian package `prometheus`)");
    None
}

#[test]
fn promtool_accepts_the_alert_rules() {
    let Some(promtool) = prometheus_tool("promtool") else {
        return;
    };
    let output = Command::new(promtool)
        .args(["check", "rules", ALERTS])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Kills the process when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A Warden (`serve`, on a SQLite file in `dir`) and a real Prometheus scraping it every second
/// and evaluating the shipped alert rules; both are killed when this is dropped.
struct Scraped {
    _warden: Running,
    _prometheus: Running,
    api: String,
    http: reqwest::blocking::Client,
}

impl Scraped {
    /// Starts both once the database (`warden.db` in `dir`) is as the test wants it.
    fn start(prometheus: &str, dir: &Path) -> Self {
        let (warden_port, prometheus_port) = (free_port(), free_port());
        let config = dir.join("warden.toml");
        std::fs::write(
            &config,
            format!(
                "[database]\nurl = \"sqlite://{}\"\n[api]\nlisten = \"127.0.0.1:{warden_port}\"\n",
                dir.join("warden.db").display()
            ),
        )
        .unwrap();
        let warden = Running(
            Command::new(env!("CARGO_BIN_EXE_warden"))
                .args(["serve", "--config"])
                .arg(&config)
                .args(["--brokers", "127.0.0.1:1"])
                .env("WARDEN_APPEAL_SECRET", "operations-test-secret-0123456789")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let alerts = Path::new(env!("CARGO_MANIFEST_DIR")).join(ALERTS);
        let prometheus_config = dir.join("prometheus.yml");
        std::fs::write(
            &prometheus_config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\n\
                 scrape_configs:\n  - job_name: warden\n    static_configs:\n      - targets: ['127.0.0.1:{warden_port}']\n",
                alerts.display()
            ),
        )
        .unwrap();
        let prometheus = Running(
            Command::new(prometheus)
                .arg(format!("--config.file={}", prometheus_config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("tsdb").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let scraped = Scraped {
            _warden: warden,
            _prometheus: prometheus,
            api: format!("http://127.0.0.1:{prometheus_port}/api/v1"),
            http: reqwest::blocking::Client::new(),
        };
        wait_until(PATIENCE, "Prometheus to scrape Warden", || {
            scraped
                .get("/query?query=up%7Bjob%3D%22warden%22%7D")
                .is_some_and(|r| r["data"]["result"][0]["value"][1] == "1")
        });
        scraped
    }

    /// A Prometheus API answer, or `None` while it does not answer.
    fn get(&self, path: &str) -> Option<serde_json::Value> {
        self.http
            .get(format!("{}{path}", self.api))
            .send()
            .ok()?
            .json::<serde_json::Value>()
            .ok()
    }

    /// The alert rules once every one has been evaluated after a scrape of Warden's metrics.
    fn evaluated_rules(&self) -> Vec<serde_json::Value> {
        wait_until(PATIENCE, "Prometheus to scrape a Warden metric", || {
            self.get("/query?query=warden_circuit_breaker_tripped")
                .is_some_and(|r| r["data"]["result"][0]["value"][1] == "0")
        });
        let mut rules = Vec::new();
        wait_until(PATIENCE, "every alert rule to be evaluated", || {
            let Some(answer) = self.get("/rules") else {
                return false;
            };
            rules = answer["data"]["groups"][0]["rules"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            !rules.is_empty()
                && rules.iter().all(|r| {
                    r["health"] != "unknown" && r["lastEvaluation"] != "0001-01-01T00:00:00Z"
                })
        });
        rules
    }
}

/// How long Prometheus and Warden get to start, scrape and evaluate.
const PATIENCE: Duration = Duration::from_secs(60);

#[test]
fn a_real_prometheus_scrapes_warden_and_evaluates_every_alert_rule() {
    let Some(prometheus) = prometheus_tool("prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rules = Scraped::start(&prometheus, dir.path()).evaluated_rules();
    assert_eq!(rules.len(), 7);
    for rule in &rules {
        assert_eq!(rule["health"], "ok", "{rule}");
    }
    // Nothing is wrong with an idle Warden: no alert fires.
    assert!(rules.iter().all(|r| r["state"] == "inactive"), "{rules:?}");
}

/// An appeal that has waited 73 hours, past the 72 promised to account holders, fires the SLA
/// alert in a real Prometheus, from the gauge Warden sets from its store at each scrape.
#[test]
fn an_appeal_waiting_past_its_sla_fires_the_alert() {
    let Some(prometheus) = prometheus_tool("prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("warden.db").display());
    let opened_at =
        warden::clock::unix_ms(time::OffsetDateTime::now_utc() - time::Duration::hours(73));
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = Store::connect(&url).await.unwrap();
        let case = new_case("AC1", "SM-AC1", opened_at - 60_000);
        store.open_case(&case, &[]).await.unwrap();
        let case = store.case(&case.case_id()).await.unwrap().unwrap();
        store
            .open_appeal(&case, "I sent no spam", opened_at, &[])
            .await
            .unwrap();
    });
    let scraped = Scraped::start(&prometheus, dir.path());
    let mut state = String::new();
    wait_until(PATIENCE, "the appeal SLA alert to fire", || {
        let rules = scraped.evaluated_rules();
        let rule = rules
            .iter()
            .find(|r| r["name"] == "WardenAppealQueuePastSLA")
            .expect("the shipped alert rules have the SLA alert");
        state = rule["state"].as_str().unwrap_or_default().to_owned();
        state == "firing"
    });
    let age = scraped
        .get("/query?query=warden_appeal_age_seconds")
        .expect("Prometheus answers");
    let age: f64 = age["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(age >= 73.0 * 3600.0, "the gauge says {age} s");
}
