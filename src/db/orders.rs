//! The `orders` table: an order's whole life, from the intake's insert to
//! its terminal status, and the reads dashboards and caps need.
//!
//! Every change that must be atomic is one statement or one `IMMEDIATE`
//! transaction: the claim is a single `UPDATE … RETURNING` (two engines on
//! one file never claim the same row), a settle writes its pause in the
//! same transaction (a pausing status is never visible without its pause),
//! and nothing that reached `submitted` is ever put back in the queue.

use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::connection::Cached;
use super::state::{write_pause, Pause};
use super::{enqueue, Db, DbError};
use crate::model::{Money, Outcome, Phase, Status};

/// Width of a `spend_by_hour` bucket.
const HOUR_MS: i64 = 3_600_000;

/// [`Db::placed_since`]'s statement (public for the engine benchmark's
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
         retries, not_before, submitted_at"
    };
}

pub(super) const ORDER_COLUMNS: &str = order_columns!();

/// [`Db::claim_next`]'s statement (public for the engine benchmark's raw
/// mirror). `'pause'` is the pause's key in `engine_state` (see [`super::state`]).
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

/// [`Db::settle`]'s statement (public for the engine benchmark's raw
/// mirror). A `needs_review` outcome without a total keeps the one written
/// at `submitted`: it is what the order is looked for by in the store's
/// order history.
#[doc(hidden)]
pub const SETTLE_SQL: &str =
    "UPDATE orders SET status = ?2, finished_at = ?3, retryable = ?4, price_cents = ?5,
            total_cents = CASE WHEN ?2 = 'needs_review' THEN COALESCE(?6, total_cents) ELSE ?6 END,
            order_ref = ?7, message = ?8, screenshot = ?9
     WHERE id = ?1 AND status = 'in_progress'";

/// [`Db::submit`]'s statement (public for the engine benchmark's raw
/// mirror): the phase `submitted`, when it was written, and the total the
/// guards approved at review, so an order that is never confirmed can be
/// looked for in the store's order history (see `verifications.rs`).
#[doc(hidden)]
pub const SUBMIT_SQL: &str =
    "UPDATE orders SET phase = 'submitted', store = COALESCE(?2, store), submitted_at = ?3,
            total_cents = COALESCE(?4, total_cents)
     WHERE id = ?1 AND status = 'in_progress'";

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
    /// When the phase `submitted` was written (the Place-Order click
    /// followed), ms since the epoch.
    pub submitted_at: Option<i64>,
}

impl Order {
    /// Has this order reached the point of no return?
    pub fn reached_submit(&self) -> bool {
        self.phase == Some(Phase::Submitted)
    }
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

impl Db {
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
    ) -> Result<Enqueued, DbError> {
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
    pub async fn claim_next(&self) -> Result<Option<Order>, DbError> {
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
    ) -> Result<(), DbError> {
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

    /// Writes the phase `submitted` before the Place-Order click, with the
    /// time and the total approved at review (see [`SUBMIT_SQL`]).
    pub async fn submit(
        &self,
        id: i64,
        store: Option<&str>,
        total: Option<Money>,
    ) -> Result<(), DbError> {
        let store = store.map(str::to_string);
        let now = self.clock.now_ms();
        self.call(move |c| {
            let n = c.exec_cached(SUBMIT_SQL, params![id, store, now, total.map(Money::cents)])?;
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
    ) -> Result<(), DbError> {
        let now = self.clock.now_ms();
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = tx.exec_cached(
                SETTLE_SQL,
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
    pub async fn release(&self, id: i64) -> Result<(), DbError> {
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
    pub async fn requeue(&self, id: i64, not_before: i64, message: String) -> Result<(), DbError> {
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
    pub async fn recover(&self, max_recoveries: u32) -> Result<Vec<Recovered>, DbError> {
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

    /// Puts a finished order back in the queue. Refuses anything that
    /// reached `submitted` or was placed: those may have moved money.
    pub async fn retry(&self, id: i64) -> Result<Order, DbError> {
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let order = get_order(&tx, id)?.ok_or(DbError::NotFound(id))?;
            if let Some(why) = order.retry_refusal() {
                return Err(DbError::Refused(why));
            }
            tx.exec_cached(
                "UPDATE orders SET status = 'pending', phase = NULL, finished_at = NULL, claimed_at = NULL,
                        not_before = NULL, message = NULL, retryable = 0 WHERE id = ?1",
                [id],
            )?;
            let order = get_order(&tx, id)?.ok_or(DbError::NotFound(id))?;
            tx.commit()?;
            Ok(order)
        })
        .await
    }

    /// Cancels a pending order. A claimed one belongs to the engine.
    pub async fn cancel(&self, id: i64) -> Result<Order, DbError> {
        let now = self.clock.now_ms();
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let order = get_order(&tx, id)?.ok_or(DbError::NotFound(id))?;
            if order.status != Status::Pending {
                return Err(DbError::Refused(format!(
                    "order {id} is {}; only pending orders can be cancelled",
                    order.status
                )));
            }
            tx.exec_cached(
                "UPDATE orders SET status = 'cancelled', finished_at = ?2, message = 'cancelled by the owner' WHERE id = ?1",
                params![id, now],
            )?;
            let order = get_order(&tx, id)?.ok_or(DbError::NotFound(id))?;
            tx.commit()?;
            Ok(order)
        })
        .await
    }

    pub async fn get(&self, id: i64) -> Result<Option<Order>, DbError> {
        self.call(move |c| get_order(c, id)).await
    }

    /// Newest first, optionally one status only.
    pub async fn recent(&self, status: Option<Status>, limit: u32) -> Result<Vec<Order>, DbError> {
        self.call(move |c| recent_on(c, status, limit)).await
    }

    /// How many orders are in each status.
    pub async fn counts(&self) -> Result<Vec<(Status, u64)>, DbError> {
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
    pub async fn last_placed(&self, item: &str) -> Result<Option<i64>, DbError> {
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
    pub async fn placed_since(&self, since_ms: i64) -> Result<(Money, u32), DbError> {
        self.call(move |c| {
            Ok(
                c.row_cached(PLACED_SINCE_SQL, placed_since_params(since_ms), |r| {
                    Ok((Money(r.get(0)?), r.get(1)?))
                })?,
            )
        })
        .await
    }
}

fn recover_row(
    tx: &rusqlite::Transaction<'_>,
    now: i64,
    (id, phase, recoveries): (i64, Option<Phase>, u32),
    max: u32,
) -> Result<Status, DbError> {
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

impl Order {
    /// Why [`Db::retry`] refuses this order, if it does: anything that
    /// reached Place Order or was placed (it may have moved money), and
    /// anything not finished.
    pub fn retry_refusal(&self) -> Option<String> {
        retry_refusal(self)
    }
}

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

pub(super) fn expect_one(n: usize, id: i64) -> Result<(), DbError> {
    if n == 1 {
        Ok(())
    } else {
        Err(DbError::Refused(format!(
            "order {id} is no longer in progress"
        )))
    }
}

/// [`Db::recent`] on a connection. One status is read through the
/// `(status, id)` index; a `status = ?1 OR ?1 IS NULL` test would read
/// every order to find none.
pub(super) fn recent_on(
    c: &Connection,
    status: Option<Status>,
    limit: u32,
) -> Result<Vec<Order>, DbError> {
    let rows = match status {
        Some(status) => {
            let mut st = c.prepare_cached(concat!(
                "SELECT ",
                order_columns!(),
                " FROM orders WHERE status = ?1 ORDER BY id DESC LIMIT ?2"
            ))?;
            let rows = st.query_map(params![status.as_str(), limit], order_from_row)?;
            rows.collect::<Result<_, _>>()?
        }
        None => {
            let mut st = c.prepare_cached(concat!(
                "SELECT ",
                order_columns!(),
                " FROM orders ORDER BY id DESC LIMIT ?1"
            ))?;
            let rows = st.query_map(params![limit], order_from_row)?;
            rows.collect::<Result<_, _>>()?
        }
    };
    Ok(rows)
}

pub(super) fn get_order(c: &Connection, id: i64) -> Result<Option<Order>, DbError> {
    Ok(c.row_cached(GET_ORDER_SQL, [id], order_from_row)
        .optional()?)
}

pub(super) fn parse_status(s: &str) -> Result<Status, DbError> {
    s.parse()
        .map_err(|e: crate::model::ParseNameError| DbError::Corrupt(e.to_string()))
}

fn parse_phase(s: &str) -> Result<Phase, DbError> {
    s.parse()
        .map_err(|e: crate::model::ParseNameError| DbError::Corrupt(e.to_string()))
}

pub(super) fn order_from_row(r: &Row<'_>) -> rusqlite::Result<Order> {
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
        submitted_at: r.get(19)?,
    })
}
