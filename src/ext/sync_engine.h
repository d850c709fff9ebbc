/*
 * sync_engine.h: internal interface between the files of the sync engine
 * (core-sync.md): sync_client.c (the iteration state machine),
 * sync_status.c (status JSON and change detection), sync_instructions.c
 * (instruction JSON), sync_storage.c (statement cache, oplog, sync_local),
 * sync_streams.c (stream subscriptions and the payloads naming them) and
 * sync_lines.c (typed sync lines).
 *
 * HOW IT WORKS
 *
 * Every connection has one struct ps__sync (hanging off struct ps__state),
 * created on the first powersync_control or powersync_offline_sync_status
 * call. It owns the prepared statements of the engine and, between 'start'
 * and the end of the iteration, one struct ps__sync_iteration. Line handling
 * is split into a "prepare" step that writes to the database and an "apply"
 * step that only changes memory, so that a line failing with BUSY can be
 * retried as if the first attempt never happened (core-sync.md 6.3).
 *
 * Thread-safety: as the connection (SQLite serialises calls on it).
 */
#ifndef PS_EXT_SYNC_ENGINE_H
#define PS_EXT_SYNC_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/schema.h"
#include "../core/sync_line.h"
#include "../util/arena.h"
#include "../util/buf.h"
#include "error.h"
#include "sqlite_api.h"
#include "state.h"
#include "sync_raw_tables.h"

/* Priority meaning "all buckets" in ps_sync_state and the status. */
#define PS_SYNC_FULL_PRIORITY INT32_MAX
/* Default lifetime of an explicit stream subscription, in seconds. */
#define PS_SYNC_DEFAULT_TTL 86400
/* token_expires_in at or below which new credentials are prefetched. */
#define PS_SYNC_TOKEN_PREFETCH_SECONDS 30

/* Decoded sync lines are the structs of ../core/sync_line.h. Bucket
 * subscription reasons: kind PS_SYNC_SUBSCRIPTION_DEFAULT indexes the
 * checkpoint's streams, PS_SYNC_SUBSCRIPTION_EXPLICIT the request's explicit
 * subscriptions. */

/* ---- Tracked checkpoints ------------------------------------------------- */

/* A checkpoint the iteration keeps between calls: buckets sorted by name
 * (byte-wise) without duplicates; everything lives in its own arena. */
struct ps__sync_target {
  struct ps__arena arena;
  int64_t last_op_id;
  int has_write_checkpoint;
  int64_t write_checkpoint;
  struct ps__sync_bucket_checksum *buckets;
  size_t bucket_count;
  struct ps__sync_stream *streams;
  size_t stream_count;
};

struct ps__sync_target *
ps__sync_target_from_line(const struct ps__sync_checkpoint *line);
/* The target patched by a checkpoint_diff (core-sync.md 11.2). */
struct ps__sync_target *
ps__sync_target_patch(const struct ps__sync_target *t,
                      const struct ps__sync_checkpoint_diff *d);
struct ps__sync_target *ps__sync_target_copy(const struct ps__sync_target *t);
void ps__sync_target_free(struct ps__sync_target *t);
/* Index of the bucket named name, or -1. */
long ps__sync_target_find(const struct ps__sync_target *t, const char *name,
                          size_t len);

int ps__sync_str_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* ---- Status (core-sync.md 8) --------------------------------------------- */

struct ps__sync_priority_status {
  int32_t priority;
  int64_t last_synced_at;
};

/* Download progress of one bucket, parallel to the target's buckets. */
struct ps__sync_progress {
  int32_t priority;
  int64_t at_last;
  int64_t since_last;
  int64_t target_count;
};

struct ps__sync_stream_status {
  int64_t id;
  char *name;
  char *params; /* Raw JSON text, trimmed; "null" when none. */
  int has_priority;
  int32_t priority;
  int active;
  int is_default;
  int has_explicit;
  int has_expires_at;
  int64_t expires_at;
  int has_last_synced_at;
  int64_t last_synced_at;
  size_t *buckets; /* Indexes into the target's buckets. */
  size_t bucket_count;
};

struct ps__sync_status {
  int connected;
  int connecting;
  struct ps__sync_priority_status *priorities; /* Ascending priority. */
  size_t priority_count;
  /* downloading: non-NULL target (borrowed) with progress parallel to it. */
  const struct ps__sync_target *download_target;
  struct ps__sync_progress *progress;
  struct ps__sync_stream_status *streams;
  size_t stream_count;
  int has_applied_request_id;
  int64_t applied_request_id;
};

void ps__sync_status_init(struct ps__sync_status *s);
void ps__sync_status_free(struct ps__sync_status *s);
void ps__sync_streams_free(struct ps__sync_stream_status *streams, size_t n);
/* Replaces the stream list (takes ownership). */
void ps__sync_status_set_streams(struct ps__sync_status *s,
                                 struct ps__sync_stream_status *streams,
                                 size_t n);
/* Replaces the download progress (takes ownership of progress). */
void ps__sync_status_set_download(struct ps__sync_status *s,
                                  const struct ps__sync_target *t,
                                  struct ps__sync_progress *progress);
void ps__sync_status_write(struct ps__buf *out,
                           const struct ps__sync_status *s);
/* Serialises everything the status depends on, hidden parts included, so
 * that two statuses are equal exactly when their fingerprints are. */
void ps__sync_status_fingerprint(struct ps__buf *out,
                                 const struct ps__sync_status *s);
/* status.priority_status and status.streams from the database (8.6). */
int ps__sync_status_load_offline(sqlite3 *db, struct ps__sync_status *s,
                                 struct ps__err *e);
/* Writes a stream's local_params as the status and request embed them. */
int ps__sync_params_trimmed(const char *text, size_t len, const char **start,
                            size_t *out_len, struct ps__err *e);

/* ---- Instructions (core-sync.md 7) --------------------------------------- */

struct ps__sync_out {
  struct ps__buf buf; /* "[" followed by the instructions written so far. */
  size_t count;
};

void ps__sync_out_init(struct ps__sync_out *o);
void ps__sync_out_free(struct ps__sync_out *o);
/* Truncates to the instructions before mark (a value of o->buf.len). */
void ps__sync_out_rewind(struct ps__sync_out *o, size_t len, size_t count);
void ps__sync_out_log(struct ps__sync_out *o, const char *severity,
                      const char *line, size_t len);
void ps__sync_out_status(struct ps__sync_out *o,
                         const struct ps__sync_status *s);
void ps__sync_out_close(struct ps__sync_out *o, int hide_disconnect);
void ps__sync_out_fetch_credentials(struct ps__sync_out *o, int did_expire);
void ps__sync_out_did_complete(struct ps__sync_out *o, int has_id, int64_t id);
/* Starts an instruction: writes the separator and {"<name>": ; the caller
 * writes the value and then calls ps__sync_out_end. */
void ps__sync_out_begin(struct ps__sync_out *o, const char *name);
void ps__sync_out_end(struct ps__sync_out *o);
/* Finishes the array and hands it to SQLite with subtype 'J'. */
void ps__sync_out_result(struct ps__sync_out *o, sqlite3_context *ctx);

/* ---- Statement cache and storage (sync_storage.c) ------------------------ */

enum ps__sync_stmt_id {
  PS_STMT_PROGRESS,
  PS_STMT_SUB_DELETE,
  PS_STMT_SUB_UPDATE,
  PS_STMT_NOW,
  PS_STMT_BUCKET_DELETE,
  PS_STMT_BUCKET_MARK_ROWS,
  PS_STMT_BUCKET_DELETE_OPS,
  PS_STMT_BUCKET_UPSERT,
  PS_STMT_OPLOG_SUPERSEDE,
  PS_STMT_OPLOG_INSERT,
  PS_STMT_UPDATED_ROW_INSERT,
  PS_STMT_BUCKET_CLEAR,
  PS_STMT_BUCKET_LINE_UPDATE,
  PS_STMT_BUCKET_CHECKSUMS,
  PS_STMT_BUCKET_SET_LAST_OP,
  PS_STMT_KV_GET,
  PS_STMT_KV_SET,
  PS_STMT_GATE,
  PS_STMT_DATA_TABLES,
  PS_STMT_CANDIDATES_FULL,
  PS_STMT_CANDIDATES_PARTIAL,
  PS_STMT_UNTYPED_REPLACE,
  PS_STMT_UNTYPED_DELETE,
  PS_STMT_APPLIED_FULL,
  PS_STMT_APPLIED_PARTIAL,
  PS_STMT_UPDATED_ROWS_CLEAR,
  PS_STMT_SYNC_STATE_TRIM,
  PS_STMT_SYNC_STATE_SET,
  PS_STMT_BUCKET_COUNTS,
  PS_STMT_PROGRESS_RESET,
  PS_STMT_SUB_SET_SYNCED,
  PS_STMT_BUCKET_POSITIONS,
  PS_STMT_CLIENT_ID,
  PS_STMT_SUB_INCREASE_TTL,
  PS_STMT_SUB_DELETE_EXPIRED,
  PS_STMT_SUB_REQUESTED,
  PS_STMT_SUB_ALL,
  PS_STMT_SUB_INSERT_DEFAULT,
  PS_STMT_SUB_SUBSCRIBE,
  PS_STMT_SUB_UNSUBSCRIBE,
  PS_STMT_INITIAL_CHECK,
  PS_STMT_OPLOG_BY_ROW,
  PS_STMT_OPLOG_PROBE,
  PS_STMT_OPLOG_SCAN,
  PS_STMT_ENCODING,
  PS_STMT_OPLOG_BUCKET_ANY,
  PS_STMT_COUNT
};

/* Prepared statements of one JSON data table (ps_data__<name>). */
struct ps__sync_table_stmts {
  char *name;
  sqlite3_stmt *replace;
  sqlite3_stmt *delete_;
};

struct ps__sync_iteration;

/* Per-connection state of the engine. */
struct ps__sync {
  sqlite3 *db;
  struct ps__state *st;
  sqlite3_stmt *stmts[PS_STMT_COUNT];
  struct ps__sync_table_stmts *tables; /* Sorted by name. */
  size_t table_count;
  size_t table_cap;
  struct ps__raw_table_cache *raw_cache;
  struct ps__sync_iteration *iteration; /* NULL while idle. */
  struct ps__buf key;                   /* Scratch for oplog keys. */
};

/* The engine of st, created (with its eagerly prepared statements) on first
 * use. Returns NULL with e set on failure. */
struct ps__sync *ps__sync_get(struct ps__state *st, struct ps__err *e);
/* A cached statement, prepared on first use. The caller resets it. */
sqlite3_stmt *ps__sync_stmt(struct ps__sync *s, enum ps__sync_stmt_id id,
                            struct ps__err *e);
/* The current time in microseconds (core-sync.md 14.4). */
int ps__sync_now(struct ps__sync *s, int64_t *now, struct ps__err *e);
int ps__sync_kv_get(struct ps__sync *s, const char *key, int *found,
                    int64_t *value, struct ps__err *e);
int ps__sync_kv_set(struct ps__sync *s, const char *key, int64_t value,
                    struct ps__err *e);

/* Deletes buckets by name (core-sync.md 11.3). */
int ps__sync_delete_bucket(struct ps__sync *s, const char *name, size_t len,
                           struct ps__err *e);
/* Inserts a data line's operations (12). line_size counts downloaded bytes. */
int ps__sync_save_data(struct ps__sync *s, const struct ps__sync_data *d,
                       size_t line_size, struct ps__err *e);
/* Download progress for a new target (14.2); *out is parallel to t's
 * buckets (malloc'ed). */
int ps__sync_load_progress(struct ps__sync *s, const struct ps__sync_target *t,
                           struct ps__sync_progress **out, struct ps__err *e);

enum ps__sync_local_result {
  PS_LOCAL_APPLIED,
  PS_LOCAL_BLOCKED,
  PS_LOCAL_CHECKSUM_FAILURE
};

/* sync_local (13.3) for t; partial when priority is not
 * PS_SYNC_FULL_PRIORITY. On a checksum failure the report (without prefix)
 * is left in report. raw_tables may be NULL. */
int ps__sync_local(struct ps__sync *s, const struct ps__sync_target *t,
                   int32_t priority, const struct ps__schema *schema,
                   enum ps__sync_local_result *result, int64_t *now,
                   struct ps__buf *report, struct ps__err *e);

/* Releases everything; the pre-close hook and ps__state_unref call it. */
void ps__sync_free(struct ps__sync *s);
/* Releases an iteration (sync_client.c). Accepts NULL. */
void ps__sync_iteration_free(struct ps__sync_iteration *it);

/* ---- Streams (sync_streams.c) -------------------------------------------- */

/* A stream key held by the app ({"name":..., "params":...}). */
struct ps__sync_stream_key {
  char *name;
  char *params; /* Raw JSON text or NULL. */
};

struct ps__sync_stream_keys {
  struct ps__sync_stream_key *keys;
  size_t count;
};

void ps__sync_stream_keys_free(struct ps__sync_stream_keys *k);
/* Parses a JSON array of stream keys (Vec<StreamKey>), keeping params as raw
 * text; errors are the official core's serde messages, with positions. */
int ps__sync_stream_keys_parse(const char *text, size_t len,
                               struct ps__sync_stream_keys *out,
                               struct ps__err *e);
/* The same for v, a value of a document that d parsed (replaces *out). On
 * failure: an argument error with d's message, or out of memory. */
int ps__sync_stream_keys_read(struct ps__serde *d,
                              const struct ps__json_value *v,
                              struct ps__sync_stream_keys *out,
                              struct ps__err *e);

/* Room for a serde error message of a payload. */
#define PS_SYNC_SERDE_ERROR_MAX 512

/* One explicit subscription of the request (16.4). */
struct ps__sync_requested_sub {
  int64_t id;
  char *name;
  char *params; /* Raw text of local_params, or NULL for 'null'. */
  int has_priority;
  int64_t priority;
};

struct ps__sync_request_subs {
  int include_defaults;
  struct ps__sync_requested_sub *subs;
  size_t count;
};

void ps__sync_request_subs_free(struct ps__sync_request_subs *r);
int ps__sync_request_subs_equal(const struct ps__sync_request_subs *a,
                                const struct ps__sync_request_subs *b);

int ps__sync_increase_ttl(struct ps__sync *s,
                          const struct ps__sync_stream_keys *keys,
                          struct ps__err *e);
int ps__sync_collect_requests(struct ps__sync *s, int include_defaults,
                              struct ps__sync_request_subs *out,
                              struct ps__err *e);
/* Reconciles ps_stream_subscriptions with a checkpoint (16.6) and returns
 * the resolved stream status list. Warnings go to out. */
int ps__sync_reconcile_streams(struct ps__sync *s,
                               const struct ps__sync_target *t,
                               const struct ps__sync_request_subs *req,
                               struct ps__sync_out *out,
                               struct ps__sync_stream_status **streams,
                               size_t *stream_count, struct ps__err *e);
/* powersync_control('subscriptions', payload) (16.2). */
int ps__sync_subscriptions_op(struct ps__sync *s, const char *text, size_t len,
                              struct ps__err *e);

/* ---- Entry point (sync_client.c) ----------------------------------------- */

enum ps__sync_command {
  PS_SYNC_CMD_START,
  PS_SYNC_CMD_STOP,
  PS_SYNC_CMD_LINE_TEXT,
  PS_SYNC_CMD_LINE_BINARY,
  PS_SYNC_CMD_REFRESHED_TOKEN,
  PS_SYNC_CMD_COMPLETED_UPLOAD,
  PS_SYNC_CMD_UPDATE_SUBSCRIPTIONS,
  PS_SYNC_CMD_CONNECTION,
  PS_SYNC_CMD_SUBSCRIPTIONS
};

/* Runs one powersync_control command of the sync engine and sets the
 * function result. Returns SQLITE_OK or an error code with e set. */
int ps__sync_command(struct ps__state *st, sqlite3_context *ctx,
                     enum ps__sync_command cmd, sqlite3_value *payload,
                     struct ps__err *e);

#endif
