/**
 * The data a report page carries: what the Node side (report/) computes and the browser side (report/viewer/) draws.
 * Types only, no imports, so both the Node program and the DOM program type-check against the same shapes.
 */
import type { Quantiles } from './stats.ts';

export type CostUnit = 'usd' | 'tokens';

/** One run as the header shows it (a sharded run is one run made of several directories). */
export interface RunHeader {
  label: string;
  dirs: string[];
  runIds: string[];
  status: string[];
  models: Record<string, string[]>;
  /** Redacted endpoint URLs with their role and served ids. */
  endpoints: { role: string; url: string; served: string[] }[];
  seed: (number | null)[];
  shards: { count: number; present: number[]; missing: number[] } | null;
  episodes: number;
  childEpisodes: number;
  steps: number;
  correct: number;
  terminated: number;
  truncated: number;
  errors: number;
  rewardErrors: number;
  completionTruncated: number | null;
  byStopReason: Record<string, number>;
  startedAt: string | null;
  endedAt: string | null;
  /** From the first session start to the last session end (shards run side by side). */
  wallSeconds: number | null;
  /** Sum of the episodes' wall_ms / 1000. */
  episodeSeconds: number;
  versions: string[];
  gitCommits: string[];
  command: string;
  rewardSpec: string | null;
  priced: boolean;
  sizes: number[];
  families: string[];
  notes: string[];
}

/** A row of the results table: one family (or "all") of one run. */
export interface FamilyStats {
  family: string;
  n: number;
  scoreMean: number;
  correctPct: number;
  costUnit: CostUnit;
  costMean: number;
  costSd: number | null;
  rootTokensMean: number;
  subTokensMean: number;
  turnsMean: number;
  subCallsMean: number;
  errors: number;
}

/** A point of score vs context length. */
export interface SizePoint {
  size: number;
  n: number;
  scoreMean: number;
  correctPct: number;
}

export interface Histogram {
  binWidth: number;
  /** bin lower edge → episodes */
  bins: [number, number][];
}

export interface ComponentStats {
  name: string;
  n: number;
  mean: number;
}

export interface RunAggregates {
  families: FamilyStats[];
  /** family → points ascending by size */
  curves: Record<string, SizePoint[]>;
  /** family → quantiles of the cost metric (USD when every run is priced, else total tokens) */
  costDist: Record<string, Quantiles>;
  turns: Histogram;
  subCalls: Histogram;
  components: ComponentStats[];
  stopReasons: Record<string, number>;
}

/** One episode in the list (every episode of every run, embedded or not). Short keys: 10,000 of these are inlined. */
export interface EpisodeIndexRow {
  /** run index */
  r: number;
  id: string;
  fam: string;
  size: number;
  ctx: number;
  seed: number;
  grp: string;
  score: number;
  ok: boolean;
  rew: number;
  stop: string;
  turns: number;
  sub: number;
  tok: number;
  cost: number;
  wall: number;
  q: string;
  ans: string | null;
  gold: string;
  err: string | null;
  /** completion_truncated when the column exists */
  ct: boolean | null;
  depth: number;
  parent: string | null;
  root: string | null;
  /** chunk holding the details; -1 = not embedded (--max-episodes) */
  chunk: number;
}

export interface SubCallDetail {
  p: string;
  r: string;
  m: string;
  pt: number;
  ct: number;
  ms: number;
  err: string | null;
  fin: string | null;
}

export interface StepDetail {
  turn: number;
  reply: string;
  reasoning: string | null;
  finish: string | null;
  code: string[];
  obs: string;
  errs: string[];
  ms: number;
  pt: number;
  ct: number;
  sub: SubCallDetail[];
}

/** What a chunk holds per episode (fetched and decompressed when the episode is opened). */
export interface EpisodeDetail {
  r: number;
  id: string;
  question: string;
  gold: string;
  answer: string | null;
  components: Record<string, number>;
  reward: number;
  rewardError: string | null;
  error: string | null;
  scoreDetails: string;
  taskOptions: string;
  sampling: string;
  rootModel: string;
  subModel: string;
  system: string | null;
  firstUser: string | null;
  steps: StepDetail[];
}

export interface ReportData {
  title: string;
  generatedAt: string;
  generator: string;
  runs: RunHeader[];
  aggregates: RunAggregates[];
  families: string[];
  costUnit: CostUnit;
  episodes: EpisodeIndexRow[];
  chunkCount: number;
  embedded: number;
  maxEpisodes: number | null;
  maxTextChars: number;
}
