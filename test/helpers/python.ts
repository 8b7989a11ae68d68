// Locates the pinned Python test environment that .ci/run creates (.venv from clients/python/requirements-test.txt).
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The venv's python, or null (with the reason) when it was not created. */
export function venvPython(): { python: string | null; reason: string } {
  const python = path.join(repoRoot, '.venv', 'bin', 'python');
  if (!existsSync(python)) {
    return { python: null, reason: `no ${python}: run 'bash .ci/run' (or python3 -m venv .venv && .venv/bin/pip install -r clients/python/requirements-test.txt)` };
  }
  return { python, reason: '' };
}

/** A system python3 (for stdlib-only code), or null. */
export function systemPython(): string | null {
  const r = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? 'python3' : null;
}
