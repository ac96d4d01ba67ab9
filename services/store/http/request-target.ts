/**
 * The request target (RFC 9112 §3.2) turned into the decoded path segments routing and
 * authorisation both use, so the two can never disagree about which path was asked for:
 * origin-form (`/collections?wait=true`) and absolute-form (`http://host/collections`) alike;
 * each segment percent-decoded once; empty, `.` and `..` segments resolved (after decoding, so
 * `%2e%2e` is `..` too). Malformed percent-encoding is a 400, never an exception further in.
 */
import { StoreError } from '../engine/errors.ts';

export interface RequestTarget {
  segments: string[];
  query: URLSearchParams;
}

export function parseRequestTarget(raw: string): RequestTarget {
  let pathAndQuery: string;
  if (raw.startsWith('/')) pathAndQuery = raw;
  else if (/^https?:\/\//i.test(raw)) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new StoreError(400, `Bad request: request target ${JSON.stringify(raw.slice(0, 200))} is not a valid URL`);
    }
    pathAndQuery = url.pathname + url.search;
  } else {
    throw new StoreError(400, `Bad request: request target ${JSON.stringify(raw.slice(0, 200))} is neither a path nor an absolute URL`);
  }
  const q = pathAndQuery.indexOf('?');
  const rawPath = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  const segments: string[] = [];
  for (const part of rawPath.split('/')) {
    if (part === '') continue;
    let segment: string;
    try {
      segment = decodeURIComponent(part);
    } catch {
      throw new StoreError(400, `Bad request: malformed percent-encoding in path segment ${JSON.stringify(part.slice(0, 200))}`);
    }
    if (segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  return { segments, query: new URLSearchParams(q < 0 ? '' : pathAndQuery.slice(q + 1)) };
}
