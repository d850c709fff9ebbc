#!/usr/bin/env node
/*
 * run.js: the differential test harness. Runs every scenario of
 * tests/differential/scenarios with the official PowerSync core (from
 * @powersync/node) and with ours, both hosted by better-sqlite3, and compares
 * each step's canonical output line with the recorded golden file
 * expected/<name>.jsonl (see README.md for the format).
 *
 *   node run.js [--ours build/powersync.so] [--only name[,name...]]
 *               [--update] [--jobs N] [--verbose]
 *
 * Per scenario:
 *   official  all connections use the official core; must equal the golden
 *             (with --update the golden is written from this run instead);
 *   ours      all connections use our core; must equal the golden, except
 *             steps with a "deviation", which must equal their "ours" value;
 *   switch    (scenarios with "core" steps) starts with the official core and
 *             switches as the steps say; must equal the golden likewise.
 * Prints one result per scenario, the named deviations observed and finally
 * "N passed, M failed"; exits 1 on any failure, 2 on a usage/setup error.
 */
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { fork } = require('node:child_process');

const HERE = __dirname;
const SCENARIOS = path.join(HERE, 'scenarios');
const EXPECTED = path.join(HERE, 'expected');
const JOB_TIMEOUT_MS = 60000;

function usage(msg) {
  if (msg) console.error(`run.js: ${msg}`);
  console.error(
    'usage: node run.js [--ours path/to/powersync.so] [--only name[,name...]] [--update] [--jobs N] [--verbose] [--official path]',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const o = { ours: null, official: null, only: null, update: false, jobs: 0, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--ours') o.ours = path.resolve(val());
    else if (a === '--official') o.official = path.resolve(val());
    else if (a === '--only') o.only = (o.only || []).concat(val().split(',').filter(Boolean));
    else if (a === '--update') o.update = true;
    else if (a === '--jobs') o.jobs = parseInt(val(), 10);
    else if (a === '--verbose' || a === '-v') o.verbose = true;
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument ${a}`);
  }
  return o;
}

/* The official core shipped in @powersync/node, for this platform. */
function officialCorePath() {
  const pkg = path.dirname(require.resolve('@powersync/node/package.json'));
  const arch = { x64: 'x64', arm64: 'aarch64', arm: 'armv7', riscv64: 'riscv64gc' }[process.arch];
  const file =
    process.platform === 'darwin'
      ? `libpowersync_${arch}.macos.dylib`
      : process.platform === 'win32'
        ? `powersync_${arch}.dll`
        : `libpowersync_${arch}.linux.so`;
  return path.join(pkg, 'lib', file);
}

function checkDependencies() {
  try {
    require.resolve('better-sqlite3');
    require.resolve('@powersync/node/package.json');
    const Database = require('better-sqlite3');
    new Database(':memory:').close(); /* loads the native binding */
  } catch (e) {
    console.error(
      'run.js: the differential test dependencies are not installed (' +
        String(e.message).split('\n')[0] +
        ').\n' +
        'Install them with scripts/install-deps.sh, or:\n' +
        '  cd tests/differential && npm ci && npm rebuild better-sqlite3\n' +
        '(npm 11 blocks install scripts, so better-sqlite3 must be rebuilt explicitly.)',
    );
    process.exit(2);
  }
}

/* A pool of worker processes; a worker that dies is replaced. */
class Pool {
  constructor(size) {
    this.size = size;
    this.queue = [];
    this.idle = [];
    this.all = new Set();
    this.nextId = 1;
  }

  spawn() {
    const w = fork(path.join(HERE, 'lib', 'worker.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    w.job = null;
    w.on('message', (msg) => {
      const job = w.job;
      if (!job || msg.id !== job.id) return;
      clearTimeout(job.timer);
      w.job = null;
      job.resolve(msg);
      this.release(w);
    });
    w.on('exit', (code, signal) => {
      this.all.delete(w);
      const job = w.job;
      if (job) {
        clearTimeout(job.timer);
        w.job = null;
        const how = signal ? `signal ${signal}` : `exit code ${code}`;
        job.resolve({ id: job.id, fatal: `worker process died (${how}) while running this scenario` });
      }
      if (this.queue.length > 0 && !this.closing) this.release(this.spawn());
    });
    this.all.add(w);
    return w;
  }

  release(w) {
    const job = this.queue.shift();
    if (!job) {
      this.idle.push(w);
      return;
    }
    w.job = job;
    job.timer = setTimeout(() => {
      job.timedOut = true;
      w.kill('SIGKILL');
    }, JOB_TIMEOUT_MS);
    w.send({ id: job.id, file: job.file, mode: job.mode, cores: job.cores });
  }

  run(file, mode, cores) {
    return new Promise((resolve) => {
      const job = { id: this.nextId++, file, mode, cores, resolve };
      this.queue.push(job);
      const w = this.idle.pop() || (this.all.size < this.size ? this.spawn() : null);
      if (w) this.release(w);
    });
  }

  close() {
    this.closing = true;
    for (const w of this.all) w.kill();
  }
}

/* Shortens a long line around its first difference with another. */
function excerpt(line, other, verbose) {
  const MAX = 240;
  if (verbose || line.length <= MAX) return line;
  let d = 0;
  while (d < line.length && d < other.length && line[d] === other[d]) d++;
  const start = Math.max(0, Math.min(d - 80, line.length - MAX));
  const end = Math.min(line.length, start + MAX);
  return (start > 0 ? `…[${start}]` : '') + line.slice(start, end) + (end < line.length ? '…' : '');
}

function stepText(st, S) {
  if (st.sql !== undefined) return `sql: ${st.sql}`;
  if (st.exec !== undefined) return `exec: ${st.exec}`;
  if (st.tx !== undefined) return `tx: ${st.tx}`;
  if (st.control !== undefined) return `control: ${S.jsonText(st.control)}`;
  if (st.second !== undefined) return `second: ${st.second}`;
  if (st.advance !== undefined) return `advance: ${S.jsonText(st.advance)}`;
  if (st.clock !== undefined) return `clock: ${st.clock}`;
  if (st.core !== undefined) return `core: ${st.core}`;
  return 'reopen';
}

/* For two {"result":"[...]"} lines of a control step: the first differing
 * instruction of the two arrays, as a more readable hint. */
function instructionHint(expected, actual) {
  let e;
  let a;
  try {
    e = JSON.parse(JSON.parse(expected).result);
    a = JSON.parse(JSON.parse(actual).result);
  } catch (err) {
    return null;
  }
  if (!Array.isArray(e) || !Array.isArray(a)) return null;
  for (let i = 0; i < Math.max(e.length, a.length); i++) {
    const es = i < e.length ? JSON.stringify(e[i]) : '<none>';
    const as = i < a.length ? JSON.stringify(a[i]) : '<none>';
    if (es !== as) return { index: i, counts: `${e.length} vs ${a.length}`, expected: es, actual: as };
  }
  return { index: -1 }; /* same values, different bytes */
}

function oneLine(s, verbose) {
  const t = s.replace(/\s+/g, ' ').trim();
  return verbose || t.length <= 160 ? t : t.slice(0, 157) + '...';
}

/*
 * Compares one run with the golden lines. Returns {diffs, deviations}; each
 * diff is {index, expected, actual}.
 */
function compare(sc, golden, result, mode) {
  const diffs = [];
  const deviations = [];
  sc.steps.forEach((st, i) => {
    const actual = result.lines[i];
    let expected = golden[i];
    const byOurs = result.coreOf[i] === 'ours';
    if (byOurs && st.deviation !== undefined) {
      expected = st.oursLine;
      if (actual === expected) deviations.push(`${st.deviation} (${sc.name} step ${i}, ${mode})`);
      else if (actual === golden[i]) {
        diffs.push({ index: i, expected, actual, note: `our core now matches the official output: remove deviation "${st.deviation}"` });
        return;
      }
    }
    if (expected === undefined) expected = '<missing in golden file>';
    if (actual !== expected) diffs.push({ index: i, expected, actual });
  });
  return { diffs, deviations };
}

function reportDiffs(sc, mode, diffs, verbose, S) {
  const out = [];
  const shown = verbose ? diffs : diffs.slice(0, 8);
  out.push(`  ${mode}: ${diffs.length} differing step${diffs.length === 1 ? '' : 's'}`);
  for (const d of shown) {
    const st = sc.steps[d.index];
    const label = st.label ? ` [${st.label}]` : '';
    out.push(`    step ${d.index}${label} ${oneLine(stepText(st, S), verbose)}`);
    if (d.note) out.push(`      note:     ${d.note}`);
    out.push(`      expected: ${excerpt(d.expected, d.actual, verbose)}`);
    out.push(`      actual:   ${excerpt(d.actual, d.expected, verbose)}`);
    const hint = st.control !== undefined ? instructionHint(d.expected, d.actual) : null;
    if (hint && hint.index >= 0) {
      out.push(`      instruction ${hint.index} (${hint.counts} instructions):`);
      out.push(`        expected: ${excerpt(hint.expected, hint.actual, verbose)}`);
      out.push(`        actual:   ${excerpt(hint.actual, hint.expected, verbose)}`);
    } else if (hint) {
      out.push('      (the instruction arrays are equal as JSON values: key order or formatting differs)');
    }
  }
  if (shown.length < diffs.length) out.push(`    ... and ${diffs.length - shown.length} more (use --verbose)`);
  return out;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  checkDependencies();
  const S = require('./lib/scenario');
  const official = opts.official || officialCorePath();
  if (!fs.existsSync(official)) usage(`official core not found at ${official}`);
  if (opts.ours && !fs.existsSync(opts.ours)) usage(`--ours: ${opts.ours} does not exist`);
  const cores = { official, ours: opts.ours || official };

  let names = fs
    .readdirSync(SCENARIOS)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .sort();
  if (opts.only) {
    for (const n of opts.only) if (!names.includes(n)) usage(`no scenario named ${n}`);
    names = names.filter((n) => opts.only.includes(n));
  }
  if (opts.update) fs.mkdirSync(EXPECTED, { recursive: true });

  const started = Date.now();
  const jobs = opts.jobs > 0 ? opts.jobs : Math.max(1, Math.min(8, os.cpus().length));
  const pool = new Pool(jobs);

  const perScenario = names.map(async (name) => {
    const file = path.join(SCENARIOS, `${name}.json`);
    let sc;
    try {
      sc = S.loadScenario(file);
    } catch (e) {
      return { name, ok: false, out: [`  invalid scenario: ${e.message}`], deviations: [] };
    }
    const modes = ['official'];
    if (opts.ours) {
      modes.push('ours');
      if (sc.hasCore) modes.push('switch');
    }
    const results = await Promise.all(modes.map((m) => pool.run(file, m, cores)));
    const out = [];
    const deviations = [];
    let ok = true;
    const goldenFile = path.join(EXPECTED, `${name}.jsonl`);
    let golden = null;
    const off = results[0];
    if (opts.update && !off.fatal) {
      fs.writeFileSync(goldenFile, off.lines.join('\n') + '\n');
      out.push(`  golden written: ${path.relative(process.cwd(), goldenFile)} (${off.lines.length} lines)`);
    }
    if (fs.existsSync(goldenFile)) {
      golden = fs.readFileSync(goldenFile, 'utf8').split('\n');
      if (golden[golden.length - 1] === '') golden.pop();
      if (golden.length !== sc.steps.length) {
        ok = false;
        out.push(`  golden file has ${golden.length} lines for ${sc.steps.length} steps: re-record it with --update`);
      }
    } else {
      const fatal = results.find((r) => r.fatal);
      out.push(`  no golden file ${path.relative(process.cwd(), goldenFile)}: record it with --update --only ${name}`);
      if (fatal) out.push(`  ${fatal.fatal.split('\n')[0]}`);
      return { name, ok: false, out, deviations: [], modes };
    }
    modes.forEach((mode, k) => {
      const r = results[k];
      if (r.fatal) {
        ok = false;
        out.push(`  ${mode}: ${r.fatal.split('\n')[0]}`);
        if (opts.verbose) out.push(...r.fatal.split('\n').slice(1).map((l) => '    ' + l));
        return;
      }
      const { diffs, deviations: devs } = compare(sc, golden, r, mode);
      deviations.push(...devs);
      if (diffs.length > 0) {
        ok = false;
        out.push(...reportDiffs(sc, mode === 'official' ? 'official (oracle vs golden)' : mode, diffs, opts.verbose, S));
      }
    });
    return { name, ok, out, deviations, modes };
  });

  let passed = 0;
  let failed = 0;
  const allDeviations = [];
  /* Print in scenario order as results arrive. */
  for (const p of perScenario) {
    const r = await p;
    const tag = r.ok ? 'PASS' : 'FAIL';
    console.log(`${tag} ${r.name}${r.modes ? ` (${r.modes.join(', ')})` : ''}`);
    for (const l of r.out) console.log(l);
    if (r.ok) passed++;
    else failed++;
    allDeviations.push(...r.deviations);
  }
  pool.close();

  if (!opts.ours) console.log('note: our core was not run (no --ours); only the oracle was checked against the goldens');
  if (allDeviations.length > 0) {
    console.log(`named deviations observed (${allDeviations.length}):`);
    for (const d of allDeviations) console.log(`  ${d}`);
  } else {
    console.log('named deviations observed: none');
  }
  console.log(`time: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(2);
});
