/*
 * test_crud.c: the upload queue API (include/powersync/crud.h): batches,
 * whole transactions, the iterator, the entries and their JSON form,
 * exactly-once and in-order completion (including batches read concurrently
 * by several threads), custom write checkpoints (sdk.md 11.3), clearing and
 * queue statistics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <time.h>

#include "db_test_helpers.h"

#define MAX_OP_ID INT64_MAX

static powersync_db *open_file_db(const char *name) {
  return th_open_db(th_db_path(name), NULL);
}

static void exec(powersync_db *db, const char *sql) {
  ASSERT_PS_OK(powersync_db_execute(db, sql, NULL, 0, NULL));
}

/* Runs sql statements (NULL-terminated) in one write transaction. */
struct sql_list {
  const char *const *sql;
};

static int run_list(sqlite3 *conn, void *user_data) {
  const struct sql_list *l = user_data;
  size_t i;
  for (i = 0; l->sql[i]; i++)
    if (sqlite3_exec(conn, l->sql[i], NULL, NULL, NULL) != SQLITE_OK)
      return 1;
  return 0;
}

static void in_transaction(powersync_db *db, const char *const *sql) {
  struct sql_list l;
  l.sql = sql;
  ASSERT_PS_OK(powersync_db_write_transaction(db, run_list, &l));
}

/* The local write target, or -1 when absent. */
static int64_t target(powersync_db *db) {
  powersync_rows *rows = NULL;
  const powersync_value *v;
  int64_t result = -1;
  ASSERT_PS_OK(powersync_db_query(
      db, "SELECT value FROM ps_kv WHERE key = 'target_checkpoint_request_id'",
      NULL, 0, &rows));
  if (powersync_rows_count(rows) == 1) {
    v = powersync_rows_value(rows, 0, 0);
    assert_int_equal(v->type, POWERSYNC_VALUE_INTEGER);
    result = v->as.integer;
  }
  powersync_rows_free(rows);
  return result;
}

static int64_t queue_count(powersync_db *db) {
  return th_query_int(db, "SELECT count(*) FROM ps_crud");
}

/* Inserts n todos, each in its own (autocommit) transaction. */
static void insert_n(powersync_db *db, int n) {
  char desc[32];
  int i;
  for (i = 0; i < n; i++) {
    snprintf(desc, sizeof(desc), "d%d", i);
    th_insert_todo(db, desc);
  }
}

/* Three transactions: two inserts, one insert, three inserts. */
static void insert_three_transactions(powersync_db *db) {
  static const char *const tx1[] = {
      "INSERT INTO todos(id, description) VALUES ('a1', 'x')",
      "INSERT INTO todos(id, description) VALUES ('a2', 'x')", NULL};
  static const char *const tx2[] = {
      "INSERT INTO todos(id, description) VALUES ('b1', 'x')", NULL};
  static const char *const tx3[] = {
      "INSERT INTO todos(id, description) VALUES ('c1', 'x')",
      "INSERT INTO todos(id, description) VALUES ('c2', 'x')",
      "INSERT INTO todos(id, description) VALUES ('c3', 'x')", NULL};
  in_transaction(db, tx1);
  in_transaction(db, tx2);
  in_transaction(db, tx3);
}

static const char *entry_id(const powersync_crud_batch *b, size_t i) {
  const powersync_crud_entry *e = powersync_crud_batch_entry(b, i);
  assert_non_null(e);
  return e->id;
}

/* ---- Entries
 * ----------------------------------------------------------------- */

static void entries_have_every_field(void **state) {
  powersync_schema *s = powersync_schema_new();
  powersync_table *t = NULL;
  powersync_db *db = NULL;
  powersync_crud_batch *b = NULL;
  const powersync_crud_entry *e;
  (void)state;
  ASSERT_PS_OK(powersync_schema_add_table(s, "items", &t));
  ASSERT_PS_OK(powersync_table_add_column(t, "name", POWERSYNC_COLUMN_TEXT));
  ASSERT_PS_OK(powersync_table_add_column(t, "n", POWERSYNC_COLUMN_INTEGER));
  ASSERT_PS_OK(powersync_table_set_view_name(t, "items_view"));
  ASSERT_PS_OK(powersync_table_set_flags(t, POWERSYNC_TABLE_INCLUDE_METADATA));
  ASSERT_PS_OK(powersync_table_set_include_old(t, NULL, 0));
  ASSERT_PS_OK(powersync_db_open(&db, th_db_path("entries"), s, NULL));
  powersync_schema_free(s);

  exec(db, "INSERT INTO items_view(id, name, n, _metadata) VALUES "
           "('i1', 'a \"q\"', 5, 'meta')");
  exec(db, "UPDATE items_view SET n = 6 WHERE id = 'i1'");
  exec(db, "DELETE FROM items_view WHERE id = 'i1'");
  /* A legacy row without tx_id. */
  exec(db, "INSERT INTO ps_crud(data) VALUES "
           "('{\"op\":\"PUT\",\"id\":\"L\",\"type\":\"items\",\"data\":{}}')");

  ASSERT_PS_OK(powersync_db_crud_batch(db, 10, &b));
  assert_non_null(b);
  assert_int_equal(powersync_crud_batch_count(b), 4);
  assert_false(powersync_crud_batch_has_more(b));
  assert_null(powersync_crud_batch_entry(b, 4));

  e = powersync_crud_batch_entry(b, 0);
  assert_int_equal(e->op, POWERSYNC_CRUD_PUT);
  assert_string_equal(e->table, "items");
  assert_string_equal(e->id, "i1");
  assert_string_equal(e->data, "{\"n\":5,\"name\":\"a \\\"q\\\"\"}");
  assert_null(e->previous_values);
  assert_string_equal(e->metadata, "meta");
  assert_true(e->client_id > 0);
  assert_true(e->transaction_id > 0);
  {
    char expected[256];
    snprintf(expected, sizeof(expected),
             "{\"op_id\":%lld,\"op\":\"PUT\",\"type\":\"items\",\"id\":\"i1\","
             "\"tx_id\":%lld,\"data\":{\"n\":5,\"name\":\"a \\\"q\\\"\"},"
             "\"metadata\":\"meta\"}",
             (long long)e->client_id, (long long)e->transaction_id);
    assert_string_equal(e->json, expected);
  }

  assert_string_equal(powersync_crud_op_name(e->op), "PUT");

  e = powersync_crud_batch_entry(b, 1);
  assert_int_equal(e->op, POWERSYNC_CRUD_PATCH);
  assert_string_equal(e->data, "{\"n\":6}");
  assert_string_equal(powersync_crud_op_name(e->op), "PATCH");
  assert_non_null(strstr(e->json, "\"op\":\"PATCH\""));
  assert_string_equal(e->previous_values, "{\"name\":\"a \\\"q\\\"\",\"n\":5}");
  assert_null(e->metadata);
  assert_non_null(strstr(e->json, "\"old\":{\"name\":"));

  e = powersync_crud_batch_entry(b, 2);
  assert_int_equal(e->op, POWERSYNC_CRUD_DELETE);
  assert_null(e->data);
  assert_string_equal(powersync_crud_op_name(e->op), "DELETE");
  assert_string_equal(powersync_crud_op_name((powersync_crud_op)0), "");
  assert_non_null(e->previous_values);
  assert_null(strstr(e->json, "\"data\""));

  e = powersync_crud_batch_entry(b, 3);
  assert_string_equal(e->id, "L");
  assert_int_equal(e->transaction_id, 0);
  assert_string_equal(e->data, "{}");
  assert_non_null(strstr(e->json, "\"tx_id\":null"));
  /* Entries are in queue order. */
  assert_true(powersync_crud_batch_entry(b, 0)->client_id <
              powersync_crud_batch_entry(b, 1)->client_id);
  powersync_crud_batch_free(b);
  ASSERT_PS_OK(powersync_db_close(db));
}

/* Insert-only tables write their entries through the core's manual vtab. */
static void insert_only_entries(void **state) {
  powersync_schema *s = powersync_schema_new();
  powersync_table *t = NULL;
  powersync_db *db = NULL;
  powersync_crud_batch *b = NULL;
  const powersync_crud_entry *e;
  (void)state;
  ASSERT_PS_OK(powersync_schema_add_table(s, "log", &t));
  ASSERT_PS_OK(powersync_table_add_column(t, "msg", POWERSYNC_COLUMN_TEXT));
  ASSERT_PS_OK(powersync_table_set_flags(t, POWERSYNC_TABLE_INSERT_ONLY));
  ASSERT_PS_OK(powersync_db_open(&db, ":memory:", s, NULL));
  powersync_schema_free(s);
  exec(db, "INSERT INTO log(id, msg) VALUES ('l1', 'hello')");
  ASSERT_PS_OK(powersync_db_crud_next_transaction(db, &b));
  assert_non_null(b);
  e = powersync_crud_batch_entry(b, 0);
  assert_int_equal(e->op, POWERSYNC_CRUD_PUT);
  assert_string_equal(e->table, "log");
  assert_string_equal(e->id, "l1");
  assert_string_equal(e->data, "{\"msg\":\"hello\"}");
  ASSERT_PS_OK(powersync_crud_batch_complete(b, NULL));
  powersync_crud_batch_free(b);
  ASSERT_PS_OK(powersync_db_close(db));
}

static void malformed_row_is_an_error(void **state) {
  powersync_db *db = th_open_db(":memory:", NULL);
  powersync_crud_batch *b = (powersync_crud_batch *)1;
  (void)state;
  exec(db, "INSERT INTO ps_crud(tx_id, data) VALUES (1, 'not json')");
  assert_int_equal(powersync_db_crud_batch(db, 5, &b), POWERSYNC_ERROR);
  assert_null(b);
  assert_non_null(strstr(powersync_error_last()->message, "not a JSON object"));
  exec(db, "DELETE FROM ps_crud");
  exec(db, "INSERT INTO ps_crud(tx_id, data) VALUES (1, '{\"op\":\"MOVE\","
           "\"id\":\"x\",\"type\":\"t\"}')");
  assert_int_equal(powersync_db_crud_batch(db, 5, &b), POWERSYNC_ERROR);
  assert_non_null(strstr(powersync_error_last()->message, "valid op"));
  ASSERT_PS_OK(powersync_db_close(db));
}

/* ---- Reading
 * ------------------------------------------------------------------ */

static void empty_queue_gives_null(void **state) {
  powersync_db *db = th_open_db(":memory:", NULL);
  powersync_crud_batch *b = (powersync_crud_batch *)1;
  powersync_crud_iter *it = NULL;
  (void)state;
  ASSERT_PS_OK(powersync_db_crud_batch(db, 100, &b));
  assert_null(b);
  b = (powersync_crud_batch *)1;
  ASSERT_PS_OK(powersync_db_crud_next_transaction(db, &b));
  assert_null(b);
  b = (powersync_crud_batch *)1;
  ASSERT_PS_OK(powersync_db_crud_transactions(db, 10, &b));
  assert_null(b);
  ASSERT_PS_OK(powersync_db_crud_iter(db, &it));
  b = (powersync_crud_batch *)1;
  ASSERT_PS_OK(powersync_crud_iter_next(it, &b));
  assert_null(b);
  powersync_crud_iter_free(it);
  powersync_crud_iter_free(NULL);
  powersync_crud_batch_free(NULL);
  assert_int_equal(powersync_crud_batch_count(NULL), 0);
  ASSERT_PS_OK(powersync_db_close(db));
}

static void batch_limits_and_has_more(void **state) {
  powersync_db *db = open_file_db("batch");
  powersync_crud_batch *b = NULL;
  (void)state;
  insert_n(db, 5);
  ASSERT_PS_OK(powersync_db_crud_batch(db, 2, &b));
  assert_int_equal(powersync_crud_batch_count(b), 2);
  assert_true(powersync_crud_batch_has_more(b));
  ASSERT_PS_OK(powersync_crud_batch_complete(b, NULL));
  powersync_crud_batch_free(b);
  ASSERT_PS_OK(powersync_db_crud_batch(db, 3, &b));
  assert_int_equal(powersync_crud_batch_count(b), 3);
  assert_false(powersync_crud_batch_has_more(b));
  powersync_crud_batch_free(b);
  ASSERT_PS_OK(powersync_db_crud_batch(db, 100, &b));
  assert_int_equal(powersync_crud_batch_count(b), 3);
  assert_false(powersync_crud_batch_has_more(b));
  powersync_crud_batch_free(b);
  b = (powersync_crud_batch *)1;
  assert_int_equal(powersync_db_crud_batch(db, 0, &b), POWERSYNC_EINVAL);
  assert_null(b);
  assert_int_equal(powersync_db_crud_batch(NULL, 1, &b), POWERSYNC_EINVAL);
  ASSERT_PS_OK(powersync_db_close(db));
}

static void next_transaction_is_whole(void **state) {
  powersync_db *db = open_file_db("next_tx");
  powersync_crud_batch *b = NULL;
  (void)state;
  insert_three_transactions(db);
  ASSERT_PS_OK(powersync_db_crud_next_transaction(db, &b));
  assert_int_equal(powersync_crud_batch_count(b), 2);
  assert_string_equal(entry_id(b, 0), "a1");
  assert_string_equal(entry_id(b, 1), "a2");
  assert_int_equal(powersync_crud_batch_entry(b, 0)->transaction_id,
                   powersync_crud_batch_entry(b, 1)->transaction_id);
  assert_true(powersync_crud_batch_has_more(b));
  ASSERT_PS_OK(powersync_crud_batch_complete(b, NULL));
  powersync_crud_batch_free(b);

  ASSERT_PS_OK(powersync_db_crud_next_transaction(db, &b));
  assert_int_equal(powersync_crud_batch_count(b), 1);
  assert_string_equal(entry_id(b, 0), "b1");
  ASSERT_PS_OK(powersync_crud_batch_complete(b, NULL));
  powersync_crud_batch_free(b);

  ASSERT_PS_OK(powersync_db_crud_next_transaction(db, &b));
  assert_int_equal(powersync_crud_batch_count(b), 3);
  assert_string_equal(entry_id(b, 2), "c3");
  assert_false(powersync_crud_batch_has_more(b));
  ASSERT_PS_OK(powersync_crud_batch_complete(b, NULL));
  powersync_crud_batch_free(b);
  assert_int_equal(queue_count(db), 0);
  ASSERT_PS_OK(powersync_db_close(db));
}

/* A batch may split a transaction; the rest is then the next transaction. */
static void split_transaction_continues(void **state) {
  powersync_db *db = open_file_db("split");
  powersync_crud_batch *b = NULL;
  (void)state;
  insert_three_transactions(db);
  ASSERT_PS_OK(powersync_db_crud_batch(db, 1, &b));
  assert_string_equal(entry_id(b, 0), "a1");
  ASSERT_PS_OK(powersync_crud_batch_complete(b, NULL));
  powersync_crud_batch_free(b);
  ASSERT_PS_OK(powersync_db_crud_next_transaction(db, &b));
  assert_int_equal(powersync_crud_batch_count(b), 1);
  assert_string_equal(entry_id(b, 0), "a2");
  powersync_crud_batch_free(b);
  ASSERT_PS_OK(powersync_db_close(db));
}

static void several_transactions_up_to_size(void **state) {
  powersync_db *db = open_file_db("several");
  powersync_crud_batch *b = NULL;
  (void)state;
  insert_three_transactions(db); /* sizes 2, 1, 3 */
  ASSERT_PS_OK(powersync_db_crud_transactions(db, 3, &b));
  assert_int_equal(powersync_crud_batch_count(b), 3);
  assert_string_equal(entry_id(b, 2), "b1");
  assert_true(powersync_crud_batch_has_more(b));
  powersync_crud_batch_free(b);

  ASSERT_PS_OK(powersync_db_crud_transactions(db, 5, &b));
  assert_int_equal(powersync_crud_batch_count(b), 3);
  assert_true(powersync_crud_batch_has_more(b));
  powersync_crud_batch_free(b);

  ASSERT_PS_OK(powersync_db_crud_transactions(db, 6, &b));
  assert_int_equal(powersync_crud_batch_count(b), 6);
  assert_false(powersync_crud_batch_has_more(b));
  powersync_crud_batch_free(b);

  /* The first transaction always comes whole, even when larger. */
  ASSERT_PS_OK(powersync_db_crud_transactions(db, 1, &b));
  assert_int_equal(powersync_crud_batch_count(b), 2);
  assert_true(powersync_crud_batch_has_more(b));
  ASSERT_PS_OK(powersync_crud_batch_complete(b, NULL));
  powersync_crud_batch_free(b);
  ASSERT_PS_OK(powersync_db_crud_transactions(db, 100, &b));
  assert_int_equal(powersync_crud_batch_count(b), 4);
  ASSERT_PS_OK(powersync_crud_batch_complete(b, NULL));
  powersync_crud_batch_free(b);
  assert_int_equal(queue_count(db), 0);
  assert_int_equal(powersync_db_crud_transactions(db, 0, &b), POWERSYNC_EINVAL);
  ASSERT_PS_OK(powersync_db_close(db));
}

static void iterator_walks_transactions(void **state) {
  powersync_db *db = open_file_db("iter");
  powersync_crud_iter *it = NULL;
  powersync_crud_batch *t1 = NULL;
  powersync_crud_batch *t2 = NULL;
  powersync_crud_batch *t3 = NULL;
  powersync_crud_batch *end = (powersync_crud_batch *)1;
  (void)state;
  insert_three_transactions(db);
  ASSERT_PS_OK(powersync_db_crud_iter(db, &it));
  ASSERT_PS_OK(powersync_crud_iter_next(it, &t1));
  ASSERT_PS_OK(powersync_crud_iter_next(it, &t2));
  ASSERT_PS_OK(powersync_crud_iter_next(it, &t3));
  ASSERT_PS_OK(powersync_crud_iter_next(it, &end));
  assert_null(end);
  assert_int_equal(powersync_crud_batch_count(t1), 2);
  assert_int_equal(powersync_crud_batch_count(t2), 1);
  assert_int_equal(powersync_crud_batch_count(t3), 3);
  assert_true(powersync_crud_batch_has_more(t1));
  assert_false(powersync_crud_batch_has_more(t3));
  /* Nothing was completed by iterating. */
  assert_int_equal(queue_count(db), 6);
  /* Out of order: the second transaction is not at the head. */
  assert_int_equal(powersync_crud_batch_complete(t2, NULL),
                   POWERSYNC_ECONFLICT);
  assert_non_null(strstr(powersync_error_last()->message, "head"));
  assert_int_equal(queue_count(db), 6);
  ASSERT_PS_OK(powersync_crud_batch_complete(t1, NULL));
  ASSERT_PS_OK(powersync_crud_batch_complete(t2, NULL));
  ASSERT_PS_OK(powersync_crud_batch_complete(t3, NULL));
  assert_int_equal(queue_count(db), 0);
  powersync_crud_batch_free(t1);
  powersync_crud_batch_free(t2);
  powersync_crud_batch_free(t3);
  powersync_crud_iter_free(it);
  ASSERT_PS_OK(powersync_db_close(db));
}

/* ---- Completion
 * ------------------------------------------------------------------ */

static void completion_is_exactly_once(void **state) {
  powersync_db *db = open_file_db("once");
  powersync_crud_batch *first = NULL;
  powersync_crud_batch *same = NULL;
  powersync_crud_batch *smaller = NULL;
  (void)state;
  insert_n(db, 4);
  ASSERT_PS_OK(powersync_db_crud_batch(db, 3, &first));
  ASSERT_PS_OK(powersync_db_crud_batch(db, 3, &same));
  ASSERT_PS_OK(powersync_db_crud_batch(db, 1, &smaller));
  ASSERT_PS_OK(powersync_crud_batch_complete(first, NULL));
  assert_int_equal(queue_count(db), 1);
  /* Again, and a second copy of the same entries: nothing changes. */
  assert_int_equal(powersync_crud_batch_complete(first, NULL),
                   POWERSYNC_ECONFLICT);
  assert_int_equal(powersync_crud_batch_complete(same, NULL),
                   POWERSYNC_ECONFLICT);
  assert_non_null(strstr(powersync_error_last()->message, "already completed"));
  assert_int_equal(powersync_crud_batch_complete(smaller, NULL),
                   POWERSYNC_ECONFLICT);
  assert_int_equal(queue_count(db), 1);
  powersync_crud_batch_free(first);
  powersync_crud_batch_free(same);
  powersync_crud_batch_free(smaller);

  /* A smaller batch completed first makes a larger overlapping one stale. */
  ASSERT_PS_OK(powersync_db_crud_batch(db, 10, &first));
  insert_n(db, 1);
  ASSERT_PS_OK(powersync_db_crud_batch(db, 1, &smaller));
  ASSERT_PS_OK(powersync_db_crud_batch(db, 10, &same));
  assert_int_equal(powersync_crud_batch_count(same), 2);
  ASSERT_PS_OK(powersync_crud_batch_complete(smaller, NULL));
  assert_int_equal(powersync_crud_batch_complete(same, NULL),
                   POWERSYNC_ECONFLICT);
  assert_int_equal(powersync_crud_batch_complete(first, NULL),
                   POWERSYNC_ECONFLICT);
  assert_int_equal(queue_count(db), 1);
  powersync_crud_batch_free(first);
  powersync_crud_batch_free(same);
  powersync_crud_batch_free(smaller);
  ASSERT_PS_OK(powersync_db_close(db));
}

/* An entry removed from the middle makes the batch incomplete. */
static void removed_entry_is_a_conflict(void **state) {
  powersync_db *db = open_file_db("removed");
  powersync_crud_batch *b = NULL;
  (void)state;
  insert_n(db, 3);
  ASSERT_PS_OK(powersync_db_crud_batch(db, 3, &b));
  exec(db, "DELETE FROM ps_crud WHERE id = (SELECT min(id) + 1 FROM ps_crud)");
  assert_int_equal(powersync_crud_batch_complete(b, NULL), POWERSYNC_ECONFLICT);
  assert_int_equal(queue_count(db), 2);
  powersync_crud_batch_free(b);
  ASSERT_PS_OK(powersync_db_close(db));
}

static void clear_makes_batches_stale(void **state) {
  powersync_db *db = open_file_db("clear");
  powersync_crud_batch *b = NULL;
  powersync_crud_batch *after = NULL;
  (void)state;
  insert_n(db, 2);
  ASSERT_PS_OK(powersync_db_crud_batch(db, 10, &b));
  ASSERT_PS_OK(powersync_db_clear(db, 0));
  assert_int_equal(queue_count(db), 0);
  insert_n(db, 2);
  /* New entries get new ids, so the old batch cannot delete them. */
  assert_int_equal(powersync_crud_batch_complete(b, NULL), POWERSYNC_ECONFLICT);
  assert_int_equal(queue_count(db), 2);
  ASSERT_PS_OK(powersync_db_crud_batch(db, 10, &after));
  assert_true(powersync_crud_batch_entry(after, 0)->client_id >
              powersync_crud_batch_entry(b, 1)->client_id);
  ASSERT_PS_OK(powersync_crud_batch_complete(after, NULL));
  powersync_crud_batch_free(after);
  powersync_crud_batch_free(b);
  ASSERT_PS_OK(powersync_db_close(db));
}

/* ---- Write checkpoints (sdk.md 11.3, K/D/S)
 * ---------------------------------------- */

static void write_checkpoint_targets(void **state) {
  powersync_db *db = open_file_db("checkpoint");
  powersync_crud_batch *b = NULL;
  (void)state;
  assert_int_equal(target(db), -1);
  insert_n(db, 3);
  assert_int_equal(target(db), MAX_OP_ID); /* set by the core's triggers */
  exec(db, "DELETE FROM ps_kv WHERE key = 'target_checkpoint_request_id'");

  /* Entries remain: the custom checkpoint is not used, the target is MAX. */
  ASSERT_PS_OK(powersync_db_crud_batch(db, 1, &b));
  ASSERT_PS_OK(powersync_crud_batch_complete(b, "42"));
  powersync_crud_batch_free(b);
  assert_int_equal(target(db), MAX_OP_ID);

  /* Without a checkpoint: MAX. */
  exec(db, "DELETE FROM ps_kv WHERE key = 'target_checkpoint_request_id'");
  ASSERT_PS_OK(powersync_db_crud_batch(db, 1, &b));
  ASSERT_PS_OK(powersync_crud_batch_complete(b, NULL));
  powersync_crud_batch_free(b);
  assert_int_equal(target(db), MAX_OP_ID);

  /* The queue empties: the custom checkpoint becomes the target. */
  ASSERT_PS_OK(powersync_db_crud_batch(db, 1, &b));
  assert_false(powersync_crud_batch_has_more(b));
  ASSERT_PS_OK(powersync_crud_batch_complete(b, "9007199254740993"));
  powersync_crud_batch_free(b);
  assert_int_equal(target(db), 9007199254740993LL);
  assert_int_equal(queue_count(db), 0);

  /* Emptying the queue without a checkpoint: MAX again. */
  insert_n(db, 1);
  exec(db, "DELETE FROM ps_kv WHERE key = 'target_checkpoint_request_id'");
  ASSERT_PS_OK(powersync_db_crud_next_transaction(db, &b));
  ASSERT_PS_OK(powersync_crud_batch_complete(b, NULL));
  powersync_crud_batch_free(b);
  assert_int_equal(target(db), MAX_OP_ID);
  ASSERT_PS_OK(powersync_db_close(db));
}

static void invalid_write_checkpoint(void **state) {
  static const char *const bad[] = {"",    "-1", "1.5",
                                    "12a", " 1", "99999999999999999999"};
  powersync_db *db = open_file_db("bad_checkpoint");
  powersync_crud_batch *b = NULL;
  size_t i;
  (void)state;
  insert_n(db, 1);
  ASSERT_PS_OK(powersync_db_crud_batch(db, 1, &b));
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(powersync_crud_batch_complete(b, bad[i]),
                     POWERSYNC_EINVAL);
    assert_int_equal(queue_count(db), 1);
  }
  assert_int_equal(powersync_crud_batch_complete(NULL, NULL), POWERSYNC_EINVAL);
  ASSERT_PS_OK(powersync_crud_batch_complete(b, "7"));
  assert_int_equal(target(db), 7);
  powersync_crud_batch_free(b);
  ASSERT_PS_OK(powersync_db_close(db));
}

/* A conflicting completion leaves the target alone too. */
static void conflict_changes_nothing(void **state) {
  powersync_db *db = open_file_db("conflict_target");
  powersync_crud_batch *b = NULL;
  powersync_crud_batch *again = NULL;
  (void)state;
  insert_n(db, 1);
  ASSERT_PS_OK(powersync_db_crud_batch(db, 1, &b));
  ASSERT_PS_OK(powersync_db_crud_batch(db, 1, &again));
  ASSERT_PS_OK(powersync_crud_batch_complete(b, "5"));
  assert_int_equal(target(db), 5);
  assert_int_equal(powersync_crud_batch_complete(again, "9"),
                   POWERSYNC_ECONFLICT);
  assert_int_equal(target(db), 5);
  powersync_crud_batch_free(b);
  powersync_crud_batch_free(again);
  ASSERT_PS_OK(powersync_db_close(db));
}

/* ---- Statistics
 * ------------------------------------------------------------------- */

static void queue_stats(void **state) {
  powersync_db *db = open_file_db("stats");
  powersync_upload_queue_stats st;
  int64_t bytes;
  (void)state;
  ASSERT_PS_OK(powersync_db_upload_queue_stats(db, &st));
  assert_int_equal(st.count, 0);
  assert_int_equal(st.size_bytes, 0);
  insert_n(db, 3);
  ASSERT_PS_OK(powersync_db_upload_queue_stats(db, &st));
  assert_int_equal(st.count, 3);
  bytes = th_query_int(db, "SELECT sum(length(CAST(data AS BLOB)) + 20) FROM "
                           "ps_crud");
  assert_int_equal(st.size_bytes, bytes);
  assert_true(st.size_bytes > 3 * 20);
  assert_int_equal(powersync_db_upload_queue_stats(db, NULL), POWERSYNC_EINVAL);
  assert_int_equal(powersync_db_upload_queue_stats(NULL, &st),
                   POWERSYNC_EINVAL);
  ASSERT_PS_OK(powersync_db_close(db));
}

/* ---- Several threads
 * ----------------------------------------------------------------- */

#define WRITERS       4
#define TX_PER_WRITER 40
#define MAX_TX_SIZE   4

/* Writer w's transaction k has 1 + (k % MAX_TX_SIZE) rows with ids
 * "w<w>-t<k>-r<r>". */
struct writer_arg {
  powersync_db *db;
  int writer;
};

struct tx_rows {
  int writer;
  int tx;
  int rows;
};

static int write_tx(sqlite3 *conn, void *user_data) {
  const struct tx_rows *t = user_data;
  char sql[160];
  int r;
  for (r = 0; r < t->rows; r++) {
    snprintf(sql, sizeof(sql),
             "INSERT INTO todos(id, description) VALUES ('w%d-t%d-r%d', 'x')",
             t->writer, t->tx, r);
    if (sqlite3_exec(conn, sql, NULL, NULL, NULL) != SQLITE_OK)
      return 1;
  }
  return 0;
}

static void *writer_main(void *p) {
  struct writer_arg *a = p;
  struct tx_rows t;
  int k;
  for (k = 0; k < TX_PER_WRITER; k++) {
    t.writer = a->writer;
    t.tx = k;
    t.rows = 1 + k % MAX_TX_SIZE;
    if (powersync_db_write_transaction(a->db, write_tx, &t) != POWERSYNC_OK)
      return (void *)1;
  }
  return NULL;
}

/* What the upload side has seen: per writer, the next transaction due. */
struct upload_state {
  int next_tx[WRITERS];
  int total_tx;
  int failures;
};

/* Checks one whole transaction: one writer, one of its transactions, all
 * rows in order, and the writer's transactions in order. */
static void check_transaction(struct upload_state *u,
                              const powersync_crud_batch *b, size_t from,
                              size_t to) {
  int w = -1, k = -1, r = -1;
  size_t i;
  for (i = from; i < to; i++) {
    int wi, ki, ri;
    const powersync_crud_entry *e = powersync_crud_batch_entry(b, i);
    if (sscanf(e->id, "w%d-t%d-r%d", &wi, &ki, &ri) != 3 ||
        e->transaction_id !=
            powersync_crud_batch_entry(b, from)->transaction_id)
      u->failures++;
    if (i == from) {
      w = wi;
      k = ki;
    } else if (wi != w || ki != k || ri != r + 1) {
      u->failures++;
    }
    r = ri;
  }
  if (w < 0 || w >= WRITERS || k != u->next_tx[w] ||
      r + 1 != 1 + k % MAX_TX_SIZE) {
    u->failures++;
    return;
  }
  u->next_tx[w]++;
  u->total_tx++;
}

/* Splits a batch of whole transactions at tx_id changes. */
static void check_batch(struct upload_state *u, const powersync_crud_batch *b) {
  size_t n = powersync_crud_batch_count(b);
  size_t start = 0, i;
  for (i = 1; i <= n; i++) {
    if (i == n || powersync_crud_batch_entry(b, i)->transaction_id !=
                      powersync_crud_batch_entry(b, start)->transaction_id) {
      check_transaction(u, b, start, i);
      start = i;
    }
  }
}

static void concurrent_writers_whole_transactions(void **state) {
  powersync_db *db = open_file_db("threads");
  pthread_t threads[WRITERS];
  struct writer_arg args[WRITERS];
  struct upload_state u;
  time_t deadline;
  int i, round = 0;
  (void)state;
  memset(&u, 0, sizeof(u));
  for (i = 0; i < WRITERS; i++) {
    args[i].db = db;
    args[i].writer = i;
    assert_int_equal(pthread_create(&threads[i], NULL, writer_main, &args[i]),
                     0);
  }
  /* Upload while the writers write, alternating the two ways of reading
   * whole transactions. */
  /* The deadline keeps a failed writer from hanging the test. */
  deadline = time(NULL) + 60;
  while (u.total_tx < WRITERS * TX_PER_WRITER && u.failures == 0 &&
         time(NULL) < deadline) {
    powersync_crud_batch *b = NULL;
    if (round++ % 2)
      ASSERT_PS_OK(powersync_db_crud_next_transaction(db, &b));
    else
      ASSERT_PS_OK(powersync_db_crud_transactions(db, 7, &b));
    if (!b) {
      struct timespec pause = {0, 1000000};
      nanosleep(&pause, NULL); /* Let the writers catch up. */
      continue;
    }
    check_batch(&u, b);
    ASSERT_PS_OK(powersync_crud_batch_complete(b, NULL));
    powersync_crud_batch_free(b);
  }
  for (i = 0; i < WRITERS; i++) {
    void *ret = NULL;
    pthread_join(threads[i], &ret);
    assert_null(ret);
  }
  assert_int_equal(u.failures, 0);
  assert_int_equal(u.total_tx, WRITERS * TX_PER_WRITER);
  assert_int_equal(queue_count(db), 0);
  ASSERT_PS_OK(powersync_db_close(db));
}

/* Several uploaders race for the same head: every entry is completed
 * exactly once, the losers get ECONFLICT and change nothing. */
#define UPLOADERS 4

struct uploader_arg {
  powersync_db *db;
  int64_t completed_entries;
  int64_t conflicts;
  int errors;
};

static void *uploader_main(void *p) {
  struct uploader_arg *a = p;
  for (;;) {
    powersync_crud_batch *b = NULL;
    int rc = powersync_db_crud_batch(a->db, 3, &b);
    if (rc != POWERSYNC_OK) {
      a->errors++;
      return NULL;
    }
    if (!b)
      return NULL;
    rc = powersync_crud_batch_complete(b, NULL);
    if (rc == POWERSYNC_OK)
      a->completed_entries += (int64_t)powersync_crud_batch_count(b);
    else if (rc == POWERSYNC_ECONFLICT)
      a->conflicts++;
    else
      a->errors++;
    powersync_crud_batch_free(b);
  }
}

static void concurrent_uploaders_complete_once(void **state) {
  powersync_db *db = open_file_db("uploaders");
  pthread_t threads[UPLOADERS];
  struct uploader_arg args[UPLOADERS];
  int64_t total = 0;
  int i;
  (void)state;
  insert_n(db, 90);
  memset(args, 0, sizeof(args));
  for (i = 0; i < UPLOADERS; i++) {
    args[i].db = db;
    assert_int_equal(pthread_create(&threads[i], NULL, uploader_main, &args[i]),
                     0);
  }
  for (i = 0; i < UPLOADERS; i++) {
    pthread_join(threads[i], NULL);
    assert_int_equal(args[i].errors, 0);
    total += args[i].completed_entries;
  }
  assert_int_equal(total, 90);
  assert_int_equal(queue_count(db), 0);
  ASSERT_PS_OK(powersync_db_close(db));
}

/* Two batches read before either completes, as two threads could: the
 * second must not delete the first's entries when completed first. */
static void second_batch_first_is_refused(void **state) {
  powersync_db *db = open_file_db("second_first");
  powersync_crud_iter *it = NULL;
  powersync_crud_batch *first = NULL;
  powersync_crud_batch *second = NULL;
  (void)state;
  insert_n(db, 2);
  ASSERT_PS_OK(powersync_db_crud_iter(db, &it));
  ASSERT_PS_OK(powersync_crud_iter_next(it, &first));
  ASSERT_PS_OK(powersync_crud_iter_next(it, &second));
  assert_int_equal(powersync_crud_batch_complete(second, "3"),
                   POWERSYNC_ECONFLICT);
  assert_int_equal(queue_count(db), 2);
  ASSERT_PS_OK(powersync_crud_batch_complete(first, NULL));
  ASSERT_PS_OK(powersync_crud_batch_complete(second, "3"));
  assert_int_equal(target(db), 3);
  powersync_crud_batch_free(first);
  powersync_crud_batch_free(second);
  powersync_crud_iter_free(it);
  ASSERT_PS_OK(powersync_db_close(db));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(entries_have_every_field),
      cmocka_unit_test(insert_only_entries),
      cmocka_unit_test(malformed_row_is_an_error),
      cmocka_unit_test(empty_queue_gives_null),
      cmocka_unit_test(batch_limits_and_has_more),
      cmocka_unit_test(next_transaction_is_whole),
      cmocka_unit_test(split_transaction_continues),
      cmocka_unit_test(several_transactions_up_to_size),
      cmocka_unit_test(iterator_walks_transactions),
      cmocka_unit_test(completion_is_exactly_once),
      cmocka_unit_test(removed_entry_is_a_conflict),
      cmocka_unit_test(clear_makes_batches_stale),
      cmocka_unit_test(write_checkpoint_targets),
      cmocka_unit_test(invalid_write_checkpoint),
      cmocka_unit_test(conflict_changes_nothing),
      cmocka_unit_test(queue_stats),
      cmocka_unit_test(concurrent_writers_whole_transactions),
      cmocka_unit_test(concurrent_uploaders_complete_once),
      cmocka_unit_test(second_batch_first_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
