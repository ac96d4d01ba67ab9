/**
 * Whether the collection behind the alias was built with other settings than the configured ones
 * (model, Matryoshka dims, schema version): then new points cannot be mixed in, and the way
 * forward is `clipstream rebuild`. `status`, `sync` and `serve` say so in the same words.
 */
import type { Config } from '../../shared/config/index.ts';
import { inspectModel } from '../../shared/encoder/model-files.ts';
import type { PipelineStore } from '../../shared/pipeline/index.ts';
import { collectionMetadata, REBUILD_HINT, resolveAlias, schemaDifferences } from '../../shared/store/schema.ts';
import { connectStore } from '../store-connect.ts';
import { collectionSpec } from './run.ts';


/**
 * The differences, as one sentence ending in the hint; undefined when the index matches (or
 * there is none yet). `model`: the encoder's model id; default: the configured one when its
 * files are present (otherwise whichever model ran is taken as the intended one).
 */
export async function rebuildNeeded(config: Config, options: { store?: PipelineStore; model?: string } = {}): Promise<string | undefined> {
  let model = options.model;
  if (!model) {
    const inspected = await inspectModel(config.model);
    if (inspected.complete) model = inspected.modelId;
  }
  const own = options.store ? undefined : await connectStore(config);
  const store = options.store ?? own!;
  try {
    const alias = config.store.collection;
    const collection = (await resolveAlias(store.client, alias, { storeUrl: store.url })) ?? alias;
    let info;
    try {
      info = await store.client.getCollection(collection);
    } catch {
      return undefined; // nothing indexed yet
    }
    const stored = model ?? (await collectionMetadata(store.client, collection, { storeUrl: store.url }))?.model ?? '';
    const problems = schemaDifferences(collectionSpec(config, stored), info).filter((p) => !/payload field/.test(p));
    return problems.length > 0 ? `collection ${collection} (alias ${alias}): ${problems.join('; ')}; ${REBUILD_HINT}` : undefined;
  } finally {
    await own?.close();
  }
}
