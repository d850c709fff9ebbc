/*
 * schema.c: the schema builder of libpowersync (include/powersync/schema.h).
 *
 * A powersync_schema is a mutable description of the tables the application
 * syncs: builder calls add tables, columns, indexes and raw tables;
 * powersync_schema_from_json() fills one from the core's schema JSON;
 * powersync_schema_to_json() writes the JSON that powersync_replace_schema
 * (core-storage.md section 5) expects.
 *
 * HOW IT WORKS
 * Tables and indexes are allocated one by one and kept in arrays of pointers,
 * so the pointers handed to the application stay valid while the schema
 * grows. Raw tables are kept as their compact JSON text (plus the names that
 * validation needs): the SDK never interprets their statements, it only
 * passes them on to the core.
 *
 * Validation (sdk.md section 4) runs in two places. Builder calls reject what
 * they can see at once (a bad or duplicate name, a column named id) with
 * POWERSYNC_EINVAL, so mistakes surface where they are made.
 * powersync_schema_validate() checks the whole schema, including the rules
 * that depend on the order of calls (index columns must exist, option
 * combinations), and reports POWERSYNC_ESCHEMA. Both produce the same
 * messages, which name the table, column or index and the rule broken.
 *
 * Names are compared case-insensitively (ASCII), as SQLite compares
 * identifiers: views "Todos" and "todos" would collide.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/json.h"
#include "../core/schema.h"
#include "sdk_internal.h"

/* SQLite's default SQLITE_MAX_COLUMN is 2000; the view adds the implicit id
 * column, so 1999 user columns is the most a table can have (the limit of
 * every other SDK). */
#define PS_SCHEMA_MAX_COLUMNS 1999

/* Room for one validation message: names are quoted in it, and a message
 * that is cut short is still useful. */
#define PS_SCHEMA_MSG_MAX 512

/* Bound of the JSON we write: far beyond any real schema, it only exists so
 * that the buffer has a maximum (STYLE B4). */
#define PS_SCHEMA_JSON_MAX ((size_t)256 << 20)

#define PS_TABLE_ALL_FLAGS                                                     \
  (POWERSYNC_TABLE_LOCAL_ONLY | POWERSYNC_TABLE_INSERT_ONLY |                  \
   POWERSYNC_TABLE_INCLUDE_METADATA |                                          \
   POWERSYNC_TABLE_INCLUDE_OLD_ONLY_WHEN_CHANGED |                             \
   POWERSYNC_TABLE_IGNORE_EMPTY_UPDATE)

enum ps__old_mode {
  PS__OLD_NONE,   /* include_old absent: no previous values. */
  PS__OLD_ALL,    /* include_old: true */
  PS__OLD_COLUMNS /* include_old: [columns] */
};

struct ps__sdk_column {
  char *name;
  powersync_column_type type;
};

struct ps__sdk_index_column {
  char *name;
  int ascending;
};

struct powersync_index {
  powersync_table *table;
  char *name;
  struct ps__sdk_index_column *columns;
  size_t column_count;
  size_t column_cap;
};

struct powersync_table {
  powersync_schema *schema;
  char *name;
  char *view_name; /* NULL: the view is named name. */
  struct ps__sdk_column *columns;
  size_t column_count;
  size_t column_cap;
  powersync_index **indexes;
  size_t index_count;
  size_t index_cap;
  unsigned int flags;
  enum ps__old_mode old_mode;
  char **old_columns;
  size_t old_count;
};

struct ps__sdk_raw_table {
  char *name;
  char *table_name; /* NULL when the raw table names no local table. */
  char *json;       /* The raw table object, compact. */
  int has_put;
  int has_delete;
};

struct powersync_schema {
  powersync_table **tables;
  size_t table_count;
  size_t table_cap;
  struct ps__sdk_raw_table *raw_tables;
  size_t raw_count;
  size_t raw_cap;
};

/* ---- Small helpers ------------------------------------------------------- */

static char *dup_string(const char *s) {
  size_t len = strlen(s);
  char *copy = malloc(len + 1);
  if (copy)
    memcpy(copy, s, len + 1);
  return copy;
}

/* Makes room for need elements of size elem in *array (capacity *cap). */
static int ensure_capacity(void **array, size_t *cap, size_t need,
                           size_t elem) {
  size_t new_cap;
  void *grown;
  if (need <= *cap)
    return 0;
  new_cap = *cap ? *cap * 2 : 4;
  while (new_cap < need)
    new_cap *= 2;
  if (new_cap > (size_t)-1 / elem)
    return -1;
  grown = realloc(*array, new_cap * elem);
  if (!grown)
    return -1;
  *array = grown;
  *cap = new_cap;
  return 0;
}

static int names_equal(const char *a, const char *b) {
  while (*a && *b) {
    if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
      return 0;
    a++;
    b++;
  }
  return *a == *b;
}

static int out_of_memory(void) {
  return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
}

static const char *view_name_of(const powersync_table *t) {
  return t->view_name ? t->view_name : t->name;
}

static const char *column_type_name(powersync_column_type type) {
  switch (type) {
  case POWERSYNC_COLUMN_TEXT:
    return "TEXT";
  case POWERSYNC_COLUMN_INTEGER:
    return "INTEGER";
  case POWERSYNC_COLUMN_REAL:
    return "REAL";
  }
  return NULL;
}

/* ---- Rules, shared by the builder and powersync_schema_validate ---------- */

/* Fails with a message when name cannot be used as a table, view, column or
 * index name: it is spliced into generated SQL and trigger text. table names
 * the table the name belongs to (NULL for table and view names). */
static int check_name(const char *table, const char *what, const char *name,
                      char *msg, size_t len) {
  char where[PS_SCHEMA_MSG_MAX / 2] = "";
  const char *p;
  if (table)
    snprintf(where, sizeof(where), "table '%s': ", table);
  if (!name || !*name) {
    snprintf(msg, len, "%s%s name must not be empty", where, what);
    return -1;
  }
  for (p = name; *p; p++) {
    if (strchr("\"'%,.#[]", *p)) {
      snprintf(msg, len,
               "%sinvalid %s name '%s': names must not contain any of "
               "\" ' %% , . # [ ] (found '%c')",
               where, what, name, *p);
      return -1;
    }
    if (isspace((unsigned char)*p)) {
      snprintf(msg, len,
               "%sinvalid %s name '%s': names must not contain white space",
               where, what, name);
      return -1;
    }
  }
  return 0;
}

/* Fails when name is the name or view name of one of the first count
 * tables, other than skip. */
static int check_name_free_of_tables(const powersync_schema *s,
                                     const char *name, size_t count,
                                     const powersync_table *skip, char *msg,
                                     size_t len) {
  size_t i;
  for (i = 0; i < count; i++) {
    const powersync_table *t = s->tables[i];
    if (t == skip)
      continue;
    if (names_equal(t->name, name) || names_equal(view_name_of(t), name)) {
      snprintf(msg, len,
               "duplicate table name '%s': it is already used by table '%s' "
               "(table, view and raw table names must be unique)",
               name, t->name);
      return -1;
    }
  }
  return 0;
}

/* Table names share one namespace with view names and raw table names
 * (sdk.md section 4): a table's name is its sync type and data table suffix,
 * its view name an SQLite object, which must not be a raw table's local table
 * either (is_view). skip is the table the name belongs to, if any; only the
 * first count tables are compared (validation reports the later of two). */
static int check_table_name_free(const powersync_schema *s, const char *name,
                                 int is_view, size_t count,
                                 const powersync_table *skip, char *msg,
                                 size_t len) {
  size_t i;
  if (check_name_free_of_tables(s, name, count, skip, msg, len))
    return -1;
  for (i = 0; i < s->raw_count; i++) {
    const struct ps__sdk_raw_table *r = &s->raw_tables[i];
    if (names_equal(r->name, name) ||
        (is_view && r->table_name && names_equal(r->table_name, name))) {
      snprintf(msg, len,
               "duplicate table name '%s': it is already used by raw table "
               "'%s' (table, view and raw table names must be unique)",
               name, r->name);
      return -1;
    }
  }
  return 0;
}

static int check_column_name(const powersync_table *t, const char *name,
                             char *msg, size_t len) {
  size_t i;
  if (check_name(t->name, "column", name, msg, len))
    return -1;
  if (names_equal(name, "id")) {
    snprintf(msg, len,
             "table '%s': a column must not be named '%s' (the id TEXT "
             "primary key is added automatically)",
             t->name, name);
    return -1;
  }
  for (i = 0; i < t->column_count; i++) {
    if (names_equal(t->columns[i].name, name)) {
      snprintf(msg, len, "table '%s': duplicate column name '%s'", t->name,
               name);
      return -1;
    }
  }
  if (t->column_count >= PS_SCHEMA_MAX_COLUMNS) {
    snprintf(msg, len,
             "table '%s': too many columns (a table has at most %d columns "
             "besides id)",
             t->name, PS_SCHEMA_MAX_COLUMNS);
    return -1;
  }
  return 0;
}

/* name must be valid and differ from the first count index names. */
static int check_index_name(const powersync_table *t, const char *name,
                            size_t count, char *msg, size_t len) {
  size_t i;
  if (check_name(t->name, "index", name, msg, len))
    return -1;
  for (i = 0; i < count; i++) {
    if (names_equal(t->indexes[i]->name, name)) {
      snprintf(msg, len, "table '%s': duplicate index name '%s'", t->name,
               name);
      return -1;
    }
  }
  return 0;
}

/* local_only tables are never uploaded, so there is no upload queue entry to
 * carry metadata or previous values. */
static int check_options(const char *table, unsigned int flags,
                         enum ps__old_mode old_mode, char *msg, size_t len) {
  if (flags & ~PS_TABLE_ALL_FLAGS) {
    snprintf(msg, len, "table '%s': unknown flags 0x%x", table,
             flags & ~PS_TABLE_ALL_FLAGS);
    return -1;
  }
  if (!(flags & POWERSYNC_TABLE_LOCAL_ONLY))
    return 0;
  if (flags & POWERSYNC_TABLE_INCLUDE_METADATA) {
    snprintf(msg, len, "table '%s': a local-only table cannot include metadata",
             table);
    return -1;
  }
  if (old_mode != PS__OLD_NONE ||
      (flags & POWERSYNC_TABLE_INCLUDE_OLD_ONLY_WHEN_CHANGED)) {
    snprintf(msg, len,
             "table '%s': a local-only table cannot include old values", table);
    return -1;
  }
  return 0;
}

/* ---- Construction and destruction ---------------------------------------- */

powersync_schema *powersync_schema_new(void) {
  return calloc(1, sizeof(powersync_schema));
}

static void index_free(powersync_index *ix) {
  size_t i;
  if (!ix)
    return;
  for (i = 0; i < ix->column_count; i++)
    free(ix->columns[i].name);
  free(ix->columns);
  free(ix->name);
  free(ix);
}

static void table_free(powersync_table *t) {
  size_t i;
  if (!t)
    return;
  for (i = 0; i < t->column_count; i++)
    free(t->columns[i].name);
  free(t->columns);
  for (i = 0; i < t->index_count; i++)
    index_free(t->indexes[i]);
  free(t->indexes);
  for (i = 0; i < t->old_count; i++)
    free(t->old_columns[i]);
  free(t->old_columns);
  free(t->view_name);
  free(t->name);
  free(t);
}

static void raw_table_dispose(struct ps__sdk_raw_table *r) {
  free(r->name);
  free(r->table_name);
  free(r->json);
}

void powersync_schema_free(powersync_schema *schema) {
  size_t i;
  if (!schema)
    return;
  for (i = 0; i < schema->table_count; i++)
    table_free(schema->tables[i]);
  free(schema->tables);
  for (i = 0; i < schema->raw_count; i++)
    raw_table_dispose(&schema->raw_tables[i]);
  free(schema->raw_tables);
  free(schema);
}

/* Appends a table without checking its name (from_json validates the whole
 * schema afterwards). */
static int append_table(powersync_schema *schema, const char *name,
                        powersync_table **out) {
  powersync_table *t;
  if (ensure_capacity((void **)&schema->tables, &schema->table_cap,
                      schema->table_count + 1, sizeof(*schema->tables)))
    return out_of_memory();
  t = calloc(1, sizeof(*t));
  if (!t)
    return out_of_memory();
  t->name = dup_string(name);
  if (!t->name) {
    free(t);
    return out_of_memory();
  }
  t->schema = schema;
  schema->tables[schema->table_count++] = t;
  *out = t;
  return POWERSYNC_OK;
}

static int append_column(powersync_table *t, const char *name,
                         powersync_column_type type) {
  char *copy;
  if (ensure_capacity((void **)&t->columns, &t->column_cap, t->column_count + 1,
                      sizeof(*t->columns)))
    return out_of_memory();
  copy = dup_string(name);
  if (!copy)
    return out_of_memory();
  t->columns[t->column_count].name = copy;
  t->columns[t->column_count].type = type;
  t->column_count++;
  return POWERSYNC_OK;
}

static int append_index(powersync_table *t, const char *name,
                        powersync_index **out) {
  powersync_index *ix;
  if (ensure_capacity((void **)&t->indexes, &t->index_cap, t->index_count + 1,
                      sizeof(*t->indexes)))
    return out_of_memory();
  ix = calloc(1, sizeof(*ix));
  if (!ix)
    return out_of_memory();
  ix->name = dup_string(name);
  if (!ix->name) {
    free(ix);
    return out_of_memory();
  }
  ix->table = t;
  t->indexes[t->index_count++] = ix;
  *out = ix;
  return POWERSYNC_OK;
}

static int append_index_column(powersync_index *ix, const char *column,
                               int ascending) {
  char *copy;
  if (ensure_capacity((void **)&ix->columns, &ix->column_cap,
                      ix->column_count + 1, sizeof(*ix->columns)))
    return out_of_memory();
  copy = dup_string(column);
  if (!copy)
    return out_of_memory();
  ix->columns[ix->column_count].name = copy;
  ix->columns[ix->column_count].ascending = ascending ? 1 : 0;
  ix->column_count++;
  return POWERSYNC_OK;
}

/* Replaces the include_old column list (columns NULL: all columns). */
static int store_include_old(powersync_table *t, const char *const *columns,
                             size_t count) {
  char **copies = NULL;
  size_t i;
  if (columns) {
    copies = calloc(count ? count : 1, sizeof(*copies));
    if (!copies)
      return out_of_memory();
    for (i = 0; i < count; i++) {
      copies[i] = columns[i] ? dup_string(columns[i]) : NULL;
      if (!copies[i]) {
        int was_null = columns[i] == NULL;
        size_t at = i;
        while (i > 0)
          free(copies[--i]);
        free(copies);
        if (was_null)
          return ps__error_set(POWERSYNC_EINVAL,
                               "table '%s': include_old column %zu is NULL",
                               t->name, at);
        return out_of_memory();
      }
    }
  }
  for (i = 0; i < t->old_count; i++)
    free(t->old_columns[i]);
  free(t->old_columns);
  t->old_columns = copies;
  t->old_count = columns ? count : 0;
  t->old_mode = columns ? PS__OLD_COLUMNS : PS__OLD_ALL;
  return POWERSYNC_OK;
}

/* ---- Builder API ----------------------------------------------------------
 */

int powersync_schema_add_table(powersync_schema *schema, const char *name,
                               powersync_table **out) {
  char msg[PS_SCHEMA_MSG_MAX];
  powersync_table *t = NULL;
  int rc;
  ps__error_reset();
  if (out)
    *out = NULL;
  if (!schema || !out)
    return ps__error_set(POWERSYNC_EINVAL, "schema and out must not be NULL");
  if (check_name(NULL, "table", name, msg, sizeof(msg)) ||
      check_table_name_free(schema, name, 1, schema->table_count, NULL, msg,
                            sizeof(msg)))
    return ps__error_set(POWERSYNC_EINVAL, "%s", msg);
  rc = append_table(schema, name, &t);
  if (rc == POWERSYNC_OK)
    *out = t;
  return rc;
}

int powersync_table_add_column(powersync_table *table, const char *name,
                               powersync_column_type type) {
  char msg[PS_SCHEMA_MSG_MAX];
  ps__error_reset();
  if (!table)
    return ps__error_set(POWERSYNC_EINVAL, "table must not be NULL");
  if (!column_type_name(type))
    return ps__error_set(POWERSYNC_EINVAL, "table '%s': unknown column type %d",
                         table->name, (int)type);
  if (check_column_name(table, name, msg, sizeof(msg)))
    return ps__error_set(POWERSYNC_EINVAL, "%s", msg);
  return append_column(table, name, type);
}

int powersync_table_set_view_name(powersync_table *table,
                                  const char *view_name) {
  char msg[PS_SCHEMA_MSG_MAX];
  char *copy = NULL;
  ps__error_reset();
  if (!table)
    return ps__error_set(POWERSYNC_EINVAL, "table must not be NULL");
  if (view_name) {
    /* A view named like its own table is the default. */
    if (!names_equal(view_name, table->name) &&
        (check_name(NULL, "view", view_name, msg, sizeof(msg)) ||
         check_table_name_free(table->schema, view_name, 1,
                               table->schema->table_count, table, msg,
                               sizeof(msg))))
      return ps__error_set(POWERSYNC_EINVAL, "%s", msg);
    copy = dup_string(view_name);
    if (!copy)
      return out_of_memory();
  }
  free(table->view_name);
  table->view_name = copy;
  return POWERSYNC_OK;
}

int powersync_table_set_flags(powersync_table *table, unsigned int flags) {
  char msg[PS_SCHEMA_MSG_MAX];
  ps__error_reset();
  if (!table)
    return ps__error_set(POWERSYNC_EINVAL, "table must not be NULL");
  if (check_options(table->name, flags, table->old_mode, msg, sizeof(msg)))
    return ps__error_set(POWERSYNC_EINVAL, "%s", msg);
  table->flags = flags;
  return POWERSYNC_OK;
}

int powersync_table_set_include_old(powersync_table *table,
                                    const char *const *columns, size_t count) {
  char msg[PS_SCHEMA_MSG_MAX];
  ps__error_reset();
  if (!table)
    return ps__error_set(POWERSYNC_EINVAL, "table must not be NULL");
  if (check_options(table->name, table->flags,
                    columns ? PS__OLD_COLUMNS : PS__OLD_ALL, msg, sizeof(msg)))
    return ps__error_set(POWERSYNC_EINVAL, "%s", msg);
  return store_include_old(table, columns, count);
}

int powersync_table_add_index(powersync_table *table, const char *name,
                              powersync_index **out) {
  char msg[PS_SCHEMA_MSG_MAX];
  ps__error_reset();
  if (out)
    *out = NULL;
  if (!table || !out)
    return ps__error_set(POWERSYNC_EINVAL, "table and out must not be NULL");
  if (check_index_name(table, name, table->index_count, msg, sizeof(msg)))
    return ps__error_set(POWERSYNC_EINVAL, "%s", msg);
  return append_index(table, name, out);
}

int powersync_index_add_column(powersync_index *index, const char *column,
                               int ascending) {
  char msg[PS_SCHEMA_MSG_MAX];
  ps__error_reset();
  if (!index)
    return ps__error_set(POWERSYNC_EINVAL, "index must not be NULL");
  /* Whether the column exists is checked by powersync_schema_validate, so
   * that an index may be declared before its columns. */
  if (check_name(index->table->name, "index column", column, msg, sizeof(msg)))
    return ps__error_set(POWERSYNC_EINVAL, "%s", msg);
  return append_index_column(index, column, ascending);
}

/* ---- Raw tables ------------------------------------------------------------
 */

/* Copies what the SDK needs of a raw table object parsed by the core's
 * parser, and its compact JSON text. */
static int store_raw_table(powersync_schema *schema,
                           const struct ps__raw_table *parsed,
                           const struct ps__json_value *object) {
  struct ps__sdk_raw_table r;
  struct ps__buf json;
  memset(&r, 0, sizeof(r));
  if (ensure_capacity((void **)&schema->raw_tables, &schema->raw_cap,
                      schema->raw_count + 1, sizeof(*schema->raw_tables)))
    return out_of_memory();
  ps__buf_init(&json, PS_SCHEMA_JSON_MAX);
  ps__json_write(&json, object, 0);
  r.json = ps__buf_take(&json);
  r.name = dup_string(parsed->name);
  r.table_name = parsed->table_name ? dup_string(parsed->table_name) : NULL;
  r.has_put = parsed->put != NULL;
  r.has_delete = parsed->delete_ != NULL;
  if (!r.json || !r.name || (parsed->table_name && !r.table_name)) {
    raw_table_dispose(&r);
    return out_of_memory();
  }
  schema->raw_tables[schema->raw_count++] = r;
  return POWERSYNC_OK;
}

/* sdk.md section 4: without a local table the core cannot infer statements,
 * so both must be given. */
static int check_raw_table(const struct ps__sdk_raw_table *r, char *msg,
                           size_t len) {
  if (!*r->name) {
    snprintf(msg, len, "raw table name must not be empty");
    return -1;
  }
  if (!r->table_name && !(r->has_put && r->has_delete)) {
    snprintf(msg, len,
             "raw table '%s': give either table_name (statements are "
             "inferred) or both put and delete statements",
             r->name);
    return -1;
  }
  return 0;
}

static int raw_names_free(const powersync_schema *s,
                          const struct ps__sdk_raw_table *r, size_t raw_count,
                          char *msg, size_t len) {
  size_t i;
  if (check_name_free_of_tables(s, r->name, s->table_count, NULL, msg, len))
    return -1;
  if (r->table_name) {
    /* The local table is an SQLite object like a view. */
    for (i = 0; i < s->table_count; i++) {
      if (names_equal(view_name_of(s->tables[i]), r->table_name)) {
        snprintf(msg, len,
                 "raw table '%s': its table_name '%s' is the view of table "
                 "'%s'",
                 r->name, r->table_name, s->tables[i]->name);
        return -1;
      }
    }
  }
  for (i = 0; i < raw_count; i++) {
    const struct ps__sdk_raw_table *o = &s->raw_tables[i];
    if (o == r)
      continue;
    if (names_equal(o->name, r->name)) {
      snprintf(msg, len,
               "duplicate table name '%s': it is already used by raw table "
               "'%s' (table, view and raw table names must be unique)",
               r->name, o->name);
      return -1;
    }
    if (r->table_name && o->table_name &&
        names_equal(o->table_name, r->table_name)) {
      snprintf(msg, len,
               "raw tables '%s' and '%s' use the same table_name '%s'", o->name,
               r->name, r->table_name);
      return -1;
    }
  }
  return 0;
}

int powersync_schema_add_raw_table_json(powersync_schema *schema,
                                        const char *json) {
  char err[PS_SCHEMA_MSG_MAX];
  struct ps__arena arena;
  struct ps__raw_table *parsed;
  struct ps__json_value *object;
  struct ps__sdk_raw_table probe;
  int rc;
  ps__error_reset();
  if (!schema || !json)
    return ps__error_set(POWERSYNC_EINVAL, "schema and json must not be NULL");
  ps__arena_init(&arena, 0);
  /* The core's parser decides what the core accepts; the generic tree keeps
   * the text we pass on. */
  parsed = ps__raw_table_parse(&arena, json, strlen(json), err, sizeof(err));
  if (!parsed) {
    rc = ps__error_set(POWERSYNC_ESCHEMA, "invalid raw table JSON: %s", err);
    goto done;
  }
  object = ps__json_parse(&arena, json, strlen(json), err, sizeof(err));
  if (!object) {
    rc = ps__error_set(POWERSYNC_ESCHEMA, "invalid raw table JSON: %s", err);
    goto done;
  }
  memset(&probe, 0, sizeof(probe));
  probe.name = (char *)parsed->name;
  probe.table_name = (char *)parsed->table_name;
  probe.has_put = parsed->put != NULL;
  probe.has_delete = parsed->delete_ != NULL;
  if (check_raw_table(&probe, err, sizeof(err)) ||
      raw_names_free(schema, &probe, schema->raw_count, err, sizeof(err))) {
    rc = ps__error_set(POWERSYNC_ESCHEMA, "%s", err);
    goto done;
  }
  rc = store_raw_table(schema, parsed, object);
done:
  ps__arena_free(&arena);
  return rc;
}

/* ---- Validation ------------------------------------------------------------
 */

static const struct ps__sdk_column *find_column(const powersync_table *t,
                                                const char *name) {
  size_t i;
  for (i = 0; i < t->column_count; i++)
    if (names_equal(t->columns[i].name, name))
      return &t->columns[i];
  return NULL;
}

static int validate_columns(const powersync_table *t, char *msg, size_t len) {
  size_t i, j;
  if (t->column_count > PS_SCHEMA_MAX_COLUMNS) {
    snprintf(msg, len,
             "table '%s': too many columns (%zu; a table has at most %d "
             "columns besides id)",
             t->name, t->column_count, PS_SCHEMA_MAX_COLUMNS);
    return -1;
  }
  for (i = 0; i < t->column_count; i++) {
    const char *name = t->columns[i].name;
    if (check_name(t->name, "column", name, msg, len))
      return -1;
    if (names_equal(name, "id")) {
      snprintf(msg, len,
               "table '%s': a column must not be named '%s' (the id TEXT "
               "primary key is added automatically)",
               t->name, name);
      return -1;
    }
    for (j = 0; j < i; j++) {
      if (names_equal(t->columns[j].name, name)) {
        snprintf(msg, len, "table '%s': duplicate column name '%s'", t->name,
                 name);
        return -1;
      }
    }
  }
  return 0;
}

static int validate_indexes(const powersync_table *t, char *msg, size_t len) {
  size_t i, j;
  for (i = 0; i < t->index_count; i++) {
    const powersync_index *ix = t->indexes[i];
    if (check_index_name(t, ix->name, i, msg, len))
      return -1;
    if (ix->column_count == 0) {
      snprintf(msg, len, "table '%s': index '%s' has no columns", t->name,
               ix->name);
      return -1;
    }
    for (j = 0; j < ix->column_count; j++) {
      if (!find_column(t, ix->columns[j].name)) {
        snprintf(msg, len,
                 "table '%s': index '%s' refers to column '%s', which the "
                 "table does not have",
                 t->name, ix->name, ix->columns[j].name);
        return -1;
      }
    }
  }
  return 0;
}

/* t is the schema's table number at; it is compared with the tables before
 * it, so that the message names the second of two clashing tables. */
static int validate_table(const powersync_schema *s, size_t at, char *msg,
                          size_t len) {
  const powersync_table *t = s->tables[at];
  if (check_name(NULL, "table", t->name, msg, len))
    return -1;
  if (t->view_name && check_name(NULL, "view", t->view_name, msg, len))
    return -1;
  if (check_table_name_free(s, t->name, !t->view_name, at, t, msg, len))
    return -1;
  if (t->view_name &&
      check_table_name_free(s, t->view_name, 1, at, t, msg, len))
    return -1;
  if (check_options(t->name, t->flags, t->old_mode, msg, len))
    return -1;
  if (validate_columns(t, msg, len))
    return -1;
  return validate_indexes(t, msg, len);
}

/* The rule broken first, in msg; 0 when the schema is valid. */
static int validate_schema(const powersync_schema *s, char *msg, size_t len) {
  size_t i;
  for (i = 0; i < s->table_count; i++)
    if (validate_table(s, i, msg, len))
      return -1;
  for (i = 0; i < s->raw_count; i++) {
    if (check_raw_table(&s->raw_tables[i], msg, len) ||
        raw_names_free(s, &s->raw_tables[i], s->raw_count, msg, len))
      return -1;
  }
  return 0;
}

int powersync_schema_validate(const powersync_schema *schema) {
  char msg[PS_SCHEMA_MSG_MAX];
  ps__error_reset();
  if (!schema)
    return ps__error_set(POWERSYNC_EINVAL, "schema must not be NULL");
  if (validate_schema(schema, msg, sizeof(msg)))
    return ps__error_set(POWERSYNC_ESCHEMA, "%s", msg);
  return POWERSYNC_OK;
}

/* ---- Reading the core's JSON -----------------------------------------------
 */

/* SDKs send TEXT, INTEGER or REAL; the core copies other spellings into SQL
 * unchecked, so anything else is refused here rather than failing later. */
static int parse_column_type(const char *table, const char *column,
                             const char *type, powersync_column_type *out) {
  if (names_equal(type, "TEXT"))
    *out = POWERSYNC_COLUMN_TEXT;
  else if (names_equal(type, "INTEGER"))
    *out = POWERSYNC_COLUMN_INTEGER;
  else if (names_equal(type, "REAL"))
    *out = POWERSYNC_COLUMN_REAL;
  else
    return ps__error_set(POWERSYNC_ESCHEMA,
                         "table '%s': column '%s' has the unsupported type "
                         "'%s' (expected TEXT, INTEGER or REAL)",
                         table, column, type);
  return POWERSYNC_OK;
}

/* Index column types are not kept: the written JSON takes them from the
 * table's columns, as every SDK does. */
static int copy_index(powersync_table *t, const struct ps__index *src) {
  powersync_index *ix = NULL;
  size_t i;
  int rc = append_index(t, src->name, &ix);
  for (i = 0; rc == POWERSYNC_OK && i < src->column_count; i++)
    rc = append_index_column(ix, src->columns[i].name,
                             src->columns[i].ascending);
  return rc;
}

static int copy_table(powersync_schema *schema, const struct ps__table *src) {
  powersync_table *t = NULL;
  powersync_column_type type = POWERSYNC_COLUMN_TEXT;
  size_t i;
  int rc = append_table(schema, src->name, &t);
  if (rc == POWERSYNC_OK && src->view_name) {
    t->view_name = dup_string(src->view_name);
    if (!t->view_name)
      rc = out_of_memory();
  }
  for (i = 0; rc == POWERSYNC_OK && i < src->column_count; i++) {
    rc = parse_column_type(src->name, src->columns[i].name,
                           src->columns[i].type, &type);
    if (rc == POWERSYNC_OK)
      rc = append_column(t, src->columns[i].name, type);
  }
  for (i = 0; rc == POWERSYNC_OK && i < src->index_count; i++)
    rc = copy_index(t, &src->indexes[i]);
  if (rc != POWERSYNC_OK)
    return rc;
  t->flags = src->options.flags & PS_TABLE_ALL_FLAGS;
  if (src->options.include_old == PS_INCLUDE_OLD_ALL)
    rc = store_include_old(t, NULL, 0);
  else if (src->options.include_old == PS_INCLUDE_OLD_COLUMNS)
    rc = store_include_old(t, src->options.include_old_columns,
                           src->options.include_old_count);
  return rc;
}

/* The raw_tables array of a schema document: the member of an object, or
 * the second element of the positional array form the core also accepts. */
static const struct ps__json_value *
raw_tables_of(const struct ps__json_value *root) {
  if (root->type == PS_JSON_OBJECT)
    return ps__json_get(root, "raw_tables");
  if (root->type == PS_JSON_ARRAY && root->as.arr.count >= 2)
    return root->as.arr.items[1];
  return NULL;
}

static int copy_raw_tables(powersync_schema *schema,
                           const struct ps__schema *parsed,
                           const struct ps__json_value *root) {
  const struct ps__json_value *array = raw_tables_of(root);
  size_t i;
  int rc = POWERSYNC_OK;
  if (!array || array->type != PS_JSON_ARRAY ||
      array->as.arr.count != parsed->raw_table_count) {
    if (parsed->raw_table_count == 0)
      return POWERSYNC_OK;
    return ps__error_set(POWERSYNC_ESCHEMA, "invalid schema JSON: "
                                            "unexpected raw_tables");
  }
  for (i = 0; rc == POWERSYNC_OK && i < array->as.arr.count; i++)
    rc =
        store_raw_table(schema, &parsed->raw_tables[i], array->as.arr.items[i]);
  return rc;
}

static int fill_from_json(powersync_schema *schema, const char *json) {
  char err[PS_SCHEMA_MSG_MAX];
  struct ps__schema *parsed = NULL;
  struct ps__arena arena;
  struct ps__json_value *root;
  size_t i;
  int rc = POWERSYNC_OK;
  if (ps__schema_parse(json, strlen(json), &parsed, err, sizeof(err)) != 0)
    return ps__error_set(POWERSYNC_ESCHEMA, "invalid schema JSON: %s", err);
  ps__arena_init(&arena, 0);
  root = ps__json_parse(&arena, json, strlen(json), err, sizeof(err));
  if (!root)
    rc = ps__error_set(POWERSYNC_ESCHEMA, "invalid schema JSON: %s", err);
  for (i = 0; rc == POWERSYNC_OK && i < parsed->table_count; i++)
    rc = copy_table(schema, &parsed->tables[i]);
  if (rc == POWERSYNC_OK)
    rc = copy_raw_tables(schema, parsed, root);
  ps__arena_free(&arena);
  ps__schema_free(parsed);
  return rc;
}

int powersync_schema_from_json(powersync_schema **out, const char *json) {
  powersync_schema *schema;
  int rc;
  ps__error_reset();
  if (out)
    *out = NULL;
  if (!out || !json)
    return ps__error_set(POWERSYNC_EINVAL, "out and json must not be NULL");
  schema = powersync_schema_new();
  if (!schema)
    return out_of_memory();
  rc = fill_from_json(schema, json);
  if (rc == POWERSYNC_OK)
    rc = powersync_schema_validate(schema);
  if (rc != POWERSYNC_OK) {
    powersync_schema_free(schema);
    return rc;
  }
  *out = schema;
  return POWERSYNC_OK;
}

/* ---- Writing the core's JSON -----------------------------------------------
 */

static void write_key(struct ps__buf *b, const char *key) {
  ps__json_write_string(b, key, strlen(key));
  ps__buf_putc(b, ':');
}

static void write_string(struct ps__buf *b, const char *s) {
  ps__json_write_string(b, s, strlen(s));
}

static void write_bool_member(struct ps__buf *b, const char *key, int value) {
  ps__buf_putc(b, ',');
  write_key(b, key);
  ps__buf_puts(b, value ? "true" : "false");
}

static void write_columns(struct ps__buf *b, const powersync_table *t) {
  size_t i;
  write_key(b, "columns");
  ps__buf_putc(b, '[');
  for (i = 0; i < t->column_count; i++) {
    if (i)
      ps__buf_putc(b, ',');
    ps__buf_putc(b, '{');
    write_key(b, "name");
    write_string(b, t->columns[i].name);
    ps__buf_putc(b, ',');
    write_key(b, "type");
    write_string(b, column_type_name(t->columns[i].type));
    ps__buf_putc(b, '}');
  }
  ps__buf_putc(b, ']');
}

static void write_index(struct ps__buf *b, const powersync_table *t,
                        const powersync_index *ix) {
  size_t i;
  ps__buf_putc(b, '{');
  write_key(b, "name");
  write_string(b, ix->name);
  ps__buf_putc(b, ',');
  write_key(b, "columns");
  ps__buf_putc(b, '[');
  for (i = 0; i < ix->column_count; i++) {
    const struct ps__sdk_column *c = find_column(t, ix->columns[i].name);
    if (i)
      ps__buf_putc(b, ',');
    ps__buf_putc(b, '{');
    write_key(b, "name");
    write_string(b, ix->columns[i].name);
    write_bool_member(b, "ascending", ix->columns[i].ascending);
    ps__buf_putc(b, ',');
    write_key(b, "type");
    /* An unknown column only gets here unvalidated; TEXT keeps the JSON
     * well-formed. */
    write_string(b, c ? column_type_name(c->type) : "TEXT");
    ps__buf_putc(b, '}');
  }
  ps__buf_puts(b, "]}");
}

static void write_include_old(struct ps__buf *b, const powersync_table *t) {
  size_t i;
  ps__buf_putc(b, ',');
  write_key(b, "include_old");
  switch (t->old_mode) {
  case PS__OLD_NONE:
    ps__buf_puts(b, "false");
    return;
  case PS__OLD_ALL:
    ps__buf_puts(b, "true");
    return;
  case PS__OLD_COLUMNS:
    ps__buf_putc(b, '[');
    for (i = 0; i < t->old_count; i++) {
      if (i)
        ps__buf_putc(b, ',');
      write_string(b, t->old_columns[i]);
    }
    ps__buf_putc(b, ']');
    return;
  }
}

static void write_table(struct ps__buf *b, const powersync_table *t) {
  size_t i;
  ps__buf_putc(b, '{');
  write_key(b, "name");
  write_string(b, t->name);
  ps__buf_putc(b, ',');
  write_key(b, "view_name");
  if (t->view_name)
    write_string(b, t->view_name);
  else
    ps__buf_puts(b, "null");
  ps__buf_putc(b, ',');
  write_columns(b, t);
  ps__buf_putc(b, ',');
  write_key(b, "indexes");
  ps__buf_putc(b, '[');
  for (i = 0; i < t->index_count; i++) {
    if (i)
      ps__buf_putc(b, ',');
    write_index(b, t, t->indexes[i]);
  }
  ps__buf_putc(b, ']');
  write_bool_member(b, "local_only", t->flags & POWERSYNC_TABLE_LOCAL_ONLY);
  write_bool_member(b, "insert_only", t->flags & POWERSYNC_TABLE_INSERT_ONLY);
  write_bool_member(b, "include_metadata",
                    t->flags & POWERSYNC_TABLE_INCLUDE_METADATA);
  write_include_old(b, t);
  write_bool_member(b, "include_old_only_when_changed",
                    t->flags & POWERSYNC_TABLE_INCLUDE_OLD_ONLY_WHEN_CHANGED);
  write_bool_member(b, "ignore_empty_update",
                    t->flags & POWERSYNC_TABLE_IGNORE_EMPTY_UPDATE);
  ps__buf_putc(b, '}');
}

int powersync_schema_to_json(const powersync_schema *schema, char **out) {
  struct ps__buf b;
  size_t i;
  ps__error_reset();
  if (out)
    *out = NULL;
  if (!schema || !out)
    return ps__error_set(POWERSYNC_EINVAL, "schema and out must not be NULL");
  ps__buf_init(&b, PS_SCHEMA_JSON_MAX);
  ps__buf_putc(&b, '{');
  write_key(&b, "tables");
  ps__buf_putc(&b, '[');
  for (i = 0; i < schema->table_count; i++) {
    if (i)
      ps__buf_putc(&b, ',');
    write_table(&b, schema->tables[i]);
  }
  ps__buf_puts(&b, "],");
  write_key(&b, "raw_tables");
  ps__buf_putc(&b, '[');
  for (i = 0; i < schema->raw_count; i++) {
    if (i)
      ps__buf_putc(&b, ',');
    ps__buf_puts(&b, schema->raw_tables[i].json);
  }
  ps__buf_puts(&b, "]}");
  *out = ps__buf_take(&b);
  if (!*out) {
    ps__buf_free(&b);
    return out_of_memory();
  }
  return POWERSYNC_OK;
}
