//! A plain password (MQTT CONNECT Password field) checked against SCRAM stored credentials,
//! so one store serves SCRAM and non-SCRAM clients.
//!
//! The check derives SaltedPassword with the record's salt and iteration count
//! (RFC 5802 §3), computes StoredKey = H(HMAC(SaltedPassword, "Client Key")) and compares it
//! with the stored one in constant time. It costs one PBKDF2 run per attempt, like a SCRAM
//! exchange: rate-limit CONNECTs as for SCRAM. The password travels in clear inside the
//! connection, so offer this fallback on TLS listeners only.

use mqtt_scram::Timestamp;
use mqtt_scram::credentials::StoredCredentials;
use mqtt_scram::provider::UserRecord;

/// Whether `password` is the one the record's credentials were derived from, and the record
/// has not expired at `now` ([`UserRecord::is_expired_at`]): no fallback can forget expiry.
///
/// The password is checked (one PBKDF2 run) whether the record has expired or not, so an
/// expired record costs the same time as a live one.
/// A password that SASLprep rejects (RFC 4013: prohibited or unassigned characters) cannot
/// have produced the credentials and gives `false`.
///
/// ```
/// use core::time::Duration;
/// use mqtt_scram::{HashAlgorithm, Timestamp, credentials::StoredCredentials, provider::UserRecord};
/// use mqtt_scram_authz::fallback::verify_plain_password;
/// let creds = StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"salt", 4096)?;
/// let record = UserRecord::new(creds).expire_at(Some(1_700_000_000));
/// let before = Timestamp::new(Duration::ZERO, 1_699_999_999);
/// assert!(verify_plain_password(&record, "pencil", before));
/// assert!(!verify_plain_password(&record, "pencil ", before));
/// let after = Timestamp::new(Duration::ZERO, 1_700_000_000);
/// assert!(!verify_plain_password(&record, "pencil", after));
/// # Ok::<(), mqtt_scram::credentials::CredentialsError>(())
/// ```
pub fn verify_plain_password(record: &UserRecord, password: &str, now: Timestamp) -> bool {
    let matches = verify_against(&record.credentials, password);
    matches && !record.is_expired_at(now.unix_seconds())
}

/// As [`verify_plain_password`], for bare credentials.
pub fn verify_against(credentials: &StoredCredentials, password: &str) -> bool {
    match StoredCredentials::derive(
        credentials.hash(),
        password,
        credentials.salt(),
        credentials.iterations(),
    ) {
        Ok(candidate) => credentials
            .stored_key()
            .ct_eq_bytes(candidate.stored_key().as_bytes()),
        Err(_) => false,
    }
}
