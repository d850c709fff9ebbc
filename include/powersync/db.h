/**
 * @file db.h
 * @brief Opening a PowerSync database; the connection pool; transactions;
 * executing statements and fetching rows.
 *
 * A powersync_db owns one writer connection and N read-only connections to
 * the same file in WAL mode, each with the PowerSync core registered. Any
 * thread may use a powersync_db at any time: reads run concurrently on the
 * readers while the writer is busy; writes are serialised on the writer.
 * An in-memory database (path ":memory:") uses a single connection for
 * everything, since readers could not see its data.
 *
 * Caveats: do not use a powersync_db after fork(); open one powersync_db per
 * database file per process; keep leases short; taking the write lease
 * while holding it on the same thread deadlocks (as in every SDK).
 */
#ifndef POWERSYNC_DB_H
#define POWERSYNC_DB_H

#include <sqlite3.h>

#include "common.h"
#include "schema.h"

POWERSYNC_BEGIN_DECL

typedef struct powersync_db powersync_db;
typedef struct powersync_lease powersync_lease;
typedef struct powersync_rows powersync_rows;

/** Durability of commits: a user choice (PRAGMA synchronous). */
typedef enum powersync_synchronous {
  POWERSYNC_SYNCHRONOUS_NORMAL = 1, /**< WAL default: fast, may lose the last
                                       commits on power loss, never corrupts. */
  POWERSYNC_SYNCHRONOUS_FULL = 2    /**< Every commit is durable. */
} powersync_synchronous;

/**
 * Where callbacks (watches, listeners) run. Either way one database's
 * callbacks run one at a time, in order.
 */
typedef enum powersync_dispatch_mode {
  POWERSYNC_DISPATCH_THREAD = 0, /**< On an SDK thread (default). */
  POWERSYNC_DISPATCH_APP = 1     /**< Queued; delivered on the application's
                                    thread by powersync_db_dispatch(), with
                                    powersync_db_dispatch_fd() or a ready
                                    callback to wake its event loop. */
} powersync_dispatch_mode;

#define POWERSYNC_DB_OPTIONS_VERSION 1

/**
 * Options of powersync_db_open. Initialise with POWERSYNC_DB_OPTIONS_INIT or
 * powersync_db_options_init(); members are only ever appended.
 */
typedef struct powersync_db_options {
  unsigned int version;              /**< POWERSYNC_DB_OPTIONS_VERSION. */
  int readers;                       /**< Read connections, 0..64; default 5.
                                        0: one connection for everything. */
  powersync_synchronous synchronous; /**< Default NORMAL. */
  int busy_timeout_ms;               /**< Lock wait; default 30000. */
  int cache_size_kib;                /**< Page cache per connection; default
                                        51200 (50 MiB); 0: SQLite's default. */
  powersync_dispatch_mode dispatch;  /**< Default THREAD. */
} powersync_db_options;

#define POWERSYNC_DB_OPTIONS_INIT                                              \
  {                                                                            \
    POWERSYNC_DB_OPTIONS_VERSION, 5, POWERSYNC_SYNCHRONOUS_NORMAL, 30000,      \
        51200, POWERSYNC_DISPATCH_THREAD                                       \
  }

/** Fills opts with the defaults. Thread-safety: reentrant. */
POWERSYNC_API int powersync_db_options_init(powersync_db_options *opts,
                                            unsigned int version);

/**
 * Opens (creating if needed) the database at path, runs the core's internal
 * migrations and applies schema.
 *
 * @param[out] out the database; NULL on failure.
 * @param[in] path a file path, or ":memory:".
 * @param[in] schema the schema to apply (copied; the caller keeps ownership),
 *   or NULL to keep the schema the database already has.
 * @param[in] opts options, or NULL for the defaults.
 * @return POWERSYNC_OK; POWERSYNC_EINVAL for a NULL out/path or invalid
 *   options; POWERSYNC_ESCHEMA for an invalid schema; POWERSYNC_EVERSION for
 *   an SQLite older than 3.38 or a core other than 0.5.x; POWERSYNC_ENOMEM;
 *   an SQLite code when a connection cannot be opened or initialised.
 * Ownership: the caller owns *out and releases it with powersync_db_close().
 * Thread-safety: safe from any thread.
 */
POWERSYNC_API int powersync_db_open(powersync_db **out, const char *path,
                                    const powersync_schema *schema,
                                    const powersync_db_options *opts);

/**
 * Stops background work (change listeners, then the callback dispatcher, so
 * no watch callback runs afterwards), makes threads waiting for a lease
 * return POWERSYNC_ECLOSED, waits for outstanding leases to be released,
 * closes every connection and frees db. Statements a lease holder left
 * unfinalized are finalized (with a warning in the log). Accepts NULL.
 * Thread-safety: call once, from a thread that holds no lease of db and not
 * from a callback of db.
 * @return POWERSYNC_OK or the first error met while closing (db is freed
 *   anyway).
 */
POWERSYNC_API int powersync_db_close(powersync_db *db);

/**
 * Replaces the schema (powersync_replace_schema in a write transaction); every
 * reader sees the new schema afterwards and watches re-resolve their tables.
 * @return POWERSYNC_OK, POWERSYNC_ESCHEMA, or an SQLite code.
 * Thread-safety: safe from any thread.
 */
POWERSYNC_API int powersync_db_update_schema(powersync_db *db,
                                             const powersync_schema *schema);

/* ---- Leases: exclusive use of one connection ---------------------------- */

/**
 * Leases a read-only connection, waiting up to timeout_ms (negative: forever;
 * 0: only if one is free now). Single-connection databases (in-memory,
 * readers = 0) lease the writer instead.
 * @return POWERSYNC_OK, POWERSYNC_ETIMEOUT, POWERSYNC_ECLOSED,
 *   POWERSYNC_EINVAL (NULL db or out); *out is NULL on failure.
 * Ownership: release *out with powersync_lease_release().
 * Thread-safety: safe from any thread; the lease may be used by one thread at
 * a time and may move between threads.
 */
POWERSYNC_API int powersync_db_lease_read(powersync_db *db, int timeout_ms,
                                          powersync_lease **out);

/**
 * Leases the writer connection, waiting up to timeout_ms (negative: forever).
 * Table changes committed while the lease is held are delivered to watchers
 * when it is released.
 * @return POWERSYNC_OK, POWERSYNC_ETIMEOUT, POWERSYNC_ECLOSED,
 *   POWERSYNC_EINVAL; *out is NULL on failure.
 * Ownership: release *out with powersync_lease_release().
 * Thread-safety: safe from any thread; deadlocks if the calling thread
 * already holds the write lease.
 */
POWERSYNC_API int powersync_db_lease_write(powersync_db *db, int timeout_ms,
                                           powersync_lease **out);

/**
 * The leased connection. Ownership: borrowed; valid until the lease is
 * released. Do not close it, change its hooks, or leave a transaction open
 * when releasing (an open transaction is rolled back on release).
 * Thread-safety: use the connection from one thread at a time.
 */
POWERSYNC_API sqlite3 *powersync_lease_sqlite(powersync_lease *lease);

/**
 * Returns the connection to the pool; an open transaction is rolled back.
 * Releasing the writer delivers the tables changed by transactions committed
 * under the lease to watchers. Accepts NULL.
 * Thread-safety: any thread, once per lease.
 */
POWERSYNC_API void powersync_lease_release(powersync_lease *lease);

/* ---- Transactions -------------------------------------------------------- */

/**
 * Body of a transaction. Return 0 to commit (write transactions), non-zero to
 * roll back; the non-zero value is reported as POWERSYNC_EUSER.
 * Callback thread: the thread that called the transaction function.
 */
typedef int (*powersync_tx_cb)(sqlite3 *conn, void *user_data);

/**
 * Runs cb inside BEGIN IMMEDIATE ... COMMIT on the writer; rolls back when cb
 * returns non-zero or COMMIT fails. The transaction cannot be left open.
 * @return POWERSYNC_OK, POWERSYNC_EUSER, POWERSYNC_ECLOSED or an SQLite code.
 * Thread-safety: safe from any thread; must not be nested on one thread.
 */
POWERSYNC_API int powersync_db_write_transaction(powersync_db *db,
                                                 powersync_tx_cb cb,
                                                 void *user_data);

/**
 * Runs cb inside BEGIN ... on a reader; the transaction always ends with
 * ROLLBACK. @return POWERSYNC_OK, POWERSYNC_EUSER (cb returned non-zero),
 * POWERSYNC_ECLOSED, POWERSYNC_EINVAL or an SQLite code.
 * Thread-safety: safe from any thread.
 */
POWERSYNC_API int powersync_db_read_transaction(powersync_db *db,
                                                powersync_tx_cb cb,
                                                void *user_data);

/* ---- Statements with bound parameters ------------------------------------ */

typedef enum powersync_value_type {
  POWERSYNC_VALUE_NULL = 0,
  POWERSYNC_VALUE_INTEGER = 1,
  POWERSYNC_VALUE_REAL = 2,
  POWERSYNC_VALUE_TEXT = 3,
  POWERSYNC_VALUE_BLOB = 4
} powersync_value_type;

/** One SQL value, as a parameter or a result cell. */
typedef struct powersync_value {
  powersync_value_type type;
  union {
    int64_t integer;
    double real;
    struct {
      const void *data; /**< TEXT: UTF-8, NUL-terminated in results. */
      size_t size;      /**< Bytes, without the terminating NUL. */
    } bytes;
  } as;
} powersync_value;

/** Parameter constructors (no allocation; TEXT and BLOB borrow their bytes).
 * powersync_text(NULL) is NULL. Thread-safety: reentrant. */
POWERSYNC_API powersync_value powersync_null(void);
POWERSYNC_API powersync_value powersync_int(int64_t v);
POWERSYNC_API powersync_value powersync_real(double v);
/** TEXT; s must stay valid until the call it is passed to returns. */
POWERSYNC_API powersync_value powersync_text(const char *s);
POWERSYNC_API powersync_value powersync_blob(const void *data, size_t size);

/**
 * Executes one statement on the writer, binding params[0..n) to ?1..?n, and
 * discards result rows.
 * @param[out] changes_out rows changed (sqlite3_changes64), may be NULL.
 * @return POWERSYNC_OK; POWERSYNC_EINVAL when sql holds no or several
 *   statements or n differs from its parameter count; POWERSYNC_ECLOSED; or
 *   an SQLite (extended) code (message in powersync_error_last).
 * Thread-safety: safe from any thread.
 */
POWERSYNC_API int powersync_db_execute(powersync_db *db, const char *sql,
                                       const powersync_value *params, size_t n,
                                       int64_t *changes_out);

/**
 * Runs a query on a reader and returns every row.
 * @param[out] out the rows (possibly zero); NULL on failure.
 * @return as powersync_db_execute.
 * Ownership: the caller frees *out with powersync_rows_free().
 * Thread-safety: safe from any thread.
 */
POWERSYNC_API int powersync_db_query(powersync_db *db, const char *sql,
                                     const powersync_value *params, size_t n,
                                     powersync_rows **out);

/** Number of rows and columns (0 for NULL). Thread-safety: a result may be
 * read by several threads at once. */
POWERSYNC_API size_t powersync_rows_count(const powersync_rows *rows);
POWERSYNC_API size_t powersync_rows_columns(const powersync_rows *rows);
/** Column name (borrowed; valid while rows lives). */
POWERSYNC_API const char *powersync_rows_column_name(const powersync_rows *rows,
                                                     size_t column);
/** Cell (borrowed; valid while rows lives); NULL when out of range. */
POWERSYNC_API const powersync_value *
powersync_rows_value(const powersync_rows *rows, size_t row, size_t column);
/** Accepts NULL. */
POWERSYNC_API void powersync_rows_free(powersync_rows *rows);

/** powersync_client_id() of the database (cached). Ownership: borrowed,
 * valid while db is open. Returns NULL on failure (powersync_error_last has
 * the code). Thread-safety: safe from any thread. */
POWERSYNC_API const char *powersync_db_client_id(powersync_db *db);

/* ---- Dispatch of callbacks on the application's thread ------------------- */

/**
 * With POWERSYNC_DISPATCH_APP: runs up to max_events callbacks that are due
 * (0 or negative = all that were due when the call began) on the calling
 * thread, in order, and returns how many ran. Callbacks queued while it runs
 * wait for the next call, so a callback that re-queues work cannot keep the
 * caller here. Returns 0 when called from inside a callback (no nesting) or
 * while another thread is dispatching.
 * @return the number of callbacks run, or POWERSYNC_EINVAL when db is NULL or
 *   was opened with POWERSYNC_DISPATCH_THREAD.
 * Thread-safety: any thread, one at a time; not concurrently with
 *   powersync_db_close.
 */
POWERSYNC_API int powersync_db_dispatch(powersync_db *db, int max_events);

/**
 * With POWERSYNC_DISPATCH_APP: a file descriptor that is readable while
 * callbacks are due (poll it for POLLIN in an event loop, then call
 * powersync_db_dispatch). Throttled callbacks make it readable when their
 * time comes, so the loop needs no timers of its own. It stays readable until
 * a powersync_db_dispatch call leaves nothing due. Level-triggered: do not
 * read, write or close it; it is valid until powersync_db_close.
 * @return the descriptor, or -1 with POWERSYNC_DISPATCH_THREAD or a NULL db.
 * Thread-safety: safe from any thread.
 */
POWERSYNC_API int powersync_db_dispatch_fd(powersync_db *db);

/**
 * With POWERSYNC_DISPATCH_APP: a wake-up function, for loops that prefer it
 * over a file descriptor (post a message to the loop, then call
 * powersync_db_dispatch there). Called once each time callbacks become due
 * after the previous powersync_db_dispatch left nothing due — not once per
 * callback. Setting it calls it again for callbacks already due.
 * Callback thread: an SDK thread (the database's dispatch thread). It must
 * only wake the loop: do not call powersync_db_dispatch or other functions
 * of db from it.
 */
typedef void (*powersync_dispatch_ready_cb)(void *user_data);

/**
 * Sets (cb NULL: removes) the wake-up function. The previous one may still
 * be running when this returns; none runs after powersync_db_close returns.
 * Thread-safety: safe from any thread. NULL db: nothing happens.
 */
POWERSYNC_API void powersync_db_set_dispatch_ready(
    powersync_db *db, powersync_dispatch_ready_cb cb, void *user_data);

/* ---- Clearing -------------------------------------------------------------
 */

#define POWERSYNC_CLEAR_LOCAL 1u /**< Also empty local-only tables. */
#define POWERSYNC_CLEAR_SOFT                                                   \
  2u /**< Keep downloaded bucket data (faster                                  \
        resync). */

/**
 * Deletes synced data and the upload queue (powersync_clear with flags, in a
 * write transaction); the client id is kept.
 * @return POWERSYNC_OK, POWERSYNC_EINVAL for unknown flags, POWERSYNC_EBUSY
 *   while sync runs, or an SQLite code.
 * Thread-safety: safe from any thread.
 */
POWERSYNC_API int powersync_db_clear(powersync_db *db, unsigned int flags);

POWERSYNC_END_DECL

#endif
