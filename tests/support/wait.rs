//! The one way tests wait: for an engine event, for a future, or, where no
//! event can be awaited (state another task or process owns), by polling.
//! Every wait has a deadline; no test sleeps for a fixed time to let
//! something happen.

use std::future::Future;
use std::time::Duration;

use restock::engine::Event;
use restock::model::{Status, Verdict};
use tokio::sync::broadcast;

/// How long anything awaited may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// How often [`poll`] looks again.
const POLL_EVERY: Duration = Duration::from_millis(25);

/// Awaits `fut`; fails with `on_timeout()` after [`PATIENCE`].
pub async fn within_else<T>(
    fut: impl Future<Output = T>,
    on_timeout: impl FnOnce() -> String,
) -> T {
    match tokio::time::timeout(PATIENCE, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {PATIENCE:?}: {}", on_timeout()),
    }
}

/// Awaits `fut`; fails after [`PATIENCE`] saying it was waiting for `what`.
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    within_else(fut, || format!("waiting for {what}")).await
}

/// Waits for the first event matching `pred`; returns every event seen on
/// the way, the matching one last.
pub async fn until(
    rx: &mut broadcast::Receiver<Event>,
    what: &str,
    pred: impl Fn(&Event) -> bool,
) -> Vec<Event> {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(PATIENCE, async {
        loop {
            match rx.recv().await {
                Ok(e) => {
                    let done = pred(&e);
                    seen.push(e);
                    if done {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("engine events closed while waiting for {what}: {e}"),
            }
        }
    })
    .await;
    if found.is_err() {
        panic!("timed out waiting for {what}; saw {seen:?}");
    }
    seen
}

/// The first event matching `pred`.
pub async fn event(
    rx: &mut broadcast::Receiver<Event>,
    what: &str,
    pred: impl Fn(&Event) -> bool,
) -> Event {
    until(rx, what, pred)
        .await
        .pop()
        .expect("the matching event")
}

/// How order `id` settled.
pub async fn settled(rx: &mut broadcast::Receiver<Event>, id: i64) -> Status {
    let what = format!("order {id} to settle");
    match event(
        rx,
        &what,
        |e| matches!(e, Event::Settled { id: i, .. } if *i == id),
    )
    .await
    {
        Event::Settled { status, .. } => status,
        _ => unreachable!(),
    }
}

/// Polls `check` until it returns `Some`; `None` once `limit` has passed.
pub async fn poll_within<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Polls `check` until it returns `Some`, failing after [`PATIENCE`]: for
/// state owned by another task or process, where no event can be awaited.
pub async fn poll<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    poll_within(PATIENCE, check)
        .await
        .unwrap_or_else(|| panic!("timed out after {PATIENCE:?} waiting for {what}"))
}

/// The verdict on order `id`'s verification, and how many checks it took
/// (the verdict's own included).
pub async fn verdict(rx: &mut broadcast::Receiver<Event>, id: i64) -> (Verdict, usize) {
    let mut checks = 0;
    loop {
        let e = event(rx, &format!("order {id}'s verification"), |e| {
            matches!(e, Event::Verified { id: i, .. } | Event::VerifyChecked { id: i, .. } if *i == id)
        })
        .await;
        checks += 1;
        if let Event::Verified { verdict, .. } = e {
            return (verdict, checks);
        }
    }
}
