#!/usr/bin/env node
/*
 * node_client.mjs: a PowerSync client built on the official JavaScript SDK
 * (@powersync/node), used to check that powersync-devserver speaks the
 * protocol real clients speak (run_interop.sh) and to benchmark its initial
 * sync against ours (bench/devserver_sync.sh).
 *
 *   node node_client.mjs --endpoint URL (--token JWT | --token-url URL)
 *       --db FILE --schema FILE.json [--query SQL]... [--exec SQL
 *       [--params JSON]] [--wait-for SQL] [--timeout S] [--bench]
 *       [--modules DIR] [--verbose]
 *
 * Steps: opens FILE with the schema, connects (HTTP streaming, the SDK's
 * default; the SDK picks BSON or NDJSON from the response's content type),
 * waits for a full sync, then:
 *   --exec SQL      runs a local write (PARAMS: a JSON array) and waits
 *                   until the connector has uploaded it to the devserver
 *                   (POST <endpoint>/api/data, {"batch":[...]}), the
 *                   upload queue is empty and the write checkpoint that
 *                   covers it has come back through the stream;
 *   --wait-for SQL  waits until the query's first column is truthy (a row
 *                   written elsewhere has arrived);
 *   --query SQL     prints one line per query: a JSON array of row objects
 *                   (the shape of `powersync query --json`);
 *   --bench         prints one JSON line: rows in todos, sync seconds
 *                   (connect to first full sync), max RSS of the process.
 * Then disconnects, closes and exits 0; 1 on any failure or timeout, 2 on a
 * usage error. Diagnostics go to stderr, results only to stdout.
 *
 * The schema file is the one `powersync sync --schema` reads, so both
 * clients see the same tables: {"tables":[{"name":..,"columns":[{"name":..,
 * "type":"text"|"integer"|"real"}]}]}.
 *
 * An existing database that has synced before already counts as "synced"
 * when it is opened, so for it the script waits for a sync completed after
 * this connect (a newer last-synced time), or for --wait-for when given.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

function usage(msg) {
  if (msg) process.stderr.write(`node_client: ${msg}\n`);
  process.stderr.write(
    'usage: node node_client.mjs --endpoint URL (--token JWT | --token-url URL)\n' +
      '    --db FILE --schema FILE.json [--query SQL]... [--exec SQL [--params JSON]]\n' +
      '    [--wait-for SQL] [--timeout S] [--bench] [--modules DIR] [--verbose]\n'
  );
  process.exit(2);
}

function parseArgs(argv) {
  const o = {
    endpoint: null,
    token: null,
    tokenUrl: null,
    db: null,
    schema: null,
    queries: [],
    exec: null,
    params: [],
    waitFor: null,
    timeoutS: 120,
    bench: false,
    // Where tests/differential installs the SDK (scripts/install-deps.sh).
    modules: path.resolve(HERE, '..', 'differential', 'node_modules'),
    verbose: false
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--endpoint') o.endpoint = val().replace(/\/+$/, '');
    else if (a === '--token') o.token = val();
    else if (a === '--token-url') o.tokenUrl = val();
    else if (a === '--db') o.db = path.resolve(val());
    else if (a === '--schema') o.schema = val();
    else if (a === '--query') o.queries.push(val());
    else if (a === '--exec') o.exec = val();
    else if (a === '--params') {
      try {
        o.params = JSON.parse(val());
      } catch (e) {
        usage(`--params: ${e.message}`);
      }
      if (!Array.isArray(o.params)) usage('--params must be a JSON array');
    } else if (a === '--wait-for') o.waitFor = val();
    else if (a === '--timeout') o.timeoutS = Number(val());
    else if (a === '--bench') o.bench = true;
    else if (a === '--modules') o.modules = path.resolve(val());
    else if (a === '--verbose' || a === '-v') o.verbose = true;
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument ${a}`);
  }
  if (!o.endpoint) usage('--endpoint is required');
  if (!o.token && !o.tokenUrl) usage('--token or --token-url is required');
  if (!o.db) usage('--db is required');
  if (!o.schema) usage('--schema is required');
  if (!(o.timeoutS > 0)) usage('--timeout must be a positive number of seconds');
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const log = (msg) => process.stderr.write(`node_client: ${msg}\n`);
const debug = (msg) => opts.verbose && log(msg);

function fail(msg) {
  log(msg);
  process.exit(1);
}

// One deadline for the whole run: a sync that never completes must fail the
// test, not hang it. unref: it must not keep a finished process alive.
setTimeout(() => fail(`timed out after ${opts.timeoutS} s`), opts.timeoutS * 1000).unref();

// @powersync/node is ESM only, so it cannot be found through NODE_PATH or
// createRequire; import it by file URL from the modules directory. Its own
// imports (@powersync/common, better-sqlite3 in the worker) then resolve
// from inside that directory.
async function loadSdk() {
  const entry = path.join(opts.modules, '@powersync', 'node', 'lib', 'index.js');
  if (!fs.existsSync(entry)) fail(`@powersync/node not found at ${entry}`);
  return import(pathToFileURL(entry).href);
}

function buildSchema(sdk) {
  let spec;
  try {
    spec = JSON.parse(fs.readFileSync(opts.schema, 'utf8'));
  } catch (e) {
    usage(`cannot read schema ${opts.schema}: ${e.message}`);
  }
  const types = { text: sdk.column.text, integer: sdk.column.integer, real: sdk.column.real };
  const tables = {};
  for (const t of spec.tables ?? []) {
    const columns = {};
    for (const c of t.columns ?? []) {
      const type = types[String(c.type ?? 'text').toLowerCase()];
      if (!type) usage(`schema: column ${t.name}.${c.name} has unknown type ${c.type}`);
      columns[c.name] = type;
    }
    tables[t.name] = new sdk.Table(columns);
  }
  if (Object.keys(tables).length === 0) usage('schema: no tables');
  return new sdk.Schema(tables);
}

async function fetchToken() {
  if (opts.token) return opts.token;
  const res = await fetch(opts.tokenUrl);
  if (!res.ok) throw new Error(`token URL answered ${res.status}: ${await res.text()}`);
  const body = await res.json();
  if (typeof body.token !== 'string') throw new Error('token URL answer has no "token"');
  return body.token;
}

// The devserver's upload endpoint takes one transaction per request in the
// shape storage.h documents: {"batch":[{"op","type","id","data"}]}.
function makeConnector() {
  let token = null;
  return {
    async fetchCredentials() {
      token = await fetchToken();
      return { endpoint: opts.endpoint, token };
    },
    async uploadData(db) {
      const tx = await db.getNextCrudTransaction();
      if (!tx) return;
      const batch = tx.crud.map((e) => {
        const entry = { op: e.op, type: e.table, id: e.id };
        if (e.opData) entry.data = e.opData;
        return entry;
      });
      token = token ?? (await fetchToken());
      const res = await fetch(`${opts.endpoint}/api/data`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Token ${token}` },
        body: JSON.stringify({ batch })
      });
      const text = await res.text();
      // Throwing leaves the transaction queued; the SDK retries later.
      if (!res.ok) throw new Error(`upload answered ${res.status}: ${text}`);
      debug(`uploaded ${batch.length} op(s): ${text}`);
      await tx.complete();
    }
  };
}

function describe(s) {
  const parts = [`connected=${s.connected}`, `downloading=${s.dataFlowStatus?.downloading}`];
  parts.push(`uploading=${s.dataFlowStatus?.uploading}`, `hasSynced=${s.hasSynced}`);
  if (s.lastSyncedAt) parts.push(`lastSyncedAt=${s.lastSyncedAt.toISOString()}`);
  const p = s.downloadProgress;
  if (p) parts.push(`progress=${p.downloadedOperations}/${p.totalOperations}`);
  if (s.dataFlowStatus?.downloadError) parts.push(`downloadError=${s.dataFlowStatus.downloadError}`);
  if (s.dataFlowStatus?.uploadError) parts.push(`uploadError=${s.dataFlowStatus.uploadError}`);
  return parts.join(' ');
}

async function pollUntil(what, check, intervalMs = 50) {
  for (;;) {
    if (await check()) return;
    debug(`waiting: ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

async function main() {
  const sdk = await loadSdk();
  const schema = buildSchema(sdk);
  // SDK log messages (warnings and errors by default) go to stderr: stdout
  // carries only results.
  const logger = {
    log({ level, message, error }) {
      if (level < (opts.verbose ? sdk.LogLevels.debug : sdk.LogLevels.warn)) return;
      log(`[sdk] ${message}${error ? `: ${error?.stack ?? error}` : ''}`);
    }
  };
  const db = new sdk.PowerSyncDatabase({
    schema,
    database: { dbFilename: path.basename(opts.db), dbLocation: path.dirname(opts.db) },
    logger
  });
  await db.init();

  // A database synced by an earlier run reports hasSynced at once; only a
  // newer last-synced time shows that this connection completed a sync.
  const before = db.currentStatus.lastSyncedAt?.getTime() ?? null;
  let lastError = null;
  db.registerListener({
    statusChanged: (s) => {
      const err = s.dataFlowStatus?.downloadError ?? s.dataFlowStatus?.uploadError;
      if (err) lastError = err;
      debug(`status: ${describe(s)}`);
    }
  });

  const started = performance.now();
  await db.connect(makeConnector(), {
    // Named although it is the default on Node: this test is about the
    // HTTP streaming protocol, not the WebSocket (RSocket) transport.
    connectionMethod: sdk.SyncStreamConnectionMethod.HTTP,
    // The default (1 s) only delays --exec's upload.
    crudUploadThrottleMs: 50
  });
  if (before === null) {
    await db.waitForFirstSync();
  } else if (!opts.waitFor) {
    await db.waitForStatus((s) => s.hasSynced && (s.lastSyncedAt?.getTime() ?? 0) > before);
  }
  const syncedS = (performance.now() - started) / 1000;
  debug(`synced after ${syncedS.toFixed(3)} s`);

  if (opts.exec) {
    // The core keeps the checkpoint request (write checkpoint) it waits for
    // after an upload in ps_kv; applied == target, with a new target, means
    // the devserver acknowledged the upload through the sync stream and the
    // client applied the checkpoint that contains it.
    const kv = (key) => db.getOptional('SELECT value FROM ps_kv WHERE key = ?', [key]);
    const targetBefore = (await kv('target_checkpoint_request_id'))?.value ?? null;
    await db.execute(opts.exec, opts.params);
    await pollUntil('upload queue empty', async () => (await db.getUploadQueueStats()).count === 0);
    debug('local write uploaded');
    await pollUntil('write checkpoint applied', async () => {
      const target = (await kv('target_checkpoint_request_id'))?.value ?? null;
      const applied = (await kv('last_applied_checkpoint_request_id'))?.value ?? null;
      return target !== null && target !== targetBefore && applied === target;
    });
    debug('write checkpoint applied');
  }
  if (opts.waitFor) {
    await pollUntil(`--wait-for ${opts.waitFor}`, async () => {
      const row = await db.getOptional(opts.waitFor);
      return row != null && Boolean(Object.values(row)[0]);
    });
  }
  for (const q of opts.queries) {
    process.stdout.write(JSON.stringify(await db.getAll(q)) + '\n');
  }
  if (opts.bench) {
    const { n } = await db.get('SELECT count(*) AS n FROM todos');
    process.stdout.write(
      JSON.stringify({
        client: 'node',
        rows: n,
        sync_s: Number(syncedS.toFixed(3)),
        // Kilobytes on Linux; the workers are threads of this process.
        max_rss_kib: process.resourceUsage().maxRSS
      }) + '\n'
    );
  }
  if (lastError && opts.verbose) log(`last sync error seen (recovered): ${lastError}`);
  await db.disconnect();
  await db.close();
}

main().then(
  () => process.exit(0),
  (e) => fail(`failed: ${e?.stack ?? e}`)
);
