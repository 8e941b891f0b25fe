//! Buying from stores shaped like real ones, in headless Chromium: a shop
//! rendered by a client-side router (the demo store's `spa` layout, with a
//! cookie banner, a protection-plan interstitial, shipping and payment
//! pages, and a review total printed among other numbers), server-rendered
//! checkouts whose pages vary from one buy to the next, refused forms,
//! pages the definition does not know, and product variants.
//!
//! Every test has its own demo store and profiles directory and ends by
//! proving no Chromium is left.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use restock::demo::{DemoStore, StoreOptions};
use restock::model::{Money, Outcome, Phase, Pick, Status};
use restock::purchase::{
    factory, BrowserSettings, BuyProgress, BuyRequest, PurchaseError, Refusal, Report,
};
use support::chromium::assert_no_chromium;
use support::demo::{browser_settings, sign_in, store_with};
use url::Url;

const SPA_DEFINITION: &str = include_str!("../examples/stores/demo-spa.toml");

/// A `BuyProgress` that records the phases, the approved totals and every
/// step's report (what `--explain` prints).
#[derive(Default)]
struct Recorder {
    phases: Mutex<Vec<Phase>>,
    approved: Mutex<Vec<Money>>,
    reports: Mutex<Vec<(String, Report)>>,
    shots: PathBuf,
}

impl Recorder {
    fn new(shots: &Path) -> Recorder {
        Recorder {
            shots: shots.to_path_buf(),
            ..Recorder::default()
        }
    }

    /// The checkout pages the flow recognised and acted on, in order.
    fn pages(&self) -> Vec<String> {
        self.reports
            .lock()
            .unwrap()
            .iter()
            .filter(|(step, _)| step == "checkout")
            .filter_map(|(_, r)| r.matched.clone())
            .collect()
    }
}

#[async_trait]
impl BuyProgress for Recorder {
    async fn enter(&self, phase: Phase) -> Result<(), PurchaseError> {
        self.phases.lock().unwrap().push(phase);
        Ok(())
    }

    fn step(&self, _what: &str) {}

    async fn approve_total(&self, total: Money) -> Result<(), Refusal> {
        self.approved.lock().unwrap().push(total);
        Ok(())
    }

    fn screenshot_path(&self, label: &str) -> PathBuf {
        self.shots.join(format!("{label}.png"))
    }

    fn explain(&self, step: &str, report: &Report) {
        self.reports
            .lock()
            .unwrap()
            .push((step.to_string(), report.clone()));
    }
}

struct World {
    demo: DemoStore,
    dir: tempfile::TempDir,
    settings: BrowserSettings,
}

impl World {
    /// A demo store with `options`, the built-in `demo` definition and the
    /// example `demo-spa` one (rewritten by `edit`) pointed at it.
    async fn new(options: StoreOptions, edit: impl Fn(&str) -> String) -> World {
        let demo = store_with(options).await;
        let dir = tempfile::tempdir().unwrap();
        let spa = Url::parse(&format!("{}/spa/", demo.base_url())).unwrap();
        let mut settings = browser_settings(
            dir.path(),
            &demo,
            &[("demo-spa", &edit(SPA_DEFINITION), spa)],
        );
        settings.step_timeout = Duration::from_secs(10);
        World {
            demo,
            dir,
            settings,
        }
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

    fn spa(&self, sku: &str, dry_run: bool) -> BuyRequest {
        self.request(
            "demo-spa",
            format!("{}/spa/product/{sku}", self.demo.base_url()),
            dry_run,
        )
    }

    fn classic(&self, sku: &str, dry_run: bool) -> BuyRequest {
        self.request("demo", self.demo.product_url(sku), dry_run)
    }

    fn recorder(&self) -> Recorder {
        Recorder::new(&self.dir.path().join("shots"))
    }

    async fn buy(&self, req: &BuyRequest, progress: &Recorder) -> Outcome {
        let mut purchaser = factory(&self.settings, &req.store).unwrap();
        purchaser.buy(req, progress).await
    }

    async fn done(self) {
        let profiles = self.dir.path().join("profiles");
        assert_no_chromium(&profiles).await;
        self.demo.shutdown().await;
    }
}

/// Every shape at once: one document load, pushState routes, the cookie
/// banner over the buttons, the interstitial, a shipping choice, a payment
/// page, and a total printed as "Total (1 item): €…, incl. €… tax".
fn spa_with_every_page() -> StoreOptions {
    StoreOptions {
        interstitial: true,
        shipping_choice: true,
        ..StoreOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_side_store_buys_through_banner_interstitial_shipping_and_payment() {
    let w = World::new(spa_with_every_page(), str::to_string).await;
    w.sign_in("demo-spa").await;

    // Dry run: every checkout page recognised and acted on, the total read
    // from a text with other numbers in it, nothing ordered.
    let progress = w.recorder();
    let outcome = w.buy(&w.spa("dish-soap", true), &progress).await;
    assert_eq!(outcome.status, Status::DryRun, "{outcome:?}");
    assert_eq!(
        progress.pages(),
        vec![
            "page protection",
            "page address",
            "page shipping",
            "page payment",
            "review"
        ]
    );
    assert!(w.demo.ledger().is_empty());

    // Placed: exactly one order, charged what the review page said.
    let progress = w.recorder();
    let outcome = w.buy(&w.spa("dish-soap", false), &progress).await;
    assert_eq!(outcome.status, Status::Placed, "{outcome:?}");
    assert!(
        outcome
            .message
            .as_deref()
            .unwrap_or("")
            .contains("no order number"),
        "{outcome:?}"
    );
    let ledger = w.demo.ledger();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    let charged = Money::read(&ledger[0].total, Pick::Only).unwrap();
    assert_eq!(outcome.total, Some(charged));
    assert_eq!(*progress.approved.lock().unwrap(), vec![charged]);
    assert_eq!(
        *progress.phases.lock().unwrap(),
        vec![Phase::Browsing, Phase::Cart, Phase::Submitted]
    );
    w.done().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_rendered_checkout_pages_vary_from_one_buy_to_the_next() {
    let options = StoreOptions {
        payment_step: true,
        saved_address: true,
        ..StoreOptions::default()
    };
    let w = World::new(options, str::to_string).await;
    w.sign_in("demo").await;

    let first = w.recorder();
    let outcome = w.buy(&w.classic("dish-soap", false), &first).await;
    assert_eq!(outcome.status, Status::Placed, "{outcome:?}");
    assert_eq!(
        first.pages(),
        vec!["page address", "page payment", "review"]
    );

    // The address is saved now: the form is skipped, the payment page is
    // still there.
    let second = w.recorder();
    let outcome = w.buy(&w.classic("dish-soap", false), &second).await;
    assert_eq!(outcome.status, Status::Placed, "{outcome:?}");
    assert_eq!(second.pages(), vec!["page payment", "review"]);
    assert_eq!(w.demo.ledger().len(), 2);
    w.done().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_form_says_what_the_store_said() {
    let mut w = World::new(StoreOptions::default(), str::to_string).await;
    w.settings
        .checkout
        .insert("postal_code".into(), "none".into());
    w.sign_in("demo-spa").await;
    let outcome = w.buy(&w.spa("dish-soap", true), &w.recorder()).await;
    assert_eq!(outcome.status, Status::Failed, "{outcome:?}");
    assert!(!outcome.retryable, "a refused form needs the owner");
    let message = outcome.message.clone().unwrap();
    assert!(
        message.starts_with("the store says: Postcode not valid"),
        "{message}"
    );
    assert_page_saved(&outcome);
    w.done().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_the_definition_does_not_know_is_named_with_every_marker() {
    // A definition that forgot the payment page.
    let forgot_payment = |text: &str| {
        let start = text.find("[[checkout.page]]\nname = \"payment\"").unwrap();
        let end = text[start..].find("[review]").unwrap() + start;
        format!("{}{}", &text[..start], &text[end..])
    };
    let mut w = World::new(StoreOptions::default(), forgot_payment).await;
    w.settings.step_timeout = Duration::from_secs(4);
    w.sign_in("demo-spa").await;
    let outcome = w.buy(&w.spa("dish-soap", true), &w.recorder()).await;
    assert_eq!(outcome.status, Status::Failed, "{outcome:?}");
    let message = outcome.message.clone().unwrap();
    for said in [
        "timed out: waited",
        "/spa/checkout/payment",
        "(\"Payment - Spa Shop\")",
        "page address: `#spa-address-form` not in the page",
        "review: `#spa-place-order` not in the page",
    ] {
        assert!(message.contains(said), "{said:?} in {message}");
    }
    assert_page_saved(&outcome);
    w.done().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_variant_is_chosen_and_the_ceiling_holds_its_price() {
    let w = World::new(StoreOptions::default(), str::to_string).await;
    w.sign_in("demo").await;
    w.sign_in("demo-spa").await;
    for (req, select) in [
        (w.classic("paper-towels", true), "#pack"),
        (w.spa("paper-towels", true), "#spa-pack"),
    ] {
        // 16 rolls cost 11.99: the buy reads the price after the choice.
        let mut req = req;
        req.choices = vec![(select.to_string(), "16 rolls".to_string())];
        let outcome = w.buy(&req, &w.recorder()).await;
        assert_eq!(outcome.status, Status::DryRun, "{outcome:?}");
        assert_eq!(outcome.price, Some(Money(1199)), "{outcome:?}");
        // A ceiling above the default pack's 6.49 but below 11.99 stops it.
        req.ceiling = Some(Money(1000));
        let outcome = w.buy(&req, &w.recorder()).await;
        assert_eq!(outcome.status, Status::PriceBlocked, "{outcome:?}");
        assert_eq!(outcome.price, Some(Money(1199)));
        // An option the page does not have is a clear failure.
        req.ceiling = None;
        req.choices = vec![(select.to_string(), "99 rolls".to_string())];
        let outcome = w.buy(&req, &w.recorder()).await;
        assert_eq!(outcome.status, Status::Failed, "{outcome:?}");
        let message = outcome.message.unwrap();
        assert!(message.contains("no option \"99 rolls\""), "{message}");
    }
    assert!(w.demo.ledger().is_empty());
    w.done().await;
}

fn assert_page_saved(outcome: &Outcome) {
    let shot = outcome.screenshot.as_ref().expect("a screenshot");
    assert!(shot.exists(), "{}", shot.display());
    let html = shot.with_extension("html");
    let saved = std::fs::read_to_string(&html).unwrap();
    assert!(saved.contains("<html"), "{}", html.display());
    assert!(
        outcome
            .message
            .as_deref()
            .unwrap_or("")
            .contains(&html.display().to_string()),
        "{outcome:?}"
    );
}
