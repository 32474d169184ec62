//! Building responses: JSON bodies, Status errors, streaming bodies, and what the client's
//! Accept header asks for (plain objects, Tables or partial metadata).

use std::convert::Infallible;

use apimachinery::ApiError;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use serde_json::Value;

/// Every response body: whole or streamed.
pub type Body = BoxBody<Bytes, Infallible>;

pub fn json(code: u16, value: &Value) -> Response<Body> {
    json_as(code, value, "application/json")
}

pub fn json_as(code: u16, value: &Value, content_type: &str) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(bytes)).boxed());
    *response.status_mut() =
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

pub fn text(code: u16, body: &str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())).boxed());
    *response.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

pub fn error(err: &ApiError) -> Response<Body> {
    let mut response = json(err.code, &err.to_status());
    if let Some(secs) = err.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// The representation an Accept header asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Object,
    Table,
    PartialMetadata,
}

/// Reads the Accept header. Clients list alternatives in order; the first we can produce wins.
/// `Err` (406) when every alternative is a media type we do not speak.
pub fn shape(accept: &str) -> Result<Shape, ApiError> {
    if accept.trim().is_empty() {
        return Ok(Shape::Object);
    }
    for part in accept.split(',') {
        let part = part.replace(' ', "");
        let media = part.split(';').next().unwrap_or_default();
        if !matches!(
            media,
            "application/json" | "*/*" | "application/*" | "application/yaml"
        ) {
            continue;
        }
        if part.contains("as=Table") {
            if part.contains("g=meta.k8s.io") {
                return Ok(Shape::Table);
            }
            continue;
        }
        if part.contains("as=PartialObjectMetadata") {
            return Ok(Shape::PartialMetadata);
        }
        if part.contains("as=") {
            continue;
        }
        return Ok(Shape::Object);
    }
    Err(ApiError::not_acceptable(
        "only the following media types are accepted: application/json, application/json;as=Table;v=v1;g=meta.k8s.io",
    ))
}

/// An object as `PartialObjectMetadata`.
pub fn partial_metadata(object: &Value) -> Value {
    serde_json::json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": object.get("metadata").cloned().unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers() {
        let cases = [
            ("", Ok(Shape::Object)),
            ("application/json", Ok(Shape::Object)),
            (
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
                Ok(Shape::Table),
            ),
            (
                "application/vnd.kubernetes.protobuf, */*",
                Ok(Shape::Object),
            ),
            (
                "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
                Ok(Shape::PartialMetadata),
            ),
            ("application/vnd.kubernetes.protobuf", Err(406)),
        ];
        for (accept, expected) in cases {
            assert_eq!(shape(accept).map_err(|e| e.code), expected, "{accept}");
        }
    }
}
