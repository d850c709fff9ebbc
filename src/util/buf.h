/*
 * buf.h: a growable byte buffer for building strings (SQL text, JSON).
 *
 * Errors are sticky: after an allocation failure or when the buffer would
 * grow past its maximum, every further append is a no-op and ps__buf_failed()
 * reports the failure, so a long chain of appends needs one check at the end.
 * The contents are always NUL-terminated once anything was appended.
 *
 * Memory comes from malloc/realloc so that the code in src/core, which must not
 * depend on SQLite, can use it; src/ext copies results into SQLite memory where
 * SQLite takes ownership.
 */
#ifndef PS_UTIL_BUF_H
#define PS_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

#if defined(__GNUC__) || defined(__clang__)
#define PS_PRINTF(fmt, first) __attribute__((format(printf, fmt, first)))
#else
#define PS_PRINTF(fmt, first)
#endif

/* Default upper bound of a buffer: generated SQL and JSON stay far below it;
 * it exists so that hostile input cannot make us allocate without limit. */
#define PS_BUF_DEFAULT_MAX ((size_t)1 << 30)

struct ps__buf {
  char *data; /* NUL-terminated contents, or NULL while empty. */
  size_t len; /* Bytes used, excluding the terminating NUL. */
  size_t cap; /* Bytes allocated. */
  size_t max; /* Largest len allowed. */
  int failed; /* Sticky: 1 = out of memory, 2 = too big. */
};

#define PS_BUF_FAILED_NOMEM  1
#define PS_BUF_FAILED_TOOBIG 2

void ps__buf_init(struct ps__buf *b, size_t max);
void ps__buf_free(struct ps__buf *b);
/* Forgets the contents but keeps the allocation and any failure. */
void ps__buf_reset(struct ps__buf *b);

void ps__buf_append(struct ps__buf *b, const void *data, size_t len);
void ps__buf_puts(struct ps__buf *b, const char *s);
void ps__buf_putc(struct ps__buf *b, char c);
void ps__buf_printf(struct ps__buf *b, const char *fmt, ...) PS_PRINTF(2, 3);
void ps__buf_vprintf(struct ps__buf *b, const char *fmt, va_list ap);
/* Drops the last n bytes (n <= len). */
void ps__buf_truncate(struct ps__buf *b, size_t len);

/* 0 when every append so far succeeded, else PS_BUF_FAILED_*. */
int ps__buf_failed(const struct ps__buf *b);
/* The contents as a C string; "" for an empty buffer. Borrowed. */
const char *ps__buf_cstr(const struct ps__buf *b);
/* Hands the allocation to the caller (free() it); the buffer becomes empty.
 * Returns NULL if the buffer failed; an empty buffer yields "". */
char *ps__buf_take(struct ps__buf *b);

#endif
