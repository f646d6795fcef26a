/** Base class of every error nodevoy throws at its API boundary. */
export class NodevoyError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The stream is gone (client reset, reply sent, stream completed): later calls on it fail with this. */
export class StreamClosedError extends NodevoyError {
  constructor(what: string) {
    super('ERR_NODEVOY_STREAM_CLOSED', `${what}: the stream has already completed`);
  }
}

/** A header name or value that would corrupt the wire (CR, LF, NUL, or a name outside RFC 9110's token). */
export class InvalidHeaderError extends NodevoyError {
  constructor(message: string) {
    super('ERR_NODEVOY_INVALID_HEADER', message);
  }
}

/** A reply that cannot be sent (bad status, or the handler already answered). */
export class InvalidResponseError extends NodevoyError {
  constructor(message: string) {
    super('ERR_NODEVOY_INVALID_RESPONSE', message);
  }
}

/** A call that the stream's state does not allow (e.g. reading the request body after the request went on). */
export class InvalidStateError extends NodevoyError {
  constructor(message: string) {
    super('ERR_NODEVOY_INVALID_STATE', message);
  }
}

/** `ctx.fetch` could not be made or did not complete (unknown cluster, reset, timeout, body over the limit). */
export class FetchError extends NodevoyError {
  constructor(message: string) {
    super('ERR_NODEVOY_FETCH', message);
  }
}

/** @internal Maps an error thrown by the native binding to the typed error its code names; `what` is the API call. */
export function nativeError(e: unknown, what: string): unknown {
  if (!(e instanceof Error)) return e;
  const code = (e as { code?: string }).code;
  const message = e.message.replace(/^nodevoy: /, '');
  if (code === 'ERR_NODEVOY_INVALID_STATE') return new InvalidStateError(message);
  if (code === 'ERR_NODEVOY_FETCH') return new FetchError(message);
  if (code === 'ERR_NODEVOY_STREAM_CLOSED') return new StreamClosedError(what);
  return e;
}

/** An error's stack (or name and message), or the value as a string. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.stack ?? `${e.name}: ${e.message}`;
  return String(e);
}
