/*
 * schema.c: parsing the schema JSON of powersync_replace_schema
 * (core-storage.md section 5) into the structs of schema.h.
 *
 * The official core parses with serde's derived deserializers through
 * serde_json; this file reads the same structs with the emulation of serde.h,
 * so that it accepts the same documents (including the quirks that SDKs rely
 * on: explicit nulls for view_name, but not for boolean flags or include_old;
 * unknown keys ignored; the sequence forms of the structs without flattened
 * fields, such as [tables, raw_tables] for the schema or [name, type] for a
 * column) and fails with the same messages at the same positions.
 *
 * The official structs, whose reading order decides which error comes first:
 *
 *   Schema { tables: Vec<Table>, #[default] raw_tables: Vec<RawTable> }
 *   Table { name, view_name: Option<String>, columns: Vec<Column>,
 *           #[default] indexes: Vec<Index>, #[flatten] CommonTableOptions }
 *   CommonTableOptions { include_old (custom visitor), #[flatten] flags }
 *   RawTable { name, #[flatten] RawTableSchema, put: Option<PendingStatement>,
 *              delete: Option<PendingStatement>, #[default] clear }
 *   RawTableSchema { table_name: Option<String>,
 *                    synced_columns: Option<Vec<String>>,
 *                    #[flatten] CommonTableOptions }
 *   Column { name, type }, Index { name, columns: Vec<IndexedColumn> },
 *   IndexedColumn { name, ascending: bool, type },
 *   PendingStatementSource { sql, params: Vec<PendingStatementValue> },
 *   enum PendingStatementValue { Id, Column(String), Rest }
 *
 * A struct with flattened fields is read as a map: its own fields as they
 * come, every other member buffered by serde and handed to the flattened
 * structs once the map is closed, so their errors (including duplicates)
 * come after all others of the map and are positioned after its '}'.
 */
#include "schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serde.h"

/* Big enough for every schema an app can have; bounds what a hostile input
 * can make us allocate. */
#define SCHEMA_MAX_ARENA ((size_t)256 * 1024 * 1024)

/* Room for a parse error message. */
#define SCHEMA_ERROR_MAX 512

struct parser {
  struct ps__serde *d;
  struct ps__arena *arena; /* Where the result is allocated. */
  int copy_strings; /* The tree lives elsewhere: copy strings into arena. */
};

typedef const struct ps__json_value json_value;

static void *alloc_array(struct parser *p, size_t count, size_t size) {
  if (count == 0)
    return NULL;
  if (count > ((size_t)-1) / size)
    return NULL;
  return ps__arena_alloc(p->arena, count * size);
}

static int out_of_memory(struct parser *p) {
  return ps__serde_fail_at(p->d, PS_SERDE_NO_POSITION, "out of memory");
}

/* A string without embedded NUL bytes: names end up in C strings and SQL.
 * (The official core accepts them here and fails later, when it builds a C
 * string, with a message of its own.) */
static int read_string(struct parser *p, json_value *v, const char **out) {
  size_t len;
  if (ps__serde_string(p->d, v, out, &len))
    return -1;
  if (strlen(*out) != len)
    return ps__serde_fail_at(p->d, PS_SERDE_NO_POSITION,
                             "invalid value: string with a NUL character, "
                             "expected a string without NUL characters");
  if (p->copy_strings && !(*out = ps__arena_strndup(p->arena, *out, len)))
    return out_of_memory(p);
  return 0;
}

/* Option<String>: null is None. */
static int read_optional_string(struct parser *p, json_value *v,
                                const char **out) {
  *out = NULL;
  if (v && v->type == PS_JSON_NULL)
    return 0;
  return read_string(p, v, out);
}

/* Vec<T> as items of arr; *count and *out sized, elements read by fn. */
typedef int (*item_fn)(struct parser *p, json_value *v, void *out);

static int read_vec(struct parser *p, json_value *v, size_t size, item_fn fn,
                    void **out, size_t *count) {
  size_t i;
  char *items;
  *out = NULL;
  *count = 0;
  if (ps__serde_seq(p->d, v, "a sequence"))
    return -1;
  items = alloc_array(p, v->as.arr.count, size);
  if (v->as.arr.count && !items)
    return out_of_memory(p);
  for (i = 0; i < v->as.arr.count; i++) {
    if (fn(p, v->as.arr.items[i], items + i * size))
      return -1;
  }
  if (ps__serde_seq_end(p->d, v))
    return -1;
  *out = items;
  *count = v->as.arr.count;
  return 0;
}

/* ---- Buffered (flattened) members --------------------------------------- */

/* The members of a flatten struct's map that serde buffered for its
 * flattened fields, and the position of errors raised while reading them:
 * after the map's '}'. */
struct buffered {
  json_value *obj;
  const struct ps__serde_struct *outer; /* Whose own fields are not here. */
  const struct ps__serde_struct *mid;   /* Fields taken by a middle struct. */
  size_t at;
};

static int is_buffered(const struct buffered *b,
                       const struct ps__json_member *m) {
  if (ps__serde_is_field(b->outer, m->key, m->key_len))
    return 0;
  return !b->mid || !ps__serde_is_field(b->mid, m->key, m->key_len);
}

/* The key as serde_json hands it out: borrowed from the text when it has no
 * escapes. TableInfoFlags asks for borrowed keys; an escaped one fails. */
static int key_is_borrowed(const struct parser *p,
                           const struct ps__json_member *m) {
  size_t open;
  if (m->key_end < m->key_len + 2)
    return 0;
  open = m->key_end - m->key_len - 2;
  return p->d->text[open] == '"' &&
         !memcmp(p->d->text + open + 1, m->key, m->key_len);
}

static const char *const option_fields[] = {"include_old"};
static const struct ps__serde_struct options_struct = {
    "CommonTableOptions", option_fields, 1, 0, 1, 1};

static const char *const flag_names[] = {
    "local_only", "insert_only", "include_metadata",
    "include_old_only_when_changed", "ignore_empty_update"};
static const unsigned flag_bits[] = {
    PS_TABLE_LOCAL_ONLY, PS_TABLE_INSERT_ONLY, PS_TABLE_INCLUDE_METADATA,
    PS_TABLE_INCLUDE_OLD_ONLY_WHEN_CHANGED, PS_TABLE_IGNORE_EMPTY_UPDATE};

/* include_old from a buffered value: the official visitor takes false and
 * true, and an array of strings; serde's buffered null is a unit value, which
 * that visitor does not take. */
static int read_include_old(struct parser *p, json_value *v, size_t at,
                            struct ps__table_options *o) {
  static const char expected[] = "an array of columns, or true";
  size_t i;
  o->include_old = PS_INCLUDE_OLD_NONE;
  o->include_old_columns = NULL;
  o->include_old_count = 0;
  if (v->type == PS_JSON_FALSE)
    return 0;
  if (v->type == PS_JSON_TRUE) {
    o->include_old = PS_INCLUDE_OLD_ALL;
    return 0;
  }
  if (v->type != PS_JSON_ARRAY)
    return ps__serde_invalid_type_at(p->d, v, expected, at);
  o->include_old_count = v->as.arr.count;
  o->include_old_columns =
      alloc_array(p, v->as.arr.count, sizeof(*o->include_old_columns));
  if (v->as.arr.count && !o->include_old_columns)
    return out_of_memory(p);
  for (i = 0; i < v->as.arr.count; i++) {
    json_value *item = v->as.arr.items[i];
    if (item->type != PS_JSON_STRING)
      return ps__serde_invalid_type_at(p->d, item, "a string", at);
    if (read_string(p, item, &o->include_old_columns[i]))
      return -1;
  }
  o->include_old = PS_INCLUDE_OLD_COLUMNS;
  return 0;
}

/* CommonTableOptions over the buffered members: include_old while its map is
 * read, then the flags (TableInfoFlags, over what include_old left). */
static int read_options(struct parser *p, const struct buffered *b,
                        struct ps__table_options *o) {
  size_t i;
  size_t k;
  int seen = 0;
  memset(o, 0, sizeof(*o));
  for (i = 0; i < b->obj->as.obj.count; i++) {
    const struct ps__json_member *m = &b->obj->as.obj.members[i];
    if (!is_buffered(b, m) || strcmp(m->key, "include_old") != 0 ||
        m->key_len != strlen("include_old"))
      continue;
    if (seen)
      return ps__serde_fail_at(p->d, b->at, "duplicate field `include_old`");
    seen = 1;
    if (read_include_old(p, m->value, b->at, o))
      return -1;
  }
  for (i = 0; i < b->obj->as.obj.count; i++) {
    const struct ps__json_member *m = &b->obj->as.obj.members[i];
    if (!is_buffered(b, m) ||
        ps__serde_is_field(&options_struct, m->key, m->key_len))
      continue;
    for (k = 0; k < sizeof(flag_bits) / sizeof(flag_bits[0]); k++) {
      if (m->key_len == strlen(flag_names[k]) &&
          !memcmp(m->key, flag_names[k], m->key_len))
        break;
    }
    if (k == sizeof(flag_bits) / sizeof(flag_bits[0]))
      continue;
    if (!key_is_borrowed(p, m)) {
      struct ps__json_value key;
      memset(&key, 0, sizeof(key));
      key.type = PS_JSON_STRING;
      key.as.str.ptr = m->key;
      key.as.str.len = m->key_len;
      return ps__serde_invalid_type_at(p->d, &key, "a borrowed string", b->at);
    }
    if (m->value->type == PS_JSON_TRUE)
      o->flags |= flag_bits[k];
    else if (m->value->type == PS_JSON_FALSE)
      o->flags &= ~flag_bits[k];
    else
      return ps__serde_invalid_type_at(p->d, m->value, "a boolean", b->at);
  }
  return 0;
}

/* ---- Tables ---------------------------------------------------------------
 */

static const char *const column_fields[] = {"name", "type"};
static const struct ps__serde_struct column_struct = {
    "Column", column_fields, 2, 3, 0, 0};

static int column_field(struct ps__serde *d, void *ctx, size_t field,
                        json_value *v) {
  struct parser *p = ((struct parser **)ctx)[0];
  struct ps__column *c = ((struct ps__column **)ctx)[1];
  (void)d;
  return read_string(p, v, field == 0 ? &c->name : &c->type);
}

static int column_item(struct parser *p, json_value *v, void *out) {
  void *ctx[2];
  ctx[0] = p;
  ctx[1] = out;
  return ps__serde_struct(p->d, v, &column_struct, column_field, ctx);
}

static const char *const index_column_fields[] = {"name", "ascending", "type"};
static const struct ps__serde_struct index_column_struct = {
    "IndexedColumn", index_column_fields, 3, 7, 0, 0};

static int index_column_field(struct ps__serde *d, void *ctx, size_t field,
                              json_value *v) {
  struct parser *p = ((struct parser **)ctx)[0];
  struct ps__index_column *c = ((struct ps__index_column **)ctx)[1];
  if (field == 1) {
    if (v->type != PS_JSON_TRUE && v->type != PS_JSON_FALSE)
      return ps__serde_invalid_type(d, v, "a boolean");
    c->ascending = v->type == PS_JSON_TRUE;
    return 0;
  }
  return read_string(p, v, field == 0 ? &c->name : &c->type);
}

static int index_column_item(struct parser *p, json_value *v, void *out) {
  void *ctx[2];
  ctx[0] = p;
  ctx[1] = out;
  return ps__serde_struct(p->d, v, &index_column_struct, index_column_field,
                          ctx);
}

static const char *const index_fields[] = {"name", "columns"};
static const struct ps__serde_struct index_struct = {
    "Index", index_fields, 2, 3, 0, 0};

static int index_field(struct ps__serde *d, void *ctx, size_t field,
                       json_value *v) {
  struct parser *p = ((struct parser **)ctx)[0];
  struct ps__index *ix = ((struct ps__index **)ctx)[1];
  void *cols;
  (void)d;
  if (field == 0)
    return read_string(p, v, &ix->name);
  if (read_vec(p, v, sizeof(*ix->columns), index_column_item, &cols,
               &ix->column_count))
    return -1;
  ix->columns = cols;
  return 0;
}

static int index_item(struct parser *p, json_value *v, void *out) {
  void *ctx[2];
  ctx[0] = p;
  ctx[1] = out;
  return ps__serde_struct(p->d, v, &index_struct, index_field, ctx);
}

static const char *const table_fields[] = {"name", "view_name", "columns",
                                           "indexes"};
static const struct ps__serde_struct table_struct = {
    "Table", table_fields, 4, 5, 8, 1};

static int table_field(struct ps__serde *d, void *ctx, size_t field,
                       json_value *v) {
  struct parser *p = ((struct parser **)ctx)[0];
  struct ps__table *t = ((struct ps__table **)ctx)[1];
  void *items;
  (void)d;
  switch (field) {
  case 0:
    return read_string(p, v, &t->name);
  case 1:
    return read_optional_string(p, v, &t->view_name);
  case 2:
    if (read_vec(p, v, sizeof(*t->columns), column_item, &items,
                 &t->column_count))
      return -1;
    t->columns = items;
    return 0;
  default:
    if (read_vec(p, v, sizeof(*t->indexes), index_item, &items,
                 &t->index_count))
      return -1;
    t->indexes = items;
    return 0;
  }
}

static int table_item(struct parser *p, json_value *v, void *out) {
  struct ps__table *t = out;
  struct buffered b;
  void *ctx[2];
  ctx[0] = p;
  ctx[1] = t;
  memset(t, 0, sizeof(*t));
  if (ps__serde_struct(p->d, v, &table_struct, table_field, ctx))
    return -1;
  b.obj = v;
  b.outer = &table_struct;
  b.mid = NULL;
  b.at = v->end;
  return read_options(p, &b, &t->options);
}

/* ---- Raw tables -----------------------------------------------------------
 */

static int raw_param_item(struct parser *p, json_value *v, void *out,
                          json_value *arr, size_t index) {
  static const char *const variants[] = {"Id", "Column", "Rest"};
  struct ps__raw_param *param = out;
  json_value *content;
  size_t variant;
  if (ps__serde_enum(p->d, v, variants, 3, &variant, &content))
    return -1;
  param->column = NULL;
  param->kind = variant == 0   ? PS_RAW_PARAM_ID
                : variant == 1 ? PS_RAW_PARAM_COLUMN
                               : PS_RAW_PARAM_REST;
  if (!content) {
    /* A newtype variant named by a bare string: serde's error has no
     * position until the enclosing sequence gives up. */
    if (variant == 1)
      return ps__serde_fail_at(
          p->d, ps__serde_seq_error_at(p->d, arr, index),
          "invalid type: unit variant, expected newtype variant");
    return 0;
  }
  if (variant == 1) {
    if (read_string(p, content, &param->column))
      return -1;
  } else if (ps__serde_unit_content(p->d, content)) {
    return -1;
  }
  return ps__serde_enum_end(p->d, v, content);
}

static int read_params(struct parser *p, json_value *v,
                       struct ps__raw_statement *s) {
  size_t i;
  s->params = NULL;
  s->param_count = 0;
  if (ps__serde_seq(p->d, v, "a sequence"))
    return -1;
  s->params = alloc_array(p, v->as.arr.count, sizeof(*s->params));
  if (v->as.arr.count && !s->params)
    return out_of_memory(p);
  for (i = 0; i < v->as.arr.count; i++) {
    if (raw_param_item(p, v->as.arr.items[i], &s->params[i], v, i))
      return -1;
  }
  s->param_count = v->as.arr.count;
  return ps__serde_seq_end(p->d, v);
}

static const char *const statement_fields[] = {"sql", "params"};
static const struct ps__serde_struct statement_struct = {
    "PendingStatementSource", statement_fields, 2, 3, 0, 0};

static int statement_field(struct ps__serde *d, void *ctx, size_t field,
                           json_value *v) {
  struct parser *p = ((struct parser **)ctx)[0];
  struct ps__raw_statement *s = ((struct ps__raw_statement **)ctx)[1];
  (void)d;
  if (field == 0)
    return read_string(p, v, &s->sql);
  return read_params(p, v, s);
}

/* Option<PendingStatement>: null is None. */
static int read_statement(struct parser *p, json_value *v,
                          struct ps__raw_statement **out) {
  struct ps__raw_statement *s;
  void *ctx[2];
  *out = NULL;
  if (v->type == PS_JSON_NULL)
    return 0;
  s = ps__arena_alloc(p->arena, sizeof(*s));
  if (!s)
    return out_of_memory(p);
  memset(s, 0, sizeof(*s));
  ctx[0] = p;
  ctx[1] = s;
  if (ps__serde_struct(p->d, v, &statement_struct, statement_field, ctx))
    return -1;
  *out = s;
  return 0;
}

static const char *const raw_table_fields[] = {"name", "put", "delete",
                                               "clear"};
static const struct ps__serde_struct raw_table_struct = {
    "RawTable", raw_table_fields, 4, 1, 8, 1};

static const char *const raw_schema_fields[] = {"table_name", "synced_columns"};
static const struct ps__serde_struct raw_schema_struct = {
    "RawTableSchema", raw_schema_fields, 2, 0, 3, 1};

static int raw_table_field(struct ps__serde *d, void *ctx, size_t field,
                           json_value *v) {
  struct parser *p = ((struct parser **)ctx)[0];
  struct ps__raw_table *t = ((struct ps__raw_table **)ctx)[1];
  (void)d;
  switch (field) {
  case 0:
    return read_string(p, v, &t->name);
  case 1:
    return read_statement(p, v, &t->put);
  case 2:
    return read_statement(p, v, &t->delete_);
  default:
    return read_optional_string(p, v, &t->clear);
  }
}

/* synced_columns (Option<Vec<String>>) from a buffered value. */
static int read_synced_columns(struct parser *p, json_value *v, size_t at,
                               struct ps__raw_table *t) {
  size_t i;
  t->synced_columns = NULL;
  t->synced_column_count = 0;
  if (v->type == PS_JSON_NULL)
    return 0;
  if (v->type != PS_JSON_ARRAY)
    return ps__serde_invalid_type_at(p->d, v, "a sequence", at);
  /* Present but empty still means "filter": keep a non-NULL marker. */
  t->synced_columns = ps__arena_alloc(
      p->arena, (v->as.arr.count ? v->as.arr.count : 1) * sizeof(char *));
  if (!t->synced_columns)
    return out_of_memory(p);
  for (i = 0; i < v->as.arr.count; i++) {
    json_value *item = v->as.arr.items[i];
    if (item->type != PS_JSON_STRING)
      return ps__serde_invalid_type_at(p->d, item, "a string", at);
    if (read_string(p, item, &t->synced_columns[i]))
      return -1;
  }
  t->synced_column_count = v->as.arr.count;
  return 0;
}

/* RawTableSchema over the buffered members of a raw table: its own fields in
 * document order, then the options over the rest. */
static int read_raw_schema(struct parser *p, json_value *obj,
                           struct ps__raw_table *t) {
  struct buffered b;
  unsigned seen = 0;
  size_t i;
  b.obj = obj;
  b.outer = &raw_table_struct;
  b.mid = NULL;
  b.at = obj->end;
  for (i = 0; i < obj->as.obj.count; i++) {
    const struct ps__json_member *m = &obj->as.obj.members[i];
    unsigned bit;
    int rc;
    if (!is_buffered(&b, m) ||
        !ps__serde_is_field(&raw_schema_struct, m->key, m->key_len))
      continue;
    bit = strcmp(m->key, "table_name") == 0 ? 1u : 2u;
    if (seen & bit)
      return ps__serde_fail_at(p->d, b.at, "duplicate field `%s`",
                               bit == 1 ? "table_name" : "synced_columns");
    seen |= bit;
    if (bit == 1) {
      t->table_name = NULL;
      if (m->value->type == PS_JSON_NULL)
        continue;
      if (m->value->type != PS_JSON_STRING)
        return ps__serde_invalid_type_at(p->d, m->value, "a string", b.at);
      rc = read_string(p, m->value, &t->table_name);
    } else {
      rc = read_synced_columns(p, m->value, b.at, t);
    }
    if (rc)
      return -1;
  }
  b.mid = &raw_schema_struct;
  return read_options(p, &b, &t->options);
}

static int raw_table_item(struct parser *p, json_value *v, void *out) {
  struct ps__raw_table *t = out;
  void *ctx[2];
  ctx[0] = p;
  ctx[1] = t;
  memset(t, 0, sizeof(*t));
  if (ps__serde_struct(p->d, v, &raw_table_struct, raw_table_field, ctx))
    return -1;
  return read_raw_schema(p, v, t);
}

/* ---- The schema -----------------------------------------------------------
 */

static const char *const schema_fields[] = {"tables", "raw_tables"};
static const struct ps__serde_struct schema_struct = {
    "Schema", schema_fields, 2, 1, 2, 0};

static int schema_field(struct ps__serde *d, void *ctx, size_t field,
                        json_value *v) {
  struct parser *p = ((struct parser **)ctx)[0];
  struct ps__schema *s = ((struct ps__schema **)ctx)[1];
  void *items;
  (void)d;
  if (field == 0) {
    if (read_vec(p, v, sizeof(*s->tables), table_item, &items, &s->table_count))
      return -1;
    s->tables = items;
    return 0;
  }
  if (read_vec(p, v, sizeof(*s->raw_tables), raw_table_item, &items,
               &s->raw_table_count))
    return -1;
  s->raw_tables = items;
  return 0;
}

static int read_schema(struct ps__serde *d, const struct ps__json_value *v,
                       struct ps__schema *s, int copy_strings) {
  struct parser p;
  void *ctx[2];
  p.d = d;
  p.arena = &s->arena;
  p.copy_strings = copy_strings;
  ctx[0] = &p;
  ctx[1] = s;
  return ps__serde_struct(d, v, &schema_struct, schema_field, ctx);
}

static struct ps__schema *new_schema(void) {
  struct ps__schema *s = calloc(1, sizeof(*s));
  if (s)
    ps__arena_init(&s->arena, SCHEMA_MAX_ARENA);
  return s;
}

int ps__schema_read(struct ps__serde *d, const struct ps__json_value *v,
                    struct ps__schema **out) {
  struct ps__schema *s = new_schema();
  *out = NULL;
  if (!s)
    return ps__serde_fail_at(d, PS_SERDE_NO_POSITION, "out of memory");
  if (read_schema(d, v, s, 1)) {
    ps__schema_free(s);
    return -1;
  }
  *out = s;
  return 0;
}

/* The tree is parsed into the schema's arena, so the schema's strings can
 * point into it. */
int ps__schema_parse(const char *json, size_t len, struct ps__schema **out,
                     char *err, size_t errlen) {
  struct ps__schema *s = new_schema();
  struct ps__serde d;
  *out = NULL;
  if (!s) {
    if (errlen)
      snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (ps__serde_parse(&d, &s->arena, json, len, err, errlen) ||
      read_schema(&d, d.root, s, 0) || ps__serde_finish(&d)) {
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
  struct ps__serde d;
  struct ps__raw_table *t;
  if (ps__serde_parse(&d, arena, json, len, err, errlen))
    return NULL;
  p.d = &d;
  p.arena = arena;
  p.copy_strings = 0;
  t = ps__arena_alloc(arena, sizeof(*t));
  if (!t) {
    out_of_memory(&p);
    return NULL;
  }
  if (raw_table_item(&p, d.root, t) || ps__serde_finish(&d))
    return NULL;
  return t;
}

const char *ps__table_view_name(const struct ps__table *t) {
  return t->view_name ? t->view_name : t->name;
}
