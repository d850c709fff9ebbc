/*
 * line_framer.h: splits the body of POST /sync/stream into sync lines.
 * Sans-I/O: the HTTP layer feeds bytes as they arrive, in chunks of any size,
 * and takes complete frames out; no SQLite, no I/O, libc only. The shape is
 * hiredis' redisReaderFeed / redisReaderGetReply.
 *
 * ACCEPTED FORMAT (protocol.md 5.3)
 *
 *  - NDJSON (Content-Type application/x-ndjson): lines terminated by "\n".
 *    A "\r" directly before the "\n" is dropped too, so "\r\n" works. A frame
 *    is the line without its terminator. Empty lines (nothing, or a lone "\r",
 *    before the "\n") are skipped: the service never sends them, but a proxy
 *    or a hand-written dev server might, and an empty frame would only make
 *    the core fail with a JSON error. After ps__framer_finish() the trailing
 *    unterminated text, if any, is the final frame (end of stream acts as a
 *    terminator, so its trailing "\r" is dropped as well). The bytes are not
 *    checked for UTF-8 or JSON: the core does that.
 *  - BSON (application/vnd.powersync.bson-stream): concatenated documents,
 *    each starting with its total length as a little-endian int32 that
 *    includes the 4 length bytes. A frame is the whole document, length
 *    included. Only the length is checked (>= 5, <= the maximum); the core
 *    decodes the document. End of stream inside a document is an error; on a
 *    document boundary it is the normal end.
 *
 * LIMITS AND MEMORY
 *
 * A frame longer than max_frame bytes (PS_FRAMER_DEFAULT_MAX_FRAME unless
 * given) is an error, reported as soon as the buffered bytes prove it (a BSON
 * header declaring too much, or an NDJSON line that has grown past the
 * maximum without a newline), so a hostile stream cannot make us buffer more.
 * Consumed bytes are dropped when the next chunk is fed, so the buffer never
 * holds more than one maximal frame (plus a "\r") and one fed chunk. feed()
 * refuses with PS_FRAMER_EFULL while more than that is still undrained.
 * ps__framer_buffered() lets the HTTP layer pause reading (backpressure).
 *
 * RESULT AND LIFETIME
 *
 * A frame points into the framer's buffer. It stays valid until the next
 * call to ps__framer_feed(), ps__framer_reset() or ps__framer_free(), so all
 * frames taken from one chunk can be used together.
 *
 * ERRORS
 *
 * PS_FRAMER_ETOOBIG, PS_FRAMER_EBADLEN, PS_FRAMER_ETRUNCATED and
 * PS_FRAMER_ENOMEM are sticky: every later feed() and next() returns the same
 * code, and ps__framer_errmsg() says why. Frames returned before the error
 * stay valid as above. ps__framer_reset() makes the framer usable again (for
 * the next connection). PS_FRAMER_EFULL and PS_FRAMER_EMISUSE are not sticky:
 * nothing was changed and the call can be retried correctly.
 *
 * Thread-safety: a framer is used by one thread at a time; no global state.
 */
#ifndef PS_CORE_LINE_FRAMER_H
#define PS_CORE_LINE_FRAMER_H

#include <stddef.h>
#include <stdint.h>

/* Default largest frame: 64 MiB. The service batches ops into data lines of
 * about a megabyte but never splits an op, and PowerSync Cloud allows rows of
 * up to 15 MB (docs.powersync.com/resources/performance-and-limits). In NDJSON
 * a row travels as a JSON string inside the JSON line (raw_data), so quotes
 * and backslashes are escaped and a 15 MB row can take 30 MB or more on the
 * wire. 64 MiB leaves room for that plus the rest of the batch, yet still
 * stops a broken or hostile stream long before memory runs out. It costs
 * nothing up front: the buffer grows only as far as the frames need. */
#define PS_FRAMER_DEFAULT_MAX_FRAME ((size_t)64 << 20)

/* A BSON document is at least its length (4 bytes) and the terminating 0. */
#define PS_FRAMER_BSON_MIN_LEN 5

/* BSON lengths are int32, so no larger maximum is meaningful there. */
#define PS_FRAMER_BSON_MAX_LEN ((size_t)INT32_MAX)

enum ps__framer_mode {
  PS_FRAMER_NDJSON = 1,
  PS_FRAMER_BSON = 2,
};

/* Results of ps__framer_next(). */
#define PS_FRAMER_NEED_MORE 0 /* No complete frame yet: feed more. */
#define PS_FRAMER_FRAME     1 /* *frame / *frame_len set. */
#define PS_FRAMER_END       2 /* Finished and every frame was returned. */

/* Errors (negative). The first four are sticky. */
#define PS_FRAMER_ENOMEM     (-1) /* Could not grow the buffer. */
#define PS_FRAMER_ETOOBIG    (-2) /* Frame longer than max_frame. */
#define PS_FRAMER_EBADLEN    (-3) /* BSON length below 5 (or negative). */
#define PS_FRAMER_ETRUNCATED (-4) /* End of stream inside a BSON document. */
#define PS_FRAMER_EFULL      (-5) /* feed(): drain with next() first. */
#define PS_FRAMER_EMISUSE    (-6) /* feed() after finish(). */

/* Room for every message ps__framer_errmsg() produces. */
#define PS_FRAMER_ERRMSG_MAX 128

/* Members are private: use the functions below. The struct is public only so
 * that callers can embed it without an allocation. */
struct ps__framer {
  unsigned char *buf; /* Allocation, or NULL while nothing was fed. */
  size_t cap;         /* Bytes allocated. */
  size_t start;       /* First byte not yet returned or skipped. */
  size_t end;         /* Bytes of buf in use. */
  size_t scan; /* NDJSON: bytes after start known to hold no "\n", so that
                  feeding one byte at a time stays linear. */
  size_t max_frame;
  uint64_t offset; /* Stream offset of buf[start], for error messages. */
  enum ps__framer_mode mode;
  int finished; /* ps__framer_finish() was called. */
  int err;      /* 0, or the sticky error. */
  char errmsg[PS_FRAMER_ERRMSG_MAX];
};

/* Prepares an empty framer; allocates nothing. max_frame 0 means
 * PS_FRAMER_DEFAULT_MAX_FRAME; in BSON mode it is capped at
 * PS_FRAMER_BSON_MAX_LEN. */
void ps__framer_init(struct ps__framer *f, enum ps__framer_mode mode,
                     size_t max_frame);
/* Releases the buffer. The framer may be initialised again afterwards. */
void ps__framer_free(struct ps__framer *f);
/* Back to the state after init (same mode and maximum), for a new
 * connection; releases the buffer and forgets any error. */
void ps__framer_reset(struct ps__framer *f);

/* Appends len bytes (copied). Returns 0, the sticky error,
 * PS_FRAMER_ENOMEM, PS_FRAMER_EFULL (more than a maximal frame is still
 * undrained; nothing appended) or PS_FRAMER_EMISUSE (after finish). */
int ps__framer_feed(struct ps__framer *f, const void *data, size_t len);

/* Marks the end of the stream: next() then returns the final NDJSON line,
 * PS_FRAMER_ETRUNCATED for a partial BSON document, or PS_FRAMER_END. */
void ps__framer_finish(struct ps__framer *f);

/* Takes the next complete frame. Returns PS_FRAMER_FRAME with *frame and
 * *frame_len set, PS_FRAMER_NEED_MORE, PS_FRAMER_END, or a sticky error. */
int ps__framer_next(struct ps__framer *f, const unsigned char **frame,
                    size_t *frame_len);

/* Bytes fed but not yet returned as frames (nor skipped). The HTTP layer
 * pauses reading while this is above its threshold. */
size_t ps__framer_buffered(const struct ps__framer *f);

/* Why the framer failed ("" when it has not). Borrowed from the framer. */
const char *ps__framer_errmsg(const struct ps__framer *f);

#endif
