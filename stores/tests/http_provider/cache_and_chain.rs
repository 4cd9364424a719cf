//! Cached and Chain.

use super::*;

#[tokio::test]
async fn single_flight_100_concurrent_lookups_one_request() {
    let server = serve(|_, _| {
        Reply::After(
            Duration::from_millis(200),
            json_response(&record_json(HashAlgorithm::Sha256, "")),
        )
    })
    .await;
    let cached = Arc::new(Cached::new(provider(HttpConfig::new(server.url("/")))));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let cached = Arc::clone(&cached);
        tasks.spawn(async move { lookup(&*cached, "alice").await });
    }
    while let Some(answer) = tasks.join_next().await {
        assert!(matches!(answer.unwrap(), Lookup::Found(_)));
    }
    assert_eq!(server.hits(), 1);
    lookup(&*cached, "alice").await;
    assert_eq!(server.hits(), 1, "now a cache hit");
}

#[tokio::test]
async fn single_flight_survives_a_cancelled_leader() {
    let server = serve(|_, _| {
        Reply::After(
            Duration::from_millis(150),
            json_response(&record_json(HashAlgorithm::Sha256, "")),
        )
    })
    .await;
    let cached = Arc::new(Cached::new(provider(HttpConfig::new(server.url("/")))));
    let leader = {
        let cached = Arc::clone(&cached);
        tokio::spawn(async move { lookup(&*cached, "bob").await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let follower = {
        let cached = Arc::clone(&cached);
        tokio::spawn(async move { lookup(&*cached, "bob").await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    leader.abort();
    let answer = tokio::time::timeout(Duration::from_secs(2), follower)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(answer, Lookup::Found(_)));
}

#[tokio::test]
async fn cache_ttl_negative_ttl_invalidate_and_no_ignore() {
    let server = serve(|seen, _| match seen.query_pairs()["u"].as_str() {
        "ghost" => Reply::Now(StatusCode::NOT_FOUND.into_response()),
        "flaky" => Reply::Now(StatusCode::SERVICE_UNAVAILABLE.into_response()),
        "soon" => json(
            StatusCode::OK,
            record_json(
                HashAlgorithm::Sha256,
                &format!(r#","expire_at":{}"#, now_unix() + 2),
            ),
        ),
        _ => json(StatusCode::OK, record_json(HashAlgorithm::Sha256, "")),
    })
    .await;
    let http = provider(
        HttpConfig::new(server.url("/"))
            .method(HttpMethod::Get)
            .param("u", "${username}")
            .not_found_status(404),
    );
    let cached = Cached::new(http)
        .ttl(Duration::from_millis(1500))
        .negative_ttl(Duration::from_millis(600));

    let hits = || server.hits();
    lookup(&cached, "alice").await;
    lookup(&cached, "alice").await;
    assert_eq!(hits(), 1);
    lookup_as(&cached, "alice", Mechanism::ScramSha512).await;
    assert_eq!(hits(), 2, "keyed by mechanism too");
    cached.invalidate("alice");
    lookup(&cached, "alice").await;
    assert_eq!(hits(), 3);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    lookup(&cached, "alice").await;
    assert_eq!(hits(), 4, "expired after the ttl");

    assert_eq!(lookup(&cached, "ghost").await, Lookup::NotFound);
    assert_eq!(lookup(&cached, "ghost").await, Lookup::NotFound);
    assert_eq!(hits(), 5);
    tokio::time::sleep(Duration::from_millis(700)).await;
    lookup(&cached, "ghost").await;
    assert_eq!(hits(), 6, "negative ttl is shorter");

    assert!(is_ignore(&lookup(&cached, "flaky").await));
    assert!(is_ignore(&lookup(&cached, "flaky").await));
    assert_eq!(hits(), 8, "Ignore is never cached");

    cached.clear();
    assert!(cached.is_empty());
    let long = Cached::new(provider(
        HttpConfig::new(server.url("/"))
            .method(HttpMethod::Get)
            .param("u", "${username}"),
    ))
    .ttl(Duration::from_secs(60));
    lookup(&long, "soon").await;
    let before = hits();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    lookup(&long, "soon").await;
    assert!(hits() > before, "never cached past expire_at");
}

#[tokio::test]
async fn cache_capacity_evicts() {
    let server = serve(found("")).await;
    let cached = Cached::new(provider(HttpConfig::new(server.url("/")))).capacity(16);
    for i in 0..100 {
        lookup(&cached, &format!("user{i}")).await;
    }
    assert!(cached.len() <= 16, "{}", cached.len());
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn chain_order_and_not_found_policy() {
    let server = serve(|seen, _| match seen.path.as_str() {
        "/down" => Reply::Now(StatusCode::SERVICE_UNAVAILABLE.into_response()),
        "/missing" => Reply::Now(StatusCode::NOT_FOUND.into_response()),
        "/superuser" => json(
            StatusCode::OK,
            record_json(HashAlgorithm::Sha256, r#","is_superuser":true"#),
        ),
        _ => json(StatusCode::OK, record_json(HashAlgorithm::Sha256, "")),
    })
    .await;
    let http = |path: &str| provider(HttpConfig::new(server.url(path)).not_found_status(404));

    let chain = Chain::new()
        .push(http("/down"))
        .push(http("/superuser"))
        .push(http("/plain"));
    let Lookup::Found(r) = lookup(&chain, "u").await else {
        panic!()
    };
    assert!(
        r.attributes.is_superuser,
        "Ignore moves on; the first Found wins"
    );
    let paths: Vec<String> = server
        .shared
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.path.clone())
        .collect();
    assert_eq!(paths, ["/down", "/superuser"]);

    let stop = Chain::new().push(http("/missing")).push(http("/plain"));
    assert_eq!(lookup(&stop, "u").await, Lookup::NotFound);
    let go_on = Chain::new()
        .push(http("/missing"))
        .push(http("/plain"))
        .on_not_found(OnNotFound::Continue);
    assert!(matches!(lookup(&go_on, "u").await, Lookup::Found(_)));
    let all_down = Chain::new().push(http("/down")).push(http("/down"));
    let Lookup::Ignore(reason) = lookup(&all_down, "u").await else {
        panic!()
    };
    assert!(
        reason.detail().starts_with("every provider ignored"),
        "{reason:?}"
    );
    let down_then_missing = Chain::new().push(http("/down")).push(http("/missing"));
    assert_eq!(lookup(&down_then_missing, "u").await, Lookup::NotFound);
    assert_eq!(lookup(&Chain::new(), "u").await, Lookup::NotFound);

    let nested = Chain::new()
        .push(Cached::new(Chain::new().push(http("/down"))))
        .push(Cached::new(http("/plain")));
    assert!(matches!(lookup(&nested, "u").await, Lookup::Found(_)));
}
