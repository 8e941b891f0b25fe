//! 1. Engine overhead: orders/s through the real engine loop with the no-op
//! scripted purchaser, next to raw rusqlite issuing the same statements.
//!
//! Both sides start from the same state: a fresh database file (schema made
//! by `Queue::open`) with `n` pending rows inserted in one untimed
//! transaction. The engine is timed from `run` to the `Idle` event that
//! follows the last order, then every row is checked to be `placed`.
//!
//! Per order the engine issues 8 statements, 5 of them commits; the raw
//! loop issues the same SQL in the same order on one connection with the
//! same pragmas (WAL, synchronous=NORMAL, busy_timeout 5 s), using cached
//! prepared statements, on one plain thread:
//!
//! | engine call                    | statement                                 |
//! |--------------------------------|-------------------------------------------|
//! | loop: `read_pause`             | SELECT engine_state (read)                |
//! | `claim_next`                   | UPDATE .. RETURNING (commit)              |
//! | `enter(browsing)`, `enter(cart)` | UPDATE phase (2 commits)                |
//! | `approve_total`: `placed_since`| SELECT SUM/COUNT of placed (read)         |
//! | `enter(submitted)`             | UPDATE phase (commit)                     |
//! | `settle`                       | BEGIN IMMEDIATE; UPDATE; COMMIT (commit)  |
//! | `settle`: `read_pause`         | SELECT engine_state (read)                |
//!
//! A second raw loop does only the 5 commits (the issue's "same number of
//! single-row commits"), reported as a note.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use restock::catalog::Catalog;
use restock::engine::{Engine, Event, Settings};
use restock::purchase::scripted::ScriptedFactory;
use restock::purchase::PurchaserFactory;
use restock::queue::Queue;
use rusqlite::{params, Connection};
use tokio_util::sync::CancellationToken;

use crate::table::{rate, Row};

pub struct EngineResult {
    pub orders: usize,
    pub engine_per_s: f64,
    pub raw_per_s: f64,
    pub raw_writes_per_s: f64,
}

pub async fn run(orders: usize) -> Result<(Row, EngineResult)> {
    let dir = tempfile::tempdir()?;

    let engine_per_s = engine(&dir.path().join("engine"), orders).await?;
    let raw_dir = dir.path().join("raw");
    let raw_per_s = tokio::task::spawn_blocking(move || raw(&raw_dir, orders, true)).await??;
    let raw_dir = dir.path().join("raw-writes");
    let raw_writes_per_s =
        tokio::task::spawn_blocking(move || raw(&raw_dir, orders, false)).await??;

    let met = engine_per_s >= 5000.0 && engine_per_s >= 0.5 * raw_per_s;
    let row = Row {
        figure: format!("{} orders/s ({orders} orders)", rate(engine_per_s)),
        reference: format!("{} orders/s (raw rusqlite, same 8 statements)", rate(raw_per_s)),
        ratio: format!("{:.0}% of raw", 100.0 * engine_per_s / raw_per_s),
        target: ">= 5,000 orders/s and >= 50% of raw".into(),
        met: Some(met),
        ..Row::new("1. Engine overhead (no-op purchaser, real DB file)")
    };
    Ok((
        row,
        EngineResult {
            orders,
            engine_per_s,
            raw_per_s,
            raw_writes_per_s,
        },
    ))
}

/// Creates the database (the real schema) and inserts `n` pending orders.
fn prepare(dir: &Path, n: usize) -> Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir)?;
    let db = dir.join("restock.db");
    drop(Queue::open(&db)?);
    let mut c = open_raw(&db)?;
    let tx = c.transaction()?;
    {
        let mut st = tx.prepare(
            "INSERT INTO orders (item, requester, status, created_at) VALUES ('bench-item', 'bench', 'pending', ?1)",
        )?;
        let now = restock::model::now_ms();
        for _ in 0..n {
            st.execute([now])?;
        }
    }
    tx.commit()?;
    Ok(db)
}

/// A connection with the queue's pragmas.
fn open_raw(db: &Path) -> Result<Connection> {
    let c = Connection::open(db)?;
    c.busy_timeout(Duration::from_secs(5))?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "NORMAL")?;
    c.pragma_update(None, "foreign_keys", "ON")?;
    Ok(c)
}

async fn engine(dir: &Path, n: usize) -> Result<f64> {
    let db = prepare(dir, n)?;
    let queue = Queue::open(&db)?;
    let catalog = Catalog::parse(
        "[[item]]\nid = \"bench-item\"\n[[item.source]]\nstore = \"demo\"\nurl = \"http://127.0.0.1:9/product/bench-item\"\n",
        Path::new("bench-catalog.toml"),
    )?;
    let catalog = Arc::new(RwLock::new(Arc::new(catalog)));
    let factory: Arc<dyn PurchaserFactory> = Arc::new(ScriptedFactory::noop());
    let settings = Settings {
        poll_interval: Duration::from_secs(3600),
        buy_timeout: Duration::from_secs(60),
        shutdown_grace: Duration::from_secs(5),
        // Placed, not dry-run: the scripted buy then writes all three
        // phases, `submitted` included.
        dry_run: false,
        cooldown: Duration::ZERO,
        daily_cap: None,
        max_orders_per_day: u32::MAX,
        auto_retry: false,
        auto_retry_max: 0,
        auto_retry_backoff: Duration::from_secs(1),
        screenshots_dir: dir.join("screenshots"),
    };
    let engine = Engine::new(queue.clone(), catalog, factory, settings);
    let mut events = engine.handle().subscribe();
    let shutdown = CancellationToken::new();
    let limit = Duration::from_secs(300);

    let start = Instant::now();
    let task = tokio::spawn(engine.run(shutdown.clone()));
    let drained = tokio::time::timeout(limit, async {
        loop {
            match events.recv().await {
                Ok(Event::Idle) => return Ok(()),
                Ok(Event::Paused { reason }) => bail!("the engine paused: {reason}"),
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => bail!("engine events closed: {e}"),
            }
        }
    })
    .await;
    let elapsed = start.elapsed();
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    drained.context("the engine did not drain the queue within 300 s")??;

    let placed = queue
        .counts()
        .await?
        .into_iter()
        .find(|(s, _)| *s == restock::model::Status::Placed)
        .map_or(0, |(_, n)| n);
    if placed != n as u64 {
        bail!("expected {n} placed orders, found {placed}");
    }
    Ok(n as f64 / elapsed.as_secs_f64())
}

/// The engine's statements without the engine. `reads` adds the three
/// reads the engine does per order; without it only the 5 commits run.
fn raw(dir: &Path, n: usize, reads: bool) -> Result<f64> {
    let db = prepare(dir, n)?;
    let mut c = open_raw(&db)?;
    let day_ms = 24 * 3600 * 1000;
    let start = Instant::now();
    for _ in 0..n {
        let now = restock::model::now_ms();
        if reads {
            read_pause(&c)?;
        }
        let id: i64 = c
            .prepare_cached(
                "UPDATE orders SET status = 'in_progress', phase = 'claimed', claimed_at = ?1,
                        attempts = attempts + 1, store = NULL
                 WHERE id = (SELECT id FROM orders WHERE status = 'pending'
                               AND (not_before IS NULL OR not_before <= ?1) ORDER BY id LIMIT 1)
                   AND status = 'pending'
                   AND NOT EXISTS (SELECT 1 FROM engine_state WHERE key = 'pause')
                 RETURNING id, item, requester, status, phase, store, created_at, claimed_at,
                   finished_at, attempts, recoveries, retryable, price_cents, total_cents, order_ref,
                   message, screenshot, retries, not_before",
            )?
            .query_row([now], |r| r.get(0))?;
        let phase = |p: &str| -> Result<()> {
            let changed = c
                .prepare_cached(
                    "UPDATE orders SET phase = ?2, store = COALESCE(?3, store) WHERE id = ?1 AND status = 'in_progress'",
                )?
                .execute(params![id, p, "demo"])?;
            if changed != 1 {
                bail!("phase write changed {changed} rows");
            }
            Ok(())
        };
        phase("browsing")?;
        phase("cart")?;
        if reads {
            let _: (i64, i64) = c
                .prepare_cached(
                    "SELECT COALESCE(SUM(total_cents), 0), COUNT(*) FROM orders WHERE status = 'placed' AND finished_at >= ?1",
                )?
                .query_row([now - day_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
        }
        phase("submitted")?;
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.prepare_cached(
            "UPDATE orders SET status = ?2, finished_at = ?3, retryable = ?4, price_cents = ?5,
                    total_cents = ?6, order_ref = ?7, message = ?8, screenshot = ?9
             WHERE id = ?1 AND status = 'in_progress'",
        )?
        .execute(params![
            id,
            "placed",
            now,
            false,
            None::<i64>,
            100,
            "S-1",
            None::<String>,
            None::<String>
        ])?;
        tx.commit()?;
        if reads {
            read_pause(&c)?;
        }
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

fn read_pause(c: &Connection) -> Result<()> {
    let mut st = c.prepare_cached("SELECT value FROM engine_state WHERE key = ?1")?;
    let mut rows = st.query(["pause"])?;
    if rows.next()?.is_some() {
        bail!("raw loop found a pause");
    }
    Ok(())
}
