//! The parsed query: a filter and a list of pipes.

use std::fmt;

use ipnet::IpNet;
use regex::Regex;

#[derive(Debug, Clone)]
pub struct Query {
    pub filter: Filter,
    pub pipes: Vec<Pipe>,
}

#[derive(Debug, Clone)]
pub enum Filter {
    /// Every event (an empty filter or `*`).
    All,
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// A bare word: some token of the event's text equals it (or matches
    /// it, with wildcards). A bare word that holds several tokens
    /// (`10.0.0.1:443`) means the phrase.
    Word(Pattern),
    /// A quoted phrase: occurs in the event's text, ignoring case, without
    /// cutting a token (see [`crate::tokens::phrase_in`]).
    Phrase(String),
    Field {
        field: String,
        test: Test,
    },
}

#[derive(Debug, Clone)]
pub enum Test {
    /// The whole value equals the pattern, ignoring case.
    Is(Pattern),
    /// `field:*`: the field is present.
    Exists,
    /// `field>5`, `field:[a TO b]`, `@timestamp>=-24h`.
    Range { lo: Bound, hi: Bound },
    /// `source.ip:10.0.0.0/8`.
    Cidr(IpNet),
}

#[derive(Debug, Clone)]
pub enum Bound {
    Open,
    Inclusive(Scalar),
    Exclusive(Scalar),
}

/// A value to compare with: how it compares depends on its kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Number(f64),
    /// An absolute time, or `now` plus an offset in seconds (`-24h`); both
    /// compare with field values read as timestamps.
    Time(jiff::Timestamp),
    Relative(i64),
    Text(String),
}

/// A literal or a wildcard pattern, kept lowercased.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// Lowercased text; wildcards are `*` and `?` where `glob` is set.
    pub text: String,
    /// Compiled, anchored, case-insensitive form when the text has wildcards.
    pub glob: Option<Regex>,
}

impl Pattern {
    pub fn is_literal(&self) -> bool {
        self.glob.is_none()
    }

    /// The glob as an unanchored regular expression body (for term
    /// dictionaries, whose automata match whole terms).
    pub fn regex_body(&self) -> Option<&str> {
        let re = self.glob.as_ref()?.as_str();
        re.strip_prefix("(?s)^")?.strip_suffix('$')
    }
}

#[derive(Debug, Clone)]
pub enum Pipe {
    Where(Expr),
    Stats { aggs: Vec<Agg>, by: Vec<String> },
    Sort(Vec<SortKey>),
    Head(usize),
    Fields(Vec<String>),
    Timechart { span: i64, aggs: Vec<Agg>, by: Option<String> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub field: String,
    pub descending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFn {
    Count,
    Dc,
    Min,
    Max,
    Avg,
    Sum,
}

impl AggFn {
    pub fn name(self) -> &'static str {
        match self {
            AggFn::Count => "count",
            AggFn::Dc => "dc",
            AggFn::Min => "min",
            AggFn::Max => "max",
            AggFn::Avg => "avg",
            AggFn::Sum => "sum",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Agg {
    pub func: AggFn,
    /// `None` only for `count()`.
    pub field: Option<String>,
    /// The output column: `as NAME`, or `func(field)`.
    pub name: String,
}

/// The condition of `| where`: comparisons of a column with a literal.
#[derive(Debug, Clone)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare { field: String, op: CmpOp, value: Scalar },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// A canonical, fully parenthesised rendering: what the golden parser
/// tests compare.
impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.filter)?;
        for p in &self.pipes {
            write!(f, " | {p}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, op: &str, items: &[Filter]| {
            write!(f, "({op}")?;
            for i in items {
                write!(f, " {i}")?;
            }
            write!(f, ")")
        };
        match self {
            Filter::All => write!(f, "(all)"),
            Filter::And(items) => list(f, "and", items),
            Filter::Or(items) => list(f, "or", items),
            Filter::Not(inner) => write!(f, "(not {inner})"),
            Filter::Word(p) => write!(f, "(word {p})"),
            Filter::Phrase(t) => write!(f, "(phrase {t:?})"),
            Filter::Field { field, test } => write!(f, "({field} {test})"),
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.is_literal() { "" } else { "glob " };
        write!(f, "{kind}{:?}", self.text)
    }
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Test::Is(p) => write!(f, "is {p}"),
            Test::Exists => write!(f, "exists"),
            Test::Range { lo, hi } => {
                let (open, lo) = match lo {
                    Bound::Open => ("[", "*".to_string()),
                    Bound::Inclusive(s) => ("[", s.to_string()),
                    Bound::Exclusive(s) => ("{", s.to_string()),
                };
                let (close, hi) = match hi {
                    Bound::Open => ("]", "*".to_string()),
                    Bound::Inclusive(s) => ("]", s.to_string()),
                    Bound::Exclusive(s) => ("}", s.to_string()),
                };
                write!(f, "range {open}{lo} TO {hi}{close}")
            }
            Test::Cidr(net) => write!(f, "cidr {net}"),
        }
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Number(n) => write!(f, "{n}"),
            Scalar::Time(t) => write!(f, "time:{t}"),
            Scalar::Relative(s) => write!(f, "now{s:+}s"),
            Scalar::Text(t) => write!(f, "{t:?}"),
        }
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let aggs = |aggs: &[Agg]| aggs.iter().map(Agg::to_string).collect::<Vec<_>>().join(", ");
        match self {
            Pipe::Where(e) => write!(f, "where {e}"),
            Pipe::Stats { aggs: a, by } if by.is_empty() => write!(f, "stats {}", aggs(a)),
            Pipe::Stats { aggs: a, by } => write!(f, "stats {} by {}", aggs(a), by.join(", ")),
            Pipe::Sort(keys) => {
                let keys: Vec<String> =
                    keys.iter().map(|k| format!("{}{}", if k.descending { "-" } else { "+" }, k.field)).collect();
                write!(f, "sort {}", keys.join(", "))
            }
            Pipe::Head(n) => write!(f, "head {n}"),
            Pipe::Fields(list) => write!(f, "fields {}", list.join(", ")),
            Pipe::Timechart { span, aggs: a, by } => {
                write!(f, "timechart span={span}s {}", aggs(a))?;
                match by {
                    Some(by) => write!(f, " by {by}"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl fmt::Display for Agg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({}) as {:?}", self.func.name(), self.field.as_deref().unwrap_or(""), self.name)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::And(a, b) => write!(f, "({a} and {b})"),
            Expr::Or(a, b) => write!(f, "({a} or {b})"),
            Expr::Not(a) => write!(f, "(not {a})"),
            Expr::Compare { field, op, value } => write!(f, "({field} {} {value})", op.as_str()),
        }
    }
}

/// What a query's rows are, for whoever shows them: events as stored, or
/// a table the pipes made, with its columns in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Stored events (filtered, sorted or cut, but whole).
    Events,
    /// `stats` or `fields`: these columns, in this order.
    Table(Vec<String>),
    /// `timechart`: one row per bucket (and series, with `by`), `_time`
    /// first; `values` are the aggregate columns.
    Chart { by: Option<String>, values: Vec<String> },
}

impl Query {
    /// The shape of the rows this query gives: the last pipe that makes
    /// new columns decides it.
    pub fn output(&self) -> Output {
        let names = |aggs: &[Agg]| aggs.iter().map(|a| a.name.clone()).collect::<Vec<_>>();
        self.pipes.iter().fold(Output::Events, |out, pipe| match pipe {
            Pipe::Stats { aggs, by } => Output::Table(by.iter().cloned().chain(names(aggs)).collect()),
            Pipe::Timechart { aggs, by, .. } => Output::Chart { by: by.clone(), values: names(aggs) },
            Pipe::Fields(list) => Output::Table(list.clone()),
            Pipe::Where(_) | Pipe::Sort(_) | Pipe::Head(_) => out,
        })
    }
}
