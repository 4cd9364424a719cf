//! The one thing the authenticator needs from an async runtime: a timer.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// A boxed sleep future, as [`Runtime::sleep`] returns it.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A timer source. The authenticator is otherwise runtime-agnostic: it spawns no task and
/// opens no socket. With the `tokio` feature (default), [`TokioRuntime`] is used; on another
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
pub(crate) async fn within<F: Future>(
    runtime: &Arc<dyn Runtime>,
    limit: Duration,
    future: F,
) -> Option<F::Output> {
    Within {
        future: Box::pin(future),
        sleep: runtime.sleep(limit),
    }
    .await
}

struct Within<F> {
    future: Pin<Box<F>>,
    sleep: Sleep,
}

impl<F: Future> Future for Within<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(output) = self.future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for Within<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Within")
    }
}
