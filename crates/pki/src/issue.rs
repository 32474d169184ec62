//! Writing a PKI: all of it for a new cluster, one node's part when a node joins, and a new API
//! server certificate when the control plane's addresses change.

use std::path::Path;
use std::time::SystemTime;

use rcgen::KeyPair;

use crate::authority::{Authority, new_key, random};
use crate::cert_spec::CertSpec;
use crate::encryption;
use crate::error::{Error, Result};
use crate::files::{self, PUBLIC, SECRET};
use crate::layout::{NodeFiles, Pki};
use crate::spec::{NodeSpec, PkiSpec};

impl Pki {
    /// Generates a new PKI for `spec` under `dir`, which may exist but must not hold a cluster
    /// CA yet. Returns the layout, with every node of the spec.
    ///
    /// `ca.crt` is written last: a run that fails half-way leaves no CA certificate behind, so
    /// running again starts over instead of refusing.
    pub fn generate(dir: &Path, spec: &PkiSpec) -> Result<Pki> {
        spec.validate()?;
        let pki = Pki::at(dir);
        if pki.ca_cert.exists() {
            return Err(Error::AlreadyExists(pki.ca_cert));
        }
        files::create_dir(&Pki::etcd_dir(dir))?;
        files::create_dir(&Pki::nodes_dir(dir))?;
        let now = SystemTime::now();

        let (ca, ca_cert) = Authority::create("kubernetes", now)?;
        files::write(&pki.ca_key, ca.key_pem().as_bytes(), SECRET)?;
        let (etcd_ca, etcd_ca_cert) = Authority::create("etcd-ca", now)?;
        files::write(&pki.etcd_ca_key, etcd_ca.key_pem().as_bytes(), SECRET)?;
        files::write(&pki.etcd_ca_cert, etcd_ca_cert.as_bytes(), PUBLIC)?;

        let leaves = [
            (
                &ca,
                CertSpec::apiserver(spec),
                &pki.apiserver_cert,
                &pki.apiserver_key,
            ),
            (
                &ca,
                CertSpec::apiserver_kubelet_client(),
                &pki.apiserver_kubelet_client_cert,
                &pki.apiserver_kubelet_client_key,
            ),
            (
                &etcd_ca,
                CertSpec::apiserver_etcd_client(),
                &pki.apiserver_etcd_client_cert,
                &pki.apiserver_etcd_client_key,
            ),
            (
                &etcd_ca,
                CertSpec::etcd_healthcheck_client(),
                &pki.etcd_healthcheck_client_cert,
                &pki.etcd_healthcheck_client_key,
            ),
            (&ca, CertSpec::admin(), &pki.admin_cert, &pki.admin_key),
            (
                &ca,
                CertSpec::controller_manager(),
                &pki.controller_manager_cert,
                &pki.controller_manager_key,
            ),
            (
                &ca,
                CertSpec::scheduler(),
                &pki.scheduler_cert,
                &pki.scheduler_key,
            ),
            (
                &ca,
                CertSpec::kube_proxy(),
                &pki.kube_proxy_cert,
                &pki.kube_proxy_key,
            ),
        ];
        for (authority, cert_spec, cert, key) in leaves {
            issue_pair(authority, &cert_spec, cert, key, None, now)?;
        }
        for node in &spec.nodes {
            issue_node(dir, &ca, Some(&etcd_ca), node, now)?;
        }

        // The ServiceAccount key signs tokens (ES256); it is no certificate, just a key pair.
        let sa = new_key("sa.key")?;
        files::write(&pki.sa_key, sa.serialize_pem().as_bytes(), SECRET)?;
        files::write(&pki.sa_pub, sa.public_key_pem().as_bytes(), PUBLIC)?;

        let mut secret = [0u8; 32];
        random(&mut secret)?;
        files::write(
            &pki.encryption_config,
            encryption::config(&secret).as_bytes(),
            SECRET,
        )?;

        files::write(&pki.ca_cert, ca_cert.as_bytes(), PUBLIC)?;
        Pki::load(dir)
    }

    /// Issues `node`'s certificates with the existing CAs: its kubelet's client and serving
    /// certificates and, for a control-plane node, its store member's server and peer
    /// certificates. A node that has certificates already gets new ones. Returns the layout.
    ///
    /// A joining control-plane node also needs the API server certificate to name it: call
    /// [`Pki::reissue_apiserver`] with the grown spec as well.
    pub fn add_node(dir: &Path, node: &NodeSpec) -> Result<Pki> {
        node.validate()?;
        let pki = Pki::load(dir)?;
        let ca = Authority::load(&pki.ca_cert, &pki.ca_key)?;
        let etcd_ca = match node.control_plane {
            true => Some(Authority::load(&pki.etcd_ca_cert, &pki.etcd_ca_key)?),
            false => None,
        };
        files::create_dir(&Pki::nodes_dir(dir))?;
        issue_node(dir, &ca, etcd_ca.as_ref(), node, SystemTime::now())?;
        Pki::load(dir)
    }

    /// Signs a new API server certificate for `spec`'s addresses with the existing CA and
    /// replaces `apiserver.crt`. The key in `apiserver.key` is kept, so a server that reloads
    /// its certificate at any moment finds a pair that matches. Returns the layout.
    pub fn reissue_apiserver(dir: &Path, spec: &PkiSpec) -> Result<Pki> {
        spec.validate()?;
        let pki = Pki::load(dir)?;
        let ca = Authority::load(&pki.ca_cert, &pki.ca_key)?;
        let key_pem = files::read_to_string(&pki.apiserver_key)?;
        let key = KeyPair::from_pem(&key_pem)
            .map_err(Error::rcgen(pki.apiserver_key.display().to_string()))?;
        issue_pair(
            &ca,
            &CertSpec::apiserver(spec),
            &pki.apiserver_cert,
            &pki.apiserver_key,
            Some(key),
            SystemTime::now(),
        )?;
        Ok(pki)
    }
}

/// Issues a node's certificates into `dir`; `etcd_ca` is needed for control-plane nodes only.
fn issue_node(
    dir: &Path,
    ca: &Authority,
    etcd_ca: Option<&Authority>,
    node: &NodeSpec,
    now: SystemTime,
) -> Result<()> {
    let files = NodeFiles::at(dir, &node.name, node.control_plane);
    issue_pair(
        ca,
        &CertSpec::kubelet_client(node),
        &files.kubelet_client_cert,
        &files.kubelet_client_key,
        None,
        now,
    )?;
    issue_pair(
        ca,
        &CertSpec::kubelet_serving(node),
        &files.kubelet_serving_cert,
        &files.kubelet_serving_key,
        None,
        now,
    )?;
    if let (Some(member), Some(etcd_ca)) = (&files.etcd, etcd_ca) {
        issue_pair(
            etcd_ca,
            &CertSpec::etcd_server(node),
            &member.server_cert,
            &member.server_key,
            None,
            now,
        )?;
        issue_pair(
            etcd_ca,
            &CertSpec::etcd_peer(node),
            &member.peer_cert,
            &member.peer_key,
            None,
            now,
        )?;
    }
    Ok(())
}

/// Signs `spec` and writes the certificate to `cert` and its key to `key`: the given key, which
/// is already there, or a new one, written first so no certificate is ever without its key.
fn issue_pair(
    authority: &Authority,
    spec: &CertSpec,
    cert: &Path,
    key: &Path,
    existing_key: Option<KeyPair>,
    now: SystemTime,
) -> Result<()> {
    let key_pair = match existing_key {
        Some(key_pair) => key_pair,
        None => {
            let key_pair = new_key(&key.display().to_string())?;
            files::write(key, key_pair.serialize_pem().as_bytes(), SECRET)?;
            key_pair
        }
    };
    let pem = authority.issue(spec, &key_pair, now)?;
    files::write(cert, pem.as_bytes(), PUBLIC)
}
