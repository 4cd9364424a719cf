//! The VerneMQ `vmq_webhooks` contract: one path (default `/vernemq`), the hook named in the
//! `vernemq-hook` header, the arguments a JSON object as `vmq_webhooks_plugin.erl`
//! (`call_endpoint`, `encode_payload`) sends them.
//!
//! | hook | decision |
//! |---|---|
//! | `auth_on_register`, `auth_on_register_m5` | the clear `password` checked against the SCRAM verifier ([`Backend::check_password`], admitted per `peer_addr`), or with `[vernemq.jwt]` a JWT password as the gojek plugin checks it (HS256, `rid` claim = username): `ok`, or `{"error": "not_allowed"}`; no username or password: `next` |
//! | `auth_on_subscribe`, `auth_on_subscribe_m5` | each topic through [`Backend::authorize`]: all allowed `ok`; some refused: `ok` with the topics, refused ones with QoS 128 (v3, `topics`) or 135 (m5, `modifiers.topics`); no rule for any: `next` |
//! | `auth_on_publish`, `auth_on_publish_m5` | [`Backend::authorize`]: `ok`, `{"error": "not_allowed"}`, or `next` when no rule matched |
//!
//! The store down or slow: 503 (VerneMQ refuses), never `ok`. `cache_max_age` adds
//! `cache-control: max-age=N` to `ok` answers (VerneMQ caches them). `on_auth_m5` runs
//! SCRAM with the engine (see `enhanced`). Any other hook is refused with 400 naming it,
//! as are a missing header, a malformed body and missing fields.
//!
//! ```toml
//! [vernemq]
//! cache_max_age = 0        # seconds; 0 (default): no cache-control header
//! [vernemq.jwt]
//! secret_key_file = "/etc/mqtt-scram/jwt.key"   # HS256, as the gojek plugin's secret_key
//! ```
//!
//! [`Backend::check_password`]: crate::backend::Backend::check_password
//! [`Backend::authorize`]: crate::backend::Backend::authorize

mod answer;
mod enhanced;

pub use enhanced::{MAX_KEY_LEN, MAX_PENDING};

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use mqtt_scram_authz::Access;
use mqtt_scram_authz::fallback::jwt::JwtVerifier;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::backend::{AclRequest, AclVerdict, AppState, PasswordRequest, PasswordVerdict};
use crate::router::Rejection;

/// The `[vernemq]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The webhook path (default `/vernemq`).
    #[serde(default = "default_path")]
    pub path: String,
    /// Seconds VerneMQ may cache an `ok` of the auth hooks (`cache-control: max-age`);
    /// 0 (default): no header.
    #[serde(default)]
    pub cache_max_age: u32,
    /// Most `on_auth_m5` handshakes waiting for their second call (default 10,000, about
    /// 0.5 KiB each); beyond it the oldest is dropped.
    #[serde(default = "default_max_handshakes")]
    pub max_handshakes: usize,
    /// JWT passwords, as the gojek `vmq_gojek_auth` plugin checks them.
    #[serde(default)]
    pub jwt: Option<JwtConfig>,
}

/// `[vernemq.jwt]`: HS256 with a shared secret; the `rid` claim must equal the username.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct JwtConfig {
    /// File holding the HS256 secret (the plugin's `secret_key`; surrounding whitespace
    /// trimmed). Never logged.
    pub secret_key_file: PathBuf,
    /// The claim that must equal the username (default `rid`).
    #[serde(default = "default_claim")]
    pub username_claim: String,
}

fn default_path() -> String {
    "/vernemq".into()
}

fn default_max_handshakes() -> usize {
    MAX_PENDING
}

fn default_claim() -> String {
    "rid".into()
}

impl Default for Config {
    fn default() -> Self {
        Self {
            path: default_path(),
            cache_max_age: 0,
            max_handshakes: MAX_PENDING,
            jwt: None,
        }
    }
}

/// Checks the table; the error names the setting.
pub fn validate(config: &Config) -> Result<(), String> {
    if config.max_handshakes == 0 {
        return Err("[vernemq] max_handshakes: must be at least 1".into());
    }
    if !config.path.starts_with('/') {
        return Err("[vernemq] path: must start with '/'".into());
    }
    if let Some(jwt) = &config.jwt {
        load_jwt(jwt)?;
    }
    Ok(())
}

fn load_jwt(config: &JwtConfig) -> Result<JwtVerifier, String> {
    let text = Zeroizing::new(
        std::fs::read_to_string(&config.secret_key_file).map_err(|e| {
            format!(
                "[vernemq.jwt] secret_key_file {}: {e}",
                config.secret_key_file.display()
            )
        })?,
    );
    let secret = text.trim();
    if secret.is_empty() {
        return Err(format!(
            "[vernemq.jwt] secret_key_file {}: empty",
            config.secret_key_file.display()
        ));
    }
    Ok(JwtVerifier::hs256(secret.as_bytes()).username_claim(config.username_claim.clone()))
}

struct Contract {
    state: AppState,
    enhanced: enhanced::Enhanced,
    max_age: Option<u32>,
    jwt: Option<JwtVerifier>,
}

type Shared = Arc<Contract>;

/// The contract's route (POST on `path`).
pub fn routes(state: AppState, config: &Config) -> Router {
    let jwt = match config.jwt.as_ref().map(load_jwt).transpose() {
        Ok(jwt) => jwt,
        Err(e) => {
            // `validate` ran at start-up; a file gone since then disables JWT passwords.
            tracing::error!(error = %e, "JWT passwords disabled");
            None
        }
    };
    let shared = Arc::new(Contract {
        state,
        enhanced: enhanced::Enhanced::new(config.max_handshakes),
        max_age: Some(config.cache_max_age).filter(|s| *s > 0),
        jwt,
    });
    Router::new()
        .route(&config.path, post(webhook))
        .with_state(shared)
}

async fn webhook(
    State(c): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match dispatch(&c, &headers, body).await {
        Ok(response) => response,
        Err(rejection) => rejection.into_response(),
    }
}

async fn dispatch(
    c: &Contract,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Rejection> {
    let hook = headers
        .get("vernemq-hook")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Rejection::bad_request("missing vernemq-hook header"))?
        .to_owned();
    let body = body.map_err(|e| {
        let status = e.status();
        Rejection::new(
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                status
            } else {
                StatusCode::BAD_REQUEST
            },
            "cannot read the body",
        )
    })?;
    let Ok(Value::Object(args)) = serde_json::from_slice::<Value>(&body) else {
        return Err(Rejection::bad_request("the body is not a JSON object"));
    };
    match hook.as_str() {
        "auth_on_register" | "auth_on_register_m5" => register(c, &args).await,
        "auth_on_subscribe" => subscribe(c, &args, false).await,
        "auth_on_subscribe_m5" => subscribe(c, &args, true).await,
        "auth_on_publish" | "auth_on_publish_m5" => publish(c, &args).await,
        "on_auth_m5" => on_auth(c, &args).await,
        _ => Err(Rejection::bad_request(format!(
            "hook {:?} is not served (auth_on_register(_m5), on_auth_m5, auth_on_subscribe(_m5), auth_on_publish(_m5))",
            hook.chars().take(40).collect::<String>()
        ))),
    }
}

/// A string argument: `Ok(None)` for JSON `null`; 400 when missing or not a string.
fn text<'a>(args: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, Rejection> {
    match args.get(name) {
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Null) => Ok(None),
        Some(_) => Err(Rejection::bad_request(format!("{name:?} must be a string"))),
        None => Err(Rejection::bad_request(format!("missing {name:?}"))),
    }
}

async fn register(c: &Contract, args: &Map<String, Value>) -> Result<Response, Rejection> {
    let username = text(args, "username")?;
    let password = text(args, "password")?;
    let client_id = text(args, "client_id")?.unwrap_or("");
    if password.is_none()
        && let Some(identity) = c
            .enhanced
            .take_finished(text(args, "mountpoint")?.unwrap_or(""), client_id)
    {
        // Right after a finished on_auth_m5: that identity, no password needed.
        return Ok(match username {
            Some(name) if name != identity => answer::error("not_allowed"),
            Some(_) => answer::ok(None, None),
            None => answer::ok(Some(("modifiers", json!({"username": identity}))), None),
        });
    }
    let (Some(username), Some(password)) = (username, password) else {
        // No credentials to check: another plugin (or allow_anonymous) decides.
        return Ok(answer::next());
    };
    if let Some(jwt) = &c.jwt
        && looks_like_jwt(password)
    {
        return Ok(match jwt.verify(username, password.as_bytes()) {
            Ok(_) => answer::ok(None, c.max_age),
            Err(e) => {
                tracing::info!(contract = "vernemq", username, reason = %e, "JWT password refused");
                answer::error("not_allowed")
            }
        });
    }
    let client_ip = args
        .get("peer_addr")
        .and_then(Value::as_str)
        .and_then(|a| a.parse().ok());
    let verdict = c
        .state
        .backend
        .check_password(PasswordRequest {
            username,
            password: password.as_bytes(),
            client_ip,
        })
        .await;
    Ok(match verdict {
        PasswordVerdict::Allow { .. } => answer::ok(None, c.max_age),
        PasswordVerdict::Deny => answer::error("not_allowed"),
        PasswordVerdict::Unavailable | PasswordVerdict::Busy => answer::unavailable(),
    })
}

async fn on_auth(c: &Contract, args: &Map<String, Value>) -> Result<Response, Rejection> {
    let mountpoint = text(args, "mountpoint")?.unwrap_or("");
    let client_id = text(args, "client_id")?.unwrap_or("");
    let props = args.get("properties").and_then(Value::as_object);
    let field = |name: &str| props.and_then(|p| p.get(name)).and_then(Value::as_str);
    let Some(method) = field("p_authentication_method") else {
        return Err(Rejection::bad_request(
            "missing properties.p_authentication_method",
        ));
    };
    let data = match field("p_authentication_data").map(|d| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.decode(d)
    }) {
        Some(Ok(data)) => data,
        Some(Err(_)) => {
            return Err(Rejection::bad_request(
                "p_authentication_data is not base64",
            ));
        }
        None => Vec::new(),
    };
    let step = c
        .enhanced
        .step(&c.state.backend, mountpoint, client_id, method, &data)
        .await;
    Ok(match enhanced::modifiers(&step) {
        Some(modifiers) => answer::ok(Some(("modifiers", modifiers)), None),
        None => {
            if let enhanced::Step::Refused(reason) = &step {
                tracing::info!(contract = "vernemq", client_id, reason = %reason, "on_auth_m5 refused");
            }
            answer::error("not_authorized")
        }
    })
}

/// Three base64url parts separated by dots.
fn looks_like_jwt(password: &str) -> bool {
    let parts: Vec<&str> = password.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

async fn decide(
    c: &Contract,
    args: &Map<String, Value>,
    access: Access,
    topic: &str,
) -> Result<AclVerdict, Rejection> {
    let username = text(args, "username")?.unwrap_or("");
    let client_id = text(args, "client_id")?.unwrap_or("");
    Ok(c.state
        .backend
        .authorize(AclRequest {
            username,
            client_id,
            client_ip: None,
            access,
            topic,
            qos: args
                .get("qos")
                .and_then(Value::as_u64)
                .and_then(|q| u8::try_from(q).ok())
                .unwrap_or(0),
            retain: args.get("retain").and_then(Value::as_bool).unwrap_or(false),
        })
        .await)
}

async fn publish(c: &Contract, args: &Map<String, Value>) -> Result<Response, Rejection> {
    let topic = text(args, "topic")?.ok_or_else(|| Rejection::bad_request("topic is null"))?;
    Ok(match decide(c, args, Access::Publish, topic).await? {
        AclVerdict::Allow => answer::ok(None, c.max_age),
        AclVerdict::Deny => answer::error("not_allowed"),
        AclVerdict::NoMatch => answer::next(),
        AclVerdict::Unavailable => answer::unavailable(),
    })
}

async fn subscribe(
    c: &Contract,
    args: &Map<String, Value>,
    m5: bool,
) -> Result<Response, Rejection> {
    let Some(Value::Array(topics)) = args.get("topics") else {
        return Err(Rejection::bad_request("missing \"topics\" array"));
    };
    let refused_qos = if m5 { 135 } else { 128 };
    let mut answered = Vec::with_capacity(topics.len());
    let (mut any_rule, mut all_allowed) = (false, true);
    for entry in topics {
        let Some(Value::String(topic)) = entry.get("topic") else {
            return Err(Rejection::bad_request(
                "each topic needs a \"topic\" string",
            ));
        };
        let Some(qos) = entry.get("qos").and_then(Value::as_u64).filter(|q| *q <= 2) else {
            return Err(Rejection::bad_request(
                "each topic needs a \"qos\" of 0, 1 or 2",
            ));
        };
        let verdict = decide(c, args, Access::Subscribe, topic).await?;
        let allowed = match verdict {
            AclVerdict::Allow => {
                any_rule = true;
                true
            }
            AclVerdict::Deny => {
                any_rule = true;
                false
            }
            AclVerdict::NoMatch => false,
            AclVerdict::Unavailable => return Ok(answer::unavailable()),
        };
        all_allowed &= allowed;
        let mut out = entry.clone();
        if !allowed && let Some(map) = out.as_object_mut() {
            // `normalize_sub_topics`: a QoS outside 0..2 is kept bare, the options dropped.
            map.retain(|k, _| k == "topic");
            map.insert("qos".into(), json!(refused_qos));
        } else if let Some(map) = out.as_object_mut() {
            map.insert("qos".into(), json!(qos));
        }
        answered.push(out);
    }
    if !any_rule {
        return Ok(answer::next());
    }
    if all_allowed {
        return Ok(answer::ok(None, c.max_age));
    }
    let topics = Value::Array(answered);
    Ok(if m5 {
        // `handle_response` reads m5 subscriptions from `modifiers.topics`.
        answer::ok(Some(("modifiers", json!({"topics": topics}))), None)
    } else {
        // v3: from `topics` beside `result`.
        answer::ok(Some(("topics", topics)), None)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_shape() {
        assert!(looks_like_jwt("eyJh.eyJy.c2ln"));
        assert!(!looks_like_jwt("pencil"));
        assert!(!looks_like_jwt("a.b"));
        assert!(!looks_like_jwt("a..c"));
        assert!(!looks_like_jwt("a.b.c d"));
    }

    #[test]
    fn config() {
        let c: Config = toml::from_str("").unwrap();
        assert_eq!(c.path, "/vernemq");
        assert_eq!(c.cache_max_age, 0);
        assert!(validate(&c).is_ok());
        assert!(toml::from_str::<Config>("hooks = []").is_err());
        let c: Config = toml::from_str("path = \"x\"").unwrap();
        assert!(validate(&c).is_err());
        let c: Config = toml::from_str("[jwt]\nsecret_key_file = \"/nonexistent/key\"").unwrap();
        let e = validate(&c).unwrap_err();
        assert!(e.contains("secret_key_file"), "{e}");
    }
}
