//! The store's shared state: sessions with their carts and shipping data,
//! the ledger of placed orders, the active faults and the store options.
//!
//! One `std::sync::Mutex` guards it all: every operation is a few map
//! lookups and never awaits while holding the lock, and a single lock makes
//! "place the order and empty the cart" one indivisible step.
//!
//! Sessions expire: each lives for the session TTL in force when it was
//! signed in (the cookie says the same), and a lookup of an expired session
//! forgets it, as a real shop's session store does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::catalog::{self, Pack};
use super::checkout::{self, Bill, Country, ShippingMethod};
use super::faults::{FaultError, FaultPatch, Faults, Step};
use super::options::{OptionsError, OptionsPatch, StoreOptions};

/// The first order number handed out (`D-1001`).
const FIRST_ORDER: u64 = 1001;
/// Largest quantity one cart line may hold; keeps totals far from overflow.
pub const MAX_QTY: u32 = 99;

/// One order placed through the store, as the admin API and
/// [`super::DemoStore::ledger`] report it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LedgerEntry {
    pub order_number: String,
    /// The signed-in email that placed it (whose order history shows it).
    #[serde(default)]
    pub email: String,
    pub items: Vec<LedgerLine>,
    /// What was charged: lines plus any shipping fee, two decimals, no
    /// currency sign (`"12.98"`).
    pub total: String,
    pub name: String,
    pub address: String,
    pub postal_code: String,
    /// ISO country code (`"DE"`).
    #[serde(default)]
    pub country: String,
    /// The chosen shipping method, where the checkout had one (spa).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_method: Option<String>,
    /// Its fee, two decimals (`"4.99"`), when there was a method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_fee: Option<String>,
    /// RFC 3339, UTC.
    pub placed_at: String,
}

/// One line of a placed order, at the price charged when it was placed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LedgerLine {
    pub sku: String,
    pub qty: u32,
    /// Unit price, two decimals, no currency sign (`"6.49"`).
    pub price: String,
    /// The pack size chosen (`"16-rolls"`), for products that have them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// Shipping details entered at checkout.
#[derive(Debug, Clone, PartialEq)]
pub struct Shipping {
    pub name: String,
    pub address: String,
    pub postal_code: String,
    pub country: &'static Country,
}

/// One cart line; `pack` is set exactly when the product has packs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CartLine {
    pub product: &'static catalog::Product,
    pub pack: Option<&'static Pack>,
    pub qty: u32,
}

impl CartLine {
    fn same_item(&self, other: &CartLine) -> bool {
        self.product.sku == other.product.sku && self.pack.map(|p| p.id) == other.pack.map(|p| p.id)
    }
}

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub email: String,
    /// The server-side cart (classic and alt; the spa keeps its cart in the
    /// browser and posts it).
    pub cart: Vec<CartLine>,
    /// The address entered at checkout; kept after an order, so a store
    /// with saved addresses can skip the form next time.
    pub shipping: Option<Shipping>,
    /// The payment page's Continue was pressed for the coming order.
    pub paid: bool,
    /// The number of this session's latest order (the spa's confirmation
    /// page reads it; it shows no number itself).
    pub last_order: Option<String>,
    expires: Instant,
}

impl Session {
    fn add(&mut self, line: CartLine) {
        match self.cart.iter_mut().find(|l| l.same_item(&line)) {
            Some(existing) => existing.qty = (existing.qty + line.qty).min(MAX_QTY),
            None => self.cart.push(CartLine {
                qty: line.qty.min(MAX_QTY),
                ..line
            }),
        }
    }

    fn live(&self, now: Instant) -> bool {
        now < self.expires
    }
}

/// A fresh sign-in: the token for the cookie and how long it lasts.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedIn {
    pub token: String,
    pub ttl: Duration,
    /// Wall-clock end of the session (for a cookie's `expires`).
    pub expires_at: SystemTime,
}

/// Why an order could not be placed; each maps to the page to go back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceError {
    SignedOut,
    EmptyCart,
    NoShipping,
    /// The store has a payment page and it was not completed.
    NoPayment,
}

/// Where the lines of an order come from.
#[derive(Debug, Clone)]
pub enum Basket {
    /// The session's server-side cart (emptied by placing).
    SessionCart,
    /// Lines the browser posted (the spa's localStorage cart).
    Posted(Vec<CartLine>),
}

/// What Place Order asks for.
#[derive(Debug, Clone)]
pub struct PlaceRequest {
    pub basket: Basket,
    /// Refuse unless the session passed the payment page.
    pub require_payment: bool,
    /// The chosen shipping method, for checkouts that have one.
    pub shipping: Option<&'static ShippingMethod>,
    /// The protection plan was accepted (never by a careful purchaser).
    pub protection: bool,
}

impl PlaceRequest {
    /// The classic/alt request: the session cart, no shipping method.
    pub fn session_cart(require_payment: bool) -> PlaceRequest {
        PlaceRequest {
            basket: Basket::SessionCart,
            require_payment,
            shipping: None,
            protection: false,
        }
    }
}

/// A placed order as the store keeps it (typed; [`LedgerEntry`] is its
/// text form).
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub number: String,
    pub email: String,
    pub bill: Bill,
    pub ship_to: Shipping,
    pub placed_at: DateTime<Utc>,
}

impl Order {
    /// The skus in the order (for faults scoped to them).
    pub fn skus(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.bill.lines.iter().map(|l| l.product.sku)
    }

    pub fn entry(&self) -> LedgerEntry {
        LedgerEntry {
            order_number: self.number.clone(),
            email: self.email.clone(),
            items: self
                .bill
                .lines
                .iter()
                .map(|l| LedgerLine {
                    sku: l.product.sku.into(),
                    qty: l.qty,
                    price: l.price.plain(),
                    variant: l.pack.map(|p| p.id.to_owned()),
                })
                .collect(),
            total: self.bill.total.plain(),
            name: self.ship_to.name.clone(),
            address: self.ship_to.address.clone(),
            postal_code: self.ship_to.postal_code.clone(),
            country: self.ship_to.country.code.into(),
            shipping_method: self.bill.shipping.map(|m| m.id.to_owned()),
            shipping_fee: self.bill.shipping.map(|m| m.fee.plain()),
            placed_at: self.placed_at.to_rfc3339(),
        }
    }
}

#[derive(Debug)]
struct Inner {
    sessions: HashMap<String, Session>,
    ledger: Vec<Order>,
    orders_placed: u64,
    faults: Faults,
    options: StoreOptions,
    /// The step of every request a hang fault has held, oldest first.
    hung: Vec<Step>,
}

impl Inner {
    /// The live session behind `token`; an expired one is forgotten.
    fn live(&mut self, token: &str) -> Option<&mut Session> {
        let now = Instant::now();
        if self.sessions.get(token).is_some_and(|s| !s.live(now)) {
            self.sessions.remove(token);
        }
        self.sessions.get_mut(token)
    }

    fn forget_expired(&mut self) {
        let now = Instant::now();
        self.sessions.retain(|_, s| s.live(now));
    }
}

/// The state every handler shares (behind an `Arc`).
#[derive(Debug)]
pub struct Store {
    inner: Mutex<Inner>,
    /// The options the store started with; `reset` goes back to them.
    started_with: StoreOptions,
    /// Cancelled when the server stops; hung requests wait on it so a
    /// "hang" fault never keeps the server from shutting down.
    pub shutdown: CancellationToken,
}

impl Default for Store {
    fn default() -> Self {
        Store::new(StoreOptions::default())
    }
}

impl Store {
    /// A store with no sessions or orders, shaped by `options` (validated
    /// by the caller).
    pub fn new(options: StoreOptions) -> Store {
        Store {
            inner: Mutex::new(Inner {
                sessions: HashMap::new(),
                ledger: Vec::new(),
                orders_placed: 0,
                faults: Faults::default(),
                options,
                hung: Vec::new(),
            }),
            started_with: options,
            shutdown: CancellationToken::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic in a handler must not take the whole demo store down.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts a session for `email`, lasting the current session TTL.
    pub fn sign_in(&self, email: &str) -> SignedIn {
        let token = new_token();
        let mut inner = self.lock();
        inner.forget_expired();
        let ttl = inner.options.session_ttl;
        let session = Session {
            email: email.to_owned(),
            cart: Vec::new(),
            shipping: None,
            paid: false,
            last_order: None,
            expires: Instant::now() + ttl,
        };
        inner.sessions.insert(token.clone(), session);
        SignedIn {
            token,
            ttl,
            expires_at: SystemTime::now() + ttl,
        }
    }

    /// Ends one session; true if it was live.
    pub fn sign_out(&self, token: &str) -> bool {
        let mut inner = self.lock();
        inner.live(token).is_some() && inner.sessions.remove(token).is_some()
    }

    /// A copy of the session behind `token`, if it is still live.
    pub fn session(&self, token: &str) -> Option<Session> {
        self.lock().live(token).cloned()
    }

    /// Runs `f` on the live session behind `token`.
    pub fn with_session<R>(&self, token: &str, f: impl FnOnce(&mut Session) -> R) -> Option<R> {
        self.lock().live(token).map(f)
    }

    /// Adds `qty` of `product` (in `pack`) to the session's cart.
    pub fn add_to_cart(
        &self,
        token: &str,
        product: &'static catalog::Product,
        pack: Option<&'static Pack>,
        qty: u32,
    ) -> bool {
        let line = CartLine { product, pack, qty };
        self.with_session(token, |s| s.add(line)).is_some()
    }

    /// A snapshot of the active faults.
    pub fn faults(&self) -> Faults {
        self.lock().faults.clone()
    }

    /// The store's current shape.
    pub fn options(&self) -> StoreOptions {
        self.lock().options
    }

    /// Merges an options patch; a refused patch changes nothing.
    pub fn set_options(&self, patch: &OptionsPatch) -> Result<StoreOptions, OptionsError> {
        let mut inner = self.lock();
        inner.options = inner.options.patched(patch)?;
        Ok(inner.options)
    }

    /// Notes that a request for `step` is being held by a hang fault.
    pub fn note_hang(&self, step: Step) {
        self.lock().hung.push(step);
    }

    /// The step of every request a hang fault has held since the last
    /// reset, oldest first: a test can tell the flow really reached the
    /// hung step before it breaks something.
    pub fn hung(&self) -> Vec<Step> {
        self.lock().hung.clone()
    }

    /// Merges a fault patch and returns the resulting faults.
    pub fn apply_faults(&self, patch: FaultPatch) -> Result<Faults, FaultError> {
        let mut inner = self.lock();
        inner.faults.apply(patch)?;
        Ok(inner.faults.clone())
    }

    /// Records an order at current prices — from the session's cart (then
    /// emptied) or from posted lines — in one critical section, so an order
    /// is recorded exactly once however the response fares afterwards.
    /// The session's address is kept; its payment confirmation is used up.
    pub fn place(&self, token: &str, req: PlaceRequest) -> Result<Order, PlaceError> {
        let mut inner = self.lock();
        let number = format!("D-{}", FIRST_ORDER + inner.orders_placed);
        let faults = inner.faults.clone();
        let session = inner.live(token).ok_or(PlaceError::SignedOut)?;
        let cart = match &req.basket {
            Basket::SessionCart => session.cart.clone(),
            Basket::Posted(lines) => lines.clone(),
        };
        if cart.is_empty() {
            return Err(PlaceError::EmptyCart);
        }
        let ship_to = session.shipping.clone().ok_or(PlaceError::NoShipping)?;
        if req.require_payment && !session.paid {
            return Err(PlaceError::NoPayment);
        }
        if matches!(req.basket, Basket::SessionCart) {
            session.cart.clear();
        }
        session.paid = false;
        session.last_order = Some(number.clone());
        let email = session.email.clone();
        let lines = checkout::priced_with_protection(&cart, &faults, req.protection);
        let order = Order {
            number,
            email,
            bill: Bill::new(lines, req.shipping),
            ship_to,
            placed_at: Utc::now(),
        };
        inner.orders_placed += 1;
        inner.ledger.push(order.clone());
        Ok(order)
    }

    /// Every order placed since the last reset, oldest first.
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.lock().ledger.iter().map(Order::entry).collect()
    }

    /// The order with this number.
    pub fn order(&self, number: &str) -> Option<Order> {
        self.lock()
            .ledger
            .iter()
            .find(|o| o.number == number)
            .cloned()
    }

    /// The orders `email` placed (since the last reset), newest first.
    pub fn orders_of(&self, email: &str) -> Vec<Order> {
        self.lock()
            .ledger
            .iter()
            .rev()
            .filter(|o| o.email == email)
            .cloned()
            .collect()
    }

    /// Clears faults, carts (with their shipping data and payment state),
    /// the ledger and the record of hung requests, and restores the options
    /// the store started with. Sessions survive, as do order numbers: they
    /// keep counting up so one number never names two different orders in
    /// a test run.
    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.faults = Faults::default();
        inner.options = self.started_with;
        inner.ledger.clear();
        inner.hung.clear();
        for session in inner.sessions.values_mut() {
            session.cart.clear();
            session.shipping = None;
            session.paid = false;
            session.last_order = None;
        }
    }

    /// Ends every session; returns how many there were.
    pub fn sign_out_all(&self) -> usize {
        let mut inner = self.lock();
        inner.forget_expired();
        std::mem::take(&mut inner.sessions).len()
    }

    /// Adds an item (its default pack) to every live session's cart;
    /// returns how many carts.
    pub fn plant(&self, product: &'static catalog::Product, qty: u32) -> usize {
        let mut inner = self.lock();
        inner.forget_expired();
        let line = CartLine {
            product,
            pack: product.default_pack(),
            qty,
        };
        inner.sessions.values_mut().for_each(|s| s.add(line));
        inner.sessions.len()
    }

    /// How many sessions are live.
    pub fn session_count(&self) -> usize {
        let mut inner = self.lock();
        inner.forget_expired();
        inner.sessions.len()
    }
}

/// A 128-bit session token, hex-encoded.
///
/// `RandomState` is seeded from the OS's randomness, so hashing a counter
/// and the clock with two fresh instances gives unguessable tokens without
/// pulling in a random-number crate. A demo store needs no more than that.
fn new_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    (0..2u8)
        .map(|half| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(n);
            h.write_u128(now);
            h.write_u8(half);
            format!("{:016x}", h.finish())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn soap() -> &'static catalog::Product {
        catalog::product("dish-soap").unwrap()
    }

    fn ship(store: &Store, token: &str) {
        store.with_session(token, |s| {
            s.shipping = Some(Shipping {
                name: "A".into(),
                address: "B".into(),
                postal_code: "C".into(),
                country: checkout::DEFAULT_COUNTRY,
            })
        });
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn placing_records_once_and_empties_the_cart() {
        let store = Store::default();
        let t = store.sign_in("a@example.com").token;
        let place = || store.place(&t, PlaceRequest::session_cart(false));
        assert_eq!(place(), Err(PlaceError::EmptyCart));
        store.add_to_cart(&t, soap(), None, 2);
        assert_eq!(place(), Err(PlaceError::NoShipping));
        ship(&store, &t);
        let entry = place().unwrap().entry();
        assert_eq!(
            (entry.order_number.as_str(), entry.total.as_str()),
            ("D-1001", "6.58")
        );
        assert_eq!(entry.email, "a@example.com");
        assert_eq!(place(), Err(PlaceError::EmptyCart));
        assert_eq!(store.ledger(), vec![entry]);
        assert!(
            store.session(&t).unwrap().shipping.is_some(),
            "the address is kept"
        );
    }

    #[test]
    fn adding_the_same_sku_merges_lines_and_caps_qty() {
        let store = Store::default();
        let t = store.sign_in("a@example.com").token;
        store.add_to_cart(&t, soap(), None, 60);
        store.add_to_cart(&t, soap(), None, 60);
        let cart = store.session(&t).unwrap().cart;
        assert_eq!((cart.len(), cart[0].qty), (1, MAX_QTY));
    }

    #[test]
    fn packs_of_one_product_are_separate_lines() {
        let store = Store::default();
        let t = store.sign_in("a@example.com").token;
        let towels = catalog::product("paper-towels").unwrap();
        store.add_to_cart(&t, towels, towels.pack(None).unwrap(), 1);
        store.add_to_cart(&t, towels, towels.pack(Some("16-rolls")).unwrap(), 2);
        store.add_to_cart(&t, towels, towels.pack(Some("16-rolls")).unwrap(), 1);
        ship(&store, &t);
        let entry = store
            .place(&t, PlaceRequest::session_cart(false))
            .unwrap()
            .entry();
        let lines: Vec<_> = entry
            .items
            .iter()
            .map(|l| (l.variant.as_deref(), l.qty, l.price.as_str()))
            .collect();
        assert_eq!(
            lines,
            vec![(Some("8-rolls"), 1, "6.49"), (Some("16-rolls"), 3, "11.99")]
        );
        assert_eq!(entry.total, "42.46");
    }

    #[test]
    fn payment_is_required_when_asked_and_used_up_by_an_order() {
        let store = Store::default();
        let t = store.sign_in("a@example.com").token;
        store.add_to_cart(&t, soap(), None, 1);
        ship(&store, &t);
        assert_eq!(
            store.place(&t, PlaceRequest::session_cart(true)),
            Err(PlaceError::NoPayment)
        );
        store.with_session(&t, |s| s.paid = true);
        store.place(&t, PlaceRequest::session_cart(true)).unwrap();
        assert!(!store.session(&t).unwrap().paid);
    }

    #[test]
    fn expired_sessions_are_forgotten() {
        let store = Store::default();
        let t = store.sign_in("a@example.com").token;
        store.with_session(&t, |s| s.expires = Instant::now());
        assert!(store.session(&t).is_none());
        assert_eq!(store.session_count(), 0);
        let u = store.sign_in("b@example.com");
        assert_eq!(u.ttl, super::super::options::DEFAULT_SESSION_TTL);
        assert!(store.sign_out(&u.token) && !store.sign_out(&u.token));
    }

    #[test]
    fn order_history_is_per_email_newest_first() {
        let store = Store::default();
        let a = store.sign_in("a@example.com").token;
        let b = store.sign_in("b@example.com").token;
        for t in [&a, &b, &a] {
            store.add_to_cart(t, soap(), None, 1);
            ship(&store, t);
            store.place(t, PlaceRequest::session_cart(false)).unwrap();
        }
        let numbers: Vec<String> = store
            .orders_of("a@example.com")
            .into_iter()
            .map(|o| o.number)
            .collect();
        assert_eq!(numbers, ["D-1003", "D-1001"]);
    }
}
