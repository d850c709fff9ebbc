/*
 * query.c: parameter values, result rows, and the execute/query helpers.
 *
 * powersync_db_execute runs one statement on the writer; powersync_db_query
 * runs one statement on a reader and copies every row into a powersync_rows,
 * whose names, texts and blobs live in one arena so that freeing the result
 * is a single walk over a few blocks.
 */
#include <stdlib.h>
#include <string.h>

#include "../util/arena.h"
#include "db_internal.h"

struct powersync_rows {
  size_t columns;
  size_t count;
  size_t cap; /* Rows cells has room for. */
  char **names;
  powersync_value *cells; /* count * columns, row-major. */
  struct ps__arena arena; /* names, texts and blobs. */
};

/* --- Values -----------------------------------------------------------------
 */

powersync_value powersync_null(void) {
  powersync_value v;
  memset(&v, 0, sizeof(v));
  v.type = POWERSYNC_VALUE_NULL;
  return v;
}

powersync_value powersync_int(int64_t i) {
  powersync_value v = powersync_null();
  v.type = POWERSYNC_VALUE_INTEGER;
  v.as.integer = i;
  return v;
}

powersync_value powersync_real(double d) {
  powersync_value v = powersync_null();
  v.type = POWERSYNC_VALUE_REAL;
  v.as.real = d;
  return v;
}

powersync_value powersync_text(const char *s) {
  powersync_value v = powersync_null();
  if (!s)
    return v;
  v.type = POWERSYNC_VALUE_TEXT;
  v.as.bytes.data = s;
  v.as.bytes.size = strlen(s);
  return v;
}

powersync_value powersync_blob(const void *data, size_t size) {
  powersync_value v = powersync_null();
  if (!data && size > 0)
    return v;
  v.type = POWERSYNC_VALUE_BLOB;
  v.as.bytes.data = data;
  v.as.bytes.size = size;
  return v;
}

/* --- Statements -------------------------------------------------------------
 */

static int bind_value(sqlite3_stmt *stmt, int i, const powersync_value *v) {
  switch (v->type) {
  case POWERSYNC_VALUE_NULL:
    return sqlite3_bind_null(stmt, i);
  case POWERSYNC_VALUE_INTEGER:
    return sqlite3_bind_int64(stmt, i, v->as.integer);
  case POWERSYNC_VALUE_REAL:
    return sqlite3_bind_double(stmt, i, v->as.real);
  case POWERSYNC_VALUE_TEXT:
    if (!v->as.bytes.data)
      return sqlite3_bind_null(stmt, i);
    /* SQLITE_STATIC: the statement is finalized before the call returns,
     * while the caller's value is still valid. */
    return sqlite3_bind_text64(stmt, i, v->as.bytes.data, v->as.bytes.size,
                               SQLITE_STATIC, SQLITE_UTF8);
  case POWERSYNC_VALUE_BLOB:
    /* sqlite3_bind_blob with a NULL pointer would bind NULL, not x''. */
    if (v->as.bytes.size == 0)
      return sqlite3_bind_zeroblob(stmt, i, 0);
    return sqlite3_bind_blob64(stmt, i, v->as.bytes.data, v->as.bytes.size,
                               SQLITE_STATIC);
  }
  return SQLITE_MISUSE;
}

/* 1 when text holds another statement (not just blanks or comments). */
static int has_more_statements(sqlite3 *conn, const char *tail) {
  sqlite3_stmt *next = NULL;
  const char *p = tail;
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ';')
    p++;
  if (!*p)
    return 0;
  /* Comments are the rare case; let SQLite decide. */
  if (sqlite3_prepare_v2(conn, p, -1, &next, NULL) != SQLITE_OK)
    return 1;
  sqlite3_finalize(next);
  return next != NULL;
}

int ps__prepare_bound(sqlite3 *conn, const char *sql,
                      const powersync_value *params, size_t n,
                      sqlite3_stmt **out) {
  sqlite3_stmt *stmt = NULL;
  const char *tail = NULL;
  size_t i;
  int rc;

  *out = NULL;
  rc = sqlite3_prepare_v2(conn, sql, -1, &stmt, &tail);
  if (rc != SQLITE_OK)
    return ps__error_sqlite(conn, rc);
  if (!stmt)
    return ps__error_set(POWERSYNC_EINVAL, "no statement in '%s'", sql);
  if (tail && has_more_statements(conn, tail)) {
    sqlite3_finalize(stmt);
    return ps__error_set(POWERSYNC_EINVAL, "more than one statement in '%s'",
                         sql);
  }
  if ((size_t)sqlite3_bind_parameter_count(stmt) != n) {
    rc = sqlite3_bind_parameter_count(stmt);
    sqlite3_finalize(stmt);
    return ps__error_set(POWERSYNC_EINVAL,
                         "'%s' has %d parameters, %zu values given", sql, rc,
                         n);
  }
  for (i = 0; i < n; i++) {
    rc = bind_value(stmt, (int)i + 1, &params[i]);
    if (rc != SQLITE_OK) {
      rc = ps__error_sqlite(conn, rc);
      sqlite3_finalize(stmt);
      return rc;
    }
  }
  *out = stmt;
  return POWERSYNC_OK;
}

int ps__db_exec(sqlite3 *conn, const char *sql) {
  int rc = sqlite3_exec(conn, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? POWERSYNC_OK : ps__error_sqlite(conn, rc);
}

static int check_call(powersync_db *db, const char *sql,
                      const powersync_value *params, size_t n) {
  if (!db)
    return ps__error_set(POWERSYNC_EINVAL, "db is NULL");
  if (!sql)
    return ps__error_set(POWERSYNC_EINVAL, "sql is NULL");
  if (n > 0 && !params)
    return ps__error_set(POWERSYNC_EINVAL, "params is NULL");
  return POWERSYNC_OK;
}

int powersync_db_execute(powersync_db *db, const char *sql,
                         const powersync_value *params, size_t n,
                         int64_t *changes_out) {
  powersync_lease *lease = NULL;
  sqlite3_stmt *stmt = NULL;
  sqlite3 *conn;
  int rc;

  ps__error_reset();
  if (changes_out)
    *changes_out = 0;
  rc = check_call(db, sql, params, n);
  if (rc == POWERSYNC_OK)
    rc = ps__pool_acquire(db, 1, -1, &lease);
  if (rc != POWERSYNC_OK)
    return rc;
  conn = powersync_lease_sqlite(lease);
  rc = ps__prepare_bound(conn, sql, params, n, &stmt);
  if (rc == POWERSYNC_OK) {
    int step;
    do
      step = sqlite3_step(stmt);
    while (step == SQLITE_ROW);
    if (step != SQLITE_DONE)
      rc = ps__error_sqlite(conn, step);
    else if (changes_out)
      *changes_out = sqlite3_changes64(conn);
  }
  sqlite3_finalize(stmt);
  powersync_lease_release(lease);
  return rc;
}

/* --- Rows -------------------------------------------------------------------
 */

static int rows_copy_bytes(struct powersync_rows *r, powersync_value *cell,
                           const void *data, size_t size) {
  /* strndup also NUL-terminates blobs, which costs one byte and lets an
   * empty blob have a non-NULL pointer. */
  char *copy = ps__arena_strndup(&r->arena, data ? data : "", size);
  if (!copy)
    return POWERSYNC_ENOMEM;
  cell->as.bytes.data = copy;
  cell->as.bytes.size = size;
  return POWERSYNC_OK;
}

static int rows_add_row(struct powersync_rows *r, sqlite3_stmt *stmt) {
  powersync_value *row;
  size_t c;

  if (r->count == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 16;
    powersync_value *p =
        realloc(r->cells, cap * (r->columns ? r->columns : 1) * sizeof(*p));
    if (!p)
      return POWERSYNC_ENOMEM;
    r->cells = p;
    r->cap = cap;
  }
  row = &r->cells[r->count * r->columns];
  for (c = 0; c < r->columns; c++) {
    powersync_value *cell = &row[c];
    int ic = (int)c;
    memset(cell, 0, sizeof(*cell));
    switch (sqlite3_column_type(stmt, ic)) {
    case SQLITE_INTEGER:
      cell->type = POWERSYNC_VALUE_INTEGER;
      cell->as.integer = sqlite3_column_int64(stmt, ic);
      break;
    case SQLITE_FLOAT:
      cell->type = POWERSYNC_VALUE_REAL;
      cell->as.real = sqlite3_column_double(stmt, ic);
      break;
    case SQLITE_TEXT:
      cell->type = POWERSYNC_VALUE_TEXT;
      if (rows_copy_bytes(r, cell, sqlite3_column_text(stmt, ic),
                          (size_t)sqlite3_column_bytes(stmt, ic)))
        return POWERSYNC_ENOMEM;
      break;
    case SQLITE_BLOB:
      cell->type = POWERSYNC_VALUE_BLOB;
      if (rows_copy_bytes(r, cell, sqlite3_column_blob(stmt, ic),
                          (size_t)sqlite3_column_bytes(stmt, ic)))
        return POWERSYNC_ENOMEM;
      break;
    default:
      cell->type = POWERSYNC_VALUE_NULL;
      break;
    }
  }
  r->count++;
  return POWERSYNC_OK;
}

static struct powersync_rows *rows_new(sqlite3_stmt *stmt) {
  struct powersync_rows *r = calloc(1, sizeof(*r));
  size_t c;
  if (!r)
    return NULL;
  ps__arena_init(&r->arena, 0);
  r->columns = (size_t)sqlite3_column_count(stmt);
  r->names = ps__arena_alloc(&r->arena, (r->columns + 1) * sizeof(char *));
  if (!r->names)
    goto fail;
  for (c = 0; c < r->columns; c++) {
    const char *name = sqlite3_column_name(stmt, (int)c);
    if (!name)
      goto fail;
    r->names[c] = ps__arena_strndup(&r->arena, name, strlen(name));
    if (!r->names[c])
      goto fail;
  }
  return r;
fail:
  powersync_rows_free(r);
  return NULL;
}

int ps__rows_collect(sqlite3 *conn, sqlite3_stmt *stmt, powersync_rows **out) {
  struct powersync_rows *r;
  int step;

  *out = NULL;
  r = rows_new(stmt);
  if (!r)
    return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  for (;;) {
    step = sqlite3_step(stmt);
    if (step != SQLITE_ROW)
      break;
    if (rows_add_row(r, stmt) != POWERSYNC_OK) {
      powersync_rows_free(r);
      return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
    }
  }
  if (step != SQLITE_DONE) {
    powersync_rows_free(r);
    return ps__error_sqlite(conn, step);
  }
  *out = r;
  return POWERSYNC_OK;
}

/* An empty result with the column names of src. */
static struct powersync_rows *rows_like(const struct powersync_rows *src) {
  struct powersync_rows *r = calloc(1, sizeof(*r));
  size_t c;
  if (!r)
    return NULL;
  ps__arena_init(&r->arena, 0);
  r->columns = src->columns;
  r->names = ps__arena_alloc(&r->arena, (r->columns + 1) * sizeof(char *));
  if (!r->names)
    goto fail;
  for (c = 0; c < r->columns; c++) {
    r->names[c] =
        ps__arena_strndup(&r->arena, src->names[c], strlen(src->names[c]));
    if (!r->names[c])
      goto fail;
  }
  return r;
fail:
  powersync_rows_free(r);
  return NULL;
}

int ps__rows_subset(powersync_rows **out, const powersync_rows *src,
                    const size_t *indexes, size_t n) {
  struct powersync_rows *r;
  size_t i, c;

  *out = NULL;
  r = rows_like(src);
  if (!r)
    return POWERSYNC_ENOMEM;
  if (n > 0 && r->columns > 0) {
    r->cells = malloc(n * r->columns * sizeof(*r->cells));
    if (!r->cells)
      goto fail;
    r->cap = n;
  }
  for (i = 0; i < n; i++) {
    const powersync_value *from = &src->cells[indexes[i] * src->columns];
    powersync_value *to = &r->cells[i * r->columns];
    for (c = 0; c < r->columns; c++) {
      to[c] = from[c];
      if ((from[c].type == POWERSYNC_VALUE_TEXT ||
           from[c].type == POWERSYNC_VALUE_BLOB) &&
          rows_copy_bytes(r, &to[c], from[c].as.bytes.data,
                          from[c].as.bytes.size) != POWERSYNC_OK)
        goto fail;
    }
    r->count++;
  }
  *out = r;
  return POWERSYNC_OK;
fail:
  powersync_rows_free(r);
  return POWERSYNC_ENOMEM;
}

int powersync_db_query(powersync_db *db, const char *sql,
                       const powersync_value *params, size_t n,
                       powersync_rows **out) {
  powersync_lease *lease = NULL;
  sqlite3_stmt *stmt = NULL;
  sqlite3 *conn;
  int rc;

  ps__error_reset();
  if (!out)
    return ps__error_set(POWERSYNC_EINVAL, "out is NULL");
  *out = NULL;
  rc = check_call(db, sql, params, n);
  if (rc == POWERSYNC_OK)
    rc = ps__pool_acquire(db, 0, -1, &lease);
  if (rc != POWERSYNC_OK)
    return rc;
  conn = powersync_lease_sqlite(lease);
  rc = ps__prepare_bound(conn, sql, params, n, &stmt);
  if (rc == POWERSYNC_OK)
    rc = ps__rows_collect(conn, stmt, out);
  sqlite3_finalize(stmt);
  powersync_lease_release(lease);
  return rc;
}

size_t powersync_rows_count(const powersync_rows *rows) {
  return rows ? rows->count : 0;
}

size_t powersync_rows_columns(const powersync_rows *rows) {
  return rows ? rows->columns : 0;
}

const char *powersync_rows_column_name(const powersync_rows *rows,
                                       size_t column) {
  if (!rows || column >= rows->columns)
    return NULL;
  return rows->names[column];
}

const powersync_value *powersync_rows_value(const powersync_rows *rows,
                                            size_t row, size_t column) {
  if (!rows || row >= rows->count || column >= rows->columns)
    return NULL;
  return &rows->cells[row * rows->columns + column];
}

void powersync_rows_free(powersync_rows *rows) {
  if (!rows)
    return;
  ps__arena_free(&rows->arena);
  free(rows->cells);
  free(rows);
}
