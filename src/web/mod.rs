//! The home page: `GET /` in a browser, for the household and the owner.
//!
//! A small, phone-first page served by restock itself: server-rendered
//! HTML, one stylesheet and one script (compiled in, no framework, nothing
//! from elsewhere). It shows what needs a human first (a pause with its
//! reason and the order's screenshot, a signed-out store, an order to
//! review), then every catalog item with its state and a Reorder button,
//! the recent orders, each store's session with a Sign in button, and the
//! engine with its monitors. Without script every part works: forms post,
//! the page reloads every 30 s; with it, the page follows the engine's
//! event stream and refreshes in place.
//!
//! One file per job:
//! - [`page`]: the HTML, escaped as it is written;
//! - [`view`]: what the page shows, read at one moment;
//! - [`session`]: the token asked for once, the session cookie and form
//!   tokens (reusable);
//! - [`actions`]: the buttons (`POST /`), each calling the API's and CLI's
//!   own code;
//! - [`events`]: `GET /events`, the engine's events as server-sent events;
//! - [`screenshots`]: screenshots, from the screenshots directory only;
//! - `home.css`, `home.js`: the stylesheet and the script.
//!
//! | route | who | answer |
//! |---|---|---|
//! | `GET /` | a signed-in browser, or the token | the page; without a session, the page that asks for the token (`401`) |
//! | `POST /session` | anyone with the token | signs this browser in (`303` to the page with the cookie); a wrong token `401` |
//! | `POST /` | a signed-in browser with the form token | one action (see [`actions`]) |
//! | `GET /events` | a signed-in browser, or the token | the event stream (see [`events`]) |
//! | `GET /screenshots/{name}` | a signed-in browser, or the token | one screenshot (see [`screenshots`]) |
//! | `GET /assets/home.css`, `/assets/home.js` | anyone | the stylesheet and the script |
//!
//! Decisions worth knowing:
//! - **The API's rule, in a browser.** With `RESTOCK_INTAKE_TOKEN` set the
//!   page asks for the token once ([`session`]: an `HttpOnly`,
//!   `SameSite=Strict`, expiring cookie signed with a key derived from the
//!   token, so changing the token signs every browser out). The token in a
//!   header works too, as on every API route. Without a token, `serve` only
//!   listens on loopback (or the owner opted in to an open intake), and the
//!   page needs no sign-in; it then only answers a `Host` that is an IP
//!   address, `localhost` or `RESTOCK_PUBLIC_URL`'s host, so a web page
//!   whose name was rebound to 127.0.0.1 cannot read it or post to it.
//! - **Every change is a form with a token** ([`session`]'s form token,
//!   checked in constant time) from restock's own origin (`Origin`
//!   checked as the sign-in page's socket is). The page's headers forbid
//!   framing, referrers, caching, and any script or style not its own
//!   (`Content-Security-Policy`).
//! - **Same code, same refusals.** Reorder is [`Intake::reorder`] (what
//!   `POST /reorder` runs), Resume [`Intake::resume`], Retry and Cancel
//!   the CLI's [`crate::db::Db::retry`] and [`crate::db::Db::cancel`], Sign in
//!   [`crate::signin::SignIn::mint`] with the "on this machine" rule; their
//!   refusals are shown as they are worded there. Item states are `GET
//!   /items`' ([`crate::intake::ItemStates`]).
//! - **Nothing secret is rendered.** The view holds no token, no monitor or
//!   notification URL (monitor labels are redacted at the source), and no
//!   sign-in link: the Sign in button makes one when pressed and goes
//!   there. Every string from outside is escaped ([`page::Html::text`]).
//! - **2,000 items** render as one compact row each, grouped by state;
//!   a filter box (script) hides rows that do not match. The rows are the
//!   bulk of the page (about 700 KB for 2,000 items with history) and are
//!   kept while they hold, as `GET /items` keeps its answer (the same
//!   histories, catalog and item states), and at most a second, so
//!   their "3m ago" stays true without script; everything else is read
//!   and rendered per request. A fresh render of 2,000 rows takes about
//!   a millisecond (the benchmark's `page` row says what a page costs).
//! - **A link from elsewhere.** A `SameSite=Strict` cookie is not sent
//!   when a link on another site (a chat message) opens the page; such a
//!   request (`Sec-Fetch-Site: cross-site`) gets a page that reloads itself,
//!   which the browser then sends with the cookie.
//! - **Verify** on an order in `needs_review` is `restock verify ID`
//!   ([`Web::verify`]), refused at once while the store's profile is in
//!   use; a signed-in store shows when its session expires ("expires in
//!   6d", from the probe's cookie reading).

pub mod actions;
pub mod events;
pub mod page;
pub mod screenshots;
pub mod session;
pub mod view;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use futures::future::BoxFuture;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::Config;
use crate::heartbeat::Switch;
use crate::intake::auth;
use crate::intake::{Intake, ItemStates, RenderCache, Rendered};
use crate::model::now_ms;
use crate::signin::SignIn;

use session::{Session, Sessions};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "restock_home";
/// The cookie that carries an action's message back to the page once.
pub const NOTICE_COOKIE: &str = "restock_notice";

/// How long rendered item rows are kept at most (see [`Web::item_groups`]).
pub const ROWS_MAX_AGE_MS: i64 = 1000;

const CSS: &str = include_str!("home.css");
const JS: &str = include_str!("home.js");

/// Checks an order in `needs_review` against the store's order history:
/// `Ok` with what was found (the order is settled), `Err` with why not.
pub type Verify = Arc<dyn Fn(i64) -> BoxFuture<'static, Result<String, String>> + Send + Sync>;

/// What the page needs; one per server.
pub struct Web {
    pub intake: Intake,
    /// Sign-in links (the Sign in buttons); `None` hides them.
    pub signin: Option<Arc<SignIn>>,
    /// The dead-man's switch, for live monitor records; `None` reads the
    /// stored ones.
    pub monitors: Option<Switch>,
    pub sessions: Sessions,
    pub screenshots: PathBuf,
    pub dry_run: bool,
    /// `RESTOCK_PUBLIC_URL`, else `http://<listen address>/`: the origin
    /// forms must come from.
    pub base: Url,
    /// `RESTOCK_PUBLIC_URL`, when set.
    pub public: Option<Url>,
    /// Ends the event streams at shutdown.
    pub shutdown: CancellationToken,
    /// `restock verify ID`'s check (the engine's [`crate::engine::Verifier`]
    /// under a profile hold, see `server`); `None` hides the Verify button
    /// and refuses the action.
    pub verify: Option<Verify>,
    /// The item rows last rendered, while they hold.
    item_groups: RenderCache<Arc<str>>,
}

impl Web {
    /// The page for a server listening on `listen`.
    pub fn new(
        config: &Config,
        listen: SocketAddr,
        intake: Intake,
        shutdown: CancellationToken,
    ) -> Web {
        let public = config.public_url.as_ref().map(|u| u.url().clone());
        let base = public.clone().unwrap_or_else(|| {
            Url::parse(&format!("http://{}/", auth::local_address(listen)))
                .expect("a socket address is a URL host")
        });
        Web {
            sessions: Sessions::new(
                config.intake_token.as_deref(),
                SESSION_COOKIE,
                config.home_session_ttl,
            ),
            intake,
            signin: None,
            monitors: None,
            screenshots: config.screenshots_dir(),
            dry_run: config.dry_run,
            base,
            public,
            shutdown,
            verify: None,
            item_groups: RenderCache::default(),
        }
    }

    /// The item rows for `view`: kept from an earlier request while the
    /// histories, the catalog and every item's state are the same (as `GET
    /// /items` keeps its answer) and for at most [`ROWS_MAX_AGE_MS`], so
    /// their relative times ("3m ago") stay true without script.
    fn item_groups(&self, view: &view::View) -> Arc<str> {
        let now = view.now;
        if let Some(kept) = self.item_groups.get(&view.histories, &view.catalog, now) {
            return kept;
        }
        let states = ItemStates::of(
            &view.catalog,
            &view.histories,
            self.intake.debounce,
            self.intake.cooldown,
            now,
        );
        let html: Arc<str> = page::item_groups(&states, now).into();
        let until = states
            .valid_until
            .map_or(now + ROWS_MAX_AGE_MS, |t| t.min(now + ROWS_MAX_AGE_MS));
        self.item_groups.put(Rendered::new(
            Arc::clone(&view.histories),
            Arc::clone(&view.catalog),
            now,
            Some(until),
            Arc::clone(&html),
        ));
        html
    }

    /// Does a form come from restock's own page? What the browser says of
    /// where the request began (`Sec-Fetch-Site`, which no page can set),
    /// else its `Origin` (see [`auth::same_origin`]).
    pub fn from_own_page(&self, headers: &HeaderMap) -> bool {
        match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
            Some("same-origin") => true,
            Some("cross-site" | "same-site") => false,
            _ => auth::same_origin(headers, &self.base),
        }
    }

    /// Who is asking, or why they may not.
    pub fn viewer(&self, headers: &HeaderMap) -> Result<Viewer, Denied> {
        if !self.sessions.needs_sign_in() {
            return if self.host_allowed(headers) {
                Ok(Viewer::Open)
            } else {
                Err(Denied::ForeignHost)
            };
        }
        if let Some(token) = auth::presented(headers) {
            return if self.sessions.is_token(token) {
                Ok(Viewer::Token)
            } else {
                Err(Denied::WrongToken)
            };
        }
        match crate::html::cookie(headers, SESSION_COOKIE) {
            Some(value) => match self.sessions.verify(&value, now_ms()) {
                Ok(session) => Ok(Viewer::Session(session)),
                Err(_) => Err(Denied::Expired),
            },
            None => Err(Denied::SignIn),
        }
    }

    /// Without a token: an IP address, `localhost`, or the public host.
    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
            return true;
        };
        let name = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => host.rsplit_once(':').map_or(host, |(h, _)| h),
        };
        name.parse::<std::net::IpAddr>().is_ok()
            || name.eq_ignore_ascii_case("localhost")
            || self
                .public
                .as_ref()
                .and_then(|u| u.host_str())
                .is_some_and(|h| h.eq_ignore_ascii_case(name))
    }

    /// The path and `Secure` flag for this server's cookies, as the
    /// browser reached it: the public address's when it asked for that
    /// host, else `/` on plain HTTP.
    pub fn cookie_scope(&self, headers: &HeaderMap) -> (String, bool) {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        match &self.public {
            Some(u) if authority(u).eq_ignore_ascii_case(host) => {
                (u.path().to_string(), u.scheme() == "https")
            }
            _ => ("/".into(), false),
        }
    }
}

fn authority(u: &Url) -> String {
    match (u.host_str(), u.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    }
}

/// Who is looking at the page.
#[derive(Debug, Clone)]
pub enum Viewer {
    /// No token is configured.
    Open,
    /// The token in a header (a script, Home Assistant).
    Token,
    /// A browser signed in with the token.
    Session(Session),
}

/// Why a request is not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No session: sign in with the token.
    SignIn,
    /// A session cookie that no longer holds (expired, or the token changed).
    Expired,
    /// A token header that is not the token.
    WrongToken,
    /// No token configured, and a `Host` that is not this machine's.
    ForeignHost,
}

impl Denied {
    pub fn status(self) -> StatusCode {
        match self {
            Denied::ForeignHost => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    pub fn explain(self) -> String {
        match self {
            Denied::SignIn => "sign in with the intake token first".into(),
            Denied::Expired => "this browser's sign-in ended (it expired, or the token changed); sign in again".into(),
            Denied::WrongToken => auth::TokenRefused::Wrong.message().into(),
            Denied::ForeignHost => "restock answers its page only at an IP address, localhost or RESTOCK_PUBLIC_URL's host (set RESTOCK_PUBLIC_URL to the name you use)".into(),
        }
    }
}

/// The page's routes.
pub fn router(web: Arc<Web>) -> Router {
    Router::new()
        .route("/", get(home).post(actions::act))
        .route("/session", axum::routing::post(sign_in))
        .route("/events", get(event_stream))
        .route("/screenshots/{name}", get(screenshot))
        .route(
            "/assets/home.css",
            get(|| async { asset(CSS, "text/css; charset=utf-8") }),
        )
        .route(
            "/assets/home.js",
            get(|| async { asset(JS, "text/javascript; charset=utf-8") }),
        )
        .layer(DefaultBodyLimit::max(crate::intake::BODY_LIMIT))
        .with_state(web)
}

/// The page's `Content-Security-Policy`: its own script, style and images,
/// its own address to fetch and post to (and the public address, where a
/// Sign in button goes).
fn csp(public: Option<&Url>) -> String {
    let extra = public
        .map(|u| format!(" {}", u.origin().ascii_serialization()))
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
         form-action 'self'{extra}; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// The page's security headers (and its CSP when `public` is given).
/// Referrers go to restock's own pages only (`same-origin`): the page's
/// addresses hold no secret, and with `no-referrer` a browser sends
/// `Origin: null` on the page's own form posts.
fn page_headers(headers: &mut HeaderMap, public: Option<Option<&Url>>) {
    crate::signin::page::secure_headers(headers);
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if let Some(public) = public {
        if let Ok(v) = HeaderValue::from_str(&csp(public)) {
            headers.insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
}

fn html(web: &Web, code: StatusCode, body: String) -> Response {
    let mut response = (code, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    page_headers(headers, Some(web.public.as_ref()));
    response
}

fn asset(body: &'static str, mime: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    crate::signin::page::secure_headers(headers);
    response
}

/// The cookie that carries an action's message to the next page view.
fn notice_cookie(ok: bool, text: &str, path: &str, secure: bool) -> String {
    let text = crate::text::truncate(text, 300);
    let value: String =
        percent_encoding::utf8_percent_encode(&text, percent_encoding::NON_ALPHANUMERIC).collect();
    format!(
        "{NOTICE_COOKIE}={}{value}; Path={path}; Max-Age=60; HttpOnly; SameSite=Strict{}",
        if ok { "o" } else { "e" },
        if secure { "; Secure" } else { "" }
    )
}

fn read_notice(headers: &HeaderMap) -> Option<(bool, String)> {
    let raw = crate::html::cookie(headers, NOTICE_COOKIE)?;
    let ok = match raw.get(..1)? {
        "o" => true,
        "e" => false,
        _ => return None,
    };
    let text = percent_encoding::percent_decode_str(&raw[1..])
        .decode_utf8()
        .ok()?
        .into_owned();
    Some((ok, text))
}

/// A refusal of a page request by [`Denied`]: the sign-in page, or why not.
fn denied_page(web: &Web, headers: &HeaderMap, denied: Denied) -> Response {
    let cross_site =
        headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site");
    match denied {
        Denied::ForeignHost => html(
            web,
            StatusCode::FORBIDDEN,
            page::message("restock: refused", &denied.explain()),
        ),
        Denied::SignIn if cross_site => html(web, StatusCode::OK, page::reload()),
        Denied::SignIn => html(
            web,
            StatusCode::UNAUTHORIZED,
            page::sign_in(None, web.sessions.ttl()),
        ),
        _ => html(
            web,
            StatusCode::UNAUTHORIZED,
            page::sign_in(Some(&denied.explain()), web.sessions.ttl()),
        ),
    }
}

async fn home(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    let viewer = match web.viewer(&headers) {
        Ok(v) => v,
        Err(denied) => return denied_page(&web, &headers, denied),
    };
    let view = match view::View::read(&web).await {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "home page: cannot read the database");
            return html(
                &web,
                StatusCode::SERVICE_UNAVAILABLE,
                page::message(
                    "restock: database unavailable",
                    &format!("the database cannot be read right now ({e}); try again"),
                ),
            );
        }
    };
    let session = match &viewer {
        Viewer::Session(s) => Some(s),
        _ => None,
    };
    let form_token = web.sessions.form_token(session);
    let notice = read_notice(&headers);
    let item_groups = web.item_groups(&view);
    let body = page::render(&page::Page {
        view: &view,
        item_groups: &item_groups,
        form_token: &form_token,
        notice: notice.as_ref().map(|(ok, t)| (*ok, t.as_str())),
        session: session.is_some(),
        screenshots: &web.screenshots,
        signin: web.signin.is_some(),
        verify: web.verify.is_some(),
    });
    let mut response = html(&web, StatusCode::OK, body);
    if notice.is_some() {
        let (path, secure) = web.cookie_scope(&headers);
        let clear = format!(
            "{NOTICE_COOKIE}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Strict{}",
            if secure { "; Secure" } else { "" }
        );
        if let Ok(v) = HeaderValue::from_str(&clear) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    token: String,
}

/// `POST /session`: the token, once; the session cookie.
async fn sign_in(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let back = |cookie: Option<String>| {
        let mut r = (StatusCode::SEE_OTHER, "").into_response();
        r.headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static("./"));
        if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
            r.headers_mut().insert(header::SET_COOKIE, c);
        }
        page_headers(r.headers_mut(), None);
        r
    };
    if !web.sessions.needs_sign_in() {
        return back(None);
    }
    if !web.from_own_page(&headers) {
        return html(
            &web,
            StatusCode::FORBIDDEN,
            page::message(
                "restock: refused",
                "refused: this form did not come from restock's own page",
            ),
        );
    }
    let token = form.map(|Form(f)| f.token).unwrap_or_default();
    if token.is_empty() {
        return html(
            &web,
            StatusCode::UNAUTHORIZED,
            page::sign_in(Some("enter the token"), web.sessions.ttl()),
        );
    }
    if !web.sessions.is_token(&token) {
        tracing::warn!("home page: a sign-in with a wrong token was refused");
        return html(
            &web,
            StatusCode::UNAUTHORIZED,
            page::sign_in(
                Some("wrong token: it is RESTOCK_INTAKE_TOKEN, as the server has it"),
                web.sessions.ttl(),
            ),
        );
    }
    let Some((_, value)) = web.sessions.issue(now_ms()) else {
        return back(None);
    };
    let (path, secure) = web.cookie_scope(&headers);
    tracing::info!("home page: a browser signed in");
    back(Some(web.sessions.set_cookie(&value, &path, secure)))
}

async fn event_stream(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    if let Err(denied) = web.viewer(&headers) {
        return actions::refuse(&headers, denied.status(), &denied.explain());
    }
    events::respond(&web.intake.handle, web.shutdown.clone())
}

async fn screenshot(
    State(web): State<Arc<Web>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(denied) = web.viewer(&headers) {
        return actions::refuse(&headers, denied.status(), &denied.explain());
    }
    screenshots::serve(web.screenshots.clone(), name).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip_through_their_cookie() {
        let set = notice_cookie(false, "not queued: order 3 is pending; «x»", "/", false);
        let value = set.split(';').next().unwrap();
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, value.parse().unwrap());
        assert_eq!(
            read_notice(&h),
            Some((false, "not queued: order 3 is pending; «x»".into()))
        );
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
    }

    #[test]
    fn the_policy_allows_only_the_page_itself() {
        let p = csp(None);
        assert!(p.contains("script-src 'self'") && p.contains("frame-ancestors 'none'"));
        assert!(!p.contains("unsafe"));
        let u = Url::parse("https://restock.example/r/").unwrap();
        assert!(csp(Some(&u)).contains("form-action 'self' https://restock.example;"));
    }
}
