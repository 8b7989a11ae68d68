/**
 * The report page's script and styles, built once per process: esbuild bundles report/viewer/main.ts with the parts
 * of ECharts and highlight.js it imports into one IIFE (no network at view time; nothing is fetched at run time).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
let cached: Promise<{ js: string; css: string }> | null = null;

export function viewerAssets(): Promise<{ js: string; css: string }> {
  cached ??= (async () => {
    const { build } = await import('esbuild'); // loaded only when a report is written, not with the public API
    const out = await build({
      entryPoints: [join(here, 'viewer', 'main.ts')],
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: ['chrome100', 'firefox115', 'safari16'],
      minify: true,
      write: false,
      legalComments: 'eof',
      logLevel: 'silent',
      absWorkingDir: join(here, '..'),
    });
    const js = out.outputFiles[0].text.replace(/<\/(script)/gi, '<\\/$1');
    const require = createRequire(import.meta.url);
    const hljsCss = readFileSync(require.resolve('highlight.js/styles/github.min.css'), 'utf8');
    const css = `${readFileSync(join(here, 'viewer', 'style.css'), 'utf8')}\n${hljsCss}`.replace(/<\/(style)/gi, '<\\/$1');
    return { js, css };
  })();
  cached.catch(() => (cached = null));
  return cached;
}
