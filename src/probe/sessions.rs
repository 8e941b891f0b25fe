//! The `store_sessions` table: what the probe (and buys, and `login`)
//! learned about each store's profile, and when the owner was last told.
//!
//! `state` is the last *known* state: an `unknown` check (timeout, block,
//! challenge) does not erase a known `signed_out` or `signed_in`; it is kept
//! in `last_result` / `last_error` next to it. A store never seen signed in
//! or out has state `unknown`.

use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use crate::db::{Cached, Db, DbError};
use crate::model::now_ms;
use crate::model::{SessionCheck, SessionState};

/// Creates the table; `queue::MIGRATIONS` applies it as schema version 3.
pub const MIGRATION: &str = "CREATE TABLE IF NOT EXISTS store_sessions (
        store       TEXT PRIMARY KEY,
        state       TEXT NOT NULL,
        since       INTEGER NOT NULL,
        checked_at  INTEGER,
        last_result TEXT,
        last_error  TEXT,
        notified_at INTEGER
     );";

const LAST_RUN_KEY: &str = "probe.last_run";

/// One store's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoreSession {
    pub store: String,
    /// The last known state.
    pub state: SessionState,
    /// Since when `state` holds, ms since the epoch.
    pub since: i64,
    /// The last check, whatever its result.
    pub checked_at: Option<i64>,
    pub last_result: Option<SessionState>,
    /// Why the last check was inconclusive (timeout, block, challenge).
    pub last_error: Option<String>,
    /// The last sign-in notification or reminder while signed out.
    pub notified_at: Option<i64>,
}

/// What the owner must be told after a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// signed in (or never known) -> signed out.
    SignedOut,
    /// Still signed out, and the remind period has passed.
    Reminder,
    /// signed out -> signed in.
    Back,
}

/// The new row for `check` at `now`, and what to tell.
pub fn decide(
    store: &str,
    prev: Option<&StoreSession>,
    check: &SessionCheck,
    now: i64,
    remind: Duration,
) -> (StoreSession, Option<Transition>) {
    let was = prev.map(|p| p.state);
    let mut row = prev.cloned().unwrap_or(StoreSession {
        store: store.to_string(),
        state: SessionState::Unknown,
        since: now,
        checked_at: None,
        last_result: None,
        last_error: None,
        notified_at: None,
    });
    row.checked_at = Some(now);
    row.last_result = Some(check.state);
    let mut tell = None;
    match check.state {
        SessionState::Unknown => {
            row.last_error = Some(
                check
                    .detail
                    .clone()
                    .unwrap_or_else(|| "the page showed neither sign-in marker".into()),
            );
        }
        SessionState::SignedOut => {
            row.last_error = None;
            if was != Some(SessionState::SignedOut) {
                row.state = SessionState::SignedOut;
                row.since = now;
                row.notified_at = Some(now);
                tell = Some(Transition::SignedOut);
            } else {
                let due = row
                    .notified_at
                    .is_none_or(|t| now - t >= remind.as_millis() as i64);
                if due {
                    row.notified_at = Some(now);
                    tell = Some(Transition::Reminder);
                }
            }
        }
        SessionState::SignedIn => {
            row.last_error = None;
            row.notified_at = None;
            if was != Some(SessionState::SignedIn) {
                row.state = SessionState::SignedIn;
                row.since = now;
            }
            if was == Some(SessionState::SignedOut) {
                tell = Some(Transition::Back);
            }
        }
    }
    (row, tell)
}

/// Applies a check result in one transaction; returns the new row and what
/// to tell the owner.
pub async fn record(
    db: &Db,
    store: &str,
    check: SessionCheck,
    remind: Duration,
) -> Result<(StoreSession, Option<Transition>), DbError> {
    let store = store.to_string();
    db.with_conn(move |c| {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let prev = read(&tx, &store)?;
        let (row, tell) = decide(&store, prev.as_ref(), &check, now_ms(), remind);
        write(&tx, &row)?;
        tx.commit()?;
        Ok((row, tell))
    })
    .await
}

/// `restock login STORE` succeeded: the store is signed in now, with no
/// notification (the owner just did it).
pub async fn mark_signed_in(db: &Db, store: &str) -> Result<(), DbError> {
    let store = store.to_string();
    db.with_conn(move |c| {
        let now = now_ms();
        let prev = read(c, &store)?;
        let since = prev
            .as_ref()
            .filter(|p| p.state == SessionState::SignedIn)
            .map_or(now, |p| p.since);
        write(
            c,
            &StoreSession {
                store,
                state: SessionState::SignedIn,
                since,
                checked_at: Some(now),
                last_result: Some(SessionState::SignedIn),
                last_error: None,
                notified_at: None,
            },
        )
    })
    .await
}

/// A buy met the sign-in wall: the store is signed out. The pause that
/// follows tells the owner, so this counts as notified (reminders go on
/// from here).
pub async fn note_signed_out_by_buy(db: &Db, store: &str) -> Result<(), DbError> {
    let store = store.to_string();
    db.with_conn(move |c| {
        let now = now_ms();
        let prev = read(c, &store)?;
        let mut row = prev.clone().unwrap_or(StoreSession {
            store: store.clone(),
            state: SessionState::SignedOut,
            since: now,
            checked_at: None,
            last_result: None,
            last_error: None,
            notified_at: None,
        });
        if prev.as_ref().map(|p| p.state) != Some(SessionState::SignedOut) {
            row.state = SessionState::SignedOut;
            row.since = now;
            row.notified_at = Some(now);
        }
        row.last_error = Some("a buy met the sign-in page".into());
        write(c, &row)
    })
    .await
}

/// Why buys must skip `store`, when it is known signed out.
pub async fn signed_out(db: &Db, store: &str) -> Result<Option<String>, DbError> {
    let row = get(db, store).await?;
    Ok(row.filter(|r| r.state == SessionState::SignedOut).map(|r| {
        format!(
            "store `{}` is signed out (since {}); run `restock login {}`",
            r.store,
            crate::cli::ago(r.since),
            r.store
        )
    }))
}

pub async fn get(db: &Db, store: &str) -> Result<Option<StoreSession>, DbError> {
    let store = store.to_string();
    db.with_conn(move |c| read(c, &store)).await
}

/// Every store the table knows, by name.
pub async fn list(db: &Db) -> Result<Vec<StoreSession>, DbError> {
    db.with_conn(|c| list_on(c)).await
}

/// [`list`] on a connection of one's own (`restock doctor` reads the
/// database without [`Db::open`], which would create and migrate it).
pub fn list_on(c: &Connection) -> Result<Vec<StoreSession>, DbError> {
    let mut st = c.prepare_cached(
        "SELECT store, state, since, checked_at, last_result, last_error, notified_at
         FROM store_sessions ORDER BY store",
    )?;
    let rows = st.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// When the probe last ran (even if it errored).
pub async fn last_run(db: &Db) -> Result<Option<i64>, DbError> {
    db.state_get(LAST_RUN_KEY).await
}

pub async fn set_last_run(db: &Db, at: i64) -> Result<(), DbError> {
    db.state_set(LAST_RUN_KEY, at).await
}

/// One store's row (public for the engine benchmark's raw mirror).
#[doc(hidden)]
pub const READ_SQL: &str =
    "SELECT store, state, since, checked_at, last_result, last_error, notified_at
     FROM store_sessions WHERE store = ?1";

fn read(c: &Connection, store: &str) -> Result<Option<StoreSession>, DbError> {
    Ok(c.row_cached(READ_SQL, [store], from_row).optional()?)
}

fn write(c: &Connection, r: &StoreSession) -> Result<(), DbError> {
    c.exec_cached(
        "INSERT INTO store_sessions (store, state, since, checked_at, last_result, last_error, notified_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(store) DO UPDATE SET state = excluded.state, since = excluded.since,
           checked_at = excluded.checked_at, last_result = excluded.last_result,
           last_error = excluded.last_error, notified_at = excluded.notified_at",
        params![
            r.store,
            r.state.as_str(),
            r.since,
            r.checked_at,
            r.last_result.map(SessionState::as_str),
            r.last_error,
            r.notified_at
        ],
    )?;
    Ok(())
}

fn parse_state(s: &str) -> Option<SessionState> {
    [
        SessionState::SignedIn,
        SessionState::SignedOut,
        SessionState::Unknown,
    ]
    .into_iter()
    .find(|st| st.as_str() == s)
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoreSession> {
    let state: String = r.get(1)?;
    let last: Option<String> = r.get(4)?;
    Ok(StoreSession {
        store: r.get(0)?,
        state: parse_state(&state).unwrap_or(SessionState::Unknown),
        since: r.get(2)?,
        checked_at: r.get(3)?,
        last_result: last.as_deref().and_then(parse_state),
        last_error: r.get(5)?,
        notified_at: r.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600 * 1000;

    fn check(state: SessionState) -> SessionCheck {
        SessionCheck {
            state,
            detail: None,
        }
    }

    fn step(
        prev: Option<StoreSession>,
        state: SessionState,
        now: i64,
    ) -> (StoreSession, Option<Transition>) {
        decide(
            "demo",
            prev.as_ref(),
            &check(state),
            now,
            Duration::from_secs(24 * 3600),
        )
    }

    #[test]
    fn out_remind_back() {
        use SessionState::*;
        let (r, t) = step(None, SignedIn, 0);
        assert_eq!((r.state, t), (SignedIn, None));
        let (r, t) = step(Some(r), SignedOut, H);
        assert_eq!(
            (r.state, r.since, t),
            (SignedOut, H, Some(Transition::SignedOut))
        );
        let (r, t) = step(Some(r), SignedOut, 2 * H);
        assert_eq!(t, None, "within the remind period");
        let (r, t) = step(Some(r), Unknown, 30 * H);
        assert_eq!(
            (r.state, t),
            (SignedOut, None),
            "unknown keeps what is known"
        );
        assert_eq!(r.last_result, Some(Unknown));
        let (r, t) = step(Some(r), SignedOut, 25 * H);
        assert_eq!(t, Some(Transition::Reminder));
        assert_eq!(r.since, H, "still out since the first time");
        let (r, t) = step(Some(r), SignedOut, 26 * H);
        assert_eq!(t, None);
        let (r, t) = step(Some(r), SignedIn, 27 * H);
        assert_eq!(
            (r.state, r.since, t),
            (SignedIn, 27 * H, Some(Transition::Back))
        );
        assert_eq!(r.notified_at, None);
        let (_, t) = step(Some(r), SignedIn, 28 * H);
        assert_eq!(t, None);
    }

    #[test]
    fn first_check_signed_out_is_told() {
        let (r, t) = step(None, SessionState::SignedOut, 5);
        assert_eq!(
            (r.state, t),
            (SessionState::SignedOut, Some(Transition::SignedOut))
        );
        let (r, t) = step(None, SessionState::Unknown, 5);
        assert_eq!((r.state, t), (SessionState::Unknown, None));
        assert!(r.last_error.is_some());
    }

    #[tokio::test]
    async fn rows_round_trip_and_login_clears() {
        let dir = tempfile::tempdir().unwrap();
        let q = Db::open(&dir.path().join("db")).unwrap();
        let day = Duration::from_secs(86400);
        let (_, t) = record(&q, "demo", check(SessionState::SignedOut), day)
            .await
            .unwrap();
        assert_eq!(t, Some(Transition::SignedOut));
        assert!(signed_out(&q, "demo").await.unwrap().is_some());
        mark_signed_in(&q, "demo").await.unwrap();
        assert!(signed_out(&q, "demo").await.unwrap().is_none());
        let rows = list(&q).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].state, SessionState::SignedIn);
        note_signed_out_by_buy(&q, "other").await.unwrap();
        let row = get(&q, "other").await.unwrap().unwrap();
        assert_eq!(row.state, SessionState::SignedOut);
        assert!(row.notified_at.is_some());
    }
}
