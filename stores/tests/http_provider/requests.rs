//! Requests.

use super::*;

#[tokio::test]
async fn get_puts_templates_in_path_and_query_with_correct_encoding() {
    let server = serve(found("")).await;
    let p = provider(
        HttpConfig::new(server.url("/auth/${username}/x?client=${clientid}&legacy=%u"))
            .method(HttpMethod::Get)
            .param("user", "${username}")
            .param("peer", "${peerhost}:${peerport}")
            .param("mech", "${mechanism}"),
    );
    for name in ODD_NAMES {
        assert!(matches!(lookup(&p, name).await, Lookup::Found(_)));
        let seen = server.last();
        assert_eq!(seen.method, "GET");
        assert!(seen.body.is_empty());
        let segment = seen
            .path
            .strip_prefix("/auth/")
            .unwrap()
            .strip_suffix("/x")
            .unwrap();
        assert_eq!(percent_decode(segment), name, "path {}", seen.path);
        let q = seen.query_pairs();
        assert_eq!(q["client"], "client 1&2");
        assert_eq!(q["legacy"], name);
        assert_eq!(q["user"], name);
        assert_eq!(q["peer"], "192.0.2.7:50123");
        assert_eq!(q["mech"], "SCRAM-SHA-256");
    }
}

#[tokio::test]
async fn post_sends_a_json_body() {
    let server = serve(found("")).await;
    let p = provider(
        HttpConfig::new(server.url("/auth"))
            .param("username", "${username}")
            .param("clientid", "%c")
            .param("tenant", "${client_attrs.tenant}")
            .param("cn", "%C"),
    );
    for name in ODD_NAMES {
        assert!(matches!(lookup(&p, name).await, Lookup::Found(_)));
        let seen = server.last();
        assert_eq!(seen.method, "POST");
        assert_eq!(seen.header("content-type"), "application/json");
        let body: BTreeMap<String, String> = serde_json::from_slice(&seen.body).unwrap();
        assert_eq!(body["username"], name);
        assert_eq!(body["clientid"], "client 1&2");
        assert_eq!(body["tenant"], "acme");
        assert_eq!(body["cn"], "cn-1");
    }
}

#[tokio::test]
async fn form_bodies_by_params_mode_or_content_type() {
    let server = serve(found("")).await;
    let by_mode = provider(
        HttpConfig::new(server.url("/a"))
            .params_mode(ParamsMode::Form)
            .param("u", "${username}"),
    );
    let by_header = provider(
        HttpConfig::new(server.url("/a"))
            .method(HttpMethod::Put)
            .header(
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .param("u", "${username}"),
    );
    for (p, method) in [(&by_mode, "POST"), (&by_header, "PUT")] {
        for name in ODD_NAMES {
            assert!(matches!(lookup(p, name).await, Lookup::Found(_)));
            let seen = server.last();
            assert_eq!(seen.method, method);
            assert!(
                seen.header("content-type")
                    .starts_with("application/x-www-form-urlencoded")
            );
            assert_eq!(form_urlencoded(&seen.body)["u"], name);
        }
    }
}

#[tokio::test]
async fn headers_defaults_templates_and_crlf_rejection() {
    let server = serve(found("")).await;
    let p = provider(
        HttpConfig::new(server.url("/a"))
            .header("x-user", "${username}")
            .header("x-listener", "${listener}/%r")
            .header("authorization", "Bearer s3cret")
            .user_agent("amqtt-compatible/1.0"),
    );
    assert!(matches!(lookup(&p, "ünï").await, Lookup::Found(_)));
    let seen = server.last();
    assert_eq!(seen.headers["x-user"].as_bytes(), "ünï".as_bytes());
    assert_eq!(seen.header("x-listener"), "tcp:default/mqtt");
    assert_eq!(seen.header("authorization"), "Bearer s3cret");
    assert_eq!(seen.header("accept"), "application/json");
    assert_eq!(seen.header("cache-control"), "no-cache");
    assert_eq!(seen.header("user-agent"), "amqtt-compatible/1.0");

    let default_agent = provider(HttpConfig::new(server.url("/a")));
    lookup(&default_agent, "u").await;
    assert_eq!(
        server.last().header("user-agent"),
        format!("mqtt-scram/{}", env!("CARGO_PKG_VERSION"))
    );

    let before = server.hits();
    for evil in ["bob\r\nx-admin: 1", "bob\nx", "bob\rx", "bob\0x"] {
        let answer = lookup(&p, evil).await;
        let Lookup::Ignore(reason) = answer else {
            panic!("{evil:?} gave {answer:?}")
        };
        assert!(reason.detail().contains("CR, LF or NUL"), "{reason:?}");
    }
    assert_eq!(server.hits(), before, "no request may be sent");
}

#[tokio::test]
async fn http2_prior_knowledge() {
    let server = serve(found("")).await;
    let p = provider(HttpConfig::new(server.url("/a")).http_version(HttpVersion::Http2));
    assert!(matches!(lookup(&p, "u").await, Lookup::Found(_)));
    assert_eq!(server.last().version, Version::HTTP_2);
    let p1 = provider(HttpConfig::new(server.url("/a")).http_version(HttpVersion::Http1));
    assert!(matches!(lookup(&p1, "u").await, Lookup::Found(_)));
    assert_eq!(server.last().version, Version::HTTP_11);
}
