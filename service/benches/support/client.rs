//! The load generator: keep-alive HTTP/1.1 connections (hyper's connection API, no pool,
//! no timers), several requests in flight, all on the bench thread's current-thread
//! runtime. Each connection is driven by one future; the futures run together with
//! `join_all`, so the client costs one core at most and little of it per request.

use std::cell::Cell;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use mqtt_scram::Mechanism;
use mqtt_scram::client::{self, Authenticated, ClientConfig};
use serde_json::Value;

use super::data::{PASSWORD, pick, user_name};

/// One keep-alive connection.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl Conn {
    /// Connects (TCP_NODELAY, as the server sets it) and spawns the connection task on the
    /// current runtime.
    pub async fn connect(addr: SocketAddr) -> Self {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .unwrap();
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Self {
            sender,
            host: addr.to_string(),
        }
    }

    /// One request; the whole answer body read.
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> (StatusCode, Bytes) {
        self.sender.ready().await.unwrap();
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.host);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self
            .sender
            .send_request(request.body(Full::new(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, body)
    }
}

/// What one operation is.
pub enum Load {
    /// `GET <prefix><user>` (the user spread over `users`), 200 expected.
    Get { prefix: String, users: usize },
    /// `POST path` with a fixed body and headers, 200 expected.
    Post {
        path: String,
        body: Bytes,
        headers: Vec<(String, String)>,
    },
    /// EMQX 4 `auth_req` (GET, query string) with the right password, 200 expected.
    Password { users: usize },
    /// One SCRAM exchange over VerneMQ `on_auth_m5` (two calls), success expected.
    OnAuth,
}

/// A client SCRAM identity whose SaltedPassword is cached (the engine's `Authenticated`
/// reuses it when the salt and count are unchanged): each exchange is a re-authentication,
/// so the client side costs a few HMACs, not PBKDF2.
struct ScramClient {
    client_id: String,
    state: Option<Authenticated>,
}

/// One connection and what it needs to drive its loads.
pub struct Worker {
    conn: Conn,
    id: usize,
    scram: Vec<ScramClient>,
    next: usize,
}

const VERNEMQ: &str = "/vernemq";

/// `on_auth_m5` arguments as `vmq_webhooks_plugin:on_auth_m5/3` sends them.
pub fn on_auth_body(client_id: &str, data: &[u8]) -> Bytes {
    Bytes::from(format!(
        r#"{{"username":null,"mountpoint":"","client_id":"{client_id}","properties":{{"p_authentication_method":"SCRAM-SHA-256","p_authentication_data":"{}"}}}}"#,
        STANDARD.encode(data)
    ))
}

/// `reason_code` and the decoded Authentication Data of an `ok` answer.
fn auth_step(status: StatusCode, body: &[u8]) -> (u64, Vec<u8>) {
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(body));
    let v: Value = serde_json::from_slice(body).unwrap();
    let mods = &v["modifiers"];
    let data = STANDARD
        .decode(
            mods["properties"]["p_authentication_data"]
                .as_str()
                .unwrap(),
        )
        .unwrap_or_else(|_| panic!("refused: {v}"));
    (mods["reason_code"].as_u64().unwrap(), data)
}

async fn on_auth_call(conn: &mut Conn, client_id: &str, data: &[u8]) -> (u64, Vec<u8>) {
    let (status, body) = conn
        .call(
            Method::POST,
            VERNEMQ,
            &[
                ("content-type", "application/json"),
                ("vernemq-hook", "on_auth_m5"),
            ],
            on_auth_body(client_id, data),
        )
        .await;
    auth_step(status, &body)
}

impl Worker {
    /// Connects worker `id` to `addr`.
    pub async fn connect(addr: SocketAddr, id: usize) -> Self {
        Self {
            conn: Conn::connect(addr).await,
            id,
            scram: Vec::new(),
            next: 0,
        }
    }

    /// Logs `count` users in once over `on_auth_m5` (client PBKDF2 once per user), so that
    /// [`Load::OnAuth`] can re-authenticate them cheaply.
    pub async fn prepare_scram(&mut self, count: usize, users: usize) {
        for k in 0..count {
            let user = user_name(pick((self.id * count + k) as u64, users));
            let client_id = format!("w{}-{k}", self.id);
            let (state, first) = client::start(
                &ClientConfig::new(),
                Mechanism::ScramSha256,
                &user,
                PASSWORD,
                &mut rand::rng(),
            )
            .unwrap();
            let (code, server_first) = on_auth_call(&mut self.conn, &client_id, &first).await;
            assert_eq!(code, 24);
            let (state, last) = state.on_server_first(&server_first).unwrap();
            let (code, server_final) = on_auth_call(&mut self.conn, &client_id, &last).await;
            assert_eq!(code, 0);
            let state = state.on_server_final(&server_final).unwrap();
            self.scram.push(ScramClient {
                client_id,
                state: Some(state),
            });
        }
    }

    /// One operation; `n` spreads the users.
    pub async fn one(&mut self, load: &Load, n: u64) {
        match load {
            Load::Get { prefix, users } => {
                let path = format!("{prefix}{}", user_name(pick(n, *users)));
                let (status, body) = self.conn.call(Method::GET, &path, &[], Bytes::new()).await;
                assert_eq!(status, StatusCode::OK, "{path}: {body:?}");
            }
            Load::Post {
                path,
                body,
                headers,
            } => {
                let headers: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let (status, _) = self
                    .conn
                    .call(Method::POST, path, &headers, body.clone())
                    .await;
                assert_eq!(status, StatusCode::OK);
            }
            Load::Password { users } => {
                // One client IP per connection: the service admits per IP (16 at once).
                let path = format!(
                    "/emqx4/auth?username={}&password={PASSWORD}&clientid=c{}&ipaddr=10.0.{}.{}",
                    user_name(pick(n, *users)),
                    self.id,
                    self.id / 256,
                    self.id % 256
                );
                let (status, body) = self.conn.call(Method::GET, &path, &[], Bytes::new()).await;
                assert_eq!(status, StatusCode::OK, "{path}: {body:?}");
            }
            Load::OnAuth => self.exchange().await,
        }
    }

    async fn exchange(&mut self) {
        let Self {
            conn, scram, next, ..
        } = self;
        let i = *next % scram.len();
        *next += 1;
        let c = &mut scram[i];
        let (state, first) = c.state.take().unwrap().reauthenticate(&mut rand::rng());
        let (code, server_first) = on_auth_call(conn, &c.client_id, &first).await;
        assert_eq!(code, 24);
        let (state, last) = state.on_server_first(&server_first).unwrap();
        let (code, server_final) = on_auth_call(conn, &c.client_id, &last).await;
        assert_eq!(code, 0);
        c.state = Some(state.on_server_final(&server_final).unwrap());
    }
}

/// When a run ends.
#[derive(Clone, Copy)]
pub enum Stop {
    /// After this many operations (criterion's `iter_custom`).
    Ops(u64),
    /// After this long.
    Time(Duration),
}

/// Runs `load` on every worker at once (one operation in flight per connection) until
/// `stop`; returns the operations done and the time taken.
pub fn run(
    runtime: &tokio::runtime::Runtime,
    workers: &mut [Worker],
    load: &Load,
    stop: Stop,
) -> (u64, Duration) {
    runtime.block_on(async {
        let counter = Cell::new(0u64);
        let start = Instant::now();
        let futures = workers.iter_mut().map(|w| {
            let counter = &counter;
            async move {
                loop {
                    let n = counter.get();
                    match stop {
                        Stop::Ops(k) if n >= k => break,
                        Stop::Time(d) if start.elapsed() >= d => break,
                        _ => {}
                    }
                    counter.set(n + 1);
                    w.one(load, n).await;
                }
            }
        });
        futures_util::future::join_all(futures).await;
        (counter.get(), start.elapsed())
    })
}

/// Connects `count` workers to `addr`.
pub fn workers(runtime: &tokio::runtime::Runtime, addr: SocketAddr, count: usize) -> Vec<Worker> {
    runtime.block_on(async {
        let mut out = Vec::with_capacity(count);
        for id in 0..count {
            out.push(Worker::connect(addr, id).await);
        }
        out
    })
}
