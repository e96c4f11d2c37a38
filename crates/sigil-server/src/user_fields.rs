//! Additional user fields (`[[user_fields]]`): columns of the `user` table, as Better Auth's
//! `additionalFields` are, and the claims they may feed.

use serde::Deserialize;
use serde_json::Value;

/// The type of an additional user field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    /// Text.
    String,
    /// A whole number (32-bit, as Better Auth's `number` column on PostgreSQL).
    Number,
    /// A boolean.
    Boolean,
}

impl FieldKind {
    /// Parses a command-line value of this type (`null` clears it).
    pub fn parse(self, text: &str) -> Option<Value> {
        if text == "null" {
            return Some(Value::Null);
        }
        match self {
            FieldKind::String => Some(Value::String(text.to_owned())),
            FieldKind::Number => text.parse::<i32>().ok().map(Value::from),
            FieldKind::Boolean => text.parse::<bool>().ok().map(Value::Bool),
        }
    }

    /// Whether `value` has this type (null always fits).
    pub fn accepts(self, value: &Value) -> bool {
        matches!(
            (self, value),
            (_, Value::Null)
                | (FieldKind::String, Value::String(_))
                | (FieldKind::Number, Value::Number(_))
                | (FieldKind::Boolean, Value::Bool(_))
        )
    }
}

/// A validated additional user field. Its name is letters, digits and `_` (checked by the
/// configuration), which is what makes it safe to use as a column name in SQL.
#[derive(Clone, Debug, PartialEq)]
pub struct UserField {
    /// Column and JSON name.
    pub name: String,
    /// Type.
    pub kind: FieldKind,
    /// Default value (`null` when none). Users cannot set these fields themselves (a user must
    /// not pick their own role); `sigil user set` does.
    pub default: Value,
}
