//! HTTP receivers on 127.0.0.1 that record every request and answer as
//! told: heartbeat monitors (Healthchecks, Uptime Kuma), notification
//! endpoints (ntfy, Gotify, Telegram, Discord, generic webhooks), and any
//! other server a test wants to see called. Also a listener that never
//! answers, and addresses nothing listens on.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use restock::notify::{Notifier, RetryPolicy};
use tokio::sync::{watch, Notify};

use super::wait::within_else;

/// One request a receiver saw.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// When it arrived.
    pub at: Instant,
    pub method: String,
    pub path: String,
    /// The query string as sent.
    pub query: String,
    /// The query string, decoded.
    pub params: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{} {}: body is not JSON ({e})", self.method, self.path))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    /// The query parameter `key`.
    pub fn q(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// How a receiver answers.
#[derive(Clone, Debug)]
pub enum Reply {
    /// This status, with `{"ok":true}` for a 2xx and the text `boom`
    /// otherwise.
    Status(u16),
    /// This status and body, as they are.
    Body(u16, &'static str),
    /// 200 `{"ok":true}`, after this long.
    Slow(Duration),
    /// Holds the request until the notify fires, then answers 200.
    Hold(Arc<Notify>),
}

/// Uptime Kuma's answer for a push token it does not know.
pub const KUMA_UNKNOWN: Reply = Reply::Body(
    200,
    r#"{"ok":false,"msg":"Monitor not found or not active."}"#,
);

struct State {
    log: Mutex<Vec<Recorded>>,
    arrived: watch::Sender<usize>,
    answered: AtomicUsize,
    active: AtomicUsize,
    max_active: AtomicUsize,
    replies: Mutex<VecDeque<Reply>>,
    default: Mutex<Reply>,
}

/// An axum server on 127.0.0.1 recording every request.
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<State>,
}

/// Counts a request as in flight until dropped (answered, or abandoned by
/// its client).
struct InFlight(Arc<State>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn answer(state: Arc<State>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, 64 << 20).await.unwrap_or_default().to_vec();
    let query = parts.uri.query().unwrap_or("").to_string();
    let params = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    state.log.lock().unwrap().push(Recorded {
        at: Instant::now(),
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query,
        params,
        headers: parts.headers,
        body,
    });
    state.arrived.send_modify(|n| *n += 1);
    let now = state.active.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_active.fetch_max(now, Ordering::SeqCst);
    let _in_flight = InFlight(Arc::clone(&state));
    let reply = state
        .replies
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| state.default.lock().unwrap().clone());
    let ok = || (StatusCode::OK, r#"{"ok":true}"#).into_response();
    let response = match reply {
        Reply::Status(code) if code < 300 => {
            (StatusCode::from_u16(code).unwrap(), r#"{"ok":true}"#).into_response()
        }
        Reply::Status(code) => (StatusCode::from_u16(code).unwrap(), "boom").into_response(),
        Reply::Body(code, body) => (StatusCode::from_u16(code).unwrap(), body).into_response(),
        Reply::Slow(delay) => {
            tokio::time::sleep(delay).await;
            ok()
        }
        Reply::Hold(release) => {
            release.notified().await;
            ok()
        }
    };
    state.answered.fetch_add(1, Ordering::SeqCst);
    response
}

impl Receiver {
    /// A receiver answering 200 `{"ok":true}`.
    pub async fn spawn() -> Receiver {
        Receiver::answering(Reply::Status(200)).await
    }

    /// A receiver answering `reply` unless told otherwise.
    pub async fn answering(reply: Reply) -> Receiver {
        let state = Arc::new(State {
            log: Mutex::new(Vec::new()),
            arrived: watch::channel(0).0,
            answered: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            max_active: AtomicUsize::new(0),
            replies: Mutex::new(VecDeque::new()),
            default: Mutex::new(reply),
        });
        let app = {
            let state = Arc::clone(&state);
            axum::Router::new().fallback(move |req: Request| answer(Arc::clone(&state), req))
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, state }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A generic webhook notification URL (`RESTOCK_NOTIFY`) that posts
    /// to this receiver's `/hook`.
    pub fn hook(&self) -> String {
        format!("generic+http://{}/hook", self.addr)
    }

    /// Answers every request after the queued ones with `reply`.
    pub fn set_default(&self, reply: Reply) {
        *self.state.default.lock().unwrap() = reply;
    }

    /// Answers for the next requests, in order, before the default.
    pub fn push(&self, reply: Reply) {
        self.state.replies.lock().unwrap().push_back(reply);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.log.lock().unwrap().clone()
    }

    /// The `event` of every JSON request so far, in order (`""` where it
    /// has none): what a notification endpoint was told, as the
    /// notification tests compare it.
    pub fn events(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| r.json()["event"].as_str().unwrap_or("").to_string())
            .collect()
    }

    pub fn count(&self) -> usize {
        self.state.log.lock().unwrap().len()
    }

    /// How many requests got their answer.
    pub fn answered(&self) -> usize {
        self.state.answered.load(Ordering::SeqCst)
    }

    /// The most requests it held at once.
    pub fn max_active(&self) -> usize {
        self.state.max_active.load(Ordering::SeqCst)
    }

    /// Waits until `f` finds what it wants in the requests so far.
    pub async fn wait_until<T>(&self, what: &str, f: impl Fn(&[Recorded]) -> Option<T>) -> T {
        let mut arrived = self.state.arrived.subscribe();
        within_else(
            async {
                loop {
                    if let Some(t) = f(&self.requests()) {
                        return t;
                    }
                    arrived.changed().await.unwrap();
                }
            },
            || format!("waiting for {what}; requests: {:#?}", self.requests()),
        )
        .await
    }

    /// Waits until at least `n` requests arrived; all of them.
    pub async fn wait_for(&self, n: usize) -> Vec<Recorded> {
        let what = format!("{n} requests");
        self.wait_until(&what, |all| (all.len() >= n).then(|| all.to_vec()))
            .await
    }

    /// Waits for at least `n` requests matching `pred`; those.
    pub async fn wait_n(
        &self,
        what: &str,
        n: usize,
        pred: impl Fn(&Recorded) -> bool,
    ) -> Vec<Recorded> {
        self.wait_until(what, |all| {
            let found: Vec<Recorded> = all.iter().filter(|r| pred(r)).cloned().collect();
            (found.len() >= n).then_some(found)
        })
        .await
    }
}

/// A loopback address nothing listens on (bound, then released): a dead
/// monitor, or a free port for a server to take.
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A server that accepts connections and never answers; it holds them
/// until the task is aborted.
pub async fn silent() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            open.push(conn);
        }
    });
    (addr, task)
}

/// A notifier for `urls` that retries quickly: three attempts, 20-100 ms
/// apart, five seconds each.
pub fn notifier(urls: &[String]) -> Notifier {
    Notifier::parse(urls)
        .unwrap()
        .with_retry(RetryPolicy {
            attempts: 3,
            backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
            timeout: Duration::from_secs(5),
        })
        .unwrap()
}
