//! Buys and live sign-in sessions on the same profile (see
//! [`crate::purchase::holds`]).
//!
//! Each source of a buy takes its store's profile for the buy
//! ([`Holder::Buy`]). A store a live sign-in session holds is treated like
//! an unavailable source: the engine says so and tries the item's next
//! source. When that leaves the order without a buy (every usable source
//! held, or the others unavailable too), the order is not settled: it goes
//! back to the queue and waits, not counted as a retry, and the engine
//! looks again after [`hold_wait`] (a live session ends within
//! `RESTOCK_SIGNIN_LINK_TTL`).

use std::time::Duration;

use super::{Engine, Event};
use crate::db::Order;
use crate::model::Outcome;
use crate::model::Status;
use crate::purchase::{Hold, Holder};

impl Engine {
    /// The profile of `store` for this buy, or the outcome that skips the
    /// source: held by a live sign-in session. `None` for another holder
    /// (the probe between claims cannot be running; a second engine in the
    /// same process would be the profile lock's business).
    pub(super) fn hold_for_buy(&self, store: &str, order_id: i64) -> Result<Option<Hold>, Outcome> {
        match self.holds.try_hold(store, Holder::Buy { order_id }) {
            Ok(hold) => Ok(Some(hold)),
            Err(Holder::Live) => {
                let why =
                    crate::purchase::holds::held_by_live(&self.holds, store).unwrap_or_else(|| {
                        format!("store `{store}` is held by a live sign-in session")
                    });
                tracing::info!(store, "{why}; trying the next source");
                Err(Outcome::new(Status::Unavailable)
                    .message(format!("{why}; trying the next source")))
            }
            Err(_) => Ok(None),
        }
    }

    /// How long an order whose stores are held waits before another look.
    fn hold_wait(&self) -> Duration {
        self.settings
            .poll_interval
            .clamp(Duration::from_secs(1), Duration::from_secs(30))
    }

    /// Puts `order` back to wait for a live sign-in session to end.
    pub(super) async fn wait_for_hold(&self, order: &Order, outcome: &Outcome) {
        let wait = self.hold_wait();
        let at = self.db.clock().now_ms() + wait.as_millis() as i64;
        let why = outcome.message.as_deref().unwrap_or("a store is held");
        let message = format!(
            "waiting: {why}; the order waits for the sign-in to end (next look in {})",
            humantime::format_duration(wait)
        );
        tracing::info!(%message, "order waits for a live sign-in session");
        match self.db.defer(order.id, at, message).await {
            Ok(()) => self.handle.emit(Event::Retrying { id: order.id, at }),
            Err(e) => {
                tracing::error!(error = %e, "could not put the order back to wait; it stays in progress until recovery")
            }
        }
    }
}

/// Does an order that met a held store wait instead of settling? When
/// nothing was bought and its end is one that trying again could change.
pub(super) fn waits(outcome: &Outcome, submitted: bool) -> bool {
    !submitted
        && matches!(
            outcome.status,
            Status::Unavailable | Status::PriceBlocked | Status::SigninRequired
        )
}
