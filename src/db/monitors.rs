//! The `heartbeat_monitors` table: what was sent to each monitor and what
//! came back, so `restock status` can show it with the server up or down.
//! Rows are keyed by the redacted label; a URL is never written here.
//! Also the little the heartbeat's ping body tells about the queue.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::connection::Cached;
use super::{Db, DbError};
use crate::model::{now_ms, MonitorKind, Say};

/// Which job a monitor has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// `RESTOCK_HEARTBEAT_URL`: the engine is alive.
    Heartbeat,
    /// `RESTOCK_ORDER_CHECK_URL`: each buy's start and end.
    OrderCheck,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Heartbeat => "heartbeat",
            Role::OrderCheck => "order_check",
        }
    }

    pub fn parse(s: &str) -> Role {
        if s == "order_check" {
            Role::OrderCheck
        } else {
            Role::Heartbeat
        }
    }
}

/// One monitor's record: what `/health`, `restock status` and the database
/// show. Times are ms since the epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorState {
    /// Redacted: `host/…/a1b2`.
    pub label: String,
    pub kind: MonitorKind,
    pub role: Role,
    /// When the last ping was sent (attempted).
    pub last_sent: Option<i64>,
    /// When a ping was last acknowledged (a good answer).
    pub last_ack: Option<i64>,
    /// Why the last ping failed; `None` once one succeeds.
    pub last_error: Option<String>,
    /// Failed pings in a row.
    pub failures: u32,
    /// Round trip of the last answered ping.
    pub rtt_ms: Option<u64>,
    /// What the last ping said (`up`, `down`, `start`, `success`, `fail`).
    pub last_said: Option<Say>,
}

impl MonitorState {
    pub fn new(label: String, kind: MonitorKind, role: Role) -> MonitorState {
        MonitorState {
            label,
            kind,
            role,
            last_sent: None,
            last_ack: None,
            last_error: None,
            failures: 0,
            rtt_ms: None,
            last_said: None,
        }
    }
}

/// The little the heartbeat body tells about the queue.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueueSummary {
    pub pending: u64,
    /// The newest finished order: id, item, status, finished at.
    pub last: Option<(i64, String, String, Option<i64>)>,
}

impl Db {
    /// Every stored monitor, heartbeats first.
    pub async fn monitors(&self) -> Result<Vec<MonitorState>, DbError> {
        self.call(|c| monitors_on(c)).await
    }

    /// Writes one monitor's record.
    pub async fn save_monitor(&self, state: MonitorState) -> Result<(), DbError> {
        self.call(move |c| {
            c.exec_cached(
                "INSERT INTO heartbeat_monitors
                    (label, kind, role, last_sent, last_ack, last_error, failures, rtt_ms, last_said, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT(label) DO UPDATE SET
                    kind = excluded.kind, role = excluded.role, last_sent = excluded.last_sent,
                    last_ack = excluded.last_ack, last_error = excluded.last_error,
                    failures = excluded.failures, rtt_ms = excluded.rtt_ms,
                    last_said = excluded.last_said, updated_at = excluded.updated_at",
                params![
                    state.label,
                    state.kind.as_str(),
                    state.role.as_str(),
                    state.last_sent,
                    state.last_ack,
                    state.last_error,
                    state.failures,
                    state.rtt_ms.map(|r| r as i64),
                    state.last_said.map(Say::as_str),
                    now_ms(),
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Forgets monitors no longer configured, so status shows the current set.
    pub async fn keep_monitors(&self, labels: Vec<String>) -> Result<(), DbError> {
        self.call(move |c| {
            let tx = c.transaction()?;
            let stored: Vec<String> = {
                let mut st = tx.prepare("SELECT label FROM heartbeat_monitors")?;
                let rows = st.query_map([], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            for label in stored.iter().filter(|l| !labels.contains(l)) {
                tx.exec_cached("DELETE FROM heartbeat_monitors WHERE label = ?1", [label])?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    pub async fn queue_summary(&self) -> Result<QueueSummary, DbError> {
        self.call(|c| {
            let pending: u64 = c.row_cached(
                "SELECT COUNT(*) FROM orders WHERE status = 'pending'",
                [],
                |r| r.get(0),
            )?;
            let last = c
                .row_cached(
                    "SELECT id, item, status, finished_at FROM orders
                     WHERE status NOT IN ('pending', 'in_progress') ORDER BY id DESC LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            Ok(QueueSummary { pending, last })
        })
        .await
    }
}

/// [`Db::monitors`] on a connection.
pub(super) fn monitors_on(c: &rusqlite::Connection) -> Result<Vec<MonitorState>, DbError> {
    let mut st = c.prepare_cached(
        "SELECT label, kind, role, last_sent, last_ack, last_error, failures, rtt_ms, last_said
             FROM heartbeat_monitors ORDER BY role, label",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<i64>>(3)?,
            r.get::<_, Option<i64>>(4)?,
            r.get::<_, Option<String>>(5)?,
            r.get::<_, u32>(6)?,
            r.get::<_, Option<i64>>(7)?,
            r.get::<_, Option<String>>(8)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (label, kind, role, last_sent, last_ack, last_error, failures, rtt, said) = row?;
        let kind = kind
            .parse::<MonitorKind>()
            .map_err(|e| DbError::Corrupt(e.to_string()))?;
        let last_said = said.and_then(|s| s.parse().ok());
        out.push(MonitorState {
            label,
            kind,
            role: Role::parse(&role),
            last_sent,
            last_ack,
            last_error,
            failures,
            rtt_ms: rtt.map(|r| r.max(0) as u64),
            last_said,
        });
    }
    Ok(out)
}
