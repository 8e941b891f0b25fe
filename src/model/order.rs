//! An order's status and, while it is claimed, its phase. Both are stored
//! as their names (`as_str`).

use super::names::named_enum;

named_enum! {
    "status", "snake_case",
    /// Where an order is in its life. `Pending` and `InProgress` are live; every
    /// other status is terminal.
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
}

impl Status {
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

named_enum! {
    "phase", "snake_case",
    /// The step a claimed order is in, written to its row *before* the step
    /// begins, so that after a crash the row says how far money may have moved.
    pub enum Phase {
        Claimed,
        Browsing,
        Cart,
        /// Written before the Place-Order click: the point of no return.
        Submitted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn names_round_trip() {
        for s in Status::iter() {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
            assert_eq!(s.to_string(), s.as_str());
        }
        for p in Phase::iter() {
            assert_eq!(p.as_str().parse::<Phase>().unwrap(), p);
        }
        assert_eq!(Status::InProgress.as_str(), "in_progress");
        let e = "shipped".parse::<Status>().unwrap_err().to_string();
        assert!(
            e.starts_with("unknown status `shipped`; expected one of: pending, in_progress"),
            "{e}"
        );
    }
}
