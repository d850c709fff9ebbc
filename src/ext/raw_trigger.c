/*
 * raw_trigger.c: powersync_create_raw_table_crud_trigger(table_json,
 * trigger_name, write_type) (core-storage.md 8.3).
 *
 *   SELECT powersync_create_raw_table_crud_trigger(
 *     '{"name":"users","table_name":"users"}', 'users_insert', 'INSERT');
 *
 * HOW IT WORKS: raw tables are ordinary tables the application manages. This
 * function creates one AFTER trigger on such a table that records local writes
 * in powersync_crud (or powersync_crud_ for insert-only tables), like the
 * INSTEAD OF triggers of JSON tables. The trigger's columns are the table's
 * columns other than id, read with pragma_table_info and filtered by
 * synced_columns.
 */
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "register.h"
#include "schema_sql.h"
#include "sql.h"

static const char FNAME[] = "powersync_create_raw_table_crud_trigger";

static int is_synced(const struct ps__raw_table *t, const char *column) {
  size_t i;
  if (!t->synced_columns)
    return 1;
  for (i = 0; i < t->synced_column_count; i++) {
    if (strcmp(t->synced_columns[i], column) == 0)
      return 1;
  }
  return 0;
}

/* Grows by doubling into fresh arena memory; the arena frees it all. */
static int append_column(struct ps__arena *arena, struct ps__column_list *cols,
                         size_t *cap, const char *name) {
  if (cols->count == *cap) {
    size_t ncap = *cap ? *cap * 2 : 16;
    const char **names = ps__arena_alloc(arena, ncap * sizeof(*names));
    if (!names)
      return -1;
    if (cols->count)
      memcpy(names, cols->names, cols->count * sizeof(*names));
    cols->names = names;
    *cap = ncap;
  }
  cols->names[cols->count] = ps__arena_strndup(arena, name, strlen(name));
  if (!cols->names[cols->count])
    return -1;
  cols->count++;
  return 0;
}

/* Reads the columns of the raw table's local table into cols (arena memory).
 */
static int read_columns(sqlite3 *db, const struct ps__raw_table *t,
                        struct ps__arena *arena, struct ps__column_list *cols,
                        struct ps__err *e) {
  sqlite3_stmt *stmt;
  int has_id = 0;
  int rc;
  char desc[512];
  size_t cap = 0;
  cols->count = 0;
  cols->names = NULL;
  rc = ps__prepare(db, "select name from pragma_table_info(?)", &stmt, e);
  if (rc != SQLITE_OK)
    return -1;
  sqlite3_bind_text(stmt, 1, t->table_name, -1, SQLITE_STATIC);
  while ((rc = ps__step(stmt, e)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(stmt, 0);
    if (!name)
      continue;
    if (strcmp(name, "id") == 0) {
      has_id = 1;
    } else if (is_synced(t, name)) {
      if (append_column(arena, cols, &cap, name)) {
        rc = SQLITE_NOMEM;
        break;
      }
    }
  }
  sqlite3_finalize(stmt);
  if (rc == SQLITE_NOMEM) {
    ps__err_nomem(e);
    return -1;
  }
  if (rc != SQLITE_DONE)
    return -1;
  /* The official core filters before it looks: no column left at all (none
   * in the table, or none named by synced_columns and no id) means the table
   * was not found. */
  if (!has_id && cols->count == 0) {
    snprintf(desc, sizeof(desc), "Could not find %s in local schema.",
             t->table_name);
    ps__err_argument(e, desc, NULL);
    return -1;
  }
  if (!has_id) {
    snprintf(desc, sizeof(desc), "Table %s has no id column.", t->table_name);
    ps__err_argument(e, desc, NULL);
    return -1;
  }
  return 0;
}

static int valid_write_type(const char *w) {
  return w && (strcmp(w, "INSERT") == 0 || strcmp(w, "UPDATE") == 0 ||
               strcmp(w, "DELETE") == 0);
}

static int create_trigger(sqlite3 *db, sqlite3_value **argv,
                          struct ps__arena *arena, struct ps__err *e) {
  const char *json = (const char *)sqlite3_value_text(argv[0]);
  const char *trigger_name = (const char *)sqlite3_value_text(argv[1]);
  const char *write_type = (const char *)sqlite3_value_text(argv[2]);
  struct ps__raw_table *t;
  struct ps__column_list cols;
  struct ps__buf sql;
  char msg[512];
  int rc;
  t = ps__raw_table_parse(arena, json ? json : "",
                          json ? (size_t)sqlite3_value_bytes(argv[0]) : 0, msg,
                          sizeof(msg));
  if (!t) {
    ps__err_argument(e, "", msg);
    return -1;
  }
  if (!valid_write_type(write_type)) {
    snprintf(msg, sizeof(msg), "unexpected write type %s",
             write_type ? write_type : "");
    ps__err_argument(e, msg, NULL);
    return -1;
  }
  if (!t->table_name) {
    snprintf(msg, sizeof(msg), "Raw table %s has no local name", t->name);
    ps__err_argument(e, msg, NULL);
    return -1;
  }
  if (read_columns(db, t, arena, &cols, e))
    return -1;
  ps__buf_init(&sql, 0);
  if (ps__sql_raw_trigger(&sql, t, trigger_name ? trigger_name : "", write_type,
                          &cols, msg, sizeof(msg))) {
    ps__buf_free(&sql);
    ps__err_argument(e, msg, NULL);
    return -1;
  }
  if (ps__buf_failed(&sql)) {
    ps__buf_free(&sql);
    ps__err_nomem(e);
    return -1;
  }
  rc = ps__exec(db, ps__buf_cstr(&sql), e);
  ps__buf_free(&sql);
  return rc == SQLITE_OK ? 0 : -1;
}

static void create_raw_trigger_fn(sqlite3_context *ctx, int argc,
                                  sqlite3_value **argv) {
  struct ps__arena arena;
  struct ps__err e;
  (void)argc;
  ps__arena_init(&arena, 0);
  ps__err_init(&e);
  if (create_trigger(sqlite3_context_db_handle(ctx), argv, &arena, &e))
    ps__err_result(ctx, FNAME, &e);
  else
    sqlite3_result_null(ctx);
  ps__err_free(&e);
  ps__arena_free(&arena);
}

int ps__register_raw_trigger(sqlite3 *db, struct ps__state *st) {
  return ps__create_function(db, st, FNAME, 3, 0, create_raw_trigger_fn);
}
