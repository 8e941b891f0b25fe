//! The sign-in routes.
//!
//! | route | who | answer |
//! |---|---|---|
//! | `GET /signin/{token}` | anyone with the address | the live page, or a page that says why not (`404` unknown, `410` used / expired / idle / replaced / cancelled); looking does not use the link |
//! | `POST /signin/{token}/claim` | the page's script | claims the link for this browser (an `HttpOnly` cookie); `410` when another browser has it |
//! | `GET /signin/{token}/ws` | the browser that claimed the link | the WebSocket the page talks over |
//! | `GET /signin-assets/page.js` | anyone | the page's script |
//! | `POST /stores/{store}/login` | the intake token (without one: this machine only) | `201` with the address; `404` unknown store, `409` a buy in progress or a page open, `503` no browser |
//! | `GET /stores/{store}/login` | the intake token | where the store's latest link stands |
//! | `DELETE /stores/{store}/login` | the intake token | ends the store's link (the page says so, its browser closes) |
//!
//! The WebSocket also checks `Origin` against `Host` (a page elsewhere
//! cannot open it from the owner's browser) and takes messages of at most
//! 64 KiB. [`public`] is what `restock login --remote`'s own server runs;
//! `serve` adds [`api`].

use crate::intake::auth;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::links::Refused;
use super::{page, SignIn};

/// The cookie that marks the browser that claimed a link.
pub const OWNER_COOKIE: &str = "restock_signin";
/// The largest message the page may send.
const MAX_MESSAGE: usize = 64 * 1024;

/// The page, its socket and its script: what a phone reaches.
pub fn public(svc: Arc<SignIn>) -> Router {
    Router::new()
        .route("/signin/{token}", get(page_route))
        .route("/signin/{token}/claim", axum::routing::post(claim_route))
        .route("/signin/{token}/ws", get(socket_route))
        .route("/signin-assets/page.js", get(|| async { page::script() }))
        .with_state(svc)
}

/// `/stores/{store}/login`, behind the intake token.
pub fn api(svc: Arc<SignIn>) -> Router {
    Router::new()
        .route(
            "/stores/{store}/login",
            get(status_route).post(mint_route).delete(cancel_route),
        )
        .route_layer(middleware::from_fn_with_state(svc.clone(), require_token))
        .with_state(svc)
}

fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn require_token(
    State(svc): State<Arc<SignIn>>,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> Response {
    match auth::check_token(svc.token.as_deref(), &headers) {
        Ok(()) => next.run(req).await,
        Err(refused) => json_error(StatusCode::UNAUTHORIZED, refused.message()),
    }
}

async fn mint_route(
    State(svc): State<Arc<SignIn>>,
    Path(store): Path<String>,
    req: Request,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if !auth::may_mint(svc.token.is_some(), peer) {
        return json_error(
            StatusCode::FORBIDDEN,
            "without RESTOCK_INTAKE_TOKEN, sign-in links are only made for callers on this machine",
        );
    }
    match svc.mint(&store).await {
        Ok(minted) => (StatusCode::CREATED, Json(minted)).into_response(),
        Err(e) => json_error(
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::CONFLICT),
            e.to_string(),
        ),
    }
}

async fn status_route(State(svc): State<Arc<SignIn>>, Path(store): Path<String>) -> Response {
    Json(svc.status(&store)).into_response()
}

async fn cancel_route(State(svc): State<Arc<SignIn>>, Path(store): Path<String>) -> Response {
    let cancelled = svc.cancel(&store);
    Json(json!({ "store": store, "cancelled": cancelled })).into_response()
}

/// The owner cookie the request carries.
fn owner_cookie(headers: &HeaderMap) -> Option<String> {
    crate::html::cookie(headers, OWNER_COOKIE)
}

fn refusal_status(refused: &Refused) -> StatusCode {
    match refused {
        Refused::Unknown => StatusCode::NOT_FOUND,
        Refused::NotOpened => StatusCode::FORBIDDEN,
        _ => StatusCode::GONE,
    }
}

async fn page_route(
    State(svc): State<Arc<SignIn>>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let cookie = owner_cookie(&headers);
    match svc.links.peek(&token, cookie.as_deref()) {
        Ok(link) => {
            let store = &link.payload.store;
            let limits = svc.limits();
            let note = format!(
                "This page drives restock's browser on your {store} profile. It works in this browser only, \
                 ends {} after the link was made or {} after your last input, and keeps nothing you type.",
                humantime::format_duration(limits.ttl),
                humantime::format_duration(limits.idle)
            );
            page::respond(StatusCode::OK, page::live(store, &note), None)
        }
        Err(refused) => refused_page(&svc, &refused),
    }
}

fn refused_page(svc: &SignIn, refused: &Refused) -> Response {
    let message = refused.explain(&svc.limits());
    page::respond(
        refusal_status(refused),
        page::refused(None, refused.state(), &message),
        None,
    )
}

/// The page's script claims the link for its browser: the owner cookie.
async fn claim_route(
    State(svc): State<Arc<SignIn>>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !auth::same_origin(&headers, &svc.base) {
        return (StatusCode::FORBIDDEN, "cross-origin claim refused").into_response();
    }
    let cookie = owner_cookie(&headers);
    match svc.links.open(&token, cookie.as_deref()) {
        Ok(opened) => {
            let link = &opened.link;
            let set_cookie = opened.new_owner.map(|owner| {
                tracing::info!(store = %link.payload.store, link = link.token().prefix(), "sign-in page opened");
                let secure = if svc.base.scheme() == "https" { "; Secure" } else { "" };
                // The path the browser sees: behind a proxy, RESTOCK_PUBLIC_URL's.
                format!(
                    "{OWNER_COOKIE}={}; Path={}signin/{token}; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
                    owner.expose(),
                    svc.base.path(),
                    svc.limits().ttl.as_secs()
                )
            });
            let mut response = Json(json!({ "claimed": true })).into_response();
            page::secure_headers(response.headers_mut());
            if let Some(c) = set_cookie.and_then(|c| c.parse().ok()) {
                response.headers_mut().insert(header::SET_COOKIE, c);
            }
            response
        }
        Err(refused) => {
            let mut response = (
                refusal_status(&refused),
                Json(json!({ "state": refused.state(), "error": refused.explain(&svc.limits()) })),
            )
                .into_response();
            page::secure_headers(response.headers_mut());
            response
        }
    }
}

async fn socket_route(
    State(svc): State<Arc<SignIn>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !auth::same_origin(&headers, &svc.base) {
        return (StatusCode::FORBIDDEN, "cross-origin WebSocket refused").into_response();
    }
    let cookie = owner_cookie(&headers);
    match svc.links.connect(&token, cookie.as_deref()) {
        Ok(link) => ws
            .max_message_size(MAX_MESSAGE)
            .max_frame_size(MAX_MESSAGE)
            .on_upgrade(move |socket| super::live::run(svc, link, socket)),
        Err(refused) => (refusal_status(&refused), refused.explain(&svc.limits())).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; restock_signin=abc; b=2".parse().unwrap(),
        );
        assert_eq!(owner_cookie(&h).as_deref(), Some("abc"));
    }
}
