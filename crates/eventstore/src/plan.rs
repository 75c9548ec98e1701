//! From a filter to a tantivy query that finds every matching event (and
//! perhaps more). `exact` says whether it finds only matching events, so
//! the searcher can skip reading them to check.
//!
//! Exact: words and word patterns (`text` terms), values and value
//! patterns of column fields (`f` terms), `field:*`, time ranges on
//! `@timestamp`, and `and`/`or`/`not` of exact parts. Narrowed, then
//! checked: phrases (all their tokens must be there), values of other
//! fields (their words must be there), CIDR and other ranges (the field
//! must be there), patterns where some value was not indexed (long, or a timestamp), and `_id`
//! (by its log position).

use std::ops::Bound as StdBound;

use jiff::Timestamp;
use query::{Bound, Filter, Pattern, Scalar, Test};
use tantivy::query::{AllQuery, BooleanQuery, EmptyQuery, Occur, Query, RangeQuery, RegexQuery, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DateTime, Searcher, Term};

use crate::schema::{Fields, META_TERMS, PRESENT, UNINDEXED, VALUE, indexable_name};
use crate::shape::{Known, SHAPE};

pub(crate) struct Plan {
    pub(crate) query: Box<dyn Query>,
    pub(crate) exact: bool,
}

impl Plan {
    fn exact(query: Box<dyn Query>) -> Plan {
        Plan { query, exact: true }
    }

    fn narrowed(query: Box<dyn Query>) -> Plan {
        Plan { query, exact: false }
    }

    fn all() -> Plan {
        Plan::exact(Box::new(AllQuery))
    }

    /// Every event, to be checked one by one.
    fn scan() -> Plan {
        Plan::narrowed(Box::new(AllQuery))
    }
}

pub(crate) struct Planner<'a> {
    pub(crate) fields: &'a Fields,
    pub(crate) searcher: &'a Searcher,
    pub(crate) shapes: &'a Known,
    pub(crate) now: Timestamp,
}

impl Planner<'_> {
    pub(crate) fn plan(&self, filter: &Filter) -> Plan {
        match filter {
            Filter::All => Plan::all(),
            Filter::And(items) => {
                let plans: Vec<Plan> = items.iter().map(|f| self.plan(f)).collect();
                let exact = plans.iter().all(|p| p.exact);
                let clauses = plans.into_iter().map(|p| (Occur::Must, p.query)).collect();
                Plan { query: Box::new(BooleanQuery::new(clauses)), exact }
            }
            Filter::Or(items) => {
                let plans: Vec<Plan> = items.iter().map(|f| self.plan(f)).collect();
                let exact = plans.iter().all(|p| p.exact);
                let clauses = plans.into_iter().map(|p| (Occur::Should, p.query)).collect();
                Plan { query: Box::new(BooleanQuery::new(clauses)), exact }
            }
            Filter::Not(inner) => {
                let inner = self.plan(inner);
                if !inner.exact {
                    // A superset of the inner matches says nothing about
                    // the events outside it.
                    return Plan::scan();
                }
                let clauses = vec![(Occur::Must, Box::new(AllQuery) as Box<dyn Query>), (Occur::MustNot, inner.query)];
                Plan::exact(Box::new(BooleanQuery::new(clauses)))
            }
            Filter::Word(p) => {
                // In `text`, or a word of a JSON key (in the key shapes).
                let words = self.pattern(self.fields.text, "", p, false);
                let shapes: Vec<&str> = self.shapes.with_key_word(p).collect();
                if shapes.is_empty() {
                    return words;
                }
                let mut clauses = vec![(Occur::Should, words.query)];
                clauses.extend(shapes.into_iter().map(|t| (Occur::Should, term_query(self.f_term(t)))));
                Plan { query: Box::new(BooleanQuery::new(clauses)), exact: words.exact }
            }
            Filter::Phrase(phrase) => {
                let terms = query::tokens::phrase_terms(phrase);
                if terms.is_empty() {
                    return Plan::scan();
                }
                let clauses = terms
                    .iter()
                    .map(|t| (Occur::Must, term_query(Term::from_field_text(self.fields.text, t))))
                    .collect();
                Plan::narrowed(Box::new(BooleanQuery::new(clauses)))
            }
            Filter::Field { field, test } => self.field(field, test),
        }
    }

    fn field(&self, field: &str, test: &Test) -> Plan {
        match field {
            "@timestamp" => return self.timestamp(test),
            "_id" => return self.id(test),
            "_received" => return Plan::scan(),
            _ => {}
        }
        if !indexable_name(field) {
            return Plan::scan();
        }
        let present = || presence(self.fields, self.shapes, field);
        match test {
            Test::Exists => Plan::exact(present()),
            Test::Is(p) if self.fields.column(field).is_some() || META_TERMS.contains(&field) => {
                self.pattern(self.fields.f, field, p, true)
            }
            Test::Is(p) => {
                // No value terms: the value's words are in `text` (field
                // values are tokenized there too), then each event is checked.
                let mut clauses = vec![(Occur::Must, present())];
                if p.is_literal() {
                    let mut words = Vec::new();
                    query::tokens::tokens(&p.text, |t| {
                        if !words.iter().any(|w: &String| w == t) {
                            words.push(t.to_string());
                        }
                        false
                    });
                    for w in words {
                        clauses.push((Occur::Must, term_query(Term::from_field_text(self.fields.text, &w))));
                    }
                }
                Plan::narrowed(Box::new(BooleanQuery::new(clauses)))
            }
            Test::Range { .. } | Test::Cidr(_) => Plan::narrowed(present()),
        }
    }

    fn f_term(&self, text: &str) -> Term {
        Term::from_field_text(self.fields.f, text)
    }

    /// A literal or a pattern over `text` tokens (`name` empty) or over
    /// `f` values of `name`.
    fn pattern(&self, field: tantivy::schema::Field, name: &str, p: &Pattern, is_value: bool) -> Plan {
        let prefix = if is_value { format!("{name}{VALUE}") } else { String::new() };
        if p.is_literal() {
            if is_value && !self.fields.indexed_value(&p.text) {
                // Such values are only marked: read those events.
                return Plan::narrowed(term_query(self.f_term(&format!("{name}{UNINDEXED}"))));
            }
            if !is_value && p.text.len() > query::tokens::MAX_TOKEN {
                return Plan::exact(Box::new(EmptyQuery));
            }
            return Plan::exact(term_query(Term::from_field_text(field, &format!("{prefix}{}", p.text))));
        }
        let Some(body) = p.regex_body() else { return Plan::scan() };
        let regex = format!("(?s){}{body}", escape(&prefix));
        let Ok(matching) = RegexQuery::from_pattern(&regex, field) else { return Plan::scan() };
        if !is_value {
            return Plan::exact(Box::new(matching));
        }
        // Values not indexed (long ones, timestamps) may match the pattern
        // too: when any event has one, those events are read and checked.
        let unindexed = self.f_term(&format!("{name}{UNINDEXED}"));
        if self.searcher.doc_freq(&unindexed).unwrap_or(1) == 0 {
            return Plan::exact(Box::new(matching));
        }
        let clauses =
            vec![(Occur::Should, Box::new(matching) as Box<dyn Query>), (Occur::Should, term_query(unindexed))];
        Plan::narrowed(Box::new(BooleanQuery::new(clauses)))
    }

    fn timestamp(&self, test: &Test) -> Plan {
        let Test::Range { lo, hi } = test else {
            return Plan::scan();
        };
        let (Some(lo), Some(hi)) = (self.time_bound(lo, true), self.time_bound(hi, false)) else {
            return Plan::scan();
        };
        Plan::exact(time_range(self.fields.ts, lo, hi))
    }

    /// A bound on `@timestamp` as an index bound, when it is a time.
    fn time_bound(&self, b: &Bound, _lower: bool) -> Option<StdBound<Timestamp>> {
        let t = |s: &Scalar| match s {
            Scalar::Time(t) => Some(*t),
            Scalar::Relative(secs) => self.now.checked_add(jiff::SignedDuration::from_secs(*secs)).ok(),
            _ => None,
        };
        Some(match b {
            Bound::Open => StdBound::Unbounded,
            Bound::Inclusive(s) => StdBound::Included(t(s)?),
            Bound::Exclusive(s) => StdBound::Excluded(t(s)?),
        })
    }

    fn id(&self, test: &Test) -> Plan {
        if let Test::Is(p) = test
            && p.is_literal()
            && let Some(pos) = p.text.split('.').next().and_then(|s| s.parse::<u64>().ok())
        {
            let term = Term::from_field_u64(self.fields.pos, pos);
            return Plan::narrowed(Box::new(RangeQuery::new(
                StdBound::Included(term.clone()),
                StdBound::Included(term),
            )));
        }
        Plan::scan()
    }
}

/// A range on the `ts` field. Timestamps are indexed in microseconds; the
/// evaluator sees the same truncated instants, so bounds are truncated too
/// (an exclusive bound inside a microsecond is widened and stays exact
/// because the checked event times are whole microseconds).
pub(crate) fn time_range(
    ts: tantivy::schema::Field,
    lo: StdBound<Timestamp>,
    hi: StdBound<Timestamp>,
) -> Box<dyn Query> {
    let term = |t: Timestamp| Term::from_field_date(ts, DateTime::from_timestamp_micros(t.as_microsecond()));
    let sub_micro = |t: &Timestamp| t.subsec_nanosecond() % 1000 != 0;
    let lo = match lo {
        StdBound::Unbounded => StdBound::Unbounded,
        // t > 10.5µs means t >= 11µs for whole-microsecond times.
        StdBound::Excluded(t) if sub_micro(&t) => StdBound::Excluded(term(t)),
        StdBound::Included(t) if sub_micro(&t) => StdBound::Excluded(term(t)),
        StdBound::Excluded(t) => StdBound::Excluded(term(t)),
        StdBound::Included(t) => StdBound::Included(term(t)),
    };
    let hi = match hi {
        StdBound::Unbounded => StdBound::Unbounded,
        // t < 10.5µs means t <= 10µs.
        StdBound::Excluded(t) if sub_micro(&t) => StdBound::Included(term(t)),
        StdBound::Included(t) if sub_micro(&t) => StdBound::Included(term(t)),
        StdBound::Excluded(t) => StdBound::Excluded(term(t)),
        StdBound::Included(t) => StdBound::Included(term(t)),
    };
    Box::new(RangeQuery::new(lo, hi))
}

/// Events where field `name` has a value: its presence term (events that
/// fell back to one) or a name shape that holds it.
pub(crate) fn presence(fields: &Fields, shapes: &Known, name: &str) -> Box<dyn Query> {
    let f_term = |t: &str| term_query(Term::from_field_text(fields.f, t));
    let mut clauses = vec![(Occur::Should, f_term(&format!("{name}{PRESENT}")))];
    clauses.extend(shapes.with_name(name).map(|t| (Occur::Should, f_term(t))));
    if clauses.len() == 1 {
        return clauses.remove(0).1;
    }
    Box::new(BooleanQuery::new(clauses))
}

fn term_query(term: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(term, IndexRecordOption::Basic))
}

/// Escapes regex syntax in a literal, including the separator characters
/// (written as `\x1f` and so on, which the automaton compiler accepts).
fn escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            SHAPE | PRESENT | UNINDEXED | VALUE => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if regex_meta(c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn regex_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$' | '#' | '&' | '-' | '~'
    )
}
