//! `import`: load users into PostgreSQL (the default schema) or Redis (the default layout),
//! from passwords (`username,password[,is_superuser]` CSV, derived on all cores) or from
//! stored records in any format the tool reads. Everything is read, derived and checked
//! before the first write; writes are batched, idempotent upserts.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mqtt_scram::HashAlgorithm;
use mqtt_scram::credentials::DEFAULT_ITERATIONS;
use mqtt_scram::provider::UserRecord;
use mqtt_scram_stores::config::StoreConfig;
use mqtt_scram_stores::postgres::{
    PostgresConfig, PostgresConfigError, PostgresProvider, PostgresWriter, schema_sql,
};
use mqtt_scram_stores::redis::{
    RedisConfig, RedisConfigError, RedisMode, RedisProvider, RedisWriter,
};
use mqtt_scram_stores::remote::TlsSettings;

use crate::batch::{Derivation, read_rows, source_name};
use crate::formats::{self, Entry, Format, Hints};
use crate::{Failure, Hash, Status, checks, note};

/// Where a store is and how to reach it (shared by `import` and `export`).
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// Table of the default PostgreSQL schema.
    #[arg(long, value_name = "NAME", default_value = mqtt_scram_stores::postgres::DEFAULT_TABLE)]
    pub table: String,

    /// Key prefix of the default Redis layout (`<prefix>:<mechanism>:<username>`).
    #[arg(long, value_name = "PREFIX", default_value = mqtt_scram_stores::redis::DEFAULT_KEY_PREFIX)]
    pub key_prefix: String,

    /// Read the store's password from this environment variable (instead of the URL).
    #[arg(long, value_name = "VAR")]
    pub store_password_env: Option<String>,

    /// Trust this CA (PEM) for the store's TLS instead of the system's roots. TLS to a store
    /// that is not on loopback is verified (chain and host name) by default.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// Allow plaintext to a store that is not on loopback (`sslmode=disable|prefer`,
    /// `redis://`): anyone on the path reads and rewrites the records. Warned about.
    #[arg(long)]
    pub dangerous_plaintext: bool,

    /// Accept any certificate from the store (`sslmode=require`, `rediss://…#insecure`):
    /// anyone on the path can impersonate it. Warned about.
    #[arg(long)]
    pub dangerous_accept_invalid_certs: bool,

    /// Client certificate (PEM) for the store's mutual TLS, with --client-key.
    #[arg(long, value_name = "FILE", requires = "client_key")]
    pub client_cert: Option<PathBuf>,

    /// Client key (PEM) for the store's mutual TLS.
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
}

/// A store the tool can write to and read from.
pub enum Store {
    /// PostgreSQL, default schema.
    Postgres(PostgresConfig),
    /// Redis, default layout.
    Redis(RedisConfig),
}

impl StoreArgs {
    /// The store at `url` with these options. Errors never echo the URL's password.
    pub fn store(&self, url: &str) -> Result<Store, Failure> {
        let password =
            match &self.store_password_env {
                None => None,
                Some(var) => Some(std::env::var(var).map_err(|_| {
                    Failure::usage(format!("--store-password-env: {var} is not set"))
                })?),
            };
        let mut tls = TlsSettings::default();
        if let Some(ca) = &self.ca_file {
            tls = tls.ca_file(ca);
        }
        if let (Some(cert), Some(key)) = (&self.client_cert, &self.client_key) {
            tls = tls.client_identity(cert, key);
        }
        if self.dangerous_plaintext {
            crate::warn("--dangerous-plaintext: the store may be reached in plaintext");
        }
        if self.dangerous_accept_invalid_certs {
            crate::warn("--dangerous-accept-invalid-certs: the store's certificate is not checked");
        }
        tls = tls
            .dangerous_plaintext(self.dangerous_plaintext)
            .dangerous_accept_invalid_certs(self.dangerous_accept_invalid_certs);
        match StoreConfig::from_url(url).map_err(Failure::usage)? {
            StoreConfig::Postgres(mut c) => {
                c.table.clone_from(&self.table);
                c.tls = tls;
                c.password = password;
                c.lookup_deadline = Duration::from_secs(30);
                if let Err(PostgresConfigError::InvalidSetting {
                    setting, reason, ..
                }) = PostgresProvider::new(c.clone())
                {
                    dangerous_hint(&format!("postgres.{setting}"), setting, &reason)?;
                }
                Ok(Store::Postgres(c))
            }
            StoreConfig::Redis(mut c) => {
                c.key_prefix.clone_from(&self.key_prefix);
                c.tls = tls;
                if password.is_some() {
                    c.password = password;
                }
                if let Err(RedisConfigError::InvalidSetting {
                    setting, reason, ..
                }) = RedisProvider::new(c.clone())
                {
                    dangerous_hint(&format!("redis.{setting}"), setting, &reason)?;
                }
                Ok(Store::Redis(c))
            }
            _ => Err(Failure::usage(
                "the store must be a postgres://, postgresql://, redis://, rediss://, redis+cluster:// or redis+sentinel:// URL (files are written by `gen` and `convert`)",
            )),
        }
    }
}

/// A store refused for its transport (plaintext or unchecked TLS to a host that is not
/// loopback) is a usage error naming the command-line switch; other configuration errors
/// are reported when the store is opened, as before.
fn dangerous_hint(name: &str, setting: &str, reason: &str) -> Result<(), Failure> {
    let flag = match setting {
        "tls.dangerous_plaintext" => "--dangerous-plaintext",
        "tls.dangerous_accept_invalid_certs" => "--dangerous-accept-invalid-certs",
        _ => return Ok(()),
    };
    Err(Failure::usage(format!(
        "{name}: {reason} (on the command line: {flag})"
    )))
}

impl Store {
    /// `postgres table <t>` or `redis prefix <p>`, for messages.
    pub fn describe(&self) -> String {
        match self {
            Store::Postgres(c) => format!("PostgreSQL table {}", c.table),
            Store::Redis(c) => {
                let mode = match c.mode {
                    RedisMode::Cluster => "cluster",
                    RedisMode::Sentinel => "sentinel",
                    _ => "single node",
                };
                format!("Redis ({mode}) keys {}:*", c.key_prefix)
            }
        }
    }
}

/// A connection failure (exit 4).
pub fn connection_failure(message: impl std::fmt::Display) -> Failure {
    Failure {
        status: Status::Connection,
        message: message.to_string(),
    }
}

/// A current-thread Tokio runtime for the store's driver.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::usage(format!("cannot start the async runtime: {e}")))
}

/// `import` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Input: a CSV of passwords (`username,password[,is_superuser]`, header optional, as
`gen --from-csv` reads; credentials are derived on all cores), or stored records in any
format the tool reads (json, csv, emqx, postgres batch; auto-detected). A file whose first
line is a `username,password` header or has no header is taken for passwords; force it with
--passwords or --records (stdin `-` is read as records unless --passwords).

Nothing is written until the whole input is read, derived and checked: a bad row stops
the import naming its line. Writes are batched upserts (a user already stored for the same
mechanism is replaced), in one transaction for PostgreSQL.

Examples:
  mqtt-scram import --print-schema | psql mqtt
  PGPASS=secret mqtt-scram import --to postgres://mqtt@db/mqtt --store-password-env PGPASS users.csv
  mqtt-scram import --to redis+cluster://10.0.0.1:7000,10.0.0.2:7000 -m sha256 -m sha512 users.csv
  mqtt-scram import --to rediss://redis.example:6380 --ca-file ca.pem users.jsonl")]
pub struct Args {
    /// The store: postgres://…, redis://…, rediss://…, redis+cluster://…, redis+sentinel://…/`<master>`.
    #[arg(long, value_name = "URL", required_unless_present = "print_schema")]
    to: Option<String>,

    /// Users file (`-` = stdin).
    #[arg(value_name = "FILE", required_unless_present = "print_schema")]
    file: Option<PathBuf>,

    /// Print the default PostgreSQL schema (for --table) and exit.
    #[arg(long, conflicts_with_all = ["to", "file"])]
    print_schema: bool,

    /// The input is a `username,password[,is_superuser]` CSV.
    #[arg(long, conflicts_with = "records")]
    passwords: bool,

    /// The input is stored records (json, csv, emqx, postgres batch).
    #[arg(long)]
    records: bool,

    /// Create the PostgreSQL table if it does not exist.
    #[arg(long)]
    create_table: bool,

    /// SCRAM hash(es) to derive from passwords (repeat for both).
    #[arg(long, short = 'm', value_enum, default_value = "sha256")]
    mechanism: Vec<Hash>,

    /// PBKDF2 iteration count for passwords (at least 4096 unless --allow-weak).
    #[arg(long, short = 'i', default_value_t = DEFAULT_ITERATIONS, value_parser = clap::value_parser!(u32).range(1..))]
    iterations: u32,

    /// Accept an iteration count below 4096. For tests only.
    #[arg(long)]
    allow_weak: bool,

    /// Mark users from a password CSV as superusers (a row's third column overrides it).
    #[arg(long)]
    is_superuser: bool,

    /// Worker threads for deriving (default: all cores).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,

    /// Users per write batch.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    batch_size: u64,

    /// Read, derive and check everything, but write nothing.
    #[arg(long)]
    dry_run: bool,

    /// No progress bars and no summary (errors and warnings are still printed).
    #[arg(long, short = 'q')]
    quiet: bool,

    #[command(flatten)]
    store: StoreArgs,
}

pub fn run(args: Args) -> Result<Status, Failure> {
    if args.print_schema {
        crate::emit(
            &schema_sql(&args.store.table).map_err(|e| Failure::usage(format!("--table: {e}")))?,
        )?;
        return Ok(Status::Ok);
    }
    let (Some(url), Some(path)) = (args.to.as_deref(), args.file.as_deref()) else {
        return Err(Failure::usage("import needs --to URL and a FILE"));
    };
    let store = args.store.store(url)?;
    let began = Instant::now();
    let (entries, hashing) = read_entries(&args, path)?;
    let users = checked_users(entries, path)?;
    if args.dry_run {
        if !args.quiet {
            note(format!(
                "dry run: {} records checked ({}), nothing written",
                users.len(),
                by_mechanism(&users)
            ));
        }
        return Ok(Status::Ok);
    }
    let writing = Instant::now();
    let bar = progress(users.len(), args.quiet, "written");
    let batch = usize::try_from(args.batch_size).unwrap_or(1000);
    runtime()?.block_on(async {
        match &store {
            Store::Postgres(config) => {
                let mut writer = PostgresWriter::connect(config).await.map_err(connection_failure)?;
                if args.create_table {
                    writer.create_schema().await.map_err(connection_failure)?;
                }
                writer
                    .write_all(&users, batch, |done| bar.set_position(done as u64))
                    .await
                    .map_err(|e| {
                        let hint = if e.to_string().contains("does not exist") {
                            " (create it with --create-table, or run the output of `mqtt-scram import --print-schema`)"
                        } else {
                            ""
                        };
                        connection_failure(format!("{e}{hint}; nothing was written"))
                    })
            }
            Store::Redis(config) => {
                let writer = RedisWriter::connect(config).await.map_err(connection_failure)?;
                writer
                    .write_all(&users, batch, |done| bar.set_position(done as u64))
                    .await
                    .map_err(connection_failure)
            }
        }
    })?;
    bar.finish_and_clear();
    if !args.quiet {
        let total = began.elapsed().as_secs_f64();
        let rate = if total > 0.0 {
            users.len() as f64 / total
        } else {
            0.0
        };
        note(format!(
            "imported {} records ({}) into {}: reading and hashing {:.2} s (PBKDF2 {:.2} s), writing {:.2} s, {rate:.0} records/s overall",
            users.len(),
            by_mechanism(&users),
            store.describe(),
            writing.duration_since(began).as_secs_f64(),
            hashing.as_secs_f64(),
            writing.elapsed().as_secs_f64(),
        ));
    }
    Ok(Status::Ok)
}

/// Reads the input as passwords or records; returns the entries and the time spent in PBKDF2.
fn read_entries(args: &Args, path: &Path) -> Result<(Vec<Entry>, Duration), Failure> {
    if is_password_csv(args, path)? {
        if args.iterations < DEFAULT_ITERATIONS && !args.allow_weak {
            return Err(Failure::usage(format!(
                "--iterations {} is below 4096, the RFC 7677 minimum; pass --allow-weak to use it anyway",
                args.iterations
            )));
        }
        let rows = read_rows(path, args.is_superuser)?;
        let source = source_name(path);
        let mut entries = Vec::with_capacity(rows.len() * args.mechanism.len());
        let mut hashing = Duration::ZERO;
        let mut hashes: Vec<HashAlgorithm> = args.mechanism.iter().map(|h| (*h).into()).collect();
        hashes.dedup();
        for hash in hashes {
            let derivation = Derivation {
                hash,
                iterations: args.iterations,
                salt: None,
                attrs: Default::default(),
            };
            let (mut derived, took) =
                derivation.derive_all(&source, &rows, args.threads, !args.quiet)?;
            hashing += took;
            entries.append(&mut derived);
        }
        Ok((entries, hashing))
    } else {
        if args.mechanism.len() > 1 || args.iterations != DEFAULT_ITERATIONS {
            crate::warn("--mechanism and --iterations apply to passwords; records keep their own");
        }
        let text = read_text(path)?;
        let parsed = formats::parse(&text, &Hints::default()).map_err(|f| Failure {
            message: format!("{}: {}", source_name(path), f.message),
            ..f
        })?;
        Ok((parsed.entries, Duration::ZERO))
    }
}

/// `--passwords`/`--records`, or a look at the file: a `username,password` header, or CSV
/// rows without a header, are passwords; JSON, verifiers and record CSV are records.
fn is_password_csv(args: &Args, path: &Path) -> Result<bool, Failure> {
    if args.passwords || args.records {
        return Ok(args.passwords);
    }
    if path == Path::new("-") {
        return Ok(false);
    }
    let text = read_text(path)?;
    let first = text
        .trim_start_matches('\u{feff}')
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    Ok(!(first.starts_with('{')
        || first.starts_with('[')
        || first.starts_with("scram-")
        || first.starts_with("username,mechanism")))
}

fn read_text(path: &Path) -> Result<String, Failure> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text)
            .map_err(|e| Failure::usage(format!("cannot read stdin: {e}")))?;
        Ok(text)
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))
    }
}

/// Every entry has a username, no user appears twice for one mechanism; warnings for
/// records a default server would ignore.
fn checked_users(entries: Vec<Entry>, path: &Path) -> Result<Vec<(String, UserRecord)>, Failure> {
    let source = source_name(path);
    checks::warn_before_writing(&entries, Format::Json);
    let mut seen: HashMap<(String, HashAlgorithm), usize> = HashMap::new();
    let mut users = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        let Some(username) = entry.username else {
            return Err(Failure::usage(format!(
                "{source}: record {}: no username (a bare verifier or EMQX body cannot be imported)",
                i + 1
            )));
        };
        let hash = entry.record.credentials.hash();
        if let Some(first) = seen.insert((username.clone(), hash), i + 1) {
            return Err(Failure::usage(format!(
                "{source}: record {}: a second {} record for {username:?} (first: record {first})",
                i + 1,
                hash.mechanism().name()
            )));
        }
        users.push((username, entry.record));
    }
    if users.is_empty() {
        return Err(Failure::usage(format!("{source}: no users")));
    }
    Ok(users)
}

fn by_mechanism(users: &[(String, UserRecord)]) -> String {
    let sha256 = users
        .iter()
        .filter(|(_, r)| r.credentials.hash() == HashAlgorithm::Sha256)
        .count();
    let sha512 = users.len() - sha256;
    match (sha256, sha512) {
        (_, 0) => format!("{sha256} SCRAM-SHA-256"),
        (0, _) => format!("{sha512} SCRAM-SHA-512"),
        _ => format!("{sha256} SCRAM-SHA-256, {sha512} SCRAM-SHA-512"),
    }
}

/// A progress bar on stderr for a terminal, hidden otherwise.
pub fn progress(len: usize, quiet: bool, what: &str) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{{bar:40}} {{pos}}/{{len}} {what} {{per_sec}} eta {{eta}}"
    )) {
        bar.set_style(style);
    }
    bar
}
