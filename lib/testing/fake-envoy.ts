// Envoy's side of the ABI for the kit's addon: native/kit/kit_abi.cc calls these methods for the
// module's callbacks. A stream's calls go to its FakeStream (by the envoy pointer the kit gave
// filterNew), config-time calls to the loaded filter's KitEnv (by its config's envoy pointer); log calls
// to the filter the running call is for, or else the one whose run the async context belongs to.
import type { BodyType } from '../generated/enums';
import { context } from './clock';
import type { KitEnv } from './env';

/** A fake Envoy stream, as the module's callbacks reach it. */
export interface EnvoyStream {
  metric(op: string, id: number, values: string[], value: number): boolean;
  /** get_most_specific_route_config: the per-route config's module pointer, 0 if none. */
  routeConfig(): number;
  headerValues(type: number, name: string): string[] | null;
  headers(type: number): string[] | null;
  setHeader(type: number, name: string, value: string | null): boolean;
  addHeader(type: number, name: string, value: string): boolean;
  body(type: BodyType): Uint8Array[] | null;
  drainBody(type: BodyType, n: number): boolean;
  appendBody(type: BodyType, data: Uint8Array): boolean;
  sendResponse(status: number, headers: string[], body: Uint8Array, details: string): void;
  continueStream(direction: number): void;
  resetStream(details: string): void;
  commit(event: number): void;
  /** The callout id, or minus the CalloutInit it is refused with. */
  callout(cluster: string, headers: string[], body: Uint8Array, timeoutMs: number): number;
  attribute(id: number): string | number | boolean | undefined;
  getMetadata(source: number, ns: string, key: string): string | number | boolean | undefined;
  setMetadata(ns: string, key: string, value: string | number | boolean): void;
  getFilterState(key: string): Uint8Array | undefined;
  setFilterState(key: string, value: Uint8Array): boolean;
  clearRouteCache(): void;
  setUpstreamOverrideHost(host: string, strict: boolean): boolean;
}

const owners = new Map<number, KitEnv>();
const streams = new Map<number, EnvoyStream>();
let nextTag = 1;

/** A number for a new filter config or stream: its envoy pointer as the module sees it. */
export function newTag(): number {
  return nextTag++;
}

export function addOwner(env: KitEnv): void {
  owners.set(env.owner, env);
}

export function removeOwner(env: KitEnv): void {
  owners.delete(env.owner);
}

export function addStream(tag: number, s: EnvoyStream): void {
  streams.set(tag, s);
}

export function removeStream(tag: number): void {
  streams.delete(tag);
}

function ownerOf(owner: number): KitEnv | undefined {
  return owners.get(owner) ?? owners.get(context.getStore()?.owner ?? 0);
}

function streamOf(tag: number): EnvoyStream {
  const s = streams.get(tag);
  // Envoy never calls back for a stream it destroyed; a call here is a module bug the test must see.
  if (!s) throw new Error(`nodevoy/testing: the module called back for stream ${tag}, which Envoy no longer has`);
  return s;
}

/** What kit_abi.cc calls (the envoy pointer first). */
export const fakeEnvoy = {
  log: (level: number, message: string, owner: number): void => ownerOf(owner)?.log(level, message),
  logEnabled: (level: number, owner: number): boolean => ownerOf(owner)?.logEnabled(level) ?? false,
  defineMetric: (config: number, kind: string, name: string, labels: string[]): number =>
    owners.get(config)?.defineMetric(kind, name, labels) ?? -1,
  metric: (s: number, op: string, id: number, values: string[], value: number) =>
    streamOf(s).metric(op, id, values, value),
  routeConfig: (s: number) => streamOf(s).routeConfig(),
  headerValues: (s: number, type: number, name: string) => streamOf(s).headerValues(type, name),
  headers: (s: number, type: number) => streamOf(s).headers(type),
  setHeader: (s: number, type: number, name: string, value: string | null) => streamOf(s).setHeader(type, name, value),
  addHeader: (s: number, type: number, name: string, value: string) => streamOf(s).addHeader(type, name, value),
  body: (s: number, type: BodyType) => streamOf(s).body(type),
  drainBody: (s: number, type: BodyType, n: number) => streamOf(s).drainBody(type, n),
  appendBody: (s: number, type: BodyType, data: Uint8Array) => streamOf(s).appendBody(type, data),
  sendResponse: (s: number, status: number, headers: string[], body: Uint8Array, details: string) =>
    streamOf(s).sendResponse(status, headers, body, details),
  continueStream: (s: number, direction: number) => streamOf(s).continueStream(direction),
  resetStream: (s: number, details: string) => streamOf(s).resetStream(details),
  commit: (s: number, event: number) => streamOf(s).commit(event),
  callout: (s: number, cluster: string, headers: string[], body: Uint8Array, timeoutMs: number) =>
    streamOf(s).callout(cluster, headers, body, timeoutMs),
  attribute: (s: number, id: number) => streamOf(s).attribute(id),
  getMetadata: (s: number, source: number, ns: string, key: string) => streamOf(s).getMetadata(source, ns, key),
  setMetadata: (s: number, ns: string, key: string, value: string | number | boolean) =>
    streamOf(s).setMetadata(ns, key, value),
  getFilterState: (s: number, key: string) => streamOf(s).getFilterState(key),
  setFilterState: (s: number, key: string, value: Uint8Array) => streamOf(s).setFilterState(key, value),
  clearRouteCache: (s: number) => streamOf(s).clearRouteCache(),
  setUpstreamOverrideHost: (s: number, host: string, strict: boolean) =>
    streamOf(s).setUpstreamOverrideHost(host, strict),
};

export type FakeEnvoyApi = typeof fakeEnvoy;
