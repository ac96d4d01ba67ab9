/**
 * Fetching one file of a Hugging Face repository the way the hub serves it: `/resolve/` answers
 * with the size and content hash of LFS files in `X-Linked-Size` / `X-Linked-Etag` on a redirect
 * to a CDN (sometimes a relative redirect first, for renamed repos), small files directly.
 *
 * The body is streamed into `<dest>.incomplete`; an interrupted transfer resumes with `Range`,
 * a sidecar `<dest>.incomplete.json` remembers which remote version the partial bytes belong to,
 * and only a file of the announced size (and sha256, when the hub gives one) is renamed into place.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ClipstreamError } from '../errors.ts';
import { retry, type BackoffPolicy } from '../retry.ts';

export interface HubFileRef {
  endpoint: string;
  repo: string;
  revision: string;
  /** Path inside the repository, e.g. `onnx/model_fp16.onnx`. */
  path: string;
  token?: string | undefined;
}

/** What the hub says about a file before any byte of it is fetched. */
export interface RemoteFileInfo {
  size: number;
  /** `X-Linked-Etag` (LFS: the sha256 of the content) or `ETag`, without quotes. */
  etag?: string | undefined;
  /** Set when the etag is a sha256 the content can be checked against. */
  sha256?: string | undefined;
  /** `X-Repo-Commit`: the commit the revision pointed at. */
  commit?: string | undefined;
}

/** Tries per request, the first included. */
const DEFAULT_DOWNLOAD_RETRY: BackoffPolicy = { maxAttempts: 6, baseDelayMs: 500, maxDelayMs: 15_000 };

export interface DownloadOptions {
  signal?: AbortSignal | undefined;
  retry?: Partial<BackoffPolicy> | undefined;
  /** A transfer that delivers no byte for this long is abandoned and resumed. */
  stallTimeoutMs?: number | undefined;
  /** Bytes of this file now on disk (absolute, not a delta); may go down when a server forces a restart. */
  onBytes?: ((fileBytes: number) => void) | undefined;
}

const MAX_REDIRECTS = 10;
const DEFAULT_STALL_TIMEOUT_MS = 60_000;

export function hubFileUrl(endpoint: string, repo: string, revision: string, filePath: string): string {
  // A revision such as `refs/pr/1` is one path segment on the hub, so its slashes are escaped.
  const encodedPath = filePath.split('/').map(encodeURIComponent).join('/');
  return `${endpoint.replace(/\/+$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}/${encodedPath}`;
}

/** A failure worth retrying (5xx, 429, reset or refused connections, stalls) or not (4xx, bad size). */
class TransferError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
    readonly status?: number,
    readonly hubErrorCode?: string,
  ) {
    super(message);
  }
}

/** Raised to the caller: the hub answered, and the answer was no (401/403/404...). */
export class HubHttpError extends ClipstreamError {
  constructor(
    readonly status: number,
    readonly hubErrorCode: string | undefined,
    ref: HubFileRef,
    reason: string,
  ) {
    super(status === 404 ? 'MODEL_NOT_FOUND' : 'MODEL_DOWNLOAD_FAILED', reason, { item: describeRef(ref) });
  }
}

export function describeRef(ref: HubFileRef): string {
  return `${ref.repo}@${ref.revision}/${ref.path}`;
}

const TRANSIENT_NET_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

function netErrorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

function classifyNetworkError(err: unknown, what: string): TransferError {
  if (err instanceof TransferError) return err;
  const code = netErrorCode(err);
  const detail = code ?? (err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err));
  // undici reports a body cut short as "terminated" and an unreachable host as "fetch failed".
  const message = err instanceof Error ? err.message : '';
  const transient = code !== undefined ? TRANSIENT_NET_CODES.has(code) : message === 'terminated' || message === 'fetch failed';
  return new TransferError(`${what}: ${detail}`, transient);
}

function statusError(res: Response, ref: HubFileRef): TransferError {
  const hubCode = res.headers.get('x-error-code') ?? undefined;
  const hubMessage = res.headers.get('x-error-message') ?? undefined;
  const transient = res.status >= 500 || res.status === 429 || res.status === 408;
  const reason = [`HTTP ${res.status}`, hubCode, hubMessage].filter(Boolean).join(' ');
  return new TransferError(`${describeRef(ref)}: ${reason}`, transient, res.status, hubCode);
}

function unquoteEtag(value: string | null): string | undefined {
  if (!value) return undefined;
  return value.replace(/^W\//, '').replace(/^"|"$/g, '');
}


/**
 * Follows redirects by hand so the hub's own headers (on the 302) stay readable and the token is
 * never sent to another origin (the CDN URL is pre-signed). `stopAtLinked` ends the walk at the
 * first answer that carries `X-Linked-Size`, which is all a HEAD needs.
 */
async function requestFollowing(
  ref: HubFileRef,
  init: { method: 'GET' | 'HEAD'; headers: Record<string, string>; signal: AbortSignal; stopAtLinked: boolean },
): Promise<{ res: Response; hubHeaders: Headers }> {
  let url = hubFileUrl(ref.endpoint, ref.repo, ref.revision, ref.path);
  const origin = new URL(url).origin;
  let hubHeaders: Headers | undefined;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': 'clipstream/0.1', ...init.headers };
    if (ref.token && new URL(url).origin === origin) headers.authorization = `Bearer ${ref.token}`;
    let res: Response;
    try {
      res = await fetch(url, { method: init.method, headers, redirect: 'manual', signal: init.signal });
    } catch (err) {
      if (init.signal.aborted) throw err;
      throw classifyNetworkError(err, `${describeRef(ref)}: cannot reach ${new URL(url).host}`);
    }
    const location = res.headers.get('location');
    const isRedirect = res.status >= 300 && res.status < 400 && location !== null;
    // The hub's answer (not the CDN's) carries the linked size/etag and the commit; a relative
    // redirect of a renamed repo carries neither.
    if (new URL(url).origin === origin && (!isRedirect || res.headers.has('x-linked-size'))) hubHeaders = res.headers;
    if (isRedirect) {
      if (init.stopAtLinked && res.headers.has('x-linked-size')) return { res, hubHeaders: res.headers };
      await res.body?.cancel();
      url = new URL(location!, url).href;
      continue;
    }
    return { res, hubHeaders: hubHeaders ?? res.headers };
  }
  throw new TransferError(`${describeRef(ref)}: more than ${MAX_REDIRECTS} redirects`, false);
}

async function withRetries<T>(
  ref: HubFileRef,
  opts: DownloadOptions,
  attempt: () => Promise<T>,
): Promise<T> {
  const what = describeRef(ref);
  let tries = 0;
  try {
    return await retry(
      async (n) => {
        tries = n;
        try {
          return await attempt();
        } catch (err) {
          // Classified once, so the predicate and the final report see the same TransferError.
          if (err instanceof ClipstreamError || opts.signal?.aborted) throw err;
          throw classifyNetworkError(err, what);
        }
      },
      {
        policy: { ...DEFAULT_DOWNLOAD_RETRY, ...opts.retry },
        retryable: (err) => err instanceof TransferError && err.transient,
        signal: opts.signal,
        operation: `download of ${what}`,
      },
    );
  } catch (err) {
    if (err instanceof TransferError) throw toClipstreamError(err, ref, tries);
    throw err;
  }
}

function toClipstreamError(failure: TransferError, ref: HubFileRef, attempts: number): ClipstreamError {
  const tries = attempts > 1 ? ` (after ${attempts} attempts)` : '';
  if (failure.status !== undefined && !failure.transient) {
    const hint =
      failure.status === 401 || failure.status === 403
        ? failure.hubErrorCode === 'GatedRepo'
          ? 'the repository is gated: accept its terms on the hub and set HF_TOKEN'
          : 'not authorised: the repository is private, gated or does not exist (set HF_TOKEN if it needs one)'
        : failure.status === 404
          ? failure.hubErrorCode === 'RevisionNotFound'
            ? `revision "${ref.revision}" does not exist`
            : failure.hubErrorCode === 'RepoNotFound'
              ? `repository "${ref.repo}" does not exist`
              : 'no such file in the repository'
          : 'the hub refused the request';
    return new HubHttpError(failure.status, failure.hubErrorCode, ref, `${failure.message.replace(`${describeRef(ref)}: `, '')}: ${hint}`);
  }
  return new ClipstreamError('MODEL_DOWNLOAD_FAILED', `${failure.message.replace(`${describeRef(ref)}: `, '')}${tries}`, {
    item: describeRef(ref),
    cause: failure,
  });
}

/** Size, etag and commit of a file, from a HEAD that stops at the hub's redirect. */
export async function headHubFile(ref: HubFileRef, opts: DownloadOptions = {}): Promise<RemoteFileInfo> {
  return withRetries(ref, opts, async () => {
    const signal = opts.signal ?? new AbortController().signal;
    const { res, hubHeaders } = await requestFollowing(ref, { method: 'HEAD', headers: {}, signal, stopAtLinked: true });
    if (!res.ok && !(res.status >= 300 && res.status < 400)) throw statusError(res, ref);
    const linkedSize = hubHeaders.get('x-linked-size');
    const sizeHeader = linkedSize ?? res.headers.get('content-length');
    const size = sizeHeader === null ? NaN : Number(sizeHeader);
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new TransferError(`${describeRef(ref)}: the hub did not announce the file size`, false);
    }
    const etag = unquoteEtag(hubHeaders.get('x-linked-etag') ?? hubHeaders.get('etag') ?? res.headers.get('etag'));
    const sha256 = linkedSize !== null && etag && /^[0-9a-f]{64}$/i.test(etag) ? etag.toLowerCase() : undefined;
    return { size, etag, sha256, commit: hubHeaders.get('x-repo-commit') ?? undefined };
  });
}

interface PartialMeta {
  etag?: string | undefined;
  size: number;
}

async function readPartialMeta(file: string): Promise<PartialMeta | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as PartialMeta;
  } catch {
    return undefined;
  }
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await fs.stat(file)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

async function hashPrefix(file: string, bytes: number): Promise<Hash> {
  const hash = createHash('sha256');
  if (bytes === 0) return hash;
  for await (const chunk of createReadStream(file, { start: 0, end: bytes - 1 })) hash.update(chunk as Buffer);
  return hash;
}

/**
 * Downloads `ref` to `dest` (atomically) given what `headHubFile` announced. Resumes a partial
 * `<dest>.incomplete` left by an earlier run when it belongs to the same remote version.
 * Returns the bytes actually received over the network in this call.
 */
export async function downloadHubFile(
  ref: HubFileRef,
  dest: string,
  info: RemoteFileInfo,
  opts: DownloadOptions = {},
): Promise<{ received: number }> {
  const partial = `${dest}.incomplete`;
  const metaFile = `${partial}.json`;
  await fs.mkdir(path.dirname(dest), { recursive: true });

  const meta = await readPartialMeta(metaFile);
  if (!meta || meta.size !== info.size || meta.etag !== info.etag) {
    // Partial bytes of another version (or of unknown origin) must not be spliced onto this one.
    await fs.rm(partial, { force: true });
  }
  await fs.writeFile(metaFile, JSON.stringify({ etag: info.etag, size: info.size } satisfies PartialMeta));

  let received = 0;
  let verified = false;
  const stallMs = opts.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  const discard = async () => {
    await fs.rm(partial, { force: true });
    await fs.rm(metaFile, { force: true });
  };
  await withRetries(ref, opts, async () => {
    let offset = await fileSize(partial);
    if (offset > info.size) {
      await fs.rm(partial, { force: true });
      offset = 0;
    }
    if (offset === info.size && info.size > 0) return; // an earlier run got every byte; verified below

    const stall = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, stall.signal]) : stall.signal;
    let stallTimer = setTimeout(() => stall.abort(), stallMs);
    const touch = () => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => stall.abort(), stallMs);
    };
    try {
      const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
      const { res } = await requestFollowing(ref, { method: 'GET', headers, signal, stopAtLinked: false });
      if (res.status === 416 && offset > 0) {
        // The server thinks our partial is past its end: the file changed or our bytes are junk.
        await res.body?.cancel();
        await fs.rm(partial, { force: true });
        throw new TransferError(`${describeRef(ref)}: range not satisfiable, restarting`, true);
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw statusError(res, ref);
      }

      let start = 0;
      if (res.status === 206) {
        const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
        if (!m || Number(m[1]) !== offset) {
          await res.body?.cancel();
          await fs.rm(partial, { force: true });
          throw new TransferError(`${describeRef(ref)}: unexpected Content-Range "${res.headers.get('content-range')}", restarting`, true);
        }
        if (m[3] !== '*' && Number(m[3]) !== info.size) {
          await res.body?.cancel();
          await discard();
          throw new TransferError(`${describeRef(ref)}: size mismatch: the hub announced ${info.size} bytes, the server holds ${m[3]}`, false);
        }
        start = offset;
      } else {
        // 200 to a Range request: the server ignored it, so the body starts again at byte 0.
        const length = res.headers.get('content-length');
        if (length !== null && Number(length) !== info.size) {
          await res.body?.cancel();
          await discard();
          throw new TransferError(`${describeRef(ref)}: size mismatch: the hub announced ${info.size} bytes, the server sent Content-Length ${length}`, false);
        }
      }

      const hash = info.sha256 ? await hashPrefix(partial, start) : undefined;
      const handle = await fs.open(partial, start > 0 ? 'a' : 'w');
      let written = start;
      opts.onBytes?.(written);
      let overflow = false;
      try {
        if (res.body) {
          for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
            touch();
            if (written + chunk.byteLength > info.size) {
              overflow = true;
              break;
            }
            hash?.update(chunk);
            await handle.write(chunk);
            written += chunk.byteLength;
            received += chunk.byteLength;
            opts.onBytes?.(written);
          }
        }
        if (!overflow) await handle.datasync();
      } finally {
        await handle.close();
      }
      if (overflow) {
        await discard();
        throw new TransferError(`${describeRef(ref)}: size mismatch: the server sent more than the announced ${info.size} bytes`, false);
      }
      if (written < info.size) {
        throw new TransferError(`${describeRef(ref)}: connection ended after ${written} of ${info.size} bytes`, true);
      }
      if (hash && info.sha256) {
        const digest = hash.digest('hex');
        if (digest !== info.sha256) {
          await discard();
          throw new TransferError(`${describeRef(ref)}: checksum mismatch: sha256 ${digest}, the hub announced ${info.sha256}`, false);
        }
        verified = true;
      }
    } catch (err) {
      if (stall.signal.aborted && !opts.signal?.aborted) {
        throw new TransferError(`${describeRef(ref)}: no data for ${Math.round(stallMs / 1000)} s`, true);
      }
      throw err;
    } finally {
      clearTimeout(stallTimer);
    }
  });

  const finalSize = await fileSize(partial);
  if (finalSize !== info.size) {
    await discard();
    throw new ClipstreamError('MODEL_DOWNLOAD_FAILED', `size mismatch: got ${finalSize} bytes, the hub announced ${info.size}`, {
      item: describeRef(ref),
    });
  }
  if (info.sha256 && !verified) {
    const digest = (await hashPrefix(partial, finalSize)).digest('hex');
    if (digest !== info.sha256) {
      await discard();
      throw new ClipstreamError('MODEL_DOWNLOAD_FAILED', `checksum mismatch: sha256 ${digest}, the hub announced ${info.sha256}`, {
        item: describeRef(ref),
      });
    }
  }
  await fs.rename(partial, dest);
  await fs.rm(metaFile, { force: true });
  return { received };
}
