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
