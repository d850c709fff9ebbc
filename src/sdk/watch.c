/*
 * watch.c: change notifications and reactive queries (watch.h, sdk.md
 * section 6): powersync_db_watch_tables, powersync_db_watch_query,
 * powersync_db_watch_query_diff and powersync_watch_cancel.
 *
 * HOW IT WORKS
 *
 * A watch registers a change listener with the database
 * (ps__db_add_change_listener). The writer calls it after every commit with
 * the changed tables; rolled-back work never reaches it. The listener only
 * records: when a changed table is one the watch cares about, it marks the
 * watch dirty and, unless a run is already scheduled or running, posts one
 * run to the database's dispatcher, delayed so that runs start at least
 * throttle_ms after the previous run ended. A run clears the dirty flag
 * before it queries, so a commit that lands while it runs marks the watch
 * dirty again and causes exactly one more run when this one ends: bursts are
 * merged, and the last change of a burst is always delivered. As at most one
 * run is scheduled or running, a watch never runs concurrently with itself.
 *
 * A query watch finds its tables when it starts, with EXPLAIN: the root
 * pages that OpenRead/OpenWrite open in the main schema (p3 = 0) are looked
 * up in sqlite_master. All names (found, given, notified) are compared
 * after mapping ps_data__x and ps_data_local__x to x, so a watch on view x
 * matches its table under either name.
 *
 * Schema changes (sdk.md sections 4 and 6): replacing the schema re-creates
 * views and tables without an update hook firing, yet a view may now read
 * another table (a different view_name mapping) or other rows (switched to
 * or from local-only). So query watches also register a schema listener,
 * which marks them dirty and schedules a run like a relevant commit does.
 * Before it queries, a run compares the database's schema generation with
 * the one its tables were found at and, when they differ, finds them again
 * (only when they were found with EXPLAIN; given tables stay). Reading the
 * generation before EXPLAIN means a change during the discovery is found
 * again by the run its listener call schedules. Table watches are not told:
 * they report data changes, and the schema change has none.
 *
 * A differential watch keeps the previous result and compares it with the
 * new one by the key column: both sides are sorted by key and merged, giving
 * the rows added, removed and changed (same key, other values).
 *
 * Lifetime: the application holds one reference, a scheduled run another;
 * the last one frees the watch. user_data_free runs once the callback can no
 * longer run: in powersync_watch_cancel, or after the callback returns when
 * it cancelled its own watch. When the database closes first, its dispatcher
 * calls our free hook, which detaches the watch (no more runs, and cancel
 * then leaves the gone database alone).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sdk_internal.h"

#define WATCH_TAG "watch"

enum watch_kind { WATCH_TABLES, WATCH_QUERY, WATCH_DIFF };

/* A small set of table names; watches read a handful of tables, so a
 * linear search is the simplest fast option. */
struct watch_names {
  char **v;
  size_t n;
  size_t cap;
};

union watch_cb {
  powersync_tables_cb tables;
  powersync_rows_cb rows;
  powersync_diff_cb diff;
};

struct powersync_watch {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* A run ended. */
  int refs;

  /* Fixed at creation. */
  enum watch_kind kind;
  powersync_db *db;
  struct ps__dispatcher *disp;
  char *sql;
  powersync_value *params;
  size_t nparams;
  char *key_column;
  int throttle_ms;
  union watch_cb cb; /* The member of kind. */
  void *user_data;
  void (*user_data_free)(void *);
  uint64_t listener_id;
  uint64_t hook_id;

  /* Guarded by mu. */
  int scheduled;           /* A run is queued on the dispatcher. */
  int running;             /* A run is in progress. */
  int dirty;               /* A relevant commit since the last run started. */
  int cancelled;           /* powersync_watch_cancel was called. */
  int detached;            /* The dispatcher (and database) are gone. */
  int free_user_after_run; /* Cancelled from its own callback. */
  int64_t last_end_ms;     /* When the previous run ended. */
  struct watch_names changed; /* TABLES: changes since the last run. */
  /* Watched (view) names; empty: any (TABLES). Fixed for TABLES and given
   * tables; otherwise replaced by runs after a schema change. */
  struct watch_names tables;

  /* Only touched by runs, which never overlap. */
  int discover;         /* Tables found with EXPLAIN (set at creation). */
  uint64_t schema_gen;  /* Schema generation tables were found at. */
  int emitted;          /* At least one emission (or baseline) happened. */
  int silent_baseline;  /* DIFF without emit_initial: first run is quiet. */
  powersync_rows *prev; /* DIFF: the previous result. */
};

/* ---- Name sets ----------------------------------------------------------- */

/* Our copy of a string; malloc so that every free() here pairs up. */
static char *watch_strdup(const char *s) {
  size_t len = strlen(s) + 1;
  char *p = malloc(len);
  if (p != NULL)
    memcpy(p, s, len);
  return p;
}

static int names_contains(const struct watch_names *set, const char *name) {
  size_t i;
  for (i = 0; i < set->n; i++)
    if (strcmp(set->v[i], name) == 0)
      return 1;
  return 0;
}

/* Adds the view name of name unless present. */
static int names_add(struct watch_names *set, const char *name) {
  const char *view = ps__view_table_name(name);
  if (names_contains(set, view))
    return POWERSYNC_OK;
  if (set->n == set->cap) {
    size_t cap = set->cap ? set->cap * 2 : 4;
    char **v = realloc(set->v, cap * sizeof *v);
    if (v == NULL)
      return POWERSYNC_ENOMEM;
    set->v = v;
    set->cap = cap;
  }
  set->v[set->n] = watch_strdup(view);
  if (set->v[set->n] == NULL)
    return POWERSYNC_ENOMEM;
  set->n++;
  return POWERSYNC_OK;
}

static void names_free(struct watch_names *set) {
  size_t i;
  for (i = 0; i < set->n; i++)
    free(set->v[i]);
  free(set->v);
  memset(set, 0, sizeof *set);
}

/* ---- Table discovery with EXPLAIN ---------------------------------------- */

/* Collects the root pages opened in the main schema by sql's program. */
static int explain_root_pages(sqlite3 *conn, const char *sql,
                              struct ps__buf *pages) {
  sqlite3_stmt *st = NULL;
  struct ps__buf text;
  int rc;
  ps__buf_init(&text, PS_BUF_DEFAULT_MAX);
  ps__buf_printf(&text, "EXPLAIN %s", sql);
  if (ps__buf_failed(&text)) {
    ps__buf_free(&text);
    return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  }
  rc = sqlite3_prepare_v2(conn, ps__buf_cstr(&text), -1, &st, NULL);
  ps__buf_free(&text);
  if (rc != SQLITE_OK)
    return ps__error_sqlite(conn, rc);
  /* Unbound parameters are NULL; the tables a program opens do not depend
   * on parameter values, so there is nothing to bind. */
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *op = (const char *)sqlite3_column_text(st, 1);
    int64_t p2 = sqlite3_column_int64(st, 3);
    int64_t p3 = sqlite3_column_int64(st, 4);
    int open = op != NULL &&
               (strcmp(op, "OpenRead") == 0 || strcmp(op, "OpenWrite") == 0);
    if (open && p3 == 0 && p2 != 0)
      ps__buf_append(pages, &p2, sizeof p2);
  }
  if (rc != SQLITE_DONE) {
    rc = ps__error_sqlite(conn, rc);
    sqlite3_finalize(st);
    return rc;
  }
  sqlite3_finalize(st);
  return ps__buf_failed(pages)
             ? ps__error_set(POWERSYNC_ENOMEM, "out of memory")
             : POWERSYNC_OK;
}

/* Maps root pages to the names of their tables (an index maps to its
 * table through tbl_name). */
static int lookup_root_pages(sqlite3 *conn, const struct ps__buf *pages,
                             struct watch_names *out) {
  static const char q[] = "SELECT tbl_name FROM sqlite_master "
                          "WHERE rootpage = ?1";
  sqlite3_stmt *st = NULL;
  size_t i, n = pages->len / sizeof(int64_t);
  int rc = sqlite3_prepare_v2(conn, q, -1, &st, NULL);
  if (rc != SQLITE_OK)
    return ps__error_sqlite(conn, rc);
  for (i = 0; i < n && rc == SQLITE_OK; i++) {
    int64_t page;
    memcpy(&page, pages->data + i * sizeof page, sizeof page);
    sqlite3_bind_int64(st, 1, page);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      const char *name = (const char *)sqlite3_column_text(st, 0);
      if (name != NULL && names_add(out, name) != POWERSYNC_OK) {
        sqlite3_finalize(st);
        return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
      }
    }
    rc = rc == SQLITE_DONE ? SQLITE_OK : ps__error_sqlite(conn, rc);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  return rc;
}

/* Starts a read transaction on conn whose schema is current. EXPLAIN
 * compiles against the connection's cached schema and runs nothing, so on
 * its own it never notices that the writer replaced the schema: a view
 * re-created over another table would still be explained with its old
 * definition. Reading sqlite_master checks the schema cookie and reloads a
 * stale schema; the transaction then keeps EXPLAIN and the root page lookup
 * on that same schema. */
static int begin_current_schema(sqlite3 *conn) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_exec(conn, "BEGIN", NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    return ps__error_sqlite(conn, rc);
  rc = sqlite3_prepare_v2(conn, "SELECT 1 FROM sqlite_master LIMIT 1", -1, &st,
                          NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc == SQLITE_ROW || rc == SQLITE_DONE)
    return POWERSYNC_OK;
  rc = ps__error_sqlite(conn, rc);
  sqlite3_exec(conn, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

/* The (view) names of the tables sql reads, found on a reader. */
static int watch_find_tables(powersync_db *db, const char *sql,
                             struct watch_names *out) {
  powersync_lease *lease = NULL;
  struct ps__buf pages;
  sqlite3 *conn;
  int rc = powersync_db_lease_read(db, -1, &lease);
  if (rc != POWERSYNC_OK)
    return rc;
  conn = powersync_lease_sqlite(lease);
  ps__buf_init(&pages, PS_BUF_DEFAULT_MAX);
  rc = begin_current_schema(conn);
  if (rc == POWERSYNC_OK) {
    rc = explain_root_pages(conn, sql, &pages);
    if (rc == POWERSYNC_OK)
      rc = lookup_root_pages(conn, &pages, out);
    /* Read-only: ending it cannot fail in a way that matters here. */
    sqlite3_exec(conn, "ROLLBACK", NULL, NULL, NULL);
  }
  ps__buf_free(&pages);
  powersync_lease_release(lease);
  return rc;
}

/* ---- Creation helpers ---------------------------------------------------- */

/* Deep copy of the parameters: TEXT and BLOB bytes are copied (TEXT stays
 * NUL-terminated), since the caller's buffers die when the call returns. */
static int copy_params(struct powersync_watch *w, const powersync_value *p,
                       size_t n) {
  size_t i;
  if (n == 0)
    return POWERSYNC_OK;
  w->params = calloc(n, sizeof *w->params);
  if (w->params == NULL)
    return POWERSYNC_ENOMEM;
  w->nparams = n;
  for (i = 0; i < n; i++) {
    w->params[i] = p[i];
    if (p[i].type == POWERSYNC_VALUE_TEXT ||
        p[i].type == POWERSYNC_VALUE_BLOB) {
      size_t size = p[i].as.bytes.size;
      char *copy = malloc(size + 1);
      if (copy == NULL) {
        w->params[i].type = POWERSYNC_VALUE_NULL;
        return POWERSYNC_ENOMEM;
      }
      if (size > 0)
        memcpy(copy, p[i].as.bytes.data, size);
      copy[size] = '\0';
      w->params[i].as.bytes.data = copy;
    }
  }
  return POWERSYNC_OK;
}

static void free_params(struct powersync_watch *w) {
  size_t i;
  for (i = 0; i < w->nparams; i++)
    if (w->params[i].type == POWERSYNC_VALUE_TEXT ||
        w->params[i].type == POWERSYNC_VALUE_BLOB)
      free((void *)w->params[i].as.bytes.data);
  free(w->params);
}

static void watch_destroy(struct powersync_watch *w) {
  names_free(&w->tables);
  names_free(&w->changed);
  free(w->sql);
  free_params(w);
  free(w->key_column);
  powersync_rows_free(w->prev);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
  free(w);
}

static void watch_unref(struct powersync_watch *w) {
  int refs;
  pthread_mutex_lock(&w->mu);
  refs = --w->refs;
  pthread_mutex_unlock(&w->mu);
  if (refs == 0)
    watch_destroy(w);
}

/* ---- Scheduling ---------------------------------------------------------- */

static void watch_job(void *arg);

/* The dispatcher dropped the queued run (it is shutting down). */
static void watch_job_cancel(void *arg) {
  struct powersync_watch *w = arg;
  pthread_mutex_lock(&w->mu);
  w->scheduled = 0;
  pthread_mutex_unlock(&w->mu);
  watch_unref(w);
}

/* Queues a run no earlier than throttle_ms after the previous run ended.
 * Caller holds w->mu; the queued run holds a reference. */
static void watch_schedule_locked(struct powersync_watch *w, int delay_ms) {
  if (ps__dispatcher_post(w->disp, delay_ms, watch_job, watch_job_cancel, w) !=
      POWERSYNC_OK) {
    /* Out of memory or the dispatcher is closing: the change cannot be
     * delivered now; it stays dirty, so the next change retries. */
    ps__log(POWERSYNC_LOG_WARN, WATCH_TAG, "cannot schedule a watch run");
    return;
  }
  w->scheduled = 1;
  w->refs++;
}

static int watch_throttle_delay_locked(const struct powersync_watch *w) {
  int64_t wait = w->last_end_ms + w->throttle_ms - ps__now_ms();
  if (w->last_end_ms == 0 || wait <= 0)
    return 0;
  return wait > w->throttle_ms ? w->throttle_ms : (int)wait;
}

/* Whether a notified name concerns the watch; TABLES records it. */
static int watch_note_table_locked(struct powersync_watch *w,
                                   const char *table) {
  const char *view = ps__view_table_name(table);
  if (w->kind == WATCH_TABLES && w->tables.n == 0) {
    (void)names_add(&w->changed, view);
    return 1;
  }
  if (!names_contains(&w->tables, view))
    return 0;
  if (w->kind == WATCH_TABLES)
    (void)names_add(&w->changed, view);
  return 1;
}

/* ps__change_fn: runs on the thread that released the writer; records
 * and schedules only, as the interface asks. */
static void watch_on_change(const char *const *tables, size_t count,
                            void *arg) {
  struct powersync_watch *w = arg;
  size_t i;
  int hit = 0;
  pthread_mutex_lock(&w->mu);
  if (!w->cancelled && !w->detached) {
    for (i = 0; i < count; i++)
      hit |= watch_note_table_locked(w, tables[i]);
    if (hit) {
      w->dirty = 1;
      if (!w->scheduled && !w->running)
        watch_schedule_locked(w, watch_throttle_delay_locked(w));
    }
  }
  pthread_mutex_unlock(&w->mu);
}

/* ps__schema_fn: the schema changed, so the query's tables and result may
 * have; runs where watch_on_change runs and likewise only schedules. The
 * run finds the tables again (see watch_refresh_tables). */
static void watch_on_schema(void *arg) {
  struct powersync_watch *w = arg;
  pthread_mutex_lock(&w->mu);
  if (!w->cancelled && !w->detached) {
    w->dirty = 1;
    if (!w->scheduled && !w->running)
      watch_schedule_locked(w, watch_throttle_delay_locked(w));
  }
  pthread_mutex_unlock(&w->mu);
}

/* Dispatcher free hook: the database is closing; no run is in progress on
 * another thread and none will start. */
static void watch_on_dispatcher_free(void *arg) {
  struct powersync_watch *w = arg;
  pthread_mutex_lock(&w->mu);
  w->detached = 1;
  pthread_mutex_unlock(&w->mu);
}

/* ---- Differences --------------------------------------------------------- */

struct diff_key {
  const powersync_value *key;
  size_t row;
};

static int value_cmp(const powersync_value *a, const powersync_value *b) {
  size_t n;
  int c;
  if (a->type != b->type)
    return a->type < b->type ? -1 : 1;
  switch (a->type) {
  case POWERSYNC_VALUE_NULL:
    return 0;
  case POWERSYNC_VALUE_INTEGER:
    return a->as.integer < b->as.integer ? -1 : a->as.integer > b->as.integer;
  case POWERSYNC_VALUE_REAL:
    return a->as.real < b->as.real ? -1 : a->as.real > b->as.real;
  case POWERSYNC_VALUE_TEXT:
  case POWERSYNC_VALUE_BLOB:
    n = a->as.bytes.size < b->as.bytes.size ? a->as.bytes.size
                                            : b->as.bytes.size;
    c = n ? memcmp(a->as.bytes.data, b->as.bytes.data, n) : 0;
    if (c != 0)
      return c;
    return a->as.bytes.size < b->as.bytes.size
               ? -1
               : a->as.bytes.size > b->as.bytes.size;
  }
  return 0;
}

/* By key, then by row: rows with equal keys pair up in result order. */
static int diff_key_cmp(const void *pa, const void *pb) {
  const struct diff_key *a = pa, *b = pb;
  int c = value_cmp(a->key, b->key);
  if (c != 0)
    return c;
  return a->row < b->row ? -1 : a->row > b->row;
}

static int rows_equal(const powersync_rows *a, size_t ra,
                      const powersync_rows *b, size_t rb) {
  size_t c, cols = powersync_rows_columns(a);
  if (cols != powersync_rows_columns(b))
    return 0;
  for (c = 0; c < cols; c++)
    if (value_cmp(powersync_rows_value(a, ra, c),
                  powersync_rows_value(b, rb, c)) != 0)
      return 0;
  return 1;
}

static int find_column(const powersync_rows *rows, const char *name,
                       size_t *out) {
  size_t c;
  for (c = 0; c < powersync_rows_columns(rows); c++) {
    if (strcmp(powersync_rows_column_name(rows, c), name) == 0) {
      *out = c;
      return 1;
    }
  }
  return 0;
}

/* rows sorted by their key column; NULL rows give an empty array. */
static struct diff_key *diff_sorted_keys(const powersync_rows *rows,
                                         const char *key, size_t *n_out) {
  size_t i, col = 0, n = rows ? powersync_rows_count(rows) : 0;
  struct diff_key *keys = malloc((n ? n : 1) * sizeof *keys);
  *n_out = n;
  if (keys == NULL || n == 0)
    return keys;
  if (!find_column(rows, key, &col)) {
    free(keys);
    return NULL;
  }
  for (i = 0; i < n; i++) {
    keys[i].key = powersync_rows_value(rows, i, col);
    keys[i].row = i;
  }
  qsort(keys, n, sizeof *keys, diff_key_cmp);
  return keys;
}

/* Row index lists of one difference, in result order. */
struct diff_out {
  size_t *added, *removed, *changed;
  size_t n_added, n_removed, n_changed;
};

/* Marks each row: for cur 'a'dded / 'c'hanged / 's'ame, for prev 'r'emoved
 * or 's'ame, by merging both key-sorted arrays. */
static void diff_merge(const struct diff_key *pk, size_t np,
                       const struct diff_key *ck, size_t nc,
                       const powersync_rows *prev, const powersync_rows *cur,
                       char *pmark, char *cmark) {
  size_t i = 0, j = 0;
  while (i < np || j < nc) {
    int c = i == np ? 1 : j == nc ? -1 : value_cmp(pk[i].key, ck[j].key);
    if (c < 0) {
      pmark[pk[i++].row] = 'r';
    } else if (c > 0) {
      cmark[ck[j++].row] = 'a';
    } else {
      pmark[pk[i].row] = 's';
      cmark[ck[j].row] =
          rows_equal(prev, pk[i].row, cur, ck[j].row) ? 's' : 'c';
      i++;
      j++;
    }
  }
}

static void diff_collect(const char *mark, size_t n, char want, size_t *out,
                         size_t *n_out) {
  size_t i;
  *n_out = 0;
  for (i = 0; i < n; i++)
    if (mark[i] == want)
      out[(*n_out)++] = i;
}

/* Computes what changed from prev (may be NULL) to cur. Returns
 * POWERSYNC_EINVAL when the key column is missing. */
static int diff_compute(const powersync_rows *prev, const powersync_rows *cur,
                        const char *key, struct diff_out *out) {
  size_t np, nc;
  struct diff_key *pk = NULL, *ck = NULL;
  char *pmark = NULL, *cmark = NULL;
  int rc = POWERSYNC_ENOMEM;
  size_t col;
  memset(out, 0, sizeof *out);
  if (!find_column(cur, key, &col))
    return ps__error_set(POWERSYNC_EINVAL, "no column '%s' in the result", key);
  pk = diff_sorted_keys(prev, key, &np);
  ck = diff_sorted_keys(cur, key, &nc);
  pmark = calloc(np + 1, 1);
  cmark = calloc(nc + 1, 1);
  out->added = malloc((nc + 1) * sizeof(size_t));
  out->changed = malloc((nc + 1) * sizeof(size_t));
  out->removed = malloc((np + 1) * sizeof(size_t));
  if (pk == NULL || ck == NULL || !pmark || !cmark || !out->added ||
      !out->changed || !out->removed)
    goto done;
  diff_merge(pk, np, ck, nc, prev, cur, pmark, cmark);
  diff_collect(cmark, nc, 'a', out->added, &out->n_added);
  diff_collect(cmark, nc, 'c', out->changed, &out->n_changed);
  diff_collect(pmark, np, 'r', out->removed, &out->n_removed);
  rc = POWERSYNC_OK;
done:
  free(pk);
  free(ck);
  free(pmark);
  free(cmark);
  if (rc != POWERSYNC_OK)
    ps__error_set(rc, "out of memory");
  return rc;
}

static void diff_out_free(struct diff_out *d) {
  free(d->added);
  free(d->removed);
  free(d->changed);
}

/* ---- Runs ---------------------------------------------------------------- */

/* Calls the callback of a failed run with a copy of the message: the
 * callback may make PowerSync calls, which replace powersync_error_last. */
static void watch_emit_error(struct powersync_watch *w, int rc) {
  char *msg = watch_strdup(powersync_error_last()->message);
  const char *m = msg ? msg : "out of memory";
  ps__log(POWERSYNC_LOG_DEBUG, WATCH_TAG, "watch query failed: %s", m);
  if (w->kind == WATCH_QUERY)
    w->cb.rows(NULL, rc, m, w->user_data);
  else
    w->cb.diff(NULL, NULL, NULL, rc, m, w->user_data);
  free(msg);
}

static void watch_emit_diff(struct powersync_watch *w, powersync_rows *cur) {
  struct diff_out d;
  powersync_rows *added = NULL, *removed = NULL, *changed = NULL;
  int rc = diff_compute(w->prev, cur, w->key_column, &d);
  int quiet = w->silent_baseline && !w->emitted;
  if (rc == POWERSYNC_OK) {
    int empty = d.n_added + d.n_removed + d.n_changed == 0;
    quiet |= empty && w->emitted; /* Nothing new to report. */
    if (!quiet) {
      rc = ps__rows_subset(&added, cur, d.added, d.n_added);
      if (rc == POWERSYNC_OK)
        rc = ps__rows_subset(&changed, cur, d.changed, d.n_changed);
      if (rc == POWERSYNC_OK)
        rc = w->prev
                 ? ps__rows_subset(&removed, w->prev, d.removed, d.n_removed)
                 : ps__rows_subset(&removed, cur, NULL, 0);
      if (rc != POWERSYNC_OK)
        ps__error_set(rc, "out of memory");
    }
  }
  diff_out_free(&d);
  if (rc != POWERSYNC_OK) {
    watch_emit_error(w, rc);
    powersync_rows_free(cur);
  } else {
    if (!quiet)
      w->cb.diff(added, removed, changed, POWERSYNC_OK, NULL, w->user_data);
    powersync_rows_free(w->prev);
    w->prev = cur; /* The next emission is relative to this result. */
    w->emitted = 1;
  }
  powersync_rows_free(added);
  powersync_rows_free(removed);
  powersync_rows_free(changed);
}

/* Finds the tables again when the schema changed since they were found.
 * On failure the old set stays and the generation is not recorded, so the
 * next run tries again (a later schema may bring a dropped view back). */
static int watch_refresh_tables(struct powersync_watch *w) {
  struct watch_names found, old;
  uint64_t gen;
  int rc;
  if (!w->discover)
    return POWERSYNC_OK;
  gen = ps__db_schema_generation(w->db);
  if (gen == w->schema_gen)
    return POWERSYNC_OK;
  memset(&found, 0, sizeof found);
  rc = watch_find_tables(w->db, w->sql, &found);
  if (rc != POWERSYNC_OK) {
    names_free(&found);
    return rc;
  }
  /* Swapped under mu: the change listener reads the set on other threads. */
  pthread_mutex_lock(&w->mu);
  old = w->tables;
  w->tables = found;
  pthread_mutex_unlock(&w->mu);
  names_free(&old);
  w->schema_gen = gen;
  return POWERSYNC_OK;
}

static void watch_emit_query(struct powersync_watch *w) {
  powersync_rows *rows = NULL;
  int rc = watch_refresh_tables(w);
  if (rc == POWERSYNC_OK)
    rc = powersync_db_query(w->db, w->sql, w->params, w->nparams, &rows);
  if (rc == POWERSYNC_ECLOSED)
    return; /* The database is closing: nobody wants to hear about it. */
  if (rc != POWERSYNC_OK) {
    watch_emit_error(w, rc);
    return;
  }
  if (w->kind == WATCH_DIFF) {
    watch_emit_diff(w, rows); /* Takes rows. */
    return;
  }
  w->cb.rows(rows, POWERSYNC_OK, NULL, w->user_data);
  w->emitted = 1;
  powersync_rows_free(rows);
}

static void watch_emit(struct powersync_watch *w,
                       const struct watch_names *changed) {
  if (w->kind == WATCH_TABLES) {
    w->cb.tables((const char *const *)changed->v, changed->n, w->user_data);
    w->emitted = 1;
    return;
  }
  watch_emit_query(w);
}

/* A dispatcher job: one run of the watch. */
static void watch_job(void *arg) {
  struct powersync_watch *w = arg;
  struct watch_names changed;
  int free_user = 0;
  pthread_mutex_lock(&w->mu);
  w->scheduled = 0;
  if (w->cancelled || w->detached) {
    pthread_mutex_unlock(&w->mu);
    watch_unref(w);
    return;
  }
  w->running = 1;
  w->dirty = 0; /* Commits from now on cause another run. */
  changed = w->changed;
  memset(&w->changed, 0, sizeof w->changed);
  pthread_mutex_unlock(&w->mu);

  watch_emit(w, &changed);
  names_free(&changed);

  pthread_mutex_lock(&w->mu);
  w->running = 0;
  w->last_end_ms = ps__now_ms();
  if (w->cancelled)
    free_user = w->free_user_after_run;
  else if (w->dirty && !w->detached)
    watch_schedule_locked(w, w->throttle_ms);
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  if (free_user && w->user_data_free != NULL)
    w->user_data_free(w->user_data);
  watch_unref(w);
}

/* ---- Public API ---------------------------------------------------------- */

static int watch_check_opts(const powersync_watch_options *opts,
                            powersync_watch_options *out) {
  static const powersync_watch_options defaults = POWERSYNC_WATCH_OPTIONS_INIT;
  *out = defaults;
  if (opts == NULL)
    return POWERSYNC_OK;
  if (opts->version != POWERSYNC_WATCH_OPTIONS_VERSION)
    return ps__error_set(POWERSYNC_EINVAL, "unknown options version %u",
                         opts->version);
  if (opts->throttle_ms < 0)
    return ps__error_set(POWERSYNC_EINVAL, "negative throttle_ms");
  *out = *opts;
  return POWERSYNC_OK;
}

static struct powersync_watch *watch_alloc(powersync_db *db,
                                           enum watch_kind kind,
                                           union watch_cb cb, void *user_data,
                                           void (*user_data_free)(void *)) {
  struct powersync_watch *w = calloc(1, sizeof *w);
  if (w == NULL)
    return NULL;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  w->refs = 1; /* The application's. */
  w->kind = kind;
  w->db = db;
  w->disp = ps__db_dispatcher(db);
  w->cb = cb;
  w->user_data = user_data;
  w->user_data_free = user_data_free;
  return w;
}

static int watch_add_names(struct watch_names *set, const char *const *names,
                           size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (names[i] == NULL)
      return ps__error_set(POWERSYNC_EINVAL, "table name is NULL");
    if (names_add(set, names[i]) != POWERSYNC_OK)
      return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  }
  return POWERSYNC_OK;
}

/* Registers the free hook and the change (and, for query watches, schema)
 * listener, then queues the first run when the watch emits initially (a
 * quiet differential baseline runs too) or the schema changed since its
 * tables were found. On failure everything registered is undone. */
static int watch_start(struct powersync_watch *w, int emit_initial) {
  int stale, rc;
  if (w->disp == NULL)
    return ps__error_set(POWERSYNC_ECLOSED, "the database is closed");
  rc = ps__dispatcher_add_free_hook(w->disp, watch_on_dispatcher_free, w,
                                    &w->hook_id);
  if (rc != POWERSYNC_OK)
    return ps__error_set(rc, "cannot register the watch");
  rc = ps__db_add_change_listener(
      w->db, watch_on_change, w->kind == WATCH_TABLES ? NULL : watch_on_schema,
      w, &w->listener_id);
  if (rc != POWERSYNC_OK) {
    ps__dispatcher_remove_free_hook(w->disp, w->hook_id);
    return rc;
  }
  /* A schema change between finding the tables and registering the
   * listener was not heard: it is relevant, so run now (that run finds
   * the tables again). */
  stale = w->discover && ps__db_schema_generation(w->db) != w->schema_gen;
  if (emit_initial || w->silent_baseline || stale) {
    pthread_mutex_lock(&w->mu);
    /* A run already going may have read the old generation: one more. */
    if (stale)
      w->dirty = 1;
    /* A commit since the listener was added may have queued a run
     * already; that run is the initial one. */
    if (!w->scheduled && !w->running)
      watch_schedule_locked(w, 0);
    rc = w->scheduled || w->running ? POWERSYNC_OK : POWERSYNC_ECLOSED;
    pthread_mutex_unlock(&w->mu);
    if (rc != POWERSYNC_OK) {
      ps__db_remove_change_listener(w->db, w->listener_id);
      ps__dispatcher_remove_free_hook(w->disp, w->hook_id);
      return ps__error_set(rc, "cannot schedule the watch");
    }
  }
  return POWERSYNC_OK;
}

int powersync_db_watch_tables(powersync_db *db, const char *const *tables,
                              size_t count, const powersync_watch_options *opts,
                              powersync_tables_cb cb, void *user_data,
                              void (*user_data_free)(void *),
                              powersync_watch **out) {
  powersync_watch_options o;
  struct powersync_watch *w;
  int rc;
  ps__error_reset();
  if (out != NULL)
    *out = NULL;
  if (db == NULL || cb == NULL || out == NULL || (count > 0 && !tables))
    return ps__error_set(POWERSYNC_EINVAL, "db, cb and out are required");
  rc = watch_check_opts(opts, &o);
  if (rc != POWERSYNC_OK)
    return rc;
  union watch_cb ucb;
  ucb.tables = cb;
  w = watch_alloc(db, WATCH_TABLES, ucb, user_data, user_data_free);
  if (w == NULL)
    return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  w->throttle_ms = o.throttle_ms;
  rc = watch_add_names(&w->tables, tables, count);
  if (rc == POWERSYNC_OK)
    rc = watch_start(w, o.emit_initial);
  if (rc != POWERSYNC_OK) {
    watch_destroy(w);
    return rc;
  }
  *out = w;
  return POWERSYNC_OK;
}

/* Shared by the query and differential watches. */
static int watch_query_new(powersync_db *db, enum watch_kind kind,
                           const char *sql, const powersync_value *params,
                           size_t n, const char *key_column,
                           const powersync_watch_options *opts,
                           union watch_cb cb, void *user_data,
                           void (*user_data_free)(void *),
                           powersync_watch **out) {
  powersync_watch_options o;
  struct powersync_watch *w;
  int rc;
  ps__error_reset();
  if (out != NULL)
    *out = NULL;
  if (db == NULL || sql == NULL || out == NULL || (n > 0 && params == NULL) ||
      (kind == WATCH_DIFF && !key_column))
    return ps__error_set(POWERSYNC_EINVAL, "missing argument");
  rc = watch_check_opts(opts, &o);
  if (rc != POWERSYNC_OK)
    return rc;
  w = watch_alloc(db, kind, cb, user_data, user_data_free);
  if (w == NULL)
    return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  w->throttle_ms = o.throttle_ms;
  w->silent_baseline = kind == WATCH_DIFF && !o.emit_initial;
  w->sql = watch_strdup(sql);
  w->key_column = key_column ? watch_strdup(key_column) : NULL;
  rc = copy_params(w, params, n);
  if (rc != POWERSYNC_OK || !w->sql || (key_column && !w->key_column))
    rc = ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  else if (o.tables != NULL || o.table_count > 0)
    rc = watch_add_names(&w->tables, o.tables, o.table_count);
  else {
    /* Read first: a schema change during EXPLAIN is then noticed. */
    w->discover = 1;
    w->schema_gen = ps__db_schema_generation(db);
    rc = watch_find_tables(db, sql, &w->tables);
  }
  if (rc == POWERSYNC_OK)
    rc = watch_start(w, o.emit_initial);
  if (rc != POWERSYNC_OK) {
    watch_destroy(w);
    return rc;
  }
  *out = w;
  return POWERSYNC_OK;
}

int powersync_db_watch_query(powersync_db *db, const char *sql,
                             const powersync_value *params, size_t n,
                             const powersync_watch_options *opts,
                             powersync_rows_cb cb, void *user_data,
                             void (*user_data_free)(void *),
                             powersync_watch **out) {
  union watch_cb ucb;
  ucb.rows = cb;
  if (out != NULL)
    *out = NULL;
  if (cb == NULL)
    return ps__error_set(POWERSYNC_EINVAL, "cb is NULL");
  return watch_query_new(db, WATCH_QUERY, sql, params, n, NULL, opts, ucb,
                         user_data, user_data_free, out);
}

int powersync_db_watch_query_diff(powersync_db *db, const char *sql,
                                  const powersync_value *params, size_t n,
                                  const char *key_column,
                                  const powersync_watch_options *opts,
                                  powersync_diff_cb cb, void *user_data,
                                  void (*user_data_free)(void *),
                                  powersync_watch **out) {
  union watch_cb ucb;
  ucb.diff = cb;
  if (out != NULL)
    *out = NULL;
  if (cb == NULL)
    return ps__error_set(POWERSYNC_EINVAL, "cb is NULL");
  return watch_query_new(db, WATCH_DIFF, sql, params, n, key_column, opts, ucb,
                         user_data, user_data_free, out);
}

void powersync_watch_cancel(powersync_watch *w) {
  int detached, self, free_user;
  if (w == NULL)
    return;
  pthread_mutex_lock(&w->mu);
  w->cancelled = 1;
  detached = w->detached;
  pthread_mutex_unlock(&w->mu);

  /* Unregister first (without w->mu: the listener takes it), so no new run
   * gets scheduled; a queued one will find cancelled set and do nothing. */
  if (!detached) {
    ps__db_remove_change_listener(w->db, w->listener_id);
    ps__dispatcher_remove_free_hook(w->disp, w->hook_id);
  }

  pthread_mutex_lock(&w->mu);
  /* Only one job of a dispatcher runs at a time, so when this thread runs
   * a job while the watch runs, that job is this watch's own callback.
   * After a close only a callback that closed its database can still run. */
  self = w->running && (w->detached || ps__dispatcher_in_job(w->disp));
  while (!self && w->running)
    pthread_cond_wait(&w->cv, &w->mu);
  w->free_user_after_run = self;
  free_user = !self;
  pthread_mutex_unlock(&w->mu);

  if (free_user && w->user_data_free != NULL)
    w->user_data_free(w->user_data);
  watch_unref(w);
}
