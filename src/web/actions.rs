//! `POST /`: the page's buttons. Each is `act=<verb>:<argument>` with the
//! form token, and calls the code the API and the CLI call, so it refuses
//! what they refuse, in their words:
//!
//! | verb | does | same code as |
//! |---|---|---|
//! | `reorder:ITEM` | queues the item (catalog, pause, debounce) | `POST /reorder` ([`Intake::reorder`]) |
//! | `resume:` | clears the pause, wakes the engine | `POST /resume`, `restock resume` ([`Intake::resume`]) |
//! | `retry:ID` | a finished order back to the queue; never one that reached Place Order | `restock retry` ([`Db::retry`]) |
//! | `cancel:ID` | cancels a pending order | `restock cancel` ([`Db::cancel`]) |
//! | `signin:STORE` | makes a one-time sign-in link and goes there | `POST /stores/{store}/login` ([`SignIn::mint`], [`auth::may_mint`]) |
//! | `verify:ID` | checks the store's order history (refused at once while the store's profile is in use) | `restock verify` |
//! | `signout:` | ends this browser's session | |
//!
//! Retry and cancel also wake the engine (the CLI cannot; the server's poll
//! finds its rows).
//!
//! Before any of them: the browser must be signed in (or send the token),
//! the request must come from restock's own page (`Origin`), and the form
//! token must be this session's. Those refusals are answered at once
//! (`401`, `403`) and change nothing.
//!
//! Answers: a form posted by the page's script (`Accept:
//! application/json`) gets `{"ok", "message", "redirect"}` with the
//! status the API would give; a plain form gets `303` back to the page
//! (or to the sign-in page), the message carried in a short-lived cookie
//! the page shows once.
//!
//! [`Intake::reorder`]: crate::intake::Intake::reorder
//! [`Intake::resume`]: crate::intake::Intake::resume
//! [`Db::retry`]: crate::db::Db::retry
//! [`Db::cancel`]: crate::db::Db::cancel
//! [`SignIn::mint`]: crate::signin::SignIn::mint
//! [`auth::may_mint`]: crate::intake::auth::may_mint

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::Deserialize;
use serde_json::json;

use crate::db::{DbError, Enqueued};
use crate::intake::auth;
use crate::intake::ReorderError;

use super::{page, Viewer, Web};

/// The requester written on orders queued from the page.
pub const REQUESTER: &str = "home page";

/// The posted form.
#[derive(Debug, Deserialize)]
pub struct ActForm {
    #[serde(default)]
    act: String,
    #[serde(default)]
    csrf: String,
}

/// The peer's address, when the server was started with it.
pub struct Peer(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}

/// What an action said.
struct Said {
    code: StatusCode,
    ok: bool,
    text: String,
    /// Where the browser goes next, when not back to the page.
    redirect: Option<String>,
    /// A cookie to set (signing out).
    cookie: Option<String>,
}

impl Said {
    fn ok(code: StatusCode, text: impl Into<String>) -> Said {
        Said {
            code,
            ok: true,
            text: text.into(),
            redirect: None,
            cookie: None,
        }
    }

    fn no(code: StatusCode, text: impl Into<String>) -> Said {
        Said {
            ok: false,
            ..Said::ok(code, text)
        }
    }
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// A refusal before anything was done: `code` with a page or JSON.
pub(super) fn refuse(headers: &HeaderMap, code: StatusCode, text: &str) -> Response {
    let mut response = if wants_json(headers) {
        (
            code,
            Json(
                json!({ "ok": false, "message": text, "signin": code == StatusCode::UNAUTHORIZED }),
            ),
        )
            .into_response()
    } else {
        let mut r = (code, page::message("restock: refused", text)).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        r
    };
    super::page_headers(response.headers_mut(), Some(None));
    response
}

pub async fn act(
    State(web): State<Arc<Web>>,
    Peer(peer): Peer,
    headers: HeaderMap,
    form: Result<Form<ActForm>, FormRejection>,
) -> Response {
    let viewer = match web.viewer(&headers) {
        Ok(v) => v,
        Err(denied) => {
            return refuse(&headers, denied.status(), &denied.explain());
        }
    };
    if !web.from_own_page(&headers) {
        tracing::warn!("home page: a form from another site was refused");
        return refuse(
            &headers,
            StatusCode::FORBIDDEN,
            "refused: this form did not come from restock's own page",
        );
    }
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return refuse(
                &headers,
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "refused: a form larger than {} bytes",
                    crate::intake::BODY_LIMIT
                ),
            );
        }
        Err(_) => {
            return refuse(
                &headers,
                StatusCode::BAD_REQUEST,
                "refused: send the page's form (act and csrf, form-encoded)",
            );
        }
    };
    let session = match &viewer {
        Viewer::Session(s) => Some(s),
        _ => None,
    };
    if !matches!(viewer, Viewer::Token) && !web.sessions.is_form_token(session, &form.csrf) {
        tracing::warn!(
            act = form.act.split(':').next().unwrap_or(""),
            "home page: a form without this browser's form token was refused"
        );
        return refuse(
            &headers,
            StatusCode::FORBIDDEN,
            "refused: the form token is missing or out of date (the page is from before a restart, or the form came from elsewhere); reload the page and try again",
        );
    }
    let (verb, arg) = form.act.split_once(':').unwrap_or((form.act.as_str(), ""));
    let said = match verb {
        "reorder" => reorder(&web, arg).await,
        "resume" => resume(&web).await,
        "retry" => change_order(&web, arg, OrderChange::Retry).await,
        "cancel" => change_order(&web, arg, OrderChange::Cancel).await,
        "signin" => signin(&web, arg, peer).await,
        "verify" => verify(&web, arg).await,
        "signout" => signout(&web, &headers),
        _ => Said::no(StatusCode::BAD_REQUEST, format!("unknown action `{verb}`")),
    };
    tracing::info!(
        action = verb,
        ok = said.ok,
        status = said.code.as_u16(),
        "home page action"
    );
    answer(&web, &headers, said)
}

fn answer(web: &Web, headers: &HeaderMap, said: Said) -> Response {
    let mut response = if wants_json(headers) {
        (
            said.code,
            Json(json!({ "ok": said.ok, "message": said.text, "redirect": said.redirect })),
        )
            .into_response()
    } else {
        let to = said.redirect.clone().unwrap_or_else(|| "./".into());
        let mut r = (StatusCode::SEE_OTHER, "").into_response();
        if let Ok(v) = HeaderValue::from_str(&to) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        if said.redirect.is_none() {
            let (path, secure) = web.cookie_scope(headers);
            let notice = super::notice_cookie(said.ok, &said.text, &path, secure);
            if let Ok(v) = HeaderValue::from_str(&notice) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        r
    };
    if let Some(c) = said.cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    super::page_headers(response.headers_mut(), None);
    response
}

/// The words and status for a database refusal, as the API and CLI say it.
fn db_said(e: DbError) -> Said {
    match e {
        DbError::NotFound(_) => Said::no(StatusCode::NOT_FOUND, e.to_string()),
        DbError::Refused(m) => Said::no(StatusCode::CONFLICT, m),
        e if e.is_unwritable() => Said::no(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the database cannot take writes right now ({e}); nothing changed, try again"),
        ),
        e => {
            tracing::error!(error = %e, "home page database error");
            Said::no(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
    }
}

fn order_id(arg: &str) -> Result<i64, Said> {
    arg.parse().map_err(|_| {
        Said::no(
            StatusCode::BAD_REQUEST,
            format!("`{arg}` is not an order number"),
        )
    })
}

async fn reorder(web: &Web, item: &str) -> Said {
    let name = crate::catalog::current(&web.intake.catalog)
        .get(item)
        .map(|i| i.name.clone())
        .unwrap_or_else(|| item.to_string());
    match web.intake.reorder(item, Some(REQUESTER)).await {
        Ok(Enqueued::Queued { id }) => Said::ok(
            StatusCode::ACCEPTED,
            format!("queued order {id} for {name}"),
        ),
        Ok(Enqueued::Debounced { reason, .. }) => {
            Said::no(StatusCode::OK, format!("{name} not queued: {reason}"))
        }
        Ok(Enqueued::Paused { reason }) => Said::no(
            StatusCode::OK,
            format!("{name} not queued: engine paused: {reason}"),
        ),
        Err(ReorderError::Db(e)) => db_said(e),
        Err(e @ ReorderError::UnknownItem(_)) => Said::no(StatusCode::NOT_FOUND, e.to_string()),
        Err(e @ ReorderError::RequesterTooLong) => Said::no(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn resume(web: &Web) -> Said {
    match web.intake.resume().await {
        Ok(Some(p)) => Said::ok(
            StatusCode::OK,
            format!("resumed (was paused: {})", p.reason),
        ),
        Ok(None) => Said::ok(StatusCode::OK, "not paused; nothing to do"),
        Err(e) => db_said(e),
    }
}

/// Retry and Cancel: one order, one database change, the engine woken to
/// see it.
#[derive(Clone, Copy)]
enum OrderChange {
    Retry,
    Cancel,
}

async fn change_order(web: &Web, arg: &str, change: OrderChange) -> Said {
    let id = match order_id(arg) {
        Ok(id) => id,
        Err(said) => return said,
    };
    let (changed, done) = match change {
        OrderChange::Retry => (web.intake.db.retry(id).await, "is pending again"),
        OrderChange::Cancel => (web.intake.db.cancel(id).await, "cancelled"),
    };
    match changed {
        Ok(o) => {
            web.intake.handle.wake();
            Said::ok(
                StatusCode::OK,
                format!("order {} ({}) {done}", o.id, o.item),
            )
        }
        Err(e) => db_said(e),
    }
}

async fn signin(web: &Web, store: &str, peer: Option<SocketAddr>) -> Said {
    let Some(svc) = &web.signin else {
        return Said::no(
            StatusCode::SERVICE_UNAVAILABLE,
            "sign-in pages need the real browser, which this server does not run",
        );
    };
    if !auth::may_mint(web.sessions.needs_sign_in(), peer) {
        return Said::no(
            StatusCode::FORBIDDEN,
            "without RESTOCK_INTAKE_TOKEN, sign-in links are only made for callers on this machine",
        );
    }
    match svc.mint(store).await {
        Ok(minted) => Said {
            redirect: Some(minted.url),
            ..Said::ok(
                StatusCode::CREATED,
                format!("opening the sign-in page for {store}"),
            )
        },
        Err(e) => Said::no(
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::CONFLICT),
            e.to_string(),
        ),
    }
}

async fn verify(web: &Web, arg: &str) -> Said {
    let id = match order_id(arg) {
        Ok(id) => id,
        Err(said) => return said,
    };
    // A server without a verifier (tests that build the page alone) shows
    // no Verify button, and a posted one is refused.
    let Some(check) = &web.verify else {
        return Said::no(
            StatusCode::NOT_IMPLEMENTED,
            "verifying an order from the store's order history is not available in this version; check the store's order history, then Resume",
        );
    };
    match check(id).await {
        Ok(text) => {
            web.intake.handle.wake();
            Said::ok(StatusCode::OK, text)
        }
        Err(text) => Said::no(StatusCode::CONFLICT, text),
    }
}

fn signout(web: &Web, headers: &HeaderMap) -> Said {
    let (path, secure) = web.cookie_scope(headers);
    Said {
        cookie: Some(web.sessions.clear_cookie(&path, secure)),
        ..Said::ok(StatusCode::OK, "signed out")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_get_json_and_forms_get_a_page() {
        let mut h = HeaderMap::new();
        assert!(!wants_json(&h));
        h.insert(header::ACCEPT, "application/json".parse().unwrap());
        assert!(wants_json(&h));
        assert!(order_id("12").is_ok());
        assert_eq!(
            order_id("1; drop").err().unwrap().code,
            StatusCode::BAD_REQUEST
        );
    }
}
