/**
 * Which physical collection the query service searches. Searches go where the alias leads, so a
 * rebuild's swap is followed without a restart (checked every QUERY_ALIAS_REFRESH_MS; until then
 * the previous version, which a rebuild keeps, still answers). But queries are encoded with this
 * process's model: when the alias comes to lead to a collection built with another model, the
 * service keeps searching the last collection of its own model, and says so, rather than compare
 * vectors of two models. It follows again once it runs with that model.
 */
import type { QdrantClient } from '@qdrant/js-client-rest';
import { describeError } from '../../shared/errors.ts';
import { collectionMetadata, resolveAlias } from '../../shared/store/schema.ts';

/** A refresh is retried by the next one; no backoff inside it. */
const ONCE = { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0 };

export interface CollectionFollowerOptions {
  client: QdrantClient;
  alias: string;
  /** The encoder's model id: the only model whose vectors this service may search. */
  model: string;
  storeUrl: string;
  refreshMs: number;
  /** Called when the searched collection changes (or a notice about the alias), for logs. */
  onNotice?: (line: string) => void;
}

export class CollectionFollower {
  private searched: string;
  /** The alias's target when last read; differs from `searched` while pinned. */
  private aliasTarget: string | undefined;
  private reason: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;

  constructor(private readonly o: CollectionFollowerOptions) {
    // Until the first refresh: through the alias itself (the store resolves it per request).
    this.searched = o.alias;
  }

  /** The collection (or, before the first refresh, the alias) searches go to now. */
  get current(): string {
    return this.searched;
  }

  /** Why the searched collection's vectors are not (all) of this service's model, or why it does not follow the alias. */
  get mismatch(): string | undefined {
    return this.reason;
  }

  /** True while it keeps searching an older collection of its own model instead of the alias's. */
  get pinned(): boolean {
    return this.aliasTarget !== undefined && this.searched !== this.aliasTarget;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.refresh(), this.o.refreshMs);
    this.timer.unref();
    void this.refresh();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Reads the alias once (concurrent callers share the read); never throws, and gives up after
   * `maxWaitMs` (a hanging store must not hold a request or the start-up): the next refresh tries again.
   */
  refresh(maxWaitMs = 3_000): Promise<void> {
    this.refreshing ??= this.read().finally(() => (this.refreshing = undefined));
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, maxWaitMs)));
    return Promise.race([this.refreshing, gaveUp]).finally(() => clearTimeout(timer));
  }

  private async read(): Promise<void> {
    const { client, alias, model } = this.o;
    let target: string;
    let builtWith: string | undefined;
    try {
      target = (await resolveAlias(client, alias, { storeUrl: this.o.storeUrl, retry: ONCE })) ?? alias;
      if (target === this.aliasTarget) return;
      builtWith = (await collectionMetadata(client, target, { storeUrl: this.o.storeUrl, retry: ONCE }))?.model;
    } catch (err) {
      // Store unreachable, or nothing indexed yet: keep searching where we did; requests report it.
      if (this.searched === alias) return;
      this.o.onNotice?.(`query: cannot read alias ${alias}: ${describeError(err)} (still searching ${this.searched})`);
      return;
    }
    this.aliasTarget = target;
    if (builtWith === undefined || builtWith === model) {
      if (target !== this.searched && this.searched !== alias) this.o.onNotice?.(`query: alias ${alias} now leads to ${target}; searching it`);
      this.searched = target;
      this.reason = undefined;
      return;
    }
    const mismatch = `alias ${alias} leads to ${target}, built with ${builtWith}, but this service encodes queries with ${model}`;
    if (this.searched !== alias && this.searched !== target) {
      this.reason = `${mismatch}: it keeps searching ${this.searched} (built with its own model); restart it with the model of ${target} to follow`;
    } else {
      // Nothing of our own model to fall back to: searches go to the alias, and readiness says why not.
      this.searched = target;
      this.reason = mismatch;
    }
    this.o.onNotice?.(`query: ${this.reason}`);
  }
}
