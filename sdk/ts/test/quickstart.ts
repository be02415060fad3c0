// The README's wallet quick start (README.md and sdk/ts/README.md hold this code verbatim, from the
// first import on; gateway.test.ts checks they do and runs it).
import { Keyring } from '@polkadot/keyring';
import { Escrow, GatewayClient, PayerKey } from 'compute-escrow-sdk';

const escrow = await Escrow.connect(process.env.ESCROW_NODE_URL!, process.env.ESCROW_BUNDLE!, process.env.ESCROW_CONTRACT!);
const bob = new Keyring({ type: 'sr25519' }).addFromUri('//Bob');     // the consumer (or { address, signer } from an extension)
const provider = '5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y'; // //Charlie
const payer = PayerKey.generate();                                    // the job runner's receipt key: store payer.exportSeed()
const expiresAt = (await escrow.now()) + 3_600_000n;
const { jobId } = await escrow.openJob(bob, { deposit: 10n ** 13n, providers: [{ provider, allocation: 10n ** 13n }], payerKey: payer.publicKey, termsHash: '0x' + '00'.repeat(32), expiresAt }, { finalized: true });
const signed = payer.sign(escrow.receipt({ jobId, provider, amount: 10n ** 12n, units: 1n, sequence: 1n, expiresAt }));
console.log(jobId, await new GatewayClient(process.env.ESCROW_GATEWAY!).submit(signed)); // the provider submits it: accepted once it has accepted the job
await escrow.disconnect();
