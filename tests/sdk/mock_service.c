/*
 * mock_service.c: the scripted PowerSync service of mock_service.h, a small
 * HTTP/1.1 server on 127.0.0.1 built on POSIX sockets, pthreads and zlib.
 *
 * Threads:
 * - One accept thread polls the listening socket and a wake pipe (written by
 *   mock_service_stop) and starts one connection thread per client.
 * - A connection thread reads one request (Content-Length or chunked body,
 *   answering "Expect: 100-continue"), logs it, and either answers it itself
 *   (write checkpoint, 404) or, for POST /sync/stream, hands its socket to a
 *   new mock_stream and ends. From then on only the test touches that
 *   socket, through the mock_stream functions, from its own thread(s).
 *
 * Ownership: a mock_stream is reference counted. The service holds one
 * reference until mock_service_stop; the test holds one from
 * mock_service_next_stream until mock_stream_free. So the test may free its
 * streams before or after mock_service_stop, and a stream function running
 * on another thread while stop runs returns an error (stop shuts the socket
 * down) on a stream that is still valid. No other mock_service_* call on ms
 * may run during or after stop, except mock_service_next_stream, which stop
 * wakes and waits for.
 *
 * Locks: ms->mu guards the service's lists, log and settings. A stream's
 * io_mu serialises the test's use of its socket and is held across blocking
 * sends; its state_mu guards fd and refs and is only held briefly, so stop
 * can shut a socket down while a send blocks under io_mu. A stream's fd only
 * changes with both held, so holding either gives a stable value. Lock
 * order: ms->mu before state_mu; io_mu before state_mu.
 *
 * Sockets are never closed while another thread may use their number: stop
 * only calls shutdown(), which makes blocked send()/recv() return, and each
 * close happens under the lock that stop holds while shutting down.
 */
#define ZLIB_CONST

#include "mock_service.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* Far above anything a sync client sends; only stops a runaway request. */
#define MAX_HEAD_BYTES (64 * 1024)
#define MAX_BODY_BYTES (64 * 1024 * 1024)

#define DEFAULT_NDJSON_TYPE     "application/x-ndjson"
#define DEFAULT_JSON_TYPE       "application/json"
#define DEFAULT_CHECKPOINT_BODY "{\"data\":{\"write_checkpoint\":\"10\"}}"
#define NOT_FOUND_BODY                                                         \
  "{\"error\":{\"code\":\"PSYNC_S2001\",\"status\":404,"                       \
  "\"description\":\"Route not found\"}}"

/* ---- Growable byte buffer ----------------------------------------------- */

struct dbuf {
  char *p;
  size_t len;
  size_t cap;
};

/* Makes room for at least extra more bytes (plus a NUL). */
static int dbuf_reserve(struct dbuf *b, size_t extra) {
  size_t need = b->len + extra + 1;
  size_t cap = b->cap ? b->cap : 256;
  char *p;
  if (need <= b->cap)
    return 0;
  while (cap < need)
    cap *= 2;
  p = realloc(b->p, cap);
  if (!p)
    return -1;
  b->p = p;
  b->cap = cap;
  return 0;
}

static int dbuf_append(struct dbuf *b, const void *data, size_t n) {
  if (dbuf_reserve(b, n) != 0)
    return -1;
  if (n > 0)
    memcpy(b->p + b->len, data, n);
  b->len += n;
  b->p[b->len] = '\0';
  return 0;
}

static int dbuf_printf(struct dbuf *b, const char *fmt, ...) {
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || dbuf_reserve(b, (size_t)n) != 0)
    return -1;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

static char *dup_bytes(const char *p, size_t n) {
  char *d = malloc(n + 1);
  if (!d)
    return NULL;
  memcpy(d, p, n);
  d[n] = '\0';
  return d;
}

/* ---- Time --------------------------------------------------------------- */

static int64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline_ms for poll(); -1 (forever) when the
 * caller asked for no timeout. */
static int remaining_ms(int timeout_ms, int64_t deadline_ms) {
  int64_t left;
  if (timeout_ms < 0)
    return -1;
  left = deadline_ms - monotonic_ms();
  if (left < 0)
    return 0;
  return left > INT_MAX ? INT_MAX : (int)left;
}

/* ---- Requests ----------------------------------------------------------- */

struct header {
  char *name;
  char *value;
};

struct request {
  char *method;
  char *target; /* Path with query. */
  struct header *headers;
  size_t n_headers;
  char *body; /* NUL-terminated (never NULL once read). */
  size_t body_len;
};

static void request_free(struct request *r) {
  size_t i;
  for (i = 0; i < r->n_headers; i++) {
    free(r->headers[i].name);
    free(r->headers[i].value);
  }
  free(r->headers);
  free(r->method);
  free(r->target);
  free(r->body);
  memset(r, 0, sizeof *r);
}

/* The first header called name, compared case-insensitively as HTTP
 * requires; NULL when absent. */
static const char *request_header(const struct request *r, const char *name) {
  size_t i;
  for (i = 0; i < r->n_headers; i++) {
    if (strcasecmp(r->headers[i].name, name) == 0)
      return r->headers[i].value;
  }
  return NULL;
}

/* The target's path, without the query, compared with path. */
static int request_path_is(const struct request *r, const char *path) {
  size_t n = strcspn(r->target, "?");
  return strlen(path) == n && strncmp(r->target, path, n) == 0;
}

/* A deep copy for the log, so that the stream may own the original. */
static int request_copy(struct request *dst, const struct request *src) {
  size_t i;
  memset(dst, 0, sizeof *dst);
  dst->method = strdup(src->method);
  dst->target = strdup(src->target);
  dst->body = dup_bytes(src->body, src->body_len);
  dst->body_len = src->body_len;
  dst->headers = calloc(src->n_headers + 1, sizeof *dst->headers);
  if (!dst->method || !dst->target || !dst->body || !dst->headers)
    goto fail;
  for (i = 0; i < src->n_headers; i++) {
    dst->headers[i].name = strdup(src->headers[i].name);
    dst->headers[i].value = strdup(src->headers[i].value);
    dst->n_headers++;
    if (!dst->headers[i].name || !dst->headers[i].value)
      goto fail;
  }
  return 0;
fail:
  request_free(dst);
  return -1;
}

/* ---- Socket I/O --------------------------------------------------------- */

/* Sends all of buf. MSG_NOSIGNAL turns a gone peer into EPIPE instead of a
 * process-wide SIGPIPE, so the test process keeps its signal setup. */
static int send_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Whether the peer has closed (or reset) its side, without blocking and
 * without consuming anything it sent. */
static int peer_closed(int fd) {
  struct pollfd p;
  char c;
  ssize_t r;
  p.fd = fd;
  p.events = POLLIN;
  p.revents = 0;
  if (poll(&p, 1, 0) <= 0)
    return 0;
  if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
    return 1;
  r = recv(fd, &c, 1, MSG_PEEK);
  return r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN);
}

/* Buffered reading of one request from a connection. */
struct reader {
  int fd;
  struct dbuf buf;
  size_t pos; /* First byte not consumed yet. */
};

/* Reads more bytes into the buffer: > 0 read, 0 end of stream, -1 error. */
static ssize_t reader_fill(struct reader *r) {
  ssize_t n;
  if (dbuf_reserve(&r->buf, 16384) != 0)
    return -1;
  do {
    n = recv(r->fd, r->buf.p + r->buf.len, r->buf.cap - r->buf.len - 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    r->buf.len += (size_t)n;
    r->buf.p[r->buf.len] = '\0';
  }
  return n;
}

/* Waits until at least n unconsumed bytes are buffered. */
static int reader_want(struct reader *r, size_t n) {
  while (r->buf.len - r->pos < n) {
    if (reader_fill(r) <= 0)
      return -1;
  }
  return 0;
}

/* The next CRLF-terminated line (CRLF replaced by NUL), or NULL. */
static char *reader_line(struct reader *r, size_t max) {
  for (;;) {
    char *start = r->buf.p ? r->buf.p + r->pos : NULL;
    char *crlf = start ? strstr(start, "\r\n") : NULL;
    if (crlf) {
      *crlf = '\0';
      r->pos = (size_t)(crlf - r->buf.p) + 2;
      return start;
    }
    if (r->buf.len - r->pos > max || reader_fill(r) <= 0)
      return NULL;
  }
}

/* ---- Request parsing ---------------------------------------------------- */

static char *trim(char *s) {
  char *end;
  while (*s == ' ' || *s == '\t')
    s++;
  end = s + strlen(s);
  while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
    *--end = '\0';
  return s;
}

/* "METHOD SP target SP HTTP/1.x". */
static int parse_request_line(char *line, struct request *req) {
  char *sp1 = strchr(line, ' ');
  char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
  if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1 ||
      strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
    return -1;
  req->method = dup_bytes(line, (size_t)(sp1 - line));
  req->target = dup_bytes(sp1 + 1, (size_t)(sp2 - sp1 - 1));
  return req->method && req->target ? 0 : -1;
}

static int add_header(struct request *req, char *line) {
  char *colon = strchr(line, ':');
  struct header *h;
  if (!colon || colon == line)
    return -1;
  *colon = '\0';
  h = realloc(req->headers, (req->n_headers + 1) * sizeof *h);
  if (!h)
    return -1;
  req->headers = h;
  h = &req->headers[req->n_headers];
  h->name = strdup(trim(line));
  h->value = strdup(trim(colon + 1));
  req->n_headers++;
  return h->name && h->value ? 0 : -1;
}

/* The request line and headers up to the empty line. */
static int read_head(struct reader *r, struct request *req) {
  char *line = reader_line(r, MAX_HEAD_BYTES);
  if (!line || parse_request_line(line, req) != 0)
    return -1;
  for (;;) {
    line = reader_line(r, MAX_HEAD_BYTES);
    if (!line || r->pos > MAX_HEAD_BYTES)
      return -1;
    if (*line == '\0')
      return 0;
    if (add_header(req, line) != 0)
      return -1;
  }
}

static int read_exact(struct reader *r, size_t n, struct dbuf *out) {
  if (reader_want(r, n) != 0 || dbuf_append(out, r->buf.p + r->pos, n) != 0)
    return -1;
  r->pos += n;
  return 0;
}

/* A chunked request body: hex size [;extensions] CRLF data CRLF, ..., then
 * a zero-size chunk and optional trailers up to an empty line. */
static int read_chunked_body(struct reader *r, struct dbuf *out) {
  for (;;) {
    char *line = reader_line(r, 1024);
    char *end;
    unsigned long size;
    if (!line)
      return -1;
    errno = 0;
    size = strtoul(line, &end, 16);
    if (end == line || errno != 0 || size > MAX_BODY_BYTES ||
        out->len + size > MAX_BODY_BYTES)
      return -1;
    if (size == 0)
      break;
    if (read_exact(r, size, out) != 0)
      return -1;
    line = reader_line(r, 1024);
    if (!line || *line != '\0')
      return -1;
  }
  for (;;) { /* Trailers, ignored. */
    char *line = reader_line(r, MAX_HEAD_BYTES);
    if (!line)
      return -1;
    if (*line == '\0')
      return 0;
  }
}

static int read_sized_body(struct reader *r, const char *length,
                           struct dbuf *out) {
  char *end;
  unsigned long long n;
  errno = 0;
  n = strtoull(length, &end, 10);
  if (end == length || *end != '\0' || errno != 0 || n > MAX_BODY_BYTES)
    return -1;
  return read_exact(r, (size_t)n, out);
}

/* Whether a header value lists token (e.g. "gzip, chunked"). */
static int has_token(const char *value, const char *token) {
  size_t n = strlen(token);
  while (*value) {
    size_t len;
    while (*value == ' ' || *value == '\t' || *value == ',')
      value++;
    len = strcspn(value, ", \t");
    if (len == n && strncasecmp(value, token, n) == 0)
      return 1;
    value += len;
  }
  return 0;
}

static int read_body(struct reader *r, struct request *req) {
  const char *te = request_header(req, "Transfer-Encoding");
  const char *cl = request_header(req, "Content-Length");
  struct dbuf body = {NULL, 0, 0};
  int rc = 0;
  if (te && has_token(te, "chunked"))
    rc = read_chunked_body(r, &body);
  else if (cl)
    rc = read_sized_body(r, cl, &body);
  if (rc == 0)
    rc = dbuf_append(&body, "", 0); /* A NUL-terminated body even if empty. */
  if (rc != 0) {
    free(body.p);
    return -1;
  }
  req->body = body.p;
  req->body_len = body.len;
  return 0;
}

/* Libcurl waits (up to a second by default) for the interim 100 before it
 * sends a body it announced with "Expect: 100-continue". */
static int answer_expect(int fd, const struct request *req) {
  static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
  const char *expect = request_header(req, "Expect");
  if (!expect || strcasecmp(expect, "100-continue") != 0)
    return 0;
  return send_all(fd, cont, sizeof cont - 1);
}

static int read_request(int fd, struct request *req) {
  struct reader r;
  int rc;
  memset(&r, 0, sizeof r);
  r.fd = fd;
  rc = read_head(&r, req);
  if (rc == 0)
    rc = answer_expect(fd, req);
  if (rc == 0)
    rc = read_body(&r, req);
  free(r.buf.p);
  return rc;
}

/* ---- Responses ---------------------------------------------------------- */

static const char *reason_phrase(int status) {
  switch (status) {
  case 200:
    return "OK";
  case 204:
    return "No Content";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 429:
    return "Too Many Requests";
  case 500:
    return "Internal Server Error";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  default:
    return "Status";
  }
}

/* A whole non-chunked response (head and body). */
static int format_response(struct dbuf *out, int status,
                           const char *content_type, const char *body) {
  size_t n = strlen(body);
  if (dbuf_printf(out,
                  "HTTP/1.1 %d %s\r\n"
                  "Content-Type: %s\r\n"
                  "Content-Length: %zu\r\n"
                  "Cache-Control: no-store\r\n"
                  "Connection: close\r\n"
                  "\r\n",
                  status, reason_phrase(status),
                  content_type ? content_type : DEFAULT_JSON_TYPE, n) != 0)
    return -1;
  return dbuf_append(out, body, n);
}

static int send_response(int fd, int status, const char *content_type,
                         const char *body) {
  struct dbuf out = {NULL, 0, 0};
  int rc = format_response(&out, status, content_type, body);
  if (rc == 0)
    rc = send_all(fd, out.p, out.len);
  free(out.p);
  return rc;
}

/* ---- Streams ------------------------------------------------------------ */

enum stream_state {
  STREAM_WAITING, /* No response head sent yet. */
  STREAM_CHUNKED, /* Head sent, body chunks may follow. */
  STREAM_DONE     /* Answered, ended or dropped: the socket is closed. */
};

struct mock_stream {
  pthread_mutex_t io_mu;    /* Held while using the socket. */
  pthread_mutex_t state_mu; /* Guards fd and refs (briefly held). */
  int fd;                   /* -1 once closed. */
  int refs;
  enum stream_state state; /* Under io_mu. */
  int gzip;                /* Under io_mu. */
  int z_ready;             /* deflateInit2 succeeded; under io_mu. */
  z_stream z;
  struct request req; /* Immutable once the stream is visible. */
};

/* A new stream owning fd and req's contents, with the service's reference. */
static mock_stream *stream_new(int fd, struct request *req) {
  mock_stream *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  pthread_mutex_init(&s->io_mu, NULL);
  pthread_mutex_init(&s->state_mu, NULL);
  s->fd = fd;
  s->refs = 1;
  s->state = STREAM_WAITING;
  s->req = *req;
  memset(req, 0, sizeof *req);
  return s;
}

static void stream_retain(mock_stream *s) {
  pthread_mutex_lock(&s->state_mu);
  s->refs++;
  pthread_mutex_unlock(&s->state_mu);
}

static void stream_destroy(mock_stream *s) {
  if (s->fd >= 0)
    close(s->fd);
  if (s->z_ready)
    deflateEnd(&s->z);
  request_free(&s->req);
  pthread_mutex_destroy(&s->state_mu);
  pthread_mutex_destroy(&s->io_mu);
  free(s);
}

static void stream_release(mock_stream *s) {
  int last;
  pthread_mutex_lock(&s->state_mu);
  last = --s->refs == 0;
  pthread_mutex_unlock(&s->state_mu);
  if (last)
    stream_destroy(s);
}

/* Closes the socket; io_mu held. An abrupt close shuts both directions
 * first, which also wakes any poll on the socket. */
static void stream_close_socket(mock_stream *s, int abrupt) {
  pthread_mutex_lock(&s->state_mu);
  if (s->fd >= 0) {
    if (abrupt)
      shutdown(s->fd, SHUT_RDWR);
    close(s->fd);
    s->fd = -1;
  }
  s->state = STREAM_DONE;
  pthread_mutex_unlock(&s->state_mu);
}

/* Used by mock_service_stop from its own thread, possibly while the test
 * blocks in a send on this socket: shutdown() makes that send fail. */
static void stream_shutdown_socket(mock_stream *s) {
  pthread_mutex_lock(&s->state_mu);
  if (s->fd >= 0)
    shutdown(s->fd, SHUT_RDWR);
  pthread_mutex_unlock(&s->state_mu);
}

const char *mock_stream_body(const mock_stream *s) { return s->req.body; }

const char *mock_stream_header(const mock_stream *s, const char *name) {
  return request_header(&s->req, name);
}

int mock_stream_respond(mock_stream *s, int status, const char *content_type,
                        const char *body) {
  int rc = -1;
  pthread_mutex_lock(&s->io_mu);
  if (s->state == STREAM_WAITING && s->fd >= 0) {
    rc = send_response(s->fd, status, content_type, body ? body : "");
    stream_close_socket(s, 0);
  }
  pthread_mutex_unlock(&s->io_mu);
  return rc;
}

/* Gzip with a gzip header and trailer (windowBits 15 + 16), so that the
 * client's Content-Encoding: gzip decoder accepts it. */
static int start_gzip(mock_stream *s) {
  memset(&s->z, 0, sizeof s->z);
  if (deflateInit2(&s->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK)
    return -1;
  s->z_ready = 1;
  s->gzip = 1;
  return 0;
}

int mock_stream_begin(mock_stream *s, const char *content_type, int gzip) {
  struct dbuf head = {NULL, 0, 0};
  int rc = -1;
  pthread_mutex_lock(&s->io_mu);
  if (s->state == STREAM_WAITING && s->fd >= 0 &&
      (!gzip || start_gzip(s) == 0) &&
      dbuf_printf(&head,
                  "HTTP/1.1 200 OK\r\n"
                  "Content-Type: %s\r\n"
                  "Transfer-Encoding: chunked\r\n"
                  "%s"
                  "Cache-Control: no-store\r\n"
                  "X-Accel-Buffering: no\r\n"
                  "Connection: close\r\n"
                  "\r\n",
                  content_type ? content_type : DEFAULT_NDJSON_TYPE,
                  gzip ? "Content-Encoding: gzip\r\n" : "") == 0) {
    s->state = STREAM_CHUNKED;
    rc = send_all(s->fd, head.p, head.len);
  }
  pthread_mutex_unlock(&s->io_mu);
  free(head.p);
  return rc;
}

/* Compresses data into out. Z_SYNC_FLUSH ends the output on a byte boundary
 * with everything so far decodable, so the client sees each chunk's lines
 * as soon as the chunk arrives; Z_FINISH writes the gzip trailer. */
static int gzip_into(z_stream *z, const void *data, size_t n, int flush,
                     struct dbuf *out) {
  int zrc;
  if (n > UINT_MAX)
    return -1;
  z->next_in = data;
  z->avail_in = (uInt)n;
  do {
    if (dbuf_reserve(out, 16384) != 0)
      return -1;
    z->next_out = (Bytef *)out->p + out->len;
    z->avail_out = (uInt)(out->cap - out->len - 1);
    zrc = deflate(z, flush);
    if (zrc == Z_STREAM_ERROR)
      return -1;
    out->len = out->cap - 1 - z->avail_out;
  } while (z->avail_out == 0);
  return flush == Z_FINISH && zrc != Z_STREAM_END ? -1 : 0;
}

/* One HTTP chunk: hex size CRLF data CRLF, in a single buffer. */
static int send_chunk(int fd, const void *data, size_t n) {
  struct dbuf out = {NULL, 0, 0};
  int rc = dbuf_printf(&out, "%zx\r\n", n);
  if (rc == 0)
    rc = dbuf_append(&out, data, n);
  if (rc == 0)
    rc = dbuf_append(&out, "\r\n", 2);
  if (rc == 0)
    rc = send_all(fd, out.p, out.len);
  free(out.p);
  return rc;
}

/* One chunk of body bytes, compressed when gzip; io_mu held. */
static int stream_send_body(mock_stream *s, const void *data, size_t n,
                            int flush) {
  struct dbuf z = {NULL, 0, 0};
  int rc;
  if (!s->gzip)
    return n > 0 ? send_chunk(s->fd, data, n) : 0;
  rc = gzip_into(&s->z, data, n, flush, &z);
  if (rc == 0 && z.len > 0)
    rc = send_chunk(s->fd, z.p, z.len);
  free(z.p);
  return rc;
}

int mock_stream_send(mock_stream *s, const void *data, size_t n) {
  int rc = -1;
  pthread_mutex_lock(&s->io_mu);
  /* The peer check makes a client that hung up fail the next send, instead
   * of the one after the client's RST came back. */
  if (s->state == STREAM_CHUNKED && s->fd >= 0 && !peer_closed(s->fd)) {
    /* Nothing to send for n == 0: an empty chunk would end the body. */
    rc = n > 0 ? stream_send_body(s, data, n, Z_SYNC_FLUSH) : 0;
  }
  pthread_mutex_unlock(&s->io_mu);
  return rc;
}

int mock_stream_send_line(mock_stream *s, const char *json) {
  size_t n = strlen(json);
  char *line = malloc(n + 1);
  int rc;
  if (!line)
    return -1;
  memcpy(line, json, n);
  line[n] = '\n';
  rc = mock_stream_send(s, line, n + 1);
  free(line);
  return rc;
}

int mock_stream_end(mock_stream *s) {
  static const char last_chunk[] = "0\r\n\r\n";
  int rc = -1;
  pthread_mutex_lock(&s->io_mu);
  if (s->state == STREAM_CHUNKED && s->fd >= 0) {
    rc = s->gzip ? stream_send_body(s, NULL, 0, Z_FINISH) : 0;
    if (rc == 0)
      rc = send_all(s->fd, last_chunk, sizeof last_chunk - 1);
    stream_close_socket(s, 0);
  }
  pthread_mutex_unlock(&s->io_mu);
  return rc;
}

void mock_stream_drop(mock_stream *s) {
  pthread_mutex_lock(&s->io_mu);
  stream_close_socket(s, 1);
  pthread_mutex_unlock(&s->io_mu);
}

/* Reads and discards what the client sent after its request: HTTP/1.1
 * allows nothing there on a one-request connection, and leaving it would
 * make every later poll return at once. Returns 1 when the client closed. */
static int discard_or_closed(int fd) {
  char buf[4096];
  ssize_t r = recv(fd, buf, sizeof buf, MSG_PEEK);
  if (r < 0 && errno == EINTR)
    return 0;
  if (r <= 0)
    return 1;
  return recv(fd, buf, (size_t)r, 0) <= 0;
}

/* Also 0 when the stream's socket is already closed on this side (answered,
 * ended or dropped): the connection is gone, so nothing is left to wait
 * for. */
int mock_stream_wait_closed(mock_stream *s, int timeout_ms) {
  int64_t deadline = monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
  int rc = -1;
  pthread_mutex_lock(&s->io_mu);
  for (;;) {
    struct pollfd p;
    int n;
    if (s->fd < 0) {
      rc = 0;
      break;
    }
    p.fd = s->fd;
    p.events = POLLIN;
    p.revents = 0;
    n = poll(&p, 1, remaining_ms(timeout_ms, deadline));
    if (n < 0 && errno == EINTR)
      continue;
    if (n == 0)
      break; /* Timed out: rc stays -1. */
    if (n < 0 || (p.revents & (POLLERR | POLLHUP | POLLNVAL)) ||
        discard_or_closed(s->fd)) {
      rc = 0;
      break;
    }
  }
  pthread_mutex_unlock(&s->io_mu);
  return rc;
}

void mock_stream_free(mock_stream *s) {
  if (!s)
    return;
  mock_stream_drop(s);
  stream_release(s);
}

/* ---- The service -------------------------------------------------------- */

/* One accepted connection and the thread serving it. */
struct conn {
  mock_service *ms;
  pthread_t thread;
  int fd;   /* -1 once closed or handed to a stream; under ms->mu. */
  int done; /* The thread has finished (join it); under ms->mu. */
  struct conn *next;
};

enum route { ROUTE_STREAM, ROUTE_CHECKPOINT, ROUTE_OTHER };

struct mock_service {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* Streams queued, stop began, waiters left. */
  int listen_fd;
  int wake[2]; /* Stop writes to wake[1] to end the accept thread. */
  int accept_started;
  pthread_t accept_thread;
  char url[64];
  /* Everything below is under mu. */
  int stopping;
  int waiters; /* Threads inside mock_service_next_stream. */
  struct conn *conns;
  mock_stream **streams; /* All streams, in arrival order. */
  size_t n_streams;
  size_t n_taken; /* streams[0..n_taken) went to the test. */
  int stream_requests;
  struct request *log;
  size_t n_log;
  int checkpoint_status;
  char *checkpoint_body;
  int checkpoint_requests;
};

static enum route route_of(const struct request *req) {
  if (strcmp(req->method, "POST") == 0 && request_path_is(req, "/sync/stream"))
    return ROUTE_STREAM;
  if (strcmp(req->method, "GET") == 0 &&
      request_path_is(req, "/write-checkpoint2.json"))
    return ROUTE_CHECKPOINT;
  return ROUTE_OTHER;
}

/* Appends a copy of req to the log and counts it, in one step so that a
 * count the test reads always matches the log. */
static void log_request(mock_service *ms, const struct request *req,
                        enum route route) {
  struct request copy;
  struct request *log;
  if (request_copy(&copy, req) != 0)
    return;
  pthread_mutex_lock(&ms->mu);
  log = realloc(ms->log, (ms->n_log + 1) * sizeof *log);
  if (log) {
    ms->log = log;
    ms->log[ms->n_log++] = copy;
  } else {
    request_free(&copy);
  }
  if (route == ROUTE_STREAM)
    ms->stream_requests++;
  else if (route == ROUTE_CHECKPOINT)
    ms->checkpoint_requests++;
  pthread_mutex_unlock(&ms->mu);
}

/* Moves the connection's socket and request into a new queued stream.
 * Returns 1 when handed over; 0 leaves the socket with the connection (the
 * service is stopping, or out of memory) so the caller closes it. */
static int hand_over_stream(mock_service *ms, struct conn *c,
                            struct request *req) {
  mock_stream *s = stream_new(c->fd, req);
  mock_stream **grown;
  int handed = 0;
  if (!s)
    return 0;
  pthread_mutex_lock(&ms->mu);
  grown = ms->stopping
              ? NULL
              : realloc(ms->streams, (ms->n_streams + 1) * sizeof *ms->streams);
  if (grown) {
    ms->streams = grown;
    ms->streams[ms->n_streams++] = s;
    c->fd = -1;
    handed = 1;
    pthread_cond_broadcast(&ms->cv);
  }
  pthread_mutex_unlock(&ms->mu);
  if (!handed) {
    s->fd = -1; /* Still the connection's. */
    stream_destroy(s);
  }
  return handed;
}

static void answer_checkpoint(mock_service *ms, int fd) {
  int status;
  char *body;
  pthread_mutex_lock(&ms->mu);
  status = ms->checkpoint_status;
  body = strdup(ms->checkpoint_body ? ms->checkpoint_body : "");
  pthread_mutex_unlock(&ms->mu);
  if (body)
    send_response(fd, status, DEFAULT_JSON_TYPE, body);
  free(body);
}

/* Serves one request; returns 1 when the socket went to a stream. */
static int serve(mock_service *ms, struct conn *c, struct request *req) {
  enum route route = route_of(req);
  log_request(ms, req, route);
  switch (route) {
  case ROUTE_STREAM:
    return hand_over_stream(ms, c, req);
  case ROUTE_CHECKPOINT:
    answer_checkpoint(ms, c->fd);
    return 0;
  case ROUTE_OTHER:
    send_response(c->fd, 404, DEFAULT_JSON_TYPE, NOT_FOUND_BODY);
    return 0;
  }
  return 0;
}

static void *conn_main(void *arg) {
  struct conn *c = arg;
  mock_service *ms = c->ms;
  struct request req;
  memset(&req, 0, sizeof req);
  /* c->fd only changes on this thread, so reading it unlocked is safe. */
  if (read_request(c->fd, &req) == 0)
    serve(ms, c, &req);
  request_free(&req);
  pthread_mutex_lock(&ms->mu);
  if (c->fd >= 0) {
    close(c->fd); /* Under mu: stop never shuts down a reused number. */
    c->fd = -1;
  }
  c->done = 1;
  pthread_mutex_unlock(&ms->mu);
  return NULL;
}

/* Joins connection threads that have finished, so that a long test with
 * many reconnects does not accumulate them until stop. */
static void reap_finished_conns(mock_service *ms) {
  struct conn *finished = NULL, **link, *c;
  pthread_mutex_lock(&ms->mu);
  link = &ms->conns;
  while ((c = *link) != NULL) {
    if (c->done) {
      *link = c->next;
      c->next = finished;
      finished = c;
    } else {
      link = &c->next;
    }
  }
  pthread_mutex_unlock(&ms->mu);
  while ((c = finished) != NULL) {
    finished = c->next;
    pthread_join(c->thread, NULL);
    free(c);
  }
}

static void start_conn(mock_service *ms, int fd) {
  struct conn *c = calloc(1, sizeof *c);
  int one = 1;
  /* Each chunk goes out at once instead of waiting for Nagle's ACK, so a
   * test that sends a partial line sees the client get it promptly. */
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!c) {
    close(fd);
    return;
  }
  c->ms = ms;
  c->fd = fd;
  pthread_mutex_lock(&ms->mu);
  if (!ms->stopping && pthread_create(&c->thread, NULL, conn_main, c) == 0) {
    c->next = ms->conns;
    ms->conns = c;
    c = NULL;
  }
  pthread_mutex_unlock(&ms->mu);
  if (c) {
    close(fd);
    free(c);
  }
}

static void *accept_main(void *arg) {
  mock_service *ms = arg;
  for (;;) {
    struct pollfd p[2];
    p[0].fd = ms->listen_fd;
    p[0].events = POLLIN;
    p[0].revents = 0;
    p[1].fd = ms->wake[0];
    p[1].events = POLLIN;
    p[1].revents = 0;
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (p[1].revents)
      break;
    if (p[0].revents & POLLIN) {
      int fd = accept(ms->listen_fd, NULL, NULL);
      if (fd >= 0)
        start_conn(ms, fd);
    }
    reap_finished_conns(ms);
  }
  return NULL;
}

static int open_listener(mock_service *ms) {
  struct sockaddr_in addr;
  socklen_t len = sizeof addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0; /* Ephemeral: parallel test runs never collide. */
  ms->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  if (ms->listen_fd < 0 ||
      bind(ms->listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
      listen(ms->listen_fd, 64) != 0 ||
      getsockname(ms->listen_fd, (struct sockaddr *)&addr, &len) != 0)
    return -1;
  snprintf(ms->url, sizeof ms->url, "http://127.0.0.1:%u",
           (unsigned)ntohs(addr.sin_port));
  return 0;
}

/* Frees everything once no thread but the caller's remains. */
static void service_free(mock_service *ms) {
  size_t i;
  for (i = 0; i < ms->n_streams; i++)
    stream_release(ms->streams[i]); /* The service's reference. */
  free(ms->streams);
  for (i = 0; i < ms->n_log; i++)
    request_free(&ms->log[i]);
  free(ms->log);
  free(ms->checkpoint_body);
  if (ms->listen_fd >= 0)
    close(ms->listen_fd);
  if (ms->wake[0] >= 0)
    close(ms->wake[0]);
  if (ms->wake[1] >= 0)
    close(ms->wake[1]);
  pthread_cond_destroy(&ms->cv);
  pthread_mutex_destroy(&ms->mu);
  free(ms);
}

mock_service *mock_service_start(void) {
  mock_service *ms = calloc(1, sizeof *ms);
  pthread_condattr_t attr;
  if (!ms)
    return NULL;
  ms->listen_fd = ms->wake[0] = ms->wake[1] = -1;
  pthread_mutex_init(&ms->mu, NULL);
  /* Monotonic, so next_stream's timeout ignores wall-clock changes. */
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&ms->cv, &attr);
  pthread_condattr_destroy(&attr);
  ms->checkpoint_status = 200;
  ms->checkpoint_body = strdup(DEFAULT_CHECKPOINT_BODY);
  if (!ms->checkpoint_body || open_listener(ms) != 0 || pipe(ms->wake) != 0 ||
      pthread_create(&ms->accept_thread, NULL, accept_main, ms) != 0) {
    service_free(ms);
    return NULL;
  }
  ms->accept_started = 1;
  return ms;
}

/* Wakes every blocked socket call of the connection threads and of test
 * threads inside stream functions, and waits for next_stream callers to
 * leave. */
static void shut_down_everything(mock_service *ms) {
  struct conn *c;
  size_t i;
  pthread_mutex_lock(&ms->mu);
  for (c = ms->conns; c; c = c->next) {
    if (c->fd >= 0)
      shutdown(c->fd, SHUT_RDWR);
  }
  for (i = 0; i < ms->n_streams; i++)
    stream_shutdown_socket(ms->streams[i]);
  while (ms->waiters > 0)
    pthread_cond_wait(&ms->cv, &ms->mu);
  pthread_mutex_unlock(&ms->mu);
}

void mock_service_stop(mock_service *ms) {
  struct conn *c;
  if (!ms)
    return;
  pthread_mutex_lock(&ms->mu);
  ms->stopping = 1; /* No new connections or streams from here on. */
  pthread_cond_broadcast(&ms->cv);
  pthread_mutex_unlock(&ms->mu);
  if (ms->accept_started) {
    ssize_t w;
    do {
      w = write(ms->wake[1], "x", 1);
    } while (w < 0 && errno == EINTR);
    pthread_join(ms->accept_thread, NULL);
  }
  shut_down_everything(ms);
  /* The accept thread is gone, so only this thread edits the list now. */
  while ((c = ms->conns) != NULL) {
    ms->conns = c->next;
    pthread_join(c->thread, NULL);
    free(c);
  }
  service_free(ms);
}

const char *mock_service_url(const mock_service *ms) { return ms->url; }

static void deadline_after(struct timespec *ts, int timeout_ms) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += timeout_ms / 1000;
  ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

mock_stream *mock_service_next_stream(mock_service *ms, int timeout_ms) {
  struct timespec deadline;
  mock_stream *s = NULL;
  deadline_after(&deadline, timeout_ms > 0 ? timeout_ms : 0);
  pthread_mutex_lock(&ms->mu);
  ms->waiters++;
  while (!ms->stopping && ms->n_taken == ms->n_streams) {
    if (timeout_ms < 0)
      pthread_cond_wait(&ms->cv, &ms->mu);
    else if (pthread_cond_timedwait(&ms->cv, &ms->mu, &deadline) != 0)
      break;
  }
  if (!ms->stopping && ms->n_taken < ms->n_streams) {
    s = ms->streams[ms->n_taken++];
    stream_retain(s); /* The test's reference. */
  }
  ms->waiters--;
  if (ms->stopping)
    pthread_cond_broadcast(&ms->cv); /* Stop waits for waiters == 0. */
  pthread_mutex_unlock(&ms->mu);
  return s;
}

int mock_service_stream_count(mock_service *ms) {
  int n;
  pthread_mutex_lock(&ms->mu);
  n = ms->stream_requests;
  pthread_mutex_unlock(&ms->mu);
  return n;
}

void mock_service_set_write_checkpoint(mock_service *ms, int status,
                                       const char *body) {
  char *copy = strdup(body ? body : "");
  pthread_mutex_lock(&ms->mu);
  if (copy) {
    free(ms->checkpoint_body);
    ms->checkpoint_body = copy;
  }
  ms->checkpoint_status = status;
  pthread_mutex_unlock(&ms->mu);
}

int mock_service_write_checkpoint_count(mock_service *ms) {
  int n;
  pthread_mutex_lock(&ms->mu);
  n = ms->checkpoint_requests;
  pthread_mutex_unlock(&ms->mu);
  return n;
}

int mock_service_request_count(mock_service *ms) {
  int n;
  pthread_mutex_lock(&ms->mu);
  n = (int)ms->n_log;
  pthread_mutex_unlock(&ms->mu);
  return n;
}

enum request_field { FIELD_METHOD, FIELD_TARGET, FIELD_HEADER, FIELD_BODY };

/* A malloc'd copy of one field of logged request i, taken under the lock
 * because connection threads may grow the log meanwhile. */
static char *copy_logged(mock_service *ms, int i, enum request_field field,
                         const char *name) {
  char *out = NULL;
  pthread_mutex_lock(&ms->mu);
  if (i >= 0 && (size_t)i < ms->n_log) {
    const struct request *r = &ms->log[i];
    const char *v = NULL;
    switch (field) {
    case FIELD_METHOD:
      v = r->method;
      break;
    case FIELD_TARGET:
      v = r->target;
      break;
    case FIELD_HEADER:
      v = request_header(r, name);
      break;
    case FIELD_BODY:
      out = dup_bytes(r->body, r->body_len);
      break;
    }
    if (v)
      out = strdup(v);
  }
  pthread_mutex_unlock(&ms->mu);
  return out;
}

char *mock_service_request_method(mock_service *ms, int i) {
  return copy_logged(ms, i, FIELD_METHOD, NULL);
}

char *mock_service_request_target(mock_service *ms, int i) {
  return copy_logged(ms, i, FIELD_TARGET, NULL);
}

char *mock_service_request_header(mock_service *ms, int i, const char *name) {
  return copy_logged(ms, i, FIELD_HEADER, name);
}

char *mock_service_request_body(mock_service *ms, int i) {
  return copy_logged(ms, i, FIELD_BODY, NULL);
}
