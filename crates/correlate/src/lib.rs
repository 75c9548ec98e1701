//! Sigma correlation rules over a stream of rule matches.
//!
//! A [`Correlator`] is fed each match of a rule a correlation uses
//! ([`Correlator::observe`]) with the event's time and a way to read its
//! fields, and answers with the correlations that fired ([`Fired`]), each
//! carrying every contributing event reference. A correlation that another
//! one uses feeds it in turn (chains).
//!
//! Time is event time, never arrival time: windows slide over the events'
//! timestamps, and an event that arrives out of order is placed where it
//! belongs as long as it is within the allowed lateness of the newest
//! event seen (the watermark). State is bounded per correlation; groups
//! that can no longer fire are dropped, and when a correlation holds too
//! many groups one of the least recently active is evicted and counted. The
//! whole state can be saved and restored ([`Correlator::snapshot`]) so a
//! sequence that spans a restart still fires, once.
//!
//! Semantics where the specification leaves room (also in
//! `docs/correlation.md`):
//! - A window is `timespan` long and closed at both ends.
//! - Conditions made only of `gt`/`gte` (and temporal types without a
//!   condition, meaning "all rules") fire as soon as some window holds
//!   them; the events of that window are then used up, so the next firing
//!   needs new events. Other conditions (`lt`, `lte`, `eq`, `neq`) can only
//!   be judged once a window is complete: the window opens at a group's
//!   first event and is judged when the watermark passes its end.
//! - An event without a `group-by` field (after aliases) does not take part.
//! - `temporal_ordered` counts the longest run of the listed rules in
//!   order (equal timestamps count as in order).
//! - Value types read the first `field`; values that are not numbers are
//!   skipped. `value_count` counts distinct tuples of all `field`s.
//! - Hinomi's `baseline` ([`sigma::Baseline`]): each group also keeps its
//!   measure per tumbling window of `timespan` (aligned to the epoch), and
//!   a window fires only when it reaches `factor` times the group's
//!   average over the `periods` windows before the one it starts in (idle
//!   windows count as zero; a group seen for fewer windows is averaged over
//!   those it was seen for, and one seen for fewer than `learning` does not
//!   fire). This history outlives the group's window state and is bounded
//!   by `max_groups` like it.
//!
//! No IO, no clock: the caller passes times (microseconds since the epoch)
//! and persists snapshots.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::{Deserialize, Serialize};
use sigma::{Compare, CorrelationType, RuleRef, RuleSet};

/// Limits and lateness.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Groups one correlation may hold; past it, one of the least recently
    /// active groups is evicted (and counted).
    pub max_groups: usize,
    /// Entries one group may hold; past it, the oldest go (and are counted).
    pub max_entries: usize,
    /// How far behind the newest event an event may be and still count.
    pub lateness_micros: i64,
    /// Event references a result carries at most (the count is exact).
    pub max_refs: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config { max_groups: 100_000, max_entries: 10_000, lateness_micros: 60_000_000, max_refs: 1000 }
    }
}

/// A correlation that fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fired {
    /// Index into [`RuleSet::correlations`].
    pub correlation: usize,
    /// Groups never span tenants.
    pub tenant: String,
    /// The group: `group-by` names and values.
    pub group: Vec<(String, String)>,
    /// Event time of the first and last contributing event.
    pub first: i64,
    pub last: i64,
    /// The measure that met the condition (count, distinct values, sum...).
    pub value: f64,
    /// The group's average per window it was measured against, for
    /// correlations with a baseline.
    #[serde(default)]
    pub baseline: Option<f64>,
    /// Contributing events, oldest first (at most `max_refs`).
    pub events: Vec<String>,
    /// How many events contributed.
    pub event_count: usize,
    /// Whether this result is an alert (false inside a chain).
    pub alerts: bool,
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub groups: u64,
    pub fired: u64,
    /// Groups evicted because a correlation held too many.
    pub evicted: u64,
    /// Entries dropped because a group held too many.
    pub trimmed: u64,
    /// Events older than the watermark allows.
    pub late: u64,
}

/// How one correlation reads the events of one of its inputs.
#[derive(Debug, Clone)]
struct InputFields {
    /// Per `group-by` name: the field to read (alias resolved).
    group: Vec<String>,
}

#[derive(Debug, Clone)]
struct Plan {
    kind: CorrelationType,
    span: i64,
    condition: Vec<Compare>,
    /// Fire as soon as a window holds the condition.
    eager: bool,
    group_by: Vec<String>,
    inputs: Vec<InputFields>,
    field: Vec<String>,
    percentile: f64,
    alerts: bool,
    baseline: Option<sigma::Baseline>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    at: i64,
    input: u16,
    /// The distinct-count key or the number, by type.
    value: Option<Value>,
    refs: Vec<String>,
    /// Events behind this entry (more than `refs` for a chained result).
    count: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Value {
    Text(String),
    Number(f64),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Group {
    /// Sorted by time.
    entries: VecDeque<Entry>,
    /// The touch of this group's newest entry in the eviction queue: the
    /// group is queued again only once that entry is far enough back to be
    /// near eviction, so most events cost no queue entry.
    queued: u64,
}

/// A group's measure per tumbling window, for baselines.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct History {
    /// The first window the group was seen in.
    since: i64,
    /// `(window, measure)`, oldest first; idle windows are absent (zero).
    windows: VecDeque<(i64, f64)>,
}

impl History {
    fn newest(&self) -> i64 {
        self.windows.back().map_or(self.since, |w| w.0)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Groups {
    map: HashMap<String, Group>,
    /// `(queued touch, key)` in touch order; stale pairs are skipped.
    lru: VecDeque<(u64, String)>,
}

/// The correlation engine's state.
pub struct Correlator {
    plans: Vec<Plan>,
    ids: Vec<String>,
    /// Who consumes each rule or correlation: `(correlation, input position)`.
    consumers: HashMap<RuleRef, Vec<(usize, usize)>>,
    groups: Vec<Groups>,
    /// Per correlation with a baseline: each group's history.
    history: Vec<HashMap<String, History>>,
    /// Windows judged at their end: `(end, correlation, key)`.
    closing: BTreeMap<(i64, usize, String), ()>,
    newest: i64,
    touch: u64,
    /// Calls since the last sweep for expired groups.
    sweeps: u64,
    stats: Stats,
    config: Config,
}

/// Key separator: a control character no field value holds.
const SEP: char = '\u{1f}';

impl Correlator {
    pub fn new(set: &RuleSet, config: Config) -> Correlator {
        let mut consumers: HashMap<RuleRef, Vec<(usize, usize)>> = HashMap::new();
        let mut plans = Vec::new();
        let mut ids = Vec::new();
        for (ci, c) in set.correlations().iter().enumerate() {
            let def = &c.def;
            let name_of = |r: &RuleRef| match r {
                RuleRef::Rule(i) => set.rules()[*i].name.clone(),
                RuleRef::Correlation(i) => set.correlations()[*i].def.name.clone(),
            };
            let inputs = c
                .inputs
                .iter()
                .map(|r| {
                    let name = name_of(r);
                    let group = def
                        .group_by
                        .iter()
                        .map(|g| {
                            def.aliases
                                .iter()
                                .find(|(alias, _)| alias == g)
                                .and_then(|(_, map)| map.iter().find(|(rule, _)| Some(rule) == name.as_ref()))
                                .map_or_else(|| g.clone(), |(_, field)| field.clone())
                        })
                        .collect();
                    InputFields { group }
                })
                .collect();
            for (pos, r) in c.inputs.iter().enumerate() {
                consumers.entry(*r).or_default().push((ci, pos));
            }
            let mut condition = def.condition.clone();
            if condition.is_empty() {
                condition.push(Compare::Gte(c.inputs.len() as f64));
            }
            let eager = condition.iter().all(|c| c.grows_true())
                && !matches!(
                    def.kind,
                    CorrelationType::ValueAvg | CorrelationType::ValuePercentile | CorrelationType::ValueMedian
                );
            plans.push(Plan {
                kind: def.kind,
                span: def.timespan.saturating_mul(1_000_000),
                condition,
                eager,
                group_by: def.group_by.clone(),
                inputs,
                field: def.field.clone(),
                percentile: def.percentile.unwrap_or(50.0),
                alerts: c.alerts,
                baseline: def.baseline,
            });
            ids.push(def.id.clone());
        }
        let groups = plans.iter().map(|_| Groups::default()).collect();
        let history = plans.iter().map(|_| HashMap::new()).collect();
        Correlator {
            plans,
            ids,
            consumers,
            groups,
            history,
            closing: BTreeMap::new(),
            newest: i64::MIN,
            touch: 0,
            sweeps: 0,
            stats: Stats::default(),
            config,
        }
    }

    /// The fields correlations read from matches of each detection rule
    /// they use: callers extract only these from an event.
    pub fn needs(&self) -> HashMap<usize, Vec<String>> {
        let mut out: HashMap<usize, Vec<String>> = HashMap::new();
        for (r, consumers) in &self.consumers {
            let RuleRef::Rule(rule) = r else { continue };
            let fields = out.entry(*rule).or_default();
            for (c, pos) in consumers {
                let plan = &self.plans[*c];
                for f in plan.inputs[*pos].group.iter().chain(&plan.field) {
                    if !fields.contains(f) {
                        fields.push(f.clone());
                    }
                }
            }
        }
        out
    }

    /// Whether any correlation uses matches of `rule` (an index into
    /// [`RuleSet::rules`]): callers skip reading fields for the others.
    pub fn wants(&self, rule: usize) -> bool {
        self.consumers.contains_key(&RuleRef::Rule(rule))
    }

    pub fn is_empty(&self) -> bool {
        self.plans.is_empty()
    }

    pub fn stats(&self) -> Stats {
        let mut s = self.stats;
        s.groups = self.groups.iter().map(|g| g.map.len() as u64).sum();
        s
    }

    /// One match of detection rule `rule` on an event of `tenant` at `at`,
    /// known as `event`, whose fields `field` reads. Every correlation that
    /// fires because of it (chains included) is pushed to `out`.
    pub fn observe(
        &mut self,
        tenant: &str,
        rule: usize,
        at: i64,
        event: &str,
        field: &dyn Fn(&str) -> Option<String>,
        out: &mut Vec<Fired>,
    ) {
        if at > self.newest {
            self.newest = at;
        }
        let start = out.len();
        let key = RuleRef::Rule(rule);
        let n = self.consumers.get(&key).map_or(0, Vec::len);
        for k in 0..n {
            let (c, pos) = self.consumers[&key][k];
            self.add(tenant, c, pos, at, vec![event.to_owned()], 1, field, out);
        }
        self.close_windows(out);
        self.chain(start, out);
        self.expire_some();
    }

    /// Advances time without an event (idle streams still close windows).
    pub fn advance(&mut self, now: i64, out: &mut Vec<Fired>) {
        if now > self.newest {
            self.newest = now;
        }
        let start = out.len();
        self.close_windows(out);
        self.chain(start, out);
        self.expire_some();
    }

    /// Feeds results from `out[start..]` to the correlations built on
    /// them, until nothing new fires.
    fn chain(&mut self, mut start: usize, out: &mut Vec<Fired>) {
        while start < out.len() {
            let end = out.len();
            for i in start..end {
                let Some(consumers) = self.consumers.get(&RuleRef::Correlation(out[i].correlation)).cloned() else {
                    continue;
                };
                let f = out[i].clone();
                let lookup = |name: &str| f.group.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
                for (c, pos) in consumers {
                    self.add(&f.tenant, c, pos, f.last, f.events.clone(), f.event_count, &lookup, out);
                }
            }
            self.close_windows(out);
            start = end;
        }
    }

    fn watermark(&self) -> i64 {
        self.newest.saturating_sub(self.config.lateness_micros)
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        tenant: &str,
        c: usize,
        pos: usize,
        at: i64,
        refs: Vec<String>,
        count: usize,
        field: &dyn Fn(&str) -> Option<String>,
        out: &mut Vec<Fired>,
    ) {
        let plan = &self.plans[c];
        // The group key, within the tenant; an event without a group-by
        // field takes no part.
        let mut key = String::with_capacity(64);
        key.push_str(tenant);
        key.push(SEP);
        for name in &plan.inputs[pos].group {
            let Some(v) = field(name) else { return };
            key.push_str(&v);
            key.push(SEP);
        }
        if at < self.watermark().saturating_sub(plan.span) {
            self.stats.late += 1;
            return;
        }
        let value = match plan.kind {
            CorrelationType::EventCount | CorrelationType::Temporal | CorrelationType::TemporalOrdered => None,
            CorrelationType::ValueCount => {
                let parts: Option<Vec<String>> = plan.field.iter().map(|f| field(f)).collect();
                match parts {
                    Some(p) => Some(Value::Text(p.join("\u{1f}"))),
                    None => return,
                }
            }
            _ => {
                let number = plan.field.first().and_then(|f| field(f)).and_then(|v| v.trim().parse::<f64>().ok());
                match number.filter(|n| n.is_finite()) {
                    Some(n) => Some(Value::Number(n)),
                    None => return,
                }
            }
        };
        self.touch = self.touch.wrapping_add(1);
        let touch = self.touch;
        let (eager, span, baseline) = (plan.eager, plan.span, plan.baseline);
        if let Some(b) = baseline {
            // A chained result counts once, like an event.
            let amount = match value {
                Some(Value::Number(n)) => n,
                _ => 1.0,
            };
            self.record(c, &key, at.div_euclid(span.max(1)), amount, b.periods);
        }
        let groups = &mut self.groups[c];
        let live = groups.map.len() as u64;
        let is_new = !groups.map.contains_key(&key);
        if is_new {
            groups.map.insert(key.clone(), Group::default());
        }
        let Some(group) = groups.map.get_mut(&key) else { return };
        let entry = Entry { at, input: pos as u16, value, refs, count };
        let i = group.entries.partition_point(|e| e.at <= at);
        group.entries.insert(i, entry);
        if group.entries.len() > self.config.max_entries {
            group.entries.pop_front();
            self.stats.trimmed += 1;
        }
        // Queued again only when its queue entry may be near the front.
        if is_new || touch.wrapping_sub(group.queued) > live / 2 {
            group.queued = touch;
            groups.lru.push_back((touch, key.clone()));
        }
        if !eager && group.entries.len() == 1 {
            self.closing.insert((at.saturating_add(span), c, key.clone()), ());
        }
        if eager {
            self.judge_eager(c, &key, at, out);
        }
        if is_new && self.groups[c].map.len() > self.config.max_groups {
            self.evict_one(c);
        }
        if self.groups[c].lru.len() > 2 * self.groups[c].map.len() + 64 {
            let g = &mut self.groups[c];
            let map = &g.map;
            g.lru.retain(|(t, k)| map.get(k).is_some_and(|x| x.queued == *t));
        }
    }

    /// Eager conditions: any window holding the new entry and ending at an
    /// entry may fire; the earliest such window is taken.
    fn judge_eager(&mut self, c: usize, key: &str, at: i64, out: &mut Vec<Fired>) {
        let plan = &self.plans[c];
        let span = plan.span;
        // Entries no future window can hold: a new event is at least
        // `watermark - span` (older ones are late), and a window holding it
        // starts at most `span` before it.
        let horizon = self.watermark().saturating_sub(span.saturating_mul(2));
        let Some(group) = self.groups[c].map.get_mut(key) else { return };
        let old = group.entries.partition_point(|e| e.at < horizon);
        group.entries.drain(..old);
        let entries = &group.entries;
        // Windows holding the new entry end at an entry in [at, at + span].
        let first_end = entries.partition_point(|e| e.at < at);
        let mut end_i = first_end;
        while end_i < entries.len() && entries[end_i].at <= at.saturating_add(span) {
            let end = entries[end_i].at;
            let start_i = entries.partition_point(|e| e.at < end.saturating_sub(span));
            if let Some(value) = measure(plan, entries, start_i, end_i)
                && let Some(baseline) = meets(plan, &self.history[c], key, entries[start_i].at, value)
            {
                let window: Vec<&Entry> = entries.range(start_i..=end_i).collect();
                out.push(fire(plan, self.config.max_refs, c, key, &window, value, baseline));
                self.stats.fired += 1;
                // The window's events are used up.
                if let Some(g) = self.groups[c].map.get_mut(key) {
                    g.entries.drain(..=end_i);
                    if g.entries.is_empty() {
                        self.groups[c].map.remove(key);
                    }
                }
                return;
            }
            end_i += 1;
        }
    }

    /// Judges the windows whose end the watermark has passed.
    fn close_windows(&mut self, out: &mut Vec<Fired>) {
        let mark = self.watermark();
        while let Some(((end, c, key), ())) = self.closing.first_key_value().map(|(k, v)| (k.clone(), *v)) {
            if end >= mark {
                break;
            }
            self.closing.pop_first();
            let span = self.plans[c].span;
            let start = end.saturating_sub(span);
            let Some(group) = self.groups[c].map.get(&key) else { continue };
            let cut = group.entries.partition_point(|e| e.at <= end);
            let first = group.entries.partition_point(|e| e.at < start);
            let value = if cut > first { measure(&self.plans[c], &group.entries, first, cut - 1) } else { None };
            if let Some(v) = value
                && let Some(baseline) = meets(&self.plans[c], &self.history[c], &key, group.entries[first].at, v)
            {
                let window: Vec<&Entry> = group.entries.range(first..cut).collect();
                out.push(fire(&self.plans[c], self.config.max_refs, c, &key, &window, v, baseline));
                self.stats.fired += 1;
            }
            // The window is done; the next opens at the next event.
            if let Some(g) = self.groups[c].map.get_mut(&key) {
                g.entries.drain(..cut);
                match g.entries.front() {
                    Some(next) => {
                        let next_end = next.at.saturating_add(span);
                        self.closing.insert((next_end, c, key.clone()), ());
                    }
                    None => {
                        self.groups[c].map.remove(&key);
                    }
                }
            }
        }
    }

    /// Adds `amount` to a group's measure of tumbling window `window`,
    /// keeping the windows a baseline can still read.
    fn record(&mut self, c: usize, key: &str, window: i64, amount: f64, periods: u32) {
        let history = &mut self.history[c];
        let is_new = !history.contains_key(key);
        if is_new {
            history.insert(key.to_owned(), History { since: window, windows: VecDeque::new() });
        }
        let Some(h) = history.get_mut(key) else { return };
        h.since = h.since.min(window);
        match h.windows.binary_search_by_key(&window, |w| w.0) {
            Ok(i) => h.windows[i].1 += amount,
            Err(i) => h.windows.insert(i, (window, amount)),
        }
        // A window starts at most one window before the newest event's
        // (later ones are late), and its baseline reads `periods` before it.
        let oldest = h.newest().saturating_sub(i64::from(periods) + 2);
        while h.windows.front().is_some_and(|w| w.0 < oldest) {
            h.windows.pop_front();
        }
        if is_new && history.len() > self.config.max_groups {
            // The least recently active tenth goes at once, so the cost of
            // finding it is shared by the groups that come after.
            let keep = self.config.max_groups - self.config.max_groups / 10;
            let mut by_age: Vec<(i64, &String)> = history.iter().map(|(k, h)| (h.newest(), k)).collect();
            let remove = by_age.len().saturating_sub(keep);
            if remove > 0 {
                by_age.select_nth_unstable(remove - 1);
            }
            let gone: Vec<String> = by_age[..remove].iter().map(|(_, k)| (*k).clone()).collect();
            for k in &gone {
                history.remove(k);
            }
            self.stats.evicted += gone.len() as u64;
        }
    }

    fn evict_one(&mut self, c: usize) {
        let g = &mut self.groups[c];
        while let Some((t, key)) = g.lru.pop_front() {
            if g.map.get(&key).is_some_and(|x| x.queued == t) {
                g.map.remove(&key);
                self.stats.evicted += 1;
                return;
            }
        }
    }

    /// Drops a few groups that can no longer fire (eager correlations
    /// whose newest entry is older than any window still open).
    fn expire_some(&mut self) {
        // Amortized: a sweep every 64 calls, of up to 256 groups per
        // correlation, keeps pace with one new group per call.
        self.sweeps = self.sweeps.wrapping_add(1);
        if !self.sweeps.is_multiple_of(64) {
            return;
        }
        let mark = self.watermark();
        for c in 0..self.plans.len() {
            if !self.plans[c].eager {
                continue;
            }
            let span = self.plans[c].span;
            let g = &mut self.groups[c];
            for _ in 0..256 {
                let Some((t, key)) = g.lru.front() else { break };
                let expired = match g.map.get(key) {
                    // Queued again since: this queue entry is stale.
                    Some(x) if x.queued != *t => false,
                    None => false,
                    Some(x) if x.entries.back().is_none_or(|e| e.at.saturating_add(span) < mark) => true,
                    Some(_) => break,
                };
                if let Some((_, key)) = g.lru.pop_front()
                    && expired
                {
                    g.map.remove(&key);
                }
            }
        }
    }

    /// The whole state, to be restored by [`Correlator::restore`] with the
    /// same rules.
    pub fn snapshot(&self) -> Vec<u8> {
        let groups: Vec<(&str, &Groups)> = self.ids.iter().map(String::as_str).zip(self.groups.iter()).collect();
        let closing: Vec<&(i64, usize, String)> = self.closing.keys().collect();
        let closing: Vec<(i64, &str, &str)> =
            closing.iter().map(|(end, c, key)| (*end, self.ids[*c].as_str(), key.as_str())).collect();
        let history: Vec<(&str, &HashMap<String, History>)> =
            self.ids.iter().map(String::as_str).zip(self.history.iter()).filter(|(_, h)| !h.is_empty()).collect();
        let snap = serde_json::json!({
            "version": 1,
            "newest": self.newest,
            "touch": self.touch,
            "stats": self.stats,
            "groups": groups,
            "closing": closing,
            "history": history,
        });
        serde_json::to_vec(&snap).unwrap_or_default()
    }

    /// Restores a snapshot; state of correlations no longer loaded is
    /// dropped. A snapshot that does not read is an error and changes nothing.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        #[derive(Deserialize)]
        struct Snap {
            version: u32,
            newest: i64,
            touch: u64,
            stats: Stats,
            groups: Vec<(String, Groups)>,
            closing: Vec<(i64, String, String)>,
            #[serde(default)]
            history: Vec<(String, HashMap<String, History>)>,
        }
        let snap: Snap = serde_json::from_slice(bytes).map_err(|e| format!("correlation state: {e}"))?;
        if snap.version != 1 {
            return Err(format!("correlation state version {} is not 1", snap.version));
        }
        let index: HashMap<&str, usize> = self.ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
        let mut groups: Vec<Groups> = self.plans.iter().map(|_| Groups::default()).collect();
        for (id, g) in snap.groups {
            if let Some(&i) = index.get(id.as_str()) {
                groups[i] = g;
            }
        }
        let mut history: Vec<HashMap<String, History>> = self.plans.iter().map(|_| HashMap::new()).collect();
        for (id, h) in snap.history {
            if let Some(&i) = index.get(id.as_str())
                && self.plans[i].baseline.is_some()
            {
                history[i] = h;
            }
        }
        let mut closing = BTreeMap::new();
        for (end, id, key) in snap.closing {
            if let Some(&i) = index.get(id.as_str()) {
                closing.insert((end, i, key), ());
            }
        }
        self.groups = groups;
        self.history = history;
        self.closing = closing;
        self.newest = snap.newest;
        self.touch = snap.touch;
        self.stats = snap.stats;
        Ok(())
    }
}

/// Whether `value`, measured over a window whose first event is at
/// `first`, meets the plan's condition and baseline: `None` when not,
/// otherwise the baseline it was measured against, if any.
fn meets(plan: &Plan, history: &HashMap<String, History>, key: &str, first: i64, value: f64) -> Option<Option<f64>> {
    if !plan.condition.iter().all(|cmp| cmp.holds(value)) {
        return None;
    }
    let Some(b) = plan.baseline else { return Some(None) };
    let h = history.get(key)?;
    let start = first.div_euclid(plan.span.max(1));
    let seen = start.saturating_sub(h.since);
    if seen < i64::from(b.learning) {
        return None;
    }
    let from = start.saturating_sub(i64::from(b.periods));
    let total: f64 = h.windows.iter().filter(|w| w.0 >= from && w.0 < start).map(|w| w.1).sum();
    let average = total / seen.clamp(1, i64::from(b.periods)) as f64;
    (value >= b.factor * average).then_some(Some(average))
}

/// The result of a window that met its condition.
fn fire(
    plan: &Plan,
    max_refs: usize,
    c: usize,
    key: &str,
    window: &[&Entry],
    value: f64,
    baseline: Option<f64>,
) -> Fired {
    let mut events = Vec::new();
    let mut event_count = 0;
    for e in window {
        event_count += e.count;
        for r in &e.refs {
            if events.len() < max_refs {
                events.push(r.clone());
            }
        }
    }
    let mut parts = key.split(SEP);
    let tenant = parts.next().unwrap_or_default().to_owned();
    let group = plan.group_by.iter().cloned().zip(parts.map(str::to_owned)).collect();
    Fired {
        correlation: c,
        tenant,
        group,
        first: window.first().map_or(0, |e| e.at),
        last: window.last().map_or(0, |e| e.at),
        value,
        baseline,
        events,
        event_count,
        alerts: plan.alerts,
    }
}

/// The measure of a window for the plan's type; `None` when there is
/// nothing to measure (no numbers for a value type).
fn measure(plan: &Plan, entries: &VecDeque<Entry>, first: usize, last: usize) -> Option<f64> {
    let window = || entries.range(first..=last);
    let numbers = || -> Vec<f64> {
        window()
            .filter_map(|e| match e.value {
                Some(Value::Number(n)) => Some(n),
                _ => None,
            })
            .collect()
    };
    Some(match plan.kind {
        // A chained correlation's result counts once, however many events
        // made it.
        CorrelationType::EventCount => (last + 1 - first) as f64,
        CorrelationType::ValueCount => {
            let mut seen: Vec<&str> = window()
                .filter_map(|e| match &e.value {
                    Some(Value::Text(t)) => Some(t.as_str()),
                    _ => None,
                })
                .collect();
            seen.sort_unstable();
            seen.dedup();
            seen.len() as f64
        }
        CorrelationType::Temporal => {
            let mut seen = vec![false; plan.inputs.len()];
            for e in window() {
                if let Some(s) = seen.get_mut(usize::from(e.input)) {
                    *s = true;
                }
            }
            seen.iter().filter(|s| **s).count() as f64
        }
        CorrelationType::TemporalOrdered => {
            // The longest run of inputs 0, 1, 2... in time order.
            let mut next = 0u16;
            for e in window() {
                if e.input == next {
                    next += 1;
                    if usize::from(next) == plan.inputs.len() {
                        break;
                    }
                }
            }
            f64::from(next)
        }
        CorrelationType::ValueSum => {
            let n = numbers();
            if n.is_empty() {
                return None;
            }
            n.iter().sum()
        }
        CorrelationType::ValueAvg => {
            let n = numbers();
            if n.is_empty() {
                return None;
            }
            n.iter().sum::<f64>() / n.len() as f64
        }
        CorrelationType::ValuePercentile | CorrelationType::ValueMedian => {
            let mut n = numbers();
            if n.is_empty() {
                return None;
            }
            n.sort_by(f64::total_cmp);
            let p = if plan.kind == CorrelationType::ValueMedian { 50.0 } else { plan.percentile };
            percentile(&n, p)
        }
    })
}

/// The `p`th percentile of sorted numbers, interpolating between ranks.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = (p / 100.0).clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    let frac = rank - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

#[cfg(test)]
mod tests;
