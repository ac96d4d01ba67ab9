/**
 * The search page in headless Chromium against a real socket: queries typed in two languages and
 * an uploaded image each bring the expected product first, thumbnails load through the service,
 * and a screenshot is kept as a test artefact (test-artifacts/search-page.png).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startQueryService, type RunningQueryService } from '../../services/query/server.ts';
import type { SeededCatalogue } from './support/catalogue.ts';
import { openQueryFixture, type QueryFixture } from './support/fixture.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
let fixture: QueryFixture;
let catalogue: SeededCatalogue;
let service: RunningQueryService;
let browser: Browser;
let page: Page;

before(async () => {
  fixture = await openQueryFixture('browser', { HOST: '127.0.0.1', PORT: '0' });
  catalogue = fixture.catalogue;
  const { config, encoder, store } = fixture;
  service = await startQueryService(config, { encoder, store: { client: store.client, url: store.url } });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
});

after(async () => {
  await browser?.close();
  await service?.close();
  await fixture?.close();
});

/** Waits until a search has rendered results whose first card belongs to `product`. */
async function firstHitIs(product: string): Promise<{ id: string; product: string }> {
  await page.waitForFunction(
    (p) => document.querySelector('[data-testid=hit]')?.getAttribute('data-product') === p && !/Searching/.test(document.querySelector('#status')?.textContent ?? ''),
    product,
    { timeout: 20_000 },
  );
  return page.$eval('[data-testid=hit]', (el) => ({ id: el.getAttribute('data-id') ?? '', product: el.getAttribute('data-product') ?? '' }));
}

test('typing queries in two languages and uploading an image bring the expected product first', async () => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // The page's policy has no 'unsafe-inline': anything it blocked would show here.
  const blocked: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) blocked.push(m.text());
  });
  await page.goto(`${service.url}/`);
  // The header shows the collection from /v1/collections, and the test-model warning.
  await page.waitForFunction(() => /items/.test(document.querySelector('#meta')?.textContent ?? ''));
  assert.match(await page.textContent('#meta') ?? '', new RegExp(`^${catalogue.points} items`));
  assert.match(await page.textContent('#warn') ?? '', /TEST MODEL/);

  await page.fill('#q', 'blaue Tasche');
  await page.press('#q', 'Enter');
  assert.equal((await firstHitIs('blue-bag')).product, 'blue-bag');
  assert.match(await page.textContent('#status') ?? '', /encode .* ms · search .* ms/);

  await page.fill('#q', '赤い靴');
  await page.click('#go');
  await firstHitIs('red-shoe');

  // Choosing an image searches by it at once and clears the text box; results grouped by product.
  const target = catalogue.byId.get('green-cup')!;
  await page.check('input[name=group]');
  await page.setInputFiles('#file', target.imagePath);
  const first = await firstHitIs('green-cup');
  assert.equal(first.id, target.imagePointId);
  assert.equal(await page.inputValue('#q'), '');
  const groups = await page.$$eval('[data-testid=group]', (els) =>
    els.map((g) => [...g.querySelectorAll('[data-testid=hit]')].map((h) => [h.getAttribute('data-product'), h.getAttribute('data-modality')])),
  );
  assert.ok(groups.length > 1, 'results are grouped by product');
  for (const hits of groups) assert.equal(new Set(hits.map(([p]) => p)).size, 1, 'one product per group');
  // The image's own product group holds its titles too (image and texts share the space).
  assert.deepEqual(new Set(groups[0]!.map(([, m]) => m)), new Set(['image', 'text']));
  assert.match(await page.textContent('#status') ?? '', /candidates 64-d 400 → 256-d 100 → 1024-d 20 \(default\)/);
  // The thumbnail came through the service and decoded.
  await page.waitForFunction(() => {
    const img = document.querySelector('[data-testid=hit] img') as HTMLImageElement | null;
    return !!img && img.complete && img.naturalWidth > 0;
  });
  const src = await page.$eval('[data-testid=hit] img', (img) => (img as HTMLImageElement).src);
  assert.equal(src, `${service.url}/v1/items/${target.imagePointId}/thumbnail`);

  const artefacts = path.join(repoRoot, 'test-artifacts');
  mkdirSync(artefacts, { recursive: true });
  await page.screenshot({ path: path.join(artefacts, 'search-page.png'), fullPage: true });
  assert.deepEqual(errors, []);
  assert.deepEqual(blocked, []);
});
