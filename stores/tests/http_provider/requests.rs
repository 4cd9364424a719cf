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

/// EMQX 5 renders placeholders in body keys as well as values: `emqx_authn_http` parses the
/// body with `emqx_authn_utils:parse_deep`, and `emqx_template:parse_deep_term/2` turns
/// "`Acc#{parse_deep_term(K, Opts) => parse_deep_term(V, Opts)}`" — keys are templates.
#[tokio::test]
async fn body_keys_are_templates_too() {
    let server = serve(found("")).await;
    let p = provider(
        HttpConfig::new(server.url("/auth"))
            .param("${username}", "x")
            .param("user_%c", "${username}"),
    );
    assert!(matches!(lookup(&p, "alice").await, Lookup::Found(_)));
    let body: BTreeMap<String, String> = serde_json::from_slice(&server.last().body).unwrap();
    assert_eq!(body.get("alice").map(String::as_str), Some("x"), "{body:?}");
    assert_eq!(
        body.get("user_client 1&2").map(String::as_str),
        Some("alice"),
        "{body:?}"
    );
    // GET: the rendered keys go to the query string.
    let get = provider(
        HttpConfig::new(server.url("/auth"))
            .method(HttpMethod::Get)
            .param("${username}", "1"),
    );
    lookup(&get, "bob").await;
    assert_eq!(
        server.last().query_pairs().get("bob").map(String::as_str),
        Some("1")
    );
}

/// `HttpConfig::emqx_scram`: EMQX 5's SCRAM REST API request (POST, JSON, EMQX's default
/// headers `accept: application/json`, `cache-control: no-cache`, `connection: keep-alive`,
/// `keep-alive: timeout=30, max=1000`, no user agent); "4xx or 5xx ... the authentication
/// chain continues" (Ignore).
#[tokio::test]
async fn emqx_scram_preset() {
    let server = serve(|seen, _| {
        if seen.query_pairs().get("u").map(String::as_str) == Some("user") {
            json(StatusCode::OK, record_json(HashAlgorithm::Sha256, ""))
        } else {
            Reply::Now(StatusCode::NOT_FOUND.into_response())
        }
    })
    .await;
    let p = provider(HttpConfig::emqx_scram(server.url("/scram?u=${username}")));
    assert!(matches!(lookup(&p, "user").await, Lookup::Found(_)));
    let seen = server.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.header("accept"), "application/json");
    assert_eq!(seen.header("keep-alive"), "timeout=30, max=1000");
    assert!(
        seen.headers.get("user-agent").is_none(),
        "{:?}",
        seen.headers
    );
    assert!(is_ignore(&lookup(&p, "ghost").await));
}
