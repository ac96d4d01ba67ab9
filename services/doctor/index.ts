/**
 * `clipstream doctor`: every component this configuration uses, checked the way the processes
 * use it, one finding per check. The model is inspected first, because what the collection
 * must look like (model id, dims) follows from it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../shared/config/index.ts';
import { describeError } from '../../shared/errors.ts';
import { connectStore } from '../store-connect.ts';
import type { Finding } from './check.ts';
import { checkDisk, DEFAULT_MIN_FREE_BYTES } from './disk.ts';
import { checkExecutionProvider } from './execution-provider.ts';
import { checkModel } from './model.ts';
import { checkQdrant } from './qdrant.ts';
import { checkRedis } from './redis.ts';
import { checkSources, type SourceToCheck } from './sources.ts';

export type { Finding } from './check.ts';

export interface DoctorOptions {
  /** Sources to check besides those registered in the collection. */
  sources?: readonly string[];
  /** Per network call. */
  timeoutMs?: number;
  minFreeBytes?: number;
  /** Hash the model files (default true). */
  hashes?: boolean;
}

export interface DoctorReport {
  /** No check failed. */
  ok: boolean;
  findings: Finding[];
}

export async function runDoctor(config: Config, options: DoctorOptions = {}): Promise<DoctorReport> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const findings: Finding[] = [];
  const [redis, model, provider, disk] = await Promise.all([
    checkRedis(config, timeoutMs),
    checkModel(config, { hashes: options.hashes }),
    checkExecutionProvider(config),
    checkDisk(config, options.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES),
  ]);
  findings.push(...redis, ...model.findings, provider);

  const inspection = model.inspection;
  const spec =
    inspection?.complete && inspection.embeddingDim !== undefined
      ? { alias: config.store.collection, dims: config.encoder.dims.filter((d) => d <= inspection.embeddingDim!), model: inspection.modelId, payloadIndexes: config.store.payloadIndexes }
      : undefined;
  const sources: SourceToCheck[] = (options.sources ?? []).map((spec) => ({ spec, origin: 'argument' }));
  let store;
  const embeddedDir = path.join(config.store.dataDir, 'store');
  if (!config.store.qdrantUrl && !fs.existsSync(embeddedDir)) {
    findings.push({ check: 'qdrant', verdict: 'skip', detail: `QDRANT_URL is not set and there is no embedded store under ${embeddedDir} yet: the first ingest creates it` });
  } else try {
    store = await connectStore(config, { retry: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0 } });
  } catch (err) {
    const embedded = !config.store.qdrantUrl;
    findings.push({
      check: 'qdrant',
      verdict: 'fail',
      detail: embedded ? `cannot open the embedded store under ${config.store.dataDir}/store: ${describeError(err)}` : `cannot reach the store at ${config.store.qdrantUrl}: ${describeError(err)}`,
      fix: embedded ? 'stop the process holding it (clipstream serve) or check DATA_DIR; `clipstream store repair` for a damaged store' : 'start Qdrant, or fix QDRANT_URL (and QDRANT_API_KEY)',
    });
  }
  if (store) {
    try {
      const checked = await checkQdrant(store.client, store.embedded ? `embedded store under ${config.store.dataDir}/store` : store.url, config, spec, timeoutMs);
      findings.push(...checked.findings);
      const named = new Set(sources.map((s) => s.spec));
      for (const s of checked.sources) if (!named.has(s.spec)) sources.push({ spec: s.spec, origin: 'registered' });
    } finally {
      await store.close();
    }
  }
  findings.push(...(await checkSources(config, sources, timeoutMs)), disk);
  return { ok: findings.every((f) => f.verdict !== 'fail'), findings };
}

const MARK: Record<Finding['verdict'], string> = { ok: 'OK  ', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' };

/** One line per finding: `FAIL redis.eviction: … → fix: …`. */
export function formatFinding(f: Finding): string {
  return `${MARK[f.verdict]} ${f.check}: ${f.detail}${f.fix ? ` → fix: ${f.fix}` : ''}`;
}
