//! The URLs an owner writes into the config for monitors and notification
//! channels: what each one says, read once when the config loads, and how
//! each is shown without its secrets.
//!
//! Bottom layer, beside [`crate::model`]: [`crate::config`] parses
//! `RESTOCK_HEARTBEAT_URL`, `RESTOCK_ORDER_CHECK_URL` and `RESTOCK_NOTIFY`
//! into these types, and the subsystems that speak the protocols
//! ([`crate::heartbeat`], [`crate::notify`]) take them as they are, so a
//! URL is never parsed twice and the config never calls into a subsystem.
//! Only reading and showing lives here; the requests each protocol makes
//! live with the subsystem that sends them.

pub mod monitor;
pub mod notify;
pub mod public;

pub use monitor::{BadMonitorUrl, MonitorUrl};
pub use notify::{BadNotifyUrl, Channel, NotifyUrl};
pub use public::{BadPublicUrl, PublicUrl};

use url::Url;

/// Query parameter lookup (first value), names case-insensitive.
pub(crate) fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.into_owned())
}

/// The `api=` override of a hosted service's base URL.
pub(crate) fn api_base(url: &Url, default: &str) -> Result<Url, String> {
    let raw = query(url, "api").unwrap_or_else(|| default.to_string());
    let base = Url::parse(&raw).map_err(|e| format!("`api={raw}` is not a URL ({e})"))?;
    if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
        return Err(format!(
            "`api={raw}` must be an http(s) URL like http://127.0.0.1:8080"
        ));
    }
    Ok(base)
}

/// `base` + `/segments...`, keeping any path prefix of `base`.
pub(crate) fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        for s in segments {
            path.push(s);
        }
    }
    url
}

/// A percent-encoded URL part (user info, a path segment) as text.
pub(crate) fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// `host[:port]` of a URL.
pub(crate) fn host_port(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(decode("a%3Ab"), "a:b");
        assert_eq!(decode("100%"), "100%");
    }

    #[test]
    fn join_keeps_a_prefix() {
        let base = Url::parse("http://127.0.0.1:9/gw/").unwrap();
        assert_eq!(
            join(&base, &["bot1:x", "sendMessage"]).as_str(),
            "http://127.0.0.1:9/gw/bot1:x/sendMessage"
        );
    }
}
