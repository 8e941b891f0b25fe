//! The `store_sessions` table: what the probe, buys and `restock login`
//! learned about each store's profile, and when the owner was last told.
//! The rules for how a record changes live with the record
//! ([`crate::model::StoreSession`], [`crate::model::decide`]); this file
//! reads and writes it, one transaction per change.

use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::connection::Cached;
use super::{Db, DbError};
use crate::model::{decide, SessionCheck, SessionState, StoreSession, Transition};

/// The `store_sessions` columns [`from_row`] reads, in its order.
macro_rules! session_columns {
    () => {
        "store, state, since, checked_at, last_result, last_error, notified_at, \
         expires_at, session_cookies, seen_cookies, warned_expiry"
    };
}

/// One store's row (public for the engine benchmark's raw mirror).
#[doc(hidden)]
pub const READ_SQL: &str = concat!(
    "SELECT ",
    session_columns!(),
    " FROM store_sessions WHERE store = ?1"
);

/// When the probe last ran (even if it errored), in `engine_state`.
const LAST_RUN_KEY: &str = "probe.last_run";

impl Db {
    /// Applies a session check in one transaction; returns the new record
    /// and what the owner must be told ([`decide`]).
    pub async fn record_session_check(
        &self,
        store: &str,
        check: SessionCheck,
        remind: Duration,
    ) -> Result<(StoreSession, Option<Transition>), DbError> {
        let store = store.to_string();
        let now = self.clock().now_ms();
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let prev = read(&tx, &store)?;
            let (row, tell) = decide(&store, prev.as_ref(), &check, now, remind);
            write(&tx, &row)?;
            tx.commit()?;
            Ok((row, tell))
        })
        .await
    }

    /// `restock login STORE` succeeded: signed in now, nothing to tell.
    pub async fn mark_signed_in(&self, store: &str) -> Result<(), DbError> {
        let now = self.clock().now_ms();
        self.change_session(store, move |prev, store| {
            StoreSession::signed_in_by_owner(prev, store, now)
        })
        .await
    }

    /// A buy met the sign-in wall (see [`StoreSession::signed_out_by_buy`]).
    pub async fn note_signed_out_by_buy(&self, store: &str) -> Result<(), DbError> {
        let now = self.clock().now_ms();
        self.change_session(store, move |prev, store| {
            StoreSession::signed_out_by_buy(prev, store, now)
        })
        .await
    }

    async fn change_session(
        &self,
        store: &str,
        f: impl FnOnce(Option<&StoreSession>, &str) -> StoreSession + Send + 'static,
    ) -> Result<(), DbError> {
        let store = store.to_string();
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let prev = read(&tx, &store)?;
            write(&tx, &f(prev.as_ref(), &store))?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    pub async fn session(&self, store: &str) -> Result<Option<StoreSession>, DbError> {
        let store = store.to_string();
        self.call(move |c| read(c, &store)).await
    }

    /// Every store the table knows, by name.
    pub async fn sessions(&self) -> Result<Vec<StoreSession>, DbError> {
        self.call(|c| list_on(c)).await
    }

    /// Records that the owner was warned about `store`'s session expiring
    /// at `expires_at`, unless that is already recorded or the session's
    /// expiry has changed meanwhile: `true` when this call recorded it (and
    /// so the caller must send the warning), which makes the warning once
    /// per expiry even with two senders.
    pub async fn mark_expiry_warned(&self, store: &str, expires_at: i64) -> Result<bool, DbError> {
        let store = store.to_string();
        self.call(move |c| {
            let n = c.exec_cached(
                "UPDATE store_sessions SET warned_expiry = ?2
                 WHERE store = ?1 AND expires_at = ?2 AND warned_expiry IS NOT ?2",
                params![store, expires_at],
            )?;
            Ok(n == 1)
        })
        .await
    }

    /// When the session probe last ran (even if it errored).
    pub async fn probe_last_run(&self) -> Result<Option<i64>, DbError> {
        self.state_get(LAST_RUN_KEY).await
    }

    pub async fn set_probe_last_run(&self, at: i64) -> Result<(), DbError> {
        self.state_set(LAST_RUN_KEY, at).await
    }
}

/// [`Db::sessions`] on any connection (the read-only inspection uses it).
pub(super) fn list_on(c: &Connection) -> Result<Vec<StoreSession>, DbError> {
    let mut st = c.prepare_cached(concat!(
        "SELECT ",
        session_columns!(),
        " FROM store_sessions ORDER BY store"
    ))?;
    let rows = st.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn read(c: &Connection, store: &str) -> Result<Option<StoreSession>, DbError> {
    Ok(c.row_cached(READ_SQL, [store], from_row).optional()?)
}

fn write(c: &Connection, r: &StoreSession) -> Result<(), DbError> {
    c.exec_cached(
        concat!(
            "INSERT INTO store_sessions (",
            session_columns!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT(store) DO UPDATE SET state = excluded.state, since = excluded.since,
           checked_at = excluded.checked_at, last_result = excluded.last_result,
           last_error = excluded.last_error, notified_at = excluded.notified_at,
           expires_at = excluded.expires_at, session_cookies = excluded.session_cookies,
           seen_cookies = excluded.seen_cookies, warned_expiry = excluded.warned_expiry"
        ),
        params![
            r.store,
            r.state.as_str(),
            r.since,
            r.checked_at,
            r.last_result.map(SessionState::as_str),
            r.last_error,
            r.notified_at,
            r.expires_at,
            names_json(&r.session_cookies),
            names_json(&r.seen_cookies),
            r.warned_expiry,
        ],
    )?;
    Ok(())
}

/// Cookie names as a JSON list.
fn names_json(names: &Option<Vec<String>>) -> Option<String> {
    names
        .as_ref()
        .map(|n| serde_json::to_string(n).unwrap_or_else(|_| "[]".into()))
}

/// An unreadable state name reads as `unknown`, an unreadable list of
/// cookie names as none: the next check rewrites them.
fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoreSession> {
    let state: String = r.get(1)?;
    let last: Option<String> = r.get(4)?;
    let names = |i: usize| -> rusqlite::Result<Option<Vec<String>>> {
        let raw: Option<String> = r.get(i)?;
        Ok(raw.and_then(|t| serde_json::from_str(&t).ok()))
    };
    Ok(StoreSession {
        store: r.get(0)?,
        state: state.parse().unwrap_or(SessionState::Unknown),
        since: r.get(2)?,
        checked_at: r.get(3)?,
        last_result: last.as_deref().and_then(|s| s.parse().ok()),
        last_error: r.get(5)?,
        notified_at: r.get(6)?,
        expires_at: r.get(7)?,
        session_cookies: names(8)?,
        seen_cookies: names(9)?,
        warned_expiry: r.get(10)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rows_round_trip_and_login_clears() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("db")).unwrap();
        let day = Duration::from_secs(86400);
        let (_, t) = db
            .record_session_check("demo", SessionCheck::known(SessionState::SignedOut), day)
            .await
            .unwrap();
        assert_eq!(t, Some(Transition::SignedOut));
        let row = db.session("demo").await.unwrap().unwrap();
        assert_eq!(row.state, SessionState::SignedOut);
        db.mark_signed_in("demo").await.unwrap();
        let rows = db.sessions().await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].state, SessionState::SignedIn);
        db.note_signed_out_by_buy("other").await.unwrap();
        let row = db.session("other").await.unwrap().unwrap();
        assert_eq!(row.state, SessionState::SignedOut);
        assert!(row.notified_at.is_some());
    }
}
