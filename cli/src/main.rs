//! `mqtt-scram`: derive, verify and convert SCRAM credentials, and probe an MQTT 5 broker's
//! SCRAM enhanced authentication. Machine output goes to stdout, messages to stderr.

mod batch;
mod checks;
mod convert;
mod export;
mod formats;
mod generate;
mod import;
mod password;
mod probe;
mod serve;
mod verify;

use std::fmt;
use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use mqtt_scram::HashAlgorithm;

const EXIT_CODES: &str = "\
Exit codes:
  0  success: credentials written, password matches, broker accepted
  1  no match: password does not match (verify), broker rejected the login (probe)
  2  usage, input or format error (bad flag, unreadable file, malformed record or CSV row)
  3  protocol error: the broker broke the MQTT 5 / SCRAM exchange (probe)
  4  connection error: TCP, TLS, timeout or closed connection (probe)
  5  partial: export skipped records it cannot decode (each named in a warning)";

const EXAMPLES: &str = "\
Examples:
  # One user, password prompted twice without echo, a JSON record for the file store:
  mqtt-scram gen --user alice
  # EMQX HTTP-service body:
  mqtt-scram gen --user alice --format emqx
  # Reproducible PostgreSQL verifier, password from stdin:
  printf 'pencil\\n' | mqtt-scram gen --user user --password-stdin \\
      --salt-hex 5b6d99689d12358eeca04b141236fa81 --format postgres
  # Many users from CSV (username,password[,is_superuser]), all cores, JSON lines:
  mqtt-scram gen --from-csv users.csv --format json --batch lines -o users.jsonl
  # Does the password match alice's record? (exit 0 yes, 1 no)
  mqtt-scram verify users.jsonl --user alice
  # EMQX hex body to a PostgreSQL verifier:
  mqtt-scram convert emqx.json --to postgres
  # Log in to a broker with SCRAM, re-authenticate, show each step:
  mqtt-scram probe broker.example:8883 --tls --user alice --reauth
  # The same with SCRAM-SHA-256-PLUS, bound to the TLS 1.3 connection (tls-exporter):
  mqtt-scram probe broker.example:8883 --tls --plus --user alice --reauth
  # The auth service for EMQX 5/4, amqtt and VerneMQ (SIGHUP reloads, SIGTERM stops):
  mqtt-scram serve --config service.toml";

/// Derive, verify and convert SCRAM-SHA-256/512 credentials for MQTT 5 enhanced
/// authentication, and probe a broker's SCRAM login.
///
/// Records and reports go to stdout; errors, warnings and batch summaries to stderr. The
/// username is `-u/--user` in every subcommand.
/// Passwords are never taken from the command line unless `--password` is used (which warns):
/// they come from a prompt without echo, from `--password-stdin`, or from `--password-env VAR`.
#[derive(Debug, Parser)]
#[command(name = "mqtt-scram", version, after_long_help = format!("{EXAMPLES}\n\n{EXIT_CODES}"), after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Derive SCRAM credentials (StoredKey, ServerKey, salt) for one user or a CSV of users.
    Gen(generate::Args),
    /// Check a password against a stored record (any supported format, auto-detected).
    Verify(verify::Args),
    /// Convert records between the emqx, postgres, json and csv formats.
    Convert(convert::Args),
    /// Log in to an MQTT 5 broker with SCRAM and report every step.
    Probe(probe::Args),
    /// Load users (passwords or stored records) into PostgreSQL or Redis.
    Import(import::Args),
    /// Read users back from PostgreSQL or Redis in any format.
    Export(export::Args),
    /// Run the auth service for EMQX 5, EMQX 4, amqtt and VerneMQ (HTTP, foreground).
    Serve(serve::Args),
}

/// SCRAM hash, as `--mechanism` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Hash {
    /// SCRAM-SHA-256 (RFC 7677).
    #[value(name = "sha256", alias = "SCRAM-SHA-256", alias = "sha-256")]
    Sha256,
    /// SCRAM-SHA-512.
    #[value(name = "sha512", alias = "SCRAM-SHA-512", alias = "sha-512")]
    Sha512,
}

impl From<Hash> for HashAlgorithm {
    fn from(h: Hash) -> Self {
        match h {
            Hash::Sha256 => HashAlgorithm::Sha256,
            Hash::Sha512 => HashAlgorithm::Sha512,
        }
    }
}

/// Process exit status; see [`EXIT_CODES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// 0.
    Ok,
    /// 1: password mismatch, login rejected.
    NoMatch,
    /// 2: usage, input or format error.
    Usage,
    /// 3: the peer broke the protocol.
    Protocol,
    /// 4: could not talk to the peer.
    Connection,
    /// 5: `export` wrote what it could read and skipped records it cannot decode.
    Partial,
}

impl Status {
    fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::NoMatch => 1,
            Status::Usage => 2,
            Status::Protocol => 3,
            Status::Connection => 4,
            Status::Partial => 5,
        }
    }
}

/// An error to print on stderr and the status to exit with.
#[derive(Debug)]
pub struct Failure {
    /// Exit status.
    pub status: Status,
    /// One-line message (no trailing newline, never a secret).
    pub message: String,
}

impl Failure {
    /// A usage, input or format error (exit 2).
    pub fn usage(message: impl fmt::Display) -> Self {
        Self {
            status: Status::Usage,
            message: message.to_string(),
        }
    }
}

/// Prints a warning on stderr.
pub fn warn(message: impl fmt::Display) {
    let _ = writeln!(std::io::stderr().lock(), "mqtt-scram: warning: {message}");
}

/// Prints an informational message (a batch summary) on stderr.
pub fn note(message: impl fmt::Display) {
    let _ = writeln!(std::io::stderr().lock(), "mqtt-scram: {message}");
}

/// Writes `text` to stdout in one go; a closed pipe is not an error worth a message.
pub fn emit(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::usage(format!("cannot write to stdout: {e}"))),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Gen(args) => generate::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Probe(args) => probe::run(args),
        Command::Import(args) => import::run(args),
        Command::Export(args) => export::run(args),
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(status) => ExitCode::from(status.code()),
        Err(failure) => {
            let _ = writeln!(std::io::stderr().lock(), "mqtt-scram: {}", failure.message);
            ExitCode::from(failure.status.code())
        }
    }
}
