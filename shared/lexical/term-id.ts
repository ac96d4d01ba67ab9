/**
 * Term ids as FastEmbed's `Qdrant/bm25` computes them: `abs(mmh3.hash(token))`, the signed
 * 32-bit MurmurHash3 (seed 0) of the token's UTF-8 bytes, made non-negative. A Python client
 * with FastEmbed therefore queries a clipstream index with the same ids.
 */
import murmurhash from 'murmurhash';

const utf8 = new TextEncoder();
let scratch = new Uint8Array(256);

// murmurhash encodes a string with a new TextEncoder on every call, which costs more than the
// hash; the bytes go through one reusable buffer instead, and repeated terms (a catalogue's
// vocabulary is small) come from a bounded cache, cleared whole when full.
const CACHE_SIZE = 500_000;
const cache = new Map<string, number>();

export function termId(token: string): number {
  let id = cache.get(token);
  if (id === undefined) {
    if (token.length * 3 > scratch.length) scratch = new Uint8Array(token.length * 3);
    const { written } = utf8.encodeInto(token, scratch);
    id = Math.abs(murmurhash.v3(scratch.subarray(0, written)) | 0);
    if (cache.size >= CACHE_SIZE) cache.clear();
    cache.set(token, id);
  }
  return id;
}
