//! A bot challenge a human can solve: the demo store's "Verify you are
//! human" page.
//!
//! When a challenge fault is set (see [`super::faults`]), a store page
//! answers with this interstitial instead. It keeps what every store
//! definition looks for (`#challenge`, the title "Just a moment...") and
//! adds a button. Clicking it in a browser posts to
//! `/challenge/verify`, which sets a persistent `demo_human` cookie and
//! sends the browser back where it was; from then on the store honours
//! the cookie and shows that browser the real pages, fault or not. Other
//! browsers (and restock's own buys on other profiles) still get the
//! challenge. `POST /admin/reset` does not forget verified browsers: like
//! a real CDN's clearance cookie, it lives in the browser.
//!
//! The hook in `flow.rs` is two lines: the gate runs each request inside
//! [`scope`], and `fault_page` asks [`passed`] and renders [`page`].

use std::collections::HashMap;
use std::future::Future;

use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};

/// The clearance cookie.
pub const HUMAN_COOKIE: &str = "demo_human";
const HUMAN_VALUE: &str = "verified";
/// A month, like the session cookie: it must survive a browser restart.
const MAX_AGE_SECS: u32 = 30 * 24 * 3600;

tokio::task_local! {
    /// For the request being answered: (has the cookie, path and query).
    static REQUEST: (bool, String);
}

/// Runs `fut` (a store request) knowing whether its browser passed the
/// challenge and which page it asked for.
pub async fn scope<F: Future>(headers: &HeaderMap, path: String, fut: F) -> F::Output {
    REQUEST.scope((is_human(headers), path), fut).await
}

/// Did the browser behind the current request pass the challenge?
pub fn passed() -> bool {
    REQUEST.try_with(|(human, _)| *human).unwrap_or(false)
}

fn is_human(headers: &HeaderMap) -> bool {
    crate::html::cookie(headers, HUMAN_COOKIE).as_deref() == Some(HUMAN_VALUE)
}

/// The interstitial, with a button that comes back to the current page.
pub fn page() -> Response {
    let next = REQUEST
        .try_with(|(_, path)| path.clone())
        .unwrap_or_else(|_| "/".into());
    let next = super::layout::esc(&safe_next(&next));
    let form = format!(
        "<form id=\"challenge-form\" method=\"post\" action=\"/challenge/verify\">\
         <input type=\"hidden\" name=\"next\" value=\"{next}\">\
         <button id=\"challenge-verify\" type=\"submit\" style=\"font-size:1.5em;padding:0.6em 1.2em;margin:1em 0\">\
         Verify you are human</button></form>\n"
    );
    // The layout's interstitial (what store definitions look for) plus the
    // button.
    let html = super::layout::challenge_page().replacen("</body>", &format!("{form}</body>"), 1);
    Html(html).into_response()
}

/// Only a local path, never `//host` (no open redirect).
fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_string()
    } else {
        "/".to_string()
    }
}

/// `POST /challenge/verify`: outside the fault gate, like the admin API.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/challenge/verify", post(verify))
}

async fn verify(Form(form): Form<HashMap<String, String>>) -> Response {
    let next = safe_next(form.get("next").map(String::as_str).unwrap_or("/"));
    let cookie = format!(
        "{HUMAN_COOKIE}={HUMAN_VALUE}; Path=/; Max-Age={MAX_AGE_SECS}; HttpOnly; SameSite=Lax"
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_cookie_is_honoured_inside_the_scope_only() {
        let mut h = HeaderMap::new();
        assert!(!scope(&h, "/x".into(), async { passed() }).await);
        h.insert(header::COOKIE, "a=b; demo_human=verified".parse().unwrap());
        assert!(scope(&h, "/x".into(), async { passed() }).await);
        assert!(!passed(), "outside a request nobody passed");
        assert_eq!(safe_next("//evil.example"), "/");
    }
}
