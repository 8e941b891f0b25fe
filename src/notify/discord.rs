//! Discord webhooks: `discord://TOKEN@WEBHOOKID[?api=URL][&username=NAME]`.
//! Sends `POST {api}/api/webhooks/<WEBHOOKID>/<TOKEN>` with JSON
//! `{content}`; with a screenshot, multipart `payload_json` + `files[0]`.

use serde_json::json;
use url::Url;

use super::url::{api_base, decode, join, mask, query};
use super::{truncate, FormPart, Message, Req, ReqBody};

const API: &str = "https://discord.com";
const CONTENT_MAX: usize = 2000;

#[derive(Debug, Clone, PartialEq)]
pub struct Discord {
    id: String,
    token: String,
    username: Option<String>,
    api: Url,
}

impl Discord {
    pub fn parse(url: &Url) -> Result<Discord, String> {
        const EXAMPLE: &str = "like discord://TOKEN@WEBHOOKID (from the webhook URL .../api/webhooks/WEBHOOKID/TOKEN)";
        let id = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or(format!("expected the webhook id as the host, {EXAMPLE}"))?
            .to_string();
        let token = match (url.username(), url.password()) {
            ("", None) => return Err(format!("expected the webhook token before `@`, {EXAMPLE}")),
            ("", Some(p)) => decode(p),
            (u, _) => decode(u),
        };
        Ok(Discord {
            id,
            token,
            username: query(url, "username"),
            api: api_base(url, API)?,
        })
    }

    pub fn redacted(&self) -> String {
        let api = if self.api.as_str().trim_end_matches('/') == API {
            String::new()
        } else {
            format!("?api={}", self.api)
        };
        format!("discord://{}@{}{api}", mask(&self.token), self.id)
    }

    pub(crate) fn requests(&self, msg: &Message) -> Vec<Req> {
        let url = join(&self.api, &["api", "webhooks", &self.id, &self.token]);
        let mut payload = json!({ "content": truncate(&msg.text(), CONTENT_MAX) });
        if let Some(name) = &self.username {
            payload["username"] = name.clone().into();
        }
        let body = match &msg.attachment {
            None => ReqBody::Json(payload),
            Some(file) => ReqBody::Form(vec![
                FormPart::Text("payload_json", payload.to_string()),
                FormPart::File("files[0]", file.clone()),
            ]),
        };
        vec![Req::post(url, body)]
    }
}

#[cfg(test)]
mod tests {
    use super::super::Channel;
    use super::*;

    #[test]
    fn builds_the_webhook_request() {
        let Channel::Discord(d) =
            Channel::parse("discord://SeCrEtToKeN@1234?api=http://127.0.0.1:5").unwrap()
        else {
            panic!()
        };
        let r = &d.requests(&Message::new("e", "T", "B"))[0];
        assert_eq!(
            r.url.as_str(),
            "http://127.0.0.1:5/api/webhooks/1234/SeCrEtToKeN"
        );
        assert_eq!(r.body, ReqBody::Json(json!({"content": "T\nB"})));
        assert!(!d.redacted().contains("SeCrEtToKeN"));
        assert!(Channel::parse("discord://1234").is_err());
    }
}
