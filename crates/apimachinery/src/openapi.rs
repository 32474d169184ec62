//! OpenAPI v3 (and v2 JSON) documents built from k8s-openapi schemas, for kubectl explain, apply and validation.
