/*
 * test_sync_config.c: the dev server's sync config compiler
 * (tools/devserver/sync_config.h) against a source database shaped like the
 * real-service fixtures (tests/differential/fixtures/real-service/README.md):
 * the fixture's config must put the fixture's rows into the same buckets
 * with byte-identical data JSON and give user-a exactly the fixture's
 * buckets; streams, lookups, aliases, request/subscription parameters and
 * load errors (with YAML line numbers) are covered beyond that.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "sync_config.h"

#define LIST_A  "11111111-1111-4111-8111-111111111111"
#define LIST_B  "22222222-2222-4222-8222-222222222222"
#define TODO_A1 "aaaaaaa1-0000-4000-8000-000000000001"
#define TODO_A2 "aaaaaaa1-0000-4000-8000-000000000002"
#define TODO_A5 "aaaaaaa1-0000-4000-8000-000000000005"
#define TODO_B1 "bbbbbbb2-0000-4000-8000-000000000001"

/* The real service's row data for these rows (copied from the fixtures
 * initial-sync-user-a/-b.ndjson and live-changes-user-a.ndjson). */
static const char LIST_A_JSON[] =
    "{\"id\":\"" LIST_A "\",\"created_at\":\"2026-01-01 10:00:00Z\","
    "\"name\":\"Groceries\",\"owner_id\":\"user-a\"}";
static const char LIST_B_JSON[] =
    "{\"id\":\"" LIST_B "\",\"created_at\":\"2026-01-01 10:05:00Z\","
    "\"name\":\"Work\",\"owner_id\":\"user-b\"}";
static const char TODO_A1_JSON[] =
    "{\"id\":\"" TODO_A1 "\",\"created_at\":\"2026-01-01 11:00:00Z\","
    "\"completed_at\":null,\"description\":\"Buy milk\",\"completed\":0,"
    "\"created_by\":\"user-a\",\"list_id\":\"" LIST_A "\",\"priority\":1,"
    "\"score\":1.5}";
static const char TODO_A2_JSON[] =
    "{\"id\":\"" TODO_A2 "\",\"created_at\":\"2026-01-01 11:01:00Z\","
    "\"completed_at\":null,\"description\":\"Buy eggs\",\"completed\":1,"
    "\"created_by\":\"user-a\",\"list_id\":\"" LIST_A "\",\"priority\":2,"
    "\"score\":null}";
static const char TODO_A5_JSON[] =
    "{\"id\":\"" TODO_A5 "\",\"created_at\":\"2026-01-02 11:00:01Z\","
    "\"completed_at\":null,\"description\":\"Unicode: caf\xc3\xa9 "
    "\xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac\",\"completed\":0,"
    "\"created_by\":\"user-a\",\"list_id\":\"" LIST_A "\",\"priority\":null,"
    "\"score\":-0.001}";
static const char TODO_B1_JSON[] =
    "{\"id\":\"" TODO_B1 "\",\"created_at\":\"2026-01-01 11:02:00Z\","
    "\"completed_at\":null,\"description\":\"Write report\",\"completed\":0,"
    "\"created_by\":\"user-b\",\"list_id\":\"" LIST_B "\",\"priority\":3,"
    "\"score\":0.25}";

/* The fixture service's config, verbatim from the README. */
static const char FIXTURE_CONFIG[] =
    "bucket_definitions:\n"
    "  global:\n"
    "    data:\n"
    "      - SELECT * FROM lists\n"
    "  user_todos:\n"
    "    parameters: SELECT request.user_id() AS user_id\n"
    "    data:\n"
    "      - SELECT * FROM todos WHERE created_by = bucket.user_id\n";

static const char STREAMS_CONFIG[] =
    "config:\n"
    "  edition: 3\n"
    "streams:\n"
    "  lists:\n"
    "    query: SELECT * FROM lists WHERE owner_id = auth.user_id()\n"
    "    auto_subscribe: true\n"
    "  todos:\n"
    "    query: SELECT * FROM todos WHERE list_id = "
    "subscription.parameter('list')\n"
    "    priority: 1\n"
    "  list_todos:\n"
    "    query: SELECT * FROM todos WHERE list_id IN (SELECT id FROM lists "
    "WHERE owner_id = auth.user_id())\n";

static const char SOURCE_SQL[] =
    "CREATE TABLE lists(id TEXT PRIMARY KEY, created_at TEXT, name TEXT,"
    " owner_id TEXT);"
    "CREATE TABLE todos(id TEXT PRIMARY KEY, created_at TEXT,"
    " completed_at TEXT, description TEXT, completed INTEGER,"
    " created_by TEXT, list_id TEXT REFERENCES lists(id) ON DELETE CASCADE,"
    " priority INTEGER, score REAL);"
    "INSERT INTO lists VALUES"
    " ('" LIST_A "', '2026-01-01 10:00:00Z', 'Groceries', 'user-a'),"
    " ('" LIST_B "', '2026-01-01 10:05:00Z', 'Work', 'user-b');"
    "INSERT INTO todos VALUES"
    " ('" TODO_A1 "', '2026-01-01 11:00:00Z', NULL, 'Buy milk', 0, 'user-a',"
    "  '" LIST_A "', 1, 1.5),"
    " ('" TODO_A2 "', '2026-01-01 11:01:00Z', NULL, 'Buy eggs', 1, 'user-a',"
    "  '" LIST_A "', 2, NULL),"
    " ('" TODO_B1 "', '2026-01-01 11:02:00Z', NULL, 'Write report', 0,"
    "  'user-b', '" LIST_B "', 3, 0.25),"
    " ('" TODO_A5 "', '2026-01-02 11:00:01Z', NULL,"
    "  'Unicode: caf\xc3\xa9 \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac', 0,"
    "  'user-a', '" LIST_A "', NULL, -0.001);";

/* --- Fixture: a fresh source database per test ----------------------- */

static int open_source(void **state) {
  char path[1024];
  const char *dir = getenv("PS_TEST_DIR");
  sqlite3 *db = NULL;
  snprintf(path, sizeof(path), "%s/sync_config.db", dir && *dir ? dir : ".");
  unlink(path);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, SOURCE_SQL, NULL, NULL, NULL), SQLITE_OK);
  *state = db;
  return 0;
}

static int close_source(void **state) {
  sqlite3_close(*state);
  return 0;
}

static void exec(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
    fail_msg("%s: %s", sql, msg);
}

static struct psd_sync_config *load(sqlite3 *db, const char *yaml) {
  struct psd_sync_config *cfg = NULL;
  char err[512] = "";
  if (psd_sync_config_load(yaml, strlen(yaml), db, &cfg, err, sizeof(err)) != 0)
    fail_msg("load failed: %s", err);
  assert_non_null(cfg);
  return cfg;
}

/* Loading must fail with a message holding every fragment (NULL-ended). */
static void expect_load_error(sqlite3 *db, const char *yaml, ...) {
  struct psd_sync_config *cfg = (struct psd_sync_config *)1;
  char err[512] = "";
  const char *fragment;
  va_list ap;
  if (psd_sync_config_load(yaml, strlen(yaml), db, &cfg, err, sizeof(err)) !=
      -1)
    fail_msg("load succeeded for:\n%s", yaml);
  assert_null(cfg);
  va_start(ap, yaml);
  while ((fragment = va_arg(ap, const char *)) != NULL) {
    if (!strstr(err, fragment))
      fail_msg("error '%s' lacks '%s'", err, fragment);
  }
  va_end(ap);
}

/* --- Row side -------------------------------------------------------- */

struct row_result {
  char bucket[256];
  char type[64];
  char id[128];
  char data[1024];
};

struct rows {
  struct row_result r[16];
  size_t n;
};

static int collect_row(void *user_data, const char *bucket_id,
                       const char *object_type, const char *object_id,
                       const char *data_json) {
  struct rows *rows = user_data;
  struct row_result *r;
  assert_true(rows->n < 16);
  r = &rows->r[rows->n++];
  snprintf(r->bucket, sizeof(r->bucket), "%s", bucket_id);
  snprintf(r->type, sizeof(r->type), "%s", object_type);
  snprintf(r->id, sizeof(r->id), "%s", object_id);
  snprintf(r->data, sizeof(r->data), "%s", data_json);
  return 0;
}

static int64_t rowid_of(sqlite3 *db, const char *table, const char *id) {
  sqlite3_stmt *stmt = NULL;
  char sql[256];
  int64_t rowid;
  snprintf(sql, sizeof(sql), "SELECT rowid FROM %s WHERE id = ?", table);
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
  sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
  rowid = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  return rowid;
}

static struct rows eval_row(const struct psd_sync_config *cfg, sqlite3 *db,
                            const char *table, const char *id) {
  struct rows rows;
  char err[256] = "";
  memset(&rows, 0, sizeof(rows));
  if (psd_sync_config_evaluate_row(cfg, db, NULL, table,
                                   rowid_of(db, table, id), collect_row, &rows,
                                   err, sizeof(err)) != 0)
    fail_msg("evaluate_row: %s", err);
  return rows;
}

static void expect_row(const struct rows *rows, size_t i, const char *bucket,
                       const char *type, const char *id, const char *data) {
  assert_true(i < rows->n);
  assert_string_equal(rows->r[i].bucket, bucket);
  assert_string_equal(rows->r[i].type, type);
  assert_string_equal(rows->r[i].id, id);
  if (data)
    assert_string_equal(rows->r[i].data, data);
}

/* --- Request side ---------------------------------------------------- */

struct bucket_result {
  char id[256];
  int priority;
  char stream[64];
  int is_default;
  int subscription;
};

struct buckets {
  struct bucket_result b[16];
  size_t n;
  char errors[8][256]; /* "<stream>#<subscription>: <message>" */
  size_t error_count;
};

static int collect_bucket(void *user_data, const char *bucket_id, int priority,
                          const char *stream, int is_default,
                          int subscription) {
  struct buckets *out = user_data;
  struct bucket_result *b;
  assert_true(out->n < 16);
  b = &out->b[out->n++];
  snprintf(b->id, sizeof(b->id), "%s", bucket_id);
  snprintf(b->stream, sizeof(b->stream), "%s", stream);
  b->priority = priority;
  b->is_default = is_default;
  b->subscription = subscription;
  return 0;
}

static int collect_error(void *user_data, const char *stream, int subscription,
                         const char *message) {
  struct buckets *out = user_data;
  assert_true(out->error_count < 8);
  snprintf(out->errors[out->error_count++], sizeof(out->errors[0]), "%s#%d: %s",
           stream, subscription, message);
  return 0;
}

static struct buckets request(const struct psd_sync_config *cfg, sqlite3 *db,
                              const struct psd_request *req) {
  struct buckets out;
  char err[256] = "";
  memset(&out, 0, sizeof(out));
  if (psd_sync_config_request_buckets(cfg, db, req, collect_bucket,
                                      collect_error, &out, err,
                                      sizeof(err)) != 0)
    fail_msg("request_buckets: %s", err);
  return out;
}

static struct psd_request user_request(const char *user, const char *jwt) {
  struct psd_request req;
  memset(&req, 0, sizeof(req));
  req.user_id = user;
  req.jwt_payload_json = jwt;
  req.include_defaults = 1;
  return req;
}

static void expect_bucket(const struct buckets *out, size_t i, const char *id,
                          int priority, const char *stream, int is_default,
                          int subscription) {
  assert_true(i < out->n);
  assert_string_equal(out->b[i].id, id);
  assert_int_equal(out->b[i].priority, priority);
  assert_string_equal(out->b[i].stream, stream);
  assert_int_equal(out->b[i].is_default, is_default);
  assert_int_equal(out->b[i].subscription, subscription);
}

/* ---- The real service's config ------------------------------------------ */

static void fixture_config_lists_tables_and_streams(void **state) {
  struct psd_sync_config *cfg = load(*state, FIXTURE_CONFIG);
  assert_int_equal(psd_sync_config_table_count(cfg), 2);
  assert_string_equal(psd_sync_config_table(cfg, 0), "lists");
  assert_string_equal(psd_sync_config_table(cfg, 1), "todos");
  assert_int_equal(psd_sync_config_stream_count(cfg), 2);
  assert_string_equal(psd_sync_config_stream_name(cfg, 0), "global");
  assert_string_equal(psd_sync_config_stream_name(cfg, 1), "user_todos");
  assert_true(psd_sync_config_stream_is_default(cfg, 0));
  assert_true(psd_sync_config_stream_is_default(cfg, 1));
  psd_sync_config_free(cfg);
}

static void fixture_rows_match_the_service(void **state) {
  sqlite3 *db = *state;
  struct psd_sync_config *cfg = load(db, FIXTURE_CONFIG);
  struct rows rows = eval_row(cfg, db, "lists", LIST_A);
  assert_int_equal(rows.n, 1);
  expect_row(&rows, 0, "1#global[]", "lists", LIST_A, LIST_A_JSON);
  rows = eval_row(cfg, db, "lists", LIST_B);
  assert_int_equal(rows.n, 1);
  expect_row(&rows, 0, "1#global[]", "lists", LIST_B, LIST_B_JSON);
  rows = eval_row(cfg, db, "todos", TODO_A1);
  assert_int_equal(rows.n, 1);
  expect_row(&rows, 0, "1#user_todos[\"user-a\"]", "todos", TODO_A1,
             TODO_A1_JSON);
  rows = eval_row(cfg, db, "todos", TODO_A2);
  expect_row(&rows, 0, "1#user_todos[\"user-a\"]", "todos", TODO_A2,
             TODO_A2_JSON);
  rows = eval_row(cfg, db, "todos", TODO_B1);
  expect_row(&rows, 0, "1#user_todos[\"user-b\"]", "todos", TODO_B1,
             TODO_B1_JSON);
  rows = eval_row(cfg, db, "TODOS", TODO_A5); /* Table names ignore case. */
  expect_row(&rows, 0, "1#user_todos[\"user-a\"]", "todos", TODO_A5,
             TODO_A5_JSON);
  psd_sync_config_free(cfg);
}

static void deleted_or_unrelated_rows_yield_nothing(void **state) {
  sqlite3 *db = *state;
  struct psd_sync_config *cfg = load(db, FIXTURE_CONFIG);
  struct rows rows;
  char err[128];
  int64_t rowid = rowid_of(db, "todos", TODO_A1);
  exec(db, "DELETE FROM todos WHERE id = '" TODO_A1 "'");
  memset(&rows, 0, sizeof(rows));
  assert_int_equal(psd_sync_config_evaluate_row(cfg, db, NULL, "todos", rowid,
                                                collect_row, &rows, err,
                                                sizeof(err)),
                   0);
  assert_int_equal(psd_sync_config_evaluate_row(cfg, db, NULL, "other", 1,
                                                collect_row, &rows, err,
                                                sizeof(err)),
                   0);
  assert_int_equal(rows.n, 0);
  /* A NULL bucket parameter puts the row in no bucket. */
  exec(db, "UPDATE todos SET created_by = NULL WHERE id = '" TODO_A2 "'");
  rows = eval_row(cfg, db, "todos", TODO_A2);
  assert_int_equal(rows.n, 0);
  psd_sync_config_free(cfg);
}

static void fixture_request_for_user_a(void **state) {
  sqlite3 *db = *state;
  struct psd_sync_config *cfg = load(db, FIXTURE_CONFIG);
  struct psd_request req = user_request("user-a", "{\"sub\":\"user-a\"}");
  struct buckets out = request(cfg, db, &req);
  assert_int_equal(out.n, 2);
  assert_int_equal(out.error_count, 0);
  expect_bucket(&out, 0, "1#global[]", 3, "global", 1, -1);
  expect_bucket(&out, 1, "1#user_todos[\"user-a\"]", 3, "user_todos", 1, -1);
  req.include_defaults = 0; /* Bucket definitions are default streams. */
  out = request(cfg, db, &req);
  assert_int_equal(out.n, 0);
  psd_sync_config_free(cfg);
}

/* ---- Streams ------------------------------------------------------------ */

static void streams_row_side(void **state) {
  sqlite3 *db = *state;
  struct psd_sync_config *cfg = load(db, STREAMS_CONFIG);
  struct rows rows = eval_row(cfg, db, "lists", LIST_A);
  assert_int_equal(rows.n, 1);
  expect_row(&rows, 0, "1#lists[\"user-a\"]", "lists", LIST_A, LIST_A_JSON);
  rows = eval_row(cfg, db, "todos", TODO_A1);
  assert_int_equal(rows.n, 2);
  expect_row(&rows, 0, "1#todos[\"" LIST_A "\"]", "todos", TODO_A1,
             TODO_A1_JSON);
  expect_row(&rows, 1, "1#list_todos[\"" LIST_A "\"]", "todos", TODO_A1,
             TODO_A1_JSON);
  assert_int_equal(psd_sync_config_stream_count(cfg), 3);
  assert_true(psd_sync_config_stream_is_default(cfg, 0));
  assert_false(psd_sync_config_stream_is_default(cfg, 1));
  assert_false(psd_sync_config_stream_is_default(cfg, 2));
  assert_int_equal(psd_sync_config_table_count(cfg), 2);
  psd_sync_config_free(cfg);
}

static void streams_request_side(void **state) {
  sqlite3 *db = *state;
  struct psd_sync_config *cfg = load(db, STREAMS_CONFIG);
  struct psd_subscription subs[] = {
      {"todos", "{\"list\":\"L-1\"}", 0},
      {"list_todos", NULL, -1},
      {"lists", NULL, -1}, /* Explicitly too: reported once per way. */
  };
  struct psd_request req = user_request("user-a", "{\"sub\":\"user-a\"}");
  struct buckets out;
  exec(db, "INSERT INTO lists VALUES ('L-3', NULL, 'Holiday', 'user-a')");
  req.subscriptions = subs;
  req.subscription_count = 3;
  out = request(cfg, db, &req);
  assert_int_equal(out.error_count, 0);
  assert_int_equal(out.n, 5);
  expect_bucket(&out, 0, "1#lists[\"user-a\"]", 3, "lists", 1, -1);
  expect_bucket(&out, 1, "1#todos[\"L-1\"]", 0, "todos", 0, 0);
  expect_bucket(&out, 2, "1#list_todos[\"" LIST_A "\"]", 3, "list_todos", 0, 1);
  expect_bucket(&out, 3, "1#list_todos[\"L-3\"]", 3, "list_todos", 0, 1);
  expect_bucket(&out, 4, "1#lists[\"user-a\"]", 3, "lists", 0, 2);
  /* Without defaults only the explicit subscriptions count. */
  req.include_defaults = 0;
  req.subscription_count = 1;
  out = request(cfg, db, &req);
  assert_int_equal(out.n, 1);
  expect_bucket(&out, 0, "1#todos[\"L-1\"]", 0, "todos", 0, 0);
  psd_sync_config_free(cfg);
}

static void stream_subscription_errors(void **state) {
  sqlite3 *db = *state;
  struct psd_sync_config *cfg = load(db, STREAMS_CONFIG);
  struct psd_subscription subs[] = {
      {"nope", NULL, -1},
      {"todos", NULL, -1},
      {"todos", "[1]", -1},
      {"todos", "{\"list\":null}", 2},
  };
  struct psd_request req = user_request("user-b", "{\"sub\":\"user-b\"}");
  struct buckets out;
  req.include_defaults = 0;
  req.subscriptions = subs;
  req.subscription_count = 4;
  out = request(cfg, db, &req);
  assert_int_equal(out.n, 0); /* A null parameter value: no bucket. */
  assert_int_equal(out.error_count, 3);
  assert_string_equal(out.errors[0], "nope#0: unknown stream 'nope'");
  assert_string_equal(out.errors[1],
                      "todos#1: missing subscription parameter 'list'");
  assert_string_equal(out.errors[2],
                      "todos#2: subscription parameters must be a JSON object");
  psd_sync_config_free(cfg);
}

static void default_stream_sees_null_subscription_parameters(void **state) {
  sqlite3 *db = *state;
  struct psd_sync_config *cfg =
      load(db, "streams:\n"
               "  picked:\n"
               "    query: SELECT * FROM todos WHERE list_id = "
               "subscription.parameter('list')\n"
               "    auto_subscribe: true\n"
               "  everything:\n"
               "    query: SELECT * FROM lists\n"
               "    auto_subscribe: true\n");
  struct psd_request req = user_request("user-a", "{}");
  struct buckets out = request(cfg, db, &req);
  assert_int_equal(out.error_count, 0);
  assert_int_equal(out.n, 1);
  expect_bucket(&out, 0, "1#everything[]", 3, "everything", 1, -1);
  psd_sync_config_free(cfg);
}

static void stream_in_array_and_token_values(void **state) {
  sqlite3 *db = *state;
  struct psd_sync_config *cfg =
      load(db, "streams:\n"
               "  several:\n"
               "    query: SELECT * FROM todos WHERE list_id IN "
               "subscription.parameter('lists') AND priority = "
               "connection.parameter('p')\n"
               "  org:\n"
               "    query: SELECT id FROM lists WHERE owner_id = "
               "auth.parameter('org') AND name <> 'x'\n"
               "  org2:\n"
               "    query: SELECT id FROM lists WHERE auth.parameters() ->> "
               "'org' = owner_id\n");
  struct psd_subscription subs[] = {
      {"several", "{\"lists\":[\"a\",\"b\",null]}", -1},
      {"several", "{\"lists\":\"c\"}", -1},
      {"org", NULL, -1},
      {"org2", NULL, -1},
  };
  struct psd_request req =
      user_request("user-a", "{\"sub\":\"user-a\",\"org\":\"user-b\"}");
  struct buckets out;
  struct rows rows;
  req.params_json = "{\"p\":1}";
  req.subscriptions = subs;
  req.subscription_count = 4;
  out = request(cfg, db, &req);
  assert_int_equal(out.error_count, 0);
  assert_int_equal(out.n, 5);
  expect_bucket(&out, 0, "1#several[\"a\",1]", 3, "several", 0, 0);
  expect_bucket(&out, 1, "1#several[\"b\",1]", 3, "several", 0, 0);
  expect_bucket(&out, 2, "1#several[\"c\",1]", 3, "several", 0, 1);
  expect_bucket(&out, 3, "1#org[\"user-b\"]", 3, "org", 0, 2);
  expect_bucket(&out, 4, "1#org2[\"user-b\"]", 3, "org2", 0, 3);
  rows = eval_row(cfg, db, "todos", TODO_A1);
  assert_int_equal(rows.n, 1);
  expect_row(&rows, 0, "1#several[\"" LIST_A "\",1]", "todos", TODO_A1,
             TODO_A1_JSON);
  rows = eval_row(cfg, db, "lists", LIST_B);
  assert_int_equal(rows.n, 2);
  expect_row(&rows, 0, "1#org[\"user-b\"]", "lists", LIST_B,
             "{\"id\":\"" LIST_B "\"}");
  expect_row(&rows, 1, "1#org2[\"user-b\"]", "lists", LIST_B, NULL);
  psd_sync_config_free(cfg);
}

static void stream_with_several_queries(void **state) {
  sqlite3 *db = *state;
  struct psd_sync_config *cfg =
      load(db, "streams:\n"
               "  mine:\n"
               "    auto_subscribe: true\n"
               "    priority: 2\n"
               "    queries:\n"
               "      - SELECT * FROM lists WHERE owner_id = auth.user_id()\n"
               "      - SELECT * FROM todos WHERE created_by = "
               "auth.user_id()\n");
  struct psd_request req = user_request("user-b", "{}");
  struct buckets out = request(cfg, db, &req);
  struct rows rows = eval_row(cfg, db, "lists", LIST_B);
  expect_row(&rows, 0, "1#mine|0[\"user-b\"]", "lists", LIST_B, LIST_B_JSON);
  rows = eval_row(cfg, db, "todos", TODO_B1);
  expect_row(&rows, 0, "1#mine|1[\"user-b\"]", "todos", TODO_B1, TODO_B1_JSON);
  assert_int_equal(out.n, 2);
  expect_bucket(&out, 0, "1#mine|0[\"user-b\"]", 2, "mine", 1, -1);
  expect_bucket(&out, 1, "1#mine|1[\"user-b\"]", 2, "mine", 1, -1);
  psd_sync_config_free(cfg);
}

/* ---- Bucket definitions with lookups ------------------------------------ */

static const char LOOKUP_CONFIG[] =
    "bucket_definitions:\n"
    "  by_list:\n"
    "    parameters: SELECT id AS list_id FROM lists WHERE owner_id = "
    "request.user_id()\n"
    "    data:\n"
    "      - SELECT * FROM todos WHERE list_id = bucket.list_id\n"
    "      - SELECT id, name AS title FROM lists AS my_lists WHERE "
    "bucket.list_id = my_lists.id\n"
    "    priority: 1\n"
    "  by_org:\n"
    "    parameters: SELECT request.jwt() ->> 'org' AS org\n"
    "    data:\n"
    "      - SELECT id, description FROM todos WHERE created_by = "
    "bucket.org\n"
    "  by_team:\n"
    "    parameters:\n"
    "      - SELECT request.parameters() ->> 'team' AS team\n"
    "      - SELECT 'Groceries' AS team WHERE token_parameters.admin\n"
    "    data:\n"
    "      - SELECT id FROM lists WHERE name = bucket.team\n";

static void lookup_definitions_row_side(void **state) {
  sqlite3 *db = *state;
  struct psd_sync_config *cfg = load(db, LOOKUP_CONFIG);
  struct rows rows = eval_row(cfg, db, "todos", TODO_A1);
  assert_int_equal(rows.n, 2);
  expect_row(&rows, 0, "1#by_list[\"" LIST_A "\"]", "todos", TODO_A1,
             TODO_A1_JSON);
  expect_row(&rows, 1, "1#by_org[\"user-a\"]", "todos", TODO_A1,
             "{\"id\":\"" TODO_A1 "\",\"description\":\"Buy milk\"}");
  rows = eval_row(cfg, db, "lists", LIST_A);
  assert_int_equal(rows.n, 2);
  expect_row(&rows, 0, "1#by_list[\"" LIST_A "\"]", "my_lists", LIST_A,
             "{\"id\":\"" LIST_A "\",\"title\":\"Groceries\"}");
  expect_row(&rows, 1, "1#by_team[\"Groceries\"]", "lists", LIST_A,
             "{\"id\":\"" LIST_A "\"}");
  assert_int_equal(psd_sync_config_table_count(cfg), 2);
  psd_sync_config_free(cfg);
}

static void lookup_definitions_request_side(void **state) {
  sqlite3 *db = *state;
  struct psd_sync_config *cfg = load(db, LOOKUP_CONFIG);
  struct psd_request req =
      user_request("user-a", "{\"sub\":\"user-a\",\"org\":\"acme\","
                             "\"parameters\":{\"admin\":true}}");
  struct buckets out;
  exec(db, "INSERT INTO lists VALUES ('L-3', NULL, 'Holiday', 'user-a')");
  req.params_json = "{\"team\":\"Work\"}";
  out = request(cfg, db, &req);
  assert_int_equal(out.error_count, 0);
  assert_int_equal(out.n, 5);
  expect_bucket(&out, 0, "1#by_list[\"" LIST_A "\"]", 1, "by_list", 1, -1);
  expect_bucket(&out, 1, "1#by_list[\"L-3\"]", 1, "by_list", 1, -1);
  expect_bucket(&out, 2, "1#by_org[\"acme\"]", 3, "by_org", 1, -1);
  expect_bucket(&out, 3, "1#by_team[\"Work\"]", 3, "by_team", 1, -1);
  expect_bucket(&out, 4, "1#by_team[\"Groceries\"]", 3, "by_team", 1, -1);
  /* No org claim, no connection parameters: null values, as the service. */
  req = user_request("user-c", "{\"sub\":\"user-c\"}");
  out = request(cfg, db, &req);
  assert_int_equal(out.n, 2);
  expect_bucket(&out, 0, "1#by_org[null]", 3, "by_org", 1, -1);
  expect_bucket(&out, 1, "1#by_team[null]", 3, "by_team", 1, -1);
  psd_sync_config_free(cfg);
}

static void parameters_keep_declaration_order(void **state) {
  sqlite3 *db = *state;
  struct psd_sync_config *cfg = load(
      db, "bucket_definitions:\n"
          "  two:\n"
          "    parameters: SELECT request.user_id() AS u, "
          "request.jwt() ->> 'n' AS n\n"
          "    data:\n"
          "      - SELECT * FROM todos WHERE priority = bucket.n AND "
          "completed = 0 AND created_by = bucket.u AND priority BETWEEN 0 AND "
          "5 AND description <> 'request.user_id()'\n");
  struct psd_request req = user_request("user-a", "{\"n\":1}");
  struct buckets out = request(cfg, db, &req);
  struct rows rows = eval_row(cfg, db, "todos", TODO_A1);
  assert_int_equal(out.n, 1);
  expect_bucket(&out, 0, "1#two[\"user-a\",1]", 3, "two", 1, -1);
  assert_int_equal(rows.n, 1);
  expect_row(&rows, 0, "1#two[\"user-a\",1]", "todos", TODO_A1, TODO_A1_JSON);
  rows = eval_row(cfg, db, "todos", TODO_A2); /* completed = 1: filtered. */
  assert_int_equal(rows.n, 0);
  psd_sync_config_free(cfg);
}

/* ---- Value rendering ---------------------------------------------------- */

static void values_render_like_the_service(void **state) {
  sqlite3 *db = *state;
  struct psd_sync_config *cfg;
  struct rows rows;
  static const struct {
    const char *sql;
    const char *json;
  } reals[] = {
      {"2.0", "2"},
      {"1e21", "1e+21"},
      {"1e20", "100000000000000000000"},
      {"1e-7", "1e-7"},
      {"0.000001", "0.000001"},
      {"123.456", "123.456"},
      {"0.1", "0.1"},
      {"-1.5e-10", "-1.5e-10"},
      {"5e-324", "5e-324"},
      {"1.7976931348623157e308", "1.7976931348623157e+308"},
      {"-0.0", "0"},
  };
  size_t i;
  exec(db, "CREATE TABLE vals(id INTEGER PRIMARY KEY, r, t TEXT, b BLOB);"
           "INSERT INTO vals VALUES (7, 9007199254740993, "
           "'q\"b\\s' || char(10, 1, 9) || 'é', x'00ff');");
  cfg = load(db, "bucket_definitions:\n"
                 "  v:\n"
                 "    data: [SELECT * FROM vals]\n");
  rows = eval_row(cfg, db, "vals", "7");
  assert_int_equal(rows.n, 1);
  expect_row(&rows, 0, "1#v[]", "vals", "7",
             "{\"id\":7,\"r\":9007199254740993,"
             "\"t\":\"q\\\"b\\\\s\\n\\u0001\\t\xc3\xa9\"}");
  for (i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
    char sql[128], want[128];
    snprintf(sql, sizeof(sql), "UPDATE vals SET r = %s, t = NULL, b = NULL",
             reals[i].sql);
    exec(db, sql);
    rows = eval_row(cfg, db, "vals", "7");
    snprintf(want, sizeof(want), "{\"id\":7,\"r\":%s,\"t\":null,\"b\":null}",
             reals[i].json);
    expect_row(&rows, 0, "1#v[]", "vals", "7", want);
  }
  psd_sync_config_free(cfg);
}

/* ---- Load errors -------------------------------------------------------- */

static void load_errors_name_the_line(void **state) {
  sqlite3 *db = *state;
  expect_load_error(db,
                    "bucket_definitions:\n"
                    "  global:\n"
                    "    data:\n"
                    "      - SELECT * FROM lists\n"
                    "      - SELECT * FROM nope\n",
                    "sync config line 5: ", "no such table: nope", NULL);
  expect_load_error(db,
                    "bucket_definitions:\n"
                    "  global:\n"
                    "    data:\n"
                    "      - SELECT id, nope FROM lists\n",
                    "sync config line 4: ", "no such column: nope",
                    "data query", NULL);
  expect_load_error(
      db,
      "bucket_definitions:\n"
      "  mine:\n"
      "    parameters: SELECT request.foo() AS x\n"
      "    data: [SELECT * FROM lists WHERE owner_id = "
      "bucket.x]\n",
      "sync config line 3: ", "unsupported function 'request.foo()'", NULL);
  expect_load_error(
      db,
      "bucket_definitions:\n"
      "  user_todos:\n"
      "    parameters: SELECT request.user_id() AS user_id\n"
      "    data:\n"
      "      - SELECT * FROM todos\n",
      "sync config line 5: ", "does not bind bucket parameter 'user_id'", NULL);
  expect_load_error(
      db,
      "bucket_definitions:\n"
      "  user_todos:\n"
      "    parameters: SELECT request.user_id() AS user_id\n"
      "    data:\n"
      "      - SELECT * FROM todos WHERE created_by = "
      "bucket.user\n",
      "sync config line 5: ", "unknown bucket parameter 'bucket.user'", NULL);
  expect_load_error(db,
                    "bucket_definitions:\n"
                    "  global:\n"
                    "    data:\n"
                    "      - SELECT * FROM lists\n"
                    "    priority: [1\n",
                    "sync config line ", "YAML syntax error", NULL);
  expect_load_error(db,
                    "bucket_definitions:\n"
                    "  global:\n"
                    "    data: [SELECT * FROM lists]\n"
                    "    priority: 7\n",
                    "sync config line 4: ", "priority must be an integer 0..3",
                    NULL);
  psd_sync_config_free(NULL);
}

static void load_errors_for_misplaced_functions(void **state) {
  sqlite3 *db = *state;
  expect_load_error(db,
                    "bucket_definitions:\n"
                    "  d:\n"
                    "    data: [SELECT * FROM lists WHERE owner_id = "
                    "auth.user_id()]\n",
                    "sync config line 3: ", "can only use bucket parameters",
                    NULL);
  expect_load_error(db,
                    "streams:\n"
                    "  s:\n"
                    "    query: SELECT * FROM lists WHERE owner_id = "
                    "request.user_id()\n",
                    "sync config line 3: ", "cannot be used in stream queries",
                    NULL);
  expect_load_error(db,
                    "streams:\n"
                    "  s:\n"
                    "    query: SELECT *, auth.user_id() AS me FROM lists\n",
                    "sync config line 3: ", "cannot be selected", NULL);
  expect_load_error(db,
                    "streams:\n"
                    "  s:\n"
                    "    query: SELECT * FROM lists WHERE owner_id = "
                    "auth.user_id() OR name = 'x'\n",
                    "sync config line 3: ", "unsupported condition", NULL);
  expect_load_error(
      db,
      "bucket_definitions:\n"
      "  d:\n"
      "    parameters: SELECT auth.user_id() AS u\n"
      "    data: [SELECT * FROM lists WHERE owner_id = "
      "bucket.u]\n",
      "sync config line 3: ", "cannot be used in parameter queries", NULL);
  expect_load_error(db,
                    "bucket_definitions:\n"
                    "  d:\n"
                    "    parameters: SELECT request.user_id() AS u\n"
                    "    data: [SELECT * FROM lists WHERE owner_id = "
                    "bucket.u AND name = bucket.u]\n",
                    "sync config line 4: ", "bound twice", NULL);
  expect_load_error(db,
                    "bucket_definitions:\n"
                    "  d:\n"
                    "    parameters: SELECT request.user_id() AS u\n"
                    "    data: [SELECT * FROM lists WHERE owner_id = "
                    "lower(bucket.u)]\n",
                    "sync config line 4: ", "compared directly", NULL);
}

static void load_errors_for_query_shapes(void **state) {
  sqlite3 *db = *state;
  expect_load_error(
      db,
      "bucket_definitions:\n"
      "  global:\n"
      "    data:\n"
      "      - |\n"
      "        SELECT *\n"
      "        FROM lists\n"
      "        WHERE name = auth.nothing()\n",
      "sync config line 7: ", "unsupported function 'auth.nothing()'", NULL);
  expect_load_error(db,
                    "bucket_definitions:\n"
                    "  g:\n"
                    "    data: [SELECT name FROM lists]\n",
                    "sync config line 3: ", "must select an id column", NULL);
  expect_load_error(db,
                    "bucket_definitions:\n"
                    "  g:\n"
                    "    data:\n"
                    "      - SELECT id, upper(name) FROM lists\n",
                    "needs a name", NULL);
  expect_load_error(db,
                    "bucket_definitions:\n"
                    "  g:\n"
                    "    data: [SELECT * FROM lists JOIN todos ON "
                    "todos.list_id = lists.id]\n",
                    "sync config line 3: ", "unsupported 'JOIN'", NULL);
  expect_load_error(db,
                    "bucket_definitions:\n"
                    "  g:\n"
                    "    data: [SELECT * FROM lists WHERE id = ?]\n",
                    "SQL parameters", NULL);
  expect_load_error(db,
                    "bucket_definitions:\n"
                    "  g:\n"
                    "    data: [SELECT * FROM lists]\n"
                    "    colour: blue\n",
                    "sync config line 4: ", "unsupported key 'colour'", NULL);
  expect_load_error(db,
                    "bucket_definitions:\n"
                    "  g:\n"
                    "    data: [SELECT * FROM lists]\n"
                    "streams:\n"
                    "  g:\n"
                    "    query: SELECT * FROM lists\n",
                    "sync config line 5: ", "duplicate definition name 'g'",
                    NULL);
  expect_load_error(db,
                    "streams:\n"
                    "  s:\n"
                    "    auto_subscribe: maybe\n"
                    "    query: SELECT * FROM lists\n",
                    "sync config line 3: ", "expected true or false", NULL);
  expect_load_error(db, "", "sync config is empty", NULL);
  expect_load_error(db, "config:\n  edition: 2\n",
                    "defines no bucket_definitions or streams", NULL);
  expect_load_error(db, "event_definitions: {}\n",
                    "unsupported top-level key 'event_definitions'", NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(fixture_config_lists_tables_and_streams,
                                      open_source, close_source),
      cmocka_unit_test_setup_teardown(fixture_rows_match_the_service,
                                      open_source, close_source),
      cmocka_unit_test_setup_teardown(deleted_or_unrelated_rows_yield_nothing,
                                      open_source, close_source),
      cmocka_unit_test_setup_teardown(fixture_request_for_user_a, open_source,
                                      close_source),
      cmocka_unit_test_setup_teardown(streams_row_side, open_source,
                                      close_source),
      cmocka_unit_test_setup_teardown(streams_request_side, open_source,
                                      close_source),
      cmocka_unit_test_setup_teardown(stream_subscription_errors, open_source,
                                      close_source),
      cmocka_unit_test_setup_teardown(
          default_stream_sees_null_subscription_parameters, open_source,
          close_source),
      cmocka_unit_test_setup_teardown(stream_in_array_and_token_values,
                                      open_source, close_source),
      cmocka_unit_test_setup_teardown(stream_with_several_queries, open_source,
                                      close_source),
      cmocka_unit_test_setup_teardown(lookup_definitions_row_side, open_source,
                                      close_source),
      cmocka_unit_test_setup_teardown(lookup_definitions_request_side,
                                      open_source, close_source),
      cmocka_unit_test_setup_teardown(parameters_keep_declaration_order,
                                      open_source, close_source),
      cmocka_unit_test_setup_teardown(values_render_like_the_service,
                                      open_source, close_source),
      cmocka_unit_test_setup_teardown(load_errors_name_the_line, open_source,
                                      close_source),
      cmocka_unit_test_setup_teardown(load_errors_for_misplaced_functions,
                                      open_source, close_source),
      cmocka_unit_test_setup_teardown(load_errors_for_query_shapes, open_source,
                                      close_source),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
