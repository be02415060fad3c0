//! The audit against the node ([`Report::check_against_node`]): every audited block's hash and escrow
//! events compared with what the node serves. The stored hash chain proves the database unchanged since
//! it was written; this proves it matches the chain, even if someone rewrote the whole database
//! consistently. A block the node cannot serve is not skipped: it is a finding ([`lacking_findings`]),
//! since what cannot be compared is not proven.

use std::collections::HashMap;

use escrow_client::blocks::ChainBlock;
use escrow_client::Chain;
use futures::{stream, StreamExt};

use super::identity::other_chain;
use super::{at, Report, CHUNK};
use crate::error::Result;
use crate::ledger::Finding;
use crate::store::{Db, Filter};

/// An escrow event as emitted: event index, extrinsic index, bytes.
type Emitted = (u32, Option<u32>, Vec<u8>);

/// Blocks asked of the node at once.
const CONCURRENCY: usize = 16;

/// What the node could not give for a block the database holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lack {
    /// It has no block at that height (pruned, or a chain that never got that far).
    Block,
    /// It has the block's hash but could not serve its events and timestamp (its state pruned, or
    /// unreadable): why.
    State(String),
}

/// The rule for blocks the node lacks: each is a finding, naming the block and what was missing. One
/// finding per run of consecutive blocks lacking the same thing (a pruning window is a long run); a
/// run's reason is its first block's. `lacking` is in block order.
#[must_use]
pub fn lacking_findings(lacking: &[(u64, Lack)]) -> Vec<Finding> {
    let mut runs: Vec<(u64, u64, &Lack)> = Vec::new();
    for (n, lack) in lacking {
        match runs.last_mut() {
            Some((_, last, run))
                if last.checked_add(1) == Some(*n)
                    && core::mem::discriminant(*run) == core::mem::discriminant(lack) =>
            {
                *last = *n;
            }
            _ => runs.push((*n, *n, lack)),
        }
    }
    runs.into_iter()
        .map(|(first, last, lack)| {
            let blocks = if first == last { format!("block {first}") } else { format!("blocks {first}..={last}") };
            let what = match lack {
                Lack::Block => format!("{blocks}: missing on the node (no block at that height), not compared"),
                Lack::State(reason) => format!(
                    "{blocks}: the node lacks the state (events, timestamp; pruned? it must keep archive state), \
                     not compared: {reason}"
                ),
            };
            Finding { at: at(first, 0), job: None, what }
        })
        .collect()
}

/// Block `n` from the node, or what it lacks. An error reading the block is the node's lack of it
/// only if the node still answers for its hash; otherwise the node is unreachable and the error is
/// returned.
async fn fetch(chain: &Chain, n: u64) -> Result<core::result::Result<ChainBlock, Lack>> {
    match chain.block(n).await {
        Ok(Some(block)) => Ok(Ok(block)),
        Ok(None) => Ok(Err(Lack::Block)),
        Err(e) => Ok(Err(match chain.block_hash(n).await? {
            Some(_) => Lack::State(e.to_string()),
            None => Lack::Block,
        })),
    }
}

impl Report {
    /// Compares every audited block and its escrow events with what the node serves: first the chain
    /// ([`other_chain`]; on another chain nothing more is compared), then block by block. Each block
    /// the node lacks is a finding ([`lacking_findings`]).
    pub async fn check_against_node(&mut self, db: &Db, chain: &Chain) -> Result<()> {
        let Some((start, end)) = self.range else { return Ok(()) };
        if let Some(finding) = other_chain(&self.domain, &chain.genesis_hash(), at(start, 0)) {
            self.integrity.push(finding);
            return Ok(());
        }
        self.chain_checked = true;
        let mut lacking = Vec::new();
        let mut first = start;
        while first <= end {
            let last = first.saturating_add(CHUNK - 1).min(end);
            let stored_blocks: HashMap<u64, [u8; 32]> =
                db.blocks(first, last).await?.into_iter().map(|b| (b.number, b.hash)).collect();
            let mut stored_events: HashMap<u64, Vec<Emitted>> = HashMap::new();
            for e in db.events(&Filter { blocks: Some((first, last)), ..Filter::default() }).await? {
                stored_events.entry(e.block_number).or_default().push((e.event_index, e.extrinsic_index, e.data));
            }
            let mut fetched =
                stream::iter(first..=last).map(|n| async move { (n, fetch(chain, n).await) }).buffered(CONCURRENCY);
            while let Some((n, block)) = fetched.next().await {
                let block = match block? {
                    Ok(block) => block,
                    Err(lack) => {
                        lacking.push((n, lack));
                        continue;
                    }
                };
                if stored_blocks.get(&n).is_some_and(|h| *h != block.hash) {
                    let what = "block hash differs from the node's".to_string();
                    self.integrity.push(Finding { at: at(n, 0), job: None, what });
                }
                let on_chain: Vec<Emitted> = block
                    .events
                    .into_iter()
                    .filter(|e| e.contract == self.domain.contract)
                    .map(|e| (e.event_index, e.extrinsic_index, e.data))
                    .collect();
                if stored_events.remove(&n).unwrap_or_default() != on_chain {
                    let what = "escrow events differ from the node's".to_string();
                    self.integrity.push(Finding { at: at(n, 0), job: None, what });
                }
                self.node_blocks = self.node_blocks.saturating_add(1);
            }
            first = last.saturating_add(1);
        }
        self.integrity.extend(lacking_findings(&lacking));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whats(lacking: &[(u64, Lack)]) -> Vec<(u64, String)> {
        lacking_findings(lacking).into_iter().map(|f| (f.at.block, f.what)).collect()
    }

    #[test]
    fn a_block_the_node_lacks_is_a_finding_naming_it() {
        assert_eq!(whats(&[]), []);
        let found = whats(&[(12, Lack::Block)]);
        assert_eq!(found, [(12, "block 12: missing on the node (no block at that height), not compared".to_string())]);
        let found = whats(&[(3, Lack::State("State already discarded".into()))]);
        assert_eq!(found.len(), 1);
        assert!(found[0].1.starts_with("block 3: the node lacks the state"), "{}", found[0].1);
        assert!(found[0].1.ends_with(": State already discarded"), "{}", found[0].1);
    }

    #[test]
    fn consecutive_blocks_lacking_the_same_thing_are_one_finding() {
        let state = |reason: &str| Lack::State(reason.into());
        let lacking =
            [(1, state("a")), (2, state("b")), (3, state("c")), (4, Lack::Block), (5, Lack::Block), (7, Lack::Block)];
        let found = whats(&lacking);
        let blocks: Vec<u64> = found.iter().map(|(b, _)| *b).collect();
        assert_eq!(blocks, [1, 4, 7], "{found:?}");
        assert!(found[0].1.starts_with("blocks 1..=3: ") && found[0].1.ends_with(": a"), "{}", found[0].1);
        assert!(found[1].1.starts_with("blocks 4..=5: missing on the node"), "{}", found[1].1);
        assert!(found[2].1.starts_with("block 7: "), "{}", found[2].1);
    }
}
