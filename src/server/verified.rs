//! Tells the owner what looking for an unconfirmed order in the store's
//! order history concluded (see `engine::verify`): found (the order is
//! `placed` and its pause lifted) or not found after the window (it stays
//! `needs_review`). Once per verdict: the record says whether it was told
//! ([`Db::mark_verdict_told`]), so a restart neither repeats nor loses one.
//! A store that cannot be verified tells nothing new: the pause
//! notification already asked the owner to look.
//!
//! Like [`super::pauses`], it follows the engine's events from a task of
//! its own ([`super::follow`]), so the loop never waits on a notification.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::db::{Db, Verification};
use crate::engine::{Event, Handle};
use crate::model::Verdict;
use crate::notify::{Message, Notifier, Priority};

/// Spawns the teller; it ends with `shutdown`. Verdicts reached before a
/// restart (or by `restock verify`) are told at once.
pub fn watch_verdicts(
    handle: Arc<Handle>,
    db: Db,
    notifier: Notifier,
    window: Duration,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    super::follow::on_events(
        &handle,
        notifier,
        shutdown,
        |e| matches!(e, Event::Verified { .. }),
        move |notifier| {
            let db = db.clone();
            async move { tell_untold(&db, &notifier, window).await }
        },
    )
}

async fn tell_untold(db: &Db, notifier: &Notifier, window: Duration) {
    let untold = match db.untold_verdicts().await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "could not read which verdicts to tell");
            return;
        }
    };
    for v in untold {
        match db.mark_verdict_told(v.order_id).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "could not remember the told verdict");
                continue;
            }
        }
        let item = match db.get(v.order_id).await {
            Ok(Some(o)) => o.item,
            _ => String::new(),
        };
        drop(notifier.send(message(&v, &item, window)));
    }
}

/// What the owner reads.
pub fn message(v: &Verification, item: &str, window: Duration) -> Message {
    let id = v.order_id;
    let store = &v.store;
    let what = if item.is_empty() {
        format!("order {id}")
    } else {
        format!("order {id} ({item})")
    };
    let msg = match v.verdict {
        Some(Verdict::Placed) => Message::new(
            "verified",
            format!("restock: order {id} was placed after all"),
            format!(
                "{what} is in {store}'s order history as {}: Place Order went through, so it is placed. \
                 restock is no longer paused for it.",
                v.order_ref.as_deref().unwrap_or("?")
            ),
        ),
        _ => {
            let why = v
                .last_error
                .as_deref()
                .map(|e| format!(" (the last look could not read it: {e})"))
                .unwrap_or_default();
            Message::new(
                "not_verified",
                format!("restock: order {id} is not in {store}'s order history"),
                format!(
                    "{what} was not in the order history after {}{why}; it stays needs_review. \
                     Look in {store}'s order history yourself: if it is not there, enqueue it again; \
                     then run `restock resume`.",
                    crate::text::span_words(window.as_millis() as i64)
                ),
            )
            .priority(Priority::High)
        }
    };
    let mut msg = msg.data("order_id", id).data("store", store.clone());
    if let Some(r) = &v.order_ref {
        msg = msg.data("order_ref", r.clone());
    }
    if !item.is_empty() {
        msg = msg.data("item", item.to_string());
    }
    msg
}
