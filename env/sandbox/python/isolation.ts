/**
 * The process-level layers around a Python sandbox (see README "Python REPL: isolation layers"):
 * - Node's permission model: file reads only of the Pyodide package and the sandbox's own cache directory (bundle +
 *   snapshot), no file writes, no child processes, no worker threads, no native addons;
 * - `--disallow-code-generation-from-strings`: no eval / new Function, so a JavaScript object reached from Python
 *   cannot compile code;
 * - an empty network namespace (`unshare -n`, or `unshare -rn` without root) when the machine allows it: Node 20's
 *   permission model does not cover sockets;
 * - an environment with nothing in it but TZ (no API keys, no PATH, no HOME of the host).
 */
import { spawnSync } from 'node:child_process';

export interface IsolationLayers {
  permissionModel: true;
  codeGenerationFromStrings: false;
  /** 'unshare -n' | 'unshare -rn' | null (no network namespace available: sockets are then stopped only by the in-process layers). */
  networkNamespace: string | null;
  scrubbedEnvironment: true;
}

let prefix: string[] | null = null;

/** The command that starts node: [node] or [unshare, -n, node] when an empty network namespace can be had. */
export function isolationPrefix(): string[] {
  if (prefix) return prefix;
  prefix = [process.execPath];
  if (process.platform === 'linux' && process.env.RLM_GYM_NO_NETNS !== '1') {
    for (const flags of [['-n'], ['-rn']]) {
      try {
        const r = spawnSync('unshare', [...flags, process.execPath, '-e', '0'], { stdio: 'ignore', timeout: 10_000 });
        if (r.status === 0) {
          prefix = ['unshare', ...flags, process.execPath];
          break;
        }
      } catch {
        /* no unshare */
      }
    }
  }
  return prefix;
}

export function isolationLayers(): IsolationLayers {
  const p = isolationPrefix();
  return {
    permissionModel: true,
    codeGenerationFromStrings: false,
    networkNamespace: p[0] === 'unshare' ? p.slice(0, 2).join(' ') : null,
    scrubbedEnvironment: true,
  };
}

/** Node flags of a sandbox process (readable: the Pyodide package and the artifacts directory, nothing else). */
export function sandboxNodeArgs(pyodideDir: string, artifactsDir: string): string[] {
  const slash = (d: string) => (d.endsWith('/') ? d : `${d}/`);
  return [
    '--no-warnings',
    '--experimental-permission',
    `--allow-fs-read=${slash(pyodideDir)}`,
    `--allow-fs-read=${slash(artifactsDir)}`,
    '--disallow-code-generation-from-strings',
  ];
}
