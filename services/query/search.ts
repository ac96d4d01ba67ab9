/**
 * One search, end to end: resolve the query (text, image or stored point) to a full-width
 * vector — once, through the embedding cache — then run the coarse-to-fine cascade (or exact
 * search, or product groups) in the store with the translated filter. Every external call has
 * a deadline, so a stuck encoder or store turns into a 503 with a reason, never a hang.
 */
import type { QdrantClient } from '@qdrant/js-client-rest';
import type { Config } from '../../shared/config/index.ts';
import type { ClipEncoder } from '../../shared/encoder/index.ts';
import type { MatryoshkaVectors } from '../../shared/encoder/types.ts';
import { ClipstreamError } from '../../shared/errors.ts';
import type { LoadedCalibration } from '../../shared/store/calibrate.ts';
import {
  checkStageLimits,
  coarseToFineGroups,
  coarseToFineSearch,
  exactSearch,
  excludeIds,
  searchByPoint,
  sortedDims,
  storedStageVectors,
  type HitGroup,
  type SearchHit,
  type SearchTarget,
} from '../../shared/store/coarse-to-fine.ts';
import { LexicalAnalyser, type AnalysedQuery } from '../../shared/lexical/index.ts';
import { hybridGroups, hybridSearch, type ExplainedHit, type Fusion, type HitExplanation } from '../../shared/store/hybrid.ts';
import { httpStatus, isTransientStoreError, storeMessage } from '../../shared/store/retry.ts';
import { imageKey, normaliseQueryText, QueryEmbeddingCache, type QueryKind } from './cache.ts';
import { toQdrantFilter, type Modality } from './filter.ts';
import { productCards, type ProductCard } from './products.ts';
import { withDeadline } from './http-errors.ts';
import { checkImage, decodeBase64Image } from './image-input.ts';
import type { ImageUrlFetcher } from './image-url.ts';
import type { QueryMetrics } from './metrics.ts';
import type { SearchRequest } from './schemas.ts';

/** What the service needs of the encoder (tests and benchmarks may pass a stand-in). */
export type QueryEncoder = Pick<ClipEncoder, 'encodeText' | 'encodeImage' | 'model'>;

export interface StoreHandle {
  client: QdrantClient;
  /** Named in error messages. */
  url: string;
}

export interface Hit extends SearchHit {
  thumbnail?: string;
  explain?: HitExplanation & { highlights?: { title?: Array<[number, number]> } };
}

export type Retrieval = 'hybrid' | 'dense' | 'lexical';

export interface SearchResponse {
  query: {
    kind: 'text' | 'image' | 'point';
    modality: Modality;
    cached: boolean;
    mode: 'coarse_to_fine' | 'exact';
    retrieval: Retrieval;
    fusion?: string;
    lang?: string;
    terms?: string[];
    /** Why a hybrid query ran as dense (nothing left after lexical analysis). */
    fallback?: string;
  };
  model: string;
  stages: { dims: number[]; limits: number[]; source: 'request' | 'calibration' | 'default' };
  hits?: Hit[];
  groups?: Array<{ product_id: string | number; hits: Hit[]; product?: ProductCard }>;
  timings: { encode_ms: number; search_ms: number; total_ms: number };
}

export interface SearcherOptions {
  encoder: QueryEncoder;
  store: StoreHandle;
  /** The collection (or alias) to search, read at each search: it follows the alias (collection-follower.ts). */
  collection: () => string;
  dims: readonly number[];
  limits: Config['server']['query'];
  calibration: LoadedCalibration;
  metrics: QueryMetrics;
  imageUrls: ImageUrlFetcher;
  /** The analyser (the one ingestion uses) and the default fusion; without it every search is dense. */
  lexical?: HybridSettings;
}

export interface HybridSettings {
  analyser: LexicalAnalyser;
  /** HYBRID_FUSION, with RRF_K and HYBRID_WEIGHTS. */
  fusion: Fusion;
  /** What `fusion: "rrf"` in a request means (RRF_K, HYBRID_WEIGHTS), whatever the default. */
  rrf: Extract<Fusion, { kind: 'rrf' }>;
  /** LEXICAL_MIN_MATCH. */
  minMatch: number;
}

/** The analyser and fusion the configuration describes. */
export function hybridSettings(config: Config): HybridSettings {
  const l = config.lexical;
  const rrf = { kind: 'rrf', k: l.rrfK, weights: l.weights } as const;
  return {
    analyser: new LexicalAnalyser({ defaultLang: l.defaultLang, foldAccents: l.foldAccents, bm25: l.bm25 }),
    fusion: l.fusion === 'dbsf' ? { kind: 'dbsf' } : rrf,
    rrf,
    minMatch: l.minMatch,
  };
}

type ResolvedQuery =
  | { kind: 'text' | 'image'; vector: Float32Array; cached: boolean; encodeMs: number }
  /** A lexical-only query: nothing to encode. */
  | { kind: 'text'; vector?: undefined; cached: false; encodeMs: 0 }
  | { kind: 'point'; id: string; cached: false; encodeMs: 0 };

export class QuerySearcher {
  readonly cache: QueryEmbeddingCache;
  private readonly dims: number[];
  private readonly fullDim: number;
  /** Encodes this service has asked for and not yet had back (cache hits and shared encodes excluded). */
  private pendingEncodes = 0;

  constructor(private readonly o: SearcherOptions) {
    this.cache = new QueryEmbeddingCache(o.limits.cacheSize, (kind, hit) => o.metrics.cache.inc({ kind, result: hit ? 'hit' : 'miss' }));
    this.dims = sortedDims(o.dims);
    this.fullDim = this.dims.at(-1)!;
  }

  /** Where searches go now (after a rebuild's swap: the new version). */
  get target(): SearchTarget {
    return { client: this.o.store.client, collection: this.o.collection(), dims: this.dims };
  }

  async search(req: SearchRequest, upload?: Buffer): Promise<SearchResponse> {
    const started = performance.now();
    const modality = req.modality ?? 'any';
    const limit = req.limit ?? 10;
    const offset = req.offset ?? 0;
    const grouped = req.group_by === 'product';
    if (grouped && offset > 0) throw new ClipstreamError('BAD_REQUEST', 'offset cannot be combined with group_by (page through groups by raising limit)');
    if (grouped && req.exact) throw new ClipstreamError('BAD_REQUEST', 'exact cannot be combined with group_by');
    if (req.exact && req.stages) throw new ClipstreamError('BAD_REQUEST', 'stages cannot be combined with exact (exact search has no coarse stages)');
    if (offset + limit > this.o.limits.maxLimit) {
      throw new ClipstreamError('BAD_REQUEST', `offset + limit is ${offset + limit}, over the ${this.o.limits.maxLimit}-hit window (QUERY_MAX_LIMIT)`);
    }

    const lexical = this.lexicalQuery(req);
    const query: ResolvedQuery = lexical?.retrieval === 'lexical' ? { kind: 'text', cached: false, encodeMs: 0 } : await this.resolve(req, upload);
    const retrieval: Retrieval = lexical?.retrieval ?? 'dense';
    const stages = this.stageLimits(req.stages, limit + offset);
    const filter = toQdrantFilter(req.filter, { modality });
    const withPayload = req.with_payload ?? true;

    const searchStarted = performance.now();
    const mode = req.exact ? 'exact' : 'coarse_to_fine';
    let hits: SearchHit[] | undefined;
    let groups: HitGroup[] | undefined;
    if (lexical && retrieval !== 'dense') {
      const fusion = lexical.fusion;
      const q = {
        ...(query.kind !== 'point' && query.vector ? { vector: query.vector } : {}),
        lex: lexical.analysed.vector,
        terms: lexical.analysed.terms,
        minMatch: this.o.lexical!.minMatch,
        fusion,
        limit,
        offset,
        filter,
        stageLimits: stages.limits,
        // Each branch hands the fusion as many candidates as the dense chain's last coarse stage keeps.
        branchLimit: Math.max(limit + offset, stages.limits.at(-1) ?? 0),
        withPayload,
        explain: req.explain ?? true,
      };
      if (grouped) groups = await this.storeCall(`${retrieval} group search`, () => hybridGroups(this.target, { ...q, offset: 0, group: { by: 'product_id', size: req.group_size ?? 3 } }));
      else hits = await this.storeCall(`${retrieval} search`, () => hybridSearch(this.target, q));
    } else if (grouped) {
      const pointVectors = query.kind === 'point' ? await this.storeCall('read the query point', () => storedStageVectors(this.target, query.id)) : undefined;
      const vector = query.kind === 'point' ? pointVectors!.get(this.fullDim)! : denseVector(query);
      groups = await this.storeCall('group search', () =>
        coarseToFineGroups(this.target, {
          vector,
          limit,
          filter: query.kind === 'point' ? excludeIds(filter, [query.id]) : filter,
          stageLimits: stages.limits,
          withPayload,
          groupBy: 'product_id',
          groupSize: req.group_size ?? 3,
        }),
      );
    } else if (query.kind === 'point') {
      if (req.exact) {
        const vectors = await this.storeCall('read the query point', () => storedStageVectors(this.target, query.id));
        hits = await this.storeCall('exact search', () =>
          exactSearch(this.target, { vector: vectors.get(this.fullDim)!, limit, offset, filter: excludeIds(filter, [query.id]), withPayload }),
        );
      } else {
        hits = await this.storeCall('point search', () =>
          searchByPoint(this.target, query.id, { limit, offset, filter, stageLimits: stages.limits, withPayload }),
        );
      }
    } else if (req.exact) {
      hits = await this.storeCall('exact search', () => exactSearch(this.target, { vector: denseVector(query), limit, offset, filter, withPayload }));
    } else {
      hits = await this.storeCall('search', () =>
        coarseToFineSearch(this.target, { vector: denseVector(query), limit, offset, filter, stageLimits: stages.limits, withPayload }),
      );
    }
    const searchMs = performance.now() - searchStarted;
    this.o.metrics.searchSeconds.observe({ mode: grouped ? 'groups' : retrieval === 'dense' ? mode : retrieval }, searchMs / 1000);
    if (!req.exact) stages.limits.forEach((n, i) => this.o.metrics.candidates.observe({ stage: `mrl_${this.target.dims[i]}` }, n));
    this.o.metrics.candidates.observe({ stage: `mrl_${this.fullDim}` }, limit + offset);

    const highlight = (hit: SearchHit): Hit => this.highlighted(withThumbnail(hit));
    // Grouped results are products: each with its image, title in the query's language, brand, SKU, price.
    const cards = groups && withPayload !== false ? await this.storeCall('read the products', () => this.cards(groups!, lexical?.analysed.lang ?? req.lang)) : undefined;
    return {
      query: {
        kind: query.kind,
        modality,
        cached: query.cached,
        mode,
        retrieval,
        ...(lexical && retrieval === 'hybrid' ? { fusion: describeFusion(lexical.fusion) } : {}),
        ...(lexical ? { lang: lexical.analysed.lang, terms: lexical.analysed.terms.map((t) => t.term) } : {}),
        ...(lexical?.fallback ? { fallback: lexical.fallback } : {}),
      },
      model: this.o.encoder.model.modelId,
      stages: req.exact
        ? { dims: [this.fullDim], limits: [limit + offset], source: 'request' }
        : { dims: [...this.target.dims], limits: [...stages.limits, limit + offset], source: stages.source },
      ...(hits ? { hits: hits.map(highlight) } : {}),
      ...(groups
        ? { groups: groups.map((g) => ({ product_id: g.id, hits: g.hits.map(highlight), ...(cards?.has(String(g.id)) ? { product: cards.get(String(g.id))! } : {}) })) }
        : {}),
      timings: { encode_ms: round(query.encodeMs), search_ms: round(searchMs), total_ms: round(performance.now() - started) },
    };
  }

  /**
   * The retrieval a request asks for (default: hybrid for text, dense for images and points) with
   * the text's lexical analysis; undefined for a dense search. A hybrid text that analyses to
   * nothing (stop words, punctuation) runs dense and says so; a lexical one is refused.
   */
  private lexicalQuery(req: SearchRequest): { retrieval: Retrieval; analysed: AnalysedQuery; fusion: Fusion; fallback?: string } | undefined {
    // `exact` checks the dense stages, so it implies dense unless a mode is asked for (then refused).
    const requested: Retrieval = req.mode ?? (req.text !== undefined && this.o.lexical && !req.exact ? 'hybrid' : 'dense');
    if (requested === 'dense') return undefined;
    if (req.text === undefined) throw new ClipstreamError('BAD_REQUEST', `mode ${requested} needs a text query (image and point queries are dense)`);
    if (req.exact) throw new ClipstreamError('BAD_REQUEST', `exact cannot be combined with mode ${requested} (it is a check of the dense stages)`);
    if (!this.o.lexical) throw new ClipstreamError('BAD_REQUEST', `mode ${requested} is not available: this service has no lexical analyser`);
    const text = normaliseQueryText(req.text);
    const analysed = this.o.lexical.analyser.query(text, req.lang);
    const fusion: Fusion = req.fusion === 'dbsf' ? { kind: 'dbsf' } : req.fusion === 'rrf' ? this.o.lexical.rrf : this.o.lexical.fusion;
    if (analysed.terms.length === 0) {
      if (requested === 'lexical') {
        throw new ClipstreamError('BAD_REQUEST', `the query "${text}" has no searchable words after lexical analysis (only stop words or punctuation for language ${analysed.lang})`, { item: 'text' });
      }
      return { retrieval: 'dense', analysed, fusion, fallback: 'the query has no searchable words after lexical analysis (only stop words or punctuation): searched dense only' };
    }
    return { retrieval: requested, analysed, fusion };
  }

  private cards(groups: HitGroup[], lang: string | undefined): Promise<Map<string, ProductCard>> {
    const matched = new Map<string, Set<string>>();
    for (const g of groups) {
      const terms = new Set<string>();
      for (const h of g.hits as ExplainedHit[]) for (const t of h.explain?.matched_terms ?? []) terms.add(t);
      matched.set(String(g.id), terms);
    }
    return productCards(this.o.store.client, this.o.collection(), groups.map((g) => g.id), { lang, matched, analyser: this.o.lexical?.analyser });
  }

  /** Marks the matched words in a hit's title, analysed in the title's own language. */
  private highlighted(hit: Hit): Hit {
    const terms = hit.explain?.matched_terms;
    const title = hit.payload?.title;
    if (!this.o.lexical || !terms || terms.length === 0 || typeof title !== 'string') return hit;
    const lang = typeof hit.payload?.lang === 'string' ? hit.payload.lang : undefined;
    return { ...hit, explain: { ...hit.explain!, highlights: { title: this.o.lexical.analyser.highlights(title, new Set(terms), lang) } } };
  }

  /** Encodes text/image queries (through the cache); point queries are read by the store call itself. */
  private async resolve(req: SearchRequest, upload: Buffer | undefined): Promise<ResolvedQuery> {
    const given = [req.text !== undefined, req.image !== undefined || upload !== undefined, req.point_id !== undefined].filter(Boolean).length;
    if (given !== 1) {
      throw new ClipstreamError('BAD_REQUEST', `give exactly one of text, image or point_id (got ${given === 0 ? 'none' : 'several'})`);
    }
    if (req.point_id !== undefined) return { kind: 'point', id: req.point_id.toLowerCase(), cached: false, encodeMs: 0 };
    if (req.text !== undefined) {
      const text = normaliseQueryText(req.text);
      if (text === '') throw new ClipstreamError('TEXT_EMPTY', 'the query text is empty', { item: 'text' });
      const chars = [...text].length;
      if (chars > this.o.limits.maxTextChars) {
        throw new ClipstreamError('TEXT_TOO_LONG', `query text is ${chars} characters, over the ${this.o.limits.maxTextChars}-character limit (QUERY_MAX_TEXT_CHARS)`, {
          item: 'text',
        });
      }
      return this.encode('text', text, () => this.o.encoder.encodeText({ text, query: true, item: 'query text' }));
    }
    let bytes: Buffer;
    let item: string;
    if (upload) [bytes, item] = [upload, 'uploaded image'];
    else if (req.image?.base64 !== undefined) [bytes, item] = [decodeBase64Image(req.image.base64, this.o.limits), 'image.base64'];
    else [bytes, item] = [await this.o.imageUrls.fetch(req.image!.url!), req.image!.url!];
    await checkImage(bytes, this.o.limits, item);
    return this.encode('image', imageKey(bytes), () => this.o.encoder.encodeImage({ bytes, item }));
  }

  private async encode(kind: QueryKind, key: string, run: () => Promise<MatryoshkaVectors>): Promise<ResolvedQuery & { kind: QueryKind }> {
    const started = performance.now();
    // Keyed by model too: vectors of two models never answer for each other.
    const { vectors, cached } = await this.cache.get(kind, `${this.o.encoder.model.modelId}\u0000${key}`, () => this.admitted(run));
    const encodeMs = performance.now() - started;
    if (!cached) this.o.metrics.encodeSeconds.observe({ kind }, encodeMs / 1000);
    const vector = vectors[this.fullDim];
    if (!vector) throw new ClipstreamError('VECTOR_INVALID', `the encoder gave no ${this.fullDim}-d vector`);
    return { kind, vector, cached, encodeMs };
  }

  /**
   * Runs one encode if fewer than QUERY_MAX_PENDING_ENCODES are outstanding, else sheds the
   * query at once: waiting behind a full encoder queue only turns into a timeout later, while a
   * 503 with Retry-After now lets the client back off.
   */
  private async admitted(run: () => Promise<MatryoshkaVectors>): Promise<MatryoshkaVectors> {
    const max = this.o.limits.maxPendingEncodes;
    if (this.pendingEncodes >= max) {
      this.o.metrics.shed.inc({ reason: 'encoder_queue' });
      throw new ClipstreamError('ENCODER_OVERLOADED', `the encoder queue is full (${max} queries waiting, QUERY_MAX_PENDING_ENCODES); retry later`);
    }
    this.pendingEncodes++;
    // Counted until the encoder is done with it, not until the deadline: a timed-out encode still occupies the encoder.
    const encoding = Promise.resolve()
      .then(run)
      .finally(() => this.pendingEncodes--);
    return withDeadline(encoding, this.o.limits.timeoutMs, () => new ClipstreamError('ENCODER_OVERLOADED', `the encoder did not answer within ${this.o.limits.timeoutMs} ms`));
  }

  /**
   * Stage limits: the request's, else the calibrated/default ones. Defaults are widened when the
   * window (limit + offset) asks for more than they keep; explicit ones are checked as given.
   */
  stageLimits(requested: number[] | undefined, window: number): { limits: number[]; source: 'request' | 'calibration' | 'default' } {
    if (requested) {
      checkStageLimits(this.target.dims, requested, window);
      return { limits: requested, source: 'request' };
    }
    const limits = this.o.calibration.stageLimits.map((l) => Math.max(l, window));
    return { limits, source: this.o.calibration.source };
  }

  /** A store call with a deadline; transport failures become STORE_UNAVAILABLE naming the store. */
  async storeCall<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const { url } = this.o.store;
    const ms = this.o.limits.timeoutMs;
    try {
      return await withDeadline(fn(), ms, () => new ClipstreamError('STORE_UNAVAILABLE', `store at ${url} did not answer within ${ms} ms (${operation})`));
    } catch (err) {
      throw storeError(err, url, operation, this.o.collection());
    }
  }
}

export function storeError(err: unknown, url: string, operation: string, collection: string): ClipstreamError {
  if (err instanceof ClipstreamError) return err;
  if (isTransientStoreError(err)) {
    return new ClipstreamError('STORE_UNAVAILABLE', `store at ${url} unavailable (${operation}): ${storeMessage(err)}`, { cause: err });
  }
  const status = httpStatus(err);
  if (status === 404) {
    return new ClipstreamError('STORE_UNAVAILABLE', `collection ${collection} not found at ${url} (nothing ingested yet?): ${storeMessage(err)}`, { cause: err });
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return new ClipstreamError('BAD_REQUEST', `the store refused the ${operation}: ${storeMessage(err)}`, { cause: err });
  }
  return new ClipstreamError('STORE_REQUEST_FAILED', `${operation} failed at ${url}: ${storeMessage(err)}`, { cause: err });
}

function withThumbnail(hit: SearchHit): Hit {
  // lex_terms (the term ids the lexical branch filters on) mean nothing to a client.
  if (hit.payload && 'lex_terms' in hit.payload) {
    const { lex_terms: _ids, ...payload } = hit.payload;
    hit = { ...hit, payload };
  }
  return hit.payload?.modality === 'image' ? { ...hit, thumbnail: `/v1/items/${hit.id}/thumbnail` } : hit;
}

function denseVector(query: ResolvedQuery): Float32Array {
  if (query.kind === 'point' || !query.vector) throw new Error('a dense search without a query vector');
  return query.vector;
}

function describeFusion(f: Fusion): string {
  return f.kind === 'dbsf' ? 'dbsf' : `rrf(k=${f.k}, weights=${f.weights.dense},${f.weights.lexical})`;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
