//! The options of an exec or attach request, from its query string: `command` (repeated),
//! `stdin`, `stdout`, `stderr` and `tty`. The API server sends `1` for a stream it wants (as
//! kube-apiserver does); `true` is accepted too, for clients that talk to the kubelet directly.

/// Which streams a request wants, and for exec the command.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct StreamOptions {
    pub command: Vec<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

fn truthy(value: &str) -> bool {
    value == "1" || value.eq_ignore_ascii_case("true")
}

impl StreamOptions {
    /// Reads the options. `exec` requests need a command; every request needs at least one
    /// stream. With a tty, stderr is dropped: a terminal has one output, as in the kubelet.
    pub fn from_query(query: &str, exec: bool) -> Result<StreamOptions, String> {
        let mut options = StreamOptions::default();
        for (key, value) in form_pairs(query) {
            match key.as_str() {
                "command" => options.command.push(value),
                "input" | "stdin" => options.stdin = truthy(&value),
                "output" | "stdout" => options.stdout = truthy(&value),
                "error" | "stderr" => options.stderr = truthy(&value),
                "tty" => options.tty = truthy(&value),
                _ => {}
            }
        }
        if exec && options.command.is_empty() {
            return Err("you must specify at least one command for the container".into());
        }
        if !(options.stdin || options.stdout || options.stderr) {
            return Err("you must specify at least 1 of stdin, stdout, stderr".into());
        }
        if options.tty {
            options.stderr = false;
        }
        Ok(options)
    }
}

/// `application/x-www-form-urlencoded` pairs, decoded; a pair that does not decode is skipped.
fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(key)?, decode(value)?))
        })
        .collect()
}

/// Percent-decoding with `+` as a space.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(
        command: &[&str],
        stdin: bool,
        stdout: bool,
        stderr: bool,
        tty: bool,
    ) -> StreamOptions {
        StreamOptions {
            command: command.iter().map(|s| s.to_string()).collect(),
            stdin,
            stdout,
            stderr,
            tty,
        }
    }

    #[test]
    fn queries_to_options() {
        let cases = [
            (
                "command=hostname&stdout=1&stderr=1",
                true,
                Ok(options(&["hostname"], false, true, true, false)),
            ),
            (
                "command=sh&command=-c&command=echo+%22a+b%22%3B+exit+3&stdin=true&stdout=true",
                true,
                Ok(options(
                    &["sh", "-c", "echo \"a b\"; exit 3"],
                    true,
                    true,
                    false,
                    false,
                )),
            ),
            // A terminal has one output: stderr goes.
            (
                "command=sh&stdin=1&stdout=1&stderr=1&tty=1",
                true,
                Ok(options(&["sh"], true, true, false, true)),
            ),
            // Attach has no command.
            (
                "stdout=1",
                false,
                Ok(options(&[], false, true, false, false)),
            ),
            (
                "stdout=1",
                true,
                Err("you must specify at least one command for the container".to_string()),
            ),
            (
                "command=ls&stdout=0&stdin=false",
                true,
                Err("you must specify at least 1 of stdin, stdout, stderr".to_string()),
            ),
            // A broken escape drops that pair only.
            (
                "command=ls&command=%zz&stdout=1",
                true,
                Ok(options(&["ls"], false, true, false, false)),
            ),
        ];
        for (query, exec, expected) in cases {
            assert_eq!(StreamOptions::from_query(query, exec), expected, "{query}");
        }
    }
}
