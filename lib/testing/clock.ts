// Controllable time for filter tests: a TestClock whose timers fire only when the test says so.
//
// While runs with a clock (or with captureConsole) are in progress, the globals setTimeout, clearTimeout,
// setInterval, clearInterval, Date and console.* are wrappers that look at the async context: code that
// runs for a run — the filter's module and handlers, everything their promises continue into, the test's
// upstream and cluster handlers — gets the run's clock (and log); any other code (the test framework)
// gets the real functions. Handlers that await those timers wait for `clock.advance(ms)`, `clock.next()`
// or `clock.runAll()`. Not covered: setImmediate, process.nextTick and queueMicrotask (they are not
// time and stay real), `node:timers/promises`, AbortSignal.timeout(), performance.now(), timers made
// by native code or captured before the run started (`const { setTimeout } = globalThis` at load time
// is fine: it is the wrapper).
import { AsyncLocalStorage } from 'node:async_hooks';
import { format, promisify } from 'node:util';
import { CONSOLE_LEVELS } from '../console-levels';

/** The real timer functions, captured when the kit loads; the kit schedules its own work with these. */
export const real = {
  setTimeout: globalThis.setTimeout,
  clearTimeout: globalThis.clearTimeout,
  setInterval: globalThis.setInterval,
  clearInterval: globalThis.clearInterval,
  setImmediate: globalThis.setImmediate,
  Date: globalThis.Date,
};

/** What code running for a run sees: its clock, and where console lines go (captureConsole). */
export interface RunContext {
  clock?: Clock;
  log?: (level: number, message: string) => void;
  /** The loaded filter the run is for (its KitEnv's owner): where the module's log lines go. */
  owner?: number;
}

/** The async context of runs: the kit enters it around every call into filter or test code. */
export const context = new AsyncLocalStorage<RunContext>();

/** One turn of the event loop: every pending microtask and process.nextTick callback has run after it. */
export function turn(): Promise<void> {
  return new Promise((resolve) => real.setImmediate(resolve));
}

/** A fake time source for `runFilter(filter, { clock })`. */
export interface TestClock {
  /** The current fake time in milliseconds since the epoch (what `Date.now()` returns during a run). */
  now(): number;
  /**
   * Moves time forward by `ms`, firing every timer that falls due, in order. Before each timer fires and
   * after, the runs using this clock first process everything they can without time passing (events,
   * settled handlers, upstream replies), so a handler that awaits a timer sees it fire at the right time.
   * Rejects with the first error a timer callback threw (after all due timers ran).
   */
  advance(ms: number): Promise<void>;
  /** Jumps to the next pending timer and fires it (see advance). Resolves false if no timer was pending. */
  next(): Promise<boolean>;
  /** Fires timers (jumping time) until none is pending; throws after `limit` firings (default 1000). */
  runAll(limit?: number): Promise<void>;
  /** The number of pending timers. */
  readonly pending: number;
}

/** Options of createClock. */
export interface ClockOptions {
  /** The starting time: epoch milliseconds or a Date. Default: the real time when the clock is made. */
  now?: number | Date;
}

/** Makes a TestClock. Pass it as `clock` to runFilter/loadFilter; drive it from the test. */
export function createClock(options: ClockOptions = {}): TestClock {
  const start = options.now instanceof real.Date ? options.now.getTime() : (options.now ?? real.Date.now());
  if (typeof start !== 'number' || !Number.isFinite(start))
    throw new TypeError('createClock: `now` must be a finite number of milliseconds or a Date');
  return new Clock(start);
}

/** Something a clock lets finish before and after firing a timer (a run that uses the clock). */
export interface Activity {
  /** Work is queued or running that needs no time to pass (loading, events, settled handlers). */
  busy(): boolean;
}

interface Timer {
  id: number;
  at: number;
  seq: number;
  repeat: number; // 0: one-shot
  fn: (...args: unknown[]) => void;
  args: unknown[];
  handle: FakeTimeout;
  ctx: RunContext | undefined; // the async context the timer was made in: its callback runs in it
}

/** What the fake setTimeout returns: shaped like Node's Timeout (ref/unref/hasRef/refresh, a primitive id). */
export class FakeTimeout {
  constructor(
    private readonly clock: Clock,
    readonly id: number,
  ) {}
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  hasRef(): boolean {
    return true;
  }
  refresh(): this {
    this.clock.refresh(this.id);
    return this;
  }
  close(): this {
    this.clock.clear(this.id);
    return this;
  }
  [Symbol.toPrimitive](): number {
    return this.id;
  }
}

const MAX_DELAY = 2147483647;

function delayOf(ms: unknown): number {
  const n = Number(ms);
  // As Node: a delay below 1 ms or above 2^31-1 ms becomes 1 ms.
  return n >= 1 && n <= MAX_DELAY ? Math.trunc(n) : 1;
}

export class Clock implements TestClock {
  private time: number;
  private readonly timers = new Map<number, Timer>();
  private nextId = 1;
  private seq = 0;
  private readonly activities = new Set<Activity>();

  constructor(start: number) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  get pending(): number {
    return this.timers.size;
  }

  // ---- timers (the fakes and the kit's own Envoy-side timers) ----

  set(fn: (...args: unknown[]) => void, ms: unknown, args: unknown[], repeat: boolean): FakeTimeout {
    if (typeof fn !== 'function') throw new TypeError('The "callback" argument must be of type function');
    const id = this.nextId++;
    const delay = delayOf(ms);
    const handle = new FakeTimeout(this, id);
    this.timers.set(id, {
      id,
      at: this.time + delay,
      seq: this.seq++,
      repeat: repeat ? delay : 0,
      fn,
      args,
      handle,
      ctx: context.getStore(),
    });
    return handle;
  }

  clear(id: number): void {
    this.timers.delete(id);
  }

  refresh(id: number): void {
    const t = this.timers.get(id);
    if (t) {
      t.at = this.time + (t.repeat || 1);
      t.seq = this.seq++;
    }
  }

  /** Whether a value is one of this clock's timer handles (or ids). */
  owns(handle: unknown): number | undefined {
    if (handle instanceof FakeTimeout) return handle.id;
    if (typeof handle === 'number' && this.timers.has(handle)) return handle;
    return undefined;
  }

  // ---- driving ----

  track(activity: Activity): () => void {
    this.activities.add(activity);
    return () => {
      this.activities.delete(activity);
    };
  }

  /** Lets the runs on this clock process everything that needs no time: until three quiet loop turns. */
  private async settle(): Promise<void> {
    for (let quiet = 0; quiet < 3; ) {
      await turn();
      quiet = [...this.activities].some((a) => a.busy()) ? 0 : quiet + 1;
    }
  }

  private earliest(): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.timers.values())
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    return best;
  }

  private fire(t: Timer, errors: unknown[]): void {
    this.time = Math.max(this.time, t.at);
    if (t.repeat) {
      t.at = this.time + t.repeat;
      t.seq = this.seq++;
    } else {
      this.timers.delete(t.id);
    }
    try {
      context.run(t.ctx ?? { clock: this }, () => t.fn(...t.args));
    } catch (e) {
      errors.push(e);
    }
  }

  async advance(ms: number): Promise<void> {
    if (typeof ms !== 'number' || !(ms >= 0) || !Number.isFinite(ms))
      throw new RangeError(`clock.advance: expected a non-negative number of ms, got ${String(ms)}`);
    const target = this.time + ms;
    const errors: unknown[] = [];
    await this.settle();
    for (;;) {
      const t = this.earliest();
      if (!t || t.at > target) break;
      this.fire(t, errors);
      await this.settle();
    }
    this.time = target;
    await this.settle();
    if (errors.length) throw errors[0];
  }

  async next(): Promise<boolean> {
    await this.settle();
    const t = this.earliest();
    if (!t) return false;
    const errors: unknown[] = [];
    this.fire(t, errors);
    await this.settle();
    if (errors.length) throw errors[0];
    return true;
  }

  async runAll(limit = 1000): Promise<void> {
    for (let i = 0; ; i++) {
      if (i >= limit)
        throw new Error(
          `clock.runAll: still ${this.timers.size} timer(s) pending after ${limit} firings (an interval, or timers that keep re-arming?)`,
        );
      if (!(await this.next())) return;
    }
  }
}

let holders = 0;
let saved: { globals: Record<string, unknown>; console: Record<string, unknown> } | undefined;

/** Installs the context-aware globals while at least one holder needs them; returns the release. */
export function acquireGlobals(): () => void {
  if (holders++ === 0) patch();
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (--holders === 0) unpatch();
  };
}

function patch(): void {
  const g = globalThis as unknown as Record<string, unknown>;
  const c = console as unknown as Record<string, unknown>;
  saved = {
    globals: {
      setTimeout: g.setTimeout,
      clearTimeout: g.clearTimeout,
      setInterval: g.setInterval,
      clearInterval: g.clearInterval,
      Date: g.Date,
    },
    console: Object.fromEntries(Object.keys(CONSOLE_LEVELS).map((k) => [k, c[k]])),
  };
  const clock = () => context.getStore()?.clock;
  const fakeSetTimeout = (fn: (...a: unknown[]) => void, ms?: unknown, ...args: unknown[]) => {
    const k = clock();
    return k ? k.set(fn, ms, args, false) : real.setTimeout(fn, ms as number, ...args);
  };
  Object.defineProperty(fakeSetTimeout, promisify.custom, {
    value: (ms?: number, value?: unknown) => new Promise((resolve) => fakeSetTimeout(() => resolve(value), ms)),
  });
  g.setTimeout = fakeSetTimeout;
  g.setInterval = (fn: (...a: unknown[]) => void, ms?: unknown, ...args: unknown[]) => {
    const k = clock();
    return k ? k.set(fn, ms, args, true) : real.setInterval(fn, ms as number, ...args);
  };
  const clear = (h: unknown) => {
    if (h instanceof FakeTimeout) h.close();
    else real.clearTimeout(h as Parameters<typeof clearTimeout>[0]);
  };
  g.clearTimeout = clear;
  g.clearInterval = clear;
  g.Date = fakeDate(real.Date);
  for (const [method, level] of Object.entries(CONSOLE_LEVELS)) {
    const original = saved.console[method] as (...a: unknown[]) => void;
    c[method] = (...args: unknown[]) => {
      const log = context.getStore()?.log;
      if (log) log(level, `[console] ${format(...args)}`);
      else original.apply(console, args);
    };
  }
}

function unpatch(): void {
  if (!saved) return;
  Object.assign(globalThis as unknown as Record<string, unknown>, saved.globals);
  Object.assign(console as unknown as Record<string, unknown>, saved.console);
  saved = undefined;
}

/** Date, reading the run's clock: Date.now() and `new Date()` (no argument); a Proxy, so instanceof keeps working. */
function fakeDate(RealDate: DateConstructor): DateConstructor {
  const now = () => context.getStore()?.clock?.now() ?? RealDate.now();
  return new Proxy(RealDate, {
    construct: (target, args, newTarget) =>
      Reflect.construct(target, args.length === 0 ? [now()] : args, newTarget) as object,
    apply: () => new RealDate(now()).toString(),
    get: (target, prop, receiver) => (prop === 'now' ? now : Reflect.get(target, prop, receiver)),
  });
}

/** The clock a kit-side (Envoy-side) timer uses: the test clock when there is one, else real time. */
export interface TimerSource {
  setTimeout(fn: () => void, ms: number): () => void;
}

export function timerSource(clock: Clock | undefined): TimerSource {
  if (clock) {
    return {
      setTimeout: (fn, ms) => {
        const h = clock.set(fn, ms, [], false);
        return () => clock.clear(h.id);
      },
    };
  }
  return {
    setTimeout: (fn, ms) => {
      const h = real.setTimeout(fn, ms);
      return () => real.clearTimeout(h);
    },
  };
}
