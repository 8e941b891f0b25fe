//! ntfy (<https://ntfy.sh>): `ntfy://host/topic` (http), `ntfys://host/topic`
//! (https), `ntfy://topic` (the hosted ntfy.sh). Sends the body as text with
//! `Title`, `Priority` and `Tags` headers.

use url::Url;

use super::url::{decode, join, mask, query};
use super::{Auth, Message, Priority, Req, ReqBody};

#[derive(Debug, Clone, PartialEq)]
pub struct Ntfy {
    base: Url,
    topic: String,
    auth: Auth,
    priority: Option<String>,
    tags: Option<String>,
    tls: bool,
}

impl Ntfy {
    pub fn parse(url: &Url) -> Result<Ntfy, String> {
        let tls = url.scheme().eq_ignore_ascii_case("ntfys");
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("expected a host and topic, like ntfys://ntfy.sh/my-topic")?;
        let mut segments: Vec<String> = url
            .path_segments()
            .map(|s| s.filter(|s| !s.is_empty()).map(decode).collect())
            .unwrap_or_default();
        let (base, topic) = match segments.pop() {
            Some(topic) => {
                let scheme = if tls { "https" } else { "http" };
                let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
                let base = Url::parse(&format!("{scheme}://{host}{port}/"))
                    .map_err(|e| format!("bad host ({e})"))?;
                let prefix: Vec<&str> = segments.iter().map(String::as_str).collect();
                (join(&base, &prefix), topic)
            }
            // `ntfy://topic`: the hosted service.
            None => (
                Url::parse("https://ntfy.sh/").map_err(|e| e.to_string())?,
                host.to_string(),
            ),
        };
        let auth = if let Some(token) = query(url, "token") {
            Auth::Bearer(token)
        } else if !url.username().is_empty() {
            Auth::Basic(decode(url.username()), url.password().map(decode))
        } else if let Some(p) = url.password() {
            Auth::Bearer(decode(p))
        } else {
            Auth::None
        };
        let priority = query(url, "priority");
        if let Some(p) = &priority {
            let ok = matches!(
                p.as_str(),
                "1" | "2" | "3" | "4" | "5" | "min" | "low" | "default" | "high" | "max" | "urgent"
            );
            if !ok {
                return Err(format!(
                    "`priority={p}`: expected 1-5 or min, low, default, high, max"
                ));
            }
        }
        Ok(Ntfy {
            base,
            topic,
            auth,
            priority,
            tags: query(url, "tags"),
            tls,
        })
    }

    pub fn redacted(&self) -> String {
        let scheme = if self.tls { "ntfys" } else { "ntfy" };
        let user = match &self.auth {
            Auth::Basic(u, _) => format!("{u}:***@"),
            Auth::Bearer(_) => ":***@".into(),
            Auth::None => String::new(),
        };
        let host = self.base.host_str().unwrap_or("");
        let port = self
            .base
            .port()
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
        let prefix = self.base.path().trim_end_matches('/');
        format!(
            "{scheme}://{user}{host}{port}{prefix}/{}",
            mask(&self.topic)
        )
    }

    pub(crate) fn requests(&self, msg: &Message) -> Vec<Req> {
        let mut req = Req::post(
            join(&self.base, &[&self.topic]),
            ReqBody::Text(msg.body.clone()),
        );
        let priority = match (msg.priority, &self.priority) {
            (Priority::High, None) => Some("high".to_string()),
            (_, p) => p.clone(),
        };
        if !msg.title.is_empty() {
            req.headers.push(("title", msg.title.clone()));
        }
        if let Some(p) = priority {
            req.headers.push(("priority", p));
        }
        if let Some(t) = &self.tags {
            req.headers.push(("tags", t.clone()));
        }
        req.auth = self.auth.clone();
        vec![req]
    }
}

#[cfg(test)]
mod tests {
    use super::super::Channel;
    use super::*;

    fn parse(s: &str) -> Ntfy {
        match Channel::parse(s).unwrap() {
            Channel::Ntfy(n) => n,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn schemes_hosts_and_topics() {
        let n = parse("ntfy://127.0.0.1:8080/alerts");
        let r = &n.requests(&Message::new("t", "Hi", "body"))[0];
        assert_eq!(r.url.as_str(), "http://127.0.0.1:8080/alerts");
        assert_eq!(r.body, ReqBody::Text("body".into()));
        assert!(r.headers.contains(&("title", "Hi".into())));

        let n = parse("ntfys://push.example.org/sub/alerts");
        assert_eq!(
            n.requests(&Message::new("t", "", "b"))[0].url.as_str(),
            "https://push.example.org/sub/alerts"
        );
        let n = parse("ntfy://my-secret-topic");
        assert_eq!(
            n.requests(&Message::new("t", "", "b"))[0].url.as_str(),
            "https://ntfy.sh/my-secret-topic"
        );
    }

    #[test]
    fn auth_priority_and_redaction() {
        let n = parse("ntfys://ada:hunter22@ntfy.example/longsecrettopic?priority=max&tags=cart");
        assert_eq!(n.auth, Auth::Basic("ada".into(), Some("hunter22".into())));
        let r = &n.requests(&Message::new("t", "", "b").priority(Priority::High))[0];
        assert!(r.headers.contains(&("priority", "max".into())));
        assert!(r.headers.contains(&("tags", "cart".into())));
        let red = n.redacted();
        assert_eq!(red, "ntfys://ada:***@ntfy.example/lo***");
        let n = parse("ntfy://host/topic?token=tk_abcdefgh");
        assert_eq!(n.auth, Auth::Bearer("tk_abcdefgh".into()));
        assert!(!n.redacted().contains("tk_abc"));
        let r = &n.requests(&Message::new("t", "", "b").priority(Priority::High))[0];
        assert!(r.headers.contains(&("priority", "high".into())));
    }

    #[test]
    fn bad_priority_is_refused() {
        let e = Channel::parse("ntfy://h/t?priority=loud")
            .unwrap_err()
            .to_string();
        assert!(e.contains("priority=loud"), "{e}");
    }
}
