/*
 * test_sync_status.c: the sync status (sync.h "Sync status", sdk.md section
 * 12) without a service: the hub is fed core status JSON directly
 * (ps__status_set_core and friends), as the sync client would.
 *
 * Covered: reading every field of the core's status; progress over
 * priorities; the statusForPriority rule; has_synced from the full-sync
 * entry; the SDK's own fields; the disconnected override; malformed input
 * rejected without a change; change detection (an identical status
 * notifies nobody); listeners getting the current snapshot first, slow
 * listeners ending on the latest, removal from inside a callback and
 * removal waiting for a running callback; waits that time out, succeed
 * from another thread or end with the hub; and the offline status of a
 * real database after open, after sync state appears and after clearing.
 *
 * To check that a listener was NOT called, a test posts a barrier job to
 * the database's dispatcher: jobs run in order, so a delivery queued
 * before the barrier has finished when the barrier runs.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "db_test_helpers.h"
#include "sdk/sync_internal.h"

#define WAIT_MS 20000 /* Generous: sanitizer builds on a loaded machine. */

/* The example of the brief: connected, one priority entry, one bucket
 * group downloading, one default stream. */
static const char EXAMPLE[] =
    "{\"connected\":true,\"connecting\":false,\"priority_status\":[{"
    "\"priority\":0,\"last_synced_at\":1690000000000000,\"has_synced\":true}],"
    "\"downloading\":{\"buckets\":{\"prio_3\":{\"priority\":3,\"at_last\":0,"
    "\"since_last\":1,\"target_count\":15}}},\"streams\":[{\"name\":"
    "\"global\",\"parameters\":null,\"priority\":3,\"active\":true,"
    "\"is_default\":true,\"has_explicit_subscription\":false,\"expires_at\":"
    "null,\"last_synced_at\":null,\"progress\":{\"total\":5,\"downloaded\":0}"
    "}],\"internal_last_applied_checkpoint_request_id\":\"12\"}";

static const char OFFLINE[] = "{\"connected\":false,\"connecting\":false,"
                              "\"priority_status\":[],\"downloading\":null,"
                              "\"streams\":[]}";

/* ---- Helpers ------------------------------------------------------------- */

static void msleep(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int set_core(struct ps__status_hub *hub, const char *json) {
  return ps__status_set_core(hub, json, strlen(json));
}

/* A hub with its own dispatcher, for tests that need no database. */
struct lone_hub {
  struct ps__dispatcher *disp;
  struct ps__status_hub *hub;
};

static void lone_open(struct lone_hub *h) {
  h->disp = ps__dispatcher_new(POWERSYNC_DISPATCH_THREAD);
  assert_non_null(h->disp);
  h->hub = ps__status_hub_new(h->disp);
  assert_non_null(h->hub);
}

static void lone_close(struct lone_hub *h) {
  ps__status_hub_close(h->hub);
  ps__dispatcher_free(h->disp);
  ps__status_hub_free(h->hub);
}

/* The hub's current JSON, copied. */
static void current_json(struct ps__status_hub *hub, char *buf, size_t size) {
  powersync_sync_status *s = ps__status_current(hub);
  assert_non_null(s);
  snprintf(buf, size, "%s", powersync_sync_status_json(s));
  powersync_sync_status_free(s);
}

static powersync_db *open_db(const char *name) {
  return th_open_db(th_db_path(name), NULL);
}

/* Waits until every job posted to db's dispatcher so far has run. */
struct barrier {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
};

static void barrier_job(void *arg) {
  struct barrier *b = arg;
  pthread_mutex_lock(&b->mu);
  b->done = 1;
  pthread_cond_broadcast(&b->cv);
  pthread_mutex_unlock(&b->mu);
}

static void barrier(powersync_db *db) {
  struct barrier b;
  struct timespec ts;
  memset(&b, 0, sizeof b);
  pthread_mutex_init(&b.mu, NULL);
  pthread_cond_init(&b.cv, NULL);
  assert_int_equal(
      ps__dispatcher_post(ps__db_dispatcher(db), 0, barrier_job, NULL, &b),
      POWERSYNC_OK);
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += WAIT_MS / 1000;
  pthread_mutex_lock(&b.mu);
  while (!b.done && pthread_cond_timedwait(&b.cv, &b.mu, &ts) == 0) {
  }
  assert_true(b.done);
  pthread_mutex_unlock(&b.mu);
  pthread_cond_destroy(&b.cv);
  pthread_mutex_destroy(&b.mu);
}

/* ---- A recording listener ------------------------------------------------ */

struct rec {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int calls;
  int finished;       /* Callbacks that returned. */
  int in_cb;          /* Running now. */
  int overlap;        /* A callback started while another ran. */
  int sleep_ms;       /* Sleep inside each callback. */
  int remove_at;      /* Remove the listener itself on this call (0: never). */
  int64_t downloaded; /* Progress of the last snapshot (-1: none). */
  int connected;
  char json[2048];
  powersync_status_listener *self;
};

static void rec_init(struct rec *r) {
  memset(r, 0, sizeof *r);
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cv, NULL);
}

static void rec_destroy(struct rec *r) {
  assert_int_equal(r->overlap, 0);
  pthread_cond_destroy(&r->cv);
  pthread_mutex_destroy(&r->mu);
}

static void rec_cb(const powersync_sync_status *s, void *arg) {
  struct rec *r = arg;
  powersync_sync_progress p;
  int call, remove_now;
  pthread_mutex_lock(&r->mu);
  if (r->in_cb)
    r->overlap = 1;
  r->in_cb = 1;
  call = ++r->calls;
  r->downloaded = powersync_sync_status_progress(s, -1, &p) ? p.downloaded : -1;
  r->connected = powersync_sync_status_connected(s);
  snprintf(r->json, sizeof r->json, "%s", powersync_sync_status_json(s));
  remove_now = r->remove_at == call;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
  if (r->sleep_ms)
    msleep(r->sleep_ms);
  if (remove_now)
    powersync_status_listener_remove(r->self);
  pthread_mutex_lock(&r->mu);
  r->in_cb = 0;
  r->finished++;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

static int rec_wait_calls(struct rec *r, int want) {
  struct timespec ts;
  int n;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += WAIT_MS / 1000;
  pthread_mutex_lock(&r->mu);
  while (r->calls < want && pthread_cond_timedwait(&r->cv, &r->mu, &ts) == 0) {
  }
  n = r->calls;
  pthread_mutex_unlock(&r->mu);
  return n;
}

static int rec_calls(struct rec *r) {
  int n;
  pthread_mutex_lock(&r->mu);
  n = r->calls;
  pthread_mutex_unlock(&r->mu);
  return n;
}

/* ---- Reading the core's status ------------------------------------------- */

static void test_parse_every_field(void **state) {
  struct lone_hub h;
  powersync_sync_status *s;
  const powersync_stream_status *st;
  powersync_priority_status p;
  powersync_sync_progress prog;
  (void)state;
  lone_open(&h);
  assert_int_equal(set_core(h.hub, EXAMPLE), POWERSYNC_OK);
  s = ps__status_current(h.hub);
  assert_true(powersync_sync_status_connected(s));
  assert_false(powersync_sync_status_connecting(s));
  assert_true(powersync_sync_status_downloading(s));
  assert_false(powersync_sync_status_uploading(s));
  assert_false(powersync_sync_status_has_synced(s));
  assert_int_equal(powersync_sync_status_last_synced_at_us(s), 0);
  assert_null(powersync_sync_status_download_error(s));
  assert_null(powersync_sync_status_upload_error(s));

  assert_int_equal(powersync_sync_status_priority_count(s), 1);
  p = powersync_sync_status_priority_at(s, 0);
  assert_int_equal(p.priority, 0);
  assert_true(p.has_synced);
  assert_int_equal(p.last_synced_at_us, 1690000000000000LL);

  assert_true(powersync_sync_status_progress(s, -1, &prog));
  assert_int_equal(prog.total, 15);
  assert_int_equal(prog.downloaded, 1);

  assert_int_equal(powersync_sync_status_stream_count(s), 1);
  st = powersync_sync_status_stream_at(s, 0);
  assert_non_null(st);
  assert_null(powersync_sync_status_stream_at(s, 1));
  assert_string_equal(st->name, "global");
  assert_string_equal(st->parameters_json, "null");
  assert_int_equal(st->priority, 3);
  assert_true(st->active);
  assert_true(st->is_default);
  assert_false(st->has_explicit_subscription);
  assert_int_equal(st->expires_at_us, 0);
  assert_false(st->has_synced);
  assert_int_equal(st->last_synced_at_us, 0);
  assert_true(st->has_progress);
  assert_int_equal(st->progress.total, 5);
  assert_int_equal(st->progress.downloaded, 0);
  assert_ptr_equal(powersync_sync_status_for_stream(s, "global", NULL), st);
  assert_ptr_equal(powersync_sync_status_for_stream(s, "global", "null"), st);
  assert_null(powersync_sync_status_for_stream(s, "global", "{}"));
  assert_null(powersync_sync_status_for_stream(s, "other", NULL));

  assert_string_equal(
      powersync_sync_status_json(s),
      "{\"connected\":true,\"connecting\":false,\"downloading\":true,"
      "\"uploading\":false,\"has_synced\":false,\"last_synced_at\":null,"
      "\"download_error\":null,\"upload_error\":null,\"progress\":{\"total\":"
      "15,\"downloaded\":1,\"by_priority\":[{\"priority\":3,\"total\":15,"
      "\"downloaded\":1}]},\"priority_status\":[{\"priority\":0,\"has_synced\":"
      "true,\"last_synced_at\":1690000000000000}],\"streams\":[{\"name\":"
      "\"global\",\"parameters\":null,\"priority\":3,\"active\":true,"
      "\"is_default\":true,\"has_explicit_subscription\":false,\"expires_at\":"
      "null,\"has_synced\":false,\"last_synced_at\":null,\"progress\":{"
      "\"total\":5,\"downloaded\":0}}]}");
  powersync_sync_status_free(s);
  lone_close(&h);
}

static void test_stream_params_and_times(void **state) {
  static const char json[] =
      "{\"connected\":false,\"connecting\":false,\"priority_status\":[],"
      "\"downloading\":null,\"streams\":[{\"name\":\"lists\",\"parameters\":"
      "{\"b\":[1,{\"z\":1,\"y\":2}],\"a\":\"x\"},\"priority\":null,\"active\":"
      "false,\"is_default\":false,\"has_explicit_subscription\":true,"
      "\"expires_at\":1795784834931000,\"last_synced_at\":1795698434933000,"
      "\"progress\":{\"total\":3,\"downloaded\":1}}]}";
  struct lone_hub h;
  powersync_sync_status *s;
  const powersync_stream_status *st;
  (void)state;
  lone_open(&h);
  assert_int_equal(set_core(h.hub, json), POWERSYNC_OK);
  s = ps__status_current(h.hub);
  st = powersync_sync_status_stream_at(s, 0);
  assert_non_null(st);
  assert_string_equal(st->parameters_json,
                      "{\"b\":[1,{\"z\":1,\"y\":2}],\"a\":\"x\"}");
  assert_int_equal(st->priority, -1); /* null: not known outside a sync. */
  assert_true(st->has_explicit_subscription);
  assert_int_equal(st->expires_at_us, 1795784834931000LL);
  assert_true(st->has_synced);
  assert_int_equal(st->last_synced_at_us, 1795698434933000LL);
  /* Not downloading: the progress is not reported. */
  assert_false(st->has_progress);
  assert_int_equal(st->progress.total, 0);
  /* Key order and whitespace do not matter. */
  assert_ptr_equal(
      powersync_sync_status_for_stream(
          s, "lists", "{ \"a\":\"x\", \"b\":[1,{\"y\":2,\"z\":1}]}"),
      st);
  assert_null(powersync_sync_status_for_stream(s, "lists", "{\"a\":\"x\"}"));
  assert_null(powersync_sync_status_for_stream(s, "lists", "not json"));
  assert_null(powersync_sync_status_for_stream(s, NULL, NULL));
  powersync_sync_status_free(s);
  lone_close(&h);
}

static void test_progress_by_priority(void **state) {
  static const char json[] =
      "{\"connected\":true,\"connecting\":false,\"priority_status\":[],"
      "\"downloading\":{\"buckets\":{"
      "\"prio_3\":{\"priority\":3,\"at_last\":0,\"since_last\":4,"
      "\"target_count\":10},"
      "\"prio_1\":{\"priority\":1,\"at_last\":2,\"since_last\":3,"
      "\"target_count\":7},"
      "\"prio_0\":{\"priority\":0,\"at_last\":0,\"since_last\":1,"
      "\"target_count\":2}}},\"streams\":[]}";
  struct lone_hub h;
  powersync_sync_status *s;
  powersync_sync_progress p;
  (void)state;
  lone_open(&h);
  assert_int_equal(set_core(h.hub, json), POWERSYNC_OK);
  s = ps__status_current(h.hub);
  assert_true(powersync_sync_status_progress(s, -1, &p));
  assert_int_equal(p.total, 10 + 5 + 2);
  assert_int_equal(p.downloaded, 4 + 3 + 1);
  assert_true(powersync_sync_status_progress(s, 0, &p));
  assert_int_equal(p.total, 2);
  assert_int_equal(p.downloaded, 1);
  assert_true(powersync_sync_status_progress(s, 1, &p));
  assert_int_equal(p.total, 7);
  assert_int_equal(p.downloaded, 4);
  assert_true(powersync_sync_status_progress(s, 2, &p));
  assert_int_equal(p.total, 7);
  assert_true(powersync_sync_status_progress(s, 3, &p));
  assert_int_equal(p.total, 17);
  assert_true(powersync_sync_status_progress(s, 2147483647, &p));
  assert_int_equal(p.downloaded, 8);
  powersync_sync_status_free(s);

  /* Not downloading: 0 and zeroed. */
  assert_int_equal(set_core(h.hub, OFFLINE), POWERSYNC_OK);
  s = ps__status_current(h.hub);
  p.total = p.downloaded = 99;
  assert_false(powersync_sync_status_progress(s, -1, &p));
  assert_int_equal(p.total, 0);
  assert_int_equal(p.downloaded, 0);
  assert_false(powersync_sync_status_progress(s, -1, NULL));
  assert_string_equal(powersync_sync_status_json(s) +
                          strlen(powersync_sync_status_json(s)) -
                          strlen("\"progress\":null,\"priority_status\":[],"
                                 "\"streams\":[]}"),
                      "\"progress\":null,\"priority_status\":[],"
                      "\"streams\":[]}");
  powersync_sync_status_free(s);

  /* A checkpoint without buckets is downloading nothing yet. */
  assert_int_equal(set_core(h.hub, "{\"connected\":true,\"downloading\":"
                                   "{\"buckets\":{}}}"),
                   POWERSYNC_OK);
  s = ps__status_current(h.hub);
  assert_true(powersync_sync_status_progress(s, -1, &p));
  assert_int_equal(p.total, 0);
  powersync_sync_status_free(s);
  lone_close(&h);
}

static void test_for_priority(void **state) {
  /* Given out of order on purpose: entries are sorted by priority. */
  static const char json[] =
      "{\"connected\":false,\"connecting\":false,\"priority_status\":["
      "{\"priority\":2147483647,\"last_synced_at\":300,\"has_synced\":true},"
      "{\"priority\":0,\"last_synced_at\":100,\"has_synced\":true},"
      "{\"priority\":2,\"last_synced_at\":200,\"has_synced\":true}],"
      "\"downloading\":null,\"streams\":[]}";
  struct lone_hub h;
  powersync_sync_status *s;
  powersync_priority_status p;
  (void)state;
  lone_open(&h);
  assert_int_equal(set_core(h.hub, json), POWERSYNC_OK);
  s = ps__status_current(h.hub);
  assert_int_equal(powersync_sync_status_priority_count(s), 3);
  assert_int_equal(powersync_sync_status_priority_at(s, 0).priority, 0);
  assert_int_equal(powersync_sync_status_priority_at(s, 1).priority, 2);
  assert_int_equal(powersync_sync_status_priority_at(s, 2).priority,
                   2147483647);
  p = powersync_sync_status_priority_at(s, 3);
  assert_int_equal(p.priority, 0);
  assert_false(p.has_synced);

  p = powersync_sync_status_for_priority(s, 0);
  assert_int_equal(p.priority, 0);
  assert_int_equal(p.last_synced_at_us, 100);
  p = powersync_sync_status_for_priority(s, 1);
  assert_int_equal(p.priority, 2);
  assert_int_equal(p.last_synced_at_us, 200);
  p = powersync_sync_status_for_priority(s, 2);
  assert_int_equal(p.priority, 2);
  p = powersync_sync_status_for_priority(s, 3);
  assert_int_equal(p.priority, 2147483647);
  assert_true(p.has_synced);
  assert_int_equal(p.last_synced_at_us, 300);
  assert_true(powersync_sync_status_has_synced(s));
  assert_int_equal(powersync_sync_status_last_synced_at_us(s), 300);
  powersync_sync_status_free(s);

  /* No entry at or after the priority: {priority, 0, 0}. */
  assert_int_equal(set_core(h.hub,
                            "{\"priority_status\":[{\"priority\":1,"
                            "\"last_synced_at\":5,\"has_synced\":true}]}"),
                   POWERSYNC_OK);
  s = ps__status_current(h.hub);
  p = powersync_sync_status_for_priority(s, 2);
  assert_int_equal(p.priority, 2);
  assert_false(p.has_synced);
  assert_int_equal(p.last_synced_at_us, 0);
  assert_true(powersync_sync_status_for_priority(s, 0).has_synced);
  /* A partial sync is not a full sync. */
  assert_false(powersync_sync_status_has_synced(s));
  assert_int_equal(powersync_sync_status_last_synced_at_us(s), 0);
  powersync_sync_status_free(s);

  /* NULL reads as the defaults. */
  p = powersync_sync_status_for_priority(NULL, 1);
  assert_int_equal(p.priority, 1);
  assert_false(p.has_synced);
  assert_int_equal(powersync_sync_status_priority_count(NULL), 0);
  assert_null(powersync_sync_status_json(NULL));
  assert_false(powersync_sync_status_connected(NULL));
  assert_null(powersync_sync_status_ref(NULL));
  powersync_sync_status_free(NULL);
  lone_close(&h);
}

static void test_sdk_fields(void **state) {
  struct lone_hub h;
  powersync_sync_status *s, *kept;
  (void)state;
  lone_open(&h);
  ps__status_set_uploading(h.hub, 1);
  ps__status_set_download_error(h.hub, "network \"down\"");
  ps__status_set_upload_error(h.hub, "rejected");
  kept = ps__status_current(h.hub);
  assert_true(powersync_sync_status_uploading(kept));
  assert_string_equal(powersync_sync_status_download_error(kept),
                      "network \"down\"");
  assert_string_equal(powersync_sync_status_upload_error(kept), "rejected");
  assert_non_null(
      strstr(powersync_sync_status_json(kept), "\"uploading\":true"));
  assert_non_null(strstr(powersync_sync_status_json(kept),
                         "\"download_error\":\"network \\\"down\\\"\""));

  /* The SDK part survives a new core part. */
  assert_int_equal(set_core(h.hub, EXAMPLE), POWERSYNC_OK);
  s = ps__status_current(h.hub);
  assert_true(powersync_sync_status_connected(s));
  assert_true(powersync_sync_status_uploading(s));
  assert_string_equal(powersync_sync_status_upload_error(s), "rejected");
  powersync_sync_status_free(s);

  ps__status_set_uploading(h.hub, 0);
  ps__status_set_download_error(h.hub, NULL);
  ps__status_set_upload_error(h.hub, NULL);
  s = ps__status_current(h.hub);
  assert_false(powersync_sync_status_uploading(s));
  assert_null(powersync_sync_status_download_error(s));
  assert_null(powersync_sync_status_upload_error(s));
  assert_true(powersync_sync_status_connected(s));
  powersync_sync_status_free(s);

  /* An old snapshot never changes. */
  assert_true(powersync_sync_status_uploading(kept));
  assert_false(powersync_sync_status_connected(kept));
  assert_ptr_equal(powersync_sync_status_ref(kept), kept);
  powersync_sync_status_free(kept);
  powersync_sync_status_free(kept);
  lone_close(&h);
}

static void test_disconnected_keeps_history(void **state) {
  struct lone_hub h;
  powersync_sync_status *s;
  (void)state;
  lone_open(&h);
  assert_int_equal(set_core(h.hub, EXAMPLE), POWERSYNC_OK);
  assert_true(ps__status_is_connected(h.hub));
  ps__status_set_disconnected(h.hub);
  assert_false(ps__status_is_connected(h.hub));
  s = ps__status_current(h.hub);
  assert_false(powersync_sync_status_connected(s));
  assert_false(powersync_sync_status_connecting(s));
  assert_false(powersync_sync_status_downloading(s));
  assert_false(powersync_sync_status_progress(s, -1, NULL));
  assert_int_equal(powersync_sync_status_priority_count(s), 1);
  assert_int_equal(powersync_sync_status_stream_count(s), 1);
  assert_false(powersync_sync_status_stream_at(s, 0)->has_progress);
  powersync_sync_status_free(s);

  /* The next core status counts in full again. */
  assert_int_equal(set_core(h.hub, "{\"connected\":false,\"connecting\":true}"),
                   POWERSYNC_OK);
  assert_true(ps__status_is_connected(h.hub));
  s = ps__status_current(h.hub);
  assert_true(powersync_sync_status_connecting(s));
  assert_int_equal(powersync_sync_status_priority_count(s), 0);
  powersync_sync_status_free(s);
  lone_close(&h);
}

static void test_malformed_rejected(void **state) {
  static const char *const bad[] = {
      "",
      "{",
      "[]",
      "null",
      "{\"connected\":\"yes\"}",
      "{\"connected\":1}",
      "{\"priority_status\":{}}",
      "{\"priority_status\":[{\"last_synced_at\":1}]}",
      "{\"priority_status\":[{\"priority\":-1}]}",
      "{\"priority_status\":[{\"priority\":1.5}]}",
      "{\"priority_status\":[{\"priority\":1,\"last_synced_at\":\"x\"}]}",
      "{\"downloading\":[]}",
      "{\"downloading\":{\"buckets\":[]}}",
      "{\"downloading\":{\"buckets\":{\"prio_1\":{\"at_last\":0}}}}",
      ("{\"downloading\":{\"buckets\":{\"p\":{\"priority\":1,\"since_last\":"
       "\"1\"}}}}"),
      "{\"streams\":{}}",
      "{\"streams\":[{\"parameters\":null}]}",
      "{\"streams\":[{\"name\":1}]}",
      "{\"streams\":[{\"name\":\"a\",\"progress\":[]}]}",
      "{\"streams\":[{\"name\":\"a\",\"active\":null,\"expires_at\":true}]}",
      "{\"connected\":true} trailing",
  };
  struct lone_hub h;
  char before[2048], after[2048];
  size_t i;
  (void)state;
  lone_open(&h);
  assert_int_equal(set_core(h.hub, EXAMPLE), POWERSYNC_OK);
  current_json(h.hub, before, sizeof before);
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = set_core(h.hub, bad[i]);
    if (rc != POWERSYNC_EPROTOCOL)
      fail_msg("accepted %s (%d)", bad[i], rc);
    current_json(h.hub, after, sizeof after);
    assert_string_equal(before, after);
  }
  /* The length counts, not the NUL. */
  assert_int_equal(ps__status_set_core(h.hub, "{}xyz", 2), POWERSYNC_OK);
  assert_false(ps__status_is_connected(h.hub));
  lone_close(&h);
}

/* ---- Listeners ----------------------------------------------------------- */

static void test_listener_current_first_then_changes(void **state) {
  powersync_db *db = open_db("listener_first");
  struct ps__status_hub *hub = ps__db_status_hub(db);
  struct rec r;
  powersync_status_listener *l = NULL;
  (void)state;
  rec_init(&r);
  ASSERT_PS_OK(powersync_db_add_status_listener(db, rec_cb, &r, &l));
  assert_int_equal(rec_wait_calls(&r, 1), 1);
  pthread_mutex_lock(&r.mu);
  assert_false(r.connected);
  assert_int_equal(r.downloaded, -1);
  pthread_mutex_unlock(&r.mu);

  assert_int_equal(set_core(hub, EXAMPLE), POWERSYNC_OK);
  assert_int_equal(rec_wait_calls(&r, 2), 2);
  pthread_mutex_lock(&r.mu);
  assert_true(r.connected);
  assert_int_equal(r.downloaded, 1);
  pthread_mutex_unlock(&r.mu);

  /* Identical statuses notify nobody, also when only ignored keys differ. */
  assert_int_equal(set_core(hub, EXAMPLE), POWERSYNC_OK);
  assert_int_equal(
      set_core(hub, "{\"connected\":true,\"connecting\":false,"
                    "\"priority_status\":[{\"priority\":0,\"last_synced_at\":"
                    "1690000000000000,\"has_synced\":true}],\"downloading\":"
                    "{\"buckets\":{\"prio_3\":{\"priority\":3,\"at_last\":0,"
                    "\"since_last\":1,\"target_count\":15}}},\"streams\":[{"
                    "\"name\":\"global\",\"parameters\":null,\"priority\":3,"
                    "\"active\":true,\"is_default\":true,"
                    "\"has_explicit_subscription\":false,\"expires_at\":null,"
                    "\"last_synced_at\":null,\"progress\":{\"total\":5,"
                    "\"downloaded\":0}}]}"),
      POWERSYNC_OK);
  ps__status_set_uploading(hub, 0);
  ps__status_set_upload_error(hub, NULL);
  barrier(db);
  assert_int_equal(rec_calls(&r), 2);

  /* An SDK field is a change. */
  ps__status_set_uploading(hub, 1);
  assert_int_equal(rec_wait_calls(&r, 3), 3);
  pthread_mutex_lock(&r.mu);
  assert_non_null(strstr(r.json, "\"uploading\":true"));
  pthread_mutex_unlock(&r.mu);

  powersync_status_listener_remove(l);
  ps__status_set_uploading(hub, 0);
  barrier(db);
  assert_int_equal(rec_calls(&r), 3);
  rec_destroy(&r);
  ASSERT_PS_OK(powersync_db_close(db));
}

/* A status downloading n operations. */
static void set_downloaded(struct ps__status_hub *hub, int n) {
  char json[256];
  snprintf(json, sizeof json,
           "{\"connected\":true,\"downloading\":{\"buckets\":{\"prio_3\":{"
           "\"priority\":3,\"at_last\":0,\"since_last\":%d,\"target_count\":"
           "1000}}}}",
           n);
  assert_int_equal(set_core(hub, json), POWERSYNC_OK);
}

static void test_slow_listener_ends_on_latest(void **state) {
  powersync_db *db = open_db("listener_slow");
  struct ps__status_hub *hub = ps__db_status_hub(db);
  struct rec slow, fast;
  powersync_status_listener *ls = NULL, *lf = NULL;
  int i;
  (void)state;
  rec_init(&slow);
  rec_init(&fast);
  slow.sleep_ms = 20;
  ASSERT_PS_OK(powersync_db_add_status_listener(db, rec_cb, &slow, &ls));
  ASSERT_PS_OK(powersync_db_add_status_listener(db, rec_cb, &fast, &lf));
  for (i = 1; i <= 100; i++)
    set_downloaded(hub, i);
  barrier(db);
  pthread_mutex_lock(&slow.mu);
  assert_int_equal(slow.downloaded, 100);
  assert_true(slow.calls < 50);
  pthread_mutex_unlock(&slow.mu);
  pthread_mutex_lock(&fast.mu);
  assert_int_equal(fast.downloaded, 100);
  assert_true(fast.calls < 101);
  pthread_mutex_unlock(&fast.mu);
  powersync_status_listener_remove(ls);
  powersync_status_listener_remove(lf);
  rec_destroy(&slow);
  rec_destroy(&fast);
  ASSERT_PS_OK(powersync_db_close(db));
}

static void test_remove_from_callback(void **state) {
  powersync_db *db = open_db("listener_self_remove");
  struct ps__status_hub *hub = ps__db_status_hub(db);
  struct rec r, other;
  powersync_status_listener *lo = NULL;
  (void)state;
  rec_init(&r);
  rec_init(&other);
  r.remove_at = 2;
  ASSERT_PS_OK(powersync_db_add_status_listener(db, rec_cb, &r, &r.self));
  ASSERT_PS_OK(powersync_db_add_status_listener(db, rec_cb, &other, &lo));
  assert_int_equal(rec_wait_calls(&r, 1), 1);
  set_downloaded(hub, 1);
  assert_int_equal(rec_wait_calls(&r, 2), 2);
  set_downloaded(hub, 2);
  set_downloaded(hub, 3);
  barrier(db);
  assert_int_equal(rec_calls(&r), 2);
  pthread_mutex_lock(&other.mu);
  assert_int_equal(other.downloaded, 3);
  pthread_mutex_unlock(&other.mu);
  powersync_status_listener_remove(lo);
  powersync_status_listener_remove(NULL);
  rec_destroy(&r);
  rec_destroy(&other);
  ASSERT_PS_OK(powersync_db_close(db));
}

static void test_remove_waits_for_running_callback(void **state) {
  powersync_db *db = open_db("listener_remove_waits");
  struct rec r;
  powersync_status_listener *l = NULL;
  int finished;
  (void)state;
  rec_init(&r);
  r.sleep_ms = 200;
  ASSERT_PS_OK(powersync_db_add_status_listener(db, rec_cb, &r, &l));
  assert_int_equal(rec_wait_calls(&r, 1), 1); /* Now sleeping inside. */
  powersync_status_listener_remove(l);
  pthread_mutex_lock(&r.mu);
  finished = r.finished;
  pthread_mutex_unlock(&r.mu);
  assert_int_equal(finished, 1);
  rec_destroy(&r);
  ASSERT_PS_OK(powersync_db_close(db));
}

/* A listener left registered is freed with the database (with a
 * warning); ASan checks that nothing leaks. */
static void test_listener_left_at_close(void **state) {
  powersync_db *db = open_db("listener_left");
  struct rec r;
  powersync_status_listener *l = NULL;
  (void)state;
  rec_init(&r);
  ASSERT_PS_OK(powersync_db_add_status_listener(db, rec_cb, &r, &l));
  set_downloaded(ps__db_status_hub(db), 7);
  ASSERT_PS_OK(powersync_db_close(db));
  rec_destroy(&r);
}

static void test_listener_args(void **state) {
  powersync_db *db = open_db("listener_args");
  powersync_status_listener *l = (powersync_status_listener *)&l;
  (void)state;
  assert_int_equal(powersync_db_add_status_listener(NULL, rec_cb, NULL, &l),
                   POWERSYNC_EINVAL);
  assert_null(l);
  assert_int_equal(powersync_db_add_status_listener(db, NULL, NULL, &l),
                   POWERSYNC_EINVAL);
  assert_int_equal(powersync_db_add_status_listener(db, rec_cb, NULL, NULL),
                   POWERSYNC_EINVAL);
  assert_int_equal(powersync_db_sync_status(db, NULL), POWERSYNC_EINVAL);
  assert_int_equal(powersync_db_wait_for_status(db, NULL, NULL, 0),
                   POWERSYNC_EINVAL);
  ASSERT_PS_OK(powersync_db_close(db));
}

/* ---- Waiting ------------------------------------------------------------- */

static int is_connected(const powersync_sync_status *s, void *arg) {
  int *calls = arg;
  if (calls)
    (*calls)++;
  return powersync_sync_status_connected(s);
}

struct setter {
  struct ps__status_hub *hub;
  int delay_ms;
  int close; /* Close the hub instead of connecting. */
};

static void *setter_main(void *arg) {
  struct setter *st = arg;
  msleep(st->delay_ms);
  if (st->close) {
    ps__status_hub_close(st->hub);
  } else {
    set_downloaded(st->hub, 1); /* Not yet what the waiter wants... */
    msleep(st->delay_ms);
    ps__status_set_core(st->hub, EXAMPLE, strlen(EXAMPLE));
  }
  return NULL;
}

static void test_wait_timeout_and_success(void **state) {
  powersync_db *db = open_db("wait_status");
  struct setter st = {NULL, 50, 0};
  pthread_t t;
  int64_t start;
  int calls = 0;
  (void)state;
  st.hub = ps__db_status_hub(db);
  start = ps__now_ms();
  assert_int_equal(powersync_db_wait_for_status(db, is_connected, &calls, 100),
                   POWERSYNC_ETIMEOUT);
  assert_true(ps__now_ms() - start >= 100);
  assert_int_equal(calls, 1);
  assert_int_equal(powersync_db_wait_for_status(db, is_connected, NULL, 0),
                   POWERSYNC_ETIMEOUT);

  calls = 0;
  assert_int_equal(pthread_create(&t, NULL, setter_main, &st), 0);
  ASSERT_PS_OK(powersync_db_wait_for_status(db, is_connected, &calls, WAIT_MS));
  pthread_join(t, NULL);
  assert_true(calls >= 2);
  /* Holds already: returns at once. */
  ASSERT_PS_OK(powersync_db_wait_for_status(db, is_connected, NULL, 0));
  ASSERT_PS_OK(powersync_db_close(db));
}

static void test_wait_ends_when_closed(void **state) {
  struct lone_hub h;
  struct setter st = {NULL, 50, 1};
  pthread_t t;
  (void)state;
  lone_open(&h);
  st.hub = h.hub;
  assert_int_equal(pthread_create(&t, NULL, setter_main, &st), 0);
  assert_int_equal(ps__status_wait(h.hub, is_connected, NULL, -1),
                   POWERSYNC_ECLOSED);
  pthread_join(t, NULL);
  assert_int_equal(ps__status_wait(h.hub, is_connected, NULL, 1000),
                   POWERSYNC_ECLOSED);
  lone_close(&h);
}

static void test_wait_for_first_sync(void **state) {
  powersync_db *db = open_db("wait_first_sync");
  struct ps__status_hub *hub = ps__db_status_hub(db);
  (void)state;
  assert_int_equal(powersync_db_wait_for_first_sync(db, -1, 0),
                   POWERSYNC_ETIMEOUT);
  assert_int_equal(powersync_db_wait_for_first_sync(db, 0, 0),
                   POWERSYNC_ETIMEOUT);
  assert_int_equal(set_core(hub, "{\"priority_status\":[{\"priority\":1,"
                                 "\"last_synced_at\":5,\"has_synced\":true}]}"),
                   POWERSYNC_OK);
  ASSERT_PS_OK(powersync_db_wait_for_first_sync(db, 0, 0));
  ASSERT_PS_OK(powersync_db_wait_for_first_sync(db, 1, 0));
  assert_int_equal(powersync_db_wait_for_first_sync(db, 2, 0),
                   POWERSYNC_ETIMEOUT);
  assert_int_equal(powersync_db_wait_for_first_sync(db, -1, 0),
                   POWERSYNC_ETIMEOUT);
  assert_int_equal(set_core(hub,
                            "{\"priority_status\":[{\"priority\":2147483647,"
                            "\"last_synced_at\":6,\"has_synced\":true}]}"),
                   POWERSYNC_OK);
  ASSERT_PS_OK(powersync_db_wait_for_first_sync(db, -1, 0));
  ASSERT_PS_OK(powersync_db_wait_for_first_sync(db, 3, 0));
  ASSERT_PS_OK(powersync_db_close(db));
}

/* ---- A real database ----------------------------------------------------- */

static void test_offline_status_of_database(void **state) {
  powersync_db *db = open_db("offline_status");
  powersync_sync_status *s = NULL;
  powersync_value p[1];
  (void)state;
  ASSERT_PS_OK(powersync_db_sync_status(db, &s));
  assert_non_null(s);
  assert_false(powersync_sync_status_connected(s));
  assert_false(powersync_sync_status_connecting(s));
  assert_false(powersync_sync_status_downloading(s));
  assert_false(powersync_sync_status_has_synced(s));
  assert_int_equal(powersync_sync_status_priority_count(s), 0);
  assert_int_equal(powersync_sync_status_stream_count(s), 0);
  powersync_sync_status_free(s);

  /* What a completed sync leaves behind, read back as the offline status. */
  p[0] = powersync_int(1690000000000000LL);
  ASSERT_PS_OK(powersync_db_execute(
      db,
      "INSERT INTO ps_sync_state(priority, last_synced_at) "
      "VALUES (2147483647, ?1), (1, ?1)",
      p, 1, NULL));
  ASSERT_PS_OK(ps__status_refresh_offline(db));
  ASSERT_PS_OK(powersync_db_sync_status(db, &s));
  assert_true(powersync_sync_status_has_synced(s));
  assert_int_equal(powersync_sync_status_last_synced_at_us(s),
                   1690000000000000LL);
  assert_int_equal(powersync_sync_status_priority_count(s), 2);
  assert_true(powersync_sync_status_for_priority(s, 0).has_synced);
  powersync_sync_status_free(s);

  /* Clearing forgets it. */
  ASSERT_PS_OK(powersync_db_clear(db, 0));
  ASSERT_PS_OK(powersync_db_sync_status(db, &s));
  assert_false(powersync_sync_status_has_synced(s));
  assert_int_equal(powersync_sync_status_priority_count(s), 0);
  powersync_sync_status_free(s);
  ASSERT_PS_OK(powersync_db_close(db));
}

static void test_offline_refresh_leaves_connection_alone(void **state) {
  powersync_db *db = open_db("offline_vs_online");
  struct ps__status_hub *hub = ps__db_status_hub(db);
  powersync_sync_status *s = NULL;
  (void)state;
  assert_int_equal(set_core(hub, EXAMPLE), POWERSYNC_OK);
  ASSERT_PS_OK(ps__status_refresh_offline(db));
  ASSERT_PS_OK(powersync_db_sync_status(db, &s));
  assert_true(powersync_sync_status_connected(s));
  powersync_sync_status_free(s);
  ps__status_set_disconnected(hub);
  ASSERT_PS_OK(ps__status_refresh_offline(db));
  ASSERT_PS_OK(powersync_db_sync_status(db, &s));
  assert_int_equal(powersync_sync_status_stream_count(s), 0);
  assert_int_equal(powersync_sync_status_priority_count(s), 0);
  powersync_sync_status_free(s);
  ASSERT_PS_OK(powersync_db_close(db));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_every_field),
      cmocka_unit_test(test_stream_params_and_times),
      cmocka_unit_test(test_progress_by_priority),
      cmocka_unit_test(test_for_priority),
      cmocka_unit_test(test_sdk_fields),
      cmocka_unit_test(test_disconnected_keeps_history),
      cmocka_unit_test(test_malformed_rejected),
      cmocka_unit_test(test_listener_current_first_then_changes),
      cmocka_unit_test(test_slow_listener_ends_on_latest),
      cmocka_unit_test(test_remove_from_callback),
      cmocka_unit_test(test_remove_waits_for_running_callback),
      cmocka_unit_test(test_listener_left_at_close),
      cmocka_unit_test(test_listener_args),
      cmocka_unit_test(test_wait_timeout_and_success),
      cmocka_unit_test(test_wait_ends_when_closed),
      cmocka_unit_test(test_wait_for_first_sync),
      cmocka_unit_test(test_offline_status_of_database),
      cmocka_unit_test(test_offline_refresh_leaves_connection_alone),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
