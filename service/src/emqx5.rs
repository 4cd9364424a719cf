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
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mqtt_scram::HashAlgorithm;
use mqtt_scram::credentials::StoredCredentials;
use mqtt_scram::provider::{Lookup, UserRecord};
use serde::Deserialize;

use crate::backend::{AppState, is_expired, record_rules};
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
    params: Params,
) -> Result<Response, Rejection> {
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
                Some(mock) => Ok(credentials_body(&mock, false).finish()),
                None => return Ok(StatusCode::SERVICE_UNAVAILABLE.into_response()),
            }
        }
        None => return Ok(StatusCode::NOT_FOUND.into_response()),
    };
    match body {
        Ok(body) => Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response()),
        Err(e) => {
            tracing::warn!(username, error = %e, "emqx5: cannot write the record's attributes as JSON; answering 503");
            Ok(StatusCode::SERVICE_UNAVAILABLE.into_response())
        }
    }
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
    !is_expired(&record.attributes)
}

/// The answer's JSON object, written straight into its buffer: the keys and salt are hex
/// (nothing to escape), so only the optional attributes go through `serde_json`. This is
/// the hot path of EMQX 5 lookups (a `serde_json::Map` of owned strings cost a tenth of
/// the request).
struct JsonBody(Vec<u8>);

impl JsonBody {
    fn hex_field(&mut self, key: &str, bytes: &[u8]) {
        self.0.extend_from_slice(b"\"");
        self.0.extend_from_slice(key.as_bytes());
        self.0.extend_from_slice(b"\":\"");
        let start = self.0.len();
        self.0.resize(start + 2 * bytes.len(), b'0');
        if let Some(out) = self.0.get_mut(start..) {
            // Cannot fail: `out` is exactly twice as long as `bytes`.
            let _ = hex::encode_to_slice(bytes, out);
        }
        self.0.extend_from_slice(b"\",");
    }

    fn value_field(&mut self, key: &str, value: &impl serde::Serialize) -> serde_json::Result<()> {
        self.0.extend_from_slice(b",\"");
        self.0.extend_from_slice(key.as_bytes());
        self.0.extend_from_slice(b"\":");
        serde_json::to_writer(&mut self.0, value)
    }

    fn finish(mut self) -> Vec<u8> {
        self.0.push(b'}');
        self.0
    }
}

fn credentials_body(credentials: &StoredCredentials, is_superuser: bool) -> JsonBody {
    let stored_key = credentials.stored_key().as_bytes();
    let server_key = credentials.server_key().as_bytes();
    let salt = credentials.salt();
    let mut body = JsonBody(Vec::with_capacity(
        96 + 2 * (stored_key.len() + server_key.len() + salt.len()),
    ));
    body.0.push(b'{');
    body.hex_field("stored_key", stored_key);
    body.hex_field("server_key", server_key);
    body.hex_field("salt", salt);
    body.0.extend_from_slice(if is_superuser {
        b"\"is_superuser\":true"
    } else {
        b"\"is_superuser\":false"
    });
    body
}

fn record_body(record: &UserRecord) -> serde_json::Result<Vec<u8>> {
    let attributes = &record.attributes;
    let mut body = credentials_body(&record.credentials, attributes.is_superuser);
    if let Some(rules) = record_rules(record)
        && !rules.is_empty()
    {
        body.value_field("acl", &rules.rules())?;
    }
    if let Some(expire_at) = attributes.expire_at {
        body.value_field("expire_at", &expire_at)?;
    }
    if !attributes.client_attrs.is_empty() {
        body.value_field("client_attrs", &attributes.client_attrs)?;
    }
    Ok(body.finish())
}
