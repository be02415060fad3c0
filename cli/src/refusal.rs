//! How a failed command ends: a refusal by the escrow names the contract's error as the contract does
//! (`ExceedsEscrow`) and says in one line what to do, and exits with [`REFUSED`]; any other failure is
//! printed as it is and exits 1.

use std::process::ExitCode;

use serde_json::json;
use settlement::fee::MAX_FEE_BPS;
use settlement::{Error, MAX_PROVIDERS};

use crate::context::BoxError;

/// Exit status of a command the escrow refused (nothing was submitted).
pub const REFUSED: u8 = 3;

/// What to do about a refusal, in one line.
#[must_use]
pub fn hint(error: Error) -> String {
    match error {
        Error::Unauthorized => {
            "sign (--suri) as the account this needs: the job's consumer, the owner, or the arbiter the job opened with (`escrow config`, `escrow job ID` show who)".into()
        }
        Error::Paused => "the owner paused new jobs; wait for `escrow settings --resume` (top-ups, releases, refunds and claims still work)".into(),
        Error::ZeroAmount => "give an amount above zero".into(),
        Error::InvalidProviders => format!("name 1 to {MAX_PROVIDERS} distinct providers (--provider, repeated)"),
        Error::InsufficientStake => {
            "accepting a job needs the minimum active stake (`escrow config`): `escrow stake` more, see `escrow balance PROVIDER`".into()
        }
        Error::ExpiryInPast => "choose an expiry in the future (--expires-in, or a later --expires-at)".into(),
        Error::ExpiryTooFar => "choose an earlier expiry, within the maximum job duration (`escrow config`)".into(),
        Error::JobNotFound => "check the job id (`escrow config` shows the next id to be given)".into(),
        Error::JobEnded => {
            "the job takes no more funds or receipts; open a new job, and `escrow refund` this one for its remainder".into()
        }
        Error::JobNotEnded => {
            "wait until the job ends (its expiry, or the settle grace after `escrow complete`; `escrow job ID` shows ends_at), then refund".into()
        }
        Error::JobFinalized => "the job is finalized and its remainder already refunded; `escrow claim` pays it out".into(),
        Error::AlreadyCompleted => "nothing to do: the job is already completed; refund it once it ends".into(),
        Error::WrongChain => "sign the receipt for this chain (`escrow sign` reads the genesis hash from --node-url)".into(),
        Error::WrongContract => "sign the receipt for this escrow (--contract)".into(),
        Error::NotAProvider => "name one of the job's providers (`escrow job ID` lists them)".into(),
        Error::ReceiptExpired => "ask the consumer for a new receipt with a later expiry".into(),
        Error::BadSignature => "sign with the job's payer key, the one given to `escrow open-job --payer-key`".into(),
        Error::Replayed => {
            "not returned since v2: receipts are ordered by cumulative amount, the sequence is informational".into()
        }
        Error::CumulativeNotIncreasing => {
            "receipts are ordered by cumulative amount only: sign a total above what this provider was already released (`escrow job ID`)".into()
        }
        Error::UnitsDecreased => "not returned since v2: units are informational, never checked".into(),
        Error::ExceedsEscrow => "`escrow top-up` the job first, or release a smaller cumulative amount".into(),
        Error::NothingToClaim => {
            "there is nothing to pay out (`escrow balance ACCOUNT` shows it; stake is withdrawn after `escrow unbond`)".into()
        }
        Error::InsufficientActiveStake => "unbond at most the active stake (`escrow balance ACCOUNT`)".into(),
        Error::StakeLocked => {
            "wait: `escrow balance ACCOUNT` shows when the unbonding and the job lock end and any pending dispute".into()
        }
        Error::DisputeWindowClosed => "too late: a job can be disputed only until one dispute window after it ends".into(),
        Error::DisputeExists => "this provider is already disputed on this job; wait for the arbiter's `escrow resolve`".into(),
        Error::DisputeNotFound => {
            "no pending dispute for this job and provider: never opened, or already resolved (`escrow job ID`)".into()
        }
        Error::SlashExceedsStake => "slash at most the provider's stake, active plus unbonding (`escrow balance PROVIDER`)".into(),
        Error::FeeTooHigh => format!("choose a fee of at most {MAX_FEE_BPS} bps"),
        Error::InvalidConfig => "check the timing: unbonding > dispute window, settle grace >= thaw, admin delay > window + unbonding, durations > 0".into(),
        Error::NoPendingOwner => "the owner must first name this account with `escrow transfer-ownership --to`".into(),
        Error::Overflow => "use a smaller amount: this one would overflow the escrow's books".into(),
        Error::TransferFailed => "nothing was paid and the balance is kept; retry later, or check the receiving account".into(),
        Error::SettingsNotDue => {
            "announce the change first (`escrow settings --fee-bps ...`), then `--apply` once its effective time has passed (`escrow config`)".into()
        }
        Error::NotAccepted => "the provider must first `escrow accept-job` this job (nothing moves through a job it did not accept)".into(),
        Error::AlreadyAccepted => "nothing to do: this provider already accepted the job".into(),
        Error::TermsChanged => "the provider's allocation is below --min-funds: read the job again (`escrow job ID`) before accepting".into(),
        Error::SlashExceedsBound => "slash at most the bound the provider accepted the job with (`escrow job ID`)".into(),
        Error::DisputeExpired => "the arbitration period has passed: the dispute can only be dismissed (--slash 0), by anyone".into(),
        Error::ExceedsAllocation => {
            "the provider draws only on its own allocation (`escrow job ID`): the consumer raises it with `escrow allocate` or `escrow top-up --to`".into()
        }
        Error::InsufficientUnallocated => {
            "the job's unallocated funds do not cover it: `escrow top-up` first, or `escrow thaw` another provider's allocation and wait for its end".into()
        }
        Error::InsufficientAllocation => "thaw at most the provider's allocation less what it was paid (`escrow job ID`)".into(),
        Error::ThawPending => "one thaw at a time per provider: wait for the pending one to end (`escrow job ID` shows when)".into(),
    }
}

/// The escrow's refusal inside a command's failure, if that is what it was.
#[must_use]
pub fn refusal_in(error: &BoxError) -> Option<Error> {
    match error.downcast_ref::<escrow_client::Error>() {
        Some(escrow_client::Error::Escrow(e)) => Some(*e),
        _ => None,
    }
}

/// The line a refusal prints.
#[must_use]
pub fn message(error: Error) -> String {
    format!("refused by the escrow: {error} — {}", hint(error))
}

/// Reports a failed command on stderr (and a refusal with `--json` also as `{"refused", "hint"}` on
/// stdout); returns the exit status: [`REFUSED`] for a refusal, 1 otherwise.
pub fn report(error: &BoxError, json: bool) -> ExitCode {
    let Some(refused) = refusal_in(error) else {
        eprintln!("error: {error}");
        return ExitCode::FAILURE;
    };
    eprintln!("{}", message(refused));
    if json {
        println!("{}", json!({ "refused": refused.to_string(), "hint": hint(refused) }));
    }
    ExitCode::from(REFUSED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_named_with_one_line_of_advice() {
        let boxed: BoxError = Box::new(escrow_client::Error::Escrow(Error::ExceedsEscrow));
        assert_eq!(refusal_in(&boxed), Some(Error::ExceedsEscrow));
        let line = message(Error::ExceedsEscrow);
        assert!(line.starts_with("refused by the escrow: ExceedsEscrow — "), "{line}");
        assert!(line.contains("top-up"), "{line}");
        assert!(!line.contains('\n'));
        let other: BoxError = "no node".into();
        assert_eq!(refusal_in(&other), None);
        assert!(hint(Error::FeeTooHigh).contains(&MAX_FEE_BPS.to_string()));
    }

    #[test]
    fn every_error_of_the_contract_has_its_own_one_line_hint() {
        use scale::Decode;
        // The SCALE index enumerates the variants as the contract encodes them.
        let every: Vec<Error> = (0..=u8::MAX).map_while(|i| Error::decode(&mut &[i][..]).ok()).collect();
        assert!(every.len() >= 33, "{}", every.len());
        let mut seen = std::collections::HashSet::new();
        for e in every {
            let line = message(e);
            assert!(line.starts_with(&format!("refused by the escrow: {e:?} — ")), "{line}");
            assert!(!line.contains('\n') && line.len() < 200, "{line}");
            assert!(seen.insert(hint(e)), "{e:?} repeats another hint");
        }
    }
}
