//! Delivery of a batch's outputs: verdicts and dead letters in record order; every send
//! acknowledged before the batch's offsets are stored, a record the broker refuses for good
//! turned into a dead letter, and nothing committed if shutdown comes first. (Cases' events
//! are not here: they are written to the outbox with the case, and `api::outbox` sends them.)

use std::time::Duration;

use futures::future::join_all;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::FutureRecord;
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::time::Instant;

use super::Processor;
use super::client::{commit, is_permanent};
use super::decide::{Decision, Input, Record};
use super::replay::Recorded;
use super::retry::{Backoff, Halt};

/// One record to produce.
pub(super) struct Output {
    topic: OutputTopic,
    /// A dead letter's code, kept if the letter must be sent again without its payload.
    code: Option<&'static str>,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
    /// The input record it answers.
    record: usize,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum OutputTopic {
    Verdicts,
    DeadLetters,
}

impl Processor {
    /// Encodes the batch's outputs: verdicts (as recorded, when they are) and dead letters in
    /// record order. (Cases' events go through the outbox, written with the case.)
    pub(super) fn outputs(
        &self,
        records: &[Record],
        decisions: Vec<Decision>,
        mut recorded: Recorded,
    ) -> Vec<Output> {
        decisions
            .into_iter()
            .enumerate()
            .filter_map(|(index, decision)| match decision {
                Decision::Verdict { verdict, .. } => Some(Output {
                    topic: OutputTopic::Verdicts,
                    code: None,
                    key: Some(verdict.account_id.as_str().as_bytes().to_vec()),
                    payload: match recorded.get_mut(index).and_then(Option::take) {
                        Some(json) => json.into_bytes(),
                        None => serde_json::to_vec(&verdict).expect("a verdict always serializes"),
                    },
                    record: index,
                }),
                Decision::Feedback { .. } => None,
                Decision::DeadLetter { json, code } => Some(Output {
                    topic: OutputTopic::DeadLetters,
                    code: Some(code),
                    key: records[index].key.clone(),
                    payload: json,
                    record: index,
                }),
            })
            .collect()
    }

    /// Produces every output and waits for acknowledgements. Failed sends are retried with
    /// backoff; a verdict the broker refuses outright becomes a dead letter. Gives up only on
    /// shutdown, once the drain timeout has passed (`Halt::Shutdown`: nothing is committed).
    pub(super) async fn deliver(
        &self,
        records: &[Record],
        outputs: Vec<Output>,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<(), Halt> {
        let mut pending = outputs;
        let mut backoff = Backoff::new(self.config.stream.retry_backoff_max_ms);
        let mut drain_deadline = None;
        loop {
            let results = join_all(pending.iter().map(|output| self.send(output))).await;
            let mut retry = Vec::new();
            let mut last_error = None;
            for (output, result) in pending.into_iter().zip(results) {
                match result {
                    Ok(()) => {}
                    Err(error) if is_permanent(&error) => {
                        tracing::error!(%error, topic = ?output.topic, "the broker refused an output record");
                        retry.push(self.refused(records, &output, &error));
                    }
                    Err(error) => {
                        last_error = Some(error);
                        retry.push(output);
                    }
                }
            }
            if retry.is_empty() {
                return Ok(());
            }
            if *shutdown.borrow() {
                let deadline = *drain_deadline.get_or_insert_with(|| {
                    Instant::now() + Duration::from_millis(self.config.stream.drain_timeout_ms)
                });
                if Instant::now() >= deadline {
                    tracing::warn!(
                        records = retry.len(),
                        "drain timeout: leaving the batch uncommitted for redelivery"
                    );
                    return Err(Halt::Shutdown);
                }
            }
            if let Some(error) = last_error {
                tracing::warn!(%error, records = retry.len(), "cannot deliver to the broker; retrying");
            }
            tokio::time::sleep(backoff.next()).await;
            pending = retry;
        }
    }

    /// What to send instead of an output the broker refused for good (too large, invalid).
    fn refused(&self, records: &[Record], output: &Output, error: &KafkaError) -> Output {
        let now = OffsetDateTime::now_utc();
        let index = output.record;
        let record = &records[index];
        let topic = record.input.topic(&self.config.topics);
        let letter = match output.topic {
            OutputTopic::Verdicts => Decision::dead_letter(
                topic,
                record,
                "verdict_refused",
                format!("the broker refused the verdict: {error}"),
                now,
            ),
            // The dead letter carries the record's bytes; if even that is refused, send the
            // source coordinates without them, so the record can still be found and replayed.
            OutputTopic::DeadLetters => {
                let without_payload = Record {
                    payload: None,
                    ..record.clone()
                };
                let code = output.code.unwrap_or("dead_letter_refused");
                Decision::dead_letter(
                    topic,
                    &without_payload,
                    code,
                    format!("{code}; payload left out, the broker refused it: {error}"),
                    now,
                )
            }
        };
        let Decision::DeadLetter { json, code } = letter else {
            unreachable!("dead_letter builds a dead letter")
        };
        Output {
            topic: OutputTopic::DeadLetters,
            code: Some(code),
            key: record.key.clone(),
            payload: json,
            record: index,
        }
    }

    async fn send(&self, output: &Output) -> Result<(), KafkaError> {
        let topics = &self.config.topics;
        let topic = match output.topic {
            OutputTopic::Verdicts => &topics.verdicts,
            OutputTopic::DeadLetters => &topics.dead_letters,
        };
        let mut record = FutureRecord::to(topic).payload(output.payload.as_slice());
        if let Some(key) = &output.key {
            record = record.key(key.as_slice());
        }
        // `Never` only waits for room in the local queue: librdkafka's own message timeout
        // still fails a send the broker never acknowledges.
        self.producer
            .send(record, Timeout::Never)
            .await
            .map(|_| ())
            .map_err(|(error, _)| error)
    }

    /// Marks the batch's records done, partition by partition (a partition revoked meanwhile
    /// is skipped: its new owner redelivers those records), and commits in the background.
    pub(super) fn store_offsets(&self, records: &[Record]) {
        let mut next: Vec<(Input, i32, i64)> = Vec::new();
        for record in records {
            match next
                .iter_mut()
                .find(|(i, p, _)| *i == record.input && *p == record.partition)
            {
                Some((_, _, offset)) => *offset = (*offset).max(record.offset + 1),
                None => next.push((record.input, record.partition, record.offset + 1)),
            }
        }
        for (input, partition, offset) in next {
            let topic = input.topic(&self.config.topics);
            let mut list = TopicPartitionList::new();
            list.add_partition_offset(topic, partition, Offset::Offset(offset))
                .expect("a fresh list takes any offset");
            if let Err(error) = self.consumer.store_offsets(&list) {
                tracing::debug!(%error, partition, "offset not stored (partition revoked?)");
            }
        }
        commit(&self.consumer, CommitMode::Async);
    }
}
