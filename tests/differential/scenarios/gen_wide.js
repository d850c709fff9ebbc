#!/usr/bin/env node
/*
 * gen_wide.js: writes the crud_wide_<N>.json scenarios (core-storage.md 13.1
 * "Basic CRUD with N columns", N in 1, 49, 50, 51, 63, 64, 100, 1999).
 *
 *   node tests/differential/scenarios/gen_wide.js
 *
 * Each scenario applies one schema with three tables of N TEXT columns
 * column0..column{N-1}: items (synced), items_local (local_only) and
 * items_insert (insert_only); the schema JSON is built in SQL so that the
 * files stay small. Like crud_test.dart it inserts ('test_id', 'column0', ...)
 * into items, copies the row into the other two views, then updates column0
 * and deletes through items and items_local. Outputs are complete for small N;
 * for wide tables (N > 100 for rows, N > 51 for generated SQL) they are
 * digests (lengths, counts, samples) to keep the golden files small.
 * Re-run after editing, then re-record the goldens with
 * node tests/differential/run.js --update --only crud_wide_<N>.
 */
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const SIZES = [1, 49, 50, 51, 63, 64, 100, 1999];

function schemaSql(n) {
  const cols = "(SELECT json_group_array(json_object('name', 'column' || i, 'type', 'TEXT')) FROM c)";
  const table = (name, flag) =>
    `json_object('name', '${name}', 'columns', json(${cols})${flag ? `, '${flag}', json('true')` : ''})`;
  return (
    `WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ${n - 1}) ` +
    `SELECT powersync_replace_schema(json_object('tables', json_array(${table('items')}, ${table('items_local', 'local_only')}, ${table('items_insert', 'insert_only')}))) AS r`
  );
}

function scenario(n) {
  const names = Array.from({ length: n }, (_, i) => `column${i}`);
  const fullRows = n <= 100;
  const fullSql = n === 1 || n === 50 || n === 51;
  const sample = [...new Set([0, 48, 49, 50, 51, 99, 100, n - 1])].filter((i) => i < n).map((i) => `column${i}`);
  const view = (v) => (fullRows ? `SELECT * FROM ${v}` : `SELECT id, ${sample.join(', ')} FROM ${v}`);
  const crud = fullRows
    ? 'SELECT id, tx_id, data FROM ps_crud ORDER BY id'
    : "SELECT id, tx_id, length(data), data->>'$.op', data->>'$.type', data->>'$.id', (SELECT count(*) FROM json_each(data, '$.data')) AS n, (SELECT count(*) FROM json_each(data, '$.data') WHERE key = value) AS same, substr(data, 1, 120), substr(data, -80) FROM ps_crud ORDER BY id";
  const dataCheck = (t) =>
    `SELECT id, length(data), (SELECT count(*) FROM json_each(data)) AS n, (SELECT count(*) FROM json_each(data) WHERE key = value) AS same, data->>'$.column0' FROM ${t} ORDER BY id`;
  const master = fullSql
    ? "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name GLOB '*items*' ORDER BY type, name"
    : "SELECT type, name, tbl_name, length(sql), (length(sql) - length(replace(sql, 'json_object(', ''))) / 12 AS json_objects, (length(sql) - length(replace(sql, 'powersync_json_merge(', ''))) / 21 AS merges, substr(sql, 1, 160), substr(sql, -160) FROM sqlite_master WHERE tbl_name GLOB '*items*' ORDER BY type, name";
  const step = (label, s) => Object.assign({ label }, s);
  const steps = [
    { tx: 'SELECT powersync_init()' },
    step('schema', { tx: schemaSql(n) }),
    step('generated objects', { sql: master }),
    step('insert', { sql: `insert into items(id, ${names.join(', ')}) values('test_id', ${names.map((c) => `'${c}'`).join(', ')})` }),
    { sql: view('items') },
    { sql: dataCheck('ps_data__items') },
    { sql: crud },
    step('local_only insert', { sql: 'INSERT INTO items_local SELECT * FROM items' }),
    { sql: view('items_local') },
    step('insert_only insert', { sql: 'INSERT INTO items_insert SELECT * FROM items' }),
    { sql: fullRows ? 'SELECT * FROM items_insert' : 'SELECT count(*) FROM items_insert' },
    { sql: 'SELECT count(*) FROM ps_data__items_insert' },
    { sql: crud },
    step('update', { sql: 'update items set column0 = ?', args: ['new_value'] }),
    { sql: view('items') },
    { sql: dataCheck('ps_data__items') },
    { sql: 'select id, tx_id, data from ps_crud where id = 3' },
    step('delete', { sql: 'delete from items' }),
    { sql: view('items') },
    { sql: 'select id, tx_id, data from ps_crud where id = 4' },
    step('local_only update', { sql: 'update items_local set column0 = ?', args: ['new_value'] }),
    { sql: view('items_local') },
    { sql: dataCheck('ps_data_local__items_local') },
    step('local_only delete', { sql: 'delete from items_local' }),
    { sql: view('items_local') },
    step('no CRUD for local-only writes', { sql: 'SELECT count(*), max(tx_id) FROM ps_crud' }),
    { sql: 'SELECT id, current_tx, next_tx FROM ps_tx' },
  ];
  return {
    description:
      `core-storage.md 13.1 'Basic CRUD with N columns' for N = ${n} (crud_test.dart runCrudTest / runCrudTestLocalOnly / runCrudTestInsertOnly) and 6.4 (json_object chunks of 50 pairs merged with powersync_json_merge): ` +
      'synced insert/update/delete with tx ids and ps_crud JSON, local-only insert/update/delete without CRUD, insert-only PUT with nothing stored. Generated by gen_wide.js.',
    database: 'memory',
    steps,
  };
}

for (const n of SIZES) {
  const sc = scenario(n);
  const text =
    '{\n  "description": ' + JSON.stringify(sc.description) + ',\n  "database": "memory",\n  "steps": [\n' +
    sc.steps.map((s) => '    ' + JSON.stringify(s)).join(',\n') + '\n  ]\n}\n';
  fs.writeFileSync(path.join(__dirname, `crud_wide_${n}.json`), text);
}
console.log(`wrote ${SIZES.map((n) => `crud_wide_${n}.json`).join(', ')}`);
