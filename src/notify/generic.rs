//! Any webhook: `generic+https://host/path?query` (or `generic+http://`;
//! bare `generic://` means https) gets a JSON `POST` of
//! `{title, message, priority, event, ...data}` at `https://host/path?query`.
//! User info in the URL becomes basic auth.
//! (The URL is read in `crate::urls::notify`.)

use super::{Message, Req, ReqBody};
use crate::urls::notify::Generic;
use serde_json::{json, Value};

impl Generic {
    pub(crate) fn requests(&self, msg: &Message) -> Vec<Req> {
        let mut body = json!({
            "title": msg.title,
            "message": msg.body,
            "priority": msg.priority,
            "event": msg.event,
        });
        if let Value::Object(map) = &mut body {
            for (k, v) in &msg.data {
                map.entry(k.clone()).or_insert_with(|| v.clone());
            }
            if let Some(a) = &msg.attachment {
                map.insert("attachment".into(), Value::from(a.name.clone()));
            }
        }
        let mut req = Req::post(self.target.clone(), ReqBody::Json(body));
        req.auth = self.auth.clone();
        vec![req]
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Channel, Priority};
    use super::*;
    use crate::urls::notify::Auth;

    #[test]
    fn posts_json_to_the_target() {
        let Channel::Generic(g) =
            Channel::parse("generic+http://u:p@127.0.0.1:9/hook/SECRETPATH?x=1").unwrap()
        else {
            panic!()
        };
        let msg = Message::new("signed_out", "T", "B")
            .priority(Priority::High)
            .data("store", "demo");
        let r = &g.requests(&msg)[0];
        assert_eq!(r.url.as_str(), "http://127.0.0.1:9/hook/SECRETPATH?x=1");
        assert_eq!(
            r.body,
            ReqBody::Json(
                json!({"title": "T", "message": "B", "priority": "high", "event": "signed_out", "store": "demo"})
            )
        );
        assert_eq!(r.auth, Auth::Basic("u".into(), Some("p".into())));
        assert_eq!(g.redacted(), "generic+http://***@127.0.0.1:9/…/?x=1");
        assert!(!g.redacted().contains("SECRETPATH"));
        let Channel::Generic(g) = Channel::parse("generic://hooks.example.org/x").unwrap() else {
            panic!()
        };
        assert_eq!(g.target.scheme(), "https");
    }
}
