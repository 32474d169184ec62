//! Connecting to an API server as kubectl does, from a kubeconfig and one of its contexts, and
//! saying in one line why a call failed.

use std::path::Path;

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use kube::api::PostParams;
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::core::Status;
use kube::{Api, Client};

use super::error::{Error, Result};

/// A client for one API server, with what is needed to explain a refusal.
#[derive(Clone)]
pub struct Connection {
    /// The client, shared by every request loop and watcher, as client-go shares a transport.
    pub client: Client,
    /// The API server's URL.
    pub server: String,
    /// The name of the kubeconfig's user entry for the context, if it has one.
    kubeconfig_user: Option<String>,
}

impl Connection {
    /// Loads the kubeconfig (the file given, else `$KUBECONFIG`, else `~/.kube/config`), picks
    /// the context (the one given, else the current one) and builds a client for it. Nothing is
    /// sent to the server yet.
    pub async fn open(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Connection> {
        let loaded = match kubeconfig {
            Some(path) => Kubeconfig::read_from(path),
            None => Kubeconfig::read(),
        }
        .map_err(|error| Error::Kubeconfig(kubeconfig_reason(&error, kubeconfig.is_some())))?;
        let context_name = context
            .map(str::to_owned)
            .or_else(|| loaded.current_context.clone());
        let kubeconfig_user = loaded
            .contexts
            .iter()
            .find(|named| Some(&named.name) == context_name.as_ref())
            .and_then(|named| named.context.as_ref())
            .and_then(|context| context.user.clone());
        let options = KubeConfigOptions {
            context: context.map(str::to_owned),
            ..KubeConfigOptions::default()
        };
        let config = kube::Config::from_custom_kubeconfig(loaded, &options)
            .await
            .map_err(|error| Error::Kubeconfig(kubeconfig_reason(&error, kubeconfig.is_some())))?;
        let server = config.cluster_url.to_string();
        let client = Client::try_from(config).map_err(|error| Error::Client {
            server: server.clone(),
            reason: describe(&error),
        })?;
        Ok(Connection {
            client,
            server,
            kubeconfig_user,
        })
    }

    /// Turns a failed set-up call into the error that explains it best: the server is not
    /// reachable, the user may not do it (saying who the server thinks the user is), or the
    /// server's own status.
    pub async fn setup_error(&self, action: String, error: &kube::Error) -> Error {
        match error {
            kube::Error::Api(status) if status.code == 403 => Error::Forbidden {
                action,
                user: self.user_description().await,
                message: status.message.clone(),
            },
            error if is_transport(error) => Error::Unreachable {
                server: self.server.clone(),
                reason: describe(error),
            },
            error => Error::Setup {
                action,
                reason: describe(error),
            },
        }
    }

    /// Who the server thinks the user is (through a SelfSubjectReview), or failing that the
    /// kubeconfig's user name.
    async fn user_description(&self) -> String {
        let review = Api::<SelfSubjectReview>::all(self.client.clone())
            .create(&PostParams::default(), &SelfSubjectReview::default())
            .await;
        let username = review
            .ok()
            .and_then(|review| review.status?.user_info?.username);
        match (username, &self.kubeconfig_user) {
            (Some(username), _) => format!("user {username:?}"),
            (None, Some(entry)) => format!("kubeconfig user {entry:?}"),
            (None, None) => "the kubeconfig's user".to_owned(),
        }
    }
}

/// Whether a call failed before the server answered it.
pub fn is_transport(error: &kube::Error) -> bool {
    matches!(
        error,
        kube::Error::Service(_) | kube::Error::HyperError(_) | kube::Error::ReadEvents(_)
    )
}

/// A failed call in one line: the server's status, or the transport's reason with its causes.
pub fn describe(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status_line(status),
        // kube's own wrapper ("ServiceError: ...") adds nothing to the transport's causes.
        kube::Error::Service(source) => crate::error::chain(source.as_ref()),
        error => crate::error::chain(error),
    }
}

/// A status in one line, as `409 Conflict: the object has been modified`.
pub fn status_line(status: &Status) -> String {
    let head = if status.reason.is_empty() {
        status.code.to_string()
    } else {
        format!("{} {}", status.code, status.reason)
    };
    if status.message.is_empty() {
        head
    } else {
        format!("{head}: {}", status.message)
    }
}

fn kubeconfig_reason(error: &KubeconfigError, given: bool) -> String {
    let hint = if given {
        "check --kubeconfig"
    } else {
        "give --kubeconfig or set $KUBECONFIG"
    };
    match error {
        KubeconfigError::ReadConfig(io, path) if io.kind() == std::io::ErrorKind::NotFound => {
            format!("no kubeconfig at {}: {hint}", path.display())
        }
        KubeconfigError::ReadConfig(io, path) => {
            format!("cannot read the kubeconfig {}: {io}", path.display())
        }
        KubeconfigError::FindPath => {
            format!("cannot find a kubeconfig ($HOME is not set): {hint}")
        }
        KubeconfigError::CurrentContextNotSet => {
            "the kubeconfig has no current-context: give --context".to_owned()
        }
        KubeconfigError::LoadContext(name) => {
            format!("the kubeconfig has no context {name:?}")
        }
        KubeconfigError::LoadClusterOfContext(name) => {
            format!("the kubeconfig has no cluster {name:?} for its context")
        }
        KubeconfigError::MissingClusterUrl => {
            "the kubeconfig's cluster has no server URL".to_owned()
        }
        error => format!("invalid kubeconfig: {}", crate::error::chain(error)),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn status(code: u16, reason: &str, message: &str) -> Status {
        Status {
            code,
            reason: reason.to_owned(),
            message: message.to_owned(),
            ..Status::default()
        }
    }

    #[test]
    fn statuses_read_as_one_line() {
        let cases = [
            (
                status(409, "Conflict", "the object has been modified"),
                "409 Conflict: the object has been modified",
            ),
            (status(404, "NotFound", ""), "404 NotFound"),
            (status(500, "", "boom"), "500: boom"),
            (status(0, "", ""), "0"),
        ];
        for (input, expected) in cases {
            assert_eq!(status_line(&input), expected, "{input:?}");
        }
    }

    #[test]
    fn transport_failures_read_as_their_causes() {
        let timeout = kube::Error::Service(Box::new(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "no answer within 30s",
        )));
        assert!(is_transport(&timeout));
        assert_eq!(describe(&timeout), "no answer within 30s");
        let refused = kube::Error::Api(Box::new(status(403, "Forbidden", "no")));
        assert!(!is_transport(&refused));
        assert_eq!(describe(&refused), "403 Forbidden: no");
    }

    #[test]
    fn kubeconfig_problems_say_what_to_do() {
        let missing = || {
            KubeconfigError::ReadConfig(
                std::io::Error::from(std::io::ErrorKind::NotFound),
                PathBuf::from("/home/a/.kube/config"),
            )
        };
        let cases = [
            (
                missing(),
                false,
                "no kubeconfig at /home/a/.kube/config: give --kubeconfig or set $KUBECONFIG",
            ),
            (
                missing(),
                true,
                "no kubeconfig at /home/a/.kube/config: check --kubeconfig",
            ),
            (
                KubeconfigError::CurrentContextNotSet,
                false,
                "the kubeconfig has no current-context: give --context",
            ),
            (
                KubeconfigError::LoadContext("kind-x".to_owned()),
                false,
                "the kubeconfig has no context \"kind-x\"",
            ),
        ];
        for (error, given, expected) in cases {
            assert_eq!(kubeconfig_reason(&error, given), expected);
        }
    }

    #[tokio::test]
    async fn a_missing_kubeconfig_fails_before_any_request() {
        let dir = std::env::temp_dir().join("hakube-bench-api-no-such-dir");
        let error = Connection::open(Some(&dir.join("config")), None)
            .await
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(error.starts_with("no kubeconfig at "), "{error}");
    }

    #[tokio::test]
    async fn a_context_is_looked_up_by_name() {
        let file = std::env::temp_dir().join(format!(
            "hakube-bench-api-kubeconfig-{}",
            std::process::id()
        ));
        let kubeconfig = "apiVersion: v1
kind: Config
current-context: one
clusters:
- name: c
  cluster:
    server: http://127.0.0.1:1
contexts:
- name: one
  context:
    cluster: c
    user: alice
users:
- name: alice
  user:
    token: t
";
        std::fs::write(&file, kubeconfig).expect("write the kubeconfig");
        let opened = Connection::open(Some(&file), None).await;
        let missing = Connection::open(Some(&file), Some("two")).await;
        let _ = std::fs::remove_file(&file);
        let connection = opened.expect("the current context is valid");
        assert_eq!(connection.server, "http://127.0.0.1:1/");
        assert_eq!(connection.kubeconfig_user.as_deref(), Some("alice"));
        assert_eq!(
            missing.err().map(|error| error.to_string()).as_deref(),
            Some("the kubeconfig has no context \"two\"")
        );
    }
}
