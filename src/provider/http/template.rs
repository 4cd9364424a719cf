//! Placeholder templates: `${name}` (EMQX 5) and `%x` (EMQX v4, amqtt), parsed once
//! at construction and rendered per lookup with a context-specific encoder.

use std::string::{String, ToString};
use std::vec::Vec;

use super::config::HttpConfigError;
use crate::provider::LookupRequest;

/// A value taken from the lookup request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Var {
    Username,
    ClientId,
    PeerHost,
    PeerPort,
    Protocol,
    Listener,
    Mechanism,
    CertCommonName,
    CertSubject,
    ClientAttr(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Var(Var),
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `source`; unknown placeholders and the password are errors.
    pub(crate) fn parse(source: &str) -> Result<Self, HttpConfigError> {
        let invalid = |reason: &str| HttpConfigError::InvalidTemplate {
            template: source.to_string(),
            reason: reason.to_string(),
        };
        let password = |placeholder: &str| HttpConfigError::PasswordPlaceholder {
            template: source.to_string(),
            placeholder: placeholder.to_string(),
        };
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = source;
        while let Some(c) = rest.chars().next() {
            let var = if let Some(after) = rest.strip_prefix("${") {
                let end = after
                    .find('}')
                    .ok_or_else(|| invalid("`${` without a closing `}`"))?;
                let name = after.get(..end).unwrap_or_default();
                rest = after.get(end + 1..).unwrap_or_default();
                Some(match name.trim() {
                    "password" => return Err(password("${password}")),
                    other => named(other).ok_or_else(|| {
                        invalid(&std::format!("unknown placeholder ${{{other}}}"))
                    })?,
                })
            } else if let Some(after) = rest.strip_prefix('%') {
                let next = after.chars().next();
                let starts_escape =
                    after.len() >= 2 && after.bytes().take(2).all(|b| b.is_ascii_hexdigit());
                match next {
                    Some('P') => return Err(password("%P")),
                    Some('%') => {
                        literal.push('%');
                        rest = after.get(1..).unwrap_or_default();
                        continue;
                    }
                    Some(letter) if !starts_escape => match legacy(letter) {
                        Some(var) => {
                            rest = after.get(1..).unwrap_or_default();
                            Some(var)
                        }
                        None if letter.is_ascii_alphabetic() => {
                            return Err(invalid(&std::format!("unknown placeholder %{letter}")));
                        }
                        None => None,
                    },
                    _ => None,
                }
            } else {
                None
            };
            match var {
                Some(var) => {
                    if !literal.is_empty() {
                        parts.push(Part::Literal(core::mem::take(&mut literal)));
                    }
                    parts.push(Part::Var(var));
                }
                None => {
                    literal.push(c);
                    rest = rest.get(c.len_utf8()..).unwrap_or_default();
                }
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Self { parts })
    }

    /// Whether the template has no placeholder.
    pub(crate) fn is_fixed(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }

    /// Renders: literals as written, values through `encode`.
    pub(crate) fn render(
        &self,
        request: &LookupRequest<'_>,
        encode: impl Fn(&str, &mut String),
    ) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Var(var) => value(var, request, |v| encode(v, &mut out)),
            }
        }
        out
    }

    /// Whether a value would be `.` or `..`: URL parsers resolve those as dot segments
    /// (even percent-encoded), so in a path they would change which resource is asked.
    pub(crate) fn has_dot_segment_value(&self, request: &LookupRequest<'_>) -> bool {
        self.parts.iter().any(|part| match part {
            Part::Var(var) => {
                let mut dot = false;
                value(var, request, |v| dot = v == "." || v == "..");
                dot
            }
            Part::Literal(_) => false,
        })
    }

    /// Renders with a fixed stand-in for every value (to validate URL shapes).
    pub(crate) fn render_sample(&self, sample: &str) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Var(_) => out.push_str(sample),
            }
        }
        out
    }
}

fn named(name: &str) -> Option<Var> {
    Some(match name {
        "username" => Var::Username,
        "clientid" => Var::ClientId,
        "peerhost" => Var::PeerHost,
        "peerport" => Var::PeerPort,
        "protocol" => Var::Protocol,
        "listener" => Var::Listener,
        "mechanism" => Var::Mechanism,
        "cert_common_name" => Var::CertCommonName,
        "cert_subject" => Var::CertSubject,
        other => {
            let attr = other.strip_prefix("client_attrs.")?;
            if attr.is_empty() {
                return None;
            }
            Var::ClientAttr(attr.to_string())
        }
    })
}

fn legacy(letter: char) -> Option<Var> {
    Some(match letter {
        'u' => Var::Username,
        'c' => Var::ClientId,
        'a' => Var::PeerHost,
        'p' => Var::PeerPort,
        'r' => Var::Protocol,
        'C' => Var::CertCommonName,
        'd' => Var::CertSubject,
        _ => return None,
    })
}

fn value(var: &Var, request: &LookupRequest<'_>, emit: impl FnOnce(&str)) {
    let connection = request.connection;
    match var {
        Var::Username => emit(request.username),
        Var::ClientId => emit(&connection.client_id),
        Var::PeerHost => emit(
            &connection
                .peer
                .map(|p| p.ip().to_string())
                .unwrap_or_default(),
        ),
        Var::PeerPort => emit(
            &connection
                .peer
                .map(|p| p.port().to_string())
                .unwrap_or_default(),
        ),
        Var::Protocol => emit(&connection.protocol),
        Var::Listener => emit(&connection.listener),
        Var::Mechanism => emit(request.mechanism.name()),
        Var::CertCommonName => emit(connection.cert_common_name.as_deref().unwrap_or_default()),
        Var::CertSubject => emit(connection.cert_subject.as_deref().unwrap_or_default()),
        Var::ClientAttr(name) => emit(
            connection
                .client_attrs
                .get(name)
                .map(String::as_str)
                .unwrap_or_default(),
        ),
    }
}

/// Appends `value` unchanged.
pub(crate) fn raw(value: &str, out: &mut String) {
    out.push_str(value);
}

/// Appends `value` percent-encoded: everything but ASCII letters, digits and `-._~`,
/// safe in any URL path segment or query component.
pub(crate) fn url_component(value: &str, out: &mut String) {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    out.extend(percent_encoding::utf8_percent_encode(value, SET));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::ConnectionInfo;
    use crate::mechanism::Mechanism;

    fn render(template: &str) -> String {
        let mut connection = ConnectionInfo::new("c 1").with_peer("10.0.0.1:1883".parse().unwrap());
        connection.client_attrs.insert("tenant".into(), "t1".into());
        let request = LookupRequest {
            mechanism: Mechanism::ScramSha256,
            username: "a&b",
            authzid: None,
            connection: &connection,
        };
        Template::parse(template)
            .unwrap()
            .render(&request, url_component)
    }

    #[test]
    fn both_syntaxes_render() {
        assert_eq!(
            render("/u/${username}?c=%c&h=%a:%p"),
            "/u/a%26b?c=c%201&h=10.0.0.1:1883"
        );
        assert_eq!(
            render("${mechanism}|${client_attrs.tenant}|%r"),
            "SCRAM-SHA-256|t1|mqtt"
        );
    }

    #[test]
    fn percent_escapes_and_literals_survive() {
        assert_eq!(render("/caf%C3%A9/%%u/50%"), "/caf%C3%A9/%u/50%");
    }

    #[test]
    fn unknown_and_password_are_errors() {
        assert!(matches!(
            Template::parse("${nope}"),
            Err(HttpConfigError::InvalidTemplate { .. })
        ));
        assert!(matches!(
            Template::parse("%x"),
            Err(HttpConfigError::InvalidTemplate { .. })
        ));
        assert!(matches!(
            Template::parse("${username"),
            Err(HttpConfigError::InvalidTemplate { .. })
        ));
        let err = Template::parse("p=${password}").unwrap_err();
        assert!(
            err.to_string().contains("SCRAM never gives the password"),
            "{err}"
        );
        assert!(matches!(
            Template::parse("%P"),
            Err(HttpConfigError::PasswordPlaceholder { .. })
        ));
    }
}
