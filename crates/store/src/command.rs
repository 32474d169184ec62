//! The commands the Raft log carries and the replies applying them produces.
//!
//! Both are protobuf messages built from etcd's own request and response types, so a proposal
//! forwarded from a follower and an entry in the log are the same bytes. openraft wants serde
//! types for its log entries; the serde form of a command is simply its protobuf encoding.

use etcd_api::etcdserverpb::{
    AlarmRequest, AlarmResponse, CompactionRequest, CompactionResponse, DeleteRangeRequest,
    DeleteRangeResponse, LeaseGrantRequest, LeaseGrantResponse, LeaseRevokeRequest,
    LeaseRevokeResponse, PutRequest, PutResponse, TxnRequest, TxnResponse,
};
use prost::Message;

use crate::error::Error;

/// One replicated operation.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Command {
    #[prost(oneof = "Op", tags = "1, 2, 3, 4, 5, 6, 7, 8, 9")]
    pub op: Option<Op>,
}

/// The operations a command can hold.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Op {
    #[prost(message, tag = "1")]
    Put(PutRequest),
    #[prost(message, tag = "2")]
    DeleteRange(DeleteRangeRequest),
    #[prost(message, tag = "3")]
    Txn(TxnRequest),
    #[prost(message, tag = "4")]
    Compact(CompactionRequest),
    /// A grant whose ID the proposing member has already chosen.
    #[prost(message, tag = "5")]
    LeaseGrant(LeaseGrantRequest),
    #[prost(message, tag = "6")]
    LeaseRevoke(LeaseRevokeRequest),
    #[prost(message, tag = "7")]
    Alarm(AlarmRequest),
    /// A member announcing its name and client URLs once it runs, as etcd members publish theirs.
    #[prost(message, tag = "8")]
    Publish(Publish),
    /// Commands that arrived together, applied in order as one log entry, so that one fsync
    /// carries many writes.
    #[prost(message, tag = "9")]
    Batch(Batch),
}

/// Commands proposed together.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Batch {
    #[prost(message, repeated, tag = "1")]
    pub commands: Vec<Command>,
}

/// The replies to a [`Batch`], in its order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReplyBatch {
    #[prost(message, repeated, tag = "1")]
    pub replies: Vec<Reply>,
}

/// A member's attributes as it publishes them.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Publish {
    #[prost(uint64, tag = "1")]
    pub member_id: u64,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(string, repeated, tag = "3")]
    pub client_urls: Vec<String>,
}

/// What applying one log entry produced.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Reply {
    #[prost(oneof = "Outcome", tags = "1, 2, 3, 4, 5, 6, 7, 8, 9")]
    pub outcome: Option<Outcome>,
}

/// The outcomes a reply can hold; `None` for entries that carry no command (blank, membership).
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Outcome {
    #[prost(message, tag = "1")]
    Put(PutResponse),
    #[prost(message, tag = "2")]
    DeleteRange(DeleteRangeResponse),
    #[prost(message, tag = "3")]
    Txn(TxnResponse),
    #[prost(message, tag = "4")]
    Compact(CompactionResponse),
    #[prost(message, tag = "5")]
    LeaseGrant(LeaseGrantResponse),
    #[prost(message, tag = "6")]
    LeaseRevoke(LeaseRevokeResponse),
    #[prost(message, tag = "7")]
    Alarm(AlarmResponse),
    #[prost(message, tag = "8")]
    Error(ErrorReply),
    #[prost(message, tag = "9")]
    Batch(ReplyBatch),
}

/// A deterministic apply-time error, carried inside the reply.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ErrorReply {
    #[prost(uint32, tag = "1")]
    pub kind: u32,
    #[prost(string, tag = "2")]
    pub message: String,
}

impl Reply {
    /// A reply carrying `e`.
    pub fn error(e: Error) -> Reply {
        let (kind, message) = e.to_wire();
        Reply {
            outcome: Some(Outcome::Error(ErrorReply { kind, message })),
        }
    }

    /// The outcome, or the error the command failed with.
    pub fn into_result(self) -> Result<Outcome, Error> {
        match self.outcome {
            Some(Outcome::Error(e)) => Err(Error::from_wire(e.kind, e.message)),
            Some(outcome) => Ok(outcome),
            None => Err(Error::Internal("empty reply from the state machine".into())),
        }
    }
}

/// serde in terms of the protobuf encoding, which is what openraft's entries need.
macro_rules! serde_as_protobuf {
    ($ty:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.encode_to_vec())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let bytes = d.deserialize_bytes(BytesVisitor)?;
                <$ty>::decode(bytes.as_slice()).map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_as_protobuf!(Command);
serde_as_protobuf!(Reply);

struct BytesVisitor;

impl<'de> serde::de::Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("protobuf bytes")
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(b) = seq.next_element()? {
            out.push(b);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_survive_postcard() {
        let cmd = Command {
            op: Some(Op::Put(PutRequest {
                key: b"k".to_vec(),
                value: vec![7; 1024],
                ..Default::default()
            })),
        };
        let bytes = postcard::to_stdvec(&cmd).unwrap();
        let back: Command = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, cmd);
    }

    #[test]
    fn error_replies_turn_back_into_errors() {
        assert_eq!(
            Reply::error(Error::LeaseNotFound).into_result(),
            Err(Error::LeaseNotFound)
        );
        assert!(Reply::default().into_result().is_err());
    }
}
