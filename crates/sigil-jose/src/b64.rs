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
    // Unpadded base64 of n characters is exactly n * 3 / 4 bytes when valid; an exact buffer
    // spares the crate's over-estimate and a reallocation when the bytes are kept (payloads).
    let mut out = vec![0u8; text.len() / 4 * 3 + (text.len() % 4 * 3 / 4)];
    let len = URL_SAFE_NO_PAD.decode_slice(text, &mut out).ok()?;
    out.truncate(len);
    Some(out)
}

/// Decodes unpadded base64url into `out`, with the same strictness as [`decode`]; `None` when
/// invalid or when `out` is too small.
pub(crate) fn decode_into(text: &str, out: &mut [u8]) -> Option<usize> {
    URL_SAFE_NO_PAD.decode_slice(text, out).ok()
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

    #[test]
    fn decode_into_matches_decode() {
        let mut buf = [0u8; 8];
        assert_eq!(decode_into("Zm9vYg", &mut buf), Some(4));
        assert_eq!(&buf[..4], b"foob");
        assert_eq!(decode_into("Zm9", &mut buf), None);
        assert_eq!(decode_into("Zm9vYmFyYmF6", &mut buf), None); // 9 bytes do not fit
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
