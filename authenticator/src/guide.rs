//! # Integrating with your broker
//!
//! The authenticator sits between your packet loop and the `mqtt-scram` engine the way
//! quinn sits on quinn-proto: it owns the provider, the clock, the RNG, the timers and the
//! admission policy, and every protocol decision still comes from the engine. Your broker
//! does three things: feed it packets, send the [`Step`](crate::Step)s it returns, and
//! close the connection when a step says so.
//!
//! ## 1. One authenticator per broker
//!
//! ```
//! use std::time::Duration;
//! use mqtt_scram::ServerConfig;
//! use mqtt_scram::provider::MemoryProvider;
//! use mqtt_scram_authenticator::Authenticator;
//! use mqtt_scram_authenticator::admission::AdmissionPolicy;
//!
//! let mut policy = AdmissionPolicy::default();
//! policy.max_handshakes_per_address = 32;           // NAT-heavy fleets: raise it
//! let authenticator = Authenticator::builder(
//!         ServerConfig::new([0x5a; 32])              // read the mock key from a file; keep it stable
//!             .handshake_timeout(Duration::from_secs(30)),
//!         MemoryProvider::new(),                     // or a Store from mqtt_scram_stores::config
//!     )
//!     .admission(policy)
//!     .lookup_timeout(Duration::from_secs(2))
//!     .name("mqtt-listener")                        // the `authenticator` metric label
//!     .build()?;
//! # let _ = authenticator;
//! # Ok::<(), mqtt_scram_authenticator::BuildError>(())
//! ```
//!
//! ## 2. The packet loop (tokio)
//!
//! `Wire` below stands for your MQTT codec. The loop is the same for every connection:
//! CONNECT with an Authentication Method starts the exchange (a CONNECT without one goes to
//! [`ConnectionAuth::on_connect_without_method`](crate::ConnectionAuth::on_connect_without_method):
//! 0x87, 0x8C or your password path, as [`WithoutMethod`](crate::WithoutMethod) says); while a step says
//! [`Status::Continue`](crate::Status::Continue) wait for the client's AUTH *or* the
//! deadline; after [`Status::Authenticated`](crate::Status::Authenticated) keep the
//! [`ConnectionAuth`](crate::ConnectionAuth) for re-authentication and credential expiry.
//! Build each connection's `info` with its peer address,
//! `ConnectionInfo::new(client_id).with_peer(stream.peer_addr()?)`: the per-address cap of
//! the admission policy counts by it (connections without one are exempt from that cap, and
//! the authenticator warns once).
//!
//! ```no_run
//! use std::sync::Arc;
//! use mqtt_scram::{ConnectionInfo, PacketType};
//! use mqtt_scram_authenticator::{Authenticator, ConnectionAuth, Status, Step};
//!
//! /// Your codec (stand-in).
//! struct Wire;
//! enum Packet { Auth { reason_code: u8, method: Option<String>, data: Option<Vec<u8>> }, Other }
//! impl Wire {
//!     async fn read(&mut self) -> Option<Packet> { None }
//!     async fn send(&mut self, _step: &Step) -> bool { true }  // CONNACK / AUTH / DISCONNECT
//! }
//!
//! async fn authenticate(authenticator: &Authenticator, wire: &mut Wire, info: Arc<ConnectionInfo>,
//!                       method: &str, data: Option<&[u8]>) -> Option<ConnectionAuth> {
//!     let mut auth = authenticator.connection(info);
//!     let mut step = auth.on_connect(method, data).await;
//!     loop {
//!         if !wire.send(&step).await {
//!             return None;
//!         }
//!         match step.status {
//!             Status::Authenticated(_) => return Some(auth),   // CONNACK 0x00 sent
//!             Status::Failed(failure) => {
//!                 // For the operator only: unknown user, provider down (failure.ignore_reason()),
//!                 // busy, timeout... The client saw 0x87 / 0x89 / 0x8C.
//!                 eprintln!("refused: {failure}");
//!                 return None;                                 // close the connection
//!             }
//!             _ => {}                                          // AUTH 0x18 sent: wait
//!         }
//!         step = tokio::select! {
//!             step = auth.timeout() => step,                   // no answer in time: CONNACK 0x87
//!             packet = wire.read() => match packet {
//!                 Some(Packet::Auth { reason_code, method, data }) =>
//!                     auth.on_auth(reason_code, method.as_deref(), data.as_deref()).await,
//!                 _ => return None,                            // anything else: protocol error, close
//!             },
//!         };
//!     }
//! }
//!
//! /// After CONNACK 0x00: AUTH packets (re-authentication) and the expiry timer.
//! async fn session(wire: &mut Wire, mut auth: ConnectionAuth) {
//!     loop {
//!         let step = tokio::select! {
//!             step = auth.timeout() => step,                   // expire_at passed: DISCONNECT 0xA0
//!             packet = wire.read() => match packet {
//!                 Some(Packet::Auth { reason_code, method, data }) =>
//!                     auth.on_auth(reason_code, method.as_deref(), data.as_deref()).await,
//!                 Some(Packet::Other) => continue,             // your PUBLISH/SUBSCRIBE handling
//!                 None => return,
//!             },
//!         };
//!         let sent = wire.send(&step).await;
//!         if let Status::Reauthenticated(identity) = &step.status {
//!             // AUTH 0x00 sent: the new identity (attributes, ACL, expire_at) applies now.
//!             let _ = identity;
//!         }
//!         if !sent || step.closes() {
//!             return;
//!         }
//!     }
//! }
//! ```
//!
//! **Cancel safety.** `select!` drops the branches that lose, so each future raced there must
//! be cancel-safe: [`ConnectionAuth::timeout`](crate::ConnectionAuth::timeout) is (it only
//! sleeps, then checks the deadlines), and so must your codec's read be (read from the
//! socket with a cancel-safe call such as tokio's `AsyncReadExt::read`, and keep the bytes
//! and decoded packets in the connection's state, not in the future). `on_connect` and
//! `on_auth` are **not** cancel-safe: dropping their future before it completes ends the
//! authentication. Call them in a branch's handler (after `=>`), as above, never as a raced
//! branch; the same goes for writes (`write_all` is not cancel-safe).
//!
//! **On a real codec.** The [`codec`](crate::codec) module has adapters (CONNECT and AUTH in,
//! a `Step` out as CONNACK/AUTH/DISCONNECT), one per feature: with `codec-mqtt-protocol-core`,
//! the example `examples/mqtt_protocol_core_front.rs` is this loop on `mqtt-protocol-core`;
//! with `codec-ntex-mqtt`, `examples/ntex_mqtt_front.rs` is the same loop on ntex-mqtt's v5
//! codec. mqtt.js and rust-mqtt log in to both in the package's tests. Take the codec your
//! broker already uses; for a new front, `mqtt-protocol-core` does more for you (a sans-IO
//! connection with packet checks and keep-alive timers), `ntex-mqtt` is a plain codec and
//! suits a broker on ntex's server (the package README compares them).
//!
//! A synchronous or tick-driven broker uses [`ConnectionAuth::deadline`](crate::ConnectionAuth::deadline)
//! and [`ConnectionAuth::on_timeout`](crate::ConnectionAuth::on_timeout) instead of
//! `timeout()`; a plugin whose callbacks cannot wait at all uses the
//! [`admission`](crate::admission) module directly with the engine.
//!
//! ## 3. Credentials from a file that reloads itself
//!
//! [`mqtt_scram_stores::FileProvider`](https://docs.rs/mqtt-scram-stores) loads the records
//! `mqtt-scram gen` writes (JSON or CSV); one call starts a thread that re-reads the file when
//! its content changes. A file that fails to load keeps the previous set in force, and the
//! callback says why (file and line, never key material). Stores that live elsewhere
//! (PostgreSQL, Redis, HTTP) come from `mqtt_scram_stores::StoreConfig` the same way.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use mqtt_scram::ServerConfig;
//! use mqtt_scram_authenticator::Authenticator;
//! use mqtt_scram_stores::FileProvider;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let path = std::env::temp_dir().join(format!("guide-users-{}.csv", std::process::id()));
//! # std::fs::write(&path, "username,mechanism,iterations,salt,stored_key,server_key\n\
//! #     user,SCRAM-SHA-256,4096,W22ZaJ0SNY7soEsUEjb6gQ==,\
//! #     WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=\n")?;
//! let users = Arc::new(FileProvider::open(&path)?);
//! // Checked every 2 s; keep the watcher for as long as the broker runs (dropping it stops it).
//! let _watcher = users.watch(Duration::from_secs(2), |result| match result {
//!     Ok(_) => eprintln!("credentials reloaded"),
//!     Err(e) => eprintln!("credentials not reloaded, the previous set stays: {e}"),
//! });
//! let authenticator = Authenticator::builder_shared(ServerConfig::new([0x5a; 32]), users).build()?;
//! # let _ = authenticator;
//! # std::fs::remove_file(&path)?;
//! # Ok(()) }
//! ```
//!
//! ## 4. Your own provider: a database behind a pool, with a timeout
//!
//! A provider answers [`Lookup::Found`](mqtt_scram::provider::Lookup::Found),
//! [`NotFound`](mqtt_scram::provider::Lookup::NotFound) or
//! [`Ignore`](mqtt_scram::provider::Lookup::Ignore) with a reason. It never panics and never
//! puts a secret in the reason. The authenticator already bounds the whole lookup
//! ([`Builder::lookup_timeout`](crate::Builder::lookup_timeout)); a provider that waits for a
//! pooled connection should bound that wait itself so it can say *why* it gave up.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use mqtt_scram::provider::{CredentialProvider, IgnoreKind, IgnoreReason, Lookup, LookupRequest, UserRecord};
//! use mqtt_scram::{HashAlgorithm, StoredCredentials};
//! use tokio::sync::Semaphore;
//!
//! /// Stand-in for a connection pool (deadpool, bb8, ...) and a query.
//! struct Pool { slots: Semaphore }
//! impl Pool {
//!     async fn query_user(&self, name: &str, hash: HashAlgorithm) -> Result<Option<StoredCredentials>, String> {
//!         if name != "alice" { return Ok(None); }
//!         StoredCredentials::derive(hash, "pencil", b"NaCl-NaCl-NaCl!!", 4096).map(Some).map_err(|e| e.to_string())
//!     }
//! }
//!
//! struct Database { pool: Arc<Pool>, checkout: Duration }
//!
//! impl CredentialProvider for Database {
//!     async fn lookup(&self, request: &LookupRequest<'_>) -> Lookup {
//!         let Ok(Ok(_slot)) = tokio::time::timeout(self.checkout, self.pool.slots.acquire()).await else {
//!             return Lookup::Ignore(IgnoreReason::new(IgnoreKind::Overloaded, "no database connection free within 500ms"));
//!         };
//!         match self.pool.query_user(request.username, request.mechanism.hash()).await {
//!             Ok(Some(credentials)) => Lookup::found(UserRecord::new(credentials)),
//!             Ok(None) => Lookup::NotFound,
//!             // The reason reaches the operator (logs, metrics); the client sees 0x87 as for any failure.
//!             Err(e) => Lookup::Ignore(IgnoreReason::unavailable(format!("query failed: {e}"))),
//!         }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let db = Database { pool: Arc::new(Pool { slots: Semaphore::new(8) }), checkout: Duration::from_millis(500) };
//! let info = mqtt_scram::ConnectionInfo::new("c1").with_peer(([192, 0, 2, 7], 51_883).into());
//! let request = LookupRequest::new(mqtt_scram::Mechanism::ScramSha256, "alice", &info);
//! assert!(matches!(db.lookup(&request).await, Lookup::Found(_)));
//! # }
//! ```
//! Wrap it in [`Cached`](mqtt_scram::provider::Cached) for a TTL cache with single-flight
//! lookups, or put it in a [`Chain`](mqtt_scram::provider::Chain) after local overrides.
//!
//! ## 5. Re-authentication
//!
//! MQTT 5.0 §4.12.1: an authenticated client sends AUTH 0x19 with a new client-first-message;
//! the exchange runs like the first one and ends in AUTH 0x00 (success: the session goes on
//! with the *new* identity, so renewed `expire_at`, attributes and ACL apply) or DISCONNECT
//! 0x87 (failure: the connection ends). Meanwhile the session keeps working under the old
//! identity. Feed the AUTH packets to [`ConnectionAuth::on_auth`](crate::ConnectionAuth::on_auth)
//! exactly as during CONNECT; the session loop above does it.
//!
//! ```
//! use std::sync::Arc;
//! use mqtt_scram::client::{self, ClientConfig};
//! use mqtt_scram::provider::{MemoryProvider, UserRecord};
//! use mqtt_scram::{ConnectionInfo, HashAlgorithm, Mechanism, PacketType, ServerConfig, StoredCredentials};
//! use mqtt_scram_authenticator::{Authenticator, Status};
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = MemoryProvider::new();
//! store.insert("alice", UserRecord::new(StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"NaCl-NaCl-NaCl!!", 4096)?));
//! let authenticator = Authenticator::builder(ServerConfig::new([1; 32]), store).build()?;
//! // Always pass the peer address (your socket's `peer_addr()`): the admission caps count per address.
//! let info = ConnectionInfo::new("c1").with_peer(([192, 0, 2, 7], 51_883).into());
//! let mut auth = authenticator.connection(Arc::new(info));
//! let mut rng = rand::rng();
//! let (c, first) = client::start(&ClientConfig::new(), Mechanism::ScramSha256, "alice", "pencil", &mut rng)?;
//! let step = auth.on_connect("SCRAM-SHA-256", Some(&first)).await;
//! let (c, last) = c.on_server_first(step.data.as_deref().unwrap_or_default())?;
//! let step = auth.on_auth(0x18, Some("SCRAM-SHA-256"), Some(&last)).await;
//! let authenticated = c.on_server_final(step.data.as_deref().unwrap_or_default())?;
//!
//! // Later: AUTH 0x19 → AUTH 0x18 → AUTH 0x18 → AUTH 0x00.
//! let (c, first) = authenticated.reauthenticate(&mut rng);
//! let step = auth.on_auth(0x19, Some("SCRAM-SHA-256"), Some(&first)).await;
//! assert_eq!((step.packet, step.reason_code), (PacketType::Auth, 0x18));
//! let (c, last) = c.on_server_first(step.data.as_deref().unwrap_or_default())?;
//! let step = auth.on_auth(0x18, Some("SCRAM-SHA-256"), Some(&last)).await;
//! assert_eq!((step.packet, step.reason_code), (PacketType::Auth, 0x00));
//! assert!(matches!(step.status, Status::Reauthenticated(_)));
//! c.on_server_final(step.data.as_deref().unwrap_or_default())?;
//! # Ok(()) }
//! ```
//!
//! ## 6. Observability
//!
//! Enable `tracing` for one span per handshake (`mqtt_scram.handshake`: kind, peer,
//! client id, mechanism, username, mock, outcome, reason; never a secret) and `metrics` for
//! the series in [`observe`](crate::observe). Refusals and stalled clients are summarised
//! (one WARN per interval, see [`NoticeSummary`](crate::admission::NoticeSummary)); call
//! [`Authenticator::flush_notices`](crate::Authenticator::flush_notices) from a periodic tick.
