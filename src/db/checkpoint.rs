//! WAL checkpoints off the request path: a maintenance service of the
//! server.
//!
//! By default SQLite checkpoints inside the commit that pushes the WAL past
//! 1,000 pages: that commit copies the log into the database file and
//! fsyncs it, several milliseconds during which every request and the
//! engine wait on the database's connection (the intake benchmark's p99 was
//! made of them). Under `restock serve` the shared connection only
//! checkpoints as a backstop, past [`BACKSTOP_PAGES`], and this service runs
//! a `PASSIVE` checkpoint on a connection of its own: it never takes the
//! write lock, so writers carry on meanwhile. CLI commands keep SQLite's
//! default; they write a row or two and exit.
//!
//! It checkpoints after every [`BUSY_OPS`] queue calls, at most once per
//! [`EVERY`], and after [`IDLE_AT_MOST`] with any call at all: a busy server
//! checkpoints every second, an idle one (a heartbeat write now and then)
//! about once a minute. The queue counts its calls and wakes this service
//! when another [`BUSY_OPS`] are done, so an idle server has no timer
//! firing every second for it.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Db, DbError};

/// At most one checkpoint this often.
pub const EVERY: Duration = Duration::from_secs(1);

/// Db calls since the last checkpoint that make the next one due.
pub const BUSY_OPS: u64 = 256;

/// With fewer calls than [`BUSY_OPS`], a checkpoint at least this often.
pub const IDLE_AT_MOST: Duration = Duration::from_secs(60);

/// The shared connection checkpoints by itself only past this many WAL
/// pages (about 40 MB): if this service stalls, the log stays bounded.
pub const BACKSTOP_PAGES: i64 = 10_000;

/// The database's call counter; wakes the checkpointer every [`BUSY_OPS`].
#[derive(Default)]
pub struct Ops {
    count: AtomicU64,
    busy: Notify,
}

impl Ops {
    pub(crate) fn add(&self, n: u64) {
        let before = self.count.fetch_add(n, Ordering::Relaxed);
        if before / BUSY_OPS != (before + n) / BUSY_OPS {
            self.busy.notify_one();
        }
    }

    pub fn get(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// What the last checkpoint did (SQLite's own figures), as
/// `Running::checkpoints` shows it to tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// Checkpoints run so far.
    pub runs: u64,
    /// Frames in the WAL at the last run.
    pub log_frames: i64,
    /// Of those, frames copied into the database file.
    pub checkpointed: i64,
}

/// The running service; [`Checkpointer::stop`] ends it.
pub struct Checkpointer {
    task: JoinHandle<()>,
    pub last: watch::Receiver<Checkpoint>,
}

impl Checkpointer {
    /// Moves `queue`'s checkpoints here, at most one per `every`.
    pub async fn start(
        db: &Db,
        every: Duration,
        shutdown: CancellationToken,
    ) -> Result<Checkpointer, DbError> {
        let own = Arc::new(Mutex::new(open(db.path())?));
        db.with_conn(|c| Ok(c.pragma_update(None, "wal_autocheckpoint", BACKSTOP_PAGES)?))
            .await?;
        let (tx, last) = watch::channel(Checkpoint::default());
        let db = db.clone();
        let task = tokio::spawn(async move {
            let mut ops_then = db.ops();
            loop {
                tokio::select! {
                    _ = db.ops.busy.notified() => {}
                    _ = tokio::time::sleep(IDLE_AT_MOST) => {}
                    _ = shutdown.cancelled() => return,
                }
                if db.ops() == ops_then {
                    continue;
                }
                ops_then = db.ops();
                let conn = Arc::clone(&own);
                match tokio::task::spawn_blocking(move || passive(&conn)).await {
                    Ok(Ok((log_frames, checkpointed))) => tx.send_modify(|c| {
                        c.runs += 1;
                        c.log_frames = log_frames;
                        c.checkpointed = checkpointed;
                    }),
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "WAL checkpoint failed; will try again")
                    }
                    Err(e) => tracing::warn!(error = %e, "WAL checkpoint task failed"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = shutdown.cancelled() => return,
                }
            }
        });
        Ok(Checkpointer { task, last })
    }

    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

fn open(path: &Path) -> Result<Connection, DbError> {
    let c = Connection::open(path)?;
    c.busy_timeout(Duration::from_secs(5))?;
    Ok(c)
}

/// `(frames in the log, frames checkpointed)`.
fn passive(conn: &Mutex<Connection>) -> Result<(i64, i64), DbError> {
    let c = conn.lock().unwrap_or_else(|e| e.into_inner());
    Ok(c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get(1)?, r.get(2)?))
    })?)
}
