//! The stream processor behind `warden run`: `messages` in; `verdicts` and `dead-letters` out.
//!
//! One loop, one batch at a time: fetch up to `batch_max_messages` records, decide them on the
//! scoring pool ([`decide`]), produce every output and wait for the broker's acknowledgement,
//! then store and commit the batch's offsets. **An offset is committed only after its record's
//! output is acknowledged**, so a crash redelivers undecided work and never skips it. With a
//! store, each verdict and each feedback record is recorded before anything is produced: a
//! redelivered message re-emits its recorded verdict instead of being decided again, and a
//! redelivered feedback record is not counted again (see `Recorded`). Nothing is
//! in flight while the consumer is polled, and rebalances are handled inside that poll: the
//! revocation callback commits exactly the decided work before the partitions move.
//!
//! Failures are classified where they happen: a record that can never be decided is a dead
//! letter and its offset advances; a broker that cannot be reached is waited for, with backoff,
//! and nothing is committed meanwhile.

pub mod decide;

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::join_all;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::{ServiceConfig, Topics};
use crate::enforce::{Enforcer, EventKind, Pending};
use crate::metrics::METRICS;
use crate::privacy::Secret;
use crate::scoring::Scorer;
use crate::store::StoreError;
use decide::{Decision, Input, Record, decide_batch};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot create the Kafka {client}: {source}")]
    Client {
        client: &'static str,
        source: KafkaError,
    },
    #[error("cannot subscribe to topic `{topic}`: {source}")]
    Subscribe { topic: String, source: KafkaError },
    #[error("cannot start the scoring pool: {0}")]
    Pool(#[from] rayon::ThreadPoolBuildError),
}

/// What a run did, for its last log line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunSummary {
    pub verdicts: u64,
    /// `message-feedback` records consumed, redeliveries included (those are not counted in
    /// signals again).
    pub feedback: u64,
    pub dead_letters: u64,
    /// Batches given up at shutdown because the broker did not acknowledge them within the
    /// drain timeout; their offsets were not committed, so they are redelivered.
    pub abandoned_batches: u64,
}

/// A producer with the processor's delivery guarantees (idempotent, `acks=all`) and the
/// file's extra options, for the review API's events.
pub fn event_producer(service: &ServiceConfig) -> Result<FutureProducer, IngestError> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &service.kafka.brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "2")
        .set_log_level(RDKafkaLogLevel::Warning);
    for (key, value) in &service.kafka.options {
        config.set(key, value);
    }
    config.create().map_err(|source| IngestError::Client {
        client: "producer",
        source,
    })
}

/// The consumer, the producer, the scorer and the pool that runs it.
pub struct Processor {
    consumer: StreamConsumer<GroupContext>,
    producer: FutureProducer<GroupContext>,
    scorer: Arc<Scorer>,
    /// New rules and policy from an admin's reload, taken between batches.
    scorer_updates: Option<watch::Receiver<Option<Arc<Scorer>>>>,
    recipient_key: Secret,
    pool: Arc<rayon::ThreadPool>,
    config: ServiceConfig,
    /// Signals, account policy and store; `None` scores without enforcement.
    enforcer: Option<Enforcer>,
    /// Cases whose events were owed at startup (the outbox).
    owed: Vec<Pending>,
    /// Raised by the rebalance callback when partitions are assigned.
    assigned: Arc<AtomicBool>,
    /// Input partitions read past the redelivered records since the last assignment: their
    /// records are no longer looked up before deciding (see `recorded`). Keyed by topic too:
    /// `messages` and `message-feedback` both have a partition 0.
    past_redelivery: HashSet<(Input, i32)>,
    /// When signals were last checkpointed.
    last_checkpoint: Instant,
}

/// How often the signals of changed accounts are checkpointed to the store.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

impl Processor {
    /// Connects (lazily: librdkafka dials on first use) and subscribes to the messages topic.
    /// With an enforcer (and the events it owes from before a restart), decisions also update
    /// signals and may open cases.
    pub fn new(
        service: ServiceConfig,
        scorer: Scorer,
        recipient_key: Secret,
        enforcer: Option<(Enforcer, Vec<Pending>)>,
    ) -> Result<Self, IngestError> {
        // The options from the file come last, so an operator can override any default here.
        let with_options = |config: &mut ClientConfig| {
            for (key, value) in &service.kafka.options {
                config.set(key, value);
            }
        };
        let assigned = Arc::new(AtomicBool::new(false));
        let mut consumer_config = ClientConfig::new();
        consumer_config
            .set("bootstrap.servers", &service.kafka.brokers)
            .set("group.id", &service.kafka.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set(
                "session.timeout.ms",
                service.kafka.session_timeout_ms.to_string(),
            )
            .set("fetch.wait.max.ms", "10")
            .set("statistics.interval.ms", "5000")
            .set_log_level(RDKafkaLogLevel::Warning);
        with_options(&mut consumer_config);
        let consumer: StreamConsumer<GroupContext> = consumer_config
            .create_with_context(GroupContext {
                assigned: Arc::clone(&assigned),
                messages_topic: service.topics.messages.clone(),
            })
            .map_err(|source| IngestError::Client {
                client: "consumer",
                source,
            })?;
        let mut producer_config = ClientConfig::new();
        producer_config
            .set("bootstrap.servers", &service.kafka.brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "2")
            .set_log_level(RDKafkaLogLevel::Warning);
        with_options(&mut producer_config);
        let producer: FutureProducer<GroupContext> = producer_config
            .create_with_context(GroupContext::default())
            .map_err(|source| IngestError::Client {
                client: "producer",
                source,
            })?;
        let mut inputs = vec![service.topics.messages.as_str()];
        if !service.topics.feedback.is_empty() {
            inputs.push(&service.topics.feedback);
        }
        consumer
            .subscribe(&inputs)
            .map_err(|source| IngestError::Subscribe {
                topic: inputs.join(", "),
                source,
            })?;
        let threads = service.stream.scoring_threads;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("warden-score-{i}"))
            .build()?;
        let (enforcer, owed) = match enforcer {
            Some((enforcer, owed)) => (Some(enforcer), owed),
            None => (None, Vec::new()),
        };
        Ok(Self {
            consumer,
            producer,
            scorer: {
                set_build_info(&scorer);
                Arc::new(scorer)
            },
            scorer_updates: None,
            recipient_key,
            pool: Arc::new(pool),
            config: service,
            enforcer,
            owed,
            assigned,
            past_redelivery: HashSet::new(),
            last_checkpoint: Instant::now(),
        })
    }

    /// Takes new scorers (rules, model, policy) from `updates` between batches.
    pub fn with_scorer_updates(mut self, updates: watch::Receiver<Option<Arc<Scorer>>>) -> Self {
        self.scorer_updates = Some(updates);
        self
    }

    /// Switches to a reloaded scorer, if one came: the batch in hand was decided whole by the
    /// old one, the next is decided whole by the new one.
    fn take_scorer_update(&mut self) {
        let Some(updates) = self.scorer_updates.as_mut() else {
            return;
        };
        if !updates.has_changed().unwrap_or(false) {
            return;
        }
        let Some(scorer) = updates.borrow_and_update().clone() else {
            return;
        };
        if let Some(enforcer) = self.enforcer.as_mut() {
            enforcer.set_policy(scorer.policy().suspension().clone());
        }
        tracing::info!(
            rules_version = scorer.rules().version(),
            "scoring with reloaded rules and policy"
        );
        set_build_info(&scorer);
        self.scorer = scorer;
    }

    /// Runs until `shutdown` turns true, then finishes the batch in hand (within the drain
    /// timeout), commits, and leaves the group.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> RunSummary {
        let mut summary = RunSummary::default();
        tracing::info!(
            brokers = %self.config.kafka.brokers,
            group = %self.config.kafka.group,
            topic = %self.config.topics.messages,
            enforcement = self.enforcer.is_some(),
            "stream processor started"
        );
        let owed = std::mem::take(&mut self.owed);
        if !owed.is_empty() {
            tracing::info!(
                cases = owed.len(),
                "sending the events of cases opened before a restart"
            );
            let outputs = self.outputs(&[], Vec::new(), Vec::new(), &owed);
            if let Delivered::Abandoned = self.deliver(&[], outputs, &shutdown).await {
                self.close();
                return summary;
            }
            self.mark_delivered(&owed, &shutdown).await;
        }
        loop {
            let records = tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => break,
                records = self.next_batch(self.last_checkpoint + CHECKPOINT_EVERY) => records,
            };
            // Idle: checkpoints (and the breaker's state) still keep their pace.
            if records.is_empty() {
                self.checkpoint_if_due().await;
                continue;
            }
            self.take_scorer_update();
            if self.assigned.swap(false, Ordering::AcqRel) {
                self.past_redelivery.clear();
                if let Some(enforcer) = self.enforcer.as_mut()
                    && let Err(error) = enforcer.restore_signals().await
                {
                    tracing::warn!(%error, "cannot restore signal checkpoints; continuing without");
                }
            }
            let mut decisions = self.decide(records.clone()).await;
            // Exactly one decision per message (with a store): see `Recorded`.
            let Some(mut recorded) = self.recorded(&records, &decisions, &shutdown).await else {
                summary.abandoned_batches += 1;
                break;
            };
            let Some(pending) = self.enforce(&mut decisions, &recorded, &shutdown).await else {
                summary.abandoned_batches += 1;
                break;
            };
            let count = |f: fn(&Decision) -> bool| decisions.iter().filter(|d| f(d)).count() as u64;
            let dead_letters = count(|d| matches!(d, Decision::DeadLetter { .. }));
            let feedback = count(|d| matches!(d, Decision::Feedback { .. }));
            let tally = BatchTally::of(&decisions, &recorded);
            if self
                .record(&decisions, &mut recorded, &shutdown)
                .await
                .is_none()
            {
                summary.abandoned_batches += 1;
                break;
            }
            let outputs = self.outputs(&records, decisions, recorded, &pending);
            match self.deliver(&records, outputs, &shutdown).await {
                Delivered::All => {
                    tracing::debug!(records = records.len(), dead_letters, "batch delivered");
                    if !self.mark_delivered(&pending, &shutdown).await {
                        summary.abandoned_batches += 1;
                        break;
                    }
                    self.store_offsets(&records);
                    tally.record();
                    self.checkpoint_if_due().await;
                    summary.verdicts += records.len() as u64 - dead_letters - feedback;
                    summary.feedback += feedback;
                    summary.dead_letters += dead_letters;
                }
                Delivered::Abandoned => {
                    summary.abandoned_batches += 1;
                    break;
                }
            }
        }
        if let Some(enforcer) = self.enforcer.as_mut() {
            enforcer.checkpoint().await;
        }
        self.close();
        tracing::info!(
            verdicts = summary.verdicts,
            feedback = summary.feedback,
            dead_letters = summary.dead_letters,
            abandoned_batches = summary.abandoned_batches,
            "stream processor stopped"
        );
        summary
    }

    /// Runs the account policy over the batch's verdicts and feedback, in order, and opens the
    /// cases it calls for; a message or feedback record that is recorded already was counted
    /// when it was first decided, and is skipped (its signals are not counted twice). A store
    /// error is retried (nothing is committed meanwhile); `None` means shutdown came first and
    /// the batch is left for redelivery.
    async fn enforce(
        &mut self,
        decisions: &mut [Decision],
        recorded: &Recorded,
        shutdown: &watch::Receiver<bool>,
    ) -> Option<Vec<Pending>> {
        let mut pending = Vec::new();
        let Some(enforcer) = self.enforcer.as_mut() else {
            return Some(pending);
        };
        let mut backoff = Backoff::new(self.config.stream.retry_backoff_max_ms);
        for (index, decision) in decisions.iter_mut().enumerate() {
            let case = match decision {
                Decision::Verdict { .. } | Decision::Feedback { .. }
                    if recorded[index].is_some() =>
                {
                    None
                }
                Decision::Verdict { verdict, facts } => enforcer.assess(verdict, facts),
                Decision::Feedback {
                    account_id,
                    message_id,
                    kind,
                    at,
                } => enforcer.feedback(account_id, message_id, *kind, *at),
                Decision::DeadLetter { .. } => None,
            };
            let Some(case) = case else {
                continue;
            };
            loop {
                match enforcer.open(&case).await {
                    Ok(opened) => {
                        pending.extend(opened);
                        break;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot write the case; retrying");
                        if *shutdown.borrow() {
                            return None;
                        }
                        tokio::time::sleep(backoff.next()).await;
                    }
                }
            }
        }
        Some(pending)
    }

    /// What is already recorded for the batch's messages and feedback (a redelivery: the
    /// batch was decided, at least in part, before a crash or by a member that lost the
    /// partition), in one query. Without a store, nothing is recorded and every record is
    /// decided.
    ///
    /// Only the start of each partition after an assignment can be a redelivery: a member
    /// decides and records a partition's records in offset order, so what it recorded past
    /// the committed offset is a run that the next reader meets first. Once a partition shows
    /// a record with no recorded key, the run is over, and that partition's later records are
    /// not looked up until the next assignment. (The same message id sent twice still gets
    /// one verdict: `record` keeps the first.)
    async fn recorded(
        &mut self,
        records: &[Record],
        decisions: &[Decision],
        shutdown: &watch::Receiver<bool>,
    ) -> Option<Recorded> {
        let Some(enforcer) = &self.enforcer else {
            return Some(Vec::new());
        };
        let keys: Vec<Option<Cow<'_, str>>> = decisions.iter().map(record_key).collect();
        let looked_up: Vec<((Input, i32), &str)> = records
            .iter()
            .zip(&keys)
            .filter(|(record, _)| {
                !self
                    .past_redelivery
                    .contains(&(record.input, record.partition))
            })
            .filter_map(|(record, key)| Some(((record.input, record.partition), key.as_deref()?)))
            .collect();
        let mut recorded = vec![None; decisions.len()];
        if looked_up.is_empty() {
            return Some(recorded);
        }
        let lookup: Vec<&str> = looked_up.iter().map(|(_, key)| *key).collect();
        let store = enforcer.store();
        let found = self
            .until_stored("cannot read recorded verdicts", shutdown, || {
                store.recorded_verdicts(&lookup)
            })
            .await?;
        for (partition, key) in &looked_up {
            if !found.contains_key(*key) {
                self.past_redelivery.insert(*partition);
            }
        }
        if !found.is_empty() {
            tracing::debug!(
                replayed = found.len(),
                "redelivered records: re-emitting recorded verdicts, not counting feedback again"
            );
            for (slot, key) in recorded.iter_mut().zip(&keys) {
                *slot = key.as_deref().and_then(|key| found.get(key).cloned());
            }
        }
        Some(recorded)
    }

    /// Records the batch's new verdicts, encoded as they will be produced, and its new
    /// feedback, in one transaction, before any verdict is produced. Where a verdict was
    /// recorded first (another member deciding the same redelivery, or one message id twice),
    /// the recorded one is what is produced. `None` if shutdown came while the store was
    /// unreachable.
    async fn record(
        &self,
        decisions: &[Decision],
        recorded: &mut Recorded,
        shutdown: &watch::Receiver<bool>,
    ) -> Option<()> {
        let Some(enforcer) = &self.enforcer else {
            return Some(());
        };
        let fresh: Vec<(usize, Cow<'_, str>, String)> = decisions
            .iter()
            .enumerate()
            .filter(|(index, _)| recorded[*index].is_none())
            .filter_map(|(index, decision)| {
                let json = match decision {
                    Decision::Verdict { verdict, .. } => {
                        serde_json::to_string(verdict).expect("a verdict always serializes")
                    }
                    // Never produced: the row only says the feedback was counted. An empty
                    // object keeps every `verdict` in the table JSON.
                    Decision::Feedback { .. } => "{}".to_owned(),
                    Decision::DeadLetter { .. } => return None,
                };
                Some((index, record_key(decision)?, json))
            })
            .collect();
        if fresh.is_empty() {
            return Some(());
        }
        let rows: Vec<(&str, &str)> = fresh
            .iter()
            .map(|(_, key, json)| (key.as_ref(), json.as_str()))
            .collect();
        let at = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        let store = enforcer.store();
        let first = self
            .until_stored("cannot record verdicts", shutdown, || {
                store.record_verdicts(&rows, at)
            })
            .await?;
        for (index, key, json) in fresh {
            recorded[index] = Some(first.get(key.as_ref()).cloned().unwrap_or(json));
        }
        Some(())
    }

    /// Retries a store operation with backoff while the store is unavailable, as `enforce`
    /// does. `None` if shutdown came first: the batch is left for redelivery.
    async fn until_stored<T, F>(
        &self,
        what: &str,
        shutdown: &watch::Receiver<bool>,
        mut attempt: impl FnMut() -> F,
    ) -> Option<T>
    where
        F: Future<Output = Result<T, StoreError>>,
    {
        let mut backoff = Backoff::new(self.config.stream.retry_backoff_max_ms);
        loop {
            match attempt().await {
                Ok(value) => return Some(value),
                Err(error) => {
                    tracing::warn!(%error, "{what}; retrying");
                    if *shutdown.borrow() {
                        return None;
                    }
                    tokio::time::sleep(backoff.next()).await;
                }
            }
        }
    }

    /// Marks cases' events as sent. `false` if shutdown came while the store was unreachable.
    async fn mark_delivered(&self, pending: &[Pending], shutdown: &watch::Receiver<bool>) -> bool {
        let Some(enforcer) = &self.enforcer else {
            return true;
        };
        let mut backoff = Backoff::new(self.config.stream.retry_backoff_max_ms);
        while let Err(error) = enforcer.delivered(pending).await {
            tracing::warn!(%error, "cannot mark cases' events sent; retrying");
            if *shutdown.borrow() {
                return false;
            }
            tokio::time::sleep(backoff.next()).await;
        }
        true
    }

    /// Encodes the batch's outputs: verdicts (as recorded, when they are) and dead letters in
    /// record order, then the cases' events.
    fn outputs(
        &self,
        records: &[Record],
        decisions: Vec<Decision>,
        mut recorded: Recorded,
        pending: &[Pending],
    ) -> Vec<Output> {
        let mut outputs: Vec<Output> = decisions
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
                    record: Some(index),
                }),
                Decision::Feedback { .. } => None,
                Decision::DeadLetter { json, code } => Some(Output {
                    topic: OutputTopic::DeadLetters,
                    code: Some(code),
                    key: records[index].key.clone(),
                    payload: json,
                    record: Some(index),
                }),
            })
            .collect();
        for event in pending.iter().flat_map(|p| &p.events) {
            outputs.push(Output {
                code: None,
                topic: match event.kind {
                    EventKind::AccountAction => OutputTopic::AccountActions,
                    EventKind::Notice => OutputTopic::Notices,
                },
                key: Some(event.account_id.as_bytes().to_vec()),
                payload: event.json.clone(),
                record: None,
            });
        }
        outputs
    }

    /// Checkpoints the enforcer's signals, and reads the breaker's state, every
    /// `CHECKPOINT_EVERY`.
    async fn checkpoint_if_due(&mut self) {
        if self.last_checkpoint.elapsed() < CHECKPOINT_EVERY {
            return;
        }
        if let Some(enforcer) = self.enforcer.as_mut() {
            enforcer.checkpoint().await;
        }
        self.last_checkpoint = Instant::now();
    }

    /// Waits for one record (until `idle_until`: then none), then takes whatever else arrives
    /// within `batch_wait_ms`.
    async fn next_batch(&self, idle_until: Instant) -> Vec<Record> {
        let mut records = Vec::new();
        let mut backoff = Backoff::new(self.config.stream.retry_backoff_max_ms);
        loop {
            let Ok(received) = tokio::time::timeout_at(idle_until, self.consumer.recv()).await
            else {
                return records;
            };
            match received {
                Ok(message) => {
                    records.push(record_of(&message, &self.config.topics));
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot fetch from the broker; retrying");
                    tokio::time::sleep(backoff.next()).await;
                }
            }
        }
        let deadline = Instant::now() + Duration::from_millis(self.config.stream.batch_wait_ms);
        while records.len() < self.config.stream.batch_max_messages {
            match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Ok(Ok(message)) => records.push(record_of(&message, &self.config.topics)),
                Ok(Err(error)) => {
                    tracing::warn!(%error, "fetch error");
                    break;
                }
                Err(_elapsed) => break,
            }
        }
        records
    }

    /// Decides a batch on the scoring pool, off the async reactor.
    async fn decide(&self, records: Vec<Record>) -> Vec<Decision> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (pool, scorer) = (Arc::clone(&self.pool), Arc::clone(&self.scorer));
        let topics = self.config.topics.clone();
        let key = self.recipient_key.clone();
        self.pool.spawn(move || {
            let start = std::time::Instant::now();
            let decisions = decide_batch(&pool, &scorer, &key, &topics, &records);
            METRICS
                .scoring_seconds
                .observe(start.elapsed().as_secs_f64());
            // The receiver is only gone if the runtime is shutting down.
            let _ = tx.send(decisions);
        });
        rx.await.expect("the scoring pool outlives the processor")
    }

    /// Produces every output and waits for acknowledgements. Failed sends are retried with
    /// backoff; a verdict the broker refuses outright becomes a dead letter. Gives up only on
    /// shutdown, once the drain timeout has passed.
    async fn deliver(
        &self,
        records: &[Record],
        outputs: Vec<Output>,
        shutdown: &watch::Receiver<bool>,
    ) -> Delivered {
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
                        retry.extend(self.refused(records, &output, &error));
                    }
                    Err(error) => {
                        last_error = Some(error);
                        retry.push(output);
                    }
                }
            }
            if retry.is_empty() {
                return Delivered::All;
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
                    return Delivered::Abandoned;
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
    fn refused(&self, records: &[Record], output: &Output, error: &KafkaError) -> Option<Output> {
        let now = OffsetDateTime::now_utc();
        let index = output.record?;
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
            OutputTopic::AccountActions | OutputTopic::Notices => return None,
        };
        let Decision::DeadLetter { json, code } = letter else {
            unreachable!("dead_letter builds a dead letter")
        };
        Some(Output {
            topic: OutputTopic::DeadLetters,
            code: Some(code),
            key: record.key.clone(),
            payload: json,
            record: Some(index),
        })
    }

    async fn send(&self, output: &Output) -> Result<(), KafkaError> {
        let topics = &self.config.topics;
        let topic = match output.topic {
            OutputTopic::Verdicts => &topics.verdicts,
            OutputTopic::DeadLetters => &topics.dead_letters,
            OutputTopic::AccountActions => &topics.account_actions,
            OutputTopic::Notices => &topics.notices,
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
    fn store_offsets(&self, records: &[Record]) {
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

    /// Commits what is stored, leaves the group and flushes the producer.
    fn close(&self) {
        commit(&self.consumer, CommitMode::Sync);
        self.consumer.unsubscribe();
        let drain = Duration::from_millis(self.config.stream.drain_timeout_ms);
        if let Err(error) = rdkafka::producer::Producer::flush(&self.producer, drain) {
            tracing::warn!(%error, "producer not flushed");
        }
    }
}

fn set_build_info(scorer: &Scorer) {
    METRICS.set_build_info(
        scorer.model().map_or("none", |m| m.version()),
        scorer.rules().version(),
    );
}

/// What a batch adds to the metrics once it is delivered.
struct BatchTally {
    /// Each verdict's action and `sent_at` (Unix ms).
    verdicts: Vec<(&'static str, i64)>,
    rule_hits: Vec<String>,
    model_scores: Vec<crate::message::Scores>,
    dead_letters: Vec<&'static str>,
    feedback: u64,
    redelivered: u64,
}

impl BatchTally {
    /// Verdicts recorded before this batch was delivered (redeliveries) were scored by
    /// then: they count as consumed only.
    fn of(decisions: &[Decision], recorded: &Recorded) -> Self {
        let mut tally = Self {
            verdicts: Vec::new(),
            rule_hits: Vec::new(),
            model_scores: Vec::new(),
            dead_letters: Vec::new(),
            feedback: 0,
            redelivered: 0,
        };
        for (index, decision) in decisions.iter().enumerate() {
            match decision {
                Decision::Verdict { .. } if recorded.get(index).is_some_and(Option::is_some) => {
                    tally.redelivered += 1
                }
                Decision::Verdict { verdict, facts } => {
                    tally
                        .verdicts
                        .push((verdict.action.as_str(), facts.sent_at_ms));
                    tally.rule_hits.extend(verdict.rule_hits.iter().cloned());
                    tally.model_scores.extend(facts.model);
                }
                Decision::Feedback { .. } => tally.feedback += 1,
                Decision::DeadLetter { code, .. } => tally.dead_letters.push(code),
            }
        }
        tally
    }

    fn record(&self) {
        let metrics = &*METRICS;
        let now_ms = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        metrics
            .messages_consumed
            .inc_by((self.verdicts.len() + self.dead_letters.len()) as u64 + self.redelivered);
        metrics.feedback_consumed.inc_by(self.feedback);
        for (action, sent_at_ms) in &self.verdicts {
            metrics.messages_scored.with_label_values(&[action]).inc();
            let latency_ms = (now_ms - sent_at_ms).max(0);
            metrics
                .decision_latency
                .observe(latency_ms as f64 / 1_000.0);
        }
        for code in &self.dead_letters {
            metrics.dead_letters.with_label_values(&[code]).inc();
        }
        // Rule ids start with their category (the rules loader refuses any other).
        for rule in &self.rule_hits {
            let category = rule.split('.').next().unwrap_or_default();
            metrics.rule_hits.with_label_values(&[rule, category]).inc();
        }
        for scores in &self.model_scores {
            for (category, score) in [
                ("spam", scores.spam),
                ("fraud", scores.fraud),
                ("aup", scores.aup),
            ] {
                metrics
                    .model_score
                    .with_label_values(&[category])
                    .observe(score);
            }
        }
    }
}

/// Per record of a batch, what the store holds under its [`record_key`]: a verdict as
/// recorded (the JSON produced on `verdicts`, byte for byte), or for feedback a placeholder
/// that is never produced; `None`: a dead letter, or not recorded yet. Empty without a store.
///
/// With a store, every message gets exactly one decision, and every feedback record counts
/// once. Before enforcement, the batch's keys are looked up: a record recorded already is not
/// decided again (no signals, no account policy) and a message's recorded verdict replaces the
/// fresh one. The new verdicts and feedback are recorded in one transaction; only then is
/// anything produced, and offsets are committed after that. So, whatever the crash point:
/// - before the record commits: nothing of the batch was produced or recorded; the redelivery
///   decides it afresh, and a case opened meanwhile is found active (the account is
///   suspended, its outbox events owed), never opened twice;
/// - after it commits (while producing, or before the commit of offsets): the redelivery
///   re-emits the recorded bytes, so `verdicts` may hold a message twice, identical, never
///   two different verdicts;
/// - two members deciding one redelivered message (a rebalance): the first record wins, and
///   the other produces it.
///
/// A verdict is on the topic only if its decision is recorded. Without a store (no
/// enforcement), a redelivered message is decided again: at-least-once, as it was.
type Recorded = Vec<Option<String>>;

enum Delivered {
    All,
    Abandoned,
}

/// One record to produce.
struct Output {
    topic: OutputTopic,
    /// A dead letter's code, kept if the letter must be sent again without its payload.
    code: Option<&'static str>,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
    /// The input record it answers, if any (case events answer none).
    record: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
enum OutputTopic {
    Verdicts,
    DeadLetters,
    AccountActions,
    Notices,
}

fn record_of(message: &impl Message, topics: &Topics) -> Record {
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
fn is_permanent(error: &KafkaError) -> bool {
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

fn commit<C: ConsumerContext>(consumer: &impl Consumer<C>, mode: CommitMode) {
    match consumer.commit_consumer_state(mode) {
        Ok(()) => {}
        // Nothing stored since the last commit.
        Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
        Err(error) => {
            tracing::warn!(%error, "offset commit failed; it is retried with the next batch")
        }
    }
}

/// The key a decision is recorded under in the store, so a redelivery is not decided twice: a
/// verdict's message id, or for feedback its kind and the id of the message it is about (one
/// message may draw an opt-out and a carrier filtering). The spaces keep feedback keys apart
/// from every message id, which cannot hold whitespace. Dead letters are not recorded.
fn record_key(decision: &Decision) -> Option<Cow<'_, str>> {
    match decision {
        Decision::Verdict { verdict, .. } => Some(Cow::Borrowed(verdict.message_id.as_str())),
        Decision::Feedback {
            message_id, kind, ..
        } => Some(Cow::Owned(format!(
            "feedback {} {message_id}",
            kind.as_str()
        ))),
        Decision::DeadLetter { .. } => None,
    }
}

/// Exponential backoff from 100 ms up to a ceiling.
struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    fn new(max_ms: u64) -> Self {
        Self {
            next: Duration::from_millis(100),
            max: Duration::from_millis(max_ms.max(100)),
        }
    }

    fn next(&mut self) -> Duration {
        let current = self.next;
        self.next = (self.next * 2).min(self.max);
        current
    }
}

/// librdkafka's callbacks: its logs go to `tracing`, a revocation commits decided work, and an
/// assignment raises a flag for the loop (which reloads signal checkpoints).
#[derive(Default)]
pub struct GroupContext {
    assigned: Arc<AtomicBool>,
    /// Whose partitions' lag the statistics report as `warden_consumer_lag`.
    messages_topic: String,
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

/// Turns SIGTERM or Ctrl-C into a shutdown signal for [`Processor::run`].
pub fn shutdown_on_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested: draining in-flight work");
        let _ = tx.send(true);
    });
    rx
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler can be installed");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
