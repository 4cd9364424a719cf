//! A topic-filter trie: finds the first rule (lowest index) whose filter relates to a topic,
//! without scanning every rule. Levels may be templates (`${username}`, `%c`, `%(u, :, 3)`)
//! resolved per client at query time.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::str::Split;

use crate::access::Placeholders;

/// Which client value a placeholder stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Var {
    Username,
    ClientId,
    CertCommonName,
    Attr(Box<str>),
    /// The `index`-th (1-based) non-empty token of the username (`user`) or client id,
    /// split at `delim` (gojek `%(u, :, 3)`).
    Token {
        user: bool,
        delim: char,
        index: usize,
    },
}

impl Var {
    /// The value for this client, or `None` when it is missing or could widen access:
    /// empty, or containing `/`, `+`, `#` or U+0000.
    fn resolve<'c, P: Placeholders + ?Sized>(&self, c: &'c P) -> Option<&'c str> {
        let v = match self {
            Var::Username => c.username()?,
            Var::ClientId => c.client_id(),
            Var::CertCommonName => c.cert_common_name()?,
            Var::Attr(name) => c.client_attr(name)?,
            Var::Token { user, delim, index } => {
                let source = if *user { c.username()? } else { c.client_id() };
                source
                    .split(*delim)
                    .filter(|t| !t.is_empty())
                    .nth(index.checked_sub(1)?)?
            }
        };
        (!v.is_empty() && !v.contains(['/', '+', '#', '\0'])).then_some(v)
    }
}

/// A piece of a template level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    Lit(Box<str>),
    Var(Var),
}

/// A level containing at least one placeholder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Template(pub(crate) Vec<Piece>);

impl Template {
    /// Whether the rendered template equals `level`. At the first level a template that
    /// starts with a placeholder never matches a `$` topic: a username like `$SYS` must not
    /// reach system topics.
    fn matches<P: Placeholders + ?Sized>(&self, c: &P, level: &str, first: bool) -> bool {
        if first && level.starts_with('$') && matches!(self.0.first(), Some(Piece::Var(_))) {
            return false;
        }
        let mut rest = level;
        for piece in &self.0 {
            let part = match piece {
                Piece::Lit(s) => &**s,
                Piece::Var(v) => match v.resolve(c) {
                    Some(v) => v,
                    None => return false,
                },
            };
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        rest.is_empty()
    }

    /// Whether the template renders to some valid level for this client (used when the
    /// other side is a wildcard).
    fn renders<P: Placeholders + ?Sized>(&self, c: &P, first: bool) -> bool {
        let starts_dollar = match self.0.first() {
            Some(Piece::Lit(s)) => s.starts_with('$'),
            Some(Piece::Var(v)) => v.resolve(c).is_some_and(|v| v.starts_with('$')),
            None => false,
        };
        let resolved = |p: &Piece| match p {
            Piece::Lit(_) => true,
            Piece::Var(v) => v.resolve(c).is_some(),
        };
        !(first && starts_dollar) && self.0.iter().all(resolved)
    }
}

/// One level of a filter, as inserted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    Lit(Box<str>),
    Plus,
    Hash,
    Template(Template),
}

#[derive(Debug)]
struct Node {
    /// Lowest rule index in this subtree: a query that already has a better match skips it.
    min: u32,
    lits: BTreeMap<Box<str>, u32>,
    plus: Option<u32>,
    templates: Vec<(Template, u32)>,
    /// Rules whose filter ends at this node.
    end: Vec<u32>,
    /// Rules whose filter is this node's path followed by `#`.
    hash: Vec<u32>,
}

impl Default for Node {
    fn default() -> Self {
        Self {
            min: u32::MAX,
            lits: BTreeMap::new(),
            plus: None,
            templates: Vec::new(),
            end: Vec::new(),
            hash: Vec::new(),
        }
    }
}

/// How the queried topic relates to rule filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The topic is a name; the rule filter must match it.
    Name,
    /// The topic is a subscription filter; the rule filter must cover it.
    Cover,
    /// The topic is a subscription filter; the rule filter must overlap it.
    Overlap,
}

/// Filters → rule indices.
#[derive(Debug)]
pub(crate) struct Trie {
    nodes: Vec<Node>,
}

impl Default for Trie {
    fn default() -> Self {
        Self {
            nodes: alloc::vec![Node::default()],
        }
    }
}

struct Query<'q, P: ?Sized, F> {
    client: &'q P,
    mode: Mode,
    dollar: bool,
    accept: F,
    best: Option<u32>,
}

impl<P: ?Sized, F: FnMut(u32) -> bool> Query<'_, P, F> {
    fn consider(&mut self, list: &[u32]) {
        for &idx in list {
            if self.best.is_some_and(|b| idx >= b) {
                return;
            }
            if (self.accept)(idx) {
                self.best = Some(idx);
                return;
            }
        }
    }
}

impl Trie {
    /// Adds rule `index` for the filter `levels`. Indices must be added in ascending order.
    pub(crate) fn insert(&mut self, levels: &[Level], index: u32) {
        let mut node = 0usize;
        for level in levels {
            if let Some(n) = self.nodes.get_mut(node) {
                n.min = n.min.min(index);
            }
            let next = match level {
                Level::Hash => {
                    push_sorted(self.nodes.get_mut(node).map(|n| &mut n.hash), index);
                    return;
                }
                Level::Lit(s) => self.nodes.get(node).and_then(|n| n.lits.get(s).copied()),
                Level::Plus => self.nodes.get(node).and_then(|n| n.plus),
                Level::Template(t) => self
                    .nodes
                    .get(node)
                    .and_then(|n| n.templates.iter().find(|(x, _)| x == t).map(|(_, i)| *i)),
            };
            node = match next {
                Some(i) => i as usize,
                None => {
                    let id = self.nodes.len() as u32;
                    self.nodes.push(Node::default());
                    if let Some(n) = self.nodes.get_mut(node) {
                        match level {
                            Level::Lit(s) => {
                                n.lits.insert(s.clone(), id);
                            }
                            Level::Plus => n.plus = Some(id),
                            Level::Template(t) => n.templates.push((t.clone(), id)),
                            Level::Hash => {}
                        }
                    }
                    id as usize
                }
            };
        }
        if let Some(n) = self.nodes.get_mut(node) {
            n.min = n.min.min(index);
        }
        push_sorted(self.nodes.get_mut(node).map(|n| &mut n.end), index);
    }

    /// The lowest rule index whose filter relates to `topic` in `mode` and that `accept`s,
    /// improving on `best` if given.
    pub(crate) fn first_match<P: Placeholders + ?Sized>(
        &self,
        client: &P,
        topic: &str,
        mode: Mode,
        best: Option<u32>,
        accept: impl FnMut(u32) -> bool,
    ) -> Option<u32> {
        let mut q = Query {
            client,
            mode,
            dollar: topic.starts_with('$'),
            accept,
            best,
        };
        self.walk(&mut q, 0, topic.split('/'), true);
        q.best
    }

    fn walk<P: Placeholders + ?Sized, F: FnMut(u32) -> bool>(
        &self,
        q: &mut Query<'_, P, F>,
        node: u32,
        mut levels: Split<'_, char>,
        first: bool,
    ) {
        let Some(n) = self.nodes.get(node as usize) else {
            return;
        };
        if q.best.is_some_and(|b| n.min >= b) {
            return;
        }
        let wild_ok = !(first && q.dollar);
        if wild_ok {
            q.consider(&n.hash);
        }
        let Some(level) = levels.next() else {
            q.consider(&n.end);
            return;
        };
        match (q.mode, level) {
            (Mode::Cover, "+") => {
                if let Some(c) = n.plus {
                    self.walk(q, c, levels, false);
                }
            }
            (Mode::Cover, "#") => {}
            (Mode::Overlap, "#") => {
                q.consider(&n.end);
                self.each_child(q, n, first, |t, q, c| t.all(q, c));
            }
            (Mode::Overlap, "+") => {
                self.each_child(q, n, first, |t, q, c| t.walk(q, c, levels.clone(), false));
            }
            _ => {
                if let Some(&c) = n.lits.get(level) {
                    self.walk(q, c, levels.clone(), false);
                }
                if let Some(c) = n.plus.filter(|_| wild_ok) {
                    self.walk(q, c, levels.clone(), false);
                }
                for (t, c) in &n.templates {
                    if t.matches(q.client, level, first) {
                        self.walk(q, *c, levels.clone(), false);
                    }
                }
            }
        }
    }

    /// Visits every child a wildcard level of the query can reach.
    fn each_child<P: Placeholders + ?Sized, F: FnMut(u32) -> bool>(
        &self,
        q: &mut Query<'_, P, F>,
        n: &Node,
        first: bool,
        mut visit: impl FnMut(&Self, &mut Query<'_, P, F>, u32),
    ) {
        for (lit, &c) in &n.lits {
            if !(first && lit.starts_with('$')) {
                visit(self, q, c);
            }
        }
        if let Some(c) = n.plus {
            visit(self, q, c);
        }
        for (t, c) in &n.templates {
            if t.renders(q.client, first) {
                visit(self, q, *c);
            }
        }
    }

    /// Every rule in the subtree (the query's `#` overlaps all of them).
    fn all<P: Placeholders + ?Sized, F: FnMut(u32) -> bool>(
        &self,
        q: &mut Query<'_, P, F>,
        node: u32,
    ) {
        let Some(n) = self.nodes.get(node as usize) else {
            return;
        };
        if q.best.is_some_and(|b| n.min >= b) {
            return;
        }
        q.consider(&n.end);
        q.consider(&n.hash);
        self.each_child(q, n, false, |t, q, c| t.all(q, c));
    }
}

fn push_sorted(list: Option<&mut Vec<u32>>, index: u32) {
    if let Some(list) = list {
        if list.last() != Some(&index) {
            list.push(index);
        }
    }
}
