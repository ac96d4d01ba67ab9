/**
 * What makes a collection's writes durable: ops numbered and appended to its PointLog, applied
 * once their frame is written (a read never sees a write the disk then refuses), replayed at
 * open, and the log compacted into the live points when more than half of it is obsolete.
 */
import { storageError } from './errors.ts';
import { PointLog, type LogTicket } from './log.ts';
import type { PointState } from './point-state.ts';
import { decodeOp, encodeOp, type PointOp, type PointWrite } from './records.ts';
import type { VectorValue } from './vector-storage.ts';

export interface UpdateResult {
  operation_id: number;
  status: 'completed' | 'acknowledged';
}

export interface WriteOptions {
  wait: boolean;
}

const COMPACT_MIN_BYTES = 32 * 1024 * 1024;

export class CollectionLog {
  private opCounter = 0;
  private log: PointLog;
  /** A compaction asked for while frames were still being written: done once they are. */
  private compactionWanted = false;
  /** The last compaction failure (a warning: the old log still serves) and the size to retry at. */
  private compactionProblem: { message: string; retryAtBytes: number } | null = null;

  /** Opens (or creates) the log in `dir`, replaying it into `state`. */
  constructor(
    dir: string,
    private readonly state: PointState,
    private readonly label: string,
    opts: { create?: boolean },
  ) {
    this.log = PointLog.open(
      dir,
      (body) => {
        const { op, opId } = decodeOp(body);
        this.opCounter = Math.max(this.opCounter, opId);
        state.apply(op, opId);
      },
      { create: opts.create, collection: label },
    );
    this.log.betweenWrites = () => this.maybeCompact();
    if (this.log.openedFormat === 1) {
      // Written before frames had markers and sequence numbers: rewritten in the current format.
      try {
        this.compact();
      } catch (err) {
        this.log.abandon();
        throw storageError(err, `${this.log.file} (migrating it to the current log format)`);
      }
    } else this.maybeCompact();
  }

  get file(): string {
    return this.log.file;
  }

  /** Why writes fail, if they do (collection status red). */
  get problem(): string | null {
    return this.log.problem;
  }

  get warning(): string | null {
    return this.compactionProblem?.message ?? null;
  }

  /** Operation ids so far (the next op gets a higher one). */
  get lastOpId(): number {
    return this.opCounter;
  }

  close(): Promise<void> {
    return this.log.close();
  }

  abandon(): void {
    this.log.abandon();
  }

  /** See PointLog.openWrittenPrefix: the log as of now, for a snapshot. */
  openWrittenPrefix(): { fd: number; end: number; file: string } {
    return this.log.openWrittenPrefix();
  }

  /** No frame queued or being written. */
  get idle(): boolean {
    return this.log.idle;
  }

  /** Resolves when every frame appended so far is written (and so applied). */
  whenIdle(): Promise<void> {
    return this.log.whenIdle();
  }

  /**
   * Logs the ops and applies each once its frame is written (in log order, so memory and a
   * replay agree). wait=false is acknowledged once the OS has the bytes (they survive a crash
   * of this process); wait=true once they are on disk. A write the disk refuses is answered
   * 507 and leaves nothing behind.
   */
  async commit(ops: PointOp[], opts: WriteOptions): Promise<UpdateResult[]> {
    const results: UpdateResult[] = [];
    let last: LogTicket | undefined;
    let applyError: unknown;
    try {
      for (const op of ops) {
        const opId = ++this.opCounter;
        if (op.kind === 'upsert' || op.kind === 'update_vectors') for (const p of op.points) p.version = opId;
        last = this.log.append(encodeOp(op, opId, (bytes) => this.log.reserve(bytes)), () => {
          try {
            this.state.apply(op, opId);
          } catch (err) {
            applyError ??= err;
          }
        });
        results.push({ operation_id: opId, status: opts.wait ? 'completed' : 'acknowledged' });
      }
      if (last) await this.log.handedOver(last);
    } catch (err) {
      throw storageError(err, this.log.file);
    }
    if (applyError) throw applyError;
    if (opts.wait) {
      try {
        await this.log.sync(last);
      } catch (err) {
        throw storageError(err, this.log.file);
      }
    }
    return results;
  }

  /**
   * Compacts now, once nothing is in flight: afterwards the log holds only what memory holds
   * (a dropped vector name leaves no values behind for a later vector of the same name).
   */
  async compactWhenIdle(): Promise<void> {
    while (!this.log.idle) await this.log.whenIdle();
    try {
      this.compact();
    } catch (err) {
      throw storageError(err, this.log.file);
    }
  }

  /** Compacts when more than half of a large log is obsolete (or a compaction waits for it). */
  maybeCompact(): void {
    const due = this.log.size >= COMPACT_MIN_BYTES && this.state.garbageBytes * 2 >= this.log.size;
    if (!this.compactionWanted && !due) return;
    if (!this.compactionWanted && this.compactionProblem && this.log.size < this.compactionProblem.retryAtBytes) return;
    try {
      this.compact();
      this.compactionProblem = null;
    } catch (err) {
      // The old log still holds everything; try again once it has grown by a quarter.
      this.compactionWanted = false;
      this.compactionProblem = { message: `compaction of ${this.log.file} failed: ${(err as Error).message}`, retryAtBytes: Math.ceil(this.log.size * 1.25) };
      process.stderr.write(`store: collection \`${this.label}\`: ${this.compactionProblem.message}\n`);
    }
  }

  /**
   * Rewrites the log as the live points only (each keeps its version). With a write in flight
   * (its op not applied yet) it happens as soon as that write is done.
   */
  compact(): void {
    if (this.log.writing) {
      this.compactionWanted = true;
      return;
    }
    this.compactionWanted = false;
    const opId = this.opCounter;
    this.log.rewrite((emit) => livePoints(this.state, 256, (points) => emit(encodeOp({ kind: 'upsert', points }, opId))));
    this.state.garbageBytes = 0;
  }
}

/** The live points as upsert batches of `size` (vectors are views: encode each batch at once). */
export function livePoints(state: PointState, size: number, emit: (points: PointWrite[]) => void): void {
  let batch: PointWrite[] = [];
  const { slots } = state;
  for (const s of slots.live()) {
    const vectors: Array<[string, VectorValue]> = [];
    for (const [name, storage] of state.vectors) if (storage.has(s)) vectors.push([name, storage.get(s)]);
    batch.push({ id: slots.slotIds[s]!, version: slots.versions[s] ?? 0, payload: slots.payloads[s] ?? null, vectors });
    if (batch.length === size) {
      emit(batch);
      batch = [];
    }
  }
  if (batch.length > 0) emit(batch);
}
