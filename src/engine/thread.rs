//! The engine loop on a thread of its own.
//!
//! The loop is strictly sequential: every step waits for the statement
//! before it (claim, phase write, settle). Run on a tokio worker, each of
//! those statements would hop to the blocking pool and back — two thread
//! wake-ups per statement, which the engine benchmark measured as most of
//! an order's cost. So `restock serve` polls the loop's future on a
//! dedicated OS thread (`Handle::block_on` of the server's runtime) and the
//! queue runs the loop's statements inline there (see
//! [`crate::db::Db`]): blocking that thread stalls no runtime worker.
//!
//! Everything the loop spawns (browser handlers, heartbeat pings, timers)
//! still runs on the server's runtime, whose drivers the workers keep
//! turning. A statement waits at most for `busy_timeout` (5 s) when another
//! process holds the write lock; while it does the loop makes no progress,
//! which is what the dead-man's switch is for.

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::Engine;

/// The running engine thread; [`EngineThread::join`] waits for the loop to end.
pub struct EngineThread {
    done: oneshot::Receiver<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Engine {
    /// Starts the loop on its own thread, on the current tokio runtime.
    /// `serve`'s runtime is multi-threaded, so its workers drive the loop's
    /// IO and timers; on a current-thread runtime (a `#[tokio::test]`) they
    /// are driven while that runtime's own thread waits in `block_on`.
    pub fn spawn_thread(self, shutdown: CancellationToken) -> std::io::Result<EngineThread> {
        let runtime = tokio::runtime::Handle::current();
        let (tx, done) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("restock-engine".into())
            .spawn(move || {
                crate::db::run_statements_inline_on_this_thread();
                runtime.block_on(self.run(shutdown));
                let _ = tx.send(());
            })?;
        Ok(EngineThread {
            done,
            thread: Some(thread),
        })
    }
}

/// The engine's thread ended by panicking (the panic itself is logged by
/// the panic hook where it happened).
#[derive(Debug, thiserror::Error)]
#[error("the engine thread panicked")]
pub struct EnginePanicked;

impl EngineThread {
    /// Waits for the loop to end; `Err` when it panicked.
    pub async fn join(mut self) -> Result<(), EnginePanicked> {
        let ended = (&mut self.done).await;
        // The thread has sent (or dropped the sender while unwinding); it
        // is finishing, so joining it takes no time worth a blocking task.
        let thread = self.thread.take();
        let joined = tokio::task::spawn_blocking(move || thread.map(|t| t.join()))
            .await
            .map_err(|_| EnginePanicked)?;
        match (ended, joined) {
            (Ok(()), Some(Ok(()))) | (Ok(()), None) => Ok(()),
            _ => Err(EnginePanicked),
        }
    }
}
