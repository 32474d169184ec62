//! The store's errors: etcd's own error kinds, mapped to gRPC codes and messages only at the edge.

use tonic::{Code, Status};

/// Result with the store's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in the store. Variants that come from applying a command are deterministic:
/// every member computes the same one for the same log entry, so they travel inside replies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A request named a revision older than the last compaction.
    #[error("etcdserver: mvcc: required revision has been compacted")]
    Compacted,
    /// A request named a revision newer than the store's.
    #[error("etcdserver: mvcc: required revision is a future revision")]
    FutureRevision,
    /// The request has no key where one is required.
    #[error("etcdserver: key is not provided")]
    EmptyKey,
    /// `ignore_value` or `ignore_lease` was set on a key that does not exist.
    #[error("etcdserver: key not found")]
    KeyNotFound,
    /// `ignore_value` was set together with a value.
    #[error("etcdserver: value is provided")]
    ValueProvided,
    /// `ignore_lease` was set together with a lease.
    #[error("etcdserver: lease is provided")]
    LeaseProvided,
    /// A transaction holds more operations than `--max-txn-ops` allows.
    #[error("etcdserver: too many operations in txn request")]
    TooManyOps,
    /// A transaction writes the same key twice.
    #[error("etcdserver: duplicate key given in txn request")]
    DuplicateKey,
    /// The NOSPACE alarm is raised or the write would pass the quota.
    #[error("etcdserver: mvcc: database space exceeded")]
    NoSpace,
    /// The lease does not exist (or has expired).
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound,
    /// LeaseGrant with an ID that is taken.
    #[error("etcdserver: lease already exists")]
    LeaseExists,
    /// LeaseGrant with a TTL above etcd's maximum.
    #[error("etcdserver: too large lease TTL")]
    LeaseTtlTooLarge,
    /// The request is larger than `--max-request-bytes`.
    #[error("etcdserver: request is too large")]
    RequestTooLarge,
    /// No member ID or peer URL matches.
    #[error("etcdserver: member not found")]
    MemberNotFound,
    /// MemberAdd with peer URLs another member has.
    #[error("etcdserver: Peer URLs already exists")]
    PeerUrlExists,
    /// MemberAdd with an ID that is taken.
    #[error("etcdserver: member ID already exist")]
    MemberExists,
    /// Peer URLs that do not parse.
    #[error("etcdserver: given member URLs are invalid")]
    BadMemberUrls,
    /// MemberPromote on a voting member.
    #[error("etcdserver: can only promote a learner member")]
    MemberNotLearner,
    /// MemberPromote on a learner that has not caught up.
    #[error("etcdserver: can only promote a learner member which is in sync with leader")]
    LearnerNotReady,
    /// The change would leave too few started members for quorum.
    #[error("etcdserver: re-configuration failed due to not enough started members")]
    NotEnoughStartedMembers,
    /// MoveLeader to a member that cannot lead.
    #[error("etcdserver: bad leader transferee")]
    BadLeaderTransferee,
    /// A learner only serves serializable reads and status.
    #[error("etcdserver: rpc not supported for learner")]
    NotSupportedForLearner,
    /// The cluster has no leader right now; retry.
    #[error("etcdserver: no leader")]
    NoLeader,
    /// The leader changed while the request was in flight; retry.
    #[error("etcdserver: leader changed")]
    LeaderChanged,
    /// The request did not finish in time; retry.
    #[error("etcdserver: request timed out")]
    Timeout,
    /// This member is shutting down or was removed.
    #[error("etcdserver: server stopped")]
    Stopped,
    /// Not built in hakube; says what is missing.
    #[error("{0}")]
    Unimplemented(String),
    /// A request field is out of range or malformed; the text says which.
    #[error("{0}")]
    InvalidArgument(String),
    /// Storage or encoding failed underneath; not retryable by the client.
    #[error("etcdserver: internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The gRPC code etcd uses for this error.
    pub fn code(&self) -> Code {
        use Error::*;
        match self {
            Compacted | FutureRevision | LeaseTtlTooLarge => Code::OutOfRange,
            EmptyKey | KeyNotFound | ValueProvided | LeaseProvided | TooManyOps | DuplicateKey
            | RequestTooLarge | BadMemberUrls | InvalidArgument(_) => Code::InvalidArgument,
            NoSpace => Code::ResourceExhausted,
            LeaseNotFound | MemberNotFound => Code::NotFound,
            LeaseExists
            | PeerUrlExists
            | MemberExists
            | MemberNotLearner
            | LearnerNotReady
            | NotEnoughStartedMembers
            | BadLeaderTransferee => Code::FailedPrecondition,
            NotSupportedForLearner | NoLeader | LeaderChanged | Timeout | Stopped => {
                Code::Unavailable
            }
            Unimplemented(_) => Code::Unimplemented,
            Internal(_) => Code::Internal,
        }
    }

    /// A stable number for carrying the error inside a replicated reply.
    pub fn to_wire(&self) -> (u32, String) {
        use Error::*;
        let n = match self {
            Compacted => 1,
            FutureRevision => 2,
            EmptyKey => 3,
            KeyNotFound => 4,
            ValueProvided => 5,
            LeaseProvided => 6,
            TooManyOps => 7,
            DuplicateKey => 8,
            NoSpace => 9,
            LeaseNotFound => 10,
            LeaseExists => 11,
            LeaseTtlTooLarge => 12,
            RequestTooLarge => 13,
            MemberNotFound => 14,
            PeerUrlExists => 15,
            MemberExists => 16,
            BadMemberUrls => 17,
            MemberNotLearner => 18,
            LearnerNotReady => 19,
            NotEnoughStartedMembers => 20,
            BadLeaderTransferee => 21,
            NotSupportedForLearner => 22,
            NoLeader => 23,
            LeaderChanged => 24,
            Timeout => 25,
            Stopped => 26,
            Unimplemented(_) => 27,
            InvalidArgument(_) => 28,
            Internal(_) => 29,
        };
        let text = match self {
            Unimplemented(t) | InvalidArgument(t) | Internal(t) => t.clone(),
            _ => String::new(),
        };
        (n, text)
    }

    /// The inverse of [`Error::to_wire`].
    pub fn from_wire(n: u32, text: String) -> Error {
        use Error::*;
        match n {
            1 => Compacted,
            2 => FutureRevision,
            3 => EmptyKey,
            4 => KeyNotFound,
            5 => ValueProvided,
            6 => LeaseProvided,
            7 => TooManyOps,
            8 => DuplicateKey,
            9 => NoSpace,
            10 => LeaseNotFound,
            11 => LeaseExists,
            12 => LeaseTtlTooLarge,
            13 => RequestTooLarge,
            14 => MemberNotFound,
            15 => PeerUrlExists,
            16 => MemberExists,
            17 => BadMemberUrls,
            18 => MemberNotLearner,
            19 => LearnerNotReady,
            20 => NotEnoughStartedMembers,
            21 => BadLeaderTransferee,
            22 => NotSupportedForLearner,
            23 => NoLeader,
            24 => LeaderChanged,
            25 => Timeout,
            26 => Stopped,
            27 => Unimplemented(text),
            28 => InvalidArgument(text),
            _ => Internal(text),
        }
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Status {
        Status::new(e.code(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_round_trip_keeps_every_variant() {
        let all = [
            Error::Compacted,
            Error::FutureRevision,
            Error::NoSpace,
            Error::LeaseNotFound,
            Error::LearnerNotReady,
            Error::Unimplemented("auth is not implemented".into()),
            Error::InvalidArgument("bad".into()),
            Error::Internal("disk".into()),
        ];
        for e in all {
            let (n, text) = e.to_wire();
            assert_eq!(Error::from_wire(n, text), e);
        }
    }

    #[test]
    fn codes_match_etcd() {
        let table = [
            (Error::Compacted, Code::OutOfRange),
            (Error::LeaseNotFound, Code::NotFound),
            (Error::RequestTooLarge, Code::InvalidArgument),
            (Error::NoSpace, Code::ResourceExhausted),
            (Error::NoLeader, Code::Unavailable),
        ];
        for (e, code) in table {
            assert_eq!(e.code(), code, "{e}");
        }
    }
}
