/** Errors of the env server: each carries the HTTP status and the stable `code` sent as `{error: {code, message}}`. */

export type ApiErrorCode =
  | 'bad_request'
  | 'no_episode'
  | 'unauthorized'
  | 'not_found'
  | 'method_not_allowed'
  | 'step_in_flight'
  | 'session_finished'
  | 'session_expired'
  | 'body_too_large'
  | 'too_many_sessions'
  | 'shutting_down'
  | 'internal';

const STATUS: Record<ApiErrorCode, number> = {
  bad_request: 400,
  no_episode: 400,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  step_in_flight: 409,
  session_finished: 410,
  session_expired: 410,
  body_too_large: 413,
  too_many_sessions: 429,
  shutting_down: 503,
  internal: 500,
};

export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.status = STATUS[code];
  }

  toJSON(): { error: { code: ApiErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/** Bad server configuration (flags, options): the CLI prints it in one line and exits 2. */
export class ServerConfigError extends Error {
  override name = 'ServerConfigError';
}
