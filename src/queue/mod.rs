//! The queue: every order and the engine's persistent state, in one SQLite
//! file.
//!
//! All SQL lives here. Each call holds the one connection for one short
//! transaction, on tokio's blocking pool so the async workers never wait on
//! disk, or inline on the engine's own thread ([`crate::engine::EngineThread`]);
//! `enqueue` goes through a writer thread that commits waiting requests
//! together ([`enqueue`]), and under `serve` WAL checkpoints run in the
//! background ([`checkpoint`]). WAL mode lets the CLI read and write while a server runs; every
//! state change that must be atomic (debounce + insert, claim, settle +
//! pause) is a single statement or a single `IMMEDIATE` transaction.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::model::{Clock, Money, Phase, Status};
use crate::purchase::Outcome;

pub mod checkpoint;
mod defer;
mod enqueue;

/// Schema versions, applied in order and recorded in `PRAGMA user_version`.
/// Append only: a released migration is never edited.
const MIGRATIONS: &[&str] = &[
    // 1: orders and the engine's key/value state.
    "CREATE TABLE orders (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        item        TEXT NOT NULL,
        requester   TEXT,
        status      TEXT NOT NULL,
        phase       TEXT,
        store       TEXT,
        created_at  INTEGER NOT NULL,
        claimed_at  INTEGER,
        finished_at INTEGER,
        not_before  INTEGER,
        attempts    INTEGER NOT NULL DEFAULT 0,
        recoveries  INTEGER NOT NULL DEFAULT 0,
        retryable   INTEGER NOT NULL DEFAULT 0,
        price_cents INTEGER,
        total_cents INTEGER,
        order_ref   TEXT,
        message     TEXT,
        screenshot  TEXT
     );
     CREATE INDEX orders_by_status ON orders(status, id);
     CREATE INDEX orders_by_item ON orders(item, id);
     CREATE TABLE engine_state (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at INTEGER NOT NULL
     );",
    // 2: heartbeat monitor state (src/heartbeat). One row per monitor, keyed
    // by its redacted label: the URL itself is never stored here.
    "CREATE TABLE heartbeat_monitors (
        label       TEXT PRIMARY KEY,
        kind        TEXT NOT NULL,
        role        TEXT NOT NULL,
        last_sent   INTEGER,
        last_ack    INTEGER,
        last_error  TEXT,
        failures    INTEGER NOT NULL DEFAULT 0,
        rtt_ms      INTEGER,
        last_said   TEXT,
        updated_at  INTEGER NOT NULL
     );",
    // 3: store session state (src/probe).
    crate::probe::sessions::MIGRATION,
    // 4: automatic retries are counted apart from boot recoveries.
    "ALTER TABLE orders ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;",
    // 5: the spend and cooldown checks read placed orders by finish time.
    "CREATE INDEX orders_by_status_finished ON orders(status, finished_at);",
    // 6: placed spend and count per hour of `finished_at`, kept by triggers
    // on every write to `orders` (so no code path can forget it), for the
    // rolling 24-hour caps: see `placed_since`.
    "CREATE TABLE spend_by_hour (
        hour   INTEGER PRIMARY KEY,
        cents  INTEGER NOT NULL,
        orders INTEGER NOT NULL
     );
     INSERT INTO spend_by_hour (hour, cents, orders)
        SELECT finished_at / 3600000, SUM(COALESCE(total_cents, 0)), COUNT(*)
        FROM orders WHERE status = 'placed' AND finished_at IS NOT NULL GROUP BY 1;
     CREATE TRIGGER spend_insert AFTER INSERT ON orders
        WHEN NEW.status = 'placed' AND NEW.finished_at IS NOT NULL
     BEGIN
        INSERT INTO spend_by_hour (hour, cents, orders)
            VALUES (NEW.finished_at / 3600000, COALESCE(NEW.total_cents, 0), 1)
            ON CONFLICT(hour) DO UPDATE SET cents = cents + excluded.cents, orders = orders + 1;
     END;
     CREATE TRIGGER spend_update AFTER UPDATE OF status, finished_at, total_cents ON orders
        WHEN (OLD.status = 'placed' AND OLD.finished_at IS NOT NULL)
          OR (NEW.status = 'placed' AND NEW.finished_at IS NOT NULL)
     BEGIN
        UPDATE spend_by_hour SET cents = cents - COALESCE(OLD.total_cents, 0), orders = orders - 1
            WHERE OLD.status = 'placed' AND OLD.finished_at IS NOT NULL
              AND hour = OLD.finished_at / 3600000;
        INSERT INTO spend_by_hour (hour, cents, orders)
            SELECT NEW.finished_at / 3600000, COALESCE(NEW.total_cents, 0), 1
            WHERE NEW.status = 'placed' AND NEW.finished_at IS NOT NULL
            ON CONFLICT(hour) DO UPDATE SET cents = cents + excluded.cents, orders = orders + 1;
     END;
     CREATE TRIGGER spend_delete AFTER DELETE ON orders
        WHEN OLD.status = 'placed' AND OLD.finished_at IS NOT NULL
     BEGIN
        UPDATE spend_by_hour SET cents = cents - COALESCE(OLD.total_cents, 0), orders = orders - 1
            WHERE hour = OLD.finished_at / 3600000;
     END;",
];

/// Width of a `spend_by_hour` bucket.
const HOUR_MS: i64 = 3_600_000;

/// [`Queue::placed_since`]'s statement (public for the engine benchmark's
/// raw mirror, which must run the very same SQL).
#[doc(hidden)]
pub const PLACED_SINCE_SQL: &str = "SELECT
        COALESCE((SELECT SUM(cents) FROM spend_by_hour WHERE hour > ?2), 0)
      + COALESCE((SELECT SUM(total_cents) FROM orders
                  WHERE status = 'placed' AND finished_at >= ?1 AND finished_at < ?3), 0),
        COALESCE((SELECT SUM(orders) FROM spend_by_hour WHERE hour > ?2), 0)
      + (SELECT COUNT(*) FROM orders
         WHERE status = 'placed' AND finished_at >= ?1 AND finished_at < ?3)";

/// The window's start, the hour holding it, and where that hour ends.
#[doc(hidden)]
pub fn placed_since_params(since_ms: i64) -> [i64; 3] {
    let hour = since_ms.div_euclid(HOUR_MS);
    [since_ms, hour, (hour + 1) * HOUR_MS]
}

/// The `orders` columns [`order_from_row`] reads, in its order. A macro so
/// the hot statements below are whole `&'static str`s, built at compile
/// time rather than `format!`ted on every call.
macro_rules! order_columns {
    () => {
        "id, item, requester, status, phase, store, created_at, claimed_at, \
         finished_at, attempts, recoveries, retryable, price_cents, total_cents, order_ref, message, screenshot, \
         retries, not_before"
    };
}

const ORDER_COLUMNS: &str = order_columns!();

const PAUSE_KEY: &str = "pause";

/// [`Queue::claim_next`]'s statement (public for the engine benchmark's raw
/// mirror). `'pause'` is [`PAUSE_KEY`].
#[doc(hidden)]
pub const CLAIM_SQL: &str = concat!(
    "UPDATE orders SET status = 'in_progress', phase = 'claimed', claimed_at = ?1,
            attempts = attempts + 1, store = NULL
     WHERE id = (SELECT id FROM orders WHERE status = 'pending'
                   AND (not_before IS NULL OR not_before <= ?1) ORDER BY id LIMIT 1)
       AND status = 'pending'
       AND NOT EXISTS (SELECT 1 FROM engine_state WHERE key = 'pause')
     RETURNING ",
    order_columns!()
);

const GET_ORDER_SQL: &str = concat!("SELECT ", order_columns!(), " FROM orders WHERE id = ?1");

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
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
    Join(String),
}

impl QueueError {
    /// True when the database cannot take writes (read-only file, full
    /// disk): the intake answers 503 instead of 500.
    pub fn is_unwritable(&self) -> bool {
        use rusqlite::ErrorCode::*;
        match self {
            QueueError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
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
            QueueError::Open { .. } => true,
            _ => false,
        }
    }
}

/// One order row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: i64,
    pub item: String,
    pub requester: Option<String>,
    pub status: Status,
    pub phase: Option<Phase>,
    pub store: Option<String>,
    pub created_at: i64,
    pub claimed_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub attempts: u32,
    pub recoveries: u32,
    pub retryable: bool,
    pub price: Option<Money>,
    pub total: Option<Money>,
    pub order_ref: Option<String>,
    pub message: Option<String>,
    pub screenshot: Option<String>,
    /// Automatic retries so far (RESTOCK_AUTO_RETRY).
    pub retries: u32,
    /// Not claimed before this time (retry backoff), ms since the epoch.
    pub not_before: Option<i64>,
}

impl Order {
    /// Has this order reached the point of no return?
    pub fn reached_submit(&self) -> bool {
        self.phase == Some(Phase::Submitted)
    }
}

/// Why the engine is paused, kept until `resume`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pause {
    pub reason: String,
    pub order_id: Option<i64>,
    pub status: Option<Status>,
    pub since: i64,
}

/// What `enqueue` decided, in the same transaction as the insert.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Enqueued {
    Queued {
        id: i64,
    },
    Debounced {
        id: i64,
        status: Status,
        reason: String,
    },
    Paused {
        reason: String,
    },
}

/// What boot recovery did with one row left `in_progress`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recovered {
    pub id: i64,
    pub phase: Option<Phase>,
    pub now: Status,
}

/// Per-item summary for dashboards (`GET /items`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemHistory {
    pub item: String,
    pub last: Option<Order>,
    pub last_placed_at: Option<i64>,
}

/// `execute` and `query_row` through the connection's statement cache.
///
/// rusqlite's plain `execute`/`query_row` parse the SQL on every call; the
/// engine and the intake run the same few statements thousands of times, and
/// parsing was a measurable share of each (see the engine benchmark).
pub(crate) trait Cached {
    fn exec_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    fn row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn exec_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

thread_local! {
    static INLINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Statements called from this thread run on it, without the hop to the
/// blocking pool. Only for a thread that is no tokio worker and whose one
/// job is a sequential loop over the queue: the engine's thread
/// ([`crate::engine::EngineThread`]). Anywhere else a statement would block a
/// runtime worker.
pub(crate) fn run_statements_inline_on_this_thread() {
    INLINE.set(true);
}

/// Every item's history as read at one database version.
#[derive(Debug)]
pub struct Histories {
    version: (u64, i64),
    pub items: Vec<ItemHistory>,
}

#[derive(Clone)]
pub struct Queue {
    conn: Arc<Mutex<Connection>>,
    /// Group commit for `enqueue`, started on first use.
    writer: Arc<std::sync::OnceLock<enqueue::Writer>>,
    /// Statements run so far (reads and writes), so the checkpointer can
    /// tell a busy database from an idle one without asking SQLite.
    ops: Arc<checkpoint::Ops>,
    histories: Arc<Mutex<Option<Arc<Histories>>>>,
    path: Arc<PathBuf>,
    clock: Clock,
}

impl Queue {
    /// Opens (creating when missing, 0600) and migrates the database.
    pub fn open(path: &Path) -> Result<Queue, QueueError> {
        let io = |source| QueueError::Open {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            ensure_private_dir(dir).map_err(io)?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.set_prepared_statement_cache_capacity(64);
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut conn = conn;
        migrate(&mut conn)?;
        Ok(Queue {
            conn: Arc::new(Mutex::new(conn)),
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

    /// Calls made on this queue so far (see [`checkpoint`]).
    pub fn ops(&self) -> u64 {
        self.ops.get()
    }

    /// The same queue reading time from `clock` (tests move it).
    pub fn with_clock(mut self, clock: Clock) -> Queue {
        self.clock = clock;
        self
    }

    /// The wall clock every timestamp of this queue comes from.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Runs `f` with the connection on the blocking pool, or right here on
    /// the engine's own thread (see [`run_statements_inline_on_this_thread`]).
    async fn call<R, F>(&self, f: F) -> Result<R, QueueError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, QueueError> + Send + 'static,
    {
        self.ops.add(1);
        if INLINE.get() {
            let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
            return f(&mut guard);
        }
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| QueueError::Join(e.to_string()))?
    }

    /// Queues an order unless the engine is paused or the item has a live
    /// or recent order (see [`enqueue`] for how and why it is batched).
    ///
    /// Time windows (debounce here, cooldown and caps in the engine) read a
    /// timestamp from the future — the clock went back — as "now": a
    /// backward jump never shortens a window, it lasts until the clock has
    /// caught up and then its full length. A forward jump ends windows early
    /// by the jump; the wall clock is the only clock that survives a restart.
    pub async fn enqueue(
        &self,
        item: &str,
        requester: Option<&str>,
        debounce: Duration,
    ) -> Result<Enqueued, QueueError> {
        let request = enqueue::Request {
            item: item.to_string(),
            requester: requester.map(str::to_string),
            debounce,
            now: self.clock.now_ms(),
        };
        self.writer
            .get_or_init(|| enqueue::Writer::start(Arc::clone(&self.conn), Arc::clone(&self.ops)))
            .submit(request)
            .await
    }

    /// Claims the oldest due pending order, unless paused: one statement, so
    /// two engines on one file never claim the same row.
    pub async fn claim_next(&self) -> Result<Option<Order>, QueueError> {
        let now = self.clock.now_ms();
        self.call(move |c| {
            Ok(c.row_cached(CLAIM_SQL, params![now], order_from_row)
                .optional()?)
        })
        .await
    }

    /// Writes `phase` (and the store being tried) before the step begins.
    pub async fn set_phase(
        &self,
        id: i64,
        phase: Phase,
        store: Option<&str>,
    ) -> Result<(), QueueError> {
        let store = store.map(str::to_string);
        self.call(move |c| {
            let n = c.exec_cached(
                "UPDATE orders SET phase = ?2, store = COALESCE(?3, store) WHERE id = ?1 AND status = 'in_progress'",
                params![id, phase.as_str(), store],
            )?;
            expect_one(n, id)
        })
        .await
    }

    /// Records a terminal outcome and, when given, pauses the engine in the
    /// same transaction (a pausing status must never be visible without its
    /// pause).
    pub async fn settle(
        &self,
        id: i64,
        outcome: Outcome,
        pause: Option<String>,
    ) -> Result<(), QueueError> {
        let now = self.clock.now_ms();
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = tx.exec_cached(
                "UPDATE orders SET status = ?2, finished_at = ?3, retryable = ?4, price_cents = ?5,
                        total_cents = ?6, order_ref = ?7, message = ?8, screenshot = ?9
                 WHERE id = ?1 AND status = 'in_progress'",
                params![
                    id,
                    outcome.status.as_str(),
                    now,
                    outcome.retryable,
                    outcome.price.map(Money::cents),
                    outcome.total.map(Money::cents),
                    outcome.order_ref,
                    outcome.message,
                    outcome.screenshot.map(|p| p.display().to_string()),
                ],
            )?;
            expect_one(n, id)?;
            if let Some(reason) = pause {
                write_pause(
                    &tx,
                    &Pause {
                        reason,
                        order_id: Some(id),
                        status: Some(outcome.status),
                        since: now,
                    },
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Gives an unfinished, money-safe claim back to the queue (shutdown
    /// before `submitted`). Refuses rows at `submitted`.
    pub async fn release(&self, id: i64) -> Result<(), QueueError> {
        self.call(move |c| {
            let n = c.exec_cached(
                "UPDATE orders SET status = 'pending', phase = NULL, claimed_at = NULL
                 WHERE id = ?1 AND status = 'in_progress' AND (phase IS NULL OR phase != 'submitted')",
                params![id],
            )?;
            expect_one(n, id)
        })
        .await
    }

    /// Puts a failed, money-safe claim back in the queue for an automatic
    /// retry after `not_before`. Refuses rows at `submitted`.
    pub async fn requeue(
        &self,
        id: i64,
        not_before: i64,
        message: String,
    ) -> Result<(), QueueError> {
        self.call(move |c| {
            let n = c.exec_cached(
                "UPDATE orders SET status = 'pending', phase = NULL, claimed_at = NULL, not_before = ?2,
                        retries = retries + 1, message = ?3
                 WHERE id = ?1 AND status = 'in_progress' AND (phase IS NULL OR phase != 'submitted')",
                params![id, not_before, message],
            )?;
            expect_one(n, id)
        })
        .await
    }

    /// Boot recovery: classifies every row left `in_progress` by its phase.
    /// Before `submitted` it is money-safe and goes back to `pending` (at
    /// most `max_recoveries` times, then `failed`); at `submitted` it becomes
    /// `needs_review` and the engine pauses.
    pub async fn recover(&self, max_recoveries: u32) -> Result<Vec<Recovered>, QueueError> {
        let now = self.clock.now_ms();
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let rows: Vec<(i64, Option<String>, u32)> = {
                let mut st = tx.prepare("SELECT id, phase, recoveries FROM orders WHERE status = 'in_progress' ORDER BY id")?;
                let it = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                it.collect::<Result<_, _>>()?
            };
            let mut out = Vec::new();
            for (id, phase, recoveries) in rows {
                let phase = phase.as_deref().map(parse_phase).transpose()?;
                let status = recover_row(&tx, now, (id, phase, recoveries), max_recoveries)?;
                out.push(Recovered { id, phase, now: status });
            }
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    pub async fn pause(&self, reason: String) -> Result<(), QueueError> {
        let now = self.clock.now_ms();
        self.call(move |c| {
            write_pause(
                c,
                &Pause {
                    reason,
                    order_id: None,
                    status: None,
                    since: now,
                },
            )
        })
        .await
    }

    /// Clears the pause; returns the one that was cleared.
    pub async fn resume(&self) -> Result<Option<Pause>, QueueError> {
        self.call(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let p = read_pause(&tx)?;
            tx.exec_cached("DELETE FROM engine_state WHERE key = ?1", [PAUSE_KEY])?;
            tx.commit()?;
            Ok(p)
        })
        .await
    }

    pub async fn paused(&self) -> Result<Option<Pause>, QueueError> {
        self.call(|c| read_pause(c)).await
    }

    /// Puts a finished order back in the queue. Refuses anything that
    /// reached `submitted` or was placed: those may have moved money.
    pub async fn retry(&self, id: i64) -> Result<Order, QueueError> {
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let order = get_order(&tx, id)?.ok_or(QueueError::NotFound(id))?;
            if let Some(why) = retry_refusal(&order) {
                return Err(QueueError::Refused(why));
            }
            tx.exec_cached(
                "UPDATE orders SET status = 'pending', phase = NULL, finished_at = NULL, claimed_at = NULL,
                        not_before = NULL, message = NULL, retryable = 0 WHERE id = ?1",
                [id],
            )?;
            let order = get_order(&tx, id)?.ok_or(QueueError::NotFound(id))?;
            tx.commit()?;
            Ok(order)
        })
        .await
    }

    /// Cancels a pending order. A claimed one belongs to the engine.
    pub async fn cancel(&self, id: i64) -> Result<Order, QueueError> {
        let now = self.clock.now_ms();
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let order = get_order(&tx, id)?.ok_or(QueueError::NotFound(id))?;
            if order.status != Status::Pending {
                return Err(QueueError::Refused(format!(
                    "order {id} is {}; only pending orders can be cancelled",
                    order.status
                )));
            }
            tx.exec_cached(
                "UPDATE orders SET status = 'cancelled', finished_at = ?2, message = 'cancelled by the owner' WHERE id = ?1",
                params![id, now],
            )?;
            let order = get_order(&tx, id)?.ok_or(QueueError::NotFound(id))?;
            tx.commit()?;
            Ok(order)
        })
        .await
    }

    pub async fn get(&self, id: i64) -> Result<Option<Order>, QueueError> {
        self.call(move |c| get_order(c, id)).await
    }

    /// Newest first, optionally one status only.
    pub async fn recent(
        &self,
        status: Option<Status>,
        limit: u32,
    ) -> Result<Vec<Order>, QueueError> {
        self.call(move |c| {
            let sql = format!(
                "SELECT {ORDER_COLUMNS} FROM orders WHERE (?1 IS NULL OR status = ?1) ORDER BY id DESC LIMIT ?2"
            );
            let mut st = c.prepare_cached(&sql)?;
            let rows = st.query_map(params![status.map(Status::as_str), limit], order_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// How many orders are in each status.
    pub async fn counts(&self) -> Result<Vec<(Status, u64)>, QueueError> {
        self.call(|c| {
            let mut st = c.prepare_cached(
                "SELECT status, COUNT(*) FROM orders GROUP BY status ORDER BY status",
            )?;
            let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (s, n) = row?;
                out.push((parse_status(&s)?, n));
            }
            Ok(out)
        })
        .await
    }

    /// When the item was last placed (for cooldown).
    pub async fn last_placed(&self, item: &str) -> Result<Option<i64>, QueueError> {
        let item = item.to_string();
        self.call(move |c| {
            Ok(c.row_cached(
                "SELECT MAX(finished_at) FROM orders WHERE item = ?1 AND status = 'placed'",
                [item],
                |r| r.get(0),
            )?)
        })
        .await
    }

    /// Placed totals and count since `since_ms` (spend caps), exactly as
    /// `SUM`/`COUNT` over placed rows with `finished_at >= since_ms` would
    /// give them, but in constant time: whole hours after the one holding
    /// `since_ms` come from `spend_by_hour`, and only that first, partial
    /// hour is read row by row. A plain `SUM` read every placed order of the
    /// window, so each buy cost more than the one before (see the engine
    /// benchmark). Timestamps are ms since the epoch, never negative.
    pub async fn placed_since(&self, since_ms: i64) -> Result<(Money, u32), QueueError> {
        self.call(move |c| {
            Ok(
                c.row_cached(PLACED_SINCE_SQL, placed_since_params(since_ms), |r| {
                    Ok((Money(r.get(0)?), r.get(1)?))
                })?,
            )
        })
        .await
    }

    /// The last order and last placed time of every item that has orders.
    ///
    /// Dashboards poll this (`GET /items`), so it is reread only when the
    /// database changed: the key is this connection's own change count and
    /// `PRAGMA data_version`, which moves when any other connection (the
    /// CLI) commits. An unchanged database gives back the same `Arc`.
    pub async fn item_histories(&self) -> Result<Arc<Histories>, QueueError> {
        let cache = Arc::clone(&self.histories);
        self.call(move |c| {
            let data_version: i64 = c.pragma_query_value(None, "data_version", |r| r.get(0))?;
            let version = (c.total_changes(), data_version);
            let mut slot = cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(h) = slot.as_ref().filter(|h| h.version == version) {
                return Ok(Arc::clone(h));
            }
            let fresh = Arc::new(Histories {
                version,
                items: read_histories(c)?,
            });
            *slot = Some(Arc::clone(&fresh));
            Ok(fresh)
        })
        .await
    }

    /// Reads a value from the engine's key/value state.
    pub async fn state_get<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        key: &str,
    ) -> Result<Option<T>, QueueError> {
        let key = key.to_string();
        self.call(move |c| read_state(c, &key)).await
    }

    pub async fn state_set<T: Serialize + Send + 'static>(
        &self,
        key: &str,
        value: T,
    ) -> Result<(), QueueError> {
        let now = self.clock.now_ms();
        let key = key.to_string();
        self.call(move |c| write_state(c, &key, &value, now)).await
    }

    /// Runs arbitrary work on the connection; for modules that keep their
    /// own tables (heartbeat, probe) so their SQL stays next to their logic.
    pub async fn with_conn<R, F>(&self, f: F) -> Result<R, QueueError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, QueueError> + Send + 'static,
    {
        self.call(f).await
    }
}

fn recover_row(
    tx: &rusqlite::Transaction<'_>,
    now: i64,
    (id, phase, recoveries): (i64, Option<Phase>, u32),
    max: u32,
) -> Result<Status, QueueError> {
    if phase == Some(Phase::Submitted) {
        let why = format!("order {id} was interrupted after Place Order; check the store's order history, then `restock resume`");
        tx.exec_cached(
            "UPDATE orders SET status = 'needs_review', finished_at = ?2, message = ?3 WHERE id = ?1",
            params![id, now, why],
        )?;
        write_pause(
            tx,
            &Pause {
                reason: why,
                order_id: Some(id),
                status: Some(Status::NeedsReview),
                since: now,
            },
        )?;
        return Ok(Status::NeedsReview);
    }
    if recoveries >= max {
        let why = format!("interrupted {} times before Place Order; not retried again (run `restock retry {id}` to try once more)", recoveries + 1);
        tx.exec_cached(
            "UPDATE orders SET status = 'failed', finished_at = ?2, message = ?3, retryable = 0 WHERE id = ?1",
            params![id, now, why],
        )?;
        return Ok(Status::Failed);
    }
    tx.exec_cached(
        "UPDATE orders SET status = 'pending', phase = NULL, claimed_at = NULL, recoveries = recoveries + 1 WHERE id = ?1",
        [id],
    )?;
    Ok(Status::Pending)
}

/// Why `retry` must refuse this order, if it must.
fn retry_refusal(order: &Order) -> Option<String> {
    let id = order.id;
    if order.reached_submit()
        || order.status == Status::Placed
        || order.status == Status::NeedsReview
    {
        return Some(format!(
            "order {id} reached Place Order (status {}); it may have been bought, so it is never retried. \
             Check the store's order history and enqueue a new order if it was not.",
            order.status
        ));
    }
    if !order.status.is_terminal() {
        return Some(format!(
            "order {id} is still {}; only finished orders can be retried",
            order.status
        ));
    }
    None
}

fn expect_one(n: usize, id: i64) -> Result<(), QueueError> {
    if n == 1 {
        Ok(())
    } else {
        Err(QueueError::Refused(format!(
            "order {id} is no longer in progress"
        )))
    }
}

fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = std::fs::metadata(dir)?;
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<(), QueueError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: usize = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        return Err(QueueError::Corrupt(format!(
            "schema version {version} is newer than this restock knows ({}); upgrade restock",
            MIGRATIONS.len()
        )));
    }
    for sql in &MIGRATIONS[version..] {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", MIGRATIONS.len())?;
    tx.commit()?;
    Ok(())
}

/// The schema version this build writes.
pub fn schema_version() -> usize {
    MIGRATIONS.len()
}

fn read_histories(c: &Connection) -> Result<Vec<ItemHistory>, QueueError> {
    let cols = ORDER_COLUMNS
        .split(", ")
        .map(|col| format!("o.{col}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {cols}, (SELECT MAX(finished_at) FROM orders p WHERE p.item = o.item AND p.status = 'placed')
         FROM orders o JOIN (SELECT MAX(id) AS id FROM orders GROUP BY item) l ON o.id = l.id"
    );
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map([], |r| {
        let order = order_from_row(r)?;
        Ok(ItemHistory {
            item: order.item.clone(),
            last_placed_at: r.get(19)?,
            last: Some(order),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn read_state<T: serde::de::DeserializeOwned>(
    c: &Connection,
    key: &str,
) -> Result<Option<T>, QueueError> {
    let raw: Option<String> = c
        .row_cached(
            "SELECT value FROM engine_state WHERE key = ?1",
            [key],
            |r| r.get(0),
        )
        .optional()?;
    raw.map(|s| serde_json::from_str(&s).map_err(|e| QueueError::Corrupt(format!("{key}: {e}"))))
        .transpose()
}

fn write_state<T: Serialize>(
    c: &Connection,
    key: &str,
    value: &T,
    now: i64,
) -> Result<(), QueueError> {
    let json = serde_json::to_string(value).map_err(|e| QueueError::Corrupt(e.to_string()))?;
    c.exec_cached(
        "INSERT INTO engine_state (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        params![key, json, now],
    )?;
    Ok(())
}

fn read_pause(c: &Connection) -> Result<Option<Pause>, QueueError> {
    read_state(c, PAUSE_KEY)
}

/// Keeps the first reason when already paused: the earliest problem is the
/// one the owner must see.
fn write_pause(c: &Connection, pause: &Pause) -> Result<(), QueueError> {
    if read_pause(c)?.is_some() {
        return Ok(());
    }
    write_state(c, PAUSE_KEY, pause, pause.since)
}

fn get_order(c: &Connection, id: i64) -> Result<Option<Order>, QueueError> {
    Ok(c.row_cached(GET_ORDER_SQL, [id], order_from_row)
        .optional()?)
}

fn parse_status(s: &str) -> Result<Status, QueueError> {
    s.parse()
        .map_err(|e: crate::model::ParseNameError| QueueError::Corrupt(e.to_string()))
}

fn parse_phase(s: &str) -> Result<Phase, QueueError> {
    s.parse()
        .map_err(|e: crate::model::ParseNameError| QueueError::Corrupt(e.to_string()))
}

fn order_from_row(r: &Row<'_>) -> rusqlite::Result<Order> {
    let bad = |i: usize, e: crate::model::ParseNameError| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    };
    let status: String = r.get(3)?;
    let phase: Option<String> = r.get(4)?;
    Ok(Order {
        id: r.get(0)?,
        item: r.get(1)?,
        requester: r.get(2)?,
        status: status.parse().map_err(|e| bad(3, e))?,
        phase: phase
            .map(|p| p.parse().map_err(|e| bad(4, e)))
            .transpose()?,
        store: r.get(5)?,
        created_at: r.get(6)?,
        claimed_at: r.get(7)?,
        finished_at: r.get(8)?,
        attempts: r.get(9)?,
        recoveries: r.get(10)?,
        retryable: r.get(11)?,
        price: r.get::<_, Option<i64>>(12)?.map(Money),
        total: r.get::<_, Option<i64>>(13)?.map(Money),
        order_ref: r.get(14)?,
        message: r.get(15)?,
        screenshot: r.get(16)?,
        retries: r.get(17)?,
        not_before: r.get(18)?,
    })
}
