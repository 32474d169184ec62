//! What an API benchmark does: the options as given, and the checked [`Config`] they resolve to.

use std::path::PathBuf;
use std::time::Duration;

use super::mix::Mix;
use crate::{Error, Result};

/// Clients (request loops and watchers together) when --clients is not given.
pub const DEFAULT_CLIENTS: usize = 16;
/// How long a run lasts when neither --duration nor --total is given.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(20);
/// Bytes of ConfigMap data per object.
pub const DEFAULT_OBJECT_SIZE: usize = 1024;
/// Objects created before the run for get, list and update.
pub const DEFAULT_LIST_SIZE: usize = 100;
/// The largest object size accepted: the API server refuses ConfigMaps over 1 MiB, and the
/// object's metadata needs some of that.
pub const MAX_OBJECT_SIZE: usize = 1_000_000;
/// The most objects pre-created: more makes the set-up, not the run, the long part.
pub const MAX_LIST_SIZE: usize = 100_000;

/// The options as the user gave them; `None` means "not given".
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// --kubeconfig; `None` means `$KUBECONFIG`, then `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// --context; `None` means the kubeconfig's current context.
    pub context: Option<String>,
    /// --namespace; `None` means a fresh namespace, created for the run and deleted after it.
    pub namespace: Option<String>,
    /// --clients.
    pub clients: Option<usize>,
    /// --duration.
    pub duration: Option<Duration>,
    /// --total.
    pub total: Option<u64>,
    /// --mix.
    pub mix: Option<Mix>,
    /// --object-size.
    pub object_size: Option<usize>,
    /// --list-size.
    pub list_size: Option<usize>,
    /// --label.
    pub label: Option<String>,
}

/// A checked, complete description of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The kubeconfig file, if not the default.
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context, if not the current one.
    pub context: Option<String>,
    /// The namespace to work in; `None` means a fresh one.
    pub namespace: Option<String>,
    /// Clients that send requests.
    pub request_clients: usize,
    /// Clients that keep a watch open.
    pub watchers: usize,
    /// Stop after this many requests (watch events are not requests).
    pub total: Option<u64>,
    /// Stop after this long. At least one of `total` and `duration` is set.
    pub duration: Option<Duration>,
    /// Which requests to send, and the watchers' share of the clients.
    pub mix: Mix,
    /// Bytes of ConfigMap data per object.
    pub object_size: usize,
    /// Objects created before the run for get, list and update (0 if the mix has none of them).
    pub list_size: usize,
    /// The run's name in the report; `None` means the server's URL.
    pub label: Option<String>,
}

impl Config {
    /// All clients: request loops and watchers.
    pub fn clients(&self) -> usize {
        self.request_clients + self.watchers
    }
}

impl Options {
    /// Fills in the defaults and checks the result.
    pub fn resolve(self) -> Result<Config> {
        let invalid = |text: String| Err(Error::InvalidOption(text));

        let clients = self.clients.unwrap_or(DEFAULT_CLIENTS);
        if clients == 0 {
            return invalid("--clients must be at least 1".to_owned());
        }
        let mix = self.mix.unwrap_or_default();
        let watchers = mix.watchers(clients);
        if watchers >= clients {
            return invalid(format!(
                "--clients {clients} is too few: watchers take {watchers} and none is left to send requests; \
                 give more clients or drop watch from --mix"
            ));
        }

        if self.duration == Some(Duration::ZERO) {
            return invalid("--duration must be longer than 0".to_owned());
        }
        if self.total == Some(0) {
            return invalid("--total must be at least 1".to_owned());
        }
        let duration = match (self.duration, self.total) {
            (None, None) => Some(DEFAULT_DURATION),
            (duration, _) => duration,
        };

        let object_size = self.object_size.unwrap_or(DEFAULT_OBJECT_SIZE);
        if object_size > MAX_OBJECT_SIZE {
            return invalid(format!(
                "--object-size is limited to {MAX_OBJECT_SIZE} bytes: the API server refuses ConfigMaps over 1 MiB"
            ));
        }
        let list_size = self.list_size.unwrap_or(DEFAULT_LIST_SIZE);
        if list_size > MAX_LIST_SIZE {
            return invalid(format!("--list-size is limited to {MAX_LIST_SIZE}"));
        }
        if list_size == 0 && mix.uses_seeds() {
            return invalid(
                "--list-size 0 leaves nothing to get, list or update; give at least 1 or a mix of create and watch only"
                    .to_owned(),
            );
        }

        if let Some(namespace) = &self.namespace
            && let Err(why) = check_dns_label(namespace)
        {
            return invalid(format!("--namespace {namespace:?} {why}"));
        }
        if let Some(context) = &self.context
            && context.is_empty()
        {
            return invalid("--context must not be empty".to_owned());
        }

        Ok(Config {
            kubeconfig: self.kubeconfig,
            context: self.context,
            namespace: self.namespace,
            request_clients: clients - watchers,
            watchers,
            total: self.total,
            duration,
            mix,
            object_size,
            // Nothing is pre-created when nothing would read it.
            list_size: if mix.uses_seeds() { list_size } else { 0 },
            label: self.label,
        })
    }
}

/// Checks a namespace name as the API server will (an RFC 1123 label), so that a typo fails
/// before anything is created.
pub(crate) fn check_dns_label(name: &str) -> std::result::Result<(), &'static str> {
    if name.is_empty() || name.len() > 63 {
        return Err("must be 1 to 63 characters long");
    }
    if !name
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
    {
        return Err("may hold only lowercase letters, digits and '-'");
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err("must start and end with a letter or digit");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_what_is_not_given() {
        let config = Options::default().resolve().expect("defaults are valid");
        assert_eq!(
            (config.request_clients, config.watchers, config.clients()),
            (14, 2, DEFAULT_CLIENTS)
        );
        assert_eq!(
            (config.duration, config.total),
            (Some(DEFAULT_DURATION), None)
        );
        assert_eq!(config.mix, Mix::default());
        assert_eq!(
            (config.object_size, config.list_size),
            (DEFAULT_OBJECT_SIZE, DEFAULT_LIST_SIZE)
        );
        assert_eq!(
            (config.namespace, config.kubeconfig, config.context),
            (None, None, None)
        );
    }

    #[test]
    fn limits_combine_as_given() {
        let secs = Duration::from_secs;
        // (duration, total) -> (duration, total)
        let cases = [
            ((None, None), (Some(DEFAULT_DURATION), None)),
            ((Some(secs(5)), None), (Some(secs(5)), None)),
            ((None, Some(500)), (None, Some(500))),
            ((Some(secs(5)), Some(500)), (Some(secs(5)), Some(500))),
        ];
        for ((duration, total), expected) in cases {
            let config = Options {
                duration,
                total,
                ..Options::default()
            }
            .resolve()
            .expect("valid");
            assert_eq!((config.duration, config.total), expected);
        }
    }

    #[test]
    fn clients_split_into_request_loops_and_watchers() {
        // (mix, clients) -> (request clients, watchers)
        let cases = [
            ("create=20,get=40,list=10,update=20,watch=10", 2, (1, 1)),
            ("get=1", 3, (3, 0)),
            ("create=1,watch=1", 4, (2, 2)),
            ("update=1,watch=3", 8, (2, 6)),
        ];
        for (mix, clients, expected) in cases {
            let config = Options {
                mix: Some(mix.parse().expect("valid mix")),
                clients: Some(clients),
                ..Options::default()
            }
            .resolve()
            .expect("valid");
            assert_eq!(
                (config.request_clients, config.watchers),
                expected,
                "{mix} with {clients} clients"
            );
        }
    }

    #[test]
    fn rejects_bad_options_with_a_message() {
        let mix = |text: &str| Some(text.parse::<Mix>().expect("valid mix"));
        let cases: Vec<(Options, &str)> = vec![
            (
                Options {
                    clients: Some(0),
                    ..Options::default()
                },
                "--clients must be at least 1",
            ),
            (
                Options {
                    clients: Some(1),
                    ..Options::default()
                },
                "none is left to send requests",
            ),
            (
                Options {
                    clients: Some(2),
                    mix: mix("create=1,watch=9"),
                    ..Options::default()
                },
                "none is left to send requests",
            ),
            (
                Options {
                    duration: Some(Duration::ZERO),
                    ..Options::default()
                },
                "--duration",
            ),
            (
                Options {
                    total: Some(0),
                    ..Options::default()
                },
                "--total",
            ),
            (
                Options {
                    object_size: Some(MAX_OBJECT_SIZE + 1),
                    ..Options::default()
                },
                "--object-size",
            ),
            (
                Options {
                    list_size: Some(MAX_LIST_SIZE + 1),
                    ..Options::default()
                },
                "--list-size is limited",
            ),
            (
                Options {
                    list_size: Some(0),
                    ..Options::default()
                },
                "--list-size 0",
            ),
            (
                Options {
                    namespace: Some("Bench".to_owned()),
                    ..Options::default()
                },
                "lowercase",
            ),
            (
                Options {
                    namespace: Some("bench-".to_owned()),
                    ..Options::default()
                },
                "start and end",
            ),
            (
                Options {
                    namespace: Some("n".repeat(64)),
                    ..Options::default()
                },
                "1 to 63",
            ),
            (
                Options {
                    namespace: Some(String::new()),
                    ..Options::default()
                },
                "1 to 63",
            ),
            (
                Options {
                    context: Some(String::new()),
                    ..Options::default()
                },
                "--context",
            ),
        ];
        for (input, expected) in cases {
            let message = input
                .clone()
                .resolve()
                .err()
                .map(|error| error.to_string())
                .unwrap_or_default();
            assert!(
                message.contains(expected),
                "{input:?}: got {message:?}, expected it to mention {expected:?}"
            );
        }
    }

    #[test]
    fn accepts_what_the_api_server_accepts() {
        let cases = [
            (Options::default(), true),
            (
                Options {
                    list_size: Some(0),
                    mix: Some("create=3,watch=1".parse().expect("valid mix")),
                    ..Options::default()
                },
                true,
            ),
            (
                Options {
                    object_size: Some(0),
                    ..Options::default()
                },
                true,
            ),
            (
                Options {
                    object_size: Some(MAX_OBJECT_SIZE),
                    ..Options::default()
                },
                true,
            ),
            (
                Options {
                    namespace: Some("default".to_owned()),
                    ..Options::default()
                },
                true,
            ),
            (
                Options {
                    namespace: Some("bench-9x".to_owned()),
                    ..Options::default()
                },
                true,
            ),
            (
                Options {
                    namespace: Some("bench_x".to_owned()),
                    ..Options::default()
                },
                false,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(input.clone().resolve().is_ok(), expected, "{input:?}");
        }
    }

    #[test]
    fn nothing_is_pre_created_for_a_mix_that_would_not_read_it() {
        // (mix, --list-size) -> objects pre-created
        let cases = [
            ("create=1,watch=1", Some(50), 0),
            ("create=1", None, 0),
            ("create=1,list=1", Some(50), 50),
            ("update=1", None, DEFAULT_LIST_SIZE),
        ];
        for (mix, list_size, expected) in cases {
            let config = Options {
                mix: Some(mix.parse().expect("valid mix")),
                list_size,
                clients: Some(4),
                ..Options::default()
            }
            .resolve()
            .expect("valid");
            assert_eq!(config.list_size, expected, "{mix}");
        }
    }
}
