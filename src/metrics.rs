//! Operators' metrics (prefix `warden_`, names from DESIGN.md), exposed at `/metrics` by the
//! review API. Labels stay bounded: actions, categories, reasons, routes and statuses, never
//! account or message ids.

use std::cell::RefCell;
use std::sync::LazyLock;

use prometheus::core::Collector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    /// Every series name this process can export (histograms with their three suffixes).
    names: Vec<String>,
    pub messages_consumed: IntCounter,
    pub messages_scored: IntCounterVec,
    pub feedback_consumed: IntCounter,
    pub dead_letters: IntCounterVec,
    pub suspensions: IntCounterVec,
    pub account_steps: IntCounterVec,
    pub circuit_breaker_tripped: IntGauge,
    pub reinstatements: IntCounterVec,
    pub appeals_open: IntGauge,
    pub appeal_decisions: IntCounterVec,
    pub http_requests: IntCounterVec,
    pub http_request_seconds: HistogramVec,
    pub decision_latency: Histogram,
    pub rule_hits: IntCounterVec,
    pub shadow_rule_hits: IntCounterVec,
    pub shadow_would_change: IntCounterVec,
    pub model_score: HistogramVec,
    pub scoring_seconds: Histogram,
    pub batch_stage_seconds: HistogramVec,
    pub consumer_lag: IntGaugeVec,
    pub appeal_age_seconds: IntGauge,
    pub build_info: IntGaugeVec,
}

fn counter(builder: &Builder, name: &str, help: &str) -> IntCounter {
    let metric = IntCounter::new(name, help).expect("valid metric");
    builder.register(name, Box::new(metric.clone()));
    metric
}

fn counters(builder: &Builder, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    builder.register(name, Box::new(metric.clone()));
    metric
}

fn gauges(builder: &Builder, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let metric = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    builder.register(name, Box::new(metric.clone()));
    metric
}

fn histogram(builder: &Builder, name: &str, help: &str, buckets: &[f64]) -> Histogram {
    let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    let metric = Histogram::with_opts(opts).expect("valid metric");
    builder.register_histogram(name, Box::new(metric.clone()));
    metric
}

fn histograms(
    builder: &Builder,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    let metric = HistogramVec::new(opts, labels).expect("valid metric");
    builder.register_histogram(name, Box::new(metric.clone()));
    metric
}

fn gauge(builder: &Builder, name: &str, help: &str) -> IntGauge {
    let metric = IntGauge::new(name, help).expect("valid metric");
    builder.register(name, Box::new(metric.clone()));
    metric
}

/// Registers collectors and remembers their names.
struct Builder {
    registry: Registry,
    names: RefCell<Vec<String>>,
}

impl Builder {
    fn register(&self, name: &str, collector: Box<dyn Collector>) {
        self.registry.register(collector).expect("registered once");
        self.names.borrow_mut().push(name.to_owned());
    }

    /// A histogram exports `_bucket`, `_sum` and `_count` series.
    fn register_histogram(&self, name: &str, collector: Box<dyn Collector>) {
        self.registry.register(collector).expect("registered once");
        let mut names = self.names.borrow_mut();
        for suffix in ["_bucket", "_sum", "_count"] {
            names.push(format!("{name}{suffix}"));
        }
    }
}

/// Latency buckets from 1 ms to 10 s.
const SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Probability buckets, finer near the thresholds that matter (0.5 flag, 0.85 block).
const SCORES: &[f64] = &[
    0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99,
];

impl Metrics {
    fn new() -> Self {
        let builder = Builder {
            registry: Registry::new(),
            names: RefCell::new(Vec::new()),
        };
        let r = &builder;
        let mut metrics = Self {
            messages_consumed: counter(
                r,
                "warden_messages_consumed_total",
                "Records read from the messages topic",
            ),
            messages_scored: counters(
                r,
                "warden_messages_scored_total",
                "Verdicts delivered, by action",
                &["action"],
            ),
            feedback_consumed: counter(
                r,
                "warden_feedback_consumed_total",
                "Records read from the message-feedback topic",
            ),
            dead_letters: counters(
                r,
                "warden_dead_letters_total",
                "Records dead-lettered, by reason code",
                &["reason"],
            ),
            suspensions: counters(
                r,
                "warden_suspensions_total",
                "Automated suspensions and restrictions, by their first reason code",
                &["reason"],
            ),
            account_steps: counters(
                r,
                "warden_account_steps_total",
                "Automated steps of the enforcement ladder taken on accounts (warn, restrict, suspend)",
                &["step"],
            ),
            circuit_breaker_tripped: gauge(
                r,
                "warden_circuit_breaker_tripped",
                "1 while the circuit breaker holds automated suspensions for review",
            ),
            reinstatements: counters(
                r,
                "warden_reinstatements_total",
                "Accounts reinstated, by who (reviewer or admin)",
                &["by"],
            ),
            appeals_open: gauge(r, "warden_appeals_open", "Appeals waiting for a decision"),
            appeal_decisions: counters(
                r,
                "warden_appeal_decisions_total",
                "Reviewers' decisions, by outcome",
                &["outcome"],
            ),
            http_requests: counters(
                r,
                "warden_http_requests_total",
                "Review API requests, by route and status",
                &["route", "status"],
            ),
            http_request_seconds: histograms(
                r,
                "warden_http_request_seconds",
                "Review API request latency",
                &["route"],
                SECONDS,
            ),
            decision_latency: histogram(
                r,
                "warden_decision_latency_seconds",
                "From a message's sent_at to its verdict's acknowledgement",
                SECONDS,
            ),
            rule_hits: counters(
                r,
                "warden_rule_hits_total",
                "Enforced rule hits in delivered verdicts",
                &["rule", "category"],
            ),
            shadow_rule_hits: counters(
                r,
                "warden_shadow_rule_hits_total",
                "Shadow-mode rule hits in delivered verdicts (recorded, never acted on)",
                &["rule"],
            ),
            shadow_would_change: counters(
                r,
                "warden_shadow_would_change_total",
                "Messages whose action a shadow-mode rule would have raised, had it been enforced, by the action it would have taken",
                &["rule", "to"],
            ),
            model_score: histograms(
                r,
                "warden_model_score",
                "The model's probability per category, per scored message",
                &["category"],
                SCORES,
            ),
            scoring_seconds: histogram(
                r,
                "warden_scoring_seconds",
                "Time to decide one batch on the scoring pool",
                SECONDS,
            ),
            batch_stage_seconds: histograms(
                r,
                "warden_batch_stage_seconds",
                "Time a batch spends in each stage of the stream processor's loop: fetch \
                 (filling the batch after its first record), decide, lookup (of recorded decisions), \
                 enforce, record, deliver",
                &["stage"],
                SECONDS,
            ),
            consumer_lag: gauges(
                r,
                "warden_consumer_lag",
                "Messages behind the end of each assigned partition of the messages topic",
                &["partition"],
            ),
            appeal_age_seconds: gauge(
                r,
                "warden_appeal_age_seconds",
                "Age of the oldest open appeal (0 when none)",
            ),
            build_info: gauges(
                r,
                "warden_build_info",
                "Always 1: this process's version and the model and rules it scores with",
                &["version", "model_version", "rules_version"],
            ),
            registry: Registry::new(),
            names: Vec::new(),
        };
        metrics.names = builder.names.take();
        metrics.registry = builder.registry;
        metrics
    }

    /// Every series name this process can export, whether or not it has a sample yet.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Names the model and rules the process scores with (the latest set after a reload).
    pub fn set_build_info(&self, model_version: &str, rules_version: &str) {
        self.build_info.reset();
        self.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), model_version, rules_version])
            .set(1);
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("metrics encode");
        String::from_utf8(buffer).expect("the text format is UTF-8")
    }
}

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
