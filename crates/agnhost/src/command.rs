//! The subcommands agnhost offers and their flags, parsed from the container's arguments.

use crate::flags::{self, Flag, Kind};

/// `serve-hostname`'s choices of what to serve on its port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeHostname {
    pub port: u16,
    pub http: bool,
    pub tcp: bool,
    pub udp: bool,
    /// Close the connection after each HTTP answer.
    pub close: bool,
}

/// One agnhost invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// An HTTP server answering `Hello from <pod> (<pod IP>)` (minikube's HA tutorial's image).
    Hello {
        port: u16,
    },
    ServeHostname(ServeHostname),
    /// The HTTP server of test endpoints, and a UDP server unless its port is `None` (`-1`).
    Netexec {
        http_port: u16,
        udp_port: Option<u16>,
    },
    /// Healthy for 10 seconds, then failing: a liveness probe's target.
    Liveness,
    /// Does nothing until told to stop.
    Pause,
    /// Prints the usage of agnhost or of one subcommand.
    Help(Option<String>),
}

/// The subcommands, as `help` lists them.
pub const SUBCOMMANDS: [(&str, &str); 6] = [
    (
        "hello",
        "Serves \"Hello from <pod> (<pod IP>)\" over HTTP on --port (80)",
    ),
    (
        "help",
        "Prints this list, or the flags of the subcommand named after it",
    ),
    (
        "liveness",
        "Serves /healthz on 8080: 200 for 10 seconds, then 500",
    ),
    (
        "netexec",
        "Serves test endpoints (/echo, /hostname, /clientip, /shell, /exit...) over HTTP and UDP",
    ),
    ("pause", "Does nothing until SIGTERM or SIGINT"),
    (
        "serve-hostname",
        "Serves the pod's hostname over HTTP, or raw over TCP and/or UDP",
    ),
];

const HELLO: &[Flag] = &[Flag::new("port", Kind::Int, "80", "Port to listen on.")];
const SERVE_HOSTNAME: &[Flag] = &[
    Flag::new("tcp", Kind::Bool, "false", "Serve raw over TCP."),
    Flag::new("udp", Kind::Bool, "false", "Serve raw over UDP."),
    Flag::new("http", Kind::Bool, "true", "Serve HTTP."),
    Flag::new(
        "close",
        Kind::Bool,
        "false",
        "Close connection per each HTTP request.",
    ),
    Flag::new("port", Kind::Int, "9376", "Port number."),
];
const NETEXEC: &[Flag] = &[
    Flag::new("http-port", Kind::Int, "8080", "HTTP Listen Port"),
    Flag::new(
        "udp-port",
        Kind::Int,
        "8081",
        "UDP Listen Port (-1 disables the UDP server)",
    ),
];
const NONE: &[Flag] = &[];

fn specs(subcommand: &str) -> Option<&'static [Flag]> {
    match subcommand {
        "hello" => Some(HELLO),
        "serve-hostname" => Some(SERVE_HOSTNAME),
        "netexec" => Some(NETEXEC),
        "liveness" | "pause" => Some(NONE),
        _ => None,
    }
}

fn port(name: &str, value: i64) -> Result<u16, String> {
    u16::try_from(value).map_err(|_| format!("--{name} {value} is not a port (0-65535)"))
}

fn unknown(subcommand: &str) -> String {
    let names: Vec<&str> = SUBCOMMANDS.iter().map(|(name, _)| *name).collect();
    format!(
        "unknown subcommand {subcommand:?}; the subcommands are: {}",
        names.join(", ")
    )
}

impl Command {
    /// Parses the arguments: the subcommand, then its flags. The error says what is wrong.
    pub fn parse(args: &[String]) -> Result<Command, String> {
        let Some((subcommand, rest)) = args.split_first() else {
            return Err(format!("no subcommand given\n\n{}", usage()));
        };
        let subcommand = subcommand.as_str();
        if matches!(subcommand, "help" | "--help" | "-h") {
            return Ok(Command::Help(rest.first().cloned()));
        }
        let Some(specs) = specs(subcommand) else {
            return Err(unknown(subcommand));
        };
        if rest.iter().any(|a| a == "--help" || a == "-h") {
            return Ok(Command::Help(Some(subcommand.to_string())));
        }
        let values = flags::parse(specs, rest).map_err(|e| format!("{subcommand}: {e}"))?;
        let command = match subcommand {
            "hello" => Command::Hello {
                port: port("port", values.int("port"))?,
            },
            "serve-hostname" => {
                let serve = ServeHostname {
                    port: port("port", values.int("port"))?,
                    http: values.boolean("http"),
                    tcp: values.boolean("tcp"),
                    udp: values.boolean("udp"),
                    close: values.boolean("close"),
                };
                // agnhost's rule: raw and HTTP serving share the port, so only one kind at once.
                if serve.http && (serve.tcp || serve.udp) {
                    return Err(
                        "serve-hostname: can't serve TCP/UDP mode and HTTP mode at the same time (add --http=false)"
                            .into(),
                    );
                }
                Command::ServeHostname(serve)
            }
            "netexec" => Command::Netexec {
                http_port: port("http-port", values.int("http-port"))?,
                udp_port: match values.int("udp-port") {
                    -1 => None,
                    n => Some(port("udp-port", n)?),
                },
            },
            "liveness" => Command::Liveness,
            _ => Command::Pause,
        };
        Ok(command)
    }
}

/// The help text: agnhost's subcommands, or one subcommand's flags.
pub fn help(subcommand: Option<&str>) -> Result<String, String> {
    let Some(subcommand) = subcommand else {
        return Ok(usage());
    };
    let specs = specs(subcommand).ok_or_else(|| unknown(subcommand))?;
    let about = SUBCOMMANDS
        .iter()
        .find(|(name, _)| *name == subcommand)
        .map(|(_, about)| *about)
        .unwrap_or_default();
    let flags = if specs.is_empty() {
        "It takes no flags.\n".to_string()
    } else {
        format!("Flags:\n{}", flags::usage(specs))
    };
    Ok(format!(
        "{about}.\n\nUsage:\n  agnhost {subcommand} [flags]\n\n{flags}"
    ))
}

fn usage() -> String {
    let mut text = String::from(
        "agnhost: hakube's test image (hakube/agnhost), modelled on Kubernetes' e2e agnhost.\n\nUsage:\n  agnhost <subcommand> [flags]\n\nSubcommands:\n",
    );
    for (name, about) in SUBCOMMANDS {
        text.push_str(&format!("  {name:<16}{about}\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        Command::parse(&args)
    }

    #[test]
    fn subcommands_and_their_defaults() {
        let hostname = |port, http, tcp, udp, close| {
            Command::ServeHostname(ServeHostname {
                port,
                http,
                tcp,
                udp,
                close,
            })
        };
        let cases: Vec<(&[&str], Command)> = vec![
            (&["hello"], Command::Hello { port: 80 }),
            (&["hello", "--port", "8080"], Command::Hello { port: 8080 }),
            (&["hello", "--port=0"], Command::Hello { port: 0 }),
            (
                &["serve-hostname"],
                hostname(9376, true, false, false, false),
            ),
            (
                &["serve-hostname", "--close", "--port=80"],
                hostname(80, true, false, false, true),
            ),
            (
                &["serve-hostname", "--http=false", "--tcp", "--udp"],
                hostname(9376, false, true, true, false),
            ),
            (
                &["netexec"],
                Command::Netexec {
                    http_port: 8080,
                    udp_port: Some(8081),
                },
            ),
            (
                &["netexec", "--http-port=80", "--udp-port", "-1"],
                Command::Netexec {
                    http_port: 80,
                    udp_port: None,
                },
            ),
            (&["pause"], Command::Pause),
            (&["liveness"], Command::Liveness),
            (&["help"], Command::Help(None)),
            (&["help", "netexec"], Command::Help(Some("netexec".into()))),
            (&["hello", "--help"], Command::Help(Some("hello".into()))),
        ];
        for (args, expected) in cases {
            assert_eq!(parse(args), Ok(expected), "{args:?}");
        }
    }

    #[test]
    fn mistakes_are_explained() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["nginx"],
                "unknown subcommand \"nginx\"; the subcommands are: hello, help, liveness, netexec, pause, serve-hostname",
            ),
            (
                &["hello", "--port=70000"],
                "--port 70000 is not a port (0-65535)",
            ),
            (
                &["netexec", "--udp-port=-2"],
                "--udp-port -2 is not a port (0-65535)",
            ),
            (&["pause", "--port=1"], "pause: unknown flag: --port"),
            (
                &["serve-hostname", "--tcp"],
                "serve-hostname: can't serve TCP/UDP mode and HTTP mode at the same time (add --http=false)",
            ),
        ];
        for (args, expected) in cases {
            assert_eq!(parse(args), Err(expected.to_string()), "{args:?}");
        }
        assert!(parse(&[]).unwrap_err().starts_with("no subcommand given"));
    }

    #[test]
    fn help_lists_subcommands_and_flags() {
        let all = help(None).unwrap();
        for (name, _) in SUBCOMMANDS {
            assert!(all.contains(name), "{name} missing from {all}");
        }
        let netexec = help(Some("netexec")).unwrap();
        assert!(netexec.contains("--udp-port int"), "{netexec}");
        assert!(help(Some("pause")).unwrap().contains("no flags"));
        assert!(help(Some("nope")).is_err());
    }
}
