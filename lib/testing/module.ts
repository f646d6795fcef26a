// The module's native stream state machine (envoy-filter/stream_filter.cc), ported line by line so the
// kit drives lib/runtime.ts exactly as libnodevoy.so does: which phases call JS, when a stream is parked,
// when bodies are buffered and delivered, how chunk handlers see and replace chunks, what a reply does
// before and after the response headers went, trailers, per-route configs and settle(). Keep the two in
// step: a change to stream_filter.cc needs the same change here.
//
// The one structural difference: a native hook returns synchronously, with microtasks drained by
// napi_make_callback on the way out; here every call into JS is followed by one event-loop turn
// (`turn()`), so hooks are async. Nothing else runs on the fake stream meanwhile.
import { BodyOp, BodyStatus, Direction, HeadersStatus, PHASE_NAMES, Phase, SchedulerEvent } from '../generated/enums';
import { HANDLERS, Outcome, type RuntimeApi } from '../runtime';
import { turn } from './clock';
import { type Chunks, concat } from './http';

// The hooks' statuses: headers and trailers hooks return HeadersStatus, body hooks BodyStatus.
const kContinue = HeadersStatus.Continue;
const kStopIteration = HeadersStatus.StopIteration;
const kBodyContinue = BodyStatus.Continue;
const kStopAndBuffer = BodyStatus.StopIterationAndBuffer;
const kStopAndWatermark = BodyStatus.StopIterationAndWatermark;
const kStopNoBuffer = BodyStatus.StopIterationNoBuffer;

const enum Result {
  Go,
  Parked,
  Answered,
}
const enum Hook {
  Headers,
  Data,
  Trailers,
  Other,
}

const headersPhase = (direction: number): Phase => (Phase.RequestHeaders + direction) as Phase;
const dataPhase = (direction: number): Phase => (Phase.RequestData + direction) as Phase;
const trailersPhase = (direction: number): Phase => (Phase.RequestTrailers + direction) as Phase;
const directionOf = (p: Phase): 0 | 1 => (p & 1) as 0 | 1;

export interface RecordedReply {
  status: number;
  headers: string[]; // flat name, value, ...
  body: Uint8Array;
  details: string;
}

/** The environment side (js_env.cc + filter_config.cc) a stream needs. */
export interface ModuleEnv {
  readonly api: RuntimeApi;
  readonly index: number;
  readonly handlers: number;
  readonly name: string;
  addStream(s: ModuleStream): number;
  removeStream(id: number): void;
  /** Makes a per-route config known to the runtime once; an error message or ''. */
  ensureRoute(routeId: number, json: string): string;
  logError(message: string): void;
  countRequest(): void;
  countFailure(kind: string): void;
  recordJsTime(phase: string, micros: number): void;
  /** Body bytes copied into the JS heap (whole-body reads, ctx.fetch responses). */
  countCopied(n: number): void;
  /** Runs a call into JS in the run's async context (its clock, its console). */
  enter<T>(fn: () => T): T;
  /** filter_config.failure_mode == "fail_open": a failed or timed-out handler lets the stream go on. */
  readonly failOpen: boolean;
  /** filter_config.failure_status: the status of the failure reply (fail_closed). */
  readonly failureStatus: number;
  /** filter_config.sync_budget_ms: how long one call into JS may run. */
  readonly syncBudgetMs: number;
}

/** The Envoy side (the ABI callbacks) a stream uses. */
export interface ModuleEnvoy {
  /** A body buffer: the received chunk of the running body hook, or what Envoy buffered; null if none. */
  body(direction: 0 | 1, received: boolean): Chunks | null;
  /** The content-length header of a direction's headers (for fixContentLength). */
  contentLength(direction: 0 | 1): { has: boolean; set(n: number): void };
  /** get_most_specific_route_config: the route's per-route config, if any. */
  routeConfig(): { id: number; json: string } | undefined;
  sendResponse(status: number, headers: string[], body: Uint8Array, details: string): Promise<void>;
  continueDecoding(): Promise<void>;
  continueEncoding(): Promise<void>;
  resetStream(details: string): Promise<void>;
  /** scheduler_commit: runs onScheduled later on the stream's worker. */
  commit(event: number): void;
}

const kResumeEvent = SchedulerEvent.Resume;

class DirectionState {
  started = false; // the headers handler ran (or is parked)
  endSeen = false; // end of stream arrived (headers, last data, or trailers)
  dataEnd = false; // a body hook carried end of stream (no trailers follow)
  headersPassed = false; // the headers went on down the chain: body and status are fixed
  wantBody = false; // a handler awaits the whole body
  bodyDelivered = false;
  deferredData = false; // chunks were buffered while the headers handler was parked
  deferredTrailers = false;
  parked?: Phase; // the handler of this phase is awaiting
  settled?: Outcome;
}

/** Thrown by the binding for calls the stream's state does not allow (the runtime maps the code). */
export class StateError extends Error {
  readonly code = 'ERR_NODEVOY_INVALID_STATE';
  constructor(message: string) {
    super(`nodevoy: ${message}`);
  }
}

/** envoy-filter/body_buffers.cc */
class BodyBuffers {
  constructor(
    private readonly envoy: ModuleEnvoy,
    private readonly direction: 0 | 1,
    private readonly withReceived: boolean,
  ) {}

  chunks(received: boolean): Uint8Array[] {
    if (received && !this.withReceived) return [];
    return [...(this.envoy.body(this.direction, received)?.slices ?? [])];
  }

  size(): number {
    let n = this.envoy.body(this.direction, false)?.size ?? 0;
    if (this.withReceived) n += this.envoy.body(this.direction, true)?.size ?? 0;
    return n;
  }

  copy(): Uint8Array {
    return concat([...this.chunks(false), ...this.chunks(true)]);
  }

  private drain(received: boolean): boolean {
    const b = this.envoy.body(this.direction, received);
    if (!b) return (this.envoy.body(this.direction, received)?.size ?? 0) === 0;
    b.drain(b.size);
    return true;
  }

  private appendTo(received: boolean, data: Uint8Array): boolean {
    if (data.length === 0) return true;
    const b = this.envoy.body(this.direction, received);
    if (!b) return false;
    b.append(data);
    return true;
  }

  replace(data: Uint8Array): boolean {
    if (!this.drain(false) || (this.withReceived && !this.drain(true))) return false;
    return this.appendTo(this.withReceived, data);
  }

  append(data: Uint8Array): boolean {
    return this.appendTo(this.withReceived, data);
  }

  prepend(data: Uint8Array): boolean {
    return this.replace(concat([data, this.copy()]));
  }

  replaceChunks(received: boolean, data: Uint8Array): boolean {
    if (!this.drain(received)) return false;
    return this.appendTo(received, data);
  }

  fixContentLength(): void {
    const cl = this.envoy.contentLength(this.direction);
    if (cl.has) cl.set(this.size());
  }
}

/** Zero-copy views in native; here copies, detached after the call as native detaches its views. */
function chunkViews(chunks: readonly Uint8Array[]): { views: Uint8Array[]; detach(): void } {
  const views = chunks.map((c) => new Uint8Array(c));
  return {
    views,
    detach() {
      for (const v of views) {
        try {
          structuredClone(v.buffer, { transfer: [v.buffer] });
        } catch {
          // already detached or transferred by the handler
        }
      }
    },
  };
}

/** One stream's module state (envoy-filter/stream_filter.cc). */
export class ModuleStream {
  readonly id: number;
  private touched = false; // JS has a stream object to close
  private route = 0; // per-route config id, once looked up
  private readonly dirs: [DirectionState, DirectionState] = [new DirectionState(), new DirectionState()];
  private inDataHook = -1; // direction whose body hook is running (its received chunk exists)
  private deferring = false; // inside a JS call whose caller reads a settle itself
  private chunkRun?: { direction: number; received: boolean }; // a chunk handler is looking at these chunks
  private routeFailed = false;
  private reply?: RecordedReply;
  private answered = false;
  completed = false;

  constructor(
    private readonly env: ModuleEnv,
    private readonly envoy: ModuleEnvoy,
  ) {
    this.id = env.addStream(this);
  }

  private has(p: Phase): boolean {
    return (this.env.handlers & (1 << p)) !== 0;
  }

  /** Which handlers are parked, for diagnostics. */
  parkedHandlers(): string[] {
    return this.dirs.flatMap((d) => (d.parked === undefined ? [] : [HANDLERS[d.parked] as string]));
  }

  // ---- hooks ----

  async onHeaders(direction: 0 | 1, endStream: boolean): Promise<HeadersStatus> {
    const d = this.dirs[direction];
    d.endSeen = endStream;
    const phase = headersPhase(direction);
    if (!this.has(phase) || this.answered) {
      d.headersPassed = true;
      return kContinue;
    }
    d.started = true;
    const r = await this.run(phase, Hook.Headers, direction);
    return r === Result.Go ? kContinue : kStopIteration;
  }

  async onData(direction: 0 | 1, endStream: boolean): Promise<BodyStatus> {
    if (this.answered) return kBodyContinue;
    const d = this.dirs[direction];
    if (endStream) d.endSeen = d.dataEnd = true;
    if (d.parked !== undefined) {
      // The headers handler is still running: hold the chunk (our chunk handler sees it on resume).
      if (this.has(dataPhase(direction))) d.deferredData = true;
      if (!(d.wantBody && d.endSeen && !d.bodyDelivered)) return d.wantBody ? kStopAndBuffer : kStopAndWatermark;
      this.inDataHook = direction;
      const r = await this.deliverAndResume(direction, Hook.Data);
      this.inDataHook = -1;
      if (r === Result.Go) return kBodyContinue;
      return r === Result.Answered ? kStopNoBuffer : kStopAndBuffer;
    }
    if (!this.has(dataPhase(direction))) return kBodyContinue;
    this.inDataHook = direction;
    const o = this.applyPolicy(await this.runChunks(direction, true, endStream));
    this.inDataHook = -1;
    const r = o === Outcome.Continue ? Result.Go : await this.answer(o);
    return r === Result.Go ? kBodyContinue : kStopNoBuffer;
  }

  async onTrailers(direction: 0 | 1): Promise<HeadersStatus> {
    if (this.answered) return kContinue;
    const d = this.dirs[direction];
    d.endSeen = true;
    const phase = trailersPhase(direction);
    if (d.parked !== undefined) {
      if (this.has(phase)) d.deferredTrailers = true;
      if (!(d.wantBody && !d.bodyDelivered)) return kStopIteration;
      const r = await this.deliverAndResume(direction, Hook.Trailers);
      return r === Result.Go ? kContinue : kStopIteration;
    }
    if (!this.has(phase)) return kContinue;
    const r = await this.run(phase, Hook.Trailers, direction);
    return r === Result.Go ? kContinue : kStopIteration;
  }

  async onScheduled(event: number): Promise<void> {
    if (event === kResumeEvent) await this.resumeSettled();
  }

  async onCalloutDone(callout: number, result: number, headers: string[], body: Uint8Array): Promise<void> {
    if (this.completed) return;
    this.env.countCopied(body.length); // the response body is the handler's to keep: a copy
    const was = this.deferring;
    this.deferring = true;
    try {
      this.env.enter(() => this.env.api.callout(this.id, callout, result, headers, body));
      await turn();
    } catch (e) {
      this.env.logError(`nodevoy: callout delivery failed: ${String(e)}`);
    } finally {
      this.deferring = was;
    }
    await this.resumeSettled();
  }

  async onStreamComplete(): Promise<void> {
    if (this.completed) return;
    this.completed = true;
    for (const d of this.dirs) d.parked = undefined;
    if (this.touched) {
      try {
        this.env.enter(() => this.env.api.closed(this.id)); // aborts the handler's signal; later calls on the stream throw
      } catch {
        // as native: a failing closed() is ignored
      }
      await turn();
    }
  }

  /** ~StreamFilter (Envoy destroys the filter after the stream completed). */
  destroy(): void {
    this.env.removeStream(this.id);
  }

  // ---- running handlers ----

  private async run(phase: Phase, hook: Hook, direction: 0 | 1): Promise<Result> {
    const d = this.dirs[direction];
    d.settled = undefined;
    let o: Outcome;
    const was = this.deferring;
    this.deferring = true;
    try {
      o = await this.call(phase);
    } finally {
      this.deferring = was;
    }
    if (o === Outcome.Pending && d.settled !== undefined) o = d.settled; // settled inside the hook: no thread hop
    d.settled = undefined;
    if (o === Outcome.Pending) {
      d.parked = phase;
      return Result.Parked;
    }
    return this.complete(phase, o, hook);
  }

  private openStream(): void {
    if (this.touched) return;
    this.touched = true;
    this.env.countRequest();
    const route = this.envoy.routeConfig();
    if (!route) return;
    const error = this.env.ensureRoute(route.id, route.json);
    if (!error) {
      this.route = route.id;
    } else {
      this.routeFailed = true;
      this.env.logError(`nodevoy: filter "${this.env.name}": per-route config rejected on this worker: ${error}`);
    }
  }

  private async call(phase: Phase): Promise<Outcome> {
    this.openStream();
    if (this.routeFailed) return Outcome.Failed;
    const t0 = performance.now();
    let o: Outcome;
    try {
      o = toOutcome(this.env.enter(() => this.env.api.dispatch(phase, this.env.index, this.id, this.route)));
    } catch (e) {
      this.env.logError(`nodevoy: dispatch failed: ${String(e)}`);
      o = Outcome.Failed;
    }
    const t1 = performance.now();
    o = this.overBudget(t1 - t0, 'dispatch') ?? o;
    await turn(); // napi_make_callback drains the microtasks before the hook returns
    this.recordJsTime(phase, t1 - t0);
    return o;
  }

  private async runChunks(direction: 0 | 1, received: boolean, end: boolean): Promise<Outcome> {
    const body = new BodyBuffers(this.envoy, direction, received);
    const chunks = body.chunks(received);
    if (chunks.length === 0 && !end) return Outcome.Continue;
    this.openStream();
    if (this.routeFailed) return Outcome.Failed;
    const phase = dataPhase(direction);
    const t0 = performance.now();
    let o: Outcome;
    let t1 = t0;
    const views = chunkViews(chunks); // detached when this block ends, before the hook returns
    this.chunkRun = { direction, received };
    try {
      try {
        o = toOutcome(
          this.env.enter(() => this.env.api.data(phase, this.env.index, this.id, this.route, views.views, end)),
        );
      } catch (e) {
        this.env.logError(`nodevoy: data dispatch failed: ${String(e)}`);
        o = Outcome.Failed;
      }
      t1 = performance.now();
      o = this.overBudget(t1 - t0, 'data dispatch') ?? o;
      await turn();
    } finally {
      this.chunkRun = undefined;
      views.detach();
    }
    this.recordJsTime(phase, t1 - t0);
    return o;
  }

  /**
   * The watchdog (envoy-filter/watchdog.cc) stops JS that runs past sync_budget_ms mid-way. The kit cannot
   * interrupt a call, so a call that ran past the budget completes and its outcome becomes a Timeout.
   */
  private overBudget(ms: number, what: string): Outcome | undefined {
    if (ms <= this.env.syncBudgetMs) return undefined;
    this.env.logError(
      `nodevoy: ${what}: JS ran past its synchronous time budget of ${this.env.syncBudgetMs} ms and was stopped`,
    );
    return Outcome.Timeout;
  }

  private recordJsTime(phase: Phase, ms: number): void {
    this.env.recordJsTime(PHASE_NAMES[phase] as string, Math.max(0, Math.round(ms * 1000)));
  }

  private async deliverAndResume(direction: 0 | 1, hook: Hook): Promise<Result> {
    const d = this.dirs[direction];
    d.bodyDelivered = true;
    const bytes = new BodyBuffers(this.envoy, direction, this.inDataHook === direction).copy();
    this.env.countCopied(bytes.length);
    const was = this.deferring;
    this.deferring = true;
    try {
      try {
        this.env.enter(() => this.env.api.body(this.id, direction, bytes));
      } catch (e) {
        this.env.logError(`nodevoy: body delivery failed: ${String(e)}`);
      }
      await turn();
    } finally {
      this.deferring = was;
    }
    if (d.settled === undefined || d.parked === undefined) return Result.Parked;
    const phase = d.parked;
    const o = d.settled;
    d.parked = undefined;
    d.settled = undefined;
    return this.complete(phase, o, hook);
  }

  /** A failure or timeout is counted; fail_open turns it into Continue (the stream goes on untouched). */
  private applyPolicy(outcome: Outcome): Outcome {
    if (outcome !== Outcome.Failed && outcome !== Outcome.Timeout) return outcome;
    this.env.countFailure(outcome === Outcome.Timeout ? 'timeout' : 'handler');
    return this.env.failOpen ? Outcome.Continue : outcome;
  }

  private async complete(phase: Phase, outcome: Outcome, hook: Hook): Promise<Result> {
    outcome = this.applyPolicy(outcome);
    if (outcome !== Outcome.Continue) return this.answer(outcome);
    const direction = directionOf(phase);
    const d = this.dirs[direction];
    if (phase === headersPhase(direction)) {
      d.headersPassed = true;
      if (d.deferredData && this.has(dataPhase(direction))) {
        // Chunks that arrived while the headers handler was parked go through the chunk handler now.
        d.deferredData = false;
        const withReceived = this.inDataHook === direction;
        let o = this.applyPolicy(await this.runChunks(direction, false, d.dataEnd && !withReceived));
        if (o === Outcome.Continue && withReceived)
          o = this.applyPolicy(await this.runChunks(direction, true, d.dataEnd));
        if (o !== Outcome.Continue) return this.answer(o);
      }
      if (d.deferredTrailers) {
        d.deferredTrailers = false;
        return this.run(trailersPhase(direction), hook, direction);
      }
    }
    if (hook === Hook.Other) {
      if (direction === Direction.Request) await this.envoy.continueDecoding();
      else await this.envoy.continueEncoding();
    }
    return Result.Go;
  }

  private async answer(outcome: Outcome): Promise<Result> {
    this.answered = true;
    for (const d of this.dirs) d.parked = undefined;
    if (this.dirs[1].headersPassed) {
      // The client already has a status line: a reply cannot replace it, so the stream is reset (as Envoy
      // does for a local reply after response headers), never completed as if nothing happened.
      this.env.logError(
        `nodevoy: filter "${this.env.name}" answered after the response headers were sent; resetting the stream`,
      );
      await this.envoy.resetStream('nodevoy_reply_after_response_headers');
      return Result.Answered;
    }
    if (outcome === Outcome.Reply && this.reply) {
      const r = this.reply;
      this.reply = undefined;
      await this.envoy.sendResponse(r.status, r.headers, r.body, r.details);
      return Result.Answered;
    }
    if (outcome === Outcome.Timeout) {
      await this.envoy.sendResponse(
        504,
        [],
        new TextEncoder().encode('nodevoy: the filter did not finish in time\n'),
        'nodevoy_handler_timeout',
      );
      return Result.Answered;
    }
    await this.sendFailure('nodevoy_handler_failed');
    return Result.Answered;
  }

  /** From the binding: a parked handler of `phase` finished. */
  settle(phase: Phase, outcome: Outcome): void {
    const d = this.dirs[directionOf(phase)];
    if (d.parked === undefined && !this.deferring) return; // nothing awaits this settle (the stream was answered)
    d.settled = outcome;
    // Inside a call whose caller finishes the stream? It reads settled. Otherwise resume from the stream's own hook.
    if (!this.deferring && !this.completed) this.envoy.commit(kResumeEvent);
  }

  private async resumeSettled(): Promise<void> {
    for (const d of this.dirs) {
      if (d.parked === undefined || d.settled === undefined || this.completed) continue;
      const phase = d.parked;
      const o = d.settled;
      d.parked = undefined;
      d.settled = undefined;
      await this.complete(phase, o, Hook.Other);
    }
  }

  private async sendFailure(details: string): Promise<void> {
    await this.envoy.sendResponse(
      this.env.failureStatus,
      [],
      new TextEncoder().encode('nodevoy: the filter failed to process this request\n'),
      details,
    );
  }

  // ---- from the binding ----

  recordReply(reply: RecordedReply): void {
    this.reply = reply;
  }

  readBody(direction: 0 | 1): Uint8Array | undefined {
    const d = this.dirs[direction];
    const which = direction === Direction.Request ? 'request' : 'response';
    if (!d.started || d.headersPassed)
      throw new StateError(
        `the ${which} body can only be read by the ${which} headers handler, before it returns or settles (afterwards the body has gone on)`,
      );
    if (!d.endSeen) {
      d.wantBody = true; // delivered when the last chunk or the trailers arrive
      return undefined;
    }
    d.bodyDelivered = true;
    const bytes = new BodyBuffers(this.envoy, direction, this.inDataHook === direction).copy();
    this.env.countCopied(bytes.length);
    return bytes;
  }

  rewriteBody(direction: 0 | 1, op: number, data: Uint8Array): void {
    const d = this.dirs[direction];
    const which = direction === Direction.Request ? 'request' : 'response';
    if (!d.started || d.headersPassed)
      throw new StateError(
        `the ${which} body can only be rewritten by the ${which} headers handler, before it returns or settles`,
      );
    if (!d.endSeen)
      throw new StateError(`the ${which} body has not fully arrived: await body.bytes() (or text()/json()) first`);
    const body = new BodyBuffers(this.envoy, direction, this.inDataHook === direction);
    const ok =
      op === BodyOp.Replace ? body.replace(data) : op === BodyOp.Append ? body.append(data) : body.prepend(data);
    if (!ok) throw new StateError(`Envoy refused to change the ${which} body`);
    body.fixContentLength();
  }

  replaceChunks(direction: 0 | 1, data: Uint8Array): void {
    const run = this.chunkRun;
    if (!run || run.direction !== direction)
      throw new StateError('chunks can only be replaced by the chunk handler that received them');
    if (!new BodyBuffers(this.envoy, direction, run.received).replaceChunks(run.received, data))
      throw new StateError('Envoy refused to change the body chunk');
  }
}

function toOutcome(r: unknown): Outcome {
  return typeof r === 'number' && Number.isInteger(r) && r >= 0 && r <= Outcome.Timeout
    ? (r as Outcome)
    : Outcome.Failed;
}
