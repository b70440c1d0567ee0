//! Replay of recorded decisions: a redelivered message re-emits the verdict it
//! was given and a redelivered feedback record is not counted again. See [`Recorded`].

use std::borrow::Cow;

use tokio::sync::watch;

use super::Processor;
use super::decide::{Decision, Input, Record};
use super::retry::{Halt, until_stored};
use crate::clock;

/// Per record of a batch, what the store holds under its [`record_key`]: a verdict as
/// recorded (the JSON produced on `verdicts`, byte for byte), or for feedback a placeholder
/// that is never produced; `None`: a dead letter, or not recorded yet.
///
/// Every message gets exactly one decision, and every feedback record counts
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
/// A verdict is on the topic only if its decision is recorded.
pub(super) type Recorded = Vec<Option<String>>;

impl Processor {
    /// What is already recorded for the batch's messages and feedback (a redelivery: the
    /// batch was decided, at least in part, before a crash or by a member that lost the
    /// partition), in one query.
    ///
    /// Only the start of each partition after an assignment can be a redelivery: a member
    /// decides and records a partition's records in offset order, so what it recorded past
    /// the committed offset is a run that the next reader meets first. Once a partition shows
    /// a record with no recorded key, the run is over, and that partition's later records are
    /// not looked up until the next assignment. (The same message id sent twice still gets
    /// one verdict: `record` keeps the first.)
    pub(super) async fn recorded(
        &mut self,
        records: &[Record],
        decisions: &[Decision],
        shutdown: &watch::Receiver<bool>,
    ) -> Result<Recorded, Halt> {
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
            return Ok(recorded);
        }
        let lookup: Vec<&str> = looked_up.iter().map(|(_, key)| *key).collect();
        let store = &self.store;
        let max_backoff_ms = self.config.stream.retry_backoff_max_ms;
        let found = until_stored(
            "cannot read recorded verdicts",
            max_backoff_ms,
            shutdown,
            async || store.recorded_verdicts(&lookup).await,
        )
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
        Ok(recorded)
    }

    /// Records the batch's new verdicts, encoded as they will be produced, and its new
    /// feedback, in one transaction, before any verdict is produced. Where a verdict was
    /// recorded first (another member deciding the same redelivery, or one message id twice),
    /// the recorded one is what is produced.
    pub(super) async fn record(
        &self,
        decisions: &[Decision],
        recorded: &mut Recorded,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<(), Halt> {
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
            return Ok(());
        }
        let rows: Vec<(&str, &str)> = fresh
            .iter()
            .map(|(_, key, json)| (key.as_ref(), json.as_str()))
            .collect();
        let at = clock::now_ms();
        let store = &self.store;
        let max_backoff_ms = self.config.stream.retry_backoff_max_ms;
        let first = until_stored(
            "cannot record verdicts",
            max_backoff_ms,
            shutdown,
            async || store.record_verdicts(&rows, at).await,
        )
        .await?;
        for (index, key, json) in fresh {
            recorded[index] = Some(first.get(key.as_ref()).cloned().unwrap_or(json));
        }
        Ok(())
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
