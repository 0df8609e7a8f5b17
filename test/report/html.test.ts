// The HTML report in a real browser (headless Debian Chromium): it opens without console errors,
// loads nothing but itself, and every chart draws something.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { runPaysignal } from '../support/cli.ts';
import { startChromium, type RunningChromium } from '../support/chromium.ts';
import { lastCompleteWeek, shiftWeek } from '../../src/report/week.ts';
import { ndjson, syntheticEvents } from './fixtures.ts';

const week = lastCompleteWeek(Date.now());
const emptyWeek = shiftWeek(week, -5);

let dir: string;
let browser: RunningChromium;
let reportFile: string;
let emptyFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paysignal-report-html-'));
  const logFile = join(dir, 'events.ndjson');
  await writeFile(logFile, ndjson(syntheticEvents(shiftWeek(week, -1), week)));
  const out = join(dir, 'paysignal-{week}.html');
  const [full, empty, chromium] = await Promise.all([
    runPaysignal(['report', '--week', week.label, '--source', 'logs', '--format', 'html', '--out', out, logFile], { timeoutMs: 60_000 }),
    runPaysignal(['report', '--week', emptyWeek.label, '--source', 'logs', '--format', 'html', '--out', out, logFile], { timeoutMs: 60_000 }),
    startChromium(),
  ]);
  browser = chromium;
  for (const r of [full, empty]) if (r.code !== 0) throw new Error(`paysignal report failed: ${r.stderr}`);
  reportFile = join(dir, `paysignal-${week.label}.html`);
  emptyFile = join(dir, `paysignal-${emptyWeek.label}.html`);
});

afterAll(async () => {
  await browser?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Opened {
  page: Page;
  /** Console messages of every level, page errors, and failed requests. */
  problems: string[];
  /** Every URL the page requested. */
  requests: string[];
}

async function open(file: string): Promise<Opened> {
  const page = await browser.context.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => problems.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`requestfailed: ${r.url()}`));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  return { page, problems, requests };
}

// The few browser globals the pixel count uses (the project's TypeScript has no DOM library).
interface BrowserImage {
  src: string;
  readonly naturalWidth: number;
  readonly naturalHeight: number;
  decode(): Promise<void>;
}
interface BrowserGlobals {
  Image: new () => BrowserImage;
  document: {
    createElement(tag: 'canvas'): {
      width: number;
      height: number;
      getContext(kind: '2d'): { drawImage(img: BrowserImage, x: number, y: number): void; getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
    };
  };
}

/** Pixels of a PNG (decoded by the browser itself) that are not page background, and how many colours. */
async function inkIn(png: Buffer): Promise<{ width: number; height: number; ink: number; colours: number }> {
  const page = await browser.context.newPage();
  try {
    return await page.evaluate(async (b64: string) => {
      const { Image, document } = globalThis as unknown as BrowserGlobals;
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      const ctx = canvas.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      let ink = 0;
      const colours = new Set<number>();
      for (let i = 0; i < data.length; i += 4) {
        const [r, g, b] = [data[i]!, data[i + 1]!, data[i + 2]!];
        colours.add((r << 16) | (g << 8) | b);
        if (r < 235 || g < 235 || b < 235) ink++;
      }
      return { width: canvas.width, height: canvas.height, ink, colours: colours.size };
    }, png.toString('base64'));
  } finally {
    await page.close();
  }
}

describe('the HTML report in headless Chromium', () => {
  it('is one self-contained file: no scripts, no external resources', async () => {
    const html = await readFile(reportFile, 'utf8');
    expect(html).not.toMatch(/<script|<link|<iframe|src="http|url\(http/i);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'`);
    const { page, problems, requests } = await open(reportFile);
    expect(requests).toEqual([pathToFileURL(reportFile).href]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('opens without console errors, with every section and a drawn chart for each chart', async () => {
    const { page, problems } = await open(reportFile);
    expect(await page.title()).toBe(`Payment provider errors: week ${week.label}`);
    expect(await page.locator('h2').allTextContents()).toEqual([
      'Headline', 'Providers', 'Errors per provider and day', 'Top movers', 'New codes this week', 'By category',
      'By retry decision', 'Retry violations', 'Retries and retry storms', 'Alerts fired', 'What to fix first',
    ]);
    expect(await page.locator('#headline .tile .v').allTextContents()).toEqual(['1,267', '117', '9.23%']);

    const charts = page.locator('figure.chart');
    expect(await charts.evaluateAll((els) => els.map((e) => e.getAttribute('data-chart')))).toEqual(['daily-errors', 'movers', 'categories']);
    for (const chart of await charts.all()) {
      const svg = chart.locator('svg');
      const box = await svg.boundingBox();
      expect(box!.width).toBeGreaterThan(400);
      expect(box!.height).toBeGreaterThan(120);
      const shot = await svg.screenshot();
      const pixels = await inkIn(shot);
      expect(pixels.width).toBe(Math.round(box!.width));
      // Bars, axes and labels: a good share of the chart is drawn, in several colours.
      expect(pixels.ink / (pixels.width * pixels.height)).toBeGreaterThan(0.02);
      expect(pixels.colours).toBeGreaterThan(8);
    }
    // The daily chart has one series (legend entry) per provider that had errors.
    const legend = await page.locator('#chart-daily-errors svg text').allTextContents();
    for (const provider of ['mercadopago', 'kustom', 'setel', 'digitalriver', 'stablegenius']) expect(legend).toContain(provider);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('for an empty week opens cleanly and says so, with no charts', async () => {
    const { page, problems } = await open(emptyFile);
    expect(await page.locator('#headline').textContent()).toContain(`No payment-provider calls were recorded in ${emptyWeek.label}`);
    expect(await page.locator('figure.chart').count()).toBe(0);
    expect(await page.locator('#daily').textContent()).toContain('No errors this week.');
    expect(problems).toEqual([]);
    await page.close();
  });
});
