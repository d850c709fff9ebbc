/*
 * http.c: what every request of the sync client needs regardless of the
 * transport: endpoint URLs, the User-Agent, cancellation from another
 * thread, and whole small requests (write checkpoints).
 *
 * Endpoint URLs follow the recommendation of the protocol spec (section 2):
 * an absolute http(s) URL with a host, trailing slashes stripped, the
 * route appended. Rejecting anything else early turns a typo in the
 * connector into a clear message instead of a confusing network error.
 *
 * Cancellation (struct ps__cancel) pairs a flag with the stream a task is
 * blocked on. The mutex makes "fire" and "attach/detach" exclusive, so a
 * fire either sees no stream (and the next attach fails) or wakes a stream
 * that cannot be closed under it (the owner detaches before closing).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>

#include "sync_internal.h"

/* ---- Endpoint URLs ------------------------------------------------------- */

/* Length of the "http://" or "https://" prefix of url, or 0. */
static size_t http_scheme_length(const char *url) {
  if (strncasecmp(url, "http://", 7) == 0)
    return 7;
  if (strncasecmp(url, "https://", 8) == 0)
    return 8;
  return 0;
}

static int has_space_or_control(const char *s) {
  for (; *s; s++)
    if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
      return 1;
  return 0;
}

/* Checks "[userinfo@]host[:port]" (authority[0..len)): a host is present
 * and a port, when given, is a number from 1 to 65535. */
static int authority_valid(const char *authority, size_t len) {
  const char *at = memchr(authority, '@', len);
  const char *host = at ? at + 1 : authority;
  const char *end = authority + len;
  const char *colon;
  long port = 0;

  if (host < end && *host == '[') { /* An IPv6 literal. */
    const char *close = memchr(host, ']', (size_t)(end - host));
    if (!close || close == host + 1)
      return 0;
    colon = close + 1 < end ? close + 1 : NULL;
    if (colon && *colon != ':')
      return 0;
  } else {
    colon = memchr(host, ':', (size_t)(end - host));
    if ((colon ? colon : end) == host)
      return 0;
  }
  if (!colon)
    return 1;
  if (colon + 1 == end || end - colon > 6)
    return 0;
  for (const char *p = colon + 1; p < end; p++) {
    if (!isdigit((unsigned char)*p))
      return 0;
    port = port * 10 + (*p - '0');
  }
  return port >= 1 && port <= 65535;
}

/* Sets the error for an unusable endpoint, quoting it with control
 * characters replaced so that the message stays one line, and user info
 * (user:password@) masked: the message reaches logs and the sync status. */
static char *invalid_endpoint(const char *endpoint, const char *why) {
  char quoted[200];
  const char *auth = strstr(endpoint, "://");
  const char *at = NULL;
  size_t i, o = 0;
  if (auth) {
    auth += 3;
    at = strchr(auth, '@');
    if (at && (size_t)(at - auth) > strcspn(auth, "/?#"))
      at = NULL;
  }
  for (i = 0; endpoint[i] && o < sizeof(quoted) - 4; i++) {
    if (at && endpoint + i == auth) {
      memcpy(quoted + o, "***", 3);
      o += 3;
      i = (size_t)(at - endpoint) - 1;
      continue;
    }
    quoted[o++] = iscntrl((unsigned char)endpoint[i]) ? '?' : endpoint[i];
  }
  quoted[o] = '\0';
  ps__error_set(POWERSYNC_EINVAL, "endpoint '%s' %s", quoted, why);
  return NULL;
}

char *ps__http_join(const char *endpoint, const char *path) {
  size_t scheme, authority_len, len, path_len;
  char *url;

  if (!endpoint) {
    ps__error_set(POWERSYNC_EINVAL, "endpoint is NULL");
    return NULL;
  }
  if (!path)
    path = "";
  scheme = http_scheme_length(endpoint);
  if (!scheme)
    return invalid_endpoint(endpoint, "is not an absolute http(s) URL");
  if (has_space_or_control(endpoint))
    return invalid_endpoint(endpoint,
                            "contains whitespace or control characters");
  if (strpbrk(endpoint, "?#"))
    return invalid_endpoint(endpoint, "must not have a query or fragment");
  authority_len = strcspn(endpoint + scheme, "/");
  if (!authority_valid(endpoint + scheme, authority_len))
    return invalid_endpoint(endpoint, "has no valid host[:port]");

  len = strlen(endpoint);
  while (len > scheme + authority_len && endpoint[len - 1] == '/')
    len--;
  path_len = strlen(path);
  url = malloc(len + path_len + 1);
  if (!url) {
    ps__error_set(POWERSYNC_ENOMEM, "out of memory");
    return NULL;
  }
  memcpy(url, endpoint, len);
  memcpy(url + len, path, path_len + 1);
  return url;
}

/* ---- User-Agent ---------------------------------------------------------- */

static pthread_once_t user_agent_once = PTHREAD_ONCE_INIT;
static char user_agent[256];

static void user_agent_init(void) {
  struct utsname u;
  if (uname(&u) == 0)
    snprintf(user_agent, sizeof(user_agent), "powersync-c/%s %s/%s",
             POWERSYNC_VERSION_STRING, u.sysname, u.release);
  else
    snprintf(user_agent, sizeof(user_agent), "powersync-c/%s unknown/unknown",
             POWERSYNC_VERSION_STRING);
}

const char *ps__http_user_agent(void) {
  pthread_once(&user_agent_once, user_agent_init);
  return user_agent;
}

/* ---- Cancellation -------------------------------------------------------- */

void ps__cancel_init(struct ps__cancel *c) {
  pthread_mutex_init(&c->mu, NULL);
  c->cancelled = 0;
  c->transport = NULL;
  c->stream = NULL;
}

void ps__cancel_destroy(struct ps__cancel *c) { pthread_mutex_destroy(&c->mu); }

int ps__cancel_attach(struct ps__cancel *c, const powersync_http_transport *t,
                      void *stream) {
  int cancelled;
  pthread_mutex_lock(&c->mu);
  cancelled = c->cancelled;
  if (!cancelled) {
    c->transport = t;
    c->stream = stream;
  }
  pthread_mutex_unlock(&c->mu);
  return cancelled ? ps__error_set(POWERSYNC_EINTR, "request cancelled")
                   : POWERSYNC_OK;
}

void ps__cancel_detach(struct ps__cancel *c) {
  pthread_mutex_lock(&c->mu);
  c->transport = NULL;
  c->stream = NULL;
  pthread_mutex_unlock(&c->mu);
}

void ps__cancel_fire(struct ps__cancel *c) {
  pthread_mutex_lock(&c->mu);
  c->cancelled = 1;
  if (c->stream && c->transport && c->transport->wake)
    c->transport->wake(c->stream);
  pthread_mutex_unlock(&c->mu);
}

int ps__cancel_fired(struct ps__cancel *c) {
  int fired;
  pthread_mutex_lock(&c->mu);
  fired = c->cancelled;
  pthread_mutex_unlock(&c->mu);
  return fired;
}

/* ---- Whole small requests ------------------------------------------------ */

/* The authority of url without user info, for messages. */
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

/* A failed transport call as the thread's error: a wake after
 * cancellation is "cancelled"; otherwise the message the transport
 * attached (any transport may use powersync_callback_error), else the
 * code's name. */
int ps__http_transport_failed(int rc, const powersync_http_request *req) {
  char msg[512], host[256];
  if (rc == POWERSYNC_EINTR)
    return ps__error_set(rc, "request cancelled");
  if (ps__callback_error_take(msg, sizeof(msg)))
    return ps__error_set(rc, "%s", msg);
  url_host(req->url, host, sizeof(host));
  return ps__error_set(rc, "%s %s failed: %s", req->method, host,
                       powersync_errstr(rc));
}

/* 1 when a blocking step must be called again: it was woken, but not by
 * cancel (someone else's wake, or one left over). */
static int spurious_wake(int rc, struct ps__cancel *cancel) {
  return rc == POWERSYNC_EINTR && (!cancel || !ps__cancel_fired(cancel));
}

static int fetch_head(const powersync_http_transport *t, void *stream,
                      struct ps__cancel *cancel, int *status_out) {
  powersync_http_response head;
  int rc;
  do {
    memset(&head, 0, sizeof(head));
    ps__callback_error_reset();
    rc = t->response(stream, &head);
  } while (spurious_wake(rc, cancel));
  if (rc == POWERSYNC_OK)
    *status_out = head.status;
  return rc;
}

/* Makes room for more of the body: doubles up to limit + 1 bytes (one more
 * than allowed, to notice a body that is too long) plus the NUL. */
static int body_grow(char **body, size_t *cap, size_t limit) {
  size_t want = *cap * 2 > limit + 1 ? limit + 1 : *cap * 2;
  char *grown = realloc(*body, want + 1);
  if (!grown)
    return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  *body = grown;
  *cap = want;
  return POWERSYNC_OK;
}

/* Reads the whole body into a NUL-terminated allocation. Transport
 * failures are returned as they are (the caller sets the message). */
static int fetch_body(const powersync_http_transport *t, void *stream,
                      struct ps__cancel *cancel, size_t max_body,
                      char **body_out, int *own_error) {
  size_t limit = max_body > SIZE_MAX / 4 ? SIZE_MAX / 4 : max_body;
  size_t len = 0, cap = limit < 1024 ? limit + 1 : 1024;
  char *body = malloc(cap + 1);
  int rc = POWERSYNC_OK;

  *own_error = 1;
  if (!body)
    return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  for (;;) {
    size_t n = 0;
    if (len == cap && (rc = body_grow(&body, &cap, limit)) != POWERSYNC_OK)
      break;
    ps__callback_error_reset();
    rc = t->read(stream, body + len, cap - len, &n);
    if (spurious_wake(rc, cancel))
      continue;
    if (rc != POWERSYNC_OK) {
      *own_error = 0;
      break;
    }
    if (n == 0)
      break;
    len += n;
    if (len > limit) {
      rc = ps__error_set(POWERSYNC_EPROTOCOL, "response body exceeds %zu bytes",
                         limit);
      break;
    }
  }
  if (rc != POWERSYNC_OK) {
    free(body);
    return rc;
  }
  body[len] = '\0';
  *body_out = body;
  return POWERSYNC_OK;
}

int ps__http_fetch(const powersync_http_transport *t,
                   const powersync_http_request *req, size_t max_body,
                   struct ps__cancel *cancel, int *status_out,
                   char **body_out) {
  void *stream = NULL;
  int rc, own_error = 0;

  if (!t || !t->open || !t->response || !t->read || !t->close || !req ||
      !req->url || !req->method || !status_out || !body_out)
    return ps__error_set(POWERSYNC_EINVAL, "invalid argument");
  *status_out = 0;
  *body_out = NULL;
  ps__callback_error_reset();
  rc = t->open(t->user_data, req, &stream);
  if (rc != POWERSYNC_OK)
    return ps__http_transport_failed(rc, req);
  if (cancel && ps__cancel_attach(cancel, t, stream) != POWERSYNC_OK) {
    t->close(stream);
    return ps__error_set(POWERSYNC_EINTR, "request cancelled");
  }
  rc = fetch_head(t, stream, cancel, status_out);
  if (rc == POWERSYNC_OK)
    rc = fetch_body(t, stream, cancel, max_body, body_out, &own_error);
  if (cancel)
    ps__cancel_detach(cancel);
  t->close(stream);
  if (rc == POWERSYNC_OK)
    return POWERSYNC_OK;
  *status_out = 0;
  return own_error ? rc : ps__http_transport_failed(rc, req);
}
