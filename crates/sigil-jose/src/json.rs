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

/// Receives the members of an object parsed by [`visit_object`], one at a time.
pub(crate) trait Members<'de> {
    /// Reads the member's value from `access` (with [`read_value`] or [`skip_value`]) and keeps
    /// what it needs. Must fail on a duplicate name.
    fn member<A: MapAccess<'de>>(&mut self, name: Key<'de>, access: &mut A)
    -> Result<(), A::Error>;
}

/// Reads a member value strictly into a [`Value`].
pub(crate) fn read_value<'de, A: MapAccess<'de>>(access: &mut A) -> Result<Value, A::Error> {
    access.next_value_seed(StrictValue { depth: 1 })
}

/// Checks a member value strictly (duplicates, depth) without building it.
pub(crate) fn skip_value<'de, A: MapAccess<'de>>(access: &mut A) -> Result<(), A::Error> {
    access.next_value_seed(StrictSkip { depth: 1 })
}

/// The error a [`Members`] implementation returns for a repeated name.
pub(crate) fn duplicate<E: de::Error>(name: &str) -> E {
    E::custom(format!("duplicate member {name:?}"))
}

/// Valid JSON `text` without the whitespace between its tokens: the same document, members in
/// the same order, numbers and strings exactly as written (no number is re-encoded, so none loses
/// precision). For text already checked to be JSON; other input is not made valid.
pub(crate) fn compact(text: &[u8]) -> String {
    let mut out = Vec::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in text {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            in_string = b == b'"';
            out.push(b);
        }
    }
    // Only ASCII whitespace outside strings was dropped, so UTF-8 input stays UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Parses `bytes` as one JSON object in a single pass, handing each member to `sink`. Trailing
/// data is rejected; `Ok(None)` means valid JSON that is not an object.
pub(crate) fn visit_object<'de, S: Members<'de>>(
    bytes: &'de [u8],
    sink: S,
) -> Result<S, JsonError> {
    let syntax = |e: serde_json::Error| JsonError::Syntax(e.to_string());
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let out = de.deserialize_any(ObjectVisitor { sink }).map_err(syntax)?;
    de.end().map_err(syntax)?;
    out.ok_or(JsonError::NotAnObject)
}

struct ObjectVisitor<S> {
    sink: S,
}

/// A member name, borrowed from the input when it has no escapes.
#[derive(PartialEq, Eq, Hash)]
pub(crate) struct Key<'de>(pub(crate) std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// Names already seen in one object: a short list, or a hash set once the object is large, so
/// that duplicate detection stays linear.
#[derive(Default)]
pub(crate) struct SeenNames<'de> {
    few: Vec<Key<'de>>,
    many: std::collections::HashSet<Key<'de>>,
}

impl<'de> SeenNames<'de> {
    /// Records `name`; false when it was already there.
    pub(crate) fn insert(&mut self, name: Key<'de>) -> bool {
        if !self.many.is_empty() {
            return self.many.insert(name);
        }
        if self.few.contains(&name) {
            return false;
        }
        self.few.push(name);
        if self.few.len() > 32 {
            self.many.extend(self.few.drain(..));
        }
        true
    }
}

macro_rules! not_an_object {
    ($($method:ident: $ty:ty),*) => {
        $(
            fn $method<E>(self, _: $ty) -> Result<Self::Value, E> {
                Ok(None)
            }
        )*
    };
}

impl<'de, S: Members<'de>> Visitor<'de> for ObjectVisitor<S> {
    type Value = Option<S>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    not_an_object!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str);

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // Still read it through, strictly, so that syntax errors win over "not an object".
        while seq.next_element_seed(StrictSkip { depth: 1 })?.is_some() {}
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut access: A) -> Result<Self::Value, A::Error> {
        while let Some(key) = access.next_key::<Key<'de>>()? {
            self.sink.member(key, &mut access)?;
        }
        Ok(Some(self.sink))
    }
}

/// Validates a value like [`StrictValue`] but builds nothing.
struct StrictSkip {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for StrictSkip {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictSkip {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        if v.is_finite() {
            Ok(())
        } else {
            Err(E::custom("number is not finite"))
        }
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.depth >= MAX_DEPTH {
            return Err(de::Error::custom(format!(
                "nesting deeper than {MAX_DEPTH}"
            )));
        }
        while seq
            .next_element_seed(StrictSkip {
                depth: self.depth + 1,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        if self.depth >= MAX_DEPTH {
            return Err(de::Error::custom(format!(
                "nesting deeper than {MAX_DEPTH}"
            )));
        }
        let mut seen = SeenNames::default();
        while let Some(key) = access.next_key::<Key<'de>>()? {
            if !seen.insert(Key(key.0.clone())) {
                return Err(duplicate(&key.0));
            }
            access.next_value_seed(StrictSkip {
                depth: self.depth + 1,
            })?;
        }
        Ok(())
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
    fn compact_keeps_every_token_as_written() {
        let text = "{ \"a\" :\t1.50,\r\n \"s\": \"x y\\\" \\\\\" , \"n\":[ 1e400 , -0 ],\n\"\u{e9}\" : {} }";
        assert_eq!(
            compact(text.as_bytes()),
            "{\"a\":1.50,\"s\":\"x y\\\" \\\\\",\"n\":[1e400,-0],\"\u{e9}\":{}}"
        );
        assert_eq!(compact(b"{}"), "{}");
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
