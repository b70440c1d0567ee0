//! The stream processor behind `warden run`: `messages` in; `verdicts` and `dead-letters` out.
//!
//! One loop, one batch at a time: fetch up to `batch_max_messages` records, decide them on the
//! scoring pool ([`decide`]), produce every output and wait for the broker's acknowledgement,
//! then store and commit the batch's offsets. **An offset is committed only after its record's
//! output is acknowledged**, so a crash redelivers undecided work and never skips it. Each
//! verdict and each feedback record is recorded in the store before anything is produced: a
//! redelivered message re-emits its recorded verdict instead of being decided again, and a
//! redelivered feedback record is not counted again (see `Recorded`). Nothing is
//! in flight while the consumer is polled, and rebalances are handled inside that poll: the
//! revocation callback commits exactly the decided work before the partitions move.
//!
//! Failures are classified where they happen: a record that can never be decided is a dead
//! letter and its offset advances; a broker that cannot be reached, or a store that is busy or
//! down, is waited for, with backoff, and nothing is committed meanwhile; a store error that
//! retrying cannot fix stops the processor, the batch in hand uncommitted.
//!
//! A file per role: `client` (the Kafka clients and their callbacks), `replay` (what is
//! recorded), `deliver` (producing outputs, storing offsets), `retry`, `tally` (metrics), and
//! `decide` (records to decisions, no Kafka); the loop itself is here.

mod client;
pub mod decide;
mod deliver;
mod replay;
mod retry;
mod tally;

use std::collections::BTreeMap;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::FutureProducer;
use tokio::sync::watch;
use tokio::time::Instant;

pub use client::{GroupContext, event_producer};

use crate::config::ServiceConfig;
use crate::enforce::Enforcer;
use crate::metrics::METRICS;
use crate::privacy::{RecipientHasher, Secret};
use crate::scoring::Scorer;
use crate::store::{Store, StoreError};
use crate::suspension::SuspensionPolicy;
use client::{commit, consumer_config, producer_config, record_of};
use decide::{Decision, Input, Record, decide_batch};
use replay::Recorded;
use retry::{Halt, until_stored};
use tally::BatchTally;

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
    /// The store failed in a way retrying cannot fix; the batch in hand was not committed.
    #[error("{what}: {source}")]
    Store {
        what: &'static str,
        source: StoreError,
    },
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

/// What an admin's reload hands the stream processor: the new scorer (rules, model, message
/// policy) and the account policy read with it, for the enforcer.
#[derive(Clone)]
pub struct ScoringUpdate {
    pub scorer: Arc<Scorer>,
    pub account_policy: SuspensionPolicy,
    /// The clause each policy tag's notices link (`[statements.tags]` of the policy file).
    pub clause_urls: BTreeMap<String, String>,
}

/// The consumer, the producer, the scorer and the pool that runs it.
pub struct Processor {
    consumer: StreamConsumer<GroupContext>,
    producer: FutureProducer<GroupContext>,
    scorer: Arc<Scorer>,
    /// New rules and policy from an admin's reload, taken between batches.
    scorer_updates: Option<watch::Receiver<Option<ScoringUpdate>>>,
    recipients: RecipientHasher,
    pool: Arc<rayon::ThreadPool>,
    config: ServiceConfig,
    /// Signals, the account policy and the cases.
    enforcer: Enforcer,
    /// Where each batch's decisions are recorded before they are produced (`replay`).
    store: Store,
    /// Raised by the rebalance callback when partitions are assigned.
    assigned: Arc<AtomicBool>,
    /// Input partitions read past the redelivered records since the last assignment: their
    /// records are no longer looked up before deciding (see `recorded`). Keyed by topic too:
    /// `messages` and `message-feedback` both have a partition 0.
    past_redelivery: HashSet<(Input, i32)>,
    /// When signals were last checkpointed.
    last_checkpoint: Instant,
}

/// Counts the time since `start` to one stage of the batch loop (`warden_batch_stage_seconds`,
/// where an operator sees which stage a slow stream waits on) and returns when it ended.
fn observe_stage(stage: &str, start: Instant) -> Instant {
    let end = Instant::now();
    METRICS
        .batch_stage_seconds
        .with_label_values(&[stage])
        .observe((end - start).as_secs_f64());
    end
}

/// What one delivered batch adds to the run's summary.
struct BatchCount {
    verdicts: u64,
    feedback: u64,
    dead_letters: u64,
}

/// How often the signals of changed accounts are checkpointed to the store.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

impl Processor {
    /// Connects (lazily: librdkafka dials on first use) and subscribes to the messages topic.
    /// Decisions update the enforcer's signals and may open cases; `store` records them.
    pub fn new(
        service: ServiceConfig,
        scorer: Scorer,
        recipient_key: Secret,
        enforcer: Enforcer,
        store: Store,
    ) -> Result<Self, IngestError> {
        let assigned = Arc::new(AtomicBool::new(false));
        let consumer: StreamConsumer<GroupContext> = consumer_config(&service.kafka)
            .create_with_context(GroupContext {
                assigned: Arc::clone(&assigned),
                messages_topic: service.topics.messages.clone(),
            })
            .map_err(|source| IngestError::Client {
                client: "consumer",
                source,
            })?;
        let producer: FutureProducer<GroupContext> = producer_config(&service.kafka)
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
        Ok(Self {
            consumer,
            producer,
            scorer: {
                set_build_info(&scorer);
                Arc::new(scorer)
            },
            scorer_updates: None,
            recipients: RecipientHasher::new(&recipient_key),
            pool: Arc::new(pool),
            config: service,
            enforcer,
            store,
            assigned,
            past_redelivery: HashSet::new(),
            last_checkpoint: Instant::now(),
        })
    }

    /// Takes new scorers (rules, model, policy) from `updates` between batches.
    pub fn with_scorer_updates(mut self, updates: watch::Receiver<Option<ScoringUpdate>>) -> Self {
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
        let Some(ScoringUpdate {
            scorer,
            account_policy,
            clause_urls,
        }) = updates.borrow_and_update().clone()
        else {
            return;
        };
        self.enforcer.set_policy(account_policy, clause_urls);
        tracing::info!(
            rules_version = scorer.rules().version(),
            "scoring with reloaded rules and policy"
        );
        set_build_info(&scorer);
        self.scorer = scorer;
    }

    /// Runs until `shutdown` turns true, then finishes the batch in hand (within the drain
    /// timeout), commits, and leaves the group. Stops early, with the error, when the store
    /// fails in a way retrying cannot fix; what was not committed is redelivered on restart.
    pub async fn run(
        mut self,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<RunSummary, IngestError> {
        let mut summary = RunSummary::default();
        tracing::info!(
            brokers = %self.config.kafka.brokers,
            group = %self.config.kafka.group,
            topic = %self.config.topics.messages,
            "stream processor started"
        );
        let mut halted = None;
        while halted.is_none() {
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
            match self.process(records, &shutdown).await {
                Ok(batch) => {
                    summary.verdicts += batch.verdicts;
                    summary.feedback += batch.feedback;
                    summary.dead_letters += batch.dead_letters;
                }
                Err(halt) => halted = Some(halt),
            }
        }
        let failure = match halted {
            None => None,
            Some(Halt::Shutdown) => {
                summary.abandoned_batches += 1;
                None
            }
            Some(Halt::Permanent { what, error }) => {
                tracing::error!(%error, "{what}: stopping, the batch in hand is not committed");
                Some(IngestError::Store {
                    what,
                    source: error,
                })
            }
        };
        self.enforcer.checkpoint().await;
        self.close();
        tracing::info!(
            verdicts = summary.verdicts,
            feedback = summary.feedback,
            dead_letters = summary.dead_letters,
            abandoned_batches = summary.abandoned_batches,
            "stream processor stopped"
        );
        failure.map_or(Ok(summary), Err)
    }

    /// One batch, as in the module's diagram: decide, look up what is recorded, enforce (cases
    /// and their events written to the outbox), record, deliver, store the offsets.
    async fn process(
        &mut self,
        records: Vec<Record>,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<BatchCount, Halt> {
        self.take_scorer_update();
        if self.assigned.swap(false, Ordering::AcqRel) {
            self.past_redelivery.clear();
            if let Err(error) = self.enforcer.restore_account_state().await {
                tracing::warn!(%error, "cannot restore signal checkpoints and opt-outs; continuing without");
            }
        }
        let stage = Instant::now();
        let (records, mut decisions) = self.decide_on_pool(records).await;
        let stage = observe_stage("decide", stage);
        // Exactly one decision per message: see `Recorded`.
        let mut recorded = self.recorded(&records, &decisions, shutdown).await?;
        let stage = observe_stage("lookup", stage);
        self.enforce(&mut decisions, &recorded, shutdown).await?;
        let stage = observe_stage("enforce", stage);
        let count = |f: fn(&Decision) -> bool| decisions.iter().filter(|d| f(d)).count() as u64;
        let dead_letters = count(|d| matches!(d, Decision::DeadLetter { .. }));
        let feedback = count(|d| matches!(d, Decision::Feedback { .. }));
        let tally = BatchTally::of(&decisions, &recorded);
        self.record(&decisions, &mut recorded, shutdown).await?;
        let stage = observe_stage("record", stage);
        let outputs = self.outputs(&records, decisions, recorded);
        self.deliver(&records, outputs, shutdown).await?;
        tracing::debug!(records = records.len(), dead_letters, "batch delivered");
        self.store_offsets(&records);
        observe_stage("deliver", stage);
        tally.record();
        self.checkpoint_if_due().await;
        Ok(BatchCount {
            verdicts: records.len() as u64 - dead_letters - feedback,
            feedback,
            dead_letters,
        })
    }

    /// Runs the account policy over the batch's verdicts and feedback, in order, and opens the
    /// cases it calls for; a message or feedback record that is recorded already was counted
    /// when it was first decided, and is skipped (its signals are not counted twice). A
    /// transient store error is retried (nothing is committed meanwhile).
    async fn enforce(
        &mut self,
        decisions: &mut [Decision],
        recorded: &Recorded,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<(), Halt> {
        let max_backoff_ms = self.config.stream.retry_backoff_max_ms;
        let enforcer = &mut self.enforcer;
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
                    recipient,
                } => {
                    until_stored(
                        "cannot record an opt-out",
                        max_backoff_ms,
                        shutdown,
                        async || {
                            enforcer
                                .take_feedback(account_id, message_id, *kind, *at, *recipient)
                                .await
                        },
                    )
                    .await?
                }
                Decision::DeadLetter { .. } => None,
            };
            let Some(case) = case else {
                continue;
            };
            until_stored(
                "cannot write the case",
                max_backoff_ms,
                shutdown,
                async || enforcer.open(&case).await,
            )
            .await?;
        }
        Ok(())
    }

    /// Checkpoints the enforcer's signals, and reads the breaker's state, every
    /// `CHECKPOINT_EVERY`.
    async fn checkpoint_if_due(&mut self) {
        if self.last_checkpoint.elapsed() < CHECKPOINT_EVERY {
            return;
        }
        self.enforcer.checkpoint().await;
        self.last_checkpoint = Instant::now();
    }

    /// Waits for one record (until `idle_until`: then none), then takes whatever else arrives
    /// within `batch_wait_ms`.
    async fn next_batch(&self, idle_until: Instant) -> Vec<Record> {
        let mut records = Vec::new();
        let mut backoff = retry::Backoff::new(self.config.stream.retry_backoff_max_ms);
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
        // The wait for a first record is idle time, not the loop's: its fetch stage starts here.
        let filling = Instant::now();
        let deadline = filling + Duration::from_millis(self.config.stream.batch_wait_ms);
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
        observe_stage("fetch", filling);
        records
    }

    /// Decides a batch on the scoring pool, off the async reactor; the records come back with
    /// their decisions (moved, not copied: a batch's payloads are most of its memory).
    async fn decide_on_pool(&self, records: Vec<Record>) -> (Vec<Record>, Vec<Decision>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (pool, scorer) = (Arc::clone(&self.pool), Arc::clone(&self.scorer));
        let topics = self.config.topics.clone();
        let recipients = self.recipients.clone();
        self.pool.spawn(move || {
            let start = std::time::Instant::now();
            let decisions = decide_batch(&pool, &scorer, &recipients, &topics, &records);
            METRICS
                .scoring_seconds
                .observe(start.elapsed().as_secs_f64());
            // The receiver is only gone if the runtime is shutting down.
            let _ = tx.send((records, decisions));
        });
        rx.await.expect("the scoring pool outlives the processor")
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
