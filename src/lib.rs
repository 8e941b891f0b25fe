//! restock: reorders household staples through a real browser, safely.

pub mod demo;
