/*
 * test_sync_client.c: the download side of the sync client against the
 * mock service over real HTTP (libcurl): first and incremental syncs, NDJSON
 * and BSON, gzip, lines split across chunks, replays of the real-service
 * transcripts, checksum failures, 401s, token expiry with prefetch, broken
 * connections resumed from stored positions, silent connections, priorities,
 * and prompt disconnects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <time.h>

#include "db_test_helpers.h"
#include "sync_test_helpers.h"

#define WAIT_MS 10000

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The body of the sync request holds key (a fragment of JSON text). */
static void assert_body_has(mock_stream *s, const char *fragment) {
  const char *body = mock_stream_body(s);
  if (!strstr(body, fragment)) {
    fprintf(stderr, "request body %s lacks %s\n", body, fragment);
    fail();
  }
}

/* "id=description;" of every todo, ordered by id. */
static void todos_string(struct st_env *env, char *got, size_t size) {
  powersync_rows *rows = NULL;
  size_t i;
  got[0] = '\0';
  ASSERT_PS_OK(powersync_db_query(
      env->db, "SELECT id, description FROM todos ORDER BY id", NULL, 0,
      &rows));
  for (i = 0; i < powersync_rows_count(rows); i++) {
    size_t used = strlen(got);
    const powersync_value *desc = powersync_rows_value(rows, i, 1);
    snprintf(got + used, size - used, "%s=%s;",
             (const char *)powersync_rows_value(rows, i, 0)->as.bytes.data,
             desc->type == POWERSYNC_VALUE_TEXT
                 ? (const char *)desc->as.bytes.data
                 : "NULL");
  }
  powersync_rows_free(rows);
}

static void assert_todos(struct st_env *env, const char *expected) {
  char got[4096];
  todos_string(env, got, sizeof(got));
  assert_string_equal(got, expected);
}

/* --- First and incremental sync ---------------------------------------------
 */

static void first_and_incremental_sync(void **state) {
  struct st_env env;
  mock_stream *s;
  char token[32];
  (void)state;
  st_setup(&env, "first_sync");
  st_connect(&env, NULL);
  s = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s);
  /* The request: the core's body, the token, JSON, and our user agent. */
  st_token_for(1, token, sizeof(token));
  assert_non_null(mock_stream_header(s, "Authorization"));
  assert_true(strstr(mock_stream_header(s, "Authorization"), token) != NULL);
  assert_string_equal(mock_stream_header(s, "Content-Type"),
                      "application/json");
  assert_string_equal(mock_stream_header(s, "Accept"), "application/x-ndjson");
  assert_true(
      strncmp(mock_stream_header(s, "User-Agent"), "powersync-c/", 12) == 0);
  assert_body_has(s, "\"client_id\":\"");
  assert_body_has(s, "\"include_defaults\":true");
  assert_body_has(s, "\"raw_data\":true");

  assert_int_equal(mock_stream_begin(s, "application/x-ndjson", 0), 0);
  st_wait_connected(&env, WAIT_MS);
  st_send(s, st_checkpoint("3", "b", 3, 3, 3));
  st_send(s, st_data_puts("b", 1, 3, 1, "first"));
  st_send(s, st_checkpoint_complete("3"));
  st_wait_first_sync(&env, -1, WAIT_MS);
  assert_todos(&env, "id1=first;id2=first;id3=first;");

  /* Incremental: one more row through a checkpoint diff. */
  assert_int_equal(
      mock_stream_send_line(
          s, "{\"checkpoint_diff\":{\"last_op_id\":\"4\",\"updated_buckets\":"
             "[{\"bucket\":\"b\",\"checksum\":4,\"count\":4,\"priority\":3}],"
             "\"removed_buckets\":[],\"write_checkpoint\":null}}"),
      0);
  st_send(s, st_data_puts("b", 4, 1, 1, "second"));
  st_send(s, st_checkpoint_complete("4"));
  {
    int64_t deadline = now_ms() + WAIT_MS;
    while (st_todo_count(&env) != 4 && now_ms() < deadline) {
      struct timespec p = {0, 5000000};
      nanosleep(&p, NULL);
    }
  }
  assert_todos(&env, "id1=first;id2=first;id3=first;id4=second;");
  assert_int_equal(mock_service_stream_count(env.ms), 1);
  ASSERT_PS_OK(powersync_db_disconnect(env.db));
  assert_int_equal(mock_stream_wait_closed(s, WAIT_MS), 0);
  mock_stream_free(s);
  st_teardown(&env);
}

/* --- Fixture replays --------------------------------------------------------
 */

static const char INITIAL_TODOS[] =
    "aaaaaaa1-0000-4000-8000-000000000001=Buy milk;"
    "aaaaaaa1-0000-4000-8000-000000000002=Buy eggs;";

/* Sends data in pieces of the given sizes (cycled), so frames straddle
 * chunk boundaries everywhere. */
static void send_in_pieces(mock_stream *s, const char *data, size_t len,
                           const size_t *sizes, size_t nsizes) {
  size_t off = 0, k = 0;
  while (off < len) {
    size_t n = sizes[k++ % nsizes];
    if (n > len - off)
      n = len - off;
    assert_int_equal(mock_stream_send(s, data + off, n), 0);
    off += n;
  }
}

/* Replays a transcript; the resulting todos go to out. */
static void replay(const char *fixture, const char *content_type, int bson,
                   int gzip, char *out, size_t out_size) {
  static const size_t sizes[] = {1, 7, 100, 3, 4096};
  struct st_env env;
  powersync_connect_options o = st_options();
  mock_stream *s;
  size_t len;
  char *data = st_read_file(st_fixture(fixture), &len);
  st_setup(&env, "replay");
  o.format = bson ? POWERSYNC_SYNC_FORMAT_BSON : POWERSYNC_SYNC_FORMAT_NDJSON;
  st_connect(&env, &o);
  s = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s);
  if (bson)
    assert_non_null(
        strstr(mock_stream_header(s, "Accept"), "vnd.powersync.bson-stream"));
  if (gzip)
    assert_non_null(strstr(mock_stream_header(s, "Accept-Encoding"), "gzip"));
  assert_int_equal(mock_stream_begin(s, content_type, gzip), 0);
  send_in_pieces(s, data, len, sizes, 5);
  st_wait_first_sync(&env, -1, WAIT_MS);
  todos_string(&env, out, out_size);
  ASSERT_PS_OK(powersync_db_disconnect(env.db));
  mock_stream_free(s);
  st_teardown(&env);
  free(data);
}

static void replay_ndjson(void **state) {
  char got[4096];
  (void)state;
  replay("initial-sync-user-a.ndjson", "application/x-ndjson", 0, 0, got,
         sizeof(got));
  assert_string_equal(got, INITIAL_TODOS);
}

static void replay_bson(void **state) {
  char got[4096];
  (void)state;
  replay("initial-sync-user-a.bson", "application/vnd.powersync.bson-stream", 1,
         0, got, sizeof(got));
  assert_string_equal(got, INITIAL_TODOS);
  replay("final-sync-user-a.bson", "application/vnd.powersync.bson-stream", 1,
         0, got, sizeof(got));
  assert_true(strlen(got) > strlen(INITIAL_TODOS));
}

/* The same transcript gzip-compressed (flushed per chunk) and plain. */
static void replay_gzip(void **state) {
  char plain[4096], gzip[4096];
  (void)state;
  replay("final-sync-user-a.ndjson", "application/x-ndjson", 0, 0, plain,
         sizeof(plain));
  replay("final-sync-user-a.ndjson", "application/x-ndjson", 0, 1, gzip,
         sizeof(gzip));
  assert_true(strlen(plain) > strlen(INITIAL_TODOS));
  assert_string_equal(gzip, plain);
}

/* The service may answer NDJSON although BSON was asked for: the response
 * decides. */
static void response_content_type_decides(void **state) {
  char got[4096];
  (void)state;
  replay("initial-sync-user-a.ndjson", "application/x-ndjson; charset=utf-8", 1,
         0, got, sizeof(got));
  assert_string_equal(got, INITIAL_TODOS);
}

/* A line split across two chunks. */
static void line_split_across_chunks(void **state) {
  struct st_env env;
  mock_stream *s;
  char *cp = st_checkpoint("1", "b", 7, 1, 3);
  char *data = st_data_puts("b", 1, 1, 7, "split");
  char *done = st_checkpoint_complete("1");
  size_t half;
  (void)state;
  st_setup(&env, "split");
  st_connect(&env, NULL);
  s = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s);
  assert_int_equal(mock_stream_begin(s, "application/x-ndjson", 0), 0);
  assert_int_equal(mock_stream_send_line(s, cp), 0);
  half = strlen(data) / 2;
  assert_int_equal(mock_stream_send(s, data, half), 0);
  assert_int_equal(mock_stream_send(s, data + half, strlen(data) - half), 0);
  assert_int_equal(mock_stream_send(s, "\n", 1), 0);
  assert_int_equal(mock_stream_send_line(s, done), 0);
  st_wait_first_sync(&env, -1, WAIT_MS);
  assert_todos(&env, "id1=split;");
  ASSERT_PS_OK(powersync_db_disconnect(env.db));
  mock_stream_free(s);
  st_teardown(&env);
  free(cp);
  free(data);
  free(done);
}

/* --- Failures and recovery --------------------------------------------------
 */

static int has_download_error(const powersync_sync_status *s, void *u) {
  (void)u;
  return powersync_sync_status_download_error(s) != NULL;
}

/* A checksum mismatch fails the iteration; the client reconnects and the
 * next, correct checkpoint applies. */
static void checksum_mismatch_and_recovery(void **state) {
  struct st_env env;
  mock_stream *s, *s2;
  powersync_sync_status *st = NULL;
  (void)state;
  st_setup(&env, "checksum");
  st_connect(&env, NULL);
  s = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s);
  assert_int_equal(mock_stream_begin(s, "application/x-ndjson", 0), 0);
  st_send(s, st_checkpoint("2", "b", 999, 2, 3)); /* Wrong: ops sum to 2. */
  st_send(s, st_data_puts("b", 1, 2, 1, "bad"));
  st_send(s, st_checkpoint_complete("2"));
  /* The client closes this stream and comes back. */
  assert_int_equal(mock_stream_wait_closed(s, WAIT_MS), 0);
  s2 = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s2);
  assert_int_equal(st_todo_count(&env), 0);
  assert_int_equal(mock_stream_begin(s2, "application/x-ndjson", 0), 0);
  st_send(s2, st_checkpoint("2", "b", 2, 2, 3));
  st_send(s2, st_data_puts("b", 1, 2, 1, "good"));
  st_send(s2, st_checkpoint_complete("2"));
  st_wait_first_sync(&env, -1, WAIT_MS);
  assert_todos(&env, "id1=good;id2=good;");
  ASSERT_PS_OK(powersync_db_sync_status(env.db, &st));
  assert_null(powersync_sync_status_download_error(st));
  powersync_sync_status_free(st);
  ASSERT_PS_OK(powersync_db_disconnect(env.db));
  mock_stream_free(s);
  mock_stream_free(s2);
  st_teardown(&env);
}

/* A 401 drops the cached token: the next attempt asks the connector again
 * and succeeds with the new token. */
static void unauthorized_then_new_credentials(void **state) {
  struct st_env env;
  mock_stream *s, *s2;
  char token[32];
  (void)state;
  st_setup(&env, "unauthorized");
  st_connect(&env, NULL);
  s = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s);
  assert_int_equal(
      mock_stream_respond(s, 401, "application/json; charset=utf-8",
                          "{\"error\":{\"code\":\"PSYNC_S2103\",\"status\":401,"
                          "\"description\":\"JWT has expired\"}}"),
      0);
  assert_int_equal(
      powersync_db_wait_for_status(env.db, has_download_error, NULL, WAIT_MS),
      POWERSYNC_OK);
  s2 = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s2);
  st_token_for(2, token, sizeof(token));
  assert_non_null(strstr(mock_stream_header(s2, "Authorization"), token));
  pthread_mutex_lock(&env.conn.mu);
  assert_int_equal(env.conn.fetch_count, 2);
  assert_int_equal(env.conn.invalidations, 1);
  pthread_mutex_unlock(&env.conn.mu);
  {
    powersync_sync_status *st = NULL;
    ASSERT_PS_OK(powersync_db_sync_status(env.db, &st));
    assert_non_null(
        strstr(powersync_sync_status_download_error(st), "PSYNC_S2103"));
    /* Never the token. */
    assert_null(strstr(powersync_sync_status_download_error(st), "token-"));
    powersync_sync_status_free(st);
  }
  ASSERT_PS_OK(powersync_db_disconnect(env.db));
  mock_stream_free(s);
  mock_stream_free(s2);
  st_teardown(&env);
}

/* Records whether the status ever showed "not connected" after the first
 * connection. */
struct disconnect_watch {
  pthread_mutex_t mu;
  int connected_once;
  int disconnected_after;
};

static void watch_disconnects(const powersync_sync_status *s, void *u) {
  struct disconnect_watch *w = u;
  pthread_mutex_lock(&w->mu);
  if (powersync_sync_status_connected(s))
    w->connected_once = 1;
  else if (w->connected_once)
    w->disconnected_after = 1;
  pthread_mutex_unlock(&w->mu);
}

/* token_expires_in <= 30: the connector is asked for a new token in the
 * background and the stream is renewed with it, without a visible
 * disconnect and without waiting for the retry delay. */
static void token_prefetch_renews_invisibly(void **state) {
  struct st_env env;
  struct disconnect_watch w = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
  powersync_status_listener *l = NULL;
  powersync_connect_options o = st_options();
  mock_stream *s, *s2;
  char token[32];
  int64_t t0;
  (void)state;
  st_setup(&env, "prefetch");
  o.retry_delay_ms = 60000; /* A reconnect may not wait for it. */
  st_connect(&env, &o);
  ASSERT_PS_OK(
      powersync_db_add_status_listener(env.db, watch_disconnects, &w, &l));
  s = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s);
  assert_int_equal(mock_stream_begin(s, "application/x-ndjson", 0), 0);
  st_send(s, st_checkpoint("1", "b", 1, 1, 3));
  st_send(s, st_data_puts("b", 1, 1, 1, "x"));
  st_send(s, st_checkpoint_complete("1"));
  st_wait_first_sync(&env, -1, WAIT_MS);
  t0 = now_ms();
  assert_int_equal(mock_stream_send_line(s, "{\"token_expires_in\":20}"), 0);
  s2 = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s2);
  assert_true(now_ms() - t0 < 5000);
  st_token_for(2, token, sizeof(token));
  assert_non_null(strstr(mock_stream_header(s2, "Authorization"), token));
  assert_int_equal(mock_stream_begin(s2, "application/x-ndjson", 0), 0);
  st_send(s2, st_checkpoint("1", "b", 1, 1, 3));
  st_send(s2, st_checkpoint_complete("1"));
  st_wait_connected(&env, WAIT_MS);
  /* Listeners are called on the dispatcher, after the status changed: wait
   * until this one has been handed a connected snapshot, so that removing
   * it cannot overtake the delivery (seen on a loaded machine). */
  t0 = now_ms();
  for (;;) {
    int seen;
    pthread_mutex_lock(&w.mu);
    seen = w.connected_once;
    pthread_mutex_unlock(&w.mu);
    if (seen || now_ms() - t0 > WAIT_MS)
      break;
    nanosleep(&(struct timespec){0, 5000000}, NULL);
  }
  powersync_status_listener_remove(l); /* Before disconnecting on purpose. */
  ASSERT_PS_OK(powersync_db_disconnect(env.db));
  pthread_mutex_lock(&w.mu);
  assert_true(w.connected_once);
  assert_false(w.disconnected_after);
  pthread_mutex_unlock(&w.mu);
  mock_stream_free(s);
  mock_stream_free(s2);
  st_teardown(&env);
}

/* token_expires_in 0 then the end of the stream: the cached token is
 * dropped and the next connection fetches a new one. */
static void token_expired_refetches(void **state) {
  struct st_env env;
  mock_stream *s, *s2;
  char token[32];
  (void)state;
  st_setup(&env, "expired");
  st_connect(&env, NULL);
  s = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s);
  assert_int_equal(mock_stream_begin(s, "application/x-ndjson", 0), 0);
  assert_int_equal(mock_stream_send_line(s, "{\"token_expires_in\":0}"), 0);
  assert_int_equal(mock_stream_end(s), 0);
  s2 = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s2);
  st_token_for(2, token, sizeof(token));
  assert_non_null(strstr(mock_stream_header(s2, "Authorization"), token));
  ASSERT_PS_OK(powersync_db_disconnect(env.db));
  mock_stream_free(s);
  mock_stream_free(s2);
  st_teardown(&env);
}

/* The connection breaks after the data but before checkpoint_complete; the
 * next request names the positions already stored, and the service's
 * resumed stream completes the sync (real-service transcripts). */
static void dropped_mid_checkpoint_resumes(void **state) {
  struct st_env env;
  mock_stream *s, *s2;
  size_t len;
  char *initial = st_read_file(st_fixture("initial-sync-user-a.ndjson"), &len);
  char *resume = st_read_file(st_fixture("resume-user-a.ndjson"), &len);
  char *last;
  char resumed[4096], direct[4096];
  (void)state;
  st_setup(&env, "resume");
  st_connect(&env, NULL);
  s = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s);
  assert_body_has(s, "\"buckets\":[]");
  assert_int_equal(mock_stream_begin(s, "application/x-ndjson", 0), 0);
  /* Everything but the final checkpoint_complete line. */
  last = strstr(initial, "{\"checkpoint_complete\"");
  assert_non_null(last);
  assert_int_equal(mock_stream_send(s, initial, (size_t)(last - initial)), 0);
  st_wait_downloading(&env, WAIT_MS);
  mock_stream_drop(s);
  s2 = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s2);
  assert_body_has(s2, "{\"name\":\"1#global[]\",\"after\":\"2\"}");
  assert_body_has(
      s2, "{\"name\":\"1#user_todos[\\\"user-a\\\"]\",\"after\":\"4\"}");
  assert_int_equal(st_todo_count(&env), 0);
  assert_int_equal(mock_stream_begin(s2, "application/x-ndjson", 0), 0);
  assert_int_equal(mock_stream_send(s2, resume, len), 0);
  st_wait_first_sync(&env, -1, WAIT_MS);
  todos_string(&env, resumed, sizeof(resumed));
  ASSERT_PS_OK(powersync_db_disconnect(env.db));
  mock_stream_free(s);
  mock_stream_free(s2);
  st_teardown(&env);
  free(initial);
  free(resume);
  /* The same rows as an uninterrupted sync to the same checkpoint. */
  replay("final-sync-user-a.ndjson", "application/x-ndjson", 0, 0, direct,
         sizeof(direct));
  assert_string_equal(resumed, direct);
}

/* A connection that sends nothing fails after the read timeout and the
 * client reconnects. */
static void silent_connection_times_out(void **state) {
  struct st_env env;
  powersync_connect_options o = st_options();
  mock_stream *s, *s2;
  int64_t t0;
  (void)state;
  st_setup(&env, "silent");
  o.read_timeout_ms = 300;
  st_connect(&env, &o);
  s = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s);
  assert_int_equal(mock_stream_begin(s, "application/x-ndjson", 0), 0);
  t0 = now_ms();
  s2 = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s2);
  assert_true(now_ms() - t0 >= 250);
  assert_int_equal(
      powersync_db_wait_for_status(env.db, has_download_error, NULL, WAIT_MS),
      POWERSYNC_OK);
  ASSERT_PS_OK(powersync_db_disconnect(env.db));
  mock_stream_free(s);
  mock_stream_free(s2);
  st_teardown(&env);
}

/* --- Priorities -------------------------------------------------------------
 */

static void priorities_and_partial_sync(void **state) {
  struct st_env env;
  mock_stream *s;
  powersync_sync_status *st = NULL;
  (void)state;
  st_setup(&env, "priorities");
  st_connect(&env, NULL);
  s = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s);
  assert_int_equal(mock_stream_begin(s, "application/x-ndjson", 0), 0);
  assert_int_equal(
      mock_stream_send_line(
          s, "{\"checkpoint\":{\"last_op_id\":\"2\",\"write_checkpoint\":null,"
             "\"buckets\":[{\"bucket\":\"hi\",\"checksum\":1,\"count\":1,"
             "\"priority\":0},{\"bucket\":\"lo\",\"checksum\":1,\"count\":1,"
             "\"priority\":3}]}}"),
      0);
  st_wait_downloading(&env, WAIT_MS);
  st_send(s, st_data_puts("hi", 1, 1, 1, "urgent"));
  st_send(s, st_partial_complete("2", 0));
  st_wait_first_sync(&env, 0, WAIT_MS);
  assert_todos(&env, "id1=urgent;");
  ASSERT_PS_OK(powersync_db_sync_status(env.db, &st));
  assert_false(powersync_sync_status_has_synced(st));
  assert_true(powersync_sync_status_for_priority(st, 0).has_synced);
  assert_false(powersync_sync_status_for_priority(st, 3).has_synced);
  {
    powersync_sync_progress p;
    assert_true(powersync_sync_status_progress(st, -1, &p));
    assert_int_equal(p.total, 2);
    assert_int_equal(p.downloaded, 1);
    assert_true(powersync_sync_status_progress(st, 0, &p));
    assert_int_equal(p.total, 1);
    assert_int_equal(p.downloaded, 1);
  }
  powersync_sync_status_free(st);
  st_send(s, st_data_puts("lo", 2, 1, 1, "later"));
  st_send(s, st_checkpoint_complete("2"));
  st_wait_first_sync(&env, -1, WAIT_MS);
  assert_todos(&env, "id1=urgent;id2=later;");
  ASSERT_PS_OK(powersync_db_disconnect(env.db));
  mock_stream_free(s);
  st_teardown(&env);
}

/* --- Disconnect and close ---------------------------------------------------
 */

struct feeder {
  mock_stream *s;
  int lines_sent;
};

/* Sends data lines until the client goes away. */
static void *feed_forever(void *arg) {
  struct feeder *f = arg;
  char *cp = st_checkpoint("1000000", "b", 0, 1000000, 3);
  int op = 1, ok = mock_stream_send_line(f->s, cp) == 0;
  free(cp);
  while (ok) {
    char *line = st_data_puts("b", op, 100, 0, "bulk");
    ok = mock_stream_send_line(f->s, line) == 0;
    free(line);
    op += 100;
    f->lines_sent++;
  }
  return NULL;
}

static void disconnect_during_large_download_is_prompt(void **state) {
  struct st_env env;
  struct feeder f = {NULL, 0};
  pthread_t feeder;
  mock_stream *s;
  int64_t t0, elapsed;
  (void)state;
  st_setup(&env, "prompt");
  st_connect(&env, NULL);
  s = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s);
  assert_int_equal(mock_stream_begin(s, "application/x-ndjson", 0), 0);
  f.s = s;
  assert_int_equal(pthread_create(&feeder, NULL, feed_forever, &f), 0);
  st_wait_downloading(&env, WAIT_MS);
  t0 = now_ms();
  ASSERT_PS_OK(powersync_db_disconnect(env.db));
  elapsed = now_ms() - t0;
  pthread_join(feeder, NULL);
  fprintf(stderr, "disconnect took %lld ms after %d lines\n",
          (long long)elapsed, f.lines_sent);
  assert_true(elapsed < 2000);
  mock_stream_free(s);
  st_teardown(&env);
}

static void close_while_connected(void **state) {
  struct st_env env;
  mock_stream *s;
  (void)state;
  st_setup(&env, "close_connected");
  st_connect(&env, NULL);
  s = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s);
  assert_int_equal(mock_stream_begin(s, "application/x-ndjson", 0), 0);
  st_wait_connected(&env, WAIT_MS);
  ASSERT_PS_OK(powersync_db_close(env.db));
  assert_int_equal(mock_stream_wait_closed(s, WAIT_MS), 0);
  mock_stream_free(s);
  mock_service_stop(env.ms);
  pthread_mutex_destroy(&env.conn.mu);
}

/* Not signed in: the attempt fails with a clear error and is retried. */
static void not_signed_in(void **state) {
  struct st_env env;
  powersync_sync_status *st = NULL;
  (void)state;
  st_setup(&env, "signed_out");
  env.conn.signed_out = 1;
  st_connect(&env, NULL);
  assert_int_equal(
      powersync_db_wait_for_status(env.db, has_download_error, NULL, WAIT_MS),
      POWERSYNC_OK);
  ASSERT_PS_OK(powersync_db_sync_status(env.db, &st));
  assert_non_null(
      strstr(powersync_sync_status_download_error(st), "not signed in"));
  powersync_sync_status_free(st);
  assert_int_equal(mock_service_stream_count(env.ms), 0);
  st_teardown(&env);
}

static void connect_rejects_bad_options(void **state) {
  struct st_env env;
  powersync_connect_options o = st_options();
  powersync_connector bad;
  (void)state;
  st_setup(&env, "bad_options");
  o.params_json = "[1]";
  assert_int_equal(powersync_db_connect(env.db, &env.connector, &o),
                   POWERSYNC_EINVAL);
  o = st_options();
  o.app_metadata_json = "{\"a\":1}";
  assert_int_equal(powersync_db_connect(env.db, &env.connector, &o),
                   POWERSYNC_EINVAL);
  bad = env.connector;
  bad.fetch_credentials = NULL;
  assert_int_equal(powersync_db_connect(env.db, &bad, NULL), POWERSYNC_EINVAL);
  assert_int_equal(powersync_db_connect(env.db, NULL, NULL), POWERSYNC_EINVAL);
  st_teardown(&env);
}

/* Connection parameters and app metadata travel in the request body. */
static void params_and_metadata_in_request(void **state) {
  struct st_env env;
  powersync_connect_options o = st_options();
  mock_stream *s;
  (void)state;
  st_setup(&env, "params");
  o.params_json = "{\"team\":\"blue\"}";
  o.app_metadata_json = "{\"app\":\"tests\"}";
  o.include_default_streams = 0;
  st_connect(&env, &o);
  s = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s);
  assert_body_has(s, "\"parameters\":{\"team\":\"blue\"}");
  assert_body_has(s, "\"app_metadata\":{\"app\":\"tests\"}");
  assert_body_has(s, "\"include_defaults\":false");
  ASSERT_PS_OK(powersync_db_disconnect(env.db));
  mock_stream_free(s);
  st_teardown(&env);
}

/* The reason an endpoint was refused reaches the status, even from a
 * connector that ignores the refusal. */
static void bad_endpoint_is_reported(void **state) {
  struct st_env env;
  powersync_sync_status *st = NULL;
  (void)state;
  st_setup(&env, "bad_endpoint");
  env.conn.bad_endpoint = "ftp://user:secret@example.com";
  st_connect(&env, NULL);
  assert_int_equal(
      powersync_db_wait_for_status(env.db, has_download_error, NULL, WAIT_MS),
      POWERSYNC_OK);
  ASSERT_PS_OK(powersync_db_sync_status(env.db, &st));
  assert_non_null(strstr(powersync_sync_status_download_error(st),
                         "not an absolute http(s) URL"));
  assert_null(strstr(powersync_sync_status_download_error(st), "secret"));
  powersync_sync_status_free(st);
  st_teardown(&env);
}

/* A transport of the application: its failure message reaches the status. */
static int failing_open(void *user_data, const powersync_http_request *req,
                        void **stream_out) {
  (void)user_data;
  (void)req;
  *stream_out = NULL;
  powersync_callback_error("custom transport is offline");
  return POWERSYNC_ENETWORK;
}
static int unused_response(void *stream, powersync_http_response *out) {
  (void)stream;
  (void)out;
  return POWERSYNC_ENETWORK;
}
static int unused_read(void *stream, void *buf, size_t cap, size_t *n) {
  (void)stream;
  (void)buf;
  (void)cap;
  *n = 0;
  return POWERSYNC_ENETWORK;
}
static void unused_wake(void *stream) { (void)stream; }
static void unused_close(void *stream) { (void)stream; }

static void custom_transport_errors_are_reported(void **state) {
  struct st_env env;
  powersync_http_transport t = {POWERSYNC_HTTP_TRANSPORT_VERSION,
                                NULL,
                                failing_open,
                                unused_response,
                                unused_read,
                                unused_wake,
                                unused_close};
  powersync_connect_options o = st_options();
  powersync_sync_status *st = NULL;
  (void)state;
  st_setup(&env, "custom_transport");
  o.transport = &t;
  st_connect(&env, &o);
  assert_int_equal(
      powersync_db_wait_for_status(env.db, has_download_error, NULL, WAIT_MS),
      POWERSYNC_OK);
  ASSERT_PS_OK(powersync_db_sync_status(env.db, &st));
  assert_string_equal(powersync_sync_status_download_error(st),
                      "custom transport is offline");
  powersync_sync_status_free(st);
  st_teardown(&env);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(first_and_incremental_sync),
      cmocka_unit_test(replay_ndjson),
      cmocka_unit_test(replay_bson),
      cmocka_unit_test(replay_gzip),
      cmocka_unit_test(response_content_type_decides),
      cmocka_unit_test(line_split_across_chunks),
      cmocka_unit_test(checksum_mismatch_and_recovery),
      cmocka_unit_test(unauthorized_then_new_credentials),
      cmocka_unit_test(token_prefetch_renews_invisibly),
      cmocka_unit_test(token_expired_refetches),
      cmocka_unit_test(dropped_mid_checkpoint_resumes),
      cmocka_unit_test(silent_connection_times_out),
      cmocka_unit_test(priorities_and_partial_sync),
      cmocka_unit_test(disconnect_during_large_download_is_prompt),
      cmocka_unit_test(close_while_connected),
      cmocka_unit_test(not_signed_in),
      cmocka_unit_test(connect_rejects_bad_options),
      cmocka_unit_test(params_and_metadata_in_request),
      cmocka_unit_test(bad_endpoint_is_reported),
      cmocka_unit_test(custom_transport_errors_are_reported),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
