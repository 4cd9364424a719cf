//! EMQX 4 `emqx_auth_http` conformance: the requests the plugin sends and the plugin's
//! reading of our answers.
//!
//! Followed: emqx-auth-http v4 `src/emqx_auth_http_cli.erl` (`request/6`: GET puts the
//! parameters in the query string, POST sends them form-encoded or as a JSON object of
//! strings; `feedvar/2`: `%u`, `%c`, `%a`, `%P`, `%A` (1 subscribe, 2 publish), `%t`, `%m`),
//! `src/emqx_auth_http.erl` (`check/3`, `is_superuser/4`, `http_to_connack_error/1`),
//! `src/emqx_acl_http.erl` (`do_check_acl/5`), the default `etc/emqx_auth_http.conf`
//! (auth: POST form `clientid=%c,username=%u,password=%P`; acl: GET
//! `access=%A,username=%u,clientid=%c,ipaddr=%a,topic=%t,mountpoint=%m`) and the test suite
//! `test/emqx_auth_http_SUITE.erl` (every request POST `application/json`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod support;

use mqtt_scram_authz::{AclRule, Action, Permission};
use mqtt_scram_testkit::TempDir;
use support::{User, client, start, toml_path, users_file};

/// `emqx_auth_http:check/3`.
#[derive(Debug, PartialEq, Eq)]
enum Auth {
    /// `{ok, 200, <<"ignore">>}`: the next plugin decides.
    Ignore,
    /// Any other 200.
    Success,
    /// `{stop, #{auth_result => http_to_connack_error(Code)}}`.
    Refused(&'static str),
}

fn emqx_auth(status: u16, body: &str) -> Auth {
    match (status, body) {
        (200, "ignore") => Auth::Ignore,
        (200, _) => Auth::Success,
        (400 | 401, _) => Auth::Refused("bad_username_or_password"),
        (403, _) => Auth::Refused("not_authorized"),
        (429, _) => Auth::Refused("banned"),
        (504, _) => Auth::Refused("server_busy"),
        _ => Auth::Refused("server_unavailable"),
    }
}

/// `emqx_auth_http:is_superuser/4`: 200 → true, anything else false.
fn emqx_superuser(status: u16) -> bool {
    status == 200
}

/// `emqx_acl_http:do_check_acl/5`.
fn emqx_acl(status: u16, body: &str) -> &'static str {
    match (status, body) {
        (200, "ignore") => "ignore",
        (200, _) => "allow",
        _ => "deny",
    }
}

#[derive(Clone, Copy)]
enum Encoding {
    /// The default configuration: POST `x-www-form-urlencoded`.
    Form,
    /// The test suite: POST `application/json`.
    Json,
    /// `method = get`: the query string.
    Get,
    /// PUT with a form body.
    Put,
}

async fn send(
    base: &str,
    path: &str,
    encoding: Encoding,
    params: &[(&str, &str)],
) -> (u16, String) {
    let client = client();
    let url = format!("{base}{path}");
    let request = match encoding {
        Encoding::Form => client.post(&url).form(params),
        Encoding::Json => {
            let object: serde_json::Map<String, serde_json::Value> = params
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
                .collect();
            client.post(&url).json(&object)
        }
        Encoding::Get => client.get(&url).query(params),
        Encoding::Put => client.put(&url).form(params),
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn setup() -> (TempDir, support::Running) {
    let dir = TempDir::new("service-emqx4");
    let mut alice = User::new("alice", "pencil");
    alice.acl = vec![AclRule::new(
        Permission::Deny,
        Action::Publish,
        ["secret/#"],
    )];
    let mut admin = User::new("admin", "secret");
    admin.superuser = true;
    let mut old = User::new("old", "pencil");
    old.expire_at = Some(now() - 10);
    let users = dir.write("users.jsonl", &users_file(&[alice, admin, old]));
    let acl = dir.write(
        "acl",
        "pattern write sensors/%u/#\nuser alice\ntopic read sensors/#\n",
    );
    let toml = format!(
        "store = {}\nacl_file = {}\n[emqx4]\n",
        toml_path(&users),
        toml_path(&acl)
    );
    let service = start(&toml).await;
    (dir, service)
}

#[tokio::test]
async fn auth_in_every_encoding() {
    let (_dir, s) = setup().await;
    let base = format!("http://{}", s.addr);
    for encoding in [Encoding::Form, Encoding::Json, Encoding::Get, Encoding::Put] {
        let auth = |user: &'static str, password: &'static str| {
            let base = base.clone();
            async move {
                let (status, body) = send(
                    &base,
                    "/emqx4/auth",
                    encoding,
                    &[
                        ("clientid", "c1"),
                        ("username", user),
                        ("password", password),
                    ],
                )
                .await;
                emqx_auth(status, &body)
            }
        };
        assert_eq!(auth("alice", "pencil").await, Auth::Success);
        assert_eq!(
            auth("alice", "pencil2").await,
            Auth::Refused("bad_username_or_password")
        );
        assert_eq!(
            auth("nobody", "pencil").await,
            Auth::Refused("bad_username_or_password")
        );
        assert_eq!(
            auth("old", "pencil").await,
            Auth::Refused("bad_username_or_password")
        );
        // feedvar/2 sends an absent password as `null`.
        assert_eq!(
            auth("alice", "null").await,
            Auth::Refused("bad_username_or_password")
        );

        let superuser = |user: &'static str| {
            let base = base.clone();
            async move {
                let (status, _) = send(
                    &base,
                    "/emqx4/superuser",
                    encoding,
                    &[("clientid", "c1"), ("username", user)],
                )
                .await;
                emqx_superuser(status)
            }
        };
        assert!(superuser("admin").await);
        assert!(!superuser("alice").await);
        assert!(!superuser("nobody").await);
    }
}

#[tokio::test]
async fn acl_from_records_and_the_acl_file() {
    let (_dir, s) = setup().await;
    let base = format!("http://{}", s.addr);
    for encoding in [Encoding::Get, Encoding::Json, Encoding::Form] {
        let acl = |user: &'static str, access: &'static str, topic: &'static str| {
            let base = base.clone();
            async move {
                let (status, body) = send(
                    &base,
                    "/emqx4/acl",
                    encoding,
                    &[
                        ("access", access),
                        ("username", user),
                        ("clientid", "c1"),
                        ("ipaddr", "127.0.0.1"),
                        ("topic", topic),
                        ("mountpoint", "undefined"),
                    ],
                )
                .await;
                emqx_acl(status, &body)
            }
        };
        assert_eq!(acl("alice", "1", "sensors/t1").await, "allow");
        assert_eq!(acl("alice", "2", "sensors/alice/t1").await, "allow");
        assert_eq!(acl("alice", "2", "secret/x").await, "deny");
        assert_eq!(acl("alice", "2", "elsewhere").await, "ignore");
        assert_eq!(acl("nobody", "1", "sensors/t1").await, "ignore");
    }
}

#[tokio::test]
async fn bad_requests_get_a_4xx() {
    let (_dir, s) = setup().await;
    let base = format!("http://{}", s.addr);
    let cases: [(&str, &[(&str, &str)]); 5] = [
        ("/emqx4/auth", &[("username", "alice")]),
        ("/emqx4/auth", &[("password", "pencil")]),
        (
            "/emqx4/acl",
            &[("access", "3"), ("topic", "a"), ("username", "alice")],
        ),
        ("/emqx4/acl", &[("access", "1"), ("username", "alice")]),
        (
            "/emqx4/acl",
            &[("access", "1"), ("topic", "a"), ("ipaddr", "not-an-ip")],
        ),
    ];
    for (path, params) in cases {
        let (status, body) = send(&base, path, Encoding::Form, params).await;
        assert_eq!(status, 400, "{path} {params:?}: {body}");
    }
}

/// The store down: auth refused with `server_unavailable`, never success or ignore; no
/// superuser; ACL denied.
#[tokio::test]
async fn store_down_is_never_ok() {
    let port = mqtt_scram_testkit::free_port();
    let toml = format!("store = \"http://127.0.0.1:{port}/u?u=${{username}}\"\n[emqx4]\n");
    let s = start(&toml).await;
    let base = format!("http://{}", s.addr);
    let (status, body) = send(
        &base,
        "/emqx4/auth",
        Encoding::Form,
        &[("username", "alice"), ("password", "pencil")],
    )
    .await;
    assert_eq!(
        emqx_auth(status, &body),
        Auth::Refused("server_unavailable")
    );
    let (status, _) = send(
        &base,
        "/emqx4/superuser",
        Encoding::Form,
        &[("username", "admin")],
    )
    .await;
    assert!(!emqx_superuser(status));
    let (status, body) = send(
        &base,
        "/emqx4/acl",
        Encoding::Get,
        &[("access", "1"), ("username", "alice"), ("topic", "t")],
    )
    .await;
    assert_eq!(emqx_acl(status, &body), "deny");
}

/// A password-guessing flood from one client IP does not starve another IP: the flooder
/// is capped (503, which EMQX turns into `server_unavailable`), the other client is served.
#[tokio::test]
async fn a_flood_from_one_ip_does_not_starve_another() {
    let dir = TempDir::new("service-emqx4-flood");
    let mut alice = User::new("alice", "pencil");
    alice.iterations = 50_000;
    let users = dir.write("users.jsonl", &users_file(&[alice]));
    let toml = format!(
        "store = {}\n[password_work]\nmax_concurrent = 1\nmax_per_client = 2\nmax_queued = 1000\nmax_wait = \"60s\"\n[emqx4]\n",
        toml_path(&users)
    );
    let s = start(&toml).await;
    let base = format!("http://{}", s.addr);
    let flood: Vec<_> = (0..40)
        .map(|_| {
            let base = base.clone();
            tokio::spawn(async move {
                send(
                    &base,
                    "/emqx4/auth",
                    Encoding::Form,
                    &[
                        ("username", "alice"),
                        ("password", "guess"),
                        ("ipaddr", "192.0.2.66"),
                    ],
                )
                .await
                .0
            })
        })
        .collect();
    let (status, body) = send(
        &base,
        "/emqx4/auth",
        Encoding::Form,
        &[
            ("username", "alice"),
            ("password", "pencil"),
            ("ipaddr", "192.0.2.7"),
        ],
    )
    .await;
    assert_eq!(emqx_auth(status, &body), Auth::Success);
    let mut statuses = Vec::new();
    for request in flood {
        statuses.push(request.await.unwrap());
    }
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 503),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&503),
        "the flooder was never capped: {statuses:?}"
    );
}
