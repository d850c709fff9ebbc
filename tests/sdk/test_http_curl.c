/*
 * test_http_curl.c: the libcurl transport (src/sdk/http_curl.c) through the
 * public powersync_http_transport functions, against the scripted service
 * of mock_service.c (real HTTP/1.1 on 127.0.0.1), plus the helpers of
 * src/sdk/http.c (endpoint URLs, User-Agent, whole requests, cancel).
 *
 * Each test runs the server's side as a script on its own thread while the
 * test thread is the client, because the transport only makes progress
 * while the client blocks in it. Scripts never assert (cmocka's assertions
 * jump and must stay on the test thread); they record what they saw, and the
 * test checks it after joining them. Client and script step each other
 * forward through two counters ("gates"), which is how the tests prove that
 * bytes arrive chunk by chunk rather than at the end.
 *
 * Nothing depends on how fast the machine is: waits have generous limits,
 * and the timeout test checks only a wide window.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "mock_service.h"
#include "sdk/sync_internal.h"

/* Long enough for a loaded sanitizer build, short enough to fail a hang. */
#define WAIT_MS 10000
#define NDJSON  "application/x-ndjson"

/* ---- Gates: a counter one side raises and the other waits for ----------- */

struct gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int value;
};

static void gate_init(struct gate *g) {
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  g->value = 0;
}

static void gate_destroy(struct gate *g) {
  pthread_cond_destroy(&g->cv);
  pthread_mutex_destroy(&g->mu);
}

static void gate_raise(struct gate *g) {
  pthread_mutex_lock(&g->mu);
  g->value++;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

/* Waits until the gate reached want; 1 when it did, 0 after WAIT_MS. */
static int gate_wait(struct gate *g, int want) {
  struct timespec ts;
  int reached;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += WAIT_MS / 1000;
  pthread_mutex_lock(&g->mu);
  while (g->value < want)
    if (pthread_cond_timedwait(&g->cv, &g->mu, &ts) != 0)
      break;
  reached = g->value >= want;
  pthread_mutex_unlock(&g->mu);
  return reached;
}

/* Not ps__now_ms: linking dispatch.c would pull in the database code. */
static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* ---- Server scripts ------------------------------------------------------ */

struct script;
typedef void (*script_fn)(struct script *sc, mock_stream *st);

struct script {
  mock_service *ms;
  script_fn fn;
  pthread_t thread;
  struct gate client; /* Raised by the test thread. */
  struct gate server; /* Raised by the script. */
  int took_stream;    /* 0: no request arrived within WAIT_MS. */
  int errors;         /* Sends that failed where they should not. */
  /* What the request carried ("" when absent). */
  char body[256];
  char authorization[64];
  char content_type[64];
  char custom[64];
  char accept_encoding[64];
  /* Backpressure test. */
  atomic_size_t sent;
  atomic_int finished;
};

static void copy_text(char *dst, size_t size, const char *src) {
  snprintf(dst, size, "%s", src ? src : "");
}

static void *script_main(void *arg) {
  struct script *sc = arg;
  mock_stream *st = mock_service_next_stream(sc->ms, WAIT_MS);
  if (st) {
    sc->took_stream = 1;
    copy_text(sc->body, sizeof(sc->body), mock_stream_body(st));
    copy_text(sc->authorization, sizeof(sc->authorization),
              mock_stream_header(st, "Authorization"));
    copy_text(sc->content_type, sizeof(sc->content_type),
              mock_stream_header(st, "Content-Type"));
    copy_text(sc->custom, sizeof(sc->custom),
              mock_stream_header(st, "X-Custom"));
    copy_text(sc->accept_encoding, sizeof(sc->accept_encoding),
              mock_stream_header(st, "Accept-Encoding"));
    sc->fn(sc, st);
    mock_stream_free(st);
  }
  atomic_store(&sc->finished, 1);
  return NULL;
}

static void script_start(struct script *sc, mock_service *ms, script_fn fn) {
  memset(sc, 0, sizeof(*sc));
  sc->ms = ms;
  sc->fn = fn;
  gate_init(&sc->client);
  gate_init(&sc->server);
  atomic_init(&sc->sent, 0);
  atomic_init(&sc->finished, 0);
  assert_int_equal(pthread_create(&sc->thread, NULL, script_main, sc), 0);
}

/* Joins the script (unblocking it first) and checks that it went well. */
static void script_finish(struct script *sc) {
  gate_raise(&sc->client);
  gate_raise(&sc->client);
  gate_raise(&sc->client);
  pthread_join(sc->thread, NULL);
  assert_true(sc->took_stream);
  assert_int_equal(sc->errors, 0);
  gate_destroy(&sc->client);
  gate_destroy(&sc->server);
}

static void script_send(struct script *sc, mock_stream *st, const char *text) {
  if (mock_stream_send(st, text, strlen(text)) != 0)
    sc->errors++;
}

static void script_end(struct script *sc, mock_stream *st) {
  if (mock_stream_end(st) != 0)
    sc->errors++;
}

static void script_begin(struct script *sc, mock_stream *st, int gzip) {
  if (mock_stream_begin(st, NDJSON, gzip) != 0)
    sc->errors++;
}

/* ---- Client helpers ------------------------------------------------------ */

static powersync_http_transport curl_transport(void) {
  powersync_http_transport t;
  assert_int_equal(powersync_http_transport_curl(&t), POWERSYNC_OK);
  assert_int_equal(t.version, POWERSYNC_HTTP_TRANSPORT_VERSION);
  return t;
}

static char *join(const char *base, const char *path) {
  char *url = ps__http_join(base, path);
  assert_non_null(url);
  return url;
}

static const powersync_http_header stream_headers[] = {
    {"Content-Type", "application/json"},
    {"Authorization", "Token secret-token"},
    {"X-Custom", "custom value"},
};

/* POST /sync/stream with a small JSON body. */
static void *open_sync_stream(const powersync_http_transport *t,
                              mock_service *ms, int read_timeout_ms,
                              int accept_gzip) {
  char *url = join(mock_service_url(ms), "/sync/stream");
  static const char body[] = "{\"buckets\":[],\"client_id\":\"c1\"}";
  powersync_http_request req;
  void *stream = NULL;

  memset(&req, 0, sizeof(req));
  req.method = "POST";
  req.url = url;
  req.headers = stream_headers;
  req.header_count = sizeof(stream_headers) / sizeof(stream_headers[0]);
  req.body = body;
  req.body_size = strlen(body);
  req.read_timeout_ms = read_timeout_ms;
  req.accept_gzip = accept_gzip;
  assert_int_equal(t->open(t->user_data, &req, &stream), POWERSYNC_OK);
  assert_non_null(stream);
  free(url);
  return stream;
}

static void expect_head(const powersync_http_transport *t, void *stream,
                        int status, const char *content_type) {
  powersync_http_response head;
  memset(&head, 0, sizeof(head));
  assert_int_equal(t->response(stream, &head), POWERSYNC_OK);
  assert_int_equal(head.status, status);
  assert_string_equal(head.content_type, content_type);
}

/* Reads exactly strlen(want) bytes (in as many reads as it takes) and
 * compares them. */
static void expect_bytes(const powersync_http_transport *t, void *stream,
                         const char *want) {
  size_t len = strlen(want), got = 0;
  char *buf = malloc(len + 1);
  assert_non_null(buf);
  while (got < len) {
    size_t n = 0;
    assert_int_equal(t->read(stream, buf + got, len - got, &n), POWERSYNC_OK);
    assert_true(n > 0);
    got += n;
  }
  buf[len] = '\0';
  assert_string_equal(buf, want);
  free(buf);
}

static void expect_end(const powersync_http_transport *t, void *stream) {
  char c;
  size_t n = 1;
  assert_int_equal(t->read(stream, &c, 1, &n), POWERSYNC_OK);
  assert_int_equal(n, 0);
}

static int expect_message_contains(const char *part) {
  const powersync_error *e = powersync_error_last();
  if (strstr(e->message, part))
    return 1;
  print_error("message '%s' lacks '%s'\n", e->message, part);
  return 0;
}

/* ---- Fixtures ------------------------------------------------------------ */

static int service_setup(void **state) {
  mock_service *ms = mock_service_start();
  if (!ms)
    return -1;
  *state = ms;
  return 0;
}

static int service_teardown(void **state) {
  mock_service_stop(*state);
  return 0;
}

/* ---- Request and response ------------------------------------------------ */

static void answer_one_line(struct script *sc, mock_stream *st) {
  script_begin(sc, st, 0);
  script_send(sc, st, "{\"token_expires_in\":60}\n");
  script_end(sc, st);
}

static void post_sends_body_and_headers(void **state) {
  mock_service *ms = *state;
  powersync_http_transport t = curl_transport();
  struct script sc;
  void *stream;

  script_start(&sc, ms, answer_one_line);
  stream = open_sync_stream(&t, ms, 5000, 0);
  expect_head(&t, stream, 200, NDJSON);
  expect_bytes(&t, stream, "{\"token_expires_in\":60}\n");
  expect_end(&t, stream);
  expect_end(&t, stream); /* The end is sticky. */
  t.close(stream);
  script_finish(&sc);
  assert_string_equal(sc.body, "{\"buckets\":[],\"client_id\":\"c1\"}");
  assert_string_equal(sc.authorization, "Token secret-token");
  assert_string_equal(sc.content_type, "application/json");
  assert_string_equal(sc.custom, "custom value");
  assert_string_equal(sc.accept_encoding, "");
}

/* Chunk boundaries inside a line and inside a JSON token; each chunk is
 * sent only after the client read the previous one. */
static const char *const split_chunks[] = {"{\"checkpoint\":{\"last_op_",
                                           "id\":\"1\"}}\n{\"tok",
                                           "en_expires_in\":5", "9}\n"};
#define SPLIT_CHUNK_COUNT (sizeof(split_chunks) / sizeof(split_chunks[0]))

static void send_split_chunks(struct script *sc, mock_stream *st, int gzip) {
  script_begin(sc, st, gzip);
  for (size_t i = 0; i < SPLIT_CHUNK_COUNT; i++) {
    if (!gate_wait(&sc->client, (int)i + 1)) {
      sc->errors++;
      return;
    }
    script_send(sc, st, split_chunks[i]);
  }
  script_end(sc, st);
}

static void send_split_plain(struct script *sc, mock_stream *st) {
  send_split_chunks(sc, st, 0);
}

static void send_split_gzip(struct script *sc, mock_stream *st) {
  send_split_chunks(sc, st, 1);
}

static void read_split_chunks(int gzip, mock_service *ms) {
  powersync_http_transport t = curl_transport();
  struct script sc;
  void *stream;

  script_start(&sc, ms, gzip ? send_split_gzip : send_split_plain);
  stream = open_sync_stream(&t, ms, 5000, gzip);
  expect_head(&t, stream, 200, NDJSON);
  for (size_t i = 0; i < SPLIT_CHUNK_COUNT; i++) {
    gate_raise(&sc.client);
    expect_bytes(&t, stream, split_chunks[i]);
  }
  expect_end(&t, stream);
  t.close(stream);
  script_finish(&sc);
  if (gzip) {
    assert_non_null(strstr(sc.accept_encoding, "gzip"));
  }
}

static void body_arrives_chunk_by_chunk(void **state) {
  read_split_chunks(0, *state);
}

static void gzip_body_is_decoded_incrementally(void **state) {
  read_split_chunks(1, *state);
}

static void drop_after_partial_body(struct script *sc, mock_stream *st) {
  script_begin(sc, st, 0);
  script_send(sc, st, "{\"partial\":");
  gate_wait(&sc->client, 1);
  mock_stream_drop(st);
}

static void dropped_connection_is_network_error(void **state) {
  mock_service *ms = *state;
  powersync_http_transport t = curl_transport();
  struct script sc;
  char buf[64];
  size_t n = 0;
  void *stream;

  script_start(&sc, ms, drop_after_partial_body);
  stream = open_sync_stream(&t, ms, 5000, 0);
  expect_head(&t, stream, 200, NDJSON);
  expect_bytes(&t, stream, "{\"partial\":");
  gate_raise(&sc.client);
  assert_int_equal(t.read(stream, buf, sizeof(buf), &n), POWERSYNC_ENETWORK);
  assert_int_equal(n, 0);
  assert_true(expect_message_contains("127.0.0.1"));
  assert_null(strstr(powersync_error_last()->message, "secret-token"));
  t.close(stream);
  script_finish(&sc);
}

static const char auth_error_body[] =
    "{\"error\":{\"name\":\"AuthorizationError\",\"code\":\"PSYNC_S2103\","
    "\"status\":401,\"description\":\"JWT has expired\"}}";

static void answer_401(struct script *sc, mock_stream *st) {
  if (mock_stream_respond(st, 401, "application/json; charset=utf-8",
                          auth_error_body) != 0)
    sc->errors++;
}

static void error_status_with_json_body(void **state) {
  mock_service *ms = *state;
  powersync_http_transport t = curl_transport();
  struct script sc;
  void *stream;

  script_start(&sc, ms, answer_401);
  stream = open_sync_stream(&t, ms, 5000, 0);
  expect_head(&t, stream, 401, "application/json; charset=utf-8");
  expect_bytes(&t, stream, auth_error_body);
  expect_end(&t, stream);
  t.close(stream);
  script_finish(&sc);
}

/* Takes the request and never answers until the client went away. */
static void hold_request(struct script *sc, mock_stream *st) {
  if (mock_stream_wait_closed(st, WAIT_MS) != 0)
    sc->errors++;
}

/* ---- Timeouts and wakes -------------------------------------------------- */

static void head_then_silence(struct script *sc, mock_stream *st) {
  script_begin(sc, st, 0);
  gate_wait(&sc->client, 1);
}

static void silent_server_times_out(void **state) {
  mock_service *ms = *state;
  powersync_http_transport t = curl_transport();
  struct script sc;
  char buf[16];
  size_t n = 0;
  int64_t started, elapsed;
  void *stream;

  script_start(&sc, ms, head_then_silence);
  stream = open_sync_stream(&t, ms, 300, 0);
  expect_head(&t, stream, 200, NDJSON);
  started = now_ms();
  assert_int_equal(t.read(stream, buf, sizeof(buf), &n), POWERSYNC_ETIMEOUT);
  elapsed = now_ms() - started;
  /* Not a timing test: only "about the configured time". */
  assert_true(elapsed >= 100);
  assert_true(elapsed < WAIT_MS);
  t.close(stream);
  script_finish(&sc);
}

/* The idle timeout covers the wait for the head too. */
static void silent_head_times_out(void **state) {
  mock_service *ms = *state;
  powersync_http_transport t = curl_transport();
  powersync_http_response head;
  struct script sc;
  void *stream;

  script_start(&sc, ms, hold_request);
  stream = open_sync_stream(&t, ms, 300, 0);
  assert_int_equal(t.response(stream, &head), POWERSYNC_ETIMEOUT);
  t.close(stream);
  script_finish(&sc);
}

struct waker {
  const powersync_http_transport *t;
  void *stream;
  int delay_ms;
  pthread_t thread;
};

static void *waker_main(void *arg) {
  struct waker *w = arg;
  sleep_ms(w->delay_ms);
  w->t->wake(w->stream);
  return NULL;
}

static void line_after_gate(struct script *sc, mock_stream *st) {
  script_begin(sc, st, 0);
  if (!gate_wait(&sc->client, 1))
    sc->errors++;
  script_send(sc, st, "{\"after\":\"wake\"}\n");
  script_end(sc, st);
}

static void wake_interrupts_blocked_read(void **state) {
  mock_service *ms = *state;
  powersync_http_transport t = curl_transport();
  struct script sc;
  struct waker w;
  char buf[16];
  size_t n = 0;
  int64_t started;
  void *stream;

  script_start(&sc, ms, line_after_gate);
  /* A read timeout far beyond WAIT_MS: only the wake can end the read. */
  stream = open_sync_stream(&t, ms, 60000, 0);
  expect_head(&t, stream, 200, NDJSON);
  w.t = &t;
  w.stream = stream;
  w.delay_ms = 100;
  started = now_ms();
  assert_int_equal(pthread_create(&w.thread, NULL, waker_main, &w), 0);
  assert_int_equal(t.read(stream, buf, sizeof(buf), &n), POWERSYNC_EINTR);
  assert_true(now_ms() - started < WAIT_MS);
  pthread_join(w.thread, NULL);
  /* The same request goes on. */
  gate_raise(&sc.client);
  expect_bytes(&t, stream, "{\"after\":\"wake\"}\n");
  expect_end(&t, stream);
  t.close(stream);
  script_finish(&sc);
}

static void wake_between_calls_interrupts_next_call_once(void **state) {
  mock_service *ms = *state;
  powersync_http_transport t = curl_transport();
  powersync_http_response head;
  struct script sc;
  char buf[16];
  size_t n = 0;
  void *stream;

  script_start(&sc, ms, answer_one_line);
  stream = open_sync_stream(&t, ms, 5000, 0);
  t.wake(stream);
  t.wake(stream); /* Wakes do not count up. */
  assert_int_equal(t.response(stream, &head), POWERSYNC_EINTR);
  expect_head(&t, stream, 200, NDJSON);
  t.wake(stream);
  assert_int_equal(t.read(stream, buf, sizeof(buf), &n), POWERSYNC_EINTR);
  assert_int_equal(n, 0);
  expect_bytes(&t, stream, "{\"token_expires_in\":60}\n");
  expect_end(&t, stream);
  t.close(stream);
  script_finish(&sc);
}

/* ---- Backpressure -------------------------------------------------------- */

#define FLOOD_BYTES      ((size_t)32 << 20)
#define FLOOD_GZIP_BYTES ((size_t)8 << 20)
#define FLOOD_CHUNK      ((size_t)64 << 10)

static unsigned char flood_byte(size_t i) { return (unsigned char)(i % 251); }

/* Sends `bytes` of a known pattern in FLOOD_CHUNK pieces, counting. */
static void flood(struct script *sc, mock_stream *st, size_t bytes, int gzip) {
  unsigned char *chunk = malloc(FLOOD_CHUNK);
  if (!chunk) {
    sc->errors++;
    return;
  }
  script_begin(sc, st, gzip);
  for (size_t off = 0; off < bytes; off += FLOOD_CHUNK) {
    for (size_t i = 0; i < FLOOD_CHUNK; i++)
      chunk[i] = flood_byte(off + i);
    if (mock_stream_send(st, chunk, FLOOD_CHUNK) != 0) {
      sc->errors++;
      break;
    }
    atomic_store(&sc->sent, off + FLOOD_CHUNK);
  }
  script_end(sc, st);
  free(chunk);
}

static void flood_plain(struct script *sc, mock_stream *st) {
  flood(sc, st, FLOOD_BYTES, 0);
}

static void flood_gzip(struct script *sc, mock_stream *st) {
  flood(sc, st, FLOOD_GZIP_BYTES, 1);
}

/* Reads to the end with varying buffer sizes (so copies split curl's
 * deliveries and the transfer pauses and resumes many times) and checks
 * every byte; returns the count. */
static size_t read_flood(const powersync_http_transport *t, void *stream) {
  static unsigned char buf[100000];
  static const size_t caps[] = {1, 20000, 1000, 7000, 65536, sizeof(buf)};
  const size_t n_caps = sizeof(caps) / sizeof(caps[0]);
  size_t total = 0, reads = 0;
  int mismatches = 0;
  for (;;) {
    size_t n = 0;
    assert_int_equal(t->read(stream, buf, caps[reads++ % n_caps], &n),
                     POWERSYNC_OK);
    if (n == 0)
      break;
    for (size_t i = 0; i < n; i++)
      mismatches += buf[i] != flood_byte(total + i);
    total += n;
  }
  assert_int_equal(mismatches, 0);
  return total;
}

/* Waits until the server's progress stops for a while (it blocks in send),
 * or it finished; returns the bytes it managed to send. */
static size_t wait_for_server_stall(struct script *sc) {
  size_t last = (size_t)-1;
  int64_t deadline = now_ms() + WAIT_MS;
  while (now_ms() < deadline && !atomic_load(&sc->finished)) {
    size_t now = atomic_load(&sc->sent);
    if (now == last && now > 0)
      break;
    last = now;
    sleep_ms(500);
  }
  return atomic_load(&sc->sent);
}

static void slow_reader_stalls_the_server(void **state) {
  mock_service *ms = *state;
  powersync_http_transport t = curl_transport();
  struct script sc;
  size_t stalled_at;
  void *stream;

  script_start(&sc, ms, flood_plain);
  stream = open_sync_stream(&t, ms, 5000, 0);
  expect_head(&t, stream, 200, NDJSON);

  stalled_at = wait_for_server_stall(&sc);
  assert_false(atomic_load(&sc.finished));
  assert_true(stalled_at < FLOOD_BYTES);

  assert_int_equal(read_flood(&t, stream), FLOOD_BYTES);
  t.close(stream);
  script_finish(&sc);
}

static void paused_gzip_stream_stays_intact(void **state) {
  mock_service *ms = *state;
  powersync_http_transport t = curl_transport();
  struct script sc;
  void *stream;

  script_start(&sc, ms, flood_gzip);
  stream = open_sync_stream(&t, ms, 5000, 1);
  expect_head(&t, stream, 200, NDJSON);
  sleep_ms(200); /* Let data pile up, so deliveries exceed the buffer. */
  assert_int_equal(read_flood(&t, stream), FLOOD_GZIP_BYTES);
  t.close(stream);
  script_finish(&sc);
}

/* ---- Connection failures ------------------------------------------------- */

/* A port on 127.0.0.1 that nothing listens on (bound, then released). */
static int unused_port(void) {
  struct sockaddr_in addr;
  socklen_t len = sizeof(addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0), port;
  assert_true(fd >= 0);
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
  port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

static void refused_connection_is_network_error(void **state) {
  powersync_http_transport t = curl_transport();
  powersync_http_response head;
  powersync_http_request req;
  char url[64];
  void *stream = NULL;
  (void)state;

  snprintf(url, sizeof(url), "http://user:pw@127.0.0.1:%d/sync/stream",
           unused_port());
  memset(&req, 0, sizeof(req));
  req.method = "GET";
  req.url = url;
  assert_int_equal(t.open(NULL, &req, &stream), POWERSYNC_OK);
  assert_int_equal(t.response(stream, &head), POWERSYNC_ENETWORK);
  assert_true(expect_message_contains("127.0.0.1"));
  assert_null(strstr(powersync_error_last()->message, "pw@"));
  t.close(stream);
}

static void invalid_requests_are_refused(void **state) {
  powersync_http_transport t = curl_transport();
  powersync_http_request req;
  powersync_http_header bad = {"X-Bad", "a\r\nInjected: 1"};
  void *stream = NULL;
  (void)state;

  memset(&req, 0, sizeof(req));
  req.method = "GET";
  assert_int_equal(t.open(NULL, &req, &stream), POWERSYNC_EINVAL);
  req.url = "http://127.0.0.1:1/";
  req.headers = &bad;
  stream = &req; /* open() clears it on failure. */
  req.header_count = 1;
  assert_int_equal(t.open(NULL, &req, &stream), POWERSYNC_EINVAL);
  assert_null(stream);
  req.header_count = 0;
  req.method = "GET /x HTTP/1.1\r\n";
  assert_int_equal(t.open(NULL, &req, &stream), POWERSYNC_EINVAL);
  req.method = "get";
  assert_int_equal(t.open(NULL, &req, &stream), POWERSYNC_EINVAL);
  assert_null(stream);
  assert_int_equal(powersync_http_transport_curl(NULL), POWERSYNC_EINVAL);
}

/* ---- http.c helpers ------------------------------------------------------ */

static void expect_join(const char *endpoint, const char *want) {
  char *url = ps__http_join(endpoint, "/sync/stream");
  assert_non_null(url);
  assert_string_equal(url, want);
  free(url);
}

static void expect_join_fails(const char *endpoint, const char *why) {
  assert_null(ps__http_join(endpoint, "/sync/stream"));
  assert_int_equal(powersync_error_last()->code, POWERSYNC_EINVAL);
  assert_true(expect_message_contains(why));
}

static void join_validates_endpoints(void **state) {
  (void)state;
  expect_join("http://h", "http://h/sync/stream");
  expect_join("https://h.example.com/", "https://h.example.com/sync/stream");
  expect_join("https://h:8080/prefix///", "https://h:8080/prefix/sync/stream");
  expect_join("HTTP://127.0.0.1:1234", "HTTP://127.0.0.1:1234/sync/stream");
  expect_join("http://[::1]:80/", "http://[::1]:80/sync/stream");

  expect_join_fails("foo", "endpoint 'foo' is not an absolute http(s) URL");
  expect_join_fails("h.example.com/x", "not an absolute http(s) URL");
  expect_join_fails("ftp://h", "not an absolute http(s) URL");
  expect_join_fails("ws://h", "not an absolute http(s) URL");
  expect_join_fails("http://", "no valid host");
  expect_join_fails("http:///path", "no valid host");
  expect_join_fails("http://:80", "no valid host");
  expect_join_fails("http://h:port", "no valid host");
  expect_join_fails("http://h:99999", "no valid host");
  expect_join_fails("http://[]:80", "no valid host");
  expect_join_fails("http://h x", "whitespace");
  expect_join_fails(" http://h", "not an absolute");
  expect_join_fails("http://h\n", "whitespace");
  expect_join_fails("http://h/?a=1", "query or fragment");
  expect_join_fails(NULL, "NULL");
}

static void user_agent_names_sdk_and_os(void **state) {
  const char *ua = ps__http_user_agent();
  (void)state;
  assert_non_null(ua);
  assert_int_equal(strncmp(ua, "powersync-c/" POWERSYNC_VERSION_STRING " ",
                           strlen("powersync-c/" POWERSYNC_VERSION_STRING) + 1),
                   0);
  assert_non_null(strchr(ua + strlen("powersync-c/"), '/'));
  assert_ptr_equal(ps__http_user_agent(), ua);
}

static void checkpoint_request(mock_service *ms, powersync_http_request *req,
                               char **url) {
  static const powersync_http_header headers[] = {
      {"Authorization", "Token secret-token"},
      {"Accept", "application/json"},
  };
  *url = join(mock_service_url(ms), "/write-checkpoint2.json?client_id=c%201");
  memset(req, 0, sizeof(*req));
  req->method = "GET";
  req->url = *url;
  req->headers = headers;
  req->header_count = 2;
  req->read_timeout_ms = 5000;
}

static void fetch_reads_whole_small_responses(void **state) {
  mock_service *ms = *state;
  powersync_http_transport t = curl_transport();
  powersync_http_request req;
  char *url, *body = NULL, *s;
  int status = 0;

  checkpoint_request(ms, &req, &url);
  assert_int_equal(ps__http_fetch(&t, &req, 4096, NULL, &status, &body),
                   POWERSYNC_OK);
  assert_int_equal(status, 200);
  assert_string_equal(body, "{\"data\":{\"write_checkpoint\":\"10\"}}");
  free(body);
  assert_int_equal(mock_service_write_checkpoint_count(ms), 1);
  s = mock_service_request_target(ms, 0);
  assert_string_equal(s, "/write-checkpoint2.json?client_id=c%201");
  free(s);
  s = mock_service_request_header(ms, 0, "authorization");
  assert_string_equal(s, "Token secret-token");
  free(s);

  /* Any status is returned with its body. */
  mock_service_set_write_checkpoint(ms, 500, "{\"error\":{}}");
  assert_int_equal(ps__http_fetch(&t, &req, 4096, NULL, &status, &body),
                   POWERSYNC_OK);
  assert_int_equal(status, 500);
  assert_string_equal(body, "{\"error\":{}}");
  free(body);

  /* Exactly max_body is fine; one more is not. */
  mock_service_set_write_checkpoint(ms, 200, "0123456789");
  assert_int_equal(ps__http_fetch(&t, &req, 10, NULL, &status, &body),
                   POWERSYNC_OK);
  assert_string_equal(body, "0123456789");
  free(body);
  body = NULL;
  assert_int_equal(ps__http_fetch(&t, &req, 9, NULL, &status, &body),
                   POWERSYNC_EPROTOCOL);
  assert_null(body);
  assert_true(expect_message_contains("response body exceeds 9 bytes"));
  free(url);
}

static void fetch_fails_on_refused_connection(void **state) {
  powersync_http_transport t = curl_transport();
  powersync_http_request req;
  char url[64], *body = NULL;
  int status = -1;
  (void)state;

  snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", unused_port());
  memset(&req, 0, sizeof(req));
  req.method = "GET";
  req.url = url;
  assert_int_equal(ps__http_fetch(&t, &req, 100, NULL, &status, &body),
                   POWERSYNC_ENETWORK);
  assert_null(body);
  assert_int_equal(status, 0);
  assert_true(expect_message_contains("127.0.0.1"));
}

struct firer {
  struct ps__cancel *cancel;
  int delay_ms;
  pthread_t thread;
};

static void *firer_main(void *arg) {
  struct firer *f = arg;
  sleep_ms(f->delay_ms);
  ps__cancel_fire(f->cancel);
  return NULL;
}

static void cancel_interrupts_blocked_fetch(void **state) {
  mock_service *ms = *state;
  powersync_http_transport t = curl_transport();
  powersync_http_request req;
  struct ps__cancel cancel;
  struct script sc;
  struct firer f;
  char *url = join(mock_service_url(ms), "/sync/stream"), *body = NULL;
  int status = -1;
  int64_t started;

  memset(&req, 0, sizeof(req));
  req.method = "POST";
  req.url = url;
  req.body = "{}";
  req.body_size = 2;
  req.read_timeout_ms = 60000;
  ps__cancel_init(&cancel);
  script_start(&sc, ms, hold_request);
  f.cancel = &cancel;
  f.delay_ms = 200;
  started = now_ms();
  assert_int_equal(pthread_create(&f.thread, NULL, firer_main, &f), 0);
  assert_int_equal(ps__http_fetch(&t, &req, 100, &cancel, &status, &body),
                   POWERSYNC_EINTR);
  assert_true(now_ms() - started < WAIT_MS);
  pthread_join(f.thread, NULL);
  assert_null(body);
  assert_true(ps__cancel_fired(&cancel));
  script_finish(&sc);

  /* Once fired, a fetch fails at once without sending anything. */
  assert_int_equal(ps__http_fetch(&t, &req, 100, &cancel, &status, &body),
                   POWERSYNC_EINTR);
  assert_int_equal(mock_service_stream_count(ms), 1);
  ps__cancel_destroy(&cancel);
  free(url);
}

#define SERVICE_TEST(fn)                                                       \
  cmocka_unit_test_setup_teardown(fn, service_setup, service_teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      SERVICE_TEST(post_sends_body_and_headers),
      SERVICE_TEST(body_arrives_chunk_by_chunk),
      SERVICE_TEST(gzip_body_is_decoded_incrementally),
      SERVICE_TEST(dropped_connection_is_network_error),
      SERVICE_TEST(error_status_with_json_body),
      SERVICE_TEST(silent_server_times_out),
      SERVICE_TEST(silent_head_times_out),
      SERVICE_TEST(wake_interrupts_blocked_read),
      SERVICE_TEST(wake_between_calls_interrupts_next_call_once),
      SERVICE_TEST(slow_reader_stalls_the_server),
      SERVICE_TEST(paused_gzip_stream_stays_intact),
      cmocka_unit_test(refused_connection_is_network_error),
      cmocka_unit_test(invalid_requests_are_refused),
      cmocka_unit_test(join_validates_endpoints),
      cmocka_unit_test(user_agent_names_sdk_and_os),
      SERVICE_TEST(fetch_reads_whole_small_responses),
      cmocka_unit_test(fetch_fails_on_refused_connection),
      SERVICE_TEST(cancel_interrupts_blocked_fetch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
