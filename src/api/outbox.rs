//! Delivers the events every step wrote to the outbox (cases opened by the stream, reviewers'
//! and admins' steps): produced with acknowledgement, then marked sent. Woken when a step
//! writes, and every second in case a wake-up was missed or a delivery failed; a crash in
//! between sends an event again (consumers key on its content). When told to stop, it makes
//! one last pass (bounded), so that what the last steps wrote leaves with the process.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use tokio::sync::{Notify, watch};

use crate::config::Topics;
use crate::store::{OutboxEvent, OutboxTopic, Store};

/// Events sent together at most.
const BATCH: i64 = 500;

pub async fn deliver(
    store: Store,
    producer: FutureProducer,
    topics: Topics,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut failures = 0u32;
    loop {
        let sent = match store.unsent_events(BATCH).await {
            Ok(events) if !events.is_empty() => send(&store, &producer, &topics, &events).await,
            Ok(_) => Ok(0),
            Err(error) => Err(error.to_string()),
        };
        let pause = match sent {
            Ok(n) if n as i64 == BATCH => {
                failures = 0;
                continue;
            }
            Ok(_) => {
                failures = 0;
                Duration::from_secs(1)
            }
            Err(error) => {
                failures += 1;
                tracing::warn!(error, "cannot deliver review events; retrying");
                Duration::from_millis(200 * u64::from(failures.min(25)))
            }
        };
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(pause) => {}
        }
    }
    let last_pass = async {
        while let Ok(events) = store.unsent_events(BATCH).await
            && !events.is_empty()
            && send(&store, &producer, &topics, &events).await.is_ok()
        {}
    };
    if tokio::time::timeout(LAST_PASS, last_pass).await.is_err() {
        tracing::warn!("outbox not emptied at shutdown; the rest is sent at the next start");
    }
}

/// Longest the last pass at shutdown may take.
const LAST_PASS: Duration = Duration::from_secs(10);

async fn send(
    store: &Store,
    producer: &FutureProducer,
    topics: &Topics,
    events: &[OutboxEvent],
) -> Result<usize, String> {
    let results = join_all(events.iter().map(|event| {
        let topic = match event.topic {
            OutboxTopic::AccountActions => &topics.account_actions,
            OutboxTopic::Notices => &topics.notices,
        };
        producer.send(
            FutureRecord::to(topic)
                .key(event.key.as_bytes())
                .payload(event.payload.as_bytes()),
            Timeout::Never,
        )
    }))
    .await;
    let acknowledged: Vec<&str> = events
        .iter()
        .zip(&results)
        .filter(|(_, result)| result.is_ok())
        .map(|(event, _)| event.event_id.as_str())
        .collect();
    let now = super::now_ms();
    store
        .mark_events_sent(&acknowledged, now)
        .await
        .map_err(|e| e.to_string())?;
    match results.iter().find_map(|r| r.as_ref().err()) {
        Some((error, _)) => Err(error.to_string()),
        None => Ok(acknowledged.len()),
    }
}
