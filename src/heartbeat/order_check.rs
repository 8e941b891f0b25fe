//! The order check (`RESTOCK_ORDER_CHECK_URL`): a second Healthchecks
//! check that sees every buy. A task subscribed to the engine's events sends
//! `/start?rid=` when an order is claimed, then `?rid=` (placed, dry run,
//! skipped for cooldown, cancelled, or abandoned at shutdown and back in the
//! queue) or `/fail?rid=` (everything else) when it ends, one ping at a time
//! so a run's start always precedes its end. It reacts to the engine; it is
//! not a timer.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use super::monitor::{run_id, Ping};
use super::switch::{InFlight, Inner, Monitor};
use crate::db::{Db, DbError};
use crate::engine::Event;
use crate::model::{now_ms, Say, Status};
use crate::text::one_line;

impl Inner {
    /// The order check: follows the engine's events, one ping at a time so
    /// a run's start always precedes its end.
    pub(super) async fn follow_orders(
        self: Arc<Self>,
        monitor: Arc<Monitor>,
        mut events: broadcast::Receiver<Event>,
    ) {
        let mut runs: HashMap<i64, String> = HashMap::new();
        loop {
            let event = match events.recv().await {
                Ok(e) => e,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "order check fell behind the engine's events");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            };
            let (id, say, rid, note) = match event {
                Event::Claimed { id } => {
                    let rid = run_id(id, now_ms());
                    runs.insert(id, rid.clone());
                    (id, Say::Start, rid, None)
                }
                Event::Settled { id, status } => {
                    let rid = runs.remove(&id).unwrap_or_else(|| run_id(id, now_ms()));
                    let say = if ends_well(status) {
                        Say::Success
                    } else {
                        Say::Fail
                    };
                    (id, say, rid, None)
                }
                Event::Released { id } => {
                    let rid = runs.remove(&id).unwrap_or_else(|| run_id(id, now_ms()));
                    let note = "abandoned at shutdown before Place Order; back in the queue";
                    (id, Say::Success, rid, Some(note))
                }
                Event::Stopped => break,
                _ => continue,
            };
            let line = self.order_line(id).await;
            let body = match note {
                Some(note) => format!("order {id}: {note}\n{line}"),
                None => line,
            };
            let ping = Ping {
                say,
                msg: one_line(body.lines().next().unwrap_or(""), 200),
                body,
                rid: Some(rid),
            };
            monitor.in_flight.store(true, Ordering::SeqCst);
            let guard = InFlight(Arc::clone(&monitor));
            self.send(&monitor, &ping).await;
            drop(guard);
        }
    }

    async fn order_line(&self, id: i64) -> String {
        let fallback = format!("order {id}");
        let Some(db) = &self.db else {
            return fallback;
        };
        let bound = self.timeout.min(Duration::from_secs(2));
        match tokio::time::timeout(bound, order_line(db, id)).await {
            Ok(Ok(Some(line))) => line,
            _ => fallback,
        }
    }
}

/// Outcomes the order check reports as success; everything else is `/fail`.
fn ends_well(status: Status) -> bool {
    matches!(
        status,
        Status::Placed | Status::DryRun | Status::SkippedCooldown | Status::Cancelled
    )
}

/// One order, as the order check's body tells it.
pub async fn order_line(db: &Db, id: i64) -> Result<Option<String>, DbError> {
    let order = db.get(id).await?;
    Ok(order.map(|o| {
        let mut parts = vec![format!("order {} ({}): {}", o.id, o.item, o.status)];
        if let Some(store) = &o.store {
            parts.push(format!("store {store}"));
        }
        if let Some(phase) = o.phase {
            parts.push(format!("phase {phase}"));
        }
        if let Some(total) = o.total {
            parts.push(format!("total {total}"));
        }
        if let Some(r) = &o.order_ref {
            parts.push(format!("ref {r}"));
        }
        parts.push(format!("attempt {}", o.attempts));
        let mut line = parts.join(", ");
        if let Some(m) = &o.message {
            line.push('\n');
            line.push_str(m);
        }
        line
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_and_bad_ends() {
        assert!(ends_well(Status::DryRun) && ends_well(Status::Placed));
        assert!(!ends_well(Status::Unavailable) && !ends_well(Status::NeedsReview));
    }
}
