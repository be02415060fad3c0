//! Claimable balances, account by account. Payouts are pull: a release credits its provider the net
//! and the treasury then in force the fee, a refund credits the job's consumer the remainder, a slash
//! credits the job's consumer what was taken from the provider's stake; `claim` pays an account what it
//! is owed. The rule checked here: no claim pays an account more than it was owed at that point of the
//! chain. (Stake withdrawals are paid out directly, not through a claimable balance: the stake ledger
//! checks them.)

use escrow_client::accounts::ss58;
use escrow_client::AccountId;
use settlement::Balance;

/// One account's claimable balance as the events tell it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClaimBook {
    /// Credited in total (nets, fees, refunds, slash credits).
    pub credited: Balance,
    /// Paid out by its claims in total.
    pub claimed: Balance,
    /// What it is owed now: credits not yet claimed. A claim above it (a finding) leaves nothing owed,
    /// as the contract's claim empties the balance.
    pub owed: Balance,
}

impl ClaimBook {
    /// Credits `amount`.
    pub fn credit(&mut self, amount: Balance) {
        self.credited = self.credited.saturating_add(amount);
        self.owed = self.owed.saturating_add(amount);
    }

    /// Pays out a claim of `amount`.
    pub fn claim(&mut self, amount: Balance) {
        self.claimed = self.claimed.saturating_add(amount);
        self.owed = self.owed.saturating_sub(amount);
    }
}

/// The rule for one claim: `account`, whose books before the claim are `book`, may be paid at most what
/// it is owed. Returns what is wrong, naming the account, if the claim pays more.
#[must_use]
pub fn claim_above_owed(account: &AccountId, book: &ClaimBook, amount: Balance) -> Option<String> {
    (amount > book.owed).then(|| {
        format!(
            "account {} claimed {amount}, more than the {} it was owed (credited {}, claimed {} before)",
            ss58(*account),
            book.owed,
            book.credited,
            book.claimed
        )
    })
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use crate::ledger::{Ledger, Position};
    use settlement::Event;

    const A: AccountId = [1; 32];
    const C: AccountId = [2; 32];
    const P: AccountId = [3; 32];
    const T: AccountId = [4; 32];
    const T2: AccountId = [5; 32];

    #[test]
    fn a_claim_up_to_what_is_owed_passes_and_above_it_names_the_account() {
        let mut book = ClaimBook::default();
        assert!(claim_above_owed(&A, &book, 0).is_none(), "nothing claimed of nothing");
        assert!(claim_above_owed(&A, &book, 1).is_some(), "a claim of nothing credited");
        book.credit(100);
        assert_eq!(claim_above_owed(&A, &book, 100), None);
        book.claim(60);
        assert_eq!(book, ClaimBook { credited: 100, claimed: 60, owed: 40 });
        assert_eq!(claim_above_owed(&A, &book, 40), None);
        let what = claim_above_owed(&A, &book, 41).unwrap_or_default();
        assert_eq!(
            what,
            format!("account {} claimed 41, more than the 40 it was owed (credited 100, claimed 60 before)", ss58(A))
        );
    }

    #[test]
    fn a_claim_above_what_is_owed_leaves_nothing_owed() {
        let mut book = ClaimBook::default();
        book.credit(5);
        book.claim(9);
        assert_eq!(book, ClaimBook { credited: 5, claimed: 9, owed: 0 });
        book.credit(3);
        assert_eq!(claim_above_owed(&A, &book, 3), None, "later credits are owed again, once");
    }

    fn settings(treasury: AccountId) -> Event<AccountId> {
        Event::SettingsChanged { treasury, arbiter: A, fee_bps: 500, min_stake: 0, slash_bps: 5_000, paused: false }
    }

    /// A release to P on job 1 (whose opening is not needed here) of `amount`, 5 % of it the fee.
    fn release(cumulative: Balance, amount: Balance) -> Event<AccountId> {
        let fee = amount / 20;
        Event::Released {
            job_id: 1,
            consumer: C,
            provider: P,
            cumulative,
            units: 1,
            sequence: 1,
            amount,
            fee,
            net: amount - fee,
        }
    }

    fn claim(account: AccountId, amount: Balance) -> Event<AccountId> {
        Event::Claimed { account, amount }
    }

    /// The ledger after `events`, one block apart.
    fn ledger(events: &[Event<AccountId>]) -> Ledger {
        let mut l = Ledger::default();
        for (block, e) in (1..).zip(events) {
            l.apply(Position { block, event: 0 }, 1_000 + block, e);
        }
        l
    }

    /// Nets to the provider, fees to the treasury in force at the release, refunds and slashes to the
    /// job's consumer: each claims exactly its own.
    #[test]
    fn each_account_claims_what_the_books_credited_it() {
        let change = Event::SettingsAnnounced {
            treasury: T2,
            arbiter: A,
            fee_bps: 500,
            min_stake: 0,
            slash_bps: 5_000,
            effective_at: 1_004,
        };
        let l = ledger(&[
            settings(T),
            release(1_000, 1_000),
            change,
            settings(T2),
            release(1_200, 200),
            Event::Refunded { job_id: 1, consumer: C, amount: 30 },
            Event::Staked { provider: P, amount: 100, active: 100 },
            Event::DisputeResolved { job_id: 1, consumer: C, provider: P, slashed: 20 },
            claim(P, 950 + 190),
            claim(T, 50),
            claim(T2, 10),
            claim(C, 50),
        ]);
        assert_eq!(l.findings, vec![]);
        let owed = |a| l.accounts[&a];
        assert_eq!(owed(P), ClaimBook { credited: 1_140, claimed: 1_140, owed: 0 });
        assert_eq!((owed(T).credited, owed(T2).credited, owed(C).credited), (50, 10, 50));
        assert_eq!((l.credited, l.claimed), (1_250, 1_250));
    }

    #[test]
    fn an_account_claiming_another_ones_credit_is_found_though_the_totals_add_up() {
        // P is owed 950, the treasury 50: P claiming 960 stays within all credits (1 000).
        let l = ledger(&[settings(T), release(1_000, 1_000), claim(P, 960)]);
        assert!(l.claimed <= l.credited);
        assert_eq!(l.findings.len(), 1, "{:?}", l.findings);
        let f = &l.findings[0];
        assert_eq!((f.at.block, f.job), (3, None));
        assert!(f.what.starts_with(&format!("account {} claimed 960, more than the 950", ss58(P))), "{}", f.what);
        // The treasury's fee is not the provider's to claim, before or after a claim of its own.
        let l = ledger(&[settings(T), release(1_000, 1_000), claim(P, 950), claim(P, 50)]);
        assert_eq!(l.findings.len(), 1, "{:?}", l.findings);
        assert!(l.findings[0].what.contains("claimed 50, more than the 0"), "{:?}", l.findings);
        // A claim before the credit that would cover it.
        let l = ledger(&[settings(T), claim(P, 950), release(1_000, 1_000)]);
        assert_eq!(l.findings.len(), 1, "{:?}", l.findings);
    }

    #[test]
    fn from_a_later_start_block_claims_are_not_judged() {
        let mut l = Ledger { partial: true, ..Ledger::default() };
        l.apply(Position { block: 1, event: 0 }, 1_000, &claim(P, 7));
        assert_eq!(l.findings, vec![]);
        assert_eq!(l.accounts[&P].claimed, 7);
    }
}
