//! The encryption providers and their byte formats, identical to kube-apiserver's transformers.

use std::sync::Arc;

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut as _, BlockEncryptMut as _, KeyIvInit as _};
use crypto_secretbox::XSalsa20Poly1305;
use ring::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom as _, SystemRandom};

use super::ENCRYPTED_PREFIX;

const AESGCM_PREFIX: &str = "k8s:enc:aesgcm:v1:";
const AESCBC_PREFIX: &str = "k8s:enc:aescbc:v1:";
const SECRETBOX_PREFIX: &str = "k8s:enc:secretbox:v1:";

const GCM_NONCE_LEN: usize = 12;
const CBC_BLOCK_LEN: usize = 16;
const SECRETBOX_NONCE_LEN: usize = 24;
const SECRETBOX_TAG_LEN: usize = 16;

/// A named key as the configuration gives it, already base64-decoded and length-checked.
pub(super) struct KeyMaterial {
    pub name: String,
    pub secret: Vec<u8>,
}

pub(super) struct Named<K> {
    name: String,
    key: K,
}

/// AES-GCM with ring for 128- and 256-bit keys; ring has no AES-192, which Kubernetes accepts.
pub(super) enum GcmKey {
    Ring(Box<LessSafeKey>),
    Aes192(Box<aes_gcm::AesGcm<aes::Aes192, U12>>),
}

pub(super) enum CbcKey {
    Aes128([u8; 16]),
    Aes192([u8; 24]),
    Aes256([u8; 32]),
}

/// One configured provider with its keys in order; the first key writes.
#[derive(Clone)]
pub(super) enum Provider {
    Identity,
    AesGcm(Arc<[Named<GcmKey>]>),
    AesCbc(Arc<[Named<CbcKey>]>),
    Secretbox(Arc<[Named<XSalsa20Poly1305>]>),
}

/// What one provider made of a stored value.
pub(super) enum Outcome {
    /// The value does not carry this provider's prefix.
    NotMine,
    /// Decrypted with the key at `key_index` of this provider.
    Read {
        plaintext: Vec<u8>,
        key_index: usize,
    },
    /// The prefix matched but no key could open the value.
    Failed(String),
}

fn random(buf: &mut [u8]) -> Result<(), String> {
    SystemRandom::new()
        .fill(buf)
        .map_err(|_| "unable to read sufficient random bytes".to_string())
}

impl Provider {
    pub(super) fn aes_gcm(keys: Vec<KeyMaterial>) -> Provider {
        let keys: Vec<Named<GcmKey>> = keys
            .into_iter()
            .map(|material| {
                let key = match material.secret.len() {
                    24 => GcmKey::Aes192(Box::new(
                        aes_gcm::AesGcm::new_from_slice(&material.secret)
                            .expect("a 24-byte key was checked"),
                    )),
                    len => {
                        let algorithm = if len == 16 {
                            &AES_128_GCM
                        } else {
                            &AES_256_GCM
                        };
                        GcmKey::Ring(Box::new(LessSafeKey::new(
                            UnboundKey::new(algorithm, &material.secret)
                                .expect("a 16- or 32-byte key was checked"),
                        )))
                    }
                };
                Named {
                    name: material.name,
                    key,
                }
            })
            .collect();
        Provider::AesGcm(keys.into())
    }

    pub(super) fn aes_cbc(keys: Vec<KeyMaterial>) -> Provider {
        let keys: Vec<Named<CbcKey>> = keys
            .into_iter()
            .map(|material| {
                let secret = &material.secret;
                let key = match secret.len() {
                    16 => CbcKey::Aes128(secret[..].try_into().expect("length checked")),
                    24 => CbcKey::Aes192(secret[..].try_into().expect("length checked")),
                    _ => CbcKey::Aes256(secret[..].try_into().expect("length checked")),
                };
                Named {
                    name: material.name,
                    key,
                }
            })
            .collect();
        Provider::AesCbc(keys.into())
    }

    pub(super) fn secretbox(keys: Vec<KeyMaterial>) -> Provider {
        let keys: Vec<Named<XSalsa20Poly1305>> = keys
            .into_iter()
            .map(|material| Named {
                key: XSalsa20Poly1305::new_from_slice(&material.secret)
                    .expect("a 32-byte key was checked"),
                name: material.name,
            })
            .collect();
        Provider::Secretbox(keys.into())
    }

    /// `aesgcm[key1,key2]`: names only, for logs and errors.
    pub(super) fn describe(&self) -> String {
        fn names<K>(kind: &str, keys: &[Named<K>]) -> String {
            let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
            format!("{kind}[{}]", names.join(","))
        }
        match self {
            Provider::Identity => "identity".into(),
            Provider::AesGcm(keys) => names("aesgcm", keys),
            Provider::AesCbc(keys) => names("aescbc", keys),
            Provider::Secretbox(keys) => names("secretbox", keys),
        }
    }

    /// Encrypts with the first key, prefixing provider and key name.
    pub(super) fn encrypt(&self, etcd_key: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, String> {
        let (prefix, name, body) = match self {
            Provider::Identity => return Ok(plaintext.to_vec()),
            Provider::AesGcm(keys) => (
                AESGCM_PREFIX,
                &keys[0].name,
                gcm_seal(&keys[0].key, etcd_key, plaintext)?,
            ),
            Provider::AesCbc(keys) => (
                AESCBC_PREFIX,
                &keys[0].name,
                cbc_seal(&keys[0].key, plaintext)?,
            ),
            Provider::Secretbox(keys) => (
                SECRETBOX_PREFIX,
                &keys[0].name,
                secretbox_seal(&keys[0].key, plaintext)?,
            ),
        };
        let mut out = Vec::with_capacity(prefix.len() + name.len() + 1 + body.len());
        out.extend_from_slice(prefix.as_bytes());
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(&body);
        Ok(out)
    }

    pub(super) fn decrypt(&self, etcd_key: &[u8], stored: &[u8]) -> Outcome {
        match self {
            // Identity reads anything that is not marked encrypted, so that values written before
            // encryption was turned on stay readable.
            Provider::Identity if stored.starts_with(ENCRYPTED_PREFIX) => Outcome::NotMine,
            Provider::Identity => Outcome::Read {
                plaintext: stored.to_vec(),
                key_index: 0,
            },
            Provider::AesGcm(keys) => {
                open_with_keys("aesgcm", AESGCM_PREFIX, keys, stored, |key, body| {
                    gcm_open(key, etcd_key, body)
                })
            }
            Provider::AesCbc(keys) => {
                open_with_keys("aescbc", AESCBC_PREFIX, keys, stored, cbc_open)
            }
            Provider::Secretbox(keys) => {
                open_with_keys("secretbox", SECRETBOX_PREFIX, keys, stored, secretbox_open)
            }
        }
    }
}

/// Tries every key whose name prefixes the value, in configuration order.
fn open_with_keys<K>(
    kind: &str,
    prefix: &str,
    keys: &[Named<K>],
    stored: &[u8],
    open: impl Fn(&K, &[u8]) -> Result<Vec<u8>, String>,
) -> Outcome {
    let Some(rest) = stored.strip_prefix(prefix.as_bytes()) else {
        return Outcome::NotMine;
    };
    let mut errors = Vec::new();
    for (index, named) in keys.iter().enumerate() {
        let Some(body) = rest
            .strip_prefix(named.name.as_bytes())
            .and_then(|body| body.strip_prefix(b":"))
        else {
            continue;
        };
        match open(&named.key, body) {
            Ok(plaintext) => {
                return Outcome::Read {
                    plaintext,
                    key_index: index,
                };
            }
            Err(reason) => errors.push(format!("{kind} key {:?}: {reason}", named.name)),
        }
    }
    if errors.is_empty() {
        let written_with = rest.split(|b| *b == b':').next().unwrap_or_default();
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        return Outcome::Failed(format!(
            "no matching key was found for the provided {kind} transformer: the value was written with key {:?}, configured keys are {names:?}",
            String::from_utf8_lossy(written_with)
        ));
    }
    Outcome::Failed(errors.join("; "))
}

const TOO_SHORT: &str = "the stored data was shorter than the required size";

fn gcm_seal(key: &GcmKey, etcd_key: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, String> {
    let mut nonce = [0u8; GCM_NONCE_LEN];
    random(&mut nonce)?;
    let sealed = match key {
        GcmKey::Ring(key) => {
            let mut in_out = plaintext.to_vec();
            key.seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(etcd_key),
                &mut in_out,
            )
            .map_err(|_| "AES-GCM seal failed".to_string())?;
            in_out
        }
        GcmKey::Aes192(key) => key
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: plaintext,
                    aad: etcd_key,
                },
            )
            .map_err(|_| "AES-GCM seal failed".to_string())?,
    };
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(out)
}

const GCM_AUTH_FAILED: &str =
    "message authentication failed (wrong key, or the value was copied from another etcd key)";

fn gcm_open(key: &GcmKey, etcd_key: &[u8], body: &[u8]) -> Result<Vec<u8>, String> {
    if body.len() < GCM_NONCE_LEN {
        return Err(TOO_SHORT.into());
    }
    let (nonce, sealed) = body.split_at(GCM_NONCE_LEN);
    let nonce: [u8; GCM_NONCE_LEN] = nonce.try_into().expect("split at the nonce length");
    match key {
        GcmKey::Ring(key) => {
            let mut in_out = sealed.to_vec();
            let plaintext = key
                .open_in_place(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(etcd_key),
                    &mut in_out,
                )
                .map_err(|_| GCM_AUTH_FAILED.to_string())?;
            Ok(plaintext.to_vec())
        }
        GcmKey::Aes192(key) => key
            .decrypt(
                (&nonce).into(),
                Payload {
                    msg: sealed,
                    aad: etcd_key,
                },
            )
            .map_err(|_| GCM_AUTH_FAILED.to_string()),
    }
}

fn cbc_seal(key: &CbcKey, plaintext: &[u8]) -> Result<Vec<u8>, String> {
    let mut iv = [0u8; CBC_BLOCK_LEN];
    random(&mut iv)?;
    let iv_ref = (&iv).into();
    let body = match key {
        CbcKey::Aes128(k) => cbc::Encryptor::<aes::Aes128>::new(k.into(), iv_ref)
            .encrypt_padded_vec_mut::<Pkcs7>(plaintext),
        CbcKey::Aes192(k) => cbc::Encryptor::<aes::Aes192>::new(k.into(), iv_ref)
            .encrypt_padded_vec_mut::<Pkcs7>(plaintext),
        CbcKey::Aes256(k) => cbc::Encryptor::<aes::Aes256>::new(k.into(), iv_ref)
            .encrypt_padded_vec_mut::<Pkcs7>(plaintext),
    };
    let mut out = iv.to_vec();
    out.extend_from_slice(&body);
    Ok(out)
}

fn cbc_open(key: &CbcKey, body: &[u8]) -> Result<Vec<u8>, String> {
    if body.len() < CBC_BLOCK_LEN {
        return Err(TOO_SHORT.into());
    }
    let (iv, data) = body.split_at(CBC_BLOCK_LEN);
    if data.len() % CBC_BLOCK_LEN != 0 {
        return Err("the stored data is not a multiple of the block size".into());
    }
    let iv: &[u8; CBC_BLOCK_LEN] = iv.try_into().expect("split at the block length");
    let iv = iv.into();
    let result =
        match key {
            CbcKey::Aes128(k) => cbc::Decryptor::<aes::Aes128>::new(k.into(), iv)
                .decrypt_padded_vec_mut::<Pkcs7>(data),
            CbcKey::Aes192(k) => cbc::Decryptor::<aes::Aes192>::new(k.into(), iv)
                .decrypt_padded_vec_mut::<Pkcs7>(data),
            CbcKey::Aes256(k) => cbc::Decryptor::<aes::Aes256>::new(k.into(), iv)
                .decrypt_padded_vec_mut::<Pkcs7>(data),
        };
    // CBC has no authentication: a wrong key shows up only as bad padding, or as garbage.
    result.map_err(|_| "invalid padding on input (wrong key?)".to_string())
}

fn secretbox_seal(key: &XSalsa20Poly1305, plaintext: &[u8]) -> Result<Vec<u8>, String> {
    let mut nonce = [0u8; SECRETBOX_NONCE_LEN];
    random(&mut nonce)?;
    let sealed = key
        .encrypt((&nonce).into(), plaintext)
        .map_err(|_| "secretbox seal failed".to_string())?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(out)
}

fn secretbox_open(key: &XSalsa20Poly1305, body: &[u8]) -> Result<Vec<u8>, String> {
    if body.len() < SECRETBOX_NONCE_LEN + SECRETBOX_TAG_LEN {
        return Err(TOO_SHORT.into());
    }
    let (nonce, sealed) = body.split_at(SECRETBOX_NONCE_LEN);
    let nonce: &[u8; SECRETBOX_NONCE_LEN] = nonce.try_into().expect("split at the nonce length");
    key.decrypt(nonce.into(), sealed)
        .map_err(|_| "message authentication failed (wrong key?)".to_string())
}
