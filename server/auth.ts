/**
 * Who may talk to the server. Off loopback a token is required (the CLI refuses to start without --token-env); it is
 * compared in constant time — both sides are hashed to 32 bytes first, so neither the content nor the length leaks
 * through timing. `Authorization: Bearer <token>`, or Basic with the token as password: OpenEnv's client sends no
 * headers of its own, but its websockets library turns `ws://user:<token>@host` into Basic auth.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { ServerConfigError } from './errors.ts';

/** 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  return mapped ? mapped[1].startsWith('127.') : false;
}

/** A bind address other than loopback needs a token (read from the environment variable --token-env names). */
export function requireTokenFor(host: string, token: string | null): void {
  if (!isLoopback(host) && !token) {
    throw new ServerConfigError(
      `--host ${host} is not loopback: refusing to serve without a token; pass --token-env NAME (an environment variable holding the bearer token)`,
    );
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time comparison of a presented secret with the expected token. */
export function tokenMatches(presented: string, token: string): boolean {
  return timingSafeEqual(digest(presented), digest(token));
}

/** The secret an Authorization header presents (Bearer token, or the Basic password), or null. */
export function presentedToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^\s*(Bearer|Basic)\s+(\S+)\s*$/i.exec(header);
  if (!m) return null;
  if (m[1].toLowerCase() === 'bearer') return m[2];
  const decoded = Buffer.from(m[2], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? null : decoded.slice(colon + 1);
}

/** Does this request carry the token? Always true when the server has none. */
export function authorized(header: string | undefined, token: string | null): boolean {
  if (token === null) return true;
  const presented = presentedToken(header);
  // Compare even when nothing was presented, so a missing header costs the same as a wrong one.
  return tokenMatches(presented ?? '', token) && presented !== null;
}
