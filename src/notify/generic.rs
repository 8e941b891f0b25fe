//! Any webhook: `generic+https://host/path?query` (or `generic+http://`;
//! bare `generic://` means https) gets a JSON `POST` of
//! `{title, message, priority, event, ...data}` at `https://host/path?query`.
//! User info in the URL becomes basic auth.

use serde_json::{json, Value};
use url::Url;

use super::url::decode;
use super::{Auth, Message, Req, ReqBody};

#[derive(Debug, Clone, PartialEq)]
pub struct Generic {
    target: Url,
    auth: Auth,
}

impl Generic {
    pub fn parse(url: &Url) -> Result<Generic, String> {
        let scheme = match url.scheme() {
            "generic+http" => "http",
            _ => "https",
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("expected a host, like generic+https://hooks.example.org/restock")?;
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
        let target = Url::parse(&format!("{scheme}://{host}{port}{}{query}", url.path()))
            .map_err(|e| format!("cannot make an http URL of it ({e})"))?;
        let auth = if url.username().is_empty() && url.password().is_none() {
            Auth::None
        } else {
            Auth::Basic(decode(url.username()), url.password().map(decode))
        };
        Ok(Generic { target, auth })
    }

    pub fn redacted(&self) -> String {
        let user = if self.auth == Auth::None { "" } else { "***@" };
        let host = self.target.host_str().unwrap_or("");
        let port = self
            .target
            .port()
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
        let rest = if matches!(self.target.path(), "" | "/") && self.target.query().is_none() {
            ""
        } else {
            "/***"
        };
        format!(
            "generic+{}://{user}{host}{port}{rest}",
            self.target.scheme()
        )
    }

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
        assert_eq!(g.redacted(), "generic+http://***@127.0.0.1:9/***");
        let Channel::Generic(g) = Channel::parse("generic://hooks.example.org/x").unwrap() else {
            panic!()
        };
        assert_eq!(g.target.scheme(), "https");
    }
}
