//! What the home page shows, read at one moment from the same sources as
//! the API and `restock status`: the engine's activity from its handle;
//! the pause, the orders, the session and monitor records in one read
//! ([`crate::db::Db::overview`]); every store the catalog uses or the probe
//! knows (`GET /stores`' list); the monitors live from the dead-man's
//! switch when it runs; and the catalog with the item histories `GET
//! /items` uses (kept by the database until it changes).

use std::sync::Arc;

use crate::catalog::Catalog;
use crate::db::{DbError, Histories, MonitorState, Order, Pause};
use crate::engine::Activity;
use crate::model::{now_ms, SessionState, StoreSession};

use super::Web;

/// How many recent orders the page lists.
pub const RECENT: u32 = 20;

/// One store as the page shows it.
pub struct StoreView {
    pub name: String,
    /// What the probe, buys and sign-ins recorded; `None` when never seen.
    pub session: Option<StoreSession>,
    /// Where its latest sign-in link stands, when one is open or waiting.
    pub link: Option<String>,
}

impl StoreView {
    pub fn signed_out(&self) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| s.state == SessionState::SignedOut)
    }
}

/// Everything the page renders.
pub struct View {
    pub now: i64,
    pub dry_run: bool,
    pub activity: Activity,
    /// Since the loop last turned or a buy made progress.
    pub silent_ms: Option<i64>,
    pub stall_after_ms: i64,
    pub turns: u64,
    /// The pause for a human, from the database (the engine's activity may
    /// also hold a storage failure, which is no pause).
    pub pause: Option<Pause>,
    /// The order the pause is about.
    pub pause_order: Option<Order>,
    /// Orders in `needs_review`, newest first.
    pub review: Vec<Order>,
    /// The newest orders.
    pub recent: Vec<Order>,
    pub stores: Vec<StoreView>,
    pub monitors: Vec<MonitorState>,
    pub catalog: Arc<Catalog>,
    pub histories: Arc<Histories>,
}

impl View {
    /// How many things need a human: the pause (or a storage failure),
    /// each signed-out store, each order to review that is not the pause's.
    pub fn needs_you(&self) -> usize {
        let pause = usize::from(self.pause.is_some() || self.activity.pause.is_some());
        let stores = self.stores.iter().filter(|s| s.signed_out()).count();
        let review = self
            .review
            .iter()
            .filter(|o| Some(o.id) != self.pause.as_ref().and_then(|p| p.order_id))
            .count();
        pause + stores + review
    }

    /// Reads everything at once.
    pub async fn read(web: &Web) -> Result<View, DbError> {
        let db = &web.intake.db;
        let handle = &web.intake.handle;
        let (overview, histories) = tokio::join!(
            db.overview(RECENT, web.monitors.is_none()),
            db.item_histories(),
        );
        let overview = overview?;
        let catalog = crate::catalog::current(&web.intake.catalog);
        let stores = crate::intake::store_sessions(&catalog, overview.sessions)
            .into_iter()
            .map(|(name, session)| {
                let link = web.signin.as_ref().and_then(|s| {
                    let status = s.status(&name);
                    (!status.is_final()).then_some(status.state)
                });
                StoreView {
                    name,
                    session,
                    link,
                }
            })
            .collect();
        let monitors = match &web.monitors {
            Some(switch) => switch.states(),
            None => overview.monitors,
        };
        Ok(View {
            now: now_ms(),
            dry_run: web.dry_run,
            activity: handle.activity(),
            silent_ms: handle.silent_for_ms(),
            stall_after_ms: web.intake.stall_after.as_millis() as i64,
            turns: handle.turns(),
            pause: overview.pause,
            pause_order: overview.pause_order,
            review: overview.review,
            recent: overview.recent,
            stores,
            monitors,
            catalog,
            histories: histories?,
        })
    }
}
