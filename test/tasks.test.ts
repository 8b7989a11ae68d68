/** tasks/ door: registry, option errors, determinism, ids, the oolong instance bank, and scorer edge cases. */
import { describe, expect, it } from 'vitest';
import {
  OOLONG_LABELS,
  TASK_FAMILIES,
  TaskOptionError,
  UnknownTaskError,
  generateTask,
  getTaskFamily,
  oolongBankLabel,
  oolongInstanceBank,
  OOLONG_LEADS,
  scoreTask,
  taskHash,
  verifyTaskId,
  type Doc,
  type Task,
} from '../tasks/index.ts';
import { OOLONG_TEMPLATES, allInstances } from '../tasks/records.ts';

const FAMILIES = ['sniah', 'oolong', 'oolong-pairs', 'browsecomp'];
/** Small but real options per family, so determinism checks stay fast. */
const SMALL: Record<string, Record<string, unknown>> = {
  sniah: { contextTokens: 3_000, distractors: 2 },
  oolong: { contextTokens: 3_000 },
  'oolong-pairs': { contextTokens: 3_000 },
  browsecomp: { contextTokens: 6_000, numDocs: 40 },
};

describe('registry', () => {
  it('registers exactly the four families, each with defaults that generate a task', () => {
    expect(Object.keys(TASK_FAMILIES).sort()).toEqual([...FAMILIES].sort());
    for (const name of FAMILIES) {
      const def = getTaskFamily(name);
      expect(def.name).toBe(name);
      expect(typeof def.defaults.contextTokens).toBe('number');
      const t = generateTask(name, { seed: 0 });
      expect(t.family).toBe(name);
      expect(t.options.contextTokens).toBe(def.defaults.contextTokens);
      expect(t.question.length).toBeGreaterThan(20);
      expect(t.answer.length).toBeGreaterThan(0);
    }
  });

  it('unknown families throw UnknownTaskError listing the valid ones', () => {
    expect(() => getTaskFamily('snaih')).toThrow(UnknownTaskError);
    try {
      generateTask('nope', { seed: 1 });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(UnknownTaskError);
      for (const f of FAMILIES) expect((err as Error).message).toContain(f);
    }
    // Prototype keys are not families.
    expect(() => getTaskFamily('toString')).toThrow(UnknownTaskError);
  });
});

describe('option validation', () => {
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['sniah', { seed: 1, valueType: 'emoji' }, /valueType.*number, uuid, word/],
    ['sniah', { seed: 1, depth: 1.5 }, /depth.*<= 1/],
    ['sniah', { seed: 1, numDocs: 3 }, /unknown option 'numDocs'.*valid options: seed, contextTokens/],
    ['sniah', { seed: -1 }, /seed.*>= 0/],
    ['sniah', { seed: 1.5 }, /seed.*integer/],
    ['sniah', {}, /seed/],
    ['oolong', { seed: 1, contextTokens: 10 }, /contextTokens.*>= 512/],
    ['oolong', { seed: 1, query: 'median' }, /query.*count, most_frequent/],
    ['oolong-pairs', { seed: 1, users: 1 }, /users.*>= 4/],
    ['browsecomp', { seed: 1, numDocs: 5 }, /numDocs.*>= 16/],
    ['browsecomp', { seed: 1, constraints: 7 }, /constraints.*<= 4/],
    ['browsecomp', { seed: 1, numDocs: 1000, contextTokens: 5_000 }, /contextTokens.*at least about/],
  ];
  it.each(bad)('%s %j → TaskOptionError', (family, options, message) => {
    try {
      generateTask(family, options as { seed: number });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(TaskOptionError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('undefined option values mean "use the default"', () => {
    const a = generateTask('sniah', { seed: 4, contextTokens: 1_000, depth: undefined });
    const b = generateTask('sniah', { seed: 4, contextTokens: 1_000 });
    expect(a.id).toBe(b.id);
  });
});

describe('determinism and ids', () => {
  it.each(FAMILIES)('%s: same seed + options ⇒ byte-identical task; other seeds differ', (family) => {
    const a = generateTask(family, { seed: 11, ...SMALL[family] });
    const b = generateTask(family, { seed: 11, ...SMALL[family] });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    const ids = new Set<string>();
    const contexts = new Set<string>();
    for (let seed = 0; seed < 8; seed++) {
      const t = generateTask(family, { seed, ...SMALL[family] });
      ids.add(t.id);
      contexts.add(JSON.stringify(t.context));
    }
    expect(ids.size).toBe(8);
    expect(contexts.size).toBe(8);
  });

  it.each(FAMILIES)('%s: task.options regenerates the task, and the id verifies its content', (family) => {
    const t = generateTask(family, { seed: 5, ...SMALL[family] });
    expect(t.seed).toBe(5);
    expect(t.id).toMatch(/^[0-9a-f]{16}$/);
    const again = generateTask(family, t.options as { seed: number });
    expect(again).toEqual(t);
    expect(verifyTaskId(t)).toBe(true);
    expect(taskHash(t)).toBe(t.id);
    const tampered: Task = { ...t, answer: `${t.answer}x` };
    expect(verifyTaskId(tampered)).toBe(false);
    const otherContext: Task = {
      ...t,
      context: typeof t.context === 'string' ? `${t.context} ` : (t.context as Doc[]).map((d, i) => (i === 0 ? { ...d, text: `${d.text} ` } : d)),
    };
    expect(verifyTaskId(otherContext)).toBe(false);
  });

  it('the hash separates fields (no ambiguity from concatenation)', () => {
    const base = { family: 'sniah', seed: 1, options: { a: 1 }, question: 'ab', answer: 'c', context: 'x' };
    expect(taskHash(base)).not.toBe(taskHash({ ...base, question: 'a', answer: 'bc' }));
    expect(taskHash(base)).toBe(taskHash({ ...base, options: { a: 1 } }));
    // Options are canonicalized: key order does not matter.
    expect(taskHash({ ...base, options: { a: 1, b: 2 } })).toBe(taskHash({ ...base, options: { b: 2, a: 1 } }));
  });

  it('every question states the answer format', () => {
    const formats: Record<string, RegExp> = {
      sniah: /Answer with the value only/,
      oolong: /Answer with (a single integer only|the category name only|exactly one word)/,
      'oolong-pairs': /one pair per line as \(smaller id, larger id\)/,
      browsecomp: /Answer with the person's full name only/,
    };
    for (const family of FAMILIES) {
      for (let seed = 0; seed < 6; seed++) expect(generateTask(family, { seed, ...SMALL[family] }).question).toMatch(formats[family]);
    }
  });
});

describe('browsecomp: numDocs from contextTokens', () => {
  it('derives the document count when numDocs is not given (and records it), 16 … 1,000', () => {
    const small = generateTask('browsecomp', { seed: 2, contextTokens: 20_000 });
    expect(small.options.numDocs).toBe(100);
    expect((small.context as unknown[]).length).toBe(100);
    expect(Math.abs((small.meta.contextTokens as number) - 20_000)).toBeLessThanOrEqual(1_000);
    expect(generateTask('browsecomp', { seed: 2 }).options.numDocs).toBe(1_000);
    expect(generateTask('browsecomp', { seed: 2, contextTokens: 2_000 }).options.numDocs).toBe(16);
    // Regenerating from the recorded options gives the same task.
    expect(generateTask('browsecomp', small.options as { seed: number }).id).toBe(small.id);
  });
});

describe('oolong instance bank', () => {
  it('gives every sentence exactly one label, and every template is in the bank', () => {
    const bank = oolongInstanceBank(); // throws if one sentence would carry two labels
    expect(bank.size).toBeGreaterThan(20_000);
    for (const label of OOLONG_LABELS) {
      expect(OOLONG_TEMPLATES[label].length).toBeGreaterThanOrEqual(9);
      const sentences = allInstances(label);
      for (const s of sentences) expect(bank.get(s), s).toBe(label);
    }
  });

  it('shares surface forms across labels: the same frame carries several labels', () => {
    // Strip every slot value: the skeletons of a frame such as "Which {N} is mentioned in {work}?" occur in 4 labels.
    const skeleton = (t: string): string => t.replace(/\{(humNoun|locNoun|entNoun|numNoun)\}/g, '{N}').replace(/\{\w+Attr\w*\}/g, '{A}').replace(/\{\w+Verb\w*\}/g, '{V}');
    const labelsOf = new Map<string, Set<string>>();
    for (const label of OOLONG_LABELS) for (const t of OOLONG_TEMPLATES[label]) {
      const k = skeleton(t);
      if (!labelsOf.has(k)) labelsOf.set(k, new Set());
      labelsOf.get(k)!.add(label);
    }
    const shared = [...labelsOf.values()].filter((v) => v.size >= 3).length;
    expect(shared).toBeGreaterThanOrEqual(8);
    // No opening word decides the label: each of these openings starts sentences of at least three labels.
    for (const opening of ['What is the', 'Which', 'What does', 'How', 'What did', 'Name the']) {
      const labels = OOLONG_LABELS.filter((l) => allInstances(l).some((s) => s.startsWith(opening)));
      expect(labels.length, opening).toBeGreaterThanOrEqual(3);
    }
  });

  it('reads through lead-ins and knows nothing else', () => {
    const s = allInstances('location')[0];
    expect(oolongBankLabel(`${OOLONG_LEADS[0]} ${s}`)).toBe('location');
    expect(oolongBankLabel('The weather is nice today.')).toBeNull();
    expect(oolongBankLabel('')).toBeNull();
  });
});

// ------------------------------------------------------------------------------------------------- scorers
function fake(family: string, answer: string, answerType: Task['answerType'], meta: Record<string, unknown> = {}): Task {
  return { id: 'x', family, seed: 0, options: {}, question: 'q', context: '', answer, answerType, meta };
}

describe('scorers', () => {
  it('sniah: normalized exact match', () => {
    const t = fake('sniah', '4815162', 'exact');
    for (const p of ['4815162', ' 4815162. ', '"4815162"', '**4815162**', 'Answer: 4815162', '`4815162`', 'FINAL ANSWER: 4815162']) {
      expect(scoreTask(t, p).score, p).toBe(1);
    }
    for (const p of ['4815163', '48151620', 'The number is 4815162 I think', '', '4,815,162']) expect(scoreTask(t, p).score, p).toBe(0);
    const u = fake('sniah', '81f7d94e-157c-4630-8554-142763c25b52', 'exact');
    expect(scoreTask(u, '81F7D94E-157C-4630-8554-142763C25B52').correct).toBe(true);
    expect(scoreTask(u, '81f7d94e157c46308554142763c25b52').correct).toBe(false);
  });

  it('oolong numeric: 0.75^|Δ| on the first number', () => {
    const t = fake('oolong', '10', 'numeric');
    expect(scoreTask(t, '10').score).toBe(1);
    expect(scoreTask(t, '10').correct).toBe(true);
    expect(scoreTask(t, 'There are 12 of them (out of 40).').score).toBeCloseTo(0.5625, 10);
    expect(scoreTask(t, '7').score).toBeCloseTo(0.75 ** 3, 10);
    expect(scoreTask(t, '9.5').score).toBeCloseTo(0.75 ** 0.5, 10);
    expect(scoreTask(t, '12').correct).toBe(false);
    expect(scoreTask(t, 'ten').score).toBe(0);
    expect(scoreTask(t, 'user u10 has none').score).toBe(0);
    const big = fake('oolong', '1234', 'numeric');
    expect(scoreTask(big, 'about 1,234 records').score).toBe(1);
  });

  it('oolong labels and comparisons: normalized match plus aliases', () => {
    const t = fake('oolong', 'location', 'label', { aliases: [] });
    for (const p of ['location', 'Location', "'location'", 'Label: location', 'location.']) expect(scoreTask(t, p).score, p).toBe(1);
    for (const p of ['loc', 'numeric', 'location numeric', '']) expect(scoreTask(t, p).score, p).toBe(0);
    const c = fake('oolong', 'more', 'label', { aliases: ['more common', 'more frequent'] });
    expect(scoreTask(c, 'More common').score).toBe(1);
    expect(scoreTask(c, 'less').score).toBe(0);
  });

  it('oolong-pairs: F1 with tolerant parsing', () => {
    const t = fake('oolong-pairs', '(10001, 20002)\n(10001, 30003)\n(20002, 30003)', 'pairs');
    expect(scoreTask(t, '(10001, 20002)\n(10001, 30003)\n(20002, 30003)').score).toBe(1);
    // Swapped order inside pairs, duplicates, brackets, JSON.
    expect(scoreTask(t, '(20002,10001) (30003 , 10001) (10001, 20002) [20002, 30003]').score).toBe(1);
    expect(scoreTask(t, '[[10001,20002],[10001,30003],[30003,20002]]').score).toBe(1);
    // Partial: 2 of 3 right plus one wrong → P = 2/3, R = 2/3.
    const partial = scoreTask(t, '(10001, 20002)\n(10001, 30003)\n(40004, 50005)');
    expect(partial.score).toBeCloseTo(2 / 3, 10);
    expect(partial.correct).toBe(false);
    expect(partial.details.precision).toBeCloseTo(2 / 3, 10);
    // Only a subset, no wrong pairs → P = 1, R = 1/3 → F1 = 0.5.
    expect(scoreTask(t, '(10001, 20002)').score).toBeCloseTo(0.5, 10);
    expect(scoreTask(t, '').score).toBe(0);
    expect(scoreTask(t, 'none').score).toBe(0);
    expect(scoreTask(t, '(10001, )').score).toBe(0);
    const empty = fake('oolong-pairs', '', 'pairs');
    expect(scoreTask(empty, '').score).toBe(1);
    expect(scoreTask(empty, 'no pairs').score).toBe(1);
    expect(scoreTask(empty, '(1, 2)').score).toBe(0);
  });

  it('browsecomp: canonical name or any alias, normalized', () => {
    const t = fake('browsecomp', 'Rosa Whitworth', 'entity', { aliases: ['Rosa Elin Whitworth', 'Whitworth, Rosa', 'R. Whitworth'] });
    for (const p of ['Rosa Whitworth', 'rosa whitworth', 'Rosa  Whitworth.', 'Answer: "Rosa Whitworth"', 'R. Whitworth', 'Whitworth, Rosa', 'Rosa Elin Whitworth']) {
      expect(scoreTask(t, p).score, p).toBe(1);
    }
    for (const p of ['Rosa', 'Whitworth', 'Paula Whitlock', 'Rosa Whitworth and Paula Whitlock']) expect(scoreTask(t, p).score, p).toBe(0);
  });

  it('malformed predictions score 0 and never throw', () => {
    const tasks = [
      fake('sniah', '1', 'exact'),
      fake('oolong', '3', 'numeric'),
      fake('oolong', 'human', 'label', { aliases: 'not-a-list' }),
      fake('oolong-pairs', '(1, 2)', 'pairs'),
      fake('browsecomp', 'A B', 'entity', { aliases: null }),
    ];
    const weird: unknown[] = [undefined, null, 42, {}, [], { answer: 1 }, 'x'.repeat(100_000), '\u0000\uffff', Symbol('s'), () => 1];
    for (const t of tasks) {
      for (const p of weird) {
        const r = scoreTask(t, p as string);
        expect(r.score).toBeGreaterThanOrEqual(0);
        expect(r.score).toBeLessThanOrEqual(1);
      }
    }
    // A number is read as its string form (a policy may FINAL(3)).
    expect(scoreTask(tasks[1], 3 as unknown as string).score).toBe(1);
  });

  it('scoreTask rejects tasks of unknown families with UnknownTaskError', () => {
    expect(() => scoreTask(fake('mystery', 'a', 'exact'), 'a')).toThrow(UnknownTaskError);
  });

  it('scores real generated tasks: gold answers are correct, wrong ones are not', () => {
    for (const family of FAMILIES) {
      const t = generateTask(family, { seed: 2, ...SMALL[family] });
      expect(scoreTask(t, t.answer)).toMatchObject({ score: 1, correct: true });
      expect(scoreTask(t, 'certainly not the answer').correct).toBe(false);
    }
  });
});

describe('sniah size guard', () => {
  it('refuses a size the needles alone outgrow instead of missing the ±5% tolerance', async () => {
    const { generateTask, TaskOptionError } = await import('../tasks/index.ts');
    expect(() => generateTask('sniah', { seed: 1, contextTokens: 256, distractors: 100 })).toThrow(TaskOptionError);
    expect(() => generateTask('sniah', { seed: 1, contextTokens: 256, distractors: 100 })).toThrow(/too small for 100 distractor/);
    const ok = generateTask('sniah', { seed: 1, contextTokens: 2000, distractors: 20 });
    expect(Math.abs((ok.meta.contextTokens as number) - 2000)).toBeLessThanOrEqual(100);
  });
});
