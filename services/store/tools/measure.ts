/**
 * Quick measurement of the embedded store as clipstream uses it: batched wait=true upserts of
 * points with three named vectors (64/256/1024, Cosine) through the Qdrant JS client, then
 * memory (RSS ÷ raw vector bytes), exact vs coarse-to-fine query latency and reopen time.
 * The store runs in a child process so its CPU time and RSS are its own. Not a test or a
 * benchmark suite (those live in bench/store); a tool for checking the store's own figures.
 *
 *   node --import tsx services/store/tools/measure.ts [--points 20000] [--batch 128]
 *        [--concurrency 3] [--digits 0]      (digits: round vector values to N significant
 *                                              digits before sending; 0 sends full doubles)
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { QdrantClient } from '@qdrant/js-client-rest';
import { pointId } from '../../../shared/store/ids.ts';
import { startEmbeddedStore } from '../index.ts';

const self = fileURLToPath(import.meta.url);
const { values: args } = parseArgs({
  options: {
    points: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '128' },
    concurrency: { type: 'string', default: '3' },
    digits: { type: 'string', default: '0' },
    serve: { type: 'string' },
  },
});

if (args.serve) {
  const store = await startEmbeddedStore({ dataDir: args.serve, port: 0 });
  process.stdout.write(JSON.stringify({ url: store.url }) + '\n');
  const stop = () => void store.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  // The parent holds our stdin: if it dies without stopping us, we stop too.
  process.stdin.on('close', stop).resume();
} else {
  await measure();
}

async function startChild(dir: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', self, '--serve', dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  process.once('exit', () => child.kill('SIGKILL'));
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const { url } = JSON.parse(line) as { url: string };
  const proc = (file: string) => fs.readFileSync(`/proc/${child.pid}/${file}`, 'utf8');
  return {
    client: new QdrantClient({ url, checkCompatibility: false }),
    rssBytes: () => Number(/VmRSS:\s+(\d+)/.exec(proc('status'))![1]) * 1024,
    cpuSeconds: () => {
      const f = proc('stat').split(') ')[1]!.split(' ');
      // utime + stime, in clock ticks (USER_HZ, 100 on Linux).
      return (Number(f[11]) + Number(f[12])) / 100;
    },
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

async function measure(): Promise<void> {
  const n = Number(args.points);
  const batch = Number(args.batch);
  const concurrency = Number(args.concurrency);
  const digits = Number(args.digits);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-store-measure-'));
  const out = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n');
  try {
    let server = await startChild(dir);
    const c = server.client;
    await c.createCollection('m', {
      vectors: {
        mrl_64: { size: 64, distance: 'Cosine', quantization_config: { scalar: { type: 'int8', always_ram: true } } },
        mrl_256: { size: 256, distance: 'Cosine' },
        mrl_1024: { size: 1024, distance: 'Cosine' },
      },
    });
    // clipstream's payload indexes (shared/store/schema.ts CORE_PAYLOAD_INDEXES) and UUID
    // point ids, so the memory figure is comparable with bench/store's.
    for (const field of ['modality', 'product_id', 'lang', 'source', 'content_hash']) {
      await c.createPayloadIndex('m', { wait: true, field_name: field, field_schema: 'keyword' });
    }
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff - 0.5;
    };
    const round = digits > 0 ? (x: number) => Number(x.toPrecision(digits)) : (x: number) => x;
    const vector = () => Array.from(new Float32Array(1024).map(random), round);
    let next = 0;
    const serverCpu0 = server.cpuSeconds();
    const clientCpu0 = process.cpuUsage();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (;;) {
          const from = next;
          next += batch;
          if (from >= n) return;
          const points = [];
          for (let i = from; i < Math.min(n, from + batch); i++) {
            const v = vector();
            points.push({
              id: pointId(`s3://bucket/items/${i}.jpg`),
              vector: { mrl_64: v.slice(0, 64), mrl_256: v.slice(0, 256), mrl_1024: v },
              payload: { modality: i % 2 ? 'image' : 'text', product_id: `p${i % 5000}`, lang: 'en', title: `item ${i}`, source: `s3://bucket/items/${i}.jpg`, content_hash: `h${i}`, indexed_at: new Date().toISOString() },
            });
          }
          await c.upsert('m', { wait: true, points });
        }
      }),
    );
    const wall = (performance.now() - started) / 1000;
    const serverCpu = server.cpuSeconds() - serverCpu0;
    const clientCpu = process.cpuUsage(clientCpu0);
    const vectorBytes = n * (64 + 256 + 1024) * 4;
    out({ metric: 'upsert', points: n, batch, concurrency, digits, pointsPerSecond: Math.round(n / wall), serverPointsPerCpuSecond: Math.round(n / serverCpu), clientCpuSeconds: Number(((clientCpu.user + clientCpu.system) / 1e6).toFixed(1)) });
    out({ metric: 'memory', serverRssMB: Math.round(server.rssBytes() / 1e6), rawVectorMB: Math.round(vectorBytes / 1e6), ratio: Number((server.rssBytes() / vectorBytes).toFixed(3)) });

    const q = vector();
    const time = async (f: () => Promise<unknown>) => {
      await f();
      const t = performance.now();
      for (let i = 0; i < 5; i++) await f();
      return (performance.now() - t) / 5;
    };
    const exact = await time(() => c.query('m', { query: q, using: 'mrl_1024', limit: 10 }));
    const c2f = await time(() =>
      c.query('m', { prefetch: { prefetch: { query: q.slice(0, 64), using: 'mrl_64', limit: 1000 }, query: q.slice(0, 256), using: 'mrl_256', limit: 100 }, query: q, using: 'mrl_1024', limit: 10 }),
    );
    out({ metric: 'query', exactMs: Number(exact.toFixed(1)), coarseToFineMs: Number(c2f.toFixed(1)), ratio: Number((c2f / exact).toFixed(3)) });

    await server.stop();
    const reopenStarted = performance.now();
    server = await startChild(dir);
    const reopenMs = performance.now() - reopenStarted;
    const count = (await server.client.count('m', {})).count;
    out({ metric: 'reopen', ms: Math.round(reopenMs), points: count });
    await server.stop();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
