/*
 * stream.h: the sync stream of one connection (POST /sync/stream,
 * protocol.md 5.6-5.8 and 11.4), separate from the HTTP plumbing in
 * server.c so that the protocol logic reads on its own.
 *
 * A stream is pulled: libmicrohttpd's connection thread calls
 * psd_stream_read() for bytes, and the stream generates only as many lines
 * as fit (a checkpoint, then one data page at a time), so memory stays
 * bounded by a page whatever the size of the buckets. Between checkpoints
 * the reader blocks on the storage (a thread per connection makes that
 * fine) in short slices, so it notices the server stopping, the token
 * expiring and the client going away promptly.
 *
 * Thread-safety: a stream is used by one connection thread at a time.
 */
#ifndef PSD_STREAM_H
#define PSD_STREAM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "jwt.h"
#include "storage.h"
#include "sync_config.h"

/* What a stream needs from its server (borrowed; outlives the stream). */
struct psd_stream_env {
  struct psd_storage *storage;
  const struct psd_sync_config *cfg;
  const atomic_int *stopping; /* Non-zero: end the stream. */
  int keepalive_s;            /* token_expires_in interval. */
  int ops_per_line;           /* Ops per data line. */
  /* Diagnostics (storage or config failures); may be NULL. */
  void (*log)(void *user_data, const char *line);
  void *log_user_data;
};

struct psd_stream;

/* Output encoding of a stream. */
struct psd_stream_format {
  int bson; /* BSON documents instead of NDJSON lines. */
  int gzip; /* gzip, flushed after each batch of lines. */
};

/* Parses the request body (protocol.md 5.1) for the verified claims.
 * Returns 0 with *out, or -1 with a message in err (400: the body is not a
 * valid request; "out of memory" otherwise). */
int psd_stream_create(const struct psd_stream_env *env,
                      const struct psd_jwt_claims *claims, const char *body,
                      size_t len, struct psd_stream_format format,
                      struct psd_stream **out, char *err, size_t errlen);

/* The client's socket, polled while the stream waits so that a client that
 * went away ends it (-1: unknown). */
void psd_stream_set_socket(struct psd_stream *st, int fd);

/* libmicrohttpd's content reader (MHD_ContentReaderCallback): copies up to
 * max bytes of the stream into buf, blocking until there are some. Returns
 * the count, MHD_CONTENT_READER_END_OF_STREAM after the last line (token
 * expired, server stopping), or MHD_CONTENT_READER_END_WITH_ERROR. */
ssize_t psd_stream_read(void *cls, uint64_t pos, char *buf, size_t max);

/* libmicrohttpd's free callback (MHD_ContentReaderFreeCallback). Accepts
 * NULL. */
void psd_stream_free(void *cls);

#endif
