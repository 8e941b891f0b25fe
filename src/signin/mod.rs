//! Signing a store profile in from anywhere: a live sign-in page served by
//! restock itself, the same page for bot challenges, and cookie import.
//!
//! restock runs where services run (a NixOS box, a Pi, a container), with
//! no display. `restock login STORE --remote` (the default without
//! `DISPLAY`/`WAYLAND_DISPLAY`) and `POST /stores/{store}/login` make a
//! one-time address on restock's own HTTP server; opening it on a phone
//! shows the store's page running in headless Chromium on the store's
//! profile, and the phone's taps and typing drive it.
//!
//! One file per job:
//! - [`links`]: the one-time links (128-bit secrets, single use, absolute
//!   and idle expiry, one at a time), generic and reusable;
//! - the token and "on this machine" rules, and the refusal to serve an
//!   address other machines reach without a token, are the intake's
//!   (`crate::intake::auth`); who uses which profile is the purchaser's
//!   (`crate::purchase::holds`);
//! - [`live`]: the browser behind an opened link: screencast out, input in,
//!   the store's markers watched, the result checked by a fresh probe;
//! - [`input`]: the page's messages and the `Input.*` commands they become;
//! - [`page`] (`page.html`, `page.js`): the page itself, plain HTML and
//!   JavaScript, no framework, no CDN;
//! - [`routes`]: the axum routes;
//! - [`cookies`]: `restock login STORE --cookies FILE`;
//! - [`command`]: the `restock login` command's remote and cookie modes;
//! - [`stopped`]: where a live session starts (where a buy stopped);
//! - [`notify`]: fresh links in signed-out and challenge notifications.
//!
//! Decisions worth knowing:
//! - **The browser starts when the page connects, not when the link is
//!   made.** A link in a notification costs nothing until it is opened;
//!   the profile is held only while someone is at the page.
//! - **Success is the store's signed-in marker**, seen on the live tab.
//!   The browser is then closed cleanly (Chromium writes cookies lazily)
//!   and a *fresh* probe on the saved profile must say signed in before
//!   the page says "signed in: profile saved", the signed-out state is
//!   cleared and the owner is told.
//! - **A disconnect closes the browser but keeps the link** for the phone
//!   that opened it (its cookie): a reload or a dropped mobile connection
//!   starts a new browser on the same profile. The idle limit still runs,
//!   so an abandoned link ends on its own.
//! - **Nothing typed or shown is kept.** Frames go from Chromium to the
//!   socket and are acknowledged; typed text goes from the socket to
//!   Chromium. Neither is logged, stored or kept after it is passed on;
//!   log lines carry the store, a 6-digit link prefix and counts.
//! - **One link, so one live session, at a time**, process-wide: a new
//!   link replaces one nobody opened yet and is refused while one is open;
//!   a buy in progress on the store refuses a new link; a live session
//!   keeps buys and the probe off its profile ([`holds`]).
//! - **Reuse.** [`links`] (generic over what a link is for), [`auth`] and
//!   [`page::secure_headers`] are what a later page for the household
//!   (`GET /`) needs: mint a link with the token, let one browser claim it,
//!   expire it, and serve it with the same headers.

pub mod cookies;
pub mod input;
pub mod links;
mod live;
pub mod notify;
pub mod page;
pub mod routes;
pub mod stopped;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::Config;
use crate::db::Db;
use crate::engine::Handle;
use crate::notify::Notifier;
use crate::purchase::BrowserSettings;

use crate::intake::auth;
pub use crate::purchase::{Hold, Holder, ProfileHolds};
pub use links::{End, Limits, Refused, Secret};

/// What a link is for: a store, and the page its live session opens first.
#[derive(Debug, Clone)]
pub struct Target {
    pub store: String,
    pub start: Url,
    /// Why it starts there ("where the buy stopped: a bot challenge").
    pub why: Option<String>,
}

/// A link just made.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Minted {
    pub store: String,
    /// The whole address: a secret for whoever asked, never logged.
    pub url: String,
    /// `true` when the address is `RESTOCK_PUBLIC_URL`'s; else the listen
    /// address, which other devices may not reach.
    pub public: bool,
    pub expires_in_s: u64,
    pub idle_after_s: u64,
    /// Where the live session starts, and why there.
    pub start: String,
    pub why: Option<String>,
}

/// Why no link was made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    #[error("store `{0}` is not defined; add a store definition file or fix the name")]
    UnknownStore(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("a buy is in progress on `{store}` (order {order_id}); ask again when it is done")]
    BuyInProgress { store: String, order_id: i64 },
    #[error("a sign-in page for `{store}` is open right now (it ends within {remaining}); finish it there, or wait for it to end")]
    Busy { store: String, remaining: String },
}

impl MintError {
    /// The HTTP status for this refusal.
    pub fn status(&self) -> u16 {
        match self {
            MintError::UnknownStore(_) => 404,
            MintError::Unavailable(_) => 503,
            MintError::BuyInProgress { .. } | MintError::Busy { .. } => 409,
        }
    }
}

/// The sign-in service: links, the live session behind the open one, and
/// what it needs to check and report the result. One per process.
pub struct SignIn {
    links: links::OneTimeLinks<Target>,
    browser: Option<Arc<BrowserSettings>>,
    holds: Arc<ProfileHolds>,
    db: Option<Db>,
    notifier: Notifier,
    engine: Option<Arc<Handle>>,
    token: Option<Arc<str>>,
    /// `RESTOCK_PUBLIC_URL`, else `http://<listen>`; ends with `/`.
    base: Url,
    public: bool,
    shutdown: CancellationToken,
    /// The last link per store, to answer "how did it end".
    recent: Mutex<HashMap<String, Arc<links::Link<Target>>>>,
    /// What the live session is doing (`starting`, `live`, `verifying`).
    live_state: Mutex<Option<(String, &'static str)>>,
    /// The page connection being served; a newer one replaces it.
    conn: Mutex<Option<CancellationToken>>,
    /// Held by the live session for its whole life: one browser at a time,
    /// and [`SignIn::shutdown`] waits on it.
    slot: tokio::sync::Mutex<()>,
    sends: Mutex<Vec<tokio::task::JoinHandle<Vec<crate::notify::Delivery>>>>,
}

impl SignIn {
    /// The link that is live now, if any (the login command follows it).
    pub fn current_link(&self) -> Option<std::sync::Arc<links::Link<Target>>> {
        self.links.current()
    }
    /// The service for a server listening on `listen` (the bound address).
    /// `browser` is `None` when there is no real browser (tests with a
    /// scripted purchaser): links are then refused.
    pub fn new(
        config: &Config,
        listen: SocketAddr,
        browser: Option<Arc<BrowserSettings>>,
        holds: Arc<ProfileHolds>,
        notifier: Notifier,
    ) -> SignIn {
        let (base, public) = match config.public_url.as_ref().map(|u| u.url().clone()) {
            Some(url) => (with_slash(url), true),
            None => {
                let local = auth::local_address(listen);
                (
                    Url::parse(&format!("http://{local}/"))
                        .expect("a socket address is a URL host"),
                    false,
                )
            }
        };
        SignIn {
            links: links::OneTimeLinks::new(Limits {
                ttl: config.signin_link_ttl,
                idle: config.signin_idle,
            }),
            browser,
            holds,
            db: None,
            notifier,
            engine: None,
            token: config.intake_token.as_deref().map(Arc::from),
            base,
            public,
            shutdown: CancellationToken::new(),
            recent: Mutex::new(HashMap::new()),
            live_state: Mutex::new(None),
            conn: Mutex::new(None),
            slot: tokio::sync::Mutex::new(()),
            sends: Mutex::new(Vec::new()),
        }
    }

    /// The database, for where a buy stopped and the session state.
    pub fn with_queue(mut self, db: Db) -> SignIn {
        self.db = Some(db);
        self
    }

    /// The engine to wake after a sign-in (orders may be waiting).
    pub fn with_engine(mut self, handle: Arc<Handle>) -> SignIn {
        self.engine = Some(handle);
        self
    }

    pub fn holds(&self) -> &Arc<ProfileHolds> {
        &self.holds
    }

    pub fn limits(&self) -> Limits {
        self.links.limits()
    }

    /// `RESTOCK_PUBLIC_URL` is set (links in notifications make sense).
    pub fn is_public(&self) -> bool {
        self.public
    }

    /// A new one-time link for `store` (see [`links`] for the rules).
    pub async fn mint(self: &Arc<Self>, store: &str) -> Result<Minted, MintError> {
        let Some(browser) = &self.browser else {
            return Err(MintError::Unavailable(
                "sign-in pages need the real browser, which this server does not run".into(),
            ));
        };
        let def = browser
            .stores
            .get(store)
            .ok_or_else(|| MintError::UnknownStore(store.to_string()))?;
        if let Some(Holder::Buy { order_id }) = self.holds.holder(store) {
            return Err(MintError::BuyInProgress {
                store: store.to_string(),
                order_id,
            });
        }
        let (start, why) = stopped::start_url(self.db.as_ref(), &def).await;
        let target = Target {
            store: store.to_string(),
            start: start.clone(),
            why: why.clone(),
        };
        let link = self.links.mint(target).map_err(|e| match e {
            links::MintRefused::Busy { remaining } => MintError::Busy {
                store: self
                    .links
                    .current()
                    .map(|l| l.payload.store.clone())
                    .unwrap_or_default(),
                remaining: humantime::format_duration(Duration::from_secs(remaining.as_secs()))
                    .to_string(),
            },
        })?;
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(store.to_string(), Arc::clone(&link));
        self.watch_expiry(Arc::clone(&link));
        tracing::info!(store, link = link.token().prefix(), start = %start, "sign-in link made");
        let limits = self.links.limits();
        Ok(Minted {
            store: store.to_string(),
            url: self.address(link.token()),
            public: self.public,
            expires_in_s: limits.ttl.as_secs(),
            idle_after_s: limits.idle.as_secs(),
            start: start.to_string(),
            why,
        })
    }

    /// The address of a link.
    fn address(&self, token: &Secret) -> String {
        self.base
            .join(&format!("signin/{}", token.expose()))
            .map(String::from)
            .unwrap_or_default()
    }

    /// Ends `link` when a limit passes (or the service shuts down).
    fn watch_expiry(self: &Arc<Self>, link: Arc<links::Link<Target>>) {
        let me = Arc::downgrade(self);
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            loop {
                // At most a second: opening a link brings its idle limit
                // in, which may come before the deadline slept towards.
                let deadline = link
                    .deadline()
                    .min(tokio::time::Instant::now() + Duration::from_secs(1));
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => {}
                    _ = link.cancel.cancelled() => return,
                    _ = shutdown.cancelled() => return,
                }
                let Some(svc) = me.upgrade() else { return };
                if let Some(current) = svc.links.current().filter(|c| Arc::ptr_eq(c, &link)) {
                    if let Some(end) = svc.links.expire_due() {
                        tracing::info!(store = %current.payload.store, link = current.token().prefix(), how = end.state(), "sign-in link ended");
                        return;
                    }
                } else {
                    return;
                }
            }
        });
    }

    /// Ends the current link, if it is for `store`; returns whether one was.
    pub fn cancel(&self, store: &str) -> bool {
        match self.links.current().filter(|l| l.payload.store == store) {
            Some(link) => {
                tracing::info!(
                    store,
                    link = link.token().prefix(),
                    "sign-in link cancelled"
                );
                self.links.end(&link, End::Cancelled)
            }
            None => false,
        }
    }

    /// Where `store`'s latest link stands: `none`, `waiting` (not opened),
    /// `open`, `starting`, `live`, `verifying`, or how it ended
    /// (`signed_in`, `failed`, `expired`, `idle`, `replaced`, `cancelled`).
    pub fn status(&self, store: &str) -> Status {
        let link = self
            .recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(store)
            .cloned();
        let Some(link) = link else {
            return Status {
                store: store.to_string(),
                state: "none".into(),
                detail: None,
                expires_in_s: None,
            };
        };
        let expires_in_s = Some(
            link.expires
                .saturating_duration_since(tokio::time::Instant::now())
                .as_secs(),
        );
        let (state, detail) = match link.ended() {
            Some(End::Failed(why)) => ("failed".to_string(), Some(why)),
            Some(end) => (end.state().to_string(), None),
            None if link.is_open() => {
                let live = self.live_state.lock().unwrap_or_else(|e| e.into_inner());
                match &*live {
                    Some((s, state)) if s == store => (state.to_string(), None),
                    _ => ("open".to_string(), None),
                }
            }
            None => ("waiting".to_string(), None),
        };
        let ended = link.ended().is_some();
        Status {
            store: store.to_string(),
            state,
            detail,
            expires_in_s: expires_in_s.filter(|_| !ended),
        }
    }

    /// Ends every link and waits (bounded) for the live session's browser
    /// to close. For server shutdown.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        if let Some(link) = self.links.current() {
            self.links.end(&link, End::Cancelled);
        }
        if tokio::time::timeout(Duration::from_secs(20), self.slot.lock())
            .await
            .is_err()
        {
            tracing::warn!("the live sign-in session did not end within 20s");
        }
    }

    /// After a verified sign-in: the signed-out state is cleared, the
    /// owner is told, and the engine woken (orders may be waiting).
    async fn signed_in(&self, store: &str) {
        if let Some(db) = &self.db {
            if let Err(e) = db.mark_signed_in(store).await {
                tracing::warn!(store, error = %e, "signed in, but the session state was not recorded");
            }
        }
        let msg = crate::notify::Message::new(
            "signed_in",
            format!("restock: {store} is signed in"),
            format!(
                "{store} was signed in through restock's sign-in page; the profile is saved and orders for it go through as usual."
            ),
        )
        .data("store", store.to_string());
        let send = self.notifier.send(msg);
        self.sends
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(send);
        if let Some(engine) = &self.engine {
            engine.wake();
        }
    }

    /// Waits for the notifications sent so far (a CLI before it exits).
    pub async fn flush(&self) {
        let sends: Vec<_> =
            std::mem::take(&mut *self.sends.lock().unwrap_or_else(|e| e.into_inner()));
        for send in sends {
            let _ = send.await;
        }
    }

    fn set_live_state(&self, store: &str, state: Option<&'static str>) {
        *self.live_state.lock().unwrap_or_else(|e| e.into_inner()) =
            state.map(|s| (store.to_string(), s));
    }
}

/// `GET /stores/{store}/login`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Status {
    pub store: String,
    pub state: String,
    pub detail: Option<String>,
    pub expires_in_s: Option<u64>,
}

impl Status {
    /// Nothing more will happen to this link.
    pub fn is_final(&self) -> bool {
        matches!(
            self.state.as_str(),
            "none" | "signed_in" | "failed" | "expired" | "idle" | "replaced" | "cancelled"
        )
    }
}

/// Headless Chromium on `store`'s profile (a live session, a cookie
/// import): always headless, whatever `RESTOCK_HEADLESS` says, since the
/// point is a server with no display.
async fn headless_browser(
    settings: &BrowserSettings,
    store: &str,
) -> Result<crate::purchase::browser::BrowserSession, crate::purchase::BrowserError> {
    crate::purchase::browser::open(settings, store, true).await
}

fn with_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn addresses_use_the_public_url_or_the_listen_address() {
        let mut config = Config::default();
        let listen: SocketAddr = "0.0.0.0:8723".parse().unwrap();
        let svc = SignIn::new(&config, listen, None, ProfileHolds::new(), Notifier::none());
        let s = Secret::generate();
        assert_eq!(
            svc.address(&s),
            format!("http://127.0.0.1:8723/signin/{}", s.expose())
        );
        config.public_url = Some("https://home.example/restock".parse().unwrap());
        let svc = SignIn::new(&config, listen, None, ProfileHolds::new(), Notifier::none());
        assert_eq!(
            svc.address(&s),
            format!("https://home.example/restock/signin/{}", s.expose())
        );
        let svc = Arc::new(svc);
        assert!(matches!(
            svc.mint("demo").await,
            Err(MintError::Unavailable(_))
        ));
    }
}
