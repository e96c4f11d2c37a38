//! Time spans in Better Auth's grammar: `"15m"`, `"7d"`, `"30 minutes"`, `"-1h"`, `"1h ago"`,
//! `"3h from now"`.
//!
//! Written by hand because the grammar is the contract (it is what Better Auth configurations and
//! `jose` accept), and no Rust crate parses exactly this language.

use crate::Error;

const MINUTE: f64 = 60.0;
const HOUR: f64 = 3_600.0;
const DAY: f64 = 86_400.0;
const WEEK: f64 = 604_800.0;
const MONTH: f64 = 30.0 * DAY;
const YEAR: f64 = 365.25 * DAY;

/// Parses a time span and returns it in whole seconds (negative for `-…` and `… ago`).
///
/// Grammar, case-insensitive: optional `+` or `-` (optionally followed by one space), a number
/// (`12` or `1.5`), an optional space, a unit (`s sec secs second seconds`, `m min mins minute
/// minutes`, `h hr hrs hour hours`, `d day days`, `w week weeks`, `mo month months` = 30 days,
/// `y yr yrs year years` = 365.25 days), and optionally ` ago` or ` from now` (not together with a
/// sign). The result is rounded to the nearest second, halves away from zero.
pub fn parse_time_span(input: &str) -> Result<i64, Error> {
    let invalid = || Error::InvalidTimeSpan(format!("{input:?} is not a time span like \"15m\""));
    let lower = input.to_ascii_lowercase();
    let mut rest = lower.as_str();

    let mut negative = false;
    let mut signed = false;
    if let Some(r) = rest.strip_prefix('-') {
        negative = true;
        signed = true;
        rest = r;
    } else if let Some(r) = rest.strip_prefix('+') {
        signed = true;
        rest = r;
    }
    if signed {
        rest = rest.strip_prefix(' ').unwrap_or(rest);
    }

    let mut suffix_ago = false;
    let mut suffixed = false;
    if let Some(r) = rest.strip_suffix(" ago") {
        suffix_ago = true;
        suffixed = true;
        rest = r;
    } else if let Some(r) = rest.strip_suffix(" from now") {
        suffixed = true;
        rest = r;
    }
    if signed && suffixed {
        return Err(invalid());
    }

    let number_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, unit) = rest.split_at(number_end);
    let unit = unit.strip_prefix(' ').unwrap_or(unit);
    if !is_decimal(number) {
        return Err(invalid());
    }
    let value: f64 = number.parse().map_err(|_| invalid())?;
    let unit_seconds = match unit {
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minute" | "minutes" => MINUTE,
        "h" | "hr" | "hrs" | "hour" | "hours" => HOUR,
        "d" | "day" | "days" => DAY,
        "w" | "week" | "weeks" => WEEK,
        "mo" | "month" | "months" => MONTH,
        "y" | "yr" | "yrs" | "year" | "years" => YEAR,
        _ => return Err(invalid()),
    };
    let seconds = (value * unit_seconds).round();
    // i64 bounds as f64; anything at or beyond them is not a usable span.
    if !seconds.is_finite() || seconds >= 9.0e18 {
        return Err(invalid());
    }
    #[allow(clippy::cast_possible_truncation)]
    let seconds = seconds as i64;
    Ok(if negative || suffix_ago {
        -seconds
    } else {
        seconds
    })
}

/// `digits` or `digits.digits`, nothing else.
fn is_decimal(s: &str) -> bool {
    let mut parts = s.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let ok = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    ok(whole) && parts.next().is_none_or(ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn better_auth_examples() {
        for (s, want) in [
            ("15m", 900),
            ("1h", 3600),
            ("7d", 604_800),
            ("30 minutes", 1800),
            ("2 weeks", 1_209_600),
            ("1y", 31_557_600),
            ("-1h", -3600),
            ("- 1h", -3600),
            ("+1h", 3600),
            ("1h ago", -3600),
            ("3h from now", 10_800),
            ("1.5h", 5400),
            ("1 MONTH", 2_592_000),
            ("2mo", 5_184_000),
            ("10 Seconds", 10),
            ("0s", 0),
            ("1.5s", 2),
            ("0.4s", 0),
        ] {
            assert_eq!(parse_time_span(s).unwrap(), want, "{s}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "invalid",
            "abc123",
            "15",
            "m",
            "1 h ",
            " 1h",
            "1  h",
            ".5h",
            "1.h",
            "1..5h",
            "-1h ago",
            "+1h from now",
            "1ms",
            "1hours ago ago",
            "1e3s",
            "--1h",
            "1h from",
            "99999999999999999999y",
            "١h",
        ] {
            let e = parse_time_span(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_time_span", "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,24}") {
            let _ = parse_time_span(&s);
        }

        #[test]
        fn minutes_scale(n in 0u32..1_000_000) {
            prop_assert_eq!(parse_time_span(&format!("{n}m")).unwrap(), i64::from(n) * 60);
            prop_assert_eq!(parse_time_span(&format!("{n} minutes ago")).unwrap(), -i64::from(n) * 60);
        }
    }
}
