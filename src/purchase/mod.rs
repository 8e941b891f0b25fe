//! Buying: the contract between the engine and whatever drives a store.
//!
//! The engine never talks to a browser. It asks a [`PurchaserFactory`] for a
//! [`Purchaser`] per store and hands it a [`BuyRequest`] plus a
//! [`BuyProgress`] through which the purchaser (a) writes each phase to the
//! order's row *before* the step begins, (b) reports liveness so the
//! dead-man's switch keeps beating only while the buy moves, and (c) asks the
//! engine's guards to approve the total read at review before Place Order.
//!
//! `purchase::factory(config, store)` is the one way to get the real browser
//! purchaser (buys, the probe, `login`, diagnostics all use it); the engine
//! holds a factory behind the trait so tests can inject [`scripted`] ones.
//!
//! The real purchaser is three parts: [`browser`] launches Chromium on the
//! store's persistent profile and guarantees it is gone afterwards;
//! [`store`] reads store definitions (TOML: URLs, selectors, markers); and
//! the buy flow ([`buy`], private) walks every store through the same
//! phases; [`session`], [`verify`] (the order history), [`signin`] and
//! [`dump_dom`] are the other jobs a browser does on a store profile. The
//! [`BrowserSettings`] tie them to the owner's config.

pub mod browser;
mod buy;
mod dump_dom;
pub mod holds;
pub mod scripted;
mod session;
mod signin;
pub mod store;
pub(crate) mod tab;
mod verify;
pub(crate) mod wait;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use url::Url;

use crate::model::{Money, OrderHistory, Outcome, Phase, SessionCheck, SessionState, Status};

pub use self::browser::BrowserError;
pub use self::dump_dom::DomDump;
pub use self::holds::{Hold, Holder, ProfileHolds};
pub use self::store::{StoreDef, StoreError, StoreRegistry};
pub use self::tab::TabError;
pub use self::wait::{Looked, MarkerState, Missing, Report};

/// One source of one order, as the purchaser needs it.
#[derive(Debug, Clone)]
pub struct BuyRequest {
    pub order_id: i64,
    pub item_id: String,
    pub item_name: String,
    pub quantity: u32,
    pub store: String,
    pub product_url: Url,
    /// The tighter of the source's and the item's price ceilings.
    pub ceiling: Option<Money>,
    /// Stop before Place Order and report `dry_run`.
    pub dry_run: bool,
    /// Variants to choose on the product page before adding: `<select>`
    /// selector -> option value or text (the catalog source's `choose`).
    pub choices: Vec<(String, String)>,
}

impl BuyRequest {
    /// The request for one catalog source of an item.
    pub fn for_source(
        order_id: i64,
        item: &crate::catalog::Item,
        source: &crate::catalog::Source,
        dry_run: bool,
    ) -> BuyRequest {
        BuyRequest {
            order_id,
            item_id: item.id.clone(),
            item_name: item.name.clone(),
            quantity: item.quantity,
            store: source.store.clone(),
            product_url: source.url.clone(),
            ceiling: item.ceiling(source),
            dry_run,
            choices: source
                .choose
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

/// Why the engine's guards refused a total at review.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct Refusal {
    /// The status the order settles in (`spend_capped`, `price_blocked`).
    pub status: Status,
    pub reason: String,
}

/// The engine's side of a buy, handed to the purchaser.
#[async_trait]
pub trait BuyProgress: Send + Sync {
    /// Persists `phase` on the order's row; the step it names may begin only
    /// after this returns `Ok`. `Submitted` is the point of no return.
    async fn enter(&self, phase: Phase) -> Result<(), PurchaseError>;
    /// Liveness: the buy made progress (a page loaded, a click answered).
    fn step(&self, what: &str);
    /// Asks the guards whether `total` may be spent. Called at review, before
    /// `enter(Submitted)`.
    async fn approve_total(&self, total: Money) -> Result<(), Refusal>;
    /// Where a screenshot for this order should be written.
    fn screenshot_path(&self, label: &str) -> PathBuf;
    /// What a step looked for and what the page had (`restock dry-run
    /// --explain` prints it; the engine ignores it).
    fn explain(&self, _step: &str, _report: &Report) {}
}

/// Drives one store. Dropping it must release everything it started (the
/// browser process included), so the engine can cancel a buy by dropping
/// the future.
#[async_trait]
pub trait Purchaser: Send {
    async fn buy(&mut self, req: &BuyRequest, progress: &dyn BuyProgress) -> Outcome;
    /// Read-only: navigation only, no cart, no clicks.
    async fn check_session(&mut self) -> SessionCheck;
    /// Read-only: the store's order history, to verify an order whose
    /// Place Order was clicked but never confirmed. A purchaser for a store
    /// that cannot be verified answers [`OrderHistory::Unsupported`] (the
    /// default).
    async fn order_history(&mut self) -> OrderHistory {
        OrderHistory::Unsupported
    }
}

pub trait PurchaserFactory: Send + Sync {
    fn purchaser(&self, store: &str) -> Result<Box<dyn Purchaser>, PurchaseError>;
}

#[derive(Debug, thiserror::Error)]
pub enum PurchaseError {
    #[error("store `{0}` is not defined; add a store definition file or fix the catalog")]
    UnknownStore(String),
    #[error("could not record the phase on the order: {0}")]
    Phase(#[source] crate::db::DbError),
    #[error("phase {0} after submitted is not allowed")]
    PhaseAfterSubmit(Phase),
    #[error(transparent)]
    Browser(#[from] BrowserError),
    #[error("store `{0}` defines no signin_form; use `restock login`")]
    NoSigninForm(String),
    #[error(
        "`restock login` opens a browser window and needs a display: run it on a desktop session \
         (or over `ssh -X`), with the same profiles directory"
    )]
    NoDisplay,
    #[error("the browser window went away before sign-in finished: {0}")]
    WindowGone(#[source] TabError),
    /// A page did not behave while `doing` something outside a buy.
    #[error("{doing}: {source}")]
    Page {
        doing: String,
        #[source]
        source: TabError,
    },
    #[error("`{url}` is not a URL or path: {source}")]
    BadUrl {
        url: String,
        #[source]
        source: url::ParseError,
    },
}

/// Default bound for one step of a buy (a page to show, a click to answer).
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// Default bound for starting Chromium and connecting to it.
pub const DEFAULT_LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything the real purchaser needs; built from the config.
#[derive(Debug, Clone)]
pub struct BrowserSettings {
    /// The browser to run; `None` looks for `chromium`, `chromium-browser`,
    /// `google-chrome` on `PATH`.
    pub chrome: Option<PathBuf>,
    /// Buys, probes and dumps run headless unless this is off (`login` is
    /// always visible).
    pub headless: bool,
    /// One persistent profile per store lives in `<profiles_dir>/<store>`.
    pub profiles_dir: PathBuf,
    /// Where the session check puts a screenshot when it cannot tell the
    /// state (block, challenge, timeout); buys use
    /// `BuyProgress::screenshot_path`.
    pub screenshots_dir: PathBuf,
    pub stores: Arc<StoreRegistry>,
    /// The owner's checkout values (`name`, `address`, `postal_code`, ...),
    /// typed into the fields a store definition maps them to.
    pub checkout: BTreeMap<String, String>,
    pub step_timeout: Duration,
    pub launch_timeout: Duration,
}

impl BrowserSettings {
    /// Headless, default timeouts, no explicit browser, no checkout values.
    pub fn new(
        profiles_dir: PathBuf,
        screenshots_dir: PathBuf,
        stores: Arc<StoreRegistry>,
    ) -> BrowserSettings {
        BrowserSettings {
            chrome: None,
            headless: true,
            profiles_dir,
            screenshots_dir,
            stores,
            checkout: BTreeMap::new(),
            step_timeout: DEFAULT_STEP_TIMEOUT,
            launch_timeout: DEFAULT_LAUNCH_TIMEOUT,
        }
    }

    fn store(&self, store: &str) -> Result<Arc<StoreDef>, PurchaseError> {
        self.stores
            .get(store)
            .ok_or_else(|| PurchaseError::UnknownStore(store.to_string()))
    }
}

/// The one way to get a real purchaser: an unknown store or a missing
/// browser is reported here, before any order is touched. Nothing is
/// launched until the purchaser is used.
pub fn factory(
    settings: &BrowserSettings,
    store: &str,
) -> Result<Box<dyn Purchaser>, PurchaseError> {
    let def = settings.store(store)?;
    browser::find_chrome(settings.chrome.as_deref())?;
    Ok(Box::new(BrowserPurchaser {
        settings: Arc::new(settings.clone()),
        store: def,
    }))
}

/// [`factory`] behind the engine's [`PurchaserFactory`] trait.
#[derive(Debug, Clone)]
pub struct BrowserFactory {
    pub settings: Arc<BrowserSettings>,
}

impl BrowserFactory {
    pub fn new(settings: Arc<BrowserSettings>) -> BrowserFactory {
        BrowserFactory { settings }
    }

    pub fn settings(&self) -> &BrowserSettings {
        &self.settings
    }
}

impl PurchaserFactory for BrowserFactory {
    fn purchaser(&self, store: &str) -> Result<Box<dyn Purchaser>, PurchaseError> {
        factory(&self.settings, store)
    }
}

/// Drives one store through Chromium. Each call launches a browser on the
/// store's profile and closes it before returning; dropping the call's
/// future kills it.
struct BrowserPurchaser {
    settings: Arc<BrowserSettings>,
    store: Arc<StoreDef>,
}

#[async_trait]
impl Purchaser for BrowserPurchaser {
    async fn buy(&mut self, req: &BuyRequest, progress: &dyn BuyProgress) -> Outcome {
        if req.store != self.store.name {
            return Outcome::failed(
                format!(
                    "a purchaser for store `{}` was handed an order for `{}`",
                    self.store.name, req.store
                ),
                false,
            );
        }
        buy::buy(&self.settings, &self.store, req, progress).await
    }

    async fn check_session(&mut self) -> SessionCheck {
        session::check_session(&self.settings, &self.store).await
    }

    async fn order_history(&mut self) -> OrderHistory {
        verify::order_history(&self.settings, &self.store).await
    }
}

/// `restock login`: a visible browser on the store's sign-in page until the
/// store shows the signed-in marker (`SignedIn`) or `cancel` (Ctrl-C)
/// fires (`SignedOut`). Needs a display.
pub async fn login(
    settings: &BrowserSettings,
    store: &str,
    cancel: impl Future<Output = ()>,
) -> Result<SessionState, PurchaseError> {
    signin::login(settings, &*settings.store(store)?, cancel).await
}

/// Saves the rendered HTML and a screenshot of `url` (or a path on the
/// store) as the store's profile sees it, into `out_dir`.
pub async fn dump_dom(
    settings: &BrowserSettings,
    store: &str,
    url: &str,
    out_dir: &Path,
) -> Result<DomDump, PurchaseError> {
    dump_dom::dump_dom(settings, &*settings.store(store)?, url, out_dir).await
}

/// Signs the store profile in by filling the definition's `signin_form`
/// (the demo store, tests); returns what the store shows afterwards.
pub async fn sign_in_with_form(
    settings: &BrowserSettings,
    store: &str,
    email: &str,
    password: &str,
) -> Result<SessionState, PurchaseError> {
    signin::sign_in_with_form(settings, &*settings.store(store)?, email, password).await
}

/// Browser settings from the owner's config: the built-in `demo` store plus
/// every definition in `RESTOCK_STORES_DIR` (the default directory may be
/// missing; an explicitly set one must exist), with `RESTOCK_STORE_URLS`
/// overrides applied.
pub fn settings_from_config(
    config: &crate::config::Config,
) -> Result<BrowserSettings, store::StoreError> {
    let dir = config.stores_dir();
    let dir = (config.stores_dir.is_some() || dir.is_dir()).then_some(dir);
    let base_urls = config
        .store_urls
        .iter()
        .filter_map(|(name, url)| Url::parse(url).ok().map(|u| (name.clone(), u)))
        .collect();
    let stores = StoreRegistry::load(dir.as_deref(), &base_urls).map_err(|e| match e {
        store::StoreError::Read { path, source } if Some(&path) == dir.as_ref() => {
            store::StoreError::Read {
                path: std::path::PathBuf::from(format!("RESTOCK_STORES_DIR {}", path.display())),
                source,
            }
        }
        other => other,
    })?;
    Ok(BrowserSettings {
        chrome: config.chrome.clone(),
        headless: config.headless,
        profiles_dir: config.profiles_dir(),
        screenshots_dir: config.screenshots_dir(),
        stores: Arc::new(stores),
        checkout: config.checkout.clone(),
        step_timeout: config.step_timeout,
        launch_timeout: DEFAULT_LAUNCH_TIMEOUT,
    })
}
