/*
 * bson.c: the BSON reader declared in bson.h.
 *
 * HOW IT WORKS
 *
 * Every read goes through need(), which checks that the bytes lie inside the
 * current document (not just inside the input), so a length field can never
 * make the reader leave the document it was found in. Little-endian integers
 * are assembled byte by byte, which is independent of the host's byte order
 * and alignment.
 *
 * The official core's error offsets (see bson.h) are reproduced by keeping,
 * next to the true position, a "lag": the number of single-byte reads made so
 * far by this document and by its ancestors before it started. A nested
 * document inherits its parent's lag at the point where it begins.
 */
#include "bson.h"

#include <stdio.h>
#include <string.h>

/* Bytes of the length field that starts documents, strings and binaries. */
#define BSON_LENGTH_SIZE 4
/* Smallest document: a length field and the terminating byte. */
#define BSON_MIN_DOCUMENT 5
/* Size of an ObjectId value. */
#define BSON_OBJECTID_SIZE 12

static int fail(struct ps__bson_error *err, enum ps__bson_errcode code,
                size_t offset) {
  if (err) {
    memset(err, 0, sizeof(*err));
    err->code = code;
    err->offset = offset;
  }
  return -1;
}

/* The offset the official core reports for position pos. */
static size_t reported(const struct ps__bson_iter *it, size_t pos) {
  return pos - it->lag;
}

/* 1 if n more bytes are available in the current document. */
static int need(const struct ps__bson_iter *it, size_t n) {
  return it->end - it->pos >= n;
}

static uint32_t load_u32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static uint64_t load_u64(const unsigned char *p) {
  return (uint64_t)load_u32(p) | (uint64_t)load_u32(p + 4) << 32;
}

/* Reads a length field (string, binary, document). Negative lengths are
 * invalid; the error is reported after the field, as the official core does. */
static int read_length(struct ps__bson_iter *it, size_t *out,
                       struct ps__bson_error *err) {
  uint32_t raw;
  if (!need(it, BSON_LENGTH_SIZE))
    return fail(err, PS_BSON_E_EOF, reported(it, it->pos));
  raw = load_u32(it->base + it->pos);
  it->pos += BSON_LENGTH_SIZE;
  if (raw > INT32_MAX)
    return fail(err, PS_BSON_E_SIZE, reported(it, it->pos));
  *out = raw;
  return 0;
}

/* A single-byte read, which the official core's cursor does not count. */
static int read_byte(struct ps__bson_iter *it, unsigned char *out,
                     struct ps__bson_error *err) {
  if (!need(it, 1))
    return fail(err, PS_BSON_E_EOF, reported(it, it->pos));
  *out = it->base[it->pos];
  it->pos++;
  it->lag++;
  return 0;
}

static int fixed(struct ps__bson_iter *it, size_t n, const unsigned char **out,
                 struct ps__bson_error *err) {
  if (!need(it, n))
    return fail(err, PS_BSON_E_EOF, reported(it, it->pos));
  *out = it->base + it->pos;
  it->pos += n;
  return 0;
}

int ps__bson_utf8_check(const unsigned char *s, size_t len, size_t *valid_up_to,
                        int *error_len) {
  size_t i = 0;
  while (i < len) {
    unsigned char c;
    /* ASCII, eight bytes at a time. */
    while (len - i >= 8) {
      uint64_t v;
      memcpy(&v, s + i, sizeof(v));
      if (v & 0x8080808080808080ULL)
        break;
      i += 8;
    }
    if (i >= len)
      break;
    c = s[i];
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    size_t width;
    size_t k;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      width = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      width = 3;
      if (c == 0xE0)
        lo = 0xA0;
      else if (c == 0xED)
        hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      width = 4;
      if (c == 0xF0)
        lo = 0x90;
      else if (c == 0xF4)
        hi = 0x8F;
    } else {
      *valid_up_to = i;
      *error_len = 1;
      return 0;
    }
    /* Like Rust: the error length counts the bytes that were acceptable
     * before the offending one; running out of input is "incomplete". */
    for (k = 1; k < width; k++) {
      unsigned char t;
      if (i + k >= len) {
        *valid_up_to = i;
        *error_len = 0;
        return 0;
      }
      t = s[i + k];
      if (k == 1 ? (t < lo || t > hi) : (t < 0x80 || t > 0xBF)) {
        *valid_up_to = i;
        *error_len = (int)k;
        return 0;
      }
    }
    i += width;
  }
  return 1;
}

static int check_utf8(const unsigned char *s, size_t len, size_t offset,
                      struct ps__bson_error *err) {
  size_t valid_up_to;
  int error_len;
  if (ps__bson_utf8_check(s, len, &valid_up_to, &error_len))
    return 0;
  fail(err, PS_BSON_E_UTF8, offset);
  if (err) {
    err->utf8_valid_up_to = valid_up_to;
    err->utf8_error_len = error_len;
  }
  return -1;
}

int ps__bson_open(struct ps__bson_doc *out, const void *data, size_t len,
                  struct ps__bson_error *err) {
  struct ps__bson_iter top;
  size_t total;
  memset(&top, 0, sizeof(top));
  top.base = data;
  top.end = data ? len : 0;
  if (read_length(&top, &total, err))
    return -1;
  if (total < BSON_MIN_DOCUMENT)
    return fail(err, PS_BSON_E_SIZE, top.pos);
  if (!need(&top, total - BSON_LENGTH_SIZE))
    return fail(err, PS_BSON_E_EOF, top.pos);
  out->base = data;
  out->start = BSON_LENGTH_SIZE;
  out->end = total;
  out->lag = 0;
  out->depth = 1;
  return 0;
}

void ps__bson_iter_init(struct ps__bson_iter *it,
                        const struct ps__bson_doc *doc) {
  it->base = doc->base;
  it->pos = doc->start;
  it->end = doc->end;
  it->lag = doc->lag;
  it->depth = doc->depth;
  it->pending = 0;
  it->type = PS_BSON_NULL;
}

size_t ps__bson_iter_offset(const struct ps__bson_iter *it) {
  return reported(it, it->pos);
}

static int known_type(unsigned char t) {
  return (t >= PS_BSON_DOUBLE && t <= PS_BSON_NULL) ||
         (t >= PS_BSON_INT32 && t <= PS_BSON_INT64);
}

/* Reads a key: the bytes up to a NUL inside the document, valid UTF-8. */
static int read_cstring(struct ps__bson_iter *it, const char **key,
                        size_t *key_len, struct ps__bson_error *err) {
  const unsigned char *start = it->base + it->pos;
  const unsigned char *nul = memchr(start, 0, it->end - it->pos);
  size_t n;
  if (!nul)
    return fail(err, PS_BSON_E_CSTRING_UNTERMINATED, reported(it, it->pos));
  n = (size_t)(nul - start);
  if (check_utf8(start, n, reported(it, it->pos), err))
    return -1;
  *key = (const char *)start;
  *key_len = n;
  it->pos += n + 1;
  return 0;
}

int ps__bson_next(struct ps__bson_iter *it, struct ps__bson_element *el,
                  struct ps__bson_error *err) {
  unsigned char t;
  if (it->pending && ps__bson_skip(it, err))
    return -1;
  /* The official core takes a single remaining byte as the terminator and
   * anything else as the start of an element. */
  if (it->end - it->pos == 1) {
    unsigned char terminator = 0;
    read_byte(it, &terminator, err); /* Cannot fail: one byte is there. */
    if (terminator != 0)
      return fail(err, PS_BSON_E_END_OF_DOCUMENT, reported(it, it->pos));
    return 0;
  }
  if (read_byte(it, &t, err))
    return -1;
  if (!known_type(t)) {
    fail(err, PS_BSON_E_ELEMENT_TYPE, reported(it, it->pos));
    if (err)
      err->element_type = (signed char)t;
    return -1;
  }
  if (read_cstring(it, &el->key, &el->key_len, err))
    return -1;
  el->type = (enum ps__bson_type)t;
  it->type = el->type;
  it->pending = 1;
  return 1;
}

static int read_string(struct ps__bson_iter *it, struct ps__bson_value *out,
                       struct ps__bson_error *err) {
  size_t n;
  const unsigned char *p;
  if (read_length(it, &n, err))
    return -1;
  /* The length counts the terminating byte, so 0 is impossible; the official
   * core would index before the string (and panic). */
  if (n == 0)
    return fail(err, PS_BSON_E_SIZE, reported(it, it->pos));
  if (fixed(it, n, &p, err))
    return -1;
  if (check_utf8(p, n - 1, reported(it, it->pos), err))
    return -1;
  out->as.str.ptr = (const char *)p;
  out->as.str.len = n - 1;
  return 0;
}

static int read_binary(struct ps__bson_iter *it, struct ps__bson_value *out,
                       struct ps__bson_error *err) {
  size_t n;
  unsigned char subtype;
  const unsigned char *p;
  if (read_length(it, &n, err) || read_byte(it, &subtype, err) ||
      fixed(it, n, &p, err))
    return -1;
  out->as.bin.ptr = p;
  out->as.bin.len = n;
  out->as.bin.subtype = subtype;
  return 0;
}

static int read_document(struct ps__bson_iter *it, struct ps__bson_value *out,
                         struct ps__bson_error *err) {
  size_t total;
  if (read_length(it, &total, err))
    return -1;
  if (total < BSON_MIN_DOCUMENT)
    return fail(err, PS_BSON_E_SIZE, reported(it, it->pos));
  if (!need(it, total - BSON_LENGTH_SIZE))
    return fail(err, PS_BSON_E_EOF, reported(it, it->pos));
  if (it->depth >= PS_BSON_MAX_DEPTH)
    return fail(err, PS_BSON_E_DEPTH, reported(it, it->pos));
  out->as.doc.base = it->base;
  out->as.doc.start = it->pos;
  out->as.doc.end = it->pos + total - BSON_LENGTH_SIZE;
  out->as.doc.lag = it->lag;
  out->as.doc.depth = it->depth + 1;
  it->pos = out->as.doc.end;
  return 0;
}

int ps__bson_read(struct ps__bson_iter *it, struct ps__bson_value *out,
                  struct ps__bson_error *err) {
  const unsigned char *p;
  unsigned char byte;
  if (!it->pending)
    return fail(err, PS_BSON_E_EOF, reported(it, it->pos));
  it->pending = 0;
  memset(out, 0, sizeof(*out));
  out->type = it->type;
  switch (it->type) {
  case PS_BSON_DOUBLE: {
    uint64_t bits;
    if (fixed(it, 8, &p, err))
      return -1;
    bits = load_u64(p);
    memcpy(&out->as.f64, &bits, sizeof(bits));
    return 0;
  }
  case PS_BSON_STRING:
    return read_string(it, out, err);
  case PS_BSON_DOCUMENT:
  case PS_BSON_ARRAY:
    return read_document(it, out, err);
  case PS_BSON_BINARY:
    return read_binary(it, out, err);
  case PS_BSON_UNDEFINED:
  case PS_BSON_NULL:
    return 0;
  case PS_BSON_OBJECTID:
    if (fixed(it, BSON_OBJECTID_SIZE, &p, err))
      return -1;
    out->as.bin.ptr = p;
    out->as.bin.len = BSON_OBJECTID_SIZE;
    return 0;
  case PS_BSON_BOOL:
    if (read_byte(it, &byte, err))
      return -1;
    out->as.boolean = byte != 0;
    return 0;
  case PS_BSON_DATETIME:
  case PS_BSON_INT64:
    if (fixed(it, 8, &p, err))
      return -1;
    out->as.i64 = (int64_t)load_u64(p);
    return 0;
  case PS_BSON_TIMESTAMP:
    if (fixed(it, 8, &p, err))
      return -1;
    out->as.u64 = load_u64(p);
    return 0;
  case PS_BSON_INT32:
    if (fixed(it, 4, &p, err))
      return -1;
    out->as.i32 = (int32_t)load_u32(p);
    return 0;
  }
  return fail(err, PS_BSON_E_ELEMENT_TYPE, reported(it, it->pos));
}

int ps__bson_skip(struct ps__bson_iter *it, struct ps__bson_error *err) {
  struct ps__bson_value v;
  struct ps__bson_iter sub;
  struct ps__bson_element el;
  int rc;
  if (ps__bson_read(it, &v, err))
    return -1;
  if (v.type != PS_BSON_DOCUMENT && v.type != PS_BSON_ARRAY)
    return 0;
  /* Recursion is bounded by PS_BSON_MAX_DEPTH (checked in read_document). */
  ps__bson_iter_init(&sub, &v.as.doc);
  while ((rc = ps__bson_next(&sub, &el, err)) == 1) {
    if (ps__bson_skip(&sub, err))
      return -1;
  }
  return rc;
}

static const char *error_kind(enum ps__bson_errcode code) {
  switch (code) {
  case PS_BSON_OK:
    return "no error";
  case PS_BSON_E_EOF:
    return "unexpected end of file";
  case PS_BSON_E_SIZE:
    return "invalid document size";
  case PS_BSON_E_END_OF_DOCUMENT:
    return "unexpected end of document";
  case PS_BSON_E_ELEMENT_TYPE:
    return "unknown element code";
  case PS_BSON_E_CSTRING_UNTERMINATED:
    return "unterminated cstring";
  case PS_BSON_E_UTF8:
    return "cstring with non-utf8 content";
  case PS_BSON_E_DEPTH:
    return "document nested too deeply";
  }
  return "unknown error";
}

size_t ps__bson_error_format(const struct ps__bson_error *e, char *buf,
                             size_t size) {
  int n;
  const char *kind = error_kind(e->code);
  if (e->code == PS_BSON_E_ELEMENT_TYPE) {
    n = snprintf(buf, size, "bson error, at %zu: %s: %d", e->offset, kind,
                 e->element_type);
  } else if (e->code == PS_BSON_E_UTF8 && e->utf8_error_len) {
    /* Rust's Utf8Error wording. */
    n = snprintf(buf, size,
                 "bson error, at %zu: %s: invalid utf-8 sequence of %d bytes "
                 "from index %zu",
                 e->offset, kind, e->utf8_error_len, e->utf8_valid_up_to);
  } else if (e->code == PS_BSON_E_UTF8) {
    n = snprintf(buf, size,
                 "bson error, at %zu: %s: incomplete utf-8 byte sequence from "
                 "index %zu",
                 e->offset, kind, e->utf8_valid_up_to);
  } else {
    n = snprintf(buf, size, "bson error, at %zu: %s", e->offset, kind);
  }
  return n < 0 ? 0 : (size_t)n;
}
