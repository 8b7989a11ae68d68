/**
 * The OOLONG instance bank: every question-like sentence `oolong` and `oolong-pairs` records can hold, with its coarse
 * label (the six TREC coarse classes). The label is carried by MEANING, not by a cue word:
 *   - shared frames: "Which <noun> is mentioned in <work>?", "What is the <attribute> of <country>?", "What does <ACR>
 *     <verb>?", "Name the <noun> commemorated on the <landmark>." … occur in several labels; the label is decided by the
 *     semantic type of the noun / attribute / verb ("Which admiral…" human, "Which fjord…" location, "Which ferry…"
 *     entity, "What does KPRA stand for" abbreviation vs "… do" description vs "… sell" entity vs "… charge" numeric);
 *   - wh-words mislead as often as they help ("How is the … usually abbreviated?" is an abbreviation question, "What is
 *     the full name of the harbour master of …" asks for a person, "What instrument did the sculptor who founded … play?"
 *     embeds a "who");
 *   - paraphrase variety: many frames per label, many nouns per semantic type, and an optional lead-in ("Quick
 *     question:", "For a pub quiz:", …) that never changes the label.
 * Every slot value is fictional (places, people, organisations, acronyms), so nobody can answer an instance from memory.
 * The gold label of each sentence is exact: the bank is the generator's knowledge, and no sentence belongs to two labels
 * (instanceBank() refuses to build if one did; tests check it).
 *
 * The bank is what the reference sub-model "knows" (a simulated LLM that reads a sentence and recognises what it asks
 * for); the REPL never sees it. A short wording rule does not recover it: the code-only baseline (rollouts/baseline)
 * is the best such rule we could write from the category definitions, and bench `sub_call_necessity` measures it.
 */
import type { OolongLabel } from './records.ts';

// ---------------------------------------------------------------------------------------------------------------
// Label-neutral subjects (appear in questions of every label).

export const BANK_SUBJECTS: Record<string, readonly string[]> = {
  place: ['Port Halden', 'Varenna', 'Castell Mor', 'Brightwater', 'Oldcastle', 'Eastmere', 'Kessandra', 'Tormouth', 'Belhaven', 'Rookwood', 'Saltmarsh', 'Ivenholm', 'Greywick', 'Norrow', 'Pellan', 'Redcliffe'],
  region: ['Veldmark', 'Carrowen', 'Istmark', 'Lunaria', 'Pellandy', 'Sorvath', 'Quorlund', 'Maravel', 'Esterhold', 'Valdoria', 'Kethra', 'Brisolan'],
  person: ['Mara Quill', 'Tobias Fenn', 'Ilse Okafor', 'Bram Tell', 'Oda Visser', 'Felix Marlow', 'Nadia Brandt', 'Corin Castell', 'Lena Duvall', 'Hugo Hart', 'Sabine Lindqvist', 'Emil Moreau', 'Vera Novak', 'Jonas Orsini', 'Greta Pryce', 'Anton Renner'],
  work: ['The Silent Harbour', 'Letters from Norrow', 'The Glass Orchard', 'Winter in Varenna', 'The Last Lantern', 'A Map of Salt', 'The Copper Bell', 'Night Ferry', 'The Tideward Songs', 'Brass and Ember'],
  landmark: ['Old Lighthouse', 'Grey Tower', 'Salt Bridge', 'Copper Dome', 'North Gate', 'Stone Lantern', 'Bell Tower', 'Harbour Wall', 'Weavers Hall', 'Moon Arch'],
  event: ['lantern festival', 'spring regatta', 'glass fair', 'winter market', 'harvest parade', 'river race', 'map congress', 'kite contest'],
  ship: ['Grey Heron', 'Salt Queen', 'Northern Star', 'Amber Wake', 'Lady Orrin', 'Swift Tern', 'Iron Gull', 'Morning Bell'],
  acr: ['KPRA', 'TVMC', 'HLDC', 'BRSA', 'OMFL', 'VSPA', 'NRCB', 'QELT', 'DMHA', 'PSRG', 'LKVF', 'WCTU', 'GHNO', 'ESRB', 'TAVR', 'MOLK'],
  longorg: ['Halden Harbour Authority', 'Varenna Transit Company', 'Society of Mapmakers', 'Northern Rail Board', 'Institute of Glass Research', 'Coastal Weather Service', 'Guild of Lantern Makers', 'Orrin Valley Water Board', 'Federation of River Pilots', 'Kessandra Trade Council'],
  river: ['Orrin', 'Lisk', 'Varen', 'Moss', 'Tarn', 'Halden'],
  role: ['harbour master', 'mayor', 'lighthouse keeper', 'postmaster', 'town clerk', 'chief engineer', 'head gardener', 'bandmaster'],
};

// ---------------------------------------------------------------------------------------------------------------
// Label-carrying vocabularies: nouns, attributes and verbs whose semantic type IS the label. Disjoint across labels.

export const BANK_TYPED: Record<string, readonly string[]> = {
  // Kinds of people.
  humNoun: ['sculptor', 'explorer', 'admiral', 'poet', 'bishop', 'sea captain', 'merchant', 'composer', 'general', 'queen', 'chess champion', 'engraver', 'smuggler', 'midwife', 'ferryman', 'novelist'],
  // Kinds of places.
  locNoun: ['harbour', 'island', 'valley', 'mountain pass', 'fishing village', 'province', 'bay', 'peninsula', 'fjord', 'lagoon', 'hill fort', 'parish', 'estuary', 'headland'],
  // Kinds of things.
  entNoun: ['ferry', 'instrument', 'flower', 'dish', 'breed of dog', 'bird', 'festival', 'coin', 'language', 'tree', 'board game', 'spice', 'fabric', 'carriage', 'medicine', 'shellfish'],
  // Kinds of numbers.
  numNoun: ['year', 'decade', 'century', 'sum of money', 'distance', 'percentage', 'temperature', 'wage', 'price', 'headcount'],
  // Attributes of a country.
  locAttrRegion: ['capital', 'largest port', 'highest peak', 'biggest lake', 'main harbour', 'oldest town', 'seat of government', 'southernmost point'],
  numAttrRegion: ['population', 'area', 'GDP', 'average rainfall', 'voting age', 'founding year', 'literacy rate', 'highest recorded temperature', 'birth rate', 'national debt'],
  humAttrRegion: ['first president', 'prime minister', 'patron saint', 'founder', 'national poet', 'longest-serving ruler', 'current monarch', 'chief justice'],
  entAttrRegion: ['currency', 'national anthem', 'official language', 'national dish', 'national bird', 'main export', 'national flower', 'national sport'],
  descAttrRegion: ['origin of the name', 'meaning of the flag', 'story behind the national day', 'significance of the coat of arms', 'backstory of the anthem', 'legend of the first settlers'],
  // Attributes of a landmark.
  numAttrLandmark: ['height', 'weight', 'length', 'width', 'ticket price', 'number of steps', 'age'],
  humAttrLandmark: ['architect', 'builder', 'owner', 'designer', 'keeper', 'first custodian'],
  entAttrLandmark: ['building material', 'nickname', 'main colour', 'weather vane', 'bell'],
  descAttrLandmark: ['history', 'purpose', 'significance', 'story behind the name', 'legend', 'appeal', 'reputation'],
  locAttrLandmark: ['location', 'exact location', 'original site'],
  // Attributes of a ship.
  numAttrShip: ['tonnage', 'length', 'crew size', 'top speed', 'launch year', 'draught'],
  humAttrShip: ['captain', 'builder', 'owner', 'first mate', 'figurehead carver'],
  locAttrShip: ['home port', 'final resting place', 'shipyard', 'last port of call'],
  entAttrShip: ['cargo', 'figurehead', 'flag', 'rig'],
  descAttrShip: ['fate', 'purpose', 'reputation'],
  // What an organisation (acronym) does.
  abbrVerb: ['stand for', 'mean', 'abbreviate', 'expand to', 'actually stand for'],
  descVerb: ['do', 'actually do', 'do for its members', 'campaign for', 'try to achieve'],
  entVerb: ['sell', 'manufacture', 'publish', 'export', 'brew', 'print'],
  numVerb: ['charge for membership', 'cost to join', 'pay its apprentices', 'spend each year', 'charge per crossing'],
  humVerbOrg: ['runs', 'founded', 'chairs', 'audits', 'owns', 'represents'],
  abbrAttr: ['abbreviation', 'acronym', 'short form', 'usual initials', 'official shorthand'],
  // Numeric adjectives / description verbs for "How … ?" frames.
  numAdj: ['tall', 'old', 'heavy', 'wide', 'long', 'deep', 'high', 'far from the sea'],
  things: ['bridges', 'lighthouses', 'bakeries', 'windmills', 'libraries', 'ferries', 'museums', 'wells'],
  food: ['harbour chowder', 'salt bread', 'plum cake', 'smoked eel pie', 'honey biscuits', 'barley soup'],
  item: ['loaf of bread', 'ferry ticket', 'pound of salt', 'glass lantern', 'wool blanket', 'bicycle'],
  pairA: ['lake', 'brig', 'fjord', 'sonnet', 'glacier', 'violin', 'moth'],
  pairB: ['pond', 'schooner', 'bay', 'ballad', 'ice sheet', 'viola', 'butterfly'],
};

/**
 * Frames shared by several labels: `{N}` is replaced by the label's noun slot (humNoun, locNoun, entNoun, numNoun).
 * The sentence shape is identical across labels; only the noun's meaning tells them apart.
 */
const NOUN_FRAMES = [
  'Which {N} is mentioned in {work}?',
  'Name the {N} commemorated on the {landmark}.',
  'What {N} did {person} write about in {work}?',
  'Which {N} appears on the coat of arms of {place}?',
  'Tell me the {N} that {person} mentions in {work}.',
  'Which {N} is linked to the founding of {place}?',
  'What was the {N} that {person} described at the {event}?',
] as const;

const nounFrames = (slot: string): string[] => NOUN_FRAMES.map((f) => f.replace('{N}', `{${slot}}`));

/** Templates per label. Every slot is preceded by a space (or opens the sentence); every template ends in "?" or ".". */
export const OOLONG_TEMPLATES: Record<OolongLabel, readonly string[]> = {
  abbreviation: [
    'What does {acr} {abbrVerb}?',
    'What is {acr} short for?',
    '{acr} is short for what?',
    'What is the {abbrAttr} of the {longorg}?',
    'How is the {longorg} usually abbreviated?',
    'Spell out {acr} for me.',
    'What are the words behind {acr}?',
    'Write {acr} out in full.',
    'What is the long version of {acr}?',
    'How do you say {acr} in full?',
    'What do people call the {longorg} for short?',
    'What name hides behind {acr}?',
    'In the {place} records, what is {acr} short for?',
  ],
  entity: [
    ...nounFrames('entNoun'),
    'What is the {entAttrRegion} of {region}?',
    'What is the {entAttrLandmark} of the {landmark}?',
    'What was the {entAttrShip} of the {ship}?',
    'What does {acr} {entVerb}?',
    'What did {person} eat at the {event}?',
    'What instrument did the sculptor who founded {place} play?',
    'What was the favourite {entNoun} of {person}?',
    'Which {entNoun} did {person} bring back from {region}?',
    'Which {entNoun} carries the initials {acr}?',
    'Which {entNoun} has a special meaning for the people of {place}?',
    'What {entNoun} did {person} buy with the prize money?',
    'What {entNoun} costs the most at the {event}?',
    'Which {entNoun} did the poet who wrote {work} prefer?',
    'What {entNoun} is sold in the harbour of {place}?',
    'What {entNoun} did {person} choose for the anniversary year of {place}?',
    'What {entNoun} was found where the {river} meets the sea?',
    'Which {entNoun} did the mayor of {place} ban?',
  ],
  description: [
    'What is the {descAttrRegion} of {region}?',
    'What is the {descAttrLandmark} of the {landmark}?',
    'What was the {descAttrShip} of the {ship}?',
    'What does {acr} {descVerb}?',
    'Why did the {ship} leave {place} in a hurry?',
    'How was the {landmark} built?',
    'How do locals look after the {landmark}?',
    'How did the town pay for the {landmark}?',
    'How did {person} become famous?',
    'What made {person} leave {place}?',
    'What happened at the {event} in {place}?',
    'What is special about the {landmark}?',
    'What led to the decline of {place}?',
    'How is {food} made in {place}?',
    'What is the difference between a {pairA} and a {pairB}?',
    'Why do people in {place} avoid the {landmark}?',
    'Why did the {longorg} drop its old abbreviation?',
    'What goes on at the {event}?',
    'What is the {landmark} like inside?',
    'What sets the {landmark} apart from the other buildings of {place}?',
    'In what way did {person} change {place}?',
    'What became of the {ship}?',
    'What is the legend of the {landmark}?',
    'What did {person} think of {place}?',
    'What does a {role} in {place} do all day?',
    'What did the poet who wrote {work} think of {place}?',
    'What did the mayor of {place} think of the {landmark}?',
  ],
  human: [
    ...nounFrames('humNoun'),
    'What is the {humAttrRegion} of {region}?',
    'What is the {humAttrLandmark} of the {landmark}?',
    'What was the {humAttrShip} of the {ship}?',
    'Who {humVerbOrg} {acr}?',
    'Who wrote {work}?',
    'What is the full name of the {role} of {place}?',
    'Whose portrait hangs in the {landmark}?',
    'Which {humNoun} did {person} marry?',
    'Who coined the acronym {acr}?',
    'Which {humNoun} designed the letters on the {landmark}?',
    'Which {humNoun} wrote the history of {place}?',
    'Name the {humNoun} born in the same year as {person}.',
    'Which {humNoun} drew the first map of the {river}?',
    'Name the {humNoun} who paid the highest price for a {item}.',
  ],
  location: [
    ...nounFrames('locNoun'),
    'What is the {locAttrRegion} of {region}?',
    'What is the {locAttrLandmark} of the {landmark}?',
    'What was the {locAttrShip} of the {ship}?',
    'Where was {person} born?',
    'Where did the {event} take place?',
    'From which {locNoun} did the {ship} set sail?',
    'To which {locNoun} did {person} retire?',
    'What {locNoun} lies at the mouth of the {river}?',
    'Where is {acr} based?',
    'In which {locNoun} was the acronym {acr} first painted on a wall?',
    'Which {locNoun} has the largest population in {region}?',
    'Which {locNoun} doubled in size after the {event}?',
    'Which {locNoun} did the president of {region} visit first?',
    'What {locNoun} is named after the founder of {place}?',
  ],
  numeric: [
    ...nounFrames('numNoun'),
    'What is the {numAttrRegion} of {region}?',
    'What is the {numAttrLandmark} of the {landmark}?',
    'What was the {numAttrShip} of the {ship}?',
    'What does {acr} {numVerb}?',
    'How {numAdj} is the {landmark}?',
    'How many {things} are there in {place}?',
    'When did {person} leave {place}?',
    'What did a {item} cost in {place}?',
    'How old was the poet who wrote {work}?',
    'When was the abbreviation {acr} first used?',
    'What did {person} pay for the {ship}?',
    'What was the toll on the {landmark}?',
    'What is the elevation of {place}?',
    'What is the fare on the night ferry to {place}?',
    'What score did {person} get at the {event}?',
    'What did the {ship} weigh fully loaded?',
    'What did the mayor of {place} earn?',
    'What did the captain of the {ship} earn per voyage?',
    'By what margin did {person} win the {event}?',
  ],
};

/** Optional lead-ins: never change what a sentence asks for (the sub-model reads past them). */
export const OOLONG_LEADS = ['Quick question:', 'For a pub quiz:', 'Settle a bet:', 'Honest question:', 'Trivia night:', 'Help please:', 'Curious:'] as const;
/** Share of records that open with a lead-in. */
export const OOLONG_LEAD_SHARE = 0.25;

const SLOT_VALUES: Record<string, readonly string[]> = { ...BANK_SUBJECTS, ...BANK_TYPED };

export function slotValues(name: string): readonly string[] {
  const v = SLOT_VALUES[name];
  if (!v) throw new Error(`oolong bank: template uses unknown slot {${name}}`);
  return v;
}

/** Every sentence one template produces (slot lists are short, so this stays small). */
export function expandTemplate(template: string): string[] {
  const parts = template.split(/\{(\w+)\}/);
  let out = [''];
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 0) out = out.map((s) => s + parts[i]);
    else {
      const values = slotValues(parts[i]);
      const next: string[] = [];
      for (const s of out) for (const v of values) next.push(s + v);
      out = next;
    }
  }
  return out;
}

let bank: Map<string, OolongLabel> | null = null;

/**
 * The whole bank: sentence (without lead-in) → label. Built once (~100K sentences, ~0.2 s). Throws if one sentence
 * would carry two labels — the gold labels must be exact.
 */
export function instanceBank(): Map<string, OolongLabel> {
  if (bank) return bank;
  const m = new Map<string, OolongLabel>();
  for (const label of Object.keys(OOLONG_TEMPLATES) as OolongLabel[]) {
    for (const t of OOLONG_TEMPLATES[label]) {
      for (const s of expandTemplate(t)) {
        const prev = m.get(s);
        if (prev !== undefined && prev !== label) throw new Error(`oolong bank: "${s}" would be both ${prev} and ${label}`);
        m.set(s, label);
      }
    }
  }
  bank = m;
  return m;
}

/** Removes a known lead-in ("Quick question: …") and surrounding whitespace. */
export function stripLead(sentence: string): string {
  let s = sentence.trim();
  for (const lead of OOLONG_LEADS) {
    if (s.startsWith(lead)) {
      s = s.slice(lead.length).trim();
      break;
    }
  }
  return s;
}

/** The bank's label of a sentence (lead-in allowed), or null when the sentence is not in the bank. */
export function bankLabel(sentence: string): OolongLabel | null {
  return instanceBank().get(stripLead(sentence)) ?? null;
}
