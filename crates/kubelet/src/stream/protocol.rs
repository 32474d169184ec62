//! The channel protocol over the WebSocket (`v4`/`v5.channel.k8s.io`): each binary message
//! starts with a channel byte (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize; in v5, 255 is a
//! control message whose next byte names a channel the sender closes), and the error channel
//! carries the outcome as a metav1.Status.

use serde_json::{Value, json};

use super::handshake::Protocol;

pub(crate) const STDIN: u8 = 0;
pub(crate) const STDOUT: u8 = 1;
pub(crate) const STDERR: u8 = 2;
pub(crate) const ERROR: u8 = 3;
pub(crate) const RESIZE: u8 = 4;
/// v5's control channel: `[255, n]` says the sender will write no more on channel `n`.
pub(crate) const CLOSE: u8 = 255;

/// What one message from the client means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Inbound {
    Stdin(Vec<u8>),
    /// The client's stdin ended (v5 only): the process's stdin is closed.
    StdinClosed,
    /// The client's terminal size changed.
    Resize {
        width: u16,
        height: u16,
    },
    /// A message for no channel the client may write, or empty.
    Ignored,
}

/// Reads one binary message from the client.
pub(crate) fn decode(message: &[u8], protocol: Protocol) -> Inbound {
    let Some((&channel, data)) = message.split_first() else {
        return Inbound::Ignored;
    };
    match channel {
        STDIN => Inbound::Stdin(data.to_vec()),
        RESIZE => {
            let size: Value = serde_json::from_slice(data).unwrap_or(Value::Null);
            let dimension = |name: &str| size[name].as_u64().and_then(|n| u16::try_from(n).ok());
            match (dimension("Width"), dimension("Height")) {
                (Some(width), Some(height)) => Inbound::Resize { width, height },
                _ => Inbound::Ignored,
            }
        }
        CLOSE if protocol == Protocol::V5 && data.first() == Some(&STDIN) => Inbound::StdinClosed,
        _ => Inbound::Ignored,
    }
}

/// One message to the client on `channel`.
pub(crate) fn frame(channel: u8, data: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(data.len() + 1);
    message.push(channel);
    message.extend_from_slice(data);
    message
}

/// The Status of a command that exited 0.
pub(crate) fn success() -> Value {
    json!({"metadata": {}, "status": "Success"})
}

/// The Status of a command that exited with `code`: kubectl reads the exit code from the
/// `ExitCode` cause and exits with it ("command terminated with exit code N").
pub(crate) fn exit_failure(code: i32) -> Value {
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!("command terminated with non-zero exit code: exit status {code}"),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
}

/// The Status of a command that could not run at all, as kubectl prints it
/// (`error: Internal error occurred: error executing command in container: ...`).
pub(crate) fn internal_error(why: &str) -> Value {
    let message = format!("error executing command in container: {why}");
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!("Internal error occurred: {message}"),
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    })
}

/// The Status of a request this kubelet cannot serve.
pub(crate) fn not_implemented(message: &str) -> Value {
    json!({
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "NotImplemented",
        "code": 501,
    })
}

/// Why a program did not start, in Go's words (`exec: "x": executable file not found in $PATH`).
pub(crate) fn spawn_failure(program: &str, error: &std::io::Error) -> String {
    let why = match error.kind() {
        std::io::ErrorKind::NotFound if !program.contains('/') => {
            "executable file not found in $PATH".to_string()
        }
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => error.to_string(),
    };
    format!("exec: {program:?}: {why}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages() {
        let cases: [(&[u8], Protocol, Inbound); 8] = [
            (
                b"\x00ls -l\n",
                Protocol::V5,
                Inbound::Stdin(b"ls -l\n".to_vec()),
            ),
            (b"\x00", Protocol::V4, Inbound::Stdin(Vec::new())),
            (
                b"\x04{\"Width\":120,\"Height\":40}",
                Protocol::V5,
                Inbound::Resize {
                    width: 120,
                    height: 40,
                },
            ),
            (b"\x04{\"Width\":-1}", Protocol::V5, Inbound::Ignored),
            (b"\xff\x00", Protocol::V5, Inbound::StdinClosed),
            // v4 has no close signal; a close of another channel means nothing here.
            (b"\xff\x00", Protocol::V4, Inbound::Ignored),
            (b"\xff\x04", Protocol::V5, Inbound::Ignored),
            (b"", Protocol::V5, Inbound::Ignored),
        ];
        for (message, protocol, expected) in cases {
            assert_eq!(decode(message, protocol), expected, "{message:?}");
        }
        assert_eq!(frame(STDOUT, b"hi"), b"\x01hi");
    }

    #[test]
    fn statuses_read_like_the_kubelets() {
        assert_eq!(
            success().to_string(),
            r#"{"metadata":{},"status":"Success"}"#
        );
        let failure = exit_failure(3);
        assert_eq!(failure["reason"], "NonZeroExitCode");
        assert_eq!(
            failure["details"]["causes"],
            json!([{"reason": "ExitCode", "message": "3"}])
        );
        let internal = internal_error("exec: \"nope\": executable file not found in $PATH");
        assert_eq!(
            internal["message"],
            "Internal error occurred: error executing command in container: exec: \"nope\": executable file not found in $PATH"
        );
        assert_eq!(internal["code"], 500);
    }

    #[test]
    fn spawn_failures_read_like_go() {
        use std::io::{Error, ErrorKind};
        let cases = [
            (
                "nope",
                ErrorKind::NotFound,
                "exec: \"nope\": executable file not found in $PATH",
            ),
            (
                "/bin/nope",
                ErrorKind::NotFound,
                "exec: \"/bin/nope\": no such file or directory",
            ),
            (
                "./x",
                ErrorKind::PermissionDenied,
                "exec: \"./x\": permission denied",
            ),
        ];
        for (program, kind, expected) in cases {
            assert_eq!(spawn_failure(program, &Error::from(kind)), expected);
        }
    }
}
