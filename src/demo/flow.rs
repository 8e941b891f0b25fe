//! The server-rendered storefront's behaviour — sign-in, product pages
//! (with pack sizes), cart, address, optional payment page, review, place
//! order, confirmation, order history — written once and generic over the
//! [`Layout`] that renders it (classic and alt).
//!
//! The checkout is linear by default (cart → address → review → place), as
//! the purchaser has always known it. Two store options add the shapes of
//! other shops: `payment_step` puts a payment page with its own Continue
//! between address and review, and `saved_address` makes `/checkout` skip
//! the address form once the session has an address (`?change=1` still
//! shows it), as shops that remember you do.
//!
//! Fault handling order on a page: global `blocked`/`challenge` (the
//! [`gate`] middleware, in front of every store page) → per-product
//! `blocked`/`challenge` → `hang` → `not_found` → the page itself.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};

use super::alt::Alt;
use super::catalog::{self, PRODUCTS};
use super::checkout::{self, Bill};
use super::classic::Classic;
use super::faults::{FaultSet, Faults, Step};
use super::layout::{self, Layout, ProductView, ShipTo};
use super::options::StoreOptions;
use super::state::{CartLine, PlaceError, PlaceRequest, Session, Shipping, Store, MAX_QTY};
use super::DEMO_PASSWORD;

/// Name of the session cookie. It is persistent (`Max-Age` = the store's
/// session TTL, 30 days by default) so a browser profile stays signed in
/// across restarts, which is what the purchaser's profiles rely on.
pub const SESSION_COOKIE: &str = "demo_session";

type App = State<Arc<Store>>;
type FormData = Form<HashMap<String, String>>;

/// All routes of one layout.
pub fn routes<L: Layout>() -> Router<Arc<Store>> {
    let p = &L::PATHS;
    Router::new()
        .route(p.home, get(home::<L>))
        .route(p.signin, get(signin_form::<L>).post(signin_submit::<L>))
        .route(p.account, get(account::<L>))
        .route(p.product, get(product::<L>))
        .route(p.cart_add, post(cart_add::<L>))
        .route(p.cart, get(cart::<L>))
        .route(p.cart_empty, post(cart_empty::<L>))
        .route(
            p.checkout,
            get(checkout_form::<L>).post(checkout_submit::<L>),
        )
        .route(p.payment, get(payment_form::<L>).post(payment_submit::<L>))
        .route(p.review, get(review::<L>))
        .route(p.place, post(place::<L>))
        .route(p.confirmation, get(confirmation::<L>))
        .route(p.orders, get(orders::<L>))
}

/// Who is asking: the live session named by the `demo_session` cookie, if
/// any. A cookie whose session was ended counts as signed out.
#[derive(Default)]
pub struct Viewer(Option<(String, Session)>);

impl Viewer {
    fn email(&self) -> Option<&str> {
        self.0.as_ref().map(|(_, s)| s.email.as_str())
    }
}

impl FromRequestParts<Arc<Store>> for Viewer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, store: &Arc<Store>) -> Result<Self, Infallible> {
        let token = session_token(&parts.headers);
        Ok(Viewer(
            token.and_then(|t| store.session(&t).map(|s| (t, s))),
        ))
    }
}

/// The `demo_session` value from the request's `Cookie` headers.
fn session_token(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE)
}

pub use crate::html::cookie;

/// Answers every store page with the global block or challenge page when
/// one is set. Admin routes sit outside this layer.
///
/// Every store response is marked `no-store`: a browser must see the stock,
/// price and faults of this moment, never a cached page from before.
pub async fn gate(State(store): App, req: Request, next: Next) -> Response {
    let (headers, path) = (req.headers().clone(), req.uri().to_string());
    let mut response = super::challenge::scope(&headers, path, async {
        match fault_page(&store.faults().global) {
            Some(page) => page,
            None => next.run(req).await,
        }
    })
    .await;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Unknown URLs get the 404 page of the layout their path belongs to.
pub async fn fallback(viewer: Viewer, uri: Uri) -> Response {
    match uri.path().starts_with("/alt/") {
        true => not_found::<Alt>(&viewer),
        false => not_found::<Classic>(&viewer),
    }
}

/// The block or challenge page a fault set calls for, if any.
pub fn fault_page(faults: &FaultSet) -> Option<Response> {
    if faults.blocked {
        return Some((StatusCode::FORBIDDEN, Html(layout::blocked_page())).into_response());
    }
    // A browser that clicked "Verify you are human" passes (challenge.rs).
    (faults.challenge && !super::challenge::passed()).then(super::challenge::page)
}

/// A request that never gets an answer — until the server shuts down, so a
/// hang fault cannot keep the process (or a test) alive forever. Noted in
/// [`Store::hung`] as it begins.
pub async fn hang(store: &Store, step: Step) -> Response {
    store.note_hang(step);
    store.shutdown.cancelled().await;
    (StatusCode::SERVICE_UNAVAILABLE, "demo store shutting down").into_response()
}

fn page<L: Layout>(viewer: &Viewer, title: &str, body: String) -> Response {
    page_with::<L>(StatusCode::OK, viewer, title, body)
}

fn page_with<L: Layout>(
    status: StatusCode,
    viewer: &Viewer,
    title: &str,
    body: String,
) -> Response {
    (status, Html(L::page(title, viewer.email(), &body))).into_response()
}

fn not_found<L: Layout>(viewer: &Viewer) -> Response {
    page_with::<L>(
        StatusCode::NOT_FOUND,
        viewer,
        "Page not found",
        L::not_found(),
    )
}

fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}

fn to_signin<L: Layout>(next: &str) -> Response {
    see_other(&L::PATHS.signin_then(next))
}

/// A trimmed form field, empty when missing.
fn field<'a>(form: &'a HashMap<String, String>, name: &str) -> &'a str {
    form.get(name).map_or("", |v| v.trim())
}

/// Where to go after sign-in: only a local path, never `//host` (no open
/// redirect), else the account page.
fn safe_next(next: Option<&String>, default: &str) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.clone(),
        _ => default.to_owned(),
    }
}

fn cart_faults(cart: &[CartLine], faults: &Faults) -> FaultSet {
    faults.for_skus(cart.iter().map(|l| l.product.sku))
}

/// A product page's view of `pack` (the default when `None`).
pub fn view(
    product: &'static catalog::Product,
    pack: Option<&'static catalog::Pack>,
    faults: &Faults,
) -> ProductView {
    let pack = pack.or(product.default_pack());
    ProductView {
        product,
        pack,
        price: faults.price_for(product, pack),
        in_stock: !faults.for_sku(product.sku).out_of_stock,
        packs: product
            .packs
            .iter()
            .map(|p| (p, faults.price_for(product, Some(p))))
            .collect(),
    }
}

/// Where the flow goes after the address: the payment page when the
/// store has one, else the review.
fn after_address<L: Layout>(options: &StoreOptions) -> &'static str {
    match options.payment_step {
        true => L::PATHS.payment,
        false => L::PATHS.review,
    }
}

async fn home<L: Layout>(State(store): App, viewer: Viewer) -> Response {
    let faults = store.faults();
    let products: Vec<ProductView> = PRODUCTS.iter().map(|p| view(p, None, &faults)).collect();
    page::<L>(&viewer, "Home", L::home(&products))
}

async fn signin_form<L: Layout>(
    viewer: Viewer,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let next = safe_next(q.get("next"), L::PATHS.account);
    page::<L>(&viewer, "Sign in", L::signin(&next, false))
}

async fn signin_submit<L: Layout>(
    State(store): App,
    viewer: Viewer,
    Form(form): FormData,
) -> Response {
    let next = safe_next(form.get("next"), L::PATHS.account);
    let email = field(&form, L::FIELDS.email);
    let password = form.get(L::FIELDS.password).map_or("", String::as_str);
    if email.is_empty() || password != DEMO_PASSWORD {
        return page::<L>(&viewer, "Sign in", L::signin(&next, true));
    }
    let signed_in = store.sign_in(email);
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax",
        signed_in.token,
        signed_in.ttl.as_secs()
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
}

async fn account<L: Layout>(viewer: Viewer) -> Response {
    match viewer.email() {
        Some(email) => page::<L>(&viewer, "Your account", L::account(email)),
        None => to_signin::<L>(L::PATHS.account),
    }
}

/// A product page; the layout's pack field in the query (`?pack=16-rolls`)
/// picks the size shown. An unknown size shows the default, as shops do
/// with a stale link.
async fn product<L: Layout>(
    State(store): App,
    viewer: Viewer,
    Path(sku): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(product) = catalog::product(&sku) else {
        return not_found::<L>(&viewer);
    };
    let faults = store.faults();
    let scoped = faults.for_sku(product.sku);
    if let Some(page) = fault_page(&scoped) {
        return page;
    }
    if scoped.hangs_at(Step::Product) {
        return hang(&store, Step::Product).await;
    }
    if scoped.not_found {
        return not_found::<L>(&viewer);
    }
    let pack = product
        .pack(q.get(L::FIELDS.pack).map(String::as_str))
        .ok()
        .flatten();
    let view = view(product, pack, &faults);
    page::<L>(&viewer, view.name(), L::product(&view))
}

/// Quantity from the add form: missing or blank means 1.
fn parse_qty(form: &HashMap<String, String>) -> Option<u32> {
    match field(form, "qty") {
        "" => Some(1),
        text => text.parse().ok().filter(|q| (1..=MAX_QTY).contains(q)),
    }
}

fn bad_request<L: Layout>(viewer: &Viewer, title: &str, message: &str) -> Response {
    let body = format!("<p class=\"error\">{}</p>", layout::esc(message));
    page_with::<L>(StatusCode::BAD_REQUEST, viewer, title, body)
}

async fn cart_add<L: Layout>(State(store): App, viewer: Viewer, Form(form): FormData) -> Response {
    let Some(product) = catalog::product(field(&form, "sku")) else {
        return not_found::<L>(&viewer);
    };
    let scoped = store.faults().for_sku(product.sku);
    if let Some(page) = fault_page(&scoped) {
        return page;
    }
    if scoped.hangs_at(Step::Add) {
        return hang(&store, Step::Add).await;
    }
    if scoped.not_found {
        return not_found::<L>(&viewer);
    }
    let product_path = L::PATHS.product_of(product.sku);
    let Some((token, _)) = &viewer.0 else {
        return to_signin::<L>(&product_path);
    };
    if scoped.out_of_stock {
        // The page the browser came from now says "unavailable"; show it.
        return see_other(&product_path);
    }
    let Some(qty) = parse_qty(&form) else {
        let message = format!("Quantity must be a whole number from 1 to {MAX_QTY}");
        return bad_request::<L>(&viewer, "Invalid quantity", &message);
    };
    let pack = match product.pack(form.get(L::FIELDS.pack).map(String::as_str)) {
        Ok(pack) => pack,
        Err(err) => return bad_request::<L>(&viewer, "Invalid pack size", &err.to_string()),
    };
    match store.add_to_cart(token, product, pack, qty) {
        true => see_other(L::PATHS.cart),
        false => to_signin::<L>(&product_path),
    }
}

async fn cart<L: Layout>(State(store): App, viewer: Viewer) -> Response {
    let Some((_, session)) = &viewer.0 else {
        return to_signin::<L>(L::PATHS.cart);
    };
    let body = L::cart(&checkout::priced(&session.cart, &store.faults()));
    page::<L>(&viewer, "Cart", body)
}

async fn cart_empty<L: Layout>(State(store): App, viewer: Viewer) -> Response {
    let Some((token, _)) = &viewer.0 else {
        return to_signin::<L>(L::PATHS.cart);
    };
    store.with_session(token, |s| s.cart.clear());
    see_other(L::PATHS.cart)
}

/// The address form — skipped when the store remembers addresses and this
/// session has one, unless `?change=1` asks for the form.
async fn checkout_form<L: Layout>(
    State(store): App,
    viewer: Viewer,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some((_, session)) = &viewer.0 else {
        return to_signin::<L>(L::PATHS.checkout);
    };
    if cart_faults(&session.cart, &store.faults()).hangs_at(Step::Checkout) {
        return hang(&store, Step::Checkout).await;
    }
    if session.cart.is_empty() {
        return see_other(L::PATHS.cart);
    }
    let options = store.options();
    let change = q.get("change").is_some_and(|v| v == "1");
    if options.saved_address && session.shipping.is_some() && !change {
        return see_other(after_address::<L>(&options));
    }
    page::<L>(&viewer, "Checkout", L::checkout(None))
}

/// Shipping fields from the form, or the message naming what is missing.
fn shipping<L: Layout>(form: &HashMap<String, String>) -> Result<Shipping, String> {
    let f = &L::FIELDS;
    let wanted = [
        (f.name, "name"),
        (f.address, "address"),
        (f.postal_code, "postal code"),
    ];
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(key, _)| field(form, key).is_empty())
        .map(|(_, label)| *label)
        .collect();
    if !missing.is_empty() {
        return Err(format!("Please fill in: {}", missing.join(", ")));
    }
    let country = match field(form, f.country) {
        "" => checkout::DEFAULT_COUNTRY,
        code => checkout::country(code).ok_or("Please choose a country from the list")?,
    };
    Ok(Shipping {
        name: field(form, f.name).into(),
        address: field(form, f.address).into(),
        postal_code: field(form, f.postal_code).into(),
        country,
    })
}

async fn checkout_submit<L: Layout>(
    State(store): App,
    viewer: Viewer,
    Form(form): FormData,
) -> Response {
    let Some((token, _)) = &viewer.0 else {
        return to_signin::<L>(L::PATHS.checkout);
    };
    match shipping::<L>(&form) {
        Err(message) => page::<L>(&viewer, "Checkout", L::checkout(Some(&message))),
        Ok(ship) => match store.with_session(token, |s| s.shipping = Some(ship)) {
            Some(()) => see_other(after_address::<L>(&store.options())),
            None => to_signin::<L>(L::PATHS.checkout),
        },
    }
}

/// Where a signed-in session must go before it can see the payment page
/// or the review: the cart when it is empty, the address form when there
/// is no address.
fn checkout_prerequisite<L: Layout>(session: &Session) -> Option<Response> {
    if session.cart.is_empty() {
        return Some(see_other(L::PATHS.cart));
    }
    session
        .shipping
        .is_none()
        .then(|| see_other(L::PATHS.checkout))
}

/// The payment page; not part of the store unless `payment_step` is on.
async fn payment_form<L: Layout>(State(store): App, viewer: Viewer) -> Response {
    if !store.options().payment_step {
        return not_found::<L>(&viewer);
    }
    let Some((_, session)) = &viewer.0 else {
        return to_signin::<L>(L::PATHS.payment);
    };
    if let Some(redirect) = checkout_prerequisite::<L>(session) {
        return redirect;
    }
    page::<L>(&viewer, "Payment", L::payment())
}

async fn payment_submit<L: Layout>(State(store): App, viewer: Viewer) -> Response {
    if !store.options().payment_step {
        return not_found::<L>(&viewer);
    }
    let Some((token, session)) = &viewer.0 else {
        return to_signin::<L>(L::PATHS.payment);
    };
    if let Some(redirect) = checkout_prerequisite::<L>(session) {
        return redirect;
    }
    match store.with_session(token, |s| s.paid = true) {
        Some(()) => see_other(L::PATHS.review),
        None => to_signin::<L>(L::PATHS.payment),
    }
}

async fn review<L: Layout>(State(store): App, viewer: Viewer) -> Response {
    let Some((_, session)) = &viewer.0 else {
        return to_signin::<L>(L::PATHS.review);
    };
    if let Some(redirect) = checkout_prerequisite::<L>(session) {
        return redirect;
    }
    if store.options().payment_step && !session.paid {
        return see_other(L::PATHS.payment);
    }
    let Some(ship) = &session.shipping else {
        return see_other(L::PATHS.checkout);
    };
    let bill = Bill::new(checkout::priced(&session.cart, &store.faults()), None);
    let ship_to = ShipTo {
        name: &ship.name,
        address: &ship.address,
        postal_code: &ship.postal_code,
        country: ship.country,
    };
    page::<L>(
        &viewer,
        "Review your order",
        L::review(&bill.lines, &ship_to, bill.total),
    )
}

async fn place<L: Layout>(State(store): App, viewer: Viewer) -> Response {
    let Some((token, _)) = &viewer.0 else {
        return to_signin::<L>(L::PATHS.review);
    };
    let request = PlaceRequest::session_cart(store.options().payment_step);
    let order = match store.place(token, request) {
        Ok(order) => order,
        Err(PlaceError::SignedOut) => return to_signin::<L>(L::PATHS.review),
        Err(PlaceError::EmptyCart) => return see_other(L::PATHS.cart),
        Err(PlaceError::NoShipping) => return see_other(L::PATHS.checkout),
        Err(PlaceError::NoPayment) => return see_other(L::PATHS.payment),
    };
    tracing::info!(order = %order.number, total = %order.bill.total.plain(), "demo store: order placed");
    if store.faults().for_skus(order.skus()).hangs_at(Step::Place) {
        // The order is in the ledger; only the answer goes missing.
        return hang(&store, Step::Place).await;
    }
    see_other(&L::PATHS.confirmation_of(&order.number))
}

/// Viewable without a session: the order number in the URL is the key, as
/// on many real stores' "thank you" pages, so a sign-out right after Place
/// Order does not hide whether the order went through.
async fn confirmation<L: Layout>(
    State(store): App,
    viewer: Viewer,
    Path(number): Path<String>,
) -> Response {
    let Some(order) = store.order(&number) else {
        return not_found::<L>(&viewer);
    };
    let scoped = store.faults().for_skus(order.skus());
    if scoped.hangs_at(Step::Confirmation) {
        return hang(&store, Step::Confirmation).await;
    }
    if scoped.hide_confirmation {
        return page::<L>(&viewer, "Something went wrong", L::confirmation_lost());
    }
    let shown = (!scoped.no_order_number).then_some(order.number.as_str());
    page::<L>(&viewer, "Thank you", L::confirmation(shown))
}

/// The signed-in user's orders, newest first.
async fn orders<L: Layout>(State(store): App, viewer: Viewer) -> Response {
    let Some(email) = viewer.email() else {
        return to_signin::<L>(L::PATHS.orders);
    };
    let body = L::orders(&store.orders_of(email));
    page::<L>(&viewer, "Your orders", body)
}
