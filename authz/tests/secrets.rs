//! Issue 13 §3: no configured secret (header values, a URL's query string or user
//! information, parameter values, a JWT key) appears in `{:?}`, `{}` or the logs of the
//! authorization package's configuration and error types.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

const SECRET: &str = "S3cr3tT0k3n";

fn assert_hidden(what: &str, debug: &dyn std::fmt::Debug, display: Option<&dyn std::fmt::Display>) {
    let mut text = format!("{debug:?}");
    if let Some(display) = display {
        text.push_str(&format!(" | {display}"));
    }
    assert!(!text.contains(SECRET), "{what} shows the secret: {text}");
}

#[cfg(feature = "jwt")]
#[test]
fn jwt_verifier_hides_its_key() {
    use mqtt_scram_authz::fallback::jwt::JwtVerifier;
    let verifier = JwtVerifier::hs256(SECRET.as_bytes()).acl_claim("acl");
    assert_hidden("JwtVerifier", &verifier, None);
    let error = verifier.verify("alice", b"not.a.jwt").unwrap_err();
    assert_hidden("JwtError", &error, Some(&error));
}

#[cfg(feature = "http")]
mod http {
    use std::time::Duration;

    use mqtt_scram_authz::http::{HttpAclConfig, HttpAuthorizer};
    use mqtt_scram_authz::{AsyncChain, Client, Request};

    use super::common::capture_logs;
    use super::{SECRET, assert_hidden};

    fn secret_config(url: &str) -> HttpAclConfig {
        HttpAclConfig::amqtt(format!("{url}?api_key={SECRET}&t=${{topic}}"))
            .superuser_url(format!("{url}/super?api_key={SECRET}"))
            .header("authorization", format!("Bearer {SECRET}"))
            .header("x-templated", format!("{SECRET}-${{clientid}}"))
            .param("api_key", SECRET)
            .timeout(Duration::from_millis(300))
    }

    #[test]
    fn configuration_authorizer_and_chain_hide_secrets() {
        let config = secret_config("http://127.0.0.1:9/acl");
        assert_hidden("HttpAclConfig", &config, None);
        let authorizer = HttpAuthorizer::new(config).unwrap();
        assert_hidden("HttpAuthorizer", &authorizer, None);
        let chain = AsyncChain::new().with(authorizer);
        assert_hidden("AsyncChain", &chain, None);
    }

    #[test]
    fn every_configuration_error_hides_secrets() {
        let base = "http://127.0.0.1:9/acl";
        let bad = [
            (
                "header template",
                HttpAclConfig::new(base).header("authorization", format!("{SECRET} ${{nope}}")),
            ),
            (
                "header password",
                HttpAclConfig::new(base).header("authorization", format!("{SECRET}%P")),
            ),
            (
                "header value",
                HttpAclConfig::new(base).header("authorization", format!("{SECRET}\u{1}")),
            ),
            (
                "url template",
                HttpAclConfig::new(format!("{base}?k={SECRET}&x=${{peerhostx}}")),
            ),
            (
                "url password",
                HttpAclConfig::new(format!("{base}?k={SECRET}&p=${{password}}")),
            ),
            (
                "url credentials",
                HttpAclConfig::new(format!("http://u:{SECRET}@127.0.0.1:9/acl")),
            ),
            (
                "superuser url",
                HttpAclConfig::new(base).superuser_url(format!("{base}?k={SECRET}#f")),
            ),
            (
                "parameter",
                HttpAclConfig::new(base).param("key", format!("{SECRET}${{nope}}")),
            ),
            (
                "retries",
                secret_config(base).retries(1, Duration::from_secs(1), 1000.0),
            ),
        ];
        for (what, config) in bad {
            let error = HttpAuthorizer::new(config).unwrap_err();
            assert_hidden(what, &error, Some(&error));
        }
    }

    #[tokio::test]
    async fn failing_checks_log_no_secret() {
        let (guard, log) = capture_logs();
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let down = HttpAuthorizer::new(secret_config(&format!("http://{closed}/acl")).retries(
            1,
            Duration::from_millis(5),
            1.0,
        ))
        .unwrap();
        let who = Client::new("alice", "c1");
        assert!(
            !down
                .check(&who, Request::new(mqtt_scram_authz::Access::Publish, "t"))
                .await
                .is_allowed()
        );
        drop(guard);
        let text = log.text();
        assert!(text.contains("http acl"), "nothing captured: {text}");
        assert!(!text.contains(SECRET), "the log shows the secret: {text}");
    }
}
