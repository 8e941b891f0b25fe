//! Whether an engine runs for a state directory, as another process (the
//! CLI, the doctor) can tell from outside: the server's lock on the state
//! directory, its `/health`, and the record its loop writes.

use serde::Serialize;

/// What `restock status` says about the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EngineLiveness {
    /// A server holds the state directory and its loop turned recently.
    Running {
        /// Since the loop last turned (or a buy made progress).
        turned_ago_ms: i64,
        pid: Option<u32>,
    },
    /// A server holds the state directory but its loop is silent: `/health`
    /// answers 503, or does not answer at all (a stopped or wedged process).
    Stalled {
        /// Since the loop last turned, from `/health` or the loop's record.
        silent_ms: Option<i64>,
        /// `/health`'s HTTP status; `None` when it did not answer in time.
        health: Option<u16>,
        pid: Option<u32>,
    },
    /// No server holds the state directory.
    NotRunning {
        /// When a loop last turned on this database (its record), ms since
        /// the epoch.
        last_seen: Option<i64>,
    },
}

impl EngineLiveness {
    /// The word for it: `running`, `stalled` or `not_running`.
    pub fn word(&self) -> &'static str {
        match self {
            EngineLiveness::Running { .. } => "running",
            EngineLiveness::Stalled { .. } => "stalled",
            EngineLiveness::NotRunning { .. } => "not_running",
        }
    }
}
