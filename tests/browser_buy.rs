//! The real browser purchaser against the demo storefront, in headless
//! Chromium: every outcome of the buy flow, the session check, profiles and
//! the guarantee that no Chromium outlives the call that started it.
//!
//! What depends on the store's pages runs on both layouts of the demo
//! store, `classic::NAME` and `spa::NAME` (see `support::layout`); the
//! rest is the classic layout's, or the alt one's.
//!
//! Each test has its own demo store, its own temporary profiles directory
//! (whose path identifies its Chromium processes in /proc) and ends by
//! checking that none of them is left.

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use restock::model::{Money, Outcome, Phase, SessionState, Status};
use restock::purchase::{dump_dom, factory, login, PurchaseError, Refusal};
use serde_json::{json, Value};
use support::buy_world::{World, STEP_TIMEOUT};
use support::layout::{assert_no_order_number, Layout, SPA_DEFINITION};
use support::receivers::silent;
use url::Url;

// Each on both layouts: `classic::NAME` and `spa::NAME` run
// `NAME(Layout::Classic)` and `NAME(Layout::Spa)`.
crate::layout_tests!(
    dry_run_stops_before_place_order,
    real_run_places_exactly_one_order,
    each_fault_ends_in_its_outcome,
    unconfirmed_submit_is_needs_review_never_failed,
    hang_at_place_then_dropped_by_the_engine_leaves_nothing,
    stale_cart_item_is_not_bought,
    session_persists_across_purchasers_and_relaunch_after_kill,
    check_session_reads_signed_in_signed_out_and_unknown,
);

const ALT_DEFINITION: &str = r##"
name = "demo-alt"
base_url = "http://127.0.0.1:1/alt/"
signin_url = "login"
account_url = "account"
block = "#access-denied"
challenge = "#challenge"

[session]
signed_in = ".who"
signed_out = [".login-link", ".login-form"]
cookies = ["demo_session"]

[signin_form]
email = "input[name=user]"
password = "input[name=pass]"
submit = ".login-btn"

[product]
price = "b.cost"
out_of_stock = ".stock-none"
not_found = ".not-found"
quantity = "input.qty-input"
add_to_cart = "button.buy-btn"

[cart]
url = "basket"
item = "tr.basket-row"
empty = ".basket-empty"
empty_button = "button.clear-basket"
checkout = "a.go-checkout"

[checkout]
fields = { name = "input[name=fullname]", address = "input[name=street]", postal_code = "input[name=zip]" }
continue = "button.to-summary"

[review]
total = ".grand-total"
place_order = "button.confirm-purchase"

[confirmation]
marker = ".thanks"
order_id = ".order-ref"

[orders]
url = "orders"
row = "div.order-row"
order_id = ".order-id"
date = ".order-date"
total = ".order-total"
items = "ul.order-items"
empty = ".orders-empty"
date_format = "%d %b %Y, %H:%M"
timezone = "UTC"
"##;

fn assert_screenshot(outcome: &Outcome) {
    let path = outcome
        .screenshot
        .as_ref()
        .expect("a screenshot for a non-success outcome");
    let png = std::fs::read(path).unwrap();
    assert!(
        png.starts_with(b"\x89PNG"),
        "{} is not a PNG",
        path.display()
    );
}

async fn dry_run_stops_before_place_order(layout: Layout) {
    let w = World::signed_in(layout, STEP_TIMEOUT).await;
    let progress = w.recorder();
    let outcome = w.buy(&w.product("dish-soap", true), &progress).await;
    assert_eq!(outcome.status, Status::DryRun, "{layout}: {outcome:?}");
    assert!(outcome.price.is_some(), "{layout}: {outcome:?}");
    let total = outcome.total.expect("total read at review");
    assert_eq!(progress.approved(), vec![total], "{layout}");
    assert_eq!(
        progress.phases(),
        vec![Phase::Browsing, Phase::Cart],
        "{layout}"
    );
    assert!(progress.steps() >= 5, "{layout}: {}", progress.steps());
    assert!(outcome.screenshot.is_none(), "{layout}");
    assert!(
        w.demo.ledger().is_empty(),
        "{layout}: a dry run placed an order"
    );
    w.end().await;
}

async fn real_run_places_exactly_one_order(layout: Layout) {
    let w = World::signed_in(layout, STEP_TIMEOUT).await;
    let progress = w.recorder();
    let mut req = w.product("dish-soap", false);
    req.quantity = 2;
    let outcome = w.buy(&req, &progress).await;
    assert_eq!(outcome.status, Status::Placed, "{layout}: {outcome:?}");
    let ledger = w.demo.ledger();
    assert_eq!(ledger.len(), 1, "{layout}: {ledger:?}");
    layout.assert_order_ref(
        "the outcome",
        outcome.order_ref.as_deref(),
        outcome.message.as_deref(),
        &[ledger[0].order_number.clone()],
    );
    assert_eq!(ledger[0].items[0].qty, 2, "{layout}");
    assert_eq!(ledger[0].name, "Ada Lovelace", "{layout}");
    assert_eq!(
        outcome.total,
        Some(Money::read(&ledger[0].total, restock::model::Pick::Only).unwrap()),
        "{layout}"
    );
    assert_eq!(
        progress.phases(),
        vec![Phase::Browsing, Phase::Cart, Phase::Submitted],
        "{layout}"
    );
    w.end().await;
}

async fn each_fault_ends_in_its_outcome(layout: Layout) {
    let w = World::signed_in(layout, STEP_TIMEOUT).await;
    let cases: Vec<(Value, Status)> = vec![
        (
            json!({"sku": "dish-soap", "out_of_stock": true}),
            Status::Unavailable,
        ),
        (
            json!({"sku": "dish-soap", "not_found": true}),
            Status::Unavailable,
        ),
        (
            json!({"sku": "dish-soap", "challenge": true}),
            Status::Challenge,
        ),
        (
            json!({"sku": "dish-soap", "blocked": true}),
            Status::Blocked,
        ),
        (json!({"challenge": true}), Status::Challenge),
        (json!({"blocked": true}), Status::Blocked),
    ];
    for (fault, status) in cases {
        w.admin("reset", json!({})).await;
        w.fault(fault.clone()).await;
        let progress = w.recorder();
        let outcome = w.buy_soap(&progress).await;
        assert_eq!(outcome.status, status, "{layout}: {fault}: {outcome:?}");
        assert!(
            !progress.phases().contains(&Phase::Submitted),
            "{layout}: {fault}"
        );
        assert_screenshot(&outcome);
    }
    assert!(w.demo.ledger().is_empty(), "{layout}");

    // Price over the ceiling: stopped with the price it saw.
    w.admin("reset", json!({})).await;
    w.fault(json!({"sku": "dish-soap", "price": "9.99"})).await;
    let mut req = w.product("dish-soap", false);
    req.ceiling = Some(Money(500));
    let outcome = w.buy(&req, &w.recorder()).await;
    assert_eq!(
        outcome.status,
        Status::PriceBlocked,
        "{layout}: {outcome:?}"
    );
    assert_eq!(outcome.price, Some(Money(999)), "{layout}");
    assert_screenshot(&outcome);

    // The guards refuse the total: the refusal's status, nothing placed.
    w.admin("reset", json!({})).await;
    let mut progress = w.recorder();
    progress.refuse = Some(Refusal {
        status: Status::SpendCapped,
        reason: "monthly cap reached".into(),
    });
    let outcome = w.buy_soap(&progress).await;
    assert_eq!(outcome.status, Status::SpendCapped, "{layout}: {outcome:?}");
    assert_eq!(
        outcome.message.as_deref(),
        Some("monthly cap reached"),
        "{layout}"
    );
    assert!(outcome.total.is_some(), "{layout}");
    assert!(w.demo.ledger().is_empty(), "{layout}");

    // No order number on the confirmation: placed, with a note. (The spa's
    // confirmation never has one, so the fault does not apply there; its
    // real run shows the same outcome.)
    if layout.shows_order_number() {
        w.fault(json!({"no_order_number": true})).await;
        let outcome = w.buy_soap(&w.recorder()).await;
        assert_eq!(outcome.status, Status::Placed, "{layout}: {outcome:?}");
        assert_no_order_number(
            layout.name(),
            outcome.order_ref.as_deref(),
            outcome.message.as_deref(),
        );
        assert_eq!(w.demo.ledger().len(), 1, "{layout}");
    }

    // Everyone signed out: the sign-in wall.
    w.admin("reset", json!({})).await;
    w.admin("signout-all", json!({})).await;
    let outcome = w.buy_soap(&w.recorder()).await;
    assert_eq!(
        outcome.status,
        Status::SigninRequired,
        "{layout}: {outcome:?}"
    );
    assert_screenshot(&outcome);
    w.end().await;
}

async fn unconfirmed_submit_is_needs_review_never_failed(layout: Layout) {
    let w = World::signed_in(layout, Duration::from_secs(3)).await;

    // A hang before submit is a transient failure: retry is safe.
    w.fault(json!({"hang": "add"})).await;
    let progress = w.recorder();
    let outcome = w.buy_soap(&progress).await;
    assert_eq!(outcome.status, Status::Failed, "{layout}: {outcome:?}");
    assert!(outcome.retryable, "{layout}: {outcome:?}");
    assert!(
        outcome
            .message
            .as_deref()
            .unwrap_or("")
            .contains("timed out"),
        "{layout}: {outcome:?}"
    );
    assert_eq!(
        progress.phases(),
        vec![Phase::Browsing, Phase::Cart],
        "{layout}"
    );
    assert_screenshot(&outcome);
    assert!(w.demo.ledger().is_empty(), "{layout}");

    // After submit the same kind of hang is never `failed`.
    w.admin("reset", json!({})).await;
    w.fault(json!({"hang": "confirmation"})).await;
    let progress = w.recorder();
    let outcome = w.buy_soap(&progress).await;
    assert_eq!(outcome.status, Status::NeedsReview, "{layout}: {outcome:?}");
    assert_eq!(
        progress.phases().last(),
        Some(&Phase::Submitted),
        "{layout}"
    );
    assert_screenshot(&outcome);
    assert!(w.demo.ledger().len() <= 1, "{layout}");
    w.end().await;
}

async fn hang_at_place_then_dropped_by_the_engine_leaves_nothing(layout: Layout) {
    let w = World::signed_in(layout, Duration::from_secs(20)).await;
    w.fault(json!({"hang": "place"})).await;
    let progress = w.recorder();
    let req = w.product("dish-soap", false);
    let result = tokio::time::timeout(Duration::from_secs(8), w.buy(&req, &progress)).await;
    assert!(
        result.is_err(),
        "{layout}: the buy should still be hanging: {result:?}"
    );
    assert_eq!(
        progress.phases().last(),
        Some(&Phase::Submitted),
        "{layout}"
    );
    // At once, while the killed browser may still be exiting: the profile
    // is usable again (no "profile in use").
    let check = factory(&w.settings, layout.store())
        .unwrap()
        .check_session()
        .await;
    assert_eq!(check.state, SessionState::SignedIn, "{layout}: {check:?}");
    w.assert_no_chromium().await;
    assert!(w.demo.ledger().len() <= 1, "{layout}");
    w.end().await;
}

async fn stale_cart_item_is_not_bought(layout: Layout) {
    let w = World::signed_in(layout, STEP_TIMEOUT).await;
    match layout {
        Layout::Classic => {
            w.admin("carts/add", json!({"sku": "coffee-beans", "qty": 3}))
                .await;
        }
        // The spa's cart lives in the browser's localStorage, out of the
        // admin API's reach: a dry run, which stops at review, leaves its
        // item there.
        Layout::Spa => {
            let mut req = w.product("coffee-beans", true);
            req.quantity = 3;
            let outcome = w.buy(&req, &w.recorder()).await;
            assert_eq!(outcome.status, Status::DryRun, "{layout}: {outcome:?}");
        }
    }
    let progress = w.recorder();
    let outcome = w.buy_soap(&progress).await;
    assert_eq!(outcome.status, Status::Placed, "{layout}: {outcome:?}");
    assert_eq!(
        progress.matched("cart").first().map(String::as_str),
        Some("cart_item"),
        "{layout}: the buy found the stale item in the cart"
    );
    assert_eq!(
        w.ledger_skus(),
        vec![vec!["dish-soap".to_string()]],
        "{layout}"
    );
    w.end().await;
}

async fn session_persists_across_purchasers_and_relaunch_after_kill(layout: Layout) {
    let w = World::signed_in(layout, STEP_TIMEOUT).await;
    let mut first = factory(&w.settings, layout.store()).unwrap();
    assert_eq!(
        first.check_session().await.state,
        SessionState::SignedIn,
        "{layout}"
    );
    drop(first);

    // A buy dropped mid-flight: its Chromium is killed, not closed.
    let progress = w.recorder();
    let req = w.product("dish-soap", false);
    let at_cart = progress.at_cart.clone();
    let mut buy = Box::pin(w.buy(&req, &progress));
    tokio::select! {
        outcome = &mut buy => panic!("{layout}: the buy finished before it was dropped: {outcome:?}"),
        () = at_cart.notified() => {}
    }
    assert!(
        !w.chromium_processes().is_empty(),
        "{layout}: the test must see the browser it then expects gone"
    );
    drop(buy);
    w.assert_no_chromium().await;
    assert!(w.demo.ledger().is_empty(), "{layout}");

    // The killed browser left its SingletonLock; a new purchaser still
    // launches on the profile, and the cookie is still there.
    let mut second = factory(&w.settings, layout.store()).unwrap();
    let outcome = second
        .buy(&w.product("dish-soap", false), &w.recorder())
        .await;
    assert_eq!(outcome.status, Status::Placed, "{layout}: {outcome:?}");
    assert_eq!(w.demo.ledger().len(), 1, "{layout}");
    w.end().await;
}

/// A world with the alt layout's definition, `demo-alt`, at `/alt/`.
async fn alt_world() -> World {
    let alt = [("demo-alt", ALT_DEFINITION, "/alt/")];
    World::with(Layout::Classic, Default::default(), SPA_DEFINITION, &alt).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_store_definition_buys_without_code_change() {
    let w = alt_world().await;
    w.sign_in("demo-alt").await;
    let req = w.request("demo-alt", w.demo.alt_product_url("paper-towels"), false);
    let outcome = w.buy(&req, &w.recorder()).await;
    assert_eq!(outcome.status, Status::Placed, "{outcome:?}");
    let ledger = w.demo.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(
        outcome.order_ref.as_deref(),
        Some(ledger[0].order_number.as_str())
    );
    assert_eq!(
        outcome.price,
        Some(Money::read(&ledger[0].items[0].price, restock::model::Pick::Only).unwrap())
    );
    w.end().await;
}

/// The alt layout's order history (`EUR 12,98`, `div` rows) is read by
/// its definition's `[orders]`, and its session cookie's expiry by
/// `session.cookies`; a confirmation the store hides is `needs_review`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alt_layouts_order_history_and_session_expiry_are_read() {
    let w = alt_world().await;
    let url = w.demo.alt_product_url("paper-towels");
    order_history_and_session_expiry_are_read(w, "demo-alt", url, "EUR ").await;
}

/// The same for the spa (`€12.98`, `li` rows rendered by script, a
/// session cookie the page script sets).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spa_layouts_order_history_and_session_expiry_are_read() {
    let w = World::new(Layout::Spa).await;
    let url = w.demo.spa_product_url("paper-towels");
    order_history_and_session_expiry_are_read(w, "demo-spa", url, "€").await;
}

/// Signs `store` in, reads its empty order history and its session
/// cookie's expiry, buys `url` with the confirmation hidden, and reads the
/// order's row (its total shown as `currency…`).
async fn order_history_and_session_expiry_are_read(
    w: World,
    store: &str,
    url: String,
    currency: &str,
) {
    w.sign_in(store).await;
    let mut purchaser = factory(&w.settings, store).unwrap();
    assert_eq!(
        purchaser.order_history().await,
        restock::model::OrderHistory::Read(vec![]),
        "{store}: no orders yet: the empty marker"
    );
    let check = purchaser.check_session().await;
    assert_eq!(check.state, SessionState::SignedIn, "{store}");
    let left = check.expires_at.expect("the cookie's expiry") - restock::model::now_ms();
    assert!(left > 29 * 86_400_000, "{store}: about 30 days: {left} ms");

    w.fault(json!({"hide_confirmation": true})).await;
    let before = restock::model::now_ms();
    let progress = w.recorder();
    let req = w.request(store, url, false);
    let outcome = w.buy(&req, &progress).await;
    assert_eq!(outcome.status, Status::NeedsReview, "{store}: {outcome:?}");
    let ledger = w.demo.ledger();
    assert_eq!(ledger.len(), 1, "{store}");
    let rows = match purchaser.order_history().await {
        restock::model::OrderHistory::Read(rows) => rows,
        other => panic!("{store}: {other:?}"),
    };
    assert_eq!(rows.len(), 1, "{store}: {rows:#?}");
    let row = &rows[0];
    assert_eq!(
        row.order_id.as_deref(),
        Some(ledger[0].order_number.as_str()),
        "{store}"
    );
    assert_eq!(row.total, progress.approved().last().copied(), "{store}");
    assert!(
        row.total_text.as_deref().unwrap().starts_with(currency),
        "{store}: {row:?}"
    );
    let placed = row.placed.expect("the date is read");
    assert!(
        placed.to > before && placed.from <= restock::model::now_ms(),
        "{store}: {placed:?}"
    );
    assert!(
        row.items_text.as_deref().unwrap().contains("Paper towels"),
        "{store}: {row:?}"
    );
    drop(purchaser);
    w.end().await;
}

async fn check_session_reads_signed_in_signed_out_and_unknown(layout: Layout) {
    let mut w = World::new(layout).await;
    let store = layout.store();
    let mut purchaser = factory(&w.settings, store).unwrap();
    assert_eq!(
        purchaser.check_session().await.state,
        SessionState::SignedOut,
        "{layout}"
    );
    w.sign_in(store).await;
    assert_eq!(
        purchaser.check_session().await.state,
        SessionState::SignedIn,
        "{layout}"
    );
    w.fault(json!({"challenge": true})).await;
    let check = purchaser.check_session().await;
    assert_eq!(check.state, SessionState::Unknown, "{layout}: {check:?}");
    let detail = check.detail.unwrap();
    assert!(
        detail.contains("challenge") && detail.contains("screenshot: "),
        "{layout}: {detail}"
    );

    // A store that accepts connections and never answers.
    let (silent_addr, held) = silent().await;
    let silent_url = Url::parse(&format!("http://{silent_addr}/")).unwrap();
    let mut registry = (*w.settings.stores).clone();
    registry.set_base_url(store, silent_url).unwrap();
    w.settings.stores = Arc::new(registry);
    w.settings.step_timeout = Duration::from_secs(2);
    let started = std::time::Instant::now();
    let check = factory(&w.settings, store).unwrap().check_session().await;
    assert_eq!(check.state, SessionState::Unknown, "{layout}: {check:?}");
    assert!(check.detail.unwrap().contains("timed out"), "{layout}");
    assert!(started.elapsed() < Duration::from_secs(30), "{layout}");
    held.abort();
    w.end().await;
}

#[tokio::test]
async fn missing_checkout_values_and_browser_fail_before_launch() {
    let mut w = World::new(Layout::Classic).await;
    w.settings.checkout.remove("postal_code");
    let progress = w.recorder();
    let outcome = w.buy_soap(&progress).await;
    assert_eq!(outcome.status, Status::Failed);
    assert!(!outcome.retryable);
    assert!(outcome.message.unwrap().contains("checkout.postal_code"));
    assert!(progress.phases().is_empty());

    w.settings.chrome = Some(PathBuf::from("/nonexistent/chromium"));
    let err = factory(&w.settings, "demo")
        .err()
        .expect("no browser is an error");
    assert!(err.to_string().contains("/nonexistent/chromium"), "{err}");
    assert!(matches!(
        factory(&w.settings, "nope"),
        Err(PurchaseError::UnknownStore(_))
    ));
    w.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dump_dom_saves_rendered_html_and_a_screenshot() {
    let w = World::new(Layout::Classic).await;
    let out = w.dir.path().join("dump");
    let dump = dump_dom(&w.settings, "demo", "/product/dish-soap", &out)
        .await
        .unwrap();
    let html = std::fs::read_to_string(&dump.html).unwrap();
    assert!(html.contains("id=\"product-title\""), "{html}");
    assert!(std::fs::read(&dump.screenshot)
        .unwrap()
        .starts_with(b"\x89PNG"));
    w.end().await;
}

#[tokio::test]
async fn login_without_a_display_says_so() {
    if ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
    {
        return; // a desktop session: login would open a real window
    }
    let w = World::new(Layout::Classic).await;
    let err = login(&w.settings, "demo", std::future::ready(()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("display"), "{err}");
    w.end().await;
}
