//! Benchmark 1, Engine overhead: orders/s through the real engine loop with the no-op
//! scripted purchaser, next to raw rusqlite issuing the same statements.
//!
//! Two modes, each with its own reference:
//! - **placed** (`dry_run = false`): the scripted buy writes all three
//!   phases, `submitted` included, and every order ends `placed`;
//! - **dry-run** (the default config): the buy stops before `submitted`
//!   and every order ends `dry_run`.
//!
//! Both sides start from the same state: a fresh database file (schema made
//! by `Db::open`) with `n` pending rows inserted in one untimed
//! transaction. The engine is timed from `run` to the last order's
//! `finished_at`; then every row is checked to have the expected status.
//!
//! The engine runs as `restock serve` runs it: the loop on its own thread
//! (`Engine::spawn_thread`), its statements inline there.
//!
//! Per order the engine issues these statements (placed: 9, of which 5
//! commits; dry-run: 8, of which 4 commits); the raw loop issues the same
//! SQL in the same order on one connection with the same pragmas (WAL,
//! synchronous=NORMAL, busy_timeout 5 s), with cached prepared statements,
//! on one plain thread:
//!
//! | engine call                      | statement                                 |
//! |----------------------------------|-------------------------------------------|
//! | loop: `read_pause`               | SELECT engine_state (read)                |
//! | `claim_next`                     | UPDATE .. RETURNING (commit)              |
//! | `known_signed_out`               | SELECT store_sessions (read)              |
//! | `enter(browsing)`, `enter(cart)` | UPDATE phase (2 commits)                  |
//! | `approve_total`: `placed_since`  | SELECT spend_by_hour + partial hour (read)|
//! | `enter(submitted)` (placed only) | UPDATE phase (commit)                     |
//! | `settle`                         | BEGIN IMMEDIATE; UPDATE; COMMIT (commit)  |
//! | `settle`: `read_pause`           | SELECT engine_state (read)                |
//!
//! A third raw loop does only the placed mode's 5 commits (the issue's
//! "same number of single-row commits"), reported as a note, and the raw
//! placed loop reports its rate over its first and last tenth of orders,
//! which shows whether the spend check's cost grows with placed orders.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use restock::catalog::Catalog;
use restock::db::Db;
use restock::engine::{Engine, Settings};
use restock::model::Status;
use restock::purchase::scripted::ScriptedFactory;
use restock::purchase::PurchaserFactory;
use rusqlite::{params, Connection};
use tokio_util::sync::CancellationToken;

use crate::table::{rate, Row};

/// What the raw loop mirrors.
#[derive(Clone, Copy)]
struct Mirror {
    /// The three reads per order.
    reads: bool,
    /// The `submitted` phase write and a `placed` outcome.
    placed: bool,
}

/// Process-wide CPU time and voluntary context switches (`getrusage`).
#[derive(Clone, Copy)]
struct Usage {
    user_s: f64,
    sys_s: f64,
    vcsw: i64,
}

impl Usage {
    fn now() -> Usage {
        // SAFETY: getrusage fills the struct it is given; zeroed is a valid
        // starting value for it.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
        let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
        Usage {
            user_s: secs(ru.ru_utime),
            sys_s: secs(ru.ru_stime),
            vcsw: ru.ru_nvcsw,
        }
    }

    fn since(self, start: Usage) -> Usage {
        Usage {
            user_s: self.user_s - start.user_s,
            sys_s: self.sys_s - start.sys_s,
            vcsw: self.vcsw - start.vcsw,
        }
    }

    /// `42 µs user + 360 µs system CPU, 21 voluntary context switches`, per order.
    fn per_order(self, n: usize) -> String {
        let n = n as f64;
        format!(
            "{:.0} µs user + {:.0} µs system CPU and {:.1} voluntary context switches",
            1e6 * self.user_s / n,
            1e6 * self.sys_s / n,
            self.vcsw as f64 / n
        )
    }
}

/// A raw loop's rate, overall and over its first and last tenth.
struct RawRate {
    all: f64,
    first_tenth: f64,
    last_tenth: f64,
}

pub async fn run(orders: usize) -> Result<(Vec<Row>, Vec<String>)> {
    let dir = tempfile::tempdir()?;
    let path = |name: &str| dir.path().join(name);

    let (placed, _) = engine(&path("engine-placed"), orders, false).await?;
    let raw_placed = raw_on(
        path("raw-placed"),
        orders,
        Mirror {
            reads: true,
            placed: true,
        },
    )
    .await?;
    let (dry, dry_usage) = engine(&path("engine-dry"), orders, true).await?;
    let raw_dry = raw_on(
        path("raw-dry"),
        orders,
        Mirror {
            reads: true,
            placed: false,
        },
    )
    .await?;
    let writes = raw_on(
        path("raw-writes"),
        orders,
        Mirror {
            reads: false,
            placed: true,
        },
    )
    .await?;
    let hop = blocking_hop(orders).await?;
    let raw_dry_usage = raw_usage(path("raw-usage"), orders).await?;

    let row = |name: &str, engine: f64, raw: &RawRate, what: &str| Row {
        figure: format!("{} orders/s ({orders} orders)", rate(engine)),
        reference: format!("{} orders/s (raw rusqlite, {what})", rate(raw.all)),
        ratio: format!("{:.0}% of raw", 100.0 * engine / raw.all),
        target: ">= 5,000 orders/s and >= 50% of raw".into(),
        met: Some(engine >= 5000.0 && engine >= 0.5 * raw.all),
        ..Row::new(name)
    };
    let rows = vec![
        row(
            "1a. Engine overhead, placed (all phases; no-op purchaser, real DB file)",
            placed,
            &raw_placed,
            "same 9 statements, 5 commits",
        ),
        row(
            "1b. Engine overhead, dry-run (default config)",
            dry,
            &raw_dry,
            "same 8 statements, 4 commits",
        ),
    ];
    let notes = vec![
        format!(
            "Engine, where the time goes (process-wide `getrusage` over the dry-run run): per order {}; \
             the raw dry-run mirror: {}.",
            dry_usage.per_order(orders),
            raw_dry_usage.per_order(orders)
        ),
        format!(
            "Engine: the loop runs on its own thread and its statements run inline there; on a tokio worker each would \
             take a `spawn_blocking` round trip, {} on average here for an empty closure, {} for the 9 statements of a \
             placed order (the whole placed order takes {}).",
            crate::table::dur(hop),
            crate::table::dur(hop * 9),
            crate::table::dur(Duration::from_secs_f64(1.0 / placed))
        ),
        format!(
            "Engine: raw rusqlite doing only the placed mode's 5 single-row commits per order (no reads): {} orders/s; the placed engine is {:.0}% of that.",
            rate(writes.all),
            100.0 * placed / writes.all
        ),
        format!(
            "Engine: the raw placed mirror ran at {} orders/s over its first tenth and {} orders/s over its last tenth of {orders} orders \
             (the spend check reads hourly buckets, not every placed order of the window); the dry-run mirror ran at {} and {}.",
            rate(raw_placed.first_tenth),
            rate(raw_placed.last_tenth),
            rate(raw_dry.first_tenth),
            rate(raw_dry.last_tenth)
        ),
    ];
    Ok((rows, notes))
}

/// The mean cost of handing an empty closure to tokio's blocking pool and
/// awaiting it, `n` times in a row.
async fn blocking_hop(n: usize) -> Result<Duration> {
    let start = Instant::now();
    for _ in 0..n {
        tokio::task::spawn_blocking(|| ()).await?;
    }
    Ok(start.elapsed() / n as u32)
}

async fn raw_on(dir: PathBuf, n: usize, mirror: Mirror) -> Result<RawRate> {
    tokio::task::spawn_blocking(move || raw(&dir, n, mirror)).await?
}

/// The raw dry-run mirror once more, for its CPU and context switches.
async fn raw_usage(dir: PathBuf, n: usize) -> Result<Usage> {
    let mirror = Mirror {
        reads: true,
        placed: false,
    };
    tokio::task::spawn_blocking(move || {
        let db = prepare(&dir, n)?;
        let start = Usage::now();
        raw_loop(&db, n, mirror)?;
        Ok(Usage::now().since(start))
    })
    .await?
}

/// Creates the database (the real schema) and inserts `n` pending orders.
fn prepare(dir: &Path, n: usize) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let db = dir.join("restock.db");
    drop(Db::open(&db)?);
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

/// The real engine over `n` pending orders; orders/s.
async fn engine(dir: &Path, n: usize, dry_run: bool) -> Result<(f64, Usage)> {
    let db = prepare(dir, n)?;
    let db = Db::open(&db)?;
    let catalog = Catalog::parse(
        "[[item]]\nid = \"bench-item\"\n[[item.source]]\nstore = \"demo\"\nurl = \"http://127.0.0.1:9/product/bench-item\"\n",
        Path::new("bench-catalog.toml"),
    )?;
    let catalog = Arc::new(RwLock::new(Arc::new(catalog)));
    let factory: Arc<dyn PurchaserFactory> = Arc::new(ScriptedFactory::noop());
    let settings = Settings::from_config(&restock::config::Config {
        state_dir: dir.join("state"),
        poll_interval: Duration::from_secs(3600),
        buy_timeout: Duration::from_secs(60),
        dry_run,
        cooldown: Duration::ZERO,
        daily_cap: None,
        // The default (10) would stop a placed run at the eleventh order.
        max_orders_per_day: u32::MAX,
        auto_retry: false,
        ..restock::config::Config::default()
    });
    let engine = Engine::new(db.clone(), catalog, factory, settings);
    let handle = engine.handle();
    let shutdown = CancellationToken::new();

    // Nothing listens to the engine's events while it runs (a subscriber
    // would be woken for each of them, which `serve` never is); the run
    // ends when the loop reports itself idle, polled every 10 ms, and is
    // timed to the last order's `finished_at` (ms resolution).
    let start_ms = restock::model::now_ms();
    let usage = Usage::now();
    // The engine on its own thread, as `restock serve` runs it.
    let thread = engine.spawn_thread(shutdown.clone())?;
    let drained = tokio::time::timeout(Duration::from_secs(600), async {
        while handle.activity().state != restock::model::ActivityState::Idle {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let usage = Usage::now().since(usage);
    shutdown.cancel();
    handle.wake();
    let _ = tokio::time::timeout(Duration::from_secs(10), thread.join()).await;
    drained.context("the engine did not drain the queue within 600 s")?;
    if let Some(p) = db.paused().await? {
        bail!("the engine paused: {}", p.reason);
    }
    let last_ms: i64 = db
        .with_conn(|c| Ok(c.query_row("SELECT MAX(finished_at) FROM orders", [], |r| r.get(0))?))
        .await?;
    let elapsed = Duration::from_millis((last_ms - start_ms).max(1) as u64);

    let expect = if dry_run {
        Status::DryRun
    } else {
        Status::Placed
    };
    let done = db
        .counts()
        .await?
        .into_iter()
        .find(|(s, _)| *s == expect)
        .map_or(0, |(_, n)| n);
    if done != n as u64 {
        bail!("expected {n} orders {expect}, found {done}");
    }
    Ok((n as f64 / elapsed.as_secs_f64(), usage))
}

/// The engine's statements without the engine.
fn raw(dir: &Path, n: usize, mirror: Mirror) -> Result<RawRate> {
    let db = prepare(dir, n)?;
    raw_loop(&db, n, mirror)
}

fn raw_loop(db: &Path, n: usize, mirror: Mirror) -> Result<RawRate> {
    let mut c = open_raw(db)?;
    let day_ms = 24 * 3600 * 1000;
    let tenth = (n / 10).max(1);
    let mut first_tenth = Duration::ZERO;
    let mut last_start = None;
    let start = Instant::now();
    for i in 0..n {
        if i == tenth {
            first_tenth = start.elapsed();
        }
        if i == n - tenth {
            last_start = Some(Instant::now());
        }
        let now = restock::model::now_ms();
        if mirror.reads {
            read_pause(&c)?;
        }
        let id: i64 = c
            .prepare_cached(restock::db::CLAIM_SQL)?
            .query_row([now], |r| r.get(0))?;
        if mirror.reads {
            let mut st = c.prepare_cached(restock::db::SESSION_READ_SQL)?;
            let mut rows = st.query(["demo"])?;
            if rows.next()?.is_some() {
                bail!("raw loop found a store session");
            }
        }
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
        if mirror.reads {
            // `Db::placed_since`: hourly buckets plus the partial hour.
            let _: (i64, i64) = c
                .prepare_cached(restock::db::PLACED_SINCE_SQL)?
                .query_row(restock::db::placed_since_params(now - day_ms), |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
        }
        if mirror.placed {
            // `Db::submit`: the phase with its time and the approved total.
            let changed = c
                .prepare_cached(restock::db::SUBMIT_SQL)?
                .execute(params![id, "demo", now, 100])?;
            if changed != 1 {
                bail!("submit write changed {changed} rows");
            }
        }
        let (status, order_ref) = if mirror.placed {
            ("placed", Some("S-1"))
        } else {
            ("dry_run", None)
        };
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.prepare_cached(restock::db::SETTLE_SQL)?
            .execute(params![
                id,
                status,
                now,
                false,
                None::<i64>,
                100,
                order_ref,
                None::<String>,
                None::<String>
            ])?;
        tx.commit()?;
        if mirror.reads {
            read_pause(&c)?;
        }
    }
    let all = start.elapsed();
    let last = last_start.map_or(all, |t| t.elapsed());
    Ok(RawRate {
        all: n as f64 / all.as_secs_f64(),
        first_tenth: tenth as f64 / first_tenth.as_secs_f64().max(1e-9),
        last_tenth: tenth as f64 / last.as_secs_f64(),
    })
}

fn read_pause(c: &Connection) -> Result<()> {
    let mut st = c.prepare_cached("SELECT value FROM engine_state WHERE key = ?1")?;
    let mut rows = st.query(["pause"])?;
    if rows.next()?.is_some() {
        bail!("raw loop found a pause");
    }
    Ok(())
}
