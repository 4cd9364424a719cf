//! The client builder's iteration window is validated like the serde form (issue 20 §7).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use mqtt_scram::client::{self, ClientConfig};
use mqtt_scram::{ErrorCategory, ErrorKind, Mechanism};

#[test]
fn an_empty_or_zero_window_is_refused_before_the_exchange() {
    for (min, max) in [(0, 4096), (600_000, 4096), (0, 0)] {
        let err = ClientConfig::new()
            .try_iteration_window(min..=max)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidIterationWindow);
        assert_eq!(err.iteration_window(), Some(min..=max));
        assert_eq!(err.category(), ErrorCategory::Local);
        assert!(err.to_string().starts_with("iteration_window:"), "{err}");
        // The infallible builder: the exchange is refused at `start`, before any message.
        let config = ClientConfig::new().iteration_window(min..=max);
        let started = client::start(
            &config,
            Mechanism::ScramSha256,
            "alice",
            "pencil",
            &mut rand::rng(),
        );
        let err = started.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidIterationWindow);
        assert_eq!(err.iteration_window(), Some(min..=max));
    }
    let config = ClientConfig::new().try_iteration_window(1..=1).unwrap();
    assert!(
        client::start(
            &config,
            Mechanism::ScramSha256,
            "alice",
            "pencil",
            &mut rand::rng()
        )
        .is_ok()
    );
}
