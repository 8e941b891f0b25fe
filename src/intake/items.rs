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
use crate::catalog::{Catalog, Item};
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
pub type ItemsCache = RenderCache<Bytes>;

/// The last thing rendered from the item histories and the catalog (`GET
/// /items`' body, the home page's item rows), kept while it still holds.
pub struct RenderCache<T>(Arc<Mutex<Option<Rendered<T>>>>);

impl<T> Clone for RenderCache<T> {
    fn clone(&self) -> Self {
        RenderCache(Arc::clone(&self.0))
    }
}

impl<T> Default for RenderCache<T> {
    fn default() -> Self {
        RenderCache(Arc::default())
    }
}

/// One rendering and what it was rendered from.
pub struct Rendered<T> {
    histories: Arc<Histories>,
    catalog: Arc<Catalog>,
    /// When it was rendered, and the first moment after that an item's
    /// state changes by the clock alone: the answer holds in between (a
    /// clock that went back makes it stale too).
    rendered_at: i64,
    valid_until: Option<i64>,
    value: T,
}

impl<T> Rendered<T> {
    /// `value`, rendered at `now` from `histories` and `catalog`, true
    /// until `valid_until` (see [`ItemStates::valid_until`]).
    pub fn new(
        histories: Arc<Histories>,
        catalog: Arc<Catalog>,
        now: i64,
        valid_until: Option<i64>,
        value: T,
    ) -> Rendered<T> {
        Rendered {
            histories,
            catalog,
            rendered_at: now,
            valid_until,
            value,
        }
    }
}

impl<T: Clone> RenderCache<T> {
    /// The kept rendering, if it was made from these very histories and
    /// this catalog and still holds at `now`.
    pub fn get(&self, histories: &Arc<Histories>, catalog: &Arc<Catalog>, now: i64) -> Option<T> {
        let slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let r = slot.as_ref()?;
        let fresh = Arc::ptr_eq(&r.histories, histories)
            && Arc::ptr_eq(&r.catalog, catalog)
            && now >= r.rendered_at
            && r.valid_until.is_none_or(|t| now < t);
        fresh.then(|| r.value.clone())
    }

    pub fn put(&self, rendered: Rendered<T>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(rendered);
    }
}

pub(super) async fn items(State(intake): State<Intake>) -> Response {
    let histories = match intake.db.item_histories().await {
        Ok(h) => h,
        Err(e) => return queue_error(e),
    };
    let catalog = crate::catalog::current(&intake.catalog);
    let now = now_ms();
    let body = match intake.items_cache.get(&histories, &catalog, now) {
        Some(body) => body,
        None => {
            let rendered = render(&intake, histories, catalog, now);
            let body = rendered.value.clone();
            intake.items_cache.put(rendered);
            body
        }
    };
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn render(
    intake: &Intake,
    histories: Arc<Histories>,
    catalog: Arc<Catalog>,
    now: i64,
) -> Rendered<Bytes> {
    let (body, valid_until) = {
        let states = ItemStates::of(&catalog, &histories, intake.debounce, intake.cooldown, now);
        let views: Vec<ItemView> = states
            .items
            .iter()
            .map(|s| ItemView {
                id: &s.item.id,
                name: &s.item.name,
                state: s.state.as_str(),
                ready_at: s.ready_at,
                last_order: s.last,
            })
            .collect();
        let body = serde_json::to_vec(&views).expect("item views serialise");
        (body, states.valid_until)
    };
    Rendered::new(histories, catalog, now, valid_until, Bytes::from(body))
}

/// An item's state as dashboards show it (`GET /items`' `state`, the home
/// page's groups), derived from its last order and the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemState {
    /// A request now would be queued.
    Ready,
    /// Its last order waits in the queue.
    Queued,
    /// Its last order is being bought.
    Buying,
    /// Ordered within the debounce window: a request now is not queued.
    Debounced,
    /// Placed within its cooldown.
    Cooldown,
}

impl ItemState {
    /// Every state, in the order the home page groups them.
    pub const ALL: [ItemState; 5] = [
        ItemState::Buying,
        ItemState::Queued,
        ItemState::Ready,
        ItemState::Debounced,
        ItemState::Cooldown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemState::Ready => "ready",
            ItemState::Queued => "queued",
            ItemState::Buying => "buying",
            ItemState::Debounced => "debounced",
            ItemState::Cooldown => "cooldown",
        }
    }
}

/// One catalog item with its state.
pub struct ItemStatus<'a> {
    pub item: &'a Item,
    pub state: ItemState,
    /// When a new request would be queued again, ms since the epoch.
    pub ready_at: Option<i64>,
    pub last: Option<&'a Order>,
}

/// Every catalog item's state at one moment, in catalog order.
pub struct ItemStates<'a> {
    pub items: Vec<ItemStatus<'a>>,
    /// The first moment after `now` an item's state changes by the clock
    /// alone (a cooldown or debounce ending): until then these states hold
    /// unless the histories or the catalog change.
    pub valid_until: Option<i64>,
}

impl<'a> ItemStates<'a> {
    /// The states of `catalog`'s items at `now`, with the intake's
    /// `debounce` and default `cooldown`: what `GET /items` answers and
    /// the home page shows.
    pub fn of(
        catalog: &'a Catalog,
        histories: &'a Histories,
        debounce: Duration,
        cooldown: Duration,
        now: i64,
    ) -> ItemStates<'a> {
        let by_item: HashMap<&str, &ItemHistory> = histories
            .items
            .iter()
            .map(|h| (h.item.as_str(), h))
            .collect();
        let mut valid_until: Option<i64> = None;
        let items = catalog
            .items
            .iter()
            .map(|item| {
                let h = by_item.get(item.id.as_str()).copied();
                let windows = Windows::of(h, debounce, item.cooldown.unwrap_or(cooldown));
                if let Some(t) = windows.next_change(now) {
                    valid_until = Some(valid_until.map_or(t, |v| v.min(t)));
                }
                let (state, ready_at) = item_state(h, &windows, now);
                ItemStatus {
                    item,
                    state,
                    ready_at,
                    last: h.and_then(|h| h.last.as_ref()),
                }
            })
            .collect();
        ItemStates { items, valid_until }
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
fn item_state(h: Option<&ItemHistory>, w: &Windows, now: i64) -> (ItemState, Option<i64>) {
    let Some(h) = h else {
        return (ItemState::Ready, None);
    };
    if let Some(last) = &h.last {
        match last.status {
            Status::Pending => return (ItemState::Queued, None),
            Status::InProgress => return (ItemState::Buying, None),
            _ => {}
        }
    }
    if let Some(t) = w.cooldown_end.filter(|&t| t > now) {
        return (ItemState::Cooldown, Some(t));
    }
    match w.debounce_end.filter(|&t| t > now) {
        Some(t) => (ItemState::Debounced, Some(t)),
        None => (ItemState::Ready, None),
    }
}
