/**
 * The REPL rewrite of one cell, done with a real parser (acorn) and source slicing by node ranges.
 *
 * Goals (model-written code, one cell at a time, evaluated with an indirect `eval` in sloppy mode):
 * - top-level `let`/`const`/`class` become plain assignments to global properties, so a later cell may declare the same
 *   name again, and an initializer that throws leaves the name untouched (never stuck in the TDZ);
 * - a cell with top-level `await` is wrapped in an async arrow IIFE; its declarations still land on the global object
 *   (let/const/class are assignments, `var` names are hoisted with a `var` prefix outside the IIFE, function declarations
 *   are exported with `this.name = name` — `this` is the global object at the top level of the cell);
 * - declarations of reserved names (`print`, `llm_query`, `context`, …) are refused with a clear error;
 * - line numbers are preserved (everything added goes on line 1 or at the very end), so `cell:L:C` stack frames point at the
 *   model's own lines;
 * - a top-level call statement (`main()`, `job().then(…)`) is wrapped in `__rlm_track(…)`: if it returns a promise that
 *   rejects, the cell reports `Uncaught (in promise) …` instead of losing the error;
 * - the cell always starts with `;`, which ends any "use strict" directive prologue: a strict cell would keep its
 *   declarations local to the eval.
 *
 * The value of the last expression statement is NOT printed (the cell is a script, not a REPL echo): use print().
 */
import { parse } from 'acorn';

/** Globals of the REPL that code may not redeclare (they are also locked non-writable inside the isolate). */
export const RESERVED_NAMES: readonly string[] = Object.freeze([
  'llm_query',
  'llm_query_batched',
  'rlm_query',
  'FINAL',
  'FINAL_VAR',
  'print',
  'console',
  'SHOW_VARS',
  'context',
  '__rlm_track',
]);

/** Private global the rewrite wraps top-level call statements in, to report promises they return that reject. */
export const TRACK_NAME = '__rlm_track';
const RESERVED = new Set(RESERVED_NAMES);

/** The `//# sourceURL` of every cell: stack frames of the model's code read `cell:LINE:COL`. */
export const CELL_SOURCE_URL = 'cell';

export type RewriteResult =
  | { ok: true; code: string; isAsync: boolean; declared: string[] }
  | { ok: false; error: string };

interface AstNode {
  type: string;
  start: number;
  end: number;
  [key: string]: unknown;
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);

export function rewriteCell(src: string): RewriteResult {
  let program: AstNode;
  try {
    program = parse(src, {
      ecmaVersion: 'latest',
      sourceType: 'script',
      allowAwaitOutsideFunction: true,
      allowHashBang: true,
    }) as unknown as AstNode;
  } catch (e) {
    return { ok: false, error: formatParseError(e) };
  }

  const body = program.body as AstNode[];
  const isAsync = containsTopLevelAwait(program);
  const edits: Edit[] = [];
  const declared: { name: string; pos: number }[] = [];
  const varNames: string[] = [];
  const fnNames: string[] = [];

  if (src.startsWith('#!')) edits.push({ start: 0, end: 2, text: '//' });

  for (const stmt of body) {
    if (stmt.type === 'VariableDeclaration') {
      const kind = stmt.kind as string;
      for (const d of stmt.declarations as AstNode[]) {
        for (const n of patternNames(d.id as AstNode)) declared.push({ name: n, pos: d.start });
      }
      if (kind !== 'var') edits.push(declarationEdit(src, stmt, 'top'));
      // top-level `var` is native global code in a plain cell; in an async cell the walker below rewrites it.
    } else if (stmt.type === 'ClassDeclaration') {
      const name = (stmt.id as AstNode).name as string;
      declared.push({ name, pos: stmt.start });
      edits.push({ start: stmt.start, end: stmt.end, text: `;${name} = ${src.slice(stmt.start, stmt.end)};` });
    } else if (stmt.type === 'ExpressionStatement' && !stmt.directive) {
      // `main()` / `run().then(…)` without await: a rejection of the returned promise is reported, not lost.
      const e = stmt.expression as AstNode;
      if (e.type === 'CallExpression' || e.type === 'ChainExpression') {
        edits.push({ start: e.start, end: e.end, text: `${TRACK_NAME}(${src.slice(e.start, e.end)})` });
      }
    } else if (stmt.type === 'FunctionDeclaration') {
      const name = (stmt.id as AstNode).name as string;
      declared.push({ name, pos: stmt.start });
      if (isAsync) fnNames.push(name);
    }
  }

  if (isAsync) {
    // Every `var` outside functions belongs to the cell's top level: inside the IIFE it would be local, so hoist the name
    // (prefix `var a, b;` outside the IIFE) and turn the declaration into assignments.
    walk(program, (node, parent, key) => {
      if (FUNCTION_TYPES.has(node.type) || node.type === 'StaticBlock') return false;
      if (node.type !== 'VariableDeclaration' || node.kind !== 'var') return true;
      const decls = node.declarations as AstNode[];
      for (const d of decls) {
        for (const n of patternNames(d.id as AstNode)) {
          if (!varNames.includes(n)) varNames.push(n);
          if (parent !== program) declared.push({ name: n, pos: d.start });
        }
      }
      const isForHead =
        (parent?.type === 'ForStatement' && key === 'init') ||
        ((parent?.type === 'ForInStatement' || parent?.type === 'ForOfStatement') && key === 'left');
      if (isForHead && parent?.type !== 'ForStatement') {
        const d = decls[0]!;
        const id = d.id as AstNode;
        edits.push({ start: node.start, end: node.end, text: keepNewlines(src.slice(node.start, id.start)) + src.slice(id.start, id.end) });
      } else {
        edits.push(declarationEdit(src, node, isForHead ? 'expression' : parent === program ? 'top' : 'nested'));
      }
      return false;
    });
  }

  for (const d of declared) {
    if (RESERVED.has(d.name)) {
      return {
        ok: false,
        error: `TypeError: '${d.name}' is a built-in of this REPL and cannot be redeclared; use another name (line ${lineOf(src, d.pos)})`,
      };
    }
  }

  edits.sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  for (const e of edits) {
    if (e.start < at) continue; // cannot happen (edits never nest); defensive
    out += src.slice(at, e.start) + e.text;
    at = e.end;
  }
  out += src.slice(at);

  let code = ';';
  if (varNames.length) code += `var ${varNames.join(', ')};`;
  if (isAsync) {
    code += '(async () => {;';
    for (const f of fnNames) code += `this.${f} = ${f};`;
    code += out + '\n})()';
  } else {
    code += out;
  }
  code += `\n//# sourceURL=${CELL_SOURCE_URL}`;
  const names: string[] = [];
  for (const d of declared) if (!names.includes(d.name)) names.push(d.name);
  return { ok: true, code, isAsync, declared: names };
}

/**
 * `let a = 1, {b} = o, c;` → `;(a = 1), ({b} = o), c = void 0;` (mode 'top'), `{ … ; }` (mode 'nested': the declaration
 * may be the single-statement body of an `if`/loop), or the bare sequence (mode 'expression': a `for (var …;;)` head).
 */
function declarationEdit(src: string, node: AstNode, mode: 'top' | 'nested' | 'expression'): Edit {
  const decls = node.declarations as AstNode[];
  const kind = node.kind as string;
  let text = keepNewlines(src.slice(node.start, decls[0]!.start));
  decls.forEach((d, i) => {
    if (i > 0) text += src.slice(decls[i - 1]!.end, d.start);
    if (d.init) text += `(${src.slice(d.start, d.end)})`;
    else if (kind === 'var') text += 'void 0';
    else text += `${src.slice(d.start, d.end)} = void 0`;
  });
  const last = decls[decls.length - 1]!;
  const tail = src.slice(last.end, node.end);
  if (mode === 'expression') return { start: node.start, end: node.end, text: text + tail };
  const body = text + tail + (tail.includes(';') ? '' : ';');
  return { start: node.start, end: node.end, text: mode === 'top' ? ';' + body : `{ ${body} }` };
}

function keepNewlines(s: string): string {
  let out = '';
  for (const ch of s) if (ch === '\n') out += '\n';
  return out;
}

function patternNames(p: AstNode | null | undefined, out: string[] = []): string[] {
  if (!p) return out;
  switch (p.type) {
    case 'Identifier':
      out.push(p.name as string);
      break;
    case 'ObjectPattern':
      for (const prop of p.properties as AstNode[]) {
        patternNames((prop.type === 'RestElement' ? prop.argument : prop.value) as AstNode, out);
      }
      break;
    case 'ArrayPattern':
      for (const el of p.elements as (AstNode | null)[]) patternNames(el, out);
      break;
    case 'AssignmentPattern':
      patternNames(p.left as AstNode, out);
      break;
    case 'RestElement':
      patternNames(p.argument as AstNode, out);
      break;
  }
  return out;
}

/** Generic pre-order walk over acorn nodes; `visit` returns false to skip the node's children. */
function walk(
  node: AstNode,
  visit: (node: AstNode, parent: AstNode | null, key: string | null) => boolean,
  parent: AstNode | null = null,
  key: string | null = null,
): void {
  // Iterative to survive very deep trees (long `a + b + c + …` chains) without a stack overflow.
  const stack: [AstNode, AstNode | null, string | null][] = [[node, parent, key]];
  while (stack.length) {
    const [n, p, k] = stack.pop()!;
    if (!visit(n, p, k)) continue;
    const children: [AstNode, AstNode | null, string | null][] = [];
    for (const ck of Object.keys(n)) {
      if (ck === 'type' || ck === 'start' || ck === 'end' || ck === 'loc' || ck === 'range') continue;
      const v = n[ck];
      if (Array.isArray(v)) {
        for (const c of v) if (c && typeof c === 'object' && typeof (c as AstNode).type === 'string') children.push([c as AstNode, n, ck]);
      } else if (v && typeof v === 'object' && typeof (v as AstNode).type === 'string') {
        children.push([v as AstNode, n, ck]);
      }
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
}

function containsTopLevelAwait(program: AstNode): boolean {
  let found = false;
  walk(program, (n) => {
    if (found || FUNCTION_TYPES.has(n.type)) return false;
    if (n.type === 'AwaitExpression' || (n.type === 'ForOfStatement' && n.await === true)) {
      found = true;
      return false;
    }
    return true;
  });
  return found;
}

function lineOf(src: string, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos && i < src.length; i++) if (src.charCodeAt(i) === 10) line++;
  return line;
}

function formatParseError(e: unknown): string {
  if (e instanceof SyntaxError) {
    const loc = (e as SyntaxError & { loc?: { line: number } }).loc;
    const msg = e.message.replace(/\s*\(\d+:\d+\)$/, '');
    return `SyntaxError: ${msg}${loc ? ` (line ${loc.line})` : ''}`;
  }
  if (e instanceof RangeError) return 'SyntaxError: the code is nested too deeply to parse';
  return `SyntaxError: ${e instanceof Error ? e.message : String(e)}`;
}
