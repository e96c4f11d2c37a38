//! JWS algorithms: which ones exist here, and what each needs of a key.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::signature::{self, VerificationAlgorithm};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// An asymmetric JWS algorithm.
///
/// There is deliberately no `none` and no HMAC variant: a token naming one of those can never be
/// verified by this crate, whatever the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Alg {
    /// Ed25519 (RFC 8037). The default for new Sigil keys.
    EdDSA,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384 (verification only).
    ES384,
    /// ECDSA P-521 with SHA-512.
    ES512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384 (verification only).
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512 (verification only).
    RS512,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, salt 32.
    PS256,
    /// RSASSA-PSS with SHA-384 (verification only).
    PS384,
    /// RSASSA-PSS with SHA-512 (verification only).
    PS512,
}

/// The elliptic curves used by the `ES*` algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Curve {
    /// NIST P-256 (`"P-256"`).
    P256,
    /// NIST P-384 (`"P-384"`).
    P384,
    /// NIST P-521 (`"P-521"`).
    P521,
}

impl Curve {
    /// The JWK `crv` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    /// Length in bytes of one coordinate (and of the private scalar).
    pub fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Curve> {
        match name {
            "P-256" => Some(Curve::P256),
            "P-384" => Some(Curve::P384),
            "P-521" => Some(Curve::P521),
            _ => None,
        }
    }

    /// The signing algorithm that uses this curve.
    pub fn alg(self) -> Alg {
        match self {
            Curve::P256 => Alg::ES256,
            Curve::P384 => Alg::ES384,
            Curve::P521 => Alg::ES512,
        }
    }
}

/// What kind of key an algorithm needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Ed25519,
    Ec(Curve),
    Rsa,
}

impl Alg {
    /// Every algorithm this crate can verify.
    pub const ALL: [Alg; 10] = [
        Alg::EdDSA,
        Alg::ES256,
        Alg::ES384,
        Alg::ES512,
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
    ];

    /// The algorithms Sigil issues tokens with (and can generate keys for).
    pub const SIGNING: [Alg; 5] = [Alg::EdDSA, Alg::ES256, Alg::ES512, Alg::PS256, Alg::RS256];

    /// The registered JOSE name (`"EdDSA"`, `"ES256"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::EdDSA => "EdDSA",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::ES512 => "ES512",
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
        }
    }

    /// Whether Sigil signs with this algorithm (the others are for verifying foreign tokens).
    pub fn can_sign(self) -> bool {
        Alg::SIGNING.contains(&self)
    }

    /// The curve of an `ES*` algorithm.
    pub fn curve(self) -> Option<Curve> {
        match self.key_kind() {
            KeyKind::Ec(c) => Some(c),
            _ => None,
        }
    }

    /// Whether this is an RSA algorithm (`RS*` or `PS*`).
    pub fn is_rsa(self) -> bool {
        self.key_kind() == KeyKind::Rsa
    }

    pub(crate) fn key_kind(self) -> KeyKind {
        match self {
            Alg::EdDSA => KeyKind::Ed25519,
            Alg::ES256 => KeyKind::Ec(Curve::P256),
            Alg::ES384 => KeyKind::Ec(Curve::P384),
            Alg::ES512 => KeyKind::Ec(Curve::P521),
            _ => KeyKind::Rsa,
        }
    }

    pub(crate) fn verification(self) -> &'static dyn VerificationAlgorithm {
        match self {
            Alg::EdDSA => &signature::ED25519,
            Alg::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            Alg::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
            Alg::ES512 => &signature::ECDSA_P521_SHA512_FIXED,
            Alg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Alg::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Alg::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Alg::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Alg::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Alg::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        }
    }

    pub(crate) fn rsa_params(self) -> Option<&'static signature::RsaParameters> {
        match self {
            Alg::RS256 => Some(&signature::RSA_PKCS1_2048_8192_SHA256),
            Alg::RS384 => Some(&signature::RSA_PKCS1_2048_8192_SHA384),
            Alg::RS512 => Some(&signature::RSA_PKCS1_2048_8192_SHA512),
            Alg::PS256 => Some(&signature::RSA_PSS_2048_8192_SHA256),
            Alg::PS384 => Some(&signature::RSA_PSS_2048_8192_SHA384),
            Alg::PS512 => Some(&signature::RSA_PSS_2048_8192_SHA512),
            _ => None,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Alg {
    type Err = Error;

    /// Exact, case-sensitive parse. `none` and `HS*` are rejected like any unknown name.
    fn from_str(s: &str) -> Result<Self, Error> {
        Alg::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| Error::AlgNotAllowed(format!("{s:?} is not a supported algorithm")))
    }
}

impl Serialize for Alg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Alg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_is_exact() {
        for a in Alg::ALL {
            assert_eq!(a.as_str().parse::<Alg>().unwrap(), a);
            assert!(a.as_str().to_lowercase().parse::<Alg>().is_err());
        }
        for bad in [
            "none", "None", "NONE", "HS256", "HS384", "HS512", "", "ES521", "EdDSA ",
        ] {
            assert_eq!(
                bad.parse::<Alg>().unwrap_err().code(),
                "alg_not_allowed",
                "{bad}"
            );
        }
    }

    #[test]
    fn signing_set() {
        assert_eq!(Alg::SIGNING.iter().filter(|a| a.can_sign()).count(), 5);
        assert!(!Alg::ES384.can_sign());
    }
}
