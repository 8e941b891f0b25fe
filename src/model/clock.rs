//! Time: the wall clock every stored timestamp comes from.

use std::fmt;

/// The wall clock, injectable so tests can move time backwards and
/// forwards. Durations that must not jump (intervals, timeouts) use
/// `tokio::time::Instant` instead; this clock is for stored timestamps.
#[derive(Clone)]
pub struct Clock(std::sync::Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    pub fn system() -> Clock {
        Clock(std::sync::Arc::new(now_ms))
    }

    /// A clock that reads `ms`; the test moves it with `store`.
    pub fn manual(ms: std::sync::Arc<std::sync::atomic::AtomicI64>) -> Clock {
        Clock(std::sync::Arc::new(move || {
            ms.load(std::sync::atomic::Ordering::SeqCst)
        }))
    }

    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Clock({})", self.now_ms())
    }
}

/// Milliseconds since the Unix epoch: how every timestamp is stored.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
