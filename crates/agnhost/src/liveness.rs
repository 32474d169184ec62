//! `liveness`: a server on port 8080 that is healthy for its first 10 seconds and failing after,
//! the target of liveness-probe tests (agnhost's `liveness`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http::{HeaderValue, Request, StatusCode, header};
use hyper::body::Incoming;
use tokio::sync::watch;

use crate::error::Result;
use crate::pod::PodEnv;
use crate::server::{self, Answer};

/// agnhost's liveness server has a fixed port.
const PORT: u16 = 8080;
/// How long `/healthz` answers 200.
const HEALTHY_FOR: Duration = Duration::from_secs(10);

/// The answer to `path` (and its query) `age` after the start.
pub(crate) fn answer(path: &str, query: &str, age: Duration) -> Answer {
    match path {
        "/healthz" if age > HEALTHY_FOR => server::text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("error: {}", age.as_secs_f64()),
        ),
        "/healthz" => server::text(StatusCode::OK, "ok"),
        "/started" => server::text(StatusCode::OK, format!("{age:?}")),
        "/redirect" => {
            let location = url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "loc")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            match HeaderValue::from_str(&location) {
                Ok(location) => {
                    let mut answer = server::text(StatusCode::FOUND, "");
                    answer.headers_mut().insert(header::LOCATION, location);
                    answer
                }
                Err(_) => server::text(
                    StatusCode::BAD_REQUEST,
                    format!("invalid redirect: {location:?}"),
                ),
            }
        }
        _ => server::text(StatusCode::NOT_FOUND, "404 page not found\n"),
    }
}

pub(crate) async fn run(env: PodEnv, stop: watch::Receiver<bool>) -> Result<()> {
    let listener = server::listen(SocketAddr::new(env.bind_ip(), PORT)).await?;
    let started = Instant::now();
    let handler = move |request: Request<Incoming>, _peer| {
        let uri = request.uri();
        let answer = answer(uri.path(), uri.query().unwrap_or(""), started.elapsed());
        async move { answer }
    };
    server::serve_http(listener, handler, stop, Duration::from_secs(1)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_for_ten_seconds_then_failing() {
        let s = Duration::from_secs;
        let cases = [
            ("/healthz", "", s(0), 200, "ok"),
            ("/healthz", "", s(10), 200, "ok"),
            ("/healthz", "", s(11), 500, "error: 11"),
            ("/started", "", Duration::from_millis(1500), 200, "1.5s"),
            ("/redirect", "loc=%2Fhealthz", s(1), 302, ""),
            ("/nope", "", s(1), 404, "404 page not found\n"),
        ];
        for (path, query, age, code, body) in cases {
            let answer = answer(path, query, age);
            assert_eq!(answer.status().as_u16(), code, "{path}");
            let bytes = futures_body(answer);
            assert_eq!(bytes, body, "{path}");
        }
        let redirect = answer("/redirect", "loc=%2Fhealthz", s(1));
        assert_eq!(redirect.headers()[header::LOCATION], "/healthz");
    }

    fn futures_body(answer: Answer) -> String {
        use http_body_util::BodyExt;
        let body = answer.into_body();
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(body.collect())
            .unwrap()
            .to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}
