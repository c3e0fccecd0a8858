//! What a sleeping thread's wait message says about it, shared by the
//! kernel's hang watchdog and the host's reading of a deadlock report.

/// Waits that may last for ever without anything being wrong: a parent's
/// wait4, the idle pagedaemon, a nanosleep, the self-tests' own channels
/// (`join`, `kt…`). Every other wait is on a lock, a busy page or buffer,
/// or I/O.
pub fn is_event_wait(wmesg: &str) -> bool {
    matches!(wmesg, "wait" | "pgdaemon" | "nanosleep" | "join") || wmesg.starts_with("kt")
}

#[cfg(test)]
mod tests {
    use super::is_event_wait;

    #[test]
    fn events_and_resources() {
        for w in ["wait", "pgdaemon", "nanosleep", "join", "ktjoin", "ktnap"] {
            assert!(is_event_wait(w), "{w}");
        }
        for w in ["vnlock", "uvn_flsh", "getblk", "biowait", "hanglock", "uvn_term"] {
            assert!(!is_event_wait(w), "{w}");
        }
    }
}
