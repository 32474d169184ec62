//! SPDY/3 name/value header blocks, before compression: a 32-bit count, then each name and value
//! with a 32-bit length. A header with several values joins them with NUL bytes.

use super::frame::FrameError;

/// A decoded header block, in wire order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HeaderBlock(pub Vec<(String, String)>);

impl HeaderBlock {
    /// The first value of a header; names compare without case (Go's peers send lowercase names,
    /// but this kubelet's own names, such as `requestID`, are camel case).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.split('\0').next().unwrap_or(""))
    }

    /// The block's bytes. Names go out lowercase, as SPDY requires.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let size: usize = self.0.iter().map(|(n, v)| 8 + n.len() + v.len()).sum();
        let mut out = Vec::with_capacity(4 + size);
        out.extend_from_slice(&(self.0.len() as u32).to_be_bytes());
        for (name, value) in &self.0 {
            out.extend_from_slice(&(name.len() as u32).to_be_bytes());
            out.extend(name.bytes().map(|b| b.to_ascii_lowercase()));
            out.extend_from_slice(&(value.len() as u32).to_be_bytes());
            out.extend_from_slice(value.as_bytes());
        }
        out
    }

    /// Parses a whole block; bytes left over are an error.
    pub(crate) fn decode(bytes: &[u8]) -> Result<HeaderBlock, FrameError> {
        let mut rest = bytes;
        let count = take_u32(&mut rest)? as usize;
        // Each pair takes at least 8 bytes, which bounds what a hostile count can allocate.
        if count > rest.len() / 8 {
            return Err(FrameError::HeaderBlock(format!(
                "{count} headers in {} bytes",
                bytes.len()
            )));
        }
        let mut pairs = Vec::with_capacity(count);
        for _ in 0..count {
            let name = take_string(&mut rest)?;
            let value = take_string(&mut rest)?;
            pairs.push((name, value));
        }
        if !rest.is_empty() {
            return Err(FrameError::HeaderBlock(format!(
                "{} bytes after the last header",
                rest.len()
            )));
        }
        Ok(HeaderBlock(pairs))
    }
}

impl<const N: usize> From<[(&str, &str); N]> for HeaderBlock {
    fn from(pairs: [(&str, &str); N]) -> Self {
        HeaderBlock(
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }
}

fn take_u32(rest: &mut &[u8]) -> Result<u32, FrameError> {
    let Some((head, tail)) = rest.split_first_chunk::<4>() else {
        return Err(FrameError::HeaderBlock("truncated length".to_string()));
    };
    *rest = tail;
    Ok(u32::from_be_bytes(*head))
}

fn take_string(rest: &mut &[u8]) -> Result<String, FrameError> {
    let len = take_u32(rest)? as usize;
    if len > rest.len() {
        return Err(FrameError::HeaderBlock(format!(
            "a {len}-byte string in {} bytes",
            rest.len()
        )));
    }
    let (text, tail) = rest.split_at(len);
    *rest = tail;
    Ok(String::from_utf8_lossy(text).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_lowercase_names_in_order() {
        let block = HeaderBlock::from([("streamType", "error"), ("port", "80")]);
        let mut expected = vec![0, 0, 0, 2];
        expected.extend_from_slice(b"\0\0\0\x0astreamtype\0\0\0\x05error");
        expected.extend_from_slice(b"\0\0\0\x04port\0\0\0\x0280");
        assert_eq!(block.encode(), expected);
        assert_eq!(HeaderBlock::default().encode(), vec![0, 0, 0, 0]);
    }

    #[test]
    fn round_trips_and_looks_up_without_case() {
        let block = HeaderBlock::from([
            ("streamtype", "data"),
            ("port", "8080"),
            ("requestid", "7"),
            ("multi", "a\0b"),
        ]);
        let decoded = HeaderBlock::decode(&block.encode()).unwrap();
        assert_eq!(decoded, block);
        for (name, expected) in [
            ("streamType", Some("data")),
            ("Port", Some("8080")),
            ("requestID", Some("7")),
            ("multi", Some("a")),
            ("missing", None),
        ] {
            assert_eq!(decoded.get(name), expected, "{name}");
        }
    }

    #[test]
    fn rejects_malformed_blocks() {
        for bytes in [
            &b""[..],
            b"\0\0\0",
            b"\0\0\0\x01",
            b"\0\0\0\x01\0\0\0\x09port\0\0\0\0",
            b"\0\0\0\x01\0\0\0\x04port\0\0\0\x05ab",
            b"\0\0\0\0\0",
            b"\xff\xff\xff\xff\0\0\0\0\0\0\0\0",
        ] {
            assert!(HeaderBlock::decode(bytes).is_err(), "{bytes:?}");
        }
    }
}
