//! Ids and secrets: Stripe-style object ids that grow with time, and random tokens.

use rand::Rng;

/// An id in Stripe's style: `pi_` and 24 letters and digits. The first 10 grow with time
/// (milliseconds, then a counter) and the last 14 are random: unique, unguessable, and in
/// creation order, so the store's id indexes grow at their right edge instead of having
/// random pages rewritten on every insert.
pub fn new_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let now = (chrono::Utc::now().timestamp_millis().max(0) as u64) << 12;
    let _ = NEXT.fetch_max(now, Ordering::Relaxed);
    let mut n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut head = [b'0'; 10];
    for slot in head.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    let mut id = String::with_capacity(prefix.len() + 25);
    id.push_str(prefix);
    id.push('_');
    id.push_str(std::str::from_utf8(&head).expect("ASCII"));
    push_random_alnum(&mut id, 14);
    id
}

/// `n` random letters and digits.
pub fn random_alnum(n: usize) -> String {
    let mut out = String::with_capacity(n);
    push_random_alnum(&mut out, n);
    out
}

/// Append `n` random letters and digits to `out`. Seven characters are taken from each
/// random `u64` (62^7 is about 2^41.7, so the remainders' bias is below 2^-22), rather than
/// one bounded draw per character: ids are made four times per confirmation.
fn push_random_alnum(out: &mut String, n: usize) {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let mut left = n;
    while left > 0 {
        let mut bits: u64 = rng.random();
        for _ in 0..left.min(7) {
            out.push(ALPHABET[(bits % 62) as usize] as char);
            bits /= 62;
        }
        left -= left.min(7);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_ordered_and_alphanumeric() {
        let ids: Vec<String> = (0..1000).map(|_| new_id("ch")).collect();
        for id in &ids {
            assert_eq!(id.len(), "ch_".len() + 24, "{id}");
            assert!(id[3..].bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        }
        // The time-and-counter head orders them as made.
        assert!(ids.windows(2).all(|w| w[0][..13] < w[1][..13]));
        let distinct: std::collections::HashSet<&str> = ids.iter().map(|s| &s[13..]).collect();
        assert_eq!(distinct.len(), ids.len(), "random tails repeat");
    }

    #[test]
    fn random_tails_use_the_whole_alphabet_evenly() {
        let mut counts = std::collections::HashMap::new();
        let n = 62 * 1000;
        for b in random_alnum(n).bytes() {
            *counts.entry(b).or_insert(0u32) += 1;
        }
        assert_eq!(counts.len(), 62);
        // 1000 expected per character; 6 standard deviations is about 190.
        assert!(
            counts.values().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
        assert_eq!(random_alnum(15).len(), 15);
    }
}
