//! Is an engine running for this state directory, and is its loop
//! turning? Told from outside the server (`restock status`, the doctor):
//!
//! 1. The lock: a running `restock serve` holds an exclusive `flock` on
//!    `<state_dir>/serve.lock` (see [`lock_state_dir`]) and wrote its pid
//!    and intake address into it. A non-blocking shared `flock` that
//!    succeeds means no server runs (the lock is released at once; a
//!    server starting in that instant retries its own lock briefly).
//! 2. `/health` on the address the server wrote, with a short timeout:
//!    `200` running (with how long ago its loop turned), `503` stalled.
//!    No answer in time while the lock is held: stalled too (a stopped or
//!    wedged process), silent since its loop's last record.
//! 3. No server: not running, last seen when the loop last wrote its
//!    record (`engine.turned_at`).

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::model::EngineLiveness;

/// The lock file's name in the state directory.
pub const LOCK_FILE: &str = "serve.lock";

/// How long `/health` may take to answer before the server counts as
/// stalled.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// What a running server wrote into its lock file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub pid: Option<u32>,
    /// The intake's address (the one really bound).
    pub listen: Option<SocketAddr>,
}

/// One server per state dir: boot recovery takes every `in_progress` row,
/// which is only safe when no other engine is working on them.
///
/// Takes the state directory's lock for a server (exclusive, never
/// blocking for long: a `restock status` testing the lock holds it for an
/// instant, so a few short retries) and writes `info` into it.
pub(super) fn lock_state_dir(dir: &Path, info: &LockInfo) -> Result<File, super::ServeError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let io = |source| super::ServeError::StateDir {
        path: dir.display().to_string(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .open(dir.join(LOCK_FILE))
        .map_err(io)?;
    let mut locked = false;
    for _ in 0..10 {
        // SAFETY: flock on a file descriptor we own; no memory is shared.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            locked = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if !locked {
        return Err(super::ServeError::Locked(dir.display().to_string()));
    }
    let text = serde_json::to_string(info).unwrap_or_default();
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(text.as_bytes()))
        .map_err(io)?;
    Ok(file)
}

/// `Some` with what the holder wrote when a server holds the state
/// directory's lock; `None` when none does (or there is no lock file).
pub fn lock_holder(state_dir: &Path) -> std::io::Result<Option<LockInfo>> {
    let mut file = match File::open(state_dir.join(LOCK_FILE)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    // SAFETY: flock on a file descriptor we own; no memory is shared.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
    if rc == 0 {
        // Nobody holds it; closing the file releases ours at once.
        return Ok(None);
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
        return Err(err);
    }
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(Some(serde_json::from_str(&text).unwrap_or_default()))
}

/// What can be told about the engine of `config`'s state directory (see
/// the module docs). `record` is when the loop last recorded a turn
/// ([`crate::db::Db::turned_at`]), if known.
pub async fn engine_liveness(config: &Config, record: Option<i64>) -> EngineLiveness {
    let holder = match lock_holder(&config.state_dir) {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "cannot test the state directory's lock");
            None
        }
    };
    let Some(info) = holder else {
        return EngineLiveness::NotRunning { last_seen: record };
    };
    let addr = info.listen.unwrap_or(config.listen);
    match health(addr).await {
        Some((200, body)) => EngineLiveness::Running {
            turned_ago_ms: silent_ms(&body).unwrap_or(0),
            pid: info.pid,
        },
        Some((code, body)) => EngineLiveness::Stalled {
            silent_ms: silent_ms(&body),
            health: Some(code),
            pid: info.pid,
        },
        None => EngineLiveness::Stalled {
            silent_ms: record.map(|at| (crate::model::now_ms() - at).max(0)),
            health: None,
            pid: info.pid,
        },
    }
}

fn silent_ms(body: &serde_json::Value) -> Option<i64> {
    body.get("silent_ms").and_then(serde_json::Value::as_i64)
}

/// `/health`'s status and body, or `None` when it does not answer within
/// [`HEALTH_TIMEOUT`].
async fn health(addr: SocketAddr) -> Option<(u16, serde_json::Value)> {
    let client = reqwest::Client::builder()
        .timeout(HEALTH_TIMEOUT)
        .connect_timeout(HEALTH_TIMEOUT)
        .build()
        .ok()?;
    let resp = client
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .ok()?;
    let code = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(serde_json::Value::Null);
    Some((code, body))
}

/// `running (loop turned 2s ago)`, `stalled (no turn for 4m; /health
/// answers 503)`, `not running (last seen 3h ago)`.
pub fn describe(l: &EngineLiveness) -> String {
    use crate::text::{ago, span};
    match l {
        EngineLiveness::Running { turned_ago_ms, .. } => {
            format!("running (loop turned {} ago)", span(*turned_ago_ms))
        }
        EngineLiveness::Stalled {
            silent_ms, health, ..
        } => {
            let silent = match (silent_ms, health) {
                (Some(ms), _) => format!("no turn for {}; ", span(*ms)),
                // It answers, and its loop has not turned yet: starting.
                (None, Some(_)) => "no turn yet; ".to_string(),
                (None, None) => String::new(),
            };
            let health = match health {
                Some(code) => format!("/health answers {code}"),
                None => format!(
                    "/health does not answer within {}",
                    humantime::format_duration(HEALTH_TIMEOUT)
                ),
            };
            format!("stalled ({silent}{health})")
        }
        EngineLiveness::NotRunning { last_seen } => match last_seen {
            Some(at) => format!("not running (last seen {})", ago(*at)),
            None => "not running (never seen)".to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_tells_whether_a_server_holds_the_state_dir() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(lock_holder(dir.path()).unwrap(), None, "no lock file");
        let info = LockInfo {
            pid: Some(42),
            listen: Some("127.0.0.1:8723".parse().unwrap()),
        };
        let held = lock_state_dir(dir.path(), &info).unwrap();
        assert_eq!(lock_holder(dir.path()).unwrap(), Some(info.clone()));
        assert!(lock_state_dir(dir.path(), &info).is_err(), "one server");
        drop(held);
        assert_eq!(lock_holder(dir.path()).unwrap(), None);
        // Testing the lock leaves it free for a server.
        let again = lock_state_dir(dir.path(), &LockInfo::default()).unwrap();
        drop(again);
    }

    #[test]
    fn the_three_states_read_as_words() {
        let now = crate::model::now_ms();
        assert_eq!(
            describe(&EngineLiveness::Running {
                turned_ago_ms: 2_400,
                pid: None
            }),
            "running (loop turned 2s ago)"
        );
        assert_eq!(
            describe(&EngineLiveness::Stalled {
                silent_ms: Some(240_000),
                health: Some(503),
                pid: None
            }),
            "stalled (no turn for 4m; /health answers 503)"
        );
        assert_eq!(
            describe(&EngineLiveness::NotRunning {
                last_seen: Some(now - 3 * 3_600_000)
            }),
            "not running (last seen 3h ago)"
        );
    }
}
