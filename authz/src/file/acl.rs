//! [`FileAcl`]: parsing and evaluating one ACL file (format and differences in the
//! [module docs](super)).

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use crate::access::{Access, Decision, Label, Placeholders, Request};
use crate::authorizer::Authorizer;
use crate::client::Client;
use crate::topic;
use crate::trie::{Level, Mode, Piece, Template, Trie, Var};

/// How to read an ACL file.
///
/// ```
/// use mqtt_scram_authz::file::{FileAcl, ParseOptions};
/// let options = ParseOptions { allow_empty: true, ..ParseOptions::default() };
/// assert!(FileAcl::parse_with("# nothing yet\n", &options)?.is_empty());
/// # Ok::<(), mqtt_scram_authz::file::ParseErrors>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Remove trailing spaces and tabs from topics and usernames (the original keeps them).
    pub trim_trailing_whitespace: bool,
    /// Apply the entries before the first `user` line to every client, as the `vmq_acl`
    /// code does, instead of anonymous clients only.
    pub anonymous_section_for_everyone: bool,
    /// Accept a file with no entries.
    pub allow_empty: bool,
}

/// One bad line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number (0 for the file as a whole).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// A line that parsed but is almost surely not what was meant (a topic or username that
/// starts or ends with whitespace).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineWarning {
    /// 1-based line number.
    pub line: usize,
    /// What looks wrong.
    pub message: String,
}

impl fmt::Display for LineWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Every bad line of a file that was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseErrors {
    /// The errors, in line order.
    pub errors: Vec<LineError>,
}

impl fmt::Display for ParseErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ACL file rejected ({} error{})",
            self.errors.len(),
            if self.errors.len() == 1 { "" } else { "s" }
        )?;
        for e in &self.errors {
            match e.line {
                0 => write!(f, "; {}", e.message)?,
                n => write!(f, "; line {n}: {}", e.message)?,
            }
        }
        Ok(())
    }
}

impl core::error::Error for ParseErrors {}

#[derive(Clone, Debug)]
struct Entry {
    read: bool,
    write: bool,
    label: Option<Label>,
}

/// A parsed ACL file. Immutable; reloading builds a new one.
///
/// ```
/// use mqtt_scram_authz::{Client, Request, file::FileAcl};
/// let acl = FileAcl::parse("user alice\ntopic write a/# label mine\n")?;
/// let alice = Client::new("alice", "c1");
/// assert_eq!(acl.check(&alice, Request::publish("a/b", 0, false)).label(), Some("mine"));
/// assert!(!acl.check(&alice, Request::subscribe("a/b", 0)).is_allowed());
/// # Ok::<(), mqtt_scram_authz::file::ParseErrors>(())
/// ```
#[derive(Debug, Default)]
pub struct FileAcl {
    entries: Vec<Entry>,
    warnings: Vec<LineWarning>,
    anonymous: Trie,
    users: BTreeMap<String, Trie>,
    patterns: Trie,
    anonymous_for_everyone: bool,
}

impl FileAcl {
    /// Parses with default [`ParseOptions`].
    pub fn parse(text: &str) -> Result<Self, ParseErrors> {
        Self::parse_with(text, &ParseOptions::default())
    }

    /// Parses `text`; any bad line rejects the whole file.
    pub fn parse_with(text: &str, options: &ParseOptions) -> Result<Self, ParseErrors> {
        let mut acl = Self {
            anonymous_for_everyone: options.anonymous_section_for_everyone,
            ..Self::default()
        };
        let mut errors = Vec::new();
        let mut user: Option<String> = None;
        for (i, raw) in text.split('\n').enumerate() {
            let line = i + 1;
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            let body = raw.trim_start();
            if body.trim_end().is_empty() || body.starts_with('#') {
                continue;
            }
            let body = if options.trim_trailing_whitespace {
                body.trim_end()
            } else {
                body
            };
            let (keyword, rest) = split_keyword(body);
            let result = match keyword {
                "user" if rest.is_empty() => Err("user without a name".to_string()),
                "user" => {
                    acl.warn_whitespace(line, "username", rest);
                    user = Some(rest.to_string());
                    acl.users.entry(rest.to_string()).or_default();
                    Ok(())
                }
                "topic" | "pattern" | "token" => {
                    acl.add_entry(line, keyword, rest, user.as_deref())
                }
                _ => Err(alloc::format!(
                    "unknown keyword {keyword:?} (expected topic, user, pattern or token)"
                )),
            };
            if let Err(message) = result {
                errors.push(LineError { line, message });
            }
        }
        if errors.is_empty() && acl.entries.is_empty() && !options.allow_empty {
            errors.push(LineError {
                line: 0,
                message: "no entries (an empty ACL must be allowed explicitly)".into(),
            });
        }
        if errors.is_empty() {
            Ok(acl)
        } else {
            Err(ParseErrors { errors })
        }
    }

    /// Records a warning when `value` starts or ends with whitespace.
    fn warn_whitespace(&mut self, line: usize, what: &str, value: &str) {
        let padded = |s: &str| s.starts_with([' ', '\t']) || s.ends_with([' ', '\t']);
        if padded(value) {
            self.warnings.push(LineWarning {
                line,
                message: alloc::format!(
                    "{what} {value:?} starts or ends with whitespace, which is part of the {what} \
                     (only one space goes between a keyword and what follows)"
                ),
            });
        }
    }

    fn add_entry(
        &mut self,
        line: usize,
        keyword: &str,
        rest: &str,
        user: Option<&str>,
    ) -> Result<(), String> {
        let (read, write, rest) = match split_keyword(rest) {
            ("read", t) if !t.is_empty() => (true, false, t),
            ("write", t) if !t.is_empty() => (false, true, t),
            _ => (true, true, rest),
        };
        let (topic, label) = split_label(rest);
        let topic = if keyword == "token" {
            topic.trim()
        } else {
            self.warn_whitespace(line, "topic", topic);
            topic
        };
        if topic.is_empty() {
            return Err(alloc::format!("{keyword} without a topic"));
        }
        topic::validate_filter(topic).map_err(|e| alloc::format!("topic {topic:?}: {e}"))?;
        let mut levels = Vec::new();
        for level in topic.split('/') {
            levels.push(match level {
                "+" => Level::Plus,
                "#" => Level::Hash,
                "%m" if keyword != "topic" => {
                    return Err("%m (mount point) is not supported".into());
                }
                "%u" if keyword != "topic" => {
                    Level::Template(Template(alloc::vec![Piece::Var(Var::Username)]))
                }
                "%c" if keyword != "topic" => {
                    Level::Template(Template(alloc::vec![Piece::Var(Var::ClientId)]))
                }
                _ if keyword == "token" && level.starts_with("%(") => {
                    Level::Template(Template(alloc::vec![Piece::Var(parse_token(level)?)]))
                }
                _ => Level::Lit(level.into()),
            });
        }
        let index =
            u32::try_from(self.entries.len()).map_err(|_| String::from("too many entries"))?;
        self.entries.push(Entry {
            read,
            write,
            label: label.map(Arc::from),
        });
        let trie = match (keyword, user) {
            ("topic", None) => &mut self.anonymous,
            ("topic", Some(u)) => self.users.entry(u.to_string()).or_default(),
            _ => &mut self.patterns,
        };
        trie.insert(&levels, index);
        Ok(())
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the file has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Lines that parsed but are almost surely typos (whitespace around a topic or
    /// username), in line order.
    pub fn warnings(&self) -> &[LineWarning] {
        &self.warnings
    }

    /// Allows with the first matching entry's label, or [`Decision::NoMatch`]. Invalid
    /// topics are denied. QoS and retain play no part.
    pub fn check<P: Placeholders + ?Sized>(&self, who: &P, request: Request<'_>) -> Decision {
        let Request { access, topic, .. } = request;
        let (topic, mode) = match access {
            Access::Subscribe => match topic::strip_shared(topic) {
                Some(t) if topic::validate_filter(t).is_ok() => (t, Mode::Cover),
                _ => return Decision::Deny(None),
            },
            Access::Publish | Access::Read if topic::validate_name(topic).is_ok() => {
                (topic, Mode::Name)
            }
            Access::Publish | Access::Read => return Decision::Deny(None),
        };
        let accept = |i: u32| {
            self.entries.get(i as usize).is_some_and(|e| {
                if access == Access::Publish {
                    e.write
                } else {
                    e.read
                }
            })
        };
        let mut best = None;
        if who.username().is_none() || self.anonymous_for_everyone {
            best = self.anonymous.first_match(who, topic, mode, best, accept);
        }
        if let Some(trie) = who.username().and_then(|u| self.users.get(u)) {
            best = trie.first_match(who, topic, mode, best, accept);
        }
        best = self.patterns.first_match(who, topic, mode, best, accept);
        match best.and_then(|i| self.entries.get(i as usize)) {
            Some(e) => Decision::Allow(e.label.clone()),
            None => Decision::NoMatch,
        }
    }
}

impl Authorizer for FileAcl {
    fn check(&self, who: &Client, request: Request<'_>) -> Decision {
        FileAcl::check(self, who, request)
    }
}

/// The first word and what follows the single space (or tab) after it: further
/// whitespace belongs to the rest, as VerneMQ documents.
fn split_keyword(s: &str) -> (&str, &str) {
    match s.find([' ', '\t']) {
        Some(i) => (
            s.get(..i).unwrap_or_default(),
            s.get(i + 1..).unwrap_or_default(),
        ),
        None => (s, ""),
    }
}

/// Splits a trailing `<ws>label<ws><name>` off a topic.
fn split_label(s: &str) -> (&str, Option<&str>) {
    let t = s.trim_end_matches([' ', '\t']);
    let Some(i) = t.rfind([' ', '\t']) else {
        return (s, None);
    };
    let (before, name) = (
        t.get(..i).unwrap_or_default(),
        t.get(i + 1..).unwrap_or_default(),
    );
    let before = before.trim_end_matches([' ', '\t']);
    match before.strip_suffix("label") {
        Some(topic) if topic.ends_with([' ', '\t']) && !name.is_empty() => {
            let topic = topic.trim_end_matches([' ', '\t']);
            (topic, Some(name))
        }
        _ => (s, None),
    }
}

/// Parses `%(u, :, 3)`.
fn parse_token(level: &str) -> Result<Var, String> {
    let bad = || alloc::format!("{level:?} is not a token of the form %(u|c, delimiter, number)");
    let inner = level
        .strip_prefix("%(")
        .and_then(|l| l.strip_suffix(')'))
        .ok_or_else(bad)?;
    let mut parts = inner.split(',').map(str::trim);
    let (Some(who), Some(delim), Some(n), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let user = match who {
        "u" => true,
        "c" => false,
        _ => return Err(bad()),
    };
    let mut chars = delim.chars();
    let delim = match (chars.next(), chars.next()) {
        (Some(c), None)
            if !c.is_whitespace() && !matches!(c, ',' | '(' | ')' | '/' | '+' | '#') =>
        {
            c
        }
        _ => return Err(bad()),
    };
    let index = n
        .parse::<usize>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(bad)?;
    Ok(Var::Token { user, delim, index })
}
