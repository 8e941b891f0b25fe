//! The spa's JSON API, under `/spa/api/`. Requests authenticate by the
//! `spa_sid` cookie the page script sets; errors are JSON
//! `{"error": message, "code": code, ...}` with a fitting status, except
//! fault pages (block, challenge), which are the same HTML the other
//! layouts get, as a CDN in front of a real API answers.
//!
//! | route | answer |
//! |-------|--------|
//! | `GET /session` | `{signed_in, email}` |
//! | `POST /signin` `{email, password}` | `{token, email, ttl_secs, expires_at}` (epoch ms); 401 `bad_credentials` |
//! | `POST /signout` | `{signed_out}` |
//! | `GET /products` | `[{sku, name, price, price_text, in_stock}]` |
//! | `GET /products/{sku}?pack=` | one product with `packs`, `pack` and `json_ld` (text); 404 `not_found` |
//! | `POST /cart/check` `{sku, pack, qty}` | the line to put in the browser's cart; 401, 404, 409 `out_of_stock`, 400 |
//! | `POST /checkout` `{cart, protection, shipping_method, payment}` | the checkout summary: priced `lines`, the `pending` steps and the `next` page, saved `address`, `countries`, `shipping_methods`, `items`, `total`, `tax`, `total_text` |
//! | `POST /address` `{name, address, postal_code, country}` | saves the session's address; 400 `invalid` with per-field `errors` |
//! | `POST /orders` (body as `/checkout`) | places the order: `{placed: true}`; 409 `pending` with `next` if a step is missing |
//! | `GET /confirmation` | `{confirmed, message}` for the session's latest order |
//! | `GET /orders` | the signed-in user's orders, newest first |
//!
//! Faults: per-product block/challenge on `/products/{sku}` and
//! `/cart/check`; hangs at `product` (`/products/{sku}`), `add`
//! (`/cart/check`), `checkout` (`/checkout`), `place` (`/orders`, after
//! the order is recorded) and `confirmation` (`/confirmation`);
//! `not_found`, `out_of_stock` and `price` as on the other layouts;
//! `hide_confirmation` makes `/confirmation` answer `confirmed: false`.

use crate::demo::{FaultSet, Faults};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::demo::catalog::{self, Cents, UnknownPack, PRODUCTS};
use crate::demo::checkout::{
    self, human_date, Bill, Line, ShippingMethod, COUNTRIES, FIXED_SHIPPING, SHIPPING_METHODS,
};
use crate::demo::faults::Step;
use crate::demo::flow::{cookie, fault_page, hang, view};
use crate::demo::layout::json_ld_text;
use crate::demo::options::StoreOptions;
use crate::demo::state::{
    Basket, CartLine, Order, PlaceError, PlaceRequest, Session, Shipping, Store, MAX_QTY,
};
use crate::demo::DEMO_PASSWORD;

/// The session cookie the spa's script sets.
pub const SESSION_COOKIE: &str = "spa_sid";
/// The only payment method: the card the account has on file.
const SAVED_CARD: &str = "saved-card";
/// More lines than any household order has; bounds the work per request.
const MAX_LINES: usize = 50;

type App = State<Arc<Store>>;

pub fn routes() -> Router<Arc<Store>> {
    Router::new()
        .route("/spa/api/session", get(session))
        .route("/spa/api/signin", post(sign_in))
        .route("/spa/api/signout", post(sign_out))
        .route("/spa/api/products", get(products))
        .route("/spa/api/products/{sku}", get(product))
        .route("/spa/api/cart/check", post(cart_check))
        .route("/spa/api/checkout", post(checkout_summary))
        .route("/spa/api/address", post(save_address))
        .route("/spa/api/orders", get(orders).post(place))
        .route("/spa/api/confirmation", get(confirmation))
        .route("/spa/api/{*rest}", get(no_route).post(no_route))
}

/// Why an API request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("please sign in")]
    SignedOut,
    #[error("wrong email or password")]
    BadCredentials,
    #[error("no product {0:?}")]
    UnknownProduct(String),
    #[error("{0} is currently unavailable")]
    OutOfStock(&'static str),
    #[error(transparent)]
    UnknownPack(#[from] UnknownPack),
    #[error("quantity must be a whole number from 1 to {MAX_QTY}")]
    BadQty,
    #[error("a cart holds at most {MAX_LINES} lines")]
    TooManyLines,
    #[error("your cart is empty")]
    EmptyCart,
    #[error("unknown shipping method {0:?}")]
    UnknownShipping(String),
    #[error("unknown payment method {0:?}")]
    UnknownPayment(String),
    #[error("please check the highlighted fields")]
    Invalid(BTreeMap<&'static str, &'static str>),
    #[error("checkout is not complete: {} first", .0.name)]
    Pending(&'static SpaStep),
    #[error("no recent order in this session")]
    NoRecentOrder,
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("no such API route")]
    NoRoute,
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::SignedOut => (StatusCode::UNAUTHORIZED, "signed_out"),
            ApiError::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
            ApiError::UnknownProduct(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::OutOfStock(_) => (StatusCode::CONFLICT, "out_of_stock"),
            ApiError::UnknownPack(_) => (StatusCode::BAD_REQUEST, "unknown_pack"),
            ApiError::BadQty => (StatusCode::BAD_REQUEST, "bad_qty"),
            ApiError::TooManyLines => (StatusCode::BAD_REQUEST, "too_many_lines"),
            ApiError::EmptyCart => (StatusCode::CONFLICT, "empty_cart"),
            ApiError::UnknownShipping(_) => (StatusCode::BAD_REQUEST, "unknown_shipping"),
            ApiError::UnknownPayment(_) => (StatusCode::BAD_REQUEST, "unknown_payment"),
            ApiError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
            ApiError::Pending(_) => (StatusCode::CONFLICT, "pending"),
            ApiError::NoRecentOrder => (StatusCode::NOT_FOUND, "no_recent_order"),
            ApiError::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed"),
            ApiError::NoRoute => (StatusCode::NOT_FOUND, "no_route"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let mut body = json!({ "error": self.to_string(), "code": code });
        match &self {
            ApiError::Invalid(errors) => body["errors"] = json!(errors),
            ApiError::Pending(step) => body["next"] = json!(step.path),
            _ => {}
        }
        (status, Json(body)).into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

/// Parses a JSON body, answering a JSON 400 (not axum's plain-text
/// rejection) when it does not fit.
fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::Malformed(e.to_string()))
}

/// The signed-in session behind the `spa_sid` cookie, if it is live.
pub struct SpaViewer(Option<(String, Session)>);

impl SpaViewer {
    fn require(self) -> Result<(String, Session), ApiError> {
        self.0.ok_or(ApiError::SignedOut)
    }
}

impl FromRequestParts<Arc<Store>> for SpaViewer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, store: &Arc<Store>) -> Result<Self, Infallible> {
        let token = cookie(&parts.headers, SESSION_COOKIE);
        Ok(SpaViewer(
            token.and_then(|t| store.session(&t).map(|s| (t, s))),
        ))
    }
}

async fn session(viewer: SpaViewer) -> Response {
    let email = viewer.0.map(|(_, s)| s.email);
    Json(json!({ "signed_in": email.is_some(), "email": email })).into_response()
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

async fn sign_in(State(store): App, body: Bytes) -> ApiResult {
    let creds: Credentials = parse(&body)?;
    let email = creds.email.trim();
    if email.is_empty() || creds.password != DEMO_PASSWORD {
        return Err(ApiError::BadCredentials);
    }
    let signed_in = store.sign_in(email);
    let expires_at = signed_in
        .expires_at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Ok(Json(json!({
        "token": signed_in.token,
        "email": email,
        "ttl_secs": signed_in.ttl.as_secs(),
        "expires_at": expires_at,
    }))
    .into_response())
}

async fn sign_out(State(store): App, viewer: SpaViewer) -> Response {
    let ended = viewer.0.is_some_and(|(token, _)| store.sign_out(&token));
    Json(json!({ "signed_out": ended })).into_response()
}

/// One pack size as the product page's select shows it.
#[derive(Serialize)]
struct PackJson {
    id: &'static str,
    label: &'static str,
    price: Cents,
    price_text: String,
}

async fn products(State(store): App) -> Response {
    let faults = store.faults();
    let list: Vec<_> = PRODUCTS
        .iter()
        .map(|p| {
            let v = view(p, None, &faults);
            json!({
                "sku": p.sku,
                "name": v.name(),
                "price": v.price,
                "price_text": v.price.euro(),
                "in_stock": v.in_stock,
            })
        })
        .collect();
    Json(list).into_response()
}

/// The product `sku` with the faults that apply to it, as a request about
/// it at `step` sees them: `Ok(Err(page))` when a fault answers instead (a
/// block or challenge page, a hang), `Err` for an unknown or hidden
/// product.
async fn faulted(
    store: &Store,
    sku: &str,
    step: Step,
) -> Result<Result<(&'static catalog::Product, Faults, FaultSet), Response>, ApiError> {
    let product = catalog::product(sku).ok_or_else(|| ApiError::UnknownProduct(sku.to_string()))?;
    let faults = store.faults();
    let scoped = faults.for_sku(product.sku);
    if let Some(page) = fault_page(&scoped) {
        return Ok(Err(page));
    }
    if scoped.hangs_at(step) {
        return Ok(Err(hang(store, step).await));
    }
    if scoped.not_found {
        return Err(ApiError::UnknownProduct(sku.to_string()));
    }
    Ok(Ok((product, faults, scoped)))
}

#[derive(Deserialize)]
struct PackQuery {
    pack: Option<String>,
}

/// One product; an unknown `?pack=` shows the default size, as the
/// server-rendered layouts do.
async fn product(
    State(store): App,
    Path(sku): Path<String>,
    Query(q): Query<PackQuery>,
) -> ApiResult {
    let (product, faults, _) = match faulted(&store, &sku, Step::Product).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let pack = product.pack(q.pack.as_deref()).ok().flatten();
    let v = view(product, pack, &faults);
    let packs: Vec<PackJson> = v
        .packs
        .iter()
        .map(|(p, price)| PackJson {
            id: p.id,
            label: p.label,
            price: *price,
            price_text: price.euro(),
        })
        .collect();
    Ok(Json(json!({
        "sku": product.sku,
        "name": v.name(),
        "price": v.price,
        "price_text": v.price.euro(),
        "in_stock": v.in_stock,
        "pack": v.pack.map(|p| p.id),
        "packs": packs,
        "json_ld": json_ld_text(&v),
    }))
    .into_response())
}

/// A line of the browser's cart, as posted.
#[derive(Debug, Clone, Deserialize)]
struct CartItem {
    sku: String,
    #[serde(default)]
    pack: Option<String>,
    qty: u32,
}

impl CartItem {
    fn resolve(&self) -> Result<CartLine, ApiError> {
        let product = catalog::product(&self.sku)
            .ok_or_else(|| ApiError::UnknownProduct(self.sku.clone()))?;
        let pack = product.pack(self.pack.as_deref())?;
        if !(1..=MAX_QTY).contains(&self.qty) {
            return Err(ApiError::BadQty);
        }
        Ok(CartLine {
            product,
            pack,
            qty: self.qty,
        })
    }
}

/// A priced line as the pages show it.
#[derive(Serialize)]
struct LineJson {
    sku: &'static str,
    pack: Option<&'static str>,
    name: &'static str,
    qty: u32,
    price: Cents,
    price_text: String,
    amount_text: String,
}

impl From<&Line> for LineJson {
    fn from(l: &Line) -> Self {
        LineJson {
            sku: l.product.sku,
            pack: l.pack.map(|p| p.id),
            name: l.name(),
            qty: l.qty,
            price: l.price,
            price_text: l.price.euro(),
            amount_text: l.amount().euro(),
        }
    }
}

/// The add button's request: is this line available, at what price? The
/// server keeps nothing; the browser puts the answer in its cart.
async fn cart_check(State(store): App, viewer: SpaViewer, body: Bytes) -> ApiResult {
    let item: CartItem = parse(&body)?;
    let (product, faults, scoped) = match faulted(&store, &item.sku, Step::Add).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    viewer.require()?;
    if scoped.out_of_stock {
        return Err(ApiError::OutOfStock(product.name));
    }
    let line = checkout::priced(&[item.resolve()?], &faults);
    Ok(Json(json!({ "line": LineJson::from(&line[0]) })).into_response())
}

/// What the browser posts at checkout and at Place Order: its cart and
/// the choices made on the checkout pages so far.
#[derive(Debug, Default, Deserialize)]
struct CheckoutBody {
    #[serde(default)]
    cart: Vec<CartItem>,
    /// `true` accepted, `false` declined, absent not asked yet.
    protection: Option<bool>,
    shipping_method: Option<String>,
    payment: Option<String>,
}

/// What decides which checkout pages are still to come.
pub struct Progress {
    options: StoreOptions,
    has_address: bool,
    protection: Option<bool>,
    shipping_chosen: bool,
    paid: bool,
}

/// One page of the spa's checkout and when it is still needed. The
/// checkout is this list, in order: the next page is the first one
/// needed, and the review is always last.
pub struct SpaStep {
    pub name: &'static str,
    pub path: &'static str,
    needed: fn(&Progress) -> bool,
}

const PROTECTION: SpaStep = SpaStep {
    name: "protection",
    path: "/spa/checkout/protection",
    needed: |p| p.options.interstitial && p.protection.is_none(),
};
const ADDRESS: SpaStep = SpaStep {
    name: "address",
    path: "/spa/checkout/address",
    needed: |p| !p.has_address,
};
const SHIPPING: SpaStep = SpaStep {
    name: "shipping",
    path: "/spa/checkout/shipping",
    needed: |p| p.options.shipping_choice && !p.shipping_chosen,
};
const PAYMENT: SpaStep = SpaStep {
    name: "payment",
    path: "/spa/checkout/payment",
    needed: |p| !p.paid,
};
const REVIEW: SpaStep = SpaStep {
    name: "review",
    path: "/spa/checkout/review",
    needed: |_| true,
};

/// The spa's checkout pages in order (see [`SpaStep`]).
pub const STEPS: &[SpaStep] = &[PROTECTION, ADDRESS, SHIPPING, PAYMENT, REVIEW];

impl std::fmt::Debug for SpaStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// A posted checkout, checked against the store: its lines, the shipping
/// method, whether the plan is taken, and the pages still to come.
struct Checkout {
    cart: Vec<CartLine>,
    shipping: &'static ShippingMethod,
    protection: bool,
    pending: Vec<&'static SpaStep>,
}

impl Checkout {
    fn of(body: &CheckoutBody, session: &Session, options: StoreOptions) -> Result<Self, ApiError> {
        if body.cart.len() > MAX_LINES {
            return Err(ApiError::TooManyLines);
        }
        let cart = body
            .cart
            .iter()
            .map(CartItem::resolve)
            .collect::<Result<Vec<_>, _>>()?;
        if cart.is_empty() {
            return Err(ApiError::EmptyCart);
        }
        let chosen = match &body.shipping_method {
            Some(id) => Some(
                checkout::shipping_method(id)
                    .ok_or_else(|| ApiError::UnknownShipping(id.clone()))?,
            ),
            None => None,
        };
        let paid = match body.payment.as_deref() {
            None => false,
            Some(SAVED_CARD) => true,
            Some(other) => return Err(ApiError::UnknownPayment(other.to_owned())),
        };
        let progress = Progress {
            options,
            has_address: session.shipping.is_some(),
            protection: body.protection,
            shipping_chosen: chosen.is_some(),
            paid,
        };
        Ok(Checkout {
            cart,
            shipping: match options.shipping_choice {
                true => chosen.unwrap_or(FIXED_SHIPPING),
                false => FIXED_SHIPPING,
            },
            protection: options.interstitial && body.protection == Some(true),
            pending: STEPS.iter().filter(|s| (s.needed)(&progress)).collect(),
        })
    }

    /// The first page still needed (the review when all are done).
    fn next(&self) -> &'static SpaStep {
        self.pending
            .first()
            .copied()
            .unwrap_or(&STEPS[STEPS.len() - 1])
    }
}

#[derive(Serialize)]
struct AddressJson {
    name: String,
    address: String,
    postal_code: String,
    country: &'static str,
    country_name: &'static str,
}

impl From<&Shipping> for AddressJson {
    fn from(s: &Shipping) -> Self {
        AddressJson {
            name: s.name.clone(),
            address: s.address.clone(),
            postal_code: s.postal_code.clone(),
            country: s.country.code,
            country_name: s.country.name,
        }
    }
}

async fn checkout_summary(State(store): App, viewer: SpaViewer, body: Bytes) -> ApiResult {
    let body: CheckoutBody = parse(&body)?;
    let (_, session) = viewer.require()?;
    let options = store.options();
    let checkout = Checkout::of(&body, &session, options)?;
    let faults = store.faults();
    if faults
        .for_skus(checkout.cart.iter().map(|l| l.product.sku))
        .hangs_at(Step::Checkout)
    {
        return Ok(hang(&store, Step::Checkout).await);
    }
    let lines = checkout::priced_with_protection(&checkout.cart, &faults, checkout.protection);
    let bill = Bill::new(lines, Some(checkout.shipping));
    let methods: Vec<_> = SHIPPING_METHODS
        .iter()
        .filter(|m| options.shipping_choice || m.id == FIXED_SHIPPING.id)
        .map(|m| json!({ "id": m.id, "label": m.label, "fee": m.fee, "fee_text": fee_text(m) }))
        .collect();
    let countries: Vec<_> = COUNTRIES
        .iter()
        .map(|c| json!({ "code": c.code, "name": c.name }))
        .collect();
    Ok(Json(json!({
        "lines": bill.lines.iter().map(LineJson::from).collect::<Vec<_>>(),
        "pending": checkout.pending.iter().map(|s| s.name).collect::<Vec<_>>(),
        "next": checkout.next().path,
        "address": session.shipping.as_ref().map(AddressJson::from),
        "countries": countries,
        "shipping_methods": methods,
        "shipping_method": checkout.shipping.id,
        "shipping_text": format!("{} - {}", checkout.shipping.label, fee_text(checkout.shipping)),
        "items": bill.items(),
        "total": bill.total,
        "tax": bill.tax(),
        "total_text": bill.total_text(),
    }))
    .into_response())
}

fn fee_text(method: &ShippingMethod) -> String {
    match method.fee {
        Cents(0) => "Free".into(),
        fee => fee.euro(),
    }
}

#[derive(Deserialize)]
struct AddressBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    postal_code: String,
    #[serde(default)]
    country: String,
}

/// The address rules the page script also applies before posting; the
/// server holds to them too, whatever a client sends.
fn valid_address(body: &AddressBody) -> Result<Shipping, ApiError> {
    let mut errors = BTreeMap::new();
    if body.name.trim().is_empty() {
        errors.insert("name", "Please enter your name");
    }
    if body.address.trim().is_empty() {
        errors.insert("address", "Please enter your address");
    }
    if !body.postal_code.chars().any(|c| c.is_ascii_digit()) {
        errors.insert("postal_code", "Postcode not valid");
    }
    let country = checkout::country(body.country.trim());
    if country.is_none() {
        errors.insert("country", "Please choose a country");
    }
    match (errors.is_empty(), country) {
        (true, Some(country)) => Ok(Shipping {
            name: body.name.trim().into(),
            address: body.address.trim().into(),
            postal_code: body.postal_code.trim().into(),
            country,
        }),
        _ => Err(ApiError::Invalid(errors)),
    }
}

async fn save_address(State(store): App, viewer: SpaViewer, body: Bytes) -> ApiResult {
    let body: AddressBody = parse(&body)?;
    let (token, _) = viewer.require()?;
    let shipping = valid_address(&body)?;
    let saved = AddressJson::from(&shipping);
    store
        .with_session(&token, |s| s.shipping = Some(shipping))
        .ok_or(ApiError::SignedOut)?;
    Ok(Json(json!({ "address": saved })).into_response())
}

/// Place Order: the posted cart, once every checkout page is done. The
/// answer names no order number (the confirmation shows none either).
async fn place(State(store): App, viewer: SpaViewer, body: Bytes) -> ApiResult {
    let body: CheckoutBody = parse(&body)?;
    let (token, session) = viewer.require()?;
    let checkout = Checkout::of(&body, &session, store.options())?;
    let next = checkout.next();
    if next.name != REVIEW.name {
        return Err(ApiError::Pending(next));
    }
    let request = PlaceRequest {
        basket: Basket::Posted(checkout.cart),
        require_payment: false,
        shipping: Some(checkout.shipping),
        protection: checkout.protection,
    };
    let order = store.place(&token, request).map_err(|e| match e {
        PlaceError::SignedOut => ApiError::SignedOut,
        PlaceError::EmptyCart => ApiError::EmptyCart,
        PlaceError::NoShipping => ApiError::Pending(&ADDRESS),
        PlaceError::NoPayment => ApiError::Pending(&PAYMENT),
    })?;
    tracing::info!(order = %order.number, total = %order.bill.total.plain(), "demo store (spa): order placed");
    if store.faults().for_skus(order.skus()).hangs_at(Step::Place) {
        return Ok(hang(&store, Step::Place).await);
    }
    Ok(Json(json!({ "placed": true })).into_response())
}

/// The confirmation of this session's latest order, or, under the
/// `hide_confirmation` fault, a generic error in its place.
async fn confirmation(State(store): App, viewer: SpaViewer) -> ApiResult {
    let (_, session) = viewer.require()?;
    let order = session
        .last_order
        .and_then(|n| store.order(&n))
        .ok_or(ApiError::NoRecentOrder)?;
    let scoped = store.faults().for_skus(order.skus());
    if scoped.hangs_at(Step::Confirmation) {
        return Ok(hang(&store, Step::Confirmation).await);
    }
    let answer = match scoped.hide_confirmation {
        true => {
            json!({ "confirmed": false, "message": "Something went wrong, please check your orders" })
        }
        false => json!({ "confirmed": true, "message": "Thank you! Your order is on its way." }),
    };
    Ok(Json(answer).into_response())
}

fn order_json(o: &Order) -> serde_json::Value {
    let items: Vec<_> = o
        .bill
        .lines
        .iter()
        .map(|l| json!({ "sku": l.product.sku, "variant": l.pack.map(|p| p.id), "name": l.name(), "qty": l.qty }))
        .collect();
    json!({
        "order_number": o.number,
        "placed_at": o.placed_at.to_rfc3339(),
        "date": human_date(&o.placed_at),
        "total": o.bill.total,
        "total_text": o.bill.total.euro(),
        "items": items,
    })
}

async fn orders(State(store): App, viewer: SpaViewer) -> ApiResult {
    let (_, session) = viewer.require()?;
    let list: Vec<_> = store
        .orders_of(&session.email)
        .iter()
        .map(order_json)
        .collect();
    Ok(Json(list).into_response())
}

async fn no_route() -> ApiError {
    ApiError::NoRoute
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(options: StoreOptions) -> Progress {
        Progress {
            options,
            has_address: false,
            protection: None,
            shipping_chosen: false,
            paid: false,
        }
    }

    fn pending(p: &Progress) -> Vec<&'static str> {
        STEPS
            .iter()
            .filter(|s| (s.needed)(p))
            .map(|s| s.name)
            .collect()
    }

    #[test]
    fn the_step_list_follows_the_options_and_the_progress() {
        let plain = progress(StoreOptions::default());
        assert_eq!(pending(&plain), ["address", "payment", "review"]);
        let all = progress(StoreOptions {
            interstitial: true,
            shipping_choice: true,
            ..StoreOptions::default()
        });
        assert_eq!(
            pending(&all),
            ["protection", "address", "shipping", "payment", "review"]
        );
        let done = Progress {
            has_address: true,
            protection: Some(false),
            shipping_chosen: true,
            paid: true,
            ..all
        };
        assert_eq!(pending(&done), ["review"]);
    }

    #[test]
    fn addresses_are_checked_field_by_field() {
        let body = AddressBody {
            name: "Ada".into(),
            address: " ".into(),
            postal_code: "ABC".into(),
            country: String::new(),
        };
        let Err(ApiError::Invalid(errors)) = valid_address(&body) else {
            panic!("an invalid address passed")
        };
        assert_eq!(
            errors.keys().copied().collect::<Vec<_>>(),
            ["address", "country", "postal_code"]
        );
        assert_eq!(errors["postal_code"], "Postcode not valid");
    }
}
