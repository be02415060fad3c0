// What the SDK's chain tests share: a private substrate-contracts-node --dev per test file (temporary
// chain, free loopback ports, killed when the file's tests end), the dev accounts, the escrow deployed
// with the SDK's own `Escrow.deploy` and short test timing, and moving the chain's clock (instant seal
// makes blocks only for transactions, so waiting means sealing remarks).

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { cryptoWaitReady } from '@polkadot/util-crypto';

import { Escrow, type DeployParams } from 'compute-escrow-sdk';

/** One token of the dev chain (12 decimals). */
export const UNIT = 1_000_000_000_000n;

/** Short timing (ms), as the Rust tests' TEST_TIMING: 4 s dispute window, 6 s unbonding, 2 s grace and thaw, 10.001 s admin delay. */
export const TEST_TIMING = {
  unbondDelay: 6_000n,
  disputeWindow: 4_000n,
  settleGrace: 2_000n,
  maxJobDuration: 3_600_000n,
  thawPeriod: 2_000n,
  adminDelay: 10_001n,
  arbitrationPeriod: 30_000n,
};

/** An environment variable the tests need (scripts/test-sdk sets them all). */
export function env(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the SDK tests with scripts/test-sdk (it sources scripts/env.sh)`);
  }
  return value;
}

/** The escrow's release bundle (`$ESCROW_BUNDLE`, built by scripts/build-contracts). */
export function bundlePath(): string {
  const path = env('ESCROW_BUNDLE');
  if (!existsSync(path)) throw new Error(`ESCROW_BUNDLE=${path} does not exist: build it with scripts/build-contracts`);
  return path;
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Kills `child` (and waits for it) when this process exits, whatever way it exits. */
export function killOnExit(child: ChildProcess): () => Promise<void> {
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', kill);
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(5_000).then(kill)]);
  };
}

/** A running dev node. */
export interface DevNode {
  url: string;
  api: ApiPromise;
  stop(): Promise<void>;
}

/** Starts `$CONTRACTS_NODE --dev --tmp` (finalizing `finalizeDelaySec` after sealing) and connects to it. */
export async function startNode(finalizeDelaySec = 1): Promise<DevNode> {
  await cryptoWaitReady();
  const rpc = await freePort();
  const child = spawn(env('CONTRACTS_NODE'), [
    '--dev', '--tmp', '--no-telemetry', '--no-prometheus', '--no-mdns', '--finalize-delay-sec', String(finalizeDelaySec),
    '--rpc-port', String(rpc), '--port', String(await freePort()),
  ], { stdio: 'ignore' });
  const stopNode = killOnExit(child);
  const url = `ws://127.0.0.1:${rpc}`;
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the node exited with ${child.exitCode}`);
    const provider = new WsProvider(url, false);
    try {
      await provider.connect();
      const api = await ApiPromise.create({ provider, noInitWarn: true, throwOnConnect: true });
      return { url, api, stop: async () => { await api.disconnect(); await stopNode(); } };
    } catch {
      await provider.disconnect().catch(() => undefined);
      if (Date.now() - started > 60_000) throw new Error(`the node at ${url} is not ready after 60 s`);
      await sleep(250);
    }
  }
}

/** A dev account (`//Alice` ... `//Ferdie`: all funded on the dev chain). */
export function dev(name: 'Alice' | 'Bob' | 'Charlie' | 'Dave' | 'Eve' | 'Ferdie'): KeyringPair {
  return new Keyring({ type: 'sr25519' }).addFromUri(`//${name}`);
}

/** Deploys the escrow with the SDK: Alice owns it, Eve is the treasury, Ferdie the arbiter, a 5 % fee. */
export async function deploy(node: DevNode, overrides: Partial<DeployParams> = {}, finalized = false): Promise<Escrow> {
  const params: DeployParams = {
    treasury: dev('Eve').address,
    arbiter: dev('Ferdie').address,
    feeBps: 500,
    minStake: 100n * UNIT,
    slashBps: 10_000,
    timing: TEST_TIMING,
    ...overrides,
  };
  return Escrow.deploy(node.api, bundlePath(), dev('Alice'), params, { finalized });
}

/** Seals a block (a remark by `signer`), moving the chain's clock to now. */
export async function tick(api: ApiPromise, signer: KeyringPair): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    api.tx.system.remark('0x7469636b').signAndSend(signer, { nonce: -1 }, (result) => {
      if (result.status.isInBlock || result.status.isFinalized) resolve();
      if (result.status.isInvalid || result.status.isDropped) reject(new Error(`tick: ${result.status.type}`));
    }).catch(reject);
  });
}

/** Seals blocks until the chain's clock passes `at` (ms). */
export async function waitUntil(escrow: Escrow, at: bigint, signer = dev('Dave')): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    await tick(escrow.api, signer);
    const now = await escrow.now();
    if (now > at) return;
    if (Date.now() > deadline) throw new Error(`chain time ${now} did not pass ${at} within 120 s`);
    const wait = Number(at - now);
    await sleep(Math.min(Math.max(wait, 50), 1_000));
  }
}

/** An account's nonce and free balance, and the best block number: what a refused call must leave as it was. */
export async function footprint(escrow: Escrow, who: KeyringPair): Promise<{ nonce: bigint; free: bigint; block: bigint }> {
  const [account, header] = await Promise.all([escrow.api.query.system.account(who.address), escrow.api.rpc.chain.getHeader()]);
  return { nonce: account.nonce.toBigInt(), free: account.data.free.toBigInt(), block: header.number.toBigInt() };
}
