/*
 * line_framer.c: the sync stream framer of line_framer.h (NDJSON lines or
 * concatenated BSON documents, fed in arbitrary chunks).
 *
 * HOW IT WORKS
 *
 * One buffer holds the bytes fed but not yet taken: buf[start, end). next()
 * only advances start, so frames returned from one chunk stay valid together;
 * feed() first moves the undrained tail to the front (compaction), then
 * appends. After next() has said "need more", the undrained tail is at most
 * a partial frame, so the buffer never has to hold more than one maximal
 * frame plus the chunk being fed; its growth is capped at exactly that.
 *
 * NDJSON remembers how far it has searched for "\n" (scan), so a long line
 * arriving one byte at a time costs linear, not quadratic, time.
 */
#include "line_framer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/buf.h"

/* First allocation: libcurl hands over at most CURL_MAX_WRITE_SIZE (16 KiB)
 * per write callback by default, so one chunk fits without a regrow. */
#define PS_FRAMER_MIN_CAP ((size_t)16 << 10)

/* After a large frame, give memory back once the buffer is more than 1 MiB
 * and four times what is needed: a single big row must not pin tens of
 * megabytes for the rest of a long-lived connection. */
#define PS_FRAMER_SHRINK_ABOVE ((size_t)1 << 20)

/* An NDJSON line of max_frame bytes may be followed by "\r" before its "\n"
 * arrives, so that much may legitimately stay undrained. */
#define PS_FRAMER_SLACK 1

void ps__framer_init(struct ps__framer *f, enum ps__framer_mode mode,
                     size_t max_frame) {
  memset(f, 0, sizeof(*f));
  f->mode = mode;
  if (max_frame == 0)
    max_frame = PS_FRAMER_DEFAULT_MAX_FRAME;
  if (mode == PS_FRAMER_BSON && max_frame > PS_FRAMER_BSON_MAX_LEN)
    max_frame = PS_FRAMER_BSON_MAX_LEN;
  /* Keep max_frame + slack + a chunk length computable without overflow. */
  if (max_frame > SIZE_MAX / 4)
    max_frame = SIZE_MAX / 4;
  f->max_frame = max_frame;
}

void ps__framer_free(struct ps__framer *f) {
  free(f->buf);
  f->buf = NULL;
  f->cap = 0;
  f->start = 0;
  f->end = 0;
}

void ps__framer_reset(struct ps__framer *f) {
  enum ps__framer_mode mode = f->mode;
  size_t max_frame = f->max_frame;
  ps__framer_free(f);
  ps__framer_init(f, mode, max_frame);
}

size_t ps__framer_buffered(const struct ps__framer *f) {
  return f->end - f->start;
}

const char *ps__framer_errmsg(const struct ps__framer *f) { return f->errmsg; }

static int fail(struct ps__framer *f, int code, const char *fmt, ...)
    PS_PRINTF(3, 4);

static int fail(struct ps__framer *f, int code, const char *fmt, ...) {
  va_list ap;
  f->err = code;
  va_start(ap, fmt);
  vsnprintf(f->errmsg, sizeof(f->errmsg), fmt, ap);
  va_end(ap);
  return code;
}

/* Moves the undrained bytes to the front of the buffer. */
static void compact(struct ps__framer *f) {
  size_t pending = f->end - f->start;
  if (f->start == 0)
    return;
  if (pending)
    memmove(f->buf, f->buf + f->start, pending);
  f->start = 0;
  f->end = pending;
}

/* Makes room for need bytes in total, capacity never above limit (need <=
 * limit). Also shrinks an oversized buffer. Returns 0 or -1 (out of memory,
 * buffer unchanged). */
static int reserve(struct ps__framer *f, size_t need, size_t limit) {
  size_t cap;
  unsigned char *p;
  if (need <= f->cap) {
    if (f->cap > PS_FRAMER_SHRINK_ABOVE && need < f->cap / 4) {
      cap = need > PS_FRAMER_MIN_CAP ? need : PS_FRAMER_MIN_CAP;
      p = realloc(f->buf, cap);
      /* A failed shrink is harmless: keep the larger buffer. */
      if (p) {
        f->buf = p;
        f->cap = cap;
      }
    }
    return 0;
  }
  cap = f->cap ? f->cap : PS_FRAMER_MIN_CAP;
  while (cap < need && cap <= SIZE_MAX / 2)
    cap *= 2;
  if (cap < need || cap > limit)
    cap = limit;
  p = realloc(f->buf, cap);
  if (!p)
    return -1;
  f->buf = p;
  f->cap = cap;
  return 0;
}

int ps__framer_feed(struct ps__framer *f, const void *data, size_t len) {
  size_t pending;
  size_t limit;
  if (f->err)
    return f->err;
  if (f->finished)
    return PS_FRAMER_EMISUSE;
  if (len == 0)
    return 0;
  pending = f->end - f->start;
  /* Beyond this, the caller has not drained complete frames; accepting more
   * would break the memory bound. */
  if (pending > f->max_frame + PS_FRAMER_SLACK)
    return PS_FRAMER_EFULL;
  if (len > SIZE_MAX - (f->max_frame + PS_FRAMER_SLACK))
    return fail(f, PS_FRAMER_ENOMEM, "chunk of %zu bytes is too large", len);
  limit = f->max_frame + PS_FRAMER_SLACK + len;
  compact(f);
  if (reserve(f, pending + len, limit))
    return fail(f, PS_FRAMER_ENOMEM,
                "out of memory buffering %zu bytes of the sync stream",
                pending + len);
  memcpy(f->buf + f->end, data, len);
  f->end += len;
  return 0;
}

void ps__framer_finish(struct ps__framer *f) { f->finished = 1; }

static void consume(struct ps__framer *f, size_t n) {
  f->start += n;
  f->offset += n;
  f->scan = 0;
}

static int next_line(struct ps__framer *f, const unsigned char **frame,
                     size_t *frame_len) {
  for (;;) {
    const unsigned char *p = f->buf + f->start;
    size_t pending = f->end - f->start;
    const unsigned char *nl = NULL;
    size_t content;
    if (pending > f->scan)
      nl = memchr(p + f->scan, '\n', pending - f->scan);
    if (!nl) {
      f->scan = pending;
      /* A trailing "\r" may still turn out to be part of "\r\n". */
      content = pending - (pending && p[pending - 1] == '\r');
      if (content > f->max_frame)
        return fail(f, PS_FRAMER_ETOOBIG,
                    "line at offset %llu is longer than the maximum of %zu "
                    "bytes",
                    (unsigned long long)f->offset, f->max_frame);
      if (!f->finished)
        return PS_FRAMER_NEED_MORE;
      if (content == 0) {
        consume(f, pending);
        return PS_FRAMER_END;
      }
      /* End of stream terminates the last line (protocol.md 5.3). */
      consume(f, pending);
      *frame = p;
      *frame_len = content;
      return PS_FRAMER_FRAME;
    }
    content = (size_t)(nl - p);
    consume(f, content + 1);
    if (content && p[content - 1] == '\r')
      content--;
    if (content > f->max_frame)
      return fail(f, PS_FRAMER_ETOOBIG,
                  "line at offset %llu is %zu bytes, longer than the maximum "
                  "of %zu bytes",
                  (unsigned long long)(f->offset - (size_t)(nl - p) - 1),
                  content, f->max_frame);
    if (content == 0)
      continue;
    *frame = p;
    *frame_len = content;
    return PS_FRAMER_FRAME;
  }
}

static int next_bson(struct ps__framer *f, const unsigned char **frame,
                     size_t *frame_len) {
  const unsigned char *p = f->buf + f->start;
  size_t pending = f->end - f->start;
  int64_t declared;
  if (pending < 4) {
    if (!f->finished)
      return PS_FRAMER_NEED_MORE;
    if (pending == 0)
      return PS_FRAMER_END;
    return fail(f, PS_FRAMER_ETRUNCATED,
                "stream ended inside the length of a bson document at offset "
                "%llu",
                (unsigned long long)f->offset);
  }
  /* Little-endian int32, assembled bytewise (no alignment, any host order);
   * the sign comes from bit 31 without relying on implementation-defined
   * conversion. */
  declared = (int64_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
                       (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
  if (declared > INT32_MAX)
    declared -= (int64_t)1 << 32;
  if (declared < PS_FRAMER_BSON_MIN_LEN)
    return fail(f, PS_FRAMER_EBADLEN,
                "bson document at offset %llu declares length %lld, below "
                "the minimum of %d",
                (unsigned long long)f->offset, (long long)declared,
                PS_FRAMER_BSON_MIN_LEN);
  if ((uint64_t)declared > (uint64_t)f->max_frame)
    return fail(f, PS_FRAMER_ETOOBIG,
                "bson document at offset %llu declares length %lld, above "
                "the maximum of %zu",
                (unsigned long long)f->offset, (long long)declared,
                f->max_frame);
  if (pending < (size_t)declared) {
    if (!f->finished)
      return PS_FRAMER_NEED_MORE;
    return fail(f, PS_FRAMER_ETRUNCATED,
                "stream ended inside a bson document at offset %llu (%zu of "
                "%lld bytes)",
                (unsigned long long)f->offset, pending, (long long)declared);
  }
  consume(f, (size_t)declared);
  *frame = p;
  *frame_len = (size_t)declared;
  return PS_FRAMER_FRAME;
}

int ps__framer_next(struct ps__framer *f, const unsigned char **frame,
                    size_t *frame_len) {
  if (f->err)
    return f->err;
  /* Before the first feed buf is NULL; there is nothing to frame yet. */
  if (!f->buf) {
    if (!f->finished)
      return PS_FRAMER_NEED_MORE;
    return PS_FRAMER_END;
  }
  if (f->mode == PS_FRAMER_BSON)
    return next_bson(f, frame, frame_len);
  return next_line(f, frame, frame_len);
}
