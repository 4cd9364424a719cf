//! Where a password comes from: a prompt without echo, stdin, an environment variable, or
//! (discouraged) the command line. Every buffer is zeroized on drop.

use std::io::{BufRead, IsTerminal};

use zeroize::Zeroizing;

use crate::{Failure, warn};

/// Password source flags shared by `gen`, `verify` and `probe`.
#[derive(Debug, Default, clap::Args)]
pub struct Source {
    /// Read the password from the first line of stdin (trailing CR/LF removed).
    #[arg(long, conflicts_with_all = ["password_env", "password"])]
    pub password_stdin: bool,

    /// Read the password from the environment variable VAR.
    #[arg(long, value_name = "VAR", conflicts_with = "password")]
    pub password_env: Option<String>,

    /// The password itself. Leaks into shell history and `ps`; prefer the prompt,
    /// --password-stdin or --password-env.
    #[arg(long, value_name = "PASSWORD", hide_short_help = true)]
    pub password: Option<String>,
}

impl Source {
    /// Whether the password will be read from stdin.
    pub fn uses_stdin(&self) -> bool {
        self.password_stdin
    }

    /// Reads the password. `confirm` asks twice at the prompt.
    pub fn read(&mut self, confirm: bool) -> Result<Zeroizing<String>, Failure> {
        let password = if self.password_stdin {
            from_stdin()?
        } else if let Some(var) = &self.password_env {
            let value = std::env::var(var).map_err(|_| {
                Failure::usage(format!(
                    "environment variable {var} is not set or not UTF-8"
                ))
            })?;
            Zeroizing::new(value)
        } else if let Some(value) = self.password.take() {
            warn(
                "--password puts the password in shell history and the process list; use the prompt, --password-stdin or --password-env",
            );
            Zeroizing::new(value)
        } else {
            prompt(confirm)?
        };
        if password.is_empty() {
            return Err(Failure::usage("the password is empty"));
        }
        Ok(password)
    }
}

fn from_stdin() -> Result<Zeroizing<String>, Failure> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::usage(format!("cannot read the password from stdin: {e}")))?;
    while line.ends_with('\n') || line.ends_with('\r') {
        line.pop();
    }
    Ok(line)
}

fn prompt(confirm: bool) -> Result<Zeroizing<String>, Failure> {
    let no_terminal = || {
        Failure::usage(
            "no password given and no terminal to ask on: use --password-stdin or --password-env VAR",
        )
    };
    if !std::io::stdin().is_terminal() && !std::io::stderr().is_terminal() {
        return Err(no_terminal());
    }
    let first =
        Zeroizing::new(rpassword::prompt_password("Password: ").map_err(|_| no_terminal())?);
    if confirm {
        let again = Zeroizing::new(
            rpassword::prompt_password("Password (again): ").map_err(|_| no_terminal())?,
        );
        if *first != *again {
            return Err(Failure::usage("the passwords do not match"));
        }
    }
    Ok(first)
}
