/**
 * The trajectory viewer: a filterable, paged list of every episode, and for the chosen one its turns — reasoning
 * (collapsed), the reply, each code cell highlighted, the REPL output, its sub-calls (prompt and response collapsible,
 * tokens and latency), errors — then the final answer vs gold and every reward component. Child rlm_query episodes nest
 * under their parent.
 */
import hljs from 'highlight.js/lib/core';
import javascript from 'highlight.js/lib/languages/javascript';
import python from 'highlight.js/lib/languages/python';
import type { EpisodeDetail, EpisodeIndexRow, ReportData, StepDetail } from '../payload.ts';
import { loadChunk, loadDetail } from './chunks.ts';
import { el, lazyDetails, pre } from './dom.ts';
import { fmtCompact, fmtInt, fmtMs, fmtNum, fmtSize, fmtUsd } from './format.ts';
import { replyProse, splitThink } from './text.ts';

hljs.registerLanguage('javascript', javascript);
hljs.registerLanguage('python', python);

const PAGE = 100;

interface Filters {
  run: string;
  family: string;
  correct: string;
  stop: string;
  size: string;
  text: string;
  children: boolean;
  deep: boolean;
}

const keyOf = (r: number, id: string) => `${r}\u0000${id}`;

function select(id: string, label: string, options: [string, string][]): HTMLSelectElement {
  const s = el('select', { id, 'aria-label': label });
  for (const [v, t] of options) s.appendChild(el('option', { value: v }, t));
  return s;
}

function highlighted(code: string): HTMLElement {
  const lang = /^\s*(import |from \w+ import|def |print\()/m.test(code) && !/[;{}]\s*$/m.test(code) ? 'python' : 'javascript';
  const c = el('code', { class: `hljs language-${lang}` });
  c.innerHTML = hljs.highlight(code, { language: lang, ignoreIllegals: true }).value; // highlight.js escapes its input
  return el('pre', { class: 'code' }, c);
}

function badge(text: string, cls: string): HTMLElement {
  return el('span', { class: `badge ${cls}` }, text);
}

export function renderEpisodes(d: ReportData, host: HTMLElement): void {
  const rows = d.episodes;
  const families = [...new Set(rows.map((e) => e.fam))];
  const stops = [...new Set(rows.map((e) => e.stop))].sort();
  const sizes = [...new Set(rows.map((e) => e.size))].sort((a, b) => a - b);
  const hasChildren = rows.some((e) => e.depth > 0);
  const childrenOf = new Map<string, EpisodeIndexRow[]>();
  for (const e of rows) {
    if (e.depth === 0) continue;
    const k = keyOf(e.r, e.parent ?? e.root ?? '');
    const l = childrenOf.get(k);
    if (l) l.push(e);
    else childrenOf.set(k, [e]);
  }

  const runSel = select('f-run', 'run', [['', 'all runs'], ...d.runs.map((r, i): [string, string] => [String(i), r.label])]);
  const famSel = select('f-family', 'family', [['', 'all families'], ...families.map((f): [string, string] => [f, f])]);
  const okSel = select('f-correct', 'correct', [['', 'correct or not'], ['yes', 'correct'], ['no', 'not correct']]);
  const stopSel = select('f-stop', 'stop reason', [['', 'any stop reason'], ...stops.map((s): [string, string] => [s, s])]);
  const sizeSel = select('f-size', 'context size', [['', 'any size'], ...sizes.map((s): [string, string] => [String(s), `${fmtSize(s)} tokens`])]);
  const text = el('input', { id: 'f-text', type: 'search', placeholder: 'search id, question, answers, errors…', 'aria-label': 'text search' });
  const deep = el('input', { id: 'f-deep', type: 'checkbox' });
  const kids = el('input', { id: 'f-children', type: 'checkbox' });
  const count = el('span', { id: 'episode-count', class: 'muted' });
  const list = el('tbody');
  const pager = el('div', { class: 'pager' });
  const detail = el('div', { id: 'episode-detail', class: 'detail' }, el('p', { class: 'muted' }, 'Choose an episode in the list.'));

  host.appendChild(
    el('div', { class: 'viewer' },
      el('div', { class: 'list-pane' },
        el('div', { class: 'filters' },
          d.runs.length > 1 ? runSel : null, famSel, okSel, stopSel, sizeSel, text,
          el('label', { title: 'also search replies, code, REPL output and sub-calls (inflates the embedded episodes)' }, deep, ' in turns too'),
          hasChildren ? el('label', null, kids, ' child episodes') : null,
          count,
        ),
        el('div', { class: 'list-wrap' },
          el('table', { class: 'episodes', id: 'episode-list' },
            el('thead', null, el('tr', null, ...['run', 'id', 'family', 'size', 'score', '', 'stop', 'turns', 'sub', 'tokens', 'question'].map((h) => el('th', null, h)))),
            list,
          ),
        ),
        pager,
      ),
      detail,
    ),
  );

  let page = 0;
  let deepHits: Set<string> | null = null;
  let deepToken = 0;
  const filters = (): Filters => ({
    run: runSel.value, family: famSel.value, correct: okSel.value, stop: stopSel.value, size: sizeSel.value,
    text: text.value.trim().toLowerCase(), children: kids.checked, deep: deep.checked,
  });

  const matches = (e: EpisodeIndexRow, f: Filters): boolean => {
    if (!f.children && e.depth > 0) return false;
    if (f.run && e.r !== Number(f.run)) return false;
    if (f.family && e.fam !== f.family) return false;
    if (f.correct && e.ok !== (f.correct === 'yes')) return false;
    if (f.stop && e.stop !== f.stop) return false;
    if (f.size && e.size !== Number(f.size)) return false;
    if (!f.text) return true;
    const shallow = [e.id, e.q, e.ans ?? '', e.gold, e.err ?? '', e.grp].some((s) => s.toLowerCase().includes(f.text));
    return shallow || (f.deep && deepHits !== null && deepHits.has(keyOf(e.r, e.id)));
  };

  const runDeepSearch = async (q: string) => {
    const token = ++deepToken;
    const hits = new Set<string>();
    const n = Math.max(0, ...rows.map((e) => e.chunk)) + 1;
    for (let c = 0; c < n && rows.some((e) => e.chunk >= 0); c++) {
      const details = await loadChunk(c);
      if (token !== deepToken) return;
      for (const det of details) if (JSON.stringify(det.steps).toLowerCase().includes(q)) hits.add(keyOf(det.r, det.id));
      count.textContent = `searching turns… ${c + 1}/${n} chunks`;
    }
    deepHits = hits;
    refresh(false);
  };

  const refresh = (resetPage = true) => {
    if (resetPage) page = 0;
    const f = filters();
    const shown = rows.filter((e) => matches(e, f));
    const pages = Math.max(1, Math.ceil(shown.length / PAGE));
    page = Math.min(page, pages - 1);
    list.replaceChildren(
      ...shown.slice(page * PAGE, page * PAGE + PAGE).map((e) =>
        el('tr', { 'data-episode': e.id, 'data-run': e.r, class: e.chunk < 0 ? 'not-embedded' : null, onclick: () => open(e) },
          el('td', null, el('span', { class: 'swatch', style: `background:var(--run${e.r % 8})`, title: d.runs[e.r].label })),
          el('td', { class: 'mono' }, e.depth > 0 ? `↳${e.depth} ${e.id}` : e.id),
          el('td', null, e.fam),
          el('td', null, fmtSize(e.size)),
          el('td', null, fmtNum(e.score, 2)),
          el('td', null, e.ok ? badge('✓', 'ok') : badge('✗', 'bad')),
          el('td', null, e.stop),
          el('td', null, e.turns),
          el('td', null, e.sub),
          el('td', null, fmtCompact(e.tok)),
          el('td', { class: 'q', title: e.q }, e.q),
        ),
      ),
    );
    count.textContent = `${fmtInt(shown.length)} of ${fmtInt(rows.filter((e) => f.children || e.depth === 0).length)} episodes${d.maxEpisodes !== null ? ` · turns embedded for ${fmtInt(d.embedded)} (--max-episodes ${d.maxEpisodes})` : ''}`;
    pager.replaceChildren(
      el('button', { type: 'button', disabled: page === 0, onclick: () => { page--; refresh(false); } }, '‹ prev'),
      el('span', null, ` page ${page + 1} of ${pages} `),
      el('button', { type: 'button', disabled: page >= pages - 1, onclick: () => { page++; refresh(false); } }, 'next ›'),
    );
  };

  const open = async (e: EpisodeIndexRow) => {
    for (const tr of list.querySelectorAll('tr.selected')) tr.classList.remove('selected');
    list.querySelector(`tr[data-episode="${CSS.escape(e.id)}"][data-run="${e.r}"]`)?.classList.add('selected');
    detail.replaceChildren(el('p', { class: 'muted' }, `loading ${e.id}…`));
    detail.replaceChildren(await episodeView(d, e, childrenOf));
    detail.scrollTop = 0;
  };

  for (const s of [runSel, famSel, okSel, stopSel, sizeSel]) s.addEventListener('change', () => refresh());
  kids.addEventListener('change', () => refresh());
  let timer = 0;
  const onText = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => {
      deepHits = null;
      const f = filters();
      refresh();
      if (f.deep && f.text) void runDeepSearch(f.text);
    }, 200);
  };
  text.addEventListener('input', onText);
  deep.addEventListener('change', onText);
  refresh();
}

function turnView(s: StepDetail): HTMLElement {
  const split = s.reasoning === null ? splitThink(s.reply) : { reasoning: s.reasoning, rest: s.reply };
  const head = [
    `Turn ${s.turn}`,
    ` · ${fmtInt(s.pt)} → ${fmtInt(s.ct)} tokens`,
    ` · cells ${fmtMs(s.ms)}`,
    s.sub.length ? ` · ${s.sub.length} sub-call${s.sub.length > 1 ? 's' : ''}` : '',
  ].join('');
  const sec = el('section', { class: 'turn', 'data-turn': s.turn },
    el('h4', null, head, s.finish ? badge(`finish: ${s.finish}`, s.finish === 'length' ? 'bad' : 'muted') : null, s.errs.length ? badge(`${s.errs.length} error${s.errs.length > 1 ? 's' : ''}`, 'bad') : null),
  );
  if (split.reasoning) sec.appendChild(lazyDetails([`reasoning (${fmtInt(split.reasoning.length)} chars)`], () => [pre(split.reasoning!, 'reasoning')], { cls: 'reasoning' }));
  sec.appendChild(el('div', { class: 'label' }, 'reply'));
  sec.appendChild(pre(replyProse(split.rest, s.code.length), 'reply'));
  s.code.forEach((c, i) => {
    sec.appendChild(el('div', { class: 'label' }, `code cell ${i + 1}`));
    sec.appendChild(highlighted(c));
  });
  if (s.obs) {
    sec.appendChild(el('div', { class: 'label' }, 'REPL output'));
    sec.appendChild(pre(s.obs, 'obs'));
  }
  for (const err of s.errs) sec.appendChild(pre(err, 'error'));
  if (s.sub.length) {
    const tok = s.sub.reduce((a, c) => a + c.pt + c.ct, 0);
    sec.appendChild(
      lazyDetails([`sub-calls: ${s.sub.length} · ${fmtCompact(tok)} tokens`], () =>
        s.sub.map((c, i) =>
          el('details', { class: 'subcall' },
            el('summary', null,
              `#${i + 1} · ${c.m} · ${fmtInt(c.pt)} → ${fmtInt(c.ct)} tokens · ${fmtMs(c.ms)}`,
              c.fin ? badge(`finish: ${c.fin}`, c.fin === 'length' ? 'bad' : 'muted') : null,
              c.err ? badge('error', 'bad') : null,
            ),
            lazyDetails([`prompt (${fmtInt(c.p.length)} chars)`], () => [pre(c.p, 'prompt')]),
            lazyDetails([`response (${fmtInt(c.r.length)} chars)`], () => [pre(c.r, 'response')], { open: true }),
            c.err ? pre(c.err, 'error') : null,
          ),
        ), { cls: 'subcalls', open: s.sub.length <= 8 }),
    );
  }
  return sec;
}

async function episodeView(d: ReportData, e: EpisodeIndexRow, childrenOf: Map<string, EpisodeIndexRow[]>): Promise<HTMLElement> {
  const run = d.runs[e.r];
  const box = el('article', { class: 'episode', 'data-episode': e.id });
  box.appendChild(
    el('header', null,
      el('h3', null, `${e.depth > 0 ? `child (depth ${e.depth}) ` : ''}episode ${e.id}`, ' ', e.ok ? badge('correct', 'ok') : badge('not correct', 'bad'), e.ct ? badge('completion truncated', 'bad') : null),
      el('p', { class: 'muted' },
        `${run.label} · ${e.fam} · ${fmtSize(e.size)} tokens requested (${fmtInt(e.ctx)} in the context) · seed ${e.seed} · group ${e.grp} · stop ${e.stop} · ` +
          `score ${fmtNum(e.score, 3)} · reward ${fmtNum(e.rew, 3)} · ${e.turns} turns · ${e.sub} sub-calls · ${fmtCompact(e.tok)} tokens` +
          `${run.priced ? ` · ${fmtUsd(e.cost)}` : ''} · ${fmtMs(e.wall)}`,
      ),
    ),
  );
  if (e.err) box.appendChild(pre(`error: ${e.err}`, 'error'));
  const det: EpisodeDetail | null = await loadDetail(e.chunk, e.r, e.id);
  if (!det) {
    box.appendChild(el('p', { class: 'note' }, `The turns of this episode are not embedded in this report (--max-episodes ${d.maxEpisodes}). Question: ${e.q}`));
    return box;
  }
  box.appendChild(el('div', { class: 'label' }, 'question'));
  box.appendChild(pre(det.question, 'question'));
  if (det.system) box.appendChild(lazyDetails(['system prompt'], () => [pre(det.system!, 'prompt')]));
  if (det.firstUser) box.appendChild(lazyDetails(['first user message (context metadata)'], () => [pre(det.firstUser!, 'prompt')]));
  box.appendChild(lazyDetails(['models, sampling, task options'], () => [pre(`root ${det.rootModel} · sub ${det.subModel}\nsampling ${det.sampling}\ntask ${det.taskOptions}`, 'prompt')]));
  for (const s of det.steps) box.appendChild(turnView(s));
  if (det.steps.length === 0) box.appendChild(el('p', { class: 'muted' }, 'No turns were recorded.'));

  const comps = Object.entries(det.components).sort((a, b) => a[0].localeCompare(b[0]));
  box.appendChild(
    el('section', { class: 'final' },
      el('h4', null, 'Result'),
      el('div', { class: 'answers' },
        el('div', null, el('div', { class: 'label' }, 'final answer'), pre(det.answer ?? '(no answer submitted)', det.answer === null ? 'muted' : '')),
        el('div', null, el('div', { class: 'label' }, 'gold'), pre(det.gold)),
      ),
      el('table', { class: 'components' },
        el('thead', null, el('tr', null, el('th', null, 'reward component'), el('th', null, 'value'))),
        el('tbody', null,
          ...comps.map(([k, v]) => el('tr', null, el('td', null, k), el('td', null, fmtNum(v, 4)))),
          el('tr', { class: 'total' }, el('td', null, 'reward (weighted total)'), el('td', null, fmtNum(det.reward, 4))),
        ),
      ),
      det.rewardError ? pre(`reward error: ${det.rewardError}`, 'error') : null,
      lazyDetails(['score details'], () => [pre(prettyJson(det.scoreDetails), 'prompt')]),
    ),
  );
  const kids = childrenOf.get(keyOf(e.r, e.id)) ?? [];
  if (kids.length) {
    const sec = el('section', { class: 'children' }, el('h4', null, `child rlm_query episodes (${kids.length})`));
    for (const k of kids) {
      sec.appendChild(lazyDetails([`↳ ${k.id} · depth ${k.depth} · ${k.turns} turns · ${k.stop} · answer ${k.ans ?? '—'}`], () => {
        const slot = el('div', { class: 'child' }, el('p', { class: 'muted' }, 'loading…'));
        void episodeView(d, k, childrenOf).then((v) => slot.replaceChildren(v));
        return [slot];
      }));
    }
    box.appendChild(sec);
  }
  return box;
}

function prettyJson(s: string): string {
  try {
    return JSON.stringify(JSON.parse(s), null, 2);
  } catch {
    return s;
  }
}


