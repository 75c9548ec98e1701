//! The `hinomi` binary: command line, configuration and wiring.
//!
//! This is the crate that knows about terminals and output formats. Each
//! subcommand lives in its own module (`hunt.rs`, `serve.rs`, `token.rs`);
//! shared rule loading is in `rules/`, detection output in `output.rs`.
//! The server itself (HTTP, the console, the configuration) is the
//! `server` crate; `serve.rs` starts the engine and hands it over.

mod cases;
mod demo;
mod export;
mod hunt;
mod import;
mod intel;
mod output;
mod playbooks;
mod retro;
mod rules;
mod search;
mod serve;
mod timeline;
mod tls;
mod token;
mod user;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Hinomi (火の見): an open-source SOC platform.
#[derive(Parser)]
#[command(name = "hinomi", version, about)]
struct Cli {
    /// How log lines are written to stderr: `text`, or `json` (one object
    /// per line, for a log shipper). `HINOMI_LOG` filters them (`info`).
    #[arg(long, global = true, default_value = "text", env = "HINOMI_LOG_FORMAT", value_name = "FORMAT")]
    log_format: server::logging::LogFormat,
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
    /// Response playbooks as code: check them, run their tests dry.
    #[command(subcommand)]
    Playbook(playbooks::PlaybookCommand),
    /// Import log files into a data directory or a running server.
    Import(import::ImportArgs),
    /// Run the server: listeners, pipeline and API on one data directory.
    Serve(serve::ServeArgs),
    /// Search the event store of a data directory.
    Search(search::SearchArgs),
    /// Export closed partitions of the event store as Parquet files.
    Export(export::ExportArgs),
    /// The alert queue (triaged, deduplicated alerts).
    #[command(subcommand)]
    Alerts(cases::AlertsCommand),
    /// Incidents: list, show, acknowledge, assign, move, close, note, escalate.
    #[command(subcommand)]
    Incident(cases::IncidentCommand),
    /// The asset inventory that sets alert severity.
    #[command(subcommand)]
    Assets(cases::AssetsCommand),
    /// Threat intelligence: import indicator feeds (STIX 2.1, MISP, CSV, lists), list them.
    #[command(subcommand)]
    Intel(intel::IntelCommand),
    /// The hash-chained audit trail: verify it, list it.
    #[command(subcommand)]
    Audit(cases::AuditCommand),
    /// Create and list API and ingest tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Console users and their roles per tenant.
    #[command(subcommand)]
    User(user::UserCommand),
    /// TLS helpers: a self-signed certificate for syslog over TLS.
    #[command(subcommand)]
    Tls(tls::TlsCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    server::logging::init(cli.log_format);
    server::tls::install_provider();
    let result = match cli.command {
        Command::Hunt(args) => hunt::run(args),
        Command::Rules(cmd) => rules::run(cmd),
        Command::Playbook(cmd) => playbooks::run(cmd),
        Command::Import(args) => import::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Search(args) => search::run(args),
        Command::Export(args) => export::run(args),
        Command::Alerts(cmd) => cases::alerts(cmd),
        Command::Incident(cmd) => cases::incident(cmd),
        Command::Assets(cmd) => cases::assets(cmd),
        Command::Audit(cmd) => cases::audit(cmd),
        Command::Intel(cmd) => intel::run(cmd),
        Command::Token(cmd) => token::run(cmd),
        Command::User(cmd) => user::run(cmd),
        Command::Tls(cmd) => tls::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README writes time ranges as offsets (`--from -24h`): they must
    /// not be taken for flags.
    #[test]
    fn time_offsets_are_values_not_flags() {
        let search = Cli::try_parse_from(["hinomi", "search", "--data", "d", "x", "--from", "-24h", "--to", "-1h"]);
        assert!(search.is_ok(), "{:?}", search.err());
        let hunt = Cli::try_parse_from(["hinomi", "hunt", "--store", "--data", "d", "--rules", "r", "--from", "-90d"]);
        assert!(hunt.is_ok(), "{:?}", hunt.err());
        let (now, ago) = (jiff::Timestamp::now(), hunt::parse_time("-90d").unwrap());
        let days = now.duration_since(ago).as_hours() / 24;
        assert!((89..=90).contains(&days), "{days}");
        assert_eq!(hunt::parse_time("2026-11-01 10:00").unwrap().to_string(), "2026-11-01T10:00:00Z");
        assert!(hunt::parse_time("yesterday").unwrap_err().contains("-24h"));
    }
}
