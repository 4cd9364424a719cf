//! EMQX 4 `emqx_auth_http`: `auth_req` (clear password), `super_req` and `acl_req`.
//!
//! Followed: emqx-auth-http v4 `src/emqx_auth_http.erl` (auth: `200` + body `ignore` →
//! the next plugin decides; any other `200` → success; `400`/`401` →
//! `bad_username_or_password`, `403` → `not_authorized`, `503` → `server_unavailable`;
//! superuser: `200` → true, anything else false), `src/emqx_acl_http.erl` (acl: `200` +
//! `ignore` → no opinion, other `200` → allow, any other status → deny; `access` is `1` for
//! subscribe, `2` for publish) and `src/emqx_auth_http_cli.erl` (GET puts the parameters in
//! the query string; POST sends them form-encoded or as a JSON object of strings, as the
//! `content_type` says; an absent username or password is sent as `null`).
//!
//! | endpoint | case | answer |
//! |---|---|---|
//! | auth | password matches an unexpired record | 200 (empty body) |
//! | auth | wrong password, unknown user, expired | 401 |
//! | auth | store down or slow, too much password work | 503 (EMQX refuses with `server_unavailable`; never `ignore`, which `allow_anonymous` could turn into a login) |
//! | superuser | record's flag set | 200 |
//! | superuser | not a superuser, unknown, expired | 403 |
//! | superuser | store down | 503 (EMQX: not a superuser) |
//! | acl | a rule allows / denies | 200 `allow` / 403 |
//! | acl | no rule matched | 200 `ignore` |
//! | acl | store down | 503 (EMQX denies) |
//! | any | a required parameter missing or malformed | 400 |

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use mqtt_scram_authz::Access;
use serde::Deserialize;

use crate::backend::{
    AclRequest, AclVerdict, AppState, PasswordRequest, PasswordVerdict, SuperuserVerdict,
};
use crate::params::Params;
use crate::router::Rejection;

/// The `[emqx4]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Config {
    /// `auth_req` endpoint (default `/emqx4/auth`).
    pub auth_path: String,
    /// `super_req` endpoint (default `/emqx4/superuser`).
    pub superuser_path: String,
    /// `acl_req` endpoint (default `/emqx4/acl`).
    pub acl_path: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            auth_path: "/emqx4/auth".into(),
            superuser_path: "/emqx4/superuser".into(),
            acl_path: "/emqx4/acl".into(),
        }
    }
}

impl Config {
    /// Checks the table; the error names the setting.
    pub fn validate(&self) -> Result<(), String> {
        for (name, path) in [
            ("auth_path", &self.auth_path),
            ("superuser_path", &self.superuser_path),
            ("acl_path", &self.acl_path),
        ] {
            if !path.starts_with('/') {
                return Err(format!("emqx4.{name}: {path:?} must start with '/'"));
            }
        }
        Ok(())
    }
}

/// The routes: `GET`, `POST` and `PUT` on each of the three paths.
pub fn routes(state: AppState, config: &Config) -> Router {
    let state = Arc::new(state);
    fn any_of<H, T>(handler: H) -> MethodRouter<Arc<AppState>>
    where
        H: axum::handler::Handler<T, Arc<AppState>> + Clone,
        T: 'static,
    {
        get(handler.clone()).post(handler.clone()).put(handler)
    }
    Router::new()
        .route(&config.auth_path, any_of(auth))
        .route(&config.superuser_path, any_of(superuser))
        .route(&config.acl_path, any_of(acl))
        .with_state(state)
}

/// `ipaddr` (`%a`), when sent.
fn client_ip(params: &Params) -> Result<Option<IpAddr>, Rejection> {
    match params.get("ipaddr") {
        None | Some("") | Some("null") | Some("undefined") => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| Rejection::bad_request(format!("ipaddr: {text:?} is not an IP address"))),
    }
}

async fn auth(State(state): State<Arc<AppState>>, params: Params) -> Result<Response, Rejection> {
    let username = params.require("username")?;
    let password = params.require("password")?;
    let verdict = state
        .backend
        .check_password(PasswordRequest {
            username,
            password: password.as_bytes(),
            client_ip: client_ip(&params)?,
        })
        .await;
    Ok(match verdict {
        PasswordVerdict::Allow { .. } => StatusCode::OK.into_response(),
        PasswordVerdict::Deny => StatusCode::UNAUTHORIZED.into_response(),
        _ => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    })
}

async fn superuser(
    State(state): State<Arc<AppState>>,
    params: Params,
) -> Result<Response, Rejection> {
    let username = params.require("username")?;
    Ok(match state.backend.superuser(username).await {
        SuperuserVerdict::Yes => StatusCode::OK.into_response(),
        SuperuserVerdict::No => StatusCode::FORBIDDEN.into_response(),
        _ => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    })
}

async fn acl(State(state): State<Arc<AppState>>, params: Params) -> Result<Response, Rejection> {
    let access = match params.require("access")? {
        "1" => Access::Subscribe,
        "2" => Access::Publish,
        other => {
            return Err(Rejection::bad_request(format!(
                "access: {other:?} is neither 1 (subscribe) nor 2 (publish)"
            )));
        }
    };
    let topic = params.require("topic")?;
    if topic.is_empty() {
        return Err(Rejection::bad_request("topic: empty"));
    }
    let verdict = state
        .backend
        .authorize(AclRequest {
            username: params.get("username").unwrap_or(""),
            client_id: params.get("clientid").unwrap_or(""),
            client_ip: client_ip(&params)?,
            access,
            topic,
            qos: 0,
            retain: false,
        })
        .await;
    Ok(match verdict {
        AclVerdict::Allow => (StatusCode::OK, "allow").into_response(),
        AclVerdict::Deny => StatusCode::FORBIDDEN.into_response(),
        AclVerdict::NoMatch => (StatusCode::OK, "ignore").into_response(),
        _ => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    })
}
