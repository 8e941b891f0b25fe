//! The sign-in page: `page.html` and `page.js`, compiled in, no framework
//! and nothing from a CDN, served with headers that keep the address (a
//! secret) out of referrers and caches and the page out of frames.
//!
//! The same document says where things stand when the link cannot be used
//! ("link expired", "already used", "unknown sign-in link"): the HTTP
//! status says it to scripts, the text to people.

use crate::html::esc;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

const HTML: &str = include_str!("page.html");
/// The page's script, served at `/signin-assets/page.js`.
pub const JS: &str = include_str!("page.js");

/// `Content-Security-Policy`: the page's own script and socket only;
/// frames arrive as `data:` images; no forms, no frames, no base.
const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; img-src data:; \
                   style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The live page for `store`; `note` is the small print under it.
pub fn live(store: &str, note: &str) -> String {
    render(store, "open", &format!("sign in to {store}"), note, "")
}

/// A page for a link that cannot be used: `state` names why (the
/// `data-state` of its body), `message` says it.
pub fn refused(store: Option<&str>, state: &str, message: &str) -> String {
    render(store.unwrap_or("a store"), state, message, "", "hidden")
}

fn render(store: &str, state: &str, status: &str, note: &str, controls: &str) -> String {
    HTML.replace("{{STORE}}", &esc(store))
        .replace("{{STATE}}", &esc(state))
        .replace("{{STATUS}}", &esc(status))
        .replace("{{NOTE}}", &esc(note))
        .replace("{{CONTROLS}}", controls)
}

/// An HTML answer with the page's security headers.
pub fn respond(status: StatusCode, html: String, cookie: Option<String>) -> Response {
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(headers);
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}

/// `page.js`.
pub fn script() -> Response {
    let mut response = JS.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    secure_headers(headers);
    response
}

/// No caching (the address is a secret), no referrer, no framing, no
/// content sniffing.
pub fn secure_headers(headers: &mut axum::http::HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_and_say_where_they_stand() {
        let page = live("demo<x>", "valid for 10m");
        assert!(page.contains("sign in to demo&lt;x&gt;"));
        assert!(page.contains(r#"data-state="open""#));
        assert!(
            page.contains("\"../signin-assets/page.js\""),
            "relative: works behind a path prefix"
        );
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "nothing from elsewhere"
        );
        let gone = refused(Some("demo"), "expired", "link expired");
        assert!(gone.contains(r#"data-state="expired""#) && gone.contains("link expired"));
        assert!(!gone.contains("{{"));
    }
}
