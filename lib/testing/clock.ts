// Controllable time for filter tests: a TestClock whose timers fire only when the test says so.
//
// While a run that was given a clock is in progress, the clock replaces the globals setTimeout,
// clearTimeout, setInterval, clearInterval and Date (Date.now() and `new Date()` with no argument).
// Handlers that await those timers wait for `clock.advance(ms)`, `clock.next()` or `clock.runAll()`.
// Not covered: setImmediate, process.nextTick and queueMicrotask (they are not time and stay real),
// `node:timers/promises`, AbortSignal.timeout(), performance.now() and timers made by native code.

/** The real timer functions, captured when the kit loads; the kit schedules its own work with these. */
export const real = {
  setTimeout: globalThis.setTimeout,
  clearTimeout: globalThis.clearTimeout,
  setInterval: globalThis.setInterval,
  clearInterval: globalThis.clearInterval,
  setImmediate: globalThis.setImmediate,
  Date: globalThis.Date,
};

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
  const start = options.now instanceof real.Date ? options.now.getTime() : options.now ?? real.Date.now();
  if (typeof start !== 'number' || !Number.isFinite(start)) throw new TypeError('createClock: `now` must be a finite number of milliseconds or a Date');
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
  repeat: number;  // 0: one-shot
  fn: (...args: unknown[]) => void;
  args: unknown[];
  handle: FakeTimeout;
}

/** What the fake setTimeout returns: shaped like Node's Timeout (ref/unref/hasRef/refresh, a primitive id). */
export class FakeTimeout {
  constructor(private readonly clock: Clock, readonly id: number) {}
  ref(): this { return this; }
  unref(): this { return this; }
  hasRef(): boolean { return true; }
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

let installed: { clock: Clock; count: number; saved: typeof real } | undefined;

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
    this.timers.set(id, { id, at: this.time + delay, seq: this.seq++, repeat: repeat ? delay : 0, fn, args, handle });
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
    for (const t of this.timers.values()) if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
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
      t.fn(...t.args);
    } catch (e) {
      errors.push(e);
    }
  }

  async advance(ms: number): Promise<void> {
    if (typeof ms !== 'number' || !(ms >= 0) || !Number.isFinite(ms)) throw new RangeError(`clock.advance: expected a non-negative number of ms, got ${String(ms)}`);
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
      if (i >= limit) throw new Error(`clock.runAll: still ${this.timers.size} timer(s) pending after ${limit} firings (an interval, or timers that keep re-arming?)`);
      if (!(await this.next())) return;
    }
  }

  // ---- installing the fakes as globals ----

  /** Installs the fakes (nested installs of the same clock are counted); returns the uninstaller. */
  install(): () => void {
    if (installed && installed.clock !== this)
      throw new Error('nodevoy/testing: another run with a different clock is in progress; runs with clocks must not overlap unless they share the clock');
    if (installed) {
      installed.count++;
    } else {
      const saved = {
        setTimeout: globalThis.setTimeout,
        clearTimeout: globalThis.clearTimeout,
        setInterval: globalThis.setInterval,
        clearInterval: globalThis.clearInterval,
        setImmediate: globalThis.setImmediate,
        Date: globalThis.Date,
      };
      installed = { clock: this, count: 1, saved };
      const g = globalThis as unknown as Record<string, unknown>;
      g.setTimeout = (fn: (...a: unknown[]) => void, ms?: unknown, ...args: unknown[]) => this.set(fn, ms, args, false);
      g.setInterval = (fn: (...a: unknown[]) => void, ms?: unknown, ...args: unknown[]) => this.set(fn, ms, args, true);
      const clear = (h: unknown) => {
        const id = this.owns(h);
        if (id !== undefined) this.clear(id);
        else saved.clearTimeout(h as Parameters<typeof clearTimeout>[0]);
      };
      g.clearTimeout = clear;
      g.clearInterval = clear;
      g.Date = fakeDate(this, saved.Date);
    }
    let done = false;
    return () => {
      if (done || !installed) return;
      done = true;
      if (--installed.count > 0) return;
      const g = globalThis as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(installed.saved)) g[k] = v;
      installed = undefined;
    };
  }
}

function fakeDate(clock: Clock, RealDate: DateConstructor): DateConstructor {
  class FakeDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(clock.now());
      else super(...(args as [string | number | Date]));
    }
    static override now(): number {
      return clock.now();
    }
  }
  // Date() called without `new` returns the current time as a string.
  return new Proxy(FakeDate, { apply: () => new RealDate(clock.now()).toString() }) as unknown as DateConstructor;
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
