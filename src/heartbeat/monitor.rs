//! Monitor protocols: the request each kind of ping becomes and how an
//! answer is judged. (Which protocol a URL speaks, and how it is shown
//! without its secret, is read with the URL: [`crate::urls::monitor`].)
//!
//! The protocols are data ([`PROTOCOLS`]): a request [`Shape`] per thing a
//! ping can say, and how an answer is acknowledged. Adding a monitor
//! service is adding a row here and one in `urls::monitor`, not a branch.
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
//! `restock doctor` sends one [`Say::Test`] ping per monitor: Healthchecks
//! has a `/log` endpoint that records an event without changing the check's
//! state; Uptime Kuma and plain URLs have no test mode, so theirs is a
//! normal "up" ping (each protocol's `test_note` says which).
//!
//! Redirects are not followed (a `3xx` is a failure telling the owner to
//! configure the final URL): a `Location` may carry the secret into logs.

use std::time::Duration;

use url::Url;

use crate::model::{MonitorKind, Say};
use crate::text::one_line;
use crate::urls::MonitorUrl;

/// `RESTOCK_HEARTBEAT_KIND`: `auto` is `None`; anything unknown is an error
/// listing the choices.
pub fn parse_kind_setting(s: &str) -> Result<Option<MonitorKind>, String> {
    match s.trim() {
        "auto" => Ok(None),
        other => other.parse().map(Some).map_err(|_| {
            let names: Vec<&str> = MonitorKind::all().map(MonitorKind::as_str).collect();
            format!("one of auto, {}", names.join(", "))
        }),
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
    kind: MonitorKind,
    /// Query keys the protocol owns: dropped from the configured URL before
    /// ours are added.
    owned_query: &'static [&'static str],
    /// `[Up, Down, Start, Success, Fail, Test]`; `None` means the protocol
    /// cannot say it and the ping is withheld.
    shapes: [Option<Shape>; 6],
    ack: Ack,
    /// What a [`Say::Test`] ping does at the monitor, for `restock doctor`.
    test_note: &'static str,
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
        kind: MonitorKind::Healthchecks,
        owned_query: &["rid"],
        shapes: [
            shape(Verb::Post, None, &[], true),
            shape(Verb::Post, Some("fail"), &[], true),
            shape(Verb::Post, Some("start"), RID, true),
            shape(Verb::Post, None, RID, true),
            shape(Verb::Post, Some("fail"), RID, true),
            shape(Verb::Post, Some("log"), &[], true),
        ],
        ack: Ack::Status,
        test_note: "sent to /log: logged as an event, the check's state is unchanged",
    },
    Protocol {
        kind: MonitorKind::UptimeKuma,
        owned_query: &["status", "msg", "ping"],
        shapes: [
            shape(Verb::Get, None, KUMA_UP, false),
            shape(Verb::Get, None, KUMA_DOWN, false),
            shape(Verb::Get, None, KUMA_UP, false),
            shape(Verb::Get, None, KUMA_UP, false),
            shape(Verb::Get, None, KUMA_DOWN, false),
            shape(Verb::Get, None, KUMA_UP, false),
        ],
        ack: Ack::KumaJson,
        test_note: "Uptime Kuma has no test mode: this was a normal `up` push",
    },
    Protocol {
        kind: MonitorKind::Get,
        owned_query: &[],
        shapes: [
            shape(Verb::Get, None, &[], false),
            None,
            shape(Verb::Get, None, &[], false),
            shape(Verb::Get, None, &[], false),
            None,
            shape(Verb::Get, None, &[], false),
        ],
        ack: Ack::Status,
        test_note: "a plain URL has no test mode: this was a normal ping",
    },
];

fn protocol(kind: MonitorKind) -> &'static Protocol {
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
            Say::Test => 5,
        };
        self.shapes[i].as_ref()
    }
}

/// The protocol side of a monitor URL (reading it is
/// [`crate::urls::monitor`]'s job).
impl MonitorUrl {
    /// What a [`Say::Test`] ping does at this monitor (marked as a test, or
    /// a normal ping because the protocol has no test mode).
    pub fn test_note(&self) -> &'static str {
        protocol(self.kind).test_note
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
        let mut url = self.url().clone();
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

    fn built(t: &MonitorUrl, say: Say) -> Option<(String, String, Option<String>)> {
        let client = reqwest::Client::new();
        let req = t.request(&client, &ping(say), Some(37))?.build().unwrap();
        let body = req
            .body()
            .and_then(|b| b.as_bytes())
            .map(|b| String::from_utf8_lossy(b).into_owned());
        Some((req.method().to_string(), req.url().to_string(), body))
    }

    #[test]
    fn healthchecks_request_shapes() {
        let t = MonitorUrl::parse(&format!("https://hc.example.org/ping/{UUID}")).unwrap();
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
        let (m, u, _) = built(&t, Say::Test).unwrap();
        assert_eq!((m.as_str(), u), ("POST", format!("{base}/log")));
    }

    #[test]
    fn kuma_request_replaces_its_own_query() {
        let t = MonitorUrl::parse(
            "http://kuma.local:3001/api/push/Xy12Ab34x9z0?status=up&msg=OK&ping=",
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
        let t = MonitorUrl::parse("https://example.org/beat?k=abcdef123456").unwrap();
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
        let hc = MonitorUrl::parse(&format!("https://hc.example.org/ping/{UUID}")).unwrap();
        assert!(hc.judge(200, "OK").is_ok());
        assert_eq!(
            hc.judge(404, "not found").unwrap_err(),
            "HTTP 404: not found"
        );
        assert!(hc.judge(302, "").unwrap_err().contains("redirects"));
        let kuma = MonitorUrl::parse("http://kuma.local/api/push/Xy12Ab34x9z0").unwrap();
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
