//! `hinomi intel`: threat-intel indicators from files and URLs into a data
//! directory's state store (a running server picks them up within
//! seconds), and the indicators and feeds a tenant has.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::json;
use server::intel::FeedFormat;
use state::{FeedSource, IndicatorQuery};

use crate::cases::{Where, print, row};

#[derive(Subcommand, Debug)]
pub(crate) enum IntelCommand {
    /// Import indicators from a file or an http(s) URL: a STIX 2.1 bundle, a MISP feed (its
    /// manifest.json, a directory holding it, or one event), CSV with a header, or one value per
    /// line. Reading a feed again replaces what it said before.
    Import {
        #[command(flatten)]
        at: Where,
        /// A path or URL.
        source: String,
        /// The feed's name (default: from the file or URL's last part).
        #[arg(long)]
        feed: Option<String>,
        /// Into the shared set every tenant matches against, not `--tenant`'s own.
        #[arg(long)]
        shared: bool,
        /// stix, misp, csv or list (default: what the content shows).
        #[arg(long, value_parser = FeedFormat::parse)]
        feed_format: Option<FeedFormat>,
        /// The kind of a plain list's values (ip, domain, url, md5, sha1, sha256, email, ja3,
        /// ja4), when their shape does not tell.
        #[arg(long, value_parser = parse_kind)]
        kind: Option<intel::Kind>,
        /// Only add and update: keep the feed's indicators this read does not carry.
        #[arg(long)]
        partial: bool,
        /// Confidence halves every this long (whole days: `30d`) for indicators whose entry
        /// sets no decay of its own.
        #[arg(long)]
        decay_half_life: Option<server::config::Span>,
        /// With `--decay-half-life`: below this confidence an indicator stops matching.
        #[arg(long)]
        decay_floor: Option<u8>,
    },
    /// The indicators a tenant matches against: its own and the shared ones.
    List {
        #[command(flatten)]
        at: Where,
        #[arg(long)]
        feed: Option<String>,
        #[arg(long, value_parser = parse_kind)]
        kind: Option<intel::Kind>,
        /// Only those whose value contains this.
        #[arg(long)]
        contains: Option<String>,
        /// Only those matching now (not expired, revoked or decayed).
        #[arg(long)]
        active: bool,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// The feeds a tenant has (its own and the shared ones): last read, outcome, counts.
    Feeds {
        #[command(flatten)]
        at: Where,
    },
    /// End an indicator's validity now: it stops matching.
    Expire {
        #[command(flatten)]
        at: Where,
        #[arg(long)]
        feed: String,
        /// The indicator's id, as `intel list` shows it.
        id: String,
        /// An indicator of the shared set.
        #[arg(long)]
        shared: bool,
    },
}

fn parse_kind(name: &str) -> Result<intel::Kind, String> {
    intel::Kind::parse(name).ok_or_else(|| format!("unknown indicator kind {name:?}"))
}

/// A feed name from a source: its last path part without the extension,
/// in the characters a feed name may have.
fn feed_name(source: &str) -> String {
    let last = source.trim_end_matches('/').rsplit(['/', '\\']).next().unwrap_or(source);
    let stem = last.split('?').next().unwrap_or(last);
    let stem = stem.rsplit_once('.').map_or(stem, |(s, _)| s);
    let name: String = stem
        .chars()
        .map(|c| if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' })
        .take(100)
        .collect();
    if name.is_empty() || name == "manifest" { "feed".into() } else { name }
}

pub(crate) fn run(cmd: IntelCommand) -> Result<ExitCode> {
    match cmd {
        IntelCommand::Import { at, source, feed, shared, feed_format, kind, partial, decay_half_life, decay_floor } => {
            let decay =
                server::intel::decay_of(decay_half_life.map(|s| s.0), decay_floor).map_err(anyhow::Error::msg)?;
            let state = at.open()?;
            let name = feed.unwrap_or_else(|| feed_name(&source));
            let scope = (!shared).then_some(at.tenant.as_str());
            let by = at.by();
            let read = server::intel::read_source(&source, feed_format, kind);
            let guessed = feed_format.unwrap_or(FeedFormat::List).as_str();
            let (mut read, format) = match read {
                Ok(r) => r,
                Err(reason) => {
                    let src = FeedSource { scope, name: &name, kind: guessed, source: &source };
                    state.feed_failed(&by, src, &reason)?;
                    bail!("feed {name}: {reason}");
                }
            };
            if let Some(decay) = decay {
                read.decay_unset(decay);
            }
            let src = FeedSource { scope, name: &name, kind: format.as_str(), source: &source };
            let stored = state
                .store_indicators(&by, src, &read, !partial, None)
                .with_context(|| format!("storing the indicators of feed {name}"))?;
            eprintln!(
                "feed {name} ({}, {}): {} indicators read: {} added, {} updated, {} removed; {} entries not read",
                format.as_str(),
                scope.unwrap_or("shared"),
                read.indicators.len(),
                stored.added,
                stored.updated,
                stored.removed,
                stored.problems,
            );
            for p in read.problems.iter().take(20) {
                eprintln!("  {p}");
            }
            if read.problems.len() > 20 {
                eprintln!("  ... and {} more (`hinomi intel feeds` keeps the first 100)", read.problems.len() - 20);
            }
            Ok(ExitCode::SUCCESS)
        }
        IntelCommand::List { at, feed, kind, contains, active, limit } => {
            let now = jiff::Timestamp::now();
            let q = IndicatorQuery { feed, kind, contains, tlp: None, active_at: active.then_some(now), limit };
            let rows = at
                .open()?
                .list_indicators(&at.tenant, &q)?
                .into_iter()
                .map(|s| {
                    let i = &s.indicator;
                    row(json!({
                        "feed": s.feed, "shared": s.scope.is_none(), "id": i.id,
                        "pattern": i.pattern.to_stix(), "confidence": i.confidence_at(now),
                        "tlp": i.tlp.map(intel::Tlp::as_str), "active": i.active_at(now),
                        "valid_until": i.valid_until.map(|t| t.to_string()),
                        "attack": i.attack.join(" "), "name": i.name,
                    }))
                })
                .collect();
            print(at.format, rows)
        }
        IntelCommand::Feeds { at } => {
            let rows = at
                .open()?
                .intel_feeds(&at.tenant)?
                .into_iter()
                .map(|f| {
                    row(json!({
                        "name": f.name, "shared": f.scope.is_none(), "kind": f.kind, "source": f.source,
                        "indicators": f.indicators,
                        "last_read": f.last_read.map(|t| t.to_string()),
                        "last_ok": f.last_ok.map(|t| t.to_string()),
                        "error": f.last_error, "problems": f.problems.len(),
                    }))
                })
                .collect();
            print(at.format, rows)
        }
        IntelCommand::Expire { at, feed, id, shared } => {
            let scope = (!shared).then_some(at.tenant.as_str());
            at.open()?.expire_indicator(&at.by(), scope, &feed, &id).with_context(|| format!("expiring {id}"))?;
            eprintln!("indicator {id} of feed {feed} expired");
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn feed_names_come_from_the_source() {
        assert_eq!(super::feed_name("/tmp/partner-iocs.csv"), "partner-iocs");
        assert_eq!(super::feed_name("https://intel.example/feeds/abuse.txt?key=1"), "abuse");
        assert_eq!(super::feed_name("https://misp.example/feed/manifest.json"), "feed");
        assert_eq!(super::feed_name("C:\\intel\\apt 29.json"), "apt-29");
    }
}
