//! Sending one ping: the HTTP client every ping of a process goes through
//! (redirects not followed, every request bounded), the exchange, and the
//! judgement of the answer, redacted. Used by the switch and by `restock
//! doctor`'s test ping alike.

use std::time::{Duration, Instant};

use super::monitor::{describe_error, Ping};
use super::HeartbeatError;
use crate::model::Say;
use crate::text::one_line;
use crate::urls::MonitorUrl;

/// The client and the per-ping bound.
#[derive(Clone)]
pub(super) struct Pinger {
    client: reqwest::Client,
    timeout: Duration,
}

impl Pinger {
    pub(super) fn new(timeout: Duration) -> Result<Pinger, HeartbeatError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("restock/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(HeartbeatError::Client)?;
        Ok(Pinger { client, timeout })
    }

    /// One ping to `target`, bounded by the timeout: the round trip, or the
    /// one-line reason it failed (redacted). `None` when the protocol
    /// cannot say this ping (a plain URL cannot say "down").
    pub(super) async fn send(
        &self,
        target: &MonitorUrl,
        ping: &Ping,
        last_rtt_ms: Option<u64>,
    ) -> Option<Result<Duration, String>> {
        let req = target.request(&self.client, ping, last_rtt_ms)?;
        let started = Instant::now();
        let result = match tokio::time::timeout(self.timeout, exchange(req)).await {
            Err(_) => Err(format!(
                "timeout after {}",
                humantime::format_duration(self.timeout)
            )),
            Ok(Err(e)) => Err(describe_error(e, self.timeout)),
            Ok(Ok((status, body))) => target.judge(status, &body),
        };
        Some(
            result
                .map(|()| started.elapsed())
                .map_err(|e| target.scrub(&e)),
        )
    }
}

/// `restock doctor`'s one real ping to `target` ([`Say::Test`]: Healthchecks'
/// `/log`, which changes nothing; a normal ping where the protocol has no
/// test mode), bounded by `timeout`. Nothing is recorded. `Ok` is the round
/// trip; `Err` the one-line reason, redacted.
pub async fn test_ping(
    target: &MonitorUrl,
    timeout: Duration,
    body: &str,
) -> Result<Duration, String> {
    let pinger = Pinger::new(timeout).map_err(|e| e.to_string())?;
    let ping = Ping {
        say: Say::Test,
        msg: one_line(body, 200),
        body: body.to_string(),
        rid: None,
    };
    pinger
        .send(target, &ping, None)
        .await
        .unwrap_or_else(|| Err(format!("a {} monitor cannot send a test ping", target.kind)))
}

/// Sends and reads at most 4 KiB of the answer.
async fn exchange(req: reqwest::RequestBuilder) -> Result<(u16, String), reqwest::Error> {
    let mut resp = req.send().await?;
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() >= 4096 {
            break;
        }
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
