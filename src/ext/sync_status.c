/*
 * sync_status.c: the sync status (core-sync.md 8): its JSON, the fingerprint
 * used to emit UpdateSyncStatus only on change, and the offline status read
 * from the database.
 *
 * SQL usage: SELECT priority, last_synced_at FROM ps_sync_state ORDER BY
 * priority; SELECT * FROM ps_stream_subscriptions ORDER BY id ASC.
 *
 * HOW IT WORKS
 *
 * The status keeps download progress per bucket (parallel to the tracked
 * checkpoint's buckets) and each stream's set of buckets; the JSON shows
 * only sums per priority and per stream. The official core emits a status
 * when a hash over the whole internal state changed, so a change of hidden
 * per-bucket values also counts. We get the same effect, without hash
 * collisions, by comparing a fingerprint: a byte serialisation of every
 * field, hidden ones included.
 */
#include <stdlib.h>
#include <string.h>

#include "../core/json.h"
#include "sql.h"
#include "sync_engine.h"

/* Limits the memory a stream's local_params may take while it is validated;
 * far above any real parameter object. */
#define STATUS_PARAMS_ARENA_MAX ((size_t)64 << 20)

/* Column indexes of SELECT * FROM ps_stream_subscriptions. */
#define SUB_COL_ID             0
#define SUB_COL_NAME           1
#define SUB_COL_ACTIVE         2
#define SUB_COL_IS_DEFAULT     3
#define SUB_COL_LOCAL_PARAMS   5
#define SUB_COL_TTL            6
#define SUB_COL_EXPIRES_AT     7
#define SUB_COL_LAST_SYNCED_AT 8

void ps__sync_status_init(struct ps__sync_status *s) {
  memset(s, 0, sizeof(*s));
}

void ps__sync_streams_free(struct ps__sync_stream_status *streams, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    free(streams[i].name);
    free(streams[i].params);
    free(streams[i].buckets);
  }
  free(streams);
}

void ps__sync_status_free(struct ps__sync_status *s) {
  free(s->priorities);
  free(s->progress);
  ps__sync_streams_free(s->streams, s->stream_count);
  ps__sync_status_init(s);
}

void ps__sync_status_set_streams(struct ps__sync_status *s,
                                 struct ps__sync_stream_status *streams,
                                 size_t n) {
  ps__sync_streams_free(s->streams, s->stream_count);
  s->streams = streams;
  s->stream_count = n;
}

void ps__sync_status_set_download(struct ps__sync_status *s,
                                  const struct ps__sync_target *t,
                                  struct ps__sync_progress *progress) {
  free(s->progress);
  s->download_target = t;
  s->progress = progress;
}

static int is_json_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int ps__sync_params_trimmed(const char *text, size_t len, const char **start,
                            size_t *out_len, struct ps__err *e) {
  struct ps__arena arena;
  char msg[256];
  int valid;
  if (!text)
    text = "";
  ps__arena_init(&arena, STATUS_PARAMS_ARENA_MAX);
  valid = ps__json_parse(&arena, text, len, msg, sizeof(msg)) != NULL;
  ps__arena_free(&arena);
  if (!valid) {
    ps__err_argument(e, "", msg);
    return e->code;
  }
  while (len > 0 && is_json_space(text[0])) {
    text++;
    len--;
  }
  while (len > 0 && is_json_space(text[len - 1]))
    len--;
  *start = text;
  *out_len = len;
  return SQLITE_OK;
}

static const char *json_bool(int b) { return b ? "true" : "false"; }

static void write_opt_int(struct ps__buf *out, int has, int64_t v) {
  if (has)
    ps__buf_printf(out, "%lld", (long long)v);
  else
    ps__buf_puts(out, "null");
}

static void write_priorities(struct ps__buf *out,
                             const struct ps__sync_status *s) {
  size_t i;
  ps__buf_putc(out, '[');
  for (i = 0; i < s->priority_count; i++)
    ps__buf_printf(out,
                   "%s{\"priority\":%d,\"last_synced_at\":%lld,"
                   "\"has_synced\":true}",
                   i ? "," : "", (int)s->priorities[i].priority,
                   (long long)s->priorities[i].last_synced_at);
  ps__buf_putc(out, ']');
}

static int cmp_desc_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* "downloading": progress summed per priority, highest number first. */
static void write_downloading(struct ps__buf *out,
                              const struct ps__sync_status *s) {
  const struct ps__sync_target *t = s->download_target;
  int32_t *prios;
  size_t i, j, n = 0;
  if (!t) {
    ps__buf_puts(out, "null");
    return;
  }
  ps__buf_puts(out, "{\"buckets\":{");
  prios = malloc((t->bucket_count ? t->bucket_count : 1) * sizeof(*prios));
  if (!prios) {
    ps__buf_truncate(out, out->len); /* keeps the buffer usable */
    out->failed = PS_BUF_FAILED_NOMEM;
    return;
  }
  for (i = 0; i < t->bucket_count; i++)
    prios[i] = s->progress[i].priority;
  qsort(prios, t->bucket_count, sizeof(*prios), cmp_desc_i32);
  for (i = 0; i < t->bucket_count; i++) {
    int64_t since = 0, total = 0;
    if (i > 0 && prios[i] == prios[i - 1])
      continue;
    for (j = 0; j < t->bucket_count; j++) {
      if (s->progress[j].priority != prios[i])
        continue;
      since += s->progress[j].since_last;
      total += s->progress[j].target_count - s->progress[j].at_last;
    }
    ps__buf_printf(out,
                   "%s\"prio_%d\":{\"priority\":%d,\"at_last\":0,"
                   "\"since_last\":%lld,\"target_count\":%lld}",
                   n++ ? "," : "", (int)prios[i], (int)prios[i],
                   (long long)since, (long long)total);
  }
  free(prios);
  ps__buf_puts(out, "}}");
}

static void write_stream(struct ps__buf *out, const struct ps__sync_status *s,
                         const struct ps__sync_stream_status *st) {
  int64_t total = 0, downloaded = 0;
  size_t i;
  ps__buf_puts(out, "{\"name\":");
  ps__json_write_string(out, st->name, strlen(st->name));
  ps__buf_puts(out, ",\"parameters\":");
  ps__buf_puts(out, st->params);
  ps__buf_puts(out, ",\"priority\":");
  write_opt_int(out, st->has_priority, st->priority);
  ps__buf_printf(out,
                 ",\"active\":%s,\"is_default\":%s,"
                 "\"has_explicit_subscription\":%s,\"expires_at\":",
                 json_bool(st->active), json_bool(st->is_default),
                 json_bool(st->has_explicit));
  write_opt_int(out, st->has_expires_at, st->expires_at);
  ps__buf_puts(out, ",\"last_synced_at\":");
  write_opt_int(out, st->has_last_synced_at, st->last_synced_at);
  if (s->download_target) {
    for (i = 0; i < st->bucket_count; i++) {
      const struct ps__sync_progress *p = &s->progress[st->buckets[i]];
      total += p->target_count - p->at_last;
      downloaded += p->since_last;
    }
  }
  ps__buf_printf(out, ",\"progress\":{\"total\":%lld,\"downloaded\":%lld}}",
                 (long long)total, (long long)downloaded);
}

void ps__sync_status_write(struct ps__buf *out,
                           const struct ps__sync_status *s) {
  size_t i;
  ps__buf_printf(out,
                 "{\"connected\":%s,\"connecting\":%s,\"priority_status\":",
                 json_bool(s->connected), json_bool(s->connecting));
  write_priorities(out, s);
  ps__buf_puts(out, ",\"downloading\":");
  write_downloading(out, s);
  ps__buf_puts(out, ",\"streams\":[");
  for (i = 0; i < s->stream_count; i++) {
    if (i)
      ps__buf_putc(out, ',');
    write_stream(out, s, &s->streams[i]);
  }
  ps__buf_putc(out, ']');
  if (s->has_applied_request_id)
    ps__buf_printf(out,
                   ",\"internal_last_applied_checkpoint_request_id\":\"%lld\"",
                   (long long)s->applied_request_id);
  ps__buf_putc(out, '}');
}

static void fp_bytes(struct ps__buf *out, const void *p, size_t n) {
  ps__buf_append(out, p, n);
}

static void fp_str(struct ps__buf *out, const char *p, size_t n) {
  fp_bytes(out, &n, sizeof(n));
  fp_bytes(out, p, n);
}

void ps__sync_status_fingerprint(struct ps__buf *out,
                                 const struct ps__sync_status *s) {
  const struct ps__sync_target *t = s->download_target;
  size_t i;
  ps__buf_reset(out);
  /* The visible JSON covers all flags, timestamps and the sums; the hidden
   * per-bucket and per-stream data follow. */
  ps__sync_status_write(out, s);
  if (t) {
    for (i = 0; i < t->bucket_count; i++) {
      fp_str(out, t->buckets[i].bucket.ptr, t->buckets[i].bucket.len);
      fp_bytes(out, &s->progress[i], sizeof(s->progress[i]));
    }
  }
  for (i = 0; i < s->stream_count; i++) {
    fp_bytes(out, &s->streams[i].id, sizeof(s->streams[i].id));
    fp_bytes(out, &s->streams[i].bucket_count,
             sizeof(s->streams[i].bucket_count));
    fp_bytes(out, s->streams[i].buckets,
             s->streams[i].bucket_count * sizeof(size_t));
  }
}

static int load_priorities(sqlite3 *db, struct ps__sync_status *s,
                           struct ps__err *e) {
  sqlite3_stmt *stmt;
  size_t cap = 0;
  int rc = ps__prepare(
      db,
      "SELECT priority, last_synced_at FROM ps_sync_state ORDER BY priority",
      &stmt, e);
  if (rc != SQLITE_OK)
    return rc;
  while ((rc = ps__step(stmt, e)) == SQLITE_ROW) {
    if (s->priority_count == cap) {
      size_t ncap = cap ? cap * 2 : 4;
      void *p = realloc(s->priorities, ncap * sizeof(*s->priorities));
      if (!p) {
        ps__err_nomem(e);
        rc = e->code;
        break;
      }
      s->priorities = p;
      cap = ncap;
    }
    /* The official core reads the priority as a 32-bit integer. */
    s->priorities[s->priority_count].priority = sqlite3_column_int(stmt, 0);
    s->priorities[s->priority_count].last_synced_at =
        sqlite3_column_int64(stmt, 1);
    s->priority_count++;
  }
  sqlite3_finalize(stmt);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static char *dup_n(const char *p, size_t n) {
  char *r = malloc(n + 1);
  if (r) {
    if (n)
      memcpy(r, p, n);
    r[n] = 0;
  }
  return r;
}

static int opt_col(sqlite3_stmt *stmt, int col, int64_t *v) {
  if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
    return 0;
  *v = sqlite3_column_int64(stmt, col);
  return 1;
}

static int load_stream_row(sqlite3_stmt *stmt,
                           struct ps__sync_stream_status *st,
                           struct ps__err *e) {
  const char *name = (const char *)sqlite3_column_text(stmt, SUB_COL_NAME);
  const char *params =
      (const char *)sqlite3_column_text(stmt, SUB_COL_LOCAL_PARAMS);
  size_t plen = (size_t)sqlite3_column_bytes(stmt, SUB_COL_LOCAL_PARAMS);
  const char *pstart;
  size_t ptrim;
  int rc;
  memset(st, 0, sizeof(*st));
  st->id = sqlite3_column_int64(stmt, SUB_COL_ID);
  st->active = sqlite3_column_int(stmt, SUB_COL_ACTIVE) != 0;
  st->is_default = sqlite3_column_int(stmt, SUB_COL_IS_DEFAULT) != 0;
  st->has_explicit = sqlite3_column_type(stmt, SUB_COL_TTL) != SQLITE_NULL;
  st->has_expires_at = opt_col(stmt, SUB_COL_EXPIRES_AT, &st->expires_at);
  st->has_last_synced_at =
      opt_col(stmt, SUB_COL_LAST_SYNCED_AT, &st->last_synced_at);
  rc = ps__sync_params_trimmed(params, plen, &pstart, &ptrim, e);
  if (rc != SQLITE_OK)
    return rc;
  st->name =
      dup_n(name ? name : "", (size_t)sqlite3_column_bytes(stmt, SUB_COL_NAME));
  st->params = dup_n(pstart, ptrim);
  if (!st->name || !st->params) {
    ps__err_nomem(e);
    return e->code;
  }
  return SQLITE_OK;
}

static int load_streams(sqlite3 *db, struct ps__sync_status *s,
                        struct ps__err *e) {
  sqlite3_stmt *stmt;
  size_t cap = 0;
  int rc = ps__prepare(
      db, "SELECT * FROM ps_stream_subscriptions ORDER BY id ASC", &stmt, e);
  if (rc != SQLITE_OK)
    return rc;
  while ((rc = ps__step(stmt, e)) == SQLITE_ROW) {
    if (s->stream_count == cap) {
      size_t ncap = cap ? cap * 2 : 4;
      void *p = realloc(s->streams, ncap * sizeof(*s->streams));
      if (!p) {
        ps__err_nomem(e);
        rc = e->code;
        break;
      }
      s->streams = p;
      cap = ncap;
    }
    rc = load_stream_row(stmt, &s->streams[s->stream_count], e);
    s->stream_count++;
    if (rc != SQLITE_OK)
      break;
  }
  sqlite3_finalize(stmt);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int ps__sync_status_load_offline(sqlite3 *db, struct ps__sync_status *s,
                                 struct ps__err *e) {
  int rc = load_priorities(db, s, e);
  if (rc == SQLITE_OK)
    rc = load_streams(db, s, e);
  return rc;
}
