/*
 * json.h: a strict JSON (RFC 8259) reader and a writer, with no dependency but
 * libc and src/util.
 *
 * Reading: ps__json_parse() builds a tree in an arena. Numbers keep the
 * integer/float distinction that the official core (serde_json) makes: a
 * literal without fraction and exponent that fits int64 is PS_JSON_INT, one
 * that fits only uint64 is PS_JSON_UINT, anything else (including "-0", "1.0",
 * "1e2") is PS_JSON_FLOAT. Strings are decoded to UTF-8 (they may contain NUL
 * bytes from \u0000; use the length). Duplicate object keys: the last value
 * wins and keeps the position of the first occurrence. Nesting deeper than
 * PS_JSON_MAX_DEPTH is an error. Every value records where it lies in the
 * text, so that callers can report errors with serde_json's positions
 * (ps__json_position()).
 *
 * Writing: ps__json_write() serialises a tree compactly with the formatting of
 * serde_json (see core-storage.md 2.4.3): optional byte-wise sorted keys,
 * escapes \" \\ \b \t \n \f \r and \u00xx (lowercase hex) for other control
 * characters, everything else raw; floats in shortest round-trip form.
 *
 * Thread-safety: all functions are reentrant; a tree may be read by several
 * threads at once.
 */
#ifndef PS_CORE_JSON_H
#define PS_CORE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "../util/arena.h"
#include "../util/buf.h"

/* Containers may nest this deep. serde_json, which the official core uses,
 * starts a recursion budget of 128 and fails when entering the 128th nested
 * container (verified with the 0.5.3 binary: 127 levels parse, 128 fail);
 * the same limit makes both accept and reject the same documents. */
#define PS_JSON_MAX_DEPTH 127

enum ps__json_type {
  PS_JSON_NULL,
  PS_JSON_FALSE,
  PS_JSON_TRUE,
  PS_JSON_INT,   /* as.i */
  PS_JSON_UINT,  /* as.u, always > INT64_MAX */
  PS_JSON_FLOAT, /* as.f */
  PS_JSON_STRING,
  PS_JSON_ARRAY,
  PS_JSON_OBJECT
};

struct ps__json_value;

/* The end offset of a container that a syntax error cut short (only in trees
 * returned by ps__json_parse_ex() with PS_JSON_PARTIAL). */
#define PS_JSON_INCOMPLETE ((size_t)-1)

struct ps__json_member {
  const char *key; /* NUL-terminated; may also contain NUL bytes. */
  size_t key_len;
  size_t key_end; /* Offset just past the key's closing quote. */
  /* NULL only in a PS_JSON_PARTIAL tree, for the last member of an
   * incomplete object when the syntax error came after its key. */
  struct ps__json_value *value;
};

struct ps__json_value {
  enum ps__json_type type;
  /* Byte offsets in the parsed text: start is the value's first byte, end is
   * just past its last byte (PS_JSON_INCOMPLETE, see above). */
  size_t start;
  size_t end;
  union {
    int64_t i;
    uint64_t u;
    double f;
    struct {
      const char *ptr; /* NUL-terminated. */
      size_t len;
    } str;
    struct {
      struct ps__json_value **items;
      size_t count;
    } arr;
    struct {
      struct ps__json_member *members; /* In document order. */
      size_t count;
    } obj;
  } as;
};

/* Parses text[0..len). Returns the root, allocated in arena (owned by the
 * arena), or NULL on error with a one-line message such as
 * "expected ',' or '}' at line 1 column 9" in err (always NUL-terminated;
 * errlen may be 0 to discard it). Leading and trailing whitespace is allowed,
 * other trailing characters are an error. */
struct ps__json_value *ps__json_parse(struct ps__arena *arena, const char *text,
                                      size_t len, char *err, size_t errlen);

/* Flags of ps__json_parse_ex(). */

/* Objects keep every member in document order, duplicate keys included
 * (serde's derived structs reject a repeated field, so the caller must see
 * every occurrence). */
#define PS_JSON_KEEP_DUPLICATES 1u

/* On a syntax error the part read so far is returned: every container that
 * was open when the error was found has end == PS_JSON_INCOMPLETE and holds
 * the items and members read before it; the value that failed is left out
 * (an object member whose key was read gets a NULL value). serde reads a
 * document as a stream and reports the first error it meets, so a type error
 * before a syntax error wins; a partial tree lets the caller find it. Objects
 * of a partial tree are not deduplicated. */
#define PS_JSON_PARTIAL 2u

/* ps__json_parse() with flags. Returns 0 on success with the root in *root,
 * -1 on a syntax error (message with position in err; with PS_JSON_PARTIAL
 * *root is the part read, which may be NULL, otherwise NULL) and -2 when out
 * of memory (*root NULL, err "out of memory"). */
int ps__json_parse_ex(struct ps__arena *arena, const char *text, size_t len,
                      unsigned flags, struct ps__json_value **root, char *err,
                      size_t errlen);

/* serde_json's position of the byte offset at in text[0..len): line is 1 +
 * the number of newlines before at, column is at minus the offset where its
 * line starts (so the column of a byte at offset i, counted from 1, is
 * i + 1 on the first line). at is capped at len. */
void ps__json_position(const char *text, size_t len, size_t at, size_t *line,
                       size_t *column);

/* Member of an object by key, or NULL (also NULL if obj is not an object). */
const struct ps__json_value *ps__json_get(const struct ps__json_value *obj,
                                          const char *key);

/* Deep structural equality: objects as unordered key sets, arrays
 * element-wise; numbers equal only if of the same kind and value (INT 1 differs
 * from FLOAT 1.0; FLOAT -0.0 equals 0.0). */
int ps__json_equal(const struct ps__json_value *a,
                   const struct ps__json_value *b);

/* Appends the compact serialisation of v. With sort_keys, object members are
 * written in byte-wise key order at every level. */
void ps__json_write(struct ps__buf *out, const struct ps__json_value *v,
                    int sort_keys);

/* Appends s[0..len) as a quoted, escaped JSON string. */
void ps__json_write_string(struct ps__buf *out, const char *s, size_t len);

/* Appends a double in serde_json's shortest round-trip form ("100.0",
 * "1e+16", "5e-324", "-0.0"). Non-finite values are written as "null". */
void ps__json_write_double(struct ps__buf *out, double d);

#endif
