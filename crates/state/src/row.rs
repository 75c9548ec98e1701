//! Rows read by column name, each value through a fallible decoder.
//!
//! A value that no version of Hinomi writes (an unknown status, a time
//! that is not a number, a list that is not JSON) is an error naming the
//! table, the column and the value, never a silent default: a request that
//! meets it answers 500 and the log says which row to look at.

use std::sync::Arc;

use jiff::Timestamp;
use model::Level;

use super::StateError;
use super::db::Val;

/// One row of a query's answer, with its columns' names.
#[derive(Debug, Clone)]
pub struct Row {
    pub(crate) columns: Arc<[String]>,
    pub(crate) values: Vec<Val>,
}

impl Row {
    /// The value of column `name`, decoded as `T`.
    pub(crate) fn get<T: Decode>(&self, name: &str) -> Result<T, StateError> {
        let at = self
            .columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| StateError::Internal(format!("a query gave no column `{name}`")))?;
        let value = &self.values[at];
        T::decode(value)
            .map_err(|why| StateError::Internal(format!("corrupt row: column `{name}` holds {value}: {why}")))
    }
}

/// The id an `INSERT ... RETURNING id` gave.
pub(crate) fn returned_id(rows: &[Row]) -> Result<i64, StateError> {
    rows.first().ok_or_else(|| StateError::Internal("an insert returned no id".into()))?.get("id")
}

/// A row whose values decode but do not fit together: `why`, with the
/// table it came from.
pub(crate) fn corrupt(table: &str, why: impl std::fmt::Display) -> StateError {
    StateError::Internal(format!("corrupt row in {table}: {why}"))
}

/// How a column's value becomes a Rust value, or why it cannot.
pub(crate) trait Decode: Sized {
    fn decode(v: &Val) -> Result<Self, String>;
}

impl Decode for i64 {
    fn decode(v: &Val) -> Result<i64, String> {
        match v {
            Val::Int(i) => Ok(*i),
            // SQLite hands back whatever was stored; a float that is a whole number is one.
            Val::Real(r) if r.fract() == 0.0 && r.abs() < 9.0e15 => Ok(*r as i64),
            _ => Err("expected an integer".into()),
        }
    }
}

impl Decode for f64 {
    fn decode(v: &Val) -> Result<f64, String> {
        match v {
            Val::Real(r) => Ok(*r),
            Val::Int(i) => Ok(*i as f64),
            _ => Err("expected a number".into()),
        }
    }
}

impl Decode for String {
    fn decode(v: &Val) -> Result<String, String> {
        match v {
            Val::Text(s) => Ok(s.clone()),
            _ => Err("expected text".into()),
        }
    }
}

impl Decode for bool {
    fn decode(v: &Val) -> Result<bool, String> {
        match i64::decode(v)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err("expected 0 or 1".into()),
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(v: &Val) -> Result<Option<T>, String> {
        match v {
            Val::Null => Ok(None),
            v => T::decode(v).map(Some),
        }
    }
}

/// Times are Unix microseconds.
impl Decode for Timestamp {
    fn decode(v: &Val) -> Result<Timestamp, String> {
        Timestamp::from_microsecond(i64::decode(v)?).map_err(|e| format!("not a time: {e}"))
    }
}

/// Severities are their rank, 0 (informational) to 4 (critical).
impl Decode for Level {
    fn decode(v: &Val) -> Result<Level, String> {
        let rank = i64::decode(v)?;
        usize::try_from(rank).ok().and_then(|r| Level::ALL.get(r).copied()).ok_or_else(|| "not a severity rank".into())
    }
}

/// Values stored by their names (`status`, `disposition`, roles).
macro_rules! by_name {
    ($($t:ty),*) => {$(
        impl Decode for $t {
            fn decode(v: &Val) -> Result<$t, String> {
                String::decode(v)?.parse::<$t>().map_err(|e| e.to_string())
            }
        }
    )*};
}

by_name!(soc::Status, soc::Disposition, soc::EntityKind);

impl Decode for access::Scope {
    fn decode(v: &Val) -> Result<access::Scope, String> {
        access::Scope::parse(&String::decode(v)?)
    }
}

/// A column holding JSON text.
pub(crate) struct Json<T>(pub(crate) T);

impl<T: serde::de::DeserializeOwned> Decode for Json<T> {
    fn decode(v: &Val) -> Result<Json<T>, String> {
        serde_json::from_str(&String::decode(v)?).map(Json).map_err(|e| format!("not the JSON expected: {e}"))
    }
}

impl std::fmt::Display for Val {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const MAX: usize = 80;
        match self {
            Val::Null => f.write_str("NULL"),
            Val::Int(i) => write!(f, "{i}"),
            Val::Real(r) => write!(f, "{r}"),
            Val::Text(s) if s.chars().count() > MAX => {
                write!(f, "{:?}…", s.chars().take(MAX).collect::<String>())
            }
            Val::Text(s) => write!(f, "{s:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, Val)]) -> Row {
        Row {
            columns: pairs.iter().map(|(c, _)| c.to_string()).collect::<Vec<_>>().into(),
            values: pairs.iter().map(|(_, v)| v.clone()).collect(),
        }
    }

    #[test]
    fn values_decode_or_say_why_not() {
        let r = row(&[
            ("status", Val::Text("investigating".into())),
            ("bad_status", Val::Text("bogus".into())),
            ("at", Val::Int(1_700_000_000_000_000)),
            ("level", Val::Int(4)),
            ("rank", Val::Int(9)),
            ("none", Val::Null),
            ("list", Val::Text("[\"a\"]".into())),
            ("broken", Val::Text("[\"a\"".into())),
        ]);
        assert_eq!(r.get::<soc::Status>("status").unwrap(), soc::Status::Investigating);
        assert_eq!(r.get::<Level>("level").unwrap(), Level::Critical);
        assert_eq!(r.get::<Option<Timestamp>>("none").unwrap(), None);
        assert_eq!(r.get::<Timestamp>("at").unwrap().as_second(), 1_700_000_000);
        assert_eq!(r.get::<Json<Vec<String>>>("list").unwrap().0, ["a"]);
        for (column, why) in [
            ("bad_status", "column `bad_status` holds \"bogus\""),
            ("rank", "not a severity rank"),
            ("none", "expected an integer"),
            ("broken", "not the JSON expected"),
            ("missing", "no column `missing`"),
        ] {
            let err = match column {
                "bad_status" => r.get::<soc::Status>(column).map(|_| ()),
                "broken" => r.get::<Json<Vec<String>>>(column).map(|_| ()),
                _ => r.get::<Level>(column).map(|_| ()),
            }
            .unwrap_err()
            .to_string();
            assert!(err.contains(why), "{column}: {err}");
        }
    }
}
