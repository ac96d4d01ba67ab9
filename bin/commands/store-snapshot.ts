/**
 * `clipstream store snapshot …`: collection snapshots over Qdrant's REST API, against the
 * embedded store's server or a real Qdrant alike (create, list, download, recover from a file or
 * a URL, delete). See docs/store-snapshots.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
import { QdrantClient } from '@qdrant/js-client-rest';
import { ClipstreamError } from '../../shared/errors.ts';
import { config } from '../../shared/config/index.ts';
import { Store } from '../../services/store/engine/store.ts';

interface Target {
  url: string;
  apiKey: string | undefined;
  collection: string;
}

interface Opts {
  url?: string;
  apiKey?: string;
  collection?: string;
}

function target(opts: Opts): Target {
  const cfg = config();
  return {
    url: (opts.url ?? cfg.store.qdrantUrl ?? 'http://127.0.0.1:6333').replace(/\/+$/, ''),
    apiKey: opts.apiKey ?? cfg.store.qdrantApiKey,
    collection: opts.collection ?? cfg.store.collection,
  };
}

const clientFor = (t: Target) => new QdrantClient({ url: t.url, ...(t.apiKey ? { apiKey: t.apiKey } : {}), checkCompatibility: false });
const headers = (t: Target): Record<string, string> => (t.apiKey ? { 'api-key': t.apiKey } : {});
const snapshotUrl = (t: Target, name: string, full = false) =>
  full ? `${t.url}/snapshots/${encodeURIComponent(name)}` : `${t.url}/collections/${encodeURIComponent(t.collection)}/snapshots/${encodeURIComponent(name)}`;

/** The server's own message for a failed call, as a ClipstreamError naming the collection. */
function failed(t: Target, what: string, err: unknown): ClipstreamError {
  const data = (err as { data?: { status?: { error?: string } } }).data;
  const reason = data?.status?.error ?? (err as Error).message;
  return new ClipstreamError('STORE_UNAVAILABLE', `${what} of collection ${t.collection} at ${t.url} failed: ${reason}`, { item: t.collection, cause: err });
}

async function download(t: Target, name: string, out: string, full = false): Promise<number> {
  const res = await fetch(snapshotUrl(t, name, full), { headers: headers(t) });
  if (!res.ok || !res.body) throw new ClipstreamError('STORE_UNAVAILABLE', `downloading snapshot ${name} of ${t.collection} from ${t.url} failed: HTTP ${res.status} ${await res.text()}`, { item: name });
  const tmp = `${out}.part`;
  await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), fs.createWriteStream(tmp));
  fs.renameSync(tmp, out);
  return fs.statSync(out).size;
}

export function register(store: Command): void {
  const snapshot = store.command('snapshot').description('collection snapshots (create, list, download, recover, delete) over the REST API');
  const common = (c: Command) =>
    c
      .option('--url <url>', 'the store or Qdrant server (default: QDRANT_URL, else http://127.0.0.1:6333)')
      .option('--api-key <key>', 'api key (default: QDRANT_API_KEY)')
      .option('--collection <name>', 'collection (default: QDRANT_COLLECTION)');

  common(snapshot.command('create').description('take a snapshot; with --out also download it'))
    .option('--out <file>', 'write the snapshot file here too')
    .option('--full', 'a full snapshot: every collection and the aliases')
    .action(async (opts: Opts & { out?: string; full?: boolean }) => {
      const t = target(opts);
      let made;
      try {
        made = opts.full ? await clientFor(t).createFullSnapshot({ wait: true }) : await clientFor(t).createSnapshot(t.collection, { wait: true });
      } catch (err) {
        throw failed(t, 'snapshot', err);
      }
      if (!made) throw new ClipstreamError('STORE_UNAVAILABLE', `the server accepted the snapshot of ${t.collection} but did not describe it`, { item: t.collection });
      process.stdout.write(`${made.name}\t${made.size} bytes\tsha256 ${made.checksum ?? '-'}\n`);
      if (opts.out) process.stdout.write(`saved ${await download(t, made.name, opts.out, opts.full)} bytes to ${opts.out}\n`);
    });

  common(snapshot.command('list').description('list the snapshots of a collection'))
    .option('--json', 'print JSON')
    .option('--full', 'full snapshots instead')
    .action(async (opts: Opts & { json?: boolean; full?: boolean }) => {
      const t = target(opts);
      let list;
      try {
        list = opts.full ? await clientFor(t).listFullSnapshots() : await clientFor(t).listSnapshots(t.collection);
      } catch (err) {
        throw failed(t, 'listing snapshots', err);
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      else for (const s of list) process.stdout.write(`${s.name}\t${s.creation_time ?? '-'}\t${s.size} bytes\tsha256 ${s.checksum ?? '-'}\n`);
    });

  common(snapshot.command('download <name>').description('download a snapshot file'))
    .requiredOption('--out <file>', 'where to write it')
    .option('--full', 'a full snapshot')
    .action(async (name: string, opts: Opts & { out: string; full?: boolean }) => {
      const t = target(opts);
      process.stdout.write(`saved ${await download(t, name, opts.out, opts.full)} bytes to ${opts.out}\n`);
    });

  snapshot
    .command('recover-full')
    .description('restore every collection and alias of a full snapshot into a data directory (the store must not be running on it)')
    .requiredOption('--data <dir>', 'data directory of the embedded store')
    .requiredOption('--from <file>', 'a full snapshot file (GET /snapshots/{name})')
    .action(async (opts: { data: string; from: string }) => {
      let store;
      try {
        store = Store.open(opts.data);
      } catch (err) {
        throw new ClipstreamError('STORE_UNAVAILABLE', `cannot open ${opts.data}: ${(err as Error).message}`, { cause: err });
      }
      try {
        const done = await store.fullSnapshots.recover(opts.from);
        process.stdout.write(`recovered ${done.collections.length} collection(s) (${done.collections.join(', ')}) and ${done.aliases} alias(es) into ${opts.data}\n`);
      } catch (err) {
        throw new ClipstreamError('BAD_REQUEST', (err as Error).message, { item: opts.from, cause: err });
      } finally {
        await store.close();
      }
    });

  common(snapshot.command('recover').description('replace (or create) the collection from a snapshot file or URL'))
    .requiredOption('--from <file|url>', 'a local snapshot file (uploaded) or an http(s):// / file:// location the server reads')
    .option('--checksum <sha256>', 'refuse the snapshot unless its sha256 is this')
    .addHelpText('after', '\nExample:\n  clipstream store snapshot recover --collection catalogue --from ./catalogue.snapshot')
    .action(async (opts: Opts & { from: string; checksum?: string }) => {
      const t = target(opts);
      if (/^(https?|file):\/\//.test(opts.from)) {
        try {
          await clientFor(t).recoverSnapshot(t.collection, { location: opts.from, ...(opts.checksum ? { checksum: opts.checksum } : {}) });
        } catch (err) {
          throw failed(t, 'recovery', err);
        }
      } else {
        if (!fs.existsSync(opts.from)) throw new ClipstreamError('BAD_REQUEST', `--from ${opts.from}: no such file`, { item: opts.from });
        const form = new FormData();
        form.append('snapshot', await fs.openAsBlob(opts.from), path.basename(opts.from));
        const query = new URLSearchParams({ priority: 'snapshot', ...(opts.checksum ? { checksum: opts.checksum } : {}) });
        const res = await fetch(`${t.url}/collections/${encodeURIComponent(t.collection)}/snapshots/upload?${query}`, { method: 'POST', body: form, headers: headers(t) });
        if (!res.ok) throw failed(t, 'recovery', { data: (await res.json().catch(() => null)) as unknown, message: `HTTP ${res.status}` });
      }
      const info = await clientFor(t).getCollection(t.collection);
      process.stdout.write(`recovered ${t.collection}: ${info.points_count ?? 0} points\n`);
    });

  common(snapshot.command('delete <name>').description('delete a snapshot'))
    .action(async (name: string, opts: Opts) => {
      const t = target(opts);
      try {
        await clientFor(t).deleteSnapshot(t.collection, name);
      } catch (err) {
        throw failed(t, 'deleting a snapshot', err);
      }
      process.stdout.write(`deleted ${name}\n`);
    });
}
