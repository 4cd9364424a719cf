//! `verify`: does a password produce a stored record? Exit 0 yes, 1 no, 2 on bad input.

use crate::formats::Input;
use crate::password::Source;
use crate::{Failure, Status};

/// `verify` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Reads one record in any supported format (auto-detected) and a password (prompt,
--password-stdin or --password-env), and recomputes StoredKey and ServerKey from it; both
are compared in constant time. Prints nothing; the exit status is the answer:
0 match, 1 no match, 2 usage or format error.")]
pub struct Args {
    #[command(flatten)]
    input: Input,

    #[command(flatten)]
    password: Source,

    /// Print `match` or `no match` on stdout as well.
    #[arg(long, short = 'v')]
    verbose: bool,
}

pub fn run(mut args: Args) -> Result<Status, Failure> {
    if args.password.uses_stdin() && args.input.uses_stdin() {
        return Err(Failure::usage(
            "--password-stdin needs the record from a FILE or --record, not from stdin",
        ));
    }
    let parsed = args.input.parse()?;
    let entry = match (parsed.entries.len(), &args.input.user) {
        (1, Some(name))
            if parsed
                .entries
                .first()
                .and_then(|e| e.username.as_ref())
                .is_some_and(|u| u != name) =>
        {
            return Err(Failure::usage(format!(
                "the record is not for user {name:?}"
            )));
        }
        (1, _) => parsed.entries.into_iter().next(),
        (_, None) => {
            return Err(Failure::usage(format!(
                "the input has {} records: pick one with --user",
                parsed.entries.len()
            )));
        }
        (_, Some(name)) => {
            let found = parsed
                .entries
                .into_iter()
                .find(|e| e.username.as_deref() == Some(name.as_str()));
            Some(found.ok_or_else(|| Failure::usage(format!("no record for user {name:?}")))?)
        }
    };
    let entry = entry.ok_or_else(|| Failure::usage("no record found"))?;
    let password = args.password.read(false)?;
    let matches = entry
        .record
        .credentials
        .verify_password(&password)
        .map_err(Failure::usage)?;
    if args.verbose {
        crate::emit(if matches { "match\n" } else { "no match\n" })?;
    }
    Ok(if matches { Status::Ok } else { Status::NoMatch })
}
