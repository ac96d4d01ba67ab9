/**
 * Batched, acknowledged writes. Callers hand over one point at a time (a queue job's result)
 * and get a promise that settles only when the store has durably applied the batch holding it
 * (`wait=true`), so the job can be acknowledged then and never before. Points are grouped into
 * batches for throughput; a bad point is isolated so it fails alone while its neighbours land.
 */
import type { QdrantClient, Schemas } from '@qdrant/js-client-rest';
import { ClipstreamError, isClipstreamError } from '../errors.ts';
import type { CataloguePoint } from './points.ts';
import { DEFAULT_STORE_RETRY, httpStatus, storeMessage, withStoreRetry } from './retry.ts';
import type { BackoffPolicy } from '../retry.ts';

export interface UpserterOptions {
  collection: string;
  /** Named in errors (the client keeps its own URL private). */
  storeUrl: string;
  /** Points per request (config UPSERT_BATCH_SIZE). */
  batchSize?: number | undefined;
  /** Requests in flight at once (config UPSERT_CONCURRENCY). */
  concurrency?: number | undefined;
  /** How long a partial batch waits for more points before it is sent anyway. */
  lingerMs?: number | undefined;
  retry?: BackoffPolicy | undefined;
  /** Called once per HTTP request attempt's outcome; for metrics and tests. */
  onRequest?: ((event: UpsertRequestEvent) => void) | undefined;
}

export interface UpsertRequestEvent {
  points: number;
  ok: boolean;
  /** 1 for the first try of this batch. */
  attempt: number;
  ms: number;
  error?: string;
}

export interface UpserterStats {
  /** HTTP requests made, retries included. */
  requests: number;
  retries: number;
  storedPoints: number;
  failedPoints: number;
}

interface Pending {
  point: CataloguePoint;
  resolve: () => void;
  reject: (err: unknown) => void;
}

// 400/422 mean the request body is wrong — possibly because of a single point, which bisection
// finds. 401/403/404 are wrong for every point alike; splitting would only multiply requests.
const PER_POINT_STATUSES = new Set([400, 422]);

export class BatchUpserter {
  readonly stats: UpserterStats = { requests: 0, retries: 0, storedPoints: 0, failedPoints: 0 };
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly lingerMs: number;
  private buffer: Pending[] = [];
  private readonly ready: Pending[][] = [];
  private inFlight = 0;
  private unsettled = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private readonly adoptions = new Map<string, Array<{ id: string; resolve: () => void; reject: (err: unknown) => void }>>();
  private adoptTimer: NodeJS.Timeout | undefined;
  private adopting = 0;

  constructor(
    private readonly client: QdrantClient,
    private readonly opts: UpserterOptions,
  ) {
    this.batchSize = Math.max(1, opts.batchSize ?? 128);
    this.concurrency = Math.max(1, opts.concurrency ?? 3);
    this.lingerMs = Math.max(0, opts.lingerMs ?? 20);
  }

  /** Points accepted but not yet acknowledged or failed. */
  get pending(): number {
    return this.unsettled;
  }

  /** Resolves once the batch holding `point` is stored; rejects with a ClipstreamError naming it otherwise. */
  add(point: CataloguePoint): Promise<void> {
    if (this.closed) {
      return Promise.reject(new ClipstreamError('STORE_REQUEST_FAILED', 'the upserter is closed', { item: itemOf(point) }));
    }
    return new Promise<void>((resolve, reject) => {
      this.unsettled++;
      this.buffer.push({ point, resolve, reject });
      if (this.buffer.length >= this.batchSize) this.cut();
      else this.timer ??= setTimeout(() => this.cut(), this.lingerMs);
    });
  }

  /**
   * Sets `source_root` on an unchanged point, batched with other adoptions of the same root (one
   * set_payload per batch). Resolves once stored.
   */
  adopt(id: string, sourceRoot: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let group = this.adoptions.get(sourceRoot);
      if (!group) this.adoptions.set(sourceRoot, (group = []));
      group.push({ id, resolve, reject });
      if (group.length >= this.batchSize) this.sendAdoptions(sourceRoot);
      else this.adoptTimer ??= setTimeout(() => this.sendAllAdoptions(), this.lingerMs);
    });
  }

  private sendAllAdoptions(): void {
    this.adoptTimer = undefined;
    for (const root of [...this.adoptions.keys()]) this.sendAdoptions(root);
  }

  private sendAdoptions(root: string): void {
    const group = this.adoptions.get(root) ?? [];
    this.adoptions.delete(root);
    if (group.length === 0) return;
    const ids = group.map((a) => a.id);
    this.adopting++;
    withStoreRetry(() => this.client.setPayload(this.opts.collection, { points: ids, payload: { source_root: root }, wait: true }), {
      storeUrl: this.opts.storeUrl,
      operation: `set source_root of ${ids.length} point(s) in ${this.opts.collection}`,
      policy: this.opts.retry ?? DEFAULT_STORE_RETRY,
    }).then(
      () => group.forEach((a) => a.resolve()),
      (err: unknown) => group.forEach((a) => a.reject(err)),
    ).finally(() => {
      this.adopting--;
      if (this.unsettled === 0 && this.adopting === 0) for (const w of this.idleWaiters.splice(0)) w();
    });
  }

  /** Sends whatever is buffered now and resolves when every accepted point has settled. */
  async flush(): Promise<void> {
    this.cut();
    if (this.adoptTimer) clearTimeout(this.adoptTimer);
    this.sendAllAdoptions();
    if (this.unsettled === 0 && this.adopting === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Flushes, then refuses further points. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private cut(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.buffer.length > 0) this.ready.push(this.buffer.splice(0, this.batchSize));
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.concurrency && this.ready.length > 0) {
      const batch = this.ready.shift()!;
      this.inFlight++;
      void this.send(batch).finally(() => {
        this.inFlight--;
        this.pump();
        if (this.unsettled === 0 && this.adopting === 0) for (const w of this.idleWaiters.splice(0)) w();
      });
    }
  }

  private async send(batch: Pending[]): Promise<void> {
    try {
      await this.request(batch.map((p) => p.point));
      this.stats.storedPoints += batch.length;
      this.settle(batch, undefined);
    } catch (err) {
      if (isClipstreamError(err, 'STORE_UNAVAILABLE')) {
        this.fail(batch, (p) => new ClipstreamError('STORE_UNAVAILABLE', err.message, { item: itemOf(p.point), cause: err.cause }));
        return;
      }
      const status = httpStatus(err);
      if (batch.length > 1 && status !== undefined && PER_POINT_STATUSES.has(status)) {
        // Bisect: a single bad point costs about 2·log2(batch) extra requests and fails alone.
        const half = Math.ceil(batch.length / 2);
        await this.send(batch.slice(0, half));
        await this.send(batch.slice(half));
        return;
      }
      const reason = storeMessage(err);
      if (status === 404) {
        this.fail(batch, (p) =>
          new ClipstreamError('COLLECTION_NOT_FOUND', `collection ${this.opts.collection} is gone from the store at ${this.opts.storeUrl}: ${reason}`, {
            item: itemOf(p.point),
            cause: err,
          }),
        );
        return;
      }
      this.fail(batch, (p) =>
        new ClipstreamError(
          'STORE_REQUEST_FAILED',
          `the store at ${this.opts.storeUrl} refused point ${p.point.id} for collection ${this.opts.collection}: ${reason}`,
          { item: itemOf(p.point), cause: err },
        ),
      );
    }
  }

  private request(points: CataloguePoint[]): Promise<unknown> {
    return withStoreRetry(
      async (attempt) => {
        const started = performance.now();
        this.stats.requests++;
        try {
          const r = await this.client.upsert(this.opts.collection, { wait: true, points: points as unknown as Schemas['PointStruct'][] });
          this.opts.onRequest?.({ points: points.length, ok: true, attempt, ms: performance.now() - started });
          return r;
        } catch (err) {
          this.opts.onRequest?.({ points: points.length, ok: false, attempt, ms: performance.now() - started, error: storeMessage(err) });
          throw err;
        }
      },
      {
        storeUrl: this.opts.storeUrl,
        operation: `upsert of ${points.length} point(s) into ${this.opts.collection}`,
        policy: this.opts.retry ?? DEFAULT_STORE_RETRY,
        onRetry: () => void this.stats.retries++,
      },
    );
  }

  private fail(batch: Pending[], errorFor: (p: Pending) => ClipstreamError): void {
    this.stats.failedPoints += batch.length;
    for (const p of batch) this.settle([p], errorFor(p));
  }

  private settle(batch: Pending[], err: ClipstreamError | undefined): void {
    for (const p of batch) {
      this.unsettled--;
      if (err) p.reject(err);
      else p.resolve();
    }
  }
}

function itemOf(point: CataloguePoint): string {
  return typeof point.payload?.source === 'string' ? point.payload.source : `point ${point.id}`;
}
