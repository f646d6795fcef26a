// `nodevoy build`: bundles the package's filters into one CommonJS file with a source map (esbuild), so
// npm dependencies ship inside it. A dependency with a native addon cannot be bundled: it is kept beside
// the bundle (dist/node_modules/<name>) and, when it builds from source (binding.gyp), rebuilt with
// node-gyp against the embedded Node's headers, since an addon compiled for the machine's Node does not
// load in Envoy's Node 18. Prebuilt N-API addons (no binding.gyp) are copied as they are: N-API is stable
// across Node versions.
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { nodeGyp } from '../dist/lib/node-gyp.js';

/** Where setup extracts Debian's libnode 18 with its headers (include/node). */
export const DEFAULT_NODE_HEADERS = process.env.NODEVOY_NODE_HEADERS || '/opt/nodevoy/libnode18/usr';

function packageDir(from, name) {
  let dir = from;
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

function hasNodeFile(dir, depth = 0) {
  if (depth > 4) return false;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isFile() && e.name.endsWith('.node')) return true;
    if (e.isDirectory() && e.name !== 'node_modules' && hasNodeFile(path.join(dir, e.name), depth + 1)) return true;
  }
  return false;
}

/** How a package loads native code: 'source' (binding.gyp), 'prebuilt' (.node files, or napi-rs platform packages), or undefined. */
export function nativeKind(dir) {
  const pj = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  if (fs.existsSync(path.join(dir, 'binding.gyp')) || pj.gypfile) return 'source';
  if (pj.napi || hasNodeFile(dir)) return 'prebuilt';
  return undefined;
}

/** A package and its runtime dependencies (the installed ones), each with the directory it lives in. */
function withDependencies(root, name, seen = new Map()) {
  if (seen.has(name)) return seen;
  const dir = packageDir(root, name);
  if (!dir) return seen;
  seen.set(name, dir);
  const pj = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  for (const dep of [...Object.keys(pj.dependencies ?? {}), ...Object.keys(pj.optionalDependencies ?? {})])
    withDependencies(dir, dep, seen);
  return seen;
}

/** The Node version whose headers are in `headers` (the directory holding include/node). */
export function nodeVersionOf(headers) {
  const h = fs.readFileSync(path.join(headers, 'include/node/node_version.h'), 'utf8');
  const part = (n) => new RegExp(`#define NODE_${n}_VERSION (\\d+)`).exec(h)?.[1];
  return `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
}

function rebuild(name, dir, headers, nodeVersion) {
  if (!nodeVersion)
    throw new Error(
      `${name} has a native addon that must be compiled for Envoy's Node 18, but the Node 18 headers are not at ${headers}/include/node (set NODEVOY_NODE_HEADERS or --node-headers to the directory holding include/node, or run nodevoy's setup)`,
    );
  try {
    nodeGyp(dir, ['rebuild', `--nodedir=${headers}`, `--target=${nodeVersion}`]);
  } catch (e) {
    throw new Error(
      `${name}: rebuilding its native addon for Node ${nodeVersion} failed (it needs a C++ toolchain and python3): ${e.message}`,
    );
  }
}

/**
 * Bundles project.entryPath into project.outPath (+ .map) and, unless `natives` is false, lays out the native
 * addons beside it. Returns {outfile, bytes, natives: [{name, kind}]}.
 * Throws with esbuild's messages when the sources do not compile.
 */
export async function buildFilters(
  project,
  { headers = DEFAULT_NODE_HEADERS, natives: copyNatives = true, log = () => {} } = {},
) {
  const pjPath = path.join(project.dir, 'package.json');
  if (!fs.existsSync(pjPath))
    throw new Error(
      `no package.json in ${project.dir}: run nodevoy build in a filter package (nodevoy init makes one)`,
    );
  if (!fs.existsSync(project.entryPath))
    throw new Error(
      `the filters source ${project.entryPath} does not exist (set "entry" in nodevoy.json or pass --entry)`,
    );
  const pj = JSON.parse(fs.readFileSync(pjPath, 'utf8'));
  const natives = [];
  for (const dep of Object.keys(pj.dependencies ?? {})) {
    const dir = packageDir(project.dir, dep);
    if (!dir) continue;
    const kind = nativeKind(dir) ?? [...withDependencies(project.dir, dep).values()].map(nativeKind).find(Boolean);
    if (kind) natives.push({ name: dep, kind });
  }
  const result = await build({
    entryPoints: [project.entryPath],
    outfile: project.outPath,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node18',
    sourcemap: true,
    sourcesContent: false,
    external: natives.map((n) => n.name),
    logLevel: 'silent',
  });
  for (const w of result.warnings) log(`warning: ${w.text}`);
  const modules = path.join(path.dirname(project.outPath), 'node_modules');
  if (!copyNatives) return { outfile: project.outPath, bytes: fs.statSync(project.outPath).size, natives };
  const nodeVersion = fs.existsSync(path.join(headers, 'include/node/node_version.h')) ? nodeVersionOf(headers) : '';
  for (const n of natives) {
    for (const [name, dir] of withDependencies(project.dir, n.name)) {
      const dest = path.join(modules, name);
      // A package already laid out from the same installed version (and rebuilt for the same Node) is kept:
      // rebuilding an addon takes a minute.
      const stamp = `${fs.readFileSync(path.join(dir, 'package.json'), 'utf8')}\n${nodeVersion}`;
      const stampFile = path.join(dest, '.nodevoy-layout');
      if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) continue;
      fs.rmSync(dest, { recursive: true, force: true });
      fs.cpSync(dir, dest, { recursive: true, dereference: true });
      if (nativeKind(dest) === 'source') {
        log(`rebuilding ${name} for Envoy's Node ${nodeVersion} (node-gyp)`);
        rebuild(name, dest, headers, nodeVersion);
      }
      fs.writeFileSync(stampFile, stamp);
    }
  }
  return { outfile: project.outPath, bytes: fs.statSync(project.outPath).size, natives };
}
