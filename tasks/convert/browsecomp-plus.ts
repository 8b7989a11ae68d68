/**
 * BrowseComp-Plus (HF `Tevatron/browsecomp-plus` queries + `Tevatron/browsecomp-plus-corpus`; texttron/BrowseComp-Plus).
 *
 * Inputs, told apart by their columns:
 *   queries  query_id, query, answer, gold_docs, negative_docs, evidence_docs (lists of {docid, text}) — the DECRYPTED
 *            form: the published fields are obfuscated and must be decrypted with the official script first (a row that
 *            still looks encrypted is refused with that advice);
 *   corpus   docid, text, url.
 * Each query becomes one task whose context holds `docsPerQuery` documents (default 1,000, the paper's setup): its gold
 * and evidence documents, then seeded draws from the corpus (negatives first), shuffled with the seed. Documents are
 * {id: docid, title: url (or docid), text}. Score: normalized exact match with the answer (the official grader is an
 * LLM judge; plug one in as a reward module if you want it).
 */
import type { Doc } from '../types.ts';
import type { FileTaskRow } from '../file-tasks.ts';
import { Rng } from '../rng.ts';
import { ConvertError, type InputRow, isNonEmptyString, isString, need } from './input.ts';
import type { ConvertOptions } from './oolong.ts';

interface CorpusDoc {
  docid: string;
  text: string;
  url: string | null;
}

const looksEncrypted = (s: string): boolean => s.length >= 16 && !/\s/.test(s) && /^[A-Za-z0-9+/=]+$/.test(s);

function docList(r: InputRow, column: string): { docid: string; text: string | null }[] {
  const v = r.value[column];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ConvertError(`${r.file} row ${r.row}, column '${column}': expected a list of {docid, text}`);
  return v.map((d, i) => {
    if (!d || typeof d !== 'object' || typeof (d as { docid?: unknown }).docid !== 'string') throw new ConvertError(`${r.file} row ${r.row}, column '${column}': item ${i} needs a string docid`);
    const t = (d as { text?: unknown }).text;
    return { docid: (d as { docid: string }).docid, text: typeof t === 'string' ? t : null };
  });
}

export function convertBrowseCompPlus(rows: InputRow[], o: ConvertOptions = {}): FileTaskRow[] {
  const perQuery = o.docsPerQuery ?? 1_000;
  const queries = rows.filter((r) => 'query_id' in r.value);
  const corpusRows = rows.filter((r) => !('query_id' in r.value) && 'docid' in r.value);
  const other = rows.find((r) => !('query_id' in r.value) && !('docid' in r.value));
  if (other) throw new ConvertError(`${other.file} row ${other.row}: neither a query (query_id, query, answer, …) nor a corpus document (docid, text, url)`);
  if (queries.length === 0) throw new ConvertError('no BrowseComp-Plus queries in the input (rows with query_id, query, answer, gold_docs, evidence_docs)');
  const corpus = new Map<string, CorpusDoc>();
  for (const r of corpusRows) {
    const docid = need(r, 'docid', isNonEmptyString, 'a string docid');
    corpus.set(docid, { docid, text: need(r, 'text', isString, 'the document text'), url: typeof r.value.url === 'string' ? r.value.url : null });
  }
  const allIds = [...corpus.keys()].sort();
  const out: FileTaskRow[] = [];
  for (const r of queries) {
    const qid = String(r.value.query_id);
    const query = need(r, 'query', isNonEmptyString, 'the (decrypted) query text');
    const answer = need(r, 'answer', isNonEmptyString, 'the (decrypted) answer');
    if (looksEncrypted(query) || looksEncrypted(answer)) {
      throw new ConvertError(`${r.file} row ${r.row} (query ${qid}): query/answer look encrypted; decrypt the dataset with BrowseComp-Plus's official script first (this converter takes the decrypted form)`);
    }
    const gold = docList(r, 'gold_docs');
    const evidence = docList(r, 'evidence_docs');
    const negatives = docList(r, 'negative_docs');
    const chosen = new Map<string, Doc>();
    const add = (docid: string, text: string | null): void => {
      if (chosen.has(docid) || chosen.size >= perQuery) return;
      const c = corpus.get(docid);
      const body = c?.text ?? text;
      if (body === null || body === undefined) throw new ConvertError(`${r.file} row ${r.row} (query ${qid}): document ${docid} has no text and is not in the corpus input`);
      chosen.set(docid, { id: docid, title: c?.url ?? docid, text: body });
    };
    for (const d of [...gold, ...evidence]) add(d.docid, d.text);
    if (chosen.size > perQuery) throw new ConvertError(`query ${qid}: ${chosen.size} gold + evidence documents exceed --docs-per-query ${perQuery}`);
    const rng = Rng.forTask('browsecomp-plus', (o.seed ?? 0) * 1_000_003 + hashId(qid));
    for (const d of rng.shuffle([...negatives])) add(d.docid, d.text);
    const pool = allIds.filter((id) => !chosen.has(id));
    for (const id of rng.sample(pool, perQuery - chosen.size)) add(id, null);
    if (chosen.size < perQuery && corpus.size > 0 && pool.length < perQuery) {
      // Not enough corpus documents for the requested size: say so in meta rather than pad with anything else.
    }
    const context = rng.shuffle([...chosen.values()]);
    out.push({
      id: `browsecomp-plus-${qid}`,
      question: `${query}\n\nAnswer with the exact answer only.`,
      context,
      answer,
      scorer: 'exact',
      aliases: [],
      meta: {
        source: 'browsecomp-plus', query_id: qid, documents: context.length, requested_documents: perQuery,
        gold_docids: gold.map((d) => d.docid), evidence_docids: evidence.map((d) => d.docid), seed: o.seed ?? 0,
      },
    });
  }
  return out;
}

function hashId(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) >>> 0;
  return h % 1_000_003;
}
