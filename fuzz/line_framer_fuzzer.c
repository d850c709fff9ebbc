/*
 * line_framer_fuzzer.c: fuzz target for the sync stream framer
 * (src/core/line_framer.c).
 *
 * Input: one control byte, then the stream. Bit 0 of the control byte picks
 * NDJSON or BSON, bits 1-2 the maximum frame size (default, 16, 64 or 1024
 * bytes, so that the limits are reached), bits 3-7 seed the chunk sizes.
 *
 * The stream is framed twice, fed whole and fed in pseudo-random chunks with
 * every frame drained after each chunk; both must yield the same frames and
 * end the same way (PS_FRAMER_END or the same error). Every frame must lie
 * inside the framer's buffer and respect the maximum; NDJSON frames must be
 * non-empty and hold no "\n"; BSON frames must be as long as their header
 * says; the buffer must stay within one maximal frame plus one chunk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/line_framer.h"
#include "fuzzer.h"

static void fail(const char *what) {
  fprintf(stderr, "line_framer_fuzzer: %s\n", what);
  abort();
}

/* The frames of one run, concatenated, with their lengths. */
struct run {
  unsigned char *bytes;
  size_t bytes_len;
  size_t *lens;
  size_t n;
  int end_rc;
};

static void check_frame(const struct ps__framer *f, const unsigned char *p,
                        size_t len) {
  if (p < f->buf || len > f->cap || (size_t)(p - f->buf) > f->cap - len)
    fail("frame outside the buffer");
  if (len > f->max_frame)
    fail("frame above the maximum");
  if (f->mode == PS_FRAMER_NDJSON) {
    if (len == 0)
      fail("empty ndjson frame");
    if (memchr(p, '\n', len))
      fail("newline inside an ndjson frame");
  } else {
    uint32_t declared = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
                        (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (len < PS_FRAMER_BSON_MIN_LEN || declared != len)
      fail("bson frame length");
  }
}

/* Takes every available frame into r; returns the last result. The frames
 * of one run never exceed the input, so r's arrays (sized for the input)
 * suffice. */
static int drain(struct ps__framer *f, struct run *r) {
  const unsigned char *p;
  size_t len;
  int rc;
  while ((rc = ps__framer_next(f, &p, &len)) == PS_FRAMER_FRAME) {
    check_frame(f, p, len);
    memcpy(r->bytes + r->bytes_len, p, len);
    r->bytes_len += len;
    r->lens[r->n++] = len;
  }
  return rc;
}

static void frame(const unsigned char *data, size_t size,
                  enum ps__framer_mode mode, size_t max, unsigned seed,
                  int chunked, struct run *r) {
  struct ps__framer f;
  uint32_t state = seed * 2654435761u + 1;
  size_t pos = 0;
  size_t biggest = 0;
  int rc = PS_FRAMER_NEED_MORE;
  ps__framer_init(&f, mode, max);
  while (pos < size && rc == PS_FRAMER_NEED_MORE) {
    size_t len = size - pos;
    if (chunked) {
      state = state * 1103515245u + 12345u;
      /* Mostly tiny chunks, sometimes larger ones. */
      len = (state >> 16) % (state & 0x100 ? 256 : 4) + 1;
      if (len > size - pos)
        len = size - pos;
    }
    if (len > biggest)
      biggest = len;
    rc = ps__framer_feed(&f, data + pos, len);
    if (rc == PS_FRAMER_EFULL || rc == PS_FRAMER_EMISUSE)
      fail("feed refused although drained");
    if (rc)
      break;
    if (f.cap > f.max_frame + 1 + biggest)
      fail("buffer above one frame plus one chunk");
    pos += len;
    rc = drain(&f, r);
  }
  if (rc == PS_FRAMER_NEED_MORE) {
    ps__framer_finish(&f);
    rc = drain(&f, r);
  }
  if (rc == PS_FRAMER_NEED_MORE || rc == PS_FRAMER_FRAME)
    fail("no end after finish");
  if (rc < 0 && ps__framer_errmsg(&f)[0] == 0)
    fail("error without a message");
  if (rc < 0 && ps__framer_next(&f, NULL, NULL) != rc)
    fail("error not sticky");
  r->end_rc = rc;
  ps__framer_free(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const size_t maxes[] = {0, 16, 64, 1024};
  struct run a = {0};
  struct run b = {0};
  unsigned char *copy;
  enum ps__framer_mode mode;
  size_t max;
  unsigned seed;
  if (size < 1)
    return 0;
  mode = data[0] & 1 ? PS_FRAMER_BSON : PS_FRAMER_NDJSON;
  max = maxes[(data[0] >> 1) & 3];
  seed = data[0] >> 3;
  data++;
  size--;
  /* A private copy, so that reading past size is caught by ASan. */
  copy = malloc(size ? size : 1);
  a.bytes = malloc(size ? size : 1);
  b.bytes = malloc(size ? size : 1);
  a.lens = malloc((size ? size : 1) * sizeof(size_t));
  b.lens = malloc((size ? size : 1) * sizeof(size_t));
  if (!copy || !a.bytes || !b.bytes || !a.lens || !b.lens)
    fail("out of memory");
  if (size)
    memcpy(copy, data, size);

  frame(copy, size, mode, max, seed, 0, &a);
  frame(copy, size, mode, max, seed, 1, &b);
  if (a.end_rc != b.end_rc)
    fail("whole and chunked end differently");
  if (a.n != b.n || memcmp(a.lens, b.lens, a.n * sizeof(size_t)) ||
      a.bytes_len != b.bytes_len || memcmp(a.bytes, b.bytes, a.bytes_len))
    fail("whole and chunked frames differ");

  free(copy);
  free(a.bytes);
  free(b.bytes);
  free(a.lens);
  free(b.lens);
  return 0;
}
