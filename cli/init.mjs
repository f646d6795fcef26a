// `nodevoy init <dir>`: a new filter package (cli/template/): one TypeScript filter, a unit test with
// nodevoy/testing, nodevoy.json, npm scripts, and an envoy.yaml written for it.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { staticBootstrap } from './envoy-config.mjs';
import { loadProject, PROJECT_FILE } from './project.mjs';

const templates = path.join(path.dirname(fileURLToPath(import.meta.url)), 'template');
const ownVersion = JSON.parse(fs.readFileSync(path.join(templates, '..', '..', 'package.json'), 'utf8')).version;

/** Writes the package; refuses a directory that has files in it. `nodevoySpec` is the dependency spec. */
export function initPackage(dir, { nodevoySpec = `^${ownVersion}` } = {}) {
  const target = path.resolve(dir);
  if (fs.existsSync(target) && fs.readdirSync(target).length > 0)
    throw new Error(`${target} is not empty: nodevoy init writes a new package into an empty or missing directory`);
  fs.mkdirSync(target, { recursive: true });
  const name =
    path
      .basename(target)
      .toLowerCase()
      .replace(/[^a-z0-9._-]/g, '-') || 'filters';
  fs.cpSync(templates, target, { recursive: true });
  fs.renameSync(path.join(target, 'gitignore'), path.join(target, '.gitignore')); // npm drops .gitignore from packs
  const readme = path.join(target, 'README.md');
  fs.writeFileSync(readme, fs.readFileSync(readme, 'utf8').replace('__NAME__', name));
  const pkg = {
    name,
    version: '0.1.0',
    private: true,
    scripts: {
      build: 'nodevoy build',
      test: 'nodevoy build && node --test',
      dev: 'nodevoy dev',
      'envoy-config': 'nodevoy envoy-config',
    },
    dependencies: { nodevoy: nodevoySpec },
  };
  fs.writeFileSync(path.join(target, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  const project = { filters: [{ name: 'hello', config: { greeting: 'hello from nodevoy' } }] };
  fs.writeFileSync(path.join(target, PROJECT_FILE), `${JSON.stringify(project, null, 2)}\n`);
  const p = loadProject(target);
  const filters = p.filters.map((f) => ({ ...f, module: p.outPath }));
  fs.writeFileSync(
    path.join(target, 'envoy.yaml'),
    staticBootstrap({ listen: p.listen, admin: p.admin, upstreams: p.upstreams, filters }),
  );
  return { dir: target, name };
}
