//! Gotify (<https://gotify.net>): `gotify://host[:port][/prefix]/APPTOKEN`,
//! https unless `?disabletls=yes`. Sends `POST /message?token=APPTOKEN` with
//! JSON `{title, message, priority}`.
//! (The URL is read in `crate::urls::notify`.)

use super::{Message, Priority, Req, ReqBody};
use crate::urls::join;
use crate::urls::notify::Gotify;
use serde_json::json;

impl Gotify {
    pub(crate) fn requests(&self, msg: &Message) -> Vec<Req> {
        let mut url = join(&self.base, &["message"]);
        url.query_pairs_mut().append_pair("token", &self.token);
        let priority = match msg.priority {
            Priority::High => self.priority.max(8),
            Priority::Normal => self.priority,
        };
        let body = json!({ "title": msg.title, "message": msg.body, "priority": priority });
        vec![Req::post(url, ReqBody::Json(body))]
    }
}

#[cfg(test)]
mod tests {
    use super::super::Channel;
    use super::*;

    #[test]
    fn builds_the_message_request() {
        let Channel::Gotify(g) =
            Channel::parse("gotify://127.0.0.1:9000/gw/AbCdEfGhIj?disabletls=yes").unwrap()
        else {
            panic!()
        };
        let r = &g.requests(&Message::new("t", "Title", "Body").priority(Priority::High))[0];
        assert_eq!(
            r.url.as_str(),
            "http://127.0.0.1:9000/gw/message?token=AbCdEfGhIj"
        );
        assert_eq!(
            r.body,
            ReqBody::Json(json!({"title": "Title", "message": "Body", "priority": 8}))
        );
        assert_eq!(g.redacted(), "gotify://127.0.0.1:9000/gw/…GhIj");
    }

    #[test]
    fn a_token_is_required() {
        let e = Channel::parse("gotify://host").unwrap_err().to_string();
        assert!(e.contains("application token"), "{e}");
        let Channel::Gotify(g) = Channel::parse("gotify://host/tok").unwrap() else {
            panic!()
        };
        assert!(g.base.as_str().starts_with("https://host"));
    }
}
