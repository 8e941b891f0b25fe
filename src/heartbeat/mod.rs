//! The dead-man's switch: the engine loop proves it is alive to outside
//! monitors (Healthchecks, Uptime Kuma push, any URL) and to systemd's
//! watchdog, so that a wedged loop falls silent and the monitor raises the
//! alarm.
//!
//! # Where pings come from
//!
//! Only from [`Heartbeat::tick`], which the engine calls at the top of every
//! loop turn (before any pause or idle branch) and on every phase and step
//! of a buy. There is no timer: if the loop stops turning and no buy makes
//! progress, nothing is sent. A buy that stalls therefore stops the beats
//! by itself; as a second guard a ping round that finds the engine silent
//! for longer than `RESTOCK_STALL_AFTER` (default 2.5 × interval) when it
//! is about to send does not send.
//!
//! # The interval clock
//!
//! Each monitor has its own clock. A tick pings a monitor when
//! `RESTOCK_HEARTBEAT_INTERVAL` has passed since its last *attempt*
//! (successful or not, so a dead monitor is not hammered), or at once when
//! what it would say changed (paused with `RESTOCK_HEARTBEAT_PAUSED=fail`,
//! or resumed), so the owner hears about a pause without waiting an
//! interval. At most one ping is in flight per monitor: a tick that finds
//! one running skips that monitor (it does not queue). Every ping is bounded
//! by `RESTOCK_HEARTBEAT_TIMEOUT`; its failure (timeout, refused, non-2xx,
//! Kuma's `{"ok":false}`) is logged with the URL redacted, counted, kept,
//! and never raised. `tick` itself only takes a few locks and spawns; the
//! network and the database are touched in the spawned task.
//!
//! Because the loop sleeps up to `RESTOCK_POLL_INTERVAL` when idle, pings
//! are at least that far apart; keep it below the heartbeat interval.
//!
//! # What a ping says
//!
//! Healthchecks gets a short plain-text body: the engine's state, the
//! queue depth and the last order's result. Kuma gets `msg=` with the state
//! and queue depth and `ping=` with the previous round trip. See
//! [`monitor`] for the request shapes.
//!
//! # The order check
//!
//! `RESTOCK_ORDER_CHECK_URL` is a second Healthchecks check that sees every
//! buy: `/start?rid=` when the engine claims an order, then `?rid=` (placed,
//! dry run, skipped for cooldown, cancelled, or abandoned at shutdown and
//! back in the queue) or `/fail?rid=` (everything else) with the outcome
//! when it ends. A task subscribed to the engine's events sends them in
//! order; it reacts to the engine, it is not a timer.
//!
//! # What is kept
//!
//! Per monitor: last sent, last acknowledged, last error, failures in a row,
//! last round trip (the database's `heartbeat_monitors`), for `restock status` and `/health`. A URL is
//! only ever shown as its label, `host/…/a1b2` (the last 4 characters of its
//! secret).
//!
//! Besides the records, each monitor counts the pings sent and failed since
//! start ([`Switch::counters`], for `/metrics`), and [`test_ping`] sends
//! `restock doctor`'s one test ping.

pub mod monitor;
mod order_check;
mod ping;
mod settings;
mod switch;
pub mod systemd;

use std::sync::Arc;
use std::time::Duration;

use crate::engine::{Activity, Heartbeat, Liveness};
use crate::model::ActivityState;
use crate::text::one_line;

pub use ping::test_ping;
pub use settings::{timing_warnings, Settings};
pub use switch::{PingCounts, Switch};
pub use systemd::Systemd;

/// A run of good pings is written to the database at most this often
/// (see `Monitor::save_due`).
pub const SAVE_AT_LEAST: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum HeartbeatError {
    #[error("cannot build the HTTP client for heartbeat pings")]
    Client(#[source] reqwest::Error),
}

/// The engine's state in one line: `idle`, `paused: <reason>`, `buying
/// order 12 (cart)`.
pub fn state_line(a: &Activity) -> String {
    match (a.state, &a.pause, a.order_id) {
        (ActivityState::Buying, _, Some(id)) => match a.phase {
            Some(p) => format!("buying order {id} ({p})"),
            None => format!("buying order {id}"),
        },
        (ActivityState::Buying, _, None) => "running".into(),
        (ActivityState::Paused, Some(p), _) => format!("paused: {}", one_line(&p.reason, 300)),
        (state, _, _) => state.to_string(),
    }
}

/// Ticks several heartbeats (the server's switch and one a test passed in).
pub struct Chain(pub Vec<Arc<dyn Heartbeat>>);

impl Heartbeat for Chain {
    fn tick(&self, why: Liveness, activity: &Activity) {
        for h in &self.0 {
            h.tick(why, activity);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Pause;

    /// An engine activity in `state`, nothing else set (the switch's
    /// tests use it too).
    pub(crate) fn activity(state: ActivityState) -> Activity {
        Activity {
            state,
            order_id: None,
            phase: None,
            pause: None,
        }
    }

    #[test]
    fn state_lines() {
        assert_eq!(state_line(&activity(ActivityState::Idle)), "idle");
        let mut a = activity(ActivityState::Buying);
        assert_eq!(state_line(&a), "running");
        a.order_id = Some(7);
        a.phase = Some(crate::model::Phase::Cart);
        assert_eq!(state_line(&a), "buying order 7 (cart)");
        let mut p = activity(ActivityState::Paused);
        p.pause = Some(Pause {
            reason: "order 3 needs\nreview".into(),
            order_id: Some(3),
            status: None,
            since: 0,
        });
        assert_eq!(state_line(&p), "paused: order 3 needs review");
    }
}
