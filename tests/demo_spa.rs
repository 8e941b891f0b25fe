//! The demo store's spa layout in a real headless Chromium, driven with
//! chromiumoxide directly: the walk from a first visit to the confirmation
//! is one document load, pages change by pushState, the cookie banner
//! really covers the buttons, the session cookie is the script's and
//! expires with the store's TTL (on the server too), the cart lives in
//! localStorage, and the ledger holds exactly the order the review showed.
//!
//! Each test starts its own Chromium on a fresh temporary profile, in its
//! own process group, killed when the guard drops (panics included); each
//! ends by checking no Chromium on that profile is left. Conditions are
//! awaited by polling with a deadline, never by fixed sleeps.

mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chromiumoxide::cdp::browser_protocol::network::Cookie;
use chromiumoxide::cdp::browser_protocol::page::{
    EventFrameNavigated, EventLoadEventFired, EventNavigatedWithinDocument,
};
use chromiumoxide::handler::HandlerConfig;
use chromiumoxide::{Browser, Page};
use futures::StreamExt;
use restock::demo::{DemoStore, StoreOptions, DEMO_EMAIL, DEMO_PASSWORD};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use support::chromium::processes_under;
use support::demo::{self, admin_post};
use support::intake::json_of;
use support::wait::{poll, within};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

const FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
];

fn chrome() -> PathBuf {
    std::env::var_os("RESTOCK_TEST_CHROME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// A headless Chromium on a throwaway profile. Dropping it kills the whole
/// process group; [`Chromium::close`] asks it to quit first.
struct Chromium {
    browser: Browser,
    handler: JoinHandle<()>,
    child: Child,
    pgid: i32,
    profile: tempfile::TempDir,
}

impl Chromium {
    async fn launch() -> Chromium {
        let profile = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(chrome());
        cmd.args(FLAGS)
            .arg("--remote-debugging-port=0")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        let mut child = cmd.spawn().expect("start Chromium");
        let pgid = child.id().unwrap() as i32;
        let guard = Group(pgid);
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let ws = within("Chromium to listen", async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some((_, url)) = line.split_once("DevTools listening on ") {
                    return url.trim().to_owned();
                }
            }
            panic!("Chromium exited before it listened")
        })
        .await;
        // Keep draining stderr: a full pipe would stall the browser.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let config = HandlerConfig {
            viewport: None,
            ..HandlerConfig::default()
        };
        let (browser, mut handler) = Browser::connect_with_config(ws, config).await.unwrap();
        let handler = tokio::spawn(async move { while handler.next().await.is_some() {} });
        std::mem::forget(guard);
        Chromium {
            browser,
            handler,
            child,
            pgid,
            profile,
        }
    }

    async fn page(&self) -> Page {
        self.browser.new_page("about:blank").await.unwrap()
    }

    /// Quits Chromium (bounded), kills what is left, and proves no process
    /// on this profile survives.
    async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.browser.close()).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        kill_group(self.pgid);
        let _ = self.child.kill().await;
        let profile = self.profile.path().to_path_buf();
        drop(self);
        poll("every Chromium on the profile to exit", || {
            let gone = processes_under(&profile).is_empty();
            async move { gone.then_some(()) }
        })
        .await;
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        self.handler.abort();
        kill_group(self.pgid);
        let _ = self.child.start_kill();
    }
}

/// Kills a process group if launching fails halfway.
struct Group(i32);

impl Drop for Group {
    fn drop(&mut self) {
        kill_group(self.0);
    }
}

fn kill_group(pgid: i32) {
    if pgid > 1 {
        // SAFETY: sends a signal to the group this test started.
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
    }
}

async fn eval<T: DeserializeOwned>(page: &Page, js: &str) -> T {
    page.evaluate(js)
        .await
        .unwrap_or_else(|e| panic!("{js}: {e}"))
        .into_value()
        .unwrap_or_else(|e| panic!("{js}: {e}"))
}

/// Waits until the JS expression is true in the page.
async fn wait_js(page: &Page, js: &str) {
    poll(js, || async {
        page.evaluate(js)
            .await
            .ok()
            .and_then(|r| r.into_value::<bool>().ok())
            .filter(|holds| *holds)
            .map(|_| ())
    })
    .await;
}

async fn wait_for(page: &Page, selector: &str) {
    wait_js(
        page,
        &format!("document.querySelector({}) !== null", json!(selector)),
    )
    .await;
}

/// A real mouse click at the element's centre, once it is there.
async fn click(page: &Page, selector: &str) {
    wait_for(page, selector).await;
    page.find_element(selector)
        .await
        .unwrap()
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {selector}: {e}"));
}

/// Clicks a field, selects what is in it, and types over it.
async fn type_into(page: &Page, selector: &str, text: &str) {
    click(page, selector).await;
    eval::<bool>(
        page,
        &format!("document.querySelector({}).select(), true", json!(selector)),
    )
    .await;
    page.find_element(selector)
        .await
        .unwrap()
        .type_str(text)
        .await
        .unwrap();
}

/// Picks an option of a `<select>` as a user's choice does (value, then a
/// bubbling `change`).
async fn choose(page: &Page, selector: &str, value: &str) {
    wait_for(page, selector).await;
    eval::<bool>(
        page,
        &format!(
            "(() => {{ const s = document.querySelector({}); s.value = {}; \
             s.dispatchEvent(new Event('change', {{ bubbles: true }})); return s.value === {1}; }})()",
            json!(selector),
            json!(value)
        ),
    )
    .await;
}

async fn text_of(page: &Page, selector: &str) -> String {
    wait_for(page, selector).await;
    eval(
        page,
        &format!("document.querySelector({}).textContent", json!(selector)),
    )
    .await
}

async fn path(page: &Page) -> String {
    eval(page, "location.pathname + location.search").await
}

async fn absent(page: &Page, selector: &str) -> bool {
    eval(
        page,
        &format!("document.querySelector({}) === null", json!(selector)),
    )
    .await
}

/// The element (id or class) at the centre of `selector`'s box, and
/// whether it is inside the cookie banner.
async fn hit_at_centre(page: &Page, selector: &str) -> (String, bool) {
    wait_for(page, selector).await;
    eval(
        page,
        &format!(
            "(() => {{ const r = document.querySelector({}).getBoundingClientRect(); \
             const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2); \
             return [hit ? (hit.id || hit.className || hit.tagName) : '', \
                     !!(hit && hit.closest('#cookie-banner'))]; }})()",
            json!(selector)
        ),
    )
    .await
}

async fn cookie(page: &Page, name: &str) -> Option<Cookie> {
    page.get_cookies()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == name)
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Counts a page's CDP events of one kind that `keep` accepts. The
/// listener is registered before this returns, so it sees every event of
/// a navigation started afterwards.
async fn count<T, F>(page: &Page, keep: F) -> (Arc<AtomicUsize>, JoinHandle<()>)
where
    T: chromiumoxide::cdp::IntoEventKind + Unpin + Send + Sync + 'static,
    F: Fn(&T) -> bool + Send + 'static,
{
    let counter = Arc::new(AtomicUsize::new(0));
    let c = counter.clone();
    let mut events = page.event_listener::<T>().await.unwrap();
    let task = tokio::spawn(async move {
        while let Some(event) = events.next().await {
            if keep(event.as_ref()) {
                c.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    (counter, task)
}

/// Whether the server still knows a spa session token.
async fn server_knows(store: &DemoStore, token: &str) -> bool {
    let answer = json_of(
        reqwest::Client::new()
            .get(format!("{}/spa/api/session", store.base_url()))
            .header("cookie", format!("spa_sid={token}")),
    )
    .await;
    answer["signed_in"] == json!(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spa_walk_from_first_visit_to_confirmation_is_one_document() {
    const TTL: u64 = 3600;
    let store = demo::store_with(StoreOptions {
        interstitial: true,
        shipping_choice: true,
        session_ttl: Duration::from_secs(TTL),
        ..StoreOptions::default()
    })
    .await;
    let base = store.base_url();
    let chromium = Chromium::launch().await;
    let page = chromium.page().await;

    // Every document load of our store in the main frame, every load
    // event, and every same-document (pushState) navigation.
    let origin = base.clone();
    let (loads, t1) = count::<EventFrameNavigated, _>(&page, move |e| {
        e.frame.parent_id.is_none() && e.frame.url.starts_with(&origin)
    })
    .await;
    let (load_events, t2) = count::<EventLoadEventFired, _>(&page, |_| true).await;
    let (pushes, t3) = count::<EventNavigatedWithinDocument, _>(&page, |_| true).await;
    let listeners = [t1, t2, t3];

    // First visit, straight to a product page: the consent wall covers it.
    page.goto(store.spa_product_url("paper-towels"))
        .await
        .unwrap();
    wait_for(&page, "#spa-add").await;
    wait_for(&page, "#cookie-banner").await;
    eval::<bool>(&page, "window.__walk = 'one document', true").await;
    poll("the first load to be counted", || async {
        (loads.load(Ordering::SeqCst) == 1 && load_events.load(Ordering::SeqCst) >= 1).then_some(())
    })
    .await;
    let first_load_events = load_events.load(Ordering::SeqCst);

    let (hit, on_banner) = hit_at_centre(&page, "#spa-add").await;
    assert!(on_banner, "the add button is covered, but {hit} was hit");
    // A real click at the button lands on the banner, not the button.
    eval::<bool>(
        &page,
        "window.__clicks = [], document.addEventListener('click', \
         e => __clicks.push(e.target.closest('#cookie-banner') ? 'banner' : (e.target.id || e.target.tagName)), \
         true), true",
    )
    .await;
    click(&page, "#spa-add").await;
    wait_js(&page, "__clicks.length === 1").await;
    assert_eq!(eval::<Vec<String>>(&page, "__clicks").await, ["banner"]);
    assert!(!eval::<bool>(&page, "document.cookie.includes('consent=')").await);

    click(&page, "#cookie-accept").await;
    wait_js(&page, "document.querySelector('#cookie-banner') === null").await;
    assert!(eval::<bool>(&page, "document.cookie.includes('consent=yes')").await);
    let (hit, on_banner) = hit_at_centre(&page, "#spa-add").await;
    assert!(
        !on_banner && hit == "spa-add",
        "after Accept the button itself is hit, not {hit}"
    );

    // Adding while signed out leads to sign-in, by pushState.
    click(&page, "#spa-add").await;
    wait_for(&page, "#spa-signin-form").await;
    assert_eq!(
        path(&page).await,
        "/spa/signin?next=%2Fspa%2Fproduct%2Fpaper-towels"
    );
    assert!(absent(&page, "#spa-add").await, "the product page is gone");
    assert!(cookie(&page, "spa_sid").await.is_none());
    type_into(&page, "#spa-email", DEMO_EMAIL).await;
    type_into(&page, "#spa-password", DEMO_PASSWORD).await;
    click(&page, "#spa-signin-submit").await;
    wait_for(&page, "#spa-who").await;
    wait_for(&page, "#spa-add").await;
    assert_eq!(path(&page).await, "/spa/product/paper-towels");

    // The session cookie: set by the page's script, expiring with the TTL.
    let sid = cookie(&page, "spa_sid").await.expect("a session cookie");
    assert!(!sid.http_only && !sid.session, "{sid:?}");
    assert!(
        (sid.expires - (now_secs() + TTL as f64)).abs() < 10.0,
        "expires {} is not now + {TTL} s",
        sid.expires
    );
    assert!(
        eval::<bool>(
            &page,
            &format!("document.cookie.includes('spa_sid={}')", sid.value)
        )
        .await,
        "the script can see (and so could set) the cookie"
    );
    assert!(server_knows(&store, &sid.value).await);

    // Pick the 16-roll pack (re-rendered in place), two of them, add.
    choose(&page, "#spa-pack", "16-rolls").await;
    wait_js(
        &page,
        "document.querySelector('#spa-price')?.dataset.price === '11.99'",
    )
    .await;
    assert_eq!(path(&page).await, "/spa/product/paper-towels?pack=16-rolls");
    assert_eq!(
        text_of(&page, "#spa-product-title").await,
        "Paper towels, 16 rolls"
    );
    let ld: Value = serde_json::from_str(&text_of(&page, "#spa-jsonld").await).unwrap();
    assert_eq!(ld["offers"]["price"], json!("11.99"));
    type_into(&page, "#spa-qty", "2").await;
    click(&page, "#spa-add").await;
    wait_for(&page, "#spa-toast").await;
    assert_eq!(text_of(&page, "#spa-toast").await, "Added to cart");
    let stored: Value =
        serde_json::from_str(&eval::<String>(&page, "localStorage.getItem('spa_cart')").await)
            .unwrap();
    assert_eq!(
        (&stored[0]["sku"], &stored[0]["pack"], &stored[0]["qty"]),
        (&json!("paper-towels"), &json!("16-rolls"), &json!(2))
    );
    assert_eq!(text_of(&page, "#spa-cart-count").await, "2");

    // Cart, then checkout: the interstitial, declined.
    click(&page, "#spa-cart-link").await;
    wait_for(&page, "li.spa-cart-item").await;
    assert_eq!(path(&page).await, "/spa/cart");
    assert!(absent(&page, "#spa-add").await && absent(&page, "#spa-toast").await);
    assert_eq!(
        text_of(&page, "li.spa-cart-item").await,
        "Paper towels, 16 rolls × 2"
    );
    click(&page, "#spa-checkout").await;
    wait_for(&page, "#protection-offer").await;
    assert_eq!(path(&page).await, "/spa/checkout/protection");
    click(&page, "#protection-decline").await;

    // The address form validates before it advances.
    wait_for(&page, "#spa-address-form").await;
    assert_eq!(path(&page).await, "/spa/checkout/address");
    type_into(&page, "#spa-ship-name", "Ada Lovelace").await;
    type_into(&page, "#spa-ship-address", "1 Spa Street").await;
    type_into(&page, "#spa-ship-postal", "ABC").await;
    choose(&page, "#spa-ship-country", "FR").await;
    click(&page, "#spa-address-continue").await;
    wait_js(
        &page,
        "document.querySelector('#spa-error-postal')?.hidden === false",
    )
    .await;
    assert_eq!(
        text_of(&page, "#spa-error-postal").await,
        "Postcode not valid"
    );
    assert_eq!(
        path(&page).await,
        "/spa/checkout/address",
        "did not advance"
    );
    type_into(&page, "#spa-ship-postal", "75001").await;
    click(&page, "#spa-address-continue").await;

    // Shipping (a choice is offered), payment, review.
    wait_for(&page, "#spa-shipping-form").await;
    assert_eq!(path(&page).await, "/spa/checkout/shipping");
    assert!(absent(&page, "#spa-address-form").await);
    click(&page, "#ship-express").await;
    click(&page, "#shipping-continue").await;
    wait_for(&page, "#payment-continue").await;
    assert_eq!(path(&page).await, "/spa/checkout/payment");
    assert_eq!(
        text_of(&page, "#spa-saved-card").await,
        "Pay with saved card •••• 4242"
    );
    click(&page, "#payment-continue").await;
    wait_for(&page, "#spa-total").await;
    assert_eq!(path(&page).await, "/spa/checkout/review");
    let total_text = text_of(&page, "#spa-total").await;
    assert_eq!(total_text, "Total (2 items): €28.97, incl. €4.63 tax");
    let shown_total = total_text
        .split_once(": €")
        .and_then(|(_, rest)| rest.split_once(','))
        .map(|(total, _)| total.to_owned())
        .unwrap();
    assert!(
        store.ledger().is_empty(),
        "nothing ordered before Place order"
    );

    click(&page, "#spa-place-order").await;
    wait_for(&page, "#spa-confirmation").await;
    assert_eq!(path(&page).await, "/spa/confirmation");
    assert_eq!(
        text_of(&page, "#spa-confirmation").await,
        "Thank you! Your order is on its way."
    );
    let main: String = eval(&page, "document.querySelector('#spa-main').innerText").await;
    assert!(
        !main.contains("D-10"),
        "no order number on the confirmation: {main}"
    );
    assert!(absent(&page, "#spa-total").await && absent(&page, "#spa-place-order").await);
    assert!(
        eval::<bool>(&page, "localStorage.getItem('spa_cart') === null").await,
        "the browser's cart is emptied"
    );

    // Exactly one order, charged what the review showed.
    let ledger = store.ledger();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(ledger[0].total, shown_total);
    assert_eq!(ledger[0].items[0].variant.as_deref(), Some("16-rolls"));
    assert_eq!(ledger[0].country, "FR");

    // The number is in the order history.
    click(&page, "#spa-orders-link").await;
    wait_for(&page, ".order-row").await;
    assert_eq!(
        text_of(&page, ".order-row .order-id").await,
        ledger[0].order_number
    );
    assert_eq!(
        text_of(&page, ".order-row .order-total").await,
        format!("€{shown_total}")
    );
    assert_eq!(
        text_of(&page, ".order-row .order-item").await,
        "Paper towels, 16 rolls × 2"
    );

    // The session ends after the TTL: sign in again under a short one.
    const SHORT_TTL: u64 = 6;
    let (status, _) = admin_post(&store, "options", json!({ "session_ttl": SHORT_TTL })).await;
    assert_eq!(status, 200);
    click(&page, "#spa-signout").await;
    wait_for(&page, "#spa-signin-link").await;
    assert!(!server_knows(&store, &sid.value).await);
    click(&page, "#spa-signin-link").await;
    type_into(&page, "#spa-email", DEMO_EMAIL).await;
    type_into(&page, "#spa-password", DEMO_PASSWORD).await;
    click(&page, "#spa-signin-submit").await;
    wait_for(&page, "#spa-account-email").await;
    let short = cookie(&page, "spa_sid")
        .await
        .expect("a new session cookie");
    assert!(
        (short.expires - (now_secs() + SHORT_TTL as f64)).abs() < 4.0,
        "expires {} is not now + {SHORT_TTL} s",
        short.expires
    );
    assert!(server_knows(&store, &short.value).await);
    poll("the server to forget the session", || async {
        (!server_knows(&store, &short.value).await).then_some(())
    })
    .await;
    poll("the browser to drop the expired cookie", || async {
        cookie(&page, "spa_sid").await.is_none().then_some(())
    })
    .await;
    click(&page, "#spa-home-link").await;
    wait_for(&page, "#spa-signin-link").await;
    click(&page, "#spa-cart-link").await;
    wait_for(&page, "#spa-signin-prompt").await;

    // One document for the whole walk; every page change was a pushState.
    assert_eq!(eval::<String>(&page, "window.__walk").await, "one document");
    assert_eq!(
        eval::<usize>(&page, "performance.getEntriesByType('navigation').length").await,
        1
    );
    assert_eq!(loads.load(Ordering::SeqCst), 1, "document loads");
    assert_eq!(
        load_events.load(Ordering::SeqCst),
        first_load_events,
        "load events after the first"
    );
    assert!(
        pushes.load(Ordering::SeqCst) >= 12,
        "same-document navigations: {}",
        pushes.load(Ordering::SeqCst)
    );

    for listener in listeners {
        listener.abort();
    }
    chromium.close().await;
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spa_shows_faults_and_sign_outs_in_place() {
    let store = demo::store().await;
    let chromium = Chromium::launch().await;
    let page = chromium.page().await;
    page.goto(format!("{}/spa/", store.base_url()))
        .await
        .unwrap();
    wait_for(&page, "a.spa-product-link").await;
    eval::<bool>(&page, "window.__walk = 'one document', true").await;
    click(&page, "#cookie-accept").await;
    wait_js(&page, "document.querySelector('#cookie-banner') === null").await;

    // Signed out: the cart asks for a sign-in.
    click(&page, "#spa-cart-link").await;
    wait_for(&page, "#spa-signin-prompt").await;
    assert!(absent(&page, "#spa-who").await);

    // A challenged product: the challenge page is shown in place.
    let (status, _) = admin_post(
        &store,
        "faults",
        json!({ "sku": "laundry-pods", "challenge": true }),
    )
    .await;
    assert_eq!(status, 200);
    click(&page, "#spa-home-link").await;
    click(
        &page,
        "a.spa-product-link[href='/spa/product/laundry-pods']",
    )
    .await;
    wait_for(&page, "#challenge").await;
    assert_eq!(
        eval::<String>(&page, "document.title").await,
        "Just a moment..."
    );
    assert!(absent(&page, "#spa-product-title").await);

    // Out of stock: no add button.
    admin_post(
        &store,
        "faults",
        json!({ "sku": "coffee-beans", "out_of_stock": true }),
    )
    .await;
    click(&page, "#spa-home-link").await;
    click(
        &page,
        "a.spa-product-link[href='/spa/product/coffee-beans']",
    )
    .await;
    wait_for(&page, "#spa-out-of-stock").await;
    assert!(absent(&page, "#spa-add").await);

    // hide_confirmation: the order goes through, the page says otherwise.
    admin_post(&store, "faults", json!({ "hide_confirmation": true })).await;
    click(&page, "#spa-signin-link").await;
    type_into(&page, "#spa-email", DEMO_EMAIL).await;
    type_into(&page, "#spa-password", DEMO_PASSWORD).await;
    click(&page, "#spa-signin-submit").await;
    wait_for(&page, "#spa-account-email").await;
    click(&page, "#spa-home-link").await;
    click(&page, "a.spa-product-link[href='/spa/product/dish-soap']").await;
    click(&page, "#spa-add").await;
    wait_for(&page, "#spa-toast").await;
    click(&page, "#spa-cart-link").await;
    click(&page, "#spa-checkout").await;
    // No interstitial and no shipping choice by default: address, payment.
    wait_for(&page, "#spa-address-form").await;
    type_into(&page, "#spa-ship-name", "Ada Lovelace").await;
    type_into(&page, "#spa-ship-address", "1 Spa Street").await;
    type_into(&page, "#spa-ship-postal", "10115").await;
    click(&page, "#spa-address-continue").await;
    wait_js(
        &page,
        "document.querySelector('#spa-error-country')?.hidden === false",
    )
    .await;
    assert_eq!(
        text_of(&page, "#spa-error-country").await,
        "Please choose a country"
    );
    choose(&page, "#spa-ship-country", "DE").await;
    click(&page, "#spa-address-continue").await;
    click(&page, "#payment-continue").await;
    wait_for(&page, "#spa-total").await;
    assert_eq!(
        text_of(&page, "#spa-total").await,
        "Total (1 item): €3.29, incl. €0.53 tax"
    );
    click(&page, "#spa-place-order").await;
    wait_for(&page, "#spa-order-problem").await;
    assert_eq!(
        text_of(&page, "#spa-order-problem").await,
        "Something went wrong, please check your orders"
    );
    assert!(absent(&page, "#spa-confirmation").await);
    assert_eq!(store.ledger().len(), 1, "the order was placed all the same");

    // Everyone signed out: the next page asks for a sign-in again.
    admin_post(&store, "signout-all", json!({})).await;
    click(&page, "#spa-orders-link").await;
    wait_for(&page, "#spa-signin-prompt").await;
    wait_for(&page, "#spa-signin-link").await;

    assert_eq!(eval::<String>(&page, "window.__walk").await, "one document");
    chromium.close().await;
    store.shutdown().await;
}
