//! The VIP agent's integration tests: the proxy alone, the health check against a real TLS
//! server, and whole agents electing and failing over through a fake API server.

mod agent;
mod fake_api;
mod health;
mod proxy;
mod support;
