/**
 * Whether the collection behind the alias was built with other settings than the configured ones
 * (model, Matryoshka dims, schema version, lexical analyser settings): then new points cannot be mixed in, and the way
 * forward is `clipstream rebuild`. `status`, `sync` and `serve` say so in the same words.
 */
import type { QdrantClient } from '@qdrant/js-client-rest';
import type { Config } from '../config/index.ts';
import { inspectModel } from '../encoder/model-files.ts';
import { collectionMetadata, lexicalSignature, REBUILD_HINT, resolveAlias, schemaDifferences } from './schema.ts';

/**
 * The differences, as one sentence ending in the hint; undefined when the index matches (or
 * there is none yet). `model`: the encoder's model id; default: the configured one when its
 * files are present (otherwise whichever model ran is taken as the intended one).
 */
export async function rebuildNeeded(config: Config, store: { client: QdrantClient; url: string }, options: { model?: string } = {}): Promise<string | undefined> {
  let model = options.model;
  if (!model) {
    const inspected = await inspectModel(config.model);
    if (inspected.complete) model = inspected.modelId;
  }
  const alias = config.store.collection;
  const collection = (await resolveAlias(store.client, alias, { storeUrl: store.url })) ?? alias;
  let info;
  try {
    info = await store.client.getCollection(collection);
  } catch {
    return undefined; // nothing indexed yet
  }
  const stored = model ?? (await collectionMetadata(store.client, collection, { storeUrl: store.url }))?.model ?? '';
  const spec = { alias, dims: config.encoder.dims, model: stored, payloadIndexes: config.store.payloadIndexes, lexical: lexicalSignature(config) };
  const problems = schemaDifferences(spec, info).filter((p) => !/payload field/.test(p));
  return problems.length > 0 ? `collection ${collection} (alias ${alias}): ${problems.join('; ')}; ${REBUILD_HINT}` : undefined;
}
