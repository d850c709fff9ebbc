/*
 * db_test_helpers.h: shared helpers of the libpowersync cmocka tests
 * (test_db_*.c): scratch database paths, a small schema, and assertions that
 * print PowerSync's error message.
 *
 * Include after <cmocka.h>. Everything is static inline so a test may use
 * any subset without unused-function warnings.
 */
#ifndef PS_TEST_DB_TEST_HELPERS_H
#define PS_TEST_DB_TEST_HELPERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "powersync.h"

/* Fails the test unless expr returns POWERSYNC_OK, printing the code's name
 * and the thread's last message. */
#define ASSERT_PS_OK(expr)                                                     \
  do {                                                                         \
    int ps_rc_ = (expr);                                                       \
    if (ps_rc_ != POWERSYNC_OK) {                                              \
      fprintf(stderr, "%s:%d: %s -> %d (%s): %s\n", __FILE__, __LINE__, #expr, \
              ps_rc_, powersync_errstr(ps_rc_),                                \
              powersync_error_last()->message);                                \
      fail();                                                                  \
    }                                                                          \
  } while (0)

/* A fresh path for a database file in the test's scratch directory
 * (PS_TEST_DIR, set by CTest), with stale files of an earlier run removed.
 * Returns a static buffer: copy it to keep two paths. */
static inline const char *th_db_path(const char *name) {
  static char path[1024];
  char side[1100];
  const char *dir = getenv("PS_TEST_DIR");
  snprintf(path, sizeof(path), "%s/%s.db", dir && *dir ? dir : ".", name);
  unlink(path);
  snprintf(side, sizeof(side), "%s-wal", path);
  unlink(side);
  snprintf(side, sizeof(side), "%s-shm", path);
  unlink(side);
  return path;
}

/* Schema: todos(description TEXT, done INTEGER) and, when with_lists is set,
 * lists(name TEXT). */
static inline powersync_schema *th_schema(int with_lists) {
  powersync_schema *s = powersync_schema_new();
  powersync_table *t = NULL;
  assert_non_null(s);
  ASSERT_PS_OK(powersync_schema_add_table(s, "todos", &t));
  ASSERT_PS_OK(
      powersync_table_add_column(t, "description", POWERSYNC_COLUMN_TEXT));
  ASSERT_PS_OK(powersync_table_add_column(t, "done", POWERSYNC_COLUMN_INTEGER));
  if (with_lists) {
    ASSERT_PS_OK(powersync_schema_add_table(s, "lists", &t));
    ASSERT_PS_OK(powersync_table_add_column(t, "name", POWERSYNC_COLUMN_TEXT));
  }
  return s;
}

/* Opens path with th_schema(0) and opts (NULL: defaults). */
static inline powersync_db *th_open_db(const char *path,
                                       const powersync_db_options *opts) {
  powersync_schema *s = th_schema(0);
  powersync_db *db = NULL;
  ASSERT_PS_OK(powersync_db_open(&db, path, s, opts));
  powersync_schema_free(s);
  assert_non_null(db);
  return db;
}

/* The single integer a query returns. */
static inline int64_t th_query_int(powersync_db *db, const char *sql) {
  powersync_rows *rows = NULL;
  const powersync_value *v;
  int64_t result;
  ASSERT_PS_OK(powersync_db_query(db, sql, NULL, 0, &rows));
  assert_int_equal(powersync_rows_count(rows), 1);
  v = powersync_rows_value(rows, 0, 0);
  assert_non_null(v);
  assert_int_equal(v->type, POWERSYNC_VALUE_INTEGER);
  result = v->as.integer;
  powersync_rows_free(rows);
  return result;
}

/* Inserts one todo through the view (so ps_crud records it). */
static inline void th_insert_todo(powersync_db *db, const char *description) {
  powersync_value p[1];
  p[0] = powersync_text(description);
  ASSERT_PS_OK(powersync_db_execute(
      db, "INSERT INTO todos(id, description) VALUES (uuid(), ?)", p, 1, NULL));
}

#endif
