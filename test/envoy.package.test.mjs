// The release bundle (scripts/package.mjs, `npm run package`) on real Envoy, as a machine without this
// repository would run it: the tarball is unpacked into an empty directory outside the repo, a filter
// written in TypeScript is bundled with esbuild (the SDK inlined), and Envoy runs in a mount namespace
// where the repository's build/ and dist/ and the machine's libnode (/opt/nodevoy) are hidden and
// /usr/share/nodejs is the bundle's share/nodejs. Traffic must flow through the filter, and Envoy must have
// mapped libnodevoy and libnode from the unpacked bundle.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { buildPackage } from '../scripts/package.mjs';
import {
  buildDir,
  freePort,
  hostConfig,
  onEnvoy,
  proxy,
  repoRoot,
  request,
  startHost,
  startUpstream,
} from './lib/harness.mjs';

const LIBNODE_PREFIX = process.env.NODEVOY_LIBNODE_PREFIX || '/opt/nodevoy/libnode18';

const FILTER_TS = `import { defineFilter } from 'nodevoy';
export const stamp = defineFilter<{ tag: string }>({
  onRequestHeaders(req, ctx) {
    req.headers.set('x-packaged', ctx.config.tag);
  },
  onResponseHeaders(res) {
    res.headers.set('x-node', process.version);
  },
});
`;

t.test('the release bundle serves traffic through real Envoy from a directory outside the repository', async (t) => {
  if (!onEnvoy) {
    t.pass('runs on the real-Envoy passes (the bundle is for Envoy)');
    return;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-package-'));
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
  t.notOk(work.startsWith(repoRoot), 'the directory is outside the repository');

  const { tarball, name } = buildPackage({ out: path.join(work, 'out'), build: false });
  const installDir = path.join(work, 'install');
  fs.mkdirSync(installDir);
  execFileSync('tar', ['-xzf', tarball, '-C', installDir]);
  const bundleDir = path.join(installDir, name);
  const manifest = JSON.parse(fs.readFileSync(path.join(bundleDir, 'manifest.json'), 'utf8'));
  t.equal(manifest.node.version.split('.')[0], '18', 'the manifest names the embedded Node');
  t.ok(manifest.envoy.tested.includes(proxy.version), `the manifest lists Envoy ${proxy.version} as tested`);
  const bad = Object.entries(manifest.files).filter(
    ([rel, sum]) =>
      createHash('sha256')
        .update(fs.readFileSync(path.join(bundleDir, rel)))
        .digest('hex') !== sum,
  );
  t.same(bad, [], 'every file matches its sha256 in the manifest');
  for (const so of ['libnodevoy.so', 'libnode.so.108']) {
    const dyn = execFileSync('readelf', ['-d', path.join(bundleDir, 'lib', so)], { encoding: 'utf8' });
    t.match(dyn, /RUNPATH.*\[\$ORIGIN\]/, `${so} finds its libraries through $ORIGIN`);
  }

  // A user's filter package, bundled: the SDK comes from this repository's sources, inlined.
  const filterDir = path.join(work, 'filters');
  fs.mkdirSync(filterDir);
  fs.writeFileSync(path.join(filterDir, 'filter.ts'), FILTER_TS);
  await build({
    entryPoints: [path.join(filterDir, 'filter.ts')],
    outfile: path.join(filterDir, 'dist', 'filter.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node18',
    alias: { nodevoy: path.join(repoRoot, 'lib', 'index.ts') },
    logLevel: 'silent',
  });

  const up = await startUpstream();
  t.teardown(() => up.close());
  const port = await freePort();
  const yaml = hostConfig({
    port,
    adminPort: await freePort(),
    clusters: { upstream: up.port },
    filters: [
      {
        module: 'nodevoy',
        filterName: 'stamp',
        config: { module: path.join(filterDir, 'dist', 'filter.js'), config: { tag: 'from-the-bundle' } },
      },
    ],
  });
  // Envoy in its own mount namespace: nothing of the build tree or the machine's libnode is visible.
  const hide = [LIBNODE_PREFIX, path.join(repoRoot, 'build'), path.join(repoRoot, 'dist'), buildDir]
    .filter((d) => fs.existsSync(d))
    .map((d) => `mount -t tmpfs tmpfs '${d}'`);
  const script = [
    `mount --bind '${path.join(bundleDir, 'share', 'nodejs')}' /usr/share/nodejs`,
    ...hide,
    'exec "$0" "$@"',
  ].join(' && ');
  const wrapped = { ...proxy, wrapper: ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script] };
  const envoy = await startHost(yaml, {
    proxy: wrapped,
    concurrency: 1,
    searchPath: path.join(bundleDir, 'lib'),
    env: { NODEVOY_RUNTIME: '' },
  });
  t.teardown(() => envoy.stop());

  const r = await request(port, { path: '/packaged', agent: false });
  t.equal(r.status, 200, r.status === 200 ? 'a request through Envoy' : envoy.stderr().slice(-2000));
  t.equal(up.requests.at(-1)?.headers['x-packaged'], 'from-the-bundle', 'the filter rewrote the request');
  t.match(r.headers['x-node'], /^v18\./, 'the filter ran on the bundled Node 18');

  // Which files the Envoy process mapped (its pid is the exec'd Envoy, inside the namespace).
  const maps = fs.readFileSync(`/proc/${envoy.proc.pid}/maps`, 'utf8');
  const mapped = (so) => [
    ...new Set(
      maps
        .split('\n')
        .filter((l) => l.endsWith(`/${so}`))
        .map((l) => l.split(/\s+/).at(-1)),
    ),
  ];
  t.same(mapped('libnodevoy.so'), [path.join(bundleDir, 'lib', 'libnodevoy.so')], 'libnodevoy.so from the bundle');
  t.same(mapped('libnode.so.108'), [path.join(bundleDir, 'lib', 'libnode.so.108')], 'libnode from the bundle');
  t.same(mapped('libicuuc.so.72'), [path.join(bundleDir, 'lib', 'libicuuc.so.72')], "libnode's own dependencies too");
});
