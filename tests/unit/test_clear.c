/*
 * test_clear.c: powersync_clear(flags) and powersync_trigger_resync(
 * clear_progress) (core-storage.md 10, 13.1 "Clearing", 13.4, 13.7).
 *
 * Error texts were checked against the official 0.5.3 binary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ext_test_helpers.h"

/* Fills every table powersync_clear touches. */
static void fill(sqlite3 *db) {
  th_exec(db,
          "INSERT INTO ps_buckets(name, last_applied_op, last_op) "
          "VALUES ('b', 5, 6);"
          "INSERT INTO ps_oplog VALUES (1, 1, 't', 'r', 'k', '{}', 0);"
          "INSERT INTO ps_crud(data, tx_id) VALUES ('x', 1);"
          "INSERT INTO ps_untyped VALUES ('t', 'r', '{}');"
          "INSERT INTO ps_updated_rows VALUES ('t', 'r');"
          "INSERT INTO ps_kv VALUES ('target_checkpoint_request_id', 5), "
          "('foo', 1);"
          "INSERT INTO ps_sync_state VALUES (1, 5);"
          "INSERT INTO ps_stream_subscriptions(stream_name, last_synced_at) "
          "VALUES ('s', 5);"
          "CREATE TABLE ps_data__t(id TEXT PRIMARY KEY, data TEXT);"
          "CREATE TABLE ps_data_local__l(id TEXT PRIMARY KEY, data TEXT);"
          "CREATE TABLE ps_data_x(a);"
          "CREATE TABLE \"ps_data__q\"\"uote\"(a);"
          "INSERT INTO ps_data__t VALUES ('a', '{}'), ('b', '{}');"
          "INSERT INTO ps_data_local__l VALUES ('a', '{}');"
          "INSERT INTO ps_data_x VALUES (1);"
          "INSERT INTO \"ps_data__q\"\"uote\" VALUES (1);");
}

static sqlite3 *open_filled(void) {
  sqlite3 *db = th_open();
  th_init(db);
  fill(db);
  return db;
}

#define COUNTS                                                                 \
  "SELECT (SELECT count(*) FROM ps_buckets) || (SELECT count(*) FROM "         \
  "ps_oplog) || (SELECT count(*) FROM ps_crud) || (SELECT count(*) FROM "      \
  "ps_untyped) || (SELECT count(*) FROM ps_updated_rows) || (SELECT count(*) " \
  "FROM ps_sync_state) || (SELECT count(*) FROM ps_stream_subscriptions) || "  \
  "'/' || (SELECT count(*) FROM ps_data__t) || (SELECT count(*) FROM "         \
  "\"ps_data__q\"\"uote\") || (SELECT count(*) FROM ps_data_local__l) || "     \
  "(SELECT count(*) FROM ps_data_x)"

static void clear_requires_transaction(void **state) {
  sqlite3 *db = th_open();
  (void)state;
  th_expect_error(db, "SELECT powersync_clear(0)", SQLITE_MISUSE,
                  "powersync_clear: This function may only be called in "
                  "transactions.");
  th_expect_error(db, "SELECT powersync_trigger_resync(TRUE)", SQLITE_MISUSE,
                  "powersync_trigger_resync: This function may only be "
                  "called in transactions.");
  th_close(db);
}

static void clear_hard_empties_everything_synced(void **state) {
  sqlite3 *db = open_filled();
  (void)state;
  th_expect_text(db, "SELECT powersync_update_hooks('install')", "NULL");
  th_exec(db, "BEGIN");
  th_expect_text(db, "SELECT powersync_clear(0)", "");
  th_exec(db, "COMMIT");
  th_expect_text(db, COUNTS, "0000000/0011");
  /* The client id survives, the ps_crud sequence is not reset. */
  th_expect_rows(db, "SELECT key FROM ps_kv", "client_id");
  th_expect_text(db, "SELECT seq FROM sqlite_sequence WHERE name = 'ps_crud'",
                 "1");
  /* The single-row deletes make the data tables visible to update hooks. */
  th_expect_text(db, "SELECT powersync_update_hooks('get')",
                 "[\"ps_data__q\\\"uote\",\"ps_data__t\",\"ps_kv\"]");
  th_close(db);
}

static void clear_local_flag_empties_every_ps_data_table(void **state) {
  sqlite3 *db = open_filled();
  (void)state;
  th_exec(db, "BEGIN; SELECT powersync_clear(1); COMMIT;");
  th_expect_text(db, COUNTS, "0000000/0000");
  th_close(db);
}

static void clear_soft_keeps_buckets(void **state) {
  sqlite3 *db = open_filled();
  (void)state;
  th_exec(db, "BEGIN; SELECT powersync_clear(2); COMMIT;");
  th_expect_text(db, COUNTS, "1100000/0011");
  th_expect_rows(db, "SELECT name, last_applied_op, last_op FROM ps_buckets",
                 "b|0|6");
  th_close(db);
}

static void clear_reads_flags_as_32_bit_integer(void **state) {
  sqlite3 *db = open_filled();
  (void)state;
  /* 4294967298 is 2 in 32 bits: a soft clear. */
  th_exec(db, "BEGIN; SELECT powersync_clear(4294967298); COMMIT;");
  th_expect_text(db, COUNTS, "1100000/0011");
  th_close(db);
}

static void clear_soft_and_resync_fail_during_iteration(void **state) {
  struct ps__state *st;
  sqlite3 *db = th_open_with_state(&st);
  (void)state;
  th_init(db);
  fill(db);
  st->sync_iteration_active = 1;
  th_exec(db, "BEGIN");
  th_expect_error(db, "SELECT powersync_clear(2)", SQLITE_CONSTRAINT_DATATYPE,
                  "powersync_clear: invalid argument: Cannot clear or "
                  "trigger resync while a sync iteration is active.. cause: "
                  "unknown");
  th_expect_error(db, "SELECT powersync_trigger_resync(0)",
                  SQLITE_CONSTRAINT_DATATYPE,
                  "powersync_trigger_resync: invalid argument: Cannot clear "
                  "or trigger resync while a sync iteration is active.. "
                  "cause: unknown");
  /* The hard clear does not check. */
  th_expect_text(db, "SELECT powersync_clear(0)", "");
  th_exec(db, "COMMIT");
  st->sync_iteration_active = 0;
  th_close(db);
  ps__state_unref(st);
}

static void resync_resets_applied_and_optionally_progress(void **state) {
  sqlite3 *db = open_filled();
  (void)state;
  th_exec(db, "BEGIN");
  th_expect_text(db, "SELECT powersync_trigger_resync(0)", "");
  th_expect_rows(db, "SELECT last_applied_op FROM ps_buckets", "0");
  th_expect_text(db, COUNTS, "1111111/2111");
  th_expect_text(db, "SELECT powersync_trigger_resync('abc')", "");
  th_expect_text(db, COUNTS, "1111111/2111");
  th_expect_text(db, "SELECT powersync_trigger_resync(TRUE)", "");
  th_expect_text(db, COUNTS, "1111101/2111");
  th_expect_rows(db, "SELECT last_synced_at FROM ps_stream_subscriptions",
                 "NULL");
  th_exec(db, "COMMIT");
  th_close(db);
}

static void clear_reports_statement_errors(void **state) {
  sqlite3 *db = th_open();
  (void)state;
  th_exec(db, "BEGIN");
  th_expect_error(db, "SELECT powersync_clear(0)", SQLITE_ERROR,
                  "powersync_clear: statement DELETE FROM ps_oplog; DELETE "
                  "FROM ps_buckets: internal SQLite call returned ERROR: no "
                  "such table: ps_oplog");
  th_expect_error(db, "SELECT powersync_clear(2)", SQLITE_ERROR,
                  "powersync_clear: statement UPDATE ps_buckets SET "
                  "last_applied_op = 0: internal SQLite call returned ERROR: "
                  "no such table: ps_buckets");
  th_exec(db, "CREATE TABLE ps_buckets(x, last_applied_op)");
  th_expect_text(db, "SELECT powersync_trigger_resync(0)", "");
  th_expect_error(db, "SELECT powersync_trigger_resync(1)", SQLITE_ERROR,
                  "powersync_trigger_resync: statement DELETE FROM "
                  "ps_sync_state;: internal SQLite call returned ERROR: no "
                  "such table: ps_sync_state");
  th_exec(db, "CREATE TABLE ps_sync_state(a)");
  th_expect_error(db, "SELECT powersync_trigger_resync(1)", SQLITE_ERROR,
                  "powersync_trigger_resync: statement UPDATE "
                  "ps_stream_subscriptions SET last_synced_at = NULL: "
                  "internal SQLite call returned ERROR: no such table: "
                  "ps_stream_subscriptions");
  th_expect_error(db, "SELECT powersync_clear(2)", SQLITE_ERROR,
                  "powersync_clear: statement DELETE FROM ps_crud;\n"
                  "DELETE FROM ps_untyped;\nDELETE FROM ps_updated_rows;\n"
                  "DELETE FROM ps_kv WHERE key != 'client_id';\n"
                  "DELETE FROM ps_stream_subscriptions;\n: internal SQLite "
                  "call returned ERROR: no such table: ps_crud");
  th_exec(db, "ROLLBACK");
  th_close(db);
}

static void clear_reports_data_table_errors(void **state) {
  sqlite3 *db = th_open();
  (void)state;
  th_init(db);
  th_exec(db, "CREATE TABLE ps_data__w(id TEXT PRIMARY KEY, a) WITHOUT ROWID");
  th_exec(db, "BEGIN");
  th_expect_error(db, "SELECT powersync_clear(0)", SQLITE_ERROR,
                  "powersync_clear: statement DELETE FROM \"ps_data__w\" "
                  "WHERE rowid IN (SELECT rowid FROM \"ps_data__w\" LIMIT "
                  "1);\nDELETE FROM \"ps_data__w\";: internal SQLite call "
                  "returned ERROR: no such column: rowid");
  th_exec(db, "ROLLBACK");
  th_close(db);
}

/* ---- Raw tables ---- */

/* A raw table object for users; name is JSON string content, extra is
 * appended to the members (",\"clear\":..." or ""). Free with sqlite3_free. */
static char *raw_table(const char *name, const char *extra) {
  return sqlite3_mprintf("{\"name\":\"%s\",\"table_name\":\"users\","
                         "\"put\":{\"sql\":\"x\",\"params\":[]},"
                         "\"delete\":{\"sql\":\"y\",\"params\":[]}%s}",
                         name, extra);
}

/* Applies a schema with the given raw tables (a JSON array's content). */
static void apply_raw_tables(sqlite3 *db, const char *raw_tables) {
  char *sql = sqlite3_mprintf("BEGIN; SELECT powersync_replace_schema('{"
                              "\"tables\":[],\"raw_tables\":[%s]}'); COMMIT;",
                              raw_tables);
  th_exec(db, sql);
  sqlite3_free(sql);
}

/* users(id, name) with the CRUD triggers of raw table row_type and one row,
 * ps_crud emptied. */
static sqlite3 *open_with_users(void) {
  sqlite3 *db = th_open();
  char *table = raw_table("row_type", "");
  char *sql =
      sqlite3_mprintf("CREATE TABLE users (id TEXT, name TEXT) STRICT;"
                      "SELECT powersync_create_raw_table_crud_trigger('%s', "
                      "'test_trigger_insert', 'INSERT');"
                      "SELECT powersync_create_raw_table_crud_trigger('%s', "
                      "'test_trigger_delete', 'DELETE');"
                      "INSERT INTO users VALUES ('a', 'b');"
                      "DELETE FROM ps_crud;",
                      table, table);
  th_init(db);
  th_exec(db, sql);
  sqlite3_free(sql);
  sqlite3_free(table);
  return db;
}

static void clear_runs_raw_table_clear_in_sync_operation(void **state) {
  sqlite3 *db = open_with_users();
  char *r0 = raw_table("r\\\"0", ",\"clear\":\"INSERT INTO ps_kv VALUES "
                                 "(powersync_in_sync_operation(), 1); "
                                 "DELETE FROM users\"");
  char *r2 = raw_table("r2", ",\"clear\":\"\"");
  char *r3 = raw_table("r3", "");
  char *list = sqlite3_mprintf("%s,%s,%s", r0, r2, r3);
  (void)state;
  apply_raw_tables(db, list);
  th_exec(db, "BEGIN; SELECT powersync_clear(2); COMMIT;");
  /* The trigger and powersync_crud ignored the deletes. */
  th_expect_rows(db, "SELECT * FROM ps_crud", "");
  th_expect_rows(db, "SELECT * FROM users", "");
  th_expect_rows(db, "SELECT key, value FROM ps_kv WHERE key != 'client_id'",
                 "1|1");
  th_expect_text(db, "SELECT powersync_in_sync_operation()", "0");
  /* Writes after the clear are recorded again. */
  th_exec(db, "INSERT INTO users VALUES ('c', 'd')");
  th_expect_text(db, "SELECT count(*) FROM ps_crud", "1");
  sqlite3_free(list);
  sqlite3_free(r3);
  sqlite3_free(r2);
  sqlite3_free(r0);
  th_close(db);
}

static void clear_reports_raw_table_errors_with_context(void **state) {
  sqlite3 *db = open_with_users();
  char *r1 = raw_table("r1", ",\"clear\":\"DELETE FROM users\"");
  char *r4 = raw_table("r4", ",\"clear\":\"DELETE FROM nope\"");
  char *list = sqlite3_mprintf("%s,%s", r1, r4);
  (void)state;
  apply_raw_tables(db, list);
  th_exec(db, "BEGIN");
  th_expect_error(db, "SELECT powersync_clear(0)", SQLITE_ERROR,
                  "powersync_clear: statement DELETE FROM nope: internal "
                  "SQLite call returned ERROR: no such table: nope (context: "
                  "Clearing raw table r4)");
  th_exec(db, "ROLLBACK");
  th_expect_text(db, "SELECT powersync_in_sync_operation()", "0");
  sqlite3_free(list);
  sqlite3_free(r4);
  sqlite3_free(r1);
  th_close(db);
}

static sqlite3 *open_shared(void) {
  sqlite3 *db = NULL;
  char *err = NULL;
  assert_int_equal(
      sqlite3_open_v2(
          "file:clear_raw_test?mode=memory&cache=shared", &db,
          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, NULL),
      SQLITE_OK);
  assert_int_equal(sqlite3_powersync_init(db, &err, NULL), SQLITE_OK);
  return db;
}

static void clear_skips_raw_tables_without_schema(void **state) {
  sqlite3 *a = open_shared();
  sqlite3 *b = open_shared();
  char *r = raw_table("r", ",\"clear\":\"DELETE FROM users\"");
  (void)state;
  th_init(a);
  th_exec(a, "CREATE TABLE users (id TEXT, name TEXT);"
             "INSERT INTO users VALUES ('a', 'b');");
  apply_raw_tables(a, r);
  /* The schema lives in the memory of connection a only. */
  th_exec(b, "BEGIN; SELECT powersync_clear(0); COMMIT;");
  th_expect_text(b, "SELECT count(*) FROM users", "1");
  th_exec(a, "BEGIN; SELECT powersync_clear(0); COMMIT;");
  th_expect_text(b, "SELECT count(*) FROM users", "0");
  sqlite3_free(r);
  th_close(b);
  th_close(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(clear_requires_transaction),
      cmocka_unit_test(clear_hard_empties_everything_synced),
      cmocka_unit_test(clear_local_flag_empties_every_ps_data_table),
      cmocka_unit_test(clear_soft_keeps_buckets),
      cmocka_unit_test(clear_reads_flags_as_32_bit_integer),
      cmocka_unit_test(clear_soft_and_resync_fail_during_iteration),
      cmocka_unit_test(resync_resets_applied_and_optionally_progress),
      cmocka_unit_test(clear_reports_statement_errors),
      cmocka_unit_test(clear_reports_data_table_errors),
      cmocka_unit_test(clear_runs_raw_table_clear_in_sync_operation),
      cmocka_unit_test(clear_reports_raw_table_errors_with_context),
      cmocka_unit_test(clear_skips_raw_tables_without_schema),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
