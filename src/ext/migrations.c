/*
 * migrations.c: powersync_init() and powersync_test_migration(target), which
 * create, upgrade and downgrade the internal tables (core-storage.md 4).
 *
 *   BEGIN;
 *   SELECT powersync_init();             -- '', the database is at version 14
 *   SELECT powersync_test_migration(5);  -- '', down (or up) to version 5
 *   COMMIT;
 *
 * Both require an explicit transaction. On failure they report the error and
 * leave the work done so far for the caller's ROLLBACK.
 *
 * HOW IT WORKS
 *
 * ps_migration holds one row per applied version: id is the version and
 * down_migrations a JSON array of {"sql": ...} objects that undo it (NULL for
 * version 1). The current version is max(id). Going down, the statements
 * stored with the highest version are run until the version is at or below
 * the target. Because they are read from the database rather than from this
 * file, a database written by a newer library, which stored its own undo
 * steps, can be downgraded here, and an older library can downgrade what we
 * wrote as long as we store exactly the JSON the official core stores. Going
 * up, the steps of up_steps[] run in order and each inserts its own
 * ps_migration row.
 *
 * The batches below are the official core's texts byte for byte, comments
 * and trailing blanks included: SQLite keeps CREATE statements verbatim in
 * sqlite_master, the stored down migrations are data other implementations
 * execute, and the error message of a failing batch quotes the whole batch.
 */
#include <string.h>

#include "error.h"
#include "migrations.h"
#include "register.h"
#include "sql.h"

static const char create_migration_table_sql[] =
    "CREATE TABLE IF NOT EXISTS ps_migration(id INTEGER PRIMARY KEY, "
    "down_migrations TEXT)";

/* Quoted in error messages that SDK tests assert (error_test.dart). */
static const char version_sql[] =
    "SELECT ifnull(max(id), 0) as version FROM ps_migration";

/* The undo statements of the highest version above ?1, in array order. */
static const char down_statements_sql[] =
    "select e.value ->> 'sql' as sql from (select id, down_migrations from "
    "ps_migration where id > ?1 order by id desc limit 1) m, "
    "json_each(m.down_migrations) e";

static const char migration_row_sql[] =
    "INSERT INTO ps_migration(id, down_migrations) VALUES (?, ?)";

static const char auto_generated_views_sql[] =
    "SELECT name, sql FROM sqlite_master WHERE type = 'view' AND sql GLOB "
    "'*-- powersync-auto-generated'";

static const char synced_data_tables_sql[] =
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB "
    "'ps_data__*'";

#define SYNCED_DATA_TABLE_PREFIX "ps_data__"

/* ---- Strings collected before the schema changes ---- */

/* Query results are read completely before any of them is acted on, since
 * the statements run for them change sqlite_master or ps_migration, which the
 * query is still reading. The strings are stored back to back in one buffer,
 * each with its terminating NUL. */
struct string_list {
  struct ps__buf buf;
  int count;
};

static void string_list_init(struct string_list *l) {
  ps__buf_init(&l->buf, 0);
  l->count = 0;
}

static void string_list_free(struct string_list *l) { ps__buf_free(&l->buf); }

static void string_list_add(struct string_list *l, const char *s, size_t len) {
  ps__buf_append(&l->buf, s, len);
  ps__buf_putc(&l->buf, '\0');
  l->count++;
}

static const char *string_list_first(const struct string_list *l) {
  return l->buf.data;
}

static const char *string_list_next(const char *s) { return s + strlen(s) + 1; }

/* Adds column col of the current row of stmt as text. Text is cut at an
 * embedded NUL, as sqlite3_exec would cut it anyway, so that the list keeps
 * one NUL per entry. */
static void string_list_add_column(struct string_list *l, sqlite3_stmt *stmt,
                                   int col) {
  const char *text = (const char *)sqlite3_column_text(stmt, col);
  if (!text)
    text = "";
  string_list_add(l, text, strlen(text));
}

/* Runs a query and collects columns 0..ncols-1 of every row. */
static int collect_rows(sqlite3 *db, const char *sql, int ncols,
                        struct string_list *out, struct ps__err *e) {
  sqlite3_stmt *stmt;
  int rc = ps__prepare(db, sql, &stmt, e);
  int col;
  if (rc != SQLITE_OK)
    return rc;
  for (;;) {
    rc = ps__step(stmt, e);
    if (rc != SQLITE_ROW)
      break;
    for (col = 0; col < ncols; col++)
      string_list_add_column(out, stmt, col);
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE)
    return rc;
  if (ps__buf_failed(&out->buf)) {
    ps__err_nomem(e);
    return SQLITE_NOMEM;
  }
  return SQLITE_OK;
}

/* ---- Version and down migrations ---- */

static int read_version(sqlite3 *db, int *out, struct ps__err *e) {
  sqlite3_stmt *stmt;
  int rc = ps__prepare(db, version_sql, &stmt, e);
  if (rc != SQLITE_OK)
    return rc;
  rc = ps__step(stmt, e);
  if (rc == SQLITE_ROW) {
    *out = sqlite3_column_int(stmt, 0);
    rc = SQLITE_OK;
  } else if (rc == SQLITE_DONE) {
    /* An aggregate always yields a row; kept for completeness. */
    ps__err_set(e, SQLITE_ABORT,
                "Down migration failed - could not get version");
    rc = SQLITE_ABORT;
  }
  sqlite3_finalize(stmt);
  return rc;
}

static int read_down_statements(sqlite3 *db, int target,
                                struct string_list *out, struct ps__err *e) {
  sqlite3_stmt *stmt;
  int rc = ps__prepare(db, down_statements_sql, &stmt, e);
  if (rc != SQLITE_OK)
    return rc;
  sqlite3_bind_int(stmt, 1, target);
  for (;;) {
    rc = ps__step(stmt, e);
    if (rc != SQLITE_ROW)
      break;
    if (sqlite3_column_type(stmt, 0) == SQLITE_NULL) {
      /* A stored entry without an "sql" string: the official core fails
       * with its NULL-value error, and so do we. */
      ps__err_null_value(e, stmt);
      rc = PS_CODE_NULL_VALUE;
      break;
    }
    string_list_add_column(out, stmt, 0);
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE)
    return rc;
  if (ps__buf_failed(&out->buf)) {
    ps__err_nomem(e);
    return SQLITE_NOMEM;
  }
  return SQLITE_OK;
}

static int run_down_statements(sqlite3 *db, const struct string_list *sql,
                               int from, struct ps__err *e) {
  const char *s = string_list_first(sql);
  int i;
  for (i = 0; i < sql->count; i++, s = string_list_next(s)) {
    int rc = ps__exec(db, s, e);
    if (rc != SQLITE_OK) {
      ps__err_context(e, "Down migration failed from %d", from);
      return rc;
    }
  }
  return SQLITE_OK;
}

/* Undoes the highest stored version once and reads the new version into
 * *current. */
static int run_one_down_migration(sqlite3 *db, int target, int *current,
                                  struct ps__err *e) {
  struct string_list sql;
  int before = *current;
  int rc;
  string_list_init(&sql);
  rc = read_down_statements(db, target, &sql, e);
  if (rc == SQLITE_OK)
    rc = run_down_statements(db, &sql, before, e);
  string_list_free(&sql);
  if (rc == SQLITE_OK)
    rc = read_version(db, current, e);
  if (rc == SQLITE_OK && *current >= before) {
    /* Missing or empty undo steps (version 1 has none): stop rather than
     * loop forever. */
    ps__err_set(e, SQLITE_ABORT,
                "Down migration failed - version not updated from %d", before);
    rc = SQLITE_ABORT;
  }
  return rc;
}

static int migrate_down(sqlite3 *db, int target, int *current,
                        struct ps__err *e) {
  while (*current > target) {
    int rc = run_one_down_migration(db, target, current, e);
    if (rc != SQLITE_OK)
      return rc;
  }
  return SQLITE_OK;
}

/* ---- Work done outside the batches of the up steps ---- */

static int drop_view(sqlite3 *db, const char *name, struct ps__err *e) {
  struct ps__buf sql;
  int rc;
  ps__buf_init(&sql, 0);
  ps__buf_puts(&sql, "DROP VIEW IF EXISTS ");
  ps__buf_ident(&sql, name);
  if (ps__buf_failed(&sql)) {
    ps__err_nomem(e);
    rc = SQLITE_NOMEM;
  } else {
    rc = ps__exec(db, ps__buf_cstr(&sql), e);
  }
  ps__buf_free(&sql);
  return rc;
}

/* Before version 5: triggers of generated views wrote to ps_oplog columns
 * and the $local bucket that version 5 removes. Dropping and re-creating each
 * view removes its triggers but keeps the view itself, which user triggers
 * may refer to; the next powersync_replace_schema sees views without triggers
 * and generates current ones. */
static int recreate_views_without_triggers(sqlite3 *db, int current,
                                           struct ps__err *e) {
  struct string_list views;
  const char *s;
  int i;
  int rc;
  (void)current;
  string_list_init(&views);
  rc = collect_rows(db, auto_generated_views_sql, 2, &views, e);
  s = string_list_first(&views);
  for (i = 0; rc == SQLITE_OK && i < views.count; i += 2) {
    const char *name = s;
    const char *create = string_list_next(name);
    rc = drop_view(db, name, e);
    if (rc == SQLITE_OK)
      rc = ps__exec(db, create, e);
    s = string_list_next(create);
  }
  string_list_free(&views);
  return rc;
}

static int schedule_rows_of_table(sqlite3 *db, const char *table,
                                  struct ps__err *e) {
  const char *type = table + strlen(SYNCED_DATA_TABLE_PREFIX);
  struct ps__buf sql;
  int rc;
  ps__buf_init(&sql, 0);
  ps__buf_puts(&sql, "\nINSERT OR IGNORE INTO ps_updated_rows(row_type, "
                     "row_id)\nSELECT ?1, id FROM ");
  ps__buf_ident(&sql, table);
  ps__buf_puts(&sql, "\n  WHERE NOT EXISTS (\n      SELECT 1 FROM ps_oplog\n"
                     "      WHERE row_type = ?1 AND row_id = ");
  ps__buf_ident(&sql, table);
  ps__buf_puts(&sql, ".id\n  );");
  if (ps__buf_failed(&sql)) {
    ps__err_nomem(e);
    rc = SQLITE_NOMEM;
  } else {
    rc = ps__exec_text_params(db, ps__buf_cstr(&sql), e, 1, type);
  }
  ps__buf_free(&sql);
  return rc;
}

/* Before version 6: libraries before 0.3.5 could keep local rows that no
 * longer had any oplog entry. Scheduling them in ps_updated_rows makes the
 * next complete sync remove them. A new database has no such rows. */
static int schedule_rows_without_oplog(sqlite3 *db, int current,
                                       struct ps__err *e) {
  struct string_list tables;
  const char *table;
  int i;
  int rc;
  if (current == 0)
    return SQLITE_OK;
  string_list_init(&tables);
  rc = collect_rows(db, synced_data_tables_sql, 1, &tables, e);
  table = string_list_first(&tables);
  for (i = 0; rc == SQLITE_OK && i < tables.count; i++) {
    rc = schedule_rows_of_table(db, table, e);
    table = string_list_next(table);
  }
  string_list_free(&tables);
  return rc;
}

/* ---- Up steps ---- */

struct up_step {
  int version;
  /* Runs before sql when set; gets the version the migration started at. */
  int (*before)(sqlite3 *db, int current, struct ps__err *e);
  /* Batch run with sqlite3_exec. Inserts the ps_migration row itself unless
   * down_json is set. */
  const char *sql;
  /* For versions whose undo steps are bound as text rather than built with
   * json_array() in the batch. */
  const char *down_json;
};

/* Version 1: the original tables. Lines inside ps_oplog and ps_buckets are
 * not indented; version 5 recreates both tables anyway. */
static const char v1_sql[] =
    "\n"
    "CREATE TABLE ps_oplog(\n"
    "bucket TEXT NOT NULL,\n"
    "op_id INTEGER NOT NULL,\n"
    "op INTEGER NOT NULL,\n"
    "row_type TEXT,\n"
    "row_id TEXT,\n"
    "key TEXT,\n"
    "data TEXT,\n"
    "hash INTEGER NOT NULL,\n"
    "superseded INTEGER NOT NULL);\n"
    "\n"
    "CREATE INDEX ps_oplog_by_row ON ps_oplog (row_type, row_id) WHERE "
    "superseded = 0;\n"
    "CREATE INDEX ps_oplog_by_opid ON ps_oplog (bucket, op_id);\n"
    "CREATE INDEX ps_oplog_by_key ON ps_oplog (bucket, key) WHERE superseded "
    "= 0;\n"
    "\n"
    "CREATE TABLE ps_buckets(\n"
    "name TEXT PRIMARY KEY,\n"
    "last_applied_op INTEGER NOT NULL DEFAULT 0,\n"
    "last_op INTEGER NOT NULL DEFAULT 0,\n"
    "target_op INTEGER NOT NULL DEFAULT 0,\n"
    "add_checksum INTEGER NOT NULL DEFAULT 0,\n"
    "pending_delete INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "\n"
    "CREATE TABLE ps_untyped(type TEXT NOT NULL, id TEXT NOT NULL, data TEXT, "
    "PRIMARY KEY (type, id));\n"
    "\n"
    "CREATE TABLE ps_crud (id INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT);\n"
    "\n"
    "INSERT INTO ps_migration(id, down_migrations) VALUES(1, NULL);\n";

/* Version 2: transaction ids for ps_crud. */
static const char v2_sql[] =
    "CREATE TABLE ps_tx(id INTEGER PRIMARY KEY NOT NULL, current_tx INTEGER, "
    "next_tx INTEGER);\n"
    "INSERT INTO ps_tx(id, current_tx, next_tx) VALUES(1, NULL, 1);\n"
    "\n"
    "ALTER TABLE ps_crud ADD COLUMN tx_id INTEGER;\n"
    "\n"
    "INSERT INTO ps_migration(id, down_migrations) VALUES(2, "
    "json_array(json_object('sql', 'DELETE FROM ps_migration WHERE id >= 2', "
    "'params', json_array()), json_object('sql', 'DROP TABLE ps_tx', "
    "'params', json_array()), json_object('sql', 'ALTER TABLE ps_crud DROP "
    "COLUMN tx_id', 'params', json_array())));\n";

/* Version 3: key/value store and the client id. */
static const char v3_sql[] =
    "CREATE TABLE ps_kv(key TEXT PRIMARY KEY NOT NULL, value BLOB);\n"
    "INSERT INTO ps_kv(key, value) values('client_id', uuid());\n"
    "\n"
    "INSERT INTO ps_migration(id, down_migrations) VALUES(3, "
    "json_array(json_object('sql', 'DELETE FROM ps_migration WHERE id >= 3'), "
    "json_object('sql', 'DROP TABLE ps_kv')));\n"
    "  ";

/* Version 4: per-bucket op checksum. */
static const char v4_sql[] =
    "ALTER TABLE ps_buckets ADD COLUMN op_checksum INTEGER NOT NULL DEFAULT "
    "0;\n"
    "ALTER TABLE ps_buckets ADD COLUMN remove_operations INTEGER NOT NULL "
    "DEFAULT 0;\n"
    "\n"
    "UPDATE ps_buckets SET op_checksum = (\n"
    "SELECT IFNULL(SUM(ps_oplog.hash), 0) & 0xffffffff FROM ps_oplog WHERE "
    "ps_oplog.bucket = ps_buckets.name\n"
    ");\n"
    "\n"
    "INSERT INTO ps_migration(id, down_migrations)\n"
    "VALUES(4,\n"
    "  json_array(\n"
    "    json_object('sql', 'DELETE FROM ps_migration WHERE id >= 4'),\n"
    "    json_object('sql', 'ALTER TABLE ps_buckets DROP COLUMN "
    "op_checksum'),\n"
    "    json_object('sql', 'ALTER TABLE ps_buckets DROP COLUMN "
    "remove_operations')\n"
    "  ));\n"
    "  ";

/* Version 5: integer bucket ids, only current PUT operations in ps_oplog,
 * everything else becomes a row to re-check in ps_updated_rows; the hashes
 * of dropped operations move from op_checksum to add_checksum so that bucket
 * checksums stay the same. */
static const char v5_sql[] =
    "ALTER TABLE ps_buckets RENAME TO ps_buckets_old;\n"
    "ALTER TABLE ps_oplog RENAME TO ps_oplog_old;\n"
    "\n"
    "CREATE TABLE ps_buckets(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL,\n"
    "  last_applied_op INTEGER NOT NULL DEFAULT 0,\n"
    "  last_op INTEGER NOT NULL DEFAULT 0,\n"
    "  target_op INTEGER NOT NULL DEFAULT 0,\n"
    "  add_checksum INTEGER NOT NULL DEFAULT 0,\n"
    "  op_checksum INTEGER NOT NULL DEFAULT 0,\n"
    "  pending_delete INTEGER NOT NULL DEFAULT 0\n"
    ") STRICT;\n"
    "\n"
    "CREATE UNIQUE INDEX ps_buckets_name ON ps_buckets (name);\n"
    "\n"
    "CREATE TABLE ps_oplog(\n"
    "  bucket INTEGER NOT NULL,\n"
    "  op_id INTEGER NOT NULL,\n"
    "  row_type TEXT,\n"
    "  row_id TEXT,\n"
    "  key TEXT,\n"
    "  data TEXT,\n"
    "  hash INTEGER NOT NULL) STRICT;\n"
    "\n"
    "CREATE INDEX ps_oplog_row ON ps_oplog (row_type, row_id);\n"
    "CREATE INDEX ps_oplog_opid ON ps_oplog (bucket, op_id);\n"
    "CREATE INDEX ps_oplog_key ON ps_oplog (bucket, key);\n"
    "\n"
    "CREATE TABLE ps_updated_rows(\n"
    "  row_type TEXT,\n"
    "  row_id TEXT,\n"
    "  PRIMARY KEY(row_type, row_id)) STRICT, WITHOUT ROWID;\n"
    "\n"
    "INSERT INTO ps_buckets(name, last_applied_op, last_op, target_op, "
    "add_checksum, op_checksum, pending_delete)\n"
    "SELECT name, last_applied_op, last_op, target_op, add_checksum, "
    "op_checksum, pending_delete FROM ps_buckets_old;\n"
    "\n"
    "DROP TABLE ps_buckets_old;\n"
    "\n"
    "INSERT INTO ps_oplog(bucket, op_id, row_type, row_id, key, data, hash)\n"
    "SELECT ps_buckets.id, oplog.op_id, oplog.row_type, oplog.row_id, "
    "oplog.key, oplog.data, oplog.hash\n"
    "  FROM ps_oplog_old oplog\n"
    "  JOIN ps_buckets\n"
    "    ON ps_buckets.name = oplog.bucket\n"
    "    WHERE oplog.superseded = 0 AND oplog.op = 3\n"
    "    ORDER BY oplog.bucket, oplog.op_id;\n"
    "\n"
    "INSERT OR IGNORE INTO ps_updated_rows(row_type, row_id)\n"
    "SELECT row_type, row_id\n"
    " FROM ps_oplog_old oplog\n"
    " WHERE oplog.op != 3;\n"
    "\n"
    "UPDATE ps_buckets SET add_checksum = 0xffffffff & (add_checksum + (\n"
    "SELECT IFNULL(SUM(oplog.hash), 0)\n"
    "  FROM ps_oplog_old oplog\n"
    "  WHERE oplog.bucket = ps_buckets.name\n"
    "    AND (oplog.superseded = 1 OR oplog.op != 3)\n"
    "));\n"
    "\n"
    "UPDATE ps_buckets SET op_checksum = 0xffffffff & (op_checksum - (\n"
    "  SELECT IFNULL(SUM(oplog.hash), 0)\n"
    "    FROM ps_oplog_old oplog\n"
    "    WHERE oplog.bucket = ps_buckets.name\n"
    "      AND (oplog.superseded = 1 OR oplog.op != 3)\n"
    "));\n"
    "\n"
    "DROP TABLE ps_oplog_old;\n"
    "\n"
    "INSERT INTO ps_migration(id, down_migrations)\n"
    "VALUES(5,\n"
    "  json_array(\n"
    "    -- Drop existing views and triggers if any\n"
    "    json_object('sql', 'SELECT powersync_drop_view(view.name)\n"
    "  FROM sqlite_master view\n"
    "  WHERE view.type = ''view''\n"
    "    AND view.sql GLOB  ''*-- powersync-auto-generated'''),\n"
    "\n"
    "    json_object('sql', 'ALTER TABLE ps_buckets RENAME TO ps_buckets_5'),\n"
    "    json_object('sql', 'ALTER TABLE ps_oplog RENAME TO ps_oplog_5'),\n"
    "    json_object('sql', 'CREATE TABLE ps_buckets(\n"
    "  name TEXT PRIMARY KEY,\n"
    "  last_applied_op INTEGER NOT NULL DEFAULT 0,\n"
    "  last_op INTEGER NOT NULL DEFAULT 0,\n"
    "  target_op INTEGER NOT NULL DEFAULT 0,\n"
    "  add_checksum INTEGER NOT NULL DEFAULT 0,\n"
    "  pending_delete INTEGER NOT NULL DEFAULT 0\n"
    ", op_checksum INTEGER NOT NULL DEFAULT 0, remove_operations INTEGER NOT "
    "NULL DEFAULT 0)'),\n"
    "    json_object('sql', 'INSERT INTO ps_buckets(name, last_applied_op, "
    "last_op, target_op, add_checksum, op_checksum, pending_delete)\n"
    "    SELECT name, last_applied_op, last_op, target_op, add_checksum, "
    "op_checksum, pending_delete FROM ps_buckets_5'),\n"
    "    json_object('sql', 'CREATE TABLE ps_oplog(\n"
    "  bucket TEXT NOT NULL,\n"
    "  op_id INTEGER NOT NULL,\n"
    "  op INTEGER NOT NULL,\n"
    "  row_type TEXT,\n"
    "  row_id TEXT,\n"
    "  key TEXT,\n"
    "  data TEXT,\n"
    "  hash INTEGER NOT NULL,\n"
    "  superseded INTEGER NOT NULL)'),\n"
    "    json_object('sql', 'CREATE INDEX ps_oplog_by_row ON ps_oplog "
    "(row_type, row_id) WHERE superseded = 0'),\n"
    "    json_object('sql', 'CREATE INDEX ps_oplog_by_opid ON ps_oplog "
    "(bucket, op_id)'),\n"
    "    json_object('sql', 'CREATE INDEX ps_oplog_by_key ON ps_oplog (bucket, "
    "key) WHERE superseded = 0'),\n"
    "    json_object('sql', 'INSERT INTO ps_oplog(bucket, op_id, op, row_type, "
    "row_id, key, data, hash, superseded)\n"
    "    SELECT ps_buckets_5.name, oplog.op_id, 3, oplog.row_type, "
    "oplog.row_id, oplog.key, oplog.data, oplog.hash, 0\n"
    "    FROM ps_oplog_5 oplog\n"
    "    JOIN ps_buckets_5\n"
    "        ON ps_buckets_5.id = oplog.bucket'),\n"
    "    json_object('sql', 'DROP TABLE ps_oplog_5'),\n"
    "    json_object('sql', 'DROP TABLE ps_buckets_5'),\n"
    "    json_object('sql', 'INSERT INTO ps_oplog(bucket, op_id, op, row_type, "
    "row_id, hash, superseded)\n"
    "    SELECT ''$local'', 1, 4, r.row_type, r.row_id, 0, 0\n"
    "    FROM ps_updated_rows r'),\n"
    "    json_object('sql', 'INSERT OR REPLACE INTO ps_buckets(name, "
    "pending_delete, last_op, target_op) VALUES(''$local'', 1, 0, "
    "9223372036854775807)'),\n"
    "    json_object('sql', 'DROP TABLE ps_updated_rows'),\n"
    "\n"
    "    json_object('sql', 'DELETE FROM ps_migration WHERE id >= 5')\n"
    "  ));\n"
    "  ";

/* Version 6: only the data repair done by schedule_rows_without_oplog. */
static const char v6_sql[] =
    "INSERT INTO ps_migration(id, down_migrations)\n"
    "VALUES(6,\n"
    "json_array(\n"
    "  json_object('sql', 'DELETE FROM ps_migration WHERE id >= 6')\n"
    "));\n";

/* Version 7: last sync time per priority; 2147483647 is the priority of a
 * complete sync. The legacy ps_kv key is left in place. */
static const char v7_sql[] =
    "CREATE TABLE ps_sync_state (\n"
    "  priority INTEGER NOT NULL,\n"
    "  last_synced_at TEXT NOT NULL\n"
    ") STRICT;\n"
    "INSERT OR IGNORE INTO ps_sync_state (priority, last_synced_at)\n"
    "  SELECT 2147483647, value from ps_kv where key = 'last_synced_at';\n"
    "\n"
    "INSERT INTO ps_migration(id, down_migrations)\n"
    "VALUES(7,\n"
    "json_array(\n"
    "json_object('sql', 'INSERT OR REPLACE INTO ps_kv(key, value) SELECT "
    "''last_synced_at'', last_synced_at FROM ps_sync_state WHERE priority = "
    "2147483647'),\n"
    "json_object('sql', 'DROP TABLE ps_sync_state'),\n"
    "json_object('sql', 'DELETE FROM ps_migration WHERE id >= 7')\n"
    "));\n";

/* Version 8: one row per priority, keeping the latest time. */
static const char v8_sql[] =
    "ALTER TABLE ps_sync_state RENAME TO ps_sync_state_old;\n"
    "CREATE TABLE ps_sync_state (\n"
    "  priority INTEGER NOT NULL PRIMARY KEY,\n"
    "  last_synced_at TEXT NOT NULL\n"
    ") STRICT;\n"
    "INSERT INTO ps_sync_state (priority, last_synced_at)\n"
    "  SELECT priority, MAX(last_synced_at) FROM ps_sync_state_old GROUP BY "
    "priority;\n"
    "DROP TABLE ps_sync_state_old;\n"
    "INSERT INTO ps_migration(id, down_migrations) VALUES(8, json_array(\n"
    "json_object('sql', 'ALTER TABLE ps_sync_state RENAME TO "
    "ps_sync_state_new'),\n"
    "json_object('sql', 'CREATE TABLE ps_sync_state (\n"
    "  priority INTEGER NOT NULL,\n"
    "  last_synced_at TEXT NOT NULL\n"
    ") STRICT'),\n"
    "json_object('sql', 'INSERT INTO ps_sync_state SELECT * FROM "
    "ps_sync_state_new'),\n"
    "json_object('sql', 'DROP TABLE ps_sync_state_new'),\n"
    "json_object('sql', 'DELETE FROM ps_migration WHERE id >= 8')\n"
    "));\n";

/* Version 9: download progress counters. */
static const char v9_sql[] =
    "ALTER TABLE ps_buckets ADD COLUMN count_at_last INTEGER NOT NULL DEFAULT "
    "0;\n"
    "ALTER TABLE ps_buckets ADD COLUMN count_since_last INTEGER NOT NULL "
    "DEFAULT 0;\n"
    "INSERT INTO ps_migration(id, down_migrations) VALUES(9, json_array(\n"
    "json_object('sql', 'ALTER TABLE ps_buckets DROP COLUMN "
    "count_at_last'),\n"
    "json_object('sql', 'ALTER TABLE ps_buckets DROP COLUMN "
    "count_since_last'),\n"
    "json_object('sql', 'DELETE FROM ps_migration WHERE id >= 9')\n"
    "));\n";

/* Version 10: no schema change. Views generated from now on use
 * powersync_crud columns that older libraries lack, so going back below 10
 * drops them and the older library's powersync_replace_schema recreates
 * them. */
static const char v10_sql[] =
    "INSERT INTO ps_migration(id, down_migrations) VALUES (10, json_array(\n"
    "  json_object('sql', 'SELECT powersync_drop_view(view.name)\n"
    "  FROM sqlite_master view\n"
    "  WHERE view.type = ''view''\n"
    "    AND view.sql GLOB  ''*-- powersync-auto-generated'''),\n"
    "  json_object('sql', 'DELETE FROM ps_migration WHERE id >= 10')\n"
    "));\n"
    "        ";

/* Version 11: sync stream subscriptions. */
static const char v11_sql[] =
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
    ") STRICT;\n"
    "\n"
    "INSERT INTO ps_migration(id, down_migrations) VALUES(11, json_array(\n"
    "json_object('sql', 'DROP TABLE ps_stream_subscriptions'),\n"
    "json_object('sql', 'DELETE FROM ps_migration WHERE id >= 11')\n"
    "));\n";

/* Version 12: downloaded bytes per bucket. */
static const char v12_sql[] =
    "ALTER TABLE ps_buckets ADD COLUMN downloaded_size INTEGER NOT NULL "
    "DEFAULT 0;\n"
    "INSERT INTO ps_migration(id, down_migrations) VALUES(12, json_array(\n"
    "json_object('sql', 'ALTER TABLE ps_buckets DROP COLUMN "
    "downloaded_size'),\n"
    "json_object('sql', 'DELETE FROM ps_migration WHERE id >= 12')\n"
    "));\n";

/* Version 13: timestamps become integer microseconds since the epoch.
 * unixepoch(text) needs SQLite 3.38. */
static const char v13_sql[] =
    "UPDATE ps_stream_subscriptions SET expires_at = expires_at * 1000000, "
    "last_synced_at = last_synced_at * 1000000;\n"
    "ALTER TABLE ps_sync_state RENAME TO ps_sync_state_old;\n"
    "CREATE TABLE ps_sync_state (\n"
    "  priority INTEGER NOT NULL PRIMARY KEY,\n"
    "  last_synced_at INTEGER NOT NULL\n"
    ") STRICT;\n"
    "INSERT INTO ps_sync_state (priority, last_synced_at)\n"
    "  SELECT priority, unixepoch(last_synced_at) * 1000000 FROM "
    "ps_sync_state_old;\n"
    "DROP TABLE ps_sync_state_old;\n";

/* The semicolon at the end of the CREATE TABLE is in the official core's
 * stored text. */
static const char v13_down_json[] =
    "[{\"sql\":\"UPDATE ps_stream_subscriptions SET expires_at = expires_at / "
    "1000000, last_synced_at = last_synced_at / 1000000\"},"
    "{\"sql\":\"ALTER TABLE ps_sync_state RENAME TO ps_sync_state_new\"},"
    "{\"sql\":\"CREATE TABLE ps_sync_state (\\n  priority INTEGER NOT NULL "
    "PRIMARY KEY,\\n  last_synced_at TEXT NOT NULL\\n) STRICT;\"},"
    "{\"sql\":\"INSERT INTO ps_sync_state (priority, last_synced_at) SELECT "
    "priority, datetime(last_synced_at / 1000000, 'unixepoch') FROM "
    "ps_sync_state_new\"},"
    "{\"sql\":\"DROP TABLE ps_sync_state_new\"},"
    "{\"sql\":\"DELETE FROM ps_migration WHERE id >= 13\"}]";

/* Version 14: the $local pseudo-bucket moves to ps_kv and target_op goes, so
 * that legacy SDKs writing it fail loudly. Existing keys are deleted first
 * because after a downgrade an older SDK may have changed $local, which is
 * then the source of truth. */
static const char v14_sql[] =
    "DELETE FROM ps_kv\n"
    " WHERE key IN (\n"
    "   'last_applied_checkpoint_request_id',\n"
    "   'last_seen_checkpoint_request_id',\n"
    "   'target_checkpoint_request_id'\n"
    " );\n"
    "\n"
    "INSERT INTO ps_kv(key, value)\n"
    "SELECT 'last_applied_checkpoint_request_id', last_applied_op\n"
    "  FROM ps_buckets\n"
    " WHERE name = '$local'\n"
    "   AND last_applied_op > 0;\n"
    "\n"
    "INSERT INTO ps_kv(key, value)\n"
    "SELECT 'last_seen_checkpoint_request_id', last_op\n"
    "  FROM ps_buckets\n"
    " WHERE name = '$local'\n"
    "   AND last_op > 0;\n"
    "\n"
    "INSERT INTO ps_kv(key, value)\n"
    "SELECT 'target_checkpoint_request_id', target_op\n"
    "  FROM ps_buckets\n"
    " WHERE name = '$local'\n"
    "   AND target_op > 0;\n"
    "\n"
    "DELETE FROM ps_buckets WHERE name = '$local';\n"
    "\n"
    "ALTER TABLE ps_buckets DROP COLUMN target_op;\n";

static const char v14_down_json[] =
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
    "{\"sql\":\"ALTER TABLE ps_buckets ADD COLUMN count_since_last INTEGER "
    "NOT NULL DEFAULT 0\"},"
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
    "INTEGER) FROM ps_kv WHERE key = 'last_seen_checkpoint_request_id'), 0) "
    "AS seen,\\n      IFNULL((SELECT CAST(value AS INTEGER) FROM ps_kv WHERE "
    "key = 'last_applied_checkpoint_request_id'), 0) AS applied,\\n      "
    "(SELECT CAST(value AS INTEGER) FROM ps_kv WHERE key = "
    "'target_checkpoint_request_id') AS target\\n  )\\n WHERE EXISTS (\\n    "
    "SELECT 1 FROM ps_kv WHERE key = 'target_checkpoint_request_id'\\n "
    ")\\nON CONFLICT(name) DO UPDATE SET\\n  pending_delete = "
    "excluded.pending_delete,\\n  last_op = excluded.last_op,\\n  "
    "last_applied_op = excluded.last_applied_op,\\n  target_op = "
    "excluded.target_op\"},"
    "{\"sql\":\"DELETE FROM ps_migration WHERE id >= 14\"}]";

static const struct up_step up_steps[] = {
    {1, NULL, v1_sql, NULL},
    {2, NULL, v2_sql, NULL},
    {3, NULL, v3_sql, NULL},
    {4, NULL, v4_sql, NULL},
    {5, recreate_views_without_triggers, v5_sql, NULL},
    {6, schedule_rows_without_oplog, v6_sql, NULL},
    {7, NULL, v7_sql, NULL},
    {8, NULL, v8_sql, NULL},
    {9, NULL, v9_sql, NULL},
    {10, NULL, v10_sql, NULL},
    {11, NULL, v11_sql, NULL},
    {12, NULL, v12_sql, NULL},
    {13, NULL, v13_sql, v13_down_json},
    {14, NULL, v14_sql, v14_down_json},
};

static int insert_migration_row(sqlite3 *db, int version, const char *down_json,
                                struct ps__err *e) {
  sqlite3_stmt *stmt;
  int rc = ps__prepare(db, migration_row_sql, &stmt, e);
  if (rc != SQLITE_OK)
    return rc;
  sqlite3_bind_int(stmt, 1, version);
  sqlite3_bind_text(stmt, 2, down_json, -1, SQLITE_STATIC);
  rc = ps__step_all(stmt, e);
  sqlite3_finalize(stmt);
  return rc;
}

static int run_up_step(sqlite3 *db, const struct up_step *step, int current,
                       struct ps__err *e) {
  int rc = SQLITE_OK;
  if (step->before)
    rc = step->before(db, current, e);
  if (rc == SQLITE_OK)
    rc = ps__exec(db, step->sql, e);
  if (rc == SQLITE_OK && step->down_json)
    rc = insert_migration_row(db, step->version, step->down_json, e);
  return rc;
}

/* Version 1 is created whenever the database has none, whatever the target,
 * because every other step builds on its tables. */
static int step_is_due(const struct up_step *step, int current, int target) {
  if (step->version == 1)
    return current < 1;
  return current < step->version && target >= step->version;
}

static int migrate_up(sqlite3 *db, int target, int current, struct ps__err *e) {
  size_t i;
  for (i = 0; i < sizeof(up_steps) / sizeof(up_steps[0]); i++) {
    if (step_is_due(&up_steps[i], current, target)) {
      int rc = run_up_step(db, &up_steps[i], current, e);
      if (rc != SQLITE_OK)
        return rc;
    }
  }
  return SQLITE_OK;
}

int ps__migrate(sqlite3 *db, int target, struct ps__err *e) {
  int current = 0;
  int rc = ps__exec(db, create_migration_table_sql, e);
  if (rc == SQLITE_OK)
    rc = read_version(db, &current, e);
  if (rc == SQLITE_OK)
    rc = migrate_down(db, target, &current, e);
  if (rc == SQLITE_OK)
    rc = migrate_up(db, target, current, e);
  return rc;
}

/* ---- SQL functions ---- */

static void run_migration_function(sqlite3_context *ctx, const char *fname,
                                   int target) {
  struct ps__err e;
  ps__err_init(&e);
  if (ps__migrate(sqlite3_context_db_handle(ctx), target, &e) == SQLITE_OK)
    sqlite3_result_text(ctx, "", 0, SQLITE_STATIC);
  else
    ps__err_result(ctx, fname, &e);
  ps__err_free(&e);
}

static void powersync_init_fn(sqlite3_context *ctx, int argc,
                              sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  if (!ps__require_transaction(ctx, "powersync_init"))
    return;
  run_migration_function(ctx, "powersync_init", PS_MIGRATION_LATEST_VERSION);
}

/* The target is read as a 32-bit integer like the official core reads it:
 * NULL and non-numeric text become 0, reals are truncated and larger integers
 * keep their low 32 bits. */
static void powersync_test_migration_fn(sqlite3_context *ctx, int argc,
                                        sqlite3_value **argv) {
  (void)argc;
  if (!ps__require_transaction(ctx, "powersync_test_migration"))
    return;
  run_migration_function(ctx, "powersync_test_migration",
                         sqlite3_value_int(argv[0]));
}

int ps__register_migrations(sqlite3 *db, struct ps__state *st) {
  int rc =
      ps__create_function(db, st, "powersync_init", 0, 0, powersync_init_fn);
  if (rc == SQLITE_OK)
    rc = ps__create_function(db, st, "powersync_test_migration", 1, 0,
                             powersync_test_migration_fn);
  return rc;
}
