/*
 * sync_download.c: the download task (sdk.md 9 and 10).
 *
 * The core decides; this file executes. One iteration: "start" returns an
 * EstablishSyncStream instruction with the request body, which is POSTed
 * unchanged to /sync/stream; every line of the response goes to the core
 * ("line_text" or "line_binary") and its instructions are executed in
 * order; "stop" always ends the iteration, whatever happened. Between
 * iterations the task waits the retry delay, except when the core ended the
 * iteration with hide_disconnect (token refreshed, subscriptions changed),
 * which reconnects at once and invisibly.
 *
 * This task is the only caller of powersync_control during an iteration:
 * other tasks post events (completed upload, refreshed token, changed
 * subscriptions) and wake the blocked HTTP read, and the loop below hands
 * them to the core between lines (sdk.md 9.3 step 4).
 *
 * Memory stays bounded however fast the service sends: the transport holds
 * at most its buffer, the framer at most one line, and the next chunk is
 * read only after every line of the previous one was applied.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/line_framer.h"
#include "sync_client.h"
#include "util/arena.h"

#define PS_READ_CHUNK (64 * 1024)
/* An error body is only read for the message. */
#define PS_ERROR_BODY_MAX 4096

static const char ACCEPT_BSON[] =
    "application/vnd.powersync.bson-stream;q=0.9,application/x-ndjson;q=0.8";
static const char ACCEPT_NDJSON[] = "application/x-ndjson";

struct iteration {
  struct ps__sync_client *c;
  powersync_db *db;
  char *request_body;  /* From EstablishSyncStream. */
  int close_requested; /* CloseSyncStream seen. */
  int hide_disconnect; /* Its flag. */
  int lines_seen;
  void *stream; /* The open HTTP request. */
  char *url;    /* Its URL, for error messages. */
  int hiding;   /* Renewing invisibly after hide_disconnect: keep
                   showing "connected" until connected again. */
  struct ps__framer framer;
  int framer_ready;
};

/* --- Instructions -----------------------------------------------------------
 */

static powersync_log_level log_level_of(const struct ps__json_value *sev) {
  if (sev && sev->type == PS_JSON_STRING) {
    if (strcmp(sev->as.str.ptr, "WARNING") == 0)
      return POWERSYNC_LOG_WARN;
    if (strcmp(sev->as.str.ptr, "INFO") == 0)
      return POWERSYNC_LOG_INFO;
  }
  return POWERSYNC_LOG_DEBUG;
}

static int json_true(const struct ps__json_value *v) {
  return v && v->type == PS_JSON_TRUE;
}

/* Executes one instruction {"Name": payload}. text is the whole
 * instruction array, so payloads can be passed on as their source text. */
static int execute_instruction(struct iteration *it, const char *text,
                               const char *name,
                               const struct ps__json_value *payload) {
  struct ps__sync_client *c = it->c;
  if (strcmp(name, "LogLine") == 0) {
    const struct ps__json_value *line = ps__json_get(payload, "line");
    ps__log(log_level_of(ps__json_get(payload, "severity")), "core", "%s",
            line && line->type == PS_JSON_STRING ? line->as.str.ptr : "");
  } else if (strcmp(name, "UpdateSyncStatus") == 0) {
    const struct ps__json_value *st = ps__json_get(payload, "status");
    const struct ps__json_value *connected = ps__json_get(st, "connected");
    if (it->hiding && connected && connected->type == PS_JSON_TRUE)
      it->hiding = 0;
    if (st && !it->hiding)
      ps__status_set_core(ps__db_status_hub(it->db), text + st->start,
                          st->end - st->start);
  } else if (strcmp(name, "EstablishSyncStream") == 0) {
    const struct ps__json_value *req = ps__json_get(payload, "request");
    if (!req || req->type != PS_JSON_OBJECT)
      return ps__error_set(POWERSYNC_EPROTOCOL,
                           "EstablishSyncStream without a request");
    if (it->request_body)
      return ps__error_set(POWERSYNC_EPROTOCOL,
                           "EstablishSyncStream while a stream is open");
    it->request_body = malloc(req->end - req->start + 1);
    if (!it->request_body)
      return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
    memcpy(it->request_body, text + req->start, req->end - req->start);
    it->request_body[req->end - req->start] = '\0';
  } else if (strcmp(name, "FetchCredentials") == 0) {
    if (json_true(ps__json_get(payload, "did_expire")))
      ps__sync_invalidate_credentials(c);
    else
      ps__sync_request_prefetch(c);
  } else if (strcmp(name, "CloseSyncStream") == 0) {
    it->close_requested = 1;
    it->hide_disconnect = json_true(ps__json_get(payload, "hide_disconnect"));
  } else if (strcmp(name, "DidCompleteSync") == 0) {
    ps__status_set_download_error(ps__db_status_hub(it->db), NULL);
  } else if (strcmp(name, "FlushFileSystem") != 0 &&
             strcmp(name, "HandleDiagnostics") != 0) {
    ps__log(POWERSYNC_LOG_DEBUG, "sync", "ignoring instruction %s", name);
  }
  return POWERSYNC_OK;
}

static int execute_instructions(struct iteration *it, const char *text) {
  struct ps__arena arena;
  struct ps__json_value *root;
  char err[128];
  size_t i;
  int rc = POWERSYNC_OK;
  if (!text)
    return POWERSYNC_OK;
  ps__arena_init(&arena, 0);
  root = ps__json_parse(&arena, text, strlen(text), err, sizeof(err));
  if (!root || root->type != PS_JSON_ARRAY) {
    ps__arena_free(&arena);
    return ps__error_set(POWERSYNC_EPROTOCOL,
                         "unreadable instructions from the core: %s",
                         root ? "not an array" : err);
  }
  for (i = 0; i < root->as.arr.count && rc == POWERSYNC_OK; i++) {
    const struct ps__json_value *ins = root->as.arr.items[i];
    if (ins->type != PS_JSON_OBJECT || ins->as.obj.count != 1)
      continue;
    rc = execute_instruction(it, text, ins->as.obj.members[0].key,
                             ins->as.obj.members[0].value);
  }
  ps__arena_free(&arena);
  return rc;
}

/* powersync_control, then its instructions. */
static int control(struct iteration *it, const char *op, const void *payload,
                   size_t len, int is_blob) {
  char *result = NULL;
  int rc = ps__sync_control(it->db, op, payload, len, is_blob, &result);
  if (rc == POWERSYNC_OK)
    rc = execute_instructions(it, result);
  free(result);
  return rc;
}

static int control_text(struct iteration *it, const char *op,
                        const char *payload) {
  return control(it, op, payload, payload ? strlen(payload) : 0, 0);
}

/* --- Start ------------------------------------------------------------------
 */

/* The "start" payload (sdk.md 9.1). */
static char *start_payload(struct ps__sync_client *c) {
  struct ps__buf b;
  char *schema = ps__db_schema_json(c->db);
  char *streams = ps__streams_active_json(ps__db_streams(c->db));
  ps__buf_init(&b, 0);
  ps__buf_printf(&b, "{\"parameters\":%s", c->params_json);
  if (schema)
    ps__buf_printf(&b, ",\"schema\":%s", schema);
  ps__buf_printf(&b, ",\"include_defaults\":%s,\"active_streams\":%s",
                 c->include_defaults ? "true" : "false",
                 streams ? streams : "[]");
  if (c->app_metadata_json)
    ps__buf_printf(&b, ",\"app_metadata\":%s", c->app_metadata_json);
  ps__buf_putc(&b, '}');
  free(schema);
  free(streams);
  if (ps__buf_failed(&b)) {
    ps__buf_free(&b);
    return NULL;
  }
  return ps__buf_take(&b);
}

/* --- Events from other tasks ------------------------------------------------
 */

static int handle_events(struct iteration *it) {
  struct ps__sync_client *c = it->c;
  unsigned int events;
  int rc = POWERSYNC_OK;
  ps__sync_lock(c);
  events = c->events;
  c->events = 0;
  ps__sync_unlock(c);
  /* Once an event made the core end the iteration, the rest are moot (the
   * next iteration starts from the current state anyway). */
  if (events & PS_EVENT_COMPLETED_UPLOAD)
    rc = control_text(it, "completed_upload", NULL);
  if (rc == POWERSYNC_OK && !it->close_requested &&
      (events & PS_EVENT_REFRESHED_TOKEN))
    rc = control_text(it, "refreshed_token", NULL);
  if (rc == POWERSYNC_OK && !it->close_requested &&
      (events & PS_EVENT_SUBSCRIPTIONS)) {
    char *active = ps__streams_active_json(ps__db_streams(it->db));
    if (!active)
      return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
    rc = control_text(it, "update_subscriptions", active);
    free(active);
  }
  return rc;
}

/* --- The HTTP stream --------------------------------------------------------
 */

/* Opens POST /sync/stream with the core's request body. */
static int open_stream(struct iteration *it) {
  struct ps__sync_client *c = it->c;
  char *endpoint = NULL, *token = NULL, *url = NULL, *auth = NULL;
  powersync_http_header headers[5];
  powersync_http_request req;
  void *stream = NULL;
  size_t auth_len;
  int rc = ps__sync_credentials(c, &endpoint, &token);
  if (rc != POWERSYNC_OK)
    return rc;
  url = ps__http_join(endpoint, "/sync/stream");
  auth_len = strlen(token) + sizeof("Token ");
  auth = url ? malloc(auth_len) : NULL;
  if (!url) {
    rc = powersync_error_last()->code;
  } else if (!auth) {
    rc = ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  } else {
    snprintf(auth, auth_len, "Token %s", token);
    headers[0] = (powersync_http_header){"Content-Type", "application/json"};
    headers[1] = (powersync_http_header){"Authorization", auth};
    headers[2] = (powersync_http_header){
        "Accept",
        c->format == POWERSYNC_SYNC_FORMAT_BSON ? ACCEPT_BSON : ACCEPT_NDJSON};
    headers[3] = (powersync_http_header){"User-Agent", ps__http_user_agent()};
    headers[4] = (powersync_http_header){"X-User-Agent", ps__http_user_agent()};
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = url;
    req.headers = headers;
    req.header_count = 5;
    req.body = it->request_body;
    req.body_size = strlen(it->request_body);
    req.read_timeout_ms = c->read_timeout_ms;
    req.accept_gzip = c->accept_gzip;
    ps__callback_error_reset();
    rc = c->transport.open(c->transport.user_data, &req, &stream);
    if (rc != POWERSYNC_OK)
      ps__http_transport_failed(rc, &req);
  }
  if (rc == POWERSYNC_OK) {
    rc = ps__cancel_attach(&c->download_cancel, &c->transport, stream);
    if (rc != POWERSYNC_OK) {
      c->transport.close(stream);
    } else {
      it->stream = stream;
      ps__sync_lock(c);
      c->download_stream = stream;
      /* Events posted before the stream existed could not wake it. */
      if (c->events)
        c->transport.wake(stream);
      ps__sync_unlock(c);
    }
  }
  free(endpoint);
  if (token)
    memset(token, 0, strlen(token));
  free(token);
  if (auth)
    memset(auth, 0, strlen(auth));
  free(auth);
  it->url = url;
  return rc;
}

/* A failed transport call: its message, or one naming the request. */
static int stream_failed(struct iteration *it, int rc) {
  powersync_http_request req;
  memset(&req, 0, sizeof(req));
  req.method = "POST";
  req.url = it->url;
  return ps__http_transport_failed(rc, &req);
}

static void close_stream(struct iteration *it) {
  struct ps__sync_client *c = it->c;
  if (!it->stream)
    return;
  ps__sync_lock(c);
  c->download_stream = NULL;
  ps__sync_unlock(c);
  ps__cancel_detach(&c->download_cancel);
  c->transport.close(it->stream);
  it->stream = NULL;
}

/* The message of a non-200 answer: the service's error JSON when it is one
 * ({"error":{"code","description"}}), else the start of the body. */
static int http_error(struct iteration *it, int status) {
  char body[PS_ERROR_BODY_MAX + 1];
  size_t len = 0, n = 0;
  struct ps__arena arena;
  const struct ps__json_value *root, *err, *code, *desc;
  int rc;
  while (len < PS_ERROR_BODY_MAX) {
    rc = it->c->transport.read(it->stream, body + len, PS_ERROR_BODY_MAX - len,
                               &n);
    /* A wake for an unrelated event (a write to upload, a subscription)
     * interrupts the read; only a disconnect gives up on the message. */
    if (rc == POWERSYNC_EINTR && !ps__sync_stopping(it->c))
      continue;
    if (rc != POWERSYNC_OK || n == 0)
      break;
    len += n;
  }
  body[len] = '\0';
  if (status == 401)
    ps__sync_invalidate_credentials(it->c);
  ps__arena_init(&arena, 0);
  root = ps__json_parse(&arena, body, len, NULL, 0);
  err = ps__json_get(root, "error");
  code = ps__json_get(err, "code");
  desc = ps__json_get(err, "description");
  if (code && desc && code->type == PS_JSON_STRING &&
      desc->type == PS_JSON_STRING)
    rc = ps__error_set(status == 401 ? POWERSYNC_EAUTH : POWERSYNC_EHTTP,
                       "sync stream: HTTP %d: %s %s", status, code->as.str.ptr,
                       desc->as.str.ptr);
  else
    rc = ps__error_set(status == 401 ? POWERSYNC_EAUTH : POWERSYNC_EHTTP,
                       "sync stream: HTTP %d%s%.200s", status, len ? ": " : "",
                       body);
  ps__arena_free(&arena);
  return rc;
}

/* Waits for the response head, handling events meanwhile. */
static int await_response(struct iteration *it, powersync_http_response *resp) {
  for (;;) {
    int rc;
    ps__callback_error_reset();
    rc = it->c->transport.response(it->stream, resp);
    if (rc != POWERSYNC_EINTR)
      return rc == POWERSYNC_OK ? rc : stream_failed(it, rc);
    if (ps__sync_stopping(it->c))
      return rc;
    rc = handle_events(it);
    if (rc != POWERSYNC_OK || it->close_requested)
      return rc;
  }
}

/* Hands every complete frame to the core. */
static int apply_frames(struct iteration *it, int binary) {
  const unsigned char *frame;
  size_t len;
  int r;
  while (!it->close_requested &&
         (r = ps__framer_next(&it->framer, &frame, &len)) == PS_FRAMER_FRAME) {
    int rc =
        control(it, binary ? "line_binary" : "line_text", frame, len, binary);
    if (rc != POWERSYNC_OK)
      return rc;
    if (it->lines_seen++ == 0) /* Offline writes go out once online. */
      ps__sync_request_upload(it->c);
  }
  if (it->close_requested)
    return POWERSYNC_OK;
  if (r < 0)
    return ps__error_set(POWERSYNC_EPROTOCOL, "sync stream: %s",
                         ps__framer_errmsg(&it->framer));
  return POWERSYNC_OK;
}

/* Reads the body until it ends, fails or the core closes the stream. */
static int read_body(struct iteration *it, int binary) {
  unsigned char *buf = malloc(PS_READ_CHUNK);
  int rc = POWERSYNC_OK;
  if (!buf)
    return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  while (rc == POWERSYNC_OK && !it->close_requested) {
    size_t n = 0;
    rc = handle_events(it);
    if (rc != POWERSYNC_OK || it->close_requested)
      break;
    ps__callback_error_reset();
    rc = it->c->transport.read(it->stream, buf, PS_READ_CHUNK, &n);
    if (rc == POWERSYNC_EINTR) {
      rc = ps__sync_stopping(it->c) ? POWERSYNC_EINTR : POWERSYNC_OK;
      continue;
    }
    if (rc != POWERSYNC_OK) {
      stream_failed(it, rc);
      break;
    }
    if (n == 0) {
      ps__framer_finish(&it->framer);
      rc = apply_frames(it, binary);
      if (rc == POWERSYNC_OK && !it->close_requested)
        rc = control_text(it, "connection", "end");
      break;
    }
    if (ps__framer_feed(&it->framer, buf, n) < 0) {
      rc = ps__error_set(POWERSYNC_EPROTOCOL, "sync stream: %s",
                         ps__framer_errmsg(&it->framer));
      break;
    }
    rc = apply_frames(it, binary);
  }
  free(buf);
  return rc;
}

/* --- One iteration ----------------------------------------------------------
 */

static int stream_and_apply(struct iteration *it) {
  powersync_http_response resp;
  int binary;
  int rc = open_stream(it);
  if (rc != POWERSYNC_OK)
    return rc;
  rc = await_response(it, &resp);
  if (rc != POWERSYNC_OK || it->close_requested)
    return rc;
  if (resp.status != 200)
    return http_error(it, resp.status);
  /* The response decides the format, not what we asked for (5.2). */
  binary = strstr(resp.content_type, "vnd.powersync.bson-stream") != NULL;
  ps__framer_init(&it->framer, binary ? PS_FRAMER_BSON : PS_FRAMER_NDJSON, 0);
  it->framer_ready = 1;
  ps__log(POWERSYNC_LOG_DEBUG, "sync", "stream established (%s)",
          binary ? "BSON" : "NDJSON");
  rc = control_text(it, "connection", "established");
  if (rc == POWERSYNC_OK && !it->close_requested)
    rc = read_body(it, binary);
  return rc;
}

/* Runs one iteration; returns its error (POWERSYNC_OK for a clean end)
 * with the thread's error set. *hide_disconnect: in, whether this
 * iteration renews the previous one invisibly; out, whether the next one
 * should. */
static int run_iteration(struct ps__sync_client *c, int *hide_disconnect) {
  struct iteration it;
  char *payload;
  int rc, src;
  memset(&it, 0, sizeof(it));
  it.c = c;
  it.db = c->db;
  it.hiding = *hide_disconnect;
  ps__sync_lock(c);
  c->iteration_active = 1;
  c->iteration_gen++;
  c->events = 0; /* Meant for an iteration that is over. */
  ps__sync_unlock(c);

  payload = start_payload(c);
  rc = payload ? control_text(&it, "start", payload)
               : ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  free(payload);
  if (rc == POWERSYNC_OK && !it.close_requested) {
    if (!it.request_body)
      rc = ps__error_set(POWERSYNC_EPROTOCOL,
                         "the core did not ask for a sync stream");
    else
      rc = stream_and_apply(&it);
  }

  {
    /* Keep this iteration's error while "stop" runs. */
    powersync_error saved = *powersync_error_last();
    char message[512];
    snprintf(message, sizeof(message), "%s", saved.message);
    close_stream(&it);
    ps__sync_lock(c);
    c->iteration_active = 0;
    c->events = 0;
    ps__sync_unlock(c);
    src = control_text(&it, "stop", NULL);
    if (src != POWERSYNC_OK)
      ps__log(POWERSYNC_LOG_WARN, "sync", "stop failed: %s",
              powersync_error_last()->message);
    ps__error_set(saved.code, "%s", message);
  }
  if (it.framer_ready)
    ps__framer_free(&it.framer);
  free(it.request_body);
  free(it.url);
  *hide_disconnect = it.close_requested && it.hide_disconnect;
  return rc;
}

void ps__sync_download_task(struct ps__sync_client *c) {
  struct ps__status_hub *hub = ps__db_status_hub(c->db);
  int hide = 0;
  while (!ps__sync_stopping(c)) {
    int rc = run_iteration(c, &hide);
    if (ps__sync_stopping(c))
      break;
    if (hide)
      continue;
    if (rc != POWERSYNC_OK) {
      const char *message = powersync_error_last()->message;
      ps__log(POWERSYNC_LOG_WARN, "sync", "sync iteration failed: %s", message);
      ps__status_set_download_error(hub, message);
    }
    ps__status_set_disconnected(hub);
    if (ps__sync_retry_wait(c))
      break;
  }
}
