/**
 * manifest.json of a run directory: how the run was made (command, config, seed, shard, versions, git commit, endpoints),
 * when, what it holds (counts, part files with sha256 + row counts), and whether it finished.
 *
 * Secrets never reach it: the caller passes an already-redacted config, and {@link scrubSecrets} redacts again
 * defensively (secret-named keys, secret-looking values, credentials in URLs, `--api-key X` in argv, and the literal
 * values of secret environment variables such as OPENAI_API_KEY / HF_TOKEN).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REDACTED = '[redacted]';

/** An endpoint the run talked to. `url` is stored without credentials. */
export interface EndpointInfo {
  /** e.g. 'root' | 'sub' | 'judge'. */
  role?: string;
  url: string;
  /** Served model ids (GET /v1/models) or the ids used. */
  served_models?: string[] | null;
  /** Server version if known (e.g. vLLM's /version). */
  server_version?: string | null;
}

/** What the caller (the rollout runner) knows about the run when opening it. */
export interface ManifestInput {
  /** The exact command line, as a string or argv-style list. Default: `process.argv` (secret flag values redacted). */
  command?: string | string[];
  /** Default: `process.argv`. */
  argv?: string[];
  /** The resolved run configuration, already redacted by the caller (redacted again here defensively). */
  config?: Record<string, unknown>;
  seed?: number | null;
  /** This process's shard, e.g. { index: 0, count: 4 }; null for an unsharded run. */
  shard?: { index: number; count: number } | null;
  endpoints?: EndpointInfo[];
  /** Model ids used, e.g. { root: 'Qwen/Qwen3-8B', sub: 'Qwen/Qwen3-8B' }. */
  models?: Record<string, string>;
  /** Reward spec used (e.g. "accuracy:1,cost:-0.1"). */
  reward_spec?: string | null;
  /** Anything else worth keeping (scrubbed like config). */
  extra?: Record<string, unknown>;
}

export interface PartFileInfo {
  /** Path relative to the run directory, e.g. "episodes/part-00003.parquet". */
  file: string;
  rows: number;
  bytes: number;
  sha256: string;
}

export interface PartCounts {
  episodes: number;
  steps: number;
  correct: number;
  terminated: number;
  truncated: number;
  errors: number;
  reward_errors: number;
  /** Episodes per stop_reason (final, max_turns, error, …). */
  by_stop_reason: Record<string, number>;
}

export interface PartInfo {
  index: number;
  /** "part-00003" */
  name: string;
  episodes: PartFileInfo;
  steps: PartFileInfo;
  counts: PartCounts;
  written_at: string;
}

export type RunStatus = 'running' | 'completed' | 'interrupted' | 'failed';

export interface SessionInfo {
  command: string;
  argv: string[];
  started_at: string;
  ended_at: string | null;
  /** 'running' while open; 'crashed' when a later open found it never closed. */
  status: RunStatus | 'crashed';
  pid: number;
}

export interface Versions {
  package: { name: string; version: string };
  node: string;
  /** Versions of the dependencies that matter, read from node_modules/<dep>/package.json (null when not installed). */
  dependencies: Record<string, string | null>;
}

export interface Manifest {
  format: 'rlm-gym-run';
  format_version: 1;
  schema_version: string;
  run_id: string;
  status: RunStatus;
  /** The command of the first session (the run's defining command); resumes are listed in `sessions`. */
  command: string;
  argv: string[];
  cwd: string;
  config: Record<string, unknown>;
  seed: number | null;
  shard: { index: number; count: number } | null;
  reward_spec: string | null;
  models: Record<string, string>;
  versions: Versions;
  git_commit: string | null;
  endpoints: EndpointInfo[];
  started_at: string;
  updated_at: string;
  ended_at: string | null;
  sessions: SessionInfo[];
  counts: PartCounts & { parts: number };
  parts: PartInfo[];
  /** Caller-supplied summary at close (e.g. accuracy, throughput). */
  summary: Record<string, unknown> | null;
  extra: Record<string, unknown> | null;
  /** Things a reopen noticed (adopted parts, removed orphan files, …). */
  notes: string[];
}

// ---------------------------------------------------------------------------------------------------------------------
// Redaction
// ---------------------------------------------------------------------------------------------------------------------

/**
 * Is this object key / flag name a secret? Normalized (lower-case, no `_`/`-`), it is when it contains secret, password,
 * passwd, credential, authorization, cookie, apikey, accesskey, privatekey, or ends with key/keys/token/auth.
 * Deliberately NOT a plain "contains token" test, so counts such as `maxTokens` / `contextTokens` and `tokenizer` survive.
 */
export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[_\-\s.]/g, '');
  // Names *of* secrets are not secrets: apiKeyEnv: 'OPENAI_API_KEY', tokenFile: '~/.hf/token'.
  if (/(env|envvar|name|file|path)$/.test(k)) return false;
  if (/(secret|password|passwd|credential|authorization|cookie|apikey|accesskey|privatekey|bearer)/.test(k)) return true;
  return /(key|keys|token|auth)$/.test(k);
}

const SECRET_VALUE_PATTERNS: RegExp[] = [
  /\bsk-[A-Za-z0-9_\-]{6,}/g, // OpenAI-style
  /\bhf_[A-Za-z0-9]{8,}/g, // Hugging Face
  /\bgh[pousr]_[A-Za-z0-9]{16,}/g, // GitHub
  /\bxox[abprs]-[A-Za-z0-9-]{8,}/g, // Slack
  /\bAKIA[0-9A-Z]{16}\b/g, // AWS access key id
  /\bBearer\s+[A-Za-z0-9._~+\/=-]{12,}/g, // auth headers
];

function envSecretValues(): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(process.env)) {
    if (v && v.length >= 8 && isSecretKey(k)) out.push(v);
  }
  return out.sort((a, b) => b.length - a.length);
}

/** Redact secrets inside one string: known secret shapes, env secret values, credentials and secret params in URLs. */
export function scrubString(s: string, envValues: string[] = envSecretValues()): string {
  let out = s;
  for (const v of envValues) if (out.includes(v)) out = out.split(v).join(REDACTED);
  // user:pass@host in URLs
  out = out.replace(/\b([a-z][a-z0-9+.-]*:\/\/)([^\s\/@:]+)(:[^\s\/@]*)?@/gi, `$1${REDACTED}@`);
  // ?api_key=… / &token=… in URLs or query strings
  out = out.replace(/([?&;])([^=&\s#]+)=([^&\s#]*)/g, (m, sep: string, k: string) => (isSecretKey(decodeURIComponentSafe(k)) ? `${sep}${k}=${REDACTED}` : m));
  for (const re of SECRET_VALUE_PATTERNS) out = out.replace(re, REDACTED);
  return out;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Deep copy of `value` with secret-named keys replaced by "[redacted]" and every string scrubbed ({@link scrubString}). */
export function scrubSecrets<T>(value: T, envValues: string[] = envSecretValues()): T {
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > 64) return '[too deep]';
    if (typeof v === 'string') return scrubString(v, envValues);
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    if (v && typeof v === 'object') {
      if (v instanceof Date) return v.toISOString();
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        out[k] = isSecretKey(k) && x !== null && x !== undefined && x !== '' && typeof x !== 'boolean' ? REDACTED : walk(x, depth + 1);
      }
      return out;
    }
    if (typeof v === 'bigint') return Number(v);
    if (typeof v === 'function' || typeof v === 'symbol') return undefined;
    return v;
  };
  return walk(value, 0) as T;
}

/** argv with the value of secret flags redacted: `--api-key X` ⇒ `--api-key [redacted]`, `--token=X` ⇒ `--token=[redacted]`. */
export function scrubArgv(argv: readonly string[], envValues: string[] = envSecretValues()): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = /^(--?[A-Za-z][\w.-]*)=(.*)$/s.exec(a);
    if (eq && isSecretKey(eq[1].replace(/^-+/, ''))) {
      out.push(`${eq[1]}=${REDACTED}`);
      continue;
    }
    const flag = /^--?([A-Za-z][\w.-]*)$/.exec(a);
    if (flag && isSecretKey(flag[1]) && i + 1 < argv.length && !argv[i + 1].startsWith('-')) {
      out.push(a, REDACTED);
      i++;
      continue;
    }
    out.push(scrubString(a, envValues));
  }
  return out;
}

/** Remove credentials from a URL (user:pass@ and secret query parameters). */
export function redactUrl(url: string): string {
  return scrubString(url, []);
}

// ---------------------------------------------------------------------------------------------------------------------
// Versions and git
// ---------------------------------------------------------------------------------------------------------------------

/** Root of the rlm-gym package (the directory holding its package.json). */
export const PACKAGE_ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Dependencies whose versions are recorded in the manifest. */
export const RECORDED_DEPENDENCIES: readonly string[] = [
  'isolated-vm',
  'apache-arrow',
  'parquet-wasm',
  'openai',
  '@huggingface/inference',
  'gpt-tokenizer',
  'tsx',
];

function readJson(path: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** Installed version of `dep`, looked up in node_modules from the package root upwards; null when not installed. */
export function dependencyVersion(dep: string, from: string = PACKAGE_ROOT): string | null {
  let dir = from;
  for (;;) {
    const p = join(dir, 'node_modules', dep, 'package.json');
    if (existsSync(p)) {
      const v = readJson(p)?.version;
      return typeof v === 'string' ? v : null;
    }
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

let versionsCache: Versions | null = null;
export function collectVersions(): Versions {
  if (versionsCache) return versionsCache;
  const pkg = readJson(join(PACKAGE_ROOT, 'package.json')) ?? {};
  versionsCache = {
    package: { name: String(pkg.name ?? 'rlm-gym'), version: String(pkg.version ?? '0.0.0') },
    node: process.version,
    dependencies: Object.fromEntries(RECORDED_DEPENDENCIES.map((d) => [d, dependencyVersion(d)])),
  };
  return versionsCache;
}

/** `git rev-parse HEAD` of the package checkout, or null (not a git checkout, no commits, git missing). */
export function gitCommit(cwd: string = PACKAGE_ROOT): string | null {
  try {
    const out = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 })
      .toString()
      .trim();
    return /^[0-9a-f]{40,64}$/.test(out) ? out : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Building / reading
// ---------------------------------------------------------------------------------------------------------------------

export function emptyCounts(): PartCounts {
  return { episodes: 0, steps: 0, correct: 0, terminated: 0, truncated: 0, errors: 0, reward_errors: 0, by_stop_reason: {} };
}

export function addCounts(a: PartCounts, b: PartCounts): PartCounts {
  const by = { ...a.by_stop_reason };
  for (const [k, v] of Object.entries(b.by_stop_reason)) by[k] = (by[k] ?? 0) + v;
  return {
    episodes: a.episodes + b.episodes,
    steps: a.steps + b.steps,
    correct: a.correct + b.correct,
    terminated: a.terminated + b.terminated,
    truncated: a.truncated + b.truncated,
    errors: a.errors + b.errors,
    reward_errors: a.reward_errors + b.reward_errors,
    by_stop_reason: by,
  };
}

export function totalCounts(parts: readonly PartInfo[]): PartCounts & { parts: number } {
  return { ...parts.reduce((acc, p) => addCounts(acc, p.counts), emptyCounts()), parts: parts.length };
}

export function newSession(input: ManifestInput, now: string): SessionInfo {
  const argv = scrubArgv(input.argv ?? (Array.isArray(input.command) ? input.command : process.argv));
  const command =
    input.command === undefined
      ? argv.join(' ')
      : Array.isArray(input.command)
        ? scrubArgv(input.command).map(shellQuote).join(' ')
        : scrubArgv(input.command.split(/\s+/).filter(Boolean)).join(' ');
  return { command, argv, started_at: now, ended_at: null, status: 'running', pid: process.pid };
}

/** Quote one argv item for display as a shell command (only when needed). */
function shellQuote(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

export function newManifest(runId: string, input: ManifestInput, now: string, schemaVersion: string): Manifest {
  const session = newSession(input, now);
  return {
    format: 'rlm-gym-run',
    format_version: 1,
    schema_version: schemaVersion,
    run_id: runId,
    status: 'running',
    command: session.command,
    argv: session.argv,
    cwd: process.cwd(),
    config: input.config ?? {},
    seed: input.seed ?? null,
    shard: input.shard ?? null,
    reward_spec: input.reward_spec ?? null,
    models: input.models ?? {},
    versions: collectVersions(),
    git_commit: gitCommit(),
    endpoints: (input.endpoints ?? []).map((e) => ({ ...e, url: redactUrl(e.url) })),
    started_at: now,
    updated_at: now,
    ended_at: null,
    sessions: [session],
    counts: totalCounts([]),
    parts: [],
    summary: null,
    extra: input.extra ?? null,
    notes: [],
  };
}

/** Read and parse a manifest.json file; null when absent. Throws with the file name when it is not valid JSON. */
export function readManifestFile(path: string): Manifest | null {
  if (!existsSync(path)) return null;
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text) as Manifest;
  } catch (e) {
    throw new Error(`cannot parse ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * Serialize a manifest for disk: scrubbed of secrets, pretty-printed. `parts` and `counts` (file names, hashes, numbers
 * the writer produced itself) are not scanned, so rewriting the manifest stays cheap as parts accumulate.
 */
export function serializeManifest(m: Manifest): string {
  const { parts, counts, ...rest } = m;
  const scrubbed = scrubSecrets(rest) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(m)) out[k] = k === 'parts' ? parts : k === 'counts' ? counts : scrubbed[k];
  return JSON.stringify(out, null, 2) + '\n';
}
