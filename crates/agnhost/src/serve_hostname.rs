//! `serve-hostname`: answers the pod's hostname over HTTP, or raw over TCP (then closes) and UDP.

use std::net::SocketAddr;
use std::time::Duration;

use http::{HeaderValue, StatusCode, header};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use crate::command::ServeHostname;
use crate::error::{Error, Result};
use crate::pod::PodEnv;
use crate::server;

pub(crate) async fn run(
    env: PodEnv,
    options: ServeHostname,
    stop: watch::Receiver<bool>,
) -> Result<()> {
    let addr = SocketAddr::new(env.bind_ip(), options.port);
    let hostname = env.hostname.clone();
    let mut servers = tokio::task::JoinSet::new();
    if options.tcp {
        let listener = server::listen(addr).await?;
        let (hostname, mut stop) = (hostname.clone(), stop.clone());
        servers.spawn(async move {
            loop {
                let (mut stream, remote) = tokio::select! {
                    _ = server::stopped(&mut stop) => return Ok(()),
                    accepted = listener.accept() => accepted.map_err(|source| Error::Serve { addr, source })?,
                };
                println!("TCP request from {remote}");
                let _ = stream.write_all(hostname.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        });
    }
    if options.udp {
        let socket = server::bind_udp(addr).await?;
        let (hostname, mut stop) = (hostname.clone(), stop.clone());
        servers.spawn(async move {
            let mut buffer = [0u8; 2048];
            loop {
                let (_, remote) = tokio::select! {
                    _ = server::stopped(&mut stop) => return Ok(()),
                    received = socket.recv_from(&mut buffer) => received.map_err(|source| Error::Serve { addr, source })?,
                };
                println!("UDP request from {remote}");
                let _ = socket.send_to(hostname.as_bytes(), remote).await;
            }
        });
    }
    if options.http {
        let listener = server::listen(addr).await?;
        let close = options.close;
        let handler = move |_request, _peer| {
            let mut answer = server::text(StatusCode::OK, hostname.clone());
            if close {
                // hyper closes the connection after an answer that says so.
                answer
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            async move { answer }
        };
        servers.spawn(server::serve_http(
            listener,
            handler,
            stop.clone(),
            Duration::from_secs(5),
        ));
    }
    println!("Serving on port {}.", options.port);
    // The first server to fail ends the subcommand; otherwise all end at the stop.
    while let Some(result) = servers.join_next().await {
        if let Ok(Err(e)) = result {
            return Err(e);
        }
    }
    Ok(())
}
