//! Who is using a store's browser profile right now, inside this process.
//!
//! A profile is one directory that one Chromium at a time may use; the
//! `flock` in [`crate::purchase::browser`] already makes a second browser
//! fail fast. That is a last line of defence, not a schedule: a buy that
//! fails with "profile busy" in the middle of an owner's sign-in would
//! become a failed order. So the parts of `serve` that start browsers
//! agree here first:
//!
//! - a live sign-in session takes [`Holder::Live`] for its whole life
//!   (browser, clean close, the fresh probe that checks the result);
//! - a buy takes [`Holder::Buy`] for each source it tries, and treats a
//!   store held by a live session like an unavailable source (the engine
//!   tries the item's next source, or puts the order back to wait; see
//!   `engine::held`);
//! - the session probe takes [`Holder::Probe`] per store and skips a store
//!   a live session holds, saying so;
//! - a verification's look at the order history takes [`Holder::Verify`]
//!   and, when the store is held, waits for a later turn without counting
//!   a check (`engine::verify`).
//!
//! Taking a hold never waits: [`ProfileHolds::try_hold`] answers at once
//! with the current holder, and each caller decides (skip, wait, refuse).
//! A [`Hold`] is released when dropped, on every exit path.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What holds a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// A buy of this order is using the profile.
    Buy { order_id: i64 },
    /// The session probe is checking the profile.
    Probe,
    /// A verification of this order is reading the order history.
    Verify { order_id: i64 },
    /// A live sign-in session (the page served to the owner's phone).
    Live,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Holder::Buy { order_id } => write!(f, "a buy (order {order_id})"),
            Holder::Probe => f.write_str("the session probe"),
            Holder::Verify { order_id } => write!(f, "a verification (order {order_id})"),
            Holder::Live => f.write_str("a live sign-in session"),
        }
    }
}

/// The registry; share it as `Arc<ProfileHolds>`.
#[derive(Debug, Default)]
pub struct ProfileHolds {
    held: Mutex<HashMap<String, Holder>>,
}

/// One store's hold; released on drop.
#[derive(Debug)]
pub struct Hold {
    holds: Arc<ProfileHolds>,
    store: String,
    holder: Holder,
}

impl Hold {
    pub fn store(&self) -> &str {
        &self.store
    }

    pub fn holder(&self) -> Holder {
        self.holder
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut held = self.holds.lock();
        if held.get(&self.store) == Some(&self.holder) {
            held.remove(&self.store);
        }
    }
}

impl ProfileHolds {
    pub fn new() -> Arc<ProfileHolds> {
        Arc::new(ProfileHolds::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Holder>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `store`'s profile for `holder`, or says who has it.
    pub fn try_hold(self: &Arc<Self>, store: &str, holder: Holder) -> Result<Hold, Holder> {
        let mut held = self.lock();
        if let Some(current) = held.get(store) {
            return Err(*current);
        }
        held.insert(store.to_string(), holder);
        Ok(Hold {
            holds: Arc::clone(self),
            store: store.to_string(),
            holder,
        })
    }

    /// Who holds `store`'s profile now, if anyone.
    pub fn holder(&self, store: &str) -> Option<Holder> {
        self.lock().get(store).copied()
    }
}

/// Why a buy does not use `store` now, when a live session holds it; the
/// sentence the engine logs and writes on the order.
pub fn held_by_live(holds: &ProfileHolds, store: &str) -> Option<String> {
    (holds.holder(store) == Some(Holder::Live))
        .then(|| format!("store `{store}` is held by a live sign-in session"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_released_on_drop() {
        let holds = ProfileHolds::new();
        let live = holds.try_hold("demo", Holder::Live).unwrap();
        assert_eq!(
            holds
                .try_hold("demo", Holder::Buy { order_id: 3 })
                .unwrap_err(),
            Holder::Live
        );
        let other = holds.try_hold("other", Holder::Probe).unwrap();
        assert_eq!(holds.holder("other"), Some(Holder::Probe));
        assert!(held_by_live(&holds, "demo")
            .unwrap()
            .contains("live sign-in"));
        drop(live);
        assert_eq!(holds.holder("demo"), None);
        assert!(held_by_live(&holds, "demo").is_none());
        let buy = holds.try_hold("demo", Holder::Buy { order_id: 3 }).unwrap();
        assert_eq!(buy.holder().to_string(), "a buy (order 3)");
        drop(other);
        drop(buy);
        assert_eq!(holds.holder("demo"), None);
    }
}
