/*
 * test_sync_faults.c: the sync client when the database cannot take what
 * the service sends. A full disk (simulated with PRAGMA max_page_count on
 * the connection that applies sync lines) must fail the line with a clear
 * download error, leave the database consistent with nothing half-applied,
 * and the client must recover by itself once space is back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "db_test_helpers.h"
#include "sync_test_helpers.h"

#define WAIT_MS  10000
#define ROWS     1000
#define PER_LINE 500

/* Long enough that one data line needs far more pages than allowed. */
#define DESCRIPTION "a todo with a description long enough to fill pages"

static void exec(struct st_env *env, const char *sql) {
  ASSERT_PS_OK(powersync_db_execute(env->db, sql, NULL, 0, NULL));
}

static int download_error_says_full(struct st_env *env) {
  powersync_sync_status *s = NULL;
  const char *err;
  int yes = 0;
  if (powersync_db_sync_status(env->db, &s) != POWERSYNC_OK)
    return 0;
  err = powersync_sync_status_download_error(s);
  yes = err && strstr(err, "full") != NULL;
  powersync_sync_status_free(s);
  return yes;
}

/* Sends a line; with may_fail, the client is allowed to have gone (it
 * drops the stream when a line fails to apply). */
static void send(mock_stream *s, char *line, int may_fail) {
  int rc = mock_stream_send_line(s, line);
  free(line);
  if (!may_fail)
    assert_int_equal(rc, 0);
}

static void serve_all_rows(mock_stream *s, int may_fail) {
  char last[16];
  int first;
  snprintf(last, sizeof(last), "%d", ROWS);
  assert_int_equal(mock_stream_begin(s, "application/x-ndjson", 0), 0);
  send(s, st_checkpoint(last, "b", ROWS, ROWS, 3), may_fail);
  for (first = 1; first <= ROWS; first += PER_LINE)
    send(s, st_data_puts("b", first, PER_LINE, 1, DESCRIPTION), may_fail);
  send(s, st_checkpoint_complete(last), may_fail);
}

static int64_t integrity_problems(struct st_env *env) {
  return th_query_int(env->db, "SELECT count(*) FROM pragma_integrity_check "
                               "WHERE integrity_check <> 'ok'");
}

static void disk_full_during_download(void **state) {
  struct st_env env;
  mock_stream *s, *s2;
  char sql[128];
  (void)state;
  st_setup(&env, "disk_full");
  /* A few pages of headroom: the first data line cannot fit. */
  snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld",
           (long long)th_query_int(env.db, "PRAGMA page_count") + 8);
  exec(&env, sql);
  st_connect(&env, NULL);
  s = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s);
  serve_all_rows(s, 1);
  st_wait_until(&env, download_error_says_full, WAIT_MS,
                "a download error naming the full disk");
  /* Nothing half-applied: no op stored, no row visible, no corruption. */
  assert_int_equal(th_query_int(env.db, "SELECT count(*) FROM ps_oplog"), 0);
  assert_int_equal(st_todo_count(&env), 0);
  assert_int_equal(integrity_problems(&env), 0);

  /* Space is back: the client's next attempt completes the sync. */
  exec(&env, "PRAGMA max_page_count = 1073741823");
  s2 = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s2);
  serve_all_rows(s2, 0);
  st_wait_first_sync(&env, -1, WAIT_MS);
  assert_int_equal(st_todo_count(&env), ROWS);
  assert_int_equal(integrity_problems(&env), 0);
  ASSERT_PS_OK(powersync_db_disconnect(env.db));
  mock_stream_free(s);
  mock_stream_free(s2);
  st_teardown(&env);
}

/* Two clients on one file would interleave their downloads in one oplog;
 * the second connect is refused until the first disconnects. */
static void second_client_on_same_file_is_refused(void **state) {
  struct st_env env;
  powersync_db *other;
  mock_stream *s;
  int rc;
  (void)state;
  st_setup(&env, "same_file");
  other = th_open_db(th_db_path("same_file"), NULL);
  st_connect(&env, NULL);
  rc = powersync_db_connect(other, &env.connector, NULL);
  assert_int_equal(rc, POWERSYNC_EBUSY);
  assert_non_null(strstr(powersync_error_last()->message, "already syncing"));
  ASSERT_PS_OK(powersync_db_disconnect(env.db));
  /* Released by the disconnect: the other handle may sync now. */
  {
    powersync_connect_options o = st_options();
    ASSERT_PS_OK(powersync_db_connect(other, &env.connector, &o));
  }
  s = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s);
  assert_int_equal(powersync_db_connect(env.db, &env.connector, NULL),
                   POWERSYNC_EBUSY);
  ASSERT_PS_OK(powersync_db_close(other));
  mock_stream_free(s);
  st_teardown(&env);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(disk_full_during_download),
      cmocka_unit_test(second_client_on_same_file_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
