//! Sigma detection rules: loading, compiling and matching.
//!
//! [`RuleSetBuilder`] takes rule files as text (the caller reads them; this
//! crate does no IO and never reads the clock), parses the YAML keeping raw
//! scalar text and positions, and compiles each rule into an inert matcher.
//! Loading never fails as a whole: [`RuleSetBuilder::build`] returns the rules
//! that compiled and a [`LoadError`] with file, line and column for each one
//! that did not. Unknown modifiers and malformed conditions are errors, never
//! silent non-matches.
//!
//! A [`RuleSet`] routes each event to the rules of its log sources and, among
//! those, to the rules whose literal anchors occur in the event (one
//! Aho-Corasick pass per field, see `prefilter.rs`), then evaluates only
//! those. A [`Matcher`] holds the per-thread scratch space.
//!
//! Correlation rules are read here too (`correlation.rs`) and their
//! references resolved when the set is built ([`RuleSet::correlations`]);
//! counting events over time is the `correlate` crate's.
//!
//! Not here: filters (later), field mappings of log formats (the
//! `normalize` crate), reading files (the binary).
//!
//! Start reading at [`RuleSetBuilder::add_file`], then `rule.rs`, `value.rs`
//! (modifiers) and `matcher.rs` (evaluation).

mod condition;
pub mod correlation;
mod matcher;
mod prefilter;
mod rule;
mod value;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use model::{Event, Level, LogSource, SourceView};

use crate::matcher::{EventView, FieldId, Matchable, NONE, Scratch};
use crate::prefilter::{Anchors, Key, KeyFilter};

pub use crate::correlation::{Baseline, Compare, Correlation, CorrelationType};
pub use crate::matcher::TimePart;
pub use crate::value::{CompileOptions, UnknownSource};
pub use yamltree::to_json as yaml_to_json;

/// A compiled Sigma detection rule with the metadata alerts carry.
#[derive(Debug)]
pub struct Rule {
    pub id: String,
    /// The name correlations may refer to it by.
    pub name: Option<String>,
    /// Whether its matches are alerts of their own: false when a
    /// correlation uses it without `generate: true`.
    pub alerts: bool,
    pub title: String,
    pub level: Level,
    pub status: Option<String>,
    pub description: Option<String>,
    /// Required on every alert by the Detection Rule License.
    pub author: Option<String>,
    pub date: Option<String>,
    pub modified: Option<String>,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    pub falsepositives: Vec<String>,
    pub logsource: LogSource,
    /// The file the rule came from, as the caller named it.
    pub path: String,
    /// The line its document starts on.
    pub line: u32,
    matchable: Matchable,
}

/// Why one rule (or file) did not load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub path: String,
    pub line: u32,
    pub col: u32,
    /// The rule's id, when the document had one.
    pub rule_id: Option<String>,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.path, self.line, self.col, self.message)
    }
}

impl std::error::Error for LoadError {}

/// Field names are short and not attacker-chosen keys of a long-lived
/// map, so a fast non-cryptographic hash (rustc's FxHash) is the right trade.
type FxMap<K, V> = HashMap<K, V, rustc_hash::FxBuildHasher>;

/// Every field name any rule mentions, numbered.
#[derive(Debug, Default)]
pub(crate) struct FieldTable {
    ids: FxMap<Box<str>, FieldId>,
}

impl FieldTable {
    pub(crate) fn intern(&mut self, name: &str) -> FieldId {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.ids.len() as FieldId;
        self.ids.insert(name.into(), id);
        id
    }

    fn get(&self, name: &str) -> Option<FieldId> {
        self.ids.get(name).copied()
    }

    fn len(&self) -> usize {
        self.ids.len()
    }
}

/// Collects rule files and compiles them into a [`RuleSet`].
#[derive(Default)]
pub struct RuleSetBuilder {
    options: CompileOptions,
    rules: Vec<Rule>,
    correlations: Vec<Correlation>,
    filters: Vec<rule::Filter>,
    errors: Vec<LoadError>,
    fields: FieldTable,
    ids: HashMap<String, String>,
}

/// What a correlation counts: a detection rule or another correlation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleRef {
    Rule(usize),
    Correlation(usize),
}

/// A correlation with its references resolved.
#[derive(Debug, Clone)]
pub struct ResolvedCorrelation {
    pub def: Correlation,
    /// One per `def.rules`, in order.
    pub inputs: Vec<RuleRef>,
    /// Whether its results are alerts (false when an outer correlation
    /// uses it without `generate`).
    pub alerts: bool,
}

impl RuleSetBuilder {
    pub fn new(options: CompileOptions) -> RuleSetBuilder {
        RuleSetBuilder { options, ..RuleSetBuilder::default() }
    }

    /// Parses every YAML document of one file. `path` is only used in
    /// errors and in [`Rule::path`].
    pub fn add_file(&mut self, path: &str, text: &str) {
        let docs = match yamltree::parse_documents(text) {
            Ok(docs) => docs,
            Err(e) => {
                self.errors.push(LoadError {
                    path: path.to_owned(),
                    line: e.pos.line,
                    col: e.pos.col,
                    rule_id: None,
                    message: format!("invalid YAML: {}", e.message),
                });
                return;
            }
        };
        for doc in docs {
            if doc.get("filter").is_some() && doc.get("detection").is_none() {
                match rule::parse_filter(&doc, path, &mut self.fields, &self.options) {
                    Ok(f) => self.filters.push(f),
                    Err(e) => self.errors.push(e.at_file(path)),
                }
                continue;
            }
            if doc.get("correlation").is_some() {
                match correlation::parse_correlation(&doc, path) {
                    Ok(c) => {
                        if self.claim_id(&c.id, path, c.line) {
                            self.correlations.push(c);
                        }
                    }
                    Err(e) => self.errors.push(e.at_file(path)),
                }
                continue;
            }
            match rule::parse_rule(&doc, path, &mut self.fields, &self.options) {
                Ok(rule) => {
                    if self.claim_id(&rule.id, path, rule.line) {
                        self.rules.push(rule);
                    }
                }
                Err(e) => self.errors.push(e.at_file(path)),
            }
        }
    }

    /// Records a rule or correlation id; a duplicate is a load error.
    fn claim_id(&mut self, id: &str, path: &str, line: u32) -> bool {
        if let Some(first) = self.ids.get(id) {
            self.errors.push(LoadError {
                path: path.to_owned(),
                line,
                col: 1,
                rule_id: Some(id.to_owned()),
                message: format!("duplicate rule id `{id}` (first defined in {first})"),
            });
            return false;
        }
        self.ids.insert(id.to_owned(), path.to_owned());
        true
    }

    /// Resolves each correlation's references by id or name. A reference
    /// to nothing, or a chain that comes back to itself, is a load error
    /// of that correlation (and of those built on it).
    fn resolve(&mut self) -> Vec<ResolvedCorrelation> {
        let mut by_key: HashMap<&str, RuleRef> = HashMap::new();
        for (i, r) in self.rules.iter().enumerate() {
            by_key.insert(&r.id, RuleRef::Rule(i));
            if let Some(n) = &r.name {
                by_key.entry(n).or_insert(RuleRef::Rule(i));
            }
        }
        for (i, c) in self.correlations.iter().enumerate() {
            by_key.insert(&c.id, RuleRef::Correlation(i));
            if let Some(n) = &c.name {
                by_key.entry(n).or_insert(RuleRef::Correlation(i));
            }
        }
        let mut inputs: Vec<Result<Vec<RuleRef>, String>> =
            self.correlations
                .iter()
                .map(|c| {
                    c.rules
                        .iter()
                        .map(|r| {
                            by_key.get(r.as_str()).copied().ok_or_else(|| {
                                format!("correlation refers to `{r}`, which is no loaded rule id or name")
                            })
                        })
                        .collect()
                })
                .collect();
        // A correlation is usable when all it refers to is: repeat until
        // nothing changes (this also rejects cycles).
        let n = self.correlations.len();
        let mut ok = vec![false; n];
        loop {
            let mut changed = false;
            for i in 0..n {
                if ok[i] {
                    continue;
                }
                let ready = match &inputs[i] {
                    Ok(refs) => refs.iter().all(|r| match r {
                        RuleRef::Rule(_) => true,
                        RuleRef::Correlation(j) => ok[*j],
                    }),
                    Err(_) => false,
                };
                if ready {
                    ok[i] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        for i in 0..n {
            if !ok[i] {
                let c = &self.correlations[i];
                let message = match &inputs[i] {
                    Err(e) => e.clone(),
                    Ok(_) => {
                        "correlation refers to a correlation that did not load, or to itself through a chain".into()
                    }
                };
                self.errors.push(LoadError {
                    path: c.path.clone(),
                    line: c.line,
                    col: 1,
                    rule_id: Some(c.id.clone()),
                    message,
                });
            }
        }
        // Old indices to the kept ones.
        let mut new_index = vec![usize::MAX; n];
        let mut kept = 0;
        for i in 0..n {
            if ok[i] {
                new_index[i] = kept;
                kept += 1;
            }
        }
        let mut out = Vec::with_capacity(kept);
        for (i, c) in std::mem::take(&mut self.correlations).into_iter().enumerate() {
            if !ok[i] {
                continue;
            }
            let refs: Vec<RuleRef> = std::mem::replace(&mut inputs[i], Ok(Vec::new()))
                .unwrap_or_default()
                .into_iter()
                .map(|r| match r {
                    RuleRef::Correlation(j) => RuleRef::Correlation(new_index[j]),
                    other => other,
                })
                .collect();
            out.push(ResolvedCorrelation { def: c, inputs: refs, alerts: true });
        }
        // What a correlation uses alerts on its own only with `generate`.
        for i in 0..out.len() {
            if out[i].def.generate {
                continue;
            }
            for r in out[i].inputs.clone() {
                match r {
                    RuleRef::Rule(k) => self.rules[k].alerts = false,
                    RuleRef::Correlation(k) => out[k].alerts = false,
                }
            }
        }
        out
    }

    /// Applies filters (the Sigma filters specification, composed as
    /// pySigma does: each rule's condition becomes `(rule) and (filter)`,
    /// so a filter's condition says what to keep). A filter applies to the
    /// rules it names (or every rule, with `any` or no list) whose log
    /// source has every attribute the filter's sets. Tenant filters stay
    /// aside, for [`Matcher::matches_in`]. A filter that names a rule that
    /// is not loaded is a load error.
    fn apply_filters(&mut self) -> Vec<TenantFilter> {
        let mut tenant_filters = Vec::new();
        for f in std::mem::take(&mut self.filters) {
            for name in &f.rules {
                if !self.rules.iter().any(|r| &r.id == name || r.name.as_ref() == Some(name)) {
                    self.errors.push(LoadError {
                        path: f.path.clone(),
                        line: f.line,
                        col: 1,
                        rule_id: f.id.clone(),
                        message: format!("filter refers to `{name}`, which is no loaded rule id or name"),
                    });
                }
            }
            let applies: Vec<usize> = (0..self.rules.len())
                .filter(|&i| {
                    let r = &self.rules[i];
                    (f.rules.is_empty() || f.rules.iter().any(|n| n == &r.id || r.name.as_ref() == Some(n)))
                        && f.logsource.contains(&r.logsource)
                })
                .collect();
            match f.tenant {
                Some(tenant) => tenant_filters.push(TenantFilter { tenant, rules: applies, matchable: f.matchable }),
                None => {
                    for i in applies {
                        let m = &mut self.rules[i].matchable;
                        let offset = m.detections.len() as u32;
                        m.detections.extend(f.matchable.detections.iter().cloned());
                        let kept = std::mem::replace(&mut m.condition, matcher::Expr::And(Vec::new()));
                        m.condition = matcher::Expr::And(vec![kept, f.matchable.condition.shifted(offset)]);
                    }
                }
            }
        }
        tenant_filters
    }

    /// The rule set and the errors of every rule that did not load.
    pub fn build(mut self) -> (RuleSet, Vec<LoadError>) {
        let tenant_filters = self.apply_filters();
        let correlations = self.resolve();
        let anchors = self.rules.iter().map(|r| prefilter::rule_anchors(&r.matchable)).collect();
        let mut set = RuleSet {
            correlations,
            tenant_filters,
            rules: self.rules,
            fields: self.fields,
            anchors,
            buckets: RwLock::new(HashMap::new()),
            unrouted: Arc::new(Bucket::empty()),
        };
        let every = self.options.unknown_source == UnknownSource::Every;
        let generic: Vec<u32> = (0..set.rules.len() as u32)
            .filter(|&i| every || set.rules[i as usize].logsource.product.is_none())
            .collect();
        set.unrouted = Arc::new(set.make_bucket(generic));
        (set, self.errors)
    }
}

/// Compiled rules, ready to match events from any number of threads.
pub struct RuleSet {
    rules: Vec<Rule>,
    correlations: Vec<ResolvedCorrelation>,
    tenant_filters: Vec<TenantFilter>,
    fields: FieldTable,
    anchors: Vec<Option<Anchors>>,
    buckets: RwLock<HashMap<SourceView, Arc<Bucket>>>,
    /// For events of unknown log source: the rules that name no product
    /// (or every rule, with [`UnknownSource::Every`])
    /// (`category: webserver`, `proxy`, `dns`, ...), written for fields any
    /// product of their kind has. A rule of one product reads that
    /// product's fields, and tried on anything else it says nothing true:
    /// a `not selection` rule (Zeek's "publicly accessible RDP") would
    /// match every record that lacks its fields.
    unrouted: Arc<Bucket>,
}

/// A filter of one tenant's own tuning: applied to that tenant's matches.
struct TenantFilter {
    tenant: String,
    /// Rule indices it applies to.
    rules: Vec<usize>,
    matchable: Matchable,
}

/// The rules of one log-source view, with their prefilters.
struct Bucket {
    /// Rule indices, ascending.
    rules: Vec<u32>,
    /// Positions (into `rules`) evaluated for every event.
    always: Vec<u32>,
    filters: Vec<KeyFilter>,
}

impl Bucket {
    fn empty() -> Bucket {
        Bucket { rules: Vec::new(), always: Vec::new(), filters: Vec::new() }
    }
}

impl RuleSet {
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The fields rule `index` looks for, by name, sorted: those of the
    /// selections its condition requires (not of the filters it negates).
    /// An alert page marks them in the matched event.
    pub fn fields_of(&self, index: usize) -> Vec<&str> {
        let Some(rule) = self.rules.get(index) else { return Vec::new() };
        let m = &rule.matchable;
        let mut wanted = Vec::new();
        m.positive_detections(&m.condition, false, &mut wanted);
        let mut ids: Vec<FieldId> = wanted
            .iter()
            .filter_map(|d| m.detections.get(*d as usize))
            .flat_map(|d| d.alternatives.iter().flatten())
            .filter(|item| !item.negate)
            .filter_map(|item| item.field)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut names: Vec<&str> =
            self.fields.ids.iter().filter(|(_, id)| ids.binary_search(id).is_ok()).map(|(n, _)| &**n).collect();
        names.sort_unstable();
        names
    }

    /// Correlation rules with their references resolved.
    pub fn correlations(&self) -> &[ResolvedCorrelation] {
        &self.correlations
    }

    /// Whether a tenant has filters of its own.
    pub fn has_tenant_filters(&self, tenant: &str) -> bool {
        self.tenant_filters.iter().any(|f| f.tenant == tenant)
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// A matcher with its own scratch space; make one per thread.
    pub fn matcher(&self) -> Matcher<'_> {
        Matcher {
            set: self,
            slots: vec![NONE; self.fields.len()],
            touched: Vec::new(),
            marks: Vec::new(),
            hits: Vec::new(),
            local: Vec::new(),
            scratch: Scratch::default(),
            joined: String::new(),
            prefilter: true,
        }
    }

    fn make_bucket(&self, rules: Vec<u32>) -> Bucket {
        let mut always = Vec::new();
        let mut anchored = Vec::new();
        for (pos, &r) in rules.iter().enumerate() {
            match &self.anchors[r as usize] {
                Some(a) => anchored.push((pos as u32, a)),
                None => always.push(pos as u32),
            }
        }
        let filters = prefilter::build(&anchored, &mut always);
        Bucket { rules, always, filters }
    }

    fn bucket(&self, view: &SourceView) -> Arc<Bucket> {
        if let Ok(map) = self.buckets.read()
            && let Some(b) = map.get(view)
        {
            return b.clone();
        }
        let rules: Vec<u32> = (0..self.rules.len() as u32)
            .filter(|&i| self.rules[i as usize].logsource.contains(&view.logsource))
            .collect();
        let bucket = Arc::new(self.make_bucket(rules));
        if let Ok(mut map) = self.buckets.write() {
            map.entry(view.clone()).or_insert_with(|| bucket.clone());
        }
        bucket
    }
}

/// Matches events against a [`RuleSet`]; holds per-thread scratch space.
pub struct Matcher<'r> {
    set: &'r RuleSet,
    /// Field id → event field index, `NONE` when absent.
    slots: Vec<u32>,
    touched: Vec<FieldId>,
    marks: Vec<u64>,
    hits: Vec<usize>,
    /// Buckets already looked up by this thread, by view identity.
    local: Vec<(Arc<SourceView>, Arc<Bucket>)>,
    scratch: Scratch,
    /// Every value of the event being matched, lowercased and joined, for
    /// keyword anchors.
    joined: String,
    prefilter: bool,
}

impl Matcher<'_> {
    /// Turns the literal prefilter off, so that every routed rule is
    /// evaluated; for tests that prove the prefilter changes nothing.
    pub fn without_prefilter(mut self) -> Self {
        self.prefilter = false;
        self
    }

    /// Indices (into [`RuleSet::rules`]) of the rules `event` matches, ascending.
    pub fn matches(&mut self, event: &Event) -> &[usize] {
        self.hits.clear();
        self.bind(event);
        if event.views.is_empty() {
            let bucket = self.set.unrouted.clone();
            self.run(event, &bucket);
        } else {
            for view in &event.views {
                let bucket = self.bucket_for(view);
                let saved = self.alias(event, view);
                self.run(event, &bucket);
                for (id, old) in saved {
                    self.slots[id as usize] = old;
                }
            }
            self.hits.sort_unstable();
            self.hits.dedup();
        }
        self.unbind();
        &self.hits
    }

    /// [`Matcher::matches`] for an event of `tenant`: matches that one of
    /// the tenant's filters does not keep are left out.
    pub fn matches_in(&mut self, tenant: &str, event: &Event) -> &[usize] {
        self.matches(event);
        if self.hits.is_empty() || !self.set.has_tenant_filters(tenant) {
            return &self.hits;
        }
        let mut hits = std::mem::take(&mut self.hits);
        self.bind(event);
        let saved = event.views.first().map(|v| self.alias(event, v)).unwrap_or_default();
        {
            let mut ev = EventView::new(event, &self.slots, &mut self.scratch);
            hits.retain(|r| {
                self.set
                    .tenant_filters
                    .iter()
                    .filter(|f| f.tenant == tenant && f.rules.contains(r))
                    .all(|f| f.matchable.eval(&mut ev))
            });
        }
        for (id, old) in saved {
            self.slots[id as usize] = old;
        }
        self.unbind();
        self.hits = hits;
        &self.hits
    }

    fn bucket_for(&mut self, view: &Arc<SourceView>) -> Arc<Bucket> {
        if let Some((_, b)) = self.local.iter().find(|(v, _)| Arc::ptr_eq(v, view)) {
            return b.clone();
        }
        let b = self.set.bucket(view);
        if self.local.len() < 256 {
            self.local.push((view.clone(), b.clone()));
        }
        b
    }

    fn bind(&mut self, event: &Event) {
        for (i, (name, _)) in event.fields().iter().enumerate() {
            if let Some(id) = self.set.fields.get(name) {
                let slot = &mut self.slots[id as usize];
                if *slot == NONE {
                    *slot = i as u32;
                    self.touched.push(id);
                }
            }
        }
    }

    /// Points rule field names at the event fields a view aliases them to;
    /// returns what to restore.
    fn alias(&mut self, event: &Event, view: &SourceView) -> Vec<(FieldId, u32)> {
        let mut saved = Vec::new();
        for (rule_field, event_field) in &view.aliases {
            let Some(id) = self.set.fields.get(rule_field) else { continue };
            let Some(idx) = event.position(event_field) else { continue };
            saved.push((id, self.slots[id as usize]));
            self.slots[id as usize] = idx as u32;
        }
        saved
    }

    fn unbind(&mut self) {
        for id in self.touched.drain(..) {
            self.slots[id as usize] = NONE;
        }
    }

    fn run(&mut self, event: &Event, bucket: &Bucket) {
        let mut ev = EventView::new(event, &self.slots, &mut self.scratch);
        if !self.prefilter {
            for &r in &bucket.rules {
                if self.set.rules[r as usize].matchable.eval(&mut ev) {
                    self.hits.push(r as usize);
                }
            }
            return;
        }
        self.marks.clear();
        self.marks.resize(bucket.rules.len().div_ceil(64), 0);
        for &pos in &bucket.always {
            self.marks[pos as usize / 64] |= 1 << (pos % 64);
        }
        for filter in &bucket.filters {
            match filter.key {
                Key::Field(field) => {
                    if let Some(idx) = ev.index_of(field) {
                        scan(filter, &mut ev, idx, &mut self.marks);
                    }
                }
                Key::Anywhere => scan_all(filter, &mut ev, &mut self.joined, &mut self.marks),
            }
        }
        for (word_idx, &word) in self.marks.iter().enumerate() {
            let mut w = word;
            while w != 0 {
                let bit = w.trailing_zeros() as usize;
                w &= w - 1;
                let r = bucket.rules[word_idx * 64 + bit] as usize;
                if self.set.rules[r].matchable.eval(&mut ev) {
                    self.hits.push(r);
                }
            }
        }
    }
}

/// Runs one filter over the (lowercased) text of one event field, marking
/// the rules whose anchors occur.
fn scan(filter: &KeyFilter, ev: &mut EventView<'_, '_>, idx: usize, marks: &mut [u64]) {
    // Few anchors are rarely present: a cheap probe on the text as it is
    // (ASCII letters in either case) skips lowercasing and the full scan.
    // Only ASCII text is probed, since Unicode lowercasing can turn other
    // characters into ASCII ones (the Kelvin sign into `k`).
    if let (Some(probe), model::Value::Str(s)) = (&filter.probe, ev.value(idx))
        && s.is_ascii()
        && !probe.is_match(&**s)
    {
        return;
    }
    let mut mark = |text: &str| mark_anchors(filter, text, marks);
    match ev.value(idx) {
        model::Value::Array(items) => {
            for item in items {
                if let Some(t) = item.as_text() {
                    mark(&matcher::lowercase(&t));
                }
            }
        }
        _ => {
            if let Some(t) = ev.lower(idx) {
                mark(t);
            }
        }
    }
}

/// Runs a keyword filter (anchors that may occur in any value) once over
/// all the event's values, lowercased and joined with NUL. One scan that the
/// automaton's prefilter can skip through costs far less than a probe per
/// field (a Windows event has dozens). An anchor found across a joint can
/// only add a candidate, which the rule's evaluation then rejects.
fn scan_all(filter: &KeyFilter, ev: &mut EventView<'_, '_>, joined: &mut String, marks: &mut [u64]) {
    joined.clear();
    for idx in 0..ev.event.fields().len() {
        match ev.value(idx) {
            model::Value::Str(s) if s.is_ascii() => {
                let start = joined.len();
                joined.push_str(s);
                joined[start..].make_ascii_lowercase();
            }
            model::Value::Array(items) => {
                for item in items {
                    if let Some(t) = item.as_text() {
                        joined.push_str(&matcher::lowercase(&t));
                        joined.push('\0');
                    }
                }
                continue;
            }
            _ => match ev.lower(idx) {
                Some(t) => joined.push_str(t),
                None => continue,
            },
        }
        joined.push('\0');
    }
    let present = match &filter.any {
        Some(any) => any.find(joined.as_bytes()).is_some(),
        None => filter.automaton.is_match(joined.as_str()),
    };
    if present {
        mark_anchors(filter, joined, marks);
    }
}

/// Marks the rules whose anchors occur in `text`.
fn mark_anchors(filter: &KeyFilter, text: &str, marks: &mut [u64]) {
    for m in filter.automaton.find_overlapping_iter(text) {
        for &pos in &filter.targets[m.pattern().as_usize()] {
            marks[pos as usize / 64] |= 1 << (pos % 64);
        }
    }
}

#[cfg(test)]
mod tests;
