/*
 * bson.h: a length-checked, zero-copy reader for BSON documents, with no
 * dependency but libc.
 *
 * ACCEPTED FORMAT
 *
 * A document is an int32 little-endian total length (at least 5, including
 * the length itself), a sequence of elements and a terminating 0x00 byte. An
 * element is a type byte, a key (a NUL-terminated UTF-8 "cstring") and a value
 * whose encoding depends on the type. The element types of core-sync.md 10.1
 * are supported: 0x01 double, 0x02 string, 0x03 document, 0x04 array,
 * 0x05 binary, 0x06 undefined, 0x07 ObjectId, 0x08 bool, 0x09 UTC datetime,
 * 0x0A null, 0x10 int32, 0x11 timestamp, 0x12 int64. Any other type byte is an
 * error. Arrays are documents whose keys ("0", "1", ...) are not checked.
 *
 * The reader follows the official PowerSync core (crates/core/src/bson) in
 * what it accepts and in its error messages, so that sync protocol errors read
 * the same:
 *  - strings and keys must be valid UTF-8 (RFC 3629); the byte that ends a
 *    string is not checked, a string length of 0 is an error (the official
 *    core panics on it);
 *  - where a document ends is decided by its length alone: an element may not
 *    cross it, and a 0x00 byte before it is read as a type byte
 *    ("unknown element code: 0");
 *  - bool values are 0 = false, any other byte = true.
 *
 * LIMITS
 *
 * Nesting deeper than PS_BSON_MAX_DEPTH is an error. Inputs are addressed with
 * size_t; BSON lengths are int32, so no value exceeds 2 GiB.
 *
 * HOW TO READ
 *
 * ps__bson_open() checks the header of a top-level document; bytes after its
 * declared length are ignored. A ps__bson_iter walks the elements of one
 * document: ps__bson_next() reads the type and key of the next element, then
 * ps__bson_read() reads its value (or ps__bson_skip() reads and validates it,
 * nested documents included). Values are read lazily so that a caller can
 * reject an element by its key before its value is looked at, as the official
 * core does. Strings, binaries and nested documents are slices of the input,
 * which must outlive them.
 *
 * ERROR OFFSETS
 *
 * Errors carry the byte offset that the official core reports: the position of
 * its cursor when it failed (after a length that turned out invalid, before a
 * read that ran out of input). Its cursor does not count single-byte reads
 * (type bytes, document terminators, bool values and binary subtypes), so the
 * reported offset is the true position minus the number of such reads made
 * before in the enclosing documents. ps__bson_error_format() renders
 * "bson error, at <offset>: <kind>".
 *
 * Thread-safety: no global state; an iterator is used by one thread at a time.
 */
#ifndef PS_CORE_BSON_H
#define PS_CORE_BSON_H

#include <stddef.h>
#include <stdint.h>

/* Documents may nest this deep (the top-level document is depth 1). Sync lines
 * nest at most 6 levels; the limit exists so that hostile input cannot make
 * ps__bson_skip() recurse without bound. 128 is serde_json's recursion limit,
 * which bounds the JSON encoding of the same lines in the official core. (Its
 * BSON reader has no limit and overflows the stack on very deep input.) */
#define PS_BSON_MAX_DEPTH 128

/* Element types; the values are the type bytes of the BSON specification. */
enum ps__bson_type {
  PS_BSON_DOUBLE = 0x01,
  PS_BSON_STRING = 0x02,
  PS_BSON_DOCUMENT = 0x03,
  PS_BSON_ARRAY = 0x04,
  PS_BSON_BINARY = 0x05,
  PS_BSON_UNDEFINED = 0x06,
  PS_BSON_OBJECTID = 0x07,
  PS_BSON_BOOL = 0x08,
  PS_BSON_DATETIME = 0x09,
  PS_BSON_NULL = 0x0A,
  PS_BSON_INT32 = 0x10,
  PS_BSON_TIMESTAMP = 0x11,
  PS_BSON_INT64 = 0x12
};

enum ps__bson_errcode {
  PS_BSON_OK = 0,
  PS_BSON_E_EOF,                  /* "unexpected end of file" */
  PS_BSON_E_SIZE,                 /* "invalid document size" */
  PS_BSON_E_END_OF_DOCUMENT,      /* "unexpected end of document" */
  PS_BSON_E_ELEMENT_TYPE,         /* "unknown element code: <n>" */
  PS_BSON_E_CSTRING_UNTERMINATED, /* "unterminated cstring" */
  PS_BSON_E_UTF8,                 /* "cstring with non-utf8 content: ..." */
  PS_BSON_E_DEPTH                 /* "document nested too deeply" (ours) */
};

struct ps__bson_error {
  enum ps__bson_errcode code;
  size_t offset; /* As the official core reports it (see above). */
  /* PS_BSON_E_ELEMENT_TYPE: the type byte, as a signed char like the
   * official core prints it. */
  int element_type;
  /* PS_BSON_E_UTF8: bytes of the string before the invalid sequence, and the
   * length of that sequence (0 = the string ends inside it). */
  size_t utf8_valid_up_to;
  int utf8_error_len;
};

/* A document or array: the bytes between its length field and its end. */
struct ps__bson_doc {
  const unsigned char *base; /* The whole input; offsets are relative to it. */
  size_t start;              /* First byte after the length field. */
  size_t end;                /* One past the terminating byte. */
  size_t lag; /* Single-byte reads before start (see ERROR OFFSETS). */
  int depth;  /* 1 for a top-level document. */
};

/* Cursor over the elements of one document. */
struct ps__bson_iter {
  const unsigned char *base;
  size_t pos;
  size_t end;
  size_t lag;
  int depth;
  int pending; /* 1 between ps__bson_next() and reading the value. */
  enum ps__bson_type type;
};

/* The key of an element; a slice of the input (not NUL-terminated here, though
 * the input holds a NUL right after it). */
struct ps__bson_element {
  enum ps__bson_type type;
  const char *key;
  size_t key_len;
};

struct ps__bson_value {
  enum ps__bson_type type;
  union {
    double f64;   /* DOUBLE */
    int32_t i32;  /* INT32 */
    int64_t i64;  /* INT64, DATETIME (milliseconds since the epoch) */
    uint64_t u64; /* TIMESTAMP */
    int boolean;  /* BOOL: 0 or 1 */
    struct {
      const char *ptr; /* Valid UTF-8, may contain NUL bytes. */
      size_t len;      /* Without the terminating byte. */
    } str;             /* STRING */
    struct {
      const unsigned char *ptr;
      size_t len;
      unsigned char subtype;
    } bin;                   /* BINARY; OBJECTID (12 bytes, subtype 0) */
    struct ps__bson_doc doc; /* DOCUMENT, ARRAY */
  } as;
};

/* Reads the header of the document at data[0..len). Returns 0, or -1 with
 * *err set (input shorter than 4 bytes or than the declared length, declared
 * length below 5 or negative). */
int ps__bson_open(struct ps__bson_doc *out, const void *data, size_t len,
                  struct ps__bson_error *err);

void ps__bson_iter_init(struct ps__bson_iter *it,
                        const struct ps__bson_doc *doc);

/* Reads the type and key of the next element. Returns 1 with *el set, 0 at
 * the end of the document, -1 with *err set. If the previous element's value
 * was not read, it is skipped (and validated) first. */
int ps__bson_next(struct ps__bson_iter *it, struct ps__bson_element *el,
                  struct ps__bson_error *err);

/* Reads the value of the element returned by the last ps__bson_next(). For a
 * document or array only its header is checked; iterate it to read the rest.
 * Returns 0, or -1 with *err set. */
int ps__bson_read(struct ps__bson_iter *it, struct ps__bson_value *out,
                  struct ps__bson_error *err);

/* Reads the pending value and, for documents and arrays, every nested element,
 * so that malformed content is reported as the official core reports it when
 * it ignores a value. Returns 0, or -1 with *err set. */
int ps__bson_skip(struct ps__bson_iter *it, struct ps__bson_error *err);

/* The offset the official core would report for an error at the iterator's
 * current position. */
size_t ps__bson_iter_offset(const struct ps__bson_iter *it);

/* Checks that s[0..len) is UTF-8 as Rust's str::from_utf8 defines it. Returns
 * 1 if valid; otherwise 0 with the index of the first invalid sequence and
 * its length (0 if the input ends inside it), as Rust's Utf8Error reports. */
int ps__bson_utf8_check(const unsigned char *s, size_t len, size_t *valid_up_to,
                        int *error_len);

/* Writes "bson error, at <offset>: <kind>" into buf (always NUL-terminated if
 * size > 0, truncated if too long). Returns the untruncated length. */
size_t ps__bson_error_format(const struct ps__bson_error *e, char *buf,
                             size_t size);

#endif
