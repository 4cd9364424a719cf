//! Transport failures.

use super::*;

#[tokio::test]
async fn slow_service_times_out() {
    let server =
        serve(|_, _| Reply::After(Duration::from_secs(3), StatusCode::OK.into_response())).await;
    let p = provider(HttpConfig::new(server.url("/")).request_timeout(Duration::from_millis(200)));
    let start = Instant::now();
    assert_eq!(
        ignore_kind(&lookup(&p, "u").await),
        Some(IgnoreKind::Timeout)
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn connection_reset_and_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            #[allow(deprecated)] // zero linger does not block: it resets the connection
            stream.set_linger(Some(Duration::ZERO)).unwrap();
            drop(stream);
        }
    });
    let reset = lookup(&provider(HttpConfig::new(format!("http://{addr}/"))), "u").await;
    assert_eq!(
        ignore_kind(&reset),
        Some(IgnoreKind::Unavailable),
        "{reset:?}"
    );

    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let refused = lookup(&provider(HttpConfig::new(format!("http://{closed}/"))), "u").await;
    assert_eq!(
        ignore_kind(&refused),
        Some(IgnoreKind::Unavailable),
        "{refused:?}"
    );
}

#[tokio::test]
async fn retries_on_5xx_and_timeouts_only_counted_by_the_server() {
    let server = serve(|seen, n| match seen.path.as_str() {
        "/always-500" => Reply::Now(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        "/always-404" => Reply::Now(StatusCode::NOT_FOUND.into_response()),
        "/slow-then-ok" if n == 0 => {
            Reply::After(Duration::from_secs(2), StatusCode::OK.into_response())
        }
        _ => json(StatusCode::OK, record_json(HashAlgorithm::Sha256, "")),
    })
    .await;
    let config =
        |path: &str| HttpConfig::new(server.url(path)).retries(2, Duration::from_millis(20), 2.0);

    let before = server.hits();
    assert!(is_ignore(
        &lookup(&provider(config("/always-500")), "u").await
    ));
    assert_eq!(server.hits() - before, 3, "1 try + 2 retries");

    let before = server.hits();
    assert!(is_ignore(
        &lookup(&provider(config("/always-404")), "u").await
    ));
    assert_eq!(server.hits() - before, 1, "4xx is not retried");

    let slow = provider(config("/slow-then-ok").request_timeout(Duration::from_millis(300)));
    let Lookup::Found(_) = lookup(&slow, "u").await else {
        panic!("retry after a timeout should succeed")
    };

    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let bounded = provider(
        HttpConfig::new(format!("http://{closed}/"))
            .retries(1000, Duration::from_millis(50), 1.0)
            .lookup_deadline(Duration::from_millis(300)),
    );
    let start = Instant::now();
    let Lookup::Ignore(reason) = lookup(&bounded, "u").await else {
        panic!()
    };
    assert!(reason.detail().contains("deadline"), "{reason:?}");
    assert!(start.elapsed() < Duration::from_secs(1));
}
