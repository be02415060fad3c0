//! What the indexer stores, before any I/O: a block with the escrow's events in it, the tamper-evident
//! hash chain linking the blocks, and the derived fields (the job and the accounts an event concerns).

use escrow_client::AccountId;
use scale::Encode;
use settlement::Event;
use sha2::{Digest, Sha256};

/// Domain tag of the hash chain; a new layout gets a new tag.
pub const CHAIN_TAG: &[u8] = b"compute-escrow/index/1";

/// One indexed block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedBlock {
    /// Its number.
    pub number: u64,
    /// Its hash.
    pub hash: [u8; 32],
    /// Its parent's hash.
    pub parent_hash: [u8; 32],
    /// Its timestamp (ms since the Unix epoch).
    pub timestamp: u64,
    /// The escrow's events in it, in order.
    pub events: Vec<IndexedEvent>,
    /// The hash-chain link: covers the previous link, this block and its events.
    pub digest: [u8; 32],
}

/// One escrow event as stored: the chain's bytes (the source of truth) and their decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedEvent {
    /// Index among all the block's events.
    pub event_index: u32,
    /// The extrinsic that emitted it (`None` outside extrinsics).
    pub extrinsic_index: Option<u32>,
    /// The event's name in the contract's metadata.
    pub kind: String,
    /// The event's SCALE-encoded fields, as emitted.
    pub data: Vec<u8>,
    /// `data` decoded.
    pub event: Event<AccountId>,
    /// The treasury in force when it happened (what a release's fee went to), if known.
    pub treasury: Option<AccountId>,
}

/// The link after `prev` for a block: sha256 over the tag, `prev`, the block's number, hash, parent,
/// timestamp and each event's position, kind and bytes. Derived fields (the decoding, the typed
/// tables) are not hashed: they are re-derived from the bytes and compared.
#[must_use]
pub fn link(
    prev: &[u8; 32],
    number: u64,
    hash: &[u8; 32],
    parent_hash: &[u8; 32],
    timestamp: u64,
    events: &[IndexedEvent],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(CHAIN_TAG);
    h.update(prev);
    h.update((number, hash, parent_hash, timestamp, compact_len(events.len())).encode());
    for e in events {
        h.update((e.event_index, e.extrinsic_index, e.kind.as_str(), e.data.as_slice()).encode());
    }
    h.finalize().into()
}

fn compact_len(n: usize) -> scale::Compact<u64> {
    scale::Compact(u64::try_from(n).unwrap_or(u64::MAX))
}

/// Every account an event concerns (for statements), in the order of the event's fields. A release
/// concerns its consumer, its provider and then (third, if known) the treasury that received its fee.
#[must_use]
pub fn accounts_of(event: &Event<AccountId>, treasury: Option<AccountId>) -> Vec<AccountId> {
    match event {
        Event::JobOpened { consumer, providers, arbiter, .. } => {
            core::iter::once(*consumer).chain(providers.clone()).chain([*arbiter]).collect()
        }
        Event::ToppedUp { consumer, .. } | Event::JobCompleted { consumer, .. } | Event::Refunded { consumer, .. } => {
            vec![*consumer]
        }
        Event::Released { consumer, provider, .. } => {
            let mut v = vec![*consumer, *provider];
            v.extend(treasury);
            v
        }
        Event::Allocated { consumer, provider, .. }
        | Event::ThawStarted { consumer, provider, .. }
        | Event::DisputeOpened { consumer, provider, .. }
        | Event::DisputeResolved { consumer, provider, .. } => vec![*consumer, *provider],
        Event::Claimed { account, .. } => vec![*account],
        Event::JobAccepted { provider, .. }
        | Event::Staked { provider, .. }
        | Event::Unbonding { provider, .. }
        | Event::Withdrawn { provider, .. }
        | Event::ReputationChanged { provider, .. } => vec![*provider],
        Event::OwnershipTransferStarted { owner, pending } => vec![*owner, *pending],
        Event::OwnershipTransferred { previous, owner } => vec![*previous, *owner],
        Event::SettingsAnnounced { treasury, arbiter, .. } | Event::SettingsChanged { treasury, arbiter, .. } => {
            vec![*treasury, *arbiter]
        }
    }
}

/// The treasury recorded with a release (the third of its accounts).
#[must_use]
pub fn release_treasury(event: &Event<AccountId>, accounts: &[AccountId]) -> Option<AccountId> {
    match event {
        Event::Released { .. } => accounts.get(2).copied(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(data: &[u8]) -> IndexedEvent {
        IndexedEvent {
            event_index: 3,
            extrinsic_index: Some(1),
            kind: "Claimed".into(),
            data: data.to_vec(),
            event: Event::Claimed { account: [1; 32], amount: 5 },
            treasury: None,
        }
    }

    #[test]
    fn the_link_covers_the_previous_link_the_block_and_every_event_byte() {
        let base = link(&[0; 32], 7, &[1; 32], &[2; 32], 1_000, &[event(b"ab")]);
        assert_eq!(base, link(&[0; 32], 7, &[1; 32], &[2; 32], 1_000, &[event(b"ab")]), "deterministic");
        let changed = [
            link(&[9; 32], 7, &[1; 32], &[2; 32], 1_000, &[event(b"ab")]),
            link(&[0; 32], 8, &[1; 32], &[2; 32], 1_000, &[event(b"ab")]),
            link(&[0; 32], 7, &[3; 32], &[2; 32], 1_000, &[event(b"ab")]),
            link(&[0; 32], 7, &[1; 32], &[4; 32], 1_000, &[event(b"ab")]),
            link(&[0; 32], 7, &[1; 32], &[2; 32], 1_001, &[event(b"ab")]),
            link(&[0; 32], 7, &[1; 32], &[2; 32], 1_000, &[event(b"ac")]),
            link(&[0; 32], 7, &[1; 32], &[2; 32], 1_000, &[]),
            link(&[0; 32], 7, &[1; 32], &[2; 32], 1_000, &[event(b"ab"), event(b"ab")]),
            link(&[0; 32], 7, &[1; 32], &[2; 32], 1_000, &[IndexedEvent { event_index: 4, ..event(b"ab") }]),
            link(&[0; 32], 7, &[1; 32], &[2; 32], 1_000, &[IndexedEvent { extrinsic_index: None, ..event(b"ab") }]),
            link(&[0; 32], 7, &[1; 32], &[2; 32], 1_000, &[IndexedEvent { kind: "Staked".into(), ..event(b"ab") }]),
        ];
        for (i, c) in changed.iter().enumerate() {
            assert_ne!(*c, base, "change {i} must change the link");
        }
    }

    #[test]
    fn a_release_concerns_consumer_provider_and_treasury_in_that_order() {
        let release = Event::Released {
            job_id: 1,
            consumer: [1; 32],
            provider: [2; 32],
            cumulative: 10,
            units: 1,
            sequence: 1,
            amount: 10,
            fee: 0,
            net: 10,
        };
        assert_eq!(accounts_of(&release, Some([3; 32])), vec![[1; 32], [2; 32], [3; 32]]);
        let same = accounts_of(&release, Some([1; 32]));
        assert_eq!(release_treasury(&release, &same), Some([1; 32]), "kept in third place even when repeated");
        assert_eq!(accounts_of(&release, None), vec![[1; 32], [2; 32]]);
        assert_eq!(release_treasury(&release, &accounts_of(&release, None)), None);
        assert_eq!(release.job_id(), Some(1));
        assert_eq!(Event::Claimed { account: [1; 32], amount: 1 }.job_id(), None);
    }

    #[test]
    fn allocations_and_thaws_concern_their_job_its_consumer_and_the_provider() {
        let allocated = Event::Allocated {
            job_id: 1,
            consumer: [1; 32],
            provider: [2; 32],
            amount: 5,
            allocation: 5,
            unallocated: 0,
        };
        let thaw = Event::ThawStarted { job_id: 1, consumer: [1; 32], provider: [2; 32], amount: 5, ends_at: 9 };
        for e in [allocated, thaw] {
            assert_eq!((accounts_of(&e, Some([3; 32])), e.job_id()), (vec![[1; 32], [2; 32]], Some(1)), "{e:?}");
        }
    }
}
