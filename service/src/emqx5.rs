//! EMQX 5 "REST API-based SCRAM" authenticator (`mechanism = scram`, `backend = http`): the
//! service serves the user's verifier and EMQX computes the exchange itself.
//!
//! Followed: EMQX `apps/emqx_auth_http/src/emqx_authn_scram_restapi.erl` (only a 200 is
//! used; the body must hold `stored_key`, `server_key` and `salt` in hex, decoded with
//! `binary:decode_hex`), `emqx_authn_http.erl` `extract_auth_data/2` (`is_superuser`,
//! `client_attrs`, `expire_at` in Unix seconds, `acl` as EMQX rules) and
//! `emqx_utils_scram.erl` (the iteration count and algorithm come from EMQX's own
//! configuration, never from the answer).
//!
//! EMQX sends the username as its `body` template says: `GET ?username=…` (the query
//! string, as in its test suite `emqx_authn_scram_restapi_SUITE.erl`) or `POST` with a JSON
//! (default) or form body. Answers:
//!
//! | case | answer |
//! |---|---|
//! | record with the configured `algorithm` and `iterations`, not expired | 200, the record |
//! | unknown user, expired record, or a record with another count/hash (logged) | 200 with a keyed mock record (`mock = true`, the default), else 404 |
//! | store down or slow | 503 (EMQX refuses the login; it has no "ignore" here) |
//! | no username | 400 |

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mqtt_scram::HashAlgorithm;
use mqtt_scram::credentials::StoredCredentials;
use mqtt_scram::provider::{Lookup, UserRecord};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::backend::{AppState, now_unix, record_rules};
use crate::params::Params;
use crate::router::Rejection;

/// The `[emqx5]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Config {
    /// The endpoint (default `/emqx5/scram`).
    pub path: String,
    /// The `iteration_count` EMQX's authenticator is configured with (default 4096, EMQX's
    /// default). Records with another count are not served.
    pub iterations: u32,
    /// The `algorithm` EMQX's authenticator is configured with (`sha256`, the default, or
    /// `sha512`). Records of the other hash are not served.
    pub algorithm: HashAlgorithm,
    /// Serve a keyed mock record for unknown users (default `true`), so EMQX sends a normal
    /// challenge and fails at the proof instead of answering at once.
    pub mock: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            path: "/emqx5/scram".into(),
            iterations: 4096,
            algorithm: HashAlgorithm::Sha256,
            mock: true,
        }
    }
}

impl Config {
    /// Checks the table; the error names the setting.
    pub fn validate(&self) -> Result<(), String> {
        if !self.path.starts_with('/') {
            return Err(format!("emqx5.path: {:?} must start with '/'", self.path));
        }
        if self.iterations == 0 {
            return Err("emqx5.iterations: must be at least 1".into());
        }
        Ok(())
    }
}

struct Endpoint {
    state: AppState,
    config: Config,
}

/// The route: `GET` and `POST` on [`Config::path`].
pub fn routes(state: AppState, config: &Config) -> Router {
    let endpoint = Arc::new(Endpoint {
        state,
        config: config.clone(),
    });
    Router::new()
        .route(&config.path, get(handle).post(handle))
        .with_state(endpoint)
}

async fn handle(
    State(endpoint): State<Arc<Endpoint>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Rejection> {
    let params = Params::parse(query.as_deref(), &headers, body)?;
    let username = params.require("username")?;
    let config = &endpoint.config;
    let backend = &endpoint.state.backend;
    let record = match backend.lookup(username, config.algorithm.mechanism()).await {
        Lookup::Found(record) => usable(&record, config, username).then_some(record),
        Lookup::NotFound => None,
        Lookup::Ignore(reason) => {
            tracing::warn!(username, reason = %reason.detail(), "emqx5: store could not decide; answering 503");
            return Ok(StatusCode::SERVICE_UNAVAILABLE.into_response());
        }
    };
    let body = match record {
        Some(record) => record_body(&record),
        None if config.mock => {
            match backend.mock_credentials(config.algorithm, username, config.iterations) {
                Some(mock) => credentials_body(&mock, false),
                None => return Ok(StatusCode::SERVICE_UNAVAILABLE.into_response()),
            }
        }
        None => return Ok(StatusCode::NOT_FOUND.into_response()),
    };
    Ok(axum::Json(Value::Object(body)).into_response())
}

/// Whether the record may be served: EMQX's hash and count, not expired.
fn usable(record: &UserRecord, config: &Config, username: &str) -> bool {
    let credentials = &record.credentials;
    if credentials.hash() != config.algorithm || credentials.iterations() != config.iterations {
        tracing::warn!(
            username,
            record_algorithm = %credentials.hash(),
            record_iterations = credentials.iterations(),
            emqx_algorithm = %config.algorithm,
            emqx_iterations = config.iterations,
            "emqx5: record does not match the algorithm/iterations EMQX is configured with; answered as an unknown user"
        );
        return false;
    }
    !record.attributes.is_expired_at(now_unix())
}

fn credentials_body(credentials: &StoredCredentials, is_superuser: bool) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert(
        "stored_key".into(),
        Value::String(hex::encode(credentials.stored_key().as_bytes())),
    );
    body.insert(
        "server_key".into(),
        Value::String(hex::encode(credentials.server_key().as_bytes())),
    );
    body.insert(
        "salt".into(),
        Value::String(hex::encode(credentials.salt())),
    );
    body.insert("is_superuser".into(), Value::Bool(is_superuser));
    body
}

fn record_body(record: &UserRecord) -> Map<String, Value> {
    let attributes = &record.attributes;
    let mut body = credentials_body(&record.credentials, attributes.is_superuser);
    if let Some(rules) = record_rules(record)
        && !rules.is_empty()
    {
        body.insert("acl".into(), json!(rules.rules()));
    }
    if let Some(expire_at) = attributes.expire_at {
        body.insert("expire_at".into(), json!(expire_at));
    }
    if !attributes.client_attrs.is_empty() {
        body.insert("client_attrs".into(), json!(attributes.client_attrs));
    }
    body
}
