//! Tests of probe runs against small local servers and commands.

use tokio::net::TcpListener;

use super::*;

fn target() -> ProbeTarget {
    ProbeTarget {
        pod_ip: Ipv4Addr::LOCALHOST,
        image: "hakube/host".into(),
        env: Arc::new(vec![
            ("PATH".into(), crate::env::DEFAULT_PATH.into()),
            ("WHO".into(), "probe".into()),
        ]),
        workdir: std::env::temp_dir(),
        runtime_exe: PathBuf::from("/nonexistent/hakube"),
        user_agent: "kube-probe/1.33".into(),
    }
}

#[test]
fn status_lines() {
    let cases: [(&[u8], Option<u16>); 5] = [
        (b"HTTP/1.1 200 OK\r\n", Some(200)),
        (b"HTTP/1.0 503 Service Unavailable\r\n\r\n", Some(503)),
        (b"HTTP/1.1 302\r\n", Some(302)),
        (b"SSH-2.0-OpenSSH\r\n", None),
        (b"", None),
    ];
    for (head, want) in cases {
        assert_eq!(status_code(head), want, "{}", String::from_utf8_lossy(head));
    }
}

/// A server answering every request with `code`, after checking it looks like a probe's.
async fn http_server(code: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                let request = String::from_utf8_lossy(&got);
                let code = if request.starts_with("GET /healthz HTTP/1.1\r\n")
                    && request.contains("User-Agent: kube-probe/1.33\r\n")
                    && request.contains("X-Check: yes\r\n")
                {
                    code
                } else {
                    400
                };
                let answer = format!("HTTP/1.1 {code} Whatever\r\nContent-Length: 0\r\n\r\n");
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    port
}

fn http(port: u16) -> Result<Action, String> {
    Ok(Action::Http {
        https: false,
        host: None,
        port,
        path: "/healthz".into(),
        headers: vec![("X-Check".into(), "yes".into())],
    })
}

#[tokio::test]
async fn http_probes() {
    let second = Duration::from_secs(1);
    let ok = http_server(200).await;
    let redirect = http_server(301).await;
    let failing = http_server(500).await;
    assert_eq!(run_once(&http(ok), &target(), second).await, Ok(()));
    assert_eq!(run_once(&http(redirect), &target(), second).await, Ok(()));
    assert_eq!(
        run_once(&http(failing), &target(), second).await,
        Err("HTTP probe failed with statuscode: 500".into())
    );
    // A port nobody listens on.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert_eq!(
        run_once(&http(closed), &target(), second).await,
        Err(format!(
            "Get \"http://127.0.0.1:{closed}/healthz\": dial tcp 127.0.0.1:{closed}: connect: connection refused"
        ))
    );
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let err = run_once(&http(port), &target(), Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(err.contains("context deadline exceeded"), "{err}");
    drop(listener);
}

#[tokio::test]
async fn tcp_probes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tcp = |port| Ok(Action::Tcp { host: None, port });
    assert_eq!(
        run_once(&tcp(port), &target(), Duration::from_secs(1)).await,
        Ok(())
    );
    drop(listener);
    assert_eq!(
        run_once(&tcp(port), &target(), Duration::from_secs(1)).await,
        Err(format!(
            "dial tcp 127.0.0.1:{port}: connect: connection refused"
        ))
    );
}

#[tokio::test]
async fn exec_probes() {
    let exec = |script: &str| {
        Ok(Action::Exec {
            command: vec!["sh".into(), "-c".into(), script.into()],
        })
    };
    let second = Duration::from_secs(5);
    assert_eq!(
        run_once(&exec("test \"$WHO\" = probe"), &target(), second).await,
        Ok(())
    );
    assert_eq!(
        run_once(&exec("echo sick; exit 3"), &target(), second).await,
        Err("sick\n".into())
    );
    assert_eq!(
        run_once(&exec("sleep 5"), &target(), Duration::from_millis(200)).await,
        Err("command \"sh -c sleep 5\" timed out".into())
    );
    assert_eq!(
        run_once(&Err("couldn't find port \"x\"".into()), &target(), second).await,
        Err("couldn't find port \"x\"".into())
    );
    assert!(
        run_once(&Ok(Action::Grpc { port: 1 }), &target(), second)
            .await
            .unwrap_err()
            .contains("not implemented")
    );
}
