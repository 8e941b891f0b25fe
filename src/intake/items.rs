//! `GET /items`: every catalog item as a dashboard sees it (Home
//! Assistant polls it), and the cache that keeps it cheap.
//!
//! The answer is a pure function of the catalog, each item's last order
//! and the clock. The order histories come from [`Db::item_histories`],
//! which rereads them only when the database changed; the rendered body is
//! kept until the histories or the catalog change or the clock reaches the
//! next moment an item's state flips (a cooldown or debounce ending). So a
//! dashboard polling a 2,000-item catalog costs one tiny statement per
//! request instead of a query and a 800 KB serialisation.
//!
//! [`Db::item_histories`]: crate::db::Db::item_histories

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{queue_error, Intake};
use crate::catalog::Catalog;
use crate::db::{Histories, ItemHistory, Order};
use crate::model::{now_ms, Status};

/// One catalog item as a dashboard sees it.
#[derive(Serialize)]
struct ItemView<'a> {
    id: &'a str,
    name: &'a str,
    /// `ready`, `queued`, `buying`, `debounced` or `cooldown`.
    state: &'static str,
    /// When a new request would be queued again, ms since the epoch.
    ready_at: Option<i64>,
    last_order: Option<&'a Order>,
}

/// The last rendered answer and what it was rendered from.
#[derive(Clone, Default)]
pub struct ItemsCache(Arc<Mutex<Option<Rendered>>>);

struct Rendered {
    histories: Arc<Histories>,
    catalog: Arc<Catalog>,
    /// When it was rendered, and the first moment after that an item's
    /// state changes by the clock alone: the answer holds in between (a
    /// clock that went back makes it stale too).
    rendered_at: i64,
    valid_until: Option<i64>,
    body: Bytes,
}

impl ItemsCache {
    fn get(&self, histories: &Arc<Histories>, catalog: &Arc<Catalog>, now: i64) -> Option<Bytes> {
        let slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let r = slot.as_ref()?;
        let fresh = Arc::ptr_eq(&r.histories, histories)
            && Arc::ptr_eq(&r.catalog, catalog)
            && now >= r.rendered_at
            && r.valid_until.is_none_or(|t| now < t);
        fresh.then(|| r.body.clone())
    }

    fn put(&self, rendered: Rendered) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(rendered);
    }
}

pub(super) async fn items(State(intake): State<Intake>) -> Response {
    let histories = match intake.db.item_histories().await {
        Ok(h) => h,
        Err(e) => return queue_error(e),
    };
    let catalog = intake
        .catalog
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let now = now_ms();
    let body = match intake.items_cache.get(&histories, &catalog, now) {
        Some(body) => body,
        None => {
            let rendered = render(&intake, histories, catalog, now);
            let body = rendered.body.clone();
            intake.items_cache.put(rendered);
            body
        }
    };
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn render(intake: &Intake, histories: Arc<Histories>, catalog: Arc<Catalog>, now: i64) -> Rendered {
    let by_item: HashMap<&str, &ItemHistory> = histories
        .items
        .iter()
        .map(|h| (h.item.as_str(), h))
        .collect();
    let mut valid_until: Option<i64> = None;
    let views: Vec<ItemView> = catalog
        .items
        .iter()
        .map(|item| {
            let h = by_item.get(item.id.as_str()).copied();
            let cooldown = item.cooldown.unwrap_or(intake.cooldown);
            let windows = Windows::of(h, intake.debounce, cooldown);
            if let Some(t) = windows.next_change(now) {
                valid_until = Some(valid_until.map_or(t, |v| v.min(t)));
            }
            let (state, ready_at) = item_state(h, &windows, now);
            ItemView {
                id: &item.id,
                name: &item.name,
                state,
                ready_at,
                last_order: h.and_then(|h| h.last.as_ref()),
            }
        })
        .collect();
    let body = serde_json::to_vec(&views).expect("item views serialise");
    Rendered {
        histories: Arc::clone(&histories),
        catalog: Arc::clone(&catalog),
        rendered_at: now,
        valid_until,
        body: Bytes::from(body),
    }
}

/// When an item's cooldown and debounce end, whether or not they have.
struct Windows {
    cooldown_end: Option<i64>,
    debounce_end: Option<i64>,
}

impl Windows {
    fn of(h: Option<&ItemHistory>, debounce: Duration, cooldown: Duration) -> Windows {
        Windows {
            cooldown_end: h
                .and_then(|h| h.last_placed_at)
                .map(|t| t + cooldown.as_millis() as i64),
            debounce_end: h
                .and_then(|h| h.last.as_ref())
                .filter(|o| o.status != Status::Cancelled)
                .map(|o| o.created_at + debounce.as_millis() as i64),
        }
    }

    /// The next moment the clock alone changes this item's state.
    fn next_change(&self, now: i64) -> Option<i64> {
        [self.cooldown_end, self.debounce_end]
            .into_iter()
            .flatten()
            .filter(|&t| t > now)
            .min()
    }
}

/// Derives an item's dashboard state from its last order.
fn item_state(h: Option<&ItemHistory>, w: &Windows, now: i64) -> (&'static str, Option<i64>) {
    let Some(h) = h else { return ("ready", None) };
    if let Some(last) = &h.last {
        match last.status {
            Status::Pending => return ("queued", None),
            Status::InProgress => return ("buying", None),
            _ => {}
        }
    }
    if let Some(t) = w.cooldown_end.filter(|&t| t > now) {
        return ("cooldown", Some(t));
    }
    match w.debounce_end.filter(|&t| t > now) {
        Some(t) => ("debounced", Some(t)),
        None => ("ready", None),
    }
}
