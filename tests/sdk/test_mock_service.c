/*
 * test_mock_service.c: the scripted PowerSync service (mock_service.c)
 * driven by a plain libcurl client, as the SDK's transport will drive it:
 * request capture (body, headers, chunked uploads, Expect: 100-continue),
 * exact chunked and gzip bodies that arrive incrementally, clean end, drop
 * and error answers, the write checkpoint and 404 routes, the request log,
 * detecting a client that hung up, and stop with pending or blocked streams.
 *
 * Each request runs curl_easy_perform on a client thread; the test thread
 * plays the service. No assertion depends on the machine's speed: waits use
 * condition variables with generous timeouts.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "mock_service.h"

/* Long enough for a loaded sanitizer build, short enough to fail a hang. */
#define WAIT_MS 10000

static void sleep_ms(int ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (long)(ms % 1000) * 1000000L;
  nanosleep(&ts, NULL);
}

static void deadline_in(struct timespec *ts, int ms) {
  clock_gettime(CLOCK_REALTIME, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

/* ---- A libcurl client on its own thread --------------------------------- */

struct client_opts {
  const char *path;                 /* Appended to the service's URL. */
  const char *post_body;            /* NULL: GET (unless upload_pieces). */
  const char *const *headers;       /* NULL-terminated, or NULL. */
  const char *const *upload_pieces; /* Chunked upload, NULL-terminated. */
  int gzip;                         /* Accept-Encoding: gzip, decoded. */
  size_t abort_after;               /* Fail the write once this many bytes
                                       arrived (0: never). */
  int hold;                         /* Start with the body callback blocked. */
  long expect_timeout_ms;           /* CURLOPT_EXPECT_100_TIMEOUT_MS if > 0. */
};

struct client {
  struct client_opts opts;
  char url[256];
  pthread_t thread;
  size_t piece;        /* Upload: current piece and offset in it. */
  size_t piece_offset; /* (Client thread only.) */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  /* Under mu. */
  int hold;
  char *data;
  size_t len;
  char headers[4096];
  size_t headers_len;
  int done;
  CURLcode rc;
  long status;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg) {
  struct client *c = arg;
  size_t n = size * nmemb;
  size_t ret = n;
  char *grown;
  pthread_mutex_lock(&c->mu);
  /* Not returning keeps curl from reading the socket: backpressure. */
  while (c->hold)
    pthread_cond_wait(&c->cv, &c->mu);
  grown = realloc(c->data, c->len + n + 1);
  if (grown) {
    c->data = grown;
    memcpy(c->data + c->len, p, n);
    c->len += n;
    c->data[c->len] = '\0';
  } else {
    ret = 0;
  }
  if (c->opts.abort_after > 0 && c->len >= c->opts.abort_after)
    ret = 0; /* CURLE_WRITE_ERROR: curl closes the connection. */
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
  return ret;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg) {
  struct client *c = arg;
  size_t n = size * nmemb;
  pthread_mutex_lock(&c->mu);
  if (c->headers_len + n < sizeof c->headers) {
    memcpy(c->headers + c->headers_len, p, n);
    c->headers_len += n;
    c->headers[c->headers_len] = '\0';
  }
  pthread_mutex_unlock(&c->mu);
  return n;
}

/* Hands out one upload piece per call, so that each becomes its own chunk
 * of the chunked request body. */
static size_t on_upload(char *buf, size_t size, size_t nmemb, void *arg) {
  struct client *c = arg;
  const char *piece = c->opts.upload_pieces[c->piece];
  size_t n;
  if (!piece)
    return 0;
  n = strlen(piece) - c->piece_offset;
  if (n > size * nmemb)
    n = size * nmemb;
  memcpy(buf, piece + c->piece_offset, n);
  c->piece_offset += n;
  if (c->piece_offset == strlen(piece)) {
    c->piece++;
    c->piece_offset = 0;
  }
  return n;
}

static struct curl_slist *client_header_list(const struct client *c) {
  struct curl_slist *list = NULL;
  size_t i;
  for (i = 0; c->opts.headers && c->opts.headers[i]; i++)
    list = curl_slist_append(list, c->opts.headers[i]);
  if (c->opts.upload_pieces)
    list = curl_slist_append(list, "Transfer-Encoding: chunked");
  return list;
}

static void *client_main(void *arg) {
  struct client *c = arg;
  CURL *h = curl_easy_init();
  struct curl_slist *headers = client_header_list(c);
  CURLcode rc;
  long status = 0;
  curl_easy_setopt(h, CURLOPT_URL, c->url);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  /* An http_proxy in the environment must not divert 127.0.0.1. */
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
  if (c->opts.post_body) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->opts.post_body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(c->opts.post_body));
  } else if (c->opts.upload_pieces) {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
    curl_easy_setopt(h, CURLOPT_READDATA, c);
  }
  if (c->opts.gzip)
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "gzip");
  if (c->opts.expect_timeout_ms > 0)
    curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS,
                     c->opts.expect_timeout_ms);
  rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(h);
  curl_slist_free_all(headers);
  pthread_mutex_lock(&c->mu);
  c->rc = rc;
  c->status = status;
  c->done = 1;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

static struct client *client_start(mock_service *ms,
                                   const struct client_opts *opts) {
  struct client *c = calloc(1, sizeof *c);
  assert_non_null(c);
  c->opts = *opts;
  c->hold = opts->hold;
  snprintf(c->url, sizeof c->url, "%s%s", mock_service_url(ms), opts->path);
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  assert_int_equal(pthread_create(&c->thread, NULL, client_main, c), 0);
  return c;
}

/* Waits until the client received at least n body bytes or finished;
 * returns how many it received. */
static size_t client_wait_len(struct client *c, size_t n) {
  struct timespec deadline;
  size_t len;
  deadline_in(&deadline, WAIT_MS);
  pthread_mutex_lock(&c->mu);
  while (c->len < n && !c->done) {
    if (pthread_cond_timedwait(&c->cv, &c->mu, &deadline) != 0)
      break;
  }
  len = c->len;
  pthread_mutex_unlock(&c->mu);
  return len;
}

static void client_release(struct client *c) {
  pthread_mutex_lock(&c->mu);
  c->hold = 0;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

/* Joins the client thread; returns curl's result. */
static CURLcode client_join(struct client *c) {
  pthread_join(c->thread, NULL);
  return c->rc;
}

static void client_free(struct client *c) {
  pthread_cond_destroy(&c->cv);
  pthread_mutex_destroy(&c->mu);
  free(c->data);
  free(c);
}

/* Runs a whole request that the service answers by itself. */
static struct client *client_run(mock_service *ms,
                                 const struct client_opts *opts) {
  struct client *c = client_start(ms, opts);
  assert_int_equal(client_join(c), CURLE_OK);
  return c;
}

static void assert_body(const struct client *c, const char *want) {
  assert_non_null(c->data);
  assert_int_equal(c->len, strlen(want));
  assert_memory_equal(c->data, want, c->len);
}

/* ---- Sync streams ------------------------------------------------------- */

static const char *const sync_headers[] = {"Authorization: Token secret-token",
                                           "Content-Type: application/json",
                                           NULL};

static const char sync_body[] =
    "{\"buckets\":[],\"include_checksum\":true,\"raw_data\":true}";

static struct client *start_sync(mock_service *ms, int gzip) {
  struct client_opts o;
  memset(&o, 0, sizeof o);
  o.path = "/sync/stream";
  o.post_body = sync_body;
  o.headers = sync_headers;
  o.gzip = gzip;
  return client_start(ms, &o);
}

static void stream_captures_request(void **state) {
  mock_service *ms = mock_service_start();
  struct client *c;
  mock_stream *s;
  (void)state;
  assert_non_null(ms);
  assert_int_equal(strncmp(mock_service_url(ms), "http://127.0.0.1:", 17), 0);
  c = start_sync(ms, 0);
  s = mock_service_next_stream(ms, WAIT_MS);
  assert_non_null(s);
  assert_int_equal(mock_service_stream_count(ms), 1);
  assert_string_equal(mock_stream_body(s), sync_body);
  /* Header names match case-insensitively. */
  assert_string_equal(mock_stream_header(s, "authorization"),
                      "Token secret-token");
  assert_string_equal(mock_stream_header(s, "CONTENT-TYPE"),
                      "application/json");
  assert_null(mock_stream_header(s, "X-Absent"));
  assert_int_equal(mock_stream_respond(s, 200, "application/json", "{}"), 0);
  assert_int_equal(client_join(c), CURLE_OK);
  assert_int_equal(c->status, 200);
  assert_body(c, "{}");
  mock_stream_free(s);
  client_free(c);
  mock_service_stop(ms);
}

static void chunks_arrive_exactly_and_incrementally(void **state) {
  mock_service *ms = mock_service_start();
  struct client *c = start_sync(ms, 0);
  mock_stream *s = mock_service_next_stream(ms, WAIT_MS);
  const char *line1 = "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[]}}";
  const char *part1 = "{\"checkpoint_comp";
  const char *part2 = "lete\":{\"last_op_id\":\"1\"}}\n";
  char want[256];
  (void)state;
  assert_non_null(s);
  assert_int_equal(mock_stream_begin(s, NULL, 0), 0);
  assert_int_equal(mock_stream_send_line(s, line1), 0);
  /* The client gets each chunk before the next is even sent. */
  assert_int_equal(client_wait_len(c, strlen(line1) + 1), strlen(line1) + 1);
  assert_int_equal(mock_stream_send(s, part1, strlen(part1)), 0);
  assert_int_equal(client_wait_len(c, strlen(line1) + 1 + strlen(part1)),
                   strlen(line1) + 1 + strlen(part1));
  assert_int_equal(mock_stream_send(s, "", 0), 0); /* Not a last chunk. */
  assert_int_equal(mock_stream_send(s, part2, strlen(part2)), 0);
  assert_int_equal(mock_stream_end(s), 0);
  assert_int_equal(client_join(c), CURLE_OK);
  assert_int_equal(c->status, 200);
  snprintf(want, sizeof want, "%s\n%s%s", line1, part1, part2);
  assert_body(c, want);
  assert_non_null(strstr(c->headers, "Transfer-Encoding: chunked"));
  assert_non_null(strstr(c->headers, "Content-Type: application/x-ndjson"));
  assert_non_null(strstr(c->headers, "Connection: close"));
  assert_null(strstr(c->headers, "Content-Encoding"));
  /* Once ended, the stream refuses more. */
  assert_int_equal(mock_stream_send_line(s, "{}"), -1);
  assert_int_equal(mock_stream_end(s), -1);
  mock_stream_free(s);
  client_free(c);
  mock_service_stop(ms);
}

static void gzip_is_decoded_incrementally(void **state) {
  mock_service *ms = mock_service_start();
  struct client *c = start_sync(ms, 1);
  mock_stream *s = mock_service_next_stream(ms, WAIT_MS);
  const char *line1 = "{\"token_expires_in\":3600}";
  const char *part1 = "{\"data\":{\"bucket\":\"b\",";
  const char *part2 = "\"data\":[]}}\n";
  char want[256];
  size_t n1 = strlen(line1) + 1;
  (void)state;
  assert_non_null(s);
  assert_int_equal(mock_stream_begin(s, "application/x-ndjson", 1), 0);
  assert_int_equal(mock_stream_send_line(s, line1), 0);
  assert_int_equal(client_wait_len(c, n1), n1);
  assert_int_equal(mock_stream_send(s, part1, strlen(part1)), 0);
  assert_int_equal(client_wait_len(c, n1 + strlen(part1)), n1 + strlen(part1));
  assert_int_equal(mock_stream_send(s, part2, strlen(part2)), 0);
  assert_int_equal(mock_stream_end(s), 0);
  assert_int_equal(client_join(c), CURLE_OK);
  snprintf(want, sizeof want, "%s\n%s%s", line1, part1, part2);
  assert_body(c, want);
  assert_non_null(strstr(c->headers, "Content-Encoding: gzip"));
  mock_stream_free(s);
  client_free(c);
  mock_service_stop(ms);
}

static void drop_breaks_the_transfer(void **state) {
  mock_service *ms = mock_service_start();
  struct client *c = start_sync(ms, 0);
  mock_stream *s = mock_service_next_stream(ms, WAIT_MS);
  CURLcode rc;
  (void)state;
  assert_non_null(s);
  assert_int_equal(mock_stream_begin(s, NULL, 0), 0);
  assert_int_equal(mock_stream_send_line(s, "{\"a\":1}"), 0);
  assert_int_equal(client_wait_len(c, 8), 8);
  mock_stream_drop(s);
  rc = client_join(c);
  assert_true(rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR);
  assert_body(c, "{\"a\":1}\n");
  assert_int_equal(mock_stream_send_line(s, "{}"), -1);
  mock_stream_free(s);
  client_free(c);
  mock_service_stop(ms);
}

static void gzip_drop_breaks_the_transfer(void **state) {
  mock_service *ms = mock_service_start();
  struct client *c = start_sync(ms, 1);
  mock_stream *s = mock_service_next_stream(ms, WAIT_MS);
  CURLcode rc;
  (void)state;
  assert_non_null(s);
  assert_int_equal(mock_stream_begin(s, NULL, 1), 0);
  assert_int_equal(mock_stream_send_line(s, "{\"a\":1}"), 0);
  assert_int_equal(client_wait_len(c, 8), 8);
  mock_stream_drop(s);
  rc = client_join(c);
  assert_int_not_equal(rc, CURLE_OK);
  mock_stream_free(s);
  client_free(c);
  mock_service_stop(ms);
}

static void free_without_answer_gives_nothing(void **state) {
  mock_service *ms = mock_service_start();
  struct client *c = start_sync(ms, 0);
  mock_stream *s = mock_service_next_stream(ms, WAIT_MS);
  (void)state;
  assert_non_null(s);
  mock_stream_free(s);
  assert_int_equal(client_join(c), CURLE_GOT_NOTHING);
  client_free(c);
  mock_service_stop(ms);
}

static void respond_sends_status_and_body(void **state) {
  mock_service *ms = mock_service_start();
  struct client *c = start_sync(ms, 0);
  mock_stream *s = mock_service_next_stream(ms, WAIT_MS);
  const char *err = "{\"error\":{\"code\":\"PSYNC_S2103\",\"status\":401}}";
  (void)state;
  assert_non_null(s);
  assert_int_equal(mock_stream_respond(s, 401, "application/json", err), 0);
  assert_int_equal(client_join(c), CURLE_OK);
  assert_int_equal(c->status, 401);
  assert_body(c, err);
  assert_non_null(strstr(c->headers, "HTTP/1.1 401 Unauthorized"));
  /* A stream answers once. */
  assert_int_equal(mock_stream_respond(s, 500, NULL, "x"), -1);
  assert_int_equal(mock_stream_begin(s, NULL, 0), -1);
  mock_stream_free(s);
  client_free(c);

  /* After a head, respond is refused too. */
  c = start_sync(ms, 0);
  s = mock_service_next_stream(ms, WAIT_MS);
  assert_non_null(s);
  assert_int_equal(mock_stream_begin(s, NULL, 0), 0);
  assert_int_equal(mock_stream_respond(s, 500, NULL, "x"), -1);
  assert_int_equal(mock_stream_end(s), 0);
  assert_int_equal(client_join(c), CURLE_OK);
  assert_int_equal(c->len, 0);
  mock_stream_free(s);
  client_free(c);
  assert_int_equal(mock_service_stream_count(ms), 2);
  mock_service_stop(ms);
}

/* ---- Requests the service answers itself -------------------------------- */

static void write_checkpoint_default_and_configured(void **state) {
  mock_service *ms = mock_service_start();
  struct client_opts o;
  struct client *c;
  (void)state;
  memset(&o, 0, sizeof o);
  o.path = "/write-checkpoint2.json?client_id=c1";
  assert_int_equal(mock_service_write_checkpoint_count(ms), 0);
  c = client_run(ms, &o);
  assert_int_equal(c->status, 200);
  assert_body(c, "{\"data\":{\"write_checkpoint\":\"10\"}}");
  assert_non_null(strstr(c->headers, "Content-Type: application/json"));
  client_free(c);

  mock_service_set_write_checkpoint(ms, 200,
                                    "{\"data\":{\"write_checkpoint\":\"42\"}}");
  c = client_run(ms, &o);
  assert_int_equal(c->status, 200);
  assert_body(c, "{\"data\":{\"write_checkpoint\":\"42\"}}");
  client_free(c);

  mock_service_set_write_checkpoint(ms, 500, "{\"error\":\"down\"}");
  c = client_run(ms, &o);
  assert_int_equal(c->status, 500);
  assert_body(c, "{\"error\":\"down\"}");
  client_free(c);
  assert_int_equal(mock_service_write_checkpoint_count(ms), 3);
  assert_int_equal(mock_service_stream_count(ms), 0);
  mock_service_stop(ms);
}

static void unknown_routes_are_404(void **state) {
  mock_service *ms = mock_service_start();
  struct client_opts o;
  struct client *c;
  (void)state;
  memset(&o, 0, sizeof o);
  o.path = "/nope";
  c = client_run(ms, &o);
  assert_int_equal(c->status, 404);
  assert_non_null(c->data);
  assert_non_null(strstr(c->data, "\"error\""));
  client_free(c);

  /* The right path with the wrong method is not a sync stream either. */
  o.path = "/sync/stream";
  c = client_run(ms, &o);
  assert_int_equal(c->status, 404);
  client_free(c);
  assert_int_equal(mock_service_stream_count(ms), 0);
  assert_null(mock_service_next_stream(ms, 50));
  mock_service_stop(ms);
}

static void request_log_records_every_request(void **state) {
  mock_service *ms = mock_service_start();
  struct client_opts o;
  struct client *c;
  mock_stream *s;
  char *v;
  (void)state;
  memset(&o, 0, sizeof o);
  o.path = "/write-checkpoint2.json?client_id=abc";
  client_free(client_run(ms, &o));
  o.path = "/nope?x=1";
  o.post_body = "posted";
  client_free(client_run(ms, &o));
  c = start_sync(ms, 0);
  s = mock_service_next_stream(ms, WAIT_MS);
  assert_non_null(s);
  assert_int_equal(mock_stream_respond(s, 200, NULL, "{}"), 0);
  assert_int_equal(client_join(c), CURLE_OK);
  mock_stream_free(s);
  client_free(c);

  assert_int_equal(mock_service_request_count(ms), 3);
  v = mock_service_request_method(ms, 0);
  assert_string_equal(v, "GET");
  free(v);
  v = mock_service_request_target(ms, 0);
  assert_string_equal(v, "/write-checkpoint2.json?client_id=abc");
  free(v);
  v = mock_service_request_body(ms, 0);
  assert_string_equal(v, "");
  free(v);
  v = mock_service_request_method(ms, 1);
  assert_string_equal(v, "POST");
  free(v);
  v = mock_service_request_target(ms, 1);
  assert_string_equal(v, "/nope?x=1");
  free(v);
  v = mock_service_request_body(ms, 1);
  assert_string_equal(v, "posted");
  free(v);
  v = mock_service_request_target(ms, 2);
  assert_string_equal(v, "/sync/stream");
  free(v);
  v = mock_service_request_header(ms, 2, "AUTHORIZATION");
  assert_string_equal(v, "Token secret-token");
  free(v);
  v = mock_service_request_header(ms, 2, "host");
  assert_non_null(v);
  assert_non_null(strstr(mock_service_url(ms), v));
  free(v);
  v = mock_service_request_body(ms, 2);
  assert_string_equal(v, sync_body);
  free(v);
  assert_null(mock_service_request_header(ms, 2, "X-Absent"));
  assert_null(mock_service_request_method(ms, -1));
  assert_null(mock_service_request_target(ms, 3));
  assert_null(mock_service_request_header(ms, 3, "Host"));
  assert_null(mock_service_request_body(ms, 3));
  mock_service_stop(ms);
}

static void chunked_request_body_is_decoded(void **state) {
  static const char *const pieces[] = {"{\"buckets\":", "[]", ",\"x\":1}",
                                       NULL};
  mock_service *ms = mock_service_start();
  struct client_opts o;
  struct client *c;
  mock_stream *s;
  (void)state;
  memset(&o, 0, sizeof o);
  o.path = "/sync/stream";
  o.upload_pieces = pieces;
  c = client_start(ms, &o);
  s = mock_service_next_stream(ms, WAIT_MS);
  assert_non_null(s);
  assert_string_equal(mock_stream_header(s, "Transfer-Encoding"), "chunked");
  assert_string_equal(mock_stream_body(s), "{\"buckets\":[],\"x\":1}");
  assert_int_equal(mock_stream_respond(s, 200, NULL, "{}"), 0);
  assert_int_equal(client_join(c), CURLE_OK);
  mock_stream_free(s);
  client_free(c);
  mock_service_stop(ms);
}

static void expect_100_continue_is_answered(void **state) {
  static const char *const headers[] = {"Expect: 100-continue",
                                        "Content-Type: application/json", NULL};
  mock_service *ms = mock_service_start();
  struct client_opts o;
  struct client *c;
  mock_stream *s;
  (void)state;
  memset(&o, 0, sizeof o);
  o.path = "/sync/stream";
  o.post_body = sync_body;
  o.headers = headers;
  /* Without the service's 100 Continue curl would hold the body back for a
   * minute, longer than next_stream waits. */
  o.expect_timeout_ms = 60000;
  c = client_start(ms, &o);
  s = mock_service_next_stream(ms, WAIT_MS);
  assert_non_null(s);
  assert_string_equal(mock_stream_header(s, "expect"), "100-continue");
  assert_string_equal(mock_stream_body(s), sync_body);
  assert_int_equal(mock_stream_respond(s, 200, NULL, "{}"), 0);
  assert_int_equal(client_join(c), CURLE_OK);
  assert_int_equal(c->status, 200);
  mock_stream_free(s);
  client_free(c);
  mock_service_stop(ms);
}

/* ---- Client hang-ups and stop ------------------------------------------- */

static void wait_closed_detects_client_abort(void **state) {
  mock_service *ms = mock_service_start();
  struct client_opts o;
  struct client *c;
  mock_stream *s;
  (void)state;
  memset(&o, 0, sizeof o);
  o.path = "/sync/stream";
  o.post_body = sync_body;
  o.abort_after = 1; /* Hang up on the first body bytes. */
  c = client_start(ms, &o);
  s = mock_service_next_stream(ms, WAIT_MS);
  assert_non_null(s);
  assert_int_equal(mock_stream_begin(s, NULL, 0), 0);
  /* Still connected: waiting times out. */
  assert_int_equal(mock_stream_wait_closed(s, 50), -1);
  assert_int_equal(mock_stream_send_line(s, "{\"a\":1}"), 0);
  assert_int_equal(client_join(c), CURLE_WRITE_ERROR);
  assert_int_equal(mock_stream_wait_closed(s, WAIT_MS), 0);
  /* The next send notices the client is gone. */
  assert_int_equal(mock_stream_send_line(s, "{\"b\":2}"), -1);
  mock_stream_free(s);
  client_free(c);
  mock_service_stop(ms);
}

static void next_stream_times_out(void **state) {
  mock_service *ms = mock_service_start();
  (void)state;
  assert_null(mock_service_next_stream(ms, 50));
  assert_int_equal(mock_service_stream_count(ms), 0);
  assert_int_equal(mock_service_request_count(ms), 0);
  mock_service_stop(ms);
  mock_service_stop(NULL);
  mock_stream_free(NULL);
}

static void wait_for_stream_count(mock_service *ms, int want) {
  int waited = 0;
  while (mock_service_stream_count(ms) < want && waited < WAIT_MS) {
    sleep_ms(10);
    waited += 10;
  }
  assert_int_equal(mock_service_stream_count(ms), want);
}

/* Stop frees the stream nobody took and closes its connection; a stream the
 * test took stays valid until the test frees it, after stop. */
static void stop_with_pending_and_taken_streams(void **state) {
  mock_service *ms = mock_service_start();
  struct client *taken_client = start_sync(ms, 0);
  mock_stream *taken = mock_service_next_stream(ms, WAIT_MS);
  struct client *pending_client;
  (void)state;
  assert_non_null(taken);
  assert_int_equal(mock_stream_begin(taken, NULL, 0), 0);
  pending_client = start_sync(ms, 0);
  wait_for_stream_count(ms, 2);
  sleep_ms(50); /* Usually lets the connection hand the socket over. */
  mock_service_stop(ms);
  assert_int_equal(client_join(pending_client), CURLE_GOT_NOTHING);
  /* Stop shut the taken stream's socket down: sends fail, the client sees
   * a broken body, and the stream is still safe to use and free. */
  assert_int_equal(mock_stream_send_line(taken, "{}"), -1);
  assert_int_equal(mock_stream_wait_closed(taken, WAIT_MS), 0);
  assert_int_not_equal(client_join(taken_client), CURLE_OK);
  assert_string_equal(mock_stream_body(taken), sync_body);
  mock_stream_free(taken);
  client_free(pending_client);
  client_free(taken_client);
}

/* A test thread that sends until the client's socket buffers are full. */
struct flooder {
  mock_stream *s;
  pthread_t thread;
  pthread_mutex_t mu;
  size_t sent; /* Under mu. */
  int failed;  /* Under mu. */
};

static void *flood_main(void *arg) {
  struct flooder *f = arg;
  static char block[64 * 1024];
  int rc;
  memset(block, 'x', sizeof block);
  do {
    rc = mock_stream_send(f->s, block, sizeof block);
    pthread_mutex_lock(&f->mu);
    if (rc == 0)
      f->sent += sizeof block;
    else
      f->failed = 1;
    pthread_mutex_unlock(&f->mu);
  } while (rc == 0);
  /* Freed after mock_service_stop returned: the stream is still ours. */
  mock_stream_free(f->s);
  return NULL;
}

static size_t flooder_sent(struct flooder *f) {
  size_t n;
  pthread_mutex_lock(&f->mu);
  n = f->sent;
  pthread_mutex_unlock(&f->mu);
  return n;
}

/* Waits until the flooder made no progress for a while: its send blocks. */
static void wait_until_stalled(struct flooder *f) {
  size_t last = 0;
  int quiet = 0, waited = 0;
  while (quiet < 300 && waited < WAIT_MS) {
    size_t now;
    sleep_ms(20);
    waited += 20;
    now = flooder_sent(f);
    quiet = now > 0 && now == last ? quiet + 20 : 0;
    last = now;
  }
}

static void stop_unblocks_a_blocked_send(void **state) {
  mock_service *ms = mock_service_start();
  struct client_opts o;
  struct client *c;
  struct flooder f;
  (void)state;
  memset(&o, 0, sizeof o);
  o.path = "/sync/stream";
  o.post_body = sync_body;
  o.hold = 1; /* The client stops reading at the first body bytes. */
  c = client_start(ms, &o);
  memset(&f, 0, sizeof f);
  pthread_mutex_init(&f.mu, NULL);
  f.s = mock_service_next_stream(ms, WAIT_MS);
  assert_non_null(f.s);
  assert_int_equal(mock_stream_begin(f.s, NULL, 0), 0);
  assert_int_equal(pthread_create(&f.thread, NULL, flood_main, &f), 0);
  wait_until_stalled(&f);
  mock_service_stop(ms);
  pthread_join(f.thread, NULL);
  assert_int_equal(f.failed, 1);
  assert_true(f.sent > 0);
  client_release(c);
  assert_int_not_equal(client_join(c), CURLE_OK);
  pthread_mutex_destroy(&f.mu);
  client_free(c);
}

static int global_setup(void **state) {
  (void)state;
  return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int global_teardown(void **state) {
  (void)state;
  curl_global_cleanup();
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(stream_captures_request),
      cmocka_unit_test(chunks_arrive_exactly_and_incrementally),
      cmocka_unit_test(gzip_is_decoded_incrementally),
      cmocka_unit_test(drop_breaks_the_transfer),
      cmocka_unit_test(gzip_drop_breaks_the_transfer),
      cmocka_unit_test(free_without_answer_gives_nothing),
      cmocka_unit_test(respond_sends_status_and_body),
      cmocka_unit_test(write_checkpoint_default_and_configured),
      cmocka_unit_test(unknown_routes_are_404),
      cmocka_unit_test(request_log_records_every_request),
      cmocka_unit_test(chunked_request_body_is_decoded),
      cmocka_unit_test(expect_100_continue_is_answered),
      cmocka_unit_test(wait_closed_detects_client_abort),
      cmocka_unit_test(next_stream_times_out),
      cmocka_unit_test(stop_with_pending_and_taken_streams),
      cmocka_unit_test(stop_unblocks_a_blocked_send),
  };
  return cmocka_run_group_tests(tests, global_setup, global_teardown);
}
