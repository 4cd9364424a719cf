//! The plugin's own threads are joined before the broker unloads the plugin (a thread still
//! running code of an unloaded library would crash the broker), but never for longer than a
//! bound: Rust's `join` has no timeout, so the wait polls `is_finished` and gives up at the
//! deadline, saying which thread it left.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::log::{self, Level};

/// How long cleanup waits for each kind of plugin thread at most.
pub(crate) const JOIN_LIMIT: Duration = Duration::from_secs(5);

/// Joins `handles` if they finish within `limit` (in all); logs the ones left running.
/// Returns how many were joined.
pub(crate) fn join_within(what: &str, handles: Vec<JoinHandle<()>>, limit: Duration) -> usize {
    let deadline = Instant::now() + limit;
    let mut pending = handles;
    let mut joined = 0;
    loop {
        let (finished, running): (Vec<_>, Vec<_>) =
            pending.into_iter().partition(JoinHandle::is_finished);
        for handle in finished {
            let _ = handle.join();
            joined += 1;
        }
        pending = running;
        if pending.is_empty() {
            return joined;
        }
        if Instant::now() >= deadline {
            log::emit(
                Level::Warning,
                &format!(
                    "mqtt-scram: {} {what} thread(s) still running after {limit:?} at cleanup; \
                     not waiting longer",
                    pending.len()
                ),
            );
            return joined;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn joins_finished_threads_and_gives_up_on_the_others_at_the_bound() {
        let quick = std::thread::spawn(|| {});
        let (tx, rx) = mpsc::channel::<()>();
        let stuck = std::thread::spawn(move || {
            let _ = rx.recv();
        });
        let joined = join_within("test", vec![quick, stuck], Duration::from_millis(50));
        assert_eq!(joined, 1);
        drop(tx);
    }
}
