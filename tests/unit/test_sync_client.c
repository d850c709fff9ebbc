/*
 * test_sync_client.c: the sync engine behind powersync_control (core-sync.md),
 * driven through SQL on Debian's SQLite 3.40: the golden iteration of the
 * upstream tests, data line checksums, checksum failures, the BSON keepalive,
 * statement hygiene (nothing busy after a call, closing with an active
 * iteration), and retrying a line after SQLITE_BUSY.
 *
 * The clock is mocked by overriding unixepoch(), which the engine's time
 * expression prefers over its julianday() fallback (core-sync.md 14.4).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "ext_test_helpers.h"

/* 2025-03-01T10:00:00Z, the start of the upstream tests' mocked clock. */
#define MOCK_EPOCH 1740823200.0

static double mock_now = MOCK_EPOCH;

static void mock_unixepoch(sqlite3_context *ctx, int argc,
                           sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  sqlite3_result_double(ctx, mock_now);
}

static void setup_db(sqlite3 *db) {
  th_init(db);
  th_exec(db, "BEGIN; SELECT powersync_replace_schema('{\"tables\":[{\"name\":"
              "\"items\",\"columns\":[{\"name\":\"col\",\"type\":\"text\"}]}]}'"
              "); COMMIT;");
  th_exec(db, "UPDATE ps_kv SET value = 'test-test-test-test' WHERE key = "
              "'client_id'");
  assert_int_equal(sqlite3_create_function(db, "unixepoch", -1, SQLITE_UTF8,
                                           NULL, mock_unixepoch, NULL, NULL),
                   SQLITE_OK);
  mock_now = MOCK_EPOCH;
}

static sqlite3 *open_db(void) {
  sqlite3 *db = th_open();
  setup_db(db);
  return db;
}

/* Fails when any statement of the connection is still busy. */
static void expect_no_busy_statements(sqlite3 *db) {
  sqlite3_stmt *s = NULL;
  while ((s = sqlite3_next_stmt(db, s)) != NULL) {
    if (sqlite3_stmt_busy(s))
      fprintf(stderr, "busy statement: %s\n", sqlite3_sql(s));
    assert_false(sqlite3_stmt_busy(s));
  }
}

/* Runs powersync_control(op, payload) in its own transaction; returns the
 * result text (sqlite3_free it) or NULL with *rc set on failure. */
static char *control_rc(sqlite3 *db, const char *op, const char *payload,
                        int *rc_out) {
  sqlite3_stmt *stmt;
  char *out = NULL;
  int rc;
  th_exec(db, "BEGIN");
  stmt = th_prepare(db, "SELECT powersync_control(?1, ?2)");
  sqlite3_bind_text(stmt, 1, op, -1, SQLITE_STATIC);
  if (payload)
    sqlite3_bind_text(stmt, 2, payload, -1, SQLITE_STATIC);
  rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    const unsigned char *t = sqlite3_column_text(stmt, 0);
    out = sqlite3_mprintf("%s", t ? (const char *)t : "NULL");
    rc = SQLITE_OK;
  } else {
    rc = sqlite3_extended_errcode(db);
  }
  sqlite3_finalize(stmt);
  expect_no_busy_statements(db);
  th_exec(db, rc == SQLITE_OK ? "COMMIT" : "ROLLBACK");
  *rc_out = rc;
  return out;
}

static void expect_control(sqlite3 *db, const char *op, const char *payload,
                           const char *expected) {
  int rc;
  char *got = control_rc(db, op, payload, &rc);
  if (rc != SQLITE_OK)
    fprintf(stderr, "%s failed: %s\n", op, sqlite3_errmsg(db));
  assert_int_equal(rc, SQLITE_OK);
  if (strcmp(got, expected) != 0)
    fprintf(stderr, "%s %s\n  expected: %s\n  got:      %s\n", op,
            payload ? payload : "NULL", expected, got);
  assert_string_equal(got, expected);
  sqlite3_free(got);
}

#define STATUS_START                                                           \
  "{\"UpdateSyncStatus\":{\"status\":{\"connected\":false,\"connecting\":"     \
  "true,"                                                                      \
  "\"priority_status\":[],\"downloading\":null,\"streams\":[]}}}"
#define REQUEST_EMPTY                                                          \
  "\"include_checksum\":true,\"raw_data\":true,\"binary_data\":true,"          \
  "\"client_id\":\"test-test-test-test\",\"parameters\":null,\"streams\":{"    \
  "\"include_defaults\":true,\"subscriptions\":[]}"

static const char CHECKPOINT_A[] =
    "{\"checkpoint\":{\"last_op_id\":\"1\",\"write_checkpoint\":null,"
    "\"buckets\":[{\"bucket\":\"a\",\"checksum\":0,\"priority\":3,"
    "\"count\":1}]}}";
static const char DATA_A[] =
    "{\"data\":{\"bucket\":\"a\",\"has_more\":false,\"after\":null,"
    "\"next_after\":null,\"data\":[{\"op_id\":\"1\",\"op\":\"PUT\","
    "\"object_type\":\"items\",\"object_id\":\"1\",\"checksum\":0,"
    "\"data\":\"{\\\"col\\\":\\\"hi\\\"}\"}]}}";

/* dart/test/goldens/simple_iteration.json (core-sync.md 22.1). */
static void golden_simple_iteration(void **state) {
  sqlite3 *db = open_db();
  (void)state;
  expect_control(db, "start", NULL,
                 "[" STATUS_START ",{\"EstablishSyncStream\":{\"request\":{"
                 "\"buckets\":[]," REQUEST_EMPTY "}}}]");
  expect_control(
      db, "line_text", CHECKPOINT_A,
      "[{\"UpdateSyncStatus\":{\"status\":{\"connected\":true,\"connecting\":"
      "false,\"priority_status\":[],\"downloading\":{\"buckets\":{\"prio_3\":{"
      "\"priority\":3,\"at_last\":0,\"since_last\":0,\"target_count\":1}}},"
      "\"streams\":[]}}}]");
  expect_control(db, "line_text", "{\"token_expires_in\":60}", "[]");
  expect_control(
      db, "line_text", DATA_A,
      "[{\"UpdateSyncStatus\":{\"status\":{\"connected\":true,\"connecting\":"
      "false,\"priority_status\":[],\"downloading\":{\"buckets\":{\"prio_3\":{"
      "\"priority\":3,\"at_last\":0,\"since_last\":1,\"target_count\":1}}},"
      "\"streams\":[]}}}]");
  expect_control(
      db, "line_text", "{\"checkpoint_complete\":{\"last_op_id\":\"1\"}}",
      "[{\"LogLine\":{\"severity\":\"DEBUG\",\"line\":\"Validated and applied "
      "checkpoint\"}},{\"DidCompleteSync\":{}},{\"UpdateSyncStatus\":{"
      "\"status\":{\"connected\":true,\"connecting\":false,\"priority_status\":"
      "[{\"priority\":2147483647,\"last_synced_at\":1740823200000000,"
      "\"has_synced\":true}],\"downloading\":null,\"streams\":[]}}}]");
  expect_control(db, "line_text", "{\"token_expires_in\":10}",
                 "[{\"FetchCredentials\":{\"did_expire\":false}}]");
  th_expect_rows(db, "SELECT id, col FROM items", "1|hi");
  th_expect_rows(db,
                 "SELECT name, last_applied_op, last_op, count_at_last, "
                 "count_since_last FROM ps_buckets",
                 "a|1|1|1|0");
  th_close(db);
}

/* The verified example of core-sync.md 12.2. */
static void data_line_checksums(void **state) {
  sqlite3 *db = open_db();
  int rc;
  (void)state;
  th_exec(db, "INSERT INTO ps_buckets(id, name, last_applied_op, last_op, "
              "add_checksum, op_checksum) VALUES (1, 'a', 5, 5, 25, 11);"
              "INSERT INTO ps_oplog(bucket, op_id, row_type, row_id, key, "
              "data, hash) VALUES (1, 5, 'items', 'r1', 'items/r1/null', "
              "'{}', 11)");
  sqlite3_free(control_rc(db, "start", NULL, &rc));
  assert_int_equal(rc, SQLITE_OK);
  sqlite3_free(
      control_rc(db, "line_text",
                 "{\"data\":{\"bucket\":\"a\",\"data\":["
                 "{\"op_id\":\"6\",\"op\":\"PUT\",\"object_type\":\"items\","
                 "\"object_id\":\"r3\",\"checksum\":1,\"data\":\"{}\"},"
                 "{\"op_id\":\"7\",\"op\":\"REMOVE\",\"object_type\":\"items\","
                 "\"object_id\":\"r1\",\"checksum\":2},"
                 "{\"op_id\":\"8\",\"op\":\"MOVE\",\"checksum\":3},"
                 "{\"op_id\":\"9\",\"op\":\"REMOVE\",\"object_type\":\"items\","
                 "\"object_id\":\"rX\",\"checksum\":4},"
                 "{\"op_id\":\"10\",\"op\":\"PUT\",\"object_type\":\"items\","
                 "\"object_id\":\"r4\",\"checksum\":5}]}}",
                 &rc));
  assert_int_equal(rc, SQLITE_OK);
  th_expect_rows(db,
                 "SELECT add_checksum, op_checksum, last_op FROM ps_buckets",
                 "45|6|10");
  th_expect_rows(db, "SELECT * FROM ps_updated_rows", "items|r1");
  th_expect_rows(db, "SELECT op_id, hash FROM ps_oplog ORDER BY op_id",
                 "6|1;10|5");
  th_close(db);
}

static void checksum_failure_closes_stream(void **state) {
  sqlite3 *db = open_db();
  int rc;
  (void)state;
  sqlite3_free(control_rc(db, "start", NULL, &rc));
  sqlite3_free(control_rc(
      db, "line_text",
      "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
      "\"checksum\":1234}]}}",
      &rc));
  sqlite3_free(control_rc(
      db, "line_text",
      "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":\"PUT\","
      "\"object_type\":\"items\",\"object_id\":\"1\",\"checksum\":4321,"
      "\"data\":\"{}\"}]}}",
      &rc));
  expect_control(
      db, "line_text", "{\"checkpoint_complete\":{}}",
      "[{\"LogLine\":{\"severity\":\"WARNING\",\"line\":\"Could not apply "
      "checkpoint, Checksums didn't match, failed for: a (expected "
      "0x000004d2, got 0x000010e1 = 0x000010e1 (op) + 0x00000000 (add))\"}},"
      "{\"CloseSyncStream\":{\"hide_disconnect\":false}}]");
  th_expect_rows(db, "SELECT count(*) FROM ps_buckets", "0");
  th_expect_error(db, "BEGIN; SELECT powersync_control('line_text', '{}'); ",
                  SQLITE_MISUSE,
                  "powersync_control: invalid state: No iteration is active");
  th_exec(db, "ROLLBACK");
  th_close(db);
}

/* core-sync.md 10.7: BSON {"token_expires_in": 60}. */
static void bson_keepalive(void **state) {
  static const unsigned char line[] = {0x1b, 0x00, 0x00, 0x00, 0x10, 't', 'o',
                                       'k',  'e',  'n',  '_',  'e',  'x', 'p',
                                       'i',  'r',  'e',  's',  '_',  'i', 'n',
                                       0x00, 0x3c, 0x00, 0x00, 0x00, 0x00};
  sqlite3 *db = open_db();
  sqlite3_stmt *stmt;
  int rc;
  (void)state;
  sqlite3_free(control_rc(db, "start", NULL, &rc));
  th_exec(db, "BEGIN");
  stmt = th_prepare(db, "SELECT powersync_control('line_binary', ?1)");
  sqlite3_bind_blob(stmt, 1, line, sizeof(line), SQLITE_STATIC);
  assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
  /* First line: the status becomes connected. */
  assert_string_equal(
      (const char *)sqlite3_column_text(stmt, 0),
      "[{\"UpdateSyncStatus\":{\"status\":{\"connected\":true,\"connecting\":"
      "false,\"priority_status\":[],\"downloading\":null,\"streams\":[]}}}]");
  assert_int_equal(sqlite3_column_type(stmt, 0), SQLITE_TEXT);
  sqlite3_finalize(stmt);
  th_exec(db, "COMMIT");
  th_close(db);
}

/* core-sync.md 22.10 item 63: cached statements are released at close. */
static void close_with_active_iteration(void **state) {
  sqlite3 *db = open_db();
  int rc;
  (void)state;
  sqlite3_free(control_rc(db, "start", NULL, &rc));
  sqlite3_free(control_rc(db, "line_text", CHECKPOINT_A, &rc));
  sqlite3_free(control_rc(db, "line_text", DATA_A, &rc));
  assert_int_equal(rc, SQLITE_OK);
  th_close(db); /* sqlite3_close fails if a statement is left */
}

static void connection_events(void **state) {
  sqlite3 *db = open_db();
  int rc;
  (void)state;
  expect_control(db, "stop", NULL, "[]");
  sqlite3_free(control_rc(db, "start", NULL, &rc));
  expect_control(
      db, "connection", "established",
      "[{\"UpdateSyncStatus\":{\"status\":{\"connected\":true,\"connecting\":"
      "false,\"priority_status\":[],\"downloading\":null,\"streams\":[]}}}]");
  expect_control(db, "connection", "established", "[]");
  expect_control(
      db, "connection", "end",
      "[{\"UpdateSyncStatus\":{\"status\":{\"connected\":false,\"connecting\":"
      "false,\"priority_status\":[],\"downloading\":null,\"streams\":[]}}},"
      "{\"CloseSyncStream\":{\"hide_disconnect\":false}}]");
  sqlite3_free(control_rc(db, "start", NULL, &rc));
  expect_control(db, "refreshed_token", NULL,
                 "[{\"CloseSyncStream\":{\"hide_disconnect\":true}}]");
  th_close(db);
}

/* core-sync.md 22.8 items 50 and 51: BUSY leaves the iteration intact. */
static void busy_lines_can_be_retried(void **state) {
  char path[] = "/tmp/ps_sync_busyXXXXXX";
  sqlite3 *db, *other;
  char *out;
  int fd = mkstemp(path), rc;
  (void)state;
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  {
    char *err = NULL;
    assert_int_equal(sqlite3_powersync_init(db, &err, NULL), SQLITE_OK);
  }
  setup_db(db);
  th_exec(db, "INSERT INTO ps_buckets(name) VALUES ('unrelated')");
  sqlite3_free(control_rc(db, "start", NULL, &rc));
  th_exec(other, "BEGIN EXCLUSIVE");
  out = control_rc(db, "line_text", CHECKPOINT_A, &rc);
  assert_null(out);
  assert_int_equal(rc, SQLITE_BUSY);
  th_exec(other, "COMMIT");
  th_expect_rows(db, "SELECT name FROM ps_buckets", "unrelated");
  sqlite3_free(control_rc(db, "line_text", CHECKPOINT_A, &rc));
  assert_int_equal(rc, SQLITE_OK);
  th_expect_rows(db, "SELECT count(*) FROM ps_buckets", "0");
  th_exec(other, "BEGIN EXCLUSIVE");
  assert_null(control_rc(db, "line_text", DATA_A, &rc));
  assert_int_equal(rc, SQLITE_BUSY);
  th_exec(other, "COMMIT");
  expect_control(
      db, "line_text", DATA_A,
      "[{\"UpdateSyncStatus\":{\"status\":{\"connected\":true,\"connecting\":"
      "false,\"priority_status\":[],\"downloading\":{\"buckets\":{\"prio_3\":{"
      "\"priority\":3,\"at_last\":0,\"since_last\":1,\"target_count\":1}}},"
      "\"streams\":[]}}}]");
  th_close(db);
  sqlite3_close(other);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(golden_simple_iteration),
      cmocka_unit_test(data_line_checksums),
      cmocka_unit_test(checksum_failure_closes_stream),
      cmocka_unit_test(bson_keepalive),
      cmocka_unit_test(close_with_active_iteration),
      cmocka_unit_test(connection_events),
      cmocka_unit_test(busy_lines_can_be_retried),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
