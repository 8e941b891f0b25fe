//! The dead-man's switch's words: which protocol a monitor speaks and what
//! a ping says. Stored in each monitor's record (`heartbeat_monitors`).

use super::names::named_enum;

named_enum! {
    "monitor kind", "kebab-case",
    /// The protocols a monitor URL can speak.
    pub enum MonitorKind {
        /// Healthchecks (hosted or self-hosted): success, `/fail`, `/start`, `/log`.
        Healthchecks,
        /// Uptime Kuma's push monitor: `status=up|down`.
        UptimeKuma,
        /// Any other URL: a plain `GET`.
        Get,
    }
}

named_enum! {
    "ping", "snake_case",
    /// What one ping says.
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
}
