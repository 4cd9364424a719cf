//! What `gen` and `convert` check before they write: records a default server would
//! ignore, counts a default client refuses, data a format cannot carry, and a verifier
//! PostgreSQL would take for a plaintext password.

use mqtt_scram::RecordPolicy;
use mqtt_scram::credentials::DEFAULT_ITERATIONS;

use crate::formats::{Entry, Format};
use crate::{Failure, warn};

/// The iteration window of `mqtt_scram::client::ClientConfig::new()` (and of `probe`
/// without `--min-iterations`/`--max-iterations`).
pub const CLIENT_WINDOW: std::ops::RangeInclusive<u32> = DEFAULT_ITERATIONS..=1_000_000;

/// The warnings for `entries` about to be written in `format`, in the order they should
/// be printed. Nothing is printed here, so tests can check them.
pub fn warnings(entries: &[Entry], format: Format) -> Vec<String> {
    let mut out = Vec::new();
    let policy = RecordPolicy::default();
    let outside: Vec<(&Entry, String)> = entries
        .iter()
        .filter_map(|e| {
            policy
                .check(&e.record.credentials)
                .err()
                .map(|reason| (e, reason.detail().to_owned()))
        })
        .collect();
    if let Some((first, why)) = outside.first() {
        let who = first.username.as_deref().unwrap_or("the record");
        let which = if entries.len() == 1 {
            format!("{who}: {why}")
        } else {
            format!(
                "{} of {} records are outside the default record policy (first: {who}: {why})",
                outside.len(),
                entries.len()
            )
        };
        out.push(format!(
            "{which}: a server with the default RecordPolicy (iterations {}..={}, salt {}..={} bytes) ignores such a record, and its user cannot log in",
            policy.iterations().start(),
            policy.iterations().end(),
            policy.salt_len().start(),
            policy.salt_len().end(),
        ));
    }
    if let Some(n) = entries
        .iter()
        .map(|e| e.record.credentials.iterations())
        .find(|n| !CLIENT_WINDOW.contains(n))
    {
        let flag = if n > *CLIENT_WINDOW.end() {
            "--max-iterations"
        } else {
            "--min-iterations"
        };
        out.push(format!(
            "iteration count {n} is outside {}..={}, the default window of mqtt-scram's client: clients with that default refuse the login before any work (widen ClientConfig::iteration_window; `mqtt-scram probe` takes {flag} {n})",
            CLIENT_WINDOW.start(),
            CLIENT_WINDOW.end()
        ));
    }
    match format {
        Format::Emqx => {
            if let Some(n) = entries
                .iter()
                .map(|e| e.record.credentials.iterations())
                .find(|n| *n != DEFAULT_ITERATIONS)
            {
                out.push(format!(
                    "the EMQX format has no iteration count (EMQX keeps it in its authenticator config): set iteration_count = {n} there"
                ));
            }
        }
        Format::Postgres => {
            let extras = entries.iter().any(|e| {
                let a = &e.record.attributes;
                a.is_superuser || !a.client_attrs.is_empty() || a.expire_at.is_some()
            }) || entries
                .iter()
                .any(|e| !mqtt_scram_stores::record::acl_rules(&e.record).is_empty());
            if extras {
                out.push(
                    "a PostgreSQL verifier has no is_superuser, client_attrs, expire_at or acl: they are dropped"
                        .into(),
                );
            }
        }
        Format::Json | Format::Csv => {}
    }
    out
}

/// Prints [`warnings`] on stderr.
pub fn warn_before_writing(entries: &[Entry], format: Format) {
    for message in warnings(entries, format) {
        warn(message);
    }
}

/// Refuses what must not be written: a SCRAM-SHA-512 "verifier" for PostgreSQL, which
/// PostgreSQL would store as a plaintext password.
pub fn refuse(entries: &[Entry], format: Format) -> Result<(), Failure> {
    if format != Format::Postgres {
        return Ok(());
    }
    match entries
        .iter()
        .find(|e| e.record.credentials.hash() != mqtt_scram::HashAlgorithm::Sha256)
    {
        Some(entry) => Err(postgres_refusal(entry.username.as_deref())),
        None => Ok(()),
    }
}

/// Why a SCRAM-SHA-512 record is not written in the postgres format (exit 2).
pub fn postgres_refusal(username: Option<&str>) -> Failure {
    let who = username.map_or_else(String::new, |u| format!(" for {u:?}"));
    Failure::usage(format!(
        "refusing to write a SCRAM-SHA-512 verifier{who} in the postgres format: PostgreSQL only knows SCRAM-SHA-256, and `ALTER ROLE ... PASSWORD 'SCRAM-SHA-512$...'` would store that text as a plaintext password. Use --mechanism sha256 for PostgreSQL, or the json or csv format for a SCRAM-SHA-512 store"
    ))
}
