//! Strict JSON objects: duplicate member names (after unescaping) and deep nesting are rejected.
//!
//! serde_json silently keeps the last of duplicate members; RFC 7515 §5.2 lets a JWS
//! implementation either reject or take the last one, and taking one is how header/claim confusion
//! attacks work. So headers, claims and JWKs go through this parser instead.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Deepest nesting of arrays and objects accepted in a header, claims set or JWK.
pub const MAX_DEPTH: usize = 32;

/// Why bytes are not a strict JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    /// Not JSON, or JSON with duplicate members or too deep nesting.
    Syntax(String),
    /// Valid JSON, but not an object.
    NotAnObject,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::Syntax(msg) => f.write_str(msg),
            JsonError::NotAnObject => f.write_str("not a JSON object"),
        }
    }
}

/// Parses `bytes` as one JSON object, rejecting duplicates, nesting deeper than [`MAX_DEPTH`]
/// and anything after the object.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, JsonError> {
    let syntax = |e: serde_json::Error| JsonError::Syntax(e.to_string());
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue { depth: 0 }
        .deserialize(&mut de)
        .map_err(syntax)?;
    de.end().map_err(syntax)?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(JsonError::NotAnObject),
    }
}

struct StrictValue {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl StrictValue {
    fn nested<E: de::Error>(&self) -> Result<StrictValue, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom(format!("nesting deeper than {MAX_DEPTH}")));
        }
        Ok(StrictValue {
            depth: self.depth + 1,
        })
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(StrictValue { depth: inner.depth })? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate member {key:?}")));
            }
            let value = access.next_value_seed(StrictValue { depth: inner.depth })?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_objects() {
        let m = parse_object(br#" { "a" : 1, "b": [true, null, {"c": "d"}] } "#).unwrap();
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn rejects_duplicates_even_when_escaped() {
        assert!(parse_object(br#"{"alg":"ES256","alg":"none"}"#).is_err());
        assert!(parse_object(br#"{"alg":"ES256","a\u006cg":"none"}"#).is_err());
        assert!(parse_object(br#"{"x":{"k":1,"k":2}}"#).is_err());
    }

    #[test]
    fn rejects_non_objects_and_garbage() {
        for bad in [
            &b"[1]"[..],
            b"\"s\"",
            b"null",
            b"{} x",
            b"{}{}",
            b"\xef\xbb\xbf{}",
            b"{\"a\":NaN}",
            b"{\"a\":\"\\ud800\"}",
            b"{\"a\":\"\xff\"}",
            b"",
        ] {
            assert!(
                parse_object(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn depth_is_bounded() {
        let deep = format!(
            "{{\"a\":{}1{}}}",
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        );
        assert!(parse_object(deep.as_bytes()).is_err());
        let ok = format!(
            "{{\"a\":{}1{}}}",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        assert!(parse_object(ok.as_bytes()).is_ok());
        let huge = format!("{{\"a\":{}}}", "[".repeat(100_000));
        assert!(parse_object(huge.as_bytes()).is_err());
    }
}
