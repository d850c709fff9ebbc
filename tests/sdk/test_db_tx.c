/*
 * test_db_tx.c: write and read transactions (commit, rollback on callback
 * failure and on SQL errors, no half-open transaction after a lease) and the
 * change notifications collected on the writer (delivered after commit,
 * never for rolled-back work).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "db_test_helpers.h"
#include "sdk/sdk_internal.h"

/* --- Transactions ------------------------------------------------------------
 */

static int insert_two(sqlite3 *conn, void *user_data) {
  int *fail_with = user_data;
  if (sqlite3_exec(conn,
                   "INSERT INTO todos(id, description) VALUES (uuid(), 'a');"
                   "INSERT INTO todos(id, description) VALUES (uuid(), 'b')",
                   NULL, NULL, NULL) != SQLITE_OK)
    return 1;
  return fail_with ? *fail_with : 0;
}

static void write_transaction_commits(void **state) {
  powersync_db *db = th_open_db(th_db_path("tx_commit"), NULL);
  (void)state;
  ASSERT_PS_OK(powersync_db_write_transaction(db, insert_two, NULL));
  assert_int_equal(th_query_int(db, "SELECT count(*) FROM todos"), 2);
  /* Both inserts share one local transaction id in the upload queue. */
  assert_int_equal(
      th_query_int(db, "SELECT count(DISTINCT tx_id) FROM ps_crud"), 1);
  ASSERT_PS_OK(powersync_db_close(db));
}

static void write_transaction_rolls_back_on_callback_error(void **state) {
  powersync_db *db = th_open_db(th_db_path("tx_rollback"), NULL);
  int fail_with = 7;
  (void)state;
  assert_int_equal(powersync_db_write_transaction(db, insert_two, &fail_with),
                   POWERSYNC_EUSER);
  assert_non_null(strstr(powersync_error_last()->message, "returned 7"));
  assert_int_equal(th_query_int(db, "SELECT count(*) FROM todos"), 0);
  assert_int_equal(th_query_int(db, "SELECT count(*) FROM ps_crud"), 0);
  /* The writer is usable again and not inside a transaction. */
  ASSERT_PS_OK(powersync_db_write_transaction(db, insert_two, NULL));
  assert_int_equal(th_query_int(db, "SELECT count(*) FROM todos"), 2);
  ASSERT_PS_OK(powersync_db_close(db));
}

static int insert_then_fail_sql(sqlite3 *conn, void *user_data) {
  (void)user_data;
  sqlite3_exec(conn, "INSERT INTO todos(id, description) VALUES ('x', 'a')",
               NULL, NULL, NULL);
  /* A constraint error: the callback reports it by returning non-zero. */
  return sqlite3_exec(conn,
                      "INSERT INTO ps_kv(key, value) VALUES ('client_id', 1)",
                      NULL, NULL, NULL);
}

static void write_transaction_rolls_back_on_sql_error(void **state) {
  powersync_db *db = th_open_db(":memory:", NULL);
  (void)state;
  assert_int_equal(
      powersync_db_write_transaction(db, insert_then_fail_sql, NULL),
      POWERSYNC_EUSER);
  assert_int_equal(th_query_int(db, "SELECT count(*) FROM todos"), 0);
  ASSERT_PS_OK(powersync_db_close(db));
}

static int commit_inside(sqlite3 *conn, void *user_data) {
  (void)user_data;
  return sqlite3_exec(conn, "COMMIT", NULL, NULL, NULL);
}

static void write_transaction_detects_commit_inside_callback(void **state) {
  powersync_db *db = th_open_db(":memory:", NULL);
  (void)state;
  assert_int_equal(powersync_db_write_transaction(db, commit_inside, NULL),
                   POWERSYNC_ERROR);
  ASSERT_PS_OK(powersync_db_write_transaction(db, insert_two, NULL));
  ASSERT_PS_OK(powersync_db_close(db));
}

static int read_count(sqlite3 *conn, void *user_data) {
  sqlite3_stmt *st = NULL;
  int rc =
      sqlite3_prepare_v2(conn, "SELECT count(*) FROM todos", -1, &st, NULL);
  if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    *(int *)user_data = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return rc;
}

static void read_transaction_reads(void **state) {
  powersync_db *db = th_open_db(th_db_path("tx_read"), NULL);
  int count = -1;
  (void)state;
  th_insert_todo(db, "a");
  ASSERT_PS_OK(powersync_db_read_transaction(db, read_count, &count));
  assert_int_equal(count, 1);
  ASSERT_PS_OK(powersync_db_close(db));
}

static void lease_released_in_transaction_rolls_back(void **state) {
  powersync_db *db = th_open_db(th_db_path("tx_lease"), NULL);
  powersync_lease *lease = NULL;
  sqlite3 *conn;
  (void)state;
  ASSERT_PS_OK(powersync_db_lease_write(db, -1, &lease));
  conn = powersync_lease_sqlite(lease);
  assert_int_equal(sqlite3_exec(conn,
                                "BEGIN; INSERT INTO todos(id) VALUES ('z')",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  powersync_lease_release(lease);
  ASSERT_PS_OK(powersync_db_lease_write(db, -1, &lease));
  assert_int_equal(sqlite3_get_autocommit(powersync_lease_sqlite(lease)), 1);
  powersync_lease_release(lease);
  assert_int_equal(th_query_int(db, "SELECT count(*) FROM todos"), 0);
  ASSERT_PS_OK(powersync_db_close(db));
}

/* --- Change notifications ----------------------------------------------------
 */

struct changes {
  int calls;
  char seen[512];
};

static void record_changes(const char *const *tables, size_t count,
                           void *user_data) {
  struct changes *c = user_data;
  size_t i;
  c->calls++;
  for (i = 0; i < count; i++) {
    strncat(c->seen, ps__view_table_name(tables[i]),
            sizeof(c->seen) - strlen(c->seen) - 2);
    strncat(c->seen, ",", sizeof(c->seen) - strlen(c->seen) - 1);
  }
}

static void changes_delivered_after_commit_only(void **state) {
  powersync_db *db = th_open_db(th_db_path("changes"), NULL);
  struct changes c;
  uint64_t id = 0;
  int fail_with = 1;
  (void)state;

  memset(&c, 0, sizeof(c));
  ASSERT_PS_OK(ps__db_add_change_listener(db, record_changes, NULL, &c, &id));
  assert_true(id != 0);

  /* Rolled back: nothing is reported. */
  assert_int_equal(powersync_db_write_transaction(db, insert_two, &fail_with),
                   POWERSYNC_EUSER);
  assert_int_equal(c.calls, 0);
  /* Reads and writes without changes report nothing either. */
  assert_int_equal(th_query_int(db, "SELECT count(*) FROM todos"), 0);
  ASSERT_PS_OK(powersync_db_execute(db, "SELECT 1", NULL, 0, NULL));
  assert_int_equal(c.calls, 0);

  ASSERT_PS_OK(powersync_db_write_transaction(db, insert_two, NULL));
  assert_int_equal(c.calls, 1);
  /* The core's own tables (ps_tx, ps_kv) are reported too. */
  assert_non_null(strstr(c.seen, "todos,"));
  assert_non_null(strstr(c.seen, "ps_crud,"));

  ps__db_remove_change_listener(db, id);
  th_insert_todo(db, "after removal");
  assert_int_equal(c.calls, 1);
  ASSERT_PS_OK(powersync_db_close(db));
}

static void changes_from_raw_lease(void **state) {
  powersync_db *db = th_open_db(":memory:", NULL);
  struct changes c;
  uint64_t id = 0;
  powersync_lease *lease = NULL;
  (void)state;

  memset(&c, 0, sizeof(c));
  ASSERT_PS_OK(ps__db_add_change_listener(db, record_changes, NULL, &c, &id));
  ASSERT_PS_OK(powersync_db_lease_write(db, -1, &lease));
  assert_int_equal(sqlite3_exec(powersync_lease_sqlite(lease),
                                "CREATE TABLE t(a); INSERT INTO t VALUES (1);",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  /* Nothing is delivered while the lease is held. */
  assert_int_equal(c.calls, 0);
  powersync_lease_release(lease);
  assert_int_equal(c.calls, 1);
  assert_string_equal(c.seen, "t,");
  /* Close drops listeners without calling them. */
  ASSERT_PS_OK(powersync_db_close(db));
  assert_int_equal(c.calls, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(write_transaction_commits),
      cmocka_unit_test(write_transaction_rolls_back_on_callback_error),
      cmocka_unit_test(write_transaction_rolls_back_on_sql_error),
      cmocka_unit_test(write_transaction_detects_commit_inside_callback),
      cmocka_unit_test(read_transaction_reads),
      cmocka_unit_test(lease_released_in_transaction_rolls_back),
      cmocka_unit_test(changes_delivered_after_commit_only),
      cmocka_unit_test(changes_from_raw_lease),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
