/**
 * The plots, drawn with Apache ECharts (SVG renderer, only the chart types used are bundled): score vs context length
 * per family on a log2 axis (the paper's Fig. 1), the cost/tokens distribution per family with quartiles and tail
 * (Fig. 3), histograms of turns and sub-calls, reward components and stop reasons. One series per run.
 */
import * as echarts from 'echarts/core';
import { BarChart, BoxplotChart, LineChart, ScatterChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TitleComponent, TooltipComponent } from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';
import type { ReportData } from '../payload.ts';
import { el } from './dom.ts';
import { fmtCompact, fmtNum, fmtSize, fmtUsd } from './format.ts';

echarts.use([LineChart, BarChart, BoxplotChart, ScatterChart, GridComponent, LegendComponent, TitleComponent, TooltipComponent, SVGRenderer]);

/** Series colours, one per run (Okabe–Ito, readable for colour-blind viewers). */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#D55E00', '#56B4E9', '#F0E442', '#000000'];

export type Chart = echarts.ECharts;

const base = {
  color: PALETTE,
  animation: false,
  textStyle: { fontFamily: 'system-ui, sans-serif' },
  tooltip: { trigger: 'axis' as const, confine: true },
  grid: { left: 64, right: 24, top: 48, bottom: 48 },
};

function mount(host: HTMLElement, id: string, title: string, option: Record<string, unknown>, charts: Record<string, Chart>): void {
  const box = el('div', { class: 'chart', 'data-chart': id });
  host.appendChild(el('figure', { class: 'chart-card' }, el('figcaption', null, title), box));
  const chart = echarts.init(box, null, { renderer: 'svg' });
  chart.setOption({ ...base, ...option });
  charts[id] = chart;
}

const legendFor = (d: ReportData) => ({ top: 4, data: d.runs.map((r) => r.label) });

export function renderCharts(d: ReportData, host: HTMLElement): Record<string, Chart> {
  const charts: Record<string, Chart> = {};
  const runs = d.runs.map((r) => r.label);

  // Fig. 1: score vs context length, one small chart per family.
  const fig1 = el('div', { class: 'chart-grid' });
  host.appendChild(el('h3', null, 'Score vs context length'));
  host.appendChild(fig1);
  for (const fam of d.families) {
    mount(fig1, `score-${fam}`, `${fam}: mean score by context length (tokens, log₂ axis)`, {
      legend: legendFor(d),
      tooltip: {
        trigger: 'item',
        formatter: (p: { seriesName: string; data: [number, number, number, number] }) =>
          `${p.seriesName}<br>${fmtSize(p.data[0])} tokens: score ${fmtNum(p.data[1], 3)} · ${fmtNum(p.data[2], 1)}% correct · n ${p.data[3]}`,
      },
      xAxis: { type: 'log', logBase: 2, name: 'tokens', nameLocation: 'middle', nameGap: 28, axisLabel: { formatter: (v: number) => fmtSize(v) } },
      yAxis: { type: 'value', min: 0, max: 1, name: 'score' },
      series: d.aggregates.map((a, i) => ({
        name: runs[i],
        type: 'line',
        symbolSize: 8,
        data: (a.curves[fam] ?? []).map((p) => [p.size, p.scoreMean, p.correctPct, p.n]),
      })),
    }, charts);
  }

  // Fig. 3: cost (or tokens) per episode, quartiles and tail.
  const usd = d.costUnit === 'usd';
  const fmtCost = (v: number) => (usd ? fmtUsd(v) : fmtCompact(v));
  const allPositive = d.aggregates.every((a) => Object.values(a.costDist).every((q) => q.min > 0));
  host.appendChild(el('h3', null, usd ? 'Cost per episode' : 'Tokens per episode'));
  const dist = el('div', { class: 'chart-grid wide' });
  host.appendChild(dist);
  const boxSeries = d.aggregates.map((a, i) => ({
    name: runs[i],
    type: 'boxplot',
    itemStyle: { color: 'transparent', borderColor: PALETTE[i % PALETTE.length], borderWidth: 1.5 },
    tooltip: {
      formatter: (p: { name: string; seriesName: string }) => {
        const q = a.costDist[p.name];
        return q
          ? `${p.seriesName} · ${p.name} (n ${q.n})<br>min ${fmtCost(q.min)} · p25 ${fmtCost(q.p25)} · median ${fmtCost(q.p50)} · p75 ${fmtCost(q.p75)}<br>p90 ${fmtCost(q.p90)} · p95 ${fmtCost(q.p95)} · p99 ${fmtCost(q.p99)} · max ${fmtCost(q.max)} · mean ${fmtCost(q.mean)}`
          : '';
      },
    },
    // Whiskers: min and p95; the tail beyond p95 is drawn as points (p99, max).
    data: d.families.map((f) => {
      const q = a.costDist[f];
      return q ? [q.min, q.p25, q.p50, q.p75, q.p95] : [];
    }),
  }));
  const tailSeries = d.aggregates.map((a, i) => ({
    name: runs[i],
    type: 'scatter',
    symbol: 'diamond',
    symbolSize: 7,
    itemStyle: { color: PALETTE[i % PALETTE.length] },
    tooltip: { formatter: (p: { seriesName: string; data: [number, number, string] }) => `${p.seriesName} · tail: ${p.data[2]} ${fmtCost(p.data[1])}` },
    data: d.families.flatMap((f, fi) => {
      const q = a.costDist[f];
      return q ? [[fi, q.p99, 'p99'], [fi, q.max, 'max']] : [];
    }),
  }));
  mount(dist, 'cost', `${usd ? 'USD' : 'root + sub tokens'} per episode by family: box p25–p75 with median, whiskers min–p95, ◆ p99 and max`, {
    legend: legendFor(d),
    tooltip: { trigger: 'item', confine: true },
    xAxis: { type: 'category', data: d.families },
    yAxis: { type: allPositive ? 'log' : 'value', name: usd ? 'USD' : 'tokens', axisLabel: { formatter: (v: number) => fmtCost(v) } },
    series: [...boxSeries, ...tailSeries],
  }, charts);

  // Histograms, components and stop reasons.
  host.appendChild(el('h3', null, 'Turns, sub-calls, rewards, stop reasons'));
  const grid = el('div', { class: 'chart-grid' });
  host.appendChild(grid);
  for (const [id, title, pick] of [
    ['turns', 'Turns per episode', (a: ReportData['aggregates'][number]) => a.turns],
    ['subcalls', 'Sub-calls per episode', (a: ReportData['aggregates'][number]) => a.subCalls],
  ] as const) {
    const width = pick(d.aggregates[0]).binWidth;
    // Every bin from 0 to the largest, empty ones included, so the axis reads as a scale.
    const top = Math.max(0, ...d.aggregates.flatMap((a) => pick(a).bins.map(([lo]) => lo)));
    const edges = Array.from({ length: top / width + 1 }, (_, k) => k * width);
    const label = (lo: number) => (width === 1 ? String(lo) : `${lo}–${lo + width - 1}`);
    mount(grid, id, `${title} (episodes per bin)`, {
      legend: legendFor(d),
      xAxis: { type: 'category', data: edges.map(label), name: id === 'turns' ? 'turns' : 'sub-calls', nameLocation: 'middle', nameGap: 28 },
      yAxis: { type: 'value', name: 'episodes', minInterval: 1 },
      series: d.aggregates.map((a, i) => {
        const m = new Map(pick(a).bins);
        return { name: runs[i], type: 'bar', data: edges.map((lo) => m.get(lo) ?? 0) };
      }),
    }, charts);
  }
  const comps = [...new Set(d.aggregates.flatMap((a) => a.components.map((c) => c.name)))];
  mount(grid, 'components', 'Reward components: mean unweighted value (and the weighted total)', {
    legend: legendFor(d),
    xAxis: { type: 'category', data: comps, axisLabel: { interval: 0, rotate: comps.length > 4 ? 20 : 0 } },
    yAxis: { type: 'value' },
    series: d.aggregates.map((a, i) => {
      const m = new Map(a.components.map((c) => [c.name, c.mean]));
      return { name: runs[i], type: 'bar', data: comps.map((c) => (m.has(c) ? m.get(c)! : null)) };
    }),
  }, charts);
  const reasons = [...new Set(d.aggregates.flatMap((a) => Object.keys(a.stopReasons)))].sort();
  mount(grid, 'stops', 'Stop reasons (episodes)', {
    legend: legendFor(d),
    xAxis: { type: 'category', data: reasons, axisLabel: { interval: 0, rotate: reasons.length > 4 ? 20 : 0 } },
    yAxis: { type: 'value', minInterval: 1 },
    series: d.aggregates.map((a, i) => ({ name: runs[i], type: 'bar', data: reasons.map((r) => a.stopReasons[r] ?? 0) })),
  }, charts);

  window.addEventListener('resize', () => Object.values(charts).forEach((c) => c.resize()));
  return charts;
}
