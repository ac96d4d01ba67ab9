/**
 * The shared set-up of the query tests: a fresh store, the test model, and the seeded catalogue,
 * with the configuration the service under test should use.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '../../../shared/config/index.ts';
import { openEncoder, type ClipEncoder } from '../../../shared/encoder/index.ts';
import { startTestStore, type TestStore } from '../../support/store.ts';
import { seedCatalogue, type SeededCatalogue } from './catalogue.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export interface QueryFixture {
  config: Config;
  store: TestStore;
  encoder: ClipEncoder;
  catalogue: SeededCatalogue;
  close(): Promise<void>;
}

/** `env` adds variables to the fixture's configuration (limits, host and port). */
export async function openQueryFixture(name: string, env: Record<string, string> = {}): Promise<QueryFixture> {
  const work = mkdtempSync(path.join(tmpdir(), `clipstream-query-${name}-`));
  const store = await startTestStore();
  const config = loadConfig({
    DATA_DIR: work,
    MODEL_DIR: path.join(repoRoot, 'models/test-tiny'),
    QDRANT_COLLECTION: store.name('catalogue'),
    ...env,
  });
  const encoder = await openEncoder(config);
  const catalogue = await seedCatalogue({
    client: store.client,
    storeUrl: store.url,
    collection: config.store.collection,
    encoder,
    dims: config.encoder.dims,
    imageDir: path.join(work, 'images'),
  });
  return {
    config,
    store,
    encoder,
    catalogue,
    async close() {
      await encoder.close();
      await store.close();
      rmSync(work, { recursive: true, force: true });
    },
  };
}
