//! The demo storefront: a real HTTP store on loopback, for `restock demo`,
//! for the browser purchaser's end-to-end tests, and for anyone who wants to
//! watch restock buy something without spending money.
//!
//! It sells five household staples through a complete flow — sign-in with
//! a persistent session cookie, product pages with price, stock,
//! schema.org JSON-LD and (paper towels) a pack-size select, a cart, an
//! address form with a country select, a review page with the total, Place
//! Order, a confirmation, and an order history — in three layouts that
//! share one state (sessions, server-side carts, ledger, faults, options):
//!
//! - "classic" at `/` (`classic.rs`): server-rendered, stable element ids;
//!   the built-in `demo` store definition drives it.
//! - "alt" at `/alt/` (`alt.rs`): the same behaviour as classic behind
//!   different URLs, classes and comma prices — deliberately alike, so a
//!   second store definition is proven to drive a store without code. Both
//!   are one flow (`flow.rs`) over the `Layout` trait (`layout.rs`).
//! - "spa" at `/spa/` (`spa/`): the shape of modern shops — one document, a
//!   client-side router, a JSON API, a session cookie set by script, a cart
//!   in localStorage, a cookie-consent wall, an upsell interstitial,
//!   client-side form validation, optional shipping and payment pages, a
//!   total among other numbers, and a confirmation without order number.
//!
//! Store options (`options.rs`) switch the shapes real checkouts differ
//! in — a protection-plan interstitial, a shipping-method choice, a payment
//! page, saved addresses that skip the form, the session lifetime — while
//! the defaults keep classic and alt the linear flow they always were.
//!
//! An admin API under `/admin/` (`admin.rs`) injects faults (out of stock,
//! 404, price change, bot challenge, access-denied, a hang at a named step,
//! a missing order number, a confirmation replaced by an error page,
//! everyone signed out), sets the options, and exposes the ledger of placed
//! orders, so a test can prove an order was placed exactly once.
//!
//! State is in memory only: a restart forgets sessions, carts and orders.

mod admin;
mod alt;
mod catalog;
mod challenge;
mod checkout;
mod classic;
mod faults;
mod flow;
mod layout;
mod options;
mod spa;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::response::Redirect;
use axum::routing::get;
use axum::{middleware, Router};
use tokio::task::JoinHandle;

pub use catalog::{Cents, Pack, Product, PRODUCTS};
pub use faults::{FaultSet, Faults, Step};
pub use flow::SESSION_COOKIE;
pub use options::{OptionsError, StoreOptions, DEFAULT_SESSION_TTL};
pub use spa::SESSION_COOKIE as SPA_SESSION_COOKIE;
pub use state::{LedgerEntry, LedgerLine};

use alt::Alt;
use classic::Classic;
use state::Store;

/// An email the demo store accepts (any email is accepted with the password).
pub const DEMO_EMAIL: &str = "demo@example.com";
/// The one password the demo store accepts.
pub const DEMO_PASSWORD: &str = "demo";

/// How long [`DemoStore::shutdown`] lets open connections finish before it
/// stops waiting; hung requests are released at once, so this only bounds
/// a client that keeps a request body half-sent.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why the demo store could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo store cannot listen on {addr} (is another process using it?)")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("demo store cannot read its own listening address")]
    LocalAddr(#[source] std::io::Error),
    #[error("demo store cannot watch for ctrl-c / SIGTERM")]
    Signal(#[source] std::io::Error),
    #[error("demo store options refused: {0}")]
    Options(#[from] OptionsError),
}

/// A running demo store, served by a background tokio task.
///
/// Dropping it stops the server too (without waiting); prefer
/// [`DemoStore::shutdown`] when you can await.
#[derive(Debug)]
pub struct DemoStore {
    addr: SocketAddr,
    store: Arc<Store>,
    task: Option<JoinHandle<()>>,
}

impl DemoStore {
    /// Binds `listen` (use `127.0.0.1:0` for a free port) and serves in a
    /// background tokio task, with the default options.
    pub async fn spawn(listen: SocketAddr) -> Result<DemoStore, DemoError> {
        DemoStore::spawn_with(listen, StoreOptions::default()).await
    }

    /// Like [`DemoStore::spawn`], shaped by `options`; `/admin/reset` comes
    /// back to these.
    pub async fn spawn_with(
        listen: SocketAddr,
        options: StoreOptions,
    ) -> Result<DemoStore, DemoError> {
        options.validate()?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| DemoError::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(DemoError::LocalAddr)?;
        let store = Arc::new(Store::new(options));
        let stop = store.shutdown.clone();
        let app = router(store.clone());
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned());
            if let Err(err) = served.await {
                tracing::error!(%addr, error = %err, "demo store stopped with an error");
            }
        });
        tracing::info!(%addr, "demo store listening");
        Ok(DemoStore {
            addr,
            store,
            task: Some(task),
        })
    }

    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The classic layout's page for `sku`.
    pub fn product_url(&self, sku: &str) -> String {
        format!("{}/product/{sku}", self.base_url())
    }

    /// The alt layout's page for `sku`.
    pub fn alt_product_url(&self, sku: &str) -> String {
        format!("{}/alt/item/{sku}", self.base_url())
    }

    /// The spa layout's page for `sku`.
    pub fn spa_product_url(&self, sku: &str) -> String {
        format!("{}/spa/product/{sku}", self.base_url())
    }

    /// The store's current options.
    pub fn options(&self) -> StoreOptions {
        self.store.options()
    }

    /// Orders placed so far (since the last reset), oldest first.
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.store.ledger()
    }

    /// The step of every request a hang fault has held (since the last
    /// reset), oldest first.
    pub fn hung(&self) -> Vec<Step> {
        self.store.hung()
    }

    /// Stops accepting connections, releases hung requests, and waits
    /// (bounded) for open connections to finish.
    pub async fn shutdown(mut self) {
        self.store.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE, task).await.is_err() {
                tracing::warn!(addr = %self.addr, "demo store: connections still open, stopping anyway");
                abort.abort();
            }
        }
    }
}

impl Drop for DemoStore {
    fn drop(&mut self) {
        self.store.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Runs the store in the foreground until ctrl-c or SIGTERM
/// (`restock demo-store --listen ADDR [--session-ttl DURATION]`).
pub async fn run(listen: SocketAddr, options: StoreOptions) -> Result<(), DemoError> {
    let store = DemoStore::spawn_with(listen, options).await?;
    let base = store.base_url();
    println!(
        "demo store at {base}/ (alt layout at {base}/alt/, spa at {base}/spa/), sign in with {DEMO_EMAIL} / {DEMO_PASSWORD}; ctrl-c to stop",
    );
    let stopped = stop_signal().await;
    store.shutdown().await;
    stopped
}

/// Waits for ctrl-c, or SIGTERM where there is one (systemd, containers).
async fn stop_signal() -> Result<(), DemoError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).map_err(DemoError::Signal)?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.map_err(DemoError::Signal),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await.map_err(DemoError::Signal)
}

/// All three layouts and the 404 fallback behind the fault gate; the admin
/// API is added after the gate's layer, so faults never reach it.
fn router(store: Arc<Store>) -> Router {
    Router::new()
        .merge(flow::routes::<Classic>())
        .merge(flow::routes::<Alt>())
        .merge(spa::routes())
        .route("/alt", get(|| async { Redirect::permanent("/alt/") }))
        .fallback(flow::fallback)
        .layer(middleware::from_fn_with_state(store.clone(), flow::gate))
        .nest("/admin", admin::routes())
        .merge(challenge::routes())
        .with_state(store)
}
