//! Who a client certificate names: the subject's CN (the user) and O values (the groups), read
//! from the DER that rustls has already verified against `--client-ca-file`.

/// One DER element: its tag and contents.
struct Element<'a> {
    tag: u8,
    body: &'a [u8],
}

/// Splits the first DER element off `input`.
fn next(input: &[u8]) -> Option<(Element<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let count = (first & 0x7f) as usize;
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let mut len = 0usize;
        for &b in &rest[..count] {
            len = (len << 8) | b as usize;
        }
        rest = &rest[count..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some((
        Element {
            tag,
            body: &rest[..len],
        },
        &rest[len..],
    ))
}

/// All elements inside a constructed element's body.
fn children(mut body: &[u8]) -> Option<Vec<Element<'_>>> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let (element, rest) = next(body)?;
        out.push(element);
        body = rest;
    }
    Some(out)
}

const SEQUENCE: u8 = 0x30;
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
const OID_ORGANIZATION: &[u8] = &[0x55, 0x04, 0x0a];

/// The subject of a certificate: its common name and organizations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    pub common_name: String,
    pub organizations: Vec<String>,
}

/// Reads the subject of a DER certificate; `None` if it is not a well-formed certificate.
pub fn subject(der: &[u8]) -> Option<Subject> {
    let (certificate, _) = next(der)?;
    let parts = children(certificate.body)?;
    let tbs = parts.first().filter(|e| e.tag == SEQUENCE)?;
    let fields = children(tbs.body)?;
    // An explicit [0] version comes first when present; then serial, signature, issuer,
    // validity, subject.
    let skip = usize::from(fields.first()?.tag == 0xa0);
    let name = fields.get(skip + 4).filter(|e| e.tag == SEQUENCE)?;
    let mut subject = Subject::default();
    for rdn in children(name.body)? {
        for attribute in children(rdn.body)? {
            let pair = children(attribute.body)?;
            let (oid, value) = (pair.first()?, pair.get(1)?);
            let text = String::from_utf8_lossy(value.body).into_owned();
            if oid.body == OID_COMMON_NAME {
                subject.common_name = text;
            } else if oid.body == OID_ORGANIZATION {
                subject.organizations.push(text);
            }
        }
    }
    Some(subject)
}
