//! The local rig that tests and developer tools share: a tansu broker, a run's topics, a
//! `warden run` child process, the send loop and topic readers.
//!
//! Not part of the service (`warden run` never uses it). It lives in the library so that
//! `warden bench`, `soak`, `simulate` and `demo` and the integration tests start a broker and
//! a Warden process, and send and read traffic, in one way.

mod broker;
mod process;
mod topics;
mod traffic;

pub use broker::{Tansu, listening, tansu_binary};
pub use process::WardenRun;
pub use topics::Topics;
pub use traffic::{Outgoing, Received, SmsMessage, client, reader_from_beginning, send};

/// What went wrong while starting or driving the rig.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Kafka {
        what: String,
        #[source]
        source: rdkafka::error::KafkaError,
    },
    #[error("{what} did not happen within {after:?}")]
    TimedOut {
        what: String,
        after: std::time::Duration,
    },
    #[error("warden run exited early: {0}")]
    Exited(std::process::ExitStatus),
    #[error("topic {0} has no partitions")]
    NoPartitions(String),
    #[error("cannot create topic {topic}: {code}")]
    TopicRefused { topic: String, code: String },
}

impl HarnessError {
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }

    fn kafka(what: impl Into<String>) -> impl FnOnce(rdkafka::error::KafkaError) -> Self {
        let what = what.into();
        move |source| Self::Kafka { what, source }
    }
}
