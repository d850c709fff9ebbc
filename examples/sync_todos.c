/*
 * sync_todos.c: a complete sync client in one file.
 *
 * Connects a database to a PowerSync service with a connector (credentials
 * from the command line; uploads "sent" to a backend by printing them),
 * prints every change of the sync status, waits for the first full sync,
 * lists the todos, adds one, and waits until it has been uploaded.
 *
 *   cc sync_todos.c $(pkg-config --cflags --libs powersync)
 *   ./a.out todos.db https://<instance>.powersync.journeyapps.com <jwt>
 *
 * Against `powersync-devserver` the endpoint is http://127.0.0.1:<port>
 * and the token comes from its development token endpoint.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <powersync.h>

struct app {
  const char *endpoint;
  const char *token;
};

/* The SDK caches what this returns and calls it again only when the
 * service rejects the token or says it is about to expire. */
static int fetch_credentials(void *user_data, powersync_credentials *out) {
  struct app *app = user_data;
  return powersync_credentials_set(out, app->endpoint, app->token);
}

/* A real application sends the entries to its backend here; this one
 * prints them. Completing removes them from the queue. */
static int upload_data(void *user_data, powersync_db *db) {
  powersync_crud_batch *batch = NULL;
  size_t i;
  int rc;
  (void)user_data;
  rc = powersync_db_crud_next_transaction(db, &batch);
  if (rc != POWERSYNC_OK || !batch)
    return rc;
  for (i = 0; i < powersync_crud_batch_count(batch); i++)
    printf("upload: %s\n", powersync_crud_batch_entry(batch, i)->json);
  rc = powersync_crud_batch_complete(batch, NULL);
  powersync_crud_batch_free(batch);
  return rc;
}

/* Runs on an SDK thread, once per status change. */
static void on_status(const powersync_sync_status *s, void *user_data) {
  powersync_sync_progress progress;
  (void)user_data;
  printf(
      "status: connected=%d downloading=%d uploading=%d has_synced=%d",
      powersync_sync_status_connected(s), powersync_sync_status_downloading(s),
      powersync_sync_status_uploading(s), powersync_sync_status_has_synced(s));
  if (powersync_sync_status_progress(s, -1, &progress))
    printf(" progress=%lld/%lld", (long long)progress.downloaded,
           (long long)progress.total);
  if (powersync_sync_status_download_error(s))
    printf(" download_error=\"%s\"", powersync_sync_status_download_error(s));
  printf("\n");
  fflush(stdout);
}

static powersync_schema *todo_schema(void) {
  powersync_schema *schema = powersync_schema_new();
  powersync_table *todos = NULL;
  if (!schema || powersync_schema_add_table(schema, "todos", &todos) ||
      powersync_table_add_column(todos, "description", POWERSYNC_COLUMN_TEXT) ||
      powersync_table_add_column(todos, "completed",
                                 POWERSYNC_COLUMN_INTEGER)) {
    powersync_schema_free(schema);
    return NULL;
  }
  return schema;
}

static int print_todos(powersync_db *db) {
  powersync_rows *rows = NULL;
  size_t i;
  int rc = powersync_db_query(
      db, "SELECT id, description FROM todos ORDER BY id", NULL, 0, &rows);
  if (rc != POWERSYNC_OK)
    return rc;
  printf("%zu todo(s)\n", powersync_rows_count(rows));
  for (i = 0; i < powersync_rows_count(rows); i++)
    printf("  %s: %s\n",
           (const char *)powersync_rows_value(rows, i, 0)->as.bytes.data,
           powersync_rows_value(rows, i, 1)->type == POWERSYNC_VALUE_TEXT
               ? (const char *)powersync_rows_value(rows, i, 1)->as.bytes.data
               : "");
  powersync_rows_free(rows);
  return POWERSYNC_OK;
}

/* Polls the upload queue until it is empty (or about 30 s passed). */
static int wait_uploaded(powersync_db *db) {
  struct timespec pause = {0, 50 * 1000000L};
  int i;
  for (i = 0; i < 600; i++) {
    powersync_upload_queue_stats stats;
    int rc = powersync_db_upload_queue_stats(db, &stats);
    if (rc != POWERSYNC_OK || stats.count == 0)
      return rc;
    nanosleep(&pause, NULL);
  }
  return POWERSYNC_ETIMEOUT;
}

static int fail(const char *what, int rc) {
  fprintf(stderr, "%s: %s: %s\n", what, powersync_errstr(rc),
          powersync_error_last()->message);
  return 1;
}

int main(int argc, char **argv) {
  struct app app;
  powersync_connector connector = {POWERSYNC_CONNECTOR_VERSION, &app,
                                   fetch_credentials, upload_data, NULL};
  powersync_schema *schema;
  powersync_db *db = NULL;
  powersync_status_listener *listener = NULL;
  int rc;

  if (argc != 4) {
    fprintf(stderr, "usage: %s DB ENDPOINT TOKEN\n", argv[0]);
    return 2;
  }
  app.endpoint = argv[2];
  app.token = argv[3];
  schema = todo_schema();
  if (!schema)
    return fail("schema", POWERSYNC_ENOMEM);
  rc = powersync_db_open(&db, argv[1], schema, NULL);
  powersync_schema_free(schema);
  if (rc != POWERSYNC_OK)
    return fail("open", rc);
  rc = powersync_db_add_status_listener(db, on_status, NULL, &listener);
  if (rc == POWERSYNC_OK)
    rc = powersync_db_connect(db, &connector, NULL);
  if (rc != POWERSYNC_OK) {
    powersync_db_close(db);
    return fail("connect", rc);
  }

  rc = powersync_db_wait_for_first_sync(db, -1, 30000);
  if (rc == POWERSYNC_OK)
    rc = print_todos(db);
  if (rc == POWERSYNC_OK)
    rc = powersync_db_execute(db,
                              "INSERT INTO todos (id, description, completed) "
                              "VALUES (uuid(), 'Written by sync_todos', 0)",
                              NULL, 0, NULL);
  if (rc == POWERSYNC_OK)
    rc = wait_uploaded(db);
  if (rc != POWERSYNC_OK)
    fail("sync", rc);
  else
    printf("done\n");

  powersync_db_disconnect(db);
  powersync_status_listener_remove(listener);
  powersync_db_close(db);
  return rc == POWERSYNC_OK ? 0 : 1;
}
