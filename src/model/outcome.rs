//! What one buy from one source ended in: the purchaser's answer to the
//! engine, and what is written to the order's row.

use std::path::PathBuf;

use serde::Serialize;

use super::{Money, Status};

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
