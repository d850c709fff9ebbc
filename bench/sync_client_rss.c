/*
 * sync_client_rss.c: peak memory and speed of a whole client (libcurl
 * transport, framer, core, SQLite) syncing N rows from the mock service
 * over HTTP on 127.0.0.1. Not a test: run it for several N and compare the
 * peak RSS, which must not grow with N beyond SQLite's page caches.
 *
 *   make bench-sync-client          (10k, 100k and 1M rows)
 *   build/bench_sync_client N [cache_kib]
 *
 * Prints one line: N, seconds to first sync, rows/s, peak RSS (MiB). The
 * process is the client and the service at once; the service side only
 * streams generated lines (it holds one line at a time), so the peak is the
 * client's. One process per N: peak RSS is a process-wide high-water mark.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mock_service.h"
#include "powersync.h"

#define OPS_PER_LINE 1000

struct bench {
  const char *url;
  long rows;
};

static int fetch_credentials(void *user_data, powersync_credentials *out) {
  struct bench *b = user_data;
  return powersync_credentials_set(out, b->url, "bench-token");
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One data line of OPS_PER_LINE (or fewer) PUTs with checksum 1 each and a
 * ~100-byte row. */
static size_t data_line(char *buf, size_t cap, long first, long n) {
  size_t len = (size_t)snprintf(buf, cap,
                                "{\"data\":{\"bucket\":\"todos\",\"has_more\":"
                                "false,\"after\":null,\"next_after\":\"%ld\","
                                "\"data\":[",
                                first + n - 1);
  long i;
  for (i = 0; i < n; i++)
    len += (size_t)snprintf(
        buf + len, cap - len,
        "%s{\"op_id\":\"%ld\",\"op\":\"PUT\",\"object_type\":\"todos\","
        "\"object_id\":\"row-%010ld\",\"checksum\":1,\"data\":\"{\\\"descri"
        "ption\\\":\\\"Todo number %ld with some text to make it longer\\\","
        "\\\"done\\\":0}\"}",
        i ? "," : "", first + i, first + i, first + i);
  len += (size_t)snprintf(buf + len, cap - len, "]}}");
  return len;
}

static int serve(mock_stream *s, long rows) {
  size_t cap = (size_t)OPS_PER_LINE * 300 + 256;
  char *buf = malloc(cap);
  long op;
  int rc;
  if (!buf)
    return -1;
  snprintf(buf, cap,
           "{\"checkpoint\":{\"last_op_id\":\"%ld\",\"write_checkpoint\":null,"
           "\"buckets\":[{\"bucket\":\"todos\",\"checksum\":%lu,\"count\":%ld,"
           "\"priority\":3}]}}",
           rows, (unsigned long)((unsigned long)rows & 0xffffffffUL), rows);
  rc = mock_stream_begin(s, "application/x-ndjson", 0);
  if (rc == 0)
    rc = mock_stream_send_line(s, buf);
  for (op = 1; rc == 0 && op <= rows; op += OPS_PER_LINE) {
    long n = rows - op + 1 < OPS_PER_LINE ? rows - op + 1 : OPS_PER_LINE;
    size_t len = data_line(buf, cap - 1, op, n);
    buf[len++] = '\n';
    rc = mock_stream_send(s, buf, len);
  }
  snprintf(buf, cap, "{\"checkpoint_complete\":{\"last_op_id\":\"%ld\"}}",
           rows);
  if (rc == 0)
    rc = mock_stream_send_line(s, buf);
  free(buf);
  return rc;
}

static powersync_schema *schema(void) {
  powersync_schema *s = powersync_schema_new();
  powersync_table *t = NULL;
  powersync_schema_add_table(s, "todos", &t);
  powersync_table_add_column(t, "description", POWERSYNC_COLUMN_TEXT);
  powersync_table_add_column(t, "done", POWERSYNC_COLUMN_INTEGER);
  return s;
}

int main(int argc, char **argv) {
  struct bench b;
  powersync_connector connector = {POWERSYNC_CONNECTOR_VERSION, &b,
                                   fetch_credentials, NULL, NULL};
  powersync_connect_options co = POWERSYNC_CONNECT_OPTIONS_INIT;
  powersync_db_options dbo = POWERSYNC_DB_OPTIONS_INIT;
  powersync_schema *sch;
  powersync_db *db = NULL;
  mock_service *ms;
  mock_stream *s;
  struct rusage ru;
  char path[256];
  double t0, elapsed;
  int rc;

  if (argc < 2) {
    fprintf(stderr, "usage: %s ROWS [cache_kib]\n", argv[0]);
    return 2;
  }
  b.rows = atol(argv[1]);
  if (argc > 2)
    dbo.cache_size_kib = atoi(argv[2]);
  snprintf(path, sizeof(path), "/tmp/bench_sync_client_%d.db", (int)getpid());
  ms = mock_service_start();
  if (!ms)
    return 1;
  b.url = mock_service_url(ms);
  sch = schema();
  rc = powersync_db_open(&db, path, sch, &dbo);
  powersync_schema_free(sch);
  if (rc != POWERSYNC_OK) {
    fprintf(stderr, "open: %s\n", powersync_error_last()->message);
    return 1;
  }
  co.format = POWERSYNC_SYNC_FORMAT_NDJSON;
  t0 = now_s();
  rc = powersync_db_connect(db, &connector, &co);
  s = rc == POWERSYNC_OK ? mock_service_next_stream(ms, 10000) : NULL;
  if (!s || serve(s, b.rows) != 0) {
    fprintf(stderr, "serving failed\n");
    return 1;
  }
  rc = powersync_db_wait_for_first_sync(db, -1, 3600 * 1000);
  elapsed = now_s() - t0;
  powersync_db_disconnect(db);
  mock_stream_free(s);
  getrusage(RUSAGE_SELF, &ru);
  printf("rows=%ld cache_kib=%d seconds=%.2f rows_per_s=%.0f peak_rss_mib=%.1f"
         " %s\n",
         b.rows, dbo.cache_size_kib, elapsed, (double)b.rows / elapsed,
         (double)ru.ru_maxrss / 1024.0, rc == POWERSYNC_OK ? "ok" : "FAILED");
  powersync_db_close(db);
  mock_service_stop(ms);
  unlink(path);
  snprintf(path + strlen(path), sizeof(path) - strlen(path), "-wal");
  unlink(path);
  return rc == POWERSYNC_OK ? 0 : 1;
}
