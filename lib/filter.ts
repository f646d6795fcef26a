import type { HeaderMap } from './headers';

/** Marks objects made by defineFilter, across copies of this SDK bundled into user code. */
export const FILTER_BRAND: unique symbol = Symbol.for('nodevoy.filter') as never;

/** What a handler returns to answer the request itself; made by `ctx.respond()`. */
export interface Reply {
  readonly status: number;
}

export interface Logger {
  trace(message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Per-stream context handed to every handler. */
export interface FilterContext<C> {
  /** The filter's own config object from `filter_config.config`, as typed by defineFilter's generic. */
  readonly config: C;
  /** Aborted when the stream ends before the handler is done (client reset, reply from another filter). */
  readonly signal: AbortSignal;
  /** Envoy's stream id for log correlation. */
  readonly streamId: number;
  readonly log: Logger;
  /**
   * Answers the request with a local reply instead of forwarding it. Return its result from the handler.
   * After response headers went out, Envoy can only reset the stream, and that is what happens.
   */
  respond(status: number, body?: string | Uint8Array, headers?: Record<string, string>): Reply;
}

export interface FilterRequest {
  readonly headers: HeaderMap;
  readonly method: string;
  /** The :path pseudo-header, query included. */
  readonly path: string;
  /** The :authority pseudo-header (HTTP/1 Host). */
  readonly authority: string;
}

export interface FilterResponse {
  readonly headers: HeaderMap;
  /** The :status pseudo-header as a number. */
  readonly status: number;
}

/** Returning nothing (or resolving to nothing) continues the stream. */
export type HandlerResult = void | Reply;

export interface FilterSpec<C> {
  onRequestHeaders?(request: FilterRequest, ctx: FilterContext<C>): HandlerResult | Promise<HandlerResult>;
  onResponseHeaders?(response: FilterResponse, ctx: FilterContext<C>): HandlerResult | Promise<HandlerResult>;
}

export interface FilterDefinition<C> extends FilterSpec<C> {
  readonly [FILTER_BRAND]: true;
}

/**
 * Declares an HTTP filter. Export the result under the name the Envoy config's `filter_name` uses.
 * `C` types `ctx.config`, the JSON object given as `filter_config.config`.
 */
export function defineFilter<C = Record<string, unknown>>(spec: FilterSpec<C>): FilterDefinition<C> {
  return Object.freeze({ ...spec, [FILTER_BRAND]: true as const });
}

export function isFilterDefinition(v: unknown): v is FilterDefinition<unknown> {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[FILTER_BRAND] === true;
}
