//! The operation mix: which kinds of request a run sends, and in what proportion.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// One kind of measured request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    /// A put of one key.
    Put,
    /// A range over one key (a get), linearizable or serializable.
    Range,
    /// An optimistic update as the Kubernetes API server makes it: if the key's mod revision is the
    /// one last seen, put it, else read it back.
    Txn,
}

impl OpKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [OpKind; 3] = [OpKind::Put, OpKind::Range, OpKind::Txn];

    /// The name used in `--mix` and in reports.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Put => "put",
            OpKind::Range => "range",
            OpKind::Txn => "txn",
        }
    }

    /// The position of this kind in [`OpKind::ALL`], for per-kind arrays.
    pub fn index(self) -> usize {
        match self {
            OpKind::Put => 0,
            OpKind::Range => 1,
            OpKind::Txn => 2,
        }
    }
}

/// Relative weights of the operation kinds, as in `put=50,range=40,txn=10`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    weights: [u32; 3],
}

/// The largest weight accepted, so that the sum of three weights cannot overflow.
const MAX_WEIGHT: u32 = 1_000_000;

impl Mix {
    /// Puts only: etcd's benchmark default and the check-perf load.
    pub const PUTS_ONLY: Mix = Mix {
        weights: [100, 0, 0],
    };

    /// The weight of one kind.
    pub fn weight(&self, kind: OpKind) -> u32 {
        self.weights[kind.index()]
    }

    /// The sum of the weights; a roll for [`Mix::pick`] is drawn from `0..total_weight()`.
    pub fn total_weight(&self) -> u32 {
        self.weights.iter().sum()
    }

    /// The kinds that have a weight, in report order.
    pub fn kinds(&self) -> impl Iterator<Item = OpKind> + '_ {
        OpKind::ALL
            .into_iter()
            .filter(|kind| self.weight(*kind) > 0)
    }

    /// Maps a roll in `0..total_weight()` to a kind, so that each kind gets its share of rolls.
    /// Rolls past the end go to the last weighted kind rather than panicking.
    pub fn pick(&self, roll: u32) -> OpKind {
        let mut rest = roll;
        let mut last = OpKind::Put;
        for kind in self.kinds() {
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
        let mut weights = [None::<u32>; 3];
        for part in text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| invalid(format!("{part:?} is not op=weight")))?;
            let kind = match name.trim() {
                "put" => OpKind::Put,
                "range" | "get" => OpKind::Range,
                "txn" => OpKind::Txn,
                other => {
                    return Err(invalid(format!(
                        "unknown operation {other:?} (expected put, range or txn)"
                    )));
                }
            };
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
        if mix.total_weight() == 0 {
            return Err(invalid("no operation has a weight above 0".to_owned()));
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
        let cases: [(&str, Option<[u32; 3]>); 12] = [
            ("put=100", Some([100, 0, 0])),
            ("put=50,range=40,txn=10", Some([50, 40, 10])),
            (" range = 1 , put=3 ", Some([3, 1, 0])),
            ("get=1", Some([0, 1, 0])),
            ("txn=5,", Some([0, 0, 5])),
            ("put=0,range=2", Some([0, 2, 0])),
            ("", None),
            ("put=0", None),
            ("put", None),
            ("put=1,put=2", None),
            ("delete=1", None),
            ("put=-1", None),
        ];
        for (input, expected) in cases {
            let parsed = input.parse::<Mix>().ok().map(|mix| mix.weights);
            assert_eq!(parsed, expected, "input {input:?}");
        }
        assert!("put=1000001".parse::<Mix>().is_err());
    }

    #[test]
    fn displays_only_weighted_kinds() {
        let cases = [
            ("put=50,range=40,txn=10", "put=50,range=40,txn=10"),
            ("txn=1, put=2", "put=2,txn=1"),
            ("range=7", "range=7"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                input
                    .parse::<Mix>()
                    .map(|mix| mix.to_string())
                    .ok()
                    .as_deref(),
                Some(expected)
            );
        }
    }

    #[test]
    fn picks_each_kind_for_its_share_of_rolls() {
        let mix: Mix = "put=2,txn=1,range=3".parse().expect("valid mix");
        let picked: Vec<OpKind> = (0..mix.total_weight() + 1)
            .map(|roll| mix.pick(roll))
            .collect();
        use OpKind::*;
        assert_eq!(picked, [Put, Put, Range, Range, Range, Txn, Txn]);
    }
}
