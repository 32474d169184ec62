//! Typed round-trips through k8s-openapi: decoding checks, unknown-field detection, defaulting and validation.
