//! Warden: spam, fraud and abuse protection for a messaging platform.
//!
//! Modules follow the data flow: a `message` is decoded, its `text` normalized and extracted,
//! scored by `rules`, and turned into a verdict by `scoring` under the `policy`.

pub mod api;
pub mod case;
pub mod clock;
pub mod config;
pub mod console;
pub mod dataset;
pub mod enforce;
pub mod eval;
pub mod harness;
pub mod ingest;
pub mod message;
pub mod metrics;
pub mod model;
pub mod policy;
pub mod privacy;
pub mod rules;
pub mod scoring;
pub mod signals;
pub mod statements;
pub mod store;
pub mod suspension;
pub mod text;
pub mod transparency;
