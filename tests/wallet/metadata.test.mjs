// The escrow contract's release bundle, loaded the way wallets load it: with polkadot.js's
// `Abi` (@polkadot/api-contract). Checks that the ink! v5 metadata parses, that every message is
// there with its selector, that call data polkadot.js encodes is byte-for-byte the SCALE the
// contract decodes, that every return type and the `Error` enum decode, and that events are found by
// their signature topic.
//
// Run with `node --test` in this folder; ESCROW_BUNDLE names the .contract file (scripts/test-wallet
// sets it from scripts/env.sh).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import { Abi } from '@polkadot/api-contract';
import { compactStripLength, isWasm, u8aToHex } from '@polkadot/util';
import { blake2AsHex, encodeAddress } from '@polkadot/util-crypto';

function loadBundle() {
  const path = process.env.ESCROW_BUNDLE;
  if (!path) {
    throw new Error(
      'ESCROW_BUNDLE is not set: point it at the escrow .contract bundle ' +
        '(scripts/test-wallet sets it; build it with scripts/build-contracts)'
    );
  }
  if (!existsSync(path)) {
    throw new Error(`ESCROW_BUNDLE=${path} does not exist: build it with scripts/build-contracts`);
  }
  return JSON.parse(readFileSync(path, 'utf8'));
}

const json = loadBundle();
const abi = new Abi(json);

const CONSTRUCTORS = ['new'];
const TRANSACTIONS = [
  'open_job',
  'accept_job',
  'top_up',
  'allocate',
  'thaw',
  'release',
  'release_many',
  'complete',
  'refund',
  'claim',
  'stake',
  'unbond',
  'withdraw',
  'dispute',
  'resolve_dispute',
  'transfer_ownership',
  'accept_ownership',
  'announce_settings',
  'apply_settings',
  'set_paused'
];
const QUERIES = ['config', 'job', 'lane', 'stake_of', 'reputation_of', 'balance_of', 'dispute_of'];
const PAYABLE = ['open_job', 'top_up', 'stake'];

// ---- hand-built SCALE, independent of polkadot.js ----

/** `n` bytes, all `byte`. */
const fill = (n, byte) => new Uint8Array(n).fill(byte);
/** An unsigned integer as `size` little-endian bytes. */
function le(value, size) {
  const out = new Uint8Array(size);
  let v = BigInt(value);
  for (let i = 0; i < size; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  assert.equal(v, 0n, `${value} does not fit in ${size} bytes`);
  return out;
}
/** Concatenates byte arrays and plain arrays of bytes. */
const cat = (...parts) => new Uint8Array(Buffer.concat(parts.map((p) => Uint8Array.from(p))));
const hex = (u8a) => u8aToHex(u8a);

/**
 * The call data the contract receives: `toU8a` returns it with a SCALE compact length prefix (it
 * is passed on as `Bytes`). Checks the prefix covers exactly the rest, and returns the rest.
 */
function callData(encoded) {
  const [consumed, data] = compactStripLength(encoded);
  assert.equal(consumed, encoded.length, 'length prefix does not cover the call data exactly');
  return data;
}

function selectorOf(label, list = json.spec.messages) {
  const spec = list.find((m) => m.label === label);
  assert.ok(spec, `no ${label} in the JSON`);
  return Uint8Array.from(Buffer.from(spec.selector.slice(2), 'hex'));
}

/** Encodes a call and checks it is `selector ++ args` with the args' expected length. */
function encodeCall(message, args, argsLength) {
  const data = callData(message.toU8a(args));
  const selector = message.selector.toU8a();
  assert.equal(hex(selector), hex(selectorOf(message.identifier, message.isConstructor ? json.spec.constructors : json.spec.messages)));
  assert.equal(hex(data.subarray(0, 4)), hex(selector), `${message.identifier}: call data does not start with its selector`);
  assert.equal(data.length, 4 + argsLength, `${message.identifier}: call data length`);
  return data;
}

/** Decodes a return value as a wallet does after a dry run (see api-contract base/Contract.js). */
function decodeReturn(label, bytes) {
  const { returnType } = abi.findMessage(label);
  return abi.registry.createTypeUnsafe(returnType.lookupName || returnType.type, [bytes], { isPedantic: true });
}

const alice = fill(32, 0xa1);
const bob = fill(32, 0xb0);
const carol = fill(32, 0xc4);
const genesis = fill(32, 0x9e);
const contract = fill(32, 0xcc);

describe('bundle', () => {
  test('is an ink! v5 bundle with a Wasm blob polkadot.js can deploy', () => {
    assert.equal(abi.metadata.version.toString(), '5');
    assert.equal(abi.isRevive, false, 'polkadot.js took the bundle for a pallet-revive (PolkaVM) one');
    assert.match(abi.info.source.language.toString(), /^ink! 5\./);
    assert.equal(abi.info.contract.name.toString(), 'escrow');
    // CodePromise deploys abi.info.source.wasm when it is Wasm.
    assert.ok(isWasm(abi.info.source.wasm.toU8a(true)), 'source.wasm is not a Wasm module');
    assert.equal(abi.info.source.wasmHash.toHex(), blake2AsHex(abi.info.source.wasm.toU8a(true), 256));
  });

  test('has the environment a wallet needs', () => {
    for (const key of ['accountId', 'balance', 'timestamp', 'blockNumber', 'hashType']) {
      assert.ok(abi.environment.has(key), `environment lacks ${key}`);
    }
    assert.equal(abi.environment.get('balance').type, 'u128');
    assert.equal(abi.environment.get('maxEventTopics').toNumber(), 4);
  });
});

describe('constructors and messages', () => {
  test('every label is there, and no other', () => {
    assert.deepEqual(abi.constructors.map((c) => c.identifier), CONSTRUCTORS);
    assert.deepEqual(
      abi.messages.map((m) => m.identifier).sort(),
      [...TRANSACTIONS, ...QUERIES].sort()
    );
  });

  test('selectors, mutability and payability match the JSON', () => {
    for (const message of abi.messages) {
      const label = message.identifier;
      assert.equal(message.selector.toHex(), json.spec.messages.find((m) => m.label === label).selector, label);
      assert.equal(message.isMutating, TRANSACTIONS.includes(label), `${label} isMutating`);
      assert.equal(message.isPayable, PAYABLE.includes(label), `${label} isPayable`);
      assert.equal(abi.findMessage(message.method), message, `${label} not found by its camelCase name ${message.method}`);
    }
    const selectors = new Set(abi.messages.map((m) => m.selector.toHex()));
    assert.equal(selectors.size, abi.messages.length, 'two messages share a selector');
  });
});

describe('call data', () => {
  test('new(genesis_hash, treasury, arbiter, fee_bps, min_stake, slash_bps, Timing)', () => {
    const ctor = abi.findConstructor('new');
    const timing = {
      unbond_delay: 86_400_000,
      dispute_window: 3_600_000,
      settle_grace: 600_000,
      max_job_duration: 2_592_000_000,
      thaw_period: 600_000,
      admin_delay: 14_400_000,
      arbitration_period: 259_200_000
    };
    const data = encodeCall(ctor, [genesis, alice, bob, 250, 10n ** 12n, 5_000, timing], 32 + 32 + 32 + 2 + 16 + 2 + 7 * 8);
    assert.equal(
      hex(data.subarray(4)),
      hex(cat(genesis, alice, bob, le(250, 2), le(10n ** 12n, 16), le(5_000, 2),
        le(86_400_000, 8), le(3_600_000, 8), le(600_000, 8), le(2_592_000_000, 8),
        le(600_000, 8), le(14_400_000, 8), le(259_200_000, 8)))
    );
  });

  test('open_job(Vec<(AccountId, Balance)>, [u8;32], [u8;32], Timestamp) takes SS58 addresses and allocations', () => {
    const open = abi.findMessage('open_job');
    const payerKey = fill(32, 0x11);
    const termsHash = fill(32, 0x22);
    const expiresAt = 1_700_000_000_000n;
    const primary = 2n ** 100n + 7n; // past u64: the allocation is a u128
    const data = encodeCall(
      open,
      [[[encodeAddress(alice, 42), primary], [bob, 0]], payerKey, termsHash, expiresAt],
      1 + 2 * (32 + 16) + 32 + 32 + 8
    );
    assert.equal(
      hex(data.subarray(4)),
      hex(cat([0x08], alice, le(primary, 16), bob, le(0, 16), payerKey, termsHash, le(expiresAt, 8)))
    );

    // And back, as a wallet shows a pending call.
    const decoded = abi.decodeMessage(open.toU8a([[[alice, primary], [bob, 0]], payerKey, termsHash, expiresAt]));
    assert.equal(decoded.message.identifier, 'open_job');
    assert.deepEqual(decoded.args[0].map(([a]) => hex(a.toU8a())), [hex(alice), hex(bob)]);
    assert.deepEqual(decoded.args[0].map(([, x]) => x.toBigInt()), [primary, 0n]);
    assert.equal(decoded.args[3].toBigInt(), expiresAt);
  });

  test('top_up(JobId, Option<AccountId>), allocate and thaw(JobId, AccountId, Balance)', () => {
    const topUp = abi.findMessage('top_up');
    assert.equal(hex(encodeCall(topUp, [9, null], 8 + 1).subarray(4)), hex(cat(le(9, 8), [0])));
    // An Option<AccountId> as SS58 (a raw Uint8Array would be read as already length-prefixed).
    const to = encodeAddress(bob, 42);
    assert.equal(hex(encodeCall(topUp, [9, to], 8 + 1 + 32).subarray(4)), hex(cat(le(9, 8), [1], bob)));
    for (const label of ['allocate', 'thaw']) {
      const message = abi.findMessage(label);
      const data = encodeCall(message, [9, encodeAddress(bob, 42), 2n ** 70n], 8 + 32 + 16);
      assert.equal(hex(data.subarray(4)), hex(cat(le(9, 8), bob, le(2n ** 70n, 16))), label);
    }
  });

  const receipt = {
    domain: { genesis_hash: genesis, contract },
    job_id: 7,
    provider: carol,
    amount: 2n ** 100n + 3n, // past u64: checks u128 is not squeezed through a JS number
    units: 1_000_000,
    sequence: 42,
    expires_at: 1_700_000_000_000
  };
  const signature = Uint8Array.from({ length: 64 }, (_, i) => i);
  const receiptBytes = cat(
    genesis, contract, le(7, 8), carol, le(2n ** 100n + 3n, 16), le(1_000_000, 16), le(42, 8), le(1_700_000_000_000, 8)
  );

  test('release(Receipt { Domain, .. }, [u8;64])', () => {
    assert.equal(receiptBytes.length, 152);
    const release = abi.findMessage('release');
    assert.equal(release.args[0].type.lookupName, 'SettlementReceipt');
    assert.equal(release.args[1].type.type, '[u8;64]');
    const data = encodeCall(release, [receipt, signature], 152 + 64);
    assert.equal(hex(data.subarray(4)), hex(cat(receiptBytes, signature)));

    // Field names work as in the metadata (snake_case) and as polkadot.js shows them (camelCase).
    const camel = {
      domain: { genesisHash: genesis, contract },
      jobId: 7,
      provider: carol,
      amount: receipt.amount,
      units: 1_000_000,
      sequence: 42,
      expiresAt: 1_700_000_000_000
    };
    assert.equal(hex(release.toU8a([camel, signature])), hex(release.toU8a([receipt, signature])));

    // A signature of the wrong length is refused, not padded.
    assert.throws(() => release.toU8a([receipt, signature.subarray(0, 63)]), /64 bytes/);
  });

  test('release_many(Vec<(Receipt, [u8;64])>)', () => {
    const data = encodeCall(abi.findMessage('release_many'), [[[receipt, signature], [receipt, signature]]], 1 + 2 * (152 + 64));
    assert.equal(hex(data.subarray(4)), hex(cat([0x08], receiptBytes, signature, receiptBytes, signature)));
  });

  test('announce_settings(SettingsChange) with Option fields; apply_settings(); set_paused(bool)', () => {
    const announce = abi.findMessage('announce_settings');
    // An Option<AccountId> takes the account as an SS58 or hex string, as a wallet's form gives it.
    // (A raw Uint8Array given to an Option is read by polkadot.js as an already SCALE-encoded Option:
    // its first byte is taken as the None/Some tag.)
    const some = encodeCall(
      announce,
      [{ treasury: encodeAddress(alice, 42), arbiter: null, fee_bps: 250, min_stake: null, slash_bps: null }],
      33 + 1 + 3 + 1 + 1
    );
    assert.equal(
      hex(announce.toU8a([{ treasury: hex(alice), arbiter: null, fee_bps: 250, min_stake: null, slash_bps: null }])),
      hex(announce.toU8a([{ treasury: encodeAddress(alice, 42), arbiter: null, fee_bps: 250, min_stake: null, slash_bps: null }]))
    );
    assert.equal(hex(some.subarray(4)), hex(cat([1], alice, [0], [1], le(250, 2), [0], [0])));

    const none = encodeCall(announce, [{ treasury: null, arbiter: null, fee_bps: null, min_stake: null, slash_bps: null }], 5);
    assert.equal(hex(none.subarray(4)), hex(fill(5, 0)));

    const stake = encodeCall(announce, [{ min_stake: 5n, slash_bps: 2_500 }], 1 + 1 + 1 + 17 + 3);
    assert.equal(hex(stake.subarray(4)), hex(cat([0, 0, 0, 1], le(5, 16), [1], le(2_500, 2))));

    const accept = encodeCall(abi.findMessage('accept_job'), [7, 10n ** 12n, 2n ** 100n], 8 + 16 + 16);
    assert.equal(hex(accept.subarray(4)), hex(cat(le(7, 8), le(10n ** 12n, 16), le(2n ** 100n, 16))));

    assert.equal(encodeCall(abi.findMessage('apply_settings'), [], 0).length, 4);
    const paused = encodeCall(abi.findMessage('set_paused'), [true], 1);
    assert.equal(hex(paused.subarray(4)), hex([1]));
  });

  test('a wrong number of arguments is refused', () => {
    assert.throws(() => abi.findMessage('release').toU8a([receipt]), /Expected 2 arguments/);
  });
});

describe('return types', () => {
  test('every constructor and message return type can be created, encoded and decoded', () => {
    for (const message of [...abi.constructors, ...abi.messages]) {
      const label = message.identifier;
      const { returnType } = message;
      assert.ok(returnType, `${label} has no return type`);
      const type = returnType.lookupName || returnType.type;
      // ink! wraps every result in Result<_, LangError>.
      assert.match(type, /^Result<.*, InkPrimitivesLangError>$/, label);
      const value = abi.registry.createTypeUnsafe(type, []);
      assert.ok(value.isOk, `${label}: default is not Ok`);
      const again = abi.registry.createTypeUnsafe(type, [value.toU8a()], { isPedantic: true });
      assert.equal(hex(again.toU8a()), hex(value.toU8a()), label);
    }
  });

  test('values as the contract returns them decode', () => {
    // Ok(Ok(Split { net, fee }))
    const split = decodeReturn('release', cat([0, 0], le(9_750, 16), le(250, 16)));
    assert.ok(split.isOk && split.asOk.isOk);
    assert.deepEqual(split.asOk.asOk.toJSON(), { net: 9_750, fee: 250 });

    // Ok(Err(BadSignature)): index 16 of settlement::error::Error
    const bad = decodeReturn('release', cat([0, 1, 16]));
    assert.ok(bad.isOk && bad.asOk.isErr);
    assert.equal(bad.asOk.asErr.type, 'BadSignature');
    assert.ok(bad.asOk.asErr.isBadSignature);

    // Ok(Ok([Ok(split), Err(Replayed)]))
    const many = decodeReturn('release_many', cat([0, 0, 0x08, 0], le(9_750, 16), le(250, 16), [1, 17]));
    const results = many.asOk.asOk;
    assert.equal(results.length, 2);
    assert.equal(results[0].asOk.net.toNumber(), 9_750);
    assert.equal(results[1].asErr.type, 'Replayed');

    // Ok(u128) from a query; Err(CouldNotReadInput), the LangError (its only variant, index 1)
    assert.equal(decodeReturn('balance_of', cat([0], le(2n ** 100n, 16))).asOk.toBigInt(), 2n ** 100n);
    const lang = decodeReturn('balance_of', cat([1, 1]));
    assert.ok(lang.isErr);
    assert.equal(lang.asErr.type, 'CouldNotReadInput');

    // Ok(None) and Ok(Some(..)) for Option queries
    assert.ok(decodeReturn('job', cat([0, 0])).asOk.isNone);
    const cfg = decodeReturn('config', abi.registry.createTypeUnsafe(abi.findMessage('config').returnType.type, []).toU8a());
    assert.equal(cfg.asOk.pendingOwner.isNone, true);

    // Trailing bytes are refused.
    assert.throws(() => decodeReturn('claim', cat([0, 0], le(1, 16), [0])));
  });

  test('the Error enum of the Result return types lists its variants', () => {
    const errorSpec = json.types.find((t) => (t.type.path || []).join('::') === 'settlement::error::Error');
    assert.ok(errorSpec, 'no settlement::error::Error in the metadata types');
    const variants = errorSpec.type.def.variant.variants;
    const names = variants.map((v) => v.name);
    for (const name of ['Unauthorized', 'Paused', 'ReceiptExpired', 'BadSignature', 'Replayed', 'ExceedsEscrow', 'WrongChain', 'WrongContract', 'NothingToClaim', 'TransferFailed', 'ExceedsAllocation', 'InsufficientUnallocated', 'InsufficientAllocation', 'ThawPending']) {
      assert.ok(names.includes(name), `Error lacks ${name}`);
    }

    const withError = [];
    for (const message of [...abi.constructors, ...abi.messages]) {
      const inner = message.returnType.sub[0]; // Ok of Result<_, LangError>
      if (inner.namespace !== 'Result') continue;
      withError.push(message.identifier);
      const error = inner.sub[1];
      assert.equal(error.lookupName, 'SettlementError', message.identifier);
      const def = abi.registry.lookup.getTypeDef(error.lookupIndex);
      assert.deepEqual(def.sub.map((v) => v.name), names, message.identifier);
      assert.deepEqual(def.sub.map((v) => v.index), variants.map((v) => v.index), message.identifier);
    }
    assert.deepEqual(withError.sort(), ['new', ...TRANSACTIONS].sort(), 'messages whose result carries Error');

    // Every variant decodes by its index to its name.
    for (const { index, name } of variants) {
      assert.equal(decodeReturn('claim', cat([0, 1, index])).asOk.asErr.type, name);
    }
  });
});

describe('events', () => {
  test('every event has its signature topic', () => {
    assert.equal(abi.events.length, json.spec.events.length);
    for (const event of abi.events) {
      const spec = json.spec.events.find((e) => `${e.module_path}::${e.label}` === event.identifier);
      assert.ok(spec, event.identifier);
      assert.ok(event.signatureTopic, `${event.identifier} has no signature topic`);
      assert.equal(event.signatureTopic, spec.signature_topic, event.identifier);
    }
  });

  // A ContractEmitted record as polkadot.js hands it to Abi.decodeEvent for v5 metadata: the
  // event data is `[contract, data]` and the topics are the record's topics, the first being the
  // signature topic.
  const record = (data, topics) => ({
    event: { data: [abi.registry.createType('AccountId', contract), data] },
    topics: topics.map((t) => abi.registry.createType('Hash', t))
  });

  test('Claimed { account, amount } decodes by its signature topic', () => {
    // ink! v5: blake2b-256 of "Name(FieldType,..)".
    const topic = blake2AsHex('Claimed(AccountId,Balance)', 256);
    assert.equal(abi.events.find((e) => e.identifier === 'escrow::escrow::Claimed').signatureTopic, topic);

    const amount = 2n ** 80n + 12_345n;
    const decoded = abi.decodeEvent(record(cat(alice, le(amount, 16)), [topic, alice]));
    assert.equal(decoded.event.identifier, 'escrow::escrow::Claimed');
    assert.deepEqual(decoded.event.args.map((a) => a.name), ['account', 'amount']);
    assert.equal(hex(decoded.args[0].toU8a()), hex(alice));
    assert.equal(decoded.args[1].toBigInt(), amount);
  });

  test('Released decodes with three indexed fields', () => {
    const released = abi.events.find((e) => e.identifier === 'escrow::escrow::Released');
    const data = cat(le(7, 8), alice, carol, le(10_000, 16), le(500, 16), le(3, 8), le(4_000, 16), le(40, 16), le(3_960, 16));
    const decoded = abi.decodeEvent(record(data, [released.signatureTopic, le(7, 32), alice, carol]));
    assert.equal(decoded.event, released);
    const args = Object.fromEntries(decoded.event.args.map((a, i) => [a.name, decoded.args[i]]));
    assert.equal(args.jobId.toNumber(), 7);
    assert.equal(hex(args.provider.toU8a()), hex(carol));
    assert.equal(args.sequence.toNumber(), 3);
    assert.equal(args.net.toBigInt(), 3_960n);
  });

  test('an unknown signature topic is refused', () => {
    assert.throws(() => abi.decodeEvent(record(cat(alice, le(1, 16)), [fill(32, 0xee), alice])), /Unable to determine event/);
  });
});
