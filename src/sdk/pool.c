/*
 * pool.c: the connection pool of a powersync_db, its leases and the table
 * change notifications collected on the writer.
 *
 * HOW IT WORKS
 *
 * One mutex (db->mu) guards which connections are leased. A lease is the
 * connection's own embedded powersync_lease, so taking one allocates
 * nothing. Waiters sleep on writer_cv or reader_cv (CLOCK_MONOTONIC, so
 * timed waits survive wall clock jumps); a release signals the matching
 * condition, and closing broadcasts both so that every waiter returns
 * POWERSYNC_ECLOSED. leases_out counts held leases plus change deliveries in
 * progress; close waits on idle_cv until it drops to zero, so the database
 * outlives every thread still inside it.
 *
 * Releasing the writer rolls back a transaction the holder left open, then
 * asks the core for the tables changed by transactions committed since the
 * previous release (powersync_update_hooks('get'); rolled-back changes
 * never appear there) while the connection is still exclusively ours. The
 * connection is then returned to the pool and the table set delivered to
 * the listeners without any lease held.
 *
 * Replacing the schema writes no rows, so the core reports nothing for it;
 * powersync_db_update_schema calls ps__pool_schema_changed instead, which
 * raises a generation counter and calls the listeners' schema functions the
 * same way (listen_mu held, counted in leases_out).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/json.h"
#include "../util/arena.h"
#include "db_internal.h"

/* The change list of one release is small (table names); this bounds the
 * memory a pathological 'get' result could use. */
#define PS_CHANGES_ARENA_MAX (16u * 1024 * 1024)

static pthread_cond_t *cond_of(powersync_db *db, int writer);

int ps__pool_init(powersync_db *db) {
  pthread_condattr_t attr;
  int rc = 0;
  if (pthread_condattr_init(&attr) != 0)
    return POWERSYNC_ENOMEM;
  /* Timed lease waits measure a duration, not a wall-clock time. */
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (pthread_mutex_init(&db->mu, NULL) != 0)
    rc = -1;
  else if (pthread_mutex_init(&db->listen_mu, NULL) != 0)
    rc = -2;
  else if (pthread_cond_init(&db->writer_cv, &attr) != 0)
    rc = -3;
  else if (pthread_cond_init(&db->reader_cv, &attr) != 0)
    rc = -4;
  else if (pthread_cond_init(&db->idle_cv, &attr) != 0)
    rc = -5;
  pthread_condattr_destroy(&attr);
  if (rc == 0) {
    db->sync_initialised = 1;
    return POWERSYNC_OK;
  }
  /* Undo the steps that succeeded, in reverse. */
  if (rc <= -5)
    pthread_cond_destroy(&db->reader_cv);
  if (rc <= -4)
    pthread_cond_destroy(&db->writer_cv);
  if (rc <= -3)
    pthread_mutex_destroy(&db->listen_mu);
  if (rc <= -2)
    pthread_mutex_destroy(&db->mu);
  return POWERSYNC_ENOMEM;
}

void ps__pool_destroy(powersync_db *db) {
  if (!db->sync_initialised)
    return;
  pthread_cond_destroy(&db->idle_cv);
  pthread_cond_destroy(&db->reader_cv);
  pthread_cond_destroy(&db->writer_cv);
  pthread_mutex_destroy(&db->listen_mu);
  pthread_mutex_destroy(&db->mu);
  free(db->listeners);
  db->listeners = NULL;
  db->sync_initialised = 0;
}

/* The condition a waiter for this kind of connection sleeps on. In single
 * connection mode readers wait for the writer too. */
static pthread_cond_t *cond_of(powersync_db *db, int writer) {
  return writer || db->single ? &db->writer_cv : &db->reader_cv;
}

/* A free connection of the requested kind, or NULL. Caller holds db->mu. */
static struct ps__conn *pool_pick(powersync_db *db, int write) {
  size_t i;
  if (write || db->single)
    return db->writer.leased ? NULL : &db->writer;
  for (i = 0; i < db->reader_count; i++)
    if (!db->readers[i].leased)
      return &db->readers[i];
  return NULL;
}

static struct timespec deadline_after(int timeout_ms) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += timeout_ms / 1000;
  ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  return ts;
}

int ps__pool_acquire(powersync_db *db, int write, int timeout_ms,
                     powersync_lease **out) {
  struct timespec deadline = {0, 0};
  struct ps__conn *conn = NULL;
  pthread_cond_t *cv = cond_of(db, write);
  int rc = POWERSYNC_OK;

  *out = NULL;
  if (timeout_ms > 0)
    deadline = deadline_after(timeout_ms);
  pthread_mutex_lock(&db->mu);
  for (;;) {
    if (db->closing) {
      rc = POWERSYNC_ECLOSED;
      break;
    }
    conn = pool_pick(db, write);
    if (conn || rc == POWERSYNC_ETIMEOUT || timeout_ms == 0)
      break;
    if (timeout_ms < 0)
      pthread_cond_wait(cv, &db->mu);
    else if (pthread_cond_timedwait(cv, &db->mu, &deadline) == ETIMEDOUT)
      rc = POWERSYNC_ETIMEOUT; /* One last look, then give up. */
  }
  if (conn) {
    conn->leased = 1;
    db->leases_out++;
    rc = POWERSYNC_OK;
  } else if (rc == POWERSYNC_OK) {
    rc = POWERSYNC_ETIMEOUT; /* timeout_ms == 0 and nothing free. */
  }
  pthread_mutex_unlock(&db->mu);

  if (rc == POWERSYNC_ECLOSED)
    return ps__error_set(rc, "the database is closing");
  if (rc == POWERSYNC_ETIMEOUT)
    return ps__error_set(rc, "no %s connection became free within %d ms",
                         write ? "write" : "read", timeout_ms);
  conn->lease.db = db;
  conn->lease.conn = conn;
  *out = &conn->lease;
  return POWERSYNC_OK;
}

int powersync_db_lease_read(powersync_db *db, int timeout_ms,
                            powersync_lease **out) {
  ps__error_reset();
  if (!out)
    return ps__error_set(POWERSYNC_EINVAL, "out is NULL");
  *out = NULL;
  if (!db)
    return ps__error_set(POWERSYNC_EINVAL, "db is NULL");
  return ps__pool_acquire(db, 0, timeout_ms, out);
}

int powersync_db_lease_write(powersync_db *db, int timeout_ms,
                             powersync_lease **out) {
  ps__error_reset();
  if (!out)
    return ps__error_set(POWERSYNC_EINVAL, "out is NULL");
  *out = NULL;
  if (!db)
    return ps__error_set(POWERSYNC_EINVAL, "db is NULL");
  return ps__pool_acquire(db, 1, timeout_ms, out);
}

sqlite3 *powersync_lease_sqlite(powersync_lease *lease) {
  return lease ? lease->conn->sqlite : NULL;
}

/* The NULL-terminated list of tables in the core's JSON array, in one
 * allocation (pointers followed by the strings), or NULL when empty. */
static char **changes_from_json(const char *json, size_t len, size_t *count) {
  struct ps__arena arena;
  const struct ps__json_value *root;
  char **list = NULL;
  size_t i, n = 0, bytes = 0;
  char *p;

  *count = 0;
  ps__arena_init(&arena, PS_CHANGES_ARENA_MAX);
  root = ps__json_parse(&arena, json, len, NULL, 0);
  if (!root || root->type != PS_JSON_ARRAY || root->as.arr.count == 0)
    goto done;
  for (i = 0; i < root->as.arr.count; i++)
    if (root->as.arr.items[i]->type == PS_JSON_STRING) {
      n++;
      bytes += root->as.arr.items[i]->as.str.len + 1;
    }
  list = malloc((n + 1) * sizeof(char *) + bytes);
  if (!list)
    goto done;
  p = (char *)(list + n + 1);
  n = 0;
  for (i = 0; i < root->as.arr.count; i++) {
    const struct ps__json_value *v = root->as.arr.items[i];
    if (v->type != PS_JSON_STRING)
      continue;
    memcpy(p, v->as.str.ptr, v->as.str.len + 1);
    list[n++] = p;
    p += v->as.str.len + 1;
  }
  list[n] = NULL;
  *count = n;
done:
  ps__arena_free(&arena);
  return list;
}

/* Runs powersync_update_hooks('get') on the writer. Failures are logged:
 * a lost notification is better than a lease that cannot be released. */
static char **collect_changes(struct ps__conn *w, size_t *count) {
  sqlite3_stmt *stmt = NULL;
  char **list = NULL;
  int rc;

  *count = 0;
  rc = sqlite3_prepare_v2(w->sqlite, "SELECT powersync_update_hooks('get')", -1,
                          &stmt, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    const char *json = (const char *)sqlite3_column_text(stmt, 0);
    size_t len = (size_t)sqlite3_column_bytes(stmt, 0);
    /* "[]" is by far the most common answer: skip the parser. */
    if (json && len > 2)
      list = changes_from_json(json, len, count);
  } else {
    ps__log(POWERSYNC_LOG_ERROR, "pool", "cannot read table changes: %s",
            sqlite3_errmsg(w->sqlite));
  }
  sqlite3_finalize(stmt);
  return list;
}

/* Calls every listener with tables. listen_mu stays held during the calls,
 * so removing a listener waits for a delivery in progress. */
static void deliver_changes(powersync_db *db, char **tables, size_t count) {
  size_t i;
  pthread_mutex_lock(&db->listen_mu);
  for (i = 0; i < db->listener_count; i++)
    db->listeners[i].fn((const char *const *)tables, count,
                        db->listeners[i].user_data);
  pthread_mutex_unlock(&db->listen_mu);
}

void powersync_lease_release(powersync_lease *lease) {
  powersync_db *db;
  struct ps__conn *conn;
  char **changes = NULL;
  size_t count = 0;

  if (!lease)
    return;
  db = lease->db;
  conn = lease->conn;
  if (!sqlite3_get_autocommit(conn->sqlite)) {
    ps__log(POWERSYNC_LOG_WARN, "pool",
            "lease released inside a transaction; rolling back");
    sqlite3_exec(conn->sqlite, "ROLLBACK", NULL, NULL, NULL);
  }
  if (conn->is_writer)
    changes = collect_changes(conn, &count);

  pthread_mutex_lock(&db->mu);
  conn->leased = 0;
  pthread_cond_signal(cond_of(db, conn->is_writer));
  pthread_mutex_unlock(&db->mu);

  if (changes) {
    deliver_changes(db, changes, count);
    free(changes);
  }

  /* Only now may close proceed: the delivery above still used db. */
  pthread_mutex_lock(&db->mu);
  if (--db->leases_out == 0)
    pthread_cond_broadcast(&db->idle_cv);
  pthread_mutex_unlock(&db->mu);
}

void ps__pool_begin_close(powersync_db *db) {
  pthread_mutex_lock(&db->mu);
  db->closing = 1;
  pthread_cond_broadcast(&db->writer_cv);
  pthread_cond_broadcast(&db->reader_cv);
  pthread_mutex_unlock(&db->mu);
}

void ps__pool_wait_idle(powersync_db *db) {
  pthread_mutex_lock(&db->mu);
  while (db->leases_out > 0)
    pthread_cond_wait(&db->idle_cv, &db->mu);
  pthread_mutex_unlock(&db->mu);
}

/* --- Change listeners -------------------------------------------------------
 */

int ps__db_add_change_listener(powersync_db *db, ps__change_fn fn,
                               ps__schema_fn schema_fn, void *user_data,
                               uint64_t *id_out) {
  int closing;
  int rc = POWERSYNC_OK;

  if (!db || !fn || !id_out)
    return ps__error_set(POWERSYNC_EINVAL, "invalid listener");
  pthread_mutex_lock(&db->mu);
  closing = db->closing;
  pthread_mutex_unlock(&db->mu);
  if (closing)
    return ps__error_set(POWERSYNC_ECLOSED, "the database is closing");

  pthread_mutex_lock(&db->listen_mu);
  if (db->listener_count == db->listener_cap) {
    size_t cap = db->listener_cap ? db->listener_cap * 2 : 8;
    struct ps__listener *p = realloc(db->listeners, cap * sizeof(*p));
    if (!p) {
      rc = POWERSYNC_ENOMEM;
    } else {
      db->listeners = p;
      db->listener_cap = cap;
    }
  }
  if (rc == POWERSYNC_OK) {
    struct ps__listener *l = &db->listeners[db->listener_count++];
    l->id = ++db->next_listener_id;
    l->fn = fn;
    l->schema_fn = schema_fn;
    l->user_data = user_data;
    *id_out = l->id;
  }
  pthread_mutex_unlock(&db->listen_mu);
  if (rc != POWERSYNC_OK)
    return ps__error_set(rc, "out of memory");
  return POWERSYNC_OK;
}

void ps__db_remove_change_listener(powersync_db *db, uint64_t id) {
  size_t i;
  if (!db)
    return;
  pthread_mutex_lock(&db->listen_mu);
  for (i = 0; i < db->listener_count; i++) {
    if (db->listeners[i].id != id)
      continue;
    memmove(&db->listeners[i], &db->listeners[i + 1],
            (db->listener_count - i - 1) * sizeof(db->listeners[0]));
    db->listener_count--;
    break;
  }
  pthread_mutex_unlock(&db->listen_mu);
}

void ps__pool_clear_listeners(powersync_db *db) {
  pthread_mutex_lock(&db->listen_mu);
  db->listener_count = 0;
  pthread_mutex_unlock(&db->listen_mu);
}

uint64_t ps__db_schema_generation(powersync_db *db) {
  uint64_t generation;
  pthread_mutex_lock(&db->mu);
  generation = db->schema_generation;
  pthread_mutex_unlock(&db->mu);
  return generation;
}

void ps__pool_schema_changed(powersync_db *db) {
  size_t i;
  pthread_mutex_lock(&db->mu);
  db->schema_generation++;
  if (db->closing) {
    pthread_mutex_unlock(&db->mu);
    return;
  }
  /* Counted like a change delivery, so that close waits for it. */
  db->leases_out++;
  pthread_mutex_unlock(&db->mu);

  /* Held during the calls, as in deliver_changes: removing a listener
   * waits for its call to end. */
  pthread_mutex_lock(&db->listen_mu);
  for (i = 0; i < db->listener_count; i++)
    if (db->listeners[i].schema_fn)
      db->listeners[i].schema_fn(db->listeners[i].user_data);
  pthread_mutex_unlock(&db->listen_mu);

  pthread_mutex_lock(&db->mu);
  if (--db->leases_out == 0)
    pthread_cond_broadcast(&db->idle_cv);
  pthread_mutex_unlock(&db->mu);
}

const char *ps__view_table_name(const char *name) {
  static const char data[] = "ps_data__";
  static const char local[] = "ps_data_local__";
  if (!name)
    return name;
  if (strncmp(name, data, sizeof(data) - 1) == 0)
    return name + sizeof(data) - 1;
  if (strncmp(name, local, sizeof(local) - 1) == 0)
    return name + sizeof(local) - 1;
  return name;
}
