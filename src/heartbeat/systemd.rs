//! systemd's notify protocol (`Type=notify`, `WatchdogSec=`), spoken with
//! the `sd-notify` crate.
//!
//! - `READY=1` once the intake listens and the engine loop has turned once
//!   (the server sends it when it sees the first `Event::Turn`);
//! - `WATCHDOG=1` from the heartbeat's tick (loop turns and buy progress),
//!   never from a timer, when `WATCHDOG_USEC` is set: a wedged loop stops
//!   feeding the watchdog and systemd restarts the service. Sent at most
//!   every `WATCHDOG_USEC / 4`, so the loop must turn at least that often:
//!   keep `RESTOCK_POLL_INTERVAL` well under `WatchdogSec` (the server warns
//!   when it is above half of it), and `WatchdogSec` above the longest
//!   silent browser step (`RESTOCK_STEP_TIMEOUT`);
//! - `STATUS=` with the engine's one-line state, whenever it changes;
//! - `STOPPING=1` when shutdown begins.
//!
//! `sd_notify::notify` is a blocking datagram send, so every message goes
//! through a bounded channel to one dedicated thread: the engine loop only
//! ever does a `try_send`, and a stuck socket drops watchdog beats instead
//! of stalling the loop (which is what the watchdog would then report). The
//! socket must be a filesystem path (`/run/systemd/notify`); the crate does
//! not speak abstract (`@…`) sockets.

use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sd_notify::NotifyState;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Note {
    Ready,
    Stopping,
    Watchdog,
    Status(String),
}

enum Job {
    Send(Vec<Note>),
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// A handle on the notify thread; cheap to clone.
#[derive(Clone)]
pub struct Systemd(Arc<Inner>);

struct Inner {
    tx: SyncSender<Job>,
    watchdog: Option<Duration>,
    gate: Mutex<Gate>,
}

#[derive(Default)]
struct Gate {
    last_watchdog: Option<Instant>,
    status: String,
}

impl Systemd {
    /// `Some` when `NOTIFY_SOCKET` is set (we run under systemd).
    pub fn from_env() -> Option<Systemd> {
        std::env::var_os("NOTIFY_SOCKET").filter(|v| !v.is_empty())?;
        let watchdog = sd_notify::watchdog_enabled();
        let (tx, rx) = sync_channel::<Job>(64);
        let spawned = std::thread::Builder::new()
            .name("restock-sd-notify".into())
            .spawn(move || {
                let mut failing = false;
                for job in rx {
                    match job {
                        Job::Send(notes) => {
                            let states: Vec<NotifyState<'_>> = notes
                                .iter()
                                .map(|n| match n {
                                    Note::Ready => NotifyState::Ready,
                                    Note::Stopping => NotifyState::Stopping,
                                    Note::Watchdog => NotifyState::Watchdog,
                                    Note::Status(s) => NotifyState::Status(s),
                                })
                                .collect();
                            match sd_notify::notify(&states) {
                                Ok(()) => failing = false,
                                Err(e) if !failing => {
                                    failing = true;
                                    tracing::warn!(error = %e, "cannot notify systemd (NOTIFY_SOCKET)");
                                }
                                Err(_) => {}
                            }
                        }
                        Job::Flush(done) => {
                            let _ = done.send(());
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the systemd notify thread; not notifying systemd");
            return None;
        }
        if let Some(wd) = watchdog {
            tracing::info!(watchdog = %humantime::format_duration(wd), "systemd watchdog enabled");
        }
        Some(Systemd(Arc::new(Inner {
            tx,
            watchdog,
            gate: Mutex::new(Gate::default()),
        })))
    }

    /// `WATCHDOG_USEC`, when systemd asked for keep-alives.
    pub fn watchdog(&self) -> Option<Duration> {
        self.0.watchdog
    }

    /// From the heartbeat's tick: `WATCHDOG=1` when due, `STATUS=` when it
    /// changed. Never blocks.
    pub fn beat(&self, status: &str) {
        let now = Instant::now();
        let mut gate = self.0.gate.lock().unwrap_or_else(|e| e.into_inner());
        let mut notes = Vec::new();
        let watchdog_due = self
            .0
            .watchdog
            .is_some_and(|wd| gate.last_watchdog.is_none_or(|t| now - t >= wd / 4));
        if watchdog_due {
            notes.push(Note::Watchdog);
        }
        if gate.status != status {
            notes.push(Note::Status(status.to_string()));
        }
        if notes.is_empty() {
            return;
        }
        if self.send(notes) {
            if watchdog_due {
                gate.last_watchdog = Some(now);
            }
            gate.status = status.to_string();
        }
    }

    /// `READY=1` with the current state.
    pub fn ready(&self, status: &str) {
        let mut gate = self.0.gate.lock().unwrap_or_else(|e| e.into_inner());
        if self.send(vec![Note::Ready, Note::Status(status.to_string())]) {
            gate.status = status.to_string();
        }
    }

    /// `STOPPING=1`, waiting (briefly) until it has been handed to systemd.
    pub async fn stopping(&self, status: &str) {
        {
            let mut gate = self.0.gate.lock().unwrap_or_else(|e| e.into_inner());
            if self.send(vec![Note::Stopping, Note::Status(status.to_string())]) {
                gate.status = status.to_string();
            }
        }
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.0.tx.try_send(Job::Flush(done)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(2), wait).await;
        }
    }

    fn send(&self, notes: Vec<Note>) -> bool {
        match self.0.tx.try_send(Job::Send(notes)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                tracing::warn!("systemd notify socket is not keeping up; dropped a notification");
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}
