//! The panic barrier every entry point from the broker runs in: a panic inside the plugin
//! becomes the event's refusal code (the client is rejected, the ACL check denied) and an
//! error line in the broker's log; it never unwinds into C.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::log::{self, Level};

/// Runs `f`, turning a panic into `on_panic`.
pub(crate) fn guard<T>(what: &str, on_panic: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(_) => {
            // Logging itself must not unwind either.
            let _ = catch_unwind(|| {
                log::emit(
                    Level::Error,
                    &format!("mqtt-scram: internal error in {what}; refused and continuing"),
                );
            });
            on_panic
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]
    use super::*;

    #[test]
    fn a_panic_becomes_the_refusal_code() {
        const MOSQ_ERR_AUTH: i32 = 11;
        let rc = guard("a test event", MOSQ_ERR_AUTH, || -> i32 {
            panic!("boom");
        });
        assert_eq!(rc, MOSQ_ERR_AUTH);
        assert_eq!(guard("a test event", MOSQ_ERR_AUTH, || 0), 0);
    }
}
