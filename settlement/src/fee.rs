//! The platform fee split.
//!
//! Rule: for a gross amount `g` and a fee of `b` basis points, `fee = floor(g * b / 10_000)` and
//! `net = g - fee`, so `net + fee == g` exactly for every `g`; rounding always favours the provider.
//! The product is formed without overflow for every `u128`.
//!
//! Fees are charged on cumulative amounts: a release that moves a provider's cumulative from `a` to
//! `b` charges `fee(b) - fee(a)`. The total fee of a job therefore depends only on its final
//! cumulative amounts, never on how many releases it took.

use crate::Balance;

/// Basis points in one whole.
pub const BPS_DENOMINATOR: u16 = 10_000;
/// The platform default: 500 bps = 5 % to the treasury, 95 % to the provider.
pub const DEFAULT_FEE_BPS: u16 = 500;
/// Hard cap on the fee the owner can set: 10 %.
pub const MAX_FEE_BPS: u16 = 1_000;

/// A gross amount split into what the provider receives and what the treasury receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, scale::Encode, scale::Decode, scale_info::TypeInfo)]
pub struct Split {
    /// Credited to the provider.
    pub net: Balance,
    /// Credited to the treasury.
    pub fee: Balance,
}

/// `floor(gross * bps / 10_000)` without overflow. `bps` above 10 000 is clamped to 10 000.
#[must_use]
pub fn fee_of(gross: Balance, bps: u16) -> Balance {
    const D: Balance = BPS_DENOMINATOR as Balance;
    let b = Balance::from(bps.min(BPS_DENOMINATOR));
    // gross = q * D + r with r < D, so gross * b / D = q * b + r * b / D, and neither product overflows:
    // q * b <= gross (b <= D) and r * b < D * D.
    let (q, r) = (gross / D, gross % D);
    q.saturating_mul(b).saturating_add(r.saturating_mul(b) / D)
}

/// Splits `gross` by the fee rule above.
#[must_use]
pub fn split(gross: Balance, bps: u16) -> Split {
    let fee = fee_of(gross, bps);
    Split { net: gross.saturating_sub(fee), fee }
}

/// The split of the step from cumulative `from` to cumulative `to` (`from <= to`): the fee is
/// `fee(to) - fee(from)`, the net the rest of the step.
#[must_use]
pub fn split_step(from: Balance, to: Balance, bps: u16) -> Split {
    let gross = to.saturating_sub(from);
    let fee = fee_of(to, bps).saturating_sub(fee_of(from.min(to), bps));
    Split { net: gross.saturating_sub(fee), fee }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hundred_splits_95_5() {
        assert_eq!(split(100, DEFAULT_FEE_BPS), Split { net: 95, fee: 5 });
    }

    #[test]
    fn rounding_favours_the_provider() {
        // 5 % of 19 is 0.95: the fee rounds down to 0.
        assert_eq!(split(19, 500), Split { net: 19, fee: 0 });
        assert_eq!(split(39, 500), Split { net: 38, fee: 1 });
        assert_eq!(split(0, 500), Split { net: 0, fee: 0 });
    }

    #[test]
    fn no_overflow_at_the_top() {
        let s = split(Balance::MAX, MAX_FEE_BPS);
        assert_eq!(s.fee, Balance::MAX / 10);
        assert_eq!(s.net.checked_add(s.fee), Some(Balance::MAX));
    }

    #[test]
    fn zero_and_full_fee() {
        assert_eq!(split(12_345, 0), Split { net: 12_345, fee: 0 });
        assert_eq!(split(12_345, 10_000), Split { net: 0, fee: 12_345 });
        assert_eq!(split(12_345, u16::MAX), Split { net: 0, fee: 12_345 });
    }

    #[test]
    fn steps_sum_to_the_split_of_the_total() {
        let steps = [0u128, 19, 20, 39, 1_000, 1_001];
        let (mut net, mut fee) = (0, 0);
        for w in steps.windows(2) {
            let s = split_step(w[0], w[1], 500);
            net += s.net;
            fee += s.fee;
        }
        assert_eq!(Split { net, fee }, split(1_001, 500));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]
        #[test]
        fn split_is_exact(gross in any::<u128>(), bps in 0u16..=10_000) {
            let s = split(gross, bps);
            prop_assert_eq!(s.net.checked_add(s.fee), Some(gross));
            // Matches the naive formula wherever the naive product fits.
            if let Some(p) = gross.checked_mul(u128::from(bps)) {
                prop_assert_eq!(s.fee, p / 10_000);
            }
        }

        #[test]
        fn step_is_exact(a in any::<u128>(), b in any::<u128>(), bps in 0u16..=10_000) {
            let (from, to) = (a.min(b), a.max(b));
            let s = split_step(from, to, bps);
            prop_assert_eq!(s.net.checked_add(s.fee), Some(to - from));
            prop_assert_eq!(fee_of(from, bps) + s.fee, fee_of(to, bps));
        }
    }
}
