//! Telegram: `telegram://BOTTOKEN@telegram?chats=ID[,ID..][&api=URL]`.
//! Sends `POST {api}/bot<BOTTOKEN>/sendMessage` with JSON `{chat_id, text}`
//! per chat; with a screenshot, `sendPhoto` as multipart (`chat_id`,
//! `caption`, `photo`), preceded by a `sendMessage` when the text is longer
//! than a caption may be (1024 characters).
//! (The URL is read in `crate::urls::notify`.)

use super::{FormPart, Message, Req, ReqBody};
use crate::text::truncate;
use crate::urls::join;
use crate::urls::notify::Telegram;
use serde_json::{json, Value};
use url::Url;

const CAPTION_MAX: usize = 1024;
const TEXT_MAX: usize = 4096;

impl Telegram {
    fn method(&self, name: &str) -> Url {
        join(&self.api, &[&format!("bot{}", self.token), name])
    }

    pub(crate) fn requests(&self, msg: &Message) -> Vec<Req> {
        let text = msg.text();
        let mut out = Vec::new();
        for chat in &self.chats {
            let Some(photo) = &msg.attachment else {
                out.push(self.send_message(chat, &text));
                continue;
            };
            let caption = if text.chars().count() <= CAPTION_MAX {
                text.clone()
            } else {
                out.push(self.send_message(chat, &text));
                truncate(&msg.title, CAPTION_MAX)
            };
            out.push(Req::post(
                self.method("sendPhoto"),
                ReqBody::Form(vec![
                    FormPart::Text("chat_id", chat.clone()),
                    FormPart::Text("caption", caption),
                    FormPart::File("photo", photo.clone()),
                ]),
            ));
        }
        out
    }

    fn send_message(&self, chat: &str, text: &str) -> Req {
        let body = json!({ "chat_id": chat_id(chat), "text": truncate(text, TEXT_MAX) });
        Req::post(self.method("sendMessage"), ReqBody::Json(body))
    }
}

/// Numeric ids go as numbers, `@channel` names as strings.
fn chat_id(chat: &str) -> Value {
    chat.parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::from(chat))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::{Attachment, Channel};
    use super::*;

    fn parse(s: &str) -> Telegram {
        match Channel::parse(s).unwrap() {
            Channel::Telegram(t) => t,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn text_goes_to_every_chat() {
        let t = parse("telegram://123456:ABC-DEF@telegram?chats=42,@news&api=http://127.0.0.1:7/");
        let reqs = t.requests(&Message::new("e", "Title", "Body"));
        assert_eq!(reqs.len(), 2);
        assert_eq!(
            reqs[0].url.as_str(),
            "http://127.0.0.1:7/bot123456:ABC-DEF/sendMessage"
        );
        assert_eq!(
            reqs[0].body,
            ReqBody::Json(json!({"chat_id": 42, "text": "Title\nBody"}))
        );
        assert_eq!(
            reqs[1].body,
            ReqBody::Json(json!({"chat_id": "@news", "text": "Title\nBody"}))
        );
        let red = t.redacted();
        assert!(!red.contains("ABC-DEF"), "{red}");
        assert!(
            red.starts_with("telegram://123456:***@telegram?chats=42,@news"),
            "{red}"
        );
    }

    #[test]
    fn a_screenshot_goes_as_a_photo() {
        let t = parse("telegram://1:x@telegram?chats=42");
        let png = Attachment {
            name: "s.png".into(),
            mime: "image/png",
            bytes: Arc::new(vec![1, 2, 3]),
        };
        let msg = Message::new("paused", "T", "B").attach(png.clone());
        let reqs = t.requests(&msg);
        assert_eq!(reqs.len(), 1);
        assert!(reqs[0].url.as_str().ends_with("/bot1:x/sendPhoto"));
        let long = Message::new("paused", "T", "x".repeat(2000)).attach(png);
        let reqs = t.requests(&long);
        assert_eq!(reqs.len(), 2, "long text goes first as a message");
    }

    #[test]
    fn host_token_and_chats_are_required() {
        for (url, want) in [
            ("telegram://tok@example.org?chats=1", "word `telegram`"),
            ("telegram://telegram?chats=1", "bot token"),
            ("telegram://1:tok@telegram", "chats="),
            ("telegram://1:tok@telegram?chats=1&api=ftp://x", "http(s)"),
        ] {
            let e = Channel::parse(url).unwrap_err().to_string();
            assert!(e.contains(want), "{url}: {e}");
            assert!(!e.contains("tok@"), "{e}");
        }
    }
}
