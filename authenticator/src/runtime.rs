//! The one thing the authenticator needs from an async runtime: a timer.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

/// A boxed sleep future, as [`Runtime::sleep`] returns it.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A timer source. The authenticator is otherwise runtime-agnostic: it spawns no task and
/// opens no socket. With the `tokio` feature (default), `TokioRuntime` is used; on another
/// runtime implement this one method.
///
/// ```
/// use std::time::Duration;
/// use mqtt_scram_authenticator::{Runtime, Sleep};
///
/// /// E.g. for smol: `Box::pin(async move { smol::Timer::after(duration).await; })`.
/// struct NeverSleeps;
/// impl Runtime for NeverSleeps {
///     fn sleep(&self, _duration: Duration) -> Sleep {
///         Box::pin(std::future::ready(()))
///     }
/// }
/// ```
pub trait Runtime: Send + Sync + 'static {
    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> Sleep;
}

/// Timers from tokio (feature `tokio`). Must be used inside a tokio runtime with its time
/// driver enabled.
///
/// ```
/// use std::time::Duration;
/// use mqtt_scram_authenticator::{Runtime, TokioRuntime};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// TokioRuntime.sleep(Duration::from_millis(1)).await;
/// # }
/// ```
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioRuntime;

#[cfg(feature = "tokio")]
impl Runtime for TokioRuntime {
    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Runs `future` for at most `limit`: `None` if the time ran out first.
///
/// The timer is only armed if the first poll leaves the future pending: work slots are
/// usually free and in-memory lookups answer at once, so most calls cost no timer (a boxed
/// sleep, a clock reading and a timer-wheel entry each).
pub(crate) async fn within<F: Future>(
    runtime: &Arc<dyn Runtime>,
    limit: Duration,
    future: F,
) -> Option<F::Output> {
    let mut future = pin!(future);
    let first = poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await;
    if let Poll::Ready(output) = first {
        return Some(output);
    }
    let mut sleep = runtime.sleep(limit);
    poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        sleep.as_mut().poll(cx).map(|()| None)
    })
    .await
}
