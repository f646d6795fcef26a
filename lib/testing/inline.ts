// Lets the runtime load a FilterDefinition object the test holds: the runtime only loads bundles by path,
// so the kit hands it inline-module.js, whose exports show the definition being loaded. Loads through
// it are serialized.
import { join } from 'node:path';
import type { FilterDefinition } from '../filter';

interface Slot {
  current?: { name: string; def: FilterDefinition<unknown, unknown> };
  queue: Promise<unknown>;
}

const KEY = Symbol.for('nodevoy.testing.inline');

/** The slot shared with inline-module.js (on globalThis, in case the kit is loaded twice). */
export function slot(): Slot {
  const g = globalThis as unknown as Record<symbol, Slot | undefined>;
  return (g[KEY] ??= { queue: Promise.resolve() });
}

/** The bundle path the runtime is given for an inline definition. */
export const INLINE_MODULE = join(__dirname, 'inline-module.js');

/** Runs `load` while inline-module.js exports `def` as `name`; one at a time. */
export function withInline<T>(
  name: string,
  def: FilterDefinition<unknown, unknown>,
  load: () => Promise<T>,
): Promise<T> {
  const s = slot();
  const run = s.queue.then(async () => {
    s.current = { name, def };
    try {
      return await load();
    } finally {
      s.current = undefined;
    }
  });
  s.queue = run.catch(() => undefined);
  return run;
}
