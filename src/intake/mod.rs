//! The intake: the HTTP API buttons and dashboards talk to, and
//! `GET /metrics` for Prometheus (see [`crate::metrics`]).
//!
//! It answers at once and never buys: `POST /reorder` writes a pending row
//! (debounce and pause decided in the same transaction as the insert) and
//! wakes the engine. Bodies are limited to 16 KiB; every bad request gets a
//! 4xx with a one-line JSON `error` and changes nothing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::catalog::SharedCatalog;
use crate::db::{Db, DbError, Enqueued};
use crate::engine::Handle;
use crate::model::Status;

pub mod auth;
mod items;

pub use items::{ItemState, ItemStates, ItemStatus, ItemsCache, RenderCache, Rendered};

pub const BODY_LIMIT: usize = 16 * 1024;

/// What the intake needs; cheap to clone per request.
#[derive(Clone)]
pub struct Intake {
    pub db: Db,
    pub catalog: SharedCatalog,
    pub catalog_path: PathBuf,
    pub handle: Arc<Handle>,
    pub token: Option<Arc<str>>,
    pub debounce: Duration,
    pub cooldown: Duration,
    pub stall_after: Duration,
    /// Store names a reloaded catalog may use; `None` skips the check.
    pub known_stores: Option<Arc<Vec<String>>>,
    /// Extra JSON merged into `/health` (heartbeat, sessions), filled by
    /// the server when those parts are configured.
    pub health_extra:
        Option<Arc<dyn Fn() -> futures::future::BoxFuture<'static, Value> + Send + Sync>>,
    /// `GET /metrics` (token-protected); `None` answers 404.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// The last `GET /items` answer, while still true.
    pub items_cache: ItemsCache,
}

pub fn router(intake: Intake) -> Router {
    let protected = Router::new()
        .route("/reorder", post(reorder))
        .route("/items", get(items::items))
        .route("/queue", get(queue))
        .route("/reload", post(reload))
        .route("/resume", post(resume))
        .route("/stores", get(stores))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(
            intake.clone(),
            require_token,
        ));
    Router::new()
        .route("/health", get(health))
        .merge(protected)
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "no such route; see the README's API section",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(intake)
}

/// Binds and serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    intake: Intake,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(intake))
        .with_graceful_shutdown(shutdown)
        .await
}

pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

pub(crate) fn queue_error(e: DbError) -> Response {
    if e.is_unwritable() {
        tracing::error!(error = %e, "database cannot take writes");
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the database cannot take writes right now ({e}); nothing was queued, try again"
            ),
        );
    }
    tracing::error!(error = %e, "intake database error");
    error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

async fn require_token(
    State(intake): State<Intake>,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> Response {
    // One token rule for every route (src/signin/auth.rs).
    match crate::intake::auth::check_token(intake.token.as_deref(), &headers) {
        Ok(()) => next.run(req).await,
        Err(refused) => error(StatusCode::UNAUTHORIZED, refused.message()),
    }
}

/// `Json<T>` whose rejections are this API's 4xx answers.
struct Body<T>(T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> Response {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as JSON with `Content-Type: application/json`",
        ),
        JsonRejection::JsonDataError(e) => error(
            StatusCode::BAD_REQUEST,
            format!("wrong fields: {}", e.body_text()),
        ),
        JsonRejection::JsonSyntaxError(e) => error(
            StatusCode::BAD_REQUEST,
            format!("malformed JSON: {}", e.body_text()),
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body larger than {BODY_LIMIT} bytes"),
        ),
        other => error(other.status(), other.body_text()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReorderBody {
    item: String,
    #[serde(default)]
    requester: Option<String>,
}

async fn reorder(State(intake): State<Intake>, Body(body): Body<ReorderBody>) -> Response {
    match intake.reorder(&body.item, body.requester.as_deref()).await {
        Ok(Enqueued::Queued { id }) => (
            StatusCode::ACCEPTED,
            Json(json!({ "result": "queued", "id": id })),
        )
            .into_response(),
        Ok(other) => (StatusCode::OK, Json(other)).into_response(),
        Err(ReorderError::Db(e)) => queue_error(e),
        Err(e @ ReorderError::UnknownItem(_)) => error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e @ ReorderError::RequesterTooLong) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

/// Why a reorder was refused before anything was decided in the database.
#[derive(Debug, thiserror::Error)]
pub enum ReorderError {
    #[error("requester is longer than 200 characters")]
    RequesterTooLong,
    #[error("unknown item `{0}`; `GET /items` lists the catalog")]
    UnknownItem(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl Intake {
    /// A request for `item`: `POST /reorder`'s path, and the home page's
    /// Reorder button's (`src/web`), so both refuse alike. The item must be
    /// in the catalog; pause and debounce are decided in the insert's
    /// transaction ([`Db::enqueue`]). A queued order wakes the engine and
    /// is told to its observers ([`crate::engine::Event::Queued`]).
    pub async fn reorder(
        &self,
        item: &str,
        requester: Option<&str>,
    ) -> Result<Enqueued, ReorderError> {
        if requester.is_some_and(|r| r.len() > 200) {
            return Err(ReorderError::RequesterTooLong);
        }
        let known = crate::catalog::current(&self.catalog).get(item).is_some();
        if !known {
            return Err(ReorderError::UnknownItem(item.to_string()));
        }
        let enqueued = self.db.enqueue(item, requester, self.debounce).await?;
        if let Enqueued::Queued { id } = enqueued {
            // Told before the engine is woken: a fast buy's `claimed` and
            // `settled` must never reach an observer before its `queued`.
            self.handle.queued(id, item);
            self.handle.wake();
            tracing::info!(
                order = id,
                item,
                requester = requester.unwrap_or(""),
                "queued"
            );
        }
        Ok(enqueued)
    }

    /// Clears a pause and wakes the engine: `POST /resume`'s path and the
    /// home page's Resume button's. Returns the pause it cleared.
    pub async fn resume(&self) -> Result<Option<crate::db::Pause>, DbError> {
        let was = self.db.resume().await?;
        self.handle.wake();
        Ok(was)
    }
}

async fn health(State(intake): State<Intake>) -> Response {
    let silent = intake.handle.silent_for_ms();
    let stall_ms = intake.stall_after.as_millis() as i64;
    let healthy = silent.is_some_and(|s| s <= stall_ms);
    let mut body = json!({
        "status": if healthy { "ok" } else { "stalled" },
        "engine": intake.handle.activity(),
        "silent_ms": silent,
        "stall_after_ms": stall_ms,
        "turns": intake.handle.turns(),
    });
    if let Some(extra) = &intake.health_extra {
        if let (Value::Object(map), Value::Object(more)) = (&mut body, extra().await) {
            map.extend(more);
        }
    }
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueQuery {
    status: Option<String>,
    limit: Option<u32>,
}

async fn queue(
    State(intake): State<Intake>,
    query: Result<Query<QueueQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return error(
            StatusCode::BAD_REQUEST,
            "query parameters: `status` (a status name) and `limit` (a number)",
        );
    };
    let status = match q.status.as_deref().map(str::parse::<Status>).transpose() {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    match intake
        .db
        .recent(status, q.limit.unwrap_or(50).min(1000))
        .await
    {
        Ok(orders) => Json(orders).into_response(),
        Err(e) => queue_error(e),
    }
}

async fn reload(State(intake): State<Intake>) -> Response {
    match crate::catalog::reload(
        &intake.catalog,
        &intake.catalog_path,
        intake.known_stores.as_deref().map(|v| v.as_slice()),
    ) {
        Ok(n) => Json(json!({ "result": "reloaded", "items": n })).into_response(),
        Err(e) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{e}; the previous catalog stays in use"),
        ),
    }
}

async fn resume(State(intake): State<Intake>) -> Response {
    match intake.resume().await {
        Ok(was) => Json(json!({ "result": "resumed", "was_paused": was })).into_response(),
        Err(e) => queue_error(e),
    }
}

/// `GET /metrics`: the Prometheus text format.
async fn metrics(State(intake): State<Intake>) -> Response {
    let Some(metrics) = &intake.metrics else {
        return error(StatusCode::NOT_FOUND, "metrics are not served here");
    };
    let body = metrics.render().await;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            crate::metrics::CONTENT_TYPE,
        )],
        body,
    )
        .into_response()
}

/// `GET /stores`: every store the catalog uses or the probe knows, with its
/// session state (`signed_in`, `signed_out`, `unknown`), since when, the
/// last check and its error, when its session expires (`expires_at`), and
/// all that in words (`summary`: `signed in, expires in 6 d (checked 2h
/// ago)`).
async fn stores(State(intake): State<Intake>) -> Response {
    let known = match intake.db.sessions().await {
        Ok(rows) => rows,
        Err(e) => return queue_error(e),
    };
    let catalog = crate::catalog::current(&intake.catalog);
    let views: Vec<Value> = store_sessions(&catalog, known)
        .into_iter()
        .map(|(name, row)| match row {
            Some(row) => {
                let mut view = json!(row);
                view["summary"] = json!(crate::text::session(&row));
                view
            }
            None => json!({ "store": name, "state": "unknown", "since": null, "checked_at": null,
                            "last_result": null, "last_error": null, "notified_at": null }),
        })
        .collect();
    Json(views).into_response()
}

/// Every store the catalog uses or the session records know, by name, with
/// its record when there is one: `GET /stores`' list, and the home page's.
pub fn store_sessions(
    catalog: &crate::catalog::Catalog,
    mut known: Vec<crate::model::StoreSession>,
) -> Vec<(String, Option<crate::model::StoreSession>)> {
    let mut names = catalog.stores();
    names.extend(known.iter().map(|r| r.store.clone()));
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let row = known
                .iter()
                .position(|r| r.store == name)
                .map(|i| known.swap_remove(i));
            (name, row)
        })
        .collect()
}
