//! The `verifications` table: for each order that reached `submitted`
//! without a confirmation (`needs_review`), how the look for it in the
//! store's order history goes: checks done, when the next is due, and the
//! verdict, and whether the owner was told. The engine decides when to
//! check and what a check means ([`crate::model::check_times`],
//! [`crate::model::candidates`]); this file keeps the record.
//!
//! Finding the order settles it `placed` in one transaction that also
//! lifts the pause the order caused and closes its record
//! ([`Db::settle_verified`]): a found order is never `placed` with its
//! pause still up, nor its pause lifted while it is still `needs_review`.
//! Only `needs_review` orders are ever settled this way, so nothing else
//! is touched, and nothing here ever puts an order back in the queue.

use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use serde::Serialize;

use super::connection::Cached;
use super::orders::get_order;
use super::state::read_pause;
use super::{Db, DbError, Order};
use crate::model::{check_times, Verdict};

const COLUMNS: &str =
    "order_id, store, started_at, checks, next_at, last_at, last_error, verdict, \
                       order_ref, notified_at";

/// One order's verification record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    pub order_id: i64,
    pub store: String,
    /// When verification began (the order became `needs_review`, or the
    /// server came back up and found it so).
    pub started_at: i64,
    /// Checks done so far.
    pub checks: u32,
    /// When the next check is due; `None` once there is a verdict.
    pub next_at: Option<i64>,
    pub last_at: Option<i64>,
    /// Why the last check could not read the history, if it could not.
    pub last_error: Option<String>,
    pub verdict: Option<Verdict>,
    /// The store's order id, when found.
    pub order_ref: Option<String>,
    /// When the owner was told the verdict.
    pub notified_at: Option<i64>,
}

/// What [`Db::settle_verified`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettledVerified {
    /// The pause was this order's, and is lifted.
    pub pause_lifted: bool,
}

impl Db {
    /// Starts verifying `order_id` when it is `needs_review` after
    /// `submitted` and has no record yet: its first check is due at the
    /// first of [`check_times`] from now. `true` when a record was made.
    pub async fn start_verification(
        &self,
        order_id: i64,
        window: Duration,
    ) -> Result<bool, DbError> {
        let now = self.clock().now_ms();
        let first = check_times(now, window)[0];
        self.call(move |c| {
            let n = c.exec_cached(
                "INSERT INTO verifications (order_id, store, started_at, next_at)
                 SELECT id, COALESCE(store, ''), ?2, ?3 FROM orders
                 WHERE id = ?1 AND status = 'needs_review' AND phase = 'submitted'
                 ON CONFLICT(order_id) DO NOTHING",
                params![order_id, now, first],
            )?;
            Ok(n == 1)
        })
        .await
    }

    /// Starts verifying every `needs_review` order at `submitted` that
    /// became so within the last `window` and has no record (boot
    /// recovery's, or one whose record a crash kept from being written).
    /// Returns how many were started.
    pub async fn start_missing_verifications(&self, window: Duration) -> Result<usize, DbError> {
        let now = self.clock().now_ms();
        let since = now - window.as_millis() as i64;
        let first = check_times(now, window)[0];
        self.call(move |c| {
            Ok(c.exec_cached(
                "INSERT INTO verifications (order_id, store, started_at, next_at)
                 SELECT id, COALESCE(store, ''), ?2, ?3 FROM orders
                 WHERE status = 'needs_review' AND phase = 'submitted' AND finished_at >= ?1
                   AND id NOT IN (SELECT order_id FROM verifications)",
                params![since, now, first],
            )?)
        })
        .await
    }

    /// When the earliest pending check is due (only orders still
    /// `needs_review` count).
    pub async fn next_verification_at(&self) -> Result<Option<i64>, DbError> {
        self.call(|c| {
            Ok(c.row_cached(
                "SELECT MIN(v.next_at) FROM verifications v JOIN orders o ON o.id = v.order_id
                 WHERE v.verdict IS NULL AND v.next_at IS NOT NULL AND o.status = 'needs_review'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
    }

    /// Records whose check is due at `now`, with their orders (still
    /// `needs_review`), oldest order first.
    pub async fn due_verifications(&self, now: i64) -> Result<Vec<(Verification, Order)>, DbError> {
        self.call(move |c| {
            let records: Vec<Verification> = {
                let mut st = c.prepare_cached(
                    "SELECT v.order_id FROM verifications v JOIN orders o ON o.id = v.order_id
                     WHERE v.verdict IS NULL AND v.next_at <= ?1 AND o.status = 'needs_review'
                     ORDER BY v.order_id",
                )?;
                let ids: Vec<i64> = st
                    .query_map([now], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                ids.into_iter()
                    .filter_map(|id| read(c, id).transpose())
                    .collect::<Result<_, _>>()?
            };
            let mut out = Vec::with_capacity(records.len());
            for v in records {
                if let Some(o) = get_order(c, v.order_id)? {
                    out.push((v, o));
                }
            }
            Ok(out)
        })
        .await
    }

    /// One order's record.
    pub async fn verification(&self, order_id: i64) -> Result<Option<Verification>, DbError> {
        self.call(move |c| read(c, order_id)).await
    }

    /// Records a check that did not find the order: the next check's time,
    /// or the verdict that ends the record, and why the history could not
    /// be read (if so). Makes the record when there is none (a check asked
    /// for by `restock verify`).
    pub async fn record_verify_check(
        &self,
        order_id: i64,
        store: &str,
        next_at: Option<i64>,
        verdict: Option<Verdict>,
        error: Option<String>,
    ) -> Result<Verification, DbError> {
        let now = self.clock().now_ms();
        let store = store.to_string();
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.exec_cached(
                "INSERT INTO verifications (order_id, store, started_at, checks, next_at, last_at, last_error, verdict)
                 VALUES (?1, ?2, ?3, 1, ?4, ?3, ?5, ?6)
                 ON CONFLICT(order_id) DO UPDATE SET checks = checks + 1, next_at = excluded.next_at,
                   last_at = excluded.last_at, last_error = excluded.last_error,
                   verdict = excluded.verdict",
                params![order_id, store, now, next_at, error, verdict.map(Verdict::as_str)],
            )?;
            let v = read(&tx, order_id)?.ok_or(DbError::NotFound(order_id))?;
            tx.commit()?;
            Ok(v)
        })
        .await
    }

    /// Is `order_ref` already the order id of another order of `store`?
    pub async fn order_ref_taken(
        &self,
        store: &str,
        order_ref: &str,
        except: i64,
    ) -> Result<bool, DbError> {
        let (store, order_ref) = (store.to_string(), order_ref.to_string());
        self.call(move |c| ref_taken(c, &store, &order_ref, except))
            .await
    }

    /// The order was found in the store's order history: in one
    /// transaction it becomes `placed` with the store's order id (only if
    /// it is still `needs_review`), the pause is lifted when this order
    /// caused it, and its record gets the verdict. Refused when the order
    /// is not `needs_review`.
    pub async fn settle_verified(
        &self,
        order_id: i64,
        store: &str,
        order_ref: &str,
        message: String,
    ) -> Result<SettledVerified, DbError> {
        let now = self.clock().now_ms();
        let (store, order_ref) = (store.to_string(), order_ref.to_string());
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if ref_taken(&tx, &store, &order_ref, order_id)? {
                return Err(DbError::Refused(format!(
                    "{store}'s order {order_ref} is already another order's"
                )));
            }
            let n = tx.exec_cached(
                "UPDATE orders SET status = 'placed', order_ref = ?2, message = ?3, retryable = 0
                 WHERE id = ?1 AND status = 'needs_review'",
                params![order_id, order_ref, message],
            )?;
            if n != 1 {
                return Err(DbError::Refused(format!(
                    "order {order_id} is not needs_review; only an order that may or may not have been placed is verified"
                )));
            }
            let pause_lifted = read_pause(&tx)?.is_some_and(|p| p.order_id == Some(order_id));
            if pause_lifted {
                tx.exec_cached("DELETE FROM engine_state WHERE key = 'pause'", [])?;
            }
            tx.exec_cached(
                "INSERT INTO verifications (order_id, store, started_at, checks, last_at, verdict, order_ref)
                 VALUES (?1, ?2, ?3, 1, ?3, 'placed', ?4)
                 ON CONFLICT(order_id) DO UPDATE SET checks = checks + 1, next_at = NULL,
                   last_at = excluded.last_at, last_error = NULL, verdict = 'placed',
                   order_ref = excluded.order_ref",
                params![order_id, store, now, order_ref],
            )?;
            tx.commit()?;
            Ok(SettledVerified { pause_lifted })
        })
        .await
    }

    /// Verdicts the owner has not been told yet (`placed`, `not_found`),
    /// oldest first.
    pub async fn untold_verdicts(&self) -> Result<Vec<Verification>, DbError> {
        self.call(|c| {
            let sql = format!(
                "SELECT {COLUMNS} FROM verifications
                 WHERE verdict IN ('placed', 'not_found') AND notified_at IS NULL ORDER BY order_id"
            );
            let mut st = c.prepare_cached(&sql)?;
            let rows = st.query_map([], from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Marks the verdict told; `true` when this call did (so two tellers
    /// never both send it).
    pub async fn mark_verdict_told(&self, order_id: i64) -> Result<bool, DbError> {
        let now = self.clock().now_ms();
        self.call(move |c| {
            let n = c.exec_cached(
                "UPDATE verifications SET notified_at = ?2 WHERE order_id = ?1 AND notified_at IS NULL",
                params![order_id, now],
            )?;
            Ok(n == 1)
        })
        .await
    }
}

fn ref_taken(c: &Connection, store: &str, order_ref: &str, except: i64) -> Result<bool, DbError> {
    Ok(c.row_cached(
        "SELECT 1 FROM orders WHERE order_ref = ?2 AND id != ?3
           AND (store = ?1 OR store IS NULL) LIMIT 1",
        params![store, order_ref, except],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

fn read(c: &Connection, order_id: i64) -> Result<Option<Verification>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM verifications WHERE order_id = ?1");
    Ok(c.row_cached(&sql, [order_id], from_row).optional()?)
}

/// An unreadable verdict reads as none: the record is checked again.
fn from_row(r: &Row<'_>) -> rusqlite::Result<Verification> {
    let verdict: Option<String> = r.get(7)?;
    Ok(Verification {
        order_id: r.get(0)?,
        store: r.get(1)?,
        started_at: r.get(2)?,
        checks: r.get(3)?,
        next_at: r.get(4)?,
        last_at: r.get(5)?,
        last_error: r.get(6)?,
        verdict: verdict.and_then(|v| v.parse().ok()),
        order_ref: r.get(8)?,
        notified_at: r.get(9)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Money, Outcome, Phase, Status};

    /// An order at `submitted` that settled `needs_review` with a pause.
    async fn unconfirmed(db: &Db, item: &str) -> i64 {
        db.enqueue(item, None, Duration::ZERO).await.unwrap();
        let o = db.claim_next().await.unwrap().unwrap();
        db.set_phase(o.id, Phase::Browsing, Some("demo"))
            .await
            .unwrap();
        db.submit(o.id, None, Some(Money(1298))).await.unwrap();
        db.settle(
            o.id,
            Outcome::new(Status::NeedsReview),
            Some("check it".into()),
        )
        .await
        .unwrap();
        o.id
    }

    #[tokio::test]
    async fn found_settles_placed_and_lifts_its_own_pause_in_one_go() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("db")).unwrap();
        let window = Duration::from_secs(900);
        let id = unconfirmed(&db, "soap").await;
        let row = db.get(id).await.unwrap().unwrap();
        assert_eq!(row.total, Some(Money(1298)), "the total approved at review");
        assert!(row.submitted_at.is_some());
        assert!(db.start_verification(id, window).await.unwrap());
        assert!(!db.start_verification(id, window).await.unwrap(), "once");
        assert_eq!(db.start_missing_verifications(window).await.unwrap(), 0);
        let due = db.next_verification_at().await.unwrap().unwrap();
        assert!(db.due_verifications(due - 1).await.unwrap().is_empty());
        let found = db.due_verifications(due).await.unwrap();
        assert_eq!(
            (found.len(), found[0].1.id, found[0].0.store.as_str()),
            (1, id, "demo")
        );

        assert!(!db.order_ref_taken("demo", "D-1", id).await.unwrap());
        let done = db
            .settle_verified(id, "demo", "D-1", "found".into())
            .await
            .unwrap();
        assert!(done.pause_lifted);
        assert!(db.paused().await.unwrap().is_none());
        let row = db.get(id).await.unwrap().unwrap();
        assert_eq!(
            (row.status, row.order_ref.as_deref()),
            (Status::Placed, Some("D-1"))
        );
        assert!(db.order_ref_taken("demo", "D-1", id + 1).await.unwrap());
        let other = unconfirmed(&db, "tea").await;
        let taken = db
            .settle_verified(other, "demo", "D-1", "found".into())
            .await;
        assert!(matches!(taken, Err(DbError::Refused(_))), "{taken:?}");
        db.resume().await.unwrap();
        assert_eq!(db.next_verification_at().await.unwrap(), None);
        assert!(db
            .settle_verified(id, "demo", "D-1", "again".into())
            .await
            .is_err());
        // Counted as placed spend, once.
        assert_eq!(db.placed_since(0).await.unwrap(), (Money(1298), 1));
        assert_eq!(db.untold_verdicts().await.unwrap().len(), 1);
        assert!(db.mark_verdict_told(id).await.unwrap());
        assert!(!db.mark_verdict_told(id).await.unwrap());
        assert!(db.untold_verdicts().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn another_orders_pause_stays_and_missing_records_are_started() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("db")).unwrap();
        let window = Duration::from_secs(900);
        let first = unconfirmed(&db, "soap").await;
        db.resume().await.unwrap();
        let second = unconfirmed(&db, "tea").await;
        assert_eq!(db.start_missing_verifications(window).await.unwrap(), 2);
        let done = db
            .settle_verified(first, "demo", "D-1", "found".into())
            .await
            .unwrap();
        assert!(!done.pause_lifted, "the pause is the second order's");
        assert_eq!(db.paused().await.unwrap().unwrap().order_id, Some(second));
        let v = db
            .record_verify_check(second, "demo", None, Some(Verdict::NotFound), None)
            .await
            .unwrap();
        assert_eq!((v.checks, v.verdict), (1, Some(Verdict::NotFound)));
        assert_eq!(
            db.get(second).await.unwrap().unwrap().status,
            Status::NeedsReview
        );
    }
}
