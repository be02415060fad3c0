// The gateway client against the real gateway (`escrow serve`, $ESCROW_BIN) on a dev node that finalizes
// 3 s after sealing (the gateway judges receipts as of the finalized chain, so the job is set up with
// `{ finalized: true }`) and a fresh Postgres database ($SDK_GATEWAY_DATABASE_URL, made by
// scripts/test-sdk): receipts signed in TypeScript accepted, resent (duplicate), in a batch with
// per-receipt verdicts, refused with their codes, and an HTTP error typed.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import {
  CumulativeNotIncreasing, type Escrow, GatewayClient, GatewayError, PayerKey, type SignedReceipt, TransactionError,
} from 'compute-escrow-sdk';

import { type DevNode, TEST_TIMING, UNIT, bundlePath, deploy, dev, env, freePort, killOnExit, startNode } from './harness.js';

const bob = dev('Bob');
const charlie = dev('Charlie');
const payer = PayerKey.generate();
const FAR = 4_102_444_800_000n;

let node: DevNode;
let escrow: Escrow;
let gateway: GatewayClient;
let stopGateway: () => Promise<void>;
let jobId: bigint;
let log = '';

function receipt(amount: bigint, sequence: bigint, key = payer, job = jobId): SignedReceipt {
  return key.sign(escrow.receipt({ jobId: job, provider: charlie.address, amount, units: sequence, sequence, expiresAt: FAR }));
}

before(async () => {
  const database = env('SDK_GATEWAY_DATABASE_URL');
  const binary = env('ESCROW_BIN');
  node = await startNode(3);
  // The gateway refuses a settle grace or thaw period shorter than its acceptance margin (6 s).
  const timing = { ...TEST_TIMING, settleGrace: 60_000n, thawPeriod: 60_000n, unbondDelay: 120_000n, adminDelay: 180_001n };
  escrow = await deploy(node, { timing }, true);
  await escrow.stake(charlie, 100n * UNIT, { finalized: true });
  const opened = await escrow.openJob(bob, {
    deposit: 10n * UNIT, providers: [{ provider: charlie.address, allocation: 8n * UNIT }], payerKey: payer.publicKey,
    termsHash: '0x' + '01'.repeat(32), expiresAt: (await escrow.now()) + 3_000_000n,
  }, { finalized: true });
  jobId = opened.jobId;
  await escrow.acceptJob(charlie, jobId, { minFunds: 0n, maxSlash: 8n * UNIT }, { finalized: true });

  const listen = `127.0.0.1:${await freePort()}`;
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEWAY__')));
  const child = spawn(binary, ['serve'], {
    env: {
      ...clean, ESCROW_NODE_URL: node.url, ESCROW_CONTRACT: escrow.address, ESCROW_BUNDLE: bundlePath(),
      GATEWAY__LISTEN: listen, GATEWAY__DATABASE_URL: database, RUST_LOG: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d: Buffer) => { log += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { log += d.toString(); });
  stopGateway = killOnExit(child);
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}:\n${log}`);
    const ready = await fetch(`http://${listen}/readyz`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() - started > 60_000) throw new Error(`the gateway is not ready after 60 s:\n${log}`);
    await sleep(250);
  }
  gateway = new GatewayClient(`http://${listen}/`);
});

after(async () => {
  await stopGateway?.();
  await node?.stop();
});

describe('gateway client against escrow serve', () => {
  let firstId: number;

  test('a receipt signed in TypeScript is accepted (201), then answered as a duplicate (200)', async () => {
    const signed = receipt(UNIT, 1n);
    const verdict = await gateway.submit(signed);
    assert.equal(verdict.status, 'accepted');
    assert.ok(verdict.status === 'accepted' && verdict.id > 0 && !verdict.duplicate);
    firstId = verdict.id;
    assert.deepEqual(await gateway.submit(signed), { status: 'accepted', id: firstId, duplicate: true });
  });

  test('a batch gets one verdict per receipt, in order', async () => {
    const other = new PayerKey('0x' + '99'.repeat(32));
    const verdicts = await gateway.submitBatch([
      receipt(2n * UNIT, 2n),
      receipt(UNIT, 1n),
      receipt(3n * UNIT, 3n, other),
      receipt(UNIT / 2n, 4n),
      receipt(9n * UNIT, 5n),
      // u64s past 2^53 travel exactly (JSON.stringify could not write them).
      receipt(5n * UNIT / 2n, (1n << 53n) + 1n),
    ]);
    assert.equal(verdicts.length, 6);
    assert.ok(verdicts[0]?.status === 'accepted' && !verdicts[0].duplicate);
    assert.deepEqual(verdicts[1], { status: 'accepted', id: firstId, duplicate: true });
    assert.deepEqual(verdicts.slice(2, 5).map((v) => v.status === 'rejected' && v.code), ['bad_signature', 'cumulative_not_increasing', 'exceeds_allocation']);
    assert.ok(verdicts[5]?.status === 'accepted' && !verdicts[5].duplicate);
  });

  test('a badly signed receipt alone is rejected (422) with its code', async () => {
    const signed = receipt(4n * UNIT, 6n);
    const forged = { ...signed, receipt: { ...signed.receipt, amount: 5n * UNIT } };
    const verdict = await gateway.submit(forged);
    assert.equal(verdict.status, 'rejected');
    assert.ok(verdict.status === 'rejected' && verdict.code === 'bad_signature' && verdict.message.length > 0);
  });

  test('other refusals: a job the escrow does not have, another contract', async () => {
    const unknown = await gateway.submit(receipt(UNIT, 1n, payer, 999n));
    assert.ok(unknown.status === 'rejected' && unknown.code === 'unknown_job');
    const elsewhere = payer.sign({ ...escrow.receipt({ jobId, provider: charlie.address, amount: 7n * UNIT, units: 0n, sequence: 7n, expiresAt: FAR }), contract: '0x' + '00'.repeat(32) });
    const verdict = await gateway.submit(elsewhere);
    assert.ok(verdict.status === 'rejected' && verdict.code === 'wrong_contract');
  });

  test('an HTTP error is thrown typed: an empty batch (400 empty_batch)', async () => {
    const error = await gateway.submitBatch([]).then(() => assert.fail('expected a GatewayError'), (e: unknown) => e);
    assert.ok(error instanceof GatewayError);
    assert.equal(error.status, 400);
    assert.equal(error.code, 'empty_batch');
  });

  test('what the gateway accepted is what the chain settles: the provider releases the highest receipt', async () => {
    const done = await escrow.release(charlie, receipt(5n * UNIT / 2n, (1n << 53n) + 1n), { finalized: true });
    assert.deepEqual(done.value, { net: 2_375_000_000_000n, fee: 125_000_000_000n });
    assert.equal((await escrow.lane(jobId, charlie.address)).sequence, (1n << 53n) + 1n);
  });

  test('two submitters race one receipt: it settles once; the other is refused typed, at its dry-run or at inclusion', async () => {
    const signed = receipt(3n * UNIT, 99n);
    const outcomes = await Promise.allSettled([escrow.release(charlie, signed), escrow.release(bob, signed)]);
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1, JSON.stringify(outcomes.map((o) => o.status)));
    const lost = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')?.reason as unknown;
    // Both dry-runs passed (the usual case): the second reverted in its block, paid its fee, and says why.
    if (lost instanceof TransactionError) {
      assert.equal(lost.reason, 'contracts.ContractReverted');
      assert.ok((lost.fee ?? 0n) > 0n);
      assert.ok(lost.cause instanceof CumulativeNotIncreasing, String(lost.cause));
    } else {
      assert.ok(lost instanceof CumulativeNotIncreasing, String(lost));
    }
    assert.equal((await escrow.lane(jobId, charlie.address)).amount, 3n * UNIT);
  });
});

describe('the README quick start', () => {
  test('is the same code in both READMEs, and runs as written: the job opened, its receipt judged', async () => {
    const code = readFileSync(new URL('../test/quickstart.ts', import.meta.url), 'utf8');
    const body = code.slice(code.search(/^import /m));
    for (const readme of ['../README.md', '../../../README.md']) {
      const text = readFileSync(new URL(readme, import.meta.url), 'utf8');
      const start = text.indexOf('```ts\n') + '```ts\n'.length;
      assert.equal(text.slice(start, text.indexOf('```', start)), body, `${readme}'s quick start`);
    }
    const run = await promisify(execFile)(process.execPath, [new URL('./quickstart.js', import.meta.url).pathname], {
      env: {
        ...process.env, ESCROW_NODE_URL: node.url, ESCROW_BUNDLE: bundlePath(), ESCROW_CONTRACT: escrow.address,
        ESCROW_GATEWAY: gateway.baseUrl,
      },
      timeout: 120_000,
    });
    const [id] = run.stdout.trim().split(/\s/, 1);
    // console.log prints a bigint as `2n`.
    const opened = await escrow.job(BigInt((id ?? 'x').replace(/n$/, '')));
    assert.ok(opened, run.stdout);
    assert.equal(opened.consumer, bob.address);
    assert.equal(opened.deposit, 10n ** 13n);
    // Charlie has not accepted this job: the gateway refuses its receipt by the rule, storing nothing.
    assert.match(run.stdout, /status: 'rejected'/);
    assert.match(run.stdout, /code: 'not_accepted'/);
  });
});
