/**
 * LongBench-v2 (HF `THUDM/LongBench-v2`, data.json): _id, domain, sub_domain, difficulty, length, question,
 * choice_A … choice_D, answer (A|B|C|D), context. Multiple choice, scored with the `choice` scorer (the official
 * extraction reads "The correct answer is (X)"). The question carries the official answer format. CodeQA in the
 * paper = the "Code Repository Understanding" domain (`--domain "Code Repository Understanding"` or `--codeqa`).
 */
import type { FileTaskRow } from '../file-tasks.ts';
import { ConvertError, type InputRow, isNonEmptyString, isString, need } from './input.ts';

export const CODEQA_DOMAIN = 'Code Repository Understanding';

export function convertLongBenchV2(rows: InputRow[], o: { domain?: string | null } = {}): FileTaskRow[] {
  const out: FileTaskRow[] = [];
  for (const r of rows) {
    if (o.domain && r.value.domain !== o.domain) continue;
    const id = need(r, '_id', isNonEmptyString, 'a string _id');
    const question = need(r, 'question', isNonEmptyString, 'a string');
    const context = need(r, 'context', isString, 'a string');
    const choices = ['A', 'B', 'C', 'D'].map((k) => need(r, `choice_${k}`, isString, 'a string'));
    const answer = need(r, 'answer', (v): v is string => typeof v === 'string' && /^[ABCD]$/.test(v), 'one of A, B, C, D');
    out.push({
      id: `longbench-v2-${id}`,
      question:
        `What is the correct answer to this question: ${question.trim()}\nChoices:\n` +
        choices.map((c, i) => `(${'ABCD'[i]}) ${c.trim()}`).join('\n') +
        '\n\nFormat your response as follows: "The correct answer is (insert answer here)".',
      context,
      answer,
      scorer: 'choice',
      aliases: [],
      meta: { source: 'longbench-v2', domain: r.value.domain ?? null, sub_domain: r.value.sub_domain ?? null, difficulty: r.value.difficulty ?? null, length: r.value.length ?? null },
    });
  }
  if (out.length === 0 && o.domain) throw new ConvertError(`no LongBench-v2 rows of domain '${o.domain}' in the input`);
  return out;
}
