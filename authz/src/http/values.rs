//! The values an ACL check's templates render: the client's, the topic's and the action's.

use std::string::{String, ToString};

use mqtt_scram_http::template::{Values, Var};

use super::config::AccessCodes;
use crate::access::Access;
use crate::client::Client;

/// The values of one ACL check.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AclRequest<'a> {
    pub(crate) client: &'a Client,
    pub(crate) access: Access,
    pub(crate) topic: &'a str,
    pub(crate) codes: AccessCodes,
}

impl Values for AclRequest<'_> {
    fn value(&self, var: &Var, emit: &mut dyn FnMut(&str)) {
        let client = self.client;
        match var {
            Var::Username => emit(client.username.as_deref().unwrap_or_default()),
            Var::ClientId => emit(&client.client_id),
            Var::CertCommonName => emit(client.cert_common_name.as_deref().unwrap_or_default()),
            Var::CertSubject => emit(client.cert_subject.as_deref().unwrap_or_default()),
            Var::ClientAttr(name) => emit(
                client
                    .client_attrs
                    .get(name)
                    .map(String::as_str)
                    .unwrap_or_default(),
            ),
            Var::PeerHost => emit(&client.peer.map(|p| p.ip().to_string()).unwrap_or_default()),
            Var::PeerPort => emit(
                &client
                    .peer
                    .map(|p| p.port().to_string())
                    .unwrap_or_default(),
            ),
            Var::ListenerPort => emit(
                &client
                    .listener_port
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
            ),
            Var::Protocol => emit(&client.protocol),
            Var::Topic => emit(self.topic),
            Var::Action => emit(self.access.name()),
            Var::Acc => emit(&self.codes.code(self.access).to_string()),
            // Not parsed in the ACL scope.
            _ => emit(""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_scram_http::template::{Scope, Template, raw, url_component};

    #[test]
    fn acl_values_render() {
        let mut client = Client::new("a&b", "c/1");
        client.cert_common_name = Some("cn".into());
        client.client_attrs.insert("tenant".into(), "t1".into());
        client.peer = Some("10.0.0.7:50123".parse().unwrap());
        client.listener_port = Some(1883);
        let request = AclRequest {
            client: &client,
            access: Access::Subscribe,
            topic: "s/+/#",
            codes: AccessCodes::AMQTT,
        };
        let template = Template::parse_in(
            "/${username}/%c/${topic}/%t/${action}/${acc}/%A/%C/${client_attrs.tenant}/%%",
            Scope::Acl,
            "url",
        )
        .unwrap();
        assert_eq!(
            template.render(&request, url_component),
            "/a%26b/c%2F1/s%2F%2B%2F%23/s%2F%2B%2F%23/subscribe/4/4/cn/t1/%"
        );
        // EMQX v4: `%p` is the listener port (`sockport`), `${peerport}` the client's.
        let ports = Template::parse_in("%a %p ${peerport} %r", Scope::Acl, "url").unwrap();
        assert_eq!(ports.render(&request, raw), "10.0.0.7 1883 50123 mqtt");
        let emqx = AclRequest {
            codes: AccessCodes::EMQX_V4,
            ..request
        };
        assert_eq!(
            Template::parse_in("%A", Scope::Acl, "url")
                .unwrap()
                .render(&emqx, raw),
            "1"
        );
        let anonymous = Client::anonymous("c");
        let request = AclRequest {
            client: &anonymous,
            access: Access::Read,
            topic: "t",
            codes: AccessCodes::AMQTT,
        };
        assert_eq!(
            Template::parse_in("[%u]${action}=${acc}", Scope::Acl, "url")
                .unwrap()
                .render(&request, raw),
            "[]read=1"
        );
    }
}
