/**
 * One self-contained HTML file: styles, the bundled script, the report data as JSON and the compressed episode chunks,
 * all inline. The Content-Security-Policy forbids every network request, so the page cannot phone home.
 */
import type { ReportData } from './payload.ts';

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** JSON that is safe inside <script>: `<` never appears raw, so no `</script>` or `<!--` can end the element. */
export function inlineJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export function renderHtml(data: ReportData, chunks: readonly string[], assets: { js: string; css: string }): string {
  const parts: string[] = [
    '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">\n`,
    `<meta name="generator" content="${escapeHtml(data.generator)}">\n`,
    `<title>${escapeHtml(data.title)}</title>\n<style>\n${assets.css}\n</style>\n</head>\n<body>\n`,
    '<div id="app"></div>\n<noscript>This report needs JavaScript.</noscript>\n',
    `<script type="application/json" id="report-data">${inlineJson(data)}</script>\n`,
  ];
  // The script comes before the chunks: the page draws while the browser is still reading megabytes of trajectories.
  parts.push(`<script>\n${assets.js}\n</script>\n`);
  // base64 needs no escaping; one element per chunk, so the page reads (and inflates) only what is opened.
  chunks.forEach((c, i) => parts.push(`<script type="application/x-rlm-chunk" id="chunk-${i}">${c}</script>\n`));
  parts.push('</body>\n</html>\n');
  return parts.join('');
}
