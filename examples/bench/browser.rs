//! Benchmark 5, Browser path: one dry-run buy on the demo store through the real
//! purchaser (`purchase::factory` + `Purchaser::buy`, Chromium launch and
//! close included), next to a minimal chromiumoxide program doing the same
//! page steps on the same store, with the same Chromium binary, in the
//! same run.
//!
//! The minimal program follows restock's page steps one for one, so the
//! ratio is the cost of how restock drives the page, not of extra steps:
//! launch on a signed-in persistent profile -> product page, read the price
//! -> cart, empty it when it holds a line (a dry run leaves its item there)
//! -> product page again, read the price -> quantity, add to cart -> cart,
//! count the lines -> checkout -> fill three fields -> continue -> read the
//! total -> close the browser. It waits the way chromiumoxide's examples do
//! (`goto` awaits the load event; after a click it awaits the next
//! `Page.loadEventFired`, subscribed before the click) where restock
//! polls the page for its store definition's markers.
//!
//! Both profiles are signed in before timing (restock's with
//! `sign_in_with_form`, the minimal one through the same form). The runs
//! alternate, restock first, so drifting machine load hits both alike; the
//! figure is the median of each.

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
use restock::model::SessionState;
use restock::model::{Money, Phase, Status};
use restock::purchase::{
    browser::find_chrome, factory, sign_in_with_form, BrowserSettings, BuyProgress, BuyRequest,
    PurchaseError, Refusal, StoreRegistry,
};
use url::Url;

use crate::table::{dur, ratio, Row, Samples};

const SKU: &str = "paper-towels";
const RUN_LIMIT: Duration = Duration::from_secs(120);
const CHECKOUT: [(&str, &str, &str); 3] = [
    ("name", "#ship-name", "Ada Lovelace"),
    ("address", "#ship-address", "12 Analytical Street"),
    ("postal_code", "#ship-postal", "10115"),
];

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

pub async fn run(runs: usize) -> Result<Row> {
    let chrome = find_chrome(None)?;
    let store = DemoStore::spawn("127.0.0.1:0".parse()?).await?;
    let result = measure(runs, &chrome, &store).await;
    store.shutdown().await;
    let (restock, minimal) = result?;
    let r = ratio(
        restock.median().as_secs_f64(),
        minimal.median().as_secs_f64(),
    );
    let met = restock.median().as_secs_f64() <= 1.3 * minimal.median().as_secs_f64();
    let spread = |s: &Samples| format!("{}-{}", dur(s.pct(0.0)), dur(s.pct(100.0)));
    Ok(Row {
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
        target: "<= 1.3x the minimal program".into(),
        met: Some(met),
        ..Row::new("5. Browser path, dry-run buy on the demo store, launch included")
    })
}

async fn measure(runs: usize, chrome: &Path, store: &DemoStore) -> Result<(Samples, Samples)> {
    let dir = tempfile::tempdir()?;
    let mut overrides = BTreeMap::new();
    overrides.insert("demo".to_string(), Url::parse(&store.base_url())?);
    let stores = StoreRegistry::load(None, &overrides)?;
    let mut settings = BrowserSettings::new(
        dir.path().join("profiles"),
        dir.path().join("shots"),
        Arc::new(stores),
    );
    settings.chrome = Some(chrome.to_path_buf());
    settings.checkout = CHECKOUT
        .iter()
        .map(|(k, _, v)| (k.to_string(), v.to_string()))
        .collect();
    let req = BuyRequest {
        order_id: 1,
        item_id: SKU.into(),
        item_name: "Paper towels".into(),
        quantity: 1,
        store: "demo".into(),
        product_url: Url::parse(&store.product_url(SKU))?,
        ceiling: None,
        dry_run: true,
        choices: Vec::new(),
    };
    let progress = Quiet(dir.path().join("shots"));
    let minimal_profile = dir.path().join("minimal-profile");

    // Untimed: sign both profiles in (this also warms Chromium's files).
    let state = sign_in_with_form(&settings, "demo", DEMO_EMAIL, DEMO_PASSWORD).await?;
    if state != SessionState::SignedIn {
        bail!("the restock profile did not sign in: {state:?}");
    }
    tokio::time::timeout(RUN_LIMIT, minimal_sign_in(chrome, &minimal_profile, store))
        .await
        .context("minimal sign-in took over 120 s")??;

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        let outcome = tokio::time::timeout(RUN_LIMIT, async {
            let mut purchaser = factory(&settings, "demo")?;
            Ok::<_, PurchaseError>(purchaser.buy(&req, &progress).await)
        })
        .await
        .context("restock's buy took over 120 s")??;
        ours.push(t.elapsed());
        if outcome.status != Status::DryRun {
            bail!("restock's buy ended as {outcome:?}");
        }

        let t = Instant::now();
        let total = tokio::time::timeout(RUN_LIMIT, minimal(chrome, &minimal_profile, store))
            .await
            .context("the minimal program took over 120 s")??;
        theirs.push(t.elapsed());
        if Money::read(&total, restock::model::Pick::Only).ok() != outcome.total {
            bail!(
                "the minimal program read total {total}, restock {:?}",
                outcome.total
            );
        }
    }
    Ok((Samples::new(ours), Samples::new(theirs)))
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

async fn minimal_sign_in(chrome: &Path, profile: &Path, store: &DemoStore) -> Result<()> {
    let (browser, handler) = launch(chrome, profile).await?;
    let result = async {
        let page = browser.new_page("about:blank").await?;
        page.goto(format!("{}/signin", store.base_url())).await?;
        page.find_element("#email")
            .await?
            .click()
            .await?
            .type_str(DEMO_EMAIL)
            .await?;
        page.find_element("#password")
            .await?
            .click()
            .await?
            .type_str(DEMO_PASSWORD)
            .await?;
        click_to_load(&page, "#signin-submit").await?;
        page.goto(format!("{}/account", store.base_url())).await?;
        if page.find_element("#account-name").await.is_err() {
            let url = page.url().await?.unwrap_or_default();
            let html = page.content().await.unwrap_or_default();
            bail!("the minimal profile did not sign in: {url}: {html}");
        }
        Ok(())
    }
    .await;
    close(browser, handler).await;
    result
}

/// The minimal program: returns the total it read.
async fn minimal(chrome: &Path, profile: &Path, store: &DemoStore) -> Result<String> {
    let (browser, handler) = launch(chrome, profile).await?;
    let result = async {
        let page = browser.new_page("about:blank").await?;
        let product = store.product_url(SKU);
        let cart = format!("{}/cart", store.base_url());
        read_price(&page, &product).await?;
        page.goto(cart.as_str()).await?;
        if page.find_element("#empty-cart").await.is_ok() {
            click_to_load(&page, "#empty-cart").await?;
            page.find_element("#cart-empty").await?;
        }
        read_price(&page, &product).await?;
        page.evaluate("document.querySelector('#qty').value = '1'")
            .await?;
        click_to_load(&page, "#add-to-cart").await?;
        page.goto(cart.as_str()).await?;
        let lines = page.find_elements("li.cart-item").await?.len();
        if lines != 1 {
            bail!("the minimal program's cart holds {lines} lines");
        }
        click_to_load(&page, "#checkout").await?;
        for (_, selector, value) in CHECKOUT {
            page.find_element(selector)
                .await?
                .click()
                .await?
                .type_str(value)
                .await?;
        }
        click_to_load(&page, "#continue").await?;
        page.find_element("#order-total")
            .await?
            .attribute("data-total")
            .await?
            .context("no total on the review page")
    }
    .await;
    close(browser, handler).await;
    result
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

async fn read_price(page: &Page, url: &str) -> Result<String> {
    page.goto(url).await?;
    page.find_element("#price")
        .await?
        .attribute("data-price")
        .await?
        .context("no price on the product page")
}
