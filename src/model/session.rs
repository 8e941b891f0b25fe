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
    /// When the session ends: the earliest expiry among the session
    /// cookies the store definition names (`session.cookies`), ms since
    /// the epoch. `None` when it names none, or they were not read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Every cookie the profile holds for the store (names and expiry,
    /// never values), read when the definition names no session cookies,
    /// so they can be learned ([`decide`]). `None`: not read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cookies: Option<Vec<SeenCookie>>,
}

/// A cookie the profile holds: its name and when it expires (`None`: when
/// the browser closes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeenCookie {
    pub name: String,
    pub expires_at: Option<i64>,
}

impl SessionCheck {
    pub fn known(state: SessionState) -> SessionCheck {
        SessionCheck {
            state,
            detail: None,
            expires_at: None,
            cookies: None,
        }
    }

    /// The state could not be told; `detail` says why.
    pub fn unknown(detail: impl Into<String>) -> SessionCheck {
        SessionCheck {
            detail: Some(detail.into()),
            ..SessionCheck::known(SessionState::Unknown)
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
    /// When the session's cookies expire, as last seen signed in (ms since
    /// the epoch); `None` when unknown.
    pub expires_at: Option<i64>,
    /// The session cookies learned for a store whose definition names none:
    /// present when signed in, gone when signed out.
    pub session_cookies: Option<Vec<String>>,
    /// The cookies present at the last signed-in check, the candidates for
    /// `session_cookies` when a signed-out check comes.
    pub seen_cookies: Option<Vec<String>>,
    /// The expiry the owner was warned about (once per expiry).
    pub warned_expiry: Option<i64>,
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
            row.expires_at = None;
            learn_from_signed_out(&mut row, check);
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
            row.expires_at = expiry_when_signed_in(&mut row, check);
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

/// The session's expiry from a signed-in check: the one the definition's
/// cookies gave, else the earliest among the learned session cookies
/// (remembering what was present, to learn from a later sign-out).
fn expiry_when_signed_in(row: &mut StoreSession, check: &SessionCheck) -> Option<i64> {
    if check.expires_at.is_some() {
        return check.expires_at;
    }
    let cookies = check.cookies.as_ref()?;
    row.seen_cookies = Some(cookies.iter().map(|c| c.name.clone()).collect());
    let learned = row.session_cookies.as_ref()?;
    cookies
        .iter()
        .filter(|c| learned.contains(&c.name))
        .filter_map(|c| c.expires_at)
        .min()
}

/// Cookies present at the last signed-in check and gone now are the
/// session's.
fn learn_from_signed_out(row: &mut StoreSession, check: &SessionCheck) {
    let (Some(seen), Some(now)) = (&row.seen_cookies, &check.cookies) else {
        return;
    };
    let gone: Vec<String> = seen
        .iter()
        .filter(|name| !now.iter().any(|c| &c.name == *name))
        .cloned()
        .collect();
    if !gone.is_empty() {
        row.session_cookies = Some(gone);
    }
}

impl StoreSession {
    /// Is a warning due now that the session expires within `warn`? Once
    /// per expiry, only while signed in and before it expires; `warn` of
    /// zero never warns.
    pub fn expiry_warning_due(&self, now: i64, warn: Duration) -> bool {
        let Some(expires) = self.expires_at else {
            return false;
        };
        !warn.is_zero()
            && self.state == SessionState::SignedIn
            && now < expires
            && now >= expires - warn.as_millis() as i64
            && self.warned_expiry != Some(expires)
    }

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
            expires_at: None,
            session_cookies: None,
            seen_cookies: None,
            warned_expiry: None,
        }
    }

    /// `restock login STORE` (or cookie import) succeeded: signed in now,
    /// with no notification (the owner just did it). Keeps `since` when it
    /// already was signed in.
    pub fn signed_in_by_owner(prev: Option<&StoreSession>, store: &str, now: i64) -> StoreSession {
        let since = prev
            .filter(|p| p.state == SessionState::SignedIn)
            .map_or(now, |p| p.since);
        // A new sign-in: its expiry is unknown until the next check; what
        // was learned about the store's cookies stays.
        StoreSession {
            checked_at: Some(now),
            last_result: Some(SessionState::SignedIn),
            session_cookies: prev.and_then(|p| p.session_cookies.clone()),
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
        row.expires_at = None;
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const H: i64 = 3600 * 1000;

    fn check(state: SessionState) -> SessionCheck {
        SessionCheck::known(state)
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

    fn cookies(names: &[(&str, Option<i64>)]) -> Option<Vec<SeenCookie>> {
        Some(
            names
                .iter()
                .map(|(n, e)| SeenCookie {
                    name: n.to_string(),
                    expires_at: *e,
                })
                .collect(),
        )
    }

    #[test]
    fn session_cookies_are_learned_and_give_the_expiry() {
        use SessionState::*;
        let remind = Duration::from_secs(3600);
        let signed_in = SessionCheck {
            cookies: cookies(&[
                ("consent", Some(9 * H)),
                ("sid", Some(5 * H)),
                ("tmp", None),
            ]),
            ..check(SignedIn)
        };
        let (r, _) = decide("demo", None, &signed_in, 0, remind);
        assert_eq!(r.expires_at, None, "nothing learned yet");
        let signed_out = SessionCheck {
            cookies: cookies(&[("consent", Some(9 * H))]),
            ..check(SignedOut)
        };
        let (r, _) = decide("demo", Some(&r), &signed_out, H, remind);
        assert_eq!(r.session_cookies, Some(vec!["sid".into(), "tmp".into()]));
        assert_eq!(r.expires_at, None);
        let (r, _) = decide("demo", Some(&r), &signed_in, 2 * H, remind);
        assert_eq!(r.expires_at, Some(5 * H), "the learned cookie's expiry");
        // Named in the definition: the check's own expiry wins.
        let named = SessionCheck {
            expires_at: Some(7 * H),
            ..check(SignedIn)
        };
        let (r, _) = decide("demo", Some(&r), &named, 3 * H, remind);
        assert_eq!(r.expires_at, Some(7 * H));
        // Warned once, within the warn period, before the expiry.
        let warn = Duration::from_secs(2 * 3600);
        assert!(!r.expiry_warning_due(4 * H, warn));
        assert!(r.expiry_warning_due(5 * H, warn));
        let mut r = r;
        r.warned_expiry = r.expires_at;
        assert!(!r.expiry_warning_due(6 * H, warn));
        assert!(
            !r.expiry_warning_due(8 * H, warn),
            "expired: the probe tells"
        );
    }
}
