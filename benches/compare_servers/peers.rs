//! The other servers of the comparison: rsasl 2.3.1 and the `scram` crate 0.6, each
//! driven through the same [`Contender`] steps as mqtt-scram.

use std::io::Cursor;
use std::sync::Arc;

use super::{ClientKeys, Contender, ITERATIONS, PASSWORD, SALT, USER, client_first};
use mqtt_scram::{HashAlgorithm, StoredCredentials};
use std::hint::black_box;

/// rsasl's callback: the stored keys for "user".
struct RsaslStore {
    hash: HashAlgorithm,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

impl rsasl::callback::SessionCallback for RsaslStore {
    fn callback(
        &self,
        _session: &rsasl::callback::SessionData,
        context: &rsasl::callback::Context,
        request: &mut rsasl::callback::Request,
    ) -> Result<(), rsasl::prelude::SessionError> {
        use rsasl::mechanisms::scram::properties::ScramStoredPassword;
        if context.get_ref::<rsasl::property::AuthId>() == Some(USER) {
            request.satisfy::<ScramStoredPassword>(&ScramStoredPassword::new(
                ITERATIONS,
                SALT,
                &self.stored_key,
                &self.server_key,
            ))?;
        }
        let _ = self.hash;
        Ok(())
    }
}

pub struct Rsasl {
    config: Arc<rsasl::prelude::SASLConfig>,
    mechname: &'static rsasl::prelude::Mechname,
    client_first: Vec<u8>,
    keys: ClientKeys,
}

impl Rsasl {
    pub fn new(hash: HashAlgorithm) -> Self {
        let creds = StoredCredentials::derive(hash, PASSWORD, SALT, ITERATIONS).unwrap();
        let store = RsaslStore {
            hash,
            stored_key: creds.stored_key().as_bytes().to_vec(),
            server_key: creds.server_key().as_bytes().to_vec(),
        };
        let config = rsasl::prelude::SASLConfig::builder()
            .with_defaults()
            .with_callback(store)
            .unwrap();
        let name: &'static [u8] = match hash {
            HashAlgorithm::Sha256 => b"SCRAM-SHA-256",
            HashAlgorithm::Sha512 => b"SCRAM-SHA-512",
        };
        Self {
            config,
            mechname: rsasl::prelude::Mechname::parse(name).unwrap(),
            client_first: client_first(USER),
            keys: ClientKeys::new(hash, PASSWORD),
        }
    }
}

impl Contender for Rsasl {
    type Pending<'a> = rsasl::prelude::Session<rsasl::validate::NoValidation>;

    fn first(&self) -> (Self::Pending<'_>, Vec<u8>) {
        // `start_suggested` consumes the server: one per exchange, sharing the config.
        let server = rsasl::prelude::SASLServer::<rsasl::validate::NoValidation>::new(Arc::clone(
            &self.config,
        ));
        let mut session = server.start_suggested(self.mechname).unwrap();
        let mut out = Cursor::new(Vec::new());
        session
            .step(Some(black_box(&self.client_first)), &mut out)
            .unwrap();
        (session, out.into_inner())
    }

    fn client_final(&self, server_first: &[u8]) -> Vec<u8> {
        self.keys.client_final(USER, server_first)
    }

    fn finish(&self, mut session: Self::Pending<'_>, client_final: &[u8]) -> bool {
        let mut out = Cursor::new(Vec::new());
        session.step(Some(client_final), &mut out).unwrap();
        black_box(out.into_inner()).starts_with(b"v=")
    }
}

pub struct ScramProvider {
    salted: Vec<u8>,
}

impl scram::AuthenticationProvider for ScramProvider {
    fn get_password_for(&self, username: &str) -> Option<scram::PasswordInfo> {
        (username == USER).then(|| {
            scram::PasswordInfo::new(self.salted.clone(), ITERATIONS as u16, SALT.to_vec())
        })
    }
}

/// The `scram` crate's server (SHA-256 only).
pub struct Scram06 {
    server: scram::ScramServer<ScramProvider>,
    client_first: String,
    keys: ClientKeys,
    /// `Some`: the fixed `StepRng`, and the client-final it makes valid.
    fixed: Option<Vec<u8>>,
}

impl Scram06 {
    pub fn new(fixed: bool) -> Self {
        let salted = scram::hash_password(
            PASSWORD,
            std::num::NonZeroU32::new(ITERATIONS).unwrap(),
            SALT,
        )
        .to_vec();
        let mut theirs = Self {
            server: scram::ScramServer::new(ScramProvider { salted }),
            client_first: String::from_utf8(client_first(USER)).unwrap(),
            keys: ClientKeys::new(HashAlgorithm::Sha256, PASSWORD),
            fixed: None,
        };
        if fixed {
            theirs.fixed = Some(Vec::new());
            let (_, server_first) = theirs.first();
            theirs.fixed = Some(theirs.keys.client_final(USER, &server_first));
        }
        theirs
    }

    fn rng() -> rand_08::rngs::mock::StepRng {
        rand_08::rngs::mock::StepRng::new(0x0123_4567_89ab_cdef, 0x9e37_79b9_7f4a_7c15)
    }
}

impl Contender for Scram06 {
    type Pending<'a> = scram::server::ClientFinal<'a, ScramProvider>;

    fn first(&self) -> (Self::Pending<'_>, Vec<u8>) {
        let first = self
            .server
            .handle_client_first(black_box(&self.client_first))
            .unwrap();
        let (last, server_first) = if self.fixed.is_some() {
            first.server_first_with_rng(&mut Self::rng())
        } else {
            first.server_first()
        };
        (last, server_first.into_bytes())
    }

    fn client_final(&self, server_first: &[u8]) -> Vec<u8> {
        match &self.fixed {
            Some(client_final) if !client_final.is_empty() => client_final.clone(),
            _ => self.keys.client_final(USER, server_first),
        }
    }

    fn finish(&self, last: Self::Pending<'_>, client_final: &[u8]) -> bool {
        let text = std::str::from_utf8(client_final).unwrap();
        let (status, server_final) = last.handle_client_final(text).unwrap().server_final();
        black_box(server_final);
        status == scram::AuthenticationStatus::Authenticated
    }
}
