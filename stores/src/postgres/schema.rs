//! The default schema: its DDL, the lookup query, and the statements `mqtt-scram import`
//! and `export` use.

use std::string::String;

/// The columns of the default schema, in table order.
pub const COLUMNS: [&str; 10] = [
    "username",
    "mechanism",
    "iterations",
    "salt",
    "stored_key",
    "server_key",
    "is_superuser",
    "client_attrs",
    "expire_at",
    "acl",
];

/// The default schema's DDL for `table` (`CREATE TABLE IF NOT EXISTS`, so it can be run
/// again): one row per user and mechanism, salt and keys as `bytea`, `client_attrs` a JSON
/// object of strings, `expire_at` a timestamp (a record whose time has come is refused),
/// `acl` a JSON array of EMQX rules. `mqtt-scram schema` prints it.
///
/// ```
/// let sql = mqtt_scram_stores::postgres::schema_sql("mqtt_scram_users")?;
/// assert!(sql.contains("PRIMARY KEY (username, mechanism)"));
/// assert!(mqtt_scram_stores::postgres::schema_sql("users; DROP TABLE x").is_err());
/// # Ok::<(), String>(())
/// ```
pub fn schema_sql(table: &str) -> Result<String, String> {
    check_table_name(table)?;
    Ok(std::format!(
        "CREATE TABLE IF NOT EXISTS {table} (
    username     text        NOT NULL,
    mechanism    text        NOT NULL CHECK (mechanism IN ('SCRAM-SHA-256', 'SCRAM-SHA-512')),
    iterations   integer     NOT NULL CHECK (iterations > 0),
    salt         bytea       NOT NULL,
    stored_key   bytea       NOT NULL,
    server_key   bytea       NOT NULL,
    is_superuser boolean     NOT NULL DEFAULT false,
    client_attrs jsonb,
    expire_at    timestamptz,
    acl          jsonb,
    PRIMARY KEY (username, mechanism)
);
"
    ))
}

/// `Ok` for `name` or `schema.name` made of ASCII letters, digits and `_` (not starting
/// with a digit): the table name is the one piece of SQL that cannot be a bind parameter.
pub(crate) fn check_table_name(table: &str) -> Result<(), String> {
    let parts: std::vec::Vec<&str> = table.split('.').collect();
    let ok = (1..=2).contains(&parts.len())
        && parts.iter().all(|p| {
            p.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && p.len() <= 63
                && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(std::format!(
            "{table:?} is not a table name (letters, digits and _, optionally schema.table)"
        ))
    }
}

/// The lookup of the default schema: `$1` username, `$2` mechanism.
pub(crate) fn lookup_sql(table: &str) -> String {
    std::format!(
        "SELECT iterations, salt, stored_key, server_key, is_superuser, client_attrs, \
         expire_at, acl FROM {table} WHERE username = $1::text AND mechanism = $2::text"
    )
}

/// Upserts a batch given as parallel arrays (one statement per batch).
pub(crate) fn upsert_sql(table: &str) -> String {
    std::format!(
        "INSERT INTO {table} (username, mechanism, iterations, salt, stored_key, server_key, \
         is_superuser, client_attrs, expire_at, acl) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::int4[], $4::bytea[], $5::bytea[], \
         $6::bytea[], $7::bool[], $8::jsonb[], $9::timestamptz[], $10::jsonb[]) \
         ON CONFLICT (username, mechanism) DO UPDATE SET iterations = EXCLUDED.iterations, \
         salt = EXCLUDED.salt, stored_key = EXCLUDED.stored_key, server_key = EXCLUDED.server_key, \
         is_superuser = EXCLUDED.is_superuser, client_attrs = EXCLUDED.client_attrs, \
         expire_at = EXCLUDED.expire_at, acl = EXCLUDED.acl"
    )
}

/// Every row, for `export`.
pub(crate) fn export_sql(table: &str) -> String {
    std::format!(
        "SELECT username, mechanism, iterations, salt, stored_key, server_key, is_superuser, \
         client_attrs, expire_at, acl FROM {table} ORDER BY username, mechanism"
    )
}
