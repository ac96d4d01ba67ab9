/**
 * Damage to the store's files, as a disk or a careless operator does it: bytes overwritten in
 * the middle of a log are refused (the file left byte for byte as it was) instead of being taken
 * for a torn tail and cut off with everything after them; `store repair` salvages what follows
 * and says what was lost; a torn tail is still dropped quietly; logs written in the old frame
 * format open and are migrated; a damaged meta.json or aliases.json is refused, not reset.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { Store } from '../../services/store/engine/store.ts';
import { StoreCorruptionError } from '../../services/store/engine/errors.ts';
import { FRAME_HEADER, FRAME_MAGIC } from '../../services/store/engine/frame.ts';
import { walkLog } from '../../services/store/engine/log-scan.ts';
import { encodeOp, type PointOp } from '../../services/store/engine/records.ts';
import { repairStore } from '../../services/store/engine/repair.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'clipstream-corrupt-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const WAIT = { wait: true };
const BATCHES = 12;
const PER_BATCH = 25;
/** Same shape for every point, so every batch's frame has the same length. */
const point = (id: number) => ({ id, vector: [Math.sin(id), Math.cos(id), (id % 7) / 7, 1], payload: { id, tag: `t${id % 3}`, pad: 'x'.repeat(40) } });

async function seeded(dir: string): Promise<void> {
  const store = Store.open(dir);
  store.createCollection('c', { vectors: { size: 4, distance: 'Dot' } });
  for (let b = 0; b < BATCHES; b++) {
    await store.upsert('c', { points: Array.from({ length: PER_BATCH }, (_, i) => point(b * PER_BATCH + i + 1)) }, WAIT);
  }
  await store.close();
}

function collectionDir(dir: string): string {
  const [c] = fs.readdirSync(path.join(dir, 'collections'));
  return path.join(dir, 'collections', c!);
}

function logFile(dir: string): string {
  const cdir = collectionDir(dir);
  const [log] = fs.readdirSync(cdir).filter((f) => /^points-\d{8}\.log$/.test(f));
  return path.join(cdir, log!);
}

function frames(file: string): Array<{ offset: number; bytes: number; seq: number | null }> {
  const out: Array<{ offset: number; bytes: number; seq: number | null }> = [];
  const fd = fs.openSync(file, 'r');
  try {
    walkLog(fd, fs.fstatSync(fd).size, (e) => {
      if (e.type === 'frame') out.push({ offset: e.offset, bytes: e.bytes, seq: e.seq });
      else throw new Error(`unexpected damage at ${e.offset}: ${e.reason}`);
    });
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

function overwrite(file: string, offset: number, bytes: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, bytes, 0, bytes.length, offset);
  fs.closeSync(fd);
}

function refusal(dir: string): StoreCorruptionError {
  let caught: unknown;
  try {
    Store.open(dir);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof StoreCorruptionError, `expected a corruption refusal, got ${String(caught)}`);
  assert.equal(fs.existsSync(path.join(dir, 'store.lock')), false, 'a refused open leaves no lock behind');
  return caught;
}

describe('store log corruption', () => {
  it('refuses a log damaged in the middle, naming the file, the offset and the frames after it, and leaves it byte-identical', async () => {
    const dir = tempDir();
    await seeded(dir);
    const file = logFile(dir);
    const all = frames(file);
    assert.equal(all.length, BATCHES);
    const victim = all[5]!;
    // The acceptance drill: four 0xff bytes in the middle of a frame's body.
    overwrite(file, victim.offset + FRAME_HEADER + 100, Buffer.from([0xff, 0xff, 0xff, 0xff]));
    const before = { hash: sha(file), size: fs.statSync(file).size, mtime: fs.statSync(file).mtimeMs, listing: fs.readdirSync(collectionDir(dir)).sort() };

    const err = refusal(dir);
    assert.equal(err.file, file);
    assert.match(err.message, new RegExp(`damaged at byte ${victim.offset}\\b`));
    assert.match(err.message, /frame body checksum mismatch/);
    assert.match(err.message, new RegExp(`${BATCHES - 6} intact frame\\(s\\)`));
    assert.match(err.message, /store repair --data/);
    assert.ok(err.message.includes(file), 'the message names the file');
    assert.equal(sha(file), before.hash, 'not a byte changed');
    assert.equal(fs.statSync(file).size, before.size);
    assert.equal(fs.statSync(file).mtimeMs, before.mtime);
    assert.deepEqual(fs.readdirSync(collectionDir(dir)).sort(), before.listing, 'nothing added or removed beside it');
    // And again: a second attempt is refused the same way, the file still untouched.
    refusal(dir);
    assert.equal(sha(file), before.hash);
  });

  it('refuses a damaged frame header (marker, length) the same way', async () => {
    const dir = tempDir();
    await seeded(dir);
    const file = logFile(dir);
    const all = frames(file);
    overwrite(file, all[3]!.offset + 4, Buffer.from([0xff, 0xff, 0xff, 0xff])); // the length field
    const hash = sha(file);
    assert.match(refusal(dir).message, new RegExp(`damaged at byte ${all[3]!.offset} .*header checksum mismatch.* ${BATCHES - 4} intact frame`));
    overwrite(file, all[3]!.offset, Buffer.alloc(8)); // marker and length zeroed
    assert.match(refusal(dir).message, /no frame marker/);
    assert.notEqual(sha(file), hash);
  });

  it('refuses intact frames out of sequence (a misplaced block of the file)', async () => {
    const dir = tempDir();
    await seeded(dir);
    const file = logFile(dir);
    const all = frames(file);
    assert.equal(all[4]!.bytes, all[5]!.bytes, 'same-shaped batches give same-sized frames');
    const bytes = fs.readFileSync(file);
    const a = Buffer.from(bytes.subarray(all[4]!.offset, all[4]!.offset + all[4]!.bytes));
    const b = Buffer.from(bytes.subarray(all[5]!.offset, all[5]!.offset + all[5]!.bytes));
    overwrite(file, all[4]!.offset, b);
    overwrite(file, all[5]!.offset, a);
    assert.match(refusal(dir).message, /frame sequence jumps from \d+ to \d+/);
  });

  it('repair copies the damaged log aside, salvages every intact frame after the damage and says what was lost', async () => {
    const dir = tempDir();
    await seeded(dir);
    const file = logFile(dir);
    const all = frames(file);
    const victim = all[5]!;
    overwrite(file, victim.offset + FRAME_HEADER + 100, Buffer.from([0xff, 0xff, 0xff, 0xff]));
    const damaged = fs.readFileSync(file);

    const dry = repairStore(dir, { dryRun: true });
    assert.equal(dry.collections[0]!.outcome, 'salvaged');
    assert.equal(sha(file), createHash('sha256').update(damaged).digest('hex'), 'a dry run changes nothing');
    assert.equal(dry.backupDir !== null && fs.existsSync(dry.backupDir), false);

    const report = repairStore(dir);
    assert.equal(report.ok, true);
    const c = report.collections[0]!;
    assert.equal(c.collection, 'c');
    assert.equal(c.outcome, 'salvaged');
    assert.equal(c.framesKept, BATCHES - 1);
    assert.equal(c.lost.length, 1);
    const lost = c.lost[0]!;
    assert.equal(lost.offset, victim.offset);
    assert.equal(lost.bytes, victim.bytes);
    assert.equal(lost.framesLost, 1);
    assert.match(lost.reason, /body checksum/);
    // Operation ids: the collection's creation took none; batch k (from 0) is operation k + 1.
    assert.equal(lost.operationsAfter, 5);
    assert.equal(lost.operationsBefore, 7);
    assert.deepEqual(lost.damagedFrame, { seq: victim.seq, bytes: victim.bytes, kind: 'upsert', operationId: 6, points: PER_BATCH });
    assert.ok(c.keptAt && fs.readFileSync(c.keptAt).equals(damaged), 'the damaged file is kept, byte for byte');
    assert.equal(fs.existsSync(file), false, 'the damaged generation is replaced');
    assert.ok(c.newLog && fs.existsSync(c.newLog));

    const store = Store.open(dir);
    assert.equal(store.count('c', {}).count, (BATCHES - 1) * PER_BATCH);
    const lostIds = Array.from({ length: PER_BATCH }, (_, i) => 5 * PER_BATCH + i + 1);
    assert.deepEqual(store.retrieve('c', { ids: lostIds }), [], 'the damaged batch is gone');
    const after = store.retrieve('c', { ids: [BATCHES * PER_BATCH], with_vector: true, with_payload: true }) as Array<{ payload: unknown; vector: number[] }>;
    assert.deepEqual(after[0]!.payload, point(BATCHES * PER_BATCH).payload, 'frames after the damage are back');
    await store.upsert('c', { points: [point(10_000)] }, WAIT);
    await store.close();
    const again = Store.open(dir);
    assert.equal(again.count('c', {}).count, (BATCHES - 1) * PER_BATCH + 1);
    await again.close();
  });

  it('drops a torn tail as before: an incomplete last frame, or a bad one with nothing intact after it', async () => {
    const dir = tempDir();
    await seeded(dir);
    const file = logFile(dir);
    const all = frames(file);
    const intact = fs.statSync(file).size;
    // The write in flight at a crash: a header and part of a body.
    const bytes = fs.readFileSync(file);
    fs.appendFileSync(file, bytes.subarray(all[0]!.offset, all[0]!.offset + FRAME_HEADER + 30));
    let store = Store.open(dir);
    assert.equal(store.count('c', {}).count, BATCHES * PER_BATCH);
    assert.equal(fs.statSync(file).size, intact);
    await store.close();

    // The last frame damaged, nothing after it: indistinguishable from a torn write, dropped.
    overwrite(file, all[BATCHES - 1]!.offset + FRAME_HEADER + 8, Buffer.from([0xde, 0xad]));
    store = Store.open(dir);
    assert.equal(store.count('c', {}).count, (BATCHES - 1) * PER_BATCH);
    assert.equal(fs.statSync(file).size, all[BATCHES - 1]!.offset);
    await store.upsert('c', { points: [point(10_000)] }, WAIT);
    await store.close();
    store = Store.open(dir);
    assert.equal(store.count('c', {}).count, (BATCHES - 1) * PER_BATCH + 1, 'writes after the cut continue the sequence');
    await store.close();
  });

  it('opens a log written in the old frame format and migrates it; refuses one damaged in the middle', async () => {
    const dir = tempDir();
    const store = Store.open(dir);
    store.createCollection('c', { vectors: { size: 4, distance: 'Dot' } });
    await store.close();
    const file = logFile(dir);
    const ops: PointOp[] = [];
    for (let b = 0; b < 6; b++) {
      ops.push({ kind: 'upsert', points: Array.from({ length: 10 }, (_, i) => ({ id: b * 10 + i + 1, version: b + 1, payload: { b }, vectors: [['', Float32Array.of(b, i, 1, 0)]] })) });
    }
    ops.push({ kind: 'delete', ids: [1, 2] });
    ops.push({ kind: 'set_payload', ids: [3], payload: { note: 'kept' }, key: null });
    fs.writeFileSync(file, Buffer.concat(ops.map((op, i) => legacyFrame(encodeOp(op, i + 1)))));
    const legacy = Buffer.from(fs.readFileSync(file));

    // Damaged in the middle: refused like a current-format log, untouched.
    const damaged = Buffer.from(legacy);
    const second = 8 + damaged.readUInt32LE(0);
    damaged.writeUInt8(damaged.readUInt8(second + 8 + 40) ^ 0xff, second + 8 + 40);
    fs.writeFileSync(file, damaged);
    assert.match(refusal(dir).message, new RegExp(`damaged at byte ${second} .*frame checksum mismatch.* 6 intact frame`));
    assert.ok(fs.readFileSync(file).equals(damaged));

    fs.writeFileSync(file, legacy);
    const opened = Store.open(dir);
    assert.equal(opened.count('c', {}).count, 58);
    assert.deepEqual((opened.retrieve('c', { ids: [3] }) as Array<{ payload: unknown }>)[0]!.payload, { b: 0, note: 'kept' });
    await opened.close();
    const migrated = logFile(dir);
    assert.notEqual(migrated, file, 'rewritten into the next generation');
    assert.equal(fs.existsSync(file), false);
    assert.ok(fs.readFileSync(migrated).subarray(0, 4).equals(FRAME_MAGIC), 'in the current format');
    assert.ok(frames(migrated).every((f) => f.seq !== null));
    const reopened = Store.open(dir);
    assert.equal(reopened.count('c', {}).count, 58);
    assert.deepEqual(reopened.retrieve('c', { ids: [60], with_vector: true }), [{ id: 60, payload: { b: 5 }, vector: [5, 9, 1, 0] }]);
    await reopened.close();
  });

  it('repairs a damaged log in the old format into the current one', async () => {
    const dir = tempDir();
    const store = Store.open(dir);
    store.createCollection('c', { vectors: { size: 4, distance: 'Dot' } });
    await store.close();
    const file = logFile(dir);
    // encodeOp answers in a shared buffer: each body is copied before the next encode.
    const bodies = Array.from({ length: 5 }, (_, b) =>
      Buffer.from(encodeOp({ kind: 'upsert', points: [{ id: b + 1, version: b + 1, payload: null, vectors: [['', Float32Array.of(b, 0, 0, 1)]] }] }, b + 1)),
    );
    const bytes = Buffer.concat(bodies.map(legacyFrame));
    const third = 2 * (8 + bodies[0]!.length);
    bytes.fill(0x55, third, third + 12);
    fs.writeFileSync(file, bytes);
    const report = repairStore(dir);
    const c = report.collections[0]!;
    assert.equal(c.format, 1);
    assert.equal(c.framesKept, 4);
    assert.equal(c.lost[0]!.offset, third);
    assert.equal(c.lost[0]!.framesLost, null, 'the old format has no sequence numbers to count with');
    assert.equal(c.lost[0]!.operationsAfter, 2);
    assert.equal(c.lost[0]!.operationsBefore, 4);
    const opened = Store.open(dir);
    assert.deepEqual((opened.scroll('c', {}).points as Array<{ id: number }>).map((p) => p.id), [1, 2, 4, 5]);
    await opened.close();
  });

  it('refuses a damaged or missing meta.json, a damaged aliases.json and a missing log, never resetting them', async () => {
    const dir = tempDir();
    await seeded(dir);
    const s = Store.open(dir);
    s.updateAliases({ actions: [{ create_alias: { collection_name: 'c', alias_name: 'live' } }] });
    await s.close();
    const meta = path.join(collectionDir(dir), 'meta.json');
    const aliases = path.join(dir, 'aliases.json');
    const metaText = fs.readFileSync(meta, 'utf8');
    const aliasText = fs.readFileSync(aliases, 'utf8');

    fs.writeFileSync(meta, metaText.slice(0, metaText.length / 2));
    let err = refusal(dir);
    assert.equal(err.file, meta);
    assert.match(err.message, /meta\.json is damaged/);
    assert.equal(fs.readFileSync(meta, 'utf8'), metaText.slice(0, metaText.length / 2));
    fs.writeFileSync(meta, metaText.replace('"Dot"', '"Dott"'));
    assert.match(refusal(dir).message, /vectors\.\.distance is not a distance/);
    const repairMeta = repairStore(dir);
    assert.equal(repairMeta.ok, false);
    assert.equal(repairMeta.collections[0]!.outcome, 'unrepairable');
    assert.match(repairMeta.collections[0]!.problem!, /restore it from a backup/);
    fs.rmSync(meta);
    assert.match(refusal(dir).message, /cannot read .*meta\.json/);
    fs.writeFileSync(meta, metaText);

    fs.writeFileSync(aliases, '{"live": ');
    err = refusal(dir);
    assert.equal(err.file, aliases);
    fs.writeFileSync(aliases, '{"live": "no-such-collection"}');
    assert.match(refusal(dir).message, /alias `live` points to collection `no-such-collection`/);
    fs.writeFileSync(aliases, '{"live": ');
    const repaired = repairStore(dir);
    assert.equal(repaired.aliases.outcome, 'moved-aside');
    assert.equal(fs.readFileSync(repaired.aliases.keptAt!, 'utf8'), '{"live": ');
    const opened = Store.open(dir);
    assert.deepEqual(opened.listAliases(), { aliases: [] });
    await opened.close();
    fs.writeFileSync(aliases, aliasText);

    const log = logFile(dir);
    fs.renameSync(log, path.join(dir, 'elsewhere.log'));
    assert.match(refusal(dir).message, /log file .* is missing/);
  });

  it('store serve refuses with the reason and exit status 2; store repair reports and lets it open', async () => {
    const dir = tempDir();
    await seeded(dir);
    const file = logFile(dir);
    const all = frames(file);
    overwrite(file, all[2]!.offset + FRAME_HEADER + 64, Buffer.from([0xff, 0xff, 0xff, 0xff]));
    const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'bin', 'clipstream.mjs'), 'store', ...args], { encoding: 'utf8', timeout: 60_000 });

    const serve = cli('serve', '--data', dir, '--port', '0');
    assert.equal(serve.status, 2, serve.stderr);
    assert.match(serve.stderr, /^clipstream: corrupted log refused: collection `c`'s log is damaged at byte \d+/m);
    assert.match(serve.stderr, new RegExp(`${BATCHES - 3} intact frame`));

    const repair = cli('repair', '--data', dir);
    assert.equal(repair.status, 0, repair.stderr);
    assert.match(repair.stdout, /collection `c`: .* had 1 damaged stretch\(es\), \d+ bytes lost/);
    assert.match(repair.stdout, /lost: bytes \d+\.\.\d+ .*1 frame\(s\) lost; operations after #2 and before #4 not recovered; the damaged frame .* claims: upsert of 25 point\(s\), operation #3/);
    assert.match(repair.stdout, new RegExp(`salvaged: ${BATCHES - 1} intact frame`));
    assert.match(repair.stdout, /the store opens again/);

    const json = cli('repair', '--data', dir, '--json', '--dry-run');
    assert.equal(json.status, 0);
    assert.equal((JSON.parse(json.stdout) as { collections: Array<{ outcome: string }> }).collections[0]!.outcome, 'intact');
  });
});

/** The frame format before markers and sequence numbers: [u32 length][u32 crc32][body]. */
function legacyFrame(body: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(body.length, 0);
  header.writeUInt32LE(crc32(body), 4);
  return Buffer.concat([header, body]);
}
