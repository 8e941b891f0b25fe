//! The built-in demo store: starting one, its admin API and faults, demo
//! catalogs, and the real browser purchaser pointed at it (settings,
//! signing the demo profile in, the factory `serve` builds).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use restock::demo::{DemoStore, StoreOptions, DEMO_EMAIL, DEMO_PASSWORD};
use restock::model::SessionState;
use restock::purchase::{BrowserFactory, BrowserSettings, StoreRegistry};
use restock::server::{self, Parts, Running};
use serde_json::Value;
use url::Url;

use super::env::Env;
use super::receivers::free_addr;

/// The checkout details the purchaser fills in.
pub const CHECKOUT: [(&str, &str); 4] = [
    ("name", "Ada Lovelace"),
    ("address", "1 Analytical Way"),
    ("postal_code", "1234 AB"),
    ("country", "Germany"),
];

/// A demo store on a free loopback port.
pub async fn store() -> DemoStore {
    store_with(StoreOptions::default()).await
}

pub async fn store_with(options: StoreOptions) -> DemoStore {
    DemoStore::spawn_with("127.0.0.1:0".parse().unwrap(), options)
        .await
        .unwrap()
}

/// `POST /admin/<path>`: the status and the JSON answer (`null` if none).
pub async fn admin_post(store: &DemoStore, path: &str, body: Value) -> (StatusCode, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/admin/{path}", store.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// `POST /admin/<path>`, which must answer 200; its JSON answer.
pub async fn admin(store: &DemoStore, path: &str, body: Value) -> Value {
    let (status, answer) = admin_post(store, path, body).await;
    assert_eq!(status, StatusCode::OK, "admin {path}: {answer}");
    answer
}

/// `GET /admin/<path>`, which must answer 200; its JSON answer.
pub async fn admin_get(store: &DemoStore, path: &str) -> Value {
    let resp = reqwest::get(format!("{}/admin/{path}", store.base_url()))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

/// Sets a fault (`POST /admin/faults`); the faults now in force.
pub async fn fault(store: &DemoStore, body: Value) -> Value {
    admin(store, "faults", body).await
}

/// A catalog whose items buy from the demo store at `base`: `(id, [product
/// paths])`.
pub fn demo_catalog(base: &str, items: &[(&str, &[&str])]) -> String {
    let items: Vec<(&str, Vec<String>)> = items
        .iter()
        .map(|(id, paths)| (*id, paths.iter().map(|p| p.to_string()).collect()))
        .collect();
    demo_catalog_on("demo", base, &items)
}

/// A catalog whose items buy from `store` at `base`: `(id, [product
/// paths])`.
pub fn demo_catalog_on(store: &str, base: &str, items: &[(&str, Vec<String>)]) -> String {
    let mut out = String::new();
    for (id, paths) in items {
        out.push_str(&format!("[[item]]\nid = \"{id}\"\n"));
        for p in paths {
            out.push_str(&format!(
                "[[item.source]]\nstore = \"{store}\"\nurl = \"{base}{p}\"\n"
            ));
        }
    }
    out
}

/// A demo store and an env pointed at it ([`Env::use_demo`]) with one
/// item, `soap`, its dish soap: the set-up of the tests of one buy, one
/// sign-in or one page against the demo store.
pub async fn soap_env() -> (DemoStore, Env) {
    let demo = store().await;
    let mut env = Env::new(&[]);
    env.use_demo(&demo.base_url(), &[("soap", &["/product/dish-soap"])]);
    (demo, env)
}

/// Browser settings with profiles and screenshots under `dir`, the built-in
/// `demo` store pointed at `store`, the [`CHECKOUT`] details, and `extra`
/// store definitions `(name, TOML, base URL)`.
pub fn browser_settings(
    dir: &Path,
    store: &DemoStore,
    extra: &[(&str, &str, Url)],
) -> BrowserSettings {
    let stores_dir = dir.join("stores");
    std::fs::create_dir_all(&stores_dir).unwrap();
    let mut overrides = BTreeMap::new();
    overrides.insert("demo".to_string(), Url::parse(&store.base_url()).unwrap());
    for (name, definition, base) in extra {
        std::fs::write(stores_dir.join(format!("{name}.toml")), definition).unwrap();
        overrides.insert(name.to_string(), base.clone());
    }
    let registry = StoreRegistry::load(Some(&stores_dir), &overrides).unwrap();
    let mut settings =
        BrowserSettings::new(dir.join("profiles"), dir.join("shots"), Arc::new(registry));
    settings.checkout = CHECKOUT
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    settings
}

/// Signs the profile of `store` in through the store's form.
pub async fn sign_in(settings: &BrowserSettings, store: &str) {
    let state = restock::purchase::sign_in_with_form(settings, store, DEMO_EMAIL, DEMO_PASSWORD)
        .await
        .unwrap();
    assert_eq!(state, SessionState::SignedIn);
}

impl Env {
    /// Points this env at a running demo store with checkout details, dry
    /// run off, and a catalog of `items` (see [`demo_catalog`]).
    pub fn use_demo(&mut self, base: &str, items: &[(&str, &[&str])]) {
        std::fs::write(&self.config.catalog, demo_catalog(base, items)).unwrap();
        self.config
            .store_urls
            .insert("demo".into(), base.to_string());
        self.config.stores_dir = Some(self.dir.path().join("stores"));
        std::fs::create_dir_all(self.dir.path().join("stores")).unwrap();
        for (k, v) in CHECKOUT {
            self.config.checkout.insert(k.into(), v.into());
        }
        self.config.dry_run = false;
        self.config.buy_timeout = Duration::from_secs(60);
        self.config.stall_after = Some(Duration::from_secs(60));
    }

    /// An env whose catalog buys `towels` from the demo store's product
    /// page at an address nothing answers (nothing is bought), listening on
    /// a free port: for the reports (`status`, `doctor`) that read the
    /// demo store's definition but never reach it.
    pub fn with_unreachable_demo() -> Env {
        let mut env = Env::new(&[]);
        std::fs::write(
            &env.config.catalog,
            demo_catalog("http://127.0.0.1:9", &[("towels", &["/product/towels"])]),
        )
        .unwrap();
        env.config.listen = free_addr();
        env
    }

    /// In-process `restock serve` on this env with the real browser
    /// purchaser ([`Env::browser_parts`]).
    pub async fn start_browser(&self) -> Running {
        server::start(&self.config, self.browser_parts())
            .await
            .unwrap()
    }

    /// Signs the demo profile in through the store's form.
    pub async fn sign_in_demo(&self) {
        let settings = restock::purchase::settings_from_config(&self.config).unwrap();
        sign_in(&settings, "demo").await;
    }

    /// The real browser factory, as `serve` builds it.
    pub fn browser_parts(&self) -> Parts {
        let settings = restock::purchase::settings_from_config(&self.config).unwrap();
        let known = settings.stores.names().map(str::to_string).collect();
        let settings = Arc::new(settings);
        let mut parts = Parts::new(Arc::new(BrowserFactory::new(settings.clone())));
        parts.known_stores = Some(known);
        parts.browser = Some(settings);
        parts
    }
}
