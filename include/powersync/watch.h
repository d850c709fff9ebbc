/**
 * @file watch.h
 * @brief Change notifications and reactive queries.
 *
 * Notifications are collected on the writer from the core's update hooks and
 * delivered after commit (never for rolled-back work). Names of the core's
 * data tables (ps_data__x, ps_data_local__x) are reported as the table name
 * x. A watch emits once when it starts, then after every relevant commit,
 * throttled (default 30 ms); it never runs concurrently with itself and
 * never drops the last change of a burst. Query watches also re-run after
 * powersync_db_update_schema changed the schema (a view may now read other
 * tables or rows); table watches report data changes only.
 *
 * Callback thread (every callback of this header, including user_data_free
 * when the watch ends from its own callback): the database's dispatch
 * thread, an SDK thread (POWERSYNC_DISPATCH_THREAD, the default), or the
 * application's thread calling powersync_db_dispatch
 * (POWERSYNC_DISPATCH_APP). All watches of a database share that one
 * thread, so callbacks never overlap, neither with themselves nor with each
 * other; keep them short. A callback may use the database (queries, writes,
 * cancelling any watch including its own) but must not close it. A
 * callback that writes to a table it watches triggers itself again (one run
 * per throttle window).
 *
 * Throttling: a run starts no sooner than throttle_ms after the previous run
 * of the same watch ended; commits meanwhile are merged into that one run.
 * The first change after a quiet period runs at once.
 *
 * Lifetime: a watch ends with powersync_watch_cancel, which the application
 * must call exactly once for every watch it created, also after the
 * database was closed (closing stops the runs, the handle stays valid until
 * cancelled). Do not cancel concurrently with powersync_db_close.
 */
#ifndef POWERSYNC_WATCH_H
#define POWERSYNC_WATCH_H

#include "common.h"
#include "db.h"

POWERSYNC_BEGIN_DECL

typedef struct powersync_watch powersync_watch;

#define POWERSYNC_WATCH_OPTIONS_VERSION 1

typedef struct powersync_watch_options {
  unsigned int version;      /**< POWERSYNC_WATCH_OPTIONS_VERSION. */
  int throttle_ms;           /**< Default 30. */
  int emit_initial;          /**< Default 1: emit once when the watch starts. */
  const char *const *tables; /**< For query watches: the tables to watch;
                                NULL = found with EXPLAIN. */
  size_t table_count;
} powersync_watch_options;

#define POWERSYNC_WATCH_OPTIONS_INIT                                           \
  { POWERSYNC_WATCH_OPTIONS_VERSION, 30, 1, NULL, 0 }

/**
 * Receives the set of changed (view) table names, each once, merged over
 * every commit since the previous call; the array is borrowed for the call.
 * The initial call (emit_initial) may have count 0.
 */
typedef void (*powersync_tables_cb)(const char *const *tables, size_t count,
                                    void *user_data);

/**
 * Receives a query's result (borrowed; valid during the call) or, when rc is
 * not POWERSYNC_OK, rows NULL and an error with its message (borrowed); the
 * watch keeps running. On success message is NULL.
 */
typedef void (*powersync_rows_cb)(const powersync_rows *rows, int rc,
                                  const char *message, void *user_data);

/**
 * Differential result: rows added, removed and changed (same key, other
 * values) since the previous emission, keyed by key_column. Each has the
 * query's columns; added and changed rows are in the new result's order,
 * removed rows in the previous result's order. On the first emission every
 * row is "added" (with emit_initial 0 the first result is taken silently as
 * the baseline). A re-run that finds no difference is not reported. Each
 * result is borrowed, never NULL on success; on error (rc not
 * POWERSYNC_OK, e.g. POWERSYNC_EINVAL when key_column is not a column of
 * the result) all three are NULL and message says why.
 */
typedef void (*powersync_diff_cb)(const powersync_rows *added,
                                  const powersync_rows *removed,
                                  const powersync_rows *changed, int rc,
                                  const char *message, void *user_data);

/**
 * Calls cb with the set of changed tables after commits touching any of
 * tables (NULL/0: any table, including the core's own ps_* tables). Names
 * may be given as view names or as ps_data__x / ps_data_local__x.
 * @param[in] opts NULL for the defaults; tables is ignored here.
 * @param[in] user_data_free called once with user_data when the watch ends
 *   (in powersync_watch_cancel, or after the callback returns when it
 *   cancelled its own watch); may be NULL.
 * @param[out] out the watch; NULL on failure.
 * @return POWERSYNC_OK, POWERSYNC_EINVAL, POWERSYNC_ENOMEM,
 *   POWERSYNC_ECLOSED. On failure cb and user_data_free are never called.
 * Ownership: end the watch with powersync_watch_cancel.
 * Thread-safety: safe from any thread, also from a callback.
 */
POWERSYNC_API int powersync_db_watch_tables(
    powersync_db *db, const char *const *tables, size_t count,
    const powersync_watch_options *opts, powersync_tables_cb cb,
    void *user_data, void (*user_data_free)(void *), powersync_watch **out);

/**
 * Runs sql (one statement, on a reader, params[0..n) bound to ?1..?n, both
 * copied) and calls cb with its rows: once at the start (emit_initial), then
 * after commits touching the tables it reads. Those are opts->tables when
 * given, else found now with EXPLAIN (so invalid SQL fails this call) and
 * found again after each schema change.
 * @return POWERSYNC_OK, POWERSYNC_EINVAL, POWERSYNC_ENOMEM,
 *   POWERSYNC_ECLOSED, or the SQLite code of a failing EXPLAIN. Otherwise
 *   as powersync_db_watch_tables.
 */
POWERSYNC_API int powersync_db_watch_query(
    powersync_db *db, const char *sql, const powersync_value *params, size_t n,
    const powersync_watch_options *opts, powersync_rows_cb cb, void *user_data,
    void (*user_data_free)(void *), powersync_watch **out);

/** Like powersync_db_watch_query, reporting differences keyed by key_column. */
POWERSYNC_API int powersync_db_watch_query_diff(
    powersync_db *db, const char *sql, const powersync_value *params, size_t n,
    const char *key_column, const powersync_watch_options *opts,
    powersync_diff_cb cb, void *user_data, void (*user_data_free)(void *),
    powersync_watch **out);

/**
 * Ends the watch and frees it: no callback starts after this returns (a
 * throttled run still pending is dropped); called from another thread it
 * waits for a running callback to finish, then calls user_data_free. May be
 * called from any watch's callback; from the watch's own callback,
 * user_data_free runs once that callback returns. Accepts NULL.
 * Thread-safety: once per watch; not concurrently with powersync_db_close.
 */
POWERSYNC_API void powersync_watch_cancel(powersync_watch *watch);

POWERSYNC_END_DECL

#endif
