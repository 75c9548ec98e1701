//! The asset inventory and what it does to severity.
//!
//! An inventory lists hosts and users (exact names or `*` patterns) and IP
//! ranges with a criticality, an owner and a business unit. It is imported
//! from CSV (`kind,match,criticality,owner,business_unit`, with that
//! header) or from a JSON array of objects with those keys.

use std::fmt;
use std::str::FromStr;

use ipnet::IpNet;
use model::Level;

use crate::entity::{Entity, EntityKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criticality {
    Low,
    Medium,
    High,
    Critical,
}

impl Criticality {
    pub const ALL: [Criticality; 4] = [Criticality::Low, Criticality::Medium, Criticality::High, Criticality::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Criticality::Low => "low",
            Criticality::Medium => "medium",
            Criticality::High => "high",
            Criticality::Critical => "critical",
        }
    }

    /// Steps a rule's level moves: low -1, medium 0, high +1, critical +2.
    fn shift(self) -> i32 {
        match self {
            Criticality::Low => -1,
            Criticality::Medium => 0,
            Criticality::High => 1,
            Criticality::Critical => 2,
        }
    }
}

impl FromStr for Criticality {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Criticality::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown criticality {s:?} (expected low, medium, high or critical)"))
    }
}

impl fmt::Display for Criticality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An alert's severity: the rule's level moved by the criticality of the
/// most critical asset involved, within informational..critical. An
/// informational rule stays informational (it says "nothing wrong"
/// whatever it touched); without a known asset the level is kept.
pub fn severity(level: Level, asset: Option<Criticality>) -> Level {
    let Some(c) = asset else { return level };
    if level == Level::Informational {
        return level;
    }
    let at = Level::ALL.iter().position(|l| *l == level).unwrap_or(0) as i32 + c.shift();
    Level::ALL[at.clamp(1, Level::ALL.len() as i32 - 1) as usize]
}

/// What an inventory entry matches.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", content = "match", rename_all = "snake_case")]
pub enum AssetMatch {
    /// A host name or a `*` pattern, lowercase.
    Host(String),
    User(String),
    Ip(IpNet),
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Asset {
    #[serde(flatten)]
    pub matches: AssetMatch,
    pub criticality: Criticality,
    pub owner: Option<String>,
    pub business_unit: Option<String>,
}

impl Asset {
    pub fn new(
        kind: &str,
        pattern: &str,
        criticality: &str,
        owner: Option<&str>,
        unit: Option<&str>,
    ) -> Result<Asset, String> {
        let pattern = pattern.trim();
        if pattern.is_empty() {
            return Err("empty match".into());
        }
        let matches = match kind.trim().to_ascii_lowercase().as_str() {
            "host" => AssetMatch::Host(pattern.to_lowercase()),
            "user" => AssetMatch::User(pattern.to_lowercase()),
            "ip" => AssetMatch::Ip(
                pattern
                    .parse::<IpNet>()
                    .or_else(|_| pattern.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{pattern:?} is not an IP address or CIDR range"))?,
            ),
            other => return Err(format!("unknown asset kind {other:?} (expected host, user or ip)")),
        };
        let text = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
        Ok(Asset { matches, criticality: criticality.parse()?, owner: text(owner), business_unit: text(unit) })
    }

    pub fn applies(&self, e: &Entity) -> bool {
        match (&self.matches, e.kind) {
            (AssetMatch::Host(p), EntityKind::Host) | (AssetMatch::User(p), EntityKind::User) => glob(p, &e.value),
            (AssetMatch::Ip(net), EntityKind::Ip) => {
                e.value.parse::<std::net::IpAddr>().is_ok_and(|ip| net.contains(&ip))
            }
            _ => false,
        }
    }
}

/// `*` matches any run of characters; everything else itself.
fn glob(pattern: &str, text: &str) -> bool {
    let Some((first, rest)) = pattern.split_once('*') else { return pattern == text };
    let Some(mut left) = text.strip_prefix(first) else { return false };
    let mut parts: Vec<&str> = rest.split('*').collect();
    let last = parts.pop().unwrap_or("");
    for p in parts {
        match left.find(p) {
            Some(at) => left = &left[at + p.len()..],
            None => return false,
        }
    }
    left.len() >= last.len() && left.ends_with(last)
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Inventory {
    pub assets: Vec<Asset>,
}

impl Inventory {
    /// The most critical asset among `entities`.
    pub fn most_critical(&self, entities: &[Entity]) -> Option<&Asset> {
        self.assets.iter().filter(|a| entities.iter().any(|e| a.applies(e))).max_by_key(|a| a.criticality)
    }

    /// Reads CSV with a header naming at least `kind`, `match` and
    /// `criticality`. Errors name the line.
    pub fn from_csv(text: &str) -> Result<Inventory, String> {
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        let Some((_, header)) = lines.next() else { return Ok(Inventory::default()) };
        let header: Vec<String> = csv_fields(header).map_err(|e| format!("line 1: {e}"))?;
        let col = |name: &str| header.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
        let (Some(k), Some(m), Some(c)) = (col("kind"), col("match"), col("criticality")) else {
            return Err("line 1: the header must name the columns kind, match and criticality".into());
        };
        let (o, u) = (col("owner"), col("business_unit"));
        let mut assets = Vec::new();
        for (n, line) in lines {
            let row = csv_fields(line).map_err(|e| format!("line {}: {e}", n + 1))?;
            let get = |i: Option<usize>| i.and_then(|i| row.get(i)).map(String::as_str);
            let asset = Asset::new(
                get(Some(k)).unwrap_or(""),
                get(Some(m)).unwrap_or(""),
                get(Some(c)).unwrap_or(""),
                get(o),
                get(u),
            )
            .map_err(|e| format!("line {}: {e}", n + 1))?;
            assets.push(asset);
        }
        Ok(Inventory { assets })
    }

    /// The inventory as the CSV [`Inventory::from_csv`] reads back.
    pub fn to_csv(&self) -> String {
        let field = |v: &str| {
            if v.contains([',', '"']) || v.starts_with(' ') || v.ends_with(' ') {
                format!("\"{}\"", v.replace('"', "\"\""))
            } else {
                v.to_string()
            }
        };
        let mut out = String::from("kind,match,criticality,owner,business_unit\n");
        for a in &self.assets {
            let (kind, pattern) = match &a.matches {
                AssetMatch::Host(h) => ("host", h.clone()),
                AssetMatch::User(u) => ("user", u.clone()),
                AssetMatch::Ip(net) => ("ip", net.to_string()),
            };
            let row = [
                kind,
                &pattern,
                a.criticality.as_str(),
                a.owner.as_deref().unwrap_or(""),
                a.business_unit.as_deref().unwrap_or(""),
            ];
            out.push_str(&row.map(field).join(","));
            out.push('\n');
        }
        out
    }

    /// Reads a JSON array of `{"kind", "match", "criticality", "owner",
    /// "business_unit"}`. Errors name the entry.
    pub fn from_json(text: &str) -> Result<Inventory, String> {
        let list: Vec<serde_json::Map<String, serde_json::Value>> =
            serde_json::from_str(text).map_err(|e| format!("not a JSON array of objects: {e}"))?;
        let mut assets = Vec::new();
        for (n, item) in list.iter().enumerate() {
            let get = |k: &str| item.get(k).and_then(|v| v.as_str());
            let asset = Asset::new(
                get("kind").unwrap_or(""),
                get("match").unwrap_or(""),
                get("criticality").unwrap_or(""),
                get("owner"),
                get("business_unit"),
            )
            .map_err(|e| format!("entry {}: {e}", n + 1))?;
            assets.push(asset);
        }
        Ok(Inventory { assets })
    }
}

/// The fields of one CSV line (RFC 4180 quoting, no line breaks inside).
fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.trim_end_matches('\r').chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.trim().is_empty() && !was_quoted => {
                field.clear();
                quoted = true;
                was_quoted = true;
            }
            (false, ',') => {
                out.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed".into());
    }
    out.push(field);
    Ok(out)
}
