#!/usr/bin/env node
/*
 * gen_migration_scenarios.js: writes the migration and interop scenarios
 * (scenarios/migration_*.json and scenarios/interop_*.json) of the
 * differential suite. They share long dump queries and fixtures, so they are
 * generated rather than written by hand: edit this file, run
 *
 *   node gen_migration_scenarios.js && node run.js --update --only <names>
 *
 * and review the golden diffs. Covers core-storage.md 13.3 and section 4
 * (migrations), 13.4 (ps_migration error), and the on-disk interchangeability
 * promise of the introduction (interop between the official core and ours).
 */
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const OUT = path.join(__dirname, 'scenarios');
const MAX = '9223372036854775807';

/* --- Shared queries --------------------------------------------------- */

/* The Dart getSchema helper (dart/test/utils/schema.dart): every object with
 * SQL except sqlite_sequence and names starting with "__", ordered by
 * non-data tables, indexes, ps_data tables, views, triggers, then name. */
const SCHEMA =
  "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name != 'sqlite_sequence' AND name NOT GLOB '__*' " +
  "ORDER BY CASE WHEN type = 'table' AND name LIKE 'ps_data_%' THEN 3 WHEN type = 'table' THEN 1 WHEN type = 'index' THEN 2 " +
  "WHEN type = 'view' THEN 4 WHEN type = 'trigger' THEN 5 END, name";
const MIGRATIONS = 'SELECT id, down_migrations FROM ps_migration ORDER BY id';
/* The Dart getData tables plus the other internal tables. Tables that do not
 * exist at a version produce a "no such table" error line, which is part of
 * the expected output. */
const DATA = [
  ['ps_buckets', 'SELECT * FROM ps_buckets ORDER BY name'],
  ['ps_oplog', 'SELECT * FROM ps_oplog ORDER BY bucket, op_id'],
  ['ps_updated_rows', 'SELECT * FROM ps_updated_rows ORDER BY row_type, row_id'],
  ['ps_kv', 'SELECT key, value FROM ps_kv ORDER BY key'],
  ['ps_sync_state', 'SELECT * FROM ps_sync_state ORDER BY priority'],
  ['ps_stream_subscriptions', 'SELECT * FROM ps_stream_subscriptions ORDER BY id'],
  ['ps_tx', 'SELECT * FROM ps_tx'],
  ['ps_crud', 'SELECT * FROM ps_crud ORDER BY id'],
  ['sqlite_sequence', 'SELECT * FROM sqlite_sequence ORDER BY name'],
];
const SYNC_DATA = DATA.slice(0, 3);

function dumpSchema(tag) {
  return [
    { label: `${tag}: schema`, sql: SCHEMA },
    { label: `${tag}: ps_migration`, sql: MIGRATIONS },
  ];
}

function dumpData(tag, tables = DATA) {
  return tables.map(([t, sql]) => ({ label: `${tag}: ${t}`, sql }));
}

function dumpTables(tag, names) {
  return names.map((t) => ({ label: `${tag}: ${t}`, sql: `SELECT * FROM "${t}" ORDER BY id` }));
}

const init = (label) => ({ label: label || 'powersync_init', tx: 'SELECT powersync_init()' });
const migrate = (n, label) => ({ label: label || `migrate to ${n}`, tx: 'SELECT powersync_test_migration(?)', args: [n] });
const schema = (json, label) => ({ label: label || 'replace_schema', tx: 'SELECT powersync_replace_schema(?)', args: [JSON.stringify(json)] });

/* --- Fixtures --------------------------------------------------------- */

/* core-storage.md 4.5 finalData1 (version-14 layout), plus sync state and a
 * stream subscription so that the timestamp conversions of migrations 7 and
 * 13 have data to convert. */
const FIXTURE_14 =
  'INSERT INTO ps_buckets(id, name, last_applied_op, last_op, add_checksum, op_checksum, pending_delete) VALUES ' +
  "(1, 'b1', 0, 0, 0, 120, 0), (2, 'b2', 0, 0, 1005, 3, 0);\n" +
  'INSERT INTO ps_oplog(bucket, op_id, row_type, row_id, key, data, hash) VALUES ' +
  "(1, 1, 'todos', 't1', '', '{}', 100), (1, 2, 'todos', 't2', '', '{}', 20), (2, 3, 'lists', 'l1', '', '{}', 3);\n" +
  "INSERT INTO ps_updated_rows(row_type, row_id) VALUES ('lists', 'l2');\n" +
  'INSERT INTO ps_sync_state(priority, last_synced_at) VALUES (2147483647, 1741186689000000), (3, 1741183089000000);\n' +
  'INSERT INTO ps_stream_subscriptions(id, stream_name, active, is_default, local_priority, local_params, ttl, expires_at, last_synced_at) ' +
  "VALUES (1, 'lists', 1, 0, 2, '{\"a\":1}', 3600, 1741190289000000, 1741186689000000);\n";

/* core-storage.md 4.5 data1[2] (text bucket names, op 3 = PUT, 4 = REMOVE). */
const FIXTURE_2 =
  'DELETE FROM ps_buckets; DELETE FROM ps_oplog;\n' +
  'INSERT INTO ps_buckets(name, last_applied_op, last_op, target_op, add_checksum, pending_delete) VALUES ' +
  "('b1', 0, 0, 0, 0, 0), ('b2', 0, 0, 0, 1000, 0);\n" +
  'INSERT INTO ps_oplog(bucket, op_id, op, row_type, row_id, key, data, hash, superseded) VALUES ' +
  "('b1', 1, 3, 'todos', 't1', '', '{}', 100, 0), ('b1', 2, 3, 'todos', 't2', '', '{}', 20, 0), " +
  "('b2', 3, 3, 'lists', 'l1', '', '{}', 3, 0), ('b2', 4, 4, 'lists', 'l2', NULL, NULL, 5, 0);\n";

const LISTS_TODOS = {
  tables: [
    { name: 'lists', columns: [{ name: 'description', type: 'TEXT' }] },
    {
      name: 'todos',
      columns: [
        { name: 'description', type: 'TEXT' },
        { name: 'list_id', type: 'TEXT' },
      ],
      indexes: [{ name: 'list', columns: [{ name: 'list_id', ascending: true, type: 'TEXT' }] }],
    },
  ],
};

const LISTS_ONLY = { tables: [{ name: 'lists', columns: [{ name: 'description', type: 'TEXT' }] }] };

/* A schema with one table of each kind, for the interop scenarios. */
const INTEROP_SCHEMA = {
  tables: [
    {
      name: 'lists',
      columns: [
        { name: 'description', type: 'TEXT' },
        { name: 'count', type: 'INTEGER' },
        { name: 'weight', type: 'REAL' },
      ],
      indexes: [
        {
          name: 'by_desc',
          columns: [
            { name: 'description', ascending: true, type: 'TEXT' },
            { name: 'count', ascending: false, type: 'INTEGER' },
          ],
        },
      ],
    },
    {
      name: 'todos',
      columns: [
        { name: 'list_id', type: 'TEXT' },
        { name: 'title', type: 'TEXT' },
        { name: 'done', type: 'INTEGER' },
      ],
      include_old: ['title'],
      include_old_only_when_changed: true,
      ignore_empty_update: true,
    },
    { name: 'notes', view_name: 'local_notes', local_only: true, columns: [{ name: 'body', type: 'TEXT' }] },
    {
      name: 'events',
      insert_only: true,
      columns: [
        { name: 'kind', type: 'TEXT' },
        { name: 'payload', type: 'TEXT' },
      ],
    },
    { name: 'docs', include_metadata: true, include_old: true, columns: [{ name: 'content', type: 'TEXT' }] },
  ],
};
const INTEROP_TABLES = ['ps_data__lists', 'ps_data__todos', 'ps_data_local__notes', 'ps_data__events', 'ps_data__docs'];

/* Writes through the views of INTEROP_SCHEMA; "round" keeps ids apart. */
function interopWrites(r) {
  return [
    { label: `writes ${r}: insert lists`, sql: `INSERT INTO lists(id, description, count, weight) VALUES ('l${r}a', 'groceries ${r}', 3, 2.5), ('l${r}b', 'work', 1, NULL)` },
    { label: `writes ${r}: update lists`, sql: `UPDATE lists SET count = count + 1, weight = 0.5 WHERE id = 'l${r}a'` },
    { label: `writes ${r}: insert todos`, sql: `INSERT INTO todos(id, list_id, title, done) VALUES ('t${r}a', 'l${r}a', 'milk', 0), ('t${r}b', 'l${r}a', 'eggs', 0)` },
    { label: `writes ${r}: update todos (done)`, sql: `UPDATE todos SET done = 1 WHERE id = 't${r}a'` },
    { label: `writes ${r}: update todos (title)`, sql: `UPDATE todos SET title = 'brown eggs' WHERE id = 't${r}b'` },
    { label: `writes ${r}: empty update ignored`, sql: `UPDATE todos SET done = done WHERE id = 't${r}b'` },
    { label: `writes ${r}: delete list`, sql: `DELETE FROM lists WHERE id = 'l${r}b'` },
    { label: `writes ${r}: local-only`, sql: `INSERT INTO local_notes(id, body) VALUES ('n${r}', 'private ${r}')` },
    { label: `writes ${r}: local-only update`, sql: `UPDATE local_notes SET body = body || '!' WHERE id = 'n${r}'` },
    { label: `writes ${r}: insert-only`, sql: `INSERT INTO events(id, kind, payload) VALUES ('e${r}', 'click', '{"x":1}')` },
    { label: `writes ${r}: metadata insert`, sql: `INSERT INTO docs(id, content, _metadata) VALUES ('d${r}', 'hello', 'created')` },
    { label: `writes ${r}: metadata update`, sql: `UPDATE docs SET content = 'hello world', _metadata = 'edited' WHERE id = 'd${r}'` },
    { label: `writes ${r}: metadata delete`, sql: `UPDATE docs SET _deleted = TRUE, _metadata = 'gone' WHERE id = 'd${r}'` },
    { label: `writes ${r}: one transaction, two tables`, exec: `BEGIN; INSERT INTO lists(id, description) VALUES ('l${r}c', 'tx'); INSERT INTO events(id, kind) VALUES ('e${r}x', 'tx'); UPDATE lists SET description = 'tx2' WHERE id = 'l${r}c'; COMMIT;` },
  ];
}

function interopState(tag) {
  return [
    ...dumpData(tag, [DATA[2], DATA[3], DATA[6], DATA[7]]),
    ...dumpTables(tag, INTEROP_TABLES),
    { label: `${tag}: view lists`, sql: 'SELECT * FROM lists ORDER BY id' },
    { label: `${tag}: view todos`, sql: 'SELECT * FROM todos ORDER BY id' },
    { label: `${tag}: view local_notes`, sql: 'SELECT * FROM local_notes ORDER BY id' },
    { label: `${tag}: view events (insert-only, empty)`, sql: 'SELECT * FROM events ORDER BY id' },
    { label: `${tag}: view docs`, sql: 'SELECT * FROM docs ORDER BY id' },
  ];
}

/* Records PRAGMA schema_version of this connection in a temp table, and
 * reports how much it changed since (the temp schema does not count). */
const SV_MARK = { label: 'remember schema_version', exec: 'DROP TABLE IF EXISTS temp.sv; CREATE TEMP TABLE sv AS SELECT schema_version AS v FROM pragma_schema_version;' };
const SV_DELTA = { label: 'schema_version unchanged (delta)', sql: 'SELECT (SELECT schema_version FROM pragma_schema_version) - (SELECT v FROM temp.sv) AS delta' };

/* --- Scenarios -------------------------------------------------------- */

const scenarios = {};
const pad = (n) => String(n).padStart(2, '0');

scenarios.migration_fresh = {
  description:
    "core-storage.md 13.3 'Fresh database' (3.1, 4.1, 4.4): powersync_init() on an empty database creates the " +
    'version-14 schema (dumped in the order of the Dart getSchema helper), the implicit objects, the 14 ' +
    'ps_migration rows with their exact down migrations, ps_tx and the client id; a second powersync_init() ' +
    'writes nothing (schema_version unchanged).',
  steps: [
    { label: 'versions work', sql: "SELECT sqlite_version() IS NOT NULL, powersync_rs_version() GLOB '0.5.3/*'" },
    init(),
    ...dumpSchema('fresh'),
    { label: 'implicit objects', sql: "SELECT type, name, tbl_name FROM sqlite_master WHERE sql IS NULL OR name = 'sqlite_sequence' ORDER BY name" },
    ...dumpData('fresh'),
    { label: 'client id', sql: "SELECT powersync_client_id() = (SELECT value FROM ps_kv WHERE key = 'client_id'), typeof(value), length(value) FROM ps_kv WHERE key = 'client_id'" },
    SV_MARK,
    init('powersync_init again'),
    SV_DELTA,
    { label: 'still 14 rows', sql: 'SELECT count(*), max(id) FROM ps_migration' },
  ],
};

/* Everything at 14, then down to n, then up again. */
function roundtripSteps(n, coreDown, coreUp) {
  const steps = [];
  if (coreDown) steps.push({ core: coreDown });
  steps.push(
    init(),
    schema(LISTS_TODOS, 'replace_schema lists, todos'),
    { label: 'writes through views', exec: "INSERT INTO lists(id, description) VALUES ('l1', 'list 1'); INSERT INTO todos(id, description, list_id) VALUES ('t1', 'todo 1', 'l1'); UPDATE todos SET description = 'todo 1b' WHERE id = 't1';" },
    { label: 'fixture data (4.5 finalData1)', exec: FIXTURE_14 },
    ...dumpSchema('at 14'),
    ...dumpData('at 14'),
    migrate(n, `downgrade 14 -> ${n}`),
    ...dumpSchema(`at ${n}`),
    ...dumpData(`at ${n}`),
    ...dumpTables(`at ${n}`, ['ps_data__lists', 'ps_data__todos']),
  );
  if (coreUp) steps.push({ core: coreUp }, ...dumpSchema(`at ${n}, reopened`));
  steps.push(
    init(`upgrade ${n} -> 14`),
    ...dumpSchema(`${n} -> 14`),
    ...dumpData(`${n} -> 14`),
    init('powersync_init again (no-op)'),
    { label: 'still 14', sql: 'SELECT max(id) FROM ps_migration' },
    schema(LISTS_TODOS, 're-apply schema'),
    { label: 'views after re-apply', sql: "SELECT type, name, sql FROM sqlite_master WHERE type IN ('view', 'trigger') ORDER BY name" },
    SV_MARK,
    schema(LISTS_TODOS, 're-apply schema again'),
    SV_DELTA,
    { label: 'write after upgrade', sql: "INSERT INTO lists(id, description) VALUES ('l9', 'after')" },
    { label: 'crud after upgrade', sql: 'SELECT * FROM ps_crud ORDER BY id' },
    ...dumpTables('after upgrade', ['ps_data__lists', 'ps_data__todos']),
  );
  return steps;
}

for (let n = 2; n <= 13; n++) {
  scenarios[`migration_roundtrip_v${pad(n)}`] = {
    description:
      `core-storage.md 13.3 'Downgrade to every version' and 'Upgrade from every version' for version ${n}, in one core: ` +
      `a version-14 database with a schema, view writes and the 4.5 fixture data is migrated down to ${n} ` +
      '(schema, ps_migration and data dumped, 4.3/4.4/4.5 dataDown1), then up again with powersync_init ' +
      '(4.2, finalData1), and the schema is re-applied and written through.',
    steps: roundtripSteps(n),
  };
  scenarios[`migration_cross_v${pad(n)}_official_down`] = {
    description:
      `core-storage.md 13.3 'Upgrade from every version' (${n}) across implementations: the official core creates ` +
      `a version-14 database with data and migrates it down to ${n}; our core opens it, upgrades it with ` +
      'powersync_init and re-applies the schema (4.1, 4.2, 14.3).',
    database: 'file',
    steps: roundtripSteps(n, 'official', 'ours'),
  };
  scenarios[`migration_cross_v${pad(n)}_ours_down`] = {
    description:
      `core-storage.md 4.4 and 14.3 for version ${n}: our core creates a version-14 database with data and ` +
      `migrates it down to ${n} with its stored down migrations; the official core opens it and upgrades it ` +
      '(must give what it gives for its own databases).',
    database: 'file',
    steps: roundtripSteps(n, 'ours', 'official'),
  };
}

{
  const steps = [
    init(),
    migrate(2, 'down to 2'),
    { label: 'data1[2] (4.5, old layout)', exec: FIXTURE_2 },
    ...dumpSchema('at 2'),
    ...dumpData('at 2', SYNC_DATA),
  ];
  for (let v = 3; v <= 14; v++) {
    steps.push(migrate(v, `up to ${v}`), ...dumpData(`at ${v}`, v === 14 ? DATA : SYNC_DATA));
  }
  steps.push(...dumpSchema('at 14'));
  scenarios.migration_data_stepwise_up = {
    description:
      "core-storage.md 4.5 / 13.3 'Upgrade from every version ... with data1': the old-layout fixture (buckets b1/b2, " +
      'four oplog rows incl. a REMOVE) inserted at version 2 is migrated up one version at a time; the data after ' +
      'each step is dumped and must end as finalData1 (b2 add_checksum 1005, op_checksum 3, ps_updated_rows lists/l2).',
    steps,
  };
}

{
  const steps = [init(), { label: 'fixture data (4.5 finalData1)', exec: FIXTURE_14 }, ...dumpData('at 14')];
  for (let v = 13; v >= 2; v--) {
    steps.push(migrate(v, `down to ${v}`), ...dumpSchema(`at ${v}`), ...dumpData(`at ${v}`));
  }
  steps.push(init('back up to 14'), ...dumpSchema('at 14 again'), ...dumpData('at 14 again'));
  scenarios.migration_data_stepwise_down = {
    description:
      "core-storage.md 4.4 / 4.5 / 13.3 'Downgrade to every version ... with data1[14]': finalData1 is migrated " +
      'down one version at a time to 2 (schema, ps_migration and data after each step: dataDown1, the $local ' +
      'bucket and REMOVE op re-created by 5 -> 4), then up to 14 again.',
    steps,
  };
}

scenarios.migration_local_to_kv = {
  description:
    "core-storage.md 13.3 '$local -> ps_kv' (three cases) and 4.2 version 14: the $local pseudo-bucket of a " +
    'version-13 database becomes ps_kv checkpoint keys (only values > 0), the row and the target_op column ' +
    'disappear, and legacy writes to target_op fail.',
  steps: [
    init(),
    migrate(13, 'down to 13'),
    { label: 'case 1: $local (5, 6, 7)', exec: "DELETE FROM ps_kv; INSERT INTO ps_buckets(name, last_applied_op, last_op, target_op, pending_delete) VALUES ('$local', 5, 6, 7, 1), ('b1', 1, 2, 0, 0);" },
    ...dumpData('case 1 at 13', [DATA[0], DATA[3]]),
    init('case 1: upgrade'),
    { label: 'case 1: ps_kv', sql: 'SELECT key, value, typeof(value) FROM ps_kv ORDER BY key' },
    { label: 'case 1: ps_buckets', sql: 'SELECT * FROM ps_buckets ORDER BY name' },
    { label: 'case 1: no target_op column', sql: "SELECT name FROM pragma_table_info('ps_buckets') ORDER BY cid" },
    { label: 'case 1: legacy target_op write fails', sql: "UPDATE ps_buckets SET target_op = 8 WHERE name = '$local'" },
    { label: 'case 2: reset', exec: 'DELETE FROM ps_kv;' },
    migrate(13, 'case 2: down to 13 (no target: no $local)'),
    { label: 'case 2: no $local after downgrade', sql: 'SELECT * FROM ps_buckets ORDER BY name' },
    { label: 'case 2: $local (5, 6, MAX)', sql: `INSERT INTO ps_buckets(name, last_applied_op, last_op, target_op, pending_delete) VALUES ('$local', 5, 6, ${MAX}, 1)` },
    init('case 2: upgrade'),
    { label: 'case 2: ps_kv', sql: 'SELECT key, value, typeof(value) FROM ps_kv ORDER BY key' },
    { label: 'case 2: no $local', sql: "SELECT count(*) FROM ps_buckets WHERE name = '$local'" },
    { label: 'case 3: reset', exec: 'DELETE FROM ps_kv;' },
    migrate(13, 'case 3: down to 13'),
    { label: 'case 3: $local (0, 0, MAX)', sql: `INSERT INTO ps_buckets(name, last_applied_op, last_op, target_op, pending_delete) VALUES ('$local', 0, 0, ${MAX}, 1)` },
    init('case 3: upgrade'),
    { label: 'case 3: only target', sql: 'SELECT key, value, typeof(value) FROM ps_kv ORDER BY key' },
    { label: 'case 4: reset', exec: 'DELETE FROM ps_kv;' },
    migrate(13, 'case 4: down to 13'),
    { label: 'case 4: $local (5, 6, 0) and stale keys', exec: "INSERT INTO ps_buckets(name, last_applied_op, last_op, target_op, pending_delete) VALUES ('$local', 5, 6, 0, 1); INSERT INTO ps_kv(key, value) VALUES ('target_checkpoint_request_id', 99), ('last_seen_checkpoint_request_id', 98), ('last_requested_checkpoint_request_id', 4);" },
    init('case 4: upgrade (stale keys replaced)'),
    { label: 'case 4: ps_kv', sql: 'SELECT key, value, typeof(value) FROM ps_kv ORDER BY key' },
    ...dumpSchema('final'),
  ],
};

scenarios.migration_local_downgrade = {
  description:
    "core-storage.md 13.3 'Downgrade restores $local', 'No target -> no $local' and 'Re-upgrade after downgrade' " +
    '(4.4 version 14 down migration, 4.2 version 14 initial DELETE).',
  steps: [
    init(),
    { label: 'no target: downgrade', tx: 'SELECT powersync_test_migration(13)' },
    { label: 'no target: no $local', sql: 'SELECT * FROM ps_buckets ORDER BY name' },
    init('back to 14'),
    { label: 'checkpoint keys', exec: "DELETE FROM ps_kv; INSERT INTO ps_kv(key, value) VALUES ('last_requested_checkpoint_request_id', 7), ('last_seen_checkpoint_request_id', 6), ('last_applied_checkpoint_request_id', 5), ('target_checkpoint_request_id', 7); INSERT INTO ps_buckets(name, last_applied_op, last_op) VALUES ('b1', 3, 4);" },
    migrate(13, 'downgrade to 13'),
    { label: '$local restored', sql: 'SELECT * FROM ps_buckets ORDER BY name' },
    { label: 'keys left in place', sql: 'SELECT key, value FROM ps_kv ORDER BY key' },
    ...dumpSchema('at 13'),
    { label: 'older SDK moves the checkpoint', sql: "UPDATE ps_buckets SET last_op = 8, last_applied_op = 8, target_op = 9 WHERE name = '$local'" },
    init('re-upgrade'),
    { label: 're-upgrade: ps_kv', sql: 'SELECT key, value FROM ps_kv ORDER BY key' },
    { label: 're-upgrade: no $local', sql: 'SELECT * FROM ps_buckets ORDER BY name' },
    ...dumpSchema('re-upgraded'),
    { label: 'string-typed checkpoint values', exec: "DELETE FROM ps_kv WHERE key != 'client_id'; INSERT INTO ps_kv(key, value) VALUES ('last_seen_checkpoint_request_id', '12'), ('target_checkpoint_request_id', '13');" },
    migrate(13, 'downgrade with text values (CAST)'),
    { label: '$local from text values', sql: 'SELECT * FROM ps_buckets ORDER BY name' },
  ],
};

scenarios.migration_priorities_7_to_8 = {
  description:
    "core-storage.md 13.3 '7 -> 8' (4.2 version 8): ten INSERT OR REPLACE rows per priority at version 7 (no " +
    'primary key yet) keep the maximum last_synced_at per priority; then 13 converts them to microseconds and ' +
    'down migrations convert them back.',
  steps: [
    init(),
    migrate(7, 'down to 7'),
    {
      label: 'ten rows per priority',
      exec: Array.from({ length: 10 }, (_, i) =>
        `INSERT OR REPLACE INTO ps_sync_state (priority, last_synced_at) VALUES (2147483647, '2025-03-05 14:${49 + i}:09'); ` +
        `INSERT OR REPLACE INTO ps_sync_state (priority, last_synced_at) VALUES (3, '2025-03-05 13:${49 + i}:09');`,
      ).join(' '),
    },
    { label: 'all rows kept at 7', sql: 'SELECT count(*) FROM ps_sync_state' },
    migrate(8, 'up to 8'),
    { label: 'max per priority', sql: 'SELECT * FROM ps_sync_state ORDER BY priority' },
    init('up to 14'),
    { label: 'microseconds at 14', sql: 'SELECT priority, last_synced_at, typeof(last_synced_at) FROM ps_sync_state ORDER BY priority' },
    { label: 'legacy ps_kv key kept', sql: "SELECT key, value FROM ps_kv WHERE key != 'client_id' ORDER BY key" },
    migrate(7, 'down to 7 again'),
    { label: 'text timestamps at 7', sql: 'SELECT * FROM ps_sync_state ORDER BY priority' },
    migrate(6, 'down to 6'),
    { label: 'last_synced_at back in ps_kv', sql: "SELECT key, value FROM ps_kv WHERE key != 'client_id' ORDER BY key" },
    ...dumpSchema('at 6'),
  ],
};

scenarios.migration_fix035 = {
  description:
    "core-storage.md 13.3 'Migrate from 5 with broken data' (4.2 version 6, the 0.3.5 data repair), up to the " +
    'point before sync: rows present in ps_data__* without any oplog entry are added to ps_updated_rows; ' +
    'local-only data tables are not touched.',
  steps: [
    init(),
    schema(LISTS_TODOS, 'replace_schema lists, todos'),
    schema({ tables: [...LISTS_TODOS.tables, { name: 'notes', local_only: true, columns: [{ name: 'body', type: 'TEXT' }] }] }, 'add a local-only table'),
    migrate(5, 'down to 5'),
    {
      label: 'fix035.dataBroken',
      exec:
        'INSERT INTO ps_buckets(id, name, last_applied_op, last_op, target_op, add_checksum, op_checksum, pending_delete) VALUES ' +
        "(1, 'b1', 2, 2, 0, 0, 120, 0), (2, 'b2', 3, 3, 0, 0, 3, 0);\n" +
        'INSERT INTO ps_oplog(bucket, op_id, row_type, row_id, key, data, hash) VALUES ' +
        "(1, 1, 'todos', 't1', '', '{\"description\":\"Test 1\"}', 100), (1, 2, 'todos', 't2', '', '{\"description\":\"Test 2\"}', 20), " +
        "(2, 3, 'lists', 'l1', '', '{\"description\":\"Test 1\"}', 3);\n" +
        "INSERT INTO ps_data__lists(id, data) VALUES ('l1', '{\"description\":\"Test 1\"}'), ('l3', '{\"description\":\"Test 3\"}');\n" +
        "INSERT INTO ps_data__todos(id, data) VALUES ('t1', '{\"description\":\"Test 1\"}'), ('t2', '{\"description\":\"Test 2\"}'), ('t3', '{\"description\":\"Test 3\"}');\n" +
        "INSERT INTO ps_data_local__notes(id, data) VALUES ('n1', '{}');\n",
    },
    ...dumpData('broken at 5', SYNC_DATA),
    init('upgrade (runs the 6 repair)'),
    ...dumpData('repaired', SYNC_DATA),
    ...dumpTables('repaired', ['ps_data__lists', 'ps_data__todos', 'ps_data_local__notes']),
    migrate(5, 'down to 5 again'),
    { label: 'clear the repair rows', exec: 'DELETE FROM ps_updated_rows;' },
    migrate(6, 'run 6 only: repairs again'),
    ...dumpData('after 6 again', [DATA[2]]),
  ],
};

const OLD_VIEW = 'CREATE VIEW "lists"("id", "description") AS SELECT id, CAST(json_extract(data, \'$.description\') as TEXT) FROM "ps_data__lists" -- powersync-auto-generated';
/* Pre-version-5 style triggers (writing ps_oplog/$local directly), as the
 * Dart schema3 fixture describes them; any text works as long as the view
 * carries the marker. */
const OLD_TRIGGERS =
  'CREATE TRIGGER "ps_view_insert_lists" INSTEAD OF INSERT ON "lists" FOR EACH ROW BEGIN\n' +
  '  INSERT INTO "ps_data__lists" SELECT NEW.id, json_object(\'description\', NEW."description");\n' +
  '  INSERT INTO powersync_crud_(data) SELECT json_object(\'op\', \'PUT\', \'type\', \'lists\', \'id\', NEW.id, \'data\', json(powersync_diff(\'{}\', json_object(\'description\', NEW."description"))));\n' +
  "  INSERT INTO ps_oplog(bucket, op_id, op, row_type, row_id, hash, superseded) SELECT '$local', 1, 'REMOVE', 'lists', NEW.id, 0, 0;\n" +
  "  INSERT OR REPLACE INTO ps_buckets(name, pending_delete, last_op, target_op) VALUES('$local', 1, 0, 9223372036854775807);\n" +
  'END;\n' +
  'CREATE TRIGGER "ps_view_update_lists" INSTEAD OF UPDATE ON "lists" FOR EACH ROW BEGIN\n' +
  "  SELECT CASE WHEN (OLD.id != NEW.id) THEN RAISE (FAIL, 'Cannot update id') END;\n" +
  '  UPDATE "ps_data__lists" SET data = json_object(\'description\', NEW."description") WHERE id = NEW.id;\n' +
  "  INSERT INTO ps_oplog(bucket, op_id, op, row_type, row_id, hash, superseded) SELECT '$local', 1, 'REMOVE', 'lists', NEW.id, 0, 0;\n" +
  'END;\n' +
  'CREATE TRIGGER "ps_view_delete_lists" INSTEAD OF DELETE ON "lists" FOR EACH ROW BEGIN\n' +
  '  DELETE FROM "ps_data__lists" WHERE id = OLD.id;\n' +
  "  INSERT INTO ps_oplog(bucket, op_id, op, row_type, row_id, hash, superseded) SELECT '$local', 1, 'REMOVE', 'lists', OLD.id, 0, 0;\n" +
  'END;\n';
const USER_TRIGGER =
  'CREATE TRIGGER t1 AFTER DELETE ON ps_data__lists WHEN OLD.id NOT GLOB \'*_copy\' BEGIN\n' +
  "  INSERT INTO lists(id, description) VALUES (OLD.id || '_copy', 'copy of ' || OLD.id);\n" +
  'END;\n';

scenarios.migration_schema3_to_5 = {
  description:
    "core-storage.md 13.3 'Schema 3 -> 5' and 'Custom trigger survives 3 -> 5' (4.2 version 5: PowerSync views " +
    're-created without their old triggers before the 5 SQL; user triggers on data tables kept verbatim), then ' +
    "'Developer schema after migration': replace_schema re-creates the current triggers.",
  steps: [
    init(),
    migrate(3, 'down to 3'),
    { label: 'schema3: old-style view, triggers and a user trigger', exec: 'CREATE TABLE "ps_data__lists"(id TEXT PRIMARY KEY NOT NULL, data TEXT);\n' + OLD_VIEW + '\n;\n' + OLD_TRIGGERS + USER_TRIGGER },
    { label: 'write through the old view', sql: "INSERT INTO lists(id, description) VALUES ('l1', 'old')" },
    ...dumpSchema('schema3'),
    ...dumpData('schema3', SYNC_DATA),
    init('upgrade 3 -> 14'),
    ...dumpSchema('upgraded (no view triggers)'),
    ...dumpData('upgraded', SYNC_DATA),
    { label: 'view without triggers is read-only', sql: "INSERT INTO lists(id, description) VALUES ('l2', 'fails')" },
    schema(LISTS_ONLY, 'replace_schema lists'),
    ...dumpSchema('schema5 (current triggers)'),
    { label: 'write through the new view', sql: "INSERT INTO lists(id, description) VALUES ('l2', 'new')" },
    { label: 'user trigger fires on delete', sql: "DELETE FROM ps_data__lists WHERE id = 'l1'" },
    { label: 'data', sql: 'SELECT * FROM ps_data__lists ORDER BY id' },
    { label: 'crud', sql: 'SELECT * FROM ps_crud ORDER BY id' },
  ],
};

scenarios.migration_schema5_down = {
  description:
    "core-storage.md 13.3 'Schema 5 -> 4' and 'Schema 5 -> 3' (4.4 versions 5 and 10 down migrations call " +
    'powersync_drop_view on every view ending in the marker): views and their triggers are dropped, ps_data ' +
    'tables and user views stay.',
  steps: [
    init(),
    schema(LISTS_TODOS, 'replace_schema lists, todos'),
    { label: 'a user view and data', exec: "CREATE VIEW user_view AS SELECT 1 AS one; INSERT INTO lists(id, description) VALUES ('l1', 'a');" },
    migrate(9, 'down to 9 (10 drops views)'),
    ...dumpSchema('at 9'),
    init('back to 14'),
    schema(LISTS_TODOS, 'views back'),
    migrate(5, 'down to 5'),
    schema(LISTS_TODOS, 'replace_schema at version 5'),
    ...dumpSchema('schema5'),
    migrate(4, 'down to 4'),
    ...dumpSchema('at 4'),
    { label: 'data kept', sql: 'SELECT * FROM ps_data__lists' },
    init('back to 14 again'),
    migrate(5, 'down to 5 again'),
    schema(LISTS_TODOS, 'replace_schema at version 5 again'),
    migrate(3, 'down to 3'),
    ...dumpSchema('at 3'),
  ],
};

scenarios.migration_errors = {
  description:
    "core-storage.md 13.4 (ps_migration(foo TEXT) error), 4.1 down loop errors ('Down migration failed - version " +
    "not updated from N', context 'Down migration failed from N') and rollback of a failed migration.",
  steps: [
    { label: 'user table named ps_migration', sql: 'CREATE TABLE IF NOT EXISTS ps_migration(foo TEXT)' },
    { label: 'init fails on it', tx: 'SELECT powersync_init()' },
    { label: 'nothing created', sql: "SELECT name FROM sqlite_master WHERE name != 'ps_migration' ORDER BY name" },
    { exec: 'DROP TABLE ps_migration;' },
    { label: 'outside a transaction', sql: 'SELECT powersync_test_migration(5)' },
    init(),
    migrate(1, 'down to 1'),
    ...dumpSchema('at 1'),
    { label: 'version 1 cannot go down', tx: 'SELECT powersync_test_migration(0)' },
    { label: 'still 1', sql: 'SELECT max(id) FROM ps_migration' },
    init('up again'),
    { label: 'keep the real down migration of 14', sql: 'CREATE TABLE saved AS SELECT down_migrations FROM ps_migration WHERE id = 14' },
    { label: 'empty down migration array', sql: "UPDATE ps_migration SET down_migrations = '[]' WHERE id = 14" },
    { label: 'empty array: version not updated', tx: 'SELECT powersync_test_migration(13)' },
    { label: 'NULL down migrations', sql: 'UPDATE ps_migration SET down_migrations = NULL WHERE id = 14' },
    { label: 'NULL: version not updated', tx: 'SELECT powersync_test_migration(12)' },
    { label: 'failing down statement', sql: "UPDATE ps_migration SET down_migrations = json_array(json_object('sql', 'DELETE FROM no_such_table')) WHERE id = 14" },
    { label: 'error with context', tx: 'SELECT powersync_test_migration(13)' },
    { label: 'statement runs but version stays', sql: "UPDATE ps_migration SET down_migrations = json_array(json_object('sql', 'SELECT 1')) WHERE id = 14" },
    { label: 'no-op down migration', tx: 'SELECT powersync_test_migration(13)' },
    { label: 'partial work rolled back', sql: "UPDATE ps_migration SET down_migrations = json_array(json_object('sql', 'CREATE TABLE partial(x)'), json_object('sql', 'SELECT * FROM nope')) WHERE id = 14" },
    { tx: 'SELECT powersync_test_migration(13)' },
    { label: 'rolled back', sql: "SELECT count(*) FROM sqlite_master WHERE name = 'partial'" },
    { label: 'invalid JSON in down_migrations', sql: "UPDATE ps_migration SET down_migrations = 'not json' WHERE id = 14" },
    { tx: 'SELECT powersync_test_migration(13)' },
    { label: 'target above latest', tx: 'SELECT powersync_test_migration(20)' },
    { label: 'versions', sql: 'SELECT id FROM ps_migration ORDER BY id' },
    { label: 'restore the down migration of 14', sql: 'UPDATE ps_migration SET down_migrations = (SELECT down_migrations FROM saved) WHERE id = 14' },
    /* 4.1: the target is read as a 32-bit integer (sqlite3_value_int). */
    { label: 'target 2^32 + 13 reads as 13', tx: 'SELECT powersync_test_migration(?)', args: [{ int: '4294967309' }] },
    { sql: 'SELECT max(id) FROM ps_migration' },
    init(),
    { label: 'text target', tx: 'SELECT powersync_test_migration(?)', args: ['12'] },
    { sql: 'SELECT max(id) FROM ps_migration' },
    init(),
    { label: 'real target truncated', tx: 'SELECT powersync_test_migration(?)', args: [12.7] },
    { sql: 'SELECT max(id) FROM ps_migration' },
    init(),
    { label: 'NULL target means 0', tx: 'SELECT powersync_test_migration(?)', args: [null] },
    { label: 'negative target', tx: 'SELECT powersync_test_migration(?)', args: [-1] },
    { label: 'rolled back: still 14', sql: 'SELECT max(id) FROM ps_migration' },
  ],
};

scenarios.migration_future_down = {
  description:
    'core-storage.md 4.1 down loop and 14.3 (down migrations are data): a database written by a future version ' +
    '(rows 15 and 16 with their own down_migrations JSON) is brought back to 14 by powersync_init, which must run ' +
    'the stored statements generically, highest version first, in array order, several statements per string, ' +
    'ignoring extra keys.',
  steps: [
    init(),
    {
      label: 'future versions 15 and 16',
      exec:
        'CREATE TABLE future_log(id INTEGER PRIMARY KEY AUTOINCREMENT, msg TEXT);\n' +
        'CREATE TABLE future_table(x);\n' +
        "INSERT INTO ps_kv(key, value) VALUES ('future', 'yes');\n" +
        'INSERT INTO ps_migration(id, down_migrations) VALUES (15, json_array(' +
        "json_object('sql', 'INSERT INTO future_log(msg) VALUES (''15a''); DROP TABLE future_table', 'params', json_array(1, 'x')), " +
        "json_object('sql', 'INSERT INTO future_log(msg) VALUES (''15b'')'), " +
        "json_object('sql', 'DELETE FROM ps_kv WHERE key = ''future''; DELETE FROM ps_migration WHERE id >= 15', 'other', true)));\n" +
        'INSERT INTO ps_migration(id, down_migrations) VALUES (16, json_array(' +
        "json_object('sql', 'INSERT INTO future_log(msg) VALUES (''16'')'), " +
        "json_object('sql', 'DELETE FROM ps_migration WHERE id >= 16')));\n",
    },
    init('powersync_init runs the future down migrations'),
    { label: 'order', sql: 'SELECT * FROM future_log ORDER BY id' },
    { label: 'version 14', sql: MIGRATIONS },
    { label: 'future objects gone', sql: "SELECT name FROM sqlite_master WHERE name LIKE 'future%' ORDER BY name" },
    { label: 'future kv gone', sql: "SELECT key FROM ps_kv WHERE key != 'client_id'" },
    {
      label: 'future version whose down migration lowers by three',
      exec: "INSERT INTO ps_migration(id, down_migrations) VALUES (15, NULL), (16, '[]'), (17, json_array(json_object('sql', 'DELETE FROM ps_migration WHERE id >= 15')));",
    },
    init('17 -> 14 in one step'),
    { label: 'versions', sql: 'SELECT id FROM ps_migration ORDER BY id' },
    ...dumpSchema('after'),
    {
      label: 'future migration without a version change',
      exec: "INSERT INTO ps_migration(id, down_migrations) VALUES (15, json_array(json_object('sql', 'SELECT 1')));",
    },
    { label: 'fails', tx: 'SELECT powersync_init()' },
    { label: 'future migration with a failing statement', sql: "UPDATE ps_migration SET down_migrations = json_array(json_object('sql', 'DROP TABLE nope')) WHERE id = 15" },
    { label: 'fails with context', tx: 'SELECT powersync_init()' },
  ],
};

/* --- Interop ------------------------------------------------------------ */

function interopSteps(first, second) {
  return [
    { core: first },
    init(),
    schema(INTEROP_SCHEMA, 'replace_schema (all table kinds)'),
    ...interopWrites(1),
    ...dumpSchema('written by the first core'),
    ...interopState('first core'),
    { core: second },
    ...dumpSchema('seen by the second core'),
    SV_MARK,
    init('powersync_init (no-op)'),
    schema(INTEROP_SCHEMA, 're-apply the same schema'),
    SV_DELTA,
    ...interopWrites(2),
    { label: 'clear uploaded crud', sql: 'DELETE FROM ps_crud WHERE id <= 3' },
    ...interopState('second core'),
    { label: 'modify the schema', tx: 'SELECT powersync_replace_schema(?)', args: [JSON.stringify({ tables: INTEROP_SCHEMA.tables.filter((t) => t.name !== 'events').concat([{ name: 'tags', columns: [{ name: 'label', type: 'TEXT' }] }]) })] },
    ...dumpSchema('schema changed by the second core'),
    { core: first },
    SV_MARK,
    { label: 'first core re-applies the changed schema', tx: 'SELECT powersync_replace_schema(?)', args: [JSON.stringify({ tables: INTEROP_SCHEMA.tables.filter((t) => t.name !== 'events').concat([{ name: 'tags', columns: [{ name: 'label', type: 'TEXT' }] }]) })] },
    SV_DELTA,
    { label: 'first core writes again', sql: "INSERT INTO tags(id, label) VALUES ('g1', 'x')" },
    { label: 'crud at the end', sql: 'SELECT * FROM ps_crud ORDER BY id' },
    { label: 'untyped (events parked)', sql: 'SELECT * FROM ps_untyped ORDER BY type, id' },
  ];
}

scenarios.interop_official_then_ours = {
  description:
    'Interchangeability (introduction, 14.1, 13.2 schema versioning): a file database created and written by the ' +
    'official core (all table kinds, view writes, ps_crud) is opened by ours, which re-applies the same schema ' +
    '(no-op: schema_version unchanged), continues writing (tx ids continue) and changes the schema; the official ' +
    'core then sees no difference when applying the same changed schema.',
  database: 'file',
  steps: interopSteps('official', 'ours'),
};

scenarios.interop_ours_then_official = {
  description:
    'Interchangeability, reverse direction of interop_official_then_ours: a database created and written by our ' +
    'core is opened by the official one, which must find the generated views/triggers/indexes byte-identical ' +
    '(schema_version unchanged) and continue writing.',
  database: 'file',
  steps: interopSteps('ours', 'official'),
};

function interopDowngradeSteps(creator, downgrader) {
  const steps = [
    { core: creator },
    init(),
    schema(INTEROP_SCHEMA, 'replace_schema'),
    ...interopWrites(1),
    { label: 'sync fixture', exec: FIXTURE_14 + "INSERT INTO ps_kv(key, value) VALUES ('target_checkpoint_request_id', 11), ('last_seen_checkpoint_request_id', 10);" },
    { core: downgrader },
  ];
  for (let v = 13; v >= 2; v--) {
    steps.push(migrate(v, `${downgrader} down to ${v}`), ...dumpSchema(`at ${v}`), ...dumpData(`at ${v}`, v >= 5 ? SYNC_DATA : SYNC_DATA.slice(0, 2)));
  }
  steps.push(
    { core: creator },
    init(`${creator} upgrades again`),
    ...dumpSchema('re-upgraded'),
    ...dumpData('re-upgraded'),
    schema(INTEROP_SCHEMA, 're-apply the schema'),
    ...interopWrites(2),
    ...interopState('after'),
  );
  return steps;
}

scenarios.interop_downgrade_ours_db_by_official = {
  description:
    'core-storage.md 4.1/4.4 and 14.3: a database created by our core (stored down migrations included) is ' +
    'downgraded step by step to version 2 by the official core, which only runs the JSON our core stored, then ' +
    'upgraded and written by ours again.',
  database: 'file',
  steps: interopDowngradeSteps('ours', 'official'),
};

scenarios.interop_downgrade_official_db_by_ours = {
  description:
    'Reverse of interop_downgrade_ours_db_by_official: our core downgrades an official-core database step by ' +
    'step to version 2 using the stored down migrations, then the official core upgrades and writes it again.',
  database: 'file',
  steps: interopDowngradeSteps('official', 'ours'),
};

scenarios.interop_reopen_same_core = {
  description:
    'File-database persistence without switching: generated objects, ps_tx and the client id survive closing ' +
    'and reopening the connection; re-applying the schema after reopening is a no-op (13.2, 20 of section 14).',
  database: 'file',
  steps: [
    init(),
    schema(INTEROP_SCHEMA, 'replace_schema'),
    ...interopWrites(1),
    { label: 'client id', sql: 'SELECT powersync_client_id() = value FROM ps_kv WHERE key = \'client_id\'' },
    { reopen: true },
    SV_MARK,
    init('init after reopen'),
    schema(INTEROP_SCHEMA, 're-apply after reopen'),
    SV_DELTA,
    ...interopWrites(2),
    ...interopState('after reopen'),
  ],
};

/* --- Output ------------------------------------------------------------- */

let written = 0;
for (const [name, sc] of Object.entries(scenarios)) {
  const doc = { description: sc.description };
  if (sc.database) doc.database = sc.database;
  doc.steps = sc.steps;
  const text =
    '{\n  "description": ' + JSON.stringify(doc.description + ' (Generated by gen_migration_scenarios.js.)') + ',\n' +
    (doc.database ? '  "database": ' + JSON.stringify(doc.database) + ',\n' : '') +
    '  "steps": [\n' + doc.steps.map((s) => '    ' + JSON.stringify(s)).join(',\n') + '\n  ]\n}\n';
  fs.writeFileSync(path.join(OUT, `${name}.json`), text);
  written++;
}
console.log(`wrote ${written} scenarios to ${path.relative(process.cwd(), OUT) || '.'}`);
