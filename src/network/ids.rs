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
    let head = std::str::from_utf8(&head).expect("ASCII");
    format!("{prefix}_{head}{}", random_alnum(14))
}

/// `n` random letters and digits.
pub fn random_alnum(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}
