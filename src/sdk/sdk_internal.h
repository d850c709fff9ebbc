/*
 * sdk_internal.h: what the files of libpowersync share beyond the public
 * headers. Implemented by db.c/pool.c (connections, change notifications,
 * callback dispatch) and errors.c/log.c.
 */
#ifndef PS_SDK_INTERNAL_H
#define PS_SDK_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "../../include/powersync.h"
#include "../util/buf.h"

/* --- Errors (errors.c) ------------------------------------------------------
 */

/* Sets the calling thread's last error and returns code, so that failures
 * read `return ps__error_set(POWERSYNC_EINVAL, "...")`. */
int ps__error_set(int code, const char *fmt, ...) PS_PRINTF(2, 3);
/* An SQLite failure on conn: its extended code and sqlite3_errmsg. */
int ps__error_sqlite(sqlite3 *conn, int rc);
/* Clears the thread's error at the start of a public call. */
void ps__error_reset(void);
/* Before calling an application callback: forget an old attached message. */
void ps__callback_error_reset(void);
/* After a callback failed: copies the message it attached with
 * powersync_callback_error into buf (truncated; "" when none), clears it,
 * and returns 1 when there was one. */
int ps__callback_error_take(char *buf, size_t size);

/* --- Logging (log.c) --------------------------------------------------------
 */

void ps__log(powersync_log_level level, const char *tag, const char *fmt, ...)
    PS_PRINTF(3, 4);

/* --- Change notifications (pool.c) ------------------------------------------
 */

/* Called after a commit with the changed table names as SQLite reported them
 * (ps_data__x names not yet mapped); the array is borrowed for the call.
 * Runs on the thread that released the writer lease, with no lease held; it
 * must only record the change and return quickly (hand real work to the
 * dispatcher), and must not add or remove listeners (deliveries hold the
 * listener lock, which is how removal waits for a running call). */
typedef void (*ps__change_fn)(const char *const *tables, size_t count,
                              void *user_data);

/* Called after powersync_db_update_schema committed a schema that differs
 * from the previous one, on the thread that called it, with no lease held.
 * Replacing the schema reports no table changes (views and tables are
 * re-created, not written), yet a query may now read other tables or other
 * rows. The rules of ps__change_fn apply: only record and post. */
typedef void (*ps__schema_fn)(void *user_data);

/* Registers a listener for table changes and, when schema_fn is not NULL,
 * schema changes; *id_out identifies it for removal. */
int ps__db_add_change_listener(powersync_db *db, ps__change_fn fn,
                               ps__schema_fn schema_fn, void *user_data,
                               uint64_t *id_out);
/* After this returns, neither fn nor schema_fn is running, and neither will
 * be called again. */
void ps__db_remove_change_listener(powersync_db *db, uint64_t id);

/* Counts schema changes: it is raised after the new schema is committed and
 * before the schema listeners are called, so a reader started after seeing
 * a new value sees that schema (or a newer one). Watches compare it with
 * the value their tables were found at. */
uint64_t ps__db_schema_generation(powersync_db *db);

/* Maps "ps_data__x" and "ps_data_local__x" to "x"; other names unchanged.
 * Returns a pointer into name. */
const char *ps__view_table_name(const char *name);

/* --- Rows (query.c) ---------------------------------------------------------
 */

/* A new result with the columns of src and copies of its rows
 * indexes[0..n) in that order (n may be 0: no rows, same columns). The
 * differential watch builds its added/removed/changed results with it.
 * Returns POWERSYNC_OK or POWERSYNC_ENOMEM; *out is NULL on failure. */
int ps__rows_subset(powersync_rows **out, const powersync_rows *src,
                    const size_t *indexes, size_t n);

/* --- Callback dispatch (dispatch.c) -----------------------------------------
 */

/* Runs jobs where the database's callbacks run: on one SDK thread
 * (POWERSYNC_DISPATCH_THREAD) or queued until the application calls
 * powersync_db_dispatch (POWERSYNC_DISPATCH_APP). Jobs run one at a time;
 * jobs that are due run in the order posted. Delayed jobs implement
 * throttling. */
struct ps__dispatcher;

struct ps__dispatcher *ps__dispatcher_new(powersync_dispatch_mode mode);
/* Stops the thread; pending jobs are dropped after calling cancel(arg) (may
 * be NULL) for each. Waits for a running job to finish unless called from
 * a job. Accepts NULL. */
void ps__dispatcher_free(struct ps__dispatcher *d);
/* Queues fn(arg) to run after delay_ms (0: as soon as possible). */
int ps__dispatcher_post(struct ps__dispatcher *d, int delay_ms,
                        void (*fn)(void *arg), void (*cancel)(void *arg),
                        void *arg);
/* APP mode: runs up to max (<= 0: all) jobs that were due when the call
 * began, on the calling thread; returns how many ran. Returns 0 in THREAD
 * mode, from inside a job, or while another thread runs jobs. */
int ps__dispatcher_run(struct ps__dispatcher *d, int max);
/* APP mode: readable while due jobs are queued (eventfd); -1 in THREAD mode. */
int ps__dispatcher_fd(struct ps__dispatcher *d);
void ps__dispatcher_set_ready(struct ps__dispatcher *d,
                              powersync_dispatch_ready_cb cb, void *user_data);
/* 1 when called from a job of d (so cancel must not wait for itself). */
int ps__dispatcher_in_job(struct ps__dispatcher *d);
/* Registers fn(arg), called once by ps__dispatcher_free after its thread
 * stopped, no job runs any more and the queued jobs were cancelled: objects
 * that keep a pointer to d (watches) learn that it is gone. Returns
 * POWERSYNC_ECLOSED once ps__dispatcher_free has begun. */
int ps__dispatcher_add_free_hook(struct ps__dispatcher *d,
                                 void (*fn)(void *arg), void *arg,
                                 uint64_t *id_out);
/* Forgets a hook; after this returns it will not be called. */
void ps__dispatcher_remove_free_hook(struct ps__dispatcher *d, uint64_t id);

/* The database's dispatcher (db.c). */
struct ps__dispatcher *ps__db_dispatcher(powersync_db *db);

/* Milliseconds of a monotonic clock (dispatch.c). */
int64_t ps__now_ms(void);

#endif
