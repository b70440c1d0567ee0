//! Where a backtest's recorded traffic comes from: a JSONL file of `messages` records, or the
//! `messages` and `message-feedback` topics between two times, read by assigned partitions
//! from the offsets for the first time (never as a member of a consumer group, and never
//! committing), so that nothing about the running Warden changes. A partition is read until
//! its first record at or after the end time, or its end when the backtest started; records'
//! own times decide, since a broker may answer a time with no record after it with offset 0.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Lines};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use warden::harness::client;
use warden::ingest::decide::{Input, Record};

/// How long the topics may stay silent while records up to the end time are still due.
const PATIENCE: Duration = Duration::from_secs(30);

/// Recorded traffic, a round at a time.
pub trait Records: Send {
    /// Up to `most` records, in order; none at the end.
    fn next_round(&mut self, most: usize) -> anyhow::Result<Vec<Record>>;
}

/// A JSONL file of `messages` records, a line each.
pub struct FileRecords {
    lines: Lines<BufReader<std::fs::File>>,
    line: i64,
}

impl FileRecords {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        Ok(Self {
            lines: BufReader::new(file).lines(),
            line: 0,
        })
    }
}

impl Records for FileRecords {
    fn next_round(&mut self, most: usize) -> anyhow::Result<Vec<Record>> {
        let mut round = Vec::with_capacity(most);
        for line in self.lines.by_ref().take(most) {
            let line = line.context("cannot read the input")?;
            self.line += 1;
            if line.trim().is_empty() {
                continue;
            }
            round.push(Record {
                input: Input::Messages,
                partition: 0,
                offset: self.line,
                key: None,
                payload: Some(line.into_bytes()),
            });
        }
        Ok(round)
    }
}

/// The records of some topics between two times, every partition from the first offset at or
/// after `from` to the last before `to`.
pub struct TopicRecords {
    consumer: BaseConsumer,
    /// Per topic: what its records are, and each partition's end (exclusive) while unread.
    topics: HashMap<String, (Input, HashMap<i32, i64>)>,
    /// The window, in Unix ms: `[from, to)`.
    from_ms: i64,
    to_ms: i64,
}

impl TopicRecords {
    /// Assigns every partition of `topics` from the offsets for `from_ms`, to read up to its
    /// first record at or after `to_ms`, or its end now.
    pub fn open(
        brokers: &str,
        topics: &[(Input, &str)],
        from_ms: i64,
        to_ms: i64,
    ) -> anyhow::Result<Self> {
        let consumer: BaseConsumer = client(brokers)
            // Never used to join or commit: assigned partitions only.
            .set(
                "group.id",
                format!("warden-backtest-{}", std::process::id()),
            )
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .create()
            .context("cannot create the reader")?;
        let wait = Duration::from_secs(10);
        let mut assignment = TopicPartitionList::new();
        let mut ranges = HashMap::new();
        for &(input, topic) in topics {
            let metadata = consumer
                .fetch_metadata(Some(topic), wait)
                .with_context(|| format!("cannot read {topic}'s metadata from {brokers}"))?;
            let partitions: Vec<i32> = metadata
                .topics()
                .iter()
                .flat_map(|t| t.partitions().iter().map(|p| p.id()))
                .collect();
            anyhow::ensure!(!partitions.is_empty(), "{topic} has no partitions");
            let mut times = TopicPartitionList::new();
            for &partition in &partitions {
                times.add_partition_offset(topic, partition, Offset::Offset(from_ms))?;
            }
            let starts = consumer
                .offsets_for_times(times, wait)
                .with_context(|| format!("cannot find {topic}'s offsets for --from"))?;
            let mut unread = HashMap::new();
            for &partition in &partitions {
                let (_, high) = consumer
                    .fetch_watermarks(topic, partition, wait)
                    .with_context(|| format!("cannot read {topic}/{partition}'s offsets"))?;
                let start = match starts.find_partition(topic, partition).map(|e| e.offset()) {
                    Some(Offset::Offset(offset)) => offset,
                    _ => high,
                };
                if start < high {
                    assignment.add_partition_offset(topic, partition, Offset::Offset(start))?;
                    unread.insert(partition, high);
                }
            }
            ranges.insert(topic.to_owned(), (input, unread));
        }
        consumer
            .assign(&assignment)
            .context("cannot assign the partitions")?;
        Ok(Self {
            consumer,
            topics: ranges,
            from_ms,
            to_ms,
        })
    }

    fn done(&self) -> bool {
        self.topics.values().all(|(_, unread)| unread.is_empty())
    }
}

impl Records for TopicRecords {
    fn next_round(&mut self, most: usize) -> anyhow::Result<Vec<Record>> {
        let mut round = Vec::with_capacity(most);
        let mut last_record = Instant::now();
        while round.len() < most && !self.done() {
            let Some(polled) = self.consumer.poll(Duration::from_millis(100)) else {
                anyhow::ensure!(
                    last_record.elapsed() < PATIENCE,
                    "no record for {PATIENCE:?} while the topics still owe some before --to"
                );
                continue;
            };
            last_record = Instant::now();
            let message = polled.context("cannot read the topics")?;
            let Some((input, unread)) = self.topics.get_mut(message.topic()) else {
                continue;
            };
            let partition = message.partition();
            let Some(&end) = unread.get(&partition) else {
                continue;
            };
            let at = message.timestamp().to_millis().unwrap_or(self.from_ms);
            if at >= self.to_ms {
                unread.remove(&partition);
                continue;
            }
            if message.offset() + 1 >= end {
                unread.remove(&partition);
            }
            if message.offset() < end && at >= self.from_ms {
                round.push(Record {
                    input: *input,
                    partition,
                    offset: message.offset(),
                    key: message.key().map(<[u8]>::to_vec),
                    payload: message.payload().map(<[u8]>::to_vec),
                });
            }
        }
        Ok(round)
    }
}
