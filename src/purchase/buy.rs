//! The buy flow: code shared by every store, steered by its [`StoreDef`].
//!
//! The flow, per request:
//! `enter(Browsing)` -> product page (block / challenge / signed out / not
//! found / out of stock?) -> price, ceiling -> `enter(Cart)` -> empty the
//! cart -> product page again, variants chosen, price re-read and checked
//! -> quantity, add -> the cart must hold exactly one line -> checkout ->
//! the store's checkout pages, recognised and acted on until the review
//! page -> review total -> `approve_total` -> (dry run stops here) ->
//! `enter(Submitted)` -> Place Order -> confirmation and order number.
//!
//! Checkout is not a fixed sequence: after the cart's checkout button the
//! flow looks at where it is (one of the definition's `[[checkout.page]]`
//! markers, a form error, or the review page), acts on that page, waits for
//! the page to change *because of that action* (see [`super::wait`]: a new
//! document, a route rendered by script, or a re-render in place all
//! count), and repeats, at most [`MAX_CHECKOUT_STEPS`] times and each wait
//! bounded by the step timeout. A page it does not recognise ends the buy
//! with what it saw. The review page is the only place Place Order is
//! clicked, after the guards.
//!
//! Every wait reports what each marker showed; `--explain` prints it, and a
//! step that times out carries it in the failure, with a screenshot and a
//! copy of the rendered HTML next to it.
//!
//! Money safety: once `enter(Submitted)` has returned `Ok`, every way out of
//! the flow is `placed` or `needs_review`; never `failed` or `unavailable`,
//! so nothing retries an order that may have gone through. A dry run leaves
//! the item in the store's cart; the next buy empties the cart first anyway.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::browser::{open, BrowserError};
use super::store::{Action, Markers, Page, Reading, StoreDef, Value};
use super::tab::{json_ld_price, Seen, Tab, TabError};
use super::wait::{non_empty, Want};
use super::{BrowserSettings, BuyProgress, BuyRequest, PurchaseError, Refusal};
use crate::model::{Money, Outcome, Phase, Pick, Status};

/// Clicks of the cart's empty button before giving up on a cart that does
/// not empty.
const MAX_EMPTY_CLICKS: usize = 20;

/// Checkout pages one buy may pass through before it gives up: a checkout
/// that keeps going round is broken, not long.
pub const MAX_CHECKOUT_STEPS: usize = 12;

/// Times the same checkout page may be acted on in a row (a first try and
/// one more after a slow re-render) before the flow says it is stuck.
const MAX_SAME_PAGE: usize = 2;

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
    /// The store refused a submitted form and said why.
    FormError(String),
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
            Stop::FormError(said) => format!("the store says: {said}"),
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
            Stop::FormError(_) | Stop::Broken(_) => Outcome::failed(message, false),
            Stop::Launch(e) => Outcome::failed(message, e.is_transient()),
            Stop::Phase(_) => Outcome::failed(message, true),
        }
    }
}

/// Refuses a buy whose checkout pages need an owner value the config does
/// not have, before a browser starts.
fn missing_values(store: &StoreDef, checkout: &BTreeMap<String, String>) -> Option<String> {
    let missing: Vec<String> = store
        .checkout_keys()
        .into_iter()
        .filter(|k| !checkout.contains_key(k))
        .map(|k| format!("checkout.{k}"))
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "store `{}` needs {} in the config's checkout section",
            store.name,
            missing.join(", ")
        )
    })
}

/// One buy, start to end; the browser is closed before this returns (and
/// killed if the future is dropped).
pub(crate) async fn buy(
    settings: &BrowserSettings,
    store: &StoreDef,
    req: &BuyRequest,
    progress: &dyn BuyProgress,
) -> Outcome {
    if let Some(why) = missing_values(store, &settings.checkout) {
        return Outcome::failed(why, false);
    }
    if let Err(e) = progress.enter(Phase::Browsing).await {
        return Stop::Phase(e).outcome(false);
    }
    let session = match open(settings, &store.name, settings.headless).await {
        Ok(session) => session,
        Err(e) => return Stop::Launch(e).outcome(false),
    };
    let mut run = Run {
        tab: Tab::new(session.page(), settings.step_timeout).with_dismiss(&store.dismiss),
        store,
        req,
        progress,
        values: &settings.checkout,
        pages: store.checkout.effective(),
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
    /// The owner's checkout values.
    values: &'a BTreeMap<String, String>,
    /// The checkout pages the flow recognises.
    pages: Vec<Page>,
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
        self.product().await?;
        let price = self.choose_variants().await?;
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
    /// markers, which end the buy wherever they show; tells `--explain`
    /// what `step` saw.
    async fn expect(&self, step: &str, wants: Vec<Want>) -> Result<Seen, Stop> {
        let store = self.store;
        let mut all = non_empty(vec![
            Want::any("block", &store.block),
            Want::any("challenge", &store.challenge),
            Want::any("signed_out", &store.session.signed_out),
        ]);
        all.extend(wants);
        let seen = match self.tab.wait(&all).await {
            Ok(seen) => seen,
            Err(e) => {
                if let Some(missing) = e.missing() {
                    self.progress.explain(step, &missing.report);
                }
                return Err(e.into());
            }
        };
        self.progress.explain(step, &seen.report);
        match seen.name.as_str() {
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
        let seen = self.expect("product page", wants).await?;
        match seen.name.as_str() {
            "not_found" => return Err(Stop::NotFound(seen.href)),
            "out_of_stock" => return Err(Stop::OutOfStock(seen.href)),
            _ => {}
        }
        self.progress.step("product page");
        self.checked_price().await
    }

    /// Reads the price and holds it to the ceiling.
    async fn checked_price(&mut self) -> Result<Money, Stop> {
        let price = self.read_price().await?;
        self.price = Some(price);
        match self.req.ceiling {
            Some(ceiling) if price > ceiling => Err(Stop::OverCeiling { price, ceiling }),
            _ => Ok(price),
        }
    }

    /// The price element, read as a person reads it; else JSON-LD
    /// `offers.price` (structured data names one price, so it settles a
    /// text that shows several).
    async fn read_price(&self) -> Result<Money, Stop> {
        let reading = &self.store.product.price;
        let shown = self.tab.read(reading).await?;
        let from_page = shown.as_deref().map(|t| Money::read(t, reading.pick));
        if let Some(Ok(price)) = from_page {
            return Ok(price);
        }
        let blocks = self.tab.json_ld().await?;
        if let Some(price) = json_ld_price(&blocks).and_then(|t| Money::read(&t, Pick::Only).ok()) {
            return Ok(price);
        }
        Err(Stop::Broken(match from_page {
            Some(Err(e)) => format!(
                "cannot read the price: `{}`: {e}, and there is no JSON-LD offers.price",
                reading.selector
            ),
            _ => format!(
                "no price on the product page: `{}` shows {shown:?} and there is no JSON-LD offers.price",
                reading.selector
            ),
        }))
    }

    /// Chooses the catalog source's variants (pack size, count) on the
    /// product page, checks each choice took once the page has updated,
    /// and reads the price again: the ceiling holds for what is bought.
    async fn choose_variants(&mut self) -> Result<Money, Stop> {
        let page = &self.store.product;
        for (select, want) in &self.req.choices {
            self.tab.mark().await?;
            let chosen = self.tab.select(select, want).await?;
            // Stores re-render the product for a variant: a new document
            // (`?pack=`), a route, or in place.
            self.expect(&format!("choose {want:?}"), vec![Want::new_page()])
                .await?;
            self.expect(
                "product page",
                vec![
                    Want::any("price", &Markers::selector(&page.price.selector)),
                    Want::any("add_to_cart", &Markers::selector(&page.add_to_cart)),
                ],
            )
            .await?;
            let now = self.tab.select(select, want).await?;
            if now != chosen {
                return Err(Stop::Broken(format!(
                    "chose {chosen:?} in {select}, but after the page updated it shows {now:?}"
                )));
            }
            self.progress.step("variant chosen");
        }
        match (self.req.choices.is_empty(), self.price) {
            (true, Some(price)) => Ok(price),
            _ => self.checked_price().await,
        }
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
                .expect("cart", vec![empty, Want::selector("cart_item", &cart.item)])
                .await?;
            self.progress.step("cart");
            if seen.name == "cart_empty" {
                return Ok(());
            }
            self.tab.click(&cart.empty_button).await?;
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
        self.tab.click(&page.add_to_cart).await?;
        let added = if page.added.is_empty() {
            Want::new_page()
        } else {
            Want::fresh("added", &page.added)
        };
        self.expect("add to cart", vec![added]).await?;
        self.progress.step("added to cart");
        self.check_cart().await
    }

    async fn check_cart(&mut self) -> Result<(), Stop> {
        let cart = &self.store.cart;
        self.tab.goto(&self.store.cart_url()).await?;
        let seen = self
            .expect(
                "cart",
                vec![
                    Want::selector("cart_item", &cart.item),
                    Want::fresh("cart_empty", &cart.empty),
                ],
            )
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

    /// From the cart's checkout button to the review page through whatever
    /// checkout pages the store shows this time (see the module docs).
    async fn checkout(&mut self) -> Result<(), Stop> {
        let store = self.store;
        self.tab.click(&store.cart.checkout).await?;
        self.progress.step("checkout");
        // The page acted on last, whether its actions ended in a click,
        // and how often in a row it came back.
        let mut last: Option<(usize, bool)> = None;
        let mut same = 0;
        for _ in 0..MAX_CHECKOUT_STEPS {
            let mut wants = non_empty(vec![Want::fresh("form_error", &store.checkout.errors)]);
            for (i, page) in self.pages.iter().enumerate() {
                // A page whose actions did not click (a form on the review
                // page) is done once acted on: the review comes next.
                if last != Some((i, false)) {
                    wants.push(Want::fresh(format!("page {}", page.name), &page.marker));
                }
            }
            wants.push(Want::selector("review", &store.review.place_order));
            let seen = self.expect("checkout", wants).await?;
            match seen.name.as_str() {
                "review" => return Ok(()),
                "form_error" => return Err(Stop::FormError(self.form_error().await)),
                name => {
                    let page = name.trim_start_matches("page ");
                    let i = self.pages.iter().position(|p| p.name == page).unwrap_or(0);
                    same = if last.map(|(j, _)| j) == Some(i) {
                        same + 1
                    } else {
                        1
                    };
                    if same > MAX_SAME_PAGE {
                        return Err(Stop::Broken(format!(
                            "checkout stays on page `{}` after its actions ({})",
                            self.pages[i].name, seen.report
                        )));
                    }
                    let clicked = self.act(i).await?;
                    last = Some((i, clicked));
                }
            }
        }
        Err(Stop::Broken(format!(
            "checkout did not reach the review page within {MAX_CHECKOUT_STEPS} pages"
        )))
    }

    /// Does page `i`'s actions; whether one was a click.
    async fn act(&mut self, i: usize) -> Result<bool, Stop> {
        let page = self.pages[i].clone();
        let mut clicked = false;
        for action in &page.actions {
            match action {
                Action::Fill { selector, value } => {
                    let v = self.value(value)?;
                    self.tab.fill(selector, &v).await?;
                }
                Action::Select { selector, value } => {
                    let v = self.value(value)?;
                    self.tab.select(selector, &v).await?;
                }
                Action::Check { selector } | Action::Choose { selector } => {
                    self.tab.tick(selector).await?;
                }
                Action::Click { selector } => {
                    self.tab.click(selector).await?;
                    clicked = true;
                }
            }
        }
        self.progress.step(&format!("checkout page {}", page.name));
        Ok(clicked)
    }

    fn value(&self, value: &Value) -> Result<String, Stop> {
        match value {
            Value::Literal(text) => Ok(text.clone()),
            Value::Owner(key) => self.values.get(key).cloned().ok_or_else(|| {
                Stop::Broken(format!(
                    "store `{}` needs checkout.{key} in the config's checkout section",
                    self.store.name
                ))
            }),
        }
    }

    /// What the store's form error says.
    async fn form_error(&self) -> String {
        for m in &self.store.checkout.errors.0 {
            if let Some(sel) = &m.selector {
                if let Ok(Some(text)) = self.tab.read(&Reading::selector(sel)).await {
                    if !text.trim().is_empty() {
                        return crate::text::one_line(&text, 300);
                    }
                }
            }
            if let Some(text) = &m.text {
                return text.clone();
            }
        }
        "the form was refused".into()
    }

    /// Reads the review page's total.
    async fn review(&mut self) -> Result<Money, Stop> {
        let reading = &self.store.review.total;
        let wants = vec![Want::any("total", &Markers::selector(&reading.selector))];
        self.expect("review", wants).await?;
        let shown = self.tab.read(reading).await?;
        let total = match shown.as_deref().map(|t| Money::read(t, reading.pick)) {
            Some(Ok(total)) => total,
            Some(Err(e)) => {
                return Err(Stop::Broken(format!(
                    "cannot read the order total: `{}`: {e}",
                    reading.selector
                )))
            }
            None => {
                return Err(Stop::Broken(format!(
                    "cannot read the order total: `{}` is not on the page",
                    reading.selector
                )))
            }
        };
        self.total = Some(total);
        self.progress.step("review");
        Ok(total)
    }

    /// After `enter(Submitted)`: click, then read the confirmation.
    async fn place_order(&mut self) -> Result<Outcome, Stop> {
        let store = self.store;
        self.tab.click(&store.review.place_order).await?;
        self.progress.step("order placed");
        self.expect(
            "confirmation",
            vec![Want::fresh("confirmation", &store.confirmation.marker)],
        )
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

    /// The outcome with what was read along the way; for anything but
    /// `placed` / `dry_run` a screenshot, and where the page itself did not
    /// fit the definition (a step that timed out, a page that broke a
    /// rule, a refused form) the rendered HTML beside it, named in the
    /// message, for fixing the store definition.
    async fn finish(&self, result: Result<Outcome, Stop>) -> Outcome {
        let page_problem = matches!(
            &result,
            Err(Stop::Tab(_) | Stop::Broken(_) | Stop::FormError(_))
        );
        let mut outcome = result.unwrap_or_else(|stop| stop.outcome(self.submitted));
        outcome.price = outcome.price.or(self.price);
        outcome.total = outcome.total.or(self.total);
        if !matches!(outcome.status, Status::Placed | Status::DryRun) {
            let path = self.progress.screenshot_path(outcome.status.as_str());
            if page_problem {
                if let Some(html) = self.save_html(&path).await {
                    let message = outcome.message.take().unwrap_or_default();
                    outcome.message = Some(format!("{message} (page saved as {})", html.display()));
                }
            }
            outcome.screenshot = self.tab.save_screenshot(path).await;
        }
        outcome
    }

    /// The rendered page next to its screenshot (`.html`), for fixing a
    /// store definition; `None` (logged) when it could not be saved.
    async fn save_html(&self, screenshot: &Path) -> Option<PathBuf> {
        let path = screenshot.with_extension("html");
        let html = match self.tab.html().await {
            Ok(html) => html,
            Err(e) => {
                tracing::debug!(error = %e, "could not read the page's HTML");
                return None;
            }
        };
        if let Some(dir) = path.parent() {
            let _ = tokio::fs::create_dir_all(dir).await;
        }
        match tokio::fs::write(&path, html).await {
            Ok(()) => Some(path),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "could not save the page's HTML");
                None
            }
        }
    }
}
