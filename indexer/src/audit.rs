//! The audit: recomputes everything from the stored events' bytes and compares. It first checks the
//! database was built for the contract the audit is for ([`identity`]), then re-links the hash chain
//! from the start block (any edited, inserted or deleted block or event breaks it), re-derives every
//! typed table and compares it row for row (and the overview's running totals with what those rows sum
//! to), re-derives the books ([`Ledger`]: per job, per provider's
//! stake, per account's claims), optionally compares it all with the node ([`node`]), and, where the
//! gateway stored the receipt a release settled, checks the receipt matches and its signature verifies.
//! It reads those receipts through [`ReceiptSource`], its own interface: the indexer does not know the
//! gateway. Through the same interface it checks the gateway's promises: every receipt it accepted was
//! settled once a job is finalized (G1), and, while a job is not, is still covered by its provider's
//! allocation (G2).

pub mod identity;
pub mod node;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;

use escrow_client::accounts::ss58;
use escrow_client::events::decode_labelled;
use escrow_client::AccountId;
use settlement::{Balance, Domain, Event, JobId, Receipt, Timestamp};

use self::identity::other_contract;
use crate::error::{Error, Result};
use crate::ledger::{Finding, Ledger, Position};
use crate::record::{accounts_of, link, IndexedEvent};
use crate::store::typed::{self, TABLES};
use crate::store::{Db, Filter};

/// Blocks read per round.
const CHUNK: u64 = 5_000;

/// A receipt the gateway stored, with the payer's signature.
#[derive(Debug, Clone)]
pub struct StoredReceipt {
    /// The receipt.
    pub receipt: Receipt<AccountId>,
    /// The signature over its signing bytes.
    pub signature: [u8; 64],
}

/// The key a stored receipt is found by: (job, provider, cumulative amount). Receipts are ordered by
/// cumulative amount only, so the amount (not the sequence, which a lane may repeat) identifies the
/// receipt a release settled among those the gateway accepted for the lane.
pub type ReceiptKey = (JobId, AccountId, Balance);

/// Where the audit finds the receipts releases settled (in the `escrow audit` command: the gateway's
/// database).
pub trait ReceiptSource {
    /// Why a lookup failed.
    type Error;

    /// The stored receipts with these keys, in any order; keys without a stored receipt are skipped.
    fn receipts_at(
        &self,
        keys: &[ReceiptKey],
    ) -> impl Future<Output = core::result::Result<Vec<StoredReceipt>, Self::Error>> + Send;

    /// For each lane of these jobs (finalized or not), the highest cumulative amount the gateway accepted
    /// (answered 2xx for): its promise to the provider. Lanes with nothing accepted are skipped.
    fn accepted_lanes(
        &self,
        jobs: &[JobId],
    ) -> impl Future<Output = core::result::Result<Vec<ReceiptKey>, Self::Error>> + Send;
}

/// Keys asked of a [`ReceiptSource`] at once.
pub const RECEIPT_KEYS_PER_LOOKUP: usize = 10_000;

/// What the audit found.
#[derive(Debug, Clone)]
pub struct Report {
    /// The chain and contract the database was built for (what it records; [`identity`] compares them
    /// with the configured ones).
    pub domain: Domain<AccountId>,
    /// Blocks audited (`first..=last`), if any were indexed.
    pub range: Option<(u64, u64)>,
    /// The last audited block's time (ms), if any: what the promises of jobs not finalized are judged
    /// at.
    pub last_block_time: Option<Timestamp>,
    /// Blocks whose links were recomputed.
    pub blocks: u64,
    /// The books re-derived from the events.
    pub ledger: Ledger,
    /// Identity, hash-chain, continuity, typed-table and node mismatches.
    pub integrity: Vec<Finding>,
    /// Releases whose receipt the gateway stored, matched and verified.
    pub receipts_verified: u64,
    /// Releases with no stored receipt to compare (released without the gateway, or another one).
    pub receipts_absent: u64,
    /// Receipt mismatches, and accepted receipts never settled.
    pub receipt_findings: Vec<Finding>,
    /// Accepted lanes of finalized jobs found settled to at least what the gateway accepted (G1).
    pub promises_kept: u64,
    /// Accepted lanes of jobs not finalized whose unsettled accepted amount their provider's limit still
    /// covers at the last audited block (G2).
    pub promises_covered: u64,
    /// Report only this job's books (integrity is always checked in full).
    pub job: Option<JobId>,
    /// Blocks compared with the node ([`Report::check_against_node`]).
    pub node_blocks: u64,
    /// Whether the database's chain was found to be the node's ([`Report::check_against_node`]).
    pub chain_checked: bool,
}

fn at(block: u64, event: u32) -> Position {
    Position { block, event }
}

/// Audits the database, which must have been built for `contract` (the configured one: otherwise a
/// finding, [`other_contract`]), for every job, or only `job`'s books.
pub async fn audit(db: &Db, contract: &AccountId, job: Option<JobId>) -> Result<Report> {
    // One snapshot for every read: a running indexer may commit meanwhile, and what it commits is
    // always beyond the cursor this snapshot sees.
    let mut snapshot = db.snapshot().await?;
    let state = snapshot.state().await?.ok_or_else(|| Error::Fatal("nothing indexed yet: no indexer_state".into()))?;
    let domain = Domain { genesis_hash: state.genesis_hash, contract: state.contract };
    let mut report = Report {
        domain,
        range: state.cursor.map(|c| (state.start_block, c.number)),
        last_block_time: None,
        blocks: 0,
        ledger: Ledger { partial: state.start_block > 0, ..Ledger::default() },
        integrity: Vec::new(),
        receipts_verified: 0,
        receipts_absent: 0,
        receipt_findings: Vec::new(),
        promises_kept: 0,
        promises_covered: 0,
        job,
        node_blocks: 0,
        chain_checked: false,
    };
    report.integrity.extend(other_contract(&report.domain, contract, at(state.start_block, 0)));
    let Some(cursor) = state.cursor else { return Ok(report) };

    snapshot.create_expected_tables().await?;
    let mut prev: Option<(u64, [u8; 32])> = None;
    let mut digest = [0u8; 32];
    let mut treasury: Option<AccountId> = None;
    let mut first = state.start_block;
    while first <= cursor.number {
        let last = first.saturating_add(CHUNK - 1).min(cursor.number);
        let blocks = snapshot.blocks(first, last).await?;
        let stored = snapshot.events(&Filter { blocks: Some((first, last)), ..Filter::default() }).await?;
        let mut stored = stored.into_iter().peekable();
        let mut derived: Vec<(u64, [u8; 32], IndexedEvent)> = Vec::new();
        for b in &blocks {
            let expected_number = prev.map_or(state.start_block, |(n, _)| n.saturating_add(1));
            if b.number != expected_number {
                report.integrity.push(Finding {
                    at: at(b.number, 0),
                    job: None,
                    what: format!("blocks {expected_number}..{} are missing", b.number),
                });
            }
            if let Some((_, hash)) = prev.filter(|(n, _)| n.saturating_add(1) == b.number) {
                if b.parent_hash != hash {
                    report.integrity.push(Finding {
                        at: at(b.number, 0),
                        job: None,
                        what: "parent hash is not the previous block's hash".into(),
                    });
                }
            }
            let mut events = Vec::new();
            while let Some(e) = stored.next_if(|e| e.block_number == b.number) {
                let event = match decode_labelled(&e.kind, &e.data) {
                    Ok(ev) => ev,
                    Err(err) => {
                        report.integrity.push(Finding {
                            at: at(b.number, e.event_index),
                            job: e.job_id,
                            what: format!("{} does not decode: {err}", e.kind),
                        });
                        continue;
                    }
                };
                if let Event::SettingsChanged { treasury: t, .. } = &event {
                    treasury = Some(*t);
                }
                if e.job_id != event.job_id() || e.accounts != accounts_of(&event, treasury) {
                    report.integrity.push(Finding {
                        at: at(b.number, e.event_index),
                        job: e.job_id,
                        what: "the event's job or accounts columns do not match its bytes".into(),
                    });
                }
                report.ledger.apply(at(b.number, e.event_index), b.timestamp, &event);
                events.push(IndexedEvent {
                    event_index: e.event_index,
                    extrinsic_index: e.extrinsic_index,
                    kind: e.kind,
                    data: e.data,
                    event,
                    treasury,
                });
            }
            if u32::try_from(events.len()).ok() != Some(b.event_count) {
                report.integrity.push(Finding {
                    at: at(b.number, 0),
                    job: None,
                    what: format!("holds {} events, the block row says {}", events.len(), b.event_count),
                });
            }
            digest = link(&digest, b.number, &b.hash, &b.parent_hash, b.timestamp, &events);
            if digest != b.digest {
                report.integrity.push(Finding {
                    at: at(b.number, 0),
                    job: None,
                    what: "hash-chain link does not match: this block or its events were changed".into(),
                });
                digest = b.digest; // report each broken link once, not every later one
            }
            derived.extend(events.into_iter().map(|e| (b.number, b.hash, e)));
            prev = Some((b.number, b.hash));
            report.last_block_time = Some(b.timestamp);
            report.blocks = report.blocks.saturating_add(1);
        }
        for e in stored {
            report.integrity.push(Finding {
                at: at(e.block_number, e.event_index),
                job: e.job_id,
                what: "event row without its block row".into(),
            });
        }
        let refs: Vec<typed::At<'_>> = derived.iter().map(|(n, h, e)| (*n, *h, e)).collect();
        snapshot.insert_expected(&refs).await?;
        first = last.saturating_add(1);
    }
    if prev != Some((cursor.number, cursor.hash)) || digest != cursor.digest || treasury != state.treasury {
        report.integrity.push(Finding {
            at: at(cursor.number, 0),
            job: None,
            what: "the cursor (block, hash, link or treasury) is not where the stored chain ends".into(),
        });
    }
    let (start, end) = (state.start_block, cursor.number);
    for (table, outside) in snapshot.rows_outside(start, end).await? {
        if outside > 0 {
            report.integrity.push(Finding {
                at: at(cursor.number, 0),
                job: None,
                what: format!("{outside} {table} row(s) lie outside the indexed range {start}..={end}"),
            });
        }
    }
    for table in TABLES {
        for (block, event) in snapshot.expected_differences(table).await?.into_iter().take(10) {
            report.integrity.push(Finding {
                at: at(block, event),
                job: None,
                what: format!("{table} row differs from the event's bytes"),
            });
        }
    }
    for what in snapshot.totals_differences().await? {
        report.integrity.push(Finding { at: at(cursor.number, 0), job: None, what });
    }
    snapshot.close().await?;
    Ok(report)
}

impl Report {
    /// Looks up the stored receipt of every release in `source` ([`RECEIPT_KEYS_PER_LOOKUP`] keys at a
    /// time), each under its own (job, provider, cumulative amount), then [`Report::check_receipts`].
    pub async fn check_receipts_from<S: ReceiptSource>(&mut self, source: &S) -> core::result::Result<(), S::Error> {
        let keys: Vec<ReceiptKey> = self.ledger.releases.iter().map(|r| (r.job, r.provider, r.cumulative)).collect();
        let mut stored = HashMap::new();
        for chunk in keys.chunks(RECEIPT_KEYS_PER_LOOKUP) {
            for s in source.receipts_at(chunk).await? {
                stored.insert((s.receipt.job_id, s.receipt.provider, s.receipt.amount), s);
            }
        }
        self.check_receipts(&stored);
        Ok(())
    }

    /// The gateway's promises to providers, lane by lane (each lane's highest accepted cumulative
    /// amount), on every job whose opening is indexed. Asks `source` for [`RECEIPT_KEYS_PER_LOOKUP`]
    /// jobs at a time.
    ///
    /// - G1, the provider paid for signed work: on a job finalized (its remainder refunded, so nothing
    ///   more can be released) the accepted amount must have been settled, by that receipt or a higher
    ///   one. An accepted receipt left unsettled is a finding: the gateway answered 2xx and the provider
    ///   was not paid.
    /// - G2, on a job not finalized (its receipts may yet be released): what was accepted above what was
    ///   settled must still be within the provider's limit ([`crate::ledger::JobBook::limit`]) at the last
    ///   audited block's time, else it can no longer be paid: a finding.
    pub async fn check_promises_from<S: ReceiptSource>(&mut self, source: &S) -> core::result::Result<(), S::Error> {
        let jobs: Vec<JobId> = self.ledger.jobs.iter().filter(|(_, b)| b.complete).map(|(id, _)| *id).collect();
        let time = self.last_block_time.unwrap_or(0);
        let last = Position { block: self.range.map_or(0, |(_, end)| end), event: 0 };
        for chunk in jobs.chunks(RECEIPT_KEYS_PER_LOOKUP) {
            for (job, provider, accepted) in source.accepted_lanes(chunk).await? {
                let Some(book) = self.ledger.jobs.get(&job).filter(|b| b.complete) else { continue };
                let settled = book.settled(&provider);
                let (at, what) = if book.refunds > 0 {
                    if settled >= accepted {
                        self.promises_kept = self.promises_kept.saturating_add(1);
                        continue;
                    }
                    let what = format!(
                        "the gateway accepted {accepted} for provider {} and the job ended with {settled} settled (G1)",
                        ss58(provider)
                    );
                    (book.refunded_at.unwrap_or(Position { block: 0, event: 0 }), what)
                } else {
                    let limit = book.limit(&provider, time);
                    if settled >= accepted || accepted <= limit {
                        self.promises_covered = self.promises_covered.saturating_add(1);
                        continue;
                    }
                    let what = format!(
                        "accepted receipt no longer covered by its allocation: the gateway accepted {accepted} for \
                         provider {}, {settled} is settled and its limit at {time} is {limit} (G2)",
                        ss58(provider)
                    );
                    (last, what)
                };
                self.receipt_findings.push(Finding { at, job: Some(job), what });
            }
        }
        Ok(())
    }

    /// Checks each release against the receipt the gateway stored for its (job, provider, cumulative
    /// amount), if any: same units and sequence (the released receipt's, as the event reports them),
    /// this chain and contract, and a signature that verifies (strictly, as the contract does) against
    /// the job's payer key.
    pub fn check_receipts(&mut self, stored: &HashMap<ReceiptKey, StoredReceipt>) {
        for r in &self.ledger.releases {
            let Some(s) = stored.get(&(r.job, r.provider, r.cumulative)) else {
                self.receipts_absent = self.receipts_absent.saturating_add(1);
                continue;
            };
            let payer_key = self.ledger.jobs.get(&r.job).filter(|b| b.complete).map(|b| b.payer_key);
            let mut wrong = Vec::new();
            if s.receipt.units != r.units || s.receipt.sequence != r.sequence {
                wrong.push(format!(
                    "released cumulative {} with units {} / sequence {}, the stored receipt says {} / {}",
                    r.cumulative, r.units, r.sequence, s.receipt.units, s.receipt.sequence
                ));
            }
            if s.receipt.domain != self.domain {
                wrong.push("the stored receipt is for another chain or contract".into());
            }
            match payer_key {
                Some(key) if s.receipt.verify(&key, &s.signature) => {}
                Some(_) => wrong.push("the stored receipt's signature does not verify against the payer key".into()),
                None => wrong.push("the job's opening (and payer key) is not indexed".into()),
            }
            if wrong.is_empty() {
                self.receipts_verified = self.receipts_verified.saturating_add(1);
            }
            for what in wrong {
                self.receipt_findings.push(Finding { at: r.at, job: Some(r.job), what });
            }
        }
    }

    /// Every finding that counts for this report (all integrity ones; books and receipts of the job
    /// audited, or of all jobs).
    #[must_use]
    pub fn findings(&self) -> Vec<&Finding> {
        let wanted = |f: &&Finding| self.job.is_none() || f.job.is_none() || f.job == self.job;
        self.integrity
            .iter()
            .chain(self.ledger.findings.iter().filter(wanted))
            .chain(self.receipt_findings.iter().filter(wanted))
            .collect()
    }

    /// Whether everything checked out.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.findings().is_empty()
    }

    /// The report, for people.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        let contract = escrow_client::accounts::ss58(self.domain.contract);
        let _ = writeln!(out, "audit of escrow {contract} on chain 0x{}", hex::encode(self.domain.genesis_hash));
        match self.range {
            Some((a, b)) => {
                let _ =
                    writeln!(out, "blocks {a}..={b}: {} links recomputed, {} events", self.blocks, self.ledger.events);
            }
            None => {
                let _ = writeln!(out, "nothing indexed yet");
            }
        }
        let _ = writeln!(
            out,
            "\n{:>6}  {:>24}  {:>24}  {:>22}  {:>24}  {:>24}  {:>22}",
            "job", "deposited", "released net", "released fee", "refunded", "still held", "slashed (stake)"
        );
        for (id, b) in self.ledger.jobs.iter().filter(|(id, _)| self.job.is_none_or(|j| j == **id)) {
            let note = if b.complete { "" } else { "  (opened before the start block: not balanced)" };
            let _ = writeln!(
                out,
                "{id:>6}  {:>24}  {:>24}  {:>22}  {:>24}  {:>24}  {:>22}{note}",
                b.deposited,
                b.net,
                b.fees,
                b.refunded,
                b.held(),
                b.slashed
            );
        }
        let _ = writeln!(
            out,
            "\nreleases: {}; matched to a stored receipt with a valid signature: {}; no stored receipt: {}",
            self.ledger.releases.len(),
            self.receipts_verified,
            self.receipts_absent
        );
        let _ = writeln!(
            out,
            "credited {} to claimable balances, claimed {}; reconciled account by account: {} accounts",
            self.ledger.credited,
            self.ledger.claimed,
            self.ledger.accounts.len()
        );
        if self.node_blocks > 0 {
            let _ = writeln!(out, "compared {} blocks and their escrow events with the node", self.node_blocks);
        }
        if self.range.is_some() && !self.chain_checked {
            let _ = writeln!(out, "not compared with a node: the chain this database was built on is not checked");
        }
        if self.promises_kept > 0 {
            let _ = writeln!(
                out,
                "lanes of finalized jobs settled to at least what the gateway accepted: {}",
                self.promises_kept
            );
        }
        if self.promises_covered > 0 {
            let _ = writeln!(
                out,
                "lanes of jobs not finalized whose accepted amount their allocation still covers: {}",
                self.promises_covered
            );
        }
        let findings = self.findings();
        if findings.is_empty() {
            let _ = writeln!(
                out,
                "\nOK: hash chain intact, built for the configured contract, typed tables match the events, every job \
                 balanced (deposits = net + fee + refunds + held), every fee exact, every release within its \
                 provider's allocation, no account claimed more than it was owed"
            );
        } else {
            let _ = writeln!(out, "\nMISMATCH: {} finding(s)", findings.len());
            for f in findings {
                let job = f.job.map(|j| format!(" job {j}")).unwrap_or_default();
                let _ = writeln!(out, "  {}{job}: {}", f.at, f.what);
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::unwrap_used)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use settlement::{Slot, Thaw};

    use crate::ledger::{JobBook, ReleaseRef};

    /// Receipts and accepted lanes in memory; remembers how many keys each lookup asked for.
    struct InMemory {
        receipts: HashMap<ReceiptKey, StoredReceipt>,
        lanes: Vec<ReceiptKey>,
        asked: Mutex<Vec<usize>>,
    }

    impl ReceiptSource for InMemory {
        type Error = String;

        async fn receipts_at(&self, keys: &[ReceiptKey]) -> core::result::Result<Vec<StoredReceipt>, String> {
            self.asked.lock().map_err(|e| e.to_string())?.push(keys.len());
            Ok(keys.iter().filter_map(|k| self.receipts.get(k).cloned()).collect())
        }

        async fn accepted_lanes(&self, jobs: &[JobId]) -> core::result::Result<Vec<ReceiptKey>, String> {
            self.asked.lock().map_err(|e| e.to_string())?.push(jobs.len());
            Ok(self.lanes.iter().filter(|l| jobs.contains(&l.0)).copied().collect())
        }
    }

    /// A report of `ledger` with nothing checked yet.
    fn report_on(domain: Domain<AccountId>, ledger: Ledger) -> Report {
        Report {
            domain,
            range: None,
            last_block_time: None,
            blocks: 0,
            ledger,
            integrity: Vec::new(),
            receipts_verified: 0,
            receipts_absent: 0,
            receipt_findings: Vec::new(),
            promises_kept: 0,
            promises_covered: 0,
            job: None,
            node_blocks: 0,
            chain_checked: false,
        }
    }

    #[tokio::test]
    async fn an_accepted_receipt_left_unsettled_on_a_finalized_job_is_a_finding() {
        let (p, q) = ([3; 32], [4; 32]);
        let mut ledger = Ledger::default();
        let book = |refunds, lanes: &[(AccountId, Balance)]| JobBook {
            complete: true,
            refunds,
            refunded_at: (refunds > 0).then_some(Position { block: 9, event: 1 }),
            lanes: lanes.iter().copied().collect(),
            ..JobBook::default()
        };
        // Job 1 finalized with p settled to 50 and q to nothing; job 2 still open, p allocated 100; job
        // 3's opening is not indexed.
        ledger.jobs.insert(1, book(1, &[(p, 50)]));
        ledger
            .jobs
            .insert(2, JobBook { slots: [(p, Slot { allocation: 100, ..Slot::default() })].into(), ..book(0, &[]) });
        ledger.jobs.insert(3, JobBook { complete: false, ..book(1, &[]) });
        let source = InMemory {
            receipts: HashMap::new(),
            // The gateway accepted p up to 50 (kept), q up to 30 (broken), p on job 2 up to 70 (covered:
            // not judged by G1) and p on job 3 (not judged).
            lanes: vec![(1, p, 50), (1, q, 30), (2, p, 70), (3, p, 1)],
            asked: Mutex::new(Vec::new()),
        };
        let mut report = report_on(Domain { genesis_hash: [1; 32], contract: [2; 32] }, ledger);
        report.check_promises_from(&source).await.unwrap();
        assert_eq!(*source.asked.lock().unwrap(), [2], "the jobs whose opening is indexed are asked about");
        assert_eq!((report.promises_kept, report.promises_covered), (1, 1));
        assert_eq!(report.receipt_findings.len(), 1, "{:?}", report.receipt_findings);
        let f = &report.receipt_findings[0];
        assert_eq!((f.job, f.at.block), (Some(1), 9));
        assert!(f.what.contains("accepted 30") && f.what.contains("0 settled"), "{}", f.what);
        assert!(!report.is_clean());
    }

    #[tokio::test]
    async fn an_accepted_receipt_a_thaw_left_uncovered_on_an_open_job_is_a_finding() {
        let (p, q) = ([3; 32], [4; 32]);
        // Job 1 open: p allocated 100, thawing 60 until 5 000, 30 settled; q allocated 50.
        let thawing =
            Slot { accepted_at: 1, allocation: 100, thaw: Thaw { amount: 60, ends_at: 5_000 }, ..Slot::default() };
        let book = JobBook {
            complete: true,
            lanes: [(p, 30)].into(),
            slots: [(p, thawing), (q, Slot { accepted_at: 1, allocation: 50, ..Slot::default() })].into(),
            ..JobBook::default()
        };
        let ledger = Ledger { jobs: [(1, book)].into(), ..Ledger::default() };
        // The gateway accepted p up to 70 and q up to 50.
        let source =
            InMemory { receipts: HashMap::new(), lanes: vec![(1, p, 70), (1, q, 50)], asked: Mutex::new(Vec::new()) };
        let (ledger, source) = (&ledger, &source);
        let audited_at = |time| async move {
            let mut report = report_on(Domain { genesis_hash: [1; 32], contract: [2; 32] }, ledger.clone());
            (report.range, report.last_block_time) = (Some((0, 12)), Some(time));
            report.check_promises_from(source).await.unwrap();
            report
        };
        // Before the thaw ends p's 70 is still payable (the whole 100).
        let before = audited_at(4_999).await;
        assert_eq!((before.promises_covered, before.receipt_findings.len()), (2, 0), "{:?}", before.receipt_findings);
        assert!(before.is_clean());
        // From its end p may reach only 40: the 70 accepted cannot be paid any more.
        let after = audited_at(5_000).await;
        assert_eq!(after.promises_covered, 1, "q's 50 is still covered");
        assert_eq!(after.receipt_findings.len(), 1, "{:?}", after.receipt_findings);
        let f = &after.receipt_findings[0];
        assert_eq!((f.job, f.at.block), (Some(1), 12), "at the last audited block");
        assert!(f.what.starts_with("accepted receipt no longer covered by its allocation"), "{}", f.what);
        assert!(
            f.what.contains("accepted 70") && f.what.contains("30 is settled") && f.what.contains("is 40"),
            "{}",
            f.what
        );
        assert!(!after.is_clean());
    }

    #[tokio::test]
    async fn receipts_are_looked_up_in_chunks_then_checked() {
        let domain = Domain { genesis_hash: [1; 32], contract: [2; 32] };
        let (job, provider, key) = (7, [3; 32], testkit::payer(1));
        let mut ledger = Ledger::default();
        let book = JobBook { complete: true, payer_key: key.verifying_key().to_bytes(), ..JobBook::default() };
        ledger.jobs.insert(job, book);
        let releases = u64::try_from(RECEIPT_KEYS_PER_LOOKUP).unwrap() * 2 + 1;
        ledger.releases = (1..=releases)
            .map(|sequence| ReleaseRef {
                at: Position { block: sequence, event: 0 },
                job,
                provider,
                cumulative: sequence.into(),
                units: 1,
                sequence,
            })
            .collect();
        // A stored receipt in each lookup; the last one is not what was released (another sequence
        // with the same cumulative amount).
        let mut receipts = HashMap::new();
        for (amount, sequence) in [(1, 1), (10_001, 10_001), (releases.into(), 5)] {
            let receipt = Receipt { domain, job_id: job, provider, amount, units: 1, sequence, expires_at: 0 };
            let signature = receipt.sign(&key);
            receipts.insert((job, provider, amount), StoredReceipt { receipt, signature });
        }
        let source = InMemory { receipts, lanes: Vec::new(), asked: Mutex::new(Vec::new()) };
        let mut report = report_on(domain, ledger);
        report.check_receipts_from(&source).await.unwrap();
        assert_eq!(*source.asked.lock().unwrap(), [10_000, 10_000, 1]);
        assert_eq!((report.receipts_verified, report.receipts_absent), (2, releases - 3));
        let wrong: Vec<u64> = report.receipt_findings.iter().map(|f| f.at.block).collect();
        assert_eq!(wrong, [releases]);
    }
}
