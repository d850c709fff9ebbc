/*
 * test_schema_parse.c: the schema JSON parser (core-storage.md section 5):
 * what it accepts, what it rejects and how it words the rejection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/schema.h"

static struct ps__schema *parse_ok(const char *json) {
  struct ps__schema *s = NULL;
  char err[256] = "";
  if (ps__schema_parse(json, strlen(json), &s, err, sizeof(err)) != 0)
    fail_msg("unexpected error for %s: %s", json, err);
  assert_non_null(s);
  return s;
}

static void expect_error(const char *json, const char *message) {
  struct ps__schema *s = NULL;
  char err[256] = "";
  assert_int_equal(ps__schema_parse(json, strlen(json), &s, err, sizeof(err)),
                   -1);
  assert_null(s);
  if (!strstr(err, message))
    fail_msg("error for %s was '%s', expected it to contain '%s'", json, err,
             message);
}

static void full_table_is_parsed(void **state) {
  struct ps__schema *s = parse_ok(
      "{\"tables\":[{\"name\":\"t\",\"view_name\":\"v\",\"columns\":[{\"name\":"
      "\"a\",\"type\":\"TEXT\"},{\"name\":\"b\",\"type\":\"INTEGER\"}],"
      "\"indexes\":[{\"name\":\"ix\",\"columns\":[{\"name\":\"a\","
      "\"ascending\":"
      "false,\"type\":\"TEXT\"}]}],\"local_only\":false,\"insert_only\":false,"
      "\"include_metadata\":true,\"include_old\":[\"a\"],"
      "\"include_old_only_when_changed\":true,\"ignore_empty_update\":true,"
      "\"unknown_key\":[1,2,3]}]}");
  const struct ps__table *t;
  (void)state;
  assert_int_equal(s->table_count, 1);
  t = &s->tables[0];
  assert_string_equal(t->name, "t");
  assert_string_equal(ps__table_view_name(t), "v");
  assert_int_equal(t->column_count, 2);
  assert_string_equal(t->columns[1].name, "b");
  assert_string_equal(t->columns[1].type, "INTEGER");
  assert_int_equal(t->index_count, 1);
  assert_false(t->indexes[0].columns[0].ascending);
  assert_int_equal(t->options.flags, 28);
  assert_int_equal(t->options.include_old, PS_INCLUDE_OLD_COLUMNS);
  assert_int_equal(t->options.include_old_count, 1);
  assert_string_equal(t->options.include_old_columns[0], "a");
  assert_int_equal(s->raw_table_count, 0);
  ps__schema_free(s);
}

static void defaults_and_nulls(void **state) {
  struct ps__schema *s =
      parse_ok("{\"tables\":[{\"name\":\"t\",\"view_name\":null,\"columns\":[],"
               "\"include_old\":true}],\"raw_tables\":[]}");
  (void)state;
  assert_null(s->tables[0].view_name);
  assert_string_equal(ps__table_view_name(&s->tables[0]), "t");
  assert_int_equal(s->tables[0].options.flags, 0);
  assert_int_equal(s->tables[0].options.include_old, PS_INCLUDE_OLD_ALL);
  ps__schema_free(s);
}

static void raw_tables_are_parsed(void **state) {
  struct ps__schema *s = parse_ok(
      "{\"tables\":[],\"raw_tables\":[{\"name\":\"r\",\"table_name\":\"users\","
      "\"put\":{\"sql\":\"INSERT INTO users VALUES (?, ?, ?)\",\"params\":"
      "[\"Id\",{\"Column\":\"name\"},\"Rest\"]},\"delete\":null,\"clear\":"
      "\"DELETE FROM users\",\"synced_columns\":[],\"insert_only\":true}]}");
  const struct ps__raw_table *r;
  (void)state;
  assert_int_equal(s->raw_table_count, 1);
  r = &s->raw_tables[0];
  assert_string_equal(r->table_name, "users");
  assert_int_equal(r->put->param_count, 3);
  assert_int_equal(r->put->params[0].kind, PS_RAW_PARAM_ID);
  assert_int_equal(r->put->params[1].kind, PS_RAW_PARAM_COLUMN);
  assert_string_equal(r->put->params[1].column, "name");
  assert_int_equal(r->put->params[2].kind, PS_RAW_PARAM_REST);
  assert_null(r->delete_);
  assert_string_equal(r->clear, "DELETE FROM users");
  /* An empty list still filters (every column is local-only). */
  assert_non_null(r->synced_columns);
  assert_int_equal(r->synced_column_count, 0);
  assert_int_equal(r->options.flags, PS_TABLE_INSERT_ONLY);
  ps__schema_free(s);
}

static void positional_form_is_accepted(void **state) {
  struct ps__schema *s = parse_ok("[[{\"name\":\"x\",\"columns\":[]}], []]");
  (void)state;
  assert_int_equal(s->table_count, 1);
  ps__schema_free(s);
  s = parse_ok("[[]]");
  assert_int_equal(s->table_count, 0);
  ps__schema_free(s);
  expect_error("[]",
               "invalid length 0, expected struct Schema with 2 elements");
}

static void malformed_documents_are_rejected(void **state) {
  (void)state;
  expect_error("", "EOF while parsing a value");
  expect_error("{", "EOF");
  expect_error("{\"tables\":[]} x", "trailing characters");
  expect_error("{}", "missing field `tables`");
  expect_error("{\"tables\":null}", "invalid type: null, expected a sequence");
  expect_error("{\"tables\":[],\"raw_tables\":null}",
               "invalid type: null, expected a sequence");
  expect_error("5", "invalid type: integer `5`, expected struct Schema");
  expect_error("{\"tables\":[{\"columns\":[]}]}", "missing field `name`");
  expect_error("{\"tables\":[{\"name\":\"t\"}]}", "missing field `columns`");
  expect_error("{\"tables\":[{\"name\":1,\"columns\":[]}]}",
               "invalid type: integer `1`, expected a string");
  expect_error("{\"tables\":[{\"name\":\"t\",\"columns\":[{\"name\":\"a\"}]}]}",
               "missing field `type`");
  expect_error(
      "{\"tables\":[{\"name\":\"t\",\"columns\":[],\"indexes\":null}]}",
      "invalid type: null, expected a sequence");
  expect_error("{\"tables\":[{\"name\":\"t\",\"columns\":[],\"indexes\":[{"
               "\"name\":\"i\",\"columns\":[{\"name\":\"a\",\"type\":\"T\"}]}]"
               "}]}",
               "missing field `ascending`");
  expect_error("{\"tables\":[{\"name\":\"t\\u0000x\",\"columns\":[]}]}", "NUL");
}

static void flags_must_be_booleans(void **state) {
  (void)state;
  expect_error(
      "{\"tables\":[{\"name\":\"t\",\"columns\":[],\"local_only\":1}]}",
      "invalid type: integer `1`, expected a boolean");
  expect_error(
      "{\"tables\":[{\"name\":\"t\",\"columns\":[],\"insert_only\":null}]}",
      "invalid type: null, expected a boolean");
  expect_error(
      "{\"tables\":[{\"name\":\"t\",\"columns\":[],\"include_old\":null}]}",
      "invalid type: null, expected an array of columns, or true");
  expect_error(
      "{\"tables\":[{\"name\":\"t\",\"columns\":[],\"include_old\":\"a\"}]}",
      "expected an array of columns, or true");
  expect_error(
      "{\"tables\":[{\"name\":\"t\",\"columns\":[],\"include_old\":[1]}]}",
      "invalid type: integer `1`, expected a string");
}

static void raw_statement_params_are_checked(void **state) {
  (void)state;
  expect_error("{\"tables\":[],\"raw_tables\":[{\"name\":\"r\",\"put\":{"
               "\"sql\":\"x\",\"params\":[\"Foo\"]}}]}",
               "unknown variant `Foo`, expected one of `Id`, `Column`, `Rest`");
  expect_error("{\"tables\":[],\"raw_tables\":[{\"name\":\"r\",\"put\":{"
               "\"sql\":\"x\"}}]}",
               "missing field `params`");
  expect_error("{\"tables\":[],\"raw_tables\":[{\"table_name\":\"r\"}]}",
               "missing field `name`");
}

static void raw_table_alone(void **state) {
  struct ps__arena arena;
  char err[128];
  const char *json = "{\"name\":\"r\",\"table_name\":\"users\"}";
  struct ps__raw_table *t;
  (void)state;
  ps__arena_init(&arena, 0);
  t = ps__raw_table_parse(&arena, json, strlen(json), err, sizeof(err));
  assert_non_null(t);
  assert_string_equal(t->name, "r");
  assert_null(t->synced_columns);
  assert_null(t->put);
  assert_null(ps__raw_table_parse(&arena, "[]", 2, err, sizeof(err)));
  assert_non_null(strstr(err, "expected struct RawTable"));
  ps__arena_free(&arena);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(full_table_is_parsed),
      cmocka_unit_test(defaults_and_nulls),
      cmocka_unit_test(raw_tables_are_parsed),
      cmocka_unit_test(positional_form_is_accepted),
      cmocka_unit_test(malformed_documents_are_rejected),
      cmocka_unit_test(flags_must_be_booleans),
      cmocka_unit_test(raw_statement_params_are_checked),
      cmocka_unit_test(raw_table_alone),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
