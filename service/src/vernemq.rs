//! The VerneMQ `vmq_webhooks` contract: placeholder until it is implemented. The `[vernemq]` table is read
//! (unknown keys refused) but refused by [`validate`] with "not yet supported", so a
//! configuration naming it never starts a service that silently ignores it.

use axum::Router;
use serde::Deserialize;

use crate::backend::AppState;

/// The `[vernemq]` table.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {}

/// Checks the table; the error names the setting.
pub fn validate(_config: &Config) -> Result<(), String> {
    Err("[vernemq]: not yet supported by this build".into())
}

/// The contract's routes.
pub fn routes(state: AppState, config: &Config) -> Router {
    let _ = (state, config);
    Router::new()
}
