/**
 * The embedded reference policy, end to end: referenceRespond drives RLMEnv as the root policy AND answers the
 * sub-calls its programs make (no HTTP here; the server is a thin wrapper tested with the rollouts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RLMEnv, SandboxPool, type Message, type SubCallHandler } from '../env/index.ts';
import { answerSubPrompt, classifyPrompt, parseQuestion, referenceRespond, UNKNOWN_SUB_REPLY } from '../rollouts/reference/policy.ts';
import { generateTask, oolongBankLabel, OOLONG_LEADS, type Task } from '../tasks/index.ts';
import { program } from '../rollouts/reference/programs.ts';
import { pythonProgram } from '../rollouts/reference/programs-python.ts';
import { READ_HEADER, readPrompt } from '../rollouts/reference/subcalls.ts';
import { allInstances } from '../tasks/records.ts';
import { OOLONG_LABELS } from '../tasks/index.ts';

let pool: SandboxPool;
beforeAll(() => {
  pool = new SandboxPool({ workers: 2 });
});
afterAll(async () => {
  await pool.close();
});

const refSub: SubCallHandler = async (req) => ({
  text: referenceRespond([{ role: 'user', content: req.prompt }]),
  model: 'ref',
  promptTokens: 0,
  completionTokens: 0,
});

interface Played {
  score: number;
  terminated: boolean;
  truncated: boolean;
  turns: number;
  subCalls: number;
  replies: string[];
  maxSubPromptChars: number;
  finalAnswer: string | null;
  wallMs: number;
}

async function play(config: ConstructorParameters<typeof RLMEnv>[0], seed: number): Promise<Played> {
  const env = new RLMEnv({ pool, subModel: refSub, ...config });
  const t0 = performance.now();
  try {
    const { observation } = await env.reset({ seed });
    const msgs: Message[] = [...observation];
    const replies: string[] = [];
    let maxSubPromptChars = 0;
    for (;;) {
      const reply = referenceRespond(msgs);
      replies.push(reply);
      const r = await env.step(reply);
      for (const c of r.info.step?.sub_calls ?? []) maxSubPromptChars = Math.max(maxSubPromptChars, c.prompt.length);
      msgs.push({ role: 'assistant', content: reply }, ...r.observation);
      if (r.terminated || r.truncated) {
        return {
          score: r.info.score?.score ?? 0,
          terminated: r.terminated,
          truncated: r.truncated,
          turns: r.info.turn,
          subCalls: r.info.subCalls,
          replies,
          maxSubPromptChars,
          finalAnswer: r.info.finalAnswer,
          wallMs: performance.now() - t0,
        };
      }
      if (replies.length > 40) throw new Error('episode did not end');
    }
  } finally {
    await env.close();
  }
}

const SEEDS = Array.from({ length: 20 }, (_, i) => i);

describe('reference policy: scores at default sizes (20 seeds per family)', () => {
  for (const family of ['sniah', 'oolong', 'oolong-pairs', 'browsecomp']) {
    it(`${family}: mean score ≥ 0.9, every episode answers`, async () => {
      const results: Played[] = [];
      for (const seed of SEEDS) results.push(await play({ task: family }, seed));
      const mean = results.reduce((n, r) => n + r.score, 0) / results.length;
      expect(mean).toBeGreaterThanOrEqual(0.9);
      for (const r of results) {
        expect(r.terminated).toBe(true);
        expect(r.truncated).toBe(false);
        expect(r.turns).toBeLessThanOrEqual(3);
        // Turn 1 explores, turn 2 solves: real code blocks every time.
        for (const reply of r.replies) expect(reply).toMatch(/```repl\n[\s\S]+\n```/);
      }
      if (family === 'oolong' || family === 'oolong-pairs') {
        for (const r of results) expect(r.subCalls).toBeGreaterThan(0);
      }
    }, 180_000);
  }
});

describe('reference policy: determinism', () => {
  it('same messages ⇒ same reply; same seed ⇒ the same episode', async () => {
    const task = generateTask('oolong', { seed: 5 });
    const msgs: Message[] = [
      { role: 'system', content: 'You answer a question … 30 turns in all, 500 sub-calls in all …' },
      { role: 'user', content: `context is a string.\n\nQuestion: ${task.question}\n\nStart by writing code in a \`\`\`repl block.` },
    ];
    expect(referenceRespond(msgs)).toBe(referenceRespond(structuredClone(msgs)));
    const a = await play({ task: 'oolong-pairs' }, 3);
    const b = await play({ task: 'oolong-pairs' }, 3);
    expect(a.replies).toEqual(b.replies);
    expect(a.finalAnswer).toBe(b.finalAnswer);
  }, 60_000);
});

describe('reference policy: sub-call answers', () => {
  it('labels numbered questions as a reader would: the instance bank, through lead-ins', () => {
    const instances = OOLONG_LABELS.flatMap((l) => allInstances(l).filter((_, i) => i % 97 === 0).slice(0, 15));
    instances.push(`${OOLONG_LEADS[1]} ${instances[0]}`);
    const reply = answerSubPrompt(classifyPrompt(instances));
    const lines = reply.split('\n');
    expect(lines).toHaveLength(instances.length);
    lines.forEach((line, i) => expect(line).toBe(`${i + 1}: ${oolongBankLabel(instances[i])}`));
    // The same through referenceRespond (a single user message = a sub-call).
    expect(referenceRespond([{ role: 'user', content: classifyPrompt(instances.slice(0, 3)) }])).toBe(lines.slice(0, 3).join('\n'));
  });

  it('labels record lines pasted into any prompt, and commits to a label for sentences it does not know', () => {
    const task = generateTask('oolong', { seed: 2, contextTokens: 1_000 });
    const lines = (task.context as string).split('\n').filter(Boolean).slice(0, 12);
    const reply = answerSubPrompt(`Label these records:\n${lines.join('\n')}`).split('\n');
    expect(reply).toHaveLength(12);
    reply.forEach((r, i) => expect(r).toBe(`${i + 1}: ${oolongBankLabel(lines[i].split(' || Instance: ')[1])}`));
    expect(answerSubPrompt(classifyPrompt(['Is this even a question'])).split(': ')[1]).toMatch(new RegExp(`^(${OOLONG_LABELS.join('|')})$`));
  });

  it('a less accurate sub-model errs on about the requested share of instances, deterministically', () => {
    const instances = OOLONG_LABELS.flatMap((l) => allInstances(l).filter((_, i) => i % 13 === 0).slice(0, 80));
    const prompt = classifyPrompt(instances);
    const wrong = (accuracy: number): number =>
      answerSubPrompt(prompt, { accuracy, salt: 's' }).split('\n').filter((line, i) => line !== `${i + 1}: ${oolongBankLabel(instances[i])}`).length;
    expect(wrong(1)).toBe(0);
    expect(wrong(0.9) / instances.length).toBeGreaterThan(0.05);
    expect(wrong(0.9) / instances.length).toBeLessThan(0.15);
    expect(wrong(0.8)).toBeGreaterThan(wrong(0.9));
    expect(answerSubPrompt(prompt, { accuracy: 0.9, salt: 's' })).toBe(answerSubPrompt(prompt, { accuracy: 0.9, salt: 's' }));
  });

  it('finds a needle in a chunk or says NONE; unknown prompts get a short fixed reply', () => {
    const p = (text: string) =>
      `Find the sentence "The special magic number for quiet-harbor is <value>." in the text below. Reply with the value only, or NONE if the text has no such sentence.\n\nText:\n${text}`;
    expect(answerSubPrompt(p('Filler. The special magic number for quiet-harbor is 1234567. More.'))).toBe('1234567');
    expect(answerSubPrompt(p('Filler. The special magic number for quiet-ferry is 7654321. More.'))).toBe('NONE');
    expect(referenceRespond([{ role: 'user', content: 'What is the capital of France?' }])).toBe(UNKNOWN_SUB_REPLY);
  });

  it('never throws on malformed requests', () => {
    for (const bad of [[], null, undefined, [{ role: 'tool', content: 1 }], [{ role: 'user' }], 'x'] as unknown[]) {
      expect(typeof referenceRespond(bad as Message[])).toBe('string');
    }
    // OpenAI content parts are read as text.
    const parts = [{ role: 'user', content: [{ type: 'text', text: classifyPrompt(['Who wrote it?']) }] }] as unknown as Message[];
    expect(referenceRespond(parts)).toBe('1: human');
  });

  it('recognises every family from the question text', () => {
    expect(parseQuestion(generateTask('sniah', { seed: 1 }).question).family).toBe('sniah');
    for (let seed = 0; seed < 12; seed++) {
      expect(parseQuestion(generateTask('oolong', { seed }).question).family).toBe('oolong');
      expect(parseQuestion(generateTask('oolong-pairs', { seed }).question).family).toBe('oolong-pairs');
      const bc = parseQuestion(generateTask('browsecomp', { seed, numDocs: 100, contextTokens: 20_000 }).question);
      expect(bc.family).toBe('browsecomp');
      if (bc.family === 'browsecomp') expect(bc.constraints.every((c) => c.kind !== 'unknown')).toBe(true);
    }
    expect(parseQuestion('What is the meaning of life?').family).toBe('unknown');
  });
});

describe('reference policy: fallbacks', () => {
  it('answers even when every sub-call fails — with a best guess, never a label rule of its own', async () => {
    const dead: SubCallHandler = async () => {
      throw new Error('sub-model down');
    };
    const r = await play({ task: 'oolong', subModel: dead, taskOptions: { query: 'count' } }, 3);
    expect(r.terminated).toBe(true);
    expect(r.turns).toBe(3);
    expect(r.replies[2]).toContain('previous step did not settle the answer');
    // Without sub-models nothing is labelled: a count comes out as 0, not as a rule's estimate.
    expect(r.finalAnswer).toBe('0');
  }, 60_000);

  it('its REPL code labels instances only through sub-calls (no wording rule, no bank)', async () => {
    for (const task of ['oolong', 'oolong-pairs']) {
      const r = await play({ task }, 5);
      // The sub-call prompt quotes the category definitions; the code around it must not use any wording cue.
      const code = r.replies.join('\n').replace(/const HEADER = .*;\n/g, '');
      expect(code).toContain('llm_query_batched');
      expect(code).not.toMatch(/heuristicLabel|stand for|acronym|\^\(who|\^where|how \(many/i);
    }
  }, 60_000);

  it('submits within the turn budget (maxTurns 1 and 2)', async () => {
    for (const maxTurns of [1, 2]) {
      for (const task of ['sniah', 'oolong', 'browsecomp']) {
        const r = await play({ task, maxTurns, taskOptions: task === 'browsecomp' ? { numDocs: 200, contextTokens: 40_000 } : {} }, 4);
        expect(r.terminated).toBe(true);
        expect(r.turns).toBeLessThanOrEqual(maxTurns);
        expect(r.score).toBe(1);
      }
    }
  }, 60_000);

  it('respects a tiny sub-call budget and a small prompt limit', async () => {
    const tiny = await play({ task: 'oolong', maxSubCalls: 3, taskOptions: { query: 'count' } }, 4);
    expect(tiny.terminated).toBe(true);
    expect(tiny.subCalls).toBeLessThanOrEqual(3);
    const small = await play({ task: 'oolong', sandbox: { maxSubPromptChars: 3_000 }, taskOptions: { query: 'count' } }, 4);
    expect(small.terminated).toBe(true);
    expect(small.maxSubPromptChars).toBeLessThanOrEqual(3_000);
    expect(small.score).toBe(1);
  }, 60_000);

  it('explores, then submits a best-effort answer to an unrecognised question', async () => {
    const task: Task = {
      id: 'custom-1', family: 'custom', seed: 0, options: {}, question: 'What colour was the sky in the story?',
      context: 'Once upon a time the sky was green.\n'.repeat(20), answer: 'green', answerType: 'exact', meta: {},
    };
    const r = await play({ task, score: () => ({ score: 0, correct: false, details: {} }) }, 0);
    expect(r.terminated).toBe(true);
    expect(r.turns).toBe(2);
    expect(typeof r.finalAnswer).toBe('string');
  }, 60_000);
});

describe('reference policy: 10M-token contexts within the default budgets', () => {
  it('sniah at 10M tokens', async () => {
    const r = await play({ task: 'sniah', taskOptions: { contextTokens: 10_000_000 } }, 1);
    expect(r.terminated).toBe(true);
    expect(r.score).toBe(1);
  }, 300_000);

  it('oolong at 10M tokens: ≤ 200 sub-calls, every prompt under 400,000 chars', async () => {
    const r = await play({ task: 'oolong', taskOptions: { contextTokens: 10_000_000, query: 'count' } }, 1);
    expect(r.terminated).toBe(true);
    expect(r.score).toBe(1);
    expect(r.subCalls).toBeGreaterThan(0);
    expect(r.subCalls).toBeLessThanOrEqual(200);
    expect(r.maxSubPromptChars).toBeLessThan(400_000);
  }, 300_000);
});

describe('browsecomp: the reference reads documents through sub-calls; the sub-model reads only its prompt', () => {
  const doc = (id: string, title: string, text: string) => ({ id, title, text });
  const person = doc(
    'doc-0007',
    'Mara Lindqvist',
    'Mara Lindqvist made a name as a botanist. The old mill stood by the river.\n\nShe applied to the Amber Coast College but never enrolled. ' +
      'She was born in Upper Ashford and turned forty in 1978. Her student years were spent at the Larkspur Academy. ' +
      'In 1990 the Tidewater Gazette needed a new chair. The members chose her. Before finding her calling, she worked briefly as an engineer\'s assistant.',
  );
  const award = doc('doc-0002', 'Quill Medal', 'The Quill Medal is an award presented by the Tidewater Gazette. The award was established twelve years after the founding of the organisation that presents it.');
  const event = doc('doc-0003', 'Dunridge Salt Regatta', 'The Dunridge Salt Regatta took place in Dunridge in 1961. It was a regatta organised by the Tidewater Gazette. Bram Okafor took part. Mara Lindqvist had been invited but did not attend.');

  it('reports what each document states, not its near misses; relative years are worked out or reported as relative', () => {
    const reply = answerSubPrompt(readPrompt([person, award, event]));
    const block = (id: string) => reply.split('\n\n').find((b) => b.startsWith(`## ${id}`)) ?? '';
    const p = block('doc-0007');
    expect(p).toContain('kind: person');
    expect(p).toContain('born: 1938');
    expect(p).toContain('birthplace: Upper Ashford');
    expect(p).toContain('profession: botanist');
    expect(p).toContain('studied at: Larkspur Academy');
    expect(p).toContain('chaired: Tidewater Gazette; 1990');
    expect(p).not.toMatch(/Amber Coast|engineer/);
    expect(block('doc-0002')).toContain("established: 12 years after the presenter's founding");
    const e = block('doc-0003');
    expect(e).toContain('participants: Bram Okafor');
    expect(e).not.toContain('Mara Lindqvist');
    // Nothing beyond the prompt: a prompt without documents gets NONE.
    expect(answerSubPrompt(`${READ_HEADER}\nno documents here`)).toBe('NONE');
  });

  it('a weaker reader (accuracy < 1) errs: it takes near misses for facts or misses facts', () => {
    const docs = Array.from({ length: 40 }, (_, i) => ({ ...person, id: `doc-${1000 + i}` }));
    const perfect = answerSubPrompt(readPrompt(docs));
    const weak = answerSubPrompt(readPrompt(docs), { accuracy: 0.7, salt: 's' });
    expect(weak).not.toBe(perfect);
    expect(weak).toMatch(/studied at: Amber Coast College|profession: engineer/);
    expect(answerSubPrompt(readPrompt(docs), { accuracy: 0.7, salt: 's' })).toBe(weak);
  });

  it('the reference program sends read prompts via llm_query_batched and has no fact regex of its own', () => {
    const task = generateTask('browsecomp', { seed: 3, numDocs: 100, contextTokens: 20_000 });
    const q = parseQuestion(task.question);
    const code = program(q, 'solve', { subCallsLeft: 500, maxPromptChars: 400_000 });
    expect(code).toContain('llm_query_batched(');
    expect(code).toContain(READ_HEADER.slice(0, 40));
    expect(code).not.toMatch(/studied at the|was educated at the|became chair of|Participants included/);
    const pyCode = pythonProgram(q, 'solve', { subCallsLeft: 500, maxPromptChars: 400_000 });
    expect(pyCode).toContain('llm_query_batched(');
    expect(pyCode).not.toMatch(/studied at the|was educated at the|became chair of|Participants included/);
  });

  it('plays a default-size task: reads the entity documents and a few candidates, scores 1', async () => {
    const r = await play({ task: 'browsecomp' }, 5);
    expect(r.score).toBe(1);
    expect(r.subCalls).toBeGreaterThan(10);
    expect(r.subCalls).toBeLessThan(60);
  }, 120_000);
});
