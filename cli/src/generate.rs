//! `gen`: derive credentials for one user (password from a prompt, stdin or the environment)
//! or for every row of a CSV file, in parallel.

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mqtt_scram::HashAlgorithm;
use mqtt_scram::credentials::{DEFAULT_ITERATIONS, StoredCredentials};
use mqtt_scram::provider::UserRecord;
use mqtt_scram::saslprep::{Mode, saslprep};
use rayon::prelude::*;
use zeroize::Zeroizing;

use crate::formats::{self, Batch, Entry, Format};
use crate::password::Source;
use crate::{Failure, Hash, Status, emit, warn};

/// `gen` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Single user: `mqtt-scram gen alice` prompts twice for the password (no echo).
Batch: `--from-csv FILE` reads `username,password[,is_superuser]` rows (header optional,
RFC 4180 quoting, `-` for stdin) and derives all users on all cores. A bad row stops the
batch with its line number before anything is written.")]
pub struct Args {
    /// Username (single-user mode; not with --from-csv).
    #[arg(required_unless_present = "from_csv", conflicts_with = "from_csv")]
    username: Option<String>,

    /// SCRAM hash.
    #[arg(long, short = 'm', value_enum, default_value = "sha256")]
    mechanism: Hash,

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

/// One CSV row: username, password (zeroized on drop), superuser flag, and where it was.
///
/// The file's bytes and every password are held in zeroizing buffers. The `csv` reader's own
/// record buffer (one reused `ByteRecord`) is not wiped: it keeps the last row read.
struct Row {
    line: u64,
    username: String,
    password: Zeroizing<String>,
    is_superuser: bool,
}

pub fn run(mut args: Args) -> Result<Status, Failure> {
    if args.iterations < DEFAULT_ITERATIONS && !args.allow_weak {
        return Err(Failure::usage(format!(
            "--iterations {} is below 4096, the RFC 7677 minimum; pass --allow-weak to use it anyway",
            args.iterations
        )));
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
    let hash: HashAlgorithm = args.mechanism.into();
    let attrs: BTreeMap<String, String> = args.attrs.iter().cloned().collect();
    let entries = match args.from_csv.clone() {
        None => {
            let username = prepare_username(args.username.as_deref().unwrap_or_default())
                .map_err(Failure::usage)?;
            let password = args.password.read(true)?;
            let row = Row {
                line: 0,
                username,
                password,
                is_superuser: args.is_superuser,
            };
            vec![derive(
                &row,
                hash,
                args.iterations,
                salt.as_deref(),
                &attrs,
            )?]
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
            derive_all(
                &rows,
                hash,
                args.iterations,
                salt.as_deref(),
                &attrs,
                args.threads,
            )?
        }
    };
    let batch = args.from_csv.is_some().then_some(args.batch);
    let text = formats::render(&entries, args.format, batch)?;
    match &args.output {
        None => emit(&text)?,
        Some(path) => write_atomically(path, &text)?,
    }
    Ok(Status::Ok)
}

fn derive(
    row: &Row,
    hash: HashAlgorithm,
    iterations: u32,
    salt: Option<&[u8]>,
    attrs: &BTreeMap<String, String>,
) -> Result<Entry, Failure> {
    let credentials = match salt {
        Some(salt) => StoredCredentials::derive(hash, &row.password, salt, iterations),
        None => StoredCredentials::generate(hash, &row.password, iterations, &mut rand::rng()),
    };
    let credentials = credentials.map_err(|e| {
        if row.line == 0 {
            Failure::usage(e)
        } else {
            Failure::usage(format!("line {}: {e}", row.line))
        }
    })?;
    let record = UserRecord::new(credentials)
        .superuser(row.is_superuser)
        .client_attrs(attrs.clone());
    Ok(Entry {
        username: Some(row.username.clone()),
        record,
    })
}

fn derive_all(
    rows: &[Row],
    hash: HashAlgorithm,
    iterations: u32,
    salt: Option<&[u8]>,
    attrs: &BTreeMap<String, String>,
    threads: Option<u16>,
) -> Result<Vec<Entry>, Failure> {
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        pool = pool.num_threads(usize::from(n));
    }
    let pool = pool
        .build()
        .map_err(|e| Failure::usage(format!("cannot start worker threads: {e}")))?;
    let progress = if std::io::stderr().is_terminal() {
        let bar =
            ProgressBar::with_draw_target(Some(rows.len() as u64), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {pos}/{len} users {per_sec} eta {eta}")
        {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let result = pool.install(|| {
        rows.par_iter()
            .map(|row| {
                let entry = derive(row, hash, iterations, salt, attrs);
                progress.inc(1);
                entry
            })
            .collect::<Result<Vec<_>, _>>()
    });
    progress.finish_and_clear();
    result
}

fn read_input(path: &Path) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let mut bytes = Zeroizing::new(Vec::new());
    let name = path.display();
    if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(|e| Failure::usage(format!("cannot read stdin: {e}")))?;
    } else {
        let mut file = std::fs::File::open(path)
            .map_err(|e| Failure::usage(format!("cannot open {name}: {e}")))?;
        file.read_to_end(&mut bytes)
            .map_err(|e| Failure::usage(format!("cannot read {name}: {e}")))?;
    }
    Ok(bytes)
}

/// Reads `username,password[,is_superuser]` rows. The first row is a header when it reads
/// `username,password...`. Every problem names its line.
fn read_rows(path: &Path, default_superuser: bool) -> Result<Vec<Row>, Failure> {
    let bytes = read_input(path)?;
    let name = path.display();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes.as_slice());
    let mut record = csv::ByteRecord::new();
    let mut rows: Vec<Row> = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut first = true;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                return Err(Failure::usage(format!("{name}: line {line}: {e}")));
            }
        }
        let line = record.position().map_or(0, csv::Position::line);
        let bad =
            |what: &dyn std::fmt::Display| Failure::usage(format!("{name}: line {line}: {what}"));
        let field = |i: usize| -> Result<&str, Failure> {
            std::str::from_utf8(record.get(i).unwrap_or_default())
                .map_err(|_| bad(&"not valid UTF-8"))
        };
        if first {
            first = false;
            let is_header = field(0)?.trim().eq_ignore_ascii_case("username")
                && field(1)?.trim().eq_ignore_ascii_case("password");
            if is_header {
                continue;
            }
        }
        if record.len() == 1
            && record
                .get(0)
                .is_some_and(|f| f.iter().all(u8::is_ascii_whitespace))
        {
            continue;
        }
        if !(2..=3).contains(&record.len()) {
            return Err(bad(&format!(
                "expected username,password[,is_superuser], found {} fields",
                record.len()
            )));
        }
        let username = prepare_username(field(0)?).map_err(|e| bad(&e))?;
        let username = username.as_str();
        let password = Zeroizing::new(field(1)?.to_owned());
        if password.is_empty() {
            return Err(bad(&format!("empty password for {username:?}")));
        }
        let is_superuser = match field(2)?.trim().to_ascii_lowercase().as_str() {
            "" if record.len() == 2 => default_superuser,
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" | "" => false,
            other => {
                return Err(bad(&format!(
                    "is_superuser must be true or false, not {other:?}"
                )));
            }
        };
        if let Some(earlier) = seen.insert(username.to_owned(), line) {
            return Err(bad(&format!(
                "duplicate username {username:?} (first on line {earlier})"
            )));
        }
        rows.push(Row {
            line,
            username: username.to_owned(),
            password,
            is_superuser,
        });
    }
    if rows.is_empty() {
        return Err(Failure::usage(format!("{name}: no users in the CSV file")));
    }
    Ok(rows)
}

/// The username as the server will look it up: SASLprep'd as a query (RFC 5802 §5.1).
fn prepare_username(raw: &str) -> Result<String, String> {
    if raw.is_empty() {
        return Err("empty username".into());
    }
    match saslprep(raw, Mode::Query) {
        Ok(u) if u.is_empty() => Err(format!("username {raw:?} is empty after SASLprep")),
        Ok(u) => Ok(u.into_owned()),
        Err(e) => Err(format!("username {raw:?} failed SASLprep: {e}")),
    }
}

/// Writes `text` to a temporary file next to `path` and renames it into place.
fn write_atomically(path: &Path, text: &str) -> Result<(), Failure> {
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
    std::fs::write(&tmp, text).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })
}
