/*
 * fn_clear.c: powersync_clear(flags) and powersync_trigger_resync(
 * clear_progress) (core-storage.md section 10).
 *
 * Usage (both need an explicit transaction):
 *
 *   BEGIN;
 *   SELECT powersync_clear(0);   -- everything synced, buckets included
 *   SELECT powersync_clear(1);   -- also local-only tables (ps_data_*)
 *   SELECT powersync_clear(2);   -- soft: keep downloaded bucket data
 *   SELECT powersync_trigger_resync(TRUE);  -- re-apply all, forget progress
 *   COMMIT;
 *
 * Both return ''.
 *
 * HOW IT WORKS
 *
 * powersync_clear runs fixed batches with sqlite3_exec (their texts appear in
 * error messages, so they are byte-identical to the official core's), then
 * empties every data table found by a GLOB on sqlite_master, and finally runs
 * the clear statements of the raw tables in the schema last applied on this
 * connection with the in-sync-operation flag set, so that raw-table triggers
 * and the powersync_crud table do not record the deletes as local writes.
 * Each data table is emptied by deleting one row first: the second, unfiltered
 * DELETE uses SQLite's truncate optimisation, which does not call update
 * hooks, and the single-row delete makes sure watchers hear of the table.
 */
#include <string.h>

#include "../core/schema.h"
#include "../util/buf.h"
#include "error.h"
#include "register.h"
#include "sql.h"
#include "sqlite_api.h"
#include "state.h"

/* Flag bits of powersync_clear. */
#define CLEAR_LOCAL 0x01 /* Also empty local-only tables. */
#define CLEAR_SOFT  0x02 /* Keep ps_buckets/ps_oplog for a faster resync. */

static const char SQL_HARD_CLEAR[] =
    "DELETE FROM ps_oplog; DELETE FROM ps_buckets";
static const char SQL_RESET_APPLIED[] =
    "UPDATE ps_buckets SET last_applied_op = 0";
static const char SQL_CLEAR_LOCAL_STATE[] =
    "DELETE FROM ps_crud;\n"
    "DELETE FROM ps_untyped;\n"
    "DELETE FROM ps_updated_rows;\n"
    "DELETE FROM ps_kv WHERE key != 'client_id';\n"
    "DELETE FROM ps_stream_subscriptions;\n";
static const char SQL_CLEAR_SYNC_STATE[] = "DELETE FROM ps_sync_state;";
static const char SQL_CLEAR_STREAM_PROGRESS[] =
    "UPDATE ps_stream_subscriptions SET last_synced_at = NULL";
static const char SQL_LIST_TABLES[] =
    "SELECT name FROM sqlite_master WHERE type='table' AND name GLOB ?1";

/* Fails with the argument error shared by both functions when the sync
 * client is in the middle of an iteration on this connection. */
static int clear_check_no_iteration(struct ps__state *st, struct ps__err *e) {
  if (!st->sync_iteration_active)
    return SQLITE_OK;
  ps__err_argument(
      e, "Cannot clear or trigger resync while a sync iteration is active.",
      NULL);
  return e->code;
}

/* Forgets download progress: sync state and per-stream timestamps. */
static int clear_sync_progress(sqlite3 *db, struct ps__err *e) {
  int rc = ps__exec(db, SQL_CLEAR_SYNC_STATE, e);
  if (rc == SQLITE_OK)
    rc = ps__exec(db, SQL_CLEAR_STREAM_PROGRESS, e);
  return rc;
}

/* Empties one data table (see HOW IT WORKS for the two DELETEs). */
static int clear_data_table(sqlite3 *db, const char *name, struct ps__err *e) {
  struct ps__buf sql;
  int rc;
  ps__buf_init(&sql, 0);
  ps__buf_puts(&sql, "DELETE FROM ");
  ps__buf_ident(&sql, name);
  ps__buf_puts(&sql, " WHERE rowid IN (SELECT rowid FROM ");
  ps__buf_ident(&sql, name);
  ps__buf_puts(&sql, " LIMIT 1);\nDELETE FROM ");
  ps__buf_ident(&sql, name);
  ps__buf_putc(&sql, ';');
  if (ps__buf_failed(&sql)) {
    ps__err_nomem(e);
    rc = e->code;
  } else {
    rc = ps__exec(db, ps__buf_cstr(&sql), e);
  }
  ps__buf_free(&sql);
  return rc;
}

/* Collects the names of the tables matching glob into names, each followed
 * by a NUL byte. Collecting first keeps the sqlite_master scan out of the
 * deletes. */
static int clear_list_tables(sqlite3 *db, const char *glob,
                             struct ps__buf *names, struct ps__err *e) {
  sqlite3_stmt *stmt;
  int rc = ps__prepare(db, SQL_LIST_TABLES, &stmt, e);
  if (rc != SQLITE_OK)
    return rc;
  sqlite3_bind_text(stmt, 1, glob, -1, SQLITE_STATIC);
  for (;;) {
    rc = ps__step(stmt, e);
    if (rc != SQLITE_ROW)
      break;
    ps__buf_append(names, sqlite3_column_text(stmt, 0),
                   (size_t)sqlite3_column_bytes(stmt, 0));
    ps__buf_putc(names, '\0');
  }
  sqlite3_finalize(stmt);
  if (rc == SQLITE_DONE && ps__buf_failed(names)) {
    ps__err_nomem(e);
    rc = e->code;
  }
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Empties every table whose name matches glob. */
static int clear_data_tables(sqlite3 *db, const char *glob, struct ps__err *e) {
  struct ps__buf names;
  size_t pos;
  int rc;
  ps__buf_init(&names, 0);
  rc = clear_list_tables(db, glob, &names, e);
  for (pos = 0; rc == SQLITE_OK && pos < names.len;) {
    const char *name = names.data + pos;
    rc = clear_data_table(db, name, e);
    pos += strlen(name) + 1;
  }
  ps__buf_free(&names);
  return rc;
}

/* Runs the clear statement of every raw table of the connection's schema
 * with the in-sync-operation flag set (10.1 step 5). */
static int clear_raw_tables(struct ps__state *st, struct ps__err *e) {
  const struct ps__schema *schema = st->schema;
  size_t i;
  int rc = SQLITE_OK;
  if (!schema)
    return SQLITE_OK;
  st->in_sync_operation = 1;
  for (i = 0; rc == SQLITE_OK && i < schema->raw_table_count; i++) {
    const struct ps__raw_table *raw = &schema->raw_tables[i];
    if (!raw->clear)
      continue;
    rc = ps__exec(st->db, raw->clear, e);
    if (rc != SQLITE_OK)
      ps__err_context(e, "Clearing raw table %s", raw->name);
  }
  st->in_sync_operation = 0;
  return rc;
}

static int clear_run(struct ps__state *st, int flags, struct ps__err *e) {
  sqlite3 *db = st->db;
  int rc;
  if (flags & CLEAR_SOFT) {
    rc = clear_check_no_iteration(st, e);
    if (rc == SQLITE_OK)
      rc = ps__exec(db, SQL_RESET_APPLIED, e);
  } else {
    /* The hard clear ends any iteration's basis anyway; the official core
     * does not check for one here. */
    rc = ps__exec(db, SQL_HARD_CLEAR, e);
  }
  if (rc == SQLITE_OK)
    rc = ps__exec(db, SQL_CLEAR_LOCAL_STATE, e);
  if (rc == SQLITE_OK)
    rc = clear_sync_progress(db, e);
  if (rc == SQLITE_OK)
    rc = clear_data_tables(
        db, (flags & CLEAR_LOCAL) ? "ps_data_*" : "ps_data__*", e);
  if (rc == SQLITE_OK)
    rc = clear_raw_tables(st, e);
  return rc;
}

static void powersync_clear(sqlite3_context *ctx, int argc,
                            sqlite3_value **argv) {
  struct ps__state *st = sqlite3_user_data(ctx);
  struct ps__err e;
  (void)argc;
  if (!ps__require_transaction(ctx, "powersync_clear"))
    return;
  ps__err_init(&e);
  /* Read as a 32-bit integer, like the official core. */
  if (clear_run(st, sqlite3_value_int(argv[0]), &e) == SQLITE_OK)
    sqlite3_result_text(ctx, "", 0, SQLITE_STATIC);
  else
    ps__err_result(ctx, "powersync_clear", &e);
  ps__err_free(&e);
}

static int resync_run(struct ps__state *st, int clear_progress,
                      struct ps__err *e) {
  int rc = clear_check_no_iteration(st, e);
  if (rc == SQLITE_OK)
    rc = ps__exec(st->db, SQL_RESET_APPLIED, e);
  if (rc == SQLITE_OK && clear_progress)
    rc = clear_sync_progress(st->db, e);
  return rc;
}

static void powersync_trigger_resync(sqlite3_context *ctx, int argc,
                                     sqlite3_value **argv) {
  struct ps__state *st = sqlite3_user_data(ctx);
  struct ps__err e;
  (void)argc;
  if (!ps__require_transaction(ctx, "powersync_trigger_resync"))
    return;
  ps__err_init(&e);
  if (resync_run(st, sqlite3_value_int(argv[0]) != 0, &e) == SQLITE_OK)
    sqlite3_result_text(ctx, "", 0, SQLITE_STATIC);
  else
    ps__err_result(ctx, "powersync_trigger_resync", &e);
  ps__err_free(&e);
}

int ps__register_clear(sqlite3 *db, struct ps__state *st) {
  int rc =
      ps__create_function(db, st, "powersync_clear", 1, 0, powersync_clear);
  if (rc == SQLITE_OK)
    rc = ps__create_function(db, st, "powersync_trigger_resync", 1, 0,
                             powersync_trigger_resync);
  return rc;
}
