//! Verifying unconfirmed orders: an order that reached `submitted` but
//! whose confirmation never showed (a timeout, a crash at `submitted`, a
//! page that changed) is `needs_review`; the engine looks for it in the
//! store's order history before leaving it to the owner.
//!
//! - When an order settles `needs_review` (and, at start-up, for every
//!   `needs_review` order of the last window without a record: boot
//!   recovery's) a record is started ([`Db::start_verification`]). Its
//!   checks fall at 1/15, 1/3 and the end of `RESTOCK_VERIFY_WINDOW`
//!   (1, 5 and 15 minutes by default; [`check_times`]).
//! - The loop runs due checks between claims, like the session probe
//!   ([`Verifier::is_due`] is one atomic read per turn), so a check never
//!   overlaps a buy or the probe on the same profile. Its idle wait is cut
//!   short to the next check's time.
//! - A check asks a purchaser for the store's order history: read-only
//!   (it navigates and reads, never clicks), bounded by
//!   `RESTOCK_SESSION_CHECK_TIMEOUT`, the purchaser dropped (its browser
//!   closed) before anything is written. Nothing is ever retried and no
//!   second Place Order is ever clicked: the order is only ever looked up.
//! - Matching ([`candidates`]): the total approved at review to the cent,
//!   placed at or after the submit time (less a few minutes of skew; a
//!   date-only row counts from the submit day), the item named where the
//!   row's item text is read, and an order id no other order holds. Found:
//!   `placed` with the store's order id, and the pause this order caused
//!   lifted, in one transaction ([`Db::settle_verified`]).
//! - Not found at the last check: the verdict `not_found`; the order stays
//!   `needs_review` and paused. A store that cannot be verified (no
//!   `[orders]` in its definition, or a total that was never recorded):
//!   the verdict `unsupported`, with nothing more to tell (the pause
//!   notification already asked the owner to look), as before this
//!   existed.
//! - The owner is told each `placed` and `not_found` verdict by the server
//!   (`server::verified`), from the record, once.
//!
//! `restock verify ID` runs one check now ([`Verifier::verify`]).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::{Engine, Event, Liveness};
use crate::catalog::SharedCatalog;
use crate::db::{Db, DbError, Order, Verification};
use crate::model::{candidates, check_times, OrderHistory, Status, Verdict, Wanted};
use crate::purchase::{Holder, PurchaseError, PurchaserFactory};

/// Nothing pending.
const NONE: i64 = i64::MAX;

/// When a due check could not be run or recorded (the database refused),
/// the loop tries again after this, not at once.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// How verification runs, from the config.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VerifySettings {
    /// `RESTOCK_VERIFY_WINDOW`: how long an order is looked for.
    pub window: Duration,
    /// Bound on one check (`RESTOCK_SESSION_CHECK_TIMEOUT`).
    pub timeout: Duration,
}

impl Default for VerifySettings {
    fn default() -> Self {
        VerifySettings {
            window: Duration::from_secs(15 * 60),
            timeout: Duration::from_secs(60),
        }
    }
}

impl VerifySettings {
    pub fn from_config(c: &crate::config::Config) -> VerifySettings {
        VerifySettings {
            window: c.verify_window,
            timeout: c.session_check_timeout,
        }
    }
}

/// What one check found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum CheckResult {
    /// In the order history: the order is now `placed`.
    Found {
        order_ref: String,
        /// The row's date and total as the store shows them.
        seen: String,
        pause_lifted: bool,
    },
    /// Not found this time.
    NotFound {
        /// Rows the history showed (`None`: it could not be read).
        rows: Option<usize>,
        /// Why it could not be read.
        error: Option<String>,
        /// When the next check is due; `None` when this was the last one
        /// (or a check asked for by hand outside the schedule).
        next_at: Option<i64>,
        /// The record's verdict after this check (`not_found` after the
        /// last one).
        verdict: Option<Verdict>,
    },
    /// The store cannot be verified (why).
    Unsupported { why: String },
}

impl CheckResult {
    /// The verdict this check reached, if it ended the verification
    /// (`None`: not found yet, more checks to come).
    pub fn verdict(&self) -> Option<Verdict> {
        match self {
            CheckResult::Found { .. } => Some(Verdict::Placed),
            CheckResult::NotFound { verdict, .. } => *verdict,
            CheckResult::Unsupported { .. } => Some(Verdict::Unsupported),
        }
    }

    /// The result in one line, as `restock verify` prints it and the home
    /// page's Verify button says it.
    pub fn describe(&self, id: i64) -> String {
        match self {
            CheckResult::Found {
                order_ref,
                seen,
                pause_lifted,
            } => format!(
                "order {id} is in the order history as {order_ref} ({seen}): now placed{}",
                if *pause_lifted {
                    "; the pause it caused is lifted"
                } else {
                    ""
                }
            ),
            CheckResult::NotFound {
                rows,
                error,
                next_at,
                ..
            } => {
                let what = match (rows, error) {
                    (_, Some(e)) => format!("the order history could not be read: {e}"),
                    (Some(n), None) => format!("not among the {n} orders in the order history"),
                    (None, None) => "not in the order history".to_string(),
                };
                let next = next_at
                    .map(|t| format!("; the engine looks again at {}", crate::text::at(t)))
                    .unwrap_or_default();
                format!("order {id}: {what}{next}")
            }
            CheckResult::Unsupported { why } => format!("order {id} cannot be verified: {why}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("order {0} does not exist")]
    NoOrder(i64),
    #[error("order {id} is {status}; only a needs_review order is verified")]
    NotNeedsReview { id: i64, status: Status },
    /// The store's profile is in use (a buy, the probe, a live sign-in);
    /// looking now would start a second browser on it.
    #[error("order {id}: {holder} is using the store's profile; try again in a moment")]
    Busy { id: i64, holder: Holder },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Runs checks and keeps the time of the next one.
pub struct Verifier {
    db: Db,
    factory: Arc<dyn PurchaserFactory>,
    catalog: SharedCatalog,
    settings: VerifySettings,
    next_due: AtomicI64,
}

impl Verifier {
    pub fn new(
        db: Db,
        factory: Arc<dyn PurchaserFactory>,
        catalog: SharedCatalog,
        settings: VerifySettings,
    ) -> Verifier {
        Verifier {
            db,
            factory,
            catalog,
            settings,
            next_due: AtomicI64::new(NONE),
        }
    }

    pub fn settings(&self) -> VerifySettings {
        self.settings
    }

    /// At start-up: records for `needs_review` orders of the last window
    /// that have none, and the next check's time.
    pub async fn resume(&self) {
        match self
            .db
            .start_missing_verifications(self.settings.window)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                orders = n,
                "verifying unconfirmed orders in the store's order history"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot start verifying unconfirmed orders"),
        }
        self.refresh().await;
    }

    /// An order just settled `needs_review`: look for it.
    pub async fn start(&self, order_id: i64) {
        match self
            .db
            .start_verification(order_id, self.settings.window)
            .await
        {
            Ok(true) => tracing::info!(
                order = order_id,
                window = %humantime::format_duration(self.settings.window),
                "will look for the order in the store's order history"
            ),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(order = order_id, error = %e, "cannot start verifying the order")
            }
        }
        self.refresh().await;
    }

    /// After the due checks ran: the next check's time, but never a time
    /// that is already past (a check that could not be recorded stays due),
    /// so the loop cannot spin on it.
    async fn refresh_after_run(&self) {
        self.refresh().await;
        let now = self.db.clock().now_ms();
        let retry = now + RETRY_AFTER.as_millis() as i64;
        let _ = self
            .next_due
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |at| {
                (at <= now).then_some(retry)
            });
    }

    /// Re-reads when the next check is due.
    async fn refresh(&self) {
        match self.db.next_verification_at().await {
            Ok(at) => self.next_due.store(at.unwrap_or(NONE), Ordering::SeqCst),
            Err(e) => tracing::warn!(error = %e, "cannot read when the next verification is due"),
        }
    }

    /// Is a check due at `now` (ms since the epoch)?
    pub fn is_due(&self, now: i64) -> bool {
        self.next_due.load(Ordering::SeqCst) <= now
    }

    /// How long until the next check; `None` when none is pending.
    pub fn due_in(&self, now: i64) -> Option<Duration> {
        let at = self.next_due.load(Ordering::SeqCst);
        (at != NONE).then(|| Duration::from_millis(at.saturating_sub(now).max(0) as u64))
    }

    /// One check of order `id` now, whatever its schedule (`restock
    /// verify ID`).
    pub async fn verify(&self, id: i64) -> Result<CheckResult, VerifyError> {
        let order = self.db.get(id).await?.ok_or(VerifyError::NoOrder(id))?;
        let record = self.db.verification(id).await?;
        let result = self.check(&order, record.as_ref()).await;
        self.refresh().await;
        result
    }

    /// [`Verifier::verify`] under a [`Holder::Verify`] hold of the order's
    /// store: a server's own "verify now" (the home page's Verify button),
    /// which must not open the profile while the engine buys on it or a
    /// live sign-in holds it. Refused at once ([`VerifyError::Busy`]),
    /// never waited for.
    pub async fn verify_held(
        &self,
        holds: &Arc<crate::purchase::ProfileHolds>,
        id: i64,
    ) -> Result<CheckResult, VerifyError> {
        let order = self.db.get(id).await?.ok_or(VerifyError::NoOrder(id))?;
        let store = order.store.as_deref().unwrap_or_default();
        let _hold = holds
            .try_hold(store, Holder::Verify { order_id: id })
            .map_err(|holder| VerifyError::Busy { id, holder })?;
        self.verify(id).await
    }

    /// One check of `order` (which must be `needs_review`), its result
    /// recorded.
    pub async fn check(
        &self,
        order: &Order,
        record: Option<&Verification>,
    ) -> Result<CheckResult, VerifyError> {
        if order.status != Status::NeedsReview {
            return Err(VerifyError::NotNeedsReview {
                id: order.id,
                status: order.status,
            });
        }
        let store = order.store.clone().unwrap_or_default();
        let (total, wanted) = match self.wanted(order) {
            Ok(w) => (w.total, w),
            Err(why) => return self.unsupported(order, &store, why).await,
        };
        let history = self.read_history(&store).await;
        let rows = match history {
            OrderHistory::Unsupported => {
                let why = format!("store `{store}` defines no [orders] page to look in");
                return self.unsupported(order, &store, why).await;
            }
            OrderHistory::Failed(e) => {
                tracing::info!(order = order.id, %store, error = %e, "could not read the order history");
                return self.not_found(order, &store, record, None, Some(e)).await;
            }
            OrderHistory::Read(rows) => rows,
        };
        for row in candidates(&rows, &wanted) {
            let Some(order_ref) = row.order_id.as_deref().map(str::trim) else {
                continue;
            };
            if self.db.order_ref_taken(&store, order_ref, order.id).await? {
                tracing::info!(
                    order = order.id,
                    order_ref,
                    "a matching row is another order's; not taken"
                );
                continue;
            }
            let seen = [row.date_text.as_deref(), row.total_text.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
            let message = format!(
                "found in {store}'s order history as {order_ref} ({seen}, total {total}): Place Order went through"
            );
            let done = self
                .db
                .settle_verified(order.id, &store, order_ref, message)
                .await?;
            tracing::info!(
                order = order.id,
                order_ref,
                pause_lifted = done.pause_lifted,
                "found in the order history: placed"
            );
            return Ok(CheckResult::Found {
                order_ref: order_ref.to_string(),
                seen,
                pause_lifted: done.pause_lifted,
            });
        }
        tracing::info!(
            order = order.id,
            rows = rows.len(),
            "not in the order history (yet)"
        );
        self.not_found(order, &store, record, Some(rows.len()), None)
            .await
    }

    /// What the order is known by, or why it cannot be looked for.
    fn wanted(&self, order: &Order) -> Result<Wanted, String> {
        if order.store.as_deref().is_none_or(str::is_empty) {
            return Err("the order names no store".into());
        }
        let total = order
            .total
            .ok_or("the order's total at review was not recorded")?;
        let submitted_at = order
            .submitted_at
            .or(order.claimed_at)
            .ok_or("the order's submit time was not recorded")?;
        let mut names = vec![order.item.clone()];
        let catalog = crate::catalog::current(&self.catalog);
        if let Some(item) = catalog.get(&order.item) {
            names.push(item.name.clone());
        }
        Ok(Wanted {
            total,
            submitted_at,
            names,
        })
    }

    /// The store's order history through a purchaser, bounded; the
    /// purchaser (its browser) is gone when this returns.
    async fn read_history(&self, store: &str) -> OrderHistory {
        let mut purchaser = match self.factory.purchaser(store) {
            Ok(p) => p,
            Err(PurchaseError::UnknownStore(_)) => return OrderHistory::Unsupported,
            Err(e) => return OrderHistory::Failed(e.to_string()),
        };
        let limit = self.settings.timeout;
        let history = tokio::time::timeout(limit, purchaser.order_history())
            .await
            .unwrap_or_else(|_| {
                OrderHistory::Failed(format!(
                    "no answer within {} (RESTOCK_SESSION_CHECK_TIMEOUT)",
                    humantime::format_duration(limit)
                ))
            });
        drop(purchaser);
        history
    }

    async fn unsupported(
        &self,
        order: &Order,
        store: &str,
        why: String,
    ) -> Result<CheckResult, VerifyError> {
        tracing::info!(order = order.id, %why, "cannot verify the order; it stays needs_review");
        self.db
            .record_verify_check(
                order.id,
                store,
                None,
                Some(Verdict::Unsupported),
                Some(why.clone()),
            )
            .await?;
        Ok(CheckResult::Unsupported { why })
    }

    /// Records a check that did not find the order: the next check, or
    /// the verdict `not_found` after the last one. A check outside the
    /// schedule (no pending record) changes no schedule or verdict.
    async fn not_found(
        &self,
        order: &Order,
        store: &str,
        record: Option<&Verification>,
        rows: Option<usize>,
        error: Option<String>,
    ) -> Result<CheckResult, VerifyError> {
        let now = self.db.clock().now_ms();
        let (next_at, verdict) = match record {
            Some(v) if v.verdict.is_none() => {
                let next = check_times(v.started_at, self.settings.window)
                    .into_iter()
                    .find(|t| *t > now);
                (next, next.is_none().then_some(Verdict::NotFound))
            }
            Some(v) => (None, v.verdict),
            None => (None, None),
        };
        self.db
            .record_verify_check(order.id, store, next_at, verdict, error.clone())
            .await?;
        Ok(CheckResult::NotFound {
            rows,
            error,
            next_at,
            verdict,
        })
    }
}

impl Engine {
    /// The due checks, one order after the other, between claims. Each is
    /// bounded; shutdown abandons the one under way (its purchaser is
    /// dropped, closing its browser) without writing anything.
    pub(super) async fn run_verifications(&self, shutdown: &CancellationToken) {
        let now = self.db.clock().now_ms();
        let due = match self.db.due_verifications(now).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the due verifications");
                self.verifier.refresh_after_run().await;
                return;
            }
        };
        for (record, order) in due {
            if shutdown.is_cancelled() {
                break;
            }
            // A store whose profile is in use (a live sign-in session) is
            // not read now and the check is not counted: it stays due, and
            // the next look comes after RETRY_AFTER.
            let store = order.store.as_deref().unwrap_or_default();
            let _hold = match self
                .holds
                .try_hold(store, Holder::Verify { order_id: order.id })
            {
                Ok(hold) => hold,
                Err(holder) => {
                    tracing::info!(
                        order = order.id,
                        store,
                        "verification waits: {holder} is using the profile"
                    );
                    self.handle.emit(Event::VerifyHeld { id: order.id });
                    continue;
                }
            };
            let span = tracing::info_span!("verify", id = order.id, item = %order.item);
            let checked = tokio::select! {
                r = tracing::Instrument::instrument(self.verifier.check(&order, Some(&record)), span) => r,
                _ = shutdown.cancelled() => break,
            };
            self.handle.alive();
            self.heartbeat
                .tick(Liveness::Progress, &self.handle.activity());
            match checked {
                Ok(result) => self.emit_check(order.id, result, record.checks + 1).await,
                Err(e) => tracing::warn!(order = order.id, error = %e, "verification check failed"),
            }
        }
        self.verifier.refresh_after_run().await;
    }

    async fn emit_check(&self, id: i64, result: CheckResult, checks: u32) {
        if let CheckResult::Found {
            pause_lifted: true, ..
        } = result
        {
            self.read_pause().await;
        }
        match result.verdict() {
            Some(verdict) => self.handle.emit(Event::Verified { id, verdict }),
            None => self.handle.emit(Event::VerifyChecked { id, checks }),
        }
    }
}
