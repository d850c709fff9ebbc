/*
 * test_sync_streams.c: sync stream subscriptions without a service (sync.h
 * "Sync streams", sdk.md section 13): parameter normalisation; subscribing
 * offline, which stores the subscription through the core and shows it in
 * the status at once; handles counted per key (the active set holds a key
 * once, in the order of first subscription, until its last handle goes);
 * the TTL keeping a released subscription stored; unsubscribe_all;
 * waiting for a stream's first sync; and invalid arguments.
 *
 * The status checks go through powersync_db_sync_status, which is what an
 * application sees; the active set is read with ps__streams_active_json,
 * which is what the sync client sends to the core.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "db_test_helpers.h"
#include "sdk/sync_internal.h"

#define US_PER_S 1000000LL
#define SLACK_US (120 * US_PER_S) /* Clock reads around a slow call. */

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * US_PER_S + ts.tv_nsec / 1000;
}

static powersync_db *open_db(const char *name) {
  return th_open_db(th_db_path(name), NULL);
}

/* The active set as the sync client would send it. */
static void assert_active(powersync_db *db, const char *want) {
  char *json = ps__streams_active_json(ps__db_streams(db));
  assert_non_null(json);
  assert_string_equal(json, want);
  free(json);
}

/* A copy of the stream's status (strings dropped), or found = 0. */
struct seen_stream {
  int found;
  powersync_stream_status st;
  char params[256];
};

static struct seen_stream find_stream(powersync_db *db, const char *name,
                                      const char *params) {
  struct seen_stream out;
  powersync_sync_status *s = NULL;
  const powersync_stream_status *st;
  memset(&out, 0, sizeof out);
  ASSERT_PS_OK(powersync_db_sync_status(db, &s));
  st = powersync_sync_status_for_stream(s, name, params);
  if (st) {
    out.found = 1;
    out.st = *st;
    snprintf(out.params, sizeof out.params, "%s", st->parameters_json);
    out.st.name = NULL;
    out.st.parameters_json = NULL;
  }
  powersync_sync_status_free(s);
  return out;
}

static size_t stream_count(powersync_db *db) {
  powersync_sync_status *s = NULL;
  size_t n;
  ASSERT_PS_OK(powersync_db_sync_status(db, &s));
  n = powersync_sync_status_stream_count(s);
  powersync_sync_status_free(s);
  return n;
}

/* ---- Normalisation ------------------------------------------------------- */

static void expect_normal(const char *in, const char *want) {
  char *out = NULL;
  int rc = ps__json_normalize_params(in, &out);
  if (rc != POWERSYNC_OK)
    fail_msg("normalising %s failed: %d", in ? in : "NULL", rc);
  assert_string_equal(out, want);
  free(out);
}

static void expect_invalid(const char *in) {
  char *out = (char *)"unchanged";
  int rc = ps__json_normalize_params(in, &out);
  if (rc != POWERSYNC_EINVAL)
    fail_msg("normalising %s gave %d", in, rc);
  assert_null(out);
}

static void test_normalize_params(void **state) {
  (void)state;
  expect_normal(NULL, "null");
  expect_normal("null", "null");
  expect_normal(" null\n", "null");
  expect_normal("{}", "{}");
  expect_normal("{ \"a\" : 1 }", "{\"a\":1}");
  expect_normal("{\"b\":2,\"a\":1}", "{\"a\":1,\"b\":2}");
  /* Recursive, arrays keep their order, byte order of keys. */
  expect_normal("{\"z\":{\"y\":[3,{\"d\":1,\"c\":2}],\"x\":null},\"B\":true,"
                "\"a\":\"s\"}",
                "{\"B\":true,\"a\":\"s\",\"z\":{\"x\":null,\"y\":[3,{\"c\":2,"
                "\"d\":1}]}}");
  expect_normal("{\"k\":\"\\u00e9\\n\"}", "{\"k\":\"\xc3\xa9\\n\"}");
  expect_normal("{\"f\":1.50}", "{\"f\":1.5}");
  expect_invalid("");
  expect_invalid("[]");
  expect_invalid("[{\"a\":1}]");
  expect_invalid("1");
  expect_invalid("\"text\"");
  expect_invalid("true");
  expect_invalid("{");
  expect_invalid("{\"a\":1} x");
}

/* ---- Subscribing --------------------------------------------------------- */

static void test_subscribe_offline_shows_stream(void **state) {
  powersync_db *db = open_db("subscribe_offline");
  powersync_stream_subscription *sub = NULL;
  struct seen_stream seen;
  int64_t before = now_us(), after;
  (void)state;
  assert_active(db, "[]");
  ASSERT_PS_OK(powersync_db_subscribe_stream(db, "lists", "{\"b\":2,\"a\":1}",
                                             3600, 1, &sub));
  after = now_us();
  assert_non_null(sub);
  /* Found with the parameters in any key order. */
  seen = find_stream(db, "lists", "{\"a\":1, \"b\":2}");
  assert_true(seen.found);
  assert_string_equal(seen.params, "{\"a\":1,\"b\":2}");
  assert_true(seen.st.has_explicit_subscription);
  assert_false(seen.st.active);
  assert_false(seen.st.is_default);
  assert_false(seen.st.has_synced);
  assert_int_equal(seen.st.last_synced_at_us, 0);
  assert_in_range(seen.st.expires_at_us, before + 3600 * US_PER_S - SLACK_US,
                  after + 3600 * US_PER_S + SLACK_US);
  assert_false(seen.st.has_progress);
  assert_active(db, "[{\"name\":\"lists\",\"params\":{\"a\":1,\"b\":2}}]");

  powersync_stream_unsubscribe(sub);
  assert_active(db, "[]");
  ASSERT_PS_OK(powersync_db_close(db));
}

static void test_subscription_survives_reopen(void **state) {
  char path[1024];
  powersync_db *db;
  powersync_stream_subscription *sub = NULL;
  (void)state;
  snprintf(path, sizeof path, "%s", th_db_path("subscribe_reopen"));
  db = th_open_db(path, NULL);
  ASSERT_PS_OK(powersync_db_subscribe_stream(db, "todos", NULL, 0, -1, &sub));
  powersync_stream_unsubscribe(sub);
  ASSERT_PS_OK(powersync_db_close(db));
  db = th_open_db(path, NULL); /* th_open_db does not delete the file. */
  assert_true(find_stream(db, "todos", NULL).found);
  assert_active(db, "[]");
  ASSERT_PS_OK(powersync_db_close(db));
}

static void test_default_ttl(void **state) {
  powersync_db *db = open_db("subscribe_default_ttl");
  powersync_stream_subscription *sub = NULL;
  struct seen_stream seen;
  int64_t before = now_us(), after;
  (void)state;
  ASSERT_PS_OK(powersync_db_subscribe_stream(db, "todos", NULL, 0, -1, &sub));
  after = now_us();
  seen = find_stream(db, "todos", "null");
  assert_true(seen.found);
  assert_string_equal(seen.params, "null");
  assert_in_range(seen.st.expires_at_us, before + 86400 * US_PER_S - SLACK_US,
                  after + 86400 * US_PER_S + SLACK_US);
  assert_active(db, "[{\"name\":\"todos\",\"params\":null}]");
  powersync_stream_unsubscribe(sub);
  ASSERT_PS_OK(powersync_db_close(db));
}

static void test_handles_count_per_key(void **state) {
  powersync_db *db = open_db("subscribe_refcount");
  powersync_stream_subscription *a1 = NULL, *a2 = NULL, *b = NULL;
  (void)state;
  ASSERT_PS_OK(
      powersync_db_subscribe_stream(db, "a", "{\"x\":1,\"y\":2}", 60, -1, &a1));
  ASSERT_PS_OK(powersync_db_subscribe_stream(db, "b", NULL, 60, -1, &b));
  /* Same key, other key order and spacing. */
  ASSERT_PS_OK(powersync_db_subscribe_stream(db, "a", "{ \"y\":2, \"x\":1 }",
                                             60, -1, &a2));
  assert_ptr_not_equal(a1, a2);
  assert_active(db, "[{\"name\":\"a\",\"params\":{\"x\":1,\"y\":2}},"
                    "{\"name\":\"b\",\"params\":null}]");
  /* One subscription stored, not two. */
  assert_int_equal(stream_count(db), 2);

  powersync_stream_unsubscribe(a1);
  assert_active(db, "[{\"name\":\"a\",\"params\":{\"x\":1,\"y\":2}},"
                    "{\"name\":\"b\",\"params\":null}]");
  powersync_stream_unsubscribe(a2);
  assert_active(db, "[{\"name\":\"b\",\"params\":null}]");
  powersync_stream_unsubscribe(b);
  assert_active(db, "[]");
  powersync_stream_unsubscribe(NULL);

  /* Released, but stored until its TTL runs out. */
  ASSERT_PS_OK(ps__status_refresh_offline(db));
  assert_true(find_stream(db, "a", "{\"x\":1,\"y\":2}").found);
  assert_true(
      find_stream(db, "a", "{\"x\":1,\"y\":2}").st.has_explicit_subscription);
  assert_true(find_stream(db, "b", NULL).found);
  ASSERT_PS_OK(powersync_db_close(db));
}

static void test_unsubscribe_all(void **state) {
  powersync_db *db = open_db("unsubscribe_all");
  powersync_stream_subscription *old = NULL, *fresh = NULL, *other = NULL;
  struct seen_stream seen;
  (void)state;
  ASSERT_PS_OK(
      powersync_db_subscribe_stream(db, "a", "{\"k\":\"v\"}", 60, -1, &old));
  ASSERT_PS_OK(powersync_db_subscribe_stream(db, "c", NULL, 60, -1, &other));
  ASSERT_PS_OK(
      powersync_db_unsubscribe_stream_all(db, "a", "{ \"k\": \"v\" }"));
  assert_active(db, "[{\"name\":\"c\",\"params\":null}]");
  /* No longer an explicit subscription. The core deletes the row when it
   * next collects the streams to request (it is not active), which needs
   * a connection; until then the offline status lists it as implicit. */
  seen = find_stream(db, "a", "{\"k\":\"v\"}");
  assert_true(seen.found);
  assert_false(seen.st.has_explicit_subscription);
  assert_true(find_stream(db, "c", NULL).st.has_explicit_subscription);

  /* A handle from before does not release a later subscription. */
  ASSERT_PS_OK(
      powersync_db_subscribe_stream(db, "a", "{\"k\":\"v\"}", 60, -1, &fresh));
  assert_true(
      find_stream(db, "a", "{\"k\":\"v\"}").st.has_explicit_subscription);
  powersync_stream_unsubscribe(old);
  assert_active(db, "[{\"name\":\"c\",\"params\":null},"
                    "{\"name\":\"a\",\"params\":{\"k\":\"v\"}}]");
  powersync_stream_unsubscribe(fresh);
  powersync_stream_unsubscribe(other);
  assert_active(db, "[]");

  /* A key that was never held locally. */
  ASSERT_PS_OK(powersync_db_unsubscribe_stream_all(db, "never", NULL));
  ASSERT_PS_OK(powersync_db_close(db));
}

static void test_invalid_arguments(void **state) {
  powersync_db *db = open_db("subscribe_invalid");
  powersync_stream_subscription *sub = (powersync_stream_subscription *)&sub;
  int rc;
  (void)state;
  assert_int_equal(powersync_db_subscribe_stream(db, "a", "[1]", 0, -1, &sub),
                   POWERSYNC_EINVAL);
  assert_null(sub);
  assert_int_equal(powersync_db_subscribe_stream(db, "a", "5", 0, -1, &sub),
                   POWERSYNC_EINVAL);
  assert_int_equal(powersync_db_subscribe_stream(db, "a", "{", 0, -1, &sub),
                   POWERSYNC_EINVAL);
  assert_int_equal(powersync_db_subscribe_stream(db, "", NULL, 0, -1, &sub),
                   POWERSYNC_EINVAL);
  assert_int_equal(powersync_db_subscribe_stream(db, NULL, NULL, 0, -1, &sub),
                   POWERSYNC_EINVAL);
  assert_int_equal(powersync_db_subscribe_stream(NULL, "a", NULL, 0, -1, &sub),
                   POWERSYNC_EINVAL);
  assert_int_equal(powersync_db_subscribe_stream(db, "a", NULL, 0, -1, NULL),
                   POWERSYNC_EINVAL);
  assert_int_equal(powersync_db_unsubscribe_stream_all(db, "a", "[]"),
                   POWERSYNC_EINVAL);
  assert_int_equal(powersync_db_unsubscribe_stream_all(db, "", NULL),
                   POWERSYNC_EINVAL);
  assert_int_equal(powersync_stream_wait_for_first_sync(NULL, 0),
                   POWERSYNC_EINVAL);

  /* The core rejects the priority reserved for "everything": its error
   * comes through, and nothing is held or stored. */
  rc = powersync_db_subscribe_stream(db, "a", NULL, 0, 2147483647, &sub);
  assert_int_not_equal(rc, POWERSYNC_OK);
  assert_int_not_equal(rc, POWERSYNC_EUSER); /* The real error, not ours. */
  assert_null(sub);
  assert_non_null(strstr(powersync_error_last()->message, "priority"));
  assert_active(db, "[]");
  assert_int_equal(stream_count(db), 0);
  ASSERT_PS_OK(powersync_db_close(db));
}

static void test_wait_for_first_sync(void **state) {
  static const char synced[] =
      "{\"connected\":true,\"streams\":[{\"name\":\"lists\",\"parameters\":"
      "{\"a\":1,\"b\":2},\"active\":true,\"has_explicit_subscription\":true,"
      "\"last_synced_at\":1690000000000000}]}";
  static const char other_synced[] =
      "{\"connected\":true,\"streams\":[{\"name\":\"lists\",\"parameters\":"
      "{\"a\":1},\"last_synced_at\":1690000000000000},{\"name\":\"lists\","
      "\"parameters\":{\"a\":1,\"b\":2},\"last_synced_at\":null}]}";
  powersync_db *db = open_db("stream_first_sync");
  struct ps__status_hub *hub = ps__db_status_hub(db);
  powersync_stream_subscription *sub = NULL;
  (void)state;
  ASSERT_PS_OK(powersync_db_subscribe_stream(db, "lists", "{\"b\":2,\"a\":1}",
                                             0, -1, &sub));
  assert_int_equal(powersync_stream_wait_for_first_sync(sub, 0),
                   POWERSYNC_ETIMEOUT);
  assert_int_equal(ps__status_set_core(hub, other_synced, strlen(other_synced)),
                   POWERSYNC_OK);
  assert_int_equal(powersync_stream_wait_for_first_sync(sub, 50),
                   POWERSYNC_ETIMEOUT);
  assert_int_equal(ps__status_set_core(hub, synced, strlen(synced)),
                   POWERSYNC_OK);
  ASSERT_PS_OK(powersync_stream_wait_for_first_sync(sub, 0));
  powersync_stream_unsubscribe(sub);
  ASSERT_PS_OK(powersync_db_close(db));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_normalize_params),
      cmocka_unit_test(test_subscribe_offline_shows_stream),
      cmocka_unit_test(test_subscription_survives_reopen),
      cmocka_unit_test(test_default_ttl),
      cmocka_unit_test(test_handles_count_per_key),
      cmocka_unit_test(test_unsubscribe_all),
      cmocka_unit_test(test_invalid_arguments),
      cmocka_unit_test(test_wait_for_first_sync),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
