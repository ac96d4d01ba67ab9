/**
 * Term ids as FastEmbed's `Qdrant/bm25` computes them: `abs(mmh3.hash(token))`, the signed
 * 32-bit MurmurHash3 (seed 0) of the token's UTF-8 bytes, made non-negative. A Python client
 * with FastEmbed therefore queries a clipstream index with the same ids.
 */
import murmurhash from 'murmurhash';

export function termId(token: string): number {
  // murmurhash hashes a string's UTF-8 encoding, as mmh3 does.
  return Math.abs(murmurhash.v3(token) | 0);
}
