// Runs inside every embedded Node environment (one per Envoy worker, one on the main thread for
// config validation). It loads user bundles and turns native hook calls into handler calls.
// Native reaches it through the api object passed to binding.registerApi().
import { pathToFileURL } from 'node:url';
import { isAbsolute } from 'node:path';
import { existsSync } from 'node:fs';
import type { NativeBinding } from './generated/binding';
import { isFilterDefinition, type FilterContext, type FilterDefinition, type Logger, type Reply } from './filter';
import { HeaderKind, HeaderMap, type StreamHandle } from './headers';
import { InvalidResponseError, StreamClosedError } from './errors';
import { headerName, headerValue, status as checkStatus } from './validate';

declare const process: NodeJS.Process & { _linkedBinding(name: string): unknown };
const native = process._linkedBinding('nodevoy') as NativeBinding;

/** Outcomes shared with native (envoy-filter/js_outcome.h). */
const enum Outcome {
  Continue = 0,
  Reply = 1,
  Failed = 2,
  Pending = 3,
}
const enum Phase {
  RequestHeaders = 0,
  ResponseHeaders = 1,
}
const enum Level {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
}

interface Instance {
  readonly name: string;
  readonly def: FilterDefinition<unknown>;
  readonly config: unknown;
}

interface LoadState {
  done: boolean;
  index: number;
  /** Which handlers the filter defines (bit 0 request headers, bit 1 response headers): native skips the rest. */
  handlers: number;
  error: string;
}

const instances: Instance[] = [];
const streams = new Map<number, Stream>();

function log(level: Level, message: string): void {
  if (native.logEnabled(level)) native.log(level, message);
}

function describeError(e: unknown): string {
  if (e instanceof Error) return e.stack ?? `${e.name}: ${e.message}`;
  return String(e);
}

function makeLogger(prefix: string): Logger {
  return {
    trace: (m) => log(Level.Trace, prefix + m),
    debug: (m) => log(Level.Debug, prefix + m),
    info: (m) => log(Level.Info, prefix + m),
    warn: (m) => log(Level.Warn, prefix + m),
    error: (m) => log(Level.Error, prefix + m),
  };
}

class Stream implements StreamHandle {
  closed = false;
  replied = false;
  // Made on first use: most handlers never look at the signal or the logger.
  controller?: AbortController;
  readonly ctx: FilterContext<unknown>;
  private requestView?: HeaderMap;
  private responseView?: HeaderMap;

  constructor(readonly id: number, readonly instance: Instance) {
    const stream = this;
    let logger: Logger | undefined;
    this.ctx = {
      config: instance.config,
      get signal() {
        if (!stream.controller) {
          stream.controller = new AbortController();
          if (stream.closed) stream.controller.abort(new StreamClosedError('stream'));
        }
        return stream.controller.signal;
      },
      streamId: id,
      get log() {
        return (logger ??= makeLogger(`[nodevoy][${instance.name}][${id}] `));
      },
      respond(code: number, body?: string | Uint8Array, headers?: Record<string, string>): Reply {
        return stream.respond(code, body, headers);
      },
    };
  }

  get requestHeaders(): HeaderMap {
    return (this.requestView ??= new HeaderMap(native, this, HeaderKind.Request));
  }

  get responseHeaders(): HeaderMap {
    return (this.responseView ??= new HeaderMap(native, this, HeaderKind.Response));
  }

  respond(code: number, body?: string | Uint8Array, headers?: Record<string, string>): Reply {
    if (this.closed) throw new StreamClosedError('ctx.respond');
    if (this.replied) throw new InvalidResponseError('ctx.respond: this stream already has a reply');
    const flat: string[] = [];
    for (const [k, v] of Object.entries(headers ?? {})) {
      const n = headerName(k);
      flat.push(n, headerValue(n, v));
    }
    native.respond(this.id, checkStatus(code), flat, body ?? null, 'nodevoy_local_reply');
    this.replied = true;
    return { status: code };
  }

  outcome(): Outcome {
    return this.replied ? Outcome.Reply : Outcome.Continue;
  }

  fail(phase: string, e: unknown, how: 'threw' | 'rejected'): Outcome {
    log(Level.Error, `[nodevoy][${this.instance.name}][${this.id}] ${phase} handler ${how}: ${describeError(e)}`);
    return Outcome.Failed;
  }
}

function requestView(s: Stream) {
  return {
    headers: s.requestHeaders,
    get method() { return s.requestHeaders.get(':method') ?? ''; },
    get path() { return s.requestHeaders.get(':path') ?? ''; },
    get authority() { return s.requestHeaders.get(':authority') ?? ''; },
  };
}

function responseView(s: Stream) {
  return {
    headers: s.responseHeaders,
    get status() { return Number(s.responseHeaders.get(':status') ?? 0); },
  };
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

async function importBundle(path: string): Promise<Record<string, unknown>> {
  if (path.endsWith('.mjs')) return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  try {
    return require(path) as Record<string, unknown>;
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_REQUIRE_ESM') return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    throw e;
  }
}

const api = {
  /** Loads a bundle and finds a filter; native spins the loop until `done` (ESM loads are async). */
  load(path: string, filterName: string, configJson: string): LoadState {
    const state: LoadState = { done: false, index: -1, handlers: 0, error: '' };
    (async () => {
      if (!isAbsolute(path)) throw new Error(`"module" must be an absolute path, got "${path}"`);
      if (!existsSync(path)) throw new Error(`module file ${path} does not exist`);
      const config: unknown = JSON.parse(configJson);
      const mod = await importBundle(path);
      const def = mod[filterName] ?? (mod.default as Record<string, unknown> | undefined)?.[filterName];
      if (def === undefined) {
        const names = Object.keys(mod).filter((k) => isFilterDefinition(mod[k]));
        throw new Error(`no filter named "${filterName}" in ${path} (filters found: ${names.join(', ') || 'none'})`);
      }
      if (!isFilterDefinition(def)) throw new Error(`export "${filterName}" of ${path} was not made with defineFilter()`);
      instances.push({ name: filterName, def, config });
      state.index = instances.length - 1;
      state.handlers = (def.onRequestHeaders ? 1 : 0) | (def.onResponseHeaders ? 2 : 0);
    })().then(
      () => { state.done = true; },
      (e: unknown) => { state.error = describeError(e); state.done = true; },
    );
    return state;
  },

  /** A headers hook: returns an Outcome; Pending means native parks the stream until settle(). */
  dispatch(phase: Phase, instanceIndex: number, streamId: number): Outcome {
    let s = streams.get(streamId);
    if (!s) {
      s = new Stream(streamId, instances[instanceIndex] as Instance);
      streams.set(streamId, s);
    }
    const def = s.instance.def;
    const name = phase === Phase.RequestHeaders ? 'onRequestHeaders' : 'onResponseHeaders';
    let result: unknown;
    try {
      result = phase === Phase.RequestHeaders
        ? def.onRequestHeaders?.(requestView(s), s.ctx)
        : def.onResponseHeaders?.(responseView(s), s.ctx);
    } catch (e) {
      return s.fail(name, e, 'threw');
    }
    if (!isThenable(result)) return s.outcome();
    const stream = s;
    result.then(
      () => { if (!stream.closed) native.settle(stream.id, stream.outcome()); },
      (e: unknown) => { if (!stream.closed) native.settle(stream.id, stream.fail(name, e, 'rejected')); },
    );
    return Outcome.Pending;
  },

  /** The stream completed (normally or not): abort its signal; later calls on it throw. */
  closed(streamId: number): void {
    const s = streams.get(streamId);
    if (!s) return;
    streams.delete(streamId);
    s.closed = true;
    s.controller?.abort(new StreamClosedError('stream'));
  },
};

// Uncaught errors in user code outside any handler must not end the process.
process.on('uncaughtException', (e) => log(Level.Error, `[nodevoy] uncaught exception: ${describeError(e)}`));
process.on('unhandledRejection', (e) => log(Level.Error, `[nodevoy] unhandled rejection: ${describeError(e)}`));

native.registerApi(api);
