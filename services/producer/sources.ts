/**
 * The `clipstream ingest SOURCE…` arguments as one stream of items and bad entries. Every
 * spec is parsed before anything starts, so a typo in the third source fails the command at
 * once instead of after the first two have been ingested.
 */
import type { CatalogueItem, ItemFailure } from '../../shared/catalogue/types.ts';
import type { Config } from '../../shared/config/index.ts';
import { openSource, parseSourceSpec, type OpenSourceOptions, type SourceSpec } from '../../shared/sources/index.ts';
import { createS3Client } from '../../shared/sources/s3.ts';

export type IngestSourceOptions = Omit<OpenSourceOptions, 's3Client' | 's3Config' | 'signal'>;
export { compactSelection, selectionOptions, type SourceSelection } from '../../shared/sources/selection.ts';

export function parseSources(specs: readonly string[], cwd = process.cwd()): SourceSpec[] {
  return specs.map((s) => parseSourceSpec(s, cwd));
}

/** Items of every source in turn; one S3 client shared by all of them. */
export function catalogueEntries(
  config: Config,
  specs: readonly SourceSpec[],
  options: IngestSourceOptions & { signal?: AbortSignal | undefined } = {},
): AsyncIterable<CatalogueItem | ItemFailure> {
  let client: ReturnType<typeof createS3Client> | undefined;
  const s3Client = () => (client ??= createS3Client(config.s3));
  return {
    async *[Symbol.asyncIterator]() {
      try {
        for (const spec of specs) {
          const opened = openSource(spec, {
            ...options,
            records: { maxTextBytes: config.encoder.textMaxBytes, ...options.records },
            s3Client,
            s3Config: config.s3,
          });
          yield* opened.items;
        }
      } finally {
        client?.destroy();
      }
    },
  };
}
