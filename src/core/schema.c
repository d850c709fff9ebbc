/*
 * schema.c: parsing the schema JSON of powersync_replace_schema
 * (core-storage.md section 5) into the structs of schema.h.
 *
 * The official core parses with serde; its error texts cannot be reproduced
 * exactly (they carry serde_json positions), so ours follow serde's wording
 * without positions: "missing field `tables`", "invalid type: null, expected
 * a boolean". The accepted documents are the same, including the quirks that
 * SDKs rely on: explicit nulls for view_name, but not for boolean flags or
 * include_old; unknown keys ignored; the positional array form
 * [tables, raw_tables] of the top-level object.
 */
#include "schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Big enough for every schema an app can have; bounds what a hostile input
 * can make us allocate. */
#define SCHEMA_MAX_ARENA ((size_t)256 * 1024 * 1024)

struct parser {
  struct ps__arena *arena;
  char *err;
  size_t errlen;
};

typedef const struct ps__json_value json_value;

static int fail(struct parser *p, const char *fmt, ...) PS_PRINTF(2, 3);

static int fail(struct parser *p, const char *fmt, ...) {
  va_list ap;
  if (p->errlen) {
    va_start(ap, fmt);
    vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* Describes a value the way serde's "invalid type" errors do. */
static void describe(json_value *v, char *out, size_t len) {
  switch (v->type) {
  case PS_JSON_NULL:
    snprintf(out, len, "null");
    break;
  case PS_JSON_FALSE:
    snprintf(out, len, "boolean `false`");
    break;
  case PS_JSON_TRUE:
    snprintf(out, len, "boolean `true`");
    break;
  case PS_JSON_INT:
    snprintf(out, len, "integer `%lld`", (long long)v->as.i);
    break;
  case PS_JSON_UINT:
    snprintf(out, len, "integer `%llu`", (unsigned long long)v->as.u);
    break;
  case PS_JSON_FLOAT:
    snprintf(out, len, "floating point `%g`", v->as.f);
    break;
  case PS_JSON_STRING:
    snprintf(out, len, "string \"%.40s\"", v->as.str.ptr);
    break;
  case PS_JSON_ARRAY:
    snprintf(out, len, "sequence");
    break;
  case PS_JSON_OBJECT:
    snprintf(out, len, "map");
    break;
  }
}

static int invalid_type(struct parser *p, json_value *v, const char *expected) {
  char what[96];
  describe(v, what, sizeof(what));
  return fail(p, "invalid type: %s, expected %s", what, expected);
}

static void *alloc_array(struct parser *p, size_t count, size_t size) {
  if (count == 0)
    return NULL;
  if (count > ((size_t)-1) / size)
    return NULL;
  return ps__arena_alloc(p->arena, count * size);
}

static int out_of_memory(struct parser *p) { return fail(p, "out of memory"); }

/* A string without embedded NUL bytes: names end up in C strings and SQL. */
static int read_string(struct parser *p, json_value *v, const char **out) {
  if (v->type != PS_JSON_STRING)
    return invalid_type(p, v, "a string");
  if (strlen(v->as.str.ptr) != v->as.str.len)
    return fail(p, "invalid value: string with a NUL character, expected a "
                   "string without NUL characters");
  *out = v->as.str.ptr;
  return 0;
}

static int required_string(struct parser *p, json_value *obj, const char *key,
                           const char **out) {
  json_value *v = ps__json_get(obj, key);
  if (!v)
    return fail(p, "missing field `%s`", key);
  return read_string(p, v, out);
}

/* Absent or null leave *out NULL. */
static int optional_string(struct parser *p, json_value *obj, const char *key,
                           const char **out) {
  json_value *v = ps__json_get(obj, key);
  *out = NULL;
  if (!v || v->type == PS_JSON_NULL)
    return 0;
  return read_string(p, v, out);
}

static int read_string_array(struct parser *p, json_value *v, const char ***out,
                             size_t *count) {
  size_t i;
  if (v->type != PS_JSON_ARRAY)
    return invalid_type(p, v, "a sequence");
  *count = v->as.arr.count;
  *out = alloc_array(p, *count, sizeof(**out));
  if (*count && !*out)
    return out_of_memory(p);
  for (i = 0; i < *count; i++) {
    if (read_string(p, v->as.arr.items[i], &(*out)[i]))
      return -1;
  }
  return 0;
}

/* serde's `#[serde(default)] bool`: absent is false, null is an error. */
static int read_flag(struct parser *p, json_value *obj, const char *key,
                     unsigned bit, unsigned *flags) {
  json_value *v = ps__json_get(obj, key);
  if (!v || v->type == PS_JSON_FALSE)
    return 0;
  if (v->type != PS_JSON_TRUE)
    return invalid_type(p, v, "a boolean");
  *flags |= bit;
  return 0;
}

static int read_include_old(struct parser *p, json_value *obj,
                            struct ps__table_options *o) {
  json_value *v = ps__json_get(obj, "include_old");
  static const char expected[] = "an array of columns, or true";
  size_t i;
  o->include_old = PS_INCLUDE_OLD_NONE;
  if (!v || v->type == PS_JSON_FALSE)
    return 0;
  if (v->type == PS_JSON_TRUE) {
    o->include_old = PS_INCLUDE_OLD_ALL;
    return 0;
  }
  if (v->type != PS_JSON_ARRAY)
    return invalid_type(p, v, expected);
  for (i = 0; i < v->as.arr.count; i++) {
    if (v->as.arr.items[i]->type != PS_JSON_STRING)
      return invalid_type(p, v->as.arr.items[i], "a string");
  }
  o->include_old = PS_INCLUDE_OLD_COLUMNS;
  return read_string_array(p, v, &o->include_old_columns,
                           &o->include_old_count);
}

static int read_options(struct parser *p, json_value *obj,
                        struct ps__table_options *o) {
  o->flags = 0;
  if (read_flag(p, obj, "local_only", PS_TABLE_LOCAL_ONLY, &o->flags) ||
      read_flag(p, obj, "insert_only", PS_TABLE_INSERT_ONLY, &o->flags) ||
      read_flag(p, obj, "include_metadata", PS_TABLE_INCLUDE_METADATA,
                &o->flags) ||
      read_flag(p, obj, "include_old_only_when_changed",
                PS_TABLE_INCLUDE_OLD_ONLY_WHEN_CHANGED, &o->flags) ||
      read_flag(p, obj, "ignore_empty_update", PS_TABLE_IGNORE_EMPTY_UPDATE,
                &o->flags))
    return -1;
  return read_include_old(p, obj, o);
}

static int expect_object(struct parser *p, json_value *v, const char *what) {
  if (v->type != PS_JSON_OBJECT)
    return invalid_type(p, v, what);
  return 0;
}

/* The array under key: required arrays must be present, optional ones may be
 * absent (count 0) but not null. */
static int member_array(struct parser *p, json_value *obj, const char *key,
                        int required, json_value **out) {
  json_value *v = ps__json_get(obj, key);
  *out = NULL;
  if (!v)
    return required ? fail(p, "missing field `%s`", key) : 0;
  if (v->type != PS_JSON_ARRAY)
    return invalid_type(p, v, "a sequence");
  *out = v;
  return 0;
}

static int read_column(struct parser *p, json_value *v, struct ps__column *c) {
  if (expect_object(p, v, "struct Column"))
    return -1;
  if (required_string(p, v, "name", &c->name) ||
      required_string(p, v, "type", &c->type))
    return -1;
  return 0;
}

static int read_index_column(struct parser *p, json_value *v,
                             struct ps__index_column *c) {
  json_value *asc;
  if (expect_object(p, v, "struct IndexedColumn"))
    return -1;
  if (required_string(p, v, "name", &c->name))
    return -1;
  asc = ps__json_get(v, "ascending");
  if (!asc)
    return fail(p, "missing field `ascending`");
  if (asc->type != PS_JSON_TRUE && asc->type != PS_JSON_FALSE)
    return invalid_type(p, asc, "a boolean");
  c->ascending = asc->type == PS_JSON_TRUE;
  return required_string(p, v, "type", &c->type);
}

static int read_index(struct parser *p, json_value *v, struct ps__index *ix) {
  json_value *cols;
  size_t i;
  if (expect_object(p, v, "struct Index"))
    return -1;
  if (required_string(p, v, "name", &ix->name) ||
      member_array(p, v, "columns", 1, &cols))
    return -1;
  ix->column_count = cols->as.arr.count;
  ix->columns = alloc_array(p, ix->column_count, sizeof(*ix->columns));
  if (ix->column_count && !ix->columns)
    return out_of_memory(p);
  for (i = 0; i < ix->column_count; i++) {
    if (read_index_column(p, cols->as.arr.items[i], &ix->columns[i]))
      return -1;
  }
  return 0;
}

static int read_table(struct parser *p, json_value *v, struct ps__table *t) {
  json_value *cols;
  json_value *indexes;
  size_t i;
  if (expect_object(p, v, "struct Table"))
    return -1;
  if (required_string(p, v, "name", &t->name) ||
      optional_string(p, v, "view_name", &t->view_name) ||
      member_array(p, v, "columns", 1, &cols) ||
      member_array(p, v, "indexes", 0, &indexes) ||
      read_options(p, v, &t->options))
    return -1;
  t->column_count = cols->as.arr.count;
  t->columns = alloc_array(p, t->column_count, sizeof(*t->columns));
  if (t->column_count && !t->columns)
    return out_of_memory(p);
  for (i = 0; i < t->column_count; i++) {
    if (read_column(p, cols->as.arr.items[i], &t->columns[i]))
      return -1;
  }
  t->index_count = indexes ? indexes->as.arr.count : 0;
  t->indexes = alloc_array(p, t->index_count, sizeof(*t->indexes));
  if (t->index_count && !t->indexes)
    return out_of_memory(p);
  for (i = 0; i < t->index_count; i++) {
    if (read_index(p, indexes->as.arr.items[i], &t->indexes[i]))
      return -1;
  }
  return 0;
}

static int read_raw_param(struct parser *p, json_value *v,
                          struct ps__raw_param *param) {
  static const char variants[] = "expected one of `Id`, `Column`, `Rest`";
  if (v->type == PS_JSON_STRING) {
    if (strcmp(v->as.str.ptr, "Id") == 0) {
      param->kind = PS_RAW_PARAM_ID;
      return 0;
    }
    if (strcmp(v->as.str.ptr, "Rest") == 0) {
      param->kind = PS_RAW_PARAM_REST;
      return 0;
    }
    return fail(p, "unknown variant `%.60s`, %s", v->as.str.ptr, variants);
  }
  if (v->type == PS_JSON_OBJECT && v->as.obj.count == 1) {
    const struct ps__json_member *m = &v->as.obj.members[0];
    if (strcmp(m->key, "Column") != 0)
      return fail(p, "unknown variant `%.60s`, %s", m->key, variants);
    param->kind = PS_RAW_PARAM_COLUMN;
    return read_string(p, m->value, &param->column);
  }
  return invalid_type(p, v, "enum PendingStatementValue");
}

static int read_raw_statement(struct parser *p, json_value *obj,
                              const char *key, struct ps__raw_statement **out) {
  json_value *v = ps__json_get(obj, key);
  json_value *params;
  struct ps__raw_statement *s;
  size_t i;
  *out = NULL;
  if (!v || v->type == PS_JSON_NULL)
    return 0;
  if (expect_object(p, v, "struct PendingStatement"))
    return -1;
  s = ps__arena_alloc(p->arena, sizeof(*s));
  if (!s)
    return out_of_memory(p);
  if (required_string(p, v, "sql", &s->sql) ||
      member_array(p, v, "params", 1, &params))
    return -1;
  s->param_count = params->as.arr.count;
  s->params = alloc_array(p, s->param_count, sizeof(*s->params));
  if (s->param_count && !s->params)
    return out_of_memory(p);
  for (i = 0; i < s->param_count; i++) {
    if (read_raw_param(p, params->as.arr.items[i], &s->params[i]))
      return -1;
  }
  *out = s;
  return 0;
}

static int read_raw_table(struct parser *p, json_value *v,
                          struct ps__raw_table *t) {
  json_value *synced;
  if (expect_object(p, v, "struct RawTable"))
    return -1;
  if (required_string(p, v, "name", &t->name) ||
      optional_string(p, v, "table_name", &t->table_name) ||
      read_raw_statement(p, v, "put", &t->put) ||
      read_raw_statement(p, v, "delete", &t->delete_) ||
      optional_string(p, v, "clear", &t->clear) ||
      read_options(p, v, &t->options))
    return -1;
  synced = ps__json_get(v, "synced_columns");
  t->synced_columns = NULL;
  t->synced_column_count = 0;
  if (synced && synced->type != PS_JSON_NULL) {
    if (read_string_array(p, synced, &t->synced_columns,
                          &t->synced_column_count))
      return -1;
    /* Present but empty still means "filter": keep a non-NULL marker. */
    if (!t->synced_columns)
      t->synced_columns = ps__arena_alloc(p->arena, sizeof(char *));
    if (!t->synced_columns)
      return out_of_memory(p);
  }
  return 0;
}

static int read_tables(struct parser *p, json_value *arr,
                       struct ps__schema *s) {
  size_t i;
  s->table_count = arr->as.arr.count;
  s->tables = alloc_array(p, s->table_count, sizeof(*s->tables));
  if (s->table_count && !s->tables)
    return out_of_memory(p);
  for (i = 0; i < s->table_count; i++) {
    if (read_table(p, arr->as.arr.items[i], &s->tables[i]))
      return -1;
  }
  return 0;
}

static int read_raw_tables(struct parser *p, json_value *arr,
                           struct ps__schema *s) {
  size_t i;
  s->raw_table_count = arr ? arr->as.arr.count : 0;
  s->raw_tables = alloc_array(p, s->raw_table_count, sizeof(*s->raw_tables));
  if (s->raw_table_count && !s->raw_tables)
    return out_of_memory(p);
  for (i = 0; i < s->raw_table_count; i++) {
    if (read_raw_table(p, arr->as.arr.items[i], &s->raw_tables[i]))
      return -1;
  }
  return 0;
}

/* The official parser also takes the struct as a sequence
 * [tables, raw_tables?]; SDKs never send it, but it is accepted there. */
static int read_positional_schema(struct parser *p, json_value *root,
                                  struct ps__schema *s) {
  json_value *tables;
  json_value *raw = NULL;
  if (root->as.arr.count == 0 || root->as.arr.count > 2)
    return fail(p, "invalid length %zu, expected struct Schema with 2 elements",
                root->as.arr.count);
  tables = root->as.arr.items[0];
  if (tables->type != PS_JSON_ARRAY)
    return invalid_type(p, tables, "a sequence");
  if (root->as.arr.count == 2) {
    raw = root->as.arr.items[1];
    if (raw->type != PS_JSON_ARRAY)
      return invalid_type(p, raw, "a sequence");
  }
  if (read_tables(p, tables, s))
    return -1;
  return read_raw_tables(p, raw, s);
}

static int read_schema(struct parser *p, json_value *root,
                       struct ps__schema *s) {
  json_value *tables;
  json_value *raw;
  if (root->type == PS_JSON_ARRAY)
    return read_positional_schema(p, root, s);
  if (expect_object(p, root, "struct Schema"))
    return -1;
  if (member_array(p, root, "tables", 1, &tables) ||
      member_array(p, root, "raw_tables", 0, &raw))
    return -1;
  if (read_tables(p, tables, s))
    return -1;
  return read_raw_tables(p, raw, s);
}

int ps__schema_parse(const char *json, size_t len, struct ps__schema **out,
                     char *err, size_t errlen) {
  struct ps__schema *s = calloc(1, sizeof(*s));
  struct parser p;
  json_value *root;
  *out = NULL;
  if (!s) {
    if (errlen)
      snprintf(err, errlen, "out of memory");
    return -1;
  }
  ps__arena_init(&s->arena, SCHEMA_MAX_ARENA);
  p.arena = &s->arena;
  p.err = err;
  p.errlen = errlen;
  root = ps__json_parse(&s->arena, json, len, err, errlen);
  if (!root || read_schema(&p, root, s)) {
    ps__schema_free(s);
    return -1;
  }
  *out = s;
  return 0;
}

void ps__schema_free(struct ps__schema *s) {
  if (!s)
    return;
  ps__arena_free(&s->arena);
  free(s);
}

struct ps__raw_table *ps__raw_table_parse(struct ps__arena *arena,
                                          const char *json, size_t len,
                                          char *err, size_t errlen) {
  struct parser p;
  struct ps__raw_table *t;
  json_value *root = ps__json_parse(arena, json, len, err, errlen);
  if (!root)
    return NULL;
  p.arena = arena;
  p.err = err;
  p.errlen = errlen;
  t = ps__arena_alloc(arena, sizeof(*t));
  if (!t) {
    out_of_memory(&p);
    return NULL;
  }
  if (read_raw_table(&p, root, t))
    return NULL;
  return t;
}

const char *ps__table_view_name(const struct ps__table *t) {
  return t->view_name ? t->view_name : t->name;
}
