//! The "spa" layout, mounted at `/spa/`: the same shop (catalog, sessions,
//! ledger, faults, options) as a single-page app, the shape of most modern
//! shops. Every `/spa/...` URL answers the same HTML shell; a small
//! vanilla-JS router (`app.js`, served from here, no framework, no CDN)
//! renders each page from a JSON API under `/spa/api/` and moves between
//! pages with `history.pushState`, so a whole walk from the first visit to
//! the confirmation is one document load. A purchaser that waits for page
//! loads, or trusts that a click was a navigation, fails here.
//!
//! The real-shop shapes it has, and why:
//! - **Session cookie set by script**: sign-in posts JSON, the API answers
//!   a token, and the page sets `spa_sid=...; expires=...; path=/` itself
//!   (no `HttpOnly`), expiring after the store's session TTL; the server
//!   forgets the session after the same TTL.
//! - **Cart in `localStorage`** (`spa_cart`): the server learns the cart
//!   only when checkout posts it. Emptying the cart clears it in place.
//!   (So `/admin/reset` and `/admin/carts/add` do not reach spa carts.)
//! - **Cookie-consent wall** on a first visit (no `consent` cookie): a
//!   fixed overlay over the whole viewport, so a real click at the centre
//!   of any button lands on the banner until Accept sets the cookie.
//! - **Protection-plan interstitial** between cart and checkout (option
//!   `interstitial`): decline it; accepting adds a €4.99 plan to the order.
//! - **Address form** with a country `<select>` that starts unchosen and
//!   client-side validation that shows an error next to the field and does
//!   not advance. The address is remembered server-side for the session,
//!   so later checkouts skip the form.
//! - **Shipping-method page** only when there is a choice (option
//!   `shipping_choice`), **payment page** always, a **review** whose total
//!   reads `Total (2 items): €32.39, incl. €5.17 tax`, and a
//!   **confirmation with no order number** — the number is only in the
//!   order history.
//! - Faults reach it through the API: block and challenge pages (global,
//!   or scoped to the product) are rendered into the page in place; hangs
//!   leave the page waiting on its request.
//!
//! Stable ids and classes (`#spa-main` is re-rendered on every page, so a
//! marker of one page is gone when the next renders; `#spa-loading` shows
//! while a page waits for the API):
//! - header `#spa-header`: `#spa-home-link`, `#spa-cart-link` with
//!   `#spa-cart-count`; signed in `#spa-who` (the email), `#spa-orders-link`,
//!   `#spa-signout`; signed out `#spa-signin-link`
//! - signed out on account, cart, orders, checkout: `#spa-signin-prompt`
//! - home `/spa/`: `#spa-products` of `a.spa-product-link`
//! - product `/spa/product/{sku}`: `#spa-product-title`, `#spa-price`
//!   (`data-price`), `script#spa-jsonld` (JSON-LD), `#spa-in-stock` /
//!   `#spa-out-of-stock`, `#spa-add-form`, `#spa-pack` (pack size, products
//!   with sizes; re-renders with `?pack=`), `#spa-qty`, `#spa-add`,
//!   `#spa-toast` ("Added to cart"), `#spa-add-error`
//! - sign-in `/spa/signin`: `#spa-signin-form`, `#spa-email`,
//!   `#spa-password`, `#spa-signin-submit`, `#spa-signin-error`
//! - account `/spa/account`: `#spa-account`, `#spa-account-email`
//! - cart `/spa/cart`: `#spa-cart-items` of `li.spa-cart-item` (`data-sku`,
//!   `data-pack`, `data-qty`), `#spa-cart-empty`, `#spa-empty-cart`,
//!   `#spa-checkout`
//! - cookie banner: `#cookie-banner`, `#cookie-accept`
//! - interstitial `/spa/checkout/protection`: `#protection-offer`,
//!   `#protection-decline`, `#protection-accept`
//! - address `/spa/checkout/address`: `#spa-address-form`, `#spa-ship-name`,
//!   `#spa-ship-address`, `#spa-ship-postal`, `#spa-ship-country`,
//!   `#spa-address-continue`; errors `.field-error` (`#spa-error-name`,
//!   `#spa-error-address`, `#spa-error-postal`, `#spa-error-country`)
//! - shipping `/spa/checkout/shipping`: `#spa-shipping-form`, radios
//!   `input[name=shipping-method]` (`#ship-standard`, `#ship-express`),
//!   `#shipping-continue`
//! - payment `/spa/checkout/payment`: `#spa-payment-form`, `#spa-saved-card`,
//!   `#payment-continue`
//! - review `/spa/checkout/review`: `#spa-review-items` of
//!   `li.spa-review-item`, `#spa-ship-to`, `#spa-shipping-method`,
//!   `#spa-total`, `#spa-place-order`
//! - confirmation `/spa/confirmation`: `#spa-confirmation`; under the
//!   `hide_confirmation` fault `#spa-order-problem` instead
//! - orders `/spa/orders`: `#spa-orders` of `li.order-row` (`data-order`)
//!   with `.order-id`, `.order-date`, `.order-total`, `ul.order-items` of
//!   `li.order-item`; `#spa-orders-empty`
//! - not found: `#spa-not-found`; other errors `#spa-error`
//!
//! The API is described in `api.rs`.

mod api;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use super::catalog;
use super::flow::fault_page;
use super::state::Store;

pub use api::SESSION_COOKIE;

/// The client-side router and pages.
const APP_JS: &str = include_str!("app.js");
/// The stylesheet, cookie banner included.
const APP_CSS: &str = include_str!("app.css");

/// The one document every page of the spa is.
const SHELL: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Spa Shop</title><link rel=\"stylesheet\" href=\"/spa/assets/app.css\"></head>\n<body>\n\
<header id=\"spa-header\"><a id=\"spa-home-link\" href=\"/spa/\">Spa Shop</a></header>\n\
<main id=\"spa-main\"><div id=\"spa-loading\">Loading…</div></main>\n\
<script src=\"/spa/assets/app.js\"></script>\n</body></html>\n";

/// The spa's routes: shell, assets and API.
pub fn routes() -> Router<Arc<Store>> {
    Router::new()
        .route("/spa", get(|| async { Redirect::permanent("/spa/") }))
        .route("/spa/", get(shell))
        .route("/spa/{*path}", get(shell))
        .route("/spa/product/{sku}", get(product_shell))
        .route("/spa/assets/app.js", get(app_js))
        .route("/spa/assets/app.css", get(app_css))
        .merge(api::routes())
}

async fn shell() -> Html<&'static str> {
    Html(SHELL)
}

/// A product URL loaded directly: the "CDN" blocks or challenges it when
/// that product is, as it does by URL on real sites.
async fn product_shell(State(store): State<Arc<Store>>, Path(sku): Path<String>) -> Response {
    let blocked = catalog::product(&sku).and_then(|p| fault_page(&store.faults().for_sku(p.sku)));
    match blocked {
        Some(page) => page,
        None => Html(SHELL).into_response(),
    }
}

async fn app_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        APP_JS,
    )
        .into_response()
}

async fn app_css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS).into_response()
}

#[cfg(test)]
mod tests {
    use super::api::STEPS;
    use super::*;

    #[test]
    fn the_client_router_has_a_page_for_every_checkout_step() {
        for step in STEPS {
            let pattern = format!("/^{}$/", step.path.replace('/', "\\/"));
            assert!(APP_JS.contains(&pattern), "app.js has no route {pattern}");
        }
    }

    #[test]
    fn the_shell_loads_the_app_from_the_store_itself() {
        assert!(SHELL.contains("<script src=\"/spa/assets/app.js\"></script>"));
        assert!(SHELL.contains("href=\"/spa/assets/app.css\""));
        assert!(!SHELL.contains("://"), "no CDN");
    }
}
