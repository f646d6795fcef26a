// The kit's addon (native/kit): the module's own C++ (module.cc, the stream core, the binding) built for
// the Node running the tests with node-gyp and loaded with `bindings`. Its Envoy is the fake in
// fake-envoy.ts. One per process, with one runtime (lib/runtime.ts) that every loaded filter shares, as
// on one Envoy worker. Built on first use when missing (a package installed without its build step).
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { NativeBinding } from '../generated/binding';
import type { KitEvent } from '../generated/enums';
import { nodeGyp } from '../node-gyp';
import { createRuntime } from '../runtime';
import { type FakeEnvoyApi, fakeEnvoy } from './fake-envoy';

/**
 * The addon's exports. Each call into the module resolves to what it returned (a pointer as a number, 0
 * for null; a hook's status), once it ran from a libuv callback in the caller's async context. `owner`
 * names the loaded filter the call is for (its log and stats).
 */
export interface KitAddon {
  attach(fake: FakeEnvoyApi): NativeBinding;
  configNew(owner: number, filterName: string, json: string): Promise<number>;
  configDestroy(owner: number, config: number): Promise<void>;
  routeConfigNew(owner: number, filterName: string, json: string): Promise<number>;
  routeConfigDestroy(owner: number, routeConfig: number): Promise<void>;
  filterNew(owner: number, config: number, stream: number): Promise<number>;
  /** arg: end_stream (1 or 0) for headers and bodies, the event id for Scheduled. */
  streamEvent(owner: number, filter: number, stream: number, event: KitEvent, arg: number): Promise<number>;
  calloutDone(
    owner: number,
    filter: number,
    stream: number,
    id: number,
    result: number,
    headers: string[],
    body: Uint8Array,
  ): Promise<void>;
}

/** The package root (this file is dist/lib/testing/native.js) and the addon's directory in it. */
const ROOT = resolve(__dirname, '../../..');
export const KIT_DIR = join(ROOT, 'native', 'kit');
const ADDON = join(KIT_DIR, 'build', 'Release', 'nodevoy_kit.node');

/** The running Node's own headers (node-gyp would otherwise download them). */
function nodeDir(): string | undefined {
  const prefix = resolve(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

/** Builds the addon with node-gyp for this Node (about a minute). */
export function buildAddon(): void {
  const dir = nodeDir();
  try {
    nodeGyp(KIT_DIR, ['rebuild', ...(dir ? [`--nodedir=${dir}`] : []), '-j', '2']);
  } catch (e) {
    throw new Error(
      `nodevoy/testing: building its addon (${KIT_DIR}) failed; it needs a C++20 compiler, ` +
        `the headers of this Node (${dir ?? 'not found beside the node binary'}) and nlohmann-json: ${(e as Error).message}`,
    );
  }
}

/** Builds the addon unless another process is building it (test runners start several): then waits for it. */
function ensureAddon(): void {
  const lock = join(KIT_DIR, 'build.lock');
  const deadline = Date.now() + 10 * 60 * 1000;
  while (!existsSync(ADDON)) {
    try {
      mkdirSync(lock);
    } catch {
      if (Date.now() > deadline)
        throw new Error(`nodevoy/testing: waited 10 min for ${lock} to go (remove it if stale)`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
      continue;
    }
    try {
      if (!existsSync(ADDON)) {
        process.stderr.write(`nodevoy/testing: building the test kit's addon in ${KIT_DIR} (once)...\n`);
        buildAddon();
      }
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
}

let attached: { addon: KitAddon; binding: NativeBinding } | undefined;

/** The addon, attached to this process with the runtime registered (once). */
export function kit(): { addon: KitAddon; binding: NativeBinding } {
  if (attached) return attached;
  // NODEVOY_KIT_ADDON: another build of the addon (test:asan loads the sanitized one).
  const given = process.env.NODEVOY_KIT_ADDON;
  let addon: KitAddon;
  if (given) addon = require(given) as KitAddon;
  else {
    ensureAddon();
    const bindings = require('bindings') as (o: { bindings: string; module_root: string }) => unknown;
    addon = bindings({ bindings: 'nodevoy_kit', module_root: KIT_DIR }) as KitAddon;
  }
  const binding = addon.attach(fakeEnvoy);
  binding.registerApi(createRuntime(binding));
  attached = { addon, binding };
  return attached;
}
