//! A closed-loop MQTT 5 login load generator for the broker-CPU benches (issue 22 §3):
//! `mosquitto/benches/broker_cpu.rs` (real Mosquitto: anonymous, `password_file`, SCRAM through
//! the plugin) and `broker/benches/front_cpu.rs` (the example broker front) include it with
//! `#[path]`.
//!
//! - The client is kept cheap: SCRAM-SHA-256 users' SaltedPassword, ClientKey, StoredKey and
//!   ServerKey are derived once per user ([`ScramUser::new`]); per login only the HMACs of
//!   RFC 5802 §3 run (ClientSignature, and ServerSignature to check `v=`), with the HMAC
//!   key pads absorbed once per user. Packets are hand-framed.
//! - Every connection is bound to a source address spread over 127.0.0.0/8 ([`source`]:
//!   127.1.x.y), so a broker's per-address admission cap is not what is measured.
//! - Broker CPU is `utime + stime` from `/proc/<pid>/stat` over a window, per login.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mqtt_scram::credentials::Key;
use mqtt_scram::{HashAlgorithm, StoredCredentials};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio::runtime::Runtime;

use crate::procstat::{Cpu, load_average};
use crate::wire::{
    authentication_data, put_binary, put_binary_value, put_varint, remaining_length,
};

pub const METHOD: &str = "SCRAM-SHA-256";
const CONNECT: u8 = 0x10;
const CONNACK: u8 = 0x20;
const DISCONNECT: u8 = 0xE0;
const AUTH: u8 = 0xF0;
/// Keep-alive in CONNECT: long enough that held connections outlive the run.
const KEEP_ALIVE: u16 = 600;

/// Source address `i` (of `sources`): 127.1.0.1, 127.1.0.2, … 127.1.0.250, 127.1.1.1, …
pub fn source(i: usize, sources: usize) -> IpAddr {
    let i = i % sources.max(1);
    IpAddr::from([127, 1, (i / 250) as u8, (i % 250) as u8 + 1])
}

/// HMAC-SHA-256 with the key's pads absorbed once.
#[derive(Clone)]
struct Mac {
    inner: Sha256,
    outer: Sha256,
}

impl Mac {
    fn new(key: &[u8]) -> Self {
        let mut k = [0u8; 64];
        if key.len() > 64 {
            k[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let (mut inner, mut outer) = (Sha256::new(), Sha256::new());
        inner.update(k.map(|b| b ^ 0x36));
        outer.update(k.map(|b| b ^ 0x5c));
        Self { inner, outer }
    }

    fn sign(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut inner = self.inner.clone();
        for p in parts {
            inner.update(p);
        }
        let mut outer = self.outer.clone();
        outer.update(inner.finalize());
        outer.finalize().into()
    }
}

/// A SCRAM-SHA-256 user with everything password-dependent computed once.
pub struct ScramUser {
    pub name: String,
    salt: Vec<u8>,
    iterations: u32,
    client_key: [u8; 32],
    stored: Mac,
    server: Mac,
}

impl ScramUser {
    /// Runs PBKDF2 (`Hi`) once; returns the user and the broker's stored credentials for it.
    pub fn new(name: &str, password: &str, iterations: u32) -> (Self, StoredCredentials) {
        let salt: [u8; 16] = rand::random();
        let p = Mac::new(password.as_bytes());
        let mut u = p.sign(&[&salt, &1u32.to_be_bytes()]);
        let mut salted = u;
        for _ in 1..iterations {
            u = p.sign(&[&u]);
            salted.iter_mut().zip(u).for_each(|(o, x)| *o ^= x);
        }
        let salted_mac = Mac::new(&salted);
        let client_key = salted_mac.sign(&[b"Client Key"]);
        let stored_key: [u8; 32] = Sha256::digest(client_key).into();
        let server_key = salted_mac.sign(&[b"Server Key"]);
        let creds = StoredCredentials::from_salted_password(
            HashAlgorithm::Sha256,
            &Key::from_slice(&salted).unwrap(),
            &salt,
            iterations,
        )
        .unwrap();
        assert_eq!(creds.stored_key().as_bytes(), stored_key);
        let user = Self {
            name: name.to_owned(),
            salt: salt.to_vec(),
            iterations,
            client_key,
            stored: Mac::new(&stored_key),
            server: Mac::new(&server_key),
        };
        (user, creds)
    }

    /// client-first-message and its bare part.
    fn client_first(&self) -> (Vec<u8>, String) {
        let nonce = STANDARD.encode(rand::random::<[u8; 18]>());
        let bare = format!("n={},r={nonce}", self.name);
        (format!("n,,{bare}").into_bytes(), bare)
    }

    /// client-final-message for `server_first`, and the `v=` the server must answer.
    fn client_final(&self, bare: &str, server_first: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let text = std::str::from_utf8(server_first).unwrap();
        let field = |k: &str| {
            text.split(',')
                .find_map(|f| f.strip_prefix(k))
                .unwrap_or_else(|| panic!("no {k} in server-first {text:?}"))
        };
        let (nonce, salt, iterations) = (field("r="), field("s="), field("i="));
        assert!(nonce.starts_with(&bare[bare.find(",r=").unwrap() + 3..]));
        assert_eq!(STANDARD.decode(salt).unwrap(), self.salt, "salt changed");
        assert_eq!(iterations.parse::<u32>().unwrap(), self.iterations);
        let without_proof = format!("c=biws,r={nonce}");
        let message: [&[u8]; 5] = [
            bare.as_bytes(),
            b",",
            server_first,
            b",",
            without_proof.as_bytes(),
        ];
        let mut proof = self.stored.sign(&message);
        proof
            .iter_mut()
            .zip(self.client_key)
            .for_each(|(p, k)| *p ^= k);
        let verifier = format!("v={}", STANDARD.encode(self.server.sign(&message)));
        let last = format!("{without_proof},p={}", STANDARD.encode(proof));
        (last.into_bytes(), verifier.into_bytes())
    }
}

/// How a connection logs in.
#[derive(Clone)]
pub enum Credential {
    /// CONNECT without User Name, Password or Authentication Method.
    Anonymous,
    /// CONNECT with User Name and Password.
    Password { user: String, password: String },
    /// CONNECT with Authentication Method SCRAM-SHA-256, then AUTH 0x18 both ways.
    Scram(Arc<ScramUser>),
}

/// One MQTT 5 connection.
pub struct Conn {
    stream: TcpStream,
    read: Vec<u8>,
    out: Vec<u8>,
}

impl Conn {
    pub async fn open(broker: SocketAddr, source: IpAddr) -> std::io::Result<Self> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(source, 0))?;
        let stream = socket.connect(broker).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            read: Vec::with_capacity(512),
            out: Vec::with_capacity(512),
        })
    }

    /// CONNECT … CONNACK 0x00 (for SCRAM, with the server signature checked).
    pub async fn login(&mut self, credential: &Credential, client_id: &str) {
        match credential {
            Credential::Anonymous => {
                self.send_connect(client_id, None, None).await;
                self.expect(CONNACK, 0).await;
            }
            Credential::Password { user, password } => {
                self.send_connect(client_id, Some((user, password)), None)
                    .await;
                self.expect(CONNACK, 0).await;
            }
            Credential::Scram(user) => {
                let (first, bare) = user.client_first();
                self.send_connect(client_id, None, Some(&first)).await;
                let challenge = self.expect(AUTH, 0x18).await;
                let (last, verifier) = user.client_final(&bare, &challenge);
                self.send_auth(0x18, &last).await;
                let v = self.expect(CONNACK, 0).await;
                assert_eq!(v, verifier, "server signature");
            }
        }
    }

    /// AUTH 0x19 → AUTH 0x18 → AUTH 0x18 → AUTH 0x00 on a connection logged in as `user`.
    pub async fn reauthenticate(&mut self, user: &ScramUser) {
        let (first, bare) = user.client_first();
        self.send_auth(0x19, &first).await;
        let challenge = self.expect(AUTH, 0x18).await;
        let (last, verifier) = user.client_final(&bare, &challenge);
        self.send_auth(0x18, &last).await;
        let v = self.expect(AUTH, 0).await;
        assert_eq!(v, verifier, "server signature");
    }

    /// DISCONNECT, then waits for the broker to close first (TIME_WAIT on its side).
    pub async fn disconnect(mut self) {
        let _ = self.stream.write_all(&[DISCONNECT, 0x00]).await;
        let mut sink = [0u8; 64];
        while self.stream.read(&mut sink).await.is_ok_and(|n| n > 0) {}
    }

    async fn send_connect(
        &mut self,
        client_id: &str,
        login: Option<(&str, &str)>,
        scram: Option<&[u8]>,
    ) {
        let mut props = Vec::with_capacity(96);
        if let Some(data) = scram {
            put_binary(&mut props, 0x15, METHOD.as_bytes());
            put_binary(&mut props, 0x16, data);
        }
        let flags = 0x02 | if login.is_some() { 0xC0 } else { 0 };
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 5, flags];
        body.extend_from_slice(&KEEP_ALIVE.to_be_bytes());
        put_varint(&mut body, props.len());
        body.extend_from_slice(&props);
        put_binary_value(&mut body, client_id.as_bytes());
        if let Some((user, password)) = login {
            put_binary_value(&mut body, user.as_bytes());
            put_binary_value(&mut body, password.as_bytes());
        }
        self.send(CONNECT, &body).await;
    }

    async fn send_auth(&mut self, reason_code: u8, data: &[u8]) {
        let mut props = Vec::with_capacity(data.len() + 24);
        put_binary(&mut props, 0x15, METHOD.as_bytes());
        put_binary(&mut props, 0x16, data);
        let mut body = vec![reason_code];
        put_varint(&mut body, props.len());
        body.extend_from_slice(&props);
        self.send(AUTH, &body).await;
    }

    async fn send(&mut self, first: u8, body: &[u8]) {
        self.out.clear();
        self.out.push(first);
        put_varint(&mut self.out, body.len());
        self.out.extend_from_slice(body);
        self.stream.write_all(&self.out).await.unwrap();
    }

    /// The next packet must be `first` with `reason_code`; returns its Authentication Data
    /// (empty if none).
    async fn expect(&mut self, first: u8, reason_code: u8) -> Vec<u8> {
        let (got, body) = self.next().await;
        let (code, props) = match got {
            CONNACK => (body.get(1).copied(), body.get(2..)),
            AUTH => (Some(body.first().copied().unwrap_or(0)), body.get(1..)),
            _ => (None, None),
        };
        assert!(
            got == first && code == Some(reason_code),
            "expected packet {first:#04x} reason {reason_code:#04x}, got {got:#04x} {code:?} (see the broker's log)"
        );
        authentication_data(props.unwrap_or_default()).unwrap_or_default()
    }

    async fn next(&mut self) -> (u8, Vec<u8>) {
        loop {
            if let Some((len, header)) = remaining_length(self.read.get(1..).unwrap_or_default()) {
                let total = 1 + header + len;
                if self.read.len() >= total {
                    let first = self.read[0];
                    let body = self.read[1 + header..total].to_vec();
                    self.read.drain(..total);
                    return (first, body);
                }
            }
            let mut chunk = [0u8; 1024];
            let n = self.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the broker closed the connection (see its log)");
            self.read.extend_from_slice(&chunk[..n]);
        }
    }
}

/// What one window measured.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub count: u64,
    pub wall: Duration,
    pub broker: Cpu,
    pub client: Cpu,
}

impl Window {
    pub fn rate(&self) -> f64 {
        self.count as f64 / self.wall.as_secs_f64()
    }

    /// CPU µs per operation.
    pub fn per_op(&self, cpu: Duration) -> f64 {
        cpu.as_secs_f64() * 1e6 / self.count.max(1) as f64
    }
}

/// Samples the counter and CPU times over `window` after `warm_up`, then stops the workers.
async fn measure(
    pid: u32,
    done: &AtomicU64,
    stop: &AtomicBool,
    warm_up: Duration,
    window: Duration,
) -> Window {
    let pid = pid.to_string();
    tokio::time::sleep(warm_up).await;
    let (n0, t0, b0, c0) = (
        done.load(Ordering::Relaxed),
        Instant::now(),
        Cpu::of(&pid),
        Cpu::of("self"),
    );
    tokio::time::sleep(window).await;
    let (n1, t1, b1, c1) = (
        done.load(Ordering::Relaxed),
        Instant::now(),
        Cpu::of(&pid),
        Cpu::of("self"),
    );
    stop.store(true, Ordering::Relaxed);
    Window {
        count: n1 - n0,
        wall: t1 - t0,
        broker: b1.since(b0),
        client: c1.since(c0),
    }
}

/// Where the load goes.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub pid: u32,
    /// Source addresses to spread connections over.
    pub sources: usize,
}

/// The users logging in with SCRAM-SHA-256.
pub fn scram_credentials(users: &[Arc<ScramUser>]) -> Vec<Credential> {
    users.iter().cloned().map(Credential::Scram).collect()
}

/// The same users logging in with User Name and `password`.
pub fn password_credentials(users: &[Arc<ScramUser>], password: &str) -> Vec<Credential> {
    users
        .iter()
        .map(|u| Credential::Password {
            user: u.name.clone(),
            password: password.into(),
        })
        .collect()
}

/// `rounds` rounds of [`login_window`]s, each round every contender (its name, where it
/// listens, its clients' credentials) once, with one Markdown table row per window (logins/s,
/// broker CPU per login with its user/system split, client CPU per login, load average).
/// Returns each contender's logins/s and broker CPU µs per login, one value per round.
pub fn login_rounds(
    rt: &Runtime,
    contenders: &[(&str, Target, &[Credential])],
    rounds: usize,
    concurrency: usize,
    warm_up: Duration,
    window: Duration,
) -> Vec<(Vec<f64>, Vec<f64>)> {
    if contenders.is_empty() {
        return Vec::new();
    }
    println!(
        "\n| round | contender | logins | logins/s | broker CPU/login (user + sys) | client CPU/login | load average after |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut series = vec![(Vec::new(), Vec::new()); contenders.len()];
    for round in 1..=rounds {
        for (&(name, target, credentials), (rates, cpus)) in contenders.iter().zip(&mut series) {
            let w = login_window(rt, target, credentials, concurrency, warm_up, window);
            let cpu = w.per_op(w.broker.total());
            println!(
                "| {round} | {name} | {} | {:.0} | {cpu:.1} µs ({:.1} + {:.1}) | {:.1} µs | {} |",
                w.count,
                w.rate(),
                w.per_op(w.broker.user),
                w.per_op(w.broker.system),
                w.per_op(w.client.total()),
                load_average()
            );
            rates.push(w.rate());
            cpus.push(cpu);
        }
    }
    series
}

/// Closed loop: `concurrency` workers each log in on a new connection, DISCONNECT, and
/// start again, until the window is over. Worker `i` uses `credentials[i % len]`.
pub fn login_window(
    rt: &Runtime,
    target: Target,
    credentials: &[Credential],
    concurrency: usize,
    warm_up: Duration,
    window: Duration,
) -> Window {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    rt.block_on(async {
        let tasks: Vec<_> = (0..concurrency)
            .map(|i| {
                let credential = credentials[i % credentials.len()].clone();
                let (done, stop) = (Arc::clone(&done), Arc::clone(&stop));
                tokio::spawn(async move {
                    let id = format!("load-{i}");
                    let from = source(i, target.sources);
                    while !stop.load(Ordering::Relaxed) {
                        let mut conn = Conn::open(target.addr, from).await.unwrap();
                        conn.login(&credential, &id).await;
                        conn.disconnect().await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        let w = measure(target.pid, &done, &stop, warm_up, window).await;
        for task in tasks {
            task.await.unwrap();
        }
        w
    })
}

/// A logged-in connection kept open, and who it is.
pub struct Held {
    pub conn: Conn,
    pub user: Arc<ScramUser>,
}

/// Opens and logs in `count` connections (at most `concurrency` logins at a time); stops at
/// the first that fails and returns the ones that worked with the error.
pub fn hold(
    rt: &Runtime,
    target: Target,
    users: &[Arc<ScramUser>],
    count: usize,
    concurrency: usize,
) -> (Vec<Held>, Option<String>) {
    rt.block_on(async {
        let mut held = Vec::with_capacity(count);
        let mut error = None;
        let mut next = 0;
        while next < count && error.is_none() {
            let batch: Vec<_> = (next..count.min(next + concurrency))
                .map(|i| {
                    let user = Arc::clone(&users[i % users.len()]);
                    tokio::spawn(async move {
                        let mut conn = Conn::open(target.addr, source(i, target.sources))
                            .await
                            .map_err(|e| format!("connection {i}: {e}"))?;
                        conn.login(&Credential::Scram(Arc::clone(&user)), &format!("held-{i}"))
                            .await;
                        Ok::<_, String>(Held { conn, user })
                    })
                })
                .collect();
            next += batch.len();
            for task in batch {
                match task.await {
                    Ok(Ok(h)) => held.push(h),
                    Ok(Err(e)) => error = Some(e),
                    Err(e) => error = Some(format!("login task: {e}")),
                }
            }
        }
        (held, error)
    })
}

/// Re-authentications across the held connections: `inflight` workers, each owning every
/// `inflight`-th connection and re-authenticating them round-robin until the window is
/// over. Returns the window and each re-authentication's round trip (client-observed).
pub fn reauth_window(
    rt: &Runtime,
    target: Target,
    held: &mut Vec<Held>,
    inflight: usize,
    warm_up: Duration,
    window: Duration,
) -> (Window, Vec<Duration>) {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let inflight = inflight.clamp(1, held.len().max(1));
    let mut shares: Vec<Vec<Held>> = (0..inflight).map(|_| Vec::new()).collect();
    for (i, h) in held.drain(..).enumerate() {
        shares[i % inflight].push(h);
    }
    rt.block_on(async {
        let tasks: Vec<_> = shares
            .into_iter()
            .map(|mut share| {
                let (done, stop) = (Arc::clone(&done), Arc::clone(&stop));
                tokio::spawn(async move {
                    let mut times = Vec::new();
                    'outer: loop {
                        for h in &mut share {
                            if stop.load(Ordering::Relaxed) {
                                break 'outer;
                            }
                            let t = Instant::now();
                            h.conn.reauthenticate(&h.user).await;
                            times.push(t.elapsed());
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    (share, times)
                })
            })
            .collect();
        let w = measure(target.pid, &done, &stop, warm_up, window).await;
        let mut all = Vec::new();
        for task in tasks {
            let (share, times) = task.await.unwrap();
            held.extend(share);
            all.extend(times);
        }
        (w, all)
    })
}
