//! The normalized core: source fields copied to their ECS names, from the
//! table in `data/ecs-fields.txt`. The original fields stay as they are, so
//! rules written against either name find the value.

use std::collections::HashMap;
use std::sync::OnceLock;

use model::Event;

type Table = HashMap<&'static str, Vec<(&'static str, &'static str)>>;

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| parse(include_str!("../data/ecs-fields.txt")).unwrap_or_default())
}

/// Parses the table; errors name the line.
pub(crate) fn parse(text: &'static str) -> Result<Table, String> {
    let mut out: Table = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        let [format, field, ecs] = cols[..] else {
            return Err(format!("ecs-fields.txt line {}: expected `format | field | ecs.name`", i + 1));
        };
        out.entry(format).or_default().push((field, ecs));
    }
    Ok(out)
}

/// Adds the ECS fields of `format` that `event` does not have yet.
pub(crate) fn apply(event: &mut Event, format: &str) {
    let Some(rows) = table().get(format) else { return };
    for &(field, ecs) in rows {
        if event.get(ecs).is_some() {
            continue;
        }
        if let Some(value) = event.get(field).cloned() {
            event.push(ecs, value);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn builtin_table_parses() {
        let table = super::parse(include_str!("../data/ecs-fields.txt")).unwrap();
        for format in ["cef", "leef", "kv", "cloudtrail", "zeek", "suricata", "windows", "json"] {
            assert!(table.contains_key(format), "no rows for {format}");
        }
    }
}
