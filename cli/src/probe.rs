//! `probe`: log in to an MQTT 5 broker with SCRAM as a real client and report each step.
//!
//! Packets are encoded and decoded by `mqtt-protocol-core` (its sans-IO client connection does
//! the framing). rumqttc 0.25 was the first choice, but its `mqttbytes::v5` AUTH packet cannot
//! be used for SCRAM: `AuthReasonCode` and `AuthProperties` are not exported (no AUTH can be
//! built outside the crate), and `AuthProperties` miscounts the property length (string
//! properties are counted without their 2-byte length prefix), so a correct AUTH carrying an
//! Authentication Method does not parse.

use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqtt_protocol_core::mqtt::packet::Packet as GenericPacket;
use mqtt_protocol_core::mqtt::packet::v5_0::{Auth, Connect, Disconnect};
use mqtt_protocol_core::mqtt::result_code::{AuthReasonCode, DisconnectReasonCode};
use mqtt_scram::client::{self, ClientConfig, ClientOptions};
use mqtt_scram::credentials::DEFAULT_ITERATIONS;
use mqtt_scram::message::{ClientFirst, DEFAULT_MAX_MESSAGE_LEN, ServerFirst};
use mqtt_scram::{ChannelBinding, Error as ScramError, HashAlgorithm, Mechanism};
use serde_json::{Value, json};

use crate::password::Source;
use crate::{Failure, Hash, Status, emit, warn};

mod link;
mod report;
mod tls;

use link::{Link, Transport, auth_of, auth_props, build_auth, reason_name};
use report::{Report, Verdict, ms};

/// `probe` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Prints each step on stdout (or one JSON object with --json): CONNECT sent, AUTH 0x18
received (mechanism, iteration count, salt length, nonce check), AUTH sent, CONNACK reason
code and name, whether the server signature verified, and timings.
With --tls --plus the login uses SCRAM-SHA-256-PLUS / SCRAM-SHA-512-PLUS bound to the TLS
connection by the RFC 9266 tls-exporter channel binding (TLS 1.3 only; TLS 1.2 is a protocol
error), and --reauth binds the re-authentication to the same connection.
Exit codes: 0 accepted (and re-authenticated with --reauth), 1 rejected by the broker,
2 usage error, 3 protocol error (including a bad server signature), 4 connection error.")]
pub struct Args {
    /// Broker address, HOST[:PORT] (port 1883, or 8883 with --tls; [IPv6]:PORT).
    #[arg(value_name = "HOST[:PORT]")]
    target: String,

    /// SCRAM username.
    #[arg(long, short = 'u')]
    user: String,

    /// SCRAM hash.
    #[arg(long, short = 'm', value_enum, default_value = "sha256")]
    mechanism: Hash,

    /// Connect with TLS.
    #[arg(long)]
    tls: bool,

    /// Use the -PLUS mechanism with the tls-exporter channel binding (RFC 9266; TLS 1.3).
    #[arg(long, requires = "tls")]
    plus: bool,

    /// Lowest iteration count to accept from the broker (the highest is 1,000,000).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_ITERATIONS,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_ITERATIONS)))]
    min_iterations: u32,

    /// Trust the CA certificates in this PEM file instead of the built-in web roots.
    #[arg(long, value_name = "PEM", requires = "tls")]
    ca: Option<PathBuf>,

    /// Do not check the broker's certificate (testing only).
    #[arg(long, requires = "tls")]
    insecure: bool,

    /// TLS server name, when it differs from HOST.
    #[arg(long, value_name = "NAME", requires = "tls")]
    server_name: Option<String>,

    /// MQTT client identifier (default: mqtt-scram-probe-<pid>).
    #[arg(long)]
    client_id: Option<String>,

    /// Seconds to wait for the connection and for each packet.
    #[arg(long, default_value_t = 10, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,

    /// After logging in, re-authenticate (AUTH 0x19) on the same connection.
    #[arg(long)]
    reauth: bool,

    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    password: Source,
}

/// Highest iteration count the probe accepts (`ClientConfig`'s default ceiling).
const MAX_ITERATIONS: u32 = 1_000_000;

/// A step that ended the probe early.
struct Stop {
    verdict: Verdict,
    message: String,
}

impl Stop {
    fn protocol(message: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::ProtocolError,
            message: message.into(),
        }
    }
    fn connection(message: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::ConnectionError,
            message: message.into(),
        }
    }
    fn rejected(message: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Rejected,
            message: message.into(),
        }
    }
}

pub fn run(mut args: Args) -> Result<Status, Failure> {
    let password = args.password.read(false)?;
    let (host, port) = split_target(&args.target, if args.tls { 8883 } else { 1883 })?;
    let tls_config = if args.tls {
        Some(tls::client_config(args.ca.as_deref(), args.insecure)?)
    } else {
        None
    };
    if args.insecure {
        warn("--insecure: the broker's certificate is not checked");
    }
    let hash: HashAlgorithm = args.mechanism.into();
    let mechanism = if args.plus {
        hash.mechanism().with_plus()
    } else {
        hash.mechanism()
    };
    let mut report = Report {
        json: args.json,
        start: Instant::now(),
        steps: Vec::new(),
        fields: serde_json::Map::new(),
        timings: serde_json::Map::new(),
    };
    report.set("target", json!(format!("{host}:{port}")));
    report.set("tls", json!(args.tls));
    report.set("username", json!(args.user));
    report.set("mechanism", json!(mechanism.name()));
    report.set("channel_binding", Value::Null);
    report.set(
        "iteration_window",
        json!([args.min_iterations, MAX_ITERATIONS]),
    );
    let session = Session {
        args: &args,
        host: &host,
        port,
        tls: tls_config,
        mechanism,
        password: &password,
    };
    let outcome = session.run(&mut report);
    let (verdict, error) = match outcome {
        Ok(()) => (Verdict::Accepted, None),
        Err(stop) => (stop.verdict, Some(stop.message)),
    };
    report.time("total", report.start.elapsed());
    if args.json {
        let mut object = report.fields;
        object.insert("result".into(), json!(verdict));
        object.insert("exit_code".into(), json!(verdict.status().code()));
        object.insert("error".into(), json!(error));
        object.insert("steps".into(), Value::Array(report.steps));
        object.insert("timings_ms".into(), Value::Object(report.timings));
        let text = serde_json::to_string(&Value::Object(object))
            .map_err(|e| Failure::usage(e.to_string()))?;
        emit(&format!("{text}\n"))?;
    } else {
        let total = report.timings.get("total").cloned().unwrap_or(Value::Null);
        let result = match verdict {
            Verdict::Accepted => "accepted",
            Verdict::Rejected => "rejected",
            Verdict::ProtocolError => "protocol error",
            Verdict::ConnectionError => "connection error",
        };
        emit(&format!("result: {result} (total {total} ms)\n"))?;
        if let Some(error) = error {
            let _ = writeln!(std::io::stderr().lock(), "mqtt-scram: probe: {error}");
        }
    }
    Ok(verdict.status())
}

/// Splits `HOST[:PORT]`, `[v6]:PORT` or a bare IPv6 address.
fn split_target(target: &str, default_port: u16) -> Result<(String, u16), Failure> {
    let bad_port = |p: &str| Failure::usage(format!("invalid port {p:?} in {target:?}"));
    if let Some(rest) = target.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| Failure::usage(format!("missing ']' in {target:?}")))?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad_port(p))?,
            None if after.is_empty() => default_port,
            None => {
                return Err(Failure::usage(format!(
                    "unexpected {after:?} after ']' in {target:?}"
                )));
            }
        };
        return Ok((host.to_owned(), port));
    }
    match target.matches(':').count() {
        0 => Ok((target.to_owned(), default_port)),
        1 => {
            let (host, p) = target.split_once(':').unwrap_or((target, ""));
            Ok((host.to_owned(), p.parse().map_err(|_| bad_port(p))?))
        }
        _ => Ok((target.to_owned(), default_port)),
    }
    .and_then(|(host, port)| {
        if host.is_empty() {
            Err(Failure::usage(format!("no host in {target:?}")))
        } else {
            Ok((host, port))
        }
    })
}

struct Session<'a> {
    args: &'a Args,
    host: &'a str,
    port: u16,
    tls: Option<Arc<rustls::ClientConfig>>,
    mechanism: Mechanism,
    password: &'a str,
}

/// What the server-first-message says, for the report.
fn describe_server_first(
    report: &mut Report,
    packet: &str,
    rtt: Duration,
    data: &[u8],
    client_first: &[u8],
    method: &str,
) {
    let client_nonce = ClientFirst::parse(client_first, DEFAULT_MAX_MESSAGE_LEN)
        .map(|c| c.nonce().to_owned())
        .ok();
    match ServerFirst::parse(data, DEFAULT_MAX_MESSAGE_LEN) {
        Ok(first) => {
            let nonce_ok = client_nonce
                .as_deref()
                .is_some_and(|c| first.nonce().len() > c.len() && first.nonce().starts_with(c));
            report.step(
                "server_first",
                format!(
                    "{packet} received: mechanism {method}, iterations {}, salt {} bytes, nonce {} ({} ms)",
                    first.iterations(),
                    first.salt().len(),
                    if nonce_ok { "extends ours: ok" } else { "does NOT extend ours" },
                    ms(rtt)
                ),
                json!({ "packet": packet, "method": method, "iterations": first.iterations(),
                        "salt_len": first.salt().len(), "nonce_ok": nonce_ok, "rtt_ms": ms(rtt) }),
            );
        }
        Err(e) => report.step(
            "server_first",
            format!("{packet} received: mechanism {method}, unreadable server-first-message: {e}"),
            json!({ "packet": packet, "method": method, "error": e.to_string() }),
        ),
    }
}

fn scram_stop(e: ScramError) -> Stop {
    match e {
        ScramError::IterationCountOutOfRange {
            iterations, min, ..
        } if iterations < min => Stop::protocol(format!(
            "{e} (accept it with --min-iterations {iterations})"
        )),
        ScramError::IterationCountOutOfRange { .. }
        | ScramError::NonceMismatch
        | ScramError::InvalidServerSignature => Stop::protocol(e.to_string()),
        other => Stop::protocol(format!("the server's SCRAM message was refused: {other}")),
    }
}

impl Session<'_> {
    /// Opens the connection; with `--plus`, also returns its `tls-exporter` binding.
    fn connect(
        &self,
        report: &mut Report,
    ) -> Result<(Box<dyn Transport>, Option<ChannelBinding>), Stop> {
        let timeout = Duration::from_secs(self.args.timeout);
        let addrs: Vec<SocketAddr> = (self.host, self.port)
            .to_socket_addrs()
            .map_err(|e| Stop::connection(format!("cannot resolve {}: {e}", self.host)))?
            .collect();
        let began = Instant::now();
        let mut last_error = None;
        let mut tcp = None;
        for addr in &addrs {
            match TcpStream::connect_timeout(addr, timeout) {
                Ok(s) => {
                    tcp = Some((s, *addr));
                    break;
                }
                Err(e) => last_error = Some(e),
            }
        }
        let (tcp, addr) = tcp.ok_or_else(|| {
            let why = last_error.map_or_else(|| "no address".to_owned(), |e| e.to_string());
            Stop::connection(format!(
                "cannot connect to {}:{}: {why}",
                self.host, self.port
            ))
        })?;
        let set =
            |r: std::io::Result<()>| r.map_err(|e| Stop::connection(format!("socket setup: {e}")));
        set(tcp.set_read_timeout(Some(timeout)))?;
        set(tcp.set_write_timeout(Some(timeout)))?;
        set(tcp.set_nodelay(true))?;
        let tcp_time = began.elapsed();
        report.time("tcp_connect", tcp_time);
        report.step(
            "tcp_connected",
            format!("TCP connected to {addr} ({} ms)", ms(tcp_time)),
            json!({ "peer": addr.to_string(), "rtt_ms": ms(tcp_time) }),
        );
        let Some(config) = &self.tls else {
            return Ok((Box::new(tcp), None));
        };
        let name = self.args.server_name.as_deref().unwrap_or(self.host);
        let tls = tls::handshake(Arc::clone(config), name, tcp, self.args.plus)?;
        let tls_time = began.elapsed().saturating_sub(tcp_time);
        report.time("tls_handshake", tls_time);
        report.set("tls_version", json!(tls.version));
        report.step(
            "tls_handshake",
            format!("TLS handshake done: {} ({} ms)", tls.version, ms(tls_time)),
            json!({ "version": tls.version, "rtt_ms": ms(tls_time) }),
        );
        let binding = match tls.binding {
            None => None,
            Some(Ok(binding)) => {
                let kind = binding.kind().name();
                report.set("channel_binding", json!(kind));
                report.step(
                    "channel_binding",
                    format!(
                        "channel binding: {kind}, {} bytes from the TLS connection (RFC 9266)",
                        binding.data().len()
                    ),
                    json!({ "type": kind, "data_len": binding.data().len() }),
                );
                Some(binding)
            }
            Some(Err(message)) => {
                report.step(
                    "channel_binding",
                    format!("channel binding: none ({message})"),
                    json!({ "type": Value::Null, "error": message }),
                );
                return Err(Stop::protocol(message));
            }
        };
        Ok((tls.stream, binding))
    }

    fn run(&self, report: &mut Report) -> Result<(), Stop> {
        let (stream, binding) = self.connect(report)?;
        let mut link = Link::new(stream);
        let config =
            ClientConfig::new().iteration_window(self.args.min_iterations..=MAX_ITERATIONS);
        // The client keeps the binding for re-authentication on this connection.
        let options = ClientOptions {
            authzid: None,
            channel_binding: binding.as_ref(),
        };
        let (state, client_first) = client::start_with(
            &config,
            self.mechanism,
            &self.args.user,
            self.password,
            options,
            &mut rand::rng(),
        )
        .map_err(|e| Stop {
            verdict: Verdict::ProtocolError,
            message: format!("cannot start SCRAM: {e}"),
        })?;
        let client_id = self
            .args
            .client_id
            .clone()
            .unwrap_or_else(|| format!("mqtt-scram-probe-{}", std::process::id()));
        let connect = Connect::builder()
            .client_id(client_id.as_str())
            .map_err(|e| Stop::protocol(format!("invalid client id: {e:?}")))?
            .clean_start(true)
            .keep_alive(60)
            .props(auth_props(self.mechanism, &client_first)?)
            .build()
            .map_err(|e| Stop::protocol(format!("cannot build CONNECT: {e:?}")))?;
        link.send(connect)?;
        let sent = Instant::now();
        let cbind = binding.as_ref().map(|b| b.kind().name());
        report.step(
            "connect_sent",
            format!("CONNECT sent: client id {client_id}, method {}{}, client-first {} bytes", self.mechanism, binding_note(cbind), client_first.len()),
            json!({ "packet": "CONNECT", "client_id": client_id, "method": self.mechanism.name(), "channel_binding": cbind, "data_len": client_first.len() }),
        );

        // AUTH 0x18 (server-first) or an early CONNACK (bad method, banned, ...).
        let packet = link.recv("AUTH or CONNACK")?;
        let rtt = sent.elapsed();
        report.time("server_first_rtt", rtt);
        let server_first = match packet {
            GenericPacket::V5_0Auth(auth) => {
                self.expect_continue(report, &auth, "AUTH 0x18", rtt, &client_first)?
            }
            GenericPacket::V5_0Connack(ack) => {
                let code = ack.reason_code() as u8;
                return Err(self.early_connack(report, code, auth_of(Some(&ack.props)).1));
            }
            GenericPacket::V5_0Disconnect(d) => return Err(disconnected(report, &d)),
            other => {
                return Err(Stop::protocol(format!(
                    "expected AUTH or CONNACK, got {}",
                    other.packet_type()
                )));
            }
        };
        let began = Instant::now();
        let (state, client_final) = state.on_server_first(&server_first).map_err(scram_stop)?;
        let proof_time = began.elapsed();
        report.time("client_proof", proof_time);
        let auth = build_auth(
            AuthReasonCode::ContinueAuthentication,
            self.mechanism,
            &client_final,
        )?;
        link.send(auth)?;
        let sent = Instant::now();
        report.step(
            "client_final_sent",
            format!("AUTH 0x18 sent: client-final {} bytes (proof computed in {} ms)", client_final.len(), ms(proof_time)),
            json!({ "packet": "AUTH", "reason_code": 0x18, "data_len": client_final.len(), "proof_ms": ms(proof_time) }),
        );

        let packet = link.recv("CONNACK")?;
        let rtt = sent.elapsed();
        report.time("connack_rtt", rtt);
        let ack = match packet {
            GenericPacket::V5_0Connack(ack) => ack,
            GenericPacket::V5_0Disconnect(d) => return Err(disconnected(report, &d)),
            other => {
                return Err(Stop::protocol(format!(
                    "expected CONNACK, got {}",
                    other.packet_type()
                )));
            }
        };
        let code = ack.reason_code() as u8;
        let (method, data) = auth_of(Some(&ack.props));
        report.set(
            "connack",
            json!({ "reason_code": code, "name": reason_name(code) }),
        );
        report.step(
            "connack",
            format!("CONNACK 0x{code:02X} {} received ({} ms){}", reason_name(code), ms(rtt), server_data_note(data.as_deref())),
            json!({ "packet": "CONNACK", "reason_code": code, "name": reason_name(code), "rtt_ms": ms(rtt),
                    "server_final": data.as_deref().map(String::from_utf8_lossy) }),
        );
        if code != 0 {
            return Err(Stop::rejected(format!(
                "CONNACK 0x{code:02X} {}",
                reason_name(code)
            )));
        }
        self.check_method(method.as_deref(), "CONNACK")?;
        let authenticated =
            self.check_signature(report, state, data.as_deref(), "server_signature_verified")?;

        if self.args.reauth {
            self.reauthenticate(report, &mut link, authenticated, cbind)?;
        }
        let bye = Disconnect::builder()
            .reason_code(DisconnectReasonCode::NormalDisconnection)
            .build();
        if let Ok(bye) = bye {
            let _ = link.send(bye);
        }
        Ok(())
    }

    fn reauthenticate(
        &self,
        report: &mut Report,
        link: &mut Link,
        state: client::Authenticated,
        cbind: Option<&str>,
    ) -> Result<(), Stop> {
        // Same client session, so the same channel binding as the first login.
        let (state, client_first) = state.reauthenticate(&mut rand::rng());
        link.send(build_auth(
            AuthReasonCode::ReAuthenticate,
            self.mechanism,
            &client_first,
        )?)?;
        let sent = Instant::now();
        report.step(
            "reauth_sent",
            format!(
                "AUTH 0x19 sent: re-authentication, method {}{}, client-first {} bytes",
                self.mechanism,
                binding_note(cbind),
                client_first.len()
            ),
            json!({ "packet": "AUTH", "reason_code": 0x19, "method": self.mechanism.name(),
                    "channel_binding": cbind, "data_len": client_first.len() }),
        );
        let rtt;
        let server_first = match link.recv("AUTH 0x18 (re-authentication)")? {
            GenericPacket::V5_0Auth(auth) => {
                rtt = sent.elapsed();
                self.expect_continue(report, &auth, "AUTH 0x18", rtt, &client_first)?
            }
            GenericPacket::V5_0Disconnect(d) => return Err(disconnected(report, &d)),
            other => {
                return Err(Stop::protocol(format!(
                    "expected AUTH, got {}",
                    other.packet_type()
                )));
            }
        };
        report.time("reauth_server_first_rtt", rtt);
        let (state, client_final) = state.on_server_first(&server_first).map_err(scram_stop)?;
        link.send(build_auth(
            AuthReasonCode::ContinueAuthentication,
            self.mechanism,
            &client_final,
        )?)?;
        let sent = Instant::now();
        report.step(
            "reauth_client_final_sent",
            format!("AUTH 0x18 sent: client-final {} bytes", client_final.len()),
            json!({ "packet": "AUTH", "reason_code": 0x18, "data_len": client_final.len() }),
        );
        let auth = match link.recv("AUTH 0x00 (re-authentication result)")? {
            GenericPacket::V5_0Auth(auth) => auth,
            GenericPacket::V5_0Disconnect(d) => return Err(disconnected(report, &d)),
            other => {
                return Err(Stop::protocol(format!(
                    "expected AUTH, got {}",
                    other.packet_type()
                )));
            }
        };
        let rtt = sent.elapsed();
        report.time("reauth_result_rtt", rtt);
        let code = auth.reason_code().map_or(0, |c| c as u8);
        let (method, data) = auth_of(auth.props.as_ref());
        report.step(
            "reauth_result",
            format!("AUTH 0x{code:02X} {} received ({} ms){}", reason_name(code), ms(rtt), server_data_note(data.as_deref())),
            json!({ "packet": "AUTH", "reason_code": code, "name": reason_name(code), "rtt_ms": ms(rtt) }),
        );
        if code != 0 {
            return Err(Stop::protocol(format!(
                "expected AUTH 0x00 after re-authentication, got 0x{code:02X}"
            )));
        }
        self.check_method(method.as_deref(), "AUTH")?;
        self.check_signature(
            report,
            state,
            data.as_deref(),
            "reauth_server_signature_verified",
        )?;
        report.set("reauthenticated", json!(true));
        Ok(())
    }

    fn expect_continue(
        &self,
        report: &mut Report,
        auth: &Auth,
        label: &str,
        rtt: Duration,
        client_first: &[u8],
    ) -> Result<Vec<u8>, Stop> {
        let code = auth.reason_code().map_or(0, |c| c as u8);
        if code != 0x18 {
            return Err(Stop::protocol(format!(
                "expected AUTH 0x18, got AUTH 0x{code:02X} {}",
                reason_name(code)
            )));
        }
        let (method, data) = auth_of(auth.props.as_ref());
        self.check_method(method.as_deref(), "AUTH")?;
        let data = data.ok_or_else(|| Stop::protocol("AUTH 0x18 without Authentication Data"))?;
        describe_server_first(
            report,
            label,
            rtt,
            &data,
            client_first,
            self.mechanism.name(),
        );
        Ok(data)
    }

    fn check_method(&self, method: Option<&str>, packet: &str) -> Result<(), Stop> {
        match method {
            Some(m) if m == self.mechanism.name() => Ok(()),
            Some(m) => Err(Stop::protocol(format!(
                "{packet} has Authentication Method {m:?}, not {} [MQTT-4.12.0-5]",
                self.mechanism
            ))),
            None => Err(Stop::protocol(format!(
                "{packet} has no Authentication Method [MQTT-4.12.0-5]"
            ))),
        }
    }

    fn early_connack(&self, report: &mut Report, code: u8, data: Option<Vec<u8>>) -> Stop {
        report.set(
            "connack",
            json!({ "reason_code": code, "name": reason_name(code) }),
        );
        report.step(
            "connack",
            format!(
                "CONNACK 0x{code:02X} {} received before any challenge{}",
                reason_name(code),
                server_data_note(data.as_deref())
            ),
            json!({ "packet": "CONNACK", "reason_code": code, "name": reason_name(code) }),
        );
        if code == 0 {
            Stop::protocol(
                "CONNACK 0x00 without a SCRAM exchange: the broker did not authenticate with SCRAM",
            )
        } else {
            Stop::rejected(format!("CONNACK 0x{code:02X} {}", reason_name(code)))
        }
    }

    fn check_signature(
        &self,
        report: &mut Report,
        state: client::AwaitingServerFinal,
        data: Option<&[u8]>,
        field: &str,
    ) -> Result<client::Authenticated, Stop> {
        let Some(data) = data else {
            report.set(field, json!(false));
            report.step(
                "server_signature",
                "server signature: missing (no Authentication Data)".into(),
                json!({ "verified": false }),
            );
            return Err(Stop::protocol(
                "success without a server-final-message: the server did not prove it knows the credentials",
            ));
        };
        match state.on_server_final(data) {
            Ok(done) => {
                report.set(field, json!(true));
                report.step(
                    "server_signature",
                    "server signature: verified".into(),
                    json!({ "verified": true }),
                );
                Ok(done)
            }
            Err(e) => {
                report.set(field, json!(false));
                report.step(
                    "server_signature",
                    format!("server signature: NOT verified ({e})"),
                    json!({ "verified": false, "error": e.to_string() }),
                );
                Err(Stop::protocol(format!(
                    "server signature not verified: {e}"
                )))
            }
        }
    }
}

fn disconnected(report: &mut Report, d: &Disconnect) -> Stop {
    let code = d.reason_code().map_or(0, |c| c as u8);
    report.step(
        "disconnect",
        format!("DISCONNECT 0x{code:02X} {} received", reason_name(code)),
        json!({ "packet": "DISCONNECT", "reason_code": code, "name": reason_name(code) }),
    );
    match code {
        0x87 | 0x86 | 0x8C | 0x8A => {
            Stop::rejected(format!("DISCONNECT 0x{code:02X} {}", reason_name(code)))
        }
        _ => Stop::protocol(format!("DISCONNECT 0x{code:02X} {}", reason_name(code))),
    }
}

/// `, channel binding NAME` when the exchange is bound to the TLS connection.
fn binding_note(cbind: Option<&str>) -> String {
    cbind.map_or_else(String::new, |name| format!(", channel binding {name}"))
}

fn server_data_note(data: Option<&[u8]>) -> String {
    match data.map(String::from_utf8_lossy) {
        Some(text) if text.starts_with("e=") => format!(", server error {text}"),
        _ => String::new(),
    }
}
