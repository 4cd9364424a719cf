//! Async authenticator (work in progress: see the issue "For broker authors").
