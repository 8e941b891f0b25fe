//! What is known about a store profile's sign-in: the probe's, a buy's and
//! `restock login`'s shared words.

use serde::{Deserialize, Serialize};
use strum::{Display, EnumIter, IntoStaticStr};

use super::names::named;

/// Whether a store profile is signed in, as last seen.
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
pub enum SessionState {
    SignedIn,
    SignedOut,
    Unknown,
}

named!(SessionState, "session state");

impl SessionState {
    /// Every state, in the order above.
    pub fn all() -> impl Iterator<Item = SessionState> {
        <SessionState as strum::IntoEnumIterator>::iter()
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
