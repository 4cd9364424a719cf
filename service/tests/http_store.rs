//! The workspace's own HTTP store (`mqtt_scram_stores::http`, the `emqx_scram` preset that
//! speaks EMQX 5's SCRAM REST contract) against the running service: one store of the
//! workspace served to another over the EMQX contract.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod support;

use mqtt_scram::provider::{CredentialProvider, Lookup, LookupRequest};
use mqtt_scram::{ConnectionInfo, Mechanism};
use mqtt_scram_authz::{AclRule, Action, Permission};
use mqtt_scram_stores::http::{HttpConfig, HttpMethod, HttpProvider};
use mqtt_scram_testkit::TempDir;
use support::{User, start, toml_path, users_file};

async fn lookup(provider: &HttpProvider, user: &str) -> Lookup {
    let connection = ConnectionInfo::new("c1");
    provider
        .lookup(&LookupRequest::new(
            Mechanism::ScramSha256,
            user,
            &connection,
        ))
        .await
}

#[tokio::test]
async fn the_emqx_scram_preset_reads_the_service() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = TempDir::new("service-http-store");
    let mut admin = User::new("admin", "secret");
    admin.superuser = true;
    admin.acl = vec![AclRule::new(Permission::Deny, Action::All, ["$SYS/#"])];
    let users = dir.write(
        "users.jsonl",
        &users_file(&[User::new("alice", "pencil"), admin]),
    );
    for (mock, method) in [(true, HttpMethod::Get), (false, HttpMethod::Post)] {
        let toml = format!("store = {}\n[emqx5]\nmock = {mock}\n", toml_path(&users));
        let service = start(&toml).await;
        let provider = HttpProvider::new(
            HttpConfig::emqx_scram(service.url("/emqx5/scram"))
                .method(method)
                .param("username", "${username}")
                .not_found_status(404),
        )
        .unwrap();

        let Lookup::Found(alice) = lookup(&provider, "alice").await else {
            panic!("alice not found");
        };
        assert!(alice.credentials.verify_password("pencil").unwrap());
        assert!(!alice.attributes.is_superuser);

        let Lookup::Found(admin) = lookup(&provider, "admin").await else {
            panic!("admin not found");
        };
        assert!(admin.credentials.verify_password("secret").unwrap());
        assert!(admin.attributes.is_superuser);
        let rules = mqtt_scram_stores::record::acl_rules(&admin);
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].topics, ["$SYS/#"]);

        match lookup(&provider, "nobody").await {
            Lookup::Found(record) if mock => {
                assert!(!record.credentials.verify_password("pencil").unwrap())
            }
            Lookup::NotFound if !mock => {}
            other => panic!("mock = {mock}: {other:?}"),
        }
        service.stop().await;
    }
}
