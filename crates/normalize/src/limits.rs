//! What one record may hold. Records are written by whoever can send
//! logs; a record past these limits is refused with the limit it broke
//! (the caller keeps it as a dead letter) rather than parsed into an
//! event that every later stage would pay for.
//!
//! The limits are far above what real sources send (a Windows event has
//! about a hundred fields, CloudTrail rarely nests ten deep) and close to
//! Elasticsearch's defaults (1,000 mapped fields and 20 levels per index).

use model::{Event, Value};

/// Fields per event, after nested objects are flattened.
pub const MAX_FIELDS: usize = 10_000;
/// Levels of nested JSON objects and arrays.
pub const MAX_DEPTH: usize = 32;
/// Bytes of one field's value (an array's items counted together).
pub const MAX_VALUE_BYTES: usize = 4 << 20;

/// Checks `text`, a JSON document, for nesting deeper than [`MAX_DEPTH`]
/// before it is parsed: one pass over the bytes, strings skipped.
pub(crate) fn depth(text: &str) -> Result<(), String> {
    let mut level = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (at, b) in text.bytes().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                level += 1;
                if level > MAX_DEPTH {
                    return Err(format!("nested more than {MAX_DEPTH} levels deep (at byte {at})"));
                }
            }
            b'}' | b']' => level = level.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Checks a parsed event's width and value sizes.
pub(crate) fn check(event: &Event) -> Result<(), String> {
    let fields = event.fields();
    if fields.len() > MAX_FIELDS {
        return Err(format!("{} fields (at most {MAX_FIELDS})", fields.len()));
    }
    for (name, value) in fields {
        let size = size(value);
        if size > MAX_VALUE_BYTES {
            return Err(format!("field `{}` holds {size} bytes (at most {MAX_VALUE_BYTES})", shorten(name)));
        }
    }
    Ok(())
}

fn size(value: &Value) -> usize {
    match value {
        Value::Str(s) => s.len(),
        Value::Array(items) => items.iter().map(size).sum(),
        _ => 8,
    }
}

/// A sender's field name, cut for an error message.
fn shorten(name: &str) -> String {
    const MAX: usize = 80;
    if name.len() <= MAX {
        return name.to_string();
    }
    let mut end = MAX;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &name[..end])
}
