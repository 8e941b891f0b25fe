//! The one connection's lock, with the engine's thread stepping aside for
//! anyone waiting.
//!
//! The engine's thread runs its statements back to back, each taking and
//! releasing the lock. `std`'s mutex lets a running thread take a lock
//! again before a waiter it woke gets to run, so while the engine drains
//! a queue at full speed the intake's group commit (and every other
//! caller on the blocking pool) could wait until the queue was empty: in
//! the benchmark's row 2c, `POST /reorder` p99 was 9-11 ms. A fair
//! (hand-over) lock was tried and was worse on 2 busy cores: it hands the
//! lock to a thread that is not running yet and makes every holder wait
//! for it. So the lock stays unfair, and only the engine, the one caller
//! that hammers it, looks first whether anyone else waits and, if so,
//! yields its core until that caller has the lock (at most
//! [`STEP_ASIDE_MAX`], so a stuck waiter never stops the loop).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// The longest the engine's thread steps aside for one statement.
const STEP_ASIDE_MAX: Duration = Duration::from_millis(5);

pub(super) struct SharedConn {
    conn: Mutex<Connection>,
    /// Callers other than the engine's thread waiting for `conn`.
    waiting: AtomicUsize,
    step_aside_max: Duration,
}

impl SharedConn {
    pub fn new(conn: Connection) -> SharedConn {
        SharedConn {
            conn: Mutex::new(conn),
            waiting: AtomicUsize::new(0),
            step_aside_max: STEP_ASIDE_MAX,
        }
    }

    /// The lock, for any caller but the engine's thread: counted as
    /// waiting until it has it.
    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        if let Ok(guard) = self.conn.try_lock() {
            return guard;
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        guard
    }

    /// The lock, for the engine's thread: after whoever waits for it.
    pub fn lock_after_waiters(&self) -> MutexGuard<'_, Connection> {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            let deadline = Instant::now() + self.step_aside_max;
            while self.waiting.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
                std::thread::yield_now();
            }
        }
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn the_engine_thread_takes_the_lock_after_a_caller_already_waiting() {
        // A step-aside long enough that only the order can decide.
        let shared = Arc::new(SharedConn {
            step_aside_max: Duration::from_secs(30),
            ..SharedConn::new(Connection::open_in_memory().unwrap())
        });
        let order = Arc::new(Mutex::new(Vec::new()));
        let holder = shared.lock();
        let waiter = {
            let (shared, order) = (shared.clone(), order.clone());
            std::thread::spawn(move || {
                let _c = shared.lock();
                order.lock().unwrap().push("intake");
            })
        };
        while shared.waiting.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        let engine = {
            let (shared, order) = (shared.clone(), order.clone());
            std::thread::spawn(move || {
                let _c = shared.lock_after_waiters();
                order.lock().unwrap().push("engine");
            })
        };
        drop(holder);
        waiter.join().unwrap();
        engine.join().unwrap();
        assert_eq!(*order.lock().unwrap(), ["intake", "engine"]);
        assert_eq!(shared.waiting.load(Ordering::SeqCst), 0);
    }
}
