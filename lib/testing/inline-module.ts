// The "bundle" the runtime loads for a FilterDefinition handed to runFilter/loadFilter (see inline.ts):
// its only export is the definition being loaded, under the filter's name.
import { slot } from './inline';

const exportsView = new Proxy({} as Record<string, unknown>, {
  get: (_target, key) => (typeof key === 'string' && slot().current?.name === key ? slot().current?.def : undefined),
  has: (_target, key) => typeof key === 'string' && slot().current?.name === key,
  ownKeys: () => {
    const c = slot().current;
    return c ? [c.name] : [];
  },
  getOwnPropertyDescriptor: (_target, key) => {
    const c = slot().current;
    return c && key === c.name ? { value: c.def, enumerable: true, configurable: true, writable: false } : undefined;
  },
});

export = exportsView;
