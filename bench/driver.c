/*
 * driver.c: psbench-driver, applies a generated sync stream through
 * powersync_control with one core, or writes the same rows straight into the
 * tables (the SQLite floor), and prints one RESULT line.
 *
 * Usage:
 *
 *   psbench-driver sync  --core LIB --input FILE --format ndjson|bson
 *                        [--label NAME] [generator options] [common options]
 *   psbench-driver floor --core LIB [generator options] [common options]
 *
 *   generator options: --rows --buckets --batch --row-size --rounds --seed,
 *                      the values the stream was generated with (gen.h)
 *   common options:    --dir DIR (default $TMPDIR or /tmp), --cache-kib K
 *                      (default 16000, as in @powersync/node's SQLite build),
 *                      --keep (leave the database behind), --verbose
 *                      (print the time of every incremental line to stderr)
 *
 * The driver is linked with the SQLite amalgamation that better-sqlite3
 * bundles, so every core runs on the same SQLite; it loads LIB with
 * sqlite3_load_extension(db, LIB, "sqlite3_powersync_init"). Run one process
 * per measurement: the peak RSS it reports is that of the whole process.
 *
 * HOW IT WORKS
 *
 * Both modes open a fresh file database in a temporary directory with the
 * settings of the SDKs (WAL, synchronous=NORMAL, 6 MB journal size limit),
 * load the core and run powersync_init() and powersync_replace_schema() with
 * the benchmark schema in one transaction.
 *
 * sync: powersync_control('start', {"schema": ...}) and ('connection',
 * 'established'), then every line of the file in its own transaction
 * (BEGIN; SELECT powersync_control('line_text' | 'line_binary', ?); COMMIT),
 * as the SDKs do. Lines are read one at a time into a reused buffer, outside
 * the timed section. The time of every line up to the first
 * checkpoint_complete is the data phase; that checkpoint_complete (which
 * validates checksums and runs sync_local) is timed alone; each later round
 * (checkpoint_diff, data, checkpoint_complete) gives one incremental sample,
 * timed as data + checkpoint_complete. If 'start' fails (a build without a
 * sync engine) the result is status=unavailable, not a crash.
 *
 * So that a broken core cannot report a fast but wrong number, every
 * checkpoint_complete must answer "Validated and applied checkpoint", and at
 * the end ps_data__todos must hold exactly --rows rows, ps_oplog one op per
 * row, and sampled rows plus every row changed by a round must equal what
 * the generator builds for them byte for byte.
 *
 * floor: the physical limit of the on-disk format. In one transaction, with
 * prepared statements: the ps_buckets rows, then one ps_oplog row per op in
 * stream order, then the ps_data__todos rows in id order (the order in which
 * sync_local writes them). Rows come from the generator, so there is no
 * parsing and no checksum work; the time spent generating them is measured
 * and subtracted. With --per-line (RESULT mode=floor-lines) ps_oplog is
 * committed a stream line at a time instead: the least that a core which
 * commits each line, as SDKs do, has to write in its data phase.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "gen.h"
#include "sqlite3.h"

#define MAX_LINE_BYTES ((uint32_t)1 << 30)
#define APPLIED_MARKER "Validated and applied checkpoint"
#define SAMPLE_ROWS    64

/* ---- small helpers ------------------------------------------------------ */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* Current resident set size, from /proc/self/statm (0 if unavailable). */
static long current_rss_kib(void) {
  long pages_total = 0, pages_resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f)
    return 0;
  if (fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2)
    pages_resident = 0;
  fclose(f);
  return pages_resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v); 0 when n is 0. */
static double median(double *v, size_t n) {
  if (n == 0)
    return 0;
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- options ------------------------------------------------------------ */

struct options {
  const char *mode;
  const char *core;
  const char *label;
  const char *input;
  const char *format;
  const char *dir;
  long cache_kib;
  int keep;
  int verbose;
  int per_line; /* floor: commit ps_oplog a line at a time */
  struct bench_config cfg;
};

static void usage(void) {
  fprintf(stderr,
          "usage: psbench-driver sync --core LIB --input FILE "
          "--format ndjson|bson [--label NAME]\n"
          "                     [generator options] [common options]\n"
          "       psbench-driver floor --core LIB [--per-line] "
          "[generator options]\n"
          "                     [common options]\n"
          "generator options: --rows --buckets --batch --row-size --rounds "
          "--seed\n"
          "common options: --dir DIR --cache-kib K --keep --verbose\n");
}

static int parse_options(int argc, char **argv, struct options *o) {
  memset(o, 0, sizeof *o);
  bench_config_defaults(&o->cfg);
  o->cache_kib = 16000;
  o->label = "core";
  if (argc < 2)
    return -1;
  o->mode = argv[1];
  if (strcmp(o->mode, "sync") != 0 && strcmp(o->mode, "floor") != 0)
    return -1;
  for (int i = 2; i < argc; i++) {
    const char *arg = argv[i];
    const char *value = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(arg, "--keep") == 0 || strcmp(arg, "--verbose") == 0) {
      *(arg[2] == 'k' ? &o->keep : &o->verbose) = 1;
      continue;
    }
    if (strcmp(arg, "--per-line") == 0 && strcmp(o->mode, "floor") == 0) {
      o->per_line = 1;
      continue;
    }
    if (strncmp(arg, "--", 2) != 0 || !value)
      return -1;
    i++;
    if (strcmp(arg, "--core") == 0) {
      o->core = value;
    } else if (strcmp(arg, "--label") == 0) {
      o->label = value;
    } else if (strcmp(arg, "--input") == 0) {
      o->input = value;
    } else if (strcmp(arg, "--format") == 0) {
      o->format = value;
    } else if (strcmp(arg, "--dir") == 0) {
      o->dir = value;
    } else if (strcmp(arg, "--cache-kib") == 0) {
      char *end;
      o->cache_kib = strtol(value, &end, 10);
      if (*end || o->cache_kib <= 0)
        return -1;
    } else if (bench_config_option(&o->cfg, arg + 2, value) != 1) {
      return -1;
    }
  }
  if (!o->core)
    return -1;
  if (strcmp(o->mode, "sync") == 0 &&
      (!o->input || !o->format ||
       (strcmp(o->format, "ndjson") != 0 && strcmp(o->format, "bson") != 0)))
    return -1;
  if (!o->dir)
    o->dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  return bench_config_check(&o->cfg) == 0 ? 0 : -1;
}

/* ---- database ----------------------------------------------------------- */

struct bench {
  sqlite3 *db;
  char dir[4096];
  char path[4200];
  char error[1024];
};

static void set_error(struct bench *b, const char *what) {
  snprintf(b->error, sizeof b->error, "%s: %s", what,
           b->db ? sqlite3_errmsg(b->db) : "no database");
}

static int exec(struct bench *b, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(b->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    snprintf(b->error, sizeof b->error, "%s: %s", sql,
             msg ? msg : "unknown error");
    sqlite3_free(msg);
    return -1;
  }
  return 0;
}

static int64_t query_int(struct bench *b, const char *sql) {
  sqlite3_stmt *st;
  int64_t v = -1;
  if (sqlite3_prepare_v2(b->db, sql, -1, &st, NULL) != SQLITE_OK) {
    set_error(b, sql);
    return -1;
  }
  if (sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  else
    set_error(b, sql);
  sqlite3_finalize(st);
  return v;
}

/* Creates the temporary directory, opens the database with the SDK settings
 * and loads the core. */
static int bench_open(struct bench *b, const struct options *o) {
  char *err = NULL;
  char pragmas[256];
  snprintf(b->dir, sizeof b->dir, "%s/psbench.XXXXXX", o->dir);
  if (!mkdtemp(b->dir)) {
    snprintf(b->error, sizeof b->error, "mkdtemp %.900s: %s", b->dir,
             strerror(errno));
    b->dir[0] = '\0';
    return -1;
  }
  snprintf(b->path, sizeof b->path, "%s/bench.db", b->dir);
  if (sqlite3_open_v2(b->path, &b->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      NULL) != SQLITE_OK) {
    set_error(b, "open");
    return -1;
  }
  sqlite3_db_config(b->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, NULL);
  if (sqlite3_load_extension(b->db, o->core, "sqlite3_powersync_init", &err) !=
      SQLITE_OK) {
    snprintf(b->error, sizeof b->error, "cannot load %.900s: %s", o->core,
             err ? err : "unknown error");
    sqlite3_free(err);
    return -1;
  }
  snprintf(pragmas, sizeof pragmas,
           "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
           "PRAGMA journal_size_limit = 6291456; PRAGMA cache_size = -%ld;",
           o->cache_kib);
  if (exec(b, pragmas) != 0)
    return -1;
  return exec(b, "BEGIN; SELECT powersync_init(); "
                 "SELECT powersync_replace_schema('" BENCH_SCHEMA_JSON "');"
                 "COMMIT;");
}

/* Size of the database file once the WAL is checkpointed into it. */
static int64_t bench_db_bytes(struct bench *b) {
  if (exec(b, "PRAGMA wal_checkpoint(TRUNCATE)") != 0)
    return -1;
  int64_t pages = query_int(b, "PRAGMA page_count");
  int64_t size = query_int(b, "PRAGMA page_size");
  return pages < 0 || size < 0 ? -1 : pages * size;
}

static void bench_close(struct bench *b, int keep) {
  if (b->db)
    sqlite3_close(b->db);
  b->db = NULL;
  if (!b->dir[0])
    return;
  if (keep) {
    fprintf(stderr, "database kept at %s\n", b->path);
    return;
  }
  static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    char p[4300];
    snprintf(p, sizeof p, "%s%s", b->path, suffixes[i]);
    unlink(p);
  }
  rmdir(b->dir);
}

/* ---- checks shared by both modes ---------------------------------------- */

/* Compares the stored data of row `index` with the generator's version
 * `rev`. */
static int check_row(struct bench *b, sqlite3_stmt *get,
                     const struct bench_config *cfg, uint64_t index,
                     uint32_t rev, struct bench_row *row) {
  bench_row_build(cfg, index, rev, row);
  sqlite3_bind_text(get, 1, row->id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(get);
  int ok = rc == SQLITE_ROW &&
           (size_t)sqlite3_column_bytes(get, 0) == row->data.len &&
           memcmp(sqlite3_column_blob(get, 0), row->data.p, row->data.len) == 0;
  sqlite3_reset(get);
  if (!ok)
    snprintf(b->error, sizeof b->error,
             "verification failed: row %" PRIu64 " (id %s, version %" PRIu32
             ") is %s",
             index, row->id, rev, rc == SQLITE_ROW ? "different" : "missing");
  return ok ? 0 : -1;
}

/* Checks the row count and sampled rows; in sync mode also the rows changed
 * by the first `rounds` incremental rounds. */
static int verify(struct bench *b, const struct bench_config *cfg,
                  uint32_t rounds) {
  struct bench_row row = {0};
  sqlite3_stmt *get = NULL;
  int rc = -1;
  int64_t rows = query_int(b, "SELECT count(*) FROM ps_data__todos");
  int64_t ops = query_int(b, "SELECT count(*) FROM ps_oplog");
  if (rows != (int64_t)cfg->rows || ops != (int64_t)cfg->rows) {
    snprintf(b->error, sizeof b->error,
             "verification failed: %" PRId64 " rows and %" PRId64
             " ops stored, expected %" PRIu64 " of each",
             rows, ops, cfg->rows);
    return -1;
  }
  if (sqlite3_prepare_v2(b->db, "SELECT data FROM ps_data__todos WHERE id = ?",
                         -1, &get, NULL) != SQLITE_OK) {
    set_error(b, "prepare");
    return -1;
  }
  for (uint32_t s = 0; s < SAMPLE_ROWS; s++) {
    uint64_t index = (uint64_t)s * cfg->rows / SAMPLE_ROWS;
    uint32_t rev = 0;
    for (uint32_t k = 1; k <= rounds; k++)
      if (bench_round_row(cfg, k) == index)
        rev = k;
    if (check_row(b, get, cfg, index, rev, &row) != 0)
      goto done;
  }
  for (uint32_t k = 1; k <= rounds; k++)
    if (check_row(b, get, cfg, bench_round_row(cfg, k), k, &row) != 0)
      goto done;
  rc = 0;
done:
  sqlite3_finalize(get);
  bench_buf_free(&row.data);
  return rc;
}

/* ---- sync mode ---------------------------------------------------------- */

enum line_kind { LINE_OTHER, LINE_CHECKPOINT, LINE_DIFF, LINE_DATA, LINE_DONE };

struct reader {
  FILE *f;
  int bson;
  struct bench_buf line;
  uint64_t number;
};

/* Reads the next line into r->line. Returns 1, 0 at the end, -1 on error. */
static int read_line(struct reader *r, char *error, size_t error_size) {
  r->number++;
  r->line.len = 0;
  if (r->bson) {
    unsigned char head[4];
    size_t got = fread(head, 1, 4, r->f);
    if (got == 0 && feof(r->f))
      return 0;
    uint32_t len = (uint32_t)head[0] | (uint32_t)head[1] << 8 |
                   (uint32_t)head[2] << 16 | (uint32_t)head[3] << 24;
    if (got != 4 || len < 5 || len > MAX_LINE_BYTES) {
      snprintf(error, error_size, "line %" PRIu64 ": bad BSON length",
               r->number);
      return -1;
    }
    bench_buf_reserve(&r->line, len);
    memcpy(r->line.p, head, 4);
    if (fread(r->line.p + 4, 1, len - 4, r->f) != len - 4) {
      snprintf(error, error_size, "line %" PRIu64 ": truncated document",
               r->number);
      return -1;
    }
    r->line.len = len;
    return 1;
  }
  for (;;) {
    bench_buf_reserve(&r->line, 65536);
    if (!fgets(r->line.p + r->line.len, (int)(r->line.cap - r->line.len), r->f))
      return r->line.len ? 1 : 0;
    r->line.len += strlen(r->line.p + r->line.len);
    if (r->line.len && r->line.p[r->line.len - 1] == '\n') {
      r->line.len--;
      return 1;
    }
    if (r->line.len > MAX_LINE_BYTES) {
      snprintf(error, error_size, "line %" PRIu64 ": too long", r->number);
      return -1;
    }
  }
}

/* The line type is the first key of the line's object. */
static enum line_kind classify(const struct reader *r) {
  const char *key;
  size_t n;
  if (r->bson) {
    key = r->line.p + 5;
    n = strnlen(key, r->line.len - 5);
  } else {
    if (r->line.len < 3 || r->line.p[0] != '{' || r->line.p[1] != '"')
      return LINE_OTHER;
    key = r->line.p + 2;
    const char *end = memchr(key, '"', r->line.len - 2);
    n = end ? (size_t)(end - key) : 0;
  }
#define IS(s) (n == sizeof(s) - 1 && memcmp(key, s, n) == 0)
  if (IS("checkpoint"))
    return LINE_CHECKPOINT;
  if (IS("checkpoint_diff"))
    return LINE_DIFF;
  if (IS("data"))
    return LINE_DATA;
  if (IS("checkpoint_complete"))
    return LINE_DONE;
#undef IS
  return LINE_OTHER;
}

struct control {
  struct bench *b;
  sqlite3_stmt *begin, *commit, *rollback, *call;
};

/* One powersync_control call in its own transaction. With `applied`, the
 * instructions must report an applied checkpoint. */
static int control(struct control *c, const char *op, const void *payload,
                   size_t len, int blob, int applied) {
  sqlite3_stmt *st = c->call;
  int ok;
  if (sqlite3_step(c->begin) != SQLITE_DONE) {
    sqlite3_reset(c->begin);
    set_error(c->b, "BEGIN");
    return -1;
  }
  sqlite3_reset(c->begin);
  sqlite3_bind_text(st, 1, op, -1, SQLITE_STATIC);
  if (blob)
    sqlite3_bind_blob64(st, 2, payload, len, SQLITE_STATIC);
  else
    sqlite3_bind_text64(st, 2, payload, len, SQLITE_STATIC, SQLITE_UTF8);
  ok = sqlite3_step(st) == SQLITE_ROW;
  if (!ok) {
    snprintf(c->b->error, sizeof c->b->error, "powersync_control('%s'): %s", op,
             sqlite3_errmsg(c->b->db));
  } else if (applied) {
    const char *out = (const char *)sqlite3_column_text(st, 0);
    ok = out && strstr(out, APPLIED_MARKER);
    if (!ok)
      snprintf(c->b->error, sizeof c->b->error,
               "checkpoint not applied: %.900s", out ? out : "(null)");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (!ok) {
    sqlite3_step(c->rollback);
    sqlite3_reset(c->rollback);
    return -1;
  }
  if (sqlite3_step(c->commit) != SQLITE_DONE) {
    sqlite3_reset(c->commit);
    set_error(c->b, "COMMIT");
    return -1;
  }
  sqlite3_reset(c->commit);
  return 0;
}

static int prepare(struct bench *b, const char *sql, sqlite3_stmt **st) {
  if (sqlite3_prepare_v3(b->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) !=
      SQLITE_OK) {
    set_error(b, sql);
    return -1;
  }
  return 0;
}

struct sync_result {
  uint64_t lines;
  double data_s, sync_local_s;
  double *incr_ms, *round_ms; /* one sample per incremental round */
  uint32_t rounds;
  long rss_setup_kib;
};

static int run_sync(struct bench *b, const struct options *o,
                    struct sync_result *res, int *unavailable) {
  struct control c = {b, NULL, NULL, NULL, NULL};
  struct reader r = {NULL, strcmp(o->format, "bson") == 0, {0}, 0};
  static const char start[] = "{\"parameters\":{},\"schema\":" BENCH_SCHEMA_JSON
                              ",\"include_defaults\":true,"
                              "\"active_streams\":[]}";
  int rc = -1, got;
  int phase = 0; /* 0: first sync, 1: incremental rounds */
  double round_apply = 0, round_all = 0;

  res->incr_ms = calloc((size_t)o->cfg.rounds + 1, sizeof(double));
  res->round_ms = calloc((size_t)o->cfg.rounds + 1, sizeof(double));
  if (!res->incr_ms || !res->round_ms) {
    snprintf(b->error, sizeof b->error, "out of memory");
    return -1;
  }
  if (prepare(b, "BEGIN IMMEDIATE", &c.begin) != 0 ||
      prepare(b, "COMMIT", &c.commit) != 0 ||
      prepare(b, "ROLLBACK", &c.rollback) != 0 ||
      prepare(b, "SELECT powersync_control(?1, ?2)", &c.call) != 0)
    goto done;

  if (control(&c, "start", start, sizeof start - 1, 0, 0) != 0) {
    *unavailable = 1;
    goto done;
  }
  if (control(&c, "connection", "established", 11, 0, 0) != 0)
    goto done;

  r.f = fopen(o->input, "rb");
  if (!r.f) {
    snprintf(b->error, sizeof b->error, "%.900s: %s", o->input,
             strerror(errno));
    goto done;
  }
  res->rss_setup_kib = current_rss_kib();
  while ((got = read_line(&r, b->error, sizeof b->error)) == 1) {
    enum line_kind kind = classify(&r);
    int done_line = kind == LINE_DONE;
    double t0 = now_s();
    if (control(&c, r.bson ? "line_binary" : "line_text", r.line.p, r.line.len,
                r.bson, done_line) != 0) {
      size_t n = strlen(b->error);
      snprintf(b->error + n, sizeof b->error - n, " (line %" PRIu64 ")",
               r.number);
      goto done;
    }
    double t = now_s() - t0;
    res->lines++;
    if (phase == 0) {
      if (done_line) {
        res->sync_local_s = t;
        phase = 1;
      } else {
        res->data_s += t;
      }
      continue;
    }
    round_all += t;
    if (kind == LINE_DATA || done_line)
      round_apply += t;
    if (o->verbose)
      fprintf(stderr, "round %" PRIu32 " line %" PRIu64 " (%s): %.3f ms\n",
              res->rounds + 1, r.number,
              kind == LINE_DATA ? "data"
              : done_line       ? "complete"
                                : "other",
              t * 1e3);
    if (done_line && res->rounds < o->cfg.rounds) {
      res->incr_ms[res->rounds] = round_apply * 1e3;
      res->round_ms[res->rounds] = round_all * 1e3;
      res->rounds++;
      round_apply = round_all = 0;
    }
  }
  if (got < 0)
    goto done;
  if (phase == 0) {
    snprintf(b->error, sizeof b->error,
             "%.900s: no checkpoint_complete line in the stream", o->input);
    goto done;
  }
  rc = verify(b, &o->cfg, res->rounds);
done:
  if (r.f)
    fclose(r.f);
  bench_buf_free(&r.line);
  sqlite3_finalize(c.begin);
  sqlite3_finalize(c.commit);
  sqlite3_finalize(c.rollback);
  sqlite3_finalize(c.call);
  return rc;
}

static int main_sync(const struct options *o) {
  struct bench b;
  struct sync_result res;
  int unavailable = 0, rc;
  memset(&b, 0, sizeof b);
  memset(&res, 0, sizeof res);

  rc = bench_open(&b, o);
  if (rc != 0 && b.db && strncmp(b.error, "cannot load", 11) == 0)
    unavailable = 1;
  if (rc == 0)
    rc = run_sync(&b, o, &res, &unavailable);
  int64_t db_bytes = rc == 0 ? bench_db_bytes(&b) : -1;
  long rss = peak_rss_kib();
  bench_close(&b, o->keep);

  printf("RESULT mode=sync label=%s format=%s rows=%" PRIu64
         " row_size=%" PRIu32 " buckets=%" PRIu32 " batch=%" PRIu32,
         o->label, o->format, o->cfg.rows, o->cfg.row_size, o->cfg.buckets,
         o->cfg.batch);
  if (rc != 0) {
    printf(" status=%s\n", unavailable ? "unavailable" : "error");
    fprintf(stderr, "%s: %s\n", o->label, b.error);
    return unavailable ? 3 : 1;
  }
  double incr_max = 0;
  for (uint32_t i = 0; i < res.rounds; i++)
    if (res.incr_ms[i] > incr_max)
      incr_max = res.incr_ms[i];
  double rows = (double)o->cfg.rows;
  printf(" status=ok lines=%" PRIu64 " data_s=%.3f data_ops=%.0f"
         " sync_local_s=%.3f sync_local_ops=%.0f total_ops=%.0f"
         " incr_rounds=%" PRIu32 " incr_median_ms=%.3f incr_max_ms=%.3f"
         " round_median_ms=%.3f rss_setup_kib=%ld rss_peak_kib=%ld"
         " db_bytes=%" PRId64 "\n",
         res.lines, res.data_s, rows / res.data_s, res.sync_local_s,
         rows / res.sync_local_s, rows / (res.data_s + res.sync_local_s),
         res.rounds, median(res.incr_ms, res.rounds), incr_max,
         median(res.round_ms, res.rounds), res.rss_setup_kib, rss, db_bytes);
  free(res.incr_ms);
  free(res.round_ms);
  return 0;
}

/* ---- floor mode --------------------------------------------------------- */

struct id_order {
  uint64_t key[2];
  uint64_t index;
};

static int cmp_id_order(const void *pa, const void *pb) {
  const struct id_order *a = pa, *b = pb;
  if (a->key[0] != b->key[0])
    return a->key[0] < b->key[0] ? -1 : 1;
  if (a->key[1] != b->key[1])
    return a->key[1] < b->key[1] ? -1 : 1;
  return 0;
}

struct floor_result {
  double oplog_s, data_s, commit_s; /* generation time excluded */
  double gen_s;                     /* time spent generating rows */
};

static int step_done(struct bench *b, sqlite3_stmt *st, const char *what) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    set_error(b, what);
    return -1;
  }
  return 0;
}

static int run_floor(struct bench *b, const struct bench_config *cfg,
                     int per_line, struct floor_result *res) {
  sqlite3_stmt *bucket = NULL, *oplog = NULL, *data = NULL;
  struct bench_row row = {0};
  struct id_order *order = NULL;
  uint32_t *checksums = NULL;
  char key[160], name[64];
  int rc = -1;

  /* Outside the timed section: the bucket checksums and the id order. */
  order = malloc(cfg->rows * sizeof *order);
  checksums = calloc(cfg->buckets, sizeof *checksums);
  if (!order || !checksums) {
    snprintf(b->error, sizeof b->error, "out of memory");
    goto done;
  }
  for (uint64_t i = 0; i < cfg->rows; i++) {
    bench_row_id_key(cfg, i, order[i].key);
    order[i].index = i;
    checksums[i % cfg->buckets] += bench_op_checksum(cfg, i + 1);
  }
  qsort(order, cfg->rows, sizeof *order, cmp_id_order);

  if (prepare(b,
              "INSERT INTO ps_buckets(id, name, last_applied_op, last_op, "
              "op_checksum, count_at_last) VALUES (?, ?, ?, ?, ?, ?)",
              &bucket) != 0 ||
      prepare(b,
              "INSERT INTO ps_oplog(bucket, op_id, row_type, row_id, key, "
              "data, hash) VALUES (?, ?, '" BENCH_TABLE "', ?, ?, ?, ?)",
              &oplog) != 0 ||
      prepare(b,
              "INSERT INTO \"ps_data__" BENCH_TABLE "\"(id, data) "
              "VALUES (?, ?)",
              &data) != 0)
    goto done;

  double t0 = now_s(), g, gen_oplog = 0, gen_data = 0;
  if (exec(b, "BEGIN IMMEDIATE") != 0)
    goto done;
  for (uint32_t k = 0; k < cfg->buckets; k++) {
    uint64_t count = cfg->rows / cfg->buckets + (k < cfg->rows % cfg->buckets);
    uint64_t last = k + (count - 1) * cfg->buckets + 1;
    bench_bucket_name(k, name, sizeof name);
    sqlite3_bind_int64(bucket, 1, (int64_t)k + 1);
    sqlite3_bind_text(bucket, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(bucket, 3, (int64_t)last);
    sqlite3_bind_int64(bucket, 4, (int64_t)last);
    sqlite3_bind_int64(bucket, 5, checksums[k]);
    sqlite3_bind_int64(bucket, 6, (int64_t)count);
    if (step_done(b, bucket, "insert bucket") != 0)
      goto done;
  }
  /* ps_oplog in stream order: bucket after bucket, op id ascending. With
   * per_line, a commit where the stream has a line break (`batch` ops of
   * one bucket), as a core committing each line must write at least. */
  for (uint32_t k = 0; k < cfg->buckets; k++) {
    uint64_t in_bucket = 0;
    for (uint64_t i = k; i < cfg->rows; i += cfg->buckets, in_bucket++) {
      if (per_line && in_bucket % cfg->batch == 0 &&
          (exec(b, "COMMIT") != 0 || exec(b, "BEGIN IMMEDIATE") != 0))
        goto done;
      g = now_s();
      bench_row_build(cfg, i, 0, &row);
      snprintf(key, sizeof key, BENCH_TABLE "/%s/%s", row.id, row.subkey);
      gen_oplog += now_s() - g;
      sqlite3_bind_int64(oplog, 1, (int64_t)k + 1);
      sqlite3_bind_int64(oplog, 2, (int64_t)row.op_id);
      sqlite3_bind_text(oplog, 3, row.id, -1, SQLITE_STATIC);
      sqlite3_bind_text(oplog, 4, key, -1, SQLITE_STATIC);
      sqlite3_bind_text64(oplog, 5, row.data.p, row.data.len, SQLITE_STATIC,
                          SQLITE_UTF8);
      sqlite3_bind_int64(oplog, 6, (int32_t)row.checksum);
      if (step_done(b, oplog, "insert op") != 0)
        goto done;
    }
  }
  double t1 = now_s();
  /* The data table in id order, as sync_local writes it. */
  for (uint64_t n = 0; n < cfg->rows; n++) {
    g = now_s();
    bench_row_build(cfg, order[n].index, 0, &row);
    gen_data += now_s() - g;
    sqlite3_bind_text(data, 1, row.id, -1, SQLITE_STATIC);
    sqlite3_bind_text64(data, 2, row.data.p, row.data.len, SQLITE_STATIC,
                        SQLITE_UTF8);
    if (step_done(b, data, "insert row") != 0)
      goto done;
  }
  double t2 = now_s();
  if (exec(b, "COMMIT") != 0)
    goto done;
  double t3 = now_s();
  res->oplog_s = t1 - t0 - gen_oplog;
  res->data_s = t2 - t1 - gen_data;
  res->commit_s = t3 - t2;
  res->gen_s = gen_oplog + gen_data;
  rc = verify(b, cfg, 0);
done:
  sqlite3_finalize(bucket);
  sqlite3_finalize(oplog);
  sqlite3_finalize(data);
  bench_buf_free(&row.data);
  free(order);
  free(checksums);
  return rc;
}

static int main_floor(const struct options *o) {
  struct bench b;
  struct floor_result res = {0, 0, 0, 0};
  memset(&b, 0, sizeof b);
  int rc = bench_open(&b, o);
  if (rc == 0)
    rc = run_floor(&b, &o->cfg, o->per_line, &res);
  int64_t db_bytes = rc == 0 ? bench_db_bytes(&b) : -1;
  long rss = peak_rss_kib();
  bench_close(&b, o->keep);

  printf("RESULT mode=%s rows=%" PRIu64 " row_size=%" PRIu32
         " buckets=%" PRIu32,
         o->per_line ? "floor-lines" : "floor", o->cfg.rows, o->cfg.row_size,
         o->cfg.buckets);
  if (rc != 0) {
    printf(" status=error\n");
    fprintf(stderr, "floor: %s\n", b.error);
    return 1;
  }
  double total = res.oplog_s + res.data_s + res.commit_s;
  printf(" status=ok floor_s=%.3f floor_ops=%.0f oplog_s=%.3f data_s=%.3f"
         " commit_s=%.3f gen_s=%.3f rss_peak_kib=%ld db_bytes=%" PRId64 "\n",
         total, (double)o->cfg.rows / total, res.oplog_s, res.data_s,
         res.commit_s, res.gen_s, rss, db_bytes);
  return 0;
}

int main(int argc, char **argv) {
  struct options o;
  if (parse_options(argc, argv, &o) != 0) {
    usage();
    return 2;
  }
  return strcmp(o.mode, "sync") == 0 ? main_sync(&o) : main_floor(&o);
}
