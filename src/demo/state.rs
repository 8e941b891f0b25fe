//! The store's shared state: sessions with their carts and shipping data,
//! the ledger of placed orders, and the active faults.
//!
//! One `std::sync::Mutex` guards it all: every operation is a few map
//! lookups and never awaits while holding the lock, and a single lock makes
//! "place the order and empty the cart" one indivisible step.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::catalog::{self, Cents};
use super::faults::{FaultError, FaultPatch, Faults, Step};

/// The first order number handed out (`D-1001`).
const FIRST_ORDER: u64 = 1001;
/// Largest quantity one cart line may hold; keeps totals far from overflow.
pub const MAX_QTY: u32 = 99;

/// One order placed through the store.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LedgerEntry {
    pub order_number: String,
    pub items: Vec<LedgerLine>,
    /// Sum of price × qty, two decimals, no currency sign (`"12.98"`).
    pub total: String,
    pub name: String,
    pub address: String,
    pub postal_code: String,
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
}

/// Shipping details entered at checkout.
#[derive(Debug, Clone, PartialEq)]
pub struct Shipping {
    pub name: String,
    pub address: String,
    pub postal_code: String,
}

/// One cart line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CartLine {
    pub product: &'static catalog::Product,
    pub qty: u32,
}

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub email: String,
    pub cart: Vec<CartLine>,
    pub shipping: Option<Shipping>,
}

impl Session {
    fn add(&mut self, product: &'static catalog::Product, qty: u32) {
        match self.cart.iter_mut().find(|l| l.product.sku == product.sku) {
            Some(line) => line.qty = (line.qty + qty).min(MAX_QTY),
            None => self.cart.push(CartLine {
                product,
                qty: qty.min(MAX_QTY),
            }),
        }
    }
}

/// Why an order could not be placed; each maps to the page to go back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceError {
    SignedOut,
    EmptyCart,
    NoShipping,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<String, Session>,
    ledger: Vec<LedgerEntry>,
    orders_placed: u64,
    faults: Faults,
    /// The step of every request a hang fault has held, oldest first.
    hung: Vec<Step>,
}

/// The state every handler shares (behind an `Arc`).
#[derive(Debug, Default)]
pub struct Store {
    inner: Mutex<Inner>,
    /// Cancelled when the server stops; hung requests wait on it so a
    /// "hang" fault never keeps the server from shutting down.
    pub shutdown: CancellationToken,
}

impl Store {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic in a handler must not take the whole demo store down.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts a session for `email` and returns its cookie token.
    pub fn sign_in(&self, email: &str) -> String {
        let token = new_token();
        let session = Session {
            email: email.to_owned(),
            cart: Vec::new(),
            shipping: None,
        };
        self.lock().sessions.insert(token.clone(), session);
        token
    }

    /// A copy of the session behind `token`, if it is still live.
    pub fn session(&self, token: &str) -> Option<Session> {
        self.lock().sessions.get(token).cloned()
    }

    /// Runs `f` on the live session behind `token`.
    pub fn with_session<R>(&self, token: &str, f: impl FnOnce(&mut Session) -> R) -> Option<R> {
        self.lock().sessions.get_mut(token).map(f)
    }

    /// Adds `qty` of `product` to the session's cart.
    pub fn add_to_cart(&self, token: &str, product: &'static catalog::Product, qty: u32) -> bool {
        self.with_session(token, |s| s.add(product, qty)).is_some()
    }

    /// A snapshot of the active faults.
    pub fn faults(&self) -> Faults {
        self.lock().faults.clone()
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

    /// Records the session's cart as an order, at current prices, and
    /// empties the cart — in one critical section, so an order is recorded
    /// exactly once however the response fares afterwards.
    pub fn place(&self, token: &str) -> Result<LedgerEntry, PlaceError> {
        let mut inner = self.lock();
        let Inner {
            sessions,
            ledger,
            orders_placed,
            faults,
            ..
        } = &mut *inner;
        let session = sessions.get_mut(token).ok_or(PlaceError::SignedOut)?;
        if session.cart.is_empty() {
            return Err(PlaceError::EmptyCart);
        }
        let shipping = session.shipping.clone().ok_or(PlaceError::NoShipping)?;
        let priced: Vec<(CartLine, Cents)> = session
            .cart
            .drain(..)
            .map(|l| (l, faults.price_of(l.product)))
            .collect();
        let entry = LedgerEntry {
            order_number: format!("D-{}", FIRST_ORDER + *orders_placed),
            total: priced
                .iter()
                .map(|(l, p)| p.times(l.qty))
                .sum::<Cents>()
                .plain(),
            items: priced
                .iter()
                .map(|(l, p)| LedgerLine {
                    sku: l.product.sku.into(),
                    qty: l.qty,
                    price: p.plain(),
                })
                .collect(),
            name: shipping.name,
            address: shipping.address,
            postal_code: shipping.postal_code,
            placed_at: chrono::Utc::now().to_rfc3339(),
        };
        *orders_placed += 1;
        ledger.push(entry.clone());
        Ok(entry)
    }

    /// Every order placed since the last reset, oldest first.
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.lock().ledger.clone()
    }

    /// The ledger entry with this order number.
    pub fn order(&self, order_number: &str) -> Option<LedgerEntry> {
        self.lock()
            .ledger
            .iter()
            .find(|e| e.order_number == order_number)
            .cloned()
    }

    /// Clears faults, carts (with their shipping data), the ledger and the
    /// record of hung requests.
    /// Sessions survive, as do order numbers: they keep counting up so one
    /// number never names two different orders in a test run.
    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.faults = Faults::default();
        inner.ledger.clear();
        inner.hung.clear();
        for session in inner.sessions.values_mut() {
            session.cart.clear();
            session.shipping = None;
        }
    }

    /// Ends every session; returns how many there were.
    pub fn sign_out_all(&self) -> usize {
        std::mem::take(&mut self.lock().sessions).len()
    }

    /// Adds an item to every live session's cart; returns how many carts.
    pub fn plant(&self, product: &'static catalog::Product, qty: u32) -> usize {
        let mut inner = self.lock();
        inner
            .sessions
            .values_mut()
            .for_each(|s| s.add(product, qty));
        inner.sessions.len()
    }

    /// How many sessions are live.
    pub fn session_count(&self) -> usize {
        self.lock().sessions.len()
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

    #[test]
    fn tokens_are_long_and_distinct() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn placing_records_once_and_empties_the_cart() {
        let store = Store::default();
        let t = store.sign_in("a@example.com");
        assert_eq!(store.place(&t), Err(PlaceError::EmptyCart));
        store.add_to_cart(&t, soap(), 2);
        assert_eq!(store.place(&t), Err(PlaceError::NoShipping));
        store.with_session(&t, |s| {
            s.shipping = Some(Shipping {
                name: "A".into(),
                address: "B".into(),
                postal_code: "C".into(),
            })
        });
        let entry = store.place(&t).unwrap();
        assert_eq!(
            (entry.order_number.as_str(), entry.total.as_str()),
            ("D-1001", "6.58")
        );
        assert_eq!(store.place(&t), Err(PlaceError::EmptyCart));
        assert_eq!(store.ledger(), vec![entry]);
    }

    #[test]
    fn adding_the_same_sku_merges_lines_and_caps_qty() {
        let store = Store::default();
        let t = store.sign_in("a@example.com");
        store.add_to_cart(&t, soap(), 60);
        store.add_to_cart(&t, soap(), 60);
        let cart = store.session(&t).unwrap().cart;
        assert_eq!((cart.len(), cart[0].qty), (1, MAX_QTY));
    }
}
