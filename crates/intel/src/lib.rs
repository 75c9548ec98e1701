//! Threat intelligence, pure: indicators, the feeds they come in, and
//! matching events against them at stream speed.
//!
//! An [`Indicator`] names something seen to be hostile (an address or a
//! network, a domain with its subdomains, a URL, a file hash, an e-mail
//! address, a TLS client fingerprint) as a [`Pattern`] of [`Observable`]s,
//! with its context: confidence, TLP, validity, tags and ATT&CK techniques.
//! Feeds are read by [`stix::read_bundle`] (STIX 2.1, patterns by
//! [`pattern::parse`]), [`misp::read_event`] and [`misp::read_manifest`]
//! (MISP feeds) and [`list::read`] (CSV and plain lists). Each returns what
//! it could read and a [`Problem`] for each entry it could not, so one bad
//! entry never costs the rest of a feed.
//!
//! [`Set`] holds the indicators in structures whose cost per event does not
//! grow with their number (a hash map per kind, one per CIDR prefix length,
//! a domain's suffixes looked up label by label); [`observe::Fields`] says
//! which of an event's fields hold which kind of observable.
//!
//! [`export::bundle`] writes indicators and their sightings back out as a
//! STIX 2.1 bundle (an incident's, for a CSIRT or a sharing community).
//!
//! Pure: no IO and no clock (`now` is passed in). It does not fetch feeds
//! (TAXII, URLs), keep indicators (the state store does) or raise alerts
//! (the engine does).

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use jiff::Timestamp;

pub mod export;
pub mod list;
pub mod misp;
pub mod observe;
pub mod pattern;
mod set;
pub mod stix;

pub use pattern::Pattern;
pub use set::{Entry, Hit, Set};

#[cfg(test)]
mod tests;

/// The kinds of observable an indicator can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// An IPv4 or IPv6 address, or a network (CIDR).
    Ip,
    /// A domain; it also matches every subdomain.
    Domain,
    Url,
    Md5,
    Sha1,
    Sha256,
    Email,
    /// A JA3 TLS client fingerprint (an MD5 in hex).
    Ja3,
    /// A JA4 TLS client fingerprint.
    Ja4,
}

impl Kind {
    pub const ALL: [Kind; 9] =
        [Kind::Ip, Kind::Domain, Kind::Url, Kind::Md5, Kind::Sha1, Kind::Sha256, Kind::Email, Kind::Ja3, Kind::Ja4];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ip => "ip",
            Kind::Domain => "domain",
            Kind::Url => "url",
            Kind::Md5 => "md5",
            Kind::Sha1 => "sha1",
            Kind::Sha256 => "sha256",
            Kind::Email => "email",
            Kind::Ja3 => "ja3",
            Kind::Ja4 => "ja4",
        }
    }

    /// The kind named as [`Kind::as_str`] writes it, or by a common alias
    /// (`ipv4`, `cidr`, `hostname`, `sha-256`, ...).
    pub fn parse(name: &str) -> Option<Kind> {
        let name = name.trim().to_ascii_lowercase();
        Some(match name.as_str() {
            "ip" | "ipv4" | "ipv6" | "ip-addr" | "ipv4-addr" | "ipv6-addr" | "cidr" | "network" | "address" => Kind::Ip,
            "domain" | "domain-name" | "hostname" | "host" | "fqdn" => Kind::Domain,
            "url" | "uri" | "link" => Kind::Url,
            "md5" => Kind::Md5,
            "sha1" | "sha-1" => Kind::Sha1,
            "sha256" | "sha-256" => Kind::Sha256,
            "email" | "email-addr" | "e-mail" | "mail" => Kind::Email,
            "ja3" | "ja3-fingerprint-md5" => Kind::Ja3,
            "ja4" | "ja4+" => Kind::Ja4,
            _ => return None,
        })
    }

    /// The hash kind of a hex digest of this many characters.
    pub fn hash_of_len(len: usize) -> Option<Kind> {
        match len {
            32 => Some(Kind::Md5),
            40 => Some(Kind::Sha1),
            64 => Some(Kind::Sha256),
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest observable value taken (a URL can be long; nothing else is).
pub const MAX_VALUE: usize = 8 << 10;

/// One observable in its canonical text: what an indicator names and what
/// an event is looked up by. Two spellings of one thing have one canonical
/// text (case of domains and hex digests, a network's host bits, an
/// IPv4-mapped IPv6 address).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Observable {
    pub kind: Kind,
    pub value: Box<str>,
}

impl Observable {
    /// Checks and canonicalizes `raw` as an observable of `kind`; the error
    /// says what is wrong with it.
    pub fn new(kind: Kind, raw: &str) -> Result<Observable, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(format!("empty {kind}"));
        }
        if raw.len() > MAX_VALUE {
            return Err(format!("{kind} longer than {MAX_VALUE} bytes"));
        }
        let value = match kind {
            Kind::Ip => {
                let net = canonical_net(raw).ok_or_else(|| format!("not an IP address or network: {raw:?}"))?;
                if net.prefix_len() == net.max_prefix_len() { net.addr().to_string() } else { net.to_string() }
            }
            Kind::Domain => canonical_domain(raw).ok_or_else(|| format!("not a domain name: {raw:?}"))?,
            Kind::Url => canonical_url(raw).ok_or_else(|| format!("not a URL with a scheme and a host: {raw:?}"))?,
            Kind::Md5 | Kind::Sha1 | Kind::Sha256 | Kind::Ja3 => {
                let want = match kind {
                    Kind::Sha1 => 40,
                    Kind::Sha256 => 64,
                    _ => 32,
                };
                if raw.len() != want || !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!("not a {kind} ({want} hex digits): {raw:?}"));
                }
                raw.to_ascii_lowercase()
            }
            Kind::Email => canonical_email(raw).ok_or_else(|| format!("not an e-mail address: {raw:?}"))?,
            Kind::Ja4 => {
                let ok = raw.len() <= 128
                    && raw.contains('_')
                    && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !ok {
                    return Err(format!("not a JA4 fingerprint: {raw:?}"));
                }
                raw.to_ascii_lowercase()
            }
        };
        Ok(Observable { kind, value: value.into() })
    }

    /// The network of an [`Kind::Ip`] observable.
    pub fn net(&self) -> Option<IpNet> {
        match self.kind {
            Kind::Ip => canonical_net(&self.value),
            _ => None,
        }
    }
}

impl fmt::Display for Observable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

/// An address (IPv4-mapped IPv6 as IPv4), as a network of its full length.
pub fn canonical_ip(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    let text = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(text);
    text.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// An address or network with its host bits cleared; a network of full
/// length prints as the bare address.
fn canonical_net(text: &str) -> Option<IpNet> {
    match text.split_once('/') {
        Some((addr, len)) => {
            let addr = canonical_ip(addr)?;
            let mut len: u8 = len.trim().parse().ok()?;
            // `::ffff:10.0.0.0/104` is 10.0.0.0/8.
            if addr.is_ipv4() && text.contains(':') {
                len = len.checked_sub(96)?;
            }
            IpNet::new(addr, len).ok().map(|n| n.trunc())
        }
        None => canonical_ip(text).map(IpNet::from),
    }
}

/// Lower case, no trailing dot, no leading `*.`; labels of letters, digits,
/// `-` and `_` (and any non-ASCII letter: internationalized names are kept
/// as written, not turned into punycode).
fn canonical_domain(text: &str) -> Option<String> {
    let text = text.trim().trim_end_matches('.');
    let text = text.strip_prefix("*.").unwrap_or(text);
    if text.is_empty() || text.len() > 253 || canonical_ip(text).is_some() {
        return None;
    }
    let lower = text.to_lowercase();
    let labels_ok = lower.split('.').all(|label| {
        !label.is_empty() && label.len() <= 63 && label.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_')
    });
    labels_ok.then_some(lower)
}

/// Scheme and host in lower case, an empty path as `/`; the rest as written.
fn canonical_url(text: &str) -> Option<String> {
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (scheme, rest) = text.split_once("://")?;
    if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let host = url_host(authority)?;
    if host.is_empty() {
        return None;
    }
    let path = if path.is_empty() { "/" } else { path };
    Some(format!("{}://{}{}", scheme.to_ascii_lowercase(), authority.to_lowercase(), path))
}

/// The host of a URL's authority (`user@host:port`), as written.
pub(crate) fn url_host(authority: &str) -> Option<&str> {
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = host.strip_prefix('[') {
        return v6.split_once(']').map(|(h, _)| h);
    }
    Some(
        host.rsplit_once(':').map_or(host, |(h, port)| if port.bytes().all(|b| b.is_ascii_digit()) { h } else { host }),
    )
}

fn canonical_email(text: &str) -> Option<String> {
    let text = text.trim().trim_start_matches("mailto:");
    let text = text.strip_prefix('<').and_then(|t| t.strip_suffix('>')).unwrap_or(text);
    let (local, domain) = text.rsplit_once('@')?;
    if local.is_empty() || local.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>') {
        return None;
    }
    let domain = canonical_domain(domain)?;
    Some(format!("{}@{domain}", local.to_lowercase()))
}

/// Traffic Light Protocol marking: who an indicator may be shared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tlp {
    /// TLP:CLEAR (TLP 1.0's WHITE).
    Clear,
    Green,
    Amber,
    AmberStrict,
    Red,
}

impl Tlp {
    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber+strict",
            Tlp::Red => "red",
        }
    }

    /// `TLP:AMBER+STRICT`, `tlp:white`, `green`, ... in any case.
    pub fn parse(text: &str) -> Option<Tlp> {
        let text = text.trim().to_ascii_lowercase();
        let text = text.strip_prefix("tlp:").or_else(|| text.strip_prefix("tlp-")).unwrap_or(&text).trim();
        Some(match text {
            "clear" | "white" => Tlp::Clear,
            "green" => Tlp::Green,
            "amber" => Tlp::Amber,
            "amber+strict" | "amber-strict" => Tlp::AmberStrict,
            "red" => Tlp::Red,
            _ => return None,
        })
    }
}

impl fmt::Display for Tlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLP:{}", self.as_str().to_ascii_uppercase())
    }
}

/// Confidence that fades with age: halved every `half_life_days` after
/// the indicator's `valid_from`; below `floor` the indicator stops
/// matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decay {
    pub half_life_days: u32,
    pub floor: u8,
}

/// One indicator: what it names and what the feed says of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Indicator {
    /// The feed's id for it (a STIX id, a MISP attribute's UUID, or for a
    /// list its kind and value): a feed's later version of the same
    /// indicator replaces it.
    pub id: String,
    pub name: String,
    pub pattern: Pattern,
    /// 0 to 100; `None` when the feed does not say.
    pub confidence: Option<u8>,
    pub tlp: Option<Tlp>,
    pub valid_from: Option<Timestamp>,
    pub valid_until: Option<Timestamp>,
    /// The feed withdrew it: it is removed, not matched.
    pub revoked: bool,
    pub modified: Option<Timestamp>,
    pub tags: Vec<String>,
    /// ATT&CK technique ids (`T1566.001`).
    pub attack: Vec<String>,
    pub decay: Option<Decay>,
}

impl Indicator {
    /// A bare indicator of one observable: no context yet.
    pub fn of(id: impl Into<String>, observable: Observable) -> Indicator {
        Indicator {
            id: id.into(),
            name: observable.to_string(),
            pattern: Pattern::single(observable),
            confidence: None,
            tlp: None,
            valid_from: None,
            valid_until: None,
            revoked: false,
            modified: None,
            tags: Vec::new(),
            attack: Vec::new(),
            decay: None,
        }
    }

    /// Its confidence at `now`, after decay.
    pub fn confidence_at(&self, now: Timestamp) -> Option<u8> {
        let confidence = self.confidence?;
        let (Some(decay), Some(from)) = (self.decay, self.valid_from) else {
            return Some(confidence);
        };
        if decay.half_life_days == 0 {
            return Some(confidence);
        }
        let days = (now.as_second() - from.as_second()).max(0) as f64 / 86_400.0;
        let factor = 0.5f64.powf(days / f64::from(decay.half_life_days));
        Some((f64::from(confidence) * factor).round() as u8)
    }

    /// Whether it matches at `now`: not revoked, inside its validity, and
    /// not decayed below its floor.
    pub fn active_at(&self, now: Timestamp) -> bool {
        if self.revoked || self.valid_from.is_some_and(|t| t > now) || self.valid_until.is_some_and(|t| t <= now) {
            return false;
        }
        match (self.decay, self.confidence_at(now)) {
            (Some(decay), Some(c)) => c >= decay.floor,
            _ => true,
        }
    }
}

/// An entry of a feed that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where in the feed: `objects[3] (indicator--…)`, `line 12`, ….
    pub at: String,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.reason)
    }
}

/// What a feed gave: indicators, and the entries it could not read.
#[derive(Debug, Default)]
pub struct Read {
    pub indicators: Vec<Indicator>,
    /// Ids of indicators the feed revoked (STIX `revoked`, a MISP
    /// attribute marked deleted): a store removes them.
    pub revoked: Vec<String>,
    pub problems: Vec<Problem>,
}

impl Read {
    /// Gives `decay` to every indicator whose feed entry named none: the
    /// feed's operator asks for fading confidence where the feed itself
    /// does not say.
    pub fn decay_unset(&mut self, decay: Decay) {
        for i in self.indicators.iter_mut().filter(|i| i.decay.is_none()) {
            i.decay = Some(decay);
        }
    }
}

/// ATT&CK technique ids in tags and names (`attack.t1566.001`,
/// `T1566.001`, `misp-galaxy:mitre-attack-pattern="Phishing - T1566"`).
pub fn techniques_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if starts_word && (bytes[i] == b'T' || bytes[i] == b't') {
            let digits = bytes[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
            if digits == 4 {
                let mut end = i + 5;
                if bytes.get(end) == Some(&b'.') {
                    match bytes[end + 1..].iter().take_while(|b| b.is_ascii_digit()).count() {
                        0 => {}
                        3 => end += 4,
                        // `T1234.12` is no technique id.
                        _ => end = usize::MAX,
                    }
                }
                if end == usize::MAX {
                    i += 5;
                    continue;
                }
                if !bytes.get(end).is_some_and(u8::is_ascii_alphanumeric) {
                    let id = format!("T{}", &text[i + 1..end]);
                    if !out.contains(&id) {
                        out.push(id);
                    }
                    i = end;
                    continue;
                }
            }
        }
        i += 1;
    }
    out
}
