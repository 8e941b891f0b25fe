//! Monitor URLs: which protocol a URL speaks, the request each kind of
//! ping becomes, how an answer is judged, and how a URL is shown without
//! its secret.
//!
//! The protocols are data ([`PROTOCOLS`]): how a URL is recognised, where
//! its secret sits, and a request [`Shape`] per thing a ping can say. Adding
//! a monitor service is adding a row, not a branch.
//!
//! - **Healthchecks** (`…/ping/<uuid>`, `…/ping/<ping-key>/<slug>`, or the
//!   hosted `hc-ping.com/<uuid>`): `POST` with a short plain-text body;
//!   `/fail` when the engine is paused for a human (with
//!   `RESTOCK_HEARTBEAT_PAUSED=fail`); `/start?rid=` and `?rid=` or
//!   `/fail?rid=` for the order check. Healthchecks wants a run id (`rid`)
//!   to be a canonical UUID, so the order id is carried in one (see
//!   [`run_id`]).
//! - **Uptime Kuma push** (`…/api/push/<token>`): `GET` with
//!   `status=up|down&msg=<state>&ping=<last round trip ms>`; any
//!   `status`/`msg`/`ping` already in the configured URL (Kuma's UI copies
//!   `?status=up&msg=OK&ping=`) is replaced. A `200` with `{"ok":false}` is a
//!   failure.
//! - **Anything else**: a plain `GET` of the URL as given. A plain URL has no
//!   way to say "down", so with `RESTOCK_HEARTBEAT_PAUSED=fail` it is simply
//!   not pinged while paused, and its monitor raises the alarm after its own
//!   grace time.
//!
//! Redirects are not followed (a `3xx` is a failure telling the owner to
//! configure the final URL): a `Location` may carry the secret into logs.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

/// The protocols a monitor URL can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Healthchecks,
    UptimeKuma,
    Get,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        protocol(self).name
    }

    /// `auto` is `None`; anything unknown is an error listing the choices.
    pub fn parse_setting(s: &str) -> Result<Option<Kind>, String> {
        match s.trim() {
            "auto" => Ok(None),
            other => PROTOCOLS
                .iter()
                .find(|p| p.name == other)
                .map(|p| Some(p.kind))
                .ok_or_else(|| {
                    let names: Vec<&str> = PROTOCOLS.iter().map(|p| p.name).collect();
                    format!("one of auto, {}", names.join(", "))
                }),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one ping says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Say {
    /// The engine is alive.
    Up,
    /// Alive, but paused for a human (`RESTOCK_HEARTBEAT_PAUSED=fail`).
    Down,
    /// A buy started (order check).
    Start,
    /// A buy ended well (order check).
    Success,
    /// A buy ended badly (order check).
    Fail,
}

impl Say {
    pub fn as_str(self) -> &'static str {
        match self {
            Say::Up => "up",
            Say::Down => "down",
            Say::Start => "start",
            Say::Success => "success",
            Say::Fail => "fail",
        }
    }
}

/// One ping, before it becomes a request for a particular protocol.
#[derive(Debug, Clone, PartialEq)]
pub struct Ping {
    pub say: Say,
    /// One line: Kuma's `msg`.
    pub msg: String,
    /// A few lines of plain text: Healthchecks' request body.
    pub body: String,
    /// Run id (order check), a canonical UUID.
    pub rid: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Get,
    Post,
}

/// Where a query value comes from.
#[derive(Debug, Clone, Copy)]
enum Arg {
    Lit(&'static str),
    Msg,
    /// The previous round trip in ms (empty before the first answer).
    Rtt,
    Rid,
}

/// The request one [`Say`] becomes.
#[derive(Debug, Clone, Copy)]
struct Shape {
    verb: Verb,
    /// Appended as a path segment (`fail`, `start`).
    suffix: Option<&'static str>,
    query: &'static [(&'static str, Arg)],
    /// Send the ping's text body (`text/plain`).
    body: bool,
}

/// How an answer is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ack {
    /// Any 2xx.
    Status,
    /// A 2xx whose JSON body does not say `"ok": false`.
    KumaJson,
}

/// One protocol, as data.
struct Protocol {
    kind: Kind,
    /// Its `RESTOCK_HEARTBEAT_KIND` name.
    name: &'static str,
    /// Hosts whose whole path is the secret (the hosted service).
    hosts: &'static [&'static str],
    /// Path segments the secret follows (`ping`, `api/push`).
    marker: &'static [&'static str],
    /// Query keys the protocol owns: dropped from the configured URL before
    /// ours are added.
    owned_query: &'static [&'static str],
    /// `[Up, Down, Start, Success, Fail]`; `None` means the protocol cannot
    /// say it and the ping is withheld.
    shapes: [Option<Shape>; 5],
    ack: Ack,
}

const fn shape(
    verb: Verb,
    suffix: Option<&'static str>,
    query: &'static [(&'static str, Arg)],
    body: bool,
) -> Option<Shape> {
    Some(Shape {
        verb,
        suffix,
        query,
        body,
    })
}

const KUMA_UP: &[(&str, Arg)] = &[
    ("status", Arg::Lit("up")),
    ("msg", Arg::Msg),
    ("ping", Arg::Rtt),
];
const KUMA_DOWN: &[(&str, Arg)] = &[
    ("status", Arg::Lit("down")),
    ("msg", Arg::Msg),
    ("ping", Arg::Rtt),
];
const RID: &[(&str, Arg)] = &[("rid", Arg::Rid)];

const PROTOCOLS: [Protocol; 3] = [
    Protocol {
        kind: Kind::Healthchecks,
        name: "healthchecks",
        hosts: &["hc-ping.com"],
        marker: &["ping"],
        owned_query: &["rid"],
        shapes: [
            shape(Verb::Post, None, &[], true),
            shape(Verb::Post, Some("fail"), &[], true),
            shape(Verb::Post, Some("start"), RID, true),
            shape(Verb::Post, None, RID, true),
            shape(Verb::Post, Some("fail"), RID, true),
        ],
        ack: Ack::Status,
    },
    Protocol {
        kind: Kind::UptimeKuma,
        name: "uptime-kuma",
        hosts: &[],
        marker: &["api", "push"],
        owned_query: &["status", "msg", "ping"],
        shapes: [
            shape(Verb::Get, None, KUMA_UP, false),
            shape(Verb::Get, None, KUMA_DOWN, false),
            shape(Verb::Get, None, KUMA_UP, false),
            shape(Verb::Get, None, KUMA_UP, false),
            shape(Verb::Get, None, KUMA_DOWN, false),
        ],
        ack: Ack::KumaJson,
    },
    Protocol {
        kind: Kind::Get,
        name: "get",
        hosts: &[],
        marker: &[],
        owned_query: &[],
        shapes: [
            shape(Verb::Get, None, &[], false),
            None,
            shape(Verb::Get, None, &[], false),
            shape(Verb::Get, None, &[], false),
            None,
        ],
        ack: Ack::Status,
    },
];

fn protocol(kind: Kind) -> &'static Protocol {
    PROTOCOLS
        .iter()
        .find(|p| p.kind == kind)
        .unwrap_or(&PROTOCOLS[2])
}

impl Protocol {
    fn shape(&self, say: Say) -> Option<&Shape> {
        let i = match say {
            Say::Up => 0,
            Say::Down => 1,
            Say::Start => 2,
            Say::Success => 3,
            Say::Fail => 4,
        };
        self.shapes[i].as_ref()
    }

    /// The path segments holding the secret, when the URL has this
    /// protocol's shape.
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
        if self.marker.is_empty() {
            return None;
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

/// Why a monitor URL was refused; `shown` is the redacted value.
#[derive(Debug, Clone, PartialEq)]
pub struct BadUrl {
    pub shown: String,
    pub expected: String,
}

/// A monitor URL, parsed, with its protocol and its redacted label. Its
/// `Debug` shows the label only.
#[derive(Clone)]
pub struct Target {
    url: Url,
    pub kind: Kind,
    /// `host/…/a1b2`: what logs, status and `/health` show.
    pub label: String,
    /// Strings that must never be shown: the URL and its secret parts.
    hidden: Vec<String>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("kind", &self.kind)
            .field("label", &self.label)
            .finish()
    }
}

pub const URL_EXAMPLES: &str = "an http(s) URL, like https://hc-ping.com/<uuid>, \
     https://hc.example.org/ping/<ping-key>/<slug> or https://kuma.example.org/api/push/<token>";

impl Target {
    /// Parses `raw`; `forced` is `RESTOCK_HEARTBEAT_KIND` (or the order
    /// check, always Healthchecks), `None` detects by URL shape.
    pub fn parse(raw: &str, forced: Option<Kind>) -> Result<Target, BadUrl> {
        let bad = || BadUrl {
            shown: redact_raw(raw),
            expected: URL_EXAMPLES.to_string(),
        };
        let url = Url::parse(raw.trim()).map_err(|_| bad())?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(bad());
        }
        let detected = PROTOCOLS
            .iter()
            .find_map(|p| p.secret_in(&url).map(|s| (p.kind, s)));
        let kind = forced
            .or(detected.as_ref().map(|(k, _)| *k))
            .unwrap_or(Kind::Get);
        let secret = match &detected {
            Some((k, segs)) if *k == kind => Secret::Segments(segs.clone()),
            _ => Secret::Tail,
        };
        let (label, mut hidden) = label_for(&url, &secret);
        hidden.push(raw.trim().to_string());
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
        Ok(Target {
            url,
            kind,
            label,
            hidden,
        })
    }

    /// Whether this protocol can say `say` (a plain URL cannot say "down").
    pub fn speaks(&self, say: Say) -> bool {
        protocol(self.kind).shape(say).is_some()
    }

    /// The request for `ping`, or `None` when the protocol cannot say it.
    pub fn request(
        &self,
        client: &reqwest::Client,
        ping: &Ping,
        last_rtt_ms: Option<u64>,
    ) -> Option<reqwest::RequestBuilder> {
        let proto = protocol(self.kind);
        let shape = proto.shape(ping.say)?;
        let url = self.url_for(proto, shape, ping, last_rtt_ms)?;
        let req = match shape.verb {
            Verb::Get => client.get(url),
            Verb::Post => client.post(url),
        };
        Some(if shape.body {
            req.header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(ping.body.clone())
        } else {
            req
        })
    }

    fn url_for(
        &self,
        proto: &Protocol,
        shape: &Shape,
        ping: &Ping,
        last_rtt_ms: Option<u64>,
    ) -> Option<Url> {
        let mut url = self.url.clone();
        if let Some(suffix) = shape.suffix {
            url.path_segments_mut().ok()?.pop_if_empty().push(suffix);
        }
        let owns = |k: &str| proto.owned_query.contains(&k);
        let rewrite = !shape.query.is_empty() || url.query_pairs().any(|(k, _)| owns(&k));
        if rewrite {
            let kept: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| !owns(k))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            url.set_query(None);
            let mut q = url.query_pairs_mut();
            q.extend_pairs(kept);
            for (key, arg) in shape.query {
                let value = match arg {
                    Arg::Lit(v) => (*v).to_string(),
                    Arg::Msg => ping.msg.clone(),
                    Arg::Rtt => last_rtt_ms.map(|r| r.to_string()).unwrap_or_default(),
                    Arg::Rid => ping.rid.clone().unwrap_or_default(),
                };
                q.append_pair(key, &value);
            }
            drop(q);
            if url.query() == Some("") {
                url.set_query(None);
            }
        }
        Some(url)
    }

    /// Judges an answer: `Err` carries the one-line reason, redacted.
    pub fn judge(&self, status: u16, body: &str) -> Result<(), String> {
        let snippet = self.scrub(&one_line(body, 120));
        if !(200..300).contains(&status) {
            let hint = if (300..400).contains(&status) {
                " (redirects are not followed; configure the final URL)"
            } else {
                ""
            };
            return Err(if snippet.is_empty() {
                format!("HTTP {status}{hint}")
            } else {
                format!("HTTP {status}{hint}: {snippet}")
            });
        }
        if protocol(self.kind).ack == Ack::KumaJson {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
                if v.get("ok") == Some(&serde_json::Value::Bool(false)) {
                    let msg = v.get("msg").and_then(|m| m.as_str()).unwrap_or("");
                    return Err(format!(
                        "monitor answered ok:false: {}",
                        self.scrub(&one_line(msg, 120))
                    ));
                }
            }
        }
        Ok(())
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

/// A one-line description of a failed request, with no URL in it.
pub fn describe_error(e: reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("timeout after {}", humantime::format_duration(timeout));
    }
    let e = e.without_url();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
                std::io::ErrorKind::ConnectionReset => "connection reset".into(),
                std::io::ErrorKind::TimedOut => {
                    format!("timeout after {}", humantime::format_duration(timeout))
                }
                _ => format!("cannot connect: {io}"),
            };
        }
        source = s.source();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    one_line(&text, 200)
}

enum Secret {
    /// The path segments after the protocol's marker (`uuid`, or
    /// `ping-key` + `slug`).
    Segments(Vec<String>),
    /// Not a known shape: the end of the path and query holds the secret.
    Tail,
}

/// `host[:port]/…/last4` (plus a Healthchecks slug, which is not secret),
/// and the strings that must be hidden.
fn label_for(url: &Url, secret: &Secret) -> (String, Vec<String>) {
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    };
    match secret {
        Secret::Segments(segs) if !segs.is_empty() => {
            let key = &segs[0];
            let rest = if segs.len() > 1 {
                format!("/{}", segs[1..].join("/"))
            } else {
                String::new()
            };
            (format!("{host}/…/{}{rest}", last4(key)), vec![key.clone()])
        }
        _ => {
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
            (format!("{host}/…/{}", last4(&tail)), hidden)
        }
    }
}

/// The last 4 characters, or nothing for a secret too short to show any.
fn last4(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 8 {
        return String::new();
    }
    chars[chars.len() - 4..].iter().collect()
}

/// A value that is not even a URL, shown without its secret: the last 4
/// characters and the length.
pub fn redact_raw(raw: &str) -> String {
    let raw = raw.trim();
    match Url::parse(raw) {
        Ok(url) if url.host_str().is_some() => {
            let (label, _) = label_for(&url, &Secret::Tail);
            format!("{}://{label}", url.scheme())
        }
        _ => format!("…{} ({} characters)", last4(raw), raw.chars().count()),
    }
}

fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(max)
        .collect();
    flat
}

/// A Healthchecks run id for one claim of an order: a canonical (lowercase)
/// UUID whose first 48 bits are the claim time in ms (like UUIDv7) and whose
/// last group is the order id in decimal, so a human reading the check's
/// event log can tell which order a run was: order 42 claimed now is
/// `0194f3a2-7c1e-8000-8000-000000000042`.
pub fn run_id(order_id: i64, claimed_ms: i64) -> String {
    let t = (claimed_ms.max(0) as u64) & 0xffff_ffff_ffff;
    let id = order_id.rem_euclid(1_000_000_000_000);
    format!("{:08x}-{:04x}-8000-8000-{id:012}", t >> 16, t & 0xffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "5b3c9a1e-2f4d-4c6b-9e8a-7d1f0c2ba1b2";

    fn ping(say: Say) -> Ping {
        Ping {
            say,
            msg: "idle, 0 pending".into(),
            body: "restock: idle".into(),
            rid: Some(run_id(42, 1_700_000_000_000)),
        }
    }

    fn built(t: &Target, say: Say) -> Option<(String, String, Option<String>)> {
        let client = reqwest::Client::new();
        let req = t.request(&client, &ping(say), Some(37))?.build().unwrap();
        let body = req
            .body()
            .and_then(|b| b.as_bytes())
            .map(|b| String::from_utf8_lossy(b).into_owned());
        Some((req.method().to_string(), req.url().to_string(), body))
    }

    #[test]
    fn detects_kinds_by_shape() {
        let cases = [
            (format!("https://hc-ping.com/{UUID}"), Kind::Healthchecks),
            (
                format!("https://hc.example.org/ping/{UUID}"),
                Kind::Healthchecks,
            ),
            (
                "https://hc.example.org/ping/kEyKeYkEyKeY1234/restock-engine".into(),
                Kind::Healthchecks,
            ),
            (
                "http://kuma.local:3001/api/push/Xy12Ab34Cd?status=up&msg=OK&ping=".into(),
                Kind::UptimeKuma,
            ),
            ("https://example.org/beat/abcdef123456".into(), Kind::Get),
        ];
        for (url, kind) in cases {
            assert_eq!(Target::parse(&url, None).unwrap().kind, kind, "{url}");
        }
        let forced = Target::parse(
            "https://proxy.lan/hc/abcdef123456",
            Some(Kind::Healthchecks),
        )
        .unwrap();
        assert_eq!(forced.kind, Kind::Healthchecks);
        assert_eq!(forced.label, "proxy.lan/…/3456");
    }

    #[test]
    fn labels_show_host_and_last_four() {
        let t = Target::parse(&format!("https://hc.example.org/ping/{UUID}"), None).unwrap();
        assert_eq!(t.label, "hc.example.org/…/a1b2");
        let t =
            Target::parse("https://hc.example.org/ping/kEyKeYkEyKeY1234/restock", None).unwrap();
        assert_eq!(t.label, "hc.example.org/…/1234/restock");
        let t = Target::parse(
            "http://kuma.local:3001/api/push/Xy12Ab34x9z0?status=up",
            None,
        )
        .unwrap();
        assert_eq!(t.label, "kuma.local:3001/…/x9z0");
        let t = Target::parse("https://example.org/hook?token=s3cr3tT0ken", None).unwrap();
        assert_eq!(t.label, "example.org/…/0ken");
        assert!(!format!("{t:?}").contains("s3cr3t"));
    }

    #[test]
    fn bad_urls_are_refused_without_their_secret() {
        for raw in [
            UUID,
            "hc-ping.com/5b3c9a1e2f4d",
            "ftp://x.org/ping/abcdef123456",
        ] {
            let e = Target::parse(raw, None).unwrap_err();
            assert!(!e.shown.contains("5b3c9a1e"), "{}", e.shown);
            assert!(!e.shown.contains("abcdef123456"), "{}", e.shown);
        }
    }

    #[test]
    fn healthchecks_request_shapes() {
        let t = Target::parse(&format!("https://hc.example.org/ping/{UUID}"), None).unwrap();
        let base = format!("https://hc.example.org/ping/{UUID}");
        let (m, u, b) = built(&t, Say::Up).unwrap();
        assert_eq!((m.as_str(), u.as_str()), ("POST", base.as_str()));
        assert_eq!(b.as_deref(), Some("restock: idle"));
        let (m, u, _) = built(&t, Say::Down).unwrap();
        assert_eq!((m.as_str(), u), ("POST", format!("{base}/fail")));
        let rid = run_id(42, 1_700_000_000_000);
        let (_, u, _) = built(&t, Say::Start).unwrap();
        assert_eq!(u, format!("{base}/start?rid={rid}"));
        let (_, u, _) = built(&t, Say::Success).unwrap();
        assert_eq!(u, format!("{base}?rid={rid}"));
        let (_, u, _) = built(&t, Say::Fail).unwrap();
        assert_eq!(u, format!("{base}/fail?rid={rid}"));
    }

    #[test]
    fn kuma_request_replaces_its_own_query() {
        let t = Target::parse(
            "http://kuma.local:3001/api/push/Xy12Ab34x9z0?status=up&msg=OK&ping=",
            None,
        )
        .unwrap();
        let (m, u, b) = built(&t, Say::Up).unwrap();
        assert_eq!(m, "GET");
        assert_eq!(b, None);
        assert_eq!(
            u,
            "http://kuma.local:3001/api/push/Xy12Ab34x9z0?status=up&msg=idle%2C+0+pending&ping=37"
        );
        let (_, u, _) = built(&t, Say::Down).unwrap();
        assert!(u.contains("status=down"), "{u}");
    }

    #[test]
    fn plain_get_cannot_say_down() {
        let t = Target::parse("https://example.org/beat?k=abcdef123456", None).unwrap();
        assert!(t.speaks(Say::Up));
        assert!(!t.speaks(Say::Down));
        let (m, u, _) = built(&t, Say::Up).unwrap();
        assert_eq!(
            (m.as_str(), u.as_str()),
            ("GET", "https://example.org/beat?k=abcdef123456")
        );
        assert!(built(&t, Say::Down).is_none());
    }

    #[test]
    fn answers_are_judged_per_protocol() {
        let hc = Target::parse(&format!("https://hc.example.org/ping/{UUID}"), None).unwrap();
        assert!(hc.judge(200, "OK").is_ok());
        assert_eq!(
            hc.judge(404, "not found").unwrap_err(),
            "HTTP 404: not found"
        );
        assert!(hc.judge(302, "").unwrap_err().contains("redirects"));
        let kuma = Target::parse("http://kuma.local/api/push/Xy12Ab34x9z0", None).unwrap();
        assert!(kuma.judge(200, r#"{"ok":true}"#).is_ok());
        let e = kuma
            .judge(
                200,
                r#"{"ok":false,"msg":"Monitor not found or not active."}"#,
            )
            .unwrap_err();
        assert_eq!(
            e,
            "monitor answered ok:false: Monitor not found or not active."
        );
        // An answer echoing the URL is scrubbed.
        let e = hc.judge(500, &format!("boom at /ping/{UUID}")).unwrap_err();
        assert!(!e.contains(UUID), "{e}");
    }

    #[test]
    fn run_ids_are_canonical_uuids_carrying_the_order_id() {
        let rid = run_id(42, 1_700_000_000_123);
        assert_eq!(rid.len(), 36);
        assert!(rid.ends_with("-000000000042"), "{rid}");
        assert!(rid
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)));
        assert_ne!(rid, run_id(42, 1_700_000_000_124));
    }
}
