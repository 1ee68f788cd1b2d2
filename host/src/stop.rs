//! `StopSignal`: a request, from SIGINT or SIGTERM, to stop the run in progress. The
//! sandbox checks it at every host call and epoch tick, and a running program is killed
//! when it is raised; the run then rolls back what `apply` did.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use tokio::sync::Notify;

/// Shared between the signal handler and everything it must stop. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct StopSignal {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The signal number that asked to stop, 0 while none has.
    signal: AtomicI32,
    notify: Notify,
}

impl StopSignal {
    /// A signal nobody has raised.
    pub fn new() -> Self {
        StopSignal::default()
    }

    /// Ask everything watching to stop, because of `signal` (e.g. 2 for SIGINT). The first
    /// request wins.
    pub fn raise(&self, signal: i32) {
        let _ = self
            .inner
            .signal
            .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// The signal that asked to stop, if any.
    pub fn raised(&self) -> Option<i32> {
        match self.inner.signal.load(Ordering::SeqCst) {
            0 => None,
            signal => Some(signal),
        }
    }

    /// Resolves once a stop has been asked for.
    pub async fn wait(&self) {
        loop {
            let notified = self.inner.notify.notified();
            if self.raised().is_some() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_signal_wins_and_wakes_waiters() {
        let stop = StopSignal::new();
        assert_eq!(stop.raised(), None);
        let waiter = tokio::spawn({
            let stop = stop.clone();
            async move { stop.wait().await }
        });
        stop.raise(15);
        stop.raise(2);
        waiter.await.unwrap();
        assert_eq!(stop.raised(), Some(15));
    }
}
