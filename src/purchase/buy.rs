//! The buy flow: code shared by every store, steered by its [`StoreDef`].
//!
//! The flow, per request:
//! `enter(Browsing)` -> product page (block / challenge / signed out / not
//! found / out of stock?) -> price, ceiling -> `enter(Cart)` -> empty the
//! cart -> product page again (price re-checked) -> quantity, add -> the cart
//! must hold exactly one line -> checkout -> form from the owner's checkout
//! values -> review total -> `approve_total` -> (dry run stops here) ->
//! `enter(Submitted)` -> Place Order -> confirmation and order number.
//!
//! Money safety: once `enter(Submitted)` has returned `Ok`, every way out of
//! the flow is `placed` or `needs_review`; never `failed` or `unavailable`,
//! so nothing retries an order that may have gone through. A dry run leaves
//! the item in the store's cart; the next buy empties the cart first anyway.

use std::collections::BTreeMap;

use super::browser::{open, BrowserError};
use super::store::{Markers, StoreDef};
use super::tab::{json_ld_price, non_empty, Seen, Tab, TabError, Want};
use super::{BrowserSettings, BuyProgress, BuyRequest, PurchaseError, Refusal};
use crate::model::{Money, Outcome, Phase, Status};

/// Clicks of the cart's empty button before giving up on a cart that does
/// not empty.
const MAX_EMPTY_CLICKS: usize = 20;

/// Why a buy stopped before `placed` / `dry_run`.
#[derive(Debug)]
enum Stop {
    Blocked(String),
    Challenge(String),
    SignedOut(String),
    NotFound(String),
    OutOfStock(String),
    OverCeiling {
        price: Money,
        ceiling: Money,
    },
    Refused(Refusal),
    Tab(TabError),
    /// The store does not behave as its definition says, or the owner's
    /// config lacks something: a human must fix it; no retry.
    Broken(String),
    Launch(BrowserError),
    /// The phase could not be recorded; the step it names never began.
    Phase(PurchaseError),
}

impl From<TabError> for Stop {
    fn from(e: TabError) -> Stop {
        Stop::Tab(e)
    }
}

impl Stop {
    fn describe(&self) -> String {
        match self {
            Stop::Blocked(at) => format!("the store shows an access-denied page at {at}"),
            Stop::Challenge(at) => {
                format!("the store shows a bot challenge at {at}; solve it with `restock login`")
            }
            Stop::SignedOut(at) => format!(
                "the store profile is signed out (seen at {at}); sign in with `restock login`"
            ),
            Stop::NotFound(at) => format!("the product page says not found at {at}"),
            Stop::OutOfStock(at) => format!("out of stock at {at}"),
            Stop::OverCeiling { price, ceiling } => {
                format!("price {price} is over the ceiling {ceiling}")
            }
            Stop::Refused(r) => r.reason.clone(),
            Stop::Tab(e) => e.to_string(),
            Stop::Broken(why) => why.clone(),
            Stop::Launch(e) => e.to_string(),
            Stop::Phase(e) => e.to_string(),
        }
    }

    /// The outcome for this stop; after submit always `needs_review`.
    fn outcome(self, submitted: bool) -> Outcome {
        let message = self.describe();
        if submitted {
            return Outcome::new(Status::NeedsReview).message(format!(
                "Place Order was clicked but the order was not confirmed: {message}. \
                 Check the store's order history before buying again"
            ));
        }
        match self {
            Stop::Blocked(_) => Outcome::new(Status::Blocked).message(message),
            Stop::Challenge(_) => Outcome::new(Status::Challenge).message(message),
            Stop::SignedOut(_) => Outcome::new(Status::SigninRequired).message(message),
            Stop::NotFound(_) | Stop::OutOfStock(_) => {
                Outcome::new(Status::Unavailable).message(message)
            }
            Stop::OverCeiling { price, .. } => Outcome::new(Status::PriceBlocked)
                .message(message)
                .price(price),
            Stop::Refused(r) => Outcome::new(r.status).message(message),
            Stop::Tab(e) => Outcome::failed(message, e.is_transient()),
            Stop::Broken(_) => Outcome::failed(message, false),
            Stop::Launch(e) => Outcome::failed(message, e.is_transient()),
            Stop::Phase(_) => Outcome::failed(message, true),
        }
    }
}

/// The owner's value for every checkout field the store asks for, or the
/// keys that are missing.
fn checkout_values<'a>(
    store: &StoreDef,
    checkout: &'a BTreeMap<String, String>,
) -> Result<Vec<(String, &'a str)>, String> {
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for (key, selector) in &store.checkout.fields {
        match checkout.get(key) {
            Some(v) => values.push((selector.clone(), v.as_str())),
            None => missing.push(format!("checkout.{key}")),
        }
    }
    if missing.is_empty() {
        Ok(values)
    } else {
        Err(format!(
            "store `{}` needs {} in the config's checkout section",
            store.name,
            missing.join(", ")
        ))
    }
}

/// One buy, start to end; the browser is closed before this returns (and
/// killed if the future is dropped).
pub(crate) async fn buy(
    settings: &BrowserSettings,
    store: &StoreDef,
    req: &BuyRequest,
    progress: &dyn BuyProgress,
) -> Outcome {
    let fields = match checkout_values(store, &settings.checkout) {
        Ok(fields) => fields,
        Err(why) => return Outcome::failed(why, false),
    };
    if let Err(e) = progress.enter(Phase::Browsing).await {
        return Stop::Phase(e).outcome(false);
    }
    let session = match open(settings, &store.name, settings.headless).await {
        Ok(session) => session,
        Err(e) => return Stop::Launch(e).outcome(false),
    };
    let mut run = Run {
        tab: Tab::new(session.page(), settings.step_timeout),
        store,
        req,
        progress,
        fields,
        price: None,
        total: None,
        submitted: false,
    };
    let result = run.go().await;
    let outcome = run.finish(result).await;
    session.close().await;
    outcome
}

struct Run<'a> {
    tab: Tab<'a>,
    store: &'a StoreDef,
    req: &'a BuyRequest,
    progress: &'a dyn BuyProgress,
    /// (selector, value) per checkout field.
    fields: Vec<(String, &'a str)>,
    price: Option<Money>,
    total: Option<Money>,
    submitted: bool,
}

impl Run<'_> {
    async fn go(&mut self) -> Result<Outcome, Stop> {
        self.product().await?;
        self.progress
            .enter(Phase::Cart)
            .await
            .map_err(Stop::Phase)?;
        self.empty_cart().await?;
        let price = self.product().await?;
        self.add_to_cart().await?;
        self.checkout().await?;
        let total = self.review().await?;
        self.progress
            .approve_total(total)
            .await
            .map_err(Stop::Refused)?;
        if self.req.dry_run {
            return Ok(Outcome::new(Status::DryRun)
                .price(price)
                .total(total)
                .message("dry run: stopped before Place Order"));
        }
        self.progress
            .enter(Phase::Submitted)
            .await
            .map_err(Stop::Phase)?;
        self.submitted = true;
        self.place_order().await
    }

    /// Waits for `wants` behind the store's block, challenge and signed-out
    /// markers, which end the buy wherever they show.
    async fn expect(&self, wants: Vec<Want>) -> Result<Seen, Stop> {
        let store = self.store;
        let mut all = non_empty(vec![
            Want::any("block", &store.block),
            Want::any("challenge", &store.challenge),
            Want::any("signed_out", &store.session.signed_out),
        ]);
        all.extend(wants);
        let seen = self.tab.wait(&all).await?;
        match seen.name {
            "block" => Err(Stop::Blocked(seen.href)),
            "challenge" => Err(Stop::Challenge(seen.href)),
            "signed_out" => Err(Stop::SignedOut(seen.href)),
            _ => Ok(seen),
        }
    }

    /// Opens the product page, stops when it is unavailable, reads the price
    /// and checks the ceiling.
    async fn product(&mut self) -> Result<Money, Stop> {
        let page = &self.store.product;
        self.tab.goto(&self.req.product_url).await?;
        let mut wants = non_empty(vec![
            Want::fresh("not_found", &page.not_found),
            Want::fresh("out_of_stock", &page.out_of_stock),
        ]);
        wants.push(Want::selector("price", &page.price.selector));
        wants.push(Want::selector("add_to_cart", &page.add_to_cart));
        let seen = self.expect(wants).await?;
        match seen.name {
            "not_found" => return Err(Stop::NotFound(seen.href)),
            "out_of_stock" => return Err(Stop::OutOfStock(seen.href)),
            _ => {}
        }
        self.progress.step("product page");
        let price = self.read_price().await?;
        self.price = Some(price);
        match self.req.ceiling {
            Some(ceiling) if price > ceiling => Err(Stop::OverCeiling { price, ceiling }),
            _ => Ok(price),
        }
    }

    /// The price element, else JSON-LD `offers.price`.
    async fn read_price(&self) -> Result<Money, Stop> {
        let reading = &self.store.product.price;
        let shown = self.tab.read(reading).await?;
        if let Some(price) = shown.as_deref().and_then(|t| Money::parse_loose(t).ok()) {
            return Ok(price);
        }
        let blocks = self.tab.json_ld().await?;
        json_ld_price(&blocks)
            .and_then(|t| Money::parse_loose(&t).ok())
            .ok_or_else(|| {
                Stop::Broken(format!(
                    "no price on the product page: `{}` shows {shown:?} and there is no JSON-LD offers.price",
                    reading.selector
                ))
            })
    }

    /// Clicks the cart's empty button until the empty marker shows, so a
    /// left-over item is never bought along.
    async fn empty_cart(&mut self) -> Result<(), Stop> {
        let cart = &self.store.cart;
        self.tab.goto(&self.store.cart_url()).await?;
        for round in 0..MAX_EMPTY_CLICKS {
            let empty = if round == 0 {
                Want::fresh("cart_empty", &cart.empty)
            } else {
                // A store may empty the cart in place, without a new page.
                Want::any("cart_empty", &cart.empty)
            };
            let seen = self
                .expect(vec![empty, Want::selector("cart_item", &cart.item)])
                .await?;
            self.progress.step("cart");
            if seen.name == "cart_empty" {
                return Ok(());
            }
            self.tab.click(&cart.empty_button, true).await?;
        }
        Err(Stop::Broken(format!(
            "the cart is still not empty after clicking {} {MAX_EMPTY_CLICKS} times",
            cart.empty_button
        )))
    }

    /// Sets the quantity, adds, and checks the cart holds exactly our line.
    async fn add_to_cart(&mut self) -> Result<(), Stop> {
        let page = &self.store.product;
        match (&page.quantity, self.req.quantity) {
            (_, 0) => return Err(Stop::Broken("quantity 0 requested".into())),
            (Some(input), n) => self.tab.fill(input, &n.to_string()).await?,
            (None, 1) => {}
            (None, n) => {
                return Err(Stop::Broken(format!(
                    "store `{}` has no product.quantity input, so quantity {n} cannot be bought",
                    self.store.name
                )))
            }
        }
        self.tab
            .click(&page.add_to_cart, page.added.is_empty())
            .await?;
        let added = if page.added.is_empty() {
            Want::new_page()
        } else {
            Want::any("added", &page.added)
        };
        self.expect(vec![added]).await?;
        self.progress.step("added to cart");
        self.check_cart().await
    }

    async fn check_cart(&mut self) -> Result<(), Stop> {
        let cart = &self.store.cart;
        self.tab.goto(&self.store.cart_url()).await?;
        let seen = self
            .expect(vec![
                Want::selector("cart_item", &cart.item),
                Want::fresh("cart_empty", &cart.empty),
            ])
            .await?;
        if seen.name == "cart_empty" {
            return Err(Stop::Broken(
                "the cart is empty after adding the item".into(),
            ));
        }
        let lines = self.tab.count(&cart.item).await?;
        if lines != 1 {
            return Err(Stop::Broken(format!(
                "the cart holds {lines} lines after adding; expected only the requested item"
            )));
        }
        self.progress.step("cart checked");
        Ok(())
    }

    /// Starts checkout and fills the form (skipped when the review total
    /// shows without one, e.g. a saved address).
    async fn checkout(&mut self) -> Result<(), Stop> {
        let store = self.store;
        self.tab.click(&store.cart.checkout, true).await?;
        let mut wants = Vec::new();
        if let Some((first, _)) = self.fields.first() {
            wants.push(Want::selector("form", first));
        }
        wants.push(Want::selector("total", &store.review.total.selector));
        let seen = self.expect(wants).await?;
        self.progress.step("checkout");
        if seen.name != "form" {
            return Ok(());
        }
        for (selector, value) in &self.fields {
            self.tab.fill(selector, value).await?;
        }
        self.progress.step("checkout form filled");
        if let Some(button) = &store.checkout.continue_button {
            self.tab.click(button, true).await?;
            self.expect(vec![Want::selector("total", &store.review.total.selector)])
                .await?;
        }
        Ok(())
    }

    /// Reads the review page's total.
    async fn review(&mut self) -> Result<Money, Stop> {
        let reading = &self.store.review.total;
        let wants = vec![Want::any("total", &Markers::selector(&reading.selector))];
        self.expect(wants).await?;
        let shown = self.tab.read(reading).await?;
        let total = shown
            .as_deref()
            .and_then(|t| Money::parse_loose(t).ok())
            .ok_or_else(|| {
                Stop::Broken(format!(
                    "cannot read the order total: `{}` shows {shown:?}",
                    reading.selector
                ))
            })?;
        self.total = Some(total);
        self.progress.step("review");
        Ok(total)
    }

    /// After `enter(Submitted)`: click, then read the confirmation.
    async fn place_order(&mut self) -> Result<Outcome, Stop> {
        let store = self.store;
        self.tab.click(&store.review.place_order, true).await?;
        self.progress.step("order placed");
        self.expect(vec![Want::fresh(
            "confirmation",
            &store.confirmation.marker,
        )])
        .await?;
        self.progress.step("confirmation");
        let mut outcome = Outcome::new(Status::Placed);
        let order_ref = match &store.confirmation.order_id {
            Some(reading) => self.tab.read(reading).await.ok().flatten(),
            None => None,
        };
        match order_ref.filter(|r| !r.is_empty()) {
            Some(r) => outcome = outcome.order_ref(r),
            None => outcome = outcome.message(
                "the store confirmed the order but showed no order number; check its order history",
            ),
        }
        Ok(outcome)
    }

    /// The outcome with what was read along the way, and a screenshot for
    /// anything but `placed` / `dry_run`.
    async fn finish(&self, result: Result<Outcome, Stop>) -> Outcome {
        let mut outcome = result.unwrap_or_else(|stop| stop.outcome(self.submitted));
        outcome.price = outcome.price.or(self.price);
        outcome.total = outcome.total.or(self.total);
        if !matches!(outcome.status, Status::Placed | Status::DryRun) {
            let path = self.progress.screenshot_path(outcome.status.as_str());
            outcome.screenshot = self.tab.save_screenshot(path).await;
        }
        outcome
    }
}
