//! ntfy (<https://ntfy.sh>): `ntfy://host/topic` (http), `ntfys://host/topic`
//! (https), `ntfy://topic` (the hosted ntfy.sh). Sends the body as text with
//! `Title`, `Priority` and `Tags` headers.
//! (The URL is read in `crate::urls::notify`.)

use super::{Message, Priority, Req, ReqBody};
use crate::urls::join;
use crate::urls::notify::Ntfy;

impl Ntfy {
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
    use crate::urls::notify::Auth;

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
        assert_eq!(red, "ntfys://ada:***@ntfy.example/…opic");
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
