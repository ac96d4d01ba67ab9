/**
 * What a worker's pipeline does, as Prometheus series: items encoded and skipped, how long each
 * stage takes (fetch, preprocess, encode, upsert), how full the encoder's batches are, and why
 * jobs fail or are retried.
 *
 * Nothing in the pipeline itself knows about metrics: the worker hands `openPipeline` wrapped
 * stages (`instrumentEncoder`, `instrumentFetcher`) and the upserter's `onRequest` hook.
 * Batch sizes, inference time per batch and preprocessing time come from the encoder's own
 * cumulative statistics (`EncoderThread.stats()`), turned into observations by their deltas.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Modality } from '../../shared/catalogue/types.ts';
import type { EncoderStats } from '../../shared/encoder/encoder.ts';
import type { MatryoshkaVectors } from '../../shared/encoder/types.ts';
import { isClipstreamError } from '../../shared/errors.ts';
import type { ByteFetcher, PipelineEncoder } from '../../shared/pipeline/index.ts';
import type { UpsertRequestEvent } from '../../shared/store/upserter.ts';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

export class PipelineMetrics {
  readonly itemsEncoded: Counter<'modality'>;
  readonly itemsSkipped: Counter<'modality'>;
  readonly jobsProcessed: Counter<'queue' | 'outcome'>;
  readonly jobsFailed: Counter<'queue' | 'code'>;
  readonly retries: Counter<'stage' | 'cause'>;
  readonly encodeSeconds: Histogram<'modality'>;
  readonly preprocessSeconds: Histogram;
  readonly fetchSeconds: Histogram<'outcome'>;
  readonly upsertSeconds: Histogram<'outcome'>;
  readonly upsertErrors: Counter<'cause'>;
  readonly batchSize: Histogram<'modality'>;
  readonly batchSeconds: Histogram<'modality'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.itemsEncoded = new Counter({ name: 'clipstream_items_encoded_total', help: 'Items encoded and stored, by modality (rate() gives items per second)', labelNames: ['modality'], registers });
    this.itemsSkipped = new Counter({ name: 'clipstream_items_skipped_total', help: 'Items skipped because the stored point is unchanged (same version and model)', labelNames: ['modality'], registers });
    this.jobsProcessed = new Counter({
      name: 'clipstream_jobs_processed_total',
      help: 'Job attempts by queue and outcome: indexed, skipped, failed (for good), retried',
      labelNames: ['queue', 'outcome'],
      registers,
    });
    this.jobsFailed = new Counter({ name: 'clipstream_jobs_failed_total', help: 'Jobs failed for good (dead-lettered), by error code', labelNames: ['queue', 'code'], registers });
    this.retries = new Counter({
      name: 'clipstream_retries_total',
      help: 'Retries by stage (job: BullMQ retries the job; upsert: the upserter retries a request) and cause (error code or store failure class)',
      labelNames: ['stage', 'cause'],
      registers,
    });
    this.encodeSeconds = new Histogram({
      name: 'clipstream_encode_duration_seconds',
      help: 'Per item: from handing it to the encoder to its vectors (preprocess, batch wait and inference)',
      labelNames: ['modality'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.preprocessSeconds = new Histogram({
      name: 'clipstream_preprocess_duration_seconds',
      help: 'Image decode and preprocess time per image; the encoder thread reports sums, so each image is observed at the mean of its reporting interval',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.fetchSeconds = new Histogram({ name: 'clipstream_fetch_duration_seconds', help: 'Image byte fetches (S3 GET or file read), by outcome', labelNames: ['outcome'], buckets: LATENCY_BUCKETS, registers });
    this.upsertSeconds = new Histogram({
      name: 'clipstream_upsert_duration_seconds',
      help: 'Upsert requests to the store (wait=true, one batch of points each), by outcome',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.upsertErrors = new Counter({ name: 'clipstream_upsert_request_errors_total', help: 'Failed upsert requests by cause (timeout, connection, http_<status>, other)', labelNames: ['cause'], registers });
    this.batchSize = new Histogram({ name: 'clipstream_encoder_batch_size', help: 'Items per encoder batch (one ONNX Runtime call), by modality', labelNames: ['modality'], buckets: BATCH_BUCKETS, registers });
    this.batchSeconds = new Histogram({
      name: 'clipstream_encoder_batch_duration_seconds',
      help: 'Inference time per encoder batch; batches finished between two encoder reports are observed at their mean',
      labelNames: ['modality'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    // Series present from the start: a rate over a counter that appears late misses its first increase.
    for (const modality of ['image', 'text'] as const) {
      this.itemsEncoded.inc({ modality }, 0);
      this.itemsSkipped.inc({ modality }, 0);
      for (const outcome of ['indexed', 'skipped', 'failed', 'retried']) this.jobsProcessed.inc({ queue: `embed-${modality}`, outcome }, 0);
    }
  }

  /** The upserter's `onRequest` hook. */
  readonly onUpsertRequest = (event: UpsertRequestEvent): void => {
    this.upsertSeconds.observe({ outcome: event.ok ? 'ok' : 'error' }, event.ms / 1000);
    if (event.attempt > 1) this.retries.inc({ stage: 'upsert', cause: this.lastUpsertCause });
    if (!event.ok) {
      this.lastUpsertCause = storeFailureClass(event.error ?? '');
      this.upsertErrors.inc({ cause: this.lastUpsertCause });
    }
  };

  /** Requests are retried after a failure; the retry is attributed to the latest failure's class. */
  private lastUpsertCause = 'other';
}

/** A bounded label for a store failure message. */
export function storeFailureClass(message: string): string {
  if (/timeout|timed out/i.test(message)) return 'timeout';
  const status = /\b([45]\d\d)\b/.exec(message);
  if (status) return `http_${status[1]}`;
  if (/ECONN|EPIPE|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|fetch failed|socket|terminated|other side closed/i.test(message)) return 'connection';
  return 'other';
}

export interface StatsSource {
  stats(): EncoderStats;
}

/**
 * Turns the encoder's cumulative statistics into observations: the batch-size counts per size
 * are exact; inference and preprocessing time are sums, spread evenly over the batches (or
 * images) that finished since the previous read.
 */
export class EncoderStatsFollower {
  private last: EncoderStats | undefined;

  constructor(
    private readonly source: StatsSource,
    private readonly metrics: PipelineMetrics,
  ) {
    this.last = clone(source.stats());
  }

  update(): void {
    const now = this.source.stats();
    const before = this.last;
    this.last = clone(now);
    if (!before) return;
    for (const modality of ['text', 'image'] as const) {
      const was = before[modality];
      const is = now[modality];
      let batches = 0;
      for (const [size, count] of Object.entries(is.batchSizes)) {
        const delta = count - (was.batchSizes[Number(size)] ?? 0);
        for (let i = 0; i < delta; i++) this.metrics.batchSize.observe({ modality }, Number(size));
        batches += Math.max(0, delta);
      }
      const busy = is.busyMs - was.busyMs;
      if (batches > 0 && busy >= 0) for (let i = 0; i < batches; i++) this.metrics.batchSeconds.observe({ modality }, busy / batches / 1000);
    }
    const images = now.image.items - before.image.items;
    const preprocess = now.preprocessMs - before.preprocessMs;
    if (images > 0 && preprocess >= 0) for (let i = 0; i < images; i++) this.metrics.preprocessSeconds.observe(preprocess / images / 1000);
  }
}

function clone(s: EncoderStats): EncoderStats {
  return { text: { ...s.text, batchSizes: { ...s.text.batchSizes } }, image: { ...s.image, batchSizes: { ...s.image.batchSizes } }, preprocessMs: s.preprocessMs };
}

export interface InstrumentedEncoder extends PipelineEncoder {
  /** When the last encode succeeded (ms since the epoch); 0 before any. */
  readonly lastSuccessAt: number;
  /** Set once an encode failed because the encoder itself is gone (its thread died). */
  readonly closedError: Error | undefined;
}

/** The encoder with every call timed; the encoder's statistics are read after each one. */
export function instrumentEncoder(encoder: PipelineEncoder & Partial<StatsSource>, metrics: PipelineMetrics): InstrumentedEncoder {
  const follower = encoder.stats ? new EncoderStatsFollower(encoder as StatsSource, metrics) : undefined;
  let lastSuccessAt = 0;
  let closedError: Error | undefined;
  const timed = async (modality: Modality, call: () => Promise<MatryoshkaVectors>): Promise<MatryoshkaVectors> => {
    const end = metrics.encodeSeconds.startTimer({ modality });
    try {
      const vectors = await call();
      end();
      lastSuccessAt = Date.now();
      return vectors;
    } catch (err) {
      if (isClipstreamError(err, 'ENCODER_CLOSED')) closedError = err;
      throw err;
    } finally {
      follower?.update();
    }
  };
  return {
    model: encoder.model,
    dims: encoder.dims,
    encodeText: (input) => timed('text', () => encoder.encodeText(input)),
    encodeImage: (input) => timed('image', () => encoder.encodeImage(input)),
    get lastSuccessAt() {
      return lastSuccessAt;
    },
    get closedError() {
      return closedError;
    },
  };
}

export function instrumentFetcher(fetch: ByteFetcher, metrics: PipelineMetrics): ByteFetcher {
  return async (item, signal) => {
    const started = performance.now();
    let outcome = 'error';
    try {
      const fetched = await fetch(item, signal);
      outcome = 'ok';
      return fetched;
    } finally {
      metrics.fetchSeconds.observe({ outcome }, (performance.now() - started) / 1000);
    }
  };
}
