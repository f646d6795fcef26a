// The example filters (examples/auth-jwt, body-transform, rate-limit), compiled by examples/build.mjs and
// driven through the ABI host (build/nodevoy-host, a test tool, not Envoy) over real HTTP; plus a check
// that README.md's API reference names every export of the SDK.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import {
  adminGet,
  freePort,
  hostConfig,
  rawRequest,
  request,
  runHostExpectFailure,
  sleep,
  startHost,
  startUpstream,
} from './lib/harness.mjs';
import { withHost } from './lib/setup.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bundle = (name) => path.join(root, 'examples', name, 'dist', 'filter.js');
execFileSync(process.execPath, [path.join(root, 'examples', 'build.mjs'), '--if-stale'], {
  cwd: root,
  stdio: ['ignore', 2, 2],
}); // progress to stderr, not the TAP stream

const filter = (example, filterName, config) => ({
  module: 'nodevoy',
  filterName,
  config: { module: bundle(example), config },
});
const perRoute = (filterName, config) => ({ [filterName]: { perRouteName: filterName, config: { config } } });
const statsOf = async (adminPort) => adminGet(adminPort, '/stats');

// ------------------------------------------------------------------------------------------------
// auth-jwt
// ------------------------------------------------------------------------------------------------

t.test('auth-jwt: verifies Bearer JWTs with jose against a JWKS fetched through a cluster', async (t) => {
  const ISS = 'https://issuer.test';
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const other = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const jwks = await startUpstream((req, res) => {
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404);
      return res.end();
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  t.teardown(() => jwks.close());

  const sign = ({ sub = 'alice', aud = 'api', iss = ISS, exp = '5m', key = privateKey, kid = 'k1' } = {}) =>
    new SignJWT({ scope: 'read' })
      .setProtectedHeader({ alg: 'RS256', kid })
      .setSubject(sub)
      .setIssuer(iss)
      .setAudience(aud)
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(key);

  const { up, port, adminPort } = await withHost(t, {
    filters: [filter('auth-jwt', 'authJwt', { issuer: ISS, audience: 'api', jwksCluster: 'jwks' })],
    clusters: { jwks: jwks.port },
    routes: [
      { prefix: '/public', perFilter: perRoute('authJwt', { optional: true }) },
      { prefix: '/admin', perFilter: perRoute('authJwt', { audience: 'admin-api' }) },
      { prefix: '/' },
    ],
  });
  const get = (p, token, headers = {}) =>
    request(port, { path: p, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
  const denied = (t, r, status, error, message) => {
    t.equal(r.status, status);
    const body = JSON.parse(r.body);
    t.equal(body.error, error);
    if (message) t.match(body.message, message);
  };

  const before = up.requests.length;
  const ok = await get('/data', await sign(), { 'x-user': 'mallory' });
  t.equal(ok.status, 200, 'a valid token passes');
  t.equal(
    up.requests.at(-1).headers['x-user'],
    'alice',
    "the subject reaches the upstream as x-user (the client's x-user is replaced)",
  );
  t.equal(up.requests.length, before + 1);
  for (let i = 0; i < 5; i++) t.equal((await get('/data', await sign({ sub: `u${i}` }))).status, 200);
  t.equal(up.requests.at(-1).headers['x-user'], 'u4');
  t.ok(
    jwks.requests.length >= 1 && jwks.requests.length <= 2,
    `the JWKS is fetched once per worker and cached (${jwks.requests.length} fetches, 2 workers)`,
  );
  t.equal(jwks.requests[0].path, '/.well-known/jwks.json');

  const n = up.requests.length;
  const missing = await get('/data');
  denied(t, missing, 401, 'unauthorized', /required/);
  t.equal(missing.headers['www-authenticate'], 'Bearer');
  // Envoy's sendLocalReply sets text/plain only when the reply's own headers have no content-type.
  const raw = await rawRequest(port, 'GET /data HTTP/1.1\r\nhost: x\r\n\r\n');
  t.equal(raw.headers['content-type'], 'application/json', 'the reply keeps its own content-type');
  t.notMatch(raw.raw, /content-type: text\/plain/i, 'and gets no second one');
  denied(
    t,
    await request(port, { path: '/data', headers: { authorization: 'Basic YWxpY2U6eA==' } }),
    401,
    'invalid_token',
    /not a Bearer/,
  );
  const garbage = await get('/data', 'not.a.jwt');
  denied(t, garbage, 401, 'invalid_token', /invalid/);
  t.equal(garbage.headers['www-authenticate'], 'Bearer error="invalid_token"');
  denied(t, await get('/data', await sign({ key: other.privateKey })), 401, 'invalid_token', /invalid/); // bad signature
  denied(
    t,
    await get('/data', await sign({ exp: Math.floor(Date.now() / 1000) - 60 })),
    401,
    'invalid_token',
    /expired/,
  );
  denied(t, await get('/data', await sign({ aud: 'someone-else' })), 401, 'invalid_token', /not meant/);
  denied(t, await get('/data', await sign({ iss: 'https://evil.test' })), 401, 'invalid_token', /not meant/);
  denied(t, await get('/data', await sign({ kid: 'unknown' })), 401, 'invalid_token', /invalid/);
  t.equal(up.requests.length, n, 'no rejected request reached the upstream');

  // per-route config: an optional token on /public, another audience on /admin
  const anon = await get('/public/page', undefined, { 'x-user': 'mallory' });
  t.equal(anon.status, 200, 'no token on an optional route passes');
  t.equal(up.requests.at(-1).headers['x-user'], undefined, 'without the client-supplied x-user');
  t.equal((await get('/public/page', await sign())).status, 200);
  t.equal(up.requests.at(-1).headers['x-user'], 'alice');
  denied(t, await get('/public/page', 'bad'), 401, 'invalid_token'); // a bad token on an optional route is still refused
  denied(t, await get('/admin/x', await sign()), 401, 'invalid_token', /not meant/); // the route demands its own audience
  t.equal((await get('/admin/x', await sign({ aud: 'admin-api', sub: 'root' }))).status, 200);
  t.equal(up.requests.at(-1).headers['x-user'], 'root');

  const stats = await statsOf(adminPort);
  t.match(stats, /^dynamicmodulescustom\.authJwt\.requests\.outcome\.allowed: 8$/m, 'allowed outcomes counted');
  t.match(stats, /^dynamicmodulescustom\.authJwt\.requests\.outcome\.missing: 2$/m);
  t.match(stats, /^dynamicmodulescustom\.authJwt\.requests\.outcome\.malformed: 1$/m);
  t.match(stats, /^dynamicmodulescustom\.authJwt\.requests\.outcome\.expired: 1$/m);
  t.match(stats, /^dynamicmodulescustom\.authJwt\.requests\.outcome\.claims: 3$/m);
  t.match(stats, /^dynamicmodulescustom\.authJwt\.requests\.outcome\.invalid: 4$/m);
  t.match(stats, /^dynamicmodulescustom\.authJwt\.requests\.outcome\.anonymous: 1$/m);
});

t.test('auth-jwt: an unreachable JWKS answers 503; a bad config is rejected at load', async (t) => {
  const dead = await freePort();
  const { port, up } = await withHost(t, {
    filters: [filter('auth-jwt', 'authJwt', { issuer: 'i', audience: 'a', jwksCluster: 'jwks' })],
    clusters: { jwks: dead },
  });
  const { privateKey } = await generateKeyPair('ES256');
  const token = await new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setSubject('x').sign(privateKey);
  const r = await request(port, { path: '/x', headers: { authorization: `Bearer ${token}` } });
  t.equal(r.status, 503);
  t.equal(JSON.parse(r.body).error, 'temporarily_unavailable');
  t.equal(up.requests.length, 0);

  const bad = await runHostExpectFailure(
    hostConfig({
      port: await freePort(),
      filters: [filter('auth-jwt', 'authJwt', { issuer: 'i', jwksCluster: 'jwks' })],
      clusters: { upstream: 1, jwks: 1 },
    }),
  );
  t.not(bad.code, 0);
  t.match(
    bad.stderr,
    /filter_config\.config does not match the filter's schema.*audience/s,
    'zod names the missing field',
  );
});

// ------------------------------------------------------------------------------------------------
// body-transform
// ------------------------------------------------------------------------------------------------

t.test('body-transform: streamed redaction and upper-casing, whole-body JSON rewrite, chosen per route', async (t) => {
  const { up, port, adminPort } = await withHost(t, {
    filters: [filter('body-transform', 'bodyTransform', { words: ['password', 'secret'], replacement: '#' })],
    routes: [
      { prefix: '/redact', perFilter: perRoute('bodyTransform', { mode: 'redact' }) },
      { prefix: '/upper', perFilter: perRoute('bodyTransform', { mode: 'uppercase', responses: false }) },
      {
        prefix: '/json',
        perFilter: perRoute('bodyTransform', { mode: 'json', json: { set: { source: 'edge' }, remove: ['debug'] } }),
      },
      { prefix: '/' },
    ],
  });

  // redact: words split across chunks and a multi-byte character split across chunks
  const euro = Buffer.from('€');
  const chunks = [
    Buffer.from('my pass'),
    Buffer.from('word is SEC'),
    Buffer.from('ret, price 5'),
    euro.subarray(0, 1),
    Buffer.concat([euro.subarray(1), Buffer.from(' ok')]),
  ];
  const r = await request(port, { method: 'POST', path: '/redact', body: chunks, headers: { 'x-note': 'top secret' } });
  t.equal(r.status, 200);
  const seen = up.requests.at(-1);
  t.equal(seen.body, 'my # is #, price 5€ ok', 'the upstream got the redacted body, intact UTF-8');
  t.equal(seen.headers['transfer-encoding'], 'chunked');
  t.match(r.body, /"x-note":"top #"/, 'the response body is redacted as it streams');
  t.notMatch(r.body, /secret|password/i);
  t.equal(r.headers['x-body-transform'], 'redact');
  t.equal(r.headers['content-length'], undefined, 'content-length dropped in the response headers phase');

  const sized = await request(port, { method: 'POST', path: '/redact/sized', body: 'the password is hunter2' });
  t.equal(sized.status, 200);
  t.equal(up.requests.at(-1).body, 'the # is hunter2');
  t.equal(
    up.requests.at(-1).headers['content-length'],
    undefined,
    'content-length dropped in the request headers phase',
  );

  const upper = await request(port, { method: 'POST', path: '/upper', body: ['hello ', 'world'] });
  t.equal(upper.status, 200);
  t.equal(up.requests.at(-1).body, 'HELLO WORLD');
  t.match(upper.body, /"path":"\/upper"/, 'responses: false on this route leaves the response alone');

  const doc = { name: 'x', debug: true, source: 'client', nested: { a: 1 } };
  const j = await request(port, {
    method: 'POST',
    path: '/json',
    body: JSON.stringify(doc),
    headers: { 'content-type': 'application/json' },
  });
  t.equal(j.status, 200);
  const got = up.requests.at(-1);
  t.same(JSON.parse(got.body), { name: 'x', source: 'edge', nested: { a: 1 } }, 'fields removed and set');
  t.equal(got.headers['content-length'], String(Buffer.byteLength(got.body)), 'content-length follows the new body');
  t.equal(got.headers['x-body-transform'], 'json');
  const chunked = await request(port, {
    method: 'POST',
    path: '/json',
    body: ['{"debug":1,', '"k":"v"}'],
    headers: { 'content-type': 'application/json' },
  });
  t.equal(chunked.status, 200);
  t.same(JSON.parse(up.requests.at(-1).body), { k: 'v', source: 'edge' }, 'a chunked JSON body is read whole');

  const n = up.requests.length;
  const bad = await request(port, {
    method: 'POST',
    path: '/json',
    body: '{"oops"',
    headers: { 'content-type': 'application/json' },
  });
  t.equal(bad.status, 400);
  t.equal(JSON.parse(bad.body).error, 'bad_request');
  const arr = await request(port, {
    method: 'POST',
    path: '/json',
    body: '[1]',
    headers: { 'content-type': 'application/json' },
  });
  t.equal(arr.status, 400);
  t.equal(up.requests.length, n, 'rejected bodies never reach the upstream');
  await request(port, { method: 'POST', path: '/json', body: 'debug=1', headers: { 'content-type': 'text/plain' } });
  t.equal(up.requests.at(-1).body, 'debug=1', 'other content types pass untouched');

  await request(port, { method: 'POST', path: '/other', body: 'my secret' });
  t.equal(up.requests.at(-1).body, 'my secret', 'mode "off" (the filter config) passes everything');
  t.equal(up.requests.at(-1).headers['content-length'], '9');

  const stats = await statsOf(adminPort);
  t.match(stats, /^dynamicmodulescustom\.bodyTransform\.redactions\.direction\.request: 3$/m);
  t.match(stats, /^dynamicmodulescustom\.bodyTransform\.redactions\.direction\.response: [1-9]\d*$/m);
  t.match(stats, /^dynamicmodulescustom\.bodyTransform\.json_rewrites\.result\.ok: 2$/m);
  t.match(stats, /^dynamicmodulescustom\.bodyTransform\.json_rewrites\.result\.rejected: 2$/m);
});

t.test('body-transform: a bad per-route mode is rejected at config time', async (t) => {
  const bad = await runHostExpectFailure(
    hostConfig({
      port: await freePort(),
      filters: [filter('body-transform', 'bodyTransform', {})],
      clusters: { upstream: 1 },
      routes: [{ prefix: '/', perFilter: perRoute('bodyTransform', { mode: 'rot13' }) }],
    }),
  );
  t.not(bad.code, 0);
  t.match(bad.stderr, /per-route config .*does not match the filter's schema/);
  t.match(bad.stderr, /redact/, "zod's message lists the valid modes");
});

// ------------------------------------------------------------------------------------------------
// rate-limit
// ------------------------------------------------------------------------------------------------

t.test('rate-limit: per-route token buckets, 429 with retry-after, metrics', async (t) => {
  const { up, port, adminPort } = await withHost(t, {
    // One worker: buckets are per worker, and the counts below are exact only with one.
    hostOpts: { concurrency: 1 },
    filters: [filter('rate-limit', 'rateLimit', { name: 'default', requests: 100, perSeconds: 60 })],
    routes: [
      { prefix: '/search', perFilter: perRoute('rateLimit', { name: 'search', requests: 2, perSeconds: 3600 }) },
      { prefix: '/login', perFilter: perRoute('rateLimit', { name: 'login', requests: 3, perSeconds: 3600 }) },
      {
        prefix: '/keyed',
        perFilter: perRoute('rateLimit', { name: 'keyed', requests: 1, perSeconds: 3600, keyHeader: 'x-api-key' }),
      },
      { prefix: '/fast', perFilter: perRoute('rateLimit', { name: 'fast', requests: 1, perSeconds: 0.3 }) },
      { prefix: '/healthz', perFilter: perRoute('rateLimit', { disabled: true }) },
      { prefix: '/' },
    ],
  });
  const statuses = async (p, n, headers = {}) => {
    const out = [];
    for (let i = 0; i < n; i++) out.push((await request(port, { path: p, headers })).status);
    return out;
  };

  t.same(await statuses('/search', 4), [200, 200, 429, 429], '/search allows 2');
  t.same(await statuses('/login', 5), [200, 200, 200, 429, 429], '/login allows 3 (its own bucket)');
  const limited = await request(port, { path: '/search/more' });
  t.equal(limited.status, 429);
  t.equal(limited.headers['retry-after'], '1800', 'retry-after: seconds until the next token');
  t.equal(limited.headers['x-ratelimit-remaining'], '0');
  t.same(JSON.parse(limited.body), { error: 'rate_limited', route: 'search', retryAfterSeconds: 1800 });
  t.same(await statuses('/healthz', 10), Array(10).fill(200), 'a disabled route is never limited');
  t.same(await statuses('/anything', 10), Array(10).fill(200), "other routes get the filter's limit");

  t.same(await statuses('/keyed', 2, { 'x-api-key': 'A' }), [200, 429], 'keyed by header: key A');
  t.same(await statuses('/keyed', 2, { 'x-api-key': 'B' }), [200, 429], 'key B has its own bucket');

  t.same(await statuses('/fast', 2), [200, 429]);
  const retry = Number((await request(port, { path: '/fast' })).headers['retry-after']);
  t.equal(retry, 1);
  await sleep(350);
  t.same(await statuses('/fast', 2), [200, 429], 'the bucket refills over time');

  const upstreamSaw = up.requests.filter((r) => r.path.startsWith('/search')).length;
  t.equal(upstreamSaw, 2, 'limited requests never reach the upstream');

  const stats = await statsOf(adminPort);
  const stat = (name) =>
    new RegExp(`^dynamicmodulescustom\\.rateLimit\\.${name.replace(/\./g, '\\.')}: (\\d+)$`, 'm').exec(stats)?.[1];
  t.equal(stat('requests.route.search.decision.allowed'), '2');
  t.equal(stat('requests.route.search.decision.limited'), '3');
  t.equal(stat('requests.route.login.decision.allowed'), '3');
  t.equal(stat('requests.route.login.decision.limited'), '2');
  t.equal(stat('requests.route.default.decision.allowed'), '10');
  t.equal(stat('tokens.route.default'), '90', 'the gauge shows the tokens left');
  t.equal(stat('tokens.route.search'), '0');
  t.equal(stat('requests.route.healthz.decision.allowed'), undefined, 'disabled routes record nothing');
});

t.test('rate-limit: limits are validated by schema at config time', async (t) => {
  const base = { port: await freePort(), clusters: { upstream: 1 } };
  const bad = await runHostExpectFailure(
    hostConfig({ ...base, filters: [filter('rate-limit', 'rateLimit', { requests: 0, perSeconds: 1 })] }),
  );
  t.match(bad.stderr, /filter_config\.config does not match the filter's schema.*requests/s);
  const badRoute = await runHostExpectFailure(
    hostConfig({
      ...base,
      filters: [filter('rate-limit', 'rateLimit', { requests: 1, perSeconds: 1 })],
      routes: [{ prefix: '/', perFilter: perRoute('rateLimit', { name: 'has space' }) }],
    }),
  );
  t.match(badRoute.stderr, /per-route config .*does not match the filter's schema.*metric label/s);
});

// ------------------------------------------------------------------------------------------------
// the shipped envoy.yaml files start as they are (ports and module paths moved for the test)
// ------------------------------------------------------------------------------------------------

for (const example of ['auth-jwt', 'body-transform', 'rate-limit']) {
  t.test(`${example}: examples/${example}/envoy.yaml loads and serves`, async (t) => {
    const app = await startUpstream();
    t.teardown(() => app.close());
    const port = await freePort();
    const adminPort = await freePort();
    let yaml = fs.readFileSync(path.join(root, 'examples', example, 'envoy.yaml'), 'utf8');
    yaml = yaml
      .replace(/port_value: 9901\b/g, `port_value: ${adminPort}`)
      .replace(/port_value: 10000\b/g, `port_value: ${port}`)
      .replace(/port_value: 10001\b/g, `port_value: ${app.port}`)
      .replace(/port_value: 10002\b/g, `port_value: ${await freePort()}`)
      .replace(/module: examples\//g, `module: ${root}/examples/`);
    const host = await startHost(yaml, { concurrency: 1 });
    t.teardown(() => host.stop());
    const r = await request(port, { method: 'POST', path: '/', body: 'x', agent: false });
    t.equal(r.status, example === 'auth-jwt' ? 401 : 200);
    t.match(
      await adminGet(adminPort, '/stats'),
      new RegExp(
        `dynamicmodulescustom\\.${example.replace(/-(\w)/g, (_, c) => c.toUpperCase())}\\.nodevoy\\.requests: 1`,
      ),
    );
  });
}

// ------------------------------------------------------------------------------------------------
// the API reference keeps up with the SDK
// ------------------------------------------------------------------------------------------------

function exportedNames(file) {
  const src = fs.readFileSync(file, 'utf8');
  const names = new Set();
  for (const m of src.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const part of m[1].split(',')) {
      const name = part
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)
        .pop()
        ?.trim();
      if (name) names.add(name);
    }
  }
  for (const m of src.matchAll(
    /export\s+(?:declare\s+)?(?:async\s+)?(?:function\*?|const|let|class|interface|type|enum|abstract\s+class)\s+([A-Za-z_$][\w$]*)/g,
  ))
    names.add(m[1]);
  return names;
}

t.test('README.md "## API reference" names every export of lib/index.ts (and of lib/testing/index.ts)', async (t) => {
  const names = exportedNames(path.join(root, 'lib', 'index.ts'));
  t.ok(names.size >= 20, `found the SDK's exports (${names.size})`);
  t.ok(names.has('defineFilter') && names.has('FetchError') && names.has('BodyChunk'));
  const kit = path.join(root, 'lib', 'testing', 'index.ts');
  const kitNames = fs.existsSync(kit) ? exportedNames(kit) : new Set();
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## API reference');
  if (!t.ok(start >= 0, 'README.md has an "## API reference" section')) return;
  const rest = readme.slice(start + 1);
  const next = rest.slice(3).search(/^## /m);
  const section = next < 0 ? rest : rest.slice(0, next + 3);
  const documented = (name) => new RegExp(`\\b${name.replace(/\$/g, '\\$')}\\b`).test(section);
  for (const name of names) t.ok(documented(name), `${name} is documented`);
  if (kitNames.size) t.match(section, /nodevoy\/testing/, 'the test kit is documented');
  for (const name of kitNames) t.ok(documented(name), `nodevoy/testing: ${name} is documented`);
});
