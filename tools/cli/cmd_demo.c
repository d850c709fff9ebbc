/*
 * cmd_demo.c: `powersync demo`, the whole main job on one machine.
 *
 * Starts powersync-devserver in this process on a free loopback port, over
 * a fresh todo-list source database and a sync config that gives each user
 * their lists and todos, then runs two clients of the same user (two
 * "devices", A and B, each with its own local database) and narrates:
 *
 *   1. both sync the seeded rows;
 *   2. a write on A is uploaded, applied to the source, and reaches B;
 *   3. a change made directly in the source database reaches both;
 *   4. B goes offline, writes, reconnects: its write reaches A.
 *
 * Every step waits for its effect with a timeout and the demo exits 1 if
 * one does not happen, so it doubles as an end-to-end check (CI runs it).
 * Everything it creates lives in a temporary directory ($TMPDIR, else /tmp)
 * removed at the end.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "server.h"

#define DEMO_USER    "demo-user"
#define DEMO_WAIT_MS 15000

static const char SOURCE_SQL[] =
    "CREATE TABLE lists (id TEXT PRIMARY KEY, name TEXT, owner_id TEXT);"
    "CREATE TABLE todos (id TEXT PRIMARY KEY, list_id TEXT, description TEXT,"
    " completed INTEGER, created_by TEXT);"
    "INSERT INTO lists VALUES ('11111111-1111-4111-8111-111111111111',"
    " 'Groceries', '" DEMO_USER "');"
    "INSERT INTO todos VALUES ('aaaaaaa1-0000-4000-8000-000000000001',"
    " '11111111-1111-4111-8111-111111111111', 'Buy milk', 0, '" DEMO_USER "');"
    "INSERT INTO todos VALUES ('aaaaaaa1-0000-4000-8000-000000000002',"
    " '11111111-1111-4111-8111-111111111111', 'Buy eggs', 0, '" DEMO_USER "');";

static const char CONFIG_YAML[] =
    "bucket_definitions:\n"
    "  user_lists:\n"
    "    parameters: SELECT request.user_id() AS user_id\n"
    "    data:\n"
    "      - SELECT * FROM lists WHERE owner_id = bucket.user_id\n"
    "      - SELECT * FROM todos WHERE created_by = bucket.user_id\n";

static const char SCHEMA_JSON[] =
    "{\"tables\":[{\"name\":\"lists\",\"columns\":["
    "{\"name\":\"name\",\"type\":\"text\"},"
    "{\"name\":\"owner_id\",\"type\":\"text\"}]},"
    "{\"name\":\"todos\",\"columns\":["
    "{\"name\":\"list_id\",\"type\":\"text\"},"
    "{\"name\":\"description\",\"type\":\"text\"},"
    "{\"name\":\"completed\",\"type\":\"integer\"},"
    "{\"name\":\"created_by\",\"type\":\"text\"}]}]}";

/* One device: a local database and the connector's state. */
struct device {
  const char *name;
  struct psd_server *server;
  powersync_db *db;
  char path[512];
};

/* --- Connector --------------------------------------------------------------
 */

static int demo_fetch_credentials(void *user_data, powersync_credentials *out) {
  struct device *d = user_data;
  char *token = psd_server_token(d->server, DEMO_USER, 0);
  int rc;
  if (!token) {
    powersync_callback_error("could not sign a development token");
    return -1;
  }
  rc = powersync_credentials_set(out, psd_server_url(d->server), token);
  free(token);
  return rc;
}

static size_t discard_body(void *data, size_t size, size_t n, void *ud) {
  (void)data;
  (void)ud;
  return size * n;
}

/* POSTs body to the dev server's upload endpoint (what an application's
 * backend would do with the entries). Returns the HTTP status or -1. */
static long post_batch(struct device *d, const char *body) {
  char url[256], auth[2048];
  char *token = psd_server_token(d->server, DEMO_USER, 0);
  struct curl_slist *headers = NULL;
  long status = -1;
  CURL *curl = curl_easy_init();
  if (!curl || !token) {
    free(token);
    if (curl)
      curl_easy_cleanup(curl);
    return -1;
  }
  snprintf(url, sizeof(url), "%s/api/data", psd_server_url(d->server));
  snprintf(auth, sizeof(auth), "Authorization: Token %s", token);
  free(token);
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, auth);
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  if (curl_easy_perform(curl) == CURLE_OK)
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return status;
}

static int demo_upload_data(void *user_data, powersync_db *db) {
  struct device *d = user_data;
  powersync_crud_batch *batch = NULL;
  cli_buf body = {NULL, 0, 0, 0};
  size_t i;
  long status;
  int rc = powersync_db_crud_next_transaction(db, &batch);
  if (rc != POWERSYNC_OK || !batch)
    return rc;
  cli_buf_puts(&body, "{\"batch\":[");
  for (i = 0; i < powersync_crud_batch_count(batch); i++) {
    cli_buf_puts(&body, i ? "," : "");
    cli_buf_puts(&body, powersync_crud_batch_entry(batch, i)->json);
  }
  cli_buf_puts(&body, "]}");
  status = body.failed ? -1 : post_batch(d, cli_buf_str(&body));
  cli_buf_free(&body);
  if (status < 200 || status >= 300) {
    powersync_crud_batch_free(batch);
    powersync_callback_error("the upload endpoint refused the batch");
    return -1;
  }
  printf("[demo]   %s uploaded %zu change(s)\n", d->name,
         powersync_crud_batch_count(batch));
  rc = powersync_crud_batch_complete(batch, NULL);
  powersync_crud_batch_free(batch);
  return rc;
}

/* --- Devices ----------------------------------------------------------------
 */

static int device_open(struct device *d, const char *dir, const char *name,
                       struct psd_server *server) {
  powersync_schema *schema = NULL;
  int rc;
  d->name = name;
  d->server = server;
  snprintf(d->path, sizeof(d->path), "%s/device-%s.db", dir, name);
  rc = powersync_schema_from_json(&schema, SCHEMA_JSON);
  if (rc == POWERSYNC_OK)
    rc = powersync_db_open(&d->db, d->path, schema, NULL);
  powersync_schema_free(schema);
  return rc == POWERSYNC_OK ? CLI_OK : cli_sdk_error("open", rc);
}

static int device_connect(struct device *d) {
  powersync_connector connector = {POWERSYNC_CONNECTOR_VERSION, d,
                                   demo_fetch_credentials, demo_upload_data,
                                   NULL};
  powersync_connect_options o = POWERSYNC_CONNECT_OPTIONS_INIT;
  int rc;
  o.retry_delay_ms = 500;
  o.upload_throttle_ms = 50;
  rc = powersync_db_connect(d->db, &connector, &o);
  return rc == POWERSYNC_OK ? CLI_OK : cli_sdk_error("connect", rc);
}

static void device_print_todos(struct device *d) {
  powersync_rows *rows = NULL;
  size_t i;
  if (powersync_db_query(d->db,
                         "SELECT description, completed FROM todos "
                         "ORDER BY description",
                         NULL, 0, &rows) != POWERSYNC_OK)
    return;
  printf("[demo]   %s has %zu todo(s):", d->name, powersync_rows_count(rows));
  for (i = 0; i < powersync_rows_count(rows); i++) {
    const powersync_value *desc = powersync_rows_value(rows, i, 0);
    const powersync_value *done = powersync_rows_value(rows, i, 1);
    printf(
        " [%c] %s%s",
        done->type == POWERSYNC_VALUE_INTEGER && done->as.integer ? 'x' : ' ',
        desc->type == POWERSYNC_VALUE_TEXT ? (const char *)desc->as.bytes.data
                                           : "?",
        i + 1 < powersync_rows_count(rows) ? ";" : "");
  }
  printf("\n");
  powersync_rows_free(rows);
}

/* Polls sql (one integer) on d until it returns expected or the wait ends. */
static int device_wait_value(struct device *d, const char *sql,
                             int64_t expected, const char *what) {
  struct timespec pause = {0, 20 * 1000000L};
  int i;
  for (i = 0; i < DEMO_WAIT_MS / 20; i++) {
    powersync_rows *rows = NULL;
    int64_t v = -1;
    if (powersync_db_query(d->db, sql, NULL, 0, &rows) == POWERSYNC_OK &&
        powersync_rows_count(rows) == 1)
      v = powersync_rows_value(rows, 0, 0)->as.integer;
    powersync_rows_free(rows);
    if (v == expected)
      return CLI_OK;
    nanosleep(&pause, NULL);
  }
  return cli_error("demo: %s did not happen on %s within %d s", what, d->name,
                   DEMO_WAIT_MS / 1000);
}

/* --- Steps ------------------------------------------------------------------
 */

static int step_initial_sync(struct device *a, struct device *b) {
  printf("\n[demo] 1. Initial sync: both devices download the user's "
         "lists and todos\n");
  if (device_connect(a) || device_connect(b))
    return CLI_FAIL;
  if (powersync_db_wait_for_first_sync(a->db, -1, DEMO_WAIT_MS) ||
      powersync_db_wait_for_first_sync(b->db, -1, DEMO_WAIT_MS))
    return cli_error("demo: the first sync did not complete");
  device_print_todos(a);
  device_print_todos(b);
  return CLI_OK;
}

static int step_write_on_a(struct device *a, struct device *b) {
  int rc;
  printf("\n[demo] 2. A adds a todo: uploaded to the backend, replicated "
         "by the service, synced to B\n");
  rc = powersync_db_execute(
      a->db,
      "INSERT INTO todos (id, list_id, description, completed, created_by) "
      "VALUES (uuid(), '11111111-1111-4111-8111-111111111111', "
      "'Call the plumber', 0, '" DEMO_USER "')",
      NULL, 0, NULL);
  if (rc != POWERSYNC_OK)
    return cli_sdk_error("insert on A", rc);
  if (device_wait_value(b,
                        "SELECT count(*) FROM todos WHERE description = "
                        "'Call the plumber'",
                        1, "A's new todo"))
    return CLI_FAIL;
  device_print_todos(b);
  return CLI_OK;
}

static int step_source_change(const char *source, struct device *a,
                              struct device *b) {
  sqlite3 *db = NULL;
  int rc;
  printf("\n[demo] 3. Someone updates the source database directly "
         "(UPDATE todos SET completed = 1 WHERE description = 'Buy milk')\n");
  rc = sqlite3_open(source, &db);
  if (rc == SQLITE_OK)
    sqlite3_busy_timeout(db, 5000);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(db,
                      "UPDATE todos SET completed = 1 WHERE description = "
                      "'Buy milk'",
                      NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    cli_error("demo: updating the source failed: %s", sqlite3_errmsg(db));
    sqlite3_close(db);
    return CLI_FAIL;
  }
  sqlite3_close(db);
  if (device_wait_value(a,
                        "SELECT completed FROM todos WHERE description = "
                        "'Buy milk'",
                        1, "the source change") ||
      device_wait_value(b,
                        "SELECT completed FROM todos WHERE description = "
                        "'Buy milk'",
                        1, "the source change"))
    return CLI_FAIL;
  device_print_todos(a);
  device_print_todos(b);
  return CLI_OK;
}

static int step_offline_write(struct device *a, struct device *b) {
  powersync_upload_queue_stats stats = {0, 0};
  int rc;
  printf("\n[demo] 4. B goes offline, adds a todo, and reconnects\n");
  powersync_db_disconnect(b->db);
  rc = powersync_db_execute(
      b->db,
      "INSERT INTO todos (id, list_id, description, completed, created_by) "
      "VALUES (uuid(), '11111111-1111-4111-8111-111111111111', "
      "'Written offline', 0, '" DEMO_USER "')",
      NULL, 0, NULL);
  if (rc != POWERSYNC_OK)
    return cli_sdk_error("insert on B", rc);
  powersync_db_upload_queue_stats(b->db, &stats);
  printf("[demo]   B is offline with %lld change(s) waiting to upload\n",
         (long long)stats.count);
  device_print_todos(a);
  if (device_connect(b))
    return CLI_FAIL;
  printf("[demo]   B reconnected\n");
  if (device_wait_value(a,
                        "SELECT count(*) FROM todos WHERE description = "
                        "'Written offline'",
                        1, "B's offline todo"))
    return CLI_FAIL;
  device_print_todos(a);
  return CLI_OK;
}

/* --- Setup and cleanup ------------------------------------------------------
 */

static int create_source(const char *path) {
  sqlite3 *db = NULL;
  int rc = sqlite3_open(path, &db);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(db, SOURCE_SQL, NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    cli_error("demo: creating the source database failed: %s",
              sqlite3_errmsg(db));
  sqlite3_close(db);
  return rc == SQLITE_OK ? CLI_OK : CLI_FAIL;
}

/* Removes every file of the (flat) demo directory, then the directory. */
static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[1024];
  if (!d)
    return;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

static void demo_log(void *user_data, const char *line) {
  (void)user_data;
  printf("[service] %s\n", line);
}

static int run_steps(const char *dir, const char *source, int verbose) {
  struct psd_server_options so;
  struct psd_server *server = NULL;
  struct device a, b;
  char err[512];
  int rc;
  memset(&so, 0, sizeof(so));
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  so.source_path = source;
  so.config_yaml = CONFIG_YAML;
  so.log = verbose ? demo_log : NULL;
  if (psd_server_start(&so, &server, err, sizeof(err)) != 0)
    return cli_error("demo: starting the dev server failed: %s", err);
  printf("[demo] powersync-devserver is running on %s (source: %s)\n",
         psd_server_url(server), source);
  rc = device_open(&a, dir, "A", server);
  if (rc == CLI_OK)
    rc = device_open(&b, dir, "B", server);
  if (rc == CLI_OK)
    rc = step_initial_sync(&a, &b);
  if (rc == CLI_OK)
    rc = step_write_on_a(&a, &b);
  if (rc == CLI_OK)
    rc = step_source_change(source, &a, &b);
  if (rc == CLI_OK)
    rc = step_offline_write(&a, &b);
  powersync_db_close(a.db);
  powersync_db_close(b.db);
  psd_server_stop(server);
  return rc;
}

int cli_demo(int argc, char **argv) {
  static const struct option longopts[] = {{"verbose", no_argument, NULL, 'v'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  const char *tmp = getenv("TMPDIR");
  char dir[512];
  char source[600];
  int verbose = 0, c, rc;
  while ((c = cli_getopt("demo", argc, argv, "vh", longopts)) != -1) {
    if (c == 'v') {
      verbose = 1;
    } else if (c == 'h') {
      printf("usage: powersync demo [--verbose]\n\n"
             "Starts a local PowerSync service with a sample todo-list "
             "database and two\nclients, and shows local writes, uploads, "
             "server changes and offline writes\nsyncing between them. "
             "--verbose also prints the service's request log.\n");
      return CLI_OK;
    } else {
      return CLI_USAGE;
    }
  }
  snprintf(dir, sizeof(dir), "%s/powersync-demo-XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir))
    return cli_error("demo: cannot create a temporary directory in %s: %s",
                     tmp && *tmp ? tmp : "/tmp", strerror(errno));
  snprintf(source, sizeof(source), "%s/source.db", dir);
  rc = create_source(source);
  if (rc == CLI_OK)
    rc = run_steps(dir, source, verbose);
  remove_dir(dir);
  printf("\n[demo] %s\n",
         rc == CLI_OK ? "Done: every step synced." : "Failed (see above).");
  return rc;
}
