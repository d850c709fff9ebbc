/*
 * db_internal.h: the layout of powersync_db and its connection pool, shared
 * by db.c (open, close, schema, clear), pool.c (leases, change
 * notifications) and query.c (statements and rows). Other SDK files use the
 * functions of sdk_internal.h and the public API instead of these members.
 */
#ifndef PS_SDK_DB_INTERNAL_H
#define PS_SDK_DB_INTERNAL_H

#include <pthread.h>

#include "sdk_internal.h"
#include "sync_internal.h"

/* One connection of the pool with its (reusable) lease object: a connection
 * is leased to at most one holder, so the lease can live inside it. */
struct ps__conn {
  sqlite3 *sqlite;
  int is_writer;
  int leased; /* Guarded by powersync_db.mu. */
  struct powersync_lease {
    powersync_db *db;
    struct ps__conn *conn;
  } lease;
};

/* A registered change listener. */
struct ps__listener {
  uint64_t id;
  ps__change_fn fn;
  ps__schema_fn schema_fn; /* NULL: not interested in schema changes. */
  void *user_data;
};

struct powersync_db {
  char *path;
  char *file_name; /* sqlite3_db_filename of the writer ("" in memory). */
  powersync_db_options opts;
  /* 1 when every lease uses the writer (in-memory databases, readers = 0,
   * or a file that refused WAL). */
  int single;

  int sync_initialised;     /* The mutexes and conditions below exist. */
  pthread_mutex_t mu;       /* Guards everything below up to the listeners. */
  pthread_cond_t writer_cv; /* The writer was released (or closing). */
  pthread_cond_t reader_cv; /* A reader was released (or closing). */
  pthread_cond_t idle_cv;   /* leases_out dropped to zero. */
  int closing;
  int leases_out; /* Leases held plus change deliveries in progress, for
                     close to wait on. */
  struct ps__conn writer;
  struct ps__conn *readers;
  size_t reader_count;
  char *client_id;            /* Cached powersync_client_id(). */
  char *schema_json;          /* The schema last applied through this handle, or
                                 NULL when opened without one. */
  uint64_t schema_generation; /* See ps__db_schema_generation. */

  /* Listeners: their own mutex, held while delivering, so that removing a
   * listener waits for a delivery in progress. */
  pthread_mutex_t listen_mu;
  struct ps__listener *listeners;
  size_t listener_count;
  size_t listener_cap;
  uint64_t next_listener_id;

  struct ps__dispatcher *dispatcher;

  /* The sync client's per-database state (sync_internal.h). connect_mu
   * serialises connect, disconnect, clear and close (sync_internal.h). */
  struct ps__status_hub *status_hub;
  struct ps__streams *streams;
  pthread_mutex_t connect_mu;
  int connect_mu_initialised;
  struct ps__sync_slot sync_slot;
};

/* --- pool.c -----------------------------------------------------------------
 */

/* Initialises the synchronisation members of db (before anything else). */
int ps__pool_init(powersync_db *db);
/* Destroys what ps__pool_init created. */
void ps__pool_destroy(powersync_db *db);
/* Takes a connection; write selects the writer. timeout_ms < 0 waits
 * forever. Sets the thread's error on failure. */
int ps__pool_acquire(powersync_db *db, int write, int timeout_ms,
                     powersync_lease **out);
/* Marks the pool closing and wakes every waiter (new leases then fail with
 * POWERSYNC_ECLOSED). */
void ps__pool_begin_close(powersync_db *db);
/* Blocks until every lease has been released. */
void ps__pool_wait_idle(powersync_db *db);
/* Drops every listener; after this returns none is running. */
void ps__pool_clear_listeners(powersync_db *db);
/* Raises the schema generation and calls the schema listeners (after
 * powersync_db_update_schema committed a different schema). */
void ps__pool_schema_changed(powersync_db *db);

/* --- query.c ----------------------------------------------------------------
 */

/* Prepares sql on conn (exactly one statement) and binds params. */
int ps__prepare_bound(sqlite3 *conn, const char *sql,
                      const powersync_value *params, size_t n,
                      sqlite3_stmt **out);
/* sqlite3_exec of sql on conn; error through ps__error_sqlite. */
int ps__db_exec(sqlite3 *conn, const char *sql);
/* Steps stmt to the end and copies every row into *out (caller frees). */
int ps__rows_collect(sqlite3 *conn, sqlite3_stmt *stmt, powersync_rows **out);

#endif
