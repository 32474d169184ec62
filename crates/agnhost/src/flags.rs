//! Command-line flags read the way agnhost's (Go, pflag) flags are: `--name=value`,
//! `--name value`, bare `--name` for a boolean, and no positional arguments.

use std::collections::BTreeMap;

/// The type of a flag's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `--x` alone means true; a value must be attached (`--x=false`), as in pflag.
    Bool,
    Int,
}

/// One flag a subcommand accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flag {
    pub name: &'static str,
    pub kind: Kind,
    pub default: &'static str,
    pub help: &'static str,
}

impl Flag {
    pub const fn new(
        name: &'static str,
        kind: Kind,
        default: &'static str,
        help: &'static str,
    ) -> Flag {
        Flag {
            name,
            kind,
            default,
            help,
        }
    }
}

/// The flags of one invocation, defaults filled in, each value checked against its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Values(BTreeMap<&'static str, String>);

impl Values {
    pub fn boolean(&self, name: &str) -> bool {
        self.0.get(name).is_some_and(|v| v == "true")
    }

    pub fn int(&self, name: &str) -> i64 {
        self.0.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
    }
}

/// Go's `strconv.ParseBool`, which pflag uses: the spellings it accepts, normalised.
fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn check(flag: &Flag, value: &str) -> Result<String, String> {
    let invalid = |why: &str| {
        format!(
            "invalid argument {value:?} for \"--{}\" flag: {why}",
            flag.name
        )
    };
    match flag.kind {
        Kind::Bool => parse_bool(value)
            .map(|b| b.to_string())
            .ok_or_else(|| invalid("not a boolean")),
        Kind::Int => value
            .parse::<i64>()
            .map(|n| n.to_string())
            .map_err(|_| invalid("not an integer")),
    }
}

/// Parses `args` (the words after the subcommand) against `specs`. Errors read like pflag's.
pub(crate) fn parse(specs: &[Flag], args: &[String]) -> Result<Values, String> {
    let mut values: BTreeMap<&'static str, String> = specs
        .iter()
        .map(|f| (f.name, f.default.to_string()))
        .collect();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        // Go's own flag package takes one dash too; accept both spellings.
        let Some(body) = word
            .strip_prefix("--")
            .or_else(|| word.strip_prefix('-'))
            .filter(|b| !b.is_empty())
        else {
            return Err(format!(
                "unexpected argument {word:?}: this subcommand takes flags only"
            ));
        };
        let (name, attached) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let Some(flag) = specs.iter().find(|f| f.name == name) else {
            return Err(format!("unknown flag: --{name}"));
        };
        let value = match (attached, flag.kind) {
            (Some(value), _) => value.to_string(),
            (None, Kind::Bool) => "true".to_string(),
            // The next word is the value even when it starts with a dash (`--udp-port -1`).
            (None, _) => words
                .next()
                .cloned()
                .ok_or_else(|| format!("flag needs an argument: --{name}"))?,
        };
        values.insert(flag.name, check(flag, &value)?);
    }
    Ok(Values(values))
}

/// The flags' help, one line each, for `agnhost help <subcommand>`.
pub(crate) fn usage(specs: &[Flag]) -> String {
    specs
        .iter()
        .map(|f| {
            let value = match f.kind {
                Kind::Bool => "",
                Kind::Int => " int",
            };
            format!(
                "      --{}{value}  {} (default {:?})\n",
                f.name, f.help, f.default
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[Flag] = &[
        Flag::new("port", Kind::Int, "9376", "port"),
        Flag::new("http", Kind::Bool, "true", "serve HTTP"),
        Flag::new("tcp", Kind::Bool, "false", "serve TCP"),
    ];

    fn words(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_parse_like_pflag() {
        // (args, port, http, tcp)
        let cases: &[(&[&str], i64, bool, bool)] = &[
            (&[], 9376, true, false),
            (&["--port=80"], 80, true, false),
            (&["--port", "80"], 80, true, false),
            (&["-port", "81"], 81, true, false),
            (&["--port", "-1"], -1, true, false),
            (&["--tcp"], 9376, true, true),
            (&["--http=false", "--tcp"], 9376, false, true),
            (&["--http=0", "--tcp=T"], 9376, false, true),
            (&["--port=1", "--port=2"], 2, true, false),
        ];
        for (args, port, http, tcp) in cases {
            let values = parse(SPECS, &words(args)).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert_eq!(
                (
                    values.int("port"),
                    values.boolean("http"),
                    values.boolean("tcp")
                ),
                (*port, *http, *tcp),
                "{args:?}"
            );
        }
    }

    #[test]
    fn bad_flags_are_named() {
        let cases: &[(&[&str], &str)] = &[
            (&["--nope"], "unknown flag: --nope"),
            (&["--port"], "flag needs an argument: --port"),
            (
                &["--port=eighty"],
                "invalid argument \"eighty\" for \"--port\" flag: not an integer",
            ),
            (
                &["--http=maybe"],
                "invalid argument \"maybe\" for \"--http\" flag: not a boolean",
            ),
            (
                &["80"],
                "unexpected argument \"80\": this subcommand takes flags only",
            ),
            // A boolean's value must be attached, so a separate word is a stray argument.
            (
                &["--tcp", "true"],
                "unexpected argument \"true\": this subcommand takes flags only",
            ),
        ];
        for (args, expected) in cases {
            assert_eq!(
                parse(SPECS, &words(args)).unwrap_err(),
                *expected,
                "{args:?}"
            );
        }
    }
}
