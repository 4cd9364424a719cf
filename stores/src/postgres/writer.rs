//! [`PostgresWriter`]: what `mqtt-scram import` and `export` use to write users into the
//! default schema (batched, idempotent upserts in one transaction) and read them back.

use std::string::{String, ToString};
use std::vec::Vec;

use mqtt_scram::HashAlgorithm;
use mqtt_scram::provider::{Lookup, UserRecord};
use serde_json::Value;

use super::config::{PostgresConfig, PostgresConfigError};
use super::connect::{describe, describe_pool_error, pool};
use super::row::{UnixTime, fields};
use super::schema::{export_sql, schema_sql, upsert_sql};
use crate::record::acl_rules;
use crate::remote::{Encoding, decode_record};

/// Why writing to or reading from a store failed (never a secret).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] PostgresConfigError),
    /// The store refused or could not be reached.
    #[error("postgres: {0}")]
    Store(String),
    /// A stored record cannot be read back.
    #[error("postgres: record of {username:?} ({mechanism}): {reason}")]
    Record {
        /// The user.
        username: String,
        /// The row's mechanism.
        mechanism: String,
        /// What is wrong.
        reason: String,
    },
}

/// Writes users into the default schema's table and reads them back.
///
/// ```no_run
/// use mqtt_scram_stores::postgres::{PostgresConfig, PostgresWriter};
/// # async fn demo(users: Vec<(String, mqtt_scram::provider::UserRecord)>) -> Result<(), Box<dyn std::error::Error>> {
/// let mut writer = PostgresWriter::connect(&PostgresConfig::new("postgres://mqtt@db/mqtt")).await?;
/// writer.create_schema().await?;
/// writer.write_all(&users, 1_000, |done| eprintln!("{done} written")).await?;
/// let back = writer.read_all().await?;
/// assert_eq!(back.len(), users.len());
/// # Ok(())
/// # }
/// ```
pub struct PostgresWriter {
    client: deadpool_postgres::Object,
    table: String,
}

impl core::fmt::Debug for PostgresWriter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PostgresWriter")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl PostgresWriter {
    /// Connects (one connection, the configuration's URL, TLS and timeouts). The
    /// configuration's `table` is written; a `query` is not used.
    pub async fn connect(config: &PostgresConfig) -> Result<Self, WriteError> {
        let mut config = config.clone();
        config.query = None;
        config.check()?;
        // Writing 100,000 users takes longer than a lookup's statement timeout.
        config.statement_timeout = config
            .statement_timeout
            .max(std::time::Duration::from_secs(600));
        config.pool_size = 1;
        let pool = pool(&config)?;
        let client = pool
            .get()
            .await
            .map_err(|e| WriteError::Store(describe_pool_error(&e).1))?;
        Ok(Self {
            client,
            table: config.table,
        })
    }

    /// Creates the table if it does not exist ([`schema_sql`](super::schema_sql)).
    pub async fn create_schema(&self) -> Result<(), WriteError> {
        let sql = schema_sql(&self.table).map_err(|r| PostgresConfigError::setting("table", &r))?;
        self.client
            .batch_execute(&sql)
            .await
            .map_err(|e| WriteError::Store(describe(&e)))
    }

    /// Upserts every user in batches of `batch` rows, all in one transaction (all or
    /// nothing); a user already stored for the same mechanism is replaced. `progress`
    /// gets the number of users written so far after each batch.
    pub async fn write_all(
        &mut self,
        users: &[(String, UserRecord)],
        batch: usize,
        mut progress: impl FnMut(usize),
    ) -> Result<(), WriteError> {
        let sql = upsert_sql(&self.table);
        let fail = |e: tokio_postgres::Error| WriteError::Store(describe(&e));
        let transaction = self.client.transaction().await.map_err(fail)?;
        let statement = transaction.prepare(&sql).await.map_err(fail)?;
        let mut done = 0;
        for chunk in users.chunks(batch.max(1)) {
            let columns = Columns::new(chunk);
            transaction
                .execute(
                    &statement,
                    &[
                        &columns.username,
                        &columns.mechanism,
                        &columns.iterations,
                        &columns.salt,
                        &columns.stored_key,
                        &columns.server_key,
                        &columns.is_superuser,
                        &columns.client_attrs,
                        &columns.expire_at,
                        &columns.acl,
                    ],
                )
                .await
                .map_err(fail)?;
            done += chunk.len();
            progress(done);
        }
        transaction.commit().await.map_err(fail)
    }

    /// Every stored user and mechanism, ordered by username. A row that does not decode is
    /// an error naming the user ([`read_all_lenient`](Self::read_all_lenient) skips it).
    pub async fn read_all(&self) -> Result<Vec<(String, UserRecord)>, WriteError> {
        let (users, mut skipped) = self.read_all_lenient().await?;
        match skipped.drain(..).next() {
            Some(first) => Err(first),
            None => Ok(users),
        }
    }

    /// Every stored user and mechanism that decodes, ordered by username, and a
    /// [`WriteError::Record`] (naming the user and mechanism, never a value) for each row
    /// that does not. Only a failure of the store itself is an error.
    pub async fn read_all_lenient(
        &self,
    ) -> Result<(Vec<(String, UserRecord)>, Vec<WriteError>), WriteError> {
        let rows = self
            .client
            .query(&export_sql(&self.table), &[])
            .await
            .map_err(|e| WriteError::Store(describe(&e)))?;
        let mut users = Vec::with_capacity(rows.len());
        let mut skipped = Vec::new();
        for row in rows {
            let username: String = row
                .try_get("username")
                .map_err(|e| WriteError::Store(describe(&e)))?;
            let mechanism: String = row
                .try_get("mechanism")
                .map_err(|e| WriteError::Store(describe(&e)))?;
            match decode_row(&row, &mechanism) {
                Ok(record) => users.push((username, record)),
                Err(reason) => skipped.push(WriteError::Record {
                    username,
                    mechanism,
                    reason,
                }),
            }
        }
        Ok((users, skipped))
    }
}

/// One exported row's record, or why it does not decode.
fn decode_row(row: &tokio_postgres::Row, mechanism: &str) -> Result<UserRecord, String> {
    let hash = match mechanism {
        "SCRAM-SHA-256" => HashAlgorithm::Sha256,
        "SCRAM-SHA-512" => HashAlgorithm::Sha512,
        _ => return Err("unknown mechanism".into()),
    };
    let cells = fields(row, &["username"])?;
    match decode_record(cells, hash, Encoding::Base64)? {
        Lookup::Found(record) => Ok(UserRecord::clone(&record)),
        _ => Err("does not decode".into()),
    }
}

/// One batch as parallel arrays, in the order of [`upsert_sql`].
struct Columns {
    username: Vec<String>,
    mechanism: Vec<String>,
    iterations: Vec<i32>,
    salt: Vec<Vec<u8>>,
    stored_key: Vec<Vec<u8>>,
    server_key: Vec<Vec<u8>>,
    is_superuser: Vec<bool>,
    client_attrs: Vec<Option<Value>>,
    expire_at: Vec<Option<UnixTime>>,
    acl: Vec<Option<Value>>,
}

impl Columns {
    fn new(users: &[(String, UserRecord)]) -> Self {
        let n = users.len();
        let mut c = Self {
            username: Vec::with_capacity(n),
            mechanism: Vec::with_capacity(n),
            iterations: Vec::with_capacity(n),
            salt: Vec::with_capacity(n),
            stored_key: Vec::with_capacity(n),
            server_key: Vec::with_capacity(n),
            is_superuser: Vec::with_capacity(n),
            client_attrs: Vec::with_capacity(n),
            expire_at: Vec::with_capacity(n),
            acl: Vec::with_capacity(n),
        };
        for (username, record) in users {
            let credentials = &record.credentials;
            let attributes = &record.attributes;
            c.username.push(username.clone());
            c.mechanism
                .push(credentials.hash().mechanism().name().to_string());
            // Iteration counts above i32::MAX cannot be stored in `integer`; saturate (the
            // engine's policy refuses such counts anyway).
            c.iterations
                .push(i32::try_from(credentials.iterations()).unwrap_or(i32::MAX));
            c.salt.push(credentials.salt().to_vec());
            c.stored_key
                .push(credentials.stored_key().as_bytes().to_vec());
            c.server_key
                .push(credentials.server_key().as_bytes().to_vec());
            c.is_superuser.push(attributes.is_superuser);
            c.client_attrs.push(if attributes.client_attrs.is_empty() {
                None
            } else {
                serde_json::to_value(&attributes.client_attrs).ok()
            });
            c.expire_at.push(attributes.expire_at.map(UnixTime));
            let rules = acl_rules(record);
            c.acl.push(if rules.is_empty() {
                None
            } else {
                serde_json::to_value(&rules).ok()
            });
        }
        c
    }
}

impl Drop for Columns {
    fn drop(&mut self) {
        for key in self.stored_key.iter_mut().chain(self.server_key.iter_mut()) {
            zeroize::Zeroize::zeroize(key);
        }
    }
}
