//! Monitor URLs (`RESTOCK_HEARTBEAT_URL`, `RESTOCK_ORDER_CHECK_URL`): which
//! protocol a URL speaks, judged by its shape, where its secret sits, and
//! the label it is shown by (`host/…/a1b2`, the last 4 characters of the
//! secret). What each protocol sends is in `heartbeat::monitor`.
//!
//! - **Healthchecks**: `…/ping/<uuid>`, `…/ping/<ping-key>/<slug>`, or the
//!   hosted `hc-ping.com/<uuid>`.
//! - **Uptime Kuma push**: `…/api/push/<token>`.
//! - **Anything else**: a plain `GET` (`MonitorKind::Get`); the end of its
//!   path and its query count as the secret.
//!
//! `RESTOCK_HEARTBEAT_KIND` may force a kind on a URL whose shape says
//! otherwise (a Healthchecks behind a proxy path); the label then follows
//! the forced kind ([`MonitorUrl::with_kind`]).

use std::fmt;

use url::Url;

use crate::model::MonitorKind;
use crate::text::{last4, redact_url};

/// How a kind's URLs are recognised, as data: adding a service is a row.
struct Shape {
    kind: MonitorKind,
    /// Hosts whose whole path is the secret (the hosted service).
    hosts: &'static [&'static str],
    /// Path segments the secret follows (`ping`, `api/push`).
    marker: &'static [&'static str],
}

const SHAPES: [Shape; 2] = [
    Shape {
        kind: MonitorKind::Healthchecks,
        hosts: &["hc-ping.com"],
        marker: &["ping"],
    },
    Shape {
        kind: MonitorKind::UptimeKuma,
        hosts: &[],
        marker: &["api", "push"],
    },
];

impl Shape {
    /// The path segments holding the secret, when `url` has this shape.
    fn secret_in(&self, url: &Url) -> Option<Vec<String>> {
        let segs: Vec<String> = url
            .path_segments()?
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let host = url.host_str().unwrap_or("").to_ascii_lowercase();
        if self.hosts.iter().any(|h| host == *h) && !segs.is_empty() {
            return Some(segs);
        }
        let m = self.marker.len();
        (0..segs.len().saturating_sub(m))
            .find(|&i| {
                segs[i..i + m]
                    .iter()
                    .zip(self.marker)
                    .all(|(a, b)| a.eq_ignore_ascii_case(b))
            })
            .map(|i| segs[i + m..].to_vec())
    }
}

/// What a monitor URL must look like, for error messages.
pub const URL_EXAMPLES: &str = "an http(s) URL, like https://hc-ping.com/<uuid>, \
     https://hc.example.org/ping/<ping-key>/<slug> or https://kuma.example.org/api/push/<token>";

/// Why a monitor URL was refused; `shown` is the value redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{shown}`: expected {URL_EXAMPLES}")]
pub struct BadMonitorUrl {
    pub shown: String,
}

/// A monitor URL, read: its protocol and its redacted label. Its `Debug`
/// and `Display` show the label only; it serializes to the URL as written
/// (for the config's own round trip, never for output).
#[derive(Clone, PartialEq, Eq)]
pub struct MonitorUrl {
    raw: String,
    url: Url,
    pub kind: MonitorKind,
    /// `host/…/a1b2`: what logs, status and `/health` show.
    pub label: String,
    /// Strings that must never be shown: the URL and its secret parts.
    hidden: Vec<String>,
}

impl fmt::Debug for MonitorUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonitorUrl")
            .field("kind", &self.kind)
            .field("label", &self.label)
            .finish()
    }
}

impl fmt::Display for MonitorUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

impl MonitorUrl {
    /// Reads `raw`, detecting the kind by its shape.
    pub fn parse(raw: &str) -> Result<MonitorUrl, BadMonitorUrl> {
        let bad = || BadMonitorUrl {
            shown: redact_url(raw),
        };
        let url = Url::parse(raw.trim()).map_err(|_| bad())?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(bad());
        }
        let kind = SHAPES
            .iter()
            .find(|s| s.secret_in(&url).is_some())
            .map_or(MonitorKind::Get, |s| s.kind);
        Ok(MonitorUrl::read(raw.trim().to_string(), url, kind))
    }

    /// The same URL spoken as `kind` (`RESTOCK_HEARTBEAT_KIND`, or the
    /// order check, which is always Healthchecks); the label follows.
    pub fn with_kind(self, kind: MonitorKind) -> MonitorUrl {
        if kind == self.kind {
            return self;
        }
        MonitorUrl::read(self.raw, self.url, kind)
    }

    fn read(raw: String, url: Url, kind: MonitorKind) -> MonitorUrl {
        let segments = SHAPES
            .iter()
            .find(|s| s.kind == kind)
            .and_then(|s| s.secret_in(&url));
        let (label, mut hidden) = label_for(&url, segments.as_deref());
        hidden.push(raw.clone());
        hidden.push(url.as_str().to_string());
        if let Some(pw) = url.password() {
            hidden.push(pw.to_string());
        }
        if !url.username().is_empty() {
            hidden.push(url.username().to_string());
        }
        hidden.retain(|h| h.chars().count() >= 6);
        hidden.sort_by_key(|h| std::cmp::Reverse(h.len()));
        hidden.dedup();
        MonitorUrl {
            raw,
            url,
            kind,
            label,
            hidden,
        }
    }

    /// The URL itself, for the request. Never for output.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Replaces anything secret in `text` with the label.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for h in &self.hidden {
            if out.contains(h.as_str()) {
                out = out.replace(h.as_str(), &self.label);
            }
        }
        out
    }
}

impl std::str::FromStr for MonitorUrl {
    type Err = BadMonitorUrl;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MonitorUrl::parse(s)
    }
}

impl serde::Serialize for MonitorUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

impl<'de> serde::Deserialize<'de> for MonitorUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        MonitorUrl::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// `host[:port]/…/last4` (plus a Healthchecks slug, which is not secret),
/// and the strings that must be hidden. `segments` are the secret's path
/// segments when the URL has its kind's shape; otherwise the end of the
/// path and the query hold the secret.
fn label_for(url: &Url, segments: Option<&[String]>) -> (String, Vec<String>) {
    let host = super::host_port(url);
    if let Some(segs) = segments.filter(|s| !s.is_empty()) {
        let key = &segs[0];
        let rest = if segs.len() > 1 {
            format!("/{}", segs[1..].join("/"))
        } else {
            String::new()
        };
        let shown = last4(key).unwrap_or_default();
        return (format!("{host}/…/{shown}{rest}"), vec![key.clone()]);
    }
    let mut tail = url.path().trim_matches('/').to_string();
    if let Some(q) = url.query() {
        tail.push('?');
        tail.push_str(q);
    }
    if tail.is_empty() {
        return (host, Vec::new());
    }
    let mut hidden = vec![tail.clone()];
    hidden.extend(
        url.path_segments()
            .and_then(|mut s| s.rfind(|s| !s.is_empty()))
            .map(str::to_string),
    );
    hidden.extend(url.query_pairs().map(|(_, v)| v.into_owned()));
    let shown = last4(&tail).unwrap_or_default();
    (format!("{host}/…/{shown}"), hidden)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "5b3c9a1e-2f4d-4c6b-9e8a-7d1f0c2ba1b2";

    #[test]
    fn detects_kinds_by_shape() {
        let cases = [
            (
                format!("https://hc-ping.com/{UUID}"),
                MonitorKind::Healthchecks,
            ),
            (
                format!("https://hc.example.org/ping/{UUID}"),
                MonitorKind::Healthchecks,
            ),
            (
                "https://hc.example.org/ping/kEyKeYkEyKeY1234/restock-engine".into(),
                MonitorKind::Healthchecks,
            ),
            (
                "http://kuma.local:3001/api/push/Xy12Ab34Cd?status=up&msg=OK&ping=".into(),
                MonitorKind::UptimeKuma,
            ),
            (
                "https://example.org/beat/abcdef123456".into(),
                MonitorKind::Get,
            ),
        ];
        for (url, kind) in cases {
            assert_eq!(MonitorUrl::parse(&url).unwrap().kind, kind, "{url}");
        }
        let forced = MonitorUrl::parse("https://proxy.lan/hc/abcdef123456")
            .unwrap()
            .with_kind(MonitorKind::Healthchecks);
        assert_eq!(forced.kind, MonitorKind::Healthchecks);
        assert_eq!(forced.label, "proxy.lan/…/3456");
    }

    #[test]
    fn labels_show_host_and_last_four() {
        let t = MonitorUrl::parse(&format!("https://hc.example.org/ping/{UUID}")).unwrap();
        assert_eq!(t.label, "hc.example.org/…/a1b2");
        let t = MonitorUrl::parse("https://hc.example.org/ping/kEyKeYkEyKeY1234/restock").unwrap();
        assert_eq!(t.label, "hc.example.org/…/1234/restock");
        let t =
            MonitorUrl::parse("http://kuma.local:3001/api/push/Xy12Ab34x9z0?status=up").unwrap();
        assert_eq!(t.label, "kuma.local:3001/…/x9z0");
        let t = MonitorUrl::parse("https://example.org/hook?token=s3cr3tT0ken").unwrap();
        assert_eq!(t.label, "example.org/…/0ken");
        assert!(!format!("{t:?}").contains("s3cr3t"));
        assert_eq!(t.to_string(), "example.org/…/0ken");
    }

    #[test]
    fn bad_urls_are_refused_without_their_secret() {
        for raw in [
            UUID,
            "hc-ping.com/5b3c9a1e2f4d",
            "ftp://x.org/ping/abcdef123456",
        ] {
            let e = MonitorUrl::parse(raw).unwrap_err();
            assert!(!e.shown.contains("5b3c9a1e"), "{}", e.shown);
            assert!(!e.shown.contains("abcdef123456"), "{}", e.shown);
        }
    }

    #[test]
    fn secrets_in_text_are_scrubbed() {
        let t = MonitorUrl::parse(&format!("https://hc.example.org/ping/{UUID}")).unwrap();
        let said = t.scrub(&format!("boom at /ping/{UUID}"));
        assert!(!said.contains(UUID), "{said}");
    }
}
