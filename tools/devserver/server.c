/*
 * server.c: see server.h. The HTTP side of powersync-devserver: the
 * libmicrohttpd daemon (a thread per connection, so a sync stream may
 * block in its content reader), routing, authentication, the small JSON
 * routes, the request log, the replication thread, and the lifecycle.
 *
 * The sync stream itself lives in stream.c; this file only negotiates its
 * encoding and hands it to libmicrohttpd as a content reader.
 *
 * Shutdown order matters: the stopping flag first (streams notice it
 * within a wait slice and end), then the replication thread, then
 * MHD_stop_daemon (which joins the connection threads, so no stream is
 * left touching the storage), and only then the storage is closed.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/json.h"
#include "http.h"
#include "jwt.h"
#include "storage.h"
#include "stream.h"
#include "sync_config.h"
#include "util/buf.h"

#define DEFAULT_BIND             "127.0.0.1"
#define DEFAULT_SECRET           "powersync-dev-secret"
#define DEFAULT_KID              "powersync-dev"
#define DEFAULT_AUDIENCE         "powersync-dev"
#define DEFAULT_TOKEN_LIFETIME_S 3600
#define DEFAULT_KEEPALIVE_S      20
#define DEFAULT_POLL_MS          20
#define DEFAULT_OPS_PER_LINE     1000
/* Upload batches and sync requests are far smaller; this only stops a
 * runaway body (413). */
#define MAX_BODY_BYTES ((size_t)16 * 1024 * 1024)
/* libmicrohttpd's per-connection memory (headers plus the write buffer
 * a content reader fills). */
#define CONNECTION_MEMORY ((size_t)128 * 1024)
#define STREAM_BLOCK_SIZE ((size_t)32 * 1024)
#define JSON_TYPE         "application/json; charset=utf-8"

struct psd_server {
  /* Options with defaults applied; strings owned. */
  char *source_path;
  char *bind_address;
  char *secret;
  char *kid;
  char *audience;
  int token_lifetime_s;
  int poll_ms;
  psd_log_fn log;
  void *log_user_data;

  const char *audiences[1];
  struct psd_jwt_config jwt;
  struct psd_sync_config *cfg;
  struct psd_storage *storage;
  struct psd_stream_env stream_env;
  struct MHD_Daemon *daemon;
  int port;
  char url[96];

  atomic_int stopping;
  pthread_mutex_t mu; /* Guards the replication thread's sleep. */
  pthread_cond_t wake;
  pthread_t replication;
  int replication_started;
  pthread_mutex_t log_mu; /* One log line at a time. */
};

/* What the server keeps about one request (libmicrohttpd's con_cls). */
struct request {
  int64_t start_ms;
  char method[16];
  char *path;
  struct ps__buf body;
  int too_large;
  int status;
  char *user; /* The authenticated sub, or NULL. */
};

/* --- Helpers ----------------------------------------------------------------
 */

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void server_log(void *user_data, const char *line) {
  struct psd_server *s = user_data;
  if (!s->log)
    return;
  pthread_mutex_lock(&s->log_mu);
  s->log(s->log_user_data, line);
  pthread_mutex_unlock(&s->log_mu);
}

static void server_logf(struct psd_server *s, const char *fmt, ...)
    PS_PRINTF(2, 3);

static void server_logf(struct psd_server *s, const char *fmt, ...) {
  char line[1024];
  va_list ap;
  if (!s->log)
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  server_log(s, line);
}

/* libmicrohttpd's own error messages go to the request log. */
static void mhd_logger(void *cls, const char *fmt, va_list ap) {
  struct psd_server *s = cls;
  char line[512];
  size_t n;
  if (!s->log)
    return;
  memcpy(line, "mhd: ", 5);
  vsnprintf(line + 5, sizeof(line) - 5, fmt, ap);
  n = strlen(line);
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    line[--n] = '\0';
  server_log(s, line);
}

/* --- Responses --------------------------------------------------------------
 */

/* Queues body (taken; NULL means out of memory) as a JSON response. */
static enum MHD_Result respond_json(struct MHD_Connection *conn,
                                    struct request *req, unsigned int status,
                                    char *body) {
  struct MHD_Response *r;
  enum MHD_Result ok;
  if (!body)
    return MHD_NO;
  r = MHD_create_response_from_buffer(strlen(body), body,
                                      MHD_RESPMEM_MUST_FREE);
  if (!r) {
    free(body);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type", JSON_TYPE);
  MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
  MHD_add_response_header(r, "Access-Control-Expose-Headers", "Content-Type");
  req->status = (int)status;
  ok = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return ok;
}

/* One of the service's errors (service-errors/src/errors.ts). */
struct service_error {
  unsigned int status;
  const char *code;
  const char *name;
  const char *description;
  const char *details;  /* NULL: none. */
  const char *severity; /* NULL: none. */
};

/* The service's error JSON (protocol.md 8), in its key order: code,
 * status, description, details, severity, then name. */
static enum MHD_Result respond_error(struct MHD_Connection *conn,
                                     struct request *req,
                                     const struct service_error *e) {
  struct ps__buf b;
  char *body;
  ps__buf_init(&b, PS_BUF_DEFAULT_MAX);
  ps__buf_printf(&b, "{\"error\":{\"code\":\"%s\",\"status\":%u,", e->code,
                 e->status);
  ps__buf_puts(&b, "\"description\":");
  ps__json_write_string(&b, e->description, strlen(e->description));
  if (e->details) {
    ps__buf_puts(&b, ",\"details\":");
    ps__json_write_string(&b, e->details, strlen(e->details));
  }
  if (e->severity)
    ps__buf_printf(&b, ",\"severity\":\"%s\"", e->severity);
  ps__buf_printf(&b, ",\"name\":\"%s\"}}", e->name);
  body = ps__buf_take(&b);
  ps__buf_free(&b);
  return respond_json(conn, req, e->status, body);
}

/* A request the service would reject in validation (400, PSYNC_S2001). */
static enum MHD_Result respond_bad_request(struct MHD_Connection *conn,
                                           struct request *req,
                                           const char *description) {
  struct service_error e = {
      MHD_HTTP_BAD_REQUEST, "PSYNC_S2001", "ValidationError",
      description,          NULL,          NULL};
  return respond_error(conn, req, &e);
}

/* Verifies the Authorization header; on failure queues the 401 and returns
 * -1 with *result set. */
static int authenticate(struct psd_server *s, struct MHD_Connection *conn,
                        struct request *req, struct psd_jwt_claims *claims,
                        enum MHD_Result *result) {
  const char *auth =
      MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
  struct psd_auth_error err;
  memset(claims, 0, sizeof(*claims));
  memset(&err, 0, sizeof(err));
  if (psd_jwt_verify(&s->jwt, auth, (int64_t)time(NULL), claims, &err) != 0) {
    *result = respond_json(conn, req,
                           err.status ? (unsigned int)err.status
                                      : MHD_HTTP_UNAUTHORIZED,
                           psd_auth_error_json(&err));
    return -1;
  }
  req->user = dup_str(claims->sub ? claims->sub : "");
  return 0;
}

/* --- Routes -----------------------------------------------------------------
 */

static enum MHD_Result handle_stream(struct psd_server *s,
                                     struct MHD_Connection *conn,
                                     struct request *req) {
  struct psd_jwt_claims claims;
  struct psd_stream_format format;
  struct psd_stream *st = NULL;
  struct MHD_Response *r;
  const union MHD_ConnectionInfo *info;
  enum MHD_Result result;
  char err[256];
  int rc;
  if (authenticate(s, conn, req, &claims, &result) != 0)
    return result;
  format.bson = psd_http_prefers_bson(
      MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept"));
  format.gzip = psd_http_accepts_gzip(
      MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept-Encoding"));
  rc = psd_stream_create(&s->stream_env, &claims, req->body.data, req->body.len,
                         format, &st, err, sizeof(err));
  psd_jwt_claims_free(&claims);
  if (rc != 0)
    return respond_bad_request(conn, req, err);
  info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (info)
    psd_stream_set_socket(st, (int)info->connect_fd);
  r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK_SIZE,
                                        psd_stream_read, st, psd_stream_free);
  if (!r) {
    psd_stream_free(st);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type",
                          format.bson ? PSD_MEDIA_BSON : PSD_MEDIA_NDJSON);
  if (format.gzip)
    MHD_add_response_header(r, "Content-Encoding", "gzip");
  MHD_add_response_header(r, "X-Accel-Buffering", "no");
  MHD_add_response_header(r, "Cache-Control", "no-cache");
  MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
  MHD_add_response_header(r, "Access-Control-Expose-Headers", "Content-Type");
  req->status = MHD_HTTP_OK;
  result = MHD_queue_response(conn, MHD_HTTP_OK, r);
  MHD_destroy_response(r);
  return result;
}

static enum MHD_Result handle_write_checkpoint(struct psd_server *s,
                                               struct MHD_Connection *conn,
                                               struct request *req) {
  struct psd_jwt_claims claims;
  enum MHD_Result result;
  const char *client_id =
      MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "client_id");
  int64_t value = 0;
  char err[256], *body;
  if (authenticate(s, conn, req, &claims, &result) != 0)
    return result;
  if (psd_storage_create_write_checkpoint(s->storage, claims.sub,
                                          client_id ? client_id : "", &value,
                                          err, sizeof(err)) != 0) {
    psd_jwt_claims_free(&claims);
    server_logf(s, "write checkpoint: %s", err);
    {
      struct service_error e = {
          MHD_HTTP_INTERNAL_SERVER_ERROR, "PSYNC_S2001", "InternalServerError",
          "Something went wrong",         err,           "error"};
      return respond_error(conn, req, &e);
    }
  }
  psd_jwt_claims_free(&claims);
  body = malloc(64);
  if (body)
    snprintf(body, 64, "{\"data\":{\"write_checkpoint\":\"%lld\"}}",
             (long long)value);
  return respond_json(conn, req, MHD_HTTP_OK, body);
}

static enum MHD_Result handle_token(struct psd_server *s,
                                    struct MHD_Connection *conn,
                                    struct request *req) {
  const char *user =
      MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "user_id");
  const char *expires =
      MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "expires_in");
  long long lifetime = 0;
  struct ps__buf b;
  char *token, *body;
  if (!user || !*user)
    return respond_bad_request(conn, req, "user_id is required");
  if (expires && psd_parse_int(expires, 1, 365LL * 86400, &lifetime) != 0)
    return respond_bad_request(conn, req,
                               "expires_in must be a positive number of "
                               "seconds");
  token = psd_server_token(s, user, (int)lifetime);
  if (!token)
    return MHD_NO;
  ps__buf_init(&b, PS_BUF_DEFAULT_MAX);
  ps__buf_puts(&b, "{\"token\":");
  ps__json_write_string(&b, token, strlen(token));
  ps__buf_puts(&b, ",\"powersync_url\":");
  ps__json_write_string(&b, s->url, strlen(s->url));
  ps__buf_putc(&b, '}');
  free(token);
  body = ps__buf_take(&b);
  ps__buf_free(&b);
  return respond_json(conn, req, MHD_HTTP_OK, body);
}

static enum MHD_Result handle_data(struct psd_server *s,
                                   struct MHD_Connection *conn,
                                   struct request *req) {
  struct psd_jwt_claims claims;
  enum MHD_Result result;
  char err[512];
  if (authenticate(s, conn, req, &claims, &result) != 0)
    return result;
  psd_jwt_claims_free(&claims);
  if (psd_storage_apply_batch(s->storage, req->body.data ? req->body.data : "",
                              req->body.len, err, sizeof(err)) != 0)
    return respond_bad_request(conn, req, err);
  return respond_json(conn, req, MHD_HTTP_OK, dup_str("{\"ok\":true}"));
}

/* The service's RouteNotFound. */
static enum MHD_Result respond_not_found(struct MHD_Connection *conn,
                                         struct request *req) {
  struct service_error e = {MHD_HTTP_NOT_FOUND,
                            "PSYNC_S2002",
                            "RouteNotFound",
                            "The path does not exist on this server",
                            NULL,
                            "info"};
  struct ps__buf details;
  enum MHD_Result result;
  ps__buf_init(&details, PS_BUF_DEFAULT_MAX);
  ps__buf_puts(&details, "The path ");
  ps__json_write_string(&details, req->path, strlen(req->path));
  ps__buf_puts(&details, " does not exist on this server");
  e.details = ps__buf_cstr(&details);
  result = respond_error(conn, req, &e);
  ps__buf_free(&details);
  return result;
}

static enum MHD_Result route(struct psd_server *s, struct MHD_Connection *conn,
                             struct request *req) {
  const char *m = req->method, *p = req->path;
  if (req->too_large) {
    struct service_error e = {
        MHD_HTTP_CONTENT_TOO_LARGE, "PSYNC_S2001", "ValidationError",
        "Request body too large",   NULL,          NULL};
    return respond_error(conn, req, &e);
  }
  if (ps__buf_failed(&req->body))
    return MHD_NO;
  if (strcmp(m, "POST") == 0 && strcmp(p, "/sync/stream") == 0)
    return handle_stream(s, conn, req);
  if (strcmp(m, "GET") == 0 && strcmp(p, "/write-checkpoint2.json") == 0)
    return handle_write_checkpoint(s, conn, req);
  if (strcmp(m, "GET") == 0 && strcmp(p, "/api/auth/token") == 0)
    return handle_token(s, conn, req);
  if (strcmp(m, "POST") == 0 && strcmp(p, "/api/data") == 0)
    return handle_data(s, conn, req);
  return respond_not_found(conn, req);
}

/* libmicrohttpd calls this first with the headers, then once per piece of
 * body, then once more with nothing left: only then is the request
 * answered. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
  struct psd_server *s = cls;
  struct request *req = *con_cls;
  enum MHD_Result result;
  (void)version;
  if (!req) {
    req = calloc(1, sizeof(*req));
    if (!req)
      return MHD_NO;
    req->start_ms = mono_ms();
    snprintf(req->method, sizeof(req->method), "%s", method);
    req->path = dup_str(url);
    ps__buf_init(&req->body, MAX_BODY_BYTES);
    *con_cls = req;
    return req->path ? MHD_YES : MHD_NO;
  }
  if (*upload_data_size > 0) {
    /* Past the cap the rest is read and dropped, then answered 413. */
    if (req->too_large || req->body.len + *upload_data_size > MAX_BODY_BYTES) {
      req->too_large = 1;
      ps__buf_free(&req->body);
    } else {
      ps__buf_append(&req->body, upload_data, *upload_data_size);
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  result = route(s, conn, req);
  ps__buf_free(&req->body); /* A stream keeps what it needs. */
  return result;
}

/* Logs the request (after a stream: when it ended) and frees it. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  struct psd_server *s = cls;
  struct request *req = *con_cls;
  (void)conn;
  (void)toe;
  if (!req)
    return;
  server_logf(s, "%s %s %d user=%s %lldms", req->method, req->path, req->status,
              req->user ? req->user : "-",
              (long long)(mono_ms() - req->start_ms));
  free(req->path);
  free(req->user);
  ps__buf_free(&req->body);
  free(req);
  *con_cls = NULL;
}

/* --- Replication ------------------------------------------------------------
 */

static void *replication_main(void *arg) {
  struct psd_server *s = arg;
  char err[512], last_err[512] = "";
  pthread_mutex_lock(&s->mu);
  while (!atomic_load(&s->stopping)) {
    struct timespec until;
    pthread_mutex_unlock(&s->mu);
    if (psd_storage_replicate(s->storage, NULL, err, sizeof(err)) != 0) {
      /* Once per distinct failure, not every poll. */
      if (strcmp(err, last_err) != 0)
        server_logf(s, "replication: %s", err);
      snprintf(last_err, sizeof(last_err), "%s", err);
    } else {
      last_err[0] = '\0';
    }
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += (long)(s->poll_ms % 1000) * 1000000L;
    until.tv_sec += s->poll_ms / 1000 + until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&s->mu);
    if (!atomic_load(&s->stopping))
      pthread_cond_timedwait(&s->wake, &s->mu, &until);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

/* --- Lifecycle --------------------------------------------------------------
 */

static int copy_options(struct psd_server *s,
                        const struct psd_server_options *o) {
  s->source_path = dup_str(o->source_path);
  s->bind_address = dup_str(o->bind_address ? o->bind_address : DEFAULT_BIND);
  s->secret = dup_str(o->jwt_secret ? o->jwt_secret : DEFAULT_SECRET);
  s->kid = dup_str(o->jwt_kid ? o->jwt_kid : DEFAULT_KID);
  s->audience = dup_str(o->jwt_audience ? o->jwt_audience : DEFAULT_AUDIENCE);
  s->token_lifetime_s =
      o->token_lifetime_s > 0 ? o->token_lifetime_s : DEFAULT_TOKEN_LIFETIME_S;
  s->poll_ms = o->poll_ms > 0 ? o->poll_ms : DEFAULT_POLL_MS;
  s->log = o->log;
  s->log_user_data = o->log_user_data;
  s->audiences[0] = s->audience;
  s->jwt.secret = s->secret;
  s->jwt.secret_len = s->secret ? strlen(s->secret) : 0;
  s->jwt.kid = s->kid;
  s->jwt.audiences = s->audiences;
  s->jwt.audience_count = 1;
  s->stream_env.keepalive_s =
      o->keepalive_s > 0 ? o->keepalive_s : DEFAULT_KEEPALIVE_S;
  s->stream_env.ops_per_line =
      o->ops_per_line > 0 ? o->ops_per_line : DEFAULT_OPS_PER_LINE;
  s->stream_env.stopping = &s->stopping;
  s->stream_env.log = server_log;
  s->stream_env.log_user_data = s;
  return s->source_path && s->bind_address && s->secret && s->kid && s->audience
             ? 0
             : -1;
}

/* Loads the config, checking it against the source database through a
 * short-lived connection (the storage needs the config to open). */
static int load_config(struct psd_server *s, const char *yaml, char *err,
                       size_t errlen) {
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2(s->source_path, &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (rc != SQLITE_OK) {
    snprintf(err, errlen, "cannot open '%s': %s", s->source_path,
             db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return -1;
  }
  rc = psd_sync_config_load(yaml, strlen(yaml), db, &s->cfg, err, errlen);
  sqlite3_close(db);
  return rc;
}

/* Binds the listening socket ourselves, so "port in use" is a clear error
 * rather than libmicrohttpd's NULL. */
static int open_listener(struct psd_server *s, int port, char *err,
                         size_t errlen) {
  struct sockaddr_storage addr;
  socklen_t addr_len;
  int fd, one = 1, family;
  memset(&addr, 0, sizeof(addr));
  if (strchr(s->bind_address, ':')) {
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
    family = AF_INET6;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    addr_len = sizeof(*a6);
    if (inet_pton(AF_INET6, s->bind_address, &a6->sin6_addr) != 1)
      family = -1;
  } else {
    struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
    family = AF_INET;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    addr_len = sizeof(*a4);
    if (inet_pton(AF_INET, s->bind_address, &a4->sin_addr) != 1)
      family = -1;
  }
  if (family < 0) {
    snprintf(err, errlen, "invalid bind address '%s' (an IP address)",
             s->bind_address);
    return -1;
  }
  fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, errlen, "cannot create a socket: %s", strerror(errno));
    return -1;
  }
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, (struct sockaddr *)&addr, addr_len) != 0 ||
      listen(fd, 64) != 0) {
    int e = errno;
    if (e == EADDRINUSE)
      snprintf(err, errlen, "port %d on %s is already in use", port,
               s->bind_address);
    else
      snprintf(err, errlen, "cannot listen on %s:%d: %s", s->bind_address, port,
               strerror(e));
    close(fd);
    return -1;
  }
  return fd;
}

static int bound_port(int fd) {
  struct sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0)
    return -1;
  if (addr.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
  return ntohs(((struct sockaddr_in *)&addr)->sin_port);
}

static void set_url(struct psd_server *s) {
  const char *host = s->bind_address;
  if (strcmp(host, "0.0.0.0") == 0)
    host = "127.0.0.1";
  else if (strcmp(host, "::") == 0)
    host = "::1";
  if (strchr(host, ':'))
    snprintf(s->url, sizeof(s->url), "http://[%s]:%d", host, s->port);
  else
    snprintf(s->url, sizeof(s->url), "http://%s:%d", host, s->port);
}

/* The port and URL are known from the socket before libmicrohttpd starts,
 * so its threads only ever read them. */
static int start_daemon(struct psd_server *s, int port, char *err,
                        size_t errlen) {
  int fd = open_listener(s, port, err, errlen);
  if (fd < 0)
    return -1;
  s->port = bound_port(fd);
  set_url(s);
  s->daemon = MHD_start_daemon(
      MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
          MHD_USE_POLL | MHD_USE_ERROR_LOG,
      0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s,
      MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
      s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)0, MHD_OPTION_END);
  if (!s->daemon) {
    close(fd);
    snprintf(err, errlen, "cannot start the HTTP server on %s:%d",
             s->bind_address, port);
    return -1;
  }
  return 0;
}

int psd_server_start(const struct psd_server_options *opts,
                     struct psd_server **out, char *err, size_t errlen) {
  struct psd_server *s;
  *out = NULL;
  if (!opts || !opts->source_path || !opts->config_yaml) {
    snprintf(err, errlen, "a source database and a sync config are required");
    return -1;
  }
  if (opts->port < 0 || opts->port > 65535) {
    snprintf(err, errlen, "invalid port %d", opts->port);
    return -1;
  }
  s = calloc(1, sizeof(*s));
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  pthread_mutex_init(&s->mu, NULL);
  pthread_mutex_init(&s->log_mu, NULL);
  {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &attr);
    pthread_condattr_destroy(&attr);
  }
  if (copy_options(s, opts) != 0) {
    snprintf(err, errlen, "out of memory");
    goto fail;
  }
  if (load_config(s, opts->config_yaml, err, errlen) != 0 ||
      psd_storage_open(s->source_path, s->cfg, &s->storage, err, errlen) != 0)
    goto fail;
  s->stream_env.storage = s->storage;
  s->stream_env.cfg = s->cfg;
  if (start_daemon(s, opts->port, err, errlen) != 0)
    goto fail;
  if (pthread_create(&s->replication, NULL, replication_main, s) != 0) {
    snprintf(err, errlen, "cannot start the replication thread");
    goto fail;
  }
  s->replication_started = 1;
  *out = s;
  return 0;
fail:
  psd_server_stop(s);
  return -1;
}

int psd_server_port(const struct psd_server *s) { return s ? s->port : -1; }

const char *psd_server_url(const struct psd_server *s) {
  return s ? s->url : NULL;
}

/* A token for user_id valid from now for lifetime_s. */
static char *sign_token(const struct psd_jwt_config *jwt, const char *audience,
                        const char *user_id, int lifetime_s) {
  int64_t now = (int64_t)time(NULL);
  return psd_jwt_sign(jwt, user_id, now, now + lifetime_s, audience, NULL);
}

char *psd_server_token(struct psd_server *s, const char *user_id,
                       int lifetime_s) {
  if (!s || !user_id)
    return NULL;
  return sign_token(&s->jwt, s->audience, user_id,
                    lifetime_s > 0 ? lifetime_s : s->token_lifetime_s);
}

char *psd_dev_token(const struct psd_server_options *opts, const char *user_id,
                    int lifetime_s) {
  struct psd_server_options none;
  struct psd_jwt_config jwt;
  const char *audiences[1];
  if (!user_id)
    return NULL;
  if (!opts) {
    memset(&none, 0, sizeof(none));
    opts = &none;
  }
  if (lifetime_s <= 0)
    lifetime_s = opts->token_lifetime_s > 0 ? opts->token_lifetime_s
                                            : DEFAULT_TOKEN_LIFETIME_S;
  memset(&jwt, 0, sizeof(jwt));
  audiences[0] = opts->jwt_audience ? opts->jwt_audience : DEFAULT_AUDIENCE;
  jwt.secret = opts->jwt_secret ? opts->jwt_secret : DEFAULT_SECRET;
  jwt.secret_len = strlen(jwt.secret);
  jwt.kid = opts->jwt_kid ? opts->jwt_kid : DEFAULT_KID;
  jwt.audiences = audiences;
  jwt.audience_count = 1;
  return sign_token(&jwt, audiences[0], user_id, lifetime_s);
}

void psd_server_stop(struct psd_server *s) {
  if (!s)
    return;
  atomic_store(&s->stopping, 1);
  if (s->replication_started) {
    pthread_mutex_lock(&s->mu);
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->replication, NULL);
  }
  if (s->daemon)
    MHD_stop_daemon(s->daemon);
  if (s->storage)
    psd_storage_close(s->storage);
  if (s->cfg)
    psd_sync_config_free(s->cfg);
  pthread_cond_destroy(&s->wake);
  pthread_mutex_destroy(&s->mu);
  pthread_mutex_destroy(&s->log_mu);
  free(s->source_path);
  free(s->bind_address);
  free(s->secret);
  free(s->kid);
  free(s->audience);
  free(s);
}
