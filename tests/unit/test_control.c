/*
 * test_control.c: the ps_kv operations of powersync_control (core-storage.md
 * 9.3, core-sync.md 4) and powersync_offline_sync_status (2.4.9, 13.4, 13.7).
 *
 * Expected texts and values were checked against the official 0.5.3 binary.
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

#include "ext_test_helpers.h"

#define TARGET_CALL(arg)                                                       \
  "powersync_control('target_checkpoint_request_id', " arg ")"
#define TARGET(arg) "SELECT " TARGET_CALL(arg)
#define TARGET_TYPE_ERROR                                                      \
  "powersync_control: invalid argument: target checkpoint request id must "    \
  "be an integer, integer string, or null. cause: unknown"
#define TARGET_NEGATIVE_ERROR                                                  \
  "powersync_control: invalid argument: target checkpoint request id must "    \
  "be a non-negative integer. cause: unknown"
#define KV_ROWS                                                                \
  "SELECT key, value, typeof(value) FROM ps_kv WHERE key != 'client_id' "      \
  "ORDER BY key"

static sqlite3 *open_in_transaction(void) {
  sqlite3 *db = th_open();
  th_init(db);
  th_exec(db, "BEGIN");
  return db;
}

static void control_requires_transaction_first(void **state) {
  sqlite3 *db = th_open();
  (void)state;
  /* Checked before the (invalid) operation name. */
  th_expect_error(db, "SELECT powersync_control('STOP', NULL)", SQLITE_MISUSE,
                  "powersync_control: This function may only be called in "
                  "transactions.");
  th_close(db);
}

static void control_validates_operation(void **state) {
  sqlite3 *db = th_open();
  (void)state;
  th_exec(db, "BEGIN");
  th_expect_error(db, "SELECT powersync_control(NULL, NULL)",
                  SQLITE_CONSTRAINT_DATATYPE,
                  "powersync_control: invalid argument: First argument must "
                  "be a string. cause: unknown");
  th_expect_error(db, "SELECT powersync_control(1, NULL)",
                  SQLITE_CONSTRAINT_DATATYPE,
                  "powersync_control: invalid argument: First argument must "
                  "be a string. cause: unknown");
  /* Names are case-sensitive. */
  th_expect_error(db, "SELECT powersync_control('STOP', NULL)",
                  SQLITE_CONSTRAINT_DATATYPE,
                  "powersync_control: invalid argument: Unknown operation. "
                  "cause: unknown");
  th_expect_error(db,
                  "SELECT powersync_control('target_checkpoint_request_id' "
                  "|| char(0), NULL)",
                  SQLITE_CONSTRAINT_DATATYPE,
                  "powersync_control: invalid argument: Unknown operation. "
                  "cause: unknown");
  th_exec(db, "ROLLBACK");
  th_close(db);
}

/* Payload errors are serde's messages with serde_json's positions, checked
 * byte for byte against the official core (also on multi-line payloads). */
static void control_payload_errors_match_serde(void **state) {
  static const struct {
    const char *op;
    const char *payload;
    const char *message;
  } cases[] = {
      {"start", "{\n  \"include_defaults\": 1,\n  \"x\": 2\n}",
       "powersync_control: invalid argument: . cause: invalid type: integer "
       "`1`, expected a boolean at line 2 column 23"},
      {"start", "{\"schema\":{}}",
       "powersync_control: invalid argument: . cause: missing field `tables` "
       "at line 1 column 12"},
      {"start", "null",
       "powersync_control: invalid argument: . cause: invalid type: null, "
       "expected struct StartSyncStream at line 1 column 4"},
      {"start", "{\"parameters\":{\"a\":1},\"parameters\":{\"b\":2}}",
       "powersync_control: invalid argument: . cause: duplicate field "
       "`parameters` at line 1 column 34"},
      {"start", "{\"checkpoint_mode\":\"x\"}",
       "powersync_control: invalid argument: . cause: unknown variant `x`, "
       "expected `legacy` or `requests` at line 1 column 22"},
      {"start", "{\"active_streams\":[{}]}",
       "powersync_control: invalid argument: . cause: missing field `name` at "
       "line 1 column 21"},
      {"subscriptions",
       "{\"subscribe\":{\"stream\":{\"name\":\"a\"},\"priority\":-1}}",
       "powersync_control: invalid argument: . cause: invalid argument: "
       "Invalid bucket priority value. cause: unknown at line 1 column 49"},
      {"subscriptions", "\"subscribe\"",
       "powersync_control: invalid argument: . cause: invalid type: unit "
       "variant, expected newtype variant"},
      {"subscriptions",
       "{\"subscribe\":{\"stream\":{\"name\":\"a\"},\"ttl\":-1}}",
       "powersync_control: invalid argument: . cause: invalid value: integer "
       "`-1`, expected u64 at line 1 column 44"},
      {"subscriptions",
       "{\n \"unsubscribe\": {\n   \"name\": \"a\", \"name\": \"b\"}}",
       "powersync_control: invalid argument: . cause: duplicate field `name` "
       "at line 3 column 22"},
      {"update_subscriptions", "[{\"name\":5}]",
       "powersync_control: invalid argument: . cause: invalid type: integer "
       "`5`, expected a string at line 1 column 10"},
      {"update_subscriptions", "[\n  {\"name\": \"a\"},\n  {\"params\": 1}\n]",
       "powersync_control: invalid argument: . cause: missing field `name` at "
       "line 3 column 15"},
  };
  sqlite3 *db = open_in_transaction();
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    sqlite3_stmt *stmt = th_prepare(db, "SELECT powersync_control(?, ?)");
    sqlite3_bind_text(stmt, 1, cases[i].op, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, cases[i].payload, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(stmt), SQLITE_CONSTRAINT);
    assert_int_equal(sqlite3_extended_errcode(db), SQLITE_CONSTRAINT_DATATYPE);
    if (strcmp(sqlite3_errmsg(db), cases[i].message) != 0)
      fail_msg("%s %s: got '%s', expected '%s'", cases[i].op, cases[i].payload,
               sqlite3_errmsg(db), cases[i].message);
    sqlite3_finalize(stmt);
  }
  th_exec(db, "ROLLBACK");
  th_close(db);
}

static void control_target_reads_sets_and_deletes(void **state) {
  sqlite3 *db = open_in_transaction();
  (void)state;
  th_expect_text(db, TARGET("NULL"), "NULL");
  th_expect_text(db, TARGET("5"), "NULL"); /* Returns the previous value. */
  th_expect_text(db, "SELECT typeof(" TARGET_CALL("NULL") ")", "integer");
  th_expect_text(db, TARGET("'7'"), "5");
  th_expect_text(db, TARGET("'+9'"), "7");
  th_expect_text(db, TARGET("'9223372036854775807'"), "9");
  th_expect_rows(db, KV_ROWS,
                 "target_checkpoint_request_id|9223372036854775807|integer");
  th_expect_text(db, TARGET("'00012'"), "9223372036854775807");
  th_expect_text(db, TARGET("'-0'"), "12"); /* Zero deletes. */
  th_expect_rows(db, KV_ROWS, "");
  th_expect_text(db, TARGET("0"), "NULL");
  th_exec(db, "ROLLBACK");
  th_close(db);
}

static void control_target_rejects_bad_payloads(void **state) {
  static const char *const type_errors[] = {
      "' 8'",  "'9 '", "3.0",   "3.5",
      "x'33'", "''",   "'abc'", "'99999999999999999999'",
      "'-'",   "'+'",
  };
  sqlite3 *db = open_in_transaction();
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(type_errors) / sizeof(type_errors[0]); i++) {
    char *sql = sqlite3_mprintf(
        "SELECT powersync_control('target_checkpoint_request_id', %s)",
        type_errors[i]);
    th_expect_error(db, sql, SQLITE_CONSTRAINT_DATATYPE, TARGET_TYPE_ERROR);
    sqlite3_free(sql);
  }
  th_expect_error(db, TARGET("-3"), SQLITE_CONSTRAINT_DATATYPE,
                  TARGET_NEGATIVE_ERROR);
  th_expect_error(db, TARGET("'-3'"), SQLITE_CONSTRAINT_DATATYPE,
                  TARGET_NEGATIVE_ERROR);
  th_expect_error(db, TARGET("'-9223372036854775808'"),
                  SQLITE_CONSTRAINT_DATATYPE, TARGET_NEGATIVE_ERROR);
  th_exec(db, "ROLLBACK");
  th_close(db);
}

static void control_target_converts_stored_values(void **state) {
  sqlite3 *db = open_in_transaction();
  (void)state;
  /* The previous value is read as sqlite3_column_int64 reads it. */
  th_exec(db, "INSERT INTO ps_kv VALUES ('target_checkpoint_request_id', "
              "4.5)");
  th_expect_text(db, TARGET("NULL"), "4");
  th_exec(db, "UPDATE ps_kv SET value = x'3132' WHERE key = "
              "'target_checkpoint_request_id'");
  th_expect_text(db, TARGET("NULL"), "12");
  th_exec(db, "UPDATE ps_kv SET value = NULL WHERE key = "
              "'target_checkpoint_request_id'");
  th_expect_text(db, TARGET("NULL"), "0");
  th_exec(db, "ROLLBACK");
  th_close(db);
}

static void control_current_request_id(void **state) {
  sqlite3 *db = open_in_transaction();
  (void)state;
  th_expect_text(db,
                 "SELECT powersync_control('current_checkpoint_request_id', "
                 "NULL)",
                 "NULL");
  th_exec(db, "INSERT INTO ps_kv VALUES "
              "('last_requested_checkpoint_request_id', '43')");
  /* The payload is ignored. */
  th_expect_text(db,
                 "SELECT powersync_control('current_checkpoint_request_id', "
                 "'x') || typeof(powersync_control("
                 "'current_checkpoint_request_id', NULL))",
                 "43integer");
  th_exec(db, "ROLLBACK");
  th_close(db);
}

static void control_request_ids_need_iteration(void **state) {
  sqlite3 *db = th_open();
  (void)state;
  /* Checked before the storage tables and the payload. */
  th_exec(db, "BEGIN");
  th_expect_error(db,
                  "SELECT powersync_control('seed_checkpoint_request_id', "
                  "NULL)",
                  SQLITE_MISUSE,
                  "powersync_control: invalid state: No iteration is active");
  th_expect_error(db,
                  "SELECT powersync_control('next_checkpoint_request_id', "
                  "NULL)",
                  SQLITE_MISUSE,
                  "powersync_control: invalid state: No iteration is active");
  th_exec(db, "ROLLBACK");
  th_close(db);
}

static void control_seed_and_next_during_iteration(void **state) {
  struct ps__state *st;
  sqlite3 *db = th_open_with_state(&st);
  (void)state;
  th_init(db);
  st->sync_iteration_active = 1;
  th_exec(db, "BEGIN");
  th_expect_error(db,
                  "SELECT powersync_control('next_checkpoint_request_id', "
                  "NULL)",
                  SQLITE_MISUSE,
                  "powersync_control: invalid state: Checkpoint request "
                  "state has not been seeded");
  th_expect_error(db,
                  "SELECT powersync_control('seed_checkpoint_request_id', "
                  "NULL)",
                  SQLITE_CONSTRAINT_DATATYPE,
                  "powersync_control: invalid argument: checkpoint request "
                  "id must be an integer or integer string. cause: unknown");
  th_expect_error(db,
                  "SELECT powersync_control('seed_checkpoint_request_id', "
                  "2.0)",
                  SQLITE_CONSTRAINT_DATATYPE,
                  "powersync_control: invalid argument: checkpoint request "
                  "id must be an integer or integer string. cause: unknown");
  th_expect_error(db,
                  "SELECT powersync_control('seed_checkpoint_request_id', "
                  "'-0')",
                  SQLITE_CONSTRAINT_DATATYPE,
                  "powersync_control: invalid argument: checkpoint request "
                  "id must be a positive integer. cause: unknown");
  th_expect_error(db,
                  "SELECT powersync_control('seed_checkpoint_request_id', "
                  "-4)",
                  SQLITE_CONSTRAINT_DATATYPE,
                  "powersync_control: invalid argument: checkpoint request "
                  "id must be a non-negative integer. cause: unknown");
  th_expect_text(db,
                 "SELECT powersync_control('seed_checkpoint_request_id', "
                 "'+12')",
                 "12");
  th_expect_rows(db, KV_ROWS,
                 "last_requested_checkpoint_request_id|12|"
                 "integer");
  th_expect_text(db,
                 "SELECT powersync_control('next_checkpoint_request_id', "
                 "'junk')",
                 "13");
  th_exec(db, "UPDATE ps_kv SET value = '20x' WHERE key = "
              "'last_requested_checkpoint_request_id'");
  th_expect_text(db,
                 "SELECT powersync_control('next_checkpoint_request_id', "
                 "NULL)",
                 "21");
  th_exec(db, "UPDATE ps_kv SET value = NULL WHERE key = "
              "'last_requested_checkpoint_request_id'");
  th_expect_text(db,
                 "SELECT powersync_control('next_checkpoint_request_id', "
                 "NULL)",
                 "0");
  th_exec(db, "ROLLBACK");
  st->sync_iteration_active = 0;
  th_close(db);
  ps__state_unref(st);
}

static void control_needs_storage_tables(void **state) {
  sqlite3 *db = th_open();
  (void)state;
  th_exec(db, "BEGIN");
  /* Payload errors come first. */
  th_expect_error(db, TARGET("'abc'"), SQLITE_CONSTRAINT_DATATYPE,
                  TARGET_TYPE_ERROR);
  th_expect_error(db, TARGET("NULL"), SQLITE_ERROR,
                  "powersync_control: statement SELECT name, count_at_last, "
                  "count_since_last FROM ps_buckets: internal SQLite call "
                  "returned ERROR: no such table: ps_buckets");
  th_exec(db, "CREATE TABLE ps_buckets(name, count_at_last, "
              "count_since_last)");
  th_expect_error(db,
                  "SELECT powersync_control('current_checkpoint_request_id', "
                  "NULL)",
                  SQLITE_ERROR,
                  "powersync_control: statement DELETE FROM "
                  "ps_stream_subscriptions WHERE id = ?: internal SQLite "
                  "call returned ERROR: no such table: "
                  "ps_stream_subscriptions");
  th_exec(db, "CREATE TABLE ps_stream_subscriptions(id, x)");
  th_expect_error(db, TARGET("NULL"), SQLITE_ERROR,
                  "powersync_control: statement UPDATE "
                  "ps_stream_subscriptions SET active = ?2, is_default = ?3, "
                  "ttl = ?, expires_at = ?, last_synced_at = ? WHERE id = "
                  "?1: internal SQLite call returned ERROR: no such column: "
                  "active");
  th_exec(db, "DROP TABLE ps_stream_subscriptions;"
              "CREATE TABLE ps_stream_subscriptions(id, active, is_default, "
              "ttl, expires_at, last_synced_at)");
  th_expect_error(db, TARGET("NULL"), SQLITE_ERROR,
                  "powersync_control: statement SELECT value FROM ps_kv "
                  "WHERE key = ?1: internal SQLite call returned ERROR: no "
                  "such table: ps_kv");
  th_exec(db, "ROLLBACK");
  th_close(db);
}

/* ---- powersync_offline_sync_status ---- */

#define STATUS_CALL "powersync_offline_sync_status()"
#define STATUS      "SELECT " STATUS_CALL

static void status_of_empty_database(void **state) {
  sqlite3 *db = th_open();
  (void)state;
  th_init(db);
  th_expect_text(db, STATUS,
                 "{\"connected\":false,\"connecting\":false,"
                 "\"priority_status\":[],\"downloading\":null,"
                 "\"streams\":[]}");
  /* No JSON subtype: json_array quotes it. */
  th_expect_text(db, "SELECT json_array(" STATUS_CALL ") LIKE '[\"{%'", "1");
  th_close(db);
}

static void status_lists_priorities_and_streams(void **state) {
  sqlite3 *db = th_open();
  (void)state;
  th_init(db);
  th_exec(db,
          "INSERT INTO ps_sync_state VALUES (2147483647, 1700000000000000), "
          "(1, 5), (3000000000, 7);"
          "INSERT INTO ps_stream_subscriptions(stream_name, active, "
          "is_default, local_priority, local_params, ttl, expires_at, "
          "last_synced_at) VALUES "
          "('s1', 1, 0, NULL, 'null', NULL, NULL, NULL), "
          "('s\"2', 0, 5, 2, '\n\t{\"a\" :\t[1, 2.50]}\r\n ', 10, 123, -3), "
          "('s3', 1, 1, NULL, ' null ', 0, 9223372036854775807, 9)");
  th_expect_text(
      db, STATUS,
      "{\"connected\":false,\"connecting\":false,\"priority_status\":["
      "{\"priority\":1,\"last_synced_at\":5,\"has_synced\":true},"
      "{\"priority\":2147483647,\"last_synced_at\":1700000000000000,"
      "\"has_synced\":true},"
      "{\"priority\":-1294967296,\"last_synced_at\":7,\"has_synced\":true}"
      "],\"downloading\":null,\"streams\":["
      "{\"name\":\"s1\",\"parameters\":null,\"priority\":null,\"active\":true,"
      "\"is_default\":false,\"has_explicit_subscription\":false,"
      "\"expires_at\":null,\"last_synced_at\":null,\"progress\":{\"total\":0,"
      "\"downloaded\":0}},"
      "{\"name\":\"s\\\"2\",\"parameters\":{\"a\" :\t[1, 2.50]},"
      "\"priority\":null,\"active\":false,\"is_default\":true,"
      "\"has_explicit_subscription\":true,\"expires_at\":123,"
      "\"last_synced_at\":-3,\"progress\":{\"total\":0,\"downloaded\":0}},"
      "{\"name\":\"s3\",\"parameters\":null,\"priority\":null,"
      "\"active\":true,\"is_default\":true,\"has_explicit_subscription\":true,"
      "\"expires_at\":9223372036854775807,\"last_synced_at\":9,"
      "\"progress\":{\"total\":0,\"downloaded\":0}}]}");
  th_close(db);
}

static void status_rejects_invalid_parameters(void **state) {
  sqlite3 *db = th_open();
  char *got;
  (void)state;
  th_init(db);
  th_exec(db, "INSERT INTO ps_stream_subscriptions(stream_name, "
              "local_params) VALUES ('b', '{\"a\":1} x')");
  /* The parser's message is not part of the contract (core-storage.md 1.1);
   * the prefix and the code are. */
  assert_int_not_equal(sqlite3_exec(db, STATUS, NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_extended_errcode(db), SQLITE_CONSTRAINT_DATATYPE);
  got = sqlite3_mprintf("%s", sqlite3_errmsg(db));
  assert_memory_equal(got,
                      "powersync_offline_sync_status: invalid argument: . "
                      "cause: ",
                      strlen("powersync_offline_sync_status: invalid "
                             "argument: . cause: "));
  sqlite3_free(got);
  th_close(db);
}

static void status_needs_internal_tables(void **state) {
  sqlite3 *db = th_open();
  (void)state;
  th_expect_error(db, STATUS, SQLITE_ERROR,
                  "powersync_offline_sync_status: statement SELECT name, "
                  "count_at_last, count_since_last FROM ps_buckets: internal "
                  "SQLite call returned ERROR: no such table: ps_buckets");
  th_exec(db, "CREATE TABLE ps_buckets(name, count_at_last, "
              "count_since_last);"
              "CREATE TABLE ps_stream_subscriptions(id, active, is_default, "
              "ttl, expires_at, last_synced_at)");
  th_expect_error(db, STATUS, SQLITE_ERROR,
                  "powersync_offline_sync_status: statement SELECT priority, "
                  "last_synced_at FROM ps_sync_state ORDER BY priority: "
                  "internal SQLite call returned ERROR: no such table: "
                  "ps_sync_state");
  th_close(db);
}

static void status_is_direct_only(void **state) {
  sqlite3 *db = th_open();
  (void)state;
  th_init(db);
  th_exec(db, "CREATE VIEW v AS SELECT powersync_offline_sync_status() AS s");
  th_expect_error(db, "SELECT * FROM v", SQLITE_ERROR,
                  "unsafe use of powersync_offline_sync_status()");
  th_close(db);
}

static void status_works_read_only(void **state) {
  char path[] = "/tmp/ps_test_control_XXXXXX";
  sqlite3 *db;
  char *err = NULL;
  int fd = mkstemp(path);
  (void)state;
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_powersync_init(db, &err, NULL), SQLITE_OK);
  th_init(db);
  th_close(db);
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_powersync_init(db, &err, NULL), SQLITE_OK);
  th_expect_text(db, "SELECT json_extract(" STATUS_CALL ", '$.streams')", "[]");
  th_exec(db, "BEGIN");
  th_expect_text(db, TARGET("NULL"), "NULL");
  th_exec(db, "COMMIT");
  th_close(db);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(control_requires_transaction_first),
      cmocka_unit_test(control_validates_operation),
      cmocka_unit_test(control_payload_errors_match_serde),
      cmocka_unit_test(control_target_reads_sets_and_deletes),
      cmocka_unit_test(control_target_rejects_bad_payloads),
      cmocka_unit_test(control_target_converts_stored_values),
      cmocka_unit_test(control_current_request_id),
      cmocka_unit_test(control_request_ids_need_iteration),
      cmocka_unit_test(control_seed_and_next_during_iteration),
      cmocka_unit_test(control_needs_storage_tables),
      cmocka_unit_test(status_of_empty_database),
      cmocka_unit_test(status_lists_priorities_and_streams),
      cmocka_unit_test(status_rejects_invalid_parameters),
      cmocka_unit_test(status_needs_internal_tables),
      cmocka_unit_test(status_is_direct_only),
      cmocka_unit_test(status_works_read_only),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
