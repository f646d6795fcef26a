// The JS half of the module: the RuntimeApi native calls (lib/generated/runtime-api.ts). It loads bundles
// (loader.ts), keeps the filter instances and streams of this environment (context.ts) and hands hooks to
// their handlers (dispatch.ts). It talks to Envoy only through a NativeBinding: the real one inside Envoy
// (lib/bootstrap.ts), or the test kit's (lib/testing), so both run exactly this code.
import { isAbsolute } from 'node:path';
import { existsSync } from 'node:fs';
import type { NativeBinding } from './generated/binding';
import { applySchema, type FilterDefinition, type Logger } from './filter';
import type { Direction } from './body';
import { describeError } from './errors';
import { metricDeclarationsJson } from './metrics';
import { Level, Outcome, Phase } from './generated/enums';
import { type CjsModule, findFilter, type LoadedBundle, loadBundle, mergeConfig, schemaError } from './loader';
import { type Instance, Stream, type StreamEnv } from './context';
import { HANDLERS, dispatch, runChunks } from './dispatch';

export { bundleIdentity, mergeConfig } from './loader';
export { describeError } from './errors';
export { HANDLERS } from './dispatch';

export { Outcome, Phase };
const LEVELS = {
  trace: Level.Trace,
  debug: Level.Debug,
  info: Level.Info,
  warn: Level.Warn,
  error: Level.Error,
} as const;

/** What native polls while a (possibly asynchronous) load runs. */
export interface LoadState {
  done: boolean;
  index: number;
  /** Bit (1 << Phase) for each handler the filter defines: native skips the rest without calling JS. */
  handlers: number;
  error: string;
  /**
   * The bundle's identity (`sha256:<hex>` of its file as loaded) and, for a CommonJS bundle, the exact text
   * compiled: native keeps both with the filter config and hands them to each worker's load, so every
   * worker runs the code the main thread validated, whatever the file holds later. '' for an ES module.
   */
  identity: string;
  source: string;
}

import type { RuntimeApi } from './generated/runtime-api';
export type { RuntimeApi };

export function createRuntime(native: NativeBinding): RuntimeApi {
  // Indexes are held by native (JsEnv) and by streams: an unloaded instance leaves a tombstone, never a shift.
  const instances: (Instance | undefined)[] = [];
  const streams = new Map<number, Stream>();

  function log(level: Level, message: string): void {
    if (native.logEnabled(level)) native.log(level, message);
  }

  function makeLogger(prefix: string): Logger {
    return {
      trace: (m) => log(Level.Trace, prefix + m),
      debug: (m) => log(Level.Debug, prefix + m),
      info: (m) => log(Level.Info, prefix + m),
      warn: (m) => log(Level.Warn, prefix + m),
      error: (m) => log(Level.Error, prefix + m),
      enabled: (level) => native.logEnabled(LEVELS[level]),
    };
  }

  const env: StreamEnv = { native, log, makeLogger };

  const closedIds = new Uint32Array(1025);
  /** Forgets the streams native completed without a call (nothing in JS was waiting on them). */
  function reapClosed(): void {
    const n = closedIds[0] as number;
    for (let i = 1; i <= n; i++) {
      const id = closedIds[i] as number;
      streams.get(id)?.close();
      streams.delete(id);
    }
    closedIds[0] = 0;
  }

  /**
   * Node 18 builds fetch's Request/Response/Headers lazily (~30-50 ms the first time, and it starts a
   * background wasm compile): on a worker, do it while loading, outside any handler's time budget. Not on
   * the main thread, whose environment may be torn down right away when Envoy rejects a config.
   */
  let warmed = false;
  function prewarmFetch(): void {
    if (warmed) return;
    warmed = true;
    new Response(new Uint8Array(0), { headers: new Headers() });
  }

  function streamFor(streamId: number, instanceIndex: number, route: number): Stream {
    if (closedIds[0]) reapClosed();
    let s = streams.get(streamId);
    if (!s) {
      const inst = instances[instanceIndex] as Instance;
      s = new Stream(env, streamId, inst, route ? inst.routes.get(route) : inst.config);
      streams.set(streamId, s);
    }
    return s;
  }

  function loadState(work: () => Promise<void>, state: LoadState): LoadState {
    work().then(
      () => {
        state.done = true;
      },
      // Schema and lookup errors read best as their message; anything else (a SyntaxError in the bundle) with its stack.
      (e: unknown) => {
        state.error = e instanceof Error && !(e instanceof SyntaxError) ? e.message : describeError(e);
        state.done = true;
      },
    );
    return state;
  }

  async function openBundle(path: string, source?: string, identity?: string): Promise<LoadedBundle> {
    if (!isAbsolute(path)) throw new Error(`"module" must be an absolute path, got "${path}"`);
    if (!existsSync(path)) throw new Error(`module file ${path} does not exist`);
    return loadBundle(path, source, identity, (m) => log(Level.Warn, `[nodevoy] ${m}`));
  }

  /** Leaves the bundle out of require.cache once no instance here uses it (the next load compiles it again). */
  function releaseBundle(bundle: LoadedBundle): void {
    const m = bundle.module;
    if (!m || instances.some((i) => i?.bundle.module === m)) return;
    const cache = require.cache as Record<string, CjsModule | undefined>;
    if (cache[m.filename] === m) delete cache[m.filename];
  }

  /** Per-route configs seen before their filter loaded, keyed by filter name and config text. */
  const pendingRoutes = new Map<string, { filterName: string; configJson: string }>();
  function checkPendingRoutes(filterName: string, def: FilterDefinition<unknown, unknown>): void {
    for (const [key, pending] of pendingRoutes) {
      if (pending.filterName !== filterName) continue;
      pendingRoutes.delete(key);
      try {
        applySchema(def.routeConfig, JSON.parse(pending.configJson));
      } catch (e) {
        throw schemaError('per-route config', e);
      }
    }
  }

  return {
    closedIds,

    /** Loads a bundle, finds the filter and validates its config; native spins the loop until `done`. */
    load(
      path: string,
      filterName: string,
      configJson: string,
      asyncBudgetMs = 15000,
      source?: string,
      identity?: string,
    ): LoadState {
      const state: LoadState = { done: false, index: -1, handlers: 0, error: '', identity: '', source: '' };
      if (native.workerIndex() >= 0) prewarmFetch();
      return loadState(async () => {
        const raw: unknown = JSON.parse(configJson);
        const bundle = await openBundle(path, source, identity);
        let def: FilterDefinition<unknown, unknown>;
        let config: unknown;
        try {
          def = findFilter(bundle.exports, filterName, path);
          try {
            config = applySchema(def.config, raw);
          } catch (e) {
            throw schemaError('filter_config.config', e);
          }
          metricDeclarationsJson(def.metrics); // bad declarations fail the load
          checkPendingRoutes(filterName, def);
        } catch (e) {
          releaseBundle(bundle); // a rejected config leaves nothing behind
          throw e;
        }
        instances.push({ name: filterName, path, bundle, def, config, routes: new Map(), asyncBudgetMs });
        state.index = instances.length - 1;
        state.handlers = HANDLERS.reduce((bits, h, i) => (def[h] ? bits | (1 << i) : bits), 0);
        state.identity = bundle.identity;
        state.source = bundle.source;
      }, state);
    },

    unload(index: number): void {
      const inst = instances[index];
      if (!inst) return;
      instances[index] = undefined;
      // Envoy destroys a config after its last stream, but JS may not have heard of every completion yet
      // (the closedIds batch): forget them now, or they keep the instance's config reachable.
      reapClosed();
      for (const [id, s] of streams) {
        if (s.instance !== inst) continue;
        streams.delete(id);
        s.close();
      }
      releaseBundle(inst.bundle);
    },

    unroute(index: number, routeId: number): void {
      instances[index]?.routes.delete(routeId);
    },

    /** The filter's metric declarations, for native to define at config time. */
    metrics(index: number): string {
      return metricDeclarationsJson((instances[index] as Instance).def.metrics);
    },

    /** Validates a per-route config against the named filter (the newest loaded, or the given module's). */
    checkRoute(filterName: string, modulePath: string, configJson: string): LoadState {
      const state: LoadState = { done: false, index: -1, handlers: 0, error: '', identity: '', source: '' };
      return loadState(async () => {
        let def = [...instances]
          .reverse()
          .find((i) => i && i.name === filterName && (!modulePath || i.path === modulePath))?.def;
        if (!def && modulePath) def = findFilter((await openBundle(modulePath)).exports, filterName, modulePath);
        if (!def) {
          // Envoy builds an HCM's inline route config before its http filters: validate this one when
          // the filter it names loads (a failure then rejects that filter config, and so the listener).
          pendingRoutes.set(`${filterName}\0${configJson}`, { filterName, configJson });
          return;
        }
        try {
          applySchema(def.routeConfig, JSON.parse(configJson));
        } catch (e) {
          throw schemaError('per-route config', e);
        }
      }, state);
    },

    /** Parses a per-route config for an instance on this worker; returns an error message or ''. */
    route(index: number, routeId: number, configJson: string): string {
      const inst = instances[index] as Instance;
      try {
        inst.routes.set(routeId, mergeConfig(inst.config, applySchema(inst.def.routeConfig, JSON.parse(configJson))));
        return '';
      } catch (e) {
        return describeError(e);
      }
    },

    dispatch(phase: Phase, instanceIndex: number, streamId: number, route: number): Outcome {
      return dispatch(streamFor(streamId, instanceIndex, route), phase);
    },

    /** A body hook: each chunk through the chunk handler, synchronously, while the views are attached. */
    data(
      phase: Phase,
      instanceIndex: number,
      streamId: number,
      route: number,
      chunks: Uint8Array[],
      end: boolean,
    ): Outcome {
      return runChunks(streamFor(streamId, instanceIndex, route), phase, chunks, end);
    },

    /** The whole body a handler awaits has arrived (a copy). */
    body(streamId: number, direction: Direction, bytes: Uint8Array): void {
      const s = streams.get(streamId);
      if (s && !s.closed) s.body(direction).deliver(bytes);
    },

    /** A ctx.fetch completed. */
    callout(streamId: number, id: number, result: number, headers: string[], body: Uint8Array): void {
      streams.get(streamId)?.calloutDone(id, result, headers, body);
    },

    /** The stream completed (normally or not): abort its signal; later calls on it throw. */
    closed(streamId: number): void {
      reapClosed();
      const s = streams.get(streamId);
      if (!s) return;
      streams.delete(streamId);
      s.close();
    },
  };
}
