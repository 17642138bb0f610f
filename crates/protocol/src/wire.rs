//! The terminal API's bodies. Each type is the one both sides use: the register serializes
//! what the network deserializes, so a field cannot be renamed on one side only.
//!
//! Strings are `Cow`: a register serializes confirmations borrowed from the slips it read
//! (a drain sends every slip it reads, and copying them cost as much as serializing them);
//! the network deserializes them owned.

use std::borrow::Cow;

use konbini_domain::Chain;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A sale's place in its terminal's journal chain, sent with each of its slips so the
/// network can keep the chain and flag gaps and forks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalLink<'a> {
    /// The sale's number in its journal: 1, 2, 3, ...
    pub seq: i64,
    /// The previous sale's hash, 64 lowercase hex digits.
    pub prev: Cow<'a, str>,
    /// This sale's hash, 64 lowercase hex digits.
    pub hash: Cow<'a, str>,
}

/// One slip paid in cash at a store: the network credits its payment.
///
/// Paid either by `barcode` (the 44 digits of a bill barcode) or by `payment_code` and
/// `confirmation_number` (a keyed-in paperless payment, which needs `chain`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirmation<'a> {
    /// The slip id, `<journal id>-<sale>-<slip>`: the idempotency key of the confirmation.
    pub id: Cow<'a, str>,
    /// The store's code.
    pub store: Cow<'a, str>,
    /// The store's chain; may be unknown for a scanned bill barcode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<Chain>,
    /// When the cash was taken, RFC 3339.
    pub paid_at: Cow<'a, str>,
    /// Yen taken for this slip.
    pub amount: i64,
    /// A scanned bill barcode's 44 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub barcode: Option<Cow<'a, str>>,
    /// A keyed-in payment code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_code: Option<Cow<'a, str>>,
    /// A keyed-in confirmation number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_number: Option<Cow<'a, str>>,
    /// The sale's link in the terminal's journal chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<JournalLink<'a>>,
}

/// `POST /terminal/v1/confirmations`, as a register writes it: at most
/// [`MAX_BATCH`](crate::MAX_BATCH) confirmations (of any type that serializes as a
/// [`Confirmation`]).
#[derive(Debug, Serialize)]
pub struct BatchRef<'a, C> {
    /// The confirmations, in the order the answer lists them.
    pub confirmations: &'a [C],
}

/// The same body as the network reads it: each confirmation kept as raw JSON, so that one
/// it cannot read is answered `rejected` on its own instead of failing the batch.
#[derive(Debug, Deserialize)]
pub struct RawBatch<'a> {
    /// The confirmations, unread.
    #[serde(borrow)]
    pub confirmations: Vec<&'a RawValue>,
}

/// What the network made of a confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Recorded now: the payment is credited.
    Accepted,
    /// Already recorded under this id with the same content: nothing changed.
    Duplicate,
    /// Recorded, but the network will not credit it (the payment was already paid,
    /// canceled, or the cash was taken too late): store and merchant must reconcile.
    Conflict,
    /// Not recorded: the confirmation is invalid (the reason says why).
    Rejected,
}

impl Verdict {
    /// As on the wire: `accepted`, `duplicate`, `conflict`, `rejected`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Duplicate => "duplicate",
            Verdict::Conflict => "conflict",
            Verdict::Rejected => "rejected",
        }
    }
}

/// The answer for one confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The confirmation's id (empty when it had none).
    pub id: String,
    /// The verdict.
    #[serde(rename = "status")]
    pub verdict: Verdict,
    /// Why, for conflicts and rejections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The answer to a batch: one outcome per confirmation, in the batch's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAnswer {
    /// The outcomes.
    pub results: Vec<Outcome>,
}

/// `GET /terminal/v1/lookup?chain=..&payment_code=..&confirmation_number=..`: is this
/// keyed-in payment payable here?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupQuery {
    /// The chain the customer chose.
    pub chain: String,
    /// The payment code.
    pub payment_code: String,
    /// The confirmation number.
    pub confirmation_number: String,
}

impl LookupQuery {
    /// The path and query to request (and sign). The values are digits and a chain name,
    /// which need no escaping.
    pub fn path_and_query(&self) -> String {
        format!(
            "{}?chain={}&payment_code={}&confirmation_number={}",
            crate::LOOKUP_PATH,
            self.chain,
            self.payment_code,
            self.confirmation_number
        )
    }
}

/// The look-up's answer (200) for a payable payment. (Fields in alphabetical order, as the
/// network has always written them.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payable {
    /// Yen to take.
    pub amount: u64,
    /// Always `jpy`.
    #[serde(default)]
    pub currency: String,
    /// The customer's name, cut to 20 characters.
    #[serde(default)]
    pub customer_name: String,
    /// What is bought.
    #[serde(default)]
    pub description: String,
    /// The voucher's deadline, unix seconds.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// The merchant paid, as the register shows it.
    #[serde(default)]
    pub merchant: String,
    /// The network's payment id.
    pub payment: String,
}

/// An error answer of the terminal API (4xx, 5xx).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorAnswer {
    /// What went wrong.
    pub error: ErrorBody,
}

/// The error itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// `unauthorized`, `unknown_payment`, `not_payable`, `invalid_request`, `internal`,
    /// `unavailable`.
    #[serde(default)]
    pub code: String,
    /// A sentence for the register's log.
    #[serde(default)]
    pub message: String,
    /// For `not_payable` (409): the payment's state, `succeeded`, `canceled` or `expired`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confirmation_round_trips_and_omits_what_it_lacks() {
        let c = Confirmation {
            id: "j-7-1".into(),
            store: "0042".into(),
            chain: None,
            paid_at: "2026-11-28T10:15:03+09:00".into(),
            amount: 1200,
            barcode: Some("9".repeat(44).into()),
            payment_code: None,
            confirmation_number: None,
            journal: Some(JournalLink {
                seq: 7,
                prev: "a".repeat(64).into(),
                hash: "b".repeat(64).into(),
            }),
        };
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"id":"j-7-1","store":"0042","paid_at":"2026-11-28T10:15:03+09:00","amount":1200,"barcode":"{}","journal":{{"seq":7,"prev":"{}","hash":"{}"}}}}"#,
                "9".repeat(44),
                "a".repeat(64),
                "b".repeat(64)
            )
        );
        assert_eq!(serde_json::from_str::<Confirmation<'_>>(&text).unwrap(), c);
        // An unknown field is refused, not ignored.
        let extra = text.replacen('{', r#"{"tip":1,"#, 1);
        assert!(serde_json::from_str::<Confirmation<'_>>(&extra).is_err());
    }

    #[test]
    fn verdicts_are_their_lowercase_names_and_nothing_else() {
        let answer: BatchAnswer = serde_json::from_str(
            r#"{"results":[{"id":"a","status":"accepted"},{"id":"b","status":"conflict","reason":"already_paid"}]}"#,
        )
        .unwrap();
        assert_eq!(answer.results[0].verdict, Verdict::Accepted);
        assert_eq!(answer.results[1].reason.as_deref(), Some("already_paid"));
        assert_eq!(
            serde_json::to_string(&answer.results[0]).unwrap(),
            r#"{"id":"a","status":"accepted"}"#
        );
        for v in [
            Verdict::Accepted,
            Verdict::Duplicate,
            Verdict::Conflict,
            Verdict::Rejected,
        ] {
            assert_eq!(serde_json::to_value(v).unwrap(), v.as_str());
        }
        assert!(
            serde_json::from_str::<BatchAnswer>(r#"{"results":[{"id":"a","status":"maybe"}]}"#)
                .is_err()
        );
    }

    #[test]
    fn a_look_up_is_signed_over_this_path() {
        let q = LookupQuery {
            chain: "lawson".into(),
            payment_code: "123456".into(),
            confirmation_number: "71105781511".into(),
        };
        assert_eq!(
            q.path_and_query(),
            "/terminal/v1/lookup?chain=lawson&payment_code=123456&confirmation_number=71105781511"
        );
    }
}
