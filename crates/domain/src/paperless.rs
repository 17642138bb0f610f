//! The paperless payment reference a customer brings instead of a slip: the chain, the
//! payment code and the confirmation number (Stripe's `konbini_display_details.stores`).

use serde::{Deserialize, Serialize};

use super::Chain;

/// A keyed-in payment reference whose numbers have the right form. Whether the network
/// knows it is a separate question (the online lookup).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PaperlessRef {
    /// The chain the customer is paying at.
    pub chain: Chain,
    /// 1-20 digits.
    pub payment_code: String,
    /// 10-11 digits (often the customer's phone number).
    pub confirmation_number: String,
}

/// Why keyed-in numbers are not a payment reference: the register's `malformed`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaperlessError {
    /// The chain is not one of the four.
    #[error(transparent)]
    Chain(#[from] super::chain::UnknownChain),
    /// The payment code is not 1-20 digits.
    #[error("payment code {0:?} is not 1-20 digits")]
    PaymentCode(String),
    /// The confirmation number is not 10-11 digits.
    #[error("confirmation number {0:?} is not 10-11 digits")]
    ConfirmationNumber(String),
}

impl PaperlessRef {
    /// Check the keyed-in text and make a reference of it.
    pub fn parse(
        chain: &str,
        payment_code: &str,
        confirmation_number: &str,
    ) -> Result<PaperlessRef, PaperlessError> {
        let chain: Chain = chain.parse()?;
        let digits = |s: &str, range: std::ops::RangeInclusive<usize>| {
            range.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits(payment_code, 1..=20) {
            return Err(PaperlessError::PaymentCode(payment_code.to_owned()));
        }
        if !digits(confirmation_number, 10..=11) {
            return Err(PaperlessError::ConfirmationNumber(
                confirmation_number.to_owned(),
            ));
        }
        Ok(PaperlessRef {
            chain,
            payment_code: payment_code.to_owned(),
            confirmation_number: confirmation_number.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_forms() {
        let r = PaperlessRef::parse("lawson", "123456", "09012345678").unwrap();
        assert_eq!(r.chain, Chain::Lawson);
        assert!(PaperlessRef::parse("seicomart", "1", "0123456789").is_ok());
        assert!(PaperlessRef::parse("familymart", "12345678901234567890", "0123456789").is_ok());
    }

    #[test]
    fn refuses_each_bad_field() {
        assert!(matches!(
            PaperlessRef::parse("7eleven", "123456", "09012345678"),
            Err(PaperlessError::Chain(_))
        ));
        for code in ["", "123456789012345678901", "12a456", "１２３"] {
            assert!(
                matches!(
                    PaperlessRef::parse("lawson", code, "09012345678"),
                    Err(PaperlessError::PaymentCode(_))
                ),
                "{code:?}"
            );
        }
        for conf in ["123456789", "123456789012", "0901234567x", ""] {
            assert!(
                matches!(
                    PaperlessRef::parse("lawson", "123456", conf),
                    Err(PaperlessError::ConfirmationNumber(_))
                ),
                "{conf:?}"
            );
        }
    }
}
