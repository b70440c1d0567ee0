//! The Kafka clients: their configuration (Warden's defaults, then the operator's options),
//! the group callbacks that log, report lag and commit decided work on revocation, offset
//! commits, and the classification of the broker's refusals.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rdkafka::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::FutureProducer;

use super::IngestError;
use super::decide::{Input, Record};
use crate::config::{KafkaConfig, ServiceConfig, Topics};
use crate::metrics::METRICS;

/// A producer with the processor's delivery guarantees (idempotent, `acks=all`) and the
/// file's extra options, for the review API's events.
pub fn event_producer(service: &ServiceConfig) -> Result<FutureProducer, IngestError> {
    producer_config(&service.kafka)
        .create()
        .map_err(|source| IngestError::Client {
            client: "producer",
            source,
        })
}

/// The producers' settings: idempotent, every in-sync replica acknowledges, then the file's
/// options (last, so that an operator can override any default).
pub(super) fn producer_config(kafka: &KafkaConfig) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &kafka.brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "2")
        .set_log_level(RDKafkaLogLevel::Warning);
    with_options(&mut config, kafka);
    config
}

/// The consumer's settings: offsets stored and committed by the processor only, never by
/// librdkafka on its own, then the file's options.
pub(super) fn consumer_config(kafka: &KafkaConfig) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &kafka.brokers)
        .set("group.id", &kafka.group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", kafka.session_timeout_ms.to_string())
        .set("fetch.wait.max.ms", "10")
        .set("statistics.interval.ms", "5000")
        .set_log_level(RDKafkaLogLevel::Warning);
    with_options(&mut config, kafka);
    config
}

fn with_options(config: &mut ClientConfig, kafka: &KafkaConfig) {
    for (key, value) in &kafka.options {
        config.set(key, value);
    }
}

pub(super) fn record_of(message: &impl Message, topics: &Topics) -> Record {
    Record {
        input: if message.topic() == topics.messages {
            Input::Messages
        } else {
            Input::Feedback
        },
        partition: message.partition(),
        offset: message.offset(),
        key: message.key().map(<[u8]>::to_vec),
        payload: message.payload().map(<[u8]>::to_vec),
    }
}

/// Errors that retrying cannot fix: the record itself is unacceptable to the broker.
pub(super) fn is_permanent(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::InvalidMessage
                | RDKafkaErrorCode::InvalidRecord
                | RDKafkaErrorCode::MessageBatchTooLarge
        )
    )
}

pub(super) fn commit<C: ConsumerContext>(consumer: &impl Consumer<C>, mode: CommitMode) {
    match consumer.commit_consumer_state(mode) {
        Ok(()) => {}
        // Nothing stored since the last commit.
        Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
        Err(error) => {
            tracing::warn!(%error, "offset commit failed; it is retried with the next batch")
        }
    }
}

/// librdkafka's callbacks: its logs go to `tracing`, a revocation commits decided work, and an
/// assignment raises a flag for the loop (which reloads signal checkpoints).
#[derive(Default)]
pub struct GroupContext {
    pub(super) assigned: Arc<AtomicBool>,
    /// Whose partitions' lag the statistics report as `warden_consumer_lag`.
    pub(super) messages_topic: String,
}

impl ClientContext for GroupContext {
    /// librdkafka's statistics (every `statistics.interval.ms`): the lag of each partition of
    /// the messages topic this member consumes.
    fn stats(&self, statistics: rdkafka::Statistics) {
        let Some(topic) = statistics.topics.get(&self.messages_topic) else {
            return;
        };
        let lag = &METRICS.consumer_lag;
        lag.reset();
        for partition in topic.partitions.values() {
            if partition.partition >= 0 && partition.desired && partition.consumer_lag >= 0 {
                lag.with_label_values(&[&partition.partition.to_string()])
                    .set(partition.consumer_lag);
            }
        }
    }

    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => tracing::error!(target: "librdkafka", facility, message),
            RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", facility, message),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", facility, message)
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", facility, message),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(target: "librdkafka", %error, reason, "client error");
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            commit(consumer, CommitMode::Sync);
            tracing::info!(
                partitions = partitions.count(),
                "partitions revoked after committing decided work"
            );
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(partitions) = rebalance {
            self.assigned.store(true, Ordering::Release);
            let assigned: Vec<String> = partitions
                .elements()
                .iter()
                .map(|p| format!("{}/{}", p.topic(), p.partition()))
                .collect();
            tracing::info!(?assigned, "partitions assigned");
        }
    }
}
