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
            let (job_id, consumer, providers, deposit, payer_key, terms_hash, fee_bps, slash_bps, arbiter, expires_at) =
                Decode::decode(input)?;
            Event::JobOpened {
                job_id,
                consumer,
                providers,
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
