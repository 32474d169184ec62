//! What a pod start-up benchmark does: the options as given, and the checked [`Config`] they
//! resolve to.

use std::path::PathBuf;
use std::time::Duration;

use crate::api::config::check_dns_label;
use crate::{Error, Result};

/// Pods created when --count is not given: the size Kubernetes' start-up SLO is stated for.
pub const DEFAULT_COUNT: usize = 100;
/// Concurrent create calls when --concurrency is not given.
pub const DEFAULT_CONCURRENCY: usize = 10;
/// The image every pod runs: hakube's built-in pause, which starts at once and does nothing.
pub const DEFAULT_IMAGE: &str = "hakube/pause";
/// How long the pods get, from the first create, to be Running.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// The most pods one run creates: more measures the node's process table, not the control plane.
pub const MAX_COUNT: usize = 10_000;

/// The options as the user gave them; `None` means "not given".
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// --kubeconfig; `None` means `$KUBECONFIG`, then `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// --context; `None` means the kubeconfig's current context.
    pub context: Option<String>,
    /// --namespace; `None` means a fresh namespace, created for the run and deleted after it.
    pub namespace: Option<String>,
    /// --count.
    pub count: Option<usize>,
    /// --concurrency.
    pub concurrency: Option<usize>,
    /// --image.
    pub image: Option<String>,
    /// --timeout.
    pub timeout: Option<Duration>,
    /// --label.
    pub label: Option<String>,
}

/// A checked, complete description of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The kubeconfig file, if not the default.
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context, if not the current one.
    pub context: Option<String>,
    /// The namespace to work in; `None` means a fresh one.
    pub namespace: Option<String>,
    /// Pods to create.
    pub count: usize,
    /// Create calls in flight at once (never more than `count`).
    pub concurrency: usize,
    /// The image of the pods' one container.
    pub image: String,
    /// How long the pods get, from the first create, to be Running; those that are not by then
    /// are reported as failures.
    pub timeout: Duration,
    /// The run's name in the report; `None` means the server's URL.
    pub label: Option<String>,
}

impl Options {
    /// Fills in the defaults and checks the result.
    pub fn resolve(self) -> Result<Config> {
        let invalid = |text: String| Err(Error::InvalidOption(text));
        let count = self.count.unwrap_or(DEFAULT_COUNT);
        if count == 0 {
            return invalid("--count must be at least 1".to_owned());
        }
        if count > MAX_COUNT {
            return invalid(format!("--count is limited to {MAX_COUNT}"));
        }
        let concurrency = self.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
        if concurrency == 0 {
            return invalid("--concurrency must be at least 1".to_owned());
        }
        let image = self.image.unwrap_or_else(|| DEFAULT_IMAGE.to_owned());
        if image.trim().is_empty() || image.chars().any(char::is_whitespace) {
            return invalid(format!("--image {image:?} is not an image reference"));
        }
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return invalid("--timeout must be longer than 0".to_owned());
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
            count,
            // More creators than pods would only sit idle.
            concurrency: concurrency.min(count),
            image,
            timeout,
            label: self.label,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_what_is_not_given() {
        let config = Options::default().resolve().expect("defaults are valid");
        assert_eq!(
            config,
            Config {
                kubeconfig: None,
                context: None,
                namespace: None,
                count: DEFAULT_COUNT,
                concurrency: DEFAULT_CONCURRENCY,
                image: DEFAULT_IMAGE.to_owned(),
                timeout: DEFAULT_TIMEOUT,
                label: None,
            }
        );
    }

    #[test]
    fn concurrency_never_exceeds_the_pods() {
        // (count, concurrency) -> concurrency
        let cases = [
            (100, None, 10),
            (3, None, 3),
            (5, Some(50), 5),
            (500, Some(50), 50),
        ];
        for (count, concurrency, expected) in cases {
            let config = Options {
                count: Some(count),
                concurrency,
                ..Options::default()
            }
            .resolve()
            .expect("valid");
            assert_eq!(
                config.concurrency, expected,
                "{count} pods, {concurrency:?}"
            );
        }
    }

    #[test]
    fn rejects_bad_options_with_a_message() {
        let cases: Vec<(Options, &str)> = vec![
            (
                Options {
                    count: Some(0),
                    ..Options::default()
                },
                "--count must be at least 1",
            ),
            (
                Options {
                    count: Some(MAX_COUNT + 1),
                    ..Options::default()
                },
                "--count is limited to 10000",
            ),
            (
                Options {
                    concurrency: Some(0),
                    ..Options::default()
                },
                "--concurrency must be at least 1",
            ),
            (
                Options {
                    image: Some(String::new()),
                    ..Options::default()
                },
                "--image \"\" is not an image reference",
            ),
            (
                Options {
                    image: Some("hakube/pause latest".to_owned()),
                    ..Options::default()
                },
                "is not an image reference",
            ),
            (
                Options {
                    timeout: Some(Duration::ZERO),
                    ..Options::default()
                },
                "--timeout must be longer than 0",
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
                    namespace: Some("-bench".to_owned()),
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
                    context: Some(String::new()),
                    ..Options::default()
                },
                "--context must not be empty",
            ),
        ];
        for (options, expected) in cases {
            let error = options
                .clone()
                .resolve()
                .err()
                .map(|error| error.to_string())
                .unwrap_or_default();
            assert!(error.contains(expected), "{options:?}: {error:?}");
        }
    }
}
