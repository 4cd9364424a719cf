//! The optional password fallback (`plugin_opt_basic_auth`, off by default): a CONNECT
//! User Name and Password checked against the SCRAM credentials
//! (`mqtt_scram_authz::fallback::plain`), for clients without enhanced authentication.
//! The password crosses the network (use it on TLS listeners only) and costs the broker one
//! PBKDF2 run per CONNECT; an unknown user costs the same run.

use std::sync::Arc;
use std::time::Instant;

use mqtt_scram::credentials::StoredCredentials;
use mqtt_scram::provider::Lookup;
use mqtt_scram::saslprep::{Mode, saslprep};
use mqtt_scram::{Clock as _, HashAlgorithm, Identity, Mechanism};
use mqtt_scram_authz::fallback::verify_plain_password;

use crate::credentials::Request;
use crate::log::Level;
use crate::plugin::{ClientFacts, Plugin, Verdict};
use crate::sessions::Session;

impl Plugin {
    /// `MOSQ_EVT_BASIC_AUTH` (only with `basic_auth`): CONNECT's username and password
    /// checked against the SCRAM credentials, with the same work for unknown users.
    pub(crate) fn on_basic_auth(
        &self,
        client: &ClientFacts<'_>,
        username: Option<&str>,
        password: Option<&[u8]>,
    ) -> Verdict {
        let Some(username) = username else {
            return Verdict::Defer;
        };
        let password = password.and_then(|p| std::str::from_utf8(p).ok());
        let now = self.clock.now();
        let prepared = saslprep(username, Mode::Query).ok().map(|u| u.into_owned());
        let mut inner = self.lock();
        let connection = Arc::new(self.connection(client, &inner));
        let mut found = None;
        if let Some(name) = &prepared {
            for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
                let request = Request {
                    mechanism,
                    username: name.clone(),
                    authzid: None,
                    connection: Arc::clone(&connection),
                };
                if let Lookup::Found(record) = self.credentials.lookup(request) {
                    let usable = record.credentials.hash() == mechanism.hash()
                        && self
                            .server
                            .config()
                            .policy()
                            .check(&record.credentials)
                            .is_ok()
                        && !record.is_expired_at(now.unix_seconds());
                    if usable {
                        found = Some((mechanism, record));
                    }
                    break;
                }
            }
        }
        let accepted = match (&found, password) {
            (Some((_, record)), Some(p)) => verify_plain_password(record, p),
            _ => {
                // The same PBKDF2 run as for a real user, then a refusal.
                let _ = StoredCredentials::derive(
                    HashAlgorithm::Sha256,
                    password.unwrap_or_default(),
                    b"mqtt-scram mock!",
                    self.options.iterations,
                );
                false
            }
        };
        match (accepted, found, prepared) {
            (true, Some((mechanism, record)), Some(name)) => {
                let identity = Identity::new(name, mechanism, Arc::clone(&record.attributes));
                let session = Session {
                    client: mqtt_scram_authz::Client::from_identity(&identity, &connection),
                    identity,
                };
                inner.sessions.authenticated(client.key, client.id, session);
                Verdict::Allow
            }
            _ => {
                inner.rejected.emit(Level::Notice, Instant::now(), || {
                    format!(
                        "mqtt-scram: password login of client {} refused",
                        client.id.unwrap_or("?")
                    )
                });
                Verdict::Deny
            }
        }
    }
}
