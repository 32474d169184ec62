//! Container probes, the pure part: a probe's timing and action from the container spec (named
//! ports resolved), and the thresholds that turn single results into a probe's verdict. The
//! probes themselves run in `probe_run`.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Which probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ProbeKind {
    Startup,
    Liveness,
    Readiness,
}

impl ProbeKind {
    /// As the kubelet names it in events: "Liveness probe failed: ...".
    pub(crate) fn label(self) -> &'static str {
        match self {
            ProbeKind::Startup => "Startup",
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
        }
    }

    /// The probe's spec in a container, if it has one.
    pub(crate) fn of(self, container: &Container) -> Option<&Probe> {
        match self {
            ProbeKind::Startup => container.startup_probe.as_ref(),
            ProbeKind::Liveness => container.liveness_probe.as_ref(),
            ProbeKind::Readiness => container.readiness_probe.as_ref(),
        }
    }
}

/// When a probe runs and how many results make a verdict (Kubernetes' defaults for unset fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timing {
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

impl Timing {
    fn of(probe: &Probe) -> Timing {
        let secs = |value: Option<i32>, default: u64, min: u64| {
            Duration::from_secs(value.map_or(default, |v| u64::try_from(v).unwrap_or(0).max(min)))
        };
        let count = |value: Option<i32>, default: u32| {
            value.map_or(default, |v| u32::try_from(v).unwrap_or(1).max(1))
        };
        Timing {
            initial_delay: secs(probe.initial_delay_seconds, 0, 0),
            period: secs(probe.period_seconds, 10, 1),
            timeout: secs(probe.timeout_seconds, 1, 1),
            success_threshold: count(probe.success_threshold, 1),
            failure_threshold: count(probe.failure_threshold, 3),
        }
    }

    /// The first run, after the container started.
    pub(crate) fn first_run(&self, container_started: Instant) -> Instant {
        container_started + self.initial_delay
    }

    /// The run after one that started at `last`.
    pub(crate) fn next_run(&self, last: Instant) -> Instant {
        last + self.period
    }
}

/// What a probe does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// GET `scheme://host:port/path`; the host defaults to the pod's IP.
    Http {
        https: bool,
        host: Option<String>,
        port: u16,
        path: String,
        headers: Vec<(String, String)>,
    },
    Tcp {
        host: Option<String>,
        port: u16,
    },
    /// A command run like the container's own processes; exit status 0 passes.
    Exec {
        command: Vec<String>,
    },
    Grpc {
        port: u16,
    },
}

/// One probe of a container, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProbeSpec {
    pub kind: ProbeKind,
    pub timing: Timing,
    /// An error (a named port the container does not declare, a probe with no handler) is the
    /// message every run of the probe fails with.
    pub action: Result<Action, String>,
}

/// Resolves a container's probe.
pub(crate) fn probe_spec(kind: ProbeKind, probe: &Probe, container: &Container) -> ProbeSpec {
    ProbeSpec {
        kind,
        timing: Timing::of(probe),
        action: action(probe, container),
    }
}

fn action(probe: &Probe, container: &Container) -> Result<Action, String> {
    if let Some(http) = &probe.http_get {
        let path = http.path.clone().unwrap_or_default();
        let path = if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        };
        return Ok(Action::Http {
            https: http
                .scheme
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("HTTPS")),
            host: http.host.clone().filter(|h| !h.is_empty()),
            port: port(&http.port, container)?,
            path,
            headers: http
                .http_headers
                .iter()
                .flatten()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
        });
    }
    if let Some(tcp) = &probe.tcp_socket {
        return Ok(Action::Tcp {
            host: tcp.host.clone().filter(|h| !h.is_empty()),
            port: port(&tcp.port, container)?,
        });
    }
    if let Some(exec) = &probe.exec {
        return Ok(Action::Exec {
            command: exec.command.clone().unwrap_or_default(),
        });
    }
    if let Some(grpc) = &probe.grpc {
        let port = u16::try_from(grpc.port).map_err(|_| format!("invalid port {}", grpc.port))?;
        return Ok(Action::Grpc { port });
    }
    Err("the probe has no handler (httpGet, tcpSocket, exec or grpc)".to_string())
}

/// A probe's port: a number, or the name of one of the container's ports.
fn port(port: &IntOrString, container: &Container) -> Result<u16, String> {
    let number = match port {
        IntOrString::Int(n) => *n,
        IntOrString::String(text) => match text.parse::<i32>() {
            Ok(n) => n,
            Err(_) => container
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(text.as_str()))
                .map(|p| p.container_port)
                .ok_or_else(|| format!("couldn't find port {text:?} in the container"))?,
        },
    };
    u16::try_from(number)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("invalid port number: {number}"))
}

/// Turns single results into the probe's verdict: it changes only after `success_threshold`
/// passes or `failure_threshold` failures in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tracker {
    timing: Timing,
    last: Option<bool>,
    run: u32,
    verdict: bool,
}

impl Tracker {
    /// A liveness probe starts out passing (a container is alive until proven otherwise);
    /// readiness and startup probes start out failing.
    pub(crate) fn new(kind: ProbeKind, timing: Timing) -> Self {
        Tracker {
            timing,
            last: None,
            run: 0,
            verdict: kind == ProbeKind::Liveness,
        }
    }

    /// Records one result; returns the new verdict when it changes.
    pub(crate) fn record(&mut self, passed: bool) -> Option<bool> {
        if self.last == Some(passed) {
            self.run = self.run.saturating_add(1);
        } else {
            self.last = Some(passed);
            self.run = 1;
        }
        let threshold = if passed {
            self.timing.success_threshold
        } else {
            self.timing.failure_threshold
        };
        if self.run < threshold || self.verdict == passed {
            return None;
        }
        self.verdict = passed;
        Some(passed)
    }
}

#[cfg(test)]
mod tests;
