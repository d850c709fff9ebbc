/*
 * test_update_hooks.c: powersync_update_hooks (core-storage.md 11, 13.5), the
 * foreign-hook error of docs/compatibility.md and the removal of the hooks
 * by powersync_internal_close when the connection closes (2.5).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ext_test_helpers.h"

#define GET "SELECT powersync_update_hooks('get')"

/* The setup of dart/test/update_hooks_test.dart. */
static sqlite3 *open_with_hooks(void) {
  sqlite3 *db = th_open();
  th_init(db);
  th_exec(db, "CREATE TABLE foo (bar INTEGER)");
  th_expect_text(db, "SELECT powersync_update_hooks('install')", "NULL");
  return db;
}

static void hooks_report_nothing_before_changes(void **state) {
  sqlite3 *db = open_with_hooks();
  (void)state;
  th_expect_text(db, GET, "[]");
  th_close(db);
}

static void hooks_report_autocommit_insert(void **state) {
  sqlite3 *db = open_with_hooks();
  (void)state;
  th_exec(db, "INSERT INTO foo DEFAULT VALUES");
  th_expect_text(db, GET, "[\"foo\"]");
  th_expect_text(db, GET, "[]");
  th_close(db);
}

static void hooks_deduplicate_tables(void **state) {
  sqlite3 *db = open_with_hooks();
  sqlite3_stmt *stmt = th_prepare(db, "INSERT INTO foo DEFAULT VALUES");
  int i;
  (void)state;
  for (i = 0; i < 1000; i++) {
    assert_int_equal(sqlite3_step(stmt), SQLITE_DONE);
    sqlite3_reset(stmt);
  }
  sqlite3_finalize(stmt);
  th_expect_text(db, GET, "[\"foo\"]");
  th_close(db);
}

static void hooks_report_only_after_commit(void **state) {
  sqlite3 *db = open_with_hooks();
  (void)state;
  th_exec(db, "BEGIN; INSERT INTO foo DEFAULT VALUES");
  th_expect_text(db, GET, "[]");
  th_exec(db, "COMMIT");
  th_expect_text(db, GET, "[\"foo\"]");
  th_close(db);
}

static void hooks_forget_rolled_back_changes(void **state) {
  sqlite3 *db = open_with_hooks();
  (void)state;
  th_exec(db, "BEGIN; INSERT INTO foo DEFAULT VALUES");
  th_expect_text(db, GET, "[]");
  th_exec(db, "ROLLBACK");
  th_expect_text(db, GET, "[]");
  th_close(db);
}

static void hooks_sort_and_escape_names(void **state) {
  sqlite3 *db = open_with_hooks();
  (void)state;
  th_exec(db, "CREATE TABLE \"b\"(x); CREATE TABLE \"a\"\"q\"(x);"
              "CREATE TABLE \"Z\"(x); CREATE TABLE w(x PRIMARY KEY) WITHOUT "
              "ROWID;");
  th_exec(db, "BEGIN; INSERT INTO b VALUES (1); INSERT INTO \"a\"\"q\" VALUES "
              "(1); INSERT INTO Z VALUES (1); INSERT INTO w VALUES (1); "
              "COMMIT;");
  /* Byte order; WITHOUT ROWID tables are not reported by SQLite. */
  th_expect_text(db, GET, "[\"Z\",\"a\\\"q\",\"b\"]");
  th_close(db);
}

static void hooks_report_crud_writes(void **state) {
  sqlite3 *db = open_with_hooks();
  (void)state;
  th_exec(db, "INSERT INTO powersync_crud(op, id, type) VALUES "
              "('PUT','a','t')");
  /* Verified against the official core; no ps_updated_rows (WITHOUT ROWID).
   */
  th_expect_text(db, GET, "[\"ps_crud\",\"ps_kv\",\"ps_tx\"]");
  th_close(db);
}

static void hooks_get_has_json_subtype(void **state) {
  sqlite3 *db = th_open();
  (void)state;
  /* Works without install: always empty then. */
  th_expect_text(db, "SELECT json_array(powersync_update_hooks('get'))",
                 "[[]]");
  th_close(db);
}

static void hooks_reject_unknown_operations(void **state) {
  sqlite3 *db = th_open();
  (void)state;
  th_expect_error(db, "SELECT powersync_update_hooks('INSTALL')", SQLITE_MISUSE,
                  "Unknown operation");
  th_expect_error(db, "SELECT powersync_update_hooks(NULL)", SQLITE_MISUSE,
                  "Unknown operation");
  th_expect_error(db, "SELECT powersync_update_hooks(1)", SQLITE_MISUSE,
                  "Unknown operation");
  th_close(db);
}

static void hooks_install_twice(void **state) {
  sqlite3 *db = open_with_hooks();
  (void)state;
  th_expect_text(db, "SELECT powersync_update_hooks('install')", "NULL");
  th_exec(db, "INSERT INTO foo DEFAULT VALUES");
  th_expect_text(db, GET, "[\"foo\"]");
  th_close(db);
}

/* ---- Foreign hooks (docs/compatibility.md, update-hooks-foreign-hook) ---- */

static int foreign_marker;

static int foreign_commit(void *arg) {
  (void)arg;
  return 0;
}

static void foreign_rollback(void *arg) { (void)arg; }

static void foreign_update(void *arg, int op, const char *db_name,
                           const char *table, sqlite3_int64 rowid) {
  (void)arg;
  (void)op;
  (void)db_name;
  (void)table;
  (void)rowid;
}

static void hooks_fail_on_foreign_commit_hook(void **state) {
  sqlite3 *db = th_open();
  (void)state;
  sqlite3_commit_hook(db, foreign_commit, &foreign_marker);
  th_expect_error(db, "SELECT powersync_update_hooks('install')", SQLITE_MISUSE,
                  "powersync_update_hooks: cannot install hooks: another "
                  "component had installed a commit hook on this connection; "
                  "SQLite cannot restore it, so it has been removed");
  /* The update hook installed before the check was put back (none); the
   * commit hook is gone; the rollback hook was never touched. */
  assert_null(sqlite3_update_hook(db, NULL, NULL));
  assert_null(sqlite3_commit_hook(db, NULL, NULL));
  assert_null(sqlite3_rollback_hook(db, NULL, NULL));
  th_expect_text(db, GET, "[]");
  th_close(db);
}

static void hooks_fail_on_foreign_update_hook(void **state) {
  sqlite3 *db = th_open();
  (void)state;
  sqlite3_update_hook(db, foreign_update, &foreign_marker);
  sqlite3_rollback_hook(db, foreign_rollback, &foreign_marker);
  th_expect_error(db, "SELECT powersync_update_hooks('install')", SQLITE_MISUSE,
                  "powersync_update_hooks: cannot install hooks: another "
                  "component had installed an update hook on this connection; "
                  "SQLite cannot restore it, so it has been removed");
  /* Stopped at the first foreign hook: the rollback hook is intact. */
  assert_ptr_equal(sqlite3_rollback_hook(db, NULL, NULL), &foreign_marker);
  assert_null(sqlite3_update_hook(db, NULL, NULL));
  th_close(db);
}

static void hooks_keep_own_hooks_when_reinstall_finds_foreign(void **state) {
  sqlite3 *db = open_with_hooks();
  void *ours;
  (void)state;
  sqlite3_rollback_hook(db, foreign_rollback, &foreign_marker);
  th_expect_error(db, "SELECT powersync_update_hooks('install')", SQLITE_MISUSE,
                  "powersync_update_hooks: cannot install hooks: another "
                  "component had installed a rollback hook on this "
                  "connection; SQLite cannot restore it, so it has been "
                  "removed");
  assert_null(sqlite3_rollback_hook(db, NULL, NULL));
  /* Update and commit hooks are still ours and still work. */
  th_exec(db, "INSERT INTO foo DEFAULT VALUES");
  th_expect_text(db, GET, "[\"foo\"]");
  ours = sqlite3_commit_hook(db, NULL, NULL);
  assert_non_null(ours);
  assert_ptr_not_equal(ours, &foreign_marker);
  th_close(db);
}

/* ---- Closing ---- */

static void hooks_close_succeeds_after_install(void **state) {
  sqlite3 *db = open_with_hooks();
  (void)state;
  th_exec(db, "INSERT INTO foo DEFAULT VALUES");
  th_close(db);
}

static void hooks_close_succeeds_in_open_transaction(void **state) {
  sqlite3 *db = open_with_hooks();
  (void)state;
  /* sqlite3_close rolls back after disconnecting the pre-close table, which
   * has already removed the rollback hook. */
  th_exec(db, "BEGIN; INSERT INTO foo DEFAULT VALUES;");
  th_close(db);
}

static void hooks_close_with_pending_statement(void **state) {
  sqlite3 *db = open_with_hooks();
  sqlite3_stmt *stmt;
  (void)state;
  /* An unfinalized statement on the pre-close table delays its xDisconnect:
   * sqlite3_close_v2 makes a zombie that closes when the statement is
   * finalized. The hooks keep the state alive until then. */
  stmt = th_prepare(db, "SELECT * FROM powersync_internal_close");
  th_exec(db, "BEGIN; INSERT INTO foo DEFAULT VALUES;");
  assert_int_equal(sqlite3_close_v2(db), SQLITE_OK);
  assert_int_equal(sqlite3_finalize(stmt), SQLITE_OK);
}

static void hooks_uninstalled_when_pre_close_table_disconnects(void **state) {
  sqlite3 *db = open_with_hooks();
  (void)state;
  /* Removing a module disconnects its eponymous table (SQLite defers the
   * xDisconnect to the next statement): the pre-close hook runs and removes
   * the hooks. */
  assert_int_equal(
      sqlite3_create_module(db, "powersync_internal_close", NULL, NULL),
      SQLITE_OK);
  th_exec(db, "SELECT 1");
  assert_null(sqlite3_update_hook(db, NULL, NULL));
  assert_null(sqlite3_commit_hook(db, NULL, NULL));
  assert_null(sqlite3_rollback_hook(db, NULL, NULL));
  th_close(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(hooks_report_nothing_before_changes),
      cmocka_unit_test(hooks_report_autocommit_insert),
      cmocka_unit_test(hooks_deduplicate_tables),
      cmocka_unit_test(hooks_report_only_after_commit),
      cmocka_unit_test(hooks_forget_rolled_back_changes),
      cmocka_unit_test(hooks_sort_and_escape_names),
      cmocka_unit_test(hooks_report_crud_writes),
      cmocka_unit_test(hooks_get_has_json_subtype),
      cmocka_unit_test(hooks_reject_unknown_operations),
      cmocka_unit_test(hooks_install_twice),
      cmocka_unit_test(hooks_fail_on_foreign_commit_hook),
      cmocka_unit_test(hooks_fail_on_foreign_update_hook),
      cmocka_unit_test(hooks_keep_own_hooks_when_reinstall_finds_foreign),
      cmocka_unit_test(hooks_close_succeeds_after_install),
      cmocka_unit_test(hooks_close_succeeds_in_open_transaction),
      cmocka_unit_test(hooks_close_with_pending_statement),
      cmocka_unit_test(hooks_uninstalled_when_pre_close_table_disconnects),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
