//! `netexec`: agnhost's HTTP server of test endpoints (`/`, `/clientip`, `/dial`, `/echo`,
//! `/exit`, `/healthz`, `/hostname`, `/hostName`, `/redirect`, `/serverport`, `/shell`,
//! `/shutdown`) and its UDP server (`hostname`, `echo <msg>`, `clientip`). What a request asks
//! for is decided in [`route`]; running commands, dialling and exiting happen in the server.
//! Not built: `/upload` (answers 501) and the SCTP server and TLS flags.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::{HeaderValue, Request, StatusCode, header};
use hyper::body::Incoming;
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, watch};

use crate::duration;
use crate::error::{Error, Result};
use crate::pod::PodEnv;
use crate::server::{self, Answer, Peer};

/// How long each `/dial` attempt may take (netexec's client timeout).
const DIAL_TIMEOUT: Duration = Duration::from_secs(5);

/// A protocol `/dial` can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Http,
    Udp,
}

/// What one HTTP request asks netexec to do.
#[derive(Debug, PartialEq)]
pub(crate) enum Action {
    /// Answer at once.
    Answer(StatusCode, String),
    /// Redirect to a location with a status.
    Redirect(StatusCode, String),
    /// Run a command with `/bin/sh -c` and answer its output as JSON.
    Shell(String),
    /// Dial another server `tries` times and answer the collected responses and errors as JSON.
    Dial {
        host: String,
        port: String,
        request: String,
        protocol: Protocol,
        tries: u32,
    },
    /// Exit with `code` after `wait`: at once when `timeout` is zero, else after a graceful
    /// shutdown that gives connections up to `timeout`.
    Exit {
        code: i32,
        wait: Duration,
        timeout: Duration,
    },
    /// The request could not be served by this server.
    NotImplemented(&'static str),
}

fn query_value(query: &[(String, String)], key: &str) -> String {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn ok(body: impl Into<String>) -> Action {
    Action::Answer(StatusCode::OK, body.into())
}

/// Decides what a request for `path` with `query` asks for. `ready` is `/healthz`'s state.
pub(crate) fn route(
    path: &str,
    query: &str,
    env: &PodEnv,
    peer: Peer,
    now: jiff::Timestamp,
    ready: bool,
) -> Action {
    let query: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let value = |key: &str| query_value(&query, key);
    match path {
        "/" => ok(format!("NOW: {now}")),
        "/clientip" => ok(peer.remote.to_string()),
        "/serverport" => ok(peer.local.port().to_string()),
        "/hostname" | "/hostName" => ok(env.hostname.clone()),
        "/healthz" if ready => ok(""),
        "/healthz" => Action::Answer(StatusCode::PRECONDITION_FAILED, String::new()),
        "/echo" => {
            let message = value("msg");
            let code = value("code");
            if code.is_empty() {
                return ok(message);
            }
            match code
                .parse::<u16>()
                .ok()
                .and_then(|c| StatusCode::from_u16(c).ok())
            {
                Some(status) => Action::Answer(status, message),
                None => ok(format!(
                    "argument 'code' must be an integer or empty, got {code:?}\n"
                )),
            }
        }
        "/redirect" => {
            let location = value("location");
            let code = value("code");
            let status = if code.is_empty() {
                Some(StatusCode::FOUND)
            } else {
                code.parse::<u16>()
                    .ok()
                    .and_then(|c| StatusCode::from_u16(c).ok())
            };
            match status {
                Some(status) => Action::Redirect(status, location),
                None => Action::Answer(
                    StatusCode::BAD_REQUEST,
                    format!("argument 'code' must be an integer or empty, got {code:?}\n"),
                ),
            }
        }
        "/shell" => {
            let command = Some(value("shellCommand"))
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| value("cmd"));
            Action::Shell(command)
        }
        "/exit" => exit(&value("code"), &value("wait"), &value("timeout")),
        "/shutdown" => Action::Exit {
            code: 0,
            wait: Duration::ZERO,
            timeout: Duration::ZERO,
        },
        "/dial" => dial(
            &value("host"),
            &value("port"),
            &value("request"),
            &value("protocol"),
            &value("tries"),
        ),
        "/upload" => Action::NotImplemented("/upload is not built in hakube's agnhost"),
        _ => Action::Answer(StatusCode::NOT_FOUND, "404 page not found\n".into()),
    }
}

fn exit(code: &str, wait: &str, timeout: &str) -> Action {
    let duration_of = |name: &str, text: &str| {
        if text.is_empty() {
            return Ok(Duration::ZERO);
        }
        duration::parse(text).map_err(|_| {
            ok(format!(
                "argument '{name}' must be a valid golang duration or empty, got {text:?}\n"
            ))
        })
    };
    let timeout = match duration_of("timeout", timeout) {
        Ok(d) => d,
        Err(answer) => return answer,
    };
    let wait = match duration_of("wait", wait) {
        Ok(d) => d,
        Err(answer) => return answer,
    };
    let code = if code.is_empty() {
        0
    } else {
        match code.parse::<i32>() {
            Ok(code) if (0..=127).contains(&code) => code,
            _ => {
                return ok(format!(
                    "argument 'code' must be an integer [0-127] or empty, got {code:?}\n"
                ));
            }
        }
    };
    Action::Exit {
        code,
        wait,
        timeout,
    }
}

fn dial(host: &str, port: &str, request: &str, protocol: &str, tries: &str) -> Action {
    let bad = |message: String| Action::Answer(StatusCode::BAD_REQUEST, message + "\n");
    let tries = if tries.is_empty() {
        1
    } else {
        match tries.parse::<u32>() {
            Ok(n) => n,
            Err(e) => return bad(format!("tries parameter is invalid. {e}")),
        }
    };
    if request.is_empty() {
        return bad("request parameter not specified.".into());
    }
    let protocol = match protocol.to_ascii_lowercase().as_str() {
        "" | "http" => Protocol::Http,
        "udp" => Protocol::Udp,
        other => return bad(format!("unsupported protocol. {other}")),
    };
    if host.is_empty() || port.parse::<u16>().is_err() {
        return bad(format!(
            "host and/or port param are invalid. {host:?}:{port:?}"
        ));
    }
    Action::Dial {
        host: host.into(),
        port: port.into(),
        request: request.into(),
        protocol,
        tries,
    }
}

/// The JSON `/shell` answers: the combined output and Go's wording of a failed command.
pub(crate) fn shell_result(output: &[u8], exit: Result<Option<i32>, String>) -> Value {
    let mut result = Map::new();
    if !output.is_empty() {
        result.insert(
            "output".into(),
            json!(String::from_utf8_lossy(output).into_owned()),
        );
    }
    match exit {
        Ok(Some(0)) => {}
        Ok(Some(code)) => {
            result.insert("error".into(), json!(format!("exit status {code}")));
        }
        Ok(None) => {
            result.insert("error".into(), json!("signal: killed"));
        }
        Err(e) => {
            result.insert("error".into(), json!(e));
        }
    }
    Value::Object(result)
}

/// The JSON `/dial` answers: the non-empty lists of responses and errors.
pub(crate) fn dial_result(responses: &[String], errors: &[String]) -> Value {
    let mut result = Map::new();
    if !responses.is_empty() {
        result.insert("responses".into(), json!(responses));
    }
    if !errors.is_empty() {
        result.insert("errors".into(), json!(errors));
    }
    Value::Object(result)
}

/// The UDP server's reply to one datagram, if the command is one it knows.
pub(crate) fn udp_reply(datagram: &str, env: &PodEnv, remote: SocketAddr) -> Option<String> {
    let datagram = datagram.trim();
    match datagram.split_once(' ') {
        Some(("echo", message)) => Some(message.to_string()),
        _ => match datagram {
            "hostname" | "hostName" => Some(env.hostname.clone()),
            "clientip" => Some(remote.to_string()),
            "echo" => Some(String::new()),
            _ => None,
        },
    }
}

/// An exit netexec's server was asked for.
#[derive(Debug, Clone, Copy)]
struct ExitRequest {
    code: i32,
    timeout: Duration,
}

/// Runs netexec until `stop` (exit code 0) or an `/exit` (its code).
pub(crate) async fn run(
    env: PodEnv,
    http_port: u16,
    udp_port: Option<u16>,
    stop: watch::Receiver<bool>,
) -> Result<i32> {
    let ip = env.bind_ip();
    let listener = server::listen(SocketAddr::new(ip, http_port)).await?;
    let ready = Arc::new(AtomicBool::new(udp_port.is_none()));
    let udp = match udp_port {
        Some(port) => Some(server::bind_udp(SocketAddr::new(ip, port)).await?),
        None => None,
    };
    println!("Started HTTP server on port {http_port}");
    let env = Arc::new(env);
    let (exit_tx, mut exit_rx) = mpsc::channel::<ExitRequest>(1);
    let (server_stop_tx, server_stop) = watch::channel(false);
    let mut tasks: tokio::task::JoinSet<Result<()>> = tokio::task::JoinSet::new();
    if let Some(socket) = udp {
        let (env, ready) = (env.clone(), ready.clone());
        let mut stop = server_stop.clone();
        tasks.spawn(async move {
            let addr = socket.local_addr().map_err(|source| Error::Serve {
                addr: SocketAddr::new(ip, 0),
                source,
            })?;
            println!("Started UDP server on port {}", addr.port());
            ready.store(true, Ordering::SeqCst);
            let mut buffer = [0u8; 2048];
            loop {
                let (n, remote) = tokio::select! {
                    _ = server::stopped(&mut stop) => return Ok(()),
                    received = socket.recv_from(&mut buffer) => received.map_err(|source| {
                        ready.store(false, Ordering::SeqCst);
                        Error::Serve { addr, source }
                    })?,
                };
                let datagram = String::from_utf8_lossy(&buffer[..n]);
                println!("UDP request from {remote}: {datagram:?}");
                if let Some(reply) = udp_reply(&datagram, &env, remote) {
                    let _ = socket.send_to(reply.as_bytes(), remote).await;
                }
            }
        });
    }
    let handler = {
        let env = env.clone();
        move |request: Request<Incoming>, peer: Peer| {
            let (env, ready, exit_tx) = (env.clone(), ready.clone(), exit_tx.clone());
            async move {
                handle(
                    request,
                    peer,
                    &env,
                    ready.load(Ordering::SeqCst),
                    ip,
                    &exit_tx,
                )
                .await
            }
        }
    };
    // The server drains for as long as the caller waits below: up to an `/exit`'s timeout, or
    // a few seconds after SIGTERM like every agnhost server.
    let http = tokio::spawn(server::serve_http(
        listener,
        handler,
        server_stop,
        Duration::MAX,
    ));
    let mut stop = stop;
    let (code, drain) = tokio::select! {
        _ = server::stopped(&mut stop) => (0, Duration::from_secs(5)),
        Some(request) = exit_rx.recv() => {
            println!("Graceful shutdown with up to {:?} for connections to close, then exit with {}", request.timeout, request.code);
            (request.code, request.timeout)
        }
    };
    let _ = server_stop_tx.send(true);
    let _ = tokio::time::timeout(drain, http).await;
    tasks.shutdown().await;
    Ok(code)
}

async fn handle(
    request: Request<Incoming>,
    peer: Peer,
    env: &PodEnv,
    ready: bool,
    ip: std::net::IpAddr,
    exit: &mpsc::Sender<ExitRequest>,
) -> Answer {
    let uri = request.uri();
    let action = route(
        uri.path(),
        uri.query().unwrap_or(""),
        env,
        peer,
        jiff::Timestamp::now(),
        ready,
    );
    match action {
        Action::Answer(status, body) => server::text(status, body),
        Action::Redirect(status, location) => {
            let mut answer = server::text(status, "");
            match HeaderValue::from_str(&location) {
                Ok(location) => {
                    answer.headers_mut().insert(header::LOCATION, location);
                    answer
                }
                Err(_) => server::text(StatusCode::BAD_REQUEST, "invalid location\n"),
            }
        }
        Action::Shell(command) => {
            let output = tokio::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(&command)
                .stdin(std::process::Stdio::null())
                .output()
                .await;
            let result = match output {
                Ok(output) => {
                    let mut combined = output.stdout;
                    combined.extend_from_slice(&output.stderr);
                    shell_result(&combined, Ok(output.status.code()))
                }
                Err(e) => shell_result(&[], Err(e.to_string())),
            };
            println!("Output: {result}");
            json_answer(&result)
        }
        Action::Dial {
            host,
            port,
            request,
            protocol,
            tries,
        } => {
            let mut responses = Vec::new();
            let mut errors = Vec::new();
            for _ in 0..tries {
                match dial_once(&host, &port, &request, protocol, ip).await {
                    Ok(response) => responses.push(response),
                    Err(e) => errors.push(e),
                }
            }
            json_answer(&dial_result(&responses, &errors))
        }
        Action::Exit {
            code,
            wait,
            timeout,
        } => {
            println!(
                "Will begin shutdown in {wait:?}, allowing {timeout:?} for connections to close, then will exit with {code}"
            );
            tokio::time::sleep(wait).await;
            if timeout.is_zero() {
                std::process::exit(code);
            }
            let _ = exit.send(ExitRequest { code, timeout }).await;
            server::text(StatusCode::OK, "")
        }
        Action::NotImplemented(why) => {
            server::text(StatusCode::NOT_IMPLEMENTED, format!("{why}\n"))
        }
    }
}

fn json_answer(value: &Value) -> Answer {
    let mut answer = server::text(StatusCode::OK, value.to_string());
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    answer
}

/// One `/dial` attempt; the error reads like netexec's.
async fn dial_once(
    host: &str,
    port: &str,
    request: &str,
    protocol: Protocol,
    ip: std::net::IpAddr,
) -> Result<String, String> {
    let target = format!("{host}:{port}");
    let attempt = async {
        let address = tokio::net::lookup_host(&target)
            .await
            .map_err(|e| format!("lookup {target}: {e}"))?
            .next()
            .ok_or_else(|| format!("lookup {target}: no address"))?;
        match protocol {
            Protocol::Http => http_get(address, request).await,
            Protocol::Udp => {
                // From the pod IP, so the other side sees this pod as the client.
                let socket = tokio::net::UdpSocket::bind(SocketAddr::new(ip, 0))
                    .await
                    .map_err(|e| format!("udp dial failed. err:{e}"))?;
                socket
                    .send_to(request.as_bytes(), address)
                    .await
                    .map_err(|e| format!("udp connection write failed. err:{e}"))?;
                let mut buffer = [0u8; 2048];
                let (n, _) = socket
                    .recv_from(&mut buffer)
                    .await
                    .map_err(|e| format!("reading from udp connection failed. err:'{e}'"))?;
                Ok(String::from_utf8_lossy(&buffer[..n]).into_owned())
            }
        }
    };
    match tokio::time::timeout(DIAL_TIMEOUT, attempt).await {
        Ok(result) => result,
        Err(_) => Err(format!("dial {target}: i/o timeout")),
    }
}

/// `GET http://<address>/<request>` over a fresh connection; the body as text.
async fn http_get(address: SocketAddr, request: &str) -> Result<String, String> {
    use http_body_util::{BodyExt, Empty};
    let url = format!("http://{address}/{}", request.trim_start_matches('/'));
    let failed = |e: &dyn std::fmt::Display| format!("Get {url:?}: {e}");
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| failed(&e))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| failed(&e))?;
    tokio::spawn(connection);
    let path = format!("/{}", request.trim_start_matches('/'));
    let request = Request::get(path)
        .header(header::HOST, address.to_string())
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| failed(&e))?;
    let response = sender.send_request(request).await.map_err(|e| failed(&e))?;
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| failed(&e))?
        .to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}

#[cfg(test)]
mod tests;
