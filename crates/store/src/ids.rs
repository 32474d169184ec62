//! Member and cluster IDs, derived from peer URLs and the cluster token as etcd derives them, so
//! that members started with the same `--initial-cluster` agree without talking.

use sha2::{Digest, Sha256};

/// The ID of a member with `peer_urls` in the cluster named by `token`; `salt` (a time) makes the
/// ID of a member added later unique even if its URLs were used before.
pub fn member_id(peer_urls: &[String], token: &str, salt: Option<u64>) -> u64 {
    let mut urls = peer_urls.to_vec();
    urls.sort();
    let mut h = Sha256::new();
    for u in &urls {
        h.update(u.as_bytes());
    }
    h.update(token.as_bytes());
    if let Some(s) = salt {
        h.update(s.to_string().as_bytes());
    }
    first_u64(&h.finalize())
}

/// The cluster ID: a digest of the founding members' IDs.
pub fn cluster_id(member_ids: &[u64], token: &str) -> u64 {
    let mut ids = member_ids.to_vec();
    ids.sort_unstable();
    let mut h = Sha256::new();
    for id in ids {
        h.update(id.to_be_bytes());
    }
    h.update(token.as_bytes());
    first_u64(&h.finalize())
}

fn first_u64(digest: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    // Zero means "none" in etcd's API; never hand it out.
    u64::from_be_bytes(b).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_ignore_url_order_and_depend_on_token() {
        let a = vec!["http://a:2380".to_string(), "http://b:2380".to_string()];
        let b = vec!["http://b:2380".to_string(), "http://a:2380".to_string()];
        assert_eq!(member_id(&a, "t", None), member_id(&b, "t", None));
        assert_ne!(member_id(&a, "t", None), member_id(&a, "u", None));
        assert_ne!(member_id(&a, "t", None), member_id(&a, "t", Some(1)));
        assert_eq!(cluster_id(&[3, 1, 2], "t"), cluster_id(&[1, 2, 3], "t"));
    }
}
