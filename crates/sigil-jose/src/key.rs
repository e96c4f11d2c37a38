//! Public keys and key pairs: generation, JWK and PEM import/export, RFC 7638 thumbprints.
//!
//! A key is bound to the algorithm its JWK names: an RSA key imported for RS256 never verifies a
//! PS256 signature. A public JWK without `alg` is bound by its type: an EC or OKP key to its
//! curve's one algorithm, an RSA key to the RSA algorithms (`RS*` and `PS*`) and nothing else.
//! Keys are parsed once into the backend's representation, so signing and verifying never
//! re-parse key material.

use std::fmt;

use aws_lc_rs::encoding::{AsBigEndian, AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents as RsaPublicComponents};
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair as _, ParsedPublicKey,
    RsaEncoding, RsaKeyPair,
};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::alg::{Curve, KeyKind};
use crate::{Alg, Error, b64, json};

/// Private JWK members; their presence makes a JWK private.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// RSA moduli outside this range (bits) are refused on import.
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 8192;

/// The public half of a key, bound to one algorithm (or, for an RSA JWK without `alg`, to the RSA
/// algorithms), parsed once for fast verification.
#[derive(Clone)]
pub struct PublicKey {
    /// The one algorithm the key is bound to; `None` for an RSA JWK that named none.
    alg: Option<Alg>,
    kid: Option<String>,
    material: Material,
    /// The key parsed for each algorithm it may verify (one entry unless `alg` is `None`).
    parsed: Box<[(Alg, ParsedPublicKey)]>,
    signature_len: usize,
}

/// Public key material in JWK terms (big-endian, fixed length where the JWA requires it).
#[derive(Clone, PartialEq, Eq)]
enum Material {
    Ed25519 {
        x: Vec<u8>,
    },
    Ec {
        curve: Curve,
        x: Vec<u8>,
        y: Vec<u8>,
    },
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
}

impl PublicKey {
    /// A key bound to `alg`, or with `None` an RSA key for every RSA algorithm.
    fn from_material(
        alg: Option<Alg>,
        kid: Option<String>,
        material: Material,
    ) -> Result<Self, Error> {
        let algs: Vec<Alg> = match (alg, &material) {
            (Some(alg), _) => vec![alg],
            (None, Material::Rsa { .. }) => Alg::ALL.into_iter().filter(|a| a.is_rsa()).collect(),
            (None, _) => {
                return Err(Error::key(format!(
                    "an {} key needs an algorithm",
                    material.kty()
                )));
            }
        };
        let mut parsed = Vec::with_capacity(algs.len());
        let mut signature_len = 0;
        for alg in algs {
            let (key, len) = parse_material(alg, &material)?;
            parsed.push((alg, key));
            signature_len = len;
        }
        Ok(PublicKey {
            alg,
            kid,
            material,
            parsed: parsed.into_boxed_slice(),
            signature_len,
        })
    }

    /// Imports a public JWK given as JSON text. See [`PublicKey::from_jwk_value`].
    pub fn from_jwk(json_text: &str) -> Result<Self, Error> {
        let map = json::parse_object(json_text.as_bytes())
            .map_err(|e| Error::key(format!("JWK is not a JSON object: {e}")))?;
        Self::from_jwk_map(&map, None)
    }

    /// Imports a public JWK.
    ///
    /// The key is bound to the JWK's `alg` member; without one, an `OKP`/`EC` key is bound to its
    /// curve's algorithm, and an RSA key may verify every RSA algorithm (`RS*`, `PS*`) but nothing
    /// else, as panva's jose and Nimbus do (use [`PublicKey::from_jwk_value_for`] to bind it to one).
    /// Refused: private members, `use` other than `sig`, `key_ops` without `verify`, unknown or
    /// unsupported `alg`, `kty` or `crv`, `crv` that does not fit `alg`, EC points off the curve or
    /// of the wrong length, RSA moduli under 2048 bits, exponents under 65537 or even.
    pub fn from_jwk_value(jwk: &Value) -> Result<Self, Error> {
        let map = jwk
            .as_object()
            .ok_or_else(|| Error::key("JWK is not a JSON object"))?;
        Self::from_jwk_map(map, None)
    }

    /// Imports a public JWK for a given algorithm; a JWK `alg` member, if any, must equal it.
    pub fn from_jwk_value_for(jwk: &Value, alg: Alg) -> Result<Self, Error> {
        let map = jwk
            .as_object()
            .ok_or_else(|| Error::key("JWK is not a JSON object"))?;
        Self::from_jwk_map(map, Some(alg))
    }

    pub(crate) fn from_jwk_map(map: &Map<String, Value>, alg: Option<Alg>) -> Result<Self, Error> {
        if let Some(m) = PRIVATE_MEMBERS.iter().find(|m| map.contains_key(**m)) {
            return Err(Error::key(format!(
                "private member {m:?} where a public key is expected"
            )));
        }
        check_use(map)?;
        let parts = JwkParts::read(map, alg)?;
        Self::from_material(parts.alg, parts.kid, parts.material)
    }

    /// Imports a public key from a SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_spki_pem(pem: &str, alg: Alg) -> Result<Self, Error> {
        let der = pem_decode(pem, "PUBLIC KEY")?;
        Self::from_spki_der(&der, alg)
    }

    /// Imports a public key from SubjectPublicKeyInfo DER.
    pub fn from_spki_der(der: &[u8], alg: Alg) -> Result<Self, Error> {
        let material = spki_material(der)?;
        Self::from_material(Some(alg), None, material)
    }

    /// The SubjectPublicKeyInfo DER of this key.
    pub fn to_spki_der(&self) -> Result<Vec<u8>, Error> {
        let failed = || Error::Crypto("public key DER export failed".into());
        let (_, parsed) = self.parsed.first().ok_or_else(failed)?;
        let der = parsed.as_der().map_err(|_| failed())?;
        Ok(der.as_ref().to_vec())
    }

    /// The SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`) of this key.
    pub fn to_spki_pem(&self) -> Result<String, Error> {
        pem_encode("PUBLIC KEY", &self.to_spki_der()?)
    }

    /// The public JWK: `kty`, `kid` (when set), `alg` (when the key is bound to one), `use: "sig"`
    /// and the public members only.
    pub fn to_jwk(&self) -> Value {
        let mut map = self.material.public_members();
        if let Some(kid) = &self.kid {
            map.insert("kid".into(), Value::String(kid.clone()));
        }
        if let Some(alg) = self.alg {
            map.insert("alg".into(), Value::String(alg.as_str().into()));
        }
        map.insert("use".into(), Value::String("sig".into()));
        Value::Object(map)
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url): Sigil's `kid` for new keys.
    pub fn thumbprint(&self) -> String {
        self.material.thumbprint()
    }

    /// The algorithm this key is bound to; `None` for an RSA key imported from a JWK without
    /// `alg`, which may verify any RSA algorithm (see [`PublicKey::fits`]).
    pub fn alg(&self) -> Option<Alg> {
        self.alg
    }

    /// Whether this key may verify `alg` signatures: its own algorithm, or any `RS*`/`PS*` one for
    /// an RSA key without `alg`. Never across key types.
    pub fn fits(&self, alg: Alg) -> bool {
        self.parsed.iter().any(|(a, _)| *a == alg)
    }

    /// The algorithms this key may verify, in [`Alg::ALL`] order.
    pub fn algs(&self) -> impl Iterator<Item = Alg> + '_ {
        self.parsed.iter().map(|(a, _)| *a)
    }

    /// The key id, if the key has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Returns the same key under another key id.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Whether both keys have the same algorithm binding and key material (the `kid` is not
    /// compared).
    pub fn same_key_as(&self, other: &PublicKey) -> bool {
        self.alg == other.alg && self.material == other.material
    }

    /// Verifies a raw signature over `message` with the algorithm the key is bound to: exact
    /// length first, then the primitive. A key without one (see [`PublicKey::alg`]) refuses with
    /// [`Error::AlgNotAllowed`]: use [`PublicKey::verify_with`].
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), Error> {
        match self.alg {
            Some(alg) => self.verify_with(alg, message, signature),
            None => Err(Error::AlgNotAllowed(
                "the key is not bound to one algorithm; name it".into(),
            )),
        }
    }

    /// Verifies a raw signature over `message` made with `alg`, which the key must fit (see
    /// [`PublicKey::fits`]; otherwise [`Error::AlgNotAllowed`]): exact length first, then the
    /// primitive.
    pub fn verify_with(&self, alg: Alg, message: &[u8], signature: &[u8]) -> Result<(), Error> {
        let Some((_, parsed)) = self.parsed.iter().find(|(a, _)| *a == alg) else {
            return Err(Error::AlgNotAllowed(format!(
                "a {} key for {} cannot verify {alg}",
                self.material.kty(),
                self.algs_text()
            )));
        };
        if signature.len() != self.signature_len {
            return Err(Error::BadSignature);
        }
        parsed
            .verify_sig(message, signature)
            .map_err(|_| Error::BadSignature)
    }

    /// The algorithms the key fits, for messages: `"ES256"`, or `"RS256/…/PS512"`.
    pub(crate) fn algs_text(&self) -> String {
        self.algs().map(Alg::as_str).collect::<Vec<_>>().join("/")
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("thumbprint", &self.thumbprint())
            .finish()
    }
}

impl Material {
    fn kty(&self) -> &'static str {
        match self {
            Material::Ed25519 { .. } => "OKP",
            Material::Ec { .. } => "EC",
            Material::Rsa { .. } => "RSA",
        }
    }

    fn public_members(&self) -> Map<String, Value> {
        let mut map = Map::new();
        let mut put = |k: &str, v: String| {
            map.insert(k.to_owned(), Value::String(v));
        };
        put("kty", self.kty().to_owned());
        match self {
            Material::Ed25519 { x } => {
                put("crv", "Ed25519".into());
                put("x", b64::encode(x));
            }
            Material::Ec { curve, x, y } => {
                put("crv", curve.as_str().into());
                put("x", b64::encode(x));
                put("y", b64::encode(y));
            }
            Material::Rsa { n, e } => {
                put("n", b64::encode(n));
                put("e", b64::encode(e));
            }
        }
        map
    }

    fn thumbprint(&self) -> String {
        // RFC 7638 §3.2: required members only, lexicographic order, no whitespace. Every value
        // is a base64url string or a fixed curve name, so no JSON escaping can arise.
        let canonical = match self {
            Material::Ed25519 { x } => {
                format!(
                    r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                    b64::encode(x)
                )
            }
            Material::Ec { curve, x, y } => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                curve.as_str(),
                b64::encode(x),
                b64::encode(y)
            ),
            Material::Rsa { n, e } => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                b64::encode(e),
                b64::encode(n)
            ),
        };
        b64::encode(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()).as_ref(),
        )
    }
}

/// Parses public key material for `alg`: the backend's key and the exact signature length.
fn parse_material(alg: Alg, material: &Material) -> Result<(ParsedPublicKey, usize), Error> {
    Ok(match (material, alg.key_kind()) {
        (Material::Ed25519 { x }, KeyKind::Ed25519) => {
            if x.len() != 32 {
                return Err(Error::key("Ed25519 \"x\" must be 32 bytes"));
            }
            let parsed = ParsedPublicKey::new(&signature::ED25519, x)
                .map_err(|e| Error::key(format!("Ed25519 public key rejected: {e}")))?;
            (parsed, 64)
        }
        (Material::Ec { curve, x, y }, KeyKind::Ec(want)) => {
            if *curve != want {
                return Err(Error::key(format!(
                    "curve {} does not fit {alg}",
                    curve.as_str()
                )));
            }
            let len = curve.coordinate_len();
            if x.len() != len || y.len() != len {
                return Err(Error::key(format!(
                    "{} coordinates must be exactly {len} bytes",
                    curve.as_str()
                )));
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(0x04);
            point.extend_from_slice(x);
            point.extend_from_slice(y);
            let parsed = ParsedPublicKey::new(alg.verification(), &point)
                .map_err(|_| Error::key("EC point is not on the curve"))?;
            (parsed, 2 * len)
        }
        (Material::Rsa { n, e }, KeyKind::Rsa) => {
            check_rsa_public(n, e)?;
            let params = alg
                .rsa_params()
                .ok_or_else(|| Error::key("not an RSA algorithm"))?;
            let parsed = RsaPublicComponents {
                n: n.as_slice(),
                e: e.as_slice(),
            }
            .to_parsed_public_key(params)
            .map_err(|e| Error::key(format!("RSA public key rejected: {e}")))?;
            (parsed, n.len())
        }
        _ => {
            return Err(Error::key(format!(
                "a {} key cannot be used for {alg}",
                material.kty()
            )));
        }
    })
}

/// `use` must be `sig` when present; `key_ops`, when present, must allow verification.
fn check_use(map: &Map<String, Value>) -> Result<(), Error> {
    match map.get("use") {
        None => {}
        Some(Value::String(u)) if u == "sig" => {}
        Some(other) => return Err(Error::key(format!("\"use\" is {other}, not \"sig\""))),
    }
    match map.get("key_ops") {
        None => Ok(()),
        Some(Value::Array(ops)) => {
            if ops.iter().any(|o| !o.is_string()) {
                return Err(Error::key("\"key_ops\" must be an array of strings"));
            }
            if ops.iter().any(|o| o == "verify" || o == "sign") {
                Ok(())
            } else {
                Err(Error::key("\"key_ops\" does not allow \"verify\""))
            }
        }
        Some(_) => Err(Error::key("\"key_ops\" must be an array of strings")),
    }
}

/// The algorithm, kid and public material read from a JWK (public or private). `alg` is `None`
/// only for an RSA JWK without `alg` read without a wanted algorithm.
struct JwkParts {
    alg: Option<Alg>,
    kid: Option<String>,
    material: Material,
}

impl JwkParts {
    fn read(map: &Map<String, Value>, want: Option<Alg>) -> Result<Self, Error> {
        let kty = str_member(map, "kty")?.ok_or_else(|| Error::key("missing \"kty\""))?;
        let kid = str_member(map, "kid")?.map(str::to_owned);
        let declared = match str_member(map, "alg")? {
            Some(name) => Some(
                name.parse::<Alg>()
                    .map_err(|_| Error::key(format!("JWK \"alg\" {name:?} is not supported")))?,
            ),
            None => None,
        };
        if let (Some(d), Some(w)) = (declared, want)
            && d != w
        {
            return Err(Error::key(format!("JWK is for {d}, not {w}")));
        }
        let chosen = declared.or(want);
        let (material, implied) = match kty {
            "OKP" => {
                let crv = str_member(map, "crv")?.ok_or_else(|| Error::key("missing \"crv\""))?;
                if crv != "Ed25519" {
                    return Err(Error::key(format!("OKP curve {crv:?} is not supported")));
                }
                let x = b64_member(map, "x")?;
                (Material::Ed25519 { x }, Some(Alg::EdDSA))
            }
            "EC" => {
                let crv = str_member(map, "crv")?.ok_or_else(|| Error::key("missing \"crv\""))?;
                let curve = Curve::from_name(crv)
                    .ok_or_else(|| Error::key(format!("EC curve {crv:?} is not supported")))?;
                let x = b64_member(map, "x")?;
                let y = b64_member(map, "y")?;
                (Material::Ec { curve, x, y }, Some(curve.alg()))
            }
            "RSA" => {
                let n = strip_leading_zeros(b64_member(map, "n")?);
                let e = strip_leading_zeros(b64_member(map, "e")?);
                (Material::Rsa { n, e }, None)
            }
            other => return Err(Error::key(format!("key type {other:?} is not supported"))),
        };
        let alg = match (chosen, implied) {
            (Some(a), Some(i)) if a != i => {
                return Err(Error::key(format!(
                    "a {kty} key on this curve is for {i}, not {a}"
                )));
            }
            (Some(a), _) => Some(a),
            (None, Some(i)) => Some(i),
            (None, None) => None,
        };
        Ok(JwkParts { alg, kid, material })
    }
}

fn str_member<'a>(map: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, Error> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::key(format!("\"{name}\" must be a string"))),
    }
}

fn b64_member(map: &Map<String, Value>, name: &str) -> Result<Vec<u8>, Error> {
    let text = str_member(map, name)?.ok_or_else(|| Error::key(format!("missing \"{name}\"")))?;
    b64::decode(text).ok_or_else(|| Error::key(format!("\"{name}\" is not canonical base64url")))
}

fn private_b64_member(map: &Map<String, Value>, name: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    b64_member(map, name).map(Zeroizing::new)
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

fn bit_len(be: &[u8]) -> usize {
    match be.first() {
        None => 0,
        Some(first) => (be.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
    }
}

fn check_rsa_public(n: &[u8], e: &[u8]) -> Result<(), Error> {
    let bits = bit_len(n);
    if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
        return Err(Error::key(format!(
            "RSA modulus of {bits} bits; {RSA_MIN_BITS} to {RSA_MAX_BITS} are accepted"
        )));
    }
    // e must be odd and at least 65537; above 33 bits the backend refuses it anyway.
    let e_bits = bit_len(e);
    let e_odd = e.last().is_some_and(|b| b & 1 == 1);
    if !e_odd || !(17..=33).contains(&e_bits) {
        return Err(Error::key(
            "RSA public exponent must be odd, >= 65537 and <= 33 bits",
        ));
    }
    if roca_fingerprint(n) {
        return Err(Error::key(
            "RSA modulus has the ROCA fingerprint (CVE-2017-15361)",
        ));
    }
    Ok(())
}

/// Detects moduli generated by the Infineon library broken by ROCA (CVE-2017-15361): such a
/// modulus is congruent to a power of 65537 modulo each of these small primes, which a random
/// modulus is with negligible probability. Hand-written because it is a few lines of modular
/// arithmetic on small numbers and no maintained crate offers it.
fn roca_fingerprint(n: &[u8]) -> bool {
    const PRIMES: [u32; 38] = [
        3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
        97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
    ];
    PRIMES.iter().all(|&p| {
        let residue = n.iter().fold(0u32, |r, b| (r * 256 + u32::from(*b)) % p);
        let generator = 65_537 % p;
        let mut power = 1u32;
        for _ in 0..p {
            if power == residue {
                return true;
            }
            power = power * generator % p;
        }
        false
    })
}

fn spki_material(der: &[u8]) -> Result<Material, Error> {
    use spki::ObjectIdentifier;
    const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
    const EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
    const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
    const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

    let info = spki::SubjectPublicKeyInfoRef::try_from(der)
        .map_err(|e| Error::key(format!("not a SubjectPublicKeyInfo: {e}")))?;
    let bits = info
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| Error::key("public key bit string has unused bits"))?;
    let oid = info.algorithm.oid;
    if oid == ED25519 {
        Ok(Material::Ed25519 { x: bits.to_vec() })
    } else if oid == EC {
        let curve_oid: ObjectIdentifier = info
            .algorithm
            .parameters_oid()
            .map_err(|_| Error::key("EC key without a named curve"))?;
        let curve = match curve_oid {
            c if c == P256 => Curve::P256,
            c if c == P384 => Curve::P384,
            c if c == P521 => Curve::P521,
            _ => return Err(Error::key("EC curve is not supported")),
        };
        let len = curve.coordinate_len();
        match bits.split_first() {
            Some((0x04, xy)) if xy.len() == 2 * len => Ok(Material::Ec {
                curve,
                x: xy[..len].to_vec(),
                y: xy[len..].to_vec(),
            }),
            _ => Err(Error::key(
                "EC point must be uncompressed and of the curve's size",
            )),
        }
    } else if oid == RSA {
        let key = pkcs1::RsaPublicKey::<pkcs1::UintRef<'_>>::try_from(bits)
            .map_err(|e| Error::key(format!("bad RSAPublicKey: {e}")))?;
        Ok(Material::Rsa {
            n: key.modulus.as_bytes().to_vec(),
            e: key.public_exponent.as_bytes().to_vec(),
        })
    } else {
        Err(Error::key(format!("key algorithm {oid} is not supported")))
    }
}

fn pem_decode(pem: &str, label: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    let (found, der) = pem_rfc7468::decode_vec(pem.trim().as_bytes())
        .map_err(|e| Error::key(format!("not PEM: {e}")))?;
    let der = Zeroizing::new(der);
    if found != label {
        return Err(Error::key(format!(
            "PEM label is {found:?}, expected {label:?}"
        )));
    }
    Ok(der)
}

fn pem_encode(label: &str, der: &[u8]) -> Result<String, Error> {
    pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, der)
        .map_err(|e| Error::Crypto(format!("PEM encoding failed: {e}")))
}

/// A private key bound to one signing algorithm, with its public key and optional `kid`.
pub struct KeyPair {
    signer: Signer,
    alg: Alg,
    public: PublicKey,
}

enum Signer {
    Ed25519(Ed25519KeyPair),
    Ecdsa(EcdsaKeyPair),
    Rsa(RsaKeyPair, &'static dyn RsaEncoding),
}

fn ecdsa_signing(curve: Curve) -> &'static EcdsaSigningAlgorithm {
    match curve {
        Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
    }
}

fn rsa_encoding(alg: Alg) -> Result<&'static dyn RsaEncoding, Error> {
    match alg {
        Alg::RS256 => Ok(&signature::RSA_PKCS1_SHA256),
        Alg::PS256 => Ok(&signature::RSA_PSS_SHA256),
        other => Err(Error::AlgNotAllowed(format!(
            "Sigil does not sign with {other}"
        ))),
    }
}

fn require_signing(alg: Alg) -> Result<(), Error> {
    if alg.can_sign() {
        Ok(())
    } else {
        Err(Error::AlgNotAllowed(format!(
            "Sigil does not sign with {alg}"
        )))
    }
}

fn rejected(what: &str) -> impl Fn(aws_lc_rs::error::KeyRejected) -> Error + '_ {
    move |e| Error::key(format!("{what}: {e}"))
}

impl KeyPair {
    /// Generates a new key for `alg` (RSA: 2048 bits). Its `kid` is its RFC 7638 thumbprint.
    pub fn generate(alg: Alg) -> Result<Self, Error> {
        Self::generate_with_rsa_bits(alg, 2048)
    }

    /// Generates a new key; `rsa_bits` (2048, 3072, 4096 or 8192) applies to RS256/PS256 only.
    pub fn generate_with_rsa_bits(alg: Alg, rsa_bits: usize) -> Result<Self, Error> {
        require_signing(alg)?;
        let failed = |_| Error::Crypto(format!("{alg} key generation failed"));
        let signer = match alg.key_kind() {
            KeyKind::Ed25519 => Signer::Ed25519(Ed25519KeyPair::generate().map_err(failed)?),
            KeyKind::Ec(curve) => {
                Signer::Ecdsa(EcdsaKeyPair::generate(ecdsa_signing(curve)).map_err(failed)?)
            }
            KeyKind::Rsa => {
                let size = match rsa_bits {
                    2048 => KeySize::Rsa2048,
                    3072 => KeySize::Rsa3072,
                    4096 => KeySize::Rsa4096,
                    8192 => KeySize::Rsa8192,
                    other => {
                        return Err(Error::key(format!(
                            "RSA size {other} is not one of 2048, 3072, 4096, 8192"
                        )));
                    }
                };
                Signer::Rsa(
                    RsaKeyPair::generate(size).map_err(failed)?,
                    rsa_encoding(alg)?,
                )
            }
        };
        let pair = Self::assemble(alg, None, signer)?;
        let kid = pair.public.thumbprint();
        Ok(pair.with_kid(kid))
    }

    fn assemble(alg: Alg, kid: Option<String>, signer: Signer) -> Result<Self, Error> {
        let material = match &signer {
            Signer::Ed25519(kp) => Material::Ed25519 {
                x: kp.public_key().as_ref().to_vec(),
            },
            Signer::Ecdsa(kp) => {
                let curve = alg
                    .curve()
                    .ok_or_else(|| Error::key("not an EC algorithm"))?;
                let len = curve.coordinate_len();
                match kp.public_key().as_ref().split_first() {
                    Some((0x04, xy)) if xy.len() == 2 * len => Material::Ec {
                        curve,
                        x: xy[..len].to_vec(),
                        y: xy[len..].to_vec(),
                    },
                    _ => return Err(Error::Crypto("unexpected EC public key encoding".into())),
                }
            }
            Signer::Rsa(kp, _) => {
                let public = kp.public_key();
                Material::Rsa {
                    n: public.modulus().big_endian_without_leading_zero().to_vec(),
                    e: public.exponent().big_endian_without_leading_zero().to_vec(),
                }
            }
        };
        let public = PublicKey::from_material(Some(alg), kid, material)?;
        Ok(KeyPair {
            signer,
            alg,
            public,
        })
    }

    /// Imports an unencrypted PKCS#8 private key (DER) for `alg`.
    pub fn from_pkcs8_der(der: &[u8], alg: Alg) -> Result<Self, Error> {
        require_signing(alg)?;
        let signer = match alg.key_kind() {
            KeyKind::Ed25519 => Signer::Ed25519(
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                    .map_err(rejected("not an Ed25519 PKCS#8 key"))?,
            ),
            KeyKind::Ec(curve) => Signer::Ecdsa(
                EcdsaKeyPair::from_pkcs8(ecdsa_signing(curve), der)
                    .map_err(rejected("not a PKCS#8 key on this curve"))?,
            ),
            KeyKind::Rsa => Signer::Rsa(
                RsaKeyPair::from_pkcs8(der).map_err(rejected("not an RSA PKCS#8 key"))?,
                rsa_encoding(alg)?,
            ),
        };
        Self::assemble(alg, None, signer)
    }

    /// Imports a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`) for `alg`.
    pub fn from_pkcs8_pem(pem: &str, alg: Alg) -> Result<Self, Error> {
        let der = pem_decode(pem, "PRIVATE KEY")?;
        Self::from_pkcs8_der(&der, alg)
    }

    /// The PKCS#8 (v1) DER encoding of the private key.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        let failed = |_| Error::Crypto("PKCS#8 export failed".into());
        let der = match &self.signer {
            Signer::Ed25519(kp) => kp.to_pkcs8v1().map_err(failed)?.as_ref().to_vec(),
            Signer::Ecdsa(kp) => kp.to_pkcs8v1().map_err(failed)?.as_ref().to_vec(),
            Signer::Rsa(kp, _) => {
                let der: Pkcs8V1Der<'_> = kp.as_der().map_err(failed)?;
                der.as_ref().to_vec()
            }
        };
        Ok(Zeroizing::new(der))
    }

    /// The PKCS#8 PEM encoding of the private key.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, Error> {
        pem_encode("PRIVATE KEY", &self.to_pkcs8_der()?).map(Zeroizing::new)
    }

    /// Imports a private JWK given as JSON text. See [`KeyPair::from_jwk_value`].
    pub fn from_jwk(json_text: &str, alg: Option<Alg>) -> Result<Self, Error> {
        let map = json::parse_object(json_text.as_bytes())
            .map_err(|e| Error::key(format!("JWK is not a JSON object: {e}")))?;
        Self::from_jwk_map(&map, alg)
    }

    /// Imports a private JWK (`d`, and for RSA all of `p q dp dq qi`). `alg` binds the key when the
    /// JWK has no `alg` member (and must equal it when it has). The public members must match the
    /// private ones.
    pub fn from_jwk_value(jwk: &Value, alg: Option<Alg>) -> Result<Self, Error> {
        let map = jwk
            .as_object()
            .ok_or_else(|| Error::key("JWK is not a JSON object"))?;
        Self::from_jwk_map(map, alg)
    }

    fn from_jwk_map(map: &Map<String, Value>, alg: Option<Alg>) -> Result<Self, Error> {
        if map.contains_key("oth") {
            return Err(Error::key("multi-prime RSA keys are not supported"));
        }
        check_use(map)?;
        let parts = JwkParts::read(map, alg)?;
        let alg = parts.alg.ok_or_else(|| {
            Error::key("RSA JWK without \"alg\": RS256 or PS256 is ambiguous; name the algorithm")
        })?;
        require_signing(alg)?;
        let d = private_b64_member(map, "d")?;
        let signer = match &parts.material {
            Material::Ed25519 { x } => Signer::Ed25519(
                Ed25519KeyPair::from_seed_and_public_key(&d, x)
                    .map_err(rejected("Ed25519 \"d\" and \"x\" do not form a key pair"))?,
            ),
            Material::Ec { curve, x, y } => {
                if d.len() != curve.coordinate_len() {
                    return Err(Error::key(format!(
                        "EC \"d\" must be exactly {} bytes",
                        curve.coordinate_len()
                    )));
                }
                let mut point = vec![0x04];
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                Signer::Ecdsa(
                    EcdsaKeyPair::from_private_key_and_public_key(
                        ecdsa_signing(*curve),
                        &d,
                        &point,
                    )
                    .map_err(rejected("EC \"d\", \"x\" and \"y\" do not form a key pair"))?,
                )
            }
            Material::Rsa { n, e } => {
                check_rsa_public(n, e)?;
                let p = private_b64_member(map, "p")?;
                let q = private_b64_member(map, "q")?;
                let dp = private_b64_member(map, "dp")?;
                let dq = private_b64_member(map, "dq")?;
                let qi = private_b64_member(map, "qi")?;
                let components = aws_lc_rs::rsa::KeyPairComponents {
                    public_key: RsaPublicComponents {
                        n: n.as_slice(),
                        e: e.as_slice(),
                    },
                    d: d.as_slice(),
                    p: p.as_slice(),
                    q: q.as_slice(),
                    dP: dp.as_slice(),
                    dQ: dq.as_slice(),
                    qInv: qi.as_slice(),
                };
                Signer::Rsa(
                    RsaKeyPair::from_components(&components)
                        .map_err(rejected("RSA components do not form a key pair"))?,
                    rsa_encoding(alg)?,
                )
            }
        };
        Self::assemble(alg, parts.kid, signer)
    }

    /// The private JWK as JSON text, in the shape `jose`'s `exportJWK` produces (key type, curve,
    /// public and private members; no `alg`, `kid` or `use`), as Better Auth stores it.
    pub fn to_private_jwk(&self) -> Result<Zeroizing<String>, Error> {
        let mut map = self.public.material.public_members();
        let mut put = |k: &str, v: &[u8]| {
            map.insert(k.to_owned(), Value::String(b64::encode(v)));
        };
        let failed = |_| Error::Crypto("private key export failed".into());
        match &self.signer {
            Signer::Ed25519(kp) => {
                let seed = kp.seed().map_err(failed)?;
                let bin = seed.as_be_bytes().map_err(failed)?;
                put("d", bin.as_ref());
            }
            Signer::Ecdsa(kp) => {
                let bin = kp.private_key().as_be_bytes().map_err(failed)?;
                let len = self.alg.curve().map_or(0, Curve::coordinate_len);
                let mut d = Zeroizing::new(vec![0u8; len.saturating_sub(bin.as_ref().len())]);
                d.extend_from_slice(bin.as_ref());
                put("d", &d);
            }
            Signer::Rsa(..) => {
                let der = self.to_pkcs8_der()?;
                let info = pkcs8::PrivateKeyInfoRef::try_from(der.as_slice())
                    .map_err(|_| Error::Crypto("PKCS#8 re-parse failed".into()))?;
                let key = pkcs1::RsaPrivateKey::<pkcs1::UintRef<'_>>::try_from(
                    info.private_key.as_bytes(),
                )
                .map_err(|_| Error::Crypto("PKCS#1 re-parse failed".into()))?;
                put("d", key.private_exponent.as_bytes());
                put("p", key.prime1.as_bytes());
                put("q", key.prime2.as_bytes());
                put("dp", key.exponent1.as_bytes());
                put("dq", key.exponent2.as_bytes());
                put("qi", key.coefficient.as_bytes());
            }
        }
        let text = serde_json::to_string(&map)
            .map_err(|_| Error::Crypto("private JWK serialization failed".into()))?;
        Ok(Zeroizing::new(text))
    }

    /// The public half, with the same `kid`.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The key id, if set.
    pub fn kid(&self) -> Option<&str> {
        self.public.kid()
    }

    /// Returns the same key under another key id.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.public.kid = Some(kid.into());
        self
    }

    /// Signs `message` with this key's algorithm and returns the raw JWS signature (r‖s for
    /// ECDSA, modulus-length for RSA, 64 bytes for Ed25519).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let failed = |_| Error::Crypto("signing failed".into());
        match &self.signer {
            Signer::Ed25519(kp) => Ok(kp.sign(message).as_ref().to_vec()),
            Signer::Ecdsa(kp) => Ok(kp
                .sign(&SystemRandom::new(), message)
                .map_err(failed)?
                .as_ref()
                .to_vec()),
            Signer::Rsa(kp, encoding) => {
                let mut out = vec![0u8; kp.public_modulus_len()];
                kp.sign(*encoding, &SystemRandom::new(), message, &mut out)
                    .map_err(failed)?;
                Ok(out)
            }
        }
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_vectors() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/rfc/rfc-examples.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn round_trips_for_every_signing_alg() {
        for alg in Alg::SIGNING {
            let key = KeyPair::generate(alg).unwrap();
            assert_eq!(key.kid(), Some(key.public_key().thumbprint().as_str()));
            let sig = key.sign(b"message").unwrap();
            key.public_key().verify(b"message", &sig).unwrap();
            assert!(key.public_key().verify(b"messagE", &sig).is_err());

            // PKCS#8 DER and PEM
            let again = KeyPair::from_pkcs8_pem(&key.to_pkcs8_pem().unwrap(), alg).unwrap();
            assert!(again.public_key().same_key_as(key.public_key()));
            // private JWK
            let jwk = key.to_private_jwk().unwrap();
            let again = KeyPair::from_jwk(&jwk, Some(alg)).unwrap();
            assert!(again.public_key().same_key_as(key.public_key()));
            again
                .public_key()
                .verify(b"m", &key.sign(b"m").unwrap())
                .unwrap();
            // public JWK and SPKI
            let public = PublicKey::from_jwk_value(&key.public_key().to_jwk()).unwrap();
            assert!(public.same_key_as(key.public_key()));
            assert_eq!(public.kid(), key.kid());
            let spki =
                PublicKey::from_spki_pem(&key.public_key().to_spki_pem().unwrap(), alg).unwrap();
            assert!(spki.same_key_as(key.public_key()));
        }
    }

    #[test]
    fn emitted_public_jwk_has_exact_members() {
        for alg in Alg::SIGNING {
            let key = KeyPair::generate(alg).unwrap();
            let jwk = key.public_key().to_jwk();
            let mut names: Vec<_> = jwk.as_object().unwrap().keys().cloned().collect();
            names.sort();
            let want: &[&str] = match alg {
                Alg::EdDSA => &["alg", "crv", "kid", "kty", "use", "x"],
                Alg::ES256 | Alg::ES512 => &["alg", "crv", "kid", "kty", "use", "x", "y"],
                _ => &["alg", "e", "kid", "kty", "n", "use"],
            };
            assert_eq!(names, want, "{alg}");
            assert_eq!(jwk["use"], "sig");
            let len = |m: &str| jwk[m].as_str().unwrap().len();
            match alg {
                Alg::EdDSA | Alg::ES256 => assert_eq!(len("x"), 43),
                Alg::ES512 => assert_eq!((len("x"), len("y")), (88, 88)),
                _ => assert_eq!(len("n"), 342),
            }
        }
    }

    #[test]
    fn rsa_size_is_configurable() {
        let key = KeyPair::generate_with_rsa_bits(Alg::PS256, 3072).unwrap();
        assert_eq!(key.sign(b"x").unwrap().len(), 384);
        assert_eq!(
            KeyPair::generate_with_rsa_bits(Alg::RS256, 1024)
                .unwrap_err()
                .code(),
            "key_invalid"
        );
        assert_eq!(
            KeyPair::generate(Alg::ES384).unwrap_err().code(),
            "alg_not_allowed"
        );
    }

    #[test]
    fn rfc7638_thumbprints() {
        let v = rfc_vectors();
        for t in v["thumbprints"].as_array().unwrap() {
            let id = t["jwk_ref"].as_str().unwrap();
            let jwk = v["jwk"]
                .as_array()
                .unwrap()
                .iter()
                .chain(v["jws"].as_array().unwrap())
                .find(|e| e["id"] == id)
                .map(|e| e["jwk"].clone())
                .unwrap();
            let mut map = jwk.as_object().unwrap().clone();
            map.remove("d");
            let key = PublicKey::from_jwk_value_for(
                &Value::Object(map),
                match map_kty(&jwk) {
                    "RSA" => Alg::RS256,
                    _ => Alg::EdDSA,
                },
            )
            .unwrap();
            assert_eq!(key.thumbprint(), t["thumbprint"].as_str().unwrap(), "{id}");
        }
    }

    fn map_kty(jwk: &Value) -> &str {
        jwk["kty"].as_str().unwrap()
    }

    #[test]
    fn rsa_key_is_bound_to_one_alg() {
        let key = KeyPair::generate(Alg::RS256).unwrap();
        let sig = key.sign(b"m").unwrap();
        let mut jwk = key.public_key().to_jwk();
        jwk["alg"] = "PS256".into();
        let as_pss = PublicKey::from_jwk_value(&jwk).unwrap();
        assert_eq!(as_pss.verify(b"m", &sig).unwrap_err(), Error::BadSignature);
        jwk.as_object_mut().unwrap().remove("alg");
        let bound = PublicKey::from_jwk_value_for(&jwk, Alg::RS256).unwrap();
        assert_eq!(bound.alg(), Some(Alg::RS256));
        assert!(bound.fits(Alg::RS256) && !bound.fits(Alg::PS256));
        assert_eq!(
            bound
                .verify_with(Alg::PS256, b"m", &sig)
                .unwrap_err()
                .code(),
            "alg_not_allowed"
        );
        let mut jwk = key.public_key().to_jwk();
        jwk["alg"] = "RS256".into();
        assert!(PublicKey::from_jwk_value_for(&jwk, Alg::PS256).is_err());
    }

    #[test]
    fn rsa_jwk_without_alg_fits_the_rsa_algorithms_only() {
        let rs = KeyPair::generate(Alg::RS256).unwrap();
        let der = rs.to_pkcs8_der().unwrap();
        let ps = KeyPair::from_pkcs8_der(&der, Alg::PS256).unwrap();
        let mut jwk = rs.public_key().to_jwk();
        jwk.as_object_mut().unwrap().remove("alg");
        let key = PublicKey::from_jwk_value(&jwk).unwrap();
        assert_eq!(key.alg(), None);
        assert_eq!(key.algs_text(), "RS256/RS384/RS512/PS256/PS384/PS512");
        for alg in Alg::ALL {
            assert_eq!(key.fits(alg), alg.is_rsa(), "{alg}");
        }
        // Each signature verifies under its own algorithm only.
        let (pkcs1, pss) = (rs.sign(b"m").unwrap(), ps.sign(b"m").unwrap());
        key.verify_with(Alg::RS256, b"m", &pkcs1).unwrap();
        key.verify_with(Alg::PS256, b"m", &pss).unwrap();
        for (alg, sig) in [
            (Alg::RS256, &pss),
            (Alg::PS256, &pkcs1),
            (Alg::RS512, &pkcs1),
        ] {
            assert_eq!(
                key.verify_with(alg, b"m", sig).unwrap_err(),
                Error::BadSignature,
                "{alg}"
            );
        }
        for alg in [Alg::ES256, Alg::ES512, Alg::EdDSA] {
            assert_eq!(
                key.verify_with(alg, b"m", &pkcs1).unwrap_err().code(),
                "alg_not_allowed"
            );
        }
        // Without an algorithm named, nothing is verified.
        assert_eq!(
            key.verify(b"m", &pkcs1).unwrap_err().code(),
            "alg_not_allowed"
        );
        // Published again without `alg`; the same material, another binding.
        assert!(key.to_jwk().get("alg").is_none());
        let again = PublicKey::from_jwk_value(&key.to_jwk()).unwrap();
        assert!(again.same_key_as(&key) && !again.same_key_as(rs.public_key()));
        assert_eq!(
            key.to_spki_der().unwrap(),
            rs.public_key().to_spki_der().unwrap()
        );
        // A private RSA JWK still needs its algorithm named: signing is never a guess.
        let mut private: Value = serde_json::from_str(&rs.to_private_jwk().unwrap()).unwrap();
        private.as_object_mut().unwrap().remove("alg");
        assert_eq!(
            KeyPair::from_jwk_value(&private, None).unwrap_err().code(),
            "key_invalid"
        );
        assert!(KeyPair::from_jwk_value(&private, Some(Alg::PS256)).is_ok());
        // EC and OKP keys without `alg` are bound to their curve's algorithm.
        for alg in [Alg::EdDSA, Alg::ES256, Alg::ES512] {
            let mut jwk = KeyPair::generate(alg).unwrap().public_key().to_jwk();
            jwk.as_object_mut().unwrap().remove("alg");
            let key = PublicKey::from_jwk_value(&jwk).unwrap();
            assert_eq!(key.alg(), Some(alg));
            assert_eq!(key.algs().collect::<Vec<_>>(), vec![alg]);
        }
    }

    #[test]
    fn import_rejections() {
        let ec = KeyPair::generate(Alg::ES256).unwrap().public_key().to_jwk();
        let rsa = KeyPair::generate(Alg::RS256).unwrap().public_key().to_jwk();
        let ed = KeyPair::generate(Alg::EdDSA).unwrap().public_key().to_jwk();
        let with = |base: &Value, k: &str, v: Value| {
            let mut j = base.clone();
            j[k] = v;
            j
        };
        let without = |base: &Value, k: &str| {
            let mut j = base.clone();
            j.as_object_mut().unwrap().remove(k);
            j
        };
        let x = ec["x"].as_str().unwrap().to_owned();
        let mut x_off = b64::decode(&x).unwrap();
        x_off[31] ^= 1;
        let n = b64::decode(rsa["n"].as_str().unwrap()).unwrap();
        let cases = [
            ("private member", with(&ec, "d", "AAAA".into())),
            ("use enc", with(&ec, "use", "enc".into())),
            (
                "key_ops encrypt",
                with(&ec, "key_ops", serde_json::json!(["encrypt"])),
            ),
            ("unknown alg", with(&ec, "alg", "ES521".into())),
            ("none alg", with(&ec, "alg", "none".into())),
            ("crv/alg mismatch", with(&ec, "alg", "ES512".into())),
            ("wrong crv", with(&ec, "crv", "P-384".into())),
            ("wrong kty", with(&ec, "kty", "RSA".into())),
            ("oct", serde_json::json!({"kty":"oct","k":"AAAA"})),
            (
                "point off curve",
                with(&ec, "x", b64::encode(&x_off).into()),
            ),
            (
                "short coordinate",
                with(&ec, "x", b64::encode(&b64::decode(&x).unwrap()[1..]).into()),
            ),
            ("padded b64", with(&ec, "x", format!("{x}=").into())),
            ("missing y", without(&ec, "y")),
            ("x not a string", with(&ec, "x", 5.into())),
            ("Ed448", with(&ed, "crv", "Ed448".into())),
            ("Ed25519 short", with(&ed, "x", "AAAA".into())),
            ("EdDSA on EC", with(&ec, "alg", "EdDSA".into())),
            ("RSA 1024", with(&rsa, "n", b64::encode(&n[..128]).into())),
            ("RSA e=3", with(&rsa, "e", "Aw".into())),
            ("RSA e=1", with(&rsa, "e", "AQ".into())),
            ("RSA even e", with(&rsa, "e", "AQAC".into())),
            ("RSA for ES256", with(&rsa, "alg", "ES256".into())),
            (
                "RSA 1024 without alg",
                without(&with(&rsa, "n", b64::encode(&n[..128]).into()), "alg"),
            ),
            (
                "RSA e=3 without alg",
                without(&with(&rsa, "e", "Aw".into()), "alg"),
            ),
            (
                "RSA use enc without alg",
                without(&with(&rsa, "use", "enc".into()), "alg"),
            ),
            ("HS256 alg", with(&rsa, "alg", "HS256".into())),
            ("not an object", serde_json::json!(["kty"])),
        ];
        for (name, jwk) in cases {
            let err = PublicKey::from_jwk_value(&jwk).unwrap_err();
            assert_eq!(err.code(), "key_invalid", "{name}: {err}");
        }
        assert!(PublicKey::from_jwk("{\"kty\":\"EC\",\"kty\":\"EC\"}").is_err());
    }

    #[test]
    fn private_jwk_must_match_public_members() {
        let a = KeyPair::generate(Alg::ES256).unwrap();
        let b = KeyPair::generate(Alg::ES256).unwrap();
        let mut mixed: Value = serde_json::from_str(&a.to_private_jwk().unwrap()).unwrap();
        mixed["x"] = b.public_key().to_jwk()["x"].clone();
        mixed["y"] = b.public_key().to_jwk()["y"].clone();
        assert_eq!(
            KeyPair::from_jwk_value(&mixed, None).unwrap_err().code(),
            "key_invalid"
        );
    }

    #[test]
    fn generated_keys_have_no_roca_fingerprint() {
        for _ in 0..3 {
            let key = KeyPair::generate(Alg::RS256).unwrap();
            let n = b64::decode(key.public_key().to_jwk()["n"].as_str().unwrap()).unwrap();
            assert!(!roca_fingerprint(&n));
        }
    }
}
