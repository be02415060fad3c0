// compute-escrow-sdk: the escrow contract from TypeScript. `Escrow` connects (or deploys) and calls every
// message dry-run first with typed refusals; `PayerKey` signs receipts byte-identical to the Rust
// settlement crate; `GatewayClient` submits them to the receipt gateway.

export { Escrow, MAX_RELEASES_PER_CALL, findEvent, type Claim, type OpenJob } from './client.js';
export { EscrowBase, type NodeLike } from './escrow.js';
export type { DeployParams, Deployed, TimingInput } from './deploy.js';
export type { BundleSource } from './bundle.js';
export { loadBundle } from './bundle.js';
export type { DryRun, Sender, SubmitOptions, Submitted, Weight } from './chain.js';
export { maxExtrinsicWeight } from './chain.js';
export * from './errors.js';
export * from './types.js';
export {
  PayerKey, RECEIPT_TAG, normalizeReceipt, signingBytes, verifyReceipt,
  type NormalReceipt, type Receipt, type SignedReceipt,
} from './receipt.js';
export { verifyStrict } from './ed25519.js';
export {
  GATEWAY_ERROR_CODES, GatewayClient, GatewayError, GatewayProtocolError, REFUSAL_CODES, REJECTION_CODES,
  retryAfterSeconds, signedReceiptJson, type GatewayErrorCode, type RefusalCode, type RejectionCode, type Verdict,
} from './gateway.js';
export {
  accountBytes, accountHex, sameAccount, toAddress,
  type AccountLike, type Address, type BytesLike, type Hex,
} from './bytes.js';
