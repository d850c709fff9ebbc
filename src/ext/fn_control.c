/*
 * fn_control.c: powersync_control(op, payload), the entry point of the sync
 * client, and powersync_offline_sync_status() (core-storage.md 2.4.9, 9.3;
 * core-sync.md section 4).
 *
 * Usage:
 *
 *   BEGIN;
 *   SELECT powersync_control('target_checkpoint_request_id', NULL); -- read
 *   SELECT powersync_control('target_checkpoint_request_id', 12);   -- set
 *   SELECT powersync_control('target_checkpoint_request_id', 0);    -- delete
 *   SELECT powersync_control('current_checkpoint_request_id', NULL);
 *   COMMIT;
 *   SELECT powersync_offline_sync_status();
 *   -- {"connected":false,"connecting":false,"priority_status":[],
 *   --  "downloading":null,"streams":[]}
 *
 * HOW IT WORKS
 *
 * powersync_control checks for a transaction before anything else, then
 * requires op to be TEXT and looks it up in control_ops[], a table of
 * operation names and handlers. The operations on the checkpoint-request
 * keys of ps_kv are implemented here; the operations of the sync engine
 * (start, stop, line_text, ..., subscriptions) are handed to
 * ps__sync_command (sync_client.c).
 *
 * The official core creates a per-connection "storage adapter" (cached
 * statements on ps_buckets and ps_stream_subscriptions) before it runs these
 * operations and powersync_offline_sync_status, so they fail with
 * "no such table" before powersync_init(). control_ensure_storage() creates
 * the sync engine's statement cache at the same moment (ps__sync_get), which
 * prepares the same statements first and touches powersync_internal_close,
 * so that the cache is released before the connection closes.
 */
#include <stdint.h>
#include <string.h>

#include "../core/json.h"
#include "../util/arena.h"
#include "../util/buf.h"
#include "error.h"
#include "register.h"
#include "sql.h"
#include "sqlite_api.h"
#include "state.h"
#include "sync_engine.h"

#define CONTROL_FN_NAME "powersync_control"
#define STATUS_FN_NAME  "powersync_offline_sync_status"

/* ps_kv keys of the checkpoint-request protocol (core-storage.md 9.3). */
#define KV_TARGET    "target_checkpoint_request_id"
#define KV_REQUESTED "last_requested_checkpoint_request_id"

/* Limits the memory a stream's local_params may take while it is validated;
 * far above any real parameter object. */
#define STATUS_PARAMS_ARENA_MAX ((size_t)64 << 20)

static const char SQL_KV_GET[] = "SELECT value FROM ps_kv WHERE key = ?1";
static const char SQL_KV_DELETE[] = "DELETE FROM ps_kv WHERE key = ?1";
static const char SQL_KV_SET[] =
    "INSERT INTO ps_kv(key, value)\n"
    "VALUES(?1, ?2)\n"
    "ON CONFLICT(key) DO UPDATE SET value = excluded.value";
static const char SQL_KV_INCREMENT[] =
    "INSERT INTO ps_kv(key, value)\n"
    "VALUES(?1, 1)\n"
    "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1\n"
    "RETURNING value";

static const char SQL_STATUS_PRIORITIES[] =
    "SELECT priority, last_synced_at FROM ps_sync_state ORDER BY priority";
static const char SQL_STATUS_STREAMS[] =
    "SELECT * FROM ps_stream_subscriptions ORDER BY id ASC";

/* Column indexes of SELECT * FROM ps_stream_subscriptions. */
#define STREAMS_COLUMN_NAME           1
#define STREAMS_COLUMN_ACTIVE         2
#define STREAMS_COLUMN_IS_DEFAULT     3
#define STREAMS_COLUMN_LOCAL_PARAMS   5
#define STREAMS_COLUMN_TTL            6
#define STREAMS_COLUMN_EXPIRES_AT     7
#define STREAMS_COLUMN_LAST_SYNCED_AT 8

/* ---- Shared helpers ---------------------------------------------------- */

/* Creates the sync engine's statement cache, as the official core creates
 * its storage adapter before these operations (see HOW IT WORKS). */
static int control_ensure_storage(struct ps__state *st, struct ps__err *e) {
  return ps__sync_get(st, e) ? SQLITE_OK : e->code;
}

/* Reads an integer ps_kv value: *found is 0 without a row; a row's value is
 * converted as sqlite3_column_int64 does (NULL and non-numeric text give 0),
 * like the official core. */
static int kv_get_int(sqlite3 *db, const char *key, int *found, int64_t *out,
                      struct ps__err *e) {
  sqlite3_stmt *stmt;
  int rc = ps__prepare(db, SQL_KV_GET, &stmt, e);
  if (rc != SQLITE_OK)
    return rc;
  sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
  rc = ps__step(stmt, e);
  *found = rc == SQLITE_ROW;
  if (rc == SQLITE_ROW)
    *out = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int kv_set_int(sqlite3 *db, const char *key, int64_t value,
                      struct ps__err *e) {
  sqlite3_stmt *stmt;
  int rc = ps__prepare(db, SQL_KV_SET, &stmt, e);
  if (rc != SQLITE_OK)
    return rc;
  sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_int64(stmt, 2, value);
  rc = ps__step_all(stmt, e);
  sqlite3_finalize(stmt);
  return rc;
}

static int kv_delete(sqlite3 *db, const char *key, struct ps__err *e) {
  sqlite3_stmt *stmt;
  int rc = ps__prepare(db, SQL_KV_DELETE, &stmt, e);
  if (rc != SQLITE_OK)
    return rc;
  sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
  rc = ps__step_all(stmt, e);
  sqlite3_finalize(stmt);
  return rc;
}

/* Parses a signed 64-bit decimal as Rust's i64::from_str does: an optional
 * sign, then one or more ASCII digits, nothing else; overflow fails. */
static int parse_i64(const char *s, size_t len, int64_t *out) {
  size_t i = 0;
  int negative = 0;
  uint64_t limit, value = 0;
  if (len > 0 && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    i = 1;
  }
  if (i == len)
    return -1;
  limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (; i < len; i++) {
    unsigned digit;
    if (s[i] < '0' || s[i] > '9')
      return -1;
    digit = (unsigned)(s[i] - '0');
    if (value > (limit - digit) / 10)
      return -1;
    value = value * 10 + digit;
  }
  if (negative)
    *out = value == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)value;
  else
    *out = (int64_t)value;
  return 0;
}

/* Reads a checkpoint request id payload: INTEGER, or TEXT holding a decimal.
 * Returns 1 with *out set, 0 for NULL (*absent), -1 for any other value. */
static int payload_request_id(sqlite3_value *v, int64_t *out) {
  switch (sqlite3_value_type(v)) {
  case SQLITE_NULL:
    return 0;
  case SQLITE_INTEGER:
    *out = sqlite3_value_int64(v);
    return 1;
  case SQLITE_TEXT: {
    const char *s = (const char *)sqlite3_value_text(v);
    size_t len = (size_t)sqlite3_value_bytes(v);
    return s && parse_i64(s, len, out) == 0 ? 1 : -1;
  }
  default:
    return -1;
  }
}

/* ---- powersync_control --------------------------------------------------- */

/* One call of powersync_control, handed to the operation's handler. */
struct control_call {
  sqlite3_context *ctx;
  struct ps__state *st;
  sqlite3 *db;
  const char *op;
  sqlite3_value *payload;
  struct ps__err err; /* Set by a failing handler, reported by the caller. */
};

typedef int (*control_handler)(struct control_call *call);

static void result_optional_int(sqlite3_context *ctx, int found,
                                int64_t value) {
  if (found)
    sqlite3_result_int64(ctx, value);
  else
    sqlite3_result_null(ctx);
}

/* Operations of the sync engine (sync_client.c). */
#define SYNC_HANDLER(fn, cmd)                                                  \
  static int fn(struct control_call *call) {                                   \
    return ps__sync_command(call->st, call->ctx, cmd, call->payload,           \
                            &call->err);                                       \
  }
SYNC_HANDLER(control_start, PS_SYNC_CMD_START)
SYNC_HANDLER(control_stop, PS_SYNC_CMD_STOP)
SYNC_HANDLER(control_line_text, PS_SYNC_CMD_LINE_TEXT)
SYNC_HANDLER(control_line_binary, PS_SYNC_CMD_LINE_BINARY)
SYNC_HANDLER(control_refreshed_token, PS_SYNC_CMD_REFRESHED_TOKEN)
SYNC_HANDLER(control_completed_upload, PS_SYNC_CMD_COMPLETED_UPLOAD)
SYNC_HANDLER(control_update_subscriptions, PS_SYNC_CMD_UPDATE_SUBSCRIPTIONS)
SYNC_HANDLER(control_connection, PS_SYNC_CMD_CONNECTION)
SYNC_HANDLER(control_subscriptions, PS_SYNC_CMD_SUBSCRIPTIONS)

static int control_require_iteration(struct control_call *call) {
  if (call->st->sync_iteration_active)
    return SQLITE_OK;
  ps__err_state(&call->err, "No iteration is active");
  return call->err.code;
}

/* target_checkpoint_request_id: NULL reads, 0 deletes, v > 0 stores the
 * local-write gate; returns the previous value (INTEGER) or NULL. */
static int control_target_request_id(struct control_call *call) {
  int64_t value = 0, previous = 0;
  int found = 0;
  int have = payload_request_id(call->payload, &value);
  int rc;
  if (have < 0) {
    ps__err_argument(&call->err,
                     "target checkpoint request id must be an integer, "
                     "integer string, or null",
                     NULL);
    return call->err.code;
  }
  if (have && value < 0) {
    ps__err_argument(&call->err,
                     "target checkpoint request id must be a non-negative "
                     "integer",
                     NULL);
    return call->err.code;
  }
  rc = control_ensure_storage(call->st, &call->err);
  if (rc == SQLITE_OK)
    rc = kv_get_int(call->db, KV_TARGET, &found, &previous, &call->err);
  if (rc == SQLITE_OK && have) {
    if (value == 0)
      rc = kv_delete(call->db, KV_TARGET, &call->err);
    else
      rc = kv_set_int(call->db, KV_TARGET, value, &call->err);
  }
  if (rc == SQLITE_OK)
    result_optional_int(call->ctx, found, previous);
  return rc;
}

/* current_checkpoint_request_id: the last allocated request id, or NULL. */
static int control_current_request_id(struct control_call *call) {
  int64_t value = 0;
  int found = 0;
  int rc = control_ensure_storage(call->st, &call->err);
  if (rc == SQLITE_OK)
    rc = kv_get_int(call->db, KV_REQUESTED, &found, &value, &call->err);
  if (rc == SQLITE_OK)
    result_optional_int(call->ctx, found, value);
  return rc;
}

/* seed_checkpoint_request_id: stores the id the service accepted as the
 * counter's start (needs an iteration, checked before the payload). */
static int control_seed_request_id(struct control_call *call) {
  int64_t value = 0;
  int have;
  int rc = control_require_iteration(call);
  if (rc != SQLITE_OK)
    return rc;
  have = payload_request_id(call->payload, &value);
  if (have <= 0) {
    ps__err_argument(&call->err,
                     "checkpoint request id must be an integer or integer "
                     "string",
                     NULL);
    return call->err.code;
  }
  if (value < 0) {
    ps__err_argument(&call->err,
                     "checkpoint request id must be a non-negative integer",
                     NULL);
    return call->err.code;
  }
  if (value == 0) {
    ps__err_argument(&call->err,
                     "checkpoint request id must be a positive integer", NULL);
    return call->err.code;
  }
  rc = control_ensure_storage(call->st, &call->err);
  if (rc == SQLITE_OK)
    rc = kv_set_int(call->db, KV_REQUESTED, value, &call->err);
  if (rc == SQLITE_OK)
    sqlite3_result_int64(call->ctx, value);
  return rc;
}

/* next_checkpoint_request_id: increments the seeded counter and returns the
 * new id (needs an iteration and a seeded counter). */
static int control_next_request_id(struct control_call *call) {
  sqlite3_stmt *stmt;
  int64_t value = 0;
  int found = 0;
  int rc = control_require_iteration(call);
  if (rc == SQLITE_OK)
    rc = control_ensure_storage(call->st, &call->err);
  if (rc == SQLITE_OK)
    rc = kv_get_int(call->db, KV_REQUESTED, &found, &value, &call->err);
  if (rc != SQLITE_OK)
    return rc;
  if (!found) {
    ps__err_state(&call->err, "Checkpoint request state has not been seeded");
    return call->err.code;
  }
  rc = ps__prepare(call->db, SQL_KV_INCREMENT, &stmt, &call->err);
  if (rc != SQLITE_OK)
    return rc;
  sqlite3_bind_text(stmt, 1, KV_REQUESTED, -1, SQLITE_STATIC);
  rc = ps__step(stmt, &call->err);
  if (rc == SQLITE_ROW) {
    sqlite3_result_int64(call->ctx, sqlite3_column_int64(stmt, 0));
    rc = SQLITE_OK;
  } else if (rc == SQLITE_DONE) {
    ps__err_set(&call->err, SQLITE_INTERNAL,
                "Internal PowerSync error. cause: unknown");
    rc = call->err.code;
  }
  sqlite3_finalize(stmt);
  return rc;
}

/* Every operation of the official core (case-sensitive names). */
static const struct control_op {
  const char *name;
  control_handler handler;
} control_ops[] = {
    {"start", control_start},
    {"stop", control_stop},
    {"line_text", control_line_text},
    {"line_binary", control_line_binary},
    {"refreshed_token", control_refreshed_token},
    {"completed_upload", control_completed_upload},
    {"update_subscriptions", control_update_subscriptions},
    {"connection", control_connection},
    {"subscriptions", control_subscriptions},
    {"seed_checkpoint_request_id", control_seed_request_id},
    {"next_checkpoint_request_id", control_next_request_id},
    {"target_checkpoint_request_id", control_target_request_id},
    {"current_checkpoint_request_id", control_current_request_id},
};

static control_handler control_find(const char *op, size_t len) {
  size_t i;
  for (i = 0; i < sizeof(control_ops) / sizeof(control_ops[0]); i++) {
    const char *name = control_ops[i].name;
    if (strlen(name) == len && memcmp(name, op, len) == 0)
      return control_ops[i].handler;
  }
  return NULL;
}

static void powersync_control(sqlite3_context *ctx, int argc,
                              sqlite3_value **argv) {
  struct control_call call;
  control_handler handler = NULL;
  int rc;
  (void)argc;
  if (!ps__require_transaction(ctx, CONTROL_FN_NAME))
    return;
  call.ctx = ctx;
  call.st = sqlite3_user_data(ctx);
  call.db = sqlite3_context_db_handle(ctx);
  call.payload = argv[1];
  call.op = NULL;
  ps__err_init(&call.err);
  if (sqlite3_value_type(argv[0]) == SQLITE_TEXT) {
    call.op = (const char *)sqlite3_value_text(argv[0]);
    if (call.op)
      handler = control_find(call.op, (size_t)sqlite3_value_bytes(argv[0]));
  }
  if (!call.op) {
    ps__err_argument(&call.err, "First argument must be a string", NULL);
    rc = call.err.code;
  } else if (!handler) {
    ps__err_argument(&call.err, "Unknown operation", NULL);
    rc = call.err.code;
  } else {
    rc = handler(&call);
  }
  if (rc != SQLITE_OK)
    ps__err_result(ctx, CONTROL_FN_NAME, &call.err);
  ps__err_free(&call.err);
}

/* ---- powersync_offline_sync_status --------------------------------------- */

/* "priority_status": one entry per ps_sync_state row. */
static int status_write_priorities(sqlite3 *db, struct ps__buf *out,
                                   struct ps__err *e) {
  sqlite3_stmt *stmt;
  int first = 1;
  int rc = ps__prepare(db, SQL_STATUS_PRIORITIES, &stmt, e);
  if (rc != SQLITE_OK)
    return rc;
  ps__buf_putc(out, '[');
  for (;;) {
    rc = ps__step(stmt, e);
    if (rc != SQLITE_ROW)
      break;
    /* The official core reads the priority as a 32-bit integer. */
    ps__buf_printf(out,
                   "%s{\"priority\":%d,\"last_synced_at\":%lld,"
                   "\"has_synced\":true}",
                   first ? "" : ",", sqlite3_column_int(stmt, 0),
                   (long long)sqlite3_column_int64(stmt, 1));
    first = 0;
  }
  ps__buf_putc(out, ']');
  sqlite3_finalize(stmt);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int is_json_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The stream's local_params as they appear in "parameters": validated JSON,
 * embedded without the surrounding whitespace; the text 'null' means none. */
static int status_write_params(sqlite3_stmt *stmt, struct ps__buf *out,
                               struct ps__err *e) {
  const char *text =
      (const char *)sqlite3_column_text(stmt, STREAMS_COLUMN_LOCAL_PARAMS);
  size_t len = (size_t)sqlite3_column_bytes(stmt, STREAMS_COLUMN_LOCAL_PARAMS);
  struct ps__arena arena;
  char msg[256];
  int valid;
  if (!text)
    text = "";
  if (len == 4 && memcmp(text, "null", 4) == 0) {
    ps__buf_puts(out, "null");
    return SQLITE_OK;
  }
  ps__arena_init(&arena, STATUS_PARAMS_ARENA_MAX);
  valid = ps__json_parse(&arena, text, len, msg, sizeof(msg)) != NULL;
  ps__arena_free(&arena);
  if (!valid) {
    ps__err_argument(e, "", msg);
    return e->code;
  }
  while (len > 0 && is_json_space(text[0])) {
    text++;
    len--;
  }
  while (len > 0 && is_json_space(text[len - 1]))
    len--;
  ps__buf_append(out, text, len);
  return SQLITE_OK;
}

static void write_optional_int(struct ps__buf *out, sqlite3_stmt *stmt,
                               int col) {
  if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
    ps__buf_puts(out, "null");
  else
    ps__buf_printf(out, "%lld", (long long)sqlite3_column_int64(stmt, col));
}

static const char *json_bool(int b) { return b ? "true" : "false"; }

/* One entry of "streams". */
static int status_write_stream(sqlite3_stmt *stmt, struct ps__buf *out,
                               struct ps__err *e) {
  const char *name =
      (const char *)sqlite3_column_text(stmt, STREAMS_COLUMN_NAME);
  size_t name_len = (size_t)sqlite3_column_bytes(stmt, STREAMS_COLUMN_NAME);
  int rc;
  ps__buf_puts(out, "{\"name\":");
  ps__json_write_string(out, name ? name : "", name_len);
  ps__buf_puts(out, ",\"parameters\":");
  rc = status_write_params(stmt, out, e);
  if (rc != SQLITE_OK)
    return rc;
  ps__buf_printf(
      out,
      ",\"priority\":null,\"active\":%s,\"is_default\":%s,"
      "\"has_explicit_subscription\":%s,\"expires_at\":",
      json_bool(sqlite3_column_int(stmt, STREAMS_COLUMN_ACTIVE) != 0),
      json_bool(sqlite3_column_int(stmt, STREAMS_COLUMN_IS_DEFAULT) != 0),
      json_bool(sqlite3_column_type(stmt, STREAMS_COLUMN_TTL) != SQLITE_NULL));
  write_optional_int(out, stmt, STREAMS_COLUMN_EXPIRES_AT);
  ps__buf_puts(out, ",\"last_synced_at\":");
  write_optional_int(out, stmt, STREAMS_COLUMN_LAST_SYNCED_AT);
  ps__buf_puts(out, ",\"progress\":{\"total\":0,\"downloaded\":0}}");
  return SQLITE_OK;
}

/* "streams": one entry per ps_stream_subscriptions row. */
static int status_write_streams(sqlite3 *db, struct ps__buf *out,
                                struct ps__err *e) {
  sqlite3_stmt *stmt;
  int first = 1;
  int rc = ps__prepare(db, SQL_STATUS_STREAMS, &stmt, e);
  if (rc != SQLITE_OK)
    return rc;
  ps__buf_putc(out, '[');
  for (;;) {
    rc = ps__step(stmt, e);
    if (rc != SQLITE_ROW)
      break;
    if (!first)
      ps__buf_putc(out, ',');
    first = 0;
    rc = status_write_stream(stmt, out, e);
    if (rc != SQLITE_OK)
      break;
  }
  ps__buf_putc(out, ']');
  sqlite3_finalize(stmt);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int status_build(struct ps__state *st, struct ps__buf *out,
                        struct ps__err *e) {
  sqlite3 *db = st->db;
  int rc = control_ensure_storage(st, e);
  if (rc != SQLITE_OK)
    return rc;
  ps__buf_puts(out, "{\"connected\":false,\"connecting\":false,"
                    "\"priority_status\":");
  rc = status_write_priorities(db, out, e);
  if (rc != SQLITE_OK)
    return rc;
  ps__buf_puts(out, ",\"downloading\":null,\"streams\":");
  rc = status_write_streams(db, out, e);
  if (rc != SQLITE_OK)
    return rc;
  ps__buf_putc(out, '}');
  if (ps__buf_failed(out)) {
    ps__err_nomem(e);
    return e->code;
  }
  return SQLITE_OK;
}

static void powersync_offline_sync_status(sqlite3_context *ctx, int argc,
                                          sqlite3_value **argv) {
  struct ps__buf out;
  struct ps__err e;
  (void)argc;
  (void)argv;
  ps__buf_init(&out, 0);
  ps__err_init(&e);
  /* Plain text: the official result goes through a wrapper that drops the
   * JSON subtype. */
  if (status_build(sqlite3_user_data(ctx), &out, &e) == SQLITE_OK)
    sqlite3_result_text(ctx, ps__buf_cstr(&out), (int)out.len,
                        SQLITE_TRANSIENT);
  else
    ps__err_result(ctx, STATUS_FN_NAME, &e);
  ps__err_free(&e);
  ps__buf_free(&out);
}

int ps__register_control(sqlite3 *db, struct ps__state *st) {
  int rc = ps__create_function(db, st, CONTROL_FN_NAME, 2,
                               SQLITE_DIRECTONLY | SQLITE_RESULT_SUBTYPE,
                               powersync_control);
  if (rc == SQLITE_OK)
    rc = ps__create_function(db, st, STATUS_FN_NAME, 0,
                             SQLITE_DIRECTONLY | SQLITE_RESULT_SUBTYPE,
                             powersync_offline_sync_status);
  return rc;
}
