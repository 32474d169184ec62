//! What a store benchmark does: the options as given, the presets, and the resolved [`Config`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::endpoint::{Endpoint, TlsFiles};
use super::keys::KeySpace;
use super::mix::Mix;
use crate::{Error, Result};

/// Concurrent request loops when neither --clients nor a preset says.
pub const DEFAULT_CLIENTS: usize = 100;
/// gRPC connections when neither --conns nor a preset says.
pub const DEFAULT_CONNS: usize = 1;
/// Requests when neither --total nor --duration is given.
pub const DEFAULT_TOTAL: u64 = 10_000;
/// Bytes per key after the prefix.
pub const DEFAULT_KEY_SIZE: usize = 8;
/// Bytes per value.
pub const DEFAULT_VAL_SIZE: usize = 256;
/// Distinct keys.
pub const DEFAULT_KEY_SPACE_SIZE: u64 = 10_000;
/// How long one request may take before it counts as an error. Generous, so that a slow target
/// shows up as high latency rather than as errors.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest key or value accepted: above etcd's request limit already, and it keeps a typo
/// from allocating gigabytes per request.
const MAX_ITEM_SIZE: usize = 16 << 20;

/// A named load that mimics a well-known tool's, so that its numbers can be compared directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// `etcdctl check perf --load=l`: 500 clients, each with its own connection, putting 1 KiB
    /// values under 256-byte random keys at up to 8000 requests a second for 60 seconds.
    CheckPerfL,
}

impl Preset {
    /// The name used by --preset and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Preset::CheckPerfL => "check-perf-l",
        }
    }

    fn load(self) -> PresetLoad {
        match self {
            // The numbers are those of etcdctl's "l" perf model; its prefix is kept too, so that
            // the keys (and their length) match what etcdctl writes.
            Preset::CheckPerfL => PresetLoad {
                clients: 500,
                rate: 8000,
                duration: Duration::from_secs(60),
                key_size: 256,
                val_size: 1024,
                key_space_size: u64::MAX,
                prefix: "/etcdctl-check-perf/",
            },
        }
    }
}

impl FromStr for Preset {
    type Err = Error;

    fn from_str(text: &str) -> Result<Preset> {
        match text {
            "check-perf-l" => Ok(Preset::CheckPerfL),
            other => Err(Error::InvalidOption(format!(
                "unknown preset {other:?} (expected check-perf-l)"
            ))),
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The settings a preset fills in when the option is not given.
struct PresetLoad {
    clients: usize,
    rate: u64,
    duration: Duration,
    key_size: usize,
    val_size: usize,
    key_space_size: u64,
    prefix: &'static str,
}

/// How ranges are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Consistency {
    /// Through the leader, after a read-index round (etcd's default).
    #[default]
    Linearizable,
    /// From the local member's state, possibly stale.
    Serializable,
}

impl Consistency {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Consistency::Linearizable => "linearizable",
            Consistency::Serializable => "serializable",
        }
    }
}

/// The options as the user gave them. `None` means "not given", so a preset can fill it in before
/// the defaults do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// --endpoints, each item possibly comma separated.
    pub endpoints: Vec<String>,
    /// --cacert, --cert, --key.
    pub tls: TlsFiles,
    /// --clients.
    pub clients: Option<usize>,
    /// --conns.
    pub conns: Option<usize>,
    /// --total.
    pub total: Option<u64>,
    /// --duration.
    pub duration: Option<Duration>,
    /// --rate, requests per second over all clients; 0 means unlimited.
    pub rate: Option<u64>,
    /// --mix.
    pub mix: Option<Mix>,
    /// --key-size.
    pub key_size: Option<usize>,
    /// --val-size.
    pub val_size: Option<usize>,
    /// --key-space-size.
    pub key_space_size: Option<u64>,
    /// --sequential-keys.
    pub sequential_keys: bool,
    /// --prefix.
    pub prefix: Option<String>,
    /// --linearizable / --serializable.
    pub consistency: Consistency,
    /// --target-leader.
    pub target_leader: bool,
    /// --request-timeout.
    pub request_timeout: Option<Duration>,
    /// --label.
    pub label: Option<String>,
    /// --preset.
    pub preset: Option<Preset>,
}

/// A checked, complete description of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where requests go (before --target-leader narrows them to the leader).
    pub endpoints: Vec<Endpoint>,
    /// The client's TLS files.
    pub tls: TlsFiles,
    /// Concurrent request loops.
    pub clients: usize,
    /// gRPC connections, shared round-robin by the clients; they go round-robin to the endpoints.
    pub conns: usize,
    /// Stop after this many requests.
    pub total: Option<u64>,
    /// Stop after this long. At least one of `total` and `duration` is set.
    pub duration: Option<Duration>,
    /// Requests per second over all clients, if limited.
    pub rate: Option<u64>,
    /// Which requests to send.
    pub mix: Mix,
    /// Which keys they touch.
    pub keys: KeySpace,
    /// Bytes per value.
    pub val_size: usize,
    /// How ranges are served.
    pub consistency: Consistency,
    /// Send everything to the leader.
    pub target_leader: bool,
    /// How long one request may take.
    pub request_timeout: Duration,
    /// The run's name in the report.
    pub label: String,
    /// The preset the run mimics, which also adds a pass/fail verdict and a clean-up.
    pub preset: Option<Preset>,
}

impl Options {
    /// Fills in presets and defaults and checks the result. Precedence: an explicit option, then
    /// the preset, then the default.
    pub fn resolve(self) -> Result<Config> {
        let invalid = |text: String| Err(Error::InvalidOption(text));
        let preset = self.preset.map(Preset::load);

        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return invalid("--cert and --key go together".to_owned());
        }
        if self.tls.any() && self.tls.cacert.is_none() {
            return invalid("--cacert is needed with --cert and --key: the server certificate is checked against it".to_owned());
        }
        let endpoints = Endpoint::parse_list(&self.endpoints, self.tls.any())?;
        if let Some(endpoint) = endpoints
            .iter()
            .find(|endpoint| endpoint.tls() && self.tls.cacert.is_none())
        {
            return invalid(format!(
                "{endpoint} is a TLS endpoint: --cacert is needed to trust its certificate"
            ));
        }

        let clients = self
            .clients
            .or(preset.as_ref().map(|load| load.clients))
            .unwrap_or(DEFAULT_CLIENTS);
        if clients == 0 {
            return invalid("--clients must be at least 1".to_owned());
        }
        // Like etcdctl, whose every client dials its own connection, a preset gives each client
        // one unless --conns says otherwise.
        let conns = self.conns.unwrap_or(if preset.is_some() {
            clients
        } else {
            DEFAULT_CONNS
        });
        if conns == 0 {
            return invalid("--conns must be at least 1".to_owned());
        }
        if conns > clients {
            return invalid(format!(
                "--conns {conns} is more than --clients {clients}: the extra connections would stay idle"
            ));
        }

        let duration = self.duration.or(preset.as_ref().map(|load| load.duration));
        if duration == Some(Duration::ZERO) {
            return invalid("--duration must be longer than 0".to_owned());
        }
        if self.total == Some(0) {
            return invalid("--total must be at least 1".to_owned());
        }
        let total = match (self.total, duration) {
            (None, None) => Some(DEFAULT_TOTAL),
            (total, _) => total,
        };
        let rate = match self.rate {
            Some(0) => None,
            Some(rate) => Some(rate),
            None => preset.as_ref().map(|load| load.rate),
        };

        let key_size = self
            .key_size
            .or(preset.as_ref().map(|load| load.key_size))
            .unwrap_or(DEFAULT_KEY_SIZE);
        let val_size = self
            .val_size
            .or(preset.as_ref().map(|load| load.val_size))
            .unwrap_or(DEFAULT_VAL_SIZE);
        if key_size > MAX_ITEM_SIZE || val_size > MAX_ITEM_SIZE {
            return invalid(format!(
                "--key-size and --val-size are limited to {MAX_ITEM_SIZE} bytes"
            ));
        }
        let key_space_size = self
            .key_space_size
            .or(preset.as_ref().map(|load| load.key_space_size))
            .unwrap_or(DEFAULT_KEY_SPACE_SIZE);
        let prefix = self
            .prefix
            .or(preset.as_ref().map(|load| load.prefix.to_owned()))
            .unwrap_or_default();
        if let Some(preset) = self.preset
            && prefix.is_empty()
        {
            return invalid(format!(
                "--preset {preset} deletes its keys afterwards, so it needs a non-empty --prefix"
            ));
        }
        let keys = KeySpace::new(prefix, key_size, key_space_size, self.sequential_keys)?;

        let request_timeout = self.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT);
        if request_timeout.is_zero() {
            return invalid("--request-timeout must be longer than 0".to_owned());
        }
        let label = self.label.unwrap_or_else(|| {
            endpoints
                .iter()
                .map(Endpoint::to_string)
                .collect::<Vec<_>>()
                .join(",")
        });

        Ok(Config {
            endpoints,
            tls: self.tls,
            clients,
            conns,
            total,
            duration,
            rate,
            mix: self.mix.unwrap_or(Mix::PUTS_ONLY),
            keys,
            val_size,
            consistency: self.consistency,
            target_leader: self.target_leader,
            request_timeout,
            label,
            preset: self.preset,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn options() -> Options {
        Options {
            endpoints: vec!["127.0.0.1:2379".to_owned()],
            ..Options::default()
        }
    }

    #[test]
    fn defaults_fill_what_is_not_given() {
        let config = options().resolve().expect("defaults are valid");
        assert_eq!(config.clients, DEFAULT_CLIENTS);
        assert_eq!(config.conns, 1);
        assert_eq!(
            (config.total, config.duration, config.rate),
            (Some(DEFAULT_TOTAL), None, None)
        );
        assert_eq!(config.mix, Mix::PUTS_ONLY);
        assert_eq!(
            (config.keys.key_size(), config.keys.size(), config.val_size),
            (8, 10_000, 256)
        );
        assert_eq!(config.keys.prefix(), "");
        assert_eq!(config.label, "http://127.0.0.1:2379");
        assert_eq!(config.consistency, Consistency::Linearizable);
    }

    #[test]
    fn a_duration_alone_lifts_the_default_total() {
        let config = Options {
            duration: Some(Duration::from_secs(5)),
            ..options()
        }
        .resolve()
        .expect("valid");
        assert_eq!(
            (config.total, config.duration),
            (None, Some(Duration::from_secs(5)))
        );
        let both = Options {
            duration: Some(Duration::from_secs(5)),
            total: Some(7),
            ..options()
        }
        .resolve()
        .expect("valid");
        assert_eq!(
            (both.total, both.duration),
            (Some(7), Some(Duration::from_secs(5)))
        );
    }

    #[test]
    fn the_preset_fills_in_and_explicit_options_win() {
        let preset = Options {
            preset: Some(Preset::CheckPerfL),
            ..options()
        }
        .resolve()
        .expect("valid");
        assert_eq!(
            (preset.clients, preset.conns, preset.rate),
            (500, 500, Some(8000))
        );
        assert_eq!(
            (preset.total, preset.duration),
            (None, Some(Duration::from_secs(60)))
        );
        assert_eq!((preset.keys.key_size(), preset.val_size), (256, 1024));
        assert_eq!(preset.keys.prefix(), "/etcdctl-check-perf/");

        let overridden = Options {
            preset: Some(Preset::CheckPerfL),
            duration: Some(Duration::from_secs(10)),
            clients: Some(20),
            rate: Some(0),
            ..options()
        }
        .resolve()
        .expect("valid");
        assert_eq!(
            (overridden.clients, overridden.conns, overridden.rate),
            (20, 20, None)
        );
        assert_eq!(overridden.duration, Some(Duration::from_secs(10)));
    }

    #[test]
    fn rejects_contradictions_with_a_message() {
        let tls = |cacert: Option<&str>, cert: Option<&str>, key: Option<&str>| TlsFiles {
            cacert: cacert.map(PathBuf::from),
            cert: cert.map(PathBuf::from),
            key: key.map(PathBuf::from),
        };
        let cases: Vec<(Options, &str)> = vec![
            (
                Options {
                    clients: Some(0),
                    ..options()
                },
                "--clients",
            ),
            (
                Options {
                    conns: Some(0),
                    ..options()
                },
                "--conns",
            ),
            (
                Options {
                    clients: Some(2),
                    conns: Some(3),
                    ..options()
                },
                "idle",
            ),
            (
                Options {
                    total: Some(0),
                    ..options()
                },
                "--total",
            ),
            (
                Options {
                    duration: Some(Duration::ZERO),
                    ..options()
                },
                "--duration",
            ),
            (
                Options {
                    key_size: Some(2),
                    ..options()
                },
                "--key-space-size",
            ),
            (
                Options {
                    val_size: Some(1 << 30),
                    ..options()
                },
                "limited",
            ),
            (
                Options {
                    preset: Some(Preset::CheckPerfL),
                    prefix: Some(String::new()),
                    ..options()
                },
                "non-empty --prefix",
            ),
            (
                Options {
                    tls: tls(Some("ca"), Some("c"), None),
                    ..options()
                },
                "go together",
            ),
            (
                Options {
                    tls: tls(None, Some("c"), Some("k")),
                    ..options()
                },
                "--cacert is needed",
            ),
            (
                Options {
                    endpoints: vec!["https://a:1".to_owned()],
                    ..options()
                },
                "TLS endpoint",
            ),
            (
                Options {
                    endpoints: vec![],
                    ..options()
                },
                "no endpoint",
            ),
            (
                Options {
                    request_timeout: Some(Duration::ZERO),
                    ..options()
                },
                "--request-timeout",
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
    fn certificates_make_bare_endpoints_tls() {
        let tls = TlsFiles {
            cacert: Some(PathBuf::from("ca.pem")),
            ..TlsFiles::default()
        };
        let config = Options { tls, ..options() }.resolve().expect("valid");
        assert!(config.endpoints.iter().all(Endpoint::tls));
    }
}
