// The SDK against a real dev node: deploy, then a job's whole life (open, accept, a receipt signed in
// TypeScript released by the provider, the claim's real payout against the free-balance change), refusals
// thrown as their typed class with nothing submitted, the consumer's allocation messages, staking,
// disputes and their arbiter, and every owner message. One chain, one escrow, in order.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import {
  AlreadyAccepted, BadSignature, CumulativeNotIncreasing, Escrow, EscrowError, ExceedsAllocation, InvalidConfig,
  NoPendingOwner, NothingToClaim, OutcomeUnknown, Paused, PayerKey, type SignedReceipt, SettingsNotDue, StakeLocked,
  Unauthorized, accountHex, findEvent, sameAccount,
} from 'compute-escrow-sdk';

import type { Signer, SignerPayloadJSON } from '@polkadot/types/types';

import { type DevNode, TEST_TIMING, UNIT, bundlePath, deploy, dev, footprint, startNode, waitUntil } from './harness.js';

const alice = dev('Alice'); // owner
const bob = dev('Bob'); // consumer
const charlie = dev('Charlie'); // provider
const dave = dev('Dave'); // a second provider: stake, unbond, withdraw
const eve = dev('Eve'); // treasury
const ferdie = dev('Ferdie'); // arbiter

let node: DevNode;
let escrow: Escrow;
const payer = new PayerKey('0x' + '5a'.repeat(32));
let jobId: bigint;

/** Asserts that `call` throws the typed refusal `cls` and that `who` submitted nothing (no block, nonce, fee). */
async function refused(cls: new (call: string) => EscrowError, who: typeof alice, call: () => Promise<unknown>): Promise<EscrowError> {
  const before = await footprint(escrow, who);
  const error = await call().then(() => assert.fail(`expected ${cls.name}`), (e: unknown) => e);
  assert.ok(error instanceof cls, `expected ${cls.name}, got ${String(error)}`);
  assert.ok(error instanceof EscrowError);
  assert.equal(error.variant, cls.name);
  assert.deepEqual(await footprint(escrow, who), before, 'nothing was submitted');
  return error;
}

function receipt(amount: bigint, sequence: bigint, key = payer): SignedReceipt {
  return key.sign(escrow.receipt({ jobId, provider: charlie.address, amount, units: sequence * 10n, sequence, expiresAt: 4_102_444_800_000n }));
}

before(async () => {
  node = await startNode(2);
  escrow = await deploy(node);
});

after(async () => {
  await node?.stop();
});

describe('escrow through the SDK', () => {
  test('deploy: the SDK instantiated the bundle; config reads back as deployed', async () => {
    const config = await escrow.config();
    assert.ok(sameAccount(config.owner, alice.address));
    assert.ok(sameAccount(config.treasury, eve.address) && sameAccount(config.arbiter, ferdie.address));
    assert.equal(config.feeBps, 500);
    assert.equal(config.minStake, 100n * UNIT);
    assert.equal(config.slashBps, 10_000);
    assert.deepEqual(config.timing, TEST_TIMING);
    assert.equal(config.domain.genesisHash, escrow.genesisHash);
    assert.equal(accountHex(config.domain.contract), escrow.address);
    assert.equal(config.nextJobId, 1n);
    assert.equal(config.pendingOwner, null);
    assert.equal(config.announced, null);
    assert.equal(config.paused, false);
    const deployed = (escrow as Escrow & { deployed: { events: { name: string }[] } }).deployed;
    assert.deepEqual(deployed.events.map((e) => e.name), ['SettingsChanged']);

    // The same escrow through connect, with the bundle as parsed JSON.
    const again = await Escrow.connect(node.url, JSON.parse(readFileSync(bundlePath(), 'utf8')) as Record<string, unknown>, escrow.ss58);
    try {
      assert.deepEqual(await again.config(), config);
    } finally {
      await again.disconnect();
    }
    await assert.rejects(Escrow.connect(node.api, bundlePath(), '0x' + '42'.repeat(32)), /no contract at/);
    // A bundle of other code than the contract at the address runs is refused: its messages, and
    // deposits with them, would go to a contract the bundle does not describe.
    const other = JSON.parse(readFileSync(bundlePath(), 'utf8')) as { source: { hash: string } };
    other.source.hash = '0x' + '99'.repeat(32);
    await assert.rejects(Escrow.connect(node.api, other, escrow.ss58), /not the bundle's/);
  });

  test('deploy: a constructor refusal is thrown typed before anything is submitted', async () => {
    const before = await footprint(escrow, alice);
    await assert.rejects(deploy(node, { timing: { ...TEST_TIMING, unbondDelay: TEST_TIMING.disputeWindow } }), InvalidConfig);
    assert.deepEqual(await footprint(escrow, alice), before);
  });

  let effectiveAt: bigint;
  test('owner: announce a settings change; applying it early is refused (SettingsNotDue)', async () => {
    const done = await escrow.announceSettings(alice, { feeBps: 250 });
    const announced = findEvent(done.events, 'SettingsAnnounced');
    assert.ok(announced);
    assert.equal(announced.feeBps, 250);
    effectiveAt = announced.effectiveAt;
    assert.equal((await escrow.config()).announced?.effectiveAt, effectiveAt);
    await refused(SettingsNotDue, alice, () => escrow.applySettings(alice));
    await refused(Unauthorized, bob, () => escrow.announceSettings(bob, { feeBps: 1 }));
  });

  test('provider: stake', async () => {
    const done = await escrow.stake(charlie, 100n * UNIT);
    assert.deepEqual(findEvent(done.events, 'Staked'), { provider: charlie.address, amount: 100n * UNIT, active: 100n * UNIT });
    assert.equal((await escrow.stakeOf(charlie.address)).active, 100n * UNIT);
  });

  test('consumer: open a job (payable); the free balance drops by deposit + fee + storage deposit', async () => {
    const free = await escrow.freeBalance(bob.address);
    const expiresAt = (await escrow.now()) + 600_000n;
    const done = await escrow.openJob(bob, {
      deposit: 10n * UNIT,
      providers: [{ provider: charlie.address, allocation: 8n * UNIT }],
      payerKey: payer.publicKey,
      termsHash: new Uint8Array(32).fill(7),
      expiresAt,
    });
    jobId = done.jobId;
    assert.equal(jobId, 1n);
    assert.equal(done.value, jobId);
    assert.ok(done.fee > 0n && done.storageDeposit > 0n);
    assert.equal(free - (await escrow.freeBalance(bob.address)), 10n * UNIT + done.fee + done.storageDeposit);
    const job = await escrow.job(jobId);
    assert.ok(job);
    assert.ok(sameAccount(job.consumer, bob.address));
    assert.equal(job.deposit, 10n * UNIT);
    assert.equal(job.unallocated, 2n * UNIT);
    assert.equal(job.slots[0]?.allocation, 8n * UNIT);
    assert.equal(job.slots[0]?.acceptedAt, 0n);
    assert.equal(job.payerKey, payer.publicKey);
    assert.equal(job.termsHash, '0x' + '07'.repeat(32));
    assert.equal(job.status, 'Open');
    assert.equal(job.expiresAt, expiresAt);
    assert.equal(await escrow.job(99n), null);
  });

  test('provider: accept the job', async () => {
    const done = await escrow.acceptJob(charlie, jobId, { minFunds: 8n * UNIT, maxSlash: 8n * UNIT });
    assert.equal(done.value, 8n * UNIT);
    assert.equal(findEvent(done.events, 'JobAccepted')?.funds, 8n * UNIT);
    await refused(AlreadyAccepted, charlie, () => escrow.acceptJob(charlie, jobId, { minFunds: 0n, maxSlash: 0n }));
  });

  test('refusals are thrown typed and nothing is submitted: above the allocation, a bad signature', async () => {
    await refused(ExceedsAllocation, charlie, () => escrow.release(charlie, receipt(9n * UNIT, 1n)));
    await refused(BadSignature, charlie, () => escrow.release(charlie, receipt(UNIT, 1n, new PayerKey('0x' + '66'.repeat(32)))));
    const tampered = { ...receipt(UNIT, 1n), receipt: { ...receipt(UNIT, 1n).receipt, amount: 2n * UNIT } };
    await refused(BadSignature, charlie, () => escrow.release(charlie, tampered));
  });

  test('provider: release a receipt signed in TypeScript', async () => {
    const done = await escrow.release(charlie, receipt(4n * UNIT, 1n));
    assert.deepEqual(done.value, { net: 38n * UNIT / 10n, fee: UNIT / 5n });
    const released = findEvent(done.events, 'Released');
    assert.deepEqual(released, {
      jobId, consumer: bob.address, provider: charlie.address, cumulative: 4n * UNIT, units: 10n, sequence: 1n,
      amount: 4n * UNIT, fee: UNIT / 5n, net: 38n * UNIT / 10n,
    });
    assert.deepEqual(await escrow.lane(jobId, charlie.address), { amount: 4n * UNIT, units: 10n, sequence: 1n, fee: UNIT / 5n });
    assert.equal(await escrow.balanceOf(charlie.address), 38n * UNIT / 10n);
    assert.equal(await escrow.balanceOf(eve.address), UNIT / 5n);
    await refused(CumulativeNotIncreasing, charlie, () => escrow.release(charlie, receipt(4n * UNIT, 2n)));
  });

  test('anyone: release many, each settled or refused on its own', async () => {
    const bad = new PayerKey('0x' + '77'.repeat(32));
    const done = await escrow.releaseMany(dave, [receipt(5n * UNIT, 2n), receipt(9n * UNIT / 2n, 3n), receipt(6n * UNIT, 4n, bad)]);
    const [first, second, third] = done.value;
    assert.deepEqual(first, { net: 95n * UNIT / 100n, fee: UNIT / 20n });
    assert.ok(second instanceof CumulativeNotIncreasing);
    assert.ok(third instanceof BadSignature);
    assert.deepEqual(done.events.filter((e) => e.name === 'Released').length, 1);
    assert.equal(done.storageDeposit, 0n);
  });

  test('provider: claim pays the Claimed amount (plus any storage-deposit refund), as the free balance shows (finalized)', async () => {
    const claimable = await escrow.balanceOf(charlie.address);
    assert.equal(claimable, 475n * UNIT / 100n);
    const free = await escrow.freeBalance(charlie.address);
    const done = await escrow.claim(charlie, { finalized: true });
    assert.equal(done.claimed, claimable);
    assert.equal(done.value, claimable);
    // This contract keeps a claimed balance record at zero (contracts/escrow/src/lib.rs, set_balance), so
    // the claim frees no storage and refunds no deposit; the SDK measures the refund from the
    // transaction's contracts.StorageDeposit* events all the same, should a version free storage.
    assert.equal(done.storageDepositRefund, 0n);
    assert.equal(done.paidOut, done.claimed + done.storageDepositRefund);
    const finalizedHash = await escrow.api.rpc.chain.getFinalizedHead();
    const finalizedNumber = (await escrow.api.rpc.chain.getHeader(finalizedHash)).number.toBigInt();
    const claimBlock = (await escrow.api.rpc.chain.getHeader(done.blockHash)).number.toBigInt();
    assert.ok(finalizedNumber >= claimBlock, 'the claim was finalized when it returned');
    assert.equal((await escrow.freeBalance(charlie.address)) - free, done.paidOut - done.fee);
    assert.equal(await escrow.balanceOf(charlie.address), 0n);
    await refused(NothingToClaim, charlie, () => escrow.claim(charlie));
  });

  test('consumer: top up (also signed as an extension signs), allocate, thaw', async () => {
    const topUp = await escrow.topUp(bob, jobId, UNIT);
    assert.deepEqual(findEvent(topUp.events, 'ToppedUp'), { jobId, consumer: bob.address, amount: UNIT, deposit: 11n * UNIT });
    const allocate = await escrow.allocate(bob, jobId, charlie.address, UNIT);
    assert.equal(allocate.value, 9n * UNIT);
    assert.equal(findEvent(allocate.events, 'Allocated')?.unallocated, 2n * UNIT);
    const thaw = await escrow.thaw(bob, jobId, charlie.address, UNIT);
    const started = findEvent(thaw.events, 'ThawStarted');
    assert.equal(started?.amount, UNIT);
    assert.ok(started && started.endsAt > 0n);
    // Signed the way a browser extension signs: an address and a `Signer` (signPayload), no key pair.
    const signer: Signer = {
      signPayload: async (payload: SignerPayloadJSON) => {
        const extrinsic = escrow.api.registry.createType('ExtrinsicPayload', payload, { version: payload.version });
        return { id: 1, signature: extrinsic.sign(bob).signature };
      },
    };
    const toProvider = await escrow.topUp({ address: bob.address, signer }, jobId, UNIT, charlie.address);
    assert.equal(findEvent(toProvider.events, 'ToppedUp')?.deposit, 12n * UNIT);
  });

  test('owner: set_paused refuses new jobs (Paused) until resumed', async () => {
    const paused = await escrow.setPaused(alice, true);
    assert.equal(findEvent(paused.events, 'SettingsChanged')?.paused, true);
    assert.equal((await escrow.config()).paused, true);
    const open = () => escrow.openJob(bob, {
      deposit: UNIT, providers: [{ provider: charlie.address, allocation: UNIT }], payerKey: payer.publicKey,
      termsHash: '0x' + '00'.repeat(32), expiresAt: 4_102_444_800_000n,
    });
    await refused(Paused, bob, open);
    await refused(Unauthorized, bob, () => escrow.setPaused(bob, false));
    await escrow.setPaused(alice, false);
    assert.equal((await escrow.config()).paused, false);
    // No final status within the wait: the outcome is unknown (it is sent, and may be included), said
    // with its hash; here it does land, and nothing was sent twice.
    const nonce = (await node.api.rpc.system.accountNextIndex(alice.address)).toNumber();
    const late = await escrow.setPaused(alice, false, { timeoutMs: 1 }).then(() => null, (e: unknown) => e);
    assert.ok(late instanceof OutcomeUnknown, `${String(late)}`);
    assert.match(late.txHash, /^0x[0-9a-f]{64}$/);
    assert.equal(late.sender, alice.address);
    for (let i = 0; (await node.api.rpc.system.accountNextIndex(alice.address)).toNumber() === nonce && i < 100; i++) {
      await sleep(100);
    }
    assert.equal((await node.api.rpc.system.accountNextIndex(alice.address)).toNumber(), nonce + 1);
  });

  test('owner: transfer ownership in two steps, and back', async () => {
    const started = await escrow.transferOwnership(alice, bob.address);
    assert.deepEqual(findEvent(started.events, 'OwnershipTransferStarted'), { owner: alice.address, pending: bob.address });
    assert.ok(sameAccount((await escrow.config()).pendingOwner ?? '0x', bob.address));
    await refused(NoPendingOwner, charlie, () => escrow.acceptOwnership(charlie));
    const accepted = await escrow.acceptOwnership(bob);
    assert.deepEqual(findEvent(accepted.events, 'OwnershipTransferred'), { previous: alice.address, owner: bob.address });
    await refused(Unauthorized, alice, () => escrow.setPaused(alice, true));
    await escrow.transferOwnership(bob, alice.address);
    await escrow.acceptOwnership(alice);
    assert.ok(sameAccount((await escrow.config()).owner, alice.address));
  });

  test('consumer completes, anyone refunds, the consumer disputes and the arbiter slashes', async () => {
    const completed = await escrow.complete(bob, jobId);
    const endsAt = findEvent(completed.events, 'JobCompleted')?.endsAt;
    assert.ok(endsAt);
    await waitUntil(escrow, endsAt);
    const refund = await escrow.refund(dave, jobId);
    // 12 deposited, 5 released.
    assert.equal(findEvent(refund.events, 'Refunded')?.amount, 7n * UNIT);
    assert.equal((await escrow.job(jobId))?.status, 'Finalized');

    const reason = '0x' + 'ee'.repeat(32);
    const opened = await escrow.dispute(bob, jobId, charlie.address, reason);
    assert.equal(findEvent(opened.events, 'DisputeOpened')?.reason, reason);
    const dispute = await escrow.disputeOf(jobId, charlie.address);
    assert.equal(dispute?.status, 'Pending');
    assert.equal(dispute?.resolveBy, findEvent(opened.events, 'DisputeOpened')?.resolveBy);
    assert.ok(opened.value <= (dispute?.resolveBy ?? 0n), 'the dry-run ran in an earlier block');
    assert.equal((await escrow.stakeOf(charlie.address)).pendingDisputes, 1);

    await refused(Unauthorized, bob, () => escrow.resolveDispute(bob, jobId, charlie.address, UNIT));
    const resolved = await escrow.resolveDispute(ferdie, jobId, charlie.address, UNIT);
    assert.equal(findEvent(resolved.events, 'DisputeResolved')?.slashed, UNIT);
    assert.equal((await escrow.disputeOf(jobId, charlie.address))?.status, 'Upheld');
    const reputation = await escrow.reputationOf(charlie.address);
    assert.equal(reputation.disputesLost, 1);
    assert.equal(reputation.slashed, UNIT);
    assert.equal(reputation.jobsCompleted, 1n, 'the refund finalized a job it was paid on');
    assert.equal(reputation.volume, 5n * UNIT);
    assert.equal(reputation.score, 285, '1000 * (1 + 1) / (1 + 1 + 5 * 1)');
    assert.equal(await escrow.balanceOf(bob.address), 8n * UNIT, 'the refund and the slash');
    const claim = await escrow.claim(bob);
    assert.equal(claim.claimed, 8n * UNIT);
  });

  test('provider: stake, unbond, withdraw once unlocked (StakeLocked before)', async () => {
    await escrow.stake(dave, 5n * UNIT);
    const unbond = await escrow.unbond(dave, 5n * UNIT);
    const unlockAt = findEvent(unbond.events, 'Unbonding')?.unlockAt;
    assert.ok(unlockAt);
    assert.equal((await escrow.stakeOf(dave.address)).unbonding, 5n * UNIT);
    await refused(StakeLocked, dave, () => escrow.withdraw(dave));
    await waitUntil(escrow, unlockAt, ferdie);
    const free = await escrow.freeBalance(dave.address);
    const withdrawn = await escrow.withdraw(dave);
    assert.equal(withdrawn.value, 5n * UNIT);
    assert.deepEqual(findEvent(withdrawn.events, 'Withdrawn'), { provider: dave.address, amount: 5n * UNIT });
    assert.equal((await escrow.freeBalance(dave.address)) - free, 5n * UNIT - withdrawn.fee - withdrawn.storageDeposit);
  });

  test('owner: apply the announced settings once due', async () => {
    await waitUntil(escrow, effectiveAt);
    const applied = await escrow.applySettings(alice);
    assert.equal(findEvent(applied.events, 'SettingsChanged')?.feeBps, 250);
    const config = await escrow.config();
    assert.equal(config.feeBps, 250);
    assert.equal(config.announced, null);
  });
});
