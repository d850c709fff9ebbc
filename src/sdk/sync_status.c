/*
 * sync_status.c: the sync status of a database (sync.h "Sync status",
 * sdk.md section 12): immutable snapshots, the hub that publishes them, and
 * the listeners and waiters that follow it.
 *
 * SNAPSHOTS
 *
 * A powersync_sync_status is built once and never changed, so any number of
 * threads may read it without locks; an atomic reference count decides when
 * it goes. Everything it holds (arrays, strings, its JSON form) lives in one
 * arena, which is freed at once. A snapshot combines two parts:
 *
 * - the core part: the status object the core writes (UpdateSyncStatus,
 *   powersync_offline_sync_status()), read with our JSON reader. Unknown
 *   keys (internal_last_applied_checkpoint_request_id) are ignored; a value
 *   of the wrong type makes the whole object unusable (POWERSYNC_EPROTOCOL);
 * - the SDK part: uploading and the last download and upload errors.
 *
 * The hub keeps the inputs (the last accepted core text, a "disconnected"
 * override, the SDK fields) rather than a parsed tree, and every setter
 * builds a complete new snapshot from them. Status changes come at most a
 * few times per sync line, and the text is small, so re-reading it is
 * cheaper in code than keeping a second representation in step.
 *
 * JSON FORM (powersync_sync_status_json), stable and compact:
 *
 *   {"connected":b,"connecting":b,"downloading":b,"uploading":b,
 *    "has_synced":b,"last_synced_at":us|null,
 *    "download_error":str|null,"upload_error":str|null,
 *    "progress":null|{"total":n,"downloaded":n,
 *                     "by_priority":[{"priority":p,"total":n,
 *                                     "downloaded":n}]},
 *    "priority_status":[{"priority":p,"has_synced":b,"last_synced_at":us|null}],
 *    "streams":[{"name":str,"parameters":json,"priority":p|null,"active":b,
 *                "is_default":b,"has_explicit_subscription":b,
 *                "expires_at":us|null,"has_synced":b,"last_synced_at":us|null,
 *                "progress":null|{"total":n,"downloaded":n}}]}
 *
 * Times are microseconds since the epoch; "progress" is null unless
 * downloading; "by_priority" and "priority_status" are in increasing
 * priority number. Every getter's answer is a function of this text, which
 * is why comparing it is how the hub decides that the status changed
 * (sdk.md 12.2): a snapshot that reads the same is not published.
 *
 * THE HUB
 *
 * One mutex guards the inputs, the current snapshot, a generation number
 * (raised with every published snapshot) and the listeners. Waiters sleep
 * on a condition variable (CLOCK_MONOTONIC) until the generation moves.
 * Listeners are called through the database's dispatcher by one delivery
 * job: it hands the current snapshot to each listener that has not seen the
 * current generation, and looks again after every call, so a listener that
 * was slow skips what was published meanwhile but always ends on the latest.
 * At most one delivery job is queued or running; publishing while it is
 * posts nothing. A new listener has seen no generation, so it gets the
 * current snapshot first.
 *
 * The delivery job holds a reference to the hub: when a listener closes the
 * database from its callback, ps__status_hub_free runs inside the job, and
 * the hub must outlive the job's remaining steps.
 *
 * The offline status (ps__status_refresh_offline) is only installed while
 * the current status is neither connected nor connecting: a connection that
 * started after the caller checked owns the core part, and an offline read
 * landing late must not make it look disconnected.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/json.h"
#include "../util/arena.h"
#include "sync_internal.h"

#define STATUS_TAG "sync"

/* The priority_status entry of a complete sync. */
#define FULL_SYNC_PRIORITY 2147483647

/* ---- Snapshots -----------------------------------------------------------
 */

/* Download progress of the buckets of one priority, as the core aggregates
 * it: total = target_count - at_last, downloaded = since_last. */
struct bucket_progress {
  int priority;
  int64_t total;
  int64_t downloaded;
};

/* A stream's public status plus its parameters with sorted keys, which
 * powersync_sync_status_for_stream compares. */
struct stream_entry {
  powersync_stream_status pub;
  const char *params_sorted;
};

struct powersync_sync_status {
  atomic_int refs;
  struct ps__arena arena; /* Owns everything below. */

  int connected;
  int connecting;
  int downloading;
  int uploading;
  int has_synced;
  int64_t last_synced_at_us;
  const char *download_error; /* NULL: none. */
  const char *upload_error;

  struct bucket_progress *buckets; /* Increasing priority number. */
  size_t bucket_count;
  powersync_priority_status *priorities; /* Increasing priority number. */
  size_t priority_count;
  struct stream_entry *streams; /* In the core's order. */
  size_t stream_count;

  const char *json;
};

/* The inputs a snapshot is built from (the hub's state). */
struct status_inputs {
  const char *core; /* NULL: nothing from the core yet. */
  size_t core_len;
  int disconnected; /* Override: not connected, not downloading. */
  int uploading;
  const char *download_error;
  const char *upload_error;
};

static void *snap_alloc(powersync_sync_status *s, size_t n, size_t size) {
  if (n == 0)
    return NULL;
  if (n > SIZE_MAX / size)
    return NULL;
  return ps__arena_alloc(&s->arena, n * size);
}

static const char *snap_strdup(powersync_sync_status *s, const char *p,
                               size_t len) {
  return ps__arena_strndup(&s->arena, p, len);
}

/* ---- Reading the core's status object ----------------------------------- */

static int json_absent(const struct ps__json_value *v) {
  return v == NULL || v->type == PS_JSON_NULL;
}

/* A boolean member; absent or null reads as 0. */
static int read_bool(const struct ps__json_value *obj, const char *key,
                     int *out) {
  const struct ps__json_value *v = ps__json_get(obj, key);
  *out = 0;
  if (json_absent(v) || v->type == PS_JSON_FALSE)
    return POWERSYNC_OK;
  if (v->type != PS_JSON_TRUE)
    return POWERSYNC_EPROTOCOL;
  *out = 1;
  return POWERSYNC_OK;
}

/* An integer member; absent or null reads as 0 with *present = 0. */
static int read_int(const struct ps__json_value *obj, const char *key,
                    int64_t *out, int *present) {
  const struct ps__json_value *v = ps__json_get(obj, key);
  *out = 0;
  if (present)
    *present = 0;
  if (json_absent(v))
    return POWERSYNC_OK;
  if (v->type != PS_JSON_INT)
    return POWERSYNC_EPROTOCOL;
  *out = v->as.i;
  if (present)
    *present = 1;
  return POWERSYNC_OK;
}

/* A priority member that must be present (or, with optional, may be absent
 * or null: *out = -1). */
static int read_priority(const struct ps__json_value *obj, int optional,
                         int *out) {
  int64_t v;
  int present;
  int rc = read_int(obj, "priority", &v, &present);
  *out = -1;
  if (rc != POWERSYNC_OK)
    return rc;
  if (!present)
    return optional ? POWERSYNC_OK : POWERSYNC_EPROTOCOL;
  if (v < 0 || v > INT_MAX)
    return POWERSYNC_EPROTOCOL;
  *out = (int)v;
  return POWERSYNC_OK;
}

static void sort_priorities(powersync_priority_status *a, size_t n) {
  size_t i, j;
  for (i = 1; i < n; i++) {
    powersync_priority_status x = a[i];
    for (j = i; j > 0 && a[j - 1].priority > x.priority; j--)
      a[j] = a[j - 1];
    a[j] = x;
  }
}

static void sort_buckets(struct bucket_progress *a, size_t n) {
  size_t i, j;
  for (i = 1; i < n; i++) {
    struct bucket_progress x = a[i];
    for (j = i; j > 0 && a[j - 1].priority > x.priority; j--)
      a[j] = a[j - 1];
    a[j] = x;
  }
}

/* "priority_status": [{"priority", "last_synced_at", "has_synced"}]. */
static int read_priority_status(powersync_sync_status *s,
                                const struct ps__json_value *arr) {
  size_t i;
  if (json_absent(arr))
    return POWERSYNC_OK;
  if (arr->type != PS_JSON_ARRAY)
    return POWERSYNC_EPROTOCOL;
  s->priorities = snap_alloc(s, arr->as.arr.count, sizeof(*s->priorities));
  if (arr->as.arr.count > 0 && !s->priorities)
    return POWERSYNC_ENOMEM;
  for (i = 0; i < arr->as.arr.count; i++) {
    const struct ps__json_value *e = arr->as.arr.items[i];
    powersync_priority_status *p = &s->priorities[i];
    const struct ps__json_value *hs;
    int synced_present, rc;
    if (e->type != PS_JSON_OBJECT)
      return POWERSYNC_EPROTOCOL;
    rc = read_priority(e, 0, &p->priority);
    if (rc == POWERSYNC_OK)
      rc =
          read_int(e, "last_synced_at", &p->last_synced_at_us, &synced_present);
    if (rc != POWERSYNC_OK)
      return rc;
    /* The core always writes has_synced: true; older shapes may leave it
     * out, and then a time means synced. */
    hs = ps__json_get(e, "has_synced");
    if (json_absent(hs))
      p->has_synced = synced_present;
    else if (read_bool(e, "has_synced", &p->has_synced) != POWERSYNC_OK)
      return POWERSYNC_EPROTOCOL;
  }
  s->priority_count = arr->as.arr.count;
  sort_priorities(s->priorities, s->priority_count);
  return POWERSYNC_OK;
}

/* One "downloading.buckets" value. */
static int read_bucket(const struct ps__json_value *v,
                       struct bucket_progress *out) {
  int64_t at_last, since_last, target;
  int rc;
  if (v->type != PS_JSON_OBJECT)
    return POWERSYNC_EPROTOCOL;
  rc = read_priority(v, 0, &out->priority);
  if (rc == POWERSYNC_OK)
    rc = read_int(v, "at_last", &at_last, NULL);
  if (rc == POWERSYNC_OK)
    rc = read_int(v, "since_last", &since_last, NULL);
  if (rc == POWERSYNC_OK)
    rc = read_int(v, "target_count", &target, NULL);
  if (rc != POWERSYNC_OK)
    return rc;
  out->total = target - at_last;
  out->downloaded = since_last;
  return POWERSYNC_OK;
}

/* "downloading": null | {"buckets": {"prio_N": {...}}}. */
static int read_downloading(powersync_sync_status *s,
                            const struct ps__json_value *v) {
  const struct ps__json_value *buckets;
  size_t i, n;
  if (json_absent(v))
    return POWERSYNC_OK;
  if (v->type != PS_JSON_OBJECT)
    return POWERSYNC_EPROTOCOL;
  s->downloading = 1;
  buckets = ps__json_get(v, "buckets");
  if (json_absent(buckets))
    return POWERSYNC_OK;
  if (buckets->type != PS_JSON_OBJECT)
    return POWERSYNC_EPROTOCOL;
  n = buckets->as.obj.count;
  s->buckets = snap_alloc(s, n, sizeof(*s->buckets));
  if (n > 0 && !s->buckets)
    return POWERSYNC_ENOMEM;
  for (i = 0; i < n; i++) {
    int rc = read_bucket(buckets->as.obj.members[i].value, &s->buckets[i]);
    if (rc != POWERSYNC_OK)
      return rc;
  }
  s->bucket_count = n;
  sort_buckets(s->buckets, n);
  return POWERSYNC_OK;
}

/* v written compactly (keys sorted or as given) into the snapshot. */
static int write_value(powersync_sync_status *s, const struct ps__json_value *v,
                       int sorted, const char **out) {
  struct ps__buf b;
  ps__buf_init(&b, PS_BUF_DEFAULT_MAX);
  if (json_absent(v))
    ps__buf_puts(&b, "null");
  else
    ps__json_write(&b, v, sorted);
  *out = ps__buf_failed(&b) ? NULL : snap_strdup(s, b.data, b.len);
  ps__buf_free(&b);
  return *out ? POWERSYNC_OK : POWERSYNC_ENOMEM;
}

/* A stream's "progress": {"total", "downloaded"}. */
static int read_stream_progress(const struct ps__json_value *v,
                                powersync_sync_progress *out) {
  int rc;
  if (json_absent(v))
    return POWERSYNC_OK;
  if (v->type != PS_JSON_OBJECT)
    return POWERSYNC_EPROTOCOL;
  rc = read_int(v, "total", &out->total, NULL);
  if (rc == POWERSYNC_OK)
    rc = read_int(v, "downloaded", &out->downloaded, NULL);
  return rc;
}

static int read_stream(powersync_sync_status *s, const struct ps__json_value *v,
                       struct stream_entry *e) {
  powersync_stream_status *p = &e->pub;
  const struct ps__json_value *name = ps__json_get(v, "name");
  const struct ps__json_value *params = ps__json_get(v, "parameters");
  int rc;
  if (v->type != PS_JSON_OBJECT || !name || name->type != PS_JSON_STRING)
    return POWERSYNC_EPROTOCOL;
  p->name = snap_strdup(s, name->as.str.ptr, name->as.str.len);
  if (!p->name)
    return POWERSYNC_ENOMEM;
  rc = write_value(s, params, 0, &p->parameters_json);
  if (rc == POWERSYNC_OK)
    rc = write_value(s, params, 1, &e->params_sorted);
  if (rc == POWERSYNC_OK)
    rc = read_priority(v, 1, &p->priority);
  if (rc == POWERSYNC_OK)
    rc = read_bool(v, "active", &p->active);
  if (rc == POWERSYNC_OK)
    rc = read_bool(v, "is_default", &p->is_default);
  if (rc == POWERSYNC_OK)
    rc = read_bool(v, "has_explicit_subscription",
                   &p->has_explicit_subscription);
  if (rc == POWERSYNC_OK)
    rc = read_int(v, "expires_at", &p->expires_at_us, NULL);
  if (rc == POWERSYNC_OK)
    rc = read_int(v, "last_synced_at", &p->last_synced_at_us, &p->has_synced);
  if (rc == POWERSYNC_OK)
    rc = read_stream_progress(ps__json_get(v, "progress"), &p->progress);
  return rc;
}

/* "streams": [...]; progress only counts while downloading. */
static int read_streams(powersync_sync_status *s,
                        const struct ps__json_value *arr) {
  size_t i, n;
  if (json_absent(arr))
    return POWERSYNC_OK;
  if (arr->type != PS_JSON_ARRAY)
    return POWERSYNC_EPROTOCOL;
  n = arr->as.arr.count;
  s->streams = snap_alloc(s, n, sizeof(*s->streams));
  if (n > 0 && !s->streams)
    return POWERSYNC_ENOMEM;
  for (i = 0; i < n; i++) {
    powersync_stream_status *p = &s->streams[i].pub;
    int rc = read_stream(s, arr->as.arr.items[i], &s->streams[i]);
    if (rc != POWERSYNC_OK)
      return rc;
    p->has_progress = s->downloading;
    if (!p->has_progress)
      memset(&p->progress, 0, sizeof(p->progress));
  }
  s->stream_count = n;
  return POWERSYNC_OK;
}

/* Fills the core part of s from the text of a status object. */
static int read_core(powersync_sync_status *s, const char *text, size_t len,
                     int disconnected) {
  struct ps__arena arena;
  const struct ps__json_value *root;
  char err[128];
  int rc;
  ps__arena_init(&arena, 0);
  root = ps__json_parse(&arena, text, len, err, sizeof(err));
  if (!root) {
    rc = strcmp(err, "out of memory") == 0 ? POWERSYNC_ENOMEM
                                           : POWERSYNC_EPROTOCOL;
    ps__log(POWERSYNC_LOG_DEBUG, STATUS_TAG, "unreadable status: %s", err);
    ps__arena_free(&arena);
    return rc;
  }
  rc = root->type == PS_JSON_OBJECT ? POWERSYNC_OK : POWERSYNC_EPROTOCOL;
  if (rc == POWERSYNC_OK)
    rc = read_bool(root, "connected", &s->connected);
  if (rc == POWERSYNC_OK)
    rc = read_bool(root, "connecting", &s->connecting);
  if (rc == POWERSYNC_OK)
    rc = read_priority_status(s, ps__json_get(root, "priority_status"));
  if (rc == POWERSYNC_OK)
    rc = read_downloading(s, ps__json_get(root, "downloading"));
  if (rc == POWERSYNC_OK && disconnected) {
    /* Checked first, then dropped: the text was accepted when it came. */
    s->connected = s->connecting = s->downloading = 0;
    s->bucket_count = 0;
  }
  if (rc == POWERSYNC_OK)
    rc = read_streams(s, ps__json_get(root, "streams"));
  ps__arena_free(&arena);
  return rc;
}

/* ---- Writing the snapshot's JSON form ----------------------------------- */

static void put_bool(struct ps__buf *b, const char *key, int v) {
  ps__buf_printf(b, "\"%s\":%s", key, v ? "true" : "false");
}

static void put_time(struct ps__buf *b, const char *key, int64_t us) {
  if (us == 0)
    ps__buf_printf(b, "\"%s\":null", key);
  else
    ps__buf_printf(b, "\"%s\":%" PRId64, key, us);
}

static void put_string(struct ps__buf *b, const char *key, const char *v) {
  ps__buf_printf(b, "\"%s\":", key);
  if (v)
    ps__json_write_string(b, v, strlen(v));
  else
    ps__buf_puts(b, "null");
}

static void put_progress(struct ps__buf *b, int64_t total, int64_t done) {
  ps__buf_printf(b, "\"total\":%" PRId64 ",\"downloaded\":%" PRId64, total,
                 done);
}

static void write_progress(struct ps__buf *b, const powersync_sync_status *s) {
  powersync_sync_progress all;
  size_t i;
  if (!powersync_sync_status_progress(s, -1, &all)) {
    ps__buf_puts(b, "\"progress\":null");
    return;
  }
  ps__buf_puts(b, "\"progress\":{");
  put_progress(b, all.total, all.downloaded);
  ps__buf_puts(b, ",\"by_priority\":[");
  for (i = 0; i < s->bucket_count; i++) {
    const struct bucket_progress *p = &s->buckets[i];
    ps__buf_printf(b, "%s{\"priority\":%d,", i ? "," : "", p->priority);
    put_progress(b, p->total, p->downloaded);
    ps__buf_putc(b, '}');
  }
  ps__buf_puts(b, "]}");
}

static void write_priorities(struct ps__buf *b,
                             const powersync_sync_status *s) {
  size_t i;
  ps__buf_puts(b, "\"priority_status\":[");
  for (i = 0; i < s->priority_count; i++) {
    const powersync_priority_status *p = &s->priorities[i];
    ps__buf_printf(b, "%s{\"priority\":%d,", i ? "," : "", p->priority);
    put_bool(b, "has_synced", p->has_synced);
    ps__buf_putc(b, ',');
    put_time(b, "last_synced_at", p->last_synced_at_us);
    ps__buf_putc(b, '}');
  }
  ps__buf_putc(b, ']');
}

static void write_stream(struct ps__buf *b, const powersync_stream_status *p) {
  ps__buf_putc(b, '{');
  put_string(b, "name", p->name);
  ps__buf_printf(b, ",\"parameters\":%s,", p->parameters_json);
  if (p->priority < 0)
    ps__buf_puts(b, "\"priority\":null,");
  else
    ps__buf_printf(b, "\"priority\":%d,", p->priority);
  put_bool(b, "active", p->active);
  ps__buf_putc(b, ',');
  put_bool(b, "is_default", p->is_default);
  ps__buf_putc(b, ',');
  put_bool(b, "has_explicit_subscription", p->has_explicit_subscription);
  ps__buf_putc(b, ',');
  put_time(b, "expires_at", p->expires_at_us);
  ps__buf_putc(b, ',');
  put_bool(b, "has_synced", p->has_synced);
  ps__buf_putc(b, ',');
  put_time(b, "last_synced_at", p->last_synced_at_us);
  if (p->has_progress) {
    ps__buf_puts(b, ",\"progress\":{");
    put_progress(b, p->progress.total, p->progress.downloaded);
    ps__buf_puts(b, "}}");
  } else {
    ps__buf_puts(b, ",\"progress\":null}");
  }
}

static int write_json(powersync_sync_status *s) {
  struct ps__buf b;
  size_t i;
  ps__buf_init(&b, PS_BUF_DEFAULT_MAX);
  ps__buf_putc(&b, '{');
  put_bool(&b, "connected", s->connected);
  ps__buf_putc(&b, ',');
  put_bool(&b, "connecting", s->connecting);
  ps__buf_putc(&b, ',');
  put_bool(&b, "downloading", s->downloading);
  ps__buf_putc(&b, ',');
  put_bool(&b, "uploading", s->uploading);
  ps__buf_putc(&b, ',');
  put_bool(&b, "has_synced", s->has_synced);
  ps__buf_putc(&b, ',');
  put_time(&b, "last_synced_at", s->last_synced_at_us);
  ps__buf_putc(&b, ',');
  put_string(&b, "download_error", s->download_error);
  ps__buf_putc(&b, ',');
  put_string(&b, "upload_error", s->upload_error);
  ps__buf_putc(&b, ',');
  write_progress(&b, s);
  ps__buf_putc(&b, ',');
  write_priorities(&b, s);
  ps__buf_puts(&b, ",\"streams\":[");
  for (i = 0; i < s->stream_count; i++) {
    if (i)
      ps__buf_putc(&b, ',');
    write_stream(&b, &s->streams[i].pub);
  }
  ps__buf_puts(&b, "]}");
  s->json = ps__buf_failed(&b) ? NULL : snap_strdup(s, b.data, b.len);
  ps__buf_free(&b);
  return s->json ? POWERSYNC_OK : POWERSYNC_ENOMEM;
}

/* ---- Building and releasing snapshots ----------------------------------- */

static void snapshot_destroy(powersync_sync_status *s) {
  ps__arena_free(&s->arena);
  free(s);
}

/* has_synced and last_synced_at: the entry of a complete sync. */
static void find_full_sync(powersync_sync_status *s) {
  size_t i;
  for (i = 0; i < s->priority_count; i++) {
    if (s->priorities[i].priority == FULL_SYNC_PRIORITY) {
      s->has_synced = s->priorities[i].has_synced;
      s->last_synced_at_us = s->priorities[i].last_synced_at_us;
    }
  }
}

static int copy_sdk_part(powersync_sync_status *s,
                         const struct status_inputs *in) {
  s->uploading = in->uploading;
  if (in->download_error) {
    s->download_error =
        snap_strdup(s, in->download_error, strlen(in->download_error));
    if (!s->download_error)
      return POWERSYNC_ENOMEM;
  }
  if (in->upload_error) {
    s->upload_error =
        snap_strdup(s, in->upload_error, strlen(in->upload_error));
    if (!s->upload_error)
      return POWERSYNC_ENOMEM;
  }
  return POWERSYNC_OK;
}

/* A new snapshot (one reference) from in. Returns POWERSYNC_OK,
 * POWERSYNC_EPROTOCOL (the core text is unusable) or POWERSYNC_ENOMEM. */
static int snapshot_build(const struct status_inputs *in,
                          powersync_sync_status **out) {
  powersync_sync_status *s = calloc(1, sizeof(*s));
  int rc = POWERSYNC_OK;
  *out = NULL;
  if (!s)
    return POWERSYNC_ENOMEM;
  atomic_init(&s->refs, 1);
  ps__arena_init(&s->arena, 0);
  if (in->core)
    rc = read_core(s, in->core, in->core_len, in->disconnected);
  if (rc == POWERSYNC_OK)
    rc = copy_sdk_part(s, in);
  if (rc == POWERSYNC_OK) {
    find_full_sync(s);
    rc = write_json(s);
  }
  if (rc != POWERSYNC_OK) {
    snapshot_destroy(s);
    return rc;
  }
  *out = s;
  return POWERSYNC_OK;
}

powersync_sync_status *
powersync_sync_status_ref(const powersync_sync_status *s) {
  /* The count is the only mutable part of a snapshot. */
  powersync_sync_status *m = (powersync_sync_status *)s;
  if (m)
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
  return m;
}

void powersync_sync_status_free(powersync_sync_status *s) {
  if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
    snapshot_destroy(s);
}

/* ---- Getters -------------------------------------------------------------
 */

int powersync_sync_status_connected(const powersync_sync_status *s) {
  return s ? s->connected : 0;
}

int powersync_sync_status_connecting(const powersync_sync_status *s) {
  return s ? s->connecting : 0;
}

int powersync_sync_status_downloading(const powersync_sync_status *s) {
  return s ? s->downloading : 0;
}

int powersync_sync_status_uploading(const powersync_sync_status *s) {
  return s ? s->uploading : 0;
}

int powersync_sync_status_has_synced(const powersync_sync_status *s) {
  return s ? s->has_synced : 0;
}

int64_t
powersync_sync_status_last_synced_at_us(const powersync_sync_status *s) {
  return s ? s->last_synced_at_us : 0;
}

const char *
powersync_sync_status_download_error(const powersync_sync_status *s) {
  return s ? s->download_error : NULL;
}

const char *powersync_sync_status_upload_error(const powersync_sync_status *s) {
  return s ? s->upload_error : NULL;
}

/* sdk.md 12.1: over the buckets with priority <= priority (all when
 * negative), total = sum(target_count - at_last), downloaded = sum
 * since_last. */
int powersync_sync_status_progress(const powersync_sync_status *s, int priority,
                                   powersync_sync_progress *out) {
  powersync_sync_progress p = {0, 0};
  size_t i;
  if (s && s->downloading) {
    for (i = 0; i < s->bucket_count; i++) {
      if (priority >= 0 && s->buckets[i].priority > priority)
        continue;
      p.total += s->buckets[i].total;
      p.downloaded += s->buckets[i].downloaded;
    }
  }
  if (out)
    *out = p;
  return s ? s->downloading : 0;
}

size_t powersync_sync_status_priority_count(const powersync_sync_status *s) {
  return s ? s->priority_count : 0;
}

powersync_priority_status
powersync_sync_status_priority_at(const powersync_sync_status *s, size_t i) {
  powersync_priority_status none = {0, 0, 0};
  return s && i < s->priority_count ? s->priorities[i] : none;
}

powersync_priority_status
powersync_sync_status_for_priority(const powersync_sync_status *s,
                                   int priority) {
  powersync_priority_status none = {priority, 0, 0};
  size_t i;
  for (i = 0; s && i < s->priority_count; i++)
    if (s->priorities[i].priority >= priority)
      return s->priorities[i];
  return none;
}

size_t powersync_sync_status_stream_count(const powersync_sync_status *s) {
  return s ? s->stream_count : 0;
}

const powersync_stream_status *
powersync_sync_status_stream_at(const powersync_sync_status *s, size_t i) {
  return s && i < s->stream_count ? &s->streams[i].pub : NULL;
}

const powersync_stream_status *
powersync_sync_status_for_stream(const powersync_sync_status *s,
                                 const char *name, const char *params_json) {
  const powersync_stream_status *found = NULL;
  char *params = NULL;
  size_t i;
  if (!s || !name ||
      ps__json_normalize_params(params_json, &params) != POWERSYNC_OK)
    return NULL;
  for (i = 0; i < s->stream_count && !found; i++) {
    const struct stream_entry *e = &s->streams[i];
    if (strcmp(e->pub.name, name) == 0 && strcmp(e->params_sorted, params) == 0)
      found = &e->pub;
  }
  free(params);
  return found;
}

const char *powersync_sync_status_json(const powersync_sync_status *s) {
  return s ? s->json : NULL;
}

/* ---- The hub ---------------------------------------------------------------
 */

struct powersync_status_listener {
  struct powersync_status_listener *next;
  struct ps__status_hub *hub;
  powersync_status_cb cb;
  void *user_data;
  uint64_t seen_gen; /* Generation last delivered; 0: none yet. */
  int running;       /* The callback is running now. */
  int orphaned;      /* Removed from its own callback: the job frees it. */
};

struct ps__status_hub {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* New snapshot, closed, or a callback ended. */
  int refs;          /* The database's, plus a queued or running delivery. */
  struct ps__dispatcher *disp;
  int closed;

  /* Inputs of the next snapshot. */
  char *core; /* Last accepted core status text; NULL: none. */
  size_t core_len;
  int disconnected;
  int uploading;
  char *download_error;
  char *upload_error;

  powersync_sync_status *current; /* Never NULL. */
  uint64_t gen;                   /* Raised with each published snapshot. */
  struct powersync_status_listener *listeners; /* In order of addition. */
  int delivering; /* A delivery job is queued or running. */
};

static struct status_inputs hub_inputs_locked(const struct ps__status_hub *h) {
  struct status_inputs in;
  in.core = h->core;
  in.core_len = h->core_len;
  in.disconnected = h->disconnected;
  in.uploading = h->uploading;
  in.download_error = h->download_error;
  in.upload_error = h->upload_error;
  return in;
}

static void hub_destroy(struct ps__status_hub *h) {
  while (h->listeners) {
    struct powersync_status_listener *l = h->listeners;
    h->listeners = l->next;
    free(l);
  }
  powersync_sync_status_free(h->current);
  free(h->core);
  free(h->download_error);
  free(h->upload_error);
  pthread_cond_destroy(&h->cv);
  pthread_mutex_destroy(&h->mu);
  free(h);
}

static void hub_unref(struct ps__status_hub *h) {
  int last;
  pthread_mutex_lock(&h->mu);
  last = --h->refs == 0;
  pthread_mutex_unlock(&h->mu);
  if (last)
    hub_destroy(h);
}

struct ps__status_hub *ps__status_hub_new(struct ps__dispatcher *dispatcher) {
  struct ps__status_hub *h = calloc(1, sizeof(*h));
  struct status_inputs none;
  pthread_condattr_t attr;
  if (!h)
    return NULL;
  memset(&none, 0, sizeof(none));
  if (snapshot_build(&none, &h->current) != POWERSYNC_OK) {
    free(h);
    return NULL;
  }
  pthread_mutex_init(&h->mu, NULL);
  /* Wait deadlines come from CLOCK_MONOTONIC, immune to clock changes. */
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&h->cv, &attr);
  pthread_condattr_destroy(&attr);
  h->refs = 1;
  h->disp = dispatcher;
  h->gen = 1;
  return h;
}

void ps__status_hub_close(struct ps__status_hub *hub) {
  if (!hub)
    return;
  pthread_mutex_lock(&hub->mu);
  hub->closed = 1;
  pthread_cond_broadcast(&hub->cv);
  pthread_mutex_unlock(&hub->mu);
}

void ps__status_hub_free(struct ps__status_hub *hub) {
  size_t left = 0;
  struct powersync_status_listener *l;
  if (!hub)
    return;
  pthread_mutex_lock(&hub->mu);
  hub->closed = 1;
  pthread_cond_broadcast(&hub->cv);
  for (l = hub->listeners; l; l = l->next)
    left++;
  pthread_mutex_unlock(&hub->mu);
  if (left)
    ps__log(POWERSYNC_LOG_WARN, STATUS_TAG,
            "%zu status listener(s) were not removed before closing", left);
  hub_unref(hub);
}

/* ---- Delivery to listeners ---------------------------------------------- */

static void hub_deliver_job(void *arg);

/* The dispatcher dropped the queued delivery (it is shutting down). */
static void hub_deliver_cancel(void *arg) {
  struct ps__status_hub *h = arg;
  pthread_mutex_lock(&h->mu);
  h->delivering = 0;
  pthread_mutex_unlock(&h->mu);
  hub_unref(h);
}

/* Queues the delivery job unless one is queued or running (it will look
 * again before it ends). Caller holds mu. */
static int hub_schedule_locked(struct ps__status_hub *h) {
  int rc;
  if (h->closed)
    return POWERSYNC_ECLOSED;
  if (h->delivering || !h->listeners)
    return POWERSYNC_OK;
  rc = ps__dispatcher_post(h->disp, 0, hub_deliver_job, hub_deliver_cancel, h);
  if (rc != POWERSYNC_OK) {
    ps__log(POWERSYNC_LOG_WARN, STATUS_TAG,
            "cannot schedule status listeners (%d)", rc);
    return rc;
  }
  h->delivering = 1;
  h->refs++;
  return POWERSYNC_OK;
}

/* The first listener that has not seen the current snapshot. */
static struct powersync_status_listener *
hub_next_due_locked(struct ps__status_hub *h) {
  struct powersync_status_listener *l;
  for (l = h->listeners; l; l = l->next)
    if (l->seen_gen != h->gen)
      return l;
  return NULL;
}

/* Calls l with the current snapshot, with mu released for the call. */
static void hub_deliver_locked(struct ps__status_hub *h,
                               struct powersync_status_listener *l) {
  powersync_sync_status *snap = powersync_sync_status_ref(h->current);
  l->seen_gen = h->gen;
  l->running = 1;
  pthread_mutex_unlock(&h->mu);
  l->cb(snap, l->user_data);
  powersync_sync_status_free(snap);
  pthread_mutex_lock(&h->mu);
  l->running = 0;
  if (l->orphaned)
    free(l);
  pthread_cond_broadcast(&h->cv);
}

static void hub_deliver_job(void *arg) {
  struct ps__status_hub *h = arg;
  struct powersync_status_listener *l;
  pthread_mutex_lock(&h->mu);
  while (!h->closed && (l = hub_next_due_locked(h)) != NULL)
    hub_deliver_locked(h, l);
  h->delivering = 0;
  pthread_mutex_unlock(&h->mu);
  hub_unref(h);
}

/* ---- Publishing ----------------------------------------------------------
 */

/* Installs snap (taking its reference) when it reads differently from the
 * current snapshot: waiters wake and listeners are scheduled. Caller holds
 * mu. */
static void hub_publish_locked(struct ps__status_hub *h,
                               powersync_sync_status *snap) {
  powersync_sync_status *old = h->current;
  if (strcmp(old->json, snap->json) == 0) {
    powersync_sync_status_free(snap);
    return;
  }
  h->current = snap;
  h->gen++;
  pthread_cond_broadcast(&h->cv);
  (void)hub_schedule_locked(h);
  powersync_sync_status_free(old);
}

/* Builds a snapshot from the hub's inputs and publishes it. */
static void hub_rebuild_locked(struct ps__status_hub *h) {
  struct status_inputs in = hub_inputs_locked(h);
  powersync_sync_status *snap = NULL;
  int rc = snapshot_build(&in, &snap);
  if (rc != POWERSYNC_OK) {
    ps__log(POWERSYNC_LOG_WARN, STATUS_TAG,
            "cannot build the sync status (%d); keeping the previous one", rc);
    return;
  }
  hub_publish_locked(h, snap);
}

/* ps__status_set_core; with only_offline, the text is dropped while the
 * current status is connected or connecting (a connection owns the core
 * part then). */
static int hub_set_core(struct ps__status_hub *h, const char *json, size_t len,
                        int only_offline) {
  struct status_inputs in;
  powersync_sync_status *snap = NULL;
  char *copy;
  int rc;
  if (!h || !json)
    return POWERSYNC_EINVAL;
  copy = malloc(len + 1);
  if (!copy)
    return POWERSYNC_ENOMEM;
  memcpy(copy, json, len);
  copy[len] = '\0';
  pthread_mutex_lock(&h->mu);
  if (only_offline && (h->current->connected || h->current->connecting)) {
    pthread_mutex_unlock(&h->mu);
    free(copy);
    return POWERSYNC_OK;
  }
  in = hub_inputs_locked(h);
  in.core = copy;
  in.core_len = len;
  in.disconnected = 0;
  rc = snapshot_build(&in, &snap);
  if (rc == POWERSYNC_OK) {
    free(h->core);
    h->core = copy;
    h->core_len = len;
    h->disconnected = 0;
    copy = NULL;
    hub_publish_locked(h, snap);
  }
  pthread_mutex_unlock(&h->mu);
  free(copy);
  return rc;
}

int ps__status_set_core(struct ps__status_hub *hub, const char *json,
                        size_t len) {
  int rc = hub_set_core(hub, json, len, 0);
  if (rc == POWERSYNC_EPROTOCOL)
    return ps__error_set(rc, "the core's sync status is unreadable");
  if (rc != POWERSYNC_OK)
    return ps__error_set(rc, "cannot update the sync status");
  return POWERSYNC_OK;
}

void ps__status_set_disconnected(struct ps__status_hub *hub) {
  if (!hub)
    return;
  pthread_mutex_lock(&hub->mu);
  hub->disconnected = 1;
  hub_rebuild_locked(hub);
  pthread_mutex_unlock(&hub->mu);
}

void ps__status_set_uploading(struct ps__status_hub *hub, int uploading) {
  if (!hub)
    return;
  pthread_mutex_lock(&hub->mu);
  hub->uploading = uploading != 0;
  hub_rebuild_locked(hub);
  pthread_mutex_unlock(&hub->mu);
}

/* Replaces *slot with a copy of msg (NULL clears) and publishes. */
static void hub_set_error(struct ps__status_hub *h, char **slot,
                          const char *msg) {
  char *copy = NULL;
  if (msg && !(copy = strdup(msg))) {
    ps__log(POWERSYNC_LOG_WARN, STATUS_TAG, "out of memory for an error");
    return;
  }
  pthread_mutex_lock(&h->mu);
  free(*slot);
  *slot = copy;
  hub_rebuild_locked(h);
  pthread_mutex_unlock(&h->mu);
}

void ps__status_set_download_error(struct ps__status_hub *hub,
                                   const char *msg) {
  if (hub)
    hub_set_error(hub, &hub->download_error, msg);
}

void ps__status_set_upload_error(struct ps__status_hub *hub, const char *msg) {
  if (hub)
    hub_set_error(hub, &hub->upload_error, msg);
}

int ps__status_is_connected(struct ps__status_hub *hub) {
  int connected;
  if (!hub)
    return 0;
  pthread_mutex_lock(&hub->mu);
  connected = hub->current->connected || hub->current->connecting;
  pthread_mutex_unlock(&hub->mu);
  return connected;
}

powersync_sync_status *ps__status_current(struct ps__status_hub *hub) {
  powersync_sync_status *s;
  if (!hub)
    return NULL;
  pthread_mutex_lock(&hub->mu);
  s = powersync_sync_status_ref(hub->current);
  pthread_mutex_unlock(&hub->mu);
  return s;
}

/* ---- Waiting -------------------------------------------------------------
 */

static struct timespec deadline_after(int timeout_ms) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += timeout_ms / 1000;
  ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  return ts;
}

/* Sleeps until the generation moves past seen or the hub closes. Returns
 * POWERSYNC_ETIMEOUT when the deadline passed first. Caller holds mu. */
static int hub_wait_change_locked(struct ps__status_hub *h, uint64_t seen,
                                  const struct timespec *deadline) {
  while (!h->closed && h->gen == seen) {
    if (!deadline)
      pthread_cond_wait(&h->cv, &h->mu);
    else if (pthread_cond_timedwait(&h->cv, &h->mu, deadline) == ETIMEDOUT &&
             !h->closed && h->gen == seen)
      return POWERSYNC_ETIMEOUT;
  }
  return POWERSYNC_OK;
}

int ps__status_wait(struct ps__status_hub *hub, powersync_status_predicate pred,
                    void *user_data, int timeout_ms) {
  struct timespec deadline;
  int rc = POWERSYNC_OK;
  if (!hub || !pred)
    return ps__error_set(POWERSYNC_EINVAL, "db or predicate is NULL");
  if (timeout_ms >= 0)
    deadline = deadline_after(timeout_ms);
  pthread_mutex_lock(&hub->mu);
  for (;;) {
    powersync_sync_status *snap;
    uint64_t seen;
    int done;
    if (hub->closed) {
      rc = POWERSYNC_ECLOSED;
      break;
    }
    /* The predicate is the application's code: call it unlocked. A
     * snapshot published meanwhile is the next one checked. */
    snap = powersync_sync_status_ref(hub->current);
    seen = hub->gen;
    pthread_mutex_unlock(&hub->mu);
    done = pred(snap, user_data);
    powersync_sync_status_free(snap);
    pthread_mutex_lock(&hub->mu);
    if (done)
      break;
    rc = hub_wait_change_locked(hub, seen, timeout_ms >= 0 ? &deadline : NULL);
    if (rc != POWERSYNC_OK)
      break;
  }
  pthread_mutex_unlock(&hub->mu);
  if (rc == POWERSYNC_ECLOSED)
    return ps__error_set(rc, "the database is closed");
  if (rc == POWERSYNC_ETIMEOUT)
    return ps__error_set(rc, "timed out after %d ms waiting for the status",
                         timeout_ms);
  return rc;
}

/* ---- Offline status ------------------------------------------------------
 */

/* The text of `SELECT powersync_offline_sync_status()` on conn. */
static int read_offline_status(sqlite3 *conn, char **out, size_t *len) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(conn, "SELECT powersync_offline_sync_status()",
                              -1, &stmt, NULL);
  *out = NULL;
  if (rc == SQLITE_OK)
    rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    const char *text = (const char *)sqlite3_column_text(stmt, 0);
    *len = (size_t)sqlite3_column_bytes(stmt, 0);
    *out = text ? malloc(*len + 1) : NULL;
    if (*out) {
      memcpy(*out, text, *len);
      (*out)[*len] = '\0';
      rc = POWERSYNC_OK;
    } else {
      rc = text ? ps__error_set(POWERSYNC_ENOMEM, "out of memory")
                : ps__error_set(POWERSYNC_EPROTOCOL,
                                "the offline sync status is NULL");
    }
  } else {
    rc = ps__error_sqlite(conn, rc == SQLITE_DONE ? SQLITE_ERROR : rc);
  }
  sqlite3_finalize(stmt);
  return rc;
}

int ps__status_refresh_offline(powersync_db *db) {
  powersync_lease *lease = NULL;
  char *text = NULL;
  size_t len = 0;
  int rc = powersync_db_lease_read(db, -1, &lease);
  if (rc != POWERSYNC_OK)
    return rc;
  rc = read_offline_status(powersync_lease_sqlite(lease), &text, &len);
  powersync_lease_release(lease);
  if (rc != POWERSYNC_OK)
    return rc;
  /* A connection that started since the caller looked owns the status. */
  rc = hub_set_core(ps__db_status_hub(db), text, len, 1);
  free(text);
  if (rc != POWERSYNC_OK)
    return ps__error_set(rc, "the offline sync status is unreadable");
  return POWERSYNC_OK;
}

/* ---- Public functions of the database ----------------------------------- */

/* The hub of db, or NULL with the thread's error set. */
static struct ps__status_hub *hub_of(powersync_db *db) {
  struct ps__status_hub *h;
  if (!db) {
    ps__error_set(POWERSYNC_EINVAL, "db is NULL");
    return NULL;
  }
  h = ps__db_status_hub(db);
  if (!h)
    ps__error_set(POWERSYNC_ECLOSED, "the database is closed");
  return h;
}

int powersync_db_sync_status(powersync_db *db, powersync_sync_status **out) {
  struct ps__status_hub *h;
  int closed;
  ps__error_reset();
  if (!out)
    return ps__error_set(POWERSYNC_EINVAL, "out is NULL");
  *out = NULL;
  if (!(h = hub_of(db)))
    return powersync_error_last()->code;
  pthread_mutex_lock(&h->mu);
  closed = h->closed;
  if (!closed)
    *out = powersync_sync_status_ref(h->current);
  pthread_mutex_unlock(&h->mu);
  return closed ? ps__error_set(POWERSYNC_ECLOSED, "the database is closed")
                : POWERSYNC_OK;
}

int powersync_db_add_status_listener(powersync_db *db, powersync_status_cb cb,
                                     void *user_data,
                                     powersync_status_listener **out) {
  struct powersync_status_listener *l, **tail;
  struct ps__status_hub *h;
  int rc;
  ps__error_reset();
  if (out)
    *out = NULL;
  if (!cb || !out)
    return ps__error_set(POWERSYNC_EINVAL, "cb and out are required");
  if (!(h = hub_of(db)))
    return powersync_error_last()->code;
  l = calloc(1, sizeof(*l));
  if (!l)
    return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  l->hub = h;
  l->cb = cb;
  l->user_data = user_data;
  pthread_mutex_lock(&h->mu);
  for (tail = &h->listeners; *tail; tail = &(*tail)->next) {
  }
  *tail = l;
  /* seen_gen 0: the delivery hands it the current snapshot first. */
  rc = hub_schedule_locked(h);
  if (rc != POWERSYNC_OK)
    *tail = NULL;
  pthread_mutex_unlock(&h->mu);
  if (rc != POWERSYNC_OK) {
    free(l);
    return ps__error_set(rc, "cannot add a status listener");
  }
  *out = l;
  return POWERSYNC_OK;
}

void powersync_status_listener_remove(powersync_status_listener *listener) {
  struct powersync_status_listener **p;
  struct ps__status_hub *h;
  int self;
  if (!listener)
    return;
  h = listener->hub;
  pthread_mutex_lock(&h->mu);
  for (p = &h->listeners; *p && *p != listener; p = &(*p)->next) {
  }
  if (*p)
    *p = listener->next;
  /* Only one job of the dispatcher runs at a time, so a running callback
   * seen from inside a job is this listener's own, which cannot be waited
   * for. (While it runs, the dispatcher exists: the job is still on it.) */
  self = listener->running && ps__dispatcher_in_job(h->disp);
  while (!self && listener->running)
    pthread_cond_wait(&h->cv, &h->mu);
  if (self)
    listener->orphaned = 1; /* Freed when the callback returns. */
  pthread_mutex_unlock(&h->mu);
  if (!self)
    free(listener);
}

int powersync_db_wait_for_status(powersync_db *db,
                                 powersync_status_predicate pred,
                                 void *user_data, int timeout_ms) {
  struct ps__status_hub *h;
  ps__error_reset();
  if (!(h = hub_of(db)))
    return powersync_error_last()->code;
  return ps__status_wait(h, pred, user_data, timeout_ms);
}

/* The predicate of powersync_db_wait_for_first_sync; the priority travels
 * in an int. */
static int first_sync_done(const powersync_sync_status *s, void *arg) {
  int priority = *(const int *)arg;
  if (priority < 0)
    return powersync_sync_status_has_synced(s);
  return powersync_sync_status_for_priority(s, priority).has_synced;
}

int powersync_db_wait_for_first_sync(powersync_db *db, int priority,
                                     int timeout_ms) {
  return powersync_db_wait_for_status(db, first_sync_done, &priority,
                                      timeout_ms);
}
