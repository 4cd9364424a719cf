//! User-written lookup queries: `${placeholder}`s become typed bind parameters.

use std::string::String;
use std::vec::Vec;

use mqtt_scram::provider::LookupRequest;

/// A value of the lookup request that a query may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placeholder {
    /// `${username}`
    Username,
    /// `${clientid}`
    ClientId,
    /// `${peerhost}` (NULL when unknown)
    PeerHost,
    /// `${cert_common_name}` (NULL without a client certificate)
    CertCommonName,
    /// `${mechanism}`: `SCRAM-SHA-256` or `SCRAM-SHA-512`
    Mechanism,
}

impl Placeholder {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "username" => Self::Username,
            "clientid" => Self::ClientId,
            "peerhost" => Self::PeerHost,
            "cert_common_name" => Self::CertCommonName,
            "mechanism" => Self::Mechanism,
            _ => return None,
        })
    }

    /// The value for `request` (`None` is bound as SQL NULL).
    pub(crate) fn value(self, request: &LookupRequest<'_>) -> Option<String> {
        match self {
            Self::Username => Some(request.username.into()),
            Self::ClientId => Some(request.connection.client_id.clone()),
            Self::PeerHost => request.connection.peer.map(|p| p.ip().to_string()),
            Self::CertCommonName => request.connection.cert_common_name.clone(),
            Self::Mechanism => Some(request.mechanism.hash().mechanism().name().into()),
        }
    }
}

/// SQL with `$n::text` parameters and what each `$n` is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LookupQuery {
    pub(crate) sql: String,
    pub(crate) params: Vec<Placeholder>,
}

impl LookupQuery {
    /// The default schema's lookup in `table`.
    pub(crate) fn default_schema(table: &str) -> Self {
        Self {
            sql: super::schema::lookup_sql(table),
            params: std::vec![Placeholder::Username, Placeholder::Mechanism],
        }
    }

    /// Turns each `${name}` into `$n::text` (one `n` per distinct placeholder). Nothing
    /// of a request is ever spliced into the SQL.
    pub(crate) fn parse(template: &str) -> Result<Self, String> {
        let mut sql = String::with_capacity(template.len());
        let mut params: Vec<Placeholder> = Vec::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            sql.push_str(rest.get(..start).unwrap_or_default());
            let after = rest.get(start + 2..).unwrap_or_default();
            let end = after
                .find('}')
                .ok_or("query: a ${ placeholder is not closed with }")?;
            let name = after.get(..end).unwrap_or_default().trim();
            let placeholder = Placeholder::from_name(name).ok_or_else(|| {
                std::format!(
                    "query: unknown placeholder ${{{name}}}; known: ${{username}}, ${{clientid}}, ${{peerhost}}, ${{cert_common_name}}, ${{mechanism}}"
                )
            })?;
            let index = match params.iter().position(|p| *p == placeholder) {
                Some(i) => i + 1,
                None => {
                    params.push(placeholder);
                    params.len()
                }
            };
            sql.push_str(&std::format!("${index}::text"));
            rest = after.get(end + 1..).unwrap_or_default();
        }
        sql.push_str(rest);
        if !params.contains(&Placeholder::Username) {
            return Err("query: must use ${username}".into());
        }
        Ok(Self { sql, params })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_parameters() {
        let q = LookupQuery::parse(
            "SELECT verifier FROM u WHERE name = ${username} AND (cn = ${cert_common_name} OR ${ username } = 'x')",
        )
        .unwrap();
        assert_eq!(
            q.sql,
            "SELECT verifier FROM u WHERE name = $1::text AND (cn = $2::text OR $1::text = 'x')"
        );
        assert_eq!(
            q.params,
            [Placeholder::Username, Placeholder::CertCommonName]
        );
        assert!(
            LookupQuery::parse("SELECT 1 WHERE x = ${user}")
                .unwrap_err()
                .contains("${user}")
        );
        assert!(LookupQuery::parse("SELECT 1 WHERE x = ${username").is_err());
        assert!(LookupQuery::parse("SELECT 1").is_err());
    }
}
