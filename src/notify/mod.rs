//! Owner notifications: one message, every configured channel, best effort.
//!
//! `RESTOCK_NOTIFY` holds one or more URLs (comma-separated in the
//! environment, a list in TOML) in the style people know from
//! shoutrrr/Apprise. Every URL is checked at startup; a malformed one stops
//! the service with the reason. The exact syntax:
//!
//! | URL | sends |
//! | --- | --- |
//! | `ntfy://host[:port][/prefix]/topic` | `POST http://host/topic`, text body, `Title`, `Priority`, `Tags` headers |
//! | `ntfys://host[:port][/prefix]/topic` | the same over `https` |
//! | `ntfy://topic` (no path) | `POST https://ntfy.sh/topic` |
//! | `gotify://host[:port][/prefix]/APPTOKEN` | `POST https://host/message?token=APPTOKEN`, JSON `{title, message, priority}` |
//! | `telegram://BOTTOKEN@telegram?chats=ID[,ID..]` | `POST https://api.telegram.org/bot<BOTTOKEN>/sendMessage`, JSON `{chat_id, text}`; with a screenshot `sendPhoto` (multipart: `chat_id`, `caption`, `photo`) |
//! | `discord://TOKEN@WEBHOOKID` | `POST https://discord.com/api/webhooks/<WEBHOOKID>/<TOKEN>`, JSON `{content}`; with a screenshot multipart `payload_json` + `files[0]` |
//! | `generic+https://host/path[?query]` (or `generic+http://`, `generic://` = https) | `POST` of JSON `{title, message, priority, event, ...}` to `https://host/path?query` |
//!
//! Options, as query parameters:
//! - ntfy: `user:password@` (basic auth) or `?token=tk_..` (bearer),
//!   `?priority=1..5|min|low|default|high|max`, `?tags=a,b`.
//! - gotify: `?priority=N` (default 5; messages that need a human use at
//!   least 8), `?disabletls=yes` for plain `http`.
//! - telegram, discord: `?api=http(s)://host[:port][/prefix]` replaces the
//!   hosted API base (`https://api.telegram.org`, `https://discord.com`),
//!   for self-hosted gateways and for tests pointing at 127.0.0.1.
//! - discord: `?username=NAME` sets the webhook's display name.
//! - generic: `user:password@` becomes basic auth; the query is kept on
//!   the target URL as given.
//!
//! The Telegram bot token contains a colon (`123456:ABC-DEF`); write it as
//! is in the user-info part: `telegram://123456:ABC-DEF@telegram?chats=42`.
//!
//! Secrets (tokens, passwords, topics, generic paths) are never shown whole:
//! logs, errors, `restock test-notify` and `restock status` use
//! [`Channel::redacted`], e.g. `telegram://123456:***@telegram?chats=42`.
//!
//! Sending never blocks the caller: [`Notifier::send`] spawns a task that
//! delivers to every channel concurrently, each request bounded by a
//! timeout and retried a bounded number of times with exponential backoff
//! on network errors, 5xx and 429 answers (other 4xx answers are final).
//! Failures are logged and never raised.

mod discord;
mod generic;
mod gotify;
mod ntfy;
mod telegram;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::urls::notify::Auth;
pub use crate::urls::{Channel, NotifyUrl};

/// How urgent a message is; channels map it to their own priority scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Normal,
    /// Something waits for a human (sign in, a paused engine).
    High,
}

/// A file sent along where the channel supports files (Telegram, Discord).
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub name: String,
    pub mime: &'static str,
    pub bytes: Arc<Vec<u8>>,
}

/// One notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub title: String,
    pub body: String,
    pub priority: Priority,
    /// A short machine-readable name (`signed_out`, `reminder`, `signed_in`,
    /// `paused`, `test`), sent as `event` by the generic JSON channel.
    pub event: String,
    /// Extra fields for the generic JSON channel (`store`, `order_id`).
    pub data: serde_json::Map<String, Value>,
    pub attachment: Option<Attachment>,
}

impl Message {
    pub fn new(event: &str, title: impl Into<String>, body: impl Into<String>) -> Message {
        Message {
            title: title.into(),
            body: body.into(),
            priority: Priority::Normal,
            event: event.to_string(),
            data: serde_json::Map::new(),
            attachment: None,
        }
    }

    pub fn priority(mut self, priority: Priority) -> Message {
        self.priority = priority;
        self
    }

    pub fn data(mut self, key: &str, value: impl Into<Value>) -> Message {
        self.data.insert(key.to_string(), value.into());
        self
    }

    pub fn attach(mut self, attachment: Attachment) -> Message {
        self.attachment = Some(attachment);
        self
    }

    /// Title and body in one text, for channels with a single text field.
    fn text(&self) -> String {
        if self.title.is_empty() {
            self.body.clone()
        } else {
            format!("{}\n{}", self.title, self.body)
        }
    }
}

/// Retries for one request: `attempts` tries in all, waiting `backoff`,
/// then twice that, ... (at most `max_backoff`) between them; each try
/// bounded by `timeout`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub backoff: Duration,
    pub max_backoff: Duration,
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(15),
        }
    }
}

impl RetryPolicy {
    fn delay(&self, failed_attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(failed_attempts.saturating_sub(1));
        self.backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// How one channel took one message.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Delivery {
    /// The channel, redacted.
    pub channel: String,
    pub ok: bool,
    /// Requests tried in all (several recipients or retries add up).
    pub attempts: u32,
    /// `200 OK in 35ms`, or why it failed.
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    BadUrl(#[from] crate::urls::BadNotifyUrl),
    #[error("cannot build the HTTP client for notifications")]
    Client(#[source] reqwest::Error),
}

/// Every configured channel and the HTTP client they share. Cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    channels: Vec<Channel>,
    client: Client,
    retry: RetryPolicy,
    /// Rewrites each message before it is sent (see [`Notifier::set_decorator`]).
    decorate: std::sync::OnceLock<Decorator>,
}

/// Rewrites a message before it is sent: the sign-in service adds a fresh
/// one-time link to messages that ask the owner to sign in
/// (`crate::signin::notify`).
pub type Decorator =
    Arc<dyn Fn(Message) -> futures::future::BoxFuture<'static, Message> + Send + Sync>;

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("channels", &self.channels())
            .finish()
    }
}

impl Notifier {
    /// Parses every URL; the first bad one is the error.
    pub fn parse(urls: &[String]) -> Result<Notifier, NotifyError> {
        let channels = urls
            .iter()
            .map(|u| Channel::parse(u))
            .collect::<Result<Vec<_>, _>>()?;
        Notifier::with_channels(channels, RetryPolicy::default())
    }

    /// The channels the config read from `RESTOCK_NOTIFY`.
    pub fn from_config(config: &crate::config::Config) -> Result<Notifier, NotifyError> {
        let channels = config.notify.iter().map(|u| u.channel.clone()).collect();
        Notifier::with_channels(channels, RetryPolicy::default())
    }

    /// A notifier with no channel: every send is a no-op.
    pub fn none() -> Notifier {
        Notifier {
            inner: Arc::new(Inner {
                channels: Vec::new(),
                client: Client::new(),
                retry: RetryPolicy::default(),
                decorate: Default::default(),
            }),
        }
    }

    fn with_channels(channels: Vec<Channel>, retry: RetryPolicy) -> Result<Notifier, NotifyError> {
        let client = Client::builder()
            .timeout(retry.timeout)
            .user_agent(concat!("restock/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(NotifyError::Client)?;
        Ok(Notifier {
            inner: Arc::new(Inner {
                channels,
                client,
                retry,
                decorate: Default::default(),
            }),
        })
    }

    /// The same channels with another retry policy (tests use short ones).
    pub fn with_retry(self, retry: RetryPolicy) -> Result<Notifier, NotifyError> {
        let channels = self.inner.channels.clone();
        Notifier::with_channels(channels, retry)
    }

    pub fn is_empty(&self) -> bool {
        self.inner.channels.is_empty()
    }

    /// The channels, redacted, for logs and `restock status`.
    pub fn channels(&self) -> Vec<String> {
        self.inner.channels.iter().map(Channel::redacted).collect()
    }

    /// Sends in a spawned task and returns at once; the handle yields what
    /// each channel did (a CLI awaits it before exiting, the server does
    /// not). Must be called inside a tokio runtime.
    pub fn send(&self, msg: Message) -> JoinHandle<Vec<Delivery>> {
        let me = self.clone();
        tokio::spawn(async move {
            let msg = match me.inner.decorate.get() {
                Some(decorate) if !me.is_empty() => decorate(msg).await,
                _ => msg,
            };
            me.deliver(&msg).await
        })
    }

    /// Installs the one [`Decorator`] every later [`Notifier::send`] runs
    /// (clones share it); a second call is ignored.
    pub fn set_decorator(&self, decorate: Decorator) {
        let _ = self.inner.decorate.set(decorate);
    }

    /// Delivers to every channel concurrently and waits for all of them
    /// (each bounded by the retry policy). Failures are logged.
    pub async fn deliver(&self, msg: &Message) -> Vec<Delivery> {
        let sends = self
            .inner
            .channels
            .iter()
            .map(|channel| self.deliver_one(channel, msg));
        futures::future::join_all(sends).await
    }

    async fn deliver_one(&self, channel: &Channel, msg: &Message) -> Delivery {
        let name = channel.redacted();
        let mut attempts = 0;
        let mut details = Vec::new();
        let mut ok = true;
        for req in requests(channel, msg) {
            let (sent, tries, detail) = self.send_with_retries(&req).await;
            attempts += tries;
            ok &= sent;
            details.push(detail);
        }
        let detail = details.join("; ");
        if ok {
            tracing::info!(channel = %name, event = %msg.event, %detail, "notification sent");
        } else {
            tracing::warn!(channel = %name, event = %msg.event, %detail, attempts, "notification failed");
        }
        Delivery {
            channel: name,
            ok,
            attempts,
            detail,
        }
    }

    /// One request with bounded retries: (sent, tries, detail).
    async fn send_with_retries(&self, req: &Req) -> (bool, u32, String) {
        let retry = &self.inner.retry;
        let max = retry.attempts.max(1);
        let mut last = String::new();
        for attempt in 1..=max {
            let started = Instant::now();
            let result = req.build(&self.inner.client).send().await;
            let took = started.elapsed().as_millis();
            let (retryable, wait) = match result {
                Ok(resp) if resp.status().is_success() => {
                    return (true, attempt, format!("{} in {took}ms", resp.status()));
                }
                Ok(resp) => {
                    let status = resp.status();
                    let wait = retry_after(&resp);
                    let body = resp.text().await.unwrap_or_default();
                    last = format!("answered {status}{}", short_body(&body));
                    (
                        status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS,
                        wait,
                    )
                }
                Err(e) => {
                    // `without_url`: the URL carries the channel's secrets.
                    last = e.without_url().to_string();
                    (true, None)
                }
            };
            if !retryable || attempt == max {
                return (false, attempt, format!("{last} (after {attempt} tries)"));
            }
            let delay = wait
                .unwrap_or_else(|| retry.delay(attempt))
                .min(retry.max_backoff);
            tracing::debug!(attempt, error = %last, ?delay, "notification attempt failed; retrying");
            tokio::time::sleep(delay).await;
        }
        (false, max, last)
    }
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn short_body(body: &str) -> String {
    let body = crate::text::one_line(body, 200);
    if body.is_empty() {
        body
    } else {
        format!(": {body}")
    }
}

/// One HTTP request a channel makes for a message, rebuilt for each try
/// (a multipart body cannot be replayed).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Req {
    pub method: Method,
    pub url: ::url::Url,
    pub headers: Vec<(&'static str, String)>,
    pub auth: Auth,
    pub body: ReqBody,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ReqBody {
    Text(String),
    Json(Value),
    Form(Vec<FormPart>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FormPart {
    Text(&'static str, String),
    File(&'static str, Attachment),
}

impl Req {
    pub(crate) fn post(url: ::url::Url, body: ReqBody) -> Req {
        Req {
            method: Method::POST,
            url,
            headers: Vec::new(),
            auth: Auth::None,
            body,
        }
    }

    fn build(&self, client: &Client) -> RequestBuilder {
        let mut b = client.request(self.method.clone(), self.url.clone());
        for (name, value) in &self.headers {
            if let Ok(v) = HeaderValue::from_str(&header_safe(value)) {
                b = b.header(HeaderName::from_static(name), v);
            }
        }
        b = match &self.auth {
            Auth::None => b,
            Auth::Basic(user, pass) => b.basic_auth(user, pass.as_ref()),
            Auth::Bearer(token) => b.bearer_auth(token),
        };
        match &self.body {
            ReqBody::Text(text) => b
                .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(text.clone()),
            ReqBody::Json(v) => b.json(v),
            ReqBody::Form(parts) => {
                let mut form = reqwest::multipart::Form::new();
                for part in parts {
                    form = match part {
                        FormPart::Text(name, value) => form.text(*name, value.clone()),
                        FormPart::File(name, a) => {
                            let file = reqwest::multipart::Part::bytes(a.bytes.as_ref().clone())
                                .file_name(a.name.clone())
                                .mime_str(a.mime)
                                .unwrap_or_else(|_| {
                                    reqwest::multipart::Part::bytes(a.bytes.as_ref().clone())
                                        .file_name(a.name.clone())
                                });
                            form.part(*name, file)
                        }
                    };
                }
                b.multipart(form)
            }
        }
    }
}

/// Header values must be visible ASCII; anything else becomes `?`.
fn header_safe(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c == '\t' || (' '..='~').contains(&c) {
                c
            } else if c == '\n' {
                ' '
            } else {
                '?'
            }
        })
        .collect()
}

/// The requests that deliver `msg` on `channel` (one per recipient, or two
/// when a text and a file go separately).
fn requests(channel: &Channel, msg: &Message) -> Vec<Req> {
    match channel {
        Channel::Ntfy(c) => c.requests(msg),
        Channel::Gotify(c) => c.requests(msg),
        Channel::Telegram(c) => c.requests(msg),
        Channel::Discord(c) => c.requests(msg),
        Channel::Generic(c) => c.requests(msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            attempts: 5,
            backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(5),
            timeout: Duration::from_secs(1),
        };
        assert_eq!(p.delay(1), Duration::from_secs(2));
        assert_eq!(p.delay(2), Duration::from_secs(4));
        assert_eq!(p.delay(3), Duration::from_secs(5));
        assert_eq!(p.delay(30), Duration::from_secs(5));
    }

    #[test]
    fn header_values_are_made_ascii() {
        assert_eq!(header_safe("Café\nok"), "Caf? ok");
    }

    #[test]
    fn a_bad_url_is_named_redacted() {
        let e = Notifier::parse(&["telegram://123:SECRET@telegram".into()]).unwrap_err();
        let text = e.to_string();
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("chats"), "{text}");
    }

    #[tokio::test]
    async fn no_channels_sends_nothing() {
        let n = Notifier::none();
        assert!(n.is_empty());
        assert!(n
            .send(Message::new("test", "t", "b"))
            .await
            .unwrap()
            .is_empty());
    }
}
