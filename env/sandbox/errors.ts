/**
 * Typed errors for MISUSE of the sandbox API (bad options, closed pool/session, a worker that cannot start).
 * Nothing the model's code does ever surfaces as one of these: that ends up in a `CellResult` instead.
 */
export class SandboxError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Invalid `SessionOptions` / pool options (the message names the field and the accepted range). */
export class SandboxConfigError extends SandboxError {}

/** The pool (or the session) was closed before / while the operation ran. */
export class SandboxClosedError extends SandboxError {}

/** A worker process could not be started (or died while opening a session, twice in a row). */
export class SandboxWorkerError extends SandboxError {}
