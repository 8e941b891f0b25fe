//! What every test binary shares, one file per job:
//!
//! - [`env`]: a temp state dir with a catalog and the `Config` pointing at
//!   it, and the `restock` binary's command (the one place that builds it);
//! - [`serve`]: `restock serve` as a child process;
//! - [`engine`]: in-process engine rigs with scripted purchasers;
//! - [`intake`]: the intake's HTTP API and the home page as a client
//!   without script uses them;
//! - [`receivers`]: recording HTTP receivers on 127.0.0.1 for monitors and
//!   notification endpoints;
//! - [`demo`]: the demo store (admin API, faults, signing in, the real
//!   browser settings and factory, demo catalogs);
//! - [`layout`]: the demo store's layouts (classic, spa) a browser test
//!   runs on, and [`layout_tests!`] to run a test on each;
//! - [`buy_world`]: a demo store with the real purchaser pointed at it and
//!   a recorder of the buy's progress, for tests that call the purchaser;
//! - [`chromium`]: finding, and proving the absence of, Chromium processes;
//! - [`browser`]: a second headless Chromium looking at restock's pages as
//!   a phone or a desktop;
//! - [`db`]: the table dump behind "the database is unchanged" checks;
//! - [`wait`]: the one way to wait, always with a deadline.
//!
//! Each test binary compiles this module and uses a part of it.
#![allow(dead_code)]

pub mod browser;
pub mod buy_world;
pub mod chromium;
pub mod db;
pub mod demo;
pub mod engine;
pub mod env;
pub mod intake;
pub mod layout;
pub mod receivers;
pub mod serve;
pub mod wait;
