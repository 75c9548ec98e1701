//! `hinomi tls selfsigned`: a certificate and key for a first setup or a
//! test. Loading them for the listeners is `server::tls`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum TlsCommand {
    /// Write a self-signed certificate and key (PEM) for the given names.
    Selfsigned {
        /// Directory for cert.pem and key.pem.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// DNS names or IP addresses the certificate is for; repeatable.
        #[arg(long = "name", default_values_t = ["localhost".to_string(), "127.0.0.1".to_string()])]
        names: Vec<String>,
    },
}

pub(crate) fn run(cmd: TlsCommand) -> Result<ExitCode> {
    match cmd {
        TlsCommand::Selfsigned { out, names } => {
            let (cert, key) = selfsigned(&out, &names)?;
            println!("{}\n{}", cert.display(), key.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Writes `cert.pem` and `key.pem` (mode 0600) into `out`.
pub(crate) fn selfsigned(out: &Path, names: &[String]) -> Result<(PathBuf, PathBuf)> {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(names.to_vec()).context("generating the certificate")?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let cert_path = out.join("cert.pem");
    let key_path = out.join("key.pem");
    std::fs::write(&cert_path, cert.pem()).with_context(|| format!("writing {}", cert_path.display()))?;
    write_private(&key_path, signing_key.serialize_pem().as_bytes())?;
    Ok((cert_path, key_path))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}
