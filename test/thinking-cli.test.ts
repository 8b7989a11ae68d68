// `npm run rollout -- --model qwen3 --thinking … --logprobs` and the export flags, as a user runs them, against the
// vLLM-faithful test server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Message } from '../env/index.ts';
import { readRun } from '../datasets/index.ts';
import { scriptedPolicy } from './helpers/servers.ts';
import { startVllmServer, type VllmServer } from './helpers/vllm-server.ts';

const root = path.resolve(import.meta.dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rlm-think-cli-'));
let server: VllmServer;

function node(script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', script, ...args], { cwd: root, env: { ...process.env, OPENAI_BASE_URL: '', OPENAI_API_KEY: '' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  server = await startVllmServer({
    model: 'Qwen/Qwen3-8B',
    maxModelLen: 40960,
    extraModels: [{ id: 'Qwen/Qwen3-0.6B', maxModelLen: 32768 }],
    reasoningParser: 'qwen3',
    generate: (m: Message[]) => `<think>\nDraft: FINAL("guess")\n</think>\n\n${scriptedPolicy(m)}`,
  });
});
afterAll(async () => {
  await server.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('rollout + export CLI with a thinking model', () => {
  it('--help lists the new flags', async () => {
    const r = await node('scripts/rollout.ts', ['--help']);
    expect(r.code).toBe(0);
    for (const f of ['--thinking <on|off>', '--keep-reasoning', '--max-model-len <int>', '--sub-max-model-len <int>', '--context-policy <policy>', '--sub-model <[name=]id[@endpoint]>']) expect(r.stdout).toContain(f);
    const e = await node('scripts/export.ts', ['--help']);
    expect(e.stdout).toContain('--drop-truncated');
    expect(e.stdout).toContain('--max-turn-chars <n>');
  }, 120_000);

  it('--model qwen3 --thinking off --logprobs with a named sub-model: request bodies, manifest, columns, exports', async () => {
    const out = path.join(tmp, 'run');
    const r = await node('scripts/rollout.ts', [
      '--model', 'qwen3', '--endpoint', server.url, '--thinking', 'off', '--logprobs', '--task', 'sniah', '--n', '2', '--context-tokens', '2000',
      '--sub-model', 'small=Qwen/Qwen3-0.6B', '--sub-max-model-len', '20000', '--max-tokens', '512', '--out', out, '--quiet',
    ]);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const roots = server.chats.filter((c) => (c.body.messages as Message[])[0].role === 'system');
    expect(roots.length).toBeGreaterThan(0);
    for (const c of roots) expect(c.body).toMatchObject({ model: 'Qwen/Qwen3-8B', chat_template_kwargs: { enable_thinking: false }, logprobs: true, return_token_ids: true });
    const subs = server.chats.filter((c) => (c.body.messages as Message[])[0].role !== 'system');
    expect(subs.every((c) => c.body.model === 'Qwen/Qwen3-0.6B')).toBe(true);

    const run = await readRun(out);
    const m = run.manifest as unknown as { models: Record<string, string>; extra: { context_window: Record<string, unknown>; env: Record<string, unknown> } };
    expect(m.models).toMatchObject({ root: 'Qwen/Qwen3-8B', sub: 'Qwen/Qwen3-0.6B', 'sub:small': 'Qwen/Qwen3-0.6B' });
    expect(m.extra.context_window).toMatchObject({
      root: { max_model_len: 40960, source: 'server' },
      sub: [{ name: 'small', model: 'Qwen/Qwen3-0.6B', max_model_len: 20000, source: 'flag', prompt_counting: 'exact' }],
      context_policy: 'truncate',
      thinking: 'off',
      keep_reasoning: false,
    });
    expect(String(m.extra.context_window.prompt_counting)).toMatch(/^exact: /);
    expect(run.episodes.every((e) => e.correct && e.completion_truncated === false)).toBe(true);
    expect(run.steps.every((s) => s.finish_reason === 'stop' && s.reasoning === 'Draft: FINAL("guess")' && (s.max_tokens ?? 0) <= 512)).toBe(true);
    expect(run.episodes[0].messages[0].content).toContain('`"small"` — Qwen/Qwen3-0.6B, a 20,000-token context window');

    // The recorded run replays exactly (windows, sub-model names and reasoning are in what it recorded).
    const replay = await node('scripts/replay.ts', [out]);
    expect(replay.stderr).toBe('');
    expect(replay.code).toBe(0);

    const turns = path.join(tmp, 'turns.parquet');
    const e1 = await node('scripts/export.ts', [out, '--format', 'sft-turns', '--max-turn-chars', '100000', '--drop-truncated', '--out', turns]);
    expect(e1.code).toBe(0);
    expect(e1.stdout).toMatch(new RegExp(`^sft-turns: ${run.steps.length} row\\(s\\)`));
    const bad = await node('scripts/export.ts', [out, '--format', 'tokens', '--max-turn-chars', '5', '--out', path.join(tmp, 'x.parquet')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('export: --max-turn-chars applies to --format sft-turns only');
  }, 240_000); // five child processes on a shared machine: an anti-hang bound, not a speed claim

  it('--extra-body wins over --thinking', async () => {
    const before = server.chats.length;
    const out = path.join(tmp, 'run2');
    const r = await node('scripts/rollout.ts', [
      '--model', 'qwen3', '--endpoint', server.url, '--thinking', 'off', '--extra-body', '{"chat_template_kwargs":{"enable_thinking":true},"min_p":0.05}',
      '--task', 'sniah', '--n', '1', '--context-tokens', '2000', '--out', out, '--quiet',
    ]);
    expect(r.code).toBe(0);
    const bodies = server.chats.slice(before).map((c) => c.body);
    expect(bodies.length).toBeGreaterThan(0);
    for (const b of bodies) expect(b).toMatchObject({ chat_template_kwargs: { enable_thinking: true }, min_p: 0.05 });
  }, 120_000);
});
