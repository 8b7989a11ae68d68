// Reasoning split and vLLM overflow messages, unit level (the HTTP-level behaviour is in thinking-context.test.ts).
import { describe, expect, it } from 'vitest';
import { extractCodeBlocks, extractTextFinal, splitReasoning } from '../env/index.ts';
import { isContextOverflowMessage, parseOverflow, withThinking, parseSubModelSpec, checkSubModelSpecs } from '../rollouts/index.ts';

describe('splitReasoning', () => {
  it('code inside <think> is never a code block, a FINAL inside it never a text final', () => {
    const reply = '<think>Maybe:\n```repl\nFINAL("guess")\n```\nFINAL("guess")</think>\n\nLet me look.\n```repl\nprint(1)\n```';
    expect(extractCodeBlocks(reply)).toEqual(['print(1)\n']);
    expect(extractCodeBlocks('<think>…```repl\nFINAL("guess")\n```</think>…')).toEqual([]);
    expect(extractTextFinal('<think>FINAL(guess)</think>no answer yet')).toBeNull();
    expect(extractTextFinal('<think>FINAL(guess)</think>FINAL(42)')).toEqual({ kind: 'FINAL', value: '42' });
  });
  it('field, inline, unterminated and lone-</think> forms', () => {
    expect(splitReasoning('\n\nanswer', 'thought')).toEqual({ reasoning: 'thought', action: 'answer', full: '<think>thought</think>\n\nanswer' });
    expect(splitReasoning('<think>\nA\n</think>\n\nB')).toEqual({ reasoning: 'A', action: 'B', full: '<think>\nA\n</think>\n\nB' });
    expect(splitReasoning('<think>\ncut off ```repl\nFINAL(1)\n```')).toMatchObject({ reasoning: 'cut off ```repl\nFINAL(1)\n```', action: '' });
    expect(splitReasoning('prompt-opened thought</think>\n\nB')).toMatchObject({ reasoning: 'prompt-opened thought', action: 'B' });
    expect(splitReasoning('', 'all reasoning (cut)')).toMatchObject({ reasoning: 'all reasoning (cut)', action: '' });
    expect(splitReasoning('plain reply')).toEqual({ reasoning: null, action: 'plain reply', full: 'plain reply' });
    expect(splitReasoning('<think>\n\n</think>\n\nB')).toMatchObject({ reasoning: null, action: 'B' });
  });
});

describe('vLLM context-overflow messages (every wording)', () => {
  const cases: [string, number | null, number | null][] = [
    ["This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4000 in the messages, 1000 in the completion). Please reduce the length of the messages or completion.", 4096, 4000],
    ["This model's maximum context length is 32768 tokens. However, your request has 40000 input tokens. Please reduce the length of the input messages.", 32768, 40000],
    ["'max_tokens' or 'max_completion_tokens' is too large: 8000. This model's maximum context length is 4096 tokens and your request has 2778 input tokens (8000 > 4096 - 2778).", 4096, 2778],
    ["You passed 31745 input tokens and requested 1024 output tokens. However, the model's context length is only 32768 tokens, resulting in a maximum input length of 31744 tokens. Please reduce the length of the input prompt. (parameter=input_tokens, value=31745)", 32768, 31745],
    ['You passed 200000 input characters and requested 1024 output tokens. However, the model\'s context length is only 32768 tokens …', 32768, null],
    ['Prompt is too long to fit into the model', null, null],
    ['The decoder prompt (length 50000) is longer than the maximum model length of 40960.', null, null],
  ];
  it.each(cases)('%s', (msg, len, input) => {
    expect(isContextOverflowMessage(msg)).toBe(true);
    expect(parseOverflow(msg)).toEqual({ maxModelLen: len, inputTokens: input });
  });
  it('max_tokens alone above the window, and other 400s, are not overflows', () => {
    expect(isContextOverflowMessage('max_tokens=140000 cannot be greater than max_model_len=max_total_tokens=131072.')).toBe(false);
    expect(isContextOverflowMessage('context length exceeded')).toBe(false);
    expect(isContextOverflowMessage('temperature must be non-negative')).toBe(false);
  });
});

describe('flags as values', () => {
  it('--thinking maps to chat_template_kwargs.enable_thinking; --extra-body wins', () => {
    expect(withThinking(null, true)).toEqual({ chat_template_kwargs: { enable_thinking: true } });
    expect(withThinking({ chat_template_kwargs: { enable_thinking: true, x: 1 }, min_p: 0.1 }, false)).toEqual({ chat_template_kwargs: { enable_thinking: true, x: 1 }, min_p: 0.1 });
    expect(withThinking({ a: 1 }, undefined)).toEqual({ a: 1 });
  });
  it('--sub-model forms', () => {
    expect(parseSubModelSpec('Qwen/Qwen3-8B')).toEqual({ name: null, model: 'Qwen/Qwen3-8B', endpoint: null });
    expect(parseSubModelSpec('fast=Qwen/Qwen3-0.6B@http://h:8001/v1')).toEqual({ name: 'fast', model: 'Qwen/Qwen3-0.6B', endpoint: 'http://h:8001/v1' });
    expect(parseSubModelSpec('qwen3@http://h/v1')).toEqual({ name: null, model: 'qwen3', endpoint: 'http://h/v1' });
    expect(() => parseSubModelSpec('a=b=c')).toThrow(/expected id, id@endpoint, name=id or name=id@endpoint/);
    expect(() => checkSubModelSpecs([parseSubModelSpec('a'), parseSubModelSpec('b')])).toThrow(/at most one unnamed/);
    expect(() => checkSubModelSpecs([parseSubModelSpec('x=a'), parseSubModelSpec('x=b')])).toThrow(/'x' is used twice/);
  });
});
