/*
 * mock_service.h: a scripted PowerSync service for tests, speaking real
 * HTTP/1.1 on 127.0.0.1 so that the SDK's libcurl transport is exercised.
 *
 * Every POST /sync/stream becomes a pending mock_stream that the test takes
 * with mock_service_next_stream() and answers line by line (chunked
 * transfer encoding; each send is one chunk, optionally gzip-compressed
 * with a flush per chunk, so the test controls chunk boundaries), ends
 * cleanly, drops abruptly, or answers with an error status. Until the test
 * answers, the client sees no response head.
 * GET /write-checkpoint2.json answers with a configurable status and body
 * (default 200 {"data":{"write_checkpoint":"10"}}). Other routes: 404.
 * Every request is logged (method, target, headers, body) for assertions.
 * Each connection is served by its own thread and closed after one
 * response ("Connection: close").
 */
#ifndef PS_TEST_MOCK_SERVICE_H
#define PS_TEST_MOCK_SERVICE_H

#include <stddef.h>

typedef struct mock_service mock_service;
typedef struct mock_stream mock_stream;

/* Listens on 127.0.0.1 on a free port. NULL on failure. */
mock_service *mock_service_start(void);
/* Closes the listener and every connection, joins every thread, frees
 * streams the test did not free. */
void mock_service_stop(mock_service *ms);
/* "http://127.0.0.1:<port>" (borrowed). */
const char *mock_service_url(const mock_service *ms);

/* The next sync stream request not yet taken, waiting up to timeout_ms
 * (negative: forever). NULL on timeout. The test owns it: free with
 * mock_stream_free (which drops the connection if still open). */
mock_stream *mock_service_next_stream(mock_service *ms, int timeout_ms);
/* Number of /sync/stream requests received so far. */
int mock_service_stream_count(mock_service *ms);

/* The request body (NUL-terminated) and a request header (case-insensitive
 * name; NULL when absent). Borrowed from the stream. */
const char *mock_stream_body(const mock_stream *s);
const char *mock_stream_header(const mock_stream *s, const char *name);

/* Answers with status, Content-Type and a whole body, then closes. */
int mock_stream_respond(mock_stream *s, int status, const char *content_type,
                        const char *body);
/* Sends the 200 head: Content-Type content_type, chunked, and when gzip is
 * non-zero Content-Encoding: gzip. */
int mock_stream_begin(mock_stream *s, const char *content_type, int gzip);
/* Sends data as one chunk (compressed and flushed when gzip). Returns 0, or
 * -1 once the client has gone. Blocks while the client does not read
 * (TCP backpressure). */
int mock_stream_send(mock_stream *s, const void *data, size_t n);
/* Sends json followed by "\n" as one chunk. */
int mock_stream_send_line(mock_stream *s, const char *json);
/* Ends the body cleanly (terminating chunk) and closes. */
int mock_stream_end(mock_stream *s);
/* Closes the connection without ending the body (a broken stream). */
void mock_stream_drop(mock_stream *s);
/* Waits until the client closed its side; 0 when it did, -1 on timeout. */
int mock_stream_wait_closed(mock_stream *s, int timeout_ms);
void mock_stream_free(mock_stream *s);

/* The answer to GET /write-checkpoint2.json from now on (copied). */
void mock_service_set_write_checkpoint(mock_service *ms, int status,
                                       const char *body);
/* Number of write checkpoint requests received so far. */
int mock_service_write_checkpoint_count(mock_service *ms);

/* The request log: every request received, in order. */
int mock_service_request_count(mock_service *ms);
/* Copies of request i's method, target (path with query), the value of
 * header name (NULL when absent) and body; caller frees each; NULL when i is
 * out of range. */
char *mock_service_request_method(mock_service *ms, int i);
char *mock_service_request_target(mock_service *ms, int i);
char *mock_service_request_header(mock_service *ms, int i, const char *name);
char *mock_service_request_body(mock_service *ms, int i);

#endif
