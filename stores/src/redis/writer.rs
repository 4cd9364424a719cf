//! [`RedisWriter`]: what `mqtt-scram import` and `export` use to write users in the
//! default layout and read them back (every master of a cluster is scanned).

use std::string::{String, ToString};
use std::vec::Vec;

use futures_util::StreamExt as _;
use mqtt_scram::HashAlgorithm;
use mqtt_scram::provider::{Lookup, UserRecord};
use redis::Value;

use super::backend::{Backend, Conn, describe};
use super::command::Reply;
use super::config::{RedisConfig, RedisConfigError};
use super::reply::fields;
use crate::record::acl_rules;
use crate::remote::{Encoding, decode_record};

/// Optional fields of the default layout, removed when a user no longer has them.
const OPTIONAL_FIELDS: [&str; 3] = ["expire_at", "client_attrs", "acl"];

/// Why writing to or reading from Redis failed (never a secret).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] RedisConfigError),
    /// The store refused or could not be reached.
    #[error("redis: {0}")]
    Store(String),
    /// A stored record cannot be read back.
    #[error("redis: record {key:?}: {reason}")]
    Record {
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// Writes users in the default layout (`HSET <prefix>:<mechanism>:<username> …`) and
/// reads them back.
///
/// ```no_run
/// use mqtt_scram_stores::redis::{RedisConfig, RedisWriter};
/// # async fn demo(users: Vec<(String, mqtt_scram::provider::UserRecord)>) -> Result<(), Box<dyn std::error::Error>> {
/// let writer = RedisWriter::connect(&RedisConfig::from_url("redis://127.0.0.1:6379")?).await?;
/// writer.write_all(&users, 1_000, |done| eprintln!("{done} written")).await?;
/// assert_eq!(writer.read_all().await?.len(), users.len());
/// # Ok(())
/// # }
/// ```
pub struct RedisWriter {
    backend: Backend,
    prefix: String,
    cluster: bool,
}

impl core::fmt::Debug for RedisWriter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RedisWriter")
            .field("prefix", &self.prefix)
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

impl RedisWriter {
    /// Connects with the configuration's servers, mode, credentials and TLS; its
    /// `key_prefix` is written (a `command` is not used).
    pub async fn connect(config: &RedisConfig) -> Result<Self, WriteError> {
        let mut config = config.clone();
        config.command = None;
        config.response_timeout = config
            .response_timeout
            .max(std::time::Duration::from_secs(30));
        config.check()?;
        let backend = Backend::new(&config)?;
        backend
            .connection()
            .await
            .map_err(|e| WriteError::Store(describe(&e)))?;
        Ok(Self {
            backend,
            prefix: config.key_prefix.clone(),
            cluster: config.mode == super::RedisMode::Cluster,
        })
    }

    /// The key of `username`'s record for `hash`.
    pub fn key(&self, username: &str, hash: HashAlgorithm) -> String {
        std::format!("{}:{}:{username}", self.prefix, hash.mechanism().name())
    }

    /// Writes every user, `batch` at a time (pipelined on one node, concurrent across a
    /// cluster); a user already stored for the same mechanism is replaced, fields it no
    /// longer has are removed. `progress` gets the number written so far after each batch.
    pub async fn write_all(
        &self,
        users: &[(String, UserRecord)],
        batch: usize,
        mut progress: impl FnMut(usize),
    ) -> Result<(), WriteError> {
        let conn = self
            .backend
            .connection()
            .await
            .map_err(|e| WriteError::Store(describe(&e)))?;
        let mut done = 0;
        for chunk in users.chunks(batch.max(1)) {
            let commands: Vec<redis::Cmd> = chunk
                .iter()
                .flat_map(|(username, record)| self.commands(username, record))
                .collect();
            if self.cluster {
                let results: Vec<Result<Value, redis::RedisError>> =
                    futures_util::stream::iter(commands.into_iter().map(|cmd| {
                        let mut conn = conn.clone();
                        async move { conn.query(&cmd).await }
                    }))
                    .buffer_unordered(256)
                    .collect()
                    .await;
                for result in results {
                    result.map_err(|e| WriteError::Store(describe(&e)))?;
                }
            } else {
                let mut pipe = redis::pipe();
                for cmd in commands {
                    pipe.add_command(cmd).ignore();
                }
                conn.clone()
                    .pipeline(&pipe)
                    .await
                    .map_err(|e| WriteError::Store(describe(&e)))?;
            }
            done += chunk.len();
            progress(done);
        }
        Ok(())
    }

    fn commands(&self, username: &str, record: &UserRecord) -> Vec<redis::Cmd> {
        let c = &record.credentials;
        let a = &record.attributes;
        let key = self.key(username, c.hash());
        let b64 = Encoding::Base64;
        let mut hset = redis::cmd("HSET");
        hset.arg(&key)
            .arg("salt")
            .arg(b64.encode(c.salt()))
            .arg("stored_key")
            .arg(b64.encode(c.stored_key().as_bytes()))
            .arg("server_key")
            .arg(b64.encode(c.server_key().as_bytes()))
            .arg("iterations")
            .arg(c.iterations())
            .arg("is_superuser")
            .arg(if a.is_superuser { "true" } else { "false" });
        let mut absent = Vec::new();
        match a.expire_at {
            Some(at) => {
                hset.arg("expire_at").arg(at);
            }
            None => absent.push(OPTIONAL_FIELDS[0]),
        }
        match serde_json::to_string(&a.client_attrs) {
            Ok(json) if !a.client_attrs.is_empty() => {
                hset.arg("client_attrs").arg(json);
            }
            _ => absent.push(OPTIONAL_FIELDS[1]),
        }
        let rules = acl_rules(record);
        match serde_json::to_string(&rules) {
            Ok(json) if !rules.is_empty() => {
                hset.arg("acl").arg(json);
            }
            _ => absent.push(OPTIONAL_FIELDS[2]),
        }
        let mut commands = std::vec![hset];
        if !absent.is_empty() {
            let mut hdel = redis::cmd("HDEL");
            hdel.arg(&key).arg(absent);
            commands.push(hdel);
        }
        commands
    }

    /// Every user stored under the prefix (all masters of a cluster), sorted by username
    /// and mechanism. A hash that does not decode is an error naming its key
    /// ([`read_all_lenient`](Self::read_all_lenient) skips it).
    pub async fn read_all(&self) -> Result<Vec<(String, UserRecord)>, WriteError> {
        let (users, mut skipped) = self.read_all_lenient().await?;
        match skipped.drain(..).next() {
            Some(first) => Err(first),
            None => Ok(users),
        }
    }

    /// Every user under the prefix whose hash decodes, and a [`WriteError::Record`]
    /// (naming the key, never a value) for each one that does not. Only a failure of the
    /// store itself is an error.
    pub async fn read_all_lenient(
        &self,
    ) -> Result<(Vec<(String, UserRecord)>, Vec<WriteError>), WriteError> {
        let store = |e: redis::RedisError| WriteError::Store(describe(&e));
        let mut conn = self.backend.connection().await.map_err(store)?;
        let pattern = std::format!("{}:*", glob_escape(&self.prefix));
        let mut keys = Vec::new();
        for node in self.masters(&mut conn).await? {
            let mut cursor: u64 = 0;
            loop {
                let mut scan = redis::cmd("SCAN");
                scan.arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000);
                let value = match (&mut conn, &node) {
                    (Conn::Cluster(c), Some((host, port))) => c
                        .route_command(
                            scan,
                            redis::cluster_routing::RoutingInfo::SingleNode(
                                redis::cluster_routing::SingleNodeRoutingInfo::ByAddress {
                                    host: host.clone(),
                                    port: *port,
                                },
                            ),
                        )
                        .await
                        .map_err(store)?,
                    _ => conn.query(&scan).await.map_err(store)?,
                };
                let (next, batch): (u64, Vec<String>) =
                    redis::from_redis_value(value).map_err(|e| WriteError::Store(e.to_string()))?;
                keys.extend(batch);
                cursor = next;
                if cursor == 0 {
                    break;
                }
            }
        }
        keys.sort();
        keys.dedup();
        let mut users = Vec::with_capacity(keys.len());
        let mut skipped = Vec::new();
        for key in keys {
            let bad = |reason: String| WriteError::Record {
                key: key.clone(),
                reason,
            };
            let rest = key.get(self.prefix.len() + 1..).unwrap_or_default();
            let Some((mechanism, username)) = rest.split_once(':') else {
                skipped.push(bad("not <prefix>:<mechanism>:<username>".into()));
                continue;
            };
            let hash = match mechanism {
                "SCRAM-SHA-256" => HashAlgorithm::Sha256,
                "SCRAM-SHA-512" => HashAlgorithm::Sha512,
                _ => {
                    skipped.push(bad("unknown mechanism".into()));
                    continue;
                }
            };
            let mut hgetall = redis::cmd("HGETALL");
            hgetall.arg(&key);
            let value = conn.query(&hgetall).await.map_err(store)?;
            let cells = match fields(&Reply::Map, value) {
                Ok(Some(cells)) => cells,
                Ok(None) => continue, // deleted meanwhile
                Err(reason) => {
                    skipped.push(bad(reason));
                    continue;
                }
            };
            match decode_record(cells, hash, Encoding::Base64) {
                Ok(Lookup::Found(record)) => {
                    users.push((username.to_string(), UserRecord::clone(&record)))
                }
                Ok(_) => skipped.push(bad("does not decode".into())),
                Err(reason) => skipped.push(bad(reason)),
            }
        }
        Ok((users, skipped))
    }

    /// The masters to scan: `[None]` (the connection's server) outside a cluster.
    async fn masters(&self, conn: &mut Conn) -> Result<Vec<Option<(String, u16)>>, WriteError> {
        if !self.cluster {
            return Ok(std::vec![None]);
        }
        let mut nodes = redis::cmd("CLUSTER");
        nodes.arg("NODES");
        let text: String = redis::from_redis_value(
            conn.query(&nodes)
                .await
                .map_err(|e| WriteError::Store(describe(&e)))?,
        )
        .map_err(|e| WriteError::Store(e.to_string()))?;
        let mut masters = Vec::new();
        for line in text.lines() {
            let mut parts = line.split_whitespace();
            let (Some(_id), Some(addr), Some(flags)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if !flags.split(',').any(|f| f == "master") || flags.contains("fail") {
                continue;
            }
            let addr = addr.split('@').next().unwrap_or_default();
            if let Some((host, port)) = addr.rsplit_once(':') {
                if let Ok(port) = port.parse() {
                    masters.push(Some((host.to_string(), port)));
                }
            }
        }
        if masters.is_empty() {
            return Err(WriteError::Store("CLUSTER NODES lists no master".into()));
        }
        Ok(masters)
    }
}

/// `text` with the glob characters of `SCAN MATCH` escaped.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
