// A client of the receipt gateway's HTTP API (gateway/openapi.json): submit one signed receipt or a
// batch, answered with typed verdicts; any other answer is a typed `GatewayError`. The body is written by
// hand so that u64 fields past 2^53 stay exact (JSON.stringify cannot write a bigint), and every answer is
// checked against the schema before it is trusted.

import type { SignedReceipt } from './receipt.js';
import { accountHex, toHex } from './bytes.js';

/** Why the gateway refuses a receipt by a settlement rule the contract enforces, or its own margin. */
export const REFUSAL_CODES = [
  'wrong_chain', 'wrong_contract', 'unknown_job', 'job_ended', 'job_finalized', 'not_a_provider', 'not_accepted',
  'receipt_expired', 'stale_sequence', 'cumulative_not_increasing', 'units_decreased', 'exceeds_allocation',
  'exceeds_escrow', 'bad_signature', 'overflow', 'refused', 'job_ends_too_soon', 'expires_too_soon',
  'allocation_thawing',
] as const;
export type RefusalCode = (typeof REFUSAL_CODES)[number];

/** Why one receipt of a batch was rejected: a refusal, a malformed item, or the client's bad-signature budget. */
export const REJECTION_CODES = [...REFUSAL_CODES, 'invalid_field', 'unknown_field', 'too_many_refusals'] as const;
export type RejectionCode = (typeof REJECTION_CODES)[number];

/** Every error code the API answers with (openapi.json's `Error.code`). */
export const GATEWAY_ERROR_CODES = [
  'malformed_json', 'malformed_body', 'empty_batch', 'batch_too_large', 'body_too_large', 'invalid_field',
  'unknown_field', 'invalid_id', 'invalid_query', 'invalid_limit', 'not_found', ...REFUSAL_CODES, 'unavailable', 'duplicate_key', 'nul_character',
  'too_many_jobs', 'too_many_refusals', 'too_many_in_flight', 'rate_limited', 'overloaded', 'timeout',
] as const;
export type GatewayErrorCode = (typeof GATEWAY_ERROR_CODES)[number];

/** `Retry-After` in seconds: a number of seconds, or an HTTP date from now; undefined if absent or bad. */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return seconds > 0 ? seconds : undefined;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** The gateway's verdict on one receipt. */
export type Verdict =
  /** Stored durably: now, or before if `duplicate` (resending is idempotent). */
  | { status: 'accepted'; id: number; duplicate: boolean }
  /** Refused; nothing was stored for it. */
  | { status: 'rejected'; code: RejectionCode; message: string };

/** The gateway answered with an error (any status but a verdict's). */
export class GatewayError extends Error {
  readonly status: number;
  readonly code: GatewayErrorCode;
  /** Seconds to wait before retrying (429 and 503), if the gateway said. */
  readonly retryAfter: number | undefined;

  constructor(status: number, code: GatewayErrorCode, message: string, retryAfter?: number) {
    super(`gateway answered ${status} ${code}: ${message}`);
    this.name = 'GatewayError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** The gateway could not be reached, or answered something that is not its API. */
export class GatewayProtocolError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GatewayProtocolError';
  }
}

/** The wire JSON of a signed receipt (amounts as decimal strings, u64s as exact JSON integers). */
export function signedReceiptJson({ receipt: r, signature }: SignedReceipt): string {
  const str = (s: string): string => JSON.stringify(s);
  return `{"receipt":{"genesis_hash":${str(toHex(r.genesisHash, 32, 'receipt.genesisHash'))},`
    + `"contract":${str(accountHex(r.contract))},"job_id":${r.jobId.toString()},`
    + `"provider":${str(accountHex(r.provider))},"amount":${str(r.amount.toString())},`
    + `"units":${str(r.units.toString())},"sequence":${r.sequence.toString()},"expires_at":${r.expiresAt.toString()}},`
    + `"signature":${str(toHex(signature, 64, 'signature'))}}`;
}

/** One HTTP answer, its body parsed. */
interface Answer {
  status: number;
  body: unknown;
  retryAfter: number | undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseVerdict(v: unknown): Verdict {
  if (isObject(v) && v.status === 'accepted' && Number.isSafeInteger(v.id) && typeof v.duplicate === 'boolean') {
    return { status: 'accepted', id: v.id as number, duplicate: v.duplicate };
  }
  if (isObject(v) && v.status === 'rejected' && typeof v.message === 'string'
    && (REJECTION_CODES as readonly unknown[]).includes(v.code)) {
    return { status: 'rejected', code: v.code as RejectionCode, message: v.message };
  }
  throw new GatewayProtocolError(`not a verdict: ${JSON.stringify(v)}`);
}

/** A client of one gateway. */
export class GatewayClient {
  readonly baseUrl: string;
  readonly #timeoutMs: number;

  /** `baseUrl`: e.g. `http://127.0.0.1:8080`; `timeoutMs`: per request (default 60 s). */
  constructor(baseUrl: string, options: { timeoutMs?: number } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  /**
   * Submits one signed receipt. Its verdict: accepted (201, or 200 as a `duplicate` of one stored before)
   * or rejected (422, a refusal). Anything else (a malformed field, a limit, the gateway unavailable) is
   * thrown as a `GatewayError`.
   */
  async submit(signed: SignedReceipt): Promise<Verdict> {
    const answer = await this.#post(signedReceiptJson(signed));
    const { status, body } = answer;
    if (status === 201 || status === 200) {
      const verdict = parseVerdict(body);
      if (verdict.status !== 'accepted' || verdict.duplicate !== (status === 200)) {
        throw new GatewayProtocolError(`status ${status} with verdict ${JSON.stringify(body)}`);
      }
      return verdict;
    }
    if (status === 422 && isObject(body) && (REFUSAL_CODES as readonly unknown[]).includes(body.code) && typeof body.message === 'string') {
      return { status: 'rejected', code: body.code as RefusalCode, message: body.message };
    }
    throw this.#error(answer);
  }

  /** Submits a batch (at most the gateway's max_batch); one verdict per receipt, in order. */
  async submitBatch(signed: SignedReceipt[]): Promise<Verdict[]> {
    const answer = await this.#post(`[${signed.map(signedReceiptJson).join(',')}]`);
    const { status, body } = answer;
    if (status !== 200) {
      throw this.#error(answer);
    }
    if (!isObject(body) || !Array.isArray(body.results) || body.results.length !== signed.length) {
      throw new GatewayProtocolError(`not a batch answer for ${signed.length} receipts: ${JSON.stringify(body)}`);
    }
    return body.results.map(parseVerdict);
  }

  async #post(json: string): Promise<Answer> {
    let response: Response;
    let text: string;
    try {
      // A redirect is refused, not followed: the receipts go to the gateway asked, or nowhere.
      response = await fetch(new URL('v1/receipts', `${this.baseUrl}/`), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: json,
        redirect: 'error',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      text = await response.text();
    } catch (e) {
      throw new GatewayProtocolError(`cannot reach the gateway at ${this.baseUrl}: ${(e as Error).message}`, { cause: e });
    }
    const retryAfter = retryAfterSeconds(response.headers.get('retry-after'));
    try {
      return { status: response.status, body: JSON.parse(text) as unknown, retryAfter };
    } catch {
      throw new GatewayProtocolError(`the gateway answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`);
    }
  }

  #error({ status, body, retryAfter }: Answer): Error {
    if (isObject(body) && (GATEWAY_ERROR_CODES as readonly unknown[]).includes(body.code) && typeof body.message === 'string') {
      return new GatewayError(status, body.code as GatewayErrorCode, body.message, retryAfter);
    }
    return new GatewayProtocolError(`the gateway answered ${status}: ${JSON.stringify(body)}`);
  }
}
