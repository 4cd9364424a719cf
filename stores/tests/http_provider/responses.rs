//! Responses.

use super::*;

#[tokio::test]
async fn full_record_with_every_optional_field() {
    let future = 4_000_000_000u64;
    let extra = format!(
        r##","iteration_count":4096,"is_superuser":"true","expire_at":{future},
        "client_attrs":{{"tenant":"t1","zone-2":"z","bad key":"x","_x":"y"}},
        "acl":[{{"permission":"allow","action":"publish","topic":"t/${{username}}","qos":[0,1],"retain":"all"}},
               {{"permission":"deny","action":"sub","topics":["#"]}}]"##
    );
    let hex = creds(HashAlgorithm::Sha256).to_emqx_hex();
    let body = format!(
        r#"{{"stored_key":"{}","server_key":"{}","salt":"{}"{extra}}}"#,
        hex.stored_key.to_uppercase(),
        hex.server_key.to_uppercase(),
        hex.salt.to_uppercase()
    );
    let server = serve(move |_, _| json(StatusCode::OK, body.clone())).await;
    let Lookup::Found(record) = lookup(&provider(HttpConfig::new(server.url("/"))), "u").await
    else {
        panic!()
    };
    assert_eq!(
        record.credentials,
        creds(HashAlgorithm::Sha256),
        "upper-case hex decodes"
    );
    assert!(record.attributes.is_superuser);
    assert_eq!(record.attributes.expire_at, Some(future));
    assert_eq!(
        record.attributes.client_attrs.len(),
        2,
        "{:?}",
        record.attributes.client_attrs
    );
    assert_eq!(record.attributes.client_attrs["zone-2"], "z");
    let acl = mqtt_scram_stores::record::acl_rules(&record);
    assert_eq!(acl.len(), 2);
    assert_eq!(
        (acl[0].permission, acl[0].action),
        (Permission::Allow, Action::Publish)
    );
    assert_eq!(acl[0].qos, Some(vec![0, 1]));
    assert_eq!(acl[0].retain, None);
    assert_eq!(
        (acl[1].permission, acl[1].action),
        (Permission::Deny, Action::Subscribe)
    );
}

#[tokio::test]
async fn iteration_count_defaults_from_config_and_superuser_forms() {
    let server = serve(|seen, _| {
        let extra = match seen.path.as_str() {
            "/one" => r#","is_superuser":1"#,
            "/zero" => r#","is_superuser":0"#,
            "/bool" => r#","is_superuser":true"#,
            _ => "",
        };
        json(StatusCode::OK, record_json(HashAlgorithm::Sha256, extra))
    })
    .await;
    let p = provider(HttpConfig::new(server.url("/none")).default_iterations(4096));
    let Lookup::Found(r) = lookup(&p, "u").await else {
        panic!()
    };
    assert_eq!(
        (r.credentials.iterations(), r.attributes.is_superuser),
        (4096, false)
    );
    for (path, superuser) in [("/one", true), ("/zero", false), ("/bool", true)] {
        let Lookup::Found(r) = lookup(&provider(HttpConfig::new(server.url(path))), "u").await
        else {
            panic!()
        };
        assert_eq!(r.attributes.is_superuser, superuser, "{path}");
    }
}

#[tokio::test]
async fn sha512_records_and_length_mismatch() {
    let server = serve(|seen, _| {
        let hash = if seen.path == "/512" {
            HashAlgorithm::Sha512
        } else {
            HashAlgorithm::Sha256
        };
        json(StatusCode::OK, record_json(hash, ""))
    })
    .await;
    let p512 = provider(HttpConfig::new(server.url("/512")));
    let Lookup::Found(r) = lookup_as(&p512, "u", Mechanism::ScramSha512).await else {
        panic!()
    };
    assert_eq!(r.credentials.hash(), HashAlgorithm::Sha512);
    let p256 = provider(HttpConfig::new(server.url("/256")));
    assert!(
        is_ignore(&lookup_as(&p256, "u", Mechanism::ScramSha512).await),
        "32-byte keys for SHA-512"
    );
    assert!(
        is_ignore(&lookup_as(&p512, "u", Mechanism::ScramSha256).await),
        "64-byte keys for SHA-256"
    );
}

#[tokio::test]
async fn form_encoded_response_body() {
    let server = serve(|_, _| {
        let hex = creds(HashAlgorithm::Sha256).to_emqx_hex();
        let body = format!(
            "stored_key={}&server_key={}&salt={}&is_superuser=true",
            hex.stored_key, hex.server_key, hex.salt
        );
        Reply::Now(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/x-www-form-urlencoded")],
                body,
            )
                .into_response(),
        )
    })
    .await;
    let Lookup::Found(r) = lookup(&provider(HttpConfig::new(server.url("/"))), "u").await else {
        panic!()
    };
    assert!(r.attributes.is_superuser);
}

#[tokio::test]
async fn every_bad_answer_is_ignore() {
    type Make = Box<dyn Fn() -> Response + Send + Sync>;
    let cases: Vec<(&str, Make)> = vec![
        (
            "ignore",
            Box::new(|| (StatusCode::OK, "ignore").into_response()),
        ),
        (
            "ignore-json",
            Box::new(|| {
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    "ignore\n",
                )
                    .into_response()
            }),
        ),
        (
            "result-ignore",
            Box::new(|| json_response(r#"{"result":"ignore"}"#)),
        ),
        ("garbage", Box::new(|| json_response("{\"stored_key\": ]]"))),
        ("not-object", Box::new(|| json_response("[]"))),
        (
            "text",
            Box::new(|| {
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "text/plain")],
                    record_json(HashAlgorithm::Sha256, ""),
                )
                    .into_response()
            }),
        ),
        (
            "no-content-type",
            Box::new(|| {
                (
                    StatusCode::OK,
                    Body::from(record_json(HashAlgorithm::Sha256, "")),
                )
                    .into_response()
            }),
        ),
        (
            "bad-hex",
            Box::new(|| {
                json_response(&record_json(HashAlgorithm::Sha256, "").replacen(
                    "\"salt\":\"",
                    "\"salt\":\"zz",
                    1,
                ))
            }),
        ),
        (
            "missing",
            Box::new(|| json_response(r#"{"salt":"00","stored_key":"00"}"#)),
        ),
        (
            "short-key",
            Box::new(|| json_response(r#"{"salt":"00","stored_key":"0011","server_key":"0011"}"#)),
        ),
        (
            "millis",
            Box::new(|| {
                json_response(&record_json(
                    HashAlgorithm::Sha256,
                    r#","expire_at":4000000000000"#,
                ))
            }),
        ),
        (
            "bad-acl",
            Box::new(|| {
                json_response(&record_json(
                    HashAlgorithm::Sha256,
                    r#","acl":[{"permission":"allow","action":"x","topic":"t"}]"#,
                ))
            }),
        ),
        (
            "bad-superuser",
            Box::new(|| {
                json_response(&record_json(
                    HashAlgorithm::Sha256,
                    r#","is_superuser":"maybe""#,
                ))
            }),
        ),
        (
            "201",
            Box::new(|| {
                (
                    StatusCode::CREATED,
                    [(header::CONTENT_TYPE, "application/json")],
                    record_json(HashAlgorithm::Sha256, ""),
                )
                    .into_response()
            }),
        ),
        (
            "302",
            Box::new(|| (StatusCode::FOUND, [(header::LOCATION, "/elsewhere")]).into_response()),
        ),
        ("400", Box::new(|| StatusCode::BAD_REQUEST.into_response())),
        ("401", Box::new(|| StatusCode::UNAUTHORIZED.into_response())),
        ("404", Box::new(|| StatusCode::NOT_FOUND.into_response())),
        (
            "500",
            Box::new(|| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        ),
        (
            "503",
            Box::new(|| StatusCode::SERVICE_UNAVAILABLE.into_response()),
        ),
    ];
    let cases: Arc<BTreeMap<&'static str, _>> = Arc::new(cases.into_iter().collect());
    let responders = Arc::clone(&cases);
    let server =
        serve(move |seen, _| Reply::Now(responders[seen.path.trim_start_matches('/')]())).await;
    for name in cases.keys() {
        let answer = lookup(
            &provider(HttpConfig::new(server.url(&format!("/{name}")))),
            "u",
        )
        .await;
        let expected = match *name {
            "ignore" | "ignore-json" | "result-ignore" => IgnoreKind::NotApplicable,
            "201" | "302" | "400" | "401" | "404" | "500" | "503" => IgnoreKind::Unavailable,
            _ => IgnoreKind::InvalidRecord,
        };
        assert_eq!(ignore_kind(&answer), Some(expected), "{name}: {answer:?}");
    }
}

#[tokio::test]
async fn configured_status_means_not_found_and_deny_too() {
    let server = serve(|seen, _| match seen.path.as_str() {
        "/deny" => json(StatusCode::OK, r#"{"result":"deny"}"#),
        _ => Reply::Now(StatusCode::NOT_FOUND.into_response()),
    })
    .await;
    let p = provider(HttpConfig::new(server.url("/missing")).not_found_status(404));
    assert_eq!(lookup(&p, "u").await, Lookup::NotFound);
    assert_eq!(
        lookup(&provider(HttpConfig::new(server.url("/deny"))), "u").await,
        Lookup::NotFound
    );
}

#[tokio::test]
async fn oversize_bodies_by_length_and_by_stream() {
    let big = "x".repeat(70 * 1024);
    let server = serve(move |seen, _| {
        if seen.path == "/chunked" {
            let chunks: Vec<Result<Bytes, std::io::Error>> = (0..200)
                .map(|_| Ok(Bytes::from(vec![b' '; 1024])))
                .collect();
            let body = Body::from_stream(futures_util::stream::iter(chunks));
            Reply::Now(
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    body,
                )
                    .into_response(),
            )
        } else {
            json(StatusCode::OK, format!(r#"{{"pad":"{big}"}}"#))
        }
    })
    .await;
    for path in ["/length", "/chunked"] {
        let Lookup::Ignore(reason) =
            lookup(&provider(HttpConfig::new(server.url(path))), "u").await
        else {
            panic!()
        };
        assert!(
            reason.detail().contains("larger than 65536"),
            "{path}: {reason:?}"
        );
    }
    let small_cap = provider(HttpConfig::new(server.url("/length")).max_body_size(256 * 1024));
    assert!(
        is_ignore(&lookup(&small_cap, "u").await),
        "within the cap, but not a record"
    );
}
