//! The lookup command: the default layout's `HGETALL <prefix>:<mechanism>:<username>`, or
//! a user-written `HMGET`, `HGETALL` or `GET` whose arguments hold `${placeholder}`s.

use std::string::{String, ToString};
use std::vec::Vec;

use mqtt_scram::provider::LookupRequest;

use crate::remote::{KNOWN_FIELDS, is_known_field};

/// What the reply looks like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// An array of values named by these fields (`HMGET`).
    Named(Vec<String>),
    /// A map of field to value (`HGETALL`).
    Map,
    /// One string: a PostgreSQL-style verifier (`GET`).
    Verifier,
}

/// One argument: literal text with `${placeholder}`s.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Arg(Vec<Piece>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Username,
    ClientId,
    PeerHost,
    CertCommonName,
    Mechanism,
}

/// A parsed lookup command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LookupCommand {
    name: String,
    args: Vec<Arg>,
    pub(crate) reply: Reply,
}

impl LookupCommand {
    /// `HGETALL <prefix>:${mechanism}:${username}`.
    pub(crate) fn default_layout(prefix: &str) -> Self {
        Self {
            name: "HGETALL".into(),
            args: std::vec![Arg(std::vec![
                Piece::Text(std::format!("{prefix}:")),
                Piece::Mechanism,
                Piece::Text(":".into()),
                Piece::Username,
            ])],
            reply: Reply::Map,
        }
    }

    /// Parses a whitespace-separated command template.
    pub(crate) fn parse(template: &str) -> Result<Self, String> {
        let mut words = template.split_whitespace();
        let name = words.next().ok_or("command is empty")?.to_ascii_uppercase();
        let args: Vec<&str> = words.collect();
        let (key, fields) = args
            .split_first()
            .ok_or_else(|| std::format!("command: {name} needs a key"))?;
        let reply = match name.as_str() {
            "HMGET" => {
                if fields.is_empty() {
                    return Err("command: HMGET needs at least one field".into());
                }
                if let Some(unknown) = fields.iter().find(|f| !is_known_field(f)) {
                    return Err(std::format!(
                        "command: unknown field {unknown:?} (known: {})",
                        KNOWN_FIELDS.join(", ")
                    ));
                }
                Reply::Named(fields.iter().map(|f| f.to_string()).collect())
            }
            "HGETALL" | "GET" if !fields.is_empty() => {
                return Err(std::format!("command: {name} takes only a key"));
            }
            "HGETALL" => Reply::Map,
            "GET" => Reply::Verifier,
            other => {
                return Err(std::format!(
                    "command: {other} is not supported; use HMGET, HGETALL or GET"
                ));
            }
        };
        let key = parse_arg(key)?;
        if !key.0.contains(&Piece::Username) {
            return Err("command: the key must use ${username}".into());
        }
        let mut parsed = std::vec![key];
        for field in fields {
            parsed.push(parse_arg(field)?);
        }
        Ok(Self {
            name,
            args: parsed,
            reply,
        })
    }

    /// The command for `request`; every argument is one bulk string.
    pub(crate) fn build(&self, request: &LookupRequest<'_>) -> redis::Cmd {
        let mut cmd = redis::cmd(&self.name);
        for arg in &self.args {
            let mut value = String::new();
            for piece in &arg.0 {
                match piece {
                    Piece::Text(t) => value.push_str(t),
                    Piece::Username => value.push_str(request.username),
                    Piece::ClientId => value.push_str(&request.connection.client_id),
                    Piece::PeerHost => {
                        if let Some(peer) = request.connection.peer {
                            value.push_str(&peer.ip().to_string());
                        }
                    }
                    Piece::CertCommonName => {
                        if let Some(cn) = &request.connection.cert_common_name {
                            value.push_str(cn);
                        }
                    }
                    Piece::Mechanism => value.push_str(request.mechanism.hash().mechanism().name()),
                }
            }
            cmd.arg(value);
        }
        cmd
    }
}

fn parse_arg(text: &str) -> Result<Arg, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        if start > 0 {
            pieces.push(Piece::Text(rest.get(..start).unwrap_or_default().into()));
        }
        let after = rest.get(start + 2..).unwrap_or_default();
        let end = after
            .find('}')
            .ok_or("command: a ${ placeholder is not closed with }")?;
        let name = after.get(..end).unwrap_or_default().trim();
        pieces.push(match name {
            "username" => Piece::Username,
            "clientid" => Piece::ClientId,
            "peerhost" => Piece::PeerHost,
            "cert_common_name" => Piece::CertCommonName,
            "mechanism" => Piece::Mechanism,
            other => {
                return Err(std::format!(
                    "command: unknown placeholder ${{{other}}}; known: ${{username}}, ${{clientid}}, ${{peerhost}}, ${{cert_common_name}}, ${{mechanism}}"
                ));
            }
        });
        rest = after.get(end + 1..).unwrap_or_default();
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.into()));
    }
    Ok(Arg(pieces))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_scram::{ConnectionInfo, Mechanism};

    #[test]
    fn templates() {
        let c = LookupCommand::parse(
            "hmget mqtt_user:${username} salt stored_key server_key iteration_count",
        )
        .unwrap();
        assert_eq!(
            c.reply,
            Reply::Named(std::vec![
                "salt".into(),
                "stored_key".into(),
                "server_key".into(),
                "iteration_count".into()
            ])
        );
        let connection = ConnectionInfo::new("c1");
        let request = LookupRequest::new(Mechanism::ScramSha256Plus, "a b'\"", &connection);
        let packed = c.build(&request).get_packed_command();
        let text = String::from_utf8_lossy(&packed);
        assert!(text.contains("mqtt_user:a b'\""), "{text}");
        let d = LookupCommand::default_layout("p")
            .build(&request)
            .get_packed_command();
        assert!(String::from_utf8_lossy(&d).contains("p:SCRAM-SHA-256:a b'\""));
        for bad in [
            "",
            "DEL ${username}",
            "HMGET k:${username} password_hash",
            "HMGET k:${username}",
            "HGETALL k:${username} salt",
            "GET fixed",
            "GET ${user}",
            "GET ${username",
        ] {
            assert!(LookupCommand::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            LookupCommand::parse("GET v:${username}").unwrap().reply,
            Reply::Verifier
        );
    }
}
