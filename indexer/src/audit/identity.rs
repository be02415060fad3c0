//! Contract identity: the database audited must have been built for the contract the audit is
//! configured for, and (when a node is at hand) on that node's chain. A database of another contract
//! or chain holds a history of its own, which may well be consistent: without these rules it would
//! pass.

use escrow_client::accounts::ss58;
use escrow_client::AccountId;
use settlement::Domain;

use crate::ledger::{Finding, Position};

/// The contract rule: the contract the database records (`stored`) is the `configured` one. The
/// finding, if any, is put `at` the start of the indexed history.
#[must_use]
pub fn other_contract(stored: &Domain<AccountId>, configured: &AccountId, at: Position) -> Option<Finding> {
    (stored.contract != *configured).then(|| Finding {
        at,
        job: None,
        what: format!(
            "this database was built for contract {}, the audit is configured for {}",
            ss58(stored.contract),
            ss58(*configured)
        ),
    })
}

/// The chain rule: the chain the database records (`stored`, by its genesis hash) is the one the node
/// serves (`node`).
#[must_use]
pub fn other_chain(stored: &Domain<AccountId>, node: &[u8; 32], at: Position) -> Option<Finding> {
    (stored.genesis_hash != *node).then(|| Finding {
        at,
        job: None,
        what: format!(
            "this database was built on the chain with genesis 0x{}, the node serves 0x{}",
            hex::encode(stored.genesis_hash),
            hex::encode(node)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORED: Domain<AccountId> = Domain { genesis_hash: [1; 32], contract: [2; 32] };
    const AT: Position = Position { block: 7, event: 0 };

    #[test]
    fn the_configured_contract_passes_and_another_is_named() {
        assert_eq!(other_contract(&STORED, &[2; 32], AT), None);
        let f = other_contract(&STORED, &[3; 32], AT);
        let what = f.as_ref().map(|f| f.what.as_str()).unwrap_or_default();
        assert!(what.contains(&ss58([2; 32])) && what.contains(&ss58([3; 32])), "{what}");
        assert_eq!(f.map(|f| (f.at, f.job)), Some((AT, None)));
    }

    #[test]
    fn the_nodes_chain_passes_and_another_is_named() {
        assert_eq!(other_chain(&STORED, &[1; 32], AT), None);
        let what = other_chain(&STORED, &[9; 32], AT).map(|f| f.what).unwrap_or_default();
        assert!(what.contains(&hex::encode([1; 32])) && what.contains(&hex::encode([9; 32])), "{what}");
    }
}
