/** Small HTTP pieces: JSON responses, the error body `{error: {code, message}}`, and a request body read under a cap. */
import type http from 'node:http';
import { ApiError } from './errors.ts';

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

export function sendError(res: http.ServerResponse, e: unknown): void {
  const err = e instanceof ApiError ? e : new ApiError('internal', `internal error: ${(e as Error)?.message ?? String(e)}`);
  // A body we refused to read must not be parsed as the next request on this connection.
  const headers: Record<string, string> = err.code === 'body_too_large' ? { connection: 'close' } : {};
  if (err.code === 'unauthorized') headers['www-authenticate'] = 'Bearer realm="rlm-gym"';
  sendJson(res, err.status, err.toJSON(), headers);
}

/** Reads and parses a JSON body of at most `maxBytes` (413 beyond, before or while reading; 400 for bad JSON). */
export function readJson(req: http.IncomingMessage, maxBytes: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      req.resume();
      return reject(tooLarge(maxBytes));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > maxBytes) {
        failed = true;
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (failed) return;
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch (e) {
        reject(new ApiError('bad_request', `the body is not valid JSON: ${(e as Error).message}`));
      }
    });
    req.on('error', (e) => {
      if (!failed) reject(e);
    });
  });
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError('body_too_large', `the request body is larger than the server's limit of ${maxBytes} bytes (--max-body-mb)`);
}
