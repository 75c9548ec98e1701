//! Entities: the hosts, users, addresses, processes, files, hashes and
//! domains an event is about, taken from its normalized (ECS) fields and
//! the Windows names rules use.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// What an entity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Host,
    User,
    Ip,
    Process,
    File,
    Hash,
    Domain,
}

impl EntityKind {
    pub const ALL: [EntityKind; 7] = [
        EntityKind::Host,
        EntityKind::User,
        EntityKind::Ip,
        EntityKind::Process,
        EntityKind::File,
        EntityKind::Hash,
        EntityKind::Domain,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Host => "host",
            EntityKind::User => "user",
            EntityKind::Ip => "ip",
            EntityKind::Process => "process",
            EntityKind::File => "file",
            EntityKind::Hash => "hash",
            EntityKind::Domain => "domain",
        }
    }

    /// Whether sharing an entity of this kind puts two alerts in one
    /// incident. Processes and files are shared by every machine
    /// (`cmd.exe`), so they describe an incident but never join one.
    pub fn groups(self) -> bool {
        !matches!(self, EntityKind::Process | EntityKind::File)
    }
}

impl FromStr for EntityKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        EntityKind::ALL.into_iter().find(|k| k.as_str().eq_ignore_ascii_case(s.trim())).ok_or_else(|| {
            format!("unknown entity kind {s:?} (expected host, user, ip, process, file, hash or domain)")
        })
    }
}

/// One entity: a kind and a normalized value (lowercase, except IPs in
/// their canonical form).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Entity {
    pub kind: EntityKind,
    pub value: String,
}

impl Entity {
    /// Normalizes `value` for `kind`; `None` for placeholders (`-`,
    /// `n/a`), machine-local addresses and other values that would join
    /// unrelated alerts.
    pub fn new(kind: EntityKind, value: &str) -> Option<Entity> {
        let v = value.trim();
        if v.is_empty() || matches!(v, "-" | "?" | "n/a" | "N/A" | "null" | "none" | "unknown") {
            return None;
        }
        let value = match kind {
            EntityKind::Ip => {
                let ip: IpAddr = v.parse().ok()?;
                if ip.is_loopback() || ip.is_unspecified() {
                    return None;
                }
                ip.to_string()
            }
            EntityKind::User => {
                // `CORP\alice` and `alice` are one account.
                let name = v.rsplit('\\').next().unwrap_or(v);
                let lower = name.to_lowercase();
                if lower.is_empty() || lower == "-" {
                    return None;
                }
                // Service identities act on every host at once.
                if matches!(lower.as_str(), "system" | "local service" | "network service" | "anonymous logon") {
                    return None;
                }
                lower
            }
            _ => v.to_lowercase(),
        };
        Some(Entity { kind, value })
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.value)
    }
}

/// Fields entities come from, by kind: ECS names first, then the
/// original Windows and Sysmon names.
const FIELDS: &[(EntityKind, &str)] = &[
    (EntityKind::Host, "host.name"),
    (EntityKind::Host, "host.hostname"),
    (EntityKind::Host, "Computer"),
    (EntityKind::User, "user.name"),
    (EntityKind::User, "source.user.name"),
    (EntityKind::User, "destination.user.name"),
    (EntityKind::User, "user.target.name"),
    (EntityKind::User, "TargetUserName"),
    (EntityKind::User, "SubjectUserName"),
    (EntityKind::User, "User"),
    (EntityKind::Ip, "source.ip"),
    (EntityKind::Ip, "destination.ip"),
    (EntityKind::Ip, "client.ip"),
    (EntityKind::Ip, "server.ip"),
    (EntityKind::Ip, "IpAddress"),
    (EntityKind::Ip, "SourceIp"),
    (EntityKind::Ip, "DestinationIp"),
    (EntityKind::Process, "process.executable"),
    (EntityKind::Process, "process.parent.executable"),
    (EntityKind::Process, "Image"),
    (EntityKind::Process, "ParentImage"),
    (EntityKind::File, "file.path"),
    (EntityKind::File, "TargetFilename"),
    (EntityKind::Hash, "file.hash.sha256"),
    (EntityKind::Hash, "file.hash.sha1"),
    (EntityKind::Hash, "file.hash.md5"),
    (EntityKind::Hash, "process.hash.sha256"),
    (EntityKind::Hash, "process.hash.md5"),
    (EntityKind::Domain, "url.domain"),
    (EntityKind::Domain, "destination.domain"),
    (EntityKind::Domain, "dns.question.name"),
    (EntityKind::Domain, "QueryName"),
];

/// Most entities kept per alert; the rest add nothing to triage.
pub const MAX_ENTITIES: usize = 32;

/// The entities of an event given as a flat JSON object (dotted names),
/// sorted and unique.
pub fn extract(fields: &serde_json::Map<String, serde_json::Value>) -> Vec<Entity> {
    let mut out = Vec::new();
    let mut add = |kind: EntityKind, value: &serde_json::Value| {
        let mut one = |v: &serde_json::Value| {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => return,
            };
            out.extend(Entity::new(kind, &text));
        };
        match value {
            serde_json::Value::Array(items) => items.iter().for_each(&mut one),
            v => one(v),
        }
    };
    for &(kind, name) in FIELDS {
        if let Some(v) = fields.get(name) {
            add(kind, v);
        }
    }
    // Sysmon's `Hashes`: `SHA256=...,MD5=...`.
    if let Some(serde_json::Value::String(hashes)) = fields.get("Hashes") {
        for part in hashes.split(',') {
            if let Some((_, h)) = part.split_once('=') {
                add(EntityKind::Hash, &serde_json::Value::String(h.to_string()));
            }
        }
    }
    // A host that names itself as a user (`WS-042$`) is the host.
    for e in &mut out {
        if e.kind == EntityKind::User
            && let Some(host) = e.value.strip_suffix('$')
        {
            *e = Entity { kind: EntityKind::Host, value: host.to_string() };
        }
    }
    out.sort();
    out.dedup();
    out.truncate(MAX_ENTITIES);
    out
}
