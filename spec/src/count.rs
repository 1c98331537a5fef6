//! The value of a count rule (`keep-daily` …): a number of buckets, or all of them.
//!
//! restic ≥ 0.16 keeps every bucket for `--keep-daily unlimited` (internally -1). Job specs
//! write it `"all"`; `bakrun retention` also takes `-1` and `unlimited` as restic users
//! know them. Any other negative number is refused rather than guessed at.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How many buckets of one period a rule keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Count {
    /// The newest snapshot of each of the `n` newest buckets that have one; 0 is no rule.
    Buckets(u32),
    /// The newest snapshot of every bucket.
    All,
}

impl Count {
    /// Whether the rule keeps anything at all.
    pub fn is_rule(self) -> bool {
        self != Count::Buckets(0)
    }
}

impl From<u32> for Count {
    fn from(n: u32) -> Self {
        Count::Buckets(n)
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Count::Buckets(n) => write!(f, "{n}"),
            Count::All => f.write_str("all"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a count: give a whole number from 0 to 4294967295, or `all` (also `-1` or `unlimited`)")]
pub struct CountError(pub String);

impl FromStr for Count {
    type Err = CountError;

    /// The command line's spellings: a number, `all`, or restic's `-1` and `unlimited`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "all" | "unlimited" | "-1" => Ok(Count::All),
            _ if s.bytes().all(|b| b.is_ascii_digit()) => s
                .parse()
                .map(Count::Buckets)
                .map_err(|_| CountError(s.to_owned())),
            _ => Err(CountError(s.to_owned())),
        }
    }
}

impl Serialize for Count {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Count::Buckets(n) => s.serialize_u32(*n),
            Count::All => s.serialize_str("all"),
        }
    }
}

impl<'de> Deserialize<'de> for Count {
    /// A job spec holds a non-negative integer or the string `"all"`, nothing else: the
    /// spec is bakgen's output, and anything looser would hide a bug there.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl Visitor<'_> for CountVisitor {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer from 0 to 4294967295 or \"all\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
                u32::try_from(v)
                    .map(Count::Buckets)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
                u32::try_from(v)
                    .map(Count::Buckets)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Count, E> {
                match v {
                    "all" => Ok(Count::All),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(CountVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_spellings() {
        assert_eq!("7".parse(), Ok(Count::Buckets(7)));
        assert_eq!("0".parse(), Ok(Count::Buckets(0)));
        for all in ["all", "unlimited", "-1"] {
            assert_eq!(all.parse(), Ok(Count::All), "{all}");
        }
        for bad in ["-2", "", "+3", "4294967296", "seven", "1.5", "ALL"] {
            assert!(bad.parse::<Count>().is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn spec_json_round_trip_and_refusals() {
        for (c, text) in [(Count::Buckets(7), "7"), (Count::All, "\"all\"")] {
            assert_eq!(serde_json::to_string(&c).ok().as_deref(), Some(text));
            assert_eq!(serde_json::from_str::<Count>(text).ok(), Some(c));
        }
        for bad in ["-1", "\"unlimited\"", "\"7\"", "4294967296", "1.0", "null"] {
            assert!(
                serde_json::from_str::<Count>(bad).is_err(),
                "{bad} must be refused"
            );
        }
    }
}
