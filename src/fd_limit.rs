//! The process's descriptor limit and the network's connection cap: each connection is a
//! descriptor, so the cap is kept below the limit (with room for the store, the webhook
//! client and the listener), and the soft limit is first raised to the hard one, as servers
//! do (getrlimit(2)).

/// Descriptors kept for everything but client connections.
const RESERVED: u64 = 256;

/// Raise the soft descriptor limit to the hard one; the soft limit after.
pub fn raise() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    Some(lim.rlim_cur)
}

/// `wanted` connections, or fewer when the descriptor limit (raised first) cannot hold them;
/// says so on stderr when it lowers the cap.
pub fn connections_within(wanted: usize) -> usize {
    let Some(limit) = raise() else {
        return wanted;
    };
    let room = usize::try_from(limit.saturating_sub(RESERVED)).unwrap_or(usize::MAX);
    if wanted > room {
        eprintln!(
            "konbini network: --max-connections {wanted} is more than the descriptor limit ({limit}) allows; serving at most {room} connections"
        );
        room.max(1)
    } else {
        wanted
    }
}
