//! Placeholder templates: `${name}` (EMQX 5) and `%x` (EMQX v4, amqtt), parsed once
//! at construction and rendered per request with a context-specific encoder.
//!
//! The same engine serves the credential provider (values from a [`LookupRequest`]) and
//! the HTTP ACL authorizer of `mqtt-scram-authz` (values from its ACL request); a
//! template is parsed for one [`Scope`], and a placeholder the scope cannot fill is an
//! unknown placeholder there (`${topic}` for the provider, `${peerhost}` for the ACL).

use std::string::{String, ToString};
use std::vec::Vec;

use mqtt_scram::provider::LookupRequest;

use crate::config::HttpConfigError;

/// Which request a template is rendered for, hence which placeholders it may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// A credential lookup ([`LookupRequest`]).
    Lookup,
    /// A topic authorization check (`mqtt-scram-authz`'s HTTP authorizer).
    Acl,
}

/// A value a placeholder stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Var {
    /// `${username}`, `%u`: the SCRAM username.
    Username,
    /// `${clientid}`, `%c`: the MQTT client id.
    ClientId,
    /// `${peerhost}`, `%a`: the peer address.
    PeerHost,
    /// `${peerport}`: the peer's (client's) port.
    PeerPort,
    /// `%p` (EMQX v4 `sockport`): the local port of the listener the client connected to.
    ListenerPort,
    /// `${protocol}`, `%r`: the protocol name.
    Protocol,
    /// `${listener}`: the listener name.
    Listener,
    /// `${mechanism}`: the SCRAM mechanism.
    Mechanism,
    /// `${cert_common_name}`, `%C`: the client certificate CN.
    CertCommonName,
    /// `${cert_subject}`, `%d`: the client certificate subject.
    CertSubject,
    /// `${client_attrs.NAME}`: a client attribute.
    ClientAttr(String),
    /// The topic of an ACL check.
    Topic,
    /// `publish`, `subscribe` or `read`.
    Action,
    /// `${acc}`, `%A`: the access code of the checked action (EMQX v4: 1 subscribe,
    /// 2 publish; amqtt: 1 receive, 2 publish, 4 subscribe — the authorizer's mapping).
    Acc,
}

impl Var {
    /// Whether a request of `scope` can fill this placeholder.
    fn available_in(&self, scope: Scope) -> bool {
        match self {
            Self::Username
            | Self::ClientId
            | Self::CertCommonName
            | Self::CertSubject
            | Self::ClientAttr(_)
            | Self::PeerHost
            | Self::PeerPort
            | Self::ListenerPort
            | Self::Protocol => true,
            Self::Listener | Self::Mechanism => scope == Scope::Lookup,
            Self::Topic | Self::Action | Self::Acc => scope == Scope::Acl,
        }
    }
}

/// Where placeholder values come from.
pub trait Values {
    /// Hands the value of `var` to `emit` (empty when the request has none).
    fn value(&self, var: &Var, emit: &mut dyn FnMut(&str));
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Var(Var),
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `source` for a credential lookup; unknown placeholders and the password are
    /// errors.
    #[cfg(test)]
    pub fn parse(source: &str) -> Result<Self, HttpConfigError> {
        Self::parse_in(source, Scope::Lookup, "template")
    }

    /// Parses `source` for `scope`: placeholders that scope cannot fill are unknown.
    /// Errors name `place` (`url`, `header authorization`, …) and the offending
    /// placeholder, never the whole template, which may hold a secret.
    pub fn parse_in(source: &str, scope: Scope, place: &str) -> Result<Self, HttpConfigError> {
        let invalid = |reason: &str| HttpConfigError::InvalidTemplate {
            place: place.to_string(),
            reason: reason.to_string(),
        };
        let password = |placeholder: &str| HttpConfigError::PasswordPlaceholder {
            place: place.to_string(),
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
                    other => named(other, scope).ok_or_else(|| {
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
                    Some(letter) if !starts_escape => match legacy(letter, scope) {
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
    pub fn is_fixed(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }

    /// Whether the template is exactly the access code (`${acc}` or `%A`), which a JSON
    /// body sends as a number.
    pub fn is_acc(&self) -> bool {
        matches!(self.parts.as_slice(), [Part::Var(Var::Acc)])
    }

    /// Renders: literals as written, values through `encode`.
    pub fn render<V: Values + ?Sized>(
        &self,
        request: &V,
        encode: impl Fn(&str, &mut String),
    ) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Var(var) => request.value(var, &mut |v| encode(v, &mut out)),
            }
        }
        out
    }

    /// Whether a value would be `.` or `..`: URL parsers resolve those as dot segments
    /// (even percent-encoded), so in a path they would change which resource is asked.
    pub fn has_dot_segment_value<V: Values + ?Sized>(&self, request: &V) -> bool {
        self.parts.iter().any(|part| match part {
            Part::Var(var) => {
                let mut dot = false;
                request.value(var, &mut |v| dot = v == "." || v == "..");
                dot
            }
            Part::Literal(_) => false,
        })
    }

    /// Renders with a fixed stand-in for every value (to validate URL shapes).
    pub fn render_sample(&self, sample: &str) -> String {
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

fn named(name: &str, scope: Scope) -> Option<Var> {
    let var = match name {
        "username" => Var::Username,
        "clientid" => Var::ClientId,
        "peerhost" => Var::PeerHost,
        "peerport" => Var::PeerPort,
        "protocol" => Var::Protocol,
        "listener" => Var::Listener,
        "mechanism" => Var::Mechanism,
        "cert_common_name" => Var::CertCommonName,
        "cert_subject" => Var::CertSubject,
        "topic" => Var::Topic,
        "action" => Var::Action,
        "acc" => Var::Acc,
        other => {
            let attr = other.strip_prefix("client_attrs.")?;
            if attr.is_empty() {
                return None;
            }
            Var::ClientAttr(attr.to_string())
        }
    };
    var.available_in(scope).then_some(var)
}

fn legacy(letter: char, scope: Scope) -> Option<Var> {
    let var = match letter {
        'u' => Var::Username,
        'c' => Var::ClientId,
        'a' => Var::PeerHost,
        'p' => Var::ListenerPort,
        'r' => Var::Protocol,
        'C' => Var::CertCommonName,
        'd' => Var::CertSubject,
        't' => Var::Topic,
        'A' => Var::Acc,
        _ => return None,
    };
    var.available_in(scope).then_some(var)
}

impl Values for LookupRequest<'_> {
    fn value(&self, var: &Var, emit: &mut dyn FnMut(&str)) {
        lookup_value(var, self, emit);
    }
}

fn lookup_value(var: &Var, request: &LookupRequest<'_>, emit: &mut dyn FnMut(&str)) {
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
        Var::ListenerPort => emit(
            &connection
                .listener_port
                .map(|p| p.to_string())
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
        // Not parsed in the lookup scope.
        Var::Topic | Var::Action | Var::Acc => emit(""),
    }
}

/// Appends `value` unchanged.
pub fn raw(value: &str, out: &mut String) {
    out.push_str(value);
}

/// Appends `value` percent-encoded: everything but ASCII letters, digits and `-._~`,
/// safe in any URL path segment or query component.
pub fn url_component(value: &str, out: &mut String) {
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
    use mqtt_scram::{ConnectionInfo, Mechanism};

    fn render(template: &str) -> String {
        let mut connection = ConnectionInfo::new("c 1")
            .with_peer("10.0.0.1:51000".parse().unwrap())
            .with_listener_port(1883);
        connection.client_attrs.insert("tenant".into(), "t1".into());
        let request = LookupRequest::new(Mechanism::ScramSha256, "a&b", &connection);
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
        assert_eq!(render("${peerport}"), "51000");
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

    #[test]
    fn acl_placeholders_only_in_the_acl_scope() {
        for lookup_only_not in ["${topic}", "${action}", "${acc}", "%t", "%A"] {
            assert!(
                matches!(
                    Template::parse(lookup_only_not),
                    Err(HttpConfigError::InvalidTemplate { .. })
                ),
                "{lookup_only_not}"
            );
            assert!(Template::parse_in(lookup_only_not, Scope::Acl, "t").is_ok());
        }
        for acl_cannot_fill in ["${listener}", "${mechanism}"] {
            assert!(
                Template::parse_in(acl_cannot_fill, Scope::Acl, "t").is_err(),
                "{acl_cannot_fill}"
            );
            assert!(Template::parse(acl_cannot_fill).is_ok());
        }
        for both in ["${peerhost}", "%a", "%p", "%r", "%d", "${peerport}"] {
            assert!(Template::parse_in(both, Scope::Acl, "t").is_ok(), "{both}");
            assert!(Template::parse(both).is_ok(), "{both}");
        }
        assert!(matches!(
            Template::parse_in("${password}", Scope::Acl, "t"),
            Err(HttpConfigError::PasswordPlaceholder { .. })
        ));
    }
}
