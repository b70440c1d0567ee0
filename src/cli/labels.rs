//! `warden labels export`: reviewers' labels as a `label<TAB>text` file for `warden train
//! --reviewed`. Overturned cases label their evidence `ham`; texts are the redacted excerpts
//! (the store keeps nothing else).

use std::process::ExitCode;

use super::DatabaseArgs;

#[derive(Debug, clap::Args)]
pub struct LabelsArgs {
    #[command(subcommand)]
    command: LabelsCommand,
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(Debug, clap::Subcommand)]
enum LabelsCommand {
    /// Print every label as `label<TAB>text`, oldest first.
    Export,
}

pub fn run(args: LabelsArgs) -> anyhow::Result<ExitCode> {
    let LabelsCommand::Export = args.command;
    let labels = args
        .database
        .with_store(async |store| Ok(store.labels().await?))?;
    println!("# Warden reviewers' labels (overturned cases' evidence, redacted): label<TAB>text");
    for (label, text) in labels {
        let text = text.replace(['\t', '\n', '\r'], " ");
        println!("{label}\t{text}");
    }
    Ok(ExitCode::SUCCESS)
}
