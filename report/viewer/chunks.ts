/**
 * Episode details live in gzip-compressed, base64 chunks (one <script type="application/x-rlm-chunk"> each). A chunk is
 * inflated with the browser's own DecompressionStream the first time one of its episodes is opened; a few stay cached.
 */
import type { EpisodeDetail } from '../payload.ts';

const cache = new Map<number, Promise<EpisodeDetail[]>>();
const CACHE_CHUNKS = 16;

async function inflate(b64: string): Promise<EpisodeDetail[]> {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return JSON.parse(await new Response(stream).text()) as EpisodeDetail[];
}

/** The chunks follow the script in the file: wait until the parser has read them all. */
const parsed: Promise<void> =
  document.readyState === 'loading' ? new Promise((r) => document.addEventListener('DOMContentLoaded', () => r(), { once: true })) : Promise.resolve();

export function loadChunk(i: number): Promise<EpisodeDetail[]> {
  let p = cache.get(i);
  if (p) {
    cache.delete(i);
    cache.set(i, p); // most recently used last
    return p;
  }
  p = parsed.then(() => {
    const node = document.getElementById(`chunk-${i}`);
    if (!node) throw new Error(`chunk ${i} is missing from the page`);
    return inflate(node.textContent ?? '');
  });
  cache.set(i, p);
  while (cache.size > CACHE_CHUNKS) cache.delete(cache.keys().next().value!);
  return p;
}

export async function loadDetail(chunk: number, run: number, id: string): Promise<EpisodeDetail | null> {
  if (chunk < 0) return null;
  const list = await loadChunk(chunk);
  return list.find((d) => d.r === run && d.id === id) ?? null;
}
