/**
 * The generated report opened from file:// in headless Debian chromium (playwright-core, no browser download):
 * no console errors and no network requests, every chart has drawn marks, the results table has the expected rows,
 * and choosing an episode shows its turns, highlighted code, REPL output, sub-calls and nested child episodes.
 * A screenshot lands in test-output/report-browser/ (gitignored). Skipped, with the reason, only without chromium.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as arrow from 'apache-arrow';
import { EPISODE_COLUMNS, RunWriter, encodeRows, episodeRow, readRun, syntheticEpisodes, toArrowSchema, type ColumnDef } from '../datasets/index.ts';
import { writeReport } from '../report/index.ts';
import { chromiumMissing, launchChromium, type LaunchedBrowser } from './helpers/browser.ts';

// The page.evaluate callbacks run in chromium; the Node program has no DOM types, so the few page names are declared here.
interface PageChart {
  getOption(): unknown;
  setOption(option: Record<string, unknown>): void;
}
declare const window: { __rlmReport?: { ready: boolean; error?: string; charts: Record<string, PageChart> } };
declare const document: { createElement(tag: 'canvas'): { getContext(k: '2d'): { fillStyle: string } | null }; querySelectorAll(sel: string): Iterable<{ getAttribute(n: string): string | null }> };
declare const CSS: { escape(s: string): string };

const root = path.resolve(import.meta.dirname, '..');
const outDir = path.join(root, 'test-output', 'report-browser');
const missing = chromiumMissing();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rlm-report-browser-'));
const sweep = path.join(tmp, 'reference-sweep');
const nested = path.join(tmp, 'nested');
const reportFile = path.join(outDir, 'report.html');
const HOSTILE = '</script><script>window.__pwned = 1</script><b id="injected">bold?</b> <!-- ';
let browser: LaunchedBrowser;

/** A small run whose episode 000000 has two rlm_query children (the columns issue 9 adds), written by hand. */
async function writeNestedRun(): Promise<void> {
  const eps = syntheticEpisodes({ runId: 'nested', n: 3, seed: 4, groupSize: 3 });
  // Model output is text, never markup: a reply that tries to close the data element and inject HTML.
  eps[0].steps[0].reply = `${HOSTILE}\n${eps[0].steps[0].reply}`;
  const w = await RunWriter.open(nested, { runId: 'nested', manifest: { seed: 4 } });
  for (const e of eps) await w.add(e);
  await w.close();
  const c = (name: string, type: arrow.DataType): ColumnDef => ({ name, type, nullable: true, description: '' });
  const schema = toArrowSchema([...EPISODE_COLUMNS, c('root_episode_id', new arrow.Utf8()), c('parent_episode_id', new arrow.Utf8()), c('depth', new arrow.Int32())]);
  const rows = eps.map((e, i) => ({ ...episodeRow(e), root_episode_id: i ? '000000' : null, parent_episode_id: i ? '000000' : null, depth: i ? 1 : 0 }));
  fs.writeFileSync(path.join(nested, 'episodes', 'part-00000.parquet'), encodeRows(schema, rows));
}

describe.skipIf(missing !== null)('report in a real browser', () => {
  beforeAll(async () => {
    fs.mkdirSync(outDir, { recursive: true });
    const r = spawnSync(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'scripts/rollout.ts', '--task', 'sniah,oolong', '--n', '1', '--context-tokens', '2^11..2^12', '--out', sweep, '--quiet'], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    await writeNestedRun();
    await writeReport([sweep, nested], { out: reportFile });
    browser = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('opens from file:// with no console errors or requests; charts drawn; table rows; episodes show turns, code, sub-calls and children', async () => {
    const page = await browser.context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (req) => {
      if (!req.url().startsWith('file://')) problems.push(`request: ${req.url()}`);
    });
    await page.goto(`file://${reportFile}`);
    await page.waitForFunction(() => window.__rlmReport?.ready === true || window.__rlmReport?.error !== undefined, null, { timeout: 30_000 });
    expect(await page.evaluate(() => window.__rlmReport?.error ?? null)).toBeNull();

    // The results table: one row per family of either run, then "all"; one column group per run.
    const rows = await page.locator('#results-table tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-family')));
    const families = [...new Set([...(await readRun(sweep)).episodes, ...(await readRun(nested)).episodes].map((e) => e.task_family))];
    expect(rows).toEqual([...families, 'all']);
    expect(await page.locator('#results-table thead tr').first().locator('th.group').allTextContents()).toEqual(['reference-sweep', 'nested']);

    // Choose an oolong episode of the sweep: turns, highlighted code, REPL output, sub-calls with prompt and response.
    await page.selectOption('#f-run', '0');
    await page.selectOption('#f-family', 'oolong');
    const listed = page.locator('#episode-list tbody tr');
    expect(await listed.count()).toBe(2);
    await listed.first().click();
    const detail = page.locator('#episode-detail');
    await detail.locator('.turn').first().waitFor();
    const ep = (await readRun(sweep)).episodes.find((e) => e.task_family === 'oolong')!;
    expect(await detail.locator('.turn').count()).toBe(ep.turns);
    expect(await detail.locator('pre.code code.hljs .hljs-keyword').count()).toBeGreaterThan(0);
    expect(await detail.locator('pre.obs').count()).toBeGreaterThan(0);
    const subcall = detail.locator('details.subcall').first();
    await subcall.locator('summary').first().click();
    await expect.poll(() => subcall.locator('pre.response').count()).toBe(1);
    await subcall.locator('details summary', { hasText: 'prompt' }).click();
    expect((await subcall.locator('pre.prompt').textContent())!.length).toBeGreaterThan(20);
    expect(await detail.locator('.final .answers pre').first().textContent()).toBe(ep.final_answer);
    expect(await detail.locator('table.components tbody tr').count()).toBe(Object.keys(ep.reward_components).length + 1);
    await page.screenshot({ path: path.join(outDir, 'report.png'), fullPage: true });

    // The nested run: child episodes hidden from the list by default, nested under their parent.
    await page.selectOption('#f-run', '1');
    await page.selectOption('#f-family', '');
    expect(await listed.count()).toBe(1);
    await listed.first().click();
    expect(await detail.locator('pre.reply').first().textContent()).toContain(HOSTILE);
    expect(await page.locator('#injected').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned ?? null)).toBeNull();
    const children = detail.locator('section.children');
    await children.waitFor();
    expect(await children.locator(':scope > details').count()).toBe(2);
    await children.locator(':scope > details > summary').first().click();
    await children.locator('.child article.episode .turn').first().waitFor();
    await page.check('#f-children');
    expect(await listed.count()).toBe(3);

    // Text search: the list's own fields first; with "in turns too", the replies, code and outputs as well.
    await page.selectOption('#f-run', '');
    await page.uncheck('#f-children');
    await page.fill('#f-text', 'headLines'); // a variable of the reference policy's oolong code, in no question
    await expect.poll(async () => (await page.locator('#episode-count').textContent())!).toMatch(/^0 of 5 episodes/);
    await page.check('#f-deep');
    await expect.poll(async () => (await page.locator('#episode-count').textContent())!).toMatch(/^2 of 5 episodes/);
    expect(await listed.locator('td:nth-child(3)').allTextContents()).toEqual(['oolong', 'oolong']);
    // Every chart has drawn marks: elements painted in a series colour (legend hidden), compared with the same chart
    // once its series are emptied — the difference is what the data drew: at least one mark per series with data.
    const marks = await page.evaluate(() => {
      const ctx = document.createElement('canvas').getContext('2d')!;
      const norm = (c: string | null) => {
        if (!c || c === 'none' || c === 'transparent') return null;
        ctx.fillStyle = '#010203';
        ctx.fillStyle = c;
        return ctx.fillStyle === '#010203' ? null : ctx.fillStyle;
      };
      const out: Record<string, { series: number; drawn: number }> = {};
      for (const [id, chart] of Object.entries(window.__rlmReport!.charts)) {
        const opt = chart.getOption() as { color: string[]; series: { data?: unknown[] }[] };
        const palette = new Set(opt.color.map(norm));
        const painted = () => {
          let n = 0;
          for (const node of document.querySelectorAll(`[data-chart="${CSS.escape(id)}"] svg :is(path, rect, circle, polyline)`)) {
            if (palette.has(norm(node.getAttribute('fill'))) || palette.has(norm(node.getAttribute('stroke')))) n++;
          }
          return n;
        };
        chart.setOption({ legend: { show: false } });
        const full = painted();
        chart.setOption({ series: opt.series.map(() => ({ data: [] })) });
        out[id] = { series: opt.series.filter((s) => (s.data ?? []).some((x) => x !== null && !(Array.isArray(x) && x.length === 0))).length, drawn: full - painted() };
      }
      return out;
    });
    expect(Object.keys(marks).sort()).toEqual(['components', 'cost', 'score-oolong', 'score-sniah', 'stops', 'subcalls', 'turns'].sort());
    for (const [id, m] of Object.entries(marks)) {
      expect(m.series, id).toBeGreaterThan(0);
      expect(m.drawn, id).toBeGreaterThanOrEqual(m.series);
    }
    expect(problems).toEqual([]);
  }, 120_000);
});

describe.skipIf(missing === null)('report in a real browser', () => {
  it.skip(`SKIPPED — ${missing}`, () => {});
});
