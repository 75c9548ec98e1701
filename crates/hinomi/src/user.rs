//! `hinomi user`: console users and their roles per tenant.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use access::Scope;
use anyhow::{Context, Result};
use clap::Subcommand;
use state::By;

#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// Create a console user with a role in one tenant; prints a generated
    /// password (shown once) unless one is read from standard input.
    Add {
        #[arg(long, env = "HINOMI_DATA", value_name = "DIR")]
        data: PathBuf,
        name: String,
        #[arg(long, default_value = "default")]
        tenant: String,
        /// viewer, analyst, responder, lead or admin.
        #[arg(long, value_parser = Scope::parse, default_value = "viewer")]
        role: Scope,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Who creates it (recorded in the audit trail).
        #[arg(long = "as", env = "USER", default_value = "cli")]
        actor: String,
    },
    /// Give a user a role in a tenant, or take it away with `--role none`.
    Grant {
        #[arg(long, env = "HINOMI_DATA", value_name = "DIR")]
        data: PathBuf,
        name: String,
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        role: String,
        #[arg(long = "as", env = "USER", default_value = "cli")]
        actor: String,
    },
    /// Set a new password (read from standard input); the user's sessions end.
    Passwd {
        #[arg(long, env = "HINOMI_DATA", value_name = "DIR")]
        data: PathBuf,
        name: String,
        #[arg(long = "as", env = "USER", default_value = "cli")]
        actor: String,
    },
    /// List users and their roles.
    List {
        #[arg(long, env = "HINOMI_DATA", value_name = "DIR")]
        data: PathBuf,
    },
}

fn stdin_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    anyhow::ensure!(password.chars().count() >= 12, "a password needs at least 12 characters");
    Ok(password)
}

fn generated() -> Result<String> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

pub(crate) fn run(cmd: UserCommand) -> Result<ExitCode> {
    let now = jiff::Timestamp::now();
    match cmd {
        UserCommand::Add { data, name, tenant, role, password_stdin, actor } => {
            let password = if password_stdin { stdin_password()? } else { generated()? };
            let hash = state::password::hash(&password).map_err(anyhow::Error::msg)?;
            let state = server::config::Config::for_data(&data, None)?.triage.open(&data)?;
            let by = By { tenant: &tenant, actor: &actor, now };
            state.add_user(&by, &name, &hash, "", "UTC")?;
            state.grant(&by, &name, Some(role))?;
            eprintln!("user {name} created with role {} in tenant {tenant}", role.as_str());
            if !password_stdin {
                println!("{password}");
            }
        }
        UserCommand::Grant { data, name, tenant, role, actor } => {
            let role = if role == "none" { None } else { Some(Scope::parse(&role).map_err(anyhow::Error::msg)?) };
            let state = server::config::Config::for_data(&data, None)?.triage.open(&data)?;
            state.grant(&By { tenant: &tenant, actor: &actor, now }, &name, role)?;
        }
        UserCommand::Passwd { data, name, actor } => {
            let hash = state::password::hash(&stdin_password()?).map_err(anyhow::Error::msg)?;
            let state = server::config::Config::for_data(&data, None)?.triage.open(&data)?;
            state.set_password(&By { tenant: "", actor: &actor, now }, &name, &hash)?;
        }
        UserCommand::List { data } => {
            let state = server::config::Config::for_data(&data, None)?.triage.open(&data)?;
            for u in state.users(None)? {
                let grants: Vec<String> = u.grants.iter().map(|(t, r)| format!("{t}:{}", r.as_str())).collect();
                let lock = u.locked_until.map(|t| format!(" locked until {t}")).unwrap_or_default();
                println!("{}\t{}{lock}", u.name, grants.join(","));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
