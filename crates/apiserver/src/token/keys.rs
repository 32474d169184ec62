//! Signing and verification keys from PEM files, and the key ID Kubernetes derives from them.
//!
//! kubeadm's `sa.key` is an RSA key in PKCS#1 PEM; Go tooling also writes PKCS#8 and SEC1 ("EC
//! PRIVATE KEY"); `sa.pub` is a SubjectPublicKeyInfo ("PUBLIC KEY"). ring reads PKCS#1 and PKCS#8
//! private keys but takes public keys in their raw form, so the few DER structures needed here
//! (SubjectPublicKeyInfo, and PKCS#8 around a SEC1 key) are written and read by hand.

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{
    self, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RsaKeyPair,
};
use rustls_pemfile::Item;

use super::TokenError;

/// DER of OID 1.2.840.113549.1.1.1 (rsaEncryption).
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// DER of OID 1.2.840.10045.2.1 (id-ecPublicKey).
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// DER of OID 1.2.840.10045.3.1.7 (prime256v1, P-256).
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_NULL: u8 = 0x05;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;

/// The JWS algorithms Kubernetes signs ServiceAccount tokens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Algorithm {
    Rs256,
    Es256,
}

impl Algorithm {
    pub(super) fn name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Es256 => "ES256",
        }
    }
}

/// A private key that signs tokens.
pub(super) enum SigningKey {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
}

impl SigningKey {
    pub(super) fn algorithm(&self) -> Algorithm {
        match self {
            SigningKey::Rsa(_) => Algorithm::Rs256,
            SigningKey::Ecdsa(_) => Algorithm::Es256,
        }
    }

    /// The public half, in the raw form ring verifies with.
    pub(super) fn public(&self) -> PublicKey {
        match self {
            SigningKey::Rsa(pair) => {
                PublicKey::new(Algorithm::Rs256, pair.public().as_ref().to_vec())
            }
            SigningKey::Ecdsa(pair) => {
                PublicKey::new(Algorithm::Es256, pair.public_key().as_ref().to_vec())
            }
        }
    }

    pub(super) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, TokenError> {
        let rng = SystemRandom::new();
        match self {
            SigningKey::Rsa(pair) => {
                let mut signature = vec![0u8; pair.public().modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| TokenError::Sign("RSA signing failed".into()))?;
                Ok(signature)
            }
            SigningKey::Ecdsa(pair) => pair
                .sign(&rng, message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| TokenError::Sign("ECDSA signing failed".into())),
        }
    }
}

/// A public key that verifies tokens, with its Kubernetes key ID.
#[derive(Debug, Clone)]
pub(super) struct PublicKey {
    pub kid: String,
    pub algorithm: Algorithm,
    /// PKCS#1 RSAPublicKey for RSA, the uncompressed point for P-256.
    raw: Vec<u8>,
}

impl PublicKey {
    fn new(algorithm: Algorithm, raw: Vec<u8>) -> Self {
        let kid = key_id(&spki_der(algorithm, &raw));
        PublicKey {
            kid,
            algorithm,
            raw,
        }
    }

    pub(super) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let algorithm: &dyn signature::VerificationAlgorithm = match self.algorithm {
            Algorithm::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
        };
        signature::UnparsedPublicKey::new(algorithm, &self.raw)
            .verify(message, signature)
            .is_ok()
    }
}

/// Kubernetes' key ID: the SHA-256 of the DER SubjectPublicKeyInfo, base64url without padding.
fn key_id(spki: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, spki);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

fn pem_items(pem: &[u8]) -> Result<Vec<Item>, TokenError> {
    rustls_pemfile::read_all(&mut &pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TokenError::Key(format!("reading PEM data: {e}")))
}

/// The first private key in `pem`: RSA (PKCS#1 or PKCS#8) or ECDSA P-256 (SEC1 or PKCS#8).
pub(super) fn signing_key(pem: &[u8]) -> Result<SigningKey, TokenError> {
    for item in pem_items(pem)? {
        if matches!(
            item,
            Item::Pkcs1Key(_) | Item::Pkcs8Key(_) | Item::Sec1Key(_)
        ) {
            return signing_key_from_item(item);
        }
    }
    Err(TokenError::Key(
        "no RSA or EC private key found in PEM data".into(),
    ))
}

fn pkcs8_key(der: &[u8]) -> Result<SigningKey, TokenError> {
    if let Ok(pair) = RsaKeyPair::from_pkcs8(der) {
        return Ok(SigningKey::Rsa(pair));
    }
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &SystemRandom::new())
        .map(SigningKey::Ecdsa)
        .map_err(|e| {
            TokenError::Key(format!(
                "private key is neither RSA (2048 to 8192 bits) nor ECDSA P-256: {e}"
            ))
        })
}

/// Every public key in `pem`: SubjectPublicKeyInfo blocks, and the public half of private keys.
pub(super) fn public_keys(pem: &[u8]) -> Result<Vec<PublicKey>, TokenError> {
    let mut keys = Vec::new();
    for item in pem_items(pem)? {
        match item {
            Item::SubjectPublicKeyInfo(der) => {
                let (algorithm, raw) = parse_spki(der.as_ref()).map_err(TokenError::Key)?;
                keys.push(PublicKey::new(algorithm, raw));
            }
            item @ (Item::Pkcs1Key(_) | Item::Pkcs8Key(_) | Item::Sec1Key(_)) => {
                keys.push(signing_key_from_item(item)?.public());
            }
            _ => {}
        }
    }
    if keys.is_empty() {
        return Err(TokenError::Key(
            "data does not contain any valid RSA or ECDSA public keys".into(),
        ));
    }
    Ok(keys)
}

fn signing_key_from_item(item: Item) -> Result<SigningKey, TokenError> {
    match item {
        Item::Pkcs1Key(der) => RsaKeyPair::from_der(der.secret_pkcs1_der())
            .map(SigningKey::Rsa)
            .map_err(|e| TokenError::Key(format!("RSA private key rejected: {e}"))),
        Item::Pkcs8Key(der) => pkcs8_key(der.secret_pkcs8_der()),
        Item::Sec1Key(der) => pkcs8_key(&sec1_to_pkcs8(der.secret_sec1_der())),
        _ => Err(TokenError::Key("not a private key".into())),
    }
}

/// DER tag-length-value with a definite length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

/// Reads one DER element: its tag, its content, and what follows it.
fn read_tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let malformed = || "malformed DER in public key".to_string();
    let (&tag, rest) = input.split_first().ok_or_else(malformed)?;
    let (&first, rest) = rest.split_first().ok_or_else(malformed)?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let count = (first & 0x7f) as usize;
        if count == 0 || count > 4 || rest.len() < count {
            return Err(malformed());
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[count..])
    };
    if rest.len() < len {
        return Err(malformed());
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// The SubjectPublicKeyInfo Go's `x509.MarshalPKIXPublicKey` writes (RSA with NULL parameters).
fn spki_der(algorithm: Algorithm, raw: &[u8]) -> Vec<u8> {
    let algorithm_id = match algorithm {
        Algorithm::Rs256 => [tlv(TAG_OID, OID_RSA), tlv(TAG_NULL, &[])].concat(),
        Algorithm::Es256 => [tlv(TAG_OID, OID_EC), tlv(TAG_OID, OID_P256)].concat(),
    };
    let bits = [&[0u8][..], raw].concat();
    tlv(
        TAG_SEQUENCE,
        &[tlv(TAG_SEQUENCE, &algorithm_id), tlv(TAG_BIT_STRING, &bits)].concat(),
    )
}

fn parse_spki(der: &[u8]) -> Result<(Algorithm, Vec<u8>), String> {
    let (tag, spki, _) = read_tlv(der)?;
    let (algorithm_tag, algorithm_id, rest) = read_tlv(spki)?;
    let (bits_tag, bits, _) = read_tlv(rest)?;
    if tag != TAG_SEQUENCE || algorithm_tag != TAG_SEQUENCE || bits_tag != TAG_BIT_STRING {
        return Err("malformed SubjectPublicKeyInfo".into());
    }
    let (oid_tag, oid, parameters) = read_tlv(algorithm_id)?;
    let Some((0, raw)) = bits.split_first() else {
        return Err("malformed public key bit string".into());
    };
    match (oid_tag, oid) {
        (TAG_OID, OID_RSA) => Ok((Algorithm::Rs256, raw.to_vec())),
        (TAG_OID, OID_EC) => match read_tlv(parameters)? {
            (TAG_OID, OID_P256, _) => Ok((Algorithm::Es256, raw.to_vec())),
            _ => Err("unsupported elliptic curve: only P-256 (ES256) is supported".into()),
        },
        _ => Err("unsupported public key type: only RSA and ECDSA P-256 are supported".into()),
    }
}

/// Wraps a SEC1 ECPrivateKey for P-256 in PKCS#8, the only form ring reads EC keys in.
fn sec1_to_pkcs8(sec1: &[u8]) -> Vec<u8> {
    let algorithm_id = tlv(
        TAG_SEQUENCE,
        &[tlv(TAG_OID, OID_EC), tlv(TAG_OID, OID_P256)].concat(),
    );
    tlv(
        TAG_SEQUENCE,
        &[
            tlv(TAG_INTEGER, &[0]),
            algorithm_id,
            tlv(TAG_OCTET_STRING, sec1),
        ]
        .concat(),
    )
}
