//! A certificate authority: made fresh, or loaded back from its PEM files, and signing leaves.

use std::path::Path;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PublicKeyData,
};
use ring::rand::{SecureRandom, SystemRandom};

use crate::cert_spec::CertSpec;
use crate::error::{Error, Result};
use crate::files;

/// How long a CA is valid: ten years, as kubeadm's (365-day years, as kubeadm counts them).
pub(crate) const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);
/// How long a leaf certificate is valid: one year, as kubeadm's.
pub(crate) const LEAF_VALIDITY: Duration = Duration::from_secs(365 * 24 * 60 * 60);
/// How far back a certificate's validity starts, so that a peer whose clock lags a little
/// still accepts a certificate issued a moment ago.
const BACKDATE: Duration = Duration::from_secs(5 * 60);

/// A CA that can sign.
pub(crate) struct Authority {
    issuer: Issuer<'static, KeyPair>,
}

impl Authority {
    /// Makes a new self-signed CA named `common_name`, valid for [`CA_VALIDITY`] from `now`.
    /// Returns it with its certificate's PEM.
    pub fn create(common_name: &str, now: SystemTime) -> Result<(Authority, String)> {
        let what = || format!("CA {common_name}");
        let key = new_key(&what())?;
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        set_validity(&mut params, now, CA_VALIDITY)?;
        let cert = params.self_signed(&key).map_err(Error::rcgen(what()))?;
        Ok((
            Authority {
                issuer: Issuer::new(params, key),
            },
            cert.pem(),
        ))
    }

    /// Loads a CA from its certificate and key files, checking that the key is the
    /// certificate's: with the wrong key, everything signed would fail to verify, far from here.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Authority> {
        let cert_pem = files::read_to_string(cert_path)?;
        let key_pem = files::read_to_string(key_path)?;
        let key =
            KeyPair::from_pem(&key_pem).map_err(Error::rcgen(key_path.display().to_string()))?;

        let bad = |reason: String| Error::BadCertificate {
            path: cert_path.to_path_buf(),
            reason,
        };
        let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
            .map_err(|e| bad(e.to_string()))?;
        let cert = pem.parse_x509().map_err(|e| bad(e.to_string()))?;
        if cert.public_key().raw != key.subject_public_key_info().as_slice() {
            return Err(Error::KeyMismatch {
                cert: cert_path.to_path_buf(),
                key: key_path.to_path_buf(),
            });
        }

        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key)
            .map_err(Error::rcgen(cert_path.display().to_string()))?;
        Ok(Authority { issuer })
    }

    /// The CA's private key, as PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// Signs `spec` for `key`, valid for [`LEAF_VALIDITY`] from `now`; returns the certificate's
    /// PEM.
    pub fn issue(&self, spec: &CertSpec, key: &KeyPair, now: SystemTime) -> Result<String> {
        let mut params = spec.params()?;
        set_validity(&mut params, now, LEAF_VALIDITY)?;
        let cert = params
            .signed_by(key, &self.issuer)
            .map_err(Error::rcgen(format!(
                "certificate for {}",
                spec.common_name
            )))?;
        Ok(cert.pem())
    }
}

/// A new ECDSA P-256 key (rcgen's default with ring).
pub(crate) fn new_key(what: &str) -> Result<KeyPair> {
    KeyPair::generate().map_err(Error::rcgen(format!("key for {what}")))
}

/// Fills `out` from the operating system's random source.
pub(crate) fn random(out: &mut [u8]) -> Result<()> {
    SystemRandom::new().fill(out).map_err(|_| Error::Random)
}

/// Sets the validity window and a random serial number. rcgen would otherwise derive the serial
/// from the public key, and a reissued certificate that keeps its key would repeat it.
fn set_validity(params: &mut CertificateParams, now: SystemTime, lifetime: Duration) -> Result<()> {
    let since_epoch = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + since_epoch.saturating_sub(BACKDATE);
    params.not_after = epoch + since_epoch + lifetime;

    // 16 random bytes (RFC 5280 allows 20) with the top bit clear, so the DER integer is
    // positive, and the next one set, so it keeps all 16 bytes.
    let mut serial = [0u8; 16];
    random(&mut serial)?;
    serial[0] = (serial[0] & 0x7f) | 0x40;
    params.serial_number = Some(serial.to_vec().into());
    Ok(())
}
