/** The run headers and the paper-style results table (families as rows, one column group per run). */
import type { FamilyStats, ReportData, RunHeader } from '../payload.ts';
import { el } from './dom.ts';
import { fmtCompact, fmtInt, fmtNum, fmtSeconds, fmtSize, fmtUsd } from './format.ts';

function kv(k: string, v: Node | string): HTMLElement {
  return el('div', { class: 'kv' }, el('span', { class: 'k' }, k), el('span', { class: 'v' }, v));
}

export function renderHeaders(d: ReportData, host: HTMLElement): void {
  d.runs.forEach((r: RunHeader, i) => {
    const models = Object.entries(r.models).map(([role, ids]) => `${role}: ${ids.join(', ')}`).join(' · ') || '—';
    const endpoints = r.endpoints.map((e) => `${e.role ? e.role + ': ' : ''}${e.url}${e.served.length ? ` (serves ${e.served.join(', ')})` : ''}`).join(' · ') || '—';
    const stops = Object.entries(r.byStopReason).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${fmtInt(v)}`).join(' · ');
    host.appendChild(
      el('section', { class: 'run-header', 'data-run': i },
        el('h3', null, el('span', { class: 'swatch', style: `background:var(--run${i % 8})` }), r.label),
        el('div', { class: 'kvs' },
          kv('models', models),
          kv('endpoints', endpoints),
          kv('seed', r.seed.map((s) => (s === null ? '—' : String(s))).join(', ')),
          kv('episodes', `${fmtInt(r.episodes)}${r.childEpisodes ? ` (+ ${fmtInt(r.childEpisodes)} child rlm_query episodes)` : ''} · ${fmtInt(r.steps)} turns`),
          kv('status', `${r.status.join(', ')} · correct ${fmtInt(r.correct)} · terminated ${fmtInt(r.terminated)} · truncated ${fmtInt(r.truncated)} · errors ${fmtInt(r.errors)} · reward errors ${fmtInt(r.rewardErrors)}${r.completionTruncated !== null ? ` · completion truncated ${fmtInt(r.completionTruncated)}` : ''}`),
          kv('stop reasons', stops || '—'),
          kv('families · sizes', `${r.families.join(', ')} · ${r.sizes.map(fmtSize).join(', ')} tokens`),
          kv('wall time', `${fmtSeconds(r.wallSeconds)}${r.startedAt ? ` (${r.startedAt} → ${r.endedAt ?? 'not ended'})` : ''} · ${fmtSeconds(r.episodeSeconds)} summed over episodes`),
          r.shards ? kv('shards', `${r.shards.present.length} of ${r.shards.count}${r.shards.missing.length ? ` — missing ${r.shards.missing.join(', ')}` : ''}`) : null,
          kv('rlm-gym', `${r.versions.join(', ')} · git ${r.gitCommits.map((c) => c.slice(0, 12)).join(', ') || 'unknown'}`),
          kv('reward', r.rewardSpec ?? '—'),
          kv('command', el('code', null, r.command)),
          kv('directories', r.dirs.join(' · ')),
        ),
        ...r.notes.map((n) => el('p', { class: 'note' }, `⚠ ${n}`)),
      ),
    );
  });
}

const COLS: { label: string; cell: (f: FamilyStats) => string; title: string }[] = [
  { label: 'n', cell: (f) => fmtInt(f.n), title: 'episodes' },
  { label: 'score', cell: (f) => fmtNum(f.scoreMean, 3), title: 'mean task score in [0, 1]' },
  { label: '% correct', cell: (f) => fmtNum(f.correctPct, 1), title: 'share the scorer judged correct' },
  {
    label: 'cost',
    cell: (f) => (f.costUnit === 'usd' ? `${fmtUsd(f.costMean)} ± ${fmtUsd(f.costSd)}` : `${fmtCompact(f.costMean)} ± ${f.costSd === null ? '—' : fmtCompact(f.costSd)} tok`),
    title: 'mean ± sample sd per episode: USD when the run was priced, else root + sub tokens',
  },
  { label: 'root tok', cell: (f) => fmtCompact(f.rootTokensMean), title: 'mean root prompt + completion tokens per episode' },
  { label: 'sub tok', cell: (f) => fmtCompact(f.subTokensMean), title: 'mean sub-call prompt + completion tokens per episode' },
  { label: 'turns', cell: (f) => fmtNum(f.turnsMean, 1), title: 'mean root turns per episode' },
  { label: 'sub-calls', cell: (f) => fmtNum(f.subCallsMean, 1), title: 'mean sub-calls per episode' },
];

export function renderResultsTable(d: ReportData, host: HTMLElement): void {
  const rows = [...d.families, ...(d.aggregates.some((a) => a.families.some((f) => f.family === 'all')) ? ['all'] : [])];
  const head1 = el('tr', null, el('th', { rowspan: 2 }, 'family'), ...d.runs.map((r, i) => el('th', { colspan: COLS.length, class: `group g${i % 2}` }, r.label)));
  const head2 = el('tr', null, ...d.runs.flatMap((_, i) => COLS.map((c) => el('th', { title: c.title, class: `g${i % 2}` }, c.label))));
  const body = el('tbody');
  for (const fam of rows) {
    body.appendChild(
      el('tr', { 'data-family': fam, class: fam === 'all' ? 'total' : null },
        el('th', { scope: 'row' }, fam),
        ...d.aggregates.flatMap((a, i) => {
          const f = a.families.find((x) => x.family === fam);
          return COLS.map((c) => el('td', { class: `g${i % 2}` }, f ? c.cell(f) : '—'));
        }),
      ),
    );
  }
  host.appendChild(el('div', { class: 'table-wrap' }, el('table', { class: 'results', id: 'results-table' }, el('thead', null, head1, head2), body)));
}
