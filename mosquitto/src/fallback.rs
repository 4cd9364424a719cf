//! The optional password fallback (`plugin_opt_basic_auth`, off by default): a CONNECT
//! User Name and Password checked against the SCRAM credentials
//! (`mqtt_scram_authz::fallback::plain`), for clients without enhanced authentication.
//!
//! It is admitted like a SCRAM handshake (the authenticator's admission policy: the places
//! in all and per address, a work slot), uses only records inside the record policy (a record
//! with more iterations than `max_iterations` is never run), refuses expired records, and
//! costs an unknown user the same PBKDF2 run as a real one: the hash of the first mechanism
//! looked up and the iteration count the SCRAM mock challenge shows for that user.
//! The password crosses the network (use it on TLS listeners only).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use mqtt_scram::credentials::StoredCredentials;
use mqtt_scram::provider::{Lookup, UserRecord};
use mqtt_scram::saslprep::{Mode, saslprep};
use mqtt_scram::{Clock as _, ConnectionInfo, HashAlgorithm, Identity, Mechanism, StartPacket};
use mqtt_scram_authenticator::admission::{Notice, Refusal};
use mqtt_scram_authenticator::observe::HandshakeKind;
use mqtt_scram_authz::fallback::verify_plain_password;

use crate::credentials::Request;
use crate::log::Level;
use crate::plugin::{ClientFacts, Plugin, Verdict};
use crate::sessions::Session;

/// The order in which the fallback looks a user up.
const LOOKUP_ORDER: [Mechanism; 2] = [Mechanism::ScramSha256, Mechanism::ScramSha512];

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
        let now = self.clock.now();
        let peer = client.address.and_then(|a| a.parse::<IpAddr>().ok());
        // The same admission as a SCRAM handshake: a place (in all and per address) and a
        // work slot, held for the PBKDF2 run.
        let _ticket = match self.admission.begin(peer) {
            Ok(ticket) => ticket,
            Err(refusal) => return self.refuse(HandshakeKind::Connect, refusal, peer),
        };
        let Some(_work) = self.admission.try_work() else {
            return self.refuse(HandshakeKind::Connect, Refusal::WorkTimeout, peer);
        };
        let password = password.and_then(|p| std::str::from_utf8(p).ok());
        let prepared = saslprep(username, Mode::Query).ok().map(|u| u.into_owned());
        let connection = Arc::new(self.connection(client, &self.lock()));
        let found = prepared
            .as_deref()
            .and_then(|name| self.usable_record(name, &connection));
        let accepted = match (&found, password) {
            (Some((_, record)), Some(p)) => verify_plain_password(record, p, now),
            _ => {
                // The same PBKDF2 run as for a real user, then a refusal.
                let (hash, iterations) = self.mock_cost(prepared.as_deref());
                let _ = StoredCredentials::derive(
                    hash,
                    password.unwrap_or_default(),
                    b"mqtt-scram mock!",
                    iterations,
                );
                false
            }
        };
        match (accepted, found, prepared) {
            (true, Some((mechanism, record)), Some(name)) => {
                let identity = Identity::new(name, mechanism, Arc::clone(&record.attributes));
                let session = Session::new(identity, &connection);
                self.lock()
                    .sessions
                    .authenticated(client.key, client.id, session);
                Verdict::Allow
            }
            _ => {
                self.lock()
                    .rejected
                    .emit(Level::Notice, Instant::now(), || {
                        format!(
                            "mqtt-scram: password login of client {} refused",
                            client.id.unwrap_or("?")
                        )
                    });
                Verdict::Deny
            }
        }
    }

    /// Counts and reports a refusal by the admission policy (0x87 for the client).
    fn refuse(&self, kind: HandshakeKind, refusal: Refusal, peer: Option<IpAddr>) -> Verdict {
        self.metrics.refused(kind, refusal);
        self.notice(Notice::Refused(refusal), peer, self.clock.monotonic());
        Verdict::Deny
    }

    /// The first record found for `name` (SHA-256, then SHA-512), if the record policy allows
    /// it (never a PBKDF2 run above `max_iterations`).
    fn usable_record(
        &self,
        name: &str,
        connection: &Arc<ConnectionInfo>,
    ) -> Option<(Mechanism, Arc<UserRecord>)> {
        for mechanism in LOOKUP_ORDER {
            let request = Request {
                mechanism,
                username: name.to_owned(),
                authzid: None,
                connection: Arc::clone(connection),
            };
            if let Lookup::Found(record) = self.credentials.lookup(request) {
                let usable = record.credentials.hash() == mechanism.hash()
                    && self
                        .server
                        .config()
                        .policy()
                        .check(&record.credentials)
                        .is_ok();
                return usable.then_some((mechanism, record));
            }
        }
        None
    }

    /// The hash and iteration count of the PBKDF2 run for a user without a usable record:
    /// the first mechanism looked up that SCRAM offers, at the count its mock challenge
    /// shows this user (so the fallback's cost follows the engine's mock shape).
    pub(crate) fn mock_cost(&self, name: Option<&str>) -> (HashAlgorithm, u32) {
        let offered = self.server.config().offered_mechanisms();
        let mechanism = LOOKUP_ORDER
            .into_iter()
            .find(|m| offered.contains(m))
            .unwrap_or(Mechanism::ScramSha256);
        let iterations = name
            .and_then(|n| self.mock_iterations(mechanism, n))
            .unwrap_or(self.options.iterations);
        (mechanism.hash(), iterations)
    }

    /// `i=` of the server-first-message the engine sends `name` when it is unknown.
    fn mock_iterations(&self, mechanism: Mechanism, name: &str) -> Option<u32> {
        let saslname = name.replace('=', "=3D").replace(',', "=2C");
        let first = format!("n,,n={saslname},r=mqttscrambasicauthfallback");
        let connection = Arc::new(ConnectionInfo::new("mqtt-scram-basic-auth"));
        let packet = StartPacket::Connect {
            method: mechanism.name(),
            data: Some(first.as_bytes()),
        };
        let mut need = self
            .server
            .start(&connection, packet, self.clock.now())
            .ok()?;
        need.set_mock_shape(self.credentials.record_shape(mechanism.hash()));
        let (_challenge, reply) = need.continue_with(Lookup::NotFound, &mut rand::rng());
        let data = reply.data?;
        let text = std::str::from_utf8(&data).ok()?;
        text.split(',')
            .find_map(|a| a.strip_prefix("i="))
            .and_then(|i| i.parse().ok())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use mqtt_scram_testkit::TempDir;

    fn plugin(dir: &TempDir, extra: &[(&str, &str)]) -> Plugin {
        let users = dir.write("users.json", "[]");
        let key = dir.write("mock.key", &"5a".repeat(32));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let mut options = vec![
            ("store".to_owned(), users.display().to_string()),
            ("mock_key_file".to_owned(), key.display().to_string()),
        ];
        options.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Plugin::new(&options).unwrap()
    }

    #[test]
    fn the_mock_run_has_the_hash_and_count_the_scram_mock_shows() {
        let dir = TempDir::new("mosquitto-fallback");
        let p = plugin(&dir, &[("iterations", "5000")]);
        assert_eq!(p.mock_cost(Some("nobody")), (HashAlgorithm::Sha256, 5000));
        assert_eq!(p.mock_cost(Some("a,b=c")), (HashAlgorithm::Sha256, 5000));
        let p = plugin(
            &dir,
            &[("mechanisms", "SCRAM-SHA-512"), ("iterations", "4097")],
        );
        assert_eq!(p.mock_cost(Some("nobody")), (HashAlgorithm::Sha512, 4097));
    }
}
