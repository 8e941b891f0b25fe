//! Gotify (<https://gotify.net>): `gotify://host[:port][/prefix]/APPTOKEN`,
//! https unless `?disabletls=yes`. Sends `POST /message?token=APPTOKEN` with
//! JSON `{title, message, priority}`.

use serde_json::json;
use url::Url;

use super::url::{decode, join, mask, query};
use super::{Message, Priority, Req, ReqBody};

#[derive(Debug, Clone, PartialEq)]
pub struct Gotify {
    base: Url,
    token: String,
    priority: i64,
}

impl Gotify {
    pub fn parse(url: &Url) -> Result<Gotify, String> {
        const EXAMPLE: &str = "like gotify://gotify.example.org/AppToken";
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or(format!("expected a host, {EXAMPLE}"))?;
        let mut segments: Vec<String> = url
            .path_segments()
            .map(|s| s.filter(|s| !s.is_empty()).map(decode).collect())
            .unwrap_or_default();
        let token = segments.pop().ok_or(format!(
            "expected the application token as the last path part, {EXAMPLE}"
        ))?;
        let plain = query(url, "disabletls")
            .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "yes" | "true" | "1"));
        let scheme = if plain { "http" } else { "https" };
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let base = Url::parse(&format!("{scheme}://{host}{port}/")).map_err(|e| e.to_string())?;
        let prefix: Vec<&str> = segments.iter().map(String::as_str).collect();
        let priority = match query(url, "priority") {
            Some(p) => p
                .parse::<i64>()
                .map_err(|_| format!("`priority={p}`: expected a number, like 5"))?,
            None => 5,
        };
        Ok(Gotify {
            base: join(&base, &prefix),
            token,
            priority,
        })
    }

    pub fn redacted(&self) -> String {
        let host = self.base.host_str().unwrap_or("");
        let port = self
            .base
            .port()
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
        let prefix = self.base.path().trim_end_matches('/');
        format!("gotify://{host}{port}{prefix}/{}", mask(&self.token))
    }

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
        assert_eq!(g.redacted(), "gotify://127.0.0.1:9000/gw/Ab***");
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
