/*
 * test_db_pool.c: the connection pool under concurrency: readers proceed
 * while the writer holds a transaction, many threads mixing reads, writes
 * and transactions finish without deadlock, timed lease acquisition, and
 * close waking waiters and waiting for leases. Run under ThreadSanitizer in
 * CI (make tsan).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "db_test_helpers.h"
#include "sdk/sdk_internal.h"

#define READERS 5

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* --- Readers during a write transaction --------------------------------------
 */

struct reader_arg {
  powersync_db *db;
  int rc;
  int64_t count;
};

static void *count_todos(void *p) {
  struct reader_arg *a = p;
  powersync_rows *rows = NULL;
  powersync_lease *lease = NULL;
  /* A bounded wait: a reader blocked by the writer fails instead of hanging
   * the test. */
  a->rc = powersync_db_lease_read(a->db, 5000, &lease);
  if (a->rc != POWERSYNC_OK)
    return NULL;
  powersync_lease_release(lease);
  a->rc =
      powersync_db_query(a->db, "SELECT count(*) FROM todos", NULL, 0, &rows);
  if (a->rc == POWERSYNC_OK)
    a->count = powersync_rows_value(rows, 0, 0)->as.integer;
  powersync_rows_free(rows);
  return NULL;
}

static void readers_proceed_while_writer_holds_transaction(void **state) {
  powersync_db *db = th_open_db(th_db_path("pool_readers"), NULL);
  powersync_lease *w = NULL;
  pthread_t threads[READERS * 2];
  struct reader_arg args[READERS * 2];
  int i;
  (void)state;

  th_insert_todo(db, "committed");
  ASSERT_PS_OK(powersync_db_lease_write(db, -1, &w));
  assert_int_equal(sqlite3_exec(powersync_lease_sqlite(w),
                                "BEGIN IMMEDIATE; INSERT INTO todos(id) "
                                "VALUES ('uncommitted')",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  for (i = 0; i < READERS * 2; i++) {
    args[i].db = db;
    args[i].rc = -1;
    args[i].count = -1;
    assert_int_equal(pthread_create(&threads[i], NULL, count_todos, &args[i]),
                     0);
  }
  for (i = 0; i < READERS * 2; i++) {
    pthread_join(threads[i], NULL);
    ASSERT_PS_OK(args[i].rc);
    assert_int_equal(args[i].count, 1); /* The snapshot before BEGIN. */
  }
  assert_int_equal(
      sqlite3_exec(powersync_lease_sqlite(w), "COMMIT", NULL, NULL, NULL),
      SQLITE_OK);
  powersync_lease_release(w);
  assert_int_equal(th_query_int(db, "SELECT count(*) FROM todos"), 2);
  ASSERT_PS_OK(powersync_db_close(db));
}

/* --- Many threads ------------------------------------------------------------
 */

#define MIX_THREADS 16
#define MIX_ROUNDS  60

struct mix_arg {
  powersync_db *db;
  int index;
  int inserted;
  int failures;
  atomic_int *notified;
};

static int tx_insert(sqlite3 *conn, void *user_data) {
  (void)user_data;
  return sqlite3_exec(conn, "INSERT INTO todos(id, done) VALUES (uuid(), 1)",
                      NULL, NULL, NULL);
}

static int tx_read(sqlite3 *conn, void *user_data) {
  (void)user_data;
  return sqlite3_exec(conn, "SELECT count(*) FROM todos", NULL, NULL, NULL);
}

static void *mix(void *p) {
  struct mix_arg *a = p;
  int round;
  for (round = 0; round < MIX_ROUNDS; round++) {
    powersync_lease *lease = NULL;
    powersync_rows *rows = NULL;
    int rc = POWERSYNC_OK;
    switch ((round + a->index) % 5) {
    case 0:
      rc = powersync_db_execute(
          a->db, "INSERT INTO todos(id, done) VALUES (uuid(), 0)", NULL, 0,
          NULL);
      a->inserted += rc == POWERSYNC_OK;
      break;
    case 1:
      rc = powersync_db_write_transaction(a->db, tx_insert, NULL);
      a->inserted += rc == POWERSYNC_OK;
      break;
    case 2:
      rc = powersync_db_query(a->db, "SELECT * FROM todos", NULL, 0, &rows);
      powersync_rows_free(rows);
      break;
    case 3:
      rc = powersync_db_read_transaction(a->db, tx_read, NULL);
      break;
    default:
      /* Short timed waits may fail; they must never hang. */
      if (powersync_db_lease_read(a->db, 1, &lease) == POWERSYNC_OK)
        powersync_lease_release(lease);
      break;
    }
    if (rc != POWERSYNC_OK) {
      fprintf(stderr, "thread %d round %d: %d %s\n", a->index, round, rc,
              powersync_error_last()->message);
      a->failures++;
    }
  }
  return NULL;
}

static void count_notifications(const char *const *tables, size_t count,
                                void *user_data) {
  (void)tables;
  (void)count;
  atomic_fetch_add((atomic_int *)user_data, 1);
}

static void many_threads_do_not_deadlock(void **state) {
  powersync_db *db = th_open_db(th_db_path("pool_mix"), NULL);
  pthread_t threads[MIX_THREADS];
  struct mix_arg args[MIX_THREADS];
  atomic_int notified = 0;
  uint64_t id;
  int i, inserted = 0;
  (void)state;

  ASSERT_PS_OK(ps__db_add_change_listener(db, count_notifications, NULL,
                                          &notified, &id));
  for (i = 0; i < MIX_THREADS; i++) {
    memset(&args[i], 0, sizeof(args[i]));
    args[i].db = db;
    args[i].index = i;
    assert_int_equal(pthread_create(&threads[i], NULL, mix, &args[i]), 0);
  }
  for (i = 0; i < MIX_THREADS; i++) {
    pthread_join(threads[i], NULL);
    assert_int_equal(args[i].failures, 0);
    inserted += args[i].inserted;
  }
  assert_int_equal(th_query_int(db, "SELECT count(*) FROM todos"), inserted);
  assert_int_equal(th_query_int(db, "SELECT count(*) FROM ps_crud"), inserted);
  /* One notification per committed write. */
  assert_int_equal(atomic_load(&notified), inserted);
  ps__db_remove_change_listener(db, id);
  ASSERT_PS_OK(powersync_db_close(db));
}

/* --- Timed acquisition
 * --------------------------------------------------------- */

static void timed_lease_times_out(void **state) {
  powersync_db *db = th_open_db(th_db_path("pool_timeout"), NULL);
  powersync_lease *held[READERS];
  powersync_lease *extra = NULL;
  int64_t start;
  int i;
  (void)state;

  for (i = 0; i < READERS; i++)
    ASSERT_PS_OK(powersync_db_lease_read(db, 0, &held[i]));
  start = ps__now_ms();
  assert_int_equal(powersync_db_lease_read(db, 50, &extra), POWERSYNC_ETIMEOUT);
  assert_true(ps__now_ms() - start >= 50);
  assert_int_equal(powersync_db_lease_read(db, 0, &extra), POWERSYNC_ETIMEOUT);
  assert_null(extra);
  /* The writer is independent of the readers. */
  ASSERT_PS_OK(powersync_db_lease_write(db, 0, &extra));
  powersync_lease_release(extra);
  powersync_lease_release(held[0]);
  ASSERT_PS_OK(powersync_db_lease_read(db, 0, &extra));
  powersync_lease_release(extra);
  for (i = 1; i < READERS; i++)
    powersync_lease_release(held[i]);
  ASSERT_PS_OK(powersync_db_close(db));
}

/* --- Close
 * ---------------------------------------------------------------------- */

struct close_arg {
  powersync_db *db;
  int rc;
  atomic_int done;
};

static void *wait_for_writer(void *p) {
  struct close_arg *a = p;
  powersync_lease *lease = NULL;
  a->rc = powersync_db_lease_write(a->db, -1, &lease);
  if (lease)
    powersync_lease_release(lease);
  atomic_store(&a->done, 1);
  return NULL;
}

static void *close_db(void *p) {
  struct close_arg *a = p;
  a->rc = powersync_db_close(a->db);
  atomic_store(&a->done, 1);
  return NULL;
}

static void close_wakes_waiters_and_waits_for_leases(void **state) {
  powersync_db *db = th_open_db(th_db_path("pool_close"), NULL);
  powersync_lease *held = NULL;
  struct close_arg waiter = {db, -100, 0}, closer = {db, -100, 0};
  pthread_t tw, tc;
  (void)state;

  ASSERT_PS_OK(powersync_db_lease_write(db, -1, &held));
  assert_int_equal(pthread_create(&tw, NULL, wait_for_writer, &waiter), 0);
  sleep_ms(20);
  assert_int_equal(atomic_load(&waiter.done), 0);
  assert_int_equal(pthread_create(&tc, NULL, close_db, &closer), 0);
  /* Closing wakes the waiter with ECLOSED ... */
  pthread_join(tw, NULL);
  assert_int_equal(waiter.rc, POWERSYNC_ECLOSED);
  /* ... but waits for the lease still held here. */
  sleep_ms(30);
  assert_int_equal(atomic_load(&closer.done), 0);
  /* The held lease still works while close waits. */
  assert_int_equal(sqlite3_exec(powersync_lease_sqlite(held),
                                "INSERT INTO todos(id) VALUES ('late')", NULL,
                                NULL, NULL),
                   SQLITE_OK);
  /* New leases are refused. */
  {
    powersync_lease *other = NULL;
    assert_int_equal(powersync_db_lease_read(db, -1, &other),
                     POWERSYNC_ECLOSED);
  }
  powersync_lease_release(held);
  pthread_join(tc, NULL);
  ASSERT_PS_OK(closer.rc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(readers_proceed_while_writer_holds_transaction),
      cmocka_unit_test(many_threads_do_not_deadlock),
      cmocka_unit_test(timed_lease_times_out),
      cmocka_unit_test(close_wakes_waiters_and_waits_for_leases),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
