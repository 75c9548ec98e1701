//! Literal prefilters: which rules an event can possibly match, found with
//! one Aho-Corasick pass per field instead of evaluating every rule.
//!
//! For each rule we derive a set of `(field, literal)` anchors such that any
//! event the rule matches contains at least one anchor literal (lowercased)
//! in that field. `and` picks its most selective child, `or` takes the union,
//! `not` gives nothing to filter on. Rules without anchors are always
//! evaluated. The prefilter only ever removes rules that cannot match, so
//! results are identical with and without it (tested).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::matcher::{Detection, Expr, FieldId, Item, ItemTest, Leaf, Matchable};

/// Where an anchor literal must appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Key {
    Field(FieldId),
    /// Keyword searches: any value of the event.
    Anywhere,
}

pub(crate) type Anchors = Vec<(Key, String)>;

/// The anchors of a rule, or `None` when it must always be evaluated.
pub(crate) fn rule_anchors(m: &Matchable) -> Option<Anchors> {
    let mut a = expr(m, &m.condition)?;
    a.sort();
    a.dedup();
    Some(a)
}

fn cost(a: &Anchors) -> f64 {
    a.iter().map(|(_, lit)| 1.0 / (lit.len().min(12) as f64)).sum()
}

fn best(options: impl Iterator<Item = Option<Anchors>>) -> Option<Anchors> {
    options.flatten().min_by(|a, b| cost(a).total_cmp(&cost(b)))
}

fn union(parts: impl Iterator<Item = Option<Anchors>>) -> Option<Anchors> {
    let mut out = Vec::new();
    for p in parts {
        out.extend(p?);
    }
    Some(out)
}

fn expr(m: &Matchable, e: &Expr) -> Option<Anchors> {
    match e {
        Expr::And(xs) => best(xs.iter().map(|x| expr(m, x))),
        Expr::Or(xs) => union(xs.iter().map(|x| expr(m, x))),
        Expr::Not(_) => None,
        Expr::Det(i) => detection(m.detections.get(*i as usize)?),
    }
}

fn detection(d: &Detection) -> Option<Anchors> {
    union(d.alternatives.iter().map(|items| best(items.iter().map(item))))
}

fn item(it: &Item) -> Option<Anchors> {
    if it.negate {
        return None;
    }
    let key = it.field.map_or(Key::Anywhere, Key::Field);
    let ItemTest::Groups { groups, all } = &it.test else {
        return None;
    };
    let group = |g: &Vec<Leaf>| -> Option<Anchors> {
        g.iter()
            .map(|leaf| match leaf {
                Leaf::Str { pat, .. } => pat.anchor().map(|lit| vec![(key, lit)]),
                Leaf::Regex(re) => regex_anchors(re.as_str()).map(|lits| lits.into_iter().map(|l| (key, l)).collect()),
                _ => None,
            })
            .collect::<Option<Vec<Anchors>>>()
            .map(|parts| parts.concat())
    };
    if *all { best(groups.iter().map(group)) } else { union(groups.iter().map(group)) }
}

/// Literals of which every match of `pattern` contains one: its prefix or
/// suffix literals when the regex parser can enumerate them (lowercased, as
/// the scan runs over lowercased text). `None` when a match might contain
/// none, e.g. a pattern that starts and ends with a class or `.*`.
pub(crate) fn regex_anchors(pattern: &str) -> Option<Vec<String>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let hir = regex_syntax::ParserBuilder::new().build().parse(pattern).ok()?;
    let mut best: Option<Vec<String>> = None;
    for kind in [ExtractKind::Prefix, ExtractKind::Suffix] {
        let seq = Extractor::new().kind(kind).extract(&hir);
        let Some(lits) = seq.literals() else { continue };
        if lits.is_empty() || lits.iter().any(|l| l.as_bytes().is_empty()) {
            continue;
        }
        let Some(mut texts) = lits
            .iter()
            .map(|l| std::str::from_utf8(l.as_bytes()).ok().map(str::to_lowercase))
            .collect::<Option<Vec<String>>>()
        else {
            continue;
        };
        texts.sort();
        texts.dedup();
        let score = |v: &Vec<String>| v.iter().map(|l| 1.0 / (l.len().min(12) as f64)).sum::<f64>();
        if best.as_ref().is_none_or(|b| score(&texts) < score(b)) {
            best = Some(texts);
        }
    }
    best
}

/// Filters with at most this many anchors probe before collecting matches.
const PROBE_MAX_PATTERNS: usize = 64;

/// One automaton over the anchors of one key, and the rules each anchor
/// stands for (as positions in the bucket's rule list).
pub(crate) struct KeyFilter {
    pub(crate) key: Key,
    pub(crate) automaton: AhoCorasick,
    pub(crate) targets: Vec<Vec<u32>>,
    /// The same anchors matching ASCII letters in either case, to ask "any
    /// anchor here?" on the raw text before lowercasing it and collecting
    /// every match: a plain search can skip text with the library's byte
    /// prefilters, the overlapping search cannot. Built when anchors are few
    /// (and so rarely present); keyword filters scan all values at once
    /// instead.
    pub(crate) probe: Option<AhoCorasick>,
    /// For keyword filters: a SIMD (Teddy) search for any anchor in the
    /// lowercased values, which skips text much faster than the automaton
    /// when no anchor is there, as is usual. `None` where the CPU or the
    /// number of anchors does not allow it.
    pub(crate) any: Option<aho_corasick::packed::Searcher>,
}

/// Builds the filters for a bucket from each rule's anchors. Rules whose
/// anchors cannot be compiled into an automaton go to `always`.
pub(crate) fn build(anchors: &[(u32, &Anchors)], always: &mut Vec<u32>) -> Vec<KeyFilter> {
    let mut by_key: std::collections::BTreeMap<Key, Vec<(String, u32)>> = Default::default();
    for (pos, list) in anchors {
        for (key, lit) in list.iter() {
            by_key.entry(*key).or_default().push((lit.clone(), *pos));
        }
    }
    let mut out = Vec::new();
    for (key, mut pairs) in by_key {
        pairs.sort();
        let mut patterns: Vec<String> = Vec::new();
        let mut targets: Vec<Vec<u32>> = Vec::new();
        for (lit, pos) in pairs {
            if patterns.last() != Some(&lit) {
                patterns.push(lit);
                targets.push(Vec::new());
            }
            if let Some(t) = targets.last_mut()
                && t.last() != Some(&pos)
            {
                t.push(pos);
            }
        }
        match AhoCorasickBuilder::new().match_kind(MatchKind::Standard).build(&patterns) {
            Ok(automaton) => {
                let probe = (key != Key::Anywhere && patterns.len() <= PROBE_MAX_PATTERNS)
                    .then(|| AhoCorasickBuilder::new().ascii_case_insensitive(true).build(&patterns).ok())
                    .flatten();
                let any = if key == Key::Anywhere {
                    aho_corasick::packed::Config::new().builder().extend(&patterns).build()
                } else {
                    None
                };
                out.push(KeyFilter { key, automaton, targets, probe, any })
            }
            // Building fails only past the library's size limits; evaluating
            // those rules every time is slower but still correct.
            Err(_) => always.extend(targets.into_iter().flatten()),
        }
    }
    always.sort_unstable();
    always.dedup();
    out
}
