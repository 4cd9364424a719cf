//! `convert`: rewrite records from one format into another, checking key lengths.

use crate::formats::{self, Batch, Format, Input};
use crate::{Failure, Status, checks, emit};

/// `convert` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The input format is detected: PostgreSQL verifier(s), JSON (emqx body, json record,
postgres batch objects; one object, an array or JSON lines) or CSV with a header.
EMQX bodies carry no iteration count (pass --iterations if it is not 4096) and no
mechanism (taken from the key length unless --mechanism). PostgreSQL verifiers carry no
username (pass --user for json and csv output).
Warns (stderr) about records a default server ignores (RecordPolicy: iterations
4096..=1000000, salt 8..=64 bytes), counts a default client refuses and fields the output
format cannot carry; refuses SCRAM-SHA-512 records in the postgres format (PostgreSQL only
knows SCRAM-SHA-256).")]
pub struct Args {
    #[command(flatten)]
    input: Input,

    /// Output format.
    #[arg(long, short = 't', value_enum)]
    to: Format,

    /// Layout of a batch in the JSON formats; default: as the input.
    #[arg(long, value_enum)]
    batch: Option<Batch>,
}

pub fn run(args: Args) -> Result<Status, Failure> {
    let parsed = args.input.parse()?;
    let batch = match (args.batch, parsed.batch) {
        (Some(b), _) => Some(b),
        (None, true) => Some(Batch::Array),
        (None, false) => None,
    };
    checks::refuse(&parsed.entries, args.to)?;
    checks::warn_before_writing(&parsed.entries, args.to);
    emit(&formats::render(&parsed.entries, args.to, batch)?)?;
    Ok(Status::Ok)
}
