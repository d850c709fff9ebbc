/*
 * serde.h: reading a JSON argument the way the official core's serde derived
 * deserializers read it through serde_json, with the same error texts and
 * positions ("missing field `tables` at line 1 column 2").
 *
 * The document is parsed with ps__json_parse_ex() into a tree that keeps
 * duplicate keys and, on a syntax error, the part read before it. Callers walk
 * the tree in document order and report the first error they meet, which is
 * the error serde meets first while streaming through the text: errors that
 * serde raises only when a map or sequence is closed (missing fields, fields
 * of #[serde(flatten)] structs) are checked after the members. A container cut
 * short by the syntax error turns into that syntax error when the walk reaches
 * its end.
 *
 * Positions follow serde_json: an error about a scalar is reported after the
 * scalar, one about a map or sequence at its opening bracket (serde_json only
 * peeks at it), and errors raised by serde itself (missing field, duplicate
 * field, invalid length) where serde_json's reader stood when the enclosing
 * map or sequence gave up, which the helpers below compute from the offsets.
 *
 * Thread-safety: a struct ps__serde belongs to one thread at a time.
 */
#ifndef PS_CORE_SERDE_H
#define PS_CORE_SERDE_H

#include <stddef.h>

#include "../util/arena.h"
#include "../util/buf.h"
#include "json.h"

/* Longest message kept for the syntax error. */
#define PS_SERDE_MESSAGE_MAX 256

/* "No position": an error that no serde_json call positions. */
#define PS_SERDE_NO_POSITION ((size_t)-1)

struct ps__serde {
  const char *text;
  size_t len;
  /* The document, or the part read before a syntax error (may be NULL). */
  const struct ps__json_value *root;
  int syntax;                            /* A syntax error was found. */
  char syntax_msg[PS_SERDE_MESSAGE_MAX]; /* Its message, with position. */
  char *err;                             /* Where errors are written. */
  size_t errlen;
};

/* A derived struct: its fields in declaration order (at most 32). */
struct ps__serde_struct {
  const char *name; /* "Column" for "struct Column" */
  const char *const *fields;
  size_t field_count;
  /* Bit i: an absent field i is a "missing field" error in the map form
   * (fields that are neither Option nor #[serde(default)]). */
  unsigned required;
  /* Bit i: field i has #[serde(default)], so the sequence form may end
   * before it. Option fields without it may not. */
  unsigned defaults;
  /* The struct has #[serde(flatten)] fields: serde reads it as a map only
   * and the caller reads the members that are not fields (see
   * ps__serde_is_field()) after ps__serde_struct() returned. */
  int flatten;
};

/* Called for each field present, in document order; v is its value. */
typedef int (*ps__serde_field_fn)(struct ps__serde *d, void *ctx, size_t field,
                                  const struct ps__json_value *v);

/* Parses text[0..len) into arena. Returns 0, also on a syntax error (which
 * the walk reports where serde would), or -1 when out of memory, with
 * "out of memory" in err. */
int ps__serde_parse(struct ps__serde *d, struct ps__arena *arena,
                    const char *text, size_t len, char *err, size_t errlen);

/* Call after the walk found no error: reports a pending syntax error (such as
 * trailing characters) and returns -1, else returns 0. */
int ps__serde_finish(struct ps__serde *d);

/* Writes "<message> at line L column C" (without the position for
 * PS_SERDE_NO_POSITION) to the error buffer. Return -1. */
int ps__serde_fail_at(struct ps__serde *d, size_t at, const char *fmt, ...)
    PS_PRINTF(3, 4);

/* Reports the syntax error. Returns -1. */
int ps__serde_syntax_error(struct ps__serde *d);

/* The offset of the first non-blank byte at or after at. */
size_t ps__serde_skip_ws(const struct ps__serde *d, size_t at);

/* serde_json's description of a value in "invalid type" errors: null,
 * boolean `true`, integer `5`, floating point `1.5`, string "x" (Rust's
 * Debug form), sequence, map. */
void ps__serde_unexpected(struct ps__buf *out, const struct ps__json_value *v);

/* "invalid type: <unexpected>, expected <expected>" where serde_json reports
 * it for a value read directly from the text: after a scalar, at the opening
 * bracket of a container. Returns -1. */
int ps__serde_invalid_type(struct ps__serde *d, const struct ps__json_value *v,
                           const char *expected);

/* The same at a given position (errors of buffered values, which serde
 * raises after their map was closed). Returns -1. */
int ps__serde_invalid_type_at(struct ps__serde *d,
                              const struct ps__json_value *v,
                              const char *expected, size_t at);

/* "invalid value: ..." like ps__serde_invalid_type(). Returns -1. */
int ps__serde_invalid_value(struct ps__serde *d, const struct ps__json_value *v,
                            const char *expected);

/* A derived struct (serde's deserialize_struct, or deserialize_map when
 * s->flatten): a map, or a sequence of the field values in declaration order.
 * Calls fn for the fields present; reports wrong types, duplicate fields,
 * missing fields, wrong lengths and the syntax error of a cut-short value.
 * Returns 0 or -1. */
int ps__serde_struct(struct ps__serde *d, const struct ps__json_value *v,
                     const struct ps__serde_struct *s, ps__serde_field_fn fn,
                     void *ctx);

/* Whether key names a field of s (not a flattened member). */
int ps__serde_is_field(const struct ps__serde_struct *s, const char *key,
                       size_t key_len);

/* The start of a sequence (Vec<T>): v must be an array, else "invalid type:
 * ..., expected <expected>". Returns 0 or -1. */
int ps__serde_seq(struct ps__serde *d, const struct ps__json_value *v,
                  const char *expected);

/* The end of a sequence whose items were all read: the syntax error if it
 * was cut short. Returns 0 or -1. */
int ps__serde_seq_end(struct ps__serde *d, const struct ps__json_value *v);

/* Where an error without a position that item i of the sequence arr raised is
 * reported: serde_json positions it after closing the sequence, which skips
 * blanks and consumes a following ']' or ',' (and the blanks after a ','). */
size_t ps__serde_seq_error_at(const struct ps__serde *d,
                              const struct ps__json_value *arr, size_t i);

/* A string; anything else is "invalid type: ..., expected a string". */
int ps__serde_string(struct ps__serde *d, const struct ps__json_value *v,
                     const char **out, size_t *len);

/* An enum (serde_json's deserialize_enum): a string naming a variant, or a
 * map with one member whose key names the variant and whose value is the
 * content. On success *variant is the index in variants[0..n) and *content
 * the content (NULL for the string form). Reports unknown variants and
 * values of other kinds. After the content was read, call
 * ps__serde_enum_end(). */
int ps__serde_enum(struct ps__serde *d, const struct ps__json_value *v,
                   const char *const *variants, size_t n, size_t *variant,
                   const struct ps__json_value **content);

/* The content of a unit variant written as a map must be null. */
int ps__serde_unit_content(struct ps__serde *d,
                           const struct ps__json_value *content);

/* After the content of a map-form enum: nothing but '}' may follow. */
int ps__serde_enum_end(struct ps__serde *d, const struct ps__json_value *v,
                       const struct ps__json_value *content);

#endif
