//! Notification URLs (`RESTOCK_NOTIFY`), in the style people know from
//! shoutrrr/Apprise: each read into a [`Channel`] once, when the config
//! loads, with its secrets kept apart so it can be shown redacted. The
//! requests each channel makes are in `crate::notify`.
//!
//! | URL | means |
//! | --- | --- |
//! | `ntfy://host[:port][/prefix]/topic`, `ntfys://…` (https), `ntfy://topic` (ntfy.sh) | ntfy |
//! | `gotify://host[:port][/prefix]/APPTOKEN` | Gotify |
//! | `telegram://BOTTOKEN@telegram?chats=ID[,ID..]` | Telegram bot |
//! | `discord://TOKEN@WEBHOOKID` | Discord webhook |
//! | `generic+https://host/path[?query]` (`generic+http://`, `generic://` = https) | any JSON webhook |

use std::fmt;

use url::Url;

use super::{api_base, decode, host_port, join, query};
use crate::text::{mask, redact_url};

/// How a channel authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    Basic(String, Option<String>),
    Bearer(String),
}

/// Why a notification URL was refused; `value` is already redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("notification URL `{value}`: {reason}")]
pub struct BadNotifyUrl {
    pub value: String,
    pub reason: String,
}

const SCHEMES: &str = "ntfy://, ntfys://, gotify://, telegram://, discord://, generic+https://";

/// One configured notification channel.
#[derive(Debug, Clone, PartialEq)]
pub enum Channel {
    Ntfy(Ntfy),
    Gotify(Gotify),
    Telegram(Telegram),
    Discord(Discord),
    Generic(Generic),
}

impl Channel {
    /// Parses one URL; the error names the URL redacted and says what is
    /// expected.
    pub fn parse(raw: &str) -> Result<Channel, BadNotifyUrl> {
        let bad = |reason: String| BadNotifyUrl {
            value: redact_url(raw),
            reason,
        };
        let raw = raw.trim();
        let scheme = raw.split("://").next().unwrap_or("").to_ascii_lowercase();
        if !raw.contains("://") {
            return Err(bad(format!("not a URL; expected one of {SCHEMES}")));
        }
        let url = Url::parse(raw).map_err(|e| bad(format!("not a valid URL ({e})")))?;
        let channel = match scheme.as_str() {
            "ntfy" | "ntfys" => Ntfy::parse(&url).map(Channel::Ntfy),
            "gotify" => Gotify::parse(&url).map(Channel::Gotify),
            "telegram" => Telegram::parse(&url).map(Channel::Telegram),
            "discord" => Discord::parse(&url).map(Channel::Discord),
            "generic" | "generic+http" | "generic+https" => {
                Generic::parse(&url).map(Channel::Generic)
            }
            other => Err(format!(
                "unknown scheme `{other}://`; expected one of {SCHEMES}"
            )),
        };
        channel.map_err(bad)
    }

    /// The URL with its secrets masked, for logs and output.
    pub fn redacted(&self) -> String {
        match self {
            Channel::Ntfy(c) => c.redacted(),
            Channel::Gotify(c) => c.redacted(),
            Channel::Telegram(c) => c.redacted(),
            Channel::Discord(c) => c.redacted(),
            Channel::Generic(c) => c.redacted(),
        }
    }
}

/// A `RESTOCK_NOTIFY` entry: the channel it names, and the URL as written
/// (which it serializes to, for the config's own round trip; output uses
/// [`Channel::redacted`], which `Debug` and `Display` show).
#[derive(Clone, PartialEq)]
pub struct NotifyUrl {
    raw: String,
    pub channel: Channel,
}

impl NotifyUrl {
    pub fn parse(raw: &str) -> Result<NotifyUrl, BadNotifyUrl> {
        Ok(NotifyUrl {
            raw: raw.trim().to_string(),
            channel: Channel::parse(raw)?,
        })
    }
}

impl fmt::Debug for NotifyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NotifyUrl({})", self.channel.redacted())
    }
}

impl fmt::Display for NotifyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.channel.redacted())
    }
}

impl std::str::FromStr for NotifyUrl {
    type Err = BadNotifyUrl;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NotifyUrl::parse(s)
    }
}

impl serde::Serialize for NotifyUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

impl<'de> serde::Deserialize<'de> for NotifyUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        NotifyUrl::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// ntfy (<https://ntfy.sh>): `ntfy://host/topic` (http), `ntfys://host/topic`
/// (https), `ntfy://topic` (the hosted ntfy.sh). Sends the body as text with
/// `Title`, `Priority` and `Tags` headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Ntfy {
    pub(crate) base: Url,
    pub(crate) topic: String,
    pub(crate) auth: Auth,
    pub(crate) priority: Option<String>,
    pub(crate) tags: Option<String>,
    pub(crate) tls: bool,
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
        let prefix = self.base.path().trim_end_matches('/');
        format!(
            "{scheme}://{user}{}{prefix}/{}",
            host_port(&self.base),
            mask(&self.topic)
        )
    }
}

/// Gotify (<https://gotify.net>): `gotify://host[:port][/prefix]/APPTOKEN`,
/// https unless `?disabletls=yes`. Sends `POST /message?token=APPTOKEN` with
/// JSON `{title, message, priority}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Gotify {
    pub(crate) base: Url,
    pub(crate) token: String,
    pub(crate) priority: i64,
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
        let prefix = self.base.path().trim_end_matches('/');
        format!(
            "gotify://{}{prefix}/{}",
            host_port(&self.base),
            mask(&self.token)
        )
    }
}

/// Telegram's hosted API.
pub(crate) const TELEGRAM_API: &str = "https://api.telegram.org";

/// Telegram: `telegram://BOTTOKEN@telegram?chats=ID[,ID..][&api=URL]`.
/// Sends `POST {api}/bot<BOTTOKEN>/sendMessage` with JSON `{chat_id, text}`
/// per chat; with a screenshot, `sendPhoto` as multipart (`chat_id`,
/// `caption`, `photo`), preceded by a `sendMessage` when the text is longer
/// than a caption may be (1024 characters).
#[derive(Debug, Clone, PartialEq)]
pub struct Telegram {
    pub(crate) token: String,
    pub(crate) chats: Vec<String>,
    pub(crate) api: Url,
}

impl Telegram {
    pub fn parse(url: &Url) -> Result<Telegram, String> {
        const EXAMPLE: &str = "like telegram://123456:ABC-token@telegram?chats=42";
        if !url
            .host_str()
            .is_some_and(|h| h.eq_ignore_ascii_case("telegram"))
        {
            return Err(format!("the host must be the word `telegram`, {EXAMPLE}"));
        }
        let token = match (url.username(), url.password()) {
            ("", _) => return Err(format!("expected the bot token before `@`, {EXAMPLE}")),
            (user, Some(pass)) => format!("{}:{}", decode(user), decode(pass)),
            (user, None) => decode(user),
        };
        let chats: Vec<String> = query(url, "chats")
            .or_else(|| query(url, "channels"))
            .unwrap_or_default()
            .split(',')
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        if chats.is_empty() {
            return Err(format!(
                "expected `chats=` with at least one chat id, {EXAMPLE}"
            ));
        }
        Ok(Telegram {
            token,
            chats,
            api: api_base(url, TELEGRAM_API)?,
        })
    }

    pub fn redacted(&self) -> String {
        let bot = self.token.split(':').next().unwrap_or("");
        let api = if self.api.as_str().trim_end_matches('/') == TELEGRAM_API {
            String::new()
        } else {
            format!("&api={}", self.api)
        };
        format!(
            "telegram://{bot}:***@telegram?chats={}{api}",
            self.chats.join(",")
        )
    }
}

/// Discord's hosted API.
pub(crate) const DISCORD_API: &str = "https://discord.com";

/// Discord webhooks: `discord://TOKEN@WEBHOOKID[?api=URL][&username=NAME]`.
/// Sends `POST {api}/api/webhooks/<WEBHOOKID>/<TOKEN>` with JSON
/// `{content}`; with a screenshot, multipart `payload_json` + `files[0]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Discord {
    pub(crate) id: String,
    pub(crate) token: String,
    pub(crate) username: Option<String>,
    pub(crate) api: Url,
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
            api: api_base(url, DISCORD_API)?,
        })
    }

    pub fn redacted(&self) -> String {
        let api = if self.api.as_str().trim_end_matches('/') == DISCORD_API {
            String::new()
        } else {
            format!("?api={}", self.api)
        };
        format!("discord://{}@{}{api}", mask(&self.token), self.id)
    }
}

/// Any webhook: `generic+https://host/path?query` (or `generic+http://`;
/// bare `generic://` means https) gets a JSON `POST` of
/// `{title, message, priority, event, ...data}` at `https://host/path?query`.
/// User info in the URL becomes basic auth.
#[derive(Debug, Clone, PartialEq)]
pub struct Generic {
    pub(crate) target: Url,
    pub(crate) auth: Auth,
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
        let shown = redact_url(self.target.as_str());
        let shown = shown
            .split_once("://")
            .map_or(shown.as_str(), |(_, rest)| rest);
        let user = if self.auth == Auth::None { "" } else { "***@" };
        format!("generic+{}://{user}{shown}", self.target.scheme())
    }
}
