//! The HTTP/1.1 server every agnhost subcommand uses: one task per connection, a log line per
//! request on stdout, and a graceful stop (no new connections, in-flight requests finish).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::error::{Error, Result};

/// A whole answer.
pub(crate) type Answer = Response<Full<Bytes>>;

/// The two ends of the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer {
    pub remote: SocketAddr,
    pub local: SocketAddr,
}

/// An answer with a plain-text body.
pub(crate) fn text(status: StatusCode, body: impl Into<Bytes>) -> Answer {
    let mut answer = Response::new(Full::new(body.into()));
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    answer
}

/// Binds a TCP listener; the error names the address.
pub(crate) async fn listen(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })
}

/// Binds a UDP socket; the error names the address.
pub(crate) async fn bind_udp(addr: SocketAddr) -> Result<UdpSocket> {
    UdpSocket::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })
}

/// Resolves once `stop` turns true. A sender that is gone never stops anything.
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The log line of one request, in the spirit of Go's log package (date, time, what, who).
fn log_line(method: &http::Method, uri: &http::Uri, remote: SocketAddr) -> String {
    let now = jiff::Timestamp::now().strftime("%Y/%m/%d %H:%M:%S");
    format!("{now} {method} {uri} from {remote}")
}

/// Serves HTTP on `listener` with `handler` until `stop`, then lets requests in flight finish
/// for up to `drain`.
pub(crate) async fn serve_http<H, F>(
    listener: TcpListener,
    handler: H,
    mut stop: watch::Receiver<bool>,
    drain: Duration,
) -> Result<()>
where
    H: Fn(Request<Incoming>, Peer) -> F + Clone + Send + 'static,
    F: Future<Output = Answer> + Send + 'static,
{
    let local = listener.local_addr().map_err(|source| Error::Bind {
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        source,
    })?;
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped(&mut stop) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, remote) = match accepted {
                    Ok(accepted) => accepted,
                    // Out of descriptors and the like: the next accept may work.
                    Err(e) => {
                        eprintln!("accepting a connection on {local}: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let peer = Peer { remote, local };
                let handler = handler.clone();
                let stop = stop.clone();
                connections.spawn(connection(stream, peer, handler, stop));
            }
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

async fn connection<H, F>(
    stream: tokio::net::TcpStream,
    peer: Peer,
    handler: H,
    mut stop: watch::Receiver<bool>,
) where
    H: Fn(Request<Incoming>, Peer) -> F + Clone + Send + 'static,
    F: Future<Output = Answer> + Send + 'static,
{
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |request: Request<Incoming>| {
        println!("{}", log_line(request.method(), request.uri(), peer.remote));
        let answer = handler(request, peer);
        async move { Ok::<_, Infallible>(answer.await) }
    });
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = stopped(&mut stop) => connection.as_mut().graceful_shutdown(),
    }
    let _ = connection.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_name_the_request_and_the_client() {
        let line = log_line(
            &http::Method::GET,
            &"/echo?msg=hi".parse().unwrap(),
            "127.0.0.1:40000".parse().unwrap(),
        );
        // `2025/01/02 03:04:05 GET /echo?msg=hi from 127.0.0.1:40000`
        let (date, rest) = line.split_at(19);
        assert_eq!(date.len(), 19);
        assert_eq!(rest, " GET /echo?msg=hi from 127.0.0.1:40000");
    }
}
