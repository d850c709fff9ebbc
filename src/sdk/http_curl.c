/*
 * http_curl.c: the default HTTP transport (powersync_http_transport_curl),
 * built on libcurl's multi interface.
 *
 * WHY THE MULTI INTERFACE, ONE PER STREAM
 *
 * The sync stream is a response that never ends by itself, read by a task
 * that must be interruptible from another thread (disconnect, token
 * refresh) and must not read far ahead of what it has processed. The easy
 * interface (curl_easy_perform) owns the loop and cannot be woken; the multi
 * interface lets us run the loop ourselves, block in curl_multi_poll with a
 * timeout of our choosing, and be woken with curl_multi_wakeup. Each stream
 * gets its own multi handle so that a wake targets exactly that stream and
 * no state is shared between threads.
 *
 * BOUNDED MEMORY AND BACKPRESSURE
 *
 * Body bytes go from curl's write callback into a small buffer of the
 * stream. When the buffer has no room the callback returns
 * CURL_WRITEFUNC_PAUSE: curl keeps the one piece it was delivering and stops
 * reading the socket, so the kernel's receive window fills and the server's
 * writes block. read() hands out buffered bytes first and unpauses once
 * there is room; it drives curl only when it has nothing to return, so a
 * consumer that does not call read() holds at most one buffer plus what curl
 * and the kernel keep. A transfer is never polled while paused (the buffer
 * is always emptied first), so a full buffer cannot make us spin.
 *
 * TIMEOUTS AND WAKES
 *
 * The read timeout is an idle timer: it restarts whenever a byte of the
 * response arrives and when we unpause (while paused, silence is our own
 * doing). wake() sets an atomic flag and calls curl_multi_wakeup; every
 * blocking call consumes the flag on entry and after each poll, so a wake
 * is never lost, whether it comes during a call or between two.
 *
 * Messages name the request's host, never the URL's user info or any
 * header (the Authorization header carries the token). They are set both as
 * the thread's last error (ps__error_set) and as a callback message, so
 * callers can treat this transport like any application-provided one.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "sync_internal.h"

#define LOG_TAG "http"

/* Room for body bytes. Curl delivers at most CURL_MAX_WRITE_SIZE (16 KiB)
 * per call, so this holds a few deliveries: enough to keep the consumer
 * busy, small enough that a stalled consumer stalls the server quickly. */
#define STREAM_BUFFER_SIZE (64 * 1024)
/* Unpause only when a typical delivery fits, so that an unpause is not
 * answered by an immediate pause. */
#define RESUME_MIN_ROOM            CURL_MAX_WRITE_SIZE
#define DEFAULT_CONNECT_TIMEOUT_MS 10000
/* Upper bound of one poll when no read timeout applies; wakes interrupt
 * polls anyway, this only limits how long a lost wakeup could hide. */
#define POLL_SLICE_MS 1000

struct curl_stream {
  CURLM *multi;
  CURL *easy;
  struct curl_slist *headers;
  char *url;
  char method[16];
  char host[256]; /* For messages: host[:port], no user info. */
  char errbuf[CURL_ERROR_SIZE];
  int read_timeout_ms;
  int64_t last_activity_ms; /* Idle timer start (see the file comment). */

  /* The response head, complete once head_done. */
  int head_done;
  int status_line_code; /* Parsed from the status line, a fallback. */
  int status;
  char content_type[sizeof(((powersync_http_response *)0)->content_type)];

  /* Body bytes not yet read: data[off, off + len). */
  unsigned char *data;
  size_t cap, off, len;
  int paused;     /* The write callback returned CURL_WRITEFUNC_PAUSE. */
  int out_of_mem; /* The write callback could not store a delivery. */
  int done;       /* CURLMSG_DONE seen; result is curl's verdict. */
  CURLcode result;

  atomic_int woken; /* Set by wake(), consumed by a blocking call. */
};

/* Milliseconds of the monotonic clock. (Not ps__now_ms: that lives with
 * the dispatcher, which would drag the database code into every program
 * that links only the transport from the static library.) */
static int64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Messages ------------------------------------------------------------ */

/* Records a failure as the thread's error and as a callback message. */
static int PS_PRINTF(2, 3) stream_fail(int code, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  powersync_callback_error(msg);
  ps__log(POWERSYNC_LOG_DEBUG, LOG_TAG, "%s", msg);
  return ps__error_set(code, "%s", msg);
}

/* Copies the authority of url without user info ("host" or "host:port"),
 * so messages identify the server without leaking credentials. */
static void url_host(const char *url, char *out, size_t size) {
  const char *start = strstr(url, "://");
  const char *end, *at;
  size_t n;

  start = start ? start + 3 : url;
  end = start + strcspn(start, "/?#");
  at = memchr(start, '@', (size_t)(end - start));
  if (at)
    start = at + 1;
  n = (size_t)(end - start);
  if (n >= size)
    n = size - 1;
  memcpy(out, start, n);
  out[n] = '\0';
}

/* ---- Process-wide initialisation ----------------------------------------- */

static pthread_once_t curl_init_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init(void) {
  curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- Callbacks (run inside curl, on the thread driving the stream) ------- */

static int line_is_blank(const char *line, size_t n) {
  return (n == 2 && line[0] == '\r' && line[1] == '\n') ||
         (n == 1 && line[0] == '\n');
}

/* "HTTP/1.1 200 OK" or "HTTP/2 200": the status code, or 0. */
static int parse_status_line(const char *line, size_t n) {
  size_t i = 5; /* After "HTTP/". */
  int code = 0, digits = 0;
  while (i < n && line[i] != ' ')
    i++;
  while (i < n && line[i] == ' ')
    i++;
  for (; i < n && digits < 3 && isdigit((unsigned char)line[i]); i++, digits++)
    code = code * 10 + (line[i] - '0');
  return digits == 3 ? code : 0;
}

/* Copies the value of a "Content-Type:" line, trimmed and truncated. */
static void store_content_type(struct curl_stream *s, const char *line,
                               size_t n) {
  static const char name[] = "content-type:";
  const size_t name_len = sizeof(name) - 1;
  size_t start, end, len;

  if (n < name_len || strncasecmp(line, name, name_len) != 0)
    return;
  start = name_len;
  end = n;
  while (start < end && (line[start] == ' ' || line[start] == '\t'))
    start++;
  while (end > start && isspace((unsigned char)line[end - 1]))
    end--;
  len = end - start;
  if (len >= sizeof(s->content_type))
    len = sizeof(s->content_type) - 1;
  memcpy(s->content_type, line + start, len);
  s->content_type[len] = '\0';
}

/* The blank line after a head: final unless it was an interim 1xx head. */
static void finish_head(struct curl_stream *s) {
  long code = 0;
  curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
  if (code <= 0)
    code = s->status_line_code;
  if (code >= 100 && code < 200) {
    s->content_type[0] = '\0';
    return;
  }
  s->status = (int)code;
  s->head_done = 1;
  ps__log(POWERSYNC_LOG_DEBUG, LOG_TAG, "%s %s: HTTP %d (%s)", s->method,
          s->host, s->status, s->content_type[0] ? s->content_type : "-");
}

static size_t on_header(char *line, size_t size, size_t nitems, void *userp) {
  struct curl_stream *s = userp;
  size_t n = size * nitems;

  s->last_activity_ms = monotonic_ms();
  if (s->head_done) /* Trailers of a chunked body. */
    return n;
  if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
    s->status_line_code = parse_status_line(line, n);
    s->content_type[0] = '\0';
  } else if (line_is_blank(line, n)) {
    finish_head(s);
  } else {
    store_content_type(s, line, n);
  }
  return n;
}

/* Makes room for n more bytes: compacts, and grows only for a delivery
 * larger than the whole (empty) buffer, which curl does not normally make.
 * Returns 1 when n bytes fit now, 0 when the caller must pause, -1 when out
 * of memory. */
static int buffer_reserve(struct curl_stream *s, size_t n) {
  unsigned char *grown;

  if (s->cap - s->off - s->len >= n)
    return 1;
  if (s->off > 0) {
    memmove(s->data, s->data + s->off, s->len);
    s->off = 0;
  }
  if (s->cap - s->len >= n)
    return 1;
  if (s->len > 0)
    return 0;
  grown = realloc(s->data, n);
  if (!grown)
    return -1;
  s->data = grown;
  s->cap = n;
  return 1;
}

static size_t on_body(char *bytes, size_t size, size_t nmemb, void *userp) {
  struct curl_stream *s = userp;
  size_t n = size * nmemb;
  int room;

  if (n == 0)
    return 0;
  room = buffer_reserve(s, n);
  if (room < 0) {
    s->out_of_mem = 1;
    return 0; /* Fails the transfer with CURLE_WRITE_ERROR. */
  }
  if (room == 0) {
    s->paused = 1;
    return CURL_WRITEFUNC_PAUSE;
  }
  memcpy(s->data + s->off + s->len, bytes, n);
  s->len += n;
  s->last_activity_ms = monotonic_ms();
  return n;
}

/* ---- Setting up a request ------------------------------------------------ */

static int header_text_ok(const char *text) {
  return text && strpbrk(text, "\r\n") == NULL;
}

/* Appends "Name: value" (or "Name;", curl's way of sending an empty
 * value: "Name:" would remove the header). */
static int add_header(struct curl_stream *s, const char *name,
                      const char *value) {
  struct curl_slist *list;
  size_t size = strlen(name) + strlen(value) + 3;
  char *line = malloc(size);

  if (!line)
    return POWERSYNC_ENOMEM;
  if (value[0])
    snprintf(line, size, "%s: %s", name, value);
  else
    snprintf(line, size, "%s;", name);
  list = curl_slist_append(s->headers, line);
  free(line);
  if (!list)
    return POWERSYNC_ENOMEM;
  s->headers = list;
  return POWERSYNC_OK;
}

static int has_header(const powersync_http_request *req, const char *name) {
  for (size_t i = 0; i < req->header_count; i++)
    if (strcasecmp(req->headers[i].name, name) == 0)
      return 1;
  return 0;
}

static int build_headers(struct curl_stream *s,
                         const powersync_http_request *req) {
  int rc;
  for (size_t i = 0; i < req->header_count; i++) {
    const powersync_http_header *h = &req->headers[i];
    if (!header_text_ok(h->name) || !h->name[0] || !header_text_ok(h->value))
      return stream_fail(POWERSYNC_EINVAL,
                         "invalid HTTP header #%zu for %s (empty name, NULL, "
                         "or a line break)",
                         i, s->host);
    rc = add_header(s, h->name, h->value);
    if (rc)
      return stream_fail(rc, "out of memory");
  }
  /* curl would send "Expect: 100-continue" for large bodies and wait for
   * an answer the service never sends. */
  if (!has_header(req, "Expect")) {
    struct curl_slist *list = curl_slist_append(s->headers, "Expect:");
    if (!list)
      return stream_fail(POWERSYNC_ENOMEM, "out of memory");
    s->headers = list;
  }
  return POWERSYNC_OK;
}

/* Any failing curl_easy_setopt is a bug or an ancient libcurl; collect them
 * into one result so the option list stays readable. */
#define SETOPT(easy, opt, val)                                                 \
  (ok = ok && curl_easy_setopt((easy), (opt), (val)) == CURLE_OK)

static int set_method_and_body(struct curl_stream *s,
                               const powersync_http_request *req) {
  CURL *e = s->easy;
  int ok = 1;
  int has_body = req->body != NULL;

  if (strcmp(req->method, "GET") == 0 && !has_body) {
    SETOPT(e, CURLOPT_HTTPGET, 1L);
    return ok;
  }
  if (strcmp(req->method, "POST") != 0)
    SETOPT(e, CURLOPT_CUSTOMREQUEST, req->method);
  /* The size first: COPYPOSTFIELDS copies that many bytes (a body may
   * contain NUL). */
  SETOPT(e, CURLOPT_POSTFIELDSIZE_LARGE,
         (curl_off_t)(has_body ? req->body_size : 0));
  SETOPT(e, CURLOPT_COPYPOSTFIELDS, has_body ? (const char *)req->body : "");
  return ok;
}

static int set_options(struct curl_stream *s,
                       const powersync_http_request *req) {
  CURL *e = s->easy;
  int ok = 1;
  long connect_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                : DEFAULT_CONNECT_TIMEOUT_MS;

  SETOPT(e, CURLOPT_URL, s->url);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85: the string form. */
  SETOPT(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  SETOPT(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  SETOPT(e, CURLOPT_NOSIGNAL, 1L);
  SETOPT(e, CURLOPT_FOLLOWLOCATION, 0L);
  SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
  SETOPT(e, CURLOPT_TIMEOUT_MS, 0L);
  SETOPT(e, CURLOPT_TCP_KEEPALIVE, 1L);
  SETOPT(e, CURLOPT_TCP_KEEPIDLE, 30L);
  SETOPT(e, CURLOPT_TCP_KEEPINTVL, 15L);
  SETOPT(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  SETOPT(e, CURLOPT_ERRORBUFFER, s->errbuf);
  SETOPT(e, CURLOPT_HEADERFUNCTION, on_header);
  SETOPT(e, CURLOPT_HEADERDATA, s);
  SETOPT(e, CURLOPT_WRITEFUNCTION, on_body);
  SETOPT(e, CURLOPT_WRITEDATA, s);
  SETOPT(e, CURLOPT_HTTPHEADER, s->headers);
  if (req->accept_gzip)
    SETOPT(e, CURLOPT_ACCEPT_ENCODING, "gzip");
  return ok && set_method_and_body(s, req);
}

#undef SETOPT

static void stream_free(struct curl_stream *s) {
  if (!s)
    return;
  if (s->multi && s->easy)
    curl_multi_remove_handle(s->multi, s->easy);
  if (s->easy)
    curl_easy_cleanup(s->easy);
  if (s->multi)
    curl_multi_cleanup(s->multi);
  curl_slist_free_all(s->headers);
  free(s->data);
  free(s->url);
  free(s);
}

/* An HTTP method is a token; upper-case letters cover every real one and
 * keep line breaks out of the request line. */
static int method_valid(const char *method) {
  size_t n = method ? strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") : 0;
  return n > 0 && method[n] == '\0' &&
         n < sizeof(((struct curl_stream *)0)->method);
}

static int request_valid(const powersync_http_request *req) {
  return req && method_valid(req->method) && req->url &&
         (req->headers || req->header_count == 0) &&
         (req->body || req->body_size == 0) && req->read_timeout_ms >= 0 &&
         req->connect_timeout_ms >= 0;
}

static struct curl_stream *stream_new(const powersync_http_request *req) {
  struct curl_stream *s = calloc(1, sizeof(*s));
  if (!s)
    return NULL;
  atomic_init(&s->woken, 0);
  s->url = strdup(req->url);
  s->data = malloc(STREAM_BUFFER_SIZE);
  s->cap = STREAM_BUFFER_SIZE;
  if (!s->url || !s->data) {
    stream_free(s);
    return NULL;
  }
  snprintf(s->method, sizeof(s->method), "%s", req->method);
  url_host(req->url, s->host, sizeof(s->host));
  s->read_timeout_ms = req->read_timeout_ms;
  s->last_activity_ms = monotonic_ms();
  return s;
}

static int curl_open(void *user_data, const powersync_http_request *req,
                     void **stream_out) {
  struct curl_stream *s;
  int rc;
  (void)user_data;

  if (stream_out)
    *stream_out = NULL;
  if (!stream_out || !request_valid(req))
    return stream_fail(POWERSYNC_EINVAL, "invalid HTTP request");
  pthread_once(&curl_init_once, curl_init);
  if (curl_init_result != CURLE_OK)
    return stream_fail(POWERSYNC_ERROR, "libcurl initialisation failed: %s",
                       curl_easy_strerror(curl_init_result));
  s = stream_new(req);
  if (!s)
    return stream_fail(POWERSYNC_ENOMEM, "out of memory");
  rc = build_headers(s, req);
  if (rc) {
    stream_free(s);
    return rc;
  }
  s->multi = curl_multi_init();
  s->easy = curl_easy_init();
  if (!s->multi || !s->easy) {
    stream_free(s);
    return stream_fail(POWERSYNC_ENOMEM, "out of memory (curl handles)");
  }
  if (!set_options(s, req)) {
    stream_fail(POWERSYNC_EINVAL, "libcurl refused an option for %s %s",
                s->method, s->host);
    stream_free(s);
    return POWERSYNC_EINVAL;
  }
  if (curl_multi_add_handle(s->multi, s->easy) != CURLM_OK) {
    curl_easy_cleanup(s->easy);
    s->easy = NULL;
    stream_free(s);
    return stream_fail(POWERSYNC_ENOMEM, "out of memory (curl multi)");
  }
  ps__log(POWERSYNC_LOG_DEBUG, LOG_TAG, "%s %s: request started", s->method,
          s->host);
  *stream_out = s;
  return POWERSYNC_OK;
}

/* ---- Driving the transfer ------------------------------------------------ */

static int take_wake(struct curl_stream *s) {
  return atomic_exchange(&s->woken, 0) != 0;
}

static int interrupted(struct curl_stream *s) {
  return stream_fail(POWERSYNC_EINTR, "%s %s: interrupted", s->method, s->host);
}

/* Runs curl as far as it can go without blocking and notes the end. */
static int perform(struct curl_stream *s) {
  int running = 0, left = 0;
  CURLMsg *msg;
  CURLMcode mc = curl_multi_perform(s->multi, &running);

  if (mc != CURLM_OK)
    return stream_fail(
        mc == CURLM_OUT_OF_MEMORY ? POWERSYNC_ENOMEM : POWERSYNC_ENETWORK,
        "%s %s: %s", s->method, s->host, curl_multi_strerror(mc));
  while ((msg = curl_multi_info_read(s->multi, &left)) != NULL) {
    if (msg->msg == CURLMSG_DONE && msg->easy_handle == s->easy) {
      s->done = 1;
      s->result = msg->data.result;
      ps__log(POWERSYNC_LOG_DEBUG, LOG_TAG, "%s %s: transfer ended: %s",
              s->method, s->host, curl_easy_strerror(s->result));
    }
  }
  return POWERSYNC_OK;
}

/* The outcome of an ended transfer, for when nothing is left to return. */
static int transfer_error(struct curl_stream *s) {
  if (s->out_of_mem || s->result == CURLE_OUT_OF_MEMORY)
    return stream_fail(POWERSYNC_ENOMEM, "%s %s: out of memory", s->method,
                       s->host);
  return stream_fail(POWERSYNC_ENETWORK, "%s %s: %s", s->method, s->host,
                     s->errbuf[0] ? s->errbuf : curl_easy_strerror(s->result));
}

/* How long the next poll may wait: > 0, or 0 once the idle timer ran out. */
static int poll_wait_ms(const struct curl_stream *s) {
  int64_t left;
  if (s->read_timeout_ms <= 0)
    return POLL_SLICE_MS;
  left = s->last_activity_ms + s->read_timeout_ms - monotonic_ms();
  if (left <= 0)
    return 0;
  return left < POLL_SLICE_MS ? (int)left : POLL_SLICE_MS;
}

typedef int (*ready_fn)(const struct curl_stream *s);

static int head_ready(const struct curl_stream *s) {
  return s->head_done || s->done;
}

static int body_ready(const struct curl_stream *s) {
  return s->len > 0 || s->done;
}

/* Drives curl until ready(s), a wake (POWERSYNC_EINTR) or the idle
 * timeout (POWERSYNC_ETIMEOUT). Never called while paused. */
static int drive_until(struct curl_stream *s, ready_fn ready) {
  for (;;) {
    int wait_ms, rc;
    CURLMcode mc;

    if (take_wake(s))
      return interrupted(s);
    rc = perform(s);
    if (rc)
      return rc;
    if (ready(s))
      return POWERSYNC_OK;
    wait_ms = poll_wait_ms(s);
    if (wait_ms == 0)
      return stream_fail(POWERSYNC_ETIMEOUT, "%s %s: no data for %d ms",
                         s->method, s->host, s->read_timeout_ms);
    mc = curl_multi_poll(s->multi, NULL, 0, wait_ms, NULL);
    if (mc != CURLM_OK)
      return stream_fail(POWERSYNC_ENETWORK, "%s %s: %s", s->method, s->host,
                         curl_multi_strerror(mc));
  }
}

/* Lets curl deliver again. curl_easy_pause may call on_body right away,
 * which can pause again; the flag is cleared first for that reason. A
 * failure ends the transfer: bytes already buffered are still handed out,
 * then read() reports it. */
static void resume(struct curl_stream *s) {
  CURLcode rc;
  s->paused = 0;
  s->last_activity_ms = monotonic_ms();
  rc = curl_easy_pause(s->easy, CURLPAUSE_CONT);
  if (rc != CURLE_OK && !s->done) {
    s->done = 1;
    s->result = rc;
  }
}

static int curl_response(void *stream, powersync_http_response *out) {
  struct curl_stream *s = stream;
  int rc;

  if (!s || !out)
    return stream_fail(POWERSYNC_EINVAL, "invalid argument");
  if (!s->head_done) {
    rc = drive_until(s, head_ready);
    if (rc)
      return rc;
  } else if (take_wake(s)) {
    return interrupted(s);
  }
  if (!s->head_done) {
    if (s->result == CURLE_OK && !s->out_of_mem)
      return stream_fail(POWERSYNC_ENETWORK,
                         "%s %s: connection closed without a response",
                         s->method, s->host);
    return transfer_error(s);
  }
  out->status = s->status;
  memcpy(out->content_type, s->content_type, sizeof(out->content_type));
  return POWERSYNC_OK;
}

/* Hands out buffered bytes and unpauses once there is room again. */
static int copy_buffered(struct curl_stream *s, void *buf, size_t cap,
                         size_t *n_out) {
  size_t n = s->len < cap ? s->len : cap;
  memcpy(buf, s->data + s->off, n);
  s->off += n;
  s->len -= n;
  if (s->len == 0)
    s->off = 0;
  *n_out = n;
  if (s->paused && (s->len == 0 || s->cap - s->len >= RESUME_MIN_ROOM))
    resume(s);
  return POWERSYNC_OK;
}

static int curl_read(void *stream, void *buf, size_t cap, size_t *n_out) {
  struct curl_stream *s = stream;
  int rc;

  if (!s || !buf || !n_out || cap == 0)
    return stream_fail(POWERSYNC_EINVAL, "invalid argument");
  *n_out = 0;
  if (take_wake(s))
    return interrupted(s);
  if (s->len == 0 && !s->done) {
    if (s->paused)
      resume(s);
    rc = body_ready(s) ? POWERSYNC_OK : drive_until(s, body_ready);
    if (rc)
      return rc;
  }
  if (s->len > 0)
    return copy_buffered(s, buf, cap, n_out);
  if (s->result == CURLE_OK && !s->out_of_mem)
    return POWERSYNC_OK; /* The body ended cleanly. */
  return transfer_error(s);
}

static void curl_wake(void *stream) {
  struct curl_stream *s = stream;
  if (!s)
    return;
  atomic_store(&s->woken, 1);
  curl_multi_wakeup(s->multi);
}

static void curl_close(void *stream) {
  struct curl_stream *s = stream;
  if (!s)
    return;
  ps__log(POWERSYNC_LOG_DEBUG, LOG_TAG, "%s %s: closed", s->method, s->host);
  stream_free(s);
}

int powersync_http_transport_curl(powersync_http_transport *out) {
  if (!out)
    return ps__error_set(POWERSYNC_EINVAL, "out is NULL");
  memset(out, 0, sizeof(*out));
  out->version = POWERSYNC_HTTP_TRANSPORT_VERSION;
  out->open = curl_open;
  out->response = curl_response;
  out->read = curl_read;
  out->wake = curl_wake;
  out->close = curl_close;
  return POWERSYNC_OK;
}
