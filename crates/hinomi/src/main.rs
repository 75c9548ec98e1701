//! The `hinomi` binary: command line, configuration and wiring.
//!
//! This is the only crate that knows about files, terminals and output
//! formats. Each subcommand lives in its own module (`hunt.rs`); shared rule
//! loading is in `rules.rs` and detection output in `output.rs`.

mod hunt;
mod output;
mod rules;
mod timeline;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Hinomi (火の見): an open-source SOC platform.
#[derive(Parser)]
#[command(name = "hinomi", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run Sigma rules over EVTX and JSON log files and print a timeline of detections.
    Hunt(hunt::HuntArgs),
    /// Work with rule sets.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Hunt(args) => hunt::run(args),
        Command::Rules(cmd) => rules::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
