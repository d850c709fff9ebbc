/*
 * test_e2e.c: end-to-end scenarios of our SDK against powersync-devserver
 * over real HTTP on 127.0.0.1, each combining several features that
 * test_devserver.c checks one at a time:
 *
 * 1. convergence of three clients and the backend under random concurrent
 *    inserts, updates and deletes (uploads and direct source writes);
 * 2. parameterized buckets of three users, with a row moving between users
 *    and writes made for another user;
 * 3. sync streams through the SDK: an auto-subscribed stream, explicit
 *    subscriptions with parameters, unsubscribe_all, and a TTL keeping a
 *    released subscription until it runs out;
 * 4. priorities: priority-0 data applies while an upload is pending (which
 *    holds back everything else), then the full sync;
 * 5. compaction of the storage between syncs: a client synced before, one
 *    that was offline across it and a fresh one all converge (and, skipped
 *    as a known bug, compaction of a running server's file);
 * 6. tokens of 3 s while writes keep coming from both sides;
 * 7. the server restarting on the same port and file under connected
 *    clients and pending uploads: op ids continue, nothing resyncs.
 *
 * Each client is a powersync_db with a connector that takes tokens from
 * psd_server_token and uploads through POST /api/data with libcurl (as in
 * test_devserver.c); uploads can be held back per client to keep writes
 * pending. Rows are compared as one canonical text per table (every row in
 * id order, each value quote()d) on the client and in the source.
 *
 * Worker threads never call cmocka: they record failures, which the test
 * thread checks after joining them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <time.h>

#include "db_test_helpers.h"
#include "dev_connector.h"
#include "server.h"
#include "source_db.h"
#include "storage.h"
#include "sync_config.h"

#define WAIT_MS 30000

/* --- Random numbers --------------------------------------------------------
 */

/* xorshift32: a deterministic generator per thread. */
static uint32_t next_rand(uint32_t *s) {
  uint32_t x = *s ? *s : 0x9e3779b9u;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *s = x;
  return x;
}

/* --- The source database ----------------------------------------------------
 */

static const char SOURCE_SCHEMA[] =
    "CREATE TABLE items(id TEXT PRIMARY KEY, v INTEGER, label TEXT,"
    " writer TEXT);"
    "CREATE TABLE lists(id TEXT PRIMARY KEY, name TEXT, owner TEXT);"
    "CREATE TABLE todos(id TEXT PRIMARY KEY, description TEXT, owner TEXT,"
    " list_id TEXT);";

static const char GLOBAL_ITEMS_YAML[] = "bucket_definitions:\n"
                                        "  global:\n"
                                        "    data:\n"
                                        "      - SELECT * FROM items\n";

#define GLOBAL_BUCKET "1#global[]"

/* Canonical texts of the tables: every row in id order. */
#define ITEMS_TEXT                                                             \
  "SELECT coalesce(group_concat(r, ';'), '') FROM (SELECT id || '|' || "       \
  "quote(v) || '|' || quote(label) || '|' || quote(writer) AS r FROM items "   \
  "ORDER BY id)"
#define LISTS_TEXT_WHERE(where)                                                \
  "SELECT coalesce(group_concat(r, ';'), '') FROM (SELECT id || '|' || "       \
  "quote(name) || '|' || quote(owner) AS r FROM lists " where " ORDER BY id)"
#define LISTS_TEXT LISTS_TEXT_WHERE("")
#define TODOS_TEXT_WHERE(where)                                                \
  "SELECT coalesce(group_concat(r, ';'), '') FROM (SELECT id || '|' || "       \
  "quote(description) || '|' || quote(owner) || '|' || quote(list_id) AS r "   \
  "FROM todos " where " ORDER BY id)"
#define TODOS_TEXT TODOS_TEXT_WHERE("")

/* Seed rows of items: item-00 .. item-<n-1>. */
static void seed_items(char *out, size_t size, int n) {
  snprintf(out, size,
           "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k "
           "WHERE i + 1 < %d) INSERT INTO items SELECT printf('item-%%02d', "
           "i), i, 'seed', 'seed' FROM k;",
           n);
}

/* The storage's head (the largest op id), as the server persists it. */
static int64_t source_head(const char *path) {
  return source_int(path, "SELECT coalesce((SELECT value FROM _powersync_meta "
                          "WHERE key = 'head'), 0)");
}

/* Waits until the server has replicated past head (poll_ms is short). */
static int64_t wait_head_above(const char *path, int64_t head) {
  int64_t deadline = mono_ms() + WAIT_MS, now;
  while ((now = source_head(path)) <= head) {
    if (mono_ms() > deadline) {
      fprintf(stderr, "the head stayed at %lld\n", (long long)now);
      fail();
    }
    sleep_ms(5);
  }
  return now;
}

/* --- The server -------------------------------------------------------------
 */

struct server_env {
  struct psd_server *server;
  struct psd_server_options opts;
  char source[1024];
  int port;
  pthread_mutex_t mu;
  char log[32 * 1024]; /* Request log, truncated when full. */
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

/* What a test left running when it failed, for the teardown: servers,
 * clients and stream handles register while they live (every test keeps
 * them in static storage, which outlives the test's frame). */
#define MAX_LIVE 8
static void *live_servers[MAX_LIVE]; /* struct server_env * */
static void *live_clients[MAX_LIVE]; /* struct client * */
static void *live_subs[MAX_LIVE];    /* powersync_stream_subscription ** */

static void live_add(void **slots, void *p) {
  size_t i;
  for (i = 0; i < MAX_LIVE; i++)
    if (!slots[i]) {
      slots[i] = p;
      return;
    }
  fail_msg("too many live objects");
}

static void live_remove(void **slots, void *p) {
  size_t i;
  for (i = 0; i < MAX_LIVE; i++)
    if (slots[i] == p)
      slots[i] = NULL;
}

/* Creates a fresh source with the schema and seed (may be NULL) and starts
 * a server on it with quick polling and keepalives. */
static void server_start_polling(struct server_env *e, const char *name,
                                 const char *yaml, const char *seed,
                                 int poll_ms) {
  char err[512], src[64];
  memset(e, 0, sizeof(*e));
  pthread_mutex_init(&e->mu, NULL);
  live_add(live_servers, e);
  snprintf(src, sizeof(src), "e2e_source_%s", name);
  snprintf(e->source, sizeof(e->source), "%s", th_db_path(src));
  source_exec(e->source, SOURCE_SCHEMA);
  if (seed)
    source_exec(e->source, seed);
  e->opts.source_path = e->source;
  e->opts.config_yaml = yaml;
  e->opts.keepalive_s = 1;
  e->opts.poll_ms = poll_ms;
  e->opts.log = capture_log;
  e->opts.log_user_data = e;
  err[0] = '\0';
  if (psd_server_start(&e->opts, &e->server, err, sizeof(err)) != 0) {
    fprintf(stderr, "psd_server_start: %s\n", err);
    fail();
  }
  e->port = psd_server_port(e->server);
  assert_true(e->port > 0);
}

static void server_start(struct server_env *e, const char *name,
                         const char *yaml, const char *seed) {
  server_start_polling(e, name, yaml, seed, 10);
}

static void server_stop(struct server_env *e) {
  psd_server_stop(e->server);
  e->server = NULL;
}

/* Starts the server again on the same port and source file. */
static void server_restart(struct server_env *e) {
  struct psd_server_options o = e->opts;
  char err[512];
  o.port = e->port;
  err[0] = '\0';
  if (psd_server_start(&o, &e->server, err, sizeof(err)) != 0) {
    fprintf(stderr, "restarting on port %d: %s\n", e->port, err);
    fail();
  }
  assert_int_equal(psd_server_port(e->server), e->port);
}

static void server_done(struct server_env *e) {
  live_remove(live_servers, e);
  server_stop(e);
  pthread_mutex_destroy(&e->mu);
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
  powersync_schema *s = powersync_schema_new();
  powersync_table *t = NULL;
  assert_non_null(s);
  ASSERT_PS_OK(powersync_schema_add_table(s, "items", &t));
  ASSERT_PS_OK(powersync_table_add_column(t, "v", POWERSYNC_COLUMN_INTEGER));
  ASSERT_PS_OK(powersync_table_add_column(t, "label", POWERSYNC_COLUMN_TEXT));
  ASSERT_PS_OK(powersync_table_add_column(t, "writer", POWERSYNC_COLUMN_TEXT));
  ASSERT_PS_OK(powersync_schema_add_table(s, "lists", &t));
  ASSERT_PS_OK(powersync_table_add_column(t, "name", POWERSYNC_COLUMN_TEXT));
  ASSERT_PS_OK(powersync_table_add_column(t, "owner", POWERSYNC_COLUMN_TEXT));
  ASSERT_PS_OK(powersync_schema_add_table(s, "todos", &t));
  ASSERT_PS_OK(
      powersync_table_add_column(t, "description", POWERSYNC_COLUMN_TEXT));
  ASSERT_PS_OK(powersync_table_add_column(t, "owner", POWERSYNC_COLUMN_TEXT));
  ASSERT_PS_OK(powersync_table_add_column(t, "list_id", POWERSYNC_COLUMN_TEXT));
  return s;
}

static void client_open(struct client *c, const char *name,
                        struct server_env *e, const char *user,
                        int lifetime_s) {
  powersync_schema *schema = client_schema();
  char file[64];
  memset(c, 0, sizeof(*c));
  snprintf(file, sizeof(file), "e2e_%s", name);
  ASSERT_PS_OK(powersync_db_open(&c->db, th_db_path(file), schema, NULL));
  powersync_schema_free(schema);
  dev_connector_init(&c->conn, e->server, user, lifetime_s, &c->connector);
  live_add(live_clients, c);
}

static void client_connect_format(struct client *c,
                                  powersync_sync_format format) {
  powersync_connect_options o = POWERSYNC_CONNECT_OPTIONS_INIT;
  o.format = format;
  o.retry_delay_ms = 100;
  o.upload_throttle_ms = 0;
  o.read_timeout_ms = 10000;
  ASSERT_PS_OK(powersync_db_connect(c->db, &c->connector, &o));
}

static void client_connect(struct client *c) {
  client_connect_format(c, POWERSYNC_SYNC_FORMAT_BSON);
}

/* Points the connector at the (restarted) server, or at none. */
static void client_set_server(struct client *c, struct psd_server *server) {
  dev_connector_set_server(&c->conn, server);
}

static void client_hold_uploads(struct client *c, int held) {
  dev_connector_hold_uploads(&c->conn, held);
}

static int client_fetches(struct client *c) {
  return dev_connector_fetches(&c->conn);
}

static void client_close(struct client *c) {
  live_remove(live_clients, c);
  ASSERT_PS_OK(powersync_db_disconnect(c->db));
  ASSERT_PS_OK(powersync_db_close(c->db));
  dev_connector_destroy(&c->conn);
}

static void print_status(struct client *c) {
  powersync_sync_status *s = NULL;
  powersync_db_sync_status(c->db, &s);
  fprintf(stderr, "status: %s\n", s ? powersync_sync_status_json(s) : "?");
  powersync_sync_status_free(s);
}

static void wait_first_sync(struct client *c, int priority) {
  int rc = powersync_db_wait_for_first_sync(c->db, priority, WAIT_MS);
  if (rc != POWERSYNC_OK) {
    fprintf(stderr, "first sync (priority %d): %s\n", priority,
            powersync_errstr(rc));
    print_status(c);
    fail();
  }
}

static int64_t client_int(struct client *c, const char *sql) {
  return th_query_int(c->db, sql);
}

static char *client_text(struct client *c, const char *sql) {
  powersync_rows *rows = NULL;
  const powersync_value *v;
  char *out;
  ASSERT_PS_OK(powersync_db_query(c->db, sql, NULL, 0, &rows));
  assert_int_equal(powersync_rows_count(rows), 1);
  v = powersync_rows_value(rows, 0, 0);
  assert_non_null(v);
  assert_int_equal(v->type, POWERSYNC_VALUE_TEXT);
  out = strdup((const char *)v->as.bytes.data);
  powersync_rows_free(rows);
  assert_non_null(out);
  return out;
}

static void client_exec(struct client *c, const char *sql) {
  ASSERT_PS_OK(powersync_db_execute(c->db, sql, NULL, 0, NULL));
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
  print_status(c);
  fail();
}

/* last_applied_op of bucket in the client (-1: no such bucket). */
static int64_t client_applied(struct client *c, const char *bucket) {
  char sql[256];
  snprintf(sql, sizeof(sql),
           "SELECT coalesce((SELECT last_applied_op FROM ps_buckets WHERE "
           "name = '%s'), -1)",
           bucket);
  return client_int(c, sql);
}

/* One check of convergence: no pending upload, the client's text of sql
 * equals the source's text of source_sql (NULL: sql) and, when bucket is
 * set, the client applied the checkpoint at the source's head. */
static int client_converged(struct client *c, struct server_env *e,
                            const char *sql, const char *source_sql,
                            const char *bucket, int verbose) {
  char *mine, *theirs;
  int64_t crud, applied = 0, head = 0;
  int same;
  crud = client_int(c, "SELECT count(*) FROM ps_crud");
  theirs = source_text(e->source, source_sql ? source_sql : sql);
  mine = client_text(c, sql);
  same = strcmp(mine, theirs) == 0;
  if (bucket) {
    head = source_head(e->source);
    applied = client_applied(c, bucket);
  }
  if (verbose) {
    fprintf(stderr,
            "client %s: pending uploads %lld, applied %lld, head %lld\n"
            "  client: %s\n  source: %s\n",
            c->conn.user, (long long)crud, (long long)applied, (long long)head,
            mine, theirs);
    print_status(c);
  }
  free(mine);
  free(theirs);
  return crud == 0 && same && applied == head;
}

/* Waits until every client converged (all at once, at one head). */
static void wait_converged(struct client *const *cs, size_t n,
                           struct server_env *e, const char *sql,
                           const char *const *source_sqls, const char *bucket,
                           const char *what) {
  int64_t deadline = mono_ms() + WAIT_MS;
  for (;;) {
    size_t i, ok = 0;
    for (i = 0; i < n; i++)
      ok += (size_t)client_converged(
          cs[i], e, sql, source_sqls ? source_sqls[i] : NULL, bucket, 0);
    if (ok == n)
      return;
    if (mono_ms() > deadline) {
      fprintf(stderr, "timed out waiting for %s\n", what);
      for (i = 0; i < n; i++)
        client_converged(cs[i], e, sql, source_sqls ? source_sqls[i] : NULL,
                         bucket, 1);
      fail();
    }
    sleep_ms(20);
  }
}

/* Waits until the client is connected without a download or upload error
 * (errors are cleared by the next success). */
static void wait_healthy(struct client *c) {
  int64_t deadline = mono_ms() + WAIT_MS;
  for (;;) {
    powersync_sync_status *s = NULL;
    int ok;
    ASSERT_PS_OK(powersync_db_sync_status(c->db, &s));
    ok = powersync_sync_status_connected(s) &&
         !powersync_sync_status_download_error(s) &&
         !powersync_sync_status_upload_error(s);
    powersync_sync_status_free(s);
    if (ok)
      return;
    if (mono_ms() > deadline) {
      fprintf(stderr, "client %s never became healthy\n", c->conn.user);
      print_status(c);
      fail();
    }
    sleep_ms(20);
  }
}

/* --- Random writers (worker threads; failures are recorded) -----------------
 */

#define ITEM_POOL 24

struct writer {
  pthread_t thread;
  struct client *client; /* NULL: writes go to the source directly. */
  const char *source;
  uint32_t seed;
  int max_ops;
  int64_t until_ms; /* 0: max_ops only. */
  int max_pause_ms;
  char tag[16];
  int ops;      /* Done. */
  int failures; /* Failed writes (reported by the test thread). */
  char error[256];
};

struct item_op {
  char id[16];
  int64_t v;
  char label[48];
  const char *writer;
  uint32_t choice; /* 0..99 */
};

static int step_sql(sqlite3 *db, const char *sql, const struct item_op *op,
                    int with_values, int *exists_out) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK)
    return rc;
  sqlite3_bind_text(st, 1, op->id, -1, SQLITE_TRANSIENT);
  if (with_values) {
    sqlite3_bind_int64(st, 2, op->v);
    sqlite3_bind_text(st, 3, op->label, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, op->writer, -1, SQLITE_STATIC);
  }
  rc = sqlite3_step(st);
  if (exists_out && rc == SQLITE_ROW)
    *exists_out = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* A client write in one transaction: insert when the row is absent here,
 * else update (70 %) or delete it. */
static int client_item_tx(sqlite3 *conn, void *user_data) {
  const struct item_op *op = user_data;
  int exists = 0;
  if (step_sql(conn, "SELECT count(*) FROM items WHERE id = ?1", op, 0,
               &exists) != SQLITE_OK)
    return 1;
  if (!exists)
    return step_sql(conn,
                    "INSERT INTO items(id, v, label, writer) VALUES "
                    "(?1, ?2, ?3, ?4)",
                    op, 1, NULL) != SQLITE_OK;
  if (op->choice < 70)
    return step_sql(conn,
                    "UPDATE items SET v = ?2, label = ?3, writer = ?4 "
                    "WHERE id = ?1",
                    op, 1, NULL) != SQLITE_OK;
  return step_sql(conn, "DELETE FROM items WHERE id = ?1", op, 0, NULL) !=
         SQLITE_OK;
}

/* A backend write: upsert (60 %), bump v (25 %) or delete. */
static int source_item_write(sqlite3 *db, const struct item_op *op) {
  if (op->choice < 60)
    return step_sql(db,
                    "INSERT INTO items(id, v, label, writer) VALUES "
                    "(?1, ?2, ?3, ?4) ON CONFLICT(id) DO UPDATE SET "
                    "v = excluded.v, label = excluded.label, "
                    "writer = excluded.writer",
                    op, 1, NULL);
  if (op->choice < 85)
    return step_sql(db, "UPDATE items SET v = v + 1 WHERE id = ?1", op, 0,
                    NULL);
  return step_sql(db, "DELETE FROM items WHERE id = ?1", op, 0, NULL);
}

static void *writer_main(void *arg) {
  struct writer *w = arg;
  sqlite3 *db = NULL;
  int k;
  if (!w->client && !(db = source_open(w->source))) {
    snprintf(w->error, sizeof(w->error), "cannot open the source");
    w->failures++;
    return NULL;
  }
  for (k = 0; k < w->max_ops && (!w->until_ms || mono_ms() < w->until_ms);
       k++) {
    struct item_op op;
    int rc;
    snprintf(op.id, sizeof(op.id), "item-%02u",
             (unsigned)(next_rand(&w->seed) % ITEM_POOL));
    op.v = (int64_t)(next_rand(&w->seed) % 100000);
    snprintf(op.label, sizeof(op.label), "%s-%d", w->tag, k);
    op.writer = w->tag;
    op.choice = next_rand(&w->seed) % 100;
    if (w->client)
      rc = powersync_db_write_transaction(w->client->db, client_item_tx, &op);
    else
      rc = source_item_write(db, &op);
    if (rc != 0) {
      w->failures++;
      snprintf(
          w->error, sizeof(w->error), "write %d on %s: %d (%s)", k, op.id, rc,
          w->client ? powersync_error_last()->message : sqlite3_errmsg(db));
    }
    w->ops++;
    if (w->max_pause_ms > 0)
      sleep_ms((int)(next_rand(&w->seed) % (uint32_t)w->max_pause_ms));
  }
  sqlite3_close(db);
  return NULL;
}

static void writer_start(struct writer *w, struct client *client,
                         const char *source, const char *tag, uint32_t seed,
                         int max_ops, int64_t until_ms, int max_pause_ms) {
  memset(w, 0, sizeof(*w));
  w->client = client;
  w->source = source;
  w->seed = seed;
  w->max_ops = max_ops;
  w->until_ms = until_ms;
  w->max_pause_ms = max_pause_ms;
  snprintf(w->tag, sizeof(w->tag), "%s", tag);
  assert_int_equal(pthread_create(&w->thread, NULL, writer_main, w), 0);
}

/* Joins every writer, then checks what they recorded. */
static void writers_join(struct writer *w, size_t n) {
  size_t i;
  int joined = 1;
  for (i = 0; i < n; i++)
    joined &= pthread_join(w[i].thread, NULL) == 0;
  assert_true(joined);
  for (i = 0; i < n; i++) {
    if (w[i].failures) {
      fprintf(stderr, "writer %s: %d failed writes, last: %s\n", w[i].tag,
              w[i].failures, w[i].error);
      fail();
    }
    assert_true(w[i].ops > 0);
  }
}

/* --- 1. Convergence under random concurrent writes --------------------------
 */

static void random_writes_converge(void **state) {
  static struct server_env e;
  static struct client a, b, c;
  struct client *all[3] = {&a, &b, &c};
  static struct writer w[4];
  char seed[512];
  int i;
  (void)state;
  seed_items(seed, sizeof(seed), 12);
  server_start(&e, "random", GLOBAL_ITEMS_YAML, seed);
  client_open(&a, "random_a", &e, "user-a", 0);
  client_open(&b, "random_b", &e, "user-b", 0);
  client_open(&c, "random_c", &e, "user-c", 0);
  client_connect(&a);
  client_connect_format(&b, POWERSYNC_SYNC_FORMAT_NDJSON);
  client_connect(&c);
  for (i = 0; i < 3; i++)
    wait_first_sync(all[i], -1);
  wait_converged(all, 3, &e, ITEMS_TEXT, NULL, GLOBAL_BUCKET,
                 "the initial sync");

  writer_start(&w[0], &a, NULL, "a", 11, 30, 0, 15);
  writer_start(&w[1], &b, NULL, "b", 22, 30, 0, 15);
  writer_start(&w[2], &c, NULL, "c", 33, 30, 0, 15);
  writer_start(&w[3], NULL, e.source, "src", 44, 30, 0, 15);
  writers_join(w, 4);

  wait_converged(all, 3, &e, ITEMS_TEXT, NULL, GLOBAL_BUCKET,
                 "convergence after random writes");
  /* Every client took part: each one's writes reached the source unless a
   * later write replaced them, so at least the uploads happened. */
  for (i = 0; i < 3; i++) {
    assert_true(dev_connector_uploads(&all[i]->conn) > 0);
    assert_int_equal(client_int(all[i], "SELECT count(*) FROM ps_oplog"),
                     source_int(e.source, "SELECT count(*) FROM items"));
  }
  for (i = 0; i < 3; i++)
    client_close(all[i]);
  server_done(&e);
}

/* --- 2. Parameterized buckets -----------------------------------------------
 */

static const char BY_USER_YAML[] =
    "bucket_definitions:\n"
    "  global:\n"
    "    data:\n"
    "      - SELECT * FROM lists\n"
    "  by_user:\n"
    "    parameters: SELECT request.user_id() AS user_id\n"
    "    data:\n"
    "      - SELECT * FROM todos WHERE owner = bucket.user_id\n";

static const char BY_USER_SEED[] =
    "INSERT INTO lists VALUES ('L1', 'shared', 'user-a'),"
    " ('L2', 'other', 'user-b');"
    "INSERT INTO todos VALUES ('a-1', 'a one', 'user-a', 'L1'),"
    " ('a-2', 'a two', 'user-a', 'L1'),"
    " ('b-1', 'b one', 'user-b', 'L2'),"
    " ('c-1', 'c one', 'user-c', 'L1'),"
    " ('c-2', 'c two', 'user-c', 'L2'),"
    " ('c-3', 'c three', 'user-c', NULL);";

static void parameterized_buckets(void **state) {
  static const char *const own[3] = {
      TODOS_TEXT_WHERE("WHERE owner = 'user-a'"),
      TODOS_TEXT_WHERE("WHERE owner = 'user-b'"),
      TODOS_TEXT_WHERE("WHERE owner = 'user-c'")};
  static struct server_env e;
  static struct client a, b, c;
  struct client *all[3] = {&a, &b, &c};
  int i;
  (void)state;
  server_start(&e, "by_user", BY_USER_YAML, BY_USER_SEED);
  client_open(&a, "by_user_a", &e, "user-a", 0);
  client_open(&b, "by_user_b", &e, "user-b", 0);
  client_open(&c, "by_user_c", &e, "user-c", 0);
  for (i = 0; i < 3; i++)
    client_connect(all[i]);
  for (i = 0; i < 3; i++)
    wait_first_sync(all[i], -1);
  wait_converged(all, 3, &e, TODOS_TEXT, own, NULL, "each user's todos");
  wait_converged(all, 3, &e, LISTS_TEXT, NULL, NULL, "the global lists");
  assert_int_equal(client_int(&a, "SELECT count(*) FROM todos"), 2);
  assert_int_equal(client_int(&b, "SELECT count(*) FROM todos"), 1);
  assert_int_equal(client_int(&c, "SELECT count(*) FROM todos"), 3);

  /* Re-assigned in the backend: gone from a, arrives at b, c untouched. */
  source_exec(e.source, "UPDATE todos SET owner = 'user-b' WHERE id = 'a-1';");
  wait_client_int(&b, "SELECT count(*) FROM todos WHERE id = 'a-1'", 1,
                  "a-1 at b");
  wait_client_int(&a, "SELECT count(*) FROM todos WHERE id = 'a-1'", 0,
                  "a-1 gone from a");
  wait_converged(all, 3, &e, TODOS_TEXT, own, NULL, "after the re-assignment");

  /* b edits the row it received; a never sees it again. */
  client_exec(&b, "UPDATE todos SET description = 'now b''s' WHERE id = "
                  "'a-1'");
  /* c writes a todo for user-a: uploaded, then c loses it (not in any of
   * its buckets) and a gets it. */
  client_exec(&c, "INSERT INTO todos(id, description, owner, list_id) VALUES "
                  "('c-for-a', 'from c', 'user-a', 'L1')");
  /* a moves one of its own todos to c through the SDK. */
  client_exec(&a, "UPDATE todos SET owner = 'user-c' WHERE id = 'a-2'");
  wait_client_int(&a, "SELECT count(*) FROM todos WHERE id = 'c-for-a'", 1,
                  "c's todo for a at a");
  wait_client_int(&c, "SELECT count(*) FROM todos WHERE id = 'c-for-a'", 0,
                  "c's todo for a gone from c");
  wait_client_int(&c, "SELECT count(*) FROM todos WHERE id = 'a-2'", 1,
                  "a-2 at c");
  wait_client_int(&a, "SELECT count(*) FROM todos WHERE id = 'a-2'", 0,
                  "a-2 gone from a");
  /* A global change reaches everyone. */
  source_exec(e.source, "INSERT INTO lists VALUES ('L3', 'new', 'user-c');");
  wait_converged(all, 3, &e, LISTS_TEXT, NULL, NULL, "a new global list");
  wait_converged(all, 3, &e, TODOS_TEXT, own, NULL, "the final todos");
  assert_int_equal(source_int(e.source, "SELECT count(*) FROM todos WHERE id "
                                        "= 'a-1' AND description = 'now b''s' "
                                        "AND owner = 'user-b'"),
                   1);
  assert_int_equal(client_int(&a, "SELECT count(*) FROM todos WHERE owner <> "
                                  "'user-a'"),
                   0);
  for (i = 0; i < 3; i++)
    client_close(all[i]);
  server_done(&e);
}

/* --- 3. Sync streams through the SDK ----------------------------------------
 */

static const char STREAMS_YAML[] =
    "streams:\n"
    "  my_lists:\n"
    "    query: SELECT * FROM lists WHERE owner = auth.user_id()\n"
    "    auto_subscribe: true\n"
    "  todos:\n"
    "    query: SELECT * FROM todos WHERE list_id = "
    "subscription.parameter('list')\n";

static const char STREAMS_SEED[] =
    "INSERT INTO lists VALUES ('L1', 'one', 'user-a'), ('L2', 'two', "
    "'user-a'), ('L3', 'three', 'user-b');"
    "INSERT INTO todos VALUES ('t1-1', 'first', 'user-a', 'L1'),"
    " ('t1-2', 'second', 'user-a', 'L1'), ('t1-3', 'third', 'user-b', 'L1'),"
    " ('t2-1', 'fourth', 'user-a', 'L2'), ('t2-2', 'fifth', 'user-b', 'L2'),"
    " ('t3-1', 'sixth', 'user-b', 'L3');";

struct stream_seen {
  int found, active, is_default, explicit_sub, has_synced;
};

static struct stream_seen stream_state(struct client *c, const char *name,
                                       const char *params) {
  struct stream_seen out;
  powersync_sync_status *s = NULL;
  const powersync_stream_status *st;
  memset(&out, 0, sizeof(out));
  ASSERT_PS_OK(powersync_db_sync_status(c->db, &s));
  st = powersync_sync_status_for_stream(s, name, params);
  if (st) {
    out.found = 1;
    out.active = st->active;
    out.is_default = st->is_default;
    out.explicit_sub = st->has_explicit_subscription;
    out.has_synced = st->has_synced;
  }
  powersync_sync_status_free(s);
  return out;
}

static void stream_first_sync(powersync_stream_subscription *sub,
                              struct client *c) {
  int rc = powersync_stream_wait_for_first_sync(sub, WAIT_MS);
  if (rc != POWERSYNC_OK) {
    fprintf(stderr, "stream first sync: %s\n", powersync_errstr(rc));
    print_status(c);
    fail();
  }
}

/* Fails unless the client matches the source right now. */
static void assert_matches_now(struct client *c, struct server_env *e,
                               const char *sql, const char *source_sql,
                               const char *what) {
  char *mine = client_text(c, sql);
  char *theirs = source_text(e->source, source_sql ? source_sql : sql);
  if (strcmp(mine, theirs) != 0) {
    fprintf(stderr, "mismatch: %s\n  client: %s\n  source: %s\n", what, mine,
            theirs);
    print_status(c);
  }
  assert_string_equal(mine, theirs);
  free(mine);
  free(theirs);
}

static void sync_streams_through_sdk(void **state) {
  static const char *const own_lists[1] = {
      LISTS_TEXT_WHERE("WHERE owner = 'user-a'")};
  static const char *const l2[1] = {TODOS_TEXT_WHERE("WHERE list_id = 'L2'")};
  static struct server_env e;
  static struct client a;
  struct client *all[1] = {&a};
  static powersync_stream_subscription *s1, *s2, *s3;
  struct stream_seen seen;
  int64_t released;
  (void)state;
  s1 = s2 = s3 = NULL;
  live_add(live_subs, &s1);
  live_add(live_subs, &s2);
  live_add(live_subs, &s3);
  server_start(&e, "streams", STREAMS_YAML, STREAMS_SEED);
  client_open(&a, "streams_a", &e, "user-a", 0);
  client_connect(&a);
  wait_first_sync(&a, -1);

  /* The auto-subscribed stream alone: the user's lists, no todos. */
  assert_matches_now(&a, &e, LISTS_TEXT, own_lists[0], "my_lists");
  assert_int_equal(client_int(&a, "SELECT count(*) FROM todos"), 0);
  seen = stream_state(&a, "my_lists", NULL);
  assert_true(seen.found && seen.active && seen.is_default &&
              !seen.explicit_sub && seen.has_synced);

  /* Subscribing while connected: L1's todos once the stream synced. */
  ASSERT_PS_OK(powersync_db_subscribe_stream(a.db, "todos", "{\"list\":\"L1\"}",
                                             0, -1, &s1));
  stream_first_sync(s1, &a);
  assert_matches_now(&a, &e, TODOS_TEXT,
                     TODOS_TEXT_WHERE("WHERE list_id = 'L1'"),
                     "L1's todos after its first sync");
  seen = stream_state(&a, "todos", "{\"list\":\"L1\"}");
  assert_true(seen.found && seen.active && !seen.is_default &&
              seen.explicit_sub);

  /* And L2 as well: both. */
  ASSERT_PS_OK(powersync_db_subscribe_stream(a.db, "todos", "{\"list\":\"L2\"}",
                                             0, -1, &s2));
  stream_first_sync(s2, &a);
  assert_matches_now(&a, &e, TODOS_TEXT,
                     TODOS_TEXT_WHERE("WHERE list_id IN ('L1', 'L2')"),
                     "L1's and L2's todos");
  assert_matches_now(&a, &e, LISTS_TEXT, own_lists[0], "my_lists still");

  /* unsubscribe_all drops L1 regardless of its live handle and TTL
   * (sync.h, sdk.md 13): its todos go with the next checkpoint. */
  ASSERT_PS_OK(
      powersync_db_unsubscribe_stream_all(a.db, "todos", "{\"list\":\"L1\"}"));
  wait_converged(all, 1, &e, TODOS_TEXT, l2, NULL, "L1's todos removed");
  seen = stream_state(&a, "todos", "{\"list\":\"L1\"}");
  assert_false(seen.found && seen.explicit_sub);
  /* The handle outlived unsubscribe_all; releasing it changes nothing. */
  powersync_stream_unsubscribe(s1);
  s1 = NULL;
  source_exec(e.source, "BEGIN;"
                        "INSERT INTO todos VALUES ('t1-new', 'late', 'user-a',"
                        " 'L1');"
                        "INSERT INTO todos VALUES ('t2-new', 'late', 'user-a',"
                        " 'L2');"
                        "COMMIT;");
  wait_client_int(&a, "SELECT count(*) FROM todos WHERE id = 't2-new'", 1,
                  "a live change to L2");
  assert_matches_now(&a, &e, TODOS_TEXT, l2[0], "nothing of L1 comes back");

  /* A released handle: the stored subscription lives until its TTL (5 s
   * after the last extension while held) runs out, then the stream goes. */
  ASSERT_PS_OK(powersync_db_subscribe_stream(a.db, "todos", "{\"list\":\"L3\"}",
                                             5, -1, &s3));
  stream_first_sync(s3, &a);
  assert_matches_now(&a, &e, TODOS_TEXT,
                     TODOS_TEXT_WHERE("WHERE list_id IN ('L2', 'L3')"),
                     "L2's and L3's todos");
  powersync_stream_unsubscribe(s3);
  s3 = NULL;
  released = mono_ms();
  seen = stream_state(&a, "todos", "{\"list\":\"L3\"}");
  assert_true(seen.found && seen.explicit_sub);
  source_exec(e.source, "INSERT INTO todos VALUES ('t2-ttl', 'during ttl', "
                        "'user-a', 'L2');");
  wait_client_int(&a, "SELECT count(*) FROM todos WHERE id = 't2-ttl'", 1,
                  "a change after the release");
  if (mono_ms() - released < 3000)
    assert_matches_now(&a, &e, TODOS_TEXT,
                       TODOS_TEXT_WHERE("WHERE list_id IN ('L2', 'L3')"),
                       "L3 kept by its TTL");
  wait_converged(all, 1, &e, TODOS_TEXT, l2, NULL, "L3 gone after its TTL");
  assert_true(mono_ms() - released >= 3000);
  seen = stream_state(&a, "todos", "{\"list\":\"L3\"}");
  assert_false(seen.found);
  assert_matches_now(&a, &e, LISTS_TEXT, own_lists[0], "my_lists at the end");

  powersync_stream_unsubscribe(s2);
  s2 = NULL;
  live_remove(live_subs, &s1);
  live_remove(live_subs, &s2);
  live_remove(live_subs, &s3);
  client_close(&a);
  server_done(&e);
}

/* --- 4. Priorities ----------------------------------------------------------
 */

static const char PRIORITY_YAML[] = "bucket_definitions:\n"
                                    "  urgent:\n"
                                    "    priority: 0\n"
                                    "    data:\n"
                                    "      - SELECT * FROM lists\n"
                                    "  everything:\n"
                                    "    data:\n"
                                    "      - SELECT * FROM todos\n";

static const char PRIORITY_SEED[] =
    "INSERT INTO lists VALUES ('P1', 'one', 'user-a'), ('P2', 'two', "
    "'user-b'), ('P3', 'three', NULL);"
    "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < "
    "40) INSERT INTO todos SELECT printf('todo-%02d', i), 'todo ' || i, "
    "'user-a', 'P' || (1 + i % 3) FROM k;";

static powersync_priority_status priority_state(struct client *c, int p,
                                                int *full) {
  powersync_sync_status *s = NULL;
  powersync_priority_status out;
  ASSERT_PS_OK(powersync_db_sync_status(c->db, &s));
  out = powersync_sync_status_for_priority(s, p);
  *full = powersync_sync_status_has_synced(s);
  powersync_sync_status_free(s);
  return out;
}

/* A pending upload holds back every checkpoint but priority 0's
 * (core-sync.md 17.1): priority-0 data syncs, the rest waits for the
 * upload, then the full sync completes. */
static void priority_zero_first(void **state) {
  static struct server_env e;
  static struct client a;
  struct client *all[1] = {&a};
  powersync_priority_status p;
  int full = -1;
  (void)state;
  server_start(&e, "priority", PRIORITY_YAML, PRIORITY_SEED);
  client_open(&a, "priority_a", &e, "user-a", 0);
  client_exec(&a, "INSERT INTO todos(id, description, owner, list_id) VALUES "
                  "('local-1', 'written offline', 'user-a', 'P1')");
  client_hold_uploads(&a, 1);
  client_connect(&a);

  wait_first_sync(&a, 0);
  assert_matches_now(&a, &e, LISTS_TEXT, NULL, "priority-0 lists");
  p = priority_state(&a, 0, &full);
  assert_int_equal(p.priority, 0);
  assert_true(p.has_synced);
  assert_false(full);
  /* The todos arrive (in the oplog) but are not applied. */
  wait_client_int(&a, "SELECT count(*) FROM ps_oplog WHERE row_type = 'todos'",
                  40, "the priority-3 data downloaded");
  sleep_ms(200);
  assert_int_equal(client_int(&a, "SELECT count(*) FROM todos"), 1);
  p = priority_state(&a, 3, &full);
  assert_false(p.has_synced);
  assert_false(full);
  /* Priority-0 changes keep applying while the upload is pending. One
   * source transaction, so that both changes land in one checkpoint: its
   * priority-0 group then ends with partial_checkpoint_complete, which may
   * apply with uploads pending. Replicated apart, each checkpoint would
   * hold one priority group and end with checkpoint_complete only (as the
   * service does), which waits for the upload: a flake seen under load. */
  source_exec(e.source, "BEGIN;"
                        "INSERT INTO lists VALUES ('P4', 'four', 'user-a');"
                        "INSERT INTO todos VALUES ('todo-99', 'late', "
                        "'user-a', 'P4');"
                        "COMMIT;");
  wait_client_int(&a, "SELECT count(*) FROM lists WHERE id = 'P4'", 1,
                  "a priority-0 change while an upload is pending");
  assert_matches_now(&a, &e, LISTS_TEXT, NULL, "priority-0 lists, live");
  assert_int_equal(client_int(&a, "SELECT count(*) FROM todos"), 1);

  /* The upload goes through: the full sync completes. */
  client_hold_uploads(&a, 0);
  wait_first_sync(&a, -1);
  wait_converged(all, 1, &e, TODOS_TEXT, NULL, NULL, "the full sync");
  assert_matches_now(&a, &e, LISTS_TEXT, NULL, "lists after the full sync");
  assert_int_equal(client_int(&a, "SELECT count(*) FROM todos"), 42);
  p = priority_state(&a, 3, &full);
  assert_true(p.has_synced);
  assert_true(full);
  client_close(&a);
  server_done(&e);
}

/* --- 5. Compaction ----------------------------------------------------------
 */

struct bucket_state {
  uint32_t checksum;
  int64_t count;
};

/* Compacts the stopped server's storage through psd_storage (as
 * `powersync-devserver compact` does), reading bucket's state around it. */
static void compact_source(struct server_env *e, const char *bucket,
                           struct bucket_state *before,
                           struct bucket_state *after) {
  sqlite3 *db = NULL;
  struct psd_sync_config *cfg = NULL;
  struct psd_storage *st = NULL;
  char err[512] = "";
  assert_int_equal(sqlite3_open_v2(e->source, &db, SQLITE_OPEN_READWRITE, NULL),
                   SQLITE_OK);
  if (psd_sync_config_load(e->opts.config_yaml, strlen(e->opts.config_yaml), db,
                           &cfg, err, sizeof(err)) != 0 ||
      psd_storage_open(e->source, cfg, &st, err, sizeof(err)) != 0) {
    fprintf(stderr, "compact: %s\n", err);
    fail();
  }
  psd_storage_lock(st);
  assert_int_equal(psd_storage_bucket_state_locked(
                       st, bucket, &before->checksum, &before->count),
                   0);
  psd_storage_unlock(st);
  if (psd_storage_compact(st, err, sizeof(err)) != 0) {
    fprintf(stderr, "compact: %s\n", err);
    fail();
  }
  psd_storage_lock(st);
  assert_int_equal(psd_storage_bucket_state_locked(st, bucket, &after->checksum,
                                                   &after->count),
                   0);
  psd_storage_unlock(st);
  psd_storage_close(st);
  psd_sync_config_free(cfg);
  sqlite3_close(db);
}

static void compaction_between_syncs(void **state) {
  static struct server_env e;
  static struct client a, b, c;
  struct client *all[3] = {&a, &b, &c};
  struct bucket_state before, after;
  char seed[512];
  int64_t head;
  int round, i;
  (void)state;
  seed_items(seed, sizeof(seed), 6);
  server_start(&e, "compact", GLOBAL_ITEMS_YAML, seed);
  client_open(&a, "compact_a", &e, "user-a", 0);
  client_open(&b, "compact_b", &e, "user-b", 0);
  client_connect(&a);
  client_connect(&b);
  wait_first_sync(&a, -1);
  wait_first_sync(&b, -1);
  wait_converged(all, 2, &e, ITEMS_TEXT, NULL, GLOBAL_BUCKET,
                 "the initial sync");
  /* b goes offline; the same rows change many times (one op per row and
   * round: each round waits for replication). */
  ASSERT_PS_OK(powersync_db_disconnect(b.db));
  head = source_head(e.source);
  assert_int_equal(head, 6);
  for (round = 1; round <= 8; round++) {
    char sql[160];
    snprintf(sql, sizeof(sql),
             "UPDATE items SET v = v + 1, label = 'round %d', writer = 'src';",
             round);
    source_exec(e.source, sql);
    head = wait_head_above(e.source, head);
  }
  source_exec(e.source, "DELETE FROM items WHERE id = 'item-05';");
  head = wait_head_above(e.source, head);
  assert_int_equal(head, 6 + 8 * 6 + 1);
  wait_converged(all, 1, &e, ITEMS_TEXT, NULL, GLOBAL_BUCKET,
                 "a before the compaction");

  /* Compacted while the server is down (the server has no API for it). */
  client_set_server(&a, NULL);
  server_stop(&e);
  compact_source(&e, GLOBAL_BUCKET, &before, &after);
  assert_int_equal(before.count, head);
  assert_true(after.count < before.count);
  assert_int_equal(after.checksum, before.checksum);
  assert_int_equal(source_int(e.source, "SELECT count(*) FROM _powersync_ops "
                                        "WHERE op = 'CLEAR'"),
                   1);
  assert_int_equal(source_int(e.source, "SELECT count(*) FROM _powersync_ops "
                                        "WHERE op = 'PUT'"),
                   5);
  server_restart(&e);
  assert_int_equal(source_head(e.source), head);
  client_set_server(&a, e.server);
  client_set_server(&b, e.server);

  /* a resumes, b comes back from before the compaction (it gets the
   * CLEAR), c starts fresh. */
  client_connect(&b);
  client_open(&c, "compact_c", &e, "user-c", 0);
  client_connect(&c);
  wait_first_sync(&c, -1);
  wait_converged(all, 3, &e, ITEMS_TEXT, NULL, GLOBAL_BUCKET,
                 "every client after the compaction");
  assert_int_equal(client_int(&c, "SELECT count(*) FROM ps_oplog"), 5);
  assert_int_equal(client_int(&b, "SELECT count(*) FROM ps_oplog"), 5);

  /* And it goes on: a backend change and an upload. */
  source_exec(e.source, "UPDATE items SET v = -1 WHERE id = 'item-00';");
  client_exec(&c, "INSERT INTO items(id, v, label, writer) VALUES "
                  "('item-new', 1, 'after compaction', 'c')");
  wait_converged(all, 3, &e, ITEMS_TEXT, NULL, GLOBAL_BUCKET,
                 "every client after more changes");
  for (i = 0; i < 3; i++) {
    wait_healthy(all[i]);
    assert_int_equal(client_int(all[i], "SELECT count(*) FROM ps_oplog"), 6);
  }
  for (i = 0; i < 3; i++)
    client_close(all[i]);
  server_done(&e);
}

/* Compaction through a second storage on the file of a running server,
 * which is what `powersync-devserver compact --db FILE` does: it replicates
 * the changes still pending and advances the stored head, and the server
 * must assign its next op ids after that head (it once kept a stale head in
 * memory and failed every replication on a duplicate op id). An hourly poll
 * makes the race deterministic: a change is pending when the compaction
 * opens the file. */
static void compaction_while_running(void **state) {
  static struct server_env e;
  static struct client a;
  struct bucket_state before, after;
  char seed[512], url[256], *token, *resp = NULL;
  long status;
  int64_t head;
  (void)state;
  seed_items(seed, sizeof(seed), 6);
  server_start_polling(&e, "compact_live", GLOBAL_ITEMS_YAML, seed, 3600000);
  client_open(&a, "compact_live_a", &e, "user-a", 0);
  client_connect(&a);
  wait_first_sync(&a, -1);
  head = source_head(e.source);
  assert_int_equal(head, 6);
  /* A backend write the server has not replicated yet. */
  source_exec(e.source, "UPDATE items SET v = 1000 WHERE id = 'item-00';");
  /* Compaction through a second storage on the running server's file: it
   * replicates the pending write as op 7. */
  compact_source(&e, GLOBAL_BUCKET, &before, &after);
  assert_int_equal(source_head(e.source), head + 1);
  /* The server's next replication (an upload) reuses op id 7. */
  token = psd_server_token(e.server, "user-a", 0);
  snprintf(url, sizeof(url), "%s/api/data", psd_server_url(e.server));
  status = dev_http_post(url, token,
                         "{\"batch\":[{\"op\":\"PATCH\",\"type\":\"items\","
                         "\"id\":\"item-01\",\"data\":{\"v\":7}}]}",
                         &resp);
  if (status != 200)
    fprintf(stderr, "POST /api/data after a live compaction: %ld %s\n", status,
            resp ? resp : "");
  free(token);
  free(resp);
  assert_int_equal(status, 200);
  assert_int_equal(source_head(e.source), head + 2);
  wait_converged((struct client *const[]){&a}, 1, &e, ITEMS_TEXT, NULL,
                 GLOBAL_BUCKET, "a after a live compaction");
  client_close(&a);
  server_done(&e);
}

/* --- 6. Token expiry under load ---------------------------------------------
 */

static void token_expiry_under_load(void **state) {
  static struct server_env e;
  static struct client a, b;
  struct client *all[2] = {&a, &b};
  static struct writer w[2];
  char seed[512];
  int64_t until;
  int i;
  (void)state;
  seed_items(seed, sizeof(seed), 12);
  server_start(&e, "tokens", GLOBAL_ITEMS_YAML, seed);
  client_open(&a, "tokens_a", &e, "user-a", 3);
  client_open(&b, "tokens_b", &e, "user-b", 3);
  client_connect(&a);
  client_connect_format(&b, POWERSYNC_SYNC_FORMAT_NDJSON);
  wait_first_sync(&a, -1);
  wait_first_sync(&b, -1);
  /* 7 s: at least two expiries of every token, with the backend and b
   * writing all along. */
  until = mono_ms() + 7000;
  writer_start(&w[0], NULL, e.source, "src", 5, 1 << 20, until, 40);
  writer_start(&w[1], &b, NULL, "b", 6, 1 << 20, until, 120);
  writers_join(w, 2);
  wait_converged(all, 2, &e, ITEMS_TEXT, NULL, GLOBAL_BUCKET,
                 "convergence after the writes");
  for (i = 0; i < 2; i++) {
    assert_true(client_fetches(all[i]) >= 3);
    wait_healthy(all[i]);
  }
  /* Still live with the current token. */
  source_exec(e.source, "UPDATE items SET label = 'final' WHERE id IN "
                        "(SELECT id FROM items ORDER BY id LIMIT 1);"
                        "INSERT INTO items VALUES ('last', 0, 'last', 'src');");
  wait_converged(all, 2, &e, ITEMS_TEXT, NULL, GLOBAL_BUCKET,
                 "a change after the load");
  for (i = 0; i < 2; i++)
    client_close(all[i]);
  server_done(&e);
}

/* --- 7. Restart mid-stream --------------------------------------------------
 */

/* row_id:op_id of the client's oplog rows, except rows written after the
 * snapshot. */
#define OPLOG_IDS                                                              \
  "SELECT coalesce(group_concat(r, ';'), '') FROM (SELECT row_id || ':' || "   \
  "op_id AS r FROM ps_oplog WHERE row_id NOT IN ('item-03', 'item-07', "       \
  "'from-b', 'while-down') ORDER BY row_id)"

static int client_connected(struct client *c) {
  powersync_sync_status *s = NULL;
  int connected;
  ASSERT_PS_OK(powersync_db_sync_status(c->db, &s));
  connected = powersync_sync_status_connected(s);
  powersync_sync_status_free(s);
  return connected;
}

static void restart_mid_stream(void **state) {
  static struct server_env e;
  static struct client a, b;
  struct client *all[2] = {&a, &b};
  char seed[512], *ids_before, *ids_after;
  int64_t head, deadline;
  int i;
  (void)state;
  seed_items(seed, sizeof(seed), 10);
  server_start(&e, "restart", GLOBAL_ITEMS_YAML, seed);
  client_open(&a, "restart_a", &e, "user-a", 0);
  client_open(&b, "restart_b", &e, "user-b", 0);
  client_connect(&a);
  client_connect(&b);
  wait_first_sync(&a, -1);
  wait_first_sync(&b, -1);
  source_exec(e.source, "UPDATE items SET v = 100 WHERE id = 'item-01';");
  wait_converged(all, 2, &e, ITEMS_TEXT, NULL, GLOBAL_BUCKET,
                 "before the restart");

  /* b's writes stay pending across the restart. */
  client_hold_uploads(&b, 1);
  client_exec(&b, "INSERT INTO items(id, v, label, writer) VALUES "
                  "('from-b', 1, 'pending', 'b')");
  client_exec(&b, "UPDATE items SET label = 'edited by b' WHERE id = "
                  "'item-03'");
  client_exec(&b, "DELETE FROM items WHERE id = 'item-07'");
  assert_int_equal(client_int(&b, "SELECT count(*) FROM ps_crud"), 3);
  head = source_head(e.source);
  ids_before = client_text(&a, OPLOG_IDS);
  assert_true(client_connected(&a));

  client_set_server(&a, NULL);
  client_set_server(&b, NULL);
  server_stop(&e);
  deadline = mono_ms() + WAIT_MS;
  while (client_connected(&a) && mono_ms() < deadline)
    sleep_ms(10);
  assert_false(client_connected(&a));
  /* The backend keeps writing while the server is down. */
  source_exec(e.source, "INSERT INTO items VALUES ('while-down', 7, "
                        "'offline backend', 'src');");
  server_restart(&e);
  /* Op ids continue: reopening costs no op, the change made meanwhile is
   * the next one. */
  assert_int_equal(source_head(e.source), head + 1);
  client_set_server(&a, e.server);
  client_set_server(&b, e.server);
  client_hold_uploads(&b, 0);

  wait_converged(all, 2, &e, ITEMS_TEXT, NULL, GLOBAL_BUCKET,
                 "after the restart");
  assert_int_equal(source_int(e.source, "SELECT count(*) FROM items WHERE "
                                        "(id = 'from-b' AND writer = 'b') OR "
                                        "(id = 'item-03' AND label = 'edited "
                                        "by b') OR id = 'while-down'"),
                   3);
  assert_int_equal(source_int(e.source, "SELECT count(*) FROM items WHERE id "
                                        "= 'item-07'"),
                   0);
  /* No resync: rows untouched since keep the ops they had, new ops come
   * after the old head, and there is one op per row. */
  ids_after = client_text(&a, OPLOG_IDS);
  assert_string_equal(ids_after, ids_before);
  free(ids_before);
  free(ids_after);
  for (i = 0; i < 2; i++) {
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM ps_oplog WHERE row_id IN ('from-b', "
             "'item-03', 'while-down') AND op_id > %lld",
             (long long)head);
    assert_int_equal(client_int(all[i], sql), 3);
    assert_int_equal(client_int(all[i], "SELECT count(*) FROM ps_oplog"),
                     client_int(all[i], "SELECT count(*) FROM items"));
    assert_int_equal(
        client_int(all[i], "SELECT count(DISTINCT row_id) FROM ps_oplog"),
        client_int(all[i], "SELECT count(*) FROM ps_oplog"));
    wait_healthy(all[i]);
  }
  for (i = 0; i < 2; i++)
    client_close(all[i]);
  server_done(&e);
}

/* Releases what a failed test left behind (nothing after a pass), so that
 * the next tests run on a clean slate. */
static int teardown(void **state) {
  size_t i;
  (void)state;
  for (i = 0; i < MAX_LIVE; i++) {
    powersync_stream_subscription **sub = live_subs[i];
    if (sub && *sub) {
      powersync_stream_unsubscribe(*sub);
      *sub = NULL;
    }
    live_subs[i] = NULL;
  }
  for (i = 0; i < MAX_LIVE; i++) {
    struct client *c = live_clients[i];
    if (!c)
      continue;
    client_set_server(c, NULL);
    powersync_db_disconnect(c->db);
    powersync_db_close(c->db);
    dev_connector_destroy(&c->conn);
    live_clients[i] = NULL;
  }
  for (i = 0; i < MAX_LIVE; i++) {
    struct server_env *e = live_servers[i];
    if (!e)
      continue;
    server_stop(e);
    pthread_mutex_destroy(&e->mu);
    live_servers[i] = NULL;
  }
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(random_writes_converge, teardown),
      cmocka_unit_test_teardown(parameterized_buckets, teardown),
      cmocka_unit_test_teardown(sync_streams_through_sdk, teardown),
      cmocka_unit_test_teardown(priority_zero_first, teardown),
      cmocka_unit_test_teardown(compaction_between_syncs, teardown),
      cmocka_unit_test_teardown(compaction_while_running, teardown),
      cmocka_unit_test_teardown(token_expiry_under_load, teardown),
      cmocka_unit_test_teardown(restart_mid_stream, teardown),
  };
  int rc;
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
