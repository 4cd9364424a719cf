//! JWT passwords, as the VerneMQ `vmq_gojek_auth` plugin checks them: the client sends a
//! signed JWT as its MQTT password, and a claim (`rid` by default) must equal the MQTT
//! username.
//!
//! - Algorithms: HS256 with a shared secret (the plugin's `secret_key`), RS256 or ES256
//!   with a PEM public key. Exactly one algorithm is accepted per verifier; a token whose
//!   header names another (including `alg: none`) is rejected.
//! - `exp` and `nbf` are honoured when present, with a leeway (default 60 s); `exp` can be
//!   made mandatory with [`JwtVerifier::require_exp`] (the plugin does not require it).
//! - An optional claim may hold authorization rules in the EMQX format; an invalid rule
//!   rejects the token.
//!
//! Signatures are checked by the `jsonwebtoken` crate (RustCrypto backend). The time for
//! `exp`/`nbf` comes from a [`Clock`] ([`SystemClock`] unless
//! [`JwtVerifier::clock`] gives another), so tests need no sleeps.

use std::collections::HashSet;
use std::fmt;
use std::string::{String, ToString};
use std::sync::Arc;
use std::vec::Vec;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mqtt_scram::{Clock, SystemClock};
use serde_json::{Map, Value};

use crate::client::Client;
use crate::rule_json::parse_rules;
use crate::rules::{AclRule, RuleError};

/// Why a JWT password was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// The verification key could not be read.
    #[error("invalid JWT verification key: {0}")]
    Key(String),
    /// The password is not a well-formed JWT, or its header is unacceptable.
    #[error("malformed JWT: {0}")]
    Malformed(String),
    /// The header names an algorithm other than the configured one (`none` included).
    #[error("JWT algorithm not accepted")]
    Algorithm,
    /// The signature does not verify.
    #[error("JWT signature does not verify")]
    Signature,
    /// `exp` has passed (beyond the leeway).
    #[error("JWT expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("JWT not yet valid")]
    NotYetValid,
    /// A required claim is missing.
    #[error("JWT lacks the required claim {0:?}")]
    MissingClaim(String),
    /// The username claim does not equal the MQTT username.
    #[error("JWT claim {claim:?} does not match the username")]
    UsernameMismatch {
        /// The claim compared.
        claim: String,
    },
    /// The ACL claim holds an invalid rule.
    #[error("JWT ACL claim: {0}")]
    Acl(RuleError),
}

/// What a verified token says.
#[derive(Clone, Debug, PartialEq)]
pub struct JwtClaims {
    /// All claims.
    pub claims: Map<String, Value>,
    /// Rules from the ACL claim (empty when not configured or absent).
    pub acl: Vec<AclRule>,
    /// `exp`, if present (Unix seconds): end the session then.
    pub expire_at: Option<u64>,
}

/// Verifies JWT passwords. Cheap to share; holds the key.
///
/// ```
/// use mqtt_scram_authz::fallback::jwt::JwtVerifier;
/// let verifier = JwtVerifier::hs256(b"some_cool_secret").acl_claim("acl");
/// // A token for username "alice" would be checked with:
/// // let claims = verifier.verify("alice", password_bytes)?;
/// # let _ = verifier;
/// ```
#[derive(Clone)]
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
    leeway: u64,
    username_claim: String,
    acl_claim: Option<String>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("algorithms", &self.validation.algorithms)
            .field("key", &"<redacted>")
            .field("username_claim", &self.username_claim)
            .field("acl_claim", &self.acl_claim)
            .field("leeway", &self.leeway)
            .finish()
    }
}

impl JwtVerifier {
    fn with_key(key: DecodingKey, alg: Algorithm) -> Self {
        let mut validation = Validation::new(alg);
        validation.required_spec_claims = HashSet::new();
        validation.validate_aud = false;
        // Checked here against the injected clock, not by the library's own clock.
        validation.validate_nbf = false;
        validation.validate_exp = false;
        Self {
            key,
            validation,
            leeway: 60,
            username_claim: "rid".into(),
            acl_claim: None,
            clock: Arc::new(SystemClock::new()),
        }
    }

    /// HS256 with a shared secret (`vmq_gojek_auth.secret_key`).
    pub fn hs256(secret: &[u8]) -> Self {
        Self::with_key(DecodingKey::from_secret(secret), Algorithm::HS256)
    }

    /// RS256 with an RSA public key in PEM (`-----BEGIN PUBLIC KEY-----` or `RSA PUBLIC KEY`).
    pub fn rs256_pem(public_key: &[u8]) -> Result<Self, JwtError> {
        let key =
            DecodingKey::from_rsa_pem(public_key).map_err(|e| JwtError::Key(e.to_string()))?;
        Ok(Self::with_key(key, Algorithm::RS256))
    }

    /// ES256 with a P-256 public key in PEM.
    pub fn es256_pem(public_key: &[u8]) -> Result<Self, JwtError> {
        let key = DecodingKey::from_ec_pem(public_key).map_err(|e| JwtError::Key(e.to_string()))?;
        Ok(Self::with_key(key, Algorithm::ES256))
    }

    /// The claim that must equal the MQTT username (default `rid`).
    pub fn username_claim(mut self, claim: impl Into<String>) -> Self {
        self.username_claim = claim.into();
        self
    }

    /// A claim holding EMQX-format rules (a JSON array) for the client.
    pub fn acl_claim(mut self, claim: impl Into<String>) -> Self {
        self.acl_claim = Some(claim.into());
        self
    }

    /// Clock skew tolerated for `exp` and `nbf`, in seconds (default 60).
    pub fn leeway(mut self, seconds: u64) -> Self {
        self.leeway = seconds;
        self
    }

    /// The clock `exp` and `nbf` are checked against (default [`SystemClock`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use mqtt_scram::ManualClock;
    /// use mqtt_scram_authz::fallback::jwt::JwtVerifier;
    /// let clock = Arc::new(ManualClock::new(1_700_000_000));
    /// let verifier = JwtVerifier::hs256(b"secret").clock(clock.clone());
    /// # let _ = verifier;
    /// ```
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Whether tokens without `exp` are refused (default: no, as the gojek plugin).
    pub fn require_exp(mut self, yes: bool) -> Self {
        self.validation.required_spec_claims = if yes {
            HashSet::from(["exp".to_string()])
        } else {
            HashSet::new()
        };
        self
    }

    /// Checks the password of a client connecting as `username`.
    pub fn verify(&self, username: &str, password: &[u8]) -> Result<JwtClaims, JwtError> {
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(password, &self.key, &self.validation)
                .map_err(|e| map_error(e.into_kind()))?;
        let claims = data.claims;
        self.check_times(&claims)?;
        match claims.get(&self.username_claim) {
            None => return Err(JwtError::MissingClaim(self.username_claim.clone())),
            Some(Value::String(s)) if s == username => {}
            Some(_) => {
                return Err(JwtError::UsernameMismatch {
                    claim: self.username_claim.clone(),
                });
            }
        }
        let acl = match self.acl_claim.as_ref().and_then(|c| claims.get(c)) {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => parse_rules(v).map_err(JwtError::Acl)?,
        };
        let expire_at = claims.get("exp").and_then(Value::as_u64);
        Ok(JwtClaims {
            claims,
            acl,
            expire_at,
        })
    }

    /// [`verify`](Self::verify), then the [`Client`] to authorize, carrying the token's rules.
    pub fn client(
        &self,
        username: &str,
        client_id: &str,
        password: &[u8],
    ) -> Result<Client, JwtError> {
        let claims = self.verify(username, password)?;
        Client::new(username, client_id)
            .with_rules(&claims.acl)
            .map_err(JwtError::Acl)
    }
}

impl JwtVerifier {
    /// `exp` and `nbf` against the clock, with the leeway (RFC 7519 §4.1.4, §4.1.5).
    fn check_times(&self, claims: &Map<String, Value>) -> Result<(), JwtError> {
        let now = self.clock.now().unix_seconds();
        let time = |name: &str| -> Result<Option<u64>, JwtError> {
            match claims.get(name) {
                None => Ok(None),
                Some(value) => value
                    .as_u64()
                    .or_else(|| {
                        value
                            .as_f64()
                            .filter(|f| f.is_finite() && *f >= 0.0)
                            .map(|f| f as u64)
                    })
                    .map(Some)
                    .ok_or_else(|| {
                        JwtError::Malformed(std::format!("{name} is not a NumericDate"))
                    }),
            }
        };
        if let Some(exp) = time("exp")? {
            if exp.saturating_add(self.leeway) <= now {
                return Err(JwtError::Expired);
            }
        }
        if let Some(nbf) = time("nbf")? {
            if nbf > now.saturating_add(self.leeway) {
                return Err(JwtError::NotYetValid);
            }
        }
        Ok(())
    }
}

fn map_error(kind: ErrorKind) -> JwtError {
    match kind {
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => JwtError::Algorithm,
        ErrorKind::InvalidSignature => JwtError::Signature,
        ErrorKind::ExpiredSignature => JwtError::Expired,
        ErrorKind::ImmatureSignature => JwtError::NotYetValid,
        ErrorKind::MissingRequiredClaim(c) => JwtError::MissingClaim(c),
        other => JwtError::Malformed(std::format!("{other:?}")),
    }
}
