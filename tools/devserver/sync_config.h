/*
 * sync_config.h: the service's sync config (YAML, protocol.md 11.1-11.2)
 * compiled to SQLite queries over the source database, and the two
 * evaluations the dev server needs:
 *
 * - row side (replication): which buckets a source row belongs to, and the
 *   object it contributes to each (output table, id, data JSON);
 * - request side (a sync stream): which buckets a connection may see, for
 *   its token, connection parameters and stream subscriptions.
 *
 * SUPPORTED SUBSET (anything else is a load error naming the YAML line):
 *
 *   bucket_definitions:
 *     <name>:
 *       parameters: <query> | [<query>, ...]   # optional
 *       data: [<query>, ...]
 *       priority: <0..3>                       # optional, default 3
 *   streams:
 *     <name>:
 *       query: <query>  |  queries: [<query>, ...]
 *       auto_subscribe: <bool>                 # default false
 *       priority: <0..3>                       # default 3
 *   config: { edition: <n> }                   # accepted, unused
 *
 * Parameter queries: SELECT <expr> AS <name>, ... [FROM <table> [WHERE
 * <cond>]] where expressions may use request.user_id(), request.jwt()
 * (the token payload as JSON text, e.g. request.jwt() ->> 'org'),
 * request.parameters() (connection parameters as JSON text) and the
 * table's columns. Each result row is one bucket (its values in column
 * order form the bucket id's parameters).
 *
 * Data queries: SELECT <columns or *> FROM <table> [AS <alias>] [WHERE
 * <cond>] where <cond> is a conjunction (AND) of terms; a term
 * `<column> = bucket.<param>` (either side) binds a bucket parameter, other
 * terms filter rows. In streams, a term `<column> = <ref>` with <ref> one of
 * auth.user_id(), auth.parameter('<claim>'), connection.parameter('<n>'),
 * subscription.parameter('<n>'), or `<column> IN (SELECT <col> FROM <table>
 * WHERE ...)` whose WHERE uses such refs, binds a stream bucket parameter;
 * other refs (outside these terms) are errors. Every data query of a
 * bucket definition must bind each bucket parameter exactly once. The
 * selected row must have an `id` column (its text becomes object_id).
 * Expressions are SQLite's: the compiler rewrites only the PowerSync
 * functions into bound parameters and leaves the rest to SQLite.
 *
 * Bucket ids: "<version>#<definition>[<params JSON array>]" with version
 * from the config (default 1), e.g. 1#user_todos["user-a"], 1#global[].
 *
 * Thread-safety: a loaded config is immutable; evaluation functions may run
 * concurrently with different sqlite3 connections (or serialised on one).
 */
#ifndef PSD_SYNC_CONFIG_H
#define PSD_SYNC_CONFIG_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

struct psd_sync_config;

/* Loads yaml[0..len). source: the source database, used to check that
 * tables and columns exist (by preparing the compiled statements).
 * Returns 0, or -1 with a message in err like
 * "sync config line 7: unsupported expression 'foo()' in data query". */
int psd_sync_config_load(const char *yaml, size_t len, sqlite3 *source,
                         struct psd_sync_config **out, char *err,
                         size_t errlen);
void psd_sync_config_free(struct psd_sync_config *cfg);

/* The source tables any data or parameter query reads (for change
 * triggers). Borrowed, valid while cfg lives. */
size_t psd_sync_config_table_count(const struct psd_sync_config *cfg);
const char *psd_sync_config_table(const struct psd_sync_config *cfg, size_t i);

/* --- Row side ---------------------------------------------------------------
 */

/* One result of a source row: the row belongs to bucket_id and appears
 * there as object_type/object_id with data (a JSON object including "id").
 * Strings are borrowed for the call. Return 0 to continue. */
typedef int (*psd_row_cb)(void *user_data, const char *bucket_id,
                          const char *object_type, const char *object_id,
                          const char *data_json);

/* Where the row side gets its statements: get(ctx, sql, err, errlen)
 * returns a statement for sql on the source, reset and without bindings,
 * that stays owned by the provider, or NULL with a message in err. A
 * caller evaluating many rows (a snapshot) prepares each query once. */
struct psd_stmt_provider {
  sqlite3_stmt *(*get)(void *ctx, const char *sql, char *err, size_t errlen);
  void *ctx;
};

/* Evaluates every data query reading table for the row with that rowid
 * (a deleted row yields nothing). stmts may be NULL: each query is then
 * prepared and finalized here. Returns 0, or -1 with err (SQLite failure
 * or a callback's non-zero value). */
int psd_sync_config_evaluate_row(const struct psd_sync_config *cfg,
                                 sqlite3 *source,
                                 const struct psd_stmt_provider *stmts,
                                 const char *table, int64_t rowid,
                                 psd_row_cb cb, void *user_data, char *err,
                                 size_t errlen);

/* --- Request side -----------------------------------------------------------
 */

/* One explicit stream subscription of a request (streams.subscriptions[i]). */
struct psd_subscription {
  const char *stream;
  const char *params_json; /* JSON object or NULL. */
  int override_priority;   /* -1: none. */
};

struct psd_request {
  const char *user_id;          /* JWT sub. */
  const char *jwt_payload_json; /* Whole JWT payload. */
  const char *params_json;      /* Connection parameters, or NULL. */
  int include_defaults;         /* Default streams and bucket definitions. */
  const struct psd_subscription *subscriptions;
  size_t subscription_count;
};

/* One bucket the request may see. stream: the definition or stream name;
 * is_default: reached through a default subscription (bucket definitions
 * and auto_subscribe streams); subscription: the request's subscription
 * index, or -1 for a default one. A bucket reached both ways is reported
 * once per way. Return 0 to continue. */
typedef int (*psd_bucket_cb)(void *user_data, const char *bucket_id,
                             int priority, const char *stream, int is_default,
                             int subscription);

/* A problem with one subscription (unknown stream, parameter errors), for
 * the checkpoint's streams[].errors. */
typedef int (*psd_stream_error_cb)(void *user_data, const char *stream,
                                   int subscription, const char *message);

/* Evaluates the parameter side of every definition for req against the
 * source's current rows. Returns 0, or -1 with err. */
int psd_sync_config_request_buckets(const struct psd_sync_config *cfg,
                                    sqlite3 *source,
                                    const struct psd_request *req,
                                    psd_bucket_cb cb,
                                    psd_stream_error_cb error_cb,
                                    void *user_data, char *err, size_t errlen);

/* Names and default-ness of every definition, in config order (for the
 * checkpoint's streams list: bucket definitions and auto_subscribe streams
 * are default). */
size_t psd_sync_config_stream_count(const struct psd_sync_config *cfg);
const char *psd_sync_config_stream_name(const struct psd_sync_config *cfg,
                                        size_t i);
int psd_sync_config_stream_is_default(const struct psd_sync_config *cfg,
                                      size_t i);

#endif
