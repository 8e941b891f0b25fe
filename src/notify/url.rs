//! Notification URLs: parsing into a [`Channel`] and redaction.

use url::Url;

use super::{discord, generic, gotify, ntfy, telegram, Message, NotifyError, Req};

/// One configured notification channel.
#[derive(Debug, Clone, PartialEq)]
pub enum Channel {
    Ntfy(ntfy::Ntfy),
    Gotify(gotify::Gotify),
    Telegram(telegram::Telegram),
    Discord(discord::Discord),
    Generic(generic::Generic),
}

impl Channel {
    /// Parses one URL; the error names the URL redacted and says what is
    /// expected.
    pub fn parse(raw: &str) -> Result<Channel, NotifyError> {
        let bad = |reason: String| NotifyError::BadUrl {
            value: redact_raw(raw),
            reason,
        };
        let raw = raw.trim();
        let scheme = raw.split("://").next().unwrap_or("").to_ascii_lowercase();
        if !raw.contains("://") {
            return Err(bad(format!("not a URL; expected one of {SCHEMES}")));
        }
        let url = Url::parse(raw).map_err(|e| bad(format!("not a valid URL ({e})")))?;
        let channel = match scheme.as_str() {
            "ntfy" | "ntfys" => ntfy::Ntfy::parse(&url).map(Channel::Ntfy),
            "gotify" => gotify::Gotify::parse(&url).map(Channel::Gotify),
            "telegram" => telegram::Telegram::parse(&url).map(Channel::Telegram),
            "discord" => discord::Discord::parse(&url).map(Channel::Discord),
            "generic" | "generic+http" | "generic+https" => {
                generic::Generic::parse(&url).map(Channel::Generic)
            }
            other => Err(format!(
                "unknown scheme `{other}://`; expected one of {SCHEMES}"
            )),
        };
        channel.map_err(bad)
    }

    /// The URL with its secrets masked, for logs and output.
    pub fn redacted(&self) -> String {
        match self {
            Channel::Ntfy(c) => c.redacted(),
            Channel::Gotify(c) => c.redacted(),
            Channel::Telegram(c) => c.redacted(),
            Channel::Discord(c) => c.redacted(),
            Channel::Generic(c) => c.redacted(),
        }
    }

    /// The requests that deliver `msg` (one per recipient, or two when a
    /// text and a file go separately).
    pub(crate) fn requests(&self, msg: &Message) -> Vec<Req> {
        match self {
            Channel::Ntfy(c) => c.requests(msg),
            Channel::Gotify(c) => c.requests(msg),
            Channel::Telegram(c) => c.requests(msg),
            Channel::Discord(c) => c.requests(msg),
            Channel::Generic(c) => c.requests(msg),
        }
    }
}

const SCHEMES: &str = "ntfy://, ntfys://, gotify://, telegram://, discord://, generic+https://";

/// Masks a secret: the first two characters of a long one stay so the
/// owner can tell channels apart; short ones are masked whole.
pub(crate) fn mask(secret: &str) -> String {
    if secret.chars().count() >= 8 {
        format!("{}***", secret.chars().take(2).collect::<String>())
    } else {
        "***".into()
    }
}

/// Redacts a URL that may not even parse: keeps the scheme and host, masks
/// user info, path and query.
pub fn redact_raw(raw: &str) -> String {
    let raw = raw.trim();
    match Url::parse(raw) {
        Ok(u) => {
            let mut out = format!("{}://", u.scheme());
            if !u.username().is_empty() || u.password().is_some() {
                out.push_str("***@");
            }
            out.push_str(u.host_str().unwrap_or(""));
            if let Some(port) = u.port() {
                out.push_str(&format!(":{port}"));
            }
            if !matches!(u.path(), "" | "/") {
                out.push_str("/***");
            }
            if u.query().is_some() {
                out.push_str("?***");
            }
            out
        }
        Err(_) => match raw.split_once("://") {
            Some((scheme, _))
                if scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+') =>
            {
                format!("{scheme}://***")
            }
            _ => "***".into(),
        },
    }
}

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

pub(crate) fn decode(s: &str) -> String {
    percent_decode(s)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            let is_hex = hex.bytes().all(|b| b.is_ascii_hexdigit());
            if let (true, Ok(b)) = (is_hex, u8::from_str_radix(hex, 16)) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_redaction_hides_everything_secret() {
        assert_eq!(
            redact_raw("generic+https://user:pw@hook.example/abc/def?key=1"),
            "generic+https://***@hook.example/***?***"
        );
        assert_eq!(redact_raw("nonsense"), "***");
        assert_eq!(redact_raw("weird://[bad/secret"), "weird://***");
    }

    #[test]
    fn unknown_schemes_and_non_urls_are_refused() {
        let e = Channel::parse("mailto://me@example.com")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown scheme `mailto://`"), "{e}");
        let e = Channel::parse("just-a-token").unwrap_err().to_string();
        assert!(e.contains("not a URL"), "{e}");
    }

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
