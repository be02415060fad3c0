// Loading the escrow's `.contract` bundle (ink! metadata plus Wasm, as cargo-contract writes it): from a
// file path (Node only) or its parsed JSON, checked to be the escrow's before anything uses it.

/** The bundle as the SDK takes it: a path to the `.contract` file, its JSON text, or the parsed JSON. */
export type BundleSource = string | Record<string, unknown>;

/** The bundle's parsed JSON, checked to be an ink! bundle of the `escrow` contract. */
export async function loadBundle(source: BundleSource): Promise<Record<string, unknown>> {
  let json: unknown = source;
  if (typeof source === 'string') {
    let text = source;
    if (!source.trimStart().startsWith('{')) {
      const { readFile } = await import('node:fs/promises');
      text = await readFile(source, 'utf8');
    }
    json = JSON.parse(text);
  }
  if (json === null || typeof json !== 'object') {
    throw new TypeError('the escrow bundle is not a JSON object');
  }
  const contract = (json as { contract?: { name?: unknown } }).contract;
  if (contract?.name !== 'escrow') {
    throw new TypeError(`the bundle is not the escrow contract's (its contract.name is ${String(contract?.name)})`);
  }
  return json as Record<string, unknown>;
}
