//! Crash points for tests. `KONBINI_CRASH_AT=NAME:N` makes the process kill itself with
//! SIGKILL (a real `kill -9`, no destructors, no flush) the N-th time it reaches the point
//! `NAME`. Unset, a point costs one relaxed load. The points are listed in ARCHITECTURE.md.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable naming a crash point.
pub const ENV: &str = "KONBINI_CRASH_AT";

static TARGET: OnceLock<Option<(String, u64)>> = OnceLock::new();
static HITS: AtomicU64 = AtomicU64::new(0);

fn target() -> &'static Option<(String, u64)> {
    TARGET.get_or_init(|| {
        let spec = std::env::var(ENV).ok()?;
        let (name, n) = spec.rsplit_once(':')?;
        Some((name.to_owned(), n.parse().ok()?))
    })
}

/// Reaching crash point `name`: die here if this is the hit the environment asked for.
pub fn hit(name: &str) {
    if let Some((target, n)) = target()
        && target == name
        && HITS.fetch_add(1, Ordering::Relaxed) + 1 == *n
    {
        // SAFETY: kill(2) on our own pid; it does not return for SIGKILL.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
