import { describe, expect, it } from 'vitest';
import { extractCodeBlocks, extractTextFinal } from '../env/parse.ts';
import { renderSystemPrompt, DEFAULT_SYSTEM_PROMPT } from '../env/prompt.ts';

describe('extractCodeBlocks', () => {
  it('takes repl/js/javascript fences in order and skips other languages', () => {
    const reply = [
      'Let me look.',
      '```repl\nprint(1)\n```',
      '```python\nprint(2)\n```',
      '```js\nprint(3)\n```',
      '```\nbare fence\n```',
      '```javascript\nprint(4)\n```',
    ].join('\n');
    expect(extractCodeBlocks(reply)).toEqual(['print(1)\n', 'print(3)\n', 'print(4)\n']);
  });
  it('ignores empty blocks and handles CRLF', () => {
    expect(extractCodeBlocks('```repl\r\n\r\n```')).toEqual([]);
    expect(extractCodeBlocks('```repl\r\nx = 1\r\n```')).toEqual(['x = 1\r\n']);
  });
});

describe('extractTextFinal', () => {
  it('keeps nested parens and strips quotes', () => {
    expect(extractTextFinal('So FINAL(f(x) = 3)')).toEqual({ kind: 'FINAL', value: 'f(x) = 3' });
    expect(extractTextFinal('FINAL("42")')).toEqual({ kind: 'FINAL', value: '42' });
    expect(extractTextFinal("FINAL_VAR('result')")).toEqual({ kind: 'FINAL_VAR', name: 'result' });
  });
  it('uses the last FINAL and ignores unbalanced ones', () => {
    expect(extractTextFinal('FINAL(1) then FINAL(2)')).toEqual({ kind: 'FINAL', value: '2' });
    expect(extractTextFinal('FINAL(1 and never closed')).toBeNull();
    expect(extractTextFinal('no answer here')).toBeNull();
    expect(extractTextFinal('FINAL(")") )')).toEqual({ kind: 'FINAL', value: ')' });
  });
});

describe('system prompt', () => {
  it('fills every placeholder of the default prompt', () => {
    const text = renderSystemPrompt(DEFAULT_SYSTEM_PROMPT, {
      maxTurns: 12, maxSubCalls: 34, maxSubPromptChars: 400000, maxOutputChars: 20000, maxSubConcurrency: 16,
      cellCpuTimeoutMs: 10000, contextType: 'string', contextChars: 1000, recursive: false,
    });
    expect(text).not.toMatch(/\{[a-zA-Z]+\}/);
    expect(text).toContain('12 turns');
    expect(text).toContain('34 sub-calls');
    expect(text).toContain('400,000 characters');
    expect(text).toContain('llm_query_batched');
  });
});
