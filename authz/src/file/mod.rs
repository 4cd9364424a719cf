//! ACL files in the VerneMQ `vmq_acl` format, with the `token` and `label` extensions of
//! the gojek `vmq_gojek_auth` plugin, and (with `std`) a [`FileAuthorizer`] that reloads them.
//!
//! Follows the gojek plugin's documentation
//! (<https://courier-gojek.gitbook.io/vernemq/configuring-vernemq/customauth>, "Managing the
//! ACL entries") and VerneMQ's `vmq_acl.erl` where the documentation is silent.
//!
//! ```text
//! # comment
//! topic [read|write] <topic> [label <name>]     before any `user` line: anonymous clients
//! user <username>
//! topic [read|write] <topic> [label <name>]     for that user
//! pattern [read|write] <topic> [label <name>]   everyone; %u username, %c client id
//! token [read|write] <topic> [label <name>]     everyone; also %(u, :, 3) / %(c, -, 2)
//! ```
//! `read` grants SUBSCRIBE (and delivery), `write` grants PUBLISH, neither grants both.
//! Entries only grant: a match is [`Decision::Allow`](crate::Decision::Allow) with the entry's label, no match is
//! [`Decision::NoMatch`](crate::Decision::NoMatch). When several entries match, the first in the file names the label.
//!
//! # Differences from VerneMQ (`vmq_acl`, `vmq_gojek_auth`)
//!
//! | Input | VerneMQ | Here |
//! |---|---|---|
//! | `topic  foo` (two spaces) | topic ` foo` (documented) | the same, and a warning naming the file and line |
//! | blank lines ("the ACL parser doesn't accept empty lines between entries"), leading whitespace, a last line without newline | rejected, or the last character cut (older parsers) | accepted |
//! | an unknown keyword or invalid topic | line skipped with a log line, or a crash | the whole file is rejected with every bad line named; the previous rules stay |
//! | an empty file | no rules | refused unless [`ParseOptions::allow_empty`] |
//! | `%u`/`%c` inside a level (`a%u`) | literal text | literal text (the same) |
//! | `%m` (mount point) | substituted | refused (not supported) |
//! | a substituted value with `/`, `+`, `#`, or empty | matched as text | never matches |
//! | lines before the first `user` line | every client (code) / anonymous clients (documentation) | anonymous clients; [`ParseOptions::anonymous_section_for_everyone`] for the code's behaviour |
//!
//! In detail:
//! - As the documentation says — "Only one space should be put between the topic and the
//!   preceding keyword. Extra spaces will be interpreted as part of the topic!" — exactly
//!   one space (or tab) separates a keyword from what follows; `topic  foo` names the topic
//!   ` foo`. Trailing whitespace also stays part of the topic or username unless
//!   [`ParseOptions::trim_trailing_whitespace`] is set. A topic or username that starts or
//!   ends with whitespace is almost surely a typo: it is reported in
//!   [`FileAcl::warnings`], and [`FileAuthorizer`] logs each one with the file and line.
//!   `token` topics are always trimmed (the plugin trims them).
//! - Every bad line is reported with its number, and one bad line rejects the whole file
//!   (the original skipped invalid topics with a log line, or crashed on unknown keywords).
//! - A file without any entry is refused unless [`ParseOptions::allow_empty`] is set: an
//!   empty ACL is more likely a truncated write than an intention.
//! - `%u`/`%c` substitute whole levels only; elsewhere they are literal text, as in the
//!   original. `%m` (mount point) is not supported and is reported as an error.
//! - A `%(u|c, delim, n)` token is the n-th (1-based) non-empty piece of the username or
//!   client id split at `delim` (any single character other than whitespace, `,`, `(`, `)`,
//!   `/`, `+`, `#`; the plugin allows `:`, `-` and `|`).
//! - Substituted values follow the same safety rule as EMQX placeholders: empty values or
//!   values containing `/`, `+`, `#` never match, and a substituted first level never
//!   matches a `$` topic.
//! - Lines before the first `user` line apply to anonymous clients only (the documented
//!   behaviour; the `vmq_acl` code applies them to every client — set
//!   [`ParseOptions::anonymous_section_for_everyone`] for that).

mod acl;
mod reload;

pub use acl::{FileAcl, LineError, LineWarning, ParseErrors, ParseOptions};
pub use reload::{FileAclError, FileAuthorizer, Watcher, spawn_poller};
