//! A buy test's world: a demo store, a temp dir for profiles and
//! screenshots, browser settings with the built-in `demo` definition and
//! the example `demo-spa` one pointed at it, and a [`Recorder`] of what the
//! buy flow told its progress. Used by the tests that call the real
//! purchaser directly (`browser_buy.rs`, `real_stores.rs`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use restock::demo::{DemoStore, StoreOptions};
use restock::model::{Money, Outcome, Phase};
use restock::purchase::{
    factory, BrowserSettings, BuyProgress, BuyRequest, PurchaseError, Refusal, Report,
};
use serde_json::Value;
use tokio::sync::Notify;
use url::Url;

use super::chromium::{assert_no_chromium, processes_under};
use super::demo::{admin, browser_settings, fault, sign_in, store_with};
use super::layout::{Layout, SPA_DEFINITION};

/// How long a step of the flow may take unless a test says otherwise.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// A `BuyProgress` that records the phases, the steps, the approved
/// totals and every step's report (what `--explain` prints), and can
/// refuse the total.
#[derive(Default)]
pub struct Recorder {
    pub phases: Mutex<Vec<Phase>>,
    pub steps: AtomicUsize,
    pub approved: Mutex<Vec<Money>>,
    pub reports: Mutex<Vec<(String, Report)>>,
    /// The guards' answer at review: refuse with this.
    pub refuse: Option<Refusal>,
    pub shots: PathBuf,
    /// Fired when the flow enters the cart phase.
    pub at_cart: Arc<Notify>,
}

impl Recorder {
    pub fn new(shots: &Path) -> Recorder {
        Recorder {
            shots: shots.to_path_buf(),
            ..Recorder::default()
        }
    }

    pub fn phases(&self) -> Vec<Phase> {
        self.phases.lock().unwrap().clone()
    }

    pub fn approved(&self) -> Vec<Money> {
        self.approved.lock().unwrap().clone()
    }

    pub fn steps(&self) -> usize {
        self.steps.load(Ordering::SeqCst)
    }

    /// What each report of `step` ended on, in order.
    pub fn matched(&self, step: &str) -> Vec<String> {
        self.reports
            .lock()
            .unwrap()
            .iter()
            .filter(|(s, _)| s == step)
            .filter_map(|(_, r)| r.matched.clone())
            .collect()
    }

    /// The checkout pages the flow recognised and acted on, in order.
    pub fn pages(&self) -> Vec<String> {
        self.matched("checkout")
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

    fn explain(&self, step: &str, report: &Report) {
        self.reports
            .lock()
            .unwrap()
            .push((step.to_string(), report.clone()));
    }
}

/// One test's world; `layout` is the one its `product`/`buy_soap` buy on.
pub struct World {
    pub demo: DemoStore,
    pub dir: tempfile::TempDir,
    pub settings: BrowserSettings,
    pub layout: Layout,
}

impl World {
    /// A demo store with the default options.
    pub async fn new(layout: Layout) -> World {
        World::with(layout, StoreOptions::default(), SPA_DEFINITION, &[]).await
    }

    /// A world whose steps time out after `step_timeout` and whose
    /// `layout` profile is signed in.
    pub async fn signed_in(layout: Layout, step_timeout: Duration) -> World {
        let mut w = World::new(layout).await;
        w.settings.step_timeout = step_timeout;
        w.sign_in(layout.store()).await;
        w
    }

    /// A demo store with `options`; `demo-spa` is `spa_definition`, and
    /// `extra` definitions `(name, TOML, mount)` are pointed at
    /// `<demo base><mount>` (`"/alt/"`).
    pub async fn with(
        layout: Layout,
        options: StoreOptions,
        spa_definition: &str,
        extra: &[(&str, &str, &str)],
    ) -> World {
        let demo = store_with(options).await;
        let dir = tempfile::tempdir().unwrap();
        let base = demo.base_url();
        let mut stores = vec![(
            Layout::Spa.store(),
            spa_definition,
            Layout::Spa.base_url(&base),
        )];
        for (name, text, mount) in extra {
            let url = Url::parse(&format!("{base}{mount}")).unwrap();
            stores.push((name, text, url));
        }
        let mut settings = browser_settings(dir.path(), &demo, &stores);
        settings.step_timeout = STEP_TIMEOUT;
        World {
            demo,
            dir,
            settings,
            layout,
        }
    }

    pub async fn admin(&self, path: &str, body: Value) {
        admin(&self.demo, path, body).await;
    }

    pub async fn fault(&self, body: Value) {
        fault(&self.demo, body).await;
    }

    /// Signs the profile of `store` in through the store's form.
    pub async fn sign_in(&self, store: &str) {
        sign_in(&self.settings, store).await;
    }

    pub fn request(&self, store: &str, url: String, dry_run: bool) -> BuyRequest {
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

    /// A buy of `sku` on `layout`.
    pub fn on(&self, layout: Layout, sku: &str, dry_run: bool) -> BuyRequest {
        self.request(layout.store(), layout.product_url(&self.demo, sku), dry_run)
    }

    /// A buy of `sku` on this world's layout.
    pub fn product(&self, sku: &str, dry_run: bool) -> BuyRequest {
        self.on(self.layout, sku, dry_run)
    }

    pub fn recorder(&self) -> Recorder {
        Recorder::new(&self.dir.path().join("shots"))
    }

    /// A real (not dry-run) buy of the demo store's dish soap.
    pub async fn buy_soap(&self, progress: &Recorder) -> Outcome {
        self.buy(&self.product("dish-soap", false), progress).await
    }

    pub async fn buy(&self, req: &BuyRequest, progress: &Recorder) -> Outcome {
        let mut purchaser = factory(&self.settings, &req.store).unwrap();
        purchaser.buy(req, progress).await
    }

    /// Chromium processes (main, zygotes, renderers, ...) whose command
    /// line names this test's directory.
    pub fn chromium_processes(&self) -> Vec<(i32, String)> {
        processes_under(self.dir.path())
    }

    pub async fn assert_no_chromium(&self) {
        assert_no_chromium(self.dir.path()).await;
    }

    /// The skus of each order in the ledger, oldest first.
    pub fn ledger_skus(&self) -> Vec<Vec<String>> {
        self.demo
            .ledger()
            .iter()
            .map(|e| e.items.iter().map(|l| l.sku.clone()).collect())
            .collect()
    }

    /// Proves no Chromium is left and stops the store.
    pub async fn end(self) {
        self.assert_no_chromium().await;
        self.demo.shutdown().await;
    }
}
