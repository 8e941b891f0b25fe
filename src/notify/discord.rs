//! Discord webhooks: `discord://TOKEN@WEBHOOKID[?api=URL][&username=NAME]`.
//! Sends `POST {api}/api/webhooks/<WEBHOOKID>/<TOKEN>` with JSON
//! `{content}`; with a screenshot, multipart `payload_json` + `files[0]`.
//! (The URL is read in `crate::urls::notify`.)

use super::{FormPart, Message, Req, ReqBody};
use crate::text::truncate;
use crate::urls::join;
use crate::urls::notify::Discord;
use serde_json::json;

const CONTENT_MAX: usize = 2000;

impl Discord {
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
