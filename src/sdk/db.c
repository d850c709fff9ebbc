/*
 * db.c: opening and closing a powersync_db, applying the schema, the
 * transaction helpers, clearing, the client id and the dispatcher accessor.
 *
 * Opening (spec sdk.md sections 2 and 3): the writer is opened first and
 * switched to WAL before any reader exists; the core is registered on every
 * connection with sqlite3_powersync_init (never sqlite3_auto_extension,
 * which would change the application's other connections); the core's
 * version is checked; powersync_init() and powersync_replace_schema() run in
 * one write transaction; the writer's update hooks are installed; then the
 * read-only connections are opened. In-memory databases have a single
 * connection that serves reads and writes alike.
 *
 * Closing stops the producers of work before their consumers: new leases
 * are refused, change listeners are dropped, the dispatcher (and so every
 * watch callback) is stopped, outstanding leases are waited for, and only
 * then are the connections closed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db_internal.h"
#include "sync_internal.h"

/* Sizes and limits of sdk.md section 3. */
#define PS_JOURNAL_SIZE_LIMIT 6291456 /* 6 MiB, as every SDK. */
#define PS_MAX_READERS                                                         \
  64 /* Each reader holds a page cache; more than this                         \
        is almost certainly a units mistake. */
/* The WAL switch ignores the busy handler, so it is retried for this long
 * (2 ms doubling to 16 ms, as the Dart SDK does). */
#define PS_WAL_RETRY_MS 500

/* The core line this SDK drives (sdk.md section 2: 0.5.x). */
#define PS_CORE_MAJOR 0
#define PS_CORE_MINOR 5

int powersync_db_options_init(powersync_db_options *opts,
                              unsigned int version) {
  static const powersync_db_options defaults = POWERSYNC_DB_OPTIONS_INIT;
  ps__error_reset();
  if (!opts)
    return ps__error_set(POWERSYNC_EINVAL, "opts is NULL");
  if (version != POWERSYNC_DB_OPTIONS_VERSION)
    return ps__error_set(POWERSYNC_EINVAL, "unsupported options version %u",
                         version);
  *opts = defaults;
  return POWERSYNC_OK;
}

static int check_options(const powersync_db_options *o) {
  if (o->version < 1 || o->version > POWERSYNC_DB_OPTIONS_VERSION)
    return ps__error_set(POWERSYNC_EINVAL, "unsupported options version %u",
                         o->version);
  if (o->readers < 0 || o->readers > PS_MAX_READERS)
    return ps__error_set(POWERSYNC_EINVAL, "readers must be 0..%d, not %d",
                         PS_MAX_READERS, o->readers);
  if (o->synchronous != POWERSYNC_SYNCHRONOUS_NORMAL &&
      o->synchronous != POWERSYNC_SYNCHRONOUS_FULL)
    return ps__error_set(POWERSYNC_EINVAL, "invalid synchronous %d",
                         (int)o->synchronous);
  if (o->busy_timeout_ms < 0 || o->cache_size_kib < 0)
    return ps__error_set(POWERSYNC_EINVAL,
                         "busy_timeout_ms and cache_size_kib must be >= 0");
  if (o->dispatch != POWERSYNC_DISPATCH_THREAD &&
      o->dispatch != POWERSYNC_DISPATCH_APP)
    return ps__error_set(POWERSYNC_EINVAL, "invalid dispatch mode %d",
                         (int)o->dispatch);
  return POWERSYNC_OK;
}

/* --- Connections ------------------------------------------------------------
 */

/* The first column of the first row of sql as a new string ("" for NULL). */
static int query_text(sqlite3 *conn, const char *sql, char **out) {
  sqlite3_stmt *stmt = NULL;
  int rc;

  *out = NULL;
  rc = sqlite3_prepare_v2(conn, sql, -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    const unsigned char *t = sqlite3_column_text(stmt, 0);
    *out = strdup(t ? (const char *)t : "");
    rc = *out ? POWERSYNC_OK : ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  } else if (rc == SQLITE_DONE) {
    rc = ps__error_set(POWERSYNC_ERROR, "'%s' returned no row", sql);
  } else {
    rc = ps__error_sqlite(conn, rc);
  }
  sqlite3_finalize(stmt);
  return rc;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Switches the writer to WAL. Returns 1 in *wal when the file is in WAL
 * mode afterwards (in-memory databases report "memory"). */
static int enable_wal(sqlite3 *conn, int *wal) {
  int waited = 0, delay = 2;
  char *mode = NULL;
  int rc;

  *wal = 0;
  for (;;) {
    rc = query_text(conn, "PRAGMA journal_mode = WAL", &mode);
    if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
      break;
    if (waited >= PS_WAL_RETRY_MS)
      break;
    sleep_ms(delay);
    waited += delay;
    delay = delay < 16 ? delay * 2 : 16;
  }
  if (rc == POWERSYNC_OK)
    *wal = strcmp(mode, "wal") == 0;
  free(mode);
  return rc;
}

/* Pragmas of sdk.md section 3 that apply to every connection. */
static int apply_common_pragmas(sqlite3 *conn, const powersync_db_options *o,
                                int reader) {
  char sql[256];
  snprintf(sql, sizeof(sql),
           "PRAGMA journal_size_limit = %d; PRAGMA synchronous = %s; "
           "PRAGMA recursive_triggers = TRUE; %s",
           PS_JOURNAL_SIZE_LIMIT,
           o->synchronous == POWERSYNC_SYNCHRONOUS_FULL ? "FULL" : "NORMAL",
           reader ? "PRAGMA query_only = 1;" : "");
  if (ps__db_exec(conn, sql) != POWERSYNC_OK)
    return powersync_error_last()->code;
  /* A negative cache_size is in KiB; 0 keeps SQLite's default. */
  if (o->cache_size_kib > 0) {
    snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", o->cache_size_kib);
    return ps__db_exec(conn, sql);
  }
  return POWERSYNC_OK;
}

/* Opens one connection with the core registered. */
static int open_connection(const char *path, int reader,
                           const powersync_db_options *o, sqlite3 **out) {
  int flags = SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
  sqlite3 *conn = NULL;
  char *err = NULL;
  int rc;

#ifdef SQLITE_OPEN_EXRESCODE
  flags |= SQLITE_OPEN_EXRESCODE;
#endif
  /* NOMUTEX: a connection is only ever used by its lease holder, and the
   * pool's mutex orders hand-overs between threads. */
  flags |= reader ? SQLITE_OPEN_READONLY
                  : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  *out = NULL;
  rc = sqlite3_open_v2(path, &conn, flags, NULL);
  if (rc != SQLITE_OK) {
    rc = conn ? ps__error_sqlite(conn, rc)
              : ps__error_set(POWERSYNC_ENOMEM, "out of memory");
    ps__error_set(rc, "cannot open '%s': %s", path,
                  conn ? sqlite3_errmsg(conn) : "out of memory");
    sqlite3_close(conn);
    return rc;
  }
  sqlite3_extended_result_codes(conn, 1);
  rc = sqlite3_powersync_init(conn, &err, NULL);
  if (rc != SQLITE_OK) {
    rc = ps__error_set(rc == SQLITE_ABORT ? POWERSYNC_EVERSION : rc,
                       "cannot register the PowerSync core: %s",
                       err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    sqlite3_close(conn);
    return rc;
  }
  sqlite3_busy_timeout(conn, o->busy_timeout_ms);
  *out = conn;
  return POWERSYNC_OK;
}

/* Closes conn. The first sqlite3_close also lets the core release its own
 * statements (its vtabs disconnect); if it still reports SQLITE_BUSY, a
 * lease holder leaked statements: they are finalized with a warning and the
 * close retried. Finalizing before the first close would free the core's
 * statements behind its back. */
static int close_connection(sqlite3 *conn) {
  int rc;
  if (!conn)
    return POWERSYNC_OK;
  rc = sqlite3_close(conn);
  if (rc != SQLITE_BUSY)
    return rc == SQLITE_OK ? POWERSYNC_OK : ps__error_sqlite(conn, rc);
  for (;;) {
    sqlite3_stmt *stmt = sqlite3_next_stmt(conn, NULL);
    if (!stmt)
      break;
    ps__log(POWERSYNC_LOG_WARN, "db", "finalizing a leaked statement: %s",
            sqlite3_sql(stmt));
    sqlite3_finalize(stmt);
  }
  rc = sqlite3_close(conn);
  return rc == SQLITE_OK ? POWERSYNC_OK : ps__error_sqlite(conn, rc);
}

/* Requires a 0.5.x core: its local write target and timestamps differ from
 * 0.4.x (sdk.md section 2). */
static int check_core_version(sqlite3 *conn) {
  char *v = NULL;
  long major, minor;
  char *end;
  int rc = query_text(conn, "SELECT powersync_rs_version()", &v);
  if (rc != POWERSYNC_OK)
    return rc;
  major = strtol(v, &end, 10);
  minor = *end == '.' ? strtol(end + 1, &end, 10) : -1;
  if (major != PS_CORE_MAJOR || minor != PS_CORE_MINOR)
    rc = ps__error_set(POWERSYNC_EVERSION, "core version '%s' is not %d.%d.x",
                       v, PS_CORE_MAJOR, PS_CORE_MINOR);
  free(v);
  return rc;
}

/* --- Running SQL in a write transaction -------------------------------------
 */

/* Runs one statement with params to completion. */
static int run_bound(sqlite3 *conn, const char *sql,
                     const powersync_value *params, size_t n) {
  sqlite3_stmt *stmt = NULL;
  int rc = ps__prepare_bound(conn, sql, params, n, &stmt);
  if (rc == POWERSYNC_OK) {
    int step;
    do
      step = sqlite3_step(stmt);
    while (step == SQLITE_ROW);
    if (step != SQLITE_DONE)
      rc = ps__error_sqlite(conn, step);
  }
  sqlite3_finalize(stmt);
  return rc;
}

/* Ends a transaction with ROLLBACK unless the connection already left it,
 * keeping the thread's error of the failure that led here. */
static void rollback_quietly(sqlite3 *conn) {
  if (!sqlite3_get_autocommit(conn))
    sqlite3_exec(conn, "ROLLBACK", NULL, NULL, NULL);
}

/* COMMIT, or ROLLBACK when COMMIT fails. */
static int commit(sqlite3 *conn) {
  int rc = ps__db_exec(conn, "COMMIT");
  if (rc != POWERSYNC_OK)
    rollback_quietly(conn);
  return rc;
}

/* powersync_init() (and, with schema_json, powersync_replace_schema) in one
 * write transaction on conn. */
static int init_and_apply(sqlite3 *conn, const char *schema_json, int init) {
  powersync_value param = powersync_text(schema_json);
  int rc = ps__db_exec(conn, "BEGIN IMMEDIATE");
  if (rc != POWERSYNC_OK)
    return rc;
  if (init)
    rc = run_bound(conn, "SELECT powersync_init()", NULL, 0);
  if (rc == POWERSYNC_OK && schema_json)
    rc = run_bound(conn, "SELECT powersync_replace_schema(?)", &param, 1);
  /* Other SDKs (Kotlin, Swift) raise user_version to 1 so that tools see an
   * initialised database; keep the files interchangeable. */
  if (rc == POWERSYNC_OK && init)
    rc = ps__db_exec(conn, "PRAGMA user_version = 1");
  if (rc == POWERSYNC_OK)
    return commit(conn);
  rollback_quietly(conn);
  return rc;
}

/* The schema's JSON after validation; NULL schema gives NULL (keep the
 * database's schema). */
static int schema_json_of(const powersync_schema *schema, char **out) {
  int rc;
  *out = NULL;
  if (!schema)
    return POWERSYNC_OK;
  rc = powersync_schema_validate(schema);
  if (rc == POWERSYNC_OK)
    rc = powersync_schema_to_json(schema, out);
  return rc;
}

/* --- Open and close ---------------------------------------------------------
 */

/* Closes whatever db holds and frees it; returns the first close error. */
static int db_free(powersync_db *db) {
  int rc = POWERSYNC_OK, rc2;
  size_t i;
  for (i = 0; i < db->reader_count; i++) {
    rc2 = close_connection(db->readers[i].sqlite);
    if (rc == POWERSYNC_OK)
      rc = rc2;
  }
  rc2 = close_connection(db->writer.sqlite);
  if (rc == POWERSYNC_OK)
    rc = rc2;
  ps__pool_destroy(db);
  ps__status_hub_free(db->status_hub);
  ps__streams_free(db->streams);
  if (db->connect_mu_initialised) {
    pthread_mutex_destroy(&db->connect_mu);
    pthread_mutex_destroy(&db->sync_slot.event_mu);
  }
  free(db->readers);
  free(db->client_id);
  powersync_free(db->schema_json);
  free(db->path);
  free(db->file_name);
  free(db);
  return rc;
}

/* Opens the writer and prepares the database file. */
static int open_writer(powersync_db *db, const char *schema_json) {
  sqlite3 *conn;
  const char *file;
  int wal = 0;
  int rc = open_connection(db->path, 0, &db->opts, &db->writer.sqlite);
  if (rc != POWERSYNC_OK)
    return rc;
  conn = db->writer.sqlite;
  db->writer.is_writer = 1;
  /* "" for in-memory and temporary databases, which readers cannot see. */
  file = sqlite3_db_filename(conn, "main");
  db->file_name = strdup(file ? file : "");
  if (!db->file_name)
    return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  db->single = !file || !*file || db->opts.readers == 0;
  if (file && *file) {
    rc = enable_wal(conn, &wal);
    if (rc != POWERSYNC_OK)
      return rc;
    if (!wal) {
      ps__log(POWERSYNC_LOG_WARN, "db",
              "'%s' refused WAL mode; using a single connection", db->path);
      db->single = 1;
    }
  }
  rc = apply_common_pragmas(conn, &db->opts, 0);
  if (rc == POWERSYNC_OK)
    rc = check_core_version(conn);
  if (rc == POWERSYNC_OK)
    rc = init_and_apply(conn, schema_json, 1);
  if (rc == POWERSYNC_OK)
    rc = ps__db_exec(conn, "SELECT powersync_update_hooks('install')");
  return rc;
}

static int open_readers(powersync_db *db) {
  size_t i, n = db->single ? 0 : (size_t)db->opts.readers;
  int rc;
  if (n == 0)
    return POWERSYNC_OK;
  db->readers = calloc(n, sizeof(*db->readers));
  if (!db->readers)
    return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  for (i = 0; i < n; i++) {
    rc = open_connection(db->path, 1, &db->opts, &db->readers[i].sqlite);
    if (rc != POWERSYNC_OK)
      return rc;
    db->reader_count++;
    rc = apply_common_pragmas(db->readers[i].sqlite, &db->opts, 1);
    if (rc != POWERSYNC_OK)
      return rc;
  }
  return POWERSYNC_OK;
}

/* The status hub (showing the offline status from the start) and the
 * stream registry exist for the database's whole life. */
static int init_sync_state(powersync_db *db) {
  if (pthread_mutex_init(&db->connect_mu, NULL) != 0)
    return ps__error_set(POWERSYNC_ENOMEM, "cannot create a mutex");
  if (pthread_mutex_init(&db->sync_slot.event_mu, NULL) != 0) {
    pthread_mutex_destroy(&db->connect_mu);
    return ps__error_set(POWERSYNC_ENOMEM, "cannot create a mutex");
  }
  db->connect_mu_initialised = 1;
  db->status_hub = ps__status_hub_new(db->dispatcher);
  db->streams = ps__streams_new();
  if (!db->status_hub || !db->streams)
    return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  return ps__status_refresh_offline(db);
}

int powersync_db_open(powersync_db **out, const char *path,
                      const powersync_schema *schema,
                      const powersync_db_options *opts) {
  static const powersync_db_options defaults = POWERSYNC_DB_OPTIONS_INIT;
  powersync_db *db = NULL;
  char *schema_json = NULL;
  int rc;

  ps__error_reset();
  if (!out)
    return ps__error_set(POWERSYNC_EINVAL, "out is NULL");
  *out = NULL;
  if (!path)
    return ps__error_set(POWERSYNC_EINVAL, "path is NULL");
  if (!opts)
    opts = &defaults;
  rc = check_options(opts);
  if (rc == POWERSYNC_OK)
    rc = schema_json_of(schema, &schema_json);
  if (rc != POWERSYNC_OK)
    return rc;

  db = calloc(1, sizeof(*db));
  if (!db || !(db->path = strdup(path))) {
    free(db);
    powersync_free(schema_json);
    return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  }
  db->opts = *opts;
  db->opts.version = POWERSYNC_DB_OPTIONS_VERSION;
  rc = ps__pool_init(db);
  if (rc == POWERSYNC_OK)
    rc = open_writer(db, schema_json);
  if (rc == POWERSYNC_OK)
    rc = open_readers(db);
  if (rc == POWERSYNC_OK) {
    db->dispatcher = ps__dispatcher_new(db->opts.dispatch);
    if (!db->dispatcher)
      rc = ps__error_set(POWERSYNC_ENOMEM, "cannot start the dispatcher");
  }
  if (rc == POWERSYNC_OK)
    rc = init_sync_state(db);
  db->schema_json = schema_json;
  if (rc != POWERSYNC_OK) {
    /* Keep the open error, not one from tearing down. */
    powersync_error saved = *powersync_error_last();
    char message[512];
    snprintf(message, sizeof(message), "%s", saved.message);
    if (db->status_hub)
      ps__status_hub_close(db->status_hub);
    ps__dispatcher_free(db->dispatcher);
    db_free(db);
    return ps__error_set(saved.code, "%s", message);
  }
  ps__log(POWERSYNC_LOG_INFO, "db", "opened '%s' with %zu reader(s)%s", path,
          db->reader_count, db->single ? " (single connection)" : "");
  *out = db;
  return POWERSYNC_OK;
}

int powersync_db_close(powersync_db *db) {
  ps__error_reset();
  if (!db)
    return POWERSYNC_OK;
  /* The sync client still needs the writer for its final "stop". */
  ps__sync_shutdown(db);
  ps__pool_begin_close(db);
  ps__pool_clear_listeners(db);
  ps__status_hub_close(db->status_hub);
  ps__dispatcher_free(db->dispatcher);
  db->dispatcher = NULL;
  ps__pool_wait_idle(db);
  ps__log(POWERSYNC_LOG_INFO, "db", "closing '%s'", db->path);
  return db_free(db);
}

/* --- Schema, clear, client id -----------------------------------------------
 */

/* PRAGMA schema_version: SQLite raises it with every change of the schema
 * (tables, views, indexes, triggers). */
static int schema_version(sqlite3 *conn, int64_t *out) {
  char *text = NULL;
  int rc = query_text(conn, "PRAGMA schema_version", &text);
  if (rc == POWERSYNC_OK)
    *out = strtoll(text, NULL, 10);
  free(text);
  return rc;
}

/* Runs one statement inside BEGIN IMMEDIATE ... COMMIT on the writer. With
 * schema_changed, also reports whether the statement changed the schema:
 * both versions are read inside the transaction, so another connection's
 * change cannot count as ours. */
static int write_statement(powersync_db *db, const char *sql,
                           const powersync_value *params, size_t n,
                           int *schema_changed) {
  powersync_lease *lease = NULL;
  int64_t before = 0, after = 0;
  sqlite3 *conn;
  int rc = ps__pool_acquire(db, 1, -1, &lease);
  if (rc != POWERSYNC_OK)
    return rc;
  conn = powersync_lease_sqlite(lease);
  rc = ps__db_exec(conn, "BEGIN IMMEDIATE");
  if (rc == POWERSYNC_OK) {
    if (schema_changed)
      rc = schema_version(conn, &before);
    if (rc == POWERSYNC_OK)
      rc = run_bound(conn, sql, params, n);
    if (rc == POWERSYNC_OK && schema_changed)
      rc = schema_version(conn, &after);
    if (rc == POWERSYNC_OK)
      rc = commit(conn);
    else
      rollback_quietly(conn);
  }
  powersync_lease_release(lease);
  if (schema_changed)
    *schema_changed = rc == POWERSYNC_OK && before != after;
  return rc;
}

int powersync_db_update_schema(powersync_db *db,
                               const powersync_schema *schema) {
  char *json = NULL;
  powersync_value param;
  int changed = 0;
  int rc;

  ps__error_reset();
  if (!db || !schema)
    return ps__error_set(POWERSYNC_EINVAL, "db or schema is NULL");
  rc = schema_json_of(schema, &json);
  if (rc != POWERSYNC_OK)
    return rc;
  /* Readers need no nudge for queries: SQLite compares the schema cookie
   * when a reader starts its next transaction and reloads the schema. (Not
   * for EXPLAIN, which runs nothing; watch.c checks the cookie itself.) */
  param = powersync_text(json);
  rc = write_statement(db, "SELECT powersync_replace_schema(?)", &param, 1,
                       &changed);
  if (rc == POWERSYNC_OK) {
    /* The sync client sends the schema (its raw tables) with "start". */
    pthread_mutex_lock(&db->mu);
    powersync_free(db->schema_json);
    db->schema_json = json;
    json = NULL;
    pthread_mutex_unlock(&db->mu);
  }
  powersync_free(json);
  /* The core leaves an unchanged schema alone; then no watch needs to
   * re-run. After a change, query watches find their tables again and
   * re-run: a view may now read another table, which no update hook
   * reports. Called after the commit and with no lease held. */
  if (changed)
    ps__pool_schema_changed(db);
  return rc;
}

int powersync_db_clear(powersync_db *db, unsigned int flags) {
  powersync_value param;
  int rc;
  ps__error_reset();
  if (!db)
    return ps__error_set(POWERSYNC_EINVAL, "db is NULL");
  if (flags & ~(POWERSYNC_CLEAR_LOCAL | POWERSYNC_CLEAR_SOFT))
    return ps__error_set(POWERSYNC_EINVAL, "unknown clear flags 0x%x", flags);
  /* The flag bits are the core's powersync_clear bits. Clearing under a
   * running sync client would race its iteration: disconnect first (or use
   * powersync_db_disconnect_and_clear). */
  pthread_mutex_lock(&db->connect_mu);
  if (db->sync_slot.client) {
    pthread_mutex_unlock(&db->connect_mu);
    return ps__error_set(POWERSYNC_EBUSY,
                         "cannot clear while connected; disconnect first");
  }
  param = powersync_int((int64_t)flags);
  rc = write_statement(db, "SELECT powersync_clear(?)", &param, 1, NULL);
  pthread_mutex_unlock(&db->connect_mu);
  if (rc == POWERSYNC_OK)
    ps__status_refresh_offline(db);
  return rc;
}

const char *powersync_db_client_id(powersync_db *db) {
  powersync_lease *lease = NULL;
  char *id = NULL;
  const char *result;

  ps__error_reset();
  if (!db) {
    ps__error_set(POWERSYNC_EINVAL, "db is NULL");
    return NULL;
  }
  pthread_mutex_lock(&db->mu);
  result = db->client_id;
  pthread_mutex_unlock(&db->mu);
  if (result)
    return result;
  /* Fetched outside db->mu; a concurrent caller may fetch it too, and the
   * first one stored wins (the value is the same). */
  if (ps__pool_acquire(db, 0, -1, &lease) != POWERSYNC_OK)
    return NULL;
  query_text(powersync_lease_sqlite(lease), "SELECT powersync_client_id()",
             &id);
  powersync_lease_release(lease);
  if (!id)
    return NULL;
  pthread_mutex_lock(&db->mu);
  if (!db->client_id) {
    db->client_id = id;
    id = NULL;
  }
  result = db->client_id;
  pthread_mutex_unlock(&db->mu);
  free(id);
  return result;
}

/* --- Transactions -----------------------------------------------------------
 */

/* BEGIN, cb, then COMMIT (commit_ok) or ROLLBACK. */
static int run_transaction(sqlite3 *conn, const char *begin, int commit_ok,
                           powersync_tx_cb cb, void *user_data) {
  int user;
  int rc = ps__db_exec(conn, begin);
  if (rc != POWERSYNC_OK)
    return rc;
  user = cb(conn, user_data);
  if (user != 0) {
    rollback_quietly(conn);
    return ps__error_set(POWERSYNC_EUSER,
                         "transaction callback returned %d; rolled back", user);
  }
  if (sqlite3_get_autocommit(conn))
    return ps__error_set(POWERSYNC_ERROR,
                         "the callback ended the transaction itself");
  if (!commit_ok) {
    rollback_quietly(conn);
    return POWERSYNC_OK;
  }
  return commit(conn);
}

static int transaction(powersync_db *db, int write, powersync_tx_cb cb,
                       void *user_data) {
  powersync_lease *lease = NULL;
  int rc;
  ps__error_reset();
  if (!db || !cb)
    return ps__error_set(POWERSYNC_EINVAL, "db or cb is NULL");
  rc = ps__pool_acquire(db, write, -1, &lease);
  if (rc != POWERSYNC_OK)
    return rc;
  rc = run_transaction(powersync_lease_sqlite(lease),
                       write ? "BEGIN IMMEDIATE" : "BEGIN", write, cb,
                       user_data);
  powersync_lease_release(lease);
  return rc;
}

int powersync_db_write_transaction(powersync_db *db, powersync_tx_cb cb,
                                   void *user_data) {
  return transaction(db, 1, cb, user_data);
}

int powersync_db_read_transaction(powersync_db *db, powersync_tx_cb cb,
                                  void *user_data) {
  return transaction(db, 0, cb, user_data);
}

/* --- Dispatch
 * ----------------------------------------------------------------- */

/* The public powersync_db_dispatch* wrappers live in dispatch.c. */
char *ps__db_schema_json(powersync_db *db) {
  char *copy = NULL;
  pthread_mutex_lock(&db->mu);
  if (db->schema_json)
    copy = strdup(db->schema_json);
  pthread_mutex_unlock(&db->mu);
  return copy;
}

struct ps__status_hub *ps__db_status_hub(powersync_db *db) {
  return db ? db->status_hub : NULL;
}

struct ps__streams *ps__db_streams(powersync_db *db) {
  return db ? db->streams : NULL;
}

struct ps__sync_slot *ps__db_sync_slot(powersync_db *db) {
  return &db->sync_slot;
}

const char *ps__db_file_name(powersync_db *db) {
  return db->file_name ? db->file_name : "";
}

pthread_mutex_t *ps__db_connect_mutex(powersync_db *db) {
  return &db->connect_mu;
}

struct ps__dispatcher *ps__db_dispatcher(powersync_db *db) {
  return db ? db->dispatcher : NULL;
}
