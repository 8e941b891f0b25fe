//! The database: every order and all of restock's persistent state, in one
//! SQLite file, and every SQL statement of the crate.
//!
//! One file per concern: [`connection`] (the file, its pragmas, the
//! statement cache), [`schema`] (migrations, and the read-only look
//! `restock doctor` takes), [`orders`] (an order's life), [`enqueue`] (the
//! intake's group commit), [`state`] (the pause and other key/value
//! records), [`sessions`] (what is known of each store's sign-in),
//! [`monitors`] (what each heartbeat monitor was sent and answered),
//! [`histories`] (`GET /items`' per-item history), [`verifications`]
//! (unconfirmed orders looked for in the store's order history), [`overview`]
//! (what the home page shows, in one read) and [`checkpoint`]
//! (background WAL checkpoints under `serve`).
//!
//! This module imports nothing above the vocabulary ([`crate::model`]): the
//! parts that use it (engine, probe, heartbeat, intake, CLI) come to it, so
//! a reader finds every statement here and the schema cannot grow a
//! dependency on a subsystem.
//!
//! Each call holds the one connection for one short transaction, on
//! tokio's blocking pool so the async workers never wait on disk, or inline
//! on the engine's own thread (see [`run_statements_inline_on_this_thread`]),
//! which steps aside while another caller waits for the connection
//! ([`lock`]). WAL mode lets the CLI read and write while a server runs; every state
//! change that must be atomic (debounce + insert, claim, settle + pause) is
//! a single statement or a single `IMMEDIATE` transaction.

pub mod checkpoint;
mod connection;
mod defer;
mod enqueue;
mod histories;
mod lock;
mod monitors;
mod orders;
mod overview;
mod schema;
mod sessions;
mod state;
mod verifications;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::model::Clock;

pub use connection::ensure_private_dir;
pub use histories::{Histories, ItemHistory};
pub use monitors::{MonitorState, QueueSummary, Role};
pub use orders::{
    placed_since_params, Enqueued, Order, Recovered, CLAIM_SQL, PLACED_SINCE_SQL, SETTLE_SQL,
    SUBMIT_SQL,
};
pub use overview::Overview;
pub use schema::{inspect, schema_version, Inspection};
pub use sessions::READ_SQL as SESSION_READ_SQL;
pub use state::Pause;
pub use verifications::{SettledVerified, Verification};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database: stored value is corrupt: {0}")]
    Corrupt(String),
    #[error("order {0} does not exist")]
    NotFound(i64),
    #[error("{0}")]
    Refused(String),
    #[error("database task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// The intake's group-commit writer is gone (it only stops with the
    /// process).
    #[error("database writer stopped: {0}")]
    WriterStopped(&'static str),
}

impl DbError {
    /// True when the database cannot take writes (read-only file, full
    /// disk): the intake answers 503 instead of 500.
    pub fn is_unwritable(&self) -> bool {
        use rusqlite::ErrorCode::*;
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                matches!(
                    e.code,
                    ReadOnly
                        | DiskFull
                        | CannotOpen
                        | DatabaseBusy
                        | DatabaseLocked
                        | SystemIoFailure
                )
            }
            DbError::Open { .. } => true,
            _ => false,
        }
    }
}

#[derive(Clone)]
pub struct Db {
    conn: Arc<lock::SharedConn>,
    /// Group commit for `enqueue`, started on first use.
    writer: Arc<std::sync::OnceLock<enqueue::Writer>>,
    /// Statements run so far (reads and writes), so the checkpointer can
    /// tell a busy database from an idle one without asking SQLite.
    ops: Arc<checkpoint::Ops>,
    histories: Arc<Mutex<Option<Arc<Histories>>>>,
    path: Arc<PathBuf>,
    clock: Clock,
}

impl Db {
    /// Opens (creating when missing, 0600) and migrates the database.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        let conn = connection::open(path)?;
        Ok(Db {
            conn: Arc::new(lock::SharedConn::new(conn)),
            histories: Arc::default(),
            writer: Arc::default(),
            ops: Arc::default(),
            path: Arc::new(path.to_path_buf()),
            clock: Clock::system(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Calls made on this database so far (see [`checkpoint`]).
    pub fn ops(&self) -> u64 {
        self.ops.get()
    }

    /// The same database reading time from `clock` (tests move it).
    pub fn with_clock(mut self, clock: Clock) -> Db {
        self.clock = clock;
        self
    }

    /// The wall clock every timestamp of this database comes from.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Runs `f` with the connection on the blocking pool, or right here on
    /// the engine's own thread (see [`run_statements_inline_on_this_thread`]).
    async fn call<R, F>(&self, f: F) -> Result<R, DbError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, DbError> + Send + 'static,
    {
        self.ops.add(1);
        if INLINE.get() {
            let mut guard = self.conn.lock_after_waiters();
            return f(&mut guard);
        }
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock();
            f(&mut guard)
        })
        .await?
    }

    /// Runs arbitrary statements on the connection: for tests and the
    /// benchmark, which look at the file behind the API's back. The crate
    /// itself keeps every statement in this module's files.
    #[doc(hidden)]
    pub async fn with_conn<R, F>(&self, f: F) -> Result<R, DbError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, DbError> + Send + 'static,
    {
        self.call(f).await
    }
}

thread_local! {
    static INLINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Statements called from this thread run on it, without the hop to the
/// blocking pool. Only for a thread that is no tokio worker and whose one
/// job is a sequential loop over the database: the engine's thread
/// ([`crate::engine::EngineThread`]). Anywhere else a statement would block a
/// runtime worker.
pub(crate) fn run_statements_inline_on_this_thread() {
    INLINE.set(true);
}
