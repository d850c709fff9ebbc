/*
 * test_migrations.c: powersync_init() and powersync_test_migration()
 * (core-storage.md section 4) on the SQLite the build links.
 *
 * The expected DDL and stored down migrations are the exact texts of
 * core-storage.md 3.1 and 4.4, which were checked against the official 0.5.3
 * binary; any byte of difference would make databases written by this
 * library incompatible with the official one.
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

#include "ext/migrations.h"
#include "powersync/ext.h"
#include "util/buf.h"

/* ---- Expected texts ---- */

/* sqlite_master.sql after powersync_init() on an empty database: tables, then
 * indexes, each by name (core-storage.md 3.1). */
static const char *const final_ddl[] = {
    "CREATE TABLE ps_buckets(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL,\n"
    "  last_applied_op INTEGER NOT NULL DEFAULT 0,\n"
    "  last_op INTEGER NOT NULL DEFAULT 0,\n"
    "  add_checksum INTEGER NOT NULL DEFAULT 0,\n"
    "  op_checksum INTEGER NOT NULL DEFAULT 0,\n"
    "  pending_delete INTEGER NOT NULL DEFAULT 0\n"
    ", count_at_last INTEGER NOT NULL DEFAULT 0, count_since_last INTEGER NOT "
    "NULL DEFAULT 0, downloaded_size INTEGER NOT NULL DEFAULT 0) STRICT",
    "CREATE TABLE ps_crud (id INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT, "
    "tx_id INTEGER)",
    "CREATE TABLE ps_kv(key TEXT PRIMARY KEY NOT NULL, value BLOB)",
    "CREATE TABLE ps_migration(id INTEGER PRIMARY KEY, down_migrations TEXT)",
    "CREATE TABLE ps_oplog(\n"
    "  bucket INTEGER NOT NULL,\n"
    "  op_id INTEGER NOT NULL,\n"
    "  row_type TEXT,\n"
    "  row_id TEXT,\n"
    "  key TEXT,\n"
    "  data TEXT,\n"
    "  hash INTEGER NOT NULL) STRICT",
    "CREATE TABLE ps_stream_subscriptions (\n"
    "  id INTEGER NOT NULL PRIMARY KEY,\n"
    "  stream_name TEXT NOT NULL,\n"
    "  active INTEGER NOT NULL DEFAULT FALSE,\n"
    "  is_default INTEGER NOT NULL DEFAULT FALSE,\n"
    "  local_priority INTEGER,\n"
    "  local_params TEXT NOT NULL DEFAULT 'null',\n"
    "  ttl INTEGER,\n"
    "  expires_at INTEGER,\n"
    "  last_synced_at INTEGER,\n"
    "  UNIQUE (stream_name, local_params)\n"
    ") STRICT",
    "CREATE TABLE ps_sync_state (\n"
    "  priority INTEGER NOT NULL PRIMARY KEY,\n"
    "  last_synced_at INTEGER NOT NULL\n"
    ") STRICT",
    "CREATE TABLE ps_tx(id INTEGER PRIMARY KEY NOT NULL, current_tx INTEGER, "
    "next_tx INTEGER)",
    "CREATE TABLE ps_untyped(type TEXT NOT NULL, id TEXT NOT NULL, data TEXT, "
    "PRIMARY KEY (type, id))",
    "CREATE TABLE ps_updated_rows(\n"
    "  row_type TEXT,\n"
    "  row_id TEXT,\n"
    "  PRIMARY KEY(row_type, row_id)) STRICT, WITHOUT ROWID",
    "CREATE UNIQUE INDEX ps_buckets_name ON ps_buckets (name)",
    "CREATE INDEX ps_oplog_key ON ps_oplog (bucket, key)",
    "CREATE INDEX ps_oplog_opid ON ps_oplog (bucket, op_id)",
    "CREATE INDEX ps_oplog_row ON ps_oplog (row_type, row_id)",
};

/* ps_migration.down_migrations of versions 2..14 (core-storage.md 4.4). */
static const char *const stored_down_migrations[] = {
    /* 2 */
    "[{\"sql\":\"DELETE FROM ps_migration WHERE id >= 2\",\"params\":[]},"
    "{\"sql\":\"DROP TABLE ps_tx\",\"params\":[]},"
    "{\"sql\":\"ALTER TABLE ps_crud DROP COLUMN tx_id\",\"params\":[]}]",
    /* 3 */
    "[{\"sql\":\"DELETE FROM ps_migration WHERE id >= 3\"},"
    "{\"sql\":\"DROP TABLE ps_kv\"}]",
    /* 4 */
    "[{\"sql\":\"DELETE FROM ps_migration WHERE id >= 4\"},"
    "{\"sql\":\"ALTER TABLE ps_buckets DROP COLUMN op_checksum\"},"
    "{\"sql\":\"ALTER TABLE ps_buckets DROP COLUMN remove_operations\"}]",
    /* 5 */
    "[{\"sql\":\"SELECT powersync_drop_view(view.name)\\n  FROM sqlite_master "
    "view\\n  WHERE view.type = 'view'\\n    AND view.sql GLOB  '*-- "
    "powersync-auto-generated'\"},"
    "{\"sql\":\"ALTER TABLE ps_buckets RENAME TO ps_buckets_5\"},"
    "{\"sql\":\"ALTER TABLE ps_oplog RENAME TO ps_oplog_5\"},"
    "{\"sql\":\"CREATE TABLE ps_buckets(\\n  name TEXT PRIMARY KEY,\\n  "
    "last_applied_op INTEGER NOT NULL DEFAULT 0,\\n  last_op INTEGER NOT NULL "
    "DEFAULT 0,\\n  target_op INTEGER NOT NULL DEFAULT 0,\\n  add_checksum "
    "INTEGER NOT NULL DEFAULT 0,\\n  pending_delete INTEGER NOT NULL DEFAULT "
    "0\\n, op_checksum INTEGER NOT NULL DEFAULT 0, remove_operations INTEGER "
    "NOT NULL DEFAULT 0)\"},"
    "{\"sql\":\"INSERT INTO ps_buckets(name, last_applied_op, last_op, "
    "target_op, add_checksum, op_checksum, pending_delete)\\n    SELECT name, "
    "last_applied_op, last_op, target_op, add_checksum, op_checksum, "
    "pending_delete FROM ps_buckets_5\"},"
    "{\"sql\":\"CREATE TABLE ps_oplog(\\n  bucket TEXT NOT NULL,\\n  op_id "
    "INTEGER NOT NULL,\\n  op INTEGER NOT NULL,\\n  row_type TEXT,\\n  row_id "
    "TEXT,\\n  key TEXT,\\n  data TEXT,\\n  hash INTEGER NOT NULL,\\n  "
    "superseded INTEGER NOT NULL)\"},"
    "{\"sql\":\"CREATE INDEX ps_oplog_by_row ON ps_oplog (row_type, row_id) "
    "WHERE superseded = 0\"},"
    "{\"sql\":\"CREATE INDEX ps_oplog_by_opid ON ps_oplog (bucket, op_id)\"},"
    "{\"sql\":\"CREATE INDEX ps_oplog_by_key ON ps_oplog (bucket, key) WHERE "
    "superseded = 0\"},"
    "{\"sql\":\"INSERT INTO ps_oplog(bucket, op_id, op, row_type, row_id, key, "
    "data, hash, superseded)\\n    SELECT ps_buckets_5.name, oplog.op_id, 3, "
    "oplog.row_type, oplog.row_id, oplog.key, oplog.data, oplog.hash, 0\\n    "
    "FROM ps_oplog_5 oplog\\n    JOIN ps_buckets_5\\n        ON "
    "ps_buckets_5.id = oplog.bucket\"},"
    "{\"sql\":\"DROP TABLE ps_oplog_5\"},"
    "{\"sql\":\"DROP TABLE ps_buckets_5\"},"
    "{\"sql\":\"INSERT INTO ps_oplog(bucket, op_id, op, row_type, row_id, "
    "hash, superseded)\\n    SELECT '$local', 1, 4, r.row_type, r.row_id, 0, "
    "0\\n    FROM ps_updated_rows r\"},"
    "{\"sql\":\"INSERT OR REPLACE INTO ps_buckets(name, pending_delete, "
    "last_op, target_op) VALUES('$local', 1, 0, 9223372036854775807)\"},"
    "{\"sql\":\"DROP TABLE ps_updated_rows\"},"
    "{\"sql\":\"DELETE FROM ps_migration WHERE id >= 5\"}]",
    /* 6 */
    "[{\"sql\":\"DELETE FROM ps_migration WHERE id >= 6\"}]",
    /* 7 */
    "[{\"sql\":\"INSERT OR REPLACE INTO ps_kv(key, value) SELECT "
    "'last_synced_at', last_synced_at FROM ps_sync_state WHERE priority = "
    "2147483647\"},"
    "{\"sql\":\"DROP TABLE ps_sync_state\"},"
    "{\"sql\":\"DELETE FROM ps_migration WHERE id >= 7\"}]",
    /* 8 */
    "[{\"sql\":\"ALTER TABLE ps_sync_state RENAME TO ps_sync_state_new\"},"
    "{\"sql\":\"CREATE TABLE ps_sync_state (\\n  priority INTEGER NOT NULL,\\n "
    " last_synced_at TEXT NOT NULL\\n) STRICT\"},"
    "{\"sql\":\"INSERT INTO ps_sync_state SELECT * FROM ps_sync_state_new\"},"
    "{\"sql\":\"DROP TABLE ps_sync_state_new\"},"
    "{\"sql\":\"DELETE FROM ps_migration WHERE id >= 8\"}]",
    /* 9 */
    "[{\"sql\":\"ALTER TABLE ps_buckets DROP COLUMN count_at_last\"},"
    "{\"sql\":\"ALTER TABLE ps_buckets DROP COLUMN count_since_last\"},"
    "{\"sql\":\"DELETE FROM ps_migration WHERE id >= 9\"}]",
    /* 10 */
    "[{\"sql\":\"SELECT powersync_drop_view(view.name)\\n  FROM sqlite_master "
    "view\\n  WHERE view.type = 'view'\\n    AND view.sql GLOB  '*-- "
    "powersync-auto-generated'\"},"
    "{\"sql\":\"DELETE FROM ps_migration WHERE id >= 10\"}]",
    /* 11 */
    "[{\"sql\":\"DROP TABLE ps_stream_subscriptions\"},"
    "{\"sql\":\"DELETE FROM ps_migration WHERE id >= 11\"}]",
    /* 12 */
    "[{\"sql\":\"ALTER TABLE ps_buckets DROP COLUMN downloaded_size\"},"
    "{\"sql\":\"DELETE FROM ps_migration WHERE id >= 12\"}]",
    /* 13 */
    "[{\"sql\":\"UPDATE ps_stream_subscriptions SET expires_at = expires_at / "
    "1000000, last_synced_at = last_synced_at / 1000000\"},"
    "{\"sql\":\"ALTER TABLE ps_sync_state RENAME TO ps_sync_state_new\"},"
    "{\"sql\":\"CREATE TABLE ps_sync_state (\\n  priority INTEGER NOT NULL "
    "PRIMARY KEY,\\n  last_synced_at TEXT NOT NULL\\n) STRICT;\"},"
    "{\"sql\":\"INSERT INTO ps_sync_state (priority, last_synced_at) SELECT "
    "priority, datetime(last_synced_at / 1000000, 'unixepoch') FROM "
    "ps_sync_state_new\"},"
    "{\"sql\":\"DROP TABLE ps_sync_state_new\"},"
    "{\"sql\":\"DELETE FROM ps_migration WHERE id >= 13\"}]",
    /* 14 */
    "[{\"sql\":\"ALTER TABLE ps_buckets RENAME TO ps_buckets_14\"},"
    "{\"sql\":\"DROP INDEX ps_buckets_name\"},"
    "{\"sql\":\"CREATE TABLE ps_buckets(\\n  id INTEGER PRIMARY KEY,\\n  name "
    "TEXT NOT NULL,\\n  last_applied_op INTEGER NOT NULL DEFAULT 0,\\n  "
    "last_op INTEGER NOT NULL DEFAULT 0,\\n  target_op INTEGER NOT NULL "
    "DEFAULT 0,\\n  add_checksum INTEGER NOT NULL DEFAULT 0,\\n  op_checksum "
    "INTEGER NOT NULL DEFAULT 0,\\n  pending_delete INTEGER NOT NULL DEFAULT "
    "0\\n) STRICT\"},"
    "{\"sql\":\"CREATE UNIQUE INDEX ps_buckets_name ON ps_buckets (name)\"},"
    "{\"sql\":\"ALTER TABLE ps_buckets ADD COLUMN count_at_last INTEGER NOT "
    "NULL DEFAULT 0\"},"
    "{\"sql\":\"ALTER TABLE ps_buckets ADD COLUMN count_since_last INTEGER NOT "
    "NULL DEFAULT 0\"},"
    "{\"sql\":\"ALTER TABLE ps_buckets ADD COLUMN downloaded_size INTEGER NOT "
    "NULL DEFAULT 0\"},"
    "{\"sql\":\"INSERT INTO ps_buckets(\\n  id,\\n  name,\\n  "
    "last_applied_op,\\n  last_op,\\n  add_checksum,\\n  op_checksum,\\n  "
    "pending_delete,\\n  count_at_last,\\n  count_since_last,\\n  "
    "downloaded_size\\n)\\nSELECT\\n  id,\\n  name,\\n  last_applied_op,\\n  "
    "last_op,\\n  add_checksum,\\n  op_checksum,\\n  pending_delete,\\n  "
    "count_at_last,\\n  count_since_last,\\n  downloaded_size\\nFROM "
    "ps_buckets_14\"},"
    "{\"sql\":\"DROP TABLE ps_buckets_14\"},"
    "{\"sql\":\"INSERT INTO ps_buckets(name, pending_delete, last_op, "
    "last_applied_op, target_op)\\nSELECT '$local', 1, seen, applied, "
    "target\\n  FROM (\\n    SELECT\\n      IFNULL((SELECT CAST(value AS "
    "INTEGER) FROM ps_kv WHERE key = 'last_seen_checkpoint_request_id'), 0) AS "
    "seen,\\n      IFNULL((SELECT CAST(value AS INTEGER) FROM ps_kv WHERE key "
    "= 'last_applied_checkpoint_request_id'), 0) AS applied,\\n      (SELECT "
    "CAST(value AS INTEGER) FROM ps_kv WHERE key = "
    "'target_checkpoint_request_id') AS target\\n  )\\n WHERE EXISTS (\\n    "
    "SELECT 1 FROM ps_kv WHERE key = 'target_checkpoint_request_id'\\n )\\nON "
    "CONFLICT(name) DO UPDATE SET\\n  pending_delete = "
    "excluded.pending_delete,\\n  last_op = excluded.last_op,\\n  "
    "last_applied_op = excluded.last_applied_op,\\n  target_op = "
    "excluded.target_op\"},"
    "{\"sql\":\"DELETE FROM ps_migration WHERE id >= 14\"}]",
};

/* ps_buckets DDL at each version 1..14 as produced by downgrading a fresh
 * database (core-storage.md 4.3; the official binary gives the same). */
#define BUCKETS_V1_TO_4                                                        \
  "CREATE TABLE ps_buckets(\n"                                                 \
  "  name TEXT PRIMARY KEY,\n"                                                 \
  "  last_applied_op INTEGER NOT NULL DEFAULT 0,\n"                            \
  "  last_op INTEGER NOT NULL DEFAULT 0,\n"                                    \
  "  target_op INTEGER NOT NULL DEFAULT 0,\n"                                  \
  "  add_checksum INTEGER NOT NULL DEFAULT 0,\n"                               \
  "  pending_delete INTEGER NOT NULL DEFAULT 0\n"
#define BUCKETS_V5_TO_13                                                       \
  "CREATE TABLE ps_buckets(\n"                                                 \
  "  id INTEGER PRIMARY KEY,\n"                                                \
  "  name TEXT NOT NULL,\n"                                                    \
  "  last_applied_op INTEGER NOT NULL DEFAULT 0,\n"                            \
  "  last_op INTEGER NOT NULL DEFAULT 0,\n"                                    \
  "  target_op INTEGER NOT NULL DEFAULT 0,\n"                                  \
  "  add_checksum INTEGER NOT NULL DEFAULT 0,\n"                               \
  "  op_checksum INTEGER NOT NULL DEFAULT 0,\n"                                \
  "  pending_delete INTEGER NOT NULL DEFAULT 0\n"
#define COUNT_COLUMNS                                                          \
  ", count_at_last INTEGER NOT NULL DEFAULT 0, count_since_last INTEGER NOT "  \
  "NULL DEFAULT 0"

static const char *const buckets_ddl_by_version[] = {
    NULL,
    BUCKETS_V1_TO_4 ")",
    BUCKETS_V1_TO_4 ")",
    BUCKETS_V1_TO_4 ")",
    BUCKETS_V1_TO_4 ", op_checksum INTEGER NOT NULL DEFAULT 0, "
                    "remove_operations INTEGER NOT NULL DEFAULT 0)",
    BUCKETS_V5_TO_13 ") STRICT",
    BUCKETS_V5_TO_13 ") STRICT",
    BUCKETS_V5_TO_13 ") STRICT",
    BUCKETS_V5_TO_13 ") STRICT",
    BUCKETS_V5_TO_13 COUNT_COLUMNS ") STRICT",
    BUCKETS_V5_TO_13 COUNT_COLUMNS ") STRICT",
    BUCKETS_V5_TO_13 COUNT_COLUMNS ") STRICT",
    BUCKETS_V5_TO_13 COUNT_COLUMNS
    ", downloaded_size INTEGER NOT NULL DEFAULT 0) STRICT",
    BUCKETS_V5_TO_13 COUNT_COLUMNS
    ", downloaded_size INTEGER NOT NULL DEFAULT 0) STRICT",
    NULL, /* Version 14 is final_ddl[0]. */
};

/* ps_buckets DDL at versions 1..4 of a database created by this library:
 * version 1 writes the columns without indentation. */
#define CREATED_BUCKETS_V1                                                     \
  "CREATE TABLE ps_buckets(\n"                                                 \
  "name TEXT PRIMARY KEY,\n"                                                   \
  "last_applied_op INTEGER NOT NULL DEFAULT 0,\n"                              \
  "last_op INTEGER NOT NULL DEFAULT 0,\n"                                      \
  "target_op INTEGER NOT NULL DEFAULT 0,\n"                                    \
  "add_checksum INTEGER NOT NULL DEFAULT 0,\n"                                 \
  "pending_delete INTEGER NOT NULL DEFAULT 0\n"

static const char *const created_buckets_ddl_by_version[] = {
    NULL,
    CREATED_BUCKETS_V1 ")",
    CREATED_BUCKETS_V1 ")",
    CREATED_BUCKETS_V1 ")",
    CREATED_BUCKETS_V1 ", op_checksum INTEGER NOT NULL DEFAULT 0, "
                       "remove_operations INTEGER NOT NULL DEFAULT 0)",
};

/* Data of the old (version 2-4) layout from dart/test/utils/migration_fixtures
 * (core-storage.md 4.5). */
static const char fixture_data_v2[] =
    "INSERT INTO ps_buckets(name, last_applied_op, last_op, target_op, "
    "add_checksum, pending_delete) VALUES ('b1', 0, 0, 0, 0, 0), "
    "('b2', 0, 0, 0, 1000, 0);"
    "INSERT INTO ps_oplog(bucket, op_id, op, row_type, row_id, key, data, "
    "hash, superseded) VALUES "
    "('b1', 1, 3, 'todos', 't1', '', '{}', 100, 0),"
    "('b1', 2, 3, 'todos', 't2', '', '{}', 20, 0),"
    "('b2', 3, 3, 'lists', 'l1', '', '{}', 3, 0),"
    "('b2', 4, 4, 'lists', 'l2', NULL, NULL, 5, 0);";

/* ---- Helpers ---- */

static sqlite3 *open_db_at(const char *path, int flags) {
  sqlite3 *db = NULL;
  char *err = NULL;
  assert_int_equal(sqlite3_open_v2(path, &db, flags, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_powersync_init(db, &err, NULL), SQLITE_OK);
  assert_null(err);
  return db;
}

static sqlite3 *open_db(void) {
  return open_db_at(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
}

static void exec_ok(sqlite3 *db, const char *sql) {
  char *err = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
  if (rc != SQLITE_OK)
    fail_msg("%s: %s", sql, err ? err : "?");
}

/* Runs one statement inside BEGIN/COMMIT (ROLLBACK on failure) like the SDK
 * test helper executeInTx. Returns the extended result code; *msg receives
 * the error message (malloc'd) or NULL. */
static int run_in_tx(sqlite3 *db, const char *sql, char **msg) {
  sqlite3_stmt *stmt = NULL;
  int rc;
  *msg = NULL;
  exec_ok(db, "BEGIN");
  rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
  if (rc == SQLITE_OK) {
    do {
      rc = sqlite3_step(stmt);
    } while (rc == SQLITE_ROW);
  }
  if (rc == SQLITE_DONE) {
    rc = SQLITE_OK;
  } else {
    rc = sqlite3_extended_errcode(db);
    *msg = strdup(sqlite3_errmsg(db));
  }
  sqlite3_finalize(stmt);
  exec_ok(db, rc == SQLITE_OK ? "COMMIT" : "ROLLBACK");
  return rc;
}

static void run_in_tx_ok(sqlite3 *db, const char *sql) {
  char *msg;
  int rc = run_in_tx(db, sql, &msg);
  if (rc != SQLITE_OK)
    fail_msg("%s: %d %s", sql, rc, msg);
}

static void expect_error(sqlite3 *db, const char *sql, int code,
                         const char *message) {
  char *msg;
  assert_int_equal(run_in_tx(db, sql, &msg), code);
  assert_non_null(msg);
  assert_string_equal(msg, message);
  free(msg);
}

static void migrate_to(sqlite3 *db, int version) {
  char sql[64];
  snprintf(sql, sizeof(sql), "SELECT powersync_test_migration(%d)", version);
  run_in_tx_ok(db, sql);
}

/* Every row of a query: columns joined by '|', rows by '\n', NULL as
 * "NULL". Returned malloc'd. */
static char *query(sqlite3 *db, const char *sql) {
  sqlite3_stmt *stmt = NULL;
  struct ps__buf b;
  int rows = 0;
  int rc;
  ps__buf_init(&b, 0);
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
    fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  for (;;) {
    int i;
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW)
      break;
    if (rows++)
      ps__buf_putc(&b, '\n');
    for (i = 0; i < sqlite3_column_count(stmt); i++) {
      const char *v = (const char *)sqlite3_column_text(stmt, i);
      if (i)
        ps__buf_putc(&b, '|');
      ps__buf_puts(&b, v ? v : "NULL");
    }
  }
  assert_int_equal(rc, SQLITE_DONE);
  sqlite3_finalize(stmt);
  assert_int_equal(ps__buf_failed(&b), 0);
  return ps__buf_take(&b);
}

static void expect_query(sqlite3 *db, const char *sql, const char *expected) {
  char *actual = query(db, sql);
  assert_string_equal(actual, expected);
  free(actual);
}

static int version_of(sqlite3 *db) {
  sqlite3_stmt *stmt = NULL;
  int version;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT ifnull(max(id), 0) FROM "
                                      "ps_migration",
                                      -1, &stmt, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
  version = sqlite3_column_int(stmt, 0);
  sqlite3_finalize(stmt);
  return version;
}

/* The schema as the SDK tests dump it: every CREATE text except
 * sqlite_sequence, tables before indexes before views before triggers, each
 * by name; then the ps_migration rows. */
static char *schema_dump(sqlite3 *db) {
  return query(
      db, "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
          "AND name != 'sqlite_sequence' ORDER BY CASE type WHEN 'table' "
          "THEN 1 WHEN 'index' THEN 2 WHEN 'view' THEN 3 ELSE 4 END, name");
}

static char *migrations_dump(sqlite3 *db) {
  return query(db, "SELECT id, quote(down_migrations) FROM ps_migration "
                   "ORDER BY id");
}

static void expect_same_dump(char *(*dump)(sqlite3 *), sqlite3 *a, sqlite3 *b) {
  char *da = dump(a);
  char *db = dump(b);
  assert_string_equal(da, db);
  free(da);
  free(db);
}

/* ---- Fresh database ---- */

static void fresh_init_creates_final_schema(void **state) {
  sqlite3 *db = open_db();
  struct ps__buf expected;
  size_t i;
  char *actual;
  (void)state;
  run_in_tx_ok(db, "SELECT powersync_init()");
  assert_int_equal(version_of(db), PS_MIGRATION_LATEST_VERSION);

  ps__buf_init(&expected, 0);
  for (i = 0; i < sizeof(final_ddl) / sizeof(final_ddl[0]); i++) {
    if (i)
      ps__buf_putc(&expected, '\n');
    ps__buf_puts(&expected, final_ddl[i]);
  }
  actual = query(db, "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL "
                     "AND name != 'sqlite_sequence' ORDER BY CASE type WHEN "
                     "'table' THEN 1 ELSE 2 END, name");
  assert_string_equal(actual, ps__buf_cstr(&expected));
  free(actual);
  ps__buf_free(&expected);

  /* The implicit objects: AUTOINCREMENT and the UNIQUE/PRIMARY KEY
   * constraints of rowid tables. */
  expect_query(db,
               "SELECT name FROM sqlite_master WHERE sql IS NULL OR name = "
               "'sqlite_sequence' ORDER BY name",
               "sqlite_autoindex_ps_kv_1\n"
               "sqlite_autoindex_ps_stream_subscriptions_1\n"
               "sqlite_autoindex_ps_untyped_1\n"
               "sqlite_sequence");
  sqlite3_close(db);
}

static void fresh_init_stores_every_down_migration(void **state) {
  sqlite3 *db = open_db();
  sqlite3_stmt *stmt = NULL;
  int expected_id = 1;
  (void)state;
  run_in_tx_ok(db, "SELECT powersync_init()");
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT id, down_migrations, "
                                      "typeof(down_migrations) FROM "
                                      "ps_migration ORDER BY id",
                                      -1, &stmt, NULL),
                   SQLITE_OK);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    int id = sqlite3_column_int(stmt, 0);
    const char *text = (const char *)sqlite3_column_text(stmt, 1);
    const char *type = (const char *)sqlite3_column_text(stmt, 2);
    assert_int_equal(id, expected_id);
    if (id == 1) {
      assert_string_equal(type, "null");
    } else {
      assert_string_equal(type, "text");
      assert_string_equal(text, stored_down_migrations[id - 2]);
    }
    expected_id++;
  }
  sqlite3_finalize(stmt);
  assert_int_equal(expected_id, PS_MIGRATION_LATEST_VERSION + 1);
  sqlite3_close(db);
}

static void fresh_init_seeds_tx_and_client_id(void **state) {
  sqlite3 *db = open_db();
  (void)state;
  run_in_tx_ok(db, "SELECT powersync_init()");
  expect_query(db, "SELECT id, current_tx, next_tx FROM ps_tx", "1|NULL|1");
  expect_query(db, "SELECT key, typeof(value), length(value) FROM ps_kv",
               "client_id|text|36");
  sqlite3_close(db);
}

static void init_returns_empty_text(void **state) {
  sqlite3 *db = open_db();
  (void)state;
  exec_ok(db, "BEGIN");
  expect_query(db, "SELECT quote(powersync_init())", "''");
  expect_query(db, "SELECT quote(powersync_test_migration(14))", "''");
  exec_ok(db, "COMMIT");
  sqlite3_close(db);
}

static void init_twice_writes_nothing(void **state) {
  sqlite3 *db = open_db();
  char *schema_version;
  int changes;
  (void)state;
  run_in_tx_ok(db, "SELECT powersync_init()");
  schema_version = query(db, "PRAGMA schema_version");
  changes = sqlite3_total_changes(db);
  run_in_tx_ok(db, "SELECT powersync_init()");
  assert_int_equal(sqlite3_total_changes(db), changes);
  expect_query(db, "PRAGMA schema_version", schema_version);
  free(schema_version);
  sqlite3_close(db);
}

static void init_works_on_read_only_connection(void **state) {
  char path[] = "/tmp/ps_test_migrations_XXXXXX";
  int fd = mkstemp(path);
  sqlite3 *db;
  char *msg;
  (void)state;
  assert_true(fd >= 0);
  close(fd);
  db = open_db_at(path, SQLITE_OPEN_READWRITE);
  run_in_tx_ok(db, "SELECT powersync_init()");
  sqlite3_close(db);

  db = open_db_at(path, SQLITE_OPEN_READONLY);
  run_in_tx_ok(db, "SELECT powersync_init()");
  assert_int_equal(version_of(db), PS_MIGRATION_LATEST_VERSION);
  /* A real migration has to write, which fails cleanly. */
  assert_int_equal(run_in_tx(db, "SELECT powersync_test_migration(13)", &msg),
                   SQLITE_READONLY);
  free(msg);
  sqlite3_close(db);
  unlink(path);
}

/* ---- Errors ---- */

static void functions_require_transaction(void **state) {
  sqlite3 *db = open_db();
  char *err = NULL;
  (void)state;
  assert_int_equal(
      sqlite3_exec(db, "SELECT powersync_init()", NULL, NULL, &err),
      SQLITE_MISUSE);
  assert_string_equal(
      err, "powersync_init: This function may only be called in transactions.");
  sqlite3_free(err);
  assert_int_equal(sqlite3_exec(db, "SELECT powersync_test_migration(123)",
                                NULL, NULL, &err),
                   SQLITE_MISUSE);
  assert_string_equal(err, "powersync_test_migration: This function may only "
                           "be called in transactions.");
  sqlite3_free(err);
  /* Nothing was created. */
  expect_query(db, "SELECT count(*) FROM sqlite_master", "0");
  sqlite3_close(db);
}

static void foreign_ps_migration_table_is_reported(void **state) {
  sqlite3 *db = open_db();
  (void)state;
  exec_ok(db, "CREATE TABLE IF NOT EXISTS ps_migration(foo TEXT)");
  expect_error(db, "SELECT powersync_init()", SQLITE_ERROR,
               "powersync_init: statement SELECT ifnull(max(id), 0) as "
               "version FROM ps_migration: internal SQLite call returned "
               "ERROR: no such column: id");
  sqlite3_close(db);
}

static void down_migration_without_steps_fails(void **state) {
  sqlite3 *db = open_db();
  (void)state;
  run_in_tx_ok(db, "SELECT powersync_init()");
  expect_error(db, "SELECT powersync_test_migration(0)", SQLITE_ABORT,
               "powersync_test_migration: Down migration failed - version "
               "not updated from 1");
  /* An empty array lowers nothing either. */
  exec_ok(db, "INSERT INTO ps_migration VALUES (15, '[]')");
  expect_error(db, "SELECT powersync_init()", SQLITE_ABORT,
               "powersync_init: Down migration failed - version not updated "
               "from 15");
  sqlite3_close(db);
}

static void failing_down_migration_names_its_version(void **state) {
  sqlite3 *db = open_db();
  (void)state;
  run_in_tx_ok(db, "SELECT powersync_init()");
  exec_ok(db, "INSERT INTO ps_migration VALUES (15, "
              "'[{\"sql\":\"SELECT nonsense(\"}]')");
  expect_error(db, "SELECT powersync_init()", SQLITE_ERROR,
               "powersync_init: statement SELECT nonsense(: internal SQLite "
               "call returned ERROR: incomplete input (context: Down "
               "migration failed from 15)");
  sqlite3_close(db);
}

static void down_migration_entry_without_sql_fails(void **state) {
  sqlite3 *db = open_db();
  char *msg;
  (void)state;
  run_in_tx_ok(db, "SELECT powersync_init()");
  exec_ok(db, "INSERT INTO ps_migration VALUES (15, '[{\"foo\":1}]')");
  assert_int_not_equal(run_in_tx(db, "SELECT powersync_init()", &msg),
                       SQLITE_OK);
  assert_string_equal(
      msg, "powersync_init: statement select e.value ->> 'sql' as sql from "
           "(select id, down_migrations from ps_migration where id > ?1 "
           "order by id desc limit 1) m, json_each(m.down_migrations) e: "
           "internal SQLite call returned NULL: another row available");
  free(msg);
  assert_int_equal(version_of(db), 15);
  sqlite3_close(db);
}

static void failing_up_step_quotes_its_batch(void **state) {
  sqlite3 *db = open_db();
  (void)state;
  migrate_to(db, 11);
  exec_ok(db, "CREATE TRIGGER boom BEFORE INSERT ON ps_migration BEGIN "
              "SELECT RAISE(FAIL, 'boom'); END");
  expect_error(
      db, "SELECT powersync_init()", SQLITE_CONSTRAINT_TRIGGER,
      "powersync_init: statement ALTER TABLE ps_buckets ADD COLUMN "
      "downloaded_size INTEGER NOT NULL DEFAULT 0;\n"
      "INSERT INTO ps_migration(id, down_migrations) VALUES(12, json_array(\n"
      "json_object('sql', 'ALTER TABLE ps_buckets DROP COLUMN "
      "downloaded_size'),\n"
      "json_object('sql', 'DELETE FROM ps_migration WHERE id >= 12')\n"
      "));\n"
      ": internal SQLite call returned CONSTRAINT_TRIGGER: boom");
  exec_ok(db, "DROP TRIGGER boom");
  migrate_to(db, 12);
  exec_ok(db, "CREATE TRIGGER boom BEFORE INSERT ON ps_migration BEGIN "
              "SELECT RAISE(FAIL, 'boom'); END");
  expect_error(db, "SELECT powersync_init()", SQLITE_CONSTRAINT_TRIGGER,
               "powersync_init: statement INSERT INTO ps_migration(id, "
               "down_migrations) VALUES (?, ?): internal SQLite call returned "
               "CONSTRAINT_TRIGGER: boom");
  sqlite3_close(db);
}

/* ---- Going down and up ---- */

static void downgrade_and_upgrade_each_version(void **state) {
  sqlite3 *fresh = open_db();
  int version;
  (void)state;
  run_in_tx_ok(fresh, "SELECT powersync_init()");
  for (version = 1; version < PS_MIGRATION_LATEST_VERSION; version++) {
    sqlite3 *db = open_db();
    run_in_tx_ok(db, "SELECT powersync_init()");
    migrate_to(db, version);
    assert_int_equal(version_of(db), version);
    expect_query(db, "SELECT sql FROM sqlite_master WHERE name = 'ps_buckets'",
                 buckets_ddl_by_version[version]);
    run_in_tx_ok(db, "SELECT powersync_init()");
    expect_same_dump(schema_dump, db, fresh);
    expect_same_dump(migrations_dump, db, fresh);
    sqlite3_close(db);
  }
  sqlite3_close(fresh);
}

static void upgrade_stops_at_target(void **state) {
  sqlite3 *fresh = open_db();
  int version;
  (void)state;
  run_in_tx_ok(fresh, "SELECT powersync_init()");
  for (version = 1; version < PS_MIGRATION_LATEST_VERSION; version++) {
    sqlite3 *db = open_db();
    migrate_to(db, version);
    assert_int_equal(version_of(db), version);
    expect_query(db, "SELECT sql FROM sqlite_master WHERE name = 'ps_buckets'",
                 version < 5 ? created_buckets_ddl_by_version[version]
                             : buckets_ddl_by_version[version]);
    run_in_tx_ok(db, "SELECT powersync_init()");
    expect_same_dump(schema_dump, db, fresh);
    expect_same_dump(migrations_dump, db, fresh);
    sqlite3_close(db);
  }
  sqlite3_close(fresh);
}

static void version_one_is_created_whatever_the_target(void **state) {
  sqlite3 *db = open_db();
  (void)state;
  migrate_to(db, 0);
  assert_int_equal(version_of(db), 1);
  expect_query(db, "SELECT count(*) FROM sqlite_master WHERE name = 'ps_crud'",
               "1");
  sqlite3_close(db);
}

static void foreign_down_migration_is_executed(void **state) {
  sqlite3 *db = open_db();
  (void)state;
  run_in_tx_ok(db, "SELECT powersync_init()");
  /* As a future library version would store it, with keys we ignore. */
  exec_ok(db, "INSERT INTO ps_migration VALUES (15, '["
              "{\"sql\":\"CREATE TABLE future_undo(a); INSERT INTO "
              "future_undo VALUES (15)\",\"params\":[]},"
              "{\"sql\":\"DELETE FROM ps_migration WHERE id >= 15\"}]')");
  run_in_tx_ok(db, "SELECT powersync_init()");
  assert_int_equal(version_of(db), PS_MIGRATION_LATEST_VERSION);
  expect_query(db, "SELECT a FROM future_undo", "15");
  sqlite3_close(db);
}

static void direct_call_migrates_without_function_prefix(void **state) {
  sqlite3 *db = open_db();
  struct ps__err e;
  (void)state;
  ps__err_init(&e);
  exec_ok(db, "BEGIN");
  assert_int_equal(ps__migrate(db, 3, &e), SQLITE_OK);
  assert_int_equal(version_of(db), 3);
  assert_int_equal(ps__migrate(db, 0, &e), SQLITE_ABORT);
  assert_string_equal(ps__buf_cstr(&e.text),
                      "Down migration failed - version not updated from 1");
  exec_ok(db, "ROLLBACK");
  ps__err_free(&e);
  sqlite3_close(db);
}

/* ---- Data conversions ---- */

static void fixture_data_upgrades_from_version_2(void **state) {
  sqlite3 *db = open_db();
  (void)state;
  migrate_to(db, 2);
  exec_ok(db, fixture_data_v2);
  run_in_tx_ok(db, "SELECT powersync_init()");
  expect_query(db,
               "SELECT id, name, last_applied_op, last_op, add_checksum, "
               "op_checksum, pending_delete, count_at_last, count_since_last, "
               "downloaded_size FROM ps_buckets ORDER BY name",
               "1|b1|0|0|0|120|0|0|0|0\n"
               "2|b2|0|0|1005|3|0|0|0|0");
  expect_query(db,
               "SELECT bucket, op_id, row_type, row_id, quote(key), "
               "quote(data), hash FROM ps_oplog ORDER BY bucket, op_id",
               "1|1|todos|t1|''|'{}'|100\n"
               "1|2|todos|t2|''|'{}'|20\n"
               "2|3|lists|l1|''|'{}'|3");
  expect_query(db, "SELECT row_type, row_id FROM ps_updated_rows", "lists|l2");
  sqlite3_close(db);
}

static void fixture_data_downgrades_to_old_layout(void **state) {
  int target;
  (void)state;
  for (target = 2; target <= 4; target++) {
    sqlite3 *db = open_db();
    migrate_to(db, 2);
    exec_ok(db, fixture_data_v2);
    run_in_tx_ok(db, "SELECT powersync_init()");
    migrate_to(db, target);
    expect_query(db,
                 "SELECT name, last_applied_op, last_op, target_op, "
                 "add_checksum, pending_delete FROM ps_buckets ORDER BY name",
                 "$local|0|0|9223372036854775807|0|1\n"
                 "b1|0|0|0|0|0\n"
                 "b2|0|0|0|1005|0");
    expect_query(db,
                 "SELECT bucket, op_id, op, row_type, row_id, quote(key), "
                 "quote(data), hash, superseded FROM ps_oplog ORDER BY "
                 "bucket, op_id",
                 "$local|1|4|lists|l2|NULL|NULL|0|0\n"
                 "b1|1|3|todos|t1|''|'{}'|100|0\n"
                 "b1|2|3|todos|t2|''|'{}'|20|0\n"
                 "b2|3|3|lists|l1|''|'{}'|3|0");
    sqlite3_close(db);
  }
}

static void local_bucket_moves_to_kv_and_back(void **state) {
  sqlite3 *db = open_db();
  (void)state;
  migrate_to(db, 13);
  exec_ok(db, "DELETE FROM ps_kv; INSERT INTO ps_buckets(name, "
              "last_applied_op, last_op, target_op) VALUES ('$local', 5, 6, "
              "7)");
  run_in_tx_ok(db, "SELECT powersync_init()");
  expect_query(db, "SELECT key, value FROM ps_kv ORDER BY key",
               "last_applied_checkpoint_request_id|5\n"
               "last_seen_checkpoint_request_id|6\n"
               "target_checkpoint_request_id|7");
  expect_query(db, "SELECT count(*) FROM ps_buckets", "0");
  expect_query(db,
               "SELECT count(*) FROM pragma_table_info('ps_buckets') WHERE "
               "name = 'target_op'",
               "0");

  exec_ok(db, "INSERT INTO ps_kv VALUES "
              "('last_requested_checkpoint_request_id', 7)");
  migrate_to(db, 13);
  expect_query(db,
               "SELECT pending_delete, last_op, last_applied_op, target_op "
               "FROM ps_buckets WHERE name = '$local'",
               "1|6|5|7");

  exec_ok(db, "UPDATE ps_buckets SET last_op = 8, last_applied_op = 8, "
              "target_op = 9 WHERE name = '$local'");
  run_in_tx_ok(db, "SELECT powersync_init()");
  expect_query(db, "SELECT key, value FROM ps_kv ORDER BY key",
               "last_applied_checkpoint_request_id|8\n"
               "last_requested_checkpoint_request_id|7\n"
               "last_seen_checkpoint_request_id|8\n"
               "target_checkpoint_request_id|9");
  sqlite3_close(db);
}

static void downgrade_without_target_creates_no_local_bucket(void **state) {
  sqlite3 *db = open_db();
  (void)state;
  run_in_tx_ok(db, "SELECT powersync_init()");
  exec_ok(db, "INSERT INTO ps_kv VALUES "
              "('last_seen_checkpoint_request_id', 6)");
  migrate_to(db, 13);
  expect_query(db, "SELECT count(*) FROM ps_buckets", "0");
  sqlite3_close(db);
}

static void views_lose_their_triggers_at_version_5(void **state) {
  sqlite3 *db = open_db();
  (void)state;
  migrate_to(db, 4);
  exec_ok(db,
          "CREATE TABLE ps_data__lists(id TEXT PRIMARY KEY NOT NULL, data "
          "TEXT);"
          "CREATE VIEW \"lists\"(\"id\") AS SELECT id FROM \"ps_data__lists\" "
          "-- powersync-auto-generated\n;"
          "CREATE TRIGGER \"ps_view_delete_lists\" INSTEAD OF DELETE ON "
          "\"lists\" FOR EACH ROW BEGIN INSERT INTO ps_oplog(bucket, op_id, "
          "op, row_type, row_id, hash, superseded) VALUES ('$local', 1, 4, "
          "'lists', OLD.id, 0, 0); END;"
          "CREATE VIEW user_view AS SELECT 1;"
          "CREATE TRIGGER user_view_trigger INSTEAD OF DELETE ON user_view "
          "BEGIN SELECT 1; END;"
          "CREATE TRIGGER t1 AFTER INSERT ON ps_data__lists BEGIN INSERT "
          "INTO lists(id) SELECT NEW.id WHERE 0; END;");
  run_in_tx_ok(db, "SELECT powersync_init()");
  expect_query(db,
               "SELECT type, name FROM sqlite_master WHERE type IN ('view', "
               "'trigger') ORDER BY name",
               "view|lists\n"
               "trigger|t1\n"
               "view|user_view\n"
               "trigger|user_view_trigger");
  expect_query(db, "SELECT sql FROM sqlite_master WHERE name = 'lists'",
               "CREATE VIEW \"lists\"(\"id\") AS SELECT id FROM "
               "\"ps_data__lists\" -- powersync-auto-generated");
  sqlite3_close(db);
}

static void rows_without_oplog_are_scheduled_at_version_6(void **state) {
  sqlite3 *db = open_db();
  (void)state;
  migrate_to(db, 5);
  exec_ok(db, "CREATE TABLE ps_data__lists(id TEXT PRIMARY KEY NOT NULL, "
              "data TEXT);"
              "CREATE TABLE \"ps_data__it's\"(id TEXT PRIMARY KEY NOT NULL, "
              "data TEXT);"
              "CREATE TABLE ps_data_local__local(id TEXT PRIMARY KEY NOT "
              "NULL, data TEXT);"
              "INSERT INTO ps_buckets(name) VALUES ('b');"
              "INSERT INTO ps_oplog(bucket, op_id, row_type, row_id, hash) "
              "VALUES (1, 1, 'lists', 'l1', 0);"
              "INSERT INTO ps_data__lists VALUES ('l1', '{}'), ('l3', '{}');"
              "INSERT INTO \"ps_data__it's\" VALUES ('x', '{}');"
              "INSERT INTO ps_data_local__local VALUES ('y', '{}');");
  run_in_tx_ok(db, "SELECT powersync_init()");
  expect_query(db, "SELECT row_type, row_id FROM ps_updated_rows",
               "it's|x\n"
               "lists|l3");
  sqlite3_close(db);
}

static void new_database_skips_version_6_repair(void **state) {
  sqlite3 *db = open_db();
  (void)state;
  /* A data table that exists before the first migration: the repair only
   * applies to databases being upgraded. */
  exec_ok(db, "CREATE TABLE ps_data__lists(id TEXT PRIMARY KEY NOT NULL, "
              "data TEXT); INSERT INTO ps_data__lists VALUES ('l1', '{}')");
  run_in_tx_ok(db, "SELECT powersync_init()");
  expect_query(db, "SELECT count(*) FROM ps_updated_rows", "0");
  sqlite3_close(db);
}

static void sync_state_keeps_latest_time_per_priority(void **state) {
  sqlite3 *db = open_db();
  int i;
  (void)state;
  migrate_to(db, 7);
  for (i = 0; i < 10; i++) {
    char sql[256];
    snprintf(sql, sizeof(sql),
             "INSERT OR REPLACE INTO ps_sync_state(priority, last_synced_at) "
             "VALUES (3, '2025-03-05 13:58:0%d'), (2147483647, '2025-03-05 "
             "14:58:0%d')",
             i, i);
    exec_ok(db, sql);
  }
  migrate_to(db, 8);
  expect_query(db,
               "SELECT priority, last_synced_at FROM ps_sync_state ORDER BY "
               "priority",
               "3|2025-03-05 13:58:09\n"
               "2147483647|2025-03-05 14:58:09");
  /* Version 13 stores microseconds (unixepoch needs SQLite 3.38). */
  migrate_to(db, 13);
  expect_query(db,
               "SELECT priority, last_synced_at FROM ps_sync_state ORDER BY "
               "priority",
               "3|1741183089000000\n"
               "2147483647|1741186689000000");
  migrate_to(db, 12);
  expect_query(db,
               "SELECT priority, last_synced_at FROM ps_sync_state ORDER BY "
               "priority",
               "3|2025-03-05 13:58:09\n"
               "2147483647|2025-03-05 14:58:09");
  sqlite3_close(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fresh_init_creates_final_schema),
      cmocka_unit_test(fresh_init_stores_every_down_migration),
      cmocka_unit_test(fresh_init_seeds_tx_and_client_id),
      cmocka_unit_test(init_returns_empty_text),
      cmocka_unit_test(init_twice_writes_nothing),
      cmocka_unit_test(init_works_on_read_only_connection),
      cmocka_unit_test(functions_require_transaction),
      cmocka_unit_test(foreign_ps_migration_table_is_reported),
      cmocka_unit_test(down_migration_without_steps_fails),
      cmocka_unit_test(failing_down_migration_names_its_version),
      cmocka_unit_test(down_migration_entry_without_sql_fails),
      cmocka_unit_test(failing_up_step_quotes_its_batch),
      cmocka_unit_test(downgrade_and_upgrade_each_version),
      cmocka_unit_test(upgrade_stops_at_target),
      cmocka_unit_test(version_one_is_created_whatever_the_target),
      cmocka_unit_test(foreign_down_migration_is_executed),
      cmocka_unit_test(direct_call_migrates_without_function_prefix),
      cmocka_unit_test(fixture_data_upgrades_from_version_2),
      cmocka_unit_test(fixture_data_downgrades_to_old_layout),
      cmocka_unit_test(local_bucket_moves_to_kv_and_back),
      cmocka_unit_test(downgrade_without_target_creates_no_local_bucket),
      cmocka_unit_test(views_lose_their_triggers_at_version_5),
      cmocka_unit_test(rows_without_oplog_are_scheduled_at_version_6),
      cmocka_unit_test(new_database_skips_version_6_repair),
      cmocka_unit_test(sync_state_keeps_latest_time_per_priority),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
