//! The rolling 24-hour caps read `placed_since`, which sums hourly buckets
//! kept by triggers plus the partial first hour row by row. These tests hold
//! it to the plain `SUM`/`COUNT` over placed rows on a real database file,
//! through every kind of write the triggers must follow, and check that the
//! migration fills the buckets from orders placed before it existed.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use restock::db::{Db, DbError};
use restock::model::Outcome;
use restock::model::{Clock, Money, Status};
use rusqlite::params;

const HOUR: i64 = 3_600_000;
const START: i64 = 1_790_000_000_000 + 1_234_567; // mid-hour, 2026

/// A small deterministic generator: the test must fail the same way twice.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

async fn naive(q: &Db, since: i64) -> (Money, u32) {
    q.with_conn(move |c| {
        Ok(c.query_row(
            "SELECT COALESCE(SUM(total_cents), 0), COUNT(*) FROM orders
             WHERE status = 'placed' AND finished_at >= ?1",
            [since],
            |r| Ok((Money(r.get(0)?), r.get(1)?)),
        )?)
    })
    .await
    .unwrap()
}

/// Orders over three days through the queue's own calls (placed and not),
/// plus the edits a human or a tool might make with SQL.
async fn fill(q: &Db, clock: &AtomicI64, rng: &mut Lcg) {
    let statuses = [
        Status::Placed,
        Status::Placed,
        Status::DryRun,
        Status::Failed,
    ];
    for i in 0..300 {
        clock.store(
            START + rng.next(3 * 24 * HOUR as u64) as i64,
            Ordering::SeqCst,
        );
        q.enqueue(&format!("item-{i}"), None, Duration::ZERO)
            .await
            .unwrap();
        let order = q.claim_next().await.unwrap().expect("a pending order");
        let status = statuses[rng.next(statuses.len() as u64) as usize];
        let mut outcome = Outcome::new(status);
        if rng.next(5) > 0 {
            outcome = outcome.total(Money(rng.next(10_000) as i64));
        }
        q.settle(order.id, outcome, None).await.unwrap();
    }
    let edits = [
        // a placed order found to be a duplicate and marked for review
        "UPDATE orders SET status = 'needs_review' WHERE id % 17 = 0",
        // a needs-review order confirmed by hand
        "UPDATE orders SET status = 'placed', finished_at = finished_at + 7200000 WHERE id % 17 = 0 AND id % 2 = 0",
        // totals corrected, finish times moved across hours
        "UPDATE orders SET total_cents = total_cents + 55 WHERE id % 13 = 0",
        "UPDATE orders SET finished_at = finished_at - 5400000 WHERE id % 11 = 0",
        "UPDATE orders SET total_cents = NULL WHERE id % 23 = 0",
        "DELETE FROM orders WHERE id % 19 = 0",
        "INSERT INTO orders (item, status, created_at, finished_at, total_cents)
            SELECT 'imported', 'placed', finished_at, finished_at + 1, 999 FROM orders WHERE id % 29 = 0",
    ];
    for sql in edits {
        q.with_conn(move |c| Ok(c.execute(sql, [])?)).await.unwrap();
    }
}

async fn assert_windows_match(q: &Db, rng: &mut Lcg) {
    let mut cases: Vec<i64> = (0..200)
        .map(|_| START - HOUR + rng.next(4 * 24 * HOUR as u64) as i64)
        .collect();
    // Hour boundaries and their neighbours, where an off-by-one would show.
    for h in 0..80 {
        let b = (START / HOUR + h) * HOUR;
        cases.extend([b - 1, b, b + 1]);
    }
    cases.extend([0, START, i64::from(i32::MAX)]);
    for since in cases {
        let fast = q.placed_since(since).await.unwrap();
        assert_eq!(fast, naive(q, since).await, "window from {since}");
    }
}

fn queue_at(path: &std::path::Path, clock: &Arc<AtomicI64>) -> Db {
    Db::open(path)
        .unwrap()
        .with_clock(Clock::manual(Arc::clone(clock)))
}

#[tokio::test]
async fn hourly_buckets_give_exactly_the_plain_sum_through_every_kind_of_write() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicI64::new(START));
    let q = queue_at(&dir.path().join("restock.db"), &clock);
    let mut rng = Lcg(7);
    fill(&q, &clock, &mut rng).await;
    let (spent, count) = naive(&q, 0).await;
    assert!(count > 100 && spent.0 > 0, "the data has placed orders");
    assert_windows_match(&q, &mut rng).await;
}

#[tokio::test]
async fn the_migration_fills_the_buckets_from_orders_placed_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("restock.db");
    let clock = Arc::new(AtomicI64::new(START));
    let mut rng = Lcg(11);
    {
        let q = queue_at(&path, &clock);
        fill(&q, &clock, &mut rng).await;
        // Back to schema 5, before the buckets, as an older restock left it
        // (the migrations after it undone too).
        q.with_conn(|c| {
            c.execute_batch(
                "DROP TRIGGER spend_insert; DROP TRIGGER spend_update; DROP TRIGGER spend_delete;
                 DROP TABLE spend_by_hour;
                 DROP TABLE verifications;
                 ALTER TABLE orders DROP COLUMN submitted_at;
                 ALTER TABLE store_sessions DROP COLUMN expires_at;
                 ALTER TABLE store_sessions DROP COLUMN session_cookies;
                 ALTER TABLE store_sessions DROP COLUMN seen_cookies;
                 ALTER TABLE store_sessions DROP COLUMN warned_expiry;",
            )?;
            c.pragma_update(None, "user_version", 5)?;
            c.execute(
                "INSERT INTO orders (item, status, created_at, finished_at, total_cents)
                 VALUES ('older', 'placed', ?1, ?1, 4321)",
                params![START + HOUR / 2],
            )?;
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
    }
    let q = queue_at(&path, &clock);
    assert_windows_match(&q, &mut rng).await;
}
