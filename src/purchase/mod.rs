//! Buying: the contract between the engine and whatever drives a store.
//!
//! The engine never talks to a browser. It asks a [`PurchaserFactory`] for a
//! [`Purchaser`] per store and hands it a [`BuyRequest`] plus a
//! [`BuyProgress`] through which the purchaser (a) writes each phase to the
//! order's row *before* the step begins, (b) reports liveness so the
//! dead-man's switch keeps beating only while the buy moves, and (c) asks the
//! engine's guards to approve the total read at review before Place Order.
//!
//! `purchase::factory(config, store)` is the one way to get the real browser
//! purchaser (buys, the probe, `login`, diagnostics all use it); the engine
//! holds a factory behind the trait so tests can inject [`scripted`] ones.

pub mod scripted;

use std::path::PathBuf;

use async_trait::async_trait;
use serde::Serialize;
use url::Url;

use crate::model::{Money, Phase, Status};

/// One source of one order, as the purchaser needs it.
#[derive(Debug, Clone)]
pub struct BuyRequest {
    pub order_id: i64,
    pub item_id: String,
    pub item_name: String,
    pub quantity: u32,
    pub store: String,
    pub product_url: Url,
    /// The tighter of the source's and the item's price ceilings.
    pub ceiling: Option<Money>,
    /// Stop before Place Order and report `dry_run`.
    pub dry_run: bool,
}

/// What one source ended in. `status` is a terminal [`Status`]; the engine
/// moves on to the item's next source for `unavailable` and `price_blocked`
/// and settles the order with anything else.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub status: Status,
    /// Only meaningful for `failed`: may an automatic retry try again?
    pub retryable: bool,
    pub price: Option<Money>,
    pub total: Option<Money>,
    pub order_ref: Option<String>,
    pub message: Option<String>,
    pub screenshot: Option<PathBuf>,
}

impl Outcome {
    pub fn new(status: Status) -> Outcome {
        Outcome {
            status,
            retryable: false,
            price: None,
            total: None,
            order_ref: None,
            message: None,
            screenshot: None,
        }
    }

    pub fn failed(message: impl Into<String>, retryable: bool) -> Outcome {
        Outcome {
            retryable,
            ..Outcome::new(Status::Failed)
        }
        .message(message)
    }

    pub fn message(mut self, message: impl Into<String>) -> Outcome {
        self.message = Some(message.into());
        self
    }

    pub fn price(mut self, price: Money) -> Outcome {
        self.price = Some(price);
        self
    }

    pub fn total(mut self, total: Money) -> Outcome {
        self.total = Some(total);
        self
    }

    pub fn order_ref(mut self, order_ref: impl Into<String>) -> Outcome {
        self.order_ref = Some(order_ref.into());
        self
    }

    pub fn screenshot(mut self, path: PathBuf) -> Outcome {
        self.screenshot = Some(path);
        self
    }

    /// Should the engine try the item's next source?
    pub fn falls_through(&self) -> bool {
        matches!(self.status, Status::Unavailable | Status::PriceBlocked)
    }
}

/// Why the engine's guards refused a total at review.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct Refusal {
    /// The status the order settles in (`spend_capped`, `price_blocked`).
    pub status: Status,
    pub reason: String,
}

/// The engine's side of a buy, handed to the purchaser.
#[async_trait]
pub trait BuyProgress: Send + Sync {
    /// Persists `phase` on the order's row; the step it names may begin only
    /// after this returns `Ok`. `Submitted` is the point of no return.
    async fn enter(&self, phase: Phase) -> Result<(), PurchaseError>;
    /// Liveness: the buy made progress (a page loaded, a click answered).
    fn step(&self, what: &str);
    /// Asks the guards whether `total` may be spent. Called at review, before
    /// `enter(Submitted)`.
    async fn approve_total(&self, total: Money) -> Result<(), Refusal>;
    /// Where a screenshot for this order should be written.
    fn screenshot_path(&self, label: &str) -> PathBuf;
}

/// Whether a store profile is still signed in, as the probe sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    SignedIn,
    SignedOut,
    Unknown,
}

impl SessionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::SignedIn => "signed_in",
            SessionState::SignedOut => "signed_out",
            SessionState::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionCheck {
    pub state: SessionState,
    /// Why the state is `unknown` (timeout, block, challenge), or a note.
    pub detail: Option<String>,
}

/// Drives one store. Dropping it must release everything it started (the
/// browser process included), so the engine can cancel a buy by dropping
/// the future.
#[async_trait]
pub trait Purchaser: Send {
    async fn buy(&mut self, req: &BuyRequest, progress: &dyn BuyProgress) -> Outcome;
    /// Read-only: navigation only, no cart, no clicks.
    async fn check_session(&mut self) -> SessionCheck;
}

pub trait PurchaserFactory: Send + Sync {
    fn purchaser(&self, store: &str) -> Result<Box<dyn Purchaser>, PurchaseError>;
}

#[derive(Debug, thiserror::Error)]
pub enum PurchaseError {
    #[error("store `{0}` is not defined; add a store definition file or fix the catalog")]
    UnknownStore(String),
    #[error("could not record the phase on the order: {0}")]
    Queue(String),
    #[error("{0}")]
    Browser(String),
}

/// The purchaser factory `serve` uses. Until the browser purchaser lands
/// this refuses every store with a clear message.
pub fn default_factory(
    _config: &crate::config::Config,
) -> Result<std::sync::Arc<dyn PurchaserFactory>, PurchaseError> {
    struct Unavailable;
    impl PurchaserFactory for Unavailable {
        fn purchaser(&self, store: &str) -> Result<Box<dyn Purchaser>, PurchaseError> {
            Err(PurchaseError::Browser(format!(
                "no browser purchaser is built in yet for store `{store}`"
            )))
        }
    }
    Ok(std::sync::Arc::new(Unavailable))
}
