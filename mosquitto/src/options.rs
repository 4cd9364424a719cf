//! The `plugin_opt_*` lines of `mosquitto.conf`, parsed and checked once at start-up. Every
//! error names the option (`plugin_opt_<key>`), so the broker's log says what to fix.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use mqtt_scram::Mechanism;

/// Why the options were refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum OptionError {
    /// An option this plugin does not know.
    #[error("plugin_opt_{key}: unknown option (known: {known})")]
    Unknown { key: String, known: String },
    /// The same option twice.
    #[error("plugin_opt_{0}: given more than once")]
    Duplicate(String),
    /// A required option is missing.
    #[error("plugin_opt_{0}: required; {1}")]
    Missing(&'static str, &'static str),
    /// A value that does not parse or is out of range.
    #[error("plugin_opt_{key}: {message} (got {value:?})")]
    Invalid {
        key: &'static str,
        value: String,
        message: String,
    },
    /// A value that parses but cannot be used (a file that cannot be read, an engine
    /// setting out of range).
    #[error("plugin_opt_{key}: {message}")]
    Unusable { key: &'static str, message: String },
}

/// What to do when no ACL rule matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoMatch {
    Allow,
    Deny,
}

/// Every option, with its default.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    /// `store`: a credential file path or a store URL (`postgres://`, `redis://`, `https://`).
    pub store: Option<String>,
    /// `store_config`: a JSON file with a full store configuration (chains, caches).
    pub store_config: Option<PathBuf>,
    /// `mock_key_file`: the secret that keys unknown users' fake salts.
    pub mock_key_file: PathBuf,
    /// `mechanisms`: comma-separated; `None` = SHA-256 and SHA-512 (+ `-PLUS` with a certificate).
    pub mechanisms: Option<Vec<Mechanism>>,
    /// `iterations`: the iteration count unknown users are shown when the store does not
    /// say (remote stores; a credential file's most common count wins).
    pub iterations: u32,
    /// `mock_salt_len`: the salt length unknown users are shown when the store does not say.
    pub mock_salt_len: usize,
    /// `min_iterations` / `max_iterations`: the record policy.
    pub min_iterations: u32,
    /// See `min_iterations`.
    pub max_iterations: u32,
    /// `handshake_timeout`.
    pub handshake_timeout: Duration,
    /// `max_message_size`: largest SCRAM message in bytes.
    pub max_message_size: usize,
    /// `allow_authzid`.
    pub allow_authzid: bool,
    /// `tls_cert_file`: the listener's certificate, for `tls-server-end-point`.
    pub tls_cert_file: Option<PathBuf>,
    /// `first_step_timeout`: how long the client has to answer the server-first-message.
    pub first_step_timeout: Duration,
    /// `max_handshakes`: handshakes waiting for the client's final message, in all.
    pub max_handshakes: usize,
    /// `max_handshakes_per_address`: the same, per client IP address.
    pub max_handshakes_per_address: usize,
    /// `lookup_budget`: longest a credential lookup may hold the broker's thread.
    pub lookup_budget: Duration,
    /// `acl_file`: a VerneMQ-style ACL file.
    pub acl_file: Option<PathBuf>,
    /// `acl_from_records`: apply the EMQX rules that credential records carry.
    pub acl_from_records: bool,
    /// `acl_no_match`: decision when no rule matches (`None` = not set).
    pub acl_no_match: Option<NoMatch>,
    /// `acl_superuser_bypass`: superusers may do anything.
    pub acl_superuser_bypass: bool,
    /// `basic_auth`: also check CONNECT username/password against the SCRAM credentials.
    pub basic_auth: bool,
    /// `stats_interval`: how often to log callback timings (zero: only at shutdown).
    pub stats_interval: Duration,
    /// `metrics_listen`: address of the Prometheus endpoint (feature `metrics`).
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// `plugin_opt_` keys, in documentation order.
pub(crate) const KEYS: &[&str] = &[
    "store",
    "store_config",
    "mock_key_file",
    "mechanisms",
    "iterations",
    "mock_salt_len",
    "min_iterations",
    "max_iterations",
    "handshake_timeout",
    "first_step_timeout",
    "max_message_size",
    "allow_authzid",
    "tls_cert_file",
    "max_handshakes",
    "max_handshakes_per_address",
    "lookup_budget",
    "acl_file",
    "acl_from_records",
    "acl_no_match",
    "acl_superuser_bypass",
    "basic_auth",
    "stats_interval",
    "metrics_listen",
];

impl Options {
    /// Parses the `(key, value)` pairs Mosquitto passes (keys without `plugin_opt_`).
    pub(crate) fn parse(pairs: &[(String, String)]) -> Result<Self, OptionError> {
        let mut map = BTreeMap::new();
        for (key, value) in pairs {
            if !KEYS.contains(&key.as_str()) {
                return Err(OptionError::Unknown {
                    key: key.clone(),
                    known: KEYS.join(", "),
                });
            }
            if map.insert(key.as_str(), value.trim()).is_some() {
                return Err(OptionError::Duplicate(key.clone()));
            }
        }
        let get = |key: &str| map.get(key).copied();
        let path = |key: &'static str| -> Result<Option<PathBuf>, OptionError> {
            match get(key) {
                None => Ok(None),
                Some("") => Err(invalid(key, "", "must be a file path")),
                Some(v) => Ok(Some(PathBuf::from(v))),
            }
        };
        let options = Self {
            store: match get("store") {
                Some("") => return Err(invalid("store", "", "must be a file path or a URL")),
                other => other.map(str::to_owned),
            },
            store_config: path("store_config")?,
            mock_key_file: path("mock_key_file")?.ok_or(OptionError::Missing(
                "mock_key_file",
                "a file with 32 secret bytes (64 hex characters), stable across restarts, \
                 e.g. `head -c 32 /dev/urandom | xxd -p -c 64 > mock.key`",
            ))?,
            mechanisms: get("mechanisms").map(mechanisms).transpose()?,
            iterations: number(get("iterations"), "iterations", 4096)?,
            mock_salt_len: number(get("mock_salt_len"), "mock_salt_len", 16)?,
            min_iterations: number(get("min_iterations"), "min_iterations", 4096)?,
            max_iterations: number(get("max_iterations"), "max_iterations", 1_000_000)?,
            handshake_timeout: duration(get("handshake_timeout"), "handshake_timeout", 30_000)?,
            first_step_timeout: duration(get("first_step_timeout"), "first_step_timeout", 10_000)?,
            max_message_size: number(get("max_message_size"), "max_message_size", 4096)?,
            allow_authzid: boolean(get("allow_authzid"), "allow_authzid", false)?,
            tls_cert_file: path("tls_cert_file")?,
            max_handshakes: number(get("max_handshakes"), "max_handshakes", 100_000)?,
            max_handshakes_per_address: number(
                get("max_handshakes_per_address"),
                "max_handshakes_per_address",
                64,
            )?,
            lookup_budget: duration(get("lookup_budget"), "lookup_budget", 5)?,
            acl_file: path("acl_file")?,
            acl_from_records: boolean(get("acl_from_records"), "acl_from_records", false)?,
            acl_no_match: get("acl_no_match")
                .map(|v| match v {
                    "allow" => Ok(NoMatch::Allow),
                    "deny" => Ok(NoMatch::Deny),
                    _ => Err(invalid("acl_no_match", v, "must be `allow` or `deny`")),
                })
                .transpose()?,
            acl_superuser_bypass: boolean(
                get("acl_superuser_bypass"),
                "acl_superuser_bypass",
                true,
            )?,
            basic_auth: boolean(get("basic_auth"), "basic_auth", false)?,
            stats_interval: duration(get("stats_interval"), "stats_interval", 300_000)?,
            metrics_listen: get("metrics_listen")
                .map(|v| {
                    v.parse().map_err(|_| {
                        invalid(
                            "metrics_listen",
                            v,
                            "must be an address such as 127.0.0.1:9469",
                        )
                    })
                })
                .transpose()?,
        };
        options.check()?;
        Ok(options)
    }

    fn check(&self) -> Result<(), OptionError> {
        if self.min_iterations == 0 || self.min_iterations > self.max_iterations {
            return Err(OptionError::Unusable {
                key: "min_iterations",
                message: format!(
                    "must be at least 1 and at most max_iterations ({})",
                    self.max_iterations
                ),
            });
        }
        for (key, value) in [
            ("max_handshakes", self.max_handshakes),
            (
                "max_handshakes_per_address",
                self.max_handshakes_per_address,
            ),
        ] {
            if value == 0 {
                return Err(invalid(key, "0", "must be at least 1"));
            }
        }
        if self.handshake_timeout.is_zero() {
            return Err(invalid(
                "handshake_timeout",
                "0",
                "must be longer than zero",
            ));
        }
        if self.first_step_timeout.is_zero() {
            return Err(invalid(
                "first_step_timeout",
                "0",
                "must be longer than zero",
            ));
        }
        if self.lookup_budget > Duration::from_millis(100) {
            return Err(OptionError::Unusable {
                key: "lookup_budget",
                message: "at most 100ms: the broker serves every client from one thread".into(),
            });
        }
        Ok(())
    }

    /// Whether authorization (`MOSQ_EVT_ACL_CHECK`) is on: any `acl_*` option set.
    pub(crate) fn authorization(&self) -> bool {
        self.acl_file.is_some() || self.acl_from_records || self.acl_no_match.is_some()
    }
}

fn invalid(key: &'static str, value: &str, message: &str) -> OptionError {
    OptionError::Invalid {
        key,
        value: value.to_owned(),
        message: message.to_owned(),
    }
}

fn number<T: std::str::FromStr>(
    value: Option<&str>,
    key: &'static str,
    default: T,
) -> Result<T, OptionError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .replace('_', "")
            .parse()
            .map_err(|_| invalid(key, v, "must be a whole number in range")),
    }
}

fn boolean(value: Option<&str>, key: &'static str, default: bool) -> Result<bool, OptionError> {
    match value {
        None => Ok(default),
        Some("true" | "yes" | "on" | "1") => Ok(true),
        Some("false" | "no" | "off" | "0") => Ok(false),
        Some(v) => Err(invalid(key, v, "must be true or false")),
    }
}

/// `500ms`, `5s`, `2m`, `1h`, or a bare number of seconds.
fn duration(
    value: Option<&str>,
    key: &'static str,
    default_ms: u64,
) -> Result<Duration, OptionError> {
    let Some(v) = value else {
        return Ok(Duration::from_millis(default_ms));
    };
    let (digits, unit_ms) = if let Some(d) = v.strip_suffix("ms") {
        (d, 1)
    } else if let Some(d) = v.strip_suffix('s') {
        (d, 1000)
    } else if let Some(d) = v.strip_suffix('m') {
        (d, 60_000)
    } else if let Some(d) = v.strip_suffix('h') {
        (d, 3_600_000)
    } else {
        (v, 1000)
    };
    digits
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_ms))
        .map(Duration::from_millis)
        .ok_or_else(|| invalid(key, v, "must be a duration such as 500ms, 30s, 2m or 1h"))
}

fn mechanisms(value: &str) -> Result<Vec<Mechanism>, OptionError> {
    let mut out = Vec::new();
    for name in value.split([',', ' ']).filter(|n| !n.is_empty()) {
        let mechanism = Mechanism::from_name(name).ok_or_else(|| {
            invalid(
                "mechanisms",
                name,
                "unknown mechanism; use SCRAM-SHA-256, SCRAM-SHA-512, SCRAM-SHA-256-PLUS, SCRAM-SHA-512-PLUS",
            )
        })?;
        if !out.contains(&mechanism) {
            out.push(mechanism);
        }
    }
    if out.is_empty() {
        return Err(invalid("mechanisms", value, "lists no mechanism"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Options, OptionError> {
        let mut all = vec![("mock_key_file".to_owned(), "/k".to_owned())];
        all.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Options::parse(&all)
    }

    #[test]
    fn defaults() {
        let o = parse(&[]).unwrap();
        assert_eq!(o.handshake_timeout, Duration::from_secs(30));
        assert_eq!(o.lookup_budget, Duration::from_millis(5));
        assert_eq!((o.iterations, o.max_handshakes_per_address), (4096, 64));
        assert!(!o.basic_auth && !o.authorization());
    }

    #[test]
    fn every_error_names_the_option() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("bogus", "1")], "plugin_opt_bogus: unknown option"),
            (&[("iterations", "many")], "plugin_opt_iterations:"),
            (
                &[("handshake_timeout", "soon")],
                "plugin_opt_handshake_timeout:",
            ),
            (
                &[("handshake_timeout", "0")],
                "plugin_opt_handshake_timeout:",
            ),
            (&[("mechanisms", "SCRAM-MD5")], "plugin_opt_mechanisms:"),
            (&[("basic_auth", "maybe")], "plugin_opt_basic_auth:"),
            (&[("acl_no_match", "perhaps")], "plugin_opt_acl_no_match:"),
            (
                &[("min_iterations", "9"), ("max_iterations", "8")],
                "plugin_opt_min_iterations:",
            ),
            (&[("lookup_budget", "2s")], "plugin_opt_lookup_budget:"),
            (&[("max_handshakes", "0")], "plugin_opt_max_handshakes:"),
            (
                &[("metrics_listen", "localhost")],
                "plugin_opt_metrics_listen:",
            ),
            (&[("store", "")], "plugin_opt_store:"),
            (&[("store_config", "")], "plugin_opt_store_config:"),
        ];
        for (pairs, expected) in cases {
            let error = parse(pairs).unwrap_err().to_string();
            assert!(error.starts_with(expected), "{pairs:?}: {error}");
        }
        let error = Options::parse(&[]).unwrap_err().to_string();
        assert!(
            error.starts_with("plugin_opt_mock_key_file: required"),
            "{error}"
        );
        let twice = [
            ("mock_key_file".to_owned(), "/k".to_owned()),
            ("mock_key_file".to_owned(), "/j".to_owned()),
        ];
        let error = Options::parse(&twice).unwrap_err().to_string();
        assert_eq!(error, "plugin_opt_mock_key_file: given more than once");
    }

    #[test]
    fn durations_and_mechanisms() {
        let o = parse(&[
            ("handshake_timeout", "2m"),
            ("lookup_budget", "50ms"),
            ("stats_interval", "1h"),
            ("mechanisms", "SCRAM-SHA-512, SCRAM-SHA-256-PLUS"),
        ])
        .unwrap();
        assert_eq!(o.handshake_timeout, Duration::from_secs(120));
        assert_eq!(o.lookup_budget, Duration::from_millis(50));
        assert_eq!(o.stats_interval, Duration::from_secs(3600));
        assert_eq!(
            o.mechanisms.unwrap(),
            [Mechanism::ScramSha512, Mechanism::ScramSha256Plus]
        );
    }
}
