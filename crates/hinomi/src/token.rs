//! `hinomi token`: create API and ingest tokens.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use store::tokens::{self, Scope};

#[derive(Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token and print it (it is shown only once; only its hash is stored).
    Create {
        #[arg(long, env = "HINOMI_DATA", value_name = "DIR")]
        data: PathBuf,
        #[arg(long, default_value = "default")]
        tenant: String,
        /// ingest (send events only), viewer (read), analyst (work incidents), responder
        /// (also escalate, retro-hunt), lead (also suppress, assets, SLA), admin (everything).
        #[arg(long, value_parser = Scope::parse)]
        scope: Scope,
        /// The source events sent with this token are counted under
        /// (default: the route, e.g. `bulk`, `hec`, `otlp`).
        #[arg(long)]
        source: Option<String>,
    },
    /// List tokens (ids, tenants and scopes; never the secrets).
    List {
        #[arg(long, env = "HINOMI_DATA", value_name = "DIR")]
        data: PathBuf,
    },
}

pub(crate) fn run(cmd: TokenCommand) -> Result<ExitCode> {
    match cmd {
        TokenCommand::Create { data, tenant, scope, source } => {
            let now = jiff::Timestamp::now().to_string();
            let (token, record) = tokens::create(&data, &tenant, scope, source.as_deref(), &now)
                .with_context(|| format!("creating a token in {}", data.display()))?;
            eprintln!("token {} for tenant {} with scope {}", record.id, record.tenant, record.scope.as_str());
            println!("{token}");
        }
        TokenCommand::List { data } => {
            for t in tokens::load(&data)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.tenant,
                    t.scope.as_str(),
                    t.source.as_deref().unwrap_or("-"),
                    t.created
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
