//! `Cache-Control` values from a JWKS response: must never panic, and a parsed lifetime is the
//! smallest `max-age` the value states (so a server can only shorten, never stretch, by repeating).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let parsed = sigil_verify::remote::parse_cache_control(text);
        if let Some(age) = parsed {
            let doubled = format!("{text}, {text}");
            assert_eq!(sigil_verify::remote::parse_cache_control(&doubled), Some(age));
        }
    }
});
