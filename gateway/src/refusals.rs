//! The refusal log, bounded whatever clients send. Every refused receipt is counted by code, one row per
//! code and hour (`refusal_counts`); only a sample is kept whole (`rejected_receipts`): at most
//! `samples_per_minute` per code, each body and message cut to [`SAMPLE_BYTES`], the table capped at
//! `sample_cap` rows and rows older than `sample_max_age` deleted, and count rows older than
//! `count_max_age`. Refusals are gathered in memory and written by one task once a second
//! ([`RefusalLog::flush`]), so a flood of refusals costs no write per request and no lock contention
//! on a counter row. A crash loses at most what was gathered since the last write (a second, or all of a
//! Postgres outage): refusals only, nothing acknowledged. A write whose commit is not acknowledged is
//! gathered again, so its counts may be written twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Result;
use crate::store::Store;

/// The most bytes of a sampled body or message kept (cut on a character boundary).
pub const SAMPLE_BYTES: usize = 4_096;

/// How often the gathered refusals are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// How often old samples and counts are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// How the log is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most samples kept per code per minute.
    pub samples_per_minute: u32,
    /// Most sample rows kept in all.
    pub sample_cap: u64,
    /// Samples older than this are deleted.
    pub sample_max_age: Duration,
    /// Count rows older than this are deleted.
    pub count_max_age: Duration,
}

/// One refused receipt kept whole (well, up to [`SAMPLE_BYTES`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// The refusal's code.
    pub code: &'static str,
    /// Its public message, cut.
    pub message: String,
    /// The receipt as sent (its JSON, if it was an object), cut.
    pub body: Option<String>,
    /// When it was refused, in seconds since the Unix epoch.
    pub at: u64,
}

/// What was gathered since the last flush: counts by (code, hour since the epoch) and samples.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Gathered {
    /// Refusals by code and hour (seconds since the epoch, on the hour).
    pub counts: BTreeMap<(&'static str, u64), u64>,
    /// The samples, in order.
    pub samples: Vec<Sample>,
}

/// The samples each code has taken in its current minute.
#[derive(Debug, Default)]
struct Budget(HashMap<&'static str, (u64, u32)>);

impl Budget {
    /// Whether a refusal with `code` at `at` (seconds) may be sampled: fewer than `per_minute` of that
    /// code were sampled in the same minute. Takes one from the minute's budget if so.
    fn take(&mut self, code: &'static str, at: u64, per_minute: u32) -> bool {
        let minute = at / 60;
        let (current, used) = self.0.entry(code).or_insert((minute, 0));
        if *current != minute {
            *current = minute;
            *used = 0;
        }
        if *used >= per_minute {
            return false;
        }
        *used = used.saturating_add(1);
        true
    }
}

/// `text` cut to at most [`SAMPLE_BYTES`] bytes, on a character boundary, any U+0000 replaced (Postgres
/// text cannot hold it, and one unwritable sample must not hold back the counts written with it).
#[must_use]
pub fn cut(text: &str) -> String {
    if text.contains('\0') {
        return cut(&text.replace('\0', "\u{fffd}"));
    }
    if text.len() <= SAMPLE_BYTES {
        return text.to_string();
    }
    let mut end = SAMPLE_BYTES;
    while !text.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    text[..end].to_string()
}

#[derive(Default)]
struct Inner {
    gathered: Gathered,
    budget: Budget,
}

/// The in-memory side of the refusal log, shared by every request.
pub struct RefusalLog {
    limits: Limits,
    inner: Mutex<Inner>,
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl RefusalLog {
    /// An empty log bounded by `limits`.
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        Self { limits, inner: Mutex::default() }
    }

    /// Records one refusal with `code`; `sample` (its message and body) is called only if the
    /// refusal is sampled. Memory stays bounded: counts are per code and hour, samples per code and
    /// minute.
    pub fn record(&self, code: &'static str, sample: impl FnOnce() -> (String, Option<String>)) {
        self.record_at(code, now_secs(), sample);
    }

    fn record_at(&self, code: &'static str, at: u64, sample: impl FnOnce() -> (String, Option<String>)) {
        let sampled = {
            let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            let hour = at.saturating_sub(at.checked_rem(3_600).unwrap_or(0));
            let count = inner.gathered.counts.entry((code, hour)).or_insert(0);
            *count = count.saturating_add(1);
            inner.budget.take(code, at, self.limits.samples_per_minute)
        };
        // The sample is made outside the lock: its body may be large before it is cut.
        if sampled {
            let (message, body) = sample();
            let sample = Sample { code, message: cut(&message), body: body.as_deref().map(cut), at };
            self.inner.lock().unwrap_or_else(PoisonError::into_inner).gathered.samples.push(sample);
        }
    }

    /// Takes what was gathered since the last call.
    pub fn take(&self) -> Gathered {
        std::mem::take(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner).gathered)
    }

    /// Writes what was gathered to `db` (one transaction). What cannot be written (Postgres down) is
    /// gathered again, so it is written with the next flush.
    pub async fn flush(&self, db: &Store) -> Result<()> {
        let gathered = self.take();
        if gathered.counts.is_empty() && gathered.samples.is_empty() {
            return Ok(());
        }
        if let Err(e) = db.write_refusals(&gathered).await {
            self.put_back(gathered);
            return Err(e);
        }
        Ok(())
    }

    /// Gathers `earlier` again (a flush that failed), within the bounds: counts merge, samples are kept
    /// only up to what one minute of every code could have taken.
    fn put_back(&self, earlier: Gathered) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        for (key, n) in earlier.counts {
            let count = inner.gathered.counts.entry(key).or_insert(0);
            *count = count.saturating_add(n);
        }
        let room = usize::try_from(self.limits.samples_per_minute).unwrap_or(usize::MAX).saturating_mul(64);
        let mut samples = earlier.samples;
        samples.append(&mut inner.gathered.samples);
        let drop = samples.len().saturating_sub(room);
        samples.drain(..drop);
        inner.gathered.samples = samples;
    }

    /// Flushes every [`FLUSH_EVERY`] and prunes every minute, while the log is alive; one last flush when
    /// the last owner drops it is not possible (it is gone), so at most one interval is lost then.
    pub async fn run(log: Weak<Self>, db: Store) {
        let mut since_prune = Duration::ZERO;
        loop {
            tokio::time::sleep(FLUSH_EVERY).await;
            let Some(log) = log.upgrade() else { return };
            if let Err(e) = log.flush(&db).await {
                tracing::warn!(error = %e, "refusal log not written; kept for the next flush");
            }
            since_prune = since_prune.saturating_add(FLUSH_EVERY);
            if since_prune >= PRUNE_EVERY {
                since_prune = Duration::ZERO;
                if let Err(e) = db.prune_refusals(&log.limits).await {
                    tracing::warn!(error = %e, "refusal log not pruned");
                }
            }
        }
    }

    /// Starts [`RefusalLog::run`] for a new log; it stops once the returned log is dropped.
    #[must_use]
    pub fn start(limits: Limits, db: Store) -> Arc<Self> {
        let log = Arc::new(Self::new(limits));
        tokio::spawn(Self::run(Arc::downgrade(&log), db));
        log
    }

    /// Its bounds.
    #[must_use]
    pub const fn limits(&self) -> &Limits {
        &self.limits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_minute: u32) -> Limits {
        Limits {
            samples_per_minute: per_minute,
            sample_cap: 10,
            sample_max_age: Duration::from_secs(60),
            count_max_age: Duration::from_secs(3_600),
        }
    }

    #[test]
    fn every_refusal_is_counted_but_only_a_few_per_code_and_minute_are_sampled() {
        let log = RefusalLog::new(limits(2));
        let mut asked = 0;
        for i in 0..1_000u64 {
            log.record_at("bad_signature", 7_200 + i % 60, || {
                asked += 1;
                ("m".into(), Some("{}".into()))
            });
        }
        log.record_at("job_not_found", 7_200, || ("m".into(), None));
        log.record_at("bad_signature", 7_260, || ("next minute".into(), None));
        let g = log.take();
        assert_eq!(g.counts.get(&("bad_signature", 7_200)), Some(&1_001));
        assert_eq!(g.counts.get(&("job_not_found", 7_200)), Some(&1));
        assert_eq!(asked, 2, "a body is built only for a sample");
        let codes: Vec<_> = g.samples.iter().map(|s| (s.code, s.at / 60)).collect();
        assert_eq!(
            codes,
            [("bad_signature", 120), ("bad_signature", 120), ("job_not_found", 120), ("bad_signature", 121)]
        );
        assert_eq!(log.take(), Gathered::default(), "taken once");
    }

    #[test]
    fn counts_are_per_hour() {
        let log = RefusalLog::new(limits(0));
        log.record_at("x", 3_599, || unreachable!("no sample budget"));
        log.record_at("x", 3_600, || unreachable!("no sample budget"));
        let g = log.take();
        assert_eq!(g.counts.into_iter().collect::<Vec<_>>(), [(("x", 0), 1), (("x", 3_600), 1)]);
    }

    #[test]
    fn bodies_are_cut_on_a_character_boundary() {
        let long = "é".repeat(SAMPLE_BYTES);
        let cut = cut(&long);
        assert!(cut.len() <= SAMPLE_BYTES && cut.len() >= SAMPLE_BYTES - 1);
        assert!(long.starts_with(&cut));
        assert_eq!(super::cut("short"), "short");
        assert_eq!(super::cut("a\0b"), "a\u{fffd}b", "no NUL reaches Postgres");
    }

    #[test]
    fn what_a_failed_flush_gathered_is_kept_within_bounds() {
        let log = RefusalLog::new(limits(1));
        for minute in 0..200u64 {
            log.record_at("x", minute * 60, || ("m".into(), None));
        }
        let g = log.take();
        assert_eq!(g.samples.len(), 200);
        log.record_at("x", 200 * 60, || ("m".into(), None));
        log.put_back(g);
        let again = log.take();
        assert_eq!(again.counts.values().sum::<u64>(), 201, "every count kept");
        assert_eq!(again.samples.len(), 64, "samples bounded");
        assert_eq!(again.samples.last().map(|s| s.at), Some(200 * 60), "the newest kept");
    }
}
