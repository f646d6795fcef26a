// Generated code is never edited by hand: the committed outputs of scripts/gen-binding.mjs must be what the
// spec produces now, and the check must notice a spec change that was not regenerated.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot } from './lib/harness.mjs';

const check = (root) =>
  spawnSync(process.execPath, [path.join(root, 'scripts', 'gen-binding.mjs'), '--check'], { encoding: 'utf8' });

t.test('the committed binding, enums and attribute table are what native/binding.spec.json generates', async (t) => {
  const r = check(repoRoot);
  t.equal(r.status, 0, r.stderr);
});

t.test('--check fails, naming the file, when the spec changed and the outputs were not regenerated', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-gen-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const rel of ['scripts/gen-binding.mjs', 'native/binding.spec.json', 'native/generated', 'lib/generated']) {
    fs.cpSync(path.join(repoRoot, rel), path.join(dir, rel), { recursive: true });
  }
  t.equal(check(dir).status, 0, 'a faithful copy passes');
  const specFile = path.join(dir, 'native/binding.spec.json');
  const spec = JSON.parse(fs.readFileSync(specFile, 'utf8'));
  spec.enums.Outcome.values.Timeout = 5;
  fs.writeFileSync(specFile, JSON.stringify(spec, null, 2));
  const r = check(dir);
  t.equal(r.status, 1);
  t.match(r.stderr, /stale generated file: native\/generated\/enums\.gen\.h/);
  t.match(r.stderr, /stale generated file: lib\/generated\/enums\.ts/);
});

t.test('--check fails when a call native makes into JS changed in the spec (both sides are generated)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-gen-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const rel of ['scripts/gen-binding.mjs', 'native/binding.spec.json', 'native/generated', 'lib/generated']) {
    fs.cpSync(path.join(repoRoot, rel), path.join(dir, rel), { recursive: true });
  }
  const specFile = path.join(dir, 'native/binding.spec.json');
  const spec = JSON.parse(fs.readFileSync(specFile, 'utf8'));
  const dispatch = spec.runtime.functions.find((f) => f.name === 'dispatch');
  dispatch.args.push(['extra', 'number']);
  fs.writeFileSync(specFile, JSON.stringify(spec, null, 2));
  const r = check(dir);
  t.equal(r.status, 1);
  t.match(
    r.stderr,
    /stale generated file: native\/generated\/runtime_api\.gen\.h/,
    'the C++ call table (arity) changes',
  );
  t.match(r.stderr, /stale generated file: lib\/generated\/runtime-api\.ts/, 'the RuntimeApi interface changes');
});
