/**
 * The code-only baseline's instance classifier: the best short rule we could write from the six category definitions
 * shown in every oolong question, plus the wh-word conventions of TREC and a small common-sense lexicon a programmer
 * would think of without having seen the data. It never calls a sub-model.
 *
 * It is a real, type-checked function; the baseline's REPL programs embed its source (`heuristicLabelSource`), so the
 * code that runs in the sandbox is exactly this function. Keep it self-contained: no closures, no imports, no helpers.
 *
 * Returns a label number 1…6 in OOLONG_LABELS order: abbreviation, entity, description, human, location, numeric.
 */
export function heuristicLabel(text: string): number {
  // A lead-in such as "Quick question:" says nothing about the category.
  const s = String(text).trim().toLowerCase().replace(/^[a-z ,]{2,30}:\s+/, '');
  // abbreviation: the definition's own words, and the usual ways to ask for an expansion.
  if (/\b(stands? for|abbreviat\w*|acronym|initials|short for|full form|expand(s|ed)? to|letters)\b/.test(s)) return 1;
  // human: who-questions and words that name people.
  if (/^(who|whom|whose)\b/.test(s)) return 4;
  // location: where-questions and "in/from/to which <place noun>".
  if (/^where\b/.test(s)) return 5;
  // numeric: how + a measure, when, years and dates, and the definition's words.
  if (/^how (many|much|long|old|far|tall|high|deep|wide|heavy|often|big|large)\b/.test(s) || /^when\b/.test(s)) return 6;
  if (/\b(number|quantity|amount|money|measurement|age|year|date|population|cost|price|percentage|temperature|distance|height|length|weight|speed|rate|size|area)\b/.test(s)) return 6;
  // description: why/how-questions and the definition's words.
  if (/^(why|how)\b/.test(s) || /\b(explanation|reason|manner|definition|description|describe|explain|difference|what happened|what made|what led|purpose|history|meaning|origin|significance|special about)\b/.test(s)) return 3;
  // human / location / entity by the nouns a reader associates with them.
  if (/\b(person|people|group|president|king|queen|author|inventor|founder|captain|leader|mayor|writer|painter|poet|minister|ruler|wrote|married)\b/.test(s)) return 4;
  if (/\b(place|location|capital|city|country|town|island|river|mountain|port|harbour|continent|region|village|born|based|located)\b/.test(s)) return 5;
  return 2;
}

/** The function's JavaScript source, for embedding in REPL programs (declares `heuristicLabel`). */
export function heuristicLabelSource(): string {
  const src = heuristicLabel.toString();
  if (/__name|require\(|import\(/.test(src)) throw new Error('baseline classifier: transpiled source is not self-contained');
  return src;
}
