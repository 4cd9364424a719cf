//! Checking and reporting each packet of the probe's exchange.

use std::time::Duration;

use mqtt_protocol_core::mqtt::packet::v5_0::{Auth, Disconnect};
use mqtt_scram::client;
use mqtt_scram::message::{ClientFirst, DEFAULT_MAX_MESSAGE_LEN, ServerFirst};
use mqtt_scram::{Error as ScramError, ErrorKind};
use serde_json::json;

use super::Stop;
use super::link::{auth_of, reason_name};
use super::report::{Report, ms};
use super::session::Session;

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

pub(super) fn scram_stop(e: ScramError) -> Stop {
    let window = e.iteration_window();
    match (e.kind(), e.iteration_count()) {
        (ErrorKind::IterationCountOutOfRange, Some(iterations))
            if window.is_some_and(|w| iterations < *w.start()) =>
        {
            Stop::protocol(format!(
                "{e} (accept it with --min-iterations {iterations})"
            ))
        }
        (ErrorKind::IterationCountOutOfRange, Some(iterations)) => Stop::protocol(format!(
            "{e} (accept it with --max-iterations {iterations})"
        )),
        (ErrorKind::NonceMismatch | ErrorKind::InvalidServerSignature, _) => {
            Stop::protocol(e.to_string())
        }
        _ => Stop::protocol(format!("the server's SCRAM message was refused: {e}")),
    }
}

impl Session<'_> {
    pub(super) fn expect_continue(
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

    pub(super) fn check_method(&self, method: Option<&str>, packet: &str) -> Result<(), Stop> {
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

    pub(super) fn early_connack(
        &self,
        report: &mut Report,
        code: u8,
        data: Option<Vec<u8>>,
    ) -> Stop {
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

    pub(super) fn check_signature(
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

pub(super) fn disconnected(report: &mut Report, d: &Disconnect) -> Stop {
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
pub(super) fn binding_note(cbind: Option<&str>) -> String {
    cbind.map_or_else(String::new, |name| format!(", channel binding {name}"))
}

pub(super) fn server_data_note(data: Option<&[u8]>) -> String {
    match data.map(String::from_utf8_lossy) {
        Some(text) if text.starts_with("e=") => format!(", server error {text}"),
        _ => String::new(),
    }
}
