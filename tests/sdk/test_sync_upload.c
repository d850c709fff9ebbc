/*
 * test_sync_upload.c: the upload side of the sync client and the features
 * that span both tasks, against the mock service over real HTTP: failing
 * uploads retried without loss, duplication or stalls; server data held
 * back until the write checkpoint; offline writes; application-run tasks;
 * stream subscriptions while connected; disconnect and clear.
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

static void exec(struct st_env *env, const char *sql) {
  ASSERT_PS_OK(powersync_db_execute(env->db, sql, NULL, 0, NULL));
}

static void sleep_ms(int ms) {
  struct timespec p = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&p, NULL);
}

/* Starts a stream and syncs one row id1 = "server" at op 1. */
static mock_stream *sync_one_row(struct st_env *env) {
  mock_stream *s = mock_service_next_stream(env->ms, WAIT_MS);
  assert_non_null(s);
  assert_int_equal(mock_stream_begin(s, "application/x-ndjson", 0), 0);
  st_send(s, st_checkpoint("1", "b", 1, 1, 3));
  st_send(s, st_data_puts("b", 1, 1, 1, "server"));
  st_send(s, st_checkpoint_complete("1"));
  st_wait_first_sync(env, -1, WAIT_MS);
  return s;
}

static char *description_of(struct st_env *env, const char *id) {
  powersync_rows *rows = NULL;
  powersync_value p = powersync_text(id);
  char *result = NULL;
  ASSERT_PS_OK(powersync_db_query(
      env->db, "SELECT description FROM todos WHERE id = ?", &p, 1, &rows));
  if (powersync_rows_count(rows) == 1)
    result =
        strdup((const char *)powersync_rows_value(rows, 0, 0)->as.bytes.data);
  powersync_rows_free(rows);
  return result;
}

/* --- Uploads ----------------------------------------------------------------
 */

static int uploaded_three(struct st_env *env) {
  int done;
  pthread_mutex_lock(&env->conn.mu);
  done = strstr(env->conn.uploaded, "u3") != NULL;
  pthread_mutex_unlock(&env->conn.mu);
  return done;
}

static int not_uploading(const powersync_sync_status *s, void *u) {
  (void)u;
  return !powersync_sync_status_uploading(s);
}

/* The callback fails three times, then succeeds: each entry is uploaded
 * exactly once, nothing is lost, and no new write was needed to retry. */
static void upload_fails_then_succeeds(void **state) {
  struct st_env env;
  powersync_sync_status *st = NULL;
  char *target;
  (void)state;
  st_setup(&env, "upload_retry");
  env.conn.upload_fail_remaining = 3;
  st_connect(&env, NULL);
  exec(&env, "INSERT INTO todos (id, description) VALUES ('u1', 'a'), "
             "('u2', 'b'), ('u3', 'c')");
  st_wait_until(&env, uploaded_three, WAIT_MS, "the upload");
  st_wait_upload_queue_empty(&env, WAIT_MS);
  pthread_mutex_lock(&env.conn.mu);
  assert_string_equal(env.conn.uploaded, "1:todos:u1;1:todos:u2;1:todos:u3;");
  assert_int_equal(env.conn.upload_calls, 4);
  pthread_mutex_unlock(&env.conn.mu);
  /* Then the write checkpoint, with the client id of the stream. */
  {
    int64_t deadline = 0;
    while (mock_service_write_checkpoint_count(env.ms) == 0 &&
           deadline++ < WAIT_MS / 5)
      sleep_ms(5);
  }
  assert_true(mock_service_write_checkpoint_count(env.ms) >= 1);
  {
    int i, n = mock_service_request_count(env.ms), found = 0;
    for (i = 0; i < n; i++) {
      target = mock_service_request_target(env.ms, i);
      if (strncmp(target, "/write-checkpoint2.json?client_id=", 34) == 0) {
        assert_string_equal(target + 34, powersync_db_client_id(env.db));
        found = 1;
      }
      free(target);
    }
    assert_true(found);
  }
  assert_int_equal(
      powersync_db_wait_for_status(env.db, not_uploading, NULL, WAIT_MS),
      POWERSYNC_OK);
  ASSERT_PS_OK(powersync_db_sync_status(env.db, &st));
  assert_null(powersync_sync_status_upload_error(st));
  powersync_sync_status_free(st);
  st_teardown(&env);
}

static int has_upload_error(const powersync_sync_status *s, void *u) {
  (void)u;
  return powersync_sync_status_upload_error(s) != NULL;
}

/* A callback that reports success without completing anything is caught
 * (instead of spinning) and retried; once it completes, the queue drains
 * without any further local write. */
static void upload_that_completes_nothing_does_not_spin(void **state) {
  struct st_env env;
  powersync_sync_status *st = NULL;
  int calls;
  (void)state;
  st_setup(&env, "upload_spin");
  env.conn.upload_complete = 0;
  st_connect(&env, NULL);
  exec(&env, "INSERT INTO todos (id, description) VALUES ('u1', 'a')");
  assert_int_equal(
      powersync_db_wait_for_status(env.db, has_upload_error, NULL, WAIT_MS),
      POWERSYNC_OK);
  ASSERT_PS_OK(powersync_db_sync_status(env.db, &st));
  assert_non_null(strstr(powersync_sync_status_upload_error(st),
                         "previously encountered CRUD item"));
  powersync_sync_status_free(st);
  sleep_ms(150);
  pthread_mutex_lock(&env.conn.mu);
  calls = env.conn.upload_calls;
  env.conn.upload_complete = 1;
  pthread_mutex_unlock(&env.conn.mu);
  /* Two calls per retry delay at most: no busy loop. */
  assert_true(calls <= 8);
  st_wait_upload_queue_empty(&env, WAIT_MS);
  st_teardown(&env);
}

/* Writes made before connecting are uploaded at connect. */
static void offline_writes_upload_on_connect(void **state) {
  struct st_env env;
  (void)state;
  st_setup(&env, "offline_writes");
  exec(&env, "INSERT INTO todos (id, description) VALUES ('u3', 'offline')");
  st_connect(&env, NULL);
  /* The connector records entries after completing them. */
  st_wait_until(&env, uploaded_three, WAIT_MS, "the upload");
  st_wait_upload_queue_empty(&env, WAIT_MS);
  pthread_mutex_lock(&env.conn.mu);
  assert_string_equal(env.conn.uploaded, "1:todos:u3;");
  pthread_mutex_unlock(&env.conn.mu);
  st_teardown(&env);
}

static int write_checkpoint_requested(struct st_env *env) {
  return mock_service_write_checkpoint_count(env->ms) > 0;
}

/* Server data waits while local writes are unconfirmed: a checkpoint
 * changing a locally edited row is held back until the service reports the
 * write checkpoint obtained after the upload (sdk.md 11.6). */
static void server_data_waits_for_write_checkpoint(void **state) {
  struct st_env env;
  mock_stream *s;
  char *d;
  (void)state;
  st_setup(&env, "held_back");
  env.conn.upload_fail_remaining = 1000000; /* Hold the upload for now. */
  st_connect(&env, NULL);
  s = sync_one_row(&env);
  exec(&env, "UPDATE todos SET description = 'local' WHERE id = 'id1'");

  /* The service changes the row; the local edit must stay. */
  assert_int_equal(
      mock_stream_send_line(
          s, "{\"checkpoint_diff\":{\"last_op_id\":\"2\",\"updated_buckets\":"
             "[{\"bucket\":\"b\",\"checksum\":2,\"count\":2,\"priority\":3}],"
             "\"removed_buckets\":[],\"write_checkpoint\":null}}"),
      0);
  st_send(s, st_data_puts("b", 2, 1, 1, "server2")); /* A new row id2. */
  st_send(s, st_checkpoint_complete("2"));
  sleep_ms(300);
  d = description_of(&env, "id1");
  assert_string_equal(d, "local");
  free(d);
  d = description_of(&env, "id2");
  assert_null(d); /* Held back as a whole. */

  /* The upload goes through, then the write checkpoint (10 by default). */
  pthread_mutex_lock(&env.conn.mu);
  env.conn.upload_fail_remaining = 0;
  pthread_mutex_unlock(&env.conn.mu);
  st_wait_upload_queue_empty(&env, WAIT_MS);
  st_wait_until(&env, write_checkpoint_requested, WAIT_MS,
                "a write checkpoint request");
  sleep_ms(100);
  d = description_of(&env, "id2");
  assert_null(d); /* The service has not reported checkpoint 10 yet. */

  /* The service reports it: now the checkpoint applies. */
  assert_int_equal(
      mock_stream_send_line(
          s, "{\"checkpoint_diff\":{\"last_op_id\":\"2\",\"updated_buckets\":"
             "[],\"removed_buckets\":[],\"write_checkpoint\":\"10\"}}"),
      0);
  st_send(s, st_checkpoint_complete("2"));
  {
    int i;
    for (i = 0; i < WAIT_MS / 5; i++) {
      d = description_of(&env, "id2");
      if (d)
        break;
      sleep_ms(5);
    }
  }
  assert_non_null(d);
  assert_string_equal(d, "server2");
  free(d);
  /* The server state of id1 wins again (it was uploaded, and the service
   * did not change it further). */
  d = description_of(&env, "id1");
  assert_string_equal(d, "server");
  free(d);
  ASSERT_PS_OK(powersync_db_disconnect(env.db));
  mock_stream_free(s);
  st_teardown(&env);
}

/* --- Application-run tasks --------------------------------------------------
 */

struct app_threads {
  pthread_t threads[3];
  char names[3][16];
  int count;
};

static void *run_task(void *arg) {
  powersync_task_run(arg);
  return NULL;
}

static int app_spawn(void *user_data, powersync_task *task) {
  struct app_threads *t = user_data;
  snprintf(t->names[t->count], sizeof(t->names[0]), "%s",
           powersync_task_name(task));
  if (pthread_create(&t->threads[t->count], NULL, run_task, task) != 0)
    return -1;
  t->count++;
  return 0;
}

static void tasks_on_application_threads(void **state) {
  struct st_env env;
  struct app_threads t;
  powersync_connect_options o = st_options();
  mock_stream *s;
  int i;
  (void)state;
  memset(&t, 0, sizeof(t));
  st_setup(&env, "app_tasks");
  o.spawn = app_spawn;
  o.spawn_user_data = &t;
  st_connect(&env, &o);
  assert_int_equal(t.count, 3);
  assert_string_equal(t.names[0], "credentials");
  assert_string_equal(t.names[1], "upload");
  assert_string_equal(t.names[2], "download");
  s = sync_one_row(&env);
  ASSERT_PS_OK(powersync_db_disconnect(env.db));
  /* Every task has returned: the threads end. */
  for (i = 0; i < t.count; i++)
    pthread_join(t.threads[i], NULL);
  mock_stream_free(s);
  st_teardown(&env);
}

static int refuse_spawn(void *user_data, powersync_task *task) {
  (void)user_data;
  (void)task;
  return -1;
}

static void spawn_refused(void **state) {
  struct st_env env;
  powersync_connect_options o = st_options();
  (void)state;
  st_setup(&env, "spawn_refused");
  o.spawn = refuse_spawn;
  assert_int_equal(powersync_db_connect(env.db, &env.connector, &o),
                   POWERSYNC_EUSER);
  st_teardown(&env);
}

/* --- Streams while connected ------------------------------------------------
 */

static void subscribe_while_connected_renews_request(void **state) {
  struct st_env env;
  powersync_stream_subscription *sub = NULL;
  mock_stream *s, *s2, *s3;
  (void)state;
  st_setup(&env, "subscribe_connected");
  st_connect(&env, NULL);
  s = sync_one_row(&env);
  assert_null(strstr(mock_stream_body(s), "\"stream\":\"lists\""));
  ASSERT_PS_OK(powersync_db_subscribe_stream(env.db, "lists",
                                             "{\"list\":\"l1\"}", 0, -1, &sub));
  s2 = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s2);
  if (!strstr(mock_stream_body(s2), "\"stream\":\"lists\"")) {
    fprintf(stderr, "body: %s\n", mock_stream_body(s2));
    fail();
  }
  assert_non_null(strstr(mock_stream_body(s2), "\"list\":\"l1\""));
  /* The service serves the stream: its first sync completes. */
  assert_int_equal(mock_stream_begin(s2, "application/x-ndjson", 0), 0);
  assert_int_equal(
      mock_stream_send_line(
          s2, "{\"checkpoint\":{\"last_op_id\":\"2\",\"write_checkpoint\":"
              "null,\"buckets\":[{\"bucket\":\"b\",\"checksum\":1,"
              "\"count\":1,\"priority\":3,\"subscriptions\":[{\"default\":"
              "0}]},{\"bucket\":\"l\",\"checksum\":1,\"count\":1,"
              "\"priority\":1,\"subscriptions\":[{\"sub\":0}]}],"
              "\"streams\":[{\"name\":\"todos\",\"is_default\":true,"
              "\"errors\":[]},{\"name\":\"lists\",\"is_default\":false,"
              "\"errors\":[]}]}}"),
      0);
  st_send(s2, st_data_puts("l", 2, 1, 1, "from the stream"));
  st_send(s2, st_checkpoint_complete("2"));
  ASSERT_PS_OK(powersync_stream_wait_for_first_sync(sub, WAIT_MS));
  {
    powersync_sync_status *st = NULL;
    const powersync_stream_status *ss;
    ASSERT_PS_OK(powersync_db_sync_status(env.db, &st));
    ss = powersync_sync_status_for_stream(st, "lists", "{\"list\":\"l1\"}");
    assert_non_null(ss);
    assert_true(ss->has_explicit_subscription);
    assert_true(ss->has_synced);
    assert_true(ss->expires_at_us > 0);
    powersync_sync_status_free(st);
  }
  /* Releasing the handle keeps the stored subscription until its TTL runs
   * out, so the request stays; removing it changes the request again. */
  powersync_stream_unsubscribe(sub);
  ASSERT_PS_OK(powersync_db_unsubscribe_stream_all(env.db, "lists",
                                                   "{\"list\":\"l1\"}"));
  s3 = mock_service_next_stream(env.ms, WAIT_MS);
  assert_non_null(s3);
  assert_null(strstr(mock_stream_body(s3), "\"stream\":\"lists\""));
  assert_int_equal(mock_service_stream_count(env.ms), 3);
  ASSERT_PS_OK(powersync_db_disconnect(env.db));
  mock_stream_free(s);
  mock_stream_free(s2);
  mock_stream_free(s3);
  st_teardown(&env);
}

static int upload_started(struct st_env *env) {
  int started;
  pthread_mutex_lock(&env->conn.mu);
  started = env->conn.upload_calls > 0;
  pthread_mutex_unlock(&env->conn.mu);
  return started;
}

/* An upload callback that changes stream subscriptions while the
 * application disconnects must not deadlock the two. */
static void streams_from_upload_during_disconnect(void **state) {
  struct st_env env;
  (void)state;
  st_setup(&env, "streams_from_upload");
  env.conn.touch_streams = 1;
  st_connect(&env, NULL);
  exec(&env, "INSERT INTO todos (id, description) VALUES ('u1', 'a')");
  st_wait_until(&env, upload_started, WAIT_MS, "the upload callback");
  ASSERT_PS_OK(powersync_db_disconnect(env.db));
  st_teardown(&env);
}

/* --- Clearing ---------------------------------------------------------------
 */

static void disconnect_and_clear(void **state) {
  struct st_env env;
  powersync_sync_status *st = NULL;
  mock_stream *s;
  (void)state;
  st_setup(&env, "disconnect_clear");
  st_connect(&env, NULL);
  s = sync_one_row(&env);
  assert_int_equal(powersync_db_clear(env.db, 0), POWERSYNC_EBUSY);
  ASSERT_PS_OK(powersync_db_disconnect_and_clear(env.db, 0));
  assert_int_equal(st_todo_count(&env), 0);
  ASSERT_PS_OK(powersync_db_sync_status(env.db, &st));
  assert_false(powersync_sync_status_has_synced(st));
  assert_false(powersync_sync_status_connected(st));
  powersync_sync_status_free(st);
  mock_stream_free(s);
  st_teardown(&env);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(upload_fails_then_succeeds),
      cmocka_unit_test(upload_that_completes_nothing_does_not_spin),
      cmocka_unit_test(offline_writes_upload_on_connect),
      cmocka_unit_test(server_data_waits_for_write_checkpoint),
      cmocka_unit_test(tasks_on_application_threads),
      cmocka_unit_test(spawn_refused),
      cmocka_unit_test(subscribe_while_connected_renews_request),
      cmocka_unit_test(disconnect_and_clear),
      cmocka_unit_test(streams_from_upload_during_disconnect),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
