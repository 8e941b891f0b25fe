//! Benchmark 5, Browser path: one dry-run buy on the demo store through the real
//! purchaser (`purchase::factory` + `Purchaser::buy`, Chromium launch and
//! close included), next to a minimal chromiumoxide program doing the same
//! page steps on the same store, with the same Chromium binary, in the
//! same run. Two rows, one per layout of the demo store: `classic` (a
//! server-rendered shop, a new document per page, the built-in `demo`
//! definition) and `spa` (`/spa/`, one document, every page rendered by
//! script and reached through the history API, driven by
//! `examples/stores/demo-spa.toml` as an owner installs it).
//!
//! The minimal programs follow restock's page steps one for one, so the
//! ratio is the cost of how restock drives the page, not of extra steps:
//! launch on a signed-in persistent profile -> product page, read the price
//! -> cart, empty it when it holds a line (a dry run leaves its item there)
//! -> product page again, read the price -> quantity, add to cart -> cart,
//! count the lines -> checkout -> the checkout pages -> read the total ->
//! close the browser.
//!
//! - **classic**: three fields and Continue, then the review page. The
//!   minimal program waits the way chromiumoxide's examples do (`goto`
//!   awaits the load event; after a click it awaits the next
//!   `Page.loadEventFired`, subscribed before the click).
//! - **spa**: the cookie banner (accepted wherever it shows), the address
//!   form with its country `<select>`, the payment page, and the review's
//!   `Total (1 item): €3.49, incl. €0.56 tax` read as its largest amount.
//!   A click loads no document there, so the minimal program waits for the
//!   next page's element with a `MutationObserver` promise (one
//!   `Runtime.evaluate` that resolves the moment the element is in the
//!   DOM). Before each run (untimed) the profile about to run loses its
//!   `consent` cookie and the store forgets the session's address
//!   (`POST /admin/reset`; sessions stay), so every run of both programs
//!   meets the banner and the address form, as a first visit and a first
//!   checkout do.
//!
//! restock polls the page for its store definition's markers where the
//! minimal programs wait on events. Both profiles are signed in before
//! timing (restock's with `sign_in_with_form`, the minimal one through the
//! same form). The runs alternate, restock first, so drifting machine load
//! hits both alike; the figure is the median of each. The total each
//! minimal run reads must be the one restock read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use async_trait::async_trait;
use chromiumoxide::cdp::browser_protocol::page::EventLoadEventFired;
use chromiumoxide::{Browser, BrowserConfig, Page};
use futures::StreamExt;
use restock::demo::{DemoStore, DEMO_EMAIL, DEMO_PASSWORD};
use restock::model::{Money, Phase, Pick, SessionState, Status};
use restock::purchase::{
    browser::find_chrome, factory, sign_in_with_form, BrowserSettings, BuyProgress, BuyRequest,
    PurchaseError, Refusal, StoreRegistry,
};
use url::Url;

use crate::table::{dur, ratio, Row, Samples};

const SKU: &str = "paper-towels";
const RUN_LIMIT: Duration = Duration::from_secs(120);
pub const TARGET: &str = "<= 1.3x the minimal program";
/// What both programs fill in at checkout, by restock's checkout key.
const DETAILS: [(&str, &str); 3] = [
    ("name", "Ada Lovelace"),
    ("address", "12 Analytical Street"),
    ("postal_code", "10115"),
];
/// The spa's country `<select>`, chosen by the option's text.
const COUNTRY: &str = "Germany";
/// The spa's store definition, as an owner installs it.
const SPA_DEFINITION: &str = include_str!("../stores/demo-spa.toml");

/// A layout of the demo store, and how the minimal program drives it.
#[derive(Clone, Copy, PartialEq)]
enum Layout {
    Classic,
    Spa,
}

impl Layout {
    fn row_name(self) -> &'static str {
        match self {
            Layout::Classic => {
                "5a. Browser path, dry-run buy on the demo store, classic layout, launch included"
            }
            Layout::Spa => {
                "5b. Browser path, dry-run buy on the demo store, spa layout (cookie banner, address form with a country select, payment page), launch included"
            }
        }
    }

    /// The store definition restock buys through.
    fn store(self) -> &'static str {
        match self {
            Layout::Classic => "demo",
            Layout::Spa => "demo-spa",
        }
    }

    fn base_url(self, store: &DemoStore) -> String {
        match self {
            Layout::Classic => format!("{}/", store.base_url()),
            Layout::Spa => format!("{}/spa/", store.base_url()),
        }
    }

    fn product_url(self, store: &DemoStore) -> String {
        match self {
            Layout::Classic => store.product_url(SKU),
            Layout::Spa => store.spa_product_url(SKU),
        }
    }

    /// The checkout's text fields, in [`DETAILS`] order.
    fn fields(self) -> [&'static str; 3] {
        match self {
            Layout::Classic => ["#ship-name", "#ship-address", "#ship-postal"],
            Layout::Spa => ["#spa-ship-name", "#spa-ship-address", "#spa-ship-postal"],
        }
    }

    /// How the store definition reads the review's total.
    fn pick(self) -> Pick {
        match self {
            Layout::Classic => Pick::Only,
            Layout::Spa => Pick::Largest,
        }
    }

    /// A run of the minimal program on `profile`, launch and close
    /// included: signing in (returns who is signed in) or the buy (returns
    /// the total it read).
    async fn minimal(
        self,
        steps: Steps,
        chrome: &Path,
        profile: &Path,
        store: &DemoStore,
    ) -> Result<String> {
        let (browser, handler) = launch(chrome, profile).await?;
        let result = match browser.new_page("about:blank").await {
            Ok(page) => match (self, steps) {
                (Layout::Classic, Steps::SignIn) => classic_sign_in(&page, store).await,
                (Layout::Classic, Steps::Buy) => classic_buy(&page, store).await,
                (Layout::Spa, Steps::SignIn) => spa_sign_in(&page, store).await,
                (Layout::Spa, Steps::Buy) => spa_buy(&page, store).await,
            },
            Err(e) => Err(e.into()),
        };
        close(browser, handler).await;
        result
    }
}

/// What a run of the minimal program does.
#[derive(Clone, Copy)]
enum Steps {
    SignIn,
    Buy,
}

/// The engine's side of a buy, doing nothing.
struct Quiet(PathBuf);

#[async_trait]
impl BuyProgress for Quiet {
    async fn enter(&self, _phase: Phase) -> Result<(), PurchaseError> {
        Ok(())
    }

    fn step(&self, _what: &str) {}

    async fn approve_total(&self, _total: Money) -> Result<(), Refusal> {
        Ok(())
    }

    fn screenshot_path(&self, label: &str) -> PathBuf {
        self.0.join(format!("{label}.png"))
    }
}

pub async fn run(runs: usize) -> Result<Vec<Row>> {
    let chrome = find_chrome(None)?;
    let store = DemoStore::spawn("127.0.0.1:0".parse()?).await?;
    let mut rows = Vec::new();
    for layout in [Layout::Classic, Layout::Spa] {
        let measured = measure(layout, runs, &chrome, &store).await;
        rows.push(row(layout.row_name(), measured));
    }
    store.shutdown().await;
    Ok(rows)
}

fn row(name: &str, measured: Result<(Samples, Samples)>) -> Row {
    let (restock, minimal) = match measured {
        Ok(m) => m,
        Err(e) => return Row::skipped(name, TARGET, &format!("{e:#}")),
    };
    let r = ratio(
        restock.median().as_secs_f64(),
        minimal.median().as_secs_f64(),
    );
    let met = restock.median().as_secs_f64() <= 1.3 * minimal.median().as_secs_f64();
    let spread = |s: &Samples| format!("{}-{}", dur(s.pct(0.0)), dur(s.pct(100.0)));
    Row {
        figure: format!(
            "median {} (range {}, {} runs)",
            dur(restock.median()),
            spread(&restock),
            restock.len()
        ),
        reference: format!(
            "minimal chromiumoxide, same steps: median {} (range {})",
            dur(minimal.median()),
            spread(&minimal)
        ),
        ratio: r,
        target: TARGET.into(),
        met: Some(met),
        ..Row::new(name)
    }
}

async fn measure(
    layout: Layout,
    runs: usize,
    chrome: &Path,
    store: &DemoStore,
) -> Result<(Samples, Samples)> {
    let dir = tempfile::tempdir()?;
    // The classic definition is built in; the spa's is installed as an
    // owner installs it, in the stores directory.
    let stores_dir = dir.path().join("stores");
    std::fs::create_dir_all(&stores_dir)?;
    if layout == Layout::Spa {
        std::fs::write(stores_dir.join("demo-spa.toml"), SPA_DEFINITION)?;
    }
    let mut overrides = BTreeMap::new();
    overrides.insert(
        layout.store().to_string(),
        Url::parse(&layout.base_url(store))?,
    );
    let stores = StoreRegistry::load(Some(&stores_dir), &overrides)?;
    let profiles = dir.path().join("profiles");
    let mut settings =
        BrowserSettings::new(profiles.clone(), dir.path().join("shots"), Arc::new(stores));
    settings.chrome = Some(chrome.to_path_buf());
    settings.checkout = DETAILS
        .iter()
        .chain(&[("country", COUNTRY)])
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let req = BuyRequest {
        order_id: 1,
        item_id: SKU.into(),
        item_name: "Paper towels".into(),
        quantity: 1,
        store: layout.store().into(),
        product_url: Url::parse(&layout.product_url(store))?,
        ceiling: None,
        dry_run: true,
        choices: Vec::new(),
    };
    let progress = Quiet(dir.path().join("shots"));
    let minimal_profile = dir.path().join("minimal-profile");

    // Untimed: sign both profiles in (this also warms Chromium's files).
    let state = sign_in_with_form(&settings, layout.store(), DEMO_EMAIL, DEMO_PASSWORD).await?;
    if state != SessionState::SignedIn {
        bail!("the restock profile did not sign in: {state:?}");
    }
    tokio::time::timeout(
        RUN_LIMIT,
        layout.minimal(Steps::SignIn, chrome, &minimal_profile, store),
    )
    .await
    .context("minimal sign-in took over 120 s")??;

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        first_visit(layout, &profiles.join(layout.store()), store).await?;
        let t = Instant::now();
        let outcome = tokio::time::timeout(RUN_LIMIT, async {
            let mut purchaser = factory(&settings, layout.store())?;
            Ok::<_, PurchaseError>(purchaser.buy(&req, &progress).await)
        })
        .await
        .context("restock's buy took over 120 s")??;
        ours.push(t.elapsed());
        if outcome.status != Status::DryRun {
            bail!("restock's buy ended as {outcome:?}");
        }

        first_visit(layout, &minimal_profile, store).await?;
        let t = Instant::now();
        let total = tokio::time::timeout(
            RUN_LIMIT,
            layout.minimal(Steps::Buy, chrome, &minimal_profile, store),
        )
        .await
        .context("the minimal program took over 120 s")??;
        theirs.push(t.elapsed());
        if Money::read(&total, layout.pick()).ok() != outcome.total {
            bail!(
                "the minimal program read total {total:?}, restock {:?}",
                outcome.total
            );
        }
    }
    Ok((Samples::new(ours), Samples::new(theirs)))
}

/// Untimed, before each spa run: the closed `profile` forgets the cookie
/// banner's `consent` cookie (a row of Chromium's `Default/Cookies`, an
/// SQLite file) and the store forgets every session's address, so the run
/// meets the banner and the address form. Nothing on the classic layout.
async fn first_visit(layout: Layout, profile: &Path, store: &DemoStore) -> Result<()> {
    if layout != Layout::Spa {
        return Ok(());
    }
    let cookies = profile.join("Default").join("Cookies");
    if cookies.exists() {
        let db = rusqlite::Connection::open(&cookies)?;
        db.busy_timeout(Duration::from_secs(5))?;
        db.execute("DELETE FROM cookies WHERE name = 'consent'", [])?;
    }
    let reset = reqwest::Client::builder()
        .no_proxy()
        .build()?
        .post(format!("{}/admin/reset", store.base_url()))
        .send()
        .await?;
    if !reset.status().is_success() {
        bail!("POST /admin/reset answered {}", reset.status());
    }
    Ok(())
}

/// chromiumoxide's own launcher on `profile`, headless, with its handler
/// running; the caller closes it.
async fn launch(chrome: &Path, profile: &Path) -> Result<(Browser, tokio::task::JoinHandle<()>)> {
    let mut config = BrowserConfig::builder()
        .chrome_executable(chrome)
        .user_data_dir(profile)
        .new_headless_mode();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        // Chromium refuses to run as root with its sandbox (restock passes
        // the same flag in the same case).
        config = config.no_sandbox();
    }
    let (browser, mut handler) =
        Browser::launch(config.build().map_err(anyhow::Error::msg)?).await?;
    let task = tokio::spawn(async move { while handler.next().await.is_some() {} });
    Ok((browser, task))
}

async fn close(mut browser: Browser, handler: tokio::task::JoinHandle<()>) {
    let _ = tokio::time::timeout(Duration::from_secs(5), browser.close()).await;
    if tokio::time::timeout(Duration::from_secs(5), browser.wait())
        .await
        .is_err()
    {
        let _ = browser.kill().await;
    }
    handler.abort();
}

/// Clicks each `(selector, value)` field and types its value.
async fn fill(page: &Page, fields: impl IntoIterator<Item = (&str, &str)>) -> Result<()> {
    for (selector, value) in fields {
        page.find_element(selector)
            .await?
            .click()
            .await?
            .type_str(value)
            .await?;
    }
    Ok(())
}

/// The layout's checkout fields with [`DETAILS`]' values.
fn details(layout: Layout) -> impl Iterator<Item = (&'static str, &'static str)> {
    layout.fields().into_iter().zip(DETAILS.map(|(_, v)| v))
}

async fn classic_sign_in(page: &Page, store: &DemoStore) -> Result<String> {
    page.goto(format!("{}/signin", store.base_url())).await?;
    fill(page, [("#email", DEMO_EMAIL), ("#password", DEMO_PASSWORD)]).await?;
    click_to_load(page, "#signin-submit").await?;
    page.goto(format!("{}/account", store.base_url())).await?;
    match page.find_element("#account-name").await {
        Ok(name) => Ok(name.inner_text().await?.unwrap_or_default()),
        Err(_) => {
            let url = page.url().await?.unwrap_or_default();
            let html = page.content().await.unwrap_or_default();
            bail!("the minimal profile did not sign in: {url}: {html}");
        }
    }
}

async fn classic_buy(page: &Page, store: &DemoStore) -> Result<String> {
    let product = store.product_url(SKU);
    let cart = format!("{}/cart", store.base_url());
    classic_price(page, &product).await?;
    page.goto(cart.as_str()).await?;
    if page.find_element("#empty-cart").await.is_ok() {
        click_to_load(page, "#empty-cart").await?;
        page.find_element("#cart-empty").await?;
    }
    classic_price(page, &product).await?;
    page.evaluate("document.querySelector('#qty').value = '1'")
        .await?;
    click_to_load(page, "#add-to-cart").await?;
    page.goto(cart.as_str()).await?;
    let lines = page.find_elements("li.cart-item").await?.len();
    if lines != 1 {
        bail!("the minimal program's cart holds {lines} lines");
    }
    click_to_load(page, "#checkout").await?;
    fill(page, details(Layout::Classic)).await?;
    click_to_load(page, "#continue").await?;
    attribute(page, "#order-total", "data-total").await
}

/// Clicks and waits for the next page's load event (subscribed before the
/// click, so it cannot be missed).
async fn click_to_load(page: &Page, selector: &str) -> Result<()> {
    let mut loads = page.event_listener::<EventLoadEventFired>().await?;
    page.find_element(selector).await?.click().await?;
    tokio::time::timeout(Duration::from_secs(30), loads.next())
        .await
        .with_context(|| format!("no page load within 30 s after clicking {selector}"))?
        .with_context(|| format!("page events ended after clicking {selector}"))?;
    Ok(())
}

async fn classic_price(page: &Page, url: &str) -> Result<String> {
    page.goto(url).await?;
    attribute(page, "#price", "data-price").await
}

/// The `name` attribute of the element `selector` matches.
async fn attribute(page: &Page, selector: &str, name: &str) -> Result<String> {
    page.find_element(selector)
        .await?
        .attribute(name)
        .await?
        .with_context(|| format!("{selector} has no {name}"))
}

async fn spa_sign_in(page: &Page, store: &DemoStore) -> Result<String> {
    spa_goto(page, &format!("{}/spa/signin", store.base_url())).await?;
    wait_for(page, "#spa-email").await?;
    fill(
        page,
        [("#spa-email", DEMO_EMAIL), ("#spa-password", DEMO_PASSWORD)],
    )
    .await?;
    page.find_element("#spa-signin-submit")
        .await?
        .click()
        .await?;
    wait_for(page, "#spa-who").await?;
    Ok(page
        .find_element("#spa-who")
        .await?
        .inner_text()
        .await?
        .unwrap_or_default())
}

async fn spa_buy(page: &Page, store: &DemoStore) -> Result<String> {
    let product = store.spa_product_url(SKU);
    let cart = format!("{}/spa/cart", store.base_url());
    spa_price(page, &product).await?;
    spa_goto(page, &cart).await?;
    wait_for(page, "li.spa-cart-item, #spa-cart-empty").await?;
    if page.find_element("#spa-empty-cart").await.is_ok() {
        page.find_element("#spa-empty-cart").await?.click().await?;
        wait_for(page, "#spa-cart-empty").await?;
    }
    spa_price(page, &product).await?;
    page.evaluate("document.querySelector('#spa-qty').value = '1'")
        .await?;
    page.find_element("#spa-add").await?.click().await?;
    wait_for(page, "#spa-toast").await?;
    spa_goto(page, &cart).await?;
    wait_for(page, "li.spa-cart-item, #spa-cart-empty").await?;
    let lines = page
        .find_elements("li.spa-cart-item")
        .await
        .map_or(0, |l| l.len());
    if lines != 1 {
        bail!("the minimal program's cart holds {lines} lines");
    }
    page.find_element("#spa-checkout").await?.click().await?;
    // The address form shows while the session has no address.
    wait_for(page, "#spa-address-form, #spa-payment-form").await?;
    if page.find_element("#spa-address-form").await.is_ok() {
        fill(page, details(Layout::Spa)).await?;
        let chosen: bool = page
            .evaluate(format!(
                "(() => {{ const s = document.querySelector('#spa-ship-country');
                    const o = Array.from(s.options).find((o) => o.text === {COUNTRY:?});
                    if (!o) return false;
                    s.value = o.value;
                    s.dispatchEvent(new Event('change', {{ bubbles: true }}));
                    return true; }})()"
            ))
            .await?
            .into_value()?;
        if !chosen {
            bail!("the spa's country select has no {COUNTRY:?}");
        }
        page.find_element("#spa-address-continue")
            .await?
            .click()
            .await?;
        wait_for(page, "#spa-payment-form").await?;
    }
    page.find_element("#payment-continue")
        .await?
        .click()
        .await?;
    wait_for(page, "#spa-total").await?;
    page.find_element("#spa-total")
        .await?
        .inner_text()
        .await?
        .context("no total on the spa's review page")
}

/// A new document (awaits its load event), then the cookie banner
/// accepted if it shows: it covers every button until then.
async fn spa_goto(page: &Page, url: &str) -> Result<()> {
    page.goto(url).await?;
    if let Ok(accept) = page.find_element("#cookie-accept").await {
        accept.click().await?;
    }
    Ok(())
}

async fn spa_price(page: &Page, url: &str) -> Result<String> {
    spa_goto(page, url).await?;
    wait_for(page, "#spa-price").await?;
    attribute(page, "#spa-price", "data-price").await
}

/// Resolves as soon as `selector` matches an element: checked at once,
/// then on every DOM change (a `MutationObserver`), in one evaluation.
async fn wait_for(page: &Page, selector: &str) -> Result<()> {
    let js = format!(
        "new Promise((resolve) => {{
            const found = () => document.querySelector({selector:?}) !== null;
            if (found()) return resolve(true);
            const observer = new MutationObserver(() => {{
                if (found()) {{ observer.disconnect(); resolve(true); }}
            }});
            observer.observe(document, {{ childList: true, subtree: true }});
        }})"
    );
    tokio::time::timeout(Duration::from_secs(30), page.evaluate(js))
        .await
        .with_context(|| format!("{selector} did not show within 30 s"))??;
    Ok(())
}
