//! Store definitions: a store is data, not code.
//!
//! A store definition is a TOML file naming the store's URLs and, per page of
//! the buy flow, the CSS selectors and text markers the shared flow
//! ([`super::buy`]) looks for. A user adds a store by writing a file, not by
//! recompiling; `examples/stores/example.toml` documents every key. This
//! file holds the definition and its loading; [`markers`] how markers and
//! readings are written, [`checkout`] the checkout pages and their actions.
//!
//! Decisions worth knowing:
//! - Unknown keys are errors (`deny_unknown_fields`): a typo in a selector's
//!   key must not silently disable a safety check such as `block`.
//! - A *marker* is a CSS selector (`"#challenge"`), a text (`{ text = "Just a
//!   moment" }`, matched case-insensitively against the page title and visible
//!   text), or both (an element matching the selector whose text contains the
//!   text). A selector marker only counts when the element is rendered, so a
//!   hidden "out of stock" template does not stop a buy. Every marker key
//!   takes one marker or a list (any one matching is enough).
//! - Paths (`signin_url`, `cart.url`, ...) resolve against `base_url` like
//!   links in a page: `/cart` is relative to the host, `cart` to `base_url`,
//!   and a full URL stays as written. A base-URL override (config) therefore
//!   moves the whole store, which is how the built-in `demo` store follows the
//!   demo storefront to whatever port it listens on.
//! - Checkout form values are never in the store file: an action's `value`
//!   names a key of the owner's checkout config (`name`, `address`, ...).
//! - `dismiss` buttons (cookie banners, pop-ups) are clicked whenever they
//!   show, on any page of any step.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de;
use serde::{Deserialize, Deserializer};
use url::Url;

mod checkout;
mod markers;

pub use checkout::{Action, CheckoutPages, Page, Value};
pub use markers::{Marker, Markers, Reading};

use crate::model::StoreZone;

/// The built-in definition of the demo storefront (`restock demo-store`).
pub const BUILTIN_DEMO: &str = include_str!("demo.toml");

/// Why store definitions could not be loaded. Each names the file (or
/// `built-in demo`) so the owner knows what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read store definitions from {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `key` is the dotted path of the offending key (`product.price`), or
    /// `(file)` when the problem is not tied to one key.
    #[error("store definition {file}: `{key}`: {problem}")]
    Invalid {
        file: String,
        key: String,
        problem: String,
    },
    #[error(
        "store `{name}` is defined twice: in {first} and in {second}; store names must be unique"
    )]
    Duplicate {
        name: String,
        first: String,
        second: String,
    },
    #[error("a base URL override names store `{0}`, which no store definition defines")]
    UnknownOverride(String),
}

/// Markers that tell whether the profile is signed in. Checked by the
/// session probe on `account_url`, and `signed_out` on every page of a buy
/// (a sign-in wall mid-checkout ends the buy as `signin_required`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionMarkers {
    pub signed_in: Markers,
    pub signed_out: Markers,
    /// The cookies that carry the sign-in; the earliest expiry among them
    /// is when the session ends. Empty: the probe learns them (present
    /// when signed in, gone when signed out).
    #[serde(default)]
    pub cookies: Vec<String>,
}

/// The sign-in form, for filling it programmatically (`restock demo`,
/// tests). Real stores are signed in by a human with `restock login`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigninForm {
    pub email: String,
    pub password: String,
    pub submit: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductPage {
    /// Falls back to JSON-LD `offers.price` when absent or unreadable.
    pub price: Reading,
    #[serde(default)]
    pub out_of_stock: Markers,
    #[serde(default)]
    pub not_found: Markers,
    /// The quantity input; without it only quantity 1 can be bought.
    pub quantity: Option<String>,
    pub add_to_cart: String,
    /// Shown after adding when the store adds without loading a new page;
    /// without it the flow waits for the next page to load.
    #[serde(default)]
    pub added: Markers,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CartPage {
    pub url: String,
    /// One line of the cart (counted: after adding there must be exactly one).
    pub item: String,
    /// Shown when the cart is empty.
    pub empty: Markers,
    /// Clicked until `empty` shows (a "remove" button removing one line per
    /// click works as well as an "empty cart" button).
    pub empty_button: String,
    pub checkout: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewPage {
    pub total: Reading,
    pub place_order: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmationPage {
    pub marker: Markers,
    /// Without it (or when it finds nothing) the order is still `placed`,
    /// with a note.
    pub order_id: Option<Reading>,
}

/// The order history, read to verify an order whose Place Order was
/// clicked but whose confirmation never showed (see `super::verify`).
/// Readings are taken inside one `row` (`:scope` is the row itself).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrdersPage {
    /// The order-history page; only ever navigated to and read.
    pub url: String,
    /// One order in the list.
    pub row: String,
    pub order_id: Reading,
    /// When the order was placed (RFC 3339 in an attribute, or a text in
    /// `date_format`, or one of the common formats).
    pub date: Reading,
    pub total: Reading,
    /// Optional: the order's item text; when read, it must name the item.
    pub items: Option<Reading>,
    /// Shown when there are no orders at all.
    #[serde(default)]
    pub empty: Markers,
    /// chrono `strftime` format of `date`, e.g. `%d %b %Y, %H:%M`.
    pub date_format: Option<String>,
    /// The time zone dates are printed in: `UTC`, `local` (default) or an
    /// offset like `+01:00`.
    #[serde(default, deserialize_with = "zone")]
    pub timezone: StoreZone,
}

fn zone<'de, D: Deserializer<'de>>(d: D) -> Result<StoreZone, D::Error> {
    String::deserialize(d)?.parse().map_err(de::Error::custom)
}

/// One store, as its definition file says.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreDef {
    /// Also the profile directory's name: lowercase letters, digits, `-`, `_`.
    pub name: String,
    pub base_url: Url,
    pub signin_url: String,
    /// A page that shows the signed-in or signed-out marker; the session
    /// probe only ever navigates here.
    pub account_url: String,
    /// Access-denied pages; checked on every page.
    #[serde(default)]
    pub block: Markers,
    /// Bot challenges ("Just a moment..."); checked on every page.
    #[serde(default)]
    pub challenge: Markers,
    pub session: SessionMarkers,
    pub signin_form: Option<SigninForm>,
    pub product: ProductPage,
    pub cart: CartPage,
    #[serde(default)]
    pub checkout: CheckoutPages,
    /// Cookie banners and pop-ups: each a button clicked whenever it
    /// shows during any step, so it never covers what the flow clicks.
    #[serde(default)]
    pub dismiss: Vec<String>,
    pub review: ReviewPage,
    pub confirmation: ConfirmationPage,
    /// Optional: without it an unconfirmed order stays `needs_review`
    /// for the owner to look up.
    pub orders: Option<OrdersPage>,
}

impl StoreDef {
    /// Parses and checks one definition; `source` names it in errors.
    pub fn from_toml(text: &str, source: &str) -> Result<StoreDef, StoreError> {
        let de =
            toml::Deserializer::parse(text).map_err(|e| toml_error(source, text, "(file)", e))?;
        let mut def: StoreDef = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            toml_error(source, text, &key, e.into_inner())
        })?;
        def.base_url = with_trailing_slash(def.base_url);
        def.validate()
            .map_err(|(key, problem)| StoreError::Invalid {
                file: source.to_string(),
                key: key.to_string(),
                problem,
            })?;
        Ok(def)
    }

    /// `path` resolved against `base_url` (checked at load, so this cannot
    /// fail for the definition's own paths).
    pub fn url(&self, path: &str) -> Url {
        self.base_url
            .join(path)
            .unwrap_or_else(|_| self.base_url.clone())
    }

    pub fn signin_url(&self) -> Url {
        self.url(&self.signin_url)
    }

    pub fn account_url(&self) -> Url {
        self.url(&self.account_url)
    }

    pub fn cart_url(&self) -> Url {
        self.url(&self.cart.url)
    }

    /// The order-history page, when the definition has one.
    pub fn orders_url(&self) -> Option<Url> {
        self.orders.as_ref().map(|o| self.url(&o.url))
    }

    /// Checkout config keys this store's checkout pages need.
    pub fn checkout_keys(&self) -> Vec<String> {
        self.checkout.owner_keys()
    }

    fn validate(&self) -> Result<(), (&'static str, String)> {
        check_name(&self.name).map_err(|p| ("name", p))?;
        if !matches!(self.base_url.scheme(), "http" | "https") {
            return Err(("base_url", "must be an http:// or https:// URL".into()));
        }
        let orders_url = self.orders.as_ref().map(|o| ("orders.url", &o.url));
        for (key, path) in [
            ("signin_url", &self.signin_url),
            ("account_url", &self.account_url),
            ("cart.url", &self.cart.url),
        ]
        .into_iter()
        .chain(orders_url)
        {
            self.base_url
                .join(path)
                .map_err(|e| (key, format!("`{path}` is not a URL or path: {e}")))?;
        }
        for (key, markers) in [
            ("session.signed_in", &self.session.signed_in),
            ("session.signed_out", &self.session.signed_out),
            ("cart.empty", &self.cart.empty),
            ("confirmation.marker", &self.confirmation.marker),
        ] {
            if markers.is_empty() {
                return Err((key, "needs at least one marker".into()));
            }
        }
        if let Some(format) = self.orders.as_ref().and_then(|o| o.date_format.as_deref()) {
            use chrono::format::{Item, StrftimeItems};
            if format.trim().is_empty()
                || StrftimeItems::new(format).any(|i| matches!(i, Item::Error))
            {
                return Err((
                    "orders.date_format",
                    format!("`{format}` is not a date format; write it like `%d %b %Y, %H:%M`"),
                ));
            }
        }
        if self.session.cookies.iter().any(|c| c.trim().is_empty()) {
            return Err(("session.cookies", "a cookie name is empty".into()));
        }
        self.validate_selectors()?;
        self.checkout.validate(&self.review.place_order)
    }

    fn validate_selectors(&self) -> Result<(), (&'static str, String)> {
        let mut selectors: Vec<(&'static str, &str)> = vec![
            ("product.price", &self.product.price.selector),
            ("product.add_to_cart", &self.product.add_to_cart),
            ("cart.item", &self.cart.item),
            ("cart.empty_button", &self.cart.empty_button),
            ("cart.checkout", &self.cart.checkout),
            ("review.total", &self.review.total.selector),
            ("review.place_order", &self.review.place_order),
        ];
        selectors.extend(
            self.product
                .quantity
                .as_deref()
                .map(|s| ("product.quantity", s)),
        );
        selectors.extend(
            self.checkout
                .continue_button
                .as_deref()
                .map(|s| ("checkout.continue", s)),
        );
        selectors.extend(
            self.confirmation
                .order_id
                .as_ref()
                .map(|r| ("confirmation.order_id", r.selector.as_str())),
        );
        selectors.extend(
            self.checkout
                .fields
                .values()
                .map(|s| ("checkout.fields", s.as_str())),
        );
        if let Some(o) = &self.orders {
            selectors.extend([
                ("orders.row", o.row.as_str()),
                ("orders.order_id", o.order_id.selector.as_str()),
                ("orders.date", o.date.selector.as_str()),
                ("orders.total", o.total.selector.as_str()),
            ]);
            selectors.extend(
                o.items
                    .as_ref()
                    .map(|r| ("orders.items", r.selector.as_str())),
            );
        }
        if let Some(form) = &self.signin_form {
            selectors.extend([
                ("signin_form.email", form.email.as_str()),
                ("signin_form.password", form.password.as_str()),
                ("signin_form.submit", form.submit.as_str()),
            ]);
        }
        selectors.extend(self.dismiss.iter().map(|s| ("dismiss", s.as_str())));
        match selectors.iter().find(|(_, s)| s.trim().is_empty()) {
            Some((key, _)) => Err((key, "selector is empty".into())),
            None => Ok(()),
        }
    }
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && !name.starts_with(['-', '_']);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid store name (it names the profile directory): \
             use lowercase letters, digits, `-` and `_`, at most 64 characters"
        ))
    }
}

/// Makes `join` treat the base's last path segment as a directory, as a user
/// writing `base_url = "https://shop.example/nl"` means.
fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

fn toml_error(file: &str, text: &str, key: &str, err: toml::de::Error) -> StoreError {
    let line = err
        .span()
        .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
    let problem = match line {
        Some(line) => format!("{} (line {line})", err.message().trim()),
        None => err.message().trim().to_string(),
    };
    let key = if key.is_empty() || key == "." {
        "(file)"
    } else {
        key
    };
    StoreError::Invalid {
        file: file.to_string(),
        key: key.to_string(),
        problem,
    }
}

// ---------------------------------------------------------------------------

/// Every store the service knows: the built-in `demo` plus one per
/// definition file. Shared read-only (`Arc`) by the factory.
#[derive(Debug, Clone, Default)]
pub struct StoreRegistry {
    stores: BTreeMap<String, (Arc<StoreDef>, String)>,
}

impl StoreRegistry {
    /// Only the built-in `demo` definition.
    pub fn builtin() -> StoreRegistry {
        let mut reg = StoreRegistry::default();
        let demo = StoreDef::from_toml(BUILTIN_DEMO, "built-in demo")
            .expect("the built-in demo definition is checked by a unit test");
        reg.stores
            .insert(demo.name.clone(), (Arc::new(demo), "built-in demo".into()));
        reg
    }

    /// The built-in `demo` plus every `*.toml` in `dir` (when given; a named
    /// directory that does not exist is an error, since the owner meant it),
    /// then `base_urls` (store name -> base URL) applied. Reads files with
    /// blocking I/O: call it at start-up or from `spawn_blocking`.
    pub fn load(
        dir: Option<&Path>,
        base_urls: &BTreeMap<String, Url>,
    ) -> Result<StoreRegistry, StoreError> {
        let mut reg = StoreRegistry::builtin();
        if let Some(dir) = dir {
            for path in definition_files(dir)? {
                let text = std::fs::read_to_string(&path).map_err(|source| StoreError::Read {
                    path: path.clone(),
                    source,
                })?;
                let source = path.display().to_string();
                reg.insert(StoreDef::from_toml(&text, &source)?, &source)?;
            }
        }
        for (name, url) in base_urls {
            reg.set_base_url(name, url.clone())?;
        }
        Ok(reg)
    }

    /// Adds a definition; `source` names it in a duplicate error.
    pub fn insert(&mut self, def: StoreDef, source: &str) -> Result<(), StoreError> {
        if let Some((_, first)) = self.stores.get(&def.name) {
            return Err(StoreError::Duplicate {
                name: def.name.clone(),
                first: first.clone(),
                second: source.to_string(),
            });
        }
        self.stores
            .insert(def.name.clone(), (Arc::new(def), source.to_string()));
        Ok(())
    }

    /// Points a store at another base URL (its paths move with it).
    pub fn set_base_url(&mut self, store: &str, url: Url) -> Result<(), StoreError> {
        let (def, _) = self
            .stores
            .get_mut(store)
            .ok_or_else(|| StoreError::UnknownOverride(store.to_string()))?;
        Arc::make_mut(def).base_url = with_trailing_slash(url);
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<Arc<StoreDef>> {
        self.stores.get(name).map(|(def, _)| Arc::clone(def))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.stores.keys().map(String::as_str)
    }
}

/// `*.toml` files in `dir`, sorted so errors and duplicates are reported the
/// same way on every start.
fn definition_files(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let read_err = |source| StoreError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_demo_parses() {
        let reg = StoreRegistry::builtin();
        let demo = reg.get("demo").unwrap();
        assert_eq!(demo.cart_url().path(), "/cart");
        assert!(demo.signin_form.is_some());
        assert!(demo.checkout_keys().iter().any(|k| k == "postal_code"));
    }

    #[test]
    fn example_definition_parses() {
        let text = include_str!("../../../examples/stores/example.toml");
        let def = StoreDef::from_toml(text, "example.toml").unwrap();
        assert_eq!(def.name, "example");
        assert_eq!(def.challenge.0.len(), 2);
        let orders = def.orders.as_ref().expect("the example documents [orders]");
        assert!(orders.items.is_some() && orders.date_format.is_some());
        assert!(!def.session.cookies.is_empty());
    }

    #[test]
    fn orders_are_optional_and_checked() {
        let demo = StoreRegistry::builtin().get("demo").unwrap();
        assert_eq!(demo.orders_url().unwrap().path(), "/orders");
        assert_eq!(demo.orders.as_ref().unwrap().timezone, StoreZone::Utc);
        let start = BUILTIN_DEMO.find("[orders]").unwrap();
        let without = &BUILTIN_DEMO[..start];
        assert!(StoreDef::from_toml(without, "shop.toml")
            .unwrap()
            .orders
            .is_none());
        let (_, key, problem) = invalid(&demo_with("timezone = \"UTC\"", "timezone = \"Mars\""));
        assert_eq!(key, "orders.timezone");
        assert!(problem.contains("time zone"), "{problem}");
        let (_, key, _) = invalid(&demo_with("row = \"tr.order-row\"", "row = \" \""));
        assert_eq!(key, "orders.row");
        let (_, key, _) = invalid(&demo_with("[orders]", "[orders]\ncolour = 1"));
        assert_eq!(key, "orders.colour");
    }

    #[test]
    fn override_moves_every_path() {
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "demo".to_string(),
            Url::parse("http://127.0.0.1:4321").unwrap(),
        );
        let reg = StoreRegistry::load(None, &overrides).unwrap();
        let demo = reg.get("demo").unwrap();
        assert_eq!(demo.signin_url().as_str(), "http://127.0.0.1:4321/signin");
        assert_eq!(demo.account_url().as_str(), "http://127.0.0.1:4321/account");
    }

    #[test]
    fn override_for_unknown_store_is_an_error() {
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "nope".to_string(),
            Url::parse("http://127.0.0.1:1").unwrap(),
        );
        let err = StoreRegistry::load(None, &overrides).unwrap_err();
        assert!(
            matches!(err, StoreError::UnknownOverride(ref n) if n == "nope"),
            "{err}"
        );
    }

    fn demo_with(from: &str, to: &str) -> String {
        assert!(BUILTIN_DEMO.contains(from), "{from}");
        BUILTIN_DEMO.replacen(from, to, 1)
    }

    fn invalid(text: &str) -> (String, String, String) {
        match StoreDef::from_toml(text, "shop.toml").unwrap_err() {
            StoreError::Invalid { file, key, problem } => (file, key, problem),
            other => panic!("unexpected error {other}"),
        }
    }

    #[test]
    fn unknown_key_names_file_and_key() {
        let (file, key, problem) = invalid(&demo_with("add_to_cart =", "add_to_krat ="));
        assert_eq!(file, "shop.toml");
        assert_eq!(key, "product.add_to_krat");
        assert!(problem.contains("unknown field"), "{problem}");
        assert!(problem.contains("line "), "{problem}");
    }

    #[test]
    fn wrong_type_names_key() {
        let (_, key, problem) = invalid(&demo_with(
            "place_order = \"#place-order\"",
            "place_order = 5",
        ));
        assert_eq!(key, "review.place_order");
        assert!(problem.contains("invalid type"), "{problem}");
    }

    #[test]
    fn missing_key_names_table() {
        let (_, key, problem) = invalid(&demo_with("place_order = \"#place-order\"", ""));
        assert_eq!(key, "review");
        assert!(problem.contains("place_order"), "{problem}");
    }

    #[test]
    fn bad_marker_table_is_explained() {
        let (_, key, problem) = invalid(&demo_with(
            "challenge = [",
            "challenge = [{ colour = \"red\" }, ",
        ));
        assert!(key.starts_with("challenge"), "{key}");
        assert!(problem.contains("colour"), "{problem}");
    }

    #[test]
    fn bad_name_and_syntax_are_errors() {
        let (_, key, problem) = invalid(&demo_with("name = \"demo\"", "name = \"My Shop\""));
        assert_eq!(key, "name");
        assert!(problem.contains("store name"), "{problem}");
        let (_, key, problem) = invalid("name = \"x\"\nbase_url = ");
        assert_eq!(key, "(file)");
        assert!(problem.contains("line 2"), "{problem}");
    }

    #[test]
    fn directory_loading_and_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.toml"),
            demo_with("name = \"demo\"", "name = \"shop-a\""),
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let reg = StoreRegistry::load(Some(dir.path()), &BTreeMap::new()).unwrap();
        assert_eq!(reg.names().collect::<Vec<_>>(), vec!["demo", "shop-a"]);

        std::fs::write(
            dir.path().join("b.toml"),
            demo_with("name = \"demo\"", "name = \"shop-a\""),
        )
        .unwrap();
        let err = StoreRegistry::load(Some(dir.path()), &BTreeMap::new()).unwrap_err();
        assert!(
            matches!(err, StoreError::Duplicate { ref name, .. } if name == "shop-a"),
            "{err}"
        );
        assert!(err.to_string().contains("b.toml"), "{err}");

        std::fs::write(dir.path().join("b.toml"), "name = 1").unwrap();
        let err = StoreRegistry::load(Some(dir.path()), &BTreeMap::new()).unwrap_err();
        assert!(
            err.to_string().contains("b.toml") && err.to_string().contains("`name`"),
            "{err}"
        );
    }

    #[test]
    fn missing_directory_is_an_error() {
        let err = StoreRegistry::load(Some(Path::new("/nonexistent/stores")), &BTreeMap::new())
            .unwrap_err();
        assert!(matches!(err, StoreError::Read { .. }), "{err}");
    }
}
