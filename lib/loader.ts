// Loading a filter bundle into this environment (per environment, at config time and on a worker's first
// stream): CommonJS compiled from the text the main thread validated, ES modules imported from their
// file, and finding the named filter in what the bundle exports.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import NodeModule from 'node:module';
import { dirname, extname, join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type FilterDefinition, isFilterDefinition } from './filter';

/** A bundle as loaded in this environment. */
export interface LoadedBundle {
  readonly exports: Record<string, unknown>;
  /** `sha256:<hex>` of the text that was compiled ('' for a .json or .node file). */
  readonly identity: string;
  /** The CommonJS text compiled ('' for an ES module, which loads from its file). */
  readonly source: string;
  /** The require.cache entry made for it (CommonJS only: Node 18 has no way to drop an ES module). */
  readonly module?: CjsModule;
}

export interface CjsModule {
  exports: unknown;
  filename: string;
  paths: string[];
  loaded: boolean;
  _compile(source: string, filename: string): unknown;
  [BUNDLE_IDENTITY]?: string;
}
const Module = NodeModule as unknown as {
  new (id: string): CjsModule;
  _nodeModulePaths(dir: string): string[];
};
/** Tags each CommonJS module this runtime compiled with its identity (a symbol: other copies of the runtime see it). */
const BUNDLE_IDENTITY: unique symbol = Symbol.for('nodevoy.bundleIdentity') as never;

export function bundleIdentity(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Node 18's rule for a bundle's format: .mjs, or .js when the nearest package.json (below any node_modules) says "type": "module". */
export function isEsModule(path: string): boolean {
  const ext = extname(path);
  return ext === '.mjs' || (ext === '.js' && packageTypeIsModule(path));
}

function packageTypeIsModule(path: string): boolean {
  let dir = dirname(path);
  for (;;) {
    if (dir.endsWith(`${sep}node_modules`)) return false;
    const pjson = join(dir, 'package.json');
    if (existsSync(pjson)) {
      try {
        return (JSON.parse(readFileSync(pjson, 'utf8')) as { type?: unknown }).type === 'module';
      } catch (e) {
        throw new Error(`cannot read ${pjson}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const up = dirname(dir);
    if (up === dir) return false;
    dir = up;
  }
}

/** First identity each ES module URL was imported with, per process (the ESM loader's cache is per process). */
function esmVersions(): Map<string, string> {
  const g = globalThis as unknown as Record<symbol, Map<string, string> | undefined>;
  return (g[Symbol.for('nodevoy.esmVersions')] ??= new Map());
}

/**
 * Loads a bundle by absolute path. CommonJS is compiled from `source` when given (a worker: the text the
 * main thread validated), else from the file as it is now; a require.cache entry for the path whose
 * identity differs (the file was rewritten in place) is replaced, never reused. An ES module is imported
 * from its file: Node 18 cannot drop one, so a changed file is imported again under a versioned URL.
 */
export async function loadBundle(
  path: string,
  source?: string,
  identity?: string,
  warn?: (m: string) => void,
): Promise<LoadedBundle> {
  const ext = extname(path);
  if (ext === '.json' || ext === '.node')
    return { exports: require(path) as Record<string, unknown>, identity: '', source: '' };
  if (isEsModule(path)) {
    const now = bundleIdentity(readFileSync(path));
    if (identity && identity !== now)
      warn?.(
        `${path} changed on disk since its config was validated; an ES module loads from its file, so this environment runs the file as it is now (${now})`,
      );
    const href = pathToFileURL(path).href;
    const versions = esmVersions();
    let first = versions.get(href);
    if (first === undefined) versions.set(href, (first = now));
    const url = first === now ? href : `${href}?nodevoy-bundle=${now.slice(7, 23)}`;
    return { exports: (await import(url)) as Record<string, unknown>, identity: now, source: '' };
  }
  // The cache key require() would use: the real path.
  const key = realpathSync(path);
  let fromFile = false;
  if (source === undefined || !identity) {
    const bytes = readFileSync(key);
    identity = bundleIdentity(bytes);
    source = bytes.toString('utf8'); // as require() decodes it
    fromFile = true;
  }
  const cache = require.cache as Record<string, CjsModule | undefined>;
  const cached = cache[key];
  if (cached?.loaded) {
    // A module someone else required from this path is adopted while the file still has the wanted text
    // (say a test that required the bundle itself): it then shares that module's state, as require() would.
    if (cached[BUNDLE_IDENTITY] === undefined && (fromFile || bundleIdentity(readFileSync(key)) === identity))
      cached[BUNDLE_IDENTITY] = identity;
    if (cached[BUNDLE_IDENTITY] === identity)
      return { exports: cached.exports as Record<string, unknown>, identity, source, module: cached };
  }
  // What Module._load does for a file, minus the parent: nothing but require.cache and our instances keep it.
  const m = new Module(key);
  m.filename = key;
  m.paths = Module._nodeModulePaths(dirname(key));
  cache[key] = m;
  try {
    m._compile(source, key);
  } catch (e) {
    if (cache[key] === m) delete cache[key];
    throw e;
  }
  m.loaded = true;
  m[BUNDLE_IDENTITY] = identity;
  return { exports: m.exports as Record<string, unknown>, identity, source, module: m };
}

export function findFilter(
  mod: Record<string, unknown>,
  filterName: string,
  path: string,
): FilterDefinition<unknown, unknown> {
  const def = mod[filterName] ?? (mod.default as Record<string, unknown> | undefined)?.[filterName];
  if (def === undefined) {
    const names = Object.keys(mod).filter((k) => isFilterDefinition(mod[k]));
    throw new Error(`no filter named "${filterName}" in ${path} (filters found: ${names.join(', ') || 'none'})`);
  }
  if (!isFilterDefinition(def)) throw new Error(`export "${filterName}" of ${path} was not made with defineFilter()`);
  return def;
}

export function schemaError(what: string, e: unknown): Error {
  const msg = e instanceof Error ? e.message : String(e);
  return new Error(`${what} does not match the filter's schema: ${msg}`);
}

/** The shallow merge rule of per-route configs: the route's top-level keys replace the filter's. */
export function mergeConfig(filterConfig: unknown, routeConfig: unknown): unknown {
  if (typeof filterConfig !== 'object' || filterConfig === null) return routeConfig;
  if (typeof routeConfig !== 'object' || routeConfig === null) return filterConfig;
  return { ...filterConfig, ...routeConfig };
}
