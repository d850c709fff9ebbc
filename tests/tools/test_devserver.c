/*
 * test_devserver.c: powersync-devserver over real HTTP on 127.0.0.1.
 *
 * Two kinds of client talk to it:
 * - raw libcurl requests (a multi handle pumped by the test thread), to
 *   check the bytes: line shapes against the real service's transcripts
 *   (tests/differential/fixtures/real-service), headers, status codes,
 *   error bodies, BSON and gzip framing, keepalives, token expiry, ends;
 * - our SDK (powersync_db_connect) with a connector that takes tokens from
 *   psd_server_token and uploads through POST /api/data, to check that a
 *   real client syncs against it: scoped initial sync, live changes written
 *   to the source by another connection, uploads and write checkpoints,
 *   two clients converging, every format, short-lived tokens, and a server
 *   that stops under its clients.
 *
 * Waits are generous (slow sanitizer builds) but the server runs with a
 * short poll interval and keepalive, so each case is quick when healthy.
 * The executable (PS_TOOLS_BIN/powersync-devserver) is tested last, as a
 * child process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <curl/curl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <strings.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>

#include "db_test_helpers.h"
#include "dev_connector.h"
#include "http.h"
#include "jwt.h"
#include "server.h"
#include "source_db.h"
#include "sync_test_helpers.h"

#define WAIT_MS 20000

/* --- The source database ----------------------------------------------------
 * Tables and seed rows of the real-service capture (fixtures README), so
 * that op data and checksums can be compared with the transcripts.
 */

static const char CONFIG_YAML[] =
    "bucket_definitions:\n"
    "  global:\n"
    "    data:\n"
    "      - SELECT * FROM lists\n"
    "  user_todos:\n"
    "    parameters: SELECT request.user_id() AS user_id\n"
    "    data:\n"
    "      - SELECT * FROM todos WHERE created_by = bucket.user_id\n";

static const char SOURCE_SCHEMA[] =
    "CREATE TABLE lists(id TEXT PRIMARY KEY, created_at TEXT, name TEXT,"
    " owner_id TEXT);"
    "CREATE TABLE todos(id TEXT PRIMARY KEY, created_at TEXT,"
    " completed_at TEXT, description TEXT, completed INTEGER,"
    " created_by TEXT, list_id TEXT, priority INTEGER, score REAL);";

#define LIST_1    "11111111-1111-4111-8111-111111111111"
#define LIST_2    "22222222-2222-4222-8222-222222222222"
#define LIST_3    "33333333-3333-4333-8333-333333333333"
#define TODO_A(n) "aaaaaaa1-0000-4000-8000-00000000000" #n

static const char SEED[] =
    "INSERT INTO lists VALUES('" LIST_1 "','2026-01-01 10:00:00Z',"
    "'Groceries','user-a');"
    "INSERT INTO lists VALUES('" LIST_2 "','2026-01-01 10:05:00Z','Work',"
    "'user-b');"
    "INSERT INTO todos VALUES('" TODO_A(
        1) "','2026-01-01 11:00:00Z',NULL,"
           "'Buy milk',0,'user-a','" LIST_1 "',1,1.5);"
           "INSERT INTO todos VALUES('" TODO_A(
               2) "','2026-01-01 11:01:00Z',NULL,"
                  "'Buy eggs',1,'user-a','" LIST_1 "',2,NULL);"
                  "INSERT INTO todos "
                  "VALUES('bbbbbbb2-0000-4000-8000-000000000001',"
                  "'2026-01-01 11:02:00Z',NULL,'Write "
                  "report',0,'user-b','" LIST_2 "',3,"
                  "0.25);";

/* --- The server under test --------------------------------------------------
 */

struct server_env {
  struct psd_server *server;
  char source[1024];
  pthread_mutex_t mu;
  char log[64 * 1024]; /* Request log lines, truncated when full. */
};

static void capture_log(void *user_data, const char *line) {
  struct server_env *e = user_data;
  size_t used;
  if (getenv("PSD_TEST_VERBOSE"))
    fprintf(stderr, "[devserver] %s\n", line);
  pthread_mutex_lock(&e->mu);
  used = strlen(e->log);
  snprintf(e->log + used, sizeof(e->log) - used, "%s\n", line);
  pthread_mutex_unlock(&e->mu);
}

static int log_has(struct server_env *e, const char *fragment) {
  int found;
  pthread_mutex_lock(&e->mu);
  found = strstr(e->log, fragment) != NULL;
  pthread_mutex_unlock(&e->mu);
  return found;
}

/* Waits for a log line holding fragment: a request is logged when
 * libmicrohttpd reports it complete, just after the client has the
 * response. */
static void wait_log(struct server_env *e, const char *fragment) {
  int64_t deadline = mono_ms() + WAIT_MS;
  while (!log_has(e, fragment)) {
    if (mono_ms() > deadline) {
      fprintf(stderr, "no log line with %s in:\n%s", fragment, e->log);
      fail();
    }
    sleep_ms(5);
  }
}

/* Test defaults: quick polling and keepalives. */
static struct psd_server_options test_options(void) {
  struct psd_server_options o;
  memset(&o, 0, sizeof(o));
  o.keepalive_s = 1;
  o.poll_ms = 10;
  return o;
}

/* Creates a fresh source named name with the seed rows (unless seed is
 * NULL) and starts a server on it with opts (NULL: test_options()). */
static void server_start(struct server_env *e, const char *name,
                         const char *yaml, const char *seed,
                         const struct psd_server_options *opts) {
  struct psd_server_options o = opts ? *opts : test_options();
  char err[512], src[64];
  memset(e, 0, sizeof(*e));
  pthread_mutex_init(&e->mu, NULL);
  snprintf(src, sizeof(src), "source_%s", name);
  snprintf(e->source, sizeof(e->source), "%s", th_db_path(src));
  source_exec(e->source, SOURCE_SCHEMA);
  if (seed)
    source_exec(e->source, seed);
  o.source_path = e->source;
  o.config_yaml = yaml ? yaml : CONFIG_YAML;
  o.log = capture_log;
  o.log_user_data = e;
  err[0] = '\0';
  if (psd_server_start(&o, &e->server, err, sizeof(err)) != 0) {
    fprintf(stderr, "psd_server_start: %s\n", err);
    fail();
  }
  assert_true(psd_server_port(e->server) > 0);
}

static void server_stop(struct server_env *e) {
  psd_server_stop(e->server);
  e->server = NULL;
  pthread_mutex_destroy(&e->mu);
}

static void url_of(struct server_env *e, const char *path, char *url,
                   size_t size) {
  snprintf(url, size, "%s%s", psd_server_url(e->server), path);
}

/* --- Raw HTTP ---------------------------------------------------------------
 * One request on a curl multi handle that the test thread pumps, so a test
 * can read a stream line by line and do other things in between.
 */

struct raw {
  CURLM *multi;
  CURL *easy;
  struct curl_slist *headers;
  char *data; /* Body received so far (decoded when gzip). */
  size_t len, cap, pos;
  long status;
  char content_type[128];
  char content_encoding[64];
  int done;
  CURLcode result;
};

static size_t raw_write(char *p, size_t size, size_t n, void *user_data) {
  struct raw *r = user_data;
  size_t bytes = size * n;
  if (r->len + bytes + 1 > r->cap) {
    size_t cap = (r->len + bytes + 1) * 2;
    char *grown = realloc(r->data, cap);
    if (!grown)
      return 0;
    r->data = grown;
    r->cap = cap;
  }
  memcpy(r->data + r->len, p, bytes);
  r->len += bytes;
  r->data[r->len] = '\0';
  return bytes;
}

static void header_value(const char *line, size_t len, const char *name,
                         char *out, size_t size) {
  size_t n = strlen(name), v;
  if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
    return;
  for (v = n + 1; v < len && line[v] == ' '; v++)
    ;
  while (len > v && (line[len - 1] == '\r' || line[len - 1] == '\n'))
    len--;
  snprintf(out, size, "%.*s", (int)(len - v), line + v);
}

static size_t raw_header(char *p, size_t size, size_t n, void *user_data) {
  struct raw *r = user_data;
  header_value(p, size * n, "content-type", r->content_type,
               sizeof(r->content_type));
  header_value(p, size * n, "content-encoding", r->content_encoding,
               sizeof(r->content_encoding));
  return size * n;
}

/* Starts method url with an optional token, body, Accept and gzip. */
static struct raw *raw_open(const char *method, const char *url,
                            const char *token, const char *body,
                            const char *accept, int gzip) {
  struct raw *r = calloc(1, sizeof(*r));
  char auth[4096];
  assert_non_null(r);
  r->easy = curl_easy_init();
  r->multi = curl_multi_init();
  assert_non_null(r->easy);
  assert_non_null(r->multi);
  curl_easy_setopt(r->easy, CURLOPT_URL, url);
  curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, raw_write);
  curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, raw_header);
  curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
  if (token) {
    snprintf(auth, sizeof(auth), "Authorization: Token %s", token);
    r->headers = curl_slist_append(r->headers, auth);
  }
  if (accept) {
    snprintf(auth, sizeof(auth), "Accept: %s", accept);
    r->headers = curl_slist_append(r->headers, auth);
  }
  if (gzip)
    curl_easy_setopt(r->easy, CURLOPT_ACCEPT_ENCODING, "gzip");
  if (strcmp(method, "POST") == 0) {
    r->headers =
        curl_slist_append(r->headers, "Content-Type: application/json");
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, body ? body : "");
  }
  curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
  curl_multi_add_handle(r->multi, r->easy);
  return r;
}

/* Moves the transfer on for up to ms. */
static void raw_pump(struct raw *r, int ms) {
  int running = 0, left = 0;
  CURLMsg *msg;
  if (r->done) {
    sleep_ms(ms);
    return;
  }
  curl_multi_perform(r->multi, &running);
  if (running)
    curl_multi_poll(r->multi, NULL, 0, ms, NULL);
  curl_multi_perform(r->multi, &running);
  while ((msg = curl_multi_info_read(r->multi, &left)) != NULL) {
    if (msg->msg == CURLMSG_DONE) {
      r->done = 1;
      r->result = msg->data.result;
    }
  }
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
}

/* The next complete line (caller frees), or NULL on timeout or at the end
 * of the body. */
static char *raw_line(struct raw *r, int timeout_ms) {
  int64_t deadline = mono_ms() + timeout_ms;
  for (;;) {
    char *nl = r->data ? memchr(r->data + r->pos, '\n', r->len - r->pos) : NULL;
    if (nl) {
      size_t n = (size_t)(nl - (r->data + r->pos));
      char *line = malloc(n + 1);
      memcpy(line, r->data + r->pos, n);
      line[n] = '\0';
      r->pos += n + 1;
      return line;
    }
    if (r->done || mono_ms() > deadline)
      return NULL;
    raw_pump(r, 20);
  }
}

/* The next line that is not a keepalive; fails the test on timeout. */
static char *raw_sync_line(struct raw *r) {
  for (;;) {
    char *line = raw_line(r, WAIT_MS);
    if (!line) {
      fprintf(stderr, "no sync line (done=%d status=%ld result=%d)\n", r->done,
              r->status, (int)r->result);
      fail();
    }
    if (strncmp(line, "{\"token_expires_in\"", 19) != 0)
      return line;
    free(line);
  }
}

/* Skips lines until one contains fragment (returned); fails on timeout. */
static char *raw_line_with(struct raw *r, const char *fragment) {
  for (;;) {
    char *line = raw_line(r, WAIT_MS);
    if (!line) {
      fprintf(stderr, "no line with %s (done=%d)\n", fragment, r->done);
      fail();
    }
    if (strstr(line, fragment))
      return line;
    free(line);
  }
}

/* Waits for the response to end; returns 1 when it did. */
static int raw_wait_done(struct raw *r, int timeout_ms) {
  int64_t deadline = mono_ms() + timeout_ms;
  while (!r->done && mono_ms() < deadline)
    raw_pump(r, 20);
  return r->done;
}

/* Waits for the response head. */
static void raw_wait_status(struct raw *r) {
  int64_t deadline = mono_ms() + WAIT_MS;
  while (r->status == 0 && !r->done && mono_ms() < deadline)
    raw_pump(r, 20);
  assert_true(r->status != 0);
}

static void raw_close(struct raw *r) {
  curl_multi_remove_handle(r->multi, r->easy);
  curl_easy_cleanup(r->easy);
  curl_multi_cleanup(r->multi);
  curl_slist_free_all(r->headers);
  free(r->data);
  free(r);
}

/* A whole request: returns the status; *body (caller frees) gets the
 * body. */
static long http(const char *method, const char *url, const char *token,
                 const char *body, char **body_out, char *content_type,
                 size_t ct_size) {
  struct raw *r = raw_open(method, url, token, body, NULL, 0);
  long status;
  assert_true(raw_wait_done(r, WAIT_MS));
  status = r->status;
  if (body_out) {
    *body_out = r->data ? r->data : strdup("");
    r->data = NULL;
  }
  if (content_type)
    snprintf(content_type, ct_size, "%s", r->content_type);
  raw_close(r);
  return status;
}

/* A sync request body as the fixtures' captures sent it. */
static void stream_body(char *out, size_t size, const char *client_id,
                        const char *buckets) {
  snprintf(out, size,
           "{\"buckets\":%s,\"include_checksum\":true,\"raw_data\":true,"
           "\"client_id\":\"%s\"}",
           buckets ? buckets : "[]", client_id);
}

/* Opens POST /sync/stream for user (token valid for lifetime_s, 0: the
 * default). */
static struct raw *open_stream(struct server_env *e, const char *user,
                               int lifetime_s, const char *body,
                               const char *accept, int gzip) {
  char url[256];
  char *token = psd_server_token(e->server, user, lifetime_s);
  struct raw *r;
  assert_non_null(token);
  url_of(e, "/sync/stream", url, sizeof(url));
  r = raw_open("POST", url, token, body, accept, gzip);
  free(token);
  return r;
}

/* --- Comparing with the transcripts -----------------------------------------
 */

static char *fixture_text(const char *name, size_t *len) {
  char path[2048];
  const char *root = getenv("PS_SOURCE_DIR");
  snprintf(path, sizeof(path), "%s/tests/differential/fixtures/real-service/%s",
           root ? root : ".", name);
  return st_read_file(path, len);
}

/* Line n (from 0) of text. Caller frees; NULL past the end. */
static char *nth_line(const char *text, int n) {
  const char *p = text, *end;
  char *line;
  while (n-- > 0) {
    p = strchr(p, '\n');
    if (!p)
      return NULL;
    p++;
  }
  if (!*p)
    return NULL;
  end = strchr(p, '\n');
  if (!end)
    end = p + strlen(p);
  line = malloc((size_t)(end - p) + 1);
  memcpy(line, p, (size_t)(end - p));
  line[end - p] = '\0';
  return line;
}

/* Removes every `,"subkey":"..."` in place: subkeys are opaque per-server
 * source row ids, so ours cannot equal the service's. */
static void strip_subkeys(char *s) {
  const char *key = ",\"subkey\":\"";
  char *p;
  while ((p = strstr(s, key)) != NULL) {
    char *close = strchr(p + strlen(key), '"');
    assert_non_null(close);
    memmove(p, close + 1, strlen(close + 1) + 1);
  }
}

/* strip_subkeys, and every checksum replaced by "#": REMOVE checksums
 * hash the subkey (and bucket checksums sum them). */
static void normalize(char *s) {
  char *p = s;
  strip_subkeys(s);
  while ((p = strstr(p, "\"checksum\":")) != NULL) {
    char *digits = p + strlen("\"checksum\":"), *end = digits;
    if (*end == '-')
      end++;
    while (*end >= '0' && *end <= '9')
      end++;
    *digits = '#';
    memmove(digits + 1, end, strlen(end) + 1);
    p = digits;
  }
}

/* The ops array of a data line, without brackets (caller frees). */
static char *ops_of(const char *line) {
  const char *start = strstr(line, "\"data\":[{"), *end;
  assert_non_null(start);
  start += 8;
  end = strstr(start, "],\"next_after\"");
  assert_non_null(end);
  return strndup(start, (size_t)(end - start));
}

static void assert_same_line(char *got, char *want, int exact_checksums) {
  if (exact_checksums) {
    strip_subkeys(got);
    strip_subkeys(want);
  } else {
    normalize(got);
    normalize(want);
  }
  if (strcmp(got, want) != 0) {
    fprintf(stderr, "line differs from the service's:\n got: %s\nwant: %s\n",
            got, want);
    fail();
  }
}

/* Reads lines of r and compares them with the fixture lines from *next
 * up to and including the next checkpoint_complete. */
static void expect_fixture_lines(struct raw *r, const char *fixture, int *next,
                                 int exact_checksums) {
  for (;;) {
    char *want = nth_line(fixture, (*next)++);
    char *got;
    int last;
    assert_non_null(want);
    if (strncmp(want, "{\"token_expires_in\"", 19) == 0) {
      free(want);
      continue;
    }
    got = raw_sync_line(r);
    last = strncmp(want, "{\"checkpoint_complete\"", 22) == 0;
    assert_same_line(got, want, exact_checksums);
    free(got);
    free(want);
    if (last)
      return;
  }
}

/* --- SDK clients ------------------------------------------------------------
 */

struct client {
  powersync_db *db;
  struct dev_connector conn;
  powersync_connector connector;
};

/* The client schema: the source tables without id. */
static powersync_schema *client_schema(void) {
  static const char *const list_cols[] = {"created_at", "name", "owner_id"};
  static const char *const todo_cols[] = {
      "created_at", "completed_at", "description", "completed",
      "created_by", "list_id",      "priority",    "score"};
  static const powersync_column_type todo_types[] = {
      POWERSYNC_COLUMN_TEXT,    POWERSYNC_COLUMN_TEXT, POWERSYNC_COLUMN_TEXT,
      POWERSYNC_COLUMN_INTEGER, POWERSYNC_COLUMN_TEXT, POWERSYNC_COLUMN_TEXT,
      POWERSYNC_COLUMN_INTEGER, POWERSYNC_COLUMN_REAL};
  powersync_schema *s = powersync_schema_new();
  powersync_table *t = NULL;
  size_t i;
  assert_non_null(s);
  ASSERT_PS_OK(powersync_schema_add_table(s, "lists", &t));
  for (i = 0; i < 3; i++)
    ASSERT_PS_OK(
        powersync_table_add_column(t, list_cols[i], POWERSYNC_COLUMN_TEXT));
  ASSERT_PS_OK(powersync_schema_add_table(s, "todos", &t));
  for (i = 0; i < 8; i++)
    ASSERT_PS_OK(powersync_table_add_column(t, todo_cols[i], todo_types[i]));
  return s;
}

static void client_open(struct client *c, const char *name,
                        struct server_env *e, const char *user,
                        int lifetime_s) {
  powersync_schema *schema = client_schema();
  memset(c, 0, sizeof(*c));
  ASSERT_PS_OK(powersync_db_open(&c->db, th_db_path(name), schema, NULL));
  powersync_schema_free(schema);
  dev_connector_init(&c->conn, e->server, user, lifetime_s, &c->connector);
}

static void client_connect(struct client *c, powersync_sync_format format,
                           int gzip) {
  powersync_connect_options o = POWERSYNC_CONNECT_OPTIONS_INIT;
  o.format = format;
  o.accept_gzip = gzip;
  o.retry_delay_ms = 100;
  o.upload_throttle_ms = 0;
  o.read_timeout_ms = 10000;
  ASSERT_PS_OK(powersync_db_connect(c->db, &c->connector, &o));
}

/* The server is about to stop: the connector stops handing out tokens. */
static void client_forget_server(struct client *c) {
  dev_connector_set_server(&c->conn, NULL);
}

static void client_close(struct client *c) {
  ASSERT_PS_OK(powersync_db_disconnect(c->db));
  ASSERT_PS_OK(powersync_db_close(c->db));
  dev_connector_destroy(&c->conn);
}

static void wait_first_sync(struct client *c) {
  int rc = powersync_db_wait_for_first_sync(c->db, -1, WAIT_MS);
  if (rc != POWERSYNC_OK) {
    powersync_sync_status *s = NULL;
    powersync_db_sync_status(c->db, &s);
    fprintf(stderr, "first sync: %s; status %s\n", powersync_errstr(rc),
            s ? powersync_sync_status_json(s) : "?");
    powersync_sync_status_free(s);
    fail();
  }
}

static int64_t client_int(struct client *c, const char *sql) {
  return th_query_int(c->db, sql);
}

/* Polls until sql (one integer) gives expected. */
static void wait_client_int(struct client *c, const char *sql, int64_t expected,
                            const char *what) {
  int64_t deadline = mono_ms() + WAIT_MS, got = -1;
  while (mono_ms() < deadline) {
    got = client_int(c, sql);
    if (got == expected)
      return;
    sleep_ms(10);
  }
  fprintf(stderr, "timed out waiting for %s: %s gave %lld, want %lld\n", what,
          sql, (long long)got, (long long)expected);
  fail();
}

static void client_exec(struct client *c, const char *sql) {
  ASSERT_PS_OK(powersync_db_execute(c->db, sql, NULL, 0, NULL));
}

/* --- Negotiation ------------------------------------------------------------
 */

static void negotiation(void **state) {
  (void)state;
  assert_false(psd_http_prefers_bson(NULL));
  assert_false(psd_http_prefers_bson(""));
  assert_false(psd_http_prefers_bson("application/x-ndjson"));
  assert_false(psd_http_prefers_bson("*/*"));
  assert_true(psd_http_prefers_bson("application/vnd.powersync.bson-stream"));
  /* What our SDK, Rust, JS and Dart send. */
  assert_true(psd_http_prefers_bson("application/vnd.powersync.bson-stream;"
                                    "q=0.9,application/x-ndjson;q=0.8"));
  assert_false(psd_http_prefers_bson("application/vnd.powersync.bson-stream;"
                                     "q=0.5, application/x-ndjson"));
  assert_false(psd_http_prefers_bson(
      "application/vnd.powersync.bson-stream;q=0.8,application/*;q=0.8"));
  assert_true(psd_http_prefers_bson(
      "application/vnd.powersync.bson-stream, application/x-ndjson;q=0.1"));
  assert_true(psd_http_prefers_bson(
      "application/vnd.powersync.bson-stream, */*;q=0.1"));

  assert_false(psd_http_accepts_gzip(NULL));
  assert_false(psd_http_accepts_gzip("identity"));
  assert_true(psd_http_accepts_gzip("gzip"));
  assert_true(psd_http_accepts_gzip("deflate, gzip, br, zstd"));
  assert_false(psd_http_accepts_gzip("gzip;q=0"));
  assert_true(psd_http_accepts_gzip("*"));
  assert_false(psd_http_accepts_gzip("*, gzip;q=0"));
}

/* --- Against the real service's transcripts ---------------------------------
 */

static void expect_headers_ndjson(struct raw *r) {
  raw_wait_status(r);
  assert_int_equal(r->status, 200);
  assert_string_equal(r->content_type, "application/x-ndjson");
}

/* Initial sync, the live changes of the capture step by step, a write
 * checkpoint, a resumed stream and a final full sync, compared line by line
 * with live-changes-user-a.ndjson, resume-user-a.ndjson and
 * final-sync-user-a.ndjson. Checksums are compared exactly where they only
 * hash row data (PUTs); REMOVE checksums hash the subkey, which is per
 * server. */
static void matches_service_transcripts(void **state) {
  struct server_env e;
  struct psd_server_options o = test_options();
  char body[512], url[256], *live, *resume, *final, *buckets, *resp;
  char *token;
  struct raw *r;
  size_t len;
  int next = 0;
  (void)state;
  o.keepalive_s = 60;
  server_start(&e, "transcripts", NULL, SEED, &o);
  live = fixture_text("live-changes-user-a.ndjson", &len);
  resume = fixture_text("resume-user-a.ndjson", &len);
  final = fixture_text("final-sync-user-a.ndjson", &len);
  buckets = fixture_text("resume-user-a.request-buckets.json", &len);
  while (len && (buckets[len - 1] == '\n' || buckets[len - 1] == '\r'))
    buckets[--len] = '\0';

  stream_body(body, sizeof(body), "fixture-live-a", NULL);
  r = open_stream(&e, "user-a", 0, body, NULL, 0);
  expect_headers_ndjson(r);
  /* Initial sync: ops 1-4 and their checksums exactly. */
  expect_fixture_lines(r, live, &next, 1);

  /* Step 1: a list and a todo (one transaction, list first). */
  source_exec(e.source,
              "BEGIN;"
              "INSERT INTO lists VALUES('" LIST_3 "','2026-01-02 09:00:00Z',"
              "'Holiday','user-a');"
              "INSERT INTO todos VALUES('" TODO_A(
                  3) "','2026-01-02 09:01:00Z',"
                     "NULL,'Book flights',0,'user-a','" LIST_3 "',5,2.75);"
                     "COMMIT;");
  expect_fixture_lines(r, live, &next, 1);
  /* Step 2: two updates. */
  source_exec(e.source,
              "BEGIN;"
              "UPDATE todos SET completed = 1, completed_at = "
              "'2026-01-02 09:30:00Z' WHERE id = '" TODO_A(
                  1) "';"
                     "UPDATE lists SET name = 'Groceries (weekly)' WHERE id = "
                     "'" LIST_1 "';"
                     "COMMIT;");
  expect_fixture_lines(r, live, &next, 1);
  /* Step 3: a delete. */
  source_exec(e.source, "DELETE FROM todos WHERE id = '" TODO_A(2) "';");
  expect_fixture_lines(r, live, &next, 0);
  /* Step 4: another user's todo: nothing on this stream (op 11). */
  source_exec(e.source,
              "INSERT INTO todos VALUES('bbbbbbb2-0000-4000-8000-000000000002',"
              "'2026-01-02 10:00:00Z',NULL,'Call Bob',0,'user-b','" LIST_2
              "',NULL,NULL);");
  /* Step 5: the service saw insert, insert, update in one transaction as
   * three ops (it replicates row images); our storage reads rows as they
   * are when it replicates, so the update comes in a second transaction
   * to give the same ops 12-14. */
  source_exec(e.source,
              "BEGIN;"
              "INSERT INTO todos VALUES('" TODO_A(
                  4) "','2026-01-02 11:00:00Z',"
                     "NULL,'Pack bags',0,'user-a','" LIST_3 "',2,NULL);"
                     "INSERT INTO todos VALUES('" TODO_A(
                         5) "','2026-01-02 11:00:01Z',"
                            "NULL,'Unicode: café ✓ 日本',0,'user-a','" LIST_1
                            "',NULL,"
                            "-0.001);"
                            "COMMIT;");
  {
    char *diff = raw_sync_line(r), *data, *done;
    assert_non_null(strstr(diff, "\"last_op_id\":\"13\""));
    data = raw_sync_line(r);
    done = raw_sync_line(r);
    assert_string_equal(done,
                        "{\"checkpoint_complete\":{\"last_op_id\":\"13\"}}");
    source_exec(e.source, "UPDATE todos SET description = 'Pack bags (2)' "
                          "WHERE id = '" TODO_A(4) "';");
    free(diff);
    free(done);
    diff = raw_sync_line(r);
    {
      char *want = nth_line(live, next);
      assert_same_line(diff, want, 0);
      free(want);
    }
    /* The ops of both data lines are the service's ops 12-14. */
    {
      char *want = nth_line(live, next + 1), *more = raw_sync_line(r);
      char *want_ops = ops_of(want), *ops = ops_of(data), *more_ops;
      more_ops = ops_of(more);
      ops = realloc(ops, strlen(ops) + strlen(more_ops) + 2);
      strcat(strcat(ops, ","), more_ops);
      assert_same_line(ops, want_ops, 1);
      free(want);
      free(more);
      free(want_ops);
      free(ops);
      free(more_ops);
    }
    free(data);
    free(diff);
    done = raw_sync_line(r);
    assert_string_equal(done,
                        "{\"checkpoint_complete\":{\"last_op_id\":\"14\"}}");
    free(done);
    next += 3;
  }
  /* Step 6: the list and (as the cascade did) its todos. */
  source_exec(e.source, "BEGIN;"
                        "DELETE FROM lists WHERE id = '" LIST_3 "';"
                        "DELETE FROM todos WHERE list_id = '" LIST_3 "';"
                        "COMMIT;");
  expect_fixture_lines(r, live, &next, 0);

  /* A write checkpoint: its response and the diff it causes, exactly. */
  token = psd_server_token(e.server, "user-a", 0);
  url_of(&e, "/write-checkpoint2.json?client_id=fixture-live-a", url,
         sizeof(url));
  assert_int_equal(http("GET", url, token, NULL, &resp, NULL, 0), 200);
  {
    char *want = fixture_text("write-checkpoint2.json", &len);
    assert_string_equal(resp, want);
    free(want);
  }
  free(resp);
  free(token);
  expect_fixture_lines(r, live, &next, 1);
  raw_close(r);

  /* Resumed from the positions of the initial sync. */
  stream_body(body, sizeof(body), "fixture-initial-a", buckets);
  r = open_stream(&e, "user-a", 0, body, NULL, 0);
  next = 0;
  expect_fixture_lines(r, resume, &next, 0);
  raw_close(r);
  /* A fresh full sync. */
  stream_body(body, sizeof(body), "fixture-final-a", NULL);
  r = open_stream(&e, "user-a", 0, body, NULL, 0);
  next = 0;
  expect_fixture_lines(r, final, &next, 0);
  raw_close(r);

  free(live);
  free(resume);
  free(final);
  free(buckets);
  server_stop(&e);
}

/* --- Stream features over raw HTTP ------------------------------------------
 */

/* Data pages of ops_per_line ops with has_more, after/next_after chained. */
static void data_is_paged(void **state) {
  struct server_env e;
  struct psd_server_options o = test_options();
  char body[256], *line, expect_after[32] = "0", seed[2048];
  struct raw *r;
  int pages = 0, ops = 0, more = 1;
  (void)state;
  o.ops_per_line = 2;
  /* Seeded before the start, so the first checkpoint has them all. */
  snprintf(seed, sizeof(seed), "%s%s", SEED,
           "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
           "WHERE i < 7) INSERT INTO todos(id, description, created_by) "
           "SELECT 'extra-' || i, 'extra', 'user-a' FROM n;");
  server_start(&e, "paged", NULL, seed, &o);
  stream_body(body, sizeof(body), "paged", NULL);
  r = open_stream(&e, "user-a", 0, body, NULL, 0);
  free(raw_line_with(r, "\"count\":9"));
  while (more) {
    const char *p;
    char after[48];
    line = raw_line_with(r, "user_todos");
    snprintf(after, sizeof(after), "\"after\":\"%s\"", expect_after);
    assert_non_null(strstr(line, after));
    more = strstr(line, "\"has_more\":true") != NULL;
    for (p = line; (p = strstr(p, "\"op_id\"")) != NULL; p++)
      ops++;
    p = strstr(line, "\"next_after\":\"");
    assert_non_null(p);
    snprintf(expect_after, sizeof(expect_after), "%.*s",
             (int)strcspn(p + 14, "\""), p + 14);
    pages++;
    free(line);
  }
  assert_int_equal(ops, 9);
  assert_int_equal(pages, 5);
  line = raw_sync_line(r);
  assert_non_null(strstr(line, "checkpoint_complete"));
  free(line);
  raw_close(r);
  server_stop(&e);
}

/* Priority groups: data of priority 1 first, then
 * partial_checkpoint_complete, then the rest and checkpoint_complete. */
static void priorities_in_order(void **state) {
  static const char yaml[] =
      "bucket_definitions:\n"
      "  global:\n"
      "    data:\n"
      "      - SELECT * FROM lists\n"
      "  urgent:\n"
      "    priority: 1\n"
      "    parameters: SELECT request.user_id() AS user_id\n"
      "    data:\n"
      "      - SELECT * FROM todos WHERE created_by = bucket.user_id\n";
  struct server_env e;
  char body[256], *line;
  struct raw *r;
  (void)state;
  server_start(&e, "priorities", yaml, SEED, NULL);
  stream_body(body, sizeof(body), "prio", NULL);
  r = open_stream(&e, "user-a", 0, body, NULL, 0);
  line = raw_sync_line(r);
  assert_non_null(strstr(line, "{\"checkpoint\":{\"last_op_id\":\"5\""));
  assert_non_null(
      strstr(line, "\"priority\":1,\"subscriptions\":[{\"default\":1}]"));
  assert_non_null(
      strstr(line, "\"priority\":3,\"subscriptions\":[{\"default\":0}]"));
  free(line);
  line = raw_sync_line(r);
  assert_non_null(
      strstr(line, "{\"data\":{\"bucket\":\"1#urgent[\\\"user-a\\\"]\""));
  free(line);
  line = raw_sync_line(r);
  assert_string_equal(line, "{\"partial_checkpoint_complete\":{\"last_op_id\":"
                            "\"5\",\"priority\":1}}");
  free(line);
  line = raw_sync_line(r);
  assert_non_null(strstr(line, "{\"data\":{\"bucket\":\"1#global[]\""));
  free(line);
  line = raw_sync_line(r);
  assert_string_equal(line, "{\"checkpoint_complete\":{\"last_op_id\":\"5\"}}");
  free(line);
  raw_close(r);
  server_stop(&e);
}

/* A parameter query over a table: changing the row changes the bucket
 * set, which shows as removed_buckets / a new bucket in a diff. */
static void bucket_set_changes(void **state) {
  static const char yaml[] =
      "bucket_definitions:\n"
      "  owned:\n"
      "    parameters: SELECT id AS list_id FROM lists WHERE owner_id = "
      "request.user_id()\n"
      "    data:\n"
      "      - SELECT * FROM todos WHERE list_id = bucket.list_id\n";
  struct server_env e;
  char body[256], *line;
  struct raw *r;
  (void)state;
  server_start(&e, "bucket_set", yaml, SEED, NULL);
  stream_body(body, sizeof(body), "set", NULL);
  r = open_stream(&e, "user-a", 0, body, NULL, 0);
  line = raw_sync_line(r);
  assert_non_null(strstr(line, "\"bucket\":\"1#owned[\\\"" LIST_1 "\\\"]\""));
  assert_null(strstr(line, LIST_2));
  free(line);
  free(raw_line_with(r, "checkpoint_complete"));
  source_exec(e.source, "BEGIN; UPDATE lists SET owner_id = 'user-a' WHERE id "
                        "= '" LIST_2 "'; UPDATE lists SET owner_id = 'user-b' "
                        "WHERE id = '" LIST_1 "'; COMMIT;");
  line = raw_line_with(r, "checkpoint_diff");
  assert_non_null(
      strstr(line, "\"removed_buckets\":[\"1#owned[\\\"" LIST_1 "\\\"]\"]"));
  assert_non_null(
      strstr(line, "\"updated_buckets\":[{\"bucket\":\"1#owned[\\\"" LIST_2
                   "\\\"]\""));
  free(line);
  line = raw_sync_line(r);
  assert_non_null(strstr(line, "Write report"));
  free(line);
  free(raw_line_with(r, "checkpoint_complete"));
  raw_close(r);
  server_stop(&e);
}

/* Sync streams: the streams list and subscriptions references, explicit
 * subscriptions with parameters, an unknown stream left out. */
static void sync_streams(void **state) {
  static const char yaml[] =
      "streams:\n"
      "  my_lists:\n"
      "    query: SELECT * FROM lists WHERE owner_id = auth.user_id()\n"
      "    auto_subscribe: true\n"
      "  list_todos:\n"
      "    query: SELECT * FROM todos WHERE list_id = "
      "subscription.parameter('list')\n"
      "    priority: 1\n";
  struct server_env e;
  char *line;
  struct raw *r;
  (void)state;
  server_start(&e, "streams", yaml, SEED, NULL);
  r = open_stream(
      &e, "user-a", 0,
      "{\"buckets\":[],\"raw_data\":true,\"client_id\":\"s\","
      "\"streams\":{\"include_defaults\":true,\"subscriptions\":["
      "{\"stream\":\"nope\",\"parameters\":null},"
      "{\"stream\":\"list_todos\",\"parameters\":{\"list\":\"" LIST_1
      "\"},\"override_priority\":null}]}}",
      NULL, 0);
  line = raw_sync_line(r);
  assert_non_null(strstr(
      line, "\"streams\":[{\"name\":\"my_lists\",\"is_default\":true,"
            "\"errors\":[]},{\"name\":\"list_todos\",\"is_default\":false,"
            "\"errors\":[]}]"));
  assert_non_null(strstr(line, "\"subscriptions\":[{\"default\":0}]"));
  assert_non_null(
      strstr(line, "\"priority\":1,\"subscriptions\":[{\"sub\":1}]"));
  assert_null(strstr(line, "nope"));
  free(line);
  line = raw_sync_line(r);
  assert_non_null(strstr(line, "Buy milk"));
  free(line);
  free(raw_line_with(r, "checkpoint_complete"));
  raw_close(r);
  server_stop(&e);
}

/* BSON when Accept prefers it; gzip (flushed per batch, so lines arrive
 * while the stream is open) when Accept-Encoding allows it. */
static void bson_and_gzip_framing(void **state) {
  struct server_env e;
  char body[256], *line;
  struct raw *r;
  uint32_t doc_len;
  (void)state;
  server_start(&e, "framing", NULL, SEED, NULL);
  stream_body(body, sizeof(body), "framing", NULL);

  r = open_stream(&e, "user-a", 0, body,
                  "application/vnd.powersync.bson-stream;q=0.9,"
                  "application/x-ndjson;q=0.8",
                  0);
  raw_wait_status(r);
  assert_string_equal(r->content_type, "application/vnd.powersync.bson-stream");
  {
    int64_t deadline = mono_ms() + WAIT_MS;
    while (r->len < 4 && mono_ms() < deadline)
      raw_pump(r, 20);
  }
  assert_true(r->len >= 4);
  doc_len = (uint32_t)(uint8_t)r->data[0] | (uint32_t)(uint8_t)r->data[1] << 8 |
            (uint32_t)(uint8_t)r->data[2] << 16 |
            (uint32_t)(uint8_t)r->data[3] << 24;
  {
    int64_t deadline = mono_ms() + WAIT_MS;
    while (r->len < doc_len && mono_ms() < deadline)
      raw_pump(r, 20);
  }
  assert_true(r->len >= doc_len);
  assert_int_equal(r->data[doc_len - 1], 0);
  assert_int_equal(r->data[4], 3);                /* An embedded document... */
  assert_string_equal(r->data + 5, "checkpoint"); /* ...named checkpoint. */
  raw_close(r);

  r = open_stream(&e, "user-a", 0, body, NULL, 1);
  line = raw_line_with(r, "checkpoint_complete");
  assert_false(r->done);
  assert_string_equal(r->content_encoding, "gzip");
  assert_string_equal(r->content_type, "application/x-ndjson");
  free(line);
  source_exec(
      e.source,
      "UPDATE todos SET description = 'gz' WHERE id = '" TODO_A(1) "';");
  line = raw_line_with(r, "\\\"gz\\\"");
  free(line);
  raw_close(r);
  server_stop(&e);
}

/* Positions in the request: only newer ops are sent. */
static void resume_from_positions(void **state) {
  struct server_env e;
  char body[512], *line;
  struct raw *r;
  (void)state;
  server_start(&e, "resume", NULL, SEED, NULL);
  stream_body(body, sizeof(body), "resume",
              "[{\"name\":\"1#global[]\",\"after\":\"2\"},"
              "{\"name\":\"1#user_todos[\\\"user-a\\\"]\",\"after\":\"3\"}]");
  r = open_stream(&e, "user-a", 0, body, NULL, 0);
  free(raw_line_with(r, "{\"checkpoint\""));
  line = raw_sync_line(r);
  assert_non_null(strstr(line, "\"after\":\"3\""));
  assert_non_null(strstr(line, "\"op_id\":\"4\""));
  assert_null(strstr(line, "\"op_id\":\"3\""));
  free(line);
  line = raw_sync_line(r);
  assert_string_equal(line, "{\"checkpoint_complete\":{\"last_op_id\":\"5\"}}");
  free(line);
  raw_close(r);
  server_stop(&e);
}

/* 401 bodies as the service sends them; bad request bodies are 400. */
static void unauthorized_and_bad_requests(void **state) {
  struct server_env e;
  struct psd_server_options other;
  char url[256], ct[128], *resp, *token;
  (void)state;
  server_start(&e, "auth", NULL, SEED, NULL);
  url_of(&e, "/sync/stream", url, sizeof(url));

  assert_int_equal(http("POST", url, NULL, "{}", &resp, ct, sizeof(ct)), 401);
  assert_string_equal(ct, "application/json; charset=utf-8");
  assert_string_equal(resp,
                      "{\"error\":{\"code\":\"PSYNC_S2106\",\"status\":401,"
                      "\"description\":\"Authentication required\","
                      "\"name\":\"AuthorizationError\"}}");
  free(resp);

  memset(&other, 0, sizeof(other));
  other.jwt_secret = "another secret";
  token = psd_dev_token(&other, "user-a", 0);
  assert_int_equal(http("POST", url, token, "{}", &resp, ct, sizeof(ct)), 401);
  assert_non_null(strstr(resp, "\"code\":\"PSYNC_S2101\""));
  assert_non_null(strstr(resp, "\"name\":\"AuthorizationError\""));
  free(resp);
  free(token);
  assert_int_equal(http("POST", url, "not-a-jwt", "{}", &resp, NULL, 0), 401);
  assert_non_null(strstr(resp, "\"status\":401"));
  free(resp);
  url_of(&e, "/write-checkpoint2.json?client_id=x", url, sizeof(url));
  assert_int_equal(http("GET", url, NULL, NULL, &resp, NULL, 0), 401);
  free(resp);

  token = psd_server_token(e.server, "user-a", 0);
  url_of(&e, "/sync/stream", url, sizeof(url));
  assert_int_equal(
      http("POST", url, token, "{\"buckets\":", &resp, ct, sizeof(ct)), 400);
  assert_string_equal(ct, "application/json; charset=utf-8");
  assert_non_null(
      strstr(resp, "{\"error\":{\"code\":\"PSYNC_S2001\",\"status\":400,"));
  free(resp);
  assert_int_equal(
      http("POST", url, token, "{\"buckets\":[{\"name\":1}]}", &resp, NULL, 0),
      400);
  free(resp);
  free(token);
  /* Tokens never reach the log. */
  wait_log(&e, "POST /sync/stream 401 user=- ");
  wait_log(&e, "POST /sync/stream 400 user=user-a ");
  assert_false(log_has(&e, "not-a-jwt"));
  server_stop(&e);
}

/* Write checkpoints, dev tokens, uploads, 404. */
static void other_routes(void **state) {
  struct server_env e;
  char url[512], ct[128], *resp, *token, *end;
  (void)state;
  server_start(&e, "routes", NULL, SEED, NULL);

  url_of(&e, "/api/auth/token?user_id=user-a&expires_in=60", url, sizeof(url));
  assert_int_equal(http("GET", url, NULL, NULL, &resp, ct, sizeof(ct)), 200);
  assert_string_equal(ct, "application/json; charset=utf-8");
  assert_true(strncmp(resp, "{\"token\":\"", 10) == 0);
  {
    char want[256];
    snprintf(want, sizeof(want), "\"powersync_url\":\"%s\"}",
             psd_server_url(e.server));
    assert_non_null(strstr(resp, want));
  }
  end = strchr(resp + 10, '"');
  token = strndup(resp + 10, (size_t)(end - (resp + 10)));
  free(resp);
  url_of(&e, "/api/auth/token", url, sizeof(url));
  assert_int_equal(http("GET", url, NULL, NULL, &resp, NULL, 0), 400);
  free(resp);

  url_of(&e, "/write-checkpoint2.json?client_id=c1", url, sizeof(url));
  assert_int_equal(http("GET", url, token, NULL, &resp, NULL, 0), 200);
  assert_string_equal(resp, "{\"data\":{\"write_checkpoint\":\"1\"}}");
  free(resp);
  assert_int_equal(http("GET", url, token, NULL, &resp, NULL, 0), 200);
  assert_string_equal(resp, "{\"data\":{\"write_checkpoint\":\"2\"}}");
  free(resp);

  url_of(&e, "/api/data", url, sizeof(url));
  assert_int_equal(
      http("POST", url, token,
           "{\"batch\":[{\"op\":\"PUT\",\"type\":\"todos\",\"id\":\"up-1\","
           "\"data\":{\"description\":\"uploaded\",\"created_by\":\"user-a\"}}]"
           "}",
           &resp, NULL, 0),
      200);
  assert_string_equal(resp, "{\"ok\":true}");
  free(resp);
  assert_int_equal(source_int(e.source, "SELECT count(*) FROM todos WHERE id = "
                                        "'up-1' AND description = 'uploaded'"),
                   1);
  assert_int_equal(
      http("POST", url, token,
           "{\"batch\":[{\"op\":\"PUT\",\"type\":\"nope\",\"id\":\"x\","
           "\"data\":{}}]}",
           &resp, NULL, 0),
      400);
  assert_non_null(strstr(resp, "\"code\":\"PSYNC_S2001\""));
  free(resp);

  url_of(&e, "/no/such/route", url, sizeof(url));
  assert_int_equal(http("GET", url, token, NULL, &resp, ct, sizeof(ct)), 404);
  assert_string_equal(ct, "application/json; charset=utf-8");
  assert_string_equal(
      resp, "{\"error\":{\"code\":\"PSYNC_S2002\",\"status\":404,"
            "\"description\":\"The path does not exist on this server\","
            "\"details\":\"The path \\\"/no/such/route\\\" does not exist "
            "on this server\",\"severity\":\"info\",\"name\":"
            "\"RouteNotFound\"}}");
  free(resp);

  /* Bodies are capped (16 MiB). */
  {
    size_t big = (size_t)17 * 1024 * 1024;
    char *huge = malloc(big + 1);
    assert_non_null(huge);
    memset(huge, ' ', big);
    huge[big] = '\0';
    url_of(&e, "/api/data", url, sizeof(url));
    assert_int_equal(http("POST", url, token, huge, &resp, NULL, 0), 413);
    assert_non_null(strstr(resp, "\"status\":413"));
    free(resp);
    free(huge);
  }

  wait_log(&e, "GET /write-checkpoint2.json 200 user=user-a ");
  wait_log(&e, "GET /no/such/route 404 user=- ");
  assert_false(log_has(&e, token));
  free(token);
  server_stop(&e);
}

/* Keepalives carry the seconds left (rounded up); a short-lived token
 * gets keepalives and then token_expires_in 0 and a clean end; a token
 * that expired within the clock tolerance gets only the 0. */
static void keepalive_and_expiry(void **state) {
  static const char *const audiences[] = {"powersync-dev"};
  struct psd_jwt_config jwt;
  struct server_env e;
  char body[256], url[256], *line, *token;
  struct raw *r;
  int64_t start, now;
  (void)state;
  server_start(&e, "expiry", NULL, SEED, NULL);
  stream_body(body, sizeof(body), "expiry", NULL);

  r = open_stream(&e, "user-a", 3600, body, NULL, 0);
  free(raw_line_with(r, "checkpoint_complete"));
  line = raw_line(r, WAIT_MS); /* keepalive_s is 1 */
  assert_non_null(line);
  assert_true(strncmp(line, "{\"token_expires_in\":", 20) == 0);
  assert_true(atoi(line + 20) >= 3598 && atoi(line + 20) <= 3600);
  free(line);
  raw_close(r);

  start = mono_ms();
  r = open_stream(&e, "user-a", 3, body, NULL, 0);
  free(raw_line_with(r, "checkpoint_complete"));
  for (;;) {
    line = raw_line(r, WAIT_MS);
    assert_non_null(line);
    assert_true(strncmp(line, "{\"token_expires_in\":", 20) == 0);
    assert_true(atoi(line + 20) >= 0 && atoi(line + 20) <= 3);
    if (strcmp(line, "{\"token_expires_in\":0}") == 0)
      break;
    free(line);
  }
  free(line);
  assert_true(raw_wait_done(r, WAIT_MS));
  assert_int_equal(r->result, CURLE_OK); /* A clean end. */
  assert_true(mono_ms() - start < 6000);
  raw_close(r);

  memset(&jwt, 0, sizeof(jwt));
  jwt.secret = "powersync-dev-secret";
  jwt.secret_len = strlen(jwt.secret);
  jwt.kid = "powersync-dev";
  jwt.audiences = audiences;
  jwt.audience_count = 1;
  now = (int64_t)time(NULL);
  token =
      psd_jwt_sign(&jwt, "user-a", now - 30, now - 5, "powersync-dev", NULL);
  url_of(&e, "/sync/stream", url, sizeof(url));
  r = raw_open("POST", url, token, body, NULL, 0);
  line = raw_line(r, WAIT_MS);
  assert_string_equal(line, "{\"token_expires_in\":0}");
  free(line);
  assert_true(raw_wait_done(r, WAIT_MS));
  assert_int_equal(r->len, r->pos);
  raw_close(r);
  free(token);
  server_stop(&e);
}

/* The warning comes 20 s before the expiry, like the service's. */
static void expiry_warning(void **state) {
  struct server_env e;
  struct psd_server_options o = test_options();
  char body[256], *line;
  struct raw *r;
  int64_t start;
  (void)state;
  o.keepalive_s = 60;
  server_start(&e, "warning", NULL, SEED, &o);
  stream_body(body, sizeof(body), "warning", NULL);
  start = mono_ms();
  r = open_stream(&e, "user-a", 22, body, NULL, 0);
  free(raw_line_with(r, "checkpoint_complete"));
  line = raw_line(r, WAIT_MS);
  assert_string_equal(line, "{\"token_expires_in\":20}");
  assert_true(mono_ms() - start >= 900);
  free(line);
  raw_close(r);
  server_stop(&e);
}

/* Stopping the server ends open streams at once. */
static void stop_ends_raw_streams(void **state) {
  struct server_env e;
  char body[256];
  struct raw *r;
  int64_t start;
  (void)state;
  server_start(&e, "stop_raw", NULL, SEED, NULL);
  stream_body(body, sizeof(body), "stop", NULL);
  r = open_stream(&e, "user-a", 0, body, NULL, 0);
  free(raw_line_with(r, "checkpoint_complete"));
  start = mono_ms();
  server_stop(&e);
  assert_true(mono_ms() - start < 2000);
  assert_true(raw_wait_done(r, 2000));
  raw_close(r);
}

/* --- The SDK against the dev server -----------------------------------------
 */

static const char TODOS_OF_A[] =
    "SELECT count(*) FROM todos WHERE created_by = 'user-a'";

/* A user sees their own todos and every list, nothing of other users. */
static void sdk_initial_sync_is_scoped(void **state) {
  struct server_env e;
  struct client a, b;
  (void)state;
  server_start(&e, "sdk_scope", NULL, SEED, NULL);
  client_open(&a, "scope_a", &e, "user-a", 0);
  client_open(&b, "scope_b", &e, "user-b", 0);
  client_connect(&a, POWERSYNC_SYNC_FORMAT_BSON, 1);
  client_connect(&b, POWERSYNC_SYNC_FORMAT_NDJSON, 0);
  wait_first_sync(&a);
  wait_first_sync(&b);
  assert_int_equal(client_int(&a, "SELECT count(*) FROM lists"), 2);
  assert_int_equal(client_int(&a, "SELECT count(*) FROM todos"), 2);
  assert_int_equal(client_int(&a, TODOS_OF_A), 2);
  assert_int_equal(
      client_int(
          &a,
          "SELECT count(*) FROM todos WHERE id = '" TODO_A(
              1) "' AND "
                 "description = 'Buy milk' AND priority = 1 AND score = 1.5"),
      1);
  assert_int_equal(client_int(&b, "SELECT count(*) FROM lists"), 2);
  assert_int_equal(client_int(&b, "SELECT count(*) FROM todos"), 1);
  assert_int_equal(
      client_int(&b, "SELECT count(*) FROM todos WHERE created_by = 'user-b'"),
      1);
  client_close(&a);
  client_close(&b);
  server_stop(&e);
}

/* Inserts, updates and deletes made in the source by another connection
 * reach the client. */
static void sdk_sees_source_changes(void **state) {
  struct server_env e;
  struct client a;
  (void)state;
  server_start(&e, "sdk_live", NULL, SEED, NULL);
  client_open(&a, "live_a", &e, "user-a", 0);
  client_connect(&a, POWERSYNC_SYNC_FORMAT_BSON, 1);
  wait_first_sync(&a);
  source_exec(e.source, "INSERT INTO todos(id, description, created_by) VALUES "
                        "('live-1', 'from the backend', 'user-a');"
                        "INSERT INTO todos(id, description, created_by) VALUES "
                        "('live-2', 'not for user-a', 'user-b');");
  wait_client_int(&a,
                  "SELECT count(*) FROM todos WHERE id = 'live-1' AND "
                  "description = 'from the backend'",
                  1, "an inserted row");
  source_exec(e.source,
              "UPDATE todos SET description = 'changed' WHERE id = 'live-1';");
  wait_client_int(&a,
                  "SELECT count(*) FROM todos WHERE id = 'live-1' AND "
                  "description = 'changed'",
                  1, "an updated row");
  source_exec(e.source, "DELETE FROM todos WHERE id = '" TODO_A(
                            2) "';"
                               "DELETE FROM lists WHERE id = '" LIST_2 "';");
  wait_client_int(&a, "SELECT count(*) FROM todos", 2, "a deleted todo");
  wait_client_int(&a, "SELECT count(*) FROM lists", 1, "a deleted list");
  assert_int_equal(client_int(&a, "SELECT count(*) FROM todos WHERE id = "
                                  "'live-2'"),
                   0);
  client_close(&a);
  server_stop(&e);
}

/* A local write is uploaded, applied to the source, and synced back under
 * a write checkpoint; later backend changes to it arrive too. */
static void sdk_upload_round_trip(void **state) {
  struct server_env e;
  struct client a;
  int64_t deadline;
  (void)state;
  server_start(&e, "sdk_upload", NULL, SEED, NULL);
  client_open(&a, "upload_a", &e, "user-a", 0);
  client_connect(&a, POWERSYNC_SYNC_FORMAT_BSON, 1);
  wait_first_sync(&a);
  client_exec(&a,
              "INSERT INTO todos(id, description, created_by, list_id) "
              "VALUES ('local-1', 'written offline', 'user-a', '" LIST_1 "')");
  wait_client_int(&a, "SELECT count(*) FROM ps_crud", 0, "the upload");
  deadline = mono_ms() + WAIT_MS;
  while (source_int(e.source,
                    "SELECT count(*) FROM todos WHERE id = "
                    "'local-1' AND description = 'written offline'") != 1 &&
         mono_ms() < deadline)
    sleep_ms(10);
  assert_int_equal(source_int(e.source, "SELECT count(*) FROM todos WHERE id = "
                                        "'local-1'"),
                   1);
  /* Synced back: the row is now server data (in the oplog), unchanged. */
  wait_client_int(&a, "SELECT count(*) FROM ps_oplog WHERE row_id = 'local-1'",
                  1, "the uploaded row synced back");
  assert_int_equal(client_int(&a, "SELECT count(*) FROM todos WHERE id = "
                                  "'local-1' AND description = "
                                  "'written offline'"),
                   1);
  wait_log(&e, "GET /write-checkpoint2.json 200 user=user-a ");
  wait_log(&e, "POST /api/data 200 user=user-a ");
  source_exec(e.source, "UPDATE todos SET completed = 1 WHERE id = 'local-1';");
  wait_client_int(&a,
                  "SELECT count(*) FROM todos WHERE id = 'local-1' AND "
                  "completed = 1",
                  1, "a backend change to an uploaded row");
  client_close(&a);
  server_stop(&e);
}

/* Two clients of the same user converge through the server. */
static void sdk_two_clients_converge(void **state) {
  struct server_env e;
  struct client a, b;
  (void)state;
  server_start(&e, "sdk_two", NULL, SEED, NULL);
  client_open(&a, "two_a", &e, "user-a", 0);
  client_open(&b, "two_b", &e, "user-a", 0);
  client_connect(&a, POWERSYNC_SYNC_FORMAT_BSON, 1);
  client_connect(&b, POWERSYNC_SYNC_FORMAT_NDJSON, 0);
  wait_first_sync(&a);
  wait_first_sync(&b);
  client_exec(&a, "INSERT INTO todos(id, description, created_by) VALUES "
                  "('from-a', 'hello from a', 'user-a')");
  wait_client_int(&b,
                  "SELECT count(*) FROM todos WHERE id = 'from-a' AND "
                  "description = 'hello from a'",
                  1, "a's write on b");
  client_exec(&b, "UPDATE todos SET description = 'b was here' WHERE id = "
                  "'from-a'");
  client_exec(&b, "DELETE FROM todos WHERE id = '" TODO_A(2) "'");
  wait_client_int(&a,
                  "SELECT count(*) FROM todos WHERE id = 'from-a' AND "
                  "description = 'b was here'",
                  1, "b's update on a");
  wait_client_int(&a, TODOS_OF_A, 2, "b's delete on a");
  wait_client_int(&b, "SELECT count(*) FROM ps_crud", 0, "b's upload");
  wait_client_int(&b, TODOS_OF_A, 2, "b's own state");
  client_close(&a);
  client_close(&b);
  server_stop(&e);
}

/* Every format the SDK can ask for. */
static void sdk_every_format(void **state) {
  static const struct {
    powersync_sync_format format;
    int gzip;
  } cases[] = {{POWERSYNC_SYNC_FORMAT_BSON, 1},
               {POWERSYNC_SYNC_FORMAT_BSON, 0},
               {POWERSYNC_SYNC_FORMAT_NDJSON, 1},
               {POWERSYNC_SYNC_FORMAT_NDJSON, 0}};
  struct server_env e;
  size_t i;
  (void)state;
  server_start(&e, "sdk_formats", NULL, SEED, NULL);
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct client c;
    char name[32], sql[256];
    snprintf(name, sizeof(name), "formats_%zu", i);
    client_open(&c, name, &e, "user-a", 0);
    client_connect(&c, cases[i].format, cases[i].gzip);
    wait_first_sync(&c);
    assert_int_equal(client_int(&c, TODOS_OF_A), 2 + (int64_t)i);
    snprintf(sql, sizeof(sql),
             "INSERT INTO todos(id, description, created_by) VALUES "
             "('fmt-%zu', 'format %zu', 'user-a');",
             i, i);
    source_exec(e.source, sql);
    wait_client_int(&c, TODOS_OF_A, 3 + (int64_t)i, "a live change");
    client_close(&c);
  }
  server_stop(&e);
}

/* Tokens that live 3 s: the client prefetches when warned, the stream
 * ends at expiry, and syncing goes on with new tokens. */
static void sdk_short_lived_tokens(void **state) {
  struct server_env e;
  struct client a;
  int fetches;
  (void)state;
  server_start(&e, "sdk_tokens", NULL, SEED, NULL);
  client_open(&a, "tokens_a", &e, "user-a", 3);
  client_connect(&a, POWERSYNC_SYNC_FORMAT_BSON, 1);
  wait_first_sync(&a);
  sleep_ms(7000); /* At least two expiries. */
  source_exec(e.source, "INSERT INTO todos(id, description, created_by) VALUES "
                        "('after-expiry', 'still syncing', 'user-a');");
  wait_client_int(&a, "SELECT count(*) FROM todos WHERE id = 'after-expiry'", 1,
                  "a change after the token expired");
  fetches = dev_connector_fetches(&a.conn);
  assert_true(fetches >= 3);
  client_close(&a);
  server_stop(&e);
}

/* psd_server_stop under a connected client is prompt, and the client
 * notices. */
static void sdk_server_stop_is_prompt(void **state) {
  struct server_env e;
  struct client a;
  int64_t start;
  powersync_sync_status *s = NULL;
  int connected = 1;
  (void)state;
  server_start(&e, "sdk_stop", NULL, SEED, NULL);
  client_open(&a, "stop_a", &e, "user-a", 0);
  client_connect(&a, POWERSYNC_SYNC_FORMAT_BSON, 1);
  wait_first_sync(&a);
  client_forget_server(&a);
  start = mono_ms();
  server_stop(&e);
  assert_true(mono_ms() - start < 2000);
  start = mono_ms();
  while (connected && mono_ms() - start < WAIT_MS) {
    ASSERT_PS_OK(powersync_db_sync_status(a.db, &s));
    connected = powersync_sync_status_connected(s);
    powersync_sync_status_free(s);
    sleep_ms(20);
  }
  assert_false(connected);
  client_close(&a);
}

/* --- The executable ---------------------------------------------------------
 */

static int devserver_path(char *out, size_t size) {
  const char *bin = getenv("PS_TOOLS_BIN");
  snprintf(out, size, "%s/powersync-devserver", bin ? bin : ".");
  return access(out, X_OK) == 0;
}

/* Starts argv with stdout and stderr on pipes. */
static pid_t spawn(char *const argv[], int *out_fd, int *err_fd) {
  int out[2], err[2];
  pid_t pid;
  assert_int_equal(pipe(out), 0);
  assert_int_equal(pipe(err), 0);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]);
    close(err[0]);
    execv(argv[0], argv);
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  *out_fd = out[0];
  *err_fd = err[0];
  return pid;
}

/* Reads fd until it holds fragment, EOF or timeout; returns what was
 * read (static buffer per call site: caller copies). */
static void read_until(int fd, const char *fragment, char *buf, size_t size,
                       int timeout_ms) {
  size_t used = strlen(buf);
  int64_t deadline = mono_ms() + timeout_ms;
  while (used + 1 < size && !strstr(buf, fragment) && mono_ms() < deadline) {
    struct pollfd p = {fd, POLLIN, 0};
    ssize_t n;
    if (poll(&p, 1, 50) <= 0)
      continue;
    n = read(fd, buf + used, size - used - 1);
    if (n <= 0)
      break;
    used += (size_t)n;
    buf[used] = '\0';
  }
}

/* Waits for the child; returns its exit status, or -1 (killed) on
 * timeout. */
static int wait_exit(pid_t pid, int timeout_ms) {
  int64_t deadline = mono_ms() + timeout_ms;
  int status = 0;
  while (mono_ms() < deadline) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    sleep_ms(20);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

/* Runs argv to its end; returns the exit status and its stderr in err. */
static int run(char *const argv[], char *out, char *err, size_t size) {
  int out_fd, err_fd, status;
  pid_t pid = spawn(argv, &out_fd, &err_fd);
  out[0] = err[0] = '\0';
  read_until(out_fd, "\x01", out, size, WAIT_MS);
  read_until(err_fd, "\x01", err, size, WAIT_MS);
  status = wait_exit(pid, WAIT_MS);
  close(out_fd);
  close(err_fd);
  return status;
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void executable(void **state) {
  char bin[1024], db[1024], cfg[1100], bad[1100], out[8192], err[8192];
  char port[16], url[256], *resp;
  int out_fd, err_fd;
  pid_t pid;
  (void)state;
  if (!devserver_path(bin, sizeof(bin))) {
    fprintf(stderr, "skipping: no %s\n", bin);
    skip();
  }
  snprintf(db, sizeof(db), "%s", th_db_path("exe_source"));
  source_exec(db, SOURCE_SCHEMA);
  source_exec(db, SEED);
  snprintf(cfg, sizeof(cfg), "%s.yaml", db);
  write_file(cfg, CONFIG_YAML);
  snprintf(bad, sizeof(bad), "%s.bad.yaml", db);
  write_file(bad, "bucket_definitions:\n  global:\n    data:\n"
                  "      - SELECT * FROM no_such_table\n");

  {
    char *argv[] = {bin, "--bogus", NULL};
    assert_int_equal(run(argv, out, err, sizeof(out)), 2);
    assert_non_null(strstr(err, "--bogus"));
  }
  {
    char *argv[] = {bin, "--db", db, NULL};
    assert_int_equal(run(argv, out, err, sizeof(out)), 2);
  }
  {
    char *argv[] = {bin, "--db", db, "--config", "/no/such/file.yaml", NULL};
    assert_int_equal(run(argv, out, err, sizeof(out)), 2);
    assert_non_null(strstr(err, "/no/such/file.yaml"));
  }
  {
    char *argv[] = {bin, "--db", db, "--config", bad, "--port", "0", NULL};
    assert_int_equal(run(argv, out, err, sizeof(out)), 2);
    assert_non_null(strstr(err, "line"));
  }
  {
    char *argv[] = {bin, "--db", db, "--config", cfg, "--port", "99999", NULL};
    assert_int_equal(run(argv, out, err, sizeof(out)), 2);
  }
  {
    char *argv[] = {bin, "token", "--user", "user-a", NULL};
    assert_int_equal(run(argv, out, err, sizeof(out)), 0);
    assert_non_null(strchr(out, '.'));
  }
  {
    char *argv[] = {bin, "--db", db, "--config", cfg, "--port", "0", NULL};
    char *p;
    pid = spawn(argv, &out_fd, &err_fd);
    out[0] = '\0';
    read_until(out_fd, "\n", out, sizeof(out), WAIT_MS);
    p = strstr(out, "powersync-devserver listening on http://127.0.0.1:");
    assert_non_null(p);
    snprintf(port, sizeof(port), "%.*s", (int)strcspn(p + 50, "\n"), p + 50);
  }
  snprintf(url, sizeof(url), "http://127.0.0.1:%s/api/auth/token?user_id=u",
           port);
  assert_int_equal(http("GET", url, NULL, NULL, &resp, NULL, 0), 200);
  free(resp);
  {
    char *argv[] = {bin, "--db", db, "--config", cfg, "--port", port, NULL};
    assert_int_equal(run(argv, out, err, sizeof(out)), 2);
    assert_non_null(strstr(err, "in use"));
  }
  kill(pid, SIGTERM);
  assert_int_equal(wait_exit(pid, WAIT_MS), 0);
  err[0] = '\0';
  read_until(err_fd, "\x01", err, sizeof(err), 2000);
  assert_non_null(strstr(err, "GET /api/auth/token 200 user=- "));
  close(out_fd);
  close(err_fd);
  {
    char *argv[] = {bin, "compact", "--db", db, "--config", cfg, NULL};
    assert_int_equal(run(argv, out, err, sizeof(out)), 0);
  }
}

/* Hundreds of concurrent streams: every one gets its first checkpoint, a
 * single source change reaches all of them, and stopping the server ends
 * them all. */
#define MANY_STREAMS 300

/* Reads what each unfinished stream has until every one has shown a line
 * containing fragment; fails after WAIT_MS * 3. */
static void wait_all_streams(struct raw **r, size_t n, const char *fragment) {
  unsigned char seen[MANY_STREAMS] = {0};
  size_t left = n, i;
  int64_t deadline = mono_ms() + WAIT_MS * 3;
  while (left > 0) {
    if (mono_ms() > deadline) {
      fprintf(stderr, "%zu of %zu streams without %s\n", left, n, fragment);
      fail();
    }
    for (i = 0; i < n; i++) {
      char *line;
      if (seen[i])
        continue;
      raw_pump(r[i], 0);
      while (!seen[i] && (line = raw_line(r[i], 0)) != NULL) {
        if (strstr(line, fragment)) {
          seen[i] = 1;
          left--;
        }
        free(line);
      }
    }
    sleep_ms(5);
  }
}

static void many_concurrent_streams(void **state) {
  static struct raw *r[MANY_STREAMS];
  struct server_env e;
  char body[256];
  size_t i;
  int64_t started;
  (void)state;
  server_start(&e, "many", NULL, SEED, NULL);
  for (i = 0; i < MANY_STREAMS; i++) {
    char client[32];
    snprintf(client, sizeof(client), "many-%zu", i);
    stream_body(body, sizeof(body), client, NULL);
    r[i] = open_stream(&e, i % 2 ? "user-a" : "user-b", 0, body, NULL, 0);
  }
  wait_all_streams(r, MANY_STREAMS, "checkpoint_complete");
  for (i = 0; i < MANY_STREAMS; i++)
    assert_int_equal(r[i]->status, 200);
  source_exec(e.source, "INSERT INTO lists(id, name, owner_id) VALUES "
                        "('many-list', 'for everyone', NULL)");
  wait_all_streams(r, MANY_STREAMS, "checkpoint_diff");
  started = mono_ms();
  server_stop(&e);
  assert_true(mono_ms() - started < WAIT_MS);
  for (i = 0; i < MANY_STREAMS; i++) {
    assert_true(raw_wait_done(r[i], WAIT_MS));
    raw_close(r[i]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(negotiation),
      cmocka_unit_test(matches_service_transcripts),
      cmocka_unit_test(data_is_paged),
      cmocka_unit_test(priorities_in_order),
      cmocka_unit_test(bucket_set_changes),
      cmocka_unit_test(sync_streams),
      cmocka_unit_test(bson_and_gzip_framing),
      cmocka_unit_test(resume_from_positions),
      cmocka_unit_test(unauthorized_and_bad_requests),
      cmocka_unit_test(other_routes),
      cmocka_unit_test(keepalive_and_expiry),
      cmocka_unit_test(expiry_warning),
      cmocka_unit_test(stop_ends_raw_streams),
      cmocka_unit_test(sdk_initial_sync_is_scoped),
      cmocka_unit_test(sdk_sees_source_changes),
      cmocka_unit_test(sdk_upload_round_trip),
      cmocka_unit_test(sdk_two_clients_converge),
      cmocka_unit_test(sdk_every_format),
      cmocka_unit_test(sdk_short_lived_tokens),
      cmocka_unit_test(sdk_server_stop_is_prompt),
      cmocka_unit_test(many_concurrent_streams),
      cmocka_unit_test(executable),
  };
  int rc;
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
