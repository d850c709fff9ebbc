/*
 * sync_streams.c: sync stream subscriptions (core-sync.md 16): the
 * 'subscriptions' command, TTL extension of held streams, the subscriptions
 * sent in the request, and reconciling ps_stream_subscriptions with the
 * streams a checkpoint reports.
 *
 * SQL usage: the PS_STMT_SUB_* statements of sync_storage.c on
 * ps_stream_subscriptions.
 *
 * HOW IT WORKS
 *
 * A subscription is identified by (stream_name, local_params) where
 * local_params is the parameters' JSON text as the app sent it, so
 * parameters are carried as raw text (cut out of the payload by the offsets
 * of the JSON tree) and never re-serialised. Rows with a ttl are explicit; rows
 * without are implicit and only live while the service reports their stream as
 * a default one. Reconciling loads every row, marks the ones the checkpoint's
 * streams name, creates rows for unseen default streams, writes the rows back
 * (or deletes dead implicit ones) and builds the stream part of the status,
 * associating buckets through their subscription reasons.
 */
#include <stdlib.h>
#include <string.h>

#include "../core/json.h"
#include "../core/serde.h"
#include "sql.h"
#include "sync_engine.h"

/* Microseconds per second, for TTLs. */
#define USEC_PER_SEC 1000000

/* Column indexes of SELECT * FROM ps_stream_subscriptions. */
#define SUB_COL_ID             0
#define SUB_COL_NAME           1
#define SUB_COL_ACTIVE         2
#define SUB_COL_IS_DEFAULT     3
#define SUB_COL_LOCAL_PRIORITY 4
#define SUB_COL_LOCAL_PARAMS   5
#define SUB_COL_TTL            6
#define SUB_COL_EXPIRES_AT     7
#define SUB_COL_LAST_SYNCED_AT 8

static char *dup_n(const char *p, size_t n) {
  char *r = malloc(n + 1);
  if (r) {
    if (n)
      memcpy(r, p, n);
    r[n] = 0;
  }
  return r;
}

static int nomem(struct ps__err *e) {
  ps__err_nomem(e);
  return e->code;
}

/* ---- Held stream keys ------------------------------------------------------
 */

void ps__sync_stream_keys_free(struct ps__sync_stream_keys *k) {
  size_t i;
  for (i = 0; i < k->count; i++) {
    free(k->keys[i].name);
    free(k->keys[i].params);
  }
  free(k->keys);
  k->keys = NULL;
  k->count = 0;
}

/* StreamKey { name: String, #[serde(default)] params:
 * Option<Box<RawValue>> }: params is kept as the raw text of its value. */
static const char *const key_fields[] = {"name", "params"};
static const struct ps__serde_struct key_struct = {"StreamKey", key_fields, 2,
                                                   1,           2,          0};

struct key_ctx {
  struct ps__sync_stream_key *key;
  int nomem;
};

static int key_field(struct ps__serde *d, void *ctx, size_t field,
                     const struct ps__json_value *v) {
  struct key_ctx *k = ctx;
  const char *name;
  size_t len;
  if (field == 0) {
    if (ps__serde_string(d, v, &name, &len))
      return -1;
    k->key->name = dup_n(name, len);
    if (!k->key->name)
      goto nomem;
    return 0;
  }
  /* A raw value is read to its end, syntax errors included; null is None. */
  if (v->end == PS_JSON_INCOMPLETE)
    return ps__serde_syntax_error(d);
  if (v->type == PS_JSON_NULL)
    return 0;
  k->key->params = dup_n(d->text + v->start, v->end - v->start);
  if (!k->key->params)
    goto nomem;
  return 0;
nomem:
  k->nomem = 1;
  return ps__serde_fail_at(d, PS_SERDE_NO_POSITION, "out of memory");
}

/* Turns a failed read into the argument error of the official core. */
static int serde_error(struct ps__serde *d, int oom, struct ps__err *e) {
  if (oom)
    return nomem(e);
  ps__err_argument(e, "", d->err);
  return e->code;
}

static int read_key(struct ps__serde *d, const struct ps__json_value *v,
                    struct ps__sync_stream_key *key, int *oom) {
  struct key_ctx k;
  k.key = key;
  k.nomem = 0;
  if (ps__serde_struct(d, v, &key_struct, key_field, &k)) {
    *oom = k.nomem;
    return -1;
  }
  return 0;
}

int ps__sync_stream_keys_read(struct ps__serde *d,
                              const struct ps__json_value *v,
                              struct ps__sync_stream_keys *out,
                              struct ps__err *e) {
  size_t i;
  int oom = 0;
  ps__sync_stream_keys_free(out);
  if (ps__serde_seq(d, v, "a sequence"))
    return serde_error(d, 0, e);
  if (v->as.arr.count &&
      !(out->keys = calloc(v->as.arr.count, sizeof(*out->keys))))
    return nomem(e);
  for (i = 0; i < v->as.arr.count; i++) {
    out->count++;
    if (read_key(d, v->as.arr.items[i], &out->keys[i], &oom))
      break;
  }
  if (i < v->as.arr.count || ps__serde_seq_end(d, v)) {
    ps__sync_stream_keys_free(out);
    return serde_error(d, oom, e);
  }
  return SQLITE_OK;
}

int ps__sync_stream_keys_parse(const char *text, size_t len,
                               struct ps__sync_stream_keys *out,
                               struct ps__err *e) {
  struct ps__arena arena;
  struct ps__serde d;
  char msg[PS_SYNC_SERDE_ERROR_MAX];
  int rc;
  memset(out, 0, sizeof(*out));
  ps__arena_init(&arena, 0);
  if (ps__serde_parse(&d, &arena, text, len, msg, sizeof(msg))) {
    rc = nomem(e);
  } else {
    rc = ps__sync_stream_keys_read(&d, d.root, out, e);
    if (rc == SQLITE_OK && ps__serde_finish(&d)) {
      ps__sync_stream_keys_free(out);
      rc = serde_error(&d, 0, e);
    }
  }
  ps__arena_free(&arena);
  return rc;
}

/* ---- Requested subscriptions (16.4) ---------------------------------------
 */

void ps__sync_request_subs_free(struct ps__sync_request_subs *r) {
  size_t i;
  for (i = 0; i < r->count; i++) {
    free(r->subs[i].name);
    free(r->subs[i].params);
  }
  free(r->subs);
  r->subs = NULL;
  r->count = 0;
}

static int opt_str_equal(const char *a, const char *b) {
  if (!a || !b)
    return a == b;
  return strcmp(a, b) == 0;
}

int ps__sync_request_subs_equal(const struct ps__sync_request_subs *a,
                                const struct ps__sync_request_subs *b) {
  size_t i;
  if (a->include_defaults != b->include_defaults || a->count != b->count)
    return 0;
  for (i = 0; i < a->count; i++) {
    const struct ps__sync_requested_sub *x = &a->subs[i], *y = &b->subs[i];
    if (strcmp(x->name, y->name) != 0 || !opt_str_equal(x->params, y->params) ||
        x->has_priority != y->has_priority ||
        (x->has_priority && x->priority != y->priority))
      return 0;
  }
  return 1;
}

int ps__sync_increase_ttl(struct ps__sync *s,
                          const struct ps__sync_stream_keys *keys,
                          struct ps__err *e) {
  sqlite3_stmt *stmt;
  int64_t now;
  size_t i;
  int rc;
  if (!keys->count)
    return SQLITE_OK;
  rc = ps__sync_now(s, &now, e);
  if (rc != SQLITE_OK)
    return rc;
  stmt = ps__sync_stmt(s, PS_STMT_SUB_INCREASE_TTL, e);
  if (!stmt)
    return e->code;
  for (i = 0; i < keys->count && rc == SQLITE_OK; i++) {
    const char *params = keys->keys[i].params ? keys->keys[i].params : "null";
    sqlite3_bind_int64(stmt, 1, now);
    sqlite3_bind_text(stmt, 2, keys->keys[i].name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, params, -1, SQLITE_STATIC);
    rc = ps__step_all(stmt, e);
    sqlite3_reset(stmt);
  }
  sqlite3_clear_bindings(stmt);
  return rc;
}

static int delete_expired(struct ps__sync *s, struct ps__err *e) {
  sqlite3_stmt *stmt;
  int64_t now;
  int rc = ps__sync_now(s, &now, e);
  if (rc != SQLITE_OK)
    return rc;
  stmt = ps__sync_stmt(s, PS_STMT_SUB_DELETE_EXPIRED, e);
  if (!stmt)
    return e->code;
  sqlite3_bind_int64(stmt, 1, now);
  rc = ps__step_all(stmt, e);
  sqlite3_reset(stmt);
  return rc;
}

/* local_params as the request embeds it: trimmed text, NULL for 'null'. */
static int column_params(sqlite3_stmt *stmt, int col, char **out,
                         struct ps__err *e) {
  const char *text = (const char *)sqlite3_column_text(stmt, col);
  size_t len = (size_t)sqlite3_column_bytes(stmt, col);
  const char *start;
  size_t trimmed;
  int rc = ps__sync_params_trimmed(text, len, &start, &trimmed, e);
  *out = NULL;
  if (rc != SQLITE_OK)
    return rc;
  if (trimmed == 4 && memcmp(start, "null", 4) == 0)
    return SQLITE_OK;
  *out = dup_n(start, trimmed);
  return *out ? SQLITE_OK : nomem(e);
}

static int read_requested(sqlite3_stmt *stmt,
                          struct ps__sync_requested_sub *sub,
                          struct ps__err *e) {
  const char *name = (const char *)sqlite3_column_text(stmt, 1);
  memset(sub, 0, sizeof(*sub));
  sub->id = sqlite3_column_int64(stmt, 0);
  sub->name = dup_n(name ? name : "", (size_t)sqlite3_column_bytes(stmt, 1));
  if (!sub->name)
    return nomem(e);
  sub->has_priority = sqlite3_column_type(stmt, 3) != SQLITE_NULL;
  sub->priority = sqlite3_column_int64(stmt, 3);
  return column_params(stmt, 2, &sub->params, e);
}

int ps__sync_collect_requests(struct ps__sync *s, int include_defaults,
                              struct ps__sync_request_subs *out,
                              struct ps__err *e) {
  sqlite3_stmt *stmt;
  size_t cap = 0;
  int rc = delete_expired(s, e);
  memset(out, 0, sizeof(*out));
  out->include_defaults = include_defaults;
  if (rc != SQLITE_OK)
    return rc;
  stmt = ps__sync_stmt(s, PS_STMT_SUB_REQUESTED, e);
  if (!stmt)
    return e->code;
  while ((rc = ps__step(stmt, e)) == SQLITE_ROW) {
    if (out->count == cap) {
      size_t ncap = cap ? cap * 2 : 4;
      void *p = realloc(out->subs, ncap * sizeof(*out->subs));
      if (!p) {
        rc = nomem(e);
        break;
      }
      out->subs = p;
      cap = ncap;
    }
    rc = read_requested(stmt, &out->subs[out->count++], e);
    if (rc != SQLITE_OK)
      break;
  }
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE) {
    ps__sync_request_subs_free(out);
    return rc;
  }
  return SQLITE_OK;
}

/* ---- Reconciling with a checkpoint (16.6) ---------------------------------
 */

/* A loaded subscription row plus the stream that named it. */
struct sub_row {
  struct ps__sync_stream_status st;
  int has_ttl;
  int64_t ttl;
  long stream; /* Index into the checkpoint's streams, or -1. */
};

static void rows_free(struct sub_row *rows, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    free(rows[i].st.name);
    free(rows[i].st.params);
    free(rows[i].st.buckets);
  }
  free(rows);
}

static int read_row(sqlite3_stmt *stmt, struct sub_row *r, struct ps__err *e) {
  const char *name = (const char *)sqlite3_column_text(stmt, SUB_COL_NAME);
  const char *params =
      (const char *)sqlite3_column_text(stmt, SUB_COL_LOCAL_PARAMS);
  size_t plen = (size_t)sqlite3_column_bytes(stmt, SUB_COL_LOCAL_PARAMS);
  const char *start;
  size_t trimmed;
  int rc;
  memset(r, 0, sizeof(*r));
  r->stream = -1;
  r->st.id = sqlite3_column_int64(stmt, SUB_COL_ID);
  r->st.active = sqlite3_column_int(stmt, SUB_COL_ACTIVE) != 0;
  r->st.is_default = sqlite3_column_int(stmt, SUB_COL_IS_DEFAULT) != 0;
  r->has_ttl = sqlite3_column_type(stmt, SUB_COL_TTL) != SQLITE_NULL;
  r->ttl = sqlite3_column_int64(stmt, SUB_COL_TTL);
  r->st.has_explicit = r->has_ttl;
  r->st.has_expires_at =
      sqlite3_column_type(stmt, SUB_COL_EXPIRES_AT) != SQLITE_NULL;
  r->st.expires_at = sqlite3_column_int64(stmt, SUB_COL_EXPIRES_AT);
  r->st.has_last_synced_at =
      sqlite3_column_type(stmt, SUB_COL_LAST_SYNCED_AT) != SQLITE_NULL;
  r->st.last_synced_at = sqlite3_column_int64(stmt, SUB_COL_LAST_SYNCED_AT);
  r->st.name =
      dup_n(name ? name : "", (size_t)sqlite3_column_bytes(stmt, SUB_COL_NAME));
  if (!r->st.name)
    return nomem(e);
  rc = ps__sync_params_trimmed(params, plen, &start, &trimmed, e);
  if (rc != SQLITE_OK)
    return rc;
  r->st.params = dup_n(start, trimmed);
  return r->st.params ? SQLITE_OK : nomem(e);
}

struct row_list {
  struct sub_row *rows;
  size_t count;
  size_t cap;
};

static struct sub_row *row_push(struct row_list *l, struct ps__err *e) {
  if (l->count == l->cap) {
    size_t ncap = l->cap ? l->cap * 2 : 8;
    void *p = realloc(l->rows, ncap * sizeof(*l->rows));
    if (!p) {
      nomem(e);
      return NULL;
    }
    l->rows = p;
    l->cap = ncap;
  }
  return &l->rows[l->count++];
}

static int load_rows(struct ps__sync *s, sqlite3_stmt *stmt, struct row_list *l,
                     struct ps__err *e) {
  int rc;
  while ((rc = ps__step(stmt, e)) == SQLITE_ROW) {
    struct sub_row *r = row_push(l, e);
    if (!r) {
      rc = e->code;
      break;
    }
    rc = read_row(stmt, r, e);
    if (rc != SQLITE_OK) {
      l->count--;
      free(r->st.name);
      break;
    }
    /* In memory every row starts inactive; the checkpoint decides. */
    r->st.active = 0;
    r->st.is_default = 0;
  }
  sqlite3_reset(stmt);
  (void)s;
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void log_error(struct ps__sync_out *out,
                      const struct ps__sync_stream *desc,
                      const struct ps__sync_stream_error *err,
                      const struct ps__sync_request_subs *req,
                      const struct row_list *l) {
  struct ps__buf line;
  size_t i;
  ps__buf_init(&line, 0);
  if (err->is_default) {
    ps__buf_puts(&line, "Default subscription ");
    ps__buf_append(&line, desc->name.ptr, desc->name.len);
    ps__buf_puts(&line, " has errors: ");
    ps__buf_append(&line, err->message.ptr, err->message.len);
  } else if (err->index < req->count) {
    for (i = 0; i < l->count; i++)
      if (l->rows[i].st.id == req->subs[err->index].id)
        break;
    if (i == l->count) {
      ps__buf_free(&line);
      return;
    }
    ps__buf_puts(&line, "Subscription to stream ");
    ps__buf_puts(&line, l->rows[i].st.name);
    if (strcmp(l->rows[i].st.params, "null") == 0) {
      ps__buf_puts(&line, " (without parameters)");
    } else {
      ps__buf_puts(&line, " (with parameters ");
      ps__buf_puts(&line, l->rows[i].st.params);
      ps__buf_putc(&line, ')');
    }
    ps__buf_puts(&line, " could not be resolved: ");
    ps__buf_append(&line, err->message.ptr, err->message.len);
  } else {
    ps__buf_free(&line);
    return;
  }
  ps__sync_out_log(out, "WARNING", ps__buf_cstr(&line), line.len);
  ps__buf_free(&line);
}

static int insert_default(struct ps__sync *s,
                          const struct ps__sync_stream *desc, long index,
                          struct row_list *l, struct ps__err *e) {
  sqlite3_stmt *stmt = ps__sync_stmt(s, PS_STMT_SUB_INSERT_DEFAULT, e);
  struct sub_row *r;
  int rc;
  if (!stmt)
    return e->code;
  sqlite3_bind_text(stmt, 1, desc->name.ptr, (int)desc->name.len,
                    SQLITE_STATIC);
  rc = ps__step(stmt, e);
  if (rc == SQLITE_ROW) {
    r = row_push(l, e);
    rc = r ? read_row(stmt, r, e) : e->code;
    if (rc == SQLITE_OK) {
      r->stream = index;
      rc = ps__step(stmt, e);
    }
  }
  sqlite3_reset(stmt);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int match_streams(struct ps__sync *s, const struct ps__sync_target *t,
                         const struct ps__sync_request_subs *req,
                         struct ps__sync_out *out, struct row_list *l,
                         struct ps__err *e) {
  size_t i, j;
  int rc = SQLITE_OK;
  for (i = 0; i < t->stream_count && rc == SQLITE_OK; i++) {
    const struct ps__sync_stream *desc = &t->streams[i];
    int matched = 0;
    for (j = 0; j < l->count; j++) {
      struct sub_row *r = &l->rows[j];
      if (ps__sync_str_cmp(r->st.name, strlen(r->st.name), desc->name.ptr,
                           desc->name.len) != 0)
        continue;
      r->st.active = 1;
      r->st.is_default = desc->is_default;
      r->stream = (long)i;
      matched = 1;
    }
    for (j = 0; j < desc->error_count; j++)
      log_error(out, desc, &desc->errors[j], req, l);
    if (!matched && desc->is_default)
      rc = insert_default(s, desc, (long)i, l, e);
  }
  return rc;
}

static void bind_opt(sqlite3_stmt *stmt, int i, int has, int64_t v) {
  if (has)
    sqlite3_bind_int64(stmt, i, v);
  else
    sqlite3_bind_null(stmt, i);
}

/* Deletes dead implicit rows (dropping them from the list) and writes back
 * the others. */
static int write_back(struct ps__sync *s, struct row_list *l,
                      struct ps__err *e) {
  sqlite3_stmt *del = ps__sync_stmt(s, PS_STMT_SUB_DELETE, e);
  sqlite3_stmt *upd = del ? ps__sync_stmt(s, PS_STMT_SUB_UPDATE, e) : NULL;
  size_t i, kept = 0;
  int rc = SQLITE_OK;
  if (!upd)
    return e->code;
  for (i = 0; i < l->count; i++) {
    struct sub_row *r = &l->rows[i];
    if (rc == SQLITE_OK && !r->has_ttl && r->stream < 0) {
      sqlite3_bind_int64(del, 1, r->st.id);
      rc = ps__step_all(del, e);
      sqlite3_reset(del);
      free(r->st.name);
      free(r->st.params);
      free(r->st.buckets);
      continue;
    }
    if (rc == SQLITE_OK) {
      sqlite3_bind_int64(upd, 1, r->st.id);
      sqlite3_bind_int(upd, 2, r->st.active);
      sqlite3_bind_int(upd, 3, r->st.is_default);
      bind_opt(upd, 4, r->has_ttl, r->ttl);
      bind_opt(upd, 5, r->st.has_expires_at, r->st.expires_at);
      bind_opt(upd, 6, r->st.has_last_synced_at, r->st.last_synced_at);
      rc = ps__step_all(upd, e);
      sqlite3_reset(upd);
    }
    l->rows[kept++] = *r;
  }
  l->count = kept;
  return rc;
}

static int add_bucket(struct ps__sync_stream_status *st, size_t bucket,
                      int32_t priority, struct ps__err *e) {
  size_t i;
  size_t *p;
  for (i = 0; i < st->bucket_count; i++)
    if (st->buckets[i] == bucket)
      return SQLITE_OK;
  p = realloc(st->buckets, (st->bucket_count + 1) * sizeof(*p));
  if (!p)
    return nomem(e);
  st->buckets = p;
  st->buckets[st->bucket_count++] = bucket;
  if (!st->has_priority || priority > st->priority) {
    st->has_priority = 1;
    st->priority = priority;
  }
  return SQLITE_OK;
}

static int associate_buckets(const struct ps__sync_target *t,
                             const struct ps__sync_request_subs *req,
                             struct row_list *l, struct ps__err *e) {
  size_t i, j, k;
  int rc = SQLITE_OK;
  for (i = 0; i < t->bucket_count && rc == SQLITE_OK; i++) {
    const struct ps__sync_bucket_checksum *b = &t->buckets[i];
    for (j = 0; j < b->subscription_count && rc == SQLITE_OK; j++) {
      const struct ps__sync_bucket_subscription *why = &b->subscriptions[j];
      for (k = 0; k < l->count && rc == SQLITE_OK; k++) {
        struct sub_row *r = &l->rows[k];
        int hit;
        if (why->kind == PS_SYNC_SUBSCRIPTION_DEFAULT)
          hit = r->stream >= 0 && (uint64_t)r->stream == why->index &&
                why->index < t->stream_count &&
                t->streams[why->index].is_default && !r->has_ttl;
        else
          hit = why->index < req->count && req->subs[why->index].id == r->st.id;
        if (hit)
          rc = add_bucket(&r->st, i, b->priority, e);
      }
    }
  }
  return rc;
}

int ps__sync_reconcile_streams(struct ps__sync *s,
                               const struct ps__sync_target *t,
                               const struct ps__sync_request_subs *req,
                               struct ps__sync_out *out,
                               struct ps__sync_stream_status **streams,
                               size_t *stream_count, struct ps__err *e) {
  struct row_list l;
  sqlite3_stmt *stmt = ps__sync_stmt(s, PS_STMT_SUB_ALL, e);
  size_t i;
  int rc;
  memset(&l, 0, sizeof(l));
  if (!stmt)
    return e->code;
  rc = load_rows(s, stmt, &l, e);
  if (rc == SQLITE_OK)
    rc = match_streams(s, t, req, out, &l, e);
  if (rc == SQLITE_OK)
    rc = write_back(s, &l, e);
  if (rc == SQLITE_OK)
    rc = associate_buckets(t, req, &l, e);
  if (rc == SQLITE_OK && l.count &&
      !(*streams = calloc(l.count, sizeof(**streams))))
    rc = nomem(e);
  if (rc != SQLITE_OK) {
    rows_free(l.rows, l.count);
    return rc;
  }
  if (!l.count)
    *streams = NULL;
  for (i = 0; i < l.count; i++)
    (*streams)[i] = l.rows[i].st;
  *stream_count = l.count;
  free(l.rows);
  return SQLITE_OK;
}

/* ---- powersync_control('subscriptions', ...) (16.2) -----------------------
 */

/* SubscribeToStream { stream: StreamKey, #[serde(default)] ttl: Option<u64>,
 * #[serde(default)] priority: Option<BucketPriority> }. */
static const char *const subscribe_fields[] = {"stream", "ttl", "priority"};
static const struct ps__serde_struct subscribe_struct = {
    "SubscribeToStream", subscribe_fields, 3, 1, 6, 0};

struct subscribe_req {
  struct ps__sync_stream_key key;
  int64_t ttl;
  int has_priority;
  int64_t priority;
  int nomem;
};

/* BucketPriority's visitor: an integer that fits i32, from 0 (highest) to
 * below i32::MAX (reserved for "all priorities"). Errors are positioned
 * after the number, like every error of serde_json's integer reading. */
static int read_priority(struct ps__serde *d, const struct ps__json_value *v,
                         int64_t *out) {
  static const char expected[] =
      "a priority as an integer between 0 and 3 (inclusive)";
  if (v->type == PS_JSON_UINT ||
      (v->type == PS_JSON_INT && (v->as.i < INT32_MIN || v->as.i > INT32_MAX)))
    return ps__serde_fail_at(d, v->end, "int too large");
  if (v->type != PS_JSON_INT)
    return ps__serde_invalid_type(d, v, expected);
  if (v->as.i < 0 || v->as.i == INT32_MAX)
    return ps__serde_fail_at(d, v->end,
                             "invalid argument: Invalid bucket priority "
                             "value. cause: unknown");
  *out = v->as.i;
  return 0;
}

static int subscribe_field(struct ps__serde *d, void *ctx, size_t field,
                           const struct ps__json_value *v) {
  struct subscribe_req *r = ctx;
  int oom = 0;
  if (field == 0) {
    if (read_key(d, v, &r->key, &oom)) {
      r->nomem = oom;
      return -1;
    }
    return 0;
  }
  if (v->type == PS_JSON_NULL)
    return 0;
  if (field == 2) {
    r->has_priority = 1;
    return read_priority(d, v, &r->priority);
  }
  /* u64: a negative integer is the wrong value, anything else but an
   * integer the wrong type. Above i64 the bits are kept, as Rust's cast to
   * i64 keeps them. */
  if (v->type == PS_JSON_INT && v->as.i < 0)
    return ps__serde_invalid_value(d, v, "u64");
  if (v->type == PS_JSON_UINT) {
    memcpy(&r->ttl, &v->as.u, sizeof(r->ttl));
    return 0;
  }
  if (v->type != PS_JSON_INT)
    return ps__serde_invalid_type(d, v, "u64");
  r->ttl = v->as.i;
  return 0;
}

static int subscribe(struct ps__sync *s, const struct subscribe_req *r,
                     struct ps__err *e) {
  const char *praw = r->key.params ? r->key.params : "null";
  int64_t now;
  int rc;
  sqlite3_stmt *stmt;
  rc = ps__sync_now(s, &now, e);
  if (rc != SQLITE_OK)
    return rc;
  stmt = ps__sync_stmt(s, PS_STMT_SUB_SUBSCRIBE, e);
  if (!stmt)
    return e->code;
  sqlite3_bind_text(stmt, 1, r->key.name, -1, SQLITE_STATIC);
  bind_opt(stmt, 2, r->has_priority, r->priority);
  sqlite3_bind_text(stmt, 3, praw, -1, SQLITE_STATIC);
  sqlite3_bind_int64(stmt, 4, r->ttl);
  /* Wrapping arithmetic, as Rust's release build does, and no C overflow. */
  sqlite3_bind_int64(
      stmt, 5,
      (int64_t)((uint64_t)now + (uint64_t)r->ttl * (uint64_t)USEC_PER_SEC));
  rc = ps__step_all(stmt, e);
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  return rc;
}

static int unsubscribe(struct ps__sync *s,
                       const struct ps__sync_stream_key *key,
                       struct ps__err *e) {
  sqlite3_stmt *stmt;
  int rc;
  stmt = ps__sync_stmt(s, PS_STMT_SUB_UNSUBSCRIBE, e);
  if (!stmt)
    return e->code;
  sqlite3_bind_text(stmt, 1, key->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(stmt, 2, key->params ? key->params : "null", -1,
                    SQLITE_STATIC);
  rc = ps__step_all(stmt, e);
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  return rc;
}

/* The payload is the enum { subscribe(SubscribeToStream),
 * unsubscribe(StreamKey) }, read completely before anything is written. */
static int read_subscriptions_op(struct ps__serde *d, size_t *variant,
                                 struct subscribe_req *r) {
  static const char *const variants[] = {"subscribe", "unsubscribe"};
  const struct ps__json_value *content;
  int oom = 0;
  if (ps__serde_enum(d, d->root, variants, 2, variant, &content))
    return -1;
  if (!content)
    /* Both variants carry content; serde_json gives this error no
     * position at the top level. */
    return ps__serde_fail_at(
        d, PS_SERDE_NO_POSITION,
        "invalid type: unit variant, expected newtype variant");
  if (*variant == 0) {
    if (ps__serde_struct(d, content, &subscribe_struct, subscribe_field, r))
      return -1;
  } else if (read_key(d, content, &r->key, &oom)) {
    r->nomem = oom;
    return -1;
  }
  if (ps__serde_enum_end(d, d->root, content))
    return -1;
  return ps__serde_finish(d);
}

int ps__sync_subscriptions_op(struct ps__sync *s, const char *text, size_t len,
                              struct ps__err *e) {
  struct ps__arena arena;
  struct ps__serde d;
  struct subscribe_req r;
  char msg[PS_SYNC_SERDE_ERROR_MAX];
  size_t variant = 0;
  int rc;
  memset(&r, 0, sizeof(r));
  r.ttl = PS_SYNC_DEFAULT_TTL;
  ps__arena_init(&arena, 0);
  if (ps__serde_parse(&d, &arena, text, len, msg, sizeof(msg)))
    rc = nomem(e);
  else if (read_subscriptions_op(&d, &variant, &r))
    rc = serde_error(&d, r.nomem, e);
  else if (variant == 0)
    rc = subscribe(s, &r, e);
  else
    rc = unsubscribe(s, &r.key, e);
  free(r.key.name);
  free(r.key.params);
  ps__arena_free(&arena);
  return rc;
}
