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

use std::time::Duration;

use restock::demo::StoreOptions;
use restock::model::{Money, Outcome, Phase, Pick, Status};
use support::buy_world::World;
use support::layout::{Layout, SPA_DEFINITION};

/// A world whose `demo-spa` definition is the example one rewritten by
/// `edit`.
async fn world(options: StoreOptions, edit: impl Fn(&str) -> String) -> World {
    World::with(Layout::Spa, options, &edit(SPA_DEFINITION), &[]).await
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
    let w = world(spa_with_every_page(), str::to_string).await;
    w.sign_in("demo-spa").await;

    // Dry run: every checkout page recognised and acted on, the total read
    // from a text with other numbers in it, nothing ordered.
    let progress = w.recorder();
    let outcome = w
        .buy(&w.on(Layout::Spa, "dish-soap", true), &progress)
        .await;
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
    let outcome = w
        .buy(&w.on(Layout::Spa, "dish-soap", false), &progress)
        .await;
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
    assert_eq!(progress.approved(), vec![charged]);
    assert_eq!(
        progress.phases(),
        vec![Phase::Browsing, Phase::Cart, Phase::Submitted]
    );
    w.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_rendered_checkout_pages_vary_from_one_buy_to_the_next() {
    let options = StoreOptions {
        payment_step: true,
        saved_address: true,
        ..StoreOptions::default()
    };
    let w = world(options, str::to_string).await;
    w.sign_in("demo").await;

    let first = w.recorder();
    let outcome = w
        .buy(&w.on(Layout::Classic, "dish-soap", false), &first)
        .await;
    assert_eq!(outcome.status, Status::Placed, "{outcome:?}");
    assert_eq!(
        first.pages(),
        vec!["page address", "page payment", "review"]
    );

    // The address is saved now: the form is skipped, the payment page is
    // still there.
    let second = w.recorder();
    let outcome = w
        .buy(&w.on(Layout::Classic, "dish-soap", false), &second)
        .await;
    assert_eq!(outcome.status, Status::Placed, "{outcome:?}");
    assert_eq!(second.pages(), vec!["page payment", "review"]);
    assert_eq!(w.demo.ledger().len(), 2);
    w.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_form_says_what_the_store_said() {
    let mut w = world(StoreOptions::default(), str::to_string).await;
    w.settings
        .checkout
        .insert("postal_code".into(), "none".into());
    w.sign_in("demo-spa").await;
    let outcome = w
        .buy(&w.on(Layout::Spa, "dish-soap", true), &w.recorder())
        .await;
    assert_eq!(outcome.status, Status::Failed, "{outcome:?}");
    assert!(!outcome.retryable, "a refused form needs the owner");
    let message = outcome.message.clone().unwrap();
    assert!(
        message.starts_with("the store says: Postcode not valid"),
        "{message}"
    );
    assert_page_saved(&outcome);
    w.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_the_definition_does_not_know_is_named_with_every_marker() {
    // A definition that forgot the payment page.
    let forgot_payment = |text: &str| {
        let start = text.find("[[checkout.page]]\nname = \"payment\"").unwrap();
        let end = text[start..].find("[review]").unwrap() + start;
        format!("{}{}", &text[..start], &text[end..])
    };
    let mut w = world(StoreOptions::default(), forgot_payment).await;
    w.settings.step_timeout = Duration::from_secs(4);
    w.sign_in("demo-spa").await;
    let outcome = w
        .buy(&w.on(Layout::Spa, "dish-soap", true), &w.recorder())
        .await;
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
    w.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_variant_is_chosen_and_the_ceiling_holds_its_price() {
    let w = world(StoreOptions::default(), str::to_string).await;
    w.sign_in("demo").await;
    w.sign_in("demo-spa").await;
    for (req, select) in [
        (w.on(Layout::Classic, "paper-towels", true), "#pack"),
        (w.on(Layout::Spa, "paper-towels", true), "#spa-pack"),
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
    w.end().await;
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
