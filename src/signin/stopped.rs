//! Where a live sign-in session starts: where a buy stopped, when the
//! engine is paused because a buy met a bot challenge, a sign-in wall or
//! an access-denied page on this store; else the store's sign-in page.
//!
//! The page a buy stopped at is in the order's message, written by the
//! buy flow ("the store shows a bot challenge at <url>; ..."). Only a URL
//! on the store's own origin is used (the message is ours, but a URL
//! taken from a database must never send the profile's browser somewhere
//! else); anything else falls back to the sign-in page.

use url::Url;

use crate::db::Db;
use crate::model::Status;
use crate::purchase::StoreDef;

/// The first page of a live session for `store`, and why it is that page
/// when it is not the sign-in page.
pub async fn start_url(db: Option<&Db>, store: &StoreDef) -> (Url, Option<String>) {
    let signin = store.signin_url();
    let Some(db) = db else {
        return (signin, None);
    };
    let pause = match db.paused().await {
        Ok(Some(pause)) => pause,
        _ => return (signin, None),
    };
    let why = match pause.status {
        Some(Status::Challenge) => "where the buy stopped at a bot challenge",
        Some(Status::SigninRequired) => "where the buy met the sign-in page",
        Some(Status::Blocked) => "where the buy met an access-denied page",
        _ => return (signin, None),
    };
    let Some(id) = pause.order_id else {
        return (signin, None);
    };
    let order = match db.get(id).await {
        Ok(Some(order)) if order.store.as_deref() == Some(store.name.as_str()) => order,
        _ => return (signin, None),
    };
    match order
        .message
        .as_deref()
        .and_then(|m| url_on_origin(m, &store.base_url))
    {
        Some(url) => (url, Some(why.to_string())),
        None => (signin, None),
    }
}

/// The first URL in `text` on `base`'s origin (scheme, host and port).
pub fn url_on_origin(text: &str, base: &Url) -> Option<Url> {
    text.split_whitespace()
        .map(|word| word.trim_end_matches([';', ',', ')', '.', '"', '\'']))
        .filter_map(|word| Url::parse(word).ok())
        .find(|url| url.origin() == base.origin())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_urls_on_the_store_origin_count() {
        let base = Url::parse("http://127.0.0.1:8724/").unwrap();
        let msg = "the store shows a bot challenge at http://127.0.0.1:8724/product/dish-soap; solve it with `restock login`";
        assert_eq!(
            url_on_origin(msg, &base).unwrap().as_str(),
            "http://127.0.0.1:8724/product/dish-soap"
        );
        assert!(url_on_origin("challenge at http://evil.example/x; solve", &base).is_none());
        assert!(url_on_origin("challenge at http://127.0.0.1:9999/x", &base).is_none());
        assert!(url_on_origin("no url here", &base).is_none());
    }
}
