//! `hello`: the HTTP server of minikube's HA tutorial image (pbitty/hello-from): every request
//! gets `Hello from <pod name> (<pod IP>)`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use http::StatusCode;
use tokio::sync::watch;

use crate::error::Result;
use crate::pod::PodEnv;
use crate::server::{self, Peer};

/// The greeting. Without a pod IP it names the address the request came to instead.
pub(crate) fn greeting(env: &PodEnv, local: IpAddr) -> String {
    format!(
        "Hello from {} ({})\n",
        env.hostname,
        env.pod_ip.unwrap_or(local)
    )
}

pub(crate) async fn run(env: PodEnv, port: u16, stop: watch::Receiver<bool>) -> Result<()> {
    let listener = server::listen(SocketAddr::new(env.bind_ip(), port)).await?;
    if let Ok(address) = listener.local_addr() {
        println!("Listening on {address}");
    }
    let handler = move |_request, peer: Peer| {
        let body = greeting(&env, peer.local.ip());
        async move { server::text(StatusCode::OK, body) }
    };
    server::serve_http(listener, handler, stop, Duration::from_secs(5)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greetings() {
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let cases = [
            (
                Some("127.49.129.7"),
                "hello-5d4f-x2x",
                "Hello from hello-5d4f-x2x (127.49.129.7)\n",
            ),
            (None, "laptop", "Hello from laptop (127.0.0.1)\n"),
        ];
        for (ip, hostname, expected) in cases {
            let env = PodEnv {
                pod_ip: ip.map(|i| i.parse().unwrap()),
                hostname: hostname.into(),
            };
            assert_eq!(greeting(&env, local), expected);
        }
    }
}
