//! Sigma correlation rules (the correlation specification, with the v2.1
//! value types and pySigma's `value_median`): one YAML document with a
//! `correlation` map, read into a [`Correlation`] whose `rules` are
//! resolved against the rule set when it is built.
//!
//! Only the definition lives here; counting events over time is the
//! `correlate` crate's.

use model::Level;

use crate::rule::{DocError, err};
use yamltree::Node;

/// What a correlation measures per group within its timespan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationType {
    /// Events matched by the referenced rules.
    EventCount,
    /// Distinct values of `field`.
    ValueCount,
    /// How many of the referenced rules matched, in any order.
    Temporal,
    /// The referenced rules matched in the order listed.
    TemporalOrdered,
    /// The sum of a numeric `field`.
    ValueSum,
    /// The mean of a numeric `field`.
    ValueAvg,
    /// The `percentile`th percentile of a numeric `field`.
    ValuePercentile,
    /// The median of a numeric `field` (pySigma's extension).
    ValueMedian,
}

impl CorrelationType {
    pub fn parse(text: &str) -> Option<CorrelationType> {
        Some(match text {
            "event_count" => CorrelationType::EventCount,
            "value_count" => CorrelationType::ValueCount,
            "temporal" => CorrelationType::Temporal,
            "temporal_ordered" => CorrelationType::TemporalOrdered,
            "value_sum" => CorrelationType::ValueSum,
            "value_avg" => CorrelationType::ValueAvg,
            "value_percentile" => CorrelationType::ValuePercentile,
            "value_median" => CorrelationType::ValueMedian,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CorrelationType::EventCount => "event_count",
            CorrelationType::ValueCount => "value_count",
            CorrelationType::Temporal => "temporal",
            CorrelationType::TemporalOrdered => "temporal_ordered",
            CorrelationType::ValueSum => "value_sum",
            CorrelationType::ValueAvg => "value_avg",
            CorrelationType::ValuePercentile => "value_percentile",
            CorrelationType::ValueMedian => "value_median",
        }
    }

    fn is_temporal(self) -> bool {
        matches!(self, CorrelationType::Temporal | CorrelationType::TemporalOrdered)
    }

    /// Types whose condition reads a `field`.
    fn needs_field(self) -> bool {
        !matches!(self, CorrelationType::EventCount | CorrelationType::Temporal | CorrelationType::TemporalOrdered)
    }
}

/// One comparison of a condition; a condition is all of its comparisons.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Compare {
    Gt(f64),
    Gte(f64),
    Lt(f64),
    Lte(f64),
    Eq(f64),
    Neq(f64),
}

impl Compare {
    pub fn holds(self, x: f64) -> bool {
        match self {
            Compare::Gt(v) => x > v,
            Compare::Gte(v) => x >= v,
            Compare::Lt(v) => x < v,
            Compare::Lte(v) => x <= v,
            Compare::Eq(v) => x == v,
            Compare::Neq(v) => x != v,
        }
    }

    /// Whether more events can only keep it true once it holds (`gt`,
    /// `gte`): such conditions fire as soon as they hold.
    pub fn grows_true(self) -> bool {
        matches!(self, Compare::Gt(_) | Compare::Gte(_))
    }
}

/// A parsed correlation rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Correlation {
    pub id: String,
    /// The name other correlations and aliases refer to it by.
    pub name: Option<String>,
    pub title: String,
    pub level: Level,
    pub status: Option<String>,
    pub description: Option<String>,
    pub author: Option<String>,
    pub tags: Vec<String>,
    pub kind: CorrelationType,
    /// Referenced rules or correlations, by id or name, as written.
    pub rules: Vec<String>,
    pub group_by: Vec<String>,
    /// The window, in seconds.
    pub timespan: i64,
    /// All must hold; empty for temporal types without one (all rules).
    pub condition: Vec<Compare>,
    /// The field(s) a value type reads.
    pub field: Vec<String>,
    /// For `value_percentile`: which percentile (0-100).
    pub percentile: Option<f64>,
    /// `alias -> [(rule name, field)]`.
    pub aliases: Vec<(String, Vec<(String, String)>)>,
    /// Whether the referenced rules also alert on their own.
    pub generate: bool,
    /// Hinomi's extension: the condition is also measured against the
    /// group's own history.
    pub baseline: Option<Baseline>,
    pub path: String,
    pub line: u32,
}

/// Hinomi's `baseline` extension of `event_count` and `value_sum`
/// correlations: a window fires only when its measure also reaches `factor`
/// times the group's average over its previous `periods` windows (tumbling
/// windows of `timespan`, idle ones counting as zero), and only for groups
/// seen for at least `learning` windows. The `gt`/`gte` condition stays as
/// a floor. Other Sigma tools reject the key rather than fire on the floor
/// alone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    pub periods: u32,
    pub factor: f64,
    pub learning: u32,
}

/// Windows of history a baseline may keep per group (a year of hours).
pub const MAX_BASELINE_PERIODS: u32 = 8784;

/// `90m`, `1h`, `2d`, `30s` (and pySigma's `w`, `M`, `y`) in seconds.
pub fn parse_timespan(text: &str) -> Option<i64> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let n: i64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 604_800,
        'M' => 2_629_746,
        'y' => 31_556_952,
        _ => return None,
    };
    (n > 0).then(|| n.checked_mul(mult)).flatten()
}

pub(crate) fn parse_correlation(doc: &Node, path: &str) -> Result<Correlation, DocError> {
    let id = doc.get("id").and_then(Node::as_str).map(str::to_owned);
    parse_inner(doc, path).map_err(|mut e| {
        e.rule_id = id;
        e
    })
}

fn parse_inner(doc: &Node, path: &str) -> Result<Correlation, DocError> {
    let text = |key: &str| doc.get(key).filter(|n| !n.is_null()).and_then(Node::as_str).map(str::to_owned);
    let title = match text("title") {
        Some(t) if !t.trim().is_empty() => t,
        _ => return err(doc, "correlation has no `title`"),
    };
    let Some(id) = text("id").filter(|i| !i.trim().is_empty()) else {
        return err(doc, "correlation has no `id` (Hinomi identifies rules by their Sigma id)");
    };
    let level = match doc.get("level") {
        None => Level::Medium,
        Some(n) => match n.as_str().and_then(Level::parse) {
            Some(l) => l,
            None => return err(n, "`level` must be informational, low, medium, high or critical"),
        },
    };
    let generate = match doc.get("generate") {
        None => false,
        Some(n) => match n.as_str() {
            Some("true" | "True" | "TRUE") => true,
            Some("false" | "False" | "FALSE") => false,
            _ => return err(n, "`generate` must be true or false"),
        },
    };
    let Some(c @ Node::Map { .. }) = doc.get("correlation") else {
        return err(doc, "`correlation` must be a map");
    };
    let kind_node = c.get("type").ok_or_else(|| DocError::at(c, "correlation has no `type`"))?;
    let Some(kind) = kind_node.as_str().and_then(CorrelationType::parse) else {
        return err(
            kind_node,
            "`type` must be event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile or value_median",
        );
    };
    let rules = c.get("rules").map(Node::string_list).unwrap_or_default();
    if rules.is_empty() {
        return err(c, "correlation has no `rules`");
    }
    let group_by = c.get("group-by").map(Node::string_list).unwrap_or_default();
    let span_node = c.get("timespan").ok_or_else(|| DocError::at(c, "correlation has no `timespan`"))?;
    let Some(timespan) = span_node.as_str().and_then(parse_timespan) else {
        return err(span_node, "`timespan` must be a number and a unit: s, m, h or d (e.g. 90m)");
    };
    let mut condition = Vec::new();
    let mut field = Vec::new();
    let mut percentile = None;
    match c.get("condition") {
        None if kind.is_temporal() => {}
        None => return err(c, format!("a {} correlation needs a `condition`", kind.as_str())),
        Some(cond @ Node::Map { entries, .. }) => {
            for (k, v) in entries {
                let key = k.as_str().unwrap_or("");
                let number = || -> Result<f64, DocError> {
                    v.as_str()
                        .and_then(|t| t.trim().parse::<f64>().ok())
                        .filter(|x| x.is_finite())
                        .ok_or_else(|| DocError::at(v, format!("`{key}` must be a number")))
                };
                match key {
                    "gt" => condition.push(Compare::Gt(number()?)),
                    "gte" => condition.push(Compare::Gte(number()?)),
                    "lt" => condition.push(Compare::Lt(number()?)),
                    "lte" => condition.push(Compare::Lte(number()?)),
                    "eq" => condition.push(Compare::Eq(number()?)),
                    "neq" => condition.push(Compare::Neq(number()?)),
                    "field" => field = v.string_list(),
                    "percentile" => {
                        let p = number()?;
                        if !(0.0..=100.0).contains(&p) {
                            return err(v, "`percentile` must be between 0 and 100");
                        }
                        percentile = Some(p);
                    }
                    other => {
                        return err(k, format!("unknown condition key `{other}` (gt, gte, lt, lte, eq, neq, field)"));
                    }
                }
            }
            if condition.is_empty() {
                return err(cond, "the condition has no comparison (gt, gte, lt, lte, eq or neq)");
            }
        }
        Some(other) if kind.is_temporal() && other.as_str().is_some() => {
            return err(other, "string conditions on temporal correlations are not supported; list the `rules`");
        }
        Some(other) => return err(other, "`condition` must be a map such as `gte: 10`"),
    }
    if kind.needs_field() && field.is_empty() {
        return err(c, format!("a {} correlation needs `field` in its condition", kind.as_str()));
    }
    if kind == CorrelationType::ValuePercentile && percentile.is_none() {
        return err(c, "a value_percentile correlation needs `percentile` in its condition");
    }
    let mut aliases = Vec::new();
    if let Some(a) = c.get("aliases") {
        let Node::Map { entries, .. } = a else { return err(a, "`aliases` must be a map") };
        for (alias, map) in entries {
            let Node::Map { entries: fields, .. } = map else {
                return err(map, "each alias must map rule names to field names");
            };
            let pairs: Vec<(String, String)> =
                fields.iter().filter_map(|(r, f)| Some((r.as_str()?.to_owned(), f.as_str()?.to_owned()))).collect();
            aliases.push((alias.as_str().unwrap_or("").to_owned(), pairs));
        }
    }
    let baseline = match c.get("baseline") {
        None => None,
        Some(b) => Some(parse_baseline(b, kind, &condition)?),
    };
    if let Node::Map { entries, .. } = c {
        for (k, _) in entries {
            let key = k.as_str().unwrap_or("");
            if !matches!(
                key,
                "type" | "rules" | "group-by" | "timespan" | "condition" | "aliases" | "generate" | "baseline"
            ) {
                return err(k, format!("unknown correlation key `{key}`"));
            }
        }
    }
    // `generate` is a top-level key in the specification; pySigma also
    // reads it inside `correlation`.
    let generate =
        generate || c.get("generate").and_then(Node::as_str).is_some_and(|t| matches!(t, "true" | "True" | "TRUE"));
    Ok(Correlation {
        id,
        name: text("name"),
        title,
        level,
        status: text("status"),
        description: text("description"),
        author: text("author"),
        tags: doc.get("tags").map(Node::string_list).unwrap_or_default(),
        kind,
        rules,
        group_by,
        timespan,
        condition,
        field,
        percentile,
        aliases,
        generate,
        baseline,
        path: path.to_owned(),
        line: doc.pos().line,
    })
}

fn parse_baseline(b: &Node, kind: CorrelationType, condition: &[Compare]) -> Result<Baseline, DocError> {
    if !matches!(kind, CorrelationType::EventCount | CorrelationType::ValueSum) {
        return err(b, "`baseline` needs an event_count or value_sum correlation (measures that add up over time)");
    }
    if !condition.iter().all(|c| c.grows_true()) {
        return err(b, "with `baseline`, the condition may only use gt and gte (a floor)");
    }
    let Node::Map { entries, .. } = b else {
        return err(b, "`baseline` must be a map such as `{periods: 168, factor: 10}`");
    };
    let (mut periods, mut factor, mut learning) = (None, None, None);
    for (k, v) in entries {
        let key = k.as_str().unwrap_or("");
        let number = v.as_str().and_then(|t| t.trim().parse::<f64>().ok()).filter(|x| x.is_finite());
        let whole = |name: &str| -> Result<u32, DocError> {
            number
                .filter(|n| n.fract() == 0.0 && (0.0..=f64::from(MAX_BASELINE_PERIODS)).contains(n))
                .map(|n| n as u32)
                .ok_or_else(|| {
                    DocError::at(v, format!("`{name}` must be a whole number from 0 to {MAX_BASELINE_PERIODS}"))
                })
        };
        match key {
            "periods" => periods = Some(whole("periods")?),
            "learning" => learning = Some(whole("learning")?),
            "factor" => match number.filter(|n| *n > 0.0) {
                Some(n) => factor = Some(n),
                None => return err(v, "`factor` must be a number above 0"),
            },
            other => return err(k, format!("unknown baseline key `{other}` (periods, factor, learning)")),
        }
    }
    let Some(periods) = periods.filter(|p| *p > 0) else {
        return err(b, "`baseline` needs `periods`, the windows of history to compare with (at least 1)");
    };
    let Some(factor) = factor else {
        return err(b, "`baseline` needs `factor`, how many times the group's average a window must reach");
    };
    let learning = learning.unwrap_or(periods);
    if learning > periods {
        return err(b, "`learning` cannot be more than `periods`");
    }
    Ok(Baseline { periods, factor, learning })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timespans() {
        assert_eq!(parse_timespan("90m"), Some(5400));
        assert_eq!(parse_timespan("1h"), Some(3600));
        assert_eq!(parse_timespan("2d"), Some(172_800));
        assert_eq!(parse_timespan("30s"), Some(30));
        assert_eq!(parse_timespan("1M"), Some(2_629_746));
        for bad in ["", "h", "0m", "-1h", "1x", "1.5h", "99999999999999999d"] {
            assert_eq!(parse_timespan(bad), None, "{bad}");
        }
    }
}
