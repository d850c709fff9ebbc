/*
 * sync_line_fuzzer.c: fuzz target for the sync line decoders
 * (src/core/sync_line.c).
 *
 * Every input is decoded as a JSON text line and as a BSON binary line. The
 * decoders must not crash or read out of bounds; a rejected line must leave a
 * non-empty cause (starting with "bson error" for BSON); a decoded line must
 * hold only readable strings and sane counts; and decoding the same input
 * again must give the same result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sync_line.h"
#include "fuzzer.h"

/* Bounds memory per input so that the fuzzer reports bugs rather than
 * running out of memory. */
#define FUZZ_ARENA_MAX ((size_t)64 * 1024 * 1024)

static volatile unsigned char sink;

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "sync_line_fuzzer: %s: %s\n", what, detail);
  abort();
}

/* Touches every byte so that ASan catches a bad slice. */
static void touch(struct ps__sync_str s) {
  size_t i;
  if (!s.ptr)
    return;
  for (i = 0; i < s.len; i++)
    sink ^= (unsigned char)s.ptr[i];
}

static void check_buckets(const struct ps__sync_bucket_checksum *b, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (!b[i].bucket.ptr)
      fail("bucket without name", "");
    touch(b[i].bucket);
    if (b[i].priority < 0 || b[i].priority == 2147483647)
      fail("invalid priority accepted", "");
    if (b[i].subscription_count && !b[i].subscriptions)
      fail("subscriptions", "count without items");
  }
}

static void check_line(const struct ps__sync_line *l) {
  size_t i;
  touch(l->type_name);
  switch (l->type) {
  case PS_SYNC_LINE_CHECKPOINT:
    check_buckets(l->as.checkpoint.buckets, l->as.checkpoint.bucket_count);
    for (i = 0; i < l->as.checkpoint.stream_count; i++) {
      size_t k;
      touch(l->as.checkpoint.streams[i].name);
      for (k = 0; k < l->as.checkpoint.streams[i].error_count; k++)
        touch(l->as.checkpoint.streams[i].errors[k].message);
    }
    break;
  case PS_SYNC_LINE_CHECKPOINT_DIFF:
    check_buckets(l->as.diff.updated_buckets, l->as.diff.updated_count);
    for (i = 0; i < l->as.diff.removed_count; i++)
      touch(l->as.diff.removed_buckets[i]);
    break;
  case PS_SYNC_LINE_DATA:
    touch(l->as.data.bucket);
    for (i = 0; i < l->as.data.entry_count; i++) {
      const struct ps__sync_oplog_entry *e = &l->as.data.entries[i];
      if (e->op > PS_SYNC_OP_REMOVE)
        fail("op", "out of range");
      touch(e->object_type);
      touch(e->object_id);
      touch(e->subkey);
      touch(e->data);
    }
    break;
  case PS_SYNC_LINE_PARTIAL_CHECKPOINT_COMPLETE:
    if (l->as.partial_priority < 0)
      fail("partial priority", "negative");
    break;
  default:
    break;
  }
}

static void run(const unsigned char *data, size_t size, int binary) {
  struct ps__arena arena;
  struct ps__sync_line *line;
  char err[PS_SYNC_LINE_ERROR_MAX];
  char again[PS_SYNC_LINE_ERROR_MAX];
  int rc;
  int rc2;
  ps__arena_init(&arena, FUZZ_ARENA_MAX);
  rc = binary ? ps__sync_line_decode_binary(&arena, data, size, &line, err,
                                            sizeof(err))
              : ps__sync_line_decode_text(&arena, (const char *)data, size,
                                          &line, err, sizeof(err));
  if (rc == PS_SYNC_LINE_OK) {
    if (!line)
      fail("success without a line", "");
    check_line(line);
  } else {
    if (line || !err[0])
      fail("error without a cause", binary ? "binary" : "text");
    if (rc == PS_SYNC_LINE_INVALID && binary && strncmp(err, "bson error", 10))
      fail("binary cause", err);
  }
  ps__arena_free(&arena);

  ps__arena_init(&arena, FUZZ_ARENA_MAX);
  rc2 = binary ? ps__sync_line_decode_binary(&arena, data, size, &line, again,
                                             sizeof(again))
               : ps__sync_line_decode_text(&arena, (const char *)data, size,
                                           &line, again, sizeof(again));
  if (rc2 != rc || (rc != PS_SYNC_LINE_OK && strcmp(err, again)))
    fail("not deterministic", again);
  ps__arena_free(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* A private copy, so that reading past size is caught by ASan. */
  unsigned char *copy = malloc(size ? size : 1);
  if (!copy)
    return 0;
  if (size)
    memcpy(copy, data, size);
  run(copy, size, 0);
  run(copy, size, 1);
  free(copy);
  return 0;
}
