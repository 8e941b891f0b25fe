//! The engine's key/value state (`engine_state`): the pause for a human,
//! and small records other parts keep (the probe's last run, which pause
//! was notified, when the loop last turned). Values are JSON.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::connection::Cached;
use super::{Db, DbError};
use crate::model::Status;

/// The pause's key.
const PAUSE_KEY: &str = "pause";
/// Which pause the owner was last told about (`since:order_id`).
const NOTIFIED_PAUSE_KEY: &str = "notify.pause";
/// When the engine loop last turned (its liveness record, for processes
/// that cannot ask it: `restock status` with no server up).
const TURNED_AT_KEY: &str = "engine.turned_at";

/// Why the engine is paused, kept until `resume`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pause {
    pub reason: String,
    pub order_id: Option<i64>,
    pub status: Option<Status>,
    pub since: i64,
}

impl Db {
    pub async fn pause(&self, reason: String) -> Result<(), DbError> {
        let now = self.clock().now_ms();
        self.call(move |c| {
            write_pause(
                c,
                &Pause {
                    reason,
                    order_id: None,
                    status: None,
                    since: now,
                },
            )
        })
        .await
    }

    /// Clears the pause; returns the one that was cleared.
    pub async fn resume(&self) -> Result<Option<Pause>, DbError> {
        self.call(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let p = read_pause(&tx)?;
            tx.exec_cached("DELETE FROM engine_state WHERE key = ?1", [PAUSE_KEY])?;
            tx.commit()?;
            Ok(p)
        })
        .await
    }

    pub async fn paused(&self) -> Result<Option<Pause>, DbError> {
        self.call(|c| read_pause(c)).await
    }

    /// Which pause the owner was last told about, so a restart does not
    /// tell the same pause twice.
    pub async fn notified_pause(&self) -> Result<Option<String>, DbError> {
        self.state_get(NOTIFIED_PAUSE_KEY).await
    }

    pub async fn set_notified_pause(&self, key: String) -> Result<(), DbError> {
        self.state_set(NOTIFIED_PAUSE_KEY, key).await
    }

    /// Records that the loop turned at `at` (ms since the epoch). The loop
    /// writes it at most every few seconds (see `engine::Engine::turn`).
    pub async fn set_turned_at(&self, at: i64) -> Result<(), DbError> {
        self.state_set(TURNED_AT_KEY, at).await
    }

    /// When an engine loop last turned on this database, as it last
    /// recorded.
    pub async fn turned_at(&self) -> Result<Option<i64>, DbError> {
        self.state_get(TURNED_AT_KEY).await
    }

    /// Reads a value from the engine's key/value state.
    pub(super) async fn state_get<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        key: &str,
    ) -> Result<Option<T>, DbError> {
        let key = key.to_string();
        self.call(move |c| read_state(c, &key)).await
    }

    pub(super) async fn state_set<T: Serialize + Send + 'static>(
        &self,
        key: &str,
        value: T,
    ) -> Result<(), DbError> {
        let now = self.clock().now_ms();
        let key = key.to_string();
        self.call(move |c| write_state(c, &key, &value, now)).await
    }
}

fn read_state<T: serde::de::DeserializeOwned>(
    c: &Connection,
    key: &str,
) -> Result<Option<T>, DbError> {
    let raw: Option<String> = c
        .row_cached(
            "SELECT value FROM engine_state WHERE key = ?1",
            [key],
            |r| r.get(0),
        )
        .optional()?;
    raw.map(|s| serde_json::from_str(&s).map_err(|e| DbError::Corrupt(format!("{key}: {e}"))))
        .transpose()
}

fn write_state<T: Serialize>(
    c: &Connection,
    key: &str,
    value: &T,
    now: i64,
) -> Result<(), DbError> {
    let json = serde_json::to_string(value).map_err(|e| DbError::Corrupt(e.to_string()))?;
    c.exec_cached(
        "INSERT INTO engine_state (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        params![key, json, now],
    )?;
    Ok(())
}

/// [`Db::turned_at`] on any connection (the read-only inspection uses it).
pub(super) fn read_turned_at(c: &Connection) -> Result<Option<i64>, DbError> {
    read_state(c, TURNED_AT_KEY)
}

pub(super) fn read_pause(c: &Connection) -> Result<Option<Pause>, DbError> {
    read_state(c, PAUSE_KEY)
}

/// Keeps the first reason when already paused: the earliest problem is the
/// one the owner must see.
pub(super) fn write_pause(c: &Connection, pause: &Pause) -> Result<(), DbError> {
    if read_pause(c)?.is_some() {
        return Ok(());
    }
    write_state(c, PAUSE_KEY, pause, pause.since)
}
