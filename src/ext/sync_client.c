/*
 * sync_client.c: the sync client of powersync_control (core-sync.md 4-6,
 * 11-13, 17.6, 18, 19): the per-connection iteration state machine.
 *
 * Usage (each call in its own transaction, by the SDK):
 *
 *   SELECT powersync_control('start', '{"parameters":{}}');
 *   SELECT powersync_control('connection', 'established');
 *   SELECT powersync_control('line_text', '{"checkpoint":{...}}');
 *   SELECT powersync_control('line_binary', X'...');   -- BSON line
 *   SELECT powersync_control('completed_upload', NULL);
 *   SELECT powersync_control('stop', NULL);
 *
 * Each returns a JSON array of instructions (sync_instructions.c).
 *
 * HOW IT WORKS
 *
 * The official core writes the iteration as a coroutine resumed once per
 * call; here it is an explicit object (struct ps__sync_iteration) that
 * exists between 'start' and the end of the iteration, mirrored by
 * st->sync_iteration_active for powersync_clear. A line is handled in two
 * steps: prepare_line() does every database write and may append log lines,
 * collecting new in-memory values in a struct transition; apply_line() then
 * moves them into the iteration and cannot fail. A BUSY/LOCKED error in the
 * first step therefore leaves memory as it was, and the SDK may retry the
 * line. UpdateSyncStatus is emitted only when the status fingerprint
 * (sync_status.c) differs from the last one emitted in this iteration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/json.h"
#include "../core/serde.h"
#include "sql.h"
#include "sync_engine.h"

/* Prefix of sync protocol errors (SQLITE_ABORT). */
#define PROTOCOL_ERROR "Sync protocol error: "

/* ps_kv keys written or read by the client (core-sync.md 1.7). */
#define KV_TARGET       "target_checkpoint_request_id"
#define KV_REQUESTED    "last_requested_checkpoint_request_id"
#define KV_LAST_APPLIED "last_applied_checkpoint_request_id"

/* Largest op id: "local writes pending, id unknown" as a gate target. */
#define MAX_OP_ID INT64_MAX

/* One column type learned by diagnostics (19). */
struct diag_column {
  char *table;
  char *column;
  const char *type;
};

struct ps__sync_iteration {
  /* Options of 'start'. */
  struct ps__schema *schema; /* Raw tables; NULL without a schema. */
  int include_defaults;
  int requests_mode;
  int diagnostics;
  struct ps__sync_stream_keys held; /* active_streams */

  struct ps__sync_status status;
  struct ps__buf fingerprint; /* Of the last emitted status. */
  int emitted;

  /* BeforeCheckpoint: the bucket names of the request. */
  char **before;
  size_t before_count;
  struct ps__sync_target *target; /* Tracking when non-NULL. */
  struct ps__sync_request_subs requested;
  struct ps__sync_target *pending; /* Validated but blocked by local data. */

  struct diag_column *diag;
  size_t diag_count;
  size_t diag_cap;
};

static int nomem(struct ps__err *e) {
  ps__err_nomem(e);
  return e->code;
}

static int is_retryable(int code) {
  int primary = code & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

static void protocol_error(struct ps__err *e, const char *desc) {
  ps__err_set(e, SQLITE_ABORT, PROTOCOL_ERROR "%s. cause: unknown", desc);
}

/* ---- Iteration lifetime -------------------------------------------------- */

void ps__sync_iteration_free(struct ps__sync_iteration *it) {
  size_t i;
  if (!it)
    return;
  ps__schema_free(it->schema);
  ps__sync_stream_keys_free(&it->held);
  ps__sync_status_free(&it->status);
  ps__buf_free(&it->fingerprint);
  for (i = 0; i < it->before_count; i++)
    free(it->before[i]);
  free(it->before);
  ps__sync_target_free(it->target);
  ps__sync_target_free(it->pending);
  ps__sync_request_subs_free(&it->requested);
  for (i = 0; i < it->diag_count; i++) {
    free(it->diag[i].table);
    free(it->diag[i].column);
  }
  free(it->diag);
  free(it);
}

static void end_iteration(struct ps__sync *s) {
  ps__sync_iteration_free(s->iteration);
  s->iteration = NULL;
  s->st->sync_iteration_active = 0;
}

/* Appends CloseSyncStream and ends the iteration. */
static void close_iteration(struct ps__sync *s, struct ps__sync_out *out,
                            int hide_disconnect) {
  ps__sync_out_close(out, hide_disconnect);
  end_iteration(s);
}

/* Emits UpdateSyncStatus unless the status equals the last emitted one. */
static void emit_status(struct ps__sync_iteration *it,
                        struct ps__sync_out *out) {
  struct ps__buf fp;
  ps__buf_init(&fp, 0);
  ps__sync_status_fingerprint(&fp, &it->status);
  if (!it->emitted || fp.len != it->fingerprint.len ||
      memcmp(fp.data, it->fingerprint.data, fp.len) != 0) {
    ps__sync_out_status(out, &it->status);
    ps__buf_free(&it->fingerprint);
    it->fingerprint = fp;
    it->emitted = 1;
    return;
  }
  ps__buf_free(&fp);
}

/* The fingerprint without emitting (the retryable-error quirk of 8.5). */
static void remember_status(struct ps__sync_iteration *it) {
  ps__sync_status_fingerprint(&it->fingerprint, &it->status);
  it->emitted = 1;
}

static void mark_connected(struct ps__sync_status *st) {
  st->connecting = 0;
  st->connected = 1;
}

/* ---- Status transitions (8.4) -------------------------------------------- */

static void status_disconnect(struct ps__sync_status *st) {
  st->connected = 0;
  st->connecting = 0;
  ps__sync_status_set_download(st, NULL, NULL);
  st->has_applied_request_id = 0;
}

static int status_complete(struct ps__sync_status *st, int64_t now,
                           const struct ps__sync_target *t) {
  struct ps__sync_priority_status *p = malloc(sizeof(*p));
  size_t i;
  if (!p)
    return -1;
  p->priority = PS_SYNC_FULL_PRIORITY;
  p->last_synced_at = now;
  free(st->priorities);
  st->priorities = p;
  st->priority_count = 1;
  ps__sync_status_set_download(st, NULL, NULL);
  st->has_applied_request_id = t->has_write_checkpoint;
  st->applied_request_id = t->write_checkpoint;
  for (i = 0; i < st->stream_count; i++) {
    st->streams[i].has_last_synced_at = 1;
    st->streams[i].last_synced_at = now;
  }
  return 0;
}

static int status_partial(struct ps__sync_status *st, int32_t priority,
                          int64_t now) {
  struct ps__sync_priority_status *p =
      malloc((st->priority_count + 1) * sizeof(*p));
  size_t i, n = 0;
  if (!p)
    return -1;
  p[n].priority = priority;
  p[n++].last_synced_at = now;
  for (i = 0; i < st->priority_count; i++)
    if (st->priorities[i].priority > priority)
      p[n++] = st->priorities[i];
  free(st->priorities);
  st->priorities = p;
  st->priority_count = n;
  for (i = 0; i < st->stream_count; i++) {
    if (st->streams[i].has_priority && st->streams[i].priority <= priority) {
      st->streams[i].has_last_synced_at = 1;
      st->streams[i].last_synced_at = now;
    }
  }
  return 0;
}

/* ---- Diagnostics (19) ---------------------------------------------------- */

static void write_bucket_progress(struct ps__buf *b, const char *name,
                                  size_t len,
                                  const struct ps__sync_progress *p) {
  ps__buf_puts(b, "{\"name\":");
  ps__json_write_string(b, name, len);
  ps__buf_printf(b,
                 ",\"progress\":{\"priority\":%d,\"at_last\":%lld,"
                 "\"since_last\":%lld,\"target_count\":%lld}}",
                 (int)p->priority, (long long)p->at_last,
                 (long long)p->since_last, (long long)p->target_count);
}

/* BucketStateChange for all buckets (index < 0) or one bucket. */
static void diag_buckets(struct ps__sync_iteration *it,
                         struct ps__sync_out *out, long index) {
  const struct ps__sync_target *t = it->status.download_target;
  size_t i;
  ps__sync_out_begin(out, "HandleDiagnostics");
  ps__buf_puts(&out->buf, "{\"BucketStateChange\":{\"changes\":[");
  for (i = 0; t && i < t->bucket_count; i++) {
    if (index >= 0 && (size_t)index != i)
      continue;
    if (index < 0 && i)
      ps__buf_putc(&out->buf, ',');
    write_bucket_progress(&out->buf, t->buckets[i].bucket.ptr,
                          t->buckets[i].bucket.len, &it->status.progress[i]);
  }
  ps__buf_printf(&out->buf, "],\"incremental\":%s}}",
                 index < 0 ? "false" : "true");
  ps__sync_out_end(out);
}

static const char *diag_type(const struct ps__json_value *v) {
  switch (v->type) {
  case PS_JSON_STRING:
    return "String";
  case PS_JSON_INT:
  case PS_JSON_UINT:
    return "Integer";
  case PS_JSON_FLOAT:
    return "Real";
  default:
    return NULL;
  }
}

static struct diag_column *diag_find(struct ps__sync_iteration *it,
                                     struct ps__sync_str table,
                                     const char *column) {
  size_t i;
  for (i = 0; i < it->diag_count; i++)
    if (ps__sync_str_cmp(it->diag[i].table, strlen(it->diag[i].table),
                         table.ptr, table.len) == 0 &&
        strcmp(it->diag[i].column, column) == 0)
      return &it->diag[i];
  return NULL;
}

static void diag_schema_change(struct ps__sync_out *out,
                               struct ps__sync_str table, const char *column,
                               size_t column_len, const char *type) {
  ps__sync_out_begin(out, "HandleDiagnostics");
  ps__buf_puts(&out->buf, "{\"SchemaChange\":{\"table\":");
  ps__json_write_string(&out->buf, table.ptr, table.len);
  ps__buf_puts(&out->buf, ",\"column\":");
  ps__json_write_string(&out->buf, column, column_len);
  ps__buf_printf(&out->buf, ",\"value_type\":\"%s\"}}", type);
  ps__sync_out_end(out);
}

static void diag_learn_column(struct ps__sync_iteration *it,
                              struct ps__sync_out *out,
                              struct ps__sync_str table,
                              const struct ps__json_member *m,
                              const char *type) {
  struct diag_column *c = diag_find(it, table, m->key);
  if (c) {
    if (strcmp(c->type, "String") == 0 || strcmp(c->type, type) == 0)
      return;
    c->type = type;
  } else {
    if (it->diag_count == it->diag_cap) {
      size_t ncap = it->diag_cap ? it->diag_cap * 2 : 8;
      void *p = realloc(it->diag, ncap * sizeof(*it->diag));
      if (!p)
        return;
      it->diag = p;
      it->diag_cap = ncap;
    }
    c = &it->diag[it->diag_count];
    c->table = malloc(table.len + 1);
    c->column = strdup(m->key);
    if (!c->table || !c->column) {
      free(c->table);
      free(c->column);
      return;
    }
    memcpy(c->table, table.ptr, table.len);
    c->table[table.len] = 0;
    c->type = type;
    it->diag_count++;
  }
  diag_schema_change(out, table, m->key, m->key_len, type);
}

static size_t diag_skip_ws(const char *t, size_t len, size_t i) {
  while (i < len &&
         (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
    i++;
  return i;
}

/* End of the string token starting at t[i] == '"', or 0 when unterminated. */
static size_t diag_string_end(const char *t, size_t len, size_t i) {
  for (i++; i < len; i++) {
    if (t[i] == '\\')
      i++;
    else if (t[i] == '"')
      return i + 1;
  }
  return 0;
}

/* Parses the token t[start..end) alone; NULL when it is not valid JSON. */
static const struct ps__json_value *
diag_token(struct ps__arena *arena, const char *t, size_t start, size_t end) {
  return end > start ? ps__json_parse(arena, t + start, end - start, NULL, 0)
                     : NULL;
}

/* Scans the data object key by key, as the official core's streaming
 * visitor does: keys before a malformed or unsupported value still count. */
static void diag_scan_entry(struct ps__sync_iteration *it,
                            struct ps__sync_out *out,
                            const struct ps__sync_oplog_entry *en) {
  const char *t = en->data.ptr;
  size_t len = en->data.len, i = diag_skip_ws(t, len, 0);
  struct ps__arena arena;
  ps__arena_init(&arena, 0);
  if (i >= len || t[i] != '{')
    goto done;
  i = diag_skip_ws(t, len, i + 1);
  if (i < len && t[i] == '}')
    goto done;
  while (i < len && t[i] == '"') {
    const struct ps__json_value *key, *value;
    struct ps__json_member m;
    const char *type;
    size_t ke = diag_string_end(t, len, i), vs, ve;
    key = diag_token(&arena, t, i, ke);
    if (!key)
      break;
    i = diag_skip_ws(t, len, ke);
    if (i >= len || t[i] != ':')
      break;
    vs = diag_skip_ws(t, len, i + 1);
    if (vs >= len)
      break;
    if (t[vs] == '"') {
      ve = diag_string_end(t, len, vs);
    } else {
      ve = vs;
      while (ve < len && strchr("+-0123456789.eEnulfasrt", t[ve]))
        ve++;
    }
    value = diag_token(&arena, t, vs, ve);
    if (!value)
      break;
    type = diag_type(value);
    if (!type && value->type != PS_JSON_NULL)
      break; /* booleans end the scan of this entry */
    if (type && strcmp(key->as.str.ptr, "id") != 0) {
      m.key = key->as.str.ptr;
      m.key_len = key->as.str.len;
      m.value = NULL;
      diag_learn_column(it, out, en->object_type, &m, type);
    }
    i = diag_skip_ws(t, len, ve);
    if (i >= len || t[i] != ',')
      break;
    i = diag_skip_ws(t, len, i + 1);
  }
done:
  ps__arena_free(&arena);
}

/* ---- Line handling ------------------------------------------------------- */

/* What prepare_line computed for apply_line. */
struct transition {
  struct ps__sync_target *target; /* New target (checkpoint, diff). */
  struct ps__sync_progress *progress;
  struct ps__sync_stream_status *streams;
  size_t stream_count;
  enum ps__sync_local_result local;
  int64_t now;
  struct ps__buf report;
  int close;
  int hide_disconnect;
  int expired;
};

static void transition_free(struct transition *tr) {
  ps__sync_target_free(tr->target);
  free(tr->progress);
  ps__sync_streams_free(tr->streams, tr->stream_count);
  ps__buf_free(&tr->report);
}

static int delete_buckets_not_in(struct ps__sync *s,
                                 struct ps__sync_iteration *it,
                                 const struct ps__sync_target *next,
                                 struct ps__err *e) {
  size_t i;
  int rc = SQLITE_OK;
  if (it->target) {
    const struct ps__sync_target *t = it->target;
    for (i = 0; i < t->bucket_count && rc == SQLITE_OK; i++)
      if (ps__sync_target_find(next, t->buckets[i].bucket.ptr,
                               t->buckets[i].bucket.len) < 0)
        rc = ps__sync_delete_bucket(s, t->buckets[i].bucket.ptr,
                                    t->buckets[i].bucket.len, e);
    return rc;
  }
  for (i = 0; i < it->before_count && rc == SQLITE_OK; i++)
    if (ps__sync_target_find(next, it->before[i], strlen(it->before[i])) < 0)
      rc = ps__sync_delete_bucket(s, it->before[i], strlen(it->before[i]), e);
  return rc;
}

/* Steps 4 and 5 of 11.1, shared by checkpoint and checkpoint_diff. */
static int prepare_tracking(struct ps__sync *s, struct ps__sync_iteration *it,
                            struct transition *tr, struct ps__sync_out *out,
                            struct ps__err *e) {
  int rc = ps__sync_load_progress(s, tr->target, &tr->progress, e);
  if (rc == SQLITE_OK)
    rc = ps__sync_reconcile_streams(s, tr->target, &it->requested, out,
                                    &tr->streams, &tr->stream_count, e);
  return rc;
}

static int prepare_checkpoint(struct ps__sync *s, struct ps__sync_iteration *it,
                              const struct ps__sync_checkpoint *cp,
                              struct transition *tr, struct ps__sync_out *out,
                              struct ps__err *e) {
  int rc;
  tr->target = ps__sync_target_from_line(cp);
  if (!tr->target)
    return nomem(e);
  rc = delete_buckets_not_in(s, it, tr->target, e);
  return rc == SQLITE_OK ? prepare_tracking(s, it, tr, out, e) : rc;
}

static int prepare_diff(struct ps__sync *s, struct ps__sync_iteration *it,
                        const struct ps__sync_checkpoint_diff *d,
                        struct transition *tr, struct ps__sync_out *out,
                        struct ps__err *e) {
  size_t i;
  int rc = SQLITE_OK;
  if (!it->target) {
    protocol_error(e, "Received checkpoint_diff without previous checkpoint");
    return e->code;
  }
  tr->target = ps__sync_target_patch(it->target, d);
  if (!tr->target)
    return nomem(e);
  for (i = 0; i < d->removed_count && rc == SQLITE_OK; i++)
    rc = ps__sync_delete_bucket(s, d->removed_buckets[i].ptr,
                                d->removed_buckets[i].len, e);
  return rc == SQLITE_OK ? prepare_tracking(s, it, tr, out, e) : rc;
}

/* Step 13 of 13.3: stream timestamps of the applied sync. */
static int store_stream_times(struct ps__sync *s,
                              const struct ps__sync_status *st,
                              int32_t priority, int64_t now,
                              struct ps__err *e) {
  sqlite3_stmt *stmt;
  size_t i;
  int rc = SQLITE_OK;
  if (!st->stream_count)
    return SQLITE_OK;
  stmt = ps__sync_stmt(s, PS_STMT_SUB_SET_SYNCED, e);
  if (!stmt)
    return e->code;
  for (i = 0; i < st->stream_count && rc == SQLITE_OK; i++) {
    const struct ps__sync_stream_status *ss = &st->streams[i];
    if (priority != PS_SYNC_FULL_PRIORITY &&
        !(ss->has_priority && ss->priority <= priority))
      continue;
    sqlite3_bind_int64(stmt, 1, ss->id);
    sqlite3_bind_int64(stmt, 2, now);
    rc = ps__step_all(stmt, e);
    sqlite3_reset(stmt);
  }
  return rc;
}

/* A complete sync_local for t; on success also the DB side of "applied". */
static int complete_sync(struct ps__sync *s, struct ps__sync_iteration *it,
                         const struct ps__sync_target *t, struct transition *tr,
                         struct ps__err *e) {
  int rc = ps__sync_local(s, t, PS_SYNC_FULL_PRIORITY, it->schema, &tr->local,
                          &tr->now, &tr->report, e);
  if (rc != SQLITE_OK || tr->local != PS_LOCAL_APPLIED)
    return rc;
  rc = store_stream_times(s, &it->status, PS_SYNC_FULL_PRIORITY, tr->now, e);
  if (rc == SQLITE_OK && t->has_write_checkpoint)
    rc = ps__sync_kv_set(s, KV_LAST_APPLIED, t->write_checkpoint, e);
  return rc;
}

static int prepare_complete(struct ps__sync *s, struct ps__sync_iteration *it,
                            struct transition *tr, struct ps__sync_out *out,
                            struct ps__err *e) {
  int rc;
  if (!it->target) {
    protocol_error(e, "Received checkpoint complete without previous "
                      "checkpoint");
    return e->code;
  }
  rc = complete_sync(s, it, it->target, tr, e);
  if (rc == SQLITE_OK && tr->local == PS_LOCAL_APPLIED)
    ps__sync_out_log(out, "DEBUG", "Validated and applied checkpoint",
                     strlen("Validated and applied checkpoint"));
  return rc;
}

static int prepare_partial(struct ps__sync *s, struct ps__sync_iteration *it,
                           int32_t priority, struct transition *tr,
                           struct ps__err *e) {
  int rc;
  if (!it->target) {
    ps__err_state(e, "Received checkpoint complete without previous "
                     "checkpoint");
    return e->code;
  }
  rc = ps__sync_local(s, it->target, priority, it->schema, &tr->local, &tr->now,
                      &tr->report, e);
  if (rc == SQLITE_OK && tr->local == PS_LOCAL_APPLIED)
    rc = store_stream_times(s, &it->status, priority, tr->now, e);
  return rc;
}

static int prepare_token(struct ps__sync *s, struct ps__sync_iteration *it,
                         int32_t seconds, struct transition *tr,
                         struct ps__sync_out *out, struct ps__err *e) {
  struct ps__sync_request_subs now_requested;
  int rc = ps__sync_increase_ttl(s, &it->held, e);
  if (rc != SQLITE_OK)
    return rc;
  if (seconds <= 0) {
    tr->expired = 1;
    return SQLITE_OK;
  }
  if (seconds <= PS_SYNC_TOKEN_PREFETCH_SECONDS) {
    ps__sync_out_fetch_credentials(out, 0);
    return SQLITE_OK;
  }
  rc = ps__sync_collect_requests(s, it->include_defaults, &now_requested, e);
  if (rc != SQLITE_OK)
    return rc;
  if (!ps__sync_request_subs_equal(&now_requested, &it->requested)) {
    tr->close = 1;
    tr->hide_disconnect = 1;
  }
  ps__sync_request_subs_free(&now_requested);
  return SQLITE_OK;
}

static int prepare_line(struct ps__sync *s, struct ps__sync_iteration *it,
                        const struct ps__sync_line *line, size_t line_size,
                        struct transition *tr, struct ps__sync_out *out,
                        struct ps__err *e) {
  switch (line->type) {
  case PS_SYNC_LINE_CHECKPOINT:
    return prepare_checkpoint(s, it, &line->as.checkpoint, tr, out, e);
  case PS_SYNC_LINE_CHECKPOINT_DIFF:
    return prepare_diff(s, it, &line->as.diff, tr, out, e);
  case PS_SYNC_LINE_CHECKPOINT_COMPLETE:
    return prepare_complete(s, it, tr, out, e);
  case PS_SYNC_LINE_PARTIAL_CHECKPOINT_COMPLETE:
    return prepare_partial(s, it, line->as.partial_priority, tr, e);
  case PS_SYNC_LINE_DATA:
    return ps__sync_save_data(s, &line->as.data, line_size, e);
  case PS_SYNC_LINE_TOKEN_EXPIRES_IN:
    return prepare_token(s, it, line->as.token_expires_in, tr, out, e);
  default:
    ps__sync_out_log(out, "DEBUG", "Unknown sync line",
                     strlen("Unknown sync line"));
    return SQLITE_OK;
  }
}

static void apply_tracking(struct ps__sync_iteration *it, struct transition *tr,
                           struct ps__sync_out *out) {
  mark_connected(&it->status);
  ps__sync_status_set_download(&it->status, tr->target, tr->progress);
  tr->progress = NULL;
  ps__sync_status_set_streams(&it->status, tr->streams, tr->stream_count);
  tr->streams = NULL;
  tr->stream_count = 0;
  emit_status(it, out);
  ps__sync_target_free(it->pending);
  it->pending = NULL;
  ps__sync_target_free(it->target);
  it->target = tr->target;
  tr->target = NULL;
  if (it->diagnostics)
    diag_buckets(it, out, -1);
}

static void apply_data(struct ps__sync_iteration *it,
                       const struct ps__sync_data *d,
                       struct ps__sync_out *out) {
  const struct ps__sync_target *t = it->status.download_target;
  long idx = t ? ps__sync_target_find(t, d->bucket.ptr, d->bucket.len) : -1;
  size_t i;
  if (idx >= 0)
    it->status.progress[idx].since_last += (int64_t)d->entry_count;
  if (!it->diagnostics)
    return;
  emit_status(it, out);
  if (idx >= 0)
    diag_buckets(it, out, idx);
  for (i = 0; i < d->entry_count; i++)
    if (d->entries[i].data.ptr && d->entries[i].object_type.ptr)
      diag_scan_entry(it, out, &d->entries[i]);
}

/* Instructions and status of an applied complete checkpoint (13.1). */
static void apply_complete_sync(struct ps__sync_iteration *it,
                                const struct ps__sync_target *t, int64_t now,
                                struct ps__sync_out *out) {
  if (t->has_write_checkpoint) {
    char line[64];
    int n = snprintf(line, sizeof(line), "Applied checkpoint request id %lld",
                     (long long)t->write_checkpoint);
    ps__sync_out_log(out, "DEBUG", line, (size_t)n);
  }
  ps__sync_out_did_complete(out, t->has_write_checkpoint, t->write_checkpoint);
  if (status_complete(&it->status, now, t) != 0)
    out->buf.failed = PS_BUF_FAILED_NOMEM;
  emit_status(it, out);
}

static void log_report(struct ps__sync_out *out, const char *prefix,
                       const struct ps__buf *report) {
  struct ps__buf line;
  ps__buf_init(&line, 0);
  ps__buf_puts(&line, prefix);
  ps__buf_append(&line, report->data, report->len);
  ps__sync_out_log(out, "WARNING", ps__buf_cstr(&line), line.len);
  ps__buf_free(&line);
}

/* Returns 1 when the iteration must end (tr->hide_disconnect says how). */
static int apply_line(struct ps__sync_iteration *it,
                      const struct ps__sync_line *line, struct transition *tr,
                      struct ps__sync_out *out) {
  switch (line->type) {
  case PS_SYNC_LINE_CHECKPOINT:
  case PS_SYNC_LINE_CHECKPOINT_DIFF:
    apply_tracking(it, tr, out);
    return 0;
  case PS_SYNC_LINE_DATA:
    apply_data(it, &line->as.data, out);
    return 0;
  case PS_SYNC_LINE_CHECKPOINT_COMPLETE:
    if (tr->local == PS_LOCAL_CHECKSUM_FAILURE) {
      log_report(out, "Could not apply checkpoint, ", &tr->report);
      return 1;
    }
    if (tr->local == PS_LOCAL_BLOCKED) {
      static const char msg[] = "Could not apply checkpoint due to local "
                                "data. Will retry at completed upload or "
                                "next checkpoint.";
      ps__sync_out_log(out, "INFO", msg, sizeof(msg) - 1);
      ps__sync_target_free(it->pending);
      it->pending = ps__sync_target_copy(it->target);
      return 0;
    }
    apply_complete_sync(it, it->target, tr->now, out);
    return 0;
  case PS_SYNC_LINE_PARTIAL_CHECKPOINT_COMPLETE:
    if (tr->local == PS_LOCAL_CHECKSUM_FAILURE) {
      log_report(out, "Could not apply partial checkpoint, ", &tr->report);
      return 1;
    }
    if (tr->local == PS_LOCAL_APPLIED) {
      if (status_partial(&it->status, line->as.partial_priority, tr->now))
        out->buf.failed = PS_BUF_FAILED_NOMEM;
      emit_status(it, out);
    }
    return 0;
  case PS_SYNC_LINE_TOKEN_EXPIRES_IN:
    if (tr->expired)
      ps__sync_out_fetch_credentials(out, 1);
    return tr->expired || tr->close;
  default:
    return 0;
  }
}

static int decode_line(struct ps__arena *arena, sqlite3_value *payload,
                       int binary, struct ps__sync_line **line, size_t *size,
                       struct ps__err *e) {
  char msg[PS_SYNC_LINE_ERROR_MAX];
  int rc;
  if (binary) {
    const void *blob = sqlite3_value_blob(payload);
    *size = (size_t)sqlite3_value_bytes(payload);
    rc = ps__sync_line_decode_binary(arena, blob ? blob : "", *size, line, msg,
                                     sizeof(msg));
  } else {
    const char *text = (const char *)sqlite3_value_text(payload);
    *size = (size_t)sqlite3_value_bytes(payload);
    rc = ps__sync_line_decode_text(arena, text ? text : "", *size, line, msg,
                                   sizeof(msg));
  }
  if (rc == PS_SYNC_LINE_OK)
    return SQLITE_OK;
  if (rc == PS_SYNC_LINE_NOMEM)
    return nomem(e);
  ps__err_set(e, SQLITE_ABORT, PROTOCOL_ERROR "%s. cause: %s",
              binary ? PS_SYNC_LINE_BINARY_DESC : PS_SYNC_LINE_TEXT_DESC, msg);
  return e->code;
}

static int handle_line(struct ps__sync *s, sqlite3_value *payload, int binary,
                       struct ps__sync_out *out, struct ps__err *e) {
  struct ps__sync_iteration *it = s->iteration;
  struct ps__sync_line *line = NULL;
  struct transition tr;
  struct ps__arena arena;
  size_t size = 0, mark_len = out->buf.len, mark_count = out->count;
  int rc;
  ps__arena_init(&arena, 0);
  rc = decode_line(&arena, payload, binary, &line, &size, e);
  if (rc != SQLITE_OK) {
    ps__arena_free(&arena);
    end_iteration(s);
    return rc;
  }
  mark_connected(&it->status);
  memset(&tr, 0, sizeof(tr));
  ps__buf_init(&tr.report, 0);
  rc = prepare_line(s, it, line, size, &tr, out, e);
  if (rc != SQLITE_OK) {
    if (is_retryable(rc)) {
      ps__sync_out_rewind(out, mark_len, mark_count);
      remember_status(it);
    } else {
      end_iteration(s);
    }
  } else if (apply_line(it, line, &tr, out)) {
    close_iteration(s, out, tr.hide_disconnect);
  } else {
    emit_status(it, out);
  }
  transition_free(&tr);
  ps__arena_free(&arena);
  return rc;
}

/* ---- Other events -------------------------------------------------------- */

static int handle_completed_upload(struct ps__sync *s, struct ps__sync_out *out,
                                   struct ps__err *e) {
  struct ps__sync_iteration *it = s->iteration;
  struct ps__sync_target *pending = it->pending;
  struct transition tr;
  int64_t target = 0;
  int found = 0, rc;
  if (!pending)
    return SQLITE_OK;
  it->pending = NULL;
  rc = ps__sync_kv_get(s, KV_TARGET, &found, &target, e);
  if (rc == SQLITE_OK && found &&
      (!pending->has_write_checkpoint || pending->write_checkpoint < target)) {
    ps__sync_target_free(pending);
    return SQLITE_OK;
  }
  memset(&tr, 0, sizeof(tr));
  ps__buf_init(&tr.report, 0);
  if (rc == SQLITE_OK)
    rc = complete_sync(s, it, pending, &tr, e);
  if (rc == SQLITE_OK && tr.local == PS_LOCAL_APPLIED) {
    static const char msg[] = "Applied pending checkpoint after completed "
                              "upload";
    ps__sync_out_log(out, "DEBUG", msg, sizeof(msg) - 1);
    apply_complete_sync(it, pending, tr.now, out);
  } else if (rc == SQLITE_OK) {
    static const char msg[] = "Could not apply pending checkpoint even after "
                              "completed upload";
    ps__sync_out_log(out, "WARNING", msg, sizeof(msg) - 1);
  }
  transition_free(&tr);
  ps__sync_target_free(pending);
  if (rc != SQLITE_OK)
    end_iteration(s);
  return rc;
}

static int handle_update_subscriptions(struct ps__sync *s,
                                       struct ps__sync_stream_keys *keys,
                                       struct ps__sync_out *out,
                                       struct ps__err *e) {
  struct ps__sync_iteration *it = s->iteration;
  struct ps__sync_request_subs now_requested;
  int rc = ps__sync_increase_ttl(s, keys, e);
  if (rc == SQLITE_OK)
    rc = ps__sync_collect_requests(s, it->include_defaults, &now_requested, e);
  if (rc != SQLITE_OK) {
    end_iteration(s);
    return rc;
  }
  if (!ps__sync_request_subs_equal(&now_requested, &it->requested)) {
    ps__sync_request_subs_free(&now_requested);
    close_iteration(s, out, 1);
    return SQLITE_OK;
  }
  ps__sync_request_subs_free(&now_requested);
  ps__sync_stream_keys_free(&it->held);
  it->held = *keys;
  memset(keys, 0, sizeof(*keys));
  return SQLITE_OK;
}

static void handle_teardown(struct ps__sync *s, struct ps__sync_out *out) {
  status_disconnect(&s->iteration->status);
  emit_status(s->iteration, out);
  close_iteration(s, out, 0);
}

/* ---- start (6.1) --------------------------------------------------------- */

/* The options of a start payload (4.4). */
struct start_options {
  struct ps__arena arena;
  const struct ps__json_value *parameters; /* NULL when absent or null. */
  struct ps__schema *schema;
  int include_defaults;
  struct ps__sync_stream_keys active;
  const char *app_metadata; /* Raw text, NULL when absent or null. */
  size_t app_metadata_len;
  int requests_mode;
  int diagnostics;
};

static void start_options_free(struct start_options *o) {
  ps__arena_free(&o->arena);
  ps__schema_free(o->schema);
  ps__sync_stream_keys_free(&o->active);
}

/* StartSyncStream, read as serde reads the official struct: every field has
 * a default except diagnostics, an Option without one (so the sequence form
 * must have all 7 values):
 *   #[default] parameters: Option<Map<String, Value>>, #[default] schema:
 *   Schema, #[default = true] include_defaults: bool, #[default]
 *   active_streams: Vec<StreamKey>, #[default] app_metadata:
 *   Option<Box<RawValue>>, #[default] checkpoint_mode: enum { legacy,
 *   requests }, diagnostics: Option<DiagnosticOptions> (a struct without
 *   fields). */
static const char *const start_fields[] = {
    "parameters",   "schema",          "include_defaults", "active_streams",
    "app_metadata", "checkpoint_mode", "diagnostics"};
static const struct ps__serde_struct start_struct = {
    "StartSyncStream", start_fields, 7, 0, 0x3F, 0};
static const struct ps__serde_struct diagnostics_struct = {
    "DiagnosticOptions", NULL, 0, 0, 0, 0};

struct start_ctx {
  struct start_options *o;
  struct ps__err *e;
  int rc; /* An error that is not a serde message (memory). */
};

static int no_field(struct ps__serde *d, void *ctx, size_t field,
                    const struct ps__json_value *v) {
  (void)d;
  (void)ctx;
  (void)field;
  (void)v;
  return 0;
}

static int start_nomem(struct ps__serde *d, struct start_ctx *c) {
  c->rc = nomem(c->e);
  return ps__serde_fail_at(d, PS_SERDE_NO_POSITION, "out of memory");
}

static int start_field(struct ps__serde *d, void *ctx, size_t field,
                       const struct ps__json_value *v) {
  static const char *const modes[] = {"legacy", "requests"};
  struct start_ctx *c = ctx;
  struct start_options *o = c->o;
  const struct ps__json_value *content;
  size_t mode;
  int rc;
  switch (field) {
  case 0: /* parameters */
    if (v->type == PS_JSON_NULL)
      return 0;
    if (v->type != PS_JSON_OBJECT)
      return ps__serde_invalid_type(d, v, "a map");
    if (v->end == PS_JSON_INCOMPLETE)
      return ps__serde_syntax_error(d);
    /* serde_json's Map keeps the last of repeated keys: read the value
     * again with the default (deduplicating) parser. */
    o->parameters = ps__json_parse(&o->arena, d->text + v->start,
                                   v->end - v->start, NULL, 0);
    return o->parameters ? 0 : start_nomem(d, c);
  case 1: /* schema */
    if (ps__schema_read(d, v, &o->schema))
      return -1;
    return 0;
  case 2: /* include_defaults */
    if (v->type != PS_JSON_TRUE && v->type != PS_JSON_FALSE)
      return ps__serde_invalid_type(d, v, "a boolean");
    o->include_defaults = v->type == PS_JSON_TRUE;
    return 0;
  case 3: /* active_streams */
    rc = ps__sync_stream_keys_read(d, v, &o->active, c->e);
    if (rc == SQLITE_NOMEM)
      c->rc = rc;
    return rc == SQLITE_OK ? 0 : -1;
  case 4: /* app_metadata, raw text; read to its end like any raw value */
    if (v->end == PS_JSON_INCOMPLETE)
      return ps__serde_syntax_error(d);
    if (v->type != PS_JSON_NULL) {
      o->app_metadata = d->text + v->start;
      o->app_metadata_len = v->end - v->start;
    }
    return 0;
  case 5: /* checkpoint_mode */
    if (ps__serde_enum(d, v, modes, 2, &mode, &content))
      return -1;
    if (content && (ps__serde_unit_content(d, content) ||
                    ps__serde_enum_end(d, v, content)))
      return -1;
    o->requests_mode = mode == 1;
    return 0;
  default: /* diagnostics */
    if (v->type == PS_JSON_NULL)
      return 0;
    if (ps__serde_struct(d, v, &diagnostics_struct, no_field, NULL))
      return -1;
    o->diagnostics = 1;
    return 0;
  }
}

static int parse_start(sqlite3_value *payload, struct start_options *o,
                       struct ps__err *e) {
  struct ps__serde d;
  struct start_ctx c;
  const char *text;
  size_t len;
  char msg[PS_SYNC_SERDE_ERROR_MAX];
  memset(o, 0, sizeof(*o));
  ps__arena_init(&o->arena, 0);
  o->include_defaults = 1;
  if (sqlite3_value_type(payload) != SQLITE_TEXT)
    return SQLITE_OK;
  text = (const char *)sqlite3_value_text(payload);
  len = (size_t)sqlite3_value_bytes(payload);
  if (ps__serde_parse(&d, &o->arena, text ? text : "", len, msg, sizeof(msg)))
    return nomem(e);
  c.o = o;
  c.e = e;
  c.rc = SQLITE_OK;
  if (ps__serde_struct(&d, d.root, &start_struct, start_field, &c) ||
      ps__serde_finish(&d)) {
    if (c.rc != SQLITE_OK)
      return c.rc;
    ps__err_argument(e, "", msg);
    return e->code;
  }
  return SQLITE_OK;
}

static int add_before(struct ps__sync_iteration *it, const char *name,
                      size_t len) {
  char **p = realloc(it->before, (it->before_count + 1) * sizeof(*p));
  char *copy = malloc(len + 1);
  if (p)
    it->before = p;
  if (!p || !copy) {
    free(copy);
    return -1;
  }
  memcpy(copy, name, len);
  copy[len] = 0;
  it->before[it->before_count++] = copy;
  return 0;
}

/* "buckets" of the request; remembers the names as BeforeCheckpoint. */
static int write_bucket_positions(struct ps__sync *s,
                                  struct ps__sync_iteration *it,
                                  struct ps__buf *out, struct ps__err *e) {
  sqlite3_stmt *stmt = ps__sync_stmt(s, PS_STMT_BUCKET_POSITIONS, e);
  int rc;
  if (!stmt)
    return e->code;
  ps__buf_putc(out, '[');
  while ((rc = ps__step(stmt, e)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(stmt, 0);
    size_t len = (size_t)sqlite3_column_bytes(stmt, 0);
    if (!name)
      name = "";
    if (it->before_count)
      ps__buf_putc(out, ',');
    ps__buf_puts(out, "{\"name\":");
    ps__json_write_string(out, name, len);
    ps__buf_printf(out, ",\"after\":\"%lld\"}",
                   (long long)sqlite3_column_int64(stmt, 1));
    if (add_before(it, name, len)) {
      rc = nomem(e);
      break;
    }
  }
  sqlite3_reset(stmt);
  ps__buf_putc(out, ']');
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int read_client_id(struct ps__sync *s, struct ps__buf *out,
                          struct ps__err *e) {
  sqlite3_stmt *stmt = ps__sync_stmt(s, PS_STMT_CLIENT_ID, e);
  int rc;
  if (!stmt)
    return e->code;
  rc = ps__step(stmt, e);
  if (rc == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(stmt, 0);
    ps__json_write_string(out, id ? id : "",
                          (size_t)sqlite3_column_bytes(stmt, 0));
    rc = SQLITE_OK;
  } else if (rc == SQLITE_DONE) {
    ps__err_set(e, SQLITE_ABORT, "No client_id found in ps_kv");
    rc = e->code;
  }
  sqlite3_reset(stmt);
  return rc;
}

static void write_subscriptions(struct ps__buf *out,
                                const struct ps__sync_request_subs *r) {
  size_t i;
  ps__buf_printf(out, "{\"include_defaults\":%s,\"subscriptions\":[",
                 r->include_defaults ? "true" : "false");
  for (i = 0; i < r->count; i++) {
    const struct ps__sync_requested_sub *sub = &r->subs[i];
    ps__buf_puts(out, i ? ",{\"stream\":" : "{\"stream\":");
    ps__json_write_string(out, sub->name, strlen(sub->name));
    ps__buf_puts(out, ",\"parameters\":");
    ps__buf_puts(out, sub->params ? sub->params : "null");
    ps__buf_puts(out, ",\"override_priority\":");
    if (sub->has_priority)
      ps__buf_printf(out, "%lld}", (long long)sub->priority);
    else
      ps__buf_puts(out, "null}");
  }
  ps__buf_puts(out, "]}");
}

/* The checkpoint request id sent in requests mode (17.3). */
static int initial_request_id(struct ps__sync *s, int64_t *id,
                              struct ps__err *e) {
  int64_t requested = 0, target = 0;
  int has_requested = 0, has_target = 0;
  int rc = ps__sync_kv_get(s, KV_REQUESTED, &has_requested, &requested, e);
  if (rc == SQLITE_OK)
    rc = ps__sync_kv_get(s, KV_TARGET, &has_target, &target, e);
  *id = 1;
  if (has_requested && requested > *id)
    *id = requested;
  if (has_target && target > 0 && target < MAX_OP_ID && target > *id)
    *id = target;
  return rc;
}

/* Steps 2-7 of 6.1: the EstablishSyncStream instruction. */
static int establish_stream(struct ps__sync *s, struct ps__sync_iteration *it,
                            const struct start_options *o,
                            struct ps__sync_out *out, struct ps__err *e) {
  struct ps__buf req, client;
  int64_t request_id = 0;
  int rc;
  ps__buf_init(&req, 0);
  ps__buf_init(&client, 0);
  ps__buf_puts(&req, "{\"buckets\":");
  rc = write_bucket_positions(s, it, &req, e);
  if (rc == SQLITE_OK)
    rc = ps__sync_increase_ttl(s, &it->held, e);
  if (rc == SQLITE_OK)
    rc = ps__sync_collect_requests(s, it->include_defaults, &it->requested, e);
  if (rc == SQLITE_OK)
    rc = read_client_id(s, &client, e);
  if (rc == SQLITE_OK && it->requests_mode)
    rc = initial_request_id(s, &request_id, e);
  if (rc == SQLITE_OK) {
    ps__buf_puts(&req, ",\"include_checksum\":true,\"raw_data\":true,"
                       "\"binary_data\":true,\"client_id\":");
    ps__buf_append(&req, client.data, client.len);
    ps__buf_puts(&req, ",\"parameters\":");
    if (o->parameters)
      ps__json_write(&req, o->parameters, 1);
    else
      ps__buf_puts(&req, "null");
    ps__buf_puts(&req, ",\"streams\":");
    write_subscriptions(&req, &it->requested);
    if (o->app_metadata) {
      ps__buf_puts(&req, ",\"app_metadata\":");
      ps__buf_append(&req, o->app_metadata, o->app_metadata_len);
    }
    ps__buf_putc(&req, '}');
    ps__sync_out_begin(out, "EstablishSyncStream");
    ps__buf_puts(&out->buf, "{\"request\":");
    ps__buf_append(&out->buf, req.data, req.len);
    if (it->requests_mode) {
      ps__buf_puts(&out->buf, ",\"checkpoint_request\":{\"client_id\":");
      ps__buf_append(&out->buf, client.data, client.len);
      ps__buf_printf(&out->buf, ",\"checkpoint_request_id\":\"%lld\"}",
                     (long long)request_id);
    }
    ps__buf_putc(&out->buf, '}');
    ps__sync_out_end(out);
  }
  ps__buf_free(&req);
  ps__buf_free(&client);
  return rc;
}

static int handle_start(struct ps__sync *s, struct start_options *o,
                        struct ps__sync_out *out, struct ps__err *e) {
  struct ps__sync_iteration *it;
  int rc;
  end_iteration(s);
  it = calloc(1, sizeof(*it));
  if (!it)
    return nomem(e);
  ps__buf_init(&it->fingerprint, 0);
  it->schema = o->schema;
  o->schema = NULL;
  it->held = o->active;
  memset(&o->active, 0, sizeof(o->active));
  it->include_defaults = o->include_defaults;
  it->requests_mode = o->requests_mode;
  it->diagnostics = o->diagnostics;
  rc = ps__sync_status_load_offline(s->db, &it->status, e);
  if (rc == SQLITE_OK) {
    it->status.connecting = 1;
    emit_status(it, out);
    rc = establish_stream(s, it, o, out, e);
  }
  if (rc != SQLITE_OK) {
    ps__sync_iteration_free(it);
    return rc;
  }
  s->iteration = it;
  s->st->sync_iteration_active = 1;
  return SQLITE_OK;
}

/* ---- Dispatch ------------------------------------------------------------ */

static int require_iteration(struct ps__sync *s, struct ps__err *e) {
  if (s->iteration)
    return SQLITE_OK;
  ps__err_state(e, "No iteration is active");
  return e->code;
}

/* Payload checks of the event commands, done before the iteration check. */
static int check_event_payload(enum ps__sync_command cmd,
                               sqlite3_value *payload, int *established,
                               struct ps__sync_stream_keys *keys,
                               struct ps__err *e) {
  const char *text;
  switch (cmd) {
  case PS_SYNC_CMD_LINE_TEXT:
    if (sqlite3_value_type(payload) == SQLITE_TEXT)
      return SQLITE_OK;
    ps__err_argument(e, "Second argument must be a string", NULL);
    return e->code;
  case PS_SYNC_CMD_LINE_BINARY:
    if (sqlite3_value_type(payload) == SQLITE_BLOB)
      return SQLITE_OK;
    ps__err_argument(e, "Second argument must be a byte array", NULL);
    return e->code;
  case PS_SYNC_CMD_CONNECTION:
    text = sqlite3_value_type(payload) == SQLITE_TEXT
               ? (const char *)sqlite3_value_text(payload)
               : NULL;
    if (text && strcmp(text, "established") == 0) {
      *established = 1;
      return SQLITE_OK;
    }
    if (text && strcmp(text, "end") == 0)
      return SQLITE_OK;
    ps__err_argument(e, "unknown connection event", NULL);
    return e->code;
  case PS_SYNC_CMD_UPDATE_SUBSCRIPTIONS:
    text = (const char *)sqlite3_value_text(payload);
    return ps__sync_stream_keys_parse(
        text ? text : "", (size_t)sqlite3_value_bytes(payload), keys, e);
  default:
    return SQLITE_OK;
  }
}

static int run_event(struct ps__sync *s, enum ps__sync_command cmd,
                     sqlite3_value *payload, int established,
                     struct ps__sync_stream_keys *keys,
                     struct ps__sync_out *out, struct ps__err *e) {
  switch (cmd) {
  case PS_SYNC_CMD_LINE_TEXT:
    return handle_line(s, payload, 0, out, e);
  case PS_SYNC_CMD_LINE_BINARY:
    return handle_line(s, payload, 1, out, e);
  case PS_SYNC_CMD_REFRESHED_TOKEN:
    close_iteration(s, out, 1);
    return SQLITE_OK;
  case PS_SYNC_CMD_COMPLETED_UPLOAD:
    return handle_completed_upload(s, out, e);
  case PS_SYNC_CMD_UPDATE_SUBSCRIPTIONS:
    return handle_update_subscriptions(s, keys, out, e);
  case PS_SYNC_CMD_CONNECTION:
    if (!established) {
      handle_teardown(s, out);
      return SQLITE_OK;
    }
    mark_connected(&s->iteration->status);
    emit_status(s->iteration, out);
    return SQLITE_OK;
  default:
    return SQLITE_OK;
  }
}

static int command_subscriptions(struct ps__state *st, sqlite3_context *ctx,
                                 sqlite3_value *payload, struct ps__err *e) {
  struct ps__sync *s = ps__sync_get(st, e);
  const char *text = (const char *)sqlite3_value_text(payload);
  int rc;
  if (!s)
    return e->code;
  rc = ps__sync_subscriptions_op(s, text ? text : "",
                                 (size_t)sqlite3_value_bytes(payload), e);
  if (rc == SQLITE_OK)
    sqlite3_result_null(ctx);
  return rc;
}

static int command_start(struct ps__state *st, sqlite3_value *payload,
                         struct ps__sync_out *out, struct ps__err *e) {
  struct start_options o;
  struct ps__sync *s;
  int rc = parse_start(payload, &o, e);
  if (rc == SQLITE_OK) {
    s = ps__sync_get(st, e);
    rc = s ? handle_start(s, &o, out, e) : e->code;
  }
  start_options_free(&o);
  return rc;
}

int ps__sync_command(struct ps__state *st, sqlite3_context *ctx,
                     enum ps__sync_command cmd, sqlite3_value *payload,
                     struct ps__err *e) {
  struct ps__sync_stream_keys keys;
  struct ps__sync_out out;
  struct ps__sync *s;
  int established = 0, rc;
  if (cmd == PS_SYNC_CMD_SUBSCRIPTIONS)
    return command_subscriptions(st, ctx, payload, e);
  memset(&keys, 0, sizeof(keys));
  ps__sync_out_init(&out);
  if (cmd == PS_SYNC_CMD_START) {
    rc = command_start(st, payload, &out, e);
  } else if (cmd == PS_SYNC_CMD_STOP) {
    s = ps__sync_get(st, e);
    rc = s ? SQLITE_OK : e->code;
    if (s && s->iteration)
      handle_teardown(s, &out);
  } else {
    rc = check_event_payload(cmd, payload, &established, &keys, e);
    s = rc == SQLITE_OK ? ps__sync_get(st, e) : NULL;
    if (rc == SQLITE_OK && !s)
      rc = e->code;
    if (rc == SQLITE_OK)
      rc = require_iteration(s, e);
    if (rc == SQLITE_OK)
      rc = run_event(s, cmd, payload, established, &keys, &out, e);
  }
  if (rc == SQLITE_OK)
    ps__sync_out_result(&out, ctx);
  ps__sync_stream_keys_free(&keys);
  ps__sync_out_free(&out);
  return rc;
}
