//! `hinomi token`: create API and ingest tokens.

use std::path::PathBuf;
use std::process::ExitCode;

use access::Scope;
use anyhow::{Context, Result};
use clap::Subcommand;
use state::tokens;

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
        /// Who creates it (recorded in the audit trail).
        #[arg(long = "as", env = "USER", default_value = "cli")]
        actor: String,
    },
    /// Revoke a token by its id (as `list` shows it); it stops working at once.
    Revoke {
        #[arg(long, env = "HINOMI_DATA", value_name = "DIR")]
        data: PathBuf,
        id: String,
        /// Who revokes it (recorded in the audit trail).
        #[arg(long = "as", env = "USER", default_value = "cli")]
        actor: String,
    },
    /// List tokens (ids, tenants and scopes; never the secrets).
    List {
        #[arg(long, env = "HINOMI_DATA", value_name = "DIR")]
        data: PathBuf,
    },
}

pub(crate) fn run(cmd: TokenCommand) -> Result<ExitCode> {
    match cmd {
        TokenCommand::Create { data, tenant, scope, source, actor } => {
            let now = jiff::Timestamp::now().to_string();
            let (token, record) = tokens::create(&data, &tenant, scope, source.as_deref(), &now)
                .with_context(|| format!("creating a token in {}", data.display()))?;
            let state = server::config::Config::for_data(&data, None)?.triage.open(&data)?;
            let by = state::By { tenant: &record.tenant, actor: &actor, now: jiff::Timestamp::now() };
            let target = format!("token:{}", record.id);
            state.audit(&by, "token_create", &target, &serde_json::json!({"scope": record.scope.as_str()}))?;
            eprintln!("token {} for tenant {} with scope {}", record.id, record.tenant, record.scope.as_str());
            println!("{token}");
        }
        TokenCommand::Revoke { data, id, actor } => {
            let now = jiff::Timestamp::now();
            let record =
                tokens::revoke(&data, &id, &now.to_string()).with_context(|| format!("revoking token {id}"))?;
            // Permission changes belong in the tenant's audit trail.
            let state = server::config::Config::for_data(&data, None)?.triage.open(&data)?;
            let by = state::By { tenant: &record.tenant, actor: &actor, now };
            state.audit(
                &by,
                "token_revoke",
                &format!("token:{id}"),
                &serde_json::json!({"scope": record.scope.as_str()}),
            )?;
            eprintln!("token {id} of tenant {} revoked", record.tenant);
        }
        TokenCommand::List { data } => {
            for t in tokens::load(&data)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.tenant,
                    t.scope.as_str(),
                    t.source.as_deref().unwrap_or("-"),
                    t.created,
                    t.revoked.as_deref().map_or("active".to_string(), |r| format!("revoked {r}"))
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
