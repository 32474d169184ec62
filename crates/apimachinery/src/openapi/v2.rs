//! A placeholder for `/openapi/v2`. kubectl asks for OpenAPI v2 only when v3 cannot answer (a
//! `kind: List` file under `--validate=strict`, a kind no v3 document has); a 404 there fails the
//! command, while an empty Swagger document makes kubectl skip client-side validation and fall
//! back to its built-in patch logic, as it does for a kind it has no schema for.

/// The content type kubectl asks `/openapi/v2` for.
pub const V2_PROTOBUF_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// A Swagger 2.0 document with an `info` and no paths or definitions, in the protobuf encoding of
/// gnostic's `openapi.v2.Document` (field 1 `swagger`, field 2 `info` with `title` = 1 and
/// `version` = 2).
pub fn v2_placeholder() -> Vec<u8> {
    let mut info = Vec::new();
    length_delimited(&mut info, 1, b"Kubernetes");
    length_delimited(&mut info, 2, b"v1.33.0");
    let mut document = Vec::new();
    length_delimited(&mut document, 1, b"2.0");
    length_delimited(&mut document, 2, &info);
    document
}

fn length_delimited(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    varint(out, u64::from(field << 3 | 2));
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}
