//! The operation mix of an API benchmark: which requests the clients send, and how many of the
//! clients keep a watch open instead.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// One kind of measured operation on ConfigMaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    /// A create of a new object.
    Create,
    /// A get of one pre-created object.
    Get,
    /// A list of the pre-created objects, by label selector.
    List,
    /// A get-modify-replace of one pre-created object, retried on a conflict.
    Update,
    /// An event delivered to an open watch (not a request: its latency runs from a write's
    /// acknowledgement to the event's arrival).
    Watch,
}

impl OpKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [OpKind; 5] = [
        OpKind::Create,
        OpKind::Get,
        OpKind::List,
        OpKind::Update,
        OpKind::Watch,
    ];

    /// The name used in `--mix` and in reports.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Create => "create",
            OpKind::Get => "get",
            OpKind::List => "list",
            OpKind::Update => "update",
            OpKind::Watch => "watch",
        }
    }

    /// The position of this kind in [`OpKind::ALL`], for per-kind arrays.
    pub fn index(self) -> usize {
        match self {
            OpKind::Create => 0,
            OpKind::Get => 1,
            OpKind::List => 2,
            OpKind::Update => 3,
            OpKind::Watch => 4,
        }
    }

    /// Whether the kind is a request that a client loop sends (all but watch).
    pub fn is_request(self) -> bool {
        self != OpKind::Watch
    }

    fn from_name(name: &str) -> Option<OpKind> {
        OpKind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// Relative weights of the operation kinds, as in `create=20,get=40,list=10,update=20,watch=10`.
///
/// The request weights divide the requests of the client loops among themselves; the watch
/// weight is instead the share of the clients that watch (see [`Mix::watchers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    weights: [u32; 5],
}

/// The largest weight accepted, so that the sum of five weights cannot overflow.
const MAX_WEIGHT: u32 = 1_000_000;

impl Default for Mix {
    /// Reads outnumber writes, and a tenth of the clients watch, roughly as controllers load an
    /// API server.
    fn default() -> Mix {
        Mix {
            weights: [20, 40, 10, 20, 10],
        }
    }
}

impl Mix {
    /// The weight of one kind.
    pub fn weight(&self, kind: OpKind) -> u32 {
        self.weights[kind.index()]
    }

    /// The kinds that have a weight, in report order.
    pub fn kinds(&self) -> impl Iterator<Item = OpKind> + '_ {
        OpKind::ALL
            .into_iter()
            .filter(|kind| self.weight(*kind) > 0)
    }

    /// The sum of the request weights; a roll for [`Mix::pick_request`] is drawn from
    /// `0..request_weight()`.
    pub fn request_weight(&self) -> u32 {
        self.kinds()
            .filter(|kind| kind.is_request())
            .map(|kind| self.weight(kind))
            .sum()
    }

    /// Whether the run writes, so that watchers have events to receive.
    pub fn writes(&self) -> bool {
        self.weight(OpKind::Create) > 0 || self.weight(OpKind::Update) > 0
    }

    /// Whether the run reads or updates the pre-created objects.
    pub fn uses_seeds(&self) -> bool {
        [OpKind::Get, OpKind::List, OpKind::Update]
            .into_iter()
            .any(|kind| self.weight(kind) > 0)
    }

    /// How many of `clients` watch: the watch weight's share of all weights, rounded, but at
    /// least one when watch has a weight. Callers check that some clients are left to send
    /// requests.
    pub fn watchers(&self, clients: usize) -> usize {
        let watch = u64::from(self.weight(OpKind::Watch));
        if watch == 0 {
            return 0;
        }
        let total = watch + u64::from(self.request_weight());
        let clients = u64::try_from(clients).unwrap_or(u64::MAX);
        let share = (clients.saturating_mul(watch) + total / 2) / total;
        usize::try_from(share.max(1)).unwrap_or(usize::MAX)
    }

    /// Maps a roll in `0..request_weight()` to a request kind, so that each kind gets its share.
    /// Rolls past the end go to the last weighted request kind rather than panicking.
    pub fn pick_request(&self, roll: u32) -> OpKind {
        let mut rest = roll;
        let mut last = OpKind::Get;
        for kind in self.kinds().filter(|kind| kind.is_request()) {
            let weight = self.weight(kind);
            if rest < weight {
                return kind;
            }
            rest -= weight;
            last = kind;
        }
        last
    }
}

impl FromStr for Mix {
    type Err = Error;

    fn from_str(text: &str) -> Result<Mix> {
        let invalid = |why: String| Error::InvalidOption(format!("invalid --mix {text:?}: {why}"));
        let mut weights = [None::<u32>; 5];
        for part in text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| invalid(format!("{part:?} is not op=weight")))?;
            let kind = OpKind::from_name(name.trim()).ok_or_else(|| {
                invalid(format!(
                    "unknown operation {:?} (expected create, get, list, update or watch)",
                    name.trim()
                ))
            })?;
            let weight: u32 = weight
                .trim()
                .parse()
                .ok()
                .filter(|weight| *weight <= MAX_WEIGHT)
                .ok_or_else(|| {
                    invalid(format!(
                        "weight {:?} is not a whole number up to {MAX_WEIGHT}",
                        weight.trim()
                    ))
                })?;
            if weights[kind.index()].replace(weight).is_some() {
                return Err(invalid(format!("{} is given twice", kind.name())));
            }
        }
        let mix = Mix {
            weights: weights.map(|weight| weight.unwrap_or(0)),
        };
        if mix.request_weight() == 0 {
            return Err(invalid(
                "no request (create, get, list or update) has a weight above 0".to_owned(),
            ));
        }
        if mix.weight(OpKind::Watch) > 0 && !mix.writes() {
            return Err(invalid(
                "watch measures the events of the run's own writes, so create or update needs a weight too"
                    .to_owned(),
            ));
        }
        Ok(mix)
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .kinds()
            .map(|kind| format!("{}={}", kind.name(), self.weight(kind)))
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_weights() {
        let cases: [(&str, Option<[u32; 5]>); 16] = [
            (
                "create=20,get=40,list=10,update=20,watch=10",
                Some([20, 40, 10, 20, 10]),
            ),
            ("get=1", Some([0, 1, 0, 0, 0])),
            (" update = 3 , get=1 ", Some([0, 1, 0, 3, 0])),
            ("create=5,", Some([5, 0, 0, 0, 0])),
            ("create=1,watch=9", Some([1, 0, 0, 0, 9])),
            ("list=0,get=2", Some([0, 2, 0, 0, 0])),
            ("", None),
            ("get=0", None),
            ("get", None),
            ("get=1,get=2", None),
            ("delete=1", None),
            ("get=-1", None),
            ("get=1.5", None),
            ("get=1000001", None),
            // Watchers would have no events to measure.
            ("get=5,watch=1", None),
            ("watch=1", None),
        ];
        for (input, expected) in cases {
            let parsed = input.parse::<Mix>().ok().map(|mix| mix.weights);
            assert_eq!(parsed, expected, "input {input:?}");
        }
    }

    #[test]
    fn rejections_name_the_problem() {
        let cases = [
            ("get=1,get=2", "get is given twice"),
            ("delete=1", "unknown operation \"delete\""),
            ("get", "is not op=weight"),
            ("get=x", "weight \"x\""),
            ("watch=1", "no request"),
            ("list=1,watch=1", "create or update"),
        ];
        for (input, expected) in cases {
            let message = input
                .parse::<Mix>()
                .err()
                .map(|error| error.to_string())
                .unwrap_or_default();
            assert!(
                message.contains(expected),
                "{input:?}: got {message:?}, expected it to mention {expected:?}"
            );
        }
    }

    #[test]
    fn displays_only_weighted_kinds_in_report_order() {
        let cases = [
            (
                "create=20,get=40,list=10,update=20,watch=10",
                "create=20,get=40,list=10,update=20,watch=10",
            ),
            ("watch=1, update=2", "update=2,watch=1"),
            ("list=7", "list=7"),
        ];
        for (input, expected) in cases {
            let shown = input.parse::<Mix>().map(|mix| mix.to_string());
            assert_eq!(shown.ok().as_deref(), Some(expected), "input {input:?}");
        }
        assert_eq!(
            Mix::default().to_string(),
            "create=20,get=40,list=10,update=20,watch=10"
        );
    }

    #[test]
    fn picks_each_request_kind_for_its_share_of_rolls() {
        let mix: Mix = "update=1,create=2,watch=50,list=1".parse().expect("valid");
        assert_eq!(mix.request_weight(), 4);
        let picked: Vec<OpKind> = (0..mix.request_weight() + 1)
            .map(|roll| mix.pick_request(roll))
            .collect();
        use OpKind::*;
        assert_eq!(picked, [Create, Create, List, Update, Update]);
    }

    #[test]
    fn watchers_take_the_watch_share_of_the_clients() {
        // (mix, clients) -> watchers
        let cases = [
            ("create=20,get=40,list=10,update=20,watch=10", 16, 2),
            ("create=20,get=40,list=10,update=20,watch=10", 100, 10),
            ("create=20,get=40,list=10,update=20,watch=10", 2, 1),
            ("create=50,watch=50", 5, 3),
            ("create=1", 16, 0),
            ("update=99,watch=1", 4, 1),
        ];
        for (mix, clients, expected) in cases {
            let mix: Mix = mix.parse().expect("valid mix");
            assert_eq!(mix.watchers(clients), expected, "{mix} with {clients}");
        }
    }
}
