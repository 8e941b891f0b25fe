//! `GET /events`: the engine's events as a server-sent event stream, for
//! the home page (which refreshes itself from it) and any other client
//! (`curl -N -H 'Authorization: Bearer …' http://…/events`).
//!
//! Each event is one SSE message whose `event:` is its type and whose
//! `data:` is a JSON object with the same `type` and the event's fields:
//!
//! | type | fields | when |
//! |---|---|---|
//! | `hello` | `state`, `turns`, `silent_ms` | first, on every (re)connect |
//! | `turn` | `n`, `at` | a loop turn began |
//! | `queued` | `id`, `item` | an order was queued through the intake or the page |
//! | `claimed` | `id` | the engine took an order |
//! | `phase` | `id`, `phase` | a buy entered a phase (`browsing`, `cart`, `submitted`) |
//! | `settled` | `id`, `status` | an order ended |
//! | `released` | `id` | a claim went back to the queue (shutdown) |
//! | `retrying` | `id`, `at` | a failure was queued again, not before `at` |
//! | `paused` | `reason` | the loop found the engine paused (every turn while paused) |
//! | `idle` | | nothing to claim |
//! | `storage_failing` | `reason` | the database cannot take writes |
//! | `probed` | `store`, `state` | the session probe checked a store |
//! | `probe_deferred` | `reason` | the probe waits for its activity gate |
//! | `verify_checked` | `id`, `checks` | the order history was read for an unconfirmed order |
//! | `verify_held` | `id` | a due look waits: a live sign-in holds its store's profile |
//! | `verified` | `id`, `verdict` | looking for an unconfirmed order ended (`placed`, `not_found`, ...) |
//! | `lagged` | `missed` | this client fell behind and missed events: read the state again |
//! | `stopped` | | the engine stopped; the stream ends |
//!
//! Times are ms since the epoch. A comment line keeps the connection open
//! every 15 s; the stream ends when the server shuts down.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event as Sse, KeepAlive};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use serde_json::{json, Value};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

use crate::engine::{Event, Handle};
use crate::model::now_ms;

/// The JSON object for one engine event.
pub fn event_json(event: &Event) -> Value {
    match event {
        Event::Turn(n) => json!({ "type": "turn", "n": n, "at": now_ms() }),
        Event::Queued { id, item } => json!({ "type": "queued", "id": id, "item": item }),
        Event::Claimed { id } => json!({ "type": "claimed", "id": id }),
        Event::Phase { id, phase } => json!({ "type": "phase", "id": id, "phase": phase }),
        Event::Settled { id, status } => json!({ "type": "settled", "id": id, "status": status }),
        Event::Released { id } => json!({ "type": "released", "id": id }),
        Event::Retrying { id, at } => json!({ "type": "retrying", "id": id, "at": at }),
        Event::StorageFailing { reason } => json!({ "type": "storage_failing", "reason": reason }),
        Event::Idle => json!({ "type": "idle" }),
        Event::Paused { reason } => json!({ "type": "paused", "reason": reason }),
        Event::Probed { store, state } => {
            json!({ "type": "probed", "store": store, "state": state })
        }
        Event::ProbeDeferred { reason } => json!({ "type": "probe_deferred", "reason": reason }),
        Event::VerifyChecked { id, checks } => {
            json!({ "type": "verify_checked", "id": id, "checks": checks })
        }
        Event::VerifyHeld { id } => json!({ "type": "verify_held", "id": id }),
        Event::Verified { id, verdict } => {
            json!({ "type": "verified", "id": id, "verdict": verdict })
        }
        Event::Stopped => json!({ "type": "stopped" }),
    }
}

fn message(data: Value) -> Sse {
    let kind = data["type"].as_str().unwrap_or("message").to_string();
    Sse::default().event(kind).data(data.to_string())
}

/// The stream for one client: `hello`, then every event until the engine
/// stops or `shutdown` is cancelled.
pub fn stream(
    handle: &Handle,
    shutdown: CancellationToken,
) -> impl Stream<Item = Result<Sse, Infallible>> + Send + 'static {
    let rx = handle.subscribe();
    let hello = json!({
        "type": "hello",
        "state": handle.activity().state,
        "turns": handle.turns(),
        "silent_ms": handle.silent_for_ms(),
    });
    struct State {
        rx: broadcast::Receiver<Event>,
        shutdown: CancellationToken,
        hello: Option<Value>,
        done: bool,
    }
    let state = State {
        rx,
        shutdown,
        hello: Some(hello),
        done: false,
    };
    futures::stream::unfold(state, |mut s| async move {
        if let Some(hello) = s.hello.take() {
            return Some((Ok(message(hello)), s));
        }
        if s.done {
            return None;
        }
        let next = tokio::select! {
            _ = s.shutdown.cancelled() => return None,
            next = s.rx.recv() => next,
        };
        let data = match next {
            Ok(event) => {
                s.done = event == Event::Stopped;
                event_json(&event)
            }
            Err(RecvError::Lagged(missed)) => json!({ "type": "lagged", "missed": missed }),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(message(data)), s))
    })
}

/// The SSE answer for `handle`'s events.
pub fn respond(handle: &Handle, shutdown: CancellationToken) -> Response {
    let sse = axum::response::Sse::new(stream(handle, shutdown))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)));
    let mut response = sse.into_response();
    let headers = response.headers_mut();
    crate::signin::page::secure_headers(headers);
    // Reverse proxies (nginx) would otherwise buffer the stream.
    headers.insert(
        "x-accel-buffering",
        axum::http::HeaderValue::from_static("no"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Phase, Status};

    #[test]
    fn events_are_typed_json() {
        let j = event_json(&Event::Phase {
            id: 3,
            phase: Phase::Cart,
        });
        assert_eq!(j, json!({"type": "phase", "id": 3, "phase": "cart"}));
        let j = event_json(&Event::Settled {
            id: 3,
            status: Status::NeedsReview,
        });
        assert_eq!(j["status"], "needs_review");
        let j = event_json(&Event::Queued {
            id: 4,
            item: "soap".into(),
        });
        assert_eq!(j, json!({"type": "queued", "id": 4, "item": "soap"}));
        assert_eq!(event_json(&Event::Idle)["type"], "idle");
    }

    #[tokio::test]
    async fn a_stream_says_hello_then_follows_the_engine_until_it_stops() {
        use futures::StreamExt;
        let handle = Handle::new();
        let mut s = Box::pin(stream(&handle, CancellationToken::new()));
        assert!(s.next().await.is_some(), "hello");
        handle.emit(Event::Claimed { id: 1 });
        handle.emit(Event::Stopped);
        assert!(s.next().await.is_some());
        assert!(s.next().await.is_some());
        assert!(s.next().await.is_none(), "the stream ends after `stopped`");
        let shutdown = CancellationToken::new();
        let mut s = Box::pin(stream(&handle, shutdown.clone()));
        s.next().await;
        shutdown.cancel();
        assert!(s.next().await.is_none(), "and at shutdown");
    }
}
