/*
 * sync_line.h: decodes one sync line from the PowerSync service, JSON text
 * (powersync_control('line_text', ...)) or BSON binary ('line_binary'), into
 * typed structs. Sans-I/O: no SQLite, no allocation outside the caller's arena
 * except short-lived scratch buffers.
 *
 * ACCEPTED FORMAT (core-sync.md 10)
 *
 * A line is an object whose first key names the type and whose value is the
 * payload: checkpoint, checkpoint_diff, checkpoint_complete,
 * partial_checkpoint_complete, data, token_expires_in, or any other name (an
 * unknown line, whose payload must be well-formed but is ignored). The
 * decoders accept exactly what the official core 0.5.3 (serde_json and its own
 * BSON reader with serde) accepts and reject everything else with the same
 * message, including these serde behaviours:
 *  - JSON: the line must be one object with exactly one key; whitespace
 *    around it is allowed. BSON: only the first element of the document is
 *    read; later elements and bytes after the document are ignored.
 *  - Payload objects: unknown keys are ignored (their values must still be
 *    well-formed), duplicate known keys and missing required keys are errors.
 *    A payload may also be an array of the field values in declaration order
 *    (serde's sequence form of a struct).
 *  - Scalars follow core-sync.md 10.2: op ids are strings holding a decimal
 *    i64 ("+" allowed); checksums are integers in [-2^31, 2^32-1] or integral
 *    floats, negative values bit-cast to u32; priorities fit i32, are not
 *    negative and not 2147483647; counts are i64; token_expires_in is i32.
 *  - JSON strings are not checked for valid UTF-8 (the official core passes
 *    the text through unchecked); BSON strings are.
 *
 * LIMITS
 *
 * A line longer than PS_SYNC_LINE_MAX_BYTES is rejected. BSON nesting is
 * limited by PS_BSON_MAX_DEPTH. JSON values in ignored positions are skipped
 * iteratively without a depth limit, as serde_json does, using one bit of
 * scratch memory per nesting level. Memory for the result comes from the
 * caller's arena, whose maximum bounds it.
 *
 * RESULT AND LIFETIME
 *
 * Strings are slices: of the input where possible (always for BSON; for JSON
 * when the string has no escape sequence), otherwise decoded into the arena.
 * They are not NUL-terminated and may contain NUL bytes. The result is valid
 * while both the input and the arena are.
 *
 * ERRORS
 *
 * On a malformed line the decoders return PS_SYNC_LINE_INVALID and write the
 * cause, worded as the official core words it, into err: for JSON a
 * serde_json message such as "expected value at line 1 column 1", for BSON
 * "bson error, at <offset>: <kind>" or "bson error at unknown offset: custom
 * <message>". The SQL layer builds the full message "Sync protocol error:
 * invalid text line. cause: <cause>" (PS_SYNC_LINE_TEXT_DESC /
 * PS_SYNC_LINE_BINARY_DESC are the descriptions). Causes longer than the
 * buffer are truncated; PS_SYNC_LINE_ERROR_MAX is enough for all but causes
 * that quote a long string value.
 *
 * Thread-safety: reentrant; no global state.
 */
#ifndef PS_CORE_SYNC_LINE_H
#define PS_CORE_SYNC_LINE_H

#include <stddef.h>
#include <stdint.h>

#include "../util/arena.h"

/* A sync line arrives as one SQLite value, which cannot be longer than 2^31-1
 * bytes (SQLITE_MAX_LENGTH's hard limit); BSON lengths are int32 as well. */
#define PS_SYNC_LINE_MAX_BYTES ((size_t)INT32_MAX)

/* Recommended size of the error buffer. */
#define PS_SYNC_LINE_ERROR_MAX 512

/* The <desc> part of "Sync protocol error: <desc>. cause: <cause>". */
#define PS_SYNC_LINE_TEXT_DESC   "invalid text line"
#define PS_SYNC_LINE_BINARY_DESC "invalid binary line"

/* Return codes of the decoders. */
#define PS_SYNC_LINE_OK      0
#define PS_SYNC_LINE_INVALID (-1) /* Malformed line; err holds the cause. */
#define PS_SYNC_LINE_NOMEM   (-2) /* Arena full or malloc failed. */

/* Lower number = higher priority (core-sync.md 0). */
#define PS_SYNC_DEFAULT_PRIORITY 3

enum ps__sync_line_type {
  PS_SYNC_LINE_CHECKPOINT,
  PS_SYNC_LINE_CHECKPOINT_DIFF,
  PS_SYNC_LINE_CHECKPOINT_COMPLETE,
  PS_SYNC_LINE_PARTIAL_CHECKPOINT_COMPLETE,
  PS_SYNC_LINE_DATA,
  PS_SYNC_LINE_TOKEN_EXPIRES_IN,
  PS_SYNC_LINE_UNKNOWN
};

/* A string slice; ptr == NULL means absent or null. */
struct ps__sync_str {
  const char *ptr;
  size_t len;
};

/* Why a bucket is in a checkpoint: {"default": i} names streams[i] of the
 * checkpoint, {"sub": i} the i-th explicit subscription of the request. */
enum ps__sync_subscription_kind {
  PS_SYNC_SUBSCRIPTION_DEFAULT,
  PS_SYNC_SUBSCRIPTION_EXPLICIT
};

struct ps__sync_bucket_subscription {
  enum ps__sync_subscription_kind kind;
  uint64_t index; /* Not range-checked: compare with the list it indexes. */
};

struct ps__sync_bucket_checksum {
  struct ps__sync_str bucket;
  uint32_t checksum;
  int32_t priority; /* PS_SYNC_DEFAULT_PRIORITY when absent or null. */
  int has_count;
  int64_t count;
  struct ps__sync_bucket_subscription *subscriptions; /* Absent = 0 items. */
  size_t subscription_count;
};

/* streams[].errors[]: the subscription is "default" (any string) or the index
 * of an explicit subscription of the request. */
struct ps__sync_stream_error {
  int is_default;
  uint64_t index; /* When !is_default. */
  struct ps__sync_str message;
};

struct ps__sync_stream {
  struct ps__sync_str name;
  int is_default;
  struct ps__sync_stream_error *errors;
  size_t error_count;
};

/* Buckets are in line order; if a name repeats, the later entry wins (the
 * consumer applies that rule when building its bucket map). */
struct ps__sync_checkpoint {
  int64_t last_op_id;
  int has_write_checkpoint;
  int64_t write_checkpoint;
  struct ps__sync_bucket_checksum *buckets;
  size_t bucket_count;
  struct ps__sync_stream *streams; /* Absent = 0 items. */
  size_t stream_count;
};

struct ps__sync_checkpoint_diff {
  int64_t last_op_id;
  int has_write_checkpoint;
  int64_t write_checkpoint;
  struct ps__sync_bucket_checksum *updated_buckets;
  size_t updated_count;
  struct ps__sync_str *removed_buckets;
  size_t removed_count;
};

enum ps__sync_op {
  PS_SYNC_OP_CLEAR,
  PS_SYNC_OP_MOVE,
  PS_SYNC_OP_PUT,
  PS_SYNC_OP_REMOVE
};

struct ps__sync_oplog_entry {
  int64_t op_id;
  enum ps__sync_op op;
  uint32_t checksum;
  struct ps__sync_str object_type; /* Each may be absent/null (ptr NULL). */
  struct ps__sync_str object_id;
  struct ps__sync_str subkey;
  struct ps__sync_str data; /* Row data: JSON object text. */
};

struct ps__sync_data {
  struct ps__sync_str bucket;
  struct ps__sync_oplog_entry *entries;
  size_t entry_count;
};

struct ps__sync_line {
  enum ps__sync_line_type type;
  /* The line's key, e.g. "checkpoint"; for an unknown line the only data. */
  struct ps__sync_str type_name;
  union {
    struct ps__sync_checkpoint checkpoint; /* CHECKPOINT */
    struct ps__sync_checkpoint_diff diff;  /* CHECKPOINT_DIFF */
    int32_t partial_priority;              /* PARTIAL_CHECKPOINT_COMPLETE */
    struct ps__sync_data data;             /* DATA */
    int32_t token_expires_in;              /* TOKEN_EXPIRES_IN (seconds) */
  } as;
};

/* Decodes the JSON text[0..len). On success returns PS_SYNC_LINE_OK and sets
 * *out (allocated in arena). Otherwise returns PS_SYNC_LINE_INVALID or
 * PS_SYNC_LINE_NOMEM with the cause in err (always NUL-terminated when
 * errlen > 0) and *out = NULL. */
int ps__sync_line_decode_text(struct ps__arena *arena, const char *text,
                              size_t len, struct ps__sync_line **out, char *err,
                              size_t errlen);

/* Decodes the BSON document at data[0..len); as ps__sync_line_decode_text. */
int ps__sync_line_decode_binary(struct ps__arena *arena, const void *data,
                                size_t len, struct ps__sync_line **out,
                                char *err, size_t errlen);

/* The op name as the protocol spells it ("PUT", ...). */
const char *ps__sync_op_name(enum ps__sync_op op);

#endif
