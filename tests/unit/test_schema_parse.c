/*
 * test_schema_parse.c: the schema JSON parser (core-storage.md section 5):
 * what it accepts, what it rejects and how it words the rejection. The
 * expected messages are those of the official core (0.5.3) for the same
 * input, serde_json's "at line L column C" included.
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

/* The message of a rejected document. */
static const char *parse_error(const char *json) {
  static char err[512];
  struct ps__schema *s = NULL;
  memset(err, 'x', sizeof(err));
  assert_int_equal(ps__schema_parse(json, strlen(json), &s, err, sizeof(err)),
                   -1);
  assert_null(s);
  return err;
}

/* The official core's message, byte for byte. */
static void expect_error(const char *json, const char *message) {
  const char *err = parse_error(json);
  if (strcmp(err, message) != 0)
    fail_msg("error for %s was '%s', expected '%s'", json, err, message);
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
  expect_error("[]", "invalid length 0, expected struct Schema with 2 elements "
                     "at line 1 column 2");
  expect_error("[[],[],[]]", "trailing characters at line 1 column 8");
  /* Structs without flattened fields take the sequence form too. */
  s = parse_ok(
      "{\"tables\":[{\"name\":\"t\",\"columns\":[[\"a\",\"TEXT\"]]}]}");
  assert_string_equal(s->tables[0].columns[0].name, "a");
  assert_string_equal(s->tables[0].columns[0].type, "TEXT");
  ps__schema_free(s);
  expect_error("{\"tables\":[{\"name\":\"t\",\"columns\":[[\"a\"]]}]}",
               "invalid length 1, expected struct Column with 2 elements at "
               "line 1 column 39");
}

static void malformed_documents_are_rejected(void **state) {
  (void)state;
  expect_error("", "EOF while parsing a value at line 1 column 0");
  expect_error("{", "EOF while parsing an object at line 1 column 1");
  expect_error("{\"tables\":[]} x", "trailing characters at line 1 column 15");
  expect_error("{}", "missing field `tables` at line 1 column 2");
  expect_error("{\"tables\":null}",
               "invalid type: null, expected a sequence at line 1 column 14");
  expect_error("{\"tables\":[],\"raw_tables\":null}",
               "invalid type: null, expected a sequence at line 1 column 30");
  expect_error(
      "5",
      "invalid type: integer `5`, expected struct Schema at line 1 column 1");
  expect_error("{\"tables\":[{\"columns\":[]}]}",
               "missing field `name` at line 1 column 25");
  expect_error("{\"tables\":[{\"name\":\"t\"}]}",
               "missing field `columns` at line 1 column 23");
  expect_error(
      "{\"tables\":[{\"name\":1,\"columns\":[]}]}",
      "invalid type: integer `1`, expected a string at line 1 column 20");
  expect_error("{\"tables\":[{\"name\":\"t\",\"columns\":[{\"name\":\"a\"}]}]}",
               "missing field `type` at line 1 column 46");
  expect_error(
      "{\"tables\":[{\"name\":\"t\",\"columns\":[],\"indexes\":null}]}",
      "invalid type: null, expected a sequence at line 1 column 50");
  expect_error(
      "{\"tables\":[{\"name\":\"t\",\"columns\":[],\"indexes\":[{\"name\":"
      "\"i\",\"columns\":[{\"name\":\"a\",\"type\":\"T\"}]}]}]}",
      "missing field `ascending` at line 1 column 93");
  /* Ours only: the official core accepts NUL here and fails later. */
  assert_non_null(strstr(
      parse_error("{\"tables\":[{\"name\":\"t\\u0000x\",\"columns\":[]}]}"),
      "NUL"));
}

static void flags_must_be_booleans(void **state) {
  (void)state;
  expect_error(
      "{\"tables\":[{\"name\":\"t\",\"columns\":[],\"local_only\":1}]}",
      "invalid type: integer `1`, expected a boolean at line 1 column 51");
  expect_error(
      "{\"tables\":[{\"name\":\"t\",\"columns\":[],\"insert_only\":null}]}",
      "invalid type: null, expected a boolean at line 1 column 55");
  expect_error(
      "{\"tables\":[{\"name\":\"t\",\"columns\":[],\"include_old\":null}]}",
      "invalid type: null, expected an array of columns, or true at line 1 "
      "column 55");
  expect_error(
      "{\"tables\":[{\"name\":\"t\",\"columns\":[],\"include_old\":\"a\"}]}",
      "invalid type: string \"a\", expected an array of columns, or true at "
      "line 1 column 54");
  expect_error(
      "{\"tables\":[{\"name\":\"t\",\"columns\":[],\"include_old\":[1]}]}",
      "invalid type: integer `1`, expected a string at line 1 column 54");
  expect_error("{\"tables\":[{\"name\":\"t\",\"columns\":[],\"local_only\":"
               "\"a\\\"b\\n\"}]}",
               "invalid type: string \"a\\\"b\\n\", expected a boolean at line "
               "1 column 58");
  expect_error(
      "{\"tables\":[{\"name\":\"t\",\"columns\":[],\"local_only\":1e20}]}",
      "invalid type: floating point `1e+20`, expected a boolean at line 1 "
      "column 54");
}

static void raw_statement_params_are_checked(void **state) {
  struct ps__schema *s;
  (void)state;
  expect_error("{\"tables\":[],\"raw_tables\":[{\"name\":\"r\",\"put\":{"
               "\"sql\":\"x\",\"params\":[\"Foo\"]}}]}",
               "unknown variant `Foo`, expected one of `Id`, `Column`, `Rest` "
               "at line 1 column 71");
  expect_error("{\"tables\":[],\"raw_tables\":[{\"name\":\"r\",\"put\":{"
               "\"sql\":\"x\"}}]}",
               "missing field `params` at line 1 column 56");
  expect_error("{\"tables\":[],\"raw_tables\":[{\"table_name\":\"r\"}]}",
               "missing field `name` at line 1 column 45");
  expect_error("{\"tables\":[],\"raw_tables\":[{\"name\":\"r\",\"put\":{"
               "\"sql\":\"x\",\"params\":[\"Column\"]}}]}",
               "invalid type: unit variant, expected newtype variant at line 1 "
               "column 75");
  expect_error("{\"tables\":[],\"raw_tables\":[{\"name\":\"r\",\"put\":{"
               "\"sql\":\"x\",\"params\":[5]}}]}",
               "expected value at line 1 column 67");
  expect_error("{\"tables\":[],\"raw_tables\":[{\"name\":\"r\",\"put\":{"
               "\"sql\":\"x\",\"params\":[{\"Column\":\"a\",\"x\":1}]}}]}",
               "expected value at line 1 column 79");
  /* A unit variant may also be a map with a null value. */
  s = parse_ok("{\"tables\":[],\"raw_tables\":[{\"name\":\"r\",\"put\":{"
               "\"sql\":\"x\",\"params\":[{\"Id\":null},{\"Column\":\"c\"},"
               "\"Rest\"]}}]}");
  assert_int_equal(s->raw_tables[0].put->param_count, 3);
  assert_int_equal(s->raw_tables[0].put->params[0].kind, PS_RAW_PARAM_ID);
  assert_string_equal(s->raw_tables[0].put->params[1].column, "c");
  assert_int_equal(s->raw_tables[0].put->params[2].kind, PS_RAW_PARAM_REST);
  ps__schema_free(s);
}

/* Lines and columns count as serde_json counts them: a line starts after
 * each '\n' (a '\r' is an ordinary byte), the column is the offset in it. */
static void positions_on_multi_line_input(void **state) {
  (void)state;
  expect_error("{\n  \"tables\": [\n    {\"name\": \"t\", \"columns\": [], "
               "\"local_only\": null}\n  ]\n}",
               "invalid type: null, expected a boolean at line 3 column 52");
  expect_error(
      "{\n  \"tables\": [\n    {\n      \"name\": \"t\",\n      \"columns\": "
      "[\n        {\"name\": \"a\"}\n      ]\n    }\n  ]\n}",
      "missing field `type` at line 6 column 21");
  expect_error(
      "\n\n   {\"tables\": 5}",
      "invalid type: integer `5`, expected a sequence at line 3 column 15");
  expect_error(
      "{\"tables\":[\n{\"name\":\"t\",\n\"columns\":[],\n\"name\":\"u\"}]}",
      "duplicate field `name` at line 4 column 6");
  expect_error("{\r\n\"tables\":[],\r\n\"tables\":[]}",
               "duplicate field `tables` at line 3 column 8");
  expect_error(
      "{\"tables\":[{\"name\":\"t\",\"columns\":[]},\n{\"name\":\"u\"}]}",
      "missing field `columns` at line 2 column 12");
  expect_error(
      "{\n\"tables\": [\n{\"name\":\"t\",\"columns\":[]}\n]\n,\n\"x\": [1, 2\n",
      "EOF while parsing a list at line 7 column 0");
}

/* serde streams: an error in the document comes before one that serde only
 * raises when a map closes (missing fields, then the fields of flattened
 * structs), and a type error comes before a later syntax error. */
static void first_error_in_serde_order(void **state) {
  (void)state;
  expect_error("{\"tables\":[{\"name\":\"t\",\"columns\":[],\"local_only\":5,"
               "\"include_old\":5}]}",
               "invalid type: integer `5`, expected an array of columns, or "
               "true at line 1 column 67");
  expect_error("{\"tables\":[{\"local_only\":5}]}",
               "missing field `name` at line 1 column 27");
  expect_error("{\"tables\":[{\"name\":\"t\",\"columns\":[],\"include_old\":"
               "true,\"include_old\":false}]}",
               "duplicate field `include_old` at line 1 column 75");
  expect_error(
      "{\"tables\":5,",
      "invalid type: integer `5`, expected a sequence at line 1 column 11");
}

static void raw_table_alone(void **state) {
  struct ps__arena arena;
  char err[256];
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
  assert_string_equal(err,
                      "invalid type: sequence, expected struct RawTable at "
                      "line 1 column 0");
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
      cmocka_unit_test(positions_on_multi_line_input),
      cmocka_unit_test(first_error_in_serde_order),
      cmocka_unit_test(raw_table_alone),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
