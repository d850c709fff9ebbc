/*
 * test_db_open.c: opening and closing a powersync_db (file and in-memory),
 * options, the schema applied on open and replaced later, client id,
 * clearing, error codes and messages, logging.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "db_test_helpers.h"
#include "sdk/sdk_internal.h"

static void db_opens_file_and_round_trips_rows(void **state) {
  powersync_db *db;
  powersync_rows *rows = NULL;
  const powersync_value *v;
  (void)state;

  db = th_open_db(th_db_path("roundtrip"), NULL);
  th_insert_todo(db, "buy milk");
  ASSERT_PS_OK(powersync_db_query(
      db, "SELECT description, done, 1.5 AS r, x'00ff' AS b FROM todos", NULL,
      0, &rows));
  assert_int_equal(powersync_rows_count(rows), 1);
  assert_int_equal(powersync_rows_columns(rows), 4);
  assert_string_equal(powersync_rows_column_name(rows, 0), "description");
  assert_null(powersync_rows_column_name(rows, 4));
  v = powersync_rows_value(rows, 0, 0);
  assert_int_equal(v->type, POWERSYNC_VALUE_TEXT);
  assert_string_equal((const char *)v->as.bytes.data, "buy milk");
  assert_int_equal(v->as.bytes.size, 8);
  assert_int_equal(powersync_rows_value(rows, 0, 1)->type,
                   POWERSYNC_VALUE_NULL);
  assert_true(powersync_rows_value(rows, 0, 2)->as.real == 1.5);
  v = powersync_rows_value(rows, 0, 3);
  assert_int_equal(v->type, POWERSYNC_VALUE_BLOB);
  assert_int_equal(v->as.bytes.size, 2);
  assert_memory_equal(v->as.bytes.data, "\x00\xff", 2);
  assert_null(powersync_rows_value(rows, 1, 0));
  powersync_rows_free(rows);

  /* The view's trigger queued the write for upload. */
  assert_int_equal(th_query_int(db, "SELECT count(*) FROM ps_crud"), 1);
  ASSERT_PS_OK(powersync_db_close(db));
}

static void db_uses_wal_and_pragmas(void **state) {
  powersync_db *db;
  powersync_lease *lease = NULL;
  powersync_db_options opts;
  (void)state;

  ASSERT_PS_OK(powersync_db_options_init(&opts, POWERSYNC_DB_OPTIONS_VERSION));
  opts.synchronous = POWERSYNC_SYNCHRONOUS_FULL;
  opts.cache_size_kib = 1024;
  db = th_open_db(th_db_path("pragmas"), &opts);
  assert_int_equal(th_query_int(db, "PRAGMA query_only"), 1);
  assert_int_equal(th_query_int(db, "PRAGMA cache_size"), -1024);
  assert_int_equal(th_query_int(db, "PRAGMA recursive_triggers"), 1);
  ASSERT_PS_OK(powersync_db_lease_write(db, -1, &lease));
  {
    sqlite3_stmt *st = NULL;
    sqlite3 *c = powersync_lease_sqlite(lease);
    assert_int_equal(
        sqlite3_prepare_v2(c, "PRAGMA journal_mode", -1, &st, NULL), 0);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(c, "PRAGMA synchronous", -1, &st, NULL),
                     0);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 2);
    sqlite3_finalize(st);
  }
  powersync_lease_release(lease);
  /* Readers refuse writes. */
  ASSERT_PS_OK(powersync_db_lease_read(db, -1, &lease));
  assert_int_equal(sqlite3_exec(powersync_lease_sqlite(lease),
                                "INSERT INTO ps_kv VALUES ('k', 'v')", NULL,
                                NULL, NULL) &
                       0xff,
                   SQLITE_READONLY);
  powersync_lease_release(lease);
  assert_int_equal(powersync_db_read_transaction(db, NULL, NULL),
                   POWERSYNC_EINVAL);
  ASSERT_PS_OK(powersync_db_close(db));
}

static void db_in_memory_uses_one_connection(void **state) {
  powersync_db *db;
  powersync_lease *r = NULL, *w = NULL;
  (void)state;

  db = th_open_db(":memory:", NULL);
  th_insert_todo(db, "a");
  assert_int_equal(th_query_int(db, "SELECT count(*) FROM todos"), 1);
  ASSERT_PS_OK(powersync_db_lease_read(db, -1, &r));
  /* The read lease holds the only connection. */
  assert_int_equal(powersync_db_lease_write(db, 20, &w), POWERSYNC_ETIMEOUT);
  assert_null(w);
  assert_int_equal(powersync_error_last()->code, POWERSYNC_ETIMEOUT);
  powersync_lease_release(r);
  ASSERT_PS_OK(powersync_db_close(db));
}

static void db_reopen_keeps_data_and_client_id(void **state) {
  char path[1024];
  char id[128];
  powersync_db *db;
  (void)state;

  snprintf(path, sizeof(path), "%s", th_db_path("reopen"));
  db = th_open_db(path, NULL);
  th_insert_todo(db, "kept");
  assert_non_null(powersync_db_client_id(db));
  snprintf(id, sizeof(id), "%s", powersync_db_client_id(db));
  assert_int_equal(strlen(id), 36);
  /* Cached: the same pointer again. */
  assert_ptr_equal(powersync_db_client_id(db), powersync_db_client_id(db));
  ASSERT_PS_OK(powersync_db_close(db));

  db = th_open_db(path, NULL);
  assert_int_equal(th_query_int(db, "SELECT count(*) FROM todos"), 1);
  assert_string_equal(powersync_db_client_id(db), id);
  assert_int_equal(th_query_int(db, "PRAGMA user_version"), 1);
  ASSERT_PS_OK(powersync_db_close(db));
}

static void db_update_schema_is_seen_by_readers(void **state) {
  powersync_db *db;
  powersync_schema *s;
  powersync_rows *rows = NULL;
  (void)state;

  db = th_open_db(th_db_path("update_schema"), NULL);
  /* Make every reader load the old schema first. */
  assert_int_equal(th_query_int(db, "SELECT count(*) FROM todos"), 0);
  assert_int_equal(
      powersync_db_query(db, "SELECT * FROM lists", NULL, 0, &rows),
      SQLITE_ERROR);
  assert_non_null(strstr(powersync_error_last()->message, "no such table"));
  assert_null(rows);

  s = th_schema(1);
  ASSERT_PS_OK(powersync_db_update_schema(db, s));
  powersync_schema_free(s);
  {
    int i;
    /* More queries than readers, so every reader answers one. */
    for (i = 0; i < 12; i++)
      assert_int_equal(th_query_int(db, "SELECT count(*) FROM lists"), 0);
  }
  ASSERT_PS_OK(powersync_db_close(db));
}

static void db_clear_empties_synced_data(void **state) {
  powersync_db *db;
  const char *id;
  char saved[64];
  (void)state;

  db = th_open_db(":memory:", NULL);
  id = powersync_db_client_id(db);
  assert_non_null(id);
  snprintf(saved, sizeof(saved), "%s", id);
  th_insert_todo(db, "x");
  ASSERT_PS_OK(powersync_db_clear(db, 0));
  assert_int_equal(th_query_int(db, "SELECT count(*) FROM todos"), 0);
  assert_int_equal(th_query_int(db, "SELECT count(*) FROM ps_crud"), 0);
  assert_int_equal(powersync_db_clear(db, 0x100), POWERSYNC_EINVAL);
  ASSERT_PS_OK(
      powersync_db_clear(db, POWERSYNC_CLEAR_LOCAL | POWERSYNC_CLEAR_SOFT));
  /* The client id survives clearing. */
  assert_string_equal(powersync_db_client_id(db), saved);
  ASSERT_PS_OK(powersync_db_close(db));
}

/* Fills the database of db_clear_flags_choose_what_goes: a todo written
 * locally (queued for upload), one as if downloaded (no queue entry), a row
 * of the local-only notes, and a bucket with one operation. */
static void clear_fill(powersync_db *db) {
  th_insert_todo(db, "local write");
  ASSERT_PS_OK(
      powersync_db_execute(db,
                           "INSERT INTO ps_data__todos(id, data) VALUES "
                           "('synced', '{\"description\":\"downloaded\"}')",
                           NULL, 0, NULL));
  ASSERT_PS_OK(powersync_db_execute(
      db, "INSERT INTO notes(id, body) VALUES (uuid(), 'kept')", NULL, 0,
      NULL));
  ASSERT_PS_OK(powersync_db_execute(
      db,
      "INSERT INTO ps_buckets(name, last_applied_op, last_op) "
      "VALUES ('b', 5, 5)",
      NULL, 0, NULL));
  ASSERT_PS_OK(powersync_db_execute(
      db,
      "INSERT INTO ps_oplog(bucket, op_id, row_type, row_id, data, hash) "
      "SELECT id, 5, 'todos', 'synced', '{}', 0 FROM ps_buckets",
      NULL, 0, NULL));
}

/* The number of rows in table. */
static int64_t clear_count(powersync_db *db, const char *table) {
  char sql[128];
  snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
  return th_query_int(db, sql);
}

/* Each flag combination through the public API (sdk.md section 8,
 * disconnectAndClear): synced rows and the upload queue always go,
 * local-only rows only with POWERSYNC_CLEAR_LOCAL, downloaded bucket data
 * stays with POWERSYNC_CLEAR_SOFT (with its progress reset), and the client
 * id survives. A file database, so the counts are read on readers. */
static void db_clear_flags_choose_what_goes(void **state) {
  static const unsigned int flags[] = {
      0, POWERSYNC_CLEAR_SOFT, POWERSYNC_CLEAR_LOCAL,
      POWERSYNC_CLEAR_LOCAL | POWERSYNC_CLEAR_SOFT};
  powersync_schema *s = th_schema(0);
  powersync_table *t = NULL;
  powersync_upload_queue_stats stats;
  powersync_db *db = NULL;
  char saved[64];
  size_t i;
  (void)state;

  ASSERT_PS_OK(powersync_schema_add_table(s, "notes", &t));
  ASSERT_PS_OK(powersync_table_add_column(t, "body", POWERSYNC_COLUMN_TEXT));
  ASSERT_PS_OK(powersync_table_set_flags(t, POWERSYNC_TABLE_LOCAL_ONLY));
  ASSERT_PS_OK(powersync_db_open(&db, th_db_path("clear_flags"), s, NULL));
  powersync_schema_free(s);
  assert_non_null(powersync_db_client_id(db));
  snprintf(saved, sizeof(saved), "%s", powersync_db_client_id(db));

  for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
    int local = (flags[i] & POWERSYNC_CLEAR_LOCAL) != 0;
    int soft = (flags[i] & POWERSYNC_CLEAR_SOFT) != 0;
    int64_t notes_before;
    clear_fill(db);
    notes_before = clear_count(db, "notes");
    ASSERT_PS_OK(powersync_db_upload_queue_stats(db, &stats));
    assert_true(stats.count > 0);
    assert_int_equal(clear_count(db, "todos"), 2);

    ASSERT_PS_OK(powersync_db_clear(db, flags[i]));
    assert_int_equal(clear_count(db, "todos"), 0);
    assert_int_equal(clear_count(db, "ps_data__todos"), 0);
    ASSERT_PS_OK(powersync_db_upload_queue_stats(db, &stats));
    assert_int_equal(stats.count, 0);
    assert_int_equal(clear_count(db, "notes"), local ? 0 : notes_before);
    /* clear_fill adds one bucket and operation per round. */
    assert_int_equal(clear_count(db, "ps_buckets"), soft ? 1 : 0);
    assert_int_equal(clear_count(db, "ps_oplog"), soft ? 1 : 0);
    if (soft) {
      assert_int_equal(
          th_query_int(db, "SELECT last_applied_op FROM ps_buckets"), 0);
      /* Keep the next round's bucket name free. */
      ASSERT_PS_OK(
          powersync_db_execute(db, "DELETE FROM ps_oplog", NULL, 0, NULL));
      ASSERT_PS_OK(
          powersync_db_execute(db, "DELETE FROM ps_buckets", NULL, 0, NULL));
    }
    assert_string_equal(powersync_db_client_id(db), saved);
  }
  ASSERT_PS_OK(powersync_db_close(db));
}

static void db_rejects_bad_arguments(void **state) {
  powersync_db *db = (powersync_db *)1;
  powersync_db_options opts = POWERSYNC_DB_OPTIONS_INIT;
  powersync_schema *s;
  powersync_table *t = NULL;
  powersync_index *ix = NULL;
  (void)state;

  assert_int_equal(powersync_db_open(NULL, ":memory:", NULL, NULL),
                   POWERSYNC_EINVAL);
  assert_int_equal(powersync_db_open(&db, NULL, NULL, NULL), POWERSYNC_EINVAL);
  assert_null(db);
  opts.readers = -1;
  assert_int_equal(powersync_db_open(&db, ":memory:", NULL, &opts),
                   POWERSYNC_EINVAL);
  opts.readers = 5;
  opts.version = 99;
  assert_int_equal(powersync_db_open(&db, ":memory:", NULL, &opts),
                   POWERSYNC_EINVAL);
  assert_int_equal(powersync_db_options_init(&opts, 99), POWERSYNC_EINVAL);
  assert_int_equal(powersync_db_close(NULL), POWERSYNC_OK);

  /* An index on a missing column fails validation before anything opens. */
  s = powersync_schema_new();
  ASSERT_PS_OK(powersync_schema_add_table(s, "t", &t));
  ASSERT_PS_OK(powersync_table_add_index(t, "ix", &ix));
  ASSERT_PS_OK(powersync_index_add_column(ix, "missing", 1));
  assert_int_equal(powersync_db_open(&db, th_db_path("bad_schema"), s, NULL),
                   POWERSYNC_ESCHEMA);
  assert_null(db);
  assert_true(strlen(powersync_error_last()->message) > 0);
  powersync_schema_free(s);

  /* A directory that does not exist. */
  assert_true(powersync_db_open(&db, "/nonexistent/dir/x.db", NULL, NULL) > 0);
  assert_null(db);
  assert_non_null(strstr(powersync_error_last()->message, "cannot open"));
}

static void db_statement_errors(void **state) {
  powersync_db *db;
  powersync_rows *rows = NULL;
  powersync_value p[2];
  int64_t changes = -1;
  (void)state;

  db = th_open_db(":memory:", NULL);
  p[0] = powersync_int(1);
  p[1] = powersync_int(2);
  assert_int_equal(powersync_db_execute(db, "SELECT ?", p, 2, NULL),
                   POWERSYNC_EINVAL);
  assert_int_equal(
      powersync_db_execute(db, "SELECT 1; SELECT 2", NULL, 0, NULL),
      POWERSYNC_EINVAL);
  assert_int_equal(powersync_db_execute(db, "  -- nothing", NULL, 0, NULL),
                   POWERSYNC_EINVAL);
  ASSERT_PS_OK(
      powersync_db_execute(db, "SELECT 1; -- trailing", NULL, 0, NULL));
  assert_int_equal(powersync_db_execute(db, "SELEC 1", NULL, 0, NULL),
                   SQLITE_ERROR);
  assert_non_null(strstr(powersync_error_last()->message, "syntax error"));
  ASSERT_PS_OK(powersync_db_execute(
      db, "CREATE TABLE local_t(a INTEGER PRIMARY KEY, b BLOB)", NULL, 0,
      NULL));
  p[1] = powersync_blob(NULL, 0);
  ASSERT_PS_OK(powersync_db_execute(db, "INSERT INTO local_t VALUES (?, ?)", p,
                                    2, &changes));
  assert_int_equal(changes, 1);
  /* Constraint violations keep SQLite's extended code. */
  assert_int_equal(powersync_db_execute(db, "INSERT INTO local_t VALUES (?, ?)",
                                        p, 2, &changes),
                   SQLITE_CONSTRAINT_PRIMARYKEY);
  ASSERT_PS_OK(powersync_db_query(db, "SELECT b, typeof(b) FROM local_t", NULL,
                                  0, &rows));
  assert_int_equal(powersync_rows_value(rows, 0, 0)->type,
                   POWERSYNC_VALUE_BLOB);
  assert_int_equal(powersync_rows_value(rows, 0, 0)->as.bytes.size, 0);
  powersync_rows_free(rows);
  ASSERT_PS_OK(powersync_db_close(db));
}

static void errstr_names_every_code(void **state) {
  int rc;
  (void)state;
  for (rc = POWERSYNC_EBUSY; rc <= 0; rc++) {
    assert_non_null(powersync_errstr(rc));
    assert_string_not_equal(powersync_errstr(rc), "unknown error");
  }
  assert_string_equal(powersync_errstr(-1000), "unknown error");
  assert_string_equal(powersync_errstr(SQLITE_BUSY),
                      sqlite3_errstr(SQLITE_BUSY));
  powersync_error_clear();
  assert_int_equal(powersync_error_last()->code, POWERSYNC_OK);
  assert_string_equal(powersync_error_last()->message, "");
}

static int log_count;
static void count_log(powersync_log_level level, const char *tag,
                      const char *message, void *user_data) {
  (void)tag;
  (void)message;
  assert_ptr_equal(user_data, &log_count);
  assert_true(level >= POWERSYNC_LOG_INFO);
  log_count++;
}

static void log_callback_gets_messages(void **state) {
  powersync_db *db;
  (void)state;
  powersync_set_log_callback(count_log, &log_count, POWERSYNC_LOG_INFO);
  db = th_open_db(":memory:", NULL);
  ASSERT_PS_OK(powersync_db_close(db));
  assert_true(log_count >= 2); /* opened, closing */
  powersync_set_log_callback(NULL, NULL, POWERSYNC_LOG_TRACE);
  log_count = 0;
  db = th_open_db(":memory:", NULL);
  ASSERT_PS_OK(powersync_db_close(db));
  assert_int_equal(log_count, 0);
}

static void view_table_name_strips_prefixes(void **state) {
  (void)state;
  assert_string_equal(ps__view_table_name("ps_data__todos"), "todos");
  assert_string_equal(ps__view_table_name("ps_data_local__l"), "l");
  assert_string_equal(ps__view_table_name("ps_crud"), "ps_crud");
}

static void close_finalizes_leaked_statements(void **state) {
  powersync_db *db = th_open_db(th_db_path("leaked_stmt"), NULL);
  powersync_lease *lease = NULL;
  sqlite3_stmt *leaked = NULL;
  (void)state;
  ASSERT_PS_OK(powersync_db_lease_read(db, -1, &lease));
  assert_int_equal(sqlite3_prepare_v2(powersync_lease_sqlite(lease), "SELECT 1",
                                      -1, &leaked, NULL),
                   SQLITE_OK);
  powersync_lease_release(lease);
  ASSERT_PS_OK(powersync_db_close(db));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(db_opens_file_and_round_trips_rows),
      cmocka_unit_test(db_uses_wal_and_pragmas),
      cmocka_unit_test(db_in_memory_uses_one_connection),
      cmocka_unit_test(db_reopen_keeps_data_and_client_id),
      cmocka_unit_test(db_update_schema_is_seen_by_readers),
      cmocka_unit_test(db_clear_empties_synced_data),
      cmocka_unit_test(db_clear_flags_choose_what_goes),
      cmocka_unit_test(db_rejects_bad_arguments),
      cmocka_unit_test(db_statement_errors),
      cmocka_unit_test(errstr_names_every_code),
      cmocka_unit_test(log_callback_gets_messages),
      cmocka_unit_test(view_table_name_strips_prefixes),
      cmocka_unit_test(close_finalizes_leaked_statements),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
