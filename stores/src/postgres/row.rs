//! A result row into named [`Cell`]s, accepting the column types a hand-made table is
//! likely to use and naming the column of anything else.

use std::string::{String, ToString};
use std::vec::Vec;

use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, Type};

use crate::remote::{Cell, Fields};

/// Seconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01.
const PG_EPOCH_UNIX: i64 = 946_684_800;

/// Any column's raw value and type; converted by [`cell`].
struct Raw {
    ty: Type,
    bytes: Option<Vec<u8>>,
}

impl<'a> FromSql<'a> for Raw {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Self {
            ty: ty.clone(),
            bytes: Some(raw.to_vec()),
        })
    }

    fn from_sql_null(ty: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Self {
            ty: ty.clone(),
            bytes: None,
        })
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        if let Some(b) = &mut self.bytes {
            zeroize::Zeroize::zeroize(b);
        }
    }
}

/// The named cells of `row`, except the columns named in `skip`. Unknown column names
/// are an error (a typo would otherwise silently drop a setting).
pub(crate) fn fields(row: &Row, skip: &[&str]) -> Result<Fields, String> {
    let mut fields = Fields::new();
    for (i, column) in row.columns().iter().enumerate() {
        let name = column.name();
        if skip.contains(&name) {
            continue;
        }
        if !crate::remote::is_known_field(name) {
            return Err(std::format!(
                "unknown column {name:?} (known: {})",
                crate::remote::KNOWN_FIELDS.join(", ")
            ));
        }
        let raw: Raw = row
            .try_get(i)
            .map_err(|e| std::format!("column {name}: {e}"))?;
        fields.insert(name.to_string(), cell(name, &raw)?);
    }
    Ok(fields)
}

fn cell(name: &str, raw: &Raw) -> Result<Cell, String> {
    let Some(bytes) = raw.bytes.as_deref() else {
        return Ok(Cell::Null);
    };
    let bad = |e: Box<dyn std::error::Error + Sync + Send>| std::format!("column {name}: {e}");
    let ty = &raw.ty;
    Ok(match *ty {
        Type::BYTEA => Cell::bytes(bytes),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            Cell::text(String::from_sql(ty, bytes).map_err(bad)?)
        }
        Type::INT2 => Cell::Int(i16::from_sql(ty, bytes).map_err(bad)?.into()),
        Type::INT4 => Cell::Int(i32::from_sql(ty, bytes).map_err(bad)?.into()),
        Type::INT8 => Cell::Int(i64::from_sql(ty, bytes).map_err(bad)?),
        Type::BOOL => Cell::Bool(bool::from_sql(ty, bytes).map_err(bad)?),
        Type::JSON | Type::JSONB => {
            Cell::Json(serde_json::Value::from_sql(ty, bytes).map_err(bad)?)
        }
        Type::TIMESTAMPTZ | Type::TIMESTAMP => {
            let micros = i64::from_sql(&Type::INT8, bytes).map_err(bad)?;
            match micros {
                i64::MAX => Cell::Null,   // 'infinity': never expires
                i64::MIN => Cell::Int(0), // '-infinity': expired
                m => Cell::Int(m.div_euclid(1_000_000).saturating_add(PG_EPOCH_UNIX)),
            }
        }
        _ => {
            return Err(std::format!(
                "column {name} has type {ty}; use bytea, text, integer, boolean, json(b) or timestamp(tz) (or cast it)"
            ));
        }
    })
}

/// Unix seconds as PostgreSQL's `timestamptz` wire value, for writing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnixTime(pub(crate) u64);

impl tokio_postgres::types::ToSql for UnixTime {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let seconds = i64::try_from(self.0)?;
        let micros = seconds
            .checked_sub(PG_EPOCH_UNIX)
            .and_then(|s| s.checked_mul(1_000_000))
            .ok_or("expire_at out of range")?;
        let _ = ty;
        micros.to_sql(&Type::INT8, out)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::TIMESTAMPTZ | Type::TIMESTAMP)
    }

    tokio_postgres::types::to_sql_checked!();
}
