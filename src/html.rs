//! What every HTML page restock serves needs (the demo storefront, the
//! live sign-in page, the household page): escaping text into HTML, and
//! reading a cookie the browser sent. Both by well-kept crates
//! (`html-escape`, `cookie`) rather than by hand.

use axum::http::{header, HeaderMap};

/// `text` escaped for HTML element content and double-quoted attributes.
pub fn esc(text: &str) -> String {
    html_escape::encode_double_quoted_attribute(text).replace('\'', "&#39;")
}

/// The value of the cookie `name` among the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_content_and_attributes() {
        assert_eq!(
            esc(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn cookies_are_read_from_every_header() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, "a=1; b=two".parse().unwrap());
        h.append(header::COOKIE, "c=3".parse().unwrap());
        assert_eq!(cookie(&h, "b").as_deref(), Some("two"));
        assert_eq!(cookie(&h, "c").as_deref(), Some("3"));
        assert_eq!(cookie(&h, "d"), None);
    }
}
