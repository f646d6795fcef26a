// One fake Envoy stream around the filter: the connection manager's filter iteration for one filter
// (the semantics of test/host/stream.cc, Envoy's FilterManager for every status the module returns),
// the router with a fake upstream as the decode sink, a fake client as the encode sink, and the stream
// info (attributes, metadata, filter state, callouts) the module's callbacks reach. The filter is the
// module itself (the kit's addon, native.ts); its callbacks arrive through fake-envoy.ts.
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { ATTRIBUTES, type AttributeName } from '../attributes';
import {
  BodyStatus,
  BodyType,
  CalloutInit,
  KitEvent,
  HeaderKind,
  HeadersStatus,
  METADATA_SOURCE_NAMES,
  MetadataSource as Source,
} from '../generated/enums';
import type { MetadataSource } from '../filter';
import { real, timerSource, type Clock, type TimerSource } from './clock';
import { Chunks, HeaderList, text, toRecord, utf8 } from './http';
import type { KitEnv } from './env';
import { type EnvoyStream, addStream, newTag, removeStream } from './fake-envoy';
import { kit } from './native';
import type {
  AttributeOverrides,
  BodyInput,
  CalloutRecord,
  ClusterHandler,
  HeadersInput,
  LocalReply,
  MetadataMap,
  MetadataValue,
  TestRequest,
  TestResponse,
  UpstreamHandler,
  UpstreamReply,
  UpstreamRequest,
} from './types';

const DEC = 0;
const ENC = 1;
type D = 0 | 1;
const enum Ev {
  Headers,
  Data,
  Trailers,
}
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding']);
const ATTRIBUTE_NAMES = new Map<number, AttributeName>(
  (Object.entries(ATTRIBUTES) as [AttributeName, readonly [number, number]][]).map(([name, [id]]) => [id, name]),
);

/** Defaults of the stream info (what a listener on 127.0.0.1:10000 and a client on 127.0.0.1:40000 would give). */
const DEFAULT_SOURCE = '127.0.0.1:40000';
const DEFAULT_DESTINATION = '127.0.0.1:10000';

class Dir {
  stopped = false; // the filter holds iteration in this direction
  stopAll = false;
  watermark = false; // a *Watermark status: flow control instead of a hard buffer limit
  headersHeld = false;
  headersEnd = false; // the held headers ended the stream
  trailersHeld = false;
  endReceived = false; // the source sent end_stream
  endPassed = false; // end_stream went past the filter
  buffer = new Chunks(); // Envoy's buffered body for this direction
  received: Chunks | null = null; // the chunk of the body hook now running
}

export interface StreamOptions {
  request: TestRequest;
  upstream: UpstreamHandler;
  clusters: Readonly<Record<string, ClusterHandler>>;
  attributes: AttributeOverrides;
  metadata: Partial<Record<MetadataSource, MetadataMap>>;
  filterState: Readonly<Record<string, string>>;
  bufferLimit: number;
  /** The route's per-route config (its module pointer). */
  route?: { ptr: number };
  clock?: Clock;
}

function list(input: HeadersInput | undefined): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(input ?? {})) {
    const name = k.toLowerCase();
    for (const one of typeof v === 'string' ? [v] : v) out.push([name, String(one)]);
  }
  return out;
}

function pieces(body: BodyInput | undefined): { chunks: Uint8Array[]; onePiece: boolean } {
  if (body === undefined) return { chunks: [], onePiece: true };
  if (typeof body === 'string' || body instanceof Uint8Array) {
    const b = utf8(body);
    return { chunks: b.length ? [b] : [], onePiece: true };
  }
  return { chunks: body.map((c) => utf8(c)).filter((c) => c.length > 0), onePiece: false };
}

/** The default upstream: an echo of the request as JSON, as test/lib/harness.mjs's startUpstream. */
export function echo(req: UpstreamRequest): UpstreamReply {
  const out = JSON.stringify({
    method: req.method,
    path: req.path,
    headers: req.headers,
    body: req.body,
    trailers: req.trailers,
  });
  return {
    status: 200,
    headers: { 'content-type': 'application/json', 'content-length': String(utf8(out).length) },
    body: out,
  };
}

interface MutableCallout {
  cluster: string;
  request: CalloutRecord['request'];
  response?: CalloutRecord['response'];
  error?: unknown;
  timedOut: boolean;
}

export class FakeStream implements EnvoyStream {
  private readonly dec = new Dir();
  private readonly enc = new Dir();
  private requestHeaders = new HeaderList();
  private responseHeaders = new HeaderList();
  private requestTrailers?: HeaderList;
  private responseTrailers?: HeaderList;
  private decodeHalted = false; // a local reply or the router's end: no more decoding
  private responseStarted = false; // headers written to the client
  private localReplyActive = false;
  private encodeEpoch = 0; // bumped by a local reply: encode iterations already running are stale
  private ended = false;
  private filterSentLocalReply = false; // its own encode hooks are skipped for that reply
  private upstreamHeadersSeen = false;
  private upstreamGen = 0;
  private upstreamActive = false;
  private responseCode = 0;
  private responseCodeDetails = '';
  private requestId = '';
  private readonly started: number;
  /** The stream's envoy pointer as the module sees it, and the module's filter for it (0 until made). */
  private readonly tag = newTag();
  private filter = 0;
  /** Inside a call into the module: what it asks of Envoy (reply, continue, reset) runs as the call returns. */
  private inModule = false;
  private readonly asked: (() => Promise<void>)[] = [];

  // what the upstream and the client saw
  private upstreamSeen?: { headers: HeaderList; body: Chunks; trailers?: HeaderList; complete: boolean };
  private clientHeaders?: HeaderList;
  private readonly clientBody = new Chunks();
  private clientTrailers?: HeaderList;
  private resetReason?: string;
  private localReply?: LocalReply;

  // stream info
  private readonly dynamic: MetadataMap;
  private readonly filterState = new Map<string, Uint8Array>();
  private readonly callouts: MutableCallout[] = [];
  private nextCallout = 1;
  private override?: { host: string; strict: boolean };
  private routeCacheCleared = 0;

  // the worker's event queue
  private readonly queue: (() => Promise<void> | void)[] = [];
  private pumping = false;
  private scheduled = false;
  private destroyed = false;
  private readonly timers: TimerSource;
  private settleRun!: { resolve(): void; reject(e: unknown): void };
  private readonly done: Promise<void>;

  constructor(
    private readonly env: KitEnv,
    private readonly opts: StreamOptions,
  ) {
    this.timers = timerSource(opts.clock);
    this.started = this.nowMs();
    const init = opts.metadata.dynamic ?? {};
    this.dynamic = Object.fromEntries(Object.entries(init).map(([ns, kv]) => [ns, { ...kv }]));
    for (const [k, v] of Object.entries(opts.filterState)) this.filterState.set(k, utf8(v));
    this.done = new Promise<void>((resolve, reject) => (this.settleRun = { resolve, reject }));
    addStream(this.tag, this);
  }

  /**
   * One call into the module. Envoy runs a reply, a continue or a reset the module asks for inside that
   * call, before the hook returns; here they run right after it returns, before anything else reaches
   * the stream (the module's state is the same either way: it has finished what it was doing).
   */
  private async call<T>(run: () => Promise<T>): Promise<T> {
    this.inModule = true;
    let r: T;
    try {
      r = await this.env.enter(run);
    } finally {
      this.inModule = false;
    }
    while (this.asked.length) await (this.asked.shift() as () => Promise<void>)();
    return r;
  }

  private hook(event: KitEvent, arg: number): Promise<number> {
    return this.call(() => kit().addon.streamEvent(this.env.owner, this.filter, this.tag, event, arg));
  }

  private envoyAction(action: () => Promise<void>): void {
    if (this.inModule) this.asked.push(action);
    else this.post(action);
  }

  private nowMs(): number {
    return this.opts.clock ? this.opts.clock.now() : performance.now();
  }

  // ---- running ----

  /** Sends the request (every event queued at once: a client that writes the whole request promptly). */
  start(): Promise<void> {
    const r = this.opts.request;
    const method = r.method ?? 'GET';
    const { chunks, onePiece } = pieces(r.body);
    const trailers = list(r.trailers);
    const h = new HeaderList([
      [':method', method],
      [':scheme', r.scheme ?? 'http'],
      [':path', r.path ?? '/'],
    ]);
    let authority = r.authority ?? 'localhost';
    const rest: [string, string][] = [];
    for (const [k, v] of list(r.headers)) {
      if (k === 'host') authority = v;
      else if (!HOP_BY_HOP.has(k)) rest.push([k, v]);
    }
    h.add(':authority', authority);
    for (const [k, v] of rest) h.add(k, v);
    if (onePiece && chunks.length && !trailers.length && h.get('content-length') === undefined)
      h.add('content-length', String((chunks[0] as Uint8Array).length));
    // As Envoy's HTTP/1 codec: each piece of body is a data event without end of stream; the end comes as
    // an empty data event (or as the trailers).
    const hasTrailers = trailers.length > 0;
    this.post(() => this.decodeHeaders(h, chunks.length === 0 && !hasTrailers));
    for (const c of chunks) this.post(() => this.decodeData(c, false));
    if (hasTrailers) this.post(() => this.decodeTrailers(new HeaderList(trailers)));
    else if (chunks.length) this.post(() => this.decodeData(new Uint8Array(0), true));
    return this.done;
  }

  /** The run gave up on the stream: reset it, so its handlers see their signal abort. */
  abandon(): void {
    this.post(() => this.doReset('nodevoy_testing_abandoned'));
  }

  /** Fails the run (a kit error, or a test's upstream handler that threw). */
  fail(e: unknown): void {
    this.settleRun.reject(e);
  }

  private post(task: () => Promise<void> | void): void {
    if (this.destroyed) return;
    this.queue.push(task);
    this.kick();
  }

  private kick(): void {
    if (this.pumping || this.scheduled) return;
    this.scheduled = true;
    real.setImmediate(() => {
      this.scheduled = false;
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length && !this.destroyed) await (this.queue.shift() as () => Promise<void> | void)();
    } catch (e) {
      this.fail(e);
    } finally {
      this.pumping = false;
    }
    if (this.queue.length && !this.destroyed) this.kick();
  }

  /** Whether nothing is queued or running on the stream. */
  get busy(): boolean {
    return !this.destroyed && (this.pumping || this.scheduled || this.queue.length > 0);
  }

  get finished(): boolean {
    return this.ended;
  }

  /** What the stream still waits for, for a timeout message. */
  waitingFor(): string {
    const parked: string[] = [];
    for (const [d, name] of [
      [this.dec, 'Request'],
      [this.enc, 'Response'],
    ] as const)
      if (d.stopped && !this.ended)
        parked.push(`on${name}${d.trailersHeld && !d.headersHeld ? 'Trailers' : 'Headers'}`);
    if (parked.length)
      return `the ${parked.join(' and ')} handler${parked.length > 1 ? 's are' : ' is'} still awaiting`;
    if (this.upstreamActive && !this.upstreamHeadersSeen) return 'the upstream has not answered';
    return 'the stream is waiting';
  }

  // ---- downstream events ----

  private async decodeHeaders(h: HeaderList, end: boolean): Promise<void> {
    this.requestHeaders = h;
    if (h.get('x-request-id') === undefined) h.set('x-request-id', randomUUID());
    this.requestId = h.get('x-request-id') as string;
    this.dec.endReceived = end;
    this.filter = await this.env.enter(() => kit().addon.filterNew(this.env.owner, this.env.configPtr, this.tag));
    if (!this.filter) throw new Error('nodevoy/testing: the module made no filter for the stream (on_http_filter_new)');
    await this.iterate(DEC, Ev.Headers, new Chunks(), end, 0);
  }

  private async decodeData(bytes: Uint8Array, end: boolean): Promise<void> {
    if (this.halted(DEC)) return;
    this.dec.endReceived = end;
    await this.iterate(DEC, Ev.Data, Chunks.of(bytes), end, 0);
  }

  private async decodeTrailers(t: HeaderList): Promise<void> {
    if (this.halted(DEC)) return;
    this.requestTrailers = t;
    this.dec.endReceived = true;
    await this.iterate(DEC, Ev.Trailers, new Chunks(), true, 0);
  }

  // ---- filter iteration (test/host/stream.cc, one filter then the sink) ----

  private dir(d: D): Dir {
    return d === DEC ? this.dec : this.enc;
  }

  private halted(d: D): boolean {
    return this.ended || (d === DEC && this.decodeHalted);
  }

  /** Delivers one event to the filter (pos 0) or straight to the sink (pos 1). */
  private async iterate(d: D, ev: Ev, chunk: Chunks, end: boolean, pos: 0 | 1): Promise<void> {
    const s = this.dir(d);
    const epoch = this.encodeEpoch;
    const stale = () => this.halted(d) || (d === ENC && epoch !== this.encodeEpoch);
    if (pos === 0 && !(d === ENC && this.localReplyActive && this.filterSentLocalReply)) {
      if (stale()) return;
      const atStop = s.stopped;
      if (atStop && (s.stopAll || ev === Ev.Headers)) {
        // held without calling the filter
        if (ev === Ev.Data) await this.holdData(d, chunk);
        else if (ev === Ev.Trailers) s.trailersHeld = true;
        return;
      }
      if (ev === Ev.Headers) {
        const st = await this.hook(d === DEC ? KitEvent.RequestHeaders : KitEvent.ResponseHeaders, end ? 1 : 0);
        if (stale()) return;
        if (st !== HeadersStatus.Continue) {
          s.stopped = true;
          s.stopAll = false;
          s.watermark = false;
          s.headersHeld = true;
          s.headersEnd = end;
          return;
        }
      } else if (ev === Ev.Data) {
        s.received = chunk;
        let st: BodyStatus;
        try {
          st = await this.hook(d === DEC ? KitEvent.RequestBody : KitEvent.ResponseBody, end ? 1 : 0);
        } finally {
          s.received = null;
        }
        if (stale()) return;
        if (st === BodyStatus.Continue) {
          if (atStop) {
            // the filter lets go: its held headers first, then its buffer with this chunk
            s.stopped = false;
            if (s.headersHeld) {
              s.headersHeld = false;
              await this.iterate(d, Ev.Headers, new Chunks(), false, 1);
              if (stale()) return;
            }
            if (!s.buffer.empty) {
              const all = s.buffer;
              s.buffer = new Chunks();
              all.take(chunk);
              chunk = all;
            }
          }
        } else {
          s.stopped = true;
          s.stopAll = false;
          s.watermark = st === BodyStatus.StopIterationAndWatermark;
          if (st === BodyStatus.StopIterationNoBuffer) return; // the filter took the bytes
          await this.holdData(d, chunk);
          return;
        }
      } else {
        const st = await this.hook(d === DEC ? KitEvent.RequestTrailers : KitEvent.ResponseTrailers, 0);
        if (stale()) return;
        if (st === HeadersStatus.Continue) {
          if (atStop) {
            s.stopped = false;
            if (s.headersHeld) {
              s.headersHeld = false;
              await this.iterate(d, Ev.Headers, new Chunks(), false, 1);
              if (stale()) return;
            }
            if (!s.buffer.empty) {
              const all = s.buffer;
              s.buffer = new Chunks();
              await this.iterate(d, Ev.Data, all, false, 1);
              if (stale()) return;
            }
          }
        } else {
          s.stopped = true;
          s.stopAll = false;
          s.trailersHeld = true;
          return;
        }
      }
    }
    if (!stale()) await this.sink(d, ev, chunk, end);
  }

  /** Buffers a held chunk; false when the buffer limit was exceeded (413, 500 or a reset, as Envoy). */
  private async holdData(d: D, chunk: Chunks): Promise<boolean> {
    const s = this.dir(d);
    s.buffer.take(chunk);
    const limit = this.opts.bufferLimit;
    if (s.watermark || limit === 0 || s.buffer.size <= limit) return true;
    if (d === DEC) await this.sendLocalReply(413, utf8('Payload Too Large'), [], 'request_payload_too_large', false);
    else if (!this.responseStarted)
      await this.sendLocalReply(500, utf8('Internal Server Error'), [], 'response_payload_too_large', false);
    else await this.doReset('response_payload_too_large');
    return false;
  }

  private async continueIteration(d: D): Promise<void> {
    if (this.halted(d)) return;
    const s = this.dir(d);
    if (!s.stopped) return;
    const wasAll = s.stopAll;
    s.stopped = false;
    s.stopAll = false;
    const from: 0 | 1 = wasAll ? 0 : 1; // a StopAll filter has not seen the held data yet
    const trailers = s.trailersHeld;
    let endCarried = false;
    if (s.headersHeld) {
      s.headersHeld = false;
      endCarried = s.headersEnd && s.buffer.empty && !trailers;
      await this.iterate(d, Ev.Headers, new Chunks(), endCarried, 1);
      if (this.halted(d)) return;
    }
    if (!s.buffer.empty || (s.endReceived && !trailers && !endCarried && !s.endPassed)) {
      const b = s.buffer;
      s.buffer = new Chunks();
      await this.iterate(d, Ev.Data, b, s.endReceived && !trailers, from);
      if (this.halted(d)) return;
    }
    if (trailers) {
      s.trailersHeld = false;
      await this.iterate(d, Ev.Trailers, new Chunks(), true, from);
    }
  }

  private async sink(d: D, ev: Ev, chunk: Chunks, end: boolean): Promise<void> {
    const s = this.dir(d);
    if (end || ev === Ev.Trailers) s.endPassed = true;
    if (d === DEC) {
      if (ev === Ev.Headers) this.routerHeaders();
      else if (this.upstreamActive && this.upstreamSeen) {
        if (ev === Ev.Data) this.upstreamSeen.body.take(chunk);
        else this.upstreamSeen.trailers = (this.requestTrailers ?? new HeaderList()).clone();
      }
      if ((end || ev === Ev.Trailers) && this.upstreamActive && this.upstreamSeen) {
        this.upstreamSeen.complete = true;
        this.callUpstream(this.upstreamGen);
      }
      return;
    }
    if (ev === Ev.Headers) {
      this.responseStarted = true;
      this.responseCode = Number(this.responseHeaders.get(':status') ?? 0);
      this.clientHeaders = this.responseHeaders.clone();
    } else if (ev === Ev.Data) {
      this.clientBody.take(chunk);
    } else {
      this.clientTrailers = (this.responseTrailers ?? new HeaderList()).clone();
    }
    if (end || ev === Ev.Trailers) await this.complete(false);
  }

  // ---- the router and the upstream ----

  private routerHeaders(): void {
    const h = this.requestHeaders.clone();
    h.set('x-forwarded-proto', this.requestHeaders.get(':scheme') ?? 'http');
    this.upstreamHeadersSeen = false;
    this.upstreamSeen = { headers: h, body: new Chunks(), complete: false };
    this.upstreamActive = true;
    this.upstreamGen++;
  }

  private upstreamView(): UpstreamRequest | undefined {
    const u = this.upstreamSeen;
    if (!u) return undefined;
    const authority = u.headers.get(':authority') ?? '';
    const headerList: [string, string][] = [['host', authority], ...u.headers.regular()];
    const bytes = u.body.bytes();
    return {
      method: u.headers.get(':method') ?? '',
      path: u.headers.get(':path') ?? '',
      authority,
      headers: toRecord(headerList),
      headerList,
      body: text(bytes),
      bytes,
      trailers: u.trailers ? u.trailers.record() : {},
      complete: u.complete,
    };
  }

  /** The whole request reached the upstream: it answers (asynchronously, like a server). */
  private callUpstream(gen: number): void {
    const req = this.upstreamView() as UpstreamRequest;
    real.setImmediate(() => {
      void (async () => {
        let reply: UpstreamReply;
        try {
          reply = await this.env.enter(() => this.opts.upstream(req));
        } catch (e) {
          this.fail(e);
          return;
        }
        const live = () => gen === this.upstreamGen && this.upstreamActive && !this.ended;
        if ('reset' in reply) {
          this.post(() => (live() ? this.onUpstreamReset('connection_termination') : undefined));
          return;
        }
        let h: HeaderList;
        let chunks: Uint8Array[];
        let trailers: [string, string][];
        try {
          if (!Number.isInteger(reply.status) || reply.status < 100 || reply.status > 599)
            throw new TypeError(`nodevoy/testing: the upstream handler returned status ${String(reply.status)}`);
          const body = pieces(reply.body);
          chunks = body.chunks;
          trailers = list(reply.trailers);
          h = new HeaderList([[':status', String(reply.status)]]);
          for (const [k, v] of list(reply.headers)) if (!HOP_BY_HOP.has(k)) h.add(k, v);
          if (body.onePiece && chunks.length && !trailers.length && h.get('content-length') === undefined)
            h.add('content-length', String((chunks[0] as Uint8Array).length));
        } catch (e) {
          this.fail(e);
          return;
        }
        const hasTrailers = trailers.length > 0;
        this.post(() => (live() ? this.onUpstreamHeaders(h, chunks.length === 0 && !hasTrailers) : undefined));
        for (const c of chunks) this.post(() => (live() ? this.onUpstreamData(c, false) : undefined));
        if (hasTrailers) this.post(() => (live() ? this.onUpstreamTrailers(new HeaderList(trailers)) : undefined));
        else if (chunks.length) this.post(() => (live() ? this.onUpstreamData(new Uint8Array(0), true) : undefined));
      })();
    });
  }

  private cancelUpstream(): void {
    this.upstreamActive = false;
  }

  private async onUpstreamHeaders(h: HeaderList, end: boolean): Promise<void> {
    if (end) this.cancelUpstream();
    this.upstreamHeadersSeen = true;
    this.responseHeaders = h;
    // Envoy's router records the upstream status in StreamInfo before the encoder filters run.
    this.responseCode = Number(h.get(':status') ?? 0);
    this.enc.endReceived = end;
    await this.iterate(ENC, Ev.Headers, new Chunks(), end, 0);
  }

  private async onUpstreamData(bytes: Uint8Array, end: boolean): Promise<void> {
    if (end) this.cancelUpstream();
    this.enc.endReceived = end;
    await this.iterate(ENC, Ev.Data, Chunks.of(bytes), end, 0);
  }

  private async onUpstreamTrailers(t: HeaderList): Promise<void> {
    this.cancelUpstream();
    this.responseTrailers = t;
    this.enc.endReceived = true;
    await this.iterate(ENC, Ev.Trailers, new Chunks(), true, 0);
  }

  private async onUpstreamReset(reason: string): Promise<void> {
    this.cancelUpstream();
    if (!this.upstreamHeadersSeen && !this.responseStarted) {
      await this.sendLocalReply(
        503,
        utf8(`upstream connect error or disconnect/reset before headers. reset reason: ${reason}`),
        [],
        `upstream_reset_before_response_started{${reason}}`,
        false,
      );
    } else {
      await this.doReset(`upstream_reset_after_response_started{${reason}}`);
    }
  }

  // ---- replies, resets, completion ----

  private async sendLocalReply(
    status: number,
    body: Uint8Array,
    extra: [string, string][],
    details: string,
    fromFilter: boolean,
  ): Promise<void> {
    if (this.ended) return;
    if (this.responseStarted) {
      // too late for a reply: the client sees a reset, as on Envoy
      await this.doReset(details);
      return;
    }
    this.decodeHalted = true;
    this.cancelUpstream();
    this.responseCodeDetails = details;
    // Response headers already exist (from the upstream or an earlier local reply) but were not sent:
    // Envoy's FilterManager then bypasses the encoder filters and sends the reply straight to the codec.
    const direct = this.upstreamHeadersSeen || this.localReplyActive;
    if (fromFilter) this.filterSentLocalReply = true;
    this.localReplyActive = true;
    this.encodeEpoch++;
    Object.assign(this.enc, new Dir());
    this.enc.endReceived = true;
    const h = new HeaderList([[':status', String(status)]]);
    if (body.length) {
      h.add('content-length', String(body.length));
      h.add('content-type', 'text/plain');
    }
    // The reply's own content-type replaces the default one, as Envoy's local reply does.
    for (const [k, v] of extra) {
      if (k === 'content-type') h.set(k, v);
      else h.add(k, v);
    }
    this.responseHeaders = h;
    this.responseTrailers = undefined;
    this.localReply = { status, body: text(body), headers: toRecord(extra), details };
    if (direct) {
      this.responseStarted = true;
      this.responseCode = status;
      this.enc.endPassed = true;
      this.clientHeaders = h.clone();
      this.clientBody.append(body);
      await this.complete(false);
      return;
    }
    await this.iterate(ENC, Ev.Headers, new Chunks(), body.length === 0, 0);
    if (body.length && !this.ended) await this.iterate(ENC, Ev.Data, Chunks.of(body), true, 0);
  }

  private async doReset(reason: string): Promise<void> {
    if (this.ended) return;
    if (!this.responseCodeDetails) this.responseCodeDetails = reason;
    this.resetReason = reason;
    await this.complete(true);
  }

  private async complete(reset: boolean): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.cancelUpstream();
    if (reset) this.resetReason ??= 'reset';
    try {
      if (this.filter) await this.hook(KitEvent.Complete, 0);
    } finally {
      if (this.filter) await this.hook(KitEvent.Destroy, 0);
      removeStream(this.tag);
      this.destroyed = true;
      this.queue.length = 0;
      this.settleRun.resolve();
    }
  }

  // ---- EnvoyStream: the module's callbacks (fake-envoy.ts) ----

  metric(op: string, id: number, values: string[], value: number): boolean {
    return this.env.metric(op, id, values, value);
  }

  routeConfig(): number {
    return this.opts.route?.ptr ?? 0;
  }

  headerValues(type: number, name: string): string[] | null {
    return this.headerMap(type)?.all(name) ?? null;
  }

  headers(type: number): string[] | null {
    return this.headerMap(type)?.entries.flat() ?? null;
  }

  setHeader(type: number, name: string, value: string | null): boolean {
    const m = this.headerMap(type);
    if (!m || name === '') return false;
    // Envoy 1.39 and 1.40 (measured): a zero-length value removes the header instead of setting it.
    if (value === null || value === '') m.remove(name);
    else m.set(name, value);
    return true;
  }

  addHeader(type: number, name: string, value: string): boolean {
    const m = this.headerMap(type);
    // Envoy 1.39 and 1.40 (measured): a zero-length value is not added.
    if (!m || name === '' || value === '') return false;
    m.add(name, value);
    return true;
  }

  /** body_type: the received chunk of the running body hook, or the buffered body. */
  private chunksOf(type: BodyType): Chunks | null {
    switch (type) {
      case BodyType.ReceivedRequestBody:
        return this.dec.received;
      case BodyType.BufferedRequestBody:
        return this.dec.buffer;
      case BodyType.ReceivedResponseBody:
        return this.enc.received;
      case BodyType.BufferedResponseBody:
        return this.enc.buffer;
      default:
        return null;
    }
  }

  body(type: BodyType): Uint8Array[] | null {
    const c = this.chunksOf(type);
    return c ? [...c.slices] : null;
  }

  drainBody(type: BodyType, n: number): boolean {
    const c = this.chunksOf(type);
    c?.drain(n);
    return c !== null;
  }

  appendBody(type: BodyType, data: Uint8Array): boolean {
    const c = this.chunksOf(type);
    c?.append(new Uint8Array(data));
    return c !== null;
  }

  sendResponse(status: number, headers: string[], body: Uint8Array, details: string): void {
    const extra: [string, string][] = [];
    for (let i = 0; i + 1 < headers.length; i += 2)
      extra.push([(headers[i] as string).toLowerCase(), headers[i + 1] as string]);
    const bytes = new Uint8Array(body);
    this.envoyAction(() => this.sendLocalReply(status, bytes, extra, details || 'dynamic_module', true));
  }

  continueStream(direction: number): void {
    this.envoyAction(() => this.continueIteration(direction === 0 ? DEC : ENC));
  }

  resetStream(details: string): void {
    this.envoyAction(() => this.doReset(details || 'dynamic_module_reset'));
  }

  commit(event: number): void {
    this.post(async () => {
      if (!this.ended) await this.hook(KitEvent.Scheduled, event);
    });
  }

  // ---- the binding's stream info ----

  headerMap(kind: number): HeaderList | null {
    switch (kind) {
      case HeaderKind.RequestHeader:
        return this.requestHeaders;
      case HeaderKind.RequestTrailer:
        return this.requestTrailers ?? null;
      case HeaderKind.ResponseHeader:
        return this.upstreamHeadersSeen || this.localReplyActive ? this.responseHeaders : null;
      case HeaderKind.ResponseTrailer:
        return this.responseTrailers ?? null;
      default:
        return null;
    }
  }

  attribute(id: number): string | number | boolean | undefined {
    const name = ATTRIBUTE_NAMES.get(id);
    const overrides = this.opts.attributes as Record<string, string | number | boolean | null | undefined>;
    if (name && Object.hasOwn(overrides, name)) return overrides[name] ?? undefined;
    const h = this.requestHeaders;
    const path = h.get(':path') ?? '';
    const q = path.indexOf('?');
    const port = (a: unknown) =>
      typeof a === 'string' && a.lastIndexOf(':') > 0 ? Number(a.slice(a.lastIndexOf(':') + 1)) : undefined;
    switch (name) {
      case 'request.path':
        return h.get(':path');
      case 'request.url_path':
        return q < 0 ? path : path.slice(0, q);
      case 'request.query':
        return q < 0 ? '' : path.slice(q + 1);
      case 'request.host':
        return h.get(':authority');
      case 'request.scheme':
        return h.get(':scheme');
      case 'request.method':
        return h.get(':method');
      case 'request.referer':
        return h.get('referer');
      case 'request.useragent':
        return h.get('user-agent');
      case 'request.id':
        return this.requestId;
      case 'request.protocol':
        return 'HTTP/1.1';
      case 'request.duration':
        return Math.max(0, Math.round((this.nowMs() - this.started) * 1000));
      case 'response.code':
        return this.responseCode || undefined;
      case 'response.code_details':
        return this.responseCodeDetails || undefined;
      case 'source.address':
        return DEFAULT_SOURCE;
      case 'source.port':
        return port(this.attribute(24));
      case 'destination.address':
        return DEFAULT_DESTINATION;
      case 'destination.port':
        return port(this.attribute(26));
      case 'connection.id':
        return this.tag;
      case 'xds.cluster_name':
        return 'upstream';
      default:
        return undefined;
    }
  }

  getMetadata(source: number, ns: string, key: string): MetadataValue | undefined {
    const map =
      source === Source.Dynamic ? this.dynamic : this.opts.metadata[METADATA_SOURCE_NAMES[source] as MetadataSource];
    return map?.[ns]?.[key];
  }

  setMetadata(ns: string, key: string, value: MetadataValue): void {
    (this.dynamic[ns] ??= {})[key] = value;
  }

  getFilterState(key: string): Uint8Array | undefined {
    return this.filterState.get(key);
  }

  setFilterState(key: string, value: Uint8Array): boolean {
    this.filterState.set(key, new Uint8Array(value));
    return true;
  }

  clearRouteCache(): void {
    this.routeCacheCleared++;
  }

  setUpstreamOverrideHost(host: string, strict: boolean): boolean {
    // As Envoy: an IP literal with a port; anything else is refused.
    const colon = host.lastIndexOf(':');
    if (colon < 0 || colon + 1 >= host.length) return false;
    let ip = host.slice(0, colon);
    if (ip.length > 2 && ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
    if (isIP(ip) === 0) return false;
    const p = host.slice(colon + 1);
    if (!/^[0-9]+$/.test(p) || Number(p) < 1 || Number(p) > 65535) return false;
    this.override = { host, strict };
    return true;
  }

  /** http_callout: the callout's id, or minus the CalloutInit Envoy refuses it with. */
  callout(cluster: string, flat: string[], given: Uint8Array, timeoutMs: number): number {
    const h = new HeaderList();
    for (let i = 0; i + 1 < flat.length; i += 2) h.add(flat[i] as string, flat[i + 1] as string);
    if (!h.get(':method') || !h.get(':path') || !(h.get(':authority') || h.get('host')))
      return -CalloutInit.MissingRequiredHeaders;
    const handler = Object.hasOwn(this.opts.clusters, cluster) ? this.opts.clusters[cluster] : undefined;
    if (!handler) return -CalloutInit.ClusterNotFound;
    const body = new Uint8Array(given);
    const host = h.get('host');
    if (host !== undefined && h.get(':authority') === undefined) h.set(':authority', host);
    h.remove('host');
    if (body.length && h.get('content-length') === undefined) h.set('content-length', String(body.length));
    const id = this.nextCallout++;
    const method = h.get(':method') as string;
    const path = h.get(':path') as string;
    const authority = h.get(':authority') as string;
    const record: MutableCallout = {
      cluster,
      request: { method, path, authority, headers: h.record(), body: text(body) },
      timedOut: false,
    };
    this.callouts.push(record);
    let finished = false;
    const finish = (status: number, headers: [string, string][], bytes: Uint8Array) => {
      if (finished) return;
      finished = true;
      cancel();
      if (this.ended) return;
      record.response = { status, headers: toRecord(headers), body: text(bytes) };
      const flatOut = [':status', String(status), ...headers.flat()];
      this.post(async () => {
        if (this.ended) return;
        await this.call(() => kit().addon.calloutDone(this.env.owner, this.filter, this.tag, id, 0, flatOut, bytes));
      });
    };
    // As Envoy's async client: a timeout and a reset come back as its local replies (504, 503).
    const cancel =
      timeoutMs > 0
        ? this.timers.setTimeout(() => {
            record.timedOut = true;
            finish(504, [['content-type', 'text/plain']], utf8('upstream request timeout'));
          }, timeoutMs)
        : () => {};
    real.setImmediate(() => {
      void (async () => {
        try {
          const headers = h.regular().filter(([k]) => k !== 'content-length');
          const hasBody = body.length > 0 && method !== 'GET' && method !== 'HEAD';
          const request = new Request(`http://${authority}${path}`, {
            method,
            headers,
            body: hasBody ? (body as unknown as BodyInit) : undefined,
          });
          const res = await this.env.enter(() => handler(request));
          if (!(res instanceof Response))
            throw new TypeError(`nodevoy/testing: the handler of cluster "${cluster}" must return a Response`);
          const bytes = new Uint8Array(await res.arrayBuffer());
          const out: [string, string][] = [];
          res.headers.forEach((v, k) => {
            out.push([k, v]);
          });
          finish(res.status, out, bytes);
        } catch (e) {
          if (finished) return;
          record.error = e;
          finish(
            503,
            [['content-type', 'text/plain']],
            utf8('upstream connect error or disconnect/reset before headers. reset reason: connection_termination'),
          );
        }
      })();
    });
    return id;
  }

  // ---- the outcome ----

  result(): {
    upstreamRequest?: UpstreamRequest;
    response: TestResponse;
    localReply?: LocalReply;
    reset: boolean;
    resetReason?: string;
    metadata: MetadataMap;
    filterState: Record<string, string>;
    callouts: CalloutRecord[];
    upstreamOverrideHost?: { host: string; strict: boolean };
    routeCacheCleared: number;
  } {
    const headerList = this.clientHeaders?.regular() ?? [];
    const bytes = this.clientBody.bytes();
    const reset = this.resetReason !== undefined;
    const response: TestResponse = {
      status: Number(this.clientHeaders?.get(':status') ?? 0),
      headers: toRecord(headerList),
      headerList,
      body: text(bytes),
      bytes,
      trailers: this.clientTrailers ? this.clientTrailers.record() : {},
      complete: this.ended && !reset,
    };
    const filterState: Record<string, string> = {};
    for (const [k, v] of this.filterState) filterState[k] = text(v);
    return {
      ...(this.upstreamSeen ? { upstreamRequest: this.upstreamView() } : {}),
      response,
      ...(this.localReply ? { localReply: this.localReply } : {}),
      reset,
      ...(reset ? { resetReason: this.resetReason } : {}),
      metadata: Object.fromEntries(Object.entries(this.dynamic).map(([ns, kv]) => [ns, { ...kv }])),
      filterState,
      callouts: this.callouts.map((c) => ({ ...c })),
      ...(this.override ? { upstreamOverrideHost: { ...this.override } } : {}),
      routeCacheCleared: this.routeCacheCleared,
    };
  }
}
