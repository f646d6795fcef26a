// The public types guard the API: test/types/compiles.ts must type-check against the published
// declarations (dist/lib/*.d.ts, through the package's own name), and every mistake in
// test/types/rejects.ts must fail to (each sits under @ts-expect-error, which fails when unused).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './lib/harness.mjs';

t.test('the public types accept correct filters and reject the guarded mistakes', async (t) => {
  const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(repoRoot, 'test', 'types', 'tsconfig.json')], {
    encoding: 'utf8',
  });
  t.equal(r.status, 0, r.stdout || 'tsc reported nothing');
});

t.test('internal members are not in the published declarations', async (t) => {
  const fs = await import('node:fs');
  const dts = (f) => fs.readFileSync(path.join(repoRoot, 'dist', 'lib', f), 'utf8');
  for (const [file, names] of Object.entries({
    'body.d.ts': ['deliver', 'abort'],
    'headers.d.ts': ['StreamHandle'],
    'index.d.ts': ['NativeBinding'],
  })) {
    for (const n of names) t.notMatch(dts(file), new RegExp(`\\b${n}\\b`), `${file} does not mention ${n}`);
  }
});
