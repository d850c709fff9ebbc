/*
 * buf.c: growable byte buffer with a sticky error and a maximum size.
 */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ps__buf_init(struct ps__buf *b, size_t max) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max = max ? max : PS_BUF_DEFAULT_MAX;
  b->failed = 0;
}

void ps__buf_free(struct ps__buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void ps__buf_reset(struct ps__buf *b) {
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

static int buf_reserve(struct ps__buf *b, size_t extra) {
  size_t need;
  size_t cap;
  char *p;
  if (b->failed)
    return 0;
  if (extra > b->max - b->len) {
    b->failed = PS_BUF_FAILED_TOOBIG;
    return 0;
  }
  need = b->len + extra + 1;
  if (need <= b->cap)
    return 1;
  cap = b->cap ? b->cap : 64;
  while (cap < need)
    cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
  p = realloc(b->data, cap);
  if (!p) {
    b->failed = PS_BUF_FAILED_NOMEM;
    return 0;
  }
  b->data = p;
  b->cap = cap;
  return 1;
}

void ps__buf_append(struct ps__buf *b, const void *data, size_t len) {
  if (!buf_reserve(b, len))
    return;
  if (len)
    memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
}

void ps__buf_puts(struct ps__buf *b, const char *s) {
  ps__buf_append(b, s, strlen(s));
}

void ps__buf_putc(struct ps__buf *b, char c) { ps__buf_append(b, &c, 1); }

void ps__buf_vprintf(struct ps__buf *b, const char *fmt, va_list ap) {
  va_list copy;
  int n;
  va_copy(copy, ap);
  n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (n < 0) {
    b->failed = PS_BUF_FAILED_NOMEM;
    return;
  }
  if (!buf_reserve(b, (size_t)n))
    return;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
}

void ps__buf_printf(struct ps__buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ps__buf_vprintf(b, fmt, ap);
  va_end(ap);
}

void ps__buf_truncate(struct ps__buf *b, size_t len) {
  if (len < b->len) {
    b->len = len;
    b->data[len] = '\0';
  }
}

int ps__buf_failed(const struct ps__buf *b) { return b->failed; }

const char *ps__buf_cstr(const struct ps__buf *b) {
  return b->data ? b->data : "";
}

char *ps__buf_take(struct ps__buf *b) {
  char *p;
  if (b->failed) {
    ps__buf_free(b);
    return NULL;
  }
  if (!b->data) {
    p = malloc(1);
    if (p)
      p[0] = '\0';
    return p;
  }
  p = b->data;
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  return p;
}
