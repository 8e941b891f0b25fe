//! `process(row)`: one claimed order, from guards to a terminal status.
//!
//! The rules that keep money safe live here, not in the purchasers:
//! - every phase is written to the row before its step begins;
//! - once `submitted` is written, nothing becomes `failed` or is retried: an
//!   unconfirmed submit is `needs_review` and pauses the engine;
//! - the buy is bounded by `buy_timeout`; a timeout is classified by phase;
//! - on shutdown a buy before `submitted` is abandoned and its row goes back
//!   to `pending`; after `submitted` it gets `shutdown_grace` to finish;
//! - `submitted` is written with its time and the total the guards approved
//!   at review, and a `needs_review` order keeps that total: it is what the
//!   order is looked for by in the store's order history ([`super::verify`]).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{Engine, Event, Liveness};
use crate::catalog::Item;
use crate::db::Order;
use crate::model::{now_ms, ActivityState, Money, Outcome, Phase, SessionState, Status};
use crate::purchase::{BuyProgress, BuyRequest, PurchaseError, Refusal};

const DAY_MS: i64 = 24 * 3600 * 1000;

impl Engine {
    pub(super) async fn process(&self, order: Order, shutdown: &CancellationToken) {
        let span = tracing::info_span!("order", id = order.id, item = %order.item);
        async {
            tracing::info!(attempt = order.attempts, "claimed");
            self.handle.emit(Event::Claimed { id: order.id });
            self.handle.set_activity(|a| {
                a.state = ActivityState::Buying;
                a.order_id = Some(order.id);
                a.phase = Some(Phase::Claimed);
            });
            let ctx = Arc::new(BuyCtx::new(self.clone(), order.id));
            match self.guarded_buy(&order, &ctx, shutdown).await {
                // A live sign-in session holds a store it needs (see held.rs).
                Some(outcome) if ctx.held() && super::held::waits(&outcome, ctx.submitted()) => {
                    self.wait_for_hold(&order, &outcome).await
                }
                Some(outcome) => match self.retry_at(&order, &outcome, ctx.submitted()) {
                    Some(at) => self.requeue(&order, outcome, at).await,
                    None => {
                        let outcome = ctx.with_submit_total(outcome);
                        let review = outcome.status == Status::NeedsReview;
                        if self.settle(&order, outcome, shutdown).await && review {
                            self.verifier.start(order.id).await;
                        }
                    }
                },
                None => self.release(&order, shutdown).await,
            }
            self.handle.set_activity(|a| {
                a.order_id = None;
                a.phase = None;
            });
        }
        .instrument(span)
        .await
    }

    /// The buy under its timeout and the shutdown signal; `None` means it
    /// was abandoned before `submitted` and the row should be released.
    async fn guarded_buy(
        &self,
        order: &Order,
        ctx: &Arc<BuyCtx>,
        shutdown: &CancellationToken,
    ) -> Option<Outcome> {
        let buy = tokio::time::timeout(self.settings.buy_timeout, self.buy(order, ctx));
        tokio::pin!(buy);
        let result = tokio::select! {
            r = &mut buy => r,
            _ = shutdown.cancelled() => {
                if !ctx.submitted() {
                    tracing::info!("shutdown before Place Order: abandoning the buy");
                    return None;
                }
                tracing::warn!(grace = ?self.settings.shutdown_grace, "shutdown after Place Order: waiting for the confirmation");
                tokio::time::timeout(self.settings.shutdown_grace, &mut buy)
                    .await
                    .unwrap_or(Ok(Outcome::new(Status::NeedsReview).message("shut down before the confirmation was read")))
            }
        };
        let outcome = result.unwrap_or_else(|_| {
            let phase = ctx.phase();
            Outcome::failed(
                format!(
                    "buy timed out after {} at phase {phase}",
                    humantime::format_duration(self.settings.buy_timeout)
                ),
                true,
            )
        });
        Some(no_return(outcome, ctx.submitted()))
    }

    /// Guards that need no browser, then each source in order.
    async fn buy(&self, order: &Order, ctx: &Arc<BuyCtx>) -> Outcome {
        let catalog = crate::catalog::current(&self.catalog);
        let Some(item) = catalog.get(&order.item) else {
            return Outcome::new(Status::Cancelled)
                .message(format!("item `{}` is no longer in the catalog", order.item));
        };
        if let Some(outcome) = self.cooldown_guard(item).await {
            return outcome;
        }
        self.sources(order, item, ctx).await
    }

    async fn cooldown_guard(&self, item: &Item) -> Option<Outcome> {
        let cooldown = item.cooldown.unwrap_or(self.settings.cooldown);
        if cooldown.is_zero() {
            return None;
        }
        let last = match self.db.last_placed(&item.id).await {
            Ok(last) => last?,
            Err(e) => {
                return Some(Outcome::failed(
                    format!("could not read the cooldown: {e}"),
                    true,
                ))
            }
        };
        // A placed time in the future (the clock went back) counts as now:
        // a clock jump must never stretch or skip a cooldown unboundedly.
        let now = self.db.clock().now_ms();
        let until = last.min(now) + cooldown.as_millis() as i64;
        (now < until).then(|| {
            let left = Duration::from_secs(((until - now) / 1000).max(1) as u64);
            Outcome::new(Status::SkippedCooldown).message(format!(
                "placed recently; cooldown ends in {}",
                humantime::format_duration(left)
            ))
        })
    }

    /// Tries each source in order; `unavailable` and `price_blocked` move on
    /// to the next one (never after `submitted`).
    async fn sources(&self, order: &Order, item: &Item, ctx: &Arc<BuyCtx>) -> Outcome {
        let mut skipped: Vec<Outcome> = Vec::new();
        for source in &item.sources {
            ctx.set_store(&source.store);
            let req = BuyRequest::for_source(order.id, item, source, self.settings.dry_run);
            let _hold = match self.hold_for_buy(&source.store, order.id) {
                Ok(hold) => hold,
                Err(held) => {
                    ctx.set_held();
                    skipped.push(held);
                    continue;
                }
            };
            // A store the probe (or an earlier buy) found signed out is
            // skipped without launching a doomed browser.
            if let Some(why) = self.known_signed_out(&source.store).await {
                tracing::info!(store = %source.store, "store is signed out; source skipped");
                skipped.push(Outcome::new(Status::SigninRequired).message(why));
                continue;
            }
            let outcome = match self.factory.purchaser(&source.store) {
                Ok(mut purchaser) => purchaser.buy(&req, ctx.as_ref()).await,
                Err(e) => Outcome::failed(e.to_string(), false),
            };
            if outcome.status == Status::SigninRequired {
                if let Err(e) = self.db.note_signed_out_by_buy(&source.store).await {
                    tracing::warn!(error = %e, "could not record the signed-out store");
                }
            }
            if !outcome.falls_through() || ctx.submitted() {
                return outcome;
            }
            tracing::info!(store = %source.store, status = %outcome.status, "source skipped, trying the next");
            let why = outcome
                .message
                .clone()
                .unwrap_or_else(|| outcome.status.to_string());
            skipped.push(outcome.message(format!("{}: {why}", source.store)));
        }
        fall_through_result(skipped)
    }

    /// Why buys must skip `store`, when it is known signed out. The time
    /// is absolute: this text is stored in the order's message.
    async fn known_signed_out(&self, store: &str) -> Option<String> {
        let row = self.db.session(store).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not read the store's session state");
            None
        })?;
        (row.state == SessionState::SignedOut).then(|| {
            format!(
                "store `{store}` is signed out (since {}); run `restock login {store}`",
                crate::text::at(row.since)
            )
        })
    }

    /// When an automatic retry is due for this outcome, if one is allowed:
    /// only retryable failures from before `submitted`, at most
    /// `auto_retry_max` times, with doubling backoff.
    fn retry_at(&self, order: &Order, outcome: &Outcome, submitted: bool) -> Option<i64> {
        let s = &self.settings;
        let allowed = s.auto_retry
            && outcome.status == Status::Failed
            && outcome.retryable
            && !submitted
            && order.retries < s.auto_retry_max;
        allowed.then(|| {
            let delay = s
                .auto_retry_backoff
                .saturating_mul(1 << order.retries.min(16));
            self.db.clock().now_ms() + delay.as_millis() as i64
        })
    }

    async fn requeue(&self, order: &Order, outcome: Outcome, at: i64) {
        let why = outcome.message.unwrap_or_else(|| "failed".into());
        let message = format!(
            "retry {} of {} after: {why}",
            order.retries + 1,
            self.settings.auto_retry_max
        );
        tracing::info!(%message, "will retry");
        match self.db.requeue(order.id, at, message).await {
            Ok(()) => self.handle.emit(Event::Retrying { id: order.id, at }),
            Err(e) => {
                tracing::error!(error = %e, "could not requeue for a retry; the order stays in progress until recovery")
            }
        }
    }

    /// Records the outcome; `true` once it is written.
    async fn settle(&self, order: &Order, outcome: Outcome, shutdown: &CancellationToken) -> bool {
        if outcome.screenshot.is_some() {
            let s = &self.settings;
            tokio::spawn(crate::screenshots::prune_in_background(
                s.screenshots_dir.clone(),
                s.screenshot_max_age,
                s.screenshot_max_count as usize,
            ));
        }
        let pause = pause_reason(order, &outcome);
        let status = outcome.status;
        tracing::info!(%status, message = outcome.message.as_deref().unwrap_or(""), "settled");
        if !self
            .record(order.id, outcome, pause.clone(), shutdown)
            .await
        {
            return false;
        }
        self.read_pause().await; // the next heartbeat must already see the pause
        self.handle.emit(Event::Settled {
            id: order.id,
            status,
        });
        if let Some(reason) = pause {
            tracing::warn!(%reason, "engine paused for a human");
            self.handle.emit(Event::Paused { reason });
        }
        true
    }

    /// Gives the row back after an abandoned buy. The queue refuses rows at
    /// `submitted` (the phase write may have landed as we were cancelled);
    /// such a row may have been bought and is settled as `needs_review`.
    async fn release(&self, order: &Order, shutdown: &CancellationToken) {
        match self.db.release(order.id).await {
            Ok(()) => self.handle.emit(Event::Released { id: order.id }),
            Err(e) => {
                tracing::warn!(error = %e, "could not release the order; classifying it by phase");
                let outcome = no_return(Outcome::failed("abandoned at shutdown", true), true);
                // Verified at the next start (`Verifier::resume`).
                self.settle(order, outcome, shutdown).await;
            }
        }
    }

    /// Writes the outcome, retrying while the database cannot take writes
    /// (full disk, read-only file): an outcome, above all a placed order,
    /// must not be dropped. Gives up only at shutdown, leaving the row
    /// `in_progress` at its phase for boot recovery to classify safely.
    async fn record(
        &self,
        id: i64,
        outcome: Outcome,
        pause: Option<String>,
        shutdown: &CancellationToken,
    ) -> bool {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.db.settle(id, outcome.clone(), pause.clone()).await {
                Ok(()) => return true,
                Err(e) if e.is_unwritable() => {
                    tracing::error!(error = %e, "cannot record the outcome; retrying");
                    self.storage_failing(&e);
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.cancelled() => return false,
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not record the outcome");
                    return false;
                }
            }
        }
    }
}

/// Once Place Order may have been clicked, anything but `placed` or
/// `needs_review` becomes `needs_review`: the order may exist.
fn no_return(outcome: Outcome, submitted: bool) -> Outcome {
    if !submitted || matches!(outcome.status, Status::Placed | Status::NeedsReview) {
        return outcome;
    }
    let was = outcome.status;
    let detail = outcome.message.clone().unwrap_or_default();
    Outcome {
        status: Status::NeedsReview,
        retryable: false,
        ..outcome
    }
    .message(format!(
        "after Place Order the buy ended as {was}: {detail}; check the store's order history"
    ))
}

/// The order's status when every source fell through: `signin_required`
/// if a source was skipped as signed out, else `price_blocked` if any
/// source was too dear, else `unavailable`.
fn fall_through_result(skipped: Vec<Outcome>) -> Outcome {
    let status = if skipped.iter().any(|o| o.status == Status::SigninRequired) {
        Status::SigninRequired
    } else if skipped.iter().any(|o| o.status == Status::PriceBlocked) {
        Status::PriceBlocked
    } else {
        Status::Unavailable
    };
    let message = skipped
        .iter()
        .map(|o| o.message.clone().unwrap_or_else(|| o.status.to_string()))
        .collect::<Vec<_>>()
        .join("; ");
    let last = skipped
        .into_iter()
        .last()
        .unwrap_or_else(|| Outcome::new(status));
    Outcome { status, ..last }.message(if message.is_empty() {
        "no sources".into()
    } else {
        message
    })
}

/// Why this outcome needs a human before anything else is bought.
fn pause_reason(order: &Order, outcome: &Outcome) -> Option<String> {
    let needs_human =
        outcome.status.pauses_engine() || (outcome.status == Status::Failed && !outcome.retryable);
    needs_human.then(|| {
        let detail = outcome.message.as_deref().unwrap_or("");
        format!(
            "order {} ({}) ended as {}: {detail}; fix it, then run `restock resume`",
            order.id, order.item, outcome.status
        )
    })
}

/// The engine's side of one buy: phase writes, progress, guards.
struct BuyCtx {
    engine: Engine,
    order_id: i64,
    submitted: AtomicBool,
    phase: Mutex<Phase>,
    store: Mutex<Option<String>>,
    /// A source was skipped because a live sign-in session held its store.
    held: AtomicBool,
    /// The last total the guards approved at review.
    approved: Mutex<Option<Money>>,
}

impl BuyCtx {
    fn new(engine: Engine, order_id: i64) -> BuyCtx {
        BuyCtx {
            engine,
            order_id,
            submitted: AtomicBool::new(false),
            phase: Mutex::new(Phase::Claimed),
            store: Mutex::new(None),
            held: AtomicBool::new(false),
            approved: Mutex::new(None),
        }
    }

    /// A `needs_review` outcome that read no total keeps the one approved
    /// before Place Order (also on the row since `submitted`), so the
    /// settle does not erase it.
    fn with_submit_total(&self, outcome: Outcome) -> Outcome {
        if outcome.status != Status::NeedsReview || outcome.total.is_some() {
            return outcome;
        }
        match *self.approved.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(total) if self.submitted() => outcome.total(total),
            _ => outcome,
        }
    }

    fn held(&self) -> bool {
        self.held.load(Ordering::SeqCst)
    }

    fn set_held(&self) {
        self.held.store(true, Ordering::SeqCst);
    }

    fn submitted(&self) -> bool {
        self.submitted.load(Ordering::SeqCst)
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_store(&self, store: &str) {
        *self.store.lock().unwrap_or_else(|e| e.into_inner()) = Some(store.to_string());
    }

    fn progress(&self) {
        let handle = &self.engine.handle;
        handle.alive();
        self.engine
            .heartbeat
            .tick(Liveness::Progress, &handle.activity());
    }
}

#[async_trait]
impl BuyProgress for BuyCtx {
    async fn enter(&self, phase: Phase) -> Result<(), PurchaseError> {
        if phase == Phase::Submitted {
            // Set before the write: if we are cancelled mid-write the engine
            // must already treat the order as possibly bought.
            self.submitted.store(true, Ordering::SeqCst);
        } else if self.submitted() {
            return Err(PurchaseError::PhaseAfterSubmit(phase));
        }
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let db = &self.engine.db;
        let written = if phase == Phase::Submitted {
            let total = *self.approved.lock().unwrap_or_else(|e| e.into_inner());
            db.submit(self.order_id, store.as_deref(), total).await
        } else {
            db.set_phase(self.order_id, phase, store.as_deref()).await
        };
        written.map_err(PurchaseError::Phase)?;
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = phase;
        self.engine.handle.set_activity(|a| a.phase = Some(phase));
        tracing::info!(%phase, "phase");
        self.engine.handle.emit(Event::Phase {
            id: self.order_id,
            phase,
        });
        self.progress();
        Ok(())
    }

    fn step(&self, what: &str) {
        tracing::debug!(step = what, "progress");
        self.progress();
    }

    async fn approve_total(&self, total: Money) -> Result<(), Refusal> {
        let s = &self.engine.settings;
        let (spent, count) = self
            .engine
            .db
            .placed_since(self.engine.db.clock().now_ms() - DAY_MS)
            .await
            .map_err(|e| Refusal {
                status: Status::Failed,
                reason: format!("could not read today's spend: {e}"),
            })?;
        if count >= s.max_orders_per_day {
            return Err(Refusal {
                status: Status::SpendCapped,
                reason: format!(
                    "{count} orders placed in the last 24 h; RESTOCK_MAX_ORDERS_PER_DAY is {}",
                    s.max_orders_per_day
                ),
            });
        }
        if let Some(cap) = s.daily_cap.filter(|cap| Money(spent.0 + total.0) > *cap) {
            return Err(Refusal {
                status: Status::SpendCapped,
                reason: format!(
                    "{spent} spent in the last 24 h + {total} would pass RESTOCK_DAILY_CAP {cap}"
                ),
            });
        }
        *self.approved.lock().unwrap_or_else(|e| e.into_inner()) = Some(total);
        Ok(())
    }

    fn screenshot_path(&self, label: &str) -> PathBuf {
        let safe: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        self.engine.settings.screenshots_dir.join(format!(
            "order-{}-{}-{safe}.png",
            self.order_id,
            now_ms()
        ))
    }
}
