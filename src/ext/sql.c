/*
 * sql.c: running SQL with errors wrapped as the official core wraps them, and
 * quoting for generated SQL.
 */
#include "sql.h"

#include <stdarg.h>

int ps__exec(sqlite3 *db, const char *sql, struct ps__err *e) {
  int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    ps__err_sqlite(e, db, sqlite3_extended_errcode(db), sql);
  return rc;
}

int ps__prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out,
                struct ps__err *e) {
  int rc = sqlite3_prepare_v2(db, sql, -1, out, NULL);
  if (rc != SQLITE_OK) {
    ps__err_sqlite(e, db, sqlite3_extended_errcode(db), sql);
    *out = NULL;
  }
  return rc;
}

int ps__step(sqlite3_stmt *stmt, struct ps__err *e) {
  int rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    sqlite3 *db = sqlite3_db_handle(stmt);
    ps__err_sqlite(e, db, sqlite3_extended_errcode(db), sqlite3_sql(stmt));
  }
  return rc;
}

int ps__step_all(sqlite3_stmt *stmt, struct ps__err *e) {
  int rc;
  do {
    rc = ps__step(stmt, e);
  } while (rc == SQLITE_ROW);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int ps__exec_text_params(sqlite3 *db, const char *sql, struct ps__err *e, int n,
                         ...) {
  sqlite3_stmt *stmt;
  va_list ap;
  int i;
  int rc = ps__prepare(db, sql, &stmt, e);
  if (rc != SQLITE_OK)
    return rc;
  va_start(ap, n);
  for (i = 1; i <= n; i++) {
    const char *v = va_arg(ap, const char *);
    if (v)
      sqlite3_bind_text(stmt, i, v, -1, SQLITE_TRANSIENT);
  }
  va_end(ap);
  rc = ps__step_all(stmt, e);
  sqlite3_finalize(stmt);
  return rc;
}

static void buf_quoted(struct ps__buf *b, const char *s, char quote) {
  const char *start = s;
  ps__buf_putc(b, quote);
  for (; *s; s++) {
    if (*s == quote) {
      ps__buf_append(b, start, (size_t)(s - start) + 1);
      start = s;
    }
  }
  ps__buf_append(b, start, (size_t)(s - start));
  ps__buf_putc(b, quote);
}

void ps__buf_ident(struct ps__buf *b, const char *name) {
  buf_quoted(b, name, '"');
}

void ps__buf_lit(struct ps__buf *b, const char *s) { buf_quoted(b, s, '\''); }
