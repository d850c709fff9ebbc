/* Source-database and timing helpers of the tools tests (source_db.h). */
#include "source_db.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sqlite3.h>

int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int ms) {
  struct timespec p = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&p, NULL);
}

sqlite3 *source_open(const char *path) {
  sqlite3 *db = NULL;
  if (sqlite3_open(path, &db) != SQLITE_OK) {
    sqlite3_close(db);
    return NULL;
  }
  sqlite3_busy_timeout(db, 10000);
  return db;
}

static sqlite3 *source_open_or_fail(const char *path) {
  sqlite3 *db = source_open(path);
  if (!db) {
    fprintf(stderr, "cannot open the source %s\n", path);
    fail();
  }
  return db;
}

void source_exec(const char *path, const char *sql) {
  sqlite3 *db = source_open_or_fail(path);
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "source SQL failed: %s\n%s\n", err, sql);
    sqlite3_free(err);
    sqlite3_close(db);
    fail();
  }
  sqlite3_close(db);
}

/* Prepares sql and steps it once; *st is left for the caller to read. */
static sqlite3 *source_first_row(const char *path, const char *sql,
                                 sqlite3_stmt **st, int *has_row) {
  sqlite3 *db = source_open_or_fail(path);
  int rc;
  if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
    fprintf(stderr, "source SQL failed: %s\n%s\n", sqlite3_errmsg(db), sql);
    sqlite3_close(db);
    fail();
  }
  rc = sqlite3_step(*st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    fprintf(stderr, "source SQL failed: %s\n%s\n", sqlite3_errmsg(db), sql);
    sqlite3_finalize(*st);
    sqlite3_close(db);
    fail();
  }
  *has_row = rc == SQLITE_ROW;
  return db;
}

int64_t source_int(const char *path, const char *sql) {
  sqlite3_stmt *st = NULL;
  int has_row;
  sqlite3 *db = source_first_row(path, sql, &st, &has_row);
  int64_t v = has_row ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

char *source_text(const char *path, const char *sql) {
  sqlite3_stmt *st = NULL;
  int has_row;
  sqlite3 *db = source_first_row(path, sql, &st, &has_row);
  const unsigned char *t = has_row ? sqlite3_column_text(st, 0) : NULL;
  char *v = strdup(t ? (const char *)t : "");
  sqlite3_finalize(st);
  sqlite3_close(db);
  assert_non_null(v);
  return v;
}
