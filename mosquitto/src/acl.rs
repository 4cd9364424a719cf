//! Authorization (`MOSQ_EVT_ACL_CHECK`) through `mqtt-scram-authz`: the EMQX rules a
//! credential record carries (`acl_from_records`), then a VerneMQ-style ACL file
//! (`acl_file`, re-read on SIGHUP); superusers pass (`acl_superuser_bypass`), and when
//! nothing matches, `acl_no_match` decides (default deny).

use mqtt_scram_authz::file::{FileAuthorizer, ParseOptions};
use mqtt_scram_authz::{Access, Chain, ClientRules, Decision, Request};

use crate::log::{self, Level};
use crate::options::{NoMatch, OptionError, Options};
use crate::sessions::Session;

/// What the client wants to do, as Mosquitto says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AclAccess {
    /// `MOSQ_ACL_READ`: a message is about to be delivered to the client.
    Read,
    /// `MOSQ_ACL_WRITE`: the client publishes.
    Write,
    /// `MOSQ_ACL_SUBSCRIBE`.
    Subscribe,
    /// `MOSQ_ACL_UNSUBSCRIBE` (always allowed).
    Unsubscribe,
}

/// The configured authorizers.
#[derive(Debug)]
pub(crate) struct Authz {
    chain: Chain,
    file: Option<FileAuthorizer>,
}

impl Authz {
    /// The authorizers the options ask for, or `None` when authorization is off.
    pub(crate) fn new(options: &Options) -> Result<Option<Self>, OptionError> {
        if !options.authorization() {
            return Ok(None);
        }
        let mut chain = Chain::new();
        if options.acl_from_records {
            chain = chain.with(ClientRules);
        }
        let file = match &options.acl_file {
            None => None,
            Some(path) => {
                let file = FileAuthorizer::open(path, ParseOptions::default()).map_err(|e| {
                    OptionError::Unusable {
                        key: "acl_file",
                        message: e.to_string(),
                    }
                })?;
                chain = chain.with(file.clone());
                Some(file)
            }
        };
        let no_match = match options.acl_no_match.unwrap_or(NoMatch::Deny) {
            NoMatch::Allow => Decision::Allow(None),
            NoMatch::Deny => Decision::Deny(None),
        };
        let chain = chain
            .default_decision(no_match)
            .superuser_bypass(options.acl_superuser_bypass);
        Ok(Some(Self { chain, file }))
    }

    /// Whether `session` may do `access` on `topic`.
    pub(crate) fn allows(
        &self,
        session: &Session,
        access: AclAccess,
        topic: &str,
        qos: u8,
        retain: bool,
    ) -> bool {
        let access = match access {
            AclAccess::Unsubscribe => return true,
            AclAccess::Read => Access::Read,
            AclAccess::Write => Access::Publish,
            AclAccess::Subscribe => Access::Subscribe,
        };
        let request = Request::new(access, topic).qos(qos).retain(retain);
        self.chain.check(&session.client, request).is_allowed()
    }

    /// Re-reads the ACL file (SIGHUP); a bad file leaves the rules in force.
    pub(crate) fn reload(&self) {
        let Some(file) = &self.file else { return };
        match file.reload() {
            Ok(_) => log::emit(
                Level::Notice,
                &format!(
                    "mqtt-scram: reloaded the ACL file ({} entries)",
                    file.current().len()
                ),
            ),
            Err(e) => log::emit(
                Level::Error,
                &format!("mqtt-scram: ACL reload failed, keeping the rules in force: {e}"),
            ),
        }
    }
}
