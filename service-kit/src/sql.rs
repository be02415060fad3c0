//! Reading the two column kinds both services store money and keys in: `NUMERIC(39,0)` amounts (read
//! as text, parsed exactly) and fixed-size `BYTEA` (hashes, accounts, signatures).

use sqlx::postgres::PgRow;
use sqlx::Row;

/// A NUMERIC column, selected as text (`column::text`), parsed into an exact integer type.
pub fn numeric<T: std::str::FromStr>(row: &PgRow, column: &str) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    text.parse().map_err(|_| sqlx::Error::Decode(format!("{column}: {text} is not an integer in range").into()))
}

/// A BYTEA column of exactly `N` bytes.
pub fn fixed<const N: usize>(row: &PgRow, column: &str) -> Result<[u8; N], sqlx::Error> {
    let raw: Vec<u8> = row.try_get(column)?;
    raw.try_into().map_err(|_| sqlx::Error::Decode(format!("{column}: not {N} bytes").into()))
}
