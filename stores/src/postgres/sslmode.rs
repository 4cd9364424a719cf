//! libpq's `sslmode` and `sslrootcert` in the connection string, and the TLS policy of
//! the PostgreSQL store: verified TLS (`verify-full`) unless the hosts are loopback or an
//! operator sets one of the `tls.dangerous_*` switches.
//!
//! tokio-postgres knows only `disable`, `prefer` and `require` and rejects `verify-ca`,
//! `verify-full` and `sslrootcert`; so both keys are taken out of the string here (the
//! split follows tokio-postgres's own grammar for URLs and key=value strings) and the
//! mode is set on the parsed configuration. Whatever the split finds or misses, the mode
//! the driver uses is always the one decided here: a missed `sslmode` only makes the
//! connection stricter.

use std::path::PathBuf;
use std::string::{String, ToString};
use std::vec::Vec;

use tokio_postgres::config::{Host, SslMode as DriverMode};

/// libpq's `sslmode` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<Self, String> {
        Ok(match value {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            // `allow` (plaintext first) is not offered at all.
            other => {
                return Err(std::format!(
                    "sslmode {other:?} is not one of verify-full, verify-ca, require, prefer, disable"
                ));
            }
        })
    }
}

/// The connection string without `sslmode` and `sslrootcert`, and their values.
pub(crate) struct Split {
    pub(crate) rest: String,
    pub(crate) sslmode: Option<SslMode>,
    pub(crate) sslrootcert: Option<PathBuf>,
}

/// Takes `sslmode` and `sslrootcert` out of a libpq connection string (URL or key=value).
/// A string this split cannot read is returned whole (tokio-postgres then reports it).
pub(crate) fn split(conninfo: &str) -> Result<Split, String> {
    let url = conninfo
        .strip_prefix("postgres://")
        .or_else(|| conninfo.strip_prefix("postgresql://"));
    let params = match url {
        Some(after) => url_params(conninfo, after),
        None => keyword_params(conninfo),
    };
    let mut sslmode = None;
    let mut sslrootcert = None;
    let mut remove = Vec::new();
    for p in params {
        match p.key.as_str() {
            "sslmode" => {
                sslmode = Some(SslMode::parse(&p.value)?);
                remove.push(p.range);
            }
            "sslrootcert" => {
                sslrootcert = Some(PathBuf::from(p.value));
                remove.push(p.range);
            }
            _ => {}
        }
    }
    let mut rest = String::with_capacity(conninfo.len());
    let mut at = 0;
    for (start, end) in remove {
        rest.push_str(conninfo.get(at..start).unwrap_or_default());
        at = end;
    }
    rest.push_str(conninfo.get(at..).unwrap_or_default());
    // A URL whose last parameter was removed keeps a dangling `?` or `&`.
    if url.is_some() {
        while rest.ends_with('&') || rest.ends_with('?') {
            rest.pop();
        }
    }
    Ok(Split {
        rest,
        sslmode,
        sslrootcert,
    })
}

struct Param {
    key: String,
    value: String,
    /// Bytes to cut to remove the parameter (with one separator).
    range: (usize, usize),
}

/// `?key=value&…` of a URL, found as tokio-postgres finds it: after the first `@` (if
/// any), the host ends at the first `/` or `?`, the database name at the next `?`.
fn url_params(whole: &str, after_scheme: &str) -> Vec<Param> {
    let base = whole.len() - after_scheme.len();
    let after_creds = after_scheme.find('@').map_or(0, |at| at + 1);
    let tail = after_scheme.get(after_creds..).unwrap_or_default();
    let Some(q) = tail.find('?') else {
        return Vec::new();
    };
    let mut start = base + after_creds + q + 1;
    let query = whole.get(start..).unwrap_or_default();
    let mut out = Vec::new();
    for piece in query.split('&') {
        let end = start + piece.len();
        if let Some((key, value)) = piece.split_once('=') {
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            // Cut the separator after the parameter (the `&`), if there is one.
            let cut_end = if whole.get(end..end + 1) == Some("&") {
                end + 1
            } else {
                end
            };
            out.push(Param {
                key: decode(key),
                value: decode(value),
                range: (start, cut_end),
            });
        }
        start = end + 1;
    }
    out
}

/// `key = value` pairs, read with tokio-postgres's rules (whitespace separates, values may
/// be single-quoted, `\` escapes). Stops at the first thing it cannot read.
fn keyword_params(s: &str) -> Vec<Param> {
    let mut out = Vec::new();
    let mut it = s.char_indices().peekable();
    let skip_ws = |it: &mut core::iter::Peekable<core::str::CharIndices<'_>>| {
        while it.next_if(|(_, c)| c.is_whitespace()).is_some() {}
    };
    loop {
        skip_ws(&mut it);
        let Some(&(start, _)) = it.peek() else {
            return out;
        };
        let mut key = String::new();
        while let Some((_, c)) = it.next_if(|(_, c)| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        skip_ws(&mut it);
        if it.next_if(|(_, c)| *c == '=').is_none() {
            return out;
        }
        skip_ws(&mut it);
        let mut value = String::new();
        let quoted = it.next_if(|(_, c)| *c == '\'').is_some();
        loop {
            match it.peek().copied() {
                None => {
                    if quoted {
                        return out;
                    }
                    break;
                }
                Some((_, '\'')) if quoted => {
                    it.next();
                    break;
                }
                Some((_, c)) if !quoted && c.is_whitespace() => break,
                Some((_, '\\')) => {
                    it.next();
                    if let Some((_, c)) = it.next() {
                        value.push(c);
                    }
                }
                Some((_, c)) => {
                    it.next();
                    value.push(c);
                }
            }
        }
        skip_ws(&mut it);
        let end = it.peek().map_or(s.len(), |&(i, _)| i);
        out.push(Param {
            key,
            value,
            range: (start, end),
        });
    }
}

/// What the store does on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Policy {
    /// The driver's mode.
    pub(crate) mode: DriverMode,
    /// Whether the server's certificate is checked.
    pub(crate) verify: bool,
    /// A WARN to log once at start-up, when the connection is not protected.
    pub(crate) warning: Option<&'static str>,
}

/// Whether every host (and `hostaddr`) is loopback: 127.0.0.0/8, `::1`, `localhost` or a
/// Unix socket.
pub(crate) fn all_loopback(pg: &tokio_postgres::Config) -> bool {
    let host_ok = pg.get_hosts().iter().all(|h| match h {
        Host::Tcp(name) => is_loopback_name(name),
        #[cfg(unix)]
        Host::Unix(_) => true,
    });
    let addr_ok = pg.get_hostaddrs().iter().all(|a| a.is_loopback());
    host_ok && addr_ok
}

fn is_loopback_name(name: &str) -> bool {
    crate::remote::TlsSettings::is_loopback_host(name)
}

/// The store's TLS policy for the `sslmode` asked for (if any), the two `dangerous`
/// switches and whether all hosts are loopback. The error names the setting to add.
pub(crate) fn policy(
    asked: Option<SslMode>,
    dangerous_plaintext: bool,
    dangerous_accept_invalid_certs: bool,
    loopback: bool,
) -> Result<Policy, (&'static str, String)> {
    const PLAIN: &str = "postgres store: plaintext to a host that is not loopback \
        (tls.dangerous_plaintext): anyone on the path can read and rewrite credentials";
    const UNVERIFIED: &str = "postgres store: the server's certificate is not checked \
        (tls.dangerous_accept_invalid_certs): anyone on the path can impersonate the store";
    let verified = Policy {
        mode: DriverMode::Require,
        verify: true,
        warning: None,
    };
    let unverified = Policy {
        mode: DriverMode::Require,
        verify: false,
        warning: Some(UNVERIFIED),
    };
    let needs = |mode: &str, setting: &'static str, what: &str| {
        Err((
            setting,
            std::format!(
                "sslmode={mode} {what} to a host that is not loopback; use sslmode=verify-full \
                 (the default, with tls.ca_file or sslrootcert for a private CA), or add \
                 tls.{setting} = true to allow it"
            ),
        ))
    };
    match asked {
        Some(SslMode::VerifyFull | SslMode::VerifyCa) if dangerous_accept_invalid_certs => Err((
            "dangerous_accept_invalid_certs",
            "sslmode=verify-full (or verify-ca) contradicts tls.dangerous_accept_invalid_certs"
                .to_string(),
        )),
        Some(SslMode::VerifyFull | SslMode::VerifyCa) => Ok(verified),
        None if dangerous_accept_invalid_certs => Ok(unverified),
        None if dangerous_plaintext => Ok(Policy {
            mode: DriverMode::Disable,
            verify: false,
            warning: (!loopback).then_some(PLAIN),
        }),
        None if loopback => Ok(Policy {
            mode: DriverMode::Disable,
            verify: false,
            warning: None,
        }),
        None => Ok(verified),
        Some(SslMode::Disable) if loopback || dangerous_plaintext => Ok(Policy {
            mode: DriverMode::Disable,
            verify: false,
            warning: (!loopback).then_some(PLAIN),
        }),
        Some(SslMode::Disable) => needs(
            "disable",
            "dangerous_plaintext",
            "sends credentials in plaintext",
        ),
        // libpq's `prefer`: TLS without a certificate check when the server offers it,
        // else plaintext. Checking the certificate would protect nothing (whoever is on the
        // path can refuse TLS instead), so it is not checked, as libpq does.
        Some(SslMode::Prefer) if loopback || dangerous_plaintext => Ok(Policy {
            mode: DriverMode::Prefer,
            verify: false,
            warning: (!loopback).then_some(PLAIN),
        }),
        Some(SslMode::Prefer) => needs(
            "prefer",
            "dangerous_plaintext",
            "falls back to plaintext silently",
        ),
        Some(SslMode::Require) if dangerous_accept_invalid_certs => Ok(unverified),
        // On loopback `require` stays what it always was here: verified TLS.
        Some(SslMode::Require) if loopback => Ok(verified),
        Some(SslMode::Require) => needs(
            "require",
            "dangerous_accept_invalid_certs",
            "does not check the server's certificate",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rest(s: &str) -> String {
        split(s).unwrap().rest
    }

    #[test]
    fn split_takes_out_sslmode_and_sslrootcert() {
        let s = split("postgres://u:p%3F@h1:5432,h2/db?sslmode=verify-full&application_name=x&sslrootcert=%2Fca.pem").unwrap();
        assert_eq!(s.sslmode, Some(SslMode::VerifyFull));
        assert_eq!(s.sslrootcert, Some(PathBuf::from("/ca.pem")));
        assert_eq!(s.rest, "postgres://u:p%3F@h1:5432,h2/db?application_name=x");
        assert_eq!(
            rest("postgres://u@h/db?sslmode=disable"),
            "postgres://u@h/db"
        );
        assert_eq!(rest("postgresql://u@h?sslmode=require"), "postgresql://u@h");
        // A `?` in the password is before the `@`: not the query.
        let s = split("postgres://u:a?sslmode=disable@h/db").unwrap();
        assert_eq!(s.sslmode, None);
        let s = split("host=h user=u sslmode = 'verify-ca' password='a b\\' sslmode=disable' sslrootcert=/x\\ y.pem dbname=d").unwrap();
        assert_eq!(s.sslmode, Some(SslMode::VerifyCa));
        assert_eq!(s.sslrootcert, Some(PathBuf::from("/x y.pem")));
        assert_eq!(
            s.rest,
            "host=h user=u password='a b\\' sslmode=disable' dbname=d"
        );
        assert!(split("host=h sslmode=allow").is_err());
        assert!(split("postgres://h/?sslmode=verify").is_err());
    }

    #[test]
    fn loopback_names() {
        for name in [
            "127.0.0.1",
            "127.8.9.1",
            "::1",
            "[::1]",
            "localhost",
            "LOCALHOST.",
        ] {
            assert!(is_loopback_name(name), "{name}");
        }
        for name in ["10.0.0.1", "db.example", "localhost.example", "::2"] {
            assert!(!is_loopback_name(name), "{name}");
        }
    }

    #[test]
    fn only_dangerous_settings_weaken_tls_to_other_hosts() {
        let remote = |asked, p, i| policy(asked, p, i, false);
        assert_eq!(
            remote(None, false, false).unwrap().mode,
            DriverMode::Require
        );
        assert!(remote(None, false, false).unwrap().verify);
        for (asked, setting) in [
            (SslMode::Disable, "dangerous_plaintext"),
            (SslMode::Prefer, "dangerous_plaintext"),
            (SslMode::Require, "dangerous_accept_invalid_certs"),
        ] {
            let (named, reason) = remote(Some(asked), false, false).unwrap_err();
            assert_eq!(named, setting);
            assert!(reason.contains(setting), "{reason}");
        }
        let prefer = remote(Some(SslMode::Prefer), true, false).unwrap();
        assert!(prefer.mode == DriverMode::Prefer && !prefer.verify && prefer.warning.is_some());
        let local = policy(Some(SslMode::Prefer), false, false, true).unwrap();
        assert!(local.mode == DriverMode::Prefer && local.warning.is_none());
        let plain = remote(Some(SslMode::Disable), true, false).unwrap();
        assert_eq!(plain.mode, DriverMode::Disable);
        assert!(plain.warning.is_some());
        let any = remote(Some(SslMode::Require), false, true).unwrap();
        assert!(!any.verify && any.warning.is_some());
        assert!(remote(Some(SslMode::VerifyFull), false, true).is_err());
        // Loopback: plaintext by default, no WARN.
        let local = policy(None, false, false, true).unwrap();
        assert_eq!(local.mode, DriverMode::Disable);
        assert!(local.warning.is_none());
        let local = policy(Some(SslMode::VerifyFull), false, false, true).unwrap();
        assert!(local.verify);
        let local = policy(Some(SslMode::Require), false, false, true).unwrap();
        assert!(local.verify && local.mode == DriverMode::Require);
    }
}
