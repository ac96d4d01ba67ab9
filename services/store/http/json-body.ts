/**
 * A JSON parser for write bodies that carry vectors. JSON.parse turns every vector element into
 * a boxed double in a JS array only for the engine to copy it into float32 storage; here the
 * numbers of arrays under a "vector"/"vectors" key are read straight from the bytes into
 * Float32Arrays (a sparse vector's "indices" excepted: they stay integers) (several times faster, no garbage per element). Everything else — ids,
 * payloads, strings with escapes — is parsed with JSON's exact semantics; inside a payload no key
 * is special (a payload field called "vector" stays a plain array). Nesting deeper than
 * serde_json's (and so Qdrant's) recursion limit is refused like any other format error.
 */
import { StoreError } from '../engine/errors.ts';

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);
const POW10_INT = Int32Array.of(1, 10, 100, 1000, 10000);
const MAX_DIGITS = 15;
const BLOCK_FLOATS = 256 * 1024;
/** serde_json's default recursion limit: Qdrant refuses deeper bodies the same way. */
export const MAX_NESTING = 128;

/** Where a value sits: arrays of numbers become float32 only under a vector key, never in a payload. */
const PLAIN = 0;
const VECTOR = 1;
const PAYLOAD = 2;
type Mode = typeof PLAIN | typeof VECTOR | typeof PAYLOAD;

/** The mode of the value under `key` in an object whose own mode is `mode`. */
function childMode(mode: Mode, key: string): Mode {
  if (mode === PAYLOAD) return PAYLOAD;
  // A sparse vector's indices are u32 term ids: float32 would round the large ones.
  if (key === 'indices') return PLAIN;
  if (key === 'vector' || key === 'vectors') return VECTOR;
  if (key === 'payload' || key === 'payloads') return PAYLOAD;
  return mode;
}

// Byte values.
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

/**
 * Parses `buf`. Vectors are written into `floats` while it has room (a parse thread passes
 * shared memory, see parse-pool.ts), then into blocks of their own.
 */
export function parseVectorJson(buf: Buffer, floats?: Float32Array): unknown {
  const p = new Parser(buf, floats);
  p.ws();
  const value = p.value(PLAIN);
  p.ws();
  if (p.i !== buf.length) p.fail('trailing characters');
  return value;
}

/**
 * Refuses a body nested deeper than MAX_NESTING before JSON.parse takes it: the parsed value
 * would otherwise overflow the stack of whatever walks it next (schema validation, filters).
 */
export function checkNesting(buf: Buffer): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === LBRACE || c === LBRACKET) {
      if (++depth > MAX_NESTING) {
        const p = new Parser(buf);
        p.i = i;
        p.fail('recursion limit exceeded');
      }
    } else if (c === RBRACE || c === RBRACKET) depth--;
  }
}

class Parser {
  readonly b: Buffer;
  i = 0;
  /**
   * Parsed vectors are views into shared blocks, written in place as they are read: one
   * allocation per ~1 MB of vectors instead of one per vector keeps external-memory pressure
   * (and the GCs it triggers) low.
   */
  private block: Float32Array;
  private blockUsed = 0;
  private readonly dv: DataView;
  private depth = 0;

  constructor(b: Buffer, floats?: Float32Array) {
    this.b = b;
    this.dv = new DataView(b.buffer, b.byteOffset, b.length);
    this.block = floats ?? new Float32Array(0);
  }

  fail(what: string): never {
    let line = 1;
    let col = 1;
    for (let k = 0; k < this.i && k < this.b.length; k++) {
      if (this.b[k] === 0x0a) {
        line++;
        col = 1;
      } else col++;
    }
    throw new StoreError(400, `Format error in JSON body: ${what} at line ${line} column ${col}`);
  }

  ws(): void {
    const b = this.b;
    const len = b.length;
    let i = this.i;
    while (i < len) {
      const c = b[i]!;
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      i++;
    }
    this.i = i;
  }

  /** In VECTOR mode (a vector subtree) arrays of numbers become Float32Arrays. */
  value(mode: Mode): unknown {
    const c = this.b[this.i];
    if (c === LBRACE || c === LBRACKET) {
      if (++this.depth > MAX_NESTING) this.fail('recursion limit exceeded');
      const v = c === LBRACE ? this.object(mode) : this.array(mode);
      this.depth--;
      return v;
    }
    if (c === QUOTE) return this.string();
    if (c === MINUS || (c !== undefined && c >= ZERO && c <= NINE)) return this.number();
    if (this.literal('true')) return true;
    if (this.literal('false')) return false;
    if (this.literal('null')) return null;
    return this.fail(c === undefined ? 'EOF while parsing a value' : 'expected value');
  }

  private literal(word: string): boolean {
    const b = this.b;
    for (let k = 0; k < word.length; k++) if (b[this.i + k] !== word.charCodeAt(k)) return false;
    this.i += word.length;
    return true;
  }

  private object(mode: Mode): Record<string, unknown> {
    this.i++;
    const out: Record<string, unknown> = {};
    this.ws();
    if (this.b[this.i] === RBRACE) {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.b[this.i] !== QUOTE) this.fail('key must be a string');
      const key = this.string();
      this.ws();
      if (this.b[this.i] !== COLON) this.fail("expected ':'");
      this.i++;
      this.ws();
      const v = this.value(childMode(mode, key));
      if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      else out[key] = v;
      this.ws();
      const c = this.b[this.i];
      if (c === COMMA) {
        this.i++;
        continue;
      }
      if (c === RBRACE) {
        this.i++;
        return out;
      }
      this.fail("expected ',' or '}'");
    }
  }

  private array(mode: Mode): unknown[] | Float32Array {
    const start = this.i;
    this.i++;
    this.ws();
    if (mode === VECTOR) {
      const c = this.b[this.i];
      if (c === MINUS || (c !== undefined && c >= ZERO && c <= NINE)) {
        const dense = this.denseNumbers();
        if (dense) return dense;
        this.i = start + 1;
        this.ws();
      }
    }
    const out: unknown[] = [];
    if (this.b[this.i] === RBRACKET) {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      out.push(this.value(mode));
      this.ws();
      const c = this.b[this.i];
      if (c === COMMA) {
        this.i++;
        continue;
      }
      if (c === RBRACKET) {
        this.i++;
        return out;
      }
      this.fail("expected ',' or ']'");
    }
  }

  /**
   * An array of plain numbers into a Float32Array; undefined if anything else shows up.
   * Numbers are read as float32 in place: up to 15 significant digits are kept exactly in a
   * double and scaled by one correctly rounded multiplication or division, far below float32
   * resolution. Values go straight into the current block. Bytes are handled as small integers (EOF reads as 0, never a digit) and the
   * parse is inlined here so no double is ever boxed: this loop is the upsert hot path.
   */
  private denseNumbers(): Float32Array | undefined {
    const b = this.b;
    const len = b.length;
    const dv = this.dv;
    let out = this.block;
    let base = this.blockUsed;
    let n = 0;
    let i = this.i;
    for (;;) {
      let c = i < len ? b[i]! : 0;
      while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        i++;
        c = i < len ? b[i]! : 0;
      }
      let neg = false;
      if (c === MINUS) {
        neg = true;
        i++;
        c = i < len ? b[i]! : 0;
      }
      if (c < ZERO || c > NINE) return undefined;
      // Significant digits accumulate in two small integers (9 + 6 digits): integer
      // arithmetic, exact, and combined once into a double below 2^53.
      let hi = 0;
      let lo = 0;
      let loDigits = 0;
      let digits = 0;
      let exp = 0;
      if (c === ZERO) {
        i++;
        c = i < len ? b[i]! : 0;
      } else {
        while (c >= ZERO && c <= NINE) {
          if (digits < 9) hi = hi * 10 + (c - ZERO);
          else if (digits < MAX_DIGITS) {
            lo = lo * 10 + (c - ZERO);
            loDigits++;
          } else exp++;
          digits++;
          i++;
          c = i < len ? b[i]! : 0;
        }
      }
      if (c === DOT) {
        i++;
        c = i < len ? b[i]! : 0;
        if (c < ZERO || c > NINE) return undefined;
        // Leading zeros of a fraction are not significant (after an integer part of 0, hi is 0).
        while (digits === 0 && c === ZERO) {
          exp--;
          i++;
          c = i < len ? b[i]! : 0;
        }
        // Then four bytes at a time while hi has room: the run of digits at the start of the
        // word is found and valued with a few integer operations instead of a branch per byte.
        while (digits <= 5 && i + 4 <= len) {
          const x = dv.getInt32(i, true);
          const nonDigit = ((x & 0xf0f0f0f0) ^ 0x30303030) | (((x + 0x06060606) & 0xf0f0f0f0) ^ 0x30303030);
          const k = nonDigit === 0 ? 4 : (31 - Math.clz32(nonDigit & -nonDigit)) >> 3;
          if (k === 0) break;
          // The k digits, first one most significant, left-aligned so the bytes after them drop out.
          const d = (x - 0x30303030) << ((4 - k) << 3);
          const pairs = (Math.imul(d, 10) + (d >>> 8)) & 0x00ff00ff;
          hi = hi * POW10_INT[k]! + Math.imul(pairs & 0xff, 100) + (pairs >>> 16);
          digits += k;
          exp -= k;
          i += k;
          if (k < 4) break;
        }
        c = i < len ? b[i]! : 0;
        while (c >= ZERO && c <= NINE) {
          if (digits < MAX_DIGITS) {
            if (digits < 9) hi = hi * 10 + (c - ZERO);
            else {
              lo = lo * 10 + (c - ZERO);
              loDigits++;
            }
            // Leading zeros of a fraction are not significant.
            if (digits > 0 || c !== ZERO) digits++;
            exp--;
          }
          i++;
          c = i < len ? b[i]! : 0;
        }
      }
      const mant = loDigits === 0 ? hi : hi * POW10[loDigits]! + lo;
      if (c === 0x65 || c === 0x45) {
        i++;
        c = i < len ? b[i]! : 0;
        let eneg = false;
        if (c === MINUS || c === PLUS) {
          eneg = c === MINUS;
          i++;
          c = i < len ? b[i]! : 0;
        }
        if (c < ZERO || c > NINE) return undefined;
        let e = 0;
        while (c >= ZERO && c <= NINE) {
          if (e < 100000) e = e * 10 + (c - ZERO);
          i++;
          c = i < len ? b[i]! : 0;
        }
        exp += eneg ? -e : e;
      }
      let v = mant;
      if (exp > 0) v = exp < 23 ? mant * POW10[exp]! : Number(`${mant}e${exp}`);
      else if (exp < 0) v = -exp < 23 ? mant / POW10[-exp]! : Number(`${mant}e${exp}`);
      if (base + n === out.length) {
        // The block is full: this vector's values so far move to a fresh one.
        out = new Float32Array(Math.max(BLOCK_FLOATS, n * 2));
        out.set(this.block.subarray(base, base + n));
        this.block = out;
        this.blockUsed = base = 0;
      }
      out[base + n++] = neg ? -v : v;
      while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        i++;
        c = i < len ? b[i]! : 0;
      }
      if (c === COMMA) {
        i++;
        continue;
      }
      if (c === RBRACKET) {
        this.i = i + 1;
        this.blockUsed = base + n;
        return out.subarray(base, base + n);
      }
      return undefined;
    }
  }

  private number(): number {
    const b = this.b;
    const start = this.i;
    let i = start;
    while (i < b.length) {
      const c = b[i]!;
      if ((c >= ZERO && c <= NINE) || c === MINUS || c === PLUS || c === DOT || c === 0x65 || c === 0x45) i++;
      else break;
    }
    const text = b.toString('latin1', start, i);
    const v = Number(text);
    if (!Number.isFinite(v) || !/^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(text)) this.fail(`invalid number ${text}`);
    this.i = i;
    return v;
  }

  private string(): string {
    const b = this.b;
    const start = this.i + 1;
    let i = start;
    let escaped = false;
    for (;;) {
      const c = b[i];
      if (c === undefined) this.fail('EOF while parsing a string');
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        escaped = true;
        i += 2;
        continue;
      }
      if (c < 0x20) this.fail('control character in string');
      i++;
    }
    this.i = i + 1;
    if (!escaped) return b.toString('utf8', start, i);
    try {
      return JSON.parse(b.toString('utf8', start - 1, i + 1)) as string;
    } catch {
      return this.fail('invalid escape in string');
    }
  }
}
