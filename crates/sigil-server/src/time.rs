//! Time as Sigil reads and writes it: a replaceable clock, and the ISO-8601 form Better Auth uses
//! on the wire and in SQLite.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};

/// The clock the server reads; tests replace it to control expiry and rotation.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The system clock.
pub(crate) fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// ISO-8601 with milliseconds and `Z`, as JavaScript's `Date.toJSON` writes it.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads an RFC 3339 time (any offset) as UTC.
pub(crate) fn parse_iso(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trips_with_milliseconds() {
        let t = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        assert_eq!(iso(t), "2023-11-14T22:13:20.123Z");
        assert_eq!(parse_iso(&iso(t)).unwrap(), t);
        assert!(parse_iso("yesterday").is_err());
    }
}
