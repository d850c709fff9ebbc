/*
 * test_cli.c: runs the built `powersync` tool ($PS_TOOLS_BIN/powersync) as
 * a separate process, the way people and scripts use it, against the
 * scripted mock service (tests/sdk/mock_service.h) and, for uploads, a tiny
 * HTTP receiver in this file (the mock answers unknown routes 404).
 *
 * Covered: `sync --until-synced` downloads served rows and sends the token;
 * --bson asks for BSON; --token-command (plain and JSON output, failing);
 * `exec` queues a write that `pending` lists and `sync --upload-url`
 * uploads (or leaves queued when the backend says 404); `query` as a table
 * and as JSON; `status` after a sync; --follow until SIGTERM; and the
 * errors: bad schema file, unreachable service, rejected token, malformed
 * endpoint, wrong endpoint path, usage errors. One round trip runs against
 * the real dev server (psdev): download, local write, upload, download of
 * the uploaded row.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "db_test_helpers.h"
#include "server.h"
#include "sync_test_helpers.h"

extern char **environ;

#define WAIT_MS  20000
#define OUT_SIZE 65536
#define TOKEN_401                                                              \
  "{\"error\":{\"code\":\"PSYNC_S2103\",\"status\":401,"                       \
  "\"description\":\"JWT has expired\"}}"

/* ---- Running the tool ----------------------------------------------------
 */

struct child {
  pid_t pid;
  int out_fd, err_fd;
  size_t out_len, err_len;
  char out[OUT_SIZE];
  char err[OUT_SIZE];
  int exit_code; /* -1: killed by a signal. */
};

/* The child of the running test, so that a failed assertion (which
 * leaves the test early) cannot leave it running: see kill_leftover. */
static pid_t g_child_pid;

static const char *cli_path(void) {
  static char path[1024];
  const char *dir = getenv("PS_TOOLS_BIN");
  snprintf(path, sizeof(path), "%s/powersync", dir && *dir ? dir : ".");
  return path;
}

static void child_start(struct child *c, const char *const *args) {
  posix_spawn_file_actions_t fa;
  const char *argv[64];
  int out[2], err[2];
  size_t n = 0;
  memset(c, 0, sizeof(*c));
  argv[n++] = cli_path();
  while (*args && n < 63)
    argv[n++] = *args++;
  argv[n] = NULL;
  assert_int_equal(pipe(out), 0);
  assert_int_equal(pipe(err), 0);
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  posix_spawn_file_actions_addclose(&fa, err[0]);
  assert_int_equal(
      posix_spawn(&c->pid, argv[0], &fa, NULL, (char **)argv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  g_child_pid = c->pid;
  close(out[1]);
  close(err[1]);
  c->out_fd = out[0];
  c->err_fd = err[0];
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads what is available from one pipe; closes it at EOF. */
static void drain(int *fd, char *buf, size_t *len) {
  ssize_t n;
  if (*len + 1 >= OUT_SIZE) {
    char sink[4096];
    n = read(*fd, sink, sizeof(sink));
  } else {
    n = read(*fd, buf + *len, OUT_SIZE - 1 - *len);
    if (n > 0) {
      *len += (size_t)n;
      buf[*len] = '\0';
    }
  }
  if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
    close(*fd);
    *fd = -1;
  }
}

/* Collects output until both pipes end, needle appears on stderr (when
 * given), or timeout_ms passes. Returns 1 when the condition was met. */
static int child_read(struct child *c, const char *needle, int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  while (c->out_fd >= 0 || c->err_fd >= 0) {
    struct pollfd p[2] = {{c->out_fd, POLLIN, 0}, {c->err_fd, POLLIN, 0}};
    int64_t left = deadline - now_ms();
    if (needle && strstr(c->err, needle))
      return 1;
    if (left <= 0 || poll(p, 2, (int)left) <= 0)
      return 0;
    if (p[0].revents && c->out_fd >= 0)
      drain(&c->out_fd, c->out, &c->out_len);
    if (p[1].revents && c->err_fd >= 0)
      drain(&c->err_fd, c->err, &c->err_len);
  }
  return needle ? strstr(c->err, needle) != NULL : 1;
}

static int count_of(const char *haystack, const char *needle) {
  int n = 0;
  while ((haystack = strstr(haystack, needle)) != NULL) {
    n++;
    haystack += strlen(needle);
  }
  return n;
}

/* Collects output until needle appeared n times on stderr. */
static int child_wait_count(struct child *c, const char *needle, int n,
                            int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  while (count_of(c->err, needle) < n && now_ms() < deadline &&
         (c->out_fd >= 0 || c->err_fd >= 0))
    child_read(c, "\n\n\n", 50); /* Never printed: reads for 50 ms. */
  if (count_of(c->err, needle) >= n)
    return 1;
  fprintf(stderr, "wanted \"%s\" %d times; stderr so far:\n%s", needle, n,
          c->err);
  return 0;
}

/* Waits for the exit (killing a hung child) and returns the exit code. */
static int child_finish(struct child *c) {
  int status = 0;
  if (!child_read(c, NULL, WAIT_MS)) {
    fprintf(stderr, "powersync did not finish; killing it\n");
    kill(c->pid, SIGKILL);
  }
  if (c->out_fd >= 0)
    close(c->out_fd);
  if (c->err_fd >= 0)
    close(c->err_fd);
  assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
  g_child_pid = 0;
  c->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  fprintf(stderr, "--- exit %d\n--- stdout:\n%s--- stderr:\n%s", c->exit_code,
          c->out, c->err);
  return c->exit_code;
}

/* Runs the tool to its end. */
static int run(struct child *c, const char *const *args) {
  child_start(c, args);
  return child_finish(c);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- Fixtures ------------------------------------------------------------
 */

static const char SCHEMA_JSON[] =
    "{\"tables\":[{\"name\":\"todos\",\"columns\":["
    "{\"name\":\"description\",\"type\":\"text\"},"
    "{\"name\":\"done\",\"type\":\"integer\"}]}]}";

/* Writes text to a file of the scratch directory; returns its path
 * (static buffer per slot). */
static const char *scratch_file(int slot, const char *name, const char *text) {
  static char paths[4][1024];
  const char *dir = getenv("PS_TEST_DIR");
  FILE *f;
  snprintf(paths[slot], sizeof(paths[slot]), "%s/%s", dir && *dir ? dir : ".",
           name);
  f = fopen(paths[slot], "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return paths[slot];
}

static const char *schema_file(void) {
  return scratch_file(0, "schema.json", SCHEMA_JSON);
}

/* A fresh database path (copied into buf). */
static const char *fresh_db(char *buf, size_t size, const char *name) {
  snprintf(buf, size, "%s", th_db_path(name));
  return buf;
}

/* A fresh database that already has the todos schema. */
static const char *db_with_schema(char *buf, size_t size, const char *name) {
  powersync_db *db;
  fresh_db(buf, size, name);
  db = th_open_db(buf, NULL);
  ASSERT_PS_OK(powersync_db_close(db));
  return buf;
}

/* Serves one complete sync of two todos (id1, id2: "served"). When
 * write_checkpoint is given, the checkpoint carries it. */
static void serve_sync(mock_stream *s, const char *write_checkpoint) {
  struct timespec pause = {0, 200 * 1000000L};
  char line[512];
  assert_int_equal(mock_stream_begin(s, "application/x-ndjson", 0), 0);
  snprintf(line, sizeof(line),
           "{\"checkpoint\":{\"last_op_id\":\"2\",\"write_checkpoint\":%s%s%s,"
           "\"buckets\":[{\"bucket\":\"b\",\"checksum\":2,\"count\":2,"
           "\"priority\":3}]}}",
           write_checkpoint ? "\"" : "",
           write_checkpoint ? write_checkpoint : "null",
           write_checkpoint ? "\"" : "");
  assert_int_equal(mock_stream_send_line(s, line), 0);
  nanosleep(&pause, NULL); /* Lets the client report 0 % first. */
  st_send(s, st_data_puts("b", 1, 2, 1, "served"));
  st_send(s, st_checkpoint_complete("2"));
}

/* Serves the same checkpoint again to a client that has its data: a
 * checkpoint and its completion, nothing to download. */
static void serve_resync(mock_stream *s) {
  assert_int_equal(mock_stream_begin(s, "application/x-ndjson", 0), 0);
  st_send(s, st_checkpoint("2", "b", 2, 2, 3));
  st_send(s, st_checkpoint_complete("2"));
}

static void assert_contains(const char *haystack, const char *needle) {
  if (!strstr(haystack, needle)) {
    fprintf(stderr, "expected to find \"%s\"\n", needle);
    fail();
  }
}

/* ---- A tiny upload receiver ----------------------------------------------
 */

struct receiver {
  int fd;
  int port;
  pthread_t thread;
  atomic_int stop;
  pthread_mutex_t mu;
  int status;       /* Answer status. */
  int count;        /* Requests received. */
  char target[256]; /* Of the last request. */
  char auth[512];   /* Its Authorization header. */
  char type[128];   /* Its Content-Type header. */
  char body[16384]; /* Its body. */
  char url[128];
};

/* Copies the value of header name from the request head. */
static void header_value(const char *head, const char *name, char *out,
                         size_t size) {
  const char *p = head;
  size_t n = strlen(name);
  out[0] = '\0';
  while ((p = strstr(p, "\r\n")) != NULL) {
    p += 2;
    if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
      const char *v = p + n + 1, *end = strstr(v, "\r\n");
      while (*v == ' ')
        v++;
      snprintf(out, size, "%.*s", (int)(end ? end - v : (long)strlen(v)), v);
      return;
    }
  }
}

static void receiver_serve(struct receiver *r, int fd) {
  char req[20000], len_text[32], response[256];
  size_t len = 0, need = 0;
  const char *head_end = NULL;
  static const char BODY[] = "{\"ok\":true}";
  while (len + 1 < sizeof(req)) {
    ssize_t n = read(fd, req + len, sizeof(req) - 1 - len);
    if (n <= 0)
      break;
    len += (size_t)n;
    req[len] = '\0';
    if (!head_end && (head_end = strstr(req, "\r\n\r\n")) != NULL) {
      header_value(req, "Content-Length", len_text, sizeof(len_text));
      need = (size_t)(head_end + 4 - req) + (size_t)atol(len_text);
    }
    if (head_end && len >= need)
      break;
  }
  if (!head_end)
    return;
  pthread_mutex_lock(&r->mu);
  r->count++;
  sscanf(req, "%*s %255s", r->target);
  header_value(req, "Authorization", r->auth, sizeof(r->auth));
  header_value(req, "Content-Type", r->type, sizeof(r->type));
  snprintf(r->body, sizeof(r->body), "%s", head_end + 4);
  snprintf(response, sizeof(response),
           "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
           "Content-Length: %zu\r\nConnection: close\r\n\r\n",
           r->status, strlen(BODY));
  pthread_mutex_unlock(&r->mu);
  if (write(fd, response, strlen(response)) < 0 ||
      write(fd, BODY, strlen(BODY)) < 0)
    return;
}

static void *receiver_main(void *arg) {
  struct receiver *r = arg;
  while (!atomic_load(&r->stop)) {
    struct pollfd p = {r->fd, POLLIN, 0};
    int fd;
    if (poll(&p, 1, 50) <= 0)
      continue;
    fd = accept(r->fd, NULL, NULL);
    if (fd < 0)
      continue;
    receiver_serve(r, fd);
    close(fd);
  }
  return NULL;
}

static void receiver_start(struct receiver *r, int status) {
  struct sockaddr_in addr;
  socklen_t addr_len = sizeof(addr);
  memset(r, 0, sizeof(*r));
  r->status = status;
  pthread_mutex_init(&r->mu, NULL);
  r->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(r->fd >= 0);
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(r->fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
  assert_int_equal(listen(r->fd, 8), 0);
  assert_int_equal(getsockname(r->fd, (struct sockaddr *)&addr, &addr_len), 0);
  r->port = ntohs(addr.sin_port);
  snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d/api/data", r->port);
  assert_int_equal(pthread_create(&r->thread, NULL, receiver_main, r), 0);
}

static void receiver_stop(struct receiver *r) {
  atomic_store(&r->stop, 1);
  pthread_join(r->thread, NULL);
  close(r->fd);
  pthread_mutex_destroy(&r->mu);
}

/* ---- sync ----------------------------------------------------------------
 */

static void sync_until_synced_downloads_rows(void **state) {
  mock_service *ms = mock_service_start();
  mock_stream *s;
  struct child c, q;
  char db[1024];
  (void)state;
  assert_non_null(ms);
  fresh_db(db, sizeof(db), "cli_sync");
  child_start(&c,
              ARGS("sync", "--db", db, "--schema", schema_file(), "--endpoint",
                   mock_service_url(ms), "--token", "tok-1", "--until-synced",
                   "--timeout", "30", "--progress", "lines"));
  s = mock_service_next_stream(ms, WAIT_MS);
  assert_non_null(s);
  assert_string_equal(mock_stream_header(s, "Authorization"), "Token tok-1");
  assert_contains(mock_stream_header(s, "Accept"), "application/x-ndjson");
  assert_null(strstr(mock_stream_header(s, "Accept"), "bson"));
  serve_sync(s, NULL);
  assert_int_equal(child_finish(&c), 0);
  assert_contains(c.err, "connecting to http://127.0.0.1:");
  assert_contains(c.err, "connected\n");
  assert_contains(c.err, "downloading 0/2 (0%)\n");
  assert_contains(c.err, "synced at 20");
  mock_stream_free(s);
  mock_service_stop(ms);

  assert_int_equal(
      run(&q, ARGS("query", "--db", db, "--json",
                   "SELECT id, description, done FROM todos ORDER BY id")),
      0);
  assert_string_equal(
      q.out, "[\n"
             "  {\"id\":\"id1\",\"description\":\"served\",\"done\":0},\n"
             "  {\"id\":\"id2\",\"description\":\"served\",\"done\":0}\n"
             "]\n");

  assert_int_equal(run(&q, ARGS("status", "--db", db)), 0);
  assert_contains(q.out, "connected:        no (offline)\n");
  assert_contains(q.out, "has synced:       yes\n");
  assert_contains(q.out, "last synced at:   20");
  assert_contains(q.out, "buckets:          1\n");
  assert_contains(q.out, "  bucket  ops  last_op  bytes\n");
  assert_contains(q.out, "  b         2        2");
  assert_contains(q.out, "pending uploads:  0 (0 bytes)\n");

  assert_int_equal(run(&q, ARGS("status", "--db", db, "--json")), 0);
  assert_contains(q.out, "\"has_synced\":true");
  assert_contains(q.out, "{\"bucket\":\"b\",\"ops\":2,\"last_op\":2");
  assert_contains(q.out, "\"pending_uploads\":{\"count\":0,");
}

static void sync_bson_sets_accept_header(void **state) {
  mock_service *ms = mock_service_start();
  mock_stream *s;
  struct child c;
  char db[1024];
  (void)state;
  fresh_db(db, sizeof(db), "cli_bson");
  child_start(&c, ARGS("sync", "--db", db, "--schema", schema_file(),
                       "--endpoint", mock_service_url(ms), "--token", "t",
                       "--bson", "--timeout", "30", "--progress", "none"));
  s = mock_service_next_stream(ms, WAIT_MS);
  assert_non_null(s);
  assert_contains(mock_stream_header(s, "Accept"),
                  "application/vnd.powersync.bson-stream");
  serve_sync(s, NULL); /* NDJSON answers are accepted either way. */
  assert_int_equal(child_finish(&c), 0);
  assert_string_equal(c.err, ""); /* --progress none */
  mock_stream_free(s);
  mock_service_stop(ms);
}

static void sync_token_command(void **state) {
  mock_service *ms = mock_service_start();
  mock_stream *s;
  struct child c;
  char db[1024];
  (void)state;
  fresh_db(db, sizeof(db), "cli_token_cmd");
  child_start(&c, ARGS("sync", "--db", db, "--schema", schema_file(),
                       "--endpoint", mock_service_url(ms), "--token-command",
                       "echo '  tok-cmd  '", "--timeout", "30", "--progress",
                       "bar"));
  s = mock_service_next_stream(ms, WAIT_MS);
  assert_non_null(s);
  assert_string_equal(mock_stream_header(s, "Authorization"), "Token tok-cmd");
  serve_sync(s, NULL);
  assert_int_equal(child_finish(&c), 0);
  /* The bar: redrawn in place, cleared before event lines. */
  assert_contains(c.err, "\r\033[K[------------------------------]   0%  "
                         "0/2 ops");
  assert_contains(c.err, "\r\033[Ksynced at 20");
  mock_stream_free(s);

  /* JSON output (as the dev server's token endpoint answers). A second
   * sync of the same database ends with a newer sync. */
  child_start(&c, ARGS("sync", "--db", db, "--schema", schema_file(),
                       "--endpoint", mock_service_url(ms), "--token-command",
                       "printf '{\"token\": \"tok-json\", \"powersync_url\": "
                       "\"http://x\"}'",
                       "--timeout", "30"));
  s = mock_service_next_stream(ms, WAIT_MS);
  assert_non_null(s);
  assert_string_equal(mock_stream_header(s, "Authorization"), "Token tok-json");
  serve_resync(s);
  assert_int_equal(child_finish(&c), 0);
  assert_contains(c.err, "synced at");
  mock_stream_free(s);
  mock_service_stop(ms);
}

static void sync_failing_token_command(void **state) {
  mock_service *ms = mock_service_start();
  struct child c;
  char db[1024];
  (void)state;
  fresh_db(db, sizeof(db), "cli_token_fail");
  assert_int_equal(
      run(&c, ARGS("sync", "--db", db, "--schema", schema_file(), "--endpoint",
                   mock_service_url(ms), "--token-command", "exit 3",
                   "--retry-delay", "0.1", "--timeout", "30")),
      1);
  assert_contains(c.err,
                  "powersync: cannot get a token: token command 'exit 3' "
                  "exited with status 3\n");
  assert_int_equal(mock_service_stream_count(ms), 0);
  mock_service_stop(ms);
}

/* Runs `query --json` until its output contains expected (polling up to
 * WAIT_MS). */
static int wait_for_query(const char *db, const char *sql,
                          const char *expected) {
  int64_t deadline = now_ms() + WAIT_MS;
  struct timespec pause = {0, 100 * 1000000L};
  pid_t outer = g_child_pid; /* The caller's child keeps running. */
  int found = 0;
  do {
    struct child q;
    found = run(&q, ARGS("query", "--db", db, "--json", sql)) == 0 &&
            strstr(q.out, expected) != NULL;
    if (!found)
      nanosleep(&pause, NULL);
  } while (!found && now_ms() < deadline);
  g_child_pid = outer;
  return found;
}

static void sync_follow_until_sigterm(void **state) {
  mock_service *ms = mock_service_start();
  mock_stream *s;
  struct child c;
  char db[1024];
  (void)state;
  fresh_db(db, sizeof(db), "cli_follow");
  child_start(&c,
              ARGS("sync", "--db", db, "--schema", schema_file(), "--endpoint",
                   mock_service_url(ms), "--token", "t", "--follow"));
  s = mock_service_next_stream(ms, WAIT_MS);
  assert_non_null(s);
  serve_sync(s, NULL);
  assert_true(child_wait_count(&c, "synced at", 1, WAIT_MS));
  /* Still running: a later checkpoint is downloaded and applied (seen
   * through a second process reading the same database). */
  st_send(s, st_checkpoint("3", "b", 3, 3, 3));
  st_send(s, st_data_puts("b", 3, 1, 1, "later"));
  st_send(s, st_checkpoint_complete("3"));
  assert_true(
      wait_for_query(db, "SELECT count(*) AS n FROM todos", "{\"n\":3}"));
  kill(c.pid, SIGTERM);
  assert_int_equal(child_finish(&c), 0);
  mock_stream_free(s);
  mock_service_stop(ms);
}

/* ---- exec, pending, upload -------------------------------------------------
 */

static void exec_then_pending(void **state) {
  struct child c;
  char db[1024];
  (void)state;
  db_with_schema(db, sizeof(db), "cli_exec");
  assert_int_equal(run(&c, ARGS("exec", "--db", db,
                                "INSERT INTO todos (id, description, done) "
                                "VALUES (?, ?, ?)",
                                "row1", "from cli", "0")),
                   0);
  assert_string_equal(c.out, "1 write queued for upload (1 pending)\n");
  assert_int_equal(
      run(&c, ARGS("exec", "--db", db, "UPDATE todos SET done = ? WHERE id = ?",
                   "1", "row1")),
      0);
  assert_string_equal(c.out, "1 write queued for upload (2 pending)\n");

  assert_int_equal(run(&c, ARGS("pending", "--db", db)), 0);
  assert_contains(c.out, "id  tx  op     table  row_id  data");
  assert_contains(c.out, " 1   1  PUT    todos  row1    "
                         "{\"description\":\"from cli\",\"done\":0}\n");
  assert_contains(c.out, " 2   2  PATCH  todos  row1    {\"done\":1}\n");
  assert_contains(c.out, "(2 pending writes in 2 transactions)\n");

  assert_int_equal(run(&c, ARGS("pending", "--db", db, "--json")), 0);
  assert_string_equal(
      c.out, "[\n"
             "  {\"op_id\":1,\"op\":\"PUT\",\"type\":\"todos\",\"id\":"
             "\"row1\",\"tx_id\":1,\"data\":{\"description\":\"from cli\","
             "\"done\":0}},\n"
             "  {\"op_id\":2,\"op\":\"PATCH\",\"type\":\"todos\",\"id\":"
             "\"row1\",\"tx_id\":2,\"data\":{\"done\":1}}\n"
             "]\n");

  assert_int_equal(run(&c, ARGS("status", "--db", db)), 0);
  assert_contains(c.out, "pending uploads:  2 (");

  /* A statement that is not a write to a synced table. */
  assert_int_equal(run(&c, ARGS("exec", "--db", db,
                                "CREATE TABLE IF NOT EXISTS local_t (x)")),
                   0);
  assert_string_equal(c.out, "0 rows changed\n");
}

static void sync_uploads_pending_writes(void **state) {
  mock_service *ms = mock_service_start();
  struct receiver r;
  mock_stream *s;
  struct child c;
  char db[1024];
  (void)state;
  db_with_schema(db, sizeof(db), "cli_upload");
  assert_int_equal(run(&c, ARGS("exec", "--db", db,
                                "INSERT INTO todos (id, description, done) "
                                "VALUES ('row1', 'up', 0)")),
                   0);
  receiver_start(&r, 200);
  child_start(&c,
              ARGS("sync", "--db", db, "--schema", schema_file(), "--endpoint",
                   mock_service_url(ms), "--token", "tok-up", "--upload-url",
                   r.url, "--timeout", "30", "--retry-delay", "0.1"));
  s = mock_service_next_stream(ms, WAIT_MS);
  assert_non_null(s);
  /* The mock's write checkpoint is 10: the checkpoint applies once the
   * upload completed and the client installed it. */
  serve_sync(s, "10");
  assert_int_equal(child_finish(&c), 0);
  assert_contains(c.err, "uploaded 1 write\n");
  pthread_mutex_lock(&r.mu);
  assert_int_equal(r.count, 1);
  assert_string_equal(r.target, "/api/data");
  assert_string_equal(r.auth, "Token tok-up");
  assert_string_equal(r.type, "application/json");
  assert_string_equal(r.body,
                      "{\"batch\":[{\"op_id\":1,\"op\":\"PUT\",\"type\":"
                      "\"todos\",\"id\":\"row1\",\"tx_id\":1,\"data\":{"
                      "\"description\":\"up\",\"done\":0}}]}");
  pthread_mutex_unlock(&r.mu);
  assert_true(mock_service_write_checkpoint_count(ms) >= 1);
  mock_stream_free(s);
  receiver_stop(&r);
  mock_service_stop(ms);

  assert_int_equal(run(&c, ARGS("pending", "--db", db)), 0);
  assert_string_equal(c.out, "no pending uploads\n");
}

static void sync_upload_rejected_stays_queued(void **state) {
  mock_service *ms = mock_service_start();
  struct child c;
  char db[1024], url[256];
  (void)state;
  db_with_schema(db, sizeof(db), "cli_upload_404");
  assert_int_equal(run(&c, ARGS("exec", "--db", db,
                                "INSERT INTO todos (id, description, done) "
                                "VALUES ('row1', 'up', 0)")),
                   0);
  snprintf(url, sizeof(url), "%s/api/data", mock_service_url(ms));
  child_start(&c,
              ARGS("sync", "--db", db, "--schema", schema_file(), "--endpoint",
                   mock_service_url(ms), "--token", "t", "--upload-url", url,
                   "--timeout", "10", "--retry-delay", "0.1"));
  /* The upload round starts on connect: the client gives up on the 404
   * whether or not the sync stream was answered (it is left pending). */
  assert_int_equal(child_finish(&c), 1);
  assert_contains(c.err, "rejected: HTTP 404: {\"error\":{\"code\":\"PSYNC_");
  assert_contains(c.err, "the writes stay queued (see 'powersync pending')");
  mock_service_stop(ms);

  assert_int_equal(run(&c, ARGS("pending", "--db", db)), 0);
  assert_contains(c.out, "PUT  todos  row1");
}

static void sync_warns_about_pending_without_upload_url(void **state) {
  mock_service *ms = mock_service_start();
  struct child c;
  char db[1024];
  (void)state;
  db_with_schema(db, sizeof(db), "cli_no_upload");
  assert_int_equal(run(&c, ARGS("exec", "--db", db,
                                "INSERT INTO todos (id) VALUES ('row1')")),
                   0);
  assert_int_equal(
      run(&c, ARGS("sync", "--db", db, "--schema", schema_file(), "--endpoint",
                   "http://127.0.0.1:1", "--token", "t", "--timeout", "0.5")),
      1);
  assert_contains(c.err, "1 local write pending and no --upload-url");
  mock_service_stop(ms);
}

/* ---- query ---------------------------------------------------------------
 */

static void query_table_and_json(void **state) {
  static const char SQL[] =
      "SELECT 1 AS i, 2.5 AS r, 'a\nb' AS t, NULL AS n, x'01ff' AS b "
      "UNION ALL SELECT 100, -1, 'café', 'x', x''";
  struct child c;
  char db[1024];
  (void)state;
  db_with_schema(db, sizeof(db), "cli_query");
  assert_int_equal(run(&c, ARGS("query", "--db", db, SQL)), 0);
  assert_string_equal(c.out, "  i    r  t     n     b\n"
                             "---  ---  ----  ----  -------\n"
                             "  1  2.5  a\\nb  NULL  x'01ff'\n"
                             "100   -1  café  x     x''\n"
                             "(2 rows)\n");
  assert_int_equal(run(&c, ARGS("query", "--db", db, "--json", SQL)), 0);
  assert_string_equal(
      c.out,
      "[\n"
      "  {\"i\":1,\"r\":2.5,\"t\":\"a\\nb\",\"n\":null,\"b\":\"Af8=\"},\n"
      "  {\"i\":100,\"r\":-1,\"t\":\"café\",\"n\":\"x\",\"b\":\"\"}\n"
      "]\n");

  /* Parameters: numbers, NULL and text; -- before a negative number. */
  assert_int_equal(run(&c, ARGS("query", "--db", db, "--json",
                                "SELECT ?1 AS a, ?2 AS b, ?3 AS c, ?4 AS d",
                                "--", "-7", "0.5", "null", "hi")),
                   0);
  assert_string_equal(c.out,
                      "[\n  {\"a\":-7,\"b\":0.5,\"c\":null,\"d\":\"hi\"}\n]\n");
  assert_int_equal(run(&c, ARGS("query", "--db", db, "--json", "--text",
                                "SELECT typeof(?) AS t", "5")),
                   0);
  assert_string_equal(c.out, "[\n  {\"t\":\"text\"}\n]\n");

  assert_int_equal(
      run(&c, ARGS("query", "--db", db, "--json", "SELECT 1 WHERE 0")), 0);
  assert_string_equal(c.out, "[]\n");

  assert_int_equal(run(&c, ARGS("query", "--db", db, "SELEC oops")), 1);
  assert_contains(c.err, "powersync: query: ");
  assert_contains(c.err, "syntax error");
  assert_int_equal(run(&c, ARGS("query", "--db", db, "DELETE FROM todos")), 1);
  assert_contains(c.err, "use 'powersync exec' to write");
}

/* ---- Errors --------------------------------------------------------------
 */

static void bad_schema_file(void **state) {
  struct child c;
  char db[1024];
  const char *bad;
  (void)state;
  fresh_db(db, sizeof(db), "cli_bad_schema");
  assert_int_equal(
      run(&c, ARGS("sync", "--db", db, "--schema", "/nonexistent/schema.json",
                   "--endpoint", "http://127.0.0.1:1", "--token", "t")),
      2);
  assert_contains(c.err, "cannot read schema file '/nonexistent/schema.json': "
                         "No such file or directory");
  bad = scratch_file(1, "bad_schema.json", "{\"tables\":[{\"name\":\"t\"}]}");
  assert_int_equal(
      run(&c, ARGS("sync", "--db", db, "--schema", bad, "--endpoint",
                   "http://127.0.0.1:1", "--token", "t")),
      2);
  assert_contains(c.err, "invalid schema file '");
  assert_contains(c.err, "columns");
  bad = scratch_file(2, "not_json.json", "tables: [todos]");
  assert_int_equal(
      run(&c, ARGS("sync", "--db", db, "--schema", bad, "--endpoint",
                   "http://127.0.0.1:1", "--token", "t")),
      2);
  assert_contains(c.err, "invalid schema file '");
}

static void unreachable_service(void **state) {
  struct child c;
  char db[1024];
  int64_t start = now_ms();
  (void)state;
  fresh_db(db, sizeof(db), "cli_unreachable");
  assert_int_equal(run(&c, ARGS("sync", "--db", db, "--schema", schema_file(),
                                "--endpoint", "http://127.0.0.1:1", "--token",
                                "t", "--timeout", "2", "--progress", "lines")),
                   1);
  assert_true(now_ms() - start < 10000);
  assert_contains(c.err, "powersync: timed out after 2 s without a completed "
                         "sync: could not connect to http://127.0.0.1:1: ");
  assert_contains(c.err, "onnect"); /* libcurl's wording of the refusal. */
}

static void rejected_token(void **state) {
  mock_service *ms = mock_service_start();
  mock_stream *s;
  struct child c;
  char db[1024];
  int i;
  (void)state;
  fresh_db(db, sizeof(db), "cli_401");
  child_start(&c, ARGS("sync", "--db", db, "--schema", schema_file(),
                       "--endpoint", mock_service_url(ms), "--token", "bad",
                       "--retry-delay", "0.1", "--timeout", "30"));
  for (i = 0; i < 2; i++) {
    s = mock_service_next_stream(ms, WAIT_MS);
    assert_non_null(s);
    assert_int_equal(mock_stream_respond(s, 401, "application/json", TOKEN_401),
                     0);
    mock_stream_free(s);
  }
  assert_int_equal(child_finish(&c), 1);
  assert_contains(c.err, "powersync: the service rejected the token 2 times: "
                         "sync stream: HTTP 401");
  assert_contains(c.err, " (--token is fixed: pass a valid one, or use "
                         "--token-command)\n");
  /* The SDK quotes the service's error; it reads that body with the
   * stream's wake-ups armed, and a wake-up (an upload round ending) can cut
   * the read short, leaving just "HTTP 401". When quoted, it is whole. */
  if (strstr(c.err, "HTTP 401: "))
    assert_contains(c.err, "HTTP 401: PSYNC_S2103 JWT has expired (--token");
  mock_service_stop(ms);
}

static void malformed_endpoint(void **state) {
  mock_service *ms = mock_service_start();
  struct child c;
  char db[1024], url[256];
  (void)state;
  fresh_db(db, sizeof(db), "cli_endpoint");
  assert_int_equal(
      run(&c, ARGS("sync", "--db", db, "--schema", schema_file(), "--endpoint",
                   "localhost:8080", "--token", "t")),
      2);
  assert_contains(c.err, "--endpoint 'localhost:8080' is not an http:// or "
                         "https:// URL");
  /* What only the SDK's validation finds. */
  assert_int_equal(
      run(&c, ARGS("sync", "--db", db, "--schema", schema_file(), "--endpoint",
                   "http://exa mple.com", "--token", "t", "--timeout", "30")),
      1);
  assert_contains(c.err, "powersync: invalid credentials: endpoint "
                         "'http://exa mple.com'");
  /* A server that is not a PowerSync service at this path. */
  snprintf(url, sizeof(url), "%s/not-here", mock_service_url(ms));
  assert_int_equal(
      run(&c, ARGS("sync", "--db", db, "--schema", schema_file(), "--endpoint",
                   url, "--token", "t", "--timeout", "30")),
      1);
  assert_contains(c.err, "the service refused the sync request: sync stream: "
                         "HTTP 404");
  assert_contains(c.err, "(is --endpoint the URL of a PowerSync service?)");
  mock_service_stop(ms);
}

static void usage_errors_and_help(void **state) {
  struct child c;
  char db[1024];
  const char *const no_args[] = {NULL};
  (void)state;
  assert_int_equal(run(&c, no_args), 2);
  assert_contains(c.err, "Usage: powersync <command>");
  assert_int_equal(run(&c, ARGS("--help")), 0);
  assert_contains(c.out, "  sync ");
  assert_contains(c.out, "  pending ");
  assert_int_equal(run(&c, ARGS("--version")), 0);
  assert_contains(c.out, "powersync " POWERSYNC_VERSION_STRING);
  assert_int_equal(run(&c, ARGS("frobnicate")), 2);
  assert_contains(c.err, "unknown command 'frobnicate'");
  assert_int_equal(run(&c, ARGS("sync", "--help")), 0);
  assert_contains(c.out, "--token-command CMD");
  assert_int_equal(run(&c, ARGS("query", "--help")), 0);
  assert_contains(c.out, "Usage: powersync query");
  assert_int_equal(run(&c, ARGS("sync", "--db")), 2);
  assert_contains(c.err, "option '--db' needs a value");
  assert_int_equal(run(&c, ARGS("sync", "--nope")), 2);
  assert_contains(c.err, "unknown option '--nope'");
  assert_int_equal(
      run(&c, ARGS("sync", "--db", "x.db", "--schema", "s.json", "--endpoint",
                   "http://h", "--token", "t", "--token-command", "echo t")),
      2);
  assert_contains(c.err, "exactly one of --token and --token-command");
  assert_int_equal(
      run(&c, ARGS("sync", "--db", "x.db", "--schema", "s.json", "--endpoint",
                   "http://h", "--token", "t", "--timeout", "soon")),
      2);
  assert_int_equal(
      run(&c, ARGS("sync", "--db", "x.db", "--schema", "s.json", "--endpoint",
                   "http://h", "--token", "t", "--follow", "--until-synced")),
      2);
  db_with_schema(db, sizeof(db), "cli_usage");
  assert_int_equal(run(&c, ARGS("exec", "--db", db)), 2);
  assert_contains(c.err, "SQL is required");
  assert_int_equal(run(&c, ARGS("status", "--db", db, "--text")), 2);
  assert_int_equal(
      run(&c, ARGS("query", "--db", "/nonexistent/x.db", "SELECT 1")), 1);
  assert_contains(c.err, "cannot open database '/nonexistent/x.db'");
}

/* ---- Against the dev server ----------------------------------------------
 */

static const char DEV_CONFIG[] = "bucket_definitions:\n"
                                 "  all:\n"
                                 "    data:\n"
                                 "      - SELECT id, description, done FROM "
                                 "todos\n";

/* A source database with n todos t0..t<n-1>. */
static void make_source(const char *path, int n) {
  sqlite3 *db = NULL;
  char sql[256];
  int i;
  unlink(path);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db,
                                "CREATE TABLE todos (id TEXT PRIMARY KEY, "
                                "description TEXT, done INTEGER)",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  for (i = 0; i < n; i++) {
    snprintf(sql, sizeof(sql), "INSERT INTO todos VALUES ('t%d', 'todo %d', 0)",
             i, i);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  }
  sqlite3_close(db);
}

static void devserver_round_trip(void **state) {
  struct psd_server_options o;
  struct psd_server *server = NULL;
  struct child c;
  char db[1024], source[1024], upload_url[256], err[512], *token;
  (void)state;
  snprintf(source, sizeof(source), "%s", th_db_path("cli_dev_source"));
  make_source(source, 500);
  memset(&o, 0, sizeof(o));
  o.source_path = source;
  o.config_yaml = DEV_CONFIG;
  o.ops_per_line = 100;
  if (psd_server_start(&o, &server, err, sizeof(err)) != 0) {
    fprintf(stderr, "psd_server_start: %s\n", err);
    fail();
  }
  token = psd_server_token(server, "me", 0);
  assert_non_null(token);
  snprintf(upload_url, sizeof(upload_url), "%s/api/data",
           psd_server_url(server));
  fresh_db(db, sizeof(db), "cli_dev");

  assert_int_equal(run(&c, ARGS("sync", "--db", db, "--schema", schema_file(),
                                "--endpoint", psd_server_url(server), "--token",
                                token, "--timeout", "30")),
                   0);
  assert_contains(c.err, "synced at 20");
  assert_int_equal(run(&c, ARGS("query", "--db", db, "--json",
                                "SELECT count(*) AS n FROM todos")),
                   0);
  assert_string_equal(c.out, "[\n  {\"n\":500}\n]\n");

  assert_int_equal(run(&c, ARGS("exec", "--db", db,
                                "INSERT INTO todos (id, description, done) "
                                "VALUES ('new1', 'from cli', 1)")),
                   0);
  assert_int_equal(
      run(&c, ARGS("sync", "--db", db, "--schema", schema_file(), "--endpoint",
                   psd_server_url(server), "--token", token, "--upload-url",
                   upload_url, "--bson", "--timeout", "30")),
      0);
  assert_contains(c.err, "uploaded 1 write\n");
  assert_int_equal(run(&c, ARGS("pending", "--db", db)), 0);
  assert_string_equal(c.out, "no pending uploads\n");
  /* The row went through the service and came back as synced data. */
  assert_int_equal(run(&c, ARGS("query", "--db", db, "--json",
                                "SELECT count(*) AS n FROM todos")),
                   0);
  assert_string_equal(c.out, "[\n  {\"n\":501}\n]\n");
  assert_int_equal(run(&c, ARGS("status", "--db", db)), 0);
  assert_contains(c.out, "  1#all[]  501");

  free(token);
  psd_server_stop(server);
}

/* Teardown of every test: kills and reaps a child a failed test left. */
static int kill_leftover(void **state) {
  (void)state;
  if (g_child_pid > 0) {
    kill(g_child_pid, SIGKILL);
    waitpid(g_child_pid, NULL, 0);
    g_child_pid = 0;
  }
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(sync_until_synced_downloads_rows,
                                kill_leftover),
      cmocka_unit_test_teardown(sync_bson_sets_accept_header, kill_leftover),
      cmocka_unit_test_teardown(sync_token_command, kill_leftover),
      cmocka_unit_test_teardown(sync_failing_token_command, kill_leftover),
      cmocka_unit_test_teardown(sync_follow_until_sigterm, kill_leftover),
      cmocka_unit_test_teardown(exec_then_pending, kill_leftover),
      cmocka_unit_test_teardown(sync_uploads_pending_writes, kill_leftover),
      cmocka_unit_test_teardown(sync_upload_rejected_stays_queued,
                                kill_leftover),
      cmocka_unit_test_teardown(sync_warns_about_pending_without_upload_url,
                                kill_leftover),
      cmocka_unit_test_teardown(query_table_and_json, kill_leftover),
      cmocka_unit_test_teardown(bad_schema_file, kill_leftover),
      cmocka_unit_test_teardown(unreachable_service, kill_leftover),
      cmocka_unit_test_teardown(rejected_token, kill_leftover),
      cmocka_unit_test_teardown(malformed_endpoint, kill_leftover),
      cmocka_unit_test_teardown(usage_errors_and_help, kill_leftover),
      cmocka_unit_test_teardown(devserver_round_trip, kill_leftover),
  };
  if (access(cli_path(), X_OK) != 0) {
    fprintf(stderr, "%s is not built\n", cli_path());
    return 1;
  }
  return cmocka_run_group_tests(tests, NULL, NULL);
}
