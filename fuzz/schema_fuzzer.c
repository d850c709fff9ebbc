/*
 * schema_fuzzer.c: fuzz target for the schema JSON parser (src/core/schema.c,
 * core-storage.md section 5).
 *
 * Each input is given to ps__schema_parse() and, as one raw table object, to
 * ps__raw_table_parse(). Neither may crash; a failure must leave a terminated
 * message. On success every string of the result is read, so that ASan
 * reports dangling or unterminated strings, and the fields schema.h marks
 * required must be present.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/schema.h"
#include "fuzzer.h"

/* Bounds the arena of ps__raw_table_parse() per input. */
#define FUZZ_ARENA_MAX ((size_t)64 * 1024 * 1024)

/* Accumulates string lengths so that the reads cannot be optimised away. */
static volatile size_t sink;

static void fail(const char *what) {
  fprintf(stderr, "schema_fuzzer: %s\n", what);
  abort();
}

static void touch(const char *s, int required) {
  if (!s) {
    if (required)
      fail("required string is NULL");
    return;
  }
  sink += strlen(s);
}

static void check_array(const void *items, size_t count) {
  if (count && !items)
    fail("non-empty array is NULL");
}

static void check_options(const struct ps__table_options *o) {
  size_t i;
  if (o->include_old == PS_INCLUDE_OLD_COLUMNS) {
    check_array(o->include_old_columns, o->include_old_count);
    for (i = 0; i < o->include_old_count; i++)
      touch(o->include_old_columns[i], 1);
  }
}

static void check_statement(const struct ps__raw_statement *st) {
  size_t i;
  if (!st)
    return;
  touch(st->sql, 1);
  check_array(st->params, st->param_count);
  for (i = 0; i < st->param_count; i++) {
    if (st->params[i].kind == PS_RAW_PARAM_COLUMN)
      touch(st->params[i].column, 1);
  }
}

static void check_raw_table(const struct ps__raw_table *r) {
  size_t i;
  touch(r->name, 1);
  touch(r->table_name, 0);
  touch(r->clear, 0);
  check_array(r->synced_columns, r->synced_column_count);
  for (i = 0; i < r->synced_column_count; i++)
    touch(r->synced_columns[i], 1);
  check_statement(r->put);
  check_statement(r->delete_);
  check_options(&r->options);
}

static void check_schema(const struct ps__schema *s) {
  size_t i;
  size_t j;
  size_t k;
  check_array(s->tables, s->table_count);
  for (i = 0; i < s->table_count; i++) {
    const struct ps__table *t = &s->tables[i];
    touch(t->name, 1);
    touch(t->view_name, 0);
    touch(ps__table_view_name(t), 1);
    check_array(t->columns, t->column_count);
    for (j = 0; j < t->column_count; j++) {
      touch(t->columns[j].name, 1);
      touch(t->columns[j].type, 1);
    }
    check_array(t->indexes, t->index_count);
    for (j = 0; j < t->index_count; j++) {
      const struct ps__index *ix = &t->indexes[j];
      touch(ix->name, 1);
      check_array(ix->columns, ix->column_count);
      for (k = 0; k < ix->column_count; k++) {
        touch(ix->columns[k].name, 1);
        touch(ix->columns[k].type, 1);
      }
    }
    check_options(&t->options);
  }
  check_array(s->raw_tables, s->raw_table_count);
  for (i = 0; i < s->raw_table_count; i++)
    check_raw_table(&s->raw_tables[i]);
}

static void check_message(const char *err, size_t errlen) {
  if (!memchr(err, '\0', errlen) || err[0] == '\0')
    fail("error message missing or unterminated");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct ps__schema *schema = NULL;
  struct ps__raw_table *raw;
  struct ps__arena arena;
  char err[256];
  /* A private copy, so that reading past size is caught by ASan. */
  char *text = malloc(size ? size : 1);
  if (!text)
    return 0;
  if (size)
    memcpy(text, data, size);

  memset(err, 'x', sizeof err);
  if (ps__schema_parse(text, size, &schema, err, sizeof err) == 0) {
    if (!schema)
      fail("success without a schema");
    check_schema(schema);
  } else {
    check_message(err, sizeof err);
  }
  ps__schema_free(schema);

  ps__arena_init(&arena, FUZZ_ARENA_MAX);
  memset(err, 'x', sizeof err);
  raw = ps__raw_table_parse(&arena, text, size, err, sizeof err);
  if (raw)
    check_raw_table(raw);
  else
    check_message(err, sizeof err);
  ps__arena_free(&arena);

  free(text);
  return 0;
}
