//! End to end.

use super::*;

struct Exchange {
    outcome: Outcome,
}

/// Runs client and server state machines; credentials come from `provider`.
async fn handshake<P: CredentialProvider>(
    provider: &P,
    username: &str,
    password: &str,
) -> Exchange {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let server = ScramServer::new(ServerConfig::new([9; 32])).unwrap();
    let connection = Arc::new(ConnectionInfo::new("e2e-client"));
    let (client, client_first) = mqtt_scram::client::start(
        &mqtt_scram::client::ClientConfig::new(),
        Mechanism::ScramSha256,
        username,
        password,
        &mut rng,
    )
    .unwrap();
    let start = StartPacket::Connect {
        method: "SCRAM-SHA-256",
        data: Some(&client_first),
    };
    let need: NeedCredentials = server
        .start(
            &connection,
            start,
            Timestamp::new(Duration::ZERO, 1_700_000_000),
        )
        .unwrap();
    let lookup = provider.lookup(&need.request()).await;
    let (challenge, reply) = need.continue_with(lookup, &mut rng);
    assert_eq!(reply.reason_code, ReasonCode::ContinueAuthentication);
    let (client, client_final) = client
        .on_server_first(reply.data.as_deref().unwrap())
        .unwrap();
    let outcome = challenge.finish(
        0x18,
        "SCRAM-SHA-256",
        Some(&client_final),
        Timestamp::new(Duration::from_secs(1), 1_700_000_000),
    );
    if let Outcome::Accepted { reply, .. } = &outcome {
        client
            .on_server_final(reply.data.as_deref().unwrap())
            .unwrap();
    }
    Exchange { outcome }
}

#[tokio::test]
async fn end_to_end_credentials_over_http() {
    let server = serve(|seen, _| {
        if seen.query_pairs()["u"] == "user" {
            json(
                StatusCode::OK,
                record_json(
                    HashAlgorithm::Sha256,
                    r##","is_superuser":true,"client_attrs":{"role":"ops"},"acl":[{"permission":"allow","action":"all","topic":"#"}]"##,
                ),
            )
        } else {
            Reply::Now(StatusCode::NOT_FOUND.into_response())
        }
    })
    .await;
    let p = provider(
        HttpConfig::new(server.url("/scram"))
            .method(HttpMethod::Get)
            .param("u", "${username}")
            .not_found_status(404),
    );
    let Exchange {
        outcome: Outcome::Accepted { reply, identity },
    } = handshake(&p, "user", "pencil").await
    else {
        panic!()
    };
    assert_eq!(reply.reason_code, ReasonCode::Success);
    assert_eq!(identity.username, "user");
    assert!(identity.is_superuser());
    assert_eq!(identity.client_attrs()["role"], "ops");
    let rules = identity
        .authz()
        .and_then(|d| d.downcast_ref::<RuleSet>())
        .unwrap();
    assert_eq!(rules.len(), 1);

    let Outcome::Rejected(wrong) = handshake(&p, "user", "wrong").await.outcome else {
        panic!()
    };
    assert_eq!(wrong.reply.reason_code, ReasonCode::NotAuthorized);
}

#[tokio::test]
async fn end_to_end_service_down_looks_like_unknown_user() {
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let down = provider(HttpConfig::new(format!("http://{closed}/scram")));
    let Outcome::Rejected(when_down) = handshake(&down, "user", "pencil").await.outcome else {
        panic!()
    };

    let server = serve(|_, _| Reply::Now(StatusCode::NOT_FOUND.into_response())).await;
    let unknown = provider(HttpConfig::new(server.url("/scram")).not_found_status(404));
    let Outcome::Rejected(when_unknown) = handshake(&unknown, "user", "pencil").await.outcome
    else {
        panic!()
    };

    assert_eq!(when_down.reply.reason_code, ReasonCode::NotAuthorized);
    assert_eq!(
        when_down.reply, when_unknown.reply,
        "same packet, same e= message"
    );
    assert_ne!(
        when_down.error, when_unknown.error,
        "but the local reason differs"
    );
}

#[test]
fn outside_a_tokio_runtime_is_ignore_not_a_panic() {
    use futures_util::FutureExt as _;
    let p = provider(HttpConfig::new("http://127.0.0.1:9/"));
    let connection = connection();
    let request = LookupRequest::new(Mechanism::ScramSha256, "u", &connection);
    let answer = p.lookup(&request).now_or_never().expect("answers at once");
    assert!(is_ignore(&answer), "{answer:?}");
}

#[tokio::test]
async fn dot_segment_usernames_are_not_sent() {
    let server = serve(found("")).await;
    let p =
        provider(HttpConfig::new(server.url("/auth/${username}/scram")).method(HttpMethod::Get));
    for name in [".", ".."] {
        let Lookup::Ignore(reason) = lookup(&p, name).await else {
            panic!("{name}")
        };
        assert!(reason.detail().contains("dot path segment"), "{reason:?}");
    }
    assert_eq!(server.hits(), 0);
    assert!(matches!(lookup(&p, "...").await, Lookup::Found(_)));
    assert_eq!(server.last().path, "/auth/.../scram");
}

/// EMQX (`emqx_authn_http:expire_sec/1`) fails the login when "'expire_at' is in the
/// past". The provider hands such a record over as it is (`Found`), so the engine refuses
/// it at the end of the exchange — and a later provider of a chain, which has the same
/// user with valid credentials, is never asked.
#[tokio::test]
async fn expired_credentials_are_a_final_no_even_in_a_chain() {
    let server = serve(found(r#","expire_at":1600000000"#)).await;
    let http = provider(HttpConfig::new(server.url("/scram")));
    let lookup = lookup(&http, "user").await;
    let Lookup::Found(record) = &lookup else {
        panic!("{lookup:?}")
    };
    assert_eq!(record.attributes.expire_at, Some(1_600_000_000));
    let backup = mqtt_scram::provider::MemoryProvider::new();
    backup.insert(
        "user",
        mqtt_scram::provider::UserRecord::new(creds(HashAlgorithm::Sha256)),
    );
    let chain = Chain::new().push(http).push(backup);
    let Outcome::Rejected(rejection) = handshake(&chain, "user", "pencil").await.outcome else {
        panic!("an expired credential must not log in")
    };
    assert_eq!(rejection.reply.reason_code, ReasonCode::NotAuthorized);
    assert_eq!(
        rejection.error.kind(),
        mqtt_scram::ErrorKind::CredentialsExpired,
        "{:?}",
        rejection.error
    );
}
