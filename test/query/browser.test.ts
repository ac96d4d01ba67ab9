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
import sharp from 'sharp';
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

  // By default: hybrid, one card per product.
  await page.fill('#q', 'blaue Tasche');
  await page.press('#q', 'Enter');
  assert.equal((await firstHitIs('blue-bag')).product, 'blue-bag');
  assert.match(await page.textContent('#status') ?? '', /encode .* ms · search .* ms/);
  assert.match(await page.textContent('#status') ?? '', /hybrid rrf/);

  // A product card: photo, title in the query's language, SKU and price; matched words marked.
  const redHat = catalogue.byId.get('red-hat')!;
  await page.fill('#q', '赤い帽子');
  await page.click('#go');
  await firstHitIs('red-hat');
  const card = page.locator('[data-testid=hit]').first();
  assert.equal(await card.locator('[data-testid=title]').textContent(), '赤い帽子');
  assert.deepEqual(await card.locator('mark').allTextContents(), ['赤い帽子'], 'both words marked (adjacent spans merge)');
  assert.match(await card.textContent() ?? '', new RegExp(`SKU ${redHat.sku}.*€${redHat.price.toFixed(2)}`));
  await page.waitForFunction(() => {
    const img = document.querySelector('[data-testid=hit] img') as HTMLImageElement | null;
    return !!img && img.complete && img.naturalWidth > 0;
  });
  assert.equal(await card.locator('img').getAttribute('src'), `/v1/items/${redHat.imagePointId}/thumbnail`);

  // The Japanese title renders as text (CJK fonts present), not as missing-glyph boxes: its pixels
  // differ from the same element holding unassigned code points, which can only be boxes.
  const title = card.locator('[data-testid=title]');
  const glyphs = await title.screenshot();
  await title.evaluate((e) => {
    e.textContent = '\u0378\u0378\u0378\u0378';
  });
  const boxes = await title.screenshot();
  assert.notDeepEqual(await rawPixels(glyphs), await rawPixels(boxes), 'the Japanese title rendered as boxes: are fonts-noto-cjk installed?');

  // An exact SKU (which the test model's vectors know nothing of) brings its product first.
  const sku = catalogue.byId.get('green-cup')!.sku;
  await page.fill('#q', sku);
  await page.click('#go');
  await firstHitIs('green-cup');
  assert.match(await page.locator('[data-testid=hit]').first().textContent() ?? '', /words #\d/);

  // Ungrouped text hits are compact rows without an empty picture frame.
  await page.uncheck('input[name=group]');
  await page.selectOption('select[name=modality]', 'text');
  await page.fill('#q', 'red hat');
  await page.selectOption('select[name=qlang]', 'en');
  await page.click('#go');
  await firstHitIs('red-hat');
  assert.equal(await page.locator('.textrow').count() > 0, true);
  assert.equal(await page.locator('.textrow img').count(), 0);
  assert.deepEqual(await page.locator('.textrow').first().locator('mark').allTextContents(), ['red', 'hat']);
  assert.match(await page.textContent('#status') ?? '', /words as en/);

  // Choosing an image searches by it at once (dense) and clears the text box; one card per product.
  await page.selectOption('select[name=modality]', 'any');
  await page.check('input[name=group]');
  const target = catalogue.byId.get('green-cup')!;
  await page.setInputFiles('#file', target.imagePath);
  const first = await firstHitIs('green-cup');
  assert.equal(await page.inputValue('#q'), '');
  const products = await page.$$eval('[data-group=product]', (els) => els.map((e) => e.getAttribute('data-product')));
  assert.ok(products.length > 1);
  assert.equal(new Set(products).size, products.length, 'one card per product');
  assert.ok(first.id !== '');
  assert.match(await page.textContent('#status') ?? '', /candidates 64-d 400 → 256-d 100 → 1024-d 20 \(default\) · dense/);

  const artefacts = path.join(repoRoot, 'test-artifacts');
  mkdirSync(artefacts, { recursive: true });
  await page.selectOption('select[name=qlang]', 'auto');
  await page.fill('#q', '赤い帽子');
  await page.click('#go');
  await firstHitIs('red-hat');
  assert.equal(await page.locator('[data-testid=hit] [data-testid=title]').first().textContent(), '赤い帽子');
  await page.screenshot({ path: path.join(artefacts, 'search-page.png'), fullPage: true });
  assert.deepEqual(errors, []);
  assert.deepEqual(blocked, []);
});

async function rawPixels(png: Buffer): Promise<Buffer> {
  return sharp(png).removeAlpha().raw().toBuffer();
}
