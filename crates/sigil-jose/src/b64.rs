//! Strict base64url (RFC 7515 §2): no padding, no other alphabet, canonical trailing bits.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Encodes bytes as unpadded base64url.
pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Appends the unpadded base64url encoding of `bytes` to `out`.
pub(crate) fn encode_into(bytes: &[u8], out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(bytes, out);
}

/// Decodes unpadded base64url, rejecting padding, whitespace, `+`/`/` and non-zero trailing bits.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_lax_forms() {
        assert_eq!(decode("Zm9v").unwrap(), b"foo");
        assert_eq!(decode("").unwrap(), b"");
        for bad in [
            "Zm9v=", "Zm8=", "Zm9 v", "Zm9+", "Zm9/", "Zm9\n", "Zh", "Z", "Zm9vYg=",
        ] {
            assert!(decode(bad).is_none(), "{bad:?}");
        }
        // "Zm8" is "fo"; "Zm9" has non-zero trailing bits and is not canonical.
        assert_eq!(decode("Zm8").unwrap(), b"fo");
        assert!(decode("Zm9").is_none());
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(decode(&encode(&bytes)).unwrap(), bytes);
        }

        #[test]
        fn decode_is_canonical(text in "[A-Za-z0-9_-]{0,40}") {
            if let Some(bytes) = decode(&text) {
                prop_assert_eq!(encode(&bytes), text);
            }
        }
    }
}
