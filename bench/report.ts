/**
 * report: the HTML report of a synthetic run of N episodes (100 and 10,000; --quick: 100 and 1,000) — file size
 * against the run's own Parquet bytes, build time against readRun of the same run, and the time headless chromium
 * takes to open it from file:// (navigation until the page says it is drawn) against a 1-episode report (the page's
 * fixed cost), plus the time to open one episode. Goals: 10,000 episodes under 50 MB, open within 5 s.
 * Run alone: `node --no-node-snapshot --import tsx bench/report.ts [--n 10000]`.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RunWriter, readRun, syntheticEpisodes } from '../datasets/index.ts';
import { writeReport } from '../report/index.ts';
import { chromiumMissing, launchChromium, type LaunchedBrowser } from '../test/helpers/browser.ts';
import { log, makeResult, median, sig, type BenchContext, type BenchResult, type Benchmark } from './lib.ts';

// Evaluated in chromium (the Node program has no DOM types).
declare const window: { __rlmReport?: { ready: boolean } };

const GOAL_MB = 50;
const GOAL_OPEN_MS = 5000;

function dirBytes(dir: string): number {
  let n = 0;
  for (const sub of ['episodes', 'steps']) for (const f of readdirSync(join(dir, sub))) n += statSync(join(dir, sub, f)).size;
  return n;
}

async function writeSynthetic(dir: string, n: number): Promise<void> {
  const w = await RunWriter.open(dir, { runId: `synthetic-${n}`, flushEvery: 500, manifest: { seed: 1 } });
  // Texts of ~400 chars, 1–6 turns, up to 4 sub-calls a turn: closer to a real small-model run than the defaults.
  for (let start = 0; start < n; start += 500) {
    for (const e of syntheticEpisodes({ runId: `synthetic-${n}`, n: Math.min(500, n - start), startIndex: start, textChars: 400, turns: [1, 6], maxSubCalls: 4, seed: 7 })) await w.add(e);
  }
  await w.close();
}

interface OpenTimes {
  /** navigation → the page has drawn its header, table, plots and list */
  openMs: number;
  /** navigation → the load event (every embedded chunk parsed) */
  loadMs: number;
  episodeMs: number;
}

async function openTimes(browser: LaunchedBrowser, file: string, reps: number): Promise<OpenTimes> {
  const open: number[] = [];
  const load: number[] = [];
  const episode: number[] = [];
  for (let i = 0; i < reps; i++) {
    const page = await browser.context.newPage();
    const t0 = performance.now();
    const loaded = page.waitForEvent('load', { timeout: 120_000 }).then(() => load.push(performance.now() - t0));
    await page.goto(pathToFileURL(file).href, { timeout: 120_000, waitUntil: 'commit' });
    await page.waitForFunction(() => window.__rlmReport?.ready === true, null, { timeout: 120_000, polling: 20 });
    open.push(performance.now() - t0);
    await loaded;
    const t1 = performance.now();
    await page.locator('#episode-list tbody tr').first().click();
    await page.locator('#episode-detail .turn').first().waitFor({ timeout: 60_000 });
    episode.push(performance.now() - t1);
    await page.close();
  }
  return { openMs: median(open), loadMs: median(load), episodeMs: median(episode) };
}

export async function benchReport(ctx: BenchContext, sizes = ctx.quick ? [100, 1000] : [100, 10_000]): Promise<BenchResult[]> {
  const why = chromiumMissing();
  const tmp = mkdtempSync(join(tmpdir(), 'rlm-bench-report-'));
  const browser = why ? null : await launchChromium();
  if (why) log(`report: ${why}; open times are not measured`);
  const results: BenchResult[] = [];
  try {
    const floorDir = join(tmp, 'run-1');
    await writeSynthetic(floorDir, 1);
    const floorFile = join(tmp, 'report-1.html');
    await writeReport([floorDir], { out: floorFile }); // also warms the bundle
    const floor = browser ? await openTimes(browser, floorFile, 3) : null;
    for (const n of sizes) {
      const dir = join(tmp, `run-${n}`);
      log(`report: writing a synthetic run of ${n} episodes`);
      await writeSynthetic(dir, n);
      const parquet = dirBytes(dir);
      const t0 = performance.now();
      await readRun(dir);
      const readMs = performance.now() - t0;
      const file = join(tmp, `report-${n}.html`);
      const t1 = performance.now();
      const r = await writeReport([dir], { out: file });
      const buildMs = performance.now() - t1;
      const mb = r.bytes / 1e6;
      const times = browser ? await openTimes(browser, file, n >= 5000 ? 2 : 3) : null;
      log(`report ${n}: ${sig(mb, 3)} MB (Parquet ${sig(parquet / 1e6, 3)} MB), build ${Math.round(buildMs)} ms (readRun ${Math.round(readMs)} ms)${times ? `, drawn ${Math.round(times.openMs)} ms, load event ${Math.round(times.loadMs)} ms, episode ${Math.round(times.episodeMs)} ms` : ''}`);
      results.push(
        makeResult({
          name: `report_size_${n}`,
          value: mb,
          unit: 'MB (one HTML file)',
          baseline: "the run's Parquet part files",
          baseline_value: parquet / 1e6,
          goal: n >= 10_000 ? `≤ ${GOAL_MB} MB at 10,000 episodes` : '(informational)',
          goal_met: n >= 10_000 ? mb <= GOAL_MB : null,
          episodes: n,
          build_ms: Math.round(buildMs),
          read_run_ms: Math.round(readMs),
        }),
      );
      if (times && floor) {
        results.push(
          makeResult({
            name: `report_open_${n}`,
            value: times.openMs,
            unit: 'ms from navigation to drawn (headless chromium, file://)',
            baseline: 'the same page with 1 episode',
            baseline_value: floor.openMs,
            goal: `≤ ${GOAL_OPEN_MS} ms`,
            goal_met: times.openMs <= GOAL_OPEN_MS,
            episodes: n,
            load_event_ms: Math.round(times.loadMs),
            open_episode_ms: Math.round(times.episodeMs),
          }),
        );
      }
    }
  } finally {
    await browser?.close();
    rmSync(tmp, { recursive: true, force: true });
  }
  return results;
}

export const report: Benchmark = {
  id: 'report',
  run: (ctx) => benchReport(ctx),
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const i = process.argv.indexOf('--n');
  const sizes = i > 0 ? [Number(process.argv[i + 1])] : undefined;
  const r = await benchReport({ quick: false, select: null }, sizes);
  process.stdout.write(JSON.stringify(r, null, 2) + '\n');
}
