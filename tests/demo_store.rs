//! The demo storefront, driven over real HTTP on loopback.
//!
//! Redirects are not followed automatically: each test asserts the 303s
//! the purchaser will see, and carries the `demo_session` cookie by hand.

mod support;

use std::time::Duration;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use restock::demo::{
    DemoError, DemoStore, LedgerEntry, LedgerLine, StoreOptions, DEMO_EMAIL, DEMO_PASSWORD,
};
use serde_json::{json, Value};
use support::demo::{admin, admin_get, admin_post, fault, store, store_with};
use support::env::bare;
use support::intake::get_json;
use support::wait::{poll, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A page as the test saw it.
struct Page {
    status: StatusCode,
    location: Option<String>,
    set_cookie: Option<String>,
    body: String,
}

impl Page {
    async fn from(resp: reqwest::Response) -> Page {
        let header = |name| {
            resp.headers()
                .get(name)
                .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_owned())
        };
        let (location, set_cookie) = (header(LOCATION), header(SET_COOKIE));
        Page {
            status: resp.status(),
            location,
            set_cookie,
            body: resp.text().await.unwrap(),
        }
    }

    /// Asserts a 303 to `path` and returns self for chaining.
    fn redirects_to(&self, path: &str) -> &Page {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "body: {}", self.body);
        assert_eq!(self.location.as_deref(), Some(path));
        self
    }

    fn has(&self, needle: &str) -> bool {
        self.body.contains(needle)
    }
}

/// A minimal browser: one store, one optional session cookie.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

impl Browser {
    fn new(store: &DemoStore) -> Browser {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser {
            http,
            base: store.base_url(),
            cookie: None,
        }
    }

    fn with_cookie(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.cookie {
            Some(c) => req.header(COOKIE, format!("demo_session={c}")),
            None => req,
        }
    }

    async fn get(&self, path: &str) -> Page {
        let req = self.with_cookie(self.http.get(format!("{}{path}", self.base)));
        Page::from(req.send().await.unwrap()).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self.with_cookie(self.http.post(format!("{}{path}", self.base)).form(form));
        Page::from(req.send().await.unwrap()).await
    }

    /// Signs in through `path` with the given field names; keeps the cookie.
    async fn sign_in_at(&mut self, path: &str, fields: (&str, &str)) -> Page {
        let page = self
            .post(path, &[(fields.0, DEMO_EMAIL), (fields.1, DEMO_PASSWORD)])
            .await;
        self.keep_cookie(&page);
        page
    }

    async fn sign_in(&mut self) -> Page {
        self.sign_in_at("/signin", ("email", "password")).await
    }

    /// Signs in on the classic layout as `email`; keeps the cookie.
    async fn sign_in_as(&mut self, email: &str) -> Page {
        let page = self
            .post("/signin", &[("email", email), ("password", DEMO_PASSWORD)])
            .await;
        self.keep_cookie(&page);
        page
    }

    /// Keeps the session cookie a sign-in set.
    fn keep_cookie(&mut self, page: &Page) {
        let set_cookie = page.set_cookie.as_deref().expect("sign-in sets a cookie");
        let pair = set_cookie.split(';').next().unwrap();
        self.cookie = Some(pair.strip_prefix("demo_session=").unwrap().to_owned());
    }

    /// Adds `qty` of `sku` to the cart (answered with a 303 to the cart).
    async fn add(&self, sku: &str, qty: &str) {
        self.post("/cart/add", &[("sku", sku), ("qty", qty)])
            .await
            .redirects_to("/cart");
    }

    /// Places the order in the cart, which gets order number `number`.
    async fn place(&self, number: &str) {
        self.post("/place", &[])
            .await
            .redirects_to(&format!("/confirmation/{number}"));
    }

    /// Signs in, adds `qty` of `sku`, and enters shipping details.
    async fn fill_cart_and_ship(&mut self, sku: &str, qty: &str) {
        self.sign_in().await;
        self.add(sku, qty).await;
        self.post("/checkout", SHIPPING)
            .await
            .redirects_to("/review");
    }
}

/// Fails unless `req` is still unanswered after a second.
async fn assert_unanswered(req: reqwest::RequestBuilder) {
    let err = req
        .timeout(Duration::from_secs(1))
        .send()
        .await
        .expect_err("an answer to a hung request");
    assert!(err.is_timeout(), "{err}");
}

const SHIPPING: &[(&str, &str)] = &[
    ("name", "Ada Lovelace"),
    ("address", "1 Demo Street"),
    ("postal_code", "12345"),
];

#[tokio::test]
async fn sign_in_sets_a_persistent_session_cookie() {
    let store = store().await;
    let mut browser = Browser::new(&store);
    assert!(browser
        .get("/")
        .await
        .has(r#"<a id="signin-link" href="/signin">Sign in</a>"#));

    let page = browser.sign_in_at("/signin", ("email", "password")).await;
    page.redirects_to("/account");
    let cookie = page.set_cookie.as_deref().unwrap();
    assert!(cookie.starts_with("demo_session="), "{cookie}");
    for attribute in ["Path=/", "Max-Age=2592000", "HttpOnly", "SameSite=Lax"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(
        cookie.len() > "demo_session=".len() + 16,
        "token too short: {cookie}"
    );

    let account = browser.get("/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.has(r#"<h1 id="account">Your account</h1>"#));
    assert!(account.has(r#"<span id="account-name">Signed in as demo@example.com</span>"#));
    assert_eq!(
        admin_get(&store, "sessions").await,
        json!({ "sessions": 1 })
    );

    let with_next = browser
        .post(
            "/signin",
            &[
                ("email", "x@example.com"),
                ("password", "demo"),
                ("next", "/cart"),
            ],
        )
        .await;
    with_next.redirects_to("/cart");
    let form = browser.get("/signin?next=/checkout").await;
    assert!(form.has(r#"<input type="hidden" name="next" value="/checkout">"#));
    assert!(form.has(r#"<form id="signin-form" method="post" action="/signin">"#));
}

#[tokio::test]
async fn wrong_password_shows_an_error_and_no_cookie() {
    let store = store().await;
    let browser = Browser::new(&store);
    let page = browser
        .post("/signin", &[("email", DEMO_EMAIL), ("password", "nope")])
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has(r#"<p id="signin-error">Wrong email or password</p>"#));
    assert_eq!(page.set_cookie, None);
    let open_redirect = browser
        .post(
            "/signin",
            &[
                ("email", DEMO_EMAIL),
                ("password", "demo"),
                ("next", "//evil.example"),
            ],
        )
        .await;
    open_redirect.redirects_to("/account");
}

#[tokio::test]
async fn full_flow_places_exactly_one_order() {
    let store = store().await;
    let mut browser = Browser::new(&store);
    browser.sign_in().await;

    let product = browser.get("/product/paper-towels").await;
    assert_eq!(product.status, StatusCode::OK);
    for needle in [
        r#"<h1 id="product-title">Paper towels, 8 rolls</h1>"#,
        r#"<span id="price" data-price="6.49">€6.49</span>"#,
        r#""offers":{"@type":"Offer","price":"6.49","priceCurrency":"EUR","availability":"https://schema.org/InStock"}"#,
        r#"<div id="in-stock">In stock</div>"#,
        r#"<form id="add-form" method="post" action="/cart/add">"#,
        r#"<input id="qty" name="qty" type="number" value="1">"#,
        r#"<button id="add-to-cart" type="submit">Add to cart</button>"#,
    ] {
        assert!(product.has(needle), "product page lacks {needle}");
    }

    browser.add("paper-towels", "2").await;
    let cart = browser.get("/cart").await;
    assert!(cart.has(r#"<li class="cart-item" data-sku="paper-towels" data-qty="2">Paper towels, 8 rolls × 2</li>"#));
    assert!(cart.has(r#"<a id="checkout" href="/checkout">Checkout</a>"#));
    assert!(cart.has(r#"<button id="empty-cart" type="submit">Empty cart</button>"#));

    let checkout = browser.get("/checkout").await;
    assert!(checkout.has(r#"<form id="shipping-form" method="post" action="/checkout">"#));
    let missing = browser
        .post(
            "/checkout",
            &[("name", "Ada"), ("address", ""), ("postal_code", "1")],
        )
        .await;
    assert_eq!(missing.status, StatusCode::OK);
    assert!(missing.has(r#"<p id="form-error">Please fill in: address</p>"#));
    browser
        .post("/checkout", SHIPPING)
        .await
        .redirects_to("/review");

    let review = browser.get("/review").await;
    assert!(review.has(r#"<span id="order-total" data-total="12.98">€12.98</span>"#));
    assert!(review.has(r#"<button id="place-order" type="submit">Place order</button>"#));
    assert!(
        store.ledger().is_empty(),
        "nothing is ordered before Place order"
    );

    browser.place("D-1001").await;
    let confirmation = browser.get("/confirmation/D-1001").await;
    assert!(confirmation.has(r#"<h1 id="confirmation">Thank you for your order</h1>"#));
    assert!(confirmation.has(r#"<p>Order number: <span id="order-number">D-1001</span></p>"#));

    let ledger = store.ledger();
    assert_eq!(ledger.len(), 1);
    let entry = &ledger[0];
    assert_eq!(entry.order_number, "D-1001");
    assert_eq!(entry.total, "12.98");
    assert_eq!(
        entry.items,
        vec![LedgerLine {
            sku: "paper-towels".into(),
            qty: 2,
            price: "6.49".into(),
            variant: Some("8-rolls".into()),
        }]
    );
    assert_eq!(
        (
            entry.name.as_str(),
            entry.address.as_str(),
            entry.postal_code.as_str()
        ),
        ("Ada Lovelace", "1 Demo Street", "12345")
    );
    assert!(
        chrono::DateTime::parse_from_rfc3339(&entry.placed_at).is_ok(),
        "{}",
        entry.placed_at
    );
    let over_http: Vec<LedgerEntry> =
        serde_json::from_value(admin_get(&store, "orders").await).unwrap();
    assert_eq!(over_http, ledger);

    assert!(browser
        .get("/cart")
        .await
        .has(r#"<p id="cart-empty">Your cart is empty</p>"#));
    browser.post("/place", &[]).await.redirects_to("/cart");
    assert_eq!(
        store.ledger().len(),
        1,
        "a second Place order with an empty cart orders nothing"
    );
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_sign_in() {
    let store = store().await;
    let browser = Browser::new(&store);
    assert_eq!(
        browser.get("/product/dish-soap").await.status,
        StatusCode::OK,
        "product pages are public"
    );
    browser
        .post("/cart/add", &[("sku", "dish-soap"), ("qty", "1")])
        .await
        .redirects_to("/signin?next=/product/dish-soap");
    browser
        .get("/account")
        .await
        .redirects_to("/signin?next=/account");
    browser
        .get("/cart")
        .await
        .redirects_to("/signin?next=/cart");
    browser
        .get("/checkout")
        .await
        .redirects_to("/signin?next=/checkout");
    browser
        .get("/review")
        .await
        .redirects_to("/signin?next=/review");
    browser
        .post("/place", &[])
        .await
        .redirects_to("/signin?next=/review");
    assert!(store.ledger().is_empty());
}

#[tokio::test]
async fn checkout_with_an_empty_cart_goes_back_to_the_cart() {
    let store = store().await;
    let mut browser = Browser::new(&store);
    browser.sign_in().await;
    browser.get("/checkout").await.redirects_to("/cart");
    browser.get("/review").await.redirects_to("/cart");
    browser.add("dish-soap", "1").await;
    browser.get("/review").await.redirects_to("/checkout");
    browser.post("/cart/empty", &[]).await.redirects_to("/cart");
    assert!(browser
        .get("/cart")
        .await
        .has(r#"<p id="cart-empty">Your cart is empty</p>"#));
}

#[tokio::test]
async fn out_of_stock_hides_the_add_button_for_that_product_only() {
    let store = store().await;
    let mut browser = Browser::new(&store);
    browser.sign_in().await;
    let faults = fault(
        &store,
        json!({ "sku": "coffee-beans", "out_of_stock": true }),
    )
    .await;
    assert_eq!(faults["skus"]["coffee-beans"]["out_of_stock"], json!(true));
    assert_eq!(faults["global"]["out_of_stock"], json!(false));

    let page = browser.get("/product/coffee-beans").await;
    assert!(page.has(r#"<div id="out-of-stock">Currently unavailable</div>"#));
    assert!(page.has(r#""availability":"https://schema.org/OutOfStock""#));
    assert!(!page.has("add-to-cart") && !page.has("in-stock"));
    browser
        .post("/cart/add", &[("sku", "coffee-beans"), ("qty", "1")])
        .await
        .redirects_to("/product/coffee-beans");
    assert!(
        browser.get("/cart").await.has("cart-empty"),
        "an unavailable item is not added"
    );

    assert!(browser
        .get("/product/dish-soap")
        .await
        .has(r#"<div id="in-stock">In stock</div>"#));
}

#[tokio::test]
async fn not_found_fault_and_unknown_sku_answer_404() {
    let store = store().await;
    let browser = Browser::new(&store);
    let unknown = browser.get("/product/caviar").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.has(r#"<h1 id="not-found">Page not found</h1>"#));
    let no_route = browser.get("/no-such-page").await;
    assert_eq!(no_route.status, StatusCode::NOT_FOUND);
    assert!(no_route.has(r#"<h1 id="not-found">Page not found</h1>"#));

    fault(&store, json!({ "sku": "dish-soap", "not_found": true })).await;
    let page = browser.get("/product/dish-soap").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.has(r#"id="not-found""#) && !page.has("product-title"));
    assert_eq!(
        browser.get("/product/toilet-paper").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn price_change_shows_on_the_page_in_json_ld_and_in_the_total() {
    let store = store().await;
    let mut browser = Browser::new(&store);
    let faults = fault(&store, json!({ "sku": "coffee-beans", "price": "9.99" })).await;
    assert_eq!(faults["skus"]["coffee-beans"]["price"], json!("9.99"));

    let page = browser.get("/product/coffee-beans").await;
    assert!(page.has(r#"<span id="price" data-price="9.99">€9.99</span>"#));
    assert!(page.has(r#""price":"9.99""#) && !page.has("11.90"));

    browser.fill_cart_and_ship("coffee-beans", "2").await;
    assert!(browser
        .get("/review")
        .await
        .has(r#"<span id="order-total" data-total="19.98">€19.98</span>"#));
    browser.place("D-1001").await;
    let ledger = store.ledger();
    assert_eq!(
        (ledger[0].total.as_str(), ledger[0].items[0].price.as_str()),
        ("19.98", "9.99")
    );

    fault(&store, json!({ "sku": "coffee-beans", "price": null })).await;
    assert!(
        browser
            .get("/product/coffee-beans")
            .await
            .has(r#"data-price="11.90""#),
        "null restores the catalog price"
    );
}

#[tokio::test]
async fn challenge_fault_serves_an_interstitial() {
    let store = store().await;
    let browser = Browser::new(&store);
    fault(&store, json!({ "sku": "laundry-pods", "challenge": true })).await;
    let scoped = browser.get("/product/laundry-pods").await;
    assert_eq!(scoped.status, StatusCode::OK);
    assert!(scoped.has(r#"<div id="challenge">Please verify you are a human</div>"#));
    assert!(scoped.has("<title>Just a moment...</title>") && !scoped.has("product-title"));
    assert!(
        browser.get("/product/dish-soap").await.has("product-title"),
        "other products are untouched"
    );

    fault(&store, json!({ "challenge": true })).await;
    for path in [
        "/",
        "/signin",
        "/product/dish-soap",
        "/cart",
        "/alt/item/dish-soap",
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(
            page.has("<title>Just a moment...</title>") && page.has(r#"id="challenge""#),
            "{path}"
        );
    }
    assert_eq!(
        admin_get(&store, "orders").await,
        json!([]),
        "admin is never challenged"
    );
}

#[tokio::test]
async fn blocked_fault_answers_403() {
    let store = store().await;
    let browser = Browser::new(&store);
    fault(&store, json!({ "sku": "toilet-paper", "blocked": true })).await;
    let scoped = browser.get("/product/toilet-paper").await;
    assert_eq!(scoped.status, StatusCode::FORBIDDEN);
    assert!(scoped.has(r#"<h1 id="access-denied">Access denied</h1>"#));
    assert_eq!(
        browser.get("/product/dish-soap").await.status,
        StatusCode::OK
    );

    fault(&store, json!({ "blocked": true })).await;
    for path in ["/", "/signin", "/product/dish-soap", "/confirmation/D-1001"] {
        let page = browser.get(path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.has(r#"id="access-denied""#), "{path}");
    }
    assert_eq!(
        admin_get(&store, "faults").await["global"]["blocked"],
        json!(true),
        "admin is never blocked"
    );
}

#[tokio::test]
async fn no_order_number_drops_the_number_but_keeps_the_order() {
    let store = store().await;
    let mut browser = Browser::new(&store);
    fault(&store, json!({ "no_order_number": true })).await;
    browser.fill_cart_and_ship("dish-soap", "1").await;
    browser.place("D-1001").await;
    let page = browser.get("/confirmation/D-1001").await;
    assert!(page.has(r#"<h1 id="confirmation">Thank you for your order</h1>"#));
    assert!(!page.has("order-number") && !page.has("D-1001"));
    assert_eq!(store.ledger().len(), 1);
}

#[tokio::test]
async fn signout_all_ends_every_session() {
    let store = store().await;
    let (mut a, mut b) = (Browser::new(&store), Browser::new(&store));
    a.sign_in().await;
    b.sign_in().await;
    assert_eq!(
        admin_get(&store, "sessions").await,
        json!({ "sessions": 2 })
    );
    let (status, body) = admin_post(&store, "signout-all", json!({})).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "signed_out": 2 })));
    a.get("/account")
        .await
        .redirects_to("/signin?next=/account");
    let header = b.get("/").await;
    assert!(
        header.has(r#"id="signin-link""#) && !header.has("account-name"),
        "an old cookie counts as signed out"
    );
    assert_eq!(
        admin_get(&store, "sessions").await,
        json!({ "sessions": 0 })
    );
}

#[tokio::test]
async fn hang_at_product_never_answers_but_admin_does_and_shutdown_still_works() {
    let store = store().await;
    let browser = Browser::new(&store);
    let faults = fault(&store, json!({ "hang": "product" })).await;
    assert_eq!(faults["global"]["hang"], json!("product"));

    let url = store.product_url("dish-soap");
    assert_unanswered(browser.http.get(&url)).await;
    assert_eq!(admin_get(&store, "orders").await, json!([]));
    assert_eq!(
        browser.get("/").await.status,
        StatusCode::OK,
        "other pages still answer"
    );

    // A request still hanging when the store stops must not keep it running:
    // shutdown releases it with a 503 and closes the listener.
    let addr = store.addr();
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /product/dish-soap HTTP/1.1\r\nHost: demo\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0; 4096];
    let unanswered = tokio::time::timeout(Duration::from_secs(1), conn.read(&mut buf)).await;
    assert!(unanswered.is_err(), "the hung request got an answer");
    tokio::time::timeout(Duration::from_secs(10), store.shutdown())
        .await
        .expect("shutdown finishes");
    let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
        .await
        .expect("released")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}

#[tokio::test]
async fn hang_at_place_records_the_order_then_never_answers() {
    let store = store().await;
    let mut browser = Browser::new(&store);
    browser.fill_cart_and_ship("dish-soap", "3").await;
    fault(&store, json!({ "sku": "dish-soap", "hang": "place" })).await;
    let req = browser.with_cookie(browser.http.post(format!("{}/place", store.base_url())));
    assert_unanswered(req).await;
    let ledger = store.ledger();
    assert_eq!(ledger.len(), 1, "the store took the order");
    assert_eq!(ledger[0].total, "9.87");
    assert!(browser.get("/cart").await.has("cart-empty"));
}

#[tokio::test]
async fn hang_at_checkout_only_hangs_the_checkout_page() {
    let store = store().await;
    let mut browser = Browser::new(&store);
    browser.fill_cart_and_ship("dish-soap", "1").await;
    fault(&store, json!({ "hang": "checkout" })).await;
    let req = browser.with_cookie(browser.http.get(format!("{}/checkout", store.base_url())));
    assert_unanswered(req).await;
    assert_eq!(browser.get("/cart").await.status, StatusCode::OK);
}

#[tokio::test]
async fn carts_add_plants_an_item_in_every_live_cart() {
    let store = store().await;
    let mut browser = Browser::new(&store);
    browser.sign_in().await;
    let (status, body) = admin_post(
        &store,
        "carts/add",
        json!({ "sku": "toilet-paper", "qty": 3 }),
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "carts": 1 })));
    let cart = browser.get("/cart").await;
    assert!(cart.has(r#"<li class="cart-item" data-sku="toilet-paper" data-qty="3">Toilet paper, 24 rolls × 3</li>"#));

    let (status, _) = admin_post(&store, "carts/add", json!({ "sku": "caviar" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn reset_clears_faults_carts_and_ledger_but_keeps_sessions() {
    let store = store().await;
    let mut browser = Browser::new(&store);
    browser.fill_cart_and_ship("dish-soap", "1").await;
    browser.place("D-1001").await;
    browser.add("dish-soap", "1").await;
    fault(&store, json!({ "sku": "dish-soap", "out_of_stock": true })).await;
    fault(&store, json!({ "challenge": true })).await;

    let (status, _) = admin_post(&store, "reset", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let faults = admin_get(&store, "faults").await;
    assert_eq!(faults["skus"], json!({}));
    assert_eq!(faults["global"]["challenge"], json!(false));
    assert!(store.ledger().is_empty());
    let cart = browser.get("/cart").await;
    assert!(
        cart.has("cart-empty") && cart.has("account-name"),
        "cart emptied, still signed in"
    );
}

#[tokio::test]
async fn admin_rejects_bad_fault_requests_and_changes_nothing() {
    let store = store().await;
    let (status, body) = admin_post(
        &store,
        "faults",
        json!({ "sku": "caviar", "blocked": true }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = admin_post(&store, "faults", json!({ "price": "cheap" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = admin_post(&store, "faults", json!({ "blockd": true })).await;
    assert!(status.is_client_error(), "{status}");
    let faults = admin_get(&store, "faults").await;
    assert_eq!(faults["global"]["blocked"], json!(false));
    assert_eq!(faults["skus"], json!({}));
}

#[tokio::test]
async fn alt_layout_places_an_order_through_the_same_state() {
    let store = store().await;
    let mut browser = Browser::new(&store);
    assert!(browser.get("/alt/").await.has(r#"class="login-link""#));
    let login = browser.get("/alt/login").await;
    assert!(
        login.has(r#"class="login-form""#)
            && login.has(r#"name="user""#)
            && login.has(r#"class="login-btn""#)
    );
    browser
        .sign_in_at("/alt/login", ("user", "pass"))
        .await
        .redirects_to("/alt/account");

    let item = browser.get("/alt/item/dish-soap").await;
    assert!(item.has(r#"<h2 class="item-name">Dish soap, 750 ml</h2>"#));
    assert!(item.has(r#"<b class="cost">EUR 3,29</b>"#));
    assert!(
        item.has(r#""price":"3.29""#)
            && item.has(r#"class="stock-ok""#)
            && item.has(r#"class="buy-btn""#)
    );
    assert!(item.has(r#"class="who""#));
    browser
        .post("/alt/basket/add", &[("sku", "dish-soap"), ("qty", "2")])
        .await
        .redirects_to("/alt/basket");
    let basket = browser.get("/alt/basket").await;
    assert!(basket.has(r#"<tr class="basket-row" data-sku="dish-soap" data-qty="2">"#));
    assert!(
        basket.has(r#"class="clear-basket""#)
            && basket.has(r#"class="go-checkout" href="/alt/pay""#)
    );
    assert!(
        browser.get("/cart").await.has(r#"data-sku="dish-soap""#),
        "one cart behind both layouts"
    );

    let pay = browser.get("/alt/pay").await;
    assert!(
        pay.has(r#"name="fullname""#)
            && pay.has(r#"name="street""#)
            && pay.has(r#"name="zip""#)
            && pay.has(r#"class="to-summary""#)
    );
    let shipping = [
        ("fullname", "Ada Lovelace"),
        ("street", "1 Demo Street"),
        ("zip", "12345"),
    ];
    browser
        .post("/alt/pay", &shipping)
        .await
        .redirects_to("/alt/summary");
    let summary = browser.get("/alt/summary").await;
    assert!(
        summary.has(r#"<span class="grand-total">EUR 6,58</span>"#)
            && summary.has(r#"class="confirm-purchase""#)
    );

    browser
        .post("/alt/order", &[])
        .await
        .redirects_to("/alt/done/D-1001");
    let done = browser.get("/alt/done/D-1001").await;
    assert!(done.has(r#"class="thanks""#) && done.has(r#"<span class="order-ref">D-1001</span>"#));
    let ledger = store.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(
        (ledger[0].total.as_str(), ledger[0].postal_code.as_str()),
        ("6.58", "12345")
    );

    fault(&store, json!({ "sku": "dish-soap", "out_of_stock": true })).await;
    assert!(
        browser
            .get("/alt/item/dish-soap")
            .await
            .has(r#"class="stock-none""#),
        "faults reach the alt layout"
    );
    let missing = browser.get("/alt/item/caviar").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.has(r#"<h2 class="not-found">Page not found</h2>"#));
    let signed_out = Browser::new(&store);
    signed_out
        .get("/alt/basket")
        .await
        .redirects_to("/alt/login?next=/alt/basket");
}

#[tokio::test]
async fn binding_a_taken_address_is_a_clear_error() {
    let store = store().await;
    let err = DemoStore::spawn(store.addr()).await.unwrap_err();
    assert!(
        matches!(err, DemoError::Bind { addr, .. } if addr == store.addr()),
        "{err:?}"
    );
    assert!(err.to_string().contains(&store.addr().to_string()), "{err}");
    assert_eq!(
        store.product_url("x"),
        format!("{}/product/x", store.base_url())
    );
    assert_eq!(
        store.alt_product_url("x"),
        format!("http://{}/alt/item/x", store.addr())
    );
}

// ---------------------------------------------------------------- options

#[tokio::test]
async fn options_are_patched_validated_and_reset_to_how_the_store_started() {
    let store = store_with(StoreOptions {
        session_ttl: Duration::from_secs(120),
        ..StoreOptions::default()
    })
    .await;
    let defaults = json!({
        "interstitial": false,
        "shipping_choice": false,
        "payment_step": false,
        "saved_address": false,
        "session_ttl": 120,
    });
    assert_eq!(admin_get(&store, "options").await, defaults);

    let (status, body) = admin_post(
        &store,
        "options",
        json!({ "payment_step": true, "interstitial": true, "session_ttl": 90 }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            &body["payment_step"],
            &body["interstitial"],
            &body["saved_address"],
            &body["session_ttl"]
        ),
        (&json!(true), &json!(true), &json!(false), &json!(90))
    );
    let patched = admin_get(&store, "options").await;
    assert_eq!(patched, body);
    assert!(store.options().payment_step);

    for (bad, reason) in [
        (json!({ "payment_stepp": true }), "unknown field"),
        (json!({ "saved_address": "yes" }), "invalid type"),
        (json!({ "session_ttl": 0 }), "session_ttl"),
        (json!({ "session_ttl": 400 * 24 * 3600 + 1 }), "session_ttl"),
        (
            json!({ "shipping_choice": true, "session_ttl": -5 }),
            "invalid value",
        ),
    ] {
        let (status, body) = admin_post(&store, "options", bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} -> {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(reason), "{bad}: {error}");
    }
    let malformed = reqwest::Client::new()
        .post(format!("{}/admin/options", store.base_url()))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        admin_get(&store, "options").await,
        patched,
        "bad patches change nothing"
    );

    let (status, _) = admin_post(&store, "reset", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        admin_get(&store, "options").await,
        defaults,
        "reset restores the options the store started with, its TTL included"
    );
}

#[tokio::test]
async fn spawn_with_refuses_options_it_cannot_honour() {
    let err = DemoStore::spawn_with(
        "127.0.0.1:0".parse().unwrap(),
        StoreOptions {
            session_ttl: Duration::from_millis(1500),
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DemoError::Options(_)), "{err:?}");
    assert!(err.to_string().contains("session_ttl"), "{err}");
}

#[tokio::test]
async fn payment_step_puts_a_payment_page_between_address_and_review() {
    let store = store().await;
    let mut browser = Browser::new(&store);
    browser.sign_in().await;
    assert_eq!(
        browser.get("/payment").await.status,
        StatusCode::NOT_FOUND,
        "no payment page unless the option is on"
    );
    admin(&store, "options", json!({ "payment_step": true })).await;

    browser.add("dish-soap", "2").await;
    browser.get("/payment").await.redirects_to("/checkout");
    browser
        .post("/checkout", SHIPPING)
        .await
        .redirects_to("/payment");
    browser.get("/review").await.redirects_to("/payment");
    browser.post("/place", &[]).await.redirects_to("/payment");
    assert!(
        store.ledger().is_empty(),
        "no order without the payment page"
    );

    let payment = browser.get("/payment").await;
    assert_eq!(payment.status, StatusCode::OK);
    for needle in [
        r#"<form id="payment-form" method="post" action="/payment">"#,
        r#"<span id="saved-card">Pay with saved card •••• 4242</span>"#,
        r#"<button id="payment-continue" type="submit">Continue</button>"#,
    ] {
        assert!(payment.has(needle), "payment page lacks {needle}");
    }
    browser.post("/payment", &[]).await.redirects_to("/review");
    assert!(browser
        .get("/review")
        .await
        .has(r#"<span id="order-total" data-total="6.58">€6.58</span>"#));
    browser.place("D-1001").await;
    assert_eq!(store.ledger().len(), 1);

    browser.add("dish-soap", "1").await;
    browser.get("/review").await.redirects_to("/payment");
    assert!(
        browser.post("/place", &[]).await.location.as_deref() == Some("/payment"),
        "each order passes the payment page again"
    );

    // The alt layout has the same page under its own name and markup.
    let billing = browser.get("/alt/billing").await;
    assert!(
        billing.has(r#"<form class="billing-form" method="post" action="/alt/billing">"#)
            && billing.has(r#"<p class="card-choice">Pay with saved card •••• 4242</p>"#)
            && billing.has(r#"class="to-review""#),
        "{}",
        billing.body
    );
    browser
        .post("/alt/billing", &[])
        .await
        .redirects_to("/alt/summary");
    browser
        .post("/alt/order", &[])
        .await
        .redirects_to("/alt/done/D-1002");
}

#[tokio::test]
async fn saved_address_skips_the_form_once_the_session_has_one() {
    let store = store().await;
    let mut browser = Browser::new(&store);
    browser.fill_cart_and_ship("dish-soap", "1").await;
    browser.place("D-1001").await;
    browser.add("dish-soap", "1").await;
    assert!(
        browser.get("/checkout").await.has(r#"id="shipping-form""#),
        "off by default: the form every time"
    );

    admin(&store, "options", json!({ "saved_address": true })).await;
    browser.get("/checkout").await.redirects_to("/review");
    browser.get("/alt/pay").await.redirects_to("/alt/summary");
    assert!(
        browser
            .get("/checkout?change=1")
            .await
            .has(r#"id="shipping-form""#),
        "the address can still be changed"
    );
    admin(&store, "options", json!({ "payment_step": true })).await;
    browser.get("/checkout").await.redirects_to("/payment");
    browser.post("/payment", &[]).await.redirects_to("/review");
    browser.place("D-1002").await;
    let ledger = store.ledger();
    assert_eq!(
        (ledger[1].name.as_str(), ledger[1].postal_code.as_str()),
        ("Ada Lovelace", "12345"),
        "the saved address is the one used"
    );

    // A fresh session has no address yet: the form shows.
    let mut other = Browser::new(&store);
    other.sign_in().await;
    other.add("dish-soap", "1").await;
    assert!(other.get("/checkout").await.has(r#"id="shipping-form""#));
}

#[tokio::test]
async fn the_address_form_has_an_optional_country_select() {
    let store = store().await;
    let mut browser = Browser::new(&store);
    browser.sign_in().await;
    browser.add("dish-soap", "1").await;
    let form = browser.get("/checkout").await;
    assert!(form.has(r#"<select id="ship-country" name="country">"#));
    assert!(form.has(r#"<option value="DE" selected>Germany</option>"#));
    assert!(form.has(r#"<option value="FR">France</option>"#));
    assert!(browser.get("/alt/pay").await.has(r#"<select name="land">"#));

    let mut bad = SHIPPING.to_vec();
    bad.push(("country", "XX"));
    let refused = browser.post("/checkout", &bad).await;
    assert!(
        refused.has(r#"<p id="form-error">Please choose a country from the list</p>"#),
        "{}",
        refused.body
    );
    let mut french = SHIPPING.to_vec();
    french.push(("country", "FR"));
    browser
        .post("/checkout", &french)
        .await
        .redirects_to("/review");
    assert!(browser
        .get("/review")
        .await
        .has(r#"<p id="ship-to">Ship to: Ada Lovelace, 1 Demo Street, 12345, France</p>"#));
    browser.place("D-1001").await;
    assert_eq!(store.ledger()[0].country, "FR");

    // Old clients send no country: the default.
    browser.add("dish-soap", "1").await;
    browser
        .post("/checkout", SHIPPING)
        .await
        .redirects_to("/review");
    browser.place("D-1002").await;
    assert_eq!(store.ledger()[1].country, "DE");
}

// ----------------------------------------------------------- order history

/// `2 Dec 2026, 11:42`: how the history shows a ledger timestamp.
fn human(placed_at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(placed_at)
        .unwrap()
        .with_timezone(&chrono::Utc)
        .format("%-d %b %Y, %H:%M")
        .to_string()
}

#[tokio::test]
async fn order_history_shows_the_users_own_orders_newest_first() {
    let store = store().await;
    let mut ada = Browser::new(&store);
    ada.sign_in().await;
    assert!(ada
        .get("/orders")
        .await
        .has(r#"<p id="orders-empty">You have not placed any orders yet</p>"#));
    assert!(ada
        .get("/account")
        .await
        .has(r#"<a id="orders-link" href="/orders">Your orders</a>"#));

    ada.post(
        "/cart/add",
        &[("sku", "paper-towels"), ("qty", "2"), ("pack", "16-rolls")],
    )
    .await
    .redirects_to("/cart");
    ada.add("dish-soap", "1").await;
    ada.post("/checkout", SHIPPING)
        .await
        .redirects_to("/review");
    ada.place("D-1001").await;

    let mut bob = Browser::new(&store);
    bob.sign_in_as("bob@example.com").await;
    bob.add("coffee-beans", "1").await;
    bob.post("/checkout", SHIPPING)
        .await
        .redirects_to("/review");
    bob.place("D-1002").await;

    ada.add("laundry-pods", "3").await;
    ada.post("/alt/order", &[])
        .await
        .redirects_to("/alt/done/D-1003");

    let ledger = store.ledger();
    assert_eq!(
        ledger.iter().map(|e| e.email.as_str()).collect::<Vec<_>>(),
        [DEMO_EMAIL, "bob@example.com", DEMO_EMAIL]
    );

    let page = ada.get("/orders").await;
    assert_eq!(page.status, StatusCode::OK);
    let newest = format!(
        r#"<tr class="order-row" data-order="D-1003"><td class="order-id">D-1003</td><td class="order-date">{}</td><td class="order-total">€43.50</td><td class="order-items"><ul><li class="order-item" data-sku="laundry-pods" data-qty="3">Laundry pods, 40 × 3</li></ul></td></tr>"#,
        human(&ledger[2].placed_at)
    );
    let oldest = format!(
        r#"<tr class="order-row" data-order="D-1001"><td class="order-id">D-1001</td><td class="order-date">{}</td><td class="order-total">€27.27</td><td class="order-items"><ul><li class="order-item" data-sku="paper-towels" data-qty="2">Paper towels, 16 rolls × 2</li>"#,
        human(&ledger[0].placed_at)
    );
    assert!(page.has(&newest), "{}", page.body);
    assert!(page.has(&oldest), "{}", page.body);
    assert!(page.has(
        r#"<li class="order-item" data-sku="dish-soap" data-qty="1">Dish soap, 750 ml × 1</li>"#
    ));
    assert!(
        page.body.find("D-1003").unwrap() < page.body.find("D-1001").unwrap(),
        "newest first"
    );
    assert!(!page.has("D-1002"), "another user's order is not shown");

    let alt = ada.get("/alt/orders").await;
    assert!(alt.has(&format!(
        r#"<div class="order-row" data-order="D-1001"><span class="order-id">D-1001</span> <span class="order-date">{}</span> <span class="order-total">EUR 27,27</span><ul class="order-items">"#,
        human(&ledger[0].placed_at)
    )), "{}", alt.body);
    assert!(alt.has(r#"<span class="order-total">EUR 43,50</span>"#) && !alt.has("D-1002"));

    let bobs = bob.get("/orders").await;
    assert!(bobs.has(r#"data-order="D-1002""#) && bobs.has("€11.90"));
    assert!(!bobs.has("D-1001") && !bobs.has("D-1003"));

    let stranger = Browser::new(&store);
    stranger
        .get("/orders")
        .await
        .redirects_to("/signin?next=/orders");
    stranger
        .get("/alt/orders")
        .await
        .redirects_to("/alt/login?next=/alt/orders");
}

#[tokio::test]
async fn hide_confirmation_shows_an_error_page_but_the_order_is_placed() {
    let store = store().await;
    let mut browser = Browser::new(&store);
    fault(
        &store,
        json!({ "sku": "dish-soap", "hide_confirmation": true }),
    )
    .await;
    browser.fill_cart_and_ship("dish-soap", "1").await;
    browser.place("D-1001").await;
    let page = browser.get("/confirmation/D-1001").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.has(r#"<h1 id="order-problem">Something went wrong, please check your orders</h1>"#)
    );
    assert!(page.has(r#"<a id="orders-link" href="/orders">Your orders</a>"#));
    assert!(!page.has(r#"id="confirmation""#) && !page.has("order-number"));
    let alt = browser.get("/alt/done/D-1001").await;
    assert!(alt.has(r#"class="order-problem""#) && !alt.has(r#"class="thanks""#));

    assert_eq!(store.ledger().len(), 1, "the order is in the ledger");
    assert!(browser
        .get("/orders")
        .await
        .has(r#"<td class="order-id">D-1001</td>"#));

    // Scoped to its sku: another product's order confirms as usual.
    browser.fill_cart_and_ship("coffee-beans", "1").await;
    browser.place("D-1002").await;
    assert!(browser
        .get("/confirmation/D-1002")
        .await
        .has(r#"<span id="order-number">D-1002</span>"#));
}

#[tokio::test]
async fn sessions_expire_after_the_ttl_on_the_server_too() {
    let store = store_with(StoreOptions {
        session_ttl: Duration::from_secs(1),
        ..StoreOptions::default()
    })
    .await;
    let mut browser = Browser::new(&store);
    let page = browser.sign_in().await;
    let cookie = page.set_cookie.clone().unwrap();
    assert!(cookie.contains("; Max-Age=1;"), "{cookie}");
    // The server must forget the session by itself: the test keeps sending
    // the cookie a browser would already have dropped.
    poll("the session to expire", || async {
        (browser.get("/account").await.location.as_deref() == Some("/signin?next=/account"))
            .then_some(())
    })
    .await;
    assert_eq!(
        admin_get(&store, "sessions").await,
        json!({ "sessions": 0 })
    );

    admin(&store, "options", json!({ "session_ttl": 3600 })).await;
    let page = browser.sign_in().await;
    assert!(page
        .set_cookie
        .as_deref()
        .unwrap()
        .contains("; Max-Age=3600;"));
    assert_eq!(browser.get("/account").await.status, StatusCode::OK);
}

#[tokio::test]
async fn pack_sizes_have_their_own_prices_in_every_server_layout() {
    let store = store().await;
    let mut browser = Browser::new(&store);
    let page = browser.get("/product/paper-towels").await;
    for needle in [
        r#"<select id="pack" name="pack" onchange="location.search='pack='+encodeURIComponent(this.value)">"#,
        r#"<option value="8-rolls" data-price="6.49" selected>8 rolls - €6.49</option>"#,
        r#"<option value="16-rolls" data-price="11.99">16 rolls - €11.99</option>"#,
        r#"<option value="24-rolls" data-price="16.49">24 rolls - €16.49</option>"#,
        r#"<span id="price" data-price="6.49">€6.49</span>"#,
    ] {
        assert!(page.has(needle), "product page lacks {needle}");
    }
    assert!(
        !browser.get("/product/dish-soap").await.has("<select"),
        "one-size products have no select"
    );

    let big = browser.get("/product/paper-towels?pack=16-rolls").await;
    assert!(big.has(r#"<h1 id="product-title">Paper towels, 16 rolls</h1>"#));
    assert!(big.has(r#"<span id="price" data-price="11.99">€11.99</span>"#));
    assert!(big.has(r#""name":"Paper towels, 16 rolls""#) && big.has(r#""price":"11.99""#));
    assert!(big.has(r#"<option value="16-rolls" data-price="11.99" selected>"#));
    let stale = browser.get("/product/paper-towels?pack=99-rolls").await;
    assert!(
        stale.has(r#"data-price="6.49">€6.49</span>"#),
        "unknown size: the default"
    );

    let alt = browser.get("/alt/item/paper-towels?size=24-rolls").await;
    assert!(alt.has(r#"<b class="cost">EUR 16,49</b>"#), "{}", alt.body);
    assert!(alt.has(
        r#"<select name="size" onchange="location.search='size='+encodeURIComponent(this.value)">"#
    ));
    assert!(alt.has(
        r#"<option value="24-rolls" data-price="16.49" selected>24 rolls - EUR 16,49</option>"#
    ));

    browser.sign_in().await;
    let refused = browser
        .post(
            "/cart/add",
            &[("sku", "paper-towels"), ("pack", "99-rolls")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.has("paper-towels has no pack size"),
        "{}",
        refused.body
    );
    browser
        .post(
            "/cart/add",
            &[("sku", "paper-towels"), ("pack", "16-rolls"), ("qty", "2")],
        )
        .await
        .redirects_to("/cart");
    browser
        .post(
            "/alt/basket/add",
            &[("sku", "paper-towels"), ("size", "24-rolls")],
        )
        .await
        .redirects_to("/alt/basket");
    browser
        .post("/cart/add", &[("sku", "paper-towels")])
        .await
        .redirects_to("/cart");
    let cart = browser.get("/cart").await;
    assert!(cart.has(r#"<li class="cart-item" data-sku="paper-towels" data-qty="2">Paper towels, 16 rolls × 2</li>"#));
    assert!(cart.has(r#"<li class="cart-item" data-sku="paper-towels" data-qty="1">Paper towels, 24 rolls × 1</li>"#));
    assert!(cart.has(r#"<li class="cart-item" data-sku="paper-towels" data-qty="1">Paper towels, 8 rolls × 1</li>"#));

    // A price fault moves the default size only.
    fault(&store, json!({ "sku": "paper-towels", "price": "5.00" })).await;
    browser
        .post("/checkout", SHIPPING)
        .await
        .redirects_to("/review");
    // 2 × 11.99 + 16.49 + 5.00
    assert!(browser
        .get("/review")
        .await
        .has(r#"<span id="order-total" data-total="45.47">€45.47</span>"#));
    browser.place("D-1001").await;
    let entry = &store.ledger()[0];
    let lines: Vec<_> = entry
        .items
        .iter()
        .map(|l| (l.variant.as_deref(), l.qty, l.price.as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            (Some("16-rolls"), 2, "11.99"),
            (Some("24-rolls"), 1, "16.49"),
            (Some("8-rolls"), 1, "5.00")
        ]
    );
    assert_eq!(entry.total, "45.47");
}

// ----------------------------------------------------------------- spa API

/// A client of the spa's JSON API, carrying the `spa_sid` cookie by hand as
/// the page script would.
struct Spa {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// A JSON answer, or the HTML a fault page sent instead.
struct Answer {
    status: StatusCode,
    json: Value,
    html: Option<String>,
}

impl Spa {
    fn new(store: &DemoStore) -> Spa {
        Spa {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: store.base_url(),
            token: None,
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let req = match &self.token {
            Some(t) => req.header(COOKIE, format!("spa_sid={t}")),
            None => req,
        };
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let is_json = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .is_some_and(|v| v.to_str().unwrap().contains("application/json"));
        let text = resp.text().await.unwrap();
        match is_json {
            true => Answer {
                status,
                json: serde_json::from_str(&text).unwrap(),
                html: None,
            },
            false => Answer {
                status,
                json: Value::Null,
                html: Some(text),
            },
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(self.http.get(format!("{}/spa/api{path}", self.base)))
            .await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(
            self.http
                .post(format!("{}/spa/api{path}", self.base))
                .json(&body),
        )
        .await
    }

    async fn sign_in(&mut self) -> Value {
        let answer = self
            .post(
                "/signin",
                json!({ "email": DEMO_EMAIL, "password": DEMO_PASSWORD }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
        self.token = Some(answer.json["token"].as_str().unwrap().to_owned());
        answer.json
    }
}

fn ok(answer: &Answer) -> &Value {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    &answer.json
}

#[tokio::test]
async fn spa_every_page_is_the_same_shell_and_the_api_is_json() {
    let store = store().await;
    let browser = Browser::new(&store);
    let shell = browser.get("/spa/").await;
    assert_eq!(shell.status, StatusCode::OK);
    assert!(
        shell.has(r#"<main id="spa-main">"#)
            && shell.has(r#"<script src="/spa/assets/app.js"></script>"#)
    );
    for path in [
        "/spa/cart",
        "/spa/product/dish-soap",
        "/spa/checkout/review",
        "/spa/orders",
        "/spa/no/such/page",
    ] {
        let page = browser.get(path).await;
        assert_eq!(
            (page.status, page.body.as_str()),
            (StatusCode::OK, shell.body.as_str()),
            "{path}"
        );
    }
    let redirect = browser
        .http
        .get(format!("{}/spa", store.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(redirect.headers()[LOCATION], "/spa/");
    for (path, kind) in [
        ("/spa/assets/app.js", "text/javascript"),
        ("/spa/assets/app.css", "text/css"),
    ] {
        let resp = reqwest::get(format!("{}{path}", store.base_url()))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let content_type = resp.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
        assert!(resp.text().await.unwrap().len() > 500);
    }

    let spa = Spa::new(&store);
    let missing = spa.get("/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json["code"], json!("no_route"));
    assert_eq!(
        ok(&spa.get("/session").await),
        &json!({ "signed_in": false, "email": null })
    );
    let products = ok(&spa.get("/products").await).clone();
    assert_eq!(products.as_array().unwrap().len(), 5);
    assert_eq!(products[0]["price_text"], json!("€6.49"));
}

#[tokio::test]
async fn spa_api_happy_path_with_every_optional_page() {
    let store = store().await;
    admin(
        &store,
        "options",
        json!({ "interstitial": true, "shipping_choice": true }),
    )
    .await;
    let mut spa = Spa::new(&store);

    let product = ok(&spa.get("/products/paper-towels?pack=16-rolls").await).clone();
    assert_eq!(
        (&product["name"], &product["price"], &product["pack"]),
        (
            &json!("Paper towels, 16 rolls"),
            &json!("11.99"),
            &json!("16-rolls")
        )
    );
    assert_eq!(product["packs"].as_array().unwrap().len(), 3);
    let ld: Value = serde_json::from_str(product["json_ld"].as_str().unwrap()).unwrap();
    assert_eq!(ld["offers"]["price"], json!("11.99"));

    let signed_out = spa
        .post("/cart/check", json!({ "sku": "paper-towels", "qty": 1 }))
        .await;
    assert_eq!(
        (signed_out.status, &signed_out.json["code"]),
        (StatusCode::UNAUTHORIZED, &json!("signed_out"))
    );
    let wrong = spa
        .post(
            "/signin",
            json!({ "email": DEMO_EMAIL, "password": "nope" }),
        )
        .await;
    assert_eq!(wrong.json["code"], json!("bad_credentials"));

    let signed_in = spa.sign_in().await;
    assert_eq!(signed_in["ttl_secs"], json!(30 * 24 * 3600));
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let expires_at = signed_in["expires_at"].as_i64().unwrap();
    assert!(
        (expires_at - now_ms - 30 * 24 * 3600 * 1000).abs() < 60_000,
        "expires_at {expires_at} is not now + 30 days"
    );
    assert_eq!(ok(&spa.get("/session").await)["email"], json!(DEMO_EMAIL));

    let check = ok(&spa
        .post(
            "/cart/check",
            json!({ "sku": "paper-towels", "pack": "16-rolls", "qty": 2 }),
        )
        .await)
    .clone();
    assert_eq!(check["line"]["price"], json!("11.99"));
    assert_eq!(check["line"]["name"], json!("Paper towels, 16 rolls"));
    let bad_qty = spa
        .post("/cart/check", json!({ "sku": "dish-soap", "qty": 0 }))
        .await;
    assert_eq!(
        (bad_qty.status, &bad_qty.json["code"]),
        (StatusCode::BAD_REQUEST, &json!("bad_qty"))
    );
    assert!(store.ledger().is_empty());

    let cart = json!([
        { "sku": "paper-towels", "pack": "16-rolls", "qty": 2 },
        { "sku": "dish-soap", "qty": 1 }
    ]);
    let mut body = json!({ "cart": cart });
    let summary = ok(&spa.post("/checkout", body.clone()).await).clone();
    assert_eq!(
        summary["pending"],
        json!(["protection", "address", "shipping", "payment", "review"])
    );
    assert_eq!(summary["next"], json!("/spa/checkout/protection"));
    assert_eq!(
        summary["total_text"],
        json!("Total (3 items): €27.27, incl. €4.35 tax")
    );

    let early = spa.post("/orders", body.clone()).await;
    assert_eq!(
        (early.status, &early.json["next"]),
        (StatusCode::CONFLICT, &json!("/spa/checkout/protection"))
    );

    body["protection"] = json!(false);
    let summary = ok(&spa.post("/checkout", body.clone()).await).clone();
    assert_eq!(summary["next"], json!("/spa/checkout/address"));
    assert_eq!(summary["address"], Value::Null);
    let invalid = spa
        .post(
            "/address",
            json!({ "name": "Ada", "address": "1 Spa Street", "postal_code": "ABC", "country": "" }),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        invalid.json["errors"],
        json!({ "postal_code": "Postcode not valid", "country": "Please choose a country" })
    );
    ok(&spa
        .post(
            "/address",
            json!({ "name": "Ada", "address": "1 Spa Street", "postal_code": "10115", "country": "DE" }),
        )
        .await);

    let summary = ok(&spa.post("/checkout", body.clone()).await).clone();
    assert_eq!(summary["next"], json!("/spa/checkout/shipping"));
    assert_eq!(summary["address"]["country_name"], json!("Germany"));
    let methods: Vec<&str> = summary["shipping_methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["standard", "express"]);
    body["shipping_method"] = json!("express");
    assert_eq!(
        ok(&spa.post("/checkout", body.clone()).await)["next"],
        json!("/spa/checkout/payment")
    );
    body["payment"] = json!("saved-card");
    let review = ok(&spa.post("/checkout", body.clone()).await).clone();
    assert_eq!(review["next"], json!("/spa/checkout/review"));
    // 2 × 11.99 + 3.29 + 4.99 express
    assert_eq!(
        review["total_text"],
        json!("Total (3 items): €32.26, incl. €5.15 tax")
    );

    assert_eq!(
        ok(&spa.post("/orders", body.clone()).await),
        &json!({ "placed": true })
    );
    assert_eq!(
        ok(&spa.get("/confirmation").await),
        &json!({ "confirmed": true, "message": "Thank you! Your order is on its way." })
    );
    let ledger = store.ledger();
    assert_eq!(ledger.len(), 1);
    let entry = &ledger[0];
    assert_eq!(entry.total, "32.26");
    assert_eq!(entry.email, DEMO_EMAIL);
    assert_eq!(
        (
            entry.shipping_method.as_deref(),
            entry.shipping_fee.as_deref()
        ),
        (Some("express"), Some("4.99"))
    );
    assert_eq!(entry.items.len(), 2, "no protection plan was bought");
    assert_eq!(entry.items[0].variant.as_deref(), Some("16-rolls"));
    assert_eq!(
        (entry.postal_code.as_str(), entry.country.as_str()),
        ("10115", "DE")
    );

    let orders = ok(&spa.get("/orders").await).clone();
    assert_eq!(orders[0]["order_number"], json!("D-1001"));
    assert_eq!(orders[0]["total_text"], json!("€32.26"));
    assert_eq!(orders[0]["date"], json!(human(&entry.placed_at)));
    assert_eq!(
        orders[0]["items"][0]["name"],
        json!("Paper towels, 16 rolls")
    );

    // The address is remembered for the session: the next checkout skips it.
    let again = ok(&spa
        .post(
            "/checkout",
            json!({ "cart": [{ "sku": "dish-soap", "qty": 1 }], "protection": false }),
        )
        .await)
    .clone();
    assert_eq!(again["next"], json!("/spa/checkout/shipping"));

    // Accepting the plan is never needed, and costs money.
    body["protection"] = json!(true);
    let upsold = ok(&spa.post("/checkout", body.clone()).await).clone();
    assert_eq!(upsold["total"], json!("37.25"));
    assert_eq!(
        upsold["total_text"],
        json!("Total (3 items): €37.25, incl. €5.95 tax")
    );

    assert_eq!(
        ok(&spa.post("/signout", json!({})).await),
        &json!({ "signed_out": true })
    );
    assert_eq!(spa.get("/orders").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn spa_api_honours_the_faults() {
    let store = store().await;
    let mut spa = Spa::new(&store);
    spa.sign_in().await;

    fault(
        &store,
        json!({ "sku": "coffee-beans", "out_of_stock": true }),
    )
    .await;
    assert_eq!(
        ok(&spa.get("/products/coffee-beans").await)["in_stock"],
        json!(false)
    );
    let refused = spa
        .post("/cart/check", json!({ "sku": "coffee-beans", "qty": 1 }))
        .await;
    assert_eq!(
        (refused.status, &refused.json["code"]),
        (StatusCode::CONFLICT, &json!("out_of_stock"))
    );

    fault(&store, json!({ "sku": "dish-soap", "not_found": true })).await;
    assert_eq!(
        spa.get("/products/dish-soap").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        spa.get("/products/caviar").await.status,
        StatusCode::NOT_FOUND
    );

    fault(&store, json!({ "sku": "toilet-paper", "price": "7.77" })).await;
    assert_eq!(
        ok(&spa.get("/products/toilet-paper").await)["price_text"],
        json!("€7.77")
    );
    let summary = ok(&spa
        .post(
            "/checkout",
            json!({ "cart": [{ "sku": "toilet-paper", "qty": 2 }] }),
        )
        .await)
    .clone();
    assert_eq!(summary["total"], json!("15.54"));

    fault(&store, json!({ "sku": "laundry-pods", "challenge": true })).await;
    let challenged = spa.get("/products/laundry-pods").await;
    assert_eq!(challenged.status, StatusCode::OK);
    assert!(challenged
        .html
        .as_deref()
        .unwrap()
        .contains(r#"<div id="challenge">"#));
    let shell = Browser::new(&store).get("/spa/product/laundry-pods").await;
    assert!(
        shell.has("<title>Just a moment...</title>"),
        "a direct load is challenged too"
    );
    assert!(spa
        .post("/cart/check", json!({ "sku": "laundry-pods", "qty": 1 }))
        .await
        .html
        .is_some());

    fault(&store, json!({ "blocked": true })).await;
    let blocked = spa.get("/products").await;
    assert_eq!(blocked.status, StatusCode::FORBIDDEN);
    assert!(blocked.html.unwrap().contains(r#"id="access-denied""#));
    fault(&store, json!({ "blocked": false })).await;

    // hang at add: no answer, and nothing anywhere changes.
    fault(&store, json!({ "sku": "paper-towels", "hang": "add" })).await;
    let req = spa
        .http
        .post(format!("{}/spa/api/cart/check", store.base_url()))
        .header(COOKIE, format!("spa_sid={}", spa.token.as_deref().unwrap()))
        .json(&json!({ "sku": "paper-towels", "qty": 1 }));
    assert_unanswered(req).await;
    assert_eq!(store.hung(), [restock::demo::Step::Add]);

    // hang at place: the order is recorded, then no answer.
    ok(&spa
        .post(
            "/address",
            json!({ "name": "Ada", "address": "1 Spa Street", "postal_code": "10115", "country": "NL" }),
        )
        .await);
    fault(
        &store,
        json!({ "sku": "toilet-paper", "hang": "place", "hide_confirmation": true }),
    )
    .await;
    let body = json!({ "cart": [{ "sku": "toilet-paper", "qty": 1 }], "payment": "saved-card" });
    let req = spa
        .http
        .post(format!("{}/spa/api/orders", store.base_url()))
        .header(COOKIE, format!("spa_sid={}", spa.token.as_deref().unwrap()))
        .json(&body);
    assert_unanswered(req).await;
    assert_eq!(store.ledger().len(), 1, "the store took the order");
    assert_eq!(store.ledger()[0].total, "7.77");

    // hide_confirmation: the confirmation says something went wrong.
    assert_eq!(
        ok(&spa.get("/confirmation").await),
        &json!({ "confirmed": false, "message": "Something went wrong, please check your orders" })
    );
    assert_eq!(
        ok(&spa.get("/orders").await)[0]["order_number"],
        json!("D-1001")
    );

    let (_, _) = admin_post(&store, "signout-all", json!({})).await;
    let gone = spa.get("/orders").await;
    assert_eq!(
        (gone.status, &gone.json["code"]),
        (StatusCode::UNAUTHORIZED, &json!("signed_out"))
    );
    assert_eq!(ok(&spa.get("/session").await)["signed_in"], json!(false));
}

#[tokio::test]
async fn spa_sessions_expire_after_the_ttl() {
    let store = store_with(StoreOptions {
        session_ttl: Duration::from_secs(1),
        ..StoreOptions::default()
    })
    .await;
    let mut spa = Spa::new(&store);
    let signed_in = spa.sign_in().await;
    assert_eq!(signed_in["ttl_secs"], json!(1));
    poll("the spa session to expire", || async {
        (spa.get("/session").await.json["signed_in"] == json!(false)).then_some(())
    })
    .await;
    assert_eq!(spa.get("/orders").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn demo_store_command_takes_a_humane_session_ttl() {
    use tokio::io::AsyncBufReadExt;

    let home = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::from(bare(home.path()))
        .args([
            "demo-store",
            "--listen",
            "127.0.0.1:0",
            "--session-ttl",
            "90s",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let banner = within("the store to start", lines.next_line())
        .await
        .unwrap()
        .expect("a banner line");
    let base = banner
        .strip_prefix("demo store at ")
        .and_then(|rest| rest.split_once("/ "))
        .map(|(base, _)| base.to_owned())
        .unwrap_or_else(|| panic!("unexpected banner: {banner}"));
    assert!(banner.contains("/spa/"), "{banner}");
    let options = get_json(&reqwest::Client::new(), &format!("{base}/admin/options")).await;
    assert_eq!(options["session_ttl"], json!(90));
    child.kill().await.unwrap();

    let refused = tokio::process::Command::from(bare(home.path()))
        .args([
            "demo-store",
            "--listen",
            "127.0.0.1:0",
            "--session-ttl",
            "1500ms",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("session_ttl"), "{stderr}");
}
