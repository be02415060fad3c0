//! Keyset pagination of the auditor API's lists: a `limit` (default [`DEFAULT_LIMIT`], at most
//! [`MAX_LIMIT`]) and an opaque `cursor`, the key of the last row of the previous page, which a page
//! returns as `next` (`null` on the last page).
//!
//! A cursor is the hex of a tag byte naming the kind of key and the key's big-endian bytes, so a
//! cursor of one list is refused by another (`bad_cursor`), as is anything that does not decode.
//! The store reads one row more than the limit (`WHERE key > cursor ORDER BY key LIMIT limit + 1`) to
//! know whether another page follows.

use serde::Deserialize;

use crate::error::{Error, Result};

/// Rows per page when the request names no `limit`.
pub const DEFAULT_LIMIT: u32 = 100;
/// The largest `limit` served; more is refused (`limit_too_large`).
pub const MAX_LIMIT: u32 = 1_000;

/// `?limit=&cursor=` of the list routes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Most rows (1 to [`MAX_LIMIT`]).
    pub limit: Option<i64>,
    /// Where the previous page ended (its `next`).
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The limit asked for, checked.
    pub fn limit(&self) -> Result<u32> {
        limit(self.limit)
    }

    /// The cursor asked for, if any, decoded as a `K`.
    pub fn cursor<K: Key>(&self) -> Result<Option<K>> {
        self.cursor.as_deref().map(decode).transpose()
    }
}

/// `limit`, checked: absent is [`DEFAULT_LIMIT`]; below 1 is `bad_limit`, above [`MAX_LIMIT`] is
/// `limit_too_large`.
pub fn limit(limit: Option<i64>) -> Result<u32> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if n < 1 => Err(Error::bad_request("bad_limit", format!("limit {n} is below 1"))),
        Some(n) => match u32::try_from(n) {
            Ok(n) if n <= MAX_LIMIT => Ok(n),
            _ => Err(Error::bad_request("limit_too_large", format!("limit {n} is above the maximum {MAX_LIMIT}"))),
        },
    }
}

/// A row's key in one list's order.
pub trait Key: Sized {
    /// The byte naming this kind of key in a cursor.
    const TAG: u8;
    /// The key's bytes.
    fn to_bytes(&self) -> Vec<u8>;
    /// The key from its bytes, if they are one.
    fn from_bytes(bytes: &[u8]) -> Option<Self>;
}

/// `key` as a cursor.
#[must_use]
pub fn encode<K: Key>(key: &K) -> String {
    let mut bytes = vec![K::TAG];
    bytes.extend(key.to_bytes());
    hex::encode(bytes)
}

/// A cursor as a `K`; anything else is `bad_cursor`.
pub fn decode<K: Key>(cursor: &str) -> Result<K> {
    let bad = || Error::bad_request("bad_cursor", format!("`{cursor}` is not a cursor of this list"));
    let bytes = hex::decode(cursor).map_err(|_| bad())?;
    match bytes.split_first() {
        Some((tag, rest)) if *tag == K::TAG => K::from_bytes(rest).ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// Of `rows` (read with `limit + 1`), the page (at most `limit`) and the cursor of its last row when
/// more follow.
pub fn split<T, K: Key>(mut rows: Vec<T>, limit: u32, key: impl Fn(&T) -> K) -> (Vec<T>, Option<String>) {
    let limit = limit as usize;
    if rows.len() <= limit {
        return (rows, None);
    }
    rows.truncate(limit);
    let next = rows.last().map(|r| encode(&key(r)));
    (rows, next)
}

fn array<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    bytes.try_into().ok()
}

/// An event's position: block number, event index. The order of histories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventKey {
    /// Block number.
    pub block: u64,
    /// Index among the block's events.
    pub event: u32,
}

impl Key for EventKey {
    const TAG: u8 = b'e';
    fn to_bytes(&self) -> Vec<u8> {
        [self.block.to_be_bytes().as_slice(), &self.event.to_be_bytes()].concat()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (block, event) = (bytes.get(..8)?, bytes.get(8..)?);
        Some(Self { block: u64::from_be_bytes(array(block)?), event: u32::from_be_bytes(array(event)?) })
    }
}

/// A statement line's position: its event's, and which of the event's lines (a release to a provider
/// that is also the treasury makes two).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineKey {
    /// The event.
    pub event: EventKey,
    /// Which of its lines (0 or 1).
    pub part: u8,
}

impl Key for LineKey {
    const TAG: u8 = b'l';
    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.event.to_bytes();
        bytes.push(self.part);
        bytes
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (part, event) = bytes.split_last()?;
        Some(Self { event: EventKey::from_bytes(event)?, part: *part })
    }
}

/// A job id: the order of job lists and of a provider's payouts per job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct JobKey(pub u64);

impl Key for JobKey {
    const TAG: u8 = b'j';
    fn to_bytes(&self) -> Vec<u8> {
        self.0.to_be_bytes().to_vec()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(Self(u64::from_be_bytes(array(bytes)?)))
    }
}

/// A provider in the providers list's order: latest score (highest first, none last), then account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderKey {
    /// Its latest score; `i64::MIN` stands for none (so sorts last).
    pub score: i64,
    /// The provider.
    pub provider: [u8; 32],
}

impl Key for ProviderKey {
    const TAG: u8 = b'p';
    fn to_bytes(&self) -> Vec<u8> {
        [self.score.to_be_bytes().as_slice(), &self.provider].concat()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (score, provider) = (bytes.get(..8)?, bytes.get(8..)?);
        Some(Self { score: i64::from_be_bytes(array(score)?), provider: array(provider)? })
    }
}

/// A bucket's start (ms): the order of the market series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeriesKey(pub i64);

impl Key for SeriesKey {
    const TAG: u8 = b's';
    fn to_bytes(&self) -> Vec<u8> {
        self.0.to_be_bytes().to_vec()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(Self(i64::from_be_bytes(array(bytes)?)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_others() {
        let key = LineKey { event: EventKey { block: 7, event: 3 }, part: 1 };
        assert_eq!(decode::<LineKey>(&encode(&key)).unwrap(), key);
        let job = JobKey(u64::MAX);
        assert_eq!(decode::<JobKey>(&encode(&job)).unwrap(), job);
        let p = ProviderKey { score: i64::MIN, provider: [9; 32] };
        assert_eq!(decode::<ProviderKey>(&encode(&p)).unwrap(), p);
        let bucket = SeriesKey(1_700_000_000_000);
        assert_eq!(decode::<SeriesKey>(&encode(&bucket)).unwrap(), bucket);
        assert!(decode::<SeriesKey>(&encode(&job)).is_err(), "a job list's cursor");
        for bad in ["", "zz", "6a", &encode(&job)[..10], &encode(&key)] {
            assert!(decode::<JobKey>(bad).is_err(), "{bad}");
        }
        assert!(decode::<EventKey>(&encode(&key)).is_err(), "another list's cursor");
    }

    #[test]
    fn limits_are_checked() {
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(limit(Some(1_000)).unwrap(), 1_000);
        assert!(matches!(limit(Some(1_001)), Err(Error::BadRequest { code: "limit_too_large", .. })));
        assert!(matches!(limit(Some(i64::MAX)), Err(Error::BadRequest { code: "limit_too_large", .. })));
        assert!(matches!(limit(Some(0)), Err(Error::BadRequest { code: "bad_limit", .. })));
    }

    #[test]
    fn a_page_ends_with_the_cursor_of_its_last_row() {
        let (page, next) = split(vec![1_u64, 2, 3], 2, |n| JobKey(*n));
        assert_eq!(page, [1, 2]);
        assert_eq!(next, Some(encode(&JobKey(2))));
        assert_eq!(split(vec![1_u64, 2], 2, |n| JobKey(*n)), (vec![1, 2], None));
    }
}
