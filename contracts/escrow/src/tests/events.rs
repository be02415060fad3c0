//! The contract deposits every event from its settlement encoding, by one code path (see `encoded` in
//! lib.rs). Each must be exactly what `ink::env::emit_event` of the ink! event struct deposits: the same
//! topics and the same data, off chain here, and on chain as the bytes `seal_deposit_event` is given.

use settlement::Event;

use crate::encoded::Data;
use crate::escrow::{JobAccepted, OwnershipTransferStarted, OwnershipTransferred, SettingsAnnounced, SettingsChanged};

use super::*;

/// Emits `event` through the contract and `expected` through ink!, and compares what was recorded.
fn same(event: Event<AccountId>, expected: impl ink::env::Event) {
    let name = core::any::type_name_of_val(&expected);
    let count = event_count();
    crate::escrow::emit(event.clone());
    ink::env::emit_event::<Env, _>(expected);
    let new = events_since(count);
    assert_eq!(new.len(), 2, "{name}");
    assert_eq!(new[0].topics, new[1].topics, "topics of {name}");
    assert_eq!(new[0].data, new[1].data, "data of {name}");
    // On chain: the topics as one SCALE `Vec<[u8; 32]>`, the data after the settlement variant's index.
    let mut data = Data::default();
    let topics = crate::escrow::encode(&event, &mut data);
    let want: Vec<[u8; 32]> = new[1].topics.iter().map(|t| <[u8; 32]>::try_from(t.as_slice()).unwrap()).collect();
    assert_eq!(topics.bytes(), &want.encode()[..], "on-chain topics of {name}");
    assert_eq!(&data.bytes()[1..], &new[1].data[..], "on-chain data of {name}");
}

#[ink::test]
fn every_event_is_deposited_as_ink_would_emit_its_struct() {
    let _ = deploy();
    let (job_id, consumer, provider, other) = (7, consumer(), provider(), provider2());
    let providers = vec![provider, other, treasury(), arbiter()];
    let allocations = vec![11, 12, 13, u128::MAX];
    let (payer_key, terms_hash, reason) = ([1; 32], [2; 32], [3; 32]);
    same(
        Event::JobOpened {
            job_id,
            consumer,
            providers: providers.clone(),
            allocations: allocations.clone(),
            deposit: 21,
            payer_key,
            terms_hash,
            fee_bps: 22,
            slash_bps: 23,
            arbiter: other,
            expires_at: 24,
        },
        JobOpened {
            job_id,
            consumer,
            providers,
            allocations,
            deposit: 21,
            payer_key,
            terms_hash,
            fee_bps: 22,
            slash_bps: 23,
            arbiter: other,
            expires_at: 24,
        },
    );
    same(
        Event::JobAccepted { job_id, provider, funds: 31, max_slash: 32, locked_until: 33 },
        JobAccepted { job_id, provider, funds: 31, max_slash: 32, locked_until: 33 },
    );
    same(
        Event::ToppedUp { job_id, consumer, amount: 41, deposit: 42 },
        ToppedUp { job_id, consumer, amount: 41, deposit: 42 },
    );
    same(
        Event::Allocated { job_id, consumer, provider, amount: 51, allocation: 52, unallocated: 53 },
        Allocated { job_id, consumer, provider, amount: 51, allocation: 52, unallocated: 53 },
    );
    same(
        Event::ThawStarted { job_id, consumer, provider, amount: 61, ends_at: 62 },
        ThawStarted { job_id, consumer, provider, amount: 61, ends_at: 62 },
    );
    same(
        Event::Released {
            job_id,
            consumer,
            provider,
            cumulative: 71,
            units: 72,
            sequence: 73,
            amount: 74,
            fee: 75,
            net: 76,
        },
        Released { job_id, consumer, provider, cumulative: 71, units: 72, sequence: 73, amount: 74, fee: 75, net: 76 },
    );
    same(Event::JobCompleted { job_id, consumer, ends_at: 81 }, JobCompleted { job_id, consumer, ends_at: 81 });
    same(Event::Refunded { job_id, consumer, amount: 91 }, Refunded { job_id, consumer, amount: 91 });
    same(Event::Claimed { account: other, amount: 101 }, Claimed { account: other, amount: 101 });
    same(Event::Staked { provider, amount: 111, active: 112 }, Staked { provider, amount: 111, active: 112 });
    same(
        Event::Unbonding { provider, amount: 121, unbonding: 122, unlock_at: 123 },
        Unbonding { provider, amount: 121, unbonding: 122, unlock_at: 123 },
    );
    same(Event::Withdrawn { provider, amount: 131 }, Withdrawn { provider, amount: 131 });
    same(
        Event::DisputeOpened { job_id, consumer, provider, reason, resolve_by: 141 },
        DisputeOpened { job_id, consumer, provider, reason, resolve_by: 141 },
    );
    same(
        Event::DisputeResolved { job_id, consumer, provider, slashed: 151 },
        DisputeResolved { job_id, consumer, provider, slashed: 151 },
    );
    let reputation = Reputation { jobs_completed: 161, volume: 162, disputes_lost: 163, slashed: 164 };
    same(
        Event::ReputationChanged { provider, reputation, score: 165 },
        ReputationChanged { provider, reputation, score: 165 },
    );
    same(
        Event::OwnershipTransferStarted { owner: provider, pending: other },
        OwnershipTransferStarted { owner: provider, pending: other },
    );
    same(
        Event::OwnershipTransferred { previous: other, owner: provider },
        OwnershipTransferred { previous: other, owner: provider },
    );
    same(
        Event::SettingsAnnounced {
            treasury: provider,
            arbiter: other,
            fee_bps: 171,
            min_stake: 172,
            slash_bps: 173,
            effective_at: 174,
        },
        SettingsAnnounced {
            treasury: provider,
            arbiter: other,
            fee_bps: 171,
            min_stake: 172,
            slash_bps: 173,
            effective_at: 174,
        },
    );
    same(
        Event::SettingsChanged {
            treasury: provider,
            arbiter: other,
            fee_bps: 181,
            min_stake: 182,
            slash_bps: 183,
            paused: true,
        },
        SettingsChanged {
            treasury: provider,
            arbiter: other,
            fee_bps: 181,
            min_stake: 182,
            slash_bps: 183,
            paused: true,
        },
    );
}
