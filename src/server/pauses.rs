//! Tells the owner about every pause for a human (`needs_review`,
//! `challenge`, `blocked`, `spend_capped`, `signin_required`, a
//! non-retryable `failed`, and boot recovery's `needs_review`), once per
//! pause, with the order's screenshot attached where the channel takes
//! files.
//!
//! It watches the engine's [`Event::Paused`] events from its own task, so
//! the loop never waits on it; the pause itself is read from the database,
//! and the last pause told about is remembered there too
//! ([`Db::notified_pause`]), so a restart does not tell the same pause twice.

use std::path::Path;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::db::{Db, Pause};
use crate::engine::{Event, Handle};
use crate::notify::{Attachment, Message, Notifier, Priority};

/// Screenshots larger than this are not attached (Telegram's photo limit).
const ATTACH_MAX: u64 = 10 * 1024 * 1024;

/// Spawns the watcher; it ends with `shutdown`. A pause left from before
/// a restart (or made by boot recovery) is told at once.
pub fn watch_pauses(
    handle: Arc<Handle>,
    db: Db,
    notifier: Notifier,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    super::follow::on_events(
        &handle,
        notifier,
        shutdown,
        |e| matches!(e, Event::Paused { .. }),
        move |notifier| {
            let db = db.clone();
            async move { check(&db, &notifier).await }
        },
    )
}

/// Notifies the current pause unless it was already told.
async fn check(db: &Db, notifier: &Notifier) {
    let pause = match db.paused().await {
        Ok(Some(p)) => p,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the pause to notify about it");
            return;
        }
    };
    let key = format!("{}:{}", pause.since, pause.order_id.unwrap_or(0));
    match db.notified_pause().await {
        Ok(Some(told)) if told == key => return,
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not read which pause was notified"),
    }
    if let Err(e) = db.set_notified_pause(key).await {
        tracing::warn!(error = %e, "could not remember the notified pause");
    }
    let msg = message(db, &pause).await;
    drop(notifier.send(msg));
}

async fn message(db: &Db, pause: &Pause) -> Message {
    let what = match (pause.order_id, pause.status) {
        (Some(id), Some(status)) => format!("order {id} ended as {status}"),
        (Some(id), None) => format!("order {id} needs you"),
        _ => "it needs you".to_string(),
    };
    let mut msg = Message::new(
        "paused",
        format!("restock paused: {what}"),
        pause.reason.clone(),
    )
    .priority(Priority::High);
    if let Some(status) = pause.status {
        msg = msg.data("status", status.as_str());
    }
    let Some(id) = pause.order_id else {
        return msg;
    };
    msg = msg.data("order_id", id);
    let order = match db.get(id).await {
        Ok(Some(o)) => o,
        _ => return msg,
    };
    msg = msg.data("item", order.item.clone());
    if let Some(store) = &order.store {
        msg = msg.data("store", store.clone());
    }
    if let Some(path) = order.screenshot.as_deref() {
        match read_screenshot(Path::new(path)).await {
            Ok(a) => msg = msg.attach(a),
            Err(e) => tracing::warn!(path, error = %e, "screenshot not attached"),
        }
    }
    msg
}

async fn read_screenshot(path: &Path) -> std::io::Result<Attachment> {
    let meta = tokio::fs::metadata(path).await?;
    if meta.len() > ATTACH_MAX {
        return Err(std::io::Error::other(format!(
            "{} bytes is more than {ATTACH_MAX}",
            meta.len()
        )));
    }
    let bytes = tokio::fs::read(path).await?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "screenshot.png".into());
    let mime = match path.extension().and_then(|e| e.to_str()) {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        _ => "image/png",
    };
    Ok(Attachment {
        name,
        mime,
        bytes: Arc::new(bytes),
    })
}
