//! Store options: the shape of the shop, as opposed to faults (which are
//! the shop misbehaving). Real shops differ in which pages their checkout
//! has; these switches let one demo store be each of those shops, so the
//! purchaser can be proven against every shape without a second server.
//!
//! | option            | default | layouts     | what it models |
//! |-------------------|---------|-------------|----------------|
//! | `interstitial`    | off     | spa         | an upsell page ("Add a protection plan?") between cart and checkout that must be declined |
//! | `shipping_choice` | off     | spa         | a shipping-method page with radio buttons; off means one fixed, free method and no page |
//! | `payment_step`    | off     | classic, alt| a payment page ("Pay with saved card •••• 4242") with its own Continue between address and review (spa always has one) |
//! | `saved_address`   | off     | classic, alt| once a session has an address, `/checkout` skips the form (spa always remembers it) |
//! | `session_ttl`     | 30 days | all         | how long a sign-in lasts: cookie lifetime and server-side expiry |
//!
//! Set with `POST /admin/options` (a JSON patch: `{"interstitial": true,
//! "session_ttl": 90}`, seconds for the TTL); a bad patch changes nothing.
//! `/admin/reset` restores the options the store was started with
//! (defaults, except what [`super::DemoStore::spawn_with`] or
//! `restock demo-store --session-ttl` configured).

use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};

/// The default session lifetime: thirty days, so a purchaser's browser
/// profile stays signed in across restarts.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Browsers cap cookie lifetimes at 400 days; a longer TTL would be a lie.
pub const MAX_SESSION_TTL: Duration = Duration::from_secs(400 * 24 * 3600);

/// The shape of the shop (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StoreOptions {
    pub interstitial: bool,
    pub shipping_choice: bool,
    pub payment_step: bool,
    pub saved_address: bool,
    /// Whole seconds, at least one; serialized as a number of seconds.
    #[serde(serialize_with = "as_secs")]
    pub session_ttl: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            interstitial: false,
            shipping_choice: false,
            payment_step: false,
            saved_address: false,
            session_ttl: DEFAULT_SESSION_TTL,
        }
    }
}

fn as_secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

/// Why options (a patch, or the options a store starts with) were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error("session_ttl must be a whole number of seconds, at least 1 and at most 400 days (34560000 s); got {0:?}")]
    SessionTtl(Duration),
    #[error("invalid options patch: {0}")]
    Malformed(String),
}

impl StoreOptions {
    /// Checks the options are ones the store can honour.
    pub fn validate(&self) -> Result<(), OptionsError> {
        let ttl = self.session_ttl;
        let whole = ttl.subsec_nanos() == 0;
        match whole && ttl >= Duration::from_secs(1) && ttl <= MAX_SESSION_TTL {
            true => Ok(()),
            false => Err(OptionsError::SessionTtl(ttl)),
        }
    }

    /// These options with the patch merged in, or why the patch is refused
    /// (then nothing changes).
    pub fn patched(&self, patch: &OptionsPatch) -> Result<StoreOptions, OptionsError> {
        let next = StoreOptions {
            interstitial: patch.interstitial.unwrap_or(self.interstitial),
            shipping_choice: patch.shipping_choice.unwrap_or(self.shipping_choice),
            payment_step: patch.payment_step.unwrap_or(self.payment_step),
            saved_address: patch.saved_address.unwrap_or(self.saved_address),
            session_ttl: patch
                .session_ttl
                .map_or(self.session_ttl, Duration::from_secs),
        };
        next.validate()?;
        Ok(next)
    }
}

/// Body of `POST /admin/options`: every field optional. Unknown fields are
/// refused, so a typo fails loudly instead of silently changing nothing.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionsPatch {
    pub interstitial: Option<bool>,
    pub shipping_choice: Option<bool>,
    pub payment_step: Option<bool>,
    pub saved_address: Option<bool>,
    /// Seconds.
    pub session_ttl: Option<u64>,
}

impl OptionsPatch {
    /// Parses a request body, naming what is wrong with a bad one.
    pub fn parse(body: &[u8]) -> Result<OptionsPatch, OptionsError> {
        serde_json::from_slice(body).map_err(|e| OptionsError::Malformed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_merge_and_bad_ones_are_refused() {
        let base = StoreOptions::default();
        let patch = OptionsPatch::parse(br#"{"payment_step":true,"session_ttl":90}"#).unwrap();
        let next = base.patched(&patch).unwrap();
        assert!(next.payment_step && !next.interstitial);
        assert_eq!(next.session_ttl, Duration::from_secs(90));
        let zero = OptionsPatch::parse(br#"{"session_ttl":0}"#).unwrap();
        assert_eq!(
            base.patched(&zero),
            Err(OptionsError::SessionTtl(Duration::ZERO))
        );
        assert!(OptionsPatch::parse(br#"{"interstitail":true}"#).is_err());
        assert!(OptionsPatch::parse(br#"{"interstitial":"yes"}"#).is_err());
    }

    #[test]
    fn ttls_must_be_whole_seconds_within_cookie_limits() {
        let with = |ttl| StoreOptions {
            session_ttl: ttl,
            ..StoreOptions::default()
        };
        assert!(with(Duration::from_millis(1500)).validate().is_err());
        assert!(with(MAX_SESSION_TTL + Duration::from_secs(1))
            .validate()
            .is_err());
        assert!(with(Duration::from_secs(1)).validate().is_ok());
        assert_eq!(
            serde_json::to_value(StoreOptions::default()).unwrap()["session_ttl"],
            serde_json::json!(2_592_000)
        );
    }
}
