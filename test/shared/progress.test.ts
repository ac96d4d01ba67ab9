import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createProgress,
  etaSeconds,
  formatBytes,
  formatCount,
  formatDuration,
  formatProgressJson,
  formatProgressLine,
  formatRate,
  RateMeter,
  renderBar,
  resolveMode,
  shortenLeft,
  type ProgressSnapshot,
} from '../../shared/progress/index.ts';

test('bytes use binary units with three significant figures', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1024), '1.00 KiB');
  assert.equal(formatBytes(1536), '1.50 KiB');
  assert.equal(formatBytes(10 * 1024 * 1024 + 300 * 1024), '10.3 MiB');
  assert.equal(formatBytes(1_730_000_000), '1.61 GiB');
  assert.equal(formatBytes(3_450_000_000), '3.21 GiB');
  // Rounding up to 1024 moves to the next unit instead of printing "1024 KiB".
  assert.equal(formatBytes(1024 * 1024 - 1), '1.00 MiB');
  assert.equal(formatBytes(NaN), '? B');
});

test('counts, rates and durations', () => {
  assert.equal(formatCount(1234567), '1,234,567');
  assert.equal(formatRate(35.2 * 1024 * 1024, 'bytes'), '35.2 MiB/s');
  assert.equal(formatRate(undefined, 'bytes'), '-- B/s');
  assert.equal(formatRate(1234.4, 'items', 'images'), '1,234 images/s');
  assert.equal(formatRate(12.345, 'items'), '12.3 items/s');
  assert.equal(formatRate(0.5, 'items'), '0.50 items/s');
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(59.4), '59s');
  assert.equal(formatDuration(65), '1m05s');
  assert.equal(formatDuration(2 * 3600 + 3 * 60 + 9), '2h03m');
  assert.equal(formatDuration(3 * 86400 + 4 * 3600), '3d04h');
  assert.equal(formatDuration(undefined), '--');
  assert.equal(formatDuration(Infinity), '--');
});

test('ETA needs a total and a positive rate', () => {
  assert.equal(etaSeconds(25, 100, 5), 15);
  assert.equal(etaSeconds(25, undefined, 5), undefined);
  assert.equal(etaSeconds(25, 100, 0), undefined);
  assert.equal(etaSeconds(120, 100, 5), 0);
});

test('bars and shortened details', () => {
  assert.equal(renderBar(0.5, 12, true), '[#####-----]');
  assert.equal(renderBar(0, 6, true), '[----]');
  assert.equal(renderBar(2, 6, true), '[####]');
  assert.equal(renderBar(1, 4), '[██]');
  assert.equal(shortenLeft('onnx/model_fp16.onnx', 10), '…fp16.onnx');
  assert.equal(shortenLeft('short', 10), 'short');
});

const snap = (over: Partial<ProgressSnapshot> = {}): ProgressSnapshot => ({
  label: 'model',
  unit: 'bytes',
  done: 512 * 1024 * 1024,
  total: 2048 * 1024 * 1024,
  ratePerSec: 64 * 1024 * 1024,
  elapsedS: 8,
  counters: {},
  ...over,
});

test('a progress line shows share, amounts, rate, ETA and counters', () => {
  assert.equal(formatProgressLine(snap()), 'model  25%  512 MiB/2.00 GiB  64.0 MiB/s  ETA 24s');
  assert.equal(
    formatProgressLine(snap({ unit: 'items', itemName: 'images', done: 50, total: 1000, ratePerSec: 25, counters: { failed: 3 } })),
    'model  5.0%  50/1,000  25.0 images/s  ETA 38s  failed 3',
  );
  // Without a total: amount, rate, elapsed time.
  assert.equal(
    formatProgressLine(snap({ unit: 'items', done: 1500, total: undefined, ratePerSec: 300, elapsedS: 5 })),
    'model  1,500 items  300 items/s  in 5s',
  );
  // Complete: the elapsed time replaces the ETA.
  assert.equal(formatProgressLine(snap({ done: 100, total: 100, ratePerSec: 50, elapsedS: 2 })), 'model  100%  100 B/100 B  50 B/s  in 2s');
});

test('a line fits the terminal: the bar shrinks, then the detail is shortened from the left', () => {
  const wide = formatProgressLine(snap({ detail: 'onnx/model_fp16.onnx' }), { bar: true, width: 120, ascii: true });
  assert.match(wide, /^model {2}\[#{8}-{22}\] {2}25%/);
  assert.ok(wide.endsWith('onnx/model_fp16.onnx'));
  assert.ok(wide.length <= 120);
  for (const width of [90, 70, 60, 40, 20]) {
    const line = formatProgressLine(snap({ detail: 'some/very/long/path/to/onnx/model_fp16.onnx' }), { bar: true, width, ascii: true });
    assert.ok(line.length <= width, `${width}: ${line}`);
  }
  const narrow = formatProgressLine(snap({ detail: 'some/very/long/path/to/onnx/model_fp16.onnx' }), { bar: true, width: 80, ascii: true });
  assert.match(narrow, /….*model_fp16\.onnx$/);
});

test('JSON lines carry raw numbers with stable keys', () => {
  const line = JSON.parse(formatProgressJson(snap({ counters: { failed: 1 }, detail: 'x' }), 'progress'));
  assert.deepEqual(line, {
    event: 'progress',
    label: 'model',
    unit: 'bytes',
    done: 512 * 1024 * 1024,
    total: 2048 * 1024 * 1024,
    rate_per_s: 64 * 1024 * 1024,
    eta_s: 24,
    elapsed_s: 8,
    counters: { failed: 1 },
    detail: 'x',
  });
  const done = JSON.parse(formatProgressJson(snap({ unit: 'items', itemName: 'records', total: undefined }), 'done', 'ok'));
  assert.equal(done.unit, 'records');
  assert.equal(done.total, null);
  assert.equal(done.eta_s, null);
  assert.equal(done.message, 'ok');
});

test('the rate follows the recent window and restarts when progress goes back', () => {
  const m = new RateMeter(10_000);
  m.sample(0, 0);
  assert.equal(m.rate(), undefined);
  m.sample(1000, 100);
  assert.equal(m.rate(), 100);
  for (let t = 2000; t <= 20_000; t += 1000) m.sample(t, 100 + (t - 1000) * 1); // 1000 units/s from t=1s
  assert.equal(m.rate(), 1000);
  m.sample(21_000, 10); // restarted transfer
  assert.equal(m.rate(), undefined);
  m.sample(22_000, 510);
  assert.equal(m.rate(), 500);
});

function fakeStream(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, columns: 60, write: (s: string) => chunks.push(s) } };
}

test('plain mode prints a line per interval and a final line', () => {
  let now = 0;
  const { chunks, stream } = fakeStream(false);
  const p = createProgress({ label: 'ingest', unit: 'items', total: 100, stream, now: () => now, plainIntervalMs: 5000 });
  assert.equal(p.mode, 'plain');
  for (let i = 1; i <= 100; i++) {
    now = i * 200; // 20 s in all, 5 items/s
    p.update(i);
    if (i % 10 === 0) p.count('failed');
  }
  p.finish('ingested 100 items');
  const text = chunks.join('');
  const lines = text.trimEnd().split('\n');
  // Renders at t=0.2s, 5.2s, 10.2s, 15.2s, then the final line and the message.
  assert.equal(lines.length, 6);
  assert.ok(!text.includes('\r'));
  assert.match(lines[1]!, /^ingest {2}26% {2}26\/100 {2}5\.00 items\/s {2}ETA 15s/);
  assert.equal(lines[4], 'ingest  100%  100/100  5.00 items/s  in 20s  failed 10');
  assert.equal(lines[5], 'ingested 100 items');
});

test('tty mode redraws in place, throttled, and logs above the bar', () => {
  let now = 0;
  const { chunks, stream } = fakeStream(true);
  const p = createProgress({ label: 'model', unit: 'bytes', total: 1000, stream, now: () => now, ascii: true });
  assert.equal(p.mode, 'tty');
  p.update(100);
  now = 50;
  p.update(200); // within 100 ms of the last draw: not drawn
  assert.equal(chunks.length, 1);
  now = 150;
  p.update(300);
  assert.equal(chunks.length, 2);
  assert.ok(chunks.every((c) => c.startsWith('\r\x1b[K') && !c.includes('\n')));
  assert.ok(chunks.every((c) => c.length - 4 <= 59));
  p.log('retrying onnx/model.onnx');
  assert.equal(chunks.at(-2), '\r\x1b[Kretrying onnx/model.onnx\n');
  assert.match(chunks.at(-1)!, /^\r\x1b\[Kmodel {2}\[#+-+\] {2}30%/);
  p.finish();
  assert.equal(chunks.at(-1), '\n');
  p.update(400); // after finish: nothing
  assert.equal(chunks.at(-1), '\n');
});

test('json mode writes parseable progress, log and done lines; silent writes nothing', () => {
  let now = 0;
  const { chunks, stream } = fakeStream(true);
  const p = createProgress({ label: 'model', unit: 'bytes', total: 10, mode: 'json', stream, now: () => now });
  p.update(5);
  p.log('hello');
  now = 2000;
  p.update(10);
  p.fail('disk full');
  const events = chunks.map((c) => JSON.parse(c));
  assert.deepEqual(
    events.map((e) => e.event),
    ['progress', 'log', 'progress', 'failed'],
  );
  assert.equal(events[3].message, 'disk full');
  assert.equal(events[3].done, 10);

  const quiet = fakeStream(true);
  const s = createProgress({ label: 'x', mode: 'silent', stream: quiet.stream });
  s.update(1);
  s.log('x');
  s.finish('y');
  assert.deepEqual(quiet.chunks, []);
  assert.equal(resolveMode('auto', { write: () => true, isTTY: false }), 'plain');
  assert.equal(resolveMode(undefined, { write: () => true, isTTY: true }), 'tty');
});
