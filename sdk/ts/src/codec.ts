// polkadot.js codecs to the plain values of types.ts: integers wider than 32 bits as bigint (never a JS
// number, which loses precision past 2^53), narrower ones as number, accounts as SS58, byte arrays as hex,
// `Option` as null or the value, unit enums as their variant name, structs as objects (camelCase keys).

import { GenericAccountId } from '@polkadot/types';
import { AbstractArray, AbstractInt, bool, Enum, Null, Option, Raw, Struct, Tuple } from '@polkadot/types-codec';
import type { Codec } from '@polkadot/types-codec/types';
import { encodeAddress } from '@polkadot/util-crypto';

/** `codec` as a plain value (see the module comment). */
export function toPlain(codec: Codec): unknown {
  if (codec instanceof GenericAccountId) {
    return encodeAddress(codec.toU8a(), 42);
  }
  if (codec instanceof Raw) {
    // U8aFixed ([u8; N]) and Bytes.
    return codec.toHex();
  }
  if (codec instanceof AbstractInt) {
    return codec.bitLength() > 32 ? codec.toBigInt() : codec.toNumber();
  }
  if (codec instanceof bool) {
    return codec.isTrue;
  }
  if (codec instanceof Null) {
    return null;
  }
  if (codec instanceof Option) {
    return codec.isSome ? toPlain(codec.unwrap()) : null;
  }
  if (codec instanceof Enum) {
    return codec.isBasic ? codec.type : { [codec.type]: toPlain(codec.inner) };
  }
  if (codec instanceof Struct) {
    const out: Record<string, unknown> = {};
    for (const [key, value] of codec.entries()) {
      out[String(key)] = toPlain(value);
    }
    return out;
  }
  if (codec instanceof Tuple || codec instanceof AbstractArray) {
    return [...(codec as unknown as Iterable<Codec>)].map(toPlain);
  }
  throw new TypeError(`the SDK cannot convert a ${codec.toRawType()} to a plain value`);
}
