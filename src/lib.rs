//! restock: reorders household staples through a real browser, safely.
//!
//! Data flows one way: [`intake`] -> [`queue`] -> [`engine`] -> [`purchase`]
//! -> result -> [`queue`] / notify.

pub mod catalog;
pub mod config;
pub mod db;
pub mod demo;
pub mod engine;
pub mod heartbeat;
pub mod html;
pub mod intake;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod probe;
pub mod purchase;
pub mod screenshots;
pub mod server;
pub mod signin;
pub mod text;
pub mod urls;
