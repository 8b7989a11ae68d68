/**
 * The report page's entry point: reads the inlined data, draws the run headers, the results table, the plots and the
 * trajectory viewer. `window.__rlmReport` exposes the chart instances and a ready flag (the browser test reads them).
 */
import type { ReportData } from '../payload.ts';
import { renderCharts, type Chart } from './charts.ts';
import { el } from './dom.ts';
import { renderEpisodes } from './episodes.ts';
import { renderHeaders, renderResultsTable } from './tables.ts';

declare global {
  interface Window {
    __rlmReport?: { ready: boolean; charts: Record<string, Chart>; data: ReportData; error?: string };
  }
}

function section(id: string, title: string): HTMLElement {
  const s = el('section', { id, class: 'block' }, el('h2', null, title));
  document.getElementById('app')!.appendChild(s);
  return s;
}

function main(): void {
  const data = JSON.parse(document.getElementById('report-data')!.textContent ?? '{}') as ReportData;
  window.__rlmReport = { ready: false, charts: {}, data };
  document.title = data.title;
  const app = document.getElementById('app')!;
  app.appendChild(
    el('header', { class: 'top' },
      el('h1', null, data.title),
      el('p', { class: 'muted' }, `${data.generator} · generated ${data.generatedAt} · ${data.runs.length} run${data.runs.length > 1 ? 's' : ''} · ${data.episodes.length.toLocaleString('en-US')} episodes`),
      el('nav', null, ...[['runs', 'Runs'], ['results', 'Results'], ['plots', 'Plots'], ['trajectories', 'Trajectories']].map(([id, t]) => el('a', { href: `#${id}` }, t))),
    ),
  );
  renderHeaders(data, section('runs', 'Runs'));
  renderResultsTable(data, section('results', 'Results by family'));
  window.__rlmReport.charts = renderCharts(data, section('plots', 'Plots'));
  renderEpisodes(data, section('trajectories', 'Trajectories'));
  window.__rlmReport.ready = true;
}

try {
  main();
} catch (e) {
  const msg = e instanceof Error ? e.stack ?? e.message : String(e);
  if (window.__rlmReport) window.__rlmReport.error = msg;
  document.body.appendChild(el('pre', { class: 'error' }, `The report failed to render: ${msg}`));
  throw e;
}
