//! The probe's exchange: connect (TCP, TLS, channel binding), CONNECT with the
//! client-first-message, the client-final-message, CONNACK, and the optional
//! re-authentication on the same connection.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqtt_protocol_core::mqtt::packet::Packet as GenericPacket;
use mqtt_protocol_core::mqtt::packet::v5_0::{Connect, Disconnect};
use mqtt_protocol_core::mqtt::result_code::{AuthReasonCode, DisconnectReasonCode};
use mqtt_scram::client::{self, ClientConfig, ClientOptions};
use mqtt_scram::{ChannelBinding, Mechanism};
use serde_json::{Value, json};

use super::link::{Link, Transport, auth_of, auth_props, build_auth, reason_name};
use super::report::{Report, Verdict, ms};
use super::steps::{binding_note, disconnected, scram_stop, server_data_note};
use super::{Args, Stop, tls};

pub(super) struct Session<'a> {
    pub(super) args: &'a Args,
    pub(super) host: &'a str,
    pub(super) port: u16,
    pub(super) tls: Option<Arc<rustls::ClientConfig>>,
    pub(super) mechanism: Mechanism,
    pub(super) password: &'a str,
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

    pub(super) fn run(&self, report: &mut Report) -> Result<(), Stop> {
        let (stream, binding) = self.connect(report)?;
        let mut link = Link::new(stream);
        let config = ClientConfig::new()
            .iteration_window(self.args.min_iterations..=self.args.max_iterations);
        // The client keeps the binding for re-authentication on this connection.
        let options = ClientOptions::new().channel_binding(binding.as_ref());
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
}
