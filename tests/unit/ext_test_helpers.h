/*
 * ext_test_helpers.h: small SQL helpers for the cmocka tests of the SQLite
 * extension (test_crud_vtab.c, test_update_hooks.c, test_clear.c,
 * test_control.c).
 *
 * Include after <cmocka.h>. Every helper fails the running test on an
 * unexpected result, printing the SQL and SQLite's message. Strings returned
 * by the helpers come from sqlite3_mprintf: release them with sqlite3_free.
 * The functions are static inline so that a test file may use any subset
 * without unused-function warnings.
 */
#ifndef PS_TEST_EXT_TEST_HELPERS_H
#define PS_TEST_EXT_TEST_HELPERS_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ext/register.h"
#include "ext/state.h"
#include "powersync/ext.h"

/* A fresh in-memory connection with the extension registered. */
static inline sqlite3 *th_open(void) {
  sqlite3 *db = NULL;
  char *err = NULL;
  assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
  if (sqlite3_powersync_init(db, &err, NULL) != SQLITE_OK) {
    fprintf(stderr, "sqlite3_powersync_init: %s\n", err ? err : "?");
    sqlite3_free(err);
    fail();
  }
  return db;
}

/* Like th_open, but registers everything with a state object the test can
 * reach (to set flags only the sync client sets). The returned state holds a
 * reference of the test: release it with ps__state_unref after closing. */
static inline sqlite3 *th_open_with_state(struct ps__state **st_out) {
  typedef int (*reg_fn)(sqlite3 *, struct ps__state *);
  static const reg_fn regs[] = {
      ps__register_small_functions, ps__register_migrations,
      ps__register_clear,           ps__register_control,
      ps__register_update_hooks,    ps__register_replace_schema,
      ps__register_raw_trigger,     ps__register_close_vtab,
      ps__register_crud_vtabs,
  };
  sqlite3 *db = NULL;
  struct ps__state *st;
  size_t i;
  assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
  st = ps__state_new(db);
  assert_non_null(st);
  for (i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
    assert_int_equal(regs[i](db, st), SQLITE_OK);
  *st_out = st;
  return db;
}

/* Closes with sqlite3_close (not _v2), so an unfinalized statement left
 * behind by the extension fails the test. */
static inline void th_close(sqlite3 *db) {
  int rc = sqlite3_close(db);
  if (rc != SQLITE_OK)
    fprintf(stderr, "sqlite3_close: %s\n", sqlite3_errmsg(db));
  assert_int_equal(rc, SQLITE_OK);
}

static inline void th_exec(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "%s\n  -> %s\n", sql, err ? err : "?");
    sqlite3_free(err);
    fail();
  }
}

/* BEGIN; SELECT powersync_init(); COMMIT */
static inline void th_init(sqlite3 *db) {
  th_exec(db, "BEGIN; SELECT powersync_init(); COMMIT;");
}

static inline sqlite3_stmt *th_prepare(sqlite3 *db, const char *sql) {
  sqlite3_stmt *stmt = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
    fprintf(stderr, "%s\n  -> %s\n", sql, sqlite3_errmsg(db));
    fail();
  }
  return stmt;
}

/* The first column of the first row as text ("NULL" for SQL NULL, "<none>"
 * without rows). */
static inline char *th_text(sqlite3 *db, const char *sql) {
  sqlite3_stmt *stmt = th_prepare(db, sql);
  char *out;
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    const unsigned char *t = sqlite3_column_text(stmt, 0);
    out = t ? sqlite3_mprintf("%.*s", sqlite3_column_bytes(stmt, 0), t)
            : sqlite3_mprintf("NULL");
  } else if (rc == SQLITE_DONE) {
    out = sqlite3_mprintf("<none>");
  } else {
    fprintf(stderr, "%s\n  -> %s\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(stmt);
    fail();
    return NULL;
  }
  sqlite3_finalize(stmt);
  return out;
}

/* Asserts that the first column of the first row, as text, is expected. */
static inline void th_expect_text(sqlite3 *db, const char *sql,
                                  const char *expected) {
  char *got = th_text(db, sql);
  if (strcmp(got, expected) != 0)
    fprintf(stderr, "%s\n  expected: %s\n  got:      %s\n", sql, expected, got);
  assert_string_equal(got, expected);
  sqlite3_free(got);
}

static inline int64_t th_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *stmt = th_prepare(db, sql);
  int64_t v;
  if (sqlite3_step(stmt) != SQLITE_ROW) {
    fprintf(stderr, "%s\n  -> no row: %s\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(stmt);
    fail();
  }
  v = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  return v;
}

/* Every row, columns joined by '|', rows joined by ';' (SQL NULL as NULL). */
static inline char *th_rows(sqlite3 *db, const char *sql) {
  sqlite3_stmt *stmt = th_prepare(db, sql);
  char *out = sqlite3_mprintf("");
  int rc;
  for (;;) {
    int i, n;
    char *row;
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW)
      break;
    n = sqlite3_column_count(stmt);
    row = sqlite3_mprintf("%s%s", out, *out ? ";" : "");
    sqlite3_free(out);
    for (i = 0; i < n; i++) {
      const unsigned char *t = sqlite3_column_text(stmt, i);
      char *next = sqlite3_mprintf("%s%s%s", row, i ? "|" : "",
                                   t ? (const char *)t : "NULL");
      sqlite3_free(row);
      row = next;
    }
    out = row;
  }
  if (rc != SQLITE_DONE) {
    fprintf(stderr, "%s\n  -> %s\n", sql, sqlite3_errmsg(db));
    fail();
  }
  sqlite3_finalize(stmt);
  return out;
}

static inline void th_expect_rows(sqlite3 *db, const char *sql,
                                  const char *expected) {
  char *got = th_rows(db, sql);
  if (strcmp(got, expected) != 0)
    fprintf(stderr, "%s\n  expected: %s\n  got:      %s\n", sql, expected, got);
  assert_string_equal(got, expected);
  sqlite3_free(got);
}

/* Runs sql (all statements, stepping each to the end) and asserts that it
 * fails with the extended code and the message. */
static inline void th_expect_error(sqlite3 *db, const char *sql, int code,
                                   const char *message) {
  char *err = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
  int ext = sqlite3_extended_errcode(db);
  if (rc == SQLITE_OK || ext != code || !err || strcmp(err, message) != 0)
    fprintf(stderr, "%s\n  expected: %d %s\n  got:      %d (rc %d) %s\n", sql,
            code, message, ext, rc, err ? err : "(no error)");
  assert_int_not_equal(rc, SQLITE_OK);
  assert_int_equal(ext, code);
  assert_non_null(err);
  assert_string_equal(err, message);
  sqlite3_free(err);
}

#endif
