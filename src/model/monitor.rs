//! The dead-man's switch's words: which protocol a monitor speaks and what
//! a ping says. Stored in each monitor's record (`heartbeat_monitors`).

use serde::{Deserialize, Serialize};
use strum::{Display, EnumIter, IntoStaticStr};

use super::names::named;

/// The protocols a monitor URL can speak.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    IntoStaticStr,
    EnumIter,
    Display,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum MonitorKind {
    /// Healthchecks (hosted or self-hosted): success, `/fail`, `/start`, `/log`.
    Healthchecks,
    /// Uptime Kuma's push monitor: `status=up|down`.
    UptimeKuma,
    /// Any other URL: a plain `GET`.
    Get,
}

named!(MonitorKind, "monitor kind");

impl MonitorKind {
    pub fn all() -> impl Iterator<Item = MonitorKind> {
        <MonitorKind as strum::IntoEnumIterator>::iter()
    }
}

/// What one ping says.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    IntoStaticStr,
    EnumIter,
    Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Say {
    /// The engine is alive.
    Up,
    /// Alive, but paused for a human (`RESTOCK_HEARTBEAT_PAUSED=fail`).
    Down,
    /// A buy started (order check).
    Start,
    /// A buy ended well (order check).
    Success,
    /// A buy ended badly (order check).
    Fail,
    /// `restock doctor`'s one test ping: logged without changing the
    /// monitor's state where the protocol allows it.
    Test,
}

named!(Say, "ping");
