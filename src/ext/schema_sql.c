/*
 * schema_sql.c: generating the SQL of data tables, indexes, views and
 * triggers, byte for byte as the official core does (see schema_sql.h).
 *
 * HOW IT WORKS: a table's row is stored as one JSON object in the data table;
 * the view extracts each column with json_extract and casts it to the
 * declared type. INSTEAD OF triggers on the view write the data table and
 * record the change through the powersync_crud virtual table. The JSON object
 * of a row is built with json_object() in "fragments" (OBJ in the spec):
 * json_object('c1', powersync_strip_subtype(NEW."c1"), ...), split into
 * chunks joined with powersync_json_merge when a table has many columns.
 */
#include "schema_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql.h"

static const char *const NO_PREFIX = NULL;

static int effective_local_only(const struct ps__table_options *o) {
  return (o->flags & PS_TABLE_LOCAL_ONLY) != 0;
}

/* insert_only has no effect on local-only tables. */
static int effective_insert_only(const struct ps__table_options *o) {
  return (o->flags & PS_TABLE_INSERT_ONLY) && !effective_local_only(o);
}

static int include_metadata(const struct ps__table_options *o) {
  return (o->flags & PS_TABLE_INCLUDE_METADATA) != 0;
}

void ps__sql_internal_name(struct ps__buf *b, const struct ps__table *t) {
  ps__buf_puts(b, effective_local_only(&t->options) ? "ps_data_local__"
                                                    : "ps_data__");
  ps__buf_puts(b, t->name);
}

static void internal_ident(struct ps__buf *b, const struct ps__table *t) {
  struct ps__buf name;
  ps__buf_init(&name, 0);
  ps__sql_internal_name(&name, t);
  if (ps__buf_failed(&name))
    b->failed = ps__buf_failed(&name);
  ps__buf_ident(b, ps__buf_cstr(&name));
  ps__buf_free(&name);
}

/* A prefixed identifier such as "ps_view_insert_<view>". */
static void prefixed_ident(struct ps__buf *b, const char *prefix,
                           const char *name) {
  struct ps__buf full;
  ps__buf_init(&full, 0);
  ps__buf_puts(&full, prefix);
  ps__buf_puts(&full, name);
  if (ps__buf_failed(&full))
    b->failed = ps__buf_failed(&full);
  ps__buf_ident(b, ps__buf_cstr(&full));
  ps__buf_free(&full);
}

void ps__sql_create_data_table(struct ps__buf *b, const struct ps__table *t) {
  ps__buf_puts(b, "CREATE TABLE ");
  internal_ident(b, t);
  ps__buf_puts(b, "(id TEXT PRIMARY KEY NOT NULL, data TEXT)");
}

void ps__sql_index_name(struct ps__buf *b, const struct ps__table *t,
                        const struct ps__index *ix) {
  ps__sql_internal_name(b, t);
  ps__buf_puts(b, "__");
  ps__buf_puts(b, ix->name);
}

/* json_extract(data, '$.<column>'): the path is not escaped for JSON, only
 * for SQL, exactly like the official core (column names with '.' or '"'
 * therefore address other keys). */
static void extract_column(struct ps__buf *b, const char *column,
                           const char *type) {
  struct ps__buf path;
  ps__buf_init(&path, 0);
  ps__buf_puts(&path, "$.");
  ps__buf_puts(&path, column);
  if (ps__buf_failed(&path))
    b->failed = ps__buf_failed(&path);
  ps__buf_puts(b, "CAST(json_extract(data, ");
  ps__buf_lit(b, ps__buf_cstr(&path));
  ps__buf_puts(b, ") as ");
  ps__buf_puts(b, type);
  ps__buf_putc(b, ')');
  ps__buf_free(&path);
}

void ps__sql_create_index(struct ps__buf *b, const struct ps__table *t,
                          const struct ps__index *ix) {
  struct ps__buf name;
  size_t i;
  ps__buf_init(&name, 0);
  ps__sql_index_name(&name, t, ix);
  ps__buf_puts(b, "CREATE INDEX ");
  ps__buf_ident(b, ps__buf_cstr(&name));
  ps__buf_free(&name);
  ps__buf_puts(b, " ON ");
  internal_ident(b, t);
  ps__buf_putc(b, '(');
  for (i = 0; i < ix->column_count; i++) {
    if (i)
      ps__buf_puts(b, ", ");
    extract_column(b, ix->columns[i].name, ix->columns[i].type);
    if (!ix->columns[i].ascending)
      ps__buf_puts(b, " DESC");
  }
  ps__buf_putc(b, ')');
}

void ps__sql_create_view(struct ps__buf *b, const struct ps__table *t) {
  size_t i;
  int meta = include_metadata(&t->options);
  ps__buf_puts(b, "CREATE VIEW ");
  ps__buf_ident(b, ps__table_view_name(t));
  ps__buf_puts(b, "(\"id\"");
  for (i = 0; i < t->column_count; i++) {
    ps__buf_puts(b, ", ");
    ps__buf_ident(b, t->columns[i].name);
  }
  if (meta)
    ps__buf_puts(b, ", \"_metadata\", \"_deleted\"");
  ps__buf_puts(b, ") AS SELECT id");
  for (i = 0; i < t->column_count; i++) {
    ps__buf_puts(b, ", ");
    extract_column(b, t->columns[i].name, t->columns[i].type);
  }
  if (meta)
    ps__buf_puts(b, ", NULL, NULL");
  ps__buf_puts(b, " FROM ");
  internal_ident(b, t);
  ps__buf_puts(b, " -- powersync-auto-generated");
}

/* OBJ(prefix, columns) of the spec. */
static int json_fragment(struct ps__buf *b, const char *prefix,
                         const struct ps__column_list *cols, char *err,
                         size_t errlen) {
  size_t i;
  int chunked = cols->count > PS_JSON_OBJECT_MAX_PAIRS;
  if (cols->count > PS_JSON_FRAGMENT_MAX_COLUMNS) {
    snprintf(err, errlen, "too many parameters to json_object_fragment");
    return -1;
  }
  if (chunked)
    ps__buf_puts(b, "powersync_json_merge(");
  ps__buf_puts(b, "json_object(");
  for (i = 0; i < cols->count; i++) {
    if (i && i % PS_JSON_OBJECT_MAX_PAIRS == 0)
      ps__buf_puts(b, "), json_object(");
    else if (i)
      ps__buf_puts(b, ", ");
    ps__buf_lit(b, cols->names[i]);
    ps__buf_puts(b, ", powersync_strip_subtype(");
    ps__buf_puts(b, prefix);
    ps__buf_putc(b, '.');
    ps__buf_ident(b, cols->names[i]);
    ps__buf_putc(b, ')');
  }
  ps__buf_putc(b, ')');
  if (chunked)
    ps__buf_putc(b, ')');
  return 0;
}

/* json(powersync_diff(OBJ(a), OBJ(b))), with a = '{}' when a_prefix is NULL. */
static int json_diff(struct ps__buf *b, const char *a_prefix,
                     const char *b_prefix, const struct ps__column_list *cols,
                     char *err, size_t errlen) {
  ps__buf_puts(b, "json(powersync_diff(");
  if (a_prefix) {
    if (json_fragment(b, a_prefix, cols, err, errlen))
      return -1;
  } else {
    ps__buf_puts(b, "'{}'");
  }
  ps__buf_puts(b, ", ");
  if (json_fragment(b, b_prefix, cols, err, errlen))
    return -1;
  ps__buf_puts(b, "))");
  return 0;
}

/* The columns of t, optionally only those named in filter. */
static void table_columns(const struct ps__table *t, const char **storage,
                          struct ps__column_list *out) {
  size_t i;
  for (i = 0; i < t->column_count; i++)
    storage[i] = t->columns[i].name;
  out->names = storage;
  out->count = t->column_count;
}

static int name_in(const char *name, const char **names, size_t count) {
  size_t i;
  for (i = 0; i < count; i++) {
    if (strcmp(name, names[i]) == 0)
      return 1;
  }
  return 0;
}

/* Filters all (in place into storage) by the include_old column list. */
static void old_columns(const struct ps__table_options *o,
                        const struct ps__column_list *all, const char **storage,
                        struct ps__column_list *out) {
  size_t i;
  out->names = storage;
  out->count = 0;
  for (i = 0; i < all->count; i++) {
    if (o->include_old == PS_INCLUDE_OLD_ALL ||
        name_in(all->names[i], o->include_old_columns, o->include_old_count))
      storage[out->count++] = all->names[i];
  }
}

/* The parts of one INSERT INTO powersync_crud(...) line. */
struct crud_line {
  const char *op;
  const char *id_expr;
  const char *type;
  const char *data;     /* SQL expression or NULL. */
  const char *old;      /* SQL expression or NULL. */
  const char *metadata; /* SQL expression or NULL. */
  int has_options;
  unsigned options;
};

static void crud_line(struct ps__buf *b, const struct crud_line *l) {
  ps__buf_puts(b, "INSERT INTO powersync_crud(op,id,type");
  if (l->data)
    ps__buf_puts(b, ",data");
  if (l->old)
    ps__buf_puts(b, ",old_values");
  if (l->metadata)
    ps__buf_puts(b, ",metadata");
  if (l->has_options)
    ps__buf_puts(b, ",options");
  ps__buf_puts(b, ") VALUES (");
  ps__buf_lit(b, l->op);
  ps__buf_puts(b, ", ");
  ps__buf_puts(b, l->id_expr);
  ps__buf_puts(b, ", ");
  ps__buf_lit(b, l->type);
  if (l->data) {
    ps__buf_puts(b, ", ");
    ps__buf_puts(b, l->data);
  }
  if (l->old) {
    ps__buf_puts(b, ", ");
    ps__buf_puts(b, l->old);
  }
  if (l->metadata) {
    ps__buf_puts(b, ", ");
    ps__buf_puts(b, l->metadata);
  }
  if (l->has_options)
    ps__buf_printf(b, ", %u", l->options);
  ps__buf_puts(b, ");\n");
}

static const char ID_CHECK[] =
    "SELECT CASE WHEN (NEW.id IS NULL) THEN RAISE (FAIL, 'id is required') "
    "WHEN (typeof(NEW.id) != 'text') THEN RAISE (FAIL, 'id should be text') "
    "END;\n";
static const char ID_SAME[] =
    "SELECT CASE WHEN (OLD.id != NEW.id) THEN RAISE (FAIL, 'Cannot update id') "
    "END;\n";

/* Insert-only writes go to powersync_crud_ so that they do not block
 * downloads (no ps_updated_rows, no checkpoint gate). */
static int manual_put(struct ps__buf *b, const char *type,
                      const struct ps__column_list *cols, char *err,
                      size_t errlen) {
  ps__buf_puts(b, "INSERT INTO powersync_crud_(data) VALUES(json_object('op', "
                  "'PUT', 'type', ");
  ps__buf_lit(b, type);
  ps__buf_puts(b, ", 'id', NEW.id, 'data', ");
  if (json_diff(b, NO_PREFIX, "NEW", cols, err, errlen))
    return -1;
  ps__buf_puts(b, "));");
  return 0;
}

/* The old_values expression for a PATCH or DELETE, or "" when disabled.
 * only_when_changed applies to PATCH only. */
static int old_values(struct ps__buf *b, const struct ps__table_options *o,
                      const struct ps__column_list *all, int is_patch,
                      const char **storage, char *err, size_t errlen) {
  struct ps__column_list cols;
  if (o->include_old == PS_INCLUDE_OLD_NONE)
    return 0;
  old_columns(o, all, storage, &cols);
  if (is_patch && (o->flags & PS_TABLE_INCLUDE_OLD_ONLY_WHEN_CHANGED))
    return json_diff(b, "NEW", "OLD", &cols, err, errlen);
  return json_fragment(b, "OLD", &cols, err, errlen);
}

/* Scratch space for the column lists of one table. */
struct table_columns {
  const char **all_storage;
  const char **old_storage;
  struct ps__column_list all;
};

static int columns_init(struct table_columns *c, const struct ps__table *t,
                        char *err, size_t errlen) {
  size_t n = t->column_count ? t->column_count : 1;
  c->all_storage = calloc(n, sizeof(char *));
  c->old_storage = calloc(n, sizeof(char *));
  if (!c->all_storage || !c->old_storage) {
    free(c->all_storage);
    free(c->old_storage);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  table_columns(t, c->all_storage, &c->all);
  return 0;
}

static void columns_free(struct table_columns *c) {
  free(c->all_storage);
  free(c->old_storage);
}

static void trigger_header(struct ps__buf *b, const char *prefix,
                           const char *view, const char *event) {
  ps__buf_puts(b, "CREATE TRIGGER ");
  prefixed_ident(b, prefix, view);
  ps__buf_puts(b, " INSTEAD OF ");
  ps__buf_puts(b, event);
  ps__buf_puts(b, " ON ");
  ps__buf_ident(b, view);
  ps__buf_puts(b, " FOR EACH ROW ");
}

/* The second delete trigger: UPDATE ... SET _deleted = TRUE deletes the row
 * and records the DELETE with the metadata given in the same statement. */
static int metadata_delete_trigger(struct ps__buf *b, const struct ps__table *t,
                                   struct table_columns *c, char *err,
                                   size_t errlen) {
  struct ps__buf old;
  struct crud_line l = {"DELETE", "OLD.id",        t->name, NULL,
                        NULL,     "NEW._metadata", 0,       0};
  int rc;
  ps__buf_init(&old, 0);
  rc = old_values(&old, &t->options, &c->all, 0, c->old_storage, err, errlen);
  if (old.len)
    l.old = ps__buf_cstr(&old);
  trigger_header(b, "ps_view_delete2_", ps__table_view_name(t), "UPDATE");
  ps__buf_puts(b, "WHEN NEW._deleted IS TRUE BEGIN DELETE FROM ");
  internal_ident(b, t);
  ps__buf_puts(b, " WHERE id = OLD.id; ");
  crud_line(b, &l);
  ps__buf_puts(b, "END");
  ps__buf_free(&old);
  return rc;
}

int ps__sql_delete_triggers(struct ps__buf *b, const struct ps__table *t,
                            char *err, size_t errlen) {
  const struct ps__table_options *o = &t->options;
  struct table_columns c;
  struct ps__buf old;
  int rc = 0;
  if (effective_insert_only(o))
    return 0;
  if (columns_init(&c, t, err, errlen))
    return -1;
  ps__buf_init(&old, 0);
  trigger_header(b, "ps_view_delete_", ps__table_view_name(t), "DELETE");
  ps__buf_puts(b, "BEGIN\nDELETE FROM ");
  internal_ident(b, t);
  ps__buf_puts(b, " WHERE id = OLD.id;\n");
  if (!effective_local_only(o)) {
    struct crud_line l = {"DELETE", "OLD.id", t->name, NULL, NULL, NULL, 0, 0};
    rc = old_values(&old, o, &c.all, 0, c.old_storage, err, errlen);
    if (old.len)
      l.old = ps__buf_cstr(&old);
    crud_line(b, &l);
  }
  ps__buf_puts(b, "END");
  if (rc == 0 && !effective_local_only(o) && include_metadata(o)) {
    ps__buf_puts(b, ";\n");
    rc = metadata_delete_trigger(b, t, &c, err, errlen);
  }
  ps__buf_free(&old);
  columns_free(&c);
  return rc;
}

int ps__sql_insert_trigger(struct ps__buf *b, const struct ps__table *t,
                           char *err, size_t errlen) {
  const struct ps__table_options *o = &t->options;
  struct table_columns c;
  struct ps__buf data;
  int rc = 0;
  if (columns_init(&c, t, err, errlen))
    return -1;
  ps__buf_init(&data, 0);
  trigger_header(b, "ps_view_insert_", ps__table_view_name(t), "INSERT");
  ps__buf_puts(b, "BEGIN\n");
  if (!effective_local_only(o))
    ps__buf_puts(b, ID_CHECK);
  if (effective_insert_only(o)) {
    rc = manual_put(b, t->name, &c.all, err, errlen);
  } else {
    ps__buf_puts(b, "INSERT INTO ");
    internal_ident(b, t);
    ps__buf_puts(b, " SELECT NEW.id, ");
    rc = json_fragment(b, "NEW", &c.all, err, errlen);
    ps__buf_puts(b, ";\n");
    if (rc == 0 && !effective_local_only(o)) {
      struct crud_line l = {"PUT", "NEW.id", t->name, NULL, NULL, NULL, 0, 0};
      rc = json_diff(&data, NO_PREFIX, "NEW", &c.all, err, errlen);
      l.data = ps__buf_cstr(&data);
      if (include_metadata(o))
        l.metadata = "NEW._metadata";
      crud_line(b, &l);
    }
  }
  ps__buf_puts(b, "END");
  ps__buf_free(&data);
  columns_free(&c);
  return rc;
}

int ps__sql_update_trigger(struct ps__buf *b, const struct ps__table *t,
                           char *err, size_t errlen) {
  const struct ps__table_options *o = &t->options;
  struct table_columns c;
  struct ps__buf data;
  struct ps__buf old;
  int rc = 0;
  if (effective_insert_only(o))
    return 0;
  if (columns_init(&c, t, err, errlen))
    return -1;
  ps__buf_init(&data, 0);
  ps__buf_init(&old, 0);
  trigger_header(b, "ps_view_update_", ps__table_view_name(t), "UPDATE");
  /* Two spaces before WHEN: the official text has them. */
  if (include_metadata(o))
    ps__buf_puts(b, " WHEN NEW._deleted IS NOT TRUE ");
  ps__buf_puts(b, "BEGIN\n");
  ps__buf_puts(b, ID_SAME);
  ps__buf_puts(b, "UPDATE ");
  internal_ident(b, t);
  ps__buf_puts(b, " SET data = ");
  rc = json_fragment(b, "NEW", &c.all, err, errlen);
  ps__buf_puts(b, " WHERE id = NEW.id;\n");
  if (rc == 0 && !effective_local_only(o)) {
    struct crud_line l = {"PATCH", "NEW.id", t->name, NULL,
                          NULL,    NULL,     1,       o->flags};
    rc = json_diff(&data, "OLD", "NEW", &c.all, err, errlen);
    if (rc == 0)
      rc = old_values(&old, o, &c.all, 1, c.old_storage, err, errlen);
    l.data = ps__buf_cstr(&data);
    if (old.len)
      l.old = ps__buf_cstr(&old);
    if (include_metadata(o))
      l.metadata = "NEW._metadata";
    crud_line(b, &l);
  }
  ps__buf_puts(b, "END");
  ps__buf_free(&data);
  ps__buf_free(&old);
  columns_free(&c);
  return rc;
}

/* Raw tables: the UPDATE trigger only fires when a synced column changed. */
static void raw_update_condition(struct ps__buf *b,
                                 const struct ps__column_list *cols) {
  size_t i;
  ps__buf_puts(b, " AND\n(");
  for (i = 0; i < cols->count; i++) {
    if (i)
      ps__buf_puts(b, " OR ");
    ps__buf_puts(b, "OLD.");
    ps__buf_ident(b, cols->names[i]);
    ps__buf_puts(b, " IS NOT NEW.");
    ps__buf_ident(b, cols->names[i]);
  }
  ps__buf_putc(b, ')');
}

static int raw_crud_body(struct ps__buf *b, const struct ps__raw_table *t,
                         const char *write_type,
                         const struct ps__column_list *cols, char *err,
                         size_t errlen) {
  const struct ps__table_options *o = &t->options;
  struct ps__buf data;
  struct ps__buf old;
  const char **storage = calloc(cols->count ? cols->count : 1, sizeof(char *));
  struct crud_line l = {NULL, NULL, t->name, NULL, NULL, NULL, 0, 0};
  int rc = 0;
  if (!storage) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  ps__buf_init(&data, 0);
  ps__buf_init(&old, 0);
  if (strcmp(write_type, "INSERT") == 0) {
    l.op = "PUT";
    l.id_expr = "NEW.id";
    rc = json_diff(&data, NO_PREFIX, "NEW", cols, err, errlen);
    l.data = ps__buf_cstr(&data);
  } else if (strcmp(write_type, "UPDATE") == 0) {
    ps__buf_puts(b, ID_SAME);
    l.op = "PATCH";
    l.id_expr = "NEW.id";
    l.has_options = 1;
    l.options = o->flags;
    rc = json_diff(&data, "OLD", "NEW", cols, err, errlen);
    if (rc == 0)
      rc = old_values(&old, o, cols, 1, storage, err, errlen);
    l.data = ps__buf_cstr(&data);
  } else {
    l.op = "DELETE";
    l.id_expr = "OLD.id";
    rc = old_values(&old, o, cols, 0, storage, err, errlen);
  }
  if (old.len)
    l.old = ps__buf_cstr(&old);
  crud_line(b, &l);
  ps__buf_free(&data);
  ps__buf_free(&old);
  free(storage);
  return rc;
}

int ps__sql_raw_trigger(struct ps__buf *b, const struct ps__raw_table *t,
                        const char *trigger_name, const char *write_type,
                        const struct ps__column_list *columns, char *err,
                        size_t errlen) {
  int insert_only = effective_insert_only(&t->options);
  int rc = 0;
  ps__buf_puts(b, "CREATE TRIGGER ");
  ps__buf_ident(b, trigger_name);
  ps__buf_puts(b, " AFTER ");
  ps__buf_puts(b, write_type);
  ps__buf_puts(b, " ON ");
  ps__buf_ident(b, t->table_name);
  ps__buf_puts(b, " FOR EACH ROW WHEN NOT powersync_in_sync_operation()");
  if (strcmp(write_type, "UPDATE") == 0 && t->synced_columns)
    raw_update_condition(b, columns);
  ps__buf_puts(b, " BEGIN\n");
  if (insert_only) {
    if (strcmp(write_type, "INSERT") == 0)
      rc = manual_put(b, t->name, columns, err, errlen);
    else
      ps__buf_puts(
          b, "SELECT RAISE(FAIL, 'Unexpected update on insert-only table');\n");
  } else {
    rc = raw_crud_body(b, t, write_type, columns, err, errlen);
  }
  ps__buf_puts(b, "END");
  return rc;
}
