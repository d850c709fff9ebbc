/*
 * sync_raw_tables.c: writing downloaded rows into raw tables during
 * sync_local (core-sync.md section 15, core-storage.md 8.2).
 *
 * A raw table routes one sync object_type to an application-managed table.
 * For a row with data, sync_local runs the table's put statement; for a row
 * without, its delete statement. Each statement comes with a list of sources
 * for its parameters: the row id, one key of the downloaded JSON object, or
 * the "rest" of that object.
 *
 * HOW IT WORKS
 *
 * Statements. One struct ps__raw_apply lives for one sync_local. It keeps a
 * slot per raw table name holding the put and the delete statement, each
 * prepared on first use and then reused for every row (reset after each run,
 * so no statement stays busy between rows). ps__raw_apply_end finalizes them.
 *
 * Inference. When a raw table has no explicit put or delete, the statement is
 * generated from the columns of its local table (pragma_table_info). The
 * generated text lives in the per-connection struct ps__raw_table_cache,
 * keyed by the raw table name and tagged with the PRAGMA schema_version it
 * was read at; a different schema version (ALTER TABLE, DROP, ...) regenerates
 * it. The schema version is read once per sync_local: the whole run is one
 * transaction, so it cannot change under us, and reading it once also means a
 * cache entry is never replaced while a slot of the same run still points
 * into it. Like the official core, the key is the name only: a new raw table
 * definition with the same name keeps the old inferred statements until the
 * schema version changes (observed with the official 0.5.3 binary).
 *
 * Binding. The put statement's data is parsed with ps__json_parse into an
 * arena that lives for one row. Column sources bind strings as TEXT, booleans
 * as 1/0 and every number as REAL (the official core converts integers to
 * double too); anything else binds NULL. The rest source is a JSON object of
 * the keys no Column source names (nor "id" when an Id source exists),
 * written by ps__json_write with sorted keys, or NULL when there are none.
 *
 * Errors follow the official core's order: preparing (and the parameter count
 * check) comes before parsing the data, so a bad statement is reported even
 * for bad data; only failures of the statement run itself get the
 * "(context: replacing into ...)" / "(context: deleting from ...)" suffix.
 *
 * Lifetime: the struct ps__raw_table definitions handed to put/delete must
 * stay valid until ps__raw_apply_end (they belong to the iteration's schema,
 * which outlives a sync_local); slots keep pointers to them.
 */
#include "sync_raw_tables.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/json.h"
#include "../util/arena.h"
#include "../util/buf.h"
#include "sql.h"

/* ------------------------------------------------------------------------ */
/* Inferred statements cache (per connection)                               */
/* ------------------------------------------------------------------------ */

/* The inferred put and delete statements of one raw table. */
struct inferred_table {
  struct ps__arena arena; /* Owns name and both statements. */
  const char *name;       /* The raw table name: the cache key. */
  int64_t schema_version; /* PRAGMA schema_version they were read at. */
  struct ps__raw_statement put;
  struct ps__raw_statement delete_;
};

struct ps__raw_table_cache {
  /* Pointers, so that entries do not move when the array grows. */
  struct inferred_table **entries;
  size_t count;
  size_t cap;
};

struct ps__raw_table_cache *ps__raw_table_cache_new(void) {
  return calloc(1, sizeof(struct ps__raw_table_cache));
}

static void inferred_table_free(struct inferred_table *entry) {
  ps__arena_free(&entry->arena);
  free(entry);
}

void ps__raw_table_cache_free(struct ps__raw_table_cache *cache) {
  size_t i;
  if (!cache)
    return;
  for (i = 0; i < cache->count; i++)
    inferred_table_free(cache->entries[i]);
  free(cache->entries);
  free(cache);
}

static struct inferred_table **cache_find(struct ps__raw_table_cache *cache,
                                          const char *name) {
  size_t i;
  for (i = 0; i < cache->count; i++) {
    if (strcmp(cache->entries[i]->name, name) == 0)
      return &cache->entries[i];
  }
  return NULL;
}

/* Adds entry to the cache; on failure the caller still owns it. */
static int cache_add(struct ps__raw_table_cache *cache,
                     struct inferred_table *entry) {
  if (cache->count == cache->cap) {
    size_t ncap = cache->cap ? cache->cap * 2 : 4;
    struct inferred_table **grown =
        realloc(cache->entries, ncap * sizeof(*grown));
    if (!grown)
      return -1;
    cache->entries = grown;
    cache->cap = ncap;
  }
  cache->entries[cache->count++] = entry;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Reading the local table                                                  */
/* ------------------------------------------------------------------------ */

/* Column names of the local table other than id, kept in arena memory. */
struct column_list {
  const char **names;
  size_t count;
  size_t cap;
};

static int is_synced_column(const struct ps__raw_table *t, const char *name) {
  size_t i;
  if (!t->synced_columns)
    return 1;
  for (i = 0; i < t->synced_column_count; i++) {
    if (strcmp(t->synced_columns[i], name) == 0)
      return 1;
  }
  return 0;
}

/* The arena cannot grow an allocation, so a bigger array is allocated and
 * the old one is left to the arena. */
static int column_list_add(struct ps__arena *arena, struct column_list *cols,
                           const char *name) {
  if (cols->count == cols->cap) {
    size_t ncap = cols->cap ? cols->cap * 2 : 8;
    const char **grown = ps__arena_alloc(arena, ncap * sizeof(*grown));
    if (!grown)
      return -1;
    if (cols->count)
      memcpy(grown, cols->names, cols->count * sizeof(*grown));
    cols->names = grown;
    cols->cap = ncap;
  }
  cols->names[cols->count] = ps__arena_strndup(arena, name, strlen(name));
  if (!cols->names[cols->count])
    return -1;
  cols->count++;
  return 0;
}

/* The official core reports "Could not find" only when no column is left
 * after the synced_columns filter and there is no id, so a table whose
 * columns are all filtered out counts as missing (verified with 0.5.3). */
static int report_missing_id(const char *table_name, size_t kept,
                             struct ps__err *e) {
  struct ps__buf desc;
  ps__buf_init(&desc, 0);
  if (kept == 0)
    ps__buf_printf(&desc, "Could not find %s in local schema.", table_name);
  else
    ps__buf_printf(&desc, "Table %s has no id column.", table_name);
  if (ps__buf_failed(&desc))
    ps__err_nomem(e);
  else
    ps__err_argument(e, ps__buf_cstr(&desc), NULL);
  ps__buf_free(&desc);
  return -1;
}

/* Reads the synced columns of t's local table, in declaration order. */
static int read_local_columns(sqlite3 *db, const struct ps__raw_table *t,
                              struct ps__arena *arena, struct column_list *cols,
                              struct ps__err *e) {
  sqlite3_stmt *stmt;
  int has_id = 0;
  int rc;
  if (ps__prepare(db, "select name from pragma_table_info(?)", &stmt, e) !=
      SQLITE_OK)
    return -1;
  sqlite3_bind_text(stmt, 1, t->table_name, -1, SQLITE_STATIC);
  while ((rc = ps__step(stmt, e)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(stmt, 0);
    if (!name)
      continue;
    if (strcmp(name, "id") == 0) {
      has_id = 1;
    } else if (is_synced_column(t, name) &&
               column_list_add(arena, cols, name)) {
      rc = SQLITE_NOMEM;
      break;
    }
  }
  sqlite3_finalize(stmt);
  if (rc == SQLITE_NOMEM) {
    ps__err_nomem(e);
    return -1;
  }
  if (rc != SQLITE_DONE)
    return -1;
  if (!has_id)
    return report_missing_id(t->table_name, cols->count, e);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Generating the inferred statements                                       */
/* ------------------------------------------------------------------------ */

/* Copies the finished SQL text into the entry's arena. */
static const char *arena_sql(struct ps__arena *arena, struct ps__buf *sql) {
  if (ps__buf_failed(sql))
    return NULL;
  return ps__arena_strndup(arena, ps__buf_cstr(sql), sql->len);
}

/*
 * INSERT INTO "t" (id, "c1", "c2") VALUES (?1, ?2, ?3)
 *   ON CONFLICT (id) DO UPDATE SET "c1" = ?2, "c2" = ?3
 * (on one line). An upsert rather than INSERT OR REPLACE, so that local-only
 * columns keep their values. With no column but id the text ends in "SET "
 * and fails to prepare with "incomplete input", as the official core's does.
 */
static int build_put(struct inferred_table *entry, const char *table_name,
                     const struct column_list *cols) {
  struct ps__buf sql;
  size_t i;
  struct ps__raw_param *params =
      ps__arena_alloc(&entry->arena, (cols->count + 1) * sizeof(*params));
  if (!params)
    return -1;
  ps__buf_init(&sql, 0);
  ps__buf_puts(&sql, "INSERT INTO ");
  ps__buf_ident(&sql, table_name);
  ps__buf_puts(&sql, " (id");
  for (i = 0; i < cols->count; i++) {
    ps__buf_puts(&sql, ", ");
    ps__buf_ident(&sql, cols->names[i]);
  }
  ps__buf_puts(&sql, ") VALUES (?1");
  for (i = 0; i < cols->count; i++)
    ps__buf_printf(&sql, ", ?%zu", i + 2);
  ps__buf_puts(&sql, ") ON CONFLICT (id) DO UPDATE SET ");
  for (i = 0; i < cols->count; i++) {
    if (i)
      ps__buf_puts(&sql, ", ");
    ps__buf_ident(&sql, cols->names[i]);
    ps__buf_printf(&sql, " = ?%zu", i + 2);
  }
  entry->put.sql = arena_sql(&entry->arena, &sql);
  ps__buf_free(&sql);
  if (!entry->put.sql)
    return -1;
  params[0].kind = PS_RAW_PARAM_ID;
  for (i = 0; i < cols->count; i++) {
    params[i + 1].kind = PS_RAW_PARAM_COLUMN;
    params[i + 1].column = cols->names[i];
  }
  entry->put.params = params;
  entry->put.param_count = cols->count + 1;
  return 0;
}

/* DELETE FROM "t" WHERE id = ? */
static int build_delete(struct inferred_table *entry, const char *table_name) {
  struct ps__buf sql;
  struct ps__raw_param *param = ps__arena_alloc(&entry->arena, sizeof(*param));
  if (!param)
    return -1;
  ps__buf_init(&sql, 0);
  ps__buf_puts(&sql, "DELETE FROM ");
  ps__buf_ident(&sql, table_name);
  ps__buf_puts(&sql, " WHERE id = ?");
  entry->delete_.sql = arena_sql(&entry->arena, &sql);
  ps__buf_free(&sql);
  if (!entry->delete_.sql)
    return -1;
  param->kind = PS_RAW_PARAM_ID;
  entry->delete_.params = param;
  entry->delete_.param_count = 1;
  return 0;
}

/* Reads t's local table and builds a fresh cache entry for it. */
static struct inferred_table *infer(sqlite3 *db, const struct ps__raw_table *t,
                                    int64_t schema_version, struct ps__err *e) {
  struct inferred_table *entry;
  struct column_list cols = {NULL, 0, 0};
  if (!t->table_name) {
    struct ps__buf desc;
    ps__buf_init(&desc, 0);
    ps__buf_printf(&desc, "Raw table %s has no local name", t->name);
    if (ps__buf_failed(&desc))
      ps__err_nomem(e);
    else
      ps__err_argument(e, ps__buf_cstr(&desc), NULL);
    ps__buf_free(&desc);
    return NULL;
  }
  entry = calloc(1, sizeof(*entry));
  if (!entry) {
    ps__err_nomem(e);
    return NULL;
  }
  ps__arena_init(&entry->arena, 0);
  entry->schema_version = schema_version;
  if (read_local_columns(db, t, &entry->arena, &cols, e)) {
    inferred_table_free(entry);
    return NULL;
  }
  entry->name = ps__arena_strndup(&entry->arena, t->name, strlen(t->name));
  if (!entry->name || build_put(entry, t->table_name, &cols) ||
      build_delete(entry, t->table_name)) {
    inferred_table_free(entry);
    ps__err_nomem(e);
    return NULL;
  }
  return entry;
}

/* ------------------------------------------------------------------------ */
/* One sync_local run                                                       */
/* ------------------------------------------------------------------------ */

/* A statement prepared for this run. stmt may be NULL even when ready: SQL
 * consisting only of whitespace or comments prepares to no statement. */
struct prepared {
  int ready;
  sqlite3_stmt *stmt;
  const struct ps__raw_statement *def; /* Its SQL text and sources. */
};

struct slot {
  const struct ps__raw_table *table; /* The definition it was made for. */
  struct prepared put;
  struct prepared delete_;
};

struct ps__raw_apply {
  sqlite3 *db;
  struct ps__raw_table_cache *cache;
  int have_schema_version;
  int64_t schema_version;
  struct slot *slots;
  size_t slot_count;
  size_t slot_cap;
};

struct ps__raw_apply *ps__raw_apply_begin(sqlite3 *db,
                                          struct ps__raw_table_cache *cache) {
  struct ps__raw_apply *apply = calloc(1, sizeof(*apply));
  if (!apply)
    return NULL;
  apply->db = db;
  apply->cache = cache;
  return apply;
}

void ps__raw_apply_end(struct ps__raw_apply *apply) {
  size_t i;
  if (!apply)
    return;
  for (i = 0; i < apply->slot_count; i++) {
    sqlite3_finalize(apply->slots[i].put.stmt);
    sqlite3_finalize(apply->slots[i].delete_.stmt);
  }
  free(apply->slots);
  free(apply);
}

/* The slot of t's name, created empty on first use. Keyed by name like the
 * official core's table map; the pointer test spares most string compares,
 * as sync_local passes the same definition for every row of a table. */
static struct slot *slot_for(struct ps__raw_apply *apply,
                             const struct ps__raw_table *t, struct ps__err *e) {
  size_t i;
  struct slot *s;
  for (i = 0; i < apply->slot_count; i++) {
    s = &apply->slots[i];
    if (s->table == t || strcmp(s->table->name, t->name) == 0)
      return s;
  }
  if (apply->slot_count == apply->slot_cap) {
    size_t ncap = apply->slot_cap ? apply->slot_cap * 2 : 4;
    struct slot *grown = realloc(apply->slots, ncap * sizeof(*grown));
    if (!grown) {
      ps__err_nomem(e);
      return NULL;
    }
    apply->slots = grown;
    apply->slot_cap = ncap;
  }
  s = &apply->slots[apply->slot_count++];
  memset(s, 0, sizeof(*s));
  s->table = t;
  return s;
}

static int read_schema_version(sqlite3 *db, int64_t *out, struct ps__err *e) {
  sqlite3_stmt *stmt;
  int rc;
  if (ps__prepare(db, "PRAGMA schema_version", &stmt, e) != SQLITE_OK)
    return -1;
  rc = ps__step(stmt, e);
  if (rc == SQLITE_ROW)
    *out = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  return rc == SQLITE_ROW ? 0 : -1;
}

/* The inferred statements of t, from the cache when they were read at this
 * run's schema version, else read afresh. A failed refresh keeps the old
 * entry; its version still differs, so the next use tries again. */
static struct inferred_table *inferred_for(struct ps__raw_apply *apply,
                                           const struct ps__raw_table *t,
                                           struct ps__err *e) {
  struct inferred_table **found;
  struct inferred_table *fresh;
  if (!apply->have_schema_version) {
    if (read_schema_version(apply->db, &apply->schema_version, e))
      return NULL;
    apply->have_schema_version = 1;
  }
  found = cache_find(apply->cache, t->name);
  if (found && (*found)->schema_version == apply->schema_version)
    return *found;
  fresh = infer(apply->db, t, apply->schema_version, e);
  if (!fresh)
    return NULL;
  if (found) {
    inferred_table_free(*found);
    *found = fresh;
  } else if (cache_add(apply->cache, fresh)) {
    inferred_table_free(fresh);
    ps__err_nomem(e);
    return NULL;
  }
  return fresh;
}

/* "Statement <sql> has <n> parameters, but <m> values were provided as
 * sources." */
static void report_param_count(const struct ps__raw_statement *def, int have,
                               struct ps__err *e) {
  struct ps__buf desc;
  ps__buf_init(&desc, 0);
  ps__buf_printf(&desc,
                 "Statement %s has %d parameters, but %zu values were "
                 "provided as sources.",
                 def->sql, have, def->param_count);
  if (ps__buf_failed(&desc))
    ps__err_nomem(e);
  else
    ps__err_argument(e, ps__buf_cstr(&desc), NULL);
  ps__buf_free(&desc);
}

/* Prepares def into p and checks that every SQL parameter has a source. */
static int prepare_statement(sqlite3 *db, const struct ps__raw_statement *def,
                             struct prepared *p, struct ps__err *e) {
  sqlite3_stmt *stmt;
  int have;
  if (ps__prepare(db, def->sql, &stmt, e) != SQLITE_OK)
    return -1;
  have = stmt ? sqlite3_bind_parameter_count(stmt) : 0;
  if (have < 0 || (size_t)have != def->param_count) {
    sqlite3_finalize(stmt);
    report_param_count(def, have, e);
    return -1;
  }
  p->stmt = stmt;
  p->def = def;
  p->ready = 1;
  return 0;
}

/* The put (is_put) or delete statement of t for this run, prepared on first
 * use: the explicit one, or the one inferred from the local table. */
static struct prepared *statement_for(struct ps__raw_apply *apply,
                                      const struct ps__raw_table *t, int is_put,
                                      struct ps__err *e) {
  struct slot *s = slot_for(apply, t, e);
  struct prepared *p;
  const struct ps__raw_statement *def;
  if (!s)
    return NULL;
  p = is_put ? &s->put : &s->delete_;
  if (p->ready)
    return p;
  def = is_put ? t->put : t->delete_;
  if (!def) {
    struct inferred_table *inferred = inferred_for(apply, t, e);
    if (!inferred)
      return NULL;
    def = is_put ? &inferred->put : &inferred->delete_;
  }
  if (prepare_statement(apply->db, def, p, e))
    return NULL;
  return p;
}

/* Runs stmt to completion (a put may be any statement, rows are ignored) and
 * leaves it reset with no bindings, so it holds no pointer into this row's
 * data and is not busy. */
static int run_statement(sqlite3_stmt *stmt, struct ps__err *e) {
  int rc;
  if (!stmt) {
    /* What the official core reports for SQL that prepared to nothing. */
    ps__err_sqlite(e, NULL, SQLITE_MISUSE, NULL);
    return -1;
  }
  rc = ps__step_all(stmt, e);
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  return rc == SQLITE_OK ? 0 : -1;
}

static int check_bind(sqlite3_stmt *stmt, int rc, struct ps__err *e) {
  if (rc == SQLITE_OK)
    return 0;
  ps__err_sqlite(e, sqlite3_db_handle(stmt), rc, NULL);
  return -1;
}

/* ------------------------------------------------------------------------ */
/* Put                                                                      */
/* ------------------------------------------------------------------------ */

/* Parses the oplog data, which must be a JSON object. */
static const struct ps__json_value *parse_data(struct ps__arena *arena,
                                               const char *data, size_t len,
                                               struct ps__err *e) {
  char msg[256];
  const struct ps__json_value *root =
      ps__json_parse(arena, data, len, msg, sizeof(msg));
  if (!root) {
    ps__err_set(e, SQLITE_CORRUPT, "invalid local data: cause: %s", msg);
    return NULL;
  }
  if (root->type != PS_JSON_OBJECT) {
    ps__err_argument(e, "expected oplog data to be an object", NULL);
    return NULL;
  }
  return root;
}

/* Binds one key of the data object; every number as REAL like the official
 * core, which binds serde_json's as_f64() of any number. */
static int bind_column(sqlite3_stmt *stmt, int i,
                       const struct ps__json_value *v, struct ps__err *e) {
  int rc;
  switch (v ? v->type : PS_JSON_NULL) {
  case PS_JSON_STRING:
    rc = sqlite3_bind_text64(stmt, i, v->as.str.ptr, v->as.str.len,
                             SQLITE_STATIC, SQLITE_UTF8);
    break;
  case PS_JSON_TRUE:
    rc = sqlite3_bind_int(stmt, i, 1);
    break;
  case PS_JSON_FALSE:
    rc = sqlite3_bind_int(stmt, i, 0);
    break;
  case PS_JSON_INT:
    rc = sqlite3_bind_double(stmt, i, (double)v->as.i);
    break;
  case PS_JSON_UINT:
    rc = sqlite3_bind_double(stmt, i, (double)v->as.u);
    break;
  case PS_JSON_FLOAT:
    rc = sqlite3_bind_double(stmt, i, v->as.f);
    break;
  case PS_JSON_NULL:
  case PS_JSON_ARRAY:
  case PS_JSON_OBJECT:
  default:
    rc = sqlite3_bind_null(stmt, i);
    break;
  }
  return check_bind(stmt, rc, e);
}

/* Whether a data key is taken by a source of def: a Column source naming it,
 * or an Id source for the key "id". Keys may contain NUL bytes, names not. */
static int key_is_sourced(const struct ps__raw_statement *def,
                          const struct ps__json_member *m) {
  size_t i;
  for (i = 0; i < def->param_count; i++) {
    const struct ps__raw_param *p = &def->params[i];
    const char *name = p->kind == PS_RAW_PARAM_ID       ? "id"
                       : p->kind == PS_RAW_PARAM_COLUMN ? p->column
                                                        : NULL;
    if (name && strlen(name) == m->key_len &&
        memcmp(name, m->key, m->key_len) == 0)
      return 1;
  }
  return 0;
}

static int has_rest_param(const struct ps__raw_statement *def) {
  size_t i;
  for (i = 0; i < def->param_count; i++) {
    if (def->params[i].kind == PS_RAW_PARAM_REST)
      return 1;
  }
  return 0;
}

/* Writes the rest object of obj into out, leaving out empty when every key
 * is taken by a source. The object shares the members' values with obj. */
static int render_rest(struct ps__arena *arena,
                       const struct ps__raw_statement *def,
                       const struct ps__json_value *obj, struct ps__buf *out) {
  struct ps__json_value rest;
  struct ps__json_member *members;
  size_t i;
  if (obj->as.obj.count == 0)
    return 0;
  members = ps__arena_alloc(arena, obj->as.obj.count * sizeof(*members));
  if (!members)
    return -1;
  rest.type = PS_JSON_OBJECT;
  rest.as.obj.members = members;
  rest.as.obj.count = 0;
  for (i = 0; i < obj->as.obj.count; i++) {
    if (!key_is_sourced(def, &obj->as.obj.members[i]))
      members[rest.as.obj.count++] = obj->as.obj.members[i];
  }
  if (rest.as.obj.count > 0)
    ps__json_write(out, &rest, 1);
  return ps__buf_failed(out) ? -1 : 0;
}

/* Binds every source of the put statement. rest must stay alive (and
 * unchanged) until the statement has run. */
static int bind_put(const struct prepared *p, const char *id,
                    const struct ps__json_value *obj,
                    const struct ps__buf *rest, struct ps__err *e) {
  size_t i;
  for (i = 0; i < p->def->param_count; i++) {
    const struct ps__raw_param *param = &p->def->params[i];
    int index = (int)i + 1;
    int rc = SQLITE_OK;
    switch (param->kind) {
    case PS_RAW_PARAM_ID:
      rc = sqlite3_bind_text(p->stmt, index, id, -1, SQLITE_STATIC);
      break;
    case PS_RAW_PARAM_COLUMN:
      if (bind_column(p->stmt, index, ps__json_get(obj, param->column), e))
        return -1;
      continue;
    case PS_RAW_PARAM_REST:
      rc = rest->len
               ? sqlite3_bind_text64(p->stmt, index, rest->data, rest->len,
                                     SQLITE_STATIC, SQLITE_UTF8)
               : sqlite3_bind_null(p->stmt, index);
      break;
    }
    if (check_bind(p->stmt, rc, e))
      return -1;
  }
  return 0;
}

/* Appends " (context: replacing into <name>, id = <id>, data = <data>)",
 * with the data as parsed, re-serialized compactly with sorted keys. */
static void add_put_context(struct ps__err *e, const struct ps__raw_table *t,
                            const char *id, const struct ps__json_value *obj) {
  struct ps__buf data;
  ps__buf_init(&data, 0);
  ps__json_write(&data, obj, 1);
  if (ps__buf_failed(&data))
    ps__err_nomem(e);
  else
    ps__err_context(e, "replacing into %s, id = %s, data = %s", t->name, id,
                    ps__buf_cstr(&data));
  ps__buf_free(&data);
}

/* The part of a put that needs the parsed data (arena and rest are the
 * caller's, released after this returns). */
static int put_row(const struct prepared *p, const struct ps__raw_table *t,
                   const char *id, const struct ps__json_value *obj,
                   struct ps__arena *arena, struct ps__buf *rest,
                   struct ps__err *e) {
  if (has_rest_param(p->def) && render_rest(arena, p->def, obj, rest)) {
    ps__err_nomem(e);
    return -1;
  }
  if (p->stmt && bind_put(p, id, obj, rest, e)) {
    sqlite3_clear_bindings(p->stmt);
    return -1;
  }
  if (run_statement(p->stmt, e)) {
    add_put_context(e, t, id, obj);
    return -1;
  }
  return 0;
}

int ps__raw_apply_put(struct ps__raw_apply *apply,
                      const struct ps__raw_table *t, const char *id,
                      const char *data, size_t data_len, struct ps__err *e) {
  struct ps__arena arena;
  struct ps__buf rest;
  const struct ps__json_value *obj;
  struct prepared *p;
  int result = -1;
  /* Before parsing: the official core reports a bad statement first. */
  p = statement_for(apply, t, 1, e);
  if (!p)
    return -1;
  ps__arena_init(&arena, 0);
  ps__buf_init(&rest, 0);
  obj = parse_data(&arena, data, data_len, e);
  if (obj)
    result = put_row(p, t, id, obj, &arena, &rest, e);
  ps__buf_free(&rest);
  ps__arena_free(&arena);
  return result;
}

/* ------------------------------------------------------------------------ */
/* Delete                                                                   */
/* ------------------------------------------------------------------------ */

/* Every source must be the id; checked per row like the official core, so a
 * bad delete statement only fails once a row is actually deleted. */
static int bind_delete(const struct prepared *p, const char *id,
                       struct ps__err *e) {
  size_t i;
  for (i = 0; i < p->def->param_count; i++) {
    if (p->def->params[i].kind != PS_RAW_PARAM_ID) {
      ps__err_argument(e,
                       "Raw delete statement parameters must only reference "
                       "id",
                       NULL);
      return -1;
    }
    if (check_bind(
            p->stmt,
            sqlite3_bind_text(p->stmt, (int)i + 1, id, -1, SQLITE_STATIC), e))
      return -1;
  }
  return 0;
}

int ps__raw_apply_delete(struct ps__raw_apply *apply,
                         const struct ps__raw_table *t, const char *id,
                         struct ps__err *e) {
  struct prepared *p = statement_for(apply, t, 0, e);
  if (!p)
    return -1;
  if (p->stmt && bind_delete(p, id, e)) {
    sqlite3_clear_bindings(p->stmt);
    return -1;
  }
  if (run_statement(p->stmt, e)) {
    ps__err_context(e, "deleting from %s, id = %s", t->name, id);
    return -1;
  }
  return 0;
}
