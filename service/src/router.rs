//! The axum router: each configured contract's routes, the shared-secret check, the 64 KiB
//! body limit, a 404 for unknown paths, and one log line per bad request.

use std::borrow::Cow;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use crate::backend::AppState;
use crate::config::ServiceConfig;
use crate::{amqtt, emqx4, emqx5, vernemq};

/// Largest request body accepted (64 KiB); larger ones get 413.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A bad request: its status and why (logged once by the router, sent as the body). The
/// reason never holds a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The status (4xx).
    pub status: StatusCode,
    /// Why, for the log and the body.
    pub reason: Cow<'static, str>,
}

impl Rejection {
    /// A rejection with `status`.
    pub fn new(status: StatusCode, reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            reason: reason.into(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason)
    }
}

/// Carried in a response's extensions so that [`router`]'s logging layer can say why.
#[derive(Clone, Debug)]
struct Reason(Cow<'static, str>);

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let mut response = (self.status, format!("{}\n", self.reason)).into_response();
        response.extensions_mut().insert(Reason(self.reason));
        response
    }
}

/// The whole service: every contract whose table is in `config`, behind the shared-secret
/// check (when configured) and the body limit.
pub fn router(state: AppState, config: &ServiceConfig) -> Router {
    let mut app = Router::new();
    if let Some(c) = &config.emqx5 {
        app = app.merge(emqx5::routes(state.clone(), c));
    }
    if let Some(c) = &config.emqx4 {
        app = app.merge(emqx4::routes(state.clone(), c));
    }
    if let Some(c) = &config.amqtt {
        app = app.merge(amqtt::routes(state.clone(), c));
    }
    if let Some(c) = &config.vernemq {
        app = app.merge(vernemq::routes(state.clone(), c));
    }
    app.fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state, guard))
}

async fn not_found(method: Method) -> Rejection {
    Rejection::new(
        StatusCode::NOT_FOUND,
        format!("no such endpoint for {method}"),
    )
}

/// The one layer every request goes through (one boxed future per request, not one per
/// concern): the shared-secret check, then one log line for each bad request (an answer
/// built from a [`Rejection`]: malformed, unknown path, too large, missing secret) with the
/// method, path (never the query string, which may hold a password), status and reason.
/// Decisions (a wrong password's 401, a denied topic's 403) are answers, not bad requests,
/// and are not logged here.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    // Cheap: the URI shares the request's bytes; the path is read only when logging.
    let uri = request.uri().clone();
    let response = match state.backend.shared_secret() {
        Some(secret) if !secret.accepts(request.headers()) => Rejection::new(
            StatusCode::UNAUTHORIZED,
            format!("missing or wrong {} header", secret.header()),
        )
        .into_response(),
        _ => next.run(request).await,
    };
    let status = response.status();
    if let Some(Reason(reason)) = response.extensions().get::<Reason>() {
        tracing::warn!(%method, path = uri.path(), status = status.as_u16(), reason = reason.as_ref(), "bad request");
    } else if status == StatusCode::METHOD_NOT_ALLOWED {
        tracing::warn!(%method, path = uri.path(), status = status.as_u16(), "bad request: method not allowed");
    }
    response
}
