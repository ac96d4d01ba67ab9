/**
 * The store: reachable, a Qdrant version with what clipstream uses (1.13: named-vector
 * prefetch queries, collection metadata, `update_aliases`), and the collection behind the alias
 * as this configuration expects it — vectors, dims, distance, model and schema version
 * (`schemaDifferences`, the check workers and `sync` apply), and the payload indexes.
 */
import type { QdrantClient, Schemas } from '@qdrant/js-client-rest';
import type { Config } from '../../shared/config/index.ts';
import { describeError } from '../../shared/errors.ts';
import { payloadIndexes, REBUILD_HINT, resolveAlias, schemaDifferences, type CollectionSpec } from '../../shared/store/schema.ts';
import { sourcesIn, type RegisteredSource } from '../../shared/store/source-registry.ts';
import { storeMessage } from '../../shared/store/retry.ts';
import { compareVersions, fail, ok, warn, within, type Finding } from './check.ts';

export const MIN_QDRANT_VERSION = '1.13.0';

export interface StoreFindings {
  findings: Finding[];
  /** The sources registered in the live collection's metadata. */
  sources: RegisteredSource[];
}

/**
 * `spec`: what this clipstream would write (model id and dims from the model files); undefined
 * when the model could not be inspected, and then only the vectors' shape is not compared.
 */
export async function checkQdrant(client: QdrantClient, url: string, config: Config, spec: CollectionSpec | undefined, timeoutMs: number): Promise<StoreFindings> {
  const findings: Finding[] = [];
  const alias = config.store.collection;
  let version: string;
  try {
    version = (await within(`the store at ${url}`, timeoutMs, client.versionInfo())).version;
  } catch (err) {
    const fix = config.store.qdrantUrl ? 'start Qdrant, or fix QDRANT_URL (and QDRANT_API_KEY if it requires a key)' : 'see the embedded store error above';
    return { findings: [fail('qdrant', `cannot reach the store at ${url}: ${storeMessage(err) || describeError(err)}`, fix)], sources: [] };
  }
  findings.push(ok('qdrant', `reachable at ${url}`));
  if (compareVersions(version, MIN_QDRANT_VERSION) < 0) {
    findings.push(fail('qdrant.version', `Qdrant ${version}; clipstream needs ${MIN_QDRANT_VERSION} or newer (prefetch queries on named vectors, collection metadata)`, 'upgrade Qdrant (v1.19.x)'));
  } else {
    findings.push(ok('qdrant.version', `Qdrant ${version}`));
  }

  let collection: string | undefined;
  try {
    collection = await within(`the store at ${url}`, timeoutMs, resolveAlias(client, alias, { storeUrl: url }));
    if (!collection && (await within(`the store at ${url}`, timeoutMs, client.collectionExists(alias))).exists) collection = alias;
  } catch (err) {
    findings.push(fail('qdrant.collection', `cannot list the aliases: ${storeMessage(err) || describeError(err)}`, 'check QDRANT_API_KEY and the store'));
    return { findings, sources: [] };
  }
  if (!collection) {
    findings.push(ok('qdrant.collection', `no collection behind the alias ${alias} yet: the first ingest creates ${alias}_v1`));
    return { findings, sources: [] };
  }
  let info: Schemas['CollectionInfo'];
  try {
    info = await within(`the store at ${url}`, timeoutMs, client.getCollection(collection));
  } catch (err) {
    findings.push(fail('qdrant.collection', `cannot read collection ${collection}: ${storeMessage(err) || describeError(err)}`, 'check the store'));
    return { findings, sources: [] };
  }
  const where = collection === alias ? collection : `${alias} → ${collection}`;
  if (info.status === 'red') {
    const why = typeof info.optimizer_status === 'object' ? info.optimizer_status.error : 'status red';
    findings.push(fail('qdrant.collection', `${where} is red: ${why}`, 'see the store\'s log; writes are retried once it recovers'));
  } else {
    findings.push(ok('qdrant.collection', `${where}: ${info.points_count ?? 0} points, status ${info.status}`));
  }
  const metadata = info.config.metadata as Record<string, unknown> | null | undefined;
  if (!metadata || metadata.app !== 'clipstream') {
    findings.push(warn('qdrant.metadata', `${collection} carries no clipstream metadata (made by hand or another tool): its model cannot be checked`, REBUILD_HINT));
  }

  if (spec) {
    const problems = schemaDifferences(spec, info);
    if (problems.length > 0) findings.push(fail('qdrant.schema', `${collection} does not match this configuration: ${problems.join('; ')}`, REBUILD_HINT));
    else findings.push(ok('qdrant.schema', `named vectors ${spec.dims.map((d) => `mrl_${d}`).join(', ')} (Cosine), model ${spec.model}`));
    const missing = payloadIndexes(spec).filter((i) => !info.payload_schema?.[i.field]);
    if (missing.length > 0) {
      findings.push(
        warn('qdrant.indexes', `payload indexes missing: ${missing.map((i) => `${i.field} (${i.type})`).join(', ')}; filters on them scan every point`, 'they are created by the next worker job, ingest or sync into this collection'),
      );
    } else {
      findings.push(ok('qdrant.indexes', `${payloadIndexes(spec).length} payload indexes present`));
    }
  }
  return { findings, sources: sourcesIn(metadata) };
}
