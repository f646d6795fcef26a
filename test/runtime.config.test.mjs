// Bad filter configs are rejected at config time, with a message naming the cause (invariant 6).
import t from 'tap';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, hostConfig, runHostExpectFailure } from './lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const jsDir = path.join(here, 'js');

async function rejected(t, filterName, config) {
  const yaml = hostConfig({
    port: await freePort(),
    filters: [{ module: 'nodevoy', filterName, config }],
    clusters: { upstream: await freePort() },
  });
  const r = await runHostExpectFailure(yaml);
  t.not(r.code, 0, 'the host refuses to start');
  t.match(r.stderr, /rejecting filter config/);
  return r.stderr;
}

const cases = [
  ['a missing bundle file', 'rewrite', { module: path.join(jsDir, 'nope.cjs') }, /does not exist/],
  [
    'a relative path that is not there from the working directory',
    'rewrite',
    { module: 'js/filters.cjs' },
    /module file \/\S*\/js\/filters\.cjs does not exist/,
  ],
  ['no module field', 'rewrite', { config: {} }, /filter_config.module is required/],
  ['an unknown field', 'rewrite', { module: path.join(jsDir, 'filters.cjs'), modul: 1 }, /unknown field "modul"/],
  ['a syntax error', 'broken', { module: path.join(jsDir, 'syntax-error.cjs') }, /SyntaxError/],
  [
    'a bundle that throws while loading',
    'x',
    { module: path.join(jsDir, 'throws-at-load.cjs') },
    /this bundle refuses to load/,
  ],
  [
    'an unknown filter name',
    'nosuch',
    { module: path.join(jsDir, 'filters.cjs') },
    /no filter named "nosuch".*filters found: rewrite/,
  ],
  [
    'an export not made with defineFilter',
    'notAFilter',
    { module: path.join(jsDir, 'filters.cjs') },
    /not made with defineFilter/,
  ],
];

for (const [what, filterName, config, pattern] of cases) {
  t.test(`${what} is rejected with its cause`, async (t) => {
    const stderr = await rejected(t, filterName, config);
    t.match(stderr, pattern);
  });
}

t.test('filter_config as a StringValue holding JSON text is accepted like a Struct', async (t) => {
  const yaml = hostConfig({
    port: await freePort(),
    filters: [
      { module: 'nodevoy', filterName: 'nosuch', config: JSON.stringify({ module: path.join(jsDir, 'filters.cjs') }) },
    ],
    clusters: { upstream: await freePort() },
  });
  const r = await runHostExpectFailure(yaml);
  t.match(r.stderr, /no filter named "nosuch"/, 'the string was parsed as the same JSON config');
});
