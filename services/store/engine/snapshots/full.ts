/**
 * Full snapshots (`/snapshots`): every collection and the aliases at once, as
 * `<data>/snapshots/full-snapshot-<YYYY-MM-DD-HH-MM-SS>.snapshot` with a `.checksum` beside it.
 * The file is a tar of `manifest.json` (format, version, creation time, the aliases, and for
 * each collection its name, entry, size and sha256) and one collection snapshot per collection
 * (`collections/<n>.snapshot`, the format of archive.ts), each taken at its own log position.
 * As in Qdrant, a full snapshot is restored offline — `clipstream store snapshot recover-full
 * --data DIR --from FILE` — never over the REST API.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tar from 'tar';
import type { Collection } from '../collection.ts';
import { badRequest, notFound, storageError } from '../errors.ts';
import { fsyncDir } from '../log-files.ts';
import { sha256File } from './archive.ts';
import { checkSnapshotName, CHECKSUM_SUFFIX, describe, stamp, SUFFIX, writeTextDurably, type CollectionSnapshots, type SnapshotDescription } from './index.ts';

const FULL_SNAPSHOT_FORMAT = 'clipstream-store-full-snapshot';
const VERSION = 1;
const MANIFEST = 'manifest.json';

interface FullManifest {
  format: typeof FULL_SNAPSHOT_FORMAT;
  version: number;
  created: string;
  aliases: Record<string, string>;
  collections: Array<{ name: string; entry: string; size: number; sha256: string }>;
}

export interface FullSnapshotHost {
  readonly dataDir: string;
  readonly snapshots: CollectionSnapshots;
  collectionList(): Collection[];
  aliasMap(): Record<string, string>;
  /** Sets these aliases (replacing any of the same name). */
  restoreAliases(aliases: Record<string, string>): void;
}

export class FullSnapshots {
  constructor(private readonly host: FullSnapshotHost) {}

  private get root(): string {
    return path.join(this.host.dataDir, 'snapshots');
  }

  async create(): Promise<SnapshotDescription> {
    const created = new Date();
    const name = `full-snapshot-${stamp(created)}${SUFFIX}`;
    fs.mkdirSync(this.root, { recursive: true });
    const staging = fs.mkdtempSync(path.join(this.root, '.tmp-full-'));
    try {
      const collections: FullManifest['collections'] = [];
      fs.mkdirSync(path.join(staging, 'collections'));
      const list = this.host.collectionList();
      for (let i = 0; i < list.length; i++) {
        const entry = `collections/${i}${SUFFIX}`;
        const file = path.join(staging, entry);
        await this.host.snapshots.writeArchive(list[i]!, file, created);
        collections.push({ name: list[i]!.name, entry, size: fs.statSync(file).size, sha256: await sha256File(file) });
      }
      const manifest: FullManifest = { format: FULL_SNAPSHOT_FORMAT, version: VERSION, created: created.toISOString(), aliases: this.host.aliasMap(), collections };
      fs.writeFileSync(path.join(staging, MANIFEST), JSON.stringify(manifest, null, 2));
      const archive = path.join(staging, 'full.tar');
      await tar.create({ cwd: staging, file: archive, portable: true, mtime: created }, [MANIFEST, ...collections.map((c) => c.entry)]);
      writeTextDurably(path.join(this.root, name + CHECKSUM_SUFFIX), await sha256File(archive));
      fs.renameSync(archive, path.join(this.root, name));
      fsyncDir(this.root);
      return describe(this.root, name);
    } catch (err) {
      if (!fs.existsSync(path.join(this.root, name))) fs.rmSync(path.join(this.root, name + CHECKSUM_SUFFIX), { force: true });
      throw storageError(err, path.join(this.root, name));
    } finally {
      fs.rmSync(staging, { recursive: true, force: true });
    }
  }

  list(): SnapshotDescription[] {
    if (!fs.existsSync(this.root)) return [];
    return fs
      .readdirSync(this.root)
      .filter((n) => n.endsWith(SUFFIX) && !n.startsWith('.') && fs.statSync(path.join(this.root, n)).isFile())
      .sort()
      .map((n) => describe(this.root, n));
  }

  file(name: string): { file: string; size: number } {
    const file = this.existing(name);
    return { file, size: fs.statSync(file).size };
  }

  delete(name: string): boolean {
    const file = this.existing(name);
    fs.rmSync(file);
    fs.rmSync(file + CHECKSUM_SUFFIX, { force: true });
    fsyncDir(this.root);
    return true;
  }

  private existing(name: string): string {
    checkSnapshotName(name);
    const file = path.join(this.root, name);
    if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw notFound(`Snapshot ${name} not found`);
    return file;
  }

  /**
   * Restores every collection of a full snapshot (replacing those of the same name; others are
   * left alone) and its aliases. Each collection is checked against the manifest first.
   */
  async recover(file: string): Promise<{ collections: string[]; aliases: number }> {
    const refuse = (why: string) => badRequest(`full snapshot ${file} cannot be recovered: ${why}`);
    fs.mkdirSync(this.root, { recursive: true });
    const staging = fs.mkdtempSync(path.join(this.root, '.tmp-recover-full-'));
    try {
      try {
        await tar.extract({ file, cwd: staging, strict: true, filter: (p, e) => 'type' in e && e.type === 'File' && (p === MANIFEST || /^collections\/\d+\.snapshot$/.test(p)) });
      } catch (err) {
        throw refuse(`it is not a readable tar archive (${(err as Error).message})`);
      }
      const manifestFile = path.join(staging, MANIFEST);
      if (!fs.existsSync(manifestFile)) throw refuse(`it has no ${MANIFEST}`);
      const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as FullManifest;
      if (manifest.format !== FULL_SNAPSHOT_FORMAT) throw refuse(`${MANIFEST} names format ${JSON.stringify(manifest.format)}, not ${FULL_SNAPSHOT_FORMAT} (a collection snapshot is recovered with \`recover\`)`);
      if (manifest.version !== VERSION) throw refuse(`it is format version ${manifest.version}; this store reads version ${VERSION}`);
      for (const c of manifest.collections) {
        const f = path.join(staging, c.entry);
        if (!fs.existsSync(f)) throw refuse(`${c.entry} (collection ${c.name}) is missing`);
        const sum = await sha256File(f);
        if (sum !== c.sha256) throw refuse(`${c.entry} (collection ${c.name}) has sha256 ${sum}, the manifest says ${c.sha256} (the file is damaged)`);
      }
      for (const c of manifest.collections) await this.host.snapshots.recoverFromFile(c.name, path.join(staging, c.entry), c.sha256, `${file} (${c.entry})`);
      this.host.restoreAliases(manifest.aliases ?? {});
      return { collections: manifest.collections.map((c) => c.name), aliases: Object.keys(manifest.aliases ?? {}).length };
    } finally {
      fs.rmSync(staging, { recursive: true, force: true });
    }
  }
}
