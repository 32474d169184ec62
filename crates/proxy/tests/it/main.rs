//! Integration tests of the proxy on real loopback sockets: fake backends (TCP echo servers that
//! first say who they are) behind Services fed to a [`proxy::Proxier`] as models, with no API
//! server; and one end-to-end test of [`proxy::start`] against a real API server.

mod api;
mod cluster;
mod proxier;
mod support;
