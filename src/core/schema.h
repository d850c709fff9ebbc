/*
 * schema.h: the schema JSON of powersync_replace_schema (core-storage.md
 * section 5), parsed into plain structs. No SQLite needed, so the parser can be
 * unit-tested and fuzzed alone.
 *
 * Ownership: a struct ps__schema owns everything reachable from it (one arena);
 * release it with ps__schema_free(). A struct ps__raw_table obtained from
 * ps__raw_table_parse() lives in the arena passed in.
 */
#ifndef PS_CORE_SCHEMA_H
#define PS_CORE_SCHEMA_H

#include <stddef.h>

#include "../util/arena.h"
#include "json.h"
#include "serde.h"

/* Table option bits, as written into generated triggers (5.3). */
#define PS_TABLE_LOCAL_ONLY                    1u
#define PS_TABLE_INSERT_ONLY                   2u
#define PS_TABLE_INCLUDE_METADATA              4u
#define PS_TABLE_INCLUDE_OLD_ONLY_WHEN_CHANGED 8u
#define PS_TABLE_IGNORE_EMPTY_UPDATE           16u

enum ps__include_old {
  PS_INCLUDE_OLD_NONE,   /* absent or false */
  PS_INCLUDE_OLD_ALL,    /* true */
  PS_INCLUDE_OLD_COLUMNS /* an array of column names */
};

struct ps__table_options {
  unsigned flags; /* PS_TABLE_* bits given as true in the JSON. */
  enum ps__include_old include_old;
  const char **include_old_columns; /* When PS_INCLUDE_OLD_COLUMNS. */
  size_t include_old_count;
};

struct ps__column {
  const char *name;
  const char *type;
};

struct ps__index_column {
  const char *name;
  const char *type;
  int ascending;
};

struct ps__index {
  const char *name;
  struct ps__index_column *columns;
  size_t column_count;
};

struct ps__table {
  const char *name;
  const char *view_name; /* NULL when absent or null: the view is named name. */
  struct ps__column *columns;
  size_t column_count;
  struct ps__index *indexes;
  size_t index_count;
  struct ps__table_options options;
};

enum ps__raw_param_kind {
  PS_RAW_PARAM_ID,
  PS_RAW_PARAM_COLUMN,
  PS_RAW_PARAM_REST
};

struct ps__raw_param {
  enum ps__raw_param_kind kind;
  const char *column; /* For PS_RAW_PARAM_COLUMN. */
};

struct ps__raw_statement {
  const char *sql;
  struct ps__raw_param *params;
  size_t param_count;
};

struct ps__raw_table {
  const char *name;
  const char *table_name;      /* NULL when absent. */
  const char **synced_columns; /* NULL when absent (all columns). */
  size_t synced_column_count;
  struct ps__raw_statement *put;     /* NULL when absent or null. */
  struct ps__raw_statement *delete_; /* NULL when absent or null. */
  const char *clear;                 /* NULL when absent. */
  struct ps__table_options options;
};

struct ps__schema {
  struct ps__arena arena;
  struct ps__table *tables;
  size_t table_count;
  struct ps__raw_table *raw_tables;
  size_t raw_table_count;
};

/* Parses a schema document. Returns 0 and sets *out (owned by the caller), or
 * returns -1 with the official core's message in err, position included
 * ("missing field `tables` at line 1 column 2", a JSON syntax error, ...). */
int ps__schema_parse(const char *json, size_t len, struct ps__schema **out,
                     char *err, size_t errlen);
void ps__schema_free(struct ps__schema *s);

/* Reads a schema from v, a value of the document that d parsed (the schema
 * member of a start payload), reporting errors as the official core does.
 * The schema owns copies of its strings (it may outlive the tree).
 * Returns 0 and sets *out (release with ps__schema_free()), or -1 with the
 * error written by d. */
int ps__schema_read(struct ps__serde *d, const struct ps__json_value *v,
                    struct ps__schema **out);

/* Parses one raw table object (as given to
 * powersync_create_raw_table_crud_trigger) into arena. Returns NULL with a
 * message in err on failure. */
struct ps__raw_table *ps__raw_table_parse(struct ps__arena *arena,
                                          const char *json, size_t len,
                                          char *err, size_t errlen);

/* The view name of a table (view_name or name). */
const char *ps__table_view_name(const struct ps__table *t);

#endif
