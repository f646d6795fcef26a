// A filter package as the CLI sees it: nodevoy.json in the package root, overridden by flags.
//
//   {
//     "entry": "src/filter.ts",          the filters' source (every defineFilter export)
//     "outfile": "dist/filter.js",       the bundle `nodevoy build` writes
//     "filters": [{"name": "hello", "config": {}}],   the exports to run, in chain order, with their config
//     "listen": "127.0.0.1:10000",       Envoy's listener
//     "admin": "127.0.0.1:9901",         Envoy's admin interface
//     "upstreams": {"upstream": "127.0.0.1:8080"}    clusters; requests are routed to "upstream"
//   }
import fs from 'node:fs';
import path from 'node:path';

export const PROJECT_FILE = 'nodevoy.json';

const DEFAULTS = {
  entry: 'src/filter.ts',
  outfile: 'dist/filter.js',
  filters: [],
  listen: '127.0.0.1:10000',
  admin: '127.0.0.1:9901',
  upstreams: { upstream: '127.0.0.1:8080' },
};

/** The package at `dir` with flags applied; throws with a message naming what is wrong. */
export function loadProject(dir, flags = {}, { requireFilters = true } = {}) {
  const file = path.join(dir, PROJECT_FILE);
  let fromFile = {};
  if (fs.existsSync(file)) {
    try {
      fromFile = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(`${file}: ${e.message}`);
    }
    if (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile))
      throw new Error(`${file}: expected a JSON object`);
    const unknown = Object.keys(fromFile).filter((k) => !(k in DEFAULTS));
    if (unknown.length) throw new Error(`${file}: unknown key(s) ${unknown.join(', ')}`);
  }
  const p = { ...DEFAULTS, ...fromFile };
  if (flags.entry) p.entry = flags.entry;
  if (flags.outfile) p.outfile = flags.outfile;
  if (flags.listen) p.listen = flags.listen;
  if (flags.admin) p.admin = flags.admin;
  if (flags.upstream?.length) {
    p.upstreams = { ...p.upstreams };
    for (const u of flags.upstream) {
      const eq = u.indexOf('=');
      if (eq > 0) p.upstreams[u.slice(0, eq)] = u.slice(eq + 1);
      else p.upstreams.upstream = u;
    }
  }
  if (flags.filter?.length) p.filters = flags.filter.map((name) => ({ name, config: {} }));
  if (!Array.isArray(p.filters) || p.filters.some((f) => typeof f?.name !== 'string'))
    throw new Error(`${PROJECT_FILE}: "filters" must be a list of {"name": "<export>", "config": {...}}`);
  if (requireFilters && p.filters.length === 0)
    throw new Error(`no filters to run: list them in ${PROJECT_FILE} or pass --filter <export>`);
  return { ...p, dir, entryPath: path.resolve(dir, p.entry), outPath: path.resolve(dir, p.outfile) };
}
