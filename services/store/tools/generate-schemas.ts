/**
 * Regenerates engine/qdrant-schemas.json: the request-body schemas of the endpoints the embedded
 * store serves (and everything they reference), taken from Qdrant's OpenAPI document and
 * converted from OpenAPI 3.0 to plain JSON Schema for Ajv (nullable → null types, refs →
 * definitions, documentation-only keywords dropped). The search/recommend/discover endpoints
 * Qdrant 1.19 still serves but no longer documents take their bodies from the 1.18 document; a
 * schema both documents define is taken from the newer one. The output is committed; nothing
 * reads the specs at run time.
 *
 *   node --import tsx services/store/tools/generate-schemas.ts [openapi-1.19.json] [openapi-1.18.json]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const specPath = process.argv[2] ?? '/work/shared/reference/qdrant-openapi-v1.19.json';
const legacySpecPath = process.argv[3] ?? '/work/shared/reference/qdrant-openapi-v1.18.json';
const outPath = path.join(here, '..', 'engine', 'qdrant-schemas.json');

/** Request bodies the server validates (see routes.ts). */
export const BODY_SCHEMAS = [
  'CreateCollection',
  'UpdateCollection',
  'ChangeAliasesOperation',
  'CreateFieldIndex',
  'PointRequest',
  'PointInsertOperations',
  'PointsSelector',
  'UpdateVectors',
  'DeleteVectors',
  'SetPayload',
  'DeletePayload',
  'UpdateOperations',
  'ScrollRequest',
  'CountRequest',
  'QueryRequest',
  'QueryRequestBatch',
  'QueryGroupsRequest',
  'FacetRequest',
  'SearchMatrixRequest',
  'VectorNameConfig',
  'SnapshotRecover',
  // Served by Qdrant 1.19, documented up to 1.18:
  'SearchRequest',
  'SearchRequestBatch',
  'SearchGroupsRequest',
  'RecommendRequest',
  'RecommendRequestBatch',
  'RecommendGroupsRequest',
  'DiscoverRequest',
  'DiscoverRequestBatch',
] as const;

type Node = Record<string, unknown>;
const DROP = new Set(['description', 'example', 'examples', 'deprecated', 'default', 'readOnly', 'writeOnly', 'title', 'format']);

function convert(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(convert);
  if (node === null || typeof node !== 'object') return node;
  const src = node as Node;
  const out: Node = {};
  for (const [k, v] of Object.entries(src)) {
    if (DROP.has(k) || k === 'nullable') continue;
    if (k === '$ref') out.$ref = String(v).replace('#/components/schemas/', '#/definitions/');
    else if (k === 'properties' || k === 'definitions') out[k] = Object.fromEntries(Object.entries(v as Node).map(([pk, pv]) => [pk, convert(pv)]));
    else out[k] = convert(v);
  }
  if (src.nullable !== true) return out;
  if (Object.keys(out).length === 0) return { type: 'null' };
  if (typeof out.type === 'string' && !out.$ref) {
    out.type = [out.type, 'null'];
    if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
    return out;
  }
  return { anyOf: [out, { type: 'null' }] };
}

function collectRefs(node: unknown, into: Set<string>): void {
  if (Array.isArray(node)) return node.forEach((n) => collectRefs(n, into));
  if (node === null || typeof node !== 'object') return;
  for (const [k, v] of Object.entries(node)) {
    if (k === '$ref') into.add(String(v).split('/').pop()!);
    else collectRefs(v, into);
  }
}

function main(): void {
  type Spec = { info: { version: string }; components: { schemas: Record<string, unknown> } };
  const spec = JSON.parse(fs.readFileSync(specPath, 'utf8')) as Spec;
  const legacy = JSON.parse(fs.readFileSync(legacySpecPath, 'utf8')) as Spec;
  const all = { ...legacy.components.schemas, ...spec.components.schemas };
  const wanted = new Set<string>();
  const queue: string[] = [...BODY_SCHEMAS];
  while (queue.length > 0) {
    const name = queue.pop()!;
    if (wanted.has(name)) continue;
    if (!all[name]) throw new Error(`schema ${name} is in neither ${specPath} nor ${legacySpecPath}`);
    wanted.add(name);
    const refs = new Set<string>();
    collectRefs(all[name], refs);
    queue.push(...refs);
  }
  const definitions: Record<string, unknown> = {};
  for (const name of [...wanted].sort()) definitions[name] = convert(all[name]);
  const doc = { $id: 'qdrant', $comment: `Generated from Qdrant OpenAPI ${spec.info.version} (legacy search bodies: ${legacy.info.version}) by tools/generate-schemas.ts; do not edit.`, definitions };
  fs.writeFileSync(outPath, JSON.stringify(doc, null, 1) + '\n');
  process.stdout.write(`wrote ${wanted.size} schemas to ${outPath}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main();
