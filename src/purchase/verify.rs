//! Reading a store's order history (the `[orders]` of its definition), so
//! the engine can tell whether an order whose Place Order was clicked but
//! never confirmed went through. Used through
//! [`super::Purchaser::order_history`].
//!
//! Read-only: one navigation to the order-history page, a wait for its
//! rows (or its empty marker, a sign-in wall, a block, a challenge), one
//! read of every row; no click, no form, no cart. Bounded by the launch
//! timeout plus two step timeouts; the browser is always closed (and
//! killed if closing hangs). A store without `[orders]` answers
//! [`OrderHistory::Unsupported`] without starting a browser.
//!
//! Each row's readings are parsed here, where the definition's date format
//! and time zone are known: the total as money ([`Money::read`], with the reading's `pick`),
//! the date as the span it names ([`parse_placed`]). What can be matched
//! is decided by the engine ([`crate::model::candidates`]).

use super::browser::open;
use super::store::{Markers, OrdersPage, StoreDef};
use super::tab::Tab;
use super::wait::{non_empty, Want};
use super::BrowserSettings;
use crate::model::{parse_placed, HistoryRow, Money, OrderHistory};

/// Rows read at most (order histories list the newest first).
const MAX_ROWS: usize = 50;

pub(crate) async fn order_history(settings: &BrowserSettings, store: &StoreDef) -> OrderHistory {
    let Some(orders) = &store.orders else {
        return OrderHistory::Unsupported;
    };
    let bound = settings.launch_timeout + settings.step_timeout * 2;
    match tokio::time::timeout(bound, read_history(settings, store, orders)).await {
        Ok(history) => history,
        Err(_) => OrderHistory::Failed(format!(
            "reading the order history took over {}",
            humantime::format_duration(bound)
        )),
    }
}

async fn read_history(
    settings: &BrowserSettings,
    store: &StoreDef,
    orders: &OrdersPage,
) -> OrderHistory {
    let session = match open(settings, &store.name, settings.headless).await {
        Ok(session) => session,
        Err(e) => return OrderHistory::Failed(format!("could not start the browser: {e}")),
    };
    let mut tab = Tab::new(session.page(), settings.step_timeout);
    let history = read(&mut tab, store, orders).await;
    session.close().await;
    history
}

async fn read(tab: &mut Tab<'_>, store: &StoreDef, orders: &OrdersPage) -> OrderHistory {
    let url = store.url(&orders.url);
    if let Err(e) = tab.goto(&url).await {
        return OrderHistory::Failed(e.to_string());
    }
    let row = Markers::selector(&orders.row);
    let wants = non_empty(vec![
        Want::fresh("block", &store.block),
        Want::fresh("challenge", &store.challenge),
        Want::fresh("row", &row),
        Want::fresh("empty", &orders.empty),
        Want::fresh("signed_out", &store.session.signed_out),
    ]);
    let seen = match tab.wait(&wants).await {
        Ok(seen) => seen,
        Err(e) => return OrderHistory::Failed(format!("the order history at {url}: {e}")),
    };
    match seen.name.as_str() {
        "row" => {}
        "empty" => return OrderHistory::Read(Vec::new()),
        "signed_out" => {
            return OrderHistory::Failed(format!(
                "the store profile is signed out (seen at {}); run `restock login {}`",
                seen.href, store.name
            ))
        }
        "block" => {
            return OrderHistory::Failed(format!(
                "the store shows an access-denied page at {}",
                seen.href
            ))
        }
        _ => {
            return OrderHistory::Failed(format!(
                "the store shows a bot challenge at {}",
                seen.href
            ))
        }
    }
    let fields = [
        Some(&orders.order_id),
        Some(&orders.date),
        Some(&orders.total),
        orders.items.as_ref(),
    ];
    match tab.rows(&orders.row, &fields, MAX_ROWS).await {
        Ok(rows) => OrderHistory::Read(rows.into_iter().map(|r| history_row(orders, r)).collect()),
        Err(e) => OrderHistory::Failed(format!("reading the order history at {url}: {e}")),
    }
}

/// One row's texts, and what they say.
fn history_row(orders: &OrdersPage, texts: Vec<Option<String>>) -> HistoryRow {
    let mut texts = texts
        .into_iter()
        .map(|t| t.filter(|t| !t.trim().is_empty()));
    let mut next = || texts.next().flatten();
    let (order_id, date_text, total_text, items_text) = (next(), next(), next(), next());
    HistoryRow {
        placed: date_text
            .as_deref()
            .and_then(|t| parse_placed(t, orders.date_format.as_deref(), orders.timezone)),
        total: total_text
            .as_deref()
            .and_then(|t| Money::read(t, orders.total.pick).ok()),
        order_id,
        date_text,
        total_text,
        items_text,
    }
}
