/*
 * storage.c: the dev server's oplog, kept in the source database itself
 * (storage.h, protocol.md 11.3-11.5 and 12).
 *
 * Why in the source file: triggers are the only way to see writes made by
 * any program (the sqlite3 shell, the app's own backend) without polling
 * whole tables, and triggers can only write to their own database. Keeping
 * the oplog next to the data also makes replication one local transaction:
 * the changes consumed and the ops they produce commit together, so a crash
 * never loses or duplicates an op.
 *
 * Source rows are identified by "<table>/<id>" (the text of the id column,
 * or of the rowid for tables without one) rather than by rowid alone:
 * INSERT OR REPLACE gives a row a new rowid without firing a delete
 * trigger, and the client keys its oplog by subkey, so the id keeps the
 * subkey stable across such writes. Pending changes are grouped by that
 * source id; the rowids recorded with them are only candidates and are
 * checked against the row's current id before it is evaluated.
 *
 * Every open re-enqueues every row of the tables the config reads (and
 * every source row that is in a bucket now): replication skips unchanged
 * data, so this costs no ops, and it is what makes an edited sync config
 * (new queries, removed definitions) take effect on restart.
 *
 * Op ids come from the head kept in _powersync_meta, never from the ops
 * table, because compaction deletes ops. The head is mirrored in an atomic
 * so it can be read with or without the storage's lock.
 */
#include "storage.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "core/json.h"
#include "util/arena.h"
#include "util/buf.h"

/* Statements prepared once per storage; dynamic per-table SQL is cached
 * too (its number is bounded by the config's tables). */
struct stmt_cache_entry {
  char *sql;
  sqlite3_stmt *stmt;
};

struct psd_storage {
  sqlite3 *db;
  const struct psd_sync_config *cfg;
  /* has_id[i]: table psd_sync_config_table(cfg, i) has an id column. */
  unsigned char *has_id;
  size_t table_count;

  pthread_mutex_t lock; /* Serialises every use of db. */
  struct stmt_cache_entry *cache;
  size_t cache_len, cache_cap;
  _Atomic int64_t head;

  /* Waiting (psd_storage_wait) has its own mutex so that a waiter never
   * needs the storage lock and a caller holding it can still wake others. */
  pthread_mutex_t wait_lock;
  pthread_cond_t changed;   /* CLOCK_MONOTONIC */
  pthread_cond_t no_waiter; /* close waits for waiters to leave */
  uint64_t generation;
  unsigned waiters;
  int closed;
};

/* --- Errors ---------------------------------------------------------------
 */

static int failf(char *err, size_t errlen, const char *fmt, ...)
    PS_PRINTF(3, 4);

static int failf(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  if (err && errlen) {
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static int fail_db(struct psd_storage *s, char *err, size_t errlen,
                   const char *what) {
  return failf(err, errlen, "storage: %s: %s", what, sqlite3_errmsg(s->db));
}

/* --- SQL helpers ----------------------------------------------------------
 */

static int exec_sql(struct psd_storage *s, const char *sql, char *err,
                    size_t errlen) {
  char *msg = NULL;
  if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) == SQLITE_OK)
    return 0;
  failf(err, errlen, "storage: %s", msg ? msg : sqlite3_errmsg(s->db));
  sqlite3_free(msg);
  return -1;
}

/* A cached statement for sql, reset and with cleared bindings. Callers
 * sqlite3_reset() it when done so that no read stays open. */
static sqlite3_stmt *cached(struct psd_storage *s, const char *sql, char *err,
                            size_t errlen) {
  sqlite3_stmt *st = NULL;
  struct stmt_cache_entry *grown;
  size_t i;
  for (i = 0; i < s->cache_len; i++) {
    if (strcmp(s->cache[i].sql, sql) == 0) {
      sqlite3_reset(s->cache[i].stmt);
      sqlite3_clear_bindings(s->cache[i].stmt);
      return s->cache[i].stmt;
    }
  }
  if (s->cache_len == s->cache_cap) {
    size_t cap = s->cache_cap ? s->cache_cap * 2 : 32;
    grown = realloc(s->cache, cap * sizeof(*grown));
    if (!grown) {
      failf(err, errlen, "storage: out of memory");
      return NULL;
    }
    s->cache = grown;
    s->cache_cap = cap;
  }
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
    fail_db(s, err, errlen, "prepare");
    return NULL;
  }
  s->cache[s->cache_len].sql = strdup(sql);
  if (!s->cache[s->cache_len].sql) {
    sqlite3_finalize(st);
    failf(err, errlen, "storage: out of memory");
    return NULL;
  }
  s->cache[s->cache_len++].stmt = st;
  return st;
}

/* cached() for SQL built with sqlite3_mprintf (freed here; NULL = OOM). */
static sqlite3_stmt *cached_owned(struct psd_storage *s, char *sql, char *err,
                                  size_t errlen) {
  sqlite3_stmt *st;
  if (!sql) {
    failf(err, errlen, "storage: out of memory");
    return NULL;
  }
  st = cached(s, sql, err, errlen);
  sqlite3_free(sql);
  return st;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *v) {
  if (v)
    sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(st, i);
}

/* Runs a statement that returns no rows (or ignores them). */
static int step_done(struct psd_storage *s, sqlite3_stmt *st, char *err,
                     size_t errlen, const char *what) {
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return fail_db(s, err, errlen, what);
  return 0;
}

static int begin_write(struct psd_storage *s, char *err, size_t errlen) {
  return exec_sql(s, "BEGIN IMMEDIATE", err, errlen);
}

static int commit(struct psd_storage *s, char *err, size_t errlen) {
  return exec_sql(s, "COMMIT", err, errlen);
}

static void rollback(struct psd_storage *s) {
  if (!sqlite3_get_autocommit(s->db))
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static char *dup_or_null(const char *v) { return v ? strdup(v) : NULL; }

/* --- Waking waiters -------------------------------------------------------
 */

static void wake_waiters(struct psd_storage *s) {
  pthread_mutex_lock(&s->wait_lock);
  s->generation++;
  pthread_cond_broadcast(&s->changed);
  pthread_mutex_unlock(&s->wait_lock);
}

/* --- Schema ---------------------------------------------------------------
 */

static const char *const STATE_SCHEMA =
    "CREATE TABLE IF NOT EXISTS _powersync_meta("
    "  key TEXT PRIMARY KEY, value);"
    "CREATE TABLE IF NOT EXISTS _powersync_changes("
    "  seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, row_id INTEGER,"
    "  src_id TEXT);"
    "CREATE INDEX IF NOT EXISTS _powersync_changes_src"
    "  ON _powersync_changes(tbl, src_id);"
    "CREATE TABLE IF NOT EXISTS _powersync_ops("
    "  op_id INTEGER PRIMARY KEY, bucket TEXT NOT NULL, op TEXT NOT NULL,"
    "  object_type TEXT, object_id TEXT, subkey TEXT, data TEXT,"
    "  checksum INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS _powersync_ops_bucket"
    "  ON _powersync_ops(bucket, op_id);"
    "CREATE TABLE IF NOT EXISTS _powersync_buckets("
    "  name TEXT PRIMARY KEY, checksum INTEGER NOT NULL,"
    "  count INTEGER NOT NULL, last_op INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS _powersync_current("
    "  bucket TEXT NOT NULL, object_type TEXT NOT NULL,"
    "  object_id TEXT NOT NULL, subkey TEXT NOT NULL,"
    "  source_table TEXT NOT NULL, source_id TEXT NOT NULL,"
    "  op_id INTEGER NOT NULL, data TEXT,"
    "  PRIMARY KEY(bucket, object_type, object_id, subkey));"
    "CREATE INDEX IF NOT EXISTS _powersync_current_source"
    "  ON _powersync_current(source_table, source_id);"
    /* One row per (key, value): the head each counter value was created
     * at, so a checkpoint at an older head can still be answered. */
    "CREATE TABLE IF NOT EXISTS _powersync_write_checkpoints("
    "  key TEXT NOT NULL, value INTEGER NOT NULL, head INTEGER NOT NULL,"
    "  PRIMARY KEY(key, value));";

/* SQL text of a source row's id as the triggers record it; prefix is
 * "NEW.", "OLD." or "" (a plain SELECT). */
static char *src_id_expr(int has_id, const char *prefix) {
  if (has_id)
    return sqlite3_mprintf("COALESCE(CAST(%s\"id\" AS TEXT), "
                           "CAST(%srowid AS TEXT))",
                           prefix, prefix);
  return sqlite3_mprintf("CAST(%srowid AS TEXT)", prefix);
}

static int table_has_column(struct psd_storage *s, const char *table,
                            const char *column, int *out, char *err,
                            size_t errlen) {
  sqlite3_stmt *st = cached(s,
                            "SELECT count(*) FROM pragma_table_info(?1) "
                            "WHERE name = ?2 COLLATE NOCASE",
                            err, errlen);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, table, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, column, -1, SQLITE_TRANSIENT);
  if (sqlite3_step(st) != SQLITE_ROW) {
    sqlite3_reset(st);
    return fail_db(s, err, errlen, "table_info");
  }
  *out = sqlite3_column_int(st, 0) > 0;
  sqlite3_reset(st);
  return 0;
}

/* Drops every trigger an earlier open installed (the config may have
 * changed which tables are read). */
static int drop_triggers(struct psd_storage *s, char *err, size_t errlen) {
  sqlite3_stmt *st = NULL;
  char **names = NULL;
  size_t n = 0, cap = 0, i;
  int rc = 0;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT name FROM sqlite_master WHERE type = "
                         "'trigger' AND name LIKE '\\_powersync\\_%' "
                         "ESCAPE '\\'",
                         -1, &st, NULL) != SQLITE_OK)
    return fail_db(s, err, errlen, "list triggers");
  while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
    if (n == cap) {
      char **grown;
      cap = cap ? cap * 2 : 8;
      grown = realloc(names, cap * sizeof(*names));
      if (!grown) {
        rc = failf(err, errlen, "storage: out of memory");
        break;
      }
      names = grown;
    }
    names[n] = strdup((const char *)sqlite3_column_text(st, 0));
    if (!names[n])
      rc = failf(err, errlen, "storage: out of memory");
    else
      n++;
  }
  sqlite3_finalize(st);
  for (i = 0; i < n; i++) {
    if (rc == 0) {
      char *sql = sqlite3_mprintf("DROP TRIGGER IF EXISTS \"%w\"", names[i]);
      rc = sql ? exec_sql(s, sql, err, errlen)
               : failf(err, errlen, "storage: out of memory");
      sqlite3_free(sql);
    }
    free(names[i]);
  }
  free(names);
  return rc;
}

/* The three triggers of one table: each change appends the row's rowid
 * and source id (an UPDATE that changes either records the old one too). */
static int install_triggers(struct psd_storage *s, const char *table,
                            int has_id, char *err, size_t errlen) {
  char *new_id = src_id_expr(has_id, "NEW.");
  char *old_id = src_id_expr(has_id, "OLD.");
  char *sql = NULL;
  int rc;
  if (new_id && old_id)
    sql = sqlite3_mprintf(
        "CREATE TRIGGER \"_powersync_ins_%w\" AFTER INSERT ON \"%w\" BEGIN "
        "INSERT INTO _powersync_changes(tbl, row_id, src_id) "
        "VALUES (%Q, NEW.rowid, %s); END;"
        "CREATE TRIGGER \"_powersync_upd_%w\" AFTER UPDATE ON \"%w\" BEGIN "
        "INSERT INTO _powersync_changes(tbl, row_id, src_id) "
        "SELECT %Q, OLD.rowid, %s WHERE OLD.rowid IS NOT NEW.rowid "
        "OR %s IS NOT %s; "
        "INSERT INTO _powersync_changes(tbl, row_id, src_id) "
        "VALUES (%Q, NEW.rowid, %s); END;"
        "CREATE TRIGGER \"_powersync_del_%w\" AFTER DELETE ON \"%w\" BEGIN "
        "INSERT INTO _powersync_changes(tbl, row_id, src_id) "
        "VALUES (%Q, OLD.rowid, %s); END;",
        table, table, table, new_id, table, table, table, old_id, old_id,
        new_id, table, new_id, table, table, table, old_id);
  rc = sql ? exec_sql(s, sql, err, errlen)
           : failf(err, errlen, "storage: out of memory");
  sqlite3_free(sql);
  sqlite3_free(new_id);
  sqlite3_free(old_id);
  return rc;
}

/* Queues every row of table, so the next replication (re)evaluates it. */
static int enqueue_table(struct psd_storage *s, const char *table, int has_id,
                         char *err, size_t errlen) {
  char *id = src_id_expr(has_id, "");
  char *sql = id ? sqlite3_mprintf(
                       "INSERT INTO _powersync_changes(tbl, row_id, src_id) "
                       "SELECT %Q, rowid, %s FROM \"%w\"",
                       table, id, table)
                 : NULL;
  int rc = sql ? exec_sql(s, sql, err, errlen)
               : failf(err, errlen, "storage: out of memory");
  sqlite3_free(sql);
  sqlite3_free(id);
  return rc;
}

/* Installs triggers for the config's tables and queues a full
 * re-evaluation: every config table's rows, and every source row that is
 * in a bucket now (which catches rows of tables the config no longer
 * reads, and rows deleted while the triggers were missing). */
static int setup_replication(struct psd_storage *s, char *err, size_t errlen) {
  size_t i;
  int has_id = 0;
  if (drop_triggers(s, err, errlen) != 0)
    return -1;
  for (i = 0; i < s->table_count; i++) {
    const char *table = psd_sync_config_table(s->cfg, i);
    if (table_has_column(s, table, "id", &has_id, err, errlen) != 0)
      return -1;
    s->has_id[i] = (unsigned char)has_id;
    if (install_triggers(s, table, has_id, err, errlen) != 0 ||
        enqueue_table(s, table, has_id, err, errlen) != 0)
      return -1;
  }
  return exec_sql(s,
                  "INSERT INTO _powersync_changes(tbl, row_id, src_id) "
                  "SELECT DISTINCT source_table, NULL, source_id "
                  "FROM _powersync_current",
                  err, errlen);
}

/* The head as stored: another process (the `compact` command, a second
 * server on the same file) may have assigned op ids since this storage
 * last looked, so every replication starts from here, never from memory. */
static int read_head(struct psd_storage *s, int64_t *head, char *err,
                     size_t errlen) {
  sqlite3_stmt *st = cached(
      s,
      "SELECT max(coalesce((SELECT value FROM _powersync_meta WHERE key = "
      "'head'), 0), coalesce((SELECT max(op_id) FROM _powersync_ops), 0))",
      err, errlen);
  if (!st)
    return -1;
  if (sqlite3_step(st) != SQLITE_ROW) {
    sqlite3_reset(st);
    return fail_db(s, err, errlen, "read head");
  }
  *head = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return 0;
}

static int load_head(struct psd_storage *s, char *err, size_t errlen) {
  int64_t head;
  if (read_head(s, &head, err, errlen) != 0)
    return -1;
  atomic_store(&s->head, head);
  return 0;
}

static int store_head(struct psd_storage *s, int64_t head, char *err,
                      size_t errlen) {
  sqlite3_stmt *st =
      cached(s,
             "INSERT INTO _powersync_meta(key, value) VALUES ('head', ?1) "
             "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
             err, errlen);
  if (!st)
    return -1;
  sqlite3_bind_int64(st, 1, head);
  return step_done(s, st, err, errlen, "store head");
}

/* --- Replication ----------------------------------------------------------
 */

/* One object a source row contributes to a bucket. */
struct row_obj {
  char *bucket;
  char *type;
  char *id;
  char *data;
  int matched; /* Also present on the other side of the comparison. */
};

struct obj_list {
  struct row_obj *v;
  size_t n, cap;
};

static void obj_list_free(struct obj_list *l) {
  size_t i;
  for (i = 0; i < l->n; i++) {
    free(l->v[i].bucket);
    free(l->v[i].type);
    free(l->v[i].id);
    free(l->v[i].data);
  }
  free(l->v);
  memset(l, 0, sizeof(*l));
}

static struct row_obj *obj_list_find(struct obj_list *l, const char *bucket,
                                     const char *type, const char *id) {
  size_t i;
  for (i = 0; i < l->n; i++)
    if (strcmp(l->v[i].bucket, bucket) == 0 &&
        strcmp(l->v[i].type, type) == 0 && strcmp(l->v[i].id, id) == 0)
      return &l->v[i];
  return NULL;
}

/* Adds an object, or replaces the data of the same (bucket, type, id):
 * two queries of a bucket selecting one row yield one object, the last
 * query's. Returns 0, or -1 when out of memory. */
static int obj_list_put(struct obj_list *l, const char *bucket,
                        const char *type, const char *id, const char *data) {
  struct row_obj *o = obj_list_find(l, bucket, type, id);
  char *copy;
  if (o) {
    copy = dup_or_null(data);
    if (data && !copy)
      return -1;
    free(o->data);
    o->data = copy;
    return 0;
  }
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 4;
    struct row_obj *grown = realloc(l->v, cap * sizeof(*grown));
    if (!grown)
      return -1;
    l->v = grown;
    l->cap = cap;
  }
  o = &l->v[l->n];
  memset(o, 0, sizeof(*o));
  o->bucket = strdup(bucket);
  o->type = strdup(type);
  o->id = strdup(id);
  o->data = dup_or_null(data);
  l->n++;
  if (!o->bucket || !o->type || !o->id || (data && !o->data))
    return -1;
  return 0;
}

static int collect_object(void *user_data, const char *bucket_id,
                          const char *object_type, const char *object_id,
                          const char *data_json) {
  return obj_list_put(user_data, bucket_id, object_type,
                      object_id ? object_id : "", data_json);
}

/* State of one replication transaction. */
struct repl {
  int64_t head;    /* Last op id assigned. */
  int64_t max_seq; /* Changes up to here are processed. */
  char *err;
  size_t errlen;
};

static int table_index(const struct psd_storage *s, const char *table) {
  size_t i;
  for (i = 0; i < s->table_count; i++)
    if (sqlite3_stricmp(psd_sync_config_table(s->cfg, i), table) == 0)
      return (int)i;
  return -1;
}

/* Appends one op and folds it into its bucket's checksum and count. */
static int append_op(struct psd_storage *s, struct repl *r, const char *bucket,
                     const char *op, const struct row_obj *o,
                     const char *subkey, uint32_t checksum) {
  sqlite3_stmt *st = cached(s,
                            "INSERT INTO _powersync_ops(op_id, bucket, op, "
                            "object_type, object_id, subkey, data, checksum) "
                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                            r->err, r->errlen);
  if (!st)
    return -1;
  r->head++;
  sqlite3_bind_int64(st, 1, r->head);
  sqlite3_bind_text(st, 2, bucket, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 3, op, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, o->type, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 5, o->id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 6, subkey, -1, SQLITE_TRANSIENT);
  bind_text_or_null(st, 7, strcmp(op, "PUT") == 0 ? o->data : NULL);
  sqlite3_bind_int64(st, 8, (int64_t)checksum);
  if (step_done(s, st, r->err, r->errlen, "append op") != 0)
    return -1;
  st = cached(s,
              "INSERT INTO _powersync_buckets(name, checksum, count, last_op) "
              "VALUES (?1, ?2, 1, ?3) ON CONFLICT(name) DO UPDATE SET "
              "checksum = (checksum + excluded.checksum) & 4294967295, "
              "count = count + 1, last_op = excluded.last_op",
              r->err, r->errlen);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, bucket, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, (int64_t)checksum);
  sqlite3_bind_int64(st, 3, r->head);
  return step_done(s, st, r->err, r->errlen, "update bucket");
}

static int emit_put(struct psd_storage *s, struct repl *r, const char *table,
                    const char *src_id, const char *subkey,
                    const struct row_obj *o) {
  sqlite3_stmt *st;
  const char *data = o->data ? o->data : "null";
  if (append_op(s, r, o->bucket, "PUT", o, subkey,
                psd_op_checksum_put(o->type, o->id, data)) != 0)
    return -1;
  st = cached(s,
              "INSERT INTO _powersync_current(bucket, object_type, object_id, "
              "subkey, source_table, source_id, op_id, data) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
              "ON CONFLICT(bucket, object_type, object_id, subkey) DO UPDATE "
              "SET op_id = excluded.op_id, data = excluded.data",
              r->err, r->errlen);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, o->bucket, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, o->type, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 3, o->id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 4, subkey, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 5, table, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 6, src_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 7, r->head);
  bind_text_or_null(st, 8, o->data);
  return step_done(s, st, r->err, r->errlen, "update membership");
}

static int emit_remove(struct psd_storage *s, struct repl *r,
                       const char *subkey, const struct row_obj *o) {
  sqlite3_stmt *st;
  if (append_op(s, r, o->bucket, "REMOVE", o, subkey,
                psd_op_checksum_remove(subkey)) != 0)
    return -1;
  st = cached(s,
              "DELETE FROM _powersync_current WHERE bucket = ?1 AND "
              "object_type = ?2 AND object_id = ?3 AND subkey = ?4",
              r->err, r->errlen);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, o->bucket, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, o->type, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 3, o->id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 4, subkey, -1, SQLITE_TRANSIENT);
  return step_done(s, st, r->err, r->errlen, "update membership");
}

/* The objects the source row is in a bucket with now (_powersync_current). */
static int load_current(struct psd_storage *s, struct repl *r,
                        const char *table, const char *src_id,
                        struct obj_list *out) {
  int rc;
  sqlite3_stmt *st = cached(s,
                            "SELECT bucket, object_type, object_id, data "
                            "FROM _powersync_current WHERE source_table = ?1 "
                            "AND source_id = ?2",
                            r->err, r->errlen);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, table, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, src_id, -1, SQLITE_TRANSIENT);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (obj_list_put(out, (const char *)sqlite3_column_text(st, 0),
                     (const char *)sqlite3_column_text(st, 1),
                     (const char *)sqlite3_column_text(st, 2),
                     (const char *)sqlite3_column_text(st, 3)) != 0) {
      sqlite3_reset(st);
      return failf(r->err, r->errlen, "storage: out of memory");
    }
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return fail_db(s, r->err, r->errlen, "read membership");
  return 0;
}

struct rowid_list {
  int64_t *v;
  size_t n, cap;
};

static int rowid_list_add(struct rowid_list *l, int64_t rowid) {
  size_t i;
  for (i = 0; i < l->n; i++)
    if (l->v[i] == rowid)
      return 0;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 4;
    int64_t *grown = realloc(l->v, cap * sizeof(*grown));
    if (!grown)
      return -1;
    l->v = grown;
    l->cap = cap;
  }
  l->v[l->n++] = rowid;
  return 0;
}

/* Adds the int64 first column of every row of st to l. */
static int collect_rowids(struct psd_storage *s, struct repl *r,
                          sqlite3_stmt *st, struct rowid_list *l) {
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (rowid_list_add(l, sqlite3_column_int64(st, 0)) != 0) {
      sqlite3_reset(st);
      return failf(r->err, r->errlen, "storage: out of memory");
    }
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return fail_db(s, r->err, r->errlen, "read changes");
  return 0;
}

/* Rowids that may hold the source row now: those its changes recorded, or
 * (a re-evaluation queued without rowids) the rows with that id. */
static int candidate_rowids(struct psd_storage *s, struct repl *r, int ti,
                            const char *table, const char *src_id,
                            struct rowid_list *out) {
  sqlite3_stmt *st = cached(s,
                            "SELECT DISTINCT row_id FROM _powersync_changes "
                            "WHERE tbl = ?1 AND src_id = ?2 AND seq <= ?3 "
                            "AND row_id IS NOT NULL",
                            r->err, r->errlen);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, table, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, src_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 3, r->max_seq);
  if (collect_rowids(s, r, st, out) != 0)
    return -1;
  if (out->n > 0 || !s->has_id[ti])
    return 0;
  st = cached_owned(
      s, sqlite3_mprintf("SELECT rowid FROM \"%w\" WHERE \"id\" = ?1", table),
      r->err, r->errlen);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, src_id, -1, SQLITE_TRANSIENT);
  return collect_rowids(s, r, st, out);
}

/* Whether the row at rowid exists and still has source id src_id. */
static int rowid_holds(struct psd_storage *s, struct repl *r, int ti,
                       const char *table, int64_t rowid, const char *src_id,
                       int *holds) {
  char *id = src_id_expr(s->has_id[ti], "");
  sqlite3_stmt *st =
      id ? cached_owned(
               s,
               sqlite3_mprintf("SELECT %s FROM \"%w\" WHERE rowid = ?1", id,
                               table),
               r->err, r->errlen)
         : NULL;
  int rc;
  sqlite3_free(id);
  if (!st)
    return id ? -1 : failf(r->err, r->errlen, "storage: out of memory");
  sqlite3_bind_int64(st, 1, rowid);
  rc = sqlite3_step(st);
  *holds = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL &&
           strcmp((const char *)sqlite3_column_text(st, 0), src_id) == 0;
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return fail_db(s, r->err, r->errlen, "read source row");
  return 0;
}

/* The sync config's row queries come from the statement cache: preparing
 * them for every row was a quarter of a snapshot's time. */
static sqlite3_stmt *provide_stmt(void *ctx, const char *sql, char *err,
                                  size_t errlen) {
  return cached(ctx, sql, err, errlen);
}

/* What the source row contributes to buckets now (nothing when it is gone
 * or its table is no longer read by the config). */
static int evaluate_source_row(struct psd_storage *s, struct repl *r,
                               const char *table, const char *src_id,
                               struct obj_list *out) {
  const struct psd_stmt_provider stmts = {provide_stmt, s};
  struct rowid_list rowids = {0};
  int ti = table_index(s, table);
  int rc = 0, holds = 0;
  size_t i;
  if (ti < 0)
    return 0;
  rc = candidate_rowids(s, r, ti, table, src_id, &rowids);
  for (i = 0; rc == 0 && i < rowids.n; i++) {
    rc = rowid_holds(s, r, ti, table, rowids.v[i], src_id, &holds);
    if (rc == 0 && holds)
      rc = psd_sync_config_evaluate_row(
          s->cfg, s->db, &stmts, psd_sync_config_table(s->cfg, (size_t)ti),
          rowids.v[i], collect_object, out, r->err, r->errlen);
  }
  free(rowids.v);
  return rc;
}

static int same_data(const char *a, const char *b) {
  if (!a || !b)
    return a == b;
  return strcmp(a, b) == 0;
}

/* Compares the row's objects now with its current membership and appends
 * REMOVEs for objects it left, then PUTs for new or changed ones. */
static int replicate_source_row(struct psd_storage *s, struct repl *r,
                                const char *table, const char *src_id) {
  struct obj_list now = {0}, before = {0};
  char *subkey = sqlite3_mprintf("%s/%s", table, src_id);
  size_t i;
  int rc = subkey ? 0 : failf(r->err, r->errlen, "storage: out of memory");
  if (rc == 0)
    rc = evaluate_source_row(s, r, table, src_id, &now);
  if (rc == 0)
    rc = load_current(s, r, table, src_id, &before);
  for (i = 0; rc == 0 && i < before.n; i++) {
    struct row_obj *o = &before.v[i];
    struct row_obj *n = obj_list_find(&now, o->bucket, o->type, o->id);
    if (n) {
      n->matched = 1;
      if (same_data(n->data, o->data))
        continue;
      rc = emit_put(s, r, table, src_id, subkey, n);
    } else {
      rc = emit_remove(s, r, subkey, o);
    }
  }
  for (i = 0; rc == 0 && i < now.n; i++)
    if (!now.v[i].matched)
      rc = emit_put(s, r, table, src_id, subkey, &now.v[i]);
  obj_list_free(&now);
  obj_list_free(&before);
  sqlite3_free(subkey);
  return rc;
}

/* Source rows with pending changes, in the order of their first change. */
struct pending {
  char *table;
  char *src_id;
};

static void pending_free(struct pending *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    free(p[i].table);
    free(p[i].src_id);
  }
  free(p);
}

static int load_pending(struct psd_storage *s, struct repl *r,
                        struct pending **out, size_t *count) {
  struct pending *v = NULL;
  size_t n = 0, cap = 0;
  int rc;
  sqlite3_stmt *st = cached(
      s,
      "SELECT tbl, coalesce(src_id, CAST(row_id AS TEXT)), min(seq) AS first "
      "FROM _powersync_changes WHERE seq <= ?1 GROUP BY 1, 2 ORDER BY first",
      r->err, r->errlen);
  if (!st)
    return -1;
  sqlite3_bind_int64(st, 1, r->max_seq);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *src = (const char *)sqlite3_column_text(st, 1);
    if (n == cap) {
      struct pending *grown;
      cap = cap ? cap * 2 : 64;
      grown = realloc(v, cap * sizeof(*grown));
      if (!grown)
        break;
      v = grown;
    }
    v[n].table = strdup((const char *)sqlite3_column_text(st, 0));
    v[n].src_id = strdup(src ? src : "");
    n++;
    if (!v[n - 1].table || !v[n - 1].src_id)
      break;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    pending_free(v, n);
    return rc == SQLITE_ROW ? failf(r->err, r->errlen, "storage: out of memory")
                            : fail_db(s, r->err, r->errlen, "read changes");
  }
  *out = v;
  *count = n;
  return 0;
}

static int read_max_seq(struct psd_storage *s, int64_t *out, char *err,
                        size_t errlen) {
  sqlite3_stmt *st = cached(
      s, "SELECT coalesce(max(seq), 0) FROM _powersync_changes", err, errlen);
  if (!st)
    return -1;
  if (sqlite3_step(st) != SQLITE_ROW) {
    sqlite3_reset(st);
    return fail_db(s, err, errlen, "read changes");
  }
  *out = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return 0;
}

static int consume_changes(struct psd_storage *s, struct repl *r) {
  sqlite3_stmt *st = cached(s, "DELETE FROM _powersync_changes WHERE seq <= ?1",
                            r->err, r->errlen);
  if (!st)
    return -1;
  sqlite3_bind_int64(st, 1, r->max_seq);
  return step_done(s, st, r->err, r->errlen, "consume changes");
}

/* The transaction of psd_storage_replicate; *consumed tells whether any
 * change was processed. */
static int replicate_tx(struct psd_storage *s, struct repl *r, int *consumed) {
  struct pending *p = NULL;
  size_t n = 0, i;
  int rc;
  if (read_max_seq(s, &r->max_seq, r->err, r->errlen) != 0)
    return -1;
  *consumed = r->max_seq > 0;
  if (!*consumed)
    return 0;
  rc = load_pending(s, r, &p, &n);
  for (i = 0; rc == 0 && i < n; i++)
    rc = replicate_source_row(s, r, p[i].table, p[i].src_id);
  pending_free(p, n);
  if (rc == 0)
    rc = consume_changes(s, r);
  if (rc == 0)
    rc = store_head(s, r->head, r->err, r->errlen);
  return rc;
}

/* Cheap check outside a transaction, so that polling an idle database
 * never takes the write lock from other writers. */
static int has_pending_changes(struct psd_storage *s) {
  sqlite3_stmt *st =
      cached(s, "SELECT EXISTS(SELECT 1 FROM _powersync_changes)", NULL, 0);
  int any = 1;
  if (!st)
    return 1; /* Let the transaction report the error. */
  if (sqlite3_step(st) == SQLITE_ROW)
    any = sqlite3_column_int(st, 0);
  sqlite3_reset(st);
  return any;
}

/* Caller holds the lock and an open write transaction. */
static int replicate_in_tx(struct psd_storage *s, struct repl *r,
                           int *consumed) {
  *consumed = 0;
  r->max_seq = 0;
  if (read_head(s, &r->head, r->err, r->errlen) != 0)
    return -1;
  return replicate_tx(s, r, consumed);
}

/* After the commit of a replication: wakes waiters whenever changes were
 * consumed, ops or not (a change to a table that only parameter queries
 * read can change a connection's bucket set without adding an op), or when
 * another process moved the head. */
static void publish_head(struct psd_storage *s, int64_t head, int consumed) {
  int64_t before = atomic_exchange(&s->head, head);
  if (consumed || head != before)
    wake_waiters(s);
}

/* Caller holds the lock. With no pending change, only looks whether
 * another process replicated (cheap, and takes no write lock). */
static int replicate_locked(struct psd_storage *s, char *err, size_t errlen) {
  struct repl r;
  int consumed = 0;
  r.err = err;
  r.errlen = errlen;
  if (!has_pending_changes(s)) {
    if (read_head(s, &r.head, err, errlen) != 0)
      return -1;
    publish_head(s, r.head, 0);
    return 0;
  }
  if (begin_write(s, err, errlen) != 0)
    return -1;
  if (replicate_in_tx(s, &r, &consumed) != 0 || commit(s, err, errlen) != 0) {
    rollback(s);
    return -1;
  }
  publish_head(s, r.head, consumed);
  return 0;
}

/* --- Open and close -------------------------------------------------------
 */

static int init_sync_objects(struct psd_storage *s) {
  pthread_condattr_t attr;
  int rc;
  if (pthread_mutex_init(&s->lock, NULL) != 0)
    return -1;
  if (pthread_mutex_init(&s->wait_lock, NULL) != 0) {
    pthread_mutex_destroy(&s->lock);
    return -1;
  }
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  rc = pthread_cond_init(&s->changed, &attr);
  pthread_condattr_destroy(&attr);
  if (rc == 0 && pthread_cond_init(&s->no_waiter, NULL) != 0) {
    pthread_cond_destroy(&s->changed);
    rc = -1;
  }
  if (rc != 0) {
    pthread_mutex_destroy(&s->wait_lock);
    pthread_mutex_destroy(&s->lock);
    return -1;
  }
  return 0;
}

static void free_storage(struct psd_storage *s) {
  size_t i;
  for (i = 0; i < s->cache_len; i++) {
    sqlite3_finalize(s->cache[i].stmt);
    free(s->cache[i].sql);
  }
  free(s->cache);
  sqlite3_close(s->db);
  free(s->has_id);
  pthread_cond_destroy(&s->no_waiter);
  pthread_cond_destroy(&s->changed);
  pthread_mutex_destroy(&s->wait_lock);
  pthread_mutex_destroy(&s->lock);
  free(s);
}

static int open_connection(struct psd_storage *s, const char *path, char *err,
                           size_t errlen) {
  if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      NULL) != SQLITE_OK)
    return failf(err, errlen, "storage: cannot open %s: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : "out of memory");
  sqlite3_busy_timeout(s->db, 5000);
  return exec_sql(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;",
                  err, errlen);
}

static int prepare_state(struct psd_storage *s, char *err, size_t errlen) {
  if (begin_write(s, err, errlen) != 0)
    return -1;
  if (exec_sql(s, STATE_SCHEMA, err, errlen) != 0 ||
      setup_replication(s, err, errlen) != 0 || commit(s, err, errlen) != 0) {
    rollback(s);
    return -1;
  }
  return load_head(s, err, errlen);
}

int psd_storage_open(const char *path, const struct psd_sync_config *cfg,
                     struct psd_storage **out, char *err, size_t errlen) {
  struct psd_storage *s = calloc(1, sizeof(*s));
  *out = NULL;
  if (!s)
    return failf(err, errlen, "storage: out of memory");
  if (init_sync_objects(s) != 0) {
    free(s);
    return failf(err, errlen, "storage: cannot create locks");
  }
  s->cfg = cfg;
  s->generation = 1; /* A caller starting from 0 looks once at once. */
  s->table_count = psd_sync_config_table_count(cfg);
  s->has_id = calloc(s->table_count ? s->table_count : 1, 1);
  if (!s->has_id) {
    free_storage(s);
    return failf(err, errlen, "storage: out of memory");
  }
  if (open_connection(s, path, err, errlen) != 0 ||
      prepare_state(s, err, errlen) != 0 ||
      replicate_locked(s, err, errlen) != 0) {
    free_storage(s);
    return -1;
  }
  *out = s;
  return 0;
}

void psd_storage_close(struct psd_storage *s) {
  if (!s)
    return;
  pthread_mutex_lock(&s->wait_lock);
  s->closed = 1;
  pthread_cond_broadcast(&s->changed);
  while (s->waiters > 0)
    pthread_cond_wait(&s->no_waiter, &s->wait_lock);
  pthread_mutex_unlock(&s->wait_lock);
  free_storage(s);
}

sqlite3 *psd_storage_db(struct psd_storage *s) { return s->db; }

void psd_storage_lock(struct psd_storage *s) { pthread_mutex_lock(&s->lock); }

void psd_storage_unlock(struct psd_storage *s) {
  pthread_mutex_unlock(&s->lock);
}

int psd_storage_replicate(struct psd_storage *s, int64_t *head_out, char *err,
                          size_t errlen) {
  int rc;
  pthread_mutex_lock(&s->lock);
  rc = replicate_locked(s, err, errlen);
  if (head_out)
    *head_out = atomic_load(&s->head);
  pthread_mutex_unlock(&s->lock);
  return rc;
}

int64_t psd_storage_head(struct psd_storage *s) {
  return atomic_load(&s->head);
}

uint64_t psd_storage_generation(struct psd_storage *s) {
  uint64_t gen;
  pthread_mutex_lock(&s->wait_lock);
  gen = s->generation;
  pthread_mutex_unlock(&s->wait_lock);
  return gen;
}

unsigned psd_storage_waiter_count(struct psd_storage *s) {
  unsigned n;
  pthread_mutex_lock(&s->wait_lock);
  n = s->waiters;
  pthread_mutex_unlock(&s->wait_lock);
  return n;
}

/* --- Reading buckets -------------------------------------------------------
 */

int psd_storage_bucket_state_locked(struct psd_storage *s, const char *bucket,
                                    uint32_t *checksum, int64_t *count) {
  sqlite3_stmt *st = cached(s,
                            "SELECT checksum, count FROM _powersync_buckets "
                            "WHERE name = ?1",
                            NULL, 0);
  int rc;
  *checksum = 0;
  *count = 0;
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, bucket, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *checksum = (uint32_t)sqlite3_column_int64(st, 0);
    *count = sqlite3_column_int64(st, 1);
  }
  sqlite3_reset(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static const char *column_or_null(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL
             ? NULL
             : (const char *)sqlite3_column_text(st, i);
}

int psd_storage_ops_locked(struct psd_storage *s, const char *bucket,
                           int64_t after, int64_t upto, size_t limit,
                           psd_op_cb cb, void *user_data, int *has_more) {
  sqlite3_stmt *st = cached(s,
                            "SELECT op_id, op, object_type, object_id, "
                            "subkey, data, checksum FROM _powersync_ops "
                            "WHERE bucket = ?1 AND op_id > ?2 AND op_id <= ?3 "
                            "ORDER BY op_id LIMIT ?4",
                            NULL, 0);
  size_t seen = 0;
  int rc;
  *has_more = 0;
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, bucket, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, after);
  sqlite3_bind_int64(st, 3, upto);
  /* One more than asked for tells whether more follow. */
  sqlite3_bind_int64(st, 4,
                     limit >= (size_t)INT64_MAX ? -1 : (int64_t)limit + 1);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    struct psd_op op;
    if (seen == limit) {
      *has_more = 1;
      rc = SQLITE_DONE;
      break;
    }
    op.op_id = sqlite3_column_int64(st, 0);
    op.op = (const char *)sqlite3_column_text(st, 1);
    op.object_type = column_or_null(st, 2);
    op.object_id = column_or_null(st, 3);
    op.subkey = column_or_null(st, 4);
    op.data = column_or_null(st, 5);
    op.checksum = (uint32_t)sqlite3_column_int64(st, 6);
    seen++;
    if (cb(user_data, &op) != 0) {
      sqlite3_reset(st);
      return -1;
    }
  }
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : -1;
}

/* --- Write checkpoints -----------------------------------------------------
 */

static char *checkpoint_key(const char *user_id, const char *client_id) {
  if (client_id && *client_id)
    return sqlite3_mprintf("%s/%s", user_id ? user_id : "", client_id);
  return sqlite3_mprintf("%s", user_id ? user_id : "");
}

/* Inserts the next counter value of key at the current head. Only one row
 * per head is useful (lookups want the largest value at or below a head),
 * so earlier values created at the same head are dropped. */
static int insert_write_checkpoint(struct psd_storage *s, const char *key,
                                   int64_t *value, char *err, size_t errlen) {
  int64_t head = atomic_load(&s->head);
  sqlite3_stmt *st = cached(s,
                            "SELECT coalesce(max(value), 0) + 1 FROM "
                            "_powersync_write_checkpoints WHERE key = ?1",
                            err, errlen);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
  if (sqlite3_step(st) != SQLITE_ROW) {
    sqlite3_reset(st);
    return fail_db(s, err, errlen, "read write checkpoint");
  }
  *value = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  st = cached(s,
              "DELETE FROM _powersync_write_checkpoints WHERE key = ?1 AND "
              "head >= ?2",
              err, errlen);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, head);
  if (step_done(s, st, err, errlen, "write checkpoint") != 0)
    return -1;
  st = cached(s,
              "INSERT INTO _powersync_write_checkpoints(key, value, head) "
              "VALUES (?1, ?2, ?3)",
              err, errlen);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, *value);
  sqlite3_bind_int64(st, 3, head);
  return step_done(s, st, err, errlen, "write checkpoint");
}

int psd_storage_create_write_checkpoint(struct psd_storage *s,
                                        const char *user_id,
                                        const char *client_id,
                                        int64_t *value_out, char *err,
                                        size_t errlen) {
  char *key = checkpoint_key(user_id, client_id);
  int rc;
  if (!key)
    return failf(err, errlen, "storage: out of memory");
  pthread_mutex_lock(&s->lock);
  rc = replicate_locked(s, err, errlen);
  if (rc == 0)
    rc = begin_write(s, err, errlen);
  if (rc == 0) {
    rc = insert_write_checkpoint(s, key, value_out, err, errlen);
    if (rc == 0)
      rc = commit(s, err, errlen);
    if (rc != 0)
      rollback(s);
  }
  pthread_mutex_unlock(&s->lock);
  sqlite3_free(key);
  if (rc == 0)
    wake_waiters(s);
  return rc;
}

int64_t psd_storage_write_checkpoint_locked(struct psd_storage *s,
                                            const char *user_id,
                                            const char *client_id,
                                            int64_t head) {
  char *key = checkpoint_key(user_id, client_id);
  sqlite3_stmt *st = key ? cached(s,
                                  "SELECT coalesce(max(value), 0) FROM "
                                  "_powersync_write_checkpoints WHERE "
                                  "key = ?1 AND head <= ?2",
                                  NULL, 0)
                         : NULL;
  int64_t value = 0;
  if (st) {
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, head);
    if (sqlite3_step(st) == SQLITE_ROW)
      value = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
  }
  sqlite3_free(key);
  return value;
}

/* --- Uploads (apply_batch) --------------------------------------------------
 */

/* The writable columns of a source table (generated and hidden ones are
 * left out). */
struct columns {
  char **names;
  size_t n;
};

static void columns_free(struct columns *c) {
  size_t i;
  for (i = 0; i < c->n; i++)
    free(c->names[i]);
  free(c->names);
  memset(c, 0, sizeof(*c));
}

static int load_columns(struct psd_storage *s, const char *table,
                        struct columns *out, char *err, size_t errlen) {
  sqlite3_stmt *st =
      cached(s, "SELECT name FROM pragma_table_xinfo(?1) WHERE hidden = 0", err,
             errlen);
  int rc;
  size_t cap = 0;
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, table, -1, SQLITE_TRANSIENT);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    char *name = strdup((const char *)sqlite3_column_text(st, 0));
    if (name && out->n == cap) {
      char **grown;
      cap = cap ? cap * 2 : 16;
      grown = realloc(out->names, cap * sizeof(*grown));
      if (!grown) {
        free(name);
        name = NULL;
      } else {
        out->names = grown;
      }
    }
    if (!name) {
      sqlite3_reset(st);
      return failf(err, errlen, "storage: out of memory");
    }
    out->names[out->n++] = name;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return fail_db(s, err, errlen, "table_info");
  return 0;
}

static const char *find_column(const struct columns *c, const char *name) {
  size_t i;
  for (i = 0; i < c->n; i++)
    if (sqlite3_stricmp(c->names[i], name) == 0)
      return c->names[i];
  return NULL;
}

static int is_internal_table(const char *table) {
  return sqlite3_strnicmp(table, "_powersync_", 11) == 0 ||
         sqlite3_strnicmp(table, "sqlite_", 7) == 0;
}

/* Binds one JSON value by the rules of the upload endpoint: strings as
 * TEXT, integers as INTEGER, other numbers as REAL, booleans as 0/1,
 * objects and arrays as their JSON text. */
static int bind_json(sqlite3_stmt *st, int i, const struct ps__json_value *v) {
  struct ps__buf b;
  int rc;
  switch (v->type) {
  case PS_JSON_NULL:
    return sqlite3_bind_null(st, i);
  case PS_JSON_FALSE:
    return sqlite3_bind_int(st, i, 0);
  case PS_JSON_TRUE:
    return sqlite3_bind_int(st, i, 1);
  case PS_JSON_INT:
    return sqlite3_bind_int64(st, i, v->as.i);
  case PS_JSON_UINT:
    return sqlite3_bind_double(st, i, (double)v->as.u);
  case PS_JSON_FLOAT:
    return sqlite3_bind_double(st, i, v->as.f);
  case PS_JSON_STRING:
    return sqlite3_bind_text(st, i, v->as.str.ptr, (int)v->as.str.len,
                             SQLITE_TRANSIENT);
  case PS_JSON_ARRAY:
  case PS_JSON_OBJECT:
    break;
  }
  ps__buf_init(&b, 0);
  ps__json_write(&b, v, 0);
  rc = ps__buf_failed(&b) ? SQLITE_NOMEM
                          : sqlite3_bind_text(st, i, ps__buf_cstr(&b),
                                              (int)b.len, SQLITE_TRANSIENT);
  ps__buf_free(&b);
  return rc;
}

/* One entry of a batch, validated. */
struct upload_entry {
  size_t index;
  const char *op; /* "PUT", "PATCH" or "DELETE" */
  const char *table;
  const struct ps__json_value *id;
  const struct ps__json_value *data; /* Object, or NULL. */
  struct columns cols;
  const char *id_column; /* The table's spelling of "id". */
};

/* The data members written by an entry: every member but "id" (the
 * entry's id wins). */
static int is_written_member(const struct ps__json_member *m) {
  return sqlite3_stricmp(m->key, "id") != 0;
}

static int entry_validate(struct psd_storage *s, struct upload_entry *e,
                          char *err, size_t errlen) {
  size_t i;
  if (is_internal_table(e->table))
    return failf(err, errlen, "upload: entry %zu: unknown table '%s'", e->index,
                 e->table);
  if (load_columns(s, e->table, &e->cols, err, errlen) != 0)
    return -1;
  if (e->cols.n == 0)
    return failf(err, errlen, "upload: entry %zu: unknown table '%s'", e->index,
                 e->table);
  e->id_column = find_column(&e->cols, "id");
  if (!e->id_column)
    return failf(err, errlen, "upload: entry %zu: table '%s' has no id column",
                 e->index, e->table);
  for (i = 0; e->data && i < e->data->as.obj.count; i++) {
    const char *key = e->data->as.obj.members[i].key;
    if (!find_column(&e->cols, key))
      return failf(err, errlen,
                   "upload: entry %zu: unknown column '%s' in table '%s'",
                   e->index, key, e->table);
  }
  return 0;
}

/* PUT: insert, or overwrite every column of an existing row (columns not
 * given take their defaults, as with REPLACE, but without deleting the row
 * so that no ON DELETE action or REPLACE side effect runs). */
static void build_put(struct ps__buf *b, const struct upload_entry *e) {
  size_t i, set = 0;
  ps__buf_printf(b, "INSERT INTO \"%s\"(\"%s\"", e->table, e->id_column);
  for (i = 0; e->data && i < e->data->as.obj.count; i++)
    if (is_written_member(&e->data->as.obj.members[i]))
      ps__buf_printf(b, ", \"%s\"", e->data->as.obj.members[i].key);
  ps__buf_puts(b, ") VALUES (?");
  for (i = 0; e->data && i < e->data->as.obj.count; i++)
    if (is_written_member(&e->data->as.obj.members[i]))
      ps__buf_puts(b, ", ?");
  ps__buf_puts(b, ") ON CONFLICT DO ");
  for (i = 0; i < e->cols.n; i++) {
    if (e->cols.names[i] == e->id_column)
      continue;
    ps__buf_printf(b, "%s\"%s\" = excluded.\"%s\"",
                   set++ ? ", " : "UPDATE SET ", e->cols.names[i],
                   e->cols.names[i]);
  }
  if (!set)
    ps__buf_puts(b, "NOTHING");
}

static void build_patch(struct ps__buf *b, const struct upload_entry *e) {
  size_t i, set = 0;
  ps__buf_printf(b, "UPDATE \"%s\" SET ", e->table);
  for (i = 0; i < e->data->as.obj.count; i++)
    if (is_written_member(&e->data->as.obj.members[i]))
      ps__buf_printf(b, "%s\"%s\" = ?", set++ ? ", " : "",
                     e->data->as.obj.members[i].key);
  ps__buf_printf(b, " WHERE \"%s\" = ?", e->id_column);
}

static int has_written_members(const struct ps__json_value *data) {
  size_t i;
  for (i = 0; data && i < data->as.obj.count; i++)
    if (is_written_member(&data->as.obj.members[i]))
      return 1;
  return 0;
}

/* Binds the entry's values in the order build_* wrote the placeholders. */
static int bind_entry(sqlite3_stmt *st, const struct upload_entry *e) {
  int i = 1, rc = SQLITE_OK;
  size_t m;
  if (strcmp(e->op, "PUT") == 0)
    rc = bind_json(st, i++, e->id);
  for (m = 0; rc == SQLITE_OK && strcmp(e->op, "DELETE") != 0 && e->data &&
              m < e->data->as.obj.count;
       m++)
    if (is_written_member(&e->data->as.obj.members[m]))
      rc = bind_json(st, i++, e->data->as.obj.members[m].value);
  if (rc == SQLITE_OK && strcmp(e->op, "PUT") != 0)
    rc = bind_json(st, i, e->id);
  return rc;
}

/* Table, column and member names reach SQL text only after validation
 * against the table's own column names, which are safe to quote as long as
 * they hold no double quote; names with one are refused. */
static int has_quote(const struct upload_entry *e) {
  size_t i;
  if (strchr(e->table, '"'))
    return 1;
  for (i = 0; i < e->cols.n; i++)
    if (strchr(e->cols.names[i], '"'))
      return 1;
  for (i = 0; e->data && i < e->data->as.obj.count; i++)
    if (strchr(e->data->as.obj.members[i].key, '"'))
      return 1;
  return 0;
}

static int entry_apply(struct psd_storage *s, const struct upload_entry *e,
                       char *err, size_t errlen) {
  struct ps__buf sql;
  sqlite3_stmt *st = NULL;
  int rc;
  if (strcmp(e->op, "PATCH") == 0 && !has_written_members(e->data))
    return 0;
  if (has_quote(e))
    return failf(err, errlen,
                 "upload: entry %zu: names with '\"' are not supported",
                 e->index);
  ps__buf_init(&sql, 0);
  if (strcmp(e->op, "PUT") == 0)
    build_put(&sql, e);
  else if (strcmp(e->op, "PATCH") == 0)
    build_patch(&sql, e);
  else
    ps__buf_printf(&sql, "DELETE FROM \"%s\" WHERE \"%s\" = ?", e->table,
                   e->id_column);
  if (ps__buf_failed(&sql)) {
    ps__buf_free(&sql);
    return failf(err, errlen, "storage: out of memory");
  }
  rc = sqlite3_prepare_v2(s->db, ps__buf_cstr(&sql), -1, &st, NULL);
  ps__buf_free(&sql);
  if (rc == SQLITE_OK)
    rc = bind_entry(st, e);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc != SQLITE_DONE)
    failf(err, errlen, "upload: entry %zu (%s %s): %s", e->index, e->op,
          e->table, sqlite3_errmsg(s->db));
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : -1;
}

static const char *string_member(const struct ps__json_value *obj,
                                 const char *key) {
  const struct ps__json_value *v = ps__json_get(obj, key);
  return v && v->type == PS_JSON_STRING ? v->as.str.ptr : NULL;
}

/* Reads entry i of the batch into e (shape only). */
static int entry_parse(const struct ps__json_value *v, size_t i,
                       struct upload_entry *e, char *err, size_t errlen) {
  memset(e, 0, sizeof(*e));
  e->index = i;
  if (v->type != PS_JSON_OBJECT)
    return failf(err, errlen, "upload: entry %zu is not an object", i);
  e->op = string_member(v, "op");
  e->table = string_member(v, "type");
  e->id = ps__json_get(v, "id");
  e->data = ps__json_get(v, "data");
  if (!e->op || (strcmp(e->op, "PUT") != 0 && strcmp(e->op, "PATCH") != 0 &&
                 strcmp(e->op, "DELETE") != 0))
    return failf(err, errlen,
                 "upload: entry %zu: op must be PUT, PATCH or DELETE", i);
  if (!e->table)
    return failf(err, errlen, "upload: entry %zu: type must be a string", i);
  if (!e->id || (e->id->type != PS_JSON_STRING && e->id->type != PS_JSON_INT))
    return failf(err, errlen, "upload: entry %zu: id must be a string", i);
  if (e->data && e->data->type == PS_JSON_NULL)
    e->data = NULL;
  if (e->data && e->data->type != PS_JSON_OBJECT)
    return failf(err, errlen, "upload: entry %zu: data must be an object", i);
  return 0;
}

static int apply_entries(struct psd_storage *s,
                         const struct ps__json_value *batch, char *err,
                         size_t errlen) {
  size_t i;
  int rc = 0;
  for (i = 0; rc == 0 && i < batch->as.arr.count; i++) {
    struct upload_entry e;
    rc = entry_parse(batch->as.arr.items[i], i, &e, err, errlen);
    if (rc == 0)
      rc = entry_validate(s, &e, err, errlen);
    if (rc == 0)
      rc = entry_apply(s, &e, err, errlen);
    columns_free(&e.cols);
  }
  return rc;
}

int psd_storage_apply_batch(struct psd_storage *s, const char *json, size_t len,
                            char *err, size_t errlen) {
  struct ps__arena arena;
  const struct ps__json_value *root, *batch;
  struct repl r;
  char perr[160];
  int rc, consumed = 0;
  ps__arena_init(&arena, 0);
  root = ps__json_parse(&arena, json, len, perr, sizeof(perr));
  batch = root ? ps__json_get(root, "batch") : NULL;
  if (!root || !batch || batch->type != PS_JSON_ARRAY) {
    rc = root ? failf(err, errlen, "upload: expected {\"batch\": [...]}")
              : failf(err, errlen, "upload: invalid JSON: %s", perr);
    ps__arena_free(&arena);
    return rc;
  }
  /* The batch and its replication commit together: a batch is either
   * applied with its ops or not at all, so an error never hides an applied
   * batch that the client would upload again. */
  r.err = err;
  r.errlen = errlen;
  pthread_mutex_lock(&s->lock);
  rc = begin_write(s, err, errlen);
  if (rc == 0) {
    rc = apply_entries(s, batch, err, errlen);
    if (rc == 0)
      rc = replicate_in_tx(s, &r, &consumed);
    if (rc == 0)
      rc = commit(s, err, errlen);
    if (rc != 0)
      rollback(s);
  }
  if (rc == 0)
    publish_head(s, r.head, consumed);
  pthread_mutex_unlock(&s->lock);
  ps__arena_free(&arena);
  return rc;
}

/* --- Compaction -------------------------------------------------------------
 */

/* Every PUT or REMOVE followed by a later op of the same object (type, id,
 * subkey) in its bucket becomes a MOVE: the client only needs its checksum. */
static int compact_superseded(struct psd_storage *s, char *err, size_t errlen) {
  return exec_sql(
      s,
      "UPDATE _powersync_ops SET op = 'MOVE', object_type = NULL, "
      "object_id = NULL, subkey = NULL, data = NULL "
      "WHERE op IN ('PUT', 'REMOVE') AND op_id NOT IN ("
      "  SELECT max(op_id) FROM _powersync_ops WHERE op IN ('PUT', 'REMOVE') "
      "  GROUP BY bucket, object_type, object_id, subkey)",
      err, errlen);
}

/* The leading run of a bucket's ops that carry no live row. */
struct dead_prefix {
  size_t count;
  int64_t last_op;
  uint32_t checksum;
  int single_clear; /* Already compacted: exactly one CLEAR. */
};

/* After compact_superseded every REMOVE is the last op of its object, so
 * MOVE, REMOVE and CLEAR ops before the first PUT describe no row: a client
 * that receives a CLEAR standing for them (which drops everything it holds
 * for the bucket) ends up where replaying them would have left it. */
static int find_dead_prefix(struct psd_storage *s, const char *bucket,
                            struct dead_prefix *p, char *err, size_t errlen) {
  sqlite3_stmt *st = cached(s,
                            "SELECT op_id, op, checksum FROM _powersync_ops "
                            "WHERE bucket = ?1 ORDER BY op_id",
                            err, errlen);
  int rc;
  memset(p, 0, sizeof(*p));
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, bucket, -1, SQLITE_TRANSIENT);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *op = (const char *)sqlite3_column_text(st, 1);
    if (strcmp(op, "PUT") == 0)
      break;
    p->single_clear = p->count == 0 && strcmp(op, "CLEAR") == 0;
    p->count++;
    p->last_op = sqlite3_column_int64(st, 0);
    p->checksum += (uint32_t)sqlite3_column_int64(st, 2);
  }
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return fail_db(s, err, errlen, "read ops");
  if (p->count > 1)
    p->single_clear = 0;
  return 0;
}

static int collapse_prefix(struct psd_storage *s, const char *bucket,
                           const struct dead_prefix *p, char *err,
                           size_t errlen) {
  sqlite3_stmt *st = cached(s,
                            "DELETE FROM _powersync_ops WHERE bucket = ?1 AND "
                            "op_id < ?2",
                            err, errlen);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, bucket, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, p->last_op);
  if (step_done(s, st, err, errlen, "compact") != 0)
    return -1;
  st = cached(s,
              "UPDATE _powersync_ops SET op = 'CLEAR', object_type = NULL, "
              "object_id = NULL, subkey = NULL, data = NULL, checksum = ?2 "
              "WHERE op_id = ?1",
              err, errlen);
  if (!st)
    return -1;
  sqlite3_bind_int64(st, 1, p->last_op);
  sqlite3_bind_int64(st, 2, (int64_t)p->checksum);
  return step_done(s, st, err, errlen, "compact");
}

static int compact_bucket(struct psd_storage *s, const char *bucket, char *err,
                          size_t errlen) {
  struct dead_prefix p;
  if (find_dead_prefix(s, bucket, &p, err, errlen) != 0)
    return -1;
  if (p.count == 0 || p.single_clear)
    return 0;
  return collapse_prefix(s, bucket, &p, err, errlen);
}

static int load_bucket_names(struct psd_storage *s, char ***out, size_t *count,
                             char *err, size_t errlen) {
  sqlite3_stmt *st =
      cached(s, "SELECT name FROM _powersync_buckets", err, errlen);
  char **v = NULL;
  size_t n = 0, cap = 0;
  int rc;
  if (!st)
    return -1;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (n == cap) {
      char **grown;
      cap = cap ? cap * 2 : 16;
      grown = realloc(v, cap * sizeof(*grown));
      if (!grown)
        break;
      v = grown;
    }
    v[n] = strdup((const char *)sqlite3_column_text(st, 0));
    if (!v[n])
      break;
    n++;
  }
  sqlite3_reset(st);
  *out = v;
  *count = n;
  if (rc == SQLITE_ROW)
    return failf(err, errlen, "storage: out of memory");
  return rc == SQLITE_DONE ? 0 : fail_db(s, err, errlen, "read buckets");
}

static int compact_tx(struct psd_storage *s, char *err, size_t errlen) {
  char **names = NULL;
  size_t n = 0, i;
  int rc = compact_superseded(s, err, errlen);
  if (rc == 0)
    rc = load_bucket_names(s, &names, &n, err, errlen);
  for (i = 0; i < n; i++) {
    if (rc == 0)
      rc = compact_bucket(s, names[i], err, errlen);
    free(names[i]);
  }
  free(names);
  /* Recounted from what is left; the checksum sum is unchanged by
   * construction, recomputing it keeps the table honest. */
  if (rc == 0)
    rc = exec_sql(s,
                  "UPDATE _powersync_buckets SET "
                  "count = (SELECT count(*) FROM _powersync_ops o "
                  "  WHERE o.bucket = name), "
                  "checksum = coalesce((SELECT sum(checksum) FROM "
                  "  _powersync_ops o WHERE o.bucket = name), 0) & 4294967295",
                  err, errlen);
  return rc;
}

int psd_storage_compact(struct psd_storage *s, char *err, size_t errlen) {
  int rc;
  pthread_mutex_lock(&s->lock);
  rc = begin_write(s, err, errlen);
  if (rc == 0) {
    rc = compact_tx(s, err, errlen);
    if (rc == 0)
      rc = commit(s, err, errlen);
    if (rc != 0)
      rollback(s);
  }
  pthread_mutex_unlock(&s->lock);
  return rc;
}

/* --- Waiting ----------------------------------------------------------------
 */

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

/* A negative timeout_ms waits without a time limit. */
int psd_storage_wait(struct psd_storage *s, uint64_t *gen, int timeout_ms) {
  struct timespec deadline = deadline_after(timeout_ms > 0 ? timeout_ms : 0);
  int result;
  pthread_mutex_lock(&s->wait_lock);
  s->waiters++;
  while (!s->closed && s->generation == *gen && timeout_ms != 0) {
    int rc = timeout_ms < 0 ? pthread_cond_wait(&s->changed, &s->wait_lock)
                            : pthread_cond_timedwait(&s->changed, &s->wait_lock,
                                                     &deadline);
    if (rc == ETIMEDOUT)
      break;
  }
  result = s->closed ? -1 : s->generation != *gen ? 1 : 0;
  *gen = s->generation;
  if (--s->waiters == 0 && s->closed)
    pthread_cond_broadcast(&s->no_waiter);
  pthread_mutex_unlock(&s->wait_lock);
  return result;
}
