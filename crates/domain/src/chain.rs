//! The four convenience-store chains where Stripe's Konbini payments can be made.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A konbini chain that accepts paperless Konbini payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Chain {
    /// FamilyMart (ファミリーマート).
    FamilyMart,
    /// Lawson (ローソン).
    Lawson,
    /// Ministop (ミニストップ).
    Ministop,
    /// Seicomart (セイコーマート).
    Seicomart,
}

impl Chain {
    /// Every chain, in Stripe's order.
    pub const ALL: [Chain; 4] = [
        Chain::FamilyMart,
        Chain::Lawson,
        Chain::Ministop,
        Chain::Seicomart,
    ];

    /// The identifier used by Stripe and the scan log (`familymart`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Chain::FamilyMart => "familymart",
            Chain::Lawson => "lawson",
            Chain::Ministop => "ministop",
            Chain::Seicomart => "seicomart",
        }
    }

    /// The chain's name as printed in Japanese.
    pub fn name_ja(self) -> &'static str {
        match self {
            Chain::FamilyMart => "ファミリーマート",
            Chain::Lawson => "ローソン",
            Chain::Ministop => "ミニストップ",
            Chain::Seicomart => "セイコーマート",
        }
    }
}

impl Chain {
    /// The chain's name as written in English.
    pub fn name_en(self) -> &'static str {
        match self {
            Chain::FamilyMart => "FamilyMart",
            Chain::Lawson => "Lawson",
            Chain::Ministop => "Ministop",
            Chain::Seicomart => "Seicomart",
        }
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of the four chain identifiers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown chain {0:?} (expected familymart, lawson, ministop or seicomart)")]
pub struct UnknownChain(pub String);

impl FromStr for Chain {
    type Err = UnknownChain;
    fn from_str(s: &str) -> Result<Chain, UnknownChain> {
        Chain::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownChain(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_its_own_names_only() {
        for chain in Chain::ALL {
            assert_eq!(chain.as_str().parse::<Chain>(), Ok(chain));
        }
        assert!("FamilyMart".parse::<Chain>().is_err());
        assert!("seven-eleven".parse::<Chain>().is_err());
    }
}
