//! The vocabulary every part of restock shares: what an order is and where
//! it stands, what a buy ended in, what is known about a store's session,
//! what the engine is doing, money, the wall clock, a store's order history
//! and what verifying an order in it concluded.
//!
//! This is the bottom layer: it imports nothing else of the crate, so any
//! module may use it and it can never pull a subsystem into another (see
//! ARCHITECTURE.md). Names that are stored (statuses, phases, session
//! states) are their snake_case words, the same a human reads in the
//! `sqlite3` shell and in the docs; [`names`] turns them back into values.

mod activity;
mod clock;
mod history;
mod liveness;
mod money;
mod monitor;
mod names;
mod order;
mod outcome;
mod session;

pub use activity::ActivityState;
pub use clock::{now_ms, Clock};
pub use history::{
    candidates, check_times, parse_placed, HistoryRow, OrderHistory, Placed, StoreZone, Verdict,
    Wanted, SKEW,
};
pub use liveness::EngineLiveness;
pub use money::{Money, ParseMoneyError, Pick, ReadMoneyError};
pub use monitor::{MonitorKind, Say};
pub use names::ParseNameError;
pub use order::{Phase, Status};
pub use outcome::Outcome;
pub use session::{decide, SeenCookie, SessionCheck, SessionState, StoreSession, Transition};
