//! Traffic in and out: the producer loop that paces a run's records, and readers that see a
//! topic from its beginning without joining anyone's group.

use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::BorrowedMessage;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::{Message, Offset, TopicPartitionList};

use super::HarnessError;

/// A client configuration for `brokers`, to be completed by the caller.
pub fn client(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers);
    config
}

/// One record to produce.
pub struct Outgoing<'a> {
    pub topic: &'a str,
    pub key: String,
    pub payload: Vec<u8>,
}

/// A `messages` record on the SMS channel, with the fields every run's traffic sets.
pub struct SmsMessage<'a> {
    pub message_id: &'a str,
    pub account_id: &'a str,
    /// RFC 3339.
    pub sent_at: &'a str,
    pub to: &'a str,
    pub body: &'a str,
}

impl SmsMessage<'_> {
    /// The record's JSON, as the platform's pipeline produces it.
    pub fn payload(&self) -> Vec<u8> {
        let record = serde_json::json!({
            "message_id": self.message_id,
            "account_id": self.account_id,
            "sent_at": self.sent_at,
            "channel": "sms",
            "to": self.to,
            "body": self.body,
        });
        serde_json::to_vec(&record).expect("a JSON value serializes")
    }
}

/// Sends `records` in order at `rate` per second (0: as fast as the producer takes them),
/// waits for every acknowledgement, and returns when each record was handed over.
pub fn send<C: ProducerContext<DeliveryOpaque = ()>>(
    producer: &BaseProducer<C>,
    records: &[Outgoing<'_>],
    rate: u32,
) -> Result<Vec<Instant>, HarnessError> {
    let start = Instant::now();
    let mut sent_at = Vec::with_capacity(records.len());
    for (index, outgoing) in records.iter().enumerate() {
        if rate > 0 {
            let due = start + Duration::from_secs_f64(index as f64 / f64::from(rate));
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let mut record = BaseRecord::to(outgoing.topic)
            .key(outgoing.key.as_str())
            .payload(outgoing.payload.as_slice());
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, rejected)) => {
                    // The local queue is full: serve delivery reports, then try again.
                    producer.poll(Duration::from_millis(1));
                    record = rejected;
                }
            }
        }
        sent_at.push(Instant::now());
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(Duration::from_secs(60))
        .map_err(HarnessError::kafka(
            "the broker did not acknowledge every record",
        ))?;
    Ok(sent_at)
}

/// A reader of every partition of `topic` from its beginning, assigned (not a member of any
/// group, so it never disturbs Warden's).
pub fn reader_from_beginning(brokers: &str, topic: &str) -> Result<BaseConsumer, HarnessError> {
    let consumer: BaseConsumer = client(brokers)
        .set("group.id", format!("{topic}-reader"))
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "5")
        .create()
        .map_err(HarnessError::kafka("cannot create a reader"))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(HarnessError::kafka(format!(
            "cannot read {topic}'s metadata"
        )))?;
    let partitions = metadata.topics().iter().flat_map(|t| t.partitions());
    let mut assignment = TopicPartitionList::new();
    for partition in partitions {
        assignment
            .add_partition_offset(topic, partition.id(), Offset::Beginning)
            .map_err(HarnessError::kafka("cannot assign a partition"))?;
    }
    if assignment.count() == 0 {
        return Err(HarnessError::NoPartitions(topic.to_owned()));
    }
    consumer
        .assign(&assignment)
        .map_err(HarnessError::kafka(format!("cannot assign {topic}")))?;
    Ok(consumer)
}

/// One record read back: where it was and what it held.
#[derive(Debug, Clone)]
pub struct Received {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub payload: serde_json::Value,
}

impl Received {
    /// The record, its payload parsed as JSON.
    pub fn read(message: &BorrowedMessage<'_>) -> Result<Self, serde_json::Error> {
        Ok(Self {
            partition: message.partition(),
            offset: message.offset(),
            key: message
                .key()
                .map(|key| String::from_utf8_lossy(key).into_owned()),
            payload: serde_json::from_slice(message.payload().unwrap_or_default())?,
        })
    }
}
