/** How the viewer shows a reply (report/viewer/text.ts, DOM-free): reasoning split out, code fences pointing at cells. */
import { describe, expect, it } from 'vitest';
import { replyProse, splitThink } from '../report/viewer/text.ts';

describe('reply display', () => {
  it('splits inline <think>…</think> and an unterminated <think> (cut at max_tokens) and a lone </think> from the reply', () => {
    expect(splitThink('<think>count the lines</think>Let me look.')).toEqual({ reasoning: 'count the lines', rest: 'Let me look.' });
    expect(splitThink('Answer first <think>then an unfinished thought')).toEqual({ reasoning: 'then an unfinished thought', rest: 'Answer first' });
    expect(splitThink('no reasoning here')).toEqual({ reasoning: null, rest: 'no reasoning here' });
    expect(splitThink('the template opened it\n</think>\n\nFINAL(3)')).toEqual({ reasoning: 'the template opened it', rest: 'FINAL(3)' });
  });

  it('replaces executed code fences with pointers to the cells, only when they line up with the recorded cells', () => {
    const reply = 'Look first.\n```repl\nprint(context.length)\n```\nThen:\n```js\nFINAL(1)\n```';
    expect(replyProse(reply, 2)).toBe('Look first.\n⟨code cell 1 below⟩\nThen:\n⟨code cell 2 below⟩');
    expect(replyProse(reply, 1)).toBe(reply); // the env ran a different number of cells: show the reply as written
    expect(replyProse('```python\nx = 1\n```', 1)).toBe('⟨code cell 1 below⟩');
    expect(replyProse('no code', 0)).toBe('no code');
  });
});
