//! JSON straight into a flat [`Event`], without an intermediate tree.
//!
//! Nested objects become dotted names while parsing, exactly as
//! [`Event::from_json_flat`] flattens a parsed tree. Records shaped like a
//! Windows event (`Event.System` is an object) are reported so the caller can
//! take the Windows path instead.

use std::fmt;

use model::{Event, Value};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Parses one JSON object. `Ok(None)` means the object is a Windows record
/// and must be read with [`crate::windows::from_json`].
pub(crate) fn parse_object(text: &str) -> Result<Option<Event>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let mut event = Event::new();
    let mut windows = false;
    Object { event: &mut event, prefix: "", windows: &mut windows }.deserialize(&mut de)?;
    de.end()?;
    Ok((!windows).then_some(event))
}

struct Object<'a> {
    event: &'a mut Event,
    prefix: &'a str,
    windows: &'a mut bool,
}

impl<'de> DeserializeSeed<'de> for Object<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Object<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let name = if self.prefix.is_empty() { key.into_owned() } else { format!("{}.{key}", self.prefix) };
            if name == "Event.System" {
                *self.windows = true;
            }
            map.next_value_seed(Field { event: self.event, name, windows: self.windows })?;
        }
        Ok(())
    }
}

struct Field<'a> {
    event: &'a mut Event,
    name: String,
    windows: &'a mut bool,
}

impl<'de> DeserializeSeed<'de> for Field<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Field<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.event.push(self.name, Value::Bool(v));
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.event.push(self.name, Value::Int(v));
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        // Same rule as `Value::from_json`: integers beyond i64 are floats.
        let value = i64::try_from(v).map(Value::Int).unwrap_or(Value::Float(v as f64));
        self.event.push(self.name, value);
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.event.push(self.name, Value::Float(v));
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.event.push(self.name, Value::Str(v.into()));
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.event.push(self.name, Value::Null);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // Arrays are rare in logs; their elements go through the JSON tree.
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<serde_json::Value>()? {
            items.push(Value::from_json(&item));
        }
        self.event.push(self.name, Value::Array(items));
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        Object { event: self.event, prefix: &self.name, windows: self.windows }.visit_map(map)
    }
}
