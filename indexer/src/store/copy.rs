//! Rows in PostgreSQL's `COPY ... FROM STDIN` text format: the indexer writes every batch with `COPY`
//! (no bind-parameter limit, a fraction of the cost of multi-row `INSERT`s).
//!
//! Text format: fields separated by a tab, rows ended by a newline, `\N` for NULL, and a backslash
//! before any backslash, tab, newline or carriage return inside a field. `bytea` goes in as hex
//! (`\x…`), so its backslash is doubled; a `bytea[]` is an array literal of such values, whose
//! backslashes the array parser also unescapes; a `numeric[]` is an array literal of decimal digits,
//! which neither layer escapes.

use std::fmt::Write as _;

use sqlx::{Postgres, Transaction};

use crate::error::{Error, Result};

/// A `COPY` text payload being built, row by row.
#[derive(Debug, Default)]
pub struct CopyRows {
    text: String,
    fields_in_row: usize,
    rows: usize,
}

impl CopyRows {
    /// An empty payload.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn sep(&mut self) {
        if self.fields_in_row > 0 {
            self.text.push('\t');
        }
        self.fields_in_row = self.fields_in_row.saturating_add(1);
    }

    /// An integer (BIGINT, INTEGER).
    pub fn int(&mut self, n: i64) -> &mut Self {
        self.sep();
        let _ = write!(self.text, "{n}");
        self
    }

    /// An integer or NULL.
    pub fn opt_int(&mut self, n: Option<i64>) -> &mut Self {
        match n {
            Some(n) => self.int(n),
            None => self.null(),
        }
    }

    /// A NUMERIC: any u128, exactly.
    pub fn num(&mut self, n: u128) -> &mut Self {
        self.sep();
        let _ = write!(self.text, "{n}");
        self
    }

    /// A NUMERIC or NULL.
    pub fn opt_num(&mut self, n: Option<u128>) -> &mut Self {
        match n {
            Some(n) => self.num(n),
            None => self.null(),
        }
    }

    /// A NUMERIC[]: u128s, exactly (digits need no escaping at either layer).
    pub fn num_list(&mut self, list: &[u128]) -> &mut Self {
        self.sep();
        self.text.push('{');
        for (i, n) in list.iter().enumerate() {
            if i > 0 {
                self.text.push(',');
            }
            let _ = write!(self.text, "{n}");
        }
        self.text.push('}');
        self
    }

    /// A BYTEA.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.sep();
        self.text.push_str("\\\\x");
        self.push_hex(b);
        self
    }

    /// A BYTEA or NULL.
    pub fn opt_bytes(&mut self, b: Option<&[u8]>) -> &mut Self {
        match b {
            Some(b) => self.bytes(b),
            None => self.null(),
        }
    }

    /// A BYTEA[].
    pub fn bytes_list<B: AsRef<[u8]>>(&mut self, list: &[B]) -> &mut Self {
        self.sep();
        self.text.push('{');
        for (i, b) in list.iter().enumerate() {
            if i > 0 {
                self.text.push(',');
            }
            // The array parser turns `\\` into `\`, then COPY's own layer doubles each again.
            self.text.push_str("\\\\\\\\x");
            self.push_hex(b.as_ref());
        }
        self.text.push('}');
        self
    }

    /// A BOOLEAN.
    pub fn bool(&mut self, b: bool) -> &mut Self {
        self.sep();
        self.text.push(if b { 't' } else { 'f' });
        self
    }

    /// A TEXT.
    pub fn text(&mut self, s: &str) -> &mut Self {
        self.sep();
        for c in s.chars() {
            match c {
                '\\' => self.text.push_str("\\\\"),
                '\t' => self.text.push_str("\\t"),
                '\n' => self.text.push_str("\\n"),
                '\r' => self.text.push_str("\\r"),
                c => self.text.push(c),
            }
        }
        self
    }

    /// NULL.
    pub fn null(&mut self) -> &mut Self {
        self.sep();
        self.text.push_str("\\N");
        self
    }

    /// Ends the current row.
    pub fn end_row(&mut self) {
        self.text.push('\n');
        self.fields_in_row = 0;
        self.rows = self.rows.saturating_add(1);
    }

    /// Rows so far.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.rows
    }

    fn push_hex(&mut self, b: &[u8]) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        self.text.reserve(b.len().saturating_mul(2));
        for byte in b {
            self.text.push(char::from(DIGITS[usize::from(byte >> 4)]));
            self.text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
        }
    }

    /// Sends the rows into `table (columns)` within `tx`; nothing if there are none.
    pub async fn send(self, tx: &mut Transaction<'_, Postgres>, table: &str, columns: &[&str]) -> Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let statement = format!("COPY {table} ({}) FROM STDIN", columns.join(", "));
        let mut copy = tx.copy_in_raw(&statement).await?;
        copy.send(self.text.into_bytes()).await?;
        let written = copy.finish().await?;
        if usize::try_from(written).ok() != Some(self.rows) {
            return Err(Error::Decode(format!("COPY into {table} wrote {written} rows of {}", self.rows)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_tab_separated_and_escaped() {
        let mut c = CopyRows::new();
        c.int(-5).num(u128::MAX).bytes(&[0xab, 0x01]).opt_bytes(None).bool(true).text("a\tb\\c\n");
        c.end_row();
        c.bytes_list(&[[1u8, 2], [3, 4]]).bytes_list::<[u8; 0]>(&[]);
        c.end_row();
        c.num_list(&[0, u128::MAX]).num_list(&[]);
        c.end_row();
        assert_eq!(c.rows(), 3);
        assert_eq!(
            c.text,
            "-5\t340282366920938463463374607431768211455\t\\\\xab01\t\\N\tt\ta\\tb\\\\c\\n\n\
             {\\\\\\\\x0102,\\\\\\\\x0304}\t{}\n\
             {0,340282366920938463463374607431768211455}\t{}\n"
        );
    }
}
