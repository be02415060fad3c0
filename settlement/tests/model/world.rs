//! The world the runs play in: the accounts, the payer keys, the configuration and the fee rule.

use std::sync::LazyLock;

use ed25519_dalek::SigningKey;
use settlement::memory::AccountBytes;
use settlement::receipt::SignatureBytes;
use settlement::{Config, Domain, Receipt, Settings, Timing};

pub(crate) type Acc = AccountBytes;

pub(crate) const GENESIS: [u8; 32] = [0x6e; 32];
pub(crate) const CONTRACT: Acc = [0xec; 32];
pub(crate) const DOMAIN: Domain<Acc> = Domain { genesis_hash: GENESIS, contract: CONTRACT };
pub(crate) const START: u64 = 1_700_000_000_000;
pub(crate) const TIMING: Timing = Timing {
    unbond_delay: 300,
    dispute_window: 100,
    settle_grace: 30,
    max_job_duration: 500,
    thaw_period: 30,
    admin_delay: 401,
    arbitration_period: 200,
};
pub(crate) const INITIAL_FEE_BPS: u16 = 500;
pub(crate) const INITIAL_MIN_STAKE: u128 = 100;
/// Half of what a provider accepts a job with may be slashed by one dispute.
pub(crate) const INITIAL_SLASH_BPS: u16 = 5_000;
pub(crate) const TERMS: [u8; 32] = [0x7e; 32];
pub(crate) const REASON: [u8; 32] = [0x3e; 32];

pub(crate) const CONSUMERS: [Acc; 2] = [[0xc1; 32], [0xc2; 32]];
/// Providers; the last one is not staked at the start of a random run.
pub(crate) const PROVIDERS: [Acc; 5] = [[0xa1; 32], [0xa2; 32], [0xa3; 32], [0xa4; 32], [0xa5; 32]];
pub(crate) const TREASURIES: [Acc; 2] = [[0x71; 32], [0x72; 32]];
pub(crate) const ARBITERS: [Acc; 2] = [[0xab; 32], [0xac; 32]];
pub(crate) const OWNERS: [Acc; 2] = [[0x01; 32], [0x02; 32]];
pub(crate) const STRANGER: Acc = [0x5e; 32];

/// Who may call a consumer's operation when it is not the job's own consumer.
pub(crate) const OTHER_CALLERS: [Acc; 3] = [CONSUMERS[0], CONSUMERS[1], STRANGER];
/// Accounts named as the provider of a receipt or dispute that need not be on the job.
pub(crate) const ANY_PROVIDER: [Acc; 6] =
    [PROVIDERS[0], PROVIDERS[1], PROVIDERS[2], PROVIDERS[3], PROVIDERS[4], STRANGER];
/// Who the owner may make the treasury: also a provider or a consumer, whose balances then mix.
pub(crate) const TREASURY_CHOICES: [Acc; 4] = [TREASURIES[0], TREASURIES[1], PROVIDERS[0], CONSUMERS[0]];
/// Callers of the owner's and arbiter's operations when not the current one.
pub(crate) const ADMIN_CALLERS: [Acc; 5] = [OWNERS[0], OWNERS[1], ARBITERS[0], ARBITERS[1], STRANGER];

pub(crate) fn accounts() -> Vec<Acc> {
    let mut all = vec![STRANGER];
    all.extend(CONSUMERS);
    all.extend(PROVIDERS);
    all.extend(TREASURIES);
    all.extend(ARBITERS);
    all.extend(OWNERS);
    all
}

/// Payer keys: jobs use the first two; the third only ever signs as the wrong key.
pub(crate) static KEYS: LazyLock<Vec<SigningKey>> =
    LazyLock::new(|| (1..=3u8).map(|n| SigningKey::from_bytes(&[n; 32])).collect());

pub(crate) fn public(key: usize) -> [u8; 32] {
    KEYS[key].verifying_key().to_bytes()
}

pub(crate) fn sign(key: usize, receipt: &Receipt<Acc>) -> SignatureBytes {
    receipt.sign(&KEYS[key])
}

/// The configuration every run starts from.
pub(crate) fn config() -> Config<Acc> {
    let settings = Settings {
        treasury: TREASURIES[0],
        arbiter: ARBITERS[0],
        fee_bps: INITIAL_FEE_BPS,
        min_stake: INITIAL_MIN_STAKE,
        slash_bps: INITIAL_SLASH_BPS,
    };
    Config::new(OWNERS[0], settings, TIMING, DOMAIN).unwrap()
}

/// Cases per property: `default`, unless `PROPTEST_CASES` says otherwise (the mutants step of
/// `scripts/test` runs fewer).
pub(crate) fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The fee rule, written the obvious way: `floor(gross * bps / 10_000)` (the decomposed form only where
/// the product overflows, which the random amounts never reach).
pub(crate) fn naive_fee(gross: u128, bps: u16) -> u128 {
    let bps = u128::from(bps);
    match gross.checked_mul(bps) {
        Some(product) => product / 10_000,
        None => (gross / 10_000) * bps + (gross % 10_000) * bps / 10_000,
    }
}
