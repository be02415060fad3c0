//! Paying out claimable balances: `claim`.

use super::*;

// ---------------------------------------------------------------- claim

#[ink::test]
fn claim_pays_out_the_claimable_balance() {
    let mut c = setup();
    assert!(release(&mut c, receipt(1, provider(), 100, 1)).is_ok());
    let contract_before = native(contract());
    let count = event_count();
    assert_eq!(claim(&mut c, provider()), Ok(95));
    assert_eq!(native(provider()), FUNDS - MIN_STAKE + 95);
    assert_eq!(native(contract()), contract_before - 95);
    assert_eq!(c.balance_of(provider()), 0);
    let new = events_since(count);
    assert_eq!(new.len(), 1);
    assert_event(&new[0], &Claimed { account: provider(), amount: 95 }, &[account_topic(provider())]);

    assert_eq!(claim(&mut c, treasury()), Ok(5));
    assert_eq!(native(treasury()), FUNDS + 5);
    at(EXPIRES);
    call_as(stranger());
    c.refund(1).unwrap();
    assert_eq!(claim(&mut c, consumer()), Ok(900));
    assert_eq!(native(consumer()), FUNDS - 100);
    // Only the stakes are left.
    assert_eq!(native(contract()), 2 * MIN_STAKE);
    assert_solvent(&c);
}

#[ink::test]
fn claim_works_while_paused() {
    let mut c = setup();
    assert!(release(&mut c, receipt(1, provider(), 100, 1)).is_ok());
    call_as(owner());
    set_paused(&mut c, true);
    assert_eq!(claim(&mut c, provider()), Ok(95));
}

#[ink::test]
fn claim_refuses_an_empty_balance() {
    let mut c = setup();
    call_as(stranger());
    refused(&mut c, Error::NothingToClaim, |c| c.claim());
    assert!(release(&mut c, receipt(1, provider(), 100, 1)).is_ok());
    assert_eq!(claim(&mut c, provider()), Ok(95));
    call_as(provider());
    refused(&mut c, Error::NothingToClaim, |c| c.claim());
}

#[ink::test]
fn claim_reports_a_failed_transfer() {
    let mut c = deploy_without_contract_account();
    fake_pay_as(provider(), MIN_STAKE);
    c.stake().unwrap();
    fake_pay_as(consumer(), DEPOSIT);
    assert_eq!(open_job(&mut c, vec![(provider(), DEPOSIT)], EXPIRES), Ok(1));
    accept(&mut c, provider(), 1).unwrap();
    assert!(release(&mut c, receipt(1, provider(), 100, 1)).is_ok());
    call_as(provider());
    assert_eq!(c.claim(), Err(Error::TransferFailed));
    // No native funds moved (the ledger side is reverted on chain; see the module docs).
    assert_eq!(native(provider()), FUNDS);
    assert!(test::get_account_balance::<Env>(contract()).is_err());
}

#[ink::test]
fn the_treasurys_fees_accrue_in_the_configuration_and_go_to_the_treasury_they_accrued_for() {
    let mut c = setup();
    assert!(release(&mut c, receipt(1, provider(), 100, 1)).is_ok());
    // The fee is not in the treasury's balance record but in the configuration; balance_of shows both.
    assert_eq!((c.config().fees, c.balance_of(treasury())), (5, 5));
    // The treasury changes: what accrued is the outgoing treasury's, credited to its balance record.
    change_settings(&mut c, SettingsChange { treasury: Some(stranger()), ..keep() });
    assert_eq!((c.config().fees, c.balance_of(treasury()), c.balance_of(stranger())), (0, 5, 0));
    assert!(release(&mut c, receipt(1, provider(), 300, 2)).is_ok());
    assert_eq!((c.balance_of(treasury()), c.balance_of(stranger())), (5, 10));
    assert_eq!(claim(&mut c, treasury()), Ok(5));
    assert_eq!(claim(&mut c, stranger()), Ok(10));
    assert_eq!((c.config().fees, c.balance_of(stranger())), (0, 0));
    assert_eq!(claim(&mut c, stranger()), Err(Error::NothingToClaim));
    assert_solvent(&c);
}
