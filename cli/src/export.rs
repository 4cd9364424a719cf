//! `export`: read every user back from PostgreSQL (the default schema) or Redis (the
//! default layout, every master of a cluster) and print them in any format the tool writes.

use std::path::PathBuf;

use crate::formats::{self, Batch, Entry, Format};
use crate::import::{Store, StoreArgs, connection_failure, runtime};
use crate::{Failure, Status, checks, emit, note};
use mqtt_scram_stores::postgres::PostgresWriter;
use mqtt_scram_stores::redis::RedisWriter;

/// `export` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  mqtt-scram export --from postgres://mqtt@db/mqtt --format csv -o users.csv
  mqtt-scram export --from redis+cluster://10.0.0.1:7000 --format json --batch lines
  mqtt-scram export --from postgres://mqtt@db/mqtt --format postgres -m sha256 --batch lines

A record that cannot be decoded is skipped with a warning naming it; the others are
exported and the exit status is 5 (partial).")]
pub struct Args {
    /// The store: postgres://…, redis://…, rediss://…, redis+cluster://…, redis+sentinel://…/`<master>`.
    #[arg(long, value_name = "URL")]
    from: String,

    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "json")]
    format: Format,

    /// Layout of the JSON formats (emqx, postgres, json).
    #[arg(long, value_enum, default_value = "array")]
    batch: Batch,

    /// Only this user's records.
    #[arg(long, short = 'u')]
    user: Option<String>,

    /// Only records of this hash (e.g. `-m sha256` for the postgres format).
    #[arg(long, short = 'm', value_enum)]
    mechanism: Option<crate::Hash>,

    /// Write to FILE (atomically, readable by its owner only) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,

    /// No summary.
    #[arg(long, short = 'q')]
    quiet: bool,

    #[command(flatten)]
    store: StoreArgs,
}

pub fn run(args: Args) -> Result<Status, Failure> {
    let store = args.store.store(&args.from)?;
    // A record that does not decode is skipped with a warning naming it (user name or key,
    // never a value); the rest is exported and the exit status says "partial".
    let (users, skipped): (Vec<_>, Vec<String>) = runtime()?.block_on(async {
        match &store {
            Store::Postgres(config) => {
                let writer = PostgresWriter::connect(config)
                    .await
                    .map_err(connection_failure)?;
                let (users, skipped) = writer
                    .read_all_lenient()
                    .await
                    .map_err(connection_failure)?;
                Ok::<_, Failure>((users, skipped.iter().map(ToString::to_string).collect()))
            }
            Store::Redis(config) => {
                let writer = RedisWriter::connect(config)
                    .await
                    .map_err(connection_failure)?;
                let (users, skipped) = writer
                    .read_all_lenient()
                    .await
                    .map_err(connection_failure)?;
                Ok((users, skipped.iter().map(ToString::to_string).collect()))
            }
        }
    })?;
    for reason in &skipped {
        crate::warn(format!("skipped {reason}"));
    }
    let entries: Vec<Entry> = users
        .into_iter()
        .filter(|(name, _)| args.user.as_deref().is_none_or(|u| u == name))
        .filter(|(_, record)| {
            args.mechanism
                .is_none_or(|m| record.credentials.hash() == mqtt_scram::HashAlgorithm::from(m))
        })
        .map(|(username, record)| Entry {
            username: Some(username),
            record,
        })
        .collect();
    if entries.is_empty() {
        return Err(Failure::usage(format!(
            "no users in {}{}",
            store.describe(),
            args.user
                .as_deref()
                .map(|u| format!(" named {u:?}"))
                .unwrap_or_default()
        )));
    }
    checks::refuse(&entries, args.format)?;
    checks::warn_before_writing(&entries, args.format);
    let text = formats::render(&entries, args.format, Some(args.batch))?;
    match &args.output {
        None => emit(&text)?,
        Some(path) => crate::generate::write_atomically(path, &text)?,
    }
    if !args.quiet {
        note(format!(
            "exported {} records from {}",
            entries.len(),
            store.describe()
        ));
    }
    if skipped.is_empty() {
        Ok(Status::Ok)
    } else {
        crate::warn(format!(
            "{} records could not be decoded and were skipped (exit 5, partial)",
            skipped.len()
        ));
        Ok(Status::Partial)
    }
}
