// The price list's derived rows: what one operation costs, as the difference between two end-to-end
// configurations that differ only by it. benchmarks/run.mjs derives them from proxy CPU time, the
// report again from callgrind's instruction counts. [what, configuration, baseline]
export const PRICE_DIFFS = [
  ['handler dispatch (sync `onRequestHeaders`, incl. per-stream JS state)', 'JS sync no-op handler', 'JS passthrough'],
  ['a JS filter with no handlers (module per-stream overhead)', 'JS passthrough', 'native passthrough'],
  ['Lua: entering `envoy_on_request`, for comparison', 'Lua sync no-op', 'no filter'],
  ['header rewrite in JS, over the no-op handler', 'JS header rewrite', 'JS sync no-op handler'],
  ['header rewrite in Lua, over the no-op Lua filter', 'Lua header rewrite', 'Lua sync no-op'],
  ['header rewrite natively, over the native passthrough', 'native header rewrite', 'native passthrough'],
  [
    'an awaited resolved promise (park + settle in the same hook)',
    'JS async, await resolved promise',
    'JS sync no-op handler',
  ],
  [
    'resuming a parked stream via the scheduler (+ one setImmediate)',
    'JS async, await setImmediate',
    'JS async, await resolved promise',
  ],
  ['native park + scheduler resume, for comparison', 'native park + resume', 'native passthrough'],
  ['`ctx.fetch` round trip (proxy side)', 'JS ctx.fetch', 'JS sync no-op handler'],
  ['Lua `httpCall` round trip (proxy side), for comparison', 'Lua httpCall', 'Lua sync no-op'],
  ['native http_callout round trip (proxy side), for comparison', 'native callout', 'native passthrough'],
];
