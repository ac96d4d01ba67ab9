/**
 * Collection snapshot endpoints (engine/snapshots/): list, create, download, delete, recover
 * from a location, recover from a multipart upload. As in Qdrant, `wait` defaults to true here;
 * `wait=false` answers 202 and does the work in the background.
 */
import fs from 'node:fs';
import type http from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Busboy } from '@fastify/busboy';
import type { Schemas } from '@qdrant/js-client-rest';
import { badRequest, StoreError } from '../engine/errors.ts';
import type { Store } from '../engine/store.ts';
import { validateBody } from '../engine/validate.ts';
import type { Route } from './routes.ts';

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

export const SNAPSHOT_ROUTES: Route[] = [
  route('GET', '/collections/*/snapshots', ({ store, params }) => store.snapshots.list(params[0]!)),
  route('POST', '/collections/*/snapshots', ({ store, params, query }) => {
    store.resolve(params[0]!);
    return maybeInBackground(query, `snapshot of collection \`${params[0]}\``, () => store.snapshots.create(params[0]!));
  }),
  route('DELETE', '/collections/*/snapshots/*', ({ store, params, query }) => {
    // Checked now (404 for a missing one); wait=false answers 202 once it is gone.
    store.snapshots.file(params[0]!, params[1]!);
    return maybeInBackground(query, `deleting snapshot ${params[1]}`, async () => store.snapshots.delete(params[0]!, params[1]!));
  }),
  route(
    'PUT',
    '/collections/*/snapshots/recover',
    ({ store, params, body, query }) => {
      validateBody('SnapshotRecover', body);
      const { location, checksum, api_key } = body as Schemas['SnapshotRecover'];
      return maybeInBackground(query, `recovery of collection \`${params[0]}\``, () => store.snapshots.recover(params[0]!, location, { checksum, apiKey: api_key }));
    },
    { schema: 'SnapshotRecover' },
  ),
  route('GET', '/collections/*/snapshots/*', () => undefined, { raw: download }),
  route('POST', '/collections/*/snapshots/upload', () => undefined, { raw: upload }),
  // Full snapshots: every collection and the aliases; restored offline (clipstream store snapshot recover-full).
  route('GET', '/snapshots', ({ store }) => store.fullSnapshots.list()),
  route('POST', '/snapshots', ({ store, query }) => maybeInBackground(query, 'full snapshot', () => store.fullSnapshots.create())),
  route('DELETE', '/snapshots/*', ({ store, params, query }) => {
    store.fullSnapshots.file(params[0]!);
    return maybeInBackground(query, `deleting snapshot ${params[0]}`, async () => store.fullSnapshots.delete(params[0]!));
  }),
  route('GET', '/snapshots/*', () => undefined, { raw: downloadFull }),
];

export interface RawContext {
  store: Store;
  params: string[];
  query: URLSearchParams;
  req: http.IncomingMessage;
  res: http.ServerResponse;
}

/** GET …/snapshots/{name}: the snapshot file itself. */
async function download({ store, params, req, res }: RawContext): Promise<unknown> {
  req.resume();
  const { file, size } = store.snapshots.file(params[0]!, params[1]!);
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': size,
    'content-disposition': `attachment; filename="${params[1]!.replaceAll('"', '')}"`,
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
      bb.on('finish', () => writing.then(resolve, reject));
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

