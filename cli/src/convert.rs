//! `convert`: rewrite records from one format into another, checking key lengths.

use crate::formats::{self, Batch, Format, Input};
use crate::{Failure, Status, emit, warn};

/// `convert` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The input format is detected: PostgreSQL verifier(s), JSON (emqx body, json record,
postgres batch objects; one object, an array or JSON lines) or CSV with a header.
EMQX bodies carry no iteration count (pass --iterations if it is not 4096) and no
mechanism (taken from the key length unless --mechanism). PostgreSQL verifiers carry no
username (pass --username for json and csv output).")]
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
    if args.to == Format::Emqx {
        if let Some(e) = parsed
            .entries
            .iter()
            .find(|e| e.record.credentials.iterations() != 4096)
        {
            warn(format!(
                "EMQX keeps the iteration count in its authenticator config, not in the record: set iteration_count = {}",
                e.record.credentials.iterations()
            ));
        }
    }
    if args.to == Format::Postgres {
        let extras = parsed.entries.iter().any(|e| {
            e.record.attributes.is_superuser || !e.record.attributes.client_attrs.is_empty()
        });
        if extras {
            warn("a PostgreSQL verifier has no is_superuser or client_attrs; they are dropped");
        }
    }
    emit(&formats::render(&parsed.entries, args.to, batch)?)?;
    Ok(Status::Ok)
}
