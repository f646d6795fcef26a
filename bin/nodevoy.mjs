#!/usr/bin/env node
// The nodevoy command line: init, build, envoy-config, dev. `nodevoy <command> --help` describes each.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { buildFilters, DEFAULT_NODE_HEADERS } from '../cli/build.mjs';
import { startDev } from '../cli/dev.mjs';
import { staticBootstrap } from '../cli/envoy-config.mjs';
import { initPackage } from '../cli/init.mjs';
import { buildModule } from '../cli/module.mjs';
import { loadProject } from '../cli/project.mjs';

const { version } = JSON.parse(
  fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'package.json'), 'utf8'),
);
const collect = (v, all) => [...all, v];
const projectFlags = (cmd) =>
  cmd
    .option('--entry <file>', 'the filters source (default: nodevoy.json "entry", else src/filter.ts)')
    .option('--outfile <file>', 'the bundle to write (default: dist/filter.js)')
    .option(
      '--filter <export>',
      'a filter to run, in chain order (repeatable; replaces nodevoy.json "filters")',
      collect,
      [],
    )
    .option('--listen <host:port>', "Envoy's listener (default 127.0.0.1:10000)")
    .option('--admin <host:port>', "Envoy's admin interface (default 127.0.0.1:9901)")
    .option('--upstream <[name=]host:port>', 'a cluster; requests go to "upstream" (repeatable)', collect, []);

function fail(e) {
  console.error(`nodevoy: ${e.message}`);
  process.exit(1);
}

const program = new Command('nodevoy')
  .description('Envoy HTTP filters in TypeScript: create, build, configure and run a filter package')
  .version(version);

program
  .command('init')
  .description('create a filter package: a TypeScript filter, a unit test, nodevoy.json, envoy.yaml and npm scripts')
  .argument('<dir>', 'the new package (an empty or missing directory)')
  .option('--nodevoy <spec>', 'the nodevoy dependency to write into package.json', `^${version}`)
  .action((dir, opts) => {
    try {
      const { dir: at, name } = initPackage(dir, { nodevoySpec: opts.nodevoy });
      console.log(
        `created ${name} in ${at}\nnext: cd ${path.relative(process.cwd(), at) || '.'} && npm install && npm test`,
      );
    } catch (e) {
      fail(e);
    }
  });

projectFlags(
  program
    .command('build')
    .description(
      "bundle the filters (esbuild, with a source map); native addons are laid out beside the bundle and rebuilt for Envoy's Node 18",
    )
    .option(
      '--node-headers <dir>',
      "the directory holding Node 18's include/node, for native addons",
      DEFAULT_NODE_HEADERS,
    ),
).action(async (opts) => {
  try {
    const project = loadProject(process.cwd(), opts, { requireFilters: false });
    const r = await buildFilters(project, { headers: opts.nodeHeaders, log: (m) => console.log(m) });
    const rel = path.relative(process.cwd(), r.outfile);
    console.log(`${rel}  ${(r.bytes / 1024).toFixed(1)} KB (+ ${rel}.map)`);
    for (const n of r.natives)
      console.log(`  ${n.name}: native addon (${n.kind}), in ${path.dirname(rel)}/node_modules`);
  } catch (e) {
    if (e.errors) fail(new Error(e.errors.map((m) => `${m.location?.file}:${m.location?.line}: ${m.text}`).join('\n')));
    fail(e);
  }
});

projectFlags(
  program
    .command('envoy-config')
    .description(
      'write an Envoy bootstrap for the package: listener, route to the "upstream" cluster, the filters, admin',
    )
    .option('-o, --out <file>', 'where to write it', 'envoy.yaml')
    .option('--access-log', 'log every request to stdout'),
).action((opts) => {
  try {
    const p = loadProject(process.cwd(), opts);
    const filters = p.filters.map((f) => ({ ...f, module: p.outPath }));
    fs.writeFileSync(
      opts.out,
      staticBootstrap({ listen: p.listen, admin: p.admin, upstreams: p.upstreams, filters, accessLog: opts.accessLog }),
    );
    console.log(
      `wrote ${opts.out} (filters: ${p.filters.map((f) => f.name).join(', ')}; bundle ${path.relative(process.cwd(), p.outPath)})`,
    );
  } catch (e) {
    fail(e);
  }
});

projectFlags(
  program
    .command('dev')
    .description('build, run the filters in real Envoy, and reload them on every save without restarting Envoy')
    .option('--envoy <path>', 'the Envoy binary (default: $ENVOY_BIN, else envoy on PATH)')
    .option('--module-dir <dir>', 'the directory holding libnodevoy.so (default: $NODEVOY_MODULE_DIR)')
    .option('--concurrency <n>', 'Envoy worker threads', '1')
    .option('--verbose', "print all of Envoy's log"),
).action(async (opts) => {
  try {
    const project = loadProject(process.cwd(), opts);
    await startDev(project, {
      envoy: opts.envoy,
      moduleDir: opts.moduleDir,
      concurrency: Number(opts.concurrency),
      verbose: opts.verbose,
      signals: true,
    });
  } catch (e) {
    fail(e);
  }
});

program
  .command('build-module')
  .description(
    "compile libnodevoy.so from this package's sources with cmake-js (needs a C++ toolchain, CMake, libuv headers and Debian's libnode 18)",
  )
  .option(
    '--libnode <prefix>',
    "where Debian's libnode108 and libnode-dev are extracted (default: $NODEVOY_LIBNODE_PREFIX or /opt/nodevoy/libnode18)",
  )
  .action((opts) => {
    try {
      const so = buildModule({ libnodePrefix: opts.libnode });
      console.log(
        `${so}\nnodevoy dev finds it there; for Envoy, set ENVOY_DYNAMIC_MODULES_SEARCH_PATH=${path.dirname(so)}`,
      );
    } catch (e) {
      fail(e);
    }
  });

program.parseAsync();
