//! The order's vocabulary: statuses, phases and money, shared by every part.
//!
//! Statuses and phases are stored as text in SQLite (their `as_str` names) so a
//! human with the `sqlite3` shell reads the same words the docs use.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where an order is in its life. `Pending` and `InProgress` are live; every
/// other status is terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    InProgress,
    Placed,
    DryRun,
    SkippedCooldown,
    PriceBlocked,
    SpendCapped,
    Unavailable,
    SigninRequired,
    Challenge,
    Blocked,
    Failed,
    NeedsReview,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 14] = [
        Status::Pending,
        Status::InProgress,
        Status::Placed,
        Status::DryRun,
        Status::SkippedCooldown,
        Status::PriceBlocked,
        Status::SpendCapped,
        Status::Unavailable,
        Status::SigninRequired,
        Status::Challenge,
        Status::Blocked,
        Status::Failed,
        Status::NeedsReview,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::InProgress => "in_progress",
            Status::Placed => "placed",
            Status::DryRun => "dry_run",
            Status::SkippedCooldown => "skipped_cooldown",
            Status::PriceBlocked => "price_blocked",
            Status::SpendCapped => "spend_capped",
            Status::Unavailable => "unavailable",
            Status::SigninRequired => "signin_required",
            Status::Challenge => "challenge",
            Status::Blocked => "blocked",
            Status::Failed => "failed",
            Status::NeedsReview => "needs_review",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn is_terminal(self) -> bool {
        !matches!(self, Status::Pending | Status::InProgress)
    }

    /// Statuses a human must look at before the engine buys anything else.
    /// A non-retryable `failed` also pauses; that depends on the outcome, so
    /// the engine adds it (see `engine::pause_reason`).
    pub fn pauses_engine(self) -> bool {
        matches!(
            self,
            Status::Challenge
                | Status::Blocked
                | Status::NeedsReview
                | Status::SpendCapped
                | Status::SigninRequired
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown {kind} `{value}`; expected one of: {expected}")]
pub struct ParseNameError {
    kind: &'static str,
    value: String,
    expected: String,
}

impl FromStr for Status {
    type Err = ParseNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| ParseNameError {
                kind: "status",
                value: s.to_string(),
                expected: Status::ALL.map(|s| s.as_str()).join(", "),
            })
    }
}

/// The step a claimed order is in, written to its row *before* the step
/// begins, so that after a crash the row says how far money may have moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Claimed,
    Browsing,
    Cart,
    /// Written before the Place-Order click: the point of no return.
    Submitted,
}

impl Phase {
    pub const ALL: [Phase; 4] = [
        Phase::Claimed,
        Phase::Browsing,
        Phase::Cart,
        Phase::Submitted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Claimed => "claimed",
            Phase::Browsing => "browsing",
            Phase::Cart => "cart",
            Phase::Submitted => "submitted",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Phase {
    type Err = ParseNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phase::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| ParseNameError {
                kind: "phase",
                value: s.to_string(),
                expected: Phase::ALL.map(|p| p.as_str()).join(", "),
            })
    }
}

/// An amount in the store's currency, in hundredths (cents). Integer so that
/// caps and ceilings compare exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(pub i64);

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("`{0}` is not an amount; write it like `12.50` (a dot or comma, at most two decimals)")]
pub struct ParseMoneyError(pub String);

impl Money {
    pub fn cents(self) -> i64 {
        self.0
    }

    /// Reads an amount as stores print it: `€12.50`, `EUR 12,50`, `1,234.50`,
    /// `12`. The last `.` or `,` followed by one or two digits is the decimal
    /// separator; other separators are thousands marks.
    pub fn parse_loose(text: &str) -> Result<Money, ParseMoneyError> {
        let err = || ParseMoneyError(text.to_string());
        let kept: String = text
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '.' || *c == ',' || *c == '-')
            .collect();
        if !kept.chars().any(|c| c.is_ascii_digit()) {
            return Err(err());
        }
        let negative = kept.starts_with('-');
        let kept = kept.trim_start_matches('-');
        let (int_part, frac_part) = match kept.rfind(['.', ',']) {
            Some(i) if kept.len() - i - 1 <= 2 && kept.len() - i > 1 => {
                (&kept[..i], &kept[i + 1..])
            }
            _ => (kept, ""),
        };
        let int_digits: String = int_part.chars().filter(|c| c.is_ascii_digit()).collect();
        if int_part.chars().any(|c| c == '-') {
            return Err(err());
        }
        let int: i64 = if int_digits.is_empty() {
            0
        } else {
            int_digits.parse().map_err(|_| err())?
        };
        let frac: i64 = match frac_part.len() {
            0 => 0,
            1 => frac_part.parse::<i64>().map_err(|_| err())? * 10,
            _ => frac_part.parse().map_err(|_| err())?,
        };
        let cents = int
            .checked_mul(100)
            .and_then(|v| v.checked_add(frac))
            .ok_or_else(err)?;
        Ok(Money(if negative { -cents } else { cents }))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}{}.{:02}", self.0.abs() / 100, self.0.abs() % 100)
    }
}

impl FromStr for Money {
    type Err = ParseMoneyError;
    /// Strict form for configuration: digits with an optional `.` and at most
    /// two decimals.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let ok = !t.is_empty()
            && t.chars().all(|c| c.is_ascii_digit() || c == '.')
            && t.matches('.').count() <= 1
            && t.split('.')
                .nth(1)
                .is_none_or(|f| !f.is_empty() && f.len() <= 2);
        if !ok {
            return Err(ParseMoneyError(s.to_string()));
        }
        Money::parse_loose(t)
    }
}

impl Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Money {
    /// Accepts `"12.50"` or a bare number (`12.5`, `12`) in TOML and JSON.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Int(i64),
            Float(f64),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Text(t) => t,
            Raw::Int(i) => i.to_string(),
            Raw::Float(f) => format!("{f:.2}"),
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The wall clock, injectable so tests can move time backwards and
/// forwards. Durations that must not jump (intervals, timeouts) use
/// `tokio::time::Instant` instead; this clock is for stored timestamps.
#[derive(Clone)]
pub struct Clock(std::sync::Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    pub fn system() -> Clock {
        Clock(std::sync::Arc::new(now_ms))
    }

    /// A clock that reads `ms`; the test moves it with `store`.
    pub fn manual(ms: std::sync::Arc<std::sync::atomic::AtomicI64>) -> Clock {
        Clock(std::sync::Arc::new(move || {
            ms.load(std::sync::atomic::Ordering::SeqCst)
        }))
    }

    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Clock({})", self.now_ms())
    }
}

/// Milliseconds since the Unix epoch: how every timestamp is stored.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_store_formats() {
        for (text, cents) in [
            ("€6.49", 649),
            ("EUR 6,49", 649),
            ("1,234.50", 123450),
            ("12", 1200),
            ("9.9", 990),
            ("1.234,5", 123450),
        ] {
            assert_eq!(Money::parse_loose(text), Ok(Money(cents)), "{text}");
        }
        assert!(Money::parse_loose("free").is_err());
    }

    #[test]
    fn money_config_form_is_strict() {
        assert_eq!("12.50".parse::<Money>(), Ok(Money(1250)));
        assert!("12.505".parse::<Money>().is_err());
        assert!("€12".parse::<Money>().is_err());
        assert!("".parse::<Money>().is_err());
    }

    #[test]
    fn names_round_trip() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
        }
        for p in Phase::ALL {
            assert_eq!(p.as_str().parse::<Phase>().unwrap(), p);
        }
    }
}
