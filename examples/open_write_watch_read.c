/*
 * open_write_watch_read.c: the smallest complete libpowersync program.
 *
 * Opens (or creates) a database with one synced table, watches a query on
 * it, writes a few rows, waits until the watch has seen them, reads them
 * back, and closes. Build against the installed library:
 *
 *   cc open_write_watch_read.c $(pkg-config --cflags --libs powersync)
 *   ./a.out todos.db
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <powersync.h>

/* State the watch callback shares with main. The callback runs on an SDK
 * thread, so the count is guarded by a mutex. */
struct seen {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  long long count; /* Latest count(*) the watch reported. */
};

static void on_count(const powersync_rows *rows, int rc, const char *message,
                     void *user_data) {
  struct seen *seen = user_data;
  const powersync_value *v;
  if (rc != POWERSYNC_OK) {
    fprintf(stderr, "watch error: %s\n", message);
    return;
  }
  v = powersync_rows_value(rows, 0, 0);
  pthread_mutex_lock(&seen->mu);
  seen->count = v ? (long long)v->as.integer : -1;
  printf("watch: %lld todo(s)\n", seen->count);
  pthread_cond_signal(&seen->cond);
  pthread_mutex_unlock(&seen->mu);
}

static int fail(const char *what, int rc) {
  fprintf(stderr, "%s: %s (%s)\n", what, powersync_errstr(rc),
          powersync_error_last()->message);
  return 1;
}

static powersync_schema *make_schema(void) {
  powersync_schema *schema = powersync_schema_new();
  powersync_table *todos = NULL;
  if (!schema || powersync_schema_add_table(schema, "todos", &todos) ||
      powersync_table_add_column(todos, "description", POWERSYNC_COLUMN_TEXT) ||
      powersync_table_add_column(todos, "done", POWERSYNC_COLUMN_INTEGER)) {
    powersync_schema_free(schema);
    return NULL;
  }
  return schema;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "todos.db";
  static const char *const items[] = {"buy milk", "write docs", "ship it"};
  struct seen seen = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, -1};
  powersync_schema *schema = make_schema();
  powersync_db *db = NULL;
  powersync_watch *watch = NULL;
  powersync_rows *rows = NULL;
  long long before;
  size_t i;
  int rc;

  if (!schema)
    return fail("schema", POWERSYNC_ENOMEM);
  rc = powersync_db_open(&db, path, schema, NULL);
  powersync_schema_free(schema);
  if (rc != POWERSYNC_OK)
    return fail("open", rc);

  rc = powersync_db_watch_query(db, "SELECT count(*) FROM todos", NULL, 0, NULL,
                                on_count, &seen, NULL, &watch);
  if (rc != POWERSYNC_OK)
    return fail("watch", rc);

  /* Wait for the initial emission to know the starting count. */
  pthread_mutex_lock(&seen.mu);
  while (seen.count < 0)
    pthread_cond_wait(&seen.cond, &seen.mu);
  before = seen.count;
  pthread_mutex_unlock(&seen.mu);

  for (i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
    powersync_value params[2];
    params[0] = powersync_text(items[i]);
    params[1] = powersync_int(0);
    rc = powersync_db_execute(
        db, "INSERT INTO todos(id, description, done) VALUES (uuid(), ?, ?)",
        params, 2, NULL);
    if (rc != POWERSYNC_OK)
      return fail("insert", rc);
  }

  /* Throttled: the watch may report the three inserts in one emission. */
  pthread_mutex_lock(&seen.mu);
  while (seen.count < before + 3)
    pthread_cond_wait(&seen.cond, &seen.mu);
  pthread_mutex_unlock(&seen.mu);
  powersync_watch_cancel(watch);

  rc = powersync_db_query(
      db, "SELECT description FROM todos ORDER BY description", NULL, 0, &rows);
  if (rc != POWERSYNC_OK)
    return fail("query", rc);
  for (i = 0; i < powersync_rows_count(rows); i++)
    printf("todo: %s\n",
           (const char *)powersync_rows_value(rows, i, 0)->as.bytes.data);
  powersync_rows_free(rows);

  rc = powersync_db_close(db);
  if (rc != POWERSYNC_OK)
    return fail("close", rc);
  printf("client ok\n");
  return 0;
}
