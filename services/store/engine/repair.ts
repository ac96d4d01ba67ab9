/**
 * `clipstream store repair`: what to do with a data directory the store refuses to open. For
 * each collection log with damage in it, the damaged file is copied aside (under
 * `<data>/repair-<time>/`), every intact frame — before and after the damage — is written into
 * the next log generation (renumbered, in the current format), and the report says what could
 * not be recovered: where, how many bytes, how many frames (from the sequence numbers around the
 * damage), and which operation ids lie in the hole. A damaged aliases.json is moved aside (the
 * store then starts without aliases). A damaged meta.json cannot be rebuilt from the log (it
 * holds the vector configuration) and is reported for the operator to restore.
 */
import fs from 'node:fs';
import path from 'node:path';
import { StoreCorruptionError, StoreError } from './errors.ts';
import { FRAME_HEADER, frameHeader } from './frame.ts';
import { checkAliases, checkCollectionMeta, readJsonFile, writeJsonDurably } from './json-file.ts';
import { releaseLock, takeLock } from './lock.ts';
import { currentGeneration, fsyncDir, logName } from './log-files.ts';
import { scanLog, walkLog, type LogFormat } from './log-scan.ts';
import { decodeOp, opIdOf, opKindName } from './records.ts';

export interface LostStretch {
  offset: number;
  bytes: number;
  reason: string;
  /** Frames lost, from the sequence numbers on either side; null where they cannot tell. */
  framesLost: number | null;
  /** The operation ids not recovered lie strictly between these; null is open-ended. */
  operationsAfter: number | null;
  operationsBefore: number | null;
  /** What an intact header at the start of the stretch, and its body's first bytes, claimed. */
  damagedFrame?: { seq: number; bytes: number; kind?: string | undefined; operationId?: number | undefined; points?: number | undefined };
}

export interface CollectionRepair {
  /** From meta.json; null when that is what is damaged. */
  collection: string | null;
  dir: string;
  log: string | null;
  outcome: 'intact' | 'salvaged' | 'recreated-empty' | 'unrepairable';
  format?: LogFormat;
  bytesBefore: number;
  framesKept: number;
  bytesKept: number;
  lost: LostStretch[];
  /** Where the damaged file was copied before anything changed. */
  keptAt?: string;
  newLog?: string;
  problem?: string;
}

export interface AliasesRepair {
  outcome: 'absent' | 'intact' | 'moved-aside' | 'dangling-dropped';
  dropped?: Array<{ alias: string; collection: string }>;
  keptAt?: string;
  problem?: string;
}

export interface RepairReport {
  dataDir: string;
  dryRun: boolean;
  /** Copies of everything repair replaced; null when nothing needed replacing. */
  backupDir: string | null;
  collections: CollectionRepair[];
  aliases: AliasesRepair;
  /** The store opens after this repair (nothing left for an operator to restore). */
  ok: boolean;
}

interface SurveyedFrame {
  offset: number;
  bytes: number;
  seq: number | null;
  opId: number;
  decodes: boolean;
  decodeError?: string;
}

export function repairStore(dataDir: string, opts: { dryRun?: boolean | undefined; now?: Date } = {}): RepairReport {
  const dir = path.resolve(dataDir);
  const root = path.join(dir, 'collections');
  if (!fs.existsSync(root)) throw new StoreError(400, `${dir} is not a store data directory (it has no collections/ folder)`);
  takeLock(dir);
  try {
    const stamp = (opts.now ?? new Date()).toISOString().replace(/[:.]/g, '-');
    const backup = new Backup(path.join(dir, `repair-${stamp}`), !!opts.dryRun);
    const collections: CollectionRepair[] = [];
    const names = new Set<string>();
    for (const entry of fs.readdirSync(root).sort()) {
      const full = path.join(root, entry);
      if (entry.startsWith('.') || !fs.statSync(full).isDirectory()) continue;
      const result = repairCollection(full, backup, !!opts.dryRun);
      if (result.collection !== null) names.add(result.collection);
      collections.push(result);
    }
    const aliases = repairAliases(dir, names, backup, !!opts.dryRun);
    return {
      dataDir: dir,
      dryRun: !!opts.dryRun,
      backupDir: backup.used ? backup.dir : null,
      collections,
      aliases,
      ok: collections.every((c) => c.outcome !== 'unrepairable'),
    };
  } finally {
    releaseLock(dir);
  }
}

/** The folder damaged files are copied into, made on first use. */
class Backup {
  used = false;

  constructor(
    readonly dir: string,
    private readonly dryRun: boolean,
  ) {}

  /** Copies `file` to `<backup>/<sub>/<name>` durably; returns where. */
  keep(file: string, sub: string): string {
    const target = path.join(this.dir, sub, path.basename(file));
    this.used = true;
    if (this.dryRun) return target;
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(file, target, fs.constants.COPYFILE_EXCL);
    const fd = fs.openSync(target, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fsyncDir(path.dirname(target));
    fsyncDir(this.dir);
    return target;
  }
}

function repairCollection(dir: string, backup: Backup, dryRun: boolean): CollectionRepair {
  const base = { dir, log: null, bytesBefore: 0, framesKept: 0, bytesKept: 0, lost: [] as LostStretch[] };
  let collection: string;
  try {
    collection = readJsonFile<{ name: string }>(path.join(dir, 'meta.json'), checkCollectionMeta, '').name;
  } catch (err) {
    return {
      ...base,
      collection: null,
      outcome: 'unrepairable',
      problem: `${detailOf(err)} It holds the vector configuration, which the log does not: restore it from a backup, or move ${dir} out of the data directory to give the collection up`,
    };
  }
  const generation = currentGeneration(dir);
  if (generation === 0) {
    const file = path.join(dir, logName(1));
    if (!dryRun) {
      fs.closeSync(fs.openSync(file, 'wx'));
      fsyncDir(dir);
    }
    return { ...base, collection, outcome: 'recreated-empty', newLog: file, problem: 'the log was missing: every point of the collection is lost; it reopens empty' };
  }
  const file = path.join(dir, logName(generation));
  const fd = fs.openSync(file, 'r');
  let survey: ReturnType<typeof surveyLog>;
  try {
    survey = surveyLog(fd);
  } finally {
    fs.closeSync(fd);
  }
  const result: CollectionRepair = { ...base, collection, log: file, outcome: 'intact', format: survey.format, bytesBefore: survey.size };
  const kept = survey.frames.filter((f) => f.decodes);
  result.framesKept = kept.length;
  result.bytesKept = kept.reduce((n, f) => n + f.bytes, 0);
  result.lost = survey.lost;
  // Format 1 logs are migrated by the store itself when it opens them; intact ones stay as they are.
  if (survey.lost.length === 0) return result;

  result.outcome = 'salvaged';
  result.keptAt = backup.keep(file, path.basename(dir));
  const next = path.join(dir, logName(generation + 1));
  result.newLog = next;
  if (dryRun) return result;
  writeSalvage(file, next, kept, survey.format);
  fs.rmSync(file);
  fsyncDir(dir);
  return result;
}

/** Every frame and every damaged stretch of a log, with what the report needs about them. */
function surveyLog(fd: number): { format: LogFormat; size: number; frames: SurveyedFrame[]; lost: LostStretch[] } {
  const size = fs.fstatSync(fd).size;
  const frames: SurveyedFrame[] = [];
  /** Stretches, each with the index of the first frame after it (to look its neighbours up). */
  const pending: Array<{ stretch: LostStretch; nextFrame: number }> = [];
  const format = walkLog(fd, size, (e) => {
    if (e.type === 'gap') {
      const stretch: LostStretch = { offset: e.offset, bytes: e.bytes, reason: e.reason, framesLost: null, operationsAfter: null, operationsBefore: null };
      if (e.damagedFrame) {
        const claims = e.damagedFrame.claims;
        stretch.damagedFrame = {
          seq: e.damagedFrame.seq,
          bytes: FRAME_HEADER + e.damagedFrame.bodyLength,
          ...(claims ? { kind: opKindName(claims.kind), operationId: claims.opId, points: claims.count } : {}),
        };
      }
      pending.push({ stretch, nextFrame: frames.length });
      return;
    }
    const frame: SurveyedFrame = { offset: e.offset, bytes: e.bytes, seq: e.seq, opId: opIdOf(e.body), decodes: true };
    try {
      decodeOp(e.body);
    } catch (err) {
      // Its checksum holds, so the bytes are as written: an op this version cannot replay.
      frame.decodes = false;
      frame.decodeError = (err as Error).message;
      pending.push({
        stretch: { offset: e.offset, bytes: e.bytes, reason: `frame passes its checksum but does not decode (${frame.decodeError})`, framesLost: 1, operationsAfter: null, operationsBefore: null },
        nextFrame: frames.length + 1,
      });
    }
    frames.push(frame);
  });
  const lost = pending.map(({ stretch, nextFrame }) => {
    const before = lastDecodable(frames, nextFrame - 1, stretch.offset);
    const after = frames.slice(nextFrame).find((f) => f.decodes);
    stretch.operationsAfter = before?.opId ?? null;
    stretch.operationsBefore = after?.opId ?? null;
    // The sequence numbers around the stretch count what is missing; a trailing stretch has no
    // right-hand neighbour to count against.
    if (stretch.framesLost === null && format === 2) {
      const firstLost = before?.seq != null ? before.seq + 1 : (stretch.damagedFrame?.seq ?? null);
      if (firstLost !== null && after?.seq != null) stretch.framesLost = Math.max(0, after.seq - firstLost);
    }
    return stretch;
  });
  return { format, size, frames, lost };
}

/** The last frame before `offset` that will be kept (searching back from index `from`). */
function lastDecodable(frames: SurveyedFrame[], from: number, offset: number): SurveyedFrame | undefined {
  for (let i = Math.min(from, frames.length - 1); i >= 0; i--) if (frames[i]!.offset < offset && frames[i]!.decodes) return frames[i];
  return undefined;
}

/** Copies the kept frames into `target` (renumbered, format 2), durably, then checks it reads back whole. */
function writeSalvage(source: string, target: string, kept: SurveyedFrame[], format: LogFormat): void {
  const tmp = `${target}.tmp`;
  const src = fs.openSync(source, 'r');
  const out = fs.openSync(tmp, 'w');
  try {
    let seq = format === 2 ? (kept[0]?.seq ?? 1) : 1;
    let at = 0;
    let buf = Buffer.allocUnsafe(1024 * 1024);
    for (const f of kept) {
      const headerBytes = format === 2 ? FRAME_HEADER : 8;
      const bodyBytes = f.bytes - headerBytes;
      if (buf.length < bodyBytes) buf = Buffer.allocUnsafe(bodyBytes);
      const body = buf.subarray(0, bodyBytes);
      readFully(src, body, f.offset + headerBytes);
      writeFully(out, frameHeader(body, seq++), at);
      writeFully(out, body, at + FRAME_HEADER);
      at += FRAME_HEADER + bodyBytes;
    }
    fs.fdatasyncSync(out);
  } catch (err) {
    fs.closeSync(out);
    fs.rmSync(tmp, { force: true });
    throw err;
  } finally {
    fs.closeSync(src);
  }
  fs.closeSync(out);
  const check = fs.openSync(tmp, 'r');
  try {
    const scan = scanLog(check, () => {});
    if (scan.damage || scan.prefixFrames !== kept.length) throw new Error(`the salvaged log ${tmp} does not read back whole; nothing was replaced`);
  } finally {
    fs.closeSync(check);
  }
  fs.renameSync(tmp, target);
  fsyncDir(path.dirname(target));
}

function repairAliases(dir: string, collections: Set<string>, backup: Backup, dryRun: boolean): AliasesRepair {
  const file = path.join(dir, 'aliases.json');
  if (!fs.existsSync(file)) return { outcome: 'absent' };
  let saved: Record<string, string>;
  try {
    saved = readJsonFile<Record<string, string>>(file, checkAliases, '');
  } catch (err) {
    const keptAt = backup.keep(file, '.');
    if (!dryRun) {
      fs.rmSync(file);
      fsyncDir(dir);
    }
    return { outcome: 'moved-aside', keptAt, problem: `${detailOf(err)} The store starts without aliases: recreate them` };
  }
  const dropped = Object.entries(saved)
    .filter(([, target]) => !collections.has(target))
    .map(([alias, collection]) => ({ alias, collection }));
  if (dropped.length === 0) return { outcome: 'intact' };
  const keptAt = backup.keep(file, '.');
  if (!dryRun) writeJsonDurably(file, Object.fromEntries(Object.entries(saved).filter(([, target]) => collections.has(target))));
  return { outcome: 'dangling-dropped', dropped, keptAt };
}

function detailOf(err: unknown): string {
  const text = err instanceof StoreCorruptionError ? err.detail : (err as Error).message;
  return text.replace(/; refusing to open rather than start without it\. *$/, '.').trim();
}

function readFully(fd: number, buf: Buffer, position: number): void {
  let off = 0;
  while (off < buf.length) {
    const n = fs.readSync(fd, buf, off, buf.length - off, position + off);
    if (n === 0) throw new Error(`unexpected end of file at byte ${position + off}`);
    off += n;
  }
}

function writeFully(fd: number, buf: Uint8Array, position: number): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off, position + off);
}

/** The report as lines for a person at a terminal. */
export function describeRepair(report: RepairReport): string[] {
  const lines: string[] = [`store repair${report.dryRun ? ' (dry run: nothing changed)' : ''}: ${report.dataDir}`];
  for (const c of report.collections) {
    const name = c.collection === null ? path.basename(c.dir) : `collection \`${c.collection}\``;
    const log = c.log ? path.relative(report.dataDir, c.log) : '(no log)';
    switch (c.outcome) {
      case 'intact':
        lines.push(`${name}: intact (${log}, ${c.framesKept} frames, ${c.bytesKept} bytes${c.format === 1 ? ', format 1: migrated when the store opens it' : ''})`);
        break;
      case 'unrepairable':
      case 'recreated-empty':
        lines.push(`${name}: ${c.outcome === 'unrepairable' ? 'NOT REPAIRED' : 'reopened empty'}: ${c.problem}`);
        break;
      case 'salvaged': {
        const lostBytes = c.lost.reduce((n, s) => n + s.bytes, 0);
        lines.push(`${name}: ${log} (${c.bytesBefore} bytes, format ${c.format}) had ${c.lost.length} damaged stretch(es), ${lostBytes} bytes lost`);
        for (const s of c.lost) lines.push(`  lost: ${describeStretch(s)}`);
        lines.push(`  salvaged: ${c.framesKept} intact frame(s), ${c.bytesKept} bytes, into ${c.newLog ? path.relative(report.dataDir, c.newLog) : '?'}`);
        lines.push(`  the damaged file is kept at ${c.keptAt}`);
        break;
      }
    }
  }
  const a = report.aliases;
  if (a.outcome === 'moved-aside') lines.push(`aliases.json: moved aside to ${a.keptAt}: ${a.problem}`);
  else if (a.outcome === 'dangling-dropped') lines.push(`aliases.json: dropped aliases of missing collections: ${a.dropped!.map((d) => `${d.alias} → ${d.collection}`).join(', ')} (the old file is kept at ${a.keptAt})`);
  else lines.push(`aliases.json: ${a.outcome}`);
  lines.push(report.ok ? (report.dryRun ? 'a repair would let the store open' : 'the store opens again') : 'the store still does not open: see NOT REPAIRED above');
  return lines;
}

function describeStretch(s: LostStretch): string {
  const parts = [`bytes ${s.offset}..${s.offset + s.bytes} (${s.bytes} bytes): ${s.reason}`];
  parts.push(s.framesLost === null ? 'frames lost: unknown' : `${s.framesLost} frame(s) lost`);
  const ops =
    s.operationsAfter === null && s.operationsBefore === null
      ? 'operations not recovered: unknown'
      : `operations after #${s.operationsAfter ?? '(start)'} and before #${s.operationsBefore ?? '(end)'} not recovered`;
  parts.push(ops);
  const d = s.damagedFrame;
  if (d) parts.push(`the damaged frame (seq ${d.seq}, ${d.bytes} bytes)${d.kind ? ` claims: ${d.kind}${d.points !== undefined && (d.kind === 'upsert' || d.kind === 'update_vectors') ? ` of ${d.points} point(s)` : ''}, operation #${d.operationId}` : ''}`);
  return parts.join('; ');
}
