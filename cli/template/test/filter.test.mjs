// Unit test of the bundle (`nodevoy build` writes dist/filter.js) with nodevoy's test kit: the module and
// runtime that run in Envoy, against a fake Envoy stream and upstream (the kit builds its addon on first
// use). Run: npm test
import assert from 'node:assert/strict';
import path from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { runFilter } from 'nodevoy/testing';

const bundle = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'filter.js');

test('hello greets the upstream and marks the response', async () => {
  const r = await runFilter(
    { module: bundle, filterName: 'hello' },
    { config: { greeting: 'hi' }, request: { path: '/' } },
  );
  assert.equal(r.upstreamRequest?.headers['x-greeting'], 'hi');
  assert.equal(r.response.status, 200);
  assert.equal(r.response.headers['x-served-by'], 'hello');
});
