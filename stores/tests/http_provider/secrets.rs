//! Issue 13 §3: no configured secret (header values, a URL's query string or user
//! information, parameter values) ever appears in `{:?}`, `{}` or the logs — of the
//! configuration, the provider, the request plan, every configuration error, and the
//! `tracing` output of failing lookups.

use std::fmt::Write as _;

use mqtt_scram_http::config::HttpConfigError;
use mqtt_scram_http::request::RequestPlan;

use super::*;

const SECRET: &str = "S3cr3tT0k3n";

/// Asserts that neither `{:?}` nor (when given) `{}` of `value` shows the secret.
fn assert_hidden(what: &str, debug: &dyn std::fmt::Debug, display: Option<&dyn std::fmt::Display>) {
    let mut text = format!("{debug:?}");
    if let Some(display) = display {
        write!(text, " | {display}").unwrap();
    }
    assert!(!text.contains(SECRET), "{what} shows the secret: {text}");
}

/// A configuration with the secret in every field that can hold one.
fn secret_config(url: &str) -> HttpConfig {
    HttpConfig::new(format!("{url}?api_key={SECRET}&u=${{username}}"))
        .header("authorization", format!("Bearer {SECRET}"))
        .header("x-templated", format!("{SECRET}-${{clientid}}"))
        .param("api_key", SECRET)
        .param("user", "${username}")
}

#[test]
fn configuration_provider_and_plan_hide_secrets() {
    let config = secret_config("http://127.0.0.1:9/scram");
    assert_hidden("HttpConfig", &config, None);
    let plan = RequestPlan::new(&config).unwrap();
    assert_hidden("RequestPlan", &plan, None);
    let provider = HttpProvider::new(config.clone()).unwrap();
    assert_hidden("HttpProvider", &provider, None);
    assert_hidden("TlsConfig", &config.tls, None);
    // The configuration still round-trips through serde for the operator who writes it.
    let json = serde_json::to_string(&config).unwrap();
    assert!(json.contains(SECRET));
}

#[test]
fn every_configuration_error_hides_secrets() {
    let base = "http://127.0.0.1:9/scram";
    let bad: Vec<(&str, HttpConfig)> = vec![
        (
            "header template",
            HttpConfig::new(base).header("authorization", format!("Bearer {SECRET} ${{nope}}")),
        ),
        (
            "header password",
            HttpConfig::new(base).header("authorization", format!("{SECRET}${{password}}")),
        ),
        (
            "header value",
            HttpConfig::new(base).header("authorization", format!("{SECRET}\u{1}")),
        ),
        (
            "url template",
            HttpConfig::new(format!("{base}?k={SECRET}&u=${{nope}}")),
        ),
        (
            "url password",
            HttpConfig::new(format!("{base}?k={SECRET}&p=%P")),
        ),
        (
            "url credentials",
            HttpConfig::new(format!("http://user:{SECRET}@127.0.0.1:9/scram")),
        ),
        (
            "url fragment",
            HttpConfig::new(format!("{base}?k={SECRET}#frag")),
        ),
        (
            "url scheme",
            HttpConfig::new(format!("ftp://127.0.0.1:9/scram?k={SECRET}")),
        ),
        (
            "url host placeholder",
            HttpConfig::new(format!("http://${{username}}.example/?k={SECRET}")),
        ),
        (
            "body template",
            HttpConfig::new(base).param("api_key", format!("{SECRET}${{nope}}")),
        ),
        (
            "setting",
            secret_config(base).retries(1, Duration::from_secs(1), 0.5),
        ),
        (
            "tls",
            secret_config(base).tls(TlsConfig {
                ca_file: Some("/nonexistent/ca.pem".into()),
                ..TlsConfig::default()
            }),
        ),
    ];
    for (what, config) in bad {
        let error: HttpConfigError = HttpProvider::new(config).unwrap_err();
        assert_hidden(what, &error, Some(&error));
    }
}

/// A minimal `tracing` subscriber that writes every event (all levels, every crate) as
/// text, so the test sees exactly what a log would.
struct Capture(Arc<Mutex<String>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        write!(self.0, " {}={value:?}", field.name()).unwrap();
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut text = self.0.lock().unwrap();
        span.record(&mut Fields(&mut text));
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        values.record(&mut Fields(&mut self.0.lock().unwrap()));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = self.0.lock().unwrap();
        write!(
            text,
            "\n{} {}:",
            event.metadata().level(),
            event.metadata().target()
        )
        .unwrap();
        event.record(&mut Fields(&mut text));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn failing_lookups_log_no_secret() {
    let log = Arc::new(Mutex::new(String::new()));
    let _guard = tracing::subscriber::set_default(Capture(Arc::clone(&log)));
    // Refused connection, then 500 with retries, then a timeout, then garbage.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let refused = provider(secret_config(&format!("http://{closed}/scram")));
    assert!(is_ignore(&lookup(&refused, "u").await));
    let server = serve(|seen, _| match seen.path.as_str() {
        "/500" => Reply::Now(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        "/slow" => Reply::After(Duration::from_secs(2), StatusCode::OK.into_response()),
        _ => json(StatusCode::OK, format!("{{\"salt\": \"{SECRET}\"}}")),
    })
    .await;
    let flaky =
        provider(secret_config(&server.url("/500")).retries(1, Duration::from_millis(10), 1.0));
    assert!(is_ignore(&lookup(&flaky, "u").await));
    let slow =
        provider(secret_config(&server.url("/slow")).request_timeout(Duration::from_millis(200)));
    assert!(is_ignore(&lookup(&slow, "u").await));
    let garbage = provider(secret_config(&server.url("/garbage")));
    assert!(is_ignore(&lookup(&garbage, "u").await));
    // The server really received the secrets: they were sent, only never shown.
    let seen = server.last();
    assert!(
        seen.query.as_deref().unwrap_or_default().contains(SECRET),
        "{seen:?}"
    );
    let text = log.lock().unwrap().clone();
    assert!(text.contains("http provider"), "nothing captured: {text}");
    assert!(!text.contains(SECRET), "the log shows the secret:{text}");
}
