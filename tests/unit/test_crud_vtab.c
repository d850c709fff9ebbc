/*
 * test_crud_vtab.c: the CRUD virtual tables powersync_crud and
 * powersync_crud_ (core-storage.md 9.1, 9.2, 9.4, 13.1, 13.7), including the
 * deliberate tx-id fix of docs/compatibility.md.
 *
 * Expected strings were checked against the official 0.5.3 binary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ext_test_helpers.h"

#define CRUD_ROWS "SELECT id, tx_id, data FROM ps_crud ORDER BY id"

/* A schema with a synced table, an insert-only table and a local-only one. */
static const char SCHEMA[] =
    "BEGIN; SELECT powersync_replace_schema('{\"tables\":["
    "{\"name\":\"items\",\"columns\":[{\"name\":\"col\",\"type\":\"text\"}]},"
    "{\"name\":\"io\",\"columns\":[{\"name\":\"a\",\"type\":\"integer\"}],"
    "\"insert_only\":true},"
    "{\"name\":\"loc\",\"columns\":[{\"name\":\"a\",\"type\":\"integer\"}],"
    "\"local_only\":true}]}'); COMMIT;";

static sqlite3 *open_initialized(void) {
  sqlite3 *db = th_open();
  th_init(db);
  return db;
}

static sqlite3 *open_with_schema(void) {
  sqlite3 *db = open_initialized();
  th_exec(db, SCHEMA);
  return db;
}

/* ---- JSON of powersync_crud (9.1) ---- */

static void crud_simple_put_is_recorded(void **state) {
  sqlite3 *db = open_initialized();
  (void)state;
  th_exec(db, "INSERT INTO powersync_crud (op, id, type, data) VALUES "
              "('PUT','foo','users','{\"my\":\"value\"}')");
  th_expect_rows(db, CRUD_ROWS,
                 "1|1|{\"op\":\"PUT\",\"id\":\"foo\",\"type\":\"users\","
                 "\"data\":{\"my\":\"value\"}}");
  th_close(db);
}

static void crud_simple_delete_metadata_and_old(void **state) {
  sqlite3 *db = open_initialized();
  (void)state;
  th_exec(db, "INSERT INTO powersync_crud (op, id, type) VALUES "
              "('DELETE','foo','users')");
  th_exec(db, "INSERT INTO powersync_crud (op, id, type, metadata) VALUES "
              "('DELETE','foo','users','my metadata')");
  th_exec(db, "INSERT INTO powersync_crud (op, id, type, data, old_values) "
              "VALUES ('PUT','foo','users','{\"my\":\"value\"}',"
              "'{\"previous\":\"value\"}')");
  th_expect_rows(
      db, "SELECT data FROM ps_crud ORDER BY id",
      "{\"op\":\"DELETE\",\"id\":\"foo\",\"type\":\"users\"};"
      "{\"op\":\"DELETE\",\"id\":\"foo\",\"type\":\"users\","
      "\"metadata\":\"my metadata\"};"
      "{\"op\":\"PUT\",\"id\":\"foo\",\"type\":\"users\",\"data\":{\"my\":"
      "\"value\"},\"old\":{\"previous\":\"value\"}}");
  th_close(db);
}

static void crud_simple_embeds_verbatim(void **state) {
  sqlite3 *db = open_initialized();
  (void)state;
  /* Invalid JSON and whitespace are kept; numbers and blobs in data, old and
   * metadata are dropped; NULL op/id/type become "". */
  th_exec(db, "INSERT INTO powersync_crud(op, id, type, data, old_values, "
              "metadata) VALUES (1, 2.5, x'41', 'not json', ' { \"a\" : 1 } ', "
              "'m')");
  th_exec(db, "INSERT INTO powersync_crud(op, id, type, data, old_values, "
              "metadata) VALUES (NULL, NULL, NULL, 3, x'7b7d', 4)");
  th_expect_rows(db, "SELECT data FROM ps_crud ORDER BY id",
                 "{\"op\":\"1\",\"id\":\"2.5\",\"type\":\"A\",\"data\":not "
                 "json,\"old\": { \"a\" : 1 } ,\"metadata\":\"m\"};"
                 "{\"op\":\"\",\"id\":\"\",\"type\":\"\"}");
  /* NULL id/type are bound as NULL, which ps_updated_rows ignores. */
  th_expect_rows(db, "SELECT * FROM ps_updated_rows", "A|2.5");
  th_close(db);
}

static void crud_simple_escapes_strings(void **state) {
  sqlite3 *db = open_initialized();
  (void)state;
  th_exec(db, "INSERT INTO powersync_crud(op, id, type, metadata) VALUES "
              "('P\"\\', 'i' || char(9, 31, 127) || '/', 'ty' || char(8232), "
              "'m' || char(10, 1) || 'é')");
  th_expect_text(db, "SELECT data FROM ps_crud",
                 "{\"op\":\"P\\\"\\\\\",\"id\":\"i\\t\\u001f\x7f/\","
                 "\"type\":\"ty\xe2\x80\xa8\",\"metadata\":\"m\\n\\u0001é\"}");
  th_close(db);
}

static void crud_simple_keeps_nul_bytes(void **state) {
  sqlite3 *db = open_initialized();
  (void)state;
  th_exec(db, "INSERT INTO powersync_crud(op, id, type) VALUES "
              "('PUT', CAST(x'610062' AS TEXT), 't')");
  th_expect_text(db, "SELECT hex(data) FROM ps_crud",
                 "7B226F70223A22505554222C226964223A22615C75303030306222"
                 "2C2274797065223A2274227D");
  th_close(db);
}

/* ---- ps_updated_rows and the local-write gate ---- */

static void crud_simple_sets_gate_and_updated_rows(void **state) {
  sqlite3 *db = open_initialized();
  (void)state;
  th_exec(db, "INSERT INTO ps_kv(key, value) VALUES "
              "('last_seen_checkpoint_request_id', 6), "
              "('last_applied_checkpoint_request_id', 5)");
  th_exec(db, "INSERT INTO powersync_crud (op, id, type, data) VALUES "
              "('PUT','foo','users','{\"my\":\"value\"}')");
  th_expect_rows(db, "SELECT row_type, row_id FROM ps_updated_rows",
                 "users|foo");
  th_expect_rows(db, "SELECT * FROM ps_buckets WHERE name = '$local'", "");
  th_expect_rows(db,
                 "SELECT key, value, typeof(value) FROM ps_kv WHERE key LIKE "
                 "'%checkpoint_request_id'",
                 "target_checkpoint_request_id|9223372036854775807|integer");
  th_close(db);
}

static void crud_simple_gate_once_per_transaction(void **state) {
  sqlite3 *db = open_initialized();
  (void)state;
  th_exec(db, "BEGIN; INSERT INTO powersync_crud (op, id, type) VALUES "
              "('DELETE','a','t');"
              "INSERT INTO ps_kv VALUES ('last_seen_checkpoint_request_id', 1);"
              "INSERT INTO powersync_crud (op, id, type) VALUES "
              "('DELETE','b','t'); COMMIT;");
  /* The second insert of the transaction does not delete the seen id. */
  th_expect_text(db,
                 "SELECT value FROM ps_kv WHERE key = "
                 "'last_seen_checkpoint_request_id'",
                 "1");
  th_exec(db, "INSERT INTO powersync_crud (op, id, type) VALUES "
              "('DELETE','c','t')");
  th_expect_text(db,
                 "SELECT count(*) FROM ps_kv WHERE key = "
                 "'last_seen_checkpoint_request_id'",
                 "0");
  th_close(db);
}

/* ---- ignore_empty_update ---- */

static void crud_simple_ignores_exact_empty_patch(void **state) {
  sqlite3 *db = open_initialized();
  (void)state;
  th_exec(db, "INSERT INTO powersync_crud(op, id, type, data, options) "
              "VALUES ('PATCH', 'a', 't', '{}', 16)");
  th_exec(db, "INSERT INTO powersync_crud(op, id, type, data, options) "
              "VALUES ('PATCH', 'a', 't', '{}', '17')");
  /* Nothing recorded: no row, no updated row, no gate. */
  th_expect_rows(db, CRUD_ROWS, "");
  th_expect_rows(db, "SELECT * FROM ps_updated_rows", "");
  th_expect_rows(db, "SELECT key FROM ps_kv WHERE key != 'client_id'", "");
  /* Not exactly an empty PATCH of an ignore_empty_update table: recorded. */
  th_exec(db, "INSERT INTO powersync_crud(op, id, type, data, options) "
              "VALUES ('PATCH', 'b', 't', '{ }', 16)");
  th_exec(db, "INSERT INTO powersync_crud(op, id, type, data, options) "
              "VALUES ('patch', 'c', 't', '{}', 16)");
  th_exec(db, "INSERT INTO powersync_crud(op, id, type, data, options) "
              "VALUES ('PATCH', 'd', 't', '{}', 0)");
  th_exec(db, "INSERT INTO powersync_crud(op, id, type, data, options) "
              "VALUES ('PATCH', 'e', 't', x'7b7d', 16)");
  th_expect_rows(db, "SELECT data->>'id' FROM ps_crud ORDER BY id", "b;c;d;e");
  th_close(db);
}

/* ---- powersync_crud_ ---- */

static void crud_manual_stores_text_verbatim(void **state) {
  sqlite3 *db = open_initialized();
  (void)state;
  th_exec(db, "INSERT INTO powersync_crud_(data) VALUES ('x y')");
  /* With option 16, NULL data fails the filter (NULL->>'op' is NULL). */
  th_exec(db, "INSERT INTO powersync_crud_(data, options) VALUES (NULL, 16)");
  th_exec(db, "INSERT INTO powersync_crud_(data, options) VALUES (NULL, NULL)");
  th_exec(db, "INSERT INTO powersync_crud_(data, options) VALUES (12.5, 0)");
  th_exec(db, "INSERT INTO powersync_crud_(rowid, data) VALUES (77, 'r')");
  th_expect_rows(db, "SELECT id, tx_id, data, typeof(data) FROM ps_crud",
                 "1|1|x y|text;2|3|NULL|null;3|4|12.5|text;4|5|r|text");
  /* Neither ps_updated_rows nor the gate. */
  th_expect_rows(db, "SELECT * FROM ps_updated_rows", "");
  th_expect_rows(db, "SELECT key FROM ps_kv WHERE key != 'client_id'", "");
  th_close(db);
}

static void crud_manual_skips_empty_patch_with_option(void **state) {
  sqlite3 *db = open_initialized();
  (void)state;
  th_exec(db, "INSERT INTO powersync_crud_(data, options) VALUES "
              "('{\"op\":\"PATCH\",\"data\":{}}', 16)");
  th_exec(db, "INSERT INTO powersync_crud_(data, options) VALUES "
              "('{\"op\":\"PATCH\",\"data\":{ }}', '16')");
  th_exec(db, "INSERT INTO powersync_crud_(data, options) VALUES "
              "('{\"op\":\"PATCH\",\"data\":{}}', 0)");
  th_expect_rows(db, CRUD_ROWS, "1|3|{\"op\":\"PATCH\",\"data\":{}}");
  th_expect_error(
      db, "INSERT INTO powersync_crud_(data, options) VALUES ('not json', 16)",
      SQLITE_ERROR,
      "statement WITH insertion (tx_id, data) AS (VALUES (?1, ?2))\n"
      "INSERT INTO ps_crud(tx_id, data)\n"
      "SELECT * FROM insertion WHERE (NOT (?3 & 16)) OR data->>'op' != "
      "'PATCH' OR data->'data' != '{}';: internal SQLite call returned "
      "ERROR: malformed JSON");
  th_close(db);
}

/* ---- What the tables refuse ---- */

static void crud_rejects_reads_updates_and_create(void **state) {
  sqlite3 *db = open_initialized();
  (void)state;
  th_expect_error(db, "SELECT * FROM powersync_crud", SQLITE_ERROR,
                  "bad parameter or other API misuse");
  th_expect_error(db, "SELECT * FROM powersync_crud_", SQLITE_ERROR,
                  "bad parameter or other API misuse");
  th_expect_error(db, "UPDATE powersync_crud SET op = 'x'", SQLITE_ERROR,
                  "bad parameter or other API misuse");
  th_expect_error(db, "DELETE FROM powersync_crud_", SQLITE_ERROR,
                  "bad parameter or other API misuse");
  th_expect_error(db, "CREATE VIRTUAL TABLE x USING powersync_crud",
                  SQLITE_ERROR, "no such module: powersync_crud");
  th_close(db);
}

static void crud_declares_schemas(void **state) {
  sqlite3 *db = th_open();
  (void)state;
  th_expect_rows(db,
                 "SELECT name, type, hidden FROM "
                 "pragma_table_xinfo('powersync_crud')",
                 "op|TEXT|0;id|TEXT|0;type|TEXT|0;data|TEXT|0;"
                 "old_values|TEXT|0;metadata|TEXT|0;options|INT|1");
  th_expect_rows(db,
                 "SELECT name, type, hidden FROM "
                 "pragma_table_xinfo('powersync_crud_')",
                 "data|TEXT|0;options|INT|1");
  th_close(db);
}

static void crud_reports_internal_errors_without_prefix(void **state) {
  sqlite3 *db = th_open();
  (void)state;
  th_expect_error(db,
                  "INSERT INTO powersync_crud(op, id, type) VALUES "
                  "('PUT','a','t')",
                  SQLITE_ERROR,
                  "statement UPDATE ps_tx SET next_tx = next_tx + 1 WHERE "
                  "id = 1 RETURNING next_tx: internal SQLite call returned "
                  "ERROR: no such table: ps_tx");
  th_exec(db, "CREATE TABLE ps_tx(id INTEGER PRIMARY KEY NOT NULL, "
              "current_tx INTEGER, next_tx INTEGER)");
  th_expect_error(db, "INSERT INTO powersync_crud_(data) VALUES ('{}')",
                  SQLITE_INTERNAL, "Internal PowerSync error. cause: unknown");
  th_exec(db, "INSERT INTO ps_tx VALUES (1, NULL, 5)");
  th_expect_error(db,
                  "INSERT INTO powersync_crud(op, id, type) VALUES "
                  "('PUT','a','t')",
                  SQLITE_ERROR,
                  "statement INSERT INTO ps_crud(tx_id, data) VALUES (?, ?): "
                  "internal SQLite call returned ERROR: no such table: "
                  "ps_crud");
  /* Failed statements roll back the increment. */
  th_expect_text(db, "SELECT next_tx FROM ps_tx", "5");
  /* Statements are prepared per transaction: after the table went away, the
   * prepare error names the full text (with its trailing whitespace), as in
   * the official core. */
  th_exec(db, "CREATE TABLE ps_crud (id INTEGER PRIMARY KEY AUTOINCREMENT, "
              "data TEXT, tx_id INTEGER)");
  th_exec(db, "INSERT INTO powersync_crud_(data) VALUES ('x')");
  th_exec(db, "DROP TABLE ps_crud");
  th_expect_error(db, "INSERT INTO powersync_crud_(data) VALUES ('x')",
                  SQLITE_ERROR,
                  "statement WITH insertion (tx_id, data) AS (VALUES (?1, "
                  "?2))\nINSERT INTO ps_crud(tx_id, data)\nSELECT * FROM "
                  "insertion WHERE (NOT (?3 & 16)) OR data->>'op' != 'PATCH' "
                  "OR data->'data' != '{}';\n    : internal SQLite call "
                  "returned ERROR: no such table: ps_crud");
  th_close(db);
}

static void crud_ignores_writes_in_sync_operation(void **state) {
  struct ps__state *st;
  sqlite3 *db = th_open_with_state(&st);
  (void)state;
  th_init(db);
  st->in_sync_operation = 1;
  th_exec(db, "INSERT INTO powersync_crud(op, id, type) VALUES "
              "('PUT','a','t')");
  th_exec(db, "INSERT INTO powersync_crud_(data) VALUES ('x')");
  th_expect_rows(db, CRUD_ROWS, "");
  th_expect_rows(db, "SELECT * FROM ps_updated_rows", "");
  /* The transaction id is still allocated (gaps are expected). */
  th_expect_text(db, "SELECT next_tx FROM ps_tx", "3");
  st->in_sync_operation = 0;
  th_exec(db, "INSERT INTO powersync_crud_(data) VALUES ('x')");
  th_expect_rows(db, CRUD_ROWS, "1|3|x");
  th_close(db);
  ps__state_unref(st);
}

/* ---- Transaction ids (9.4) ---- */

static void crud_tx_id_resets_after_commit_and_rollback(void **state) {
  sqlite3 *db = open_initialized();
  (void)state;
  th_exec(db, "BEGIN; INSERT INTO powersync_crud(op, id, type) VALUES "
              "('DELETE','foo','users'); COMMIT;");
  th_exec(db, "INSERT INTO powersync_crud(op, id, type) VALUES "
              "('DELETE','foo2','users')");
  th_expect_rows(db, "SELECT tx_id FROM ps_crud ORDER BY id", "1;2");
  th_exec(db, "DELETE FROM ps_crud");
  th_exec(db, "BEGIN; INSERT INTO powersync_crud(op, id, type) VALUES "
              "('DELETE','foo','users'); ROLLBACK;");
  th_exec(db, "INSERT INTO powersync_crud(op, id, type) VALUES "
              "('DELETE','foo3','users')");
  th_expect_rows(db, CRUD_ROWS,
                 "3|3|{\"op\":\"DELETE\",\"id\":\"foo3\",\"type\":\"users\"}");
  th_close(db);
}

static void crud_tx_id_shared_by_both_tables(void **state) {
  sqlite3 *db = open_initialized();
  int tx;
  (void)state;
  for (tx = 1; tx <= 4; tx++) {
    int i;
    th_exec(db, "BEGIN");
    for (i = 0; i < tx; i++) {
      th_exec(db, (tx + i) % 2 ? "INSERT INTO powersync_crud_(data) "
                                 "VALUES ('m')"
                               : "INSERT INTO powersync_crud(op, id, type) "
                                 "VALUES ('DELETE','s','t')");
      th_exec(db, (tx + i) % 2 ? "INSERT INTO powersync_crud(op, id, type) "
                                 "VALUES ('DELETE','s','t')"
                               : "INSERT INTO powersync_crud_(data) "
                                 "VALUES ('m')");
    }
    th_exec(db, "COMMIT");
  }
  th_expect_rows(db,
                 "SELECT tx_id, count(*) FROM ps_crud GROUP BY tx_id ORDER "
                 "BY tx_id",
                 "1|2;2|4;3|6;4|8");
  th_expect_text(db, "SELECT next_tx FROM ps_tx", "5");
  th_close(db);
}

static void crud_tx_id_allocated_by_statements_writing_nothing(void **state) {
  sqlite3 *db = open_with_schema();
  (void)state;
  th_exec(db, "INSERT INTO items(id, col) VALUES ('a', 'x')");
  th_exec(db, "DELETE FROM items WHERE 0");
  th_exec(db, "UPDATE items SET col = 'z' WHERE 0");
  th_exec(db, "INSERT INTO loc(id, a) VALUES ('l', 1)"); /* No allocation. */
  th_exec(db, "SELECT * FROM items");                    /* No allocation. */
  th_exec(db, "INSERT INTO items(id, col) VALUES ('b', 'x')");
  th_expect_rows(db, "SELECT tx_id FROM ps_crud ORDER BY id", "1;4");
  th_close(db);
}

static void crud_views_record_put_patch_delete(void **state) {
  sqlite3 *db = open_with_schema();
  (void)state;
  th_exec(db, "INSERT INTO items(id, col) VALUES ('test_id', 'v')");
  th_exec(db, "UPDATE items SET col = 'new_value'");
  th_exec(db, "DELETE FROM items");
  th_exec(db, "INSERT INTO io(id, a) VALUES ('i', 1)");
  th_exec(db, "INSERT INTO loc(id, a) VALUES ('l', 1)");
  th_expect_rows(
      db, CRUD_ROWS,
      "1|1|{\"op\":\"PUT\",\"id\":\"test_id\",\"type\":\"items\",\"data\":"
      "{\"col\":\"v\"}};"
      "2|2|{\"op\":\"PATCH\",\"id\":\"test_id\",\"type\":\"items\",\"data\":"
      "{\"col\":\"new_value\"}};"
      "3|3|{\"op\":\"DELETE\",\"id\":\"test_id\",\"type\":\"items\"};"
      "4|4|{\"op\":\"PUT\",\"type\":\"io\",\"id\":\"i\",\"data\":{\"a\":1}}");
  th_expect_rows(db, "SELECT * FROM io", "");
  th_close(db);
}

/* The deliberate fix (docs/compatibility.md,
 * tx-id-reuse-after-statement-rollback): the official core gives the last
 * insert tx_id 2 as well. */
static void crud_tx_id_not_reused_after_statement_rollback(void **state) {
  sqlite3 *db = open_with_schema();
  (void)state;
  th_exec(db, "INSERT INTO items(id, col) VALUES ('a', 'x')");
  th_exec(db, "BEGIN");
  th_expect_error(db, "INSERT INTO items(id, col) VALUES ('a', 'dup')",
                  SQLITE_CONSTRAINT_PRIMARYKEY,
                  "UNIQUE constraint failed: ps_data__items.id");
  th_exec(db, "INSERT INTO items(id, col) VALUES ('b', 'ok')");
  th_exec(db, "COMMIT");
  th_exec(db, "INSERT INTO items(id, col) VALUES ('c', 'ok')");
  th_expect_rows(db, "SELECT data->>'id', tx_id FROM ps_crud ORDER BY id",
                 "a|1;b|2;c|3");
  th_close(db);
}

static void crud_tx_id_not_reused_after_rollback_to(void **state) {
  sqlite3 *db = open_initialized();
  (void)state;
  th_exec(db, "BEGIN; SAVEPOINT s; INSERT INTO powersync_crud_(data) VALUES "
              "('gone'); ROLLBACK TO s;"
              "INSERT INTO powersync_crud_(data) VALUES ('kept'); COMMIT;");
  th_exec(db, "INSERT INTO powersync_crud_(data) VALUES ('next')");
  th_expect_rows(db, "SELECT data, tx_id FROM ps_crud ORDER BY id",
                 "kept|1;next|2");
  th_close(db);
}

static void
crud_tx_id_unused_after_rollback_to_is_handed_out_again(void **state) {
  sqlite3 *db = open_initialized();
  (void)state;
  /* No row kept the id, so reusing it is harmless; numbering stays identical
   * to the official core here. */
  th_exec(db, "BEGIN; SAVEPOINT s; INSERT INTO powersync_crud_(data) VALUES "
              "('gone'); ROLLBACK TO s; COMMIT;");
  th_exec(db, "INSERT INTO powersync_crud_(data) VALUES ('next')");
  th_expect_rows(db, "SELECT data, tx_id FROM ps_crud", "next|1");
  /* A filtered manual insert does not persist the id either. */
  th_exec(db,
          "BEGIN; SAVEPOINT s; INSERT INTO powersync_crud_(data) VALUES "
          "('gone'); ROLLBACK TO s; INSERT INTO powersync_crud_(data, "
          "options) VALUES ('{\"op\":\"PATCH\",\"data\":{}}', 16); COMMIT;");
  th_expect_text(db, "SELECT next_tx FROM ps_tx", "2");
  th_close(db);
}

static void crud_tx_id_fix_leaves_normal_numbering_alone(void **state) {
  sqlite3 *db = open_initialized();
  (void)state;
  th_exec(db, "BEGIN; INSERT INTO powersync_crud_(data) VALUES ('a');"
              "INSERT INTO powersync_crud_(data) VALUES ('b'); COMMIT;");
  th_expect_text(db, "SELECT next_tx FROM ps_tx", "2");
  th_close(db);
}

/* ---- Lifetime ---- */

static void crud_close_succeeds_with_statements_held(void **state) {
  sqlite3 *db = open_initialized();
  (void)state;
  th_exec(db, "INSERT INTO powersync_crud(op, id, type) VALUES "
              "('PUT','a','t')");
  th_exec(db, "INSERT INTO powersync_crud_(data) VALUES ('x')");
  /* Even with a transaction open. */
  th_exec(db, "BEGIN; INSERT INTO powersync_crud_(data) VALUES ('y')");
  th_close(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(crud_simple_put_is_recorded),
      cmocka_unit_test(crud_simple_delete_metadata_and_old),
      cmocka_unit_test(crud_simple_embeds_verbatim),
      cmocka_unit_test(crud_simple_escapes_strings),
      cmocka_unit_test(crud_simple_keeps_nul_bytes),
      cmocka_unit_test(crud_simple_sets_gate_and_updated_rows),
      cmocka_unit_test(crud_simple_gate_once_per_transaction),
      cmocka_unit_test(crud_simple_ignores_exact_empty_patch),
      cmocka_unit_test(crud_manual_stores_text_verbatim),
      cmocka_unit_test(crud_manual_skips_empty_patch_with_option),
      cmocka_unit_test(crud_rejects_reads_updates_and_create),
      cmocka_unit_test(crud_declares_schemas),
      cmocka_unit_test(crud_reports_internal_errors_without_prefix),
      cmocka_unit_test(crud_ignores_writes_in_sync_operation),
      cmocka_unit_test(crud_tx_id_resets_after_commit_and_rollback),
      cmocka_unit_test(crud_tx_id_shared_by_both_tables),
      cmocka_unit_test(crud_tx_id_allocated_by_statements_writing_nothing),
      cmocka_unit_test(crud_views_record_put_patch_delete),
      cmocka_unit_test(crud_tx_id_not_reused_after_statement_rollback),
      cmocka_unit_test(crud_tx_id_not_reused_after_rollback_to),
      cmocka_unit_test(crud_tx_id_unused_after_rollback_to_is_handed_out_again),
      cmocka_unit_test(crud_tx_id_fix_leaves_normal_numbering_alone),
      cmocka_unit_test(crud_close_succeeds_with_statements_held),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
