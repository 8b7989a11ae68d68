/**
 * The code that sets up one isolate: the REPL's globals and the private cell runner.
 *
 * It runs once per session through `context.evalClosure(PRELUDE_SOURCE, [subRef, emit, contextCopy, configJson])` and
 * returns a frozen object { run, quick, finish } that only the host holds (never a global). Rules it follows (see
 * notes/sandbox.md, "Traps"):
 * - every built-in it needs is captured here, before any model code runs (the model may replace JSON.stringify,
 *   Array.prototype.join, Function.prototype.call, …);
 * - everything that crosses to the host is a primitive string built here (output chunks, sub-call requests, the cell's
 *   result as JSON), size-checked before it crosses; the host never reads a model-made object;
 * - errors thrown by the cell are caught and described HERE, under the CPU timeout (a thrown Proxy, a looping `message`
 *   getter or a looping `Error.prepareStackTrace` would otherwise hang the host);
 * - the output buffer, sub-call counters and the pending answer are closure variables, not globals.
 * The source is constant (configuration arrives as a JSON string), so V8 can reuse its compilation.
 */
export const PRELUDE_SOURCE = String.raw`
'use strict';
const subRef = $0, emitFn = $1, ctxRaw = $2, cfg = JSON.parse($3);
const G = globalThis;

// ---------- captured built-ins ----------
const RA = Reflect.apply, RConstruct = Reflect.construct, RGOPD = Reflect.getOwnPropertyDescriptor;
const ODP = Object.defineProperty, OFreeze = Object.freeze, OGOPN = Object.getOwnPropertyNames;
const JStringify = JSON.stringify, JParse = JSON.parse;
const S = String, IsArray = Array.isArray, IsSafeInt = Number.isSafeInteger, MathImul = Math.imul;
const HasOwn = Object.prototype.hasOwnProperty;
const StrSlice = String.prototype.slice, StrTrim = String.prototype.trim, RegExec = RegExp.prototype.exec;
const SymToString = Symbol.prototype.toString;
const MapSize = RGOPD(Map.prototype, 'size').get, SetSize = RGOPD(Set.prototype, 'size').get;
const MapForEach = Map.prototype.forEach, SetForEach = Set.prototype.forEach;
const PromiseC = Promise, PromiseThen = Promise.prototype.then, PromiseReject = Promise.reject;
const ErrorC = Error, TypeErrorC = TypeError, RangeErrorC = RangeError, ReferenceErrorC = ReferenceError;
const RealDate = Date, RealDateProto = Date.prototype, DateToString = Date.prototype.toString;
const asp = subRef.applySyncPromise;
const indirectEval = G.eval;
const LINE_RE = /\bcell:(\d+):\d+/;

const slice = (s, a, b) => RA(StrSlice, s, [a, b]);
const fmtInt = (n) => {
  const s = S(n < 0 ? -n : n);
  let out = '';
  for (let i = 0; i < s.length; i++) { if (i > 0 && (s.length - i) % 3 === 0) out += ','; out += s[i]; }
  return (n < 0 ? '-' : '') + out;
};
const capStr = (s, n) => (s.length > n ? slice(s, 0, n) + '…' : s);
const isMap = (x) => { try { RA(MapSize, x, []); return true; } catch { return false; } };
const isSet = (x) => { try { RA(SetSize, x, []); return true; } catch { return false; } };

// ---------- output (private buffer, capped before anything crosses) ----------
const CAP = cfg.maxOutputChars;
let outStr = '', outPending = 0, outShown = 0, outDropped = 0;
const flush = () => {
  if (outPending === 0) return;
  const s = outStr;
  outStr = ''; outPending = 0;
  emitFn(s);
};
const write = (s) => {
  const n = s.length;
  const room = CAP - outShown;
  if (n <= room) { outStr += s; outShown += n; outPending += n; }
  else {
    if (room > 0) { outStr += slice(s, 0, room); outShown += room; outPending += room; outDropped += n - room; }
    else outDropped += n;
  }
  if (outPending >= 4096) flush();
};

// ---------- formatting of values for print / error descriptions ----------
const fnLabel = (f) => {
  let n = '';
  try { n = f.name; } catch {}
  return typeof n === 'string' && n ? '[Function: ' + n + ']' : '[Function]';
};
const shortErr = (e) => {
  try {
    if (e !== null && (typeof e === 'object' || typeof e === 'function')) {
      const n = e.name, m = e.message;
      if (typeof m === 'string') return (typeof n === 'string' && n ? n : 'Error') + ': ' + capStr(m, 300);
    }
    return typeof e === 'string' ? capStr(e, 300) : typeof e;
  } catch { return 'unreadable error'; }
};
const jsonReplacer = function (k, x) {
  switch (typeof x) {
    case 'bigint': return S(x) + 'n';
    case 'function': return fnLabel(x);
    case 'symbol': return RA(SymToString, x, []);
  }
  if (x !== null && typeof x === 'object') {
    if (isMap(x)) { const a = []; RA(MapForEach, x, [(v, key) => { a[a.length] = [key, v]; }]); return a; }
    if (isSet(x)) { const a = []; RA(SetForEach, x, [(v) => { a[a.length] = v; }]); return a; }
    let isErr = false;
    try { isErr = x instanceof ErrorC; } catch {}
    if (isErr) return shortErr(x);
  }
  return x;
};
const fmt = (v) => {
  switch (typeof v) {
    case 'string': return v;
    case 'number': case 'boolean': case 'undefined': return S(v);
    case 'bigint': return S(v) + 'n';
    case 'symbol': return RA(SymToString, v, []);
    case 'function': return fnLabel(v);
  }
  if (v === null) return 'null';
  let isErr = false;
  try { isErr = v instanceof ErrorC; } catch {}
  if (isErr) return shortErr(v);
  try {
    const s = JStringify(v, jsonReplacer);
    return typeof s === 'string' ? s : 'undefined';
  } catch (e) {
    return '[unprintable object: ' + shortErr(e) + ']';
  }
};
const capErr = (t) => {
  const max = cfg.maxErrorChars;
  return t.length > max ? slice(t, 0, max) + '… [error truncated: ' + fmtInt(t.length - max) + ' more chars]' : t;
};
// Describes anything the cell threw. Runs under the CPU timeout; never lets model objects leave the isolate.
const describe = (e) => {
  let text;
  try {
    if (e !== null && (typeof e === 'object' || typeof e === 'function')) {
      let isErr = false;
      try { isErr = e instanceof ErrorC; } catch {}
      const name = e.name, msg = e.message;
      if (isErr || (typeof name === 'string' && typeof msg === 'string')) {
        const n = typeof name === 'string' && name ? name : 'Error';
        const m = typeof msg === 'string' ? msg : fmt(msg);
        text = capErr(m ? n + ': ' + m : n);
        let line = null;
        try {
          const st = e.stack;
          if (typeof st === 'string') { const mm = RA(RegExec, LINE_RE, [st]); if (mm !== null) line = mm[1]; }
        } catch {}
        if (typeof line === 'string') text += ' (line ' + line + ')';
      } else {
        text = capErr('Uncaught ' + fmt(e));
      }
    } else {
      text = capErr('Uncaught ' + (typeof e === 'string' ? JStringify(e) : fmt(e)));
    }
  } catch {
    text = 'Uncaught exception (reading its description threw)';
  }
  // Error objects were capped before ' (line L)' was added, so the line survives a cut.
  return typeof text === 'string' ? (text.length > cfg.maxErrorChars + 200 ? capErr(text) : text) : 'Uncaught exception';
};

// ---------- sub-calls (synchronous from the code's view; the host runs them on the parent) ----------
const MAXSUB = cfg.maxSubCalls;
let remaining = cfg.remaining;
let lastBudgetError = null;
const budgetError = (msg) => {
  const err = new ErrorC(msg);
  ODP(err, 'name', { value: 'SubCallBudgetError', writable: true, enumerable: false, configurable: true });
  lastBudgetError = err;
  return err;
};
const exhausted = (fn) => budgetError(fn + ': the sub-call budget is exhausted: all ' + fmtInt(MAXSUB) +
  ' sub-calls of this episode are used (every llm_query, every prompt of llm_query_batched and every rlm_query counts). Answer with what you have.');
const toText = (v) => (typeof v === 'string' ? v : fmt(v));
const item = (kind, prompt, model, sub) => {
  let t = '{"kind":' + JStringify(kind);
  if (prompt.length > cfg.maxSubPromptChars) t += ',"tooLarge":' + prompt.length + ',"head":' + JStringify(slice(prompt, 0, 200));
  else t += ',"prompt":' + JStringify(prompt);
  if (model !== undefined) t += ',"model":' + JStringify(model);
  if (sub !== undefined) t += ',"subContext":' + JStringify(sub);
  return t + '}';
};
const callHost = (fn, items) => {
  flush();
  const raw = RA(asp, subRef, [undefined, ['{"fn":' + JStringify(fn) + ',"items":[' + items + ']}']]);
  if (typeof raw !== 'string') throw new ErrorC(fn + ': internal error (bad reply from the host)');
  const rep = JParse(raw);
  if (typeof rep.remaining === 'number') remaining = rep.remaining;
  if (typeof rep.fatal === 'string') throw new ErrorC(fn + ': ' + rep.fatal);
  if (typeof rep.budget === 'string') throw budgetError(rep.budget);
  return rep;
};
const modelArg = (m) => (m === undefined || m === null ? undefined : capStr(toText(m), 200));
// Chars this cell sent through sub-calls: checked here too, so an oversize payload never crosses to the host.
let cellChars = 0;
const charsCap = (fn, n) => {
  if (cellChars + n > cfg.maxSubCallCharsPerCell) {
    throw new RangeErrorC(fn + ': this cell would send ' + fmtInt(cellChars + n) + ' chars through sub-calls; the limit is ' + fmtInt(cfg.maxSubCallCharsPerCell) + ' chars per cell (nothing was sent)');
  }
  cellChars += n;
};
const single = (fn, kind, prompt, model, sub) => {
  const p = toText(prompt);
  if (p.length <= cfg.maxSubPromptChars && remaining < 1) throw exhausted(fn);
  if (p.length <= cfg.maxSubPromptChars) charsCap(fn, p.length + (sub === undefined ? 0 : sub.length));
  const r = callHost(fn, item(kind, p, model, sub)).results[0];
  if (r.ok === true && typeof r.text === 'string') return r.text;
  if (r.tooLarge === true) throw new RangeErrorC(r.error);
  throw new ErrorC(fn + ' failed: ' + r.error);
};
function llm_query(prompt, model) {
  if (IsArray(prompt)) throw new TypeErrorC('llm_query(prompt) takes one string; to send many prompts at once use llm_query_batched(prompts)');
  return single('llm_query', 'llm', prompt, modelArg(model), undefined);
}
function llm_query_batched(prompts, model) {
  if (!IsArray(prompts)) throw new TypeErrorC('llm_query_batched(prompts) takes an array of prompt strings');
  const n = prompts.length;
  if (!IsSafeInt(n) || n < 0) throw new TypeErrorC('llm_query_batched(prompts): prompts has no valid length');
  if (n === 0) return [];
  if (remaining < 1) throw exhausted('llm_query_batched');
  // Far more prompts than the budget allows: refuse before formatting them (a 100k-prompt fan-out never crosses).
  if (n > remaining + 1000) {
    throw budgetError('llm_query_batched: ' + fmtInt(n) + ' prompts but only ' + fmtInt(remaining) + ' of the ' + fmtInt(MAXSUB) + ' sub-calls of this episode are left; send fewer prompts (e.g. bigger chunks)');
  }
  const m = modelArg(model);
  let items = '', counted = 0, chars = 0;
  for (let i = 0; i < n; i++) {
    const p = toText(prompts[i]);
    if (p.length <= cfg.maxSubPromptChars) { counted++; chars += p.length; }
    items += (i ? ',' : '') + item('llm', p, m, undefined);
  }
  if (counted > remaining) {
    throw budgetError('llm_query_batched: ' + fmtInt(counted) + ' prompts but only ' + fmtInt(remaining) + ' of the ' + fmtInt(MAXSUB) + ' sub-calls of this episode are left; send fewer prompts (e.g. bigger chunks)');
  }
  charsCap('llm_query_batched', chars);
  const texts = callHost('llm_query_batched', items).texts;
  if (!IsArray(texts)) throw new ErrorC('llm_query_batched: internal error (bad reply from the host)');
  return texts;
}
function rlm_query(prompt, subContext) {
  let sc;
  if (subContext !== undefined && subContext !== null) {
    sc = toText(subContext);
    if (sc.length > cfg.maxSubContextChars) {
      throw new RangeErrorC('rlm_query: subContext is ' + fmtInt(sc.length) + ' chars; the limit is ' + fmtInt(cfg.maxSubContextChars) + ' chars (nothing was sent)');
    }
  }
  // Without recursion rlm_query is one plain prompt: join here, so the prompt cap applies to what is really sent.
  if (!cfg.rlmRecursive) return single('rlm_query', 'rlm', sc === undefined ? prompt : toText(prompt) + '\n\n' + sc, undefined, undefined);
  return single('rlm_query', 'rlm', prompt, undefined, sc);
}

// ---------- answers ----------
let finalValue = null, finalSource = null;
const serializeAnswer = (v, who) => {
  let s;
  switch (typeof v) {
    case 'string': s = v; break;
    case 'number': case 'boolean': s = S(v); break;
    case 'bigint': s = S(v); break;
    case 'undefined': throw new TypeErrorC(who + ': the answer is undefined; pass the value to submit, e.g. FINAL("42")');
    case 'symbol': case 'function': throw new TypeErrorC(who + ': a ' + typeof v + ' cannot be submitted as an answer; pass a string');
    default:
      if (v === null) { s = 'null'; break; }
      try { s = JStringify(v); } catch (e) {
        throw new TypeErrorC(who + ': the answer could not be serialized to JSON (' + shortErr(e) + '); pass a string');
      }
      if (typeof s !== 'string') throw new TypeErrorC(who + ': the answer could not be serialized to JSON; pass a string');
  }
  if (s.length > cfg.maxFinalChars) {
    throw new RangeErrorC(who + ': the answer is ' + fmtInt(s.length) + ' chars; the limit is ' + fmtInt(cfg.maxFinalChars) + ' chars');
  }
  return s;
};
function FINAL(value) {
  finalValue = serializeAnswer(value, 'FINAL');
  finalSource = 'FINAL';
}
function FINAL_VAR(name) {
  if (typeof name !== 'string') {
    throw new TypeErrorC("FINAL_VAR(name) takes the NAME of a variable as a string, e.g. FINAL_VAR('result'); to submit a value use FINAL(value)");
  }
  const n = RA(StrTrim, name, []);
  if (RGOPD(G, n) === undefined) {
    throw new ReferenceErrorC("FINAL_VAR: there is no variable named '" + capStr(n, 100) + "'; define it first or use FINAL(value)");
  }
  finalValue = serializeAnswer(G[n], "FINAL_VAR('" + capStr(n, 100) + "')");
  finalSource = 'FINAL_VAR';
}
// The last answer object made here: the only one quick() reads without running code (it cannot be a Proxy).
let ownAnswer = null;
const freshAnswer = () => (ownAnswer = { content: '', ready: false });
const checkAnswer = () => {
  const a = G.answer;
  if (a === null || typeof a !== 'object') { G.answer = freshAnswer(); return; }
  if (finalValue === null && a.ready === true) {
    finalValue = serializeAnswer(a.content, 'answer.content');
    finalSource = 'answer';
  }
};

// ---------- print / console / SHOW_VARS ----------
function print(...args) {
  let line = '';
  for (let i = 0; i < args.length; i++) line += (i ? ' ' : '') + fmt(args[i]);
  write(line + '\n');
}
const typeLabel = (v) => {
  if (typeof v === 'string') return 'string (' + fmtInt(v.length) + ' chars)';
  if (v === null) return 'null';
  if (IsArray(v)) return 'Array(' + fmtInt(v.length) + ')';
  if (typeof v === 'object') {
    if (isMap(v)) return 'Map(' + fmtInt(RA(MapSize, v, [])) + ')';
    if (isSet(v)) return 'Set(' + fmtInt(RA(SetSize, v, [])) + ')';
  }
  return typeof v;
};
const baseNames = { __proto__: null };
function SHOW_VARS() {
  const names = OGOPN(G);
  let lines = '', count = 0;
  for (let i = 0; i < names.length; i++) {
    const n = names[i];
    if (baseNames[n] === true) continue;
    const d = RGOPD(G, n);
    if (d === undefined) continue;
    let t;
    try { t = d.get !== undefined || d.set !== undefined ? 'accessor' : typeLabel(d.value); } catch { t = 'unknown'; }
    lines += n + ': ' + t + '\n';
    count++;
  }
  write(count ? lines : '(no variables defined yet)\n');
}

// ---------- determinism: seeded Math.random, fixed clock, no timers / WebAssembly / shared memory / GC observers ----------
let rs = cfg.seed >>> 0;
const random = function random() {
  rs = (rs + 0x6D2B79F5) | 0;
  let t = MathImul(rs ^ (rs >>> 15), 1 | rs);
  t = (t + MathImul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
ODP(Math, 'random', { value: random, writable: false, enumerable: false, configurable: false });
const CLOCK0 = cfg.clockStartMs;
let ticks = 0;
const nowMs = () => CLOCK0 + ticks++; // the clock starts at a fixed instant and advances 1 ms per reading
const FakeDate = function Date(...args) {
  if (new.target === undefined) return RA(DateToString, new RealDate(nowMs()), []);
  return RConstruct(RealDate, args.length === 0 ? [nowMs()] : args, new.target);
};
ODP(FakeDate, 'prototype', { value: RealDateProto, writable: false, enumerable: false, configurable: false });
ODP(FakeDate, 'length', { value: 7 });
ODP(FakeDate, 'now', { value: function now() { return nowMs(); }, writable: false, enumerable: false, configurable: false });
ODP(FakeDate, 'parse', { value: RealDate.parse, writable: false, enumerable: false, configurable: false });
ODP(FakeDate, 'UTC', { value: RealDate.UTC, writable: false, enumerable: false, configurable: false });
OFreeze(FakeDate);
ODP(RealDateProto, 'constructor', { value: FakeDate, writable: false, enumerable: false, configurable: false });
ODP(G, 'Date', { value: FakeDate, writable: false, enumerable: false, configurable: false });
{
  // Intl.DateTimeFormat#format() / formatToParts() with no argument read the real clock.
  const DTFProto = Intl.DateTimeFormat.prototype;
  const formatGet = RGOPD(DTFProto, 'format').get;
  const realFormatToParts = DTFProto.formatToParts;
  ODP(DTFProto, 'format', {
    get: function () { const f = RA(formatGet, this, []); return function (d) { return f(d === undefined ? nowMs() : d); }; },
    enumerable: false, configurable: false,
  });
  ODP(DTFProto, 'formatToParts', {
    value: function formatToParts(d) { return RA(realFormatToParts, this, [d === undefined ? nowMs() : d]); },
    writable: false, enumerable: false, configurable: false,
  });
}
for (const n of ['WebAssembly', 'SharedArrayBuffer', 'Atomics', 'WeakRef', 'FinalizationRegistry', 'setTimeout', 'setInterval', 'setImmediate']) {
  if (RGOPD(G, n) !== undefined) delete G[n];
}
// A custom stack formatter could loop whenever any error's stack is read, or reach functions through CallSites.
ODP(ErrorC, 'prepareStackTrace', { value: undefined, writable: false, enumerable: false, configurable: false });

// ---------- the context ----------
let ctxValue = ctxRaw;
if (cfg.docLayout !== null) {
  const L = cfg.docLayout, docs = [];
  let pos = 0;
  for (let i = 0; i + 2 < L.length; i += 3) {
    const id = slice(ctxRaw, pos, pos + L[i]); pos += L[i];
    const title = slice(ctxRaw, pos, pos + L[i + 1]); pos += L[i + 1];
    const text = slice(ctxRaw, pos, pos + L[i + 2]); pos += L[i + 2];
    docs[docs.length] = OFreeze({ id, title, text });
  }
  ctxValue = OFreeze(docs);
}

// ---------- promises returned by top-level call statements (see rewrite.ts): report a rejection ----------
let unhandled = null;
const track = function __rlm_track(v) {
  if (v !== null && (typeof v === 'object' || typeof v === 'function')) {
    try {
      // PromiseThen throws for anything that is not a promise: that is the brand check.
      RA(PromiseThen, v, [undefined, (e) => { if (unhandled === null) unhandled = { __proto__: null, e }; }]);
    } catch {}
  }
  return v;
};

// ---------- reserved globals: locked (non-writable, non-configurable); globalThis itself is never frozen ----------
const lock = (name, value) => ODP(G, name, { value, writable: false, enumerable: false, configurable: false });
for (const f of [llm_query, llm_query_batched, rlm_query, FINAL, FINAL_VAR, print, SHOW_VARS]) OFreeze(f);
lock('llm_query', llm_query);
lock('llm_query_batched', llm_query_batched);
lock('rlm_query', rlm_query);
lock('FINAL', FINAL);
lock('FINAL_VAR', FINAL_VAR);
lock('print', print);
lock('console', OFreeze({ log: print, info: print, warn: print, error: print, debug: print }));
lock('SHOW_VARS', SHOW_VARS);
// A host-backed context was installed (and locked) before this prelude, by host-context-api.ts.
if (cfg.hostContext !== true) lock('context', ctxValue);
lock('__rlm_track', OFreeze(track));
ODP(G, 'answer', { value: freshAnswer(), writable: true, enumerable: false, configurable: false });
{
  const names = OGOPN(G);
  for (let i = 0; i < names.length; i++) baseNames[names[i]] = true;
}

// ---------- the private cell runner ----------
// isolated-vm ends every task by copying the value of the FIRST promise rejected without a handler in that task, reading
// its message/stack outside any timeout (a Proxy or a looping getter there hangs the host). Each task that can run model
// code therefore starts by rejecting a private promise with a value of ours: that one is always first, and the host sees
// it instead of the task's return value. run() rejects with a primitive marker; finish() rejects with a private
// null-prototype holder whose own data property "message" it sets, at its very end, to the marker + the cell's result
// JSON — so the result arrives with finish's completion and the host queues run and finish together (one round trip).
// isolated-vm holds the rejected promises it will report only weakly: a GC during the task (a big allocation) would drop
// ours and let a later one — maybe the model's — be reported. Each marker promise is kept alive until the next task.
let marked = null;
const mark = (v) => { marked = RA(PromiseReject, PromiseC, [v]); };
let pending = null;
const result = (error, stop) => {
  const j = '{"o":' + JStringify(outStr) + ',"d":' + outDropped + ',"r":' + remaining +
    ',"e":' + (error === null ? 'null' : JStringify(error)) +
    ',"s":' + (stop === null ? 'null' : JStringify(stop)) +
    ',"fv":' + (finalValue === null ? 'null' : JStringify(finalValue)) +
    ',"fs":' + (finalSource === null ? 'null' : JStringify(finalSource)) + '}';
  outStr = ''; outPending = 0;
  return j;
};
const NEVER_SETTLED = 'the cell awaited something that can never settle (this REPL has no timers, no I/O and no events: setTimeout, fetch, … do not exist); the rest of the cell did not run';
return OFreeze({
  // Phase 1: evaluate the rewritten cell. Microtasks (awaits, then-callbacks) run right after, still under the timeout.
  run(src, isAsync) {
    mark(cfg.sentinel);
    outStr = ''; outPending = 0; outShown = 0; outDropped = 0; cellChars = 0;
    finalValue = null; finalSource = null; lastBudgetError = null; unhandled = null;
    const st = { __proto__: null, done: false, failed: false, err: undefined };
    pending = st;
    let r;
    try { r = indirectEval(src); } catch (e) { st.done = true; st.failed = true; st.err = e; return 'P'; }
    if (!isAsync) { st.done = true; return 'P'; }
    try {
      RA(PromiseThen, r, [() => { st.done = true; }, (e) => { st.done = true; st.failed = true; st.err = e; }]);
    } catch (e) { st.done = true; st.failed = true; st.err = e; }
    return 'P';
  },
  // Phase 2, fast: the outcome when reading it needs no model code (no error object to describe, the answer object is
  // the untouched one made here with plain data properties). Runs no model code, so the host may call it synchronously.
  // Returns the result JSON, or null (nothing changed): then finish() must run, under a timeout.
  quick() {
    const st = pending;
    if (unhandled !== null || (st !== null && st.done && st.failed)) return null;
    const error = st === null || !st.done ? 'Error: ' + NEVER_SETTLED : null;
    // A data property that cannot be reconfigured: reading its descriptor runs no code.
    const a = RGOPD(G, 'answer').value;
    let replace = false, fv = null;
    if (a === null || typeof a !== 'object') replace = true;
    else if (finalValue === null) {
      if (a !== ownAnswer) return null;
      const r = RGOPD(a, 'ready');
      if (r === undefined || !RA(HasOwn, r, ['value'])) return null;
      if (r.value === true) {
        const c = RGOPD(a, 'content');
        if (c === undefined || !RA(HasOwn, c, ['value'])) return null;
        const v = c.value;
        switch (typeof v) {
          case 'string': fv = v; break;
          case 'number': case 'boolean': case 'bigint': fv = S(v); break;
          default: return null;
        }
        if (fv.length > cfg.maxFinalChars) return null;
      }
    }
    pending = null;
    if (replace) G.answer = freshAnswer();
    if (fv !== null) { finalValue = fv; finalSource = 'answer'; }
    return result(error, null);
  },
  // Phase 2: the outcome after run's microtask checkpoint, the answer object, any error (may run model code).
  finish() {
    const holder = { __proto__: null, message: cfg.sentinel };
    mark(holder);
    const st = pending;
    pending = null;
    let error = null, stop = null;
    if (st === null || !st.done) error = 'Error: ' + NEVER_SETTLED;
    else if (st.failed) {
      if (lastBudgetError !== null && st.err === lastBudgetError) stop = 'sub_call_budget';
      error = describe(st.err);
    }
    if (error === null && unhandled !== null) {
      if (lastBudgetError !== null && unhandled.e === lastBudgetError) stop = 'sub_call_budget';
      error = 'Uncaught (in promise) ' + describe(unhandled.e);
    }
    try { checkAnswer(); } catch (e) { if (error === null) error = describe(e); }
    holder.message = cfg.resultMark + result(error, stop);
    return 'F';
  },
});
`;
