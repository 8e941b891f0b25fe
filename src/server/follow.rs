//! The shape the owner's tellers ([`super::pauses`], [`super::verified`])
//! share: what they tell is read from the database, so an engine event is
//! only a nudge to read again, and a missed one (the channel lagged) is
//! made up by reading again too. Each runs on a task of its own, so the
//! loop never waits on a notification.

use std::future::Future;

use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::engine::{Event, Handle};
use crate::notify::Notifier;

/// Runs `tell` once now (what was left from before a restart) and again
/// after every event `wanted` picks and after a lag, until `shutdown` or
/// the engine's channel closes. Without a channel to tell, nothing runs.
pub(super) fn on_events<F, Fut>(
    handle: &Handle,
    notifier: Notifier,
    shutdown: CancellationToken,
    wanted: fn(&Event) -> bool,
    mut tell: F,
) -> JoinHandle<()>
where
    F: FnMut(Notifier) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let mut events = handle.subscribe();
    tokio::spawn(async move {
        if notifier.is_empty() {
            return;
        }
        let mut read = move || tell(notifier.clone());
        read().await;
        loop {
            let event = tokio::select! {
                e = events.recv() => e,
                _ = shutdown.cancelled() => break,
            };
            match event {
                Ok(e) if wanted(&e) => read().await,
                Err(RecvError::Lagged(_)) => read().await,
                Ok(_) => {}
                Err(RecvError::Closed) => break,
            }
        }
    })
}
