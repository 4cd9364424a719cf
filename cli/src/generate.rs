//! `gen`: derive credentials for one user (password from a prompt, stdin or the environment)
//! or for every row of a CSV file, in parallel.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mqtt_scram::credentials::DEFAULT_ITERATIONS;

use crate::batch::{Derivation, Row, prepare_username, read_rows, source_name};
use crate::formats::{self, Batch, Format};
use crate::password::Source;
use crate::{Failure, Hash, Status, checks, emit, warn};

/// `gen` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Single user: `mqtt-scram gen --user alice` prompts twice for the password (no echo).
Batch: `--from-csv FILE` reads `username,password[,is_superuser]` rows (header optional,
RFC 4180 quoting, `-` for stdin) and derives all users on all cores, with a progress bar
on a terminal and a one-line summary on stderr at the end. A bad row stops the batch with
its line number before anything is written.
Warns (stderr) about records a default server ignores (RecordPolicy: iterations
4096..=1000000, salt 8..=64 bytes) and counts a default client refuses; refuses
`--mechanism sha512 --format postgres` (PostgreSQL only knows SCRAM-SHA-256).")]
#[command(group(clap::ArgGroup::new("who").required(true).args(["user", "from_csv"])))]
pub struct Args {
    /// Username (single-user mode; not with --from-csv).
    #[arg(long, short = 'u')]
    user: Option<String>,

    /// SCRAM hash (repeat for both: `-m sha256 -m sha512` writes one record per hash).
    #[arg(long, short = 'm', value_enum, default_value = "sha256")]
    mechanism: Vec<Hash>,

    /// PBKDF2 iteration count (at least 4096 unless --allow-weak).
    #[arg(long, short = 'i', default_value_t = DEFAULT_ITERATIONS, value_parser = clap::value_parser!(u32).range(1..))]
    iterations: u32,

    /// Accept an iteration count below 4096 (RFC 7677 minimum). For tests only.
    #[arg(long)]
    allow_weak: bool,

    /// Use this salt (hex) instead of 16 random bytes, for reproducible output.
    #[arg(long, value_name = "HEX")]
    salt_hex: Option<String>,

    /// Mark the user(s) as superuser (a CSV row's third column overrides it).
    #[arg(long)]
    is_superuser: bool,

    /// Client attribute KEY=VALUE (repeatable), for every generated user.
    #[arg(long = "attr", value_name = "KEY=VALUE", value_parser = parse_attr)]
    attrs: Vec<(String, String)>,

    /// Derive every user of a CSV file (`username,password[,is_superuser]`; `-` = stdin).
    #[arg(long, value_name = "FILE")]
    from_csv: Option<PathBuf>,

    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "json")]
    format: Format,

    /// Layout of a batch in the JSON formats (emqx, postgres, json).
    #[arg(long, value_enum, default_value = "array")]
    batch: Batch,

    /// Worker threads for a batch (default: all cores).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,

    /// Write to FILE (atomically, only on success) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,

    /// No progress bar and no summary for a batch (warnings and errors are still printed).
    #[arg(long, short = 'q')]
    quiet: bool,

    #[command(flatten)]
    password: Source,
}

fn parse_attr(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!(
            "expected KEY=VALUE with a non-empty KEY, got {s:?}"
        )),
    }
}

pub fn run(mut args: Args) -> Result<Status, Failure> {
    if args.iterations < DEFAULT_ITERATIONS && !args.allow_weak {
        return Err(Failure::usage(format!(
            "--iterations {} is below 4096, the RFC 7677 minimum; pass --allow-weak to use it anyway",
            args.iterations
        )));
    }
    // One record per hash, in the order given, each hash once.
    let mut hashes: Vec<Hash> = Vec::with_capacity(args.mechanism.len());
    for hash in &args.mechanism {
        if !hashes.contains(hash) {
            hashes.push(*hash);
        }
    }
    if args.format == Format::Postgres && hashes.iter().any(|h| *h != Hash::Sha256) {
        // Checked again on the derived records; refused here before asking for a password.
        return Err(checks::postgres_refusal(args.user.as_deref()));
    }
    let salt = match &args.salt_hex {
        None => None,
        Some(h) => {
            let salt =
                hex::decode(h.trim()).map_err(|_| Failure::usage("--salt-hex is not valid hex"))?;
            if salt.is_empty() {
                return Err(Failure::usage("--salt-hex is empty"));
            }
            Some(salt)
        }
    };
    let derivations: Vec<Derivation> = hashes
        .iter()
        .map(|hash| Derivation {
            hash: (*hash).into(),
            iterations: args.iterations,
            salt: salt.clone(),
            attrs: args.attrs.iter().cloned().collect::<BTreeMap<_, _>>(),
        })
        .collect();
    let (entries, batch) = match args.from_csv.clone() {
        None => {
            let username = prepare_username(args.user.as_deref().unwrap_or_default())
                .map_err(Failure::usage)?;
            let password = args.password.read(true)?;
            let row = Row {
                line: 0,
                username,
                password,
                is_superuser: args.is_superuser,
            };
            let entries = derivations
                .iter()
                .map(|derivation| derivation.derive(&row))
                .collect::<Result<Vec<_>, _>>()?;
            (entries, None)
        }
        Some(path) => {
            if args.password.password_stdin
                || args.password.password_env.is_some()
                || args.password.password.is_some()
            {
                return Err(Failure::usage(
                    "--from-csv takes passwords from the CSV; drop the password option",
                ));
            }
            if salt.is_some() {
                warn("--salt-hex with --from-csv gives every user the same salt");
            }
            let rows = read_rows(&path, args.is_superuser)?;
            let source = source_name(&path);
            let mut entries = Vec::with_capacity(rows.len() * derivations.len());
            for derivation in &derivations {
                let (mut derived, took) =
                    derivation.derive_all(&source, &rows, args.threads, !args.quiet)?;
                if !args.quiet {
                    summary(derivation, derived.len(), took, args.output.as_deref());
                }
                entries.append(&mut derived);
            }
            (entries, Some(args.batch))
        }
    };
    checks::refuse(&entries, args.format)?;
    checks::warn_before_writing(&entries, args.format);
    let text = formats::render(&entries, args.format, batch)?;
    match &args.output {
        None => emit(&text)?,
        Some(path) => write_atomically(path, &text)?,
    }
    Ok(Status::Ok)
}

/// One line on stderr at the end of a batch.
fn summary(derivation: &Derivation, users: usize, took: Duration, output: Option<&Path>) {
    let secs = took.as_secs_f64();
    let rate = if secs > 0.0 {
        format!(", {:.0} users/s", users as f64 / secs)
    } else {
        String::new()
    };
    let to = output.map_or_else(String::new, |p| format!(" -> {}", p.display()));
    crate::note(format!(
        "derived {users} user{} ({}, {} iterations) in {secs:.2} s{rate}{to}",
        if users == 1 { "" } else { "s" },
        derivation.hash.mechanism().name(),
        derivation.iterations,
    ));
}

/// Writes `text` to a temporary file next to `path` and renames it into place. A new file
/// is readable by its owner only (it holds StoredKeys and ServerKeys); an existing one keeps
/// its permissions.
pub(crate) fn write_atomically(path: &Path, text: &str) -> Result<(), Failure> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let fail = |e: std::io::Error| Failure::usage(format!("cannot write {}: {e}", path.display()));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        if let Ok(meta) = std::fs::metadata(path) {
            file.set_permissions(meta.permissions())?;
        }
        std::io::Write::write_all(&mut file, text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })
}
