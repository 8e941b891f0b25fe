//! What the engine loop is doing right now, as `/health`, the heartbeat
//! body and systemd's `STATUS=` say it.

use serde::Serialize;
use strum::{Display, IntoStaticStr};

/// The loop's state. Serialized as its snake_case name (`"idle"`), which is
/// what `/health` has always shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, IntoStaticStr, Display)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ActivityState {
    /// Before the first loop turn.
    Starting,
    /// Between claims, not paused.
    Running,
    /// Nothing to claim; waiting for a wake-up or the poll interval.
    Idle,
    /// A buy is in progress.
    Buying,
    /// Paused for a human (or holding still while the database fails).
    Paused,
    /// The loop has ended.
    Stopped,
}

impl ActivityState {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}
