/*
 * pool_read.c: read throughput of the libpowersync connection pool with 1
 * and 5 reader connections while a writer commits continuously.
 *
 *   cmake --build build --target bench_pool_read
 *   build/bench_pool_read [seconds per run, default 2] [query threads, 8]
 *
 * Each run opens a fresh file database holding ROWS todos, starts one
 * writer thread (small write transactions back to back, which also makes
 * change notifications flow) and N query threads that each run
 * powersync_db_query over a random range of RANGE rows, and prints queries
 * per second. Not a test: the numbers depend on the machine.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h> /* unlink */

#include <powersync.h>

#define ROWS        10000 /* Enough rows that a range query reads several pages. */
#define RANGE       100 /* Rows per query. */
#define MAX_THREADS 64

struct run {
  powersync_db *db;
  atomic_int stop;
  atomic_long queries;
  atomic_long commits;
  int failed;
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int check(int rc, const char *what) {
  if (rc != POWERSYNC_OK)
    fprintf(stderr, "%s: %s (%s)\n", what, powersync_errstr(rc),
            powersync_error_last()->message);
  return rc;
}

static void *query_loop(void *p) {
  struct run *r = p;
  unsigned int seed = (unsigned int)(uintptr_t)&seed;
  while (!atomic_load(&r->stop)) {
    powersync_value params[2];
    powersync_rows *rows = NULL;
    int64_t lo = rand_r(&seed) % (ROWS - RANGE);
    params[0] = powersync_int(lo);
    params[1] = powersync_int(lo + RANGE);
    if (check(powersync_db_query(r->db,
                                 "SELECT id, description, done FROM todos "
                                 "WHERE done BETWEEN ? AND ?",
                                 params, 2, &rows),
              "query")) {
      r->failed = 1;
      break;
    }
    powersync_rows_free(rows);
    atomic_fetch_add(&r->queries, 1);
  }
  return NULL;
}

static int write_some(sqlite3 *conn, void *user_data) {
  (void)user_data;
  return sqlite3_exec(conn,
                      "UPDATE todos SET description = hex(randomblob(8)) "
                      "WHERE done = abs(random()) % 10000",
                      NULL, NULL, NULL);
}

static void *write_loop(void *p) {
  struct run *r = p;
  while (!atomic_load(&r->stop)) {
    if (check(powersync_db_write_transaction(r->db, write_some, NULL),
              "write")) {
      r->failed = 1;
      break;
    }
    atomic_fetch_add(&r->commits, 1);
  }
  return NULL;
}

static int fill(sqlite3 *conn, void *user_data) {
  (void)user_data;
  return sqlite3_exec(
      conn,
      "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n "
      "WHERE i < 9999) INSERT INTO todos(id, description, done) "
      "SELECT uuid(), 'todo ' || i, i FROM n",
      NULL, NULL, NULL);
}

static powersync_schema *make_schema(void) {
  powersync_schema *s = powersync_schema_new();
  powersync_table *t = NULL;
  powersync_index *ix = NULL;
  if (!s || powersync_schema_add_table(s, "todos", &t) ||
      powersync_table_add_column(t, "description", POWERSYNC_COLUMN_TEXT) ||
      powersync_table_add_column(t, "done", POWERSYNC_COLUMN_INTEGER) ||
      powersync_table_add_index(t, "done", &ix) ||
      powersync_index_add_column(ix, "done", 1)) {
    powersync_schema_free(s);
    return NULL;
  }
  return s;
}

static int run_once(const char *path, int readers, int threads,
                    double seconds) {
  powersync_db_options opts = POWERSYNC_DB_OPTIONS_INIT;
  powersync_schema *schema = make_schema();
  pthread_t tids[MAX_THREADS + 1];
  struct run r;
  struct timespec tick = {0, 10000000L}; /* 10 ms */
  double start, elapsed;
  int i, rc;

  unlink(path);
  opts.readers = readers;
  r.db = NULL;
  atomic_init(&r.stop, 0);
  atomic_init(&r.queries, 0);
  atomic_init(&r.commits, 0);
  r.failed = 0;
  rc = check(powersync_db_open(&r.db, path, schema, &opts), "open");
  powersync_schema_free(schema);
  if (rc == POWERSYNC_OK)
    rc = check(powersync_db_write_transaction(r.db, fill, NULL), "fill");
  if (rc != POWERSYNC_OK)
    return 1;

  start = now_s();
  pthread_create(&tids[0], NULL, write_loop, &r);
  for (i = 0; i < threads; i++)
    pthread_create(&tids[i + 1], NULL, query_loop, &r);
  while (now_s() - start < seconds)
    nanosleep(&tick, NULL);
  atomic_store(&r.stop, 1);
  for (i = 0; i <= threads; i++)
    pthread_join(tids[i], NULL);
  elapsed = now_s() - start;
  printf("readers=%d query_threads=%d: %.0f queries/s (%d rows each), "
         "writer %.0f commits/s\n",
         readers, threads, (double)atomic_load(&r.queries) / elapsed, RANGE,
         (double)atomic_load(&r.commits) / elapsed);
  rc = check(powersync_db_close(r.db), "close");
  return r.failed || rc != POWERSYNC_OK;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 2.0;
  int threads = argc > 2 ? atoi(argv[2]) : 8;
  char path[] = "/tmp/ps_bench_pool_read.db";
  int failed = 0;
  if (threads < 1 || threads > MAX_THREADS || seconds <= 0) {
    fprintf(stderr, "usage: %s [seconds] [query threads 1..%d]\n", argv[0],
            MAX_THREADS);
    return 2;
  }
  failed |= run_once(path, 1, threads, seconds);
  failed |= run_once(path, 5, threads, seconds);
  return failed;
}
