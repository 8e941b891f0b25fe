//! The real browser purchaser against the demo storefront, in headless
//! Chromium: every outcome of the buy flow, the session check, profiles and
//! the guarantee that no Chromium outlives the call that started it.
//!
//! Each test has its own demo store, its own temporary profiles directory
//! (whose path identifies its Chromium processes in /proc) and ends by
//! checking that none of them is left.

mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use restock::demo::DemoStore;
use restock::model::{Money, Phase, Status};
use restock::model::{Outcome, SessionState};
use restock::purchase::{
    dump_dom, factory, login, BrowserSettings, BuyProgress, BuyRequest, PurchaseError, Refusal,
    StoreRegistry,
};
use serde_json::{json, Value};
use support::chromium::{assert_no_chromium, processes_under};
use support::demo::{self, admin, browser_settings, fault, sign_in};
use support::receivers::silent;
use tokio::sync::Notify;
use url::Url;

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

/// How long a step of the flow may take unless a test says otherwise.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// A `BuyProgress` that records what the flow told it.
#[derive(Default)]
struct Recorder {
    phases: Mutex<Vec<Phase>>,
    steps: AtomicUsize,
    approved: Mutex<Vec<Money>>,
    refuse: Option<Refusal>,
    shots: PathBuf,
    /// Fired when the flow enters the cart phase.
    at_cart: Arc<Notify>,
}

impl Recorder {
    fn new(shots: &Path) -> Recorder {
        Recorder {
            shots: shots.to_path_buf(),
            ..Recorder::default()
        }
    }

    fn phases(&self) -> Vec<Phase> {
        self.phases.lock().unwrap().clone()
    }
}

#[async_trait]
impl BuyProgress for Recorder {
    async fn enter(&self, phase: Phase) -> Result<(), PurchaseError> {
        self.phases.lock().unwrap().push(phase);
        if phase == Phase::Cart {
            self.at_cart.notify_one();
        }
        Ok(())
    }

    fn step(&self, _what: &str) {
        self.steps.fetch_add(1, Ordering::SeqCst);
    }

    async fn approve_total(&self, total: Money) -> Result<(), Refusal> {
        self.approved.lock().unwrap().push(total);
        match &self.refuse {
            Some(r) => Err(r.clone()),
            None => Ok(()),
        }
    }

    fn screenshot_path(&self, label: &str) -> PathBuf {
        self.shots.join(format!("{label}.png"))
    }
}

/// One test's world: a demo store, a temp dir for profiles and screenshots,
/// and settings pointing the built-in `demo` store at it.
struct World {
    demo: DemoStore,
    dir: tempfile::TempDir,
    settings: BrowserSettings,
}

impl World {
    async fn new() -> World {
        World::with_stores(None).await
    }

    /// A world whose steps time out after `step_timeout` and whose `demo`
    /// profile is signed in.
    async fn signed_in(step_timeout: Duration) -> World {
        let mut w = World::new().await;
        w.settings.step_timeout = step_timeout;
        w.sign_in("demo").await;
        w
    }

    /// With an extra store definition (name, TOML), pointed at
    /// `<demo base>/alt/`.
    async fn with_stores(extra: Option<(&str, &str)>) -> World {
        let demo = demo::store().await;
        let dir = tempfile::tempdir().unwrap();
        let alt = Url::parse(&format!("{}/alt/", demo.base_url())).unwrap();
        let extra: Vec<(&str, &str, Url)> = extra
            .into_iter()
            .map(|(name, text)| (name, text, alt.clone()))
            .collect();
        let mut settings = browser_settings(dir.path(), &demo, &extra);
        settings.step_timeout = STEP_TIMEOUT;
        World {
            demo,
            dir,
            settings,
        }
    }

    async fn admin(&self, path: &str, body: Value) {
        admin(&self.demo, path, body).await;
    }

    async fn fault(&self, body: Value) {
        fault(&self.demo, body).await;
    }

    async fn sign_in(&self, store: &str) {
        sign_in(&self.settings, store).await;
    }

    fn request(&self, store: &str, url: String, dry_run: bool) -> BuyRequest {
        BuyRequest {
            order_id: 1,
            item_id: "item".into(),
            item_name: "Item".into(),
            quantity: 1,
            store: store.into(),
            product_url: Url::parse(&url).unwrap(),
            ceiling: None,
            dry_run,
            choices: Vec::new(),
        }
    }

    fn demo_request(&self, sku: &str, dry_run: bool) -> BuyRequest {
        self.request("demo", self.demo.product_url(sku), dry_run)
    }

    fn recorder(&self) -> Recorder {
        Recorder::new(&self.dir.path().join("shots"))
    }

    /// A real (not dry-run) buy of the demo store's dish soap.
    async fn buy_soap(&self, progress: &Recorder) -> Outcome {
        self.buy(&self.demo_request("dish-soap", false), progress)
            .await
    }

    async fn buy(&self, req: &BuyRequest, progress: &Recorder) -> Outcome {
        let mut purchaser = factory(&self.settings, &req.store).unwrap();
        purchaser.buy(req, progress).await
    }

    /// Chromium processes (main, zygotes, renderers, ...) whose command
    /// line names this test's directory.
    fn chromium_processes(&self) -> Vec<(i32, String)> {
        processes_under(self.dir.path())
    }

    async fn assert_no_chromium(&self) {
        assert_no_chromium(self.dir.path()).await;
    }

    async fn ledger_skus(&self) -> Vec<Vec<String>> {
        self.demo
            .ledger()
            .iter()
            .map(|e| e.items.iter().map(|l| l.sku.clone()).collect())
            .collect()
    }

    async fn end(self) {
        self.assert_no_chromium().await;
        self.demo.shutdown().await;
    }
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_stops_before_place_order() {
    let w = World::signed_in(STEP_TIMEOUT).await;
    let progress = w.recorder();
    let outcome = w.buy(&w.demo_request("dish-soap", true), &progress).await;
    assert_eq!(outcome.status, Status::DryRun, "{outcome:?}");
    assert!(outcome.price.is_some(), "{outcome:?}");
    let total = outcome.total.expect("total read at review");
    assert_eq!(*progress.approved.lock().unwrap(), vec![total]);
    assert_eq!(progress.phases(), vec![Phase::Browsing, Phase::Cart]);
    assert!(progress.steps.load(Ordering::SeqCst) >= 5);
    assert!(outcome.screenshot.is_none());
    assert!(w.demo.ledger().is_empty(), "a dry run placed an order");
    w.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_run_places_exactly_one_order() {
    let w = World::signed_in(STEP_TIMEOUT).await;
    let progress = w.recorder();
    let mut req = w.demo_request("dish-soap", false);
    req.quantity = 2;
    let outcome = w.buy(&req, &progress).await;
    assert_eq!(outcome.status, Status::Placed, "{outcome:?}");
    let ledger = w.demo.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(
        outcome.order_ref.as_deref(),
        Some(ledger[0].order_number.as_str())
    );
    assert_eq!(ledger[0].items[0].qty, 2);
    assert_eq!(ledger[0].name, "Ada Lovelace");
    assert_eq!(
        outcome.total,
        Some(Money::read(&ledger[0].total, restock::model::Pick::Only).unwrap())
    );
    assert_eq!(
        progress.phases(),
        vec![Phase::Browsing, Phase::Cart, Phase::Submitted]
    );
    w.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_ends_in_its_outcome() {
    let w = World::signed_in(STEP_TIMEOUT).await;
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
        assert_eq!(outcome.status, status, "{fault}: {outcome:?}");
        assert!(!progress.phases().contains(&Phase::Submitted), "{fault}");
        assert_screenshot(&outcome);
    }
    assert!(w.demo.ledger().is_empty());

    // Price over the ceiling: stopped with the price it saw.
    w.admin("reset", json!({})).await;
    w.fault(json!({"sku": "dish-soap", "price": "9.99"})).await;
    let mut req = w.demo_request("dish-soap", false);
    req.ceiling = Some(Money(500));
    let outcome = w.buy(&req, &w.recorder()).await;
    assert_eq!(outcome.status, Status::PriceBlocked, "{outcome:?}");
    assert_eq!(outcome.price, Some(Money(999)));
    assert_screenshot(&outcome);

    // The guards refuse the total: the refusal's status, nothing placed.
    w.admin("reset", json!({})).await;
    let mut progress = w.recorder();
    progress.refuse = Some(Refusal {
        status: Status::SpendCapped,
        reason: "monthly cap reached".into(),
    });
    let outcome = w.buy_soap(&progress).await;
    assert_eq!(outcome.status, Status::SpendCapped, "{outcome:?}");
    assert_eq!(outcome.message.as_deref(), Some("monthly cap reached"));
    assert!(outcome.total.is_some());
    assert!(w.demo.ledger().is_empty());

    // No order number on the confirmation: placed, with a note.
    w.fault(json!({"no_order_number": true})).await;
    let outcome = w.buy_soap(&w.recorder()).await;
    assert_eq!(outcome.status, Status::Placed, "{outcome:?}");
    assert_eq!(outcome.order_ref, None);
    assert!(
        outcome
            .message
            .as_deref()
            .unwrap_or("")
            .contains("no order number"),
        "{outcome:?}"
    );
    assert_eq!(w.demo.ledger().len(), 1);

    // Everyone signed out: the sign-in wall.
    w.admin("reset", json!({})).await;
    w.admin("signout-all", json!({})).await;
    let outcome = w.buy_soap(&w.recorder()).await;
    assert_eq!(outcome.status, Status::SigninRequired, "{outcome:?}");
    assert_screenshot(&outcome);
    w.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfirmed_submit_is_needs_review_never_failed() {
    let w = World::signed_in(Duration::from_secs(3)).await;

    // A hang before submit is a transient failure: retry is safe.
    w.fault(json!({"hang": "add"})).await;
    let progress = w.recorder();
    let outcome = w.buy_soap(&progress).await;
    assert_eq!(outcome.status, Status::Failed, "{outcome:?}");
    assert!(outcome.retryable, "{outcome:?}");
    assert!(
        outcome
            .message
            .as_deref()
            .unwrap_or("")
            .contains("timed out"),
        "{outcome:?}"
    );
    assert_eq!(progress.phases(), vec![Phase::Browsing, Phase::Cart]);
    assert_screenshot(&outcome);
    assert!(w.demo.ledger().is_empty());

    // After submit the same kind of hang is never `failed`.
    w.admin("reset", json!({})).await;
    w.fault(json!({"hang": "confirmation"})).await;
    let progress = w.recorder();
    let outcome = w.buy_soap(&progress).await;
    assert_eq!(outcome.status, Status::NeedsReview, "{outcome:?}");
    assert_eq!(progress.phases().last(), Some(&Phase::Submitted));
    assert_screenshot(&outcome);
    assert!(w.demo.ledger().len() <= 1);
    w.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hang_at_place_then_dropped_by_the_engine_leaves_nothing() {
    let w = World::signed_in(Duration::from_secs(20)).await;
    w.fault(json!({"hang": "place"})).await;
    let progress = w.recorder();
    let req = w.demo_request("dish-soap", false);
    let result = tokio::time::timeout(Duration::from_secs(8), w.buy(&req, &progress)).await;
    assert!(
        result.is_err(),
        "the buy should still be hanging: {result:?}"
    );
    assert_eq!(progress.phases().last(), Some(&Phase::Submitted));
    // At once, while the killed browser may still be exiting: the profile
    // is usable again (no "profile in use").
    let check = factory(&w.settings, "demo").unwrap().check_session().await;
    assert_eq!(check.state, SessionState::SignedIn, "{check:?}");
    w.assert_no_chromium().await;
    assert!(w.demo.ledger().len() <= 1);
    w.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_cart_item_is_not_bought() {
    let w = World::signed_in(STEP_TIMEOUT).await;
    w.admin("carts/add", json!({"sku": "coffee-beans", "qty": 3}))
        .await;
    let outcome = w.buy_soap(&w.recorder()).await;
    assert_eq!(outcome.status, Status::Placed, "{outcome:?}");
    assert_eq!(w.ledger_skus().await, vec![vec!["dish-soap".to_string()]]);
    w.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_persists_across_purchasers_and_relaunch_after_kill() {
    let w = World::signed_in(STEP_TIMEOUT).await;
    let mut first = factory(&w.settings, "demo").unwrap();
    assert_eq!(first.check_session().await.state, SessionState::SignedIn);
    drop(first);

    // A buy dropped mid-flight: its Chromium is killed, not closed.
    let progress = w.recorder();
    let req = w.demo_request("dish-soap", false);
    let at_cart = progress.at_cart.clone();
    let mut buy = Box::pin(w.buy(&req, &progress));
    tokio::select! {
        outcome = &mut buy => panic!("the buy finished before it was dropped: {outcome:?}"),
        () = at_cart.notified() => {}
    }
    assert!(
        !w.chromium_processes().is_empty(),
        "the test must see the browser it then expects gone"
    );
    drop(buy);
    w.assert_no_chromium().await;
    assert!(w.demo.ledger().is_empty());

    // The killed browser left its SingletonLock; a new purchaser still
    // launches on the profile, and the cookie is still there.
    let mut second = factory(&w.settings, "demo").unwrap();
    let outcome = second
        .buy(&w.demo_request("dish-soap", false), &w.recorder())
        .await;
    assert_eq!(outcome.status, Status::Placed, "{outcome:?}");
    assert_eq!(w.demo.ledger().len(), 1);
    w.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_store_definition_buys_without_code_change() {
    let w = World::with_stores(Some(("demo-alt", ALT_DEFINITION))).await;
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
    let w = World::with_stores(Some(("demo-alt", ALT_DEFINITION))).await;
    w.sign_in("demo-alt").await;
    let mut purchaser = factory(&w.settings, "demo-alt").unwrap();
    assert_eq!(
        purchaser.order_history().await,
        restock::model::OrderHistory::Read(vec![]),
        "no orders yet: the empty marker"
    );
    let check = purchaser.check_session().await;
    assert_eq!(check.state, SessionState::SignedIn);
    let left = check.expires_at.expect("the cookie's expiry") - restock::model::now_ms();
    assert!(left > 29 * 86_400_000, "about 30 days: {left} ms");

    w.fault(json!({"hide_confirmation": true})).await;
    let before = restock::model::now_ms();
    let progress = w.recorder();
    let req = w.request("demo-alt", w.demo.alt_product_url("paper-towels"), false);
    let outcome = w.buy(&req, &progress).await;
    assert_eq!(outcome.status, Status::NeedsReview, "{outcome:?}");
    let ledger = w.demo.ledger();
    assert_eq!(ledger.len(), 1);
    let rows = match purchaser.order_history().await {
        restock::model::OrderHistory::Read(rows) => rows,
        other => panic!("{other:?}"),
    };
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let row = &rows[0];
    assert_eq!(
        row.order_id.as_deref(),
        Some(ledger[0].order_number.as_str())
    );
    assert_eq!(
        row.total,
        Some(*progress.approved.lock().unwrap().last().unwrap())
    );
    assert!(
        row.total_text.as_deref().unwrap().starts_with("EUR "),
        "{row:?}"
    );
    let placed = row.placed.expect("the date is read");
    assert!(
        placed.to > before && placed.from <= restock::model::now_ms(),
        "{placed:?}"
    );
    assert!(
        row.items_text.as_deref().unwrap().contains("Paper towels"),
        "{row:?}"
    );
    drop(purchaser);
    w.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_session_reads_signed_in_signed_out_and_unknown() {
    let mut w = World::new().await;
    let mut purchaser = factory(&w.settings, "demo").unwrap();
    assert_eq!(
        purchaser.check_session().await.state,
        SessionState::SignedOut
    );
    w.sign_in("demo").await;
    assert_eq!(
        purchaser.check_session().await.state,
        SessionState::SignedIn
    );
    w.fault(json!({"challenge": true})).await;
    let check = purchaser.check_session().await;
    assert_eq!(check.state, SessionState::Unknown);
    let detail = check.detail.unwrap();
    assert!(
        detail.contains("challenge") && detail.contains("screenshot: "),
        "{detail}"
    );

    // A store that accepts connections and never answers.
    let (silent_addr, held) = silent().await;
    let silent_url = Url::parse(&format!("http://{silent_addr}/")).unwrap();
    let mut registry = StoreRegistry::builtin();
    registry.set_base_url("demo", silent_url).unwrap();
    w.settings.stores = Arc::new(registry);
    w.settings.step_timeout = Duration::from_secs(2);
    let started = std::time::Instant::now();
    let check = factory(&w.settings, "demo").unwrap().check_session().await;
    assert_eq!(check.state, SessionState::Unknown, "{check:?}");
    assert!(check.detail.unwrap().contains("timed out"));
    assert!(started.elapsed() < Duration::from_secs(30));
    held.abort();
    w.end().await;
}

#[tokio::test]
async fn missing_checkout_values_and_browser_fail_before_launch() {
    let mut w = World::new().await;
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
    let w = World::new().await;
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
    let w = World::new().await;
    let err = login(&w.settings, "demo", std::future::ready(()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("display"), "{err}");
    w.end().await;
}
