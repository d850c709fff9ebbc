/*
 * test_watch.c: change notifications and watches (watch.h, sdk.md sections
 * 3 and 6): the initial emission, re-runs after relevant commits only,
 * coalescing of bursts with the final state always delivered, throttling,
 * rolled-back writes never notifying, ps_data__/ps_data_local__ names mapped
 * to view names, differential results, cancellation (also from the
 * callback, and with a throttled run pending), closing while a callback runs,
 * delivery on the application's thread (POWERSYNC_DISPATCH_APP), re-runs
 * and table re-discovery after schema changes, and notifications from
 * powersync_db_clear.
 *
 * Nothing here depends on timing beyond lower bounds the SDK guarantees:
 * waits use condition variables with generous timeouts, and properties are
 * stated as orderings and counts ("a burst of 100 commits yields far fewer
 * than 100 emissions and ends on the final state"). To check that something
 * did NOT happen, a test posts a barrier job to the database's dispatcher:
 * jobs run in due order, so a watch run scheduled before the barrier (with
 * throttle 0) has run when the barrier does.
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "db_test_helpers.h"
#include "sdk/sdk_internal.h"

#define WAIT_MS 20000 /* Generous: sanitizer builds on a loaded machine. */

/* ---- Recording callbacks ------------------------------------------------- */

struct wrec {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int calls;
  int errors;
  int frees;
  int bad;       /* Contract violations seen in callbacks (cmocka's asserts must
                    run on the test's thread, so callbacks only count). */
  int in_cb;     /* Callbacks running now. */
  int max_in_cb; /* Most callbacks ever running at once. */
  int64_t value; /* Query: first column of the first row. */
  char tables[256]; /* Tables: the last set, comma-separated. */
  char added[256];  /* Diff: "key=description;" per row. */
  char removed[256];
  char changed[256];
  int64_t last_end_ms;
  int64_t min_gap_ms; /* Smallest start(n+1) - end(n) seen. */
  pthread_t thread;
  powersync_watch *self; /* For callbacks that cancel their own watch. */
  int cancel_at;         /* Cancel self on this call (0: never). */
  int block_ms;          /* Sleep this long inside each callback. */
};

static void wrec_init(struct wrec *r) {
  memset(r, 0, sizeof *r);
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cv, NULL);
  r->value = -1;
  r->min_gap_ms = INT64_MAX;
}

static void wrec_destroy(struct wrec *r) {
  assert_int_equal(r->bad, 0);
  pthread_cond_destroy(&r->cv);
  pthread_mutex_destroy(&r->mu);
}

static void wrec_free_cb(void *user_data) {
  struct wrec *r = user_data;
  pthread_mutex_lock(&r->mu);
  r->frees++;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

/* Waits until *field >= want; returns *field. */
static int64_t wrec_wait_ge(struct wrec *r, const int *field, int want) {
  struct timespec ts;
  int v;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += WAIT_MS / 1000;
  pthread_mutex_lock(&r->mu);
  while (*field < want && pthread_cond_timedwait(&r->cv, &r->mu, &ts) == 0) {
  }
  v = *field;
  pthread_mutex_unlock(&r->mu);
  return v;
}

/* Waits until the query value equals want; returns the last value. */
static int64_t wrec_wait_value(struct wrec *r, int64_t want) {
  struct timespec ts;
  int64_t v;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += WAIT_MS / 1000;
  pthread_mutex_lock(&r->mu);
  while (r->value != want && pthread_cond_timedwait(&r->cv, &r->mu, &ts) == 0) {
  }
  v = r->value;
  pthread_mutex_unlock(&r->mu);
  return v;
}

static int wrec_calls(struct wrec *r) {
  int n;
  pthread_mutex_lock(&r->mu);
  n = r->calls;
  pthread_mutex_unlock(&r->mu);
  return n;
}

/* Start of a callback: concurrency bookkeeping and the throttle gap. */
static void cb_enter(struct wrec *r) {
  int64_t now = ps__now_ms();
  pthread_mutex_lock(&r->mu);
  r->in_cb++;
  if (r->in_cb > r->max_in_cb)
    r->max_in_cb = r->in_cb;
  if (r->calls > 0 && now - r->last_end_ms < r->min_gap_ms)
    r->min_gap_ms = now - r->last_end_ms;
  r->thread = pthread_self();
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

/* End of a callback: optional sleep and self-cancel, then count the call. */
static void cb_leave(struct wrec *r) {
  int cancel;
  if (r->block_ms > 0) {
    struct timespec nap;
    nap.tv_sec = r->block_ms / 1000;
    nap.tv_nsec = (long)(r->block_ms % 1000) * 1000000L;
    nanosleep(&nap, NULL);
  }
  pthread_mutex_lock(&r->mu);
  cancel = r->cancel_at > 0 && r->calls + 1 == r->cancel_at;
  pthread_mutex_unlock(&r->mu);
  if (cancel) {
    powersync_watch_cancel(r->self);
    /* The watch ends after this callback returns, not before. */
    pthread_mutex_lock(&r->mu);
    r->bad += r->frees != 0;
    pthread_mutex_unlock(&r->mu);
  }
  pthread_mutex_lock(&r->mu);
  r->in_cb--;
  r->calls++;
  r->last_end_ms = ps__now_ms();
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

static void on_rows(const powersync_rows *rows, int rc, const char *message,
                    void *user_data) {
  struct wrec *r = user_data;
  cb_enter(r);
  pthread_mutex_lock(&r->mu);
  if (rc != POWERSYNC_OK) {
    r->bad += rows != NULL || message == NULL;
    r->errors++;
  } else {
    const powersync_value *v = powersync_rows_value(rows, 0, 0);
    r->value = v && v->type == POWERSYNC_VALUE_INTEGER ? v->as.integer : -1;
  }
  pthread_mutex_unlock(&r->mu);
  cb_leave(r);
}

static void on_tables(const char *const *tables, size_t count,
                      void *user_data) {
  struct wrec *r = user_data;
  size_t i;
  cb_enter(r);
  pthread_mutex_lock(&r->mu);
  r->tables[0] = '\0';
  for (i = 0; i < count; i++) {
    size_t len = strlen(r->tables);
    snprintf(r->tables + len, sizeof r->tables - len, "%s%s", i ? "," : "",
             tables[i]);
  }
  pthread_mutex_unlock(&r->mu);
  cb_leave(r);
}

/* Writes "key=description;" for each row of (id, description) rows. */
static void format_rows(char *out, size_t size, const powersync_rows *rows) {
  size_t i;
  out[0] = '\0';
  for (i = 0; i < powersync_rows_count(rows); i++) {
    const powersync_value *k = powersync_rows_value(rows, i, 0);
    const powersync_value *d = powersync_rows_value(rows, i, 1);
    size_t len = strlen(out);
    snprintf(out + len, size - len, "%s=%s;", (const char *)k->as.bytes.data,
             d->type == POWERSYNC_VALUE_TEXT ? (const char *)d->as.bytes.data
                                             : "NULL");
  }
}

static void on_diff(const powersync_rows *added, const powersync_rows *removed,
                    const powersync_rows *changed, int rc, const char *message,
                    void *user_data) {
  struct wrec *r = user_data;
  cb_enter(r);
  pthread_mutex_lock(&r->mu);
  if (rc != POWERSYNC_OK) {
    r->bad += message == NULL;
    r->errors++;
  } else {
    /* Every result has the query's columns, even when empty. */
    r->bad +=
        !added || !removed || !changed || powersync_rows_columns(removed) != 2;
    format_rows(r->added, sizeof r->added, added);
    format_rows(r->removed, sizeof r->removed, removed);
    format_rows(r->changed, sizeof r->changed, changed);
  }
  pthread_mutex_unlock(&r->mu);
  cb_leave(r);
}

/* ---- Database helpers ---------------------------------------------------- */

/* todos(description, done), lists(name) and the local-only drafts(body). */
static powersync_db *open_db(const char *name, powersync_dispatch_mode mode) {
  powersync_schema *s = th_schema(1);
  powersync_table *t = NULL;
  powersync_db_options o = POWERSYNC_DB_OPTIONS_INIT;
  powersync_db *db = NULL;
  ASSERT_PS_OK(powersync_schema_add_table(s, "drafts", &t));
  ASSERT_PS_OK(powersync_table_add_column(t, "body", POWERSYNC_COLUMN_TEXT));
  ASSERT_PS_OK(powersync_table_set_flags(t, POWERSYNC_TABLE_LOCAL_ONLY));
  o.dispatch = mode;
  ASSERT_PS_OK(powersync_db_open(&db, th_db_path(name), s, &o));
  powersync_schema_free(s);
  return db;
}

static void exec(powersync_db *db, const char *sql) {
  ASSERT_PS_OK(powersync_db_execute(db, sql, NULL, 0, NULL));
}

static powersync_watch_options opts_throttle(int throttle_ms) {
  powersync_watch_options o = POWERSYNC_WATCH_OPTIONS_INIT;
  o.throttle_ms = throttle_ms;
  return o;
}

struct barrier {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
};

static void barrier_job(void *arg) {
  struct barrier *b = arg;
  pthread_mutex_lock(&b->mu);
  b->done = 1;
  pthread_cond_broadcast(&b->cv);
  pthread_mutex_unlock(&b->mu);
}

/* Returns once every dispatcher job due now has run (THREAD mode). */
static void dispatch_barrier(powersync_db *db) {
  struct barrier b;
  struct timespec ts;
  memset(&b, 0, sizeof b);
  pthread_mutex_init(&b.mu, NULL);
  pthread_cond_init(&b.cv, NULL);
  assert_int_equal(
      ps__dispatcher_post(ps__db_dispatcher(db), 0, barrier_job, NULL, &b), 0);
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += WAIT_MS / 1000;
  pthread_mutex_lock(&b.mu);
  while (!b.done && pthread_cond_timedwait(&b.cv, &b.mu, &ts) == 0) {
  }
  assert_int_equal(b.done, 1);
  pthread_mutex_unlock(&b.mu);
  pthread_cond_destroy(&b.cv);
  pthread_mutex_destroy(&b.mu);
}

/* Whether the comma-separated set contains name. */
static int has_table(const char *set, const char *name) {
  size_t len = strlen(name);
  const char *p = set;
  while ((p = strstr(p, name)) != NULL) {
    if ((p == set || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
      return 1;
    p += len;
  }
  return 0;
}

static const char COUNT_TODOS[] = "SELECT count(*) FROM todos";

/* ---- Tests --------------------------------------------------------------- */

static void watch_query_emits_initial_then_after_commit(void **state) {
  powersync_db *db = open_db("initial", POWERSYNC_DISPATCH_THREAD);
  powersync_watch *w = NULL;
  struct wrec r;
  (void)state;
  wrec_init(&r);
  th_insert_todo(db, "before");
  ASSERT_PS_OK(powersync_db_watch_query(db, COUNT_TODOS, NULL, 0, NULL, on_rows,
                                        &r, wrec_free_cb, &w));
  assert_int_equal(wrec_wait_ge(&r, &r.calls, 1), 1);
  assert_int_equal(r.value, 1);
  assert_false(pthread_equal(r.thread, pthread_self()));
  th_insert_todo(db, "after");
  assert_int_equal(wrec_wait_value(&r, 2), 2);
  powersync_watch_cancel(w);
  assert_int_equal(r.frees, 1);
  assert_int_equal(r.errors, 0);
  ASSERT_PS_OK(powersync_db_close(db));
  wrec_destroy(&r);
}

static void watch_query_burst_coalesces_and_ends_on_final_state(void **state) {
  powersync_db *db = open_db("burst", POWERSYNC_DISPATCH_THREAD);
  /* 100 ms rather than the default 30: coalescing stays visible even when
   * a loaded sanitizer build commits slowly. */
  powersync_watch_options o = opts_throttle(100);
  powersync_watch *w = NULL;
  struct wrec r;
  int i, calls;
  int64_t start;
  (void)state;
  wrec_init(&r);
  ASSERT_PS_OK(powersync_db_watch_query(db, COUNT_TODOS, NULL, 0, &o, on_rows,
                                        &r, NULL, &w));
  assert_int_equal(wrec_wait_ge(&r, &r.calls, 1), 1);
  start = ps__now_ms();
  for (i = 0; i < 100; i++)
    th_insert_todo(db, "burst"); /* 100 separate commits. */
  /* The last change of the burst is delivered... */
  assert_int_equal(wrec_wait_value(&r, 100), 100);
  calls = wrec_calls(&r);
  /* ...after far fewer runs than commits: at most one leading run plus one
   * per throttle window. */
  assert_true(calls >= 2);
  assert_true(calls < 50);
  assert_true(calls <= 3 + (ps__now_ms() - start) / 100);
  /* The watch keeps going after the burst. */
  th_insert_todo(db, "one more");
  assert_int_equal(wrec_wait_value(&r, 101), 101);
  assert_int_equal(r.max_in_cb, 1); /* Never concurrent with itself. */
  powersync_watch_cancel(w);
  ASSERT_PS_OK(powersync_db_close(db));
  wrec_destroy(&r);
}

static int insert_then_fail(sqlite3 *conn, void *user_data) {
  (void)user_data;
  sqlite3_exec(conn,
               "INSERT INTO todos(id, description) VALUES (uuid(), 'gone')",
               NULL, NULL, NULL);
  return 1; /* Roll back. */
}

static void watch_rolled_back_writes_never_notify(void **state) {
  powersync_db *db = open_db("rollback", POWERSYNC_DISPATCH_THREAD);
  powersync_watch_options o = opts_throttle(0);
  powersync_watch *w = NULL;
  struct wrec r;
  (void)state;
  wrec_init(&r);
  o.emit_initial = 0;
  /* Any table: a notification for todos would show up in the set. */
  ASSERT_PS_OK(
      powersync_db_watch_tables(db, NULL, 0, &o, on_tables, &r, NULL, &w));
  assert_int_equal(powersync_db_write_transaction(db, insert_then_fail, NULL),
                   POWERSYNC_EUSER);
  exec(db, "INSERT INTO lists(id, name) VALUES (uuid(), 'l')");
  assert_int_equal(wrec_wait_ge(&r, &r.calls, 1), 1);
  dispatch_barrier(db);
  assert_int_equal(wrec_calls(&r), 1);
  /* The commit also touched the core's ps_crud (etc.), never todos. */
  assert_true(has_table(r.tables, "lists"));
  assert_false(has_table(r.tables, "todos"));
  assert_int_equal(th_query_int(db, COUNT_TODOS), 0);
  powersync_watch_cancel(w);
  ASSERT_PS_OK(powersync_db_close(db));
  wrec_destroy(&r);
}

static void watch_tables_reports_view_names(void **state) {
  powersync_db *db = open_db("names", POWERSYNC_DISPATCH_THREAD);
  powersync_watch_options o = opts_throttle(0);
  const char *watched[] = {"todos", "ps_data_local__drafts"};
  powersync_watch *w = NULL;
  struct wrec r;
  (void)state;
  wrec_init(&r);
  o.emit_initial = 0;
  ASSERT_PS_OK(
      powersync_db_watch_tables(db, watched, 2, &o, on_tables, &r, NULL, &w));
  /* ps_data__lists is not watched: no call. */
  exec(db, "INSERT INTO lists(id, name) VALUES (uuid(), 'l')");
  dispatch_barrier(db);
  assert_int_equal(wrec_calls(&r), 0);
  /* ps_data_local__drafts reported as drafts. */
  exec(db, "INSERT INTO drafts(id, body) VALUES (uuid(), 'b')");
  assert_int_equal(wrec_wait_ge(&r, &r.calls, 1), 1);
  assert_string_equal(r.tables, "drafts");
  /* ps_data__todos reported as todos, the unwatched lists left out. */
  exec(db, "INSERT INTO todos(id) VALUES (uuid())");
  assert_int_equal(wrec_wait_ge(&r, &r.calls, 2), 2);
  assert_string_equal(r.tables, "todos");
  powersync_watch_cancel(w);
  ASSERT_PS_OK(powersync_db_close(db));
  wrec_destroy(&r);
}

static void watch_query_ignores_tables_it_does_not_read(void **state) {
  powersync_db *db = open_db("explain", POWERSYNC_DISPATCH_THREAD);
  powersync_watch_options o = opts_throttle(0);
  powersync_watch *w = NULL;
  struct wrec r;
  (void)state;
  wrec_init(&r);
  /* A join through an index: both tables are found with EXPLAIN. */
  ASSERT_PS_OK(powersync_db_watch_query(
      db,
      "SELECT count(*) FROM todos t LEFT JOIN lists l ON l.id = t.description",
      NULL, 0, &o, on_rows, &r, NULL, &w));
  assert_int_equal(wrec_wait_ge(&r, &r.calls, 1), 1);
  exec(db, "INSERT INTO drafts(id, body) VALUES (uuid(), 'b')");
  dispatch_barrier(db);
  assert_int_equal(wrec_calls(&r), 1);
  exec(db, "INSERT INTO lists(id, name) VALUES (uuid(), 'l')");
  assert_int_equal(wrec_wait_ge(&r, &r.calls, 2), 2);
  th_insert_todo(db, "x");
  assert_int_equal(wrec_wait_value(&r, 1), 1);
  powersync_watch_cancel(w);
  ASSERT_PS_OK(powersync_db_close(db));
  wrec_destroy(&r);
}

static void watch_throttle_spaces_runs(void **state) {
  powersync_db *db = open_db("throttle", POWERSYNC_DISPATCH_THREAD);
  powersync_watch_options o = opts_throttle(150);
  powersync_watch *w = NULL;
  struct wrec r;
  int i;
  (void)state;
  wrec_init(&r);
  ASSERT_PS_OK(powersync_db_watch_query(db, COUNT_TODOS, NULL, 0, &o, on_rows,
                                        &r, NULL, &w));
  assert_int_equal(wrec_wait_ge(&r, &r.calls, 1), 1);
  for (i = 1; i <= 5; i++) {
    th_insert_todo(db, "t");
    assert_int_equal(wrec_wait_value(&r, i), i);
  }
  /* A run starts no sooner than throttle_ms after the previous one ended. */
  assert_true(r.min_gap_ms >= 150);
  powersync_watch_cancel(w);
  ASSERT_PS_OK(powersync_db_close(db));
  wrec_destroy(&r);
}

static int diff_transaction(sqlite3 *conn, void *user_data) {
  (void)user_data;
  return sqlite3_exec(conn,
                      "INSERT INTO todos(id, description) VALUES ('c', 'new');"
                      "DELETE FROM todos WHERE id = 'a';"
                      "UPDATE todos SET description = 'edited' WHERE id = 'b';",
                      NULL, NULL, NULL);
}

static void watch_diff_reports_added_removed_changed(void **state) {
  powersync_db *db = open_db("diff", POWERSYNC_DISPATCH_THREAD);
  powersync_watch_options o = opts_throttle(0);
  powersync_watch *w = NULL;
  struct wrec r;
  (void)state;
  wrec_init(&r);
  exec(db, "INSERT INTO todos(id, description) VALUES ('a', 'one'), "
           "('b', 'two')");
  ASSERT_PS_OK(powersync_db_watch_query_diff(
      db, "SELECT id, description FROM todos ORDER BY id", NULL, 0, "id", &o,
      on_diff, &r, wrec_free_cb, &w));
  /* First emission: everything is added. */
  assert_int_equal(wrec_wait_ge(&r, &r.calls, 1), 1);
  assert_string_equal(r.added, "a=one;b=two;");
  assert_string_equal(r.removed, "");
  assert_string_equal(r.changed, "");
  /* One transaction: one emission with all three kinds. */
  ASSERT_PS_OK(powersync_db_write_transaction(db, diff_transaction, NULL));
  assert_int_equal(wrec_wait_ge(&r, &r.calls, 2), 2);
  assert_string_equal(r.added, "c=new;");
  assert_string_equal(r.removed, "a=one;");
  assert_string_equal(r.changed, "b=edited;");
  /* A commit that changes no value: nothing to report. */
  exec(db, "UPDATE todos SET description = description");
  dispatch_barrier(db);
  assert_int_equal(wrec_calls(&r), 2);
  /* A bad key column is an error delivered to the callback. */
  powersync_watch_cancel(w);
  assert_int_equal(r.frees, 1);
  ASSERT_PS_OK(powersync_db_watch_query_diff(db, "SELECT 1 AS x", NULL, 0, "id",
                                             &o, on_diff, &r, NULL, &w));
  assert_int_equal(wrec_wait_ge(&r, &r.errors, 1), 1);
  powersync_watch_cancel(w);
  ASSERT_PS_OK(powersync_db_close(db));
  wrec_destroy(&r);
}

static void watch_query_with_params_and_errors(void **state) {
  powersync_db *db = open_db("params", POWERSYNC_DISPATCH_THREAD);
  powersync_watch_options o = opts_throttle(0);
  const char *tables[] = {"todos"};
  powersync_value p[1];
  powersync_watch *w = NULL;
  struct wrec r, e;
  char text[16];
  (void)state;
  wrec_init(&r);
  wrec_init(&e);
  /* Parameters are copied: the buffer is changed after the call. */
  snprintf(text, sizeof text, "match");
  p[0] = powersync_text(text);
  ASSERT_PS_OK(powersync_db_watch_query(
      db, "SELECT count(*) FROM todos WHERE description = ?", p, 1, &o, on_rows,
      &r, NULL, &w));
  snprintf(text, sizeof text, "other");
  th_insert_todo(db, "match");
  assert_int_equal(wrec_wait_value(&r, 1), 1);
  powersync_watch_cancel(w);

  /* Invalid SQL fails the call; the callback never runs. */
  assert_true(powersync_db_watch_query(db, "SELECT FROM nowhere", NULL, 0, NULL,
                                       on_rows, &e, wrec_free_cb,
                                       &w) != POWERSYNC_OK);
  assert_null(w);
  /* Failing runs reach the callback; the watch keeps running. */
  o.tables = tables;
  o.table_count = 1;
  ASSERT_PS_OK(powersync_db_watch_query(db, "SELECT json_extract('{', '$')",
                                        NULL, 0, &o, on_rows, &e, wrec_free_cb,
                                        &w));
  assert_int_equal(wrec_wait_ge(&e, &e.errors, 1), 1);
  th_insert_todo(db, "again");
  assert_int_equal(wrec_wait_ge(&e, &e.errors, 2), 2);
  powersync_watch_cancel(w);
  assert_int_equal(e.frees, 1);
  ASSERT_PS_OK(powersync_db_close(db));
  wrec_destroy(&r);
  wrec_destroy(&e);
}

static void watch_cancel_drops_pending_throttled_run(void **state) {
  powersync_db *db = open_db("cancel", POWERSYNC_DISPATCH_THREAD);
  powersync_watch_options o = opts_throttle(60000);
  powersync_watch *w = NULL, *w2 = NULL;
  struct wrec r, r2;
  (void)state;
  wrec_init(&r);
  wrec_init(&r2);
  ASSERT_PS_OK(powersync_db_watch_query(db, COUNT_TODOS, NULL, 0, &o, on_rows,
                                        &r, wrec_free_cb, &w));
  ASSERT_PS_OK(powersync_db_watch_query(db, COUNT_TODOS, NULL, 0, &o, on_rows,
                                        &r2, wrec_free_cb, &w2));
  assert_int_equal(wrec_wait_ge(&r, &r.calls, 1), 1);
  assert_int_equal(wrec_wait_ge(&r2, &r2.calls, 1), 1);
  /* Each commit queues a run a minute away. */
  th_insert_todo(db, "pending");
  powersync_watch_cancel(w);
  assert_int_equal(r.frees, 1);
  dispatch_barrier(db);
  assert_int_equal(wrec_calls(&r), 1);
  /* Closing with w2's run still pending neither runs it nor hangs; the
   * watch handle stays valid until cancelled. */
  ASSERT_PS_OK(powersync_db_close(db));
  assert_int_equal(wrec_calls(&r2), 1);
  assert_int_equal(r2.frees, 0);
  powersync_watch_cancel(w2);
  assert_int_equal(r2.frees, 1);
  wrec_destroy(&r);
  wrec_destroy(&r2);
}

static void watch_cancel_from_own_callback(void **state) {
  powersync_db *db = open_db("selfcancel", POWERSYNC_DISPATCH_THREAD);
  powersync_watch_options o = opts_throttle(0);
  struct wrec r;
  (void)state;
  wrec_init(&r);
  r.cancel_at = 2;
  ASSERT_PS_OK(powersync_db_watch_query(db, COUNT_TODOS, NULL, 0, &o, on_rows,
                                        &r, wrec_free_cb, &r.self));
  assert_int_equal(wrec_wait_ge(&r, &r.calls, 1), 1);
  th_insert_todo(db, "cancels");
  assert_int_equal(wrec_wait_ge(&r, &r.frees, 1), 1);
  th_insert_todo(db, "ignored");
  dispatch_barrier(db);
  assert_int_equal(wrec_calls(&r), 2);
  assert_int_equal(r.frees, 1);
  ASSERT_PS_OK(powersync_db_close(db));
  wrec_destroy(&r);
}

static void watch_close_while_callback_runs(void **state) {
  powersync_db *db = open_db("closebusy", POWERSYNC_DISPATCH_THREAD);
  powersync_watch *w = NULL;
  struct wrec r;
  (void)state;
  wrec_init(&r);
  r.block_ms = 200;
  ASSERT_PS_OK(powersync_db_watch_query(db, COUNT_TODOS, NULL, 0, NULL, on_rows,
                                        &r, wrec_free_cb, &w));
  /* Wait until the callback is inside its sleep, then close. */
  pthread_mutex_lock(&r.mu);
  while (r.in_cb == 0 && r.calls == 0)
    pthread_cond_wait(&r.cv, &r.mu);
  pthread_mutex_unlock(&r.mu);
  ASSERT_PS_OK(powersync_db_close(db));
  /* Close waited for the callback. */
  assert_int_equal(wrec_calls(&r), 1);
  powersync_watch_cancel(w);
  assert_int_equal(r.frees, 1);
  wrec_destroy(&r);
}

/* The schema of open_db with todos changed by variant: 1 makes todos
 * local-only (its rows stay behind in ps_untyped, the view then reads the
 * empty ps_data_local__todos), 2 replaces the table todos with a table
 * items whose view is named todos (the view then reads ps_data__items). */
static void update_todos_schema(powersync_db *db, int variant) {
  powersync_schema *s = powersync_schema_new();
  powersync_table *t = NULL;
  assert_non_null(s);
  ASSERT_PS_OK(
      powersync_schema_add_table(s, variant == 2 ? "items" : "todos", &t));
  ASSERT_PS_OK(
      powersync_table_add_column(t, "description", POWERSYNC_COLUMN_TEXT));
  ASSERT_PS_OK(powersync_table_add_column(t, "done", POWERSYNC_COLUMN_INTEGER));
  if (variant == 1)
    ASSERT_PS_OK(powersync_table_set_flags(t, POWERSYNC_TABLE_LOCAL_ONLY));
  else
    ASSERT_PS_OK(powersync_table_set_view_name(t, "todos"));
  ASSERT_PS_OK(powersync_schema_add_table(s, "lists", &t));
  ASSERT_PS_OK(powersync_table_add_column(t, "name", POWERSYNC_COLUMN_TEXT));
  ASSERT_PS_OK(powersync_schema_add_table(s, "drafts", &t));
  ASSERT_PS_OK(powersync_table_add_column(t, "body", POWERSYNC_COLUMN_TEXT));
  ASSERT_PS_OK(powersync_table_set_flags(t, POWERSYNC_TABLE_LOCAL_ONLY));
  ASSERT_PS_OK(powersync_db_update_schema(db, s));
  powersync_schema_free(s);
}

/* A schema change is a relevant change of its own: the view may now read
 * another (here: empty) table, and no update hook reports that. */
static void watch_query_reruns_after_schema_change(void **state) {
  powersync_db *db = open_db("schemalocal", POWERSYNC_DISPATCH_THREAD);
  powersync_watch_options o = opts_throttle(0);
  powersync_watch *w = NULL, *d = NULL, *tw = NULL;
  struct wrec r, dr, tr;
  (void)state;
  wrec_init(&r);
  wrec_init(&dr);
  wrec_init(&tr);
  exec(db, "INSERT INTO todos(id, description) VALUES ('a', 'one'), "
           "('b', 'two')");
  ASSERT_PS_OK(powersync_db_watch_query(db, COUNT_TODOS, NULL, 0, &o, on_rows,
                                        &r, NULL, &w));
  ASSERT_PS_OK(powersync_db_watch_query_diff(
      db, "SELECT id, description FROM todos ORDER BY id", NULL, 0, "id", &o,
      on_diff, &dr, NULL, &d));
  assert_int_equal(wrec_wait_ge(&r, &r.calls, 1), 1);
  assert_int_equal(wrec_wait_ge(&dr, &dr.calls, 1), 1);
  assert_int_equal(r.value, 2);
  /* Watches of table names hear only of data changes. */
  o.emit_initial = 0;
  ASSERT_PS_OK(powersync_db_watch_tables(db, (const char *const[]){"todos"}, 1,
                                         &o, on_tables, &tr, NULL, &tw));

  update_todos_schema(db, 1);
  assert_int_equal(wrec_wait_value(&r, 0), 0);
  assert_int_equal(wrec_wait_ge(&dr, &dr.calls, 2), 2);
  dispatch_barrier(db);
  /* One run per schema change. */
  assert_int_equal(wrec_calls(&r), 2);
  assert_int_equal(wrec_calls(&dr), 2);
  assert_int_equal(wrec_calls(&tr), 0);
  assert_string_equal(dr.added, "");
  assert_string_equal(dr.removed, "a=one;b=two;");
  assert_string_equal(dr.changed, "");

  /* Applying the same schema again changes nothing: no run. */
  update_todos_schema(db, 1);
  dispatch_barrier(db);
  assert_int_equal(wrec_calls(&r), 2);
  assert_int_equal(wrec_calls(&dr), 2);

  /* Writes to the local-only table notify the same watches. */
  exec(db, "INSERT INTO todos(id, description) VALUES ('c', 'local')");
  assert_int_equal(wrec_wait_value(&r, 1), 1);
  assert_int_equal(wrec_wait_ge(&dr, &dr.calls, 3), 3);
  assert_string_equal(dr.added, "c=local;");
  assert_int_equal(wrec_wait_ge(&tr, &tr.calls, 1), 1);
  assert_string_equal(tr.tables, "todos");
  assert_int_equal(r.errors + dr.errors, 0);
  powersync_watch_cancel(w);
  powersync_watch_cancel(d);
  powersync_watch_cancel(tw);
  ASSERT_PS_OK(powersync_db_close(db));
  wrec_destroy(&r);
  wrec_destroy(&dr);
  wrec_destroy(&tr);
}

/* After the schema change the view todos reads ps_data__items: the watch
 * must find its tables again, or it never hears of writes to todos. The
 * readers have the old view compiled in their schema cache, and EXPLAIN
 * alone never checks it is current. */
static void watch_query_re_resolves_tables_after_schema_change(void **state) {
  powersync_db *db = open_db("schemaview", POWERSYNC_DISPATCH_THREAD);
  powersync_watch_options o = opts_throttle(0);
  powersync_watch *w = NULL, *quiet = NULL;
  struct wrec r, q;
  int i;
  (void)state;
  wrec_init(&r);
  wrec_init(&q);
  th_insert_todo(db, "old");
  ASSERT_PS_OK(powersync_db_watch_query(db, COUNT_TODOS, NULL, 0, &o, on_rows,
                                        &r, NULL, &w));
  /* Without an initial emission: the schema change still causes a run. */
  o.emit_initial = 0;
  ASSERT_PS_OK(powersync_db_watch_query(db, COUNT_TODOS, NULL, 0, &o, on_rows,
                                        &q, NULL, &quiet));
  assert_int_equal(wrec_wait_ge(&r, &r.calls, 1), 1);
  assert_int_equal(r.value, 1);
  /* Load the schema into every reader. */
  for (i = 0; i < 12; i++)
    assert_int_equal(th_query_int(db, COUNT_TODOS), 1);

  update_todos_schema(db, 2);
  assert_int_equal(wrec_wait_value(&r, 0), 0);
  assert_int_equal(wrec_wait_value(&q, 0), 0);
  dispatch_barrier(db);
  assert_int_equal(wrec_calls(&r), 2);
  assert_int_equal(wrec_calls(&q), 1);

  /* todos now writes ps_data__items, which the watches follow... */
  th_insert_todo(db, "new");
  assert_int_equal(wrec_wait_value(&r, 1), 1);
  assert_int_equal(wrec_wait_value(&q, 1), 1);
  /* ...and still ignore the tables they do not read. */
  assert_int_equal(wrec_wait_ge(&r, &r.calls, 3), 3);
  exec(db, "INSERT INTO lists(id, name) VALUES (uuid(), 'l')");
  dispatch_barrier(db);
  assert_int_equal(wrec_calls(&r), 3);
  assert_int_equal(wrec_calls(&q), 2);
  assert_int_equal(r.errors + q.errors, 0);
  powersync_watch_cancel(w);
  powersync_watch_cancel(quiet);
  ASSERT_PS_OK(powersync_db_close(db));
  wrec_destroy(&r);
  wrec_destroy(&q);
}

/* Clearing deletes rows with update hooks firing: watches of synced tables
 * hear of it, watches of local-only tables only with POWERSYNC_CLEAR_LOCAL. */
static void watch_notified_by_clear(void **state) {
  powersync_db *db = open_db("clear", POWERSYNC_DISPATCH_THREAD);
  powersync_watch_options o = opts_throttle(0);
  powersync_watch *w = NULL, *lw = NULL;
  struct wrec r, lr;
  (void)state;
  wrec_init(&r);
  wrec_init(&lr);
  th_insert_todo(db, "synced");
  exec(db, "INSERT INTO drafts(id, body) VALUES ('d', 'local')");
  ASSERT_PS_OK(powersync_db_watch_query(db, COUNT_TODOS, NULL, 0, &o, on_rows,
                                        &r, NULL, &w));
  ASSERT_PS_OK(powersync_db_watch_query(db, "SELECT count(*) FROM drafts", NULL,
                                        0, &o, on_rows, &lr, NULL, &lw));
  assert_int_equal(wrec_wait_value(&r, 1), 1);
  assert_int_equal(wrec_wait_value(&lr, 1), 1);
  ASSERT_PS_OK(powersync_db_clear(db, POWERSYNC_CLEAR_SOFT));
  assert_int_equal(wrec_wait_value(&r, 0), 0);
  dispatch_barrier(db);
  assert_int_equal(wrec_calls(&lr), 1);
  ASSERT_PS_OK(powersync_db_clear(db, POWERSYNC_CLEAR_LOCAL));
  assert_int_equal(wrec_wait_value(&lr, 0), 0);
  assert_int_equal(r.errors + lr.errors, 0);
  powersync_watch_cancel(w);
  powersync_watch_cancel(lw);
  ASSERT_PS_OK(powersync_db_close(db));
  wrec_destroy(&r);
  wrec_destroy(&lr);
}

static int poll_fd(int fd, int timeout_ms) {
  struct pollfd p;
  p.fd = fd;
  p.events = POLLIN;
  p.revents = 0;
  return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

/* Polls the dispatch fd and dispatches until r has want calls. */
static void app_loop_until(powersync_db *db, struct wrec *r, int want) {
  int64_t deadline = ps__now_ms() + WAIT_MS;
  int fd = powersync_db_dispatch_fd(db);
  while (wrec_calls(r) < want && ps__now_ms() < deadline) {
    if (poll_fd(fd, 1000))
      assert_true(powersync_db_dispatch(db, 0) >= 0);
  }
  assert_int_equal(wrec_calls(r), want);
}

static void watch_app_mode_delivers_on_app_thread(void **state) {
  powersync_db *db = open_db("appmode", POWERSYNC_DISPATCH_APP);
  powersync_watch *w = NULL;
  struct wrec r;
  (void)state;
  wrec_init(&r);
  assert_true(powersync_db_dispatch_fd(db) >= 0);
  ASSERT_PS_OK(powersync_db_watch_query(db, COUNT_TODOS, NULL, 0, NULL, on_rows,
                                        &r, NULL, &w));
  app_loop_until(db, &r, 1);
  assert_true(pthread_equal(r.thread, pthread_self()));
  assert_int_equal(r.value, 0);
  /* The re-run is throttled (a delayed job): the fd still wakes us. */
  th_insert_todo(db, "a");
  app_loop_until(db, &r, 2);
  assert_int_equal(r.value, 1);
  powersync_watch_cancel(w);
  /* THREAD mode has no fd and refuses dispatch. */
  ASSERT_PS_OK(powersync_db_close(db));
  db = open_db("appmode2", POWERSYNC_DISPATCH_THREAD);
  assert_int_equal(powersync_db_dispatch_fd(db), -1);
  assert_int_equal(powersync_db_dispatch(db, 0), POWERSYNC_EINVAL);
  ASSERT_PS_OK(powersync_db_close(db));
  wrec_destroy(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(watch_query_emits_initial_then_after_commit),
      cmocka_unit_test(watch_query_burst_coalesces_and_ends_on_final_state),
      cmocka_unit_test(watch_rolled_back_writes_never_notify),
      cmocka_unit_test(watch_tables_reports_view_names),
      cmocka_unit_test(watch_query_ignores_tables_it_does_not_read),
      cmocka_unit_test(watch_throttle_spaces_runs),
      cmocka_unit_test(watch_diff_reports_added_removed_changed),
      cmocka_unit_test(watch_query_with_params_and_errors),
      cmocka_unit_test(watch_cancel_drops_pending_throttled_run),
      cmocka_unit_test(watch_cancel_from_own_callback),
      cmocka_unit_test(watch_close_while_callback_runs),
      cmocka_unit_test(watch_app_mode_delivers_on_app_thread),
      cmocka_unit_test(watch_query_reruns_after_schema_change),
      cmocka_unit_test(watch_query_re_resolves_tables_after_schema_change),
      cmocka_unit_test(watch_notified_by_clear),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
