//! The amqtt contract: the broker's `amqtt.contrib.http.UserAuthHttpPlugin` and
//! `TopicAuthHttpPlugin` (amqtt 0.12.1, `amqtt/contrib/http.py`) asking this service.
//!
//! - `user_path` (default `/amqtt/user`): `username`, `password`, `client_id` → the clear
//!   password checked against the user's SCRAM verifier ([`Backend::check_password`]).
//! - `acl_path` (default `/amqtt/acl`): `username`, `client_id`, `topic`, `acc` (1 receive,
//!   2 publish, 3 receive and publish, 4 subscribe) → the EMQX rules of the record, then the
//!   ACL file ([`Backend::authorize`]); superusers are allowed everything (amqtt never asks
//!   `superuser_uri` itself).
//! - `superuser_path` (default `/amqtt/superuser`): `username` → the record's superuser flag.
//!
//! Requests come as the plugins send them in either `params_mode` (JSON body, also with GET;
//! a form in the query string for GET or in the body for POST/PUT), with GET, POST or PUT.
//! Answers follow the table's `response_mode` (see [`ResponseMode`]); a store that is down
//! or slow gets the mode's "no opinion" (`status`: 503, `json`: no `ok` key, `text`: 503),
//! never "ok". A request that cannot be read gets 400 (a body over 64 KiB 413), logged once
//! by the router.
//!
//! ```toml
//! [amqtt]
//! response_mode = "json"   # status | json | text, as in the broker's plugin configuration
//! ```
//!
//! [`Backend::check_password`]: crate::backend::Backend::check_password
//! [`Backend::authorize`]: crate::backend::Backend::authorize

mod answer;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use mqtt_scram_authz::Access;
use serde::Deserialize;

pub use answer::{Decision, ResponseMode};

use crate::backend::{
    AclRequest, AclVerdict, AppState, PasswordRequest, PasswordVerdict, SuperuserVerdict,
};
use crate::params::Params;
use crate::router::Rejection;

/// `[amqtt]` in `service.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The plugins' `response_mode` (default `json`, amqtt's default).
    #[serde(default)]
    pub response_mode: ResponseMode,
    /// The user plugin's `user_uri` (default `/amqtt/user`).
    #[serde(default = "default_user_path")]
    pub user_path: String,
    /// The topic plugin's `topic_uri` (default `/amqtt/acl`).
    #[serde(default = "default_acl_path")]
    pub acl_path: String,
    /// The plugins' `superuser_uri` (default `/amqtt/superuser`).
    #[serde(default = "default_superuser_path")]
    pub superuser_path: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            response_mode: ResponseMode::default(),
            user_path: default_user_path(),
            acl_path: default_acl_path(),
            superuser_path: default_superuser_path(),
        }
    }
}

fn default_user_path() -> String {
    "/amqtt/user".into()
}

fn default_acl_path() -> String {
    "/amqtt/acl".into()
}

fn default_superuser_path() -> String {
    "/amqtt/superuser".into()
}

/// Checks the table: each path starts with `/`, and the three are distinct.
pub fn validate(config: &Config) -> Result<(), String> {
    let paths = [
        ("user_path", &config.user_path),
        ("acl_path", &config.acl_path),
        ("superuser_path", &config.superuser_path),
    ];
    for (name, path) in paths {
        if !path.starts_with('/') {
            return Err(format!("[amqtt] {name}: must start with '/'"));
        }
    }
    if config.user_path == config.acl_path
        || config.user_path == config.superuser_path
        || config.acl_path == config.superuser_path
    {
        return Err("[amqtt]: user_path, acl_path and superuser_path must differ".into());
    }
    Ok(())
}

struct Contract {
    state: AppState,
    mode: ResponseMode,
}

type Shared = Arc<Contract>;

/// The contract's routes (GET, POST and PUT on each path).
pub fn routes(state: AppState, config: &Config) -> Router {
    let shared: Shared = Arc::new(Contract {
        state,
        mode: config.response_mode,
    });
    let methods = MethodFilter::GET
        .or(MethodFilter::POST)
        .or(MethodFilter::PUT);
    Router::new()
        .route(&config.user_path, on(methods, user))
        .route(&config.acl_path, on(methods, acl))
        .route(&config.superuser_path, on(methods, superuser))
        .with_state(shared)
}

fn bad(e: Rejection) -> Response {
    e.into_response()
}

async fn user(State(c): State<Shared>, params: Result<Params, Rejection>) -> Response {
    let params = match params {
        Ok(p) => p,
        Err(e) => return bad(e),
    };
    let username = match params.require("username") {
        Ok(u) => u,
        Err(e) => return bad(e),
    };
    // amqtt sends `password: null` for a client without one: nothing to check, refused.
    let Some(password) = params.get("password") else {
        tracing::info!(contract = "amqtt", username, "no password: denied");
        return Decision::Deny.answer(c.mode);
    };
    let verdict = c
        .state
        .backend
        .check_password(PasswordRequest {
            username,
            password: password.as_bytes(),
            client_ip: None,
        })
        .await;
    let decision = match verdict {
        PasswordVerdict::Allow { .. } => Decision::Allow,
        PasswordVerdict::Deny => Decision::Deny,
        PasswordVerdict::Busy | PasswordVerdict::Unavailable => Decision::Unavailable,
    };
    tracing::debug!(contract = "amqtt", username, ?decision, "user");
    decision.answer(c.mode)
}

async fn superuser(State(c): State<Shared>, params: Result<Params, Rejection>) -> Response {
    let params = match params {
        Ok(p) => p,
        Err(e) => return bad(e),
    };
    let username = match params.require("username") {
        Ok(u) => u,
        Err(e) => return bad(e),
    };
    let decision = match c.state.backend.superuser(username).await {
        SuperuserVerdict::Yes => Decision::Allow,
        SuperuserVerdict::No => Decision::Deny,
        SuperuserVerdict::Unavailable => Decision::Unavailable,
    };
    decision.answer(c.mode)
}

/// `acc` → the accesses to check (all must be allowed).
fn accesses(acc: &str) -> Option<&'static [Access]> {
    match acc.trim() {
        "1" => Some(&[Access::Read]),
        "2" => Some(&[Access::Publish]),
        "3" => Some(&[Access::Read, Access::Publish]),
        "4" => Some(&[Access::Subscribe]),
        _ => None,
    }
}

async fn acl(State(c): State<Shared>, params: Result<Params, Rejection>) -> Response {
    let params = match params {
        Ok(p) => p,
        Err(e) => return bad(e),
    };
    let fields = (|| {
        Ok::<_, Rejection>((
            params.require("topic")?,
            params.require("acc")?,
            params.get("client_id").unwrap_or(""),
        ))
    })();
    let (topic, acc, client_id) = match fields {
        Ok(f) => f,
        Err(e) => return bad(e),
    };
    let Some(accesses) = accesses(acc) else {
        return Rejection::bad_request("acc must be 1, 2, 3 or 4").into_response();
    };
    // A client without a username is anonymous (JSON null, or no field).
    let username = params.get("username").unwrap_or("");
    let backend = &c.state.backend;
    let mut decision = Decision::Allow;
    for &access in accesses {
        let verdict = backend
            .authorize(AclRequest {
                username,
                client_id,
                client_ip: None,
                access,
                topic,
                qos: 0,
                retain: false,
            })
            .await;
        let this = match verdict {
            AclVerdict::Allow => Decision::Allow,
            AclVerdict::Deny => Decision::Deny,
            AclVerdict::NoMatch => Decision::NoOpinion,
            AclVerdict::Unavailable => Decision::Unavailable,
        };
        decision = combine(decision, this);
    }
    if matches!(decision, Decision::Deny | Decision::NoOpinion) && !username.is_empty() {
        // Superusers may do anything (EMQX's meaning of the flag; amqtt has no other way
        // to apply it).
        match backend.superuser(username).await {
            SuperuserVerdict::Yes => decision = Decision::Allow,
            SuperuserVerdict::No => {}
            SuperuserVerdict::Unavailable => decision = Decision::Unavailable,
        }
    }
    tracing::debug!(contract = "amqtt", username, topic, acc, ?decision, "acl");
    decision.answer(c.mode)
}

/// Both answers together: any refusal refuses, then "can't decide", then "no rule".
fn combine(a: Decision, b: Decision) -> Decision {
    use Decision::{Allow, Deny, NoOpinion, Unavailable};
    match (a, b) {
        (Deny, _) | (_, Deny) => Deny,
        (Unavailable, _) | (_, Unavailable) => Unavailable,
        (NoOpinion, _) | (_, NoOpinion) => NoOpinion,
        (Allow, Allow) => Allow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acc_values() {
        assert_eq!(accesses("1"), Some(&[Access::Read][..]));
        assert_eq!(accesses("3").map(<[Access]>::len), Some(2));
        assert_eq!(accesses("4"), Some(&[Access::Subscribe][..]));
        assert_eq!(accesses("0"), None);
        assert_eq!(accesses("x"), None);
    }

    #[test]
    fn combining() {
        use Decision::*;
        assert_eq!(combine(Allow, Allow), Allow);
        assert_eq!(combine(Allow, NoOpinion), NoOpinion);
        assert_eq!(combine(Unavailable, Deny), Deny);
        assert_eq!(combine(NoOpinion, Unavailable), Unavailable);
    }

    #[test]
    fn config_defaults_and_unknown_keys() {
        let c: Config = toml::from_str("").unwrap();
        assert_eq!(c.response_mode, ResponseMode::Json);
        assert_eq!(c.user_path, "/amqtt/user");
        let c: Config = toml::from_str("response_mode = \"text\"").unwrap();
        assert_eq!(c.response_mode, ResponseMode::Text);
        assert!(toml::from_str::<Config>("params_mode = \"json\"").is_err());
        assert!(toml::from_str::<Config>("response_mode = \"xml\"").is_err());
        assert!(validate(&Config::default()).is_ok());
        let same: Config = toml::from_str("acl_path = \"/amqtt/user\"").unwrap();
        assert!(validate(&same).is_err());
        let relative: Config = toml::from_str("user_path = \"user\"").unwrap();
        assert!(validate(&relative).is_err());
    }
}
