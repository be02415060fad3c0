//! Decoding the escrow's ink! events (as found in `Contracts::ContractEmitted`) back into
//! [`settlement::Event`]s. The first topic is the event's signature topic, which the bundle's metadata
//! maps to its name; the data is the SCALE encoding of the event's fields in declaration order.

use scale::Decode;
use settlement::{Event, Reputation};

use crate::bundle::Bundle;
use crate::error::{Error, Result};
use crate::AccountId;

/// An emitted contract event as the chain stores it.
#[derive(Debug, Clone, Copy)]
pub struct RawEvent<'a> {
    /// The event record's topics; the first is the signature topic.
    pub topics: &'a [[u8; 32]],
    /// The event's SCALE-encoded fields.
    pub data: &'a [u8],
}

/// The escrow event in `raw`.
pub fn decode_event(bundle: &Bundle, raw: &RawEvent<'_>) -> Result<Event<AccountId>> {
    decode_labelled(event_label(bundle, raw)?, raw.data)
}

/// The label (event name) of the escrow event in `raw`, from its signature topic.
pub fn event_label<'b>(bundle: &'b Bundle, raw: &RawEvent<'_>) -> Result<&'b str> {
    let signature = raw.topics.first().ok_or_else(|| Error::Call("contract event without topics".into()))?;
    bundle.event_label(signature).ok_or_else(|| Error::Call("unknown contract event".into()))
}

/// The escrow event named `label` with SCALE-encoded fields `data`; every byte must be used.
pub fn decode_labelled(label: &str, data: &[u8]) -> Result<Event<AccountId>> {
    let input = &mut &data[..];
    let event = match label {
        "JobOpened" => {
            let (
                job_id,
                consumer,
                providers,
                allocations,
                deposit,
                payer_key,
                terms_hash,
                fee_bps,
                slash_bps,
                arbiter,
                expires_at,
            ) = Decode::decode(input)?;
            Event::JobOpened {
                job_id,
                consumer,
                providers,
                allocations,
                deposit,
                payer_key,
                terms_hash,
                fee_bps,
                slash_bps,
                arbiter,
                expires_at,
            }
        }
        "JobAccepted" => {
            let (job_id, provider, funds, max_slash, locked_until) = Decode::decode(input)?;
            Event::JobAccepted { job_id, provider, funds, max_slash, locked_until }
        }
        "ToppedUp" => {
            let (job_id, consumer, amount, deposit) = Decode::decode(input)?;
            Event::ToppedUp { job_id, consumer, amount, deposit }
        }
        "Allocated" => {
            let (job_id, consumer, provider, amount, allocation, unallocated) = Decode::decode(input)?;
            Event::Allocated { job_id, consumer, provider, amount, allocation, unallocated }
        }
        "ThawStarted" => {
            let (job_id, consumer, provider, amount, ends_at) = Decode::decode(input)?;
            Event::ThawStarted { job_id, consumer, provider, amount, ends_at }
        }
        "Released" => {
            let (job_id, consumer, provider, cumulative, units, sequence, amount, fee, net) = Decode::decode(input)?;
            Event::Released { job_id, consumer, provider, cumulative, units, sequence, amount, fee, net }
        }
        "JobCompleted" => {
            let (job_id, consumer, ends_at) = Decode::decode(input)?;
            Event::JobCompleted { job_id, consumer, ends_at }
        }
        "Refunded" => {
            let (job_id, consumer, amount) = Decode::decode(input)?;
            Event::Refunded { job_id, consumer, amount }
        }
        "Claimed" => {
            let (account, amount) = Decode::decode(input)?;
            Event::Claimed { account, amount }
        }
        "Staked" => {
            let (provider, amount, active) = Decode::decode(input)?;
            Event::Staked { provider, amount, active }
        }
        "Unbonding" => {
            let (provider, amount, unbonding, unlock_at) = Decode::decode(input)?;
            Event::Unbonding { provider, amount, unbonding, unlock_at }
        }
        "Withdrawn" => {
            let (provider, amount) = Decode::decode(input)?;
            Event::Withdrawn { provider, amount }
        }
        "DisputeOpened" => {
            let (job_id, consumer, provider, reason, resolve_by) = Decode::decode(input)?;
            Event::DisputeOpened { job_id, consumer, provider, reason, resolve_by }
        }
        "DisputeResolved" => {
            let (job_id, consumer, provider, slashed) = Decode::decode(input)?;
            Event::DisputeResolved { job_id, consumer, provider, slashed }
        }
        "ReputationChanged" => {
            let (provider, reputation, score): (AccountId, Reputation, u32) = Decode::decode(input)?;
            Event::ReputationChanged { provider, reputation, score }
        }
        "OwnershipTransferStarted" => {
            let (owner, pending) = Decode::decode(input)?;
            Event::OwnershipTransferStarted { owner, pending }
        }
        "OwnershipTransferred" => {
            let (previous, owner) = Decode::decode(input)?;
            Event::OwnershipTransferred { previous, owner }
        }
        "SettingsAnnounced" => {
            let (treasury, arbiter, fee_bps, min_stake, slash_bps, effective_at) = Decode::decode(input)?;
            Event::SettingsAnnounced { treasury, arbiter, fee_bps, min_stake, slash_bps, effective_at }
        }
        "SettingsChanged" => {
            let (treasury, arbiter, fee_bps, min_stake, slash_bps, paused) = Decode::decode(input)?;
            Event::SettingsChanged { treasury, arbiter, fee_bps, min_stake, slash_bps, paused }
        }
        other => return Err(Error::Call(format!("unknown contract event {other}"))),
    };
    if !input.is_empty() {
        return Err(Error::Call(format!("{label}: {} bytes left over", input.len())));
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use scale::Encode;
    use settlement::{Event, Reputation};

    use super::decode_labelled;
    use crate::AccountId;

    /// One event of each kind, every field distinct.
    fn samples() -> Vec<Event<AccountId>> {
        let (job_id, consumer, provider, other) = (7, [1; 32], [2; 32], [3; 32]);
        let reputation = Reputation { jobs_completed: 1, volume: 2, disputes_lost: 3, slashed: 4 };
        vec![
            Event::JobOpened {
                job_id,
                consumer,
                providers: vec![provider, other],
                allocations: vec![11, 12],
                deposit: 13,
                payer_key: [4; 32],
                terms_hash: [5; 32],
                fee_bps: 14,
                slash_bps: 15,
                arbiter: other,
                expires_at: 16,
            },
            Event::JobAccepted { job_id, provider, funds: 21, max_slash: 22, locked_until: 23 },
            Event::ToppedUp { job_id, consumer, amount: 31, deposit: 32 },
            Event::Allocated { job_id, consumer, provider, amount: 41, allocation: 42, unallocated: 43 },
            Event::ThawStarted { job_id, consumer, provider, amount: 51, ends_at: 52 },
            Event::Released {
                job_id,
                consumer,
                provider,
                cumulative: 61,
                units: 62,
                sequence: 63,
                amount: 64,
                fee: 65,
                net: 66,
            },
            Event::JobCompleted { job_id, consumer, ends_at: 71 },
            Event::Refunded { job_id, consumer, amount: 81 },
            Event::Claimed { account: other, amount: 91 },
            Event::Staked { provider, amount: 101, active: 102 },
            Event::Unbonding { provider, amount: 111, unbonding: 112, unlock_at: 113 },
            Event::Withdrawn { provider, amount: 121 },
            Event::DisputeOpened { job_id, consumer, provider, reason: [6; 32], resolve_by: 131 },
            Event::DisputeResolved { job_id, consumer, provider, slashed: 141 },
            Event::ReputationChanged { provider, reputation, score: 151 },
            Event::OwnershipTransferStarted { owner: provider, pending: other },
            Event::OwnershipTransferred { previous: other, owner: provider },
            Event::SettingsAnnounced {
                treasury: provider,
                arbiter: other,
                fee_bps: 161,
                min_stake: 162,
                slash_bps: 163,
                effective_at: 164,
            },
            Event::SettingsChanged {
                treasury: provider,
                arbiter: other,
                fee_bps: 171,
                min_stake: 172,
                slash_bps: 173,
                paused: true,
            },
        ]
    }

    /// The contract deposits each event's fields as the settlement event encodes them after its variant
    /// index, under the label of its name: each decodes back whole, every byte used.
    #[test]
    fn every_event_decodes_from_its_fields() {
        let mut labels = std::collections::BTreeSet::new();
        for event in samples() {
            let label = format!("{event:?}");
            let label = label.split([' ', '{']).next().unwrap_or_default();
            let encoded = event.encode();
            let fields = encoded.get(1..).unwrap_or_default();
            assert_eq!(decode_labelled(label, fields).ok(), Some(event.clone()), "{label}");
            let mut longer = fields.to_vec();
            longer.push(0);
            assert!(decode_labelled(label, &longer).is_err(), "{label} with a byte left over");
            let cut = fields.split_last().map(|(_, rest)| rest).unwrap_or_default();
            assert!(decode_labelled(label, cut).is_err(), "{label} cut short");
            labels.insert(label.to_owned());
        }
        assert_eq!(labels.len(), 19, "one sample of each event");
        assert!(decode_labelled("Unknown", &[]).is_err());
    }
}
