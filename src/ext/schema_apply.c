/*
 * schema_apply.c: powersync_replace_schema(json), applying a schema to the
 * database (core-storage.md sections 5 and 7).
 *
 *   BEGIN;
 *   SELECT powersync_replace_schema('{"tables":[{"name":"todos",
 *     "columns":[{"name":"description","type":"TEXT"}]}]}');
 *   COMMIT;
 *
 * HOW IT WORKS: the schema is diffed against what the database holds. Data
 * tables (ps_data__<name>, ps_data_local__<name>) are created or dropped, rows
 * of synced tables that leave the schema are parked in ps_untyped and come
 * back when the table returns. Indexes and views are compared by their stored
 * SQL text with the freshly generated text and re-created only when it
 * differs, so applying an unchanged schema writes nothing (and works on a
 * read-only connection). Statements that drop objects run only after every
 * query on sqlite_master is finished ("database table is locked" otherwise).
 */
#include <stdlib.h>
#include <string.h>

#include "../core/json.h"
#include "error.h"
#include "register.h"
#include "schema_sql.h"
#include "sql.h"

static const char FNAME[] = "powersync_replace_schema";

/* A list of owned SQL statements to run later, in order. */
struct statements {
  char **sql;
  size_t count;
  size_t cap;
};

static int statements_add(struct statements *s, struct ps__buf *b,
                          struct ps__err *e) {
  char *sql;
  if (ps__buf_failed(b)) {
    ps__err_nomem(e);
    return -1;
  }
  if (s->count == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    char **p = realloc(s->sql, cap * sizeof(*p));
    if (!p) {
      ps__err_nomem(e);
      return -1;
    }
    s->sql = p;
    s->cap = cap;
  }
  sql = ps__buf_take(b);
  if (!sql) {
    ps__err_nomem(e);
    return -1;
  }
  s->sql[s->count++] = sql;
  return 0;
}

static void statements_free(struct statements *s) {
  size_t i;
  for (i = 0; i < s->count; i++)
    free(s->sql[i]);
  free(s->sql);
}

static int statements_run(sqlite3 *db, const struct statements *s,
                          struct ps__err *e) {
  size_t i;
  for (i = 0; i < s->count; i++) {
    if (ps__exec(db, s->sql[i], e) != SQLITE_OK)
      return -1;
  }
  return 0;
}

/* --- Data tables (7.1) --------------------------------------------------- */

struct existing_table {
  char *internal; /* ps_data__x or ps_data_local__x */
  const char *external;
  int local;
  int keep;
};

struct existing_tables {
  struct existing_table *items;
  size_t count;
};

static void existing_tables_free(struct existing_tables *t) {
  size_t i;
  for (i = 0; i < t->count; i++)
    free(t->items[i].internal);
  free(t->items);
}

static int read_existing_tables(sqlite3 *db, struct existing_tables *out,
                                struct ps__err *e) {
  static const char sql[] = "SELECT name FROM sqlite_master WHERE type = "
                            "'table' AND name GLOB 'ps_data_*'";
  sqlite3_stmt *stmt;
  size_t cap = 0;
  int rc = ps__prepare(db, sql, &stmt, e);
  out->items = NULL;
  out->count = 0;
  if (rc != SQLITE_OK)
    return -1;
  while ((rc = ps__step(stmt, e)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(stmt, 0);
    struct existing_table t = {NULL, NULL, 0, 0};
    if (!name)
      continue;
    if (strncmp(name, "ps_data_local__", 15) == 0) {
      t.local = 1;
    } else if (strncmp(name, "ps_data__", 9) != 0) {
      continue;
    }
    t.internal = strdup(name);
    if (!t.internal) {
      rc = SQLITE_NOMEM;
      break;
    }
    if (out->count == cap) {
      size_t ncap = cap ? cap * 2 : 8;
      struct existing_table *p = realloc(out->items, ncap * sizeof(*p));
      if (!p) {
        free(t.internal);
        rc = SQLITE_NOMEM;
        break;
      }
      out->items = p;
      cap = ncap;
    }
    t.external = t.internal + (t.local ? 15 : 9);
    out->items[out->count++] = t;
  }
  sqlite3_finalize(stmt);
  if (rc == SQLITE_NOMEM)
    ps__err_nomem(e);
  return rc == SQLITE_DONE ? 0 : -1;
}

static struct existing_table *find_existing(struct existing_tables *t,
                                            const char *external, int local) {
  size_t i;
  for (i = 0; i < t->count; i++) {
    if (t->items[i].local == local &&
        strcmp(t->items[i].external, external) == 0)
      return &t->items[i];
  }
  return NULL;
}

/* Rows of a synced table that was parked in ps_untyped come back. */
static int adopt_untyped_rows(sqlite3 *db, const struct ps__table *t,
                              struct ps__err *e) {
  struct ps__buf sql;
  int rc;
  ps__buf_init(&sql, 0);
  ps__buf_puts(&sql, "INSERT INTO ");
  {
    struct ps__buf name;
    ps__buf_init(&name, 0);
    ps__sql_internal_name(&name, t);
    ps__buf_ident(&sql, ps__buf_cstr(&name));
    ps__buf_free(&name);
  }
  ps__buf_puts(&sql,
               "(id, data) SELECT id, data FROM ps_untyped WHERE type = ?");
  if (ps__buf_failed(&sql)) {
    ps__buf_free(&sql);
    ps__err_nomem(e);
    return -1;
  }
  rc = ps__exec_text_params(db, ps__buf_cstr(&sql), e, 1, t->name);
  ps__buf_free(&sql);
  if (rc == SQLITE_OK)
    rc = ps__exec_text_params(db, "DELETE FROM ps_untyped WHERE type = ?", e, 1,
                              t->name);
  return rc == SQLITE_OK ? 0 : -1;
}

static int create_data_table(sqlite3 *db, const struct ps__table *t,
                             struct ps__err *e) {
  struct ps__buf sql;
  int rc;
  ps__buf_init(&sql, 0);
  ps__sql_create_data_table(&sql, t);
  if (ps__buf_failed(&sql)) {
    ps__buf_free(&sql);
    ps__err_nomem(e);
    return -1;
  }
  rc = ps__exec(db, ps__buf_cstr(&sql), e);
  ps__buf_free(&sql);
  if (rc != SQLITE_OK)
    return -1;
  if (t->options.flags & PS_TABLE_LOCAL_ONLY)
    return 0;
  return adopt_untyped_rows(db, t, e);
}

static int compare_external(const void *a, const void *b) {
  const struct existing_table *x = *(const struct existing_table *const *)a;
  const struct existing_table *y = *(const struct existing_table *const *)b;
  int c = strcmp(x->external, y->external);
  return c ? c : x->local - y->local;
}

/* A synced table leaving the schema parks its rows in ps_untyped; rows of
 * local-only tables are discarded. */
static int drop_data_table(sqlite3 *db, const struct existing_table *t,
                           struct ps__err *e) {
  struct ps__buf sql;
  int rc = SQLITE_OK;
  ps__buf_init(&sql, 0);
  if (!t->local) {
    ps__buf_puts(&sql, "INSERT INTO ps_untyped(type, id, data) SELECT ?, id, "
                       "data FROM ");
    ps__buf_ident(&sql, t->internal);
    rc = ps__buf_failed(&sql)
             ? SQLITE_NOMEM
             : ps__exec_text_params(db, ps__buf_cstr(&sql), e, 1, t->external);
    ps__buf_reset(&sql);
  }
  if (rc == SQLITE_OK) {
    ps__buf_puts(&sql, "DROP TABLE ");
    ps__buf_ident(&sql, t->internal);
    rc = ps__buf_failed(&sql) ? SQLITE_NOMEM
                              : ps__exec(db, ps__buf_cstr(&sql), e);
  }
  if (rc == SQLITE_NOMEM && e->code == SQLITE_OK)
    ps__err_nomem(e);
  ps__buf_free(&sql);
  return rc == SQLITE_OK ? 0 : -1;
}

static int update_data_tables(sqlite3 *db, const struct ps__schema *s,
                              struct ps__err *e) {
  struct existing_tables existing;
  struct existing_table **removed = NULL;
  size_t i;
  size_t n_removed = 0;
  int rc = 0;
  if (read_existing_tables(db, &existing, e))
    return -1;
  for (i = 0; i < s->table_count && rc == 0; i++) {
    const struct ps__table *t = &s->tables[i];
    int local = (t->options.flags & PS_TABLE_LOCAL_ONLY) != 0;
    struct existing_table *same = find_existing(&existing, t->name, local);
    if (same) {
      same->keep = 1;
      continue;
    }
    rc = create_data_table(db, t, e);
  }
  if (rc == 0 && existing.count) {
    removed = malloc(existing.count * sizeof(*removed));
    if (!removed) {
      ps__err_nomem(e);
      rc = -1;
    }
  }
  for (i = 0; rc == 0 && i < existing.count; i++) {
    if (!existing.items[i].keep)
      removed[n_removed++] = &existing.items[i];
  }
  if (rc == 0 && n_removed > 1)
    qsort(removed, n_removed, sizeof(*removed), compare_external);
  for (i = 0; rc == 0 && i < n_removed; i++)
    rc = drop_data_table(db, removed[i], e);
  free(removed);
  existing_tables_free(&existing);
  return rc;
}

/* --- Indexes (7.2) ------------------------------------------------------- */

/* 1 if the stored index named name has exactly the text sql, 0 if it differs,
 * -1 if there is none, -2 on error. */
static int compare_stored_index(sqlite3 *db, const char *name, const char *sql,
                                struct ps__err *e) {
  static const char query[] =
      "SELECT sql FROM sqlite_master WHERE name = ? AND type = 'index'";
  sqlite3_stmt *stmt;
  int rc = ps__prepare(db, query, &stmt, e);
  int result;
  if (rc != SQLITE_OK)
    return -2;
  sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
  rc = ps__step(stmt, e);
  if (rc == SQLITE_ROW) {
    const char *stored = (const char *)sqlite3_column_text(stmt, 0);
    result = stored && strcmp(stored, sql) == 0;
  } else {
    result = rc == SQLITE_DONE ? -1 : -2;
  }
  sqlite3_finalize(stmt);
  return result;
}

static int schedule_index(sqlite3 *db, const struct ps__table *t,
                          const struct ps__index *ix, struct statements *todo,
                          struct ps__buf *expected_names, struct ps__err *e) {
  struct ps__buf name;
  struct ps__buf sql;
  int cmp;
  int rc = 0;
  ps__buf_init(&name, 0);
  ps__buf_init(&sql, 0);
  ps__sql_index_name(&name, t, ix);
  ps__sql_create_index(&sql, t, ix);
  if (ps__buf_failed(&name) || ps__buf_failed(&sql)) {
    ps__err_nomem(e);
    rc = -1;
    goto done;
  }
  if (expected_names->len > 1)
    ps__buf_putc(expected_names, ',');
  ps__json_write_string(expected_names, name.data, name.len);
  cmp = compare_stored_index(db, ps__buf_cstr(&name), ps__buf_cstr(&sql), e);
  if (cmp == -2) {
    rc = -1;
  } else if (cmp == 0) {
    struct ps__buf drop;
    ps__buf_init(&drop, 0);
    ps__buf_puts(&drop, "DROP INDEX ");
    ps__buf_ident(&drop, ps__buf_cstr(&name));
    rc = statements_add(todo, &drop, e);
    ps__buf_free(&drop);
  }
  if (rc == 0 && cmp != 1)
    rc = statements_add(todo, &sql, e);
done:
  ps__buf_free(&name);
  ps__buf_free(&sql);
  return rc;
}

/* Any index named ps_data_* that the schema does not define is dropped, even
 * on user tables: the prefix belongs to PowerSync. */
static int schedule_stale_index_drops(sqlite3 *db, const char *expected_json,
                                      struct statements *todo,
                                      struct ps__err *e) {
  static const char query[] =
      "SELECT name FROM sqlite_master WHERE type = 'index' AND name GLOB "
      "'ps_data_*' AND name NOT IN (SELECT value FROM json_each(?))";
  sqlite3_stmt *stmt;
  int rc = ps__prepare(db, query, &stmt, e);
  if (rc != SQLITE_OK)
    return -1;
  sqlite3_bind_text(stmt, 1, expected_json, -1, SQLITE_STATIC);
  while ((rc = ps__step(stmt, e)) == SQLITE_ROW) {
    struct ps__buf drop;
    int added;
    ps__buf_init(&drop, 0);
    ps__buf_puts(&drop, "DROP INDEX ");
    ps__buf_ident(&drop, (const char *)sqlite3_column_text(stmt, 0));
    added = statements_add(todo, &drop, e);
    ps__buf_free(&drop);
    if (added) {
      rc = SQLITE_NOMEM;
      break;
    }
  }
  sqlite3_finalize(stmt);
  return rc == SQLITE_DONE ? 0 : -1;
}

static int update_indexes(sqlite3 *db, const struct ps__schema *s,
                          struct ps__err *e) {
  struct statements todo = {NULL, 0, 0};
  struct ps__buf expected;
  size_t i;
  size_t j;
  int rc = 0;
  ps__buf_init(&expected, 0);
  ps__buf_putc(&expected, '[');
  for (i = 0; i < s->table_count && rc == 0; i++) {
    const struct ps__table *t = &s->tables[i];
    for (j = 0; j < t->index_count && rc == 0; j++)
      rc = schedule_index(db, t, &t->indexes[j], &todo, &expected, e);
  }
  ps__buf_putc(&expected, ']');
  if (rc == 0 && ps__buf_failed(&expected)) {
    ps__err_nomem(e);
    rc = -1;
  }
  if (rc == 0)
    rc = schedule_stale_index_drops(db, ps__buf_cstr(&expected), &todo, e);
  if (rc == 0)
    rc = statements_run(db, &todo, e);
  statements_free(&todo);
  ps__buf_free(&expected);
  return rc;
}

/* --- Views and triggers (7.3) -------------------------------------------- */

struct existing_view {
  char *name;
  char *view_sql;
  struct ps__buf delete_sql;
  struct ps__buf insert_sql;
  struct ps__buf update_sql;
  int keep;
};

struct existing_views {
  struct existing_view *items;
  size_t count;
};

static void existing_views_free(struct existing_views *v) {
  size_t i;
  for (i = 0; i < v->count; i++) {
    free(v->items[i].name);
    free(v->items[i].view_sql);
    ps__buf_free(&v->items[i].delete_sql);
    ps__buf_free(&v->items[i].insert_sql);
    ps__buf_free(&v->items[i].update_sql);
  }
  free(v->items);
}

/* Trigger texts of one view. The official core joins the delete triggers in
 * one query with an ordered group_concat (SQLite 3.44+); ordering in a plain
 * query and joining here gives the same text on older SQLite. */
static int read_view_triggers(sqlite3 *db, struct existing_view *v,
                              struct ps__err *e) {
  static const char query[] =
      "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND "
      "tbl_name = ? AND name GLOB 'ps_view_*' ORDER BY name DESC";
  sqlite3_stmt *stmt;
  int rc = ps__prepare(db, query, &stmt, e);
  if (rc != SQLITE_OK)
    return -1;
  sqlite3_bind_text(stmt, 1, v->name, -1, SQLITE_STATIC);
  while ((rc = ps__step(stmt, e)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(stmt, 0);
    const char *sql = (const char *)sqlite3_column_text(stmt, 1);
    if (!name || !sql)
      continue;
    if (strncmp(name, "ps_view_delete", 14) == 0) {
      if (v->delete_sql.len)
        ps__buf_puts(&v->delete_sql, ";\n");
      ps__buf_puts(&v->delete_sql, sql);
    } else if (strncmp(name, "ps_view_insert", 14) == 0) {
      if (!v->insert_sql.len)
        ps__buf_puts(&v->insert_sql, sql);
    } else if (strncmp(name, "ps_view_update", 14) == 0) {
      if (!v->update_sql.len)
        ps__buf_puts(&v->update_sql, sql);
    }
  }
  sqlite3_finalize(stmt);
  return rc == SQLITE_DONE ? 0 : -1;
}

static int read_existing_views(sqlite3 *db, struct existing_views *out,
                               struct ps__err *e) {
  static const char query[] =
      "SELECT name, sql FROM sqlite_master WHERE type = 'view' AND sql GLOB "
      "'*-- powersync-auto-generated'";
  sqlite3_stmt *stmt;
  size_t cap = 0;
  size_t i;
  int rc = ps__prepare(db, query, &stmt, e);
  out->items = NULL;
  out->count = 0;
  if (rc != SQLITE_OK)
    return -1;
  while ((rc = ps__step(stmt, e)) == SQLITE_ROW) {
    struct existing_view *v;
    if (out->count == cap) {
      size_t ncap = cap ? cap * 2 : 8;
      struct existing_view *p = realloc(out->items, ncap * sizeof(*p));
      if (!p) {
        rc = SQLITE_NOMEM;
        break;
      }
      out->items = p;
      cap = ncap;
    }
    v = &out->items[out->count++];
    memset(v, 0, sizeof(*v));
    ps__buf_init(&v->delete_sql, 0);
    ps__buf_init(&v->insert_sql, 0);
    ps__buf_init(&v->update_sql, 0);
    v->name = strdup((const char *)sqlite3_column_text(stmt, 0));
    v->view_sql = strdup((const char *)sqlite3_column_text(stmt, 1));
    if (!v->name || !v->view_sql) {
      rc = SQLITE_NOMEM;
      break;
    }
  }
  sqlite3_finalize(stmt);
  if (rc == SQLITE_NOMEM)
    ps__err_nomem(e);
  if (rc != SQLITE_DONE)
    return -1;
  for (i = 0; i < out->count; i++) {
    if (read_view_triggers(db, &out->items[i], e))
      return -1;
  }
  return 0;
}

/* The generated texts of one table's view and triggers. */
struct view_sql {
  struct ps__buf view;
  struct ps__buf delete_sql;
  struct ps__buf insert_sql;
  struct ps__buf update_sql;
};

static void view_sql_free(struct view_sql *g) {
  ps__buf_free(&g->view);
  ps__buf_free(&g->delete_sql);
  ps__buf_free(&g->insert_sql);
  ps__buf_free(&g->update_sql);
}

static int generate_view_sql(const struct ps__table *t, struct view_sql *g,
                             struct ps__err *e) {
  char msg[128] = "";
  ps__buf_init(&g->view, 0);
  ps__buf_init(&g->delete_sql, 0);
  ps__buf_init(&g->insert_sql, 0);
  ps__buf_init(&g->update_sql, 0);
  ps__sql_create_view(&g->view, t);
  if (ps__sql_delete_triggers(&g->delete_sql, t, msg, sizeof(msg)) ||
      ps__sql_insert_trigger(&g->insert_sql, t, msg, sizeof(msg)) ||
      ps__sql_update_trigger(&g->update_sql, t, msg, sizeof(msg))) {
    ps__err_argument(e, msg, NULL);
    return -1;
  }
  if (ps__buf_failed(&g->view) || ps__buf_failed(&g->delete_sql) ||
      ps__buf_failed(&g->insert_sql) || ps__buf_failed(&g->update_sql)) {
    ps__err_nomem(e);
    return -1;
  }
  return 0;
}

static int same_view(const struct existing_view *v, const struct view_sql *g) {
  return strcmp(v->view_sql, ps__buf_cstr(&g->view)) == 0 &&
         strcmp(ps__buf_cstr(&v->delete_sql), ps__buf_cstr(&g->delete_sql)) ==
             0 &&
         strcmp(ps__buf_cstr(&v->insert_sql), ps__buf_cstr(&g->insert_sql)) ==
             0 &&
         strcmp(ps__buf_cstr(&v->update_sql), ps__buf_cstr(&g->update_sql)) ==
             0;
}

static struct existing_view *find_view(struct existing_views *views,
                                       const char *name) {
  size_t i;
  for (i = 0; i < views->count; i++) {
    if (strcmp(views->items[i].name, name) == 0)
      return &views->items[i];
  }
  return NULL;
}

static int drop_view(sqlite3 *db, const char *name, struct ps__err *e) {
  struct ps__buf sql;
  int rc;
  ps__buf_init(&sql, 0);
  ps__buf_puts(&sql, "DROP VIEW IF EXISTS ");
  ps__buf_ident(&sql, name);
  if (ps__buf_failed(&sql)) {
    ps__buf_free(&sql);
    ps__err_nomem(e);
    return -1;
  }
  rc = ps__exec(db, ps__buf_cstr(&sql), e);
  ps__buf_free(&sql);
  return rc == SQLITE_OK ? 0 : -1;
}

static int exec_if_any(sqlite3 *db, const struct ps__buf *sql,
                       struct ps__err *e) {
  if (!sql->len)
    return 0;
  return ps__exec(db, ps__buf_cstr(sql), e) == SQLITE_OK ? 0 : -1;
}

static int apply_view(sqlite3 *db, const struct ps__table *t,
                      struct existing_views *views, struct ps__err *e) {
  const char *name = ps__table_view_name(t);
  struct existing_view *existing = find_view(views, name);
  struct view_sql g;
  int rc;
  if (generate_view_sql(t, &g, e)) {
    view_sql_free(&g);
    return -1;
  }
  if (existing)
    existing->keep = 1;
  if (existing && same_view(existing, &g)) {
    view_sql_free(&g);
    return 0;
  }
  rc = drop_view(db, name, e);
  if (rc == 0)
    rc = exec_if_any(db, &g.view, e);
  if (rc == 0)
    rc = exec_if_any(db, &g.delete_sql, e);
  if (rc == 0)
    rc = exec_if_any(db, &g.insert_sql, e);
  if (rc == 0)
    rc = exec_if_any(db, &g.update_sql, e);
  view_sql_free(&g);
  return rc;
}

static int update_views(sqlite3 *db, const struct ps__schema *s,
                        struct ps__err *e) {
  struct existing_views views;
  size_t i;
  int rc = read_existing_views(db, &views, e);
  for (i = 0; rc == 0 && i < s->table_count; i++)
    rc = apply_view(db, &s->tables[i], &views, e);
  for (i = 0; rc == 0 && i < views.count; i++) {
    if (!views.items[i].keep)
      rc = drop_view(db, views.items[i].name, e);
  }
  existing_views_free(&views);
  return rc;
}

/* --- The SQL function ------------------------------------------------------
 */

static int parse_schema_argument(sqlite3_value *arg, struct ps__schema **out,
                                 struct ps__err *e) {
  const char *text = (const char *)sqlite3_value_text(arg);
  int len = sqlite3_value_bytes(arg);
  char msg[256];
  if (ps__schema_parse(text ? text : "", text ? (size_t)len : 0, out, msg,
                       sizeof(msg))) {
    ps__err_argument(e, "", msg);
    return -1;
  }
  return 0;
}

static int run_init(sqlite3 *db, struct ps__err *e) {
  return ps__exec(db, "SELECT powersync_init()", e) == SQLITE_OK ? 0 : -1;
}

/* The official core leaves the work done before a failure for the caller to
 * roll back; a savepoint makes a failed call change nothing even if the
 * caller commits anyway (docs/compatibility.md). */
static int apply_schema(sqlite3 *db, const struct ps__schema *schema,
                        struct ps__err *e) {
  struct ps__err ignored;
  if (ps__exec(db, "SAVEPOINT powersync_replace_schema", e) != SQLITE_OK)
    return -1;
  if (run_init(db, e) == 0 && update_data_tables(db, schema, e) == 0 &&
      update_indexes(db, schema, e) == 0 && update_views(db, schema, e) == 0)
    return ps__exec(db, "RELEASE powersync_replace_schema", e) == SQLITE_OK
               ? 0
               : -1;
  ps__err_init(&ignored);
  ps__exec(db,
           "ROLLBACK TO powersync_replace_schema; "
           "RELEASE powersync_replace_schema",
           &ignored);
  ps__err_free(&ignored);
  return -1;
}

static void replace_schema_fn(sqlite3_context *ctx, int argc,
                              sqlite3_value **argv) {
  struct ps__state *st = sqlite3_user_data(ctx);
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  struct ps__schema *schema = NULL;
  struct ps__err e;
  (void)argc;
  if (!ps__require_transaction(ctx, FNAME))
    return;
  ps__err_init(&e);
  if (parse_schema_argument(argv[0], &schema, &e) ||
      apply_schema(db, schema, &e)) {
    ps__err_result(ctx, FNAME, &e);
    ps__schema_free(schema);
  } else {
    ps__state_set_schema(st, schema);
    sqlite3_result_text(ctx, "", 0, SQLITE_STATIC);
  }
  ps__err_free(&e);
}

int ps__register_replace_schema(sqlite3 *db, struct ps__state *st) {
  return ps__create_function(db, st, FNAME, 1, 0, replace_schema_fn);
}
