//! `Yen`: an amount of Japanese yen. Owns money arithmetic and its display; never a bare
//! integer for money anywhere else.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount of yen. Yen has no minor unit, so this is a whole number; it is never negative
/// (a register takes cash in; refunds live on the network's side).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Yen(u64);

impl Yen {
    /// Nothing.
    pub const ZERO: Yen = Yen(0);
    /// The largest amount the journal can store (SQLite integers are signed 64-bit).
    pub const MAX: Yen = Yen(i64::MAX as u64);

    /// An amount of `yen` yen.
    pub const fn new(yen: u64) -> Yen {
        Yen(yen)
    }

    /// The number of yen.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// `self + other`, or `None` past [`Yen::MAX`].
    pub fn checked_add(self, other: Yen) -> Option<Yen> {
        self.0
            .checked_add(other.0)
            .filter(|&sum| sum <= Yen::MAX.0)
            .map(Yen)
    }

    /// `self - other`, or `None` below zero.
    pub fn checked_sub(self, other: Yen) -> Option<Yen> {
        self.0.checked_sub(other.0).map(Yen)
    }

    /// The amount with thousands separators and no sign: `12,345`.
    pub fn grouped(self) -> String {
        let digits = self.0.to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }
}

impl fmt::Display for Yen {
    /// `¥12,345`, as on a Japanese receipt.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "¥{}", self.grouped())
    }
}

impl TryFrom<i64> for Yen {
    type Error = std::num::TryFromIntError;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        u64::try_from(value).map(Yen)
    }
}

impl From<Yen> for i64 {
    fn from(value: Yen) -> i64 {
        // Every Yen is at most Yen::MAX, which fits.
        value.0 as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(Yen::new(0).grouped(), "0");
        assert_eq!(Yen::new(999).grouped(), "999");
        assert_eq!(Yen::new(1000).grouped(), "1,000");
        assert_eq!(Yen::new(300_000).to_string(), "¥300,000");
        assert_eq!(Yen::new(1_234_567).grouped(), "1,234,567");
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(Yen::MAX.checked_add(Yen::new(1)), None);
        assert_eq!(Yen::new(5).checked_sub(Yen::new(6)), None);
        assert_eq!(Yen::new(5).checked_add(Yen::new(6)), Some(Yen::new(11)));
    }
}
