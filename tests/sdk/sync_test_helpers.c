/*
 * sync_test_helpers.c: see sync_test_helpers.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <time.h>

#include "db_test_helpers.h"
#include "sync_test_helpers.h"

/* --- Connector --------------------------------------------------------------
 */

void st_token_for(int n, char *buf, size_t size) {
  snprintf(buf, size, "token-%d", n);
}

static int fetch_credentials(void *user_data, powersync_credentials *out) {
  struct st_connector *c = user_data;
  char token[32];
  int n, signed_out, fail;
  pthread_mutex_lock(&c->mu);
  n = ++c->fetch_count;
  signed_out = c->signed_out;
  fail = c->fetch_fail;
  pthread_mutex_unlock(&c->mu);
  if (fail) {
    powersync_callback_error("credentials service unavailable");
    return -1;
  }
  if (signed_out)
    return POWERSYNC_OK;
  st_token_for(n, token, sizeof(token));
  /* A careless connector: ignores what credentials_set says. */
  powersync_credentials_set(
      out, c->bad_endpoint ? c->bad_endpoint : c->endpoint, token);
  return POWERSYNC_OK;
}

static void record_entries(struct st_connector *c,
                           const powersync_crud_batch *b) {
  size_t i;
  for (i = 0; i < powersync_crud_batch_count(b); i++) {
    const powersync_crud_entry *e = powersync_crud_batch_entry(b, i);
    size_t used = strlen(c->uploaded);
    snprintf(c->uploaded + used, sizeof(c->uploaded) - used, "%d:%s:%s;",
             (int)e->op, e->table, e->id);
  }
}

static int upload_data(void *user_data, powersync_db *db) {
  struct st_connector *c = user_data;
  powersync_crud_batch *b = NULL;
  int fail, complete, touch, rc;
  pthread_mutex_lock(&c->mu);
  c->upload_calls++;
  fail = c->upload_fail_remaining > 0;
  if (fail)
    c->upload_fail_remaining--;
  complete = c->upload_complete;
  touch = c->touch_streams;
  pthread_mutex_unlock(&c->mu);
  if (touch) {
    powersync_stream_subscription *sub = NULL;
    struct timespec pause = {0, 200 * 1000000L};
    nanosleep(&pause, NULL);
    if (powersync_db_subscribe_stream(db, "from_upload", NULL, 0, -1, &sub) ==
        POWERSYNC_OK)
      powersync_stream_unsubscribe(sub);
  }
  if (fail) {
    powersync_callback_error("backend unavailable");
    return -1;
  }
  rc = powersync_db_crud_batch(db, 100, &b);
  if (rc != POWERSYNC_OK)
    return rc;
  if (b && complete) {
    rc = powersync_crud_batch_complete(b, NULL);
    if (rc == POWERSYNC_OK) {
      pthread_mutex_lock(&c->mu);
      record_entries(c, b);
      pthread_mutex_unlock(&c->mu);
    }
  }
  powersync_crud_batch_free(b);
  return rc;
}

static void invalidate(void *user_data) {
  struct st_connector *c = user_data;
  pthread_mutex_lock(&c->mu);
  c->invalidations++;
  pthread_mutex_unlock(&c->mu);
}

/* --- Environment ------------------------------------------------------------
 */

void st_setup(struct st_env *env, const char *name) {
  memset(env, 0, sizeof(*env));
  env->ms = mock_service_start();
  assert_non_null(env->ms);
  env->db = th_open_db(th_db_path(name), NULL);
  pthread_mutex_init(&env->conn.mu, NULL);
  env->conn.endpoint = mock_service_url(env->ms);
  env->conn.upload_complete = 1;
  env->connector.version = POWERSYNC_CONNECTOR_VERSION;
  env->connector.user_data = &env->conn;
  env->connector.fetch_credentials = fetch_credentials;
  env->connector.upload_data = upload_data;
  env->connector.invalidate_credentials = invalidate;
}

void st_teardown(struct st_env *env) {
  ASSERT_PS_OK(powersync_db_disconnect(env->db));
  ASSERT_PS_OK(powersync_db_close(env->db));
  mock_service_stop(env->ms);
  pthread_mutex_destroy(&env->conn.mu);
}

powersync_connect_options st_options(void) {
  powersync_connect_options o = POWERSYNC_CONNECT_OPTIONS_INIT;
  o.format = POWERSYNC_SYNC_FORMAT_NDJSON;
  o.retry_delay_ms = 100;
  o.upload_throttle_ms = 0;
  o.read_timeout_ms = 10000;
  return o;
}

void st_connect(struct st_env *env, const powersync_connect_options *opts) {
  powersync_connect_options o = st_options();
  ASSERT_PS_OK(
      powersync_db_connect(env->db, &env->connector, opts ? opts : &o));
}

/* --- Waits ------------------------------------------------------------------
 */

static int pred_connected(const powersync_sync_status *s, void *u) {
  (void)u;
  return powersync_sync_status_connected(s);
}

static int pred_downloading(const powersync_sync_status *s, void *u) {
  (void)u;
  return powersync_sync_status_downloading(s);
}

static void wait_pred(struct st_env *env, powersync_status_predicate pred,
                      void *u, int timeout_ms, const char *what) {
  int rc = powersync_db_wait_for_status(env->db, pred, u, timeout_ms);
  if (rc != POWERSYNC_OK) {
    powersync_sync_status *s = NULL;
    powersync_db_sync_status(env->db, &s);
    fprintf(stderr, "waiting for %s: %s; status %s\n", what,
            powersync_errstr(rc), s ? powersync_sync_status_json(s) : "?");
    powersync_sync_status_free(s);
    fail();
  }
}

void st_wait_connected(struct st_env *env, int timeout_ms) {
  wait_pred(env, pred_connected, NULL, timeout_ms, "connected");
}

void st_wait_downloading(struct st_env *env, int timeout_ms) {
  wait_pred(env, pred_downloading, NULL, timeout_ms, "downloading");
}

void st_wait_first_sync(struct st_env *env, int priority, int timeout_ms) {
  int rc = powersync_db_wait_for_first_sync(env->db, priority, timeout_ms);
  if (rc != POWERSYNC_OK) {
    powersync_sync_status *s = NULL;
    powersync_db_sync_status(env->db, &s);
    fprintf(stderr, "waiting for first sync (priority %d): %s; status %s\n",
            priority, powersync_errstr(rc),
            s ? powersync_sync_status_json(s) : "?");
    powersync_sync_status_free(s);
    fail();
  }
}

void st_wait_until(struct st_env *env, int (*cond)(struct st_env *env),
                   int timeout_ms, const char *what) {
  struct timespec start, now, pause = {0, 5 * 1000000L};
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    if (cond(env))
      return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - start.tv_sec) * 1000 +
            (now.tv_nsec - start.tv_nsec) / 1000000 >
        timeout_ms) {
      fprintf(stderr, "timed out waiting for %s\n", what);
      fail();
    }
    nanosleep(&pause, NULL);
  }
}

static int queue_empty(struct st_env *env) {
  return th_query_int(env->db, "SELECT count(*) FROM ps_crud") == 0;
}

void st_wait_upload_queue_empty(struct st_env *env, int timeout_ms) {
  st_wait_until(env, queue_empty, timeout_ms, "an empty upload queue");
}

/* --- Lines ------------------------------------------------------------------
 */

static char *format(const char *fmt, ...) {
  va_list ap;
  char *s;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  s = malloc((size_t)n + 1);
  assert_non_null(s);
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

char *st_checkpoint(const char *last_op_id, const char *bucket,
                    uint32_t checksum, int count, int priority) {
  return format("{\"checkpoint\":{\"last_op_id\":\"%s\",\"write_checkpoint\":"
                "null,\"buckets\":[{\"bucket\":\"%s\",\"checksum\":%u,"
                "\"count\":%d,\"priority\":%d}]}}",
                last_op_id, bucket, checksum, count, priority);
}

char *st_data_puts(const char *bucket, int first_op, int n,
                   uint32_t op_checksum, const char *description) {
  size_t cap = 256 + (size_t)n * 256, len;
  char *s = malloc(cap);
  int i;
  assert_non_null(s);
  len = (size_t)snprintf(s, cap,
                         "{\"data\":{\"bucket\":\"%s\",\"has_more\":false,"
                         "\"after\":null,\"next_after\":\"%d\",\"data\":[",
                         bucket, first_op + n - 1);
  for (i = 0; i < n; i++) {
    len += (size_t)snprintf(
        s + len, cap - len,
        "%s{\"op_id\":\"%d\",\"op\":\"PUT\",\"object_type\":\"todos\","
        "\"object_id\":\"id%d\",\"checksum\":%u,\"subkey\":null,"
        "\"data\":\"{\\\"description\\\":\\\"%s\\\",\\\"done\\\":0}\"}",
        i ? "," : "", first_op + i, first_op + i, op_checksum, description);
  }
  snprintf(s + len, cap - len, "]}}");
  return s;
}

char *st_checkpoint_complete(const char *last_op_id) {
  return format("{\"checkpoint_complete\":{\"last_op_id\":\"%s\"}}",
                last_op_id);
}

char *st_partial_complete(const char *last_op_id, int priority) {
  return format("{\"partial_checkpoint_complete\":{\"last_op_id\":\"%s\","
                "\"priority\":%d}}",
                last_op_id, priority);
}

void st_send(mock_stream *s, char *line) {
  assert_int_equal(mock_stream_send_line(s, line), 0);
  free(line);
}

int64_t st_todo_count(struct st_env *env) {
  return th_query_int(env->db, "SELECT count(*) FROM todos");
}

/* --- Files ------------------------------------------------------------------
 */

char *st_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf;
  long size;
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = malloc((size_t)size + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
  buf[size] = '\0';
  fclose(f);
  *len = (size_t)size;
  return buf;
}

const char *st_fixture(const char *name) {
  static char path[1024];
  const char *dir = getenv("PS_FIXTURES_DIR");
  snprintf(path, sizeof(path), "%s/%s", dir ? dir : ".", name);
  return path;
}
