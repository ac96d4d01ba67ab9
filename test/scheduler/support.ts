/**
 * What the scheduler tests share: the firings a scheduler reports, awaited one by one; waiting
 * for a run record to appear; the CLI and long-running CLI processes as children; a records file
 * that is a named pipe, so a run that reads it goes on until the test writes it.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Firing } from '../../services/scheduler/fire.ts';
import type { RunLog, RunRecord } from '../../shared/state/types.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = path.join(REPO_ROOT, 'bin/clipstream.mjs');
export const TEST_MODEL_DIR = path.join(REPO_ROOT, 'models/test-tiny');

/** Collects the firings a scheduler reports (`onFired`) and hands them out as they come. */
export class Firings {
  readonly all: Firing[] = [];
  private waiters: Array<{ match: (f: Firing) => boolean; resolve: (f: Firing) => void }> = [];

  readonly onFired = (firing: Firing): void => {
    this.all.push(firing);
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(firing)) return true;
      w.resolve(firing);
      return false;
    });
  };

  /** The next firing (from now on, or from index `from` of `all`) that matches. */
  next(match: (f: Firing) => boolean, options: { timeoutMs?: number; from?: number; what?: string } = {}): Promise<Firing> {
    const from = options.from ?? this.all.length;
    const seen = this.all.slice(from).find(match);
    if (seen) return Promise.resolve(seen);
    return withTimeout(
      new Promise<Firing>((resolve) => this.waiters.push({ match, resolve })),
      options.timeoutMs ?? 60_000,
      () => `no firing ${options.what ?? ''} within the time; seen: ${JSON.stringify(this.all.slice(from))}`,
    );
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message())), ms);
    }),
  ]);
}

/**
 * Resolves with the first run record that matches, read back every `intervalMs` (for runs made
 * by another process, which reports nothing else).
 */
export async function waitForRun(runs: RunLog, match: (r: RunRecord) => boolean, options: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<RunRecord> {
  const deadline = Date.now() + (options.timeoutMs ?? 90_000);
  for (;;) {
    const last = await runs.list(50);
    const found = last.find(match);
    if (found) return (await runs.read(found.id)) ?? found;
    if (Date.now() > deadline) throw new Error(`no run record ${options.what ?? ''} appeared; recent: ${JSON.stringify(last.map((r) => [r.id, r.trigger, r.state, r.outcome, r.error]))}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 200));
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `clipstream <args>` to its end (asynchronously: the test process goes on serving its stores meanwhile). */
export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A long-running `clipstream <args>` (serve, scheduler), its output kept for messages. */
export class CliProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  private readonly exited: Promise<number | null>;

  constructor(args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [CLI, ...args], { env, cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d) => (this.stdout += d));
    this.child.stderr!.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the first match of `pattern` in stdout; rejects if the process exits first. */
  waitForOutput(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
    return withTimeout(
      new Promise<RegExpMatchArray>((resolve, reject) => {
        const check = () => {
          const m = this.stdout.match(pattern);
          if (m) {
            this.child.stdout!.off('data', check);
            resolve(m);
          }
        };
        this.child.stdout!.on('data', check);
        void this.exited.then((code) => reject(new Error(`exited (${code}) before printing ${pattern}:\n${this.stdout}\n${this.stderr}`)));
        check();
      }),
      timeoutMs,
      () => `no ${pattern} within ${timeoutMs} ms:\n${this.stdout}\n${this.stderr}`,
    );
  }

  /** Sends `signal` and resolves with the exit code (-1: killed by the signal). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }
}

/**
 * A records file that is a named pipe: a run listing it waits in `open` until `release` writes
 * the lines, so the run is long for exactly as long as the test wants.
 */
export class SlowRecordsFile {
  private released = false;

  constructor(readonly path: string) {
    execFileSync('mkfifo', [path]);
  }

  /** Writes the records (opening blocks, off the event loop, until the run has the file open). */
  async release(lines: ReadonlyArray<Record<string, unknown>>): Promise<void> {
    this.released = true;
    await fs.promises.writeFile(this.path, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  }

  /** Unblocks a reader still waiting (a failed test), so the process can exit. */
  close(): void {
    if (!this.released) {
      try {
        fs.closeSync(fs.openSync(this.path, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
      } catch {
        // ENXIO: nobody is reading it.
      }
    }
    fs.rmSync(this.path, { force: true });
  }
}

/** The environment for a child process: this one's, minus what the tests set themselves. */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['REDIS_URL', 'QUEUE_PREFIX', 'QDRANT_URL', 'QDRANT_COLLECTION', 'DATA_DIR', 'API_KEY']) delete base[name];
  // info: the assertions read the processes' own log lines (LOG_LEVEL governs every process log).
  return { ...base, MODEL_DIR: TEST_MODEL_DIR, LOG_LEVEL: 'info', ...env };
}
