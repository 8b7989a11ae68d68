import { describe, expect, it } from 'vitest';
import { rewriteCell, RESERVED_NAMES } from '../env/sandbox/index.ts';

function ok(src: string) {
  const r = rewriteCell(src);
  if (!r.ok) throw new Error(`rewrite failed: ${r.error}`);
  return r;
}

function lines(code: string): number {
  return code.split('\n').length;
}

describe('rewriteCell (acorn)', () => {
  it('turns top-level let/const/class into assignments and keeps var/function native', () => {
    const r = ok('const a = 1, {b, c: [d]} = o\nlet e\nclass F {}\nvar v = 3\nfunction h() {}');
    expect(r.isAsync).toBe(false);
    expect(r.code).toContain('(a = 1), ({b, c: [d]} = o);');
    expect(r.code).toContain(';e = void 0;');
    expect(r.code).toContain(';F = class F {};');
    expect(r.code).toContain('var v = 3');
    expect(r.code).toContain('function h() {}');
    expect(r.declared).toEqual(['a', 'b', 'd', 'e', 'F', 'v', 'h']);
  });

  it('leaves block-scoped and function-local declarations alone', () => {
    const r = ok('for (let i = 0; i < 2; i++) { const x = i }\nfunction f() { let y = 1; return y }');
    expect(r.code).toContain('for (let i = 0; i < 2; i++) { const x = i }');
    expect(r.code).toContain('function f() { let y = 1; return y }');
    expect(r.declared).toEqual(['f']);
  });

  it('wraps top-level await in an async IIFE, hoisting vars and exporting functions', () => {
    const r = ok('const x = await f()\nfor (var i = 0; i < 2; i++) {}\nif (c) var q = 1\nfunction g() {}\nfor await (const y of ys) {}');
    expect(r.isAsync).toBe(true);
    expect(r.code.startsWith(';var i, q;(async () => {;this.g = g;')).toBe(true);
    expect(r.code).toContain(';(x = await f());');
    expect(r.code).toContain('for ((i = 0); i < 2; i++)');
    expect(r.code).toContain('if (c) { (q = 1); }');
    expect(r.code).toContain('\n})()');
  });

  it('does not treat await inside functions as top-level', () => {
    expect(ok('async function f() { await g() }').isAsync).toBe(false);
    expect(ok('const h = async () => await 1').isAsync).toBe(false);
  });

  it('preserves line numbers (everything added goes on line 1 or after the last line)', () => {
    const src = 'const a = 1,\n  b = 2\nclass K {\n}\nlet z = await a';
    const r = ok(src);
    // +1 for the sourceURL line, +1 for the IIFE close line
    expect(lines(r.code)).toBe(lines(src) + 2);
  });

  it('neutralizes a "use strict" directive (it would keep declarations local to the eval)', () => {
    const r = ok('"use strict"; const a = 1');
    expect(r.code.startsWith(';')).toBe(true);
    const r2 = ok('"use strict"; const a = await 1');
    expect(r2.code).toContain('(async () => {;');
  });

  it('adds a semicolon where ASI could glue statements together', () => {
    const r = ok('let x\n(print)(1)');
    expect(r.code).toContain(';x = void 0;\n');
  });

  it('wraps top-level call statements so a rejected promise is reported', () => {
    const r = ok('main()\na.b?.()\nx = 1');
    expect(r.code).toContain('__rlm_track(main())');
    expect(r.code).toContain('__rlm_track(a.b?.())');
    expect(r.code).not.toContain('__rlm_track(x = 1)');
  });

  it('reports syntax errors as "SyntaxError: … (line L)"', () => {
    const r = rewriteCell('print(1)\nconst = 2');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/^SyntaxError: .+ \(line 2\)$/);
  });

  it('refuses to redeclare reserved names, with the line', () => {
    for (const name of RESERVED_NAMES) {
      const r = rewriteCell(`\nconst ${name} = 1`);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toBe(`TypeError: '${name}' is a built-in of this REPL and cannot be redeclared; use another name (line 2)`);
    }
    expect(rewriteCell('function print() {}').ok).toBe(false);
    expect(rewriteCell('class FINAL {}').ok).toBe(false);
    expect(rewriteCell('let answer = { content: 1, ready: true }').ok).toBe(true);
  });

  it('survives very deep nesting and very long lines', () => {
    const deep = rewriteCell('['.repeat(50_000) + ']'.repeat(50_000));
    expect(deep.ok === false ? deep.error : 'parsed').toMatch(/SyntaxError|parsed/);
    const long = ok(`const s = '${'a'.repeat(300_000)}'`);
    expect(long.code.length).toBeGreaterThan(300_000);
  });
});
