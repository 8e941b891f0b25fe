//! What is known about a store profile's sign-in: the probe's, a buy's and
//! `restock login`'s shared words, and how a store's session record
//! changes with each thing learned (pure rules; the database stores the
//! record, the probe tells the owner what [`decide`] says to tell).
//!
//! `state` is the last *known* state: an `unknown` check (timeout, block,
//! challenge) does not erase a known `signed_out` or `signed_in`; it is kept
//! in `last_result` / `last_error` next to it. A store never seen signed in
//! or out has state `unknown`.

use std::time::Duration;

use serde::Serialize;

use super::names::named_enum;

named_enum! {
    "session state", "snake_case",
    /// Whether a store profile is signed in, as last seen.
    pub enum SessionState {
        SignedIn,
        SignedOut,
        Unknown,
    }
}

/// One look at a store profile's session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionCheck {
    pub state: SessionState,
    /// Why the state is `unknown` (timeout, block, challenge), or a note.
    pub detail: Option<String>,
}

impl SessionCheck {
    pub fn known(state: SessionState) -> SessionCheck {
        SessionCheck {
            state,
            detail: None,
        }
    }

    /// The state could not be told; `detail` says why.
    pub fn unknown(detail: impl Into<String>) -> SessionCheck {
        SessionCheck {
            state: SessionState::Unknown,
            detail: Some(detail.into()),
        }
    }
}

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
    let mut row = prev
        .cloned()
        .unwrap_or_else(|| StoreSession::new(store, SessionState::Unknown, now));
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

impl StoreSession {
    /// A store never seen before, in state `state` from `now`.
    pub fn new(store: &str, state: SessionState, now: i64) -> StoreSession {
        StoreSession {
            store: store.to_string(),
            state,
            since: now,
            checked_at: None,
            last_result: None,
            last_error: None,
            notified_at: None,
        }
    }

    /// `restock login STORE` (or cookie import) succeeded: signed in now,
    /// with no notification (the owner just did it). Keeps `since` when it
    /// already was signed in.
    pub fn signed_in_by_owner(prev: Option<&StoreSession>, store: &str, now: i64) -> StoreSession {
        let since = prev
            .filter(|p| p.state == SessionState::SignedIn)
            .map_or(now, |p| p.since);
        StoreSession {
            checked_at: Some(now),
            last_result: Some(SessionState::SignedIn),
            ..StoreSession::new(store, SessionState::SignedIn, since)
        }
    }

    /// A buy met the sign-in wall: the store is signed out. The pause that
    /// follows tells the owner, so this counts as notified (reminders go on
    /// from here).
    pub fn signed_out_by_buy(prev: Option<&StoreSession>, store: &str, now: i64) -> StoreSession {
        let mut row = prev
            .cloned()
            .unwrap_or_else(|| StoreSession::new(store, SessionState::SignedOut, now));
        if prev.map(|p| p.state) != Some(SessionState::SignedOut) {
            row.state = SessionState::SignedOut;
            row.since = now;
            row.notified_at = Some(now);
        }
        row.last_error = Some("a buy met the sign-in page".into());
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
}
