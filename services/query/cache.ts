/**
 * Query embedding cache: the same words or the same photo encode to the same vectors, and
 * encoding is the most expensive step of a query. Keys are the normalised text (the exact string
 * the model would see, so normalisation never changes an answer) or a SHA-256 of the image bytes.
 * Concurrent identical queries share one encode instead of racing to fill the cache.
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { MatryoshkaVectors } from '../../shared/encoder/types.ts';

export type QueryKind = 'text' | 'image';

/**
 * NFC plus trimmed and collapsed whitespace. Case is kept: the XLM-RoBERTa tokenizer is
 * case-sensitive, so "Rot" and "rot" are different inputs to the model.
 */
export function normaliseQueryText(text: string): string {
  return text.normalize('NFC').replace(/\s+/gu, ' ').trim();
}

export function imageKey(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export interface CachedEncode {
  vectors: MatryoshkaVectors;
  cached: boolean;
}

export class QueryEmbeddingCache {
  private readonly lru: LRUCache<string, MatryoshkaVectors> | undefined;
  private readonly pending = new Map<string, Promise<MatryoshkaVectors>>();

  constructor(maxEntries: number, private readonly onLookup: (kind: QueryKind, hit: boolean) => void = () => {}) {
    this.lru = maxEntries > 0 ? new LRUCache({ max: maxEntries }) : undefined;
  }

  get size(): number {
    return this.lru?.size ?? 0;
  }

  /** Returns cached vectors for `key`, or runs `encode` once for all concurrent callers. */
  async get(kind: QueryKind, key: string, encode: () => Promise<MatryoshkaVectors>): Promise<CachedEncode> {
    const fullKey = `${kind}:${key}`;
    const hit = this.lru?.get(fullKey);
    if (hit) {
      this.onLookup(kind, true);
      return { vectors: hit, cached: true };
    }
    const inFlight = this.pending.get(fullKey);
    if (inFlight) {
      this.onLookup(kind, true);
      return { vectors: await inFlight, cached: true };
    }
    this.onLookup(kind, false);
    const promise = encode();
    this.pending.set(fullKey, promise);
    try {
      const vectors = await promise;
      this.lru?.set(fullKey, vectors);
      return { vectors, cached: false };
    } finally {
      this.pending.delete(fullKey);
    }
  }

  clear(): void {
    this.lru?.clear();
  }
}
