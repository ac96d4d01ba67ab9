/**
 * Snapshot endpoints (engine/snapshots/) of collections, of their shard 0 and of the whole store:
 * list, create, download, delete, recover from a location, recover from a multipart upload. As
 * in Qdrant, `wait` defaults to true here; `wait=false` answers 202 and does the work in the
 * background.
 */
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Busboy } from '@fastify/busboy';
import type { Schemas } from '@qdrant/js-client-rest';
import { badRequest, StoreError } from '../engine/errors.ts';
import type { Store } from '../engine/store.ts';
import { validateBody } from '../engine/validate.ts';
import type { RawContext, Route } from './route.ts';

/** A result answered 202 `{"status":"accepted"}`: the work goes on after the reply. */
export class Accepted {}

const PRIORITIES = new Set(['no_sync', 'snapshot', 'replica']);

function waitOf(query: URLSearchParams): boolean {
  const w = query.get('wait');
  return w !== 'false';
}

/** Runs `work` now (wait=true) or after answering 202 (wait=false), failures then logged. */
async function maybeInBackground<T>(query: URLSearchParams, what: string, work: () => Promise<T>): Promise<T | Accepted> {
  if (waitOf(query)) return work();
  work().catch((err: unknown) => process.stderr.write(`store: ${what} failed: ${err instanceof Error ? err.message : String(err)}\n`));
  return new Accepted();
}

const route = (method: string, pattern: string, handle: Route['handle'], extra: Partial<Route> = {}): Route => ({
  method,
  segments: pattern.split('/').filter(Boolean),
  handle,
  ...extra,
});

/**
 * A collection's snapshots, or its shard's (`/collections/{c}/shards/{id}/snapshots`, Qdrant's
 * shard snapshot API; the embedded store has shard 0 only, whose snapshots are kept apart and
 * have the collection snapshot format). `params` are [collection, (shard,) snapshot name].
 */
function scopedRoutes(sharded: boolean): Route[] {
  const base = sharded ? '/collections/*/shards/*/snapshots' : '/collections/*/snapshots';
  const at = sharded ? 2 : 1;
  // The shard (checked: 404 for a collection or shard that does not exist), else undefined.
  const shardOf = (store: Store, params: string[]) => {
    if (!sharded) return undefined;
    store.snapshots.checkShard(params[0]!, params[1]!);
    return params[1]!;
  };
  return [
    route('GET', base, ({ store, params }) => store.snapshots.list(params[0]!, shardOf(store, params))),
    route('POST', base, ({ store, params, query }) => {
      store.resolve(params[0]!);
      const shard = shardOf(store, params);
      return maybeInBackground(query, `snapshot of collection \`${params[0]}\``, () => store.snapshots.create(params[0]!, shard));
    }),
    route('DELETE', `${base}/*`, ({ store, params, query }) => {
      const shard = shardOf(store, params);
      // Checked now (404 for a missing one); wait=false answers 202 once it is gone.
      store.snapshots.file(params[0]!, params[at]!, shard);
      return maybeInBackground(query, `deleting snapshot ${params[at]}`, async () => store.snapshots.delete(params[0]!, params[at]!, shard));
    }),
    route(
      'PUT',
      `${base}/recover`,
      ({ store, params, body, query }) => {
        // A shard is recovered into its existing collection; a collection may be created.
        shardOf(store, params);
        validateBody('SnapshotRecover', body);
        const { location, checksum, api_key } = body as Schemas['SnapshotRecover'];
        return maybeInBackground(query, `recovery of collection \`${params[0]}\``, () => store.snapshots.recover(params[0]!, location, { checksum, apiKey: api_key }));
      },
      { schema: 'SnapshotRecover' },
    ),
    route('GET', `${base}/*`, () => undefined, {
      raw: (ctx) => {
        const shard = shardOf(ctx.store, ctx.params);
        return download(ctx, ctx.params[at]!, shard);
      },
    }),
    route('POST', `${base}/upload`, () => undefined, {
      raw: (ctx) => {
        shardOf(ctx.store, ctx.params);
        return upload(ctx);
      },
    }),
  ];
}

export const SNAPSHOT_ROUTES: Route[] = [
  ...scopedRoutes(false),
  ...scopedRoutes(true),
  // Full snapshots: every collection and the aliases; restored offline (clipstream store snapshot recover-full).
  route('GET', '/snapshots', ({ store }) => store.fullSnapshots.list()),
  route('POST', '/snapshots', ({ store, query }) => maybeInBackground(query, 'full snapshot', () => store.fullSnapshots.create())),
  route('DELETE', '/snapshots/*', ({ store, params, query }) => {
    store.fullSnapshots.file(params[0]!);
    return maybeInBackground(query, `deleting snapshot ${params[0]}`, async () => store.fullSnapshots.delete(params[0]!));
  }),
  route('GET', '/snapshots/*', () => undefined, { raw: downloadFull }),
];


/** GET …/snapshots/{name}: the snapshot file itself. */
async function download({ store, params, req, res }: RawContext, name: string, shard: string | undefined): Promise<unknown> {
  req.resume();
  const { file, size } = store.snapshots.file(params[0]!, name, shard);
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': size,
    'content-disposition': `attachment; filename="${name.replaceAll('"', '')}"`,
  });
  await pipeline(fs.createReadStream(file), res);
  return undefined;
}

/** GET /snapshots/{name}: a full snapshot file. */
async function downloadFull({ store, params, req, res }: RawContext): Promise<unknown> {
  req.resume();
  const { file, size } = store.fullSnapshots.file(params[0]!);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size, 'content-disposition': `attachment; filename="${params[0]!.replaceAll('"', '')}"` });
  await pipeline(fs.createReadStream(file), res);
  return undefined;
}

/**
 * POST …/snapshots/upload: a multipart form whose file field (`snapshot`) is streamed to a
 * temporary file, then recovered as from a location. `checksum` and `priority` are query
 * parameters (priority only matters between replicas: a single store accepts and ignores it).
 */
async function upload({ store, params, query, req }: RawContext): Promise<unknown> {
  const priority = query.get('priority');
  if (priority !== null && !PRIORITIES.has(priority)) {
    req.resume();
    throw new StoreError(400, `Query deserialize error: priority: unknown variant \`${priority}\`, expected one of \`no_sync\`, \`snapshot\`, \`replica\``);
  }
  const type = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data/i.test(type)) {
    req.resume();
    throw badRequest(`snapshot upload: expected a multipart/form-data body with the file in field \`snapshot\`, got content-type ${JSON.stringify(type)}`);
  }
  const file = store.snapshots.tempFile('upload');
  let received = false;
  try {
    await new Promise<void>((resolve, reject) => {
      let writing: Promise<void> = Promise.resolve();
      const bb = Busboy({ headers: { ...req.headers, 'content-type': type }, limits: { files: 1 } });
      bb.on('file', (_field, stream) => {
        if (received) {
          stream.resume();
          return;
        }
        received = true;
        writing = pipeline(stream, fs.createWriteStream(file));
      });
      bb.on('finish', () => {
        writing.then(resolve, reject);
      });
      bb.on('error', (err: Error) => reject(badRequest(`snapshot upload: the multipart body is malformed (${err.message})`)));
      req.on('error', reject);
      req.pipe(bb);
    });
    if (!received) throw badRequest('snapshot upload: the multipart body has no file (send it in field `snapshot`)');
  } catch (err) {
    fs.rmSync(file, { force: true });
    throw err;
  }
  return maybeInBackground(query, `recovery of collection \`${params[0]}\` from an upload`, () => store.snapshots.recoverUpload(params[0]!, file, query.get('checksum')));
}

