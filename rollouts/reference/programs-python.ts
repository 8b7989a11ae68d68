/**
 * The reference policy's REPL programs in Python, for `repl: 'python'`: the same algorithms, phases and sub-call
 * prompts (byte for byte) as the JavaScript programs in ./programs.ts, so both languages score the same.
 *   explore / solve / safe / resort — see programs.ts.
 * Conventions of the generated code: every program keeps its current best guess in the global `ref_guess`; sub-call
 * budgets come in as constants; Python string literals are written with json.dumps-compatible quoting (`py()`).
 */
import { OOLONG_LABELS } from '../../tasks/index.ts';
import type { BrowseConstraint, OolongQuery, PairConditionSpec, ParsedQuestion } from './questions.ts';
import { ANSWER_HEADER, CLASSIFY_DEFINITIONS, CLASSIFY_HEADER, READ_FIELDS, READ_HEADER } from './subcalls.ts';
import { type Budget, type Phase, callCap, defaultGuess, promptCap } from './programs.ts';

/** A Python literal for a JSON value (a JSON string literal is a valid Python string literal). */
const py = (v: unknown): string => JSON.stringify(v);

export function pythonProgram(q: ParsedQuestion, phase: Phase, b: Budget): string {
  if (phase === 'resort') return resort(q);
  switch (q.family) {
    case 'sniah':
      return phase === 'explore' ? sniahExplore(q.key) : sniahSolve(q.noun, q.key, phase === 'safe', b);
    case 'oolong':
      return phase === 'explore' ? recordsExplore() : oolongSolve(q.query, phase === 'safe', b);
    case 'oolong-pairs':
      return phase === 'explore' ? recordsExplore() : pairsSolve(q.condition, phase === 'safe', b);
    case 'browsecomp':
      return phase === 'explore' ? browseExplore() : browseSolve(q.constraints, phase === 'safe', b);
    default:
      return phase === 'explore' ? genericExplore() : genericSolve(q.question, phase === 'safe', b);
  }
}

function resort(q: ParsedQuestion): string {
  return String.raw`g = globals().get("ref_guess")
print("submitting the best answer found so far:", g)
FINAL(g if isinstance(g, str) and g.strip() != "" else ${py(defaultGuess(q))})`;
}

/** Runs `body` inside try/except and always submits: the computed guess, or `fallback` when there is none. */
function wrapSafe(body: string, fallback: string): string {
  const indented = body
    .split('\n')
    .map((l) => (l === '' ? l : `    ${l}`))
    .join('\n');
  return String.raw`try:
${indented}
except Exception as e:
    print("failed:", e)
_g = globals().get("ref_guess")
FINAL(_g if isinstance(_g, str) and _g.strip() != "" else ${fallback})`;
}

// ---------------------------------------------------------------------------------------------------------------
// sniah

function sniahExplore(key: string): string {
  return String.raw`import re
print(type(context).__name__, len(context), "chars")
print(context[:400])
magic_hits = [m.start() for m in re.finditer(r"The special magic \w+ for \S+ is", context)]
print('sentences with "special magic":', len(magic_hits), "first offsets:", magic_hits[:5])
print("mentions of the key " + ${py(key)} + ":", context.count(${py(key)}))`;
}

function sniahSolve(noun: string, key: string, safe: boolean, b: Budget): string {
  const chunkChars = Math.max(1_000, promptCap(b) - 400);
  const body = String.raw`import re
NOUN, KEY = ${py(noun)}, ${py(key)}
needle_re = re.compile("The special magic " + re.escape(NOUN) + " for " + re.escape(KEY) + r" is (\S+?)\.(?=\s|$)")
found = needle_re.search(context)
print("regex match:", found.group(0) if found else None)
value = found.group(1) if found else None
if value is None:
    # Not in the expected form: let sub-models read the text in overlapping chunks.
    CHUNK, OVERLAP, MAX_CALLS = ${chunkChars}, 400, ${Math.max(0, Math.min(200, b.subCallsLeft - 2))}
    prompts = []
    i = 0
    while i < len(context) and len(prompts) < MAX_CALLS:
        prompts.append('Find the sentence "The special magic ' + NOUN + ' for ' + KEY + ' is <value>." in the text below. Reply with the value only, or NONE if the text has no such sentence.\n\nText:\n' + context[i:i + CHUNK])
        i += CHUNK - OVERLAP
    replies = llm_query_batched(prompts) if prompts else []
    vals = [r.strip() for r in replies]
    vals = [r for r in vals if r and not re.match(r"(?i)none\b", r) and not re.match(r"(?i)error", r)]
    print("sub-model answers:", vals[:5], "from", len(prompts), "chunks")
    if vals:
        value = re.sub(r"""^["']|["'.]$""", "", vals[0])
${safe ? String.raw`if value is None:
    # Last chance: any "special magic" sentence that mentions a word of the key.
    words = [w for w in re.split(r"[-\s]+", KEY) if w]
    best, best_score = None, -1
    for mm in re.finditer(r"(?i)special magic \w+ for (\S+) is (\S+?)\.(?=\s|$)", context):
        s = sum(1 for w in words if w.lower() in mm.group(1).lower())
        if s > best_score:
            best, best_score = mm.group(2), s
    value = best
` : ''}if value is not None:
    ref_guess = value
print("answer:", value)`;
  if (!safe) return `${body}\nif value is not None:\n    FINAL(value)`;
  return wrapSafe(body, '"unknown"');
}

// ---------------------------------------------------------------------------------------------------------------
// oolong + oolong-pairs

function recordsExplore(): string {
  return String.raw`import re
print(type(context).__name__, len(context), "chars")
print("\n".join(context[:2000].split("\n")[:5]))
print("lines:", context.count("\n") + (0 if context.endswith("\n") else 1))
sample_users = set(s[6:] for s in re.findall(r"User: \d+", context[:200000]))
print("distinct users in the first 200K chars:", len(sample_users))`;
}

/** Parses every record (rec_user, rec_day as YYYYMMDD, rec_text) and defines classify(indexes), as recordsPrelude in JS. */
function recordsPrelude(safe: boolean, b: Budget): string {
  const targetLines = safe ? 100 : 200;
  return String.raw`import re, json
LABELS = ${py(OOLONG_LABELS)}
MONTHS = {"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6, "Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12}
def day_key(s):
    m = re.fullmatch(r"(\w{3}) (\d{1,2}), (\d{4})", str(s).strip())
    return int(m.group(3)) * 10000 + MONTHS[m.group(1)] * 100 + int(m.group(2)) if m else None
rec_user, rec_day, rec_text = [], [], []
bad_lines = 0
LINE_RE = re.compile(r"Date: (\w{3}) (\d{1,2}), (\d{4}) \|\| User: (\d+) \|\| Instance: (.*)")
for line in context.split("\n"):
    if line.strip() == "":
        continue
    m = LINE_RE.fullmatch(line)
    if not m:
        bad_lines += 1
        continue
    rec_user.append(int(m.group(4)))
    rec_day.append(int(m.group(3)) * 10000 + MONTHS[m.group(1)] * 100 + int(m.group(2)))
    rec_text.append(m.group(5))
n_rec = len(rec_text)
print("records:", n_rec, "| lines not in the record format:", bad_lines)

HEADER = ${py(`${CLASSIFY_HEADER}\n\nCategories:\n${CLASSIFY_DEFINITIONS}\n\nQuestions:\n`)}
# One sub-call stays in reserve: spending the whole budget without answering ends the episode.
sub_calls_left = ${Math.max(0, b.subCallsLeft - 1)}
CALL_CAP, PROMPT_CAP, TARGET_LINES = ${callCap(b)}, ${promptCap(b)}, ${targetLines}
def label_of(word):
    w = str(word).lower()
    for i, l in enumerate(LABELS):
        if w == l or (len(w) >= 3 and l.startswith(w)):
            return i + 1
    return 0
ANSWER_LINE = re.compile(r"^\s*\**\s*(\d+)\s*[:.)\-]\s*\**\s*([A-Za-z]+)", re.M)
def classify(indexes):
    global sub_calls_left
    labels = [0] * n_rec
    pending, rnd = list(indexes), 0
    while pending and rnd < 3 and sub_calls_left > 0:
        calls_allowed = max(1, min(CALL_CAP if rnd == 0 else sub_calls_left, sub_calls_left))
        per = max(max(10, TARGET_LINES >> rnd), -(-len(pending) // calls_allowed))
        chunks, cur, chars = [], [], len(HEADER)
        for r in pending:
            add = len(rec_text[r]) + 8
            if cur and (len(cur) >= per or chars + add > PROMPT_CAP):
                chunks.append(cur)
                cur, chars = [], len(HEADER)
            cur.append(r)
            chars += add
        if cur:
            chunks.append(cur)
        sent = chunks[:sub_calls_left]
        prompts = [HEADER + "\n".join(str(i + 1) + ". " + rec_text[r] for i, r in enumerate(c)) for c in sent]
        replies = llm_query_batched(prompts)
        sub_calls_left -= len(prompts)
        missing = []
        for k, c in enumerate(sent):
            got = {}
            for mm in ANSWER_LINE.finditer(str(replies[k])):
                got[int(mm.group(1))] = label_of(mm.group(2))
            for i, r in enumerate(c):
                l = got.get(i + 1, 0)
                if l:
                    labels[r] = l
                else:
                    missing.append(r)
        for c in chunks[len(sent):]:
            missing.extend(c)
        print("classification round", str(rnd + 1) + ":", len(prompts), "prompts of up to", per, "questions;", len(missing), "left without a label")
        pending, rnd = missing, rnd + 1
${safe ? String.raw`    # No label rule here: an instance the sub-models did not label stays unlabelled (and is reported).
    if pending:
        print(len(pending), "records are still unlabelled after", rnd, "rounds")
` : ''}    return labels`;
}

function oolongSolve(query: OolongQuery, safe: boolean, b: Budget): string {
  const L = (l: string): number => OOLONG_LABELS.indexOf(l as (typeof OOLONG_LABELS)[number]) + 1;
  let select = 'selected = list(range(n_rec))';
  if (query.kind === 'count_users') {
    select = String.raw`USERS = set(${py(query.users)})
selected = [r for r in range(n_rec) if rec_user[r] in USERS]
print("records of users", ", ".join(str(u) for u in ${py(query.users)}) + ":", len(selected))`;
  } else if (query.kind === 'count_dates') {
    select = String.raw`FROM, TO = day_key(${py(query.from)}), day_key(${py(query.to)})
selected = [r for r in range(n_rec) if FROM <= rec_day[r] <= TO]
print("records dated", FROM, "to", str(TO) + ":", len(selected))`;
  }
  let compute: string;
  switch (query.kind) {
    case 'count':
    case 'count_users':
    case 'count_dates':
      compute = `result = str(counts[${L(query.label) - 1}])`;
      break;
    case 'most_frequent':
    case 'least_frequent': {
      const better = query.kind === 'most_frequent' ? '>' : '<';
      compute = `best_i = 0\nfor i in range(1, 6):\n    if counts[i] ${better} counts[best_i]:\n        best_i = i\nresult = LABELS[best_i]`;
      break;
    }
    case 'compare':
      compute = `ca, cb = counts[${L(query.a) - 1}], counts[${L(query.b) - 1}]\nresult = "more" if ca > cb else "less" if ca < cb else "same"`;
      break;
  }
  const body = String.raw`${recordsPrelude(safe, b)}
${select}
labels = classify(selected)
counts = [0] * 6
unlabelled = 0
for r in selected:
    if labels[r]:
        counts[labels[r] - 1] += 1
    else:
        unlabelled += 1
print("label counts:", json.dumps(dict(zip(LABELS, counts))), "| unlabelled:", unlabelled)
${compute}
ref_guess = result
print("answer:", result)`;
  if (!safe) return `${body}\nif unlabelled == 0:\n    FINAL(result)\nelse:\n    print("some records have no label yet; not submitting")`;
  return wrapSafe(body, py(defaultGuess({ family: 'oolong', query })));
}

function pairCondition(c: PairConditionSpec): string {
  const i = (l: string): number => OOLONG_LABELS.indexOf(l as (typeof OOLONG_LABELS)[number]);
  const A = i(c.a);
  switch (c.kind) {
    case 'both':
      return `x[${A}] > 0 and y[${A}] > 0`;
    case 'atLeast':
      return `x[${A}] >= ${c.m} and y[${A}] >= ${c.m}`;
    case 'bothAll':
      return `x[${A}] > 0 and x[${i(c.b)}] > 0 and y[${A}] > 0 and y[${i(c.b)}] > 0`;
    case 'bothOneHas':
      return `x[${A}] > 0 and y[${A}] > 0 and (x[${i(c.b)}] > 0 or y[${i(c.b)}] > 0)`;
    case 'cross':
      return `(x[${A}] > 0 and y[${i(c.b)}] > 0) or (x[${i(c.b)}] > 0 and y[${A}] > 0)`;
    case 'bothNot':
      return `x[${A}] > 0 and y[${A}] > 0 and x[${i(c.b)}] == 0 and y[${i(c.b)}] == 0`;
    case 'exactlyOne':
      return `x[${i(c.b)}] > 0 and y[${i(c.b)}] > 0 and (x[${A}] > 0) != (y[${A}] > 0)`;
  }
}

function pairsSolve(c: PairConditionSpec, safe: boolean, b: Budget): string {
  const body = String.raw`${recordsPrelude(safe, b)}
labels = classify(range(n_rec))
per_user = {}
unlabelled = 0
for r in range(n_rec):
    row = per_user.setdefault(rec_user[r], [0] * 6)
    if labels[r]:
        row[labels[r] - 1] += 1
    else:
        unlabelled += 1
ids = sorted(per_user)
print("users:", len(ids), "| unlabelled records:", unlabelled)
def cond(x, y):
    return ${pairCondition(c)}
pairs = []
for i in range(len(ids)):
    for j in range(i + 1, len(ids)):
        if cond(per_user[ids[i]], per_user[ids[j]]):
            pairs.append("(" + str(ids[i]) + ", " + str(ids[j]) + ")")
result = "\n".join(pairs)
ref_guess = result
print("pairs:", len(pairs))
print("\n".join(pairs[:10]))`;
  if (!safe) return `${body}\nif unlabelled == 0 and pairs:\n    FINAL(result)\nelse:\n    print("not submitting yet")`;
  return wrapSafe(`${body}\nif not pairs:\n    ref_guess = "none"`, '"none"');
}

// ---------------------------------------------------------------------------------------------------------------
// browsecomp

function browseExplore(): string {
  return String.raw`import re
print("list of " + str(len(context)) + " documents" if isinstance(context, list) else type(context).__name__)
for d in context[:3]:
    print(d["id"], "|", d["title"], "|", d["text"][:200].replace("\n", " "))
pronoun_re = re.compile(r"\b(?:she|he|her|his|him)\b", re.I)
about_people = sum(1 for d in context if pronoun_re.search(d["text"]))
chars = sum(len(d["text"]) for d in context)
print("documents that talk about a person (she/he):", about_people, "of", len(context), "| mean length", round(chars / max(1, len(context))), "chars")`;
}

function browseConstraintTest(c: BrowseConstraint): string {
  switch (c.kind) {
    case 'birthKind':
      return `(city_of(p.get("birth_city")) or {}).get("kind") == ${py(c.cityKind)}`;
    case 'birthFounded':
      return `city_of(p.get("birth_city")) is not None and city_of(p.get("birth_city"))["founded"] is not None and city_of(p.get("birth_city"))["founded"] ${c.op === 'before' ? '<' : '>'} ${c.year}`;
    case 'birthCountry':
      return `(city_of(p.get("birth_city")) or {}).get("country") == ${py(c.country)}`;
    case 'birthDecade':
      return `p.get("birth_year") is not None and (p["birth_year"] // 10) * 10 == ${c.decade}`;
    case 'profession':
      return `p.get("profession") == ${py(c.profession)}`;
    case 'eduCity':
      return `orgs.get(p.get("university"), {}).get("hq") == ${py(c.city)}`;
    case 'eduFounded':
      return `p.get("university") in orgs and orgs[p["university"]]["founded"] is not None and orgs[p["university"]]["founded"] < ${c.year}`;
    case 'chairType':
      return `p.get("chair_org") is not None and orgs.get(p["chair_org"], {}).get("type") == ${py(c.orgType)}`;
    case 'chairCity':
      return `p.get("chair_org") is not None and orgs.get(p["chair_org"], {}).get("hq") == ${py(c.city)}`;
    case 'chairYear':
      return `p.get("chair_year") is not None and p["chair_year"] ${c.op === 'from' ? '>=' : '<'} ${c.year}`;
    case 'awardOrgType':
      return `p.get("award") is not None and p["award"] in awards and orgs.get(awards[p["award"]]["org"], {}).get("type") == ${py(c.orgType)}`;
    case 'awardEstablished':
      return `p.get("award") is not None and p["award"] in awards and awards[p["award"]]["established"] is not None and awards[p["award"]]["established"] < ${c.year}`;
    case 'eventType':
      return `any(e["type"] == ${py(c.eventType)} for e in p.get("events", []))`;
    case 'eventCity':
      return `any(e["city"] == ${py(c.city)} for e in p.get("events", []))`;
    case 'eventDecade':
      return `any(e["year"] is not None and (e["year"] // 10) * 10 == ${c.decade} for e in p.get("events", []))`;
    case 'eventOrgType':
      return `any(orgs.get(e["organiser"], {}).get("type") == ${py(c.orgType)} for e in p.get("events", []))`;
    case 'unknown':
      return 'True';
  }
}

/** The cheap candidate filters of programs.ts, in Python (a necessary condition per constraint over the raw text). */
function browseCandidateFilter(c: BrowseConstraint): string {
  const t = (probe: string): string => `(lambda p: ${browseConstraintTest(c)})(${probe})`;
  switch (c.kind) {
    case 'birthKind':
    case 'birthFounded':
    case 'birthCountry':
      return `names_filter([n for n in cities if ${t('{"birth_city": n}')}])`;
    case 'profession':
      return `(lambda rx: lambda d: rx.search(d["text"]) is not None)(re.compile(r"\\b" + re.escape(${py(c.profession)}) + r"\\b"))`;
    case 'eduCity':
    case 'eduFounded':
      return `names_filter([n for n in orgs if orgs[n]["type"] == "university" and ${t('{"university": n}')}])`;
    case 'chairType':
    case 'chairCity':
      return `names_filter([n for n in orgs if ${t('{"chair_org": n}')}])`;
    case 'awardOrgType':
    case 'awardEstablished':
      return `names_filter([n for n in awards if ${t('{"award": n}')}])`;
    case 'eventType':
    case 'eventCity':
    case 'eventDecade':
    case 'eventOrgType':
      return `(lambda texts: lambda d: any(d["title"] in x for x in texts))([e["text"] for e in event_list if ${t('{"events": [e]}')}])`;
    default:
      return '(lambda d: True)';
  }
}

function browseSolve(constraints: BrowseConstraint[], safe: boolean, b: Budget): string {
  const tests = constraints.map((c, i) => `    lambda p: ${browseConstraintTest(c)},  # ${i + 1}. ${c.kind}`).join('\n');
  const filters = constraints.map((c, i) => `    ${browseCandidateFilter(c)},  # ${i + 1}. ${c.kind}`).join('\n');
  const unknown = constraints.filter((c) => c.kind === 'unknown').length;
  const calls = Math.max(1, b.subCallsLeft - 2);
  const promptChars = Math.max(4_000, Math.min(promptCap(b), 120_000));
  const body = String.raw`import re, json
# The documents state facts in varied prose with near misses ("applied to ... but never enrolled"), so sub-models read
# them: first every document that is not about a person, then only the people that cheap code cannot rule out.
READ = ${py(`${READ_HEADER}\n${READ_FIELDS}\n\nDocuments:\n\n`)}
PROMPT_CHARS, DOCS_PER_PROMPT = ${promptChars}, ${safe ? 10 : 20}
read_calls = ${calls}
def read_docs(docs):
    global read_calls
    out = {}
    pending = list(docs)
    for _round in range(2):
        if not pending or read_calls <= 0:
            break
        groups, cur, chars = [], [], len(READ)
        for d in pending:
            block = "=== " + d["id"] + " | " + d["title"] + " ===\n" + d["text"][:PROMPT_CHARS - len(READ) - 200]
            if cur and (len(cur) >= DOCS_PER_PROMPT or chars + len(block) + 2 > PROMPT_CHARS):
                groups.append(cur)
                cur, chars = [], len(READ)
            cur.append(block)
            chars += len(block) + 2
        if cur:
            groups.append(cur)
        sent = groups[:read_calls]
        replies = llm_query_batched([READ + "\n\n".join(g) for g in sent])
        read_calls -= len(sent)
        for reply in replies:
            r = None
            for line in str(reply).split("\n"):
                h = re.match(r"\s*##\s*(\S+)", line)
                if h:
                    r = {}
                    out[h.group(1)] = r
                    continue
                m = re.match(r"\s*([A-Za-z ]+?)\s*:\s*(.*?)\s*$", line)
                if r is not None and m:
                    r[m.group(1).lower()] = m.group(2)
        pending = [d for d in pending if d["id"] not in out]
    return out
def year_of(s):
    m = re.search(r"\b(\d{4})\b", str(s or ""))
    return int(m.group(1)) if m else None
def names_filter(names):
    return lambda d: any(n in d["text"] for n in names)

# 1. Everything that is not about a person (no she/he in it): cities, organisations, awards, events.
pronoun_re = re.compile(r"\b(?:she|he|her|his|him)\b", re.I)
person_docs = [d for d in context if pronoun_re.search(d["text"])]
entity_docs = [d for d in context if not pronoun_re.search(d["text"])]
entity_reads = read_docs(entity_docs)
cities, orgs, awards, event_list, relative = {}, {}, {}, [], []
for d in entity_docs:
    r = entity_reads.get(d["id"])
    if not r:
        continue
    name = r.get("name") or d["title"]
    kind = r.get("kind")
    if kind == "city":
        cities[name] = {"kind": r.get("type"), "country": r.get("country"), "founded": year_of(r.get("founded"))}
    elif kind == "organisation":
        orgs[name] = {"type": r.get("type"), "hq": r.get("based in"), "founded": year_of(r.get("founded"))}
    elif kind == "award":
        a = {"org": r.get("presented by"), "established": year_of(r.get("established"))}
        rel = re.match(r"(\d+) years after", r.get("established") or "")
        if a["established"] is None and rel:
            relative.append((a, int(rel.group(1))))
        awards[name] = a
    elif kind == "event":
        event_list.append({"doc": d["id"], "text": d["text"], "name": name, "type": r.get("type"), "organiser": r.get("organiser"), "city": r.get("held in"),
                           "year": year_of(r.get("year")), "participants": [x.strip() for x in (r.get("participants") or "").split(";") if x.strip()]})
# "established twelve years after the founding of its presenter": the presenter's year is in its own document.
for a, n in relative:
    o = orgs.get(a["org"])
    if o and o["founded"] is not None:
        a["established"] = o["founded"] + n
def city_of(name):
    return cities.get(name)
print("read", len(entity_reads), "of", len(entity_docs), "entity documents:", len(cities), "cities,", len(orgs), "organisations,", len(awards), "awards,", len(event_list), "events")

# 2. Narrow the people with cheap code, then read the candidates.
FILTERS = [
${filters}
]
candidates = [d for d in person_docs if all(f(d) for f in FILTERS)]
print("person documents:", len(person_docs), "| candidates after the cheap filters:", len(candidates))
if not candidates:
    candidates = person_docs
person_reads = read_docs(candidates)
def split_year(s):
    m = re.match(r"(.*?)\s*;\s*(\d{4})\s*$", str(s or ""))
    return (m.group(1), int(m.group(2))) if m else (s or None, None)
people = {}
for d in candidates:
    r = person_reads.get(d["id"])
    if not r or r.get("kind") != "person":
        continue
    chair_org, chair_year = split_year(r.get("chaired"))
    award, award_year = split_year(r.get("award"))
    people[d["title"]] = {"name": d["title"], "doc": d["id"], "birth_year": year_of(r.get("born")), "birth_city": r.get("birthplace"), "profession": r.get("profession"),
                          "university": r.get("studied at"), "chair_org": chair_org, "chair_year": chair_year, "award": award, "award_year": award_year, "events": []}
for e in event_list:
    for n in e["participants"]:
        if n in people:
            people[n]["events"].append(e)

# 3. The constraints of the question, one test each; keep the people that pass all of them.
TESTS = [
${tests}
]
scored = []
for p in people.values():
    failed = [i + 1 for i, test in enumerate(TESTS) if not test(p)]
    scored.append({"name": p["name"], "ok": len(TESTS) - len(failed), "failed": failed})
scored.sort(key=lambda s: (-s["ok"], s["name"]))
matches = [s for s in scored if s["ok"] == len(TESTS)]
print("read", len(person_reads), "person documents; people satisfying all", len(TESTS), "conditions:", [s["name"] for s in matches])
print("closest others:", json.dumps([s for s in scored if s["ok"] < len(TESTS)][:4]))
if scored:
    ref_guess = scored[0]["name"]`;
  const determined = unknown === 0 ? 'len(matches) == 1' : 'False';
  if (!safe) return `${body}\nif ${determined}:\n    FINAL(matches[0]["name"])\nelse:\n    print("the answer is not determined yet")`;
  return wrapSafe(body, '"unknown"');
}

// ---------------------------------------------------------------------------------------------------------------
// unrecognised questions

function genericExplore(): string {
  return String.raw`import json
print(type(context).__name__, ("list of " + str(len(context))) if isinstance(context, list) else (str(len(context)) + " chars" if isinstance(context, str) else ""))
if isinstance(context, str):
    print(context[:600])
elif isinstance(context, list):
    for d in context[:3]:
        print(json.dumps(d)[:300])
else:
    print(json.dumps(context)[:600])`;
}

function genericSolve(question: string, safe: boolean, b: Budget): string {
  const maxCalls = Math.max(0, Math.min(16, b.subCallsLeft - 1));
  const chunk = Math.max(1_000, promptCap(b) - 2_000);
  const body = String.raw`import re, json
QUESTION = ${py(question.slice(0, 4000))}
if isinstance(context, str):
    text = context
elif isinstance(context, list):
    text = "\n\n".join(("## " + str(d.get("title") or d.get("id") or "") + "\n" + str(d.get("text") or json.dumps(d))) if isinstance(d, dict) else str(d) for d in context)
else:
    text = json.dumps(context)
CHUNK, MAX_CALLS = ${chunk}, ${maxCalls}
prompts = []
i = 0
while i < len(text) and len(prompts) < MAX_CALLS:
    prompts.append(${py(ANSWER_HEADER)} + "\n\nQuestion: " + re.sub(r"\s+", " ", QUESTION) + "\n\nText:\n" + text[i:i + CHUNK])
    i += CHUNK
replies = llm_query_batched(prompts) if prompts else []
found = [r.strip() for r in replies]
found = [r for r in found if r and not re.match(r"(?i)none\b", r) and not re.match(r"(?i)error", r) and not re.match(r"(?i)i don't know", r)]
print("asked", len(prompts), "chunks; answers:", found[:5])
ref_guess = found[0] if found else "unknown"
print("answer:", ref_guess)
FINAL(ref_guess)`;
  return safe ? wrapSafe(body, '"unknown"') : body;
}
