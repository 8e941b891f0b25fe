//! restock: reorders household staples through a real browser, safely.
//!
//! Data flows one way: [`intake`] -> [`queue`] -> [`engine`] -> [`purchase`]
//! -> result -> [`queue`] / notify.

pub mod demo;
pub mod model;
pub mod purchase;
