//! The active indicators, looked up by what an event carries.
//!
//! Every lookup is a hash probe, so the cost per event depends on what the
//! event carries, not on how many indicators there are: an address is
//! probed once as itself and once per distinct CIDR prefix length in the
//! set (at most 33 for IPv4 and 129 for IPv6), a domain once per label
//! (`a.b.example.com` probes itself, `b.example.com`, `example.com` and
//! `com`), a URL, hash, e-mail address or fingerprint once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use ahash::RandomState;
use jiff::Timestamp;

use crate::observe::Seen;
use crate::{Indicator, Kind};

/// One indicator as the set holds it: whose it is and where it came from.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The tenant it belongs to; `None` for the shared set every tenant
    /// matches against.
    pub tenant: Option<Box<str>>,
    pub feed: Box<str>,
    pub indicator: Arc<Indicator>,
}

/// Where an observable occurs: entry, alternative, and the observable's
/// place in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ref {
    entry: u32,
    alternative: u16,
    part: u16,
}

/// The refs of one key: nearly always one, so no allocation for it.
#[derive(Debug, Clone)]
enum Refs {
    One(Ref),
    Many(Vec<Ref>),
}

impl Refs {
    fn add(slot: &mut Option<Refs>, r: Ref) {
        *slot = Some(match slot.take() {
            None => Refs::One(r),
            Some(Refs::One(a)) => Refs::Many(vec![a, r]),
            Some(Refs::Many(mut v)) => {
                v.push(r);
                Refs::Many(v)
            }
        });
    }

    fn as_slice(&self) -> &[Ref] {
        match self {
            Refs::One(r) => std::slice::from_ref(r),
            Refs::Many(v) => v,
        }
    }
}

/// A network of one prefix length, by its masked address bits.
#[derive(Debug, Default)]
struct Nets {
    v6: bool,
    len: u8,
    by_bits: HashMap<u128, Refs, RandomState>,
}

/// The indicators, with their lookup structures. Built once per change of
/// the indicators (the engine swaps in a new one); matching only reads it.
#[derive(Debug, Default)]
pub struct Set {
    entries: Vec<Entry>,
    /// Hashes, URLs, e-mail addresses and fingerprints by kind, then value.
    exact: HashMap<Kind, HashMap<Box<str>, Refs, RandomState>>,
    domains: HashMap<Box<str>, Refs, RandomState>,
    addresses: HashMap<IpAddr, Refs, RandomState>,
    /// Networks shorter than a host address, one map per prefix length.
    nets: Vec<Nets>,
}

/// One indicator an event matched, and with what.
#[derive(Debug)]
pub struct Hit<'s> {
    pub entry: &'s Entry,
    /// The entry's place in the set (stable while the set is).
    pub index: usize,
    /// The event's fields and values that matched the alternative, in the
    /// order the alternative names them.
    pub matched: Vec<(Box<str>, Box<str>)>,
}

impl Set {
    pub fn new(entries: Vec<Entry>) -> Set {
        let mut set = Set { entries, ..Set::default() };
        let mut slots: HashMap<(bool, u8), HashMap<u128, Option<Refs>, RandomState>> = HashMap::new();
        let mut exact: HashMap<Kind, HashMap<Box<str>, Option<Refs>, RandomState>> = HashMap::new();
        let mut domains: HashMap<Box<str>, Option<Refs>, RandomState> = HashMap::default();
        let mut addresses: HashMap<IpAddr, Option<Refs>, RandomState> = HashMap::default();
        for (e, entry) in set.entries.iter().enumerate() {
            for (a, all) in entry.indicator.pattern.alternatives().iter().enumerate() {
                for (p, o) in all.iter().enumerate() {
                    let r = Ref { entry: e as u32, alternative: a as u16, part: p as u16 };
                    match o.kind {
                        Kind::Ip => {
                            let Some(net) = o.net() else { continue };
                            if net.prefix_len() == net.max_prefix_len() {
                                Refs::add(addresses.entry(net.addr()).or_default(), r);
                            } else {
                                let (v6, bits) = bits_of(net.network());
                                let key = (v6, net.prefix_len());
                                Refs::add(slots.entry(key).or_default().entry(mask(bits, v6, key.1)).or_default(), r);
                            }
                        }
                        Kind::Domain => Refs::add(domains.entry(o.value.clone()).or_default(), r),
                        kind => Refs::add(exact.entry(kind).or_default().entry(o.value.clone()).or_default(), r),
                    }
                }
            }
        }
        set.exact = exact.into_iter().map(|(kind, m)| (kind, settle(m))).collect();
        set.domains = settle(domains);
        set.addresses = settle(addresses);
        let mut nets: Vec<Nets> =
            slots.into_iter().map(|((v6, len), m)| Nets { v6, len, by_bits: settle(m) }).collect();
        nets.sort_by_key(|n| (n.v6, std::cmp::Reverse(n.len)));
        set.nets = nets;
        set
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The indicators of `tenant` (its own and the shared ones) active at
    /// `now` that the observables `seen` of one event match. Each
    /// indicator is reported once, with its first matching alternative.
    pub fn matches(&self, tenant: &str, seen: &[Seen], now: Timestamp) -> Vec<Hit<'_>> {
        if self.entries.is_empty() || seen.is_empty() {
            return Vec::new();
        }
        // (ref, index into `seen`) of every probe that found something.
        let mut found: Vec<(Ref, usize)> = Vec::new();
        for (i, s) in seen.iter().enumerate() {
            self.probe(s, &mut |r| found.push((r, i)));
        }
        if found.is_empty() {
            return Vec::new();
        }
        found.sort_by_key(|(r, _)| (r.entry, r.alternative, r.part));
        found.dedup_by_key(|(r, _)| *r);
        let mut hits: Vec<Hit<'_>> = Vec::new();
        let mut i = 0;
        while i < found.len() {
            let (first, _) = found[i];
            let run = found[i..]
                .iter()
                .take_while(|(r, _)| r.entry == first.entry && r.alternative == first.alternative)
                .count();
            let group = &found[i..i + run];
            i += run;
            let Some(entry) = self.entries.get(first.entry as usize) else { continue };
            if hits.last().is_some_and(|h| std::ptr::eq(h.entry, entry)) {
                continue;
            }
            let wanted = entry.indicator.pattern.alternatives().get(usize::from(first.alternative)).map_or(0, Vec::len);
            if group.len() != wanted
                || entry.tenant.as_deref().is_some_and(|t| t != tenant)
                || !entry.indicator.active_at(now)
            {
                continue;
            }
            let matched =
                group.iter().filter_map(|(_, s)| seen.get(*s)).map(|s| (s.field.clone(), s.value.clone())).collect();
            hits.push(Hit { entry, index: first.entry as usize, matched });
        }
        hits
    }

    fn probe(&self, seen: &Seen, found: &mut impl FnMut(Ref)) {
        let mut all = |refs: Option<&Refs>| {
            if let Some(refs) = refs {
                refs.as_slice().iter().copied().for_each(&mut *found);
            }
        };
        match seen.kind {
            Kind::Ip => {
                let Some(ip) = seen.ip else { return };
                all(self.addresses.get(&ip));
                let (v6, bits) = bits_of(ip);
                for nets in self.nets.iter().filter(|n| n.v6 == v6) {
                    all(nets.by_bits.get(&mask(bits, v6, nets.len)));
                }
            }
            Kind::Domain => {
                let mut name: &str = &seen.value;
                loop {
                    all(self.domains.get(name));
                    match name.split_once('.') {
                        Some((_, parent)) if !parent.is_empty() => name = parent,
                        _ => break,
                    }
                }
            }
            kind => all(self.exact.get(&kind).and_then(|m| m.get(&*seen.value))),
        }
    }
}

/// The map with its filled slots only.
fn settle<K: Eq + std::hash::Hash>(m: HashMap<K, Option<Refs>, RandomState>) -> HashMap<K, Refs, RandomState> {
    m.into_iter().filter_map(|(k, v)| Some((k, v?))).collect()
}

fn bits_of(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(v4) => (false, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (true, u128::from(v6)),
    }
}

/// The first `len` bits of an address.
fn mask(bits: u128, v6: bool, len: u8) -> u128 {
    let width: u32 = if v6 { 128 } else { 32 };
    let len = u32::from(len).min(width);
    if len == 0 {
        return 0;
    }
    let keep = u128::MAX << (width - len);
    let keep = if v6 { keep } else { keep & u128::from(u32::MAX) };
    bits & keep
}
