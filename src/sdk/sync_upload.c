/*
 * sync_upload.c: the upload task (sdk.md 11.4-11.6).
 *
 * A round runs at connect, after each commit that touched the upload queue
 * (throttled) and after the first line of every download iteration. It
 * calls the connector's upload_data while the queue is not empty, retrying
 * failures after the retry delay for as long as the client stays
 * connected, so uploads never stall while entries remain (the bug of other
 * SDKs where uploads waited for the next local write). A callback that
 * returns success without completing the head of the queue is caught the
 * second time round and treated as a failure instead of spinning.
 *
 * When the queue is empty the round asks the service for a write
 * checkpoint and installs it as the local target, guarded by the ps_crud
 * sequence so that writes made meanwhile are never skipped; the download
 * iteration is then told "completed_upload" so a checkpoint held back for
 * the uploads can apply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "sync_client.h"
#include "util/arena.h"

#define PS_MAX_OP_ID           INT64_MAX
#define PS_CHECKPOINT_BODY_MAX 65536

/* --- Transactions that keep their callback's error -------------------------
 */

/* powersync_db_*_transaction report a failing callback as POWERSYNC_EUSER;
 * the callbacks here fail with SQLite or core errors worth keeping. */
struct tx_call {
  int (*fn)(sqlite3 *conn, void *arg);
  void *arg;
  int rc;
  char message[512];
};

static int tx_trampoline(sqlite3 *conn, void *user_data) {
  struct tx_call *t = user_data;
  t->rc = t->fn(conn, t->arg);
  if (t->rc == POWERSYNC_OK)
    return 0;
  snprintf(t->message, sizeof(t->message), "%s",
           powersync_error_last()->message);
  return 1;
}

static int run_tx(powersync_db *db, int write,
                  int (*fn)(sqlite3 *conn, void *arg), void *arg) {
  struct tx_call t;
  int rc;
  memset(&t, 0, sizeof(t));
  t.fn = fn;
  t.arg = arg;
  rc = write ? powersync_db_write_transaction(db, tx_trampoline, &t)
             : powersync_db_read_transaction(db, tx_trampoline, &t);
  if (rc == POWERSYNC_EUSER && t.rc != POWERSYNC_OK)
    return ps__error_set(t.rc, "%s", t.message);
  return rc;
}

/* --- Reading the queue ------------------------------------------------------
 */

struct queue_head {
  int has;
  int64_t id;
};

static int read_head_cb(sqlite3 *conn, void *user_data) {
  struct queue_head *h = user_data;
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(
      conn, "SELECT id FROM ps_crud ORDER BY id LIMIT 1", -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return ps__error_sqlite(conn, rc);
  rc = sqlite3_step(stmt);
  h->has = rc == SQLITE_ROW;
  if (h->has)
    h->id = sqlite3_column_int64(stmt, 0);
  rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? POWERSYNC_OK
                                             : ps__error_sqlite(conn, rc);
  sqlite3_finalize(stmt);
  return rc;
}

/* Runs a one-value query; *has is 0 when it returned no row or NULL. */
static int query_int(sqlite3 *conn, const char *sql, int64_t bind, int *has,
                     int64_t *out) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(conn, sql, -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return ps__error_sqlite(conn, rc);
  if (sqlite3_bind_parameter_count(stmt) > 0)
    sqlite3_bind_int64(stmt, 1, bind);
  rc = sqlite3_step(stmt);
  *has = rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL;
  if (*has)
    *out = sqlite3_column_int64(stmt, 0);
  rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? POWERSYNC_OK
                                             : ps__error_sqlite(conn, rc);
  sqlite3_finalize(stmt);
  return rc;
}

static const char SQL_TARGET[] =
    "SELECT CAST(powersync_control('target_checkpoint_request_id', NULL) "
    "AS INTEGER)";
static const char SQL_SEQ[] =
    "SELECT seq FROM main.sqlite_sequence WHERE name = 'ps_crud'";
static const char SQL_NOT_EMPTY[] = "SELECT EXISTS (SELECT 1 FROM ps_crud)";
static const char SQL_SET_TARGET[] =
    "SELECT powersync_control('target_checkpoint_request_id', ?1)";

/* Step 1 and 2 of 11.6: whether a checkpoint is needed, and the queue's
 * sequence at this moment. */
struct checkpoint_need {
  int needed;
  int64_t seq_before;
};

static int read_need_cb(sqlite3 *conn, void *user_data) {
  struct checkpoint_need *n = user_data;
  int has = 0;
  int64_t target = 0;
  int rc = query_int(conn, SQL_TARGET, 0, &has, &target);
  n->needed = 0;
  if (rc != POWERSYNC_OK || !has || target != PS_MAX_OP_ID)
    return rc;
  rc = query_int(conn, SQL_SEQ, 0, &has, &n->seq_before);
  n->needed = rc == POWERSYNC_OK && has;
  return rc;
}

/* Step 4: install the checkpoint unless writes arrived meanwhile. */
struct checkpoint_apply {
  int64_t seq_before;
  int64_t checkpoint;
  int applied;
};

static int apply_checkpoint_cb(sqlite3 *conn, void *user_data) {
  struct checkpoint_apply *a = user_data;
  int has = 0;
  int64_t v = 0;
  int rc = query_int(conn, SQL_NOT_EMPTY, 0, &has, &v);
  if (rc != POWERSYNC_OK || v)
    return rc;
  rc = query_int(conn, SQL_SEQ, 0, &has, &v);
  if (rc != POWERSYNC_OK || !has || v != a->seq_before)
    return rc;
  rc = query_int(conn, SQL_SET_TARGET, a->checkpoint, &has, &v);
  a->applied = rc == POWERSYNC_OK;
  return rc;
}

/* --- The write checkpoint request -------------------------------------------
 */

static void append_url_encoded(struct ps__buf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
        (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
        ch == '~') {
      ps__buf_putc(b, (char)ch);
    } else {
      ps__buf_putc(b, '%');
      ps__buf_putc(b, hex[ch >> 4]);
      ps__buf_putc(b, hex[ch & 15]);
    }
  }
}

/* A positive decimal op id below MAX_OP_ID (which means "uploads pending"
 * locally and must never be installed as a checkpoint): digits only. */
static int parse_op_id(const char *s, int64_t *out) {
  uint64_t v = 0;
  size_t i;
  if (!*s || strlen(s) > 19)
    return 0;
  for (i = 0; s[i]; i++) {
    if (s[i] < '0' || s[i] > '9')
      return 0;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  if (v == 0 || v >= (uint64_t)PS_MAX_OP_ID)
    return 0;
  *out = (int64_t)v;
  return 1;
}

/* {"data":{"write_checkpoint":"<decimal>"}} (protocol.md 7.2). */
static int parse_write_checkpoint(const char *body, int64_t *out) {
  struct ps__arena arena;
  const struct ps__json_value *root, *v;
  int rc = POWERSYNC_EPROTOCOL;
  ps__arena_init(&arena, 0);
  root = ps__json_parse(&arena, body, strlen(body), NULL, 0);
  v = ps__json_get(ps__json_get(root, "data"), "write_checkpoint");
  if (v && v->type == PS_JSON_STRING && parse_op_id(v->as.str.ptr, out))
    rc = POWERSYNC_OK;
  else if (v && v->type == PS_JSON_INT && v->as.i > 0 &&
           v->as.i < PS_MAX_OP_ID) {
    *out = v->as.i;
    rc = POWERSYNC_OK;
  }
  ps__arena_free(&arena);
  if (rc != POWERSYNC_OK)
    return ps__error_set(rc, "write checkpoint: unexpected response %.200s",
                         body);
  return rc;
}

static int request_write_checkpoint(struct ps__sync_client *c, int64_t *out) {
  char *endpoint = NULL, *token = NULL, *url = NULL, *auth = NULL, *body = NULL;
  const char *client_id = powersync_db_client_id(c->db);
  struct ps__buf path;
  powersync_http_header headers[4];
  powersync_http_request req;
  int status = 0, rc, path_failed;
  if (!client_id)
    return powersync_error_last()->code;
  rc = ps__sync_credentials(c, &endpoint, &token);
  if (rc != POWERSYNC_OK)
    return rc;
  ps__buf_init(&path, 0);
  ps__buf_puts(&path, "/write-checkpoint2.json?client_id=");
  append_url_encoded(&path, client_id);
  path_failed = ps__buf_failed(&path);
  url = path_failed ? NULL : ps__http_join(endpoint, ps__buf_cstr(&path));
  ps__buf_free(&path);
  if (url) {
    size_t len = strlen(token) + sizeof("Token ");
    auth = malloc(len);
    if (auth)
      snprintf(auth, len, "Token %s", token);
  }
  if (!url) {
    rc = path_failed || powersync_error_last()->code == POWERSYNC_OK
             ? ps__error_set(POWERSYNC_ENOMEM, "out of memory")
             : powersync_error_last()->code;
  } else if (!auth) {
    rc = ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  } else {
    headers[0] = (powersync_http_header){"Authorization", auth};
    headers[1] = (powersync_http_header){"Accept", "application/json"};
    headers[2] = (powersync_http_header){"User-Agent", ps__http_user_agent()};
    headers[3] = (powersync_http_header){"X-User-Agent", ps__http_user_agent()};
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = url;
    req.headers = headers;
    req.header_count = 4;
    req.read_timeout_ms = c->read_timeout_ms;
    req.accept_gzip = c->accept_gzip;
    rc = ps__http_fetch(&c->transport, &req, PS_CHECKPOINT_BODY_MAX,
                        &c->upload_cancel, &status, &body);
  }
  if (rc == POWERSYNC_OK && status == 401) {
    ps__sync_invalidate_credentials(c);
    rc = ps__error_set(POWERSYNC_EAUTH, "write checkpoint: HTTP 401: %.200s",
                       body);
  } else if (rc == POWERSYNC_OK && status != 200) {
    rc = ps__error_set(POWERSYNC_EHTTP, "write checkpoint: HTTP %d: %.200s",
                       status, body);
  } else if (rc == POWERSYNC_OK) {
    rc = parse_write_checkpoint(body, out);
  }
  free(endpoint);
  if (token)
    memset(token, 0, strlen(token));
  free(token);
  if (auth)
    memset(auth, 0, strlen(auth));
  free(auth);
  free(url);
  free(body);
  return rc;
}

/* 11.6. An aborted attempt (writes arrived) is not an error: the round
 * those writes trigger repeats it. */
static int update_local_target(struct ps__sync_client *c) {
  struct checkpoint_need need = {0, 0};
  struct checkpoint_apply apply = {0, 0, 0};
  int rc = run_tx(c->db, 1, read_need_cb, &need);
  if (rc != POWERSYNC_OK || !need.needed)
    return rc;
  rc = request_write_checkpoint(c, &apply.checkpoint);
  if (rc != POWERSYNC_OK)
    return rc;
  apply.seq_before = need.seq_before;
  rc = run_tx(c->db, 1, apply_checkpoint_cb, &apply);
  if (rc == POWERSYNC_OK)
    ps__log(POWERSYNC_LOG_DEBUG, "sync",
            apply.applied ? "write checkpoint %lld installed"
                          : "write checkpoint %lld skipped: new local writes",
            (long long)apply.checkpoint);
  return rc;
}

/* --- Rounds -----------------------------------------------------------------
 */

static int call_upload(struct ps__sync_client *c) {
  char message[512];
  int r;
  ps__callback_error_reset();
  r = c->connector.upload_data(c->connector.user_data, c->db);
  if (r == 0)
    return POWERSYNC_OK;
  if (!ps__callback_error_take(message, sizeof(message)))
    snprintf(message, sizeof(message), "returned %d", r);
  return ps__error_set(POWERSYNC_EUSER, "upload_data failed: %s", message);
}

/* One step of a round: upload while entries remain, then the write
 * checkpoint. *done is set when the round is over. */
static int upload_step(struct ps__sync_client *c, int64_t *last_checked,
                       int *done) {
  struct ps__status_hub *hub = ps__db_status_hub(c->db);
  struct queue_head head = {0, 0};
  int rc = run_tx(c->db, 0, read_head_cb, &head);
  if (rc != POWERSYNC_OK)
    return rc;
  if (!head.has) {
    rc = update_local_target(c);
    if (rc == POWERSYNC_OK) {
      ps__sync_post_event(c, PS_EVENT_COMPLETED_UPLOAD);
      *done = 1;
    }
    return rc;
  }
  if (!c->connector.upload_data) {
    *done = 1; /* A read-only client: writes stay queued. */
    return POWERSYNC_OK;
  }
  if (*last_checked == head.id) {
    ps__log(POWERSYNC_LOG_WARN, "sync",
            "potentially previously uploaded CRUD entries are still present "
            "in the upload queue; make sure upload_data completes them");
    return ps__error_set(POWERSYNC_ERROR, "Delaying due to previously "
                                          "encountered CRUD item.");
  }
  *last_checked = head.id;
  ps__status_set_uploading(hub, 1);
  rc = call_upload(c);
  if (rc == POWERSYNC_OK)
    ps__status_set_upload_error(hub, NULL);
  return rc;
}

static void upload_round(struct ps__sync_client *c) {
  struct ps__status_hub *hub = ps__db_status_hub(c->db);
  int64_t last_checked = -1;
  int done = 0;
  while (!done && !ps__sync_stopping(c)) {
    int rc = upload_step(c, &last_checked, &done);
    if (rc == POWERSYNC_OK)
      continue;
    if (ps__sync_stopping(c))
      break;
    ps__log(POWERSYNC_LOG_WARN, "sync", "upload failed: %s",
            powersync_error_last()->message);
    ps__status_set_upload_error(hub, powersync_error_last()->message);
    ps__status_set_uploading(hub, 0);
    last_checked = -1;
    if (ps__sync_retry_wait(c))
      break;
  }
  ps__status_set_uploading(hub, 0);
}

void ps__sync_upload_task(struct ps__sync_client *c) {
  int64_t not_before = 0;
  ps__sync_lock(c);
  while (!c->stopping) {
    int64_t now = ps__now_ms();
    if (!c->upload_requested) {
      ps__sync_wait_locked(c, -1);
      continue;
    }
    if (now < not_before) {
      ps__sync_wait_locked(c, not_before - now);
      continue;
    }
    c->upload_requested = 0;
    ps__sync_unlock(c);
    upload_round(c);
    not_before = ps__now_ms() + c->upload_throttle_ms;
    ps__sync_lock(c);
  }
  ps__sync_unlock(c);
}
