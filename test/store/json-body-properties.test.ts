/**
 * Property-based tests of the vector-aware body parser against JSON.parse as the reference:
 * for any valid JSON text it gives JSON.parse's value (number arrays under "vector"/"vectors"
 * as float32, within one float32 step, and nowhere inside a payload); for anything else a 400
 * StoreError saying where — never a crash, a TypeError or a stack overflow.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StoreError } from '../../services/store/engine/errors.ts';
import { MAX_NESTING, parseVectorJson } from '../../services/store/http/json-body.ts';

const RUNS = 400;

// ---- the reference: JSON.parse, then the documented float32 rule -----------------------------

type Mode = 'plain' | 'vector' | 'payload';
const NON_FINITE = Symbol('a number JSON.parse reads as ±Infinity outside a vector');

/** What the parser should answer for `text`: a value, NON_FINITE (a 400), or null for invalid JSON. */
function reference(text: string): { value: unknown } | typeof NON_FINITE | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  let nonFinite = false;
  const convert = (v: unknown, mode: Mode): unknown => {
    if (Array.isArray(v)) {
      if (mode === 'vector' && v.length > 0 && v.every((x) => typeof x === 'number')) return Float32Array.from(v as number[]);
      return v.map((x) => convert(x, mode));
    }
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        const child: Mode = mode === 'payload' ? 'payload' : k === 'vector' || k === 'vectors' ? 'vector' : k === 'payload' || k === 'payloads' ? 'payload' : mode;
        Object.defineProperty(out, k, { value: convert(x, child), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    if (typeof v === 'number' && !Number.isFinite(v)) nonFinite = true;
    return v;
  };
  const value = convert(parsed, 'plain');
  return nonFinite ? NON_FINITE : { value };
}

/** Float32 results may differ from Math.fround(JSON.parse) by one step (the parser rounds twice). */
function closeFloat(got: number, want: number): boolean {
  if (Object.is(got, want) || got === want) return true;
  if (!Number.isFinite(want) || !Number.isFinite(got)) return false;
  const step = Math.max(Math.abs(want) * 2 ** -23, 1.401298464324817e-45);
  return Math.abs(got - want) <= step;
}

function sameValue(got: unknown, want: unknown, at: string): void {
  if (want instanceof Float32Array) {
    assert.ok(got instanceof Float32Array, `${at}: expected float32, got ${Object.prototype.toString.call(got)}`);
    assert.equal(got.length, want.length, `${at}: length`);
    for (let i = 0; i < want.length; i++) assert.ok(closeFloat(got[i]!, want[i]!), `${at}[${i}]: ${got[i]} vs ${want[i]}`);
    return;
  }
  if (Array.isArray(want)) {
    assert.ok(Array.isArray(got), `${at}: expected an array`);
    assert.equal(got.length, want.length, `${at}: length`);
    want.forEach((w, i) => sameValue(got[i], w, `${at}[${i}]`));
    return;
  }
  if (want !== null && typeof want === 'object') {
    assert.ok(got !== null && typeof got === 'object' && !Array.isArray(got) && !(got instanceof Float32Array), `${at}: expected an object`);
    assert.equal(Object.getPrototypeOf(got), Object.prototype, `${at}: prototype`);
    assert.deepEqual(Object.keys(got), Object.keys(want), `${at}: keys`);
    for (const k of Object.keys(want)) sameValue((got as Record<string, unknown>)[k], (want as Record<string, unknown>)[k], `${at}.${k}`);
    return;
  }
  assert.ok(Object.is(got, want), `${at}: ${String(got)} vs ${String(want)}`);
}

/** Runs the parser both ways a body is parsed (main thread, and into a small shared float room). */
function checkAgainstReference(bytes: Buffer, room: number): void {
  const text = bytes.toString('utf8');
  const want = reference(text);
  for (const floats of [undefined, new Float32Array(room)]) {
    let got: unknown;
    let error: unknown;
    try {
      got = parseVectorJson(bytes, floats);
    } catch (err) {
      error = err;
    }
    // A number too large for a double that JSON.parse dropped (a duplicate key overwrote it) may
    // still be refused: the parser reads every number it passes.
    if (want !== null && want !== NON_FINITE && error instanceof StoreError && /invalid number/.test(error.message) && hasOverflowingNumber(text)) continue;
    if (want === null || want === NON_FINITE) {
      assert.ok(error instanceof StoreError, `${JSON.stringify(text)}: expected a StoreError, got ${error === undefined ? 'a value' : String(error)}`);
      assert.equal(error.status, 400);
      assert.match(error.message, /^Format error in JSON body: .+ at line \d+ column \d+$/);
    } else {
      assert.equal(error, undefined, `${JSON.stringify(text)}: ${String(error)}`);
      sameValue(got, want.value, '$');
    }
  }
}

function hasOverflowingNumber(text: string): boolean {
  const outsideStrings = text.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return (outsideStrings.match(/-?\d+(\.\d+)?([eE][+-]?\d+)?/g) ?? []).some((t) => !Number.isFinite(Number(t)));
}

// ---- generators -----------------------------------------------------------------------------

const KEYS = ['vector', 'vectors', 'payload', 'payloads', 'points', 'batch', 'id', 'a', '__proto__', 'constructor', 'x y', 'é', 'vect\\u006fr', ''];
/** Number spellings JSON allows, the ones the fast path reads itself included. */
const numberText = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
  fc.integer().map(String),
  fc.tuple(fc.boolean(), fc.nat(99999), fc.string({ unit: fc.constantFrom(...'0123456789'), maxLength: 20 }), fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.nat(60))))
    .map(([neg, int, frac, exp]) => `${neg ? '-' : ''}${int}${frac ? `.${frac}` : ''}${exp ? `${exp[0]}${exp[1]}${exp[2]}` : ''}`),
  fc.constantFrom('0', '-0', '1e400', '-1e400', '1e39', '3.4028235e38', '1.401298464324817e-45', '5e-324', '0.30000001192092896', '123456789012345678901234567890'),
);
const stringText = fc.oneof(
  fc.string({ maxLength: 8 }).map((s) => JSON.stringify(s)),
  fc.string({ unit: 'binary', maxLength: 6 }).map((s) => JSON.stringify(s)),
  fc.constantFrom('"\\ud800"', '"\\u0000"', '"a\\"b"', '"\\/"', '"é\u2028"'),
);
const ws = fc.constantFrom('', '', ' ', '\n', '\t', '\r\n  ');

type Json = { t: 'num'; s: string } | { t: 'str'; s: string } | { t: 'lit'; s: string } | { t: 'arr'; items: Json[] } | { t: 'obj'; entries: Array<[string, Json]> };
const { json } = fc.letrec<{ json: Json; arr: Json; nums: Json; obj: Json }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    numberText.map((s): Json => ({ t: 'num', s })),
    stringText.map((s): Json => ({ t: 'str', s })),
    fc.constantFrom('true', 'false', 'null').map((s): Json => ({ t: 'lit', s })),
    tie('arr'),
    tie('nums'),
    tie('obj'),
  ),
  arr: fc.array(tie('json'), { maxLength: 5 }).map((items): Json => ({ t: 'arr', items })),
  // Arrays of numbers are what the vector fast path reads; make them common.
  nums: fc.array(numberText, { minLength: 1, maxLength: 10 }).map((ns): Json => ({ t: 'arr', items: ns.map((s) => ({ t: 'num', s })) })),
  obj: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 4 })), tie('json')), { maxLength: 5 }).map((entries): Json => ({ t: 'obj', entries })),
}));
/** Text of a JSON tree, with whitespace between tokens drawn from `spaces`. */
function render(node: Json, spaces: string[]): string {
  let k = 0;
  const w = () => spaces[k++ % spaces.length]!;
  const go = (n: Json): string => {
    switch (n.t) {
      case 'num':
      case 'str':
      case 'lit':
        return n.s;
      case 'arr':
        return `[${w()}${n.items.map((i) => `${go(i)}${w()}`).join(`,${w()}`)}]`;
      case 'obj':
        return `{${w()}${n.entries.map(([key, v]) => `${key.startsWith('vect\\') ? `"${key}"` : JSON.stringify(key)}${w()}:${w()}${go(v)}`).join(`,${w()}`)}${w()}}`;
    }
  };
  return `${w()}${go(node)}${w()}`;
}
const validText = fc.tuple(json, fc.array(ws, { minLength: 1, maxLength: 6 })).map(([n, spaces]) => render(n, spaces));
/** Upsert-shaped bodies: vectors in every form, and payloads whose own keys are called "vector". */
const upsertText = fc
  .tuple(
    fc.array(fc.tuple(fc.nat(), fc.array(numberText, { minLength: 1, maxLength: 6 }), json), { minLength: 1, maxLength: 4 }),
    fc.array(ws, { minLength: 1, maxLength: 4 }),
  )
  .map(([points, spaces]) =>
    render(
      {
        t: 'obj',
        entries: [
          [
            'points',
            {
              t: 'arr',
              items: points.map(([id, nums, payload]) => ({
                t: 'obj',
                entries: [
                  ['id', { t: 'num', s: String(id) }],
                  ['vector', { t: 'obj', entries: [['dense', { t: 'arr', items: nums.map((s) => ({ t: 'num', s })) }]] }],
                  ['payload', { t: 'obj', entries: [['vector', { t: 'arr', items: nums.map((s) => ({ t: 'num', s })) }], ['other', payload]] }],
                ],
              })),
            },
          ],
        ],
      },
      spaces,
    ),
  );
/** A valid text broken at one place: a byte dropped, added, replaced, or the text cut short. */
const brokenText = fc
  .tuple(fc.oneof(validText, upsertText), fc.nat(), fc.constantFrom('drop', 'insert', 'replace', 'cut'), fc.constantFrom(...'{}[],:"\\ 0123456789-+.eEtrufalsn\u0000\u001f\u00ff'))
  .map(([text, at, how, ch]) => {
    const i = text.length === 0 ? 0 : at % text.length;
    if (how === 'drop') return text.slice(0, i) + text.slice(i + 1);
    if (how === 'insert') return text.slice(0, i) + ch + text.slice(i);
    if (how === 'replace') return text.slice(0, i) + ch + text.slice(i + 1);
    return text.slice(0, i);
  });

describe('vector JSON body parser, property-based', () => {
  it('agrees with JSON.parse on every valid text (vectors as float32, payloads untouched)', () => {
    fc.assert(
      fc.property(fc.oneof(validText, upsertText), fc.integer({ min: 1, max: 16 }), (text, room) => checkAgainstReference(Buffer.from(text, 'utf8'), room)),
      { numRuns: RUNS },
    );
  });

  it('answers every broken text with a 400 that says where (or, if still valid, with JSON.parse\'s value)', () => {
    fc.assert(
      fc.property(brokenText, fc.integer({ min: 1, max: 16 }), (text, room) => checkAgainstReference(Buffer.from(text, 'utf8'), room)),
      { numRuns: RUNS * 2 },
    );
  });

  it('answers arbitrary bytes with a value or a 400, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), (bytes) => checkAgainstReference(Buffer.from(bytes), 4)),
      { numRuns: RUNS * 2 },
    );
  });

  it('keeps a payload field called "vector" a plain array', () => {
    const got = parseVectorJson(Buffer.from('{"points":[{"id":1,"vector":[1,2],"payload":{"vector":[0.1,2],"vectors":{"a":[1]}}}]}')) as {
      points: Array<{ vector: unknown; payload: Record<string, unknown> }>;
    };
    assert.ok(got.points[0]!.vector instanceof Float32Array);
    assert.deepEqual(got.points[0]!.payload, { vector: [0.1, 2], vectors: { a: [1] } });
    assert.equal(JSON.stringify(got.points[0]!.payload), '{"vector":[0.1,2],"vectors":{"a":[1]}}');
  });

  it(`refuses nesting deeper than ${MAX_NESTING} with a 400, at any depth, without overflowing the stack`, () => {
    const nested = (depth: number) => Buffer.from('['.repeat(depth) + ']'.repeat(depth));
    assert.deepEqual(JSON.stringify(parseVectorJson(nested(MAX_NESTING))), '['.repeat(MAX_NESTING) + ']'.repeat(MAX_NESTING));
    for (const depth of [MAX_NESTING + 1, 10_000, 1_000_000]) {
      assert.throws(
        () => parseVectorJson(nested(depth)),
        (err: StoreError) => err instanceof StoreError && err.status === 400 && /recursion limit exceeded at line 1 column/.test(err.message),
        `depth ${depth}`,
      );
    }
    assert.throws(() => parseVectorJson(Buffer.from(`{"payload":${'{"a":'.repeat(200)}1${'}'.repeat(200)}}`)), /recursion limit exceeded/);
  });
});
