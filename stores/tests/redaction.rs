//! No output path shows a store password, whatever its bytes (issue 20 §3): random
//! passwords with `/ @ ? # : % = '`, spaces, backslashes and non-ASCII, raw and
//! percent-encoded, in every URL form the stores take and in libpq key=value strings,
//! through `Debug`, every configuration and build error, and the lookup's answer and log
//! lines when the connection fails (nothing listens on the port, or a real PostgreSQL
//! refuses the password).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mqtt_scram::provider::{Lookup, LookupRequest};
use mqtt_scram::{ConnectionInfo, Mechanism};
use mqtt_scram_stores::config::StoreConfig;
use mqtt_scram_stores::postgres::{PostgresConfig, PostgresProvider};
use mqtt_scram_stores::redis::{RedisConfig, RedisProvider};
use proptest::prelude::*;

/// Log lines written while a closure runs (every level).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

fn captured<T>(f: impl FnOnce() -> T) -> (T, String) {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    (out, text)
}

/// Passwords of 8 to 24 characters, half of them the troublesome ones.
fn password() -> impl Strategy<Value = String> {
    let special = proptest::sample::select(vec![
        '/', '@', '?', '#', ':', '%', '=', '\'', ' ', '&', '\\', '+', ',', ';', '"', '`', '[', ']',
        'é', 'ü', 'ß', '中', '🙂',
    ]);
    proptest::collection::vec(
        prop_oneof![
            3 => proptest::char::range('a', 'z'),
            1 => proptest::char::range('A', 'Z'),
            1 => proptest::char::range('0', '9'),
            5 => special,
        ],
        8..24,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// Every byte but ASCII letters and digits as `%XX`.
fn encode(password: &str, upper: bool) -> String {
    password
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else if upper {
                format!("%{b:02X}")
            } else {
                format!("%{b:02x}")
            }
        })
        .collect()
}

/// libpq's quoting: `'…'` with `\'` and `\\`.
fn quote(password: &str) -> String {
    let mut out = String::from("'");
    for c in password.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// The forms of `password` that must never be shown.
fn secrets(password: &str) -> Vec<String> {
    let mut all = vec![
        password.to_string(),
        encode(password, true),
        encode(password, false),
    ];
    // The url crate's own userinfo encoding (it leaves some characters as they are).
    let mut url = url::Url::parse("postgres://h").unwrap();
    url.set_password(Some(password)).unwrap();
    all.push(url.password().unwrap().to_string());
    all
}

fn assert_clean(text: &str, password: &str, path: &str, input: &str) {
    for secret in secrets(password) {
        assert!(
            !text.contains(&secret),
            "{path} shows the password {secret:?} of {input:?}:\n{text}"
        );
    }
}

/// Store strings holding `password`, for a store at `port`.
fn store_strings(password: &str, port: u16) -> Vec<String> {
    let enc = encode(password, true);
    let mut all = Vec::new();
    for pass in [password, enc.as_str()] {
        for scheme in ["postgres", "postgresql"] {
            all.push(format!("{scheme}://app:{pass}@127.0.0.1:{port}/mqtt"));
            all.push(format!(
                "{scheme}://app:{pass}@127.0.0.1:{port},127.0.0.1:{port}/mqtt?sslmode=disable"
            ));
            all.push(format!(
                "{scheme}://app@127.0.0.1:{port}/mqtt?password={pass}"
            ));
        }
        for scheme in ["redis", "rediss"] {
            all.push(format!("{scheme}://app:{pass}@127.0.0.1:{port}/0"));
            all.push(format!("{scheme}://:{pass}@127.0.0.1:{port}"));
        }
        all.push(format!(
            "redis+cluster://app:{pass}@127.0.0.1:{port},127.0.0.1:{port}"
        ));
        all.push(format!(
            "redis+sentinel://app:{pass}@127.0.0.1:{port},127.0.0.1:{port}/mymaster/0"
        ));
        for scheme in ["http", "https"] {
            all.push(format!(
                "{scheme}://app:{pass}@127.0.0.1:{port}/scram/${{username}}"
            ));
            all.push(format!(
                "{scheme}://127.0.0.1:{port}/scram?api_key={pass}&u=${{username}}"
            ));
        }
    }
    all.push(format!(
        "host=127.0.0.1 port={port} user=app password={} dbname=mqtt",
        quote(password)
    ));
    all.push(format!(
        "host=127.0.0.1 port={port} user=app password={password} dbname=mqtt"
    ));
    all
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Every output of the configuration and build paths for `input`.
fn config_outputs(input: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    match StoreConfig::from_url(input) {
        Err(e) => {
            out.push(("StoreConfig::from_url error", e.to_string()));
            out.push(("StoreConfig::from_url error (Debug)", format!("{e:?}")));
        }
        Ok(config) => {
            out.push(("StoreConfig (Debug)", format!("{config:?}")));
            let (built, logs) = captured(|| config.build());
            out.push(("StoreConfig::build logs", logs));
            match built {
                Ok(store) => out.push(("Store (Debug)", format!("{store:?}"))),
                Err(e) => {
                    out.push(("StoreConfig::build error", e.to_string()));
                    out.push(("StoreConfig::build error (Debug)", format!("{e:?}")));
                }
            }
        }
    }
    let postgres = PostgresConfig::new(input);
    out.push(("PostgresConfig (Debug)", format!("{postgres:?}")));
    let (built, logs) = captured(|| PostgresProvider::new(postgres));
    out.push(("PostgresProvider::new logs", logs));
    match built {
        Ok(provider) => out.push(("PostgresProvider (Debug)", format!("{provider:?}"))),
        Err(e) => {
            out.push(("PostgresProvider::new error", e.to_string()));
            out.push(("PostgresProvider::new error (Debug)", format!("{e:?}")));
        }
    }
    match RedisConfig::from_url(input) {
        Err(e) => {
            out.push(("RedisConfig::from_url error", e.to_string()));
            out.push(("RedisConfig::from_url error (Debug)", format!("{e:?}")));
        }
        Ok(config) => {
            out.push(("RedisConfig (Debug)", format!("{config:?}")));
            let (built, logs) = captured(|| RedisProvider::new(config));
            out.push(("RedisProvider::new logs", logs));
            match built {
                Ok(provider) => out.push(("RedisProvider (Debug)", format!("{provider:?}"))),
                Err(e) => {
                    out.push(("RedisProvider::new error", e.to_string()));
                    out.push(("RedisProvider::new error (Debug)", format!("{e:?}")));
                }
            }
        }
    }
    out
}

/// The answer and the log lines of one lookup through the store built from `input` (a
/// failed connection: nothing listens on its port).
fn lookup_outputs(input: &str) -> Vec<(&'static str, String)> {
    let Ok(mut config) = StoreConfig::from_url(input) else {
        return Vec::new();
    };
    match &mut config {
        StoreConfig::Postgres(c) => {
            c.connect_timeout = Duration::from_millis(500);
            c.lookup_deadline = Duration::from_secs(1);
        }
        StoreConfig::Redis(c) => {
            c.connect_timeout = Duration::from_millis(500);
            c.lookup_deadline = Duration::from_secs(1);
        }
        _ => {}
    }
    let (answer, logs) = captured(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let answer = runtime.block_on(async {
            let Ok(store) = config.build() else {
                return None;
            };
            let connection = ConnectionInfo::new("client-1");
            let request = LookupRequest::new(Mechanism::ScramSha256, "alice", &connection);
            Some(store.provider().lookup_dyn(&request).await)
        });
        runtime.shutdown_background();
        answer
    });
    let mut out = vec![("lookup logs", logs)];
    if let Some(Lookup::Ignore(reason)) = answer {
        out.push(("lookup's ignore reason", reason.to_string()));
        out.push(("lookup's ignore reason (Debug)", format!("{reason:?}")));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn configuration_paths_never_show_the_password(password in password()) {
        for input in store_strings(&password, 5432) {
            for (path, text) in config_outputs(&input) {
                assert_clean(&text, &password, path, &input);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn failed_connections_never_show_the_password(password in password()) {
        let port = closed_port();
        for input in store_strings(&password, port) {
            for (path, text) in lookup_outputs(&input) {
                assert_clean(&text, &password, path, &input);
            }
        }
    }
}

/// A real PostgreSQL refuses a password with an unencoded `/` (and the other characters):
/// neither the lookup's answer nor its log lines show it.
#[test]
fn refused_postgres_password_is_never_shown() {
    let Some(cluster) = mqtt_scram_testkit::postgres::Cluster::start() else {
        return;
    };
    cluster.set_password("postgres", "the-right-one");
    // Unencoded, everything but '@' reaches the server (tokio-postgres takes the userinfo
    // up to the first '@'); encoded or quoted, everything does.
    let raw = "Zx9/q+T?w#r:s%t=u'v é/中";
    let wrong = "Zx9/q+T@k?w#r:s%t=u'v é/中";
    let raw_input = format!(
        "postgres://postgres:{raw}@127.0.0.1:{}/postgres",
        cluster.port
    );
    let mut inputs = vec![
        raw_input.clone(),
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/postgres",
            encode(wrong, true),
            cluster.port
        ),
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres password={}",
            cluster.port,
            quote(wrong)
        ),
    ];
    inputs.push(format!(
        "postgres://postgres:{}@127.0.0.1:{},127.0.0.1:{}/postgres",
        encode(wrong, false),
        cluster.port,
        cluster.port
    ));
    for input in inputs {
        let outputs = lookup_outputs(&input);
        let reason = outputs
            .iter()
            .find(|(path, _)| *path == "lookup's ignore reason")
            .map(|(_, text)| text.clone())
            .unwrap_or_default();
        assert!(
            reason.contains("password authentication failed") || reason.contains("28P01"),
            "{input:?}: {reason}"
        );
        let password = if input == raw_input { raw } else { wrong };
        for (path, text) in outputs.iter().chain(config_outputs(&input).iter()) {
            assert_clean(text, password, path, &input);
        }
    }
}
