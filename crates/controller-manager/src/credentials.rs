//! One ServiceAccount per controller, as kube-controller-manager's
//! `--use-service-account-credentials` does: each controller acts as `kube-system/<controller>`,
//! which the bootstrap RBAC binds to `system:controller:<controller>`, so a controller can do no
//! more than its role allows.
//!
//! The manager's own identity (a client certificate for `system:kube-controller-manager`) only
//! creates the ServiceAccounts and asks for their tokens. Each token lives in a file of its own
//! that the controller's client names as its `token_file`; kube-rs re-reads a token file once its
//! cached copy is a minute old, so rewriting the file well before the token expires keeps every
//! client (and every watch it opens later) authenticated without rebuilding it.

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use tokio::task::AbortHandle;

use crate::error::{Error, Result};

/// Where the controllers' ServiceAccounts live.
const NAMESPACE: &str = "kube-system";
/// The token lifetime asked for, as kube-controller-manager asks (one hour).
pub(crate) const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// How soon to try again after a failed refresh.
const REFRESH_RETRY: Duration = Duration::from_secs(5);

/// The controllers' ServiceAccount clients, made once per controller and kept fresh for the
/// manager's lifetime (across leadership terms).
pub(crate) struct Credentials {
    root: kube::Client,
    base: kube::Config,
    /// The token files; removed with the manager.
    dir: tempfile::TempDir,
    clients: tokio::sync::Mutex<HashMap<String, kube::Client>>,
    refreshers: Mutex<Vec<AbortHandle>>,
}

impl Credentials {
    /// Credentials minted with `config`, the manager's own identity.
    pub(crate) fn new(config: kube::Config) -> Result<Credentials> {
        let root = kube::Client::try_from(config.clone()).map_err(Error::Client)?;
        let dir = tempfile::Builder::new()
            .prefix("kube-controller-manager-tokens")
            .tempdir()
            .map_err(|source| Error::Io {
                what: "creating the token directory".into(),
                source,
            })?;
        Ok(Credentials {
            root,
            base: config,
            dir,
            clients: tokio::sync::Mutex::new(HashMap::new()),
            refreshers: Mutex::new(Vec::new()),
        })
    }

    /// The manager's own client (system:kube-controller-manager).
    pub(crate) fn root(&self) -> kube::Client {
        self.root.clone()
    }

    /// The client acting as `kube-system/<controller>`: made (ServiceAccount, token, file,
    /// refresher) on first use, then shared.
    pub(crate) async fn client(&self, controller: &str) -> Result<kube::Client> {
        // One lock for all: concurrent first calls for one controller must not mint twice, and
        // the work under it is a few requests done once per controller.
        let mut clients = self.clients.lock().await;
        if let Some(client) = clients.get(controller) {
            return Ok(client.clone());
        }
        ensure_service_account(&self.root, controller).await?;
        let token = request_token(&self.root, controller).await?;
        let path = self.dir.path().join(format!("{controller}.token"));
        write_token(&path, &token.token)?;
        let client = kube::Client::try_from(service_account_config(&self.base, &path))
            .map_err(Error::Client)?;
        let refresher = tokio::spawn(keep_fresh(
            self.root.clone(),
            controller.to_string(),
            path,
            token,
        ));
        self.refreshers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(refresher.abort_handle());
        clients.insert(controller.to_string(), client.clone());
        tracing::info!(target: "kube-controller-manager",
            "using service account credentials for {NAMESPACE}/{controller}");
        Ok(client)
    }
}

impl Drop for Credentials {
    fn drop(&mut self) {
        for refresher in self
            .refreshers
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .drain(..)
        {
            refresher.abort();
        }
    }
}

/// `base` with its identity swapped for the bearer token in `token_file`: no client
/// certificate, no other credentials.
pub(crate) fn service_account_config(base: &kube::Config, token_file: &Path) -> kube::Config {
    let mut config = base.clone();
    let auth = &mut config.auth_info;
    *auth = kube::config::AuthInfo {
        token_file: Some(token_file.to_string_lossy().into_owned()),
        ..kube::config::AuthInfo::default()
    };
    config
}

/// A token and when it was issued and expires.
#[derive(Clone, Debug)]
struct Token {
    token: String,
    issued: jiff::Timestamp,
    expires: jiff::Timestamp,
}

/// How long to wait before refreshing a token issued at `issued` that expires at `expires`,
/// seen at `now`: when 80% of its life has passed (as the kubelet's token manager does), so a
/// few failed refreshes still leave time before it expires.
pub(crate) fn refresh_delay(
    issued: jiff::Timestamp,
    expires: jiff::Timestamp,
    now: jiff::Timestamp,
) -> Duration {
    let life = expires.duration_since(issued).as_millis().max(0) as u64;
    let refresh_at = issued.as_millisecond() + (life * 4 / 5) as i64;
    Duration::from_millis((refresh_at - now.as_millisecond()).max(0) as u64)
}

async fn ensure_service_account(root: &kube::Client, name: &str) -> Result<()> {
    let api: Api<ServiceAccount> = Api::namespaced(root.clone(), NAMESPACE);
    match api.get_opt(name).await {
        Ok(Some(_)) => return Ok(()),
        Ok(None) => {}
        Err(e) => return Err(Error::api(format!("getting serviceaccount {name}"), e)),
    }
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(NAMESPACE.to_string()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    };
    match api.create(&PostParams::default(), &account).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(e) => Err(Error::api(format!("creating serviceaccount {name}"), e)),
    }
}

async fn request_token(root: &kube::Client, name: &str) -> Result<Token> {
    let api: Api<ServiceAccount> = Api::namespaced(root.clone(), NAMESPACE);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(TOKEN_LIFETIME.as_secs() as i64),
            ..TokenRequestSpec::default()
        },
        ..TokenRequest::default()
    };
    let issued = jiff::Timestamp::now();
    let answer = api
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .map_err(|e| Error::api(format!("requesting a token for {name}"), e))?;
    let status = answer.status.ok_or_else(|| Error::NoToken(name.into()))?;
    if status.token.is_empty() {
        return Err(Error::NoToken(name.into()));
    }
    Ok(Token {
        token: status.token,
        issued,
        expires: status.expiration_timestamp.0,
    })
}

/// Replaces the token file in one rename, so kube-rs never reads half a token.
fn write_token(path: &Path, token: &str) -> Result<()> {
    let io = |source| Error::Io {
        what: format!("writing {}", path.display()),
        source,
    };
    let staging: PathBuf = path.with_extension("token.new");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&staging)
        .map_err(io)?;
    file.write_all(token.as_bytes()).map_err(io)?;
    drop(file);
    std::fs::rename(&staging, path).map_err(io)
}

/// Rewrites `path` with a new token before the current one runs out, for as long as the
/// manager lives (the task is aborted when the credentials drop).
async fn keep_fresh(root: kube::Client, name: String, path: PathBuf, mut token: Token) {
    loop {
        tokio::time::sleep(refresh_delay(
            token.issued,
            token.expires,
            jiff::Timestamp::now(),
        ))
        .await;
        loop {
            // The ServiceAccount may have been deleted meanwhile; making it again is harmless.
            let fresh = match ensure_service_account(&root, &name).await {
                Ok(()) => request_token(&root, &name).await,
                Err(e) => Err(e),
            };
            match fresh.and_then(|fresh| write_token(&path, &fresh.token).map(|()| fresh)) {
                Ok(fresh) => {
                    tracing::debug!(target: "kube-controller-manager",
                        "refreshed the token of {NAMESPACE}/{name}");
                    token = fresh;
                    break;
                }
                Err(e) => {
                    tracing::warn!(target: "kube-controller-manager",
                        "refreshing the token of {NAMESPACE}/{name}: {e}");
                    tokio::time::sleep(REFRESH_RETRY).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    #[test]
    fn refreshes_at_four_fifths_of_the_life() {
        // (issued, expires, now, wait)
        let cases = [
            (0, 3600, 0, 2880),
            (0, 3600, 1000, 1880),
            (0, 3600, 2880, 0),
            (0, 3600, 4000, 0),
            (0, 600, 0, 480),
            // An expiry before the issue time (clock skew) refreshes at once.
            (10, 0, 10, 0),
        ];
        for (issued, expires, now, wait) in cases {
            assert_eq!(
                refresh_delay(at(issued), at(expires), at(now)),
                Duration::from_secs(wait),
                "issued {issued} expires {expires} now {now}"
            );
        }
    }

    #[test]
    fn service_account_config_drops_the_certificate() {
        let mut base = kube::Config::new("https://127.0.0.1:8443".parse().unwrap());
        base.auth_info.client_certificate_data = Some("cert".into());
        base.auth_info.client_key_data = Some("key".to_string().into());
        base.root_cert = Some(vec![b"ca".to_vec()]);
        let config = service_account_config(&base, Path::new("/tmp/x.token"));
        assert_eq!(config.auth_info.token_file.as_deref(), Some("/tmp/x.token"));
        assert!(config.auth_info.client_certificate_data.is_none());
        assert!(config.auth_info.client_key_data.is_none());
        assert!(config.auth_info.token.is_none());
        assert_eq!(config.root_cert, base.root_cert);
        assert_eq!(config.cluster_url, base.cluster_url);
    }

    #[test]
    fn token_files_are_replaced_whole_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.token");
        write_token(&path, "one").unwrap();
        write_token(&path, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
