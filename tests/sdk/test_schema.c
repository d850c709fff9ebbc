/*
 * test_schema.c: the schema builder (include/powersync/schema.h): every
 * builder function, every validation rule of sdk.md section 4 (through the
 * builder, which refuses at once with POWERSYNC_EINVAL, and through
 * powersync_schema_from_json/validate, which report POWERSYNC_ESCHEMA), the
 * exact JSON written for the core, and that the core accepts it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "db_test_helpers.h"

/* Fails unless rc is code and the thread's message contains every given
 * fragment (NULL-terminated list). */
static void expect_error(int rc, int code, ...) {
  const char *message = powersync_error_last()->message;
  const char *fragment;
  va_list ap;
  if (rc != code)
    fail_msg("expected code %d, got %d (%s)", code, rc, message);
  assert_int_equal(powersync_error_last()->code, code);
  va_start(ap, code);
  for (fragment = va_arg(ap, const char *); fragment;
       fragment = va_arg(ap, const char *)) {
    if (!strstr(message, fragment))
      fail_msg("message '%s' lacks '%s'", message, fragment);
  }
  va_end(ap);
}

static char *to_json(const powersync_schema *s) {
  char *json = NULL;
  ASSERT_PS_OK(powersync_schema_to_json(s, &json));
  assert_non_null(json);
  return json;
}

/* from_json must refuse json with ESCHEMA and a message holding fragment. */
static void expect_json_rejected(const char *json, const char *fragment) {
  powersync_schema *s = (powersync_schema *)1;
  int rc = powersync_schema_from_json(&s, json);
  assert_null(s);
  expect_error(rc, POWERSYNC_ESCHEMA, fragment, NULL);
}

/* ---- Building and writing JSON ------------------------------------------ */

static void builder_writes_core_json(void **state) {
  static const char *const old_cols[] = {"title", "rank"};
  powersync_schema *s = powersync_schema_new();
  powersync_table *t = NULL;
  powersync_index *ix = NULL;
  char *json;
  (void)state;
  ASSERT_PS_OK(powersync_schema_add_table(s, "todos", &t));
  ASSERT_PS_OK(powersync_table_add_column(t, "title", POWERSYNC_COLUMN_TEXT));
  ASSERT_PS_OK(powersync_table_add_column(t, "rank", POWERSYNC_COLUMN_INTEGER));
  ASSERT_PS_OK(powersync_table_add_column(t, "score", POWERSYNC_COLUMN_REAL));
  ASSERT_PS_OK(powersync_table_set_view_name(t, "todo_view"));
  ASSERT_PS_OK(powersync_table_set_flags(
      t, POWERSYNC_TABLE_INCLUDE_METADATA |
             POWERSYNC_TABLE_INCLUDE_OLD_ONLY_WHEN_CHANGED |
             POWERSYNC_TABLE_IGNORE_EMPTY_UPDATE));
  ASSERT_PS_OK(powersync_table_set_include_old(t, old_cols, 2));
  ASSERT_PS_OK(powersync_table_add_index(t, "by_rank", &ix));
  ASSERT_PS_OK(powersync_index_add_column(ix, "rank", 0));
  ASSERT_PS_OK(powersync_index_add_column(ix, "title", 1));
  ASSERT_PS_OK(powersync_schema_add_table(s, "logs", &t));
  ASSERT_PS_OK(powersync_table_set_flags(t, POWERSYNC_TABLE_INSERT_ONLY));
  ASSERT_PS_OK(powersync_schema_add_table(s, "drafts", &t));
  ASSERT_PS_OK(powersync_table_add_column(t, "body", POWERSYNC_COLUMN_TEXT));
  ASSERT_PS_OK(powersync_table_set_flags(t, POWERSYNC_TABLE_LOCAL_ONLY));
  ASSERT_PS_OK(powersync_schema_validate(s));
  json = to_json(s);
  assert_string_equal(
      json,
      "{\"tables\":["
      "{\"name\":\"todos\",\"view_name\":\"todo_view\",\"columns\":["
      "{\"name\":\"title\",\"type\":\"TEXT\"},"
      "{\"name\":\"rank\",\"type\":\"INTEGER\"},"
      "{\"name\":\"score\",\"type\":\"REAL\"}],"
      "\"indexes\":[{\"name\":\"by_rank\",\"columns\":["
      "{\"name\":\"rank\",\"ascending\":false,\"type\":\"INTEGER\"},"
      "{\"name\":\"title\",\"ascending\":true,\"type\":\"TEXT\"}]}],"
      "\"local_only\":false,\"insert_only\":false,\"include_metadata\":true,"
      "\"include_old\":[\"title\",\"rank\"],"
      "\"include_old_only_when_changed\":true,\"ignore_empty_update\":true},"
      "{\"name\":\"logs\",\"view_name\":null,\"columns\":[],\"indexes\":[],"
      "\"local_only\":false,\"insert_only\":true,\"include_metadata\":false,"
      "\"include_old\":false,\"include_old_only_when_changed\":false,"
      "\"ignore_empty_update\":false},"
      "{\"name\":\"drafts\",\"view_name\":null,\"columns\":["
      "{\"name\":\"body\",\"type\":\"TEXT\"}],\"indexes\":[],"
      "\"local_only\":true,\"insert_only\":false,\"include_metadata\":false,"
      "\"include_old\":false,\"include_old_only_when_changed\":false,"
      "\"ignore_empty_update\":false}],"
      "\"raw_tables\":[]}");
  powersync_free(json);
  powersync_schema_free(s);
}

static void empty_schema_json(void **state) {
  powersync_schema *s = powersync_schema_new();
  char *json;
  (void)state;
  ASSERT_PS_OK(powersync_schema_validate(s));
  json = to_json(s);
  assert_string_equal(json, "{\"tables\":[],\"raw_tables\":[]}");
  powersync_free(json);
  powersync_schema_free(s);
}

static void include_old_all_and_view_reset(void **state) {
  powersync_schema *s = powersync_schema_new();
  powersync_table *t = NULL;
  char *json;
  (void)state;
  ASSERT_PS_OK(powersync_schema_add_table(s, "a", &t));
  ASSERT_PS_OK(powersync_table_set_view_name(t, "b"));
  ASSERT_PS_OK(powersync_table_set_view_name(t, NULL));
  ASSERT_PS_OK(powersync_table_set_view_name(t, "A")); /* its own name */
  ASSERT_PS_OK(powersync_table_set_view_name(t, NULL));
  ASSERT_PS_OK(powersync_table_set_include_old(t, NULL, 0));
  json = to_json(s);
  assert_non_null(strstr(json, "\"view_name\":null"));
  assert_non_null(strstr(json, "\"include_old\":true"));
  powersync_free(json);
  powersync_schema_free(s);
}

/* Names are written as JSON strings; escapes must survive. */
static void json_escapes_names(void **state) {
  powersync_schema *s = powersync_schema_new();
  powersync_table *t = NULL;
  char *json;
  powersync_schema *back = NULL;
  char *again;
  (void)state;
  ASSERT_PS_OK(powersync_schema_add_table(s, "t\\x", &t));
  ASSERT_PS_OK(powersync_table_add_column(t, "caf\xc3\xa9", 0));
  json = to_json(s);
  assert_non_null(strstr(json, "\"name\":\"t\\\\x\""));
  ASSERT_PS_OK(powersync_schema_from_json(&back, json));
  again = to_json(back);
  assert_string_equal(json, again);
  powersync_free(again);
  powersync_free(json);
  powersync_schema_free(back);
  powersync_schema_free(s);
}

/* ---- The core accepts what we write ----------------------------------------
 */

static void core_accepts_written_schema(void **state) {
  static const char *const old_cols[] = {"title"};
  powersync_schema *s = powersync_schema_new();
  powersync_table *t = NULL;
  powersync_index *ix = NULL;
  powersync_db *db = NULL;
  (void)state;
  ASSERT_PS_OK(powersync_schema_add_table(s, "todos", &t));
  ASSERT_PS_OK(powersync_table_add_column(t, "title", POWERSYNC_COLUMN_TEXT));
  ASSERT_PS_OK(powersync_table_add_column(t, "rank", POWERSYNC_COLUMN_INTEGER));
  ASSERT_PS_OK(powersync_table_set_include_old(t, old_cols, 1));
  ASSERT_PS_OK(powersync_table_set_flags(t, POWERSYNC_TABLE_INCLUDE_METADATA));
  ASSERT_PS_OK(powersync_table_add_index(t, "by_rank", &ix));
  ASSERT_PS_OK(powersync_index_add_column(ix, "rank", 1));
  ASSERT_PS_OK(powersync_schema_add_table(s, "notes", &t));
  ASSERT_PS_OK(powersync_table_add_column(t, "body", POWERSYNC_COLUMN_TEXT));
  ASSERT_PS_OK(powersync_table_set_view_name(t, "my_notes"));
  ASSERT_PS_OK(powersync_schema_add_table(s, "drafts", &t));
  ASSERT_PS_OK(powersync_table_add_column(t, "body", POWERSYNC_COLUMN_TEXT));
  ASSERT_PS_OK(powersync_table_set_flags(t, POWERSYNC_TABLE_LOCAL_ONLY));
  ASSERT_PS_OK(powersync_schema_add_table(s, "events", &t));
  ASSERT_PS_OK(powersync_table_add_column(t, "kind", POWERSYNC_COLUMN_TEXT));
  ASSERT_PS_OK(powersync_table_set_flags(t, POWERSYNC_TABLE_INSERT_ONLY));
  ASSERT_PS_OK(powersync_db_open(&db, ":memory:", s, NULL));
  powersync_schema_free(s);

  ASSERT_PS_OK(powersync_db_execute(
      db,
      "INSERT INTO todos(id, title, rank, _metadata) VALUES ('t1', 'a', 1, "
      "'m')",
      NULL, 0, NULL));
  ASSERT_PS_OK(powersync_db_execute(
      db, "UPDATE todos SET title = 'b' WHERE id = 't1'", NULL, 0, NULL));
  ASSERT_PS_OK(powersync_db_execute(
      db, "INSERT INTO my_notes(id, body) VALUES ('n1', 'x')", NULL, 0, NULL));
  ASSERT_PS_OK(powersync_db_execute(
      db, "INSERT INTO drafts(id, body) VALUES ('d1', 'y')", NULL, 0, NULL));
  ASSERT_PS_OK(powersync_db_execute(
      db, "INSERT INTO events(id, kind) VALUES ('e1', 'z')", NULL, 0, NULL));
  /* todos: PUT and PATCH; notes: PUT; events: PUT; drafts: nothing. */
  assert_int_equal(th_query_int(db, "SELECT count(*) FROM ps_crud"), 4);
  assert_int_equal(
      th_query_int(db, "SELECT count(*) FROM ps_crud WHERE data->>'type' = "
                       "'todos' AND data->>'metadata' = 'm'"),
      1);
  assert_int_equal(th_query_int(db, "SELECT count(*) FROM ps_crud WHERE "
                                    "data->'old' = '{\"title\":\"a\"}'"),
                   1);
  assert_int_equal(th_query_int(db, "SELECT count(*) FROM drafts"), 1);
  assert_int_equal(th_query_int(db, "SELECT count(*) FROM events"), 0);
  assert_int_equal(
      th_query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = "
                       "'index' AND name = 'ps_data__todos__by_rank'"),
      1);
  assert_int_equal(
      th_query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = "
                       "'table' AND name = 'ps_data_local__drafts'"),
      1);
  ASSERT_PS_OK(powersync_db_close(db));
}

static void core_accepts_raw_tables(void **state) {
  powersync_schema *s = th_schema(0);
  powersync_db *db = NULL;
  char *json;
  (void)state;
  ASSERT_PS_OK(powersync_schema_add_raw_table_json(
      s, "{\"name\": \"users\", \"table_name\": \"local_users\"}"));
  ASSERT_PS_OK(powersync_schema_add_raw_table_json(
      s, "{\"name\":\"items\",\"put\":{\"sql\":\"INSERT OR REPLACE INTO "
         "items(id, v) VALUES (?, ?)\",\"params\":[\"Id\",{\"Column\":\"v\"}]},"
         "\"delete\":{\"sql\":\"DELETE FROM items WHERE id = ?\","
         "\"params\":[\"Id\"]},\"clear\":\"DELETE FROM items\"}"));
  json = to_json(s);
  /* Raw tables are passed on compactly and otherwise unchanged. */
  assert_non_null(
      strstr(json, "\"raw_tables\":[{\"name\":\"users\",\"table_name\":"
                   "\"local_users\"},{\"name\":\"items\",\"put\":{\"sql\":"));
  powersync_free(json);
  ASSERT_PS_OK(powersync_db_open(&db, ":memory:", s, NULL));
  powersync_schema_free(s);
  th_insert_todo(db, "x");
  assert_int_equal(th_query_int(db, "SELECT count(*) FROM ps_crud"), 1);
  ASSERT_PS_OK(powersync_db_close(db));
}

/* ---- Reading JSON -----------------------------------------------------------
 */

static void from_json_round_trip(void **state) {
  static const char json[] =
      "{\"tables\":[{\"name\":\"todos\",\"view_name\":\"v\",\"columns\":["
      "{\"name\":\"a\",\"type\":\"TEXT\"},{\"name\":\"b\",\"type\":"
      "\"INTEGER\"}],\"indexes\":[{\"name\":\"ix\",\"columns\":[{\"name\":"
      "\"b\",\"ascending\":false,\"type\":\"INTEGER\"}]}],\"local_only\":"
      "false,\"insert_only\":false,\"include_metadata\":true,\"include_old\":"
      "[\"a\"],\"include_old_only_when_changed\":true,\"ignore_empty_update\":"
      "true}],\"raw_tables\":[{\"name\":\"r\",\"table_name\":\"r\"}]}";
  powersync_schema *s = NULL;
  char *out;
  (void)state;
  ASSERT_PS_OK(powersync_schema_from_json(&s, json));
  out = to_json(s);
  assert_string_equal(out, json);
  powersync_free(out);
  powersync_schema_free(s);
}

/* Other SDKs' JSON: lowercase types, omitted optional keys, the index
 * column type taken from the table column. */
static void from_json_normalises(void **state) {
  powersync_schema *s = NULL;
  char *out;
  (void)state;
  ASSERT_PS_OK(powersync_schema_from_json(
      &s, " {\"tables\": [{\"name\": \"t\", \"columns\": [{\"name\": \"c\", "
          "\"type\": \"integer\"}], \"indexes\": [{\"name\": \"i\", "
          "\"columns\": [{\"name\": \"c\", \"ascending\": true, \"type\": "
          "\"TEXT\"}]}], \"include_old\": false, \"extra\": 1}]} "));
  out = to_json(s);
  assert_string_equal(
      out,
      "{\"tables\":[{\"name\":\"t\",\"view_name\":null,\"columns\":[{\"name\":"
      "\"c\",\"type\":\"INTEGER\"}],\"indexes\":[{\"name\":\"i\",\"columns\":"
      "[{\"name\":\"c\",\"ascending\":true,\"type\":\"INTEGER\"}]}],"
      "\"local_only\":false,\"insert_only\":false,\"include_metadata\":false,"
      "\"include_old\":false,\"include_old_only_when_changed\":false,"
      "\"ignore_empty_update\":false}],\"raw_tables\":[]}");
  powersync_free(out);
  powersync_schema_free(s);
  /* A parsed schema can be extended with the builder. */
  ASSERT_PS_OK(powersync_schema_from_json(&s, "{\"tables\":[]}"));
  {
    powersync_table *t = NULL;
    ASSERT_PS_OK(powersync_schema_add_table(s, "x", &t));
  }
  powersync_schema_free(s);
}

static void from_json_rejects_bad_documents(void **state) {
  (void)state;
  expect_json_rejected("{\"tables\":[", "invalid schema JSON");
  expect_json_rejected("{}", "missing field `tables`");
  expect_json_rejected("{\"tables\":[{\"name\":\"t\"}]}",
                       "missing field `columns`");
  expect_json_rejected("{\"tables\":[{\"name\":\"t\",\"columns\":[{\"name\":"
                       "\"c\",\"type\":\"BLOB\"}]}]}",
                       "unsupported type 'BLOB'");
  expect_json_rejected("{\"tables\":[{\"name\":\"t\",\"columns\":[],"
                       "\"local_only\":1}]}",
                       "expected a boolean");
  expect_json_rejected("{\"tables\":[],\"raw_tables\":[{\"name\":\"r\","
                       "\"put\":{\"sql\":\"x\",\"params\":[\"Nope\"]}}]}",
                       "unknown variant");
}

/* The rules of sdk.md section 4, reached through from_json (the builder
 * refuses most of them earlier, see below). */
static void from_json_validates(void **state) {
  (void)state;
  expect_json_rejected("{\"tables\":[{\"name\":\"t\",\"columns\":[]},"
                       "{\"name\":\"T\",\"columns\":[]}]}",
                       "duplicate table name 'T'");
  expect_json_rejected("{\"tables\":[{\"name\":\"a\",\"view_name\":\"v\","
                       "\"columns\":[]},{\"name\":\"v\",\"columns\":[]}]}",
                       "duplicate table name");
  expect_json_rejected("{\"tables\":[{\"name\":\"a\",\"view_name\":\"v\","
                       "\"columns\":[]},{\"name\":\"b\",\"view_name\":\"v\","
                       "\"columns\":[]}]}",
                       "duplicate table name 'v'");
  expect_json_rejected("{\"tables\":[{\"name\":\"a.b\",\"columns\":[]}]}",
                       "invalid table name 'a.b'");
  expect_json_rejected("{\"tables\":[{\"name\":\"a\",\"view_name\":\"v w\","
                       "\"columns\":[]}]}",
                       "invalid view name 'v w'");
  expect_json_rejected("{\"tables\":[{\"name\":\"t\",\"columns\":[{\"name\":"
                       "\"id\",\"type\":\"TEXT\"}]}]}",
                       "table 't': a column must not be named 'id'");
  expect_json_rejected("{\"tables\":[{\"name\":\"t\",\"columns\":[{\"name\":"
                       "\"c\",\"type\":\"TEXT\"},{\"name\":\"C\",\"type\":"
                       "\"TEXT\"}]}]}",
                       "table 't': duplicate column name 'C'");
  expect_json_rejected("{\"tables\":[{\"name\":\"t\",\"columns\":[{\"name\":"
                       "\"c[0]\",\"type\":\"TEXT\"}]}]}",
                       "table 't': invalid column name 'c[0]'");
  expect_json_rejected(
      "{\"tables\":[{\"name\":\"t\",\"columns\":[],\"indexes\":[{\"name\":"
      "\"i\",\"columns\":[{\"name\":\"nope\",\"ascending\":true,\"type\":"
      "\"TEXT\"}]}]}]}",
      "table 't': index 'i' refers to column 'nope'");
  expect_json_rejected(
      "{\"tables\":[{\"name\":\"t\",\"columns\":[{\"name\":\"c\",\"type\":"
      "\"TEXT\"}],\"indexes\":[{\"name\":\"i\",\"columns\":[{\"name\":\"c\","
      "\"ascending\":true,\"type\":\"TEXT\"}]},{\"name\":\"I\",\"columns\":"
      "[{\"name\":\"c\",\"ascending\":true,\"type\":\"TEXT\"}]}]}]}",
      "table 't': duplicate index name 'I'");
  expect_json_rejected(
      "{\"tables\":[{\"name\":\"t\",\"columns\":[],\"indexes\":[{\"name\":"
      "\"i\",\"columns\":[]}]}]}",
      "table 't': index 'i' has no columns");
  expect_json_rejected(
      "{\"tables\":[{\"name\":\"t\",\"columns\":[],\"indexes\":[{\"name\":"
      "\"i#\",\"columns\":[]}]}]}",
      "table 't': invalid index name 'i#'");
  expect_json_rejected("{\"tables\":[{\"name\":\"t\",\"columns\":[],"
                       "\"local_only\":true,\"include_metadata\":true}]}",
                       "table 't': a local-only table cannot include metadata");
  expect_json_rejected("{\"tables\":[{\"name\":\"t\",\"columns\":[],"
                       "\"local_only\":true,\"include_old\":true}]}",
                       "cannot include old values");
  expect_json_rejected("{\"tables\":[{\"name\":\"t\",\"columns\":[],"
                       "\"local_only\":true,\"include_old\":[\"x\"]}]}",
                       "cannot include old values");
  expect_json_rejected("{\"tables\":[{\"name\":\"t\",\"columns\":[],"
                       "\"local_only\":true,"
                       "\"include_old_only_when_changed\":true}]}",
                       "cannot include old values");
  expect_json_rejected("{\"tables\":[{\"name\":\"t\",\"columns\":[]}],"
                       "\"raw_tables\":[{\"name\":\"t\",\"table_name\":"
                       "\"x\"}]}",
                       "duplicate table name 't'");
  expect_json_rejected("{\"tables\":[],\"raw_tables\":[{\"name\":\"r\","
                       "\"table_name\":\"x\"},{\"name\":\"r\",\"table_name\":"
                       "\"y\"}]}",
                       "duplicate table name 'r'");
  expect_json_rejected("{\"tables\":[],\"raw_tables\":[{\"name\":\"r\"}]}",
                       "raw table 'r': give either table_name");
}

/* 1999 columns are allowed, 2000 are not. */
static char *wide_table_json(int columns) {
  size_t cap = (size_t)columns * 48 + 64;
  char *p = malloc(cap);
  size_t len;
  int i;
  assert_non_null(p);
  len = (size_t)snprintf(p, cap, "{\"tables\":[{\"name\":\"w\",\"columns\":[");
  for (i = 0; i < columns; i++)
    len += (size_t)snprintf(p + len, cap - len,
                            "%s{\"name\":\"c%d\",\"type\":\"TEXT\"}",
                            i ? "," : "", i);
  snprintf(p + len, cap - len, "]}]}");
  return p;
}

static void column_limit(void **state) {
  powersync_schema *s = NULL;
  powersync_table *t = NULL;
  char *json = wide_table_json(1999);
  char name[32];
  int i, rc;
  (void)state;
  ASSERT_PS_OK(powersync_schema_from_json(&s, json));
  powersync_schema_free(s);
  free(json);
  json = wide_table_json(2000);
  expect_json_rejected(json, "table 'w': too many columns");
  free(json);

  s = powersync_schema_new();
  ASSERT_PS_OK(powersync_schema_add_table(s, "w", &t));
  for (i = 0; i < 1999; i++) {
    snprintf(name, sizeof(name), "c%d", i);
    ASSERT_PS_OK(powersync_table_add_column(t, name, POWERSYNC_COLUMN_TEXT));
  }
  rc = powersync_table_add_column(t, "last", POWERSYNC_COLUMN_TEXT);
  expect_error(rc, POWERSYNC_EINVAL, "table 'w': too many columns", "1999",
               NULL);
  ASSERT_PS_OK(powersync_schema_validate(s));
  powersync_schema_free(s);
}

/* ---- Rules enforced by the builder
 * --------------------------------------------- */

static void builder_rejects_invalid_names(void **state) {
  static const char *const bad[] = {"a\"b", "a'b", "a%b", "a,b",  "a.b",  "a#b",
                                    "a[b",  "a]b", "a b", "a\tb", "a\nb", ""};
  powersync_schema *s = powersync_schema_new();
  powersync_table *t = (powersync_table *)1;
  powersync_table *ok = NULL;
  powersync_index *ix = (powersync_index *)1;
  size_t i;
  (void)state;
  ASSERT_PS_OK(powersync_schema_add_table(s, "ok", &ok));
  ASSERT_PS_OK(powersync_table_add_column(ok, "c", POWERSYNC_COLUMN_TEXT));
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    expect_error(powersync_schema_add_table(s, bad[i], &t), POWERSYNC_EINVAL,
                 "table name", NULL);
    assert_null(t);
    expect_error(powersync_table_set_view_name(ok, bad[i]), POWERSYNC_EINVAL,
                 "view name", NULL);
    expect_error(powersync_table_add_column(ok, bad[i], POWERSYNC_COLUMN_TEXT),
                 POWERSYNC_EINVAL, "table 'ok'", "column name", NULL);
    expect_error(powersync_table_add_index(ok, bad[i], &ix), POWERSYNC_EINVAL,
                 "table 'ok'", "index name", NULL);
    assert_null(ix);
  }
  expect_error(powersync_schema_add_table(s, "a.b", &t), POWERSYNC_EINVAL,
               "invalid table name 'a.b'", "found '.'", NULL);
  expect_error(powersync_schema_add_table(s, "a b", &t), POWERSYNC_EINVAL,
               "invalid table name 'a b'", "white space", NULL);
  expect_error(powersync_schema_add_table(s, NULL, &t), POWERSYNC_EINVAL,
               "must not be empty", NULL);
  ASSERT_PS_OK(powersync_table_add_index(ok, "i", &ix));
  expect_error(powersync_index_add_column(ix, "c d", 1), POWERSYNC_EINVAL,
               "invalid index column name 'c d'", NULL);
  ASSERT_PS_OK(powersync_index_add_column(ix, "c", 1));
  /* Unicode letters and underscores are fine. */
  ASSERT_PS_OK(powersync_schema_add_table(s, "caf\xc3\xa9_2", &t));
  ASSERT_PS_OK(powersync_schema_validate(s));
  powersync_schema_free(s);
}

static void builder_rejects_duplicates(void **state) {
  powersync_schema *s = powersync_schema_new();
  powersync_table *a = NULL;
  powersync_table *b = NULL;
  powersync_table *t = NULL;
  powersync_index *ix = NULL;
  (void)state;
  ASSERT_PS_OK(powersync_schema_add_table(s, "a", &a));
  ASSERT_PS_OK(powersync_schema_add_table(s, "b", &b));
  expect_error(powersync_schema_add_table(s, "A", &t), POWERSYNC_EINVAL,
               "duplicate table name 'A'", "table 'a'", NULL);
  /* A view may not take another table's name, nor another view's. */
  expect_error(powersync_table_set_view_name(b, "a"), POWERSYNC_EINVAL,
               "duplicate table name 'a'", NULL);
  ASSERT_PS_OK(powersync_table_set_view_name(a, "view_a"));
  expect_error(powersync_schema_add_table(s, "VIEW_A", &t), POWERSYNC_EINVAL,
               "duplicate table name 'VIEW_A'", NULL);
  expect_error(powersync_table_set_view_name(b, "view_a"), POWERSYNC_EINVAL,
               "duplicate table name 'view_a'", NULL);
  /* Raw tables share the namespace. */
  ASSERT_PS_OK(powersync_schema_add_raw_table_json(
      s, "{\"name\":\"r\",\"table_name\":\"r_local\"}"));
  expect_error(powersync_schema_add_table(s, "r", &t), POWERSYNC_EINVAL,
               "raw table 'r'", NULL);
  expect_error(powersync_table_set_view_name(b, "r_local"), POWERSYNC_EINVAL,
               "raw table 'r'", NULL);
  expect_error(powersync_schema_add_raw_table_json(
                   s, "{\"name\":\"a\",\"table_name\":\"x\"}"),
               POWERSYNC_ESCHEMA, "duplicate table name 'a'", NULL);
  expect_error(powersync_schema_add_raw_table_json(
                   s, "{\"name\":\"R\",\"table_name\":\"x\"}"),
               POWERSYNC_ESCHEMA, "duplicate table name 'R'", NULL);
  expect_error(powersync_schema_add_raw_table_json(
                   s, "{\"name\":\"q\",\"table_name\":\"view_a\"}"),
               POWERSYNC_ESCHEMA,
               "table_name 'view_a' is the view of table "
               "'a'",
               NULL);
  expect_error(powersync_schema_add_raw_table_json(
                   s, "{\"name\":\"q\",\"table_name\":\"r_local\"}"),
               POWERSYNC_ESCHEMA, "same table_name 'r_local'", NULL);
  /* Columns and indexes. */
  ASSERT_PS_OK(powersync_table_add_column(a, "c", POWERSYNC_COLUMN_TEXT));
  expect_error(powersync_table_add_column(a, "C", POWERSYNC_COLUMN_INTEGER),
               POWERSYNC_EINVAL, "table 'a': duplicate column name 'C'", NULL);
  ASSERT_PS_OK(powersync_table_add_column(b, "c", POWERSYNC_COLUMN_TEXT));
  ASSERT_PS_OK(powersync_table_add_index(a, "i", &ix));
  expect_error(powersync_table_add_index(a, "I", &ix), POWERSYNC_EINVAL,
               "table 'a': duplicate index name 'I'", NULL);
  ASSERT_PS_OK(powersync_table_add_index(b, "i", &ix));
  ASSERT_PS_OK(powersync_index_add_column(ix, "c", 1));
  powersync_schema_free(s);
}

static void builder_rejects_id_column_and_bad_type(void **state) {
  powersync_schema *s = powersync_schema_new();
  powersync_table *t = NULL;
  (void)state;
  ASSERT_PS_OK(powersync_schema_add_table(s, "t", &t));
  expect_error(powersync_table_add_column(t, "id", POWERSYNC_COLUMN_TEXT),
               POWERSYNC_EINVAL, "table 't': a column must not be named 'id'",
               NULL);
  expect_error(powersync_table_add_column(t, "ID", POWERSYNC_COLUMN_TEXT),
               POWERSYNC_EINVAL, "'ID'", NULL);
  expect_error(powersync_table_add_column(t, "c", (powersync_column_type)7),
               POWERSYNC_EINVAL, "unknown column type 7", NULL);
  ASSERT_PS_OK(powersync_table_add_column(t, "ident", POWERSYNC_COLUMN_TEXT));
  powersync_schema_free(s);
}

static void local_only_excludes_metadata_and_old(void **state) {
  static const char *const cols[] = {"c"};
  powersync_schema *s = powersync_schema_new();
  powersync_table *t = NULL;
  (void)state;
  ASSERT_PS_OK(powersync_schema_add_table(s, "t", &t));
  expect_error(
      powersync_table_set_flags(t, POWERSYNC_TABLE_LOCAL_ONLY |
                                       POWERSYNC_TABLE_INCLUDE_METADATA),
      POWERSYNC_EINVAL, "table 't': a local-only table cannot include metadata",
      NULL);
  expect_error(powersync_table_set_flags(
                   t, POWERSYNC_TABLE_LOCAL_ONLY |
                          POWERSYNC_TABLE_INCLUDE_OLD_ONLY_WHEN_CHANGED),
               POWERSYNC_EINVAL, "cannot include old values", NULL);
  expect_error(powersync_table_set_flags(t, 1u << 10), POWERSYNC_EINVAL,
               "unknown flags", NULL);
  /* Either order of the two calls is refused. */
  ASSERT_PS_OK(powersync_table_set_flags(t, POWERSYNC_TABLE_LOCAL_ONLY));
  expect_error(powersync_table_set_include_old(t, NULL, 0), POWERSYNC_EINVAL,
               "cannot include old values", NULL);
  expect_error(powersync_table_set_include_old(t, cols, 1), POWERSYNC_EINVAL,
               "cannot include old values", NULL);
  ASSERT_PS_OK(powersync_table_set_flags(t, 0));
  ASSERT_PS_OK(powersync_table_set_include_old(t, cols, 1));
  expect_error(powersync_table_set_flags(t, POWERSYNC_TABLE_LOCAL_ONLY),
               POWERSYNC_EINVAL, "cannot include old values", NULL);
  ASSERT_PS_OK(powersync_table_set_flags(
      t, POWERSYNC_TABLE_INSERT_ONLY | POWERSYNC_TABLE_IGNORE_EMPTY_UPDATE));
  ASSERT_PS_OK(powersync_schema_validate(s));
  powersync_schema_free(s);
}

/* Index columns may be declared before the column; validate checks them. */
static void index_columns_checked_by_validate(void **state) {
  powersync_schema *s = powersync_schema_new();
  powersync_table *t = NULL;
  powersync_index *ix = NULL;
  powersync_index *empty = NULL;
  powersync_db *db = (powersync_db *)1;
  (void)state;
  ASSERT_PS_OK(powersync_schema_add_table(s, "t", &t));
  ASSERT_PS_OK(powersync_table_add_index(t, "i", &ix));
  ASSERT_PS_OK(powersync_index_add_column(ix, "later", 1));
  expect_error(powersync_schema_validate(s), POWERSYNC_ESCHEMA,
               "table 't': index 'i' refers to column 'later'", NULL);
  /* powersync_db_open refuses it the same way. */
  expect_error(powersync_db_open(&db, ":memory:", s, NULL), POWERSYNC_ESCHEMA,
               "index 'i'", NULL);
  assert_null(db);
  ASSERT_PS_OK(powersync_table_add_column(t, "later", POWERSYNC_COLUMN_REAL));
  ASSERT_PS_OK(powersync_schema_validate(s));
  ASSERT_PS_OK(powersync_table_add_index(t, "j", &empty));
  expect_error(powersync_schema_validate(s), POWERSYNC_ESCHEMA,
               "index 'j' has no columns", NULL);
  powersync_schema_free(s);
}

static void raw_table_json_errors(void **state) {
  powersync_schema *s = powersync_schema_new();
  (void)state;
  expect_error(powersync_schema_add_raw_table_json(s, "{\"name\":"),
               POWERSYNC_ESCHEMA, "invalid raw table JSON", NULL);
  expect_error(powersync_schema_add_raw_table_json(s, "{\"table_name\":\"x\"}"),
               POWERSYNC_ESCHEMA, "missing field `name`", NULL);
  expect_error(powersync_schema_add_raw_table_json(s, "{\"name\":\"x\"}"),
               POWERSYNC_ESCHEMA,
               "raw table 'x': give either table_name (statements are "
               "inferred) or both put and delete statements",
               NULL);
  expect_error(powersync_schema_add_raw_table_json(
                   s, "{\"name\":\"x\",\"put\":{\"sql\":\"s\",\"params\":[]}}"),
               POWERSYNC_ESCHEMA, "give either table_name", NULL);
  expect_error(powersync_schema_add_raw_table_json(s, "{\"name\":\"\"}"),
               POWERSYNC_ESCHEMA, "raw table name must not be empty", NULL);
  expect_error(powersync_schema_add_raw_table_json(s, NULL), POWERSYNC_EINVAL,
               NULL);
  ASSERT_PS_OK(powersync_schema_validate(s));
  powersync_schema_free(s);
}

static void null_arguments(void **state) {
  powersync_schema *s = powersync_schema_new();
  powersync_table *t = NULL;
  powersync_index *ix = NULL;
  char *json = (char *)1;
  static const char *const with_null[] = {"a", NULL};
  (void)state;
  powersync_schema_free(NULL);
  expect_error(powersync_schema_add_table(NULL, "x", &t), POWERSYNC_EINVAL,
               NULL);
  expect_error(powersync_schema_add_table(s, "x", NULL), POWERSYNC_EINVAL,
               NULL);
  expect_error(powersync_table_add_column(NULL, "x", 0), POWERSYNC_EINVAL,
               NULL);
  expect_error(powersync_table_set_view_name(NULL, "x"), POWERSYNC_EINVAL,
               NULL);
  expect_error(powersync_table_set_flags(NULL, 0), POWERSYNC_EINVAL, NULL);
  expect_error(powersync_table_set_include_old(NULL, NULL, 0), POWERSYNC_EINVAL,
               NULL);
  expect_error(powersync_table_add_index(NULL, "i", &ix), POWERSYNC_EINVAL,
               NULL);
  expect_error(powersync_index_add_column(NULL, "c", 1), POWERSYNC_EINVAL,
               NULL);
  expect_error(powersync_schema_validate(NULL), POWERSYNC_EINVAL, NULL);
  expect_error(powersync_schema_to_json(NULL, &json), POWERSYNC_EINVAL, NULL);
  assert_null(json);
  expect_error(powersync_schema_from_json(NULL, "{}"), POWERSYNC_EINVAL, NULL);
  ASSERT_PS_OK(powersync_schema_add_table(s, "x", &t));
  expect_error(powersync_table_set_include_old(t, with_null, 2),
               POWERSYNC_EINVAL, "include_old column 1 is NULL", NULL);
  /* The failed call left the previous setting alone. */
  json = to_json(s);
  assert_non_null(strstr(json, "\"include_old\":false"));
  powersync_free(json);
  powersync_schema_free(s);
}

/* Successful calls clear an earlier error of the thread. */
static void success_clears_error(void **state) {
  powersync_schema *s = powersync_schema_new();
  powersync_table *t = NULL;
  (void)state;
  assert_int_equal(powersync_schema_add_table(s, "", &t), POWERSYNC_EINVAL);
  ASSERT_PS_OK(powersync_schema_add_table(s, "t", &t));
  assert_int_equal(powersync_error_last()->code, POWERSYNC_OK);
  assert_string_equal(powersync_error_last()->message, "");
  powersync_schema_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(builder_writes_core_json),
      cmocka_unit_test(empty_schema_json),
      cmocka_unit_test(include_old_all_and_view_reset),
      cmocka_unit_test(json_escapes_names),
      cmocka_unit_test(core_accepts_written_schema),
      cmocka_unit_test(core_accepts_raw_tables),
      cmocka_unit_test(from_json_round_trip),
      cmocka_unit_test(from_json_normalises),
      cmocka_unit_test(from_json_rejects_bad_documents),
      cmocka_unit_test(from_json_validates),
      cmocka_unit_test(column_limit),
      cmocka_unit_test(builder_rejects_invalid_names),
      cmocka_unit_test(builder_rejects_duplicates),
      cmocka_unit_test(builder_rejects_id_column_and_bad_type),
      cmocka_unit_test(local_only_excludes_metadata_and_old),
      cmocka_unit_test(index_columns_checked_by_validate),
      cmocka_unit_test(raw_table_json_errors),
      cmocka_unit_test(null_arguments),
      cmocka_unit_test(success_clears_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
