//! The demo store's layouts a browser test runs against: `classic`
//! (server-rendered, the built-in `demo` definition) and `spa` (the
//! client-side router under `/spa/`, `examples/stores/demo-spa.toml`).
//! Everything a test needs that differs between them is here: the store
//! definition's name and text, where it is mounted, the product URLs, and
//! what the shop can show.

use std::fmt;

use restock::demo::DemoStore;
use url::Url;

use super::demo::{demo_catalog_on, sign_in};
use super::env::Env;

/// One layout of the demo store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Classic,
    Spa,
}

/// The built-in definition of the classic layout.
pub const CLASSIC_DEFINITION: &str = include_str!("../../src/purchase/store/demo.toml");
/// The example definition of the spa layout.
pub const SPA_DEFINITION: &str = include_str!("../../examples/stores/demo-spa.toml");

impl Layout {
    /// What test names and messages call it.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Classic => "classic",
            Layout::Spa => "spa",
        }
    }

    /// The store definition that drives it.
    pub fn store(self) -> &'static str {
        match self {
            Layout::Classic => "demo",
            Layout::Spa => "demo-spa",
        }
    }

    /// Its definition's text.
    pub fn definition(self) -> &'static str {
        match self {
            Layout::Classic => CLASSIC_DEFINITION,
            Layout::Spa => SPA_DEFINITION,
        }
    }

    /// Where it is mounted on the demo store at `base` (no trailing slash).
    pub fn base_url(self, base: &str) -> Url {
        let mount = match self {
            Layout::Classic => "/",
            Layout::Spa => "/spa/",
        };
        Url::parse(&format!("{base}{mount}")).unwrap()
    }

    /// The product page of `sku`, as a path on the demo store.
    pub fn product_path(self, sku: &str) -> String {
        match self {
            Layout::Classic => format!("/product/{sku}"),
            Layout::Spa => format!("/spa/product/{sku}"),
        }
    }

    /// The product page of `sku` on `demo`.
    pub fn product_url(self, demo: &DemoStore, sku: &str) -> String {
        match self {
            Layout::Classic => demo.product_url(sku),
            Layout::Spa => demo.spa_product_url(sku),
        }
    }

    /// Whether its confirmation page shows an order number. The spa's does
    /// not (as many client-side shops): the number is only in its order
    /// history, so a buy there is `placed` with no order reference and a
    /// note saying so.
    pub fn shows_order_number(self) -> bool {
        match self {
            Layout::Classic => true,
            Layout::Spa => false,
        }
    }
}

impl Layout {
    /// Checks an order's reference as the buy recorded it (`order_ref`,
    /// `message`) against the store's order numbers: one of them where
    /// the confirmation shows it, else none and a note saying so.
    pub fn assert_order_ref(
        self,
        what: &str,
        order_ref: Option<&str>,
        message: Option<&str>,
        numbers: &[String],
    ) {
        if self.shows_order_number() {
            assert!(
                order_ref.is_some_and(|r| numbers.iter().any(|n| n == r)),
                "{self}: {what}: order ref {order_ref:?}, the store's numbers {numbers:?}"
            );
        } else {
            assert_no_order_number(&format!("{self}: {what}"), order_ref, message);
        }
    }
}

/// Placed without an order reference, and saying so: what a confirmation
/// without an order number gives.
pub fn assert_no_order_number(what: &str, order_ref: Option<&str>, message: Option<&str>) {
    assert_eq!(order_ref, None, "{what}: {message:?}");
    assert!(
        message.unwrap_or("").contains("no order number"),
        "{what}: {message:?}"
    );
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Env {
    /// [`Env::use_demo`] for `layout`: its definition in the stores dir
    /// (the classic one is built in), pointed at `demo`, and a catalog of
    /// `items` `(id, [skus])` buying from its product pages.
    pub fn use_layout(&mut self, demo: &DemoStore, layout: Layout, items: &[(&str, &[&str])]) {
        let base = demo.base_url();
        self.use_demo(&base, &[]);
        let items: Vec<(&str, Vec<String>)> = items
            .iter()
            .map(|(id, skus)| (*id, skus.iter().map(|s| layout.product_path(s)).collect()))
            .collect();
        std::fs::write(
            &self.config.catalog,
            demo_catalog_on(layout.store(), &base, &items),
        )
        .unwrap();
        if layout != Layout::Classic {
            let stores = self.config.stores_dir.clone().expect("use_demo sets it");
            std::fs::write(
                stores.join(format!("{}.toml", layout.store())),
                layout.definition(),
            )
            .unwrap();
            self.config
                .store_urls
                .insert(layout.store().into(), layout.base_url(&base).to_string());
        }
    }

    /// Signs the profile of `layout`'s store in through its sign-in form.
    pub async fn sign_in_layout(&self, layout: Layout) {
        let settings = restock::purchase::settings_from_config(&self.config).unwrap();
        sign_in(&settings, layout.store()).await;
    }
}

/// Runs each named test on every layout: for `async fn NAME(layout:
/// Layout)` it makes the tests `classic::NAME` and `spa::NAME`, so a
/// failure names its layout and `cargo test spa::` runs one layout.
#[macro_export]
macro_rules! layout_tests {
    ($($test:ident),+ $(,)?) => {
        mod classic {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::support::layout::Layout::Classic).await
                }
            )+
        }
        mod spa {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::support::layout::Layout::Spa).await
                }
            )+
        }
    };
}
