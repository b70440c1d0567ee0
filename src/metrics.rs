//! Operators' metrics (prefix `warden_`, names from DESIGN.md), exposed at `/metrics` by the
//! review API. Labels stay bounded: actions, categories, reasons, routes and statuses, never
//! account or message ids.

use std::sync::LazyLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub messages_consumed: IntCounter,
    pub messages_scored: IntCounterVec,
    pub feedback_consumed: IntCounter,
    pub dead_letters: IntCounterVec,
    pub suspensions: IntCounterVec,
    pub circuit_breaker_tripped: IntGauge,
    pub reinstatements: IntCounterVec,
    pub appeals_open: IntGauge,
    pub appeal_decisions: IntCounterVec,
    pub http_requests: IntCounterVec,
    pub http_request_seconds: HistogramVec,
    pub decision_latency: Histogram,
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let metric = IntCounter::new(name, help).expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("registered once");
    metric
}

fn counters(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("registered once");
    metric
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let metric = IntGauge::new(name, help).expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("registered once");
    metric
}

/// Latency buckets from 1 ms to 10 s.
const SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        let r = &registry;
        let http_request_seconds = HistogramVec::new(
            HistogramOpts::new("warden_http_request_seconds", "Review API request latency")
                .buckets(SECONDS.to_vec()),
            &["route"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(http_request_seconds.clone()))
            .expect("registered once");
        let decision_latency = Histogram::with_opts(
            HistogramOpts::new(
                "warden_decision_latency_seconds",
                "From a message's sent_at to its verdict's acknowledgement",
            )
            .buckets(SECONDS.to_vec()),
        )
        .expect("valid metric");
        registry
            .register(Box::new(decision_latency.clone()))
            .expect("registered once");
        Self {
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
                "Automated suspensions, by reason code",
                &["reason"],
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
            http_request_seconds,
            decision_latency,
            registry,
        }
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
