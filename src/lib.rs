//! restock: reorders household staples through a real browser, safely.
//!
//! Data flows one way: [`intake`] (and the home page, [`web`]) -> [`db`]
//! -> [`engine`] -> [`purchase`] -> result -> [`db`] / [`notify`]. The modules are layered (vocabulary
//! at the bottom: [`model`], [`text`], [`urls`]; then [`config`]; [`db`]
//! holding every SQL statement; the subsystems; [`server`] wiring them);
//! `ARCHITECTURE.md` draws the layers and says which may import which. The
//! command line is not here: it lives in the binary (`src/main.rs`).

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
pub mod web;
