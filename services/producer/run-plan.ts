/** What a run is asked to do (`RunPlan`), what it runs against (`RunDeps`), and what it reports (`RunSummary`). */
import type { CatalogueItem, ItemFailure } from '../../shared/catalogue/types.ts';
import type { PipelineStore } from '../../shared/pipeline/index.ts';
import type { SourceSpec } from '../../shared/sources/index.ts';
import type { RunKind, RunOutcome, SyncCounts } from '../../shared/state/types.ts';
import type { IngestSummary, ProgressListener } from './progress.ts';
import type { IngestSourceOptions, SourceSelection } from './sources.ts';
import type { WorkQueue } from './work-queue.ts';

export interface DeletePolicy {
  /** Largest share of a source's points one sync may delete (SYNC_MAX_DELETE_SHARE). */
  maxShare: number;
  /** `--allow-mass-delete`: delete even beyond the share. */
  allowMassDelete: boolean;
}

export interface RunPlan {
  kind: RunKind;
  sources: readonly SourceSpec[];
  /** Include/exclude globs, product id rule, dataset — as the flags said them (stored with the source). */
  selection?: SourceSelection | undefined;
  /** Parsed options the flags cannot express (tests); merged over `selection`'s. */
  sourceOptions?: IngestSourceOptions | undefined;
  /** The physical collection to fill; default: the one behind the alias (created if there is none). */
  collection?: string | undefined;
  /** Sync: delete the points of what the sources no longer list. */
  deleteMissing?: DeletePolicy | undefined;
  /** Re-encode even what the store holds unchanged. */
  force?: boolean | undefined;
  /** `cli`, `schedule:<id>`, `rebuild:<run id>`. */
  trigger?: string | undefined;
  runId?: string | undefined;
  signal?: AbortSignal | undefined;
  listener?: ProgressListener | undefined;
  /** Distributed: when Redis loses the run's state, list again and queue what the store lacks. */
  resume?: boolean | undefined;
  /** How long a source's lease outlives a crashed run (RUN_LEASE_MS). */
  leaseMs?: number | undefined;
  /** Replaces the listing of a source (tests, benchmarks). */
  entries?: ((spec: SourceSpec) => AsyncIterable<CatalogueItem | ItemFailure>) | undefined;
}

export interface RunDeps {
  queue: WorkQueue;
  /** Needed for everything but a distributed ingest without QDRANT_URL (whose workers check versions). */
  store?: PipelineStore | undefined;
}

export interface RunSummary extends IngestSummary {
  kind: RunKind;
  collection?: string;
  outcome: RunOutcome;
  /** Why it failed, or what it held back. */
  error?: string;
  sync?: SyncCounts;
}
