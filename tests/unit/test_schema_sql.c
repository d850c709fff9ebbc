/*
 * test_schema_sql.c: the generated SQL of views, triggers and indexes must be
 * byte-identical to the official core's; the expected strings are the exact
 * examples of core-storage.md 6.2-6.5 and 8.3.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ext/schema_sql.h"

typedef int (*trigger_fn)(struct ps__buf *, const struct ps__table *, char *,
                          size_t);

static char *generate(trigger_fn fn, const struct ps__table *t) {
  struct ps__buf b;
  char err[128];
  ps__buf_init(&b, 0);
  assert_int_equal(fn(&b, t, err, sizeof(err)), 0);
  return ps__buf_take(&b);
}

static void expect_trigger(trigger_fn fn, const struct ps__table *t,
                           const char *expected) {
  char *sql = generate(fn, t);
  assert_string_equal(sql, expected);
  free(sql);
}

static struct ps__column todo_columns[] = {{"description", "TEXT"},
                                           {"done", "INTEGER"}};

static struct ps__table todos(void) {
  struct ps__table t;
  memset(&t, 0, sizeof(t));
  t.name = "todos";
  t.columns = todo_columns;
  t.column_count = 2;
  return t;
}

static void view_of_plain_table(void **state) {
  struct ps__table t = todos();
  struct ps__buf b;
  (void)state;
  ps__buf_init(&b, 0);
  ps__sql_create_view(&b, &t);
  assert_string_equal(
      ps__buf_cstr(&b),
      "CREATE VIEW \"todos\"(\"id\", \"description\", \"done\") AS SELECT id, "
      "CAST(json_extract(data, '$.description') as TEXT), "
      "CAST(json_extract(data, '$.done') as INTEGER) FROM \"ps_data__todos\" "
      "-- powersync-auto-generated");
  ps__buf_free(&b);
}

static void triggers_of_plain_table(void **state) {
  struct ps__table t = todos();
  (void)state;
  expect_trigger(ps__sql_delete_triggers, &t,
                 "CREATE TRIGGER \"ps_view_delete_todos\" INSTEAD OF DELETE ON "
                 "\"todos\" FOR EACH ROW BEGIN\n"
                 "DELETE FROM \"ps_data__todos\" WHERE id = OLD.id;\n"
                 "INSERT INTO powersync_crud(op,id,type) VALUES ('DELETE', "
                 "OLD.id, 'todos');\n"
                 "END");
  expect_trigger(
      ps__sql_insert_trigger, &t,
      "CREATE TRIGGER \"ps_view_insert_todos\" INSTEAD OF INSERT ON \"todos\" "
      "FOR EACH ROW BEGIN\n"
      "SELECT CASE WHEN (NEW.id IS NULL) THEN RAISE (FAIL, 'id is required') "
      "WHEN (typeof(NEW.id) != 'text') THEN RAISE (FAIL, 'id should be "
      "text') END;\n"
      "INSERT INTO \"ps_data__todos\" SELECT NEW.id, "
      "json_object('description', "
      "powersync_strip_subtype(NEW.\"description\"), "
      "'done', powersync_strip_subtype(NEW.\"done\"));\n"
      "INSERT INTO powersync_crud(op,id,type,data) VALUES ('PUT', NEW.id, "
      "'todos', json(powersync_diff('{}', json_object('description', "
      "powersync_strip_subtype(NEW.\"description\"), 'done', "
      "powersync_strip_subtype(NEW.\"done\")))));\n"
      "END");
  expect_trigger(
      ps__sql_update_trigger, &t,
      "CREATE TRIGGER \"ps_view_update_todos\" INSTEAD OF UPDATE ON \"todos\" "
      "FOR EACH ROW BEGIN\n"
      "SELECT CASE WHEN (OLD.id != NEW.id) THEN RAISE (FAIL, 'Cannot update "
      "id') END;\n"
      "UPDATE \"ps_data__todos\" SET data = json_object('description', "
      "powersync_strip_subtype(NEW.\"description\"), 'done', "
      "powersync_strip_subtype(NEW.\"done\")) WHERE id = NEW.id;\n"
      "INSERT INTO powersync_crud(op,id,type,data,options) VALUES ('PATCH', "
      "NEW.id, 'todos', json(powersync_diff(json_object('description', "
      "powersync_strip_subtype(OLD.\"description\"), 'done', "
      "powersync_strip_subtype(OLD.\"done\")), json_object('description', "
      "powersync_strip_subtype(NEW.\"description\"), 'done', "
      "powersync_strip_subtype(NEW.\"done\")))), 0);\n"
      "END");
}

static struct ps__column meta_columns[] = {{"b", "TEXT"}, {"a", "INTEGER"}};
static const char *meta_old[] = {"a"};

static void triggers_with_metadata_and_old_values(void **state) {
  struct ps__table t;
  (void)state;
  memset(&t, 0, sizeof(t));
  t.name = "t_meta";
  t.columns = meta_columns;
  t.column_count = 2;
  t.options.flags = PS_TABLE_INCLUDE_METADATA |
                    PS_TABLE_INCLUDE_OLD_ONLY_WHEN_CHANGED |
                    PS_TABLE_IGNORE_EMPTY_UPDATE;
  t.options.include_old = PS_INCLUDE_OLD_COLUMNS;
  t.options.include_old_columns = meta_old;
  t.options.include_old_count = 1;
  expect_trigger(
      ps__sql_delete_triggers, &t,
      "CREATE TRIGGER \"ps_view_delete_t_meta\" INSTEAD OF DELETE ON "
      "\"t_meta\" FOR EACH ROW BEGIN\n"
      "DELETE FROM \"ps_data__t_meta\" WHERE id = OLD.id;\n"
      "INSERT INTO powersync_crud(op,id,type,old_values) VALUES ('DELETE', "
      "OLD.id, 't_meta', json_object('a', "
      "powersync_strip_subtype(OLD.\"a\")));\n"
      "END;\n"
      "CREATE TRIGGER \"ps_view_delete2_t_meta\" INSTEAD OF UPDATE ON "
      "\"t_meta\" FOR EACH ROW WHEN NEW._deleted IS TRUE BEGIN DELETE FROM "
      "\"ps_data__t_meta\" WHERE id = OLD.id; INSERT INTO "
      "powersync_crud(op,id,type,old_values,metadata) VALUES ('DELETE', "
      "OLD.id, 't_meta', json_object('a', powersync_strip_subtype(OLD.\"a\")), "
      "NEW._metadata);\n"
      "END");
  expect_trigger(
      ps__sql_update_trigger, &t,
      "CREATE TRIGGER \"ps_view_update_t_meta\" INSTEAD OF UPDATE ON "
      "\"t_meta\" FOR EACH ROW  WHEN NEW._deleted IS NOT TRUE BEGIN\n"
      "SELECT CASE WHEN (OLD.id != NEW.id) THEN RAISE (FAIL, 'Cannot update "
      "id') END;\n"
      "UPDATE \"ps_data__t_meta\" SET data = json_object('b', "
      "powersync_strip_subtype(NEW.\"b\"), 'a', "
      "powersync_strip_subtype(NEW.\"a\")) WHERE id = NEW.id;\n"
      "INSERT INTO powersync_crud(op,id,type,data,old_values,metadata,options) "
      "VALUES ('PATCH', NEW.id, 't_meta', json(powersync_diff(json_object('b', "
      "powersync_strip_subtype(OLD.\"b\"), 'a', "
      "powersync_strip_subtype(OLD.\"a\")), json_object('b', "
      "powersync_strip_subtype(NEW.\"b\"), 'a', "
      "powersync_strip_subtype(NEW.\"a\")))), "
      "json(powersync_diff(json_object('a', "
      "powersync_strip_subtype(NEW.\"a\")), "
      "json_object('a', powersync_strip_subtype(OLD.\"a\")))), NEW._metadata, "
      "28);\n"
      "END");
}

static struct ps__column ins_columns[] = {{"x", "blob"}};

static void insert_only_table_has_one_trigger(void **state) {
  struct ps__table t;
  struct ps__buf b;
  (void)state;
  memset(&t, 0, sizeof(t));
  t.name = "t_ins";
  t.columns = ins_columns;
  t.column_count = 1;
  t.options.flags = PS_TABLE_INSERT_ONLY | PS_TABLE_INCLUDE_METADATA;
  expect_trigger(
      ps__sql_insert_trigger, &t,
      "CREATE TRIGGER \"ps_view_insert_t_ins\" INSTEAD OF INSERT ON \"t_ins\" "
      "FOR EACH ROW BEGIN\n"
      "SELECT CASE WHEN (NEW.id IS NULL) THEN RAISE (FAIL, 'id is required') "
      "WHEN (typeof(NEW.id) != 'text') THEN RAISE (FAIL, 'id should be "
      "text') END;\n"
      "INSERT INTO powersync_crud_(data) VALUES(json_object('op', 'PUT', "
      "'type', 't_ins', 'id', NEW.id, 'data', json(powersync_diff('{}', "
      "json_object('x', powersync_strip_subtype(NEW.\"x\"))))));END");
  expect_trigger(ps__sql_update_trigger, &t, "");
  expect_trigger(ps__sql_delete_triggers, &t, "");
  ps__buf_init(&b, 0);
  ps__sql_create_view(&b, &t);
  assert_string_equal(ps__buf_cstr(&b),
                      "CREATE VIEW \"t_ins\"(\"id\", \"x\", \"_metadata\", "
                      "\"_deleted\") AS SELECT id, CAST(json_extract(data, "
                      "'$.x') as blob), NULL, NULL FROM \"ps_data__t_ins\" -- "
                      "powersync-auto-generated");
  ps__buf_free(&b);
}

static void local_only_table_records_nothing(void **state) {
  struct ps__table t;
  (void)state;
  memset(&t, 0, sizeof(t));
  t.name = "t_local";
  t.view_name = "v_local";
  t.columns = ins_columns;
  t.column_count = 1;
  t.options.flags = PS_TABLE_LOCAL_ONLY;
  expect_trigger(ps__sql_delete_triggers, &t,
                 "CREATE TRIGGER \"ps_view_delete_v_local\" INSTEAD OF DELETE "
                 "ON \"v_local\" FOR EACH ROW BEGIN\n"
                 "DELETE FROM \"ps_data_local__t_local\" WHERE id = OLD.id;\n"
                 "END");
  expect_trigger(ps__sql_insert_trigger, &t,
                 "CREATE TRIGGER \"ps_view_insert_v_local\" INSTEAD OF INSERT "
                 "ON \"v_local\" FOR EACH ROW BEGIN\n"
                 "INSERT INTO \"ps_data_local__t_local\" SELECT NEW.id, "
                 "json_object('x', powersync_strip_subtype(NEW.\"x\"));\n"
                 "END");
}

static void names_and_types_are_quoted(void **state) {
  struct ps__column col = {"co\"l'x", "weird type"};
  struct ps__table t;
  struct ps__buf b;
  (void)state;
  memset(&t, 0, sizeof(t));
  t.name = "we\"ird'name";
  t.columns = &col;
  t.column_count = 1;
  ps__buf_init(&b, 0);
  ps__sql_create_view(&b, &t);
  assert_string_equal(
      ps__buf_cstr(&b),
      "CREATE VIEW \"we\"\"ird'name\"(\"id\", \"co\"\"l'x\") AS SELECT id, "
      "CAST(json_extract(data, '$.co\"l''x') as weird type) FROM "
      "\"ps_data__we\"\"ird'name\" -- powersync-auto-generated");
  ps__buf_free(&b);
}

static void index_sql(void **state) {
  struct ps__index_column cols[] = {{"make", "TEXT", 1}, {"model", "TEXT", 0}};
  struct ps__index ix = {"makemodel", cols, 2};
  struct ps__table t;
  struct ps__buf b;
  (void)state;
  memset(&t, 0, sizeof(t));
  t.name = "assets";
  ps__buf_init(&b, 0);
  ps__sql_create_index(&b, &t, &ix);
  assert_string_equal(
      ps__buf_cstr(&b),
      "CREATE INDEX \"ps_data__assets__makemodel\" ON \"ps_data__assets\"("
      "CAST(json_extract(data, '$.make') as TEXT), CAST(json_extract(data, "
      "'$.model') as TEXT) DESC)");
  ps__buf_free(&b);
}

/* 51 columns: two json_object() calls joined by powersync_json_merge. */
static void wide_tables_are_chunked(void **state) {
  struct ps__column cols[2000];
  char names[2000][8];
  struct ps__table t;
  struct ps__buf b;
  char err[128];
  const char *merge;
  size_t i;
  (void)state;
  for (i = 0; i < 2000; i++) {
    snprintf(names[i], sizeof(names[i]), "c%zu", i);
    cols[i].name = names[i];
    cols[i].type = "TEXT";
  }
  memset(&t, 0, sizeof(t));
  t.name = "w";
  t.columns = cols;
  t.column_count = 51;
  t.options.flags = PS_TABLE_LOCAL_ONLY;
  ps__buf_init(&b, 0);
  assert_int_equal(ps__sql_insert_trigger(&b, &t, err, sizeof(err)), 0);
  merge = strstr(ps__buf_cstr(&b), "powersync_json_merge(json_object('c0'");
  assert_non_null(merge);
  assert_non_null(strstr(merge, "NEW.\"c49\")), json_object('c50', "
                                "powersync_strip_subtype(NEW.\"c50\")));"));
  ps__buf_reset(&b);
  t.column_count = 50;
  assert_int_equal(ps__sql_insert_trigger(&b, &t, err, sizeof(err)), 0);
  assert_null(strstr(ps__buf_cstr(&b), "powersync_json_merge"));
  ps__buf_reset(&b);
  t.column_count = 1999;
  assert_int_equal(ps__sql_insert_trigger(&b, &t, err, sizeof(err)), 0);
  ps__buf_reset(&b);
  t.column_count = 2000;
  assert_int_equal(ps__sql_insert_trigger(&b, &t, err, sizeof(err)), -1);
  assert_string_equal(err, "too many parameters to json_object_fragment");
  ps__buf_free(&b);
}

static void raw_table_update_trigger(void **state) {
  const char *names[] = {"email", "email_verified"};
  struct ps__column_list cols = {names, 2};
  struct ps__raw_table t;
  struct ps__buf b;
  char err[128];
  (void)state;
  memset(&t, 0, sizeof(t));
  t.name = "sync_type";
  t.table_name = "users";
  ps__buf_init(&b, 0);
  assert_int_equal(ps__sql_raw_trigger(&b, &t, "test_update", "UPDATE", &cols,
                                       err, sizeof(err)),
                   0);
  assert_string_equal(
      ps__buf_cstr(&b),
      "CREATE TRIGGER \"test_update\" AFTER UPDATE ON \"users\" FOR EACH ROW "
      "WHEN NOT powersync_in_sync_operation() BEGIN\n"
      "SELECT CASE WHEN (OLD.id != NEW.id) THEN RAISE (FAIL, 'Cannot update "
      "id') END;\n"
      "INSERT INTO powersync_crud(op,id,type,data,options) VALUES ('PATCH', "
      "NEW.id, 'sync_type', json(powersync_diff(json_object('email', "
      "powersync_strip_subtype(OLD.\"email\"), 'email_verified', "
      "powersync_strip_subtype(OLD.\"email_verified\")), json_object('email', "
      "powersync_strip_subtype(NEW.\"email\"), 'email_verified', "
      "powersync_strip_subtype(NEW.\"email_verified\")))), 0);\n"
      "END");
  ps__buf_free(&b);
}

static void raw_table_synced_columns_condition(void **state) {
  const char *names[] = {"synced_a", "synced_b"};
  struct ps__column_list cols = {names, 2};
  struct ps__raw_table t;
  struct ps__buf b;
  char err[128];
  (void)state;
  memset(&t, 0, sizeof(t));
  t.name = "sync_type";
  t.table_name = "users";
  t.synced_columns = names;
  t.synced_column_count = 2;
  ps__buf_init(&b, 0);
  assert_int_equal(ps__sql_raw_trigger(&b, &t, "test_update", "UPDATE", &cols,
                                       err, sizeof(err)),
                   0);
  assert_true(
      strncmp(ps__buf_cstr(&b),
              "CREATE TRIGGER \"test_update\" AFTER UPDATE ON "
              "\"users\" FOR EACH ROW WHEN NOT "
              "powersync_in_sync_operation() AND\n(OLD.\"synced_a\" IS "
              "NOT NEW.\"synced_a\" OR OLD.\"synced_b\" IS NOT "
              "NEW.\"synced_b\") BEGIN\n",
              strlen("CREATE TRIGGER \"test_update\" AFTER UPDATE ON "
                     "\"users\" FOR EACH ROW WHEN NOT "
                     "powersync_in_sync_operation() AND\n(OLD."
                     "\"synced_a\" IS NOT NEW.\"synced_a\" OR OLD."
                     "\"synced_b\" IS NOT NEW.\"synced_b\") BEGIN\n")) == 0);
  ps__buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(view_of_plain_table),
      cmocka_unit_test(triggers_of_plain_table),
      cmocka_unit_test(triggers_with_metadata_and_old_values),
      cmocka_unit_test(insert_only_table_has_one_trigger),
      cmocka_unit_test(local_only_table_records_nothing),
      cmocka_unit_test(names_and_types_are_quoted),
      cmocka_unit_test(index_sql),
      cmocka_unit_test(wide_tables_are_chunked),
      cmocka_unit_test(raw_table_update_trigger),
      cmocka_unit_test(raw_table_synced_columns_condition),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
