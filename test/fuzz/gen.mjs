// Seeded random generation and mutation for the two fuzz targets (test/fuzz/README.md).
// Everything is driven by one PRNG so a run is reproducible from its seed.

export function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), // inclusive
    chance: (p) => next() < p,
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    weighted(entries) {
      let total = 0;
      for (const [, w] of entries) total += w;
      let x = next() * total;
      for (const [v, w] of entries) {
        x -= w;
        if (x < 0) return v;
      }
      return entries[entries.length - 1][0];
    },
  };
  return r;
}

// ------------------------------------------------------------------------------------------------
// strings
// ------------------------------------------------------------------------------------------------

const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const range = (lo, hi) => Array.from({ length: hi - lo + 1 }, (_, i) => String.fromCharCode(lo + i));
const CLASSES = {
  tok: [...TOKEN_CHARS],
  print: range(0x20, 0x7e),
  ws: [' ', '\t'],
  ctl: [...range(0x01, 0x08), '\x0b', '\x0c', ...range(0x0e, 0x1f), '\x7f'],
  cr: ['\r'],
  lf: ['\n'],
  nul: ['\0'],
  crlf: ['\r\n'],
  sep: [':', ';', ',', '=', '"', '(', ')', '/', '@', '[', ']', '?', '{', '}', '\\'],
  latin1: range(0x80, 0xff),
  bmp: null, // generated
  astral: null,
  lone: null,
};
const CLASS_NAMES = Object.keys(CLASSES);

function charOf(r, cls) {
  switch (cls) {
    case 'bmp': {
      const c = r.chance(0.5) ? r.int(0x100, 0xd7ff) : r.int(0xe000, 0xfffd);
      return String.fromCharCode(c);
    }
    case 'astral':
      return String.fromCodePoint(r.int(0x10000, 0x10ffff));
    case 'lone':
      return String.fromCharCode(r.int(0xd800, 0xdfff));
    default:
      return r.pick(CLASSES[cls]);
  }
}

function lengthOf(r) {
  return r.weighted([
    [r.int(0, 0), 3],
    [r.int(1, 16), 60],
    [r.int(17, 256), 25],
    [r.int(257, 4096), 6],
    [r.int(4097, 40000), 1],
  ]);
}

/** A string from a mix of 1-3 character classes (the first class dominates). */
export function randString(r, { base = 'print', extra = 0.3, len } = {}) {
  const n = len ?? lengthOf(r);
  const classes = [base];
  if (r.chance(extra)) classes.push(r.pick(CLASS_NAMES));
  if (r.chance(extra / 3)) classes.push(r.pick(CLASS_NAMES));
  let s = '';
  for (let i = 0; i < n; i++) s += charOf(r, i === 0 || r.chance(0.75) ? classes[0] : r.pick(classes));
  // bad bytes at the edges are their own case
  if (r.chance(0.05)) s = charOf(r, r.pick(['cr', 'lf', 'nul', 'crlf', 'ws', 'lone'])) + s;
  if (r.chance(0.05)) s += charOf(r, r.pick(['cr', 'lf', 'nul', 'crlf', 'ws', 'lone']));
  return s;
}

// ------------------------------------------------------------------------------------------------
// header program values
// ------------------------------------------------------------------------------------------------

export const NAME_DICT = [
  'x-a',
  'x-b',
  'X-Mixed-Case',
  'x-seed-0',
  'x-seed-1',
  'x-up-seed',
  'content-type',
  'content-length',
  'transfer-encoding',
  'connection',
  'host',
  'set-cookie',
  'cookie',
  'x-nodevoy-fuzz-results',
  'x-request-id',
  'x-forwarded-proto',
  'te',
  'upgrade',
  'keep-alive',
  'trailer',
  'date',
  'server',
  'location',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'a',
  '0',
  "!#$%&'*+-.^_`|~",
];
const PSEUDO = [':path', ':method', ':authority', ':scheme', ':status', ':protocol', ':x'];

// Values JSON cannot carry travel tagged (test/js/fault-filters.cjs decode()).
export function nonString(r) {
  return r.pick([
    null,
    0,
    1,
    -1,
    1.5,
    404,
    true,
    false,
    [],
    ['a'],
    { a: 'b' },
    { $: 'undefined' },
    { $: 'NaN' },
    { $: 'Infinity' },
    { $: '-0' },
    { $: 'bigint', v: '7' },
    { $: 'symbol' },
    { $: 'bytes', v: 'eA==' },
    { $: 'object' },
    { $: 'fn' },
  ]);
}

export function genName(r) {
  return r.weighted([
    [() => r.pick(NAME_DICT), 30],
    [() => (r.chance(0.5) ? 'x-' : '') + randString(r, { base: 'tok', extra: 0, len: r.int(1, 24) }), 30],
    [() => r.pick(PSEUDO), 6],
    [() => `:${randString(r, { base: 'tok', extra: 0, len: r.int(1, 8) })}`, 2],
    [() => randString(r, { base: 'tok', extra: 1, len: r.int(1, 24) }), 20], // tokens with a foreign class mixed in
    [
      () =>
        r.pick(NAME_DICT) + charOf(r, r.pick(['cr', 'lf', 'nul', 'crlf', 'ws', 'ctl', 'sep', 'latin1', 'bmp', 'lone'])),
      8,
    ],
    [() => '', 1],
    [() => nonString(r), 3],
  ])();
}

export function genValue(r) {
  return r.weighted([
    [() => randString(r, { base: 'print', extra: 0.4 }), 55],
    [() => randString(r, { base: r.pick(CLASS_NAMES), extra: 0.5 }), 25],
    [
      () =>
        r.pick([
          '',
          ' ',
          '\t',
          'a\r\nx-injected: 1',
          'a\nb',
          'a\rb',
          'a\0b',
          '\r\n',
          'v ',
          ' v',
          '\u0085',
          '\u2028',
          '\ud800',
          '\udc00x',
          '😀',
        ]),
      12,
    ],
    [() => nonString(r), 4],
    [() => String(r.int(0, 1e6)), 4],
  ])();
}

// ------------------------------------------------------------------------------------------------
// header programs
// ------------------------------------------------------------------------------------------------

export function genOp(r, phase, mode) {
  const kind = r.weighted([
    ['set', 25],
    ['append', 15],
    ['delete', 8],
    ['get', 10],
    ['getAll', 5],
    ['has', 4],
    ['entries', 2],
    ['meta', 5],
    ['fs', 5],
    ['respond', phase === 'req' ? 3 : 2],
    ['status', phase === 'res' ? 5 : 0],
    ['sleep', mode === 'async' ? 4 : 0],
    ['body', mode === 'async' ? 1 : 0],
    ['throw', 0.2],
  ]);
  switch (kind) {
    case 'set':
    case 'append':
      return { op: kind, name: genName(r), value: genValue(r) };
    case 'delete':
    case 'get':
    case 'getAll':
    case 'has':
      return { op: kind, name: genName(r) };
    case 'entries':
    case 'throw':
    case 'body':
      return { op: kind };
    case 'sleep':
      return { op: kind, ms: r.pick([0, 0, 1, 2, 5, 20]) };
    case 'meta':
      return {
        op: kind,
        ns: r.chance(0.8) ? r.pick(['fuzz', 'envoy.lb', '']) : genValue(r),
        name: r.chance(0.6) ? r.pick(['k', 'k2', '']) : genValue(r),
        value: r.chance(0.7)
          ? genValue(r)
          : r.pick([0, 1.5, -3, true, false, { $: 'NaN' }, { $: 'Infinity' }, { $: '-0' }, 1e308]),
      };
    case 'fs':
      return {
        op: kind,
        name: r.chance(0.6) ? r.pick(['s', 's2', '']) : genValue(r),
        value: r.chance(0.8)
          ? genValue(r)
          : { $: 'bytes', v: Buffer.from(randString(r, { base: 'latin1' }), 'latin1').toString('base64') },
      };
    case 'status':
      return {
        op: kind,
        value: r.weighted([
          [r.int(100, 599), 8],
          [r.int(-5, 1000), 1],
          [nonString(r), 1],
          [r.pick([200.5, '200', 0, 600, 99]), 1],
        ]),
      };
    case 'respond': {
      const headers = {};
      const n = r.weighted([
        [0, 3],
        [r.int(1, 4), 6],
        [r.int(5, 20), 1],
      ]);
      for (let i = 0; i < n; i++) {
        const nm = genName(r);
        // defineProperty: a "__proto__" name stays an own key (plain assignment would set the prototype)
        Object.defineProperty(headers, typeof nm === 'string' ? nm : String(i), {
          value: genValue(r),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return {
        op: kind,
        status: r.weighted([
          [r.pick([200, 201, 204, 302, 403, 418, 500, 503, 599]), 8],
          [r.int(-1, 700), 2],
          [nonString(r), 1],
        ]),
        headers: r.chance(0.95) ? headers : nonString(r),
      };
    }
    default:
      throw new Error(kind);
  }
}

/** Client-sent seed headers: names x-seed-N, values as bytes (base64) the host's parser accepts. */
function genSeeds(r) {
  const seeds = [];
  const n = r.weighted([
    [0, 5],
    [1, 3],
    [2, 2],
  ]);
  for (let i = 0; i < n; i++) {
    const len = r.int(1, 40);
    const bytes = [];
    for (let j = 0; j < len; j++) {
      bytes.push(
        r.weighted([
          [r.int(0x21, 0x7e), 8],
          [r.int(0x80, 0xff), 3],
          [0x20, 1],
          [0x09, 0.5],
        ]),
      );
    }
    // no leading/trailing whitespace: HTTP parsers strip it
    while (bytes.length && (bytes[0] === 0x20 || bytes[0] === 0x09)) bytes.shift();
    while (bytes.length && (bytes.at(-1) === 0x20 || bytes.at(-1) === 0x09)) bytes.pop();
    if (!bytes.length) bytes.push(0x61);
    seeds.push({ name: `x-seed-${i}`, value: Buffer.from(bytes).toString('base64') });
  }
  return seeds;
}

export function genProgram(r) {
  const mode = r.chance(0.5) ? 'sync' : 'async';
  const prog = {
    mode,
    via: mode === 'async' && r.chance(0.3) ? 'body' : 'header',
    delay: mode === 'async' && r.chance(0.3) ? r.int(0, 5) : 0,
    req: [],
    res: [],
    seeds: genSeeds(r),
  };
  const nReq = r.weighted([
    [r.int(1, 4), 6],
    [r.int(5, 12), 3],
    [0, 1],
  ]);
  const nRes = r.weighted([
    [0, 3],
    [r.int(1, 4), 5],
    [r.int(5, 10), 2],
  ]);
  for (let i = 0; i < nReq; i++) prog.req.push(genOp(r, 'req', mode));
  for (let i = 0; i < nRes; i++) prog.res.push(genOp(r, 'res', mode));
  return fixProgram(prog);
}

/** Keeps a program runnable after mutation: ops only where their phase/mode allow them. */
export function fixProgram(prog) {
  // the host refuses request heads over ~60 KiB (431/400): big programs travel in the body
  if (prog.via !== 'body' && Buffer.byteLength(JSON.stringify(prog)) > 36000) prog.via = 'body';
  if (prog.via === 'body') prog.mode = 'async';
  const ok = (phase) => (op) =>
    !((op.op === 'sleep' || op.op === 'body') && prog.mode !== 'async') && !(op.op === 'status' && phase !== 'res');
  prog.req = prog.req.filter(ok('req')).slice(0, 24);
  prog.res = prog.res.filter(ok('res')).slice(0, 24);
  // the filter gets the program as JSON: the checker must see exactly that, nothing JSON drops
  return JSON.parse(JSON.stringify(prog));
}

function mutateString(r, s) {
  if (typeof s !== 'string') return genValue(r);
  const i = r.int(0, s.length);
  switch (r.int(0, 5)) {
    case 0:
      return s.slice(0, i) + charOf(r, r.pick(CLASS_NAMES)) + s.slice(i);
    case 1:
      return s.slice(0, i) + s.slice(i + 1);
    case 2:
      return s + s;
    case 3:
      return s.slice(0, i);
    case 4:
      return s.toUpperCase();
    default:
      return s.slice(0, i) + charOf(r, r.pick(['cr', 'lf', 'nul', 'ws', 'lone', 'latin1'])) + s.slice(i);
  }
}

export function mutateProgram(r, base, otherBase) {
  // deep copies: a mutation must never touch a corpus program (it may be in flight)
  const prog = JSON.parse(JSON.stringify(base));
  const other = otherBase ? JSON.parse(JSON.stringify(otherBase)) : null;
  const rounds = r.int(1, 3);
  for (let k = 0; k < rounds; k++) {
    const phase = prog.res.length && r.chance(0.4) ? 'res' : 'req';
    const ops = prog[phase];
    const i = r.int(0, Math.max(0, ops.length - 1));
    switch (r.int(0, 9)) {
      case 0:
        ops.splice(r.int(0, ops.length), 0, genOp(r, phase, prog.mode));
        break;
      case 1:
        if (ops.length) ops.splice(i, 1);
        break;
      case 2:
        if (ops[i]?.name !== undefined) ops[i].name = r.chance(0.5) ? mutateString(r, ops[i].name) : genName(r);
        break;
      case 3:
        if (ops[i]?.value !== undefined) ops[i].value = r.chance(0.6) ? mutateString(r, ops[i].value) : genValue(r);
        break;
      case 4:
        if (ops[i]) ops.splice(i, 0, JSON.parse(JSON.stringify(ops[i])));
        break;
      case 5:
        if (ops[i] && ['set', 'append', 'delete', 'get', 'getAll', 'has'].includes(ops[i].op))
          ops[i].op = r.pick(['set', 'append', 'delete', 'get', 'getAll', 'has']);
        break;
      case 6:
        prog.mode = prog.mode === 'sync' ? 'async' : 'sync';
        prog.via = prog.mode === 'async' && r.chance(0.3) ? 'body' : 'header';
        break;
      case 7:
        if (other)
          prog[phase] = ops.slice(0, i).concat((other[phase] || []).slice(r.int(0, (other[phase] || []).length)));
        break;
      case 8:
        prog.seeds = genSeeds(r);
        break;
      default:
        if (ops[i]?.op === 'respond') {
          ops[i].status = r.chance(0.5) ? r.int(-1, 700) : 200;
        } else ops.push(genOp(r, phase, prog.mode));
        break;
    }
  }
  return fixProgram(prog);
}
