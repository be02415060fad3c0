//! Generated marketplace activity that makes the escrow emit every kind of event, with the events the
//! client saw in order: what the indexer's tests expect to find mirrored.

use escrow_client::{account_of, AccountId, Keypair};
use settlement::{Event, JobId, OpenJob, SettingsChange};

use crate::{funded, now_ms, payer, signed_receipt, wait_until, Market, TestResult, UNIT};

/// What [`every_kind`] did.
pub struct Activity {
    /// Every escrow event, in chain order (starting with the constructor's settings).
    pub events: Vec<Event<AccountId>>,
    /// The job that saw releases, a dispute and a refund.
    pub job: JobId,
    /// Its first provider (paid three times, claimed once).
    pub provider: Keypair,
    /// The treasury after the settings change.
    pub new_treasury: Keypair,
}

/// Every kind of escrow event, from a freshly [`crate::deploy`]ed market: stakes, a settings change
/// announced (new treasury), a job with a top-up, single and batched releases, a dispute resolved with a
/// slash, claims, the announced change applied once due followed by a release, an ownership transfer,
/// the job completed and its remainder refunded, and a third provider's stake, unbonding and withdrawal.
pub async fn every_kind(m: &Market, tag: &str) -> TestResult<Activity> {
    let chain = m.escrow.chain();
    let e = &m.escrow;
    let mut events = vec![Event::SettingsChanged {
        treasury: account_of(&m.treasury),
        arbiter: account_of(&m.arbiter),
        fee_bps: 500,
        min_stake: m.min_stake,
        slash_bps: crate::TEST_SLASH_BPS,
        paused: false,
    }];
    let p1 = funded(chain, &format!("//{tag}P1"), 1_000 * UNIT).await?;
    let p2 = funded(chain, &format!("//{tag}P2"), 1_000 * UNIT).await?;
    let consumer = funded(chain, &format!("//{tag}Consumer"), 10_000 * UNIT).await?;
    let new_treasury = funded(chain, &format!("//{tag}Treasury2"), 10 * UNIT).await?;
    let new_owner = funded(chain, &format!("//{tag}Owner2"), 10 * UNIT).await?;
    let p3 = funded(chain, &format!("//{tag}P3"), 1_000 * UNIT).await?;
    events.extend(e.stake(&p1, m.min_stake).await?.events);
    events.extend(e.stake(&p2, m.min_stake).await?.events);
    // A provider on no job leaves: its unbonding delay runs while the rest happens.
    events.extend(e.stake(&p3, m.min_stake).await?.events);
    let unbonded = e.unbond(&p3, 10 * UNIT).await?;
    let unlock_at = unbonded.event(|ev| match ev {
        Event::Unbonding { unlock_at, .. } => Some(*unlock_at),
        _ => None,
    });
    events.extend(unbonded.events);

    // The treasury change waits out the admin delay while the rest happens.
    let change = SettingsChange { treasury: Some(account_of(&new_treasury)), ..SettingsChange::default() };
    let announced = e.announce_settings(&m.owner, &change).await?;
    let due = announced.event(|ev| match ev {
        Event::SettingsAnnounced { effective_at, .. } => Some(*effective_at),
        _ => None,
    });
    events.extend(announced.events);

    let expires_at = now_ms() + 120_000;
    let req = OpenJob {
        providers: vec![(account_of(&p1), 30 * UNIT), (account_of(&p2), 20 * UNIT)],
        payer_key: payer(1).verifying_key().to_bytes(),
        terms_hash: [7; 32],
        expires_at,
    };
    let opened = e.open_job(&consumer, 50 * UNIT, &req).await?;
    let job = opened.value;
    events.extend(opened.events);
    events.extend(crate::accept_all(m, job, &[&p1, &p2]).await?);
    events.extend(e.top_up(&consumer, job, 10 * UNIT, None).await?.events);
    let key = payer(1);
    let (r, s) = signed_receipt(m, &key, job, account_of(&p1), 7 * UNIT + 3, 1);
    events.extend(e.release(&p1, &r, &s).await?.events);
    let batch = vec![
        signed_receipt(m, &key, job, account_of(&p1), 12 * UNIT + 11, 2),
        signed_receipt(m, &key, job, account_of(&p2), 3 * UNIT + 1, 1),
    ];
    events.extend(e.release_many(&p2, &batch).await?.events);
    // The consumer allocates part of its top-up to p1 at once, and starts lowering p2's allocation.
    events.extend(e.allocate(&consumer, job, account_of(&p1), 5 * UNIT).await?.events);
    events.extend(e.thaw(&consumer, job, account_of(&p2), UNIT).await?.events);
    events.extend(e.dispute(&consumer, job, account_of(&p2), [9; 32]).await?.events);
    events.extend(e.resolve_dispute(&m.arbiter, job, account_of(&p2), 20 * UNIT).await?.events);
    events.extend(e.claim(&p1).await?.events);
    wait_until(chain, due.unwrap_or_else(now_ms)).await?;
    events.extend(e.apply_settings(&m.owner).await?.events);
    let (r, s) = signed_receipt(m, &key, job, account_of(&p1), 15 * UNIT, 3);
    events.extend(e.release(&p1, &r, &s).await?.events);
    events.extend(e.transfer_ownership(&m.owner, account_of(&new_owner)).await?.events);
    events.extend(e.accept_ownership(&new_owner).await?.events);
    let completed = e.complete(&consumer, job).await?;
    let ends_at = completed.event(|ev| match ev {
        Event::JobCompleted { ends_at, .. } => Some(*ends_at),
        _ => None,
    });
    events.extend(completed.events);
    wait_until(chain, ends_at.unwrap_or_else(now_ms)).await?;
    events.extend(e.refund(&consumer, job).await?.events);
    events.extend(e.claim(&new_treasury).await?.events);
    events.extend(e.claim(&consumer).await?.events);
    wait_until(chain, unlock_at.unwrap_or_else(now_ms)).await?;
    events.extend(e.withdraw(&p3).await?.events);
    Ok(Activity { events, job, provider: p1, new_treasury })
}
