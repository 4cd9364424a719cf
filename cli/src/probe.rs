//! `probe`: log in to an MQTT 5 broker with SCRAM as a real client and report each step.
//!
//! Packets are encoded and decoded by `mqtt-protocol-core` (its sans-IO client connection does
//! the framing). rumqttc 0.25 was the first choice, but its `mqttbytes::v5` AUTH packet cannot
//! be used for SCRAM: `AuthReasonCode` and `AuthProperties` are not exported (no AUTH can be
//! built outside the crate), and `AuthProperties` miscounts the property length (string
//! properties are counted without their 2-byte length prefix), so a correct AUTH carrying an
//! Authentication Method does not parse.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use mqtt_scram::HashAlgorithm;
use serde_json::{Value, json};

use crate::checks::CLIENT_WINDOW;
use crate::password::Source;
use crate::{Failure, Hash, Status, emit, warn};

mod link;
mod report;
mod session;
mod steps;
mod tls;

use report::{Report, Verdict};
use session::Session;

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
    /// Broker address, `HOST[:PORT]` (port 1883, or 8883 with --tls; `[IPv6]:PORT`).
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

    /// Lowest iteration count to accept from the broker.
    #[arg(long, value_name = "N", default_value_t = *CLIENT_WINDOW.start(),
          value_parser = clap::value_parser!(u32).range(1..))]
    min_iterations: u32,

    /// Highest iteration count to accept from the broker (a count above it is refused
    /// before any PBKDF2 work, so a hostile broker cannot make the probe burn CPU).
    #[arg(long, value_name = "N", default_value_t = *CLIENT_WINDOW.end(),
          value_parser = clap::value_parser!(u32).range(1..))]
    max_iterations: u32,

    /// Trust the CA certificates in this PEM file instead of the built-in web roots.
    #[arg(long, value_name = "PEM", requires = "tls")]
    ca: Option<PathBuf>,

    /// Do not check the broker's certificate (testing only; `--insecure` is the old name).
    #[arg(
        long = "dangerous-accept-invalid-certs",
        alias = "insecure",
        requires = "tls"
    )]
    insecure: bool,

    /// TLS server name, when it differs from HOST.
    #[arg(long, value_name = "NAME", requires = "tls")]
    server_name: Option<String>,

    /// MQTT client identifier (default: `mqtt-scram-probe-<pid>`).
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
    if args.min_iterations > args.max_iterations {
        return Err(Failure::usage(format!(
            "--min-iterations {} is above --max-iterations {}",
            args.min_iterations, args.max_iterations
        )));
    }
    let password = args.password.read(false)?;
    let (host, port) = split_target(&args.target, if args.tls { 8883 } else { 1883 })?;
    let tls_config = if args.tls {
        Some(tls::client_config(args.ca.as_deref(), args.insecure)?)
    } else {
        None
    };
    if args.insecure {
        warn("--dangerous-accept-invalid-certs: the broker's certificate is not checked");
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
        json!([args.min_iterations, args.max_iterations]),
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
