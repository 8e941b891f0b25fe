//! The schema: every table, index and trigger, as migrations applied in
//! order and recorded in `PRAGMA user_version`, and a read-only look at a
//! database file for `restock doctor` (which must neither create nor
//! migrate what it inspects).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::DbError;

/// Schema versions, applied in order and recorded in `PRAGMA user_version`.
/// Append only: a released migration is never edited.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // 2: heartbeat monitor records (see monitors.rs). One row per monitor, keyed
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
    // 3: what is known of each store profile's sign-in (see sessions.rs).
    "CREATE TABLE IF NOT EXISTS store_sessions (
        store       TEXT PRIMARY KEY,
        state       TEXT NOT NULL,
        since       INTEGER NOT NULL,
        checked_at  INTEGER,
        last_result TEXT,
        last_error  TEXT,
        notified_at INTEGER
     );",
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
    // 7: verifying unconfirmed orders in the store's order history (see
    // verifications.rs): when an order reached `submitted` (and the total
    // approved at review, written with it to `total_cents`), and one record
    // per order being verified.
    "ALTER TABLE orders ADD COLUMN submitted_at INTEGER;
     CREATE TABLE verifications (
        order_id    INTEGER PRIMARY KEY,
        store       TEXT NOT NULL,
        started_at  INTEGER NOT NULL,
        checks      INTEGER NOT NULL DEFAULT 0,
        next_at     INTEGER,
        last_at     INTEGER,
        last_error  TEXT,
        verdict     TEXT,
        order_ref   TEXT,
        notified_at INTEGER
     );
     CREATE INDEX verifications_due ON verifications(verdict, next_at);",
    // 8: when each store's session expires (see sessions.rs), the session
    // cookies learned for stores whose definition names none, and the
    // expiry the owner was warned about.
    "ALTER TABLE store_sessions ADD COLUMN expires_at INTEGER;
     ALTER TABLE store_sessions ADD COLUMN session_cookies TEXT;
     ALTER TABLE store_sessions ADD COLUMN seen_cookies TEXT;
     ALTER TABLE store_sessions ADD COLUMN warned_expiry INTEGER;",
];

pub(super) fn migrate(conn: &mut Connection) -> Result<(), DbError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: usize = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        return Err(DbError::Corrupt(format!(
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

/// What `restock doctor` reads of a database file without changing it.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// `PRAGMA user_version`.
    pub version: usize,
    /// What `PRAGMA quick_check` found besides `ok` (at most five lines).
    pub problems: Vec<String>,
    /// The store sessions recorded, when the schema has them.
    pub sessions: Vec<crate::model::StoreSession>,
    /// When an engine loop last recorded a turn.
    pub turned_at: Option<i64>,
}

/// Opens `path` read-write without creating it or migrating, and reads the
/// schema version, the integrity check, the recorded store sessions and
/// the loop's last recorded turn.
pub fn inspect(path: &Path) -> Result<Inspection, DbError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let mut st = conn.prepare("PRAGMA quick_check")?;
    let rows: Vec<String> = st
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    let problems = rows.into_iter().filter(|r| r != "ok").take(5).collect();
    let sessions = super::sessions::list_on(&conn).unwrap_or_default();
    let turned_at = super::state::read_turned_at(&conn).unwrap_or_default();
    Ok(Inspection {
        version,
        problems,
        sessions,
        turned_at,
    })
}
