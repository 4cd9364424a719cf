//! Configuration.

use super::*;

#[test]
fn configuration_errors_at_construction() {
    let err = |config: HttpConfig| HttpProvider::new(config).unwrap_err();
    assert!(matches!(
        err(HttpConfig::new("ftp://x/")),
        HttpConfigError::InvalidUrl { .. }
    ));
    assert!(matches!(
        err(HttpConfig::new("not a url")),
        HttpConfigError::InvalidUrl { .. }
    ));
    assert!(matches!(
        err(HttpConfig::new("http://${username}.evil/")),
        HttpConfigError::InvalidUrl { .. }
    ));
    assert!(matches!(
        err(HttpConfig::new("http://h/${nope}")),
        HttpConfigError::InvalidTemplate { .. }
    ));
    assert!(matches!(
        err(HttpConfig::new("http://h/").param("x", "%z")),
        HttpConfigError::InvalidTemplate { .. }
    ));
    let password = err(HttpConfig::new("http://h/").param("password", "${password}"));
    assert!(
        password
            .to_string()
            .contains("SCRAM never gives the password"),
        "{password}"
    );
    assert!(matches!(
        err(HttpConfig::new("http://h/").header("x", "%P")),
        HttpConfigError::PasswordPlaceholder { .. }
    ));
    assert!(matches!(
        err(HttpConfig::new("http://h/").header("bad name", "v")),
        HttpConfigError::InvalidHeader { .. }
    ));
    assert!(matches!(
        err(HttpConfig::new("http://h/").header("x", "a\nb")),
        HttpConfigError::InvalidHeader { .. }
    ));
    assert!(matches!(
        err(HttpConfig::new("http://h/").not_found_status(200)),
        HttpConfigError::InvalidSetting { .. }
    ));
    assert!(matches!(
        err(HttpConfig::new("http://h/").request_timeout(Duration::ZERO)),
        HttpConfigError::InvalidSetting { .. }
    ));
    let missing_ca = TlsConfig {
        ca_file: Some("/nonexistent/ca.pem".into()),
        ..TlsConfig::default()
    };
    assert!(matches!(
        err(HttpConfig::new("https://h/").tls(missing_ca)),
        HttpConfigError::Tls(_)
    ));
    let half_mtls = TlsConfig {
        cert_file: Some("/x.pem".into()),
        ..TlsConfig::default()
    };
    assert!(matches!(
        err(HttpConfig::new("https://h/").tls(half_mtls)),
        HttpConfigError::Tls(_)
    ));
}

#[test]
fn configuration_loads_from_json() {
    let config: HttpConfig = serde_json::from_str(
        r#"{"method": "GET", "url": "http://127.0.0.1:1/auth?u=%u", "headers": {"x-c": "${clientid}"},
            "body": {"m": "${mechanism}"}, "params_mode": "form", "not_found_status": [404],
            "connect_timeout": "1s", "request_timeout": 1500, "pool_size": 2, "http_version": "http1",
            "retry_times": 3, "retry_interval": "100ms", "retry_backoff": 2.0, "user_agent": "x/1",
            "tls": {"enable_sni": false}}"#,
    )
    .unwrap();
    assert_eq!(config.method, HttpMethod::Get);
    assert_eq!(config.connect_timeout, Duration::from_secs(1));
    assert_eq!(config.request_timeout, Duration::from_millis(1500));
    assert_eq!(config.retry_interval, Duration::from_millis(100));
    assert!(!config.tls.enable_sni);
    let round_trip: HttpConfig =
        serde_json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
    assert_eq!(round_trip, config);
    HttpProvider::new(config).unwrap();
    assert!(serde_json::from_str::<HttpConfig>(r#"{"url": "http://h/", "typo": 1}"#).is_err());
    assert!(
        serde_json::from_str::<HttpConfig>(
            r#"{"url": "http://h/", "request_timeout": "5 parsecs"}"#
        )
        .is_err()
    );
}
