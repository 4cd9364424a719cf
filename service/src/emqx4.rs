//! EMQX 4 `emqx_auth_http` (placeholder while being written).

use axum::Router;
use serde::Deserialize;

use crate::backend::AppState;

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

/// The routes.
pub fn routes(state: AppState, config: &Config) -> Router {
    let _ = (state, config);
    Router::new()
}
