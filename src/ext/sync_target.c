/*
 * sync_target.c: checkpoints the iteration keeps between calls: the target
 * checkpoint being downloaded and the pending (validated but blocked) one
 * (core-sync.md 5.1, 11.1, 11.2, 17.6).
 *
 * HOW IT WORKS
 *
 * A decoded line lives only for one call, so a checkpoint is deep-copied
 * into its own arena. Buckets are kept sorted by name (byte-wise, the order
 * in which the official core validates and reports them) without
 * duplicates (a later entry replaces an earlier one with the same name), so
 * lookups by name are binary searches.
 */
#include <stdlib.h>
#include <string.h>

#include "sync_engine.h"

int ps__sync_str_cmp(const char *a, size_t alen, const char *b, size_t blen) {
  size_t n = alen < blen ? alen : blen;
  int c = n ? memcmp(a, b, n) : 0;
  if (c)
    return c;
  return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static struct ps__sync_target *target_new(void) {
  struct ps__sync_target *t = calloc(1, sizeof(*t));
  if (t)
    ps__arena_init(&t->arena, 0);
  return t;
}

void ps__sync_target_free(struct ps__sync_target *t) {
  if (!t)
    return;
  ps__arena_free(&t->arena);
  free(t);
}

static int copy_str(struct ps__arena *a, struct ps__sync_str *dst,
                    struct ps__sync_str src) {
  dst->len = src.len;
  dst->ptr = NULL;
  if (!src.ptr)
    return 0;
  dst->ptr = ps__arena_strndup(a, src.ptr, src.len);
  return dst->ptr ? 0 : -1;
}

static int copy_bucket(struct ps__arena *a,
                       struct ps__sync_bucket_checksum *dst,
                       const struct ps__sync_bucket_checksum *src) {
  *dst = *src;
  dst->subscriptions = NULL;
  if (src->subscription_count) {
    size_t n = src->subscription_count * sizeof(*src->subscriptions);
    dst->subscriptions = ps__arena_alloc(a, n);
    if (!dst->subscriptions)
      return -1;
    memcpy(dst->subscriptions, src->subscriptions, n);
  }
  return copy_str(a, &dst->bucket, src->bucket);
}

static int copy_streams(struct ps__sync_target *t,
                        const struct ps__sync_stream *src, size_t n) {
  size_t i, j;
  t->stream_count = n;
  if (!n)
    return 0;
  t->streams = ps__arena_alloc(&t->arena, n * sizeof(*src));
  if (!t->streams)
    return -1;
  for (i = 0; i < n; i++) {
    struct ps__sync_stream *d = &t->streams[i];
    *d = src[i];
    if (copy_str(&t->arena, &d->name, src[i].name))
      return -1;
    if (!src[i].error_count)
      continue;
    d->errors =
        ps__arena_alloc(&t->arena, src[i].error_count * sizeof(*d->errors));
    if (!d->errors)
      return -1;
    for (j = 0; j < src[i].error_count; j++) {
      d->errors[j] = src[i].errors[j];
      if (copy_str(&t->arena, &d->errors[j].message, src[i].errors[j].message))
        return -1;
    }
  }
  return 0;
}

static int cmp_bucket(const void *a, const void *b) {
  const struct ps__sync_bucket_checksum *x = a, *y = b;
  return ps__sync_str_cmp(x->bucket.ptr, x->bucket.len, y->bucket.ptr,
                          y->bucket.len);
}

long ps__sync_target_find(const struct ps__sync_target *t, const char *name,
                          size_t len) {
  size_t lo = 0, hi = t->bucket_count;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = ps__sync_str_cmp(t->buckets[mid].bucket.ptr,
                             t->buckets[mid].bucket.len, name, len);
    if (c == 0)
      return (long)mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

/* Sorts the buckets by name, keeping the last of equal names; qsort is not
 * stable, so the original position decides among equal names. */
struct indexed_bucket {
  struct ps__sync_bucket_checksum b;
  size_t pos;
};

static int cmp_indexed(const void *a, const void *b) {
  const struct indexed_bucket *x = a, *y = b;
  int c = cmp_bucket(&x->b, &y->b);
  if (c)
    return c;
  return x->pos < y->pos ? -1 : x->pos > y->pos ? 1 : 0;
}

/* Appends the buckets of several lists (later lists win) into t, sorted. */
static int set_buckets(struct ps__sync_target *t,
                       const struct ps__sync_bucket_checksum *const *lists,
                       const size_t *counts, size_t nlists) {
  struct indexed_bucket *tmp;
  size_t total = 0, i, j, n = 0;
  for (i = 0; i < nlists; i++)
    total += counts[i];
  t->bucket_count = 0;
  if (!total)
    return 0;
  tmp = malloc(total * sizeof(*tmp));
  if (!tmp)
    return -1;
  for (i = 0; i < nlists; i++)
    for (j = 0; j < counts[i]; j++) {
      tmp[n].b = lists[i][j];
      tmp[n].pos = n;
      n++;
    }
  qsort(tmp, n, sizeof(*tmp), cmp_indexed);
  t->buckets = ps__arena_alloc(&t->arena, n * sizeof(*t->buckets));
  if (!t->buckets) {
    free(tmp);
    return -1;
  }
  for (i = 0; i < n; i++) {
    if (i + 1 < n && cmp_bucket(&tmp[i].b, &tmp[i + 1].b) == 0)
      continue; /* a later entry with this name follows */
    if (copy_bucket(&t->arena, &t->buckets[t->bucket_count++], &tmp[i].b)) {
      free(tmp);
      return -1;
    }
  }
  free(tmp);
  return 0;
}

struct ps__sync_target *
ps__sync_target_from_line(const struct ps__sync_checkpoint *line) {
  struct ps__sync_target *t = target_new();
  const struct ps__sync_bucket_checksum *lists[1];
  size_t counts[1];
  if (!t)
    return NULL;
  t->last_op_id = line->last_op_id;
  t->has_write_checkpoint = line->has_write_checkpoint;
  t->write_checkpoint = line->write_checkpoint;
  lists[0] = line->buckets;
  counts[0] = line->bucket_count;
  if (set_buckets(t, lists, counts, 1) ||
      copy_streams(t, line->streams, line->stream_count)) {
    ps__sync_target_free(t);
    return NULL;
  }
  return t;
}

static int is_removed(const struct ps__sync_checkpoint_diff *d,
                      const struct ps__sync_bucket_checksum *b) {
  size_t i;
  for (i = 0; i < d->removed_count; i++)
    if (ps__sync_str_cmp(d->removed_buckets[i].ptr, d->removed_buckets[i].len,
                         b->bucket.ptr, b->bucket.len) == 0)
      return 1;
  return 0;
}

struct ps__sync_target *
ps__sync_target_patch(const struct ps__sync_target *old,
                      const struct ps__sync_checkpoint_diff *d) {
  struct ps__sync_target *t = target_new();
  struct ps__sync_bucket_checksum *kept = NULL;
  const struct ps__sync_bucket_checksum *lists[2];
  size_t counts[2], i, nkept = 0;
  int failed;
  if (!t)
    return NULL;
  t->last_op_id = d->last_op_id;
  t->has_write_checkpoint = d->has_write_checkpoint;
  t->write_checkpoint = d->write_checkpoint;
  if (old->bucket_count) {
    kept = malloc(old->bucket_count * sizeof(*kept));
    if (!kept) {
      ps__sync_target_free(t);
      return NULL;
    }
  }
  for (i = 0; i < old->bucket_count; i++)
    if (!is_removed(d, &old->buckets[i]))
      kept[nkept++] = old->buckets[i];
  lists[0] = kept;
  counts[0] = nkept;
  lists[1] = d->updated_buckets;
  counts[1] = d->updated_count;
  failed = set_buckets(t, lists, counts, 2) ||
           copy_streams(t, old->streams, old->stream_count);
  free(kept);
  if (failed) {
    ps__sync_target_free(t);
    return NULL;
  }
  return t;
}

struct ps__sync_target *
ps__sync_target_copy(const struct ps__sync_target *old) {
  struct ps__sync_target *t = target_new();
  const struct ps__sync_bucket_checksum *lists[1];
  size_t counts[1];
  if (!t)
    return NULL;
  t->last_op_id = old->last_op_id;
  t->has_write_checkpoint = old->has_write_checkpoint;
  t->write_checkpoint = old->write_checkpoint;
  lists[0] = old->buckets;
  counts[0] = old->bucket_count;
  if (set_buckets(t, lists, counts, 1) ||
      copy_streams(t, old->streams, old->stream_count)) {
    ps__sync_target_free(t);
    return NULL;
  }
  return t;
}
