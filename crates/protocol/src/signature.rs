//! Request signatures: `Konbini-Signature: t=<unix seconds>,v1=<hex>`, where the hex is the
//! HMAC-SHA256, under the terminal's shared secret, of `<t>.<METHOD>.<path?query>.<body>`.
//! The register signs every request; the network checks the time is within
//! [`SIGNATURE_WINDOW_SECONDS`](crate::SIGNATURE_WINDOW_SECONDS) of its own clock and the
//! MAC matches. (The same construction as Stripe's webhook signatures, with the method and
//! path added so a signed body cannot be replayed at another URL.)

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::SIGNATURE_WINDOW_SECONDS;

type HmacSha256 = Hmac<Sha256>;

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `t=` in the header.
    #[error("the Konbini-Signature header has no t=<unix seconds>")]
    NoTime,
    /// The time is outside the window.
    #[error(
        "the signature's time {t} is more than {SIGNATURE_WINDOW_SECONDS} s from the network's clock ({now})"
    )]
    Stale {
        /// The signature's time.
        t: i64,
        /// The checker's clock.
        now: i64,
    },
    /// No `v1=` matches.
    #[error("the signature does not match (wrong secret, or the request was changed)")]
    Mismatch,
}

fn mac(secret: &str, t: i64, method: &str, path_and_query: &str, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{t}.{method}.{path_and_query}.").as_bytes());
    mac.update(body);
    mac
}

/// The `Konbini-Signature` value a terminal sends for a request made at `t`.
pub fn sign(secret: &str, t: i64, method: &str, path_and_query: &str, body: &[u8]) -> String {
    let tag = mac(secret, t, method, path_and_query, body)
        .finalize()
        .into_bytes();
    format!("t={t},v1={}", hex::encode(tag))
}

/// Check a `Konbini-Signature` header against the request, at time `now`.
///
/// A request replayed within the window is let through on purpose: a register resending a
/// batch in the same second signs it identically, and every write is idempotent by slip id.
pub fn verify(
    secret: &str,
    header: &str,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    Signed::parse(header, now)?.verify(secret, method, path_and_query, body)
}

/// A `Konbini-Signature` header whose form and time are checked, before the body it signs is
/// read: a server refuses a stale or malformed header without reading a byte of body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed<'a> {
    t: i64,
    v1: Vec<&'a str>,
}

impl<'a> Signed<'a> {
    /// Parse `header` and check its time against `now`: within
    /// [`SIGNATURE_WINDOW_SECONDS`], with at least one `v1=` of 64 hex digits.
    pub fn parse(header: &'a str, now: i64) -> Result<Signed<'a>, SignatureError> {
        let mut t = None;
        let mut v1 = Vec::new();
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", v)) => t = v.parse::<i64>().ok(),
                Some(("v1", v)) if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    v1.push(v)
                }
                _ => {}
            }
        }
        let t = t.ok_or(SignatureError::NoTime)?;
        if now.abs_diff(t) > SIGNATURE_WINDOW_SECONDS as u64 {
            return Err(SignatureError::Stale { t, now });
        }
        if v1.is_empty() {
            return Err(SignatureError::Mismatch);
        }
        Ok(Signed { t, v1 })
    }

    /// Check the MAC over the request.
    pub fn verify(
        &self,
        secret: &str,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        let expected = hex::encode(
            mac(secret, self.t, method, path_and_query, body)
                .finalize()
                .into_bytes(),
        );
        let ok = self
            .v1
            .iter()
            .any(|v| constant_time_eq(v.as_bytes(), expected.as_bytes()));
        if ok {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

/// Equal, in a time that does not depend on where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_time_method_path_and_body() {
        // Computed independently: python3 -c "import hmac,hashlib;
        // print(hmac.new(b's3cret', b'1700000000.POST./terminal/v1/confirmations.{}', hashlib.sha256).hexdigest())"
        let s = sign(
            "s3cret",
            1_700_000_000,
            "POST",
            "/terminal/v1/confirmations",
            b"{}",
        );
        assert_eq!(
            s,
            "t=1700000000,v1=128d24da00f5004bd987ea0a194890afbe07160adf7ee466bc7a9f9852ab2c76"
        );
    }

    #[test]
    fn verify_takes_what_sign_made_and_nothing_changed() {
        let path = "/terminal/v1/confirmations";
        let h = sign("k", 1000, "POST", path, b"body");
        assert_eq!(verify("k", &h, "POST", path, b"body", 1000 + 300), Ok(()));
        assert_eq!(
            verify("other", &h, "POST", path, b"body", 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("k", &h, "POST", path, b"bodY", 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("k", &h, "GET", path, b"body", 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("k", &h, "POST", "/x", b"body", 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("k", &h, "POST", path, b"body", 1301),
            Err(SignatureError::Stale { t: 1000, now: 1301 })
        );
        assert_eq!(
            verify("k", "v1=00", "POST", path, b"", 0),
            Err(SignatureError::NoTime)
        );
        // Several v1 values (a secret being rolled): any one matching is enough; one that is
        // not the MAC is simply not a match.
        let v1 = &h[h.find("v1=").unwrap() + 3..];
        let two = format!("t=1000,v1=zz,v1={v1}");
        assert_eq!(verify("k", &two, "POST", path, b"body", 1000), Ok(()));
    }
}
