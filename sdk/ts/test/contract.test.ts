// The SDK's fixed lists agree with their sources, so drift in either is caught: the typed error classes
// with the bundle's `settlement::error::Error` variants (names and ABI indices), and the gateway's codes
// with gateway/openapi.json's schemas. Also: the SDK normalizes byte and account arguments.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import {
  ESCROW_ERROR_VARIANTS, EscrowError, ExceedsAllocation, GATEWAY_ERROR_CODES, REFUSAL_CODES, REJECTION_CODES,
  PayerKey, ThawPending, Unauthorized, accountHex, escrowError, retryAfterSeconds, signedReceiptJson, verifyReceipt,
} from 'compute-escrow-sdk';
import * as sdk from 'compute-escrow-sdk';

import { bundlePath } from './harness.js';

interface Variant { name: string; index: number }

describe('typed errors', () => {
  const bundle = JSON.parse(readFileSync(bundlePath(), 'utf8')) as { types: { type: { path?: string[]; def: { variant?: { variants: Variant[] } } } }[] };
  const spec = bundle.types.find((t) => (t.type.path ?? []).join('::') === 'settlement::error::Error');

  test('one class per variant of the contract Error enum, with its ABI index', () => {
    assert.ok(spec?.type.def.variant, 'the bundle has settlement::error::Error');
    const variants = spec.type.def.variant.variants;
    assert.deepEqual([...ESCROW_ERROR_VARIANTS], variants.map((v) => v.name));
    for (const { name, index } of variants) {
      const cls = (sdk as unknown as Record<string, new (call: string) => EscrowError>)[name];
      assert.ok(cls, `no class ${name}`);
      const e = new cls('release');
      assert.ok(e instanceof EscrowError && e instanceof Error);
      assert.equal(e.variant, name);
      assert.equal(e.index, index);
      assert.equal(e.name, name);
      assert.equal(cls.name, name);
      assert.match(e.message, new RegExp(`release refused by the escrow: ${name}`));
    }
  });

  test('escrowError builds the class named by the variant', () => {
    const e = escrowError('ExceedsAllocation', 'release');
    assert.ok(e instanceof ExceedsAllocation);
    assert.ok(!(e instanceof ThawPending) && !(e instanceof Unauthorized));
    assert.throws(() => escrowError('NoSuchVariant', 'claim'), /does not know/);
  });
});

describe('gateway codes match gateway/openapi.json', () => {
  const openapi = JSON.parse(readFileSync(new URL('../../../gateway/openapi.json', import.meta.url), 'utf8')) as {
    components: { schemas: Record<string, { properties: Record<string, { enum?: string[] }>; required?: string[] }> };
  };
  const schemas = openapi.components.schemas;

  test('every error code the SDK types is in the Error schema, and every one there is typed', () => {
    const documented = schemas.Error?.properties.code?.enum ?? [];
    assert.deepEqual([...GATEWAY_ERROR_CODES].sort(), [...documented].sort());
    for (const code of [...REFUSAL_CODES, ...REJECTION_CODES]) {
      assert.ok(documented.includes(code), `${code} is not in openapi.json`);
    }
  });

  test('the verdict statuses and the receipt fields are the schema\'s', () => {
    assert.deepEqual(schemas.Verdict?.properties.status?.enum, ['accepted', 'rejected']);
    assert.deepEqual([...REJECTION_CODES].sort(), [...(schemas.Verdict?.properties.code?.enum ?? [])].sort());
    const signed = {
      receipt: {
        genesisHash: '0x' + '11'.repeat(32), contract: '0x' + '22'.repeat(32), jobId: (1n << 64n) - 1n,
        provider: '0x' + '33'.repeat(32), amount: (1n << 128n) - 1n, units: 5n, sequence: (1n << 53n) + 1n, expiresAt: 7n,
      },
      signature: '0x' + '44'.repeat(64),
    } as const;
    const json = signedReceiptJson(signed as unknown as Parameters<typeof signedReceiptJson>[0]);
    const parsed = JSON.parse(json) as { receipt: Record<string, unknown>; signature: string };
    assert.deepEqual(Object.keys(parsed).sort(), Object.keys(schemas.SignedReceipt?.properties ?? {}).sort());
    assert.deepEqual(Object.keys(parsed.receipt).sort(), [...(schemas.Receipt?.required ?? [])].sort());
    // u64s past 2^53 are written exactly (JSON.parse above rounds them; the text does not).
    assert.match(json, /"job_id":18446744073709551615,/);
    assert.match(json, /"sequence":9007199254740993,/);
    assert.match(json, /"amount":"340282366920938463463374607431768211455"/);
  });
});

describe('arguments', () => {
  test('an account is the same as SS58, hex and bytes', () => {
    const alice = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';
    const hex = accountHex(alice);
    assert.equal(hex, '0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d');
    assert.equal(accountHex(hex), hex);
    assert.equal(accountHex(Uint8Array.from(Buffer.from(hex.slice(2), 'hex'))), hex);
    assert.throws(() => accountHex('0x1234'), /expected 32 bytes/);
    assert.throws(() => accountHex('not an address'), /not an SS58 address/);
  });
});

describe('client details', () => {
  test('Retry-After: seconds, or an HTTP date from now; nothing for absent or bad values', () => {
    const now = Date.parse('2026-12-07T08:00:00Z');
    assert.equal(retryAfterSeconds('7', now), 7);
    assert.equal(retryAfterSeconds('Mon, 07 Dec 2026 08:00:30 GMT', now), 30);
    assert.equal(retryAfterSeconds('Mon, 07 Dec 2026 07:59:00 GMT', now), 0);
    for (const bad of [null, '', '0', '-3', 'soon']) assert.equal(retryAfterSeconds(bad, now), undefined, String(bad));
  });

  test("a payer key's seed exports and restores the same key; a malformed receipt verifies nothing", () => {
    const key = PayerKey.generate();
    const again = new PayerKey(key.exportSeed());
    assert.equal(again.publicKey, key.publicKey);
    const receipt = {
      genesisHash: '0x' + '11'.repeat(32), contract: '0x' + '22'.repeat(32), jobId: 1n,
      provider: '0x' + '33'.repeat(32), amount: 5n, units: 1n, sequence: 1n, expiresAt: 9n,
    };
    const signed = key.sign(receipt);
    assert.equal(verifyReceipt(signed.receipt, key.publicKey, signed.signature), true);
    assert.equal(verifyReceipt({ ...receipt, amount: -1n }, key.publicKey, signed.signature), false);
    assert.equal(verifyReceipt({ ...receipt, provider: 'not an account' }, key.publicKey, signed.signature), false);
  });
});
