//! The admin API (JSON, under `/admin/`): how tests and `restock demo` tell
//! the store to misbehave and read back what it did. It sits outside the
//! fault gate, so a blocked or hung store can still be inspected and healed.
//!
//! | route | what it does |
//! |-------|--------------|
//! | `GET/POST /admin/faults` | read / merge a fault patch (`faults.rs`) |
//! | `GET/POST /admin/options` | read / merge an options patch (`options.rs`); a bad patch answers 400 `{"error": reason}` and changes nothing |
//! | `POST /admin/reset` | clear faults, carts, addresses, ledger; options back to how the store started |
//! | `POST /admin/signout-all` | end every session |
//! | `POST /admin/carts/add` | put an item in every live server-side cart (not the spa's browser carts) |
//! | `GET /admin/orders` | the ledger, oldest first |
//! | `GET /admin/sessions` | how many sessions are live |

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::catalog;
use super::faults::FaultPatch;
use super::options::OptionsPatch;
use super::state::{Store, MAX_QTY};

type App = State<Arc<Store>>;

/// Admin routes, to be nested at `/admin`.
pub fn routes() -> Router<Arc<Store>> {
    Router::new()
        .route("/faults", get(faults).post(set_faults))
        .route("/options", get(options).post(set_options))
        .route("/reset", post(reset))
        .route("/signout-all", post(signout_all))
        .route("/carts/add", post(carts_add))
        .route("/orders", get(orders))
        .route("/sessions", get(sessions))
}

fn bad_request(message: impl std::fmt::Display) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": message.to_string() })),
    )
        .into_response()
}

async fn faults(State(store): App) -> Response {
    Json(store.faults()).into_response()
}

async fn set_faults(State(store): App, Json(patch): Json<FaultPatch>) -> Response {
    match store.apply_faults(patch) {
        Ok(faults) => Json(faults).into_response(),
        Err(err) => bad_request(err),
    }
}

async fn options(State(store): App) -> Response {
    Json(store.options()).into_response()
}

/// Parsed by hand rather than with the `Json` extractor, so every bad
/// patch (malformed, unknown field, wrong type, out of range) is a 400
/// that says what is wrong.
async fn set_options(State(store): App, body: Bytes) -> Response {
    match OptionsPatch::parse(&body).and_then(|patch| store.set_options(&patch)) {
        Ok(options) => Json(options).into_response(),
        Err(err) => bad_request(err),
    }
}

async fn reset(State(store): App) -> Response {
    store.reset();
    Json(json!({ "reset": true })).into_response()
}

async fn signout_all(State(store): App) -> Response {
    Json(json!({ "signed_out": store.sign_out_all() })).into_response()
}

/// Body of `POST /admin/carts/add`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlantItem {
    sku: String,
    #[serde(default = "one")]
    qty: u32,
}

fn one() -> u32 {
    1
}

async fn carts_add(State(store): App, Json(item): Json<PlantItem>) -> Response {
    let Some(product) = catalog::product(&item.sku) else {
        return bad_request(format_args!("unknown sku {:?}", item.sku));
    };
    if !(1..=MAX_QTY).contains(&item.qty) {
        return bad_request(format_args!("qty must be 1 to {MAX_QTY}"));
    }
    Json(json!({ "carts": store.plant(product, item.qty) })).into_response()
}

async fn orders(State(store): App) -> Response {
    Json(store.ledger()).into_response()
}

async fn sessions(State(store): App) -> Response {
    Json(json!({ "sessions": store.session_count() })).into_response()
}
